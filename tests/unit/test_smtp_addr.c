/* test_smtp_addr.c - unit tests for the SMTP path/mailbox parser and
 * formatter (smtp_addr.c): RFC 5321 and RFC 3696 examples, quoting, source
 * routes, length limits, address literals, domains and IDN (RFC 6531). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smtp/smtp_addr.h"

#define NB SMTP_ADDR_NO_BRACKETS
#define U8 SMTP_ADDR_ALLOW_UTF8

static const char *err_name(enum smtp_addr_error e)
{
	switch (e) {
	case SMTP_ADDR_OK:
		return "OK";
	case SMTP_ADDR_ERR_SYNTAX:
		return "SYNTAX";
	case SMTP_ADDR_ERR_TOO_LONG:
		return "TOO_LONG";
	case SMTP_ADDR_ERR_SOURCE_ROUTE:
		return "SOURCE_ROUTE";
	case SMTP_ADDR_ERR_UTF8:
		return "UTF8";
	case SMTP_ADDR_ERR_IDN:
		return "IDN";
	}
	return "?";
}

/* Parse `len` bytes copied into a heap block of exactly that size (no
 * terminator), so that ASan catches any read beyond the input. */
static enum smtp_addr_error parse_n(const char *s, size_t len, unsigned flags,
				    struct smtp_addr *a, const char **why)
{
	char *copy = malloc(len == 0 ? 1 : len);
	assert_non_null(copy);
	memcpy(copy, s, len);
	*why = "not set";
	enum smtp_addr_error e = smtp_addr_parse(copy, len, flags, a, why);
	free(copy);
	if (e == SMTP_ADDR_OK && *why != NULL)
		fail_msg("\"%.*s\": error text set on success", (int)len, s);
	if (e != SMTP_ADDR_OK && (*why == NULL || (*why)[0] == '\0'))
		fail_msg("\"%.*s\": no error text", (int)len, s);
	return e;
}

static enum smtp_addr_error parse(const char *s, unsigned flags, struct smtp_addr *a)
{
	const char *why;
	return parse_n(s, strlen(s), flags, a, &why);
}

/* Expect success with the given local part and domain. */
static void ok(const char *s, unsigned flags, const char *local, const char *domain)
{
	struct smtp_addr a;
	enum smtp_addr_error e = parse(s, flags, &a);
	if (e != SMTP_ADDR_OK)
		fail_msg("\"%s\": got %s, want OK", s, err_name(e));
	if (strcmp(a.local, local) != 0)
		fail_msg("\"%s\": local \"%s\", want \"%s\"", s, a.local, local);
	if (strcmp(a.domain, domain) != 0)
		fail_msg("\"%s\": domain \"%s\", want \"%s\"", s, a.domain, domain);
	if (a.null || a.postmaster)
		fail_msg("\"%s\": flagged null/postmaster", s);
}

static void bad(const char *s, unsigned flags, enum smtp_addr_error want)
{
	struct smtp_addr a;
	enum smtp_addr_error e = parse(s, flags, &a);
	if (e != want)
		fail_msg("\"%s\": got %s, want %s", s, err_name(e), err_name(want));
}

static void bad_n(const char *s, size_t len, unsigned flags, enum smtp_addr_error want)
{
	struct smtp_addr a;
	const char *why;
	enum smtp_addr_error e = parse_n(s, len, flags, &a, &why);
	if (e != want)
		fail_msg("\"%.*s\": got %s, want %s", (int)len, s, err_name(e), err_name(want));
}

#define BAD_N(lit, flags, want) bad_n(lit, sizeof(lit) - 1, flags, want)

static void test_rfc5321_examples(void **state)
{
	(void)state;
	/* Appendix D. */
	ok("<Smith@bar.com>", 0, "Smith", "bar.com");
	ok("<Jones@foo.com>", 0, "Jones", "foo.com");
	ok("<Green@foo.com>", 0, "Green", "foo.com");
	ok("<Brown@foo.com>", 0, "Brown", "foo.com");
	ok("<JQP@bar.com>", 0, "JQP", "bar.com");
	ok("<Jones@XYZ.COM>", 0, "Jones", "xyz.com");
	ok("<userx@y.foo.org>", 0, "userx", "y.foo.org"); /* 3.3 */
	/* 4.1.1.3: source routes must be accepted syntactically by old
	 * servers; we refuse them explicitly. */
	bad("<@ONE,@TWO:JOE@THREE>", 0, SMTP_ADDR_ERR_SOURCE_ROUTE);
	bad("<@hosta.int,@jkl.org:userc@d.bar.org>", 0, SMTP_ADDR_ERR_SOURCE_ROUTE);
}

