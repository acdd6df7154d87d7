/* imap_session.c - IMAP session: connection, the command loop around the
 * incremental parser (literals, continuation requests, errors that the
 * session survives), the command table with its state rules, responses,
 * IDLE, timeouts and change notifications. The commands themselves live in
 * imap_cmd_*.c. */
#include "imap/imap_server.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/sasl.h"
#include "core/conn_deflate.h"
#include "core/log.h"
#include "core/util.h"
#include "imap/imap_private.h"
#include "imap/imap_quote.h"
#include "imap/imap_utf7.h"
#include "tls/tls.h"

static const char *const state_names[] = {"NOT_AUTH", "AUTH", "SELECTED", "LOGOUT"};

void imap_set_state(struct imap_session *s, enum imap_state st)
{
	if (s->state == st)
		return;
	log_debug("imap", s->id, "state %s -> %s", state_names[s->state], state_names[st]);
	s->state = st;
}

struct buf *imap_out(struct imap_session *s)
{
	return &s->conn.out;
}

void imap_write(struct imap_session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (buf_vprintf(&s->conn.out, fmt, ap) < 0)
		s->conn.error = true;
	va_end(ap);
}

void imap_untagged(struct imap_session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (buf_append(&s->conn.out, "* ", 2) < 0 || buf_vprintf(&s->conn.out, fmt, ap) < 0 ||
	    buf_append(&s->conn.out, "\r\n", 2) < 0)
		s->conn.error = true;
	va_end(ap);
}

static bool cmd_allows_expunge(const struct imap_command *cmd);

void imap_tagged(struct imap_session *s, const struct imap_command *cmd, const char *status,
		 const char *fmt, ...)
{
	/* Untagged updates for the selected mailbox go before the completion. */
	if (s->view != NULL && s->state == IMAP_S_SELECTED)
		imap_view_sync(s, cmd_allows_expunge(cmd));
	va_list ap;
	va_start(ap, fmt);
	if (buf_printf(&s->conn.out, "%s %s ", cmd->tag, status) < 0 ||
	    buf_vprintf(&s->conn.out, fmt, ap) < 0 || buf_append(&s->conn.out, "\r\n", 2) < 0)
		s->conn.error = true;
	va_end(ap);
	if (strcmp(status, "OK") != 0)
		s->errors++;
}

unsigned imap_quote_flags(const struct imap_session *s)
{
	return s->utf8 ? IMAP_QUOTE_UTF8 : 0;
}

bool imap_conn_is_tls(const struct imap_session *s)
{
	return s->conn.tls;
}

static bool peer_is_loopback(const struct imap_session *s)
{
	return strncmp(s->conn.peer_ip, "127.", 4) == 0 || strcmp(s->conn.peer_ip, "::1") == 0;
}

void imap_login_limits(struct imap_session *s)
{
	struct imap_parser_limits limits = {
		.max_literal = s->env->cfg->max_message_size,
		.max_literal_other = IMAP_LITERAL_MAX_OTHER,
		.max_command = s->env->cfg->max_message_size + 65536,
	};
	imap_parser_set_limits(s->parser, &limits);
}

bool imap_login_allowed(const struct imap_session *s)
{
	return s->env->auth != NULL &&
	       (imap_conn_is_tls(s) || (s->env->cfg->auth_plaintext_loopback && peer_is_loopback(s)));
}

void imap_capabilities(struct imap_session *s, struct buf *out)
{
	buf_append_str(out, "IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE");
	if (s->state == IMAP_S_NOT_AUTH) {
		if (s->env->tls != NULL && !imap_conn_is_tls(s))
			buf_append_str(out, " STARTTLS");
		if (imap_login_allowed(s))
			buf_printf(out, " AUTH=PLAIN AUTH=LOGIN");
		else
			buf_append_str(out, " LOGINDISABLED");
		return;
	}
	buf_printf(out,
		   " NAMESPACE UNSELECT UIDPLUS MOVE CHILDREN LIST-EXTENDED LIST-STATUS SPECIAL-USE"
		   " CONDSTORE QRESYNC ESEARCH SEARCHRES SORT SORT=DISPLAY ESORT THREAD=REFERENCES"
		   " THREAD=ORDEREDSUBJECT APPENDLIMIT=%llu QUOTA QUOTA=RES-STORAGE UTF8=ACCEPT"
		   " BINARY STATUS=SIZE%s",
		   (unsigned long long)s->env->cfg->max_message_size,
		   conn_deflate_active(&s->conn) ? "" : " COMPRESS=DEFLATE");
}

