/* test_imap_fetch.c - unit tests for FETCH / STORE argument parsing
 * (imap_fetch_*, imap_store_*, imap_flags_*): macros, sections and
 * partials, BINARY, CONDSTORE / QRESYNC modifiers, response names, flags,
 * and every refusal. Inputs go through the real command parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "imap/imap_fetch.h"
#include "imap/imap_parser.h"

static struct imap_command *parse_line(const char *line)
{
	struct imap_parser *p = imap_parser_new(NULL, IMAP_PARSER_LITERAL_PLUS);
	size_t u;
	enum imap_parse_result r = imap_parser_feed(p, line, strlen(line), &u);
	if (r != IMAP_PARSE_COMPLETE)
		fail_msg("\"%s\": parser result %d: %s", line, r, imap_parser_error(p, NULL, NULL));
	struct imap_command *cmd = imap_parser_take_command(p);
	imap_parser_free(&p);
	return cmd;
}

/* Parse a FETCH / UID FETCH line; render the request as
 * "set|item item ...|modifiers" with each item's response name. */
static void render_fetch(const struct imap_fetch_request *req, struct buf *out)
{
	imap_seqset_format(&req->set, out);
	buf_append_str(out, "|");
	for (unsigned i = 0; i < req->item_count; i++) {
		if (i > 0)
			buf_append_str(out, " ");
		if (req->items[i].peek)
			buf_append_str(out, "peek:");
		assert_int_equal(imap_fetch_item_name(&req->items[i], out), 0);
	}
	buf_append_str(out, "|");
	if (req->changedsince_given)
		buf_printf(out, "changedsince=%llu", (unsigned long long)req->changedsince);
	if (req->vanished)
		buf_append_str(out, " vanished");
	if (req->sets_seen)
		buf_append_str(out, " seen");
}

static void expect_fetch_flags(const char *line, unsigned flags, const char *want)
{
	struct imap_command *cmd = parse_line(line);
	bool uid = imap_command_is(cmd, "UID FETCH");
	struct imap_fetch_request req;
	const char *why = NULL;
	if (imap_fetch_parse(cmd->args, uid, flags, &req, &why) < 0)
		fail_msg("\"%s\": refused: %s", line, why);
	struct buf out;
	buf_init(&out, 0);
	render_fetch(&req, &out);
	if (strcmp(out.data, want) != 0)
		fail_msg("\"%s\":\n got  %s\n want %s", line, out.data, want);
	buf_free(&out);
	imap_fetch_request_free(&req);
	imap_command_free(&cmd);
}

static void expect_fetch(const char *line, const char *want)
{
	expect_fetch_flags(line, 0, want);
}

static void expect_fetch_bad(const char *line, const char *why_want)
{
	struct imap_command *cmd = parse_line(line);
	bool uid = imap_command_is(cmd, "UID FETCH");
	struct imap_fetch_request req;
	const char *why = NULL;
	if (imap_fetch_parse(cmd->args, uid, 0, &req, &why) == 0)
		fail_msg("\"%s\": accepted", line);
	assert_non_null(why);
	if (why_want != NULL && strcmp(why, why_want) != 0)
		fail_msg("\"%s\": \"%s\", want \"%s\"", line, why, why_want);
	imap_fetch_request_free(&req);
	imap_command_free(&cmd);
}