static void test_rfc3696_examples(void **state)
{
	(void)state;
	/* RFC 3696 section 3 (with errata 246: backslash quoting outside a
	 * quoted string is not valid in RFC 5321). */
	ok("<\"Abc@def\"@example.com>", 0, "Abc@def", "example.com");
	ok("<\"Fred Bloggs\"@example.com>", 0, "Fred Bloggs", "example.com");
	ok("<\"Joe\\\\Blow\"@example.com>", 0, "Joe\\Blow", "example.com");
	ok("<customer/department=shipping@example.com>", 0, "customer/department=shipping",
	   "example.com");
	ok("<$A12345@example.com>", 0, "$A12345", "example.com");
	ok("<!def!xyz%abc@example.com>", 0, "!def!xyz%abc", "example.com");
	ok("<_somename@example.com>", 0, "_somename", "example.com");
	bad("<Abc\\@def@example.com>", 0, SMTP_ADDR_ERR_SYNTAX);
	bad("<Fred\\ Bloggs@example.com>", 0, SMTP_ADDR_ERR_SYNTAX);
	bad("<Joe.\\\\Blow@example.com>", 0, SMTP_ADDR_ERR_SYNTAX);
}

static void test_quoted_local_parts(void **state)
{
	(void)state;
	struct smtp_addr a;
	assert_int_equal(parse("<\"a\\\"b\"@x.example>", 0, &a), SMTP_ADDR_OK);
	assert_string_equal(a.local, "a\"b");
	assert_true(a.quoted);
	ok("<\"a\\\\b\"@x.example>", 0, "a\\b", "x.example");
	ok("<\"a\\bc\"@x.example>", 0, "abc", "x.example"); /* quoted-pair of a plain char */
	ok("<\"john  smith\"@x.example>", 0, "john  smith", "x.example");
	ok("<\"a.b\"@x.example>", 0, "a.b", "x.example");
	ok("<\"a..b\"@x.example>", 0, "a..b", "x.example");
	ok("<\".a\"@x.example>", 0, ".a", "x.example");
	ok("<\"\"@x.example>", 0, "", "x.example");
	ok("<\"a>b\"@x.example>", 0, "a>b", "x.example");
	ok("<\"a,b:c\"@x.example>", 0, "a,b:c", "x.example");
	/* '@' inside quotes belongs to the local part. */
	assert_int_equal(parse("<\"user@remote\"@local.example>", 0, &a), SMTP_ADDR_OK);
	assert_string_equal(a.local, "user@remote");
	assert_string_equal(a.domain, "local.example");
	assert_true(a.quoted);
	ok("\"user@remote\"@local.example", NB, "user@remote", "local.example");

	bad("<\"abc@x.example>", 0, SMTP_ADDR_ERR_SYNTAX);     /* unterminated */
	bad("<\"abc\\\"@x.example>", 0, SMTP_ADDR_ERR_SYNTAX); /* closing quote escaped */
	bad("<\"a\"b@x.example>", 0, SMTP_ADDR_ERR_SYNTAX);    /* junk after the quotes */
	bad("<\"a\".b@x.example>", 0, SMTP_ADDR_ERR_SYNTAX);   /* obs-local-part */
	bad("<\"a\">", 0, SMTP_ADDR_ERR_SYNTAX);               /* no domain */
	bad("<\"a\"@>", 0, SMTP_ADDR_ERR_SYNTAX);
	bad("<\"a\tb\"@x.example>", 0, SMTP_ADDR_ERR_SYNTAX);  /* HTAB is not qtextSMTP */
	bad("<\"a\\\tb\"@x.example>", 0, SMTP_ADDR_ERR_SYNTAX); /* nor quoted-pairSMTP */
	bad("<\"a\x7f\"@x.example>", 0, SMTP_ADDR_ERR_SYNTAX);
	bad("<\"a\x01\"@x.example>", 0, SMTP_ADDR_ERR_SYNTAX);
	BAD_N("<\"a\rb\"@x.example>", 0, SMTP_ADDR_ERR_SYNTAX);
	BAD_N("<\"a\0b\"@x.example>", 0, SMTP_ADDR_ERR_SYNTAX);
}

