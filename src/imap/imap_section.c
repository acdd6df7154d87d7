/* imap_section.c - section spec parsing, resolution to byte ranges, and
 * BINARY decoding. */
#include "imap/imap_section.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/util.h"
#include "imap/imap_quote.h"
#include "mime/mime_decode.h"
#include "mime/mime_header.h"
#include "mime/mime_parser.h"

/* Case-insensitive prefix match of the keyword at s[pos..len). */
static bool keyword_at(const char *s, size_t len, size_t pos, const char *kw)
{
	size_t n = strlen(kw);
	return len - pos >= n && mime_ascii_ieq(s + pos, n, kw);
}

static bool astring_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr("(){%*\"\\", c) == NULL;
}

struct names {
	struct imap_section *sec;
	size_t used, cap; /* in sec->storage */
};

static void add_name(struct names *n, const char *p, size_t len)
{
	struct imap_section *sec = n->sec;
	char *dst = sec->storage + n->used;
	memmove(dst, p, len); /* a quoted name is unescaped in place */
	dst[len] = '\0';
	sec->fields[sec->nfields].p = dst;
	sec->fields[sec->nfields].len = len;
	sec->nfields++;
	n->used += len + 1;
}

/* "(" astring *(SP astring) ")" at s[pos]; returns the offset after ')' or
 * 0 on error. */
static size_t parse_list(const char *s, size_t len, size_t pos, struct imap_section *sec,
			 const char **error_r)
{
	struct names n = {.sec = sec};
	sec->storage = xmalloc(len + 1);
	sec->fields = xmalloc(IMAP_SECTION_MAX_FIELDS * sizeof(*sec->fields));
	if (pos >= len || s[pos] != '(') {
		*error_r = "header list expected";
		return 0;
	}
	pos++;
	for (;;) {
		if (pos >= len) {
			*error_r = "unterminated header list";
			return 0;
		}
		if (sec->nfields == IMAP_SECTION_MAX_FIELDS) {
			*error_r = "too many header field names";
			return 0;
		}
		char c = s[pos];
		if (c == '"') {
			char *dst = sec->storage + n.used;
			size_t k = 0;
			pos++;
			while (pos < len && s[pos] != '"') {
				if (s[pos] == '\r' || s[pos] == '\n') {
					*error_r = "bad quoted string";
					return 0;
				}
				if (s[pos] == '\\') {
					if (pos + 1 >= len ||
					    (s[pos + 1] != '"' && s[pos + 1] != '\\')) {
						*error_r = "bad quoted string";
						return 0;
					}
					pos++;
				}
				dst[k++] = s[pos++];
			}
			if (pos >= len) {
				*error_r = "unterminated quoted string";
				return 0;
			}
			pos++;
			add_name(&n, dst, k);
		} else if (c == '{') {
			size_t p = pos + 1;
			uint64_t v = 0;
			size_t digits = 0;
			while (p < len && s[p] >= '0' && s[p] <= '9' && digits < 19) {
				v = v * 10 + (uint64_t)(s[p] - '0');
				p++;
				digits++;
			}
			if (p < len && s[p] == '+')
				p++;
			if (digits == 0 || p + 2 >= len || s[p] != '}' || s[p + 1] != '\r' ||
			    s[p + 2] != '\n' || v > len - (p + 3)) {
				*error_r = "bad literal";
				return 0;
			}
			p += 3;
			add_name(&n, s + p, (size_t)v);
			pos = p + (size_t)v;
		} else {
			size_t start = pos;
			while (pos < len && astring_char((unsigned char)s[pos]))
				pos++;
			if (pos == start) {
				*error_r = "header field name expected";
				return 0;
			}
			add_name(&n, s + start, pos - start);
		}
		if (pos < len && s[pos] == ')')
			return pos + 1;
		if (pos >= len || s[pos] != ' ') {
			*error_r = "space or ')' expected in header list";
			return 0;
		}
		while (pos < len && s[pos] == ' ')
			pos++;
	}
}

