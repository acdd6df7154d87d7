/* imap_cmd_any.c - IMAP commands of any state and of login: CAPABILITY,
 * NOOP, CHECK, LOGOUT, STARTTLS, LOGIN, AUTHENTICATE, ENABLE, ID,
 * NAMESPACE, IDLE. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/auth.h"
#include "auth/sasl.h"
#include "core/conn_deflate.h"
#include "core/log.h"
#include "core/util.h"
#include "imap/imap_private.h"
#include "imap/imap_quote.h"
#include "tls/tls.h"

static bool no_args(struct imap_session *s, const struct imap_command *cmd)
{
	if (cmd->arg_count == 0)
		return true;
	imap_tagged(s, cmd, "BAD", "%s takes no arguments", cmd->name);
	return false;
}

static void cmd_capability(struct imap_session *s, const struct imap_command *cmd)
{
	if (!no_args(s, cmd))
		return;
	struct buf caps;
	buf_init(&caps, 4096);
	imap_capabilities(s, &caps);
	imap_untagged(s, "CAPABILITY %s", caps.data);
	buf_free(&caps);
	imap_tagged(s, cmd, "OK", "Capability completed");
}

static void cmd_noop(struct imap_session *s, const struct imap_command *cmd)
{
	if (!no_args(s, cmd))
		return;
	imap_tagged(s, cmd, "OK", "%s completed", cmd->name);
}

static void cmd_logout(struct imap_session *s, const struct imap_command *cmd)
{
	if (!no_args(s, cmd))
		return;
	imap_untagged(s, "BYE Logging out");
	imap_view_close(s);
	imap_set_state(s, IMAP_S_LOGOUT);
	imap_tagged(s, cmd, "OK", "Logout completed");
	s->closing = true;
}

static void cmd_starttls(struct imap_session *s, const struct imap_command *cmd)
{
	if (!no_args(s, cmd))
		return;
	if (s->env->tls == NULL || imap_conn_is_tls(s)) {
		imap_tagged(s, cmd, "BAD", "TLS not available");
		return;
	}
	imap_tagged(s, cmd, "OK", "Begin TLS negotiation now");
	s->starttls_pending = true;
}

/* ----- authentication ----- */

static void login_success(struct imap_session *s, const struct store_user *u)
{
	s->authenticated = true;
	s->user = *u;
	explicit_bzero(s->user.password, sizeof(s->user.password));
	imap_set_state(s, IMAP_S_AUTH);
	imap_login_limits(s);
	s->deadline = loop_now(s->env->loop) + IMAP_TIMEOUT_AUTH * 1000ull;
	log_info("imap", s->id, "authenticated user=%s@%s", u->local, u->domain);
}

static void finish_auth(struct imap_session *s, const char *status, const char *text)
{
	struct imap_command fake = {.tag = s->auth_tag, .name = "AUTHENTICATE"};
	if (strcmp(status, "OK") == 0) {
		struct buf caps;
		buf_init(&caps, 4096);
		imap_capabilities(s, &caps);
		imap_tagged(s, &fake, "OK", "[CAPABILITY %s] %s", caps.data, text);
		buf_free(&caps);
	} else {
		imap_tagged(s, &fake, status, "%s", text);
	}
}

static void auth_done(struct auth_request *req, void *ctx)
{
	struct imap_session *s = ctx;
	s->areq = NULL;
	if (s->dead) {
		explicit_bzero(req, sizeof(*req));
		free(req);
		imap_session_release(s);
		return;
	}
	switch (req->result) {
	case AUTH_OK:
		login_success(s, &req->user);
		finish_auth(s, "OK", "Logged in");
		break;
	case AUTH_FAILED:
		/* The reply waits: the throttle's delay, at least a second. */
		s->delayed = true;
		s->reply_at = loop_now(s->env->loop) + (req->delay_ms > 0 ? req->delay_ms : 1000);
		break;
	case AUTH_LOCKED:
		finish_auth(s, "NO", "[UNAVAILABLE] Too many failures, try again later");
		break;
	default:
		finish_auth(s, "NO", "[UNAVAILABLE] Temporary authentication failure");
		break;
	}
	explicit_bzero(req, sizeof(*req));
	free(req);
	imap_update_watch(s);
}

void imap_auth_tick(struct imap_session *s, uint64_t now)
{
	if (!s->delayed || now < s->reply_at)
		return;
	s->delayed = false;
	finish_auth(s, "NO", "[AUTHENTICATIONFAILED] Authentication failed");
	imap_update_watch(s);
}

