/* test_mime_header.c - unit tests for header section iteration
 * (mime_header.c): fields, folding, LF-only and CRLF line ends, a header
 * without body or without an empty line, junk lines, limits, lookups and
 * unfolding (RFC 5322 2.2, 3.2.2 and the Appendix A examples). Every input
 * is parsed from an exact-size heap copy, and every prefix of the larger
 * inputs too, so that ASan sees any read past the range. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "mime/mime_header.h"

static char *copy_exact(const char *s, size_t len)
{
	char *p = malloc(len == 0 ? 1 : len);
	assert_non_null(p);
	memcpy(p, s, len);
	return p;
}

/* Render all fields as "name=value|" (raw value) plus "@END" with the
 * header end offset. */
static void render(const char *msg, size_t len, const struct mime_header_limits *lim, char *out,
		   size_t outlen)
{
	char *m = copy_exact(msg, len);
	struct mime_header_iter it;
	struct mime_header_field f;
	size_t n = 0;
	mime_header_iter_init(&it, m, len, lim);
	out[0] = '\0';
	while (mime_header_iter_next(&it, &f) > 0) {
		assert_true(f.start < f.end && f.end <= len);
		assert_true(f.line_end <= f.end);
		assert_true(f.value + f.value_len <= m + len);
		n += (size_t)snprintf(out + n, outlen - n, "%.*s%s%.*s|", (int)f.name_len, f.name,
				      f.has_colon ? "=" : "!", (int)f.value_len, f.value);
		assert_true(n < outlen);
	}
	snprintf(out + n, outlen - n, "@%zu", it.header_end);
	assert_true(it.header_end <= len);
	assert_true(it.blank_start <= it.header_end);
	free(m);
}

#define CHECK(msg, want)                                                                           \
	do {                                                                                       \
		char got_[4096];                                                                   \
		render(msg, sizeof(msg) - 1, NULL, got_, sizeof(got_));                            \
		assert_string_equal(got_, want);                                                   \
	} while (0)

static void test_basic(void **state)
{
	(void)state;
	CHECK("From: a@b\r\nTo: c@d\r\n\r\nbody\r\n", "From= a@b|To= c@d|@22");
	CHECK("From: a@b\nTo: c@d\n\nbody\n", "From= a@b|To= c@d|@19");
	/* Mixed line ends. */
	CHECK("From: a@b\r\nTo: c@d\n\r\nbody", "From= a@b|To= c@d|@21");
	/* No space after the colon, blanks before it (obsolete syntax). */
	CHECK("Subject:x\r\nSubject \t: y\r\n\r\n", "Subject=x|Subject= y|@27");
	/* Empty value. */
	CHECK("X-Empty:\r\n\r\n", "X-Empty=|@12");
}

static void test_folding(void **state)
{
	(void)state;
	/* RFC 5322 2.2.3: folding keeps the CRLF in the raw value. */
	CHECK("Subject: This\r\n is a test\r\n\r\n", "Subject= This\r\n is a test|@29");
	CHECK("Subject: a\n\tb\n  c\nX: y\n\n", "Subject= a\n\tb\n  c|X= y|@24");
	/* A line of only blanks continues the field (obsolete). */
	CHECK("A: 1\r\n \r\nB: 2\r\n\r\n", "A= 1\r\n |B= 2|@17");
	/* The value may start on the next line. */
	CHECK("To:\r\n a@b\r\n\r\n", "To=\r\n a@b|@13");
}

static void test_no_body(void **state)
{
	(void)state;
	/* Header without an empty line: ends at the end of the data. */
	CHECK("From: a@b\r\nTo: c@d\r\n", "From= a@b|To= c@d|@20");
	CHECK("From: a@b\r\nTo: c@d", "From= a@b|To= c@d|@18");
	CHECK("a:b\n", "a=b|@4");
	/* Folded last line without line end. */
	CHECK("A: 1\r\n 2", "A= 1\r\n 2|@8");
	/* Only an empty line, or nothing. */
	CHECK("\r\nbody", "@2");
	CHECK("\nbody", "@1");
	CHECK("", "@0");
	/* A lone CR is not a line end. */
	CHECK("A: 1\r", "A= 1\r|@5");
}

static void test_junk(void **state)
{
	(void)state;
	/* mbox "From " line and a line without a colon. */
	CHECK("From someone Sat Jan  1 00:00:00 2000\nX: 1\njunk line\n\nbody",
	      "From someone Sat Jan  1 00=00:00 2000|X= 1|junk line!|@54");
	CHECK("no colon here\r\n\r\n", "no colon here!|@17");
	/* A continuation with no field before it. */
	CHECK(" leading: x\r\n\r\n", " leading= x|@15");
	/* NUL bytes are data. */
	CHECK("A: x\0y\r\n\r\n", "A= x|@10");
}

