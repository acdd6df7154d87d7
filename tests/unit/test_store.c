/* test_store.c - unit tests for the storage interface with the "maildir"
 * backend: domains, accounts, aliases; group-commit delivery under every
 * sync_method (files, index rows, UIDs, empty spool); crash recovery. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "store_fixture.h"

/* ----- helpers ----- */

static void path_of(const struct store_fixture *f, char *out, size_t outlen, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void path_of(const struct store_fixture *f, char *out, size_t outlen, const char *fmt, ...)
{
	char rel[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	snprintf(out, outlen, "%s/%s", f->dir, rel);
}

static bool is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Names in a directory (not starting with '.'), sorted; returns the count. */
static size_t list_dir(const char *path, char names[][256], size_t max)
{
	DIR *d = opendir(path);
	if (d == NULL)
		fail_msg("opendir %s: %s", path, strerror(errno));
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n < max)
			snprintf(names[n], 256, "%s", de->d_name);
		n++;
	}
	closedir(d);
	for (size_t i = 1; i < n && i < max; i++)
		for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
			char tmp[256];
			memcpy(tmp, names[j], 256);
			memcpy(names[j], names[j - 1], 256);
			memcpy(names[j - 1], tmp, 256);
		}
	return n;
}

static size_t count_dir(const char *path)
{
	char names[1][256];
	return list_dir(path, names, 0);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	if (fp == NULL)
		fail_msg("open %s: %s", path, strerror(errno));
	size_t cap = 4096, n = 0;
	char *data = malloc(cap);
	assert_non_null(data);
	size_t r;
	while ((r = fread(data + n, 1, cap - n, fp)) > 0) {
		n += r;
		if (n == cap) {
			cap *= 2;
			data = realloc(data, cap);
			assert_non_null(data);
		}
	}
	fclose(fp);
	*len = n;
	return data;
}

static void put_file(const char *path, const char *content)
{
	FILE *fp = fopen(path, "wb");
	if (fp == NULL)
		fail_msg("create %s: %s", path, strerror(errno));
	fputs(content, fp);
	assert_int_equal(fclose(fp), 0);
}

/* One index row of an INBOX, read with sqlite3 directly (read-only). */
struct row {
	char local[130], domain[256];
	int64_t mailbox_id, uid;
	char filename[256];
	int64_t size;
};

static const char *column(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);
	return s != NULL ? (const char *)s : "";
}

static size_t read_rows(const struct store_fixture *f, struct row *rows, size_t max)
{
	char db_path[600];
	path_of(f, db_path, sizeof(db_path), "postane.db");
	sqlite3 *db = NULL;
	if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		fail_msg("open %s: %s", db_path, sqlite3_errmsg(db));
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db,
			       "SELECT a.localpart, d.name, m.id, msg.uid, msg.filename, msg.size"
			       " FROM messages msg JOIN mailboxes m ON m.id = msg.mailbox_id"
			       " JOIN accounts a ON a.id = m.account_id"
			       " JOIN domains d ON d.id = a.domain_id"
			       " ORDER BY d.name, a.localpart, msg.id",
			       -1, &st, NULL) != SQLITE_OK)
		fail_msg("query: %s", sqlite3_errmsg(db));
	size_t n = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (n < max) {
			struct row *r = &rows[n];
			snprintf(r->local, sizeof(r->local), "%s", column(st, 0));
			snprintf(r->domain, sizeof(r->domain), "%s", column(st, 1));
			r->mailbox_id = sqlite3_column_int64(st, 2);
			r->uid = sqlite3_column_int64(st, 3);
			snprintf(r->filename, sizeof(r->filename), "%s", column(st, 4));
			r->size = sqlite3_column_int64(st, 5);
		}
		n++;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

static int64_t count_sql(const struct store_fixture *f, const char *sql)
{
	char db_path[600];
	path_of(f, db_path, sizeof(db_path), "postane.db");
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* Every mailbox's UIDs, in insertion order, are exactly 1, 2, 3, ... */
static void assert_uids_ascending(const struct row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int64_t want = 1;
		if (i > 0 && rows[i - 1].mailbox_id == rows[i].mailbox_id)
			want = rows[i - 1].uid + 1;
		if (rows[i].uid != want)
			fail_msg("%s@%s: UID %lld after %lld", rows[i].local, rows[i].domain,
				 (long long)rows[i].uid,
				 i > 0 ? (long long)rows[i - 1].uid : 0LL);
	}
}

/* The message file of a row holds exactly `content`. */
static void assert_row_file(const struct store_fixture *f, const struct row *r,
			    const char *content, size_t len)
{
	char path[1024];
	path_of(f, path, sizeof(path), "mail/%s/%s/new/%s", r->domain, r->local, r->filename);
	size_t got_len;
	char *got = slurp(path, &got_len);
	if (got_len != len || memcmp(got, content, len) != 0)
		fail_msg("%s: %zu bytes, want %zu", path, got_len, len);
	assert_int_equal(r->size, (int64_t)len);
	free(got);
}

