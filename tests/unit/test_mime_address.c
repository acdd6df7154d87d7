/* test_mime_address.c - unit tests for the RFC 5322 address-list parser
 * (mime_address.c): the Appendix A examples (A.1, A.3, A.5, A.6 obsolete
 * forms), groups, routes, comments as names, and the junk real mail
 * carries, rendered the way ENVELOPE shows it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mime/mime_address.h"

static size_t put_n(char *out, size_t n, size_t cap, const char *p, size_t len)
{
	if (p == NULL)
		return n + (size_t)snprintf(out + n, cap - n, "NIL");
	return n + (size_t)snprintf(out + n, cap - n, "\"%.*s\"", (int)len, p);
}

/* Render like ENVELOPE: (name route mailbox host)... */
static void addrs(const char *in, size_t max, const char *want)
{
	size_t len = strlen(in);
	char *copy = malloc(len == 0 ? 1 : len);
	assert_non_null(copy);
	memcpy(copy, in, len);
	struct mime_address_list l;
	mime_address_list_init(&l);
	mime_address_parse(&l, copy, len, max);
	char got[4096];
	size_t n = 0;
	got[0] = '\0';
	for (size_t i = 0; i < l.n; i++) {
		const struct mime_address *a = &l.v[i];
		n += (size_t)snprintf(got + n, sizeof(got) - n, "(");
		n = put_n(got, n, sizeof(got), a->name, a->name_len);
		got[n++] = ' ';
		n = put_n(got, n, sizeof(got), a->route, a->route_len);
		got[n++] = ' ';
		n = put_n(got, n, sizeof(got), a->mailbox, a->mailbox_len);
		got[n++] = ' ';
		n = put_n(got, n, sizeof(got), a->domain, a->domain_len);
		n += (size_t)snprintf(got + n, sizeof(got) - n, ")");
	}
	if (strcmp(got, want) != 0)
		fail_msg("addrs(\"%s\"):\n got %s\nwant %s", in, got, want);
	mime_address_list_free(&l);
	free(copy);
}

static void test_rfc5322_a1(void **state)
{
	(void)state;
	addrs("John Doe <jdoe@machine.example>", 0,
	      "(\"John Doe\" NIL \"jdoe\" \"machine.example\")");
	addrs("\"Joe Q. Public\" <john.q.public@example.com>", 0,
	      "(\"Joe Q. Public\" NIL \"john.q.public\" \"example.com\")");
	addrs("Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>", 0,
	      "(\"Mary Smith\" NIL \"mary\" \"x.test\")(NIL NIL \"jdoe\" \"example.org\")"
	      "(\"Who?\" NIL \"one\" \"y.test\")");
	addrs("<boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>", 0,
	      "(NIL NIL \"boss\" \"nil.test\")(\"Giant; \"Big\" Box\" NIL \"sysservices\" "
	      "\"example.net\")");
	/* A.1.3 groups. */
	addrs("A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;", 0,
	      "(NIL NIL \"A Group\" NIL)(\"Ed Jones\" NIL \"c\" \"a.test\")"
	      "(NIL NIL \"joe\" \"where.test\")(\"John\" NIL \"jdoe\" \"one.test\")"
	      "(NIL NIL NIL NIL)");
	addrs("Undisclosed recipients:;", 0,
	      "(NIL NIL \"Undisclosed recipients\" NIL)(NIL NIL NIL NIL)");
}

static void test_rfc5322_a5(void **state)
{
	(void)state;
	addrs("Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>", 0,
	      "(\"Pete\" NIL \"pete\" \"silly.test\")");
	addrs("A Group(Some people)\r\n     :Chris Jones <c@(Chris's host.)public.example>,\r\n"
	      "         joe@example.org,\r\n  John <jdoe@one.test> (my dear friend); (the end of "
	      "the group)",
	      0,
	      "(NIL NIL \"A Group\" NIL)(\"Chris Jones\" NIL \"c\" \"public.example\")"
	      "(NIL NIL \"joe\" \"example.org\")(\"John\" NIL \"jdoe\" \"one.test\")"
	      "(NIL NIL NIL NIL)");
	addrs("(Empty list)(start)Hidden recipients  :(nobody(that I know))  ;", 0,
	      "(NIL NIL \"Hidden recipients\" NIL)(NIL NIL NIL NIL)");
}

