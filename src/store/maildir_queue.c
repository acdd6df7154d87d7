/* maildir_queue.c - the outbound queue in the embedded backend: one row per
 * message in `queue`, one per recipient in `queue_rcpt`, the message file in
 * DATA/queue/. Rows are written by the committer together with the
 * message (maildir_deliver.c); this file reads and updates them for the
 * delivery scheduler and `postane queue`.
 *
 * One process delivers, so a recipient needs no lease here: the scheduler
 * keeps its own set of recipients in flight. A multi-node backend leases
 * them (queue_rcpt.lease_until) instead. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"
#include "store/maildir_private.h"

#define MC(x) ((struct maildir_conn *)(void *)(x))

static const char *col_text(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

/* The columns every listing reads, entry first, then recipient. */
#define ENTRY_COLS                                                                          \
	"q.id, q.qid, q.filename, q.sender, q.size, q.created, q.smtputf8, q.body_8bit,"     \
	" q.auth_user, q.held, q.warned, q.envid, q.ret"
#define RCPT_COLS                                                                           \
	"r.id, r.address, r.domain, r.state, r.attempts, r.next_attempt, r.last_attempt,"     \
	" r.last_error, r.status, r.remote_mta, r.notify, r.orcpt"

struct collect {
	struct maildir_conn *c;
	store_queue_cb *cb;
	void *ctx;
	struct store_queue_entry e;
	char path[PATH_MAX];
	struct store_queue_rcpt *r;
	size_t n, cap;
	/* copies of the entry's text columns (the statement moves on) */
	char *qid, *sender, *auth_user, *envid;
};

static void collect_flush(struct collect *col)
{
	if (col->e.id != 0)
		col->cb(col->ctx, &col->e, col->r, col->n);
	for (size_t i = 0; i < col->n; i++) {
		free((char *)col->r[i].address);
		free((char *)col->r[i].domain);
		free((char *)col->r[i].last_error);
		free((char *)col->r[i].status);
		free((char *)col->r[i].remote_mta);
		free((char *)col->r[i].notify);
		free((char *)col->r[i].orcpt);
	}
	col->n = 0;
	free(col->qid);
	free(col->sender);
	free(col->auth_user);
	free(col->envid);
	col->qid = col->sender = col->auth_user = col->envid = NULL;
	memset(&col->e, 0, sizeof(col->e));
}

static char *dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

/* Rows come ordered by entry: group them and call back once per entry. */
static int collect_rows(struct collect *col, sqlite3_stmt *st)
{
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		if (id != col->e.id) {
			collect_flush(col);
			struct store_queue_entry *e = &col->e;
			struct maildir_store *s = col->c->store;
			e->id = id;
			e->qid = col->qid = xstrdup(col_text(st, 1) != NULL ? col_text(st, 1) : "");
			snprintf(col->path, sizeof(col->path), "%s/%s", s->queue_dir,
				 col_text(st, 2) != NULL ? col_text(st, 2) : "");
			e->path = col->path;
			e->sender = col->sender = xstrdup(col_text(st, 3) != NULL ? col_text(st, 3) : "");
			e->size = (uint64_t)sqlite3_column_int64(st, 4);
			e->created = sqlite3_column_int64(st, 5);
			e->smtputf8 = sqlite3_column_int(st, 6) != 0;
			e->body_8bit = sqlite3_column_int(st, 7) != 0;
			e->auth_user = col->auth_user = dup_or_null(col_text(st, 8));
			e->held = sqlite3_column_int(st, 9) != 0;
			e->warned = sqlite3_column_int(st, 10) != 0;
			e->envid = col->envid = dup_or_null(col_text(st, 11));
			e->ret = sqlite3_column_int(st, 12);
		}
		if (sqlite3_column_type(st, 13) == SQLITE_NULL)
			continue; /* an entry without recipients (list only) */
		if (col->n == col->cap) {
			col->cap = col->cap == 0 ? 8 : col->cap * 2;
			col->r = xrealloc(col->r, col->cap * sizeof(*col->r));
		}
		struct store_queue_rcpt *r = &col->r[col->n++];
		r->id = sqlite3_column_int64(st, 13);
		r->address = xstrdup(col_text(st, 14) != NULL ? col_text(st, 14) : "");
		r->domain = xstrdup(col_text(st, 15) != NULL ? col_text(st, 15) : "");
		r->state = (enum store_qrcpt_state)sqlite3_column_int(st, 16);
		r->attempts = (unsigned)sqlite3_column_int(st, 17);
		r->next_attempt = sqlite3_column_int64(st, 18);
		r->last_attempt = sqlite3_column_int64(st, 19);
		r->last_error = dup_or_null(col_text(st, 20));
		r->status = dup_or_null(col_text(st, 21));
		r->remote_mta = dup_or_null(col_text(st, 22));
		r->notify = dup_or_null(col_text(st, 23));
		r->orcpt = dup_or_null(col_text(st, 24));
	}
	collect_flush(col);
	free(col->r);
	col->r = NULL;
	col->cap = 0;
	return rc == SQLITE_DONE ? 0 : -1;
}

