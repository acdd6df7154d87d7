/* test_imap_envelope.c - unit tests for ENVELOPE rendering
 * (imap_envelope.c) and the IMAP string quoting it relies on
 * (imap_quote.c): the imaptest fetch-envelope vectors, the RFC 5322
 * Appendix A messages, defaults, first-occurrence rule, 8-bit headers with
 * and without UTF8=ACCEPT, literals, bounded output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "imap/imap_envelope.h"
#include "imap/imap_quote.h"

/* LF -> CRLF, as imaptest does when it appends an mbox message. */
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

static void env_flags(const char *msg, unsigned flags, const char *want)
{
	size_t len;
	char *m = crlf(msg, &len);
	struct buf b;
	buf_init(&b, 0);
	assert_int_equal(imap_envelope_write(&b, m, len, flags), 0);
	if (strcmp(b.data, want) != 0)
		fail_msg("envelope:\n got %s\nwant %s", b.data, want);
	buf_free(&b);
	free(m);
}

static void env(const char *msg, const char *want)
{
	env_flags(msg, 0, want);
}

static void test_imaptest(void **state)
{
	(void)state;
	env("Message-ID: <msg@id>\nIn-Reply-To: <reply@to.id>\n"
	    "Date: Thu, 15 Feb 2007 01:02:03 +0200\nSubject: subject header\n"
	    "From: From Real <fromuser@fromdomain.org>\nTo: To Real <touser@todomain.org>\n"
	    "Cc: Cc Real <ccuser@ccdomain.org>\nBcc: Bcc Real <bccuser@bccdomain.org>\n"
	    "Sender: Sender Real <senderuser@senderdomain.org>\n"
	    "Reply-To: ReplyTo Real <replytouser@replytodomain.org>\n\nbody\n",
	    "(\"Thu, 15 Feb 2007 01:02:03 +0200\" \"subject header\" "
	    "((\"From Real\" NIL \"fromuser\" \"fromdomain.org\")) "
	    "((\"Sender Real\" NIL \"senderuser\" \"senderdomain.org\")) "
	    "((\"ReplyTo Real\" NIL \"replytouser\" \"replytodomain.org\")) "
	    "((\"To Real\" NIL \"touser\" \"todomain.org\")) "
	    "((\"Cc Real\" NIL \"ccuser\" \"ccdomain.org\")) "
	    "((\"Bcc Real\" NIL \"bccuser\" \"bccdomain.org\")) \"<reply@to.id>\" \"<msg@id>\")");
	env("Date: Thu, 15 Feb 2007 01:02:03 +0200\nFrom: user@domain\n\nbody\n",
	    "(\"Thu, 15 Feb 2007 01:02:03 +0200\" NIL ((NIL NIL \"user\" \"domain\")) "
	    "((NIL NIL \"user\" \"domain\")) ((NIL NIL \"user\" \"domain\")) NIL NIL NIL NIL NIL)");
	env("Date: Thu, 15 Feb 2007 01:02:03 +0200\nFrom: user@domain (Real Name)\n"
	    "To: group: g1@d1.org, g2@d2.org;, group2: g3@d3.org;\n"
	    "Cc: group:;, group2: (foo) ;\n\nbody\n",
	    "(\"Thu, 15 Feb 2007 01:02:03 +0200\" NIL ((\"Real Name\" NIL \"user\" \"domain\")) "
	    "((\"Real Name\" NIL \"user\" \"domain\")) ((\"Real Name\" NIL \"user\" \"domain\")) "
	    "((NIL NIL \"group\" NIL)(NIL NIL \"g1\" \"d1.org\")(NIL NIL \"g2\" \"d2.org\")"
	    "(NIL NIL NIL NIL)(NIL NIL \"group2\" NIL)(NIL NIL \"g3\" \"d3.org\")"
	    "(NIL NIL NIL NIL)) ((NIL NIL \"group\" NIL)(NIL NIL NIL NIL)"
	    "(NIL NIL \"group2\" NIL)(NIL NIL NIL NIL)) NIL NIL NIL)");
	/* Empty Sender and Reply-To default to From. */
	env("Date: Thu, 15 Feb 2007 01:02:03 +0200\nFrom: user@domain (Real Name)\n"
	    "Sender: \nReply-To: \n\nbody\n",
	    "(\"Thu, 15 Feb 2007 01:02:03 +0200\" NIL ((\"Real Name\" NIL \"user\" \"domain\")) "
	    "((\"Real Name\" NIL \"user\" \"domain\")) ((\"Real Name\" NIL \"user\" \"domain\")) "
	    "NIL NIL NIL NIL NIL)");
	env("Date: Thu, 15 Feb 2007 01:02:03 +0200\nFrom: <@route:user@domain>\n\nbody\n",
	    "(\"Thu, 15 Feb 2007 01:02:03 +0200\" NIL ((NIL \"@route\" \"user\" \"domain\")) "
	    "((NIL \"@route\" \"user\" \"domain\")) ((NIL \"@route\" \"user\" \"domain\")) "
	    "NIL NIL NIL NIL NIL)");
}

