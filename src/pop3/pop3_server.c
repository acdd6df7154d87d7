/* pop3_server.c - POP3 session: an explicit state machine (AUTHORIZATION ->
 * TRANSACTION -> UPDATE, RFC 1939 3) driven by the event loop, a command
 * table with the states each command may run in, USER/PASS and SASL AUTH
 * verified off the loop with throttled failure replies, STLS, and RETR/TOP
 * streamed from the message file through the dot-stuffing encoder so that a
 * large message never sits in memory whole. */
#include "pop3/pop3_server.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/auth.h"
#include "auth/sasl.h"
#include "core/buf.h"
#include "core/conn.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/util.h"
#include "pop3/pop3_parser.h"
#include "store/store.h"
#include "tls/tls.h"

#define POP3_OUT_HIGH_WATER (256 * 1024) /* stop producing while this much is unsent */
#define POP3_IN_MAX (64 * 1024)		 /* input buffer hard maximum */
#define POP3_CHUNK 65536		 /* message bytes read per step */
#define POP3_TIMEOUT_PREAUTH 60		 /* seconds before login */
#define POP3_TIMEOUT_AUTH 600		 /* RFC 1939 3: at least 10 minutes */
#define POP3_MAX_ERRORS 20		 /* protocol errors before we hang up */

enum pop3_state {
	POP3_S_AUTHORIZATION,
	POP3_S_TRANSACTION,
	POP3_S_UPDATE,
};

static const char *const state_names[] = {"AUTHORIZATION", "TRANSACTION", "UPDATE"};

/* One message of the maildrop; its index is its message number - 1. */
struct pop3_msg {
	uint32_t uid;
	uint64_t size;
	char *file; /* store key of the content */
	bool deleted;
};

struct pop3_session {
	struct pop3_env *env;
	struct pop3_session *prev, *next;
	struct conn conn;
	struct watcher w;
	char id[12];
	enum pop3_state state;
	enum listener_kind kind;
	struct pop3_parser *parser;
	uint64_t deadline;
	bool closing, dead, freed;
	bool starttls_pending, tls_logged;
	unsigned errors;

	/* AUTHORIZATION */
	char username[SASL_FIELD_MAX]; /* from USER, for the PASS that follows */
	bool have_user;
	struct sasl_server sasl;
	bool sasl_active;	   /* AUTH exchange: lines are SASL responses */
	const char *auth_method;   /* "USER", "PLAIN", "LOGIN" (for the log) */
	struct auth_request *areq; /* verification on a worker */
	bool delayed;		   /* throttled failure reply waiting */
	uint64_t reply_at;
	bool authenticated;
	struct store_user user;

	/* TRANSACTION: the INBOX as it was at login. */
	struct store_mailbox mb;
	struct pop3_msg *msgs;
	uint32_t count;
	size_t msgs_cap;

	/* A RETR/TOP response being streamed from the message file. */
	struct {
		bool active;
		int fd;
		uint64_t off, size;
		uint32_t uid;
		struct pop3_encoder enc;
	} send;

	/* For the log. */
	unsigned retrieved;
	unsigned deleted_at_quit;
};

typedef void pop3_cmd_fn(struct pop3_session *s, const struct pop3_cmd *cmd);

enum pop3_cmd_flags {
	POP3_CMD_AUTHORIZATION = 1 << 0, /* allowed before login */
	POP3_CMD_TRANSACTION = 1 << 1,	 /* allowed after login */
};

struct pop3_cmd_def {
	enum pop3_verb verb;
	pop3_cmd_fn *fn;
	unsigned flags;
};

static void update_watch(struct pop3_session *s);
static void session_release(struct pop3_session *s);

/* ----- state and replies ----- */

static void set_state(struct pop3_session *s, enum pop3_state st)
{
	if (s->state == st)
		return;
	log_debug("pop3", s->id, "state %s -> %s", state_names[s->state], state_names[st]);
	s->state = st;
}

static void set_deadline(struct pop3_session *s)
{
	unsigned secs = s->state == POP3_S_AUTHORIZATION ? POP3_TIMEOUT_PREAUTH : POP3_TIMEOUT_AUTH;
	s->deadline = loop_now(s->env->loop) + (uint64_t)secs * 1000u;
}

/* A reply line; CRLF is added. */
__attribute__((format(printf, 2, 3))) static void reply(struct pop3_session *s, const char *fmt,
							...)
{
	va_list ap;
	va_start(ap, fmt);
	if (buf_vprintf(&s->conn.out, fmt, ap) < 0 || buf_append(&s->conn.out, "\r\n", 2) < 0)
		s->conn.error = true;
	va_end(ap);
}

