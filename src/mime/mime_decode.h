/* mime_decode.h - Content-Transfer-Encoding decoders: base64 (RFC 2045 6.8)
 * and quoted-printable (RFC 2045 6.7), plus the "Q" variant of RFC 2047 4.2.
 *
 * Pure. Each decoder appends to a struct buf, or only counts the decoded
 * size when out is NULL (for IMAP BINARY.SIZE). By default they are
 * forgiving, as real mail requires: base64 skips characters outside its
 * alphabet, quoted-printable keeps a '=' that starts no valid escape. With
 * MIME_DECODE_STRICT such input is an error instead (used for RFC 2047
 * encoded words, which are left undecoded when malformed). */
#ifndef POSTANE_MIME_DECODE_H
#define POSTANE_MIME_DECODE_H

#include <stddef.h>

struct buf;

#define MIME_DECODE_STRICT 0x01 /* malformed input: return -2 */
#define MIME_DECODE_Q 0x02	/* RFC 2047 "Q": '_' is a space, no line rules */

/* Return 0 on success with *size_r (may be NULL) increased by the number of
 * decoded bytes; -1 if out would exceed its maximum; -2 on malformed input
 * with MIME_DECODE_STRICT. out may be NULL to count only. */
int mime_base64_decode(const void *in, size_t len, unsigned flags, struct buf *out, size_t *size_r);
int mime_qp_decode(const void *in, size_t len, unsigned flags, struct buf *out, size_t *size_r);

/* Value of a hex digit, or -1. */
int mime_hex_value(unsigned char c);

#endif
