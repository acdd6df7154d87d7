/* test_store_check.c - unit tests for store_check() with the "maildir"
 * backend: a clean store, each kind of damage found and repaired, live mode
 * (read-only, spool files busy), and recovery of committed expunges whose
 * files a crash left behind and of files in folders other than INBOX. */
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

struct commits {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned calls, failed;
};

static void commit_done(void *ctx, const struct store_commit_result *res)
{
	struct commits *c = ctx;
	pthread_mutex_lock(&c->lock);
	c->calls++;
	c->failed += res->result != 0;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

/* Deliver one message to `n` accounts and wait for its commit. */
static void deliver(struct store_fixture *f, const char *content, const int64_t *ids, size_t n,
		    const char *remote)
{
	struct commits c = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
	struct store_msg *msg = NULL;
	if (store_msg_begin(f->conn, &msg) < 0)
		fail_msg("msg_begin: %s", store_conn_error(f->conn));
	assert_int_equal(store_msg_write(msg, content, strlen(content)), 0);
	const char *const rcpts[1] = {remote};
	struct store_envelope env = {.sender = "s@example.net",
				     .accounts = ids,
				     .naccounts = n,
				     .remote = rcpts,
				     .nremote = remote != NULL ? 1 : 0,
				     .qid = "Q1"};
	store_msg_commit_env(msg, &env, commit_done, &c);
	pthread_mutex_lock(&c.lock);
	while (c.calls == 0)
		pthread_cond_wait(&c.cond, &c.lock);
	pthread_mutex_unlock(&c.lock);
	assert_int_equal(c.failed, 0);
}

struct seen {
	char lines[16][1024];
	bool repaired[16];
	size_t n;
};

static void seen_cb(void *ctx, const char *problem, bool repaired)
{
	struct seen *s = ctx;
	if (s->n < 16) {
		snprintf(s->lines[s->n], sizeof(s->lines[0]), "%s", problem);
		s->repaired[s->n] = repaired;
	}
	s->n++;
}

static bool seen_has(const struct seen *s, const char *needle)
{
	for (size_t i = 0; i < s->n && i < 16; i++)
		if (strstr(s->lines[i], needle) != NULL)
			return true;
	return false;
}

static void run_check(struct store_fixture *f, unsigned flags, struct seen *s,
		      struct store_check_stats *st)
{
	const char *err = NULL;
	memset(s, 0, sizeof(*s));
	if (store_check(f->store, flags, seen_cb, s, st, &err) < 0)
		fail_msg("store_check: %s", err);
	assert_int_equal(st->problems, s->n);
	for (size_t i = 0; i < s->n && i < 16; i++)
		print_message("  %s%s\n", s->lines[i], s->repaired[i] ? " [repaired]" : "");
}

static void put(const char *path, const char *content)
{
	FILE *fp = fopen(path, "wb");
	if (fp == NULL)
		fail_msg("create %s: %s", path, strerror(errno));
	fputs(content, fp);
	assert_int_equal(fclose(fp), 0);
}

static int64_t sql_int(struct store_fixture *f, const char *sql)
{
	char path[128];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	snprintf(path, sizeof(path), "%s/postane.db", f->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void sql_exec(struct store_fixture *f, const char *sql)
{
	char path[128];
	sqlite3 *db = NULL;
	snprintf(path, sizeof(path), "%s/postane.db", f->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	sqlite3_close(db);
}

static void inbox_file(struct store_fixture *f, const char *user, char *out, size_t len)
{
	char dir[300];
	snprintf(dir, sizeof(dir), "%s/mail/example.org/%s/new", f->dir, user);
	DIR *d = opendir(dir);
	assert_non_null(d);
	struct dirent *de;
	out[0] = '\0';
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			snprintf(out, len, "%s/%s", dir, de->d_name);
	closedir(d);
	assert_true(out[0] != '\0');
}

/* ----- tests ----- */

static void test_clean_store(void **state)
{
	(void)state;
	struct store_fixture f;
	const char *err;
	fixture_open(&f, NULL);
	assert_int_equal(store_start(f.store, &err), 0);
	fixture_domain(&f, "example.org");
	int64_t ids[2] = {fixture_user(&f, "alice", "example.org"),
			  fixture_user(&f, "bob", "example.org")};
	deliver(&f, "Subject: one\r\n\r\n1\r\n", ids, 2, NULL);
	deliver(&f, "Subject: two\r\n\r\n2\r\n", ids, 1, "carol@remote.example");
	/* The committer removes a spool file just after its callback: stop it
	 * (as a stopped server would be) before a check that is not live. */
	fixture_reopen(&f);
	struct seen s;
	struct store_check_stats st;
	run_check(&f, 0, &s, &st);
	assert_int_equal(st.problems, 0);
	assert_int_equal(st.mailboxes, 12);
	assert_int_equal(st.messages, 3);
	assert_int_equal(st.files, 3);
	assert_int_equal(st.queue_entries, 1);
	run_check(&f, STORE_CHECK_LIVE, &s, &st);
	assert_int_equal(st.problems, 0);
	fixture_close(&f);
}

static void test_damage_found_and_repaired(void **state)
{
	(void)state;
	struct store_fixture f;
	const char *err;
	char path[600], path2[700];
	fixture_open(&f, NULL);
	assert_int_equal(store_start(f.store, &err), 0);
	fixture_domain(&f, "example.org");
	int64_t alice = fixture_user(&f, "alice", "example.org");
	int64_t bob = fixture_user(&f, "bob", "example.org");
	deliver(&f, "Subject: a\r\n\r\na\r\n", &alice, 1, NULL);
	deliver(&f, "Subject: b\r\n\r\nb\r\n", &bob, 1, "carol@remote.example");
	fixture_reopen(&f);

	/* 1. bob's message file is gone (row without file). */
	inbox_file(&f, "bob", path, sizeof(path));
	assert_int_equal(unlink(path), 0);
	/* 2. a file in alice's Archive nobody indexed, one with a wrong size,
	 *    and one in cur/ with flags. */
	snprintf(path, sizeof(path), "%s/mail/example.org/alice/.Archive/new/1700000000.M1P1Q1.x,S=5",
		 f.dir);
	put(path, "12345");
	snprintf(path, sizeof(path), "%s/mail/example.org/alice/new/1700000000.M2P1Q2.x,S=99", f.dir);
	put(path, "short");
	snprintf(path, sizeof(path), "%s/mail/example.org/alice/cur/1700000000.M3P1Q3.x,S=3:2,FS",
		 f.dir);
	put(path, "abc");
	/* 3. counters behind. */
	sql_exec(&f, "UPDATE mailboxes SET uidnext = 1, highestmodseq = 0 WHERE name = 'INBOX'"
		     " AND account_id = (SELECT id FROM accounts WHERE localpart = 'alice')");
	/* 4. the queue: a file without an entry, a recipient without an entry. */
	snprintf(path2, sizeof(path2), "%s/queue/1700000000.M9P9Q9.x,S=1", f.dir);
	put(path2, "q");
	sql_exec(&f, "PRAGMA foreign_keys=OFF; INSERT INTO queue_rcpt(queue_id, address, domain,"
		     " next_attempt) VALUES(999, 'dave@remote.example', 'remote.example', 0)");
	/* 5. a spool leftover. */
	snprintf(path, sizeof(path), "%s/spool/tmp/1700000000.M5P5Q5.x", f.dir);
	put(path, "half");

	struct seen s;
	struct store_check_stats st;
	run_check(&f, 0, &s, &st);
	assert_int_equal(st.repaired, 0);
	assert_true(seen_has(&s, "mailbox INBOX of bob@example.org: UID 1: file"));
	assert_true(seen_has(&s, ".Archive/new/1700000000.M1P1Q1.x,S=5 has no index row"));
	assert_true(seen_has(&s, "1700000000.M2P1Q2.x,S=99 has no index row and the wrong size"));
	assert_true(seen_has(&s, "cur/1700000000.M3P1Q3.x,S=3:2,FS has no index row"));
	assert_true(seen_has(&s, "is not below UIDNEXT 1"));
	assert_true(seen_has(&s, "is above HIGHESTMODSEQ 0"));
	assert_true(seen_has(&s, "1700000000.M9P9Q9.x,S=1 has no entry"));
	assert_true(seen_has(&s, "<dave@remote.example> belongs to no entry"));
	assert_true(seen_has(&s, "spool/tmp/1700000000.M5P5Q5.x is an unfinished message"));
	assert_int_equal(st.problems, 9);

	/* Live: the spool file is mail being received, the rest stays. */
	run_check(&f, STORE_CHECK_LIVE, &s, &st);
	assert_int_equal(st.problems, 8);
	assert_int_equal(st.spool_busy, 1);
	/* Repair is refused in live mode. */
	assert_int_equal(store_check(f.store, STORE_CHECK_LIVE | STORE_CHECK_REPAIR, seen_cb, &s,
				     &st, &err),
			 -1);

	run_check(&f, STORE_CHECK_REPAIR, &s, &st);
	assert_int_equal(st.repaired, st.problems);
	run_check(&f, 0, &s, &st);
	if (st.problems != 0)
		fail_msg("after repair: %s", s.lines[0]);
	/* What the repair did. */
	assert_int_equal(sql_int(&f, "SELECT count(*) FROM messages m JOIN mailboxes b"
				     " ON b.id = m.mailbox_id WHERE b.name = 'Archive'"),
			 1);
	assert_int_equal(sql_int(&f, "SELECT flags FROM messages WHERE filename ="
				     " '1700000000.M3P1Q3.x,S=3'"),
			 STORE_FLAG_SEEN | STORE_FLAG_FLAGGED);
	assert_int_equal(sql_int(&f, "SELECT count(*) FROM expunged"), 1);
	snprintf(path, sizeof(path), "%s/spool/quarantine/1700000000.M2P1Q2.x,S=99", f.dir);
	assert_int_equal(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/spool/quarantine/1700000000.M9P9Q9.x,S=1", f.dir);
	assert_int_equal(access(path, F_OK), 0);
	assert_true(sql_int(&f, "SELECT min(uidnext > (SELECT max(uid) FROM messages m"
				" WHERE m.mailbox_id = b.id)) FROM mailboxes b"
				" WHERE EXISTS (SELECT 1 FROM messages m WHERE m.mailbox_id = b.id)") == 1);
	fixture_close(&f);
}

/* An expunge committed just before a crash leaves its file behind: the
 * next start removes it instead of indexing it again. */
static void test_recover_expunged_file(void **state)
{
	(void)state;
	struct store_fixture f;
	const char *err;
	char path[600], keep[600];
	fixture_open(&f, NULL);
	assert_int_equal(store_start(f.store, &err), 0);
	fixture_domain(&f, "example.org");
	int64_t alice = fixture_user(&f, "alice", "example.org");
	deliver(&f, "Subject: gone\r\n\r\nx\r\n", &alice, 1, NULL);
	inbox_file(&f, "alice", path, sizeof(path));
	/* Keep a second link to put back after the expunge (the "crash"). */
	snprintf(keep, sizeof(keep), "%s/keep", f.dir);
	assert_int_equal(link(path, keep), 0);
	struct store_mailbox mb;
	assert_int_equal(store_mailbox_find(f.conn, alice, "INBOX", &mb), 1);
	uint32_t uid = 1;
	assert_int_equal(store_expunge(f.conn, mb.id, &uid, 1), 0);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(rename(keep, path), 0);
	/* And an APPEND to Archive that crashed before its commit. */
	char orphan[600];
	snprintf(orphan, sizeof(orphan),
		 "%s/mail/example.org/alice/.Archive/new/1700000000.M7P7Q7.x,S=4", f.dir);
	put(orphan, "abcd");

	fixture_reopen(&f);
	assert_int_equal(store_recover(f.store, &err), 0);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(sql_int(&f, "SELECT count(*) FROM messages m JOIN mailboxes b"
				     " ON b.id = m.mailbox_id WHERE b.name = 'INBOX'"),
			 0);
	assert_int_equal(sql_int(&f, "SELECT count(*) FROM messages m JOIN mailboxes b"
				     " ON b.id = m.mailbox_id WHERE b.name = 'Archive'"),
			 1);
	assert_int_equal(sql_int(&f, "SELECT count(*) FROM gone_files"), 0);
	struct seen s;
	struct store_check_stats st;
	run_check(&f, 0, &s, &st);
	assert_int_equal(st.problems, 0);
	fixture_close(&f);
}

int main(void)
{
	log_set_level(LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clean_store),
		cmocka_unit_test(test_damage_found_and_repaired),
		cmocka_unit_test(test_recover_expunged_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