int imap_section_parse(const char *s, size_t len, bool binary, struct imap_section *sec,
		       const char **error_r)
{
	memset(sec, 0, sizeof(*sec));
	sec->binary = binary;
	size_t pos = 0;
	bool dot = false;
	while (pos < len && s[pos] >= '0' && s[pos] <= '9') {
		if (s[pos] == '0') {
			*error_r = "part numbers start at 1";
			goto fail;
		}
		uint64_t v = 0;
		while (pos < len && s[pos] >= '0' && s[pos] <= '9') {
			v = v * 10 + (uint64_t)(s[pos] - '0');
			if (v > UINT32_MAX) {
				*error_r = "part number too large";
				goto fail;
			}
			pos++;
		}
		if (sec->nparts == IMAP_SECTION_MAX_PARTS) {
			*error_r = "part number too deep";
			goto fail;
		}
		sec->part[sec->nparts++] = (unsigned)v;
		dot = false;
		if (pos < len && s[pos] == '.') {
			dot = true;
			pos++;
		} else {
			break;
		}
	}
	if (pos == len) {
		if (dot) {
			*error_r = "section ends with '.'";
			goto fail;
		}
		sec->kind = sec->nparts > 0 ? IMAP_SECTION_BODY : IMAP_SECTION_FULL;
		return 0;
	}
	if (binary) {
		*error_r = "BINARY takes only part numbers";
		goto fail;
	}
	if (sec->nparts > 0 && !dot) {
		*error_r = "'.' expected after part number";
		goto fail;
	}
	if (keyword_at(s, len, pos, "HEADER.FIELDS.NOT") ||
	    keyword_at(s, len, pos, "HEADER.FIELDS")) {
		bool negated = keyword_at(s, len, pos, "HEADER.FIELDS.NOT");
		sec->kind = negated ? IMAP_SECTION_FIELDS_NOT : IMAP_SECTION_FIELDS;
		pos += negated ? 17 : 13;
		if (pos >= len || s[pos] != ' ') {
			*error_r = "space expected after HEADER.FIELDS";
			goto fail;
		}
		while (pos < len && s[pos] == ' ')
			pos++;
		pos = parse_list(s, len, pos, sec, error_r);
		if (pos == 0)
			goto fail;
	} else if (keyword_at(s, len, pos, "HEADER")) {
		sec->kind = IMAP_SECTION_HEADER;
		pos += 6;
	} else if (keyword_at(s, len, pos, "TEXT")) {
		sec->kind = IMAP_SECTION_TEXT;
		pos += 4;
	} else if (keyword_at(s, len, pos, "MIME")) {
		if (sec->nparts == 0) {
			*error_r = "MIME needs a part number";
			goto fail;
		}
		sec->kind = IMAP_SECTION_MIME;
		pos += 4;
	} else {
		*error_r = "unknown section";
		goto fail;
	}
	if (pos != len) {
		*error_r = "junk after section";
		goto fail;
	}
	return 0;
fail:
	imap_section_free(sec);
	return -1;
}

void imap_section_free(struct imap_section *sec)
{
	free(sec->fields);
	free(sec->storage);
	sec->fields = NULL;
	sec->storage = NULL;
	sec->nfields = 0;
}

