/* maildir_db.c - the SQLite half of the embedded backend: schema, accounts,
 * domains, aliases, and the backend table. The message files and the
 * committer live in maildir_deliver.c. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "core/util.h"
#include "store/maildir_private.h"

/* Folders every new account gets: name, SPECIAL-USE attribute. */
const char *const maildir_default_folders[][2] = {
	{"Sent", "\\Sent"}, {"Drafts", "\\Drafts"},   {"Junk", "\\Junk"},
	{"Trash", "\\Trash"}, {"Archive", "\\Archive"}, {NULL, NULL},
};

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS domains("
	" id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, created INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS accounts("
	" id INTEGER PRIMARY KEY,"
	" domain_id INTEGER NOT NULL REFERENCES domains(id),"
	" localpart TEXT NOT NULL, password TEXT NOT NULL,"
	" quota_bytes INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL,"
	" UNIQUE(domain_id, localpart));"
	"CREATE TABLE IF NOT EXISTS aliases("
	" id INTEGER PRIMARY KEY,"
	" domain_id INTEGER NOT NULL REFERENCES domains(id),"
	" localpart TEXT NOT NULL, target TEXT NOT NULL,"
	" UNIQUE(domain_id, localpart, target));"
	"CREATE TABLE IF NOT EXISTS mailboxes("
	" id INTEGER PRIMARY KEY,"
	" account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
	" name TEXT NOT NULL, uidvalidity INTEGER NOT NULL,"
	" uidnext INTEGER NOT NULL DEFAULT 1, highestmodseq INTEGER NOT NULL DEFAULT 1,"
	" subscribed INTEGER NOT NULL DEFAULT 1, special_use TEXT,"
	" UNIQUE(account_id, name));"
	"CREATE TABLE IF NOT EXISTS messages("
	" id INTEGER PRIMARY KEY,"
	" mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,"
	" uid INTEGER NOT NULL, filename TEXT NOT NULL, size INTEGER NOT NULL,"
	" internaldate INTEGER NOT NULL, flags INTEGER NOT NULL DEFAULT 0,"
	" keywords TEXT, modseq INTEGER NOT NULL,"
	/* 1 while the file is still in new/ (not yet moved to cur/) */
	" in_new INTEGER NOT NULL DEFAULT 1,"
	" UNIQUE(mailbox_id, uid), UNIQUE(mailbox_id, filename));"
	"INSERT OR IGNORE INTO meta(key, value) VALUES('schema_version', '1');";

/* Schema upgrades, applied in order at every open: entry i takes version
 * i + 1 to version i + 2. Never edit an entry; append a new one. */
static const char *const migrations[] = {
	/* 1 -> 2: submission policy, outbound queue */
	"ALTER TABLE accounts ADD COLUMN send_as INTEGER NOT NULL DEFAULT 1;"
	"CREATE TABLE queue("
	" id INTEGER PRIMARY KEY, qid TEXT NOT NULL, filename TEXT NOT NULL UNIQUE,"
	" sender TEXT NOT NULL, size INTEGER NOT NULL, created INTEGER NOT NULL,"
	" smtputf8 INTEGER NOT NULL DEFAULT 0, body_8bit INTEGER NOT NULL DEFAULT 0,"
	" auth_user TEXT, held INTEGER NOT NULL DEFAULT 0, warned INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE queue_rcpt("
	" id INTEGER PRIMARY KEY,"
	" queue_id INTEGER NOT NULL REFERENCES queue(id) ON DELETE CASCADE,"
	" address TEXT NOT NULL, domain TEXT NOT NULL,"
	/* 0 pending, 1 delivered, 2 bounced */
	" state INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,"
	" next_attempt INTEGER NOT NULL, last_error TEXT);"
	"CREATE INDEX queue_rcpt_due ON queue_rcpt(state, next_attempt);",
	/* 2 -> 3: IMAP state */
	"ALTER TABLE mailboxes ADD COLUMN dir TEXT NOT NULL DEFAULT '';"
	"UPDATE mailboxes SET dir = CASE WHEN name = 'INBOX' THEN '' ELSE '.' || name END;"
	"ALTER TABLE mailboxes ADD COLUMN recent_uid INTEGER NOT NULL DEFAULT 0;"
	"CREATE TABLE subscriptions("
	" account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
	" name TEXT NOT NULL, PRIMARY KEY(account_id, name));"
	"INSERT INTO subscriptions SELECT account_id, name FROM mailboxes WHERE subscribed = 1;"
	"CREATE TABLE expunged("
	" mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,"
	" uid INTEGER NOT NULL, modseq INTEGER NOT NULL, PRIMARY KEY(mailbox_id, uid));"
	"CREATE TABLE cache(file TEXT NOT NULL, field TEXT NOT NULL, value BLOB,"
	" PRIMARY KEY(file, field));"
	"CREATE INDEX messages_modseq ON messages(mailbox_id, modseq);",
	/* 3 -> 4: DSN parameters (RFC 3461), delivery bookkeeping */
	"ALTER TABLE queue ADD COLUMN envid TEXT;"
	"ALTER TABLE queue ADD COLUMN ret INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE queue_rcpt ADD COLUMN notify TEXT;"
	"ALTER TABLE queue_rcpt ADD COLUMN orcpt TEXT;"
	"ALTER TABLE queue_rcpt ADD COLUMN remote_mta TEXT;"
	"ALTER TABLE queue_rcpt ADD COLUMN status TEXT;"
	"ALTER TABLE queue_rcpt ADD COLUMN last_attempt INTEGER NOT NULL DEFAULT 0;"
	/* Multi-node backends lease due recipients; one process needs no lease. */
	"ALTER TABLE queue_rcpt ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;"
	"CREATE INDEX queue_rcpt_entry ON queue_rcpt(queue_id);",
	/* 4 -> 5: files whose index row was deleted or moved to another
	 * mailbox (expunge, MOVE, INBOX rename) are unlinked only after the
	 * commit; a crash in between leaves them behind, and recovery would
	 * index them again (an expunged message coming back). Each such
	 * change leaves a note here; recovery removes the files the notes
	 * name when no row refers to them. Only the last notes matter. */
	"CREATE TABLE gone_files(id INTEGER PRIMARY KEY, mailbox_id INTEGER NOT NULL,"
	" filename TEXT NOT NULL);"
	"CREATE TRIGGER messages_gone AFTER DELETE ON messages BEGIN"
	" INSERT INTO gone_files(mailbox_id, filename) VALUES(old.mailbox_id, old.filename);"
	" DELETE FROM gone_files WHERE id <= (SELECT max(id) FROM gone_files) - 100000; END;"
	"CREATE TRIGGER messages_moved AFTER UPDATE OF mailbox_id ON messages"
	" WHEN old.mailbox_id <> new.mailbox_id BEGIN"
	" INSERT INTO gone_files(mailbox_id, filename) VALUES(old.mailbox_id, old.filename);"
	" END;",
};

static int migrate(sqlite3 *db)
{
	if (maildir_db_exec(db, "BEGIN IMMEDIATE") < 0)
		return -1;
	sqlite3_stmt *st = NULL;
	int version = 0;
	if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'schema_version'", -1, &st,
			       NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		version = atoi((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	int ret = version >= 1 ? 0 : -1;
	int n = (int)(sizeof(migrations) / sizeof(migrations[0]));
	for (int v = version; ret == 0 && v >= 1 && v - 1 < n; v++) {
		char set[96];
		snprintf(set, sizeof(set), "UPDATE meta SET value = '%d' WHERE key = 'schema_version'",
			 v + 1);
		if (maildir_db_exec(db, migrations[v - 1]) < 0 || maildir_db_exec(db, set) < 0)
			ret = -1;
	}
	if (ret == 0 && maildir_db_exec(db, "COMMIT") == 0)
		return 0;
	maildir_db_exec(db, "ROLLBACK");
	return -1;
}

int maildir_db_exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

int maildir_db_open(const char *path, bool create, sqlite3 **db_r, const char **error_r)
{
	static _Thread_local char err[600];
	sqlite3 *db = NULL;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
	if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
		snprintf(err, sizeof(err), "%s: %s", path, db != NULL ? sqlite3_errmsg(db) : "cannot open");
		sqlite3_close(db);
		*error_r = err;
		return -1;
	}
	sqlite3_busy_timeout(db, 10000);
	/* WAL for concurrent readers; synchronous=FULL so that a committed
	 * transaction survives power loss (NORMAL could lose it). */
	if (maildir_db_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
				"PRAGMA foreign_keys=ON;") < 0 ||
	    (create && maildir_db_exec(db, schema_sql) < 0) || migrate(db) < 0) {
		snprintf(err, sizeof(err), "%s: %s", path, sqlite3_errmsg(db));
		sqlite3_close(db);
		*error_r = err;
		return -1;
	}
	*db_r = db;
	return 0;
}

void maildir_account_path(const struct maildir_store *s, const char *local, const char *domain,
			  char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/%s/%s", s->mail_dir, domain, local);
}

int maildir_set_error(struct maildir_conn *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->error, sizeof(c->error), fmt, ap);
	va_end(ap);
	return -1;
}