static void test_fetch_rfc(void **state)
{
	(void)state;
	/* RFC 9051 6.4.5 and section 8 */
	expect_fetch("A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])\r\n",
		     "2:4|FLAGS BODY[HEADER.FIELDS (DATE FROM)]| seen");
	expect_fetch("a003 fetch 12 full\r\n", "12|FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY|");
	expect_fetch("a004 fetch 12 body[header]\r\n", "12|BODY[HEADER]| seen");
	expect_fetch("a FETCH 1:3 ALL\r\n", "1:3|FLAGS INTERNALDATE RFC822.SIZE ENVELOPE|");
	expect_fetch("a FETCH 1:3 fast\r\n", "1:3|FLAGS INTERNALDATE RFC822.SIZE|");
	expect_fetch("A999 UID FETCH 4827313:4828442 FLAGS\r\n", "4827313:4828442|FLAGS UID|");
	expect_fetch("A283 FETCH 1,3 (UID INTERNALDATE FLAGS RFC822.HEADER)\r\n",
		     "1,3|UID INTERNALDATE FLAGS RFC822.HEADER|");
	expect_fetch_flags("A283 FETCH $ (UID INTERNALDATE FLAGS RFC822.HEADER)\r\n",
			   IMAP_SEQSET_ALLOW_SEARCHRES, "$|UID INTERNALDATE FLAGS RFC822.HEADER|");
	/* every simple attribute */
	expect_fetch("a FETCH * (FLAGS INTERNALDATE RFC822 RFC822.HEADER RFC822.SIZE RFC822.TEXT "
		     "ENVELOPE BODY BODYSTRUCTURE UID MODSEQ)\r\n",
		     "*|FLAGS INTERNALDATE RFC822 RFC822.HEADER RFC822.SIZE RFC822.TEXT ENVELOPE "
		     "BODY BODYSTRUCTURE UID MODSEQ| seen");
	expect_fetch("a FETCH 1 RFC822.TEXT\r\n", "1|RFC822.TEXT| seen");
	expect_fetch("a FETCH 1 RFC822.HEADER\r\n", "1|RFC822.HEADER|");
	/* duplicates of simple items collapse; UID FETCH's UID is not doubled */
	expect_fetch("a UID FETCH 1 (UID FLAGS flags)\r\n", "1|UID FLAGS|");
}