/* A -ERR for a protocol error (unknown command, bad syntax, wrong state):
 * too many of them and the session ends. */
__attribute__((format(printf, 2, 3))) static void error_reply(struct pop3_session *s,
							      const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (buf_append(&s->conn.out, "-ERR ", 5) < 0 || buf_vprintf(&s->conn.out, fmt, ap) < 0 ||
	    buf_append(&s->conn.out, "\r\n", 2) < 0)
		s->conn.error = true;
	va_end(ap);
	if (++s->errors >= POP3_MAX_ERRORS && !s->closing) {
		log_info("pop3", s->id, "too many errors (%u), disconnecting", s->errors);
		reply(s, "-ERR Too many errors, closing connection");
		s->closing = true;
	}
}

static bool conn_is_tls(const struct pop3_session *s)
{
	return s->conn.tls;
}

static bool peer_is_loopback(const struct pop3_session *s)
{
	return strncmp(s->conn.peer_ip, "127.", 4) == 0 || strcmp(s->conn.peer_ip, "::1") == 0;
}

/* USER/PASS and AUTH: only under TLS, unless the administrator allowed
 * plaintext for loopback clients (development). */
static bool login_allowed(const struct pop3_session *s)
{
	return s->env->auth != NULL &&
	       (conn_is_tls(s) || (s->env->cfg->auth_plaintext_loopback && peer_is_loopback(s)));
}

static bool busy(const struct pop3_session *s)
{
	return s->closing || s->areq != NULL || s->delayed || s->starttls_pending ||
	       s->send.active || s->conn.error || s->freed;
}

/* ----- the maildrop ----- */

static void maildrop_free(struct pop3_session *s)
{
	for (uint32_t i = 0; i < s->count; i++)
		free(s->msgs[i].file);
	free(s->msgs);
	s->msgs = NULL;
	s->count = 0;
	s->msgs_cap = 0;
}

static void maildrop_add(void *ctx, const struct store_message *m)
{
	struct pop3_session *s = ctx;
	if (s->count == UINT32_MAX)
		return;
	if (s->count == s->msgs_cap) {
		s->msgs_cap = s->msgs_cap == 0 ? 64 : s->msgs_cap * 2;
		s->msgs = xrealloc(s->msgs, s->msgs_cap * sizeof(*s->msgs));
	}
	s->msgs[s->count++] = (struct pop3_msg){
	    .uid = m->uid, .size = m->size, .file = xstrdup(m->file != NULL ? m->file : "")};
}

/* The INBOX at login: its messages in UID order. Returns 0 or -1. */
static int maildrop_open(struct pop3_session *s)
{
	struct store_conn *c = s->env->store;
	maildrop_free(s);
	memset(&s->mb, 0, sizeof(s->mb));
	int f = store_mailbox_find(c, s->user.id, "INBOX", &s->mb);
	if (f < 0) {
		log_error("pop3", s->id, "INBOX of %s@%s: %s", s->user.local, s->user.domain,
			  store_conn_error(c));
		return -1;
	}
	if (f == 0)
		return 0; /* no INBOX (yet): an empty maildrop */
	if (store_messages(c, s->mb.id, 0, maildrop_add, s) < 0) {
		log_error("pop3", s->id, "messages of %s@%s: %s", s->user.local, s->user.domain,
			  store_conn_error(c));
		maildrop_free(s);
		return -1;
	}
	return 0;
}

static void maildrop_totals(const struct pop3_session *s, uint32_t *count_r, uint64_t *size_r)
{
	uint32_t n = 0;
	uint64_t size = 0;
	for (uint32_t i = 0; i < s->count; i++) {
		if (s->msgs[i].deleted)
			continue;
		n++;
		size += s->msgs[i].size;
	}
	*count_r = n;
	*size_r = size;
}

/* The message a command names, or NULL after replying -ERR. */
static struct pop3_msg *msg_arg(struct pop3_session *s, uint64_t number)
{
	if (number == 0 || number > s->count) {
		reply(s, "-ERR No such message");
		return NULL;
	}
	struct pop3_msg *m = &s->msgs[number - 1];
	if (m->deleted) {
		reply(s, "-ERR Message %llu already deleted", (unsigned long long)number);
		return NULL;
	}
	return m;
}

struct uid_probe {
	uint32_t uid;
	bool found;
};

static void uid_probe_cb(void *ctx, const struct store_message *m)
{
	struct uid_probe *p = ctx;
	if (m->uid == p->uid)
		p->found = true;
}

