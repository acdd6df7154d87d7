/* smtp_client.c - the outbound SMTP client: an explicit state machine on the
 * event loop, one connection per object. Replies are read by the pure
 * parser in smtp_reply.c; every command sent queues the reply it expects,
 * so that pipelined replies are matched to their commands in order. */
#include "smtp/smtp_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "auth/base64.h"
#include "core/buf.h"
#include "core/conn.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/util.h"
#include "tls/tls.h"

#define IN_MAX (256 * 1024)    /* input buffer hard maximum */
#define READ_LIMIT (64 * 1024) /* bytes read per pass (the parser drains them) */
#define OUT_HIGH (256 * 1024)  /* stop producing message content above this */
#define CHUNK (16 * 1024)      /* message bytes read from the file per step */
#define PUMP_ROUNDS 8	       /* produce/flush rounds per pass (fairness) */
#define QUIT_TIMEOUT 10	       /* seconds */
#define ADDR_MAX 512	       /* longest address we send */
#define CRED_MAX 256	       /* longest AUTH user name or password */

enum client_state {
	CS_CONNECTING, /* TCP connect in progress */
	CS_TLS,	       /* TLS handshake (implicit TLS, or after STARTTLS) */
	CS_GREETING,   /* waiting for 220 */
	CS_EHLO,       /* EHLO sent */
	CS_HELO,       /* EHLO refused, HELO sent */
	CS_STARTTLS,   /* STARTTLS sent */
	CS_AUTH,       /* AUTH exchange in progress */
	CS_READY,      /* idle, no transaction */
	CS_TXN,	       /* RSET/MAIL/RCPT/DATA replies outstanding */
	CS_DATA_SEND,  /* streaming the message content */
	CS_DATA_END,   /* content sent, waiting for the final reply */
	CS_QUIT,       /* QUIT sent; freed when answered */
	CS_CLOSED,     /* connection gone */
};

static const char *const state_names[] = {
    "CONNECTING", "TLS", "GREETING",  "EHLO",	  "HELO", "STARTTLS", "AUTH",
    "READY",	  "TXN", "DATA_SEND", "DATA_END", "QUIT", "CLOSED",
};

enum expect_kind { EXP_RSET, EXP_MAIL, EXP_RCPT, EXP_DATA };

struct expect {
	enum expect_kind kind;
	size_t rcpt;
};

/* Per-recipient progress within one transaction. */
enum rcpt_state { R_PENDING, R_SKIPPED, R_SENT, R_ACCEPTED, R_DONE };

enum async_kind { ASYNC_NONE, ASYNC_READY_FAIL, ASYNC_DONE };

struct txn {
	struct smtp_client_msg *m;
	smtp_client_done_cb *cb;
	void *ctx;
	unsigned char *rstate; /* enum rcpt_state per recipient */
	struct expect *q;      /* replies expected, in order */
	size_t qhead, qtail;
	size_t next_rcpt; /* next recipient to send (lock-step mode) */
	size_t naccepted;
	bool rset_sent, mail_sent, data_sent;
	bool mail_ok;
	bool failed; /* MAIL refused: m->status holds the reply */
	enum smtp_client_result fail_result;
	bool dummy_data; /* 354 with nobody accepted: sent "." alone */
	bool utf8;	 /* SMTPUTF8 parameter */
	/* content streaming */
	size_t prefix_off;
	uint64_t file_off;
	bool bol;     /* at the beginning of a line */
	char last[2]; /* the last two content bytes */
	uint64_t streamed;
};

struct smtp_client {
	struct loop *loop;
	char id[64];
	enum client_state state;
	struct conn conn;
	bool open; /* conn holds a socket */
	struct watcher w;
	int tfd; /* timerfd for deadlines and deferred callbacks */
	struct watcher tw;
	uint64_t deadline; /* ms; 0 = none */
	uint64_t armed;	   /* when the timerfd fires; 0 = disarmed */
	unsigned busy;	   /* inside our own watcher callbacks */
	bool released;	   /* quit/abort called: no more callbacks */

	char host[256];
	char peer[320]; /* "host[ip]:port" */
	char *helo_name;
	char *auth_user, *auth_pass;
	struct tls_client *tls;
	bool tls_required, tls_verify, implicit_tls;
	unsigned connect_timeout, timeout;

	struct smtp_reply_parser *parser;
	struct smtp_ehlo ehlo;
	bool esmtp;
	bool tls_done; /* STARTTLS (or implicit TLS) completed */
	char tls_info[200];
	unsigned auth_step;
	bool need_rset; /* the last transaction was left open */

	smtp_client_ready_cb *ready_cb;
	void *ready_ctx;
	struct smtp_client_status status; /* ready outcome; why the connection died */
	enum async_kind async;
	bool txn_active;
	struct txn txn;
};

static void update_watch(struct smtp_client *c);
static void process_input(struct smtp_client *c);
static void txn_advance(struct smtp_client *c);

/* ----- small helpers ----- */

static void set_state(struct smtp_client *c, enum client_state st)
{
	if (c->state == st)
		return;
	log_debug("smtp-client", c->id, "state %s -> %s", state_names[c->state], state_names[st]);
	c->state = st;
}

static unsigned secs_or(unsigned v, unsigned dflt)
{
	return v != 0 ? v : dflt;
}