/* The committer removes a message's spool file right after its callback
 * returns, so give it a moment (at most 10 s). */
static void assert_spool_empty(const struct store_fixture *f)
{
	char path[600];
	path_of(f, path, sizeof(path), "spool/tmp");
	size_t n = 0;
	for (int i = 0; i < 1000; i++) {
		n = count_dir(path);
		if (n == 0)
			return;
		usleep(10000);
	}
	fail_msg("%zu file(s) left in %s", n, path);
}

/* Commit callbacks run on the committer thread. */
struct commits {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned calls, failed;
	char error[256];
};

static void commits_init(struct commits *c)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
}

static void commits_destroy(struct commits *c)
{
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
}

static void commit_done(void *ctx, const struct store_commit_result *res)
{
	struct commits *c = ctx;
	pthread_mutex_lock(&c->lock);
	c->calls++;
	if (res->result != 0) {
		c->failed++;
		snprintf(c->error, sizeof(c->error), "%s", res->error != NULL ? res->error : "?");
	}
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

/* Wait (at most 60 s) until `n` callbacks have run; all must be successes. */
static void commits_wait(struct commits *c, unsigned n)
{
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 60;
	pthread_mutex_lock(&c->lock);
	int rc = 0;
	while (c->calls < n && rc == 0)
		rc = pthread_cond_timedwait(&c->cond, &c->lock, &deadline);
	unsigned calls = c->calls, failed = c->failed;
	pthread_mutex_unlock(&c->lock);
	if (calls != n)
		fail_msg("%u of %u commit callbacks after 60 s", calls, n);
	if (failed != 0)
		fail_msg("%u commit(s) failed: %s", failed, c->error);
}

/* Write `content` as one message (in pieces of `piece` bytes) and commit it
 * to `ids`; the callback goes to `c`. */
static void deliver(struct store_fixture *f, struct store_conn *conn, const char *content,
		    size_t len, size_t piece, const int64_t *ids, size_t n, struct commits *c)
{
	struct store_msg *msg = NULL;
	if (store_msg_begin(conn, &msg) < 0)
		fail_msg("msg_begin: %s", store_conn_error(conn));
	for (size_t o = 0; o < len; o += piece) {
		size_t k = len - o < piece ? len - o : piece;
		assert_int_equal(store_msg_write(msg, content + o, k), 0);
	}
	assert_int_equal(store_msg_size(msg), len);
	bool full = true;
	assert_null(store_msg_error(msg, &full));
	assert_false(full);
	store_msg_commit(msg, ids, n, commit_done, c);
	(void)f;
}

/* ----- domains ----- */

struct domain_seen {
	char names[8][64];
	unsigned users[8], aliases[8];
	size_t n;
};

static void domain_cb(void *ctx, const struct store_domain_info *info)
{
	struct domain_seen *s = ctx;
	if (s->n < 8) {
		snprintf(s->names[s->n], 64, "%s", info->name);
		s->users[s->n] = info->users;
		s->aliases[s->n] = info->aliases;
	}
	s->n++;
}

static void test_domains(void **state)
{
	(void)state;
	struct store_fixture f;
	fixture_open(&f, NULL);
	char primary[256] = "unset";
	assert_int_equal(store_domain_primary(f.conn, primary, sizeof(primary)), 0);
	assert_int_equal(store_domain_exists(f.conn, "example.org"), 0);

	assert_int_equal(store_domain_add(f.conn, "example.org"), 0);
	assert_int_equal(store_domain_add(f.conn, "another.example"), 0);
	assert_int_equal(store_domain_add(f.conn, "example.org"), -1);
	assert_non_null(strstr(store_conn_error(f.conn), "already exists"));
	assert_int_equal(store_domain_exists(f.conn, "example.org"), 1);
	assert_int_equal(store_domain_exists(f.conn, "another.example"), 1);
	assert_int_equal(store_domain_exists(f.conn, "example.com"), 0);
	assert_int_equal(store_domain_exists(f.conn, "org"), 0);

	/* The primary domain is the first one added, not the first by name. */
	assert_int_equal(store_domain_primary(f.conn, primary, sizeof(primary)), 1);
	assert_string_equal(primary, "example.org");

	fixture_user(&f, "alice", "example.org");
	fixture_user(&f, "bob", "example.org");
	fixture_alias(&f, "info", "example.org", "alice@example.org");
	fixture_alias(&f, "info", "example.org", "bob@example.org");
	fixture_alias(&f, "", "example.org", "alice@example.org");

	struct domain_seen seen = {0};
	assert_int_equal(store_domain_list(f.conn, domain_cb, &seen), 0);
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.names[0], "another.example"); /* sorted by name */
	assert_int_equal(seen.users[0], 0);
	assert_int_equal(seen.aliases[0], 0);
	assert_string_equal(seen.names[1], "example.org");
	assert_int_equal(seen.users[1], 2);
	assert_int_equal(seen.aliases[1], 2); /* "info" and the catch-all */

	/* Deleting: unknown, refused while it has accounts, then forced. */
	assert_int_equal(store_domain_del(f.conn, "nowhere.example", false), -1);
	assert_non_null(strstr(store_conn_error(f.conn), "no such domain"));
	assert_int_equal(store_domain_del(f.conn, "example.org", false), -1);
	assert_non_null(strstr(store_conn_error(f.conn), "account"));
	assert_int_equal(store_domain_exists(f.conn, "example.org"), 1);
	assert_int_equal(store_domain_del(f.conn, "another.example", false), 0);
	assert_int_equal(store_domain_exists(f.conn, "another.example"), 0);
	assert_int_equal(store_domain_del(f.conn, "example.org", true), 0);
	assert_int_equal(store_domain_exists(f.conn, "example.org"), 0);
	struct store_user u;
	assert_int_equal(store_user_lookup(f.conn, "alice", "example.org", &u), 0);
	assert_int_equal(count_sql(&f, "SELECT count(*) FROM aliases"), 0);
	assert_int_equal(count_sql(&f, "SELECT count(*) FROM accounts"), 0);
	assert_int_equal(count_sql(&f, "SELECT count(*) FROM mailboxes"), 0);
	assert_int_equal(store_domain_primary(f.conn, primary, sizeof(primary)), 0);

	/* The mail of deleted accounts is kept aside, not destroyed. */
	char path[600];
	path_of(&f, path, sizeof(path), "mail/example.org/alice");
	assert_false(is_dir(path));
	path_of(&f, path, sizeof(path), "deleted/example.org");
	assert_int_equal(count_dir(path), 2);
	fixture_close(&f);
}

