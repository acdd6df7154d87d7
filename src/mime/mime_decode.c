/* mime_decode.c - base64 and quoted-printable decoding for IMAP BINARY and
 * RFC 2047 encoded words. Output goes through a small staging array so that
 * the per-byte cost stays a table lookup. */
#include "mime/mime_decode.h"

#include <stdbool.h>
#include <string.h>

#include "core/buf.h"

struct sink {
	struct buf *out;
	size_t total;
	size_t n;
	unsigned char tmp[1024];
};

static int sink_flush(struct sink *s)
{
	if (s->n > 0 && s->out != NULL && buf_append(s->out, s->tmp, s->n) < 0)
		return -1;
	s->total += s->n;
	s->n = 0;
	return 0;
}

static inline int sink_put(struct sink *s, unsigned char c)
{
	if (s->n == sizeof(s->tmp) && sink_flush(s) < 0)
		return -1;
	s->tmp[s->n++] = c;
	return 0;
}

static int sink_end(struct sink *s, int ret, size_t *size_r)
{
	if (ret == 0 && sink_flush(s) < 0)
		ret = -1;
	if (ret == 0 && size_r != NULL)
		*size_r += s->total;
	return ret;
}

int mime_hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int mime_base64_decode(const void *in, size_t len, unsigned flags, struct buf *out, size_t *size_r)
{
	const unsigned char *p = in;
	struct sink s = {.out = out};
	unsigned acc = 0, nbits = 0;
	bool strict = (flags & MIME_DECODE_STRICT) != 0;
	int ret = 0;
	for (size_t i = 0; i < len && ret == 0; i++) {
		int v = b64_value(p[i]);
		if (v < 0) {
			if (p[i] == '=') {
				/* Padding ends a quantum; a later quantum may
				 * follow (concatenated blocks). */
				acc = nbits = 0;
				continue;
			}
			if (strict)
				ret = -2;
			continue;
		}
		acc = (acc << 6) | (unsigned)v;
		nbits += 6;
		if (nbits >= 8) {
			nbits -= 8;
			ret = sink_put(&s, (unsigned char)(acc >> nbits));
			acc &= (1u << nbits) - 1;
		}
	}
	return sink_end(&s, ret, size_r);
}

int mime_qp_decode(const void *in, size_t len, unsigned flags, struct buf *out, size_t *size_r)
{
	const unsigned char *p = in;
	struct sink s = {.out = out};
	bool strict = (flags & MIME_DECODE_STRICT) != 0, q = (flags & MIME_DECODE_Q) != 0;
	int ret = 0;
	size_t i = 0;
	while (i < len && ret == 0) {
		unsigned char c = p[i];
		if (c == '=') {
			int h, l;
			if (i + 2 < len && (h = mime_hex_value(p[i + 1])) >= 0 &&
			    (l = mime_hex_value(p[i + 2])) >= 0) {
				ret = sink_put(&s, (unsigned char)(h * 16 + l));
				i += 3;
				continue;
			}
			if (!q) {
				/* Soft line break: '=' then blanks then the
				 * end of the line (or of the data). */
				size_t j = i + 1;
				while (j < len && (p[j] == ' ' || p[j] == '\t'))
					j++;
				if (j == len) {
					i = j;
					continue;
				}
				if (p[j] == '\n' ||
				    (p[j] == '\r' && j + 1 < len && p[j + 1] == '\n')) {
					i = j + (p[j] == '\r' ? 2 : 1);
					continue;
				}
			}
			if (strict) {
				ret = -2;
				break;
			}
			ret = sink_put(&s, c);
			i++;
			continue;
		}
		if (q) {
			ret = sink_put(&s, c == '_' ? ' ' : c);
			i++;
			continue;
		}
		if (c == ' ' || c == '\t') {
			/* Blanks at the end of a line are transport padding. */
			size_t j = i;
			while (j < len && (p[j] == ' ' || p[j] == '\t'))
				j++;
			if (j == len || p[j] == '\n' ||
			    (p[j] == '\r' && j + 1 < len && p[j + 1] == '\n')) {
				i = j;
				continue;
			}
			for (; i < j && ret == 0; i++)
				ret = sink_put(&s, p[i]);
			continue;
		}
		ret = sink_put(&s, c);
		i++;
	}
	return sink_end(&s, ret, size_r);
}