/* ----- mailbox names and flags ----- */

int imap_mailbox_arg(struct imap_session *s, const struct imap_arg *arg, char *out, size_t outlen,
		     const char **error_r)
{
	const char *str;
	size_t len;
	if (!imap_arg_get_astring(arg, &str, &len)) {
		*error_r = "mailbox name expected";
		return -1;
	}
	struct buf b;
	buf_init(&b, STORE_MAILBOX_NAME_MAX * 4);
	int ret = 0;
	if (!s->utf8) {
		if (imap_utf7_to_utf8(str, len, &b, error_r) < 0)
			ret = -1;
	} else if (buf_append(&b, str, len) < 0) {
		*error_r = "mailbox name too long";
		ret = -1;
	}
	/* A trailing separator (CREATE "a/") is allowed and ignored. */
	while (ret == 0 && b.len > 1 && b.data[b.len - 1] == '/')
		b.len--;
	if (ret == 0 && b.data != NULL)
		b.data[b.len] = '\0';
	if (ret == 0 && (b.len == 0 || imap_mailbox_name_check(b.data, b.len, NULL, error_r) < 0)) {
		if (b.len == 0)
			*error_r = "empty mailbox name";
		ret = -1;
	}
	/* The whole name becomes one directory name on disk (Maildir++
	 * ".a.b"), where '.' and '%' take 3 bytes: keep it under 255. */
	size_t ondisk = 1;
	for (size_t i = 0; ret == 0 && i < b.len; i++)
		ondisk += b.data[i] == '.' || b.data[i] == '%' ? 3 : 1;
	if (ret == 0 && (b.len + 1 > outlen || ondisk > 250)) {
		*error_r = "mailbox name too long";
		ret = -1;
	}
	if (ret == 0) {
		/* INBOX is case-insensitive, also as the first level. */
		if (strncasecmp(b.data, "INBOX", 5) == 0 && (b.data[5] == '\0' || b.data[5] == '/'))
			memcpy(b.data, "INBOX", 5);
		memcpy(out, b.data, b.len + 1);
	}
	buf_free(&b);
	return ret;
}

void imap_append_mailbox(struct imap_session *s, struct buf *out, const char *name)
{
	if (s->utf8) {
		imap_append_astring(out, name, strlen(name), IMAP_QUOTE_UTF8);
		return;
	}
	struct buf b;
	buf_init(&b, 0);
	const char *err;
	if (imap_utf8_to_utf7(name, strlen(name), &b, &err) < 0 || b.data == NULL)
		imap_append_astring(out, name, strlen(name), 0);
	else
		imap_append_astring(out, b.data, b.len, 0);
	buf_free(&b);
}

static const struct {
	uint32_t bit;
	const char *name;
} system_flags[] = {
	{STORE_FLAG_ANSWERED, "\\Answered"}, {STORE_FLAG_FLAGGED, "\\Flagged"},
	{STORE_FLAG_DELETED, "\\Deleted"},   {STORE_FLAG_SEEN, "\\Seen"},
	{STORE_FLAG_DRAFT, "\\Draft"},
};

void imap_append_flags(struct buf *out, uint32_t flags, const char *keywords, bool recent)
{
	bool first = true;
	buf_append(out, "(", 1);
	for (size_t i = 0; i < sizeof(system_flags) / sizeof(system_flags[0]); i++) {
		if ((flags & system_flags[i].bit) == 0)
			continue;
		if (!first)
			buf_append(out, " ", 1);
		buf_append_str(out, system_flags[i].name);
		first = false;
	}
	if (recent) {
		if (!first)
			buf_append(out, " ", 1);
		buf_append_str(out, "\\Recent");
		first = false;
	}
	if (keywords != NULL && keywords[0] != '\0') {
		if (!first)
			buf_append(out, " ", 1);
		buf_append_str(out, keywords);
	}
	buf_append(out, ")", 1);
}

/* An atom that can be a keyword (RFC 9051 flag-keyword = atom). */
static bool keyword_ok(const char *s, size_t len)
{
	if (len == 0 || len > 100)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= ' ' || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
			return false;
	}
	return true;
}