/* ----- accounts ----- */

struct user_seen {
	char names[8][400];
	size_t n;
};

static void user_cb(void *ctx, const struct store_user *u)
{
	struct user_seen *s = ctx;
	if (s->n < 8)
		snprintf(s->names[s->n], sizeof(s->names[0]), "%s@%s", u->local, u->domain);
	s->n++;
}

static void test_users(void **state)
{
	(void)state;
	struct store_fixture f;
	fixture_open(&f, NULL);
	fixture_domain(&f, "example.org");
	fixture_domain(&f, "b.example");

	assert_int_equal(store_user_add(f.conn, "alice", "example.org", "$argon2id$hash1", 1000),
			 0);
	assert_int_equal(store_user_add(f.conn, "alice", "example.org", "$argon2id$other", 0), -1);
	assert_non_null(strstr(store_conn_error(f.conn), "already exists"));
	assert_int_equal(store_user_add(f.conn, "alice", "nowhere.example", "h", 0), -1);
	assert_non_null(strstr(store_conn_error(f.conn), "no such domain"));
	/* Same local part in another domain is another account. */
	assert_int_equal(store_user_add(f.conn, "alice", "b.example", "h2", 0), 0);
	assert_int_equal(store_user_add(f.conn, "bob", "example.org", "h3", 0), 0);

	struct store_user u, u2;
	assert_int_equal(store_user_lookup(f.conn, "alice", "example.org", &u), 1);
	assert_true(u.id > 0);
	assert_string_equal(u.local, "alice");
	assert_string_equal(u.domain, "example.org");
	assert_string_equal(u.password, "$argon2id$hash1");
	assert_int_equal(u.quota_bytes, 1000);
	assert_int_equal(store_user_lookup(f.conn, "alice", "b.example", &u2), 1);
	assert_true(u2.id != u.id);
	assert_int_equal(store_user_lookup(f.conn, "carol", "example.org", &u2), 0);
	assert_int_equal(store_user_lookup(f.conn, "alice", "nowhere.example", &u2), 0);

	/* The Maildir++ layout exists. */
	static const char *const dirs[] = {
		"new", "cur", "tmp", ".Sent/new", ".Drafts/cur", ".Junk/tmp", ".Trash/new",
		".Archive/new",
	};
	char path[600];
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		path_of(&f, path, sizeof(path), "mail/example.org/alice/%s", dirs[i]);
		if (!is_dir(path))
			fail_msg("missing %s", path);
	}
	path_of(&f, path, sizeof(path), "mail/example.org/alice/.Sent/maildirfolder");
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(count_sql(&f, "SELECT count(*) FROM mailboxes m JOIN accounts a ON"
				       " a.id = m.account_id WHERE a.localpart = 'alice'"
				       " AND m.name = 'INBOX'"),
			 2);

	/* Listing: all, or one domain; ordered by domain then local part. */
	struct user_seen seen = {0};
	assert_int_equal(store_user_list(f.conn, NULL, user_cb, &seen), 0);
	assert_int_equal(seen.n, 3);
	assert_string_equal(seen.names[0], "alice@b.example");
	assert_string_equal(seen.names[1], "alice@example.org");
	assert_string_equal(seen.names[2], "bob@example.org");
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_user_list(f.conn, "example.org", user_cb, &seen), 0);
	assert_int_equal(seen.n, 2);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_user_list(f.conn, "nowhere.example", user_cb, &seen), 0);
	assert_int_equal(seen.n, 0);

	/* Passwords. */
	assert_int_equal(store_user_set_password(f.conn, "alice", "example.org", "$new$"), 0);
	assert_int_equal(store_user_lookup(f.conn, "alice", "example.org", &u), 1);
	assert_string_equal(u.password, "$new$");
	assert_int_equal(store_user_lookup(f.conn, "alice", "b.example", &u2), 1);
	assert_string_equal(u2.password, "h2");
	assert_int_equal(store_user_set_password(f.conn, "carol", "example.org", "x"), -1);
	assert_non_null(strstr(store_conn_error(f.conn), "no such user"));

	/* Deleting. */
	assert_int_equal(store_user_del(f.conn, "alice", "example.org"), 0);
	assert_int_equal(store_user_lookup(f.conn, "alice", "example.org", &u), 0);
	assert_int_equal(store_user_lookup(f.conn, "alice", "b.example", &u2), 1);
	assert_int_equal(store_user_del(f.conn, "alice", "example.org"), -1);
	assert_non_null(strstr(store_conn_error(f.conn), "no such user"));
	assert_int_equal(store_user_del(f.conn, "nobody", "example.org"), -1);
	assert_non_null(strstr(store_conn_error(f.conn), "no such user"));
	path_of(&f, path, sizeof(path), "mail/example.org/alice");
	assert_false(is_dir(path));
	path_of(&f, path, sizeof(path), "deleted/example.org");
	assert_int_equal(count_dir(path), 1);
	/* Its mailboxes went with it. */
	assert_int_equal(count_sql(&f, "SELECT count(*) FROM mailboxes"), 2 * 6);
	fixture_close(&f);
}

