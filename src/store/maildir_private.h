/* maildir_private.h - internals of the embedded backend (Maildir++ files
 * plus a SQLite index). Only store/maildir_*.c include this. */
#ifndef POSTANE_MAILDIR_PRIVATE_H
#define POSTANE_MAILDIR_PRIVATE_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

struct maildir_msg;
struct batch;

/* How a batch is made durable: "auto" picks per batch between one
 * syncfs() and per-file fdatasync()/per-directory fsync(), whichever
 * needs fewer flushes. */
enum maildir_sync_mode { SYNC_AUTO, SYNC_SYNCFS, SYNC_FSYNC };

/* Prepared statements of the committer's own database connection. */
enum commit_stmt {
	CQ_INBOX,
	CQ_UID,
	CQ_INSERT,
	CQ_BEGIN,
	CQ_COMMIT,
	CQ_ROLLBACK,
	CQ_DELETE,
	CQ_QUEUE,
	CQ_QUEUE_RCPT,
	CQ_QUEUE_DELETE,
	CQ_COUNT
};

struct maildir_store {
	struct store_base base;
	char *data_dir;  /* DATA */
	char *mail_dir;  /* DATA/mail */
	char *spool_tmp; /* DATA/spool/tmp: messages being received */
	char *queue_dir; /* DATA/queue: messages waiting for outbound delivery */
	char *db_path;   /* DATA/postane.db */
	char *host;      /* hostname made safe for Maildir file names */
	int sync_mode;   /* enum maildir_sync_mode */
	int data_fd;     /* open directory, for syncfs() */
	atomic_uint_fast64_t seq;

	/* The committer thread and its queue. */
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct maildir_msg *pending;
	struct maildir_msg **pending_tail;
	bool stopping;
	sqlite3 *commit_db;
	sqlite3_stmt *cq[CQ_COUNT];
	uint64_t batches, committed; /* statistics, committer thread only */

	/* The syncer thread makes a batch's directory entries durable while
	 * the committer commits the index transaction. */
	pthread_t syncer;
	pthread_mutex_t sync_lock;
	pthread_cond_t sync_cond;
	struct batch *sync_batch; /* work for the syncer, NULL when idle */
	int sync_job;             /* which barrier */
	bool sync_done;
	bool sync_stop;
	int sync_result;          /* errno of the directory barrier, 0 = fine */
};

enum maildir_stmt {
	STMT_DOMAIN_ID,
	STMT_ACCOUNT_LOOKUP,
	STMT_ALIAS_TARGETS,
	STMT_COUNT
};

struct maildir_conn {
	struct store_base base;
	struct maildir_store *store;
	sqlite3 *db;
	sqlite3_stmt *stmts[STMT_COUNT];
	char error[512];
};

struct maildir_msg {
	struct store_base base;
	struct maildir_store *store;
	int fd;
	char name[160];     /* unique Maildir base name */
	char tmp_path[4096];
	uint64_t size;
	char *wbuf;
	size_t wlen;
	int err_no;          /* first write error */
	int64_t *accounts;
	size_t naccounts;
	/* Outbound queue part of the envelope (copied at commit). */
	char *sender;
	char **remote;
	size_t nremote;
	bool smtputf8, body_8bit;
	char *auth_user;
	char qid[32];
	store_commit_cb *cb;
	void *cb_ctx;
	struct maildir_msg *next;
};

/* maildir_db.c */
int maildir_db_open(const char *path, bool create, sqlite3 **db_r, const char **error_r);
int maildir_db_exec(sqlite3 *db, const char *sql);
/* Mailbox directory of an account: DATA/mail/DOMAIN/LOCAL */
void maildir_account_path(const struct maildir_store *s, const char *local, const char *domain,
			  char *out, size_t outlen);
extern const char *const maildir_default_folders[][2];

/* maildir_deliver.c */
int maildir_msg_begin(struct store_conn *c, struct store_msg **msg_r);
int maildir_msg_write(struct store_msg *msg, const void *data, size_t len);
uint64_t maildir_msg_size(const struct store_msg *msg);
const char *maildir_msg_error(const struct store_msg *msg, bool *disk_full_r);
void maildir_msg_abort(struct store_msg *msg);
void maildir_msg_commit(struct store_msg *msg, const struct store_envelope *env,
			store_commit_cb *cb, void *ctx);
int maildir_committer_start(struct maildir_store *s, const char **error_r);
void maildir_committer_stop(struct maildir_store *s);
int maildir_recover(struct store *store, const char **error_r);

#endif