static void test_local_part_syntax(void **state)
{
	(void)state;
	ok("<user%other@local.example>", 0, "user%other", "local.example");
	ok("<a.b.c@x.example>", 0, "a.b.c", "x.example");
	ok("<a+tag@x.example>", 0, "a+tag", "x.example");
	ok("<#!$&'*+-/=?^_`{|}~@x.example>", 0, "#!$&'*+-/=?^_`{|}~", "x.example");
	ok("<MixedCase@x.example>", 0, "MixedCase", "x.example"); /* kept as given */
	bad("<user@remote@local.example>", 0, SMTP_ADDR_ERR_SYNTAX);
	bad("<.a@x.example>", 0, SMTP_ADDR_ERR_SYNTAX);
	bad("<a.@x.example>", 0, SMTP_ADDR_ERR_SYNTAX);
	bad("<a..b@x.example>", 0, SMTP_ADDR_ERR_SYNTAX);
	bad("<a b@x.example>", 0, SMTP_ADDR_ERR_SYNTAX);
	bad("<a(comment)@x.example>", 0, SMTP_ADDR_ERR_SYNTAX);
	bad("<a,b@x.example>", 0, SMTP_ADDR_ERR_SYNTAX);
	bad("<a:b@x.example>", 0, SMTP_ADDR_ERR_SYNTAX);
	bad("<a<b@x.example>", 0, SMTP_ADDR_ERR_SYNTAX);
	bad("<a\"b@x.example>", 0, SMTP_ADDR_ERR_SYNTAX);
	bad("<a[b]@x.example>", 0, SMTP_ADDR_ERR_SYNTAX);
	bad("<@x.example>", 0, SMTP_ADDR_ERR_SOURCE_ROUTE);
	bad("<a@>", 0, SMTP_ADDR_ERR_SYNTAX);
	bad("<a>", 0, SMTP_ADDR_ERR_SYNTAX);
	bad("<a\x01@x.example>", 0, SMTP_ADDR_ERR_SYNTAX);
	BAD_N("<a\0@x.example>", 0, SMTP_ADDR_ERR_SYNTAX);
	BAD_N("<a\n@x.example>", 0, SMTP_ADDR_ERR_SYNTAX);
	BAD_N("<a@x.exa\rmple>", 0, SMTP_ADDR_ERR_SYNTAX);
}

static void test_brackets(void **state)
{
	(void)state;
	bad("a@x.example", 0, SMTP_ADDR_ERR_SYNTAX);
	bad("<a@x.example", 0, SMTP_ADDR_ERR_SYNTAX);
	bad("a@x.example>", 0, SMTP_ADDR_ERR_SYNTAX);
	bad("<", 0, SMTP_ADDR_ERR_SYNTAX);
	bad(">", 0, SMTP_ADDR_ERR_SYNTAX);
	bad("", 0, SMTP_ADDR_ERR_SYNTAX);
	bad("<<a@x.example>>", 0, SMTP_ADDR_ERR_SYNTAX);
	bad(" <a@x.example>", 0, SMTP_ADDR_ERR_SYNTAX);
	bad("<a@x.example> ", 0, SMTP_ADDR_ERR_SYNTAX);
	bad("< a@x.example>", 0, SMTP_ADDR_ERR_SYNTAX);
	bad("<a@x.example >", 0, SMTP_ADDR_ERR_SYNTAX);
	ok("a@x.example", NB, "a", "x.example");
	bad("<a@x.example>", NB, SMTP_ADDR_ERR_SYNTAX);
}

static void test_source_routes(void **state)
{
	(void)state;
	bad("<@a,@b:user@c>", 0, SMTP_ADDR_ERR_SOURCE_ROUTE);
	bad("<@a,@b:user@c>", SMTP_ADDR_ALLOW_NULL | SMTP_ADDR_ALLOW_POSTMASTER | U8,
	    SMTP_ADDR_ERR_SOURCE_ROUTE);
	bad("<@a:user@c>", 0, SMTP_ADDR_ERR_SOURCE_ROUTE);
	bad("@a,@b:user@c", NB, SMTP_ADDR_ERR_SOURCE_ROUTE);
}

static void test_null_path(void **state)
{
	(void)state;
	struct smtp_addr a;
	assert_int_equal(parse("<>", SMTP_ADDR_ALLOW_NULL, &a), SMTP_ADDR_OK);
	assert_true(a.null);
	assert_string_equal(a.local, "");
	assert_string_equal(a.domain, "");
	bad("<>", 0, SMTP_ADDR_ERR_SYNTAX);
	bad("<>", SMTP_ADDR_ALLOW_POSTMASTER | U8, SMTP_ADDR_ERR_SYNTAX);
	bad("< >", SMTP_ADDR_ALLOW_NULL, SMTP_ADDR_ERR_SYNTAX);
	/* A real address with ALLOW_NULL is not null. */
	assert_int_equal(parse("<a@x.example>", SMTP_ADDR_ALLOW_NULL, &a), SMTP_ADDR_OK);
	assert_false(a.null);

	char out[8];
	assert_int_equal(parse("<>", SMTP_ADDR_ALLOW_NULL, &a), SMTP_ADDR_OK);
	memset(out, 'x', sizeof(out));
	assert_int_equal(smtp_addr_format(&a, out, sizeof(out)), 0);
	assert_string_equal(out, "");
	assert_int_equal(smtp_addr_format(&a, out, 0), -1);
}