static int run_listing(struct maildir_conn *c, const char *sql, int64_t a, int64_t b,
		       store_queue_cb *cb, void *ctx)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK)
		return maildir_db_error(c);
	sqlite3_bind_int64(st, 1, a);
	sqlite3_bind_int64(st, 2, b);
	struct collect col = {.c = c, .cb = cb, .ctx = ctx};
	int ret = collect_rows(&col, st);
	if (ret < 0)
		maildir_db_error(c);
	sqlite3_finalize(st);
	return ret;
}

int maildir_queue_due(struct store_conn *conn, int64_t now, unsigned limit, store_queue_cb *cb,
		      void *ctx)
{
	/* The entries first (bounded), then their due recipients in one pass. */
	static const char sql[] =
		"SELECT " ENTRY_COLS ", " RCPT_COLS " FROM queue q JOIN queue_rcpt r ON r.queue_id = q.id"
		" WHERE q.id IN (SELECT DISTINCT d.queue_id FROM queue_rcpt d JOIN queue e"
		"  ON e.id = d.queue_id WHERE d.state = 0 AND d.next_attempt <= ?1 AND e.held = 0"
		"  AND d.lease_until <= ?1 ORDER BY d.queue_id LIMIT ?2)"
		" AND r.state = 0 AND r.next_attempt <= ?1 AND r.lease_until <= ?1"
		" ORDER BY q.id, r.domain, r.id";
	return run_listing(MC(conn), sql, now, limit, cb, ctx);
}

int maildir_queue_list(struct store_conn *conn, int64_t id, store_queue_cb *cb, void *ctx)
{
	static const char sql[] =
		"SELECT " ENTRY_COLS ", " RCPT_COLS " FROM queue q LEFT JOIN queue_rcpt r"
		" ON r.queue_id = q.id WHERE ?1 = 0 OR q.id = ?1 ORDER BY q.id, r.id";
	return run_listing(MC(conn), sql, id, 0, cb, ctx);
}

int64_t maildir_queue_find(struct store_conn *conn, const char *qid)
{
	struct maildir_conn *c = MC(conn);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(c->db, "SELECT id FROM queue WHERE qid = ?1 ORDER BY id LIMIT 1", -1,
			       &st, NULL) != SQLITE_OK)
		return maildir_db_error(c);
	sqlite3_bind_text(st, 1, qid, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return maildir_db_error(c);
	return id;
}

static int exec_bound(struct maildir_conn *c, const char *sql, int64_t a, int64_t b)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK)
		return maildir_db_error(c);
	sqlite3_bind_int64(st, 1, a);
	sqlite3_bind_int64(st, 2, b);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return maildir_db_error(c);
	return sqlite3_changes(c->db);
}

