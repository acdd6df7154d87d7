/* test_smtp_parser.c - unit tests for the SMTP command line parser
 * (smtp_cmd_parse): every verb, MAIL/RCPT paths and parameters, the lenient
 * forms real clients send, BDAT sizes, bytes that must be refused, and the
 * RFC 3461 DSN parameters (RET, ENVID, NOTIFY, ORCPT) with xtext. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smtp/smtp_parser.h"

/* One parsed line. The line lives in a heap block of exactly len + 1 bytes
 * (the parser may write a terminator at line[len], nothing beyond), so that
 * ASan catches any access outside it. The byte at line[len] starts out as a
 * non-NUL sentinel: the parser must not rely on a terminator being there. */
struct parsed {
	char *line;
	size_t len;
	struct smtp_cmd cmd;
	const char *why;
	enum smtp_parse_result r;
};

static void parse_n(struct parsed *p, const char *s, size_t len)
{
	p->line = malloc(len + 1);
	assert_non_null(p->line);
	memcpy(p->line, s, len);
	p->line[len] = 'X';
	p->len = len;
	p->why = "not set";
	p->r = smtp_cmd_parse(p->line, len, &p->cmd, &p->why);
}

static void parse(struct parsed *p, const char *s)
{
	parse_n(p, s, strlen(s));
}

static void parsed_free(struct parsed *p)
{
	free(p->line);
	p->line = NULL;
}

static const char *result_name(enum smtp_parse_result r)
{
	switch (r) {
	case SMTP_PARSE_OK:
		return "OK";
	case SMTP_PARSE_UNKNOWN:
		return "UNKNOWN";
	case SMTP_PARSE_SYNTAX:
		return "SYNTAX";
	case SMTP_PARSE_BAD_CHAR:
		return "BAD_CHAR";
	}
	return "?";
}

/* Parse `s` and check the result and, when OK, the verb; a failure names the
 * input line. On success *error_r must be NULL; on failure it must be set. */
static void expect(const char *s, size_t len, enum smtp_parse_result want, enum smtp_verb verb)
{
	struct parsed p;
	parse_n(&p, s, len);
	if (p.r != want) {
		fail_msg("\"%.*s\": got %s (%s), want %s", (int)len, s, result_name(p.r),
			 p.why != NULL ? p.why : "(null)", result_name(want));
	}
	if (want == SMTP_PARSE_OK) {
		if (p.cmd.verb != verb)
			fail_msg("\"%s\": verb %s, want %s", s, smtp_verb_name(p.cmd.verb),
				 smtp_verb_name(verb));
		if (p.why != NULL)
			fail_msg("\"%s\": error set on success: %s", s, p.why);
	} else {
		if (p.why == NULL || p.why[0] == '\0')
			fail_msg("\"%.*s\": no error text", (int)len, s);
		if (want == SMTP_PARSE_SYNTAX && p.cmd.verb != verb)
			fail_msg("\"%s\": verb %s on syntax error, want %s", s,
				 smtp_verb_name(p.cmd.verb), smtp_verb_name(verb));
	}
	parsed_free(&p);
}

static void expect_ok(const char *s, enum smtp_verb verb)
{
	expect(s, strlen(s), SMTP_PARSE_OK, verb);
}

static void expect_syntax(const char *s, enum smtp_verb verb)
{
	expect(s, strlen(s), SMTP_PARSE_SYNTAX, verb);
}

static void expect_unknown(const char *s, size_t len)
{
	expect(s, len, SMTP_PARSE_UNKNOWN, SMTP_VERB_UNKNOWN);
}

static void expect_bad_char(const char *s, size_t len)
{
	expect(s, len, SMTP_PARSE_BAD_CHAR, SMTP_VERB_UNKNOWN);
}

/* For string literals that may hold NUL bytes: the length is the literal's. */
#define EXPECT_UNKNOWN(lit) expect_unknown(lit, sizeof(lit) - 1)
#define EXPECT_BAD_CHAR(lit) expect_bad_char(lit, sizeof(lit) - 1)

/* Check the path of a MAIL/RCPT line: exactly `path`, and not more. */
static void expect_path(const char *s, enum smtp_verb verb, const char *path, unsigned nparams)
{
	struct parsed p;
	parse(&p, s);
	if (p.r != SMTP_PARSE_OK)
		fail_msg("\"%s\": got %s (%s)", s, result_name(p.r), p.why);
	assert_int_equal(p.cmd.verb, verb);
	assert_non_null(p.cmd.path);
	if (p.cmd.path_len != strlen(path) || memcmp(p.cmd.path, path, p.cmd.path_len) != 0)
		fail_msg("\"%s\": path \"%.*s\", want \"%s\"", s, (int)p.cmd.path_len, p.cmd.path,
			 path);
	if (p.cmd.param_count != nparams)
		fail_msg("\"%s\": %u params, want %u", s, p.cmd.param_count, nparams);
	parsed_free(&p);
}

static void test_every_verb(void **state)
{
	(void)state;
	expect_ok("HELO client.example.org", SMTP_VERB_HELO);
	expect_ok("EHLO client.example.org", SMTP_VERB_EHLO);
	expect_ok("MAIL FROM:<Smith@bar.com>", SMTP_VERB_MAIL); /* RFC 5321 D.1 */
	expect_ok("RCPT TO:<Jones@foo.com>", SMTP_VERB_RCPT);
	expect_ok("DATA", SMTP_VERB_DATA);
	expect_ok("BDAT 86 LAST", SMTP_VERB_BDAT); /* RFC 3030 4.2 */
	expect_ok("RSET", SMTP_VERB_RSET);
	expect_ok("NOOP", SMTP_VERB_NOOP);
	expect_ok("QUIT", SMTP_VERB_QUIT);
	expect_ok("VRFY Smith", SMTP_VERB_VRFY); /* RFC 5321 3.5.3 */
	expect_ok("EXPN Example-People", SMTP_VERB_EXPN);
	expect_ok("HELP", SMTP_VERB_HELP);
	expect_ok("STARTTLS", SMTP_VERB_STARTTLS);
	expect_ok("AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=", SMTP_VERB_AUTH); /* RFC 4954 4 */
}

static void test_verbs_any_case(void **state)
{
	(void)state;
	expect_ok("ehlo client.example.org", SMTP_VERB_EHLO);
	expect_ok("Helo client.example.org", SMTP_VERB_HELO);
	expect_ok("mail from:<a@example.org>", SMTP_VERB_MAIL);
	expect_ok("Mail From:<a@example.org>", SMTP_VERB_MAIL);
	expect_ok("rcpt to:<a@example.org>", SMTP_VERB_RCPT);
	expect_ok("data", SMTP_VERB_DATA);
	expect_ok("bdat 0 last", SMTP_VERB_BDAT);
	expect_ok("rset", SMTP_VERB_RSET);
	expect_ok("noop", SMTP_VERB_NOOP);
	expect_ok("qUiT", SMTP_VERB_QUIT);
	expect_ok("StartTLS", SMTP_VERB_STARTTLS);
	expect_ok("auth login", SMTP_VERB_AUTH);
}