static void arm_timer(struct smtp_client *c, uint64_t when)
{
	if (c->armed != 0 && c->armed <= when)
		return;
	if (when == 0)
		when = 1;
	struct itimerspec its = {0};
	its.it_value.tv_sec = (time_t)(when / 1000u);
	its.it_value.tv_nsec = (long)(when % 1000u) * 1000000L;
	if (timerfd_settime(c->tfd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
		c->armed = when;
}

static void set_deadline(struct smtp_client *c, unsigned secs)
{
	c->deadline = now_ms() + (uint64_t)secs * 1000u;
	arm_timer(c, c->deadline);
}

static void set_status(struct smtp_client_status *st, int code, const char *enhanced,
		       const char *stage, bool tls, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static void set_status(struct smtp_client_status *st, int code, const char *enhanced,
		       const char *stage, bool tls, const char *fmt, ...)
{
	st->code = code;
	snprintf(st->enhanced, sizeof(st->enhanced), "%s", enhanced);
	st->remote = false;
	st->stage = stage;
	st->tls = tls;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(st->text, sizeof(st->text), fmt, ap);
	va_end(ap);
}

static void status_from_reply(struct smtp_client_status *st, const struct smtp_reply *r,
			      const char *stage)
{
	st->code = (int)r->code;
	memcpy(st->enhanced, r->enhanced, sizeof(st->enhanced));
	smtp_reply_text(r, st->text, sizeof(st->text));
	st->remote = true;
	st->stage = stage;
	st->tls = false;
}

size_t smtp_client_status_str(const struct smtp_client_status *st, char *out, size_t outlen)
{
	int n;
	if (st->remote)
		n = snprintf(out, outlen, "%d%s%s%s%s (in reply to %s)", st->code,
			     st->enhanced[0] != '\0' ? " " : "", st->enhanced,
			     st->text[0] != '\0' ? " " : "", st->text,
			     st->stage != NULL ? st->stage : "?");
	else
		n = snprintf(out, outlen, "%s", st->text);
	if (n < 0)
		n = 0;
	return (size_t)n < outlen ? (size_t)n : outlen > 0 ? outlen - 1 : 0;
}

size_t smtp_xtext_encode(const char *in, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)in; *p != '\0'; p++) {
		char enc[4];
		size_t n;
		if (*p >= '!' && *p <= '~' && *p != '+' && *p != '=') {
			enc[0] = (char)*p;
			n = 1;
		} else {
			enc[0] = '+';
			enc[1] = hex[*p >> 4];
			enc[2] = hex[*p & 15];
			n = 3;
		}
		if (o + n < outlen)
			memcpy(out + o, enc, n);
		else if (outlen > 0 && o < outlen)
			outlen = o + 1; /* cut here: never half an escape */
		o += n;
	}
	if (outlen > 0)
		out[o < outlen ? o : outlen - 1] = '\0';
	return o;
}

/* Queue one command line. `shown` is what the log shows instead of the
 * line (AUTH), or NULL for the line itself. */
static void send_line(struct smtp_client *c, const char *shown, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void send_line(struct smtp_client *c, const char *shown, const char *fmt, ...)
{
	size_t start = c->conn.out.len;
	va_list ap;
	va_start(ap, fmt);
	if (buf_vprintf(&c->conn.out, fmt, ap) < 0 || buf_append(&c->conn.out, "\r\n", 2) < 0)
		c->conn.error = true;
	va_end(ap);
	if (shown != NULL)
		log_debug("smtp-client", c->id, "> %s", shown);
	else if (c->conn.out.len >= start + 2)
		log_debug("smtp-client", c->id, "> %s",
			  log_escaped(0, c->conn.out.data + start, c->conn.out.len - start - 2));
}

/* Queue `prefix` + `secret` + CRLF without a formatting step (no copies on
 * the stack); the log shows `shown`. */
static void send_secret(struct smtp_client *c, const char *shown, const char *prefix,
			const char *secret)
{
	if (buf_append_str(&c->conn.out, prefix) < 0 || buf_append_str(&c->conn.out, secret) < 0 ||
	    buf_append(&c->conn.out, "\r\n", 2) < 0)
		c->conn.error = true;
	log_debug("smtp-client", c->id, "> %s", shown);
}

/* Once the server answered, the credentials have left the output buffer;
 * erase what memmove left behind. */
static void wipe_output(struct smtp_client *c)
{
	if (c->conn.out.data != NULL && c->conn.out.len == 0)
		explicit_bzero(c->conn.out.data, c->conn.out.cap);
}

static bool is_8bit(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return true;
	return false;
}

/* An address we may put between angle brackets: no control bytes (no
 * command injection), bounded. */
static bool address_sendable(const char *s)
{
	size_t n = 0;
	for (; s[n] != '\0'; n++) {
		unsigned char ch = (unsigned char)s[n];
		if (ch < 0x20 || ch == 0x7f || ch == '<' || ch == '>')
			return false;
	}
	return n <= ADDR_MAX;
}

/* Our own name for EHLO/HELO: one printable word. */
static bool helo_valid(const char *s)
{
	size_t n = 0;
	for (; s[n] != '\0'; n++)
		if ((unsigned char)s[n] <= ' ' || (unsigned char)s[n] >= 0x7f)
			return false;
	return n > 0 && n <= 255;
}

static bool notify_valid(const char *s)
{
	if (*s == '\0' || strlen(s) > 64)
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == ','))
			return false;
	return true;
}

/* ----- life cycle ----- */

static void close_conn(struct smtp_client *c)
{
	if (!c->open)
		return;
	loop_unwatch(c->loop, &c->w);
	conn_close(&c->conn);
	c->open = false;
	c->deadline = 0;
	set_state(c, CS_CLOSED);
}

static void client_free_memory(void *arg)
{
	free(arg);
}

/* Release everything now, the memory itself after the loop's current pass:
 * events for our watchers may still be queued in it. */
static void client_free(struct smtp_client *c)
{
	close_conn(c);
	loop_unwatch(c->loop, &c->tw);
	if (c->tfd >= 0)
		close(c->tfd);
	c->tfd = -1;
	smtp_reply_parser_free(&c->parser);
	free(c->txn.rstate);
	free(c->txn.q);
	free(c->helo_name);
	if (c->auth_user != NULL) {
		explicit_bzero(c->auth_user, strlen(c->auth_user));
		free(c->auth_user);
	}
	if (c->auth_pass != NULL) {
		explicit_bzero(c->auth_pass, strlen(c->auth_pass));
		free(c->auth_pass);
	}
	loop_defer(c->loop, client_free_memory, c);
}

/* Leave one of our watcher callbacks: free the client if it was given up
 * meanwhile and nothing is left to do. */
static void unbusy(struct smtp_client *c)
{
	c->busy--;
	if (c->busy == 0 && c->released && !c->open)
		client_free(c);
}

static void txn_clear(struct smtp_client *c)
{
	free(c->txn.rstate);
	free(c->txn.q);
	memset(&c->txn, 0, sizeof(c->txn));
	c->txn_active = false;
}

/* End the transaction: every recipient without an outcome gets
 * m->status, and the caller hears about it. */
static void txn_finish(struct smtp_client *c, enum smtp_client_result result)
{
	struct txn *t = &c->txn;
	struct smtp_client_msg *m = t->m;
	for (size_t i = 0; i < m->nrcpt; i++)
		if (t->rstate[i] != R_DONE && t->rstate[i] != R_SKIPPED)
			m->rcpts[i].status = m->status;
	smtp_client_done_cb *cb = t->cb;
	void *ctx = t->ctx;
	txn_clear(c);
	if (c->open && c->state != CS_CLOSED)
		set_state(c, CS_READY);
	c->deadline = 0;
	char desc[SMTP_CLIENT_TEXT_MAX + 64];
	smtp_client_status_str(&m->status, desc, sizeof(desc));
	log_info("smtp-client", c->id, "to %s: %s: %s", c->peer,
		 result == SMTP_CLIENT_OK	  ? "done"
		 : result == SMTP_CLIENT_TEMPFAIL ? "deferred"
						  : "failed",
		 log_escaped(0, desc, strlen(desc)));
	if (!c->released)
		cb(ctx, c, m, result);
}

