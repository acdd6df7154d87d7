/* test_imap_seqset.c - unit tests for IMAP sequence sets (imap_seqset_*):
 * parsing and its refusals, normalisation, '*' resolution, membership,
 * counting, formatting, and iteration against a mailbox's UIDs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "imap/imap_seqset.h"

/* Parse s (flags), optionally resolve with star (star < 0: don't), and
 * compare the formatted result. */
static void expect_set(const char *s, unsigned flags, long long star, const char *want)
{
	struct imap_seqset set;
	const char *why = NULL;
	if (imap_seqset_parse(s, strlen(s), flags, &set, &why) < 0)
		fail_msg("\"%s\": refused: %s", s, why);
	if (star >= 0)
		imap_seqset_resolve(&set, (uint32_t)star);
	struct buf out;
	buf_init(&out, 0);
	assert_int_equal(imap_seqset_format(&set, &out), 0);
	if (strcmp(out.data != NULL ? out.data : "", want) != 0)
		fail_msg("\"%s\" (star %lld): got \"%s\", want \"%s\"", s, star,
			 out.data != NULL ? out.data : "", want);
	buf_free(&out);
	imap_seqset_free(&set);
}

static void expect_bad(const char *s, unsigned flags)
{
	struct imap_seqset set;
	const char *why = NULL;
	if (imap_seqset_parse(s, strlen(s), flags, &set, &why) == 0)
		fail_msg("\"%s\": accepted", s);
	assert_non_null(why);
	imap_seqset_free(&set);
}

static void test_parse(void **state)
{
	(void)state;
	expect_set("1", 0, -1, "1");
	expect_set("2:4", 0, -1, "2:4");
	expect_set("4:2", 0, -1, "2:4");
	expect_set("*", 0, -1, "*");
	expect_set("5:*", 0, -1, "5:*");
	expect_set("*:5", 0, -1, "*:5");
	expect_set("*:*", 0, -1, "*");
	expect_set("1,3:5,7:*", 0, -1, "1,3:5,7:*");
	expect_set("1:4294967295", 0, -1, "1:4294967295");
	expect_set("4294967295", 0, -1, "4294967295");
	expect_set("007", 0, -1, "7");
	expect_set("$", IMAP_SEQSET_ALLOW_SEARCHRES, -1, "$");
	/* sets without '*' come back sorted and merged */
	expect_set("1,2,3", 0, -1, "1:3");
	expect_set("5,1:3,2", 0, -1, "1:3,5");
	expect_set("10:20,15:25,1,26", 0, -1, "1,10:26");
	expect_set("1:4294967295,5", 0, -1, "1:4294967295");
	expect_set("4294967295,4294967294,1", 0, -1, "1,4294967294:4294967295");
	expect_set("3,1", 0, -1, "1,3");
}

static void test_parse_bad(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "",	   "0",	    "0:5",  "5:0",  "00",  "4294967296", "99999999999999999999",
	    ",1",  "1,",    "1,,2", "1::2", ":",   "1:",	 ":1",
	    "a",   "1 2",   "$,1",  "1,$",  "**",  "-1",	 "+1",
	    "1.5", "1:*:2", "*5",   "5*",   "1;2", "1:2,",	 " 1",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		expect_bad(bad[i], 0);
		expect_bad(bad[i], IMAP_SEQSET_ALLOW_SEARCHRES);
	}
	expect_bad("$", 0);
	/* not NUL-terminated input: only len bytes are read */
	struct imap_seqset set;
	const char *why;
	assert_int_equal(imap_seqset_parse("12x", 2, 0, &set, &why), 0);
	assert_int_equal(set.count, 1);
	assert_int_equal(set.ranges[0].lo, 12);
	imap_seqset_free(&set);
}