static void test_postmaster(void **state)
{
	(void)state;
	struct smtp_addr a;
	static const char *const forms[] = {"<Postmaster>", "<postmaster>", "<POSTMASTER>",
					    "<pOsTmAsTeR>"};
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		if (parse(forms[i], SMTP_ADDR_ALLOW_POSTMASTER, &a) != SMTP_ADDR_OK)
			fail_msg("%s refused", forms[i]);
		assert_true(a.postmaster);
		assert_string_equal(a.local, "postmaster");
		assert_string_equal(a.domain, "");
		bad(forms[i], 0, SMTP_ADDR_ERR_SYNTAX);
	}
	char out[32];
	assert_int_equal(parse("<Postmaster>", SMTP_ADDR_ALLOW_POSTMASTER, &a), SMTP_ADDR_OK);
	assert_int_equal(smtp_addr_format(&a, out, sizeof(out)), 10);
	assert_string_equal(out, "postmaster");

	/* With a domain it is an ordinary address. */
	assert_int_equal(parse("<Postmaster@Example.ORG>", SMTP_ADDR_ALLOW_POSTMASTER, &a),
			 SMTP_ADDR_OK);
	assert_false(a.postmaster);
	assert_string_equal(a.local, "Postmaster");
	assert_string_equal(a.domain, "example.org");
	bad("<Postmasters>", SMTP_ADDR_ALLOW_POSTMASTER, SMTP_ADDR_ERR_SYNTAX);
	bad("<\"Postmaster\">", SMTP_ADDR_ALLOW_POSTMASTER, SMTP_ADDR_ERR_SYNTAX);
	bad("<abuse>", SMTP_ADDR_ALLOW_POSTMASTER, SMTP_ADDR_ERR_SYNTAX);
}

/* A syntactically valid domain of exactly `len` octets: labels of 50
 * letters separated by dots, never ending in a dot. */
static void make_domain(char *out, size_t len)
{
	size_t o = 0, label = 0;
	while (o < len) {
		if (label == 50 && len - o >= 2) {
			out[o++] = '.';
			label = 0;
			continue;
		}
		char c = (char)('a' + o % 26);
		out[o++] = c;
		label++;
	}
	out[o] = '\0';
}

static void repeat(char *out, const char *unit, size_t times)
{
	size_t n = strlen(unit);
	for (size_t i = 0; i < times; i++)
		memcpy(out + i * n, unit, n);
	out[times * n] = '\0';
}

static void test_length_limits(void **state)
{
	(void)state;
	char buf[1024], local[300], dom[300];
	struct smtp_addr a;

	/* Local part: 64 octets fine, 65 not. */
	repeat(local, "l", 64);
	snprintf(buf, sizeof(buf), "<%s@x.example>", local);
	assert_int_equal(parse(buf, 0, &a), SMTP_ADDR_OK);
	assert_int_equal(strlen(a.local), 64);
	repeat(local, "l", 65);
	snprintf(buf, sizeof(buf), "<%s@x.example>", local);
	bad(buf, 0, SMTP_ADDR_ERR_TOO_LONG);

	/* A quoted local part counts its quotes: 62 + 2 is fine, 63 + 2 not. */
	repeat(local, "q", 62);
	snprintf(buf, sizeof(buf), "<\"%s\"@x.example>", local);
	assert_int_equal(parse(buf, 0, &a), SMTP_ADDR_OK);
	assert_int_equal(strlen(a.local), 62);
	repeat(local, "q", 63);
	snprintf(buf, sizeof(buf), "<\"%s\"@x.example>", local);
	bad(buf, 0, SMTP_ADDR_ERR_TOO_LONG);
	repeat(local, "q q ", 20); /* 80 octets, spaces force the quotes */
	snprintf(buf, sizeof(buf), "<\"%s\"@x.example>", local);
	bad(buf, 0, SMTP_ADDR_ERR_TOO_LONG);

	/* Octets, not characters: 32 x "ü" is 64 octets, 33 x is 66. */
	repeat(local, "\xc3\xbc", 32);
	snprintf(buf, sizeof(buf), "<%s@x.example>", local);
	assert_int_equal(parse(buf, U8, &a), SMTP_ADDR_OK);
	assert_int_equal(strlen(a.local), 64);
	repeat(local, "\xc3\xbc", 33);
	snprintf(buf, sizeof(buf), "<%s@x.example>", local);
	bad(buf, U8, SMTP_ADDR_ERR_TOO_LONG);

	/* Labels: 63 octets fine, 64 not. */
	repeat(dom, "d", 63);
	snprintf(buf, sizeof(buf), "a@%s.example", dom);
	assert_int_equal(parse(buf, NB, &a), SMTP_ADDR_OK);
	repeat(dom, "d", 64);
	snprintf(buf, sizeof(buf), "a@%s.example", dom);
	bad(buf, NB, SMTP_ADDR_ERR_SYNTAX);

	/* Domain: 255 octets fine, 256 not (bare mailbox: no path limit). */
	make_domain(dom, 255);
	assert_int_equal(strlen(dom), 255);
	snprintf(buf, sizeof(buf), "a@%s", dom);
	assert_int_equal(parse(buf, NB, &a), SMTP_ADDR_OK);
	assert_string_equal(a.domain, dom);
	make_domain(dom, 256);
	snprintf(buf, sizeof(buf), "a@%s", dom);
	bad(buf, NB, SMTP_ADDR_ERR_TOO_LONG);

	/* Path: 256 octets including the brackets fine, 257 not. */
	repeat(local, "p", 64);
	make_domain(dom, 256 - 2 - 64 - 1);
	snprintf(buf, sizeof(buf), "<%s@%s>", local, dom);
	assert_int_equal(strlen(buf), 256);
	assert_int_equal(parse(buf, 0, &a), SMTP_ADDR_OK);
	make_domain(dom, 256 - 2 - 64);
	snprintf(buf, sizeof(buf), "<%s@%s>", local, dom);
	assert_int_equal(strlen(buf), 257);
	bad(buf, 0, SMTP_ADDR_ERR_TOO_LONG);
	/* Even when the parts would be fine with a short local part. */
	make_domain(dom, 255);
	snprintf(buf, sizeof(buf), "<a@%s>", dom);
	bad(buf, 0, SMTP_ADDR_ERR_TOO_LONG);
}