static void test_verb_names(void **state)
{
	(void)state;
	assert_string_equal(smtp_verb_name(SMTP_VERB_HELO), "HELO");
	assert_string_equal(smtp_verb_name(SMTP_VERB_MAIL), "MAIL");
	assert_string_equal(smtp_verb_name(SMTP_VERB_BDAT), "BDAT");
	assert_string_equal(smtp_verb_name(SMTP_VERB_STARTTLS), "STARTTLS");
	assert_string_equal(smtp_verb_name(SMTP_VERB_AUTH), "AUTH");
	assert_string_equal(smtp_verb_name(SMTP_VERB_UNKNOWN), "?");
	assert_string_equal(smtp_verb_name(SMTP_VERB_COUNT), "?");
	assert_string_equal(smtp_verb_name((enum smtp_verb)1000), "?");
}

static void test_unknown_verbs(void **state)
{
	(void)state;
	EXPECT_UNKNOWN("");
	EXPECT_UNKNOWN("FOO");
	EXPECT_UNKNOWN("MAI");
	EXPECT_UNKNOWN("DAT");
	EXPECT_UNKNOWN("DATAX");
	EXPECT_UNKNOWN("STARTTLSX");
	EXPECT_UNKNOWN("MAILFROM:<a@example.org>");
	EXPECT_UNKNOWN("EHLOX client");
	EXPECT_UNKNOWN(" EHLO client"); /* no leading space before the verb */
	EXPECT_UNKNOWN("\xc3\x89HLO client");
	EXPECT_UNKNOWN("GET / HTTP/1.1");
	EXPECT_UNKNOWN("XCLIENT ADDR=192.0.2.1");
}

static void test_helo_ehlo(void **state)
{
	(void)state;
	struct parsed p;

	parse(&p, "EHLO client.example.org");
	assert_int_equal(p.r, SMTP_PARSE_OK);
	assert_string_equal(p.cmd.arg, "client.example.org");
	parsed_free(&p);

	parse(&p, "EHLO [192.0.2.1]");
	assert_int_equal(p.r, SMTP_PARSE_OK);
	assert_string_equal(p.cmd.arg, "[192.0.2.1]");
	parsed_free(&p);

	/* Only the first word counts. */
	parse(&p, "EHLO client.example.org (some junk here)");
	assert_int_equal(p.r, SMTP_PARSE_OK);
	assert_string_equal(p.cmd.arg, "client.example.org");
	parsed_free(&p);

	parse(&p, "HELO    spaced.example.org   ");
	assert_int_equal(p.r, SMTP_PARSE_OK);
	assert_int_equal(p.cmd.verb, SMTP_VERB_HELO);
	assert_string_equal(p.cmd.arg, "spaced.example.org");
	parsed_free(&p);

	parse(&p, "EHLO\tclient.example.org");
	assert_int_equal(p.r, SMTP_PARSE_OK);
	assert_string_equal(p.cmd.arg, "client.example.org");
	parsed_free(&p);

	expect_syntax("EHLO", SMTP_VERB_EHLO);
	expect_syntax("EHLO ", SMTP_VERB_EHLO);
	expect_syntax("EHLO     ", SMTP_VERB_EHLO);
	expect_syntax("EHLO\t", SMTP_VERB_EHLO);
	expect_syntax("HELO", SMTP_VERB_HELO);
	expect_syntax("helo  ", SMTP_VERB_HELO);
}

static void test_mail_rcpt_paths(void **state)
{
	(void)state;
	expect_path("MAIL FROM:<Smith@bar.com>", SMTP_VERB_MAIL, "<Smith@bar.com>", 0);
	expect_path("RCPT TO:<Jones@foo.com>", SMTP_VERB_RCPT, "<Jones@foo.com>", 0);
	expect_path("MAIL FROM:<>", SMTP_VERB_MAIL, "<>", 0);
	expect_path("RCPT TO:<Postmaster>", SMTP_VERB_RCPT, "<Postmaster>", 0);
	/* The parser only tokenises; source routes are refused by smtp_addr. */
	expect_path("RCPT TO:<@ONE,@TWO:JOE@THREE>", SMTP_VERB_RCPT, "<@ONE,@TWO:JOE@THREE>", 0);
	expect_path("MAIL FROM:<a@[IPv6:2001:db8::1]>", SMTP_VERB_MAIL, "<a@[IPv6:2001:db8::1]>",
		    0);
}

static void test_mail_rcpt_lenient(void **state)
{
	(void)state;
	/* A space after the colon. */
	expect_path("MAIL FROM: <a@example.org>", SMTP_VERB_MAIL, "<a@example.org>", 0);
	expect_path("MAIL FROM:   <a@example.org>", SMTP_VERB_MAIL, "<a@example.org>", 0);
	expect_path("RCPT TO: <b@example.org>", SMTP_VERB_RCPT, "<b@example.org>", 0);
	/* Bare path without brackets. */
	expect_path("MAIL FROM:a@example.org", SMTP_VERB_MAIL, "a@example.org", 0);
	expect_path("RCPT TO:b@example.org", SMTP_VERB_RCPT, "b@example.org", 0);
	expect_path("MAIL FROM: a@example.org SIZE=10", SMTP_VERB_MAIL, "a@example.org", 1);
	/* Lowercase verbs and keywords. */
	expect_path("mail from:<a@example.org>", SMTP_VERB_MAIL, "<a@example.org>", 0);
	expect_path("rcpt to:<b@example.org>", SMTP_VERB_RCPT, "<b@example.org>", 0);
	/* Trailing spaces and tabs. */
	expect_path("MAIL FROM:<a@example.org>   ", SMTP_VERB_MAIL, "<a@example.org>", 0);
	expect_path("RCPT TO:<b@example.org> \t ", SMTP_VERB_RCPT, "<b@example.org>", 0);
	expect_path("MAIL FROM:<a@example.org> SIZE=5   ", SMTP_VERB_MAIL, "<a@example.org>", 1);
	/* Extra spaces after the verb; a tab as separator. */
	expect_path("MAIL  FROM:<a@example.org>", SMTP_VERB_MAIL, "<a@example.org>", 0);
	expect_path("MAIL\tFROM:<a@example.org>", SMTP_VERB_MAIL, "<a@example.org>", 0);
}

