/* imap_binary_convert.c - APPEND of binary content: MIME leaf parts that
 * could not be stored and served as they are (NUL bytes, bare CR/LF in
 * binary content) are rewritten as base64 (see imap_binary_convert.h). */
#include "imap/imap_binary_convert.h"

#include <stdbool.h>
#include <string.h>

#include "auth/base64.h"
#include "mime/mime_header.h"
#include "mime/mime_parser.h"

/* Input bytes per 76-character base64 line (RFC 2045 6.8). */
#define LINE_BYTES 57

static const char cte_base64[] = "Content-Transfer-Encoding: base64\r\n";

/* Does s[0..n) hold a CR not followed by LF, or an LF not preceded by CR? */
static bool has_bare_line_end(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r' && (i + 1 == n || s[i + 1] != '\n'))
			return true;
		if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
			return true;
	}
	return false;
}

static bool needs_base64(const struct mime_part *p, const char *data)
{
	if (p->children != NULL ||
	    (p->flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE | MIME_PART_OVERFLOW |
			 MIME_PART_NO_BLANK)) != 0 ||
	    (p->flags & MIME_PART_IS_MIME) == 0)
		return false;
	const char *b = data + p->body_start;
	size_t n = p->body_end - p->body_start;
	switch (p->encoding) {
	case MIME_CTE_BINARY:
		return memchr(b, '\0', n) != NULL || has_bare_line_end(b, n);
	case MIME_CTE_7BIT:
	case MIME_CTE_8BIT:
		return memchr(b, '\0', n) != NULL;
	default:
		return false;
	}
}

/* The part header h[0..len) (with its empty line) with every
 * Content-Transfer-Encoding field replaced by one saying base64, in the
 * place of the first one (or added last when there is none). */
static int rewrite_header(const char *h, size_t len, struct buf *out)
{
	struct mime_header_iter it;
	struct mime_header_field f;
	mime_header_iter_init(&it, h, len, NULL);
	size_t pos = 0;
	bool written = false;
	while (mime_header_iter_next(&it, &f) == 1) {
		if (!mime_header_name_is(&f, "content-transfer-encoding"))
			continue;
		if (buf_append(out, h + pos, f.start - pos) < 0 ||
		    (!written && buf_append_str(out, cte_base64) < 0))
			return -1;
		written = true;
		pos = f.end;
	}
	if (!written) {
		size_t blank = it.blank_start < pos ? pos : it.blank_start;
		if (buf_append(out, h + pos, blank - pos) < 0 ||
		    buf_append_str(out, cte_base64) < 0)
			return -1;
		pos = blank;
	}
	return buf_append(out, h + pos, len - pos);
}

/* b[0..n) as base64 lines joined by CRLF; a final CRLF when asked (the
 * part ends the message: elsewhere the delimiter's CRLF follows). */
static int encode_body(const char *b, size_t n, bool final_crlf, struct buf *out)
{
	char line[LINE_BYTES / 3 * 4 + 1];
	for (size_t i = 0; i < n; i += LINE_BYTES) {
		size_t take = n - i < LINE_BYTES ? n - i : LINE_BYTES;
		base64_encode(b + i, take, line);
		if ((i > 0 && buf_append(out, "\r\n", 2) < 0) ||
		    buf_append(out, line, base64_encoded_len(take)) < 0)
			return -1;
	}
	if (final_crlf && n > 0 && buf_append(out, "\r\n", 2) < 0)
		return -1;
	return 0;
}

int imap_binary_convert(const char *data, size_t len, struct buf *out)
{
	/* The usual message (CRLF text without NUL) needs no parse. */
	if (len == 0 || (memchr(data, '\0', len) == NULL && !has_bare_line_end(data, len)))
		return 0;
	struct mime_tree *tree = mime_parse(data, len, NULL);
	int ret = 0;
	size_t pos = 0; /* data[0..pos) is in out */
	/* Parts come in document order and leaves do not overlap. */
	for (unsigned i = 0; i < tree->nparts && ret >= 0; i++) {
		const struct mime_part *p = &tree->parts[i];
		if (!needs_base64(p, data) || p->hdr_start < pos)
			continue;
		if (buf_append(out, data + pos, p->hdr_start - pos) < 0 ||
		    rewrite_header(data + p->hdr_start, p->hdr_end - p->hdr_start, out) < 0 ||
		    encode_body(data + p->body_start, p->body_end - p->body_start,
				p->body_end == len, out) < 0) {
			ret = -1;
			break;
		}
		pos = p->body_end;
		ret = 1;
	}
	if (ret == 1 && buf_append(out, data + pos, len - pos) < 0)
		ret = -1;
	mime_tree_free(&tree);
	return ret;
}
