/* smtp_client.h - outbound SMTP client for the delivery queue (RFC 5321,
 * STARTTLS RFC 3207, AUTH RFC 4954, PIPELINING RFC 2920, SIZE RFC 1870,
 * 8BITMIME RFC 6152, SMTPUTF8 RFC 6531, DSN RFC 3461).
 *
 * Event driven on a struct loop; never blocks (apart from reading the
 * message file, which sits in the page cache). One struct smtp_client is one
 * connection to one server address:
 *
 *   smtp_client_connect()  TCP connect (+ TLS for implicit TLS), greeting,
 *                          EHLO (HELO when refused), STARTTLS + EHLO again,
 *                          AUTH; then ready_cb(ok=true), or ready_cb(ok=false)
 *                          with the reason.
 *   smtp_client_send()     one mail transaction; done_cb when it is over.
 *                          The connection may then carry the next message
 *                          (smtp_client_send() again) ...
 *   smtp_client_quit()     ... or is closed politely: QUIT, then freed.
 *   smtp_client_abort()    close at once and free.
 *
 * Ownership: the caller owns the client from smtp_client_connect() until
 * it calls smtp_client_quit() or smtp_client_abort() - exactly once, also
 * after a failure (then it only frees). The client never frees itself.
 * Both may be called from inside a callback. After either, no callback
 * comes any more.
 *
 * Callbacks run on the loop's thread, from the loop, never from inside an
 * smtp_client_* call. Each operation ends with exactly one callback: a
 * connection that breaks (peer closes, reset, timeout, 421, a malformed
 * reply) fails the operation in progress once, with a temporary status,
 * and leaves the client unusable (smtp_client_usable() false). A
 * connection that breaks while idle gives no callback; the next
 * smtp_client_send() then fails with a temporary status.
 *
 * Bounded: reply lines (2000 bytes), lines per reply (100), replies only as
 * many as commands sent, a timeout for every wait. */
#ifndef POSTANE_SMTP_CLIENT_H
#define POSTANE_SMTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "smtp/smtp_reply.h"

struct loop;
struct smtp_client;
struct tls_client;

#define SMTP_CLIENT_TEXT_MAX 512

/* An outcome: what the server said, or what the client concluded itself. */
struct smtp_client_status {
	int code;			  /* 2xx, 4xx or 5xx; 0 = no outcome yet */
	char enhanced[SMTP_ENHANCED_MAX]; /* "5.1.1"; always set for our own outcomes */
	/* One printable line (control bytes and invalid UTF-8 replaced):
	 * the server's reply text without code and enhanced code, or our
	 * own explanation ("connect to mx.example.org[192.0.2.1]:25:
	 * Connection refused"). */
	char text[SMTP_CLIENT_TEXT_MAX];
	/* true: a reply from the server (code and text are its own); false:
	 * the client decided (network failure, timeout, TLS, a local check
	 * such as SIZE), with a code chosen to match (421/451/552/554). */
	bool remote;
	/* What it answered or where it failed: "connect", "greeting",
	 * "EHLO", "HELO", "STARTTLS", "TLS", "AUTH", "RSET", "MAIL FROM",
	 * "RCPT TO", "DATA", "message body", "end of data", "local". */
	const char *stage;
	/* The failure is about TLS (handshake, certificate, STARTTLS not
	 * offered or refused while required): a queue may retry elsewhere or,
	 * where its policy allows, without TLS. */
	bool tls;
};

/* "550 5.1.1 text (in reply to RCPT TO)" for a server reply, or the text
 * alone for the client's own outcome. Returns strlen(out). */
size_t smtp_client_status_str(const struct smtp_client_status *st, char *out, size_t outlen);

struct smtp_client_opts {
	const char *helo_name; /* our host name for EHLO/HELO (required) */
	/* TLS client context; NULL: never STARTTLS (then tls_required,
	 * tls_verify and implicit_tls must be false). Must stay valid while
	 * the client lives. */
	struct tls_client *tls;
	/* No STARTTLS offered, STARTTLS refused, handshake failure: the
	 * connection fails (temporary, status.tls). Without it, STARTTLS is
	 * used when offered and a refusal means going on in plaintext. */
	bool tls_required;
	/* With tls_required: the certificate must verify for `host` (chain
	 * and name), else the handshake fails. Without tls_required the
	 * certificate is still checked, but only reported
	 * (smtp_client_tls_info(): "verified"/"unverified"). */
	bool tls_verify;
	bool implicit_tls; /* TLS from the first byte (port 465) */
	/* AUTH (PLAIN, or LOGIN when only that is offered). Only ever sent
	 * under TLS: no TLS, no AUTH offered or no usable mechanism fails the
	 * connection. Copied; the copy is wiped when the client is freed. */
	const char *auth_user;
	const char *auth_pass;
	unsigned connect_timeout; /* seconds for the TCP connect; 0 = 30 */
	/* Seconds to wait for each reply and for each step of the message
	 * body to be accepted by the socket (RFC 5321 4.5.3.2: 5 minutes;
	 * 0 = 300). The reply to the end of data gets twice as long (the RFC's
	 * 10 minutes), QUIT at most 10 seconds. */
	unsigned timeout;
	/* Local address to connect from, or NULL. */
	const struct sockaddr *source;
	socklen_t source_len;
	/* Prefix for log lines (the queue's delivery id), or NULL. Copied. */
	const char *log_id;
};

