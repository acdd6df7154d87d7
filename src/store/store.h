/* store.h - the storage interface: accounts, domains, aliases, mailbox state
 * and message delivery, behind one table of function pointers per backend.
 *
 * Two kinds of handles:
 *   struct store       one per process; thread-safe; owns the background
 *                      committer that makes deliveries durable in batches.
 *   struct store_conn  one per thread (event loop, CLI); not thread-safe.
 *
 * Conventions: functions return 0 on success and -1 on failure with a
 * message in *error_r (valid until the next call on the same handle);
 * lookups return 1 (found), 0 (not found) or -1. Names (domains, local parts)
 * are passed already normalised to lowercase; domains in A-label form.
 *
 * Durability contract of store_msg_commit(): the callback reports success
 * only after the message content, its directory entries and the index rows
 * that record it are on stable storage. */
#ifndef POSTANE_STORE_H
#define POSTANE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/buf.h"

struct config;
struct store;
struct store_conn;
struct store_msg;

/* Which envelope senders and From: addresses an account may use when it
 * submits mail. */
enum store_send_as {
	STORE_SEND_AS_OWN,     /* its own address (and user+tag) only */
	STORE_SEND_AS_ALIASES, /* also every alias that delivers to it (default) */
	STORE_SEND_AS_ANY,     /* anything (service accounts) */
};

struct store_user {
	int64_t id;
	char local[130];
	char domain[256];
	char password[256]; /* encoded hash, e.g. "$argon2id$v=19$..." */
	uint64_t quota_bytes; /* 0 = unlimited */
	enum store_send_as send_as;
};

/* Changes for store_user_update(); NULL/negative fields stay unchanged. */
struct store_user_change {
	const char *password_hash;
	int64_t quota_bytes;  /* -1: unchanged */
	int send_as;          /* -1: unchanged */
};

struct store_domain_info {
	const char *name;
	unsigned users;
	unsigned aliases;
};

struct store_alias_info {
	const char *local; /* "" for the catch-all */
	const char *domain;
	const char *target;
};

typedef void store_domain_cb(void *ctx, const struct store_domain_info *info);
typedef void store_user_cb(void *ctx, const struct store_user *user);
typedef void store_alias_cb(void *ctx, const struct store_alias_info *info);
typedef void store_target_cb(void *ctx, const char *target);

/* Called on the committer thread when a commit finished: result 0 = durable,
 * -1 = failed (error names the reason; `temporary_full` when out of space). */
struct store_commit_result {
	int result;
	bool disk_full;
	const char *error;
	uint32_t uid;         /* APPEND: the new message's UID */
	uint32_t uidvalidity; /* APPEND: of the target mailbox */
};
typedef void store_commit_cb(void *ctx, const struct store_commit_result *res);

/* Open the backend named by cfg->store_backend. `create` makes the data
 * directory layout and the schema when missing (init). */
int store_open(const struct config *cfg, bool create, struct store **store_r, const char **error_r);
/* Stops the committer after it has finished every queued commit. Accepts NULL. */
void store_close(struct store **store);
/* Crash recovery before serving: remove unfinished temporary files and index
 * message files that reached a mailbox but not the index. Logs what it did. */
int store_recover(struct store *store, const char **error_r);
/* Start the background committer (needed for store_msg_commit). */
int store_start(struct store *store, const char **error_r);

struct store_conn *store_conn_open(struct store *store, const char **error_r);
void store_conn_close(struct store_conn **conn);
const char *store_conn_error(struct store_conn *conn);

/* Domains. */
int store_domain_add(struct store_conn *c, const char *domain);
int store_domain_del(struct store_conn *c, const char *domain, bool force);
int store_domain_list(struct store_conn *c, store_domain_cb *cb, void *ctx);
int store_domain_exists(struct store_conn *c, const char *domain);
/* The first domain added (for "<Postmaster>" without a domain). 1/0/-1. */
int store_domain_primary(struct store_conn *c, char *out, size_t outlen);

/* Accounts. */
int store_user_add(struct store_conn *c, const char *local, const char *domain,
		   const char *password_hash, uint64_t quota_bytes);
int store_user_del(struct store_conn *c, const char *local, const char *domain);
int store_user_list(struct store_conn *c, const char *domain, store_user_cb *cb, void *ctx);
int store_user_set_password(struct store_conn *c, const char *local, const char *domain,
			    const char *password_hash);
int store_user_lookup(struct store_conn *c, const char *local, const char *domain,
		      struct store_user *user_r);