/* A new account with the name of a deleted one starts empty. */
static void test_user_recreated_starts_empty(void **state)
{
	(void)state;
	/* The deleted account's usual names are taken: the move still succeeds
	 * under another name, and the new account starts empty. */
	struct store_fixture f;
	struct commits c;
	const char *err;
	static const char secret[] = "Subject: for the old bob\r\n\r\nprivate\r\n";
	fixture_open(&f, NULL);
	commits_init(&c);
	assert_int_equal(store_start(f.store, &err), 0);
	fixture_domain(&f, "example.org");
	int64_t id = fixture_user(&f, "bob", "example.org");
	deliver(&f, f.conn, secret, strlen(secret), 4096, &id, 1, &c);
	commits_wait(&c, 1);

	char path[600];
	time_t now = time(NULL);
	for (time_t t = now; t < now + 30; t++) {
		path_of(&f, path, sizeof(path), "deleted/example.org/bob.%ld/new", (long)t);
		assert_int_equal(mkdir_p(path, 0700), 0);
	}
	assert_int_equal(store_user_del(f.conn, "bob", "example.org"), 0);
	fixture_user(&f, "bob", "example.org");
	path_of(&f, path, sizeof(path), "mail/example.org/bob/new");
	assert_int_equal(count_dir(path), 0);
	assert_int_equal(store_recover(f.store, &err), 0);
	struct row rows[4];
	assert_int_equal(read_rows(&f, rows, 4), 0);
	commits_destroy(&c);
	fixture_close(&f);
}

/* ----- aliases ----- */

struct alias_seen {
	char lines[16][600];
	size_t n;
};

static void alias_cb(void *ctx, const struct store_alias_info *info)
{
	struct alias_seen *s = ctx;
	if (s->n < 16)
		snprintf(s->lines[s->n], sizeof(s->lines[0]), "%s@%s -> %s", info->local,
			 info->domain, info->target);
	s->n++;
}

static void target_cb(void *ctx, const char *target)
{
	struct alias_seen *s = ctx;
	if (s->n < 16)
		snprintf(s->lines[s->n], sizeof(s->lines[0]), "%s", target);
	s->n++;
}

