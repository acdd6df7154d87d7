/* maildir_deliver.c - message delivery for the embedded backend, with group
 * commit.
 *
 * A message is streamed into DATA/spool/tmp/NAME while it is received. At
 * end of data the session hands it to the committer thread, which takes
 * every message that arrived since its last pass and, for the whole batch:
 *   1. makes the content durable (one syncfs(), or fdatasync() per file);
 *   2. hard-links each file into every recipient's INBOX new/ directory and
 *      assigns the IMAP UID inside one SQLite transaction;
 *   3. makes the directory entries durable (one syncfs(), or fsync() per
 *      distinct directory);
 *   4. commits the transaction (synchronous=FULL);
 * and only then reports success, which is when the session says "250".
 * A crash before step 4 leaves at worst files in new/ that the index does
 * not know yet; maildir_recover() indexes them at the next start. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"
#include "store/maildir_private.h"

#define WBUF_SIZE 65536

#define MM(x) ((struct maildir_msg *)(void *)(x))
#define MC(x) ((struct maildir_conn *)(void *)(x))
#define MS(x) ((struct maildir_store *)(void *)(x))

int maildir_msg_begin(struct store_conn *conn, struct store_msg **msg_r)
{
	struct maildir_conn *c = MC(conn);
	struct maildir_store *s = c->store;
	struct maildir_msg *m = xcalloc(1, sizeof(*m));
	m->base.backend = &store_backend_maildir;
	m->store = s;
	struct timeval tv;
	gettimeofday(&tv, NULL);
	uint64_t seq = atomic_fetch_add(&s->seq, 1);
	snprintf(m->name, sizeof(m->name), "%ld.M%06ldP%ldQ%llu.%s", (long)tv.tv_sec,
		 (long)tv.tv_usec, (long)getpid(), (unsigned long long)seq, s->host);
	snprintf(m->tmp_path, sizeof(m->tmp_path), "%s/%s", s->spool_tmp, m->name);
	m->fd = open(m->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (m->fd < 0) {
		int saved = errno;
		snprintf(c->error, sizeof(c->error), "%s: %s", m->tmp_path, strerror(saved));
		free(m);
		errno = saved;
		return -1;
	}
	m->wbuf = xmalloc(WBUF_SIZE);
	*msg_r = (struct store_msg *)(void *)m;
	return 0;
}

static int flush_wbuf(struct maildir_msg *m)
{
	if (m->err_no != 0)
		return -1;
	if (m->wlen > 0 && write_full(m->fd, m->wbuf, m->wlen) < 0) {
		m->err_no = errno;
		return -1;
	}
	m->wlen = 0;
	return 0;
}

int maildir_msg_write(struct store_msg *msg, const void *data, size_t len)
{
	struct maildir_msg *m = MM(msg);
	if (m->err_no != 0)
		return -1;
	m->size += len;
	if (len >= WBUF_SIZE) {
		if (flush_wbuf(m) < 0)
			return -1;
		if (write_full(m->fd, data, len) < 0) {
			m->err_no = errno;
			return -1;
		}
		return 0;
	}
	if (m->wlen + len > WBUF_SIZE && flush_wbuf(m) < 0)
		return -1;
	memcpy(m->wbuf + m->wlen, data, len);
	m->wlen += len;
	return 0;
}

uint64_t maildir_msg_size(const struct store_msg *msg)
{
	return ((const struct maildir_msg *)(const void *)msg)->size;
}

const char *maildir_msg_error(const struct store_msg *msg, bool *disk_full_r)
{
	const struct maildir_msg *m = (const struct maildir_msg *)(const void *)msg;
	*disk_full_r = m->err_no == ENOSPC || m->err_no == EDQUOT;
	return m->err_no != 0 ? strerror(m->err_no) : NULL;
}

static void msg_free(struct maildir_msg *m)
{
	if (m->fd >= 0)
		close(m->fd);
	unlink(m->tmp_path);
	free(m->wbuf);
	free(m->accounts);
	for (size_t i = 0; i < m->nremote; i++) {
		free(m->remote[i]);
		if (m->remote_notify != NULL)
			free(m->remote_notify[i]);
		if (m->remote_orcpt != NULL)
			free(m->remote_orcpt[i]);
	}
	free(m->remote);
	free(m->remote_notify);
	free(m->remote_orcpt);
	free(m->envid);
	free(m->sender);
	free(m->auth_user);
	free(m->append_keywords);
	free(m);
}

void maildir_msg_abort(struct store_msg *msg)
{
	msg_free(MM(msg));
}

static void complete(struct maildir_msg *m, int result, int err_no, const char *error)
{
	struct store_commit_result res = {
		.result = result,
		.disk_full = err_no == ENOSPC || err_no == EDQUOT,
		.error = error,
		.uid = result == 0 ? m->result_uid : 0,
		.uidvalidity = result == 0 ? m->result_uidvalidity : 0,
	};
	m->cb(m->cb_ctx, &res);
	msg_free(m);
}

void maildir_msg_commit(struct store_msg *msg, const struct store_envelope *env,
			store_commit_cb *cb, void *ctx)
{
	struct maildir_msg *m = MM(msg);
	struct maildir_store *s = m->store;
	m->cb = cb;
	m->cb_ctx = ctx;
	size_t n = env->naccounts;
	m->accounts = xmalloc((n == 0 ? 1 : n) * sizeof(int64_t));
	if (n > 0)
		memcpy(m->accounts, env->accounts, n * sizeof(int64_t));
	m->naccounts = n;
	m->sender = xstrdup(env->sender != NULL ? env->sender : "");
	m->nremote = env->nremote;
	m->remote = xcalloc(env->nremote == 0 ? 1 : env->nremote, sizeof(char *));
	for (size_t i = 0; i < env->nremote; i++)
		m->remote[i] = xstrdup(env->remote[i]);
	if (env->nremote > 0 && (env->remote_notify != NULL || env->remote_orcpt != NULL)) {
		m->remote_notify = xcalloc(env->nremote, sizeof(char *));
		m->remote_orcpt = xcalloc(env->nremote, sizeof(char *));
		for (size_t i = 0; i < env->nremote; i++) {
			if (env->remote_notify != NULL && env->remote_notify[i] != NULL)
				m->remote_notify[i] = xstrdup(env->remote_notify[i]);
			if (env->remote_orcpt != NULL && env->remote_orcpt[i] != NULL)
				m->remote_orcpt[i] = xstrdup(env->remote_orcpt[i]);
		}
	}
	m->envid = env->envid != NULL ? xstrdup(env->envid) : NULL;
	m->ret = env->ret;
	m->smtputf8 = env->smtputf8;
	m->body_8bit = env->body_8bit;
	m->auth_user = env->auth_user != NULL ? xstrdup(env->auth_user) : NULL;
	snprintf(m->qid, sizeof(m->qid), "%s", env->qid != NULL ? env->qid : "");
	m->append_mailbox = env->append_mailbox;
	m->append_flags = env->append_flags;
	m->append_keywords = env->append_keywords != NULL && env->append_keywords[0] != '\0'
				     ? xstrdup(env->append_keywords)
				     : NULL;
	m->append_date = env->append_date;
	/* The write happens here, on the caller's thread: it only copies into
	 * the page cache. The committer does the slow part. */
	flush_wbuf(m);
	pthread_mutex_lock(&s->lock);
	m->next = NULL;
	*s->pending_tail = m;
	s->pending_tail = &m->next;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