static void ready_finish(struct smtp_client *c, bool ok)
{
	c->deadline = 0;
	if (ok) {
		log_info("smtp-client", c->id, "ready: %s%s%s%s", c->peer, c->tls_done ? " (" : "",
			 c->tls_done ? c->tls_info : "", c->tls_done ? ")" : "");
	} else {
		char desc[SMTP_CLIENT_TEXT_MAX + 64];
		smtp_client_status_str(&c->status, desc, sizeof(desc));
		log_info("smtp-client", c->id, "%s: %s", c->peer,
			 log_escaped(0, desc, strlen(desc)));
	}
	if (!c->released && c->ready_cb != NULL) {
		smtp_client_ready_cb *cb = c->ready_cb;
		c->ready_cb = NULL;
		cb(c->ready_ctx, c, ok, &c->status);
	}
}

/* The connection is no use any more: close it and fail whatever was in
 * progress, once. c->status holds the reason. */
static void connection_failed(struct smtp_client *c)
{
	enum client_state st = c->state;
	close_conn(c);
	switch (st) {
	case CS_CONNECTING:
	case CS_TLS:
	case CS_GREETING:
	case CS_EHLO:
	case CS_HELO:
	case CS_STARTTLS:
	case CS_AUTH:
		if (c->ready_cb != NULL) {
			ready_finish(c, false);
			return;
		}
		break;
	case CS_TXN:
	case CS_DATA_SEND:
	case CS_DATA_END:
		if (c->txn_active) {
			c->txn.m->status = c->status;
			txn_finish(c, SMTP_CLIENT_TEMPFAIL);
			return;
		}
		break;
	default:
		break;
	}
	if (st != CS_QUIT) {
		char desc[SMTP_CLIENT_TEXT_MAX + 64];
		smtp_client_status_str(&c->status, desc, sizeof(desc));
		log_info("smtp-client", c->id, "%s: %s", c->peer,
			 log_escaped(0, desc, strlen(desc)));
	}
}

/* What we were doing, for "lost connection ... while ..." messages. */
static const char *stage_of(const struct smtp_client *c)
{
	switch (c->state) {
	case CS_CONNECTING:
		return "connect";
	case CS_TLS:
		return "TLS";
	case CS_GREETING:
		return "greeting";
	case CS_EHLO:
		return "EHLO";
	case CS_HELO:
		return "HELO";
	case CS_STARTTLS:
		return "STARTTLS";
	case CS_AUTH:
		return "AUTH";
	case CS_TXN:
		if (c->txn.qhead < c->txn.qtail) {
			switch (c->txn.q[c->txn.qhead].kind) {
			case EXP_RSET:
				return "RSET";
			case EXP_MAIL:
				return "MAIL FROM";
			case EXP_RCPT:
				return "RCPT TO";
			case EXP_DATA:
				return "DATA";
			}
		}
		return "MAIL FROM";
	case CS_DATA_SEND:
		return "message body";
	case CS_DATA_END:
		return "end of data";
	case CS_QUIT:
		return "QUIT";
	default:
		return "idle";
	}
}

static const char *while_doing(const char *stage)
{
	if (strcmp(stage, "greeting") == 0)
		return "receiving the initial server greeting";
	if (strcmp(stage, "TLS") == 0)
		return "performing the TLS handshake";
	if (strcmp(stage, "message body") == 0)
		return "sending message body";
	if (strcmp(stage, "end of data") == 0)
		return "sending end of data -- message may be sent more than once";
	if (strcmp(stage, "idle") == 0)
		return "idle";
	static _Thread_local char buf[64];
	snprintf(buf, sizeof(buf), "sending %s", stage);
	return buf;
}

static void fail_lost(struct smtp_client *c)
{
	const char *stage = stage_of(c);
	int e = errno;
	bool reset = c->conn.error && (e == ECONNRESET || e == EPIPE);
	set_status(&c->status, 421, "4.4.2", stage, c->state == CS_TLS,
		   "lost connection with %s while %s%s%s", c->peer, while_doing(stage),
		   reset ? ": " : "", reset ? strerror(e) : "");
	connection_failed(c);
}

static void fail_protocol(struct smtp_client *c, const char *why)
{
	const char *stage = stage_of(c);
	set_status(&c->status, 421, "4.5.0", stage, false, "protocol error with %s while %s: %s",
		   c->peer, while_doing(stage), why);
	connection_failed(c);
}

/* ----- connecting ----- */

static void start_tls(struct smtp_client *c);

static void connect_done(struct smtp_client *c)
{
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(c->conn.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err == EINPROGRESS)
		return;
	if (err != 0) {
		set_status(&c->status, 421, "4.4.1", "connect", false, "connect to %s: %s", c->peer,
			   strerror(err));
		connection_failed(c);
		return;
	}
	/* conn_init() ran before the connection existed. */
	socklen_t sl = sizeof(c->conn.peer);
	getpeername(c->conn.fd, (struct sockaddr *)&c->conn.peer, &sl);
	log_debug("smtp-client", c->id, "connected to %s", c->peer);
	if (c->implicit_tls) {
		start_tls(c);
		return;
	}
	set_state(c, CS_GREETING);
	set_deadline(c, c->timeout);
}

/* ----- TLS ----- */

static void send_ehlo(struct smtp_client *c)
{
	send_line(c, NULL, "EHLO %s", c->helo_name);
	set_state(c, CS_EHLO);
	set_deadline(c, c->timeout);
}

static void handshake_step(struct smtp_client *c);

static void start_tls(struct smtp_client *c)
{
	if (c->conn.in.len > 0)
		log_info("smtp-client", c->id,
			 "discarded %zu byte(s) sent by %s after its STARTTLS reply",
			 c->conn.in.len, c->peer);
	if (tls_conn_start_client(&c->conn, c->tls, c->host, c->tls_required && c->tls_verify) <
	    0) {
		set_status(&c->status, 421, "4.7.5", "TLS", true, "cannot start TLS with %s",
			   c->peer);
		connection_failed(c);
		return;
	}
	smtp_reply_parser_reset(c->parser);
	set_state(c, CS_TLS);
	set_deadline(c, c->timeout);
	handshake_step(c);
}

static void handshake_step(struct smtp_client *c)
{
	const char *err;
	int r = tls_conn_handshake(&c->conn, &err);
	if (r == 0)
		return;
	if (r < 0) {
		set_status(&c->status, 421, "4.7.5", "TLS", true, "TLS with %s failed: %s", c->peer,
			   err);
		connection_failed(c);
		return;
	}
	const char *why = NULL;
	bool verified = tls_conn_peer_verified(&c->conn, &why);
	char desc[128];
	tls_conn_describe(&c->conn, desc, sizeof(desc));
	if (verified)
		snprintf(c->tls_info, sizeof(c->tls_info), "%s verified", desc);
	else
		snprintf(c->tls_info, sizeof(c->tls_info), "%s unverified (%s)", desc, why);
	c->tls_done = true;
	log_info("smtp-client", c->id, "TLS with %s: %s", c->peer, c->tls_info);
	if (c->tls_required && c->tls_verify && !verified) {
		set_status(&c->status, 421, "4.7.5", "TLS", true,
			   "certificate of %s does not verify: %s", c->peer, why);
		connection_failed(c);
		return;
	}
	/* RFC 3207 4.2: forget what the server said before TLS. */
	memset(&c->ehlo, 0, sizeof(c->ehlo));
	if (c->implicit_tls) {
		set_state(c, CS_GREETING);
		set_deadline(c, c->timeout);
	} else {
		send_ehlo(c);
	}
	/* Decrypted bytes may already wait inside OpenSSL, where epoll
	 * cannot see them. */
	conn_fill(&c->conn, READ_LIMIT);
	process_input(c);
}