static void test_fetch_sections(void **state)
{
	(void)state;
	expect_fetch("a FETCH 1 BODY.PEEK[1.2.3.MIME]<10.20>\r\n", "1|peek:BODY[1.2.3.MIME]<10>|");
	expect_fetch("a FETCH 1 (BODY[] BODY.PEEK[] BODY[1] BODY[1.TEXT] BODY[TEXT]<0.1>)\r\n",
		     "1|BODY[] peek:BODY[] BODY[1] BODY[1.TEXT] BODY[TEXT]<0>| seen");
	expect_fetch("a FETCH 1 body.peek[header.fields (date from)]\r\n",
		     "1|peek:BODY[HEADER.FIELDS (date from)]|");
	expect_fetch("a FETCH 1 BODY.PEEK[2.HEADER.FIELDS.NOT (Message-ID In-Reply-To)]\r\n",
		     "1|peek:BODY[2.HEADER.FIELDS.NOT (Message-ID In-Reply-To)]|");
	expect_fetch("a FETCH 1 BODY.PEEK[HEADER.FIELDS (\"X]Y\" \"A%B\" \"Plain\" "
		     "\"Q\\\"X\")]\r\n",
		     "1|peek:BODY[HEADER.FIELDS (\"X]Y\" \"A%B\" Plain \"Q\\\"X\")]|");
	expect_fetch("a FETCH 1 BODY.PEEK[HEADER.FIELDS  ( A   B )]\r\n",
		     "1|peek:BODY[HEADER.FIELDS (A B)]|");
	expect_fetch("a FETCH 1 (BINARY[1.2]<0.100> BINARY.SIZE[1] BINARY.PEEK[])\r\n",
		     "1|BINARY[1.2]<0> BINARY.SIZE[1] peek:BINARY[]| seen");
	expect_fetch("a FETCH 1 BINARY.SIZE[]\r\n", "1|BINARY.SIZE[]|");
	expect_fetch("a FETCH 1 BODY[4294967295]<9223372036854775807.9223372036854775807>\r\n",
		     "1|BODY[4294967295]<9223372036854775807>| seen");

	/* the split of a section */
	struct imap_fetch_item item;
	const char *why;
	const char *s = "BODY.PEEK[1.22.333.HEADER.FIELDS (Date \"From\")]<5.6>";
	assert_int_equal(imap_fetch_item_parse(s, strlen(s), &item, &why), 0);
	assert_int_equal(item.att, IMAP_FETCH_BODY_SECTION);
	assert_true(item.peek);
	assert_string_equal(item.section.raw, "1.22.333.HEADER.FIELDS (Date \"From\")");
	assert_int_equal(item.section.raw_len, strlen(item.section.raw));
	assert_int_equal(item.section.part_count, 3);
	assert_int_equal(item.section.parts[0], 1);
	assert_int_equal(item.section.parts[1], 22);
	assert_int_equal(item.section.parts[2], 333);
	assert_int_equal(item.section.text, IMAP_SECTION_HEADER_FIELDS);
	assert_int_equal(item.section.field_count, 2);
	assert_string_equal(item.section.fields[0].name, "Date");
	assert_string_equal(item.section.fields[1].name, "From");
	assert_int_equal(item.section.fields[1].len, 4);
	assert_true(item.partial);
	assert_int_equal(item.partial_offset, 5);
	assert_int_equal(item.partial_count, 6);
	imap_fetch_item_free(&item);

	s = "BODY[]";
	assert_int_equal(imap_fetch_item_parse(s, strlen(s), &item, &why), 0);
	assert_int_equal(item.section.part_count, 0);
	assert_int_equal(item.section.text, IMAP_SECTION_ALL);
	assert_string_equal(item.section.raw, "");
	assert_false(item.partial);
	imap_fetch_item_free(&item);

	/* 64 levels of parts, not 65 */
	struct buf deep;
	buf_init(&deep, 0);
	buf_append_str(&deep, "BODY[1");
	for (int i = 1; i < IMAP_SECTION_MAX_PARTS; i++)
		buf_append_str(&deep, ".1");
	buf_append_str(&deep, "]");
	assert_int_equal(imap_fetch_item_parse(deep.data, deep.len, &item, &why), 0);
	assert_int_equal(item.section.part_count, IMAP_SECTION_MAX_PARTS);
	imap_fetch_item_free(&item);
	deep.len--;
	buf_append_str(&deep, ".1]");
	assert_int_equal(imap_fetch_item_parse(deep.data, deep.len, &item, &why), -1);
	buf_free(&deep);
}

static void test_fetch_modifiers(void **state)
{
	(void)state;
	/* RFC 7162 */
	expect_fetch("s100 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)\r\n",
		     "1:*|FLAGS UID MODSEQ|changedsince=12345");
	expect_fetch("B02 UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)\r\n",
		     "300:500|FLAGS UID MODSEQ|changedsince=12345 vanished");
	expect_fetch("B03 UID FETCH 300:500 (FLAGS) (VANISHED CHANGEDSINCE 1)\r\n",
		     "300:500|FLAGS UID MODSEQ|changedsince=1 vanished");
	expect_fetch("a FETCH 1 (FLAGS MODSEQ) (CHANGEDSINCE 0)\r\n",
		     "1|FLAGS MODSEQ|changedsince=0");
	expect_fetch_bad("a FETCH 1 FLAGS (VANISHED)\r\n", "VANISHED only with UID FETCH");
	expect_fetch_bad("a FETCH 1 FLAGS (CHANGEDSINCE 1 VANISHED)\r\n", NULL);
	expect_fetch_bad("a UID FETCH 1 FLAGS (VANISHED)\r\n", "VANISHED needs CHANGEDSINCE");
	expect_fetch_bad("a UID FETCH 1 FLAGS (CHANGEDSINCE 1 VANISHED VANISHED)\r\n", NULL);
	expect_fetch_bad("a FETCH 1 FLAGS (CHANGEDSINCE)\r\n", NULL);
	expect_fetch_bad("a FETCH 1 FLAGS (CHANGEDSINCE x)\r\n", NULL);
	expect_fetch_bad("a FETCH 1 FLAGS (CHANGEDSINCE \"1\")\r\n", NULL);
	expect_fetch_bad("a FETCH 1 FLAGS (CHANGEDSINCE 9223372036854775808)\r\n", NULL);
	expect_fetch_bad("a FETCH 1 FLAGS (CHANGEDSINCE 1 CHANGEDSINCE 2)\r\n", NULL);
	expect_fetch_bad("a FETCH 1 FLAGS ()\r\n", NULL);
	expect_fetch_bad("a FETCH 1 FLAGS (FOO)\r\n", "Unknown FETCH modifier");
	expect_fetch_bad("a FETCH 1 FLAGS (CHANGEDSINCE 1) x\r\n", "Junk after FETCH arguments");
	expect_fetch_bad("a FETCH 1 FLAGS x\r\n", "Junk after FETCH arguments");
}

