/* test_retry.c - the queue's retry policy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "queue/retry.h"

static void test_parse(void **state)
{
	(void)state;
	struct retry_policy p;
	assert_int_equal(retry_parse("300,600, 1200", &p), 0);
	assert_int_equal(p.n, 3);
	assert_int_equal(p.delays[0], 300);
	assert_int_equal(p.delays[2], 1200);
	assert_int_equal(retry_parse("1", &p), 0);
	assert_int_equal(p.n, 1);
	assert_int_equal(retry_parse("", &p), -1);
	assert_int_equal(retry_parse(",,", &p), -1);
	assert_int_equal(retry_parse("0", &p), -1);
	assert_int_equal(retry_parse("10,x", &p), -1);
	assert_int_equal(retry_parse("10;20", &p), -1);
	assert_int_equal(retry_parse("99999999", &p), -1);
}

static void test_backoff_and_expiry(void **state)
{
	(void)state;
	struct retry_policy p = {.lifetime = 10000, .delay_warning = 500};
	assert_int_equal(retry_parse("100,200,400", &p), 0);
	int64_t next = 0;
	/* created at 1000 */
	assert_int_equal(retry_next(&p, 1, 1000, 1000, &next), RETRY_LATER);
	assert_int_equal(next, 1100);
	assert_int_equal(retry_next(&p, 2, 1000, 1100, &next), RETRY_LATER);
	assert_int_equal(next, 1300);
	assert_int_equal(retry_next(&p, 3, 1000, 1300, &next), RETRY_LATER);
	assert_int_equal(next, 1700);
	/* the last step repeats */
	assert_int_equal(retry_next(&p, 9, 1000, 5000, &next), RETRY_LATER);
	assert_int_equal(next, 5400);
	/* never after the end of life: one last try exactly then */
	assert_int_equal(retry_next(&p, 9, 1000, 10900, &next), RETRY_LATER);
	assert_int_equal(next, 11000);
	assert_int_equal(retry_next(&p, 10, 1000, 11000, &next), RETRY_EXPIRED);
	/* delay warnings */
	assert_false(retry_warn_due(&p, 1000, 1499, 0));
	assert_true(retry_warn_due(&p, 1000, 1500, 0));
	assert_false(retry_warn_due(&p, 1000, 1500, 1));
	p.delay_warning = 0;
	assert_false(retry_warn_due(&p, 1000, 99999, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_backoff_and_expiry),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