int store_user_update(struct store_conn *c, const char *local, const char *domain,
		      const struct store_user_change *change);

/* An account's quota (0: none) and the bytes its mailboxes hold (computed
 * only when there is a quota; else 0). 1/0/-1. */
int store_account_quota(struct store_conn *c, int64_t account_id, uint64_t *quota_r,
			uint64_t *used_r);

/* Aliases: local "" is the catch-all for the domain. */
int store_alias_add(struct store_conn *c, const char *local, const char *domain,
		    const char *target);
/* target NULL removes every target of the alias. */
int store_alias_del(struct store_conn *c, const char *local, const char *domain,
		    const char *target);
int store_alias_list(struct store_conn *c, const char *domain, store_alias_cb *cb, void *ctx);
int store_alias_targets(struct store_conn *c, const char *local, const char *domain,
			store_target_cb *cb, void *ctx);

/* Delivery. A message is written once and committed to one or more
 * accounts' INBOX. On failure store_msg_begin() leaves errno set (ENOSPC or
 * EDQUOT: out of space) and a message in store_conn_error(). */
int store_msg_begin(struct store_conn *c, struct store_msg **msg_r);
/* Buffered write; -1 on failure (the message is then doomed: commit fails). */
int store_msg_write(struct store_msg *msg, const void *data, size_t len);
/* Bytes written so far. */
uint64_t store_msg_size(const struct store_msg *msg);
/* The error that doomed the message, or NULL; *disk_full_r for ENOSPC/EDQUOT. */
const char *store_msg_error(const struct store_msg *msg, bool *disk_full_r);
/* Throw the message away. Accepts NULL; sets *msg to NULL. */
void store_msg_abort(struct store_msg **msg);
/* Everything the committer needs besides the content. Copied by
 * store_msg_commit_env(), so it may live on the caller's stack. */
struct store_envelope {
	const char *sender;            /* reverse-path without <>, "" for the null sender */
	const int64_t *accounts;       /* local deliveries: each account's INBOX */
	size_t naccounts;
	const char *const *remote;     /* addresses for the outbound queue */
	size_t nremote;
	bool smtputf8;
	bool body_8bit;
	const char *auth_user;         /* submitting account, or NULL */
	const char *qid;               /* queue id shown to the client */
	/* DSN parameters (RFC 3461) for the queue: NULL/0 when not given. */
	const char *envid;             /* ENVID, decoded */
	int ret;                       /* 0 none, 1 FULL, 2 HDRS */
	const char *const *remote_notify; /* per remote rcpt: "SUCCESS,FAILURE", "NEVER" ... or NULL */
	const char *const *remote_orcpt;  /* per remote rcpt: "rfc822;addr" or NULL */
	/* IMAP APPEND: deliver into this mailbox instead (accounts unused). */
	int64_t append_mailbox;        /* 0: not an APPEND */
	uint32_t append_flags;         /* STORE_FLAG_* */
	const char *append_keywords;   /* space-separated, or NULL */
	int64_t append_date;           /* INTERNALDATE, seconds */
};
/* Hand the message to the committer; it takes ownership of msg. cb runs on
 * the committer thread exactly once. Local deliveries and the queue entry
 * for remote recipients are made durable together. */
void store_msg_commit_env(struct store_msg *msg, const struct store_envelope *env,
			  store_commit_cb *cb, void *ctx);
/* Local deliveries only (null sender). */
void store_msg_commit(struct store_msg *msg, const int64_t *account_ids, size_t n,
		      store_commit_cb *cb, void *ctx);

/* ----- Mailboxes and messages (IMAP, POP3) ----- */

#define STORE_FLAG_SEEN 0x01
#define STORE_FLAG_ANSWERED 0x02
#define STORE_FLAG_FLAGGED 0x04
#define STORE_FLAG_DELETED 0x08
#define STORE_FLAG_DRAFT 0x10

#define STORE_MAILBOX_NAME_MAX 512

struct store_mailbox {
	int64_t id;
	char name[STORE_MAILBOX_NAME_MAX]; /* UTF-8, '/' separates levels; "INBOX" */
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
	uint32_t recent_uid;               /* UIDs above are \\Recent (IMAP4rev1) */
	bool subscribed;
	char special_use[32];              /* "\\Sent" ... or "" */
};

struct store_mailbox_status {
	uint32_t messages;
	uint32_t recent;
	uint32_t unseen;
	uint32_t deleted;
	uint64_t size;
};

