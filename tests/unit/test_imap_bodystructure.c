/* test_imap_bodystructure.c - unit tests for BODY / BODYSTRUCTURE rendering
 * (imap_bodystructure.c): Dovecot's test-imap-bodystructure.c vectors
 * (messages with CRLF line ends; Dovecot counts sizes as CRLF too), the
 * imaptest fetch-bodystructure vector, RFC 2231 parameters, 8-bit values,
 * message/global, digest, parts left opaque by limits, 50-level nesting and
 * bounded output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "imap/imap_bodystructure.h"
#include "imap/imap_quote.h"
#include "mime/mime_parser.h"

static char *crlf(const char *lf, size_t *len_r)
{
	size_t n = strlen(lf), m = 0;
	char *out = malloc(2 * n + 1);
	assert_non_null(out);
	for (size_t i = 0; i < n; i++) {
		if (lf[i] == '\n' && (i == 0 || lf[i - 1] != '\r'))
			out[m++] = '\r';
		out[m++] = lf[i];
	}
	*len_r = m;
	return out;
}

/* Parse `msg` (LF converted to CRLF) and compare BODYSTRUCTURE and BODY
 * with Dovecot's form (without the outer parentheses it leaves to its
 * caller). */
static void vector_flags(const char *msg, const struct mime_limits *lim, unsigned flags,
			 const char *bodystructure, const char *body)
{
	size_t len;
	char *m = crlf(msg, &len);
	struct mime_tree *t = mime_parse(m, len, lim);
	struct buf b, want;
	buf_init(&b, 0);
	buf_init(&want, 0);
	assert_int_equal(imap_bodystructure_write(&b, t, true, flags), 0);
	buf_printf(&want, "(%s)", bodystructure);
	if (strcmp(b.data, want.data) != 0)
		fail_msg("BODYSTRUCTURE:\n got %s\nwant %s", b.data, want.data);
	if (body != NULL) {
		buf_reset(&b);
		buf_reset(&want);
		assert_int_equal(imap_bodystructure_write(&b, t, false, flags), 0);
		buf_printf(&want, "(%s)", body);
		if (strcmp(b.data, want.data) != 0)
			fail_msg("BODY:\n got %s\nwant %s", b.data, want.data);
	}
	buf_free(&b);
	buf_free(&want);
	mime_tree_free(&t);
	free(m);
}

static void vector(const char *msg, const char *bodystructure, const char *body)
{
	vector_flags(msg, NULL, 0, bodystructure, body);
}

