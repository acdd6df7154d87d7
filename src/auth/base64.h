/* base64.h - strict RFC 4648 base64 for SASL exchanges. Pure. */
#ifndef POSTANE_BASE64_H
#define POSTANE_BASE64_H

#include <stddef.h>

/* Bytes needed to encode `len` bytes (without NUL). */
size_t base64_encoded_len(size_t len);
/* Encode into out (base64_encoded_len(len) + 1 bytes); NUL-terminates. */
void base64_encode(const void *data, size_t len, char *out);
/* Decode `len` characters (padding required, no whitespace, no junk) into
 * out (at least len / 4 * 3 bytes). Returns the decoded length or -1. */
long base64_decode(const char *in, size_t len, void *out);

#endif