static int add_flag(const char *str, size_t len, uint32_t *flags, struct buf *kw,
		    const char **error_r)
{
	if (len > 0 && str[0] == '\\') {
		for (size_t i = 0; i < sizeof(system_flags) / sizeof(system_flags[0]); i++) {
			if (strlen(system_flags[i].name) == len &&
			    strncasecmp(str, system_flags[i].name, len) == 0) {
				*flags |= system_flags[i].bit;
				return 0;
			}
		}
		*error_r = "unknown or unsettable system flag";
		return -1;
	}
	if (kw == NULL || !keyword_ok(str, len)) {
		*error_r = "invalid keyword";
		return -1;
	}
	/* Keywords are case-insensitive: keep each only once. */
	const char *p = kw->data != NULL ? kw->data : "";
	while (*p != '\0') {
		size_t n = strcspn(p, " ");
		if (n == len && strncasecmp(p, str, len) == 0)
			return 0;
		p += n;
		while (*p == ' ')
			p++;
	}
	if ((kw->len > 0 && buf_append(kw, " ", 1) < 0) || buf_append(kw, str, len) < 0) {
		*error_r = "too many keywords";
		return -1;
	}
	return 0;
}

int imap_parse_flags(const struct imap_arg *arg, uint32_t *flags_r, struct buf *kw,
		     const char **error_r)
{
	const struct imap_arg *list;
	size_t n;
	const char *str;
	size_t len;
	*flags_r = 0;
	if (imap_arg_get_list(arg, &list, &n)) {
		for (size_t i = 0; i < n; i++) {
			if (!imap_arg_get_atom(&list[i], &str, &len)) {
				*error_r = "flag expected";
				return -1;
			}
			if (add_flag(str, len, flags_r, kw, error_r) < 0)
				return -1;
		}
		return 0;
	}
	if (imap_arg_get_atom(arg, &str, &len))
		return add_flag(str, len, flags_r, kw, error_r);
	*error_r = "flag list expected";
	return -1;
}

/* ----- command dispatch ----- */

static const struct imap_cmd_def *find_cmd(const char *name)
{
	const struct imap_cmd_def *tables[] = {imap_cmds_any, imap_cmds_mailbox, imap_cmds_message};
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
		for (const struct imap_cmd_def *d = tables[t]; d->name != NULL; d++)
			if (strcmp(d->name, name) == 0)
				return d;
	return NULL;
}

static bool cmd_allows_expunge(const struct imap_command *cmd)
{
	const struct imap_cmd_def *d = cmd != NULL ? find_cmd(cmd->name) : NULL;
	return d == NULL || (d->flags & IMAP_CMD_NO_EXPUNGE) == 0;
}

static void dispatch(struct imap_session *s, struct imap_command *cmd)
{
	const struct imap_cmd_def *d = find_cmd(cmd->name);
	if (d == NULL) {
		log_info("imap", s->id, "unknown command %s", log_escaped(0, cmd->name, strlen(cmd->name)));
		imap_tagged(s, cmd, "BAD", "Unknown command");
		imap_command_free(&cmd);
		return;
	}
	bool ok = (s->state == IMAP_S_NOT_AUTH && (d->flags & IMAP_CMD_NOT_AUTH)) ||
		  (s->state == IMAP_S_AUTH && (d->flags & IMAP_CMD_AUTH) &&
		   !(d->flags & IMAP_CMD_SELECTED)) ||
		  (s->state == IMAP_S_SELECTED && (d->flags & (IMAP_CMD_AUTH | IMAP_CMD_SELECTED)));
	if (!ok) {
		const char *why = s->state == IMAP_S_NOT_AUTH ? "Not authenticated"
				  : s->state == IMAP_S_AUTH && (d->flags & IMAP_CMD_SELECTED)
					  ? "No mailbox selected"
					  : "Command not allowed in this state";
		imap_tagged(s, cmd, "BAD", "%s", why);
		imap_command_free(&cmd);
		return;
	}
	s->cmd = cmd;
	s->cmd_async = false;
	d->fn(s, cmd);
	if (!s->cmd_async) {
		imap_command_free(&s->cmd);
	}
}

void imap_command_finished(struct imap_session *s)
{
	s->cmd_async = false;
	imap_command_free(&s->cmd);
	if (s->dead) {
		imap_session_release(s);
		return;
	}
	imap_update_watch(s);
}

/* ----- input ----- */

static uint64_t literal_limit(const struct imap_session *s, const char *name)
{
	if (name != NULL && strcmp(name, "APPEND") == 0)
		return s->env->cfg->max_message_size;
	return IMAP_LITERAL_MAX_OTHER;
}

