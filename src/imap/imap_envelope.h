/* imap_envelope.h - the IMAP ENVELOPE of a message (RFC 9051 7.5.2, RFC 3501
 * 7.4.2): "(date subject from sender reply-to to cc bcc in-reply-to
 * message-id)".
 *
 * Values are the raw header values (unfolded, leading blanks removed);
 * encoded words are NOT decoded. Each field comes from its first occurrence
 * in the header. Sender and Reply-To default to From when absent or empty.
 * Address lists as parsed by mime_address_parse(); an absent or empty one
 * is NIL. Strings with 8-bit bytes go out as literals, or as quoted strings
 * when flags has IMAP_QUOTE_UTF8 (UTF8=ACCEPT / IMAP4rev2) and they are
 * valid UTF-8. Pure; one pass over the header. */
#ifndef POSTANE_IMAP_ENVELOPE_H
#define POSTANE_IMAP_ENVELOPE_H

#include <stddef.h>

struct buf;

/* Addresses rendered per field at most (the rest are dropped). */
#define IMAP_ENVELOPE_MAX_ADDRESSES 10000

/* Append the parenthesised envelope of the header section that starts at
 * hdr (scanning stops at its end, so a whole message may be passed). Only
 * the header is read: a caller may pass just the first bytes of a message
 * file, provided they hold the whole header (mime_header_size() of them is
 * less than their length, or they are the whole file).
 * flags: IMAP_QUOTE_UTF8 or 0. Returns 0, or -1 if out would exceed its
 * maximum. */
int imap_envelope_write(struct buf *out, const char *hdr, size_t len, unsigned flags);

#endif