/* One message of a mailbox, as listed by store_messages(); the strings are
 * valid during the callback only. */
struct store_message {
	uint32_t uid;
	uint32_t flags;        /* STORE_FLAG_* */
	const char *keywords;  /* space-separated, "" for none */
	uint64_t modseq;
	uint64_t size;
	int64_t internaldate;
	const char *file;      /* the backend's key for the content (and cache) */
};

typedef void store_mailbox_cb(void *ctx, const struct store_mailbox *mb);
typedef void store_message_cb(void *ctx, const struct store_message *m);
typedef void store_uid_cb(void *ctx, uint32_t uid);
/* Called after a change to a mailbox is committed (new, changed or expunged
 * messages), from whichever thread made it. */
typedef void store_change_cb(void *ctx, int64_t mailbox_id);

void store_set_change_hook(struct store *store, store_change_cb *cb, void *ctx);

int store_mailbox_list(struct store_conn *c, int64_t account_id, store_mailbox_cb *cb, void *ctx);
int store_mailbox_find(struct store_conn *c, int64_t account_id, const char *name,
		       struct store_mailbox *mb_r);
/* Errors: "exists", "no such mailbox", "has children" ... in store_conn_error(). */
int store_mailbox_create(struct store_conn *c, int64_t account_id, const char *name,
			 const char *special_use);
int store_mailbox_delete(struct store_conn *c, int64_t account_id, const char *name);
/* Renaming INBOX moves its messages into a new mailbox; INBOX stays, empty. */
int store_mailbox_rename(struct store_conn *c, int64_t account_id, const char *from,
			 const char *to);
int store_mailbox_subscribe(struct store_conn *c, int64_t account_id, const char *name,
			    bool subscribe);
/* Subscribed names, including names without a mailbox. */
int store_subscriptions(struct store_conn *c, int64_t account_id, store_target_cb *cb, void *ctx);
int store_mailbox_status(struct store_conn *c, int64_t mailbox_id,
			 struct store_mailbox_status *st_r);
/* IMAP4rev1 \\Recent: returns the highest UID an earlier session already
 * saw, and claims everything up to UIDNEXT-1 (*upto_r) for the caller:
 * the messages in (seen, upto] are \\Recent for it alone. */
int store_mailbox_claim_recent(struct store_conn *c, int64_t mailbox_id, uint32_t *seen_uid_r,
			       uint32_t *upto_r);
/* Messages in UID order; with changed_since > 0 only those whose MODSEQ is
 * greater. */
int store_messages(struct store_conn *c, int64_t mailbox_id, uint64_t changed_since,
		   store_message_cb *cb, void *ctx);
/* UIDs expunged with a MODSEQ greater than since (QRESYNC VANISHED). */
int store_expunged(struct store_conn *c, int64_t mailbox_id, uint64_t since, store_uid_cb *cb,
		   void *ctx);
/* Change a message's flags and keywords, from their current values in the
 * index (not the caller's copy, which another session may have outdated):
 * SET replaces them, ADD and REMOVE add or remove the given system flags
 * and keywords (space-separated, compared ASCII case-insensitively). Only
 * if its MODSEQ is <= unchangedsince (STORE_ALWAYS: no condition; 0 never
 * matches, RFC 7162 3.1.3). Returns 1 (done: the
 * resulting flags, keywords and MODSEQ in the _r parameters; no new MODSEQ
 * when nothing changed), 0 (not done: unchangedsince failed, *modseq_r the
 * current one; or no such UID, *modseq_r 0), -1. Several calls between
 * store_changes_begin() and store_changes_end() share one transaction. */
enum store_flags_mode { STORE_FLAGS_SET, STORE_FLAGS_ADD, STORE_FLAGS_REMOVE };
#define STORE_ALWAYS UINT64_MAX
int store_flags_update(struct store_conn *c, int64_t mailbox_id, uint32_t uid,
		       enum store_flags_mode mode, uint32_t flags, const char *keywords,
		       uint64_t unchangedsince, uint32_t *flags_r, struct buf *keywords_r,
		       uint64_t *modseq_r);
int store_changes_begin(struct store_conn *c);
/* A consistent read snapshot across several queries (no writes). */
int store_read_begin(struct store_conn *c);
int store_read_end(struct store_conn *c);
/* Commit; `durable` forces it to stable storage before returning. */
int store_changes_end(struct store_conn *c, bool durable, int64_t mailbox_id);
/* Remove messages (durably, before their files go). */
int store_expunge(struct store_conn *c, int64_t mailbox_id, const uint32_t *uids, size_t n);
/* Copy (or move) messages; new UIDs in new_uids_r (n entries, 0 for UIDs
 * that were not found). Durable before it returns. */
