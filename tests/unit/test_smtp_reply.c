/* test_smtp_reply.c - unit tests for the SMTP reply parser and the EHLO
 * keyword reader (smtp_reply.c): RFC 5321 examples, multi-line replies,
 * enhanced status codes, malformed replies, limits; every input is parsed
 * whole, one byte at a time and in random splits, which must agree. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smtp/smtp_reply.h"

#define RANDOM_SPLITS 32

enum split_mode { SPLIT_WHOLE, SPLIT_BYTES, SPLIT_RANDOM };

static uint32_t xorshift(uint32_t *s)
{
	uint32_t x = *s;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*s = x;
	return x;
}

/* Every reply of `in`, rendered as "code|enhanced|line|line...;" one after
 * the other, then "ERR:reason" on an error or "MORE:n" when n bytes of an
 * unfinished reply were left. */
static char *parse_all(const char *in, size_t len, const struct smtp_reply_limits *lim,
		       enum split_mode mode, uint32_t seed)
{
	struct smtp_reply_parser *p = smtp_reply_parser_new(lim);
	size_t cap = 4 * len + 64, o = 0;
	char *out = malloc(cap);
	assert_non_null(out);
	out[0] = '\0';
	uint32_t rng = seed * 2654435761u + 1;
	size_t i = 0, pending = 0;
	bool failed = false;
	while (i < len && !failed) {
		size_t n = len - i;
		if (mode == SPLIT_BYTES) {
			n = 1;
		} else if (mode == SPLIT_RANDOM) {
			uint32_t x = xorshift(&rng);
			n = 1 + (x >> 3) % 9;
			if (n > len - i)
				n = len - i;
		}
		/* A heap copy of exactly n bytes: ASan sees any overread. */
		char *chunk = malloc(n);
		assert_non_null(chunk);
		memcpy(chunk, in + i, n);
		size_t off = 0;
		while (off < n) {
			struct smtp_reply r;
			size_t used = 99999;
			const char *why = "unset";
			enum smtp_reply_status st =
			    smtp_reply_parse(p, chunk + off, n - off, &used, &r, &why);
			assert_true(used <= n - off);
			off += used;
			if (st == SMTP_REPLY_ERROR) {
				assert_non_null(why);
				o += (size_t)snprintf(out + o, cap - o, "ERR:%s", why);
				failed = true;
				break;
			}
			assert_null(why);
			if (st == SMTP_REPLY_MORE) {
				assert_int_equal(off, n);
				pending += used;
				break;
			}
			pending = 0;
			assert_true(r.code >= 200 && r.code <= 599);
			assert_true(r.nlines >= 1);
			o += (size_t)snprintf(out + o, cap - o, "%u|%s", r.code, r.enhanced);
			for (unsigned k = 0; k < r.nlines; k++)
				o += (size_t)snprintf(out + o, cap - o, "|%s", r.lines[k]);
			o += (size_t)snprintf(out + o, cap - o, ";");
			assert_true(o < cap);
		}
		free(chunk);
		i += n;
	}
	if (!failed && pending > 0)
		o += (size_t)snprintf(out + o, cap - o, "MORE:%zu", pending);
	smtp_reply_parser_free(&p);
	assert_null(p);
	return out;
}

/* Parse in every split mode and compare with `want`. */
static void expect_lim(const char *in, size_t len, const struct smtp_reply_limits *lim,
		       const char *want)
{
	char *whole = parse_all(in, len, lim, SPLIT_WHOLE, 0);
	if (strcmp(whole, want) != 0)
		fail_msg("input \"%.*s\":\n got  %s\n want %s", (int)len, in, whole, want);
	char *bytes = parse_all(in, len, lim, SPLIT_BYTES, 0);
	if (strcmp(bytes, want) != 0)
		fail_msg("input \"%.*s\" byte by byte:\n got  %s\n want %s", (int)len, in, bytes,
			 want);
	for (uint32_t seed = 1; seed <= RANDOM_SPLITS; seed++) {
		char *r = parse_all(in, len, lim, SPLIT_RANDOM, seed);
		if (strcmp(r, want) != 0)
			fail_msg("input \"%.*s\" split %u:\n got  %s\n want %s", (int)len, in, seed,
				 r, want);
		free(r);
	}
	free(whole);
	free(bytes);
}