static void test_address_literals(void **state)
{
	(void)state;
	struct smtp_addr a;
	assert_int_equal(parse("<postmaster@[192.0.2.1]>", 0, &a), SMTP_ADDR_OK);
	assert_true(a.literal);
	assert_string_equal(a.domain, "[192.0.2.1]");
	ok("<a@[IPv6:2001:db8::1]>", 0, "a", "[IPv6:2001:db8::1]");
	ok("<a@[IPv6:::1]>", 0, "a", "[IPv6:::1]");
	ok("<a@[IPv6:::ffff:192.0.2.1]>", 0, "a", "[IPv6:::ffff:192.0.2.1]");
	ok("<a@[ipv6:2001:DB8:0:0:8:800:200C:417A]>", 0, "a",
	   "[ipv6:2001:DB8:0:0:8:800:200C:417A]");
	ok("<a@[255.255.255.255]>", 0, "a", "[255.255.255.255]");
	/* General-address-literal: Standardized-tag ":" 1*dcontent. */
	ok("<a@[x-tag:some-thing]>", 0, "a", "[x-tag:some-thing]");
	/* A domain that merely looks numeric is a domain. */
	assert_int_equal(parse("<a@192.0.2.1>", 0, &a), SMTP_ADDR_OK);
	assert_false(a.literal);

	static const char *const bad_literals[] = {
		"<a@[300.1.1.1]>",
		"<a@[1.2.3]>",
		"<a@[1.2.3.4.5]>",
		"<a@[192.0.2.1>",
		"<a@192.0.2.1]>",
		"<a@[]>",
		"<a@[ ]>",
		"<a@[192.0.2.1]x>",
		"<a@x[192.0.2.1]>",
		"<a@[192.0.2.1]]>",
		"<a@[IPv6:2001:db8::g]>",
		"<a@[IPv6:2001:db8:::1]>",
		"<a@[IPv6:1.2.3.4]>",
		"<a@[IPv6:]>",
		"<a@[IPv6]>",
		"<a@[:foo]>",
		"<a@[tag:]>",
		"<a@[ta_g:x]>",
		"<a@[tag:a b]>",
		"<a@[tag:a[b]>",
		"<a@[tag:a\\b]>",
	};
	for (size_t i = 0; i < sizeof(bad_literals) / sizeof(bad_literals[0]); i++)
		bad(bad_literals[i], 0, SMTP_ADDR_ERR_SYNTAX);
}