int store_copy(struct store_conn *c, int64_t src_mailbox, const uint32_t *uids, size_t n,
	       int64_t dst_mailbox, bool move, uint32_t *new_uids_r);
/* Open a message's content read-only. Returns an fd and its size. */
int store_message_open(struct store_conn *c, int64_t mailbox_id, const struct store_message *m,
		       int *fd_r, uint64_t *size_r);
/* Parsed-structure cache keyed by the message file (shared by copies).
 * get: 1 found (value in out), 0 not, -1. */
int store_cache_get(struct store_conn *c, const char *file, const char *field, struct buf *out);
int store_cache_put(struct store_conn *c, const char *file, const char *field, const void *data,
		    size_t len);

/* ----- The outbound queue ----- */

enum store_qrcpt_state {
	STORE_QRCPT_PENDING = 0,
	STORE_QRCPT_DELIVERED = 1,
	STORE_QRCPT_BOUNCED = 2,
};

struct store_queue_rcpt {
	int64_t id;
	const char *address;
	const char *domain;
	enum store_qrcpt_state state;
	unsigned attempts;
	int64_t next_attempt;
	int64_t last_attempt;
	const char *last_error;  /* last reply or failure text, or NULL */
	const char *status;      /* DSN status of the last outcome ("4.4.1"), or NULL */
	const char *remote_mta;  /* host that gave the last reply, or NULL */
	const char *notify;      /* NOTIFY, or NULL */
	const char *orcpt;       /* ORCPT, or NULL */
};

struct store_queue_entry {
	int64_t id;
	const char *qid;
	const char *sender;      /* "" = null sender */
	const char *auth_user;   /* or NULL */
	const char *envid;       /* or NULL */
	int ret;                 /* 0 none, 1 FULL, 2 HDRS */
	uint64_t size;
	int64_t created;
	bool smtputf8, body_8bit, held, warned;
	const char *path;        /* the message file */
};

/* One entry with the recipients asked for (valid during the call only). */
typedef void store_queue_cb(void *ctx, const struct store_queue_entry *e,
			    const struct store_queue_rcpt *rcpts, size_t n);

/* Entries that are not held and have pending recipients due at `now`;
 * each with those recipients only (leased ones left out). At most `limit`
 * entries, oldest first. */
int store_queue_due(struct store_conn *c, int64_t now, unsigned limit, store_queue_cb *cb,
		    void *ctx);
/* Lease due recipients to this process until `until` (they are not due
 * again before, unless the lease is released); 0 releases. */
int store_queue_lease(struct store_conn *c, const int64_t *rcpt_ids, size_t n, int64_t until);
/* Release every lease (at start: one process owns the embedded queue). */
int store_queue_release_leases(struct store_conn *c);
/* Entry `id` (0: every entry) with all its recipients, whatever their state. */
int store_queue_list(struct store_conn *c, int64_t id, store_queue_cb *cb, void *ctx);
/* Entry by queue id text (as shown to clients and in logs): its row id, or
 * 0 when there is none; -1 on error. */
int64_t store_queue_find(struct store_conn *c, const char *qid);
/* The outcome of one attempt for a recipient. */
struct store_qrcpt_update {
	int64_t rcpt_id;
	enum store_qrcpt_state state;
	int64_t next_attempt;   /* pending only */
	int64_t attempt_time;
	bool count_attempt;     /* attempts + 1 */
	const char *error;      /* NULL keeps the last one */
	const char *status;
	const char *remote_mta;
};
int store_queue_update(struct store_conn *c, const struct store_qrcpt_update *u, size_t n);
/* Record many outcomes in one transaction, then remove each of `entries`
 * that has no pending recipient left (row first, then file); `removed` is
 * called for each entry removed (after the commit). The group commit of the
 * delivery scheduler. */
typedef void store_queue_removed_cb(void *ctx, int64_t entry_id);
int store_queue_settle(struct store_conn *c, const struct store_qrcpt_update *u, size_t n,
		       const int64_t *entries, size_t nentries, store_queue_removed_cb *removed,
		       void *ctx);