static void test_rfc5322_appendix_a(void **state)
{
	(void)state;
	/* A.1.1 */
	env("From: John Doe <jdoe@machine.example>\nTo: Mary Smith <mary@example.net>\n"
	    "Subject: Saying Hello\nDate: Fri, 21 Nov 1997 09:55:06 -0600\n"
	    "Message-ID: <1234@local.machine.example>\n\nThis is a message just to say hello.\n",
	    "(\"Fri, 21 Nov 1997 09:55:06 -0600\" \"Saying Hello\" "
	    "((\"John Doe\" NIL \"jdoe\" \"machine.example\")) "
	    "((\"John Doe\" NIL \"jdoe\" \"machine.example\")) "
	    "((\"John Doe\" NIL \"jdoe\" \"machine.example\")) "
	    "((\"Mary Smith\" NIL \"mary\" \"example.net\")) NIL NIL NIL "
	    "\"<1234@local.machine.example>\")");
	/* A.1.2 */
	env("From: \"Joe Q. Public\" <john.q.public@example.com>\n"
	    "To: Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>\n"
	    "Cc: <boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>\n"
	    "Date: Tue, 1 Jul 2003 10:52:37 +0200\nMessage-ID: <5678.21-Nov-1997@example.com>\n"
	    "\nHi everyone.\n",
	    "(\"Tue, 1 Jul 2003 10:52:37 +0200\" NIL "
	    "((\"Joe Q. Public\" NIL \"john.q.public\" \"example.com\")) "
	    "((\"Joe Q. Public\" NIL \"john.q.public\" \"example.com\")) "
	    "((\"Joe Q. Public\" NIL \"john.q.public\" \"example.com\")) "
	    "((\"Mary Smith\" NIL \"mary\" \"x.test\")(NIL NIL \"jdoe\" \"example.org\")"
	    "(\"Who?\" NIL \"one\" \"y.test\")) ((NIL NIL \"boss\" \"nil.test\")"
	    "(\"Giant; \\\"Big\\\" Box\" NIL \"sysservices\" \"example.net\")) NIL NIL "
	    "\"<5678.21-Nov-1997@example.com>\")");
	/* A.2 reply: In-Reply-To, folded References ignored. */
	env("From: Mary Smith <mary@example.net>\n"
	    "To: John Doe <jdoe@machine.example>\n"
	    "Reply-To: \"Mary Smith: Personal Account\" <smith@home.example>\n"
	    "Subject: Re: Saying Hello\nDate: Fri, 21 Nov 1997 10:01:10 -0600\n"
	    "Message-ID: <3456@example.net>\nIn-Reply-To: <1234@local.machine.example>\n"
	    "References: <1234@local.machine.example>\n\nThis is a reply to your hello.\n",
	    "(\"Fri, 21 Nov 1997 10:01:10 -0600\" \"Re: Saying Hello\" "
	    "((\"Mary Smith\" NIL \"mary\" \"example.net\")) "
	    "((\"Mary Smith\" NIL \"mary\" \"example.net\")) "
	    "((\"Mary Smith: Personal Account\" NIL \"smith\" \"home.example\")) "
	    "((\"John Doe\" NIL \"jdoe\" \"machine.example\")) NIL NIL "
	    "\"<1234@local.machine.example>\" \"<3456@example.net>\")");
	/* A.5 white space, comments: raw, unfolded values. */
	env("From: Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>\n"
	    "To:A Group(Some people)\n     :Chris Jones <c@(Chris's host.)public.example>,\n"
	    "         joe@example.org,\n  John <jdoe@one.test> (my dear friend); (the end of "
	    "the group)\nCc:(Empty list)(start)Hidden recipients  :(nobody(that I know))  ;\n"
	    "Date: Thu,\n      13\n        Feb\n          1969\n      23:32\n"
	    "               -0330 (Newfoundland Time)\n"
	    "Message-ID:              <testabcd.1234@silly.test>\n\nTesting.\n",
	    "(\"Thu,      13        Feb          1969      23:32               -0330 "
	    "(Newfoundland Time)\" NIL ((\"Pete\" NIL \"pete\" \"silly.test\")) "
	    "((\"Pete\" NIL \"pete\" \"silly.test\")) ((\"Pete\" NIL \"pete\" \"silly.test\")) "
	    "((NIL NIL \"A Group\" NIL)(\"Chris Jones\" NIL \"c\" \"public.example\")"
	    "(NIL NIL \"joe\" \"example.org\")(\"John\" NIL \"jdoe\" \"one.test\")"
	    "(NIL NIL NIL NIL)) ((NIL NIL \"Hidden recipients\" NIL)(NIL NIL NIL NIL)) NIL NIL "
	    "\"<testabcd.1234@silly.test>\")");
	/* A.6.3 obsolete white space and comments. */
	env("From  : John Doe <jdoe@machine(comment).  example>\n"
	    "To    : Mary Smith\n  \n          <mary@example.net>\n"
	    "Subject     : Saying Hello\nDate  : Fri, 21 Nov 1997 09(comment):   55  :  06 -0600\n"
	    "Message-ID  : <1234   @   local(blah)  .machine .example>\n\n"
	    "This is a message just to say hello.\n",
	    "(\"Fri, 21 Nov 1997 09(comment):   55  :  06 -0600\" \"Saying Hello\" "
	    "((\"John Doe\" NIL \"jdoe\" \"machine.example\")) "
	    "((\"John Doe\" NIL \"jdoe\" \"machine.example\")) "
	    "((\"John Doe\" NIL \"jdoe\" \"machine.example\")) "
	    "((\"Mary Smith\" NIL \"mary\" \"example.net\")) NIL NIL NIL "
	    "\"<1234   @   local(blah)  .machine .example>\")");
}