/* ----- session set-up: greeting, EHLO, STARTTLS, AUTH ----- */

static void ready_or_auth(struct smtp_client *c);

static void after_ehlo(struct smtp_client *c)
{
	bool want_tls = c->tls != NULL && !c->tls_done && !c->implicit_tls;
	if (want_tls && c->ehlo.starttls) {
		send_line(c, NULL, "STARTTLS");
		set_state(c, CS_STARTTLS);
		set_deadline(c, c->timeout);
		return;
	}
	if (want_tls && c->tls_required) {
		set_status(&c->status, 421, "4.7.4", c->esmtp ? "EHLO" : "HELO", true,
			   "TLS is required, but was not offered by %s", c->peer);
		connection_failed(c);
		return;
	}
	ready_or_auth(c);
}

static void auth_send_plain(struct smtp_client *c)
{
	size_t ul = strlen(c->auth_user), pl = strlen(c->auth_pass);
	size_t rawlen = ul + pl + 2;
	char raw[2 * CRED_MAX + 2];
	char enc[((2 * CRED_MAX + 2 + 2) / 3) * 4 + 1];
	raw[0] = '\0';
	memcpy(raw + 1, c->auth_user, ul);
	raw[1 + ul] = '\0';
	memcpy(raw + 2 + ul, c->auth_pass, pl);
	base64_encode(raw, rawlen, enc);
	send_secret(c, "AUTH PLAIN ****", "AUTH PLAIN ", enc);
	explicit_bzero(raw, sizeof(raw));
	explicit_bzero(enc, sizeof(enc));
}

static void auth_send_b64(struct smtp_client *c, const char *s)
{
	char enc[(CRED_MAX + 2) / 3 * 4 + 1];
	base64_encode(s, strlen(s), enc);
	send_secret(c, "****", "", enc);
	explicit_bzero(enc, sizeof(enc));
}

static void ready_or_auth(struct smtp_client *c)
{
	if (c->auth_user == NULL) {
		set_state(c, CS_READY);
		ready_finish(c, true);
		return;
	}
	if (!c->tls_done) {
		set_status(&c->status, 421, "4.7.0", "AUTH", false,
			   "refusing to authenticate to %s without TLS", c->peer);
		connection_failed(c);
		return;
	}
	if (!c->ehlo.auth || (c->ehlo.auth_mechs & (SMTP_AUTH_PLAIN | SMTP_AUTH_LOGIN)) == 0) {
		set_status(&c->status, 421, "4.7.0", "AUTH", false,
			   "%s offered no usable authentication mechanism (PLAIN, LOGIN)", c->peer);
		connection_failed(c);
		return;
	}
	set_state(c, CS_AUTH);
	set_deadline(c, c->timeout);
	if (c->ehlo.auth_mechs & SMTP_AUTH_PLAIN) {
		c->auth_step = 0;
		auth_send_plain(c);
	} else {
		c->auth_step = 1;
		send_line(c, NULL, "AUTH LOGIN");
	}
}

static void reply_auth(struct smtp_client *c, const struct smtp_reply *r)
{
	wipe_output(c);
	if (r->code == 235) {
		log_info("smtp-client", c->id, "authenticated to %s", c->peer);
		set_state(c, CS_READY);
		ready_finish(c, true);
		return;
	}
	if (r->code == 334 && c->auth_step == 1) {
		c->auth_step = 2;
		auth_send_b64(c, c->auth_user);
		set_deadline(c, c->timeout);
		return;
	}
	if (r->code == 334 && c->auth_step == 2) {
		c->auth_step = 3;
		auth_send_b64(c, c->auth_pass);
		set_deadline(c, c->timeout);
		return;
	}
	status_from_reply(&c->status, r, "AUTH");
	connection_failed(c);
}

static void reply_setup(struct smtp_client *c, const struct smtp_reply *r)
{
	switch (c->state) {
	case CS_GREETING:
		if (r->code != 220) {
			status_from_reply(&c->status, r, "greeting");
			connection_failed(c);
			return;
		}
		send_ehlo(c);
		return;
	case CS_EHLO:
		if (r->code == 250) {
			c->esmtp = true;
			smtp_ehlo_parse(r, &c->ehlo);
			status_from_reply(&c->status, r, "EHLO");
			after_ehlo(c);
			return;
		}
		if (r->code / 100 == 5 && !c->tls_done) {
			/* RFC 5321 3.2: an old server; try HELO. */
			send_line(c, NULL, "HELO %s", c->helo_name);
			set_state(c, CS_HELO);
			set_deadline(c, c->timeout);
			return;
		}
		status_from_reply(&c->status, r, "EHLO");
		connection_failed(c);
		return;
	case CS_HELO:
		if (r->code != 250) {
			status_from_reply(&c->status, r, "HELO");
			connection_failed(c);
			return;
		}
		c->esmtp = false;
		memset(&c->ehlo, 0, sizeof(c->ehlo));
		status_from_reply(&c->status, r, "HELO");
		after_ehlo(c);
		return;
	case CS_STARTTLS:
		if (r->code == 220) {
			start_tls(c);
			return;
		}
		if (c->tls_required) {
			status_from_reply(&c->status, r, "STARTTLS");
			c->status.tls = true;
			connection_failed(c);
			return;
		}
		log_info("smtp-client", c->id, "%s refused STARTTLS (%u); going on without TLS",
			 c->peer, r->code);
		ready_or_auth(c);
		return;
	case CS_AUTH:
		reply_auth(c, r);
		return;
	default:
		return;
	}
}

/* ----- the mail transaction ----- */

static void expect_push(struct smtp_client *c, enum expect_kind kind, size_t rcpt)
{
	c->txn.q[c->txn.qtail].kind = kind;
	c->txn.q[c->txn.qtail].rcpt = rcpt;
	c->txn.qtail++;
}

static void send_mail(struct smtp_client *c)
{
	struct txn *t = &c->txn;
	struct smtp_client_msg *m = t->m;
	struct buf params;
	buf_init(&params, 4096);
	if (c->ehlo.size)
		buf_printf(&params, " SIZE=%llu", (unsigned long long)(m->prefix_len + m->size));
	if ((m->body_8bit || t->utf8) && c->ehlo.eightbitmime)
		buf_append_str(&params, " BODY=8BITMIME");
	if (t->utf8)
		buf_append_str(&params, " SMTPUTF8");
	if (c->ehlo.dsn) {
		if (m->ret != NULL && (ascii_ieq(m->ret, "FULL") || ascii_ieq(m->ret, "HDRS")))
			buf_printf(&params, " RET=%s", m->ret);
		if (m->envid != NULL && m->envid[0] != '\0') {
			/* RFC 3461 4.4: at most 100 characters once encoded. */
			char x[101];
			if (smtp_xtext_encode(m->envid, x, sizeof(x)) < sizeof(x))
				buf_printf(&params, " ENVID=%s", x);
		}
	}
	send_line(c, NULL, "MAIL FROM:<%s>%s", m->sender, params.len > 0 ? params.data : "");
	buf_free(&params);
	expect_push(c, EXP_MAIL, 0);
	t->mail_sent = true;
}