static void test_resolve(void **state)
{
	(void)state;
	expect_set("5:*", 0, 3, "3:5");
	expect_set("5:*", 0, 10, "5:10");
	expect_set("*", 0, 10, "10");
	expect_set("*:*", 0, 7, "7");
	expect_set("1,*", 0, 3, "1,3");
	expect_set("3:1,*:2", 0, 5, "1:5");
	expect_set("1:*", 0, 4294967295ll, "1:4294967295");
	/* empty mailbox: '*' matches nothing, "n:*" is "1:n" */
	expect_set("*", 0, 0, "");
	expect_set("*:*", 0, 0, "");
	expect_set("5:*", 0, 0, "1:5");
	expect_set("1,*", 0, 0, "1");
	/* resolving a set without '*' changes nothing */
	expect_set("2,4:6", 0, 100, "2,4:6");
	/* "$" is the session's to substitute */
	struct imap_seqset set;
	const char *why;
	assert_int_equal(imap_seqset_parse("$", 1, IMAP_SEQSET_ALLOW_SEARCHRES, &set, &why), 0);
	assert_true(set.searchres);
	assert_false(set.resolved);
	imap_seqset_resolve(&set, 10);
	assert_true(set.searchres);
	assert_int_equal(set.count, 0);
	imap_seqset_free(&set);
}

static void test_queries(void **state)
{
	(void)state;
	struct imap_seqset set;
	const char *why;
	assert_int_equal(imap_seqset_parse("7:10,1:3,5", 5, 0, &set, &why), -1);
	imap_seqset_free(&set);
	assert_int_equal(imap_seqset_parse("7:10,1:3,5", 10, 0, &set, &why), 0);
	assert_true(set.resolved);
	static const uint32_t in[] = {1, 2, 3, 5, 7, 8, 9, 10};
	static const uint32_t out[] = {4, 6, 11, 0, 4294967295u, 100};
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++)
		assert_true(imap_seqset_contains(&set, in[i]));
	for (size_t i = 0; i < sizeof(out) / sizeof(out[0]); i++)
		assert_false(imap_seqset_contains(&set, out[i]));
	assert_int_equal(imap_seqset_count(&set), 8);
	assert_int_equal(imap_seqset_min(&set), 1);
	assert_int_equal(imap_seqset_max(&set), 10);
	imap_seqset_free(&set);

	assert_int_equal(imap_seqset_parse("1:4294967295", 12, 0, &set, &why), 0);
	assert_true(imap_seqset_contains(&set, 4294967295u));
	assert_true(imap_seqset_contains(&set, 1));
	assert_false(imap_seqset_contains(&set, 0));
	assert_int_equal(imap_seqset_count(&set), 4294967295ull);
	imap_seqset_free(&set);

	/* empty */
	imap_seqset_init(&set);
	assert_false(imap_seqset_contains(&set, 1));
	assert_int_equal(imap_seqset_count(&set), 0);
	assert_int_equal(imap_seqset_min(&set), 0);
	assert_int_equal(imap_seqset_max(&set), 0);
	imap_seqset_free(&set);
	imap_seqset_free(&set); /* twice is fine */
}

static void test_add_normalize(void **state)
{
	(void)state;
	struct imap_seqset set;
	imap_seqset_init(&set);
	for (uint32_t i = 100; i >= 1; i--)
		imap_seqset_add(&set, i, i);
	imap_seqset_add(&set, 4294967295u, 4294967295u);
	imap_seqset_add(&set, 200, 300);
	imap_seqset_add(&set, 301, 301);
	assert_false(set.resolved);
	imap_seqset_normalize(&set);
	assert_true(set.resolved);
	struct buf out;
	buf_init(&out, 0);
	imap_seqset_format(&set, &out);
	assert_string_equal(out.data, "1:100,200:301,4294967295");
	buf_free(&out);
	/* a set holding '*' is left to resolve() */
	imap_seqset_add(&set, 5, IMAP_SEQ_STAR);
	size_t count = set.count;
	imap_seqset_normalize(&set);
	assert_false(set.resolved);
	assert_int_equal(set.count, count);
	imap_seqset_resolve(&set, 1000);
	assert_true(set.resolved);
	buf_init(&out, 0);
	imap_seqset_format(&set, &out);
	assert_string_equal(out.data, "1:1000,4294967295");
	buf_free(&out);
	imap_seqset_free(&set);
}

