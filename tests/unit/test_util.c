/* test_util.c - unit tests for core/util.c: parse_u64 bounds, escape_for_log,
 * ASCII case helpers, random identifiers, RFC 5322 dates and the durable
 * file helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/util.h"

static int u64(const char *s, uint64_t *v)
{
	return parse_u64(s, strlen(s), v);
}

static void test_parse_u64(void **state)
{
	(void)state;
	uint64_t v;
	assert_int_equal(u64("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(u64("1", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(u64("1234567890", &v), 0);
	assert_int_equal(v, 1234567890u);
	assert_int_equal(u64("4294967296", &v), 0); /* past 32 bits */
	assert_int_equal(v, 4294967296ull);
	assert_int_equal(u64("18446744073709551615", &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(u64("18446744073709551614", &v), 0);
	assert_true(v == UINT64_MAX - 1);
	assert_int_equal(u64("00000000000000000042", &v), 0); /* 20 digits */
	assert_int_equal(v, 42);
	assert_int_equal(u64("1844674407370955161", &v), 0); /* 19 digits */
	assert_true(v == UINT64_MAX / 10);
}

static void test_parse_u64_errors(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"",
		"18446744073709551616", /* UINT64_MAX + 1 */
		"18446744073709551620",
		"18446744073709551700",
		"19000000000000000000",
		"99999999999999999999",
		"100000000000000000000",
		"-1",
		"+1",
		" 1",
		"1 ",
		"1a",
		"a1",
		"0x10",
		"1.0",
		"1e3",
		"١", /* ARABIC-INDIC DIGIT ONE */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t v = 777;
		if (u64(bad[i], &v) != -1)
			fail_msg("\"%s\" accepted as %llu", bad[i], (unsigned long long)v);
		/* The output is left alone on failure. */
		assert_int_equal(v, 777);
	}
	/* A NUL byte inside the given length is not a digit. */
	uint64_t v;
	assert_int_equal(parse_u64("1\0" "2", 3, &v), -1);
}

static void test_parse_u64_length(void **state)
{
	(void)state;
	uint64_t v;
	/* Only `len` bytes are read; the rest may be anything. */
	assert_int_equal(parse_u64("123abc", 3, &v), 0);
	assert_int_equal(v, 123);
	assert_int_equal(parse_u64("123", 0, &v), -1);
	assert_int_equal(parse_u64("18446744073709551615999", 20, &v), 0);
	assert_true(v == UINT64_MAX);
}

static void escaped(const void *data, size_t len, size_t limit, const char *want)
{
	struct buf b;
	buf_init(&b, 0);
	escape_for_log(&b, data, len, limit);
	const char *got = b.data != NULL ? b.data : ""; /* nothing appended */
	if (strcmp(got, want) != 0 || b.len != strlen(want))
		fail_msg("escaped to \"%s\", want \"%s\"", got, want);
	buf_free(&b);
}

static void test_escape_for_log(void **state)
{
	(void)state;
	escaped("hello world", 11, 100, "hello world");
	escaped("", 0, 100, "");
	escaped("a\\b", 3, 100, "a\\\\b");
	escaped("\r\n", 2, 100, "\\x0d\\x0a");
	escaped("\x00", 1, 100, "\\x00");
	escaped("\x7f\x1b\xff\x80", 4, 100, "\\x7f\\x1b\\xff\\x80");
	escaped("tab\there", 8, 100, "tab\\x09here");
	escaped("\"quoted\" ~!", 11, 100, "\"quoted\" ~!");
	escaped("b\xc3\xbc" "cher", 7, 100, "b\\xc3\\xbccher");
	/* Log injection: a fake second line stays on one line. */
	escaped("x\r\n2026-01-01 info smtp: fake", 29, 100,
		"x\\x0d\\x0a2026-01-01 info smtp: fake");
	/* The limit cuts and marks the cut. */
	escaped("abcdef", 6, 3, "abc...");
	escaped("abcdef", 6, 6, "abcdef");
	escaped("abcdef", 6, 7, "abcdef");
	escaped("abcdef", 6, 0, "...");
	escaped("\n\n\n", 3, 2, "\\x0a\\x0a...");
}