int maildir_db_error(struct maildir_conn *c)
{
	return maildir_set_error(c, "database error: %s", sqlite3_errmsg(c->db));
}

#define MC(x) ((struct maildir_conn *)(void *)(x))
#define MS(x) ((struct maildir_store *)(void *)(x))

sqlite3_stmt *maildir_prepare(struct maildir_conn *c, const char *sql)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK) {
		maildir_db_error(c);
		return NULL;
	}
	return st;
}

/* Cached statements for the hot path (RCPT lookups). */
static sqlite3_stmt *cached(struct maildir_conn *c, enum maildir_stmt which)
{
	static const char *const sql[STMT_COUNT] = {
		[STMT_DOMAIN_ID] = "SELECT id FROM domains WHERE name = ?1",
		[STMT_ACCOUNT_LOOKUP] =
			"SELECT a.id, a.localpart, d.name, a.password, a.quota_bytes, a.send_as"
			" FROM accounts a JOIN domains d ON d.id = a.domain_id"
			" WHERE d.name = ?2 AND a.localpart = ?1",
		[STMT_ALIAS_TARGETS] = "SELECT target FROM aliases a JOIN domains d"
				       " ON d.id = a.domain_id WHERE d.name = ?2 AND"
				       " a.localpart = ?1 ORDER BY a.id",
		[STMT_CACHE_GET] = "SELECT value FROM cache WHERE file = ?1 AND field = ?2",
		[STMT_CACHE_PUT] = "INSERT OR REPLACE INTO cache(file, field, value) VALUES(?1, ?2, ?3)",
	};
	if (c->stmts[which] == NULL)
		c->stmts[which] = maildir_prepare(c, sql[which]);
	else
		sqlite3_reset(c->stmts[which]);
	return c->stmts[which];
}