static bool addr_type_valid(const char *s, size_t n)
{
	if (n == 0 || n > 32)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

static void send_rcpt(struct smtp_client *c, size_t i)
{
	struct smtp_client_rcpt *r = &c->txn.m->rcpts[i];
	struct buf params;
	buf_init(&params, 4096);
	if (c->ehlo.dsn) {
		if (r->notify != NULL && notify_valid(r->notify))
			buf_printf(&params, " NOTIFY=%s", r->notify);
		if (r->orcpt != NULL && r->orcpt[0] != '\0') {
			/* "type;address"; a bare address is taken as rfc822. */
			const char *semi = strchr(r->orcpt, ';');
			const char *type = "rfc822", *addr = r->orcpt;
			size_t tlen = 6;
			if (semi != NULL) {
				type = r->orcpt;
				tlen = (size_t)(semi - r->orcpt);
				addr = semi + 1;
			}
			/* RFC 3461 4.2: at most 500 characters once encoded. */
			char x[501];
			if (addr_type_valid(type, tlen) && addr[0] != '\0' &&
			    smtp_xtext_encode(addr, x, sizeof(x)) < sizeof(x))
				buf_printf(&params, " ORCPT=%.*s;%s", (int)tlen, type, x);
		}
	}
	send_line(c, NULL, "RCPT TO:<%s>%s", r->address, params.len > 0 ? params.data : "");
	buf_free(&params);
	expect_push(c, EXP_RCPT, i);
	c->txn.rstate[i] = R_SENT;
}

static void send_data_cmd(struct smtp_client *c)
{
	send_line(c, NULL, "DATA");
	expect_push(c, EXP_DATA, 0);
	c->txn.data_sent = true;
}

/* Recipient i's outcome is final. */
static void rcpt_done(struct smtp_client *c, size_t i, const struct smtp_client_status *st)
{
	c->txn.m->rcpts[i].status = *st;
	c->txn.rstate[i] = R_DONE;
}

/* Lock-step (no PIPELINING): send the next command once the previous
 * reply is in. */
static void txn_advance(struct smtp_client *c)
{
	struct txn *t = &c->txn;
	struct smtp_client_msg *m = t->m;
	if (t->qhead < t->qtail)
		return;
	if (t->failed) {
		txn_finish(c, t->fail_result);
		return;
	}
	if (!t->mail_sent) {
		send_mail(c);
		set_deadline(c, c->timeout);
		return;
	}
	while (t->next_rcpt < m->nrcpt && t->rstate[t->next_rcpt] != R_PENDING)
		t->next_rcpt++;
	if (t->next_rcpt < m->nrcpt) {
		send_rcpt(c, t->next_rcpt++);
		set_deadline(c, c->timeout);
		return;
	}
	if (!t->data_sent && t->naccepted > 0) {
		send_data_cmd(c);
		set_deadline(c, c->timeout);
		return;
	}
	/* Everybody was refused at RCPT: each has its own answer. */
	snprintf(m->status.text, sizeof(m->status.text), "no recipient accepted");
	m->status.code = 554;
	snprintf(m->status.enhanced, sizeof(m->status.enhanced), "5.5.0");
	m->status.remote = false;
	m->status.stage = "RCPT TO";
	m->status.tls = false;
	txn_finish(c, SMTP_CLIENT_OK);
}

static void start_content(struct smtp_client *c)
{
	struct txn *t = &c->txn;
	t->prefix_off = 0;
	t->file_off = 0;
	t->bol = true;
	t->last[0] = t->last[1] = '\0';
	t->streamed = 0;
	set_state(c, CS_DATA_SEND);
	set_deadline(c, c->timeout);
}

/* Append dot-stuffed content to the output (RFC 5321 4.5.2). */
static void stuff(struct smtp_client *c, const char *p, size_t n)
{
	struct txn *t = &c->txn;
	char *o = buf_reserve(&c->conn.out, 2 * n);
	if (o == NULL) {
		c->conn.error = true;
		return;
	}
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (t->bol && p[i] == '.')
			o[k++] = '.';
		o[k++] = p[i];
		t->bol = p[i] == '\n';
	}
	buf_commit(&c->conn.out, k);
	if (n >= 2) {
		t->last[0] = p[n - 2];
		t->last[1] = p[n - 1];
	} else if (n == 1) {
		t->last[0] = t->last[1];
		t->last[1] = p[0];
	}
	t->streamed += n;
}

/* Produce content until the output is full or the message is complete.
 * Returns false when the transaction failed (file error). */
static bool pump(struct smtp_client *c)
{
	struct txn *t = &c->txn;
	struct smtp_client_msg *m = t->m;
	char chunk[CHUNK];
	while (c->state == CS_DATA_SEND && c->conn.out.len < OUT_HIGH && !c->conn.error) {
		if (t->prefix_off < m->prefix_len) {
			size_t n = m->prefix_len - t->prefix_off;
			if (n > CHUNK)
				n = CHUNK;
			stuff(c, m->prefix + t->prefix_off, n);
			t->prefix_off += n;
			continue;
		}
		if (t->file_off < m->size) {
			uint64_t left = m->size - t->file_off;
			size_t want = left < CHUNK ? (size_t)left : CHUNK;
			ssize_t n = pread(m->fd, chunk, want, (off_t)t->file_off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				/* Never end a message we could not send whole. */
				set_status(&m->status, 451, "4.3.0", "message body", false,
					   "cannot read the message file: %s",
					   n < 0 ? strerror(errno) : "file shorter than expected");
				set_status(&c->status, 451, "4.3.0", "message body", false,
					   "transaction aborted: message file unreadable");
				close_conn(c);
				txn_finish(c, SMTP_CLIENT_TEMPFAIL);
				return false;
			}
			stuff(c, chunk, (size_t)n);
			t->file_off += (uint64_t)n;
			continue;
		}
		/* The end: CRLF "." CRLF, adding the CRLF when the content
		 * does not end with one. */
		bool crlf = t->streamed == 0 || (t->last[0] == '\r' && t->last[1] == '\n');
		buf_append_str(&c->conn.out, crlf ? ".\r\n" : "\r\n.\r\n");
		log_debug("smtp-client", c->id, "> (%llu bytes of content) .",
			  (unsigned long long)t->streamed);
		set_state(c, CS_DATA_END);
		set_deadline(c, 2 * c->timeout);
	}
	return true;
}

