/* test_buf.c - unit tests for the bounded byte buffer (core/buf.c): the hard
 * maximum (a refused append leaves the buffer exactly as it was), printf
 * growth, reserve/commit, consume and binary safety. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"

/* The buffer's visible state, to check that a refused call changed nothing. */
struct snapshot {
	char *data;
	size_t len, cap, max;
	char *copy;
};

static void snap(const struct buf *b, struct snapshot *s)
{
	s->data = b->data;
	s->len = b->len;
	s->cap = b->cap;
	s->max = b->max;
	s->copy = malloc(b->len + 1);
	assert_non_null(s->copy);
	if (b->len > 0)
		memcpy(s->copy, b->data, b->len);
}

static void assert_unchanged(const struct buf *b, struct snapshot *s)
{
	assert_ptr_equal(b->data, s->data);
	assert_int_equal(b->len, s->len);
	assert_int_equal(b->cap, s->cap);
	assert_int_equal(b->max, s->max);
	if (b->len > 0)
		assert_memory_equal(b->data, s->copy, b->len);
	if (b->data != NULL)
		assert_int_equal(b->data[b->len], '\0');
	free(s->copy);
	s->copy = NULL;
}

static void test_init_empty(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 100);
	assert_int_equal(b.len, 0);
	assert_int_equal(buf_room(&b), 100);
	buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);

	/* 0 means no limit. */
	buf_init(&b, 0);
	assert_true(buf_room(&b) >= SIZE_MAX / 2);
	assert_int_equal(buf_append_str(&b, "x"), 0);
	buf_free(&b);

	/* Appending nothing still gives a terminated buffer. */
	buf_init(&b, 10);
	assert_int_equal(buf_append(&b, NULL, 0), 0);
	assert_non_null(b.data);
	assert_string_equal(b.data, "");
	buf_free(&b);
	buf_free(&b); /* twice is harmless */
}

static void test_append_within_max(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 10);
	assert_int_equal(buf_append_str(&b, "hello"), 0);
	assert_int_equal(b.len, 5);
	assert_string_equal(b.data, "hello");
	assert_int_equal(buf_room(&b), 5);
	assert_int_equal(buf_append(&b, "world", 5), 0);
	assert_int_equal(b.len, 10);
	assert_string_equal(b.data, "helloworld");
	assert_int_equal(buf_room(&b), 0);
	/* Nothing more fits, but nothing is always fine. */
	assert_int_equal(buf_append(&b, "", 0), 0);
	assert_int_equal(b.len, 10);
	buf_free(&b);
}

static void test_append_beyond_max(void **state)
{
	(void)state;
	struct buf b;
	struct snapshot s;
	buf_init(&b, 10);

	/* Refused on an empty buffer: no allocation happens. */
	snap(&b, &s);
	assert_int_equal(buf_append_str(&b, "01234567890"), -1);
	assert_unchanged(&b, &s);

	assert_int_equal(buf_append_str(&b, "0123456"), 0);
	snap(&b, &s);
	assert_int_equal(buf_append_str(&b, "7890"), -1); /* 11 > 10 */
	assert_unchanged(&b, &s);
	assert_string_equal(b.data, "0123456");
	assert_int_equal(buf_append_str(&b, "789"), 0); /* exactly 10 */
	snap(&b, &s);
	assert_int_equal(buf_append(&b, "x", 1), -1);
	assert_unchanged(&b, &s);
	snap(&b, &s);
	assert_null(buf_reserve(&b, 1));
	assert_unchanged(&b, &s);
	assert_string_equal(b.data, "0123456789");
	buf_free(&b);

	/* Lengths that would overflow size_t arithmetic are refused too. */
	buf_init(&b, 0);
	assert_int_equal(buf_append_str(&b, "abc"), 0);
	snap(&b, &s);
	assert_int_equal(buf_append(&b, "x", SIZE_MAX), -1);
	assert_null(buf_reserve(&b, SIZE_MAX));
	assert_null(buf_reserve(&b, SIZE_MAX - 2));
	assert_unchanged(&b, &s);
	buf_free(&b);

	/* Even with an explicit maximum of SIZE_MAX (the size computation
	 * for the terminator must not wrap). */
	buf_init(&b, SIZE_MAX);
	snap(&b, &s);
	assert_null(buf_reserve(&b, SIZE_MAX));
	assert_unchanged(&b, &s);
	buf_free(&b);

	/* max of 1 */
	buf_init(&b, 1);
	assert_int_equal(buf_append(&b, "a", 1), 0);
	assert_int_equal(buf_append(&b, "b", 1), -1);
	assert_string_equal(b.data, "a");
	buf_free(&b);
}

static void test_growth_keeps_content(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 0);
	char expect[10000];
	for (int i = 0; i < 10000; i++) {
		char c = (char)('a' + i % 26);
		expect[i] = c;
		assert_int_equal(buf_append(&b, &c, 1), 0);
	}
	assert_int_equal(b.len, 10000);
	assert_true(b.cap >= b.len);
	assert_memory_equal(b.data, expect, sizeof(expect));
	assert_int_equal(b.data[b.len], '\0');
	buf_free(&b);
}

static void test_binary_safe(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 64);
	static const char bin[] = {'a', '\0', 'b', '\0', '\xff', '\r', '\n'};
	assert_int_equal(buf_append(&b, bin, sizeof(bin)), 0);
	assert_int_equal(b.len, sizeof(bin));
	assert_memory_equal(b.data, bin, sizeof(bin));
	assert_int_equal(b.data[b.len], '\0');
	buf_consume(&b, 2);
	assert_int_equal(b.len, sizeof(bin) - 2);
	assert_memory_equal(b.data, bin + 2, sizeof(bin) - 2);
	buf_free(&b);
}

