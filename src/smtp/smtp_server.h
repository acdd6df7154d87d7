/* smtp_server.h - the inbound SMTP server (RFC 5321) on one event loop.
 *
 * An smtp_env holds what the sessions of one loop thread share: the
 * configuration, the loop, the thread's store connection and the list of live
 * sessions (for timeouts and draining). Sessions never touch the disk format:
 * they resolve recipients through store/resolve.h and stream message content
 * into a store_msg, whose group commit tells them when to say 250. */
#ifndef POSTANE_SMTP_SERVER_H
#define POSTANE_SMTP_SERVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"

struct auth_service;
struct config;
struct loop;
struct store_conn;
struct smtp_session;
struct tls_server;

struct smtp_env {
	const struct config *cfg;
	struct loop *loop;
	struct store_conn *store;
	struct tls_server *tls;       /* NULL: no certificate, no TLS */
	struct auth_service *auth;    /* NULL: no authentication */
	struct queue_runner *queue;   /* told when mail was queued for other domains */
	atomic_uint *connections;     /* process-wide count of open sessions */
	void (*released)(int fd);     /* if set: called as a session ends, before its socket closes */
	struct smtp_session *sessions; /* doubly linked, this loop only */
	unsigned count;
	bool draining;
	uint64_t drain_deadline;
	/* Called when the last session closes while draining. */
	void (*drained)(void *ctx);
	void *drained_ctx;
};

/* Prepare env and register its timeout tick on the loop. */
void smtp_env_init(struct smtp_env *env, const struct config *cfg, struct loop *loop,
		   struct store_conn *store, atomic_uint *connections);
/* Start a session on an accepted, non-blocking socket (takes ownership).
 * `kind`: LISTENER_SMTP (port 25: mail for local domains), LISTENER_SUBMISSION
 * (587: STARTTLS, AUTH required) or LISTENER_SUBMISSIONS (465: implicit TLS). */
void smtp_session_accept(struct smtp_env *env, int fd, enum listener_kind kind);
/* Stop taking new work: idle sessions get 421 now, sessions in a transaction
 * get until `grace_ms` to finish. */
void smtp_env_drain(struct smtp_env *env, unsigned grace_ms);
/* Sessions still open on this loop. */
unsigned smtp_env_sessions(const struct smtp_env *env);
/* Close every remaining session (after draining). */
void smtp_env_close_all(struct smtp_env *env);

#endif