static void test_dovecot_vectors(void **state)
{
	(void)state;
	vector("From: user@domain.org\nDate: Sat, 24 Mar 2017 23:00:00 +0200\nMime-Version: 1.0\n"
	       "Content-Type: text/plain; charset=us-ascii\n\nbody\n",
	       "\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1 NIL NIL NIL NIL",
	       "\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1");
	vector("From: user@domain.org\nDate: Sat, 24 Mar 2017 23:00:00 +0200\nMime-Version: 1.0\n"
	       "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
	       "body\n\n",
	       "\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"8bit\" 8 2 NIL NIL NIL NIL",
	       "\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"8bit\" 8 2");
	vector("From: user@domain.org\nDate: Sat, 24 Mar 2007 23:00:00 +0200\nMime-Version: 1.0\n"
	       "Content-Type: multipart/mixed; boundary=\"foo\n bar\"\n\n--foo bar\n"
	       "Content-Type: text/x-myown; charset=us-ascii\n\nhello\n\n--foo bar--\n\n",
	       "(\"text\" \"x-myown\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 7 1 NIL NIL NIL "
	       "NIL) \"mixed\" (\"boundary\" \"foo bar\") NIL NIL NIL",
	       "(\"text\" \"x-myown\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 7 1) \"mixed\"");
	vector(
	    "From: user@domain.org\nDate: Sat, 24 Mar 2017 23:00:00 +0200\nMime-Version: 1.0\n"
	    "Content-Type: multipart/mixed; boundary=\"foo bar\"\n\n--foo bar\n"
	    "Content-Type: text/plain; charset=us-ascii\n\nSee attached...\n\n--foo bar\n"
	    "Content-Type: message/rfc822\n\nFrom: user@domain.org\n"
	    "Date: Sat, 24 Mar 2017 23:00:00 +0200\nMime-Version: 1.0\n"
	    "Content-Type: text/plain; charset=us-ascii\n\nbody\n\n--foo bar--\n\n",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 17 1 NIL NIL NIL "
	    "NIL)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 133 (\"Sat, 24 Mar 2017 23:00:00 "
	    "+0200\" NIL ((NIL NIL \"user\" \"domain.org\")) ((NIL NIL \"user\" \"domain.org\")) "
	    "((NIL NIL \"user\" \"domain.org\")) NIL NIL NIL NIL NIL) (\"text\" \"plain\" "
	    "(\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1 NIL NIL NIL NIL) 6 NIL NIL NIL NIL) "
	    "\"mixed\" (\"boundary\" \"foo bar\") NIL NIL NIL",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 17 1)(\"message\" "
	    "\"rfc822\" NIL NIL NIL \"7bit\" 133 (\"Sat, 24 Mar 2017 23:00:00 +0200\" NIL ((NIL "
	    "NIL \"user\" \"domain.org\")) ((NIL NIL \"user\" \"domain.org\")) ((NIL NIL "
	    "\"user\" \"domain.org\")) NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" "
	    "\"us-ascii\") NIL NIL \"7bit\" 6 1) 6) \"mixed\"");
	vector(
	    "From: user@domain.org\nDate: Sat, 24 Mar 2017 23:00:00 +0200\nMime-Version: 1.0\n"
	    "Content-Type: multipart/mixed; boundary=\"foo bar\"\n\n--foo bar\n"
	    "Content-Type: text/plain; charset=us-ascii\nContent-ID: <A.frop.example.com>\n"
	    "Content-Description: Container message\n\nSee attached...\n\n--foo bar\n"
	    "Content-Type: message/rfc822\nContent-ID: <B.frop.example.com>\n"
	    "Content-Description: Forwarded\n\nFrom: user@domain.org\n"
	    "Date: Sat, 24 Mar 2017 23:00:00 +0200\nMime-Version: 1.0\n"
	    "Content-Type: text/plain; charset=us-ascii\n\nbody\n\n--foo bar--\n",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") \"<A.frop.example.com>\" \"Container "
	    "message\" \"7bit\" 17 1 NIL NIL NIL NIL)(\"message\" \"rfc822\" NIL "
	    "\"<B.frop.example.com>\" \"Forwarded\" \"7bit\" 133 (\"Sat, 24 Mar 2017 23:00:00 "
	    "+0200\" NIL ((NIL NIL \"user\" \"domain.org\")) ((NIL NIL \"user\" \"domain.org\")) "
	    "((NIL NIL \"user\" \"domain.org\")) NIL NIL NIL NIL NIL) (\"text\" \"plain\" "
	    "(\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1 NIL NIL NIL NIL) 6 NIL NIL NIL NIL) "
	    "\"mixed\" (\"boundary\" \"foo bar\") NIL NIL NIL",
	    NULL);
	vector(
	    "From: user@domain.org\nDate: Sat, 24 Mar 2007 23:00:00 +0200\nMime-Version: 1.0\n"
	    "Content-Type: multipart/mixed; boundary=\"foo\n bar\"\n\nRoot MIME prologue\n\n"
	    "--foo bar\nContent-Type: text/x-myown; charset=us-ascii; foo=\"quoted\\\"string\"\n"
	    "Content-ID: <foo@example.com>\nContent-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\n"
	    "Content-Disposition: inline; foo=bar\nContent-Description: hellodescription\n"
	    "Content-Language: en, fi, se\nContent-Location: http://example.com/test.txt\n\n"
	    "hello\n\n--foo bar\nContent-Type: message/rfc822\n\nFrom: sub@domain.org\n"
	    "To: sub-to1@domain.org, sub-to2@domain.org\nDate: Sun, 12 Aug 2012 12:34:56 +0300\n"
	    "Subject: submsg\nContent-Type: multipart/alternative; boundary=\"sub1\"\n\n"
	    "Sub MIME prologue\n--sub1\nContent-Type: text/html\nContent-Transfer-Encoding: 8bit\n"
	    "\n<p>Hello world</p>\n\n--sub1\nContent-Type: text/plain\n"
	    "Content-Transfer-Encoding: ?invalid\n\nHello another world\n\n--sub1--\n"
	    "Sub MIME epilogue\n\n--foo bar--\nRoot MIME epilogue\n",
	    "(\"text\" \"x-myown\" (\"charset\" \"us-ascii\" \"foo\" \"quoted\\\"string\") "
	    "\"<foo@example.com>\" \"hellodescription\" \"7bit\" 7 1 \"Q2hlY2sgSW50ZWdyaXR5IQ==\" "
	    "(\"inline\" (\"foo\" \"bar\")) (\"en\" \"fi\" \"se\") \"http://example.com/test.txt\")"
	    "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 412 (\"Sun, 12 Aug 2012 12:34:56 +0300\" "
	    "\"submsg\" ((NIL NIL \"sub\" \"domain.org\")) ((NIL NIL \"sub\" \"domain.org\")) "
	    "((NIL "
	    "NIL \"sub\" \"domain.org\")) ((NIL NIL \"sub-to1\" \"domain.org\")(NIL NIL "
	    "\"sub-to2\" "
	    "\"domain.org\")) NIL NIL NIL NIL) ((\"text\" \"html\" (\"charset\" \"us-ascii\") NIL "
	    "NIL \"8bit\" 20 1 NIL NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL "
	    "NIL \"7bit\" 21 1 NIL NIL NIL NIL) \"alternative\" (\"boundary\" \"sub1\") NIL NIL "
	    "NIL) "
	    "21 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"foo bar\") NIL NIL NIL",
	    "(\"text\" \"x-myown\" (\"charset\" \"us-ascii\" \"foo\" \"quoted\\\"string\") "
	    "\"<foo@example.com>\" \"hellodescription\" \"7bit\" 7 1)(\"message\" \"rfc822\" NIL "
	    "NIL NIL \"7bit\" 412 (\"Sun, 12 Aug 2012 12:34:56 +0300\" \"submsg\" ((NIL NIL "
	    "\"sub\" "
	    "\"domain.org\")) ((NIL NIL \"sub\" \"domain.org\")) ((NIL NIL \"sub\" "
	    "\"domain.org\")) "
	    "((NIL NIL \"sub-to1\" \"domain.org\")(NIL NIL \"sub-to2\" \"domain.org\")) NIL NIL "
	    "NIL "
	    "NIL) ((\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"8bit\" 20 1)(\"text\" "
	    "\"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 21 1) \"alternative\") 21) "
	    "\"mixed\"");
	/* A multipart without parts gets one empty text part. */
	vector(
	    "Content-Type: multipart/mixed; boundary=\"foo\"\n\n",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) "
	    "\"mixed\" (\"boundary\" \"foo\") NIL NIL NIL",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) \"mixed\"");
}

