/* test_mime_param.c - unit tests for MIME parameter lists (mime_param.c):
 * RFC 2045 5.1 syntax with comments and quoting, the forgiving cases of
 * real mail, the RFC 2231 section 3 and 4 examples (continuations, charset
 * and language) merged the way Dovecot shows them in BODYSTRUCTURE, and
 * limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "mime/mime_param.h"
#include "mime/mime_rfc2047.h"

/* Render a parameter list as name=value|... */
static void params(const char *in, size_t max, const char *want)
{
	size_t len = strlen(in);
	char *copy = malloc(len == 0 ? 1 : len);
	assert_non_null(copy);
	memcpy(copy, in, len);
	struct mime_param_list l;
	mime_param_list_init(&l, max);
	mime_param_parse(copy, len, &l);
	char got[2048];
	size_t n = 0;
	got[0] = '\0';
	for (size_t i = 0; i < l.n; i++) {
		size_t nl, vl;
		const char *name = mime_param_name(&l, i, &nl);
		const char *value = mime_param_value(&l, i, &vl);
		n += (size_t)snprintf(got + n, sizeof(got) - n, "%.*s=%.*s|", (int)nl, name,
				      (int)vl, value);
	}
	if (strcmp(got, want) != 0)
		fail_msg("params(\"%s\"): got \"%s\", want \"%s\"", in, got, want);
	mime_param_list_free(&l);
	free(copy);
}

static void test_syntax(void **state)
{
	(void)state;
	params("", 0, "");
	params("; charset=us-ascii", 0, "charset=us-ascii|");
	params(";charset=\"us-ascii\" ; format=flowed", 0, "charset=us-ascii|format=flowed|");
	/* RFC 2045 5.1: comments, quoted-pairs. */
	params("; charset=us-ascii (Plain text)", 0, "charset=us-ascii|");
	params(" (comment) ; a = b (c) ; d=\"e\\\"f\"", 0, "a=b|d=e\"f|");
	/* Case of names is kept. */
	params("; Charset=UTF-8", 0, "Charset=UTF-8|");
	/* Values with tspecials unquoted (boundaries do that). */
	params("; boundary=----=_Part_0_123.456", 0, "boundary=----=_Part_0_123.456|");
	params("; name==?utf-8?b?w6k=?=", 0, "name==?utf-8?b?w6k=?=|");
	/* Quoted values keep blanks and semicolons. */
	params("; boundary=\"foo bar; baz\"", 0, "boundary=foo bar; baz|");
	/* Empty values. */
	params("; a=; b=\"\"", 0, "a=|b=|");
	/* Duplicates are kept, in order. */
	params("; a=1; a=2", 0, "a=1|a=2|");
}

static void test_junk(void **state)
{
	(void)state;
	/* Missing '=', missing name, junk between parameters. */
	params("; novalue; a=b", 0, "a=b|");
	params("; =x; a=b", 0, "a=b|");
	params("junk; a=b", 0, "a=b|");
	params("; a=b junk c=d; e=f", 0, "a=b|e=f|");
	params(";;; a=b;;", 0, "a=b|");
	/* Unterminated quote or comment runs to the end. */
	params("; a=\"unterminated", 0, "a=unterminated|");
	params("; a=b (comment ; c=d", 0, "a=b|");
	/* A quoted string hides a ';' from resynchronisation. */
	params("junk \";\" ; a=b", 0, "a=b|");
	/* Trailing backslash in a quoted string. */
	params("; a=\"x\\", 0, "a=x\\|");
}