static void expect(const char *in, const char *want)
{
	expect_lim(in, strlen(in), NULL, want);
}

#define EXPECT_BIN(lit, want) expect_lim(lit, sizeof(lit) - 1, NULL, want)

static void test_rfc5321_examples(void **state)
{
	(void)state;
	/* RFC 5321 D.1: a typical transaction, server side. */
	expect("220 foo.com Simple Mail Transfer Service Ready\r\n",
	       "220||foo.com Simple Mail Transfer Service Ready;");
	expect("250-foo.com greets bar.com\r\n250-8BITMIME\r\n250-SIZE\r\n250-DSN\r\n250 HELP\r\n",
	       "250||foo.com greets bar.com|8BITMIME|SIZE|DSN|HELP;");
	expect("250 OK\r\n", "250||OK;");
	expect("550 No such user here\r\n", "550||No such user here;");
	expect("354 Start mail input; end with <CRLF>.<CRLF>\r\n",
	       "354||Start mail input; end with <CRLF>.<CRLF>;");
	expect("221 foo.com Service closing transmission channel\r\n",
	       "221||foo.com Service closing transmission channel;");
	/* RFC 5321 4.2.1's multi-line example (its code 123 is not a valid
	 * SMTP reply code, see below): digits after the hyphen are text. */
	expect("250-First line\r\n250-Second line\r\n250-234 Text beginning with numbers\r\n"
	       "250 The last line\r\n",
	       "250||First line|Second line|234 Text beginning with numbers|The last line;");
	/* RFC 5321 3.8: a server closing down. */
	expect("421 foo.com Service not available, closing transmission channel\r\n",
	       "421||foo.com Service not available, closing transmission channel;");
	/* RFC 5321 4.2: the text is optional, on the last line too. */
	expect("250\r\n", "250||;");
	expect("250-\r\n250 \r\n", "250|||;");
	expect("220-\r\n220\r\n", "220|||;");
}

static void test_enhanced_codes(void **state)
{
	(void)state;
	expect("250 2.1.5 Ok\r\n", "250|2.1.5|2.1.5 Ok;");
	expect("550-5.1.1 The email account that you tried to reach does not exist.\r\n"
	       "550 5.1.1 Please try again.\r\n",
	       "550|5.1.1|5.1.1 The email account that you tried to reach does not exist.|"
	       "5.1.1 Please try again.;");
	expect("451 4.3.0 Error: queue file write error\r\n",
	       "451|4.3.0|4.3.0 Error: queue file write error;");
	expect("250 2.0.0\r\n", "250|2.0.0|2.0.0;");
	expect("552 5.123.456 x\r\n", "552|5.123.456|5.123.456 x;");
	/* Not an enhanced code: the class must match the reply, subject and
	 * detail have 1-3 digits, a space or the end must follow. */
	expect("550 2.1.1 mismatch\r\n", "550||2.1.1 mismatch;");
	expect("550 5.1234.1 x\r\n", "550||5.1234.1 x;");
	expect("550 5.1.1234 x\r\n", "550||5.1.1234 x;");
	expect("550 5.1.1x\r\n", "550||5.1.1x;");
	expect("550 5..1 x\r\n", "550||5..1 x;");
	expect("550 3.1.1 x\r\n", "550||3.1.1 x;");
	expect("250 ok 2.1.0\r\n", "250||ok 2.1.0;");
	/* Only the first line decides. */
	expect("250-hello\r\n250 2.0.0 x\r\n", "250||hello|2.0.0 x;");
}

