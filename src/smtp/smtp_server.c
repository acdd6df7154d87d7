/* smtp_server.c - SMTP server session: an explicit state machine driven by
 * the event loop. Each command is checked first ("may it run in this
 * state?") and then run; every state change goes through
 * smtp_set_state(). Message content is decoded by smtp_data.c and
 * streamed into the store; the final reply waits for the store's group
 * commit, so "250" always means "on stable storage". */
#include "smtp/smtp_server.h"
#include "smtp/smtp_private.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "core/conn.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/util.h"
#include "queue/queue.h"
#include "smtp/smtp_addr.h"
#include "smtp/smtp_data.h"
#include "smtp/smtp_parser.h"
#include "smtp/smtp_submit.h"
#include "store/resolve.h"
#include "store/store.h"
#include "tls/tls.h"


const char *const smtp_state_names[] = {"GREETING", "READY", "MAIL", "RCPT",
					"DATA",     "BDAT",  "QUIT"};

void smtp_set_state(struct smtp_session *s, enum smtp_state st)
{
	if (s->state == st)
		return;
	log_debug("smtp", s->id, "state %s -> %s", smtp_state_names[s->state], smtp_state_names[st]);
	s->state = st;
}

void smtp_reply(struct smtp_session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (buf_vprintf(&s->conn.out, fmt, ap) < 0 || buf_append(&s->conn.out, "\r\n", 2) < 0)
		s->conn.error = true;
	va_end(ap);
}

/* Timeouts. Waiting for a command: the whole command must arrive within
 * timeout_command of the previous reply (a byte now and then does not
 * help). Receiving content: each read of N bytes moves the deadline on by
 * N / min_data_rate seconds, never beyond timeout_data from now (Postfix's
 * smtpd_min_data_rate): a slow but honest client is fine, a trickle is not. */
void smtp_set_deadline(struct smtp_session *s)
{
	const struct config *cfg = s->env->cfg;
	unsigned secs = s->state == SMTP_S_DATA || s->txn.bdat_active ? cfg->timeout_data
								       : cfg->timeout_command;
	s->deadline = loop_now(s->env->loop) + (uint64_t)secs * 1000u;
}

static void extend_data_deadline(struct smtp_session *s, size_t bytes)
{
	const struct config *cfg = s->env->cfg;
	uint64_t cap = loop_now(s->env->loop) + (uint64_t)cfg->timeout_data * 1000u;
	if (cfg->min_data_rate == 0) {
		s->deadline = cap;
		return;
	}
	uint64_t d = s->deadline + (uint64_t)bytes * 1000u / cfg->min_data_rate;
	s->deadline = d < cap ? d : cap;
}

/* Count an error reply; too many and the session ends. */
void smtp_error_reply(struct smtp_session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (buf_vprintf(&s->conn.out, fmt, ap) < 0 || buf_append(&s->conn.out, "\r\n", 2) < 0)
		s->conn.error = true;
	va_end(ap);
	if (++s->errors >= s->env->cfg->max_errors) {
		log_info("smtp", s->id, "too many errors (%u), disconnecting", s->errors);
		smtp_reply(s, "421 4.7.0 %s Error: too many errors", s->env->cfg->hostname);
		smtp_set_state(s, SMTP_S_QUIT);
		s->closing = true;
	}
}

static void txn_reset(struct smtp_session *s)
{
	store_msg_abort(&s->txn.msg);
	resolve_result_free(&s->txn.rcpt);
	buf_free(&s->txn.rcpt_log);
	buf_free(&s->txn.headers);
	for (size_t i = 0; i < s->txn.nremote; i++) {
		free(s->txn.remote[i]);
		free(s->txn.remote_notify[i]);
		free(s->txn.remote_orcpt[i]);
	}
	free(s->txn.remote);
	free(s->txn.remote_notify);
	free(s->txn.remote_orcpt);
	free(s->txn.envid);
	memset(&s->txn, 0, sizeof(s->txn));
}

/* ----- transaction log ----- */

static void log_txn(struct smtp_session *s, const char *outcome)
{
	char from[SMTP_PATH_MAX * 2];
	if (smtp_addr_format(&s->txn.from, from, sizeof(from)) < 0)
		from[0] = '\0';
	const struct buf *to = &s->txn.rcpt_log;
	char who[400] = "";
	if (s->authenticated)
		snprintf(who, sizeof(who), " user=%s@%s", s->user.local, s->user.domain);
	log_info("smtp", s->id, "qid=%s from=<%s>%s size=%llu nrcpt=%u to=%s outcome=%s",
		 s->txn.qid, log_escaped(0, from, strlen(from)), who,
		 (unsigned long long)s->txn.size, s->txn.nrcpt,
		 to->len > 0 ? log_escaped(1, to->data, to->len) : "-", outcome);
}

/* ----- message start: trace headers ----- */

static void helo_for_header(const char *helo, char *out, size_t outlen)
{
	size_t o = 0;
	for (const char *p = helo; *p != '\0' && o + 1 < outlen; p++) {
		unsigned char c = (unsigned char)*p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  c == '.' || c == '-' || c == '_' || c == ':' || c == '[' || c == ']';
		out[o++] = ok ? (char)c : '?';
	}
	out[o] = '\0';
	if (o == 0)
		snprintf(out, outlen, "unknown");
}

/* Open the message and write the trace headers. Returns 0, -1 (storage
 * error) or -2 (out of space). */