static void test_aliases(void **state)
{
	(void)state;
	struct store_fixture f;
	fixture_open(&f, NULL);
	fixture_domain(&f, "example.org");
	fixture_domain(&f, "b.example");

	assert_int_equal(store_alias_add(f.conn, "info", "example.org", "alice@example.org"), 0);
	assert_int_equal(store_alias_add(f.conn, "info", "example.org", "bob@b.example"), 0);
	assert_int_equal(store_alias_add(f.conn, "info", "example.org", "alice@example.org"), -1);
	assert_non_null(strstr(store_conn_error(f.conn), "already"));
	assert_int_equal(store_alias_add(f.conn, "x", "nowhere.example", "a@example.org"), -1);
	assert_non_null(strstr(store_conn_error(f.conn), "no such domain"));
	assert_int_equal(store_alias_add(f.conn, "", "example.org", "catch@example.org"), 0);
	assert_int_equal(store_alias_add(f.conn, "sales", "b.example", "info@example.org"), 0);

	/* Targets in the order they were added. */
	struct alias_seen t = {0};
	assert_int_equal(store_alias_targets(f.conn, "info", "example.org", target_cb, &t), 1);
	assert_int_equal(t.n, 2);
	assert_string_equal(t.lines[0], "alice@example.org");
	assert_string_equal(t.lines[1], "bob@b.example");
	memset(&t, 0, sizeof(t));
	assert_int_equal(store_alias_targets(f.conn, "nothing", "example.org", target_cb, &t), 0);
	assert_int_equal(t.n, 0);
	assert_int_equal(store_alias_targets(f.conn, "info", "b.example", target_cb, &t), 0);
	assert_int_equal(store_alias_targets(f.conn, "", "example.org", target_cb, &t), 1);
	assert_string_equal(t.lines[0], "catch@example.org");

	struct alias_seen all = {0};
	assert_int_equal(store_alias_list(f.conn, NULL, alias_cb, &all), 0);
	assert_int_equal(all.n, 4);
	assert_string_equal(all.lines[0], "sales@b.example -> info@example.org");
	assert_string_equal(all.lines[1], "@example.org -> catch@example.org");
	assert_string_equal(all.lines[2], "info@example.org -> alice@example.org");
	assert_string_equal(all.lines[3], "info@example.org -> bob@b.example");
	memset(&all, 0, sizeof(all));
	assert_int_equal(store_alias_list(f.conn, "b.example", alias_cb, &all), 0);
	assert_int_equal(all.n, 1);

	/* Deleting one target, then the rest. */
	assert_int_equal(store_alias_del(f.conn, "info", "example.org", "alice@example.org"), 0);
	memset(&t, 0, sizeof(t));
	assert_int_equal(store_alias_targets(f.conn, "info", "example.org", target_cb, &t), 1);
	assert_int_equal(t.n, 1);
	assert_string_equal(t.lines[0], "bob@b.example");
	assert_int_equal(store_alias_del(f.conn, "info", "example.org", "alice@example.org"), -1);
	assert_non_null(strstr(store_conn_error(f.conn), "no such alias"));
	assert_int_equal(store_alias_add(f.conn, "info", "example.org", "carol@example.org"), 0);
	assert_int_equal(store_alias_del(f.conn, "info", "example.org", NULL), 0);
	assert_int_equal(store_alias_targets(f.conn, "info", "example.org", target_cb, &t), 0);
	assert_int_equal(store_alias_del(f.conn, "info", "example.org", NULL), -1);
	assert_int_equal(store_alias_del(f.conn, "", "example.org", NULL), 0);
	assert_int_equal(store_alias_targets(f.conn, "", "example.org", target_cb, &t), 0);
	fixture_close(&f);
}

/* ----- delivery, for each sync_method (the test's initial state) ----- */

static int delivery_setup(void **state)
{
	const char *method = *state;
	struct store_fixture *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -1;
	fixture_open(f, method);
	const char *err = NULL;
	if (store_start(f->store, &err) < 0)
		fail_msg("store_start: %s", err);
	fixture_domain(f, "example.org");
	*state = f;
	return 0;
}

static int delivery_teardown(void **state)
{
	struct store_fixture *f = *state;
	fixture_close(f);
	free(f);
	return 0;
}

static void test_deliver_one(void **state)
{
	struct store_fixture *f = *state;
	struct commits c;
	commits_init(&c);
	int64_t alice = fixture_user(f, "alice", "example.org");
	fixture_user(f, "bob", "example.org");
	static const char msg[] = "From: <sender@example.com>\r\nTo: <alice@example.org>\r\n"
				  "Subject: one\r\n\r\nHello Alice.\r\n";
	deliver(f, f->conn, msg, strlen(msg), 7, &alice, 1, &c);
	commits_wait(&c, 1);

	char path[600], names[4][256];
	path_of(f, path, sizeof(path), "mail/example.org/alice/new");
	assert_int_equal(list_dir(path, names, 4), 1);
	struct row rows[4];
	assert_int_equal(read_rows(f, rows, 4), 1);
	assert_string_equal(rows[0].local, "alice");
	assert_int_equal(rows[0].uid, 1);
	assert_string_equal(rows[0].filename, names[0]);
	assert_row_file(f, &rows[0], msg, strlen(msg));
	path_of(f, path, sizeof(path), "mail/example.org/bob/new");
	assert_int_equal(count_dir(path), 0);
	assert_spool_empty(f);
	commits_destroy(&c);
}

