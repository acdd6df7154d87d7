/* test_resolve.c - unit tests for recipient resolution (store/resolve.c) over
 * the "maildir" store: accounts, case, plus-addressing, aliases and their
 * chains and loops, the catch-all, unknown users and foreign domains. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "store/resolve.h"
#include "store_fixture.h"

/* The directory used by every test (built once in group setup):
 *
 *   example.org   accounts alice, bob, carol, dave
 *                 info    -> alice
 *                 team    -> alice, carol
 *                 sales   -> info@example.org          (chain)
 *                 bob     -> bob, carol                (keeps a copy)
 *                 fwd     -> someone@remote.example    (foreign only)
 *                 mixed   -> alice, someone@remote.example
 *                 ghost   -> nobody@loop.example       (reaches nobody)
 *                 upper   -> Alice@example.org
 *                 @       -> dave                      (catch-all)
 *   loop.example  accounts erin
 *                 fwd -> someone@remote.example        (foreign only)
 *                 a -> b@loop.example, b -> a@loop.example     (loop)
 *                 self -> self@loop.example                     (no account)
 *                 c -> d@loop.example, erin@loop.example
 *                 d -> c@loop.example                   (loop reaching erin)
 *                 deep1 -> deep2 -> ... -> deep12 -> erin (too deep)
 *   remote.example is not a local domain.
 */
struct world {
	struct store_fixture f;
	int64_t alice, bob, carol, dave, erin;
};

static int setup_world(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	if (w == NULL)
		return -1;
	log_set_level(LOG_ERROR);
	struct store_fixture *f = &w->f;
	fixture_open(f, NULL);
	fixture_domain(f, "example.org");
	fixture_domain(f, "loop.example");
	w->alice = fixture_user(f, "alice", "example.org");
	w->bob = fixture_user(f, "bob", "example.org");
	w->carol = fixture_user(f, "carol", "example.org");
	w->dave = fixture_user(f, "dave", "example.org");
	w->erin = fixture_user(f, "erin", "loop.example");
	fixture_alias(f, "info", "example.org", "alice@example.org");
	fixture_alias(f, "team", "example.org", "alice@example.org");
	fixture_alias(f, "team", "example.org", "carol@example.org");
	fixture_alias(f, "sales", "example.org", "info@example.org");
	fixture_alias(f, "bob", "example.org", "bob@example.org");
	fixture_alias(f, "bob", "example.org", "carol@example.org");
	fixture_alias(f, "fwd", "example.org", "someone@remote.example");
	fixture_alias(f, "mixed", "example.org", "alice@example.org");
	fixture_alias(f, "mixed", "example.org", "someone@remote.example");
	fixture_alias(f, "ghost", "example.org", "nobody@loop.example");
	fixture_alias(f, "upper", "example.org", "Alice@example.org");
	fixture_alias(f, "", "example.org", "dave@example.org");
	fixture_alias(f, "fwd", "loop.example", "someone@remote.example");
	fixture_alias(f, "a", "loop.example", "b@loop.example");
	fixture_alias(f, "b", "loop.example", "a@loop.example");
	fixture_alias(f, "self", "loop.example", "self@loop.example");
	fixture_alias(f, "c", "loop.example", "d@loop.example");
	fixture_alias(f, "c", "loop.example", "erin@loop.example");
	fixture_alias(f, "d", "loop.example", "c@loop.example");
	for (int i = 1; i <= 12; i++) {
		char local[16], target[64];
		snprintf(local, sizeof(local), "deep%d", i);
		if (i < 12)
			snprintf(target, sizeof(target), "deep%d@loop.example", i + 1);
		else
			snprintf(target, sizeof(target), "erin@loop.example");
		fixture_alias(f, local, "loop.example", target);
	}
	*state = w;
	return 0;
}

static int teardown_world(void **state)
{
	struct world *w = *state;
	fixture_close(&w->f);
	free(w);
	return 0;
}

/* Resolve and compare with the expected status and exact set of accounts
 * (the ids terminated by 0; order does not matter). */
static void expect(struct world *w, const char *local, const char *domain, char delim,
		   enum resolve_status want, ...)
{
	struct resolve_result res = {0};
	enum resolve_status st = resolve_recipient(w->f.conn, local, domain, delim, &res);
	if (st != want)
		fail_msg("%s@%s: status %d, want %d", local, domain, st, want);
	int64_t ids[16];
	size_t n = 0;
	va_list ap;
	va_start(ap, want);
	int64_t id;
	while ((id = va_arg(ap, int64_t)) != 0 && n < 16)
		ids[n++] = id;
	va_end(ap);
	if (res.n != n)
		fail_msg("%s@%s: %zu accounts, want %zu", local, domain, res.n, n);
	for (size_t i = 0; i < n; i++) {
		bool found = false;
		for (size_t k = 0; k < res.n; k++)
			found = found || res.accounts[k] == ids[i];
		if (!found)
			fail_msg("%s@%s: account %lld missing", local, domain, (long long)ids[i]);
	}
	resolve_result_free(&res);
}

