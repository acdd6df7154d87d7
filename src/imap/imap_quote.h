/* imap_quote.h - append IMAP strings to a struct buf (RFC 9051 4.3 / RFC
 * 3501 4.3): an atom where the grammar allows one (astring), a quoted
 * string when the bytes allow it, a literal "{n}\r\n..." otherwise.
 *
 * Quoted strings are used for text without CR, LF or NUL, at most
 * IMAP_QUOTE_MAX bytes long, and 7-bit unless IMAP_QUOTE_UTF8 is given (the
 * client enabled UTF8=ACCEPT or IMAP4rev2), in which case valid UTF-8 may be
 * quoted too. Everything else becomes a literal. NUL bytes cannot be sent in
 * any IMAP string (RFC 9051 4.3, CHAR8 excludes %x00) and are dropped.
 * Functions return 0, or -1 when the buffer's maximum would be exceeded
 * (the buffer then holds a partial string; treat the response as failed). */
#ifndef POSTANE_IMAP_QUOTE_H
#define POSTANE_IMAP_QUOTE_H

#include <stddef.h>

struct buf;

#define IMAP_QUOTE_UTF8 0x01 /* 8-bit UTF-8 may go in quoted strings */

/* Longest string sent quoted; longer ones become literals. */
#define IMAP_QUOTE_MAX 1024

/* string = quoted / literal */
int imap_append_string(struct buf *out, const void *s, size_t len, unsigned flags);
/* nstring = string / NIL; s == NULL means NIL */
int imap_append_nstring(struct buf *out, const void *s, size_t len, unsigned flags);
/* astring = 1*ASTRING-CHAR / string */
int imap_append_astring(struct buf *out, const void *s, size_t len, unsigned flags);
/* Convenience for NUL-terminated strings (NULL gives NIL). */
int imap_append_nstring_str(struct buf *out, const char *s, unsigned flags);

#endif