int maildir_queue_update(struct store_conn *conn, const struct store_qrcpt_update *u, size_t n)
{
	return maildir_queue_settle(conn, u, n, NULL, 0, NULL, NULL);
}

int maildir_queue_settle(struct store_conn *conn, const struct store_qrcpt_update *u, size_t n,
			 const int64_t *entries, size_t nentries, store_queue_removed_cb *removed,
			 void *ctx)
{
	struct maildir_conn *c = MC(conn);
	static const char sql[] =
		"UPDATE queue_rcpt SET state = ?2, next_attempt = ?3, last_attempt = ?4, lease_until = 0,"
		" attempts = attempts + ?5, last_error = COALESCE(?6, last_error),"
		" status = COALESCE(?7, status), remote_mta = COALESCE(?8, remote_mta)"
		" WHERE id = ?1";
	sqlite3_stmt *st = NULL, *done = NULL, *del = NULL;
	char **files = nentries > 0 ? xcalloc(nentries, sizeof(char *)) : NULL;
	if (maildir_db_exec(c->db, "BEGIN IMMEDIATE") < 0) {
		free(files);
		return maildir_db_error(c);
	}
	if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, u[i].rcpt_id);
		sqlite3_bind_int(st, 2, (int)u[i].state);
		sqlite3_bind_int64(st, 3, u[i].next_attempt);
		sqlite3_bind_int64(st, 4, u[i].attempt_time);
		sqlite3_bind_int(st, 5, u[i].count_attempt ? 1 : 0);
		const char *texts[3] = {u[i].error, u[i].status, u[i].remote_mta};
		for (int k = 0; k < 3; k++) {
			if (texts[k] != NULL)
				sqlite3_bind_text(st, 6 + k, texts[k], -1, SQLITE_STATIC);
			else
				sqlite3_bind_null(st, 6 + k);
		}
		if (sqlite3_step(st) != SQLITE_DONE)
			goto fail;
	}
	/* Entries with nothing pending any more go, in the same transaction. */
	if (nentries > 0 &&
	    (sqlite3_prepare_v2(c->db,
				"SELECT q.filename FROM queue q WHERE q.id = ?1 AND NOT EXISTS"
				" (SELECT 1 FROM queue_rcpt r WHERE r.queue_id = q.id AND r.state = 0)",
				-1, &done, NULL) != SQLITE_OK ||
	     sqlite3_prepare_v2(c->db, "DELETE FROM queue WHERE id = ?1", -1, &del, NULL) !=
		     SQLITE_OK))
		goto fail;
	for (size_t i = 0; i < nentries; i++) {
		sqlite3_reset(done);
		sqlite3_bind_int64(done, 1, entries[i]);
		if (sqlite3_step(done) != SQLITE_ROW)
			continue;
		files[i] = xstrdup(col_text(done, 0) != NULL ? col_text(done, 0) : "");
		sqlite3_reset(del);
		sqlite3_bind_int64(del, 1, entries[i]);
		if (sqlite3_step(del) != SQLITE_DONE)
			goto fail;
	}
	sqlite3_finalize(st);
	sqlite3_finalize(done);
	sqlite3_finalize(del);
	st = done = del = NULL;
	if (maildir_db_exec(c->db, "COMMIT") < 0)
		goto fail;
	/* Row first, file after: a crash in between leaves a file that recovery
	 * sets aside, never an entry delivered twice. */
	for (size_t i = 0; i < nentries; i++) {
		if (files[i] == NULL)
			continue;
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/%s", c->store->queue_dir, files[i]);
		if (unlink(path) < 0 && errno != ENOENT)
			log_warn("queue", NULL, "remove %s: %s", path, strerror(errno));
		free(files[i]);
		if (removed != NULL)
			removed(ctx, entries[i]);
	}
	free(files);
	return 0;