struct smtp_client_rcpt {
	const char *address; /* "local@domain" (no angle brackets) */
	const char *notify;  /* DSN NOTIFY value ("SUCCESS,FAILURE", "NEVER") or NULL */
	/* DSN ORCPT as "addr-type;address" (e.g. "rfc822;user@example.org"),
	 * not encoded: the client xtext-encodes the address. NULL: none. */
	const char *orcpt;
	/* Filled in by the client: this recipient's outcome for this attempt,
	 * always set when done_cb runs - 2xx delivered, 4xx try again later,
	 * 5xx failed for good. */
	struct smtp_client_status status;
};

struct smtp_client_msg {
	const char *sender; /* "local@domain", or "" for the null sender */
	struct smtp_client_rcpt *rcpts;
	size_t nrcpt;
	const char *ret;   /* DSN RET: "FULL", "HDRS" or NULL */
	const char *envid; /* DSN ENVID, not encoded (the client xtext-encodes it), or NULL */
	bool body_8bit;	   /* needs BODY=8BITMIME */
	bool smtputf8;	   /* needs SMTPUTF8 (also assumed for non-ASCII addresses) */
	/* Sent before the file, e.g. DKIM-Signature: headers; CRLF line ends. */
	const char *prefix;
	size_t prefix_len;
	/* The message: `size` bytes at offset 0 of `fd` (read with pread, the
	 * file position is not used), CRLF line ends, not dot-stuffed. The
	 * client dot-stuffs and streams it. A short file fails the
	 * transaction; a truncated message is never terminated with ".". */
	int fd;
	uint64_t size;
	/* Filled in by the client: the outcome of the message as a whole -
	 * the reply to the end of data, or why the transaction ended early. */
	struct smtp_client_status status;
};

enum smtp_client_result {
	/* The transaction ran to its end: every recipient has its own answer
	 * (refused at RCPT, or the reply to the message content). */
	SMTP_CLIENT_OK,
	/* The transaction ended early for a temporary reason (connection
	 * lost, timeout, 421, MAIL or DATA refused with 4xx, unreadable
	 * file); m->status says why. Recipients without an answer of their
	 * own got m->status. */
	SMTP_CLIENT_TEMPFAIL,
	/* The message as a whole was refused for good (MAIL or DATA refused
	 * with 5xx, larger than the server's SIZE, 8-bit or SMTPUTF8 content
	 * the server cannot take); recipients without an answer of their own
	 * got m->status. */
	SMTP_CLIENT_PERMFAIL,
};

/* ok: ready for smtp_client_send(); st is the EHLO (or HELO) reply. Not
 * ok: st says why; the client is unusable - call smtp_client_abort(). */
typedef void smtp_client_ready_cb(void *ctx, struct smtp_client *c, bool ok,
				  const struct smtp_client_status *st);
/* The transaction for `m` is over; m->status and every rcpt's status are
 * set. smtp_client_usable() tells whether the next message may follow. */
typedef void smtp_client_done_cb(void *ctx, struct smtp_client *c, struct smtp_client_msg *m,
				 enum smtp_client_result result);

/* Connect to `addr` (IPv4 or IPv6, with port). `host` is the server's name
 * (SNI, certificate name check, log lines); opts and its strings are
 * copied. Returns NULL only when no socket or timer can be created (errno
 * set); every other failure comes through cb. */
struct smtp_client *smtp_client_connect(struct loop *loop, const struct sockaddr *addr,
					socklen_t addrlen, const char *host,
					const struct smtp_client_opts *opts,
					smtp_client_ready_cb *cb, void *ctx);

/* Run one mail transaction for `m`, which (with its strings, prefix and
 * file) must stay valid and untouched until cb. Call it after a successful
 * ready_cb or after a done_cb; when the connection is no longer usable, cb
 * reports a temporary failure. Calling it while a transaction is in
 * progress, before ready_cb or after quit/abort is a bug (the process
 * aborts). Uses PIPELINING when offered; SIZE=, BODY=8BITMIME, SMTPUTF8 and
 * the DSN parameters when offered and needed; RSET first when the previous
 * transaction was left open. Recipients whose address cannot be sent
 * (control characters, non-ASCII without SMTPUTF8) are refused locally
 * with 553 and the others go ahead. */
void smtp_client_send(struct smtp_client *c, struct smtp_client_msg *m, smtp_client_done_cb *cb,
		      void *ctx);

/* True while the connection is up and no transaction is in progress. */
bool smtp_client_usable(const struct smtp_client *c);
/* The server's EHLO keywords (all false after HELO). */
const struct smtp_ehlo *smtp_client_ehlo(const struct smtp_client *c);
/* "TLSv1.3 TLS_AES_256_GCM_SHA384 verified" or "... unverified
 * (self-signed certificate)" once TLS is up; NULL without TLS. Valid while
 * the client lives. */
const char *smtp_client_tls_info(const struct smtp_client *c);
/* "mx.example.org[192.0.2.1]:25" */
const char *smtp_client_peer(const struct smtp_client *c);

/* Send QUIT when the connection is idle and free the client once the
 * server answered or closed (bounded by a short timeout); otherwise the
 * same as smtp_client_abort(). Accepts NULL. The loop must keep running
 * for the QUIT to complete. */
void smtp_client_quit(struct smtp_client *c);
/* Close the connection now and free the client. Accepts NULL. Its memory
 * goes back after the loop's current pass (loop_defer), as events for it
 * may still be queued there. */
void smtp_client_abort(struct smtp_client *c);

/* RFC 3461 4 xtext: printable ASCII except '+' and '=' as is, everything
 * else as "+XX". Writes it to out (NUL-terminated, cut to outlen); returns
 * the length the full encoding needs (like snprintf). Pure. */
size_t smtp_xtext_encode(const char *in, char *out, size_t outlen);

#endif
