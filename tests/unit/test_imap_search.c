/* test_imap_search.c - unit tests for search programs (imap_search_*):
 * the RFC 9051 / 3501 / 4731 / 5182 / 5256 / 7162 examples, every search
 * key with its operand, the imaptest "search-sets" vectors, SORT and THREAD
 * headers, charsets and BADCHARSET, depth limits and every refusal. Inputs
 * go through the real command parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "imap/imap_date.h"
#include "imap/imap_parser.h"
#include "imap/imap_search.h"

static struct imap_command *parse_line(const char *line, size_t len)
{
	struct imap_parser *p = imap_parser_new(NULL, IMAP_PARSER_LITERAL_PLUS);
	size_t u;
	enum imap_parse_result r = imap_parser_feed(p, line, len, &u);
	if (r == IMAP_PARSE_LITERAL) {
		imap_parser_literal_accept(p);
		size_t u2;
		r = imap_parser_feed(p, line + u, len - u, &u2);
	}
	if (r != IMAP_PARSE_COMPLETE)
		fail_msg("\"%s\": parser result %d: %s", line, r, imap_parser_error(p, NULL, NULL));
	struct imap_command *cmd = imap_parser_take_command(p);
	imap_parser_free(&p);
	return cmd;
}

static enum imap_search_command command_of(const struct imap_command *cmd)
{
	const char *name = cmd->name;
	if (strncmp(name, "UID ", 4) == 0)
		name += 4;
	if (strcmp(name, "SORT") == 0)
		return IMAP_SEARCH_CMD_SORT;
	if (strcmp(name, "THREAD") == 0)
		return IMAP_SEARCH_CMD_THREAD;
	return IMAP_SEARCH_CMD_SEARCH;
}

static const struct imap_search_options opts_res = {0, true};

static struct imap_search_program *parse_ok_opts(const char *line, size_t len,
						 const struct imap_search_options *opts)
{
	struct imap_command *cmd = parse_line(line, len);
	struct imap_search_program *prog = NULL;
	const char *why = NULL;
	enum imap_search_status st =
	    imap_search_parse(cmd->args, command_of(cmd), opts, &prog, &why);
	if (st != IMAP_SEARCH_OK)
		fail_msg("\"%s\": refused (%d): %s", line, st, why);
	assert_non_null(prog);
	imap_command_free(&cmd);
	return prog;
}

static struct imap_search_program *parse_ok(const char *line)
{
	return parse_ok_opts(line, strlen(line), &opts_res);
}

static void expect_prog_opts(const char *line, size_t len, const struct imap_search_options *opts,
			     const char *want)
{
	struct imap_search_program *prog = parse_ok_opts(line, len, opts);
	struct buf out;
	buf_init(&out, 0);
	assert_int_equal(imap_search_program_format(prog, &out), 0);
	if (strcmp(out.data != NULL ? out.data : "", want) != 0)
		fail_msg("\"%s\":\n got  %s\n want %s", line, out.data, want);
	buf_free(&out);
	imap_search_program_free(&prog);
	assert_null(prog);
}

static void expect_prog(const char *line, const char *want)
{
	expect_prog_opts(line, strlen(line), &opts_res, want);
}

static void expect_status_opts(const char *line, size_t len, const struct imap_search_options *o,
			       enum imap_search_status want)
{
	struct imap_command *cmd = parse_line(line, len);
	struct imap_search_program *prog = (struct imap_search_program *)1;
	const char *why = NULL;
	enum imap_search_status st = imap_search_parse(cmd->args, command_of(cmd), o, &prog, &why);
	if (st != want)
		fail_msg("\"%s\": status %d (%s), want %d", line, st, why ? why : "", want);
	assert_null(prog);
	assert_non_null(why);
	imap_command_free(&cmd);
}

/* String-literal inputs (their length from sizeof: they may hold NULs). */
#define STATUS_LIT(lit, o, want) expect_status_opts((lit), sizeof(lit) - 1, (o), (want))
#define PROG_LIT(lit, o, want) expect_prog_opts((lit), sizeof(lit) - 1, (o), (want))