static void test_defaults(void **state)
{
	(void)state;
	env("", "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
	env("\nbody\n", "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
	env("X-Other: 1\n\n", "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
	/* Empty subject is an empty string, not NIL. */
	env("Subject:\n\n", "(NIL \"\" NIL NIL NIL NIL NIL NIL NIL NIL)");
	/* Fields in the body are not header fields. */
	env("X: y\n\nSubject: no\n", "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
	/* First occurrence wins; names are case-insensitive. */
	env("SUBJECT: one\nsubject: two\nFROM: a@b\nfrom: c@d\n\n",
	    "(NIL \"one\" ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) "
	    "NIL NIL NIL NIL NIL)");
	/* Folded subject is unfolded, quotes and backslashes escaped. */
	env("Subject: a \"quoted\"\n \\ folded\n\n",
	    "(NIL \"a \\\"quoted\\\" \\\\ folded\" NIL NIL NIL NIL NIL NIL NIL NIL)");
	/* Encoded words stay encoded. */
	env("Subject: =?utf-8?q?caf=C3=A9?=\n\n",
	    "(NIL \"=?utf-8?q?caf=C3=A9?=\" NIL NIL NIL NIL NIL NIL NIL NIL)");
	/* No empty line at all: the header runs to the end. */
	env("Subject: x", "(NIL \"x\" NIL NIL NIL NIL NIL NIL NIL NIL)");
	/* A Sender that parses to nothing defaults to From. */
	env("From: a@b\nSender: (nobody)\n\n",
	    "(NIL NIL ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) "
	    "NIL NIL NIL NIL NIL)");
	/* Without From, Sender and Reply-To stay NIL. */
	env("To: a@b\n\n", "(NIL NIL NIL NIL NIL ((NIL NIL \"a\" \"b\")) NIL NIL NIL NIL)");
}

static void test_8bit(void **state)
{
	(void)state;
	const char *msg = "Subject: caf\xc3\xa9\nFrom: J\xc3\xb6rg <j@x>\n\n";
	/* IMAP4rev1 client: raw bytes as literals. */
	env_flags(msg, 0,
		  "(NIL {5}\r\ncaf\xc3\xa9 (({5}\r\nJ\xc3\xb6rg NIL \"j\" \"x\")) "
		  "(({5}\r\nJ\xc3\xb6rg NIL \"j\" \"x\")) (({5}\r\nJ\xc3\xb6rg NIL \"j\" \"x\")) "
		  "NIL NIL NIL NIL NIL)");
	/* UTF8=ACCEPT: valid UTF-8 quoted. */
	env_flags(msg, IMAP_QUOTE_UTF8,
		  "(NIL \"caf\xc3\xa9\" ((\"J\xc3\xb6rg\" NIL \"j\" \"x\")) "
		  "((\"J\xc3\xb6rg\" NIL \"j\" \"x\")) ((\"J\xc3\xb6rg\" NIL \"j\" \"x\")) "
		  "NIL NIL NIL NIL NIL)");
	/* Invalid UTF-8 is a literal even then. */
	env_flags("Subject: caf\xe9\n\n", IMAP_QUOTE_UTF8,
		  "(NIL {4}\r\ncaf\xe9 NIL NIL NIL NIL NIL NIL NIL NIL)");
}

static void test_bounded(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 20);
	const char msg[] = "Subject: a rather long subject line\r\n\r\n";
	assert_int_equal(imap_envelope_write(&b, msg, sizeof(msg) - 1, 0), -1);
	buf_free(&b);
	/* Many recipients. */
	struct buf m;
	buf_init(&m, 0);
	buf_append_str(&m, "To: ");
	for (int i = 0; i < 20000; i++)
		buf_printf(&m, "u%d@x, ", i);
	buf_append_str(&m, "\r\n\r\n");
	buf_init(&b, 0);
	assert_int_equal(imap_envelope_write(&b, m.data, m.len, 0), 0);
	/* At most IMAP_ENVELOPE_MAX_ADDRESSES are rendered. */
	size_t n = 0;
	for (const char *p = b.data; (p = strstr(p, "(NIL NIL \"u")) != NULL; p++)
		n++;
	assert_int_equal(n, IMAP_ENVELOPE_MAX_ADDRESSES);
	buf_free(&b);
	buf_free(&m);
}

static void quote(unsigned kind, const char *s, size_t len, unsigned flags, const char *want,
		  size_t want_len)
{
	struct buf b;
	buf_init(&b, 0);
	int r = kind == 0   ? imap_append_string(&b, s, len, flags)
		: kind == 1 ? imap_append_nstring(&b, s, len, flags)
			    : imap_append_astring(&b, s, len, flags);
	assert_int_equal(r, 0);
	assert_int_equal(b.len, want_len);
	assert_memory_equal(b.data, want, want_len);
	buf_free(&b);
}

#define Q(kind, lit, flags, want) quote(kind, lit, sizeof(lit) - 1, flags, want, sizeof(want) - 1)

static void test_quote(void **state)
{
	(void)state;
	Q(0, "", 0, "\"\"");
	Q(0, "abc", 0, "\"abc\"");
	Q(0, "a\"b\\c", 0, "\"a\\\"b\\\\c\"");
	Q(0, "a\r\nb", 0, "{4}\r\na\r\nb");
	Q(0, "a\nb", 0, "{3}\r\na\nb");
	Q(0, "caf\xc3\xa9", 0, "{5}\r\ncaf\xc3\xa9");
	Q(0, "caf\xc3\xa9", IMAP_QUOTE_UTF8, "\"caf\xc3\xa9\"");
	Q(0, "caf\xe9", IMAP_QUOTE_UTF8, "{4}\r\ncaf\xe9");
	/* NUL bytes cannot be sent: dropped. */
	Q(0, "a\0b", 0, "{2}\r\nab");
	Q(1, "x", 0, "\"x\"");
	quote(1, NULL, 0, 0, "NIL", 3);
	Q(2, "INBOX", 0, "INBOX");
	Q(2, "a]b", 0, "a]b");
	Q(2, "a b", 0, "\"a b\"");
	Q(2, "a(b", 0, "\"a(b\"");
	Q(2, "a%b", 0, "\"a%b\"");
	Q(2, "", 0, "\"\"");
	Q(2, "NIL", 0, "\"NIL\"");
	Q(2, "nil", 0, "\"nil\"");
	Q(2, "caf\xc3\xa9", IMAP_QUOTE_UTF8, "\"caf\xc3\xa9\"");
	/* Long strings become literals. */
	char *big = malloc(IMAP_QUOTE_MAX + 1);
	memset(big, 'a', IMAP_QUOTE_MAX + 1);
	struct buf b;
	buf_init(&b, 0);
	assert_int_equal(imap_append_string(&b, big, IMAP_QUOTE_MAX, 0), 0);
	assert_int_equal(b.data[0], '"');
	buf_reset(&b);
	assert_int_equal(imap_append_string(&b, big, IMAP_QUOTE_MAX + 1, 0), 0);
	assert_memory_equal(b.data, "{1025}\r\naaa", 11);
	buf_reset(&b);
	assert_int_equal(imap_append_astring(&b, big, IMAP_QUOTE_MAX + 1, 0), 0);
	assert_int_equal(b.data[0], '{');
	buf_free(&b);
	free(big);
	/* Bounded. */
	buf_init(&b, 4);
	assert_int_equal(imap_append_string(&b, "abcdef", 6, 0), -1);
	buf_free(&b);
	buf_init(&b, 0);
	assert_int_equal(imap_append_nstring_str(&b, NULL, 0), 0);
	assert_int_equal(imap_append_nstring_str(&b, "x", 0), 0);
	assert_string_equal(b.data, "NIL\"x\"");
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_imaptest), cmocka_unit_test(test_rfc5322_appendix_a),
	    cmocka_unit_test(test_defaults), cmocka_unit_test(test_8bit),
	    cmocka_unit_test(test_bounded),  cmocka_unit_test(test_quote),
	};
	return cmocka_run_group_tests_name("imap_envelope", tests, NULL, NULL);
}