sqlite3_stmt *maildir_cached_stmt(struct maildir_conn *c, enum maildir_stmt which)
{
	return cached(c, which);
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
}

/* ----- backend: open/close/connections ----- */

static int maildir_open(const struct config *cfg, bool create, struct store **store_r,
			const char **error_r)
{
	static _Thread_local char err[600];
	struct maildir_store *s = xcalloc(1, sizeof(*s));
	s->base.backend = &store_backend_maildir;
	s->data_dir = xstrdup(cfg->data_dir);
	size_t n = strlen(cfg->data_dir) + 32;
	s->mail_dir = xmalloc(n);
	snprintf(s->mail_dir, n, "%s/mail", cfg->data_dir);
	s->spool_tmp = xmalloc(n);
	snprintf(s->spool_tmp, n, "%s/spool/tmp", cfg->data_dir);
	s->db_path = xmalloc(n);
	snprintf(s->db_path, n, "%s/postane.db", cfg->data_dir);
	s->host = xstrdup(cfg->hostname);
	for (char *p = s->host; *p != '\0'; p++)
		if (*p == '/' || *p == ':' || *p == ',')
			*p = '_';
	s->sync_mode = strcmp(cfg->sync_method, "syncfs") == 0  ? SYNC_SYNCFS
		       : strcmp(cfg->sync_method, "fsync") == 0 ? SYNC_FSYNC
								: SYNC_AUTO;
	s->data_fd = -1;
	atomic_init(&s->seq, 0);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->pending_tail = &s->pending;
	*store_r = (struct store *)(void *)s;

	s->queue_dir = xmalloc(n);
	snprintf(s->queue_dir, n, "%s/queue", cfg->data_dir);
	if (create && (mkdir_p(s->mail_dir, 0700) < 0 || mkdir_p(s->spool_tmp, 0700) < 0)) {
		snprintf(err, sizeof(err), "%s: %s", s->data_dir, strerror(errno));
		*error_r = err;
		return -1;
	}
	s->data_fd = open(s->data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->data_fd < 0) {
		snprintf(err, sizeof(err), "%s: %s", s->data_dir, strerror(errno));
		*error_r = err;
		return -1;
	}
	struct stat st;
	if (!create && stat(s->db_path, &st) < 0) {
		snprintf(err, sizeof(err), "%s: %s (run `postane init` first)", s->db_path,
			 strerror(errno));
		*error_r = err;
		return -1;
	}
	sqlite3 *db;
	if (maildir_db_open(s->db_path, create, &db, error_r) < 0)
		return -1;
	sqlite3_close(db);
	/* The queue directory came with schema 2: make it for older setups. */
	if (mkdir_p(s->queue_dir, 0700) < 0) {
		snprintf(err, sizeof(err), "%s: %s", s->queue_dir, strerror(errno));
		*error_r = err;
		return -1;
	}
	return 0;
}