static int txn_begin_message(struct smtp_session *s)
{
	const struct config *cfg = s->env->cfg;
	if (store_msg_begin(s->env->store, &s->txn.msg) < 0) {
		int full = errno == ENOSPC || errno == EDQUOT;
		log_error("smtp", s->id, "cannot start message: %s", store_conn_error(s->env->store));
		return full ? -2 : -1;
	}
	random_id(s->txn.qid, sizeof(s->txn.qid), 12);
	char from[SMTP_PATH_MAX * 2], helo[256], date[64], iplit[80];
	if (smtp_addr_format(&s->txn.from, from, sizeof(from)) < 0)
		from[0] = '\0';
	helo_for_header(s->helo, helo, sizeof(helo));
	rfc5322_date(time(NULL), date, sizeof(date));
	if (strchr(s->conn.peer_ip, ':') != NULL)
		snprintf(iplit, sizeof(iplit), "[IPv6:%s]", s->conn.peer_ip);
	else
		snprintf(iplit, sizeof(iplit), "[%s]", s->conn.peer_ip);
	/* RFC 3848 / RFC 6531: ESMTP, ESMTPS (TLS), ESMTPA (AUTH), ESMTPSA. */
	char proto[32];
	bool tls = s->conn.tls;
	snprintf(proto, sizeof(proto), "%s%s%s",
		 s->txn.smtputf8 ? "UTF8SMTP" : s->esmtp ? "ESMTP" : "SMTP",
		 tls && (s->esmtp || s->txn.smtputf8) ? "S" : "",
		 s->authenticated ? "A" : "");
	struct buf hdr;
	buf_init(&hdr, 4096);
	buf_printf(&hdr, "Return-Path: <%s>\r\n", from);
	buf_printf(&hdr, "Received: from %s (%s)\r\n\tby %s (postane) with %s id %s", helo, iplit,
		   cfg->hostname, proto, s->txn.qid);
	if (s->txn.nrcpt == 1)
		buf_printf(&hdr, "\r\n\tfor <%s>", s->txn.first_rcpt);
	buf_printf(&hdr, "; %s\r\n", date);
	int ret = store_msg_write(s->txn.msg, hdr.data, hdr.len);
	buf_free(&hdr);
	/* Submission: hold the header section back until it is complete, to
	 * check From:/Sender: and add Message-ID:/Date: (RFC 6409 8). */
	if (s->authenticated) {
		s->txn.hold_headers = true;
		buf_init(&s->txn.headers, 1024 * 1024);
	}
	return ret;
}

/* ----- commit ----- */

static void commit_done(void *arg)
{
	struct smtp_session *s = arg;
	s->commit_pending = false;
	if (s->dead) {
		log_txn(s, s->commit.result == 0 ? "stored (client gone before reply)"
						 : "failed (client gone)");
		smtp_session_release(s);
		return;
	}
	if (s->commit.result == 0) {
		smtp_reply(s, "250 2.0.0 Ok: queued as %s", s->txn.qid);
		log_txn(s, "250 stored");
		if (s->txn.nremote > 0)
			queue_runner_kick(s->env->queue);
		/* Like Postfix: a client that delivers mail is not idling. */
		s->junk = 0;
	} else if (s->commit.disk_full) {
		smtp_reply(s, "452 4.3.1 Insufficient system storage");
		log_txn(s, "452 disk full");
	} else {
		smtp_reply(s, "451 4.3.0 Error: local storage failure, try again later");
		log_txn(s, "451 storage failure");
	}
	txn_reset(s);
	smtp_set_state(s, SMTP_S_READY);
	smtp_set_deadline(s);
	smtp_process(s);
	smtp_update_watch(s);
}

/* Runs on the committer thread: copy the result, then hop back to the loop. */
static void commit_cb(void *ctx, const struct store_commit_result *res)
{
	struct smtp_session *s = ctx;
	s->commit.result = res->result;
	s->commit.disk_full = res->disk_full;
	snprintf(s->commit.error, sizeof(s->commit.error), "%s", res->error != NULL ? res->error : "");
	loop_post(s->env->loop, commit_done, s);
}

/* End of message content (DATA end marker or BDAT LAST). */
static void flush_held_headers(struct smtp_session *s);

static void finish_message(struct smtp_session *s)
{
	if (s->txn.hold_headers && !s->txn.too_big)
		flush_held_headers(s);
	if (s->txn.dec.bare_lf > 0 || s->txn.dec.bare_cr > 0)
		log_info("smtp", s->id, "qid=%s normalised %llu bare LF and %llu bare CR to CRLF",
			 s->txn.qid, (unsigned long long)s->txn.dec.bare_lf,
			 (unsigned long long)s->txn.dec.bare_cr);
	bool full = false;
	const char *err = s->txn.msg != NULL ? store_msg_error(s->txn.msg, &full) : NULL;
	if (s->txn.too_big) {
		smtp_error_reply(s, "552 5.3.4 Error: message too big (limit %llu bytes)",
			    (unsigned long long)s->env->cfg->max_message_size);
		log_txn(s, "552 too big");
	} else if (s->txn.reject != NULL) {
		smtp_error_reply(s, "%s", s->txn.reject);
		log_txn(s, s->txn.reject);
	} else if (s->txn.msg == NULL || err != NULL) {
		if (full) {
			smtp_reply(s, "452 4.3.1 Insufficient system storage");
			log_txn(s, "452 disk full");
		} else {
			smtp_reply(s, "451 4.3.0 Error: local storage failure, try again later");
			log_txn(s, "451 storage failure");
		}
	} else {
		struct store_msg *msg = s->txn.msg;
		char from[SMTP_PATH_MAX * 2], user[400];
		if (smtp_addr_format(&s->txn.from, from, sizeof(from)) < 0)
			from[0] = '\0';
		snprintf(user, sizeof(user), "%s@%s", s->user.local, s->user.domain);
		struct store_envelope env = {
			.sender = from,
			.accounts = s->txn.rcpt.accounts,
			.naccounts = s->txn.rcpt.n,
			.remote = (const char *const *)s->txn.remote,
			.nremote = s->txn.nremote,
			.smtputf8 = s->txn.smtputf8,
			.body_8bit = s->txn.body_8bit,
			.auth_user = s->authenticated ? user : NULL,
			.qid = s->txn.qid,
			.envid = s->txn.envid,
			.ret = s->txn.dsn_ret,
			.remote_notify = (const char *const *)s->txn.remote_notify,
			.remote_orcpt = (const char *const *)s->txn.remote_orcpt,
		};
		s->txn.msg = NULL;
		s->commit_pending = true;
		smtp_set_state(s, SMTP_S_READY);
		store_msg_commit_env(msg, &env, commit_cb, s);
		return;
	}
	txn_reset(s);
	smtp_set_state(s, SMTP_S_READY);
}

/* Count Received: fields while the header section streams by: more than
 * SMTP_MAX_HOPS means a mail loop (RFC 5321 6.3; Postfix's hopcount_limit). */
