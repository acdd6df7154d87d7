/* imap_search_eval.c - three-valued evaluation of search programs over the
 * index, the cached header digest and the message text, plus the digest
 * itself (build, encode for the cache, decode) and case folding. */
#include "imap/imap_search_eval.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/utf8.h"
#include "core/util.h"
#include "imap/imap_date.h"
#include "imap/imap_sort.h"
#include "imap/imap_thread.h"
#include "mime/mime_address.h"
#include "mime/mime_decode.h"
#include "mime/mime_header.h"
#include "mime/mime_rfc2047.h"
#include "store/store.h"

/* Bytes of one header value considered (a longer value is cut). */
#define FIELD_MAX (256 * 1024)
/* Bytes of one digest entry (all occurrences of a field together). */
#define ENTRY_MAX (256 * 1024)
/* Addresses (and group markers) of one header value written out. */
#define ADDRESSES_MAX 4096

/* ------------------------------------------------------------------ */
/* Case folding */

static uint32_t fold_cp(uint32_t c)
{
	if (c < 0x80)
		return c >= 'A' && c <= 'Z' ? c + 32 : c;
	if (c >= 0xC0 && c <= 0xDE && c != 0xD7)
		return c + 32;
	if (c >= 0x100 && c <= 0x17F) {
		if ((c <= 0x12F || (c >= 0x132 && c <= 0x137) || (c >= 0x14A && c <= 0x177)) &&
		    c % 2 == 0)
			return c + 1;
		if (((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) && c % 2 == 1)
			return c + 1;
		if (c == 0x178)
			return 0xFF;
		if (c == 0x17F)
			return 's';
		return c;
	}
	if (c >= 0x370 && c <= 0x3FF) {
		if (c == 0x386)
			return 0x3AC;
		if (c >= 0x388 && c <= 0x38A)
			return c + 37;
		if (c == 0x38C)
			return 0x3CC;
		if (c == 0x38E || c == 0x38F)
			return c + 63;
		if (c >= 0x391 && c <= 0x3AB && c != 0x3A2)
			return c + 32;
		if (c == 0x3C2)
			return 0x3C3;
		return c;
	}
	if (c >= 0x400 && c <= 0x52F) {
		if (c <= 0x40F)
			return c + 80;
		if (c <= 0x42F)
			return c + 32;
		if (((c >= 0x460 && c <= 0x481) || (c >= 0x48A && c <= 0x4BF) ||
		     (c >= 0x4D0 && c <= 0x52F)) &&
		    c % 2 == 0)
			return c + 1;
		if (c >= 0x4C1 && c <= 0x4CE && c % 2 == 1)
			return c + 1;
		return c;
	}
	if (c >= 0x531 && c <= 0x556)
		return c + 48;
	if (c >= 0x1E00 && c <= 0x1EFF) {
		if (c == 0x1E9E)
			return 0xDF;
		if ((c <= 0x1E95 || c >= 0x1EA0) && c % 2 == 0)
			return c + 1;
		return c;
	}
	if (c == 0x212A)
		return 'k';
	if (c == 0x212B)
		return 0xE5;
	if (c >= 0xFF21 && c <= 0xFF3A)
		return c + 32;
	return c;
}

/* Decode the character at s (valid UTF-8 of length l). */
static uint32_t decode_cp(const unsigned char *s, size_t l)
{
	switch (l) {
	case 1:
		return s[0];
	case 2:
		return ((uint32_t)(s[0] & 0x1F) << 6) | (s[1] & 0x3F);
	case 3:
		return ((uint32_t)(s[0] & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) |
		       (s[2] & 0x3F);
	default:
		return ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
		       ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
	}
}

static size_t encode_cp(uint32_t c, char *out)
{
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = (char)(0xC0 | (c >> 6));
		out[1] = (char)(0x80 | (c & 0x3F));
		return 2;
	}
	if (c < 0x10000) {
		out[0] = (char)(0xE0 | (c >> 12));
		out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
		out[2] = (char)(0x80 | (c & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (c >> 18));
	out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((c >> 6) & 0x3F));
	out[3] = (char)(0x80 | (c & 0x3F));
	return 4;
}

/* The folded form of the character at s[0..len): its bytes into out[4],
 * their count into *out_len; returns the input bytes used (at least 1). */
static size_t fold_one(const char *s, size_t len, char *out, size_t *out_len)
{
	unsigned char c = (unsigned char)s[0];
	if (c < 0x80) {
		out[0] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : (char)c;
		*out_len = 1;
		return 1;
	}
	size_t l = utf8_seq_len((const unsigned char *)s, len);
	if (l == 0) {
		out[0] = (char)c;
		*out_len = 1;
		return 1;
	}
	*out_len = encode_cp(fold_cp(decode_cp((const unsigned char *)s, l)), out);
	return l;
}

int imap_search_fold(const char *s, size_t len, struct buf *out)
{
	char *dst = buf_reserve(out, len);
	if (dst == NULL && len > 0)
		return -1;
	size_t n = 0;
	for (size_t i = 0; i < len;) {
		char tmp[4];
		size_t tl;
		i += fold_one(s + i, len - i, tmp, &tl);
		memcpy(dst + n, tmp, tl);
		n += tl;
	}
	buf_commit(out, n);
	return 0;
}

bool imap_search_contains(const char *hay, size_t hay_len, const char *needle, size_t needle_len)
{
	if (needle_len == 0)
		return true;
	if (needle_len > hay_len)
		return false;
	/* Fold, then memmem (two-way: linear whatever the needle). Folding
	 * never lengthens, so the stack buffer serves most header values. */
	char small[1024];
	char *folded = hay_len <= sizeof(small) ? small : xmalloc(hay_len);
	size_t n = 0;
	for (size_t i = 0; i < hay_len;) {
		char tmp[4];
		size_t tl;
		i += fold_one(hay + i, hay_len - i, tmp, &tl);
		memcpy(folded + n, tmp, tl);
		n += tl;
	}
	bool found = memmem(folded, n, needle, needle_len) != NULL;
	if (folded != small)
		free(folded);
	return found;
}

/* ------------------------------------------------------------------ */
/* The header digest */

static const char *const digest_names[] = {
    [IMAP_HDR_FROM] = "from",
    [IMAP_HDR_TO] = "to",
    [IMAP_HDR_CC] = "cc",
    [IMAP_HDR_BCC] = "bcc",
    [IMAP_HDR_SUBJECT] = "subject",
    [IMAP_HDR_DATE] = "date",
    [IMAP_HDR_MESSAGE_ID] = "message-id",
    [IMAP_HDR_REFERENCES] = "references",
    [IMAP_HDR_IN_REPLY_TO] = "in-reply-to",
};

#define N_HEADER_FIELDS (IMAP_HDR_IN_REPLY_TO + 1)

/* Index of a header field name the digest holds, or -1. */
static int digest_field(const char *name, size_t len)
{
	for (int i = 0; i < N_HEADER_FIELDS; i++)
		if (mime_ascii_ieq(name, len, digest_names[i]))
			return i;
	return -1;
}

void imap_search_headers_init(struct imap_search_headers *h)
{
	memset(h, 0, sizeof(*h));
	buf_init(&h->data_, 0);
}

void imap_search_headers_free(struct imap_search_headers *h)
{
	buf_free(&h->data_);
	memset(h, 0, sizeof(*h));
}

static void headers_clear(struct imap_search_headers *h)
{
	buf_reset(&h->data_);
	memset(h->v, 0, sizeof(h->v));
	h->date_valid = false;
	h->date = 0;
	h->date_tz = 0;
	h->subject_is_reply = false;
}

/* Point v[] into data_ from offsets kept in v[].len / present flags. */
static void headers_fix(struct imap_search_headers *h, const size_t *off, const bool *present)
{
	for (int i = 0; i < IMAP_HDR_COUNT; i++)
		h->v[i].p =
		    present[i] ? (h->data_.data != NULL ? h->data_.data + off[i] : "") : NULL;
}

/* Is this one of the parser's fill-ins for a missing local part or
 * domain (mime_address.h)? They are not text of the message. */
static bool address_fill(const char *s, size_t len)
{
	return s == NULL || mime_ascii_ieq(s, len, "MISSING_MAILBOX") ||
	       mime_ascii_ieq(s, len, "MISSING_DOMAIN");
}

/* Append the addresses of a raw (unfolded) address-list value the way
 * Dovecot normalises them for searching: "Name <local@domain>" with the
 * name RFC 2047-decoded, or "local@domain"; a group as "name: members;";
 * entries separated by ", ". */
static void add_address_text(const char *value, size_t len, struct buf *out)
{
	struct mime_address_list l;
	mime_address_list_init(&l);
	mime_address_parse(&l, value, len, ADDRESSES_MAX);
	bool sep = false;
	for (size_t i = 0; i < l.n; i++) {
		const struct mime_address *a = &l.v[i];
		if (a->domain == NULL && a->mailbox == NULL) { /* group end */
			buf_append(out, ";", 1);
			sep = true;
			continue;
		}
		if (sep)
			buf_append(out, ", ", 2);
		sep = true;
		if (a->domain == NULL) { /* group start: the name is in mailbox */
			mime_rfc2047_decode(a->mailbox, a->mailbox_len, out);
			buf_append(out, ": ", 2);
			sep = false;
			continue;
		}
		bool named = a->name != NULL && a->name_len > 0;
		if (named) {
			mime_rfc2047_decode(a->name, a->name_len, out);
			buf_append(out, " <", 2);
		}
		if (!address_fill(a->mailbox, a->mailbox_len))
			buf_append(out, a->mailbox, a->mailbox_len);
		if (!address_fill(a->domain, a->domain_len)) {
			buf_append(out, "@", 1);
			buf_append(out, a->domain, a->domain_len);
		}
		if (named)
			buf_append(out, ">", 1);
	}
	mime_address_list_free(&l);
}

void imap_search_headers_build(struct imap_search_headers *h, const char *data, size_t len)
{
	headers_clear(h);
	struct buf e[IMAP_HDR_COUNT];
	bool present[IMAP_HDR_COUNT] = {false};
	for (int i = 0; i < IMAP_HDR_COUNT; i++)
		buf_init(&e[i], ENTRY_MAX);
	struct buf raw;
	buf_init(&raw, FIELD_MAX);
	struct mime_header_limits limits = {0, FIELD_MAX};
	struct mime_header_iter it;
	struct mime_header_field f;
	mime_header_iter_init(&it, data, len, &limits);
	while (mime_header_iter_next(&it, &f) == 1) {
		if (!f.has_colon)
			continue;
		int k = digest_field(f.name, f.name_len);
		if (k < 0)
			continue;
		bool first = !present[k];
		if (!first && k >= IMAP_HDR_DATE)
			continue; /* first occurrence only */
		buf_reset(&raw);
		mime_header_unfold(f.value, f.value_len, &raw);
		const char *rv = raw.data != NULL ? raw.data : "";
		present[k] = true;
		if (k >= IMAP_HDR_DATE) {
			buf_append(&e[k], rv, raw.len);
			if (k == IMAP_HDR_DATE) {
				time_t t;
				int tz;
				if (imap_rfc5322_date_parse(rv, raw.len, &t, &tz) == 0) {
					h->date_valid = true;
					h->date = (int64_t)t;
					h->date_tz = tz;
				}
			}
			continue;
		}
		if (!first)
			buf_append(&e[k], "\n", 1);
		size_t before = e[k].len;
		mime_rfc2047_decode(rv, raw.len, &e[k]);
		if (k <= IMAP_HDR_BCC) {
			int ak = IMAP_HDR_ADDR_FROM + (k - IMAP_HDR_FROM);
			if (!first)
				buf_append(&e[ak], "\n", 1);
			add_address_text(rv, raw.len, &e[ak]);
			present[ak] = true;
		}
		if (!first)
			continue;
		switch (k) {
		case IMAP_HDR_SUBJECT:
			present[IMAP_HDR_BASE_SUBJECT] = true;
			h->subject_is_reply =
			    imap_base_subject(e[k].data != NULL ? e[k].data + before : "",
					      e[k].len - before, &e[IMAP_HDR_BASE_SUBJECT]);
			break;
		case IMAP_HDR_FROM:
			imap_sort_address_keys(rv, raw.len, &e[IMAP_HDR_SORT_FROM],
					       &e[IMAP_HDR_DISPLAY_FROM]);
			present[IMAP_HDR_SORT_FROM] = present[IMAP_HDR_DISPLAY_FROM] = true;
			break;
		case IMAP_HDR_TO:
			imap_sort_address_keys(rv, raw.len, &e[IMAP_HDR_SORT_TO],
					       &e[IMAP_HDR_DISPLAY_TO]);
			present[IMAP_HDR_SORT_TO] = present[IMAP_HDR_DISPLAY_TO] = true;
			break;
		case IMAP_HDR_CC:
			imap_sort_address_keys(rv, raw.len, &e[IMAP_HDR_SORT_CC], NULL);
			present[IMAP_HDR_SORT_CC] = true;
			break;
		default:
			break;
		}
	}
	size_t off[IMAP_HDR_COUNT];
	for (int i = 0; i < IMAP_HDR_COUNT; i++) {
		off[i] = h->data_.len;
		h->v[i].len = present[i] ? e[i].len : 0;
		if (present[i] && e[i].len > 0)
			buf_append(&h->data_, e[i].data, e[i].len);
		buf_free(&e[i]);
	}
	buf_free(&raw);
	headers_fix(h, off, present);
}

void imap_search_headers_keys(struct imap_search_headers *dst,
			      const struct imap_search_headers *src)
{
	headers_clear(dst);
	size_t off[IMAP_HDR_COUNT];
	bool present[IMAP_HDR_COUNT];
	for (int i = 0; i < IMAP_HDR_COUNT; i++) {
		off[i] = dst->data_.len;
		present[i] = i >= IMAP_HDR_DATE && i < IMAP_HDR_KEYS_END && src->v[i].p != NULL;
		dst->v[i].len = 0;
		if (!present[i])
			continue;
		const char *p = src->v[i].p;
		size_t len = src->v[i].len;
		if (i == IMAP_HDR_REFERENCES && len > IMAP_SEARCH_KEYS_REFS_MAX) {
			/* the nearest ancestors are the last ids: keep whole ones */
			const char *tail = p + len - IMAP_SEARCH_KEYS_REFS_MAX;
			const char *lt = memchr(tail, '<', IMAP_SEARCH_KEYS_REFS_MAX);
			len = lt != NULL ? (size_t)(p + len - lt) : 0;
			p = lt != NULL ? lt : p;
		} else if (i != IMAP_HDR_REFERENCES && len > IMAP_SEARCH_KEYS_MAX) {
			len = IMAP_SEARCH_KEYS_MAX;
		}
		buf_append(&dst->data_, p, len);
		dst->v[i].len = len;
	}
	dst->date_valid = src->date_valid;
	dst->date = src->date;
	dst->date_tz = src->date_tz;
	dst->subject_is_reply = src->subject_is_reply;
	headers_fix(dst, off, present);
}

/* Blob: "S2", per entry a 32-bit little-endian length (0xFFFFFFFF: absent)
 * and the bytes, then a flag byte, the date (64 bits) and its zone (32
 * bits, two's complement), all little-endian. */
#define BLOB_MAGIC "S2"
#define BLOB_ABSENT 0xFFFFFFFFu

static int put_u32(struct buf *out, uint32_t v)
{
	unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
			      (unsigned char)(v >> 24)};
	return buf_append(out, b, 4);
}

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

int imap_search_headers_encode(const struct imap_search_headers *h, struct buf *out)
{
	if (buf_append(out, BLOB_MAGIC, 2) < 0)
		return -1;
	for (int i = 0; i < IMAP_HDR_COUNT; i++) {
		if (h->v[i].p == NULL) {
			if (put_u32(out, BLOB_ABSENT) < 0)
				return -1;
			continue;
		}
		if (put_u32(out, (uint32_t)h->v[i].len) < 0 ||
		    buf_append(out, h->v[i].p, h->v[i].len) < 0)
			return -1;
	}
	unsigned char fl = (unsigned char)((h->date_valid ? 1 : 0) | (h->subject_is_reply ? 2 : 0));
	uint64_t d = (uint64_t)h->date;
	if (buf_append(out, &fl, 1) < 0 || put_u32(out, (uint32_t)d) < 0 ||
	    put_u32(out, (uint32_t)(d >> 32)) < 0 ||
	    put_u32(out, (uint32_t)(int32_t)h->date_tz) < 0)
		return -1;
	return 0;
}

int imap_search_headers_decode(struct imap_search_headers *h, const void *blob, size_t len)
{
	const unsigned char *p = blob;
	headers_clear(h);
	if (len < 2 || memcmp(p, BLOB_MAGIC, 2) != 0)
		return -1;
	size_t pos = 2;
	size_t off[IMAP_HDR_COUNT];
	bool present[IMAP_HDR_COUNT];
	for (int i = 0; i < IMAP_HDR_COUNT; i++) {
		if (len - pos < 4)
			goto bad;
		uint32_t l = get_u32(p + pos);
		pos += 4;
		off[i] = h->data_.len;
		present[i] = l != BLOB_ABSENT;
		h->v[i].len = 0;
		if (!present[i])
			continue;
		if (l > len - pos)
			goto bad;
		if (buf_append(&h->data_, p + pos, l) < 0)
			goto bad;
		h->v[i].len = l;
		pos += l;
	}
	if (len - pos != 13)
		goto bad;
	unsigned char fl = p[pos];
	if (fl > 3)
		goto bad;
	uint64_t d = (uint64_t)get_u32(p + pos + 1) | ((uint64_t)get_u32(p + pos + 5) << 32);
	int32_t tz = (int32_t)get_u32(p + pos + 9);
	if (tz <= -24 * 60 || tz >= 24 * 60)
		goto bad;
	h->date_valid = (fl & 1) != 0;
	h->subject_is_reply = (fl & 2) != 0;
	h->date = (int64_t)d;
	h->date_tz = tz;
	headers_fix(h, off, present);
	return 0;
bad:
	headers_clear(h);
	return -1;
}

/* ------------------------------------------------------------------ */
/* Preparation */

static void prepare_set(struct imap_search_node *n, uint32_t star,
			const struct imap_search_env *env)
{
	if (n->set.searchres) {
		/* "$": the saved UIDs, whatever the key (RFC 5182 2.1) */
		struct imap_seqset copy;
		imap_seqset_init(&copy);
		if (env->searchres != NULL)
			for (size_t i = 0; i < env->searchres->count; i++)
				imap_seqset_add(&copy, env->searchres->ranges[i].lo,
						env->searchres->ranges[i].hi);
		imap_seqset_normalize(&copy);
		imap_seqset_free(&n->set);
		n->set = copy;
		n->key = IMAP_SEARCH_UID;
		return;
	}
	imap_seqset_resolve(&n->set, star);
}

static void fold_in_place(char **s, size_t *len)
{
	struct buf b;
	buf_init(&b, 0);
	imap_search_fold(*s, *len, &b);
	free(*s);
	*len = b.len;
	*s = xstrndup(b.data != NULL ? b.data : "", b.len);
	buf_free(&b);
}

static unsigned prepare_node(struct imap_search_node *n, const struct imap_search_env *env)
{
	unsigned need = 0;
	for (; n != NULL; n = n->next) {
		switch (n->key) {
		case IMAP_SEARCH_AND:
		case IMAP_SEARCH_OR:
		case IMAP_SEARCH_NOT:
			need |= prepare_node(n->children, env);
			break;
		case IMAP_SEARCH_FROM:
		case IMAP_SEARCH_TO:
		case IMAP_SEARCH_CC:
		case IMAP_SEARCH_BCC:
		case IMAP_SEARCH_SUBJECT:
			fold_in_place(&n->str, &n->str_len);
			need |= IMAP_SEARCH_NEED_HEADERS;
			break;
		case IMAP_SEARCH_BODY:
		case IMAP_SEARCH_TEXT:
			fold_in_place(&n->str, &n->str_len);
			need |= IMAP_SEARCH_NEED_MESSAGE;
			break;
		case IMAP_SEARCH_HEADER:
			fold_in_place(&n->str, &n->str_len);
			need |= digest_field(n->field, n->field_len) >= 0
				    ? IMAP_SEARCH_NEED_HEADERS
				    : IMAP_SEARCH_NEED_MESSAGE;
			break;
		case IMAP_SEARCH_BEFORE:
		case IMAP_SEARCH_ON:
		case IMAP_SEARCH_SINCE:
			need |= IMAP_SEARCH_NEED_ZONE;
			break;
		case IMAP_SEARCH_SENTBEFORE:
		case IMAP_SEARCH_SENTON:
		case IMAP_SEARCH_SENTSINCE:
			/* without a readable Date: the internal date stands in */
			need |= IMAP_SEARCH_NEED_HEADERS | IMAP_SEARCH_NEED_ZONE;
			break;
		case IMAP_SEARCH_SEQSET:
			prepare_set(n, env->count, env);
			break;
		case IMAP_SEARCH_UID:
			prepare_set(n, env->max_uid, env);
			break;
		default:
			break;
		}
	}
	return need;
}

unsigned imap_search_prepare(struct imap_search_program *prog, const struct imap_search_env *env)
{
	return prepare_node(prog->root, env);
}

/* ------------------------------------------------------------------ */
/* What evaluation derives from the message */

struct imap_search_text {
	struct imap_search_headers headers;
	bool have_headers;
	struct mime_tree *tree;
	bool have_body, have_hdrtext;
	struct buf body;    /* folded text of each text part, each ended by NUL */
	struct buf hdrtext; /* folded "name: decoded value" lines of every header */
};

static struct imap_search_text *text_of(struct imap_search_message *m)
{
	if (m->text_ == NULL) {
		m->text_ = xcalloc(1, sizeof(*m->text_));
		imap_search_headers_init(&m->text_->headers);
		buf_init(&m->text_->body, 0);
		buf_init(&m->text_->hdrtext, 0);
	}
	return m->text_;
}

void imap_search_message_release(struct imap_search_message *m)
{
	struct imap_search_text *t = m->text_;
	if (t == NULL)
		return;
	imap_search_headers_free(&t->headers);
	mime_tree_free(&t->tree);
	buf_free(&t->body);
	buf_free(&t->hdrtext);
	free(t);
	m->text_ = NULL;
}

static const struct imap_search_headers *headers_at(struct imap_search_message *m,
						    enum imap_search_level level)
{
	if (level == IMAP_SEARCH_LEVEL_INDEX)
		return NULL;
	if (m->headers != NULL)
		return m->headers;
	if (level != IMAP_SEARCH_LEVEL_MESSAGE || m->data == NULL)
		return NULL;
	struct imap_search_text *t = text_of(m);
	if (!t->have_headers) {
		imap_search_headers_build(&t->headers, m->data, m->len);
		t->have_headers = true;
	}
	return &t->headers;
}

static const struct mime_tree *tree_of(struct imap_search_message *m)
{
	struct imap_search_text *t = text_of(m);
	if (t->tree == NULL)
		t->tree = mime_parse(m->data, m->len, NULL);
	return t->tree;
}

static bool is_ascii_charset(struct mime_str cs)
{
	return mime_str_is(cs, "utf-8") || mime_str_is(cs, "utf8") || mime_str_is(cs, "us-ascii") ||
	       mime_str_is(cs, "ascii");
}

/* The decoded, converted, folded text of one text part, then a NUL. */
static void add_part_text(const char *data, const struct mime_part *p, struct buf *out)
{
	const char *body = data + p->body_start;
	size_t len = p->body_end - p->body_start;
	struct buf dec, conv;
	buf_init(&dec, 0);
	buf_init(&conv, 0);
	if (p->encoding == MIME_CTE_BASE64 || p->encoding == MIME_CTE_QP) {
		if (p->encoding == MIME_CTE_BASE64)
			mime_base64_decode(body, len, 0, &dec, NULL);
		else
			mime_qp_decode(body, len, 0, &dec, NULL);
		body = dec.data != NULL ? dec.data : "";
		len = dec.len;
	}
	const struct mime_param *cs = mime_param_get(p->params, p->nparams, "charset");
	if (cs != NULL && cs->value.p != NULL && !is_ascii_charset(cs->value) &&
	    mime_charset_to_utf8(cs->value.p, cs->value.len, body, len, &conv) == 0) {
		body = conv.data != NULL ? conv.data : "";
		len = conv.len;
	}
	imap_search_fold(body, len, out);
	buf_append(out, "", 1);
	buf_free(&dec);
	buf_free(&conv);
}

static const struct buf *body_text(struct imap_search_message *m)
{
	struct imap_search_text *t = text_of(m);
	if (t->have_body)
		return &t->body;
	t->have_body = true;
	const struct mime_tree *tree = tree_of(m);
	for (unsigned i = 0; i < tree->nparts; i++) {
		const struct mime_part *p = &tree->parts[i];
		if (p->children != NULL ||
		    (p->flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE)) != 0)
			continue;
		if ((p->flags & MIME_PART_TEXT) == 0)
			continue;
		add_part_text(m->data, p, &t->body);
	}
	return &t->body;
}