static void maildir_close(struct store *store)
{
	struct maildir_store *s = MS(store);
	maildir_committer_stop(s);
	if (s->data_fd >= 0)
		close(s->data_fd);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s->data_dir);
	free(s->mail_dir);
	free(s->spool_tmp);
	free(s->queue_dir);
	free(s->db_path);
	free(s->host);
	free(s);
}

static int maildir_start(struct store *store, const char **error_r)
{
	return maildir_committer_start(MS(store), error_r);
}

static struct store_conn *maildir_conn_open(struct store *store, const char **error_r)
{
	struct maildir_store *s = MS(store);
	sqlite3 *db;
	if (maildir_db_open(s->db_path, false, &db, error_r) < 0)
		return NULL;
	struct maildir_conn *c = xcalloc(1, sizeof(*c));
	c->base.backend = &store_backend_maildir;
	c->store = s;
	c->db = db;
	return (struct store_conn *)(void *)c;
}

static void maildir_conn_close(struct store_conn *conn)
{
	struct maildir_conn *c = MC(conn);
	for (int i = 0; i < STMT_COUNT; i++)
		sqlite3_finalize(c->stmts[i]);
	sqlite3_close(c->db);
	free(c);
}

static const char *maildir_conn_error(struct store_conn *conn)
{
	return MC(conn)->error;
}

/* ----- domains ----- */

static int64_t domain_id(struct maildir_conn *c, const char *domain)
{
	sqlite3_stmt *st = cached(c, STMT_DOMAIN_ID);
	if (st == NULL)
		return -1;
	bind_text(st, 1, domain);
	int rc = sqlite3_step(st);
	int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return maildir_db_error(c);
	return id;
}

static int maildir_domain_add(struct store_conn *conn, const char *domain)
{
	struct maildir_conn *c = MC(conn);
	sqlite3_stmt *st = maildir_prepare(c, "INSERT INTO domains(name, created) VALUES(?1, ?2)");
	if (st == NULL)
		return -1;
	bind_text(st, 1, domain);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)time(NULL));
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_CONSTRAINT)
		return maildir_set_error(c, "domain already exists");
	if (rc != SQLITE_DONE)
		return maildir_db_error(c);
	return 0;
}

struct collect {
	char **names;
	size_t n, cap;
};

static void collect_push(struct collect *col, const char *name)
{
	if (col->n == col->cap) {
		col->cap = col->cap == 0 ? 8 : col->cap * 2;
		col->names = xrealloc(col->names, col->cap * sizeof(char *));
	}
	col->names[col->n++] = xstrdup(name);
}

static void collect_free(struct collect *col)
{
	for (size_t i = 0; i < col->n; i++)
		free(col->names[i]);
	free(col->names);
	memset(col, 0, sizeof(*col));
}

/* Move a deleted account's mail out of the way instead of destroying it, to
 * DATA/deleted/DOMAIN/LOCAL.SECONDS[.N]. Returns 0 (also when there is no
 * mail directory) or -1: the account must then not be deleted, or a new
 * account of the same name would inherit the old mail. */
static int retire_account_dir(struct maildir_conn *c, const char *local, const char *domain,
			      char *to, size_t tolen)
{
	struct maildir_store *s = c->store;
	char from[PATH_MAX], dir[PATH_MAX];
	maildir_account_path(s, local, domain, from, sizeof(from));
	to[0] = '\0';
	if (access(from, F_OK) < 0)
		return 0;
	snprintf(dir, sizeof(dir), "%s/deleted/%s", s->data_dir, domain);
	if (mkdir_p(dir, 0700) < 0)
		return maildir_set_error(c, "%s: %s", dir, strerror(errno));
	long now = (long)time(NULL);
	for (int n = 0; n < 1000; n++) {
		if (n == 0)
			snprintf(to, tolen, "%s/%s.%ld", dir, local, now);
		else
			snprintf(to, tolen, "%s/%s.%ld.%d", dir, local, now, n);
		/* renameat2 with RENAME_NOREPLACE: never merge into an old copy. */
		if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
			return 0;
		if (errno != EEXIST)
			return maildir_set_error(c, "cannot move %s to %s: %s", from, to, strerror(errno));
	}
	return maildir_set_error(c, "cannot find a free name under %s", dir);
}