#define SMTP_MAX_HOPS 50
static void count_hops(struct smtp_session *s, const char *data, size_t len)
{
	static const char want[] = "received:";
	struct smtp_txn *t = &s->txn;
	for (size_t i = 0; i < len && !t->hdr_done; i++) {
		char c = data[i];
		if (!t->mid_line) {
			if (c == '\r' || c == '\n') { /* the empty line: body next */
				t->hdr_done = true;
				break;
			}
			t->mid_line = true;
			t->hdr_match = 0;
		}
		if (c == '\n') {
			t->mid_line = false;
			continue;
		}
		if (t->hdr_match < sizeof(want) - 1) {
			char lc = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
			if (lc == want[t->hdr_match]) {
				if (++t->hdr_match == sizeof(want) - 1 && ++t->hops > SMTP_MAX_HOPS &&
				    t->reject == NULL)
					t->reject = "554 5.4.6 Error: too many hops (Received: fields); "
						    "mail loop?";
			} else {
				t->hdr_match = sizeof(want); /* no match on this line */
			}
		}
	}
}

/* Feed decoded content to the message, enforcing the size limit. */
static void content_write(struct smtp_session *s, const char *data, size_t len)
{
	if (len == 0)
		return;
	if (!s->txn.hdr_done)
		count_hops(s, data, len);
	s->txn.size += len;
	if (s->txn.too_big)
		return;
	if (s->txn.size > s->env->cfg->max_message_size) {
		s->txn.too_big = true;
		store_msg_abort(&s->txn.msg);
		return;
	}
	if (s->txn.hold_headers) {
		size_t scanned = s->txn.headers.len > 3 ? s->txn.headers.len - 3 : 0;
		if (buf_append(&s->txn.headers, data, len) < 0) {
			s->txn.reject = "552 5.3.4 Error: header section too large";
			s->txn.hold_headers = false;
			buf_free(&s->txn.headers);
			store_msg_abort(&s->txn.msg);
			return;
		}
		/* Only the new bytes (and the three before) can complete the
		 * blank line: the scan stays linear in the header size. */
		if ((scanned == 0 &&
		     submit_header_end(s->txn.headers.data, s->txn.headers.len) > 0) ||
		    (scanned > 0 && submit_header_end(s->txn.headers.data + scanned,
						      s->txn.headers.len - scanned) > 0))
			flush_held_headers(s);
		return;
	}
	if (s->txn.msg != NULL && s->txn.reject == NULL)
		store_msg_write(s->txn.msg, data, len);
}

/* The address in a From:/Sender: header, split and normalised like an
 * envelope address; false if it is not a usable mailbox. */
static bool header_addr_owned(struct smtp_session *s, const char *addr)
{
	struct smtp_addr a;
	const char *why;
	if (smtp_addr_parse(addr, strlen(addr), SMTP_ADDR_NO_BRACKETS | SMTP_ADDR_ALLOW_UTF8, &a,
			    &why) != SMTP_ADDR_OK ||
	    a.literal)
		return false;
	ascii_lower(a.local);
	return smtp_sender_allowed(s, a.local, a.domain);
}

/* Submission: check the complete header section, add what is missing, and
 * write everything held so far. */
static void flush_held_headers(struct smtp_session *s)
{
	struct buf *h = &s->txn.headers;
	size_t end = submit_header_end(h->data != NULL ? h->data : "", h->len);
	if (end == 0)
		end = h->len; /* data ended inside the header section */
	struct submit_headers sh;
	submit_scan_headers(h->data != NULL ? h->data : "", end, &sh);
	if (sh.from_fields == 0) {
		s->txn.reject = "550 5.6.0 Error: message has no From: header";
	} else if (sh.from_fields > 1 || sh.unparsable) {
		s->txn.reject = "550 5.6.0 Error: malformed From: or Sender: header";
	} else if (s->user.send_as != STORE_SEND_AS_ANY) {
		for (unsigned i = 0; i < sh.naddrs; i++) {
			if (!header_addr_owned(s, sh.addrs[i])) {
				log_info("smtp", s->id, "From:/Sender: %s not owned by %s@%s",
					 log_escaped(0, sh.addrs[i], strlen(sh.addrs[i])), s->user.local,
					 s->user.domain);
				s->txn.reject = "550 5.7.1 Error: From: header address not owned by "
						"the authenticated user";
				break;
			}
		}
	}
	if (s->txn.reject == NULL && s->txn.msg != NULL) {
		struct buf add;
		buf_init(&add, 4096);
		if (!sh.has_message_id) {
			char rnd[17];
			random_id(rnd, sizeof(rnd), 16);
			buf_printf(&add, "Message-ID: <%s.%s@%s>\r\n", s->txn.qid, rnd,
				   s->env->cfg->hostname);
		}
		if (!sh.has_date) {
			char date[64];
			rfc5322_date(time(NULL), date, sizeof(date));
			buf_printf(&add, "Date: %s\r\n", date);
		}
		if (add.len > 0)
			store_msg_write(s->txn.msg, add.data, add.len);
		buf_free(&add);
		if (h->len > 0)
			store_msg_write(s->txn.msg, h->data, h->len);
	}
	s->txn.hold_headers = false;
	buf_free(h);
}

static _Thread_local char decode_buf[2 * CHUNK + 8];

/* DATA state: decode what is buffered. Returns false when more input is needed. */
static bool process_data(struct smtp_session *s)
{
	if (s->conn.in.len == 0)
		return false;
	size_t take = s->conn.in.len < CHUNK ? s->conn.in.len : CHUNK;
	size_t out_len;
	size_t used = smtp_data_feed(&s->txn.dec, s->conn.in.data, take, decode_buf, &out_len);
	buf_consume(&s->conn.in, used);
	content_write(s, decode_buf, out_len);
	if (s->txn.dec.done)
		finish_message(s);
	return true;
}