static void collect(const char *s, long long star, const uint32_t *uids, size_t n, struct buf *out)
{
	struct imap_seqset set;
	const char *why;
	assert_int_equal(imap_seqset_parse(s, strlen(s), 0, &set, &why), 0);
	if (star >= 0)
		imap_seqset_resolve(&set, (uint32_t)star);
	struct imap_seqset_iter it;
	imap_seqset_iter_init(&it, &set, uids, n);
	uint32_t num;
	size_t idx;
	while (imap_seqset_iter_next(&it, &num, &idx)) {
		if (uids != NULL)
			assert_int_equal(uids[idx], num);
		else
			assert_int_equal(idx + 1, num);
		buf_printf(out, "%s%u@%zu", out->len > 0 ? " " : "", (unsigned)num, idx);
	}
	assert_false(imap_seqset_iter_next(&it, &num, &idx));
	imap_seqset_free(&set);
}

static void expect_iter(const char *s, long long star, const uint32_t *uids, size_t n,
			const char *want)
{
	struct buf out;
	buf_init(&out, 0);
	collect(s, star, uids, n, &out);
	if (strcmp(out.data != NULL ? out.data : "", want) != 0)
		fail_msg("\"%s\": got \"%s\", want \"%s\"", s, out.data != NULL ? out.data : "",
			 want);
	buf_free(&out);
}

static void test_iter(void **state)
{
	(void)state;
	static const uint32_t uids[] = {2, 3, 5, 8, 13, 21, 34};
	size_t n = sizeof(uids) / sizeof(uids[0]);
	expect_iter("1:4,8:20,34:*", 34, uids, n, "2@0 3@1 8@3 13@4 34@6");
	expect_iter("1:*", 34, uids, n, "2@0 3@1 5@2 8@3 13@4 21@5 34@6");
	expect_iter("1:4294967295", -1, uids, n, "2@0 3@1 5@2 8@3 13@4 21@5 34@6");
	expect_iter("35:4294967295", -1, uids, n, "");
	expect_iter("1", -1, uids, n, "");
	expect_iter("21", -1, uids, n, "21@5");
	/* UID n:* with n beyond the last UID still matches the last (RFC 9051) */
	expect_iter("100:*", 34, uids, n, "34@6");
	expect_iter("*", 34, uids, n, "34@6");
	/* empty mailbox */
	expect_iter("1:*", 0, uids, 0, "");
	expect_iter("1:*", 0, NULL, 0, "");
	/* sequence numbers: NULL means 1..count */
	expect_iter("3:5,9:100", -1, NULL, 10, "3@2 4@3 5@4 9@8 10@9");
	expect_iter("1:4294967295", -1, NULL, 3, "1@0 2@1 3@2");
	expect_iter("4294967295", -1, NULL, 3, "");
	expect_iter("2,*", 3, NULL, 3, "2@1 3@2");

	/* wide ranges over a big mailbox cost per match, not per number */
	size_t big = 200000;
	uint32_t *many = malloc(big * sizeof(*many));
	assert_non_null(many);
	for (size_t i = 0; i < big; i++)
		many[i] = (uint32_t)(i * 20000 + 7);
	struct imap_seqset set;
	const char *why;
	assert_int_equal(imap_seqset_parse("1:4294967295", 12, 0, &set, &why), 0);
	struct imap_seqset_iter it;
	imap_seqset_iter_init(&it, &set, many, big);
	uint32_t num;
	size_t idx, seen = 0;
	while (imap_seqset_iter_next(&it, &num, &idx)) {
		assert_int_equal(num, many[idx]);
		assert_int_equal(idx, seen);
		seen++;
	}
	assert_int_equal(seen, big);
	imap_seqset_free(&set);
	free(many);
}

static void test_format(void **state)
{
	(void)state;
	struct imap_seqset set;
	imap_seqset_init(&set);
	struct buf out;
	buf_init(&out, 3);
	imap_seqset_add(&set, 1, 3);
	imap_seqset_add(&set, 5, IMAP_SEQ_STAR);
	assert_int_equal(imap_seqset_format(&set, &out), -1); /* full */
	buf_free(&out);
	buf_init(&out, 0);
	assert_int_equal(imap_seqset_format(&set, &out), 0);
	assert_string_equal(out.data, "1:3,5:*");
	buf_free(&out);
	imap_seqset_free(&set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),	  cmocka_unit_test(test_parse_bad),
	    cmocka_unit_test(test_resolve),	  cmocka_unit_test(test_queries),
	    cmocka_unit_test(test_add_normalize), cmocka_unit_test(test_iter),
	    cmocka_unit_test(test_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