/* Is the message still in the mailbox? 1, 0, or -1 (store error). */
static int msg_still_there(struct pop3_session *s, uint32_t uid)
{
	struct uid_probe p = {.uid = uid};
	if (store_messages(s->env->store, s->mb.id, 0, uid_probe_cb, &p) < 0)
		return -1;
	return p.found ? 1 : 0;
}

/* ----- streaming RETR/TOP ----- */

static _Thread_local char chunk_buf[POP3_CHUNK];

static void send_stop(struct pop3_session *s)
{
	if (s->send.fd >= 0)
		close(s->send.fd);
	s->send.fd = -1;
	s->send.active = false;
}

/* Produce more of the response until the output holds enough. */
static void send_fill(struct pop3_session *s)
{
	bool progress = false;
	while (s->send.active && !s->conn.error && s->conn.out.len <= POP3_OUT_HIGH_WATER) {
		if (s->send.off >= s->send.size || pop3_encoder_done(&s->send.enc)) {
			if (pop3_encoder_finish(&s->send.enc, &s->conn.out) < 0)
				s->conn.error = true;
			send_stop(s);
			progress = true;
			break;
		}
		uint64_t left = s->send.size - s->send.off;
		size_t want = left < POP3_CHUNK ? (size_t)left : POP3_CHUNK;
		ssize_t n = pread(s->send.fd, chunk_buf, want, (off_t)s->send.off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* "+OK" is already out: the only honest end is to hang up. */
			log_error("pop3", s->id, "reading message uid %u: %s", s->send.uid,
				  n < 0 ? strerror(errno) : "file shrank");
			send_stop(s);
			s->closing = true;
			break;
		}
		s->send.off += (uint64_t)n;
		if (pop3_encoder_feed(&s->send.enc, chunk_buf, (size_t)n, &s->conn.out) < 0)
			s->conn.error = true;
		progress = true;
	}
	if (progress)
		set_deadline(s);
}

/* ----- AUTHORIZATION: CAPA, STLS, USER, PASS, AUTH, QUIT ----- */

static void cmd_capa(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	(void)cmd;
	struct buf *o = &s->conn.out;
	buf_append_str(o, "+OK Capability list follows\r\n");
	buf_append_str(o, "CAPA\r\nTOP\r\n");
	if (s->state == POP3_S_AUTHORIZATION && login_allowed(s))
		buf_printf(o, "USER\r\nSASL %s\r\n", sasl_mechanisms());
	buf_append_str(o, "UIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\n");
	if (s->state == POP3_S_AUTHORIZATION && s->env->tls != NULL && !conn_is_tls(s))
		buf_append_str(o, "STLS\r\n");
	buf_append_str(o, "EXPIRE NEVER\r\nIMPLEMENTATION postane\r\n.\r\n");
}

static void cmd_stls(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	(void)cmd;
	if (conn_is_tls(s)) {
		error_reply(s, "TLS already active");
		return;
	}
	if (s->env->tls == NULL) {
		reply(s, "-ERR TLS not available");
		return;
	}
	reply(s, "+OK Begin TLS negotiation");
	s->starttls_pending = true;
}

/* After "+OK Begin TLS negotiation" is on the wire. */
static void starttls_switch(struct pop3_session *s)
{
	s->starttls_pending = false;
	size_t dropped = s->conn.in.len;
	if (tls_conn_start(&s->conn, s->env->tls) < 0) {
		log_error("pop3", s->id, "cannot start TLS");
		s->closing = true;
		return;
	}
	/* Whatever was pipelined after STLS came before encryption (the
	 * STARTTLS injection class); RFC 2595 4: forget what USER said. */
	pop3_parser_reset(s->parser);
	explicit_bzero(s->username, sizeof(s->username));
	s->have_user = false;
	if (dropped > 0)
		log_info("pop3", s->id, "discarded %zu byte(s) sent before the TLS handshake",
			 dropped);
	set_deadline(s);
}

static const char *const plaintext_refused =
    "-ERR [AUTH] Plaintext authentication disallowed on non-secure connections";

static void login_success(struct pop3_session *s, const struct store_user *u)
{
	s->user = *u;
	explicit_bzero(s->user.password, sizeof(s->user.password));
	if (maildrop_open(s) < 0) {
		reply(s, "-ERR [SYS/TEMP] Cannot open the mailbox, try again later");
		memset(&s->user, 0, sizeof(s->user));
		return;
	}
	s->authenticated = true;
	set_state(s, POP3_S_TRANSACTION);
	uint32_t n;
	uint64_t size;
	maildrop_totals(s, &n, &size);
	log_info("pop3", s->id, "authenticated user=%s@%s method=%s messages=%u", u->local,
		 u->domain, s->auth_method, n);
	reply(s, "+OK Logged in, %u message%s (%llu octets)", n, n == 1 ? "" : "s",
	      (unsigned long long)size);
}