static void test_limits(void **state)
{
	(void)state;
	const char msg[] = "A: 1\r\nB: 2\r\nC: 3333333333\r\nD: 4\r\n\r\nbody";
	struct mime_header_limits lim = {.max_fields = 2, .max_field_len = 0};
	char got[512];
	render(msg, sizeof(msg) - 1, &lim, got, sizeof(got));
	/* Excess fields are skipped but the header end is still found. */
	assert_string_equal(got, "A= 1|B= 2|@35");

	lim.max_fields = 0;
	lim.max_field_len = 4;
	struct mime_header_iter it;
	struct mime_header_field f;
	mime_header_iter_init(&it, msg, sizeof(msg) - 1, &lim);
	int n = 0;
	while (mime_header_iter_next(&it, &f) > 0) {
		n++;
		if (mime_header_name_is(&f, "C")) {
			assert_true(f.truncated);
			assert_int_equal(f.value_len, 4);
			assert_memory_equal(f.value, " 333", 4);
			/* Offsets still cover the whole field. */
			assert_int_equal(f.start, 12);
			assert_int_equal(f.end, 27);
			assert_int_equal(f.line_end, 25);
		} else {
			assert_false(f.truncated);
		}
	}
	assert_int_equal(n, 4);
	assert_int_equal(it.header_end, 35);
	assert_int_equal(it.blank_start, 33);
	assert_int_equal(it.skipped, 0);

	lim.max_fields = 1;
	lim.max_field_len = 0;
	mime_header_iter_init(&it, msg, sizeof(msg) - 1, &lim);
	while (mime_header_iter_next(&it, &f) > 0)
		;
	assert_int_equal(it.returned, 1);
	assert_int_equal(it.skipped, 3);
}

static void test_offsets(void **state)
{
	(void)state;
	const char msg[] = "From: a\r\nSubject: x\r\n y\r\n\r\nB";
	struct mime_header_iter it;
	struct mime_header_field f;
	mime_header_iter_init(&it, msg, sizeof(msg) - 1, NULL);
	assert_int_equal(mime_header_iter_next(&it, &f), 1);
	assert_int_equal(f.start, 0);
	assert_int_equal(f.line_end, 7);
	assert_int_equal(f.end, 9);
	assert_int_equal(mime_header_iter_next(&it, &f), 1);
	assert_int_equal(f.start, 9);
	assert_int_equal(f.line_end, 23);
	assert_int_equal(f.end, 25);
	assert_int_equal(mime_header_iter_next(&it, &f), 0);
	assert_int_equal(it.blank_start, 25);
	assert_int_equal(it.header_end, 27);
	/* Calling again after the end stays at the end. */
	assert_int_equal(mime_header_iter_next(&it, &f), 0);

	size_t blank;
	assert_int_equal(mime_header_size(msg, sizeof(msg) - 1, &blank), 27);
	assert_int_equal(blank, 25);
	assert_int_equal(mime_header_size("A: b", 4, &blank), 4);
	assert_int_equal(blank, 4);
	assert_int_equal(mime_header_size("", 0, NULL), 0);
	assert_int_equal(mime_header_size("\n\n", 2, &blank), 1);
	assert_int_equal(blank, 0);
}

static void test_find(void **state)
{
	(void)state;
	const char msg[] = "Received: 1\r\nreceived: 2\r\nFROM: x\r\n\r\nFrom: not header\r\n";
	struct mime_header_field f;
	assert_int_equal(mime_header_find(msg, sizeof(msg) - 1, "from", NULL, &f), 1);
	assert_memory_equal(f.value, " x", 2);
	assert_int_equal(mime_header_find(msg, sizeof(msg) - 1, "received", NULL, &f), 1);
	assert_memory_equal(f.value, " 1", 2);
	assert_int_equal(mime_header_find(msg, sizeof(msg) - 1, "subject", NULL, &f), 0);
	/* All fields of a name. */
	struct mime_header_iter it;
	mime_header_iter_init(&it, msg, sizeof(msg) - 1, NULL);
	int n = 0;
	while (mime_header_iter_next_named(&it, "RECEIVED", &f) > 0)
		n++;
	assert_int_equal(n, 2);
	/* Names match exactly, not as prefixes. */
	assert_int_equal(mime_header_find(msg, sizeof(msg) - 1, "receive", NULL, &f), 0);
	assert_true(mime_ascii_ieq("Content-Type", 12, "content-type"));
	assert_false(mime_ascii_ieq("Content-Type", 12, "content-typ"));
	assert_false(mime_ascii_ieq("Content-Typ", 11, "content-type"));
	assert_true(mime_ascii_ieq("", 0, ""));
}

