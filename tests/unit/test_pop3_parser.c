/* test_pop3_parser.c - unit tests for the POP3 command parser (every
 * command and its arguments, the lenient forms clients send, refused bytes,
 * the line length limit, SASL response lines, input fed one byte at a time
 * and in random splits) and for the multi-line response encoder
 * (dot-stuffing, line ends, TOP). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "pop3/pop3_parser.h"

/* ----- pop3_cmd_parse on one line ----- */

struct parsed {
	char *line;
	struct pop3_cmd cmd;
	const char *why;
	enum pop3_parse_error e;
};

/* The line lives in a heap block of exactly len + 1 bytes, its last byte a
 * non-NUL sentinel, so that ASan catches any access beyond. */
static void parse_n(struct parsed *p, const char *s, size_t len)
{
	p->line = malloc(len + 1);
	assert_non_null(p->line);
	memcpy(p->line, s, len);
	p->line[len] = 'X';
	p->why = "not set";
	p->e = pop3_cmd_parse(p->line, len, &p->cmd, &p->why);
}

static void expect_n(const char *s, size_t len, enum pop3_parse_error want, enum pop3_verb verb)
{
	struct parsed p;
	parse_n(&p, s, len);
	if (p.e != want)
		fail_msg("\"%.*s\": got error %d (%s), want %d", (int)len, s, p.e,
			 p.why != NULL ? p.why : "(null)", want);
	if (want == POP3_ERR_NONE) {
		if (p.cmd.verb != verb)
			fail_msg("\"%s\": verb %s, want %s", s, pop3_verb_name(p.cmd.verb),
				 pop3_verb_name(verb));
		if (p.why != NULL)
			fail_msg("\"%s\": error text on success: %s", s, p.why);
	} else {
		if (p.why == NULL || p.why[0] == '\0')
			fail_msg("\"%.*s\": no error text", (int)len, s);
		if (want == POP3_ERR_SYNTAX && p.cmd.verb != verb)
			fail_msg("\"%s\": verb %s on syntax error, want %s", s,
				 pop3_verb_name(p.cmd.verb), pop3_verb_name(verb));
	}
	free(p.line);
}

static void expect_ok(const char *s, enum pop3_verb verb)
{
	expect_n(s, strlen(s), POP3_ERR_NONE, verb);
}

static void expect_syntax(const char *s, enum pop3_verb verb)
{
	expect_n(s, strlen(s), POP3_ERR_SYNTAX, verb);
}

#define EXPECT_UNKNOWN(lit) expect_n(lit, sizeof(lit) - 1, POP3_ERR_UNKNOWN, POP3_VERB_UNKNOWN)
#define EXPECT_BAD_CHAR(lit) expect_n(lit, sizeof(lit) - 1, POP3_ERR_BAD_CHAR, POP3_VERB_UNKNOWN)

static void test_every_verb(void **state)
{
	(void)state;
	expect_ok("USER alice@example.org", POP3_VERB_USER);
	expect_ok("PASS secret", POP3_VERB_PASS);
	expect_ok("AUTH", POP3_VERB_AUTH);
	expect_ok("AUTH PLAIN", POP3_VERB_AUTH);
	expect_ok("AUTH PLAIN AGFsaWNlAHNlY3JldA==", POP3_VERB_AUTH);
	expect_ok("CAPA", POP3_VERB_CAPA);
	expect_ok("STLS", POP3_VERB_STLS);
	expect_ok("QUIT", POP3_VERB_QUIT);
	expect_ok("STAT", POP3_VERB_STAT);
	expect_ok("LIST", POP3_VERB_LIST);
	expect_ok("LIST 1", POP3_VERB_LIST);
	expect_ok("RETR 1", POP3_VERB_RETR);
	expect_ok("DELE 2", POP3_VERB_DELE);
	expect_ok("NOOP", POP3_VERB_NOOP);
	expect_ok("RSET", POP3_VERB_RSET);
	expect_ok("TOP 1 10", POP3_VERB_TOP);
	expect_ok("UIDL", POP3_VERB_UIDL);
	expect_ok("UIDL 3", POP3_VERB_UIDL);
}