static void test_rfc5322_a6(void **state)
{
	(void)state;
	/* A.6.1 obsolete addressing. */
	addrs("Joe Q. Public <john.q.public@example.com>", 0,
	      "(\"Joe Q. Public\" NIL \"john.q.public\" \"example.com\")");
	addrs("Mary Smith <@node.test:mary@example.net>, , jdoe@test  . example", 0,
	      "(\"Mary Smith\" \"@node.test\" \"mary\" \"example.net\")"
	      "(NIL NIL \"jdoe\" \"test.example\")");
	/* A.6.3 obsolete white space and comments. */
	addrs("John Doe <jdoe@machine(comment).  example>", 0,
	      "(\"John Doe\" NIL \"jdoe\" \"machine.example\")");
	addrs("Mary Smith\r\n    \r\n <mary@example.net>", 0,
	      "(\"Mary Smith\" NIL \"mary\" \"example.net\")");
	/* Routes with several hops. */
	addrs("<@a.test, @b.test:u@c.test>", 0, "(NIL \"@a.test,@b.test\" \"u\" \"c.test\")");
	addrs("<@route:user@domain>", 0, "(NIL \"@route\" \"user\" \"domain\")");
}

static void test_comments_as_names(void **state)
{
	(void)state;
	addrs("user@domain (Real Name)", 0, "(\"Real Name\" NIL \"user\" \"domain\")");
	addrs("user@domain (first) (second)", 0, "(\"second\" NIL \"user\" \"domain\")");
	addrs("user@domain ()", 0, "(NIL NIL \"user\" \"domain\")");
	addrs("Name <user@domain> (ignored)", 0, "(\"Name\" NIL \"user\" \"domain\")");
	addrs("user@domain (a (nested) one)", 0, "(\"a (nested) one\" NIL \"user\" \"domain\")");
}

static void test_imaptest(void **state)
{
	(void)state;
	/* imaptest fetch-envelope message 4. */
	addrs("group: g1@d1.org, g2@d2.org;, group2: g3@d3.org;", 0,
	      "(NIL NIL \"group\" NIL)(NIL NIL \"g1\" \"d1.org\")(NIL NIL \"g2\" \"d2.org\")"
	      "(NIL NIL NIL NIL)(NIL NIL \"group2\" NIL)(NIL NIL \"g3\" \"d3.org\")"
	      "(NIL NIL NIL NIL)");
	addrs("group:;, group2: (foo) ;", 0,
	      "(NIL NIL \"group\" NIL)(NIL NIL NIL NIL)(NIL NIL \"group2\" NIL)(NIL NIL NIL NIL)");
	addrs("", 0, "");
	addrs("   ", 0, "");
	addrs("(just a comment)", 0, "");
}

static void test_junk(void **state)
{
	(void)state;
	addrs("Real Name user@domain", 0, "(\"Real Name\" NIL \"user\" \"domain\")");
	addrs("user @host", 0, "(NIL NIL \"user\" \"host\")");
	addrs("john. doe@x", 0, "(NIL NIL \"john.doe\" \"x\")");
	addrs("undisclosed-recipients", 0,
	      "(NIL NIL \"undisclosed-recipients\" \"MISSING_DOMAIN\")");
	addrs("<>", 0, "(NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")");
	addrs("@domain", 0, "(NIL NIL \"MISSING_MAILBOX\" \"domain\")");
	addrs("Doe, John <j@x>", 0,
	      "(NIL NIL \"Doe\" \"MISSING_DOMAIN\")(\"John\" NIL \"j\" \"x\")");
	addrs("a@b; c@d", 0, "(NIL NIL \"a\" \"b\")(NIL NIL \"c\" \"d\")");
	addrs(",,, a@b ,,", 0, "(NIL NIL \"a\" \"b\")");
	/* Unterminated group, angle bracket, quote, comment. */
	addrs("group: a@b", 0, "(NIL NIL \"group\" NIL)(NIL NIL \"a\" \"b\")(NIL NIL NIL NIL)");
	addrs("Name <a@b", 0, "(\"Name\" NIL \"a\" \"b\")");
	addrs("\"Unclosed <a@b>", 0, "(NIL NIL \"Unclosed <a@b>\" \"MISSING_DOMAIN\")");
	addrs("a@b (unclosed", 0, "(\"unclosed\" NIL \"a\" \"b\")");
	/* Display names: encoded words and 8-bit stay raw. */
	addrs("=?utf-8?q?J=C3=B6rg?= <j@x>", 0, "(\"=?utf-8?q?J=C3=B6rg?=\" NIL \"j\" \"x\")");
	addrs("J\xc3\xb6rg <j@x>", 0, "(\"J\xc3\xb6rg\" NIL \"j\" \"x\")");
	addrs("[JIRA] Some One <jira@x>", 0, "(\"[JIRA] Some One\" NIL \"jira\" \"x\")");
	addrs("\"\" <u@d>", 0, "(NIL NIL \"u\" \"d\")");
	addrs("\"Joe\" \"Q\" <u@d>", 0, "(\"Joe Q\" NIL \"u\" \"d\")");
	/* Quoted local parts come back unquoted; domain literals stay. */
	addrs("\"john doe\"@example.com", 0, "(NIL NIL \"john doe\" \"example.com\")");
	addrs("u@[192.0.2.1]", 0, "(NIL NIL \"u\" \"[192.0.2.1]\")");
	addrs("\"\"@x", 0, "(NIL NIL \"\" \"x\")");
	/* A second '@' goes to the domain. */
	addrs("a@b@c", 0, "(NIL NIL \"a\" \"b@c\")");
	/* Stray '>' and '<'. */
	addrs("a@b>", 0, "(NIL NIL \"a\" \"b\")");
	addrs("<<a@b>>", 0, "(NIL NIL \"a\" \"b\")");
	/* ':' after '@' or '<' is not a group. */
	addrs("a@b:c", 0, "(NIL NIL \"a\" \"b:c\")");
	/* ':' inside a group is junk in a mailbox. */
	addrs("g: a:b@c;", 0, "(NIL NIL \"g\" NIL)(NIL NIL \"a:b\" \"c\")(NIL NIL NIL NIL)");
	/* Empty group name. */
	addrs(":;", 0, "(NIL NIL \"\" NIL)(NIL NIL NIL NIL)");
	/* Line breaks inside quotes and comments are dropped. */
	addrs("\"a\r\n b\" <x@y>", 0, "(\"a b\" NIL \"x\" \"y\")");
}