/* BDAT chunk bytes. Returns false when more input is needed. */
static bool process_bdat(struct smtp_session *s)
{
	struct smtp_txn *t = &s->txn;
	if (t->bdat_remaining > 0) {
		if (s->conn.in.len == 0)
			return false;
		size_t take = s->conn.in.len < CHUNK ? s->conn.in.len : CHUNK;
		if (take > t->bdat_remaining)
			take = (size_t)t->bdat_remaining;
		if (!t->bdat_discard) {
			size_t out_len;
			smtp_data_feed(&t->dec, s->conn.in.data, take, decode_buf, &out_len);
			content_write(s, decode_buf, out_len);
		}
		buf_consume(&s->conn.in, take);
		t->bdat_remaining -= take;
		if (t->bdat_remaining > 0)
			return true;
	}
	/* Chunk complete. */
	t->bdat_active = false;
	if (t->bdat_discard) {
		const char *r = t->bdat_reply;
		t->bdat_discard = false;
		t->bdat_reply = NULL;
		smtp_error_reply(s, "%s", r);
		smtp_set_deadline(s);
		return true;
	}
	if (t->too_big) {
		smtp_error_reply(s, "552 5.3.4 Error: message too big (limit %llu bytes)",
			    (unsigned long long)s->env->cfg->max_message_size);
		log_txn(s, "552 too big");
		txn_reset(s);
		smtp_set_state(s, SMTP_S_READY);
	} else if (t->bdat_last) {
		size_t out_len;
		smtp_data_finish(&t->dec, decode_buf, &out_len);
		content_write(s, decode_buf, out_len);
		finish_message(s);
	} else {
		smtp_reply(s, "250 2.0.0 %llu octets received", (unsigned long long)t->size);
	}
	smtp_set_deadline(s);
	return true;
}

/* ----- commands ----- */

static void cmd_helo(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	const struct config *cfg = s->env->cfg;
	txn_reset(s);
	snprintf(s->helo, sizeof(s->helo), "%s", cmd->arg);
	s->esmtp = cmd->verb == SMTP_VERB_EHLO;
	smtp_set_state(s, SMTP_S_READY);
	if (!s->esmtp) {
		smtp_reply(s, "250 %s", cfg->hostname);
		return;
	}
	smtp_reply(s, "250-%s", cfg->hostname);
	smtp_reply(s, "250-PIPELINING");
	smtp_reply(s, "250-SIZE %llu", (unsigned long long)cfg->max_message_size);
	smtp_reply(s, "250-8BITMIME");
	smtp_reply(s, "250-DSN");
	smtp_reply(s, "250-ENHANCEDSTATUSCODES");
	smtp_reply(s, "250-SMTPUTF8");
	if (smtp_tls_offered(s))
		smtp_reply(s, "250-STARTTLS");
	if (smtp_auth_offered(s))
		smtp_reply(s, "250-AUTH %s", sasl_mechanisms());
	smtp_reply(s, "250 CHUNKING");
}

static const char *addr_error_reply(enum smtp_addr_error e, bool sender)
{
	switch (e) {
	case SMTP_ADDR_ERR_UTF8:
		return "553 5.6.7 Error: UTF-8 address requires the SMTPUTF8 parameter";
	case SMTP_ADDR_ERR_SOURCE_ROUTE:
		return sender ? "501 5.1.7 Error: source routes are not accepted"
			      : "501 5.1.3 Error: source routes are not accepted";
	default:
		return sender ? "501 5.1.7 Error: bad sender address syntax"
			      : "501 5.1.3 Error: bad recipient address syntax";
	}
}

static void cmd_mail(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	const struct config *cfg = s->env->cfg;
	bool utf8 = false, body8 = false;
	uint64_t declared = 0;
	for (unsigned i = 0; i < cmd->param_count; i++) {
		const struct smtp_param *p = &cmd->params[i];
		if (ascii_ieq(p->keyword, "SIZE")) {
			uint64_t size;
			if (p->value == NULL || parse_u64(p->value, strlen(p->value), &size) < 0) {
				smtp_error_reply(s, "501 5.5.4 Error: bad SIZE parameter");
				return;
			}
			if (size > cfg->max_message_size) {
				smtp_error_reply(s, "552 5.3.4 Error: message size exceeds the limit of %llu bytes",
					    (unsigned long long)cfg->max_message_size);
				return;
			}
			declared = size;
		} else if (ascii_ieq(p->keyword, "BODY")) {
			if (p->value != NULL && ascii_ieq(p->value, "8BITMIME")) {
				body8 = true;
			} else if (p->value == NULL || !ascii_ieq(p->value, "7BIT")) {
				smtp_error_reply(s, "501 5.5.4 Error: unsupported BODY type");
				return;
			}
		} else if (ascii_ieq(p->keyword, "SMTPUTF8") && p->value == NULL) {
			utf8 = true;
		} else if (p->dsn) {
			/* RET, ENVID: checked by the parser, kept below. */
		} else {
			smtp_error_reply(s, "555 5.5.4 Error: unsupported parameter %s",
				    log_escaped(0, p->keyword, strlen(p->keyword)));
			return;
		}
	}
	if (smtp_is_submission(s) && !s->authenticated) {
		smtp_error_reply(s, "530 5.7.0 Error: authentication required");
		return;
	}
	struct smtp_addr from;
	const char *why;
	unsigned flags = SMTP_ADDR_ALLOW_NULL | (utf8 ? SMTP_ADDR_ALLOW_UTF8 : 0) |
			 (cmd->path[0] == '<' ? 0 : SMTP_ADDR_NO_BRACKETS);
	enum smtp_addr_error e = smtp_addr_parse(cmd->path, cmd->path_len, flags, &from, &why);
	if (e != SMTP_ADDR_OK) {
		log_info("smtp", s->id, "reject MAIL %s: %s", log_escaped(0, cmd->path, cmd->path_len),
			 why);
		smtp_error_reply(s, "%s", addr_error_reply(e, true));
		return;
	}
	if (s->authenticated && !from.null) {
		char lower[sizeof(from.local)];
		snprintf(lower, sizeof(lower), "%s", from.local);
		ascii_lower(lower);
		if (from.literal || !smtp_sender_allowed(s, lower, from.domain)) {
			log_info("smtp", s->id, "reject MAIL %s: not owned by %s@%s",
				 log_escaped(0, cmd->path, cmd->path_len), s->user.local, s->user.domain);
			smtp_error_reply(s, "553 5.7.1 %s: Sender address rejected: not owned by user "
					    "%s@%s",
					 log_escaped(0, cmd->path, cmd->path_len), s->user.local,
					 s->user.domain);
			return;
		}
	}
	txn_reset(s);
	s->txn.from = from;
	s->txn.smtputf8 = utf8;
	s->txn.body_8bit = body8;
	s->txn.declared_size = declared;
	s->txn.dsn_ret = cmd->dsn.ret == SMTP_DSN_RET_FULL   ? 1
			 : cmd->dsn.ret == SMTP_DSN_RET_HDRS ? 2
							     : 0;
	if (cmd->dsn.envid_xtext != NULL)
		s->txn.envid = xstrdup(cmd->dsn.envid);
	smtp_set_state(s, SMTP_S_MAIL);
	smtp_reply(s, "250 2.1.0 Ok");
}

