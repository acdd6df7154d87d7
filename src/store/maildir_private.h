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
	/* Change notification (IMAP IDLE and friends). */
	store_change_cb *change_cb;
	void *change_ctx;

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
	STMT_CACHE_GET,
	STMT_CACHE_PUT,
	STMT_COUNT
};

struct maildir_conn {
	struct store_base base;
	struct maildir_store *store;
	sqlite3 *db;
	sqlite3_stmt *stmts[STMT_COUNT];
	char error[512];
	bool in_changes;       /* store_changes_begin() transaction open */
	uint64_t txn_modseq;   /* MODSEQ allocated for it, 0 = none yet */
	int64_t pending_notify; /* mailbox to announce after the commit */
	char **unlink_after;    /* files to remove after the commit */
	size_t nunlink_after;
	/* Last mailbox path looked up (FETCH opens many files of one). */
	int64_t path_mailbox;
	char path_cache[4096];
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
	char *envid;
	int ret;
	char **remote_notify; /* per remote rcpt, entries may be NULL */
	char **remote_orcpt;
	int64_t append_mailbox;
	uint32_t append_flags;
	char *append_keywords;
	int64_t append_date;
	uint32_t result_uid, result_uidvalidity;
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

/* Shared helpers (maildir_db.c). */
sqlite3_stmt *maildir_cached_stmt(struct maildir_conn *c, enum maildir_stmt which);
int maildir_set_error(struct maildir_conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int maildir_db_error(struct maildir_conn *c);
sqlite3_stmt *maildir_prepare(struct maildir_conn *c, const char *sql);

/* maildir_mailbox.c */
/* Directory of a mailbox below the account root: "" for INBOX, else "."
 * and the name with '/' as '.', and '.' '%' escaped as %2E %25. */
void maildir_mailbox_dir(const char *name, char *out, size_t outlen);
/* Insert a mailbox row (and its subscription) and create its Maildir;
 * account_path is the account root. Inside the caller's transaction. */
int maildir_mailbox_insert(struct maildir_conn *c, int64_t account_id, const char *name,
			   const char *special_use, const char *account_path, bool subscribe);
/* Full path of a mailbox's directory, from its id. 1/0/-1. */
int maildir_mailbox_path(sqlite3 *db, const struct maildir_store *s, int64_t mailbox_id,
			 char *out, size_t outlen);
int maildir_make_dir(const char *path, bool folder);
void maildir_set_change_hook(struct store *store, store_change_cb *cb, void *ctx);
void maildir_notify_change(struct maildir_store *s, int64_t mailbox_id);
int maildir_mailbox_list(struct store_conn *c, int64_t account_id, store_mailbox_cb *cb,
			 void *ctx);
int maildir_mailbox_find(struct store_conn *c, int64_t account_id, const char *name,
			 struct store_mailbox *mb_r);
int maildir_mailbox_create(struct store_conn *c, int64_t account_id, const char *name,
			   const char *special_use);
int maildir_mailbox_delete(struct store_conn *c, int64_t account_id, const char *name);
int maildir_mailbox_rename(struct store_conn *c, int64_t account_id, const char *from,
			   const char *to);
int maildir_mailbox_subscribe(struct store_conn *c, int64_t account_id, const char *name,
			      bool subscribe);
int maildir_subscriptions(struct store_conn *c, int64_t account_id, store_target_cb *cb,
			  void *ctx);
int maildir_mailbox_status(struct store_conn *c, int64_t mailbox_id,
			   struct store_mailbox_status *st_r);
int maildir_mailbox_claim_recent(struct store_conn *c, int64_t mailbox_id, uint32_t *seen_uid_r,
				 uint32_t *upto_r);
int maildir_messages(struct store_conn *c, int64_t mailbox_id, uint64_t changed_since,
		     store_message_cb *cb, void *ctx);
int maildir_expunged(struct store_conn *c, int64_t mailbox_id, uint64_t since, store_uid_cb *cb,
		     void *ctx);
int maildir_flags_update(struct store_conn *c, int64_t mailbox_id, uint32_t uid,
			 enum store_flags_mode mode, uint32_t flags, const char *keywords,
			 uint64_t unchangedsince, uint32_t *flags_r, struct buf *keywords_r,
			 uint64_t *modseq_r);
int maildir_changes_begin(struct store_conn *c);
int maildir_read_begin(struct store_conn *c);
int maildir_read_end(struct store_conn *c);
int maildir_changes_end(struct store_conn *c, bool durable, int64_t mailbox_id);
int maildir_expunge(struct store_conn *c, int64_t mailbox_id, const uint32_t *uids, size_t n);
int maildir_copy(struct store_conn *c, int64_t src_mailbox, const uint32_t *uids, size_t n,
		 int64_t dst_mailbox, bool move, uint32_t *new_uids_r);
int maildir_message_open(struct store_conn *c, int64_t mailbox_id, const struct store_message *m,
			 int *fd_r, uint64_t *size_r);
int maildir_cache_get(struct store_conn *c, const char *file, const char *field, struct buf *out);
int maildir_cache_put(struct store_conn *c, const char *file, const char *field,
		      const void *data, size_t len);

/* maildir_queue.c */
int maildir_queue_due(struct store_conn *c, int64_t now, unsigned limit, store_queue_cb *cb,
		      void *ctx);
int maildir_queue_lease(struct store_conn *c, const int64_t *rcpt_ids, size_t n, int64_t until);
int maildir_queue_release_leases(struct store_conn *c);
int maildir_queue_list(struct store_conn *c, int64_t id, store_queue_cb *cb, void *ctx);
int64_t maildir_queue_find(struct store_conn *c, const char *qid);
int maildir_queue_update(struct store_conn *c, const struct store_qrcpt_update *u, size_t n);
int maildir_queue_remove(struct store_conn *c, int64_t id);
int maildir_queue_settle(struct store_conn *c, const struct store_qrcpt_update *u, size_t n,
			 const int64_t *entries, size_t nentries, store_queue_removed_cb *removed,
			 void *ctx);
int maildir_queue_set_held(struct store_conn *c, int64_t id, bool held);
int maildir_queue_set_warned(struct store_conn *c, int64_t id);
int maildir_queue_flush(struct store_conn *c, int64_t id, int64_t now);
int maildir_queue_next_due(struct store_conn *c, int64_t *when_r);

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

/* maildir_check.c */
int maildir_check(struct store *store, unsigned flags, store_check_cb *cb, void *ctx,
		  struct store_check_stats *stats_r, const char **error_r);
/* Start-up recovery: maildir_recover() (spool, INBOXes, queue) plus the
 * files of committed expunges and moves that a crash left behind, and the
 * other folders' new/ (APPEND, COPY). */
int maildir_recover_all(struct store *store, const char **error_r);

#endif
