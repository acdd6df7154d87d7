/* imap_utf7.h - modified UTF-7 mailbox names (RFC 3501 5.1.3) and the
 * mailbox-name validator that keeps names inside the account's storage.
 *
 * Pure. Decoding is strict: only the canonical encoding is accepted, so a
 * name has exactly one modified UTF-7 form and encode(decode(x)) == x. */
#ifndef POSTANE_IMAP_UTF7_H
#define POSTANE_IMAP_UTF7_H

#include <stdbool.h>
#include <stddef.h>

struct buf;

/* Append the UTF-8 form of the modified UTF-7 name s[0..len) to out.
 * Refused (-1, *error_r static): bytes outside printable US-ASCII, '&' not
 * followed by a shift sequence or "-", an unterminated shift, base64
 * characters outside the modified alphabet, a shift that encodes printable
 * US-ASCII or is empty ("&-" is the '&' itself) or directly follows another
 * shift, non-zero or too many padding bits, unpaired surrogates, U+0000.
 * Returns 0, or -1 (out may hold a partial result; -1 also when out is
 * full). */
int imap_utf7_to_utf8(const char *s, size_t len, struct buf *out, const char **error_r);

/* Append the modified UTF-7 form of the UTF-8 name s[0..len) to out.
 * Returns 0, or -1 if s is not valid UTF-8, holds U+0000, or out is full. */
int imap_utf8_to_utf7(const char *s, size_t len, struct buf *out, const char **error_r);

/* True if s is already valid modified UTF-7 (decodes strictly). */
bool imap_utf7_is_valid(const char *s, size_t len);

struct imap_mailbox_limits {
	size_t max_len;		  /* bytes of the whole UTF-8 name; 0: 1024 */
	size_t max_component_len; /* bytes of one level; 0: 255 */
	unsigned max_levels;	  /* components; 0: 32 */
};

/* Check a mailbox name in UTF-8 (decode modified UTF-7 first) with '/' as
 * the hierarchy separator, so that it can name storage safely: valid UTF-8;
 * no control characters (U+0000-U+001F, U+007F, which covers NUL, CR, LF)
 * and no U+0080-U+009F; not empty; no empty level (leading, trailing or
 * doubled '/'), no level "." or ".."; within the limits (NULL: defaults).
 * A trailing '/' given to CREATE ("create foo/") is the caller's to strip.
 * Returns 0 or -1 with *error_r set to a static reason. */
int imap_mailbox_name_check(const char *name, size_t len, const struct imap_mailbox_limits *limits,
			    const char **error_r);

#endif
