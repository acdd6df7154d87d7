/* smtp_auth.c - STARTTLS (RFC 3207), AUTH (RFC 4954) and the submission
 * policy (RFC 6409, RFC 8314) of the SMTP server: which port offers what,
 * the SASL exchange, throttled failure replies, and which addresses an
 * authenticated user may send as. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "auth/sasl.h"
#include "core/log.h"
#include "core/util.h"
#include "smtp/smtp_private.h"
#include "tls/tls.h"

bool smtp_is_submission(const struct smtp_session *s)
{
	return s->kind == LISTENER_SUBMISSION || s->kind == LISTENER_SUBMISSIONS;
}

static bool conn_is_tls(const struct smtp_session *s)
{
	return s->conn.tls;
}

static bool peer_is_loopback(const struct smtp_session *s)
{
	return strncmp(s->conn.peer_ip, "127.", 4) == 0 || strcmp(s->conn.peer_ip, "::1") == 0;
}

bool smtp_tls_offered(const struct smtp_session *s)
{
	return s->env->tls != NULL && !conn_is_tls(s);
}

/* AUTH only on the submission ports, and only under TLS unless the
 * administrator allowed plaintext for loopback clients (development). */
bool smtp_auth_offered(const struct smtp_session *s)
{
	if (!smtp_is_submission(s) || s->env->auth == NULL || s->authenticated)
		return false;
	return conn_is_tls(s) || (s->env->cfg->auth_plaintext_loopback && peer_is_loopback(s));
}

/* ----- STARTTLS ----- */

void smtp_cmd_starttls(struct smtp_session *s)
{
	if (conn_is_tls(s)) {
		smtp_error_reply(s, "503 5.5.1 Error: TLS already active");
		return;
	}
	if (s->env->tls == NULL) {
		smtp_error_reply(s, "454 4.7.0 Error: TLS not available");
		return;
	}
	if (s->state != SMTP_S_READY && s->state != SMTP_S_GREETING) {
		smtp_error_reply(s, "503 5.5.1 Error: STARTTLS not allowed during a transaction");
		return;
	}
	smtp_reply(s, "220 2.0.0 Ready to start TLS");
	s->starttls_pending = true;
}

void smtp_starttls_switch(struct smtp_session *s)
{
	s->starttls_pending = false;
	size_t dropped = s->conn.in.len;
	if (tls_conn_start(&s->conn, s->env->tls) < 0) {
		log_error("smtp", s->id, "cannot start TLS");
		s->closing = true;
		return;
	}
	if (dropped > 0)
		log_info("smtp", s->id, "discarded %zu byte(s) sent before the TLS handshake", dropped);
	/* RFC 3207 4.2: forget everything learnt before TLS, a plaintext
	 * login included. */
	s->helo[0] = '\0';
	s->esmtp = false;
	s->authenticated = false;
	explicit_bzero(&s->user, sizeof(s->user));
	s->skip_line = false;
	smtp_set_state(s, SMTP_S_GREETING);
	smtp_set_deadline(s);
}

/* ----- AUTH ----- */

static void auth_finish_exchange(struct smtp_session *s)
{
	s->auth_active = false;
	sasl_wipe(&s->sasl);
}

static void auth_done(struct auth_request *req, void *ctx)
{
	struct smtp_session *s = ctx;
	s->areq = NULL;
	if (s->dead) {
		free(req);
		smtp_session_release(s);
		return;
	}
	char user[400];
	snprintf(user, sizeof(user), "%s", req->username);
	switch (req->result) {
	case AUTH_OK:
		s->authenticated = true;
		s->user = req->user;
		s->auth_pending = false;
		s->junk = 0;
		log_info("smtp", s->id, "authenticated user=%s@%s", s->user.local, s->user.domain);
		smtp_reply(s, "235 2.7.0 Authentication successful");
		break;
	case AUTH_FAILED:
		/* The reply waits: the throttle's delay, at least a second. */
		s->delayed_reply = "535 5.7.8 Error: authentication failed";
		s->reply_at = loop_now(s->env->loop) + (req->delay_ms > 0 ? req->delay_ms : 1000);
		break;
	case AUTH_LOCKED:
		s->auth_pending = false;
		smtp_error_reply(s, "454 4.7.0 Error: too many authentication failures, try again later");
		break;
	default:
		s->auth_pending = false;
		smtp_reply(s, "454 4.7.0 Error: temporary authentication failure");
		break;
	}
	explicit_bzero(req, sizeof(*req));
	free(req);
	if (!s->auth_pending) {
		smtp_set_deadline(s);
		smtp_process(s);
	}
	smtp_update_watch(s);
}

void smtp_auth_tick(struct smtp_session *s, uint64_t now)
{
	if (s->delayed_reply == NULL || now < s->reply_at)
		return;
	const char *r = s->delayed_reply;
	s->delayed_reply = NULL;
	s->auth_pending = false;
	smtp_error_reply(s, "%s", r);
	smtp_set_deadline(s);
	smtp_process(s);
	smtp_update_watch(s);
}