/* ----- the committer ----- */

/* With "auto", a batch with at least this many files (or directories) is
 * flushed with one syncfs() instead of one fdatasync() (fsync()) each:
 * measured on ext4, syncfs() costs about as much as two fdatasync()s. */
#define AUTO_SYNCFS_MIN 3

/* One delivery of one message into one INBOX, planned (UID allocated, row
 * inserted) while the content barrier runs, linked after it. */
struct placement {
	size_t msg;        /* index in batch->msgs */
	int64_t mailbox_id;
	int64_t uid;
	char *path;        /* .../new/FILENAME */
	bool linked;
};

struct batch {
	struct maildir_msg **msgs;
	int *err_no;           /* per message: 0 = fine so far */
	const char **err;      /* per message reason */
	int *sync_err;         /* per message, written by the syncer only */
	size_t n;
	struct placement *pl;
	size_t npl, pl_cap;
	char (*dirs)[PATH_MAX]; /* distinct new/ directories touched */
	size_t ndirs, dirs_cap;
};

static void batch_reset(struct batch *b)
{
	for (size_t i = 0; i < b->npl; i++)
		free(b->pl[i].path);
	b->n = 0;
	b->npl = 0;
	b->ndirs = 0;
}

static void batch_add_dir(struct batch *b, const char *dir)
{
	for (size_t i = 0; i < b->ndirs; i++)
		if (strcmp(b->dirs[i], dir) == 0)
			return;
	if (b->ndirs == b->dirs_cap) {
		b->dirs_cap = b->dirs_cap == 0 ? 32 : b->dirs_cap * 2;
		b->dirs = xrealloc(b->dirs, b->dirs_cap * sizeof(*b->dirs));
	}
	snprintf(b->dirs[b->ndirs++], PATH_MAX, "%s", dir);
}

static bool use_syncfs(const struct maildir_store *s, size_t count)
{
	return s->sync_mode == SYNC_SYNCFS || (s->sync_mode == SYNC_AUTO && count >= AUTO_SYNCFS_MIN);
}

/* Barrier 1: message content on stable storage. Runs on the syncer while
 * the committer uses err_no/err: it reads only the messages' own write
 * errors and reports per-message failures in sync_err. Returns an errno
 * value for a batch-wide failure. */
static int barrier_data(struct maildir_store *s, struct batch *b)
{
	size_t live = 0;
	for (size_t i = 0; i < b->n; i++) {
		b->sync_err[i] = 0;
		if (b->msgs[i]->err_no == 0)
			live++;
	}
	if (live == 0)
		return 0;
	if (use_syncfs(s, live))
		return syncfs(s->data_fd) < 0 ? errno : 0;
	for (size_t i = 0; i < b->n; i++)
		if (b->msgs[i]->err_no == 0 && fdatasync(b->msgs[i]->fd) < 0)
			b->sync_err[i] = errno;
	return 0;
}

/* Barrier 2: the new directory entries on stable storage. */
static int barrier_dirs(struct maildir_store *s, struct batch *b)
{
	if (b->ndirs == 0)
		return 0;
	if (use_syncfs(s, b->ndirs))
		return syncfs(s->data_fd) < 0 ? errno : 0;
	for (size_t i = 0; i < b->ndirs; i++)
		if (fsync_dir(b->dirs[i]) < 0)
			return errno;
	return 0;
}

/* The syncer thread runs one barrier while the committer works on the
 * index: the content barrier overlaps the UID allocation, the directory
 * barrier overlaps the COMMIT. */