static enum smtp_client_result result_of(unsigned code)
{
	return code / 100 == 5 ? SMTP_CLIENT_PERMFAIL : SMTP_CLIENT_TEMPFAIL;
}

static void reply_txn(struct smtp_client *c, const struct smtp_reply *r)
{
	struct txn *t = &c->txn;
	struct smtp_client_msg *m = t->m;
	if (t->qhead == t->qtail) {
		fail_protocol(c, "reply without a command");
		return;
	}
	struct expect e = t->q[t->qhead++];
	unsigned cls = r->code / 100;
	set_deadline(c, c->timeout); /* progress: a reply came */
	switch (e.kind) {
	case EXP_RSET:
		if (cls != 2) {
			status_from_reply(&c->status, r, "RSET");
			connection_failed(c);
			return;
		}
		c->need_rset = false;
		break;
	case EXP_MAIL:
		if (cls == 2) {
			t->mail_ok = true;
			c->need_rset = true; /* open until the end of data */
		} else if (cls == 4 || cls == 5) {
			status_from_reply(&m->status, r, "MAIL FROM");
			t->failed = true;
			t->fail_result = result_of(r->code);
		} else {
			fail_protocol(c, "unexpected reply to MAIL FROM");
			return;
		}
		break;
	case EXP_RCPT:
		if (t->failed)
			break; /* the MAIL failure speaks for everyone */
		if (cls == 2) {
			t->rstate[e.rcpt] = R_ACCEPTED;
			t->naccepted++;
		} else if (cls == 4 || cls == 5) {
			struct smtp_client_status st;
			status_from_reply(&st, r, "RCPT TO");
			rcpt_done(c, e.rcpt, &st);
		} else {
			fail_protocol(c, "unexpected reply to RCPT TO");
			return;
		}
		break;
	case EXP_DATA:
		if (r->code == 354) {
			if (t->failed || t->naccepted == 0) {
				/* RFC 2920 3.1: DATA went out in the batch and was
				 * accepted although nobody was: end it empty. */
				t->dummy_data = true;
				send_line(c, NULL, ".");
				set_state(c, CS_DATA_END);
				set_deadline(c, 2 * c->timeout);
				return;
			}
			start_content(c);
			return;
		}
		if (cls != 4 && cls != 5) {
			fail_protocol(c, "unexpected reply to DATA");
			return;
		}
		if (!t->failed && t->naccepted > 0) {
			status_from_reply(&m->status, r, "DATA");
			t->failed = true;
			t->fail_result = result_of(r->code);
		}
		break;
	}
	if (t->qhead < t->qtail)
		return; /* more pipelined replies to come */
	if (c->ehlo.pipelining && t->data_sent) {
		/* The whole batch is answered and DATA was refused. */
		if (t->failed) {
			txn_finish(c, t->fail_result);
		} else {
			snprintf(m->status.text, sizeof(m->status.text), "no recipient accepted");
			m->status.code = 554;
			snprintf(m->status.enhanced, sizeof(m->status.enhanced), "5.5.0");
			m->status.remote = false;
			m->status.stage = "RCPT TO";
			m->status.tls = false;
			txn_finish(c, SMTP_CLIENT_OK);
		}
		return;
	}
	txn_advance(c);
}

static void reply_data_end(struct smtp_client *c, const struct smtp_reply *r)
{
	struct txn *t = &c->txn;
	struct smtp_client_msg *m = t->m;
	c->need_rset = false;
	if (t->dummy_data) {
		if (t->failed) {
			txn_finish(c, t->fail_result);
			return;
		}
		set_status(&m->status, 554, "5.5.0", "RCPT TO", false, "no recipient accepted");
		txn_finish(c, SMTP_CLIENT_OK);
		return;
	}
	status_from_reply(&m->status, r, "end of data");
	for (size_t i = 0; i < m->nrcpt; i++)
		if (t->rstate[i] == R_ACCEPTED)
			rcpt_done(c, i, &m->status);
	txn_finish(c, SMTP_CLIENT_OK);
}

static void log_reply(struct smtp_client *c, const struct smtp_reply *r)
{
	char text[SMTP_CLIENT_TEXT_MAX];
	smtp_reply_text(r, text, sizeof(text));
	log_debug("smtp-client", c->id, "< %u%s%s %s%s", r->code, r->enhanced[0] ? " " : "",
		  r->enhanced, log_escaped(0, text, strlen(text)), r->nlines > 1 ? " (...)" : "");
}

static void handle_reply(struct smtp_client *c, const struct smtp_reply *r)
{
	log_reply(c, r);
	if (c->state == CS_QUIT) {
		close_conn(c);
		return;
	}
	if (r->code == 421) {
		/* The server is closing the connection (RFC 5321 3.8). */
		const char *stage = stage_of(c);
		status_from_reply(&c->status, r, stage);
		if (c->state == CS_READY)
			log_info("smtp-client", c->id, "%s closes the idle connection: 421 %s",
				 c->peer, c->status.text);
		connection_failed(c);
		return;
	}
	switch (c->state) {
	case CS_GREETING:
	case CS_EHLO:
	case CS_HELO:
	case CS_STARTTLS:
	case CS_AUTH:
		reply_setup(c, r);
		return;
	case CS_TXN:
		reply_txn(c, r);
		return;
	case CS_DATA_SEND:
		/* A reply in the middle of the content: the server gave up on
		 * the message. Take it as the final word; the stream is out of
		 * step now, so the connection ends. */
		set_status(&c->status, 421, "4.5.0", "message body", false,
			   "%s replied before the end of the message", c->peer);
		close_conn(c);
		reply_data_end(c, r);
		return;
	case CS_DATA_END:
		reply_data_end(c, r);
		return;
	case CS_READY:
		set_status(&c->status, 421, "4.5.0", "idle", false,
			   "unexpected reply from %s on an idle connection", c->peer);
		connection_failed(c);
		return;
	default:
		return;
	}
}

/* Still something to do with the connection: it is open and the caller
 * still wants it, or it waits for the reply to QUIT. */
static bool live(const struct smtp_client *c)
{
	return c->open && (!c->released || c->state == CS_QUIT);
}

/* Parse and act on every complete reply buffered, as long as the state
 * reads replies. Then notice a closed or broken connection. */
static void process_input(struct smtp_client *c)
{
	while (live(c) && c->conn.in.len > 0) {
		if (c->state == CS_TLS || c->state == CS_CONNECTING)
			break;
		struct smtp_reply r;
		size_t used;
		const char *why;
		enum smtp_reply_status st =
		    smtp_reply_parse(c->parser, c->conn.in.data, c->conn.in.len, &used, &r, &why);
		buf_consume(&c->conn.in, used);
		if (st == SMTP_REPLY_ERROR) {
			fail_protocol(c, why);
			return;
		}
		if (st == SMTP_REPLY_MORE)
			break;
		handle_reply(c, &r);
	}
	if (!live(c))
		return;
	if ((c->conn.eof || c->conn.error) && c->state != CS_TLS) {
		if (c->state == CS_QUIT) {
			close_conn(c);
			return;
		}
		if (c->state == CS_READY) {
			set_status(&c->status, 421, "4.4.2", "idle", false,
				   "connection closed by %s", c->peer);
			log_info("smtp-client", c->id, "%s closed the idle connection", c->peer);
			close_conn(c);
			return;
		}
		fail_lost(c);
	}
}