static void start_verify(struct imap_session *s, const char *user, const char *password)
{
	struct auth_request *req = xcalloc(1, sizeof(*req));
	snprintf(req->username, sizeof(req->username), "%s", user);
	snprintf(req->password, sizeof(req->password), "%s", password);
	snprintf(req->ip, sizeof(req->ip), "%s", s->conn.peer_ip);
	req->protocol = "imap";
	s->areq = req;
	auth_verify(s->env->auth, req, s->env->loop, auth_done, s);
}

static void cmd_login(struct imap_session *s, const struct imap_command *cmd)
{
	const char *user, *pass;
	size_t ulen, plen;
	if (cmd->arg_count != 2 || !imap_arg_get_astring(&cmd->args[0], &user, &ulen) ||
	    !imap_arg_get_astring(&cmd->args[1], &pass, &plen)) {
		imap_tagged(s, cmd, "BAD", "Syntax: LOGIN user password");
		return;
	}
	if (!imap_login_allowed(s)) {
		imap_tagged(s, cmd, "NO", "[PRIVACYREQUIRED] Plaintext login needs TLS");
		return;
	}
	if (ulen == 0 || ulen >= SASL_FIELD_MAX || plen == 0 || plen >= SASL_FIELD_MAX ||
	    memchr(user, '\0', ulen) != NULL || memchr(pass, '\0', plen) != NULL) {
		imap_tagged(s, cmd, "NO", "[AUTHENTICATIONFAILED] Authentication failed");
		return;
	}
	snprintf(s->auth_tag, sizeof(s->auth_tag), "%s", cmd->tag);
	start_verify(s, user, pass);
}

static void auth_step(struct imap_session *s, const char *response)
{
	char challenge[64];
	const char *why = NULL;
	enum sasl_status st = sasl_step(&s->sasl, response, challenge, sizeof(challenge), &why);
	struct imap_command fake = {.tag = s->auth_tag, .name = "AUTHENTICATE"};
	switch (st) {
	case SASL_CONTINUE:
		s->sasl_active = true;
		imap_write(s, "+ %s\r\n", challenge);
		imap_parser_expect_line(s->parser, IMAP_LINE_BASE64);
		return;
	case SASL_CANCELLED:
		s->sasl_active = false;
		sasl_wipe(&s->sasl);
		imap_tagged(s, &fake, "BAD", "Authentication cancelled");
		return;
	case SASL_FAIL:
		s->sasl_active = false;
		sasl_wipe(&s->sasl);
		if (why == sasl_error_authzid)
			imap_tagged(s, &fake, "NO", "[AUTHORIZATIONFAILED] %s", why);
		else
			imap_tagged(s, &fake, "BAD", "%s", why);
		return;
	case SASL_DONE:
		break;
	}
	s->sasl_active = false;
	start_verify(s, s->sasl.authcid, s->sasl.password);
	sasl_wipe(&s->sasl);
}

void imap_auth_line(struct imap_session *s, const char *line, size_t len)
{
	(void)len;
	auth_step(s, line);
}

static void cmd_authenticate(struct imap_session *s, const struct imap_command *cmd)
{
	const char *mech, *initial = NULL;
	size_t len;
	if (cmd->arg_count < 1 || cmd->arg_count > 2 ||
	    !imap_arg_get_atom(&cmd->args[0], &mech, &len) ||
	    (cmd->arg_count == 2 && !imap_arg_get_atom(&cmd->args[1], &initial, &len))) {
		imap_tagged(s, cmd, "BAD", "Syntax: AUTHENTICATE mechanism [initial-response]");
		return;
	}
	if (!imap_login_allowed(s)) {
		imap_tagged(s, cmd, "NO", "[PRIVACYREQUIRED] Authentication needs TLS");
		return;
	}
	if (sasl_start(&s->sasl, mech) < 0) {
		imap_tagged(s, cmd, "NO", "Unsupported authentication mechanism");
		return;
	}
	snprintf(s->auth_tag, sizeof(s->auth_tag), "%s", cmd->tag);
	auth_step(s, initial);
}

/* ----- ENABLE, ID, NAMESPACE, IDLE ----- */

static void cmd_enable(struct imap_session *s, const struct imap_command *cmd)
{
	struct buf enabled;
	buf_init(&enabled, 1024);
	for (unsigned i = 0; i < cmd->arg_count; i++) {
		const char *a;
		size_t len;
		if (!imap_arg_get_atom(&cmd->args[i], &a, &len)) {
			buf_free(&enabled);
			imap_tagged(s, cmd, "BAD", "Syntax: ENABLE capability...");
			return;
		}
		const char *name = NULL;
		if (strcasecmp(a, "CONDSTORE") == 0 && !s->condstore) {
			imap_enable_condstore(s);
			name = "CONDSTORE";
		} else if (strcasecmp(a, "QRESYNC") == 0 && !s->qresync) {
			imap_enable_condstore(s);
			s->qresync = true;
			name = "QRESYNC";
		} else if (strcasecmp(a, "UTF8=ACCEPT") == 0 && !s->utf8) {
			s->utf8 = true;
			name = "UTF8=ACCEPT";
		} else if (strcasecmp(a, "IMAP4rev2") == 0 && !s->rev2) {
			s->rev2 = s->utf8 = true;
			name = "IMAP4rev2";
		}
		if (name != NULL)
			buf_printf(&enabled, " %s", name);
	}
	imap_untagged(s, "ENABLED%s", enabled.data != NULL ? enabled.data : "");
	buf_free(&enabled);
	imap_tagged(s, cmd, "OK", "Enabled");
}