static void test_mail_rcpt_syntax(void **state)
{
	(void)state;
	expect_syntax("MAIL", SMTP_VERB_MAIL);
	expect_syntax("MAIL FROM", SMTP_VERB_MAIL);
	expect_syntax("MAIL FROM:", SMTP_VERB_MAIL);
	expect_syntax("MAIL FROM:   ", SMTP_VERB_MAIL);
	expect_syntax("MAIL FROM <a@example.org>", SMTP_VERB_MAIL);
	expect_syntax("MAIL TO:<a@example.org>", SMTP_VERB_MAIL);
	expect_syntax("MAIL FROM:<a@example.org", SMTP_VERB_MAIL);
	expect_syntax("MAIL FROM:<a<b@example.org>", SMTP_VERB_MAIL);
	expect_syntax("MAIL FROM:<a@example.org>x", SMTP_VERB_MAIL);
	expect_syntax("MAIL FROM:<a@example.org>SIZE=5", SMTP_VERB_MAIL);
	expect_syntax("MAIL FROM:<\"open@example.org>", SMTP_VERB_MAIL);
	expect_syntax("RCPT", SMTP_VERB_RCPT);
	expect_syntax("RCPT TO:", SMTP_VERB_RCPT);
	expect_syntax("RCPT TO <b@example.org>", SMTP_VERB_RCPT);
	expect_syntax("RCPT FROM:<b@example.org>", SMTP_VERB_RCPT);
	expect_syntax("RCPT TO:<b@example.org> NOTIFY=", SMTP_VERB_RCPT);
}

static void test_path_quoted_and_spaces(void **state)
{
	(void)state;
	/* '>' inside a quoted local part does not end the path. */
	expect_path("MAIL FROM:<\"a>b\"@example.org> SIZE=5", SMTP_VERB_MAIL,
		    "<\"a>b\"@example.org>", 1);
	/* Spaces inside quotes do not end the path either. */
	expect_path("RCPT TO:<\"john smith\"@example.org>", SMTP_VERB_RCPT,
		    "<\"john smith\"@example.org>", 0);
	expect_path("RCPT TO:<\"a > b\"@example.org> NOTIFY=NEVER", SMTP_VERB_RCPT,
		    "<\"a > b\"@example.org>", 1);
	/* An escaped quote does not close the quoted string. */
	expect_path("RCPT TO:<\"a\\\"> b\"@example.org>", SMTP_VERB_RCPT,
		    "<\"a\\\"> b\"@example.org>", 0);
	/* A '<' inside quotes is content. */
	expect_path("RCPT TO:<\"x<y\"@example.org>", SMTP_VERB_RCPT, "<\"x<y\"@example.org>", 0);
	/* Inside brackets a bare space belongs to the path; smtp_addr refuses it. */
	expect_path("RCPT TO:<a b@example.org>", SMTP_VERB_RCPT, "<a b@example.org>", 0);

	struct parsed p;
	parse(&p, "MAIL FROM:<\"a>b c\"@example.org> SIZE=5 BODY=8BITMIME");
	assert_int_equal(p.r, SMTP_PARSE_OK);
	assert_int_equal(p.cmd.param_count, 2);
	assert_string_equal(p.cmd.params[0].keyword, "SIZE");
	assert_string_equal(p.cmd.params[0].value, "5");
	assert_string_equal(p.cmd.params[1].keyword, "BODY");
	assert_string_equal(p.cmd.params[1].value, "8BITMIME");
	parsed_free(&p);
}

static void test_params(void **state)
{
	(void)state;
	struct parsed p;

	/* RFC 1870 section 8. */
	parse(&p, "MAIL FROM:<ned@thor.innosoft.com> SIZE=500000");
	assert_int_equal(p.r, SMTP_PARSE_OK);
	assert_int_equal(p.cmd.path_len, strlen("<ned@thor.innosoft.com>"));
	assert_int_equal(p.cmd.param_count, 1);
	assert_string_equal(p.cmd.params[0].keyword, "SIZE");
	assert_string_equal(p.cmd.params[0].value, "500000");
	parsed_free(&p);

	parse(&p, "MAIL FROM:<a@example.org> SIZE=12345  BODY=8BITMIME SMTPUTF8 RET=HDRS "
		  "ENVID=QQ314159");
	assert_int_equal(p.r, SMTP_PARSE_OK);
	assert_int_equal(p.cmd.param_count, 5);
	assert_string_equal(p.cmd.params[2].keyword, "SMTPUTF8");
	assert_null(p.cmd.params[2].value);
	assert_string_equal(p.cmd.params[4].value, "QQ314159");
	const struct smtp_param *sp = smtp_cmd_param(&p.cmd, "size");
	assert_non_null(sp);
	assert_string_equal(sp->value, "12345");
	sp = smtp_cmd_param(&p.cmd, "SmtpUtf8");
	assert_non_null(sp);
	assert_null(sp->value);
	assert_ptr_equal(smtp_cmd_param(&p.cmd, "body"), &p.cmd.params[1]);
	assert_null(smtp_cmd_param(&p.cmd, "AUTH"));
	assert_null(smtp_cmd_param(&p.cmd, "SIZ"));
	/* The path keeps its length; its terminator may be gone. */
	assert_memory_equal(p.cmd.path, "<a@example.org>", p.cmd.path_len);
	parsed_free(&p);

	/* RFC 3461 parameters; values may hold ';', '+', '@', ','. */
	parse(&p, "RCPT TO:<Bob@Example.COM> NOTIFY=SUCCESS,FAILURE "
		  "ORCPT=rfc822;Bob+2Bx@Example.COM");
	assert_int_equal(p.r, SMTP_PARSE_OK);
	assert_int_equal(p.cmd.param_count, 2);
	assert_string_equal(p.cmd.params[0].value, "SUCCESS,FAILURE");
	assert_string_equal(p.cmd.params[1].keyword, "ORCPT");
	assert_string_equal(p.cmd.params[1].value, "rfc822;Bob+2Bx@Example.COM");
	parsed_free(&p);

	/* Keywords may contain '-' and digits after the first character;
	 * values may contain UTF-8. */
	parse(&p, "MAIL FROM:<a@example.org> X-FOO-2=bar 8BIT=\xc3\xa9t\xc3\xa9");
	assert_int_equal(p.r, SMTP_PARSE_OK);
	assert_int_equal(p.cmd.param_count, 2);
	assert_string_equal(p.cmd.params[0].keyword, "X-FOO-2");
	assert_string_equal(p.cmd.params[1].keyword, "8BIT");
	assert_string_equal(p.cmd.params[1].value, "\xc3\xa9t\xc3\xa9");
	parsed_free(&p);

	/* No params on a line without them. */
	parse(&p, "RCPT TO:<b@example.org>");
	assert_int_equal(p.cmd.param_count, 0);
	assert_null(smtp_cmd_param(&p.cmd, "NOTIFY"));
	parsed_free(&p);
}