static void test_deliver_three_recipients(void **state)
{
	struct store_fixture *f = *state;
	struct commits c;
	commits_init(&c);
	int64_t ids[3];
	ids[0] = fixture_user(f, "alice", "example.org");
	ids[1] = fixture_user(f, "bob", "example.org");
	ids[2] = fixture_user(f, "carol", "example.org");
	fixture_user(f, "dave", "example.org");
	static const char msg[] = "Subject: three\r\n\r\nTo all of you.\r\n";
	deliver(f, f->conn, msg, strlen(msg), 1, ids, 3, &c);
	commits_wait(&c, 1);

	struct row rows[8];
	assert_int_equal(read_rows(f, rows, 8), 3);
	static const char *const who[] = {"alice", "bob", "carol"};
	for (size_t i = 0; i < 3; i++) {
		assert_string_equal(rows[i].local, who[i]);
		assert_int_equal(rows[i].uid, 1);
		assert_row_file(f, &rows[i], msg, strlen(msg));
		char path[600];
		path_of(f, path, sizeof(path), "mail/example.org/%s/new", who[i]);
		assert_int_equal(count_dir(path), 1);
	}
	assert_true(rows[0].mailbox_id != rows[1].mailbox_id);
	assert_true(rows[1].mailbox_id != rows[2].mailbox_id);
	char path[600];
	path_of(f, path, sizeof(path), "mail/example.org/dave/new");
	assert_int_equal(count_dir(path), 0);
	assert_spool_empty(f);
	commits_destroy(&c);
}

/* Several messages committed back to back (one or more batches): UIDs per
 * mailbox are 1, 2, 3... in commit order. */
static void test_deliver_uids_ascending(void **state)
{
	struct store_fixture *f = *state;
	struct commits c;
	commits_init(&c);
	int64_t alice = fixture_user(f, "alice", "example.org");
	int64_t bob = fixture_user(f, "bob", "example.org");
	enum { N = 12 };
	char msgs[N][64];
	for (int i = 0; i < N; i++) {
		snprintf(msgs[i], sizeof(msgs[i]), "Subject: message %d\r\n\r\n%d\r\n", i + 1,
			 i + 1);
		int64_t both[2] = {alice, bob};
		/* Every third message goes to alice only. */
		deliver(f, f->conn, msgs[i], strlen(msgs[i]), 64, both, i % 3 == 0 ? 1 : 2, &c);
	}
	commits_wait(&c, N);

	struct row rows[2 * N];
	size_t n = read_rows(f, rows, 2 * N);
	assert_int_equal(n, N + N - (N + 2) / 3);
	assert_uids_ascending(rows, n);
	/* alice's rows come first (ordered by local part), in UID order. */
	for (int i = 0; i < N; i++) {
		assert_string_equal(rows[i].local, "alice");
		assert_row_file(f, &rows[i], msgs[i], strlen(msgs[i]));
	}
	size_t k = N;
	for (int i = 0; i < N; i++) {
		if (i % 3 == 0)
			continue;
		assert_string_equal(rows[k].local, "bob");
		assert_row_file(f, &rows[k], msgs[i], strlen(msgs[i]));
		k++;
	}
	char path[600];
	path_of(f, path, sizeof(path), "mail/example.org/alice/new");
	assert_int_equal(count_dir(path), N);
	assert_spool_empty(f);
	commits_destroy(&c);
}

/* A large message: written partly buffered, partly past the write buffer. */
static void test_deliver_large(void **state)
{
	struct store_fixture *f = *state;
	struct commits c;
	commits_init(&c);
	int64_t alice = fixture_user(f, "alice", "example.org");
	size_t len = 3 * 65536 + 1234;
	char *big = malloc(len);
	assert_non_null(big);
	for (size_t i = 0; i < len; i++)
		big[i] = (char)(i % 251);
	struct store_msg *msg = NULL;
	assert_int_equal(store_msg_begin(f->conn, &msg), 0);
	assert_int_equal(store_msg_write(msg, big, 100), 0);
	assert_int_equal(store_msg_write(msg, big + 100, 70000), 0);   /* >= buffer */
	assert_int_equal(store_msg_write(msg, big + 70100, 65000), 0); /* fills it */
	assert_int_equal(store_msg_write(msg, big + 135100, 1000), 0); /* overflows it */
	assert_int_equal(store_msg_write(msg, big + 136100, len - 136100), 0);
	assert_int_equal(store_msg_size(msg), len);
	store_msg_commit(msg, &alice, 1, commit_done, &c);
	commits_wait(&c, 1);
	struct row rows[2];
	assert_int_equal(read_rows(f, rows, 2), 1);
	assert_row_file(f, &rows[0], big, len);
	char want_suffix[64];
	snprintf(want_suffix, sizeof(want_suffix), ",S=%zu", len);
	assert_non_null(strstr(rows[0].filename, want_suffix));
	assert_spool_empty(f);
	free(big);
	commits_destroy(&c);
}