enum sync_job { JOB_DATA = 1, JOB_DIRS = 2 };

static void *syncer_main(void *arg)
{
	struct maildir_store *s = arg;
	pthread_mutex_lock(&s->sync_lock);
	for (;;) {
		while (s->sync_batch == NULL && !s->sync_stop)
			pthread_cond_wait(&s->sync_cond, &s->sync_lock);
		if (s->sync_batch == NULL)
			break;
		struct batch *b = s->sync_batch;
		int job = s->sync_job;
		pthread_mutex_unlock(&s->sync_lock);
		int r = job == JOB_DATA ? barrier_data(s, b) : barrier_dirs(s, b);
		pthread_mutex_lock(&s->sync_lock);
		s->sync_result = r;
		s->sync_batch = NULL;
		s->sync_done = true;
		pthread_cond_broadcast(&s->sync_cond);
	}
	pthread_mutex_unlock(&s->sync_lock);
	return NULL;
}

static void syncer_begin(struct maildir_store *s, struct batch *b, enum sync_job job)
{
	pthread_mutex_lock(&s->sync_lock);
	s->sync_done = false;
	s->sync_job = job;
	s->sync_batch = b;
	pthread_cond_broadcast(&s->sync_cond);
	pthread_mutex_unlock(&s->sync_lock);
}

static int syncer_wait(struct maildir_store *s)
{
	pthread_mutex_lock(&s->sync_lock);
	while (!s->sync_done)
		pthread_cond_wait(&s->sync_cond, &s->sync_lock);
	int r = s->sync_result;
	pthread_mutex_unlock(&s->sync_lock);
	return r;
}

static int step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int db_errno(struct maildir_store *s)
{
	return sqlite3_errcode(s->commit_db) == SQLITE_FULL ? ENOSPC : EIO;
}

struct inbox {
	int64_t mailbox_id;
	char path[PATH_MAX];
};

static int find_inbox(struct maildir_store *s, int64_t account_id, struct inbox *ib)
{
	sqlite3_stmt *st = s->cq[CQ_INBOX];
	sqlite3_bind_int64(st, 1, account_id);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		return rc == SQLITE_DONE ? 0 : -1;
	}
	ib->mailbox_id = sqlite3_column_int64(st, 0);
	maildir_account_path(s, (const char *)sqlite3_column_text(st, 1),
			     (const char *)sqlite3_column_text(st, 2), ib->path, sizeof(ib->path));
	sqlite3_reset(st);
	return 1;
}

/* Next UID and MODSEQ of a mailbox, inside the open transaction. */
static int next_uid(struct maildir_store *s, int64_t mailbox_id, int64_t *uid, int64_t *modseq)
{
	sqlite3_stmt *st = s->cq[CQ_UID];
	sqlite3_bind_int64(st, 1, mailbox_id);
	*uid = *modseq = 0;
	int rc = sqlite3_step(st);
	bool found = rc == SQLITE_ROW;
	if (found) {
		*uid = sqlite3_column_int64(st, 0);
		*modseq = sqlite3_column_int64(st, 1);
	}
	/* RETURNING rows: step to completion so the UPDATE is finished. */
	while (rc == SQLITE_ROW)
		rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE && found ? 0 : -1;
}

static int insert_message(struct maildir_store *s, int64_t mailbox_id, int64_t uid,
			  const char *fname, uint64_t size, time_t date, int64_t modseq,
			  uint32_t flags, const char *keywords)
{
	sqlite3_stmt *st = s->cq[CQ_INSERT];
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, uid);
	sqlite3_bind_text(st, 3, fname, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)size);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)date);
	sqlite3_bind_int64(st, 6, modseq);
	sqlite3_bind_int(st, 7, (int)flags);
	if (keywords != NULL)
		sqlite3_bind_text(st, 8, keywords, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, 8);
	return step_done(st);
}

/* Forget the index rows of one message (its content or a link failed);
 * its UIDs stay used, as UIDs must never be reused. A queue placement has
 * mailbox_id 0 and the queue row id in uid. */
static void unplan_message(struct maildir_store *s, struct batch *b, size_t msg)
{
	for (size_t k = 0; k < b->npl; k++) {
		struct placement *p = &b->pl[k];
		if (p->msg != msg)
			continue;
		if (p->linked)
			unlink(p->path);
		p->linked = false;
		sqlite3_stmt *st = s->cq[p->mailbox_id == 0 ? CQ_QUEUE_DELETE : CQ_DELETE];
		if (p->mailbox_id == 0) {
			sqlite3_bind_int64(st, 1, p->uid);
		} else {
			sqlite3_bind_int64(st, 1, p->mailbox_id);
			sqlite3_bind_int64(st, 2, p->uid);
		}
		step_done(st);
	}
}

static void add_placement(struct batch *b, size_t msg, int64_t mailbox_id, int64_t uid,
			  const char *path)
{
	if (b->npl == b->pl_cap) {
		b->pl_cap = b->pl_cap == 0 ? 64 : b->pl_cap * 2;
		b->pl = xrealloc(b->pl, b->pl_cap * sizeof(*b->pl));
	}
	b->pl[b->npl++] = (struct placement){
		.msg = msg, .mailbox_id = mailbox_id, .uid = uid, .path = xstrdup(path)};
}

/* The queue entry of a message with remote recipients: one queue row, one
 * row per recipient, due now; its file is DATA/queue/NAME. */
