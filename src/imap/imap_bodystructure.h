/* imap_bodystructure.h - IMAP BODY and BODYSTRUCTURE (RFC 9051 7.5.2, RFC
 * 3501 7.4.2) of a parsed MIME tree, in the form Dovecot produces:
 *
 *   - type and subtype as written in the message; defaults "text" "plain";
 *     a text part without a charset parameter gets ("charset" "us-ascii");
 *   - parameters as written, RFC 2231 continuations merged ("name*" keeps
 *     the charset'lang'%XX form, which clients decode);
 *   - encoding as written, "7bit" when absent or invalid;
 *   - size = bytes of the encoded body in the message; lines = LF count;
 *   - message/rfc822 (and message/global): envelope, body, lines;
 *   - a multipart without body parts gets one empty text/plain part;
 *   - a multipart or message part left opaque by a parser limit
 *     (MIME_PART_OVERFLOW) is described as "application" "octet-stream";
 *   - BODYSTRUCTURE extension data: md5, disposition, language, location
 *     for single parts; parameters, disposition, language, location for
 *     multiparts (each NIL when absent); Content-Language always a list.
 * Output nests as deeply as the tree, which the parser's max_depth bounds;
 * the writer itself uses an explicit stack, no recursion. */
#ifndef POSTANE_IMAP_BODYSTRUCTURE_H
#define POSTANE_IMAP_BODYSTRUCTURE_H

#include <stdbool.h>

struct buf;
struct mime_tree;
struct mime_part;

/* Append "(...)" describing the whole message: BODYSTRUCTURE when
 * `extended`, BODY otherwise. flags: IMAP_QUOTE_UTF8 or 0. Returns 0, or -1
 * if out would exceed its maximum. */
int imap_bodystructure_write(struct buf *out, const struct mime_tree *tree, bool extended,
			     unsigned flags);
/* The same for one part of the tree (e.g. for a part's own structure). */
int imap_bodystructure_write_part(struct buf *out, const struct mime_tree *tree,
				  const struct mime_part *part, bool extended, unsigned flags);

#endif