/* Append "name: decoded value\n", folded, for each field of a header. */
static void add_header_text(const char *hdr, size_t len, struct buf *out)
{
	struct mime_header_limits limits = {0, FIELD_MAX};
	struct mime_header_iter it;
	struct mime_header_field f;
	struct buf raw, dec;
	buf_init(&raw, FIELD_MAX);
	buf_init(&dec, 0);
	mime_header_iter_init(&it, hdr, len, &limits);
	while (mime_header_iter_next(&it, &f) == 1) {
		buf_reset(&raw);
		buf_reset(&dec);
		if (f.has_colon) {
			buf_append(&dec, f.name, f.name_len);
			buf_append(&dec, ": ", 2);
			mime_header_unfold(f.value, f.value_len, &raw);
			mime_rfc2047_decode(raw.data != NULL ? raw.data : "", raw.len, &dec);
		} else {
			buf_append(&dec, f.name, f.name_len);
		}
		imap_search_fold(dec.data != NULL ? dec.data : "", dec.len, out);
		buf_append(out, "\n", 1);
	}
	buf_free(&raw);
	buf_free(&dec);
}

static const struct buf *header_text(struct imap_search_message *m)
{
	struct imap_search_text *t = text_of(m);
	if (t->have_hdrtext)
		return &t->hdrtext;
	t->have_hdrtext = true;
	const struct mime_tree *tree = tree_of(m);
	for (unsigned i = 0; i < tree->nparts; i++) {
		const struct mime_part *p = &tree->parts[i];
		if (p->hdr_end > p->hdr_start)
			add_header_text(m->data + p->hdr_start, p->hdr_end - p->hdr_start,
					&t->hdrtext);
	}
	return &t->hdrtext;
}