static void test_fetch_bad(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "a FETCH 1\r\n",
	    "a FETCH\r\n",
	    "a FETCH 1 ()\r\n",
	    "a FETCH 1 (ALL)\r\n",
	    "a FETCH 1 (FLAGS FAST)\r\n",
	    "a FETCH 1 FOO\r\n",
	    "a FETCH 1 \"FLAGS\"\r\n",
	    "a FETCH 1 (\"FLAGS\")\r\n",
	    "a FETCH 1 ((FLAGS))\r\n",
	    "a FETCH 1 NIL\r\n",
	    "a FETCH 0 FLAGS\r\n",
	    "a FETCH \"1\" FLAGS\r\n",
	    "a FETCH $ FLAGS\r\n",
	    "a FETCH 1:x FLAGS\r\n",
	    "a FETCH 1 BODY[0]\r\n",
	    "a FETCH 1 BODY[1.]\r\n",
	    "a FETCH 1 BODY[.1]\r\n",
	    "a FETCH 1 BODY[1..2]\r\n",
	    "a FETCH 1 BODY[1.0]\r\n",
	    "a FETCH 1 BODY[MIME]\r\n",
	    "a FETCH 1 BODY[1.MIME.X]\r\n",
	    "a FETCH 1 BODY[1.HEADERX]\r\n",
	    "a FETCH 1 BODY[HEADER.FIELDS]\r\n",
	    "a FETCH 1 BODY[HEADER.FIELDS.NOT]\r\n",
	    "a FETCH 1 BODY[HEADER.FIELDS ()]\r\n",
	    "a FETCH 1 BODY[HEADER.FIELDS (A:B)]\r\n",
	    "a FETCH 1 BODY[HEADER.FIELDS (\"\")]\r\n",
	    "a FETCH 1 BODY[HEADER.FIELDS (\"A B\")]\r\n",
	    "a FETCH 1 BODY[HEADER.FIELDS (A) B]\r\n",
	    "a FETCH 1 BODY[HEADER.FIELDS (A]\r\n",
	    "a FETCH 1 BODY[HEADER.FIELDS A]\r\n",
	    "a FETCH 1 BODY[HEADER.FIELDS(A)]\r\n",
	    "a FETCH 1 BODY[HEADER.FIELDS.NOTX (A)]\r\n",
	    "a FETCH 1 BODY[TEXT]<0>\r\n",
	    "a FETCH 1 BODY[TEXT]<0.0>\r\n",
	    "a FETCH 1 BODY[TEXT]<a.1>\r\n",
	    "a FETCH 1 BODY[TEXT]<1.a>\r\n",
	    "a FETCH 1 BODY[TEXT]<1.2>x\r\n",
	    "a FETCH 1 BODY[TEXT]<.2>\r\n",
	    "a FETCH 1 BODY[TEXT]<1.>\r\n",
	    "a FETCH 1 BODY[TEXT]<1.2.3>\r\n",
	    "a FETCH 1 BODY[TEXT]<9223372036854775808.1>\r\n",
	    "a FETCH 1 BODY[TEXT]x\r\n",
	    "a FETCH 1 BODY[1]]\r\n",
	    "a FETCH 1 BODY[4294967296]\r\n",
	    "a FETCH 1 BINARY[HEADER]\r\n",
	    "a FETCH 1 BINARY[1.MIME]\r\n",
	    "a FETCH 1 BINARY.SIZE[1]<0.1>\r\n",
	    "a FETCH 1 BINARY.PEEK.SIZE[1]\r\n",
	    "a FETCH 1 BINARY.SIZE\r\n",
	    "a FETCH 1 BINARY\r\n",
	    "a FETCH 1 BODY.PEEK\r\n",
	    "a FETCH 1 RFC822.PEEK\r\n",
	    "a FETCH 1 BODYX[]\r\n",
	    "a FETCH 1 [1]\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_fetch_bad(bad[i], NULL);
	struct imap_fetch_item item;
	const char *why;
	assert_int_equal(imap_fetch_item_parse("BODY[1", 6, &item, &why), -1);
	assert_string_equal(why, "Missing ']' in section");
	assert_int_equal(imap_fetch_item_parse("BODY[\"]\"", 8, &item, &why), -1);
	assert_int_equal(imap_fetch_item_parse("FLAGSX", 5, &item, &why), 0);
	assert_int_equal(item.att, IMAP_FETCH_FLAGS);
}