static void test_any_case(void **state)
{
	(void)state;
	expect_ok("user bob", POP3_VERB_USER);
	expect_ok("Retr 1", POP3_VERB_RETR);
	expect_ok("capa", POP3_VERB_CAPA);
	expect_ok("sTlS", POP3_VERB_STLS);
	expect_ok("top 1 0", POP3_VERB_TOP);
	assert_string_equal(pop3_verb_name(POP3_VERB_TOP), "TOP");
	assert_string_equal(pop3_verb_name(POP3_VERB_UIDL), "UIDL");
	assert_string_equal(pop3_verb_name(POP3_VERB_UNKNOWN), "?");
}

static void test_unknown(void **state)
{
	(void)state;
	EXPECT_UNKNOWN("");
	EXPECT_UNKNOWN("XYZZY");
	EXPECT_UNKNOWN("APOP mrose c4c9334bac560ecc979e58001b3e22fb");
	EXPECT_UNKNOWN("LAST");
	EXPECT_UNKNOWN("RETR1");
	EXPECT_UNKNOWN("QUITX");
	EXPECT_UNKNOWN(" QUIT"); /* no leading spaces before the keyword */
	EXPECT_UNKNOWN("US");
	EXPECT_UNKNOWN("\tQUIT");
}

static void test_numbers(void **state)
{
	(void)state;
	struct parsed p;
	parse_n(&p, "TOP 12 0", 8);
	assert_int_equal(p.e, POP3_ERR_NONE);
	assert_int_equal(p.cmd.argc, 2);
	assert_int_equal(p.cmd.msg, 12);
	assert_int_equal(p.cmd.lines, 0);
	free(p.line);

	parse_n(&p, "RETR 18446744073709551615", 25);
	assert_int_equal(p.e, POP3_ERR_NONE);
	assert_true(p.cmd.msg == UINT64_MAX);
	free(p.line);

	/* Zero parses; the session answers "no such message". */
	expect_ok("RETR 0", POP3_VERB_RETR);
	expect_ok("DELE 007", POP3_VERB_DELE);
	expect_syntax("RETR 18446744073709551616", POP3_VERB_RETR);
	expect_syntax("RETR 123456789012345678901", POP3_VERB_RETR);
	expect_syntax("RETR -1", POP3_VERB_RETR);
	expect_syntax("RETR +1", POP3_VERB_RETR);
	expect_syntax("RETR 1x", POP3_VERB_RETR);
	expect_syntax("RETR x", POP3_VERB_RETR);
	expect_syntax("LIST one", POP3_VERB_LIST);
	expect_syntax("UIDL 0x1", POP3_VERB_UIDL);
	expect_syntax("TOP 1 -1", POP3_VERB_TOP);
	expect_syntax("TOP a 1", POP3_VERB_TOP);
}

static void test_argument_counts(void **state)
{
	(void)state;
	expect_syntax("USER", POP3_VERB_USER);
	expect_syntax("USER ", POP3_VERB_USER);
	expect_syntax("USER a b", POP3_VERB_USER);
	expect_syntax("PASS", POP3_VERB_PASS);
	expect_syntax("PASS ", POP3_VERB_PASS);
	expect_syntax("RETR", POP3_VERB_RETR);
	expect_syntax("RETR 1 2", POP3_VERB_RETR);
	expect_syntax("DELE", POP3_VERB_DELE);
	expect_syntax("TOP", POP3_VERB_TOP);
	expect_syntax("TOP 1", POP3_VERB_TOP);
	expect_syntax("TOP 1 2 3", POP3_VERB_TOP);
	expect_syntax("LIST 1 2", POP3_VERB_LIST);
	expect_syntax("UIDL 1 2", POP3_VERB_UIDL);
	expect_syntax("STAT 1", POP3_VERB_STAT);
	expect_syntax("NOOP x", POP3_VERB_NOOP);
	expect_syntax("RSET x", POP3_VERB_RSET);
	expect_syntax("QUIT now", POP3_VERB_QUIT);
	expect_syntax("CAPA x", POP3_VERB_CAPA);
	expect_syntax("STLS x", POP3_VERB_STLS);
	expect_syntax("AUTH PLAIN a b", POP3_VERB_AUTH);
}