/* Remove entry `id` and its file (every recipient done, or the administrator). */
int store_queue_remove(struct store_conn *c, int64_t id);
int store_queue_set_held(struct store_conn *c, int64_t id, bool held);
int store_queue_set_warned(struct store_conn *c, int64_t id);
/* Make pending recipients of `id` (0: all entries) due at `now`. Returns the
 * number of recipients made due. */
int store_queue_flush(struct store_conn *c, int64_t id, int64_t now);
/* Earliest next attempt of a pending recipient of an entry not held: 1 with
 * *when_r set, 0 when nothing is pending. */
int store_queue_next_due(struct store_conn *c, int64_t *when_r);

/* ----- Integrity check (`postane check`) ----- */

/* Repair what can be repaired: index mail files the index lacks (or set
 * incomplete ones aside in DATA/spool/quarantine), drop index rows whose
 * file is gone, raise UIDNEXT/HIGHESTMODSEQ, set aside queue files without
 * an entry. Only while no server uses the store. */
#define STORE_CHECK_REPAIR 0x01u
/* A server is running: look twice (a second apart) and report only what is
 * wrong both times, so that deliveries and expunges in flight are not
 * mistaken for damage; files being received are not problems. */
#define STORE_CHECK_LIVE 0x02u

struct store_check_stats {
	unsigned mailboxes;
	uint64_t messages;      /* index rows looked at */
	uint64_t files;         /* message files looked at */
	unsigned queue_entries;
	unsigned problems;      /* found (repaired ones included) */
	unsigned repaired;
	unsigned spool_busy;    /* live: files being received, not counted as problems */
};

/* One problem, as one line of text (valid during the call only). */
typedef void store_check_cb(void *ctx, const char *problem, bool repaired);

/* Compare the index with the files: every message row has its file, every
 * file in a mailbox's new/ and cur/ has a row, UIDs are unique and below
 * UIDNEXT, MODSEQs not above HIGHESTMODSEQ, queue rows and queue files
 * match, queue recipients belong to an entry, no leftovers in the spool.
 * Returns 0 (problems, if any, went to cb and into *stats_r) or -1 when
 * the check itself could not run. */
int store_check(struct store *store, unsigned flags, store_check_cb *cb, void *ctx,
		struct store_check_stats *stats_r, const char **error_r);

/* Backend table (for store implementations only). */
struct store_backend {
	const char *name;
	int (*open)(const struct config *cfg, bool create, struct store **store_r,
		    const char **error_r);
	void (*close)(struct store *store);
	int (*recover)(struct store *store, const char **error_r);
	int (*check)(struct store *store, unsigned flags, store_check_cb *cb, void *ctx,
		     struct store_check_stats *stats_r, const char **error_r);
	int (*start)(struct store *store, const char **error_r);
	struct store_conn *(*conn_open)(struct store *store, const char **error_r);
	void (*conn_close)(struct store_conn *c);
	const char *(*conn_error)(struct store_conn *c);

	int (*domain_add)(struct store_conn *c, const char *domain);
	int (*domain_del)(struct store_conn *c, const char *domain, bool force);
	int (*domain_list)(struct store_conn *c, store_domain_cb *cb, void *ctx);
	int (*domain_exists)(struct store_conn *c, const char *domain);
	int (*domain_primary)(struct store_conn *c, char *out, size_t outlen);
	int (*user_add)(struct store_conn *c, const char *local, const char *domain,
			const char *password_hash, uint64_t quota_bytes);
	int (*user_del)(struct store_conn *c, const char *local, const char *domain);
	int (*user_list)(struct store_conn *c, const char *domain, store_user_cb *cb, void *ctx);
	int (*user_set_password)(struct store_conn *c, const char *local, const char *domain,
				 const char *password_hash);
	int (*user_lookup)(struct store_conn *c, const char *local, const char *domain,
			   struct store_user *user_r);
	int (*user_update)(struct store_conn *c, const char *local, const char *domain,
			   const struct store_user_change *change);
	int (*account_quota)(struct store_conn *c, int64_t account_id, uint64_t *quota_r,
			     uint64_t *used_r);
	int (*alias_add)(struct store_conn *c, const char *local, const char *domain,
			 const char *target);
	int (*alias_del)(struct store_conn *c, const char *local, const char *domain,
			 const char *target);
	int (*alias_list)(struct store_conn *c, const char *domain, store_alias_cb *cb, void *ctx);
	int (*alias_targets)(struct store_conn *c, const char *local, const char *domain,
			     store_target_cb *cb, void *ctx);

