/* utf8.h - UTF-8 validation (RFC 3629: no overlongs, no surrogates, at most
 * U+10FFFF). Pure. */
#ifndef POSTANE_UTF8_H
#define POSTANE_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length of the valid UTF-8 sequence starting at s (1..4), or 0 if the bytes
 * at s do not start a valid sequence within len. */
size_t utf8_seq_len(const unsigned char *s, size_t len);
/* True if all `len` bytes are valid UTF-8. */
bool utf8_valid(const void *s, size_t len);

#endif