static void cmd_id(struct imap_session *s, const struct imap_command *cmd)
{
	const struct imap_arg *list;
	size_t n;
	if (cmd->arg_count != 1 ||
	    (cmd->args[0].type != IMAP_ARG_NIL && !imap_arg_get_list(&cmd->args[0], &list, &n))) {
		imap_tagged(s, cmd, "BAD", "Syntax: ID (params) | NIL");
		return;
	}
	if (cmd->args[0].type == IMAP_ARG_LIST) {
		/* Log what the client says it is (bounded, escaped). */
		struct buf b;
		buf_init(&b, 1024);
		for (size_t i = 0; i + 1 < n && i < 20; i += 2) {
			const char *k, *v;
			size_t kl, vl;
			if (imap_arg_get_string(&list[i], &k, &kl) &&
			    imap_arg_get_nstring(&list[i + 1], &v, &vl) && v != NULL)
				buf_printf(&b, "%s%s=%s", b.len > 0 ? " " : "", log_escaped(0, k, kl),
					   log_escaped(1, v, vl));
		}
		if (b.len > 0)
			log_info("imap", s->id, "client id: %s", b.data);
		buf_free(&b);
	}
	imap_untagged(s, "ID (\"name\" \"postane\" \"vendor\" \"postane\")");
	imap_tagged(s, cmd, "OK", "ID completed");
}

static void cmd_namespace(struct imap_session *s, const struct imap_command *cmd)
{
	if (!no_args(s, cmd))
		return;
	imap_untagged(s, "NAMESPACE ((\"\" \"/\")) NIL NIL");
	imap_tagged(s, cmd, "OK", "Namespace completed");
}

static void cmd_idle(struct imap_session *s, const struct imap_command *cmd)
{
	if (!no_args(s, cmd))
		return;
	/* Anything already pending goes out before the continuation. */
	if (s->view != NULL)
		imap_view_sync(s, true);
	snprintf(s->idle_tag, sizeof(s->idle_tag), "%s", cmd->tag);
	s->idling = true;
	imap_write(s, "+ idling\r\n");
	imap_parser_expect_line(s->parser, IMAP_LINE_TEXT);
	s->deadline = loop_now(s->env->loop) + IMAP_TIMEOUT_AUTH * 1000ull;
}

/* RFC 4978 */
static void cmd_compress(struct imap_session *s, const struct imap_command *cmd)
{
	if (cmd->arg_count != 1 || !imap_arg_atom_equals(&cmd->args[0], "DEFLATE")) {
		imap_tagged(s, cmd, "BAD", "Syntax: COMPRESS DEFLATE");
		return;
	}
	if (conn_deflate_active(&s->conn)) {
		imap_tagged(s, cmd, "NO", "[COMPRESSIONACTIVE] Compression already active");
		return;
	}
	imap_tagged(s, cmd, "OK", "DEFLATE active");
	s->compress_pending = true;
}

const struct imap_cmd_def imap_cmds_any[] = {
	{"COMPRESS", cmd_compress, IMAP_CMD_AUTH},
	{"CAPABILITY", cmd_capability, IMAP_CMD_NOT_AUTH | IMAP_CMD_AUTH},
	{"NOOP", cmd_noop, IMAP_CMD_NOT_AUTH | IMAP_CMD_AUTH},
	{"CHECK", cmd_noop, IMAP_CMD_SELECTED},
	{"LOGOUT", cmd_logout, IMAP_CMD_NOT_AUTH | IMAP_CMD_AUTH},
	{"STARTTLS", cmd_starttls, IMAP_CMD_NOT_AUTH},
	{"LOGIN", cmd_login, IMAP_CMD_NOT_AUTH},
	{"AUTHENTICATE", cmd_authenticate, IMAP_CMD_NOT_AUTH},
	{"ENABLE", cmd_enable, IMAP_CMD_AUTH},
	{"ID", cmd_id, IMAP_CMD_NOT_AUTH | IMAP_CMD_AUTH},
	{"NAMESPACE", cmd_namespace, IMAP_CMD_AUTH},
	{"IDLE", cmd_idle, IMAP_CMD_AUTH},
	{NULL, NULL, 0},
};