static void test_abort(void **state)
{
	struct store_fixture *f = *state;
	fixture_user(f, "alice", "example.org");
	struct store_msg *msg = NULL;
	assert_int_equal(store_msg_begin(f->conn, &msg), 0);
	assert_int_equal(store_msg_write(msg, "partial", 7), 0);
	char path[600];
	path_of(f, path, sizeof(path), "spool/tmp");
	assert_int_equal(count_dir(path), 1);
	store_msg_abort(&msg);
	assert_null(msg);
	store_msg_abort(&msg); /* NULL is fine */
	assert_spool_empty(f);
	struct row rows[1];
	assert_int_equal(read_rows(f, rows, 1), 0);
}

/* Sessions on several threads, each with its own connection. */
struct sender {
	struct store_fixture *f;
	struct commits *c;
	int64_t account;
	int thread;
	int error;
};

enum { SENDERS = 4, PER_SENDER = 15 };

static void *sender_main(void *arg)
{
	struct sender *s = arg;
	const char *err;
	struct store_conn *conn = store_conn_open(s->f->store, &err);
	if (conn == NULL) {
		s->error = 1;
		return NULL;
	}
	for (int i = 0; i < PER_SENDER; i++) {
		char body[64];
		int n = snprintf(body, sizeof(body), "Subject: t%d m%d\r\n\r\n", s->thread, i);
		struct store_msg *msg = NULL;
		if (store_msg_begin(conn, &msg) < 0 || store_msg_write(msg, body, (size_t)n) < 0) {
			s->error = 1;
			store_msg_abort(&msg);
			break;
		}
		store_msg_commit(msg, &s->account, 1, commit_done, s->c);
	}
	store_conn_close(&conn);
	return NULL;
}

static void test_deliver_concurrent(void **state)
{
	struct store_fixture *f = *state;
	struct commits c;
	commits_init(&c);
	int64_t alice = fixture_user(f, "alice", "example.org");
	pthread_t th[SENDERS];
	struct sender senders[SENDERS];
	for (int i = 0; i < SENDERS; i++) {
		senders[i] = (struct sender){f, &c, alice, i, 0};
		assert_int_equal(pthread_create(&th[i], NULL, sender_main, &senders[i]), 0);
	}
	for (int i = 0; i < SENDERS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(senders[i].error, 0);
	}
	commits_wait(&c, SENDERS * PER_SENDER);
	struct row rows[SENDERS * PER_SENDER + 1];
	assert_int_equal(read_rows(f, rows, SENDERS * PER_SENDER + 1), SENDERS * PER_SENDER);
	assert_uids_ascending(rows, SENDERS * PER_SENDER);
	char path[600];
	path_of(f, path, sizeof(path), "mail/example.org/alice/new");
	assert_int_equal(count_dir(path), SENDERS * PER_SENDER);
	assert_spool_empty(f);
	commits_destroy(&c);
}

/* ----- recovery ----- */

static void test_recover(void **state)
{
	(void)state;
	struct store_fixture f;
	struct commits c;
	const char *err = NULL;
	commits_init(&c);
	fixture_open(&f, NULL);
	assert_int_equal(store_start(f.store, &err), 0);
	fixture_domain(&f, "example.org");
	int64_t alice = fixture_user(&f, "alice", "example.org");
	fixture_user(&f, "bob", "example.org");
	static const char first[] = "Subject: first\r\n\r\n1\r\n";
	deliver(&f, f.conn, first, strlen(first), 100, &alice, 1, &c);
	commits_wait(&c, 1);

	/* A crash leaves an unfinished spool file and files in new/ that the
	 * index has not recorded. */
	fixture_reopen(&f);
	char stray[600], orphan[800], orphan2[800];
	path_of(&f, stray, sizeof(stray), "spool/tmp/1700000000.M1P1Q9.mx.example.org");
	put_file(stray, "half a message");
	static const char lost[] = "Subject: lost\r\n\r\nfound again\r\n";
	char name[200];
	snprintf(name, sizeof(name), "1700000001.M2P1Q10.mx.example.org,S=%zu", strlen(lost));
	path_of(&f, orphan, sizeof(orphan), "mail/example.org/alice/new/%s", name);
	put_file(orphan, lost);
	path_of(&f, orphan2, sizeof(orphan2), "mail/example.org/bob/new/1700000002.plain");
	put_file(orphan2, "bob's");

	assert_int_equal(store_recover(f.store, &err), 0);
	assert_int_equal(access(stray, F_OK), -1);
	assert_spool_empty(&f);
	struct row rows[8];
	assert_int_equal(read_rows(&f, rows, 8), 3);
	assert_string_equal(rows[0].local, "alice");
	assert_int_equal(rows[0].uid, 1);
	assert_row_file(&f, &rows[0], first, strlen(first));
	assert_string_equal(rows[1].local, "alice");
	assert_int_equal(rows[1].uid, 2);
	assert_string_equal(rows[1].filename, name);
	assert_row_file(&f, &rows[1], lost, strlen(lost));
	assert_string_equal(rows[2].local, "bob");
	assert_int_equal(rows[2].uid, 1);
	assert_string_equal(rows[2].filename, "1700000002.plain");
	assert_row_file(&f, &rows[2], "bob's", 5);

	/* Recovery twice changes nothing. */
	assert_int_equal(store_recover(f.store, &err), 0);
	assert_int_equal(read_rows(&f, rows, 8), 3);

	/* New mail continues after the recovered UID. */
	assert_int_equal(store_start(f.store, &err), 0);
	static const char next[] = "Subject: next\r\n\r\n3\r\n";
	deliver(&f, f.conn, next, strlen(next), 100, &alice, 1, &c);
	commits_wait(&c, 2);
	assert_int_equal(read_rows(&f, rows, 8), 4);
	assert_int_equal(rows[2].uid, 3);
	assert_row_file(&f, &rows[2], next, strlen(next));
	assert_uids_ascending(rows, 4);
	commits_destroy(&c);
	fixture_close(&f);
}

