/* imap_quote.c - choosing between atom, quoted string and literal for every
 * string the IMAP server sends. */
#include "imap/imap_quote.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/utf8.h"

/* Can the bytes go in a quoted string? */
static bool quotable(const unsigned char *p, size_t len, unsigned flags)
{
	if (len > IMAP_QUOTE_MAX)
		return false;
	bool eight = false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = p[i];
		if (c == '\r' || c == '\n' || c == '\0')
			return false;
		if (c >= 0x80)
			eight = true;
	}
	if (!eight)
		return true;
	return (flags & IMAP_QUOTE_UTF8) != 0 && utf8_valid(p, len);
}

static int append_quoted(struct buf *out, const unsigned char *p, size_t len)
{
	if (buf_append(out, "\"", 1) < 0)
		return -1;
	size_t run = 0;
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '"' || p[i] == '\\') {
			if (buf_append(out, p + run, i - run) < 0 || buf_append(out, "\\", 1) < 0)
				return -1;
			run = i;
		}
	}
	if (buf_append(out, p + run, len - run) < 0)
		return -1;
	return buf_append(out, "\"", 1);
}

static int append_literal(struct buf *out, const unsigned char *p, size_t len)
{
	size_t nuls = 0;
	for (const unsigned char *q = p; (q = memchr(q, '\0', len - (size_t)(q - p))) != NULL; q++)
		nuls++;
	if (buf_printf(out, "{%zu}\r\n", len - nuls) < 0)
		return -1;
	if (nuls == 0)
		return buf_append(out, p, len);
	size_t run = 0;
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '\0') {
			if (buf_append(out, p + run, i - run) < 0)
				return -1;
			run = i + 1;
		}
	}
	return buf_append(out, p + run, len - run);
}

int imap_append_string(struct buf *out, const void *s, size_t len, unsigned flags)
{
	const unsigned char *p = s != NULL ? s : (const unsigned char *)"";
	if (s == NULL)
		len = 0;
	if (quotable(p, len, flags))
		return append_quoted(out, p, len);
	return append_literal(out, p, len);
}

int imap_append_nstring(struct buf *out, const void *s, size_t len, unsigned flags)
{
	if (s == NULL)
		return buf_append(out, "NIL", 3);
	return imap_append_string(out, s, len, flags);
}

int imap_append_nstring_str(struct buf *out, const char *s, unsigned flags)
{
	return imap_append_nstring(out, s, s != NULL ? strlen(s) : 0, flags);
}

static bool astring_char(unsigned char c)
{
	/* ATOM-CHAR or resp-specials (']'): any CHAR except atom-specials. */
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr("(){%*\"\\", c) == NULL;
}

int imap_append_astring(struct buf *out, const void *s, size_t len, unsigned flags)
{
	const unsigned char *p = s;
	bool atom = s != NULL && len > 0 && len <= IMAP_QUOTE_MAX;
	for (size_t i = 0; atom && i < len; i++)
		atom = astring_char(p[i]);
	/* "NIL" is an atom that some parsers read as nil even where an
	 * astring is expected: quote it. */
	if (atom && len == 3 && (p[0] | 0x20) == 'n' && (p[1] | 0x20) == 'i' &&
	    (p[2] | 0x20) == 'l')
		atom = false;
	if (atom)
		return buf_append(out, p, len);
	return imap_append_string(out, s, len, flags);
}