int imap_section_write(const struct imap_section *sec, struct buf *out)
{
	int err = 0;
	for (unsigned i = 0; i < sec->nparts; i++) {
		if (buf_printf(out, i > 0 ? ".%u" : "%u", sec->part[i]) < 0)
			err = -1;
	}
	const char *kw = NULL;
	switch (sec->kind) {
	case IMAP_SECTION_FULL:
	case IMAP_SECTION_BODY:
		return err;
	case IMAP_SECTION_HEADER:
		kw = "HEADER";
		break;
	case IMAP_SECTION_FIELDS:
		kw = "HEADER.FIELDS (";
		break;
	case IMAP_SECTION_FIELDS_NOT:
		kw = "HEADER.FIELDS.NOT (";
		break;
	case IMAP_SECTION_TEXT:
		kw = "TEXT";
		break;
	case IMAP_SECTION_MIME:
		kw = "MIME";
		break;
	}
	if ((sec->nparts > 0 && buf_append(out, ".", 1) < 0) || buf_append_str(out, kw) < 0)
		err = -1;
	if (sec->kind != IMAP_SECTION_FIELDS && sec->kind != IMAP_SECTION_FIELDS_NOT)
		return err;
	for (unsigned i = 0; i < sec->nfields; i++) {
		const struct imap_section_name *n = &sec->fields[i];
		char *up = xmalloc(n->len + 1);
		for (size_t k = 0; k < n->len; k++) {
			char c = n->p[k];
			up[k] = (char)(c >= 'a' && c <= 'z' ? c - 32 : c);
		}
		if ((i > 0 && buf_append(out, " ", 1) < 0) ||
		    imap_append_astring(out, up, n->len, 0) < 0)
			err = -1;
		free(up);
	}
	if (buf_append(out, ")", 1) < 0)
		err = -1;
	return err;
}

/* The part a list of part numbers designates, or NULL. */
static const struct mime_part *find_part(const struct mime_tree *tree,
					 const struct imap_section *sec)
{
	const struct mime_part *p = tree->root;
	bool message = true; /* p is a message (the root or an embedded one) */
	for (unsigned i = 0; i < sec->nparts && p != NULL; i++) {
		unsigned n = sec->part[i];
		if ((p->flags & MIME_PART_MULTIPART) != 0 && (p->flags & MIME_PART_OVERFLOW) == 0) {
			const struct mime_part *c = p->children;
			for (; c != NULL && n > 1; n--)
				c = c->next;
			p = c;
			message = false;
		} else if (n != 1 || !message) {
			/* Only a message that is not multipart has a part 1
			 * (its body); a leaf part has no subparts. */
			p = NULL;
		}
		if (p != NULL && i + 1 < sec->nparts) {
			/* Going deeper: into a multipart's parts (next
			 * round) or the message inside a message/rfc822. */
			if ((p->flags & MIME_PART_MESSAGE) != 0 &&
			    (p->flags & MIME_PART_OVERFLOW) == 0 && p->children != NULL) {
				p = p->children;
				message = true;
			} else if ((p->flags & MIME_PART_MULTIPART) == 0 ||
				   (p->flags & MIME_PART_OVERFLOW) != 0) {
				p = NULL; /* a leaf has no subparts */
			}
		}
	}
	return p;
}

static bool name_listed(const struct imap_section *sec, const struct mime_header_field *f)
{
	if (!f->has_colon)
		return false;
	for (unsigned i = 0; i < sec->nfields; i++) {
		if (mime_ascii_ieq(f->name, f->name_len, sec->fields[i].p) &&
		    sec->fields[i].len == f->name_len)
			return true;
	}
	return false;
}