static bool buf_contains(const struct buf *b, const char *needle, size_t len)
{
	if (len == 0)
		return true;
	return b->data != NULL && memmem(b->data, b->len, needle, len) != NULL;
}

/* HEADER of a field the digest does not hold: the message's own header. */
static bool header_field_contains(const struct imap_search_message *m, const char *name,
				  const char *needle, size_t needle_len)
{
	struct mime_header_limits limits = {0, FIELD_MAX};
	struct mime_header_iter it;
	struct mime_header_field f;
	struct buf raw, dec;
	bool found = false;
	buf_init(&raw, FIELD_MAX);
	buf_init(&dec, 0);
	mime_header_iter_init(&it, m->data, m->len, &limits);
	while (!found && mime_header_iter_next_named(&it, name, &f) == 1) {
		if (!f.has_colon)
			continue;
		if (needle_len == 0) {
			found = true;
			break;
		}
		buf_reset(&raw);
		buf_reset(&dec);
		mime_header_unfold(f.value, f.value_len, &raw);
		mime_rfc2047_decode(raw.data != NULL ? raw.data : "", raw.len, &dec);
		found = imap_search_contains(dec.data != NULL ? dec.data : "", dec.len, needle,
					     needle_len);
	}
	buf_free(&raw);
	buf_free(&dec);
	return found;
}

