/* test_imap_parser.c - unit tests for the incremental IMAP command parser
 * (imap_parser_*): every client command of the RFC 9051 / RFC 3501 examples
 * and sample sessions, LITERAL+ / LITERAL- (RFC 7888), literal8, every limit
 * and error path, resynchronisation after errors, and line mode. Every input
 * is fed whole, one byte at a time, and in random splits, and must give the
 * same transcript each time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "imap/imap_parser.h"

/* ------------------------------------------------------------------ */
/* Rendering and driving */

static void render_bytes(struct buf *out, const char *s, size_t len)
{
	buf_append(out, "\"", 1);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			buf_printf(out, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			buf_printf(out, "\\x%02x", c);
		else
			buf_append(out, &c, 1);
	}
	buf_append(out, "\"", 1);
}

static void render_args(struct buf *out, const struct imap_arg *args)
{
	for (const struct imap_arg *a = args; a->type != IMAP_ARG_EOL; a++) {
		if (a != args)
			buf_append(out, " ", 1);
		switch (a->type) {
		case IMAP_ARG_ATOM:
		case IMAP_ARG_NIL:
			assert_int_equal(strlen(a->str), a->len);
			if (a->type == IMAP_ARG_NIL)
				assert_true(a->len == 3);
			buf_append(out, a->str, a->len);
			break;
		case IMAP_ARG_QUOTED:
			render_bytes(out, a->str, a->len);
			break;
		case IMAP_ARG_LITERAL:
			assert_int_equal(a->str[a->len], '\0');
			buf_printf(out, "%s{%zu%s}", a->literal8 ? "~" : "", a->len,
				   a->nonsync ? "+" : "");
			render_bytes(out, a->str, a->len);
			break;
		case IMAP_ARG_LIST:
			assert_non_null(a->list);
			assert_int_equal(a->list[a->len].type, IMAP_ARG_EOL);
			buf_append(out, "(", 1);
			render_args(out, a->list);
			buf_append(out, ")", 1);
			break;
		case IMAP_ARG_EOL:
			break;
		}
	}
}

static void render_command(struct buf *out, const struct imap_command *cmd)
{
	buf_printf(out, "%s %s", cmd->tag, cmd->name);
	assert_int_equal(cmd->args[cmd->arg_count].type, IMAP_ARG_EOL);
	if (cmd->arg_count > 0) {
		buf_append(out, " ", 1);
		render_args(out, cmd->args);
	}
}

static const char *error_code_name(enum imap_parse_error e)
{
	switch (e) {
	case IMAP_PARSE_ERR_NONE:
		return "NONE";
	case IMAP_PARSE_ERR_SYNTAX:
		return "SYNTAX";
	case IMAP_PARSE_ERR_LINE_TOO_LONG:
		return "LINE";
	case IMAP_PARSE_ERR_LITERAL_TOO_BIG:
		return "TOOBIG";
	case IMAP_PARSE_ERR_COMMAND_TOO_BIG:
		return "CMDBIG";
	case IMAP_PARSE_ERR_TOO_DEEP:
		return "DEEP";
	case IMAP_PARSE_ERR_TOO_MANY_ARGS:
		return "ARGS";
	case IMAP_PARSE_ERR_SKIP_LIMIT:
		return "SKIP";
	}
	return "?";
}

struct policy {
	uint64_t reject_above; /* reject synchronising literals larger than this */
	bool lines;	       /* line mode after AUTHENTICATE / IDLE */
	bool take;	       /* take ownership of each command */
	const struct imap_parser_limits *lim;
	unsigned flags;
};

static const struct policy default_policy = {UINT64_MAX, true, false, NULL,
					     IMAP_PARSER_LITERAL_PLUS};

static uint64_t rng_state;

static uint32_t rng(void)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(rng_state >> 33);
}

/* mode 0: whole input; 1: one byte at a time; 2+: random splits. */
static size_t next_boundary(int mode, size_t avail, size_t len)
{
	size_t step;
	if (mode == 0)
		step = len;
	else if (mode == 1)
		step = 1;
	else
		step = 1 + rng() % (mode % 3 == 0 ? 3 : 17);
	return step > len - avail ? len : avail + step;
}

static void drive(const struct policy *pol, const char *data, size_t len, int mode, struct buf *out)
{
	struct imap_parser *p = imap_parser_new(pol->lim, pol->flags);
	size_t off = 0, avail = 0;
	bool first = true;
	for (;;) {
		if (off == avail) {
			if (avail == len)
				break;
			avail = next_boundary(mode, avail, len);
		}
		size_t used = 12345;
		enum imap_parse_result r = imap_parser_feed(p, data + off, avail - off, &used);
		assert_true(used <= avail - off);
		off += used;
		if (r == IMAP_PARSE_NEED_MORE) {
			assert_int_equal(off, avail);
			continue;
		}
		if (!first)
			buf_append(out, "\n", 1);
		first = false;
		switch (r) {
		case IMAP_PARSE_COMPLETE: {
			const struct imap_command *cmd = imap_parser_command(p);
			assert_non_null(cmd);
			render_command(out, cmd);
			/* AUTHENTICATE without an initial response */
			bool auth = imap_command_is(cmd, "AUTHENTICATE") && cmd->arg_count == 1;
			bool idle = imap_command_is(cmd, "IDLE");
			if (pol->take) {
				struct imap_command *own = imap_parser_take_command(p);
				assert_ptr_equal(own, cmd);
				assert_null(imap_parser_command(p));
				/* must survive the parser moving on */
				size_t u2;
				imap_parser_feed(p, "", 0, &u2);
				struct buf again;
				buf_init(&again, 0);
				render_command(&again, own);
				assert_true(out->len >= again.len);
				assert_memory_equal(out->data + out->len - again.len, again.data,
						    again.len);
				buf_free(&again);
				imap_command_free(&own);
				assert_null(own);
			}
			if (pol->lines && auth)
				imap_parser_expect_line(p, IMAP_LINE_BASE64);
			else if (pol->lines && idle)
				imap_parser_expect_line(p, IMAP_LINE_TEXT);
			break;
		}
		case IMAP_PARSE_LITERAL: {
			uint64_t n = imap_parser_literal_size(p);
			buf_printf(out, "LITERAL%s %llu", imap_parser_literal_is8(p) ? "8" : "",
				   (unsigned long long)n);
			assert_non_null(imap_parser_tag(p));
			assert_non_null(imap_parser_command_name(p));
			/* unanswered: asks again without consuming */
			size_t u2 = 99;
			assert_int_equal(imap_parser_feed(p, data + off, avail - off, &u2),
					 IMAP_PARSE_LITERAL);
			assert_int_equal(u2, 0);
			if (n > pol->reject_above) {
				buf_append_str(out, " rejected");
				imap_parser_literal_reject(p);
			} else {
				imap_parser_literal_accept(p);
			}
			break;
		}
		case IMAP_PARSE_LINE: {
			size_t ll;
			const char *line = imap_parser_line(p, &ll);
			assert_non_null(line);
			assert_int_equal(line[ll], '\0');
			buf_append_str(out, "LINE ");
			render_bytes(out, line, ll);
			break;
		}
		case IMAP_PARSE_ERROR: {
			enum imap_parse_error code;
			bool fatal;
			const char *msg = imap_parser_error(p, &code, &fatal);
			const char *tag = imap_parser_tag(p);
			buf_printf(out, "ERROR %s %s: %s%s", error_code_name(code),
				   tag != NULL ? tag : "*", msg, fatal ? " FATAL" : "");
			if (fatal) {
				size_t u2 = 99;
				assert_int_equal(imap_parser_feed(p, "a NOOP\r\n", 8, &u2),
						 IMAP_PARSE_ERROR);
				assert_int_equal(u2, 0);
				imap_parser_free(&p);
				assert_null(p);
				return;
			}
			break;
		}
		case IMAP_PARSE_NEED_MORE:
			break;
		}
	}
	imap_parser_free(&p);
}

/* Run `data` in every split mode under `pol`; each transcript must equal
 * `want`. */
