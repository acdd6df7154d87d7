/* imap_utf7.c - modified UTF-7 <-> UTF-8 for mailbox names, strict in both
 * directions, and the validator that decides whether a name may name
 * storage at all (no control characters, no "." / ".." / empty levels). */
#include "imap/imap_utf7.h"

#include <stdint.h>
#include <string.h>

#include "core/buf.h"
#include "core/utf8.h"

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == ',')
		return 63;
	return -1;
}

static int put_utf8(struct buf *out, uint32_t cp)
{
	unsigned char b[4];
	size_t n;
	if (cp < 0x80) {
		b[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (unsigned char)(0xc0 | (cp >> 6));
		b[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (unsigned char)(0xe0 | (cp >> 12));
		b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (unsigned char)(0xf0 | (cp >> 18));
		b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return buf_append(out, b, n);
}

static int fail(const char **error_r, const char *msg)
{
	*error_r = msg;
	return -1;
}

/* Decode the shift sequence starting at s[*pos] (just after '&', not "&-")
 * up to and including its '-'. */
static int decode_shift(const char *s, size_t len, size_t *pos, struct buf *out,
			const char **error_r)
{
	size_t i = *pos;
	uint32_t bits = 0;
	unsigned nbits = 0;
	uint32_t high = 0; /* pending high surrogate */
	unsigned chars = 0;
	for (;;) {
		if (i >= len)
			return fail(error_r, "Unterminated modified UTF-7 shift");
		unsigned char c = (unsigned char)s[i++];
		if (c == '-')
			break;
		int v = b64val(c);
		if (v < 0)
			return fail(error_r, "Invalid character in modified UTF-7 shift");
		bits = ((bits << 6) | (uint32_t)v) & 0xffffff;
		nbits += 6;
		if (nbits < 16)
			continue;
		nbits -= 16;
		uint32_t unit = (bits >> nbits) & 0xffff;
		bits &= (1u << nbits) - 1;
		uint32_t cp;
		if (high != 0) {
			if (unit < 0xdc00 || unit > 0xdfff)
				return fail(error_r, "Unpaired UTF-16 surrogate");
			cp = 0x10000 + ((high - 0xd800) << 10) + (unit - 0xdc00);
			high = 0;
		} else if (unit >= 0xd800 && unit <= 0xdbff) {
			high = unit;
			continue;
		} else if (unit >= 0xdc00 && unit <= 0xdfff) {
			return fail(error_r, "Unpaired UTF-16 surrogate");
		} else {
			cp = unit;
		}
		if (cp >= 0x20 && cp <= 0x7e)
			return fail(error_r, "Printable US-ASCII in a modified UTF-7 shift");
		if (cp == 0)
			return fail(error_r, "NUL in mailbox name");
		if (put_utf8(out, cp) < 0)
			return fail(error_r, "Mailbox name too long");
		chars++;
	}
	if (high != 0)
		return fail(error_r, "Unpaired UTF-16 surrogate");
	if (nbits >= 6 || bits != 0)
		return fail(error_r, "Non-canonical modified UTF-7 padding");
	if (chars == 0)
		return fail(error_r, "Empty modified UTF-7 shift");
	*pos = i;
	return 0;
}

int imap_utf7_to_utf8(const char *s, size_t len, struct buf *out, const char **error_r)
{
	size_t i = 0;
	bool after_shift = false;
	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c > 0x7e)
			return fail(error_r, "Invalid character in modified UTF-7 name");
		if (c != '&') {
			if (buf_append(out, &c, 1) < 0)
				return fail(error_r, "Mailbox name too long");
			i++;
			after_shift = false;
			continue;
		}
		i++;
		if (i < len && s[i] == '-') {
			if (buf_append(out, "&", 1) < 0)
				return fail(error_r, "Mailbox name too long");
			i++;
			after_shift = false;
			continue;
		}
		if (after_shift)
			return fail(error_r, "Adjacent modified UTF-7 shifts");
		if (decode_shift(s, len, &i, out, error_r) < 0)
			return -1;
		after_shift = true;
	}
	return 0;
}

/* Flush pending bits of a shift (zero padded) and close it. */
static int end_shift(struct buf *out, uint32_t *bits, unsigned *nbits)
{
	if (*nbits > 0) {
		char c = b64chars[(*bits << (6 - *nbits)) & 0x3f];
		if (buf_append(out, &c, 1) < 0)
			return -1;
	}
	*bits = 0;
	*nbits = 0;
	return buf_append(out, "-", 1);
}

static int put_unit(struct buf *out, uint32_t unit, uint32_t *bits, unsigned *nbits)
{
	*bits = (*bits << 16) | unit;
	*nbits += 16;
	while (*nbits >= 6) {
		*nbits -= 6;
		char c = b64chars[(*bits >> *nbits) & 0x3f];
		if (buf_append(out, &c, 1) < 0)
			return -1;
	}
	*bits &= (1u << *nbits) - 1;
	return 0;
}

int imap_utf8_to_utf7(const char *s, size_t len, struct buf *out, const char **error_r)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;
	bool shifted = false;
	uint32_t bits = 0;
	unsigned nbits = 0;
	while (i < len) {
		uint32_t cp;
		size_t n = utf8_seq_len(u + i, len - i);
		if (n == 0)
			return fail(error_r, "Invalid UTF-8 in mailbox name");
		if (n == 1) {
			cp = u[i];
		} else if (n == 2) {
			cp = ((uint32_t)(u[i] & 0x1f) << 6) | (u[i + 1] & 0x3f);
		} else if (n == 3) {
			cp = ((uint32_t)(u[i] & 0x0f) << 12) | ((uint32_t)(u[i + 1] & 0x3f) << 6) |
			     (u[i + 2] & 0x3f);
		} else {
			cp = ((uint32_t)(u[i] & 0x07) << 18) | ((uint32_t)(u[i + 1] & 0x3f) << 12) |
			     ((uint32_t)(u[i + 2] & 0x3f) << 6) | (u[i + 3] & 0x3f);
		}
		i += n;
		if (cp == 0)
			return fail(error_r, "NUL in mailbox name");
		if (cp >= 0x20 && cp <= 0x7e) {
			if (shifted && end_shift(out, &bits, &nbits) < 0)
				return fail(error_r, "Mailbox name too long");
			shifted = false;
			int r =
			    cp == '&' ? buf_append(out, "&-", 2) : buf_append(out, &u[i - 1], 1);
			if (r < 0)
				return fail(error_r, "Mailbox name too long");
			continue;
		}
		if (!shifted) {
			if (buf_append(out, "&", 1) < 0)
				return fail(error_r, "Mailbox name too long");
			shifted = true;
		}
		int r;
		if (cp >= 0x10000) {
			uint32_t v = cp - 0x10000;
			r = put_unit(out, 0xd800 | (v >> 10), &bits, &nbits);
			if (r == 0)
				r = put_unit(out, 0xdc00 | (v & 0x3ff), &bits, &nbits);
		} else {
			r = put_unit(out, cp, &bits, &nbits);
		}
		if (r < 0)
			return fail(error_r, "Mailbox name too long");
	}
	if (shifted && end_shift(out, &bits, &nbits) < 0)
		return fail(error_r, "Mailbox name too long");
	return 0;
}