static void auth_done(struct auth_request *req, void *ctx)
{
	struct pop3_session *s = ctx;
	s->areq = NULL;
	if (s->dead) {
		explicit_bzero(req, sizeof(*req));
		free(req);
		session_release(s);
		return;
	}
	switch (req->result) {
	case AUTH_OK:
		login_success(s, &req->user);
		break;
	case AUTH_FAILED:
		/* The reply waits: the throttle's delay, at least a second. */
		s->delayed = true;
		s->reply_at = loop_now(s->env->loop) + (req->delay_ms > 0 ? req->delay_ms : 1000);
		break;
	case AUTH_LOCKED:
		reply(s, "-ERR [SYS/TEMP] Too many authentication failures, try again later");
		break;
	default:
		reply(s, "-ERR [SYS/TEMP] Temporary authentication failure");
		break;
	}
	explicit_bzero(req, sizeof(*req));
	free(req);
	set_deadline(s);
	update_watch(s);
}

/* Once a second: send a throttled failure reply when its time has come. */
static void auth_tick(struct pop3_session *s, uint64_t now)
{
	if (!s->delayed || now < s->reply_at)
		return;
	s->delayed = false;
	reply(s, "-ERR [AUTH] Authentication failed");
	set_deadline(s);
	update_watch(s);
}

static void start_verify(struct pop3_session *s, const char *user, const char *password)
{
	struct auth_request *req = xcalloc(1, sizeof(*req));
	snprintf(req->username, sizeof(req->username), "%s", user);
	snprintf(req->password, sizeof(req->password), "%s", password);
	snprintf(req->ip, sizeof(req->ip), "%s", s->conn.peer_ip);
	req->protocol = "pop3";
	s->areq = req;
	auth_verify(s->env->auth, req, s->env->loop, auth_done, s);
}

static void cmd_user(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	if (!login_allowed(s)) {
		reply(s, "%s", plaintext_refused);
		return;
	}
	if (cmd->arg_len[0] >= sizeof(s->username)) {
		reply(s, "-ERR [AUTH] Username too long");
		return;
	}
	memcpy(s->username, cmd->args[0], cmd->arg_len[0] + 1);
	s->have_user = true;
	reply(s, "+OK Send your password");
}

static void cmd_pass(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	if (!login_allowed(s)) {
		reply(s, "%s", plaintext_refused);
		return;
	}
	if (!s->have_user) {
		error_reply(s, "USER first");
		return;
	}
	s->have_user = false;
	s->auth_method = "USER";
	if (cmd->arg_len[0] >= SASL_FIELD_MAX) {
		/* Cannot be anyone's password; answer like a wrong one. */
		s->delayed = true;
		s->reply_at = loop_now(s->env->loop) + 1000;
	} else {
		start_verify(s, s->username, cmd->args[0]);
	}
	explicit_bzero(s->username, sizeof(s->username));
}

static void sasl_end(struct pop3_session *s)
{
	s->sasl_active = false;
	sasl_wipe(&s->sasl);
}

/* One step of the SASL exchange: the initial response (or NULL) or a
 * continuation line. */
static void auth_step(struct pop3_session *s, const char *response)
{
	char challenge[64];
	const char *why = NULL;
	enum sasl_status st = sasl_step(&s->sasl, response, challenge, sizeof(challenge), &why);
	switch (st) {
	case SASL_CONTINUE:
		s->sasl_active = true;
		reply(s, "+ %s", challenge);
		pop3_parser_expect_response(s->parser);
		return;
	case SASL_CANCELLED:
		sasl_end(s);
		reply(s, "-ERR Authentication cancelled");
		return;
	case SASL_FAIL:
		sasl_end(s);
		log_info("pop3", s->id, "AUTH exchange refused: %s", why);
		reply(s, "-ERR %s", why);
		return;
	case SASL_DONE:
		break;
	}
	s->sasl_active = false;
	start_verify(s, s->sasl.authcid, s->sasl.password);
	sasl_wipe(&s->sasl);
}