static void check_with(const struct policy *pol, const char *data, size_t len, const char *want)
{
	for (int mode = 0; mode < 12; mode++) {
		rng_state = 0x1234 + (uint64_t)mode * 7919;
		struct buf out;
		buf_init(&out, 0);
		drive(pol, data, len, mode, &out);
		const char *got = out.data != NULL ? out.data : "";
		if (strcmp(got, want) != 0)
			fail_msg("mode %d, input \"%.*s\":\n--- got:\n%s\n--- want:\n%s", mode,
				 (int)(len > 200 ? 200 : len), data, got, want);
		buf_free(&out);
	}
	struct policy taking = *pol;
	taking.take = true;
	struct buf out;
	buf_init(&out, 0);
	drive(&taking, data, len, 1, &out);
	assert_string_equal(out.data != NULL ? out.data : "", want);
	buf_free(&out);
}

/* A string literal input (may hold NUL bytes). */
#define CHECKW(pol, lit, want) check_with((pol), (lit), sizeof(lit) - 1, (want))

static void check(const char *data, const char *want)
{
	check_with(&default_policy, data, strlen(data), want);
}

/* ------------------------------------------------------------------ */
/* RFC 9051 / RFC 3501 examples */

struct vector {
	const char *in;
	const char *want;
};

/* Every client command line of RFC 9051 section 6 and the sample session of
 * section 8 (the same as RFC 3501's), with the extensions' examples (RFC
 * 4731 ESEARCH, 5182 SEARCHRES, 5258 LIST-EXTENDED, 5819 LIST-STATUS, 6154
 * SPECIAL-USE, 7162 CONDSTORE/QRESYNC, 3516 BINARY, 4315 UIDPLUS, 6851
 * MOVE, 2971 ID, 9208 QUOTA, 4978 COMPRESS, 5161 ENABLE, 2177 IDLE). */
static const struct vector rfc_vectors[] = {
    /* 6.1 any state */
    {"abcd CAPABILITY\r\n", "abcd CAPABILITY"},
    {"a002 NOOP\r\n", "a002 NOOP"},
    {"a047 NOOP\r\n", "a047 NOOP"},
    {"A023 LOGOUT\r\n", "A023 LOGOUT"},
    /* 6.2 not authenticated */
    {"a001 CAPABILITY\r\n", "a001 CAPABILITY"},
    {"a002 STARTTLS\r\n", "a002 STARTTLS"},
    {"a003 CAPABILITY\r\n", "a003 CAPABILITY"},
    {"a004 AUTHENTICATE PLAIN dGVzdAB0ZXN0AHRlc3Q=\r\n",
     "a004 AUTHENTICATE PLAIN dGVzdAB0ZXN0AHRlc3Q="},
    {"A001 LOGIN SMITH SESAME\r\n", "A001 LOGIN SMITH SESAME"},
    {"a001 LOGIN \"SMITH\" \"SES\\\"AME\"\r\n", "a001 LOGIN \"SMITH\" \"SES\\\"AME\""},
    /* 6.3 authenticated */
    {"t1 CAPABILITY\r\n", "t1 CAPABILITY"},
    {"t2 ENABLE CONDSTORE X-GOOD-IDEA\r\n", "t2 ENABLE CONDSTORE X-GOOD-IDEA"},
    {"t3 ENABLE UTF8=ACCEPT\r\n", "t3 ENABLE UTF8=ACCEPT"},
    {"A142 SELECT INBOX\r\n", "A142 SELECT INBOX"},
    {"A932 EXAMINE blurdybloop\r\n", "A932 EXAMINE blurdybloop"},
    {"A003 CREATE owatagusiam/\r\n", "A003 CREATE owatagusiam/"},
    {"A004 CREATE owatagusiam/blurdybloop\r\n", "A004 CREATE owatagusiam/blurdybloop"},
    {"t1 CREATE \"Important Messages\" (USE (\\Important))\r\n",
     "t1 CREATE \"Important Messages\" (USE (\\Important))"},
    {"A682 LIST \"\" *\r\n", "A682 LIST \"\" *"},
    {"A683 DELETE blurdybloop\r\n", "A683 DELETE blurdybloop"},
    {"A684 DELETE foo\r\n", "A684 DELETE foo"},
    {"A685 DELETE foo/bar\r\n", "A685 DELETE foo/bar"},
    {"A86 LIST \"\" %\r\n", "A86 LIST \"\" %"},
    {"A683 RENAME blurdybloop sarasoop\r\n", "A683 RENAME blurdybloop sarasoop"},
    {"A684 RENAME foo zowie\r\n", "A684 RENAME foo zowie"},
    {"Z433 RENAME INBOX old-mail\r\n", "Z433 RENAME INBOX old-mail"},
    {"A002 SUBSCRIBE #news.comp.mail.mime\r\n", "A002 SUBSCRIBE #news.comp.mail.mime"},
    {"A002 UNSUBSCRIBE #news.comp.mail.mime\r\n", "A002 UNSUBSCRIBE #news.comp.mail.mime"},
    {"A101 LIST \"\" \"\"\r\n", "A101 LIST \"\" \"\""},
    {"A102 LIST #news.comp.mail.misc \"\"\r\n", "A102 LIST #news.comp.mail.misc \"\""},
    {"A103 LIST /usr/staff/jones \"\"\r\n", "A103 LIST /usr/staff/jones \"\""},
    {"A202 LIST ~/Mail/ %\r\n", "A202 LIST ~/Mail/ %"},
    {"A02 LIST (SUBSCRIBED) \"\" \"*\"\r\n", "A02 LIST (SUBSCRIBED) \"\" \"*\""},
    {"A03 LIST () \"\" \"%\" RETURN (CHILDREN)\r\n", "A03 LIST () \"\" \"%\" RETURN (CHILDREN)"},
    {"A04 LIST (REMOTE) \"\" \"%\" RETURN (CHILDREN)\r\n",
     "A04 LIST (REMOTE) \"\" \"%\" RETURN (CHILDREN)"},
    {"C04 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"%\"\r\n",
     "C04 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"%\""},
    {"D01 LIST \"\" (\"inbox\" \"foo/bar\")\r\n", "D01 LIST \"\" (\"inbox\" \"foo/bar\")"},
    {"A01 LIST \"\" % RETURN (STATUS (MESSAGES UNSEEN))\r\n",
     "A01 LIST \"\" % RETURN (STATUS (MESSAGES UNSEEN))"},
    {"t1 LIST (SPECIAL-USE) \"\" \"*\"\r\n", "t1 LIST (SPECIAL-USE) \"\" \"*\""},
    {"t2 LIST \"\" \"%\" RETURN (SPECIAL-USE)\r\n", "t2 LIST \"\" \"%\" RETURN (SPECIAL-USE)"},
    {"A001 NAMESPACE\r\n", "A001 NAMESPACE"},
    {"A042 STATUS blurdybloop (UIDNEXT MESSAGES)\r\n",
     "A042 STATUS blurdybloop (UIDNEXT MESSAGES)"},
    {"A043 STATUS INBOX (MESSAGES UNSEEN SIZE DELETED HIGHESTMODSEQ APPENDLIMIT)\r\n",
     "A043 STATUS INBOX (MESSAGES UNSEEN SIZE DELETED HIGHESTMODSEQ APPENDLIMIT)"},
    {"A341 CLOSE\r\n", "A341 CLOSE"},
    {"A342 UNSELECT\r\n", "A342 UNSELECT"},
    {"A202 EXPUNGE\r\n", "A202 EXPUNGE"},
    /* 6.4.4 SEARCH, ESEARCH, SEARCHRES */
    {"A282 SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n",
     "A282 SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\""},
    {"A283 SEARCH RETURN () FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n",
     "A283 SEARCH RETURN () FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\""},
    {"A284 SEARCH TEXT \"string not in mailbox\"\r\n",
     "A284 SEARCH TEXT \"string not in mailbox\""},
    {"A286 SEARCH CHARSET WHATEVER text \"foo\"\r\n", "A286 SEARCH CHARSET WHATEVER text \"foo\""},
    {"A282 SEARCH RETURN (SAVE) FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n",
     "A282 SEARCH RETURN (SAVE) FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\""},
    {"A283 FETCH $ (UID INTERNALDATE FLAGS RFC822.HEADER)\r\n",
     "A283 FETCH $ (UID INTERNALDATE FLAGS RFC822.HEADER)"},
    {"A301 UID SEARCH UID $ SMALLER 4096\r\n", "A301 UID SEARCH UID $ SMALLER 4096"},
    {"A302 COPY $ \"Other Messages\"\r\n", "A302 COPY $ \"Other Messages\""},
    {"A303 UID SEARCH RETURN (SAVE) OR SUBJECT IMAP SUBJECT SMTP\r\n",
     "A303 UID SEARCH RETURN (SAVE) OR SUBJECT IMAP SUBJECT SMTP"},
    /* 6.4.5 - 6.4.9 */
    {"A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])\r\n",
     "A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])"},
    {"A003 STORE 2:4 +FLAGS (\\Deleted)\r\n", "A003 STORE 2:4 +FLAGS (\\Deleted)"},
    {"A003 COPY 2:4 MEETING\r\n", "A003 COPY 2:4 MEETING"},
    {"a UID MOVE 42:69 foo\r\n", "a UID MOVE 42:69 foo"},
    {"a2 MOVE 1:3 \"Other Messages\"\r\n", "a2 MOVE 1:3 \"Other Messages\""},
    {"A999 UID FETCH 4827313:4828442 FLAGS\r\n", "A999 UID FETCH 4827313:4828442 FLAGS"},
    {"A003 UID EXPUNGE 3000:3002\r\n", "A003 UID EXPUNGE 3000:3002"},
    {"a441 CAPABILITY\r\n", "a441 CAPABILITY"},
    {"A442 XPIG-LATIN\r\n", "A442 XPIG-LATIN"},
    /* 8: sample session */
    {"a001 login mrc secret\r\n", "a001 LOGIN mrc secret"},
    {"a002 select inbox\r\n", "a002 SELECT inbox"},
    {"a003 fetch 12 full\r\n", "a003 FETCH 12 full"},
    {"a004 fetch 12 body[header]\r\n", "a004 FETCH 12 body[header]"},
    {"a005 store 12 +flags \\deleted\r\n", "a005 STORE 12 +flags \\deleted"},
    {"a006 logout\r\n", "a006 LOGOUT"},
    /* CONDSTORE / QRESYNC (RFC 7162) */
    {"s100 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)\r\n",
     "s100 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)"},
    {"a103 UID STORE 6,4,8 (UNCHANGEDSINCE 12121230045) +FLAGS.SILENT (\\Deleted)\r\n",
     "a103 UID STORE 6,4,8 (UNCHANGEDSINCE 12121230045) +FLAGS.SILENT (\\Deleted)"},
    {"a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338\r\n",
     "a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338"},
    {"t SEARCH OR NOT MODSEQ 720162338 LARGER 50000\r\n",
     "t SEARCH OR NOT MODSEQ 720162338 LARGER 50000"},
    {"A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n",
     "A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))"},
    {"B02 UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)\r\n",
     "B02 UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)"},
    /* BINARY (RFC 3516) */
    {"A003 FETCH 1 (BINARY[1.2]<0.100> BINARY.SIZE[1])\r\n",
     "A003 FETCH 1 (BINARY[1.2]<0.100> BINARY.SIZE[1])"},
    {"A004 FETCH 1 BINARY.PEEK[]\r\n", "A004 FETCH 1 BINARY.PEEK[]"},
    /* SORT / THREAD (RFC 5256) */
    {"A283 SORT (SUBJECT) UTF-8 SINCE 1-Feb-1994\r\n",
     "A283 SORT (SUBJECT) UTF-8 SINCE 1-Feb-1994"},
    {"A284 SORT (SUBJECT) UTF-8 SUBJECT \"afternoon\"\r\n",
     "A284 SORT (SUBJECT) UTF-8 SUBJECT \"afternoon\""},
    {"A285 SORT (REVERSE DATE) UTF-8 ALL\r\n", "A285 SORT (REVERSE DATE) UTF-8 ALL"},
    {"A286 THREAD ORDEREDSUBJECT UTF-8 SINCE 5-MAR-2000\r\n",
     "A286 THREAD ORDEREDSUBJECT UTF-8 SINCE 5-MAR-2000"},
    {"A287 THREAD REFERENCES US-ASCII SINCE 1-Apr-2000\r\n",
     "A287 THREAD REFERENCES US-ASCII SINCE 1-Apr-2000"},
    /* ID, QUOTA, COMPRESS, IDLE */
    {"a023 ID (\"name\" \"sodr\" \"version\" \"19.34\" \"vendor\" NIL)\r\n",
     "a023 ID (\"name\" \"sodr\" \"version\" \"19.34\" \"vendor\" NIL)"},
    {"a024 ID NIL\r\n", "a024 ID NIL"},
    {"G0001 GETQUOTA \"!partition.sda4\"\r\n", "G0001 GETQUOTA \"!partition.sda4\""},
    {"G0002 GETQUOTAROOT INBOX\r\n", "G0002 GETQUOTAROOT INBOX"},
    {"S0000 SETQUOTA \"#user/alice\" (STORAGE 510)\r\n",
     "S0000 SETQUOTA \"#user/alice\" (STORAGE 510)"},
    {"a COMPRESS DEFLATE\r\n", "a COMPRESS DEFLATE"},
};