static void test_domains(void **state)
{
	(void)state;
	ok("<a@a-b.example>", 0, "a", "a-b.example");
	ok("<a@a--b.example>", 0, "a", "a--b.example");
	ok("<a@123.example>", 0, "a", "123.example");
	ok("<a@localhost>", 0, "a", "localhost");
	ok("<a@a.b.c.d.e.f>", 0, "a", "a.b.c.d.e.f");
	ok("<a@xn--bcher-kva.example>", 0, "a", "xn--bcher-kva.example");
	/* Domains are folded to lowercase; local parts are not. */
	ok("<User@Example.COM>", 0, "User", "example.com");
	ok("<x@MAIL.EXAMPLE.ORG>", 0, "x", "mail.example.org");

	static const char *const bad_domains[] = {
		"<a@-a.example>", "<a@a-.example>",  "<a@a.-b.example>", "<a@a.b-.example>",
		"<a@a..example>", "<a@.example>",    "<a@example.>",     "<a@.>",
		"<a@exa_mple.com>", "<a@exa mple.com>", "<a@exa/mple.com>", "<a@ex%ample.com>",
		"<a@-.example>",  "<a@example->",    "<a@example..>",
	};
	for (size_t i = 0; i < sizeof(bad_domains) / sizeof(bad_domains[0]); i++)
		bad(bad_domains[i], 0, SMTP_ADDR_ERR_SYNTAX);
}

static void test_idn(void **state)
{
	(void)state;
	struct smtp_addr a;
	/* UTF-8 domain: needs SMTPUTF8. */
	bad("<a@b\xc3\xbc" "cher.example>", 0, SMTP_ADDR_ERR_UTF8);
	assert_int_equal(parse("<a@b\xc3\xbc" "cher.example>", U8, &a), SMTP_ADDR_OK);
	assert_string_equal(a.domain, "xn--bcher-kva.example");
	assert_true(a.utf8);
	/* U-labels are case-folded before conversion. */
	ok("<a@B\xc3\x9c" "CHER.example>", U8, "a", "xn--bcher-kva.example");
	ok("<a@M\xc3\xbcnchen.example>", U8, "a", "xn--mnchen-3ya.example");
	/* IANA's IDN test domain: 例子.测试. */
	ok("<a@\xe4\xbe\x8b\xe5\xad\x90.\xe6\xb5\x8b\xe8\xaf\x95>", U8, "a",
	   "xn--fsqu00a.xn--0zwm56d");
	/* An ASCII address with SMTPUTF8 is not marked UTF-8. */
	assert_int_equal(parse("<a@example.org>", U8, &a), SMTP_ADDR_OK);
	assert_false(a.utf8);

	/* UTF-8 local parts. */
	bad("<\xe7\x94\xa8\xe6\x88\xb7@example.org>", 0, SMTP_ADDR_ERR_UTF8);
	assert_int_equal(parse("<\xe7\x94\xa8\xe6\x88\xb7@example.org>", U8, &a), SMTP_ADDR_OK);
	assert_string_equal(a.local, "\xe7\x94\xa8\xe6\x88\xb7");
	assert_string_equal(a.domain, "example.org");
	assert_true(a.utf8);
	ok("<\xce\xb4\xce\xbf\xce\xba\xce\xb9\xce\xbc\xce\xae@\xcf\x80\xce\xb1\xcf\x81\xce\xac"
	   "\xce\xb4\xce\xb5\xce\xb9\xce\xb3\xce\xbc\xce\xb1.\xce\xb4\xce\xbf\xce\xba\xce\xb9"
	   "\xce\xbc\xce\xae>",
	   U8, "\xce\xb4\xce\xbf\xce\xba\xce\xb9\xce\xbc\xce\xae",
	   "xn--hxajbheg2az3al.xn--jxalpdlp");
	bad("<\"\xc3\xbc x\"@example.org>", 0, SMTP_ADDR_ERR_UTF8);
	ok("<\"\xc3\xbc x\"@example.org>", U8, "\xc3\xbc x", "example.org");

	/* Invalid UTF-8 is a syntax error with or without SMTPUTF8. */
	static const char *const invalid[] = {
		"<\xc0\xaf@example.org>",           /* overlong '/' */
		"<a\xe0\x80\xaf@example.org>",      /* overlong, 3 bytes */
		"<\xed\xa0\x80@example.org>",       /* surrogate U+D800 */
		"<\xf4\x90\x80\x80@example.org>",   /* U+110000 */
		"<ab\xc3@example.org>",             /* truncated */
		"<ab\xe2\x82@example.org>",         /* truncated */
		"<\x80@example.org>",               /* lone continuation */
		"<\xff@example.org>",
		"<\"a\xc3\"@example.org>",          /* truncated, quoted */
		"<\"\xed\xbf\xbf\"@example.org>",   /* surrogate, quoted */
		"<a@b\xc3.example>",                /* truncated in the domain */
		"<a@\xc0\xae.example>",             /* overlong in the domain */
		"<a@\xed\xa0\x80.example>",         /* surrogate in the domain */
	};
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		bad(invalid[i], U8, SMTP_ADDR_ERR_SYNTAX);
		struct smtp_addr b;
		if (parse(invalid[i], 0, &b) == SMTP_ADDR_OK)
			fail_msg("invalid UTF-8 #%zu accepted without SMTPUTF8", i);
	}

	/* Valid UTF-8 that is not a valid IDN. */
	bad("<a@\xcc\x81" "a.example>", U8, SMTP_ADDR_ERR_IDN); /* starts with a combining mark */
	char buf[300], label[200];
	repeat(label, "\xc3\xbc", 60); /* A-label longer than 63 octets */
	snprintf(buf, sizeof(buf), "<a@%s.example>", label);
	bad(buf, U8, SMTP_ADDR_ERR_IDN);
}