static void test_lenient_spaces(void **state)
{
	(void)state;
	struct parsed p;
	/* Clients send a trailing space, or two between arguments. */
	expect_ok("LIST ", POP3_VERB_LIST);
	expect_ok("STAT ", POP3_VERB_STAT);
	parse_n(&p, "TOP  3   4 ", 11);
	assert_int_equal(p.e, POP3_ERR_NONE);
	assert_int_equal(p.cmd.argc, 2);
	assert_int_equal(p.cmd.msg, 3);
	assert_int_equal(p.cmd.lines, 4);
	assert_string_equal(p.cmd.args[0], "3");
	assert_int_equal(p.cmd.arg_len[1], 1);
	free(p.line);
	parse_n(&p, "UIDL 5 ", 7);
	assert_int_equal(p.e, POP3_ERR_NONE);
	assert_int_equal(p.cmd.argc, 1);
	assert_int_equal(p.cmd.msg, 5);
	free(p.line);
}

static void test_pass_keeps_spaces(void **state)
{
	(void)state;
	struct parsed p;
	const char *s = "PASS  correct horse battery staple ";
	parse_n(&p, s, strlen(s));
	assert_int_equal(p.e, POP3_ERR_NONE);
	assert_int_equal(p.cmd.argc, 1);
	/* Everything after the one separating space, spaces included. */
	assert_string_equal(p.cmd.args[0], " correct horse battery staple ");
	assert_int_equal(p.cmd.arg_len[0], strlen(" correct horse battery staple "));
	free(p.line);
}

static void test_user_and_auth_args(void **state)
{
	(void)state;
	struct parsed p;
	parse_n(&p, "USER alice@example.org", 22);
	assert_int_equal(p.e, POP3_ERR_NONE);
	assert_int_equal(p.cmd.argc, 1);
	assert_string_equal(p.cmd.args[0], "alice@example.org");
	assert_int_equal(p.cmd.arg_len[0], 17);
	free(p.line);
	parse_n(&p, "AUTH plain =", 12);
	assert_int_equal(p.e, POP3_ERR_NONE);
	assert_int_equal(p.cmd.argc, 2);
	assert_string_equal(p.cmd.args[0], "plain");
	assert_string_equal(p.cmd.args[1], "=");
	free(p.line);
}

static void test_bad_chars(void **state)
{
	(void)state;
	EXPECT_BAD_CHAR("QUIT\0");
	EXPECT_BAD_CHAR("\0QUIT");
	EXPECT_BAD_CHAR("PASS se\0cret");
	EXPECT_BAD_CHAR("USER a\rb");
	EXPECT_BAD_CHAR("NOOP\r");
	EXPECT_BAD_CHAR("RETR 1\nRETR 2");
}

/* ----- the incremental parser ----- */

/* Feed everything in pieces of `step` bytes (0: random 1..7), collecting
 * one text line per result: "CMD VERB argc msg lines" / "RESP text" /
 * "ERR code". */
static void run_parser(struct pop3_parser *p, const char *data, size_t len, size_t step,
		       struct buf *log, bool responses_after_auth)
{
	size_t pos = 0;
	size_t avail_end = 0;
	while (pos < len) {
		if (avail_end <= pos) {
			size_t n = step != 0 ? step : (size_t)(rand() % 7) + 1;
			avail_end = pos + n > len ? len : pos + n;
		}
		size_t used = 0;
		enum pop3_parse_result r = pop3_parser_feed(p, data + pos, avail_end - pos, &used);
		assert_true(used <= avail_end - pos);
		pos += used;
		switch (r) {
		case POP3_PARSE_NEED_MORE:
			assert_int_equal(pos, avail_end);
			break;
		case POP3_PARSE_COMMAND: {
			const struct pop3_cmd *c = pop3_parser_command(p);
			buf_printf(log, "CMD %s %u %llu %llu\n", pop3_verb_name(c->verb), c->argc,
				   (unsigned long long)c->msg, (unsigned long long)c->lines);
			if (responses_after_auth && c->verb == POP3_VERB_AUTH)
				pop3_parser_expect_response(p);
			break;
		}
		case POP3_PARSE_RESPONSE: {
			size_t rl;
			const char *t = pop3_parser_response(p, &rl);
			assert_int_equal(strlen(t), rl);
			buf_printf(log, "RESP %s\n", t);
			break;
		}
		case POP3_PARSE_ERROR: {
			enum pop3_parse_error code;
			const char *why = pop3_parser_error(p, &code, NULL);
			assert_true(why[0] != '\0');
			buf_printf(log, "ERR %d\n", code);
			break;
		}
		}
	}
}