static void test_line_endings_and_pipelining(void **state)
{
	(void)state;
	/* Bare LF is taken as a line end (other MTAs do the same). */
	expect("250-a\n250 b\n", "250||a|b;");
	/* Pipelined replies come out one at a time, in order. */
	expect("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 no\r\n354 go ahead\r\n",
	       "250|2.1.0|2.1.0 Ok;250|2.1.5|2.1.5 Ok;550|5.1.1|5.1.1 no;354||go ahead;");
	/* An unfinished reply waits for more. */
	expect("250-a\r\n250", "MORE:10");
	expect("250 ok\r\n2", "250||ok;MORE:1");
	/* Tabs and 8-bit text are kept as they are. */
	expect("250 caf\xc3\xa9\tok\r\n", "250||caf\xc3\xa9\tok;");
}

static void test_malformed(void **state)
{
	(void)state;
	expect("25 x\r\n", "ERR:reply does not start with a 3-digit code");
	expect("2x0 x\r\n", "ERR:reply does not start with a 3-digit code");
	expect("\r\n", "ERR:reply does not start with a 3-digit code");
	expect("hello\r\n", "ERR:reply does not start with a 3-digit code");
	expect("2500 x\r\n", "ERR:reply code not followed by space or hyphen");
	expect("250x\r\n", "ERR:reply code not followed by space or hyphen");
	expect("250-a\r\n251 b\r\n", "ERR:different codes in one multi-line reply");
	expect("250-a\r\n550-b\r\n550 c\r\n", "ERR:different codes in one multi-line reply");
	expect("123 RFC 5321's example code\r\n", "ERR:reply code out of range");
	expect("600 x\r\n", "ERR:reply code out of range");
	expect("099 x\r\n", "ERR:reply code out of range");
	expect("250 a\rb\r\n", "ERR:CR inside a reply line");
	expect("250 a\r\r\n", "ERR:CR inside a reply line");
	EXPECT_BIN("250 a\0b\r\n", "ERR:NUL in reply");
	/* A good reply before the bad one still comes out. */
	expect("250 ok\r\n25", "250||ok;MORE:2");
	expect("250 ok\r\n2?0 x\r\n", "250||ok;ERR:reply does not start with a 3-digit code");
}

static void test_limits(void **state)
{
	(void)state;
	struct smtp_reply_limits lim = {.max_line = 10, .max_lines = 3};
	const char *ok = "250 567890\r\n"; /* exactly 10 bytes */
	expect_lim(ok, strlen(ok), &lim, "250||567890;");
	const char *lf = "250 567890\n";
	expect_lim(lf, strlen(lf), &lim, "250||567890;");
	const char *longer = "250 5678901\r\n";
	expect_lim(longer, strlen(longer), &lim, "ERR:reply line too long");
	const char *nolf = "250 5678901234567";
	expect_lim(nolf, strlen(nolf), &lim, "ERR:reply line too long");
	const char *three = "250-a\r\n250-b\r\n250 c\r\n";
	expect_lim(three, strlen(three), &lim, "250||a|b|c;");
	const char *four = "250-a\r\n250-b\r\n250-c\r\n250 d\r\n";
	expect_lim(four, strlen(four), &lim, "ERR:too many lines in reply");

	/* Defaults: 2000 bytes per line, 100 lines. */
	char *big = malloc(2100);
	assert_non_null(big);
	memset(big, 'x', 2100);
	memcpy(big, "250 ", 4);
	memcpy(big + 2000, "\r\n", 2);
	char *want = malloc(2100);
	assert_non_null(want);
	snprintf(want, 2100, "250||%.*s;", 1996, big + 4);
	expect_lim(big, 2002, NULL, want);
	memcpy(big + 2000, "x\r\n", 3);
	expect_lim(big, 2003, NULL, "ERR:reply line too long");
	free(big);
	free(want);

	size_t cap = 101 * 9 + 1, o = 0;
	char *many = malloc(cap);
	assert_non_null(many);
	for (int i = 0; i < 100; i++)
		o += (size_t)snprintf(many + o, cap - o, "250%c%03d\r\n", i == 99 ? ' ' : '-', i);
	char *p = parse_all(many, o, NULL, SPLIT_WHOLE, 0);
	assert_true(strncmp(p, "250||000|001|", 13) == 0);
	free(p);
	o = 0;
	for (int i = 0; i < 101; i++)
		o += (size_t)snprintf(many + o, cap - o, "250%c%03d\r\n", i == 100 ? ' ' : '-', i);
	expect_lim(many, o, NULL, "ERR:too many lines in reply");
	free(many);
}