static int plan_queue(struct maildir_store *s, struct batch *b, size_t msg, time_t now,
		      const char **why)
{
	struct maildir_msg *m = b->msgs[msg];
	char fname[256], path[PATH_MAX];
	snprintf(fname, sizeof(fname), "%s,S=%llu", m->name, (unsigned long long)m->size);
	sqlite3_stmt *st = s->cq[CQ_QUEUE];
	sqlite3_bind_text(st, 1, m->qid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, fname, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, m->sender, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)m->size);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)now);
	sqlite3_bind_int(st, 6, m->smtputf8);
	sqlite3_bind_int(st, 7, m->body_8bit);
	if (m->auth_user != NULL)
		sqlite3_bind_text(st, 8, m->auth_user, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, 8);
	if (m->envid != NULL)
		sqlite3_bind_text(st, 9, m->envid, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, 9);
	sqlite3_bind_int(st, 10, m->ret);
	if (step_done(st) < 0) {
		*why = "queue insert failed";
		return db_errno(s);
	}
	int64_t qrow = sqlite3_last_insert_rowid(s->commit_db);
	snprintf(path, sizeof(path), "%s/%s", s->queue_dir, fname);
	add_placement(b, msg, 0, qrow, path);
	for (size_t i = 0; i < m->nremote; i++) {
		const char *at = strrchr(m->remote[i], '@');
		sqlite3_stmt *r = s->cq[CQ_QUEUE_RCPT];
		sqlite3_bind_int64(r, 1, qrow);
		sqlite3_bind_text(r, 2, m->remote[i], -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(r, 3, at != NULL ? at + 1 : "", -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(r, 4, (sqlite3_int64)now);
		const char *notify = m->remote_notify != NULL ? m->remote_notify[i] : NULL;
		const char *orcpt = m->remote_orcpt != NULL ? m->remote_orcpt[i] : NULL;
		if (notify != NULL)
			sqlite3_bind_text(r, 5, notify, -1, SQLITE_TRANSIENT);
		else
			sqlite3_bind_null(r, 5);
		if (orcpt != NULL)
			sqlite3_bind_text(r, 6, orcpt, -1, SQLITE_TRANSIENT);
		else
			sqlite3_bind_null(r, 6);
		if (step_done(r) < 0) {
			*why = "queue insert failed";
			return db_errno(s);
		}
	}
	return 0;
}

/* Allocate UIDs and insert rows for one message (inside the open
 * transaction). Returns 0 or an errno value. */
static int plan_message(struct maildir_store *s, struct batch *b, size_t msg, time_t now,
			const char **why)
{
	struct maildir_msg *m = b->msgs[msg];
	char fname[256], path[PATH_MAX];
	snprintf(fname, sizeof(fname), "%s,S=%llu", m->name, (unsigned long long)m->size);
	if (m->append_mailbox != 0) {
		/* IMAP APPEND: one target mailbox, the client's flags and date. */
		char mbox[PATH_MAX];
		int f = maildir_mailbox_path(s->commit_db, s, m->append_mailbox, mbox, sizeof(mbox));
		if (f <= 0) {
			*why = f < 0 ? "index lookup failed" : "mailbox vanished";
			return f < 0 ? db_errno(s) : ENOENT;
		}
		int64_t uid, modseq;
		if (next_uid(s, m->append_mailbox, &uid, &modseq) < 0) {
			*why = "UID assignment failed";
			return db_errno(s);
		}
		if (insert_message(s, m->append_mailbox, uid, fname, m->size,
				   m->append_date > 0 ? m->append_date : now, modseq, m->append_flags,
				   m->append_keywords) < 0) {
			*why = "index insert failed";
			return db_errno(s);
		}
		snprintf(path, sizeof(path), "%s/new/%s", mbox, fname);
		add_placement(b, msg, m->append_mailbox, uid, path);
		m->result_uid = (uint32_t)uid;
		sqlite3_stmt *uv = NULL;
		if (sqlite3_prepare_v2(s->commit_db, "SELECT uidvalidity FROM mailboxes WHERE id = ?1",
				       -1, &uv, NULL) == SQLITE_OK) {
			sqlite3_bind_int64(uv, 1, m->append_mailbox);
			if (sqlite3_step(uv) == SQLITE_ROW)
				m->result_uidvalidity = (uint32_t)sqlite3_column_int64(uv, 0);
		}
		sqlite3_finalize(uv);
		return 0;
	}
	for (size_t k = 0; k < m->naccounts; k++) {
		struct inbox ib;
		int found = find_inbox(s, m->accounts[k], &ib);
		if (found < 0) {
			*why = "index lookup failed";
			return db_errno(s);
		}
		if (found == 0) {
			log_warn("store", m->name, "account %lld vanished before delivery",
				 (long long)m->accounts[k]);
			continue;
		}
		int64_t uid, modseq;
		if (next_uid(s, ib.mailbox_id, &uid, &modseq) < 0) {
			*why = "UID assignment failed";
			return db_errno(s);
		}
		if (insert_message(s, ib.mailbox_id, uid, fname, m->size, now, modseq, 0, NULL) < 0) {
			*why = "index insert failed";
			return db_errno(s);
		}
		snprintf(path, sizeof(path), "%s/new/%s", ib.path, fname);
		add_placement(b, msg, ib.mailbox_id, uid, path);
	}
	if (m->nremote > 0)
		return plan_queue(s, b, msg, now, why);
	return 0;
}

/* After the content barrier: hard-link each planned file into place. */
static void link_messages(struct maildir_store *s, struct batch *b)
{
	for (size_t k = 0; k < b->npl; k++) {
		struct placement *p = &b->pl[k];
		if (b->err_no[p->msg] != 0)
			continue;
		if (link(b->msgs[p->msg]->tmp_path, p->path) < 0) {
			b->err_no[p->msg] = errno;
			b->err[p->msg] = "cannot link into mailbox";
			unplan_message(s, b, p->msg);
			continue;
		}
		p->linked = true;
		char dir[PATH_MAX];
		snprintf(dir, sizeof(dir), "%s", p->path);
		*strrchr(dir, '/') = '\0';
		batch_add_dir(b, dir);
	}
}

static void unlink_all(struct batch *b)
{
	for (size_t k = 0; k < b->npl; k++) {
		if (b->pl[k].linked)
			unlink(b->pl[k].path);
		b->pl[k].linked = false;
	}
}

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void process_batch(struct maildir_store *s, struct batch *b)
{
	time_t now = time(NULL);
	int fatal = 0;
	const char *fatal_why = NULL;
	uint64_t t0 = now_us(), t_data, t_link;

	for (size_t i = 0; i < b->n; i++) {
		if (b->msgs[i]->err_no != 0) {
			b->err_no[i] = b->msgs[i]->err_no;
			b->err[i] = "write failed";
		}
	}
	/* 1. Content barrier on the syncer while the index rows are planned
	 *    here (nothing is visible before COMMIT). */
	syncer_begin(s, b, JOB_DATA);
	bool in_txn = step_done(s->cq[CQ_BEGIN]) == 0;
	if (!in_txn) {
		fatal = db_errno(s);
		fatal_why = "cannot begin index transaction";
	}
	for (size_t i = 0; in_txn && fatal == 0 && i < b->n; i++) {
		if (b->err_no[i] != 0)
			continue;
		int e = plan_message(s, b, i, now, &b->err[i]);
		if (e != 0) {
			b->err_no[i] = e;
			unplan_message(s, b, i);
		}
	}
	int drc = syncer_wait(s);
	t_data = now_us();
	if (fatal == 0 && drc != 0) {
		fatal = drc;
		fatal_why = "content sync failed";
	}
	/* 2. Only durable content is linked into mailboxes. */
	if (fatal == 0) {
		for (size_t i = 0; i < b->n; i++) {
			if (b->err_no[i] == 0 && b->sync_err[i] != 0) {
				b->err_no[i] = b->sync_err[i];
				b->err[i] = "fdatasync failed";
				unplan_message(s, b, i);
			}
		}
		link_messages(s, b);
	}
	t_link = now_us();
	/* 3. Directory barrier on the syncer while the index commits. A crash
	 *    in between leaves files the index lacks, or rows whose file is
	 *    missing; maildir_recover() reconciles both (none was acknowledged). */
	if (fatal == 0) {
		syncer_begin(s, b, JOB_DIRS);
		int crc = step_done(s->cq[CQ_COMMIT]);
		int dirc = syncer_wait(s);
		if (crc < 0) {
			fatal = db_errno(s);
			fatal_why = "index commit failed";
			step_done(s->cq[CQ_ROLLBACK]);
			unlink_all(b);
		} else if (dirc != 0) {
			/* Rows committed, entries maybe not durable: report the
			 * failure; recovery drops what was lost. */
			fatal = dirc;
			fatal_why = "directory sync failed";
		}
	} else if (in_txn) {
		step_done(s->cq[CQ_ROLLBACK]);
		unlink_all(b);
	}
	if (fatal != 0)
		log_error("store", NULL, "commit of %zu message(s) failed: %s: %s", b->n,
			  fatal_why != NULL ? fatal_why : "?", strerror(fatal));

	if (fatal == 0 && s->change_cb != NULL) {
		/* New mail: wake IMAP sessions of each mailbox (once). */
		for (size_t k = 0; k < b->npl; k++) {
			struct placement *p = &b->pl[k];
			if (!p->linked || p->mailbox_id == 0)
				continue;
			bool seen = false;
			for (size_t j = 0; j < k && !seen; j++)
				seen = b->pl[j].linked && b->pl[j].mailbox_id == p->mailbox_id;
			if (!seen)
				maildir_notify_change(s, p->mailbox_id);
		}
	}
	s->batches++;
	log_debug("store", NULL, "batch of %zu: content sync %lluus, links %lluus, commit+dirs %lluus",
		  b->n, (unsigned long long)(t_data - t0), (unsigned long long)(t_link - t_data),
		  (unsigned long long)(now_us() - t_link));
	for (size_t i = 0; i < b->n; i++) {
		int e = fatal != 0 ? fatal : b->err_no[i];
		const char *why = fatal != 0 ? fatal_why : b->err[i];
		if (e == 0)
			s->committed++;
		else if (fatal == 0)
			log_warn("store", b->msgs[i]->name, "delivery failed: %s: %s",
				 why != NULL ? why : "error", strerror(e));
		complete(b->msgs[i], e == 0 ? 0 : -1, e, e == 0 ? NULL : why);
	}
	batch_reset(b);
}

static void *committer_main(void *arg)
{
	struct maildir_store *s = arg;
	struct batch b = {0};
	size_t cap = 0;
	for (;;) {
		pthread_mutex_lock(&s->lock);
		while (s->pending == NULL && !s->stopping)
			pthread_cond_wait(&s->cond, &s->lock);
		struct maildir_msg *list = s->pending;
		s->pending = NULL;
		s->pending_tail = &s->pending;
		bool stop = s->stopping && list == NULL;
		pthread_mutex_unlock(&s->lock);
		if (stop)
			break;
		for (struct maildir_msg *m = list; m != NULL; m = m->next) {
			if (b.n == cap) {
				cap = cap == 0 ? 64 : cap * 2;
				b.msgs = xrealloc(b.msgs, cap * sizeof(*b.msgs));
				b.err_no = xrealloc(b.err_no, cap * sizeof(*b.err_no));
				b.err = xrealloc(b.err, cap * sizeof(*b.err));
				b.sync_err = xrealloc(b.sync_err, cap * sizeof(*b.sync_err));
			}
			b.msgs[b.n] = m;
			b.err_no[b.n] = 0;
			b.err[b.n] = NULL;
			b.n++;
		}
		process_batch(s, &b);
	}
	free(b.msgs);
	free(b.err_no);
	free(b.err);
	free(b.sync_err);
	free(b.pl);
	free(b.dirs);
	return NULL;
}

static const char *const commit_sql[CQ_COUNT] = {
	[CQ_INBOX] = ("SELECT m.id, a.localpart, d.name FROM accounts a"
		      " JOIN domains d ON d.id = a.domain_id JOIN mailboxes m"
		      " ON m.account_id = a.id AND m.name = 'INBOX' WHERE a.id = ?1"),
	[CQ_UID] = ("UPDATE mailboxes SET uidnext = uidnext + 1,"
		    " highestmodseq = highestmodseq + 1 WHERE id = ?1"
		    " RETURNING uidnext - 1, highestmodseq"),
	[CQ_INSERT] = ("INSERT INTO messages(mailbox_id, uid, filename, size,"
		       " internaldate, modseq, flags, keywords)"
		       " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
	[CQ_BEGIN] = "BEGIN IMMEDIATE",
	[CQ_COMMIT] = "COMMIT",
	[CQ_ROLLBACK] = "ROLLBACK",
	[CQ_DELETE] = "DELETE FROM messages WHERE mailbox_id = ?1 AND uid = ?2",
	[CQ_QUEUE] = ("INSERT INTO queue(qid, filename, sender, size, created, smtputf8,"
		      " body_8bit, auth_user, envid, ret)"
		      " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
	[CQ_QUEUE_RCPT] = ("INSERT INTO queue_rcpt(queue_id, address, domain, next_attempt,"
			   " notify, orcpt) VALUES(?1, ?2, ?3, ?4, ?5, ?6)"),
	[CQ_QUEUE_DELETE] = "DELETE FROM queue WHERE id = ?1",
};

static void committer_close_db(struct maildir_store *s)
{
	for (int i = 0; i < CQ_COUNT; i++) {
		sqlite3_finalize(s->cq[i]);
		s->cq[i] = NULL;
	}
	sqlite3_close(s->commit_db);
	s->commit_db = NULL;
}

int maildir_committer_start(struct maildir_store *s, const char **error_r)
{
	if (s->started)
		return 0;
	if (maildir_db_open(s->db_path, false, &s->commit_db, error_r) < 0)
		return -1;
	for (int i = 0; i < CQ_COUNT; i++) {
		if (sqlite3_prepare_v3(s->commit_db, commit_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
				       &s->cq[i], NULL) != SQLITE_OK) {
			*error_r = "cannot prepare the committer's statements";
			committer_close_db(s);
			return -1;
		}
	}
	pthread_mutex_init(&s->sync_lock, NULL);
	pthread_cond_init(&s->sync_cond, NULL);
	s->sync_stop = false;
	if (pthread_create(&s->syncer, NULL, syncer_main, s) != 0) {
		*error_r = "cannot start the syncer thread";
		committer_close_db(s);
		return -1;
	}
	if (pthread_create(&s->thread, NULL, committer_main, s) != 0) {
		*error_r = "cannot start the committer thread";
		pthread_mutex_lock(&s->sync_lock);
		s->sync_stop = true;
		pthread_cond_broadcast(&s->sync_cond);
		pthread_mutex_unlock(&s->sync_lock);
		pthread_join(s->syncer, NULL);
		committer_close_db(s);
		return -1;
	}
	s->started = true;
	return 0;
}

void maildir_committer_stop(struct maildir_store *s)
{
	if (!s->started)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	pthread_mutex_lock(&s->sync_lock);
	s->sync_stop = true;
	pthread_cond_broadcast(&s->sync_cond);
	pthread_mutex_unlock(&s->sync_lock);
	pthread_join(s->syncer, NULL);
	pthread_mutex_destroy(&s->sync_lock);
	pthread_cond_destroy(&s->sync_cond);
	s->started = false;
	log_info("store", NULL, "committer stopped: %llu message(s) in %llu batch(es)",
		 (unsigned long long)s->committed, (unsigned long long)s->batches);
	committer_close_db(s);
}

/* ----- recovery ----- */

static unsigned clean_spool(struct maildir_store *s)
{
	unsigned removed = 0;
	DIR *d = opendir(s->spool_tmp);
	if (d == NULL)
		return 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			removed++;
	}
	closedir(d);
	return removed;
}

/* Names in a mailbox's cur/ directory, without the ":2,FLAGS" info part;
 * read once, only when recovery needs it. */
struct cur_names {
	char **v;
	size_t n;
	bool loaded;
};

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void cur_load(struct cur_names *cn, const char *path)
{
	char dir[PATH_MAX];
	cn->loaded = true;
	snprintf(dir, sizeof(dir), "%s/cur", path);
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	struct dirent *de;
	size_t cap = 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (cn->n == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			cn->v = xrealloc(cn->v, cap * sizeof(char *));
		}
		cn->v[cn->n++] = xstrndup(de->d_name, strcspn(de->d_name, ":"));
	}
	closedir(d);
	if (cn->n > 1)
		qsort(cn->v, cn->n, sizeof(char *), cmp_names);
}

static bool cur_has(struct cur_names *cn, const char *path, const char *name)
{
	if (!cn->loaded)
		cur_load(cn, path);
	return cn->n > 0 && bsearch(&name, cn->v, cn->n, sizeof(char *), cmp_names) != NULL;
}

static void cur_free(struct cur_names *cn)
{
	for (size_t i = 0; i < cn->n; i++)
		free(cn->v[i]);
	free(cn->v);
}

/* Index rows of one mailbox marked in_new whose file is not in new/: moved
 * to cur/ by a local mail reader (keep the row, note the move), or gone:
 * deleted by a local mail reader, or from a batch that crashed between its
 * index commit and its directory sync (never acknowledged). Drop those. */
static int drop_lost_rows(sqlite3 *db, int64_t mailbox_id, const char *path, unsigned *dropped)
{
	char file[PATH_MAX];
	sqlite3_stmt *q = NULL, *del = NULL, *moved = NULL;
	struct cur_names cn = {0};
	int ret = 0;
	if (sqlite3_prepare_v2(db, "SELECT id, filename FROM messages WHERE mailbox_id = ?1"
				   " AND in_new = 1", -1, &q, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "DELETE FROM messages WHERE id = ?1", -1, &del, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "UPDATE messages SET in_new = 0 WHERE id = ?1", -1, &moved,
			       NULL) != SQLITE_OK)
		ret = -1;
	if (ret == 0)
		sqlite3_bind_int64(q, 1, mailbox_id);
	while (ret == 0 && sqlite3_step(q) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(q, 1);
		snprintf(file, sizeof(file), "%s/new/%s", path, name);
		if (access(file, F_OK) == 0 || errno != ENOENT)
			continue;
		sqlite3_stmt *st = cur_has(&cn, path, name) ? moved : del;
		if (st == del) {
			log_warn("store", NULL, "recovery: %s is gone; dropping its index row", file);
			(*dropped)++;
		}
		sqlite3_bind_int64(st, 1, sqlite3_column_int64(q, 0));
		if (sqlite3_step(st) != SQLITE_DONE)
			ret = -1;
		sqlite3_reset(st);
	}
	cur_free(&cn);
	sqlite3_finalize(q);
	sqlite3_finalize(del);
	sqlite3_finalize(moved);
	return ret;
}

/* Index files in one mailbox's new/ that the index does not know. A file
 * whose size differs from the S= in its name is incomplete and removed. */
static int index_orphans(sqlite3 *db, const char *data_dir, int64_t mailbox_id, const char *path,
			 unsigned *added)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/new", path);
	DIR *d = opendir(dir);
	if (d == NULL)
		return errno == ENOENT ? 0 : -1;
	sqlite3_stmt *q_known = NULL, *q_uid = NULL, *q_insert = NULL;
	int ret = 0;
	if (sqlite3_prepare_v2(db, "SELECT 1 FROM messages WHERE mailbox_id = ?1 AND filename = ?2",
			       -1, &q_known, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, commit_sql[CQ_UID], -1, &q_uid, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, commit_sql[CQ_INSERT], -1, &q_insert, NULL) != SQLITE_OK)
		ret = -1;
	struct dirent *de;
	while (ret == 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		sqlite3_reset(q_known);
		sqlite3_bind_int64(q_known, 1, mailbox_id);
		sqlite3_bind_text(q_known, 2, de->d_name, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(q_known) == SQLITE_ROW)
			continue;
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode))
			continue;
		const char *sz = strstr(de->d_name, ",S=");
		if (sz != NULL && strtoull(sz + 3, NULL, 10) != (unsigned long long)st.st_size) {
			/* Incomplete (a crash before its batch finished), or a file
			 * copied in with a wrong name: never delete mail, set it
			 * aside for the administrator. */
			char qdir[PATH_MAX], qpath[PATH_MAX];
			snprintf(qdir, sizeof(qdir), "%s/spool/quarantine", data_dir);
			snprintf(qpath, sizeof(qpath), "%s/%s", qdir, de->d_name);
			if (mkdir_p(qdir, 0700) == 0 &&
			    renameat(dirfd(d), de->d_name, AT_FDCWD, qpath) == 0)
				log_warn("store", NULL, "recovery: %s/%s has the wrong size; moved to %s",
					 dir, de->d_name, qpath);
			continue;
		}
		sqlite3_reset(q_uid);
		sqlite3_bind_int64(q_uid, 1, mailbox_id);
		if (sqlite3_step(q_uid) != SQLITE_ROW) {
			ret = -1;
			break;
		}
		int64_t uid = sqlite3_column_int64(q_uid, 0), modseq = sqlite3_column_int64(q_uid, 1);
		while (sqlite3_step(q_uid) == SQLITE_ROW)
			;
		sqlite3_reset(q_uid);
		sqlite3_reset(q_insert);
		sqlite3_bind_int64(q_insert, 1, mailbox_id);
		sqlite3_bind_int64(q_insert, 2, uid);
		sqlite3_bind_text(q_insert, 3, de->d_name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(q_insert, 4, (sqlite3_int64)st.st_size);
		sqlite3_bind_int64(q_insert, 5, (sqlite3_int64)st.st_mtime);
		sqlite3_bind_int64(q_insert, 6, modseq);
		sqlite3_bind_int(q_insert, 7, 0);
		if (sqlite3_step(q_insert) != SQLITE_DONE)
			ret = -1;
		else
			(*added)++;
	}
	closedir(d);
	sqlite3_finalize(q_known);
	sqlite3_finalize(q_uid);
	sqlite3_finalize(q_insert);
	return ret;
}