static void cmd_auth(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	s->have_user = false;
	if (cmd->argc == 0) {
		/* The pre-RFC 5034 form some clients use to list mechanisms. */
		reply(s, "+OK");
		const char *m = sasl_mechanisms();
		while (*m != '\0') {
			size_t n = strcspn(m, " ");
			reply(s, "%.*s", (int)n, m);
			m += n;
			while (*m == ' ')
				m++;
		}
		reply(s, ".");
		return;
	}
	if (!login_allowed(s)) {
		reply(s, "%s", plaintext_refused);
		return;
	}
	if (sasl_start(&s->sasl, cmd->args[0]) < 0) {
		reply(s, "-ERR Unsupported authentication mechanism");
		return;
	}
	s->auth_method = s->sasl.mech == SASL_MECH_PLAIN ? "PLAIN" : "LOGIN";
	auth_step(s, cmd->argc == 2 ? cmd->args[1] : NULL);
}

static void cmd_quit(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	(void)cmd;
	if (s->state != POP3_S_TRANSACTION) {
		reply(s, "+OK Bye");
		s->closing = true;
		return;
	}
	/* UPDATE: the deletions take effect now, and only now. */
	set_state(s, POP3_S_UPDATE);
	uint32_t *uids = xmalloc((s->count == 0 ? 1 : s->count) * sizeof(uint32_t));
	size_t n = 0;
	for (uint32_t i = 0; i < s->count; i++)
		if (s->msgs[i].deleted)
			uids[n++] = s->msgs[i].uid;
	int rc = n > 0 ? store_expunge(s->env->store, s->mb.id, uids, n) : 0;
	free(uids);
	if (rc < 0) {
		log_error("pop3", s->id, "user=%s@%s: expunge of %zu message(s) failed: %s",
			  s->user.local, s->user.domain, n, store_conn_error(s->env->store));
		reply(s, "-ERR [SYS/TEMP] Some deleted messages not removed");
	} else {
		s->deleted_at_quit = (unsigned)n;
		if (n > 0)
			log_info("pop3", s->id, "user=%s@%s: deleted %zu message(s)", s->user.local,
				 s->user.domain, n);
		reply(s, "+OK Bye, %zu message%s deleted", n, n == 1 ? "" : "s");
	}
	s->closing = true;
}

/* ----- TRANSACTION ----- */

static void cmd_stat(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	(void)cmd;
	uint32_t n;
	uint64_t size;
	maildrop_totals(s, &n, &size);
	reply(s, "+OK %u %llu", n, (unsigned long long)size);
}

static void cmd_list(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	if (cmd->argc == 1) {
		struct pop3_msg *m = msg_arg(s, cmd->msg);
		if (m != NULL)
			reply(s, "+OK %llu %llu", (unsigned long long)cmd->msg,
			      (unsigned long long)m->size);
		return;
	}
	uint32_t n;
	uint64_t size;
	maildrop_totals(s, &n, &size);
	reply(s, "+OK %u message%s (%llu octets)", n, n == 1 ? "" : "s", (unsigned long long)size);
	for (uint32_t i = 0; i < s->count; i++)
		if (!s->msgs[i].deleted)
			reply(s, "%u %llu", i + 1, (unsigned long long)s->msgs[i].size);
	reply(s, ".");
}

/* RFC 1939 7: a unique-id is 1 to 70 characters 0x21..0x7E, never reused.
 * UIDVALIDITY changes when a mailbox is recreated, UIDs are never reused
 * within one: together they identify a message for good. */
static void cmd_uidl(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	if (cmd->argc == 1) {
		struct pop3_msg *m = msg_arg(s, cmd->msg);
		if (m != NULL)
			reply(s, "+OK %llu %u.%u", (unsigned long long)cmd->msg, s->mb.uidvalidity,
			      m->uid);
		return;
	}
	reply(s, "+OK Unique-id listing follows");
	for (uint32_t i = 0; i < s->count; i++)
		if (!s->msgs[i].deleted)
			reply(s, "%u %u.%u", i + 1, s->mb.uidvalidity, s->msgs[i].uid);
	reply(s, ".");
}