static void unfold_check(const char *in, const char *want)
{
	struct buf b;
	buf_init(&b, 0);
	char *m = copy_exact(in, strlen(in));
	assert_int_equal(mime_header_unfold(m, strlen(in), &b), 0);
	assert_int_equal(b.len, strlen(want));
	if (b.len > 0)
		assert_memory_equal(b.data, want, b.len);
	free(m);
	buf_free(&b);
}

static void test_unfold(void **state)
{
	(void)state;
	unfold_check(" This\r\n is a test", "This is a test");
	unfold_check(" a\n\tb\n  c", "a\tb  c");
	unfold_check("\r\n a@b", "a@b");
	unfold_check("   ", "");
	unfold_check("", "");
	unfold_check(" keep trailing  ", "keep trailing  ");
	unfold_check(" bare\rcr", "bare\rcr");
	/* Bounded output. */
	struct buf b;
	buf_init(&b, 3);
	assert_int_equal(mime_header_unfold(" abcdef", 7, &b), -1);
	buf_free(&b);
}

/* RFC 5322 Appendix A.5 (white space, comments and other oddities). */
static void test_rfc5322_a5(void **state)
{
	(void)state;
	const char msg[] =
	    "From: Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>\r\n"
	    "To:A Group(Some people)\r\n"
	    "     :Chris Jones <c@(Chris's host.)public.example>,\r\n"
	    "         joe@example.org,\r\n"
	    "  John <jdoe@one.test> (my dear friend); (the end of the group)\r\n"
	    "Cc:(Empty list)(start)Hidden recipients  :(nobody(that I know))  ;\r\n"
	    "Date: Thu,\r\n"
	    "      13\r\n"
	    "        Feb\r\n"
	    "          1969\r\n"
	    "      23:32\r\n"
	    "               -0330 (Newfoundland Time)\r\n"
	    "Message-ID:              <testabcd.1234@silly.test>\r\n"
	    "\r\n"
	    "Testing.\r\n";
	struct mime_header_iter it;
	struct mime_header_field f;
	const char *names[] = {"From", "To", "Cc", "Date", "Message-ID"};
	int n = 0;
	mime_header_iter_init(&it, msg, sizeof(msg) - 1, NULL);
	while (mime_header_iter_next(&it, &f) > 0) {
		assert_true(n < 5);
		assert_true(mime_header_name_is(&f, names[n]));
		n++;
	}
	assert_int_equal(n, 5);
	assert_memory_equal(msg + it.header_end, "Testing.", 8);
	assert_int_equal(mime_header_find(msg, sizeof(msg) - 1, "date", NULL, &f), 1);
	struct buf b;
	buf_init(&b, 0);
	assert_int_equal(mime_header_unfold(f.value, f.value_len, &b), 0);
	assert_string_equal(b.data,
			    "Thu,      13        Feb          1969      23:32               "
			    "-0330 (Newfoundland Time)");
	buf_free(&b);
}

/* Every prefix of a message scans without reading past it. */
static void test_prefixes(void **state)
{
	(void)state;
	const char msg[] = "Return-Path: <a@b>\r\nSubject: folded\r\n\tline\nX: y\r\n\r\nbody\r\n";
	for (size_t len = 0; len <= sizeof(msg) - 1; len++) {
		char *m = copy_exact(msg, len);
		struct mime_header_iter it;
		struct mime_header_field f;
		mime_header_iter_init(&it, m, len, NULL);
		while (mime_header_iter_next(&it, &f) > 0)
			assert_true(f.end <= len);
		assert_true(it.header_end <= len);
		assert_int_equal(mime_header_size(m, len, NULL), it.header_end);
		free(m);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_basic),      cmocka_unit_test(test_folding),
	    cmocka_unit_test(test_no_body),    cmocka_unit_test(test_junk),
	    cmocka_unit_test(test_limits),     cmocka_unit_test(test_offsets),
	    cmocka_unit_test(test_find),       cmocka_unit_test(test_unfold),
	    cmocka_unit_test(test_rfc5322_a5), cmocka_unit_test(test_prefixes),
	};
	return cmocka_run_group_tests_name("mime_header", tests, NULL, NULL);
}
