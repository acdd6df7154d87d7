/* imap_binary_convert.h - what APPEND stores for binary content (RFC 3516
 * 4.3 lets a client APPEND a literal8 with NUL bytes; the server may change
 * the content-transfer-encoding it stores it in).
 *
 * The store keeps CRLF lines (every bare CR or LF becomes CRLF) and FETCH
 * BODY[...] sends plain literals, which may not hold NUL (RFC 9051 4.3).
 * So a MIME leaf part whose content would not survive that - declared
 * "binary" with a NUL byte or a bare CR or LF in it, or declared 7bit/8bit
 * (or nothing) with a NUL byte in it - is rewritten as base64: its
 * Content-Transfer-Encoding field(s) replaced by "base64", its body
 * encoded in lines of 76 characters. BINARY[...] then decodes the original
 * bytes back, and BODY, BODYSTRUCTURE, RFC822.SIZE all describe the stored
 * (converted) message, so they stay consistent with each other.
 *
 * Everything else is left alone: multipart and message/rfc822 containers
 * (their leaves are looked at), parts without MIME in effect (no
 * MIME-Version, Content-Type or enclosing multipart), and parts already in
 * base64, quoted-printable or an unknown encoding.
 *
 * Pure: bytes in, bytes out; no I/O, no globals. */
#ifndef POSTANE_IMAP_BINARY_CONVERT_H
#define POSTANE_IMAP_BINARY_CONVERT_H

#include <stddef.h>

#include "core/buf.h"

/* Convert the message data[0..len) as described above. Returns 1 when some
 * part was converted (the whole new message is appended to out), 0 when
 * nothing needed converting (out is untouched: store data as it is), or -1
 * when out reached its maximum (out is then partial). The result is never
 * longer than 2 * len + 64 bytes per converted part. */
int imap_binary_convert(const char *data, size_t len, struct buf *out);

#endif