/* RETR and TOP: open the file, reply +OK, then stream. */
static void send_message(struct pop3_session *s, const struct pop3_cmd *cmd, bool top)
{
	struct pop3_msg *m = msg_arg(s, cmd->msg);
	if (m == NULL)
		return;
	struct store_message sm = {.uid = m->uid, .size = m->size, .file = m->file};
	int fd = -1;
	uint64_t size = 0;
	if (s->mb.id == 0 || store_message_open(s->env->store, s->mb.id, &sm, &fd, &size) < 0) {
		char err[256];
		snprintf(err, sizeof(err), "%s",
			 s->mb.id == 0 ? "no mailbox" : store_conn_error(s->env->store));
		int there = msg_still_there(s, m->uid);
		if (there == 0) {
			log_info("pop3", s->id, "%s %llu: uid %u was removed by another session",
				 top ? "TOP" : "RETR", (unsigned long long)cmd->msg, m->uid);
			reply(s, "-ERR [SYS/TEMP] Message was removed by another session");
		} else {
			log_error("pop3", s->id, "%s %llu: uid %u: %s", top ? "TOP" : "RETR",
				  (unsigned long long)cmd->msg, m->uid, err);
			reply(s, "-ERR [SYS/TEMP] Cannot read the message, try again later");
		}
		return;
	}
	if (top)
		reply(s, "+OK Top of message follows");
	else
		reply(s, "+OK %llu octets", (unsigned long long)m->size);
	s->send.active = true;
	s->send.fd = fd;
	s->send.off = 0;
	s->send.size = size;
	s->send.uid = m->uid;
	pop3_encoder_init(&s->send.enc, top, cmd->lines);
	if (!top)
		s->retrieved++;
	send_fill(s);
}

static void cmd_retr(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	send_message(s, cmd, false);
}

static void cmd_top(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	send_message(s, cmd, true);
}

static void cmd_dele(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	struct pop3_msg *m = msg_arg(s, cmd->msg);
	if (m == NULL)
		return;
	m->deleted = true;
	reply(s, "+OK Message %llu deleted", (unsigned long long)cmd->msg);
}

static void cmd_noop(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	(void)cmd;
	reply(s, "+OK");
}

static void cmd_rset(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	(void)cmd;
	for (uint32_t i = 0; i < s->count; i++)
		s->msgs[i].deleted = false;
	uint32_t n;
	uint64_t size;
	maildrop_totals(s, &n, &size);
	reply(s, "+OK Maildrop has %u message%s (%llu octets)", n, n == 1 ? "" : "s",
	      (unsigned long long)size);
}

/* ----- command dispatch ----- */

static const struct pop3_cmd_def commands[] = {
    {POP3_VERB_CAPA, cmd_capa, POP3_CMD_AUTHORIZATION | POP3_CMD_TRANSACTION},
    {POP3_VERB_QUIT, cmd_quit, POP3_CMD_AUTHORIZATION | POP3_CMD_TRANSACTION},
    {POP3_VERB_STLS, cmd_stls, POP3_CMD_AUTHORIZATION},
    {POP3_VERB_USER, cmd_user, POP3_CMD_AUTHORIZATION},
    {POP3_VERB_PASS, cmd_pass, POP3_CMD_AUTHORIZATION},
    {POP3_VERB_AUTH, cmd_auth, POP3_CMD_AUTHORIZATION},
    {POP3_VERB_STAT, cmd_stat, POP3_CMD_TRANSACTION},
    {POP3_VERB_LIST, cmd_list, POP3_CMD_TRANSACTION},
    {POP3_VERB_RETR, cmd_retr, POP3_CMD_TRANSACTION},
    {POP3_VERB_DELE, cmd_dele, POP3_CMD_TRANSACTION},
    {POP3_VERB_NOOP, cmd_noop, POP3_CMD_TRANSACTION},
    {POP3_VERB_RSET, cmd_rset, POP3_CMD_TRANSACTION},
    {POP3_VERB_TOP, cmd_top, POP3_CMD_TRANSACTION},
    {POP3_VERB_UIDL, cmd_uidl, POP3_CMD_TRANSACTION},
};

static void dispatch(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	const struct pop3_cmd_def *d = NULL;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (commands[i].verb == cmd->verb)
			d = &commands[i];
	if (d == NULL) {
		error_reply(s, "Unknown command");
		return;
	}
	unsigned need = s->state == POP3_S_AUTHORIZATION ? POP3_CMD_AUTHORIZATION
			: s->state == POP3_S_TRANSACTION ? POP3_CMD_TRANSACTION
							 : 0;
	if ((d->flags & need) == 0) {
		error_reply(s, "%s not allowed %s", pop3_verb_name(cmd->verb),
			    s->state == POP3_S_AUTHORIZATION ? "before login" : "after login");
		return;
	}
	d->fn(s, cmd);
}

/* ----- input ----- */

static void parse_error(struct pop3_session *s)
{
	enum pop3_parse_error code;
	enum pop3_verb verb;
	const char *why = pop3_parser_error(s->parser, &code, &verb);
	if (s->sasl_active) {
		/* A malformed response ends the exchange. */
		sasl_end(s);
		reply(s, "-ERR %s", why);
		return;
	}
	/* The line itself is never logged: it may hold a password. */
	if (code == POP3_ERR_UNKNOWN)
		log_info("pop3", s->id, "unknown command");
	else if (code == POP3_ERR_TOO_LONG)
		log_info("pop3", s->id, "command line too long");
	else if (code == POP3_ERR_SYNTAX)
		log_info("pop3", s->id, "syntax error in %s", pop3_verb_name(verb));
	error_reply(s, "%s", why);
}