int imap_section_resolve(const struct mime_tree *tree, const struct imap_section *sec,
			 struct imap_section_result *res)
{
	memset(res, 0, sizeof(*res));
	const struct mime_part *p = find_part(tree, sec);
	if (p == NULL)
		return 0;
	res->part = p;
	switch (sec->kind) {
	case IMAP_SECTION_FULL:
		res->start = 0;
		res->end = tree->len;
		return 1;
	case IMAP_SECTION_BODY:
		res->start = p->body_start;
		res->end = p->body_end;
		res->decode = (p->flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE)) == 0 ||
			      (p->flags & MIME_PART_OVERFLOW) != 0;
		return 1;
	case IMAP_SECTION_MIME:
		res->start = p->hdr_start;
		res->end = p->hdr_end;
		return 1;
	case IMAP_SECTION_HEADER:
	case IMAP_SECTION_TEXT:
	case IMAP_SECTION_FIELDS:
	case IMAP_SECTION_FIELDS_NOT:
		break;
	}
	if (sec->nparts > 0) {
		/* Only a message/rfc822 part has a header and text of its
		 * own (those of the message inside). */
		if ((p->flags & MIME_PART_MESSAGE) == 0 || (p->flags & MIME_PART_OVERFLOW) != 0 ||
		    p->children == NULL)
			return 0;
		p = p->children;
		res->part = p;
	}
	if (sec->kind == IMAP_SECTION_HEADER) {
		res->start = p->hdr_start;
		res->end = p->hdr_end;
		return 1;
	}
	if (sec->kind == IMAP_SECTION_TEXT) {
		res->start = p->body_start;
		res->end = p->body_end;
		return 1;
	}
	res->fields = true;
	size_t cap = 0;
	struct mime_header_iter it;
	struct mime_header_field f;
	mime_header_iter_init(&it, tree->data + p->hdr_start, p->hdr_end - p->hdr_start, NULL);
	while (mime_header_iter_next(&it, &f) > 0) {
		bool listed = name_listed(sec, &f);
		if (listed != (sec->kind == IMAP_SECTION_FIELDS))
			continue;
		if (res->nranges == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			res->ranges = xrealloc(res->ranges, cap * sizeof(*res->ranges));
		}
		res->ranges[res->nranges].start = p->hdr_start + f.start;
		res->ranges[res->nranges].end = p->hdr_start + f.line_end;
		res->nranges++;
	}
	return 1;
}

void imap_section_result_free(struct imap_section_result *res)
{
	free(res->ranges);
	res->ranges = NULL;
	res->nranges = 0;
}

size_t imap_section_result_size(const struct imap_section_result *res)
{
	if (!res->fields)
		return res->end - res->start;
	size_t n = 2;
	for (size_t i = 0; i < res->nranges; i++)
		n += res->ranges[i].end - res->ranges[i].start + 2;
	return n;
}

int imap_section_result_write(const struct imap_section_result *res, const struct mime_tree *tree,
			      struct buf *out)
{
	if (!res->fields)
		return buf_append(out, tree->data + res->start, res->end - res->start);
	for (size_t i = 0; i < res->nranges; i++) {
		const struct imap_range *r = &res->ranges[i];
		if (buf_append(out, tree->data + r->start, r->end - r->start) < 0 ||
		    buf_append(out, "\r\n", 2) < 0)
			return -1;
	}
	return buf_append(out, "\r\n", 2);
}

enum imap_binary_status imap_section_binary(const struct imap_section_result *res,
					    const struct mime_tree *tree, struct buf *out,
					    size_t *size_r)
{
	size_t size = 0;
	if (size_r != NULL)
		*size_r = 0;
	if (res->fields || !res->decode) {
		size = imap_section_result_size(res);
		if (out != NULL && imap_section_result_write(res, tree, out) < 0)
			return IMAP_BINARY_FULL;
		if (size_r != NULL)
			*size_r = size;
		return IMAP_BINARY_OK;
	}
	const char *data = tree->data + res->start;
	size_t len = res->end - res->start;
	int r = 0;
	switch (res->part->encoding) {
	case MIME_CTE_7BIT:
	case MIME_CTE_8BIT:
	case MIME_CTE_BINARY:
		size = len;
		if (out != NULL)
			r = buf_append(out, data, len);
		break;
	case MIME_CTE_BASE64:
		r = mime_base64_decode(data, len, 0, out, &size);
		break;
	case MIME_CTE_QP:
		r = mime_qp_decode(data, len, 0, out, &size);
		break;
	case MIME_CTE_UNKNOWN:
		return IMAP_BINARY_UNKNOWN_CTE;
	}
	if (r < 0)
		return IMAP_BINARY_FULL;
	if (size_r != NULL)
		*size_r = size;
	return IMAP_BINARY_OK;
}
