/* test_store_queue.c - the outbound queue of the embedded store: entries
 * written with the message, due recipients, leases, outcomes, the
 * administrator's actions, and a restart in the middle. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "store_fixture.h"

struct done {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int calls, failed;
};

static void on_commit(void *ctx, const struct store_commit_result *res)
{
	struct done *d = ctx;
	pthread_mutex_lock(&d->lock);
	d->calls++;
	d->failed += res->result != 0;
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
}

/* Queue one message from `sender` to `n` remote recipients (with NOTIFY and
 * ORCPT on the first) and wait until it is durable. */
static void queue_message(struct store_fixture *f, const char *qid, const char *sender,
			  const char *const *rcpts, size_t n)
{
	struct done d = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
	struct store_msg *m = NULL;
	static const char body[] = "From: a@example.org\r\nSubject: q\r\n\r\nhello\r\n";
	assert_int_equal(store_msg_begin(f->conn, &m), 0);
	assert_int_equal(store_msg_write(m, body, sizeof(body) - 1), 0);
	const char *notify[4] = {"FAILURE,DELAY", NULL, NULL, NULL};
	const char *orcpt[4] = {"rfc822;Bob@Example.NET", NULL, NULL, NULL};
	struct store_envelope env = {
		.sender = sender,
		.remote = rcpts,
		.nremote = n,
		.qid = qid,
		.envid = "env-1",
		.ret = 2,
		.remote_notify = notify,
		.remote_orcpt = orcpt,
	};
	store_msg_commit_env(m, &env, on_commit, &d);
	pthread_mutex_lock(&d.lock);
	while (d.calls == 0)
		pthread_cond_wait(&d.cond, &d.lock);
	pthread_mutex_unlock(&d.lock);
	assert_int_equal(d.failed, 0);
}

struct seen {
	int entries;
	int rcpts;
	int pending;
	int64_t entry_id;
	int64_t rcpt_ids[8];
	char qid[32], envid[32], notify0[32], orcpt0[64], path[512], error0[128];
	int ret;
	bool held;
	int attempts0;
	int state[8];
};

static void collect(void *ctx, const struct store_queue_entry *e,
		    const struct store_queue_rcpt *r, size_t n)
{
	struct seen *s = ctx;
	s->entries++;
	s->entry_id = e->id;
	snprintf(s->qid, sizeof(s->qid), "%s", e->qid);
	snprintf(s->envid, sizeof(s->envid), "%s", e->envid != NULL ? e->envid : "");
	snprintf(s->path, sizeof(s->path), "%s", e->path);
	s->ret = e->ret;
	s->held = e->held;
	for (size_t i = 0; i < n && i < 8; i++) {
		s->rcpt_ids[s->rcpts] = r[i].id;
		s->state[s->rcpts] = r[i].state;
		s->rcpts++;
		s->pending += r[i].state == STORE_QRCPT_PENDING;
	}
	for (size_t i = 0; i < n; i++) {
		/* the DSN parameters were given for the first recipient only */
		if (r[i].notify != NULL)
			snprintf(s->notify0, sizeof(s->notify0), "%s", r[i].notify);
		if (r[i].orcpt != NULL)
			snprintf(s->orcpt0, sizeof(s->orcpt0), "%s", r[i].orcpt);
	}
	if (n > 0) {
		snprintf(s->error0, sizeof(s->error0), "%s",
			 r[0].last_error != NULL ? r[0].last_error : "");
		s->attempts0 = (int)r[0].attempts;
	}
}