static int maildir_user_del(struct store_conn *conn, const char *local, const char *domain);
static int maildir_user_lookup(struct store_conn *conn, const char *local, const char *domain,
			       struct store_user *user_r);

static int maildir_domain_del(struct store_conn *conn, const char *domain, bool force)
{
	struct maildir_conn *c = MC(conn);
	int64_t id = domain_id(c, domain);
	if (id < 0)
		return -1;
	if (id == 0)
		return maildir_set_error(c, "no such domain");
	struct collect users = {0};
	sqlite3_stmt *st = maildir_prepare(c, "SELECT localpart FROM accounts WHERE domain_id = ?1");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	while (sqlite3_step(st) == SQLITE_ROW)
		collect_push(&users, (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	if (users.n > 0 && !force) {
		size_t n = users.n;
		collect_free(&users);
		return maildir_set_error(c, "domain has %zu account(s); delete them first or use --force", n);
	}
	for (size_t i = 0; i < users.n; i++) {
		if (maildir_user_del(conn, users.names[i], domain) < 0) {
			collect_free(&users);
			return -1;
		}
	}
	collect_free(&users);
	if (maildir_db_exec(c->db, "BEGIN IMMEDIATE") < 0)
		return maildir_db_error(c);
	st = maildir_prepare(c, "DELETE FROM aliases WHERE domain_id = ?1");
	if (st != NULL) {
		sqlite3_bind_int64(st, 1, id);
		int rc = sqlite3_step(st);
		sqlite3_finalize(st);
		st = rc == SQLITE_DONE ? maildir_prepare(c, "DELETE FROM domains WHERE id = ?1") : NULL;
	}
	if (st == NULL) {
		maildir_db_exec(c->db, "ROLLBACK");
		return -1;
	}
	sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE || maildir_db_exec(c->db, "COMMIT") < 0) {
		maildir_db_error(c);
		maildir_db_exec(c->db, "ROLLBACK");
		return -1;
	}
	return 0;
}

static int maildir_domain_list(struct store_conn *conn, store_domain_cb *cb, void *ctx)
{
	struct maildir_conn *c = MC(conn);
	sqlite3_stmt *st = maildir_prepare(
		c, "SELECT name, (SELECT count(*) FROM accounts a WHERE a.domain_id = d.id),"
		   " (SELECT count(DISTINCT localpart) FROM aliases l WHERE l.domain_id = d.id)"
		   " FROM domains d ORDER BY name");
	if (st == NULL)
		return -1;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_domain_info info = {
			.name = (const char *)sqlite3_column_text(st, 0),
			.users = (unsigned)sqlite3_column_int(st, 1),
			.aliases = (unsigned)sqlite3_column_int(st, 2),
		};
		cb(ctx, &info);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : maildir_db_error(c);
}

static int maildir_domain_exists(struct store_conn *conn, const char *domain)
{
	int64_t id = domain_id(MC(conn), domain);
	return id < 0 ? -1 : id > 0;
}

static int maildir_domain_primary(struct store_conn *conn, char *out, size_t outlen)
{
	struct maildir_conn *c = MC(conn);
	sqlite3_stmt *st = maildir_prepare(c, "SELECT name FROM domains ORDER BY id LIMIT 1");
	if (st == NULL)
		return -1;
	int rc = sqlite3_step(st);
	int ret = 0;
	if (rc == SQLITE_ROW) {
		snprintf(out, outlen, "%s", (const char *)sqlite3_column_text(st, 0));
		ret = 1;
	} else if (rc != SQLITE_DONE) {
		ret = maildir_db_error(c);
	}
	sqlite3_finalize(st);
	return ret;
}

/* ----- accounts ----- */

static int maildir_user_add(struct store_conn *conn, const char *local, const char *domain,
			    const char *password_hash, uint64_t quota_bytes)
{
	struct maildir_conn *c = MC(conn);
	char path[PATH_MAX];
	if (maildir_db_exec(c->db, "BEGIN IMMEDIATE") < 0)
		return maildir_db_error(c);
	int64_t did = domain_id(c, domain);
	if (did <= 0) {
		maildir_db_exec(c->db, "ROLLBACK");
		return did < 0 ? -1 : maildir_set_error(c, "no such domain");
	}
	sqlite3_stmt *st = maildir_prepare(c, "INSERT INTO accounts(domain_id, localpart, password,"
				      " quota_bytes, created) VALUES(?1, ?2, ?3, ?4, ?5)");
	if (st == NULL) {
		maildir_db_exec(c->db, "ROLLBACK");
		return -1;
	}
	sqlite3_bind_int64(st, 1, did);
	bind_text(st, 2, local);
	bind_text(st, 3, password_hash);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)quota_bytes);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)time(NULL));
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		int ret = rc == SQLITE_CONSTRAINT ? maildir_set_error(c, "already exists") : maildir_db_error(c);
		maildir_db_exec(c->db, "ROLLBACK");
		return ret;
	}
	int64_t aid = sqlite3_last_insert_rowid(c->db);
	maildir_account_path(c->store, local, domain, path, sizeof(path));
	int ret = maildir_mailbox_insert(c, aid, "INBOX", NULL, path, true);
	for (int i = 0; ret == 0 && maildir_default_folders[i][0] != NULL; i++)
		ret = maildir_mailbox_insert(c, aid, maildir_default_folders[i][0],
					     maildir_default_folders[i][1], path, true);
	if (ret == 0 && maildir_db_exec(c->db, "COMMIT") < 0)
		ret = maildir_db_error(c);
	if (ret < 0)
		maildir_db_exec(c->db, "ROLLBACK");
	return ret;
}