static void test_escape_appends(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 0);
	buf_append_str(&b, "cmd: ");
	escape_for_log(&b, "RCPT\r", 5, 100);
	assert_string_equal(b.data, "cmd: RCPT\\x0d");
	buf_free(&b);

	/* A bounded output gets whole escapes only, never half of one. */
	buf_init(&b, 6);
	escape_for_log(&b, "\x01\x02", 2, 100);
	assert_string_equal(b.data, "\\x01");
	buf_free(&b);
}

static void test_ascii_case(void **state)
{
	(void)state;
	assert_true(ascii_ieq("Postmaster", "POSTMASTER"));
	assert_true(ascii_ieq("", ""));
	assert_true(ascii_ieq("a-Z_0", "A-z_0"));
	assert_false(ascii_ieq("abc", "abcd"));
	assert_false(ascii_ieq("abcd", "abc"));
	assert_false(ascii_ieq("abc", "abd"));
	assert_false(ascii_ieq("@", "`")); /* 0x40/0x60 differ by 32 but are not letters */
	assert_false(ascii_ieq("[", "{"));
	assert_false(ascii_ieq("\xc3\x9c", "\xc3\xbc")); /* no Unicode folding */

	assert_true(ascii_nieq("MAIL FROM:", "mail from:<x>", 10));
	assert_true(ascii_nieq("abc", "ABD", 2));
	assert_false(ascii_nieq("abc", "ABD", 3));
	assert_true(ascii_nieq("ab", "AB", 5)); /* stops at the common end */
	assert_false(ascii_nieq("ab", "abc", 5));
	assert_true(ascii_nieq("x", "y", 0));

	char s[] = "MiXeD Case 123 \xc3\x9c@EXAMPLE.ORG";
	ascii_lower(s);
	assert_string_equal(s, "mixed case 123 \xc3\x9c@example.org");
}

static void test_random_id(void **state)
{
	(void)state;
	char a[32], b[32];
	random_id(a, sizeof(a), 16);
	random_id(b, sizeof(b), 16);
	assert_int_equal(strlen(a), 16);
	assert_string_not_equal(a, b);
	for (const char *p = a; *p != '\0'; p++)
		assert_non_null(strchr("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ", *p));
	/* The length is clamped to the output. */
	random_id(a, 8, 20);
	assert_int_equal(strlen(a), 7);
	random_id(a, sizeof(a), 0);
	assert_string_equal(a, "");

	unsigned char z[64] = {0};
	random_bytes(z, sizeof(z));
	unsigned nonzero = 0;
	for (size_t i = 0; i < sizeof(z); i++)
		nonzero += z[i] != 0;
	assert_true(nonzero > 32);
}

static void date_in(const char *tz, time_t t, const char *want)
{
	char out[64];
	setenv("TZ", tz, 1);
	tzset();
	rfc5322_date(t, out, sizeof(out));
	if (strcmp(out, want) != 0)
		fail_msg("TZ=%s %lld: \"%s\", want \"%s\"", tz, (long long)t, out, want);
}

static void test_rfc5322_date(void **state)
{
	(void)state;
	char *old = getenv("TZ") != NULL ? xstrdup(getenv("TZ")) : NULL;
	/* RFC 5322 A.1.1 and A.2. */
	date_in("CST6", 880127706, "Fri, 21 Nov 1997 09:55:06 -0600");
	date_in("EET-2", 1057049557, "Tue, 1 Jul 2003 10:52:37 +0200");
	date_in("UTC0", 0, "Thu, 1 Jan 1970 00:00:00 +0000");
	date_in("IST-5:30", 0, "Thu, 1 Jan 1970 05:30:00 +0530");
	date_in("NST3:30", 0, "Wed, 31 Dec 1969 20:30:00 -0330");
	if (old != NULL)
		setenv("TZ", old, 1);
	else
		unsetenv("TZ");
	tzset();
	free(old);
}