/* ------------------------------------------------------------------ */
/* Evaluation */

static enum imap_search_match yes_no(bool b)
{
	return b ? IMAP_MATCH_YES : IMAP_MATCH_NO;
}

static bool has_keyword(const char *list, const char *kw, size_t kwlen)
{
	if (list == NULL)
		return false;
	const char *p = list;
	while (*p != '\0') {
		size_t n = strcspn(p, " ");
		if (n == kwlen && strncasecmp(p, kw, n) == 0)
			return true;
		p += n;
		while (*p == ' ')
			p++;
	}
	return false;
}

static enum imap_search_match contains_str(struct mime_str v, const struct imap_search_node *n)
{
	return yes_no(imap_search_contains(v.p != NULL ? v.p : "", v.p != NULL ? v.len : 0, n->str,
					   n->str_len));
}

static enum imap_search_match eval_node(const struct imap_search_node *n,
					struct imap_search_message *m,
					enum imap_search_level level);

static enum imap_search_level cheaper(enum imap_search_level level)
{
	return level == IMAP_SEARCH_LEVEL_MESSAGE ? IMAP_SEARCH_LEVEL_HEADERS : level;
}

static enum imap_search_match eval_and(const struct imap_search_node *first,
				       struct imap_search_message *m, enum imap_search_level level)
{
	enum imap_search_match res = IMAP_MATCH_YES;
	const struct imap_search_node *k;
	if (level == IMAP_SEARCH_LEVEL_MESSAGE) {
		/* Any operand false without opening the message? */
		bool open = false;
		for (k = first; k != NULL; k = k->next) {
			enum imap_search_match r = eval_node(k, m, cheaper(level));
			if (r == IMAP_MATCH_NO)
				return IMAP_MATCH_NO;
			open |= r == IMAP_MATCH_MAYBE;
		}
		if (!open)
			return IMAP_MATCH_YES;
	}
	for (k = first; k != NULL; k = k->next) {
		enum imap_search_match r = eval_node(k, m, cheaper(level));
		if (r == IMAP_MATCH_MAYBE && level == IMAP_SEARCH_LEVEL_MESSAGE)
			r = eval_node(k, m, level);
		if (r == IMAP_MATCH_NO)
			return IMAP_MATCH_NO;
		if (r == IMAP_MATCH_MAYBE)
			res = IMAP_MATCH_MAYBE;
	}
	return res;
}