/* NOTIFY bits as the queue stores them ("SUCCESS,FAILURE"), NULL if absent. */
static char *dsn_notify_text(unsigned notify)
{
	if (notify == 0)
		return NULL;
	if (notify & SMTP_DSN_NOTIFY_NEVER)
		return xstrdup("NEVER");
	char out[32] = "";
	if (notify & SMTP_DSN_NOTIFY_SUCCESS)
		strcat(out, "SUCCESS,");
	if (notify & SMTP_DSN_NOTIFY_FAILURE)
		strcat(out, "FAILURE,");
	if (notify & SMTP_DSN_NOTIFY_DELAY)
		strcat(out, "DELAY,");
	out[strlen(out) - 1] = '\0';
	return xstrdup(out);
}

static void cmd_rcpt(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	const struct config *cfg = s->env->cfg;
	for (unsigned i = 0; i < cmd->param_count; i++) {
		if (!cmd->params[i].dsn) { /* NOTIFY and ORCPT are all we take */
			smtp_error_reply(s, "555 5.5.4 Error: unsupported parameter %s",
				    log_escaped(0, cmd->params[i].keyword,
						strlen(cmd->params[i].keyword)));
			return;
		}
	}
	if (s->txn.nrcpt >= cfg->max_recipients) {
		smtp_error_reply(s, "452 4.5.3 Error: too many recipients");
		return;
	}
	struct smtp_addr to;
	const char *why;
	unsigned flags = SMTP_ADDR_ALLOW_POSTMASTER | (s->txn.smtputf8 ? SMTP_ADDR_ALLOW_UTF8 : 0) |
			 (cmd->path[0] == '<' ? 0 : SMTP_ADDR_NO_BRACKETS);
	enum smtp_addr_error e = smtp_addr_parse(cmd->path, cmd->path_len, flags, &to, &why);
	const char *shown = log_escaped(0, cmd->path, cmd->path_len);
	if (e != SMTP_ADDR_OK) {
		log_info("smtp", s->id, "reject RCPT %s: %s", shown, why);
		smtp_error_reply(s, "%s", addr_error_reply(e, false));
		return;
	}
	if (to.postmaster) {
		/* RFC 5321 4.5.1: "<Postmaster>" without a domain is ours. */
		int r = store_domain_primary(s->env->store, to.domain, sizeof(to.domain));
		if (r <= 0) {
			smtp_error_reply(s, "451 4.3.0 Error: temporary lookup failure");
			return;
		}
	}
	char delim = cfg->recipient_delimiter[0];
	size_t accounts_before = s->txn.rcpt.n;
	enum resolve_status st =
		to.literal ? RESOLVE_NOT_LOCAL
			   : resolve_recipient(s->env->store, to.local, to.domain, delim, &s->txn.rcpt);
	/* A full mailbox refuses for now (RFC 3463 4.2.2): the sender retries. */
	for (size_t i = accounts_before; st == RESOLVE_LOCAL && i < s->txn.rcpt.n; i++) {
		uint64_t quota, used;
		if (store_account_quota(s->env->store, s->txn.rcpt.accounts[i], &quota, &used) == 1 &&
		    quota > 0 && used + s->txn.declared_size > quota) {
			s->txn.rcpt.n = accounts_before;
			log_info("smtp", s->id, "reject RCPT %s: mailbox full", shown);
			smtp_error_reply(s, "452 4.2.2 %s: Mailbox full", shown);
			return;
		}
	}
	if (st == RESOLVE_NOT_LOCAL && s->authenticated && !to.literal) {
		/* Authenticated submission relays to any domain: the outbound
		 * queue takes it. */
		char addr[SMTP_PATH_MAX * 2];
		if (smtp_addr_format(&to, addr, sizeof(addr)) < 0) {
			smtp_error_reply(s, "501 5.1.3 Error: bad recipient address syntax");
			return;
		}
		size_t k = s->txn.nremote + 1;
		s->txn.remote = xrealloc(s->txn.remote, k * sizeof(char *));
		s->txn.remote_notify = xrealloc(s->txn.remote_notify, k * sizeof(char *));
		s->txn.remote_orcpt = xrealloc(s->txn.remote_orcpt, k * sizeof(char *));
		s->txn.remote[k - 1] = xstrdup(addr);
		s->txn.remote_notify[k - 1] = dsn_notify_text(cmd->dsn.notify);
		s->txn.remote_orcpt[k - 1] =
			cmd->dsn.orcpt_xtext != NULL ? xstrdup(cmd->dsn.orcpt) : NULL;
		s->txn.nremote = k;
		st = RESOLVE_LOCAL;
	}
	switch (st) {
	case RESOLVE_LOCAL:
		break;
	case RESOLVE_NO_USER:
		log_info("smtp", s->id, "reject RCPT %s: user unknown", shown);
		smtp_error_reply(s, "550 5.1.1 %s: Recipient address rejected: User unknown", shown);
		return;
	case RESOLVE_NOT_LOCAL:
		log_info("smtp", s->id, "reject RCPT %s: relay denied", shown);
		smtp_error_reply(s, "554 5.7.1 %s: Relay access denied", shown);
		return;
	default:
		log_error("smtp", s->id, "RCPT %s: lookup failed: %s", shown,
			  store_conn_error(s->env->store));
		smtp_error_reply(s, "451 4.3.0 %s: Temporary lookup failure", shown);
		return;
	}
	char formatted[SMTP_PATH_MAX * 2];
	if (smtp_addr_format(&to, formatted, sizeof(formatted)) < 0)
		formatted[0] = '\0';
	if (s->txn.nrcpt == 0) {
		snprintf(s->txn.first_rcpt, sizeof(s->txn.first_rcpt), "%s", formatted);
		buf_init(&s->txn.rcpt_log, 1024);
	}
	/* The log line shows as many recipients as fit; the count is exact. */
	buf_printf(&s->txn.rcpt_log, "%s<%s>", s->txn.nrcpt == 0 ? "" : ",", formatted);
	s->txn.nrcpt++;
	smtp_set_state(s, SMTP_S_RCPT);
	smtp_reply(s, "250 2.1.5 Ok");
}