static bool busy(const struct imap_session *s)
{
	return s->closing || s->cmd_async || s->areq != NULL || s->delayed || s->starttls_pending ||
	       s->compress_pending || s->conn.error || s->freed;
}

static void idle_done(struct imap_session *s)
{
	s->idling = false;
	struct imap_command fake = {.tag = s->idle_tag, .name = "IDLE"};
	imap_tagged(s, &fake, "OK", "Idle completed");
}

static void process_input(struct imap_session *s)
{
	struct buf *in = &s->conn.in;
	while (!busy(s) && in->len > 0 && s->conn.out.len <= IMAP_OUT_HIGH_WATER) {
		size_t used = 0;
		enum imap_parse_result r = imap_parser_feed(s->parser, in->data, in->len, &used);
		buf_consume(in, used);
		switch (r) {
		case IMAP_PARSE_NEED_MORE:
			return;
		case IMAP_PARSE_LITERAL: {
			uint64_t size = imap_parser_literal_size(s->parser);
			const char *name = imap_parser_command_name(s->parser);
			const char *tag = imap_parser_tag(s->parser);
			if (size > literal_limit(s, name)) {
				imap_parser_literal_reject(s->parser);
				imap_write(s, "%s %s [TOOBIG] Literal too large\r\n", tag != NULL ? tag : "*",
					   name != NULL && strcmp(name, "APPEND") == 0 ? "NO" : "BAD");
			} else {
				imap_parser_literal_accept(s->parser);
				imap_write(s, "+ OK\r\n");
			}
			break;
		}
		case IMAP_PARSE_LINE: {
			size_t len;
			const char *line = imap_parser_line(s->parser, &len);
			if (s->idling) {
				if (len == 4 && strncasecmp(line, "DONE", 4) == 0) {
					idle_done(s);
				} else {
					s->idling = false;
					struct imap_command fake = {.tag = s->idle_tag, .name = "IDLE"};
					imap_tagged(s, &fake, "BAD", "Expected DONE");
				}
			} else if (s->sasl_active) {
				imap_auth_line(s, line, len);
			}
			break;
		}
		case IMAP_PARSE_ERROR: {
			enum imap_parse_error code;
			bool fatal;
			const char *why = imap_parser_error(s->parser, &code, &fatal);
			const char *tag = imap_parser_tag(s->parser);
			s->errors++;
			if (s->idling || s->sasl_active) {
				/* A bad line ends IDLE/AUTHENTICATE. */
				bool idle = s->idling;
				s->idling = false;
				s->sasl_active = false;
				sasl_wipe(&s->sasl);
				imap_write(s, "%s BAD %s\r\n", idle ? s->idle_tag : s->auth_tag, why);
			} else {
				imap_write(s, "%s BAD %s%s\r\n", tag != NULL ? tag : "*",
					   code == IMAP_PARSE_ERR_LITERAL_TOO_BIG ||
							   code == IMAP_PARSE_ERR_COMMAND_TOO_BIG
						   ? "[TOOBIG] "
						   : "",
					   why);
			}
			if (fatal) {
				imap_untagged(s, "BYE Too many errors");
				s->closing = true;
				return;
			}
			break;
		}
		case IMAP_PARSE_COMPLETE: {
			struct imap_command *cmd = imap_parser_take_command(s->parser);
			if (cmd == NULL)
				break;
			if (s->state == IMAP_S_AUTH || s->state == IMAP_S_SELECTED)
				s->deadline = loop_now(s->env->loop) + IMAP_TIMEOUT_AUTH * 1000ull;
			else
				s->deadline = loop_now(s->env->loop) + IMAP_TIMEOUT_PREAUTH * 1000ull;
			dispatch(s, cmd);
			break;
		}
		}
		if (s->errors > 50 && !s->closing) {
			imap_untagged(s, "BYE Too many errors");
			s->closing = true;
		}
	}
}

/* ----- connection plumbing ----- */

static void session_free(void *arg)
{
	struct imap_session *s = arg;
	free(s);
}