#define END ((int64_t)0)

static void test_exact_account(void **state)
{
	struct world *w = *state;
	expect(w, "alice", "example.org", '+', RESOLVE_LOCAL, w->alice, END);
	expect(w, "carol", "example.org", 0, RESOLVE_LOCAL, w->carol, END);
	expect(w, "erin", "loop.example", '+', RESOLVE_LOCAL, w->erin, END);
}

static void test_case_insensitive(void **state)
{
	struct world *w = *state;
	expect(w, "Alice", "example.org", '+', RESOLVE_LOCAL, w->alice, END);
	expect(w, "ALICE", "example.org", 0, RESOLVE_LOCAL, w->alice, END);
	expect(w, "InFo", "example.org", '+', RESOLVE_LOCAL, w->alice, END);
	/* An alias target written in another case still reaches the account. */
	expect(w, "upper", "example.org", '+', RESOLVE_LOCAL, w->alice, END);
}

static void test_plus_addressing(void **state)
{
	struct world *w = *state;
	expect(w, "alice+news", "example.org", '+', RESOLVE_LOCAL, w->alice, END);
	expect(w, "Alice+News", "example.org", '+', RESOLVE_LOCAL, w->alice, END);
	expect(w, "alice+", "example.org", '+', RESOLVE_LOCAL, w->alice, END);
	expect(w, "alice+a+b", "example.org", '+', RESOLVE_LOCAL, w->alice, END);
	/* The part before the delimiter may be an alias. */
	expect(w, "info+x", "example.org", '+', RESOLVE_LOCAL, w->alice, END);
	expect(w, "erin+tag", "loop.example", '+', RESOLVE_LOCAL, w->erin, END);
	/* Other delimiters, or none. */
	expect(w, "erin-tag", "loop.example", '-', RESOLVE_LOCAL, w->erin, END);
	expect(w, "erin+tag", "loop.example", '-', RESOLVE_NO_USER, END);
	expect(w, "erin+tag", "loop.example", 0, RESOLVE_NO_USER, END);
	/* Nothing before the delimiter: no account "". */
	expect(w, "+erin", "loop.example", '+', RESOLVE_NO_USER, END);
	/* Without a delimiter the catch-all takes it. */
	expect(w, "alice+news", "example.org", 0, RESOLVE_LOCAL, w->dave, END);
}

static void test_aliases(void **state)
{
	struct world *w = *state;
	expect(w, "info", "example.org", '+', RESOLVE_LOCAL, w->alice, END);
	expect(w, "team", "example.org", '+', RESOLVE_LOCAL, w->alice, w->carol, END);
	expect(w, "sales", "example.org", '+', RESOLVE_LOCAL, w->alice, END); /* chain */
	/* An alias wins over the account of the same name; a target equal to
	 * the alias itself keeps a copy in the account. */
	expect(w, "bob", "example.org", '+', RESOLVE_LOCAL, w->bob, w->carol, END);
	/* A loop that also reaches an account delivers to that account. */
	expect(w, "c", "loop.example", '+', RESOLVE_LOCAL, w->erin, END);
	expect(w, "d", "loop.example", '+', RESOLVE_LOCAL, w->erin, END);
}

static void test_remote_targets(void **state)
{
	struct world *w = *state;
	struct resolve_result res = {0};
	enum resolve_status st = resolve_recipient(w->f.conn, "mixed", "example.org", '+', &res);
	assert_int_equal(st, RESOLVE_LOCAL);
	assert_int_equal(res.n, 1);
	assert_int_equal(res.accounts[0], w->alice);
	assert_int_equal(res.remote_targets, 1);
	resolve_result_free(&res);

	/* Only foreign targets: nobody here (there is no queue yet). */
	st = resolve_recipient(w->f.conn, "fwd", "loop.example", '+', &res);
	assert_int_equal(st, RESOLVE_NO_USER);
	assert_int_equal(res.n, 0);
	assert_int_equal(res.remote_targets, 1);
	resolve_result_free(&res);
}