static void test_params_bad(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"MAIL FROM:<a@example.org> -SIZE=1",
		"MAIL FROM:<a@example.org> SI_ZE=1",
		"MAIL FROM:<a@example.org> SIZE=",
		"MAIL FROM:<a@example.org> =5",
		"MAIL FROM:<a@example.org> SIZE==5",
		"MAIL FROM:<a@example.org> SIZE=1=2",
		"MAIL FROM:<a@example.org> SIZE=1\x7f",
		"MAIL FROM:<a@example.org> SIZE=\x01",
		"MAIL FROM:<a@example.org> S\xc3\x8fZE=1",
		"MAIL FROM:<a@example.org> SIZE:1",
		"MAIL FROM:<a@example.org> SIZE=1 BODY=",
		"RCPT TO:<a@example.org> NOTIFY=NEVER @",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum smtp_verb v = bad[i][0] == 'M' ? SMTP_VERB_MAIL : SMTP_VERB_RCPT;
		expect_syntax(bad[i], v);
	}
}

static void test_params_limit(void **state)
{
	(void)state;
	char line[512];
	int n = snprintf(line, sizeof(line), "MAIL FROM:<a@example.org>");
	for (int i = 1; i <= SMTP_MAX_PARAMS; i++)
		n += snprintf(line + n, sizeof(line) - (size_t)n, " P%d=%d", i, i);

	struct parsed p;
	parse(&p, line);
	assert_int_equal(p.r, SMTP_PARSE_OK);
	assert_int_equal(p.cmd.param_count, SMTP_MAX_PARAMS);
	assert_string_equal(p.cmd.params[SMTP_MAX_PARAMS - 1].keyword, "P16");
	assert_string_equal(p.cmd.params[SMTP_MAX_PARAMS - 1].value, "16");
	parsed_free(&p);

	snprintf(line + n, sizeof(line) - (size_t)n, " P17");
	parse(&p, line);
	assert_int_equal(p.r, SMTP_PARSE_SYNTAX);
	assert_string_equal(p.why, "too many parameters");
	parsed_free(&p);
}

static void expect_bdat(const char *s, uint64_t size, bool last)
{
	struct parsed p;
	parse(&p, s);
	if (p.r != SMTP_PARSE_OK)
		fail_msg("\"%s\": got %s (%s)", s, result_name(p.r), p.why);
	assert_int_equal(p.cmd.verb, SMTP_VERB_BDAT);
	if (p.cmd.chunk_size != size || p.cmd.last != last)
		fail_msg("\"%s\": size %llu last %d", s, (unsigned long long)p.cmd.chunk_size,
			 p.cmd.last);
	parsed_free(&p);
}

static void test_bdat(void **state)
{
	(void)state;
	/* RFC 3030 section 4. */
	expect_bdat("BDAT 86 LAST", 86, true);
	expect_bdat("BDAT 1000", 1000, false);
	expect_bdat("BDAT 70000", 70000, false);
	expect_bdat("BDAT 0 LAST", 0, true);
	expect_bdat("BDAT 0", 0, false);
	expect_bdat("bdat 5 last", 5, true);
	expect_bdat("BDAT 5 Last", 5, true);
	expect_bdat("BDAT 5  LAST", 5, true);
	expect_bdat("BDAT 5 LAST  ", 5, true);
	expect_bdat("BDAT 18446744073709551615", UINT64_MAX, false);
	expect_bdat("BDAT 007", 7, false);
}

static void test_bdat_bad(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"BDAT",
		"BDAT ",
		"BDAT 18446744073709551616",  /* UINT64_MAX + 1 */
		"BDAT 99999999999999999999",  /* 20 digits, too big */
		"BDAT 100000000000000000000", /* 21 digits */
		"BDAT -1",
		"BDAT +1",
		"BDAT 1x",
		"BDAT x",
		"BDAT 0x10",
		"BDAT 1.5",
		"BDAT 1,000",
		"BDAT LAST",
		"BDAT 10 LASTX",
		"BDAT 10 FIRST",
		"BDAT 10 LAST 5",
		"BDAT 10 LAST LAST",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct parsed p;
		parse(&p, bad[i]);
		if (p.r != SMTP_PARSE_SYNTAX)
			fail_msg("\"%s\": got %s", bad[i], result_name(p.r));
		/* The session closes the connection on a bad BDAT size and
		 * relies on the verb being known. */
		assert_int_equal(p.cmd.verb, SMTP_VERB_BDAT);
		assert_string_equal(p.why, "Syntax: BDAT size [LAST]");
		parsed_free(&p);
	}
}

static void test_bad_chars(void **state)
{
	(void)state;
	EXPECT_BAD_CHAR("MAIL FROM:<a\0b@example.org>");
	EXPECT_BAD_CHAR("\0NOOP");
	EXPECT_BAD_CHAR("NOOP\0");
	EXPECT_BAD_CHAR("NOOP\r");
	EXPECT_BAD_CHAR("NO\rOP");
	EXPECT_BAD_CHAR("NOOP\nQUIT");
	EXPECT_BAD_CHAR("RCPT TO:<a@example.org>\r\nRCPT TO:<b@example.org>");
	EXPECT_BAD_CHAR("BDAT 1\n0");
	EXPECT_BAD_CHAR("DATA\r");
	/* Refused before the verb is even looked at. */
	EXPECT_BAD_CHAR("XYZZY\0");
	/* Inside a quoted local part too. */
	EXPECT_BAD_CHAR("RCPT TO:<\"a\rb\"@example.org>");
	/* Other control bytes are not refused here: the session sanitises the
	 * EHLO name (tests/e2e relies on "EHLO evil(host)\x01..." getting 250),
	 * and the grammar of each argument refuses them where it must. HTAB
	 * is taken as a space. */
	expect_ok("EHLO a\x01" "b", SMTP_VERB_EHLO);
	expect_ok("EHLO\tclient.example.org\t", SMTP_VERB_EHLO);
	expect_syntax("MAIL FROM:<a@example.org> SIZE=1\x0c", SMTP_VERB_MAIL);
	/* 8-bit bytes pass (SMTPUTF8). */
	expect_ok("RCPT TO:<\xc3\xbc@example.org>", SMTP_VERB_RCPT);
	expect_ok("NOOP \x80\xff", SMTP_VERB_NOOP);
}