static void test_error_is_sticky_and_reset(void **state)
{
	(void)state;
	struct smtp_reply_parser *p = smtp_reply_parser_new(NULL);
	struct smtp_reply r;
	size_t used;
	const char *why;
	assert_int_equal(smtp_reply_parse(p, "xyz\r\n", 5, &used, &r, &why), SMTP_REPLY_ERROR);
	assert_int_equal(used, 5);
	assert_int_equal(smtp_reply_parse(p, "250 ok\r\n", 8, &used, &r, &why), SMTP_REPLY_ERROR);
	assert_int_equal(used, 0);
	assert_non_null(why);
	smtp_reply_parser_reset(p);
	assert_int_equal(smtp_reply_parse(p, "250 ok\r\n", 8, &used, &r, &why), SMTP_REPLY_DONE);
	assert_int_equal(r.code, 250);
	assert_string_equal(r.lines[0], "ok");
	/* A partial reply is forgotten by a reset (after STARTTLS). */
	assert_int_equal(smtp_reply_parse(p, "250-inje", 8, &used, &r, &why), SMTP_REPLY_MORE);
	smtp_reply_parser_reset(p);
	assert_int_equal(smtp_reply_parse(p, "220 x\r\n", 7, &used, &r, &why), SMTP_REPLY_DONE);
	assert_int_equal(r.code, 220);
	assert_int_equal(r.nlines, 1);
	smtp_reply_parser_free(&p);
	smtp_reply_parser_free(&p); /* NULL is fine */
}

static struct smtp_reply one_reply(struct smtp_reply_parser *p, const char *in)
{
	struct smtp_reply r;
	size_t used;
	const char *why;
	enum smtp_reply_status st = smtp_reply_parse(p, in, strlen(in), &used, &r, &why);
	if (st != SMTP_REPLY_DONE)
		fail_msg("\"%s\" did not parse: %s", in, why != NULL ? why : "(more)");
	assert_int_equal(used, strlen(in));
	return r;
}

static void test_reply_text(void **state)
{
	(void)state;
	struct smtp_reply_parser *p = smtp_reply_parser_new(NULL);
	char out[64];
	struct smtp_reply r = one_reply(p, "550-5.1.1 The account\r\n550-5.1.1 does not exist.\r\n"
					   "550 5.1.1 See https://x.example/\r\n");
	assert_string_equal(r.enhanced, "5.1.1");
	smtp_reply_text(&r, out, sizeof(out));
	assert_string_equal(out, "The account does not exist. See https://x.example/");

	r = one_reply(p, "250-mx.example.org\r\n250-PIPELINING\r\n250 SIZE 100\r\n");
	size_t n = smtp_reply_text(&r, out, sizeof(out));
	assert_int_equal(n, strlen(out));
	assert_string_equal(out, "mx.example.org PIPELINING SIZE 100");

	/* Control bytes and invalid UTF-8 become '?', valid UTF-8 stays. */
	r = one_reply(p, "550 a\x01"
			 "b\x7f\tc \xc3\xa9 \xff \xc3\r\n");
	smtp_reply_text(&r, out, sizeof(out));
	assert_string_equal(out, "a?b? c \xc3\xa9 ? ?");

	/* Cut to fit, never inside a UTF-8 sequence. */
	r = one_reply(p, "250 abcd\xc3\xa9\r\n");
	char small[6];
	assert_int_equal(smtp_reply_text(&r, small, sizeof(small)), 4);
	assert_string_equal(small, "abcd");
	char tiny[1];
	assert_int_equal(smtp_reply_text(&r, tiny, sizeof(tiny)), 0);
	assert_string_equal(tiny, "");

	/* Empty lines are left out, the code is not part of the text. */
	r = one_reply(p, "250-\r\n250-\r\n250 x\r\n");
	smtp_reply_text(&r, out, sizeof(out));
	assert_string_equal(out, "x");
	/* The enhanced code counts only on the first line. */
	r = one_reply(p, "250-\r\n250 2.0.0\r\n");
	assert_string_equal(r.enhanced, "");
	smtp_reply_text(&r, out, sizeof(out));
	assert_string_equal(out, "2.0.0");
	smtp_reply_parser_free(&p);
}