static const char session_bytes[] = "CAPA\r\n"
				    "USER alice@example.org\r\n"
				    "PASS a b c\r\n"
				    "STAT\n"
				    "LIST 2\r\n"
				    "bogus\r\n"
				    "RETR\r\n"
				    "TOP 1 5\r\n"
				    "AUTH PLAIN\r\n"
				    "AGFsaWNlAHNlY3JldA==\r\n"
				    "UIDL\r\n"
				    "QU\0T\r\n"
				    "QUIT\r\n";

static const char session_log[] = "CMD CAPA 0 0 0\n"
				  "CMD USER 1 0 0\n"
				  "CMD PASS 1 0 0\n"
				  "CMD STAT 0 0 0\n"
				  "CMD LIST 1 2 0\n"
				  "ERR 3\n"
				  "ERR 4\n"
				  "CMD TOP 2 1 5\n"
				  "CMD AUTH 1 0 0\n"
				  "RESP AGFsaWNlAHNlY3JldA==\n"
				  "CMD UIDL 0 0 0\n"
				  "ERR 2\n"
				  "CMD QUIT 0 0 0\n";

static void test_one_byte_at_a_time(void **state)
{
	(void)state;
	size_t steps[] = {1, 2, 3, 5, 64, 4096};
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct pop3_parser *p = pop3_parser_new(NULL);
		struct buf log;
		buf_init(&log, 0);
		run_parser(p, session_bytes, sizeof(session_bytes) - 1, steps[i], &log, true);
		if (strcmp(log.data, session_log) != 0)
			fail_msg("step %zu:\n%s\nwant:\n%s", steps[i], log.data, session_log);
		buf_free(&log);
		pop3_parser_free(&p);
		assert_null(p);
	}
}

static void test_random_splits(void **state)
{
	(void)state;
	srand(1939);
	for (int round = 0; round < 500; round++) {
		struct pop3_parser *p = pop3_parser_new(NULL);
		struct buf log;
		buf_init(&log, 0);
		run_parser(p, session_bytes, sizeof(session_bytes) - 1, 0, &log, true);
		assert_string_equal(log.data, session_log);
		buf_free(&log);
		pop3_parser_free(&p);
	}
	struct pop3_parser *none = NULL;
	pop3_parser_free(&none);
}

/* Feed stops after each line: what follows stays with the caller (STLS
 * must be able to drop it). */
static void test_stops_after_each_line(void **state)
{
	(void)state;
	struct pop3_parser *p = pop3_parser_new(NULL);
	const char *in = "STLS\r\nUSER mallory\r\n";
	size_t used;
	assert_int_equal(pop3_parser_feed(p, in, strlen(in), &used), POP3_PARSE_COMMAND);
	assert_int_equal(used, 6);
	assert_int_equal(pop3_parser_command(p)->verb, POP3_VERB_STLS);
	/* After a reset, a partial line is forgotten. */
	assert_int_equal(pop3_parser_feed(p, "USER mall", 9, &used), POP3_PARSE_NEED_MORE);
	assert_int_equal(used, 9);
	pop3_parser_reset(p);
	assert_int_equal(pop3_parser_feed(p, "QUIT\r\n", 6, &used), POP3_PARSE_COMMAND);
	assert_int_equal(pop3_parser_command(p)->verb, POP3_VERB_QUIT);
	pop3_parser_free(&p);
}