static void test_rfc_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rfc_vectors) / sizeof(rfc_vectors[0]); i++)
		check(rfc_vectors[i].in, rfc_vectors[i].want);
}

/* All of them back to back, pipelined: the same transcript in any split. */
static void test_rfc_vectors_pipelined(void **state)
{
	(void)state;
	struct buf in, want;
	buf_init(&in, 0);
	buf_init(&want, 0);
	for (size_t i = 0; i < sizeof(rfc_vectors) / sizeof(rfc_vectors[0]); i++) {
		buf_append_str(&in, rfc_vectors[i].in);
		if (i > 0)
			buf_append_str(&want, "\n");
		buf_append_str(&want, rfc_vectors[i].want);
	}
	check_with(&default_policy, in.data, in.len, want.data);
	buf_free(&in);
	buf_free(&want);
}

/* RFC 9051 6.3.12 APPEND with a synchronising literal, then the same with
 * LITERAL+ (RFC 7888 example). */
static const char append_msg[] = "Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\n"
				 "From: Fred Foobar <foobar@Blurdybloop.example>\r\n"
				 "Subject: afternoon meeting\r\n"
				 "To: mooch@owatagu.siam.edu.example\r\n"
				 "Message-Id: <B27397-0100000@Blurdybloop.example>\r\n"
				 "MIME-Version: 1.0\r\n"
				 "Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n"
				 "\r\n"
				 "Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n";

static void test_append(void **state)
{
	(void)state;
	size_t n = strlen(append_msg);
	char in[1024], want[2048];
	struct buf esc;
	buf_init(&esc, 0);
	render_bytes(&esc, append_msg, n);

	snprintf(in, sizeof(in), "A003 APPEND saved-messages (\\Seen) {%zu}\r\n%s\r\n", n,
		 append_msg);
	snprintf(want, sizeof(want), "LITERAL %zu\nA003 APPEND saved-messages (\\Seen) {%zu}%s", n,
		 n, esc.data);
	check(in, want);

	snprintf(in, sizeof(in), "A004 APPEND saved-messages (\\Seen) {%zu+}\r\n%s\r\n", n,
		 append_msg);
	snprintf(want, sizeof(want), "A004 APPEND saved-messages (\\Seen) {%zu+}%s", n, esc.data);
	check(in, want);

	/* with a date-time and MULTIAPPEND (RFC 3502) */
	snprintf(in, sizeof(in),
		 "A005 APPEND INBOX (\\Seen) \"17-Jul-1996 02:44:25 -0700\" {3+}\r\nabc "
		 "() {2}\r\nde\r\n");
	check(in, "LITERAL 2\nA005 APPEND INBOX (\\Seen) \"17-Jul-1996 02:44:25 -0700\" "
		  "{3+}\"abc\" () {2}\"de\"");

	/* CATENATE (RFC 4469) */
	check("A006 APPEND Drafts CATENATE (URL \"/Drafts;UIDVALIDITY=385759045/;UID=20\" "
	      "TEXT {4+}\r\nab\r\n)\r\n",
	      "A006 APPEND Drafts CATENATE (URL \"/Drafts;UIDVALIDITY=385759045/;UID=20\" TEXT "
	      "{4+}\"ab\\x0d\\x0a\")");
	buf_free(&esc);
}

/* RFC 9051 6.4.4: the UTF-8 search string as a literal. */
static void test_search_literal(void **state)
{
	(void)state;
	check("A285 SEARCH CHARSET UTF-8 TEXT {12}\r\n\xe3\x83\x8d\xe3\x83\x83\xe3\x83\x88\xe3\x83"
	      "\xaf\r\n",
	      "LITERAL 12\nA285 SEARCH CHARSET UTF-8 TEXT "
	      "{12}\"\\xe3\\x83\\x8d\\xe3\\x83\\x83\\xe3\\x83\\x88\\xe3\\x83\\xaf\"");
	/* UTF8=ACCEPT / IMAP4rev2: UTF-8 in quoted strings */
	check("a SEARCH SUBJECT \"caf\xc3\xa9\"\r\n", "a SEARCH SUBJECT \"caf\\xc3\\xa9\"");
}