static void test_entry_due_lease_update_remove(void **state)
{
	(void)state;
	struct store_fixture f;
	const char *err = NULL;
	fixture_open(&f, NULL);
	assert_int_equal(store_start(f.store, &err), 0);
	const char *rcpts[] = {"bob@example.net", "carol@example.com"};
	queue_message(&f, "QID1", "alice@example.org", rcpts, 2);
	int64_t now = time(NULL);

	struct seen s = {0};
	assert_int_equal(store_queue_due(f.conn, now, 10, collect, &s), 0);
	assert_int_equal(s.entries, 1);
	assert_int_equal(s.rcpts, 2);
	assert_string_equal(s.qid, "QID1");
	assert_string_equal(s.envid, "env-1");
	assert_int_equal(s.ret, 2);
	assert_string_equal(s.notify0, "FAILURE,DELAY");
	assert_string_equal(s.orcpt0, "rfc822;Bob@Example.NET");
	assert_int_equal(access(s.path, R_OK), 0);
	assert_int_equal(store_queue_find(f.conn, "QID1"), s.entry_id);
	assert_int_equal(store_queue_find(f.conn, "nope"), 0);

	/* Leased recipients are not due again. */
	assert_int_equal(store_queue_lease(f.conn, s.rcpt_ids, 2, now + 3600), 0);
	struct seen s2 = {0};
	assert_int_equal(store_queue_due(f.conn, now, 10, collect, &s2), 0);
	assert_int_equal(s2.entries, 0);

	/* One delivered, one deferred for 300 s. */
	struct store_qrcpt_update u[2] = {
		{.rcpt_id = s.rcpt_ids[0], .state = STORE_QRCPT_DELIVERED, .attempt_time = now,
		 .count_attempt = true, .error = "250 ok", .status = "2.0.0", .remote_mta = "mx"},
		{.rcpt_id = s.rcpt_ids[1], .state = STORE_QRCPT_PENDING, .next_attempt = now + 300,
		 .attempt_time = now, .count_attempt = true, .error = "451 later"},
	};
	assert_int_equal(store_queue_update(f.conn, u, 2), 0);
	int64_t when = 0;
	assert_int_equal(store_queue_next_due(f.conn, &when), 1);
	assert_int_equal(when, now + 300);
	struct seen s3 = {0};
	assert_int_equal(store_queue_due(f.conn, now, 10, collect, &s3), 0);
	assert_int_equal(s3.entries, 0);
	/* Due again later, with only the pending one. */
	assert_int_equal(store_queue_due(f.conn, now + 300, 10, collect, &s3), 0);
	assert_int_equal(s3.rcpts, 1);
	assert_string_equal(s3.error0, "451 later");
	assert_int_equal(s3.attempts0, 1);

	/* flush makes it due now; hold hides it; release shows it again. */
	assert_int_equal(store_queue_flush(f.conn, 0, now), 1);
	assert_int_equal(store_queue_set_held(f.conn, s.entry_id, true), 1);
	struct seen s4 = {0};
	assert_int_equal(store_queue_due(f.conn, now, 10, collect, &s4), 0);
	assert_int_equal(s4.entries, 0);
	assert_int_equal(store_queue_next_due(f.conn, &when), 0);
	assert_int_equal(store_queue_set_held(f.conn, s.entry_id, false), 1);
	assert_int_equal(store_queue_due(f.conn, now, 10, collect, &s4), 0);
	assert_int_equal(s4.entries, 1);

	/* list shows every recipient whatever its state. */
	struct seen all = {0};
	assert_int_equal(store_queue_list(f.conn, 0, collect, &all), 0);
	assert_int_equal(all.rcpts, 2);
	assert_int_equal(all.pending, 1);

	/* remove takes the row and the file. */
	char path[512];
	snprintf(path, sizeof(path), "%s", s.path);
	assert_int_equal(store_queue_remove(f.conn, s.entry_id), 1);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(store_queue_remove(f.conn, s.entry_id), 0);
	struct seen none = {0};
	assert_int_equal(store_queue_list(f.conn, 0, collect, &none), 0);
	assert_int_equal(none.entries, 0);
	fixture_close(&f);
}

static void test_leases_released_after_restart(void **state)
{
	(void)state;
	struct store_fixture f;
	const char *err = NULL;
	fixture_open(&f, NULL);
	assert_int_equal(store_start(f.store, &err), 0);
	const char *rcpts[] = {"bob@example.net"};
	queue_message(&f, "QID2", "", rcpts, 1);
	int64_t now = time(NULL);
	struct seen s = {0};
	assert_int_equal(store_queue_due(f.conn, now, 10, collect, &s), 0);
	assert_int_equal(s.rcpts, 1);
	assert_int_equal(store_queue_lease(f.conn, s.rcpt_ids, 1, now + 3600), 0);
	/* kill -9 here: the lease is in the database, the delivery was not. */
	fixture_reopen(&f);
	assert_int_equal(store_recover(f.store, &err), 0);
	struct seen s2 = {0};
	assert_int_equal(store_queue_due(f.conn, now, 10, collect, &s2), 0);
	assert_int_equal(s2.entries, 0);
	assert_int_equal(store_queue_release_leases(f.conn), 1);
	assert_int_equal(store_queue_due(f.conn, now, 10, collect, &s2), 0);
	assert_int_equal(s2.rcpts, 1);
	fixture_close(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entry_due_lease_update_remove),
		cmocka_unit_test(test_leases_released_after_restart),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