static void test_imaptest_vector(void **state)
{
	(void)state;
	/* imaptest fetch-bodystructure (it compares case-insensitively). */
	vector("From: user@domain.org\nDate: Sat, 24 Mar 2007 23:00:00 +0200\nMime-Version: 1.0\n"
	       "Content-Type: multipart/mixed; boundary=\"foo\n bar\"\n\n--foo bar\n"
	       "Content-Type: text/x-myown; charset=us-ascii\n\nhello\n\n--foo bar--\n",
	       "(\"text\" \"x-myown\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 7 1 NIL NIL NIL "
	       "NIL) \"mixed\" (\"boundary\" \"foo bar\") NIL NIL NIL",
	       "(\"text\" \"x-myown\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 7 1) \"mixed\"");
}

static void test_params(void **state)
{
	(void)state;
	/* RFC 2231: continuations merged, encoded values kept encoded. */
	vector(
	    "Content-Type: application/pdf;\n name*0*=utf-8''%E2%82%AC%20;\n name*1*=rates.pdf\n"
	    "Content-Disposition: attachment;\n filename*0=\"long \";\n filename*1=\"name.pdf\"\n"
	    "Content-Transfer-Encoding: base64\n\nAAAA\n",
	    "\"application\" \"pdf\" (\"name*\" \"utf-8''%E2%82%AC%20rates.pdf\") NIL NIL "
	    "\"base64\" 6 NIL (\"attachment\" (\"filename\" \"long name.pdf\")) NIL NIL",
	    "\"application\" \"pdf\" (\"name*\" \"utf-8''%E2%82%AC%20rates.pdf\") NIL NIL "
	    "\"base64\" 6");
	/* A text part without charset gets the default after its others. */
	vector(
	    "Content-Type: text/html; format=flowed\n\nx",
	    "\"text\" \"html\" (\"format\" \"flowed\" \"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 "
	    "0 NIL NIL NIL NIL",
	    NULL);
	/* Non-text without parameters: NIL. Disposition without them: NIL. */
	vector("Content-Type: image/gif\nContent-Disposition: inline\n\nGIF",
	       "\"image\" \"gif\" NIL NIL NIL \"7bit\" 3 NIL (\"inline\" NIL) NIL NIL", NULL);
	/* 8-bit parameter values: literals, or quoted with UTF8=ACCEPT. */
	vector(
	    "Content-Type: text/plain; name=\"caf\xc3\xa9.txt\"\n\n",
	    "\"text\" \"plain\" (\"name\" {9}\r\ncaf\xc3\xa9.txt \"charset\" \"us-ascii\") NIL NIL "
	    "\"7bit\" 0 0 NIL NIL NIL NIL",
	    NULL);
	vector_flags(
	    "Content-Type: text/plain; name=\"caf\xc3\xa9.txt\"\n\n", NULL, IMAP_QUOTE_UTF8,
	    "\"text\" \"plain\" (\"name\" \"caf\xc3\xa9.txt\" \"charset\" \"us-ascii\") NIL "
	    "NIL \"7bit\" 0 0 NIL NIL NIL NIL",
	    NULL);
	/* Unknown encodings are shown as written. */
	vector(
	    "MIME-Version: 1.0\nContent-Transfer-Encoding: X-UUENCODE\n\nbegin\n",
	    "\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"X-UUENCODE\" 7 1 NIL NIL NIL "
	    "NIL",
	    NULL);
}