static void test_no_argument_verbs(void **state)
{
	(void)state;
	expect_ok("DATA", SMTP_VERB_DATA);
	expect_ok("DATA   ", SMTP_VERB_DATA);
	expect_ok("RSET ", SMTP_VERB_RSET);
	expect_ok("QUIT\t", SMTP_VERB_QUIT);
	expect_syntax("DATA x", SMTP_VERB_DATA);
	expect_syntax("DATA FROM:<a@example.org>", SMTP_VERB_DATA);
	expect_syntax("RSET now", SMTP_VERB_RSET);
	expect_syntax("QUIT please", SMTP_VERB_QUIT);
	expect_syntax("STARTTLS x", SMTP_VERB_STARTTLS);

	/* NOOP and HELP take an optional argument. */
	struct parsed p;
	parse(&p, "NOOP anything at all");
	assert_int_equal(p.r, SMTP_PARSE_OK);
	assert_string_equal(p.cmd.arg, "anything at all");
	parsed_free(&p);
	parse(&p, "HELP MAIL");
	assert_int_equal(p.r, SMTP_PARSE_OK);
	assert_int_equal(p.cmd.verb, SMTP_VERB_HELP);
	assert_string_equal(p.cmd.arg, "MAIL");
	parsed_free(&p);
	parse(&p, "NOOP");
	assert_int_equal(p.r, SMTP_PARSE_OK);
	assert_string_equal(p.cmd.arg, "");
	parsed_free(&p);
}

static void test_argument_verbs(void **state)
{
	(void)state;
	expect_syntax("VRFY", SMTP_VERB_VRFY);
	expect_syntax("VRFY  ", SMTP_VERB_VRFY);
	expect_syntax("EXPN", SMTP_VERB_EXPN);
	expect_syntax("AUTH", SMTP_VERB_AUTH);
	expect_syntax("AUTH ", SMTP_VERB_AUTH);

	struct parsed p;
	parse(&p, "AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=");
	assert_int_equal(p.r, SMTP_PARSE_OK);
	assert_string_equal(p.cmd.arg, "PLAIN dGVzdAB0ZXN0ADEyMzQ=");
	parsed_free(&p);
	parse(&p, "VRFY  Smith ");
	assert_int_equal(p.r, SMTP_PARSE_OK);
	assert_string_equal(p.cmd.arg, "Smith");
	parsed_free(&p);
	parse(&p, "EXPN Example-People");
	assert_int_equal(p.r, SMTP_PARSE_OK);
	assert_string_equal(p.cmd.arg, "Example-People");
	parsed_free(&p);
}

/* Only line[0..len) is the command, whatever follows it in the buffer. */
static void test_length_is_respected(void **state)
{
	(void)state;
	struct parsed p;
	parse_n(&p, "NOOP xyz", 4);
	assert_int_equal(p.r, SMTP_PARSE_OK);
	assert_int_equal(p.cmd.verb, SMTP_VERB_NOOP);
	assert_string_equal(p.cmd.arg, "");
	parsed_free(&p);

	parse_n(&p, "RCPT TO:<b@example.org> NOTIFY=NEVER", 23);
	assert_int_equal(p.r, SMTP_PARSE_OK);
	assert_int_equal(p.cmd.path_len, 15);
	assert_int_equal(p.cmd.param_count, 0);
	parsed_free(&p);

	parse_n(&p, "EHLOX", 4);
	assert_int_equal(p.r, SMTP_PARSE_SYNTAX);
	assert_int_equal(p.cmd.verb, SMTP_VERB_EHLO);
	parsed_free(&p);

	parse_n(&p, "BDAT 100", 7);
	assert_int_equal(p.r, SMTP_PARSE_OK);
	assert_int_equal(p.cmd.chunk_size, 10);
	parsed_free(&p);
}

/* A second parse of the same struct starts from a clean slate. */
static void test_reuse_clears(void **state)
{
	(void)state;
	struct smtp_cmd cmd;
	const char *why;
	char a[] = "MAIL FROM:<a@example.org> SIZE=1 BODY=7BIT";
	assert_int_equal(smtp_cmd_parse(a, strlen(a), &cmd, &why), SMTP_PARSE_OK);
	assert_int_equal(cmd.param_count, 2);
	char b[] = "BDAT 3 LAST";
	assert_int_equal(smtp_cmd_parse(b, strlen(b), &cmd, &why), SMTP_PARSE_OK);
	assert_int_equal(cmd.param_count, 0);
	assert_null(cmd.path);
	char c[] = "BDAT 4";
	assert_int_equal(smtp_cmd_parse(c, strlen(c), &cmd, &why), SMTP_PARSE_OK);
	assert_false(cmd.last);
	assert_int_equal(cmd.chunk_size, 4);
}

/* ----- RFC 3461 DSN parameters ----- */

/* Parse a line that must succeed; the caller frees it. */
static void parse_ok(struct parsed *p, const char *s)
{
	parse(p, s);
	if (p->r != SMTP_PARSE_OK)
		fail_msg("\"%s\": got %s (%s)", s, result_name(p->r), p->why);
}

static void test_dsn_mail(void **state)
{
	(void)state;
	struct parsed p;

	/* RFC 3461 section 9 (example). */
	parse_ok(&p, "MAIL FROM:<Alice@Example.ORG> RET=HDRS ENVID=QQ314159");
	assert_int_equal(p.cmd.dsn.ret, SMTP_DSN_RET_HDRS);
	assert_string_equal(p.cmd.dsn.envid, "QQ314159");
	assert_string_equal(p.cmd.dsn.envid_xtext, "QQ314159");
	assert_int_equal(p.cmd.param_count, 2);
	assert_true(p.cmd.params[0].dsn);
	assert_true(p.cmd.params[1].dsn);
	/* RCPT-only fields stay empty on MAIL. */
	assert_int_equal(p.cmd.dsn.notify, 0);
	assert_null(p.cmd.dsn.orcpt_xtext);
	assert_string_equal(p.cmd.dsn.orcpt, "");
	parsed_free(&p);

	/* Keywords and RET values in any case; other parameters untouched. */
	parse_ok(&p, "MAIL FROM:<a@example.org> SIZE=100 ret=full envid=x BODY=8BITMIME");
	assert_int_equal(p.cmd.dsn.ret, SMTP_DSN_RET_FULL);
	assert_string_equal(p.cmd.dsn.envid, "x");
	assert_false(p.cmd.params[0].dsn);
	assert_true(p.cmd.params[1].dsn);
	assert_true(p.cmd.params[2].dsn);
	assert_false(p.cmd.params[3].dsn);
	parsed_free(&p);
	parse_ok(&p, "MAIL FROM:<a@example.org> RET=Hdrs");
	assert_int_equal(p.cmd.dsn.ret, SMTP_DSN_RET_HDRS);
	assert_null(p.cmd.dsn.envid_xtext);
	assert_string_equal(p.cmd.dsn.envid, "");
	parsed_free(&p);

	/* Nothing DSN at all. */
	parse_ok(&p, "MAIL FROM:<a@example.org> SIZE=1");
	assert_int_equal(p.cmd.dsn.ret, SMTP_DSN_RET_NONE);
	assert_null(p.cmd.dsn.envid_xtext);
	assert_false(p.cmd.params[0].dsn);
	parsed_free(&p);
	parse_ok(&p, "MAIL FROM:<>");
	assert_int_equal(p.cmd.dsn.ret, SMTP_DSN_RET_NONE);
	parsed_free(&p);
}