static enum imap_search_match eval_or(const struct imap_search_node *first,
				      struct imap_search_message *m, enum imap_search_level level)
{
	enum imap_search_match res = IMAP_MATCH_NO;
	const struct imap_search_node *k;
	if (level == IMAP_SEARCH_LEVEL_MESSAGE) {
		bool open = false;
		for (k = first; k != NULL; k = k->next) {
			enum imap_search_match r = eval_node(k, m, cheaper(level));
			if (r == IMAP_MATCH_YES)
				return IMAP_MATCH_YES;
			open |= r == IMAP_MATCH_MAYBE;
		}
		if (!open)
			return IMAP_MATCH_NO;
	}
	for (k = first; k != NULL; k = k->next) {
		enum imap_search_match r = eval_node(k, m, cheaper(level));
		if (r == IMAP_MATCH_MAYBE && level == IMAP_SEARCH_LEVEL_MESSAGE)
			r = eval_node(k, m, level);
		if (r == IMAP_MATCH_YES)
			return IMAP_MATCH_YES;
		if (r == IMAP_MATCH_MAYBE)
			res = IMAP_MATCH_MAYBE;
	}
	return res;
}

static enum imap_search_match eval_sent(const struct imap_search_node *n,
					struct imap_search_message *m, enum imap_search_level level)
{
	const struct imap_search_headers *h = headers_at(m, level);
	if (h == NULL)
		return IMAP_MATCH_MAYBE;
	int64_t day = h->date_valid ? imap_day_of((time_t)h->date, h->date_tz)
				    : imap_day_of((time_t)m->internaldate, m->zone);
	switch (n->key) {
	case IMAP_SEARCH_SENTBEFORE:
		return yes_no(day < n->day);
	case IMAP_SEARCH_SENTON:
		return yes_no(day == n->day);
	default:
		return yes_no(day >= n->day);
	}
}