static void test_line_limit(void **state)
{
	(void)state;
	struct pop3_parser_limits lim = {.max_line = 32, .max_response = 64};
	struct pop3_parser *p = pop3_parser_new(&lim);
	char line[200];
	size_t used;
	/* 30 bytes + CRLF = 32: the limit exactly. */
	memcpy(line, "USER ", 5);
	memset(line + 5, 'a', 25);
	memcpy(line + 30, "\r\n", 2);
	assert_int_equal(pop3_parser_feed(p, line, 32, &used), POP3_PARSE_COMMAND);
	assert_int_equal(used, 32);
	assert_int_equal(pop3_parser_command(p)->arg_len[0], 25);
	/* One more byte is too long; the whole line is consumed, then the
	 * next line is fine. */
	memcpy(line, "USER ", 5);
	memset(line + 5, 'a', 26);
	memcpy(line + 31, "\r\nNOOP\r\n", 8);
	assert_int_equal(pop3_parser_feed(p, line, 39, &used), POP3_PARSE_ERROR);
	assert_int_equal(used, 33);
	enum pop3_parse_error code;
	pop3_parser_error(p, &code, NULL);
	assert_int_equal(code, POP3_ERR_TOO_LONG);
	assert_int_equal(pop3_parser_feed(p, line + 33, 6, &used), POP3_PARSE_COMMAND);
	assert_int_equal(pop3_parser_command(p)->verb, POP3_VERB_NOOP);
	/* A line without end is swallowed in pieces (bounded memory) and
	 * refused once when it finally ends. */
	memset(line, 'x', sizeof(line));
	for (int i = 0; i < 100; i++) {
		assert_int_equal(pop3_parser_feed(p, line, sizeof(line), &used),
				 POP3_PARSE_NEED_MORE);
		assert_int_equal(used, sizeof(line));
	}
	assert_int_equal(pop3_parser_feed(p, "\nQUIT\r\n", 7, &used), POP3_PARSE_ERROR);
	assert_int_equal(used, 1);
	assert_int_equal(pop3_parser_feed(p, "QUIT\r\n", 6, &used), POP3_PARSE_COMMAND);
	/* A SASL response may be longer, up to its own limit. */
	pop3_parser_expect_response(p);
	memset(line, 'Q', 62);
	memcpy(line + 62, "\r\n", 2);
	assert_int_equal(pop3_parser_feed(p, line, 64, &used), POP3_PARSE_RESPONSE);
	size_t rl;
	assert_int_equal(strlen(pop3_parser_response(p, &rl)), 62);
	assert_int_equal(rl, 62);
	pop3_parser_expect_response(p);
	memset(line, 'Q', 63);
	memcpy(line + 63, "\r\n", 2);
	assert_int_equal(pop3_parser_feed(p, line, 65, &used), POP3_PARSE_ERROR);
	pop3_parser_error(p, &code, NULL);
	assert_int_equal(code, POP3_ERR_TOO_LONG);
	/* Only one line is a response; the next is a command again. */
	pop3_parser_expect_response(p);
	assert_int_equal(pop3_parser_feed(p, "QUIT\r\n", 6, &used), POP3_PARSE_RESPONSE);
	assert_int_equal(pop3_parser_feed(p, "QUIT\r\n", 6, &used), POP3_PARSE_COMMAND);
	pop3_parser_free(&p);

	/* The default limit: 512 including CRLF. */
	p = pop3_parser_new(NULL);
	char big[POP3_LINE_MAX + 2];
	memcpy(big, "USER ", 5);
	memset(big + 5, 'u', POP3_LINE_MAX - 7);
	memcpy(big + POP3_LINE_MAX - 2, "\r\n", 2);
	assert_int_equal(pop3_parser_feed(p, big, POP3_LINE_MAX, &used), POP3_PARSE_COMMAND);
	memcpy(big, "USER ", 5);
	memset(big + 5, 'u', POP3_LINE_MAX - 6);
	memcpy(big + POP3_LINE_MAX - 1, "\r\n", 2);
	assert_int_equal(pop3_parser_feed(p, big, POP3_LINE_MAX + 1, &used), POP3_PARSE_ERROR);
	pop3_parser_free(&p);
}

