/* dkim_canon.c - RFC 6376 canonicalisation: header fields (3.4.1, 3.4.2),
 * bodies as a byte-at-a-time state machine (3.4.3, 3.4.4) so that any
 * chunking gives the same hash input, and the bottom-up selection of
 * signed header fields (5.4.2). */
#include "dkim/dkim_canon.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/util.h"
#include "mime/mime_header.h"

static bool is_wsp(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static bool is_fws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

int dkim_canon_parse(const char *s, size_t len, enum dkim_canon *header_r, enum dkim_canon *body_r)
{
	const char *slash = len > 0 ? memchr(s, '/', len) : NULL;
	size_t hlen = slash != NULL ? (size_t)(slash - s) : len;
	enum dkim_canon h, b = DKIM_CANON_SIMPLE;
	if (mime_ascii_ieq(s, hlen, "simple"))
		h = DKIM_CANON_SIMPLE;
	else if (mime_ascii_ieq(s, hlen, "relaxed"))
		h = DKIM_CANON_RELAXED;
	else
		return -1;
	if (slash != NULL) {
		const char *bs = slash + 1;
		size_t blen = len - hlen - 1;
		if (mime_ascii_ieq(bs, blen, "simple"))
			b = DKIM_CANON_SIMPLE;
		else if (mime_ascii_ieq(bs, blen, "relaxed"))
			b = DKIM_CANON_RELAXED;
		else
			return -1;
	}
	*header_r = h;
	*body_r = b;
	return 0;
}

const char *dkim_canon_name(enum dkim_canon c)
{
	return c == DKIM_CANON_RELAXED ? "relaxed" : "simple";
}

/* ----- header fields ----- */

/* Length without one final line end (CRLF or LF). */
static size_t strip_line_end(const char *field, size_t len)
{
	if (len > 0 && field[len - 1] == '\n') {
		len--;
		if (len > 0 && field[len - 1] == '\r')
			len--;
	}
	return len;
}

/* Append bytes [s, s + len) unfolded (CRLF and LF removed), each WSP run
 * as one SP, without leading (if `trim_lead`) or trailing WSP; lowercase
 * if `fold_case`. */
static int relaxed_part(const char *s, size_t len, bool trim_lead, bool fold_case,
			struct buf *out)
{
	bool started = !trim_lead, space = false;
	size_t i = 0;
	while (i < len) {
		/* Copy a run of ordinary bytes in one append. */
		size_t j = i;
		while (j < len && !is_wsp((unsigned char)s[j]) && s[j] != '\n' &&
		       !(s[j] == '\r' && j + 1 < len && s[j + 1] == '\n'))
			j++;
		if (j > i) {
			if (space && buf_append(out, " ", 1) < 0)
				return -1;
			space = false;
			started = true;
			if (fold_case) {
				char *dst = buf_reserve(out, j - i);
				if (dst == NULL)
					return -1;
				for (size_t k = i; k < j; k++)
					dst[k - i] = (char)lower((unsigned char)s[k]);
				buf_commit(out, j - i);
			} else if (buf_append(out, s + i, j - i) < 0) {
				return -1;
			}
			i = j;
			continue;
		}
		if (is_wsp((unsigned char)s[i])) {
			if (started)
				space = true;
			i++;
		} else if (s[i] == '\r') {
			i += 2; /* CRLF: a fold, removed */
		} else {
			i++; /* bare LF */
		}
	}
	return 0;
}

int dkim_canon_header(enum dkim_canon c, const char *field, size_t len, struct buf *out)
{
	len = strip_line_end(field, len);
	if (c == DKIM_CANON_SIMPLE)
		return buf_append(out, field, len);
	const char *colon = len > 0 ? memchr(field, ':', len) : NULL;
	if (colon == NULL)
		return relaxed_part(field, len, true, false, out);
	size_t nlen = (size_t)(colon - field);
	if (relaxed_part(field, nlen, true, true, out) < 0 || buf_append(out, ":", 1) < 0)
		return -1;
	return relaxed_part(colon + 1, len - nlen - 1, true, false, out);
}

int dkim_canon_sig_header(enum dkim_canon c, const char *field, size_t len, struct buf *out)
{
	len = strip_line_end(field, len);
	const char *colon = len > 0 ? memchr(field, ':', len) : NULL;
	size_t pos = colon != NULL ? (size_t)(colon - field) + 1 : len;
	/* Find the b= tag: tag-spec = [FWS] tag-name [FWS] "=" [FWS] value [FWS]. */
	while (pos < len) {
		const char *semi = memchr(field + pos, ';', len - pos);
		size_t seg_end = semi != NULL ? (size_t)(semi - field) : len;
		size_t i = pos;
		while (i < seg_end && is_fws((unsigned char)field[i]))
			i++;
		size_t name = i;
		while (i < seg_end && !is_fws((unsigned char)field[i]) && field[i] != '=')
			i++;
		size_t name_len = i - name;
		while (i < seg_end && is_fws((unsigned char)field[i]))
			i++;
		if (i < seg_end && field[i] == '=' && name_len == 1 && field[name] == 'b') {
			/* Canonicalise the field with [i + 1, seg_end) left out. */
			struct buf tmp;
			buf_init(&tmp, 0);
			buf_append(&tmp, field, i + 1);
			buf_append(&tmp, field + seg_end, len - seg_end);
			int rc = dkim_canon_header(c, tmp.data, tmp.len, out);
			buf_free(&tmp);
			return rc;
		}
		pos = seg_end + 1;
	}
	return dkim_canon_header(c, field, len, out);
}

/* ----- the header section ----- */

int dkim_headers_parse(struct dkim_headers *h, const char *msg, size_t len, size_t max_fields)
{
	memset(h, 0, sizeof(*h));
	h->msg = msg;
	h->len = len;
	struct mime_header_iter it;
	struct mime_header_field f;
	size_t cap = 0;
	mime_header_iter_init(&it, msg, len, NULL);
	int rc = 0;
	while (mime_header_iter_next(&it, &f) > 0) {
		if (!f.has_colon)
			continue;
		if (max_fields != 0 && h->n >= max_fields) {
			rc = -1;
			break;
		}
		if (h->n == cap) {
			cap = cap == 0 ? 32 : cap * 2;
			h->v = xrealloc(h->v, cap * sizeof(*h->v));
		}
		struct dkim_hfield *hf = &h->v[h->n++];
		hf->name = f.name;
		hf->name_len = f.name_len;
		hf->start = f.start;
		hf->end = f.end;
		hf->raw_len = f.line_end - f.start;
		hf->picked = false;
	}
	h->body_start = rc == 0 ? it.header_end : len;
	return rc;
}

void dkim_headers_free(struct dkim_headers *h)
{
	free(h->v);
	h->v = NULL;
	h->n = 0;
}

static bool name_eq(const struct dkim_hfield *f, const char *name, size_t name_len)
{
	if (f->name_len != name_len)
		return false;
	for (size_t i = 0; i < name_len; i++)
		if (lower((unsigned char)f->name[i]) != lower((unsigned char)name[i]))
			return false;
	return true;
}

size_t dkim_headers_count(const struct dkim_headers *h, const char *name, size_t name_len)
{
	size_t n = 0;
	for (size_t i = 0; i < h->n; i++)
		if (name_eq(&h->v[i], name, name_len))
			n++;
	return n;
}

void dkim_headers_reset(struct dkim_headers *h)
{
	for (size_t i = 0; i < h->n; i++)
		h->v[i].picked = false;
}

long dkim_headers_pick(struct dkim_headers *h, const char *name, size_t name_len)
{
	for (size_t i = h->n; i > 0; i--) {
		struct dkim_hfield *f = &h->v[i - 1];
		if (!f->picked && name_eq(f, name, name_len)) {
			f->picked = true;
			return (long)(i - 1);
		}
	}
	return -1;
}

int dkim_canon_signed_headers(struct dkim_headers *h, enum dkim_canon c, const char *hlist,
			      size_t hlen, struct buf *out)
{
	dkim_headers_reset(h);
	size_t pos = 0;
	for (;;) {
		const char *colon = hlen > pos ? memchr(hlist + pos, ':', hlen - pos) : NULL;
		size_t end = colon != NULL ? (size_t)(colon - hlist) : hlen;
		size_t a = pos, b = end;
		while (a < b && is_fws((unsigned char)hlist[a]))
			a++;
		while (b > a && is_fws((unsigned char)hlist[b - 1]))
			b--;
		if (a == b)
			return -1;
		long idx = dkim_headers_pick(h, hlist + a, b - a);
		if (idx >= 0) {
			const struct dkim_hfield *f = &h->v[idx];
			if (dkim_canon_header(c, h->msg + f->start, f->raw_len, out) < 0 ||
			    buf_append(out, "\r\n", 2) < 0)
				return -1;
		}
		if (colon == NULL)
			break;
		pos = end + 1;
	}
	return 0;
}

/* ----- body ----- */

static void body_flush(struct dkim_body_canon *bc)
{
	size_t n = bc->staged;
	if (bc->limit != UINT64_MAX && bc->emitted + n > bc->limit)
		n = (size_t)(bc->limit - bc->emitted);
	if (n > 0) {
		bc->emit(bc->ctx, bc->stage, n);
		bc->emitted += n;
	}
	bc->staged = 0;
}

static void body_put(struct dkim_body_canon *bc, const void *data, size_t n)
{
	const unsigned char *s = data;
	bc->length += n;
	while (n > 0) {
		if (bc->staged == sizeof(bc->stage))
			body_flush(bc);
		size_t k = sizeof(bc->stage) - bc->staged;
		if (k > n)
			k = n;
		memcpy(bc->stage + bc->staged, s, k);
		bc->staged += k;
		s += k;
		n -= k;
	}
}

/* Bytes copied as they are: not a line end, and not WSP in relaxed mode. */
static bool body_plain(const struct dkim_body_canon *bc, unsigned char c)
{
	return c != '\r' && c != '\n' && (bc->canon == DKIM_CANON_SIMPLE || !is_wsp(c));
}

/* A run of n >= 1 plain bytes (or one bare CR) of the current line. */
static void body_text(struct dkim_body_canon *bc, const unsigned char *s, size_t n)
{
	/* Empty lines were held back in case they ended the body; they do not. */
	for (; bc->empty_lines > 0; bc->empty_lines--)
		body_put(bc, "\r\n", 2);
	if (bc->wsp) {
		body_put(bc, " ", 1);
		bc->wsp = false;
	}
	body_put(bc, s, n);
	bc->line_content = true;
}

static void body_content(struct dkim_body_canon *bc, unsigned char c)
{
	if (bc->canon == DKIM_CANON_RELAXED && is_wsp(c))
		bc->wsp = true;
	else
		body_text(bc, &c, 1);
}

static void body_line_end(struct dkim_body_canon *bc)
{
	if (bc->line_content)
		body_put(bc, "\r\n", 2);
	else
		bc->empty_lines++;
	bc->line_content = false;
	bc->wsp = false; /* relaxed: WSP at the end of a line is dropped */
}

void dkim_body_canon_init(struct dkim_body_canon *bc, enum dkim_canon c, uint64_t limit,
			  dkim_canon_emit_fn *emit, void *ctx)
{
	memset(bc, 0, sizeof(*bc));
	bc->canon = c;
	bc->limit = limit;
	bc->emit = emit;
	bc->ctx = ctx;
}

void dkim_body_canon_update(struct dkim_body_canon *bc, const void *data, size_t len)
{
	const unsigned char *p = data;
	if (bc->finished)
		return;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = p[i];
		if (bc->cr) {
			bc->cr = false;
			if (c == '\n') {
				body_line_end(bc);
				continue;
			}
			body_content(bc, '\r'); /* a bare CR is data */
		}
		if (c == '\r') {
			bc->cr = true;
		} else if (c == '\n') {
			body_line_end(bc);
		} else if (body_plain(bc, c)) {
			size_t j = i + 1;
			while (j < len && body_plain(bc, p[j]))
				j++;
			body_text(bc, p + i, j - i);
			i = j - 1;
		} else {
			body_content(bc, c);
		}
	}
}

void dkim_body_canon_final(struct dkim_body_canon *bc)
{
	if (bc->finished)
		return;
	if (bc->cr) {
		bc->cr = false;
		body_content(bc, '\r');
	}
	/* A last line without its line end is ended as SMTP would end it. */
	if (bc->line_content)
		body_line_end(bc);
	bc->empty_lines = 0;
	if (bc->canon == DKIM_CANON_SIMPLE && bc->length == 0)
		body_put(bc, "\r\n", 2);
	body_flush(bc);
	bc->finished = true;
}

struct body_to_buf {
	struct buf *out;
	int rc;
};

static void emit_to_buf(void *ctx, const void *data, size_t len)
{
	struct body_to_buf *b = ctx;
	if (b->rc == 0 && buf_append(b->out, data, len) < 0)
		b->rc = -1;
}

int dkim_canon_body(enum dkim_canon c, const char *body, size_t len, struct buf *out)
{
	struct body_to_buf b = {.out = out, .rc = 0};
	struct dkim_body_canon bc;
	dkim_body_canon_init(&bc, c, UINT64_MAX, emit_to_buf, &b);
	dkim_body_canon_update(&bc, body, len);
	dkim_body_canon_final(&bc);
	return b.rc;
}