static void test_printf(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 0);
	assert_int_equal(buf_printf(&b, "%d-%s", 42, "x"), 0);
	assert_string_equal(b.data, "42-x");
	assert_int_equal(b.len, 4);
	assert_int_equal(buf_printf(&b, "%s", ""), 0);
	assert_int_equal(b.len, 4);

	/* Longer than the internal 256-byte fast path. */
	char big[1000];
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(buf_printf(&b, "<%s>%05u", big, 7u), 0);
	assert_int_equal(b.len, 4 + 1 + 999 + 1 + 5);
	assert_memory_equal(b.data, "42-x<", 5);
	assert_memory_equal(b.data + 5, big, 999);
	assert_string_equal(b.data + 5 + 999, ">00007");
	assert_int_equal(b.data[b.len], '\0');

	/* Exactly at the boundary of the fast path. */
	buf_reset(&b);
	memset(big, 'y', 256);
	big[255] = '\0';
	assert_int_equal(buf_printf(&b, "%s", big), 0); /* 255 chars */
	assert_int_equal(b.len, 255);
	buf_reset(&b);
	big[255] = 'y';
	big[256] = '\0';
	assert_int_equal(buf_printf(&b, "%s", big), 0); /* 256 chars */
	assert_int_equal(b.len, 256);
	assert_int_equal(b.data[256], '\0');
	assert_int_equal(strlen(b.data), 256);
	buf_free(&b);
}

static void test_printf_beyond_max(void **state)
{
	(void)state;
	struct buf b;
	struct snapshot s;
	buf_init(&b, 300);
	assert_int_equal(buf_printf(&b, "%s", "head:"), 0);

	/* Short output that does not fit. */
	char fill[400];
	memset(fill, 'f', 294);
	fill[294] = '\0';
	assert_int_equal(buf_printf(&b, "%s", fill), 0); /* 299 */
	snap(&b, &s);
	assert_int_equal(buf_printf(&b, "%s", "ab"), -1);
	assert_unchanged(&b, &s);
	assert_int_equal(buf_printf(&b, "%c", 'z'), 0); /* 300 */
	assert_int_equal(b.len, 300);
	buf_free(&b);

	/* Long output (beyond the fast path) that does not fit. */
	buf_init(&b, 300);
	assert_int_equal(buf_append_str(&b, "head:"), 0);
	memset(fill, 'g', 399);
	fill[399] = '\0';
	snap(&b, &s);
	assert_int_equal(buf_printf(&b, "%s", fill), -1);
	assert_unchanged(&b, &s);
	assert_string_equal(b.data, "head:");
	buf_free(&b);
}

static void test_reserve_commit(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 16);
	assert_int_equal(buf_append_str(&b, "ab"), 0);
	char *p = buf_reserve(&b, 14);
	assert_non_null(p);
	assert_ptr_equal(p, b.data + 2);
	memcpy(p, "cdef", 4);
	buf_commit(&b, 4);
	assert_int_equal(b.len, 6);
	assert_string_equal(b.data, "abcdef");
	assert_null(buf_reserve(&b, 11));
	assert_non_null(buf_reserve(&b, 10));
	buf_commit(&b, 0);
	assert_string_equal(b.data, "abcdef");
	buf_free(&b);
}

static void test_consume(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 0);
	buf_consume(&b, 0); /* on a never-used buffer */
	buf_consume(&b, 5);
	assert_int_equal(b.len, 0);

	assert_int_equal(buf_append_str(&b, "0123456789"), 0);
	buf_consume(&b, 0);
	assert_string_equal(b.data, "0123456789");
	buf_consume(&b, 3);
	assert_int_equal(b.len, 7);
	assert_string_equal(b.data, "3456789");
	buf_consume(&b, 7);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	assert_int_equal(buf_append_str(&b, "abc"), 0);
	buf_consume(&b, 100); /* more than there is */
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	/* Room comes back after consuming. */
	buf_free(&b);
	buf_init(&b, 4);
	assert_int_equal(buf_append_str(&b, "abcd"), 0);
	assert_int_equal(buf_append_str(&b, "e"), -1);
	buf_consume(&b, 1);
	assert_int_equal(buf_room(&b), 1);
	assert_int_equal(buf_append_str(&b, "e"), 0);
	assert_string_equal(b.data, "bcde");
	buf_free(&b);
}

static void test_reset(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 8);
	buf_reset(&b); /* never used */
	assert_int_equal(buf_append_str(&b, "12345678"), 0);
	size_t cap = b.cap;
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	assert_int_equal(b.cap, cap);
	assert_int_equal(buf_room(&b), 8);
	assert_int_equal(buf_append_str(&b, "abcdefgh"), 0);
	assert_string_equal(b.data, "abcdefgh");
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_empty),
		cmocka_unit_test(test_append_within_max),
		cmocka_unit_test(test_append_beyond_max),
		cmocka_unit_test(test_growth_keeps_content),
		cmocka_unit_test(test_binary_safe),
		cmocka_unit_test(test_printf),
		cmocka_unit_test(test_printf_beyond_max),
		cmocka_unit_test(test_reserve_commit),
		cmocka_unit_test(test_consume),
		cmocka_unit_test(test_reset),
	};
	return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