static void test_line_ends(void **state)
{
	(void)state;
	struct pop3_parser *p = pop3_parser_new(NULL);
	size_t used;
	enum pop3_parse_error code;
	/* Bare LF ends a line too. */
	assert_int_equal(pop3_parser_feed(p, "STAT\n", 5, &used), POP3_PARSE_COMMAND);
	/* CR CR LF: a CR inside the line. */
	assert_int_equal(pop3_parser_feed(p, "STAT\r\r\n", 7, &used), POP3_PARSE_ERROR);
	pop3_parser_error(p, &code, NULL);
	assert_int_equal(code, POP3_ERR_BAD_CHAR);
	/* A bare CR does not end a line: "NOOP\rQUIT" is one (bad) line. */
	assert_int_equal(pop3_parser_feed(p, "NOOP\rQUIT\r\n", 11, &used), POP3_PARSE_ERROR);
	assert_int_equal(used, 11);
	/* A NUL in a SASL response is refused as well. */
	pop3_parser_expect_response(p);
	assert_int_equal(pop3_parser_feed(p, "AB\0C\r\n", 6, &used), POP3_PARSE_ERROR);
	/* Empty line: unknown command. */
	assert_int_equal(pop3_parser_feed(p, "\r\n", 2, &used), POP3_PARSE_ERROR);
	pop3_parser_error(p, &code, NULL);
	assert_int_equal(code, POP3_ERR_UNKNOWN);
	/* An empty SASL response is a response (the client's empty answer). */
	pop3_parser_expect_response(p);
	assert_int_equal(pop3_parser_feed(p, "\r\n", 2, &used), POP3_PARSE_RESPONSE);
	size_t rl;
	assert_string_equal(pop3_parser_response(p, &rl), "");
	assert_int_equal(rl, 0);
	pop3_parser_free(&p);
}

static void test_syntax_error_names_verb(void **state)
{
	(void)state;
	struct pop3_parser *p = pop3_parser_new(NULL);
	size_t used;
	enum pop3_parse_error code;
	enum pop3_verb verb;
	assert_int_equal(pop3_parser_feed(p, "TOP 1\r\n", 7, &used), POP3_PARSE_ERROR);
	const char *why = pop3_parser_error(p, &code, &verb);
	assert_int_equal(code, POP3_ERR_SYNTAX);
	assert_int_equal(verb, POP3_VERB_TOP);
	assert_string_equal(why, "Syntax: TOP msg lines");
	pop3_parser_free(&p);
}

/* The previous line (maybe a password) is erased when the next feed starts. */
static void test_previous_line_erased(void **state)
{
	(void)state;
	struct pop3_parser *p = pop3_parser_new(NULL);
	size_t used;
	assert_int_equal(pop3_parser_feed(p, "PASS hunter2\r\n", 14, &used), POP3_PARSE_COMMAND);
	const char *pw = pop3_parser_command(p)->args[0];
	assert_string_equal(pw, "hunter2");
	assert_int_equal(pop3_parser_feed(p, "N", 1, &used), POP3_PARSE_NEED_MORE);
	for (size_t i = 0; i < 7; i++)
		assert_int_equal(pw[i], '\0');
	pop3_parser_free(&p);
}

/* ----- the response encoder ----- */

static char *encode(const char *in, size_t len, bool top, uint64_t lines, size_t step,
		    size_t *out_len)
{
	struct pop3_encoder e;
	struct buf out;
	buf_init(&out, 0);
	pop3_encoder_init(&e, top, lines);
	for (size_t pos = 0; pos < len;) {
		size_t n = step == 0 ? (size_t)(rand() % 9) + 1 : step;
		if (n > len - pos)
			n = len - pos;
		assert_int_equal(pop3_encoder_feed(&e, in + pos, n, &out), 0);
		pos += n;
	}
	assert_int_equal(pop3_encoder_finish(&e, &out), 0);
	assert_true(pop3_encoder_done(&e));
	*out_len = out.len;
	char *r = out.data != NULL ? out.data : calloc(1, 1);
	return r;
}

static void expect_encoded(const char *in, bool top, uint64_t lines, const char *want)
{
	size_t steps[] = {1, 2, 3, 1000, 0};
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		size_t n;
		char *got = encode(in, strlen(in), top, lines, steps[i], &n);
		if (n != strlen(want) || memcmp(got, want, n) != 0)
			fail_msg(
			    "encode(\"%s\", top=%d, %llu) step %zu:\n got \"%.*s\"\nwant \"%s\"",
			    in, top, (unsigned long long)lines, steps[i], (int)n, got, want);
		free(got);
	}
}