static void process_input(struct pop3_session *s)
{
	struct buf *in = &s->conn.in;
	/* While shutting down, no new command starts (drain_check answers). */
	while (!s->env->draining && !busy(s) && in->len > 0 &&
	       s->conn.out.len <= POP3_OUT_HIGH_WATER) {
		size_t used = 0;
		enum pop3_parse_result r = pop3_parser_feed(s->parser, in->data, in->len, &used);
		buf_consume(in, used);
		switch (r) {
		case POP3_PARSE_NEED_MORE:
			return;
		case POP3_PARSE_RESPONSE: {
			size_t len;
			const char *line = pop3_parser_response(s->parser, &len);
			set_deadline(s);
			auth_step(s, line);
			break;
		}
		case POP3_PARSE_ERROR:
			set_deadline(s);
			parse_error(s);
			break;
		case POP3_PARSE_COMMAND:
			set_deadline(s);
			dispatch(s, pop3_parser_command(s->parser));
			break;
		}
	}
}

/* ----- connection plumbing ----- */

static void session_free(void *arg)
{
	struct pop3_session *s = arg;
	free(s);
}

static void session_release(struct pop3_session *s)
{
	if (s->freed)
		return;
	if (s->areq != NULL) {
		/* An auth worker still holds a pointer to us. */
		s->dead = true;
		loop_unwatch(s->env->loop, &s->w);
		return;
	}
	s->freed = true;
	struct pop3_env *env = s->env;
	loop_unwatch(env->loop, &s->w);
	send_stop(s);
	sasl_wipe(&s->sasl);
	explicit_bzero(s->username, sizeof(s->username));
	pop3_parser_free(&s->parser);
	if (s->authenticated)
		log_info("pop3", s->id,
			 "disconnect from %s user=%s@%s retrieved=%u deleted=%u errors=%u",
			 s->conn.peer_ip, s->user.local, s->user.domain, s->retrieved,
			 s->deleted_at_quit, s->errors);
	else
		log_info("pop3", s->id, "disconnect from %s errors=%u", s->conn.peer_ip, s->errors);
	maildrop_free(s);
	if (env->released != NULL)
		env->released(s->conn.fd);
	conn_close(&s->conn);
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		env->sessions = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	env->count--;
	atomic_fetch_sub(env->connections, 1);
	loop_defer(env->loop, session_free, s);
	if (env->draining && env->count == 0 && env->drained != NULL)
		env->drained(env->drained_ctx);
}

/* Shutdown: say so once the session has nothing in progress. */
static void drain_check(struct pop3_session *s)
{
	if (s->env->draining && !s->closing && !s->send.active && s->areq == NULL &&
	    !s->starttls_pending) {
		reply(s, "-ERR [SYS/TEMP] Server shutting down");
		s->delayed = false;
		s->closing = true;
	}
}

static void update_watch(struct pop3_session *s)
{
	if (s->freed)
		return;
	if (s->dead) {
		if (s->areq == NULL)
			session_release(s);
		return;
	}
	for (int round = 0; round < 64; round++) {
		size_t before = s->conn.in.len;
		send_fill(s);
		/* Input held back by pending output is not an incomplete command. */
		bool held = s->conn.out.len > POP3_OUT_HIGH_WATER;
		process_input(s);
		drain_check(s);
		int fl = conn_flush(&s->conn);
		if (fl < 0 || s->conn.error) {
			session_release(s);
			return;
		}
		if (fl == 1 && s->starttls_pending) {
			starttls_switch(s);
			continue;
		}
		if (fl == 1 && s->closing) {
			session_release(s);
			return;
		}
		if (fl != 1)
			break;
		/* Everything is written: go round again for more of a response
		 * in progress, or for input that was held back. */
		if (s->send.active)
			continue;
		if (s->conn.in.len == 0 || busy(s) || (s->conn.in.len == before && !held))
			break;
	}
	/* A response in progress always leaves something to write, so that
	 * the socket's writability brings us back. */
	send_fill(s);
	if (s->conn.eof && s->areq == NULL && s->conn.out.len == 0 && !s->send.active) {
		/* Peer closed; whatever it pipelined has been answered. */
		session_release(s);
		return;
	}
	bool want_input = !busy(s) && !s->conn.eof && s->conn.out.len <= POP3_OUT_HIGH_WATER;
	conn_trim(&s->conn);
	if (loop_rewatch(s->env->loop, &s->w, conn_wanted_events(&s->conn, want_input)) < 0)
		session_release(s);
}