/* Parse `in` (bare), format it, compare with `want`, and parse the output
 * again: the same mailbox must come back. */
static void round_trip(const char *in, const char *want)
{
	struct smtp_addr a, b;
	char out[600];
	if (parse(in, NB | U8, &a) != SMTP_ADDR_OK)
		fail_msg("\"%s\" refused", in);
	int n = smtp_addr_format(&a, out, sizeof(out));
	if (n < 0 || strcmp(out, want) != 0 || (size_t)n != strlen(want))
		fail_msg("\"%s\": formatted \"%s\" (%d), want \"%s\"", in, n < 0 ? "" : out, n,
			 want);
	if (parse(out, NB | U8, &b) != SMTP_ADDR_OK)
		fail_msg("\"%s\": formatted \"%s\" does not parse", in, out);
	if (strcmp(a.local, b.local) != 0 || strcmp(a.domain, b.domain) != 0)
		fail_msg("\"%s\": round trip changed the mailbox", in);

	/* Every buffer that is too small is refused and not overrun. */
	for (size_t len = 0; len <= (size_t)n; len++) {
		char *small = malloc(len == 0 ? 1 : len);
		assert_non_null(small);
		if (smtp_addr_format(&a, small, len) != -1)
			fail_msg("\"%s\": fits in %zu bytes?", in, len);
		free(small);
	}
	char *exact = malloc((size_t)n + 1);
	assert_non_null(exact);
	assert_int_equal(smtp_addr_format(&a, exact, (size_t)n + 1), n);
	assert_string_equal(exact, want);
	free(exact);
}

static void test_format_round_trips(void **state)
{
	(void)state;
	round_trip("alice@example.org", "alice@example.org");
	round_trip("User@EXAMPLE.org", "User@example.org");
	round_trip("a.b+c@x.example", "a.b+c@x.example");
	round_trip("user%other@local.example", "user%other@local.example");
	round_trip("\"Fred Bloggs\"@example.com", "\"Fred Bloggs\"@example.com");
	round_trip("\"abc\"@example.com", "abc@example.com"); /* needless quotes dropped */
	round_trip("\"a\\bc\"@example.com", "abc@example.com");
	round_trip("\"a\\\"b\"@x.example", "\"a\\\"b\"@x.example");
	round_trip("\"a\\\\b\"@x.example", "\"a\\\\b\"@x.example");
	round_trip("\"Joe\\\\Blow\"@example.com", "\"Joe\\\\Blow\"@example.com");
	round_trip("\"user@remote\"@local.example", "\"user@remote\"@local.example");
	round_trip("\"a..b\"@x.example", "\"a..b\"@x.example");
	round_trip("\".a\"@x.example", "\".a\"@x.example");
	round_trip("\"a.\"@x.example", "\"a.\"@x.example");
	round_trip("\"\"@x.example", "\"\"@x.example");
	round_trip("\"a>b\"@x.example", "\"a>b\"@x.example");
	round_trip("a@[IPv6:2001:db8::1]", "a@[IPv6:2001:db8::1]");
	round_trip("a@[192.0.2.1]", "a@[192.0.2.1]");
	round_trip("\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe6\xb5\x8b\xe8\xaf\x95",
		   "\xe7\x94\xa8\xe6\x88\xb7@xn--fsqu00a.xn--0zwm56d");
	round_trip("\"\xc3\xbc x\"@example.org", "\"\xc3\xbc x\"@example.org");
}

