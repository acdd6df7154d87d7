/* smtp_submit.h - what the submission service needs to know about a
 * message's header section before it accepts it: the From: and Sender:
 * addresses (each must belong to the authenticated account) and whether
 * Message-ID: and Date: are present (they are added when missing, RFC 6409
 * 8.2 and 8.3).
 *
 * Pure: a byte range in, a struct out. Addresses are extracted leniently
 * (display names, comments, groups, angle brackets) and bounded in number
 * and length; anything that does not look like local@domain is reported as
 * unparsable so that the caller refuses rather than guesses. */
#ifndef POSTANE_SMTP_SUBMIT_H
#define POSTANE_SMTP_SUBMIT_H

#include <stdbool.h>
#include <stddef.h>

#define SUBMIT_MAX_ADDRS 32
#define SUBMIT_ADDR_MAX 320

struct submit_headers {
	bool has_message_id;
	bool has_date;
	unsigned from_fields;      /* number of From: fields (RFC 5322: exactly one) */
	bool unparsable;           /* a From:/Sender: address could not be read */
	char addrs[SUBMIT_MAX_ADDRS][SUBMIT_ADDR_MAX]; /* From: and Sender: mailboxes */
	unsigned naddrs;
};

/* Find the end of the header section in data[0..len): returns the offset of
 * the first byte after the blank line (CRLF CRLF, or the lone CRLF of an
 * empty header section), or 0 when the section is not complete yet. */
size_t submit_header_end(const char *data, size_t len);
/* Scan a complete header section (as returned by submit_header_end). */
void submit_scan_headers(const char *hdr, size_t len, struct submit_headers *out);

#endif