static void test_encoder_retr(void **state)
{
	(void)state;
	expect_encoded("", false, 0, ".\r\n");
	expect_encoded("Subject: x\r\n\r\nbody\r\n", false, 0, "Subject: x\r\n\r\nbody\r\n.\r\n");
	/* Dot-stuffing: every line that starts with ".". */
	expect_encoded(".\r\n", false, 0, "..\r\n.\r\n");
	expect_encoded("a\r\n.\r\n..b\r\n.c.\r\n", false, 0, "a\r\n..\r\n...b\r\n..c.\r\n.\r\n");
	expect_encoded("a.b\r\n x.\r\n", false, 0, "a.b\r\n x.\r\n.\r\n");
	/* No line end at the end: one is added before the terminator. */
	expect_encoded("abc", false, 0, "abc\r\n.\r\n");
	expect_encoded(".", false, 0, "..\r\n.\r\n");
	/* Bare LF and bare CR become CRLF; CRLF stays one line end. */
	expect_encoded("a\nb\rc\r\nd", false, 0, "a\r\nb\r\nc\r\nd\r\n.\r\n");
	expect_encoded("a\r\r\nb", false, 0, "a\r\n\r\nb\r\n.\r\n");
	expect_encoded("a\r", false, 0, "a\r\n.\r\n");
	expect_encoded("\n.\n", false, 0, "\r\n..\r\n.\r\n");
	expect_encoded("\r\n\r\n", false, 0, "\r\n\r\n.\r\n");
}

static void test_encoder_top(void **state)
{
	(void)state;
	const char *msg = "From: a\r\nSubject: s\r\n\r\nl1\r\n.l2\r\nl3\r\n";
	expect_encoded(msg, true, 0, "From: a\r\nSubject: s\r\n\r\n.\r\n");
	expect_encoded(msg, true, 1, "From: a\r\nSubject: s\r\n\r\nl1\r\n.\r\n");
	expect_encoded(msg, true, 2, "From: a\r\nSubject: s\r\n\r\nl1\r\n..l2\r\n.\r\n");
	expect_encoded(msg, true, 3, "From: a\r\nSubject: s\r\n\r\nl1\r\n..l2\r\nl3\r\n.\r\n");
	expect_encoded(msg, true, 1000, "From: a\r\nSubject: s\r\n\r\nl1\r\n..l2\r\nl3\r\n.\r\n");
	expect_encoded(msg, true, UINT64_MAX,
		       "From: a\r\nSubject: s\r\n\r\nl1\r\n..l2\r\nl3\r\n.\r\n");
	/* No body separator: everything is header. */
	expect_encoded("From: a\r\nX: y", true, 0, "From: a\r\nX: y\r\n.\r\n");
	/* Bare LF blank line separates too; a last body line without end. */
	expect_encoded("A: b\n\nx\ny", true, 1, "A: b\r\n\r\nx\r\n.\r\n");
	expect_encoded("A: b\n\nx\ny", true, 2, "A: b\r\n\r\nx\r\ny\r\n.\r\n");
	/* Body line ended by a bare CR at the very end of a chunk. */
	expect_encoded("A: b\r\n\r\nx\ry\r", true, 1, "A: b\r\n\r\nx\r\n.\r\n");
	/* An empty message, and one that starts with the blank line. */
	expect_encoded("", true, 0, ".\r\n");
	expect_encoded("\r\nbody\r\n", true, 0, "\r\n.\r\n");
	expect_encoded("\r\nbody\r\n", true, 1, "\r\nbody\r\n.\r\n");
}

/* Decoding what the encoder produced gives back the content with CRLF line
 * ends, whatever the content and however it is split. */
