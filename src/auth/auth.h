/* auth.h - checking a username and password, off the event loop, with
 * throttling of repeated failures.
 *
 * One auth_service per process. A protocol session fills an auth_request
 * and calls auth_verify(); the argon2id verification runs on a worker
 * thread and the callback runs back on the session's loop. The service
 * answers the same way, in about the same time, whether or not the user
 * exists (a dummy hash is verified for unknown users), and never logs
 * passwords. Failures are counted per client IP and per account: each
 * failure asks the session to delay its reply (exponential, capped); too
 * many within the window lock the IP or the account out for a while, logged
 * as one line that fail2ban-style tools can match:
 *   auth: lockout ip=1.2.3.4 user=bob@example.org failures=10 seconds=900 */
#ifndef POSTANE_AUTH_H
#define POSTANE_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "auth/sasl.h"
#include "store/store.h"

struct config;
struct loop;
struct auth_service;
struct auth_request;

enum auth_result {
	AUTH_OK,       /* credentials valid: user filled in */
	AUTH_FAILED,   /* wrong user or password (the reply must not say which) */
	AUTH_LOCKED,   /* too many failures: temporary refusal */
	AUTH_TEMPFAIL, /* store error: temporary failure */
};

typedef void auth_done_cb(struct auth_request *req, void *ctx);

struct auth_request {
	/* In: */
	char username[SASL_FIELD_MAX];
	char password[SASL_FIELD_MAX];
	char ip[64];
	const char *protocol; /* "smtp", "imap", "pop3" (static string) */
	/* Out: */
	enum auth_result result;
	unsigned delay_ms;     /* wait this long before replying to a failure */
	struct store_user user; /* on AUTH_OK (password field wiped) */
	/* Private: */
	struct auth_service *svc;
	auth_done_cb *cb;
	void *ctx;
};

struct auth_service *auth_service_new(const struct config *cfg, struct store *store,
				      unsigned threads);
void auth_service_free(struct auth_service **svc);
/* Verify req->username/password. The password is wiped from req before the
 * callback runs. cb runs on `loop`. req must stay valid until then. */
void auth_verify(struct auth_service *svc, struct auth_request *req, struct loop *loop,
		 auth_done_cb *cb, void *ctx);

#endif