static int maildir_user_del(struct store_conn *conn, const char *local, const char *domain)
{
	struct maildir_conn *c = MC(conn);
	struct store_user u;
	int found = maildir_user_lookup(conn, local, domain, &u);
	explicit_bzero(u.password, sizeof(u.password));
	if (found < 0)
		return -1;
	if (found == 0)
		return maildir_set_error(c, "no such user");
	/* Mail first: if it cannot be moved aside, keep the account. */
	char moved[PATH_MAX];
	if (retire_account_dir(c, local, domain, moved, sizeof(moved)) < 0)
		return -1;
	sqlite3_stmt *st = maildir_prepare(c, "DELETE FROM accounts WHERE id = ?1");
	int rc = SQLITE_ERROR;
	if (st != NULL) {
		sqlite3_bind_int64(st, 1, u.id);
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
	}
	if (rc != SQLITE_DONE) {
		int ret = st != NULL ? maildir_db_error(c) : -1;
		char back[PATH_MAX];
		maildir_account_path(c->store, local, domain, back, sizeof(back));
		if (moved[0] != '\0' && rename(moved, back) < 0)
			log_error("store", NULL, "cannot move %s back to %s: %s", moved, back,
				  strerror(errno));
		return ret;
	}
	if (moved[0] != '\0')
		log_info("store", NULL, "mail of deleted account %s@%s kept in %s", local, domain,
			 moved);
	return 0;
}

static void fill_user(sqlite3_stmt *st, struct store_user *u)
{
	memset(u, 0, sizeof(*u));
	u->id = sqlite3_column_int64(st, 0);
	snprintf(u->local, sizeof(u->local), "%s", (const char *)sqlite3_column_text(st, 1));
	snprintf(u->domain, sizeof(u->domain), "%s", (const char *)sqlite3_column_text(st, 2));
	snprintf(u->password, sizeof(u->password), "%s", (const char *)sqlite3_column_text(st, 3));
	u->quota_bytes = (uint64_t)sqlite3_column_int64(st, 4);
	int send_as = sqlite3_column_int(st, 5);
	u->send_as = send_as == STORE_SEND_AS_OWN || send_as == STORE_SEND_AS_ANY
			     ? (enum store_send_as)send_as
			     : STORE_SEND_AS_ALIASES;
}

static int maildir_user_list(struct store_conn *conn, const char *domain, store_user_cb *cb,
			     void *ctx)
{
	struct maildir_conn *c = MC(conn);
	sqlite3_stmt *st = maildir_prepare(c, "SELECT a.id, a.localpart, d.name, a.password, a.quota_bytes,"
				      " a.send_as"
				      " FROM accounts a JOIN domains d ON d.id = a.domain_id"
				      " WHERE ?1 IS NULL OR d.name = ?1 ORDER BY d.name, a.localpart");
	if (st == NULL)
		return -1;
	if (domain != NULL)
		bind_text(st, 1, domain);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_user u;
		fill_user(st, &u);
		cb(ctx, &u);
		explicit_bzero(u.password, sizeof(u.password));
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : maildir_db_error(c);
}