static void test_item_names(void **state)
{
	(void)state;
	struct imap_fetch_item item;
	memset(&item, 0, sizeof(item));
	struct buf out;
	buf_init(&out, 0);
	item.att = IMAP_FETCH_BODYSTRUCTURE;
	assert_int_equal(imap_fetch_item_name(&item, &out), 0);
	assert_string_equal(out.data, "BODYSTRUCTURE");
	buf_free(&out);
	item.att = (enum imap_fetch_att)99;
	buf_init(&out, 0);
	assert_int_equal(imap_fetch_item_name(&item, &out), -1);
	buf_free(&out);
	/* output full */
	const char *s = "BODY[1.HEADER.FIELDS (A B)]<1.2>";
	const char *why;
	assert_int_equal(imap_fetch_item_parse(s, strlen(s), &item, &why), 0);
	for (size_t max = 1; max < 30; max++) {
		buf_init(&out, max);
		assert_int_equal(imap_fetch_item_name(&item, &out), -1);
		buf_free(&out);
	}
	buf_init(&out, 30);
	assert_int_equal(imap_fetch_item_name(&item, &out), 0);
	assert_string_equal(out.data, "BODY[1.HEADER.FIELDS (A B)]<1>");
	buf_free(&out);
	imap_fetch_item_free(&item);
}

/* ------------------------------------------------------------------ */
/* STORE and flags */

static void render_flags(const struct imap_flags *f, struct buf *out)
{
	static const char *const names[] = {"\\Seen", "\\Answered", "\\Flagged", "\\Deleted",
					    "\\Draft"};
	buf_append_str(out, "(");
	bool first = true;
	for (unsigned i = 0; i < 5; i++) {
		if (f->system & (1u << i)) {
			buf_printf(out, "%s%s", first ? "" : " ", names[i]);
			first = false;
		}
	}
	for (unsigned i = 0; i < f->keyword_count; i++) {
		buf_printf(out, "%s%s", first ? "" : " ", f->keywords[i]);
		first = false;
	}
	buf_append_str(out, ")");
}

