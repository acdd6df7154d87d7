/* mime_rfc2047.h - decoding of RFC 2047 encoded words ("=?charset?B?...?=")
 * and of RFC 2231 extended parameter values ("charset'lang'%E2%82%AC") into
 * UTF-8, with charset conversion through iconv(3).
 *
 * Pure computation (iconv descriptors are opened and closed per call, no
 * state survives). Malformed encoded words, and words in a charset iconv
 * does not know, are left exactly as they were. Invalid bytes in a known
 * charset become U+FFFD. RFC 2231 continuation merging lives with the
 * parameter parser (mime_param.h). */
#ifndef POSTANE_MIME_RFC2047_H
#define POSTANE_MIME_RFC2047_H

#include <stddef.h>

struct buf;

/* Convert `len` bytes in the named charset (case-insensitive, an RFC 2231
 * "*language" suffix ignored) to UTF-8, appended to out. Returns 0, -1 if out
 * would exceed its maximum, or -2 for an unknown charset (nothing appended). */
int mime_charset_to_utf8(const char *charset, size_t charset_len, const void *in, size_t len,
			 struct buf *out);

/* Decode the encoded words in an unfolded header value, appending UTF-8 to
 * out. Text outside encoded words is copied unchanged; white space between
 * two adjacent encoded words is dropped, and adjacent words in the same
 * charset are converted together (so a character split across two words
 * survives). Returns 0, or -1 if out would exceed its maximum. */
int mime_rfc2047_decode(const char *in, size_t len, struct buf *out);

/* Decode an RFC 2231 extended value "charset'language'percent-encoded" (as
 * merged by mime_param_parse() under a name ending in '*') into UTF-8.
 * Returns 0, -1 if out is full, -2 if the charset is unknown. */
int mime_rfc2231_decode(const char *value, size_t len, struct buf *out);

#endif