static int maildir_user_set_password(struct store_conn *conn, const char *local,
				     const char *domain, const char *password_hash)
{
	struct maildir_conn *c = MC(conn);
	sqlite3_stmt *st = maildir_prepare(c, "UPDATE accounts SET password = ?3 WHERE localpart = ?1 AND"
				      " domain_id = (SELECT id FROM domains WHERE name = ?2)");
	if (st == NULL)
		return -1;
	bind_text(st, 1, local);
	bind_text(st, 2, domain);
	bind_text(st, 3, password_hash);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return maildir_db_error(c);
	if (sqlite3_changes(c->db) == 0)
		return maildir_set_error(c, "no such user");
	return 0;
}

static int maildir_user_update(struct store_conn *conn, const char *local, const char *domain,
			       const struct store_user_change *ch)
{
	struct maildir_conn *c = MC(conn);
	sqlite3_stmt *st = maildir_prepare(
		c, "UPDATE accounts SET password = coalesce(?3, password),"
		   " quota_bytes = CASE WHEN ?4 < 0 THEN quota_bytes ELSE ?4 END,"
		   " send_as = CASE WHEN ?5 < 0 THEN send_as ELSE ?5 END"
		   " WHERE localpart = ?1 AND domain_id = (SELECT id FROM domains WHERE name = ?2)");
	if (st == NULL)
		return -1;
	bind_text(st, 1, local);
	bind_text(st, 2, domain);
	if (ch->password_hash != NULL)
		bind_text(st, 3, ch->password_hash);
	sqlite3_bind_int64(st, 4, ch->quota_bytes);
	sqlite3_bind_int(st, 5, ch->send_as);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return maildir_db_error(c);
	if (sqlite3_changes(c->db) == 0)
		return maildir_set_error(c, "no such user");
	return 0;
}

static int maildir_user_lookup(struct store_conn *conn, const char *local, const char *domain,
			       struct store_user *user_r)
{
	struct maildir_conn *c = MC(conn);
	sqlite3_stmt *st = cached(c, STMT_ACCOUNT_LOOKUP);
	if (st == NULL)
		return -1;
	bind_text(st, 1, local);
	bind_text(st, 2, domain);
	int rc = sqlite3_step(st);
	int ret = 0;
	if (rc == SQLITE_ROW) {
		fill_user(st, user_r);
		ret = 1;
	} else if (rc != SQLITE_DONE) {
		ret = maildir_db_error(c);
	}
	sqlite3_reset(st);
	return ret;
}

static int maildir_account_quota(struct store_conn *conn, int64_t account_id, uint64_t *quota_r,
				 uint64_t *used_r)
{
	struct maildir_conn *c = MC(conn);
	*quota_r = *used_r = 0;
	sqlite3_stmt *st = maildir_prepare(c, "SELECT quota_bytes FROM accounts WHERE id = ?1");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, account_id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*quota_r = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? 0 : maildir_db_error(c);
	if (*quota_r == 0)
		return 1;
	st = maildir_prepare(c, "SELECT total(m.size) FROM messages m JOIN mailboxes b"
				" ON b.id = m.mailbox_id WHERE b.account_id = ?1");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, account_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*used_r = (uint64_t)sqlite3_column_double(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 1 : maildir_db_error(c);
}

/* ----- aliases ----- */

static int maildir_alias_add(struct store_conn *conn, const char *local, const char *domain,
			     const char *target)
{
	struct maildir_conn *c = MC(conn);
	int64_t did = domain_id(c, domain);
	if (did <= 0)
		return did < 0 ? -1 : maildir_set_error(c, "no such domain");
	sqlite3_stmt *st =
		maildir_prepare(c, "INSERT INTO aliases(domain_id, localpart, target) VALUES(?1, ?2, ?3)");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, did);
	bind_text(st, 2, local);
	bind_text(st, 3, target);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_CONSTRAINT)
		return maildir_set_error(c, "alias already has target %s", target);
	return rc == SQLITE_DONE ? 0 : maildir_db_error(c);
}

static int maildir_alias_del(struct store_conn *conn, const char *local, const char *domain,
			     const char *target)
{
	struct maildir_conn *c = MC(conn);
	sqlite3_stmt *st = maildir_prepare(c, "DELETE FROM aliases WHERE localpart = ?1 AND domain_id ="
				      " (SELECT id FROM domains WHERE name = ?2)"
				      " AND (?3 IS NULL OR target = ?3)");
	if (st == NULL)
		return -1;
	bind_text(st, 1, local);
	bind_text(st, 2, domain);
	if (target != NULL)
		bind_text(st, 3, target);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return maildir_db_error(c);
	if (sqlite3_changes(c->db) == 0)
		return maildir_set_error(c, "no such alias");
	return 0;
}

