/* pop3_server.h - the POP3 server (RFC 1939, RFC 2449 CAPA, RFC 2595 STLS,
 * RFC 5034 SASL AUTH) on one event loop.
 *
 * Like the SMTP and IMAP servers: a pop3_env holds what the sessions of one
 * loop thread share; sessions reach mail only through the storage interface.
 * A session serves the account's INBOX as it was at login (RFC 1939 message
 * numbers never change during a session); deletions are applied with
 * store_expunge() at QUIT only. Unique-ids (UIDL) are "UIDVALIDITY.UID",
 * stable across sessions and shared with IMAP. Several POP3 and IMAP
 * sessions may use the same mailbox at once: a message another session
 * removed meanwhile answers "-ERR [SYS/TEMP]". */
#ifndef POSTANE_POP3_SERVER_H
#define POSTANE_POP3_SERVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"

struct auth_service;
struct loop;
struct store_conn;
struct tls_server;
struct pop3_session;

struct pop3_env {
	const struct config *cfg;
	struct loop *loop;
	struct store_conn *store;
	struct tls_server *tls;	       /* NULL: no certificate, no STLS/POP3S */
	struct auth_service *auth;     /* NULL: nobody can log in */
	atomic_uint *connections;      /* process-wide count of open sessions */
	void (*released)(int fd);      /* if set: called as a session ends, before its socket closes */
	struct pop3_session *sessions; /* doubly linked, this loop only */
	unsigned count;
	bool draining;
	uint64_t drain_deadline;
	/* Called when the last session closes while draining. */
	void (*drained)(void *ctx);
	void *drained_ctx;
};

/* Prepare env and register its timeout tick on the loop. */
void pop3_env_init(struct pop3_env *env, const struct config *cfg, struct loop *loop,
		   struct store_conn *store, atomic_uint *connections);
/* Start a session on an accepted, non-blocking socket (takes ownership).
 * `kind`: LISTENER_POP3 (110: STLS) or LISTENER_POP3S (995: implicit TLS). */
void pop3_session_accept(struct pop3_env *env, int fd, enum listener_kind kind);
/* Stop taking new work: idle sessions are told and closed now (without
 * applying their deletions); a response being sent gets until `grace_ms`. */
void pop3_env_drain(struct pop3_env *env, unsigned grace_ms);
/* Sessions still open on this loop. */
unsigned pop3_env_sessions(const struct pop3_env *env);
/* Close every remaining session (after draining). */
void pop3_env_close_all(struct pop3_env *env);

#endif
