/* dsn.h - builds delivery status notifications: RFC 3464 message/delivery-status
 * inside an RFC 6522 multipart/report, with RFC 3463 status codes.
 *
 * Pure: no I/O, no clock, no randomness; the caller passes the time and a
 * random seed. Every text that came from elsewhere (remote replies, host
 * names, addresses, the ENVID and ORCPT a client sent) is sanitised before
 * it reaches a header line: no CR/LF injection, no control bytes, non-ASCII
 * made ASCII where the field must be ASCII, long values folded and capped.
 *
 * The envelope sender of a DSN is the null sender <>: that is the caller's
 * job, as is never sending a DSN about a message whose sender was <>. */
#ifndef POSTANE_DSN_H
#define POSTANE_DSN_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "core/buf.h"

struct dsn_rcpt {
	const char *address;	 /* final recipient (our envelope rcpt), required */
	const char *orcpt;	 /* ORCPT decoded, "rfc822;bob@example.org", or NULL */
	const char *action;	 /* "failed", "delayed", "delivered", "relayed", "expanded" */
	const char *status;	 /* "5.1.1", "4.4.1" ...; NULL or malformed: X.0.0 by action */
	const char *remote_mta;	 /* host name of the MX that answered, or NULL */
	const char *diagnostic;	 /* remote reply ("550 5.1.1 <bob@...>: no such user"), or
				  * our own explanation ("connect to ...: refused"), or NULL */
	time_t last_attempt;	 /* 0 = unknown */
	time_t will_retry_until; /* action "delayed" only; 0 = unknown */
};

struct dsn_info {
	const char *reporting_mta; /* our host name, required */
	const char *to;		   /* the original envelope sender, required, not "" */
	const char *envid;	   /* ENVID decoded, or NULL */
	const char *queue_id;	   /* our queue id, or NULL */
	time_t arrival;		   /* when we accepted the message; 0 = unknown */
	time_t now;		   /* Date: of the DSN */
	bool delay;		   /* a delay warning, not a failure */
	bool headers_only;	   /* RET=HDRS or too big: attach text/rfc822-headers */
	const char *boundary_seed; /* random text: makes boundary and Message-ID unique */
	const struct dsn_rcpt *rcpts;
	size_t nrcpt; /* at least 1 */
};

/* Append the whole DSN message (RFC 5322 header section and MIME body, CRLF
 * line ends) to `out`:
 *   From: "Mail Delivery System" <MAILER-DAEMON@reporting_mta>
 *   To: <to>, Subject (failure, delay warning, or success report), Date,
 *   Message-ID, MIME-Version, Auto-Submitted: auto-replied (RFC 3834),
 *   Content-Type: multipart/report; report-type=delivery-status; boundary=...
 *   1. text/plain: which recipients, why, what happens next;
 *   2. message/delivery-status: per-message fields, then one block per
 *      recipient;
 *   3. the original as message/rfc822 (headers_only: its header section as
 *      text/rfc822-headers); left out when orig_len is 0.
 * Line ends in the original are made CRLF. A part holding 8-bit bytes (a
 * UTF-8 address, an 8-bit original) is labelled 8bit, and so is the whole
 * message: send it with BODY=8BITMIME (SMTPUTF8 if `to` is UTF-8).
 * Returns 0, or -1 when info is incomplete (a required field NULL or empty,
 * no recipients, an unknown action) or `out` would exceed its maximum; on
 * -1 `out` is left as it was. */
int dsn_build(const struct dsn_info *info, const char *orig, size_t orig_len, struct buf *out);

/* The DSN status for an SMTP reply: `enhanced` is the reply text after the
 * code ("5.1.1 <bob@...>: no such user") or just the enhanced code, or NULL;
 * a leading RFC 3463 code there is used, its class taken from the reply code
 * when they disagree. Otherwise "2.0.0", "4.0.0" or "5.0.0" by reply class,
 * and "5.0.0" for a code that is no reply at all. out gets a NUL-terminated
 * "C.SSS.DDD" at most. */
void dsn_status_from_reply(int code, const char *enhanced, char out[16]);

#endif