static void session_io(struct watcher *w, uint32_t events)
{
	struct pop3_session *s = w->ctx;
	if (events & LOOP_READ || (events & ~LOOP_WRITE) != 0) {
		conn_fill(&s->conn, POP3_IN_MAX);
		if (!s->tls_logged && tls_conn_established(&s->conn)) {
			char desc[128];
			s->tls_logged = true;
			log_info("pop3", s->id, "TLS established: %s",
				 tls_conn_describe(&s->conn, desc, sizeof(desc)));
		}
	}
	update_watch(s);
}

static void env_tick(void *arg)
{
	struct pop3_env *env = arg;
	uint64_t now = loop_now(env->loop);
	struct pop3_session *next;
	for (struct pop3_session *s = env->sessions; s != NULL; s = next) {
		next = s->next;
		if (s->freed || s->areq != NULL)
			continue;
		if (s->delayed && !env->draining) {
			auth_tick(s, now);
			continue;
		}
		bool drain_over = env->draining && now >= env->drain_deadline;
		if (now >= s->deadline || drain_over) {
			/* RFC 1939 3: on the autologout timer, close without
			 * entering UPDATE and without a response. */
			log_info("pop3", s->id, "%s in state %s",
				 drain_over ? "shutdown" : "timeout", state_names[s->state]);
			send_stop(s);
			s->closing = true;
			session_release(s);
		}
	}
}

void pop3_env_init(struct pop3_env *env, const struct config *cfg, struct loop *loop,
		   struct store_conn *store, atomic_uint *connections)
{
	memset(env, 0, sizeof(*env));
	env->cfg = cfg;
	env->loop = loop;
	env->store = store;
	env->connections = connections;
	loop_on_tick(loop, env_tick, env);
}

void pop3_session_accept(struct pop3_env *env, int fd, enum listener_kind kind)
{
	static atomic_uint next_id;
	struct pop3_session *s = xcalloc(1, sizeof(*s));
	s->env = env;
	s->kind = kind;
	s->send.fd = -1;
	conn_init(&s->conn, fd, POP3_IN_MAX, 0);
	snprintf(s->id, sizeof(s->id), "P%06X", atomic_fetch_add(&next_id, 1) & 0xffffff);
	s->state = POP3_S_AUTHORIZATION;
	s->parser = pop3_parser_new(NULL);
	s->next = env->sessions;
	if (env->sessions != NULL)
		env->sessions->prev = s;
	env->sessions = s;
	env->count++;
	unsigned n = atomic_fetch_add(env->connections, 1) + 1;
	log_info("pop3", s->id, "connect from %s:%u to %s:%u", s->conn.peer_ip, s->conn.peer_port,
		 s->conn.local_ip, s->conn.local_port);
	if (loop_watch(env->loop, &s->w, fd, LOOP_READ, session_io, s) < 0) {
		session_release(s);
		return;
	}
	if (kind == LISTENER_POP3S &&
	    (env->tls == NULL || tls_conn_start(&s->conn, env->tls) < 0)) {
		/* Implicit TLS (RFC 8314): no plaintext at all. */
		session_release(s);
		return;
	}
	if (n > env->cfg->max_connections || env->draining) {
		reply(s, "-ERR [SYS/TEMP] Too many connections, try again later");
		s->closing = true;
	} else {
		reply(s, "+OK %s POP3 server ready", env->cfg->hostname);
	}
	set_deadline(s);
	update_watch(s);
}

void pop3_env_drain(struct pop3_env *env, unsigned grace_ms)
{
	env->draining = true;
	env->drain_deadline = loop_now(env->loop) + grace_ms;
	if (env->count == 0 && env->drained != NULL) {
		env->drained(env->drained_ctx);
		return;
	}
	struct pop3_session *next;
	for (struct pop3_session *s = env->sessions; s != NULL; s = next) {
		next = s->next;
		if (s->freed || s->closing || s->dead)
			continue;
		/* Idle sessions are told now; a response being sent finishes
		 * first (update_watch checks again when it is done). */
		update_watch(s);
	}
}

unsigned pop3_env_sessions(const struct pop3_env *env)
{
	return env->count;
}

void pop3_env_close_all(struct pop3_env *env)
{
	struct pop3_session *next;
	for (struct pop3_session *s = env->sessions; s != NULL; s = next) {
		next = s->next;
		session_release(s);
	}
}
