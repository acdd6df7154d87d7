/* test_utf8.c - unit tests for strict UTF-8 validation (core/utf8.c):
 * RFC 3629 boundaries, overlongs, surrogates, the U+10FFFF ceiling and
 * truncated sequences (vectors after Markus Kuhn's UTF-8 stress test). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/utf8.h"

/* Validate `len` bytes from a heap copy of exactly that size, so reads
 * beyond the end are caught. */
static bool valid_n(const char *s, size_t len)
{
	char *copy = malloc(len == 0 ? 1 : len);
	assert_non_null(copy);
	memcpy(copy, s, len);
	bool ok = utf8_valid(copy, len);
	free(copy);
	return ok;
}

static size_t seq_len_n(const char *s, size_t len)
{
	unsigned char *copy = malloc(len == 0 ? 1 : len);
	assert_non_null(copy);
	memcpy(copy, s, len);
	size_t n = utf8_seq_len(copy, len);
	free(copy);
	return n;
}

#define VALID(lit) valid_n(lit, sizeof(lit) - 1)
#define SEQ(lit) seq_len_n(lit, sizeof(lit) - 1)

static void test_valid_text(void **state)
{
	(void)state;
	assert_true(valid_n("", 0));
	assert_true(VALID("plain ASCII, with\ttab\r\n"));
	assert_true(VALID("\x00\x7f"));                                 /* NUL and DEL are ASCII */
	assert_true(VALID("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5")); /* κόσμε */
	assert_true(VALID("b\xc3\xbc" "cher"));
	assert_true(VALID("\xe2\x82\xac"));     /* € */
	assert_true(VALID("\xf0\x9f\x98\x80")); /* U+1F600 */
	assert_true(VALID("\xe7\x94\xa8\xe6\x88\xb7"));
}

static void test_boundaries(void **state)
{
	(void)state;
	/* First and last code point of each length. */
	assert_true(VALID("\xc2\x80"));         /* U+0080 */
	assert_true(VALID("\xdf\xbf"));         /* U+07FF */
	assert_true(VALID("\xe0\xa0\x80"));     /* U+0800 */
	assert_true(VALID("\xef\xbf\xbf"));     /* U+FFFF */
	assert_true(VALID("\xf0\x90\x80\x80")); /* U+10000 */
	assert_true(VALID("\xf4\x8f\xbf\xbf")); /* U+10FFFF */
	/* Around the surrogates. */
	assert_true(VALID("\xed\x9f\xbf"));  /* U+D7FF */
	assert_true(VALID("\xee\x80\x80"));  /* U+E000 */
	assert_true(VALID("\xef\xbf\xbd"));  /* U+FFFD */
	/* Beyond U+10FFFF. */
	assert_false(VALID("\xf4\x90\x80\x80")); /* U+110000 */
	assert_false(VALID("\xf5\x80\x80\x80"));
	assert_false(VALID("\xf7\xbf\xbf\xbf"));
	assert_false(VALID("\xf8\x88\x80\x80\x80")); /* old 5-byte form */
	assert_false(VALID("\xfc\x84\x80\x80\x80\x80"));
	assert_false(VALID("\xfe"));
	assert_false(VALID("\xff"));
}

static void test_overlongs(void **state)
{
	(void)state;
	assert_false(VALID("\xc0\xaf"));             /* '/' */
	assert_false(VALID("\xc1\xbf"));
	assert_false(VALID("\xc0\x80"));             /* NUL, "modified UTF-8" */
	assert_false(VALID("\xe0\x80\xaf"));
	assert_false(VALID("\xe0\x9f\xbf"));         /* largest 3-byte overlong */
	assert_false(VALID("\xf0\x80\x80\xaf"));
	assert_false(VALID("\xf0\x8f\xbf\xbf"));     /* largest 4-byte overlong */
}

static void test_surrogates(void **state)
{
	(void)state;
	assert_false(VALID("\xed\xa0\x80")); /* U+D800 */
	assert_false(VALID("\xed\xad\xbf")); /* U+DB7F */
	assert_false(VALID("\xed\xb0\x80")); /* U+DC00 */
	assert_false(VALID("\xed\xbf\xbf")); /* U+DFFF */
	assert_false(VALID("\xed\xa0\x80\xed\xb0\x80")); /* a CESU-8 pair */
}

static void test_truncated_and_broken(void **state)
{
	(void)state;
	assert_false(VALID("\xc3"));
	assert_false(VALID("\xe2\x82"));
	assert_false(VALID("\xf0\x9f\x98"));
	assert_false(VALID("abc\xf0\x9f"));
	assert_false(VALID("\x80"));         /* lone continuation bytes */
	assert_false(VALID("\xbf"));
	assert_false(VALID("a\x80" "b"));
	assert_false(VALID("\xc3\x28"));     /* bad second byte */
	assert_false(VALID("\xe2\x28\xa1"));
	assert_false(VALID("\xe2\x82\x28"));
	assert_false(VALID("\xf0\x28\x8c\xbc"));
	assert_false(VALID("\xf0\x9f\x98\x28"));
	assert_false(VALID("\xc3\xc3\xbc"));  /* a start byte where a continuation belongs */
	/* An otherwise valid sequence split by the length. */
	assert_false(valid_n("\xe2\x82\xac", 2));
	assert_true(valid_n("\xe2\x82\xac", 3));
}

static void test_seq_len(void **state)
{
	(void)state;
	assert_int_equal(seq_len_n("", 0), 0);
	assert_int_equal(SEQ("a"), 1);
	assert_int_equal(SEQ("\x00"), 1);
	assert_int_equal(SEQ("\x7f"), 1);
	assert_int_equal(SEQ("\xc3\xbc"), 2);
	assert_int_equal(SEQ("\xc3\xbcxyz"), 2);
	assert_int_equal(SEQ("\xe2\x82\xac"), 3);
	assert_int_equal(SEQ("\xf0\x9f\x98\x80"), 4);
	assert_int_equal(SEQ("\xc3"), 0);
	assert_int_equal(SEQ("\xf0\x9f\x98"), 0);
	assert_int_equal(SEQ("\x80"), 0);
	assert_int_equal(SEQ("\xc0\xaf"), 0);
	assert_int_equal(SEQ("\xed\xa0\x80"), 0);
	assert_int_equal(SEQ("\xf4\x90\x80\x80"), 0);
	assert_int_equal(SEQ("\xff"), 0);
	/* Only the first sequence is looked at. */
	assert_int_equal(SEQ("a\xff"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_text),
		cmocka_unit_test(test_boundaries),
		cmocka_unit_test(test_overlongs),
		cmocka_unit_test(test_surrogates),
		cmocka_unit_test(test_truncated_and_broken),
		cmocka_unit_test(test_seq_len),
	};
	return cmocka_run_group_tests_name("utf8", tests, NULL, NULL);
}