static void test_dsn_envid_xtext(void **state)
{
	(void)state;
	struct parsed p;

	/* "+XX" is one byte: '+', '=', space; lowercase hex is accepted. */
	parse_ok(&p, "MAIL FROM:<a@example.org> ENVID=a+2Bb+3Dc+20d+2be");
	assert_string_equal(p.cmd.dsn.envid, "a+b=c d+e");
	assert_string_equal(p.cmd.dsn.envid_xtext, "a+2Bb+3Dc+20d+2be");
	parsed_free(&p);
	/* Every xchar stands for itself. */
	parse_ok(&p, "MAIL FROM:<a@example.org> ENVID=!\"#$%&'()*,-./09:;<>?@AZ[\\]^_`az{|}~");
	assert_string_equal(p.cmd.dsn.envid, "!\"#$%&'()*,-./09:;<>?@AZ[\\]^_`az{|}~");
	parsed_free(&p);

	/* 100 characters as sent is the most (RFC 3461 4.4), even when the
	 * decoded value is shorter. */
	char line[300], id[120];
	memset(id, 'e', 100);
	id[100] = '\0';
	snprintf(line, sizeof(line), "MAIL FROM:<a@example.org> ENVID=%s", id);
	parse_ok(&p, line);
	assert_int_equal(strlen(p.cmd.dsn.envid), 100);
	parsed_free(&p);
	for (int i = 0; i < 99; i += 3)
		memcpy(id + i, "+41", 3);
	snprintf(line, sizeof(line), "MAIL FROM:<a@example.org> ENVID=%s", id);
	parse_ok(&p, line);
	assert_int_equal(strlen(p.cmd.dsn.envid), 34);
	assert_int_equal(p.cmd.dsn.envid[0], 'A');
	parsed_free(&p);
	memset(id, 'e', 101);
	id[101] = '\0';
	snprintf(line, sizeof(line), "MAIL FROM:<a@example.org> ENVID=%s", id);
	parse(&p, line);
	assert_int_equal(p.r, SMTP_PARSE_SYNTAX);
	assert_string_equal(p.why, "ENVID parameter too long");
	parsed_free(&p);
}

static void test_dsn_mail_bad(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"MAIL FROM:<a@example.org> RET",
		"MAIL FROM:<a@example.org> RET=",
		"MAIL FROM:<a@example.org> RET=NONE",
		"MAIL FROM:<a@example.org> RET=FULLY",
		"MAIL FROM:<a@example.org> RET=HDR",
		"MAIL FROM:<a@example.org> RET=FULL,HDRS",
		"MAIL FROM:<a@example.org> RET=FULL RET=FULL",
		"MAIL FROM:<a@example.org> RET=FULL ret=HDRS",
		"MAIL FROM:<a@example.org> ENVID",
		"MAIL FROM:<a@example.org> ENVID=",
		"MAIL FROM:<a@example.org> ENVID=a ENVID=b",
		"MAIL FROM:<a@example.org> ENVID=a+",
		"MAIL FROM:<a@example.org> ENVID=a+4",
		"MAIL FROM:<a@example.org> ENVID=a+4G",
		"MAIL FROM:<a@example.org> ENVID=a+G4",
		"MAIL FROM:<a@example.org> ENVID=a++41",
		"MAIL FROM:<a@example.org> ENVID=a+-1",
		/* Decoded, it must be printable US-ASCII. */
		"MAIL FROM:<a@example.org> ENVID=a+0D+0Ab",
		"MAIL FROM:<a@example.org> ENVID=a+00b",
		"MAIL FROM:<a@example.org> ENVID=a+09b",
		"MAIL FROM:<a@example.org> ENVID=a+7F",
		"MAIL FROM:<a@example.org> ENVID=+C3+A9",
		/* Raw 8-bit bytes are no xchar. */
		"MAIL FROM:<a@example.org> ENVID=\xc3\xa9t\xc3\xa9",
		"MAIL FROM:<a@example.org> ENVID=a\x80",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct parsed p;
		parse(&p, bad[i]);
		if (p.r != SMTP_PARSE_SYNTAX)
			fail_msg("\"%s\": got %s", bad[i], result_name(p.r));
		assert_int_equal(p.cmd.verb, SMTP_VERB_MAIL);
		parsed_free(&p);
	}
}

static void expect_notify(const char *value, unsigned bits)
{
	char line[200];
	snprintf(line, sizeof(line), "RCPT TO:<b@example.org> NOTIFY=%s", value);
	struct parsed p;
	parse_ok(&p, line);
	if (p.cmd.dsn.notify != bits)
		fail_msg("\"%s\": notify %#x, want %#x", line, p.cmd.dsn.notify, bits);
	assert_true(p.cmd.params[0].dsn);
	parsed_free(&p);
}