static void test_limits(void **state)
{
	(void)state;
	addrs("a@b, c@d, e@f", 2, "(NIL NIL \"a\" \"b\")(NIL NIL \"c\" \"d\")");
	/* A group is closed even when cut. */
	addrs("g: a@b, c@d;", 3, "(NIL NIL \"g\" NIL)(NIL NIL \"a\" \"b\")(NIL NIL NIL NIL)");
	addrs("x@y, g: a@b;", 2, "(NIL NIL \"x\" \"y\")");
	struct mime_address_list l;
	mime_address_list_init(&l);
	mime_address_parse(&l, "a@b, c@d", 8, 1);
	assert_true(l.truncated);
	assert_int_equal(l.n, 1);
	/* Reuse. */
	mime_address_parse(&l, "x@y", 3, 0);
	assert_int_equal(l.n, 1);
	assert_false(l.truncated);
	assert_memory_equal(l.v[0].mailbox, "x", 1);
	mime_address_list_free(&l);
}

static void test_pathological(void **state)
{
	(void)state;
	size_t n = 100000;
	char *s = malloc(n);
	const char *patterns[] = {"(", "<", "\"", ",", ":", ";", "@", "a", "[", "\\", " "};
	for (size_t p = 0; p < sizeof(patterns) / sizeof(patterns[0]); p++) {
		memset(s, patterns[p][0], n);
		struct mime_address_list l;
		mime_address_list_init(&l);
		mime_address_parse(&l, s, n, 1000);
		assert_true(l.n <= 1000);
		for (size_t i = 0; i < l.n; i++) {
			const struct mime_address *a = &l.v[i];
			if (a->name != NULL)
				assert_true(a->name_len <= n);
		}
		mime_address_list_free(&l);
	}
	/* Many addresses: linear. */
	struct mime_address_list l;
	mime_address_list_init(&l);
	char *big = malloc(20 * 20000);
	size_t len = 0;
	for (int i = 0; i < 20000; i++)
		len += (size_t)sprintf(big + len, "u%d@example.org, ", i);
	mime_address_parse(&l, big, len, 0);
	assert_int_equal(l.n, 20000);
	mime_address_list_free(&l);
	free(big);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc5322_a1), cmocka_unit_test(test_rfc5322_a5),
	    cmocka_unit_test(test_rfc5322_a6), cmocka_unit_test(test_comments_as_names),
	    cmocka_unit_test(test_imaptest),   cmocka_unit_test(test_junk),
	    cmocka_unit_test(test_limits),     cmocka_unit_test(test_pathological),
	};
	return cmocka_run_group_tests_name("mime_address", tests, NULL, NULL);
}