static void expect_bad(const char *line)
{
	expect_status_opts(line, strlen(line), &opts_res, IMAP_SEARCH_BAD);
}

/* ------------------------------------------------------------------ */

static void test_rfc_examples(void **state)
{
	(void)state;
	struct imap_search_program *p;
	/* RFC 9051 6.4.4 */
	p = parse_ok("A282 SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM "
		     "\"Smith\"\r\n");
	assert_true(p->return_given);
	assert_int_equal(p->return_opts, IMAP_SEARCH_RETURN_MIN | IMAP_SEARCH_RETURN_COUNT);
	assert_false(p->charset_given);
	assert_int_equal(p->command, IMAP_SEARCH_CMD_SEARCH);
	assert_int_equal(p->root->key, IMAP_SEARCH_AND);
	const struct imap_search_node *k = p->root->children;
	assert_int_equal(k->key, IMAP_SEARCH_FLAGGED);
	k = k->next;
	assert_int_equal(k->key, IMAP_SEARCH_SINCE);
	assert_int_equal(k->day, imap_days_from_civil(1994, 2, 1));
	k = k->next;
	assert_int_equal(k->key, IMAP_SEARCH_NOT);
	assert_int_equal(k->children->key, IMAP_SEARCH_FROM);
	assert_string_equal(k->children->str, "Smith");
	assert_int_equal(k->children->str_len, 5);
	assert_null(k->children->next);
	assert_null(k->next);
	imap_search_program_free(&p);

	p = parse_ok("A283 SEARCH RETURN () FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n");
	assert_true(p->return_given);
	assert_int_equal(p->return_opts, IMAP_SEARCH_RETURN_ALL);
	imap_search_program_free(&p);

	expect_prog("A284 SEARCH TEXT \"string not in mailbox\"\r\n",
		    "TEXT \"string not in mailbox\"");
	static const char lit[] = "A285 SEARCH CHARSET UTF-8 TEXT {12}\r\n"
				  "\xe3\x83\x8d\xe3\x83\x83\xe3\x83\x88\xe3\x83\xaf\r\n";
	p = parse_ok_opts(lit, sizeof(lit) - 1, NULL);
	assert_true(p->charset_given);
	assert_int_equal(p->charset, IMAP_SEARCH_CHARSET_UTF8);
	assert_int_equal(p->root->children->str_len, 12);
	imap_search_program_free(&p);
	STATUS_LIT("A286 SEARCH CHARSET WHATEVER text \"foo\"\r\n", NULL, IMAP_SEARCH_BADCHARSET);
	assert_string_equal(IMAP_SEARCH_CHARSETS, "(US-ASCII UTF-8)");

	/* RFC 3501 6.4.4 */
	expect_prog("A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n",
		    "FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"");
	/* RFC 5182 SEARCHRES */
	p = parse_ok("A301 UID SEARCH UID $ SMALLER 4096\r\n");
	assert_true(p->uses_searchres);
	assert_true(p->root->children->set.searchres);
	imap_search_program_free(&p);
	expect_prog("A301 UID SEARCH UID $ SMALLER 4096\r\n", "UID $ SMALLER 4096");
	p = parse_ok("A303 UID SEARCH RETURN (SAVE) OR SUBJECT IMAP SUBJECT SMTP\r\n");
	assert_int_equal(p->return_opts, IMAP_SEARCH_RETURN_SAVE);
	imap_search_program_free(&p);
	expect_prog("A303 UID SEARCH RETURN (SAVE MIN MAX ALL COUNT) OR SUBJECT IMAP SUBJECT "
		    "SMTP\r\n",
		    "OR SUBJECT \"IMAP\" SUBJECT \"SMTP\"");
	expect_prog("a SEARCH $\r\n", "$");
	expect_prog("a SEARCH NOT $ SEEN\r\n", "NOT $ SEEN");
	/* RFC 7162 */
	p = parse_ok("a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338\r\n");
	assert_true(p->uses_modseq);
	k = p->root->children;
	assert_int_equal(k->key, IMAP_SEARCH_MODSEQ);
	assert_string_equal(k->modseq_entry, "/flags/\\draft");
	assert_int_equal(k->modseq_type, IMAP_MODSEQ_ENTRY_ALL);
	assert_int_equal(k->number, 620162338);
	imap_search_program_free(&p);
	expect_prog("t SEARCH OR NOT MODSEQ 720162338 LARGER 50000\r\n",
		    "OR NOT MODSEQ 720162338 LARGER 50000");
	expect_prog("a SEARCH MODSEQ \"/flags/$Junk\" priv 0\r\n",
		    "MODSEQ \"/flags/$Junk\" priv 0");
	expect_prog("a SEARCH MODSEQ \"/FLAGS/\\\\Seen\" shared 5\r\n",
		    "MODSEQ \"/FLAGS/\\\\Seen\" shared 5");
}

/* imaptest's search-sets and search-flags vectors. */
static void test_imaptest_sets(void **state)
{
	(void)state;
	static const char *const v[][2] = {
	    {"a search 1:3,5\r\n", "1:3,5"},
	    {"a search 4:2\r\n", "2:4"},
	    {"a search uid 1:3,5\r\n", "UID 1:3,5"},
	    {"a search uid 4:2\r\n", "UID 2:4"},
	    {"a search 1:3 not uid 3\r\n", "1:3 NOT UID 3"},
	    {"a search not 2,4\r\n", "NOT 2,4"},
	    {"a search or 1 uid 3\r\n", "OR 1 UID 3"},
	    {"a search *\r\n", "*"},
	    {"a search uid *\r\n", "UID *"},
	    {"a search uid 100:*\r\n", "UID 100:*"},
	    {"a search *:3\r\n", "*:3"},
	    {"a search 1,4,*\r\n", "1,4,*"},
	    {"a search (3) uid 4\r\n", "(3) UID 4"},
	    {"a search (uid 4) 3\r\n", "(UID 4) 3"},
	    {"a search 3 (uid 4)\r\n", "3 (UID 4)"},
	    {"a uid search uid 1:4294967295\r\n", "UID 1:4294967295"},
	    {"a search all\r\n", "ALL"},
	    {"a search seen unseen\r\n", "SEEN UNSEEN"},
	    {"a search keyword $Foo unkeyword bar\r\n", "KEYWORD $Foo UNKEYWORD bar"},
	    {"a search or or seen flagged deleted\r\n", "OR OR SEEN FLAGGED DELETED"},
	    {"a search not not not seen\r\n", "NOT NOT NOT SEEN"},
	    {"a search ((seen) (((flagged))))\r\n", "((SEEN) (((FLAGGED))))"},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		expect_prog(v[i][0], v[i][1]);
}

static void test_all_keys(void **state)
{
	(void)state;
	expect_prog("a SEARCH ALL ANSWERED BCC b BEFORE 1-Feb-1994 BODY x CC c DELETED DRAFT "
		    "FLAGGED FROM f HEADER X-Foo bar KEYWORD $k LARGER 10 NEW NOT SEEN OLD ON "
		    "2-Feb-1994 OR SEEN DRAFT RECENT SEEN SENTBEFORE 1-Jan-2000 SENTON 01-jan-2000 "
		    "SENTSINCE \"1-Jan-2000\" SINCE 31-Dec-1999 SMALLER 100 SUBJECT s TEXT t TO t "
		    "UID 1:* UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNKEYWORD $u UNSEEN 1,2:3 "
		    "MODSEQ 5\r\n",
		    "ALL ANSWERED BCC \"b\" BEFORE 1-Feb-1994 BODY \"x\" CC \"c\" DELETED DRAFT "
		    "FLAGGED FROM \"f\" HEADER X-Foo \"bar\" KEYWORD $k LARGER 10 NEW NOT SEEN OLD "
		    "ON 2-Feb-1994 OR SEEN DRAFT RECENT SEEN SENTBEFORE 1-Jan-2000 SENTON "
		    "1-Jan-2000 SENTSINCE 1-Jan-2000 SINCE 31-Dec-1999 SMALLER 100 SUBJECT \"s\" "
		    "TEXT \"t\" TO \"t\" UID 1:* UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNKEYWORD "
		    "$u UNSEEN 1:3 MODSEQ 5");
	/* operands as quoted strings, literals, NIL, empty strings */
	expect_prog("a search subject NIL from \"\" header message-id \"\"\r\n",
		    "SUBJECT \"NIL\" FROM \"\" HEADER message-id \"\"");
	expect_prog("a search subject {3+}\r\nx\"y body \"a\\\\b\\\"c\"\r\n",
		    "SUBJECT \"x\\\"y\" BODY \"a\\\\b\\\"c\"");
	expect_prog("a search keyword \"$Quoted\" larger 9223372036854775807\r\n",
		    "KEYWORD $Quoted LARGER 9223372036854775807");
	/* UTF-8 accepted under US-ASCII and by default (it is a superset) */
	expect_prog("a search charset us-ascii subject \"caf\xc3\xa9\"\r\n",
		    "SUBJECT \"caf\xc3\xa9\"");
	expect_prog("a search subject \"\x01\"\r\n", "SUBJECT \"\\x01\"");
	/* key names */
	assert_string_equal(imap_search_key_name(IMAP_SEARCH_UNSEEN), "UNSEEN");
	assert_string_equal(imap_search_key_name(IMAP_SEARCH_AND), "AND");
	assert_string_equal(imap_search_key_name(IMAP_SEARCH_SEQSET), "SEQSET");
	assert_string_equal(imap_search_key_name(IMAP_SEARCH_KEY_COUNT), "?");
}

static void test_sort_thread(void **state)
{
	(void)state;
	struct imap_search_program *p;
	p = parse_ok("A283 SORT (SUBJECT) UTF-8 SINCE 1-Feb-1994\r\n");
	assert_int_equal(p->command, IMAP_SEARCH_CMD_SORT);
	assert_int_equal(p->sort_count, 1);
	assert_int_equal(p->sort[0].key, IMAP_SORT_SUBJECT);
	assert_false(p->sort[0].reverse);
	assert_true(p->charset_given);
	assert_int_equal(p->charset, IMAP_SEARCH_CHARSET_UTF8);
	assert_false(p->return_given);
	imap_search_program_free(&p);

	p = parse_ok("a UID SORT (REVERSE DATE arrival cc from size subject to displayfrom "
		     "REVERSE DISPLAYTO) US-ASCII ALL\r\n");
	assert_int_equal(p->sort_count, 9);
	assert_true(p->sort[0].reverse);
	assert_int_equal(p->sort[0].key, IMAP_SORT_DATE);
	assert_int_equal(p->sort[1].key, IMAP_SORT_ARRIVAL);
	assert_int_equal(p->sort[7].key, IMAP_SORT_DISPLAYFROM);
	assert_false(p->sort[7].reverse);
	assert_int_equal(p->sort[8].key, IMAP_SORT_DISPLAYTO);
	assert_true(p->sort[8].reverse);
	assert_int_equal(p->charset, IMAP_SEARCH_CHARSET_US_ASCII);
	imap_search_program_free(&p);

	/* ESORT (RFC 5267) */
	p = parse_ok("a SORT RETURN (MIN COUNT) (DATE) UTF-8 UNSEEN\r\n");
	assert_true(p->return_given);
	assert_int_equal(p->return_opts, IMAP_SEARCH_RETURN_MIN | IMAP_SEARCH_RETURN_COUNT);
	imap_search_program_free(&p);

	/* PARTIAL (RFC 9394), imaptest "search-partial" / "sort-partial" */
	p = parse_ok("a search return (partial 4:2) all\r\n");
	assert_int_equal(p->return_opts, IMAP_SEARCH_RETURN_PARTIAL);
	assert_int_equal(p->partial_first, 2);
	assert_int_equal(p->partial_last, 4);
	assert_false(p->partial_from_end);
	imap_search_program_free(&p);
	p = parse_ok("a sort return (count partial -1:-100) (arrival) us-ascii all\r\n");
	assert_int_equal(p->return_opts, IMAP_SEARCH_RETURN_PARTIAL | IMAP_SEARCH_RETURN_COUNT);
	assert_int_equal(p->partial_first, 1);
	assert_int_equal(p->partial_last, 100);
	assert_true(p->partial_from_end);
	imap_search_program_free(&p);
	p = parse_ok("a uid search return (partial 5:4294967295) 1:2,4:5\r\n");
	assert_int_equal(p->partial_last, 4294967295u);
	imap_search_program_free(&p);

	p = parse_ok("A286 THREAD ORDEREDSUBJECT UTF-8 SINCE 5-MAR-2000\r\n");
	assert_int_equal(p->command, IMAP_SEARCH_CMD_THREAD);
	assert_int_equal(p->thread, IMAP_THREAD_ORDEREDSUBJECT);
	imap_search_program_free(&p);
	p = parse_ok("A287 UID THREAD references us-ascii all\r\n");
	assert_int_equal(p->thread, IMAP_THREAD_REFERENCES);
	imap_search_program_free(&p);

	expect_bad("a SORT () UTF-8 ALL\r\n");
	expect_bad("a SORT (REVERSE) UTF-8 ALL\r\n");
	expect_bad("a SORT (REVERSE REVERSE DATE) UTF-8 ALL\r\n");
	expect_bad("a SORT (FOO) UTF-8 ALL\r\n");
	expect_bad("a SORT ((DATE)) UTF-8 ALL\r\n");
	expect_bad("a SORT (DATE) UTF-8\r\n");
	expect_bad("a SORT DATE UTF-8 ALL\r\n");
	expect_bad("a SORT\r\n");
	expect_bad("a SORT (DATE)\r\n");
	expect_bad("a SORT RETURN (FOO) (DATE) UTF-8 ALL\r\n");
	STATUS_LIT("a SORT (DATE) ALL\r\n", NULL, IMAP_SEARCH_BADCHARSET);
	STATUS_LIT("a SORT (DATE) ISO-8859-1 ALL\r\n", NULL, IMAP_SEARCH_BADCHARSET);
	expect_bad("a THREAD FOO UTF-8 ALL\r\n");
	expect_bad("a THREAD REFERENCES\r\n");
	expect_bad("a THREAD REFERENCES UTF-8\r\n");
	expect_bad("a THREAD\r\n");
	expect_bad("a THREAD RETURN (ALL) REFERENCES UTF-8 ALL\r\n");
	STATUS_LIT("a THREAD REFERENCES KOI8-R ALL\r\n", NULL, IMAP_SEARCH_BADCHARSET);
}

static void test_bad(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "a SEARCH\r\n",
	    "a SEARCH FOO\r\n",
	    "a SEARCH NIL\r\n",
	    "a SEARCH \"ALL\"\r\n",
	    "a SEARCH FROM\r\n",
	    "a SEARCH FROM (a)\r\n",
	    "a SEARCH LARGER\r\n",
	    "a SEARCH LARGER x\r\n",
	    "a SEARCH LARGER -1\r\n",
	    "a SEARCH LARGER \"1\"\r\n",
	    "a SEARCH LARGER 9223372036854775808\r\n",
	    "a SEARCH SMALLER 99999999999999999999\r\n",
	    "a SEARCH BEFORE 1-Foo-1994\r\n",
	    "a SEARCH BEFORE 30-Feb-1994\r\n",
	    "a SEARCH BEFORE {10+}\r\n1-Feb-1994\r\n",
	    "a SEARCH BEFORE\r\n",
	    "a SEARCH UID\r\n",
	    "a SEARCH UID x\r\n",
	    "a SEARCH UID \"1\"\r\n",
	    "a SEARCH UID 0\r\n",
	    "a SEARCH 0\r\n",
	    "a SEARCH 1:\r\n",
	    "a SEARCH NOT\r\n",
	    "a SEARCH OR SEEN\r\n",
	    "a SEARCH ()\r\n",
	    "a SEARCH (SEEN ())\r\n",
	    "a SEARCH RETURN MIN ALL\r\n",
	    "a SEARCH RETURN (FOO) ALL\r\n",
	    "a SEARCH RETURN (PARTIAL 1) ALL\r\n",
	    "a SEARCH RETURN (PARTIAL 1:*) ALL\r\n",
	    "a SEARCH RETURN (PARTIAL *:1) ALL\r\n",
	    "a SEARCH RETURN (PARTIAL 0:1) ALL\r\n",
	    "a SEARCH RETURN (PARTIAL -1:2) ALL\r\n",
	    "a SEARCH RETURN (PARTIAL 1:-2) ALL\r\n",
	    "a SEARCH RETURN (PARTIAL --1:--2) ALL\r\n",
	    "a SEARCH RETURN (PARTIAL 1:4294967296) ALL\r\n",
	    "a SEARCH RETURN (PARTIAL \"1:2\") ALL\r\n",
	    "a SEARCH RETURN (PARTIAL) ALL\r\n",
	    "a SEARCH RETURN (PARTIAL 1:2 PARTIAL 1:2) ALL\r\n",
	    "a SEARCH RETURN (UPDATE) ALL\r\n",
	    "a SEARCH RETURN (MIN)\r\n",
	    "a SEARCH RETURN\r\n",
	    "a SEARCH CHARSET\r\n",
	    "a SEARCH CHARSET (UTF-8) ALL\r\n",
	    "a SEARCH CHARSET UTF-8\r\n",
	    "a SEARCH CHARSET UTF-8 CHARSET UTF-8 ALL\r\n",
	    "a SEARCH ALL CHARSET UTF-8\r\n",
	    "a SEARCH SUBJECT \"\xff\"\r\n",
	    "a SEARCH SUBJECT \"\xc3\"\r\n",
	    "a SEARCH SUBJECT \"\xed\xa0\x80\"\r\n",
	    "a SEARCH KEYWORD \\Seen\r\n",
	    "a SEARCH KEYWORD a%b\r\n",
	    "a SEARCH KEYWORD\r\n",
	    "a SEARCH UNKEYWORD (a)\r\n",
	    "a SEARCH HEADER \"\" x\r\n",
	    "a SEARCH HEADER \"a:b\" x\r\n",
	    "a SEARCH HEADER \"a b\" x\r\n",
	    "a SEARCH HEADER a\r\n",
	    "a SEARCH HEADER\r\n",
	    "a SEARCH MODSEQ\r\n",
	    "a SEARCH MODSEQ x\r\n",
	    "a SEARCH MODSEQ -1\r\n",
	    "a SEARCH MODSEQ 9223372036854775808\r\n",
	    "a SEARCH MODSEQ \"/flags/\\\\seen\" foo 1\r\n",
	    "a SEARCH MODSEQ \"/foo\" all 1\r\n",
	    "a SEARCH MODSEQ \"/flags/\" all 1\r\n",
	    "a SEARCH MODSEQ \"/flags/\\\\\" all 1\r\n",
	    "a SEARCH MODSEQ \"/flags/a b\" all 1\r\n",
	    "a SEARCH MODSEQ \"/flags/\\\\seen\" all\r\n",
	    "a SEARCH MODSEQ \"/flags/\\\\seen\" 1\r\n",
	    "a SEARCH MODSEQ {10+}\r\n/flags/foo all 1\r\n",
	    "a SEARCH YOUNGER 100\r\n",
	    "a SEARCH SAVEDBEFORE 1-Feb-1994\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_bad(bad[i]);
	/* "$" only when SEARCHRES is on */
	STATUS_LIT("a SEARCH $\r\n", NULL, IMAP_SEARCH_BAD);
	STATUS_LIT("a SEARCH UID $\r\n", NULL, IMAP_SEARCH_BAD);
	/* NUL in a literal8 string */
	static const char nul[] = "a SEARCH SUBJECT ~{3+}\r\na\0b\r\n";
	expect_status_opts(nul, sizeof(nul) - 1, NULL, IMAP_SEARCH_BAD);
	/* unsupported charsets */
	STATUS_LIT("a SEARCH CHARSET WHATEVER\r\n", NULL, IMAP_SEARCH_BADCHARSET);
	STATUS_LIT("a SEARCH CHARSET UTF8 ALL\r\n", NULL, IMAP_SEARCH_BADCHARSET);
	STATUS_LIT("a SEARCH RETURN (COUNT) CHARSET \"ISO-8859-1\" ALL\r\n", NULL,
		   IMAP_SEARCH_BADCHARSET);
}

static void test_depth(void **state)
{
	(void)state;
	struct imap_search_options o = {4, false};
	PROG_LIT("a SEARCH NOT NOT NOT NOT SEEN\r\n", &o, "NOT NOT NOT NOT SEEN");
	STATUS_LIT("a SEARCH NOT NOT NOT NOT NOT SEEN\r\n", &o, IMAP_SEARCH_BAD);
	PROG_LIT("a SEARCH ((((SEEN))))\r\n", &o, "((((SEEN))))");
	STATUS_LIT("a SEARCH (((((SEEN)))))\r\n", &o, IMAP_SEARCH_BAD);
	PROG_LIT("a SEARCH OR OR OR OR 1 2 3 4 5\r\n", &o, "OR OR OR OR 1 2 3 4 5");
	STATUS_LIT("a SEARCH OR OR OR OR OR 1 2 3 4 5 6\r\n", &o, IMAP_SEARCH_BAD);
	/* default: 32 */
	struct buf line;
	buf_init(&line, 0);
	buf_append_str(&line, "a SEARCH");
	for (int i = 0; i < 32; i++)
		buf_append_str(&line, " OR SEEN");
	buf_append_str(&line, " SEEN\r\n");
	struct imap_search_program *p = parse_ok_opts(line.data, line.len, NULL);
	imap_search_program_free(&p);
	buf_reset(&line);
	buf_append_str(&line, "a SEARCH");
	for (int i = 0; i < 33; i++)
		buf_append_str(&line, " NOT");
	buf_append_str(&line, " SEEN\r\n");
	expect_status_opts(line.data, line.len, NULL, IMAP_SEARCH_BAD);
	buf_free(&line);
	imap_search_program_free(&p);
}

static void test_format_full(void **state)
{
	(void)state;
	struct imap_search_program *p = parse_ok("a SEARCH SUBJECT \"abc\" UID 1:3\r\n");
	for (size_t max = 1; max < 21; max++) {
		struct buf out;
		buf_init(&out, max);
		assert_int_equal(imap_search_program_format(p, &out), -1);
		buf_free(&out);
	}
	struct buf out;
	buf_init(&out, 21);
	assert_int_equal(imap_search_program_format(p, &out), 0);
	assert_string_equal(out.data, "SUBJECT \"abc\" UID 1:3");
	buf_free(&out);
	imap_search_program_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc_examples), cmocka_unit_test(test_imaptest_sets),
	    cmocka_unit_test(test_all_keys),	 cmocka_unit_test(test_sort_thread),
	    cmocka_unit_test(test_bad),		 cmocka_unit_test(test_depth),
	    cmocka_unit_test(test_format_full),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