/* An alias that exists decides, even when it reaches no local account: the
 * catch-all is only for addresses that match nothing. */
static void test_alias_not_overridden_by_catch_all(void **state)
{
	struct world *w = *state;
	struct resolve_result res = {0};
	enum resolve_status st = resolve_recipient(w->f.conn, "fwd", "example.org", '+', &res);
	assert_int_equal(res.n, 0);
	assert_int_equal(st, RESOLVE_NO_USER);
	assert_int_equal(res.remote_targets, 1);
	resolve_result_free(&res);
	expect(w, "ghost", "example.org", '+', RESOLVE_NO_USER, END);
}

static void test_catch_all(void **state)
{
	struct world *w = *state;
	expect(w, "nobody", "example.org", '+', RESOLVE_LOCAL, w->dave, END);
	expect(w, "random.name", "example.org", 0, RESOLVE_LOCAL, w->dave, END);
	/* Not used when an account or alias matches. */
	expect(w, "alice", "example.org", '+', RESOLVE_LOCAL, w->alice, END);
	expect(w, "team", "example.org", '+', RESOLVE_LOCAL, w->alice, w->carol, END);
	/* No catch-all in loop.example. */
	expect(w, "nobody", "loop.example", '+', RESOLVE_NO_USER, END);
}

static void test_loops_terminate(void **state)
{
	struct world *w = *state;
	expect(w, "a", "loop.example", '+', RESOLVE_NO_USER, END);
	expect(w, "b", "loop.example", 0, RESOLVE_NO_USER, END);
	/* A self-reference without an account reaches nobody. */
	expect(w, "self", "loop.example", '+', RESOLVE_NO_USER, END);
	/* Chains deeper than RESOLVE_MAX_DEPTH stop. */
	expect(w, "deep12", "loop.example", '+', RESOLVE_LOCAL, w->erin, END);
	expect(w, "deep5", "loop.example", '+', RESOLVE_LOCAL, w->erin, END); /* 8 hops */
	expect(w, "deep4", "loop.example", '+', RESOLVE_NO_USER, END);         /* 9 hops */
	expect(w, "deep1", "loop.example", '+', RESOLVE_NO_USER, END);
}

static void test_unknown_and_foreign(void **state)
{
	struct world *w = *state;
	expect(w, "zed", "loop.example", '+', RESOLVE_NO_USER, END);
	expect(w, "alice", "loop.example", '+', RESOLVE_NO_USER, END);
	expect(w, "alice", "remote.example", '+', RESOLVE_NOT_LOCAL, END);
	expect(w, "alice", "org", '+', RESOLVE_NOT_LOCAL, END);
	expect(w, "alice", "sub.example.org", '+', RESOLVE_NOT_LOCAL, END);
}

/* Results accumulate over recipients without duplicates. */
static void test_accumulates(void **state)
{
	struct world *w = *state;
	struct resolve_result res = {0};
	assert_int_equal(resolve_recipient(w->f.conn, "alice", "example.org", '+', &res),
			 RESOLVE_LOCAL);
	assert_int_equal(resolve_recipient(w->f.conn, "info", "example.org", '+', &res),
			 RESOLVE_LOCAL);
	assert_int_equal(resolve_recipient(w->f.conn, "alice+x", "example.org", '+', &res),
			 RESOLVE_LOCAL);
	assert_int_equal(res.n, 1);
	assert_int_equal(resolve_recipient(w->f.conn, "team", "example.org", '+', &res),
			 RESOLVE_LOCAL);
	assert_int_equal(res.n, 2);
	assert_int_equal(res.accounts[0], w->alice);
	assert_int_equal(res.accounts[1], w->carol);
	/* A failed lookup leaves what is there. */
	assert_int_equal(resolve_recipient(w->f.conn, "x", "remote.example", '+', &res),
			 RESOLVE_NOT_LOCAL);
	assert_int_equal(res.n, 2);
	resolve_result_free(&res);
	assert_null(res.accounts);
	assert_int_equal(res.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_account),
		cmocka_unit_test(test_case_insensitive),
		cmocka_unit_test(test_plus_addressing),
		cmocka_unit_test(test_aliases),
		cmocka_unit_test(test_remote_targets),
		cmocka_unit_test(test_alias_not_overridden_by_catch_all),
		cmocka_unit_test(test_catch_all),
		cmocka_unit_test(test_loops_terminate),
		cmocka_unit_test(test_unknown_and_foreign),
		cmocka_unit_test(test_accumulates),
	};
	return cmocka_run_group_tests_name("resolve", tests, setup_world, teardown_world);
}