/* The outbound queue: a row whose file is missing comes from a batch that
 * crashed before its directory sync (never acknowledged): drop it. A file
 * without a row has no envelope to deliver with: set it aside. */
static int recover_queue(struct maildir_store *s, sqlite3 *db, unsigned *dropped,
			 unsigned *quarantined)
{
	char path[PATH_MAX];
	sqlite3_stmt *q = NULL, *del = NULL, *known = NULL;
	int ret = 0;
	if (sqlite3_prepare_v2(db, "SELECT id, filename FROM queue", -1, &q, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "DELETE FROM queue WHERE id = ?1", -1, &del, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT 1 FROM queue WHERE filename = ?1", -1, &known, NULL) !=
		    SQLITE_OK)
		ret = -1;
	while (ret == 0 && sqlite3_step(q) == SQLITE_ROW) {
		snprintf(path, sizeof(path), "%s/%s", s->queue_dir,
			 (const char *)sqlite3_column_text(q, 1));
		if (access(path, F_OK) == 0 || errno != ENOENT)
			continue;
		log_warn("store", NULL, "recovery: queued file %s is gone; dropping its entry", path);
		sqlite3_bind_int64(del, 1, sqlite3_column_int64(q, 0));
		if (sqlite3_step(del) != SQLITE_DONE)
			ret = -1;
		sqlite3_reset(del);
		(*dropped)++;
	}
	DIR *d = ret == 0 ? opendir(s->queue_dir) : NULL;
	struct dirent *de;
	while (d != NULL && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		sqlite3_reset(known);
		sqlite3_bind_text(known, 1, de->d_name, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(known) == SQLITE_ROW)
			continue;
		char qdir[PATH_MAX], qpath[PATH_MAX];
		snprintf(qdir, sizeof(qdir), "%s/spool/quarantine", s->data_dir);
		snprintf(qpath, sizeof(qpath), "%s/%s", qdir, de->d_name);
		if (mkdir_p(qdir, 0700) == 0 && renameat(dirfd(d), de->d_name, AT_FDCWD, qpath) == 0) {
			log_warn("store", NULL, "recovery: queue file %s has no entry; moved to %s",
				 de->d_name, qpath);
			(*quarantined)++;
		}
	}
	if (d != NULL)
		closedir(d);
	sqlite3_finalize(q);
	sqlite3_finalize(del);
	sqlite3_finalize(known);
	return ret;
}

int maildir_recover(struct store *store, const char **error_r)
{
	static _Thread_local char err[600];
	struct maildir_store *s = MS(store);
	unsigned removed = clean_spool(s);
	if (removed > 0)
		log_info("store", NULL, "recovery: removed %u unfinished message file(s)", removed);

	sqlite3 *db;
	if (maildir_db_open(s->db_path, false, &db, error_r) < 0)
		return -1;
	sqlite3_stmt *st = NULL;
	int ret = 0;
	unsigned added = 0, dropped = 0;
	if (maildir_db_exec(db, "BEGIN IMMEDIATE") < 0 ||
	    sqlite3_prepare_v2(db,
			       "SELECT m.id, a.localpart, d.name FROM mailboxes m"
			       " JOIN accounts a ON a.id = m.account_id"
			       " JOIN domains d ON d.id = a.domain_id WHERE m.name = 'INBOX'",
			       -1, &st, NULL) != SQLITE_OK) {
		ret = -1;
	}
	while (ret == 0 && sqlite3_step(st) == SQLITE_ROW) {
		char path[PATH_MAX];
		maildir_account_path(s, (const char *)sqlite3_column_text(st, 1),
				     (const char *)sqlite3_column_text(st, 2), path, sizeof(path));
		int64_t mailbox_id = sqlite3_column_int64(st, 0);
		if (drop_lost_rows(db, mailbox_id, path, &dropped) < 0 ||
		    index_orphans(db, s->data_dir, mailbox_id, path, &added) < 0)
			ret = -1;
	}
	sqlite3_finalize(st);
	unsigned qdropped = 0, quarantined = 0;
	if (ret == 0 && recover_queue(s, db, &qdropped, &quarantined) < 0)
		ret = -1;
	if (ret == 0 && maildir_db_exec(db, "COMMIT") < 0)
		ret = -1;
	if (ret < 0) {
		snprintf(err, sizeof(err), "recovery: %s", sqlite3_errmsg(db));
		*error_r = err;
		maildir_db_exec(db, "ROLLBACK");
	} else {
		if (added > 0)
			log_info("store", NULL, "recovery: indexed %u message(s) found in new/", added);
		if (dropped > 0)
			log_info("store", NULL, "recovery: dropped %u unacknowledged index row(s)",
				 dropped);
		if (qdropped > 0 || quarantined > 0)
			log_info("store", NULL,
				 "recovery: queue: dropped %u unacknowledged entr(ies), set aside %u"
				 " file(s)",
				 qdropped, quarantined);
	}
	sqlite3_close(db);
	return ret;
}