static void test_now_ms(void **state)
{
	(void)state;
	uint64_t a = now_ms();
	usleep(20000);
	uint64_t b = now_ms();
	assert_true(b >= a + 15);
	assert_true(b < a + 5000);
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	char *data = malloc(65536);
	assert_non_null(data);
	*len = fread(data, 1, 65536, f);
	fclose(f);
	return data;
}

static void test_files(void **state)
{
	(void)state;
	char dir[] = "/tmp/postane-util-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[512], file[512];

	/* mkdir_p: nested, existing, trailing slash. */
	snprintf(path, sizeof(path), "%s/a/b/c", dir);
	assert_int_equal(mkdir_p(path, 0700), 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(mkdir_p(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/a/b/d/", dir);
	assert_int_equal(mkdir_p(path, 0700), 0);
	assert_int_equal(fsync_dir(path), 0);
	/* A file in the way is an error. */
	snprintf(file, sizeof(file), "%s/a/plain", dir);
	assert_int_equal(write_file_durable(file, "x", 1, 0600), 0);
	snprintf(path, sizeof(path), "%s/a/plain/sub", dir);
	assert_int_equal(mkdir_p(path, 0700), -1);
	snprintf(path, sizeof(path), "%s/missing", dir);
	assert_int_equal(fsync_dir(path), -1);

	/* write_file_durable: content, mode, replacement, no temp left. */
	static const char content[] = "line 1\r\n\0binary\xff";
	snprintf(file, sizeof(file), "%s/a/b/c/file", dir);
	assert_int_equal(write_file_durable(file, content, sizeof(content), 0640), 0);
	size_t len;
	char *got = read_file(file, &len);
	assert_non_null(got);
	assert_int_equal(len, sizeof(content));
	assert_memory_equal(got, content, len);
	free(got);
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	assert_int_equal(write_file_durable(file, "new", 3, 0600), 0);
	got = read_file(file, &len);
	assert_int_equal(len, 3);
	assert_memory_equal(got, "new", 3);
	free(got);
	snprintf(path, sizeof(path), "%s/a/b/c/file.tmp%ld", dir, (long)getpid());
	assert_int_equal(access(path, F_OK), -1);
	snprintf(file, sizeof(file), "%s/nodir/file", dir);
	assert_int_equal(write_file_durable(file, "x", 1, 0600), -1);

	/* write_full through a pipe. */
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write_full(fds[1], "pipe data", 9), 0);
	char rb[16];
	assert_int_equal(read(fds[0], rb, sizeof(rb)), 9);
	assert_memory_equal(rb, "pipe data", 9);
	close(fds[0]);
	assert_int_equal(write_full(fds[1], "", 0), 0);
	close(fds[1]);
	assert_int_equal(write_full(-1, "x", 1), -1);

	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_strings(void **state)
{
	(void)state;
	char *s = xstrndup("abcdef", 3);
	assert_string_equal(s, "abc");
	free(s);
	s = xstrndup("a\0b", 3);
	assert_int_equal(s[3], '\0');
	free(s);
	s = xstrdup("");
	assert_string_equal(s, "");
	free(s);
	void *p = xcalloc(0, 0);
	assert_non_null(p);
	free(p);
	p = xmalloc(0);
	assert_non_null(p);
	p = xrealloc(p, 100);
	assert_non_null(p);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_u64),
		cmocka_unit_test(test_parse_u64_errors),
		cmocka_unit_test(test_parse_u64_length),
		cmocka_unit_test(test_escape_for_log),
		cmocka_unit_test(test_escape_appends),
		cmocka_unit_test(test_ascii_case),
		cmocka_unit_test(test_random_id),
		cmocka_unit_test(test_rfc5322_date),
		cmocka_unit_test(test_now_ms),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_strings),
	};
	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