/* ----- plumbing ----- */

static void update_watch(struct smtp_client *c)
{
	if (!c->open)
		return;
	if (c->state == CS_CONNECTING) {
		loop_rewatch(c->loop, &c->w, LOOP_WRITE);
		return;
	}
	if (c->state == CS_TLS) {
		unsigned ev = conn_wanted_events(&c->conn, false);
		if (ev == 0)
			ev = LOOP_READ;
		loop_rewatch(c->loop, &c->w, ev);
		return;
	}
	for (int round = 0; round < PUMP_ROUNDS; round++) {
		if (c->state == CS_DATA_SEND && !pump(c))
			return;
		size_t before = c->conn.out.len;
		int fl = conn_flush(&c->conn);
		if (fl < 0 || c->conn.error) {
			if (c->state == CS_QUIT) {
				close_conn(c);
				return;
			}
			fail_lost(c);
			return;
		}
		if (c->state == CS_DATA_SEND && c->conn.out.len < before)
			set_deadline(c, c->timeout); /* the server is taking content */
		if (fl == 1 && c->state == CS_DATA_SEND)
			continue;
		break;
	}
	if (c->state == CS_READY)
		conn_trim(&c->conn); /* an idle connection in a cache costs little */
	unsigned ev = conn_wanted_events(&c->conn, true);
	if (c->state == CS_DATA_SEND)
		ev |= LOOP_WRITE;
	if (loop_rewatch(c->loop, &c->w, ev) < 0) {
		set_status(&c->status, 421, "4.3.0", stage_of(c), false, "epoll: %s",
			   strerror(errno));
		connection_failed(c);
	}
}

static void client_io(struct watcher *w, uint32_t events)
{
	struct smtp_client *c = w->ctx;
	c->busy++;
	if (c->state == CS_CONNECTING) {
		connect_done(c);
	} else if (c->state == CS_TLS) {
		handshake_step(c);
	} else if (events & ~(uint32_t)LOOP_WRITE) {
		conn_fill(&c->conn, READ_LIMIT);
		process_input(c);
	}
	if (c->open)
		update_watch(c);
	unbusy(c);
}

static void run_async(struct smtp_client *c)
{
	enum async_kind k = c->async;
	c->async = ASYNC_NONE;
	if (k == ASYNC_READY_FAIL) {
		ready_finish(c, false);
	} else if (k == ASYNC_DONE) {
		enum smtp_client_result res = c->txn.fail_result;
		txn_finish(c, res);
	}
}

static void timer_io(struct watcher *w, uint32_t events)
{
	(void)events;
	struct smtp_client *c = w->ctx;
	uint64_t expirations;
	if (read(c->tfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		return;
	c->armed = 0;
	c->busy++;
	uint64_t now = now_ms();
	if (c->async != ASYNC_NONE) {
		if (!c->released)
			run_async(c);
	} else if (c->deadline != 0 && now >= c->deadline && c->open) {
		const char *stage = stage_of(c);
		if (c->state == CS_QUIT) {
			close_conn(c);
		} else if (c->state == CS_CONNECTING) {
			set_status(&c->status, 421, "4.4.1", stage, false,
				   "connect to %s: Connection timed out", c->peer);
			connection_failed(c);
		} else {
			set_status(&c->status, 421, "4.4.2", stage, c->state == CS_TLS,
				   "conversation with %s timed out while %s", c->peer,
				   while_doing(stage));
			connection_failed(c);
		}
	}
	/* A callback may have started a transaction or a QUIT. */
	if (c->open)
		update_watch(c);
	if (c->deadline != 0 && c->open)
		arm_timer(c, c->deadline);
	if (c->async != ASYNC_NONE)
		arm_timer(c, now_ms());
	unbusy(c);
}

/* Report asynchronously (from the loop, never from inside the caller's
 * own call). */
static void schedule_async(struct smtp_client *c, enum async_kind k)
{
	c->async = k;
	arm_timer(c, now_ms());
}

/* ----- public API ----- */

static void describe_peer(struct smtp_client *c, const struct sockaddr *addr, const char *host)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	if (addr->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)addr;
		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
		port = ntohs(sin->sin_port);
	} else if (addr->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)addr;
		inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
		port = ntohs(sin6->sin6_port);
	}
	snprintf(c->peer, sizeof(c->peer), "%s[%s]:%u", host, ip, port);
}

struct smtp_client *smtp_client_connect(struct loop *loop, const struct sockaddr *addr,
					socklen_t addrlen, const char *host,
					const struct smtp_client_opts *o, smtp_client_ready_cb *cb,
					void *ctx)
{
	static atomic_uint next_id;
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (tfd < 0)
		return NULL;
	int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		int e = errno;
		close(tfd);
		errno = e;
		return NULL;
	}
	struct smtp_client *c = xcalloc(1, sizeof(*c));
	c->loop = loop;
	c->tfd = tfd;
	c->state = CS_CONNECTING;
	if (o->log_id != NULL)
		snprintf(c->id, sizeof(c->id), "%s", o->log_id);
	else
		snprintf(c->id, sizeof(c->id), "C%06X",
			 (atomic_fetch_add(&next_id, 1) + 1) & 0xffffffu);
	snprintf(c->host, sizeof(c->host), "%s", host != NULL ? host : "");
	describe_peer(c, addr, host != NULL && host[0] != '\0' ? host : "unknown");
	c->helo_name =
	    xstrdup(o->helo_name != NULL && o->helo_name[0] != '\0' ? o->helo_name : "localhost");
	c->tls = o->tls;
	c->tls_required = o->tls_required;
	c->tls_verify = o->tls_verify;
	c->implicit_tls = o->implicit_tls;
	c->connect_timeout = secs_or(o->connect_timeout, 30);
	c->timeout = secs_or(o->timeout, 300);
	c->ready_cb = cb;
	c->ready_ctx = ctx;
	c->parser = smtp_reply_parser_new(NULL);
	conn_init(&c->conn, fd, IN_MAX, 0);
	c->open = true;
	loop_watch(loop, &c->tw, tfd, LOOP_READ, timer_io, c);
	loop_watch(loop, &c->w, fd, 0, client_io, c);

	bool bad_opts = !helo_valid(c->helo_name) ||
			(c->tls == NULL && (c->tls_required || c->implicit_tls)) ||
			(o->auth_user != NULL && o->auth_pass == NULL) ||
			(o->auth_user != NULL &&
			 (strlen(o->auth_user) > CRED_MAX || strlen(o->auth_pass) > CRED_MAX));
	if (!bad_opts && o->auth_user != NULL) {
		c->auth_user = xstrdup(o->auth_user);
		c->auth_pass = xstrdup(o->auth_pass);
	}
	if (bad_opts) {
		set_status(&c->status, 451, "4.3.5", "connect", false, "%s",
			   "client misconfigured (bad HELO name, TLS required without a TLS "
			   "context, or bad AUTH credentials)");
		close_conn(c);
		schedule_async(c, ASYNC_READY_FAIL);
		return c;
	}
	const char *what = "connect to";
	int r = 0;
	if (o->source != NULL && bind(fd, o->source, o->source_len) < 0) {
		r = -1;
		what = "bind for connecting to";
	}
	if (r == 0)
		r = connect(fd, addr, addrlen);
	if (r < 0 && errno != EINPROGRESS) {
		set_status(&c->status, 421, "4.4.1", "connect", false, "%s %s: %s", what, c->peer,
			   strerror(errno));
		close_conn(c);
		schedule_async(c, ASYNC_READY_FAIL);
		return c;
	}
	log_debug("smtp-client", c->id, "connecting to %s", c->peer);
	set_deadline(c, c->connect_timeout);
	update_watch(c);
	return c;
}