static void test_is_dot_string(void **state)
{
	(void)state;
	assert_true(smtp_addr_is_dot_string("a", false));
	assert_true(smtp_addr_is_dot_string("a.b", false));
	assert_true(smtp_addr_is_dot_string("a.b.c", false));
	assert_true(smtp_addr_is_dot_string("!#$%&'*+-/=?^_`{|}~", false));
	assert_true(smtp_addr_is_dot_string("0", false));
	assert_false(smtp_addr_is_dot_string("", false));
	assert_false(smtp_addr_is_dot_string(".", false));
	assert_false(smtp_addr_is_dot_string(".a", false));
	assert_false(smtp_addr_is_dot_string("a.", false));
	assert_false(smtp_addr_is_dot_string("a..b", false));
	assert_false(smtp_addr_is_dot_string("a b", false));
	assert_false(smtp_addr_is_dot_string("a@b", false));
	assert_false(smtp_addr_is_dot_string("a\"b", false));
	assert_false(smtp_addr_is_dot_string("a\\b", false));
	assert_false(smtp_addr_is_dot_string("a(b)", false));
	assert_false(smtp_addr_is_dot_string("a\x7f", false));
	assert_false(smtp_addr_is_dot_string("a\x01", false));
	/* UTF-8 only when allowed, and only when valid. */
	assert_false(smtp_addr_is_dot_string("\xc3\xbc", false));
	assert_true(smtp_addr_is_dot_string("\xc3\xbc", true));
	assert_true(smtp_addr_is_dot_string("a.\xe7\x94\xa8.b", true));
	assert_false(smtp_addr_is_dot_string("\xc3", true));
	assert_false(smtp_addr_is_dot_string("\xc0\xaf", true));
	assert_false(smtp_addr_is_dot_string("\xed\xa0\x80", true));
	assert_false(smtp_addr_is_dot_string("a.\xc3\xbc.", true));
}

static void test_domain_normalize(void **state)
{
	(void)state;
	char out[256];
	assert_int_equal(smtp_domain_normalize("Example.ORG", out, sizeof(out)), 0);
	assert_string_equal(out, "example.org");
	assert_int_equal(smtp_domain_normalize("b\xc3\xbc" "cher.example", out, sizeof(out)), 0);
	assert_string_equal(out, "xn--bcher-kva.example");
	assert_int_equal(smtp_domain_normalize("XN--BCHER-KVA.example", out, sizeof(out)), 0);
	assert_string_equal(out, "xn--bcher-kva.example");
	assert_int_equal(smtp_domain_normalize("localhost", out, sizeof(out)), 0);
	assert_string_equal(out, "localhost");

	assert_int_equal(smtp_domain_normalize("", out, sizeof(out)), -1);
	assert_int_equal(smtp_domain_normalize("a..b", out, sizeof(out)), -1);
	assert_int_equal(smtp_domain_normalize("-a.example", out, sizeof(out)), -1);
	assert_int_equal(smtp_domain_normalize("example.org.", out, sizeof(out)), -1);
	assert_int_equal(smtp_domain_normalize("[192.0.2.1]", out, sizeof(out)), -1);
	assert_int_equal(smtp_domain_normalize("a@b.example", out, sizeof(out)), -1);
	assert_int_equal(smtp_domain_normalize("\xc3.example", out, sizeof(out)), -1);

	/* The output size is honoured: 11 octets need 12 bytes. */
	assert_int_equal(smtp_domain_normalize("example.org", out, 11), -1);
	assert_int_equal(smtp_domain_normalize("example.org", out, 12), 0);
	assert_string_equal(out, "example.org");
	assert_int_equal(smtp_domain_normalize("b\xc3\xbc" "cher.example", out, 21), -1);
	assert_int_equal(smtp_domain_normalize("b\xc3\xbc" "cher.example", out, 22), 0);
	assert_string_equal(out, "xn--bcher-kva.example");
}

static void test_domain_is_valid(void **state)
{
	(void)state;
	assert_true(smtp_domain_is_valid("example.org", 11));
	assert_true(smtp_domain_is_valid("mx1.example.org", 15));
	assert_true(smtp_domain_is_valid("a", 1));
	assert_false(smtp_domain_is_valid("", 0));
	assert_false(smtp_domain_is_valid("example.org.", 12));
	assert_false(smtp_domain_is_valid("-example.org", 12));
	assert_false(smtp_domain_is_valid("exa mple.org", 12));
	assert_false(smtp_domain_is_valid("[192.0.2.1]", 11));
	assert_false(smtp_domain_is_valid("b\xc3\xbc" "cher.example", 15));
	/* Only `len` bytes count. */
	assert_true(smtp_domain_is_valid("example.org!!", 11));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc5321_examples),
		cmocka_unit_test(test_rfc3696_examples),
		cmocka_unit_test(test_quoted_local_parts),
		cmocka_unit_test(test_local_part_syntax),
		cmocka_unit_test(test_brackets),
		cmocka_unit_test(test_source_routes),
		cmocka_unit_test(test_null_path),
		cmocka_unit_test(test_postmaster),
		cmocka_unit_test(test_length_limits),
		cmocka_unit_test(test_address_literals),
		cmocka_unit_test(test_domains),
		cmocka_unit_test(test_idn),
		cmocka_unit_test(test_format_round_trips),
		cmocka_unit_test(test_is_dot_string),
		cmocka_unit_test(test_domain_normalize),
		cmocka_unit_test(test_domain_is_valid),
	};
	return cmocka_run_group_tests_name("smtp_addr", tests, NULL, NULL);
}