void imap_session_release(struct imap_session *s)
{
	if (s->freed)
		return;
	imap_fetch_cancel(s);
	if (s->cmd_async || s->areq != NULL) {
		/* An auth worker or the committer will come back to us. */
		s->dead = true;
		loop_unwatch(s->env->loop, &s->w);
		return;
	}
	s->freed = true;
	struct imap_env *env = s->env;
	loop_unwatch(env->loop, &s->w);
	sasl_wipe(&s->sasl);
	imap_view_close(s);
	imap_command_free(&s->cmd);
	imap_parser_free(&s->parser);
	log_info("imap", s->id, "disconnect from %s%s%s", s->conn.peer_ip,
		 s->authenticated ? " user=" : "", s->authenticated ? s->user.local : "");
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

static void starttls_switch(struct imap_session *s)
{
	s->starttls_pending = false;
	size_t dropped = s->conn.in.len;
	if (tls_conn_start(&s->conn, s->env->tls) < 0) {
		s->closing = true;
		return;
	}
	/* Whatever was pipelined after STARTTLS came before encryption. */
	imap_parser_reset(s->parser);
	if (dropped > 0)
		log_info("imap", s->id, "discarded %zu byte(s) sent before the TLS handshake", dropped);
}

void imap_update_watch(struct imap_session *s)
{
	if (s->freed)
		return;
	if (s->dead) {
		if (!s->cmd_async && s->areq == NULL)
			imap_session_release(s);
		return;
	}
	for (int round = 0; round < 64; round++) {
		size_t before = s->conn.in.len;
		/* Input held back because too much output was pending is not the
		 * same as input that is an incomplete command. */
		bool held = s->conn.out.len > IMAP_OUT_HIGH_WATER;
		process_input(s);
		int fl = conn_flush(&s->conn);
		if (fl < 0 || s->conn.error) {
			imap_session_release(s);
			return;
		}
		if (fl == 1 && s->starttls_pending) {
			starttls_switch(s);
			continue;
		}
		if (fl == 1 && s->compress_pending) {
			/* The OK went out uncompressed; everything after is. */
			s->compress_pending = false;
			if (conn_deflate_start(&s->conn) < 0)
				s->closing = true;
			continue;
		}
		if (fl == 1 && s->closing) {
			imap_session_release(s);
			return;
		}
		if (s->fetch != NULL && !s->closing && s->conn.out.len <= IMAP_OUT_LOW_WATER) {
			imap_fetch_resume(s);
			continue;
		}
		/* Go round again only when writing made room for held input. */
		if (s->conn.in.len == 0 || busy(s) || s->conn.out.len > IMAP_OUT_HIGH_WATER ||
		    (s->conn.in.len == before && !held))
			break;
	}
	if (s->conn.eof && !s->cmd_async && s->areq == NULL && s->conn.out.len == 0) {
		imap_session_release(s);
		return;
	}
	bool want_input = !busy(s) && !s->conn.eof && s->conn.out.len <= IMAP_OUT_HIGH_WATER;
	conn_trim(&s->conn);
	unsigned events = conn_wanted_events(&s->conn, want_input);
	if (s->fetch != NULL)
		events |= LOOP_WRITE; /* writable again: the FETCH goes on (fairly, one pass each) */
	if (loop_rewatch(s->env->loop, &s->w, events) < 0)
		imap_session_release(s);
}

static void session_io(struct watcher *w, uint32_t events)
{
	struct imap_session *s = w->ctx;
	if (events & LOOP_READ || (events & ~LOOP_WRITE) != 0) {
		conn_fill(&s->conn, IMAP_IN_MAX);
		if (!s->tls_logged && tls_conn_established(&s->conn)) {
			char desc[128];
			s->tls_logged = true;
			log_info("imap", s->id, "TLS established: %s",
				 tls_conn_describe(&s->conn, desc, sizeof(desc)));
		}
	}
	imap_update_watch(s);
}

static void env_tick(void *arg)
{
	struct imap_env *env = arg;
	uint64_t now = loop_now(env->loop);
	struct imap_session *next;
	for (struct imap_session *s = env->sessions; s != NULL; s = next) {
		next = s->next;
		if (s->freed || (s->cmd_async && s->fetch == NULL) || s->areq != NULL)
			continue;
		if (s->delayed) {
			imap_auth_tick(s, now);
			continue;
		}
		bool drain_over = env->draining && now >= env->drain_deadline;
		if (now >= s->deadline || drain_over) {
			imap_fetch_cancel(s);
			imap_untagged(s, drain_over ? "BYE Server shutting down"
						    : "BYE Autologout; idle for too long");
			log_info("imap", s->id, "%s", drain_over ? "shutdown" : "timeout");
			s->closing = true;
			imap_update_watch(s);
			if (!s->freed)
				imap_session_release(s);
		} else if (s->idling && s->view != NULL && s->view->changed) {
			imap_view_sync(s, true);
			imap_update_watch(s);
		}
	}
}

void imap_env_init(struct imap_env *env, const struct config *cfg, struct loop *loop,
		   struct store_conn *store, atomic_uint *connections)
{
	memset(env, 0, sizeof(*env));
	env->cfg = cfg;
	env->loop = loop;
	env->store = store;
	env->connections = connections;
	loop_on_tick(loop, env_tick, env);
}

void imap_session_accept(struct imap_env *env, int fd, enum listener_kind kind)
{
	static atomic_uint next_id;
	struct imap_session *s = xcalloc(1, sizeof(*s));
	s->env = env;
	s->kind = kind;
	conn_init(&s->conn, fd, IMAP_IN_MAX, 0);
	snprintf(s->id, sizeof(s->id), "I%06X", atomic_fetch_add(&next_id, 1) & 0xffffff);
	s->state = IMAP_S_NOT_AUTH;
	/* Before login a client gets small limits: nothing it sends can make
	 * us buffer much. They grow after authentication (imap_login_limits). */
	struct imap_parser_limits limits = {
		.max_line = 65536, /* an ID command may be about 62 KB (RFC 2971) */
		.max_literal = 8192,
		.max_command = 81920,
		.max_skip = 1024 * 1024,
	};
	s->parser = imap_parser_new(&limits, IMAP_PARSER_LITERAL_PLUS);
	s->next = env->sessions;
	if (env->sessions != NULL)
		env->sessions->prev = s;
	env->sessions = s;
	env->count++;
	unsigned n = atomic_fetch_add(env->connections, 1) + 1;
	log_info("imap", s->id, "connect from %s:%u to %s:%u", s->conn.peer_ip, s->conn.peer_port,
		 s->conn.local_ip, s->conn.local_port);
	if (loop_watch(env->loop, &s->w, fd, LOOP_READ, session_io, s) < 0) {
		imap_session_release(s);
		return;
	}
	if (kind == LISTENER_IMAPS && (env->tls == NULL || tls_conn_start(&s->conn, env->tls) < 0)) {
		imap_session_release(s);
		return;
	}
	if (n > env->cfg->max_connections || env->draining) {
		imap_untagged(s, "BYE Too many connections, try again later");
		s->closing = true;
	} else {
		struct buf caps;
		buf_init(&caps, 4096);
		imap_capabilities(s, &caps);
		imap_untagged(s, "OK [CAPABILITY %s] %s IMAP server ready", caps.data,
			      env->cfg->hostname);
		buf_free(&caps);
	}
	s->deadline = loop_now(env->loop) + IMAP_TIMEOUT_PREAUTH * 1000ull;
	imap_update_watch(s);
}

void imap_env_drain(struct imap_env *env, unsigned grace_ms)
{
	env->draining = true;
	env->drain_deadline = loop_now(env->loop) + grace_ms;
	if (env->count == 0 && env->drained != NULL) {
		env->drained(env->drained_ctx);
		return;
	}
	struct imap_session *next;
	for (struct imap_session *s = env->sessions; s != NULL; s = next) {
		next = s->next;
		if (s->freed || s->cmd_async || s->areq != NULL || s->closing)
			continue;
		if (s->idling) {
			s->idling = false;
			struct imap_command fake = {.tag = s->idle_tag, .name = "IDLE"};
			imap_tagged(s, &fake, "OK", "Idle completed");
		}
		imap_untagged(s, "BYE Server shutting down");
		s->closing = true;
		imap_update_watch(s);
	}
}

unsigned imap_env_sessions(const struct imap_env *env)
{
	return env->count;
}

void imap_env_close_all(struct imap_env *env)
{
	struct imap_session *next;
	for (struct imap_session *s = env->sessions; s != NULL; s = next) {
		next = s->next;
		imap_session_release(s);
	}
}

void imap_env_mailbox_changed(struct imap_env *env, int64_t mailbox_id)
{
	for (struct imap_session *s = env->sessions; s != NULL; s = s->next) {
		if (s->freed || s->view == NULL || s->view->mb.id != mailbox_id)
			continue;
		s->view->changed = true;
		if (s->idling && !busy(s)) {
			imap_view_sync(s, true);
			imap_update_watch(s);
		}
	}
}