fail:
	sqlite3_finalize(st);
	sqlite3_finalize(done);
	sqlite3_finalize(del);
	maildir_db_error(c);
	maildir_db_exec(c->db, "ROLLBACK");
	for (size_t i = 0; i < nentries; i++)
		free(files[i]);
	free(files);
	return -1;
}

int maildir_queue_lease(struct store_conn *conn, const int64_t *rcpt_ids, size_t n, int64_t until)
{
	struct maildir_conn *c = MC(conn);
	sqlite3_stmt *st = NULL;
	if (maildir_db_exec(c->db, "BEGIN IMMEDIATE") < 0)
		return maildir_db_error(c);
	if (sqlite3_prepare_v2(c->db, "UPDATE queue_rcpt SET lease_until = ?2 WHERE id = ?1", -1,
			       &st, NULL) != SQLITE_OK)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, rcpt_ids[i]);
		sqlite3_bind_int64(st, 2, until);
		if (sqlite3_step(st) != SQLITE_DONE)
			goto fail;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (maildir_db_exec(c->db, "COMMIT") == 0)
		return 0;
fail:
	sqlite3_finalize(st);
	maildir_db_error(c);
	maildir_db_exec(c->db, "ROLLBACK");
	return -1;
}

int maildir_queue_release_leases(struct store_conn *conn)
{
	return exec_bound(MC(conn), "UPDATE queue_rcpt SET lease_until = 0 WHERE lease_until <> ?1",
			  0, 0);
}

int maildir_queue_remove(struct store_conn *conn, int64_t id)
{
	struct maildir_conn *c = MC(conn);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(c->db, "SELECT filename FROM queue WHERE id = ?1", -1, &st, NULL) !=
	    SQLITE_OK)
		return maildir_db_error(c);
	sqlite3_bind_int64(st, 1, id);
	char path[PATH_MAX] = "";
	if (sqlite3_step(st) == SQLITE_ROW)
		snprintf(path, sizeof(path), "%s/%s", c->store->queue_dir, col_text(st, 0));
	sqlite3_finalize(st);
	if (path[0] == '\0')
		return 0; /* already gone (the administrator was quicker) */
	/* Row first: a crash before the unlink leaves a file that recovery
	 * sets aside, never an entry that would be delivered again. */
	if (exec_bound(c, "DELETE FROM queue WHERE id = ?1", id, 0) < 0)
		return -1;
	if (unlink(path) < 0 && errno != ENOENT)
		log_warn("queue", NULL, "remove %s: %s", path, strerror(errno));
	return 1;
}

int maildir_queue_set_held(struct store_conn *conn, int64_t id, bool held)
{
	return exec_bound(MC(conn), "UPDATE queue SET held = ?2 WHERE id = ?1", id, held ? 1 : 0);
}

int maildir_queue_set_warned(struct store_conn *conn, int64_t id)
{
	return exec_bound(MC(conn), "UPDATE queue SET warned = 1 WHERE id = ?1", id, 0);
}

int maildir_queue_flush(struct store_conn *conn, int64_t id, int64_t now)
{
	return exec_bound(MC(conn),
			  "UPDATE queue_rcpt SET next_attempt = ?2 WHERE state = 0"
			  " AND next_attempt > ?2 AND (?1 = 0 OR queue_id = ?1)",
			  id, now);
}

int maildir_queue_next_due(struct store_conn *conn, int64_t *when_r)
{
	struct maildir_conn *c = MC(conn);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(c->db,
			       "SELECT MIN(MAX(r.next_attempt, r.lease_until)) FROM queue_rcpt r"
			       " JOIN queue q ON q.id = r.queue_id WHERE r.state = 0 AND q.held = 0",
			       -1, &st, NULL) != SQLITE_OK)
		return maildir_db_error(c);
	int rc = sqlite3_step(st);
	int ret = 0;
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
		*when_r = sqlite3_column_int64(st, 0);
		ret = 1;
	} else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		ret = maildir_db_error(c);
	}
	sqlite3_finalize(st);
	return ret;
}