static enum imap_search_match eval_header(const struct imap_search_node *n,
					  struct imap_search_message *m,
					  enum imap_search_level level)
{
	int k = digest_field(n->field, n->field_len);
	if (k >= 0) {
		const struct imap_search_headers *h = headers_at(m, level);
		if (h == NULL)
			return IMAP_MATCH_MAYBE;
		if (h->v[k].p == NULL)
			return IMAP_MATCH_NO;
		return contains_str(h->v[k], n);
	}
	if (level != IMAP_SEARCH_LEVEL_MESSAGE || m->data == NULL)
		return IMAP_MATCH_MAYBE;
	return yes_no(header_field_contains(m, n->field, n->str, n->str_len));
}

static enum imap_search_match eval_node(const struct imap_search_node *n,
					struct imap_search_message *m, enum imap_search_level level)
{
	const struct imap_search_headers *h;
	int64_t day;
	int k;
	switch (n->key) {
	case IMAP_SEARCH_AND:
		return eval_and(n->children, m, level);
	case IMAP_SEARCH_OR:
		return eval_or(n->children, m, level);
	case IMAP_SEARCH_NOT: {
		enum imap_search_match r = eval_node(n->children, m, level);
		return r == IMAP_MATCH_MAYBE ? r : yes_no(r == IMAP_MATCH_NO);
	}
	case IMAP_SEARCH_ALL:
		return IMAP_MATCH_YES;
	case IMAP_SEARCH_ANSWERED:
		return yes_no((m->flags & STORE_FLAG_ANSWERED) != 0);
	case IMAP_SEARCH_DELETED:
		return yes_no((m->flags & STORE_FLAG_DELETED) != 0);
	case IMAP_SEARCH_DRAFT:
		return yes_no((m->flags & STORE_FLAG_DRAFT) != 0);
	case IMAP_SEARCH_FLAGGED:
		return yes_no((m->flags & STORE_FLAG_FLAGGED) != 0);
	case IMAP_SEARCH_SEEN:
		return yes_no((m->flags & STORE_FLAG_SEEN) != 0);
	case IMAP_SEARCH_UNANSWERED:
		return yes_no((m->flags & STORE_FLAG_ANSWERED) == 0);
	case IMAP_SEARCH_UNDELETED:
		return yes_no((m->flags & STORE_FLAG_DELETED) == 0);
	case IMAP_SEARCH_UNDRAFT:
		return yes_no((m->flags & STORE_FLAG_DRAFT) == 0);
	case IMAP_SEARCH_UNFLAGGED:
		return yes_no((m->flags & STORE_FLAG_FLAGGED) == 0);
	case IMAP_SEARCH_UNSEEN:
		return yes_no((m->flags & STORE_FLAG_SEEN) == 0);
	case IMAP_SEARCH_NEW:
		return yes_no(m->recent && (m->flags & STORE_FLAG_SEEN) == 0);
	case IMAP_SEARCH_OLD:
		return yes_no(!m->recent);
	case IMAP_SEARCH_RECENT:
		return yes_no(m->recent);
	case IMAP_SEARCH_KEYWORD:
		return yes_no(has_keyword(m->keywords, n->str, n->str_len));
	case IMAP_SEARCH_UNKEYWORD:
		return yes_no(!has_keyword(m->keywords, n->str, n->str_len));
	case IMAP_SEARCH_FROM:
	case IMAP_SEARCH_TO:
	case IMAP_SEARCH_CC:
	case IMAP_SEARCH_BCC:
		/* the decoded text, or the addresses as parsed */
		h = headers_at(m, level);
		if (h == NULL)
			return IMAP_MATCH_MAYBE;
		k = n->key == IMAP_SEARCH_FROM ? 0
		    : n->key == IMAP_SEARCH_TO ? 1
		    : n->key == IMAP_SEARCH_CC ? 2
					       : 3;
		if (contains_str(h->v[IMAP_HDR_FROM + k], n) == IMAP_MATCH_YES)
			return IMAP_MATCH_YES;
		return contains_str(h->v[IMAP_HDR_ADDR_FROM + k], n);
	case IMAP_SEARCH_SUBJECT:
		h = headers_at(m, level);
		if (h == NULL)
			return IMAP_MATCH_MAYBE;
		return contains_str(h->v[IMAP_HDR_SUBJECT], n);
	case IMAP_SEARCH_HEADER:
		return eval_header(n, m, level);
	case IMAP_SEARCH_BODY:
	case IMAP_SEARCH_TEXT:
		if (level != IMAP_SEARCH_LEVEL_MESSAGE || m->data == NULL)
			return IMAP_MATCH_MAYBE;
		if (n->str_len == 0)
			return IMAP_MATCH_YES;
		if (buf_contains(body_text(m), n->str, n->str_len))
			return IMAP_MATCH_YES;
		if (n->key == IMAP_SEARCH_TEXT)
			return yes_no(buf_contains(header_text(m), n->str, n->str_len));
		return IMAP_MATCH_NO;
	case IMAP_SEARCH_BEFORE:
	case IMAP_SEARCH_ON:
	case IMAP_SEARCH_SINCE:
		day = imap_day_of((time_t)m->internaldate, m->zone);
		return yes_no(n->key == IMAP_SEARCH_BEFORE ? day < n->day
			      : n->key == IMAP_SEARCH_ON   ? day == n->day
							   : day >= n->day);
	case IMAP_SEARCH_SENTBEFORE:
	case IMAP_SEARCH_SENTON:
	case IMAP_SEARCH_SENTSINCE:
		return eval_sent(n, m, level);
	case IMAP_SEARCH_LARGER:
		return yes_no(m->size > n->number);
	case IMAP_SEARCH_SMALLER:
		return yes_no(m->size < n->number);
	case IMAP_SEARCH_UID:
		return yes_no(imap_seqset_contains(&n->set, m->uid));
	case IMAP_SEARCH_SEQSET:
		return yes_no(imap_seqset_contains(&n->set, m->seq));
	case IMAP_SEARCH_MODSEQ:
		return yes_no(m->modseq >= n->number);
	case IMAP_SEARCH_KEY_COUNT:
		break;
	}
	return IMAP_MATCH_NO;
}

enum imap_search_match imap_search_eval(const struct imap_search_program *prog,
					struct imap_search_message *m, enum imap_search_level level)
{
	return eval_node(prog->root, m, level);
}