	int (*msg_begin)(struct store_conn *c, struct store_msg **msg_r);
	int (*msg_write)(struct store_msg *msg, const void *data, size_t len);
	uint64_t (*msg_size)(const struct store_msg *msg);
	const char *(*msg_error)(const struct store_msg *msg, bool *disk_full_r);
	void (*msg_abort)(struct store_msg *msg);
	void (*msg_commit)(struct store_msg *msg, const struct store_envelope *env,
			   store_commit_cb *cb, void *ctx);

	void (*set_change_hook)(struct store *store, store_change_cb *cb, void *ctx);
	int (*mailbox_list)(struct store_conn *c, int64_t account_id, store_mailbox_cb *cb,
			    void *ctx);
	int (*mailbox_find)(struct store_conn *c, int64_t account_id, const char *name,
			    struct store_mailbox *mb_r);
	int (*mailbox_create)(struct store_conn *c, int64_t account_id, const char *name,
			      const char *special_use);
	int (*mailbox_delete)(struct store_conn *c, int64_t account_id, const char *name);
	int (*mailbox_rename)(struct store_conn *c, int64_t account_id, const char *from,
			      const char *to);
	int (*mailbox_subscribe)(struct store_conn *c, int64_t account_id, const char *name,
				 bool subscribe);
	int (*subscriptions)(struct store_conn *c, int64_t account_id, store_target_cb *cb,
			     void *ctx);
	int (*mailbox_status)(struct store_conn *c, int64_t mailbox_id,
			      struct store_mailbox_status *st_r);
	int (*mailbox_claim_recent)(struct store_conn *c, int64_t mailbox_id, uint32_t *seen_uid_r,
				    uint32_t *upto_r);
	int (*messages)(struct store_conn *c, int64_t mailbox_id, uint64_t changed_since,
			store_message_cb *cb, void *ctx);
	int (*expunged)(struct store_conn *c, int64_t mailbox_id, uint64_t since, store_uid_cb *cb,
			void *ctx);
	int (*flags_update)(struct store_conn *c, int64_t mailbox_id, uint32_t uid,
			    enum store_flags_mode mode, uint32_t flags, const char *keywords,
			    uint64_t unchangedsince, uint32_t *flags_r, struct buf *keywords_r,
			    uint64_t *modseq_r);
	int (*changes_begin)(struct store_conn *c);
	int (*read_begin)(struct store_conn *c);
	int (*read_end)(struct store_conn *c);
	int (*changes_end)(struct store_conn *c, bool durable, int64_t mailbox_id);
	int (*expunge)(struct store_conn *c, int64_t mailbox_id, const uint32_t *uids, size_t n);
	int (*copy)(struct store_conn *c, int64_t src_mailbox, const uint32_t *uids, size_t n,
		    int64_t dst_mailbox, bool move, uint32_t *new_uids_r);
	int (*message_open)(struct store_conn *c, int64_t mailbox_id, const struct store_message *m,
			    int *fd_r, uint64_t *size_r);
	int (*cache_get)(struct store_conn *c, const char *file, const char *field, struct buf *out);
	int (*cache_put)(struct store_conn *c, const char *file, const char *field, const void *data,
			 size_t len);

	int (*queue_due)(struct store_conn *c, int64_t now, unsigned limit, store_queue_cb *cb,
			 void *ctx);
	int (*queue_lease)(struct store_conn *c, const int64_t *rcpt_ids, size_t n, int64_t until);
	int (*queue_release_leases)(struct store_conn *c);
	int (*queue_list)(struct store_conn *c, int64_t id, store_queue_cb *cb, void *ctx);
	int64_t (*queue_find)(struct store_conn *c, const char *qid);
	int (*queue_update)(struct store_conn *c, const struct store_qrcpt_update *u, size_t n);
	int (*queue_remove)(struct store_conn *c, int64_t id);
	int (*queue_settle)(struct store_conn *c, const struct store_qrcpt_update *u, size_t n,
			    const int64_t *entries, size_t nentries, store_queue_removed_cb *removed,
			    void *ctx);
	int (*queue_set_held)(struct store_conn *c, int64_t id, bool held);
	int (*queue_set_warned)(struct store_conn *c, int64_t id);
	int (*queue_flush)(struct store_conn *c, int64_t id, int64_t now);
	int (*queue_next_due)(struct store_conn *c, int64_t *when_r);
};

/* Every backend object starts with this header so the dispatcher can find
 * its table. */
struct store_base {
	const struct store_backend *backend;
};

extern const struct store_backend store_backend_maildir;

#endif