/* RFC 7888 section 3 examples. */
static void test_literal_plus(void **state)
{
	(void)state;
	check("A001 LOGIN {11+}\r\nFRED FOOBAR {7+}\r\nfat man\r\n",
	      "A001 LOGIN {11+}\"FRED FOOBAR\" {7+}\"fat man\"");
	/* and the synchronising form */
	check("A001 LOGIN {11}\r\nFRED FOOBAR {7}\r\nfat man\r\n",
	      "LITERAL 11\nLITERAL 7\nA001 LOGIN {11}\"FRED FOOBAR\" {7}\"fat man\"");
	/* empty literals, literal at the very end and inside lists */
	check("a X {0}\r\n {0+}\r\n ({1+}\r\n))\r\n",
	      "LITERAL 0\na X {0}\"\" {0+}\"\" ({1+}\")\")");
	/* leading zeros are a number */
	check("a X {003+}\r\nabc\r\n", "a X {3+}\"abc\"");
}

/* RFC 7888 section 4: LITERAL- allows non-synchronising literals of at most
 * 4096 bytes; a larger one is refused ([TOOBIG]) and its bytes skipped. */
static void test_literal_minus(void **state)
{
	(void)state;
	struct policy minus = default_policy;
	minus.flags = IMAP_PARSER_LITERAL_MINUS;
	size_t big = 4097;
	char *in = malloc(big + 200);
	assert_non_null(in);

	int h = sprintf(in, "a APPEND INBOX {4096+}\r\n");
	memset(in + h, 'x', 4096);
	strcpy(in + h + 4096, "\r\nb NOOP\r\n");
	struct buf want;
	buf_init(&want, 0);
	buf_append_str(&want, "a APPEND INBOX {4096+}\"");
	for (int i = 0; i < 4096; i++)
		buf_append(&want, "x", 1);
	buf_append_str(&want, "\"\nb NOOP");
	check_with(&minus, in, strlen(in), want.data);
	buf_free(&want);

	h = sprintf(in, "a APPEND INBOX {4097+}\r\n");
	memset(in + h, '\n', big); /* line ends inside: must not be read as commands */
	strcpy(in + h + big, " junk\r\nb NOOP\r\n");
	check_with(&minus, in, strlen(in),
		   "ERROR TOOBIG a: Non-synchronizing literal larger than 4096 bytes\nb NOOP");

	/* the synchronising form of any size is fine */
	CHECKW(&minus, "a APPEND INBOX {5000}\r\n", "LITERAL 5000");

	/* neither LITERAL+ nor LITERAL-: every {n+} is refused, its bytes skipped */
	struct policy none = default_policy;
	none.flags = 0;
	CHECKW(&none, "a LOGIN {3+}\r\n\r\n\n b\r\nc NOOP\r\n",
	       "ERROR SYNTAX a: Non-synchronizing literals not supported\nc NOOP");
	/* LITERAL+ allows big ones */
	h = sprintf(in, "a APPEND INBOX {4097+}\r\n");
	memset(in + h, 'y', big);
	strcpy(in + h + big, "\r\n");
	struct policy plus = default_policy;
	size_t u;
	struct imap_parser *p = imap_parser_new(NULL, plus.flags);
	assert_int_equal(imap_parser_feed(p, in, strlen(in), &u), IMAP_PARSE_COMPLETE);
	assert_int_equal(u, strlen(in));
	assert_int_equal(imap_parser_command(p)->args[1].len, big);
	assert_true(imap_parser_command(p)->args[1].nonsync);
	imap_parser_free(&p);
	free(in);
}

/* RFC 3516 literal8: NUL bytes allowed only there. */
static void test_literal8(void **state)
{
	(void)state;
	static const char in8[] = "a APPEND INBOX ~{5}\r\na\0b\0c\r\n";
	check_with(&default_policy, in8, sizeof(in8) - 1,
		   "LITERAL8 5\na APPEND INBOX ~{5}\"a\\x00b\\x00c\"");
	static const char in8p[] = "a APPEND INBOX ~{3+}\r\n\0\0\0\r\n";
	check_with(&default_policy, in8p, sizeof(in8p) - 1,
		   "a APPEND INBOX ~{3+}\"\\x00\\x00\\x00\"");
	/* a NUL in a plain literal: error, the literal and its line skipped */
	static const char in0[] = "a APPEND INBOX {5+}\r\nab\0\n\r more\r\nb NOOP\r\n";
	check_with(&default_policy, in0, sizeof(in0) - 1,
		   "ERROR SYNTAX a: NUL byte in literal (use literal8)\nb NOOP");
	static const char in0s[] = "a APPEND INBOX {2}\r\n\0x\r\nb NOOP\r\n";
	check_with(&default_policy, in0s, sizeof(in0s) - 1,
		   "LITERAL 2\nERROR SYNTAX a: NUL byte in literal (use literal8)\nb NOOP");
	/* "~" not before "{" is an atom character (imaptest "atoms") */
	check("a LIST \"\" ~foo\r\n", "a LIST \"\" ~foo");
	check("a LIST \"\" ~\r\n", "a LIST \"\" ~");
	check("a SELECT !#$&'+,-.0123456789:;<=>?@^_`|[}\r\n",
	      "a SELECT !#$&'+,-.0123456789:;<=>?@^_`|[}");
	check("a LIST \"\" !#$&'+,-.0123456789:;<=>?@^_`|[}%*\r\n",
	      "a LIST \"\" !#$&'+,-.0123456789:;<=>?@^_`|[}%*");
}

/* ------------------------------------------------------------------ */
/* Tokenisation details */

static void test_tokens(void **state)
{
	(void)state;
	/* UID joins the next word; arguments after it */
	check("a uid fetch 1:* flags\r\n", "a UID FETCH 1:* flags");
	check("a UID   store 1 FLAGS ()\r\n", "a UID STORE 1 FLAGS ()");
	check("a UID\r\n", "a UID");
	check("a UID \r\n", "a UID");
	/* NIL keeps its spelling and is typed NIL */
	check("a SELECT nil\r\n", "a SELECT nil");
	/* lists, nesting, empty lists */
	check("a X (a (b (c)) ()) d\r\n", "a X (a (b (c)) ()) d");
	check("a X ((((()))))\r\n", "a X ((((()))))");
	check("a X (\"a\" {1+}\r\nb \"c\")\r\n", "a X (\"a\" {1+}\"b\" \"c\")");
	/* escapes, empty quoted, 8-bit in quoted */
	check("a X \"\\\\\" \"\" \"\\\"\"\r\n", "a X \"\\\\\" \"\" \"\\\"\"");
	/* lenient: several spaces, trailing space, bare LF, empty lines */
	check("a  LOGIN   x  y \r\n", "a LOGIN x y");
	check("a NOOP\n", "a NOOP");
	check("\r\n\n\r\na NOOP\r\n\r\nb NOOP\r\n", "a NOOP\nb NOOP");
	check("a X ( a b )\r\n", "a X (a b)");
	/* system flags and keywords are atoms */
	check("a STORE 1 FLAGS (\\Seen $Forwarded \\Flagged)\r\n",
	      "a STORE 1 FLAGS (\\Seen $Forwarded \\Flagged)");
	/* ']' is an astring character */
	check("a SELECT foo]bar\r\n", "a SELECT foo]bar");
	/* tags: any ASTRING-CHAR but '+' */
	check("]!#$&'-.;<=>?@^_`|~} NOOP\r\n", "]!#$&'-.;<=>?@^_`|~} NOOP");
	/* the command name is upper-cased, digits and '-' allowed */
	check("a x-Foo.bar_2\r\n", "a X-FOO.BAR_2");
}