static void test_dsn_notify(void **state)
{
	(void)state;
	expect_notify("NEVER", SMTP_DSN_NOTIFY_NEVER);
	expect_notify("never", SMTP_DSN_NOTIFY_NEVER);
	expect_notify("SUCCESS", SMTP_DSN_NOTIFY_SUCCESS);
	expect_notify("FAILURE", SMTP_DSN_NOTIFY_FAILURE);
	expect_notify("DELAY", SMTP_DSN_NOTIFY_DELAY);
	expect_notify("SUCCESS,FAILURE",
		      SMTP_DSN_NOTIFY_SUCCESS | SMTP_DSN_NOTIFY_FAILURE); /* RFC 3461 9 */
	expect_notify("Failure,Delay", SMTP_DSN_NOTIFY_FAILURE | SMTP_DSN_NOTIFY_DELAY);
	expect_notify("DELAY,SUCCESS,FAILURE",
		      SMTP_DSN_NOTIFY_SUCCESS | SMTP_DSN_NOTIFY_FAILURE | SMTP_DSN_NOTIFY_DELAY);
	/* A repeated keyword inside the list is harmless. */
	expect_notify("FAILURE,FAILURE", SMTP_DSN_NOTIFY_FAILURE);

	struct parsed p;
	parse_ok(&p, "RCPT TO:<b@example.org>");
	assert_int_equal(p.cmd.dsn.notify, 0);
	parsed_free(&p);

	static const char *const bad[] = {
		"RCPT TO:<b@example.org> NOTIFY",
		"RCPT TO:<b@example.org> NOTIFY=",
		"RCPT TO:<b@example.org> NOTIFY=NEVER,SUCCESS",
		"RCPT TO:<b@example.org> NOTIFY=FAILURE,NEVER",
		"RCPT TO:<b@example.org> NOTIFY=NEVER,NEVER,DELAY",
		"RCPT TO:<b@example.org> NOTIFY=SUCCESS,",
		"RCPT TO:<b@example.org> NOTIFY=,SUCCESS",
		"RCPT TO:<b@example.org> NOTIFY=SUCCESS,,FAILURE",
		"RCPT TO:<b@example.org> NOTIFY=SUCCES",
		"RCPT TO:<b@example.org> NOTIFY=SUCCESSFAILURE",
		"RCPT TO:<b@example.org> NOTIFY=SUCCESS;FAILURE",
		"RCPT TO:<b@example.org> NOTIFY=ALWAYS",
		"RCPT TO:<b@example.org> NOTIFY=NEVER NOTIFY=NEVER",
		"RCPT TO:<b@example.org> NOTIFY=SUCCESS notify=FAILURE",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_syntax(bad[i], SMTP_VERB_RCPT);
}

static void test_dsn_orcpt(void **state)
{
	(void)state;
	struct parsed p;

	/* RFC 3461 section 9: the xtext is decoded, the type kept. */
	parse_ok(&p, "RCPT TO:<Bob@Example.COM> NOTIFY=SUCCESS,FAILURE "
		     "ORCPT=rfc822;Bob+2Bx@Example.COM");
	assert_string_equal(p.cmd.dsn.orcpt, "rfc822;Bob+x@Example.COM");
	assert_int_equal(p.cmd.dsn.orcpt_type_len, 6);
	assert_string_equal(p.cmd.dsn.orcpt_xtext, "rfc822;Bob+2Bx@Example.COM");
	assert_int_equal(p.cmd.dsn.notify, SMTP_DSN_NOTIFY_SUCCESS | SMTP_DSN_NOTIFY_FAILURE);
	assert_true(p.cmd.params[1].dsn);
	/* MAIL-only fields stay empty on RCPT. */
	assert_int_equal(p.cmd.dsn.ret, SMTP_DSN_RET_NONE);
	assert_null(p.cmd.dsn.envid_xtext);
	parsed_free(&p);

	/* A quoted local part: space and '=' come encoded. */
	parse_ok(&p, "RCPT TO:<\"a b\"@example.org> ORCPT=RFC822;+22a+20b+3Dc+22@example.org");
	assert_string_equal(p.cmd.dsn.orcpt, "RFC822;\"a b=c\"@example.org");
	assert_int_equal(p.cmd.dsn.orcpt_type_len, 6);
	parsed_free(&p);

	/* Other address types; the address is not held to the type's syntax
	 * (RFC 3461 4.2), and may even be empty. */
	parse_ok(&p, "RCPT TO:<b@example.org> ORCPT=x400;/C+3DUS/ADMD+3Dx/");
	assert_string_equal(p.cmd.dsn.orcpt, "x400;/C=US/ADMD=x/");
	assert_int_equal(p.cmd.dsn.orcpt_type_len, 4);
	parsed_free(&p);
	parse_ok(&p, "RCPT TO:<b@example.org> ORCPT=rfc822;");
	assert_string_equal(p.cmd.dsn.orcpt, "rfc822;");
	parsed_free(&p);
	parse_ok(&p, "RCPT TO:<b@example.org> ORCPT=rfc822;a;b");
	assert_string_equal(p.cmd.dsn.orcpt, "rfc822;a;b");
	assert_int_equal(p.cmd.dsn.orcpt_type_len, 6);
	parsed_free(&p);

	/* Decoded 8-bit bytes are kept as they are (the DSN builder makes
	 * them safe); raw UTF-8 only under the utf-8 type (RFC 6533). */
	parse_ok(&p, "RCPT TO:<b@example.org> ORCPT=rfc822;+C3+A9@example.org");
	assert_string_equal(p.cmd.dsn.orcpt, "rfc822;\xc3\xa9@example.org");
	parsed_free(&p);
	parse_ok(&p, "RCPT TO:<\xc3\xa9@example.org> ORCPT=utf-8;\xc3\xa9@example.org");
	assert_string_equal(p.cmd.dsn.orcpt, "utf-8;\xc3\xa9@example.org");
	assert_int_equal(p.cmd.dsn.orcpt_type_len, 5);
	parsed_free(&p);
	parse_ok(&p, "RCPT TO:<b@example.org> ORCPT=UTF-8;\\x{E9}@example.org");
	assert_string_equal(p.cmd.dsn.orcpt, "UTF-8;\\x{E9}@example.org");
	parsed_free(&p);

	/* 500 characters as sent is the most (RFC 3461 4.2). */
	char line[700], v[520];
	memcpy(v, "rfc822;", 7);
	memset(v + 7, 'o', 493);
	v[500] = '\0';
	snprintf(line, sizeof(line), "RCPT TO:<b@example.org> ORCPT=%s", v);
	parse_ok(&p, line);
	assert_int_equal(strlen(p.cmd.dsn.orcpt), 500);
	parsed_free(&p);
	v[500] = 'o';
	v[501] = '\0';
	snprintf(line, sizeof(line), "RCPT TO:<b@example.org> ORCPT=%s", v);
	parse(&p, line);
	assert_int_equal(p.r, SMTP_PARSE_SYNTAX);
	assert_string_equal(p.why, "ORCPT parameter too long");
	parsed_free(&p);

	static const char *const bad[] = {
		"RCPT TO:<b@example.org> ORCPT",
		"RCPT TO:<b@example.org> ORCPT=",
		"RCPT TO:<b@example.org> ORCPT=b@example.org",
		"RCPT TO:<b@example.org> ORCPT=;b@example.org",
		"RCPT TO:<b@example.org> ORCPT=rfc(822);b@example.org",
		"RCPT TO:<b@example.org> ORCPT=rfc:822;b@example.org",
		"RCPT TO:<b@example.org> ORCPT=rfc822;b+@example.org",
		"RCPT TO:<b@example.org> ORCPT=rfc822;b+4@example.org",
		"RCPT TO:<b@example.org> ORCPT=rfc822;b+0D+0AX@example.org",
		"RCPT TO:<b@example.org> ORCPT=rfc822;b+00@example.org",
		"RCPT TO:<b@example.org> ORCPT=rfc822;b+7F@example.org",
		"RCPT TO:<b@example.org> ORCPT=rfc822;\xc3\xa9@example.org",
		"RCPT TO:<b@example.org> ORCPT=utf-8;\xc3@example.org",
		"RCPT TO:<b@example.org> ORCPT=utf-8;\xed\xa0\x80@example.org",
		"RCPT TO:<b@example.org> ORCPT=utf-8;a+0Ab@example.org",
		"RCPT TO:<b@example.org> ORCPT=r\xc3\xa9;b@example.org",
		"RCPT TO:<b@example.org> ORCPT=rfc822;a ORCPT=rfc822;b",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_syntax(bad[i], SMTP_VERB_RCPT);
}

/* DSN keywords on the other verb are unknown parameters: the parser leaves
 * them alone and the session answers 555. */
static void test_dsn_wrong_verb(void **state)
{
	(void)state;
	struct parsed p;
	parse_ok(&p, "RCPT TO:<b@example.org> RET=BOGUS ENVID=+ZZ");
	assert_int_equal(p.cmd.dsn.ret, SMTP_DSN_RET_NONE);
	assert_null(p.cmd.dsn.envid_xtext);
	assert_false(p.cmd.params[0].dsn);
	assert_false(p.cmd.params[1].dsn);
	parsed_free(&p);
	parse_ok(&p, "MAIL FROM:<a@example.org> NOTIFY=NEVER,SUCCESS ORCPT=junk");
	assert_int_equal(p.cmd.dsn.notify, 0);
	assert_null(p.cmd.dsn.orcpt_xtext);
	assert_false(p.cmd.params[0].dsn);
	assert_false(p.cmd.params[1].dsn);
	parsed_free(&p);
	/* A valueless unknown keyword next to good DSN parameters. */
	parse_ok(&p, "RCPT TO:<b@example.org> NOTIFY=DELAY XDSN");
	assert_true(p.cmd.params[0].dsn);
	assert_false(p.cmd.params[1].dsn);
	parsed_free(&p);
	/* Not on other verbs either. */
	parse_ok(&p, "EHLO RET=FULL");
	assert_int_equal(p.cmd.dsn.ret, SMTP_DSN_RET_NONE);
	parsed_free(&p);
}

static void test_dsn_reuse_clears(void **state)
{
	(void)state;
	struct smtp_cmd cmd;
	const char *why;
	char a[] = "MAIL FROM:<a@example.org> RET=HDRS ENVID=id1";
	assert_int_equal(smtp_cmd_parse(a, strlen(a), &cmd, &why), SMTP_PARSE_OK);
	assert_string_equal(cmd.dsn.envid, "id1");
	char b[] = "RCPT TO:<b@example.org> NOTIFY=NEVER ORCPT=rfc822;b@example.org";
	assert_int_equal(smtp_cmd_parse(b, strlen(b), &cmd, &why), SMTP_PARSE_OK);
	assert_int_equal(cmd.dsn.ret, SMTP_DSN_RET_NONE);
	assert_string_equal(cmd.dsn.envid, "");
	assert_null(cmd.dsn.envid_xtext);
	assert_int_equal(cmd.dsn.notify, SMTP_DSN_NOTIFY_NEVER);
	char c[] = "RCPT TO:<c@example.org>";
	assert_int_equal(smtp_cmd_parse(c, strlen(c), &cmd, &why), SMTP_PARSE_OK);
	assert_int_equal(cmd.dsn.notify, 0);
	assert_string_equal(cmd.dsn.orcpt, "");
	assert_int_equal(cmd.dsn.orcpt_type_len, 0);
	assert_null(cmd.dsn.orcpt_xtext);
}

static void test_xtext_decode(void **state)
{
	(void)state;
	char out[16];
	assert_int_equal(smtp_xtext_decode("", 0, out, sizeof(out)), 0);
	assert_string_equal(out, "");
	assert_int_equal(smtp_xtext_decode("abc+2B", 6, out, sizeof(out)), 4);
	assert_string_equal(out, "abc+");
	/* Any byte, NUL included: the caller checks. */
	assert_int_equal(smtp_xtext_decode("a+00b", 5, out, sizeof(out)), 3);
	assert_memory_equal(out, "a\0b", 4);
	assert_int_equal(smtp_xtext_decode("+ff+FF", 6, out, sizeof(out)), 2);
	assert_int_equal((unsigned char)out[0], 0xff);
	/* Only len bytes are read. */
	assert_int_equal(smtp_xtext_decode("ab+41", 3, out, sizeof(out)), -1);
	assert_int_equal(smtp_xtext_decode("ab+41", 2, out, sizeof(out)), 2);
	/* Output size: room for the terminator is required. */
	assert_int_equal(smtp_xtext_decode("abcd", 4, out, 5), 4);
	assert_int_equal(smtp_xtext_decode("abcde", 5, out, 5), -1);
	assert_int_equal(smtp_xtext_decode("abc+41", 6, out, 4), -1);
	assert_int_equal(smtp_xtext_decode("a", 1, out, 0), -1);
	/* Bad syntax. */
	assert_int_equal(smtp_xtext_decode("a=b", 3, out, sizeof(out)), -1);
	assert_int_equal(smtp_xtext_decode("a b", 3, out, sizeof(out)), -1);
	assert_int_equal(smtp_xtext_decode("a\x7f", 2, out, sizeof(out)), -1);
	assert_int_equal(smtp_xtext_decode("\xc3\xa9", 2, out, sizeof(out)), -1);
	assert_int_equal(smtp_xtext_decode("+4", 2, out, sizeof(out)), -1);
	assert_int_equal(smtp_xtext_decode("+4x", 3, out, sizeof(out)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_verb),
		cmocka_unit_test(test_verbs_any_case),
		cmocka_unit_test(test_verb_names),
		cmocka_unit_test(test_unknown_verbs),
		cmocka_unit_test(test_helo_ehlo),
		cmocka_unit_test(test_mail_rcpt_paths),
		cmocka_unit_test(test_mail_rcpt_lenient),
		cmocka_unit_test(test_mail_rcpt_syntax),
		cmocka_unit_test(test_path_quoted_and_spaces),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_params_bad),
		cmocka_unit_test(test_params_limit),
		cmocka_unit_test(test_bdat),
		cmocka_unit_test(test_bdat_bad),
		cmocka_unit_test(test_bad_chars),
		cmocka_unit_test(test_no_argument_verbs),
		cmocka_unit_test(test_argument_verbs),
		cmocka_unit_test(test_length_is_respected),
		cmocka_unit_test(test_reuse_clears),
		cmocka_unit_test(test_dsn_mail),
		cmocka_unit_test(test_dsn_envid_xtext),
		cmocka_unit_test(test_dsn_mail_bad),
		cmocka_unit_test(test_dsn_notify),
		cmocka_unit_test(test_dsn_orcpt),
		cmocka_unit_test(test_dsn_wrong_verb),
		cmocka_unit_test(test_dsn_reuse_clears),
		cmocka_unit_test(test_xtext_decode),
	};
	return cmocka_run_group_tests_name("smtp_parser", tests, NULL, NULL);
}