/* An index row whose file never reached new/ was never acknowledged:
 * recovery drops it, and UIDs are not reused. */
static void test_recover_drops_rows_without_files(void **state)
{
	(void)state;
	struct store_fixture f;
	struct commits c;
	const char *err = NULL;
	commits_init(&c);
	fixture_open(&f, "fsync");
	assert_int_equal(store_start(f.store, &err), 0);
	fixture_domain(&f, "example.org");
	int64_t alice = fixture_user(&f, "alice", "example.org");
	static const char a[] = "Subject: a\r\n\r\n", b[] = "Subject: b\r\n\r\n";
	deliver(&f, f.conn, a, strlen(a), 100, &alice, 1, &c);
	deliver(&f, f.conn, b, strlen(b), 100, &alice, 1, &c);
	commits_wait(&c, 2);
	fixture_reopen(&f);

	struct row rows[4];
	assert_int_equal(read_rows(&f, rows, 4), 2);
	char path[800];
	path_of(&f, path, sizeof(path), "mail/example.org/alice/new/%s", rows[0].filename);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(store_recover(f.store, &err), 0);
	assert_int_equal(read_rows(&f, rows, 4), 1);
	assert_int_equal(rows[0].uid, 2);
	assert_row_file(&f, &rows[0], b, strlen(b));

	assert_int_equal(store_start(f.store, &err), 0);
	deliver(&f, f.conn, a, strlen(a), 100, &alice, 1, &c);
	commits_wait(&c, 3);
	assert_int_equal(read_rows(&f, rows, 4), 2);
	assert_int_equal(rows[1].uid, 3);
	commits_destroy(&c);
	fixture_close(&f);
}

/* Opening without `create` needs an initialised data directory. */
static void test_open_errors(void **state)
{
	(void)state;
	struct config cfg;
	struct store *store = NULL;
	const char *err = NULL;
	char dir[] = "/tmp/postane-empty-XXXXXX";
	assert_non_null(mkdtemp(dir));
	config_defaults(&cfg);
	free(cfg.data_dir);
	cfg.data_dir = xstrdup(dir);
	assert_int_equal(store_open(&cfg, false, &store, &err), -1);
	assert_non_null(err);
	assert_non_null(strstr(err, "postane.db"));
	store_close(&store);
	assert_null(store);
	store_close(&store); /* NULL is fine */

	free(cfg.store_backend);
	cfg.store_backend = xstrdup("nosuch");
	err = NULL;
	assert_int_equal(store_open(&cfg, true, &store, &err), -1);
	assert_non_null(err);
	store_close(&store);
	config_free(&cfg);
	assert_int_equal(rmdir(dir), 0);
}

/* One delivery test per sync method, named "test (method)". */
#define DELIVERY(fn, method)                                                                \
	{                                                                                   \
		#fn " (" method ")", fn, delivery_setup, delivery_teardown, (void *)(method) \
	}
#define DELIVERY_ALL(fn) DELIVERY(fn, "auto"), DELIVERY(fn, "syncfs"), DELIVERY(fn, "fsync")

int main(void)
{
	log_set_level(LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_domains),
		cmocka_unit_test(test_users),
		cmocka_unit_test(test_user_recreated_starts_empty),
		cmocka_unit_test(test_aliases),
		DELIVERY_ALL(test_deliver_one),
		DELIVERY_ALL(test_deliver_three_recipients),
		DELIVERY_ALL(test_deliver_uids_ascending),
		DELIVERY_ALL(test_deliver_large),
		DELIVERY_ALL(test_abort),
		DELIVERY_ALL(test_deliver_concurrent),
		cmocka_unit_test(test_recover),
		cmocka_unit_test(test_recover_drops_rows_without_files),
		cmocka_unit_test(test_open_errors),
	};
	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