void smtp_client_send(struct smtp_client *c, struct smtp_client_msg *m, smtp_client_done_cb *cb,
		      void *ctx)
{
	struct txn *t = &c->txn;
	if (c->txn_active || c->async != ASYNC_NONE || c->released)
		die("smtp_client_send: client %s is busy or released", c->id);
	txn_clear(c);
	c->txn_active = true;
	t->m = m;
	t->cb = cb;
	t->ctx = ctx;
	t->rstate = xcalloc(m->nrcpt + 1, 1);
	t->q = xcalloc(m->nrcpt + 3, sizeof(*t->q));
	memset(&m->status, 0, sizeof(m->status));
	for (size_t i = 0; i < m->nrcpt; i++)
		memset(&m->rcpts[i].status, 0, sizeof(m->rcpts[i].status));

	if (!c->open || c->state != CS_READY) {
		m->status = c->status;
		if (m->status.code == 0 || m->status.code / 100 == 2)
			set_status(&m->status, 421, "4.4.2", "idle", false,
				   "connection to %s is not usable", c->peer);
		t->fail_result = SMTP_CLIENT_TEMPFAIL;
		schedule_async(c, ASYNC_DONE);
		return;
	}
	/* Local checks: what the server told us it cannot take. */
	bool utf8 = m->smtputf8 || is_8bit(m->sender);
	uint64_t total = m->prefix_len + m->size;
	const char *why = NULL;
	if (!address_sendable(m->sender)) {
		set_status(&m->status, 553, "5.1.7", "local", false, "invalid sender address");
		why = "sender";
	} else if (c->ehlo.size && c->ehlo.size_max > 0 && total > c->ehlo.size_max) {
		set_status(&m->status, 552, "5.3.4", "local", false,
			   "message size %llu exceeds size limit %llu of %s",
			   (unsigned long long)total, (unsigned long long)c->ehlo.size_max,
			   c->peer);
		why = "size";
	} else if (utf8 && !c->ehlo.smtputf8) {
		set_status(&m->status, 554, "5.6.7", "local", false,
			   "SMTPUTF8 is required, but was not offered by %s", c->peer);
		why = "smtputf8";
	} else if (m->body_8bit && !c->ehlo.eightbitmime) {
		set_status(&m->status, 554, "5.6.3", "local", false,
			   "8-bit content needs conversion, but %s does not offer 8BITMIME",
			   c->peer);
		why = "8bitmime";
	}
	if (why != NULL) {
		t->fail_result = SMTP_CLIENT_PERMFAIL;
		schedule_async(c, ASYNC_DONE);
		return;
	}
	t->utf8 = utf8;
	size_t usable = 0;
	for (size_t i = 0; i < m->nrcpt; i++) {
		const char *a = m->rcpts[i].address;
		struct smtp_client_status st;
		if (a == NULL || a[0] == '\0' || !address_sendable(a)) {
			set_status(&st, 553, "5.1.3", "local", false, "invalid recipient address");
		} else if (is_8bit(a) && !c->ehlo.smtputf8) {
			set_status(&st, 553, "5.6.7", "local", false,
				   "SMTPUTF8 is required, but was not offered by %s", c->peer);
		} else {
			usable++;
			continue;
		}
		rcpt_done(c, i, &st);
		t->rstate[i] = R_SKIPPED;
	}
	if (usable == 0) {
		set_status(&m->status, 554, "5.5.0", "local", false, "no usable recipient");
		t->fail_result = SMTP_CLIENT_OK;
		schedule_async(c, ASYNC_DONE);
		return;
	}
	set_state(c, CS_TXN);
	if (c->need_rset) {
		send_line(c, NULL, "RSET");
		expect_push(c, EXP_RSET, 0);
		t->rset_sent = true;
	}
	if (c->ehlo.pipelining) {
		/* RFC 2920: RSET, MAIL and RCPT anywhere in a group, DATA last. */
		send_mail(c);
		for (size_t i = 0; i < m->nrcpt; i++)
			if (t->rstate[i] == R_PENDING)
				send_rcpt(c, i);
		send_data_cmd(c);
	} else if (!t->rset_sent) {
		send_mail(c);
	}
	set_deadline(c, c->timeout);
	/* Written from the loop: a failure must not call back from here. */
	loop_rewatch(c->loop, &c->w, conn_wanted_events(&c->conn, true));
}

bool smtp_client_usable(const struct smtp_client *c)
{
	return c->open && c->state == CS_READY && !c->txn_active && c->async == ASYNC_NONE &&
	       !c->released;
}

const struct smtp_ehlo *smtp_client_ehlo(const struct smtp_client *c)
{
	return &c->ehlo;
}

const char *smtp_client_tls_info(const struct smtp_client *c)
{
	return c->tls_done ? c->tls_info : NULL;
}

const char *smtp_client_peer(const struct smtp_client *c)
{
	return c->peer;
}

void smtp_client_abort(struct smtp_client *c)
{
	if (c == NULL || c->released)
		return;
	c->released = true;
	c->async = ASYNC_NONE;
	close_conn(c);
	if (c->busy == 0)
		client_free(c);
}

void smtp_client_quit(struct smtp_client *c)
{
	if (c == NULL || c->released)
		return;
	if (!smtp_client_usable(c)) {
		smtp_client_abort(c);
		return;
	}
	c->released = true;
	send_line(c, NULL, "QUIT");
	set_state(c, CS_QUIT);
	set_deadline(c, c->timeout < QUIT_TIMEOUT ? c->timeout : QUIT_TIMEOUT);
	loop_rewatch(c->loop, &c->w, conn_wanted_events(&c->conn, true));
}