static int maildir_alias_list(struct store_conn *conn, const char *domain, store_alias_cb *cb,
			      void *ctx)
{
	struct maildir_conn *c = MC(conn);
	sqlite3_stmt *st = maildir_prepare(c, "SELECT a.localpart, d.name, a.target FROM aliases a"
				      " JOIN domains d ON d.id = a.domain_id"
				      " WHERE ?1 IS NULL OR d.name = ?1"
				      " ORDER BY d.name, a.localpart, a.id");
	if (st == NULL)
		return -1;
	if (domain != NULL)
		bind_text(st, 1, domain);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_alias_info info = {
			.local = (const char *)sqlite3_column_text(st, 0),
			.domain = (const char *)sqlite3_column_text(st, 1),
			.target = (const char *)sqlite3_column_text(st, 2),
		};
		cb(ctx, &info);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : maildir_db_error(c);
}

static int maildir_alias_targets(struct store_conn *conn, const char *local, const char *domain,
				 store_target_cb *cb, void *ctx)
{
	struct maildir_conn *c = MC(conn);
	sqlite3_stmt *st = cached(c, STMT_ALIAS_TARGETS);
	if (st == NULL)
		return -1;
	bind_text(st, 1, local);
	bind_text(st, 2, domain);
	int rc, found = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		found = 1;
		cb(ctx, (const char *)sqlite3_column_text(st, 0));
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? found : maildir_db_error(c);
}

const struct store_backend store_backend_maildir = {
	.name = "maildir",
	.open = maildir_open,
	.close = maildir_close,
	.recover = maildir_recover_all,
	.check = maildir_check,
	.start = maildir_start,
	.conn_open = maildir_conn_open,
	.conn_close = maildir_conn_close,
	.conn_error = maildir_conn_error,
	.domain_add = maildir_domain_add,
	.domain_del = maildir_domain_del,
	.domain_list = maildir_domain_list,
	.domain_exists = maildir_domain_exists,
	.domain_primary = maildir_domain_primary,
	.user_add = maildir_user_add,
	.user_del = maildir_user_del,
	.user_list = maildir_user_list,
	.user_set_password = maildir_user_set_password,
	.user_lookup = maildir_user_lookup,
	.user_update = maildir_user_update,
	.account_quota = maildir_account_quota,
	.alias_add = maildir_alias_add,
	.alias_del = maildir_alias_del,
	.alias_list = maildir_alias_list,
	.alias_targets = maildir_alias_targets,
	.msg_begin = maildir_msg_begin,
	.msg_write = maildir_msg_write,
	.msg_size = maildir_msg_size,
	.msg_error = maildir_msg_error,
	.msg_abort = maildir_msg_abort,
	.msg_commit = maildir_msg_commit,
	.set_change_hook = maildir_set_change_hook,
	.mailbox_list = maildir_mailbox_list,
	.mailbox_find = maildir_mailbox_find,
	.mailbox_create = maildir_mailbox_create,
	.mailbox_delete = maildir_mailbox_delete,
	.mailbox_rename = maildir_mailbox_rename,
	.mailbox_subscribe = maildir_mailbox_subscribe,
	.subscriptions = maildir_subscriptions,
	.mailbox_status = maildir_mailbox_status,
	.mailbox_claim_recent = maildir_mailbox_claim_recent,
	.messages = maildir_messages,
	.expunged = maildir_expunged,
	.flags_update = maildir_flags_update,
	.changes_begin = maildir_changes_begin,
	.read_begin = maildir_read_begin,
	.read_end = maildir_read_end,
	.changes_end = maildir_changes_end,
	.expunge = maildir_expunge,
	.copy = maildir_copy,
	.message_open = maildir_message_open,
	.cache_get = maildir_cache_get,
	.cache_put = maildir_cache_put,
	.queue_due = maildir_queue_due,
	.queue_lease = maildir_queue_lease,
	.queue_release_leases = maildir_queue_release_leases,
	.queue_list = maildir_queue_list,
	.queue_find = maildir_queue_find,
	.queue_update = maildir_queue_update,
	.queue_remove = maildir_queue_remove,
	.queue_settle = maildir_queue_settle,
	.queue_set_held = maildir_queue_set_held,
	.queue_set_warned = maildir_queue_set_warned,
	.queue_flush = maildir_queue_flush,
	.queue_next_due = maildir_queue_next_due,
};
