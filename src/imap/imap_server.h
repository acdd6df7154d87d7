/* imap_server.h - the IMAP server (RFC 9051 IMAP4rev2 and RFC 3501
 * IMAP4rev1) on one event loop.
 *
 * Like the SMTP server: an imap_env holds what the sessions of one loop
 * thread share; sessions reach mail only through the storage interface.
 * Changes committed by anyone (SMTP delivery, other IMAP or POP3 sessions)
 * reach the sessions that have the mailbox selected through
 * imap_env_mailbox_changed(), called on the env's own loop thread. */
#ifndef POSTANE_IMAP_SERVER_H
#define POSTANE_IMAP_SERVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"

struct auth_service;
struct loop;
struct store_conn;
struct tls_server;
struct imap_session;

struct imap_env {
	const struct config *cfg;
	struct loop *loop;
	struct store_conn *store;
	struct tls_server *tls;
	struct auth_service *auth;
	atomic_uint *connections;
	void (*released)(int fd); /* if set: called as a session ends, before its socket closes */
	struct imap_session *sessions;
	unsigned count;
	bool draining;
	uint64_t drain_deadline;
	void (*drained)(void *ctx);
	void *drained_ctx;
};

void imap_env_init(struct imap_env *env, const struct config *cfg, struct loop *loop,
		   struct store_conn *store, atomic_uint *connections);
/* `kind`: LISTENER_IMAP (STARTTLS) or LISTENER_IMAPS (implicit TLS). */
void imap_session_accept(struct imap_env *env, int fd, enum listener_kind kind);
void imap_env_drain(struct imap_env *env, unsigned grace_ms);
unsigned imap_env_sessions(const struct imap_env *env);
void imap_env_close_all(struct imap_env *env);
/* A mailbox changed: sessions that have it selected resynchronise (at once
 * when idling, else before their next command completes). */
void imap_env_mailbox_changed(struct imap_env *env, int64_t mailbox_id);

#endif