/* In FETCH, a '[' runs to its ']': one atom per attribute. */
static void test_fetch_sections(void **state)
{
	(void)state;
	check("a FETCH 1 (BODY[HEADER.FIELDS (DATE FROM)]<0.100> FLAGS)\r\n",
	      "a FETCH 1 (BODY[HEADER.FIELDS (DATE FROM)]<0.100> FLAGS)");
	check("a UID FETCH 1 BODY.PEEK[1.2.HEADER.FIELDS.NOT (\"X]Y\" \"A\\\"B\")]\r\n",
	      "a UID FETCH 1 BODY.PEEK[1.2.HEADER.FIELDS.NOT (\"X]Y\" \"A\\\"B\")]");
	check("a FETCH 1 (BODY[] BODY[1] BINARY[])\r\n", "a FETCH 1 (BODY[] BODY[1] BINARY[])");
	check("a FETCH 1 (BODY[1](X))\r\n", "ERROR SYNTAX a: Invalid character in atom");
	/* elsewhere '[' is an ordinary atom character */
	check("a LIST \"\" foo[ bar]\r\n", "a LIST \"\" foo[ bar]");
	check("a SELECT foo[bar\r\n", "a SELECT foo[bar");
	/* errors inside brackets */
	check("a FETCH 1 BODY[HEADER\r\nb NOOP\r\n", "ERROR SYNTAX a: Missing ']'\nb NOOP");
	check("a FETCH 1 BODY[{3+}\r\nabc]\r\nb NOOP\r\n",
	      "ERROR SYNTAX a: Literal inside a section specification\nb NOOP");
	check("a FETCH 1 BODY[\"\\x\"]\r\nb NOOP\r\n",
	      "ERROR SYNTAX a: Invalid escape in quoted string\nb NOOP");
	check("a FETCH 1 BODY[\"\x01\"]\r\nb NOOP\r\n",
	      "ERROR SYNTAX a: Invalid character in section\nb NOOP");
	check("a FETCH 1 BODY[\x7f]\r\nb NOOP\r\n",
	      "ERROR SYNTAX a: Invalid character in section\nb NOOP");
}

/* ------------------------------------------------------------------ */
/* Errors and resynchronisation */