static void expect_store(const char *line, const char *want)
{
	struct imap_command *cmd = parse_line(line);
	struct imap_store_request req;
	const char *why = NULL;
	if (imap_store_parse(cmd->args, IMAP_SEQSET_ALLOW_SEARCHRES, &req, &why) < 0)
		fail_msg("\"%s\": refused: %s", line, why);
	struct buf out;
	buf_init(&out, 0);
	imap_seqset_format(&req.set, &out);
	const char *mode = req.mode == IMAP_STORE_ADD	   ? "+"
			   : req.mode == IMAP_STORE_REMOVE ? "-"
							   : "=";
	buf_printf(&out, " %s%s ", mode, req.silent ? "silent" : "");
	render_flags(&req.flags, &out);
	if (req.unchangedsince_given)
		buf_printf(&out, " unchangedsince=%llu", (unsigned long long)req.unchangedsince);
	if (strcmp(out.data, want) != 0)
		fail_msg("\"%s\":\n got  %s\n want %s", line, out.data, want);
	buf_free(&out);
	imap_store_request_free(&req);
	imap_command_free(&cmd);
}

static void expect_store_bad(const char *line)
{
	struct imap_command *cmd = parse_line(line);
	struct imap_store_request req;
	const char *why = NULL;
	if (imap_store_parse(cmd->args, 0, &req, &why) == 0)
		fail_msg("\"%s\": accepted", line);
	assert_non_null(why);
	imap_store_request_free(&req);
	imap_command_free(&cmd);
}