static void test_rfc2231(void **state)
{
	(void)state;
	/* Section 3: continuations. */
	params("; URL*0=\"ftp://\"; URL*1=\"cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar\"", 0,
	       "URL=ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar|");
	/* Section 4: charset and language. */
	params("; title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A", 0,
	       "title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A|");
	/* Section 4.1: both combined; plain segments have '%' escaped. */
	params("; title*0*=us-ascii'en'This%20is%20even%20more%20"
	       "; title*1*=%2A%2A%2Afun%2A%2A%2A%20"
	       "; title*2=\"isn't it!\"",
	       0,
	       "title*=us-ascii'en'This%20is%20even%20more%20%2A%2A%2Afun%2A%2A%2A%20isn't it!|");
	/* Out of order, mixed case names. */
	params("; NAME*1=b; name*0=a; x=y", 0, "x=y|name=ab|");
	/* A plain first segment and an encoded later one. */
	params("; f*0=\"50%\"; f*1*=%20off", 0, "f*=''50%25%20off|");
	/* Missing index: kept as they were. */
	params("; a*0=x; a*2=z", 0, "a*0=x|a*2=z|");
	params("; a*1=x", 0, "a*1=x|");
	/* Not RFC 2231 names stay as they are. */
	params("; a*b=1; *=2; a*1x=3", 0, "a*b=1|*=2|a*1x=3|");
	/* Non-2231 parameters first (in order), merged ones after. */
	params("; z*0=1; b=2; z*1=3; a=4", 0, "b=2|a=4|z=13|");

	/* The merged value decodes with mime_rfc2231_decode(). */
	struct mime_param_list l;
	const char in[] = "; filename*0*=utf-8''%E2%82%AC; filename*1*=%20rates.txt";
	mime_param_list_init(&l, 0);
	mime_param_parse(in, sizeof(in) - 1, &l);
	long i = mime_param_find(&l, "FILENAME*");
	assert_true(i >= 0);
	size_t vl;
	const char *v = mime_param_value(&l, (size_t)i, &vl);
	struct buf b;
	buf_init(&b, 0);
	assert_int_equal(mime_rfc2231_decode(v, vl, &b), 0);
	assert_string_equal(b.data, "\xe2\x82\xac rates.txt");
	assert_int_equal(mime_param_find(&l, "nope"), -1);
	buf_free(&b);
	mime_param_list_free(&l);
}

static void test_limits(void **state)
{
	(void)state;
	params("; a=1; b=2; c=3; d=4", 2, "a=1|b=2|");
	struct mime_param_list l;
	mime_param_list_init(&l, 3);
	mime_param_parse("; a=1; b=2; c=3; d=4", 20, &l);
	assert_int_equal(l.n, 3);
	assert_true(l.truncated);
	/* Reset and reuse. */
	mime_param_list_reset(&l);
	mime_param_parse("; x=y", 5, &l);
	assert_int_equal(l.n, 1);
	assert_false(l.truncated);
	mime_param_list_free(&l);
	/* Many continuations (sorting stays fast). */
	struct buf in;
	buf_init(&in, 0);
	for (int k = 5000; k-- > 0;)
		buf_printf(&in, "; p*%d=x", k);
	mime_param_list_init(&l, 0);
	mime_param_parse(in.data, in.len, &l);
	assert_int_equal(l.n, 1);
	size_t vl;
	(void)mime_param_value(&l, 0, &vl);
	assert_int_equal(vl, 5000);
	mime_param_list_free(&l);
	buf_free(&in);
}

static void test_tokens(void **state)
{
	(void)state;
	assert_int_equal(mime_token_len("text/plain", 10, 0), 4);
	assert_int_equal(mime_token_len("text/plain", 10, 5), 5);
	assert_int_equal(mime_token_len("(x)", 3, 0), 0);
	assert_int_equal(mime_skip_cfws("  (a (nested) \\) c) x", 21, 0), 20);
	assert_int_equal(mime_skip_cfws(" (unterminated", 14, 0), 14);
	assert_int_equal(mime_skip_cfws("x", 1, 0), 0);
	assert_int_equal(mime_skip_cfws("(\\", 2, 0), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_syntax),  cmocka_unit_test(test_junk),
	    cmocka_unit_test(test_rfc2231), cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_tokens),
	};
	return cmocka_run_group_tests_name("mime_param", tests, NULL, NULL);
}