static void test_ehlo(void **state)
{
	(void)state;
	struct smtp_reply_parser *p = smtp_reply_parser_new(NULL);
	struct smtp_ehlo e;

	/* RFC 5321 D.1 */
	struct smtp_reply r = one_reply(
	    p, "250-foo.com greets bar.com\r\n250-8BITMIME\r\n250-SIZE\r\n250-DSN\r\n250 HELP\r\n");
	smtp_ehlo_parse(&r, &e);
	assert_true(e.eightbitmime);
	assert_true(e.size);
	assert_int_equal(e.size_max, 0);
	assert_true(e.dsn);
	assert_false(e.pipelining);
	assert_false(e.starttls);
	assert_false(e.auth);

	/* A modern server. */
	r = one_reply(p, "250-mx.example.org Hello [192.0.2.1]\r\n"
			 "250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n"
			 "250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n"
			 "250-DSN\r\n250-SMTPUTF8\r\n250-CHUNKING\r\n"
			 "250 AUTH PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256\r\n");
	smtp_ehlo_parse(&r, &e);
	assert_true(e.pipelining && e.size && e.starttls && e.enhancedstatuscodes);
	assert_true(e.eightbitmime && e.dsn && e.smtputf8 && e.chunking && e.auth);
	assert_int_equal(e.size_max, 10240000);
	assert_int_equal(e.auth_mechs,
			 SMTP_AUTH_PLAIN | SMTP_AUTH_LOGIN | SMTP_AUTH_CRAM_MD5 | SMTP_AUTH_OTHER);

	/* Keywords are case-insensitive; the old AUTH= form; no prefixes. */
	r = one_reply(p, "250-x\r\n250-auth=login\r\n250-pipeliningX\r\n250-STARTTLSX\r\n"
			 "250-SIZEX 5\r\n250 size 77\r\n");
	smtp_ehlo_parse(&r, &e);
	assert_true(e.auth);
	assert_int_equal(e.auth_mechs, SMTP_AUTH_LOGIN);
	assert_false(e.pipelining);
	assert_false(e.starttls);
	assert_true(e.size);
	assert_int_equal(e.size_max, 77);

	/* The greeting line is never a keyword; SIZE junk is "no limit". */
	r = one_reply(p, "250-STARTTLS\r\n250 SIZE 12abc\r\n");
	smtp_ehlo_parse(&r, &e);
	assert_false(e.starttls);
	assert_true(e.size);
	assert_int_equal(e.size_max, 0);
	r = one_reply(p, "250 PIPELINING\r\n");
	smtp_ehlo_parse(&r, &e);
	assert_false(e.pipelining);
	r = one_reply(p, "250-x\r\n250-SIZE 99999999999999999999999\r\n250 AUTH\r\n");
	smtp_ehlo_parse(&r, &e);
	assert_int_equal(e.size_max, 0);
	assert_true(e.auth);
	assert_int_equal(e.auth_mechs, 0);
	smtp_reply_parser_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc5321_examples),
	    cmocka_unit_test(test_enhanced_codes),
	    cmocka_unit_test(test_line_endings_and_pipelining),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_error_is_sticky_and_reset),
	    cmocka_unit_test(test_reply_text),
	    cmocka_unit_test(test_ehlo),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