static void test_store(void **state)
{
	(void)state;
	expect_store("A003 STORE 2:4 +FLAGS (\\Deleted)\r\n", "2:4 + (\\Deleted)");
	expect_store("a005 store 12 +flags \\deleted\r\n", "12 + (\\Deleted)");
	expect_store("a STORE 1 -FLAGS.SILENT (\\Seen $Forwarded)\r\n",
		     "1 -silent (\\Seen $Forwarded)");
	expect_store("a STORE 1 FLAGS ()\r\n", "1 = ()");
	expect_store("a STORE 1 flags.silent \\SEEN \\answered \\Flagged \\deleted \\Draft a\r\n",
		     "1 =silent (\\Seen \\Answered \\Flagged \\Deleted \\Draft a)");
	expect_store("a103 UID STORE 6,4,8 (UNCHANGEDSINCE 12121230045) +FLAGS.SILENT "
		     "(\\Deleted)\r\n",
		     "4,6,8 +silent (\\Deleted) unchangedsince=12121230045");
	expect_store("a STORE 1 (UNCHANGEDSINCE 0) FLAGS (foo FOO \\Seen \\seen Foo bar)\r\n",
		     "1 = (\\Seen foo bar) unchangedsince=0");
	expect_store("a STORE $ +FLAGS (NIL $MDNSent)\r\n", "$ + (NIL $MDNSent)");
	expect_store("a STORE 1 +FLAGS [x\r\n", "1 + ([x)");

	static const char *const bad[] = {
	    "a STORE 1 +FLAGS (\\Recent)\r\n",
	    "a STORE 1 +FLAGS (\\Foo)\r\n",
	    "a STORE 1 +FLAGS (\\)\r\n",
	    "a STORE 1 +FLAGS (\\*)\r\n",
	    "a STORE 1 FLAGS\r\n",
	    "a STORE 1 XFLAGS ()\r\n",
	    "a STORE 1 +FLAGS.LOUD ()\r\n",
	    "a STORE 1 ++FLAGS ()\r\n",
	    "a STORE 1 FLAGS (\\Seen) x\r\n",
	    "a STORE 1 (UNCHANGEDSINCE) FLAGS ()\r\n",
	    "a STORE 1 (UNCHANGEDSINCE x) FLAGS ()\r\n",
	    "a STORE 1 (UNCHANGEDSINCE 1 UNCHANGEDSINCE 2) FLAGS ()\r\n",
	    "a STORE 1 (FOO 1) FLAGS ()\r\n",
	    "a STORE 1 () FLAGS ()\r\n",
	    "a STORE 1 FLAGS (a]b)\r\n",
	    "a STORE 1 FLAGS (a%b)\r\n",
	    "a STORE 1 FLAGS (a*)\r\n",
	    "a STORE 1 FLAGS (\"foo\")\r\n",
	    "a STORE 1 FLAGS ((a))\r\n",
	    "a STORE 1 FLAGS a (b)\r\n",
	    "a STORE 1 \"FLAGS\" ()\r\n",
	    "a STORE 0 FLAGS ()\r\n",
	    "a STORE $ FLAGS ()\r\n",
	    "a STORE\r\n",
	    "a STORE 1\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_store_bad(bad[i]);
	/* keyword length limit */
	struct buf line, want;
	buf_init(&line, 0);
	buf_init(&want, 0);
	buf_append_str(&line, "a STORE 1 FLAGS (");
	buf_append_str(&want, "1 = (");
	for (int i = 0; i < IMAP_KEYWORD_MAX_LEN; i++) {
		buf_append_str(&line, "k");
		buf_append_str(&want, "k");
	}
	buf_append_str(&want, ")");
	buf_append_str(&line, ")\r\n");
	expect_store(line.data, want.data);
	buf_reset(&line);
	buf_append_str(&line, "a STORE 1 FLAGS (k");
	for (int i = 0; i < IMAP_KEYWORD_MAX_LEN; i++)
		buf_append_str(&line, "k");
	buf_append_str(&line, ")\r\n");
	expect_store_bad(line.data);
	buf_free(&line);
	buf_free(&want);
}

static void test_flags(void **state)
{
	(void)state;
	struct imap_command *cmd =
	    parse_line("A003 APPEND saved-messages (\\Seen \\Flagged $Junk) {1+}\r\nx\r\n");
	struct imap_flags f;
	const char *why;
	imap_flags_init(&f);
	assert_int_equal(imap_flag_list_parse(&cmd->args[1], &f, &why), 0);
	assert_int_equal(f.system, IMAP_FLAG_SEEN | IMAP_FLAG_FLAGGED);
	assert_int_equal(f.keyword_count, 1);
	assert_string_equal(f.keywords[0], "$Junk");
	imap_flags_free(&f);
	imap_flags_free(&f);
	assert_int_equal(imap_flag_list_parse(&cmd->args[0], &f, &why), -1);
	assert_int_equal(imap_flag_list_parse(&cmd->args[2], &f, &why), -1);
	imap_flags_free(&f);
	imap_command_free(&cmd);

	assert_true(imap_keyword_valid("$Forwarded", 10));
	assert_true(imap_keyword_valid("a[b", 3));
	assert_false(imap_keyword_valid("", 0));
	assert_false(imap_keyword_valid("a b", 3));
	assert_false(imap_keyword_valid("\\Seen", 5));
	assert_false(imap_keyword_valid("a\xc3\xa4", 3));
	assert_false(imap_keyword_valid("a\0", 2));

	uint64_t v;
	assert_int_equal(imap_parse_modseq("0", 1, true, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(imap_parse_modseq("0", 1, false, &v), -1);
	assert_int_equal(imap_parse_modseq("9223372036854775807", 19, false, &v), 0);
	assert_int_equal(v, 9223372036854775807ull);
	assert_int_equal(imap_parse_modseq("9223372036854775808", 19, false, &v), -1);
	assert_int_equal(imap_parse_modseq("18446744073709551616", 20, false, &v), -1);
	assert_int_equal(imap_parse_modseq("", 0, true, &v), -1);
	assert_int_equal(imap_parse_modseq("1a", 2, true, &v), -1);
	assert_int_equal(imap_parse_modseq("-1", 2, true, &v), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fetch_rfc),	    cmocka_unit_test(test_fetch_sections),
	    cmocka_unit_test(test_fetch_modifiers), cmocka_unit_test(test_fetch_bad),
	    cmocka_unit_test(test_item_names),	    cmocka_unit_test(test_store),
	    cmocka_unit_test(test_flags),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