/* Act on one step of the SASL exchange. */
static void auth_status(struct smtp_session *s, enum sasl_status st, const char *challenge,
			const char *why)
{
	switch (st) {
	case SASL_CONTINUE:
		s->auth_active = true;
		smtp_reply(s, "334 %s", challenge);
		return;
	case SASL_CANCELLED:
		auth_finish_exchange(s);
		smtp_error_reply(s, "501 5.0.0 Error: authentication cancelled");
		return;
	case SASL_FAIL:
		auth_finish_exchange(s);
		log_info("smtp", s->id, "AUTH exchange refused: %s", why);
		if (why == sasl_error_authzid)
			smtp_error_reply(s, "535 5.7.8 Error: %s", why);
		else
			smtp_error_reply(s, "501 5.5.2 Error: %s", why);
		return;
	case SASL_DONE:
		break;
	}
	struct auth_request *req = xcalloc(1, sizeof(*req));
	snprintf(req->username, sizeof(req->username), "%s", s->sasl.authcid);
	memcpy(req->password, s->sasl.password, sizeof(req->password));
	snprintf(req->ip, sizeof(req->ip), "%s", s->conn.peer_ip);
	req->protocol = "smtp";
	auth_finish_exchange(s);
	s->auth_pending = true;
	s->areq = req;
	auth_verify(s->env->auth, req, s->env->loop, auth_done, s);
}

void smtp_cmd_auth(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	if (!smtp_is_submission(s) || s->env->auth == NULL) {
		smtp_error_reply(s, "503 5.5.1 Error: authentication not enabled");
		return;
	}
	if (s->authenticated) {
		smtp_error_reply(s, "503 5.5.1 Error: already authenticated");
		return;
	}
	if (s->state == SMTP_S_GREETING || !s->esmtp) {
		smtp_error_reply(s, "503 5.5.1 Error: send EHLO first");
		return;
	}
	if (s->state != SMTP_S_READY) {
		smtp_error_reply(s, "503 5.5.1 Error: MAIL transaction in progress");
		return;
	}
	if (!smtp_auth_offered(s)) {
		smtp_error_reply(s, "538 5.7.11 Error: encryption required for requested "
				    "authentication mechanism");
		return;
	}
	char mech[32];
	const char *arg = cmd->arg;
	size_t mlen = strcspn(arg, " ");
	if (mlen == 0 || mlen >= sizeof(mech)) {
		smtp_error_reply(s, "501 5.5.4 Syntax: AUTH mechanism [initial-response]");
		return;
	}
	memcpy(mech, arg, mlen);
	mech[mlen] = '\0';
	const char *initial = arg[mlen] == ' ' ? arg + mlen + 1 : NULL;
	while (initial != NULL && *initial == ' ')
		initial++;
	if (initial != NULL && *initial == '\0')
		initial = NULL;
	if (sasl_start(&s->sasl, mech) < 0) {
		smtp_error_reply(s, "504 5.5.4 Error: unsupported authentication mechanism");
		return;
	}
	char challenge[64];
	const char *why = NULL;
	enum sasl_status st = sasl_step(&s->sasl, initial, challenge, sizeof(challenge), &why);
	auth_status(s, st, challenge, why);
}

void smtp_auth_line(struct smtp_session *s, const char *line, size_t len)
{
	(void)len;
	char challenge[64];
	const char *why = NULL;
	enum sasl_status st = sasl_step(&s->sasl, line, challenge, sizeof(challenge), &why);
	auth_status(s, st, challenge, why);
}

/* ----- what an authenticated user may send as ----- */

bool smtp_sender_allowed(struct smtp_session *s, const char *local, const char *domain)
{
	const struct store_user *u = &s->user;
	if (u->send_as == STORE_SEND_AS_ANY)
		return true;
	char delim = s->env->cfg->recipient_delimiter[0];
	if (strcmp(domain, u->domain) == 0) {
		size_t n = strlen(u->local);
		if (strcmp(local, u->local) == 0 ||
		    (delim != 0 && strncmp(local, u->local, n) == 0 && local[n] == delim))
			return true;
	}
	if (u->send_as == STORE_SEND_AS_OWN)
		return false;
	/* An alias that delivers to this account (not a catch-all, which
	 * would make every address of the domain the user's). */
	struct resolve_result r = {0};
	enum resolve_status st = resolve_recipient(s->env->store, local, domain, delim, &r);
	bool ok = false;
	if (st == RESOLVE_LOCAL && !r.via_catchall)
		for (size_t i = 0; i < r.n; i++)
			if (r.accounts[i] == u->id)
				ok = true;
	resolve_result_free(&r);
	return ok;
}