static const char *begin_error_reply(int rc)
{
	return rc == -2 ? "452 4.3.1 Insufficient system storage"
			: "451 4.3.0 Error: local storage failure, try again later";
}

static void cmd_data(struct smtp_session *s)
{
	int rc = txn_begin_message(s);
	if (rc < 0) {
		smtp_reply(s, "%s", begin_error_reply(rc));
		store_msg_abort(&s->txn.msg);
		return;
	}
	smtp_data_init(&s->txn.dec, true);
	smtp_set_state(s, SMTP_S_DATA);
	smtp_set_deadline(s);
	smtp_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

static void bdat_discard(struct smtp_session *s, const struct smtp_cmd *cmd, const char *why)
{
	s->txn.bdat_remaining = cmd->chunk_size;
	s->txn.bdat_active = true;
	s->txn.bdat_discard = true;
	s->txn.bdat_reply = why;
	smtp_set_deadline(s);
}

static void cmd_bdat(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	struct smtp_txn *t = &s->txn;
	if (s->state != SMTP_S_RCPT && s->state != SMTP_S_BDAT) {
		bdat_discard(s, cmd, s->state == SMTP_S_MAIL ? "554 5.5.1 Error: no valid recipients"
							     : "503 5.5.1 Error: need RCPT command");
		return;
	}
	if (s->state == SMTP_S_RCPT) {
		int rc = txn_begin_message(s);
		if (rc < 0) {
			store_msg_abort(&t->msg);
			bdat_discard(s, cmd, begin_error_reply(rc));
			return;
		}
		smtp_data_init(&t->dec, false);
		smtp_set_state(s, SMTP_S_BDAT);
	}
	t->bdat_remaining = cmd->chunk_size;
	t->bdat_last = cmd->last;
	t->bdat_active = true;
	smtp_set_deadline(s);
}

static void cmd_rset(struct smtp_session *s)
{
	txn_reset(s);
	if (s->state != SMTP_S_GREETING)
		smtp_set_state(s, SMTP_S_READY);
	smtp_reply(s, "250 2.0.0 Ok");
}

static void cmd_quit(struct smtp_session *s)
{
	smtp_reply(s, "221 2.0.0 Bye");
	smtp_set_state(s, SMTP_S_QUIT);
	s->closing = true;
}

/* May this command run now? Returns NULL or the error reply. */
static const char *cmd_allowed(const struct smtp_session *s, enum smtp_verb verb)
{
	switch (verb) {
	case SMTP_VERB_MAIL:
		if (s->state == SMTP_S_GREETING)
			return "503 5.5.1 Error: send HELO/EHLO first";
		if (s->state != SMTP_S_READY)
			return "503 5.5.1 Error: nested MAIL command";
		return NULL;
	case SMTP_VERB_RCPT:
		if (s->state == SMTP_S_BDAT)
			return "503 5.5.1 Error: RCPT not allowed during BDAT";
		if (s->state != SMTP_S_MAIL && s->state != SMTP_S_RCPT)
			return "503 5.5.1 Error: need MAIL command";
		return NULL;
	case SMTP_VERB_DATA:
		if (s->state == SMTP_S_BDAT)
			return "503 5.5.1 Error: DATA not allowed during BDAT";
		if (s->state == SMTP_S_MAIL)
			return "554 5.5.1 Error: no valid recipients";
		if (s->state != SMTP_S_RCPT)
			return "503 5.5.1 Error: need RCPT command";
		return NULL;
	case SMTP_VERB_HELO:
	case SMTP_VERB_EHLO:
		if (s->state == SMTP_S_BDAT)
			return "503 5.5.1 Error: BDAT transaction in progress";
		return NULL;
	default:
		return NULL;
	}
}

static void handle_command(struct smtp_session *s, char *line, size_t len)
{
	const struct config *cfg = s->env->cfg;
	struct smtp_cmd cmd;
	const char *why;
	enum smtp_parse_result r = smtp_cmd_parse(line, len, &cmd, &why);
	if (r == SMTP_PARSE_BAD_CHAR) {
		smtp_error_reply(s, "500 5.5.2 Error: bad character in command");
		return;
	}
	if (r == SMTP_PARSE_UNKNOWN) {
		log_info("smtp", s->id, "unknown command: %s", log_escaped(0, line, len));
		smtp_error_reply(s, "500 5.5.2 Error: command not recognized");
		s->junk++;
		return;
	}
	if (cmd.verb == SMTP_VERB_BDAT && r == SMTP_PARSE_SYNTAX) {
		/* Without a valid size the stream cannot be resynchronised. */
		smtp_error_reply(s, "501 5.5.4 %s; closing connection", why);
		smtp_set_state(s, SMTP_S_QUIT);
		s->closing = true;
		return;
	}
	if (r == SMTP_PARSE_SYNTAX) {
		smtp_error_reply(s, "501 5.5.4 Error: %s", why);
		return;
	}
	if (cmd.verb == SMTP_VERB_BDAT) {
		cmd_bdat(s, &cmd);
		return;
	}
	const char *deny = cmd_allowed(s, cmd.verb);
	if (deny != NULL) {
		smtp_error_reply(s, "%s", deny);
		return;
	}
	switch (cmd.verb) {
	case SMTP_VERB_HELO:
	case SMTP_VERB_EHLO:
		cmd_helo(s, &cmd);
		break;
	case SMTP_VERB_MAIL:
		cmd_mail(s, &cmd);
		break;
	case SMTP_VERB_RCPT:
		cmd_rcpt(s, &cmd);
		break;
	case SMTP_VERB_DATA:
		cmd_data(s);
		break;
	case SMTP_VERB_RSET:
		s->junk++;
		cmd_rset(s);
		break;
	case SMTP_VERB_NOOP:
		s->junk++;
		smtp_reply(s, "250 2.0.0 Ok");
		break;
	case SMTP_VERB_QUIT:
		cmd_quit(s);
		break;
	case SMTP_VERB_VRFY:
		s->junk++;
		smtp_reply(s, "252 2.5.2 Cannot VRFY user, but will accept message and attempt delivery");
		break;
	case SMTP_VERB_EXPN:
		s->junk++;
		smtp_error_reply(s, "502 5.5.1 Error: EXPN is not available");
		break;
	case SMTP_VERB_HELP:
		s->junk++;
		smtp_reply(s, "214-2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP");
		smtp_reply(s, "214 2.0.0 See RFC 5321; postane on %s", cfg->hostname);
		break;
	case SMTP_VERB_STARTTLS:
		smtp_cmd_starttls(s);
		break;
	case SMTP_VERB_AUTH:
		smtp_cmd_auth(s, &cmd);
		break;
	default:
		smtp_error_reply(s, "500 5.5.2 Error: command not recognized");
		break;
	}
	if (s->junk > JUNK_COMMAND_LIMIT && !s->closing) {
		smtp_reply(s, "421 4.7.0 %s Error: too many commands", cfg->hostname);
		smtp_set_state(s, SMTP_S_QUIT);
		s->closing = true;
	}
}

/* ----- input processing ----- */

/* A line over max_line_length. During AUTH it ends the SASL exchange (RFC
 * 4954 4 and 6: 500 5.5.6), so that the next line is read as a command
 * again, not as a response to a challenge. */
static void line_too_long(struct smtp_session *s)
{
	log_info("smtp", s->id, "command line too long");
	if (s->auth_active) {
		s->auth_active = false;
		sasl_wipe(&s->sasl);
		smtp_error_reply(s, "500 5.5.6 Error: authentication exchange line is too long");
		return;
	}
	smtp_error_reply(s, "500 5.5.2 Error: line too long");
}

/* Take one command line from the input. Returns false when more input is
 * needed. */
static bool process_command_line(struct smtp_session *s)
{
	const struct config *cfg = s->env->cfg;
	struct buf *in = &s->conn.in;
	char *nl = in->len > 0 ? memchr(in->data, '\n', in->len) : NULL;
	if (nl == NULL) {
		if (in->len >= cfg->max_line_length) {
			if (!s->skip_line)
				line_too_long(s);
			s->skip_line = true;
			buf_reset(in);
		}
		return false;
	}
	size_t linelen = (size_t)(nl - in->data) + 1;
	if (s->skip_line) {
		s->skip_line = false;
		buf_consume(in, linelen);
		return true;
	}
	if (linelen > cfg->max_line_length) {
		line_too_long(s);
		buf_consume(in, linelen);
		return true;
	}
	size_t len = linelen - 1;
	if (len > 0 && in->data[len - 1] == '\r')
		len--;
	memcpy(s->line, in->data, len);
	s->line[len] = '\0';
	buf_consume(in, linelen);
	smtp_set_deadline(s);
	if (s->auth_active)
		smtp_auth_line(s, s->line, len);
	else
		handle_command(s, s->line, len);
	explicit_bzero(s->line, len);
	return true;
}

void smtp_process(struct smtp_session *s)
{
	while (!s->closing && !s->commit_pending && !s->auth_pending && !s->starttls_pending &&
	       !s->conn.error) {
		if (s->conn.out.len > OUT_HIGH_WATER)
			break;
		bool progress;
		if (s->state == SMTP_S_DATA)
			progress = process_data(s);
		else if (s->txn.bdat_active)
			progress = process_bdat(s);
		else
			progress = process_command_line(s);
		if (!progress)
			break;
		if (s->env->draining && s->state == SMTP_S_READY && !s->commit_pending &&
		    !s->closing) {
			smtp_reply(s, "421 4.3.2 %s Service shutting down", s->env->cfg->hostname);
			s->closing = true;
		}
	}
}

/* ----- connection plumbing ----- */

static void session_free(void *arg)
{
	struct smtp_session *s = arg;
	free(s->line);
	free(s);
}

void smtp_session_release(struct smtp_session *s)
{
	if (s->freed)
		return;
	if (s->commit_pending || s->areq != NULL) {
		/* The committer or an auth worker still holds a pointer to us;
		 * finish when it comes back. */
		s->dead = true;
		loop_unwatch(s->env->loop, &s->w);
		return;
	}
	s->freed = true;
	sasl_wipe(&s->sasl);
	struct smtp_env *env = s->env;
	loop_unwatch(env->loop, &s->w);
	if (s->txn.msg != NULL && s->txn.qid[0] != '\0')
		log_txn(s, "aborted (connection closed)");
	txn_reset(s);
	log_info("smtp", s->id, "disconnect from %s errors=%u", s->conn.peer_ip, s->errors);
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

void smtp_update_watch(struct smtp_session *s)
{
	if (s->freed)
		return;
	if (s->dead) {
		if (!s->commit_pending && s->areq == NULL)
			smtp_session_release(s);
		return;
	}
	int fl = conn_flush(&s->conn);
	if (fl < 0 || s->conn.error) {
		smtp_session_release(s);
		return;
	}
	if (fl == 1 && s->starttls_pending) {
		/* "220 Ready to start TLS" is on the wire; anything the client
		 * sent after STARTTLS is dropped by the switch. */
		smtp_starttls_switch(s);
		if (s->freed || s->closing) {
			if (!s->freed)
				smtp_session_release(s);
			return;
		}
	}
	if (fl == 1 && s->closing) {
		smtp_session_release(s);
		return;
	}
	if (s->conn.eof && !s->commit_pending && s->areq == NULL && fl == 1) {
		/* Peer closed; whatever it pipelined has been processed. */
		smtp_session_release(s);
		return;
	}
	bool want_input = !s->closing && !s->commit_pending && !s->auth_pending &&
			  !s->starttls_pending && !s->conn.eof && s->conn.out.len <= OUT_HIGH_WATER;
	conn_trim(&s->conn);
	if (loop_rewatch(s->env->loop, &s->w, conn_wanted_events(&s->conn, want_input)) < 0)
		smtp_session_release(s);
}

static void session_io(struct watcher *w, uint32_t events)
{
	struct smtp_session *s = w->ctx;
	if (events & LOOP_READ || (events & ~LOOP_WRITE) != 0) {
		size_t limit = s->state == SMTP_S_DATA || s->txn.bdat_active
				       ? 4 * CHUNK
				       : s->env->cfg->max_line_length + CHUNK;
		size_t n = conn_fill(&s->conn, limit);
		if (n > 0 && (s->state == SMTP_S_DATA || s->txn.bdat_active))
			extend_data_deadline(s, n);
		if (!s->tls_logged && tls_conn_established(&s->conn)) {
			char desc[128];
			s->tls_logged = true;
			log_info("smtp", s->id, "TLS established: %s",
				 tls_conn_describe(&s->conn, desc, sizeof(desc)));
		}
	}
	/* Process, then write; when writing made room, go on with commands
	 * that were held back by the output high-water mark. */
	for (;;) {
		size_t before = s->conn.in.len;
		smtp_process(s);
		if (s->freed || s->conn.in.len == 0)
			break;
		/* No progress and not held back by unsent output: waiting for
		 * more input or for asynchronous work. */
		if (s->conn.in.len == before && s->conn.out.len <= OUT_HIGH_WATER)
			break;
		if (conn_flush(&s->conn) != 1)
			break;
	}
	if (s->conn.eof && s->state == SMTP_S_DATA && !s->commit_pending && !s->freed &&
	    s->txn.msg != NULL) {
		log_txn(s, "aborted (connection lost during DATA)");
		txn_reset(s);
	}
	smtp_update_watch(s);
}

static void env_tick(void *arg)
{
	struct smtp_env *env = arg;
	uint64_t now = loop_now(env->loop);
	struct smtp_session *next;
	for (struct smtp_session *s = env->sessions; s != NULL; s = next) {
		next = s->next;
		if (s->commit_pending || s->freed)
			continue;
		if (s->auth_pending) {
			smtp_auth_tick(s, now);
			continue;
		}
		bool drain_over = env->draining && now >= env->drain_deadline;
		if (now >= s->deadline || drain_over) {
			if (drain_over)
				smtp_reply(s, "421 4.3.2 %s Service shutting down", env->cfg->hostname);
			else
				smtp_reply(s, "421 4.4.2 %s Error: timeout exceeded", env->cfg->hostname);
			log_info("smtp", s->id, "%s in state %s", drain_over ? "shutdown" : "timeout",
				 smtp_state_names[s->state]);
			if (s->txn.msg != NULL)
				log_txn(s, drain_over ? "aborted (shutdown)" : "aborted (timeout)");
			txn_reset(s);
			s->closing = true;
			smtp_update_watch(s);
			if (!s->freed)
				smtp_session_release(s);
		}
	}
}

void smtp_env_init(struct smtp_env *env, const struct config *cfg, struct loop *loop,
		   struct store_conn *store, atomic_uint *connections)
{
	memset(env, 0, sizeof(*env));
	env->cfg = cfg;
	env->loop = loop;
	env->store = store;
	env->connections = connections;
	loop_on_tick(loop, env_tick, env);
}

void smtp_session_accept(struct smtp_env *env, int fd, enum listener_kind kind)
{
	const struct config *cfg = env->cfg;
	static atomic_uint next_id;
	struct smtp_session *s = xcalloc(1, sizeof(*s));
	s->env = env;
	conn_init(&s->conn, fd, IN_MAX, 0);
	snprintf(s->id, sizeof(s->id), "S%06X", atomic_fetch_add(&next_id, 1) & 0xffffff);
	s->line = xmalloc(cfg->max_line_length + 1);
	s->state = SMTP_S_GREETING;
	s->kind = kind;
	s->next = env->sessions;
	if (env->sessions != NULL)
		env->sessions->prev = s;
	env->sessions = s;
	env->count++;
	unsigned n = atomic_fetch_add(env->connections, 1) + 1;
	log_info("smtp", s->id, "connect from %s:%u to %s:%u", s->conn.peer_ip, s->conn.peer_port,
		 s->conn.local_ip, s->conn.local_port);
	if (loop_watch(env->loop, &s->w, fd, LOOP_READ, session_io, s) < 0) {
		smtp_session_release(s);
		return;
	}
	if (kind == LISTENER_SUBMISSIONS && (env->tls == NULL || tls_conn_start(&s->conn, env->tls) < 0)) {
		/* Implicit TLS (RFC 8314): no plaintext at all. */
		smtp_session_release(s);
		return;
	}
	if (n > cfg->max_connections || env->draining) {
		smtp_reply(s, "421 4.7.0 %s Error: too many connections, try again later", cfg->hostname);
		s->closing = true;
	} else {
		smtp_reply(s, "220 %s ESMTP postane", cfg->hostname);
	}
	smtp_set_deadline(s);
	smtp_update_watch(s);
}

void smtp_env_drain(struct smtp_env *env, unsigned grace_ms)
{
	env->draining = true;
	if (env->count == 0 && env->drained != NULL)
		env->drained(env->drained_ctx);
	env->drain_deadline = loop_now(env->loop) + grace_ms;
	struct smtp_session *next;
	for (struct smtp_session *s = env->sessions; s != NULL; s = next) {
		next = s->next;
		if (s->freed || s->commit_pending || s->closing)
			continue;
		if (s->state == SMTP_S_GREETING || s->state == SMTP_S_READY) {
			smtp_reply(s, "421 4.3.2 %s Service shutting down", env->cfg->hostname);
			s->closing = true;
			smtp_update_watch(s);
		}
	}
}

unsigned smtp_env_sessions(const struct smtp_env *env)
{
	return env->count;
}

void smtp_env_close_all(struct smtp_env *env)
{
	struct smtp_session *next;
	for (struct smtp_session *s = env->sessions; s != NULL; s = next) {
		next = s->next;
		smtp_session_release(s);
	}
}