bool imap_utf7_is_valid(const char *s, size_t len)
{
	struct buf tmp;
	const char *why;
	buf_init(&tmp, len * 2 + 16);
	int r = imap_utf7_to_utf8(s, len, &tmp, &why);
	buf_free(&tmp);
	return r == 0;
}

int imap_mailbox_name_check(const char *name, size_t len, const struct imap_mailbox_limits *limits,
			    const char **error_r)
{
	size_t max_len = limits != NULL && limits->max_len != 0 ? limits->max_len : 1024;
	size_t max_comp =
	    limits != NULL && limits->max_component_len != 0 ? limits->max_component_len : 255;
	unsigned max_levels = limits != NULL && limits->max_levels != 0 ? limits->max_levels : 32;

	if (len == 0)
		return fail(error_r, "Empty mailbox name");
	if (len > max_len)
		return fail(error_r, "Mailbox name too long");
	const unsigned char *u = (const unsigned char *)name;
	size_t i = 0, comp_start = 0;
	unsigned levels = 0;
	for (;;) {
		if (i == len || u[i] == '/') {
			size_t cl = i - comp_start;
			if (cl == 0)
				return fail(error_r, "Empty level in mailbox name");
			if ((cl == 1 && u[comp_start] == '.') ||
			    (cl == 2 && u[comp_start] == '.' && u[comp_start + 1] == '.'))
				return fail(error_r, "Mailbox name level \".\" or \"..\"");
			if (cl > max_comp)
				return fail(error_r, "Mailbox name level too long");
			if (++levels > max_levels)
				return fail(error_r, "Mailbox name too deep");
			if (i == len)
				break;
			i++;
			comp_start = i;
			continue;
		}
		if (u[i] < 0x20 || u[i] == 0x7f)
			return fail(error_r, "Control character in mailbox name");
		if (u[i] < 0x80) {
			i++;
			continue;
		}
		size_t n = utf8_seq_len(u + i, len - i);
		if (n == 0)
			return fail(error_r, "Invalid UTF-8 in mailbox name");
		if (n == 2 && u[i] == 0xc2 && u[i + 1] < 0xa0)
			return fail(error_r, "Control character in mailbox name");
		i += n;
	}
	return 0;
}