static void test_errors(void **state)
{
	(void)state;
	static const struct vector v[] = {
	    {"a\r\nb NOOP\r\n", "ERROR SYNTAX a: Missing command\nb NOOP"},
	    {"a \r\nb NOOP\r\n", "ERROR SYNTAX a: Missing command\nb NOOP"},
	    {" a NOOP\r\nb NOOP\r\n", "ERROR SYNTAX *: Invalid character in tag\nb NOOP"},
	    {"+a NOOP\r\nb NOOP\r\n", "ERROR SYNTAX *: Invalid character in tag\nb NOOP"},
	    {"a+ NOOP\r\nb NOOP\r\n", "ERROR SYNTAX *: Invalid character in tag\nb NOOP"},
	    {"a* NOOP\r\nb NOOP\r\n", "ERROR SYNTAX *: Invalid character in tag\nb NOOP"},
	    {"(a NOOP\r\nb NOOP\r\n", "ERROR SYNTAX *: Invalid character in tag\nb NOOP"},
	    {"a\x80 NOOP\r\nb NOOP\r\n", "ERROR SYNTAX *: Invalid character in tag\nb NOOP"},
	    {"a N(OOP\r\nb NOOP\r\n", "ERROR SYNTAX a: Invalid command name\nb NOOP"},
	    {"a \"NOOP\"\r\nb NOOP\r\n", "ERROR SYNTAX a: Invalid command name\nb NOOP"},
	    {"a X (a\r\nb NOOP\r\n", "ERROR SYNTAX a: Missing ')'\nb NOOP"},
	    {"a X a)\r\nb NOOP\r\n", "ERROR SYNTAX a: Unexpected ')'\nb NOOP"},
	    {"a X )\r\nb NOOP\r\n", "ERROR SYNTAX a: Unexpected ')'\nb NOOP"},
	    {"a X \"a\"b\r\nb NOOP\r\n", "ERROR SYNTAX a: Missing space between arguments\nb NOOP"},
	    {"a X (a)b\r\nb NOOP\r\n", "ERROR SYNTAX a: Missing space between arguments\nb NOOP"},
	    {"a X {1+}\r\nab\r\nb NOOP\r\n",
	     "ERROR SYNTAX a: Missing space between arguments\nb NOOP"},
	    {"a X \"a\\b\"\r\nb NOOP\r\n",
	     "ERROR SYNTAX a: Invalid escape in quoted string\nb NOOP"},
	    {"a X \"abc\r\nb NOOP\r\n", "ERROR SYNTAX a: Missing '\"'\nb NOOP"},
	    {"a X a\"b\r\nb NOOP\r\n", "ERROR SYNTAX a: Invalid character in atom\nb NOOP"},
	    {"a X a{b\r\nb NOOP\r\n", "ERROR SYNTAX a: Invalid character in atom\nb NOOP"},
	    {"a X a(b\r\nb NOOP\r\n", "ERROR SYNTAX a: Invalid character in atom\nb NOOP"},
	    {"a X a\\b\r\nb NOOP\r\n", "ERROR SYNTAX a: Invalid character in atom\nb NOOP"},
	    {"a X a\tb\r\nb NOOP\r\n", "ERROR SYNTAX a: Invalid character in atom\nb NOOP"},
	    {"a X a\xc3\xa9\r\nb NOOP\r\n", "ERROR SYNTAX a: Invalid character in atom\nb NOOP"},
	    {"a X \x7f\r\nb NOOP\r\n", "ERROR SYNTAX a: Invalid character\nb NOOP"},
	    {"a X \xc3\xa9\r\nb NOOP\r\n", "ERROR SYNTAX a: Invalid character\nb NOOP"},
	    {"a X a\rb\r\nb NOOP\r\n", "ERROR SYNTAX a: CR not followed by LF\nb NOOP"},
	    {"a NOOP\r\rb NOOP\r\nc NOOP\r\n", "ERROR SYNTAX a: CR not followed by LF\nc NOOP"},
	    {"\rb NOOP\r\nc NOOP\r\n", "ERROR SYNTAX *: CR not followed by LF\nc NOOP"},
	    {"a X {\r\nb NOOP\r\n", "ERROR SYNTAX a: Invalid literal size\nb NOOP"},
	    {"a X {}\r\nb NOOP\r\n", "ERROR SYNTAX a: Invalid literal size\nb NOOP"},
	    {"a X {+}\r\nb NOOP\r\n", "ERROR SYNTAX a: Invalid literal size\nb NOOP"},
	    {"a X {1x}\r\nb NOOP\r\n", "ERROR SYNTAX a: Invalid literal size\nb NOOP"},
	    {"a X {1+x\r\nb NOOP\r\n", "ERROR SYNTAX a: Invalid literal size\nb NOOP"},
	    {"a X {1}x\r\nb NOOP\r\n", "ERROR SYNTAX a: Literal size not followed by CRLF\nb NOOP"},
	    {"a X {1}\rx\r\nb NOOP\r\n",
	     "ERROR SYNTAX a: Literal size not followed by CRLF\nb NOOP"},
	    {"a X ~{x\r\nb NOOP\r\n", "ERROR SYNTAX a: Invalid literal size\nb NOOP"},
	    {"a X ~\"\r\nb NOOP\r\n", "ERROR SYNTAX a: Invalid character in atom\nb NOOP"},
	    {"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz "
	     "b\r\n",
	     "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz B"},
	    {"a ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLM\r\nb NOOP\r\n",
	     "ERROR SYNTAX a: Command name too long\nb NOOP"},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		check(v[i].in, v[i].want);

	/* NUL bytes */
	static const char n1[] = "a X a\0b\r\nb NOOP\r\n";
	check_with(&default_policy, n1, sizeof(n1) - 1, "ERROR SYNTAX a: NUL byte in atom\nb NOOP");
	static const char n2[] = "a X \"a\0b\"\r\nb NOOP\r\n";
	check_with(&default_policy, n2, sizeof(n2) - 1,
		   "ERROR SYNTAX a: NUL byte in quoted string\nb NOOP");
	static const char n3[] = "a X \0\r\nb NOOP\r\n";
	check_with(&default_policy, n3, sizeof(n3) - 1,
		   "ERROR SYNTAX a: NUL byte in command\nb NOOP");
	static const char n4[] = "\0a NOOP\r\nb NOOP\r\n";
	check_with(&default_policy, n4, sizeof(n4) - 1,
		   "ERROR SYNTAX *: Invalid character in tag\nb NOOP");
}

/* After an error the rest of the command is skipped: quoted strings are
 * followed (a '{' or ')' inside does not count), non-synchronising literals
 * are skipped whole whatever they contain, a synchronising literal ends the
 * command (the client waits for a "+" that never comes). */
static void test_resync(void **state)
{
	(void)state;
	check("a X ) {5+}\r\nab\r\nc\r\nb NOOP\r\n", "ERROR SYNTAX a: Unexpected ')'\nb NOOP");
	check("a X ) ~{5+}\r\nab\r\nc\r\nb NOOP\r\n", "ERROR SYNTAX a: Unexpected ')'\nb NOOP");
	check("a X ) {5}\r\nb NOOP\r\n", "ERROR SYNTAX a: Unexpected ')'\nb NOOP");
	check("a X ) \"{5+}\r\nb NOOP\r\n", "ERROR SYNTAX a: Unexpected ')'\nb NOOP");
	check("a X ) \"{5+}\" x\r\nb NOOP\r\n", "ERROR SYNTAX a: Unexpected ')'\nb NOOP");
	check("a X ) \"\\\"{5+}\r\nb NOOP\r\n", "ERROR SYNTAX a: Unexpected ')'\nb NOOP");
	check("a X ) {5+}x\r\nb NOOP\r\n", "ERROR SYNTAX a: Unexpected ')'\nb NOOP");
	check("a X ) {5+\r\nb NOOP\r\n", "ERROR SYNTAX a: Unexpected ')'\nb NOOP");
	check("a X ) {5+}\rx\nb NOOP\r\n", "ERROR SYNTAX a: Unexpected ')'\nb NOOP");
	check("a X ) {5+}\r\n{3+}\r\n\r\nb NOOP\r\n", "ERROR SYNTAX a: Unexpected ')'\nb NOOP");
	/* several literals on the rest of the line */
	check("a X ) {2+}\r\n\r\n {1+}\r\n\n x {0+}\r\n\r\nb NOOP\r\n",
	      "ERROR SYNTAX a: Unexpected ')'\nb NOOP");
	/* an error inside a quoted string: the skipper knows it is inside */
	check("a X \"\\q {2+}\r\nb NOOP\r\n",
	      "ERROR SYNTAX a: Invalid escape in quoted string\nb NOOP");
	check("a X \"\\q\" {2+}\r\n\r\n\r\nb NOOP\r\n",
	      "ERROR SYNTAX a: Invalid escape in quoted string\nb NOOP");
	/* a command after a rejected literal */
	struct policy rej = default_policy;
	rej.reject_above = 10;
	CHECKW(&rej, "a APPEND INBOX {11}\r\nb NOOP\r\n", "LITERAL 11 rejected\nb NOOP");
	CHECKW(&rej, "a APPEND INBOX {10}\r\n0123456789\r\nb NOOP\r\n",
	       "LITERAL 10\na APPEND INBOX {10}\"0123456789\"\nb NOOP");
}

/* ------------------------------------------------------------------ */
/* Limits */

static struct imap_parser_limits small_limits(void)
{
	struct imap_parser_limits l;
	memset(&l, 0, sizeof(l));
	l.max_line = 30;
	l.max_literal = 10;
	l.max_command = 100;
	l.max_depth = 3;
	l.max_args = 6;
	l.max_skip = 1000;
	return l;
}

static void test_limit_line(void **state)
{
	(void)state;
	struct imap_parser_limits l = small_limits();
	struct policy pol = default_policy;
	pol.lim = &l;
	/* exactly 30 bytes before CRLF: fine; 31: too long, skipped */
	CHECKW(&pol, "a X 12345678901234567890123456\r\n", "a X 12345678901234567890123456");
	CHECKW(&pol, "a X 123456789012345678901234567\r\nb NOOP\r\n",
	       "ERROR LINE a: Line too long\nb NOOP");
	/* each line between literals has its own budget */
	CHECKW(&pol, "a X 1234567890123456789 {3+}\r\nabc 12345678901234567890123456\r\n",
	       "a X 1234567890123456789 {3+}\"abc\" 12345678901234567890123456");
	/* the limit hit anywhere in a literal header: its contents are still
	 * skipped (here they hold a line that must not become a command) */
	for (size_t pad = 0; pad < 14; pad++) {
		char in[200], want[200];
		int n = snprintf(in, sizeof(in), "a X %.*s {8+}\r\nc NOOP\r\n\r\nb NOOP\r\n",
				 (int)pad, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
		(void)want;
		struct buf out;
		/* with l.max_line chosen so that the error falls inside the header */
		for (size_t ml = pad + 5 < 6 ? 6 : pad + 5; ml < pad + 10; ml++) {
			struct imap_parser_limits l2 = small_limits();
			l2.max_line = ml;
			struct policy p2 = default_policy;
			p2.lim = &l2;
			buf_init(&out, 0);
			rng_state = 77;
			drive(&p2, in, (size_t)n, 2, &out);
			const char *got = out.data;
			const char *tail = strrchr(got, '\n');
			if (strstr(got, "\nc NOOP") != NULL || strncmp(got, "c NOOP", 6) == 0 ||
			    tail == NULL || strcmp(tail + 1, "b NOOP") != 0)
				fail_msg("pad %zu max_line %zu: %s", pad, ml, got);
			buf_free(&out);
		}
	}
	/* a tag that is too long */
	CHECKW(&pol, "abcdefghijabcdefghijabcdefghijX NOOP\r\nb NOOP\r\n",
	       "ERROR LINE *: Line too long\nb NOOP");
	/* in a quoted string: the skipper knows it is in one */
	CHECKW(&pol, "a X \"1234567890123456789012345 {2+}\r\nb NOOP\r\n",
	       "ERROR LINE a: Line too long\nb NOOP");
}

static void test_limit_literal(void **state)
{
	(void)state;
	struct imap_parser_limits l = small_limits();
	struct policy pol = default_policy;
	pol.lim = &l;
	CHECKW(&pol, "a X {10}\r\n0123456789\r\n", "LITERAL 10\na X {10}\"0123456789\"");
	/* synchronising: refused at once, the client sends nothing more */
	CHECKW(&pol, "a X {11}\r\nb NOOP\r\n", "ERROR TOOBIG a: Literal too big\nb NOOP");
	/* non-synchronising: refused, its contents skipped */
	CHECKW(&pol, "a X {11+}\r\n\r\nc NOOP\r\n\r\nb NOOP\r\n",
	       "ERROR TOOBIG a: Literal too big\nb NOOP");
	CHECKW(&pol, "a X ~{11+}\r\n\r\nc NOOP\r\n\r\nb NOOP\r\n",
	       "ERROR TOOBIG a: Literal too big\nb NOOP");
	/* beyond what we are willing to skip: fatal */
	CHECKW(&pol, "a X {1001+}\r\nxx", "ERROR TOOBIG a: Literal too big FATAL");
	CHECKW(&pol, "a X {99999999999999999999999+}\r\n", "ERROR TOOBIG a: Literal too big FATAL");
	CHECKW(&pol, "a X {99999999999999999999999}\r\nb NOOP\r\n",
	       "ERROR TOOBIG a: Literal too big\nb NOOP");
	CHECKW(&pol, "a X {18446744073709551615+}\r\n", "ERROR TOOBIG a: Literal too big FATAL");
	/* nothing is allocated before the check: a huge sync literal with the
	 * default limits is refused without memory growth */
	struct imap_parser *p = imap_parser_new(NULL, IMAP_PARSER_LITERAL_PLUS);
	size_t u;
	assert_int_equal(imap_parser_feed(p, "a X {18446744073709551615}\r\n", 28, &u),
			 IMAP_PARSE_ERROR);
	assert_int_equal(u, 28);
	enum imap_parse_error code;
	bool fatal;
	imap_parser_error(p, &code, &fatal);
	assert_int_equal(code, IMAP_PARSE_ERR_LITERAL_TOO_BIG);
	assert_false(fatal);
	assert_int_equal(imap_parser_feed(p, "b NOOP\r\n", 8, &u), IMAP_PARSE_COMPLETE);
	imap_parser_free(&p);
}

static void test_limit_command(void **state)
{
	(void)state;
	struct imap_parser_limits l = small_limits();
	l.max_command = 40;
	struct policy pol = default_policy;
	pol.lim = &l;
	/* 40 bytes in all, CRLFs and literal contents included */
	CHECKW(&pol, "a X {10}\r\n0123456789 {10+}\r\nabcdefghij\r\n",
	       "LITERAL 10\na X {10}\"0123456789\" {10+}\"abcdefghij\"");
	CHECKW(&pol, "a X {10}\r\n0123456789 {10+}\r\nabcdefghij x\r\nb NOOP\r\n",
	       "LITERAL 10\nERROR CMDBIG a: Command too big\nb NOOP");
	/* a literal that would not fit is refused before its bytes arrive */
	CHECKW(&pol, "a X {10}\r\n0123456789 1234567 {10}\r\nb NOOP\r\n",
	       "LITERAL 10\nERROR CMDBIG a: Command too big\nb NOOP");
	CHECKW(&pol, "a X {10}\r\n0123456789 1234567 {10+}\r\n0123456789\r\nb NOOP\r\n",
	       "LITERAL 10\nERROR CMDBIG a: Command too big\nb NOOP");
}

static void test_limit_depth_args(void **state)
{
	(void)state;
	struct imap_parser_limits l = small_limits();
	struct policy pol = default_policy;
	pol.lim = &l;
	CHECKW(&pol, "a X (((x)))\r\n", "a X (((x)))");
	CHECKW(&pol, "a X ((((x))))\r\nb NOOP\r\n", "ERROR DEEP a: Too deep nesting\nb NOOP");
	/* 6 argument nodes, lists included */
	CHECKW(&pol, "a X 1 2 (3 4) 5\r\n", "a X 1 2 (3 4) 5");
	CHECKW(&pol, "a X 1 2 (3 4) 5 6\r\nb NOOP\r\n", "ERROR ARGS a: Too many arguments\nb NOOP");
	CHECKW(&pol, "a X 1 2 (3 4) 5 \"6\"\r\nb NOOP\r\n",
	       "ERROR ARGS a: Too many arguments\nb NOOP");
	CHECKW(&pol, "a X 1 2 (3 4) 5 ()\r\nb NOOP\r\n",
	       "ERROR ARGS a: Too many arguments\nb NOOP");
	CHECKW(&pol, "a X 1 2 (3 4) 5 ~x\r\nb NOOP\r\n",
	       "ERROR ARGS a: Too many arguments\nb NOOP");
	/* the literal's contents are still skipped */
	CHECKW(&pol, "a X 1 2 (3 4) 5 {3+}\r\n\r\n\n\r\nb NOOP\r\n",
	       "ERROR ARGS a: Too many arguments\nb NOOP");
	CHECKW(&pol, "a X 1 2 (3 4) 5 ~{3+}\r\n\r\n\n\r\nb NOOP\r\n",
	       "ERROR ARGS a: Too many arguments\nb NOOP");
	CHECKW(&pol, "a X 1 2 (3 4) 5 {3}\r\nb NOOP\r\n",
	       "ERROR ARGS a: Too many arguments\nb NOOP");
}

static void test_limit_skip(void **state)
{
	(void)state;
	struct imap_parser_limits l = small_limits();
	l.max_skip = 20;
	struct policy pol = default_policy;
	pol.lim = &l;
	/* 20 bytes of junk after the error: fine; more: fatal */
	CHECKW(&pol, "a X ) 34567890123456789\nb NOOP\r\n",
	       "ERROR SYNTAX a: Unexpected ')'\nb NOOP");
	CHECKW(&pol, "a X ) 345678901234567890\nb NOOP\r\n",
	       "ERROR SYNTAX a: Unexpected ')'\nERROR SKIP a: Too much data after an error FATAL");
	CHECKW(&pol, "a X ) {30+}\r\n",
	       "ERROR SYNTAX a: Unexpected ')'\nERROR SKIP a: Too much data after an error FATAL");
	/* a line-too-long that never ends */
	struct buf in;
	buf_init(&in, 0);
	buf_append_str(&in, "a X ");
	for (int i = 0; i < 100; i++)
		buf_append_str(&in, "x");
	check_with(&pol, in.data, in.len,
		   "ERROR LINE a: Line too long\nERROR SKIP a: Too much data after an error FATAL");
	buf_free(&in);
}

/* ------------------------------------------------------------------ */
/* Line mode, literals answered, ownership */

static void test_line_mode(void **state)
{
	(void)state;
	/* RFC 9051 6.2.2 */
	check("A001 AUTHENTICATE GSSAPI\r\n"
	      "YIIB+wYJKoZIhvcSAQICAQBuggHqMIIB5qADAgEFoQMCAQ6iBwMFACAAAACjggEm\r\n",
	      "A001 AUTHENTICATE GSSAPI\n"
	      "LINE \"YIIB+wYJKoZIhvcSAQICAQBuggHqMIIB5qADAgEFoQMCAQ6iBwMFACAAAACjggEm\"");
	check("A002 AUTHENTICATE PLAIN\r\n\r\nb NOOP\r\n",
	      "A002 AUTHENTICATE PLAIN\nLINE \"\"\nb NOOP");
	check("A003 AUTHENTICATE PLAIN\r\n*\r\n", "A003 AUTHENTICATE PLAIN\nLINE \"*\"");
	check("A003 AUTHENTICATE PLAIN\n=\n", "A003 AUTHENTICATE PLAIN\nLINE \"=\"");
	check("A004 AUTHENTICATE PLAIN\r\n**\r\nb NOOP\r\n",
	      "A004 AUTHENTICATE PLAIN\nERROR SYNTAX *: Invalid base64 data\nb NOOP");
	check("A004 AUTHENTICATE PLAIN\r\nab cd {5+}\r\nb NOOP\r\n",
	      "A004 AUTHENTICATE PLAIN\nERROR SYNTAX *: Invalid base64 data\nb NOOP");
	check("A004 AUTHENTICATE PLAIN\r\nab\rcd\r\nb NOOP\r\n",
	      "A004 AUTHENTICATE PLAIN\nERROR SYNTAX *: CR not followed by LF\nb NOOP");
	/* RFC 9051 6.3.13 IDLE */
	check("A001 IDLE\r\nDONE\r\nA002 NOOP\r\n", "A001 IDLE\nLINE \"DONE\"\nA002 NOOP");
	check("A001 IDLE\r\nA002 NOOP\r\n", "A001 IDLE\nLINE \"A002 NOOP\"");
	static const char nul[] = "A001 IDLE\r\nDO\0NE\r\nb NOOP\r\n";
	check_with(&default_policy, nul, sizeof(nul) - 1,
		   "A001 IDLE\nERROR SYNTAX *: NUL byte in line\nb NOOP");
	struct imap_parser_limits l = small_limits();
	struct policy pol = default_policy;
	pol.lim = &l;
	CHECKW(&pol, "A001 IDLE\r\n1234567890123456789012345678901\r\nb NOOP\r\n",
	       "A001 IDLE\nERROR LINE *: Line too long\nb NOOP");
	CHECKW(&pol, "A001 IDLE\r\n123456789012345678901234567890\r\n",
	       "A001 IDLE\nLINE \"123456789012345678901234567890\"");
}

static void test_api(void **state)
{
	(void)state;
	struct imap_parser *p = imap_parser_new(NULL, IMAP_PARSER_LITERAL_PLUS);
	size_t u;
	enum imap_parse_error code;
	bool fatal;
	/* nothing yet */
	assert_null(imap_parser_tag(p));
	assert_null(imap_parser_command_name(p));
	assert_null(imap_parser_command(p));
	assert_null(imap_parser_take_command(p));
	assert_int_equal(imap_parser_feed(p, "", 0, &u), IMAP_PARSE_NEED_MORE);
	assert_int_equal(u, 0);
	/* partial: tag and name known while waiting */
	assert_int_equal(imap_parser_feed(p, "t1 uid fetch 1:* (", 18, &u), IMAP_PARSE_NEED_MORE);
	assert_string_equal(imap_parser_tag(p), "t1");
	assert_string_equal(imap_parser_command_name(p), "UID FETCH");
	/* reset forgets it */
	imap_parser_reset(p);
	assert_null(imap_parser_tag(p));
	assert_int_equal(imap_parser_feed(p, "t2 NOOP\r\nt3 NOOP\r\n", 18, &u),
			 IMAP_PARSE_COMPLETE);
	assert_int_equal(u, 9);
	const struct imap_command *cmd = imap_parser_command(p);
	assert_string_equal(cmd->tag, "t2");
	assert_int_equal(cmd->size, 9);
	assert_int_equal(cmd->arg_count, 0);
	assert_int_equal(cmd->args[0].type, IMAP_ARG_EOL);
	struct imap_command *own = imap_parser_take_command(p);
	assert_int_equal(imap_parser_feed(p, "t3 NOOP\r\n", 9, &u), IMAP_PARSE_COMPLETE);
	assert_string_equal(own->tag, "t2");
	assert_string_equal(imap_parser_command(p)->tag, "t3");
	imap_command_free(&own);
	imap_command_free(&own);
	/* accept/reject outside LITERAL do nothing */
	imap_parser_literal_accept(p);
	imap_parser_literal_reject(p);
	/* literal accept with size 0 */
	assert_int_equal(imap_parser_feed(p, "t4 X {0}\r\n", 10, &u), IMAP_PARSE_LITERAL);
	assert_int_equal(imap_parser_literal_size(p), 0);
	assert_false(imap_parser_literal_is8(p));
	imap_parser_literal_accept(p);
	assert_int_equal(imap_parser_feed(p, "\r\n", 2, &u), IMAP_PARSE_COMPLETE);
	cmd = imap_parser_command(p);
	assert_int_equal(cmd->args[0].type, IMAP_ARG_LITERAL);
	assert_int_equal(cmd->args[0].len, 0);
	assert_string_equal(cmd->args[0].str, "");
	assert_int_equal(cmd->size, 12);
	/* no error yet */
	imap_parser_error(p, &code, &fatal);
	assert_int_equal(code, IMAP_PARSE_ERR_NONE);
	/* limits can change between commands */
	struct imap_parser_limits tiny = {.max_literal = 3};
	imap_parser_set_limits(p, &tiny);
	assert_int_equal(imap_parser_feed(p, "t4 X {4+}\r\nabcd\r\nt5 NOOP\r\n", 26, &u),
			 IMAP_PARSE_ERROR);
	imap_parser_error(p, &code, &fatal);
	assert_int_equal(code, IMAP_PARSE_ERR_LITERAL_TOO_BIG);
	assert_int_equal(imap_parser_feed(p, "abcd\r\nt5 NOOP\r\n", 15, &u), IMAP_PARSE_COMPLETE);
	assert_string_equal(imap_parser_command(p)->tag, "t5");
	imap_parser_set_limits(p, NULL);
	/* flags can change between commands */
	imap_parser_set_flags(p, 0);
	assert_int_equal(imap_parser_feed(p, "t5 X {1+}\r\n", 11, &u), IMAP_PARSE_ERROR);
	imap_parser_set_flags(p, IMAP_PARSER_LITERAL_PLUS);
	imap_parser_reset(p);
	/* line mode: tag NULL, line accessor */
	size_t ll = 5;
	assert_null(imap_parser_line(p, &ll));
	assert_int_equal(ll, 0);
	imap_parser_expect_line(p, IMAP_LINE_TEXT);
	assert_int_equal(imap_parser_feed(p, "hello\r\nt6 NOOP\r\n", 16, &u), IMAP_PARSE_LINE);
	assert_int_equal(u, 7);
	assert_string_equal(imap_parser_line(p, &ll), "hello");
	assert_null(imap_parser_tag(p));
	assert_int_equal(imap_parser_feed(p, "t6 NOOP\r\n", 9, &u), IMAP_PARSE_COMPLETE);
	imap_parser_free(&p);
	imap_parser_free(&p);
	imap_command_free(&own);
}

static void test_accessors(void **state)
{
	(void)state;
	struct imap_parser *p = imap_parser_new(NULL, IMAP_PARSER_LITERAL_PLUS);
	size_t u;
	const char in[] = "a X atom NIL \"q\" {1+}\r\nl (x)\r\n";
	assert_int_equal(imap_parser_feed(p, in, sizeof(in) - 1, &u), IMAP_PARSE_COMPLETE);
	const struct imap_arg *a = imap_parser_command(p)->args;
	const char *s;
	size_t len;
	const struct imap_arg *list;
	/* atom */
	assert_true(imap_arg_get_atom(&a[0], &s, &len));
	assert_string_equal(s, "atom");
	assert_true(imap_arg_atom_equals(&a[0], "ATOM"));
	assert_false(imap_arg_atom_equals(&a[0], "ATO"));
	assert_true(imap_arg_get_astring(&a[0], &s, NULL));
	assert_false(imap_arg_get_string(&a[0], &s, &len));
	assert_false(imap_arg_get_nstring(&a[0], &s, &len));
	assert_false(imap_arg_get_list(&a[0], &list, &len));
	/* NIL */
	assert_true(imap_arg_get_nstring(&a[1], &s, &len));
	assert_null(s);
	assert_int_equal(len, 0);
	assert_true(imap_arg_get_astring(&a[1], &s, &len));
	assert_string_equal(s, "NIL");
	assert_true(imap_arg_atom_equals(&a[1], "nil"));
	/* quoted */
	assert_true(imap_arg_get_string(&a[2], &s, &len));
	assert_string_equal(s, "q");
	assert_false(imap_arg_get_atom(&a[2], &s, &len));
	assert_false(imap_arg_atom_equals(&a[2], "q"));
	assert_true(imap_arg_get_nstring(&a[2], &s, &len));
	/* literal */
	assert_true(imap_arg_get_string(&a[3], &s, &len));
	assert_string_equal(s, "l");
	assert_true(imap_arg_get_astring(&a[3], &s, &len));
	/* list */
	assert_true(imap_arg_get_list(&a[4], &list, &len));
	assert_int_equal(len, 1);
	assert_string_equal(list[0].str, "x");
	assert_true(imap_arg_is_eol(&list[1]));
	assert_false(imap_arg_get_astring(&a[4], &s, &len));
	assert_true(imap_arg_is_eol(&a[5]));
	assert_false(imap_arg_get_astring(&a[5], &s, &len));
	imap_parser_free(&p);
}

/* A long random-ish stream of valid and broken commands: transcripts must
 * not depend on how the bytes are split. */
static void test_split_stress(void **state)
{
	(void)state;
#define PIECE(s)                                                                                   \
	{                                                                                          \
		s, sizeof(s) - 1                                                                   \
	}
	static const struct {
		const char *s;
		size_t n;
	} pieces[] = {
	    PIECE("a NOOP\r\n"),
	    PIECE("b LOGIN {3+}\r\nabc {4}\r\nd\r\nf\r\n"),
	    PIECE("c X ) junk {3+}\r\n\r\n\r\n"),
	    PIECE("d FETCH 1 (BODY.PEEK[HEADER.FIELDS (A \"B)\")]<1.2> UID)\r\n"),
	    PIECE("e X \"unterminated\r\n"),
	    PIECE("f APPEND x ~{4+}\r\n\0\r\n\0\r\n"),
	    PIECE("g X {2}\r\nxx\r\n"),
	    PIECE("\r\n"),
	    PIECE("h AUTHENTICATE PLAIN\r\nQUJD\r\n"),
	    PIECE("i IDLE\r\nDONE\r\n"),
	    PIECE("j X (((\r\n"),
	    PIECE("k X \"\\\\\\\"\" NIL nil (a) {0}\r\n\r\n"),
	};
	struct buf in;
	buf_init(&in, 0);
	rng_state = 4242;
	for (int i = 0; i < 400; i++) {
		size_t k = rng() % (sizeof(pieces) / sizeof(pieces[0]));
		buf_append(&in, pieces[k].s, pieces[k].n);
	}
	struct buf ref;
	buf_init(&ref, 0);
	rng_state = 1;
	drive(&default_policy, in.data, in.len, 0, &ref);
	assert_non_null(strstr(ref.data, "ERROR"));
	assert_non_null(strstr(ref.data, "LINE \"DONE\""));
	check_with(&default_policy, in.data, in.len, ref.data);
	buf_free(&ref);
	buf_free(&in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc_vectors),	     cmocka_unit_test(test_rfc_vectors_pipelined),
	    cmocka_unit_test(test_append),	     cmocka_unit_test(test_search_literal),
	    cmocka_unit_test(test_literal_plus),     cmocka_unit_test(test_literal_minus),
	    cmocka_unit_test(test_literal8),	     cmocka_unit_test(test_tokens),
	    cmocka_unit_test(test_fetch_sections),   cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_resync),	     cmocka_unit_test(test_limit_line),
	    cmocka_unit_test(test_limit_literal),    cmocka_unit_test(test_limit_command),
	    cmocka_unit_test(test_limit_depth_args), cmocka_unit_test(test_limit_skip),
	    cmocka_unit_test(test_line_mode),	     cmocka_unit_test(test_api),
	    cmocka_unit_test(test_accessors),	     cmocka_unit_test(test_split_stress),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