static void test_messages(void **state)
{
	(void)state;
	/* message/global, digest defaults, empty embedded message. */
	vector(
	    "Content-Type: message/global\n\nSubject: s\n\nb\n",
	    "\"message\" \"global\" NIL NIL NIL \"7bit\" 17 (NIL \"s\" NIL NIL NIL NIL NIL NIL NIL "
	    "NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1 NIL NIL NIL "
	    "NIL) 3 NIL NIL NIL NIL",
	    NULL);
	vector(
	    "Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: one\n\n1\n--d--\n",
	    "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 17 (NIL \"one\" NIL NIL NIL NIL NIL NIL "
	    "NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0 NIL NIL "
	    "NIL NIL) 2 NIL NIL NIL NIL) \"digest\" (\"boundary\" \"d\") NIL NIL NIL",
	    NULL);
	vector(
	    "Content-Type: message/rfc822\n\n",
	    "\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 0 (NIL NIL NIL NIL NIL NIL NIL NIL NIL "
	    "NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL "
	    "NIL) 0 NIL NIL NIL NIL",
	    "\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 0 (NIL NIL NIL NIL NIL NIL NIL NIL NIL "
	    "NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) 0");
}

static void test_limits(void **state)
{
	(void)state;
	struct mime_limits lim;
	mime_limits_default(&lim);
	lim.max_depth = 1;
	/* Parts the parser left opaque are application/octet-stream. */
	vector_flags(
	    "Content-Type: multipart/mixed; boundary=a\n\n--a\n"
	    "Content-Type: message/rfc822; x=y\n\nSubject: s\n\nb\n--a\n"
	    "Content-Type: multipart/alternative; boundary=b\n\n--b\n\nc\n--b--\n--a--\n",
	    &lim, 0,
	    "(\"application\" \"octet-stream\" (\"x\" \"y\") NIL NIL \"7bit\" 15 NIL NIL "
	    "NIL NIL)(\"application\" \"octet-stream\" (\"boundary\" \"b\") NIL NIL \"7bit\" "
	    "15 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"a\") NIL NIL NIL",
	    NULL);

	/* 200 nested messages: 50 levels described, no recursion. */
	struct buf m;
	buf_init(&m, 0);
	for (int i = 0; i < 200; i++)
		buf_append_str(&m, "Content-Type: message/rfc822\r\n\r\n");
	buf_append_str(&m, "\r\nend\r\n");
	struct mime_tree *t = mime_parse(m.data, m.len, NULL);
	struct buf b;
	buf_init(&b, 0);
	assert_int_equal(imap_bodystructure_write(&b, t, true, 0), 0);
	size_t opens = 0, closes = 0;
	for (size_t i = 0; i < b.len; i++) {
		opens += b.data[i] == '(';
		closes += b.data[i] == ')';
	}
	assert_int_equal(opens, closes);
	assert_non_null(strstr(b.data, "\"application\" \"octet-stream\""));
	/* Bounded output fails cleanly. */
	struct buf small;
	buf_init(&small, 100);
	assert_int_equal(imap_bodystructure_write(&small, t, true, 0), -1);
	buf_free(&small);
	/* One part of the tree. */
	buf_reset(&b);
	assert_int_equal(imap_bodystructure_write_part(&b, t, &t->parts[t->nparts - 1], false, 0),
			 0);
	/* 149 more headers of 32 bytes and "\r\nend\r\n". */
	assert_string_equal(b.data, "(\"application\" \"octet-stream\" NIL NIL NIL \"7bit\" 4775)");
	buf_free(&b);
	mime_tree_free(&t);
	buf_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dovecot_vectors), cmocka_unit_test(test_imaptest_vector),
	    cmocka_unit_test(test_params),	    cmocka_unit_test(test_messages),
	    cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests_name("imap_bodystructure", tests, NULL, NULL);
}