static void test_encoder_roundtrip(void **state)
{
	(void)state;
	srand(5034);
	const char alphabet[] = {'.', '.', '\r', '\n', 'a', ' ', '\0', '.'};
	for (int round = 0; round < 2000; round++) {
		char in[64];
		size_t len = (size_t)(rand() % (int)sizeof(in));
		for (size_t i = 0; i < len; i++)
			in[i] = alphabet[rand() % (int)sizeof(alphabet)];
		/* Expected: line ends made CRLF, then ensure a final CRLF. */
		struct buf want;
		buf_init(&want, 0);
		for (size_t i = 0; i < len; i++) {
			if (in[i] == '\r') {
				buf_append(&want, "\r\n", 2);
				if (i + 1 < len && in[i + 1] == '\n')
					i++;
			} else if (in[i] == '\n') {
				buf_append(&want, "\r\n", 2);
			} else {
				buf_append(&want, &in[i], 1);
			}
		}
		if (want.len > 0 && !(want.len >= 2 && want.data[want.len - 2] == '\r' &&
				      want.data[want.len - 1] == '\n'))
			buf_append(&want, "\r\n", 2);
		size_t n1, n2;
		char *a = encode(in, len, false, 0, 1, &n1);
		char *b = encode(in, len, false, 0, 0, &n2);
		assert_int_equal(n1, n2);
		assert_memory_equal(a, b, n1);
		/* Undo the stuffing line by line; the terminator must be last. */
		assert_true(n1 >= 3);
		assert_memory_equal(a + n1 - 3, ".\r\n", 3);
		struct buf got;
		buf_init(&got, 0);
		size_t pos = 0;
		while (pos < n1 - 3) {
			const char *eol = memmem(a + pos, n1 - 3 - pos, "\r\n", 2);
			assert_non_null(eol);
			size_t ll = (size_t)(eol - (a + pos));
			/* No line but the terminator is a lone ".". */
			assert_false(ll == 1 && a[pos] == '.');
			assert_null(memchr(a + pos, '\r', ll));
			assert_null(memchr(a + pos, '\n', ll));
			size_t skip = ll > 0 && a[pos] == '.' ? 1 : 0;
			if (skip)
				assert_true(ll >= 2 && a[pos + 1] == '.');
			buf_append(&got, a + pos + skip, ll - skip);
			buf_append(&got, "\r\n", 2);
			pos += ll + 2;
		}
		assert_int_equal(got.len, want.len);
		if (got.len > 0)
			assert_memory_equal(got.data, want.data, got.len);
		buf_free(&got);
		buf_free(&want);
		free(a);
		free(b);
	}
}

static void test_encoder_full_output(void **state)
{
	(void)state;
	struct pop3_encoder e;
	struct buf out;
	buf_init(&out, 8);
	pop3_encoder_init(&e, false, 0);
	assert_int_equal(pop3_encoder_feed(&e, "abcdefgh", 8, &out), -1);
	assert_int_equal(out.len, 0);
	assert_int_equal(pop3_encoder_feed(&e, "ab", 2, &out), 0);
	assert_int_equal(out.len, 2);
	assert_int_equal(pop3_encoder_finish(&e, &out), -1);
	buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_verb),
	    cmocka_unit_test(test_any_case),
	    cmocka_unit_test(test_unknown),
	    cmocka_unit_test(test_numbers),
	    cmocka_unit_test(test_argument_counts),
	    cmocka_unit_test(test_lenient_spaces),
	    cmocka_unit_test(test_pass_keeps_spaces),
	    cmocka_unit_test(test_user_and_auth_args),
	    cmocka_unit_test(test_bad_chars),
	    cmocka_unit_test(test_one_byte_at_a_time),
	    cmocka_unit_test(test_random_splits),
	    cmocka_unit_test(test_stops_after_each_line),
	    cmocka_unit_test(test_line_limit),
	    cmocka_unit_test(test_line_ends),
	    cmocka_unit_test(test_syntax_error_names_verb),
	    cmocka_unit_test(test_previous_line_erased),
	    cmocka_unit_test(test_encoder_retr),
	    cmocka_unit_test(test_encoder_top),
	    cmocka_unit_test(test_encoder_roundtrip),
	    cmocka_unit_test(test_encoder_full_output),
	};
	return cmocka_run_group_tests_name("pop3_parser", tests, NULL, NULL);
}
