/* test_imap_search_eval.c - unit tests for imap_search_eval.h: case
 * folding (properties over the whole BMP, then examples), substring
 * matching, the header digest (build, encode, decode, every truncation and
 * corruption refused), and evaluation of every search key at each level:
 * three-valued results, cheap operands first, decoded headers, BODY and TEXT
 * through transfer encodings, charsets, multipart and embedded messages,
 * sequence and UID sets with '*' and '$', and dates in time zones. Programs
 * go through the real command parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "imap/imap_date.h"
#include "imap/imap_parser.h"
#include "imap/imap_search.h"
#include "imap/imap_search_eval.h"
#include "store/store.h"

/* ----- helpers ----- */

static struct imap_search_program *parse_prog(const char *args)
{
	char line[4096];
	int len = snprintf(line, sizeof(line), "A SEARCH %s\r\n", args);
	struct imap_parser *p = imap_parser_new(NULL, IMAP_PARSER_LITERAL_PLUS);
	size_t used;
	enum imap_parse_result r = imap_parser_feed(p, line, (size_t)len, &used);
	if (r != IMAP_PARSE_COMPLETE)
		fail_msg("\"%s\": parser result %d", args, r);
	struct imap_command *cmd = imap_parser_take_command(p);
	imap_parser_free(&p);
	struct imap_search_options opts = {0, true};
	struct imap_search_program *prog = NULL;
	const char *why = NULL;
	if (imap_search_parse(cmd->args, IMAP_SEARCH_CMD_SEARCH, &opts, &prog, &why) !=
	    IMAP_SEARCH_OK)
		fail_msg("\"%s\": %s", args, why);
	imap_command_free(&cmd);
	return prog;
}

/* The mailbox of the evaluation tests: 10 messages, UIDs 10, 20, ... 100. */
static const struct imap_seqset *saved;

static struct imap_search_program *prepared(const char *args, unsigned *need_r)
{
	struct imap_search_program *prog = parse_prog(args);
	struct imap_search_env env = {.count = 10, .max_uid = 100, .searchres = saved};
	unsigned need = imap_search_prepare(prog, &env);
	if (need_r != NULL)
		*need_r = need;
	return prog;
}

static const char *match_name(enum imap_search_match m)
{
	return m == IMAP_MATCH_YES ? "YES" : m == IMAP_MATCH_NO ? "NO" : "MAYBE";
}

static void expect_at(const char *args, struct imap_search_message *m, enum imap_search_level level,
		      enum imap_search_match want)
{
	struct imap_search_program *prog = prepared(args, NULL);
	enum imap_search_match got = imap_search_eval(prog, m, level);
	imap_search_message_release(m);
	if (got != want)
		fail_msg("SEARCH %s (uid %u, level %d): got %s, want %s", args, (unsigned)m->uid,
			 level, match_name(got), match_name(want));
	imap_search_program_free(&prog);
}

#define YES IMAP_MATCH_YES
#define NO IMAP_MATCH_NO
#define MAYBE IMAP_MATCH_MAYBE
#define L_INDEX IMAP_SEARCH_LEVEL_INDEX
#define L_HEADERS IMAP_SEARCH_LEVEL_HEADERS
#define L_MESSAGE IMAP_SEARCH_LEVEL_MESSAGE

static struct imap_search_message msg_n(uint32_t seq)
{
	struct imap_search_message m;
	memset(&m, 0, sizeof(m));
	m.seq = seq;
	m.uid = seq * 10;
	m.size = 1000;
	m.modseq = 5;
	m.internaldate = 1700000000; /* 2023-11-14 22:13:20 UTC */
	return m;
}

static char *folded(const char *s)
{
	struct buf b;
	buf_init(&b, 0);
	assert_int_equal(imap_search_fold(s, strlen(s), &b), 0);
	char *r = strdup(b.data != NULL ? b.data : "");
	buf_free(&b);
	return r;
}

static void expect_fold(const char *in, const char *want)
{
	char *got = folded(in);
	if (strcmp(got, want) != 0)
		fail_msg("fold \"%s\": got \"%s\", want \"%s\"", in, got, want);
	free(got);
}

/* ----- folding and matching ----- */

static size_t put_utf8(uint32_t c, char *out)
{
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = (char)(0xC0 | (c >> 6));
		out[1] = (char)(0x80 | (c & 0x3F));
		return 2;
	}
	out[0] = (char)(0xE0 | (c >> 12));
	out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
	out[2] = (char)(0x80 | (c & 0x3F));
	return 3;
}

static void test_fold_properties(void **state)
{
	(void)state;
	/* Over the whole BMP: never longer, valid UTF-8 stays valid, and
	 * folding twice changes nothing. */
	struct buf a, b;
	buf_init(&a, 0);
	buf_init(&b, 0);
	for (uint32_t c = 1; c <= 0xFFFF; c++) {
		if (c >= 0xD800 && c <= 0xDFFF)
			continue;
		char in[4];
		size_t n = put_utf8(c, in);
		buf_reset(&a);
		buf_reset(&b);
		assert_int_equal(imap_search_fold(in, n, &a), 0);
		assert_true(a.len <= n);
		assert_int_equal(imap_search_fold(a.data, a.len, &b), 0);
		if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
			fail_msg("fold of U+%04X is not idempotent", (unsigned)c);
	}
	buf_free(&a);
	buf_free(&b);
}

static void test_fold_examples(void **state)
{
	(void)state;
	expect_fold("", "");
	expect_fold("Hello, WORLD 123 [x]", "hello, world 123 [x]");
	expect_fold("\xc3\x80\xc3\x89\xc3\x8e\xc3\x96\xc3\x9e",
		    "\xc3\xa0\xc3\xa9\xc3\xae\xc3\xb6\xc3\xbe");
	expect_fold("\xc3\x97", "\xc3\x97");	 /* multiplication sign */
	expect_fold("\xc3\x9f", "\xc3\x9f");	 /* sharp s stays */
	expect_fold("\xe1\xba\x9e", "\xc3\x9f"); /* capital sharp s */
	expect_fold("\xc5\x81\xc3\xb3\x64\xc5\xba", "\xc5\x82\xc3\xb3\x64\xc5\xba"); /* Łódź */
	expect_fold("\xc4\x8c\xc5\xa0\xc5\xbd", "\xc4\x8d\xc5\xa1\xc5\xbe");	     /* ČŠŽ */
	expect_fold("\xc5\xb8", "\xc3\xbf");					     /* Ÿ */
	expect_fold("\xc5\xbf", "s");						     /* long s */
	expect_fold("\xce\xa3\xce\x91\xce\xa3", "\xcf\x83\xce\xb1\xcf\x83");	     /* ΣΑΣ */
	expect_fold("\xcf\x82", "\xcf\x83"); /* final sigma */
	expect_fold("\xce\x86\xce\x88\xce\x8c\xce\x8f", "\xce\xac\xce\xad\xcf\x8c\xcf\x8e");
	expect_fold("\xd0\x9f\xd0\xa0\xd0\x98\xd0\x92\xd0\x95\xd0\xa2",
		    "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82");     /* ПРИВЕТ */
	expect_fold("\xd0\x81\xd0\x84", "\xd1\x91\xd1\x94");		     /* ЁЄ */
	expect_fold("\xd4\xb1", "\xd5\xa1");				     /* Armenian */
	expect_fold("\xef\xbc\xa1\xef\xbc\xba", "\xef\xbd\x81\xef\xbd\x9a"); /* fullwidth */
	expect_fold("\xe2\x84\xaa\xe2\x84\xab", "k\xc3\xa5");		     /* Kelvin, Angstrom */
	expect_fold("\xe1\xba\xa0", "\xe1\xba\xa1");			     /* Ạ */
	/* bytes that are not UTF-8 pass unchanged */
	expect_fold("A\xff\xfe"
		    "B\xc3",
		    "a\xff\xfe"
		    "b\xc3");
}

static void expect_contains(const char *hay, const char *needle, bool want)
{
	/* also through the heap path: the same hay after 2000 spaces */
	char *big = malloc(strlen(hay) + 2001);
	memset(big, ' ', 2000);
	strcpy(big + 2000, hay);
	char *n = folded(needle);
	bool got = imap_search_contains(hay, strlen(hay), n, strlen(n));
	if (got != want)
		fail_msg("\"%s\" contains \"%s\": got %d", hay, needle, got);
	if (imap_search_contains(big, strlen(big), n, strlen(n)) != (want || n[0] == '\0'))
		fail_msg("long \"%s\" contains \"%s\": got %d", hay, needle, !want);
	free(big);
	free(n);
}

static void test_contains(void **state)
{
	(void)state;
	expect_contains("Hello World", "world", true);
	expect_contains("Hello World", "WORLD", true);
	expect_contains("Hello World", "o w", true);
	expect_contains("Hello World", "worlds", false);
	expect_contains("Hello World", "", true);
	expect_contains("", "", true);
	expect_contains("", "a", false);
	expect_contains("abc", "bcd", false);
	expect_contains("aaab", "aab", true);
	expect_contains("Gr\xc3\x9c\xc3\x9f"
			"e",
			"gr\xc3\xbc\xc3\x9f", true);
	expect_contains("\xd0\x9f\xd0\xa0\xd0\x98\xd0\x92\xd0\x95\xd0\xa2 \xd0\xbc\xd0\xb8\xd1\x80",
			"\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82", true);
	/* needles are valid UTF-8 (the parser sees to it), so a match
	 * always covers whole characters */
	expect_contains("caf\xc3\xa9", "cafe", false);
	expect_contains("\xc3\xa9t\xc3\xa9", "\xc3\x89T", true);
	/* invalid bytes in the hay match only themselves */
	expect_contains("x\xff"
			"ab",
			"ab", true);
	expect_contains("x\xff"
			"ab",
			"\xff"
			"a",
			true);
	expect_contains("STRASSE",
			"stra\xc3\x9f"
			"e",
			false);
	expect_contains("\xe2\x84\xaa"
			"elvin",
			"kelvin", true);
	/* linear time: a long run against a long near-miss needle */
	size_t hl = 256 * 1024, nl = 4096;
	char *hay = malloc(hl), *needle = malloc(nl);
	memset(hay, 'a', hl);
	memset(needle, 'a', nl);
	needle[nl - 1] = 'b';
	assert_false(imap_search_contains(hay, hl, needle, nl));
	hay[hl - 1] = 'B';
	assert_true(imap_search_contains(hay, hl, needle, nl));
	free(needle);
	free(hay);
}

/* ----- the header digest ----- */

static const char sample_header[] =
    "Return-Path: <x@y>\r\n"
    "From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <jm@example.test>\r\n"
    "To: Amy <amy@example.test>,\r\n"
    " bo@example.test\r\n"
    "Cc: \"Smith, J\" <js@example.test>\r\n"
    "Subject: Re: [list] =?iso-8859-1?q?Gr=FC=DFe?=\r\n"
    "\tfrom home\r\n"
    "Date: Mon, 11 Mar 2024 00:30:00 +0100\r\n"
    "Message-ID: <m1@example.test>\r\n"
    "References: <r1@example.test>\r\n"
    " <r2@example.test>\r\n"
    "In-Reply-To: <r2@example.test>\r\n"
    "To: second@example.test\r\n"
    "Subject: ignored for sorting\r\n"
    "X-Other: value\r\n"
    "\r\n"
    "Body: not a header\r\n";

static void expect_v(const struct imap_search_headers *h, enum imap_search_hdr k, const char *want)
{
	if (want == NULL) {
		if (h->v[k].p != NULL)
			fail_msg("entry %d: want absent, got \"%.*s\"", k, (int)h->v[k].len,
				 h->v[k].p);
		return;
	}
	if (h->v[k].p == NULL)
		fail_msg("entry %d: absent, want \"%s\"", k, want);
	if (h->v[k].len != strlen(want) || memcmp(h->v[k].p, want, h->v[k].len) != 0)
		fail_msg("entry %d: got \"%.*s\", want \"%s\"", k, (int)h->v[k].len, h->v[k].p,
			 want);
}

static void check_sample(const struct imap_search_headers *h)
{
	expect_v(h, IMAP_HDR_FROM, "J\xc3\xbcrgen M\xc3\xbcller <jm@example.test>");
	expect_v(h, IMAP_HDR_TO, "Amy <amy@example.test>, bo@example.test\nsecond@example.test");
	expect_v(h, IMAP_HDR_CC, "\"Smith, J\" <js@example.test>");
	expect_v(h, IMAP_HDR_BCC, NULL);
	expect_v(h, IMAP_HDR_SUBJECT,
		 "Re: [list] Gr\xc3\xbc\xc3\x9f"
		 "e\tfrom home\nignored for sorting");
	expect_v(h, IMAP_HDR_DATE, "Mon, 11 Mar 2024 00:30:00 +0100");
	expect_v(h, IMAP_HDR_MESSAGE_ID, "<m1@example.test>");
	expect_v(h, IMAP_HDR_REFERENCES, "<r1@example.test> <r2@example.test>");
	expect_v(h, IMAP_HDR_IN_REPLY_TO, "<r2@example.test>");
	expect_v(h, IMAP_HDR_BASE_SUBJECT,
		 "Gr\xc3\xbc\xc3\x9f"
		 "e from home");
	expect_v(h, IMAP_HDR_SORT_FROM, "jm");
	expect_v(h, IMAP_HDR_SORT_TO, "amy");
	expect_v(h, IMAP_HDR_SORT_CC, "js");
	expect_v(h, IMAP_HDR_DISPLAY_FROM, "J\xc3\xbcrgen M\xc3\xbcller");
	expect_v(h, IMAP_HDR_DISPLAY_TO, "Amy");
	expect_v(h, IMAP_HDR_ADDR_FROM, "J\xc3\xbcrgen M\xc3\xbcller <jm@example.test>");
	expect_v(h, IMAP_HDR_ADDR_TO,
		 "Amy <amy@example.test>, bo@example.test\nsecond@example.test");
	expect_v(h, IMAP_HDR_ADDR_CC, "Smith, J <js@example.test>");
	expect_v(h, IMAP_HDR_ADDR_BCC, NULL);
	assert_true(h->subject_is_reply);
	assert_true(h->date_valid);
	assert_int_equal(h->date_tz, 60);
	assert_int_equal(h->date, imap_days_from_civil(2024, 3, 10) * 86400 + 23 * 3600 + 30 * 60);
}

static void test_digest_build(void **state)
{
	(void)state;
	struct imap_search_headers h;
	imap_search_headers_init(&h);
	imap_search_headers_build(&h, sample_header, strlen(sample_header));
	check_sample(&h);
	/* building again replaces everything */
	const char *small = "Subject: hi\r\nDate: junk\r\n\r\nFrom: body@x\r\n";
	imap_search_headers_build(&h, small, strlen(small));
	expect_v(&h, IMAP_HDR_SUBJECT, "hi");
	expect_v(&h, IMAP_HDR_BASE_SUBJECT, "hi");
	expect_v(&h, IMAP_HDR_FROM, NULL);
	expect_v(&h, IMAP_HDR_SORT_FROM, NULL);
	expect_v(&h, IMAP_HDR_DATE, "junk");
	assert_false(h.date_valid);
	assert_false(h.subject_is_reply);
	/* present but empty */
	const char *empty = "From:\r\nSubject: \r\n\r\n";
	imap_search_headers_build(&h, empty, strlen(empty));
	expect_v(&h, IMAP_HDR_FROM, "");
	expect_v(&h, IMAP_HDR_SORT_FROM, "");
	expect_v(&h, IMAP_HDR_SUBJECT, "");
	/* no header at all, a bare-LF header */
	imap_search_headers_build(&h, "", 0);
	for (int i = 0; i < IMAP_HDR_COUNT; i++)
		assert_null(h.v[i].p);
	const char *lf = "subject: lf only\nFROM: a@b\n\nbody";
	imap_search_headers_build(&h, lf, strlen(lf));
	expect_v(&h, IMAP_HDR_SUBJECT, "lf only");
	expect_v(&h, IMAP_HDR_SORT_FROM, "a");
	imap_search_headers_free(&h);
}

static void test_digest_roundtrip(void **state)
{
	(void)state;
	struct imap_search_headers h, d;
	imap_search_headers_init(&h);
	imap_search_headers_init(&d);
	imap_search_headers_build(&h, sample_header, strlen(sample_header));
	struct buf blob;
	buf_init(&blob, 0);
	assert_int_equal(imap_search_headers_encode(&h, &blob), 0);
	assert_int_equal(imap_search_headers_decode(&d, blob.data, blob.len), 0);
	check_sample(&d);
	/* a digest with negative zone and a date before 1970 */
	const char *old = "Date: 1 Jan 1960 10:00 -0330\r\n\r\n";
	imap_search_headers_build(&h, old, strlen(old));
	buf_reset(&blob);
	assert_int_equal(imap_search_headers_encode(&h, &blob), 0);
	assert_int_equal(imap_search_headers_decode(&d, blob.data, blob.len), 0);
	assert_true(d.date_valid);
	assert_int_equal(d.date_tz, -210);
	assert_int_equal(d.date, h.date);
	assert_true(d.date < 0);
	/* every truncation, and any extra byte, is refused */
	imap_search_headers_build(&h, sample_header, strlen(sample_header));
	buf_reset(&blob);
	imap_search_headers_encode(&h, &blob);
	for (size_t n = 0; n < blob.len; n++) {
		assert_int_equal(imap_search_headers_decode(&d, blob.data, n), -1);
		for (int i = 0; i < IMAP_HDR_COUNT; i++)
			assert_null(d.v[i].p);
	}
	buf_append(&blob, "x", 1);
	assert_int_equal(imap_search_headers_decode(&d, blob.data, blob.len), -1);
	blob.len--;
	/* wrong magic, flags, zone; a length pointing past the end */
	blob.data[1] = '0';
	assert_int_equal(imap_search_headers_decode(&d, blob.data, blob.len), -1);
	blob.data[1] = '2';
	blob.data[blob.len - 13] = 7;
	assert_int_equal(imap_search_headers_decode(&d, blob.data, blob.len), -1);
	blob.data[blob.len - 13] = 1;
	memcpy(blob.data + blob.len - 4, "\xff\xff\xff\x7f", 4);
	assert_int_equal(imap_search_headers_decode(&d, blob.data, blob.len), -1);
	memcpy(blob.data + 2, "\xfe\xff\xff\xff", 4);
	assert_int_equal(imap_search_headers_decode(&d, blob.data, blob.len), -1);
	/* a corrupted blob never reads outside itself, whatever it holds */
	for (size_t i = 0; i < blob.len; i++) {
		char save = blob.data[i];
		blob.data[i] = (char)(save ^ 0x5a);
		(void)imap_search_headers_decode(&d, blob.data, blob.len);
		blob.data[i] = save;
	}
	buf_free(&blob);
	imap_search_headers_free(&d);
	imap_search_headers_free(&h);
}

static void test_digest_keys(void **state)
{
	(void)state;
	struct imap_search_headers h, k;
	imap_search_headers_init(&h);
	imap_search_headers_init(&k);
	imap_search_headers_build(&h, sample_header, strlen(sample_header));
	imap_search_headers_keys(&k, &h);
	/* search entries dropped, keys kept */
	for (int i = IMAP_HDR_FROM; i <= IMAP_HDR_SUBJECT; i++)
		assert_null(k.v[i].p);
	for (int i = IMAP_HDR_KEYS_END; i < IMAP_HDR_COUNT; i++)
		assert_null(k.v[i].p);
	for (int i = IMAP_HDR_DATE; i < IMAP_HDR_KEYS_END; i++) {
		assert_non_null(k.v[i].p);
		assert_int_equal(k.v[i].len, h.v[i].len);
		assert_memory_equal(k.v[i].p, h.v[i].p, h.v[i].len);
	}
	assert_true(k.subject_is_reply && k.date_valid);
	assert_int_equal(k.date, h.date);
	assert_int_equal(k.date_tz, h.date_tz);
	/* long values are cut; References keeps its last whole ids */
	struct buf m;
	buf_init(&m, 0);
	buf_append_str(&m, "Subject: ");
	for (int i = 0; i < 2000; i++)
		buf_append(&m, "s", 1);
	buf_append_str(&m, "\r\nReferences:");
	for (int i = 0; i < 500; i++)
		buf_printf(&m, " <id%d@example.test>", i);
	buf_append_str(&m, "\r\n\r\n");
	imap_search_headers_build(&h, m.data, m.len);
	assert_int_equal(h.v[IMAP_HDR_BASE_SUBJECT].len, 2000);
	imap_search_headers_keys(&k, &h);
	assert_int_equal(k.v[IMAP_HDR_BASE_SUBJECT].len, IMAP_SEARCH_KEYS_MAX);
	struct mime_str r = k.v[IMAP_HDR_REFERENCES];
	assert_true(r.len <= IMAP_SEARCH_KEYS_REFS_MAX && r.len > IMAP_SEARCH_KEYS_REFS_MAX - 30);
	assert_int_equal(r.p[0], '<');
	const char *end = "<id499@example.test>";
	assert_memory_equal(r.p + r.len - strlen(end), end, strlen(end));
	/* an absent field stays absent, a digest of nothing is empty */
	imap_search_headers_build(&h, "", 0);
	imap_search_headers_keys(&k, &h);
	for (int i = 0; i < IMAP_HDR_COUNT; i++)
		assert_null(k.v[i].p);
	buf_free(&m);
	imap_search_headers_free(&k);
	imap_search_headers_free(&h);
}

/* ----- evaluation: the index ----- */

static void test_eval_flags(void **state)
{
	(void)state;
	struct imap_search_message m = msg_n(3);
	m.flags = STORE_FLAG_SEEN | STORE_FLAG_FLAGGED;
	m.keywords = "$Forwarded Work";
	expect_at("ALL", &m, L_INDEX, YES);
	expect_at("SEEN", &m, L_INDEX, YES);
	expect_at("UNSEEN", &m, L_INDEX, NO);
	expect_at("FLAGGED", &m, L_INDEX, YES);
	expect_at("UNFLAGGED", &m, L_INDEX, NO);
	expect_at("ANSWERED", &m, L_INDEX, NO);
	expect_at("UNANSWERED", &m, L_INDEX, YES);
	expect_at("DELETED", &m, L_INDEX, NO);
	expect_at("UNDELETED", &m, L_INDEX, YES);
	expect_at("DRAFT", &m, L_INDEX, NO);
	expect_at("UNDRAFT", &m, L_INDEX, YES);
	expect_at("KEYWORD work", &m, L_INDEX, YES);
	expect_at("KEYWORD $forwarded", &m, L_INDEX, YES);
	expect_at("KEYWORD Wor", &m, L_INDEX, NO);
	expect_at("UNKEYWORD Work", &m, L_INDEX, NO);
	expect_at("UNKEYWORD Junk", &m, L_INDEX, YES);
	expect_at("RECENT", &m, L_INDEX, NO);
	expect_at("OLD", &m, L_INDEX, YES);
	expect_at("NEW", &m, L_INDEX, NO);
	m.recent = true;
	expect_at("RECENT", &m, L_INDEX, YES);
	expect_at("NEW", &m, L_INDEX, NO); /* seen */
	m.flags = STORE_FLAG_ANSWERED | STORE_FLAG_DELETED | STORE_FLAG_DRAFT;
	m.keywords = NULL;
	expect_at("NEW", &m, L_INDEX, YES);
	expect_at("OLD", &m, L_INDEX, NO);
	expect_at("ANSWERED DELETED DRAFT UNSEEN", &m, L_INDEX, YES);
	expect_at("KEYWORD Work", &m, L_INDEX, NO);
	expect_at("UNKEYWORD Work", &m, L_INDEX, YES);
}

static void test_eval_numbers(void **state)
{
	(void)state;
	struct imap_search_message m = msg_n(4); /* uid 40, size 1000, modseq 5 */
	expect_at("LARGER 999", &m, L_INDEX, YES);
	expect_at("LARGER 1000", &m, L_INDEX, NO);
	expect_at("SMALLER 1001", &m, L_INDEX, YES);
	expect_at("SMALLER 1000", &m, L_INDEX, NO);
	expect_at("MODSEQ 5", &m, L_INDEX, YES);
	expect_at("MODSEQ 6", &m, L_INDEX, NO);
	expect_at("MODSEQ \"/flags/\\\\Seen\" all 4", &m, L_INDEX, YES);
	/* sequence sets, '*' = 10 messages */
	expect_at("4", &m, L_INDEX, YES);
	expect_at("1:3,5:*", &m, L_INDEX, NO);
	expect_at("2,4:4", &m, L_INDEX, YES);
	expect_at("*:4", &m, L_INDEX, YES);
	expect_at("*", &m, L_INDEX, NO);
	/* UID sets, '*' = UID 100 */
	expect_at("UID 40", &m, L_INDEX, YES);
	expect_at("UID 41:*", &m, L_INDEX, NO);
	expect_at("UID 1:39,41:*", &m, L_INDEX, NO);
	expect_at("UID 35:45", &m, L_INDEX, YES);
	expect_at("UID *:40", &m, L_INDEX, YES);
	/* "$": the saved UIDs, for both kinds of key */
	struct imap_seqset res;
	imap_seqset_init(&res);
	imap_seqset_add(&res, 40, 40);
	imap_seqset_add(&res, 70, 80);
	imap_seqset_normalize(&res);
	saved = &res;
	expect_at("$", &m, L_INDEX, YES);
	expect_at("UID $", &m, L_INDEX, YES);
	expect_at("NOT $", &m, L_INDEX, NO);
	struct imap_search_message m7 = msg_n(7);
	expect_at("$", &m7, L_INDEX, YES);
	struct imap_search_message m5 = msg_n(5);
	expect_at("$", &m5, L_INDEX, NO);
	saved = NULL; /* no saved result: "$" is empty */
	expect_at("$", &m, L_INDEX, NO);
	expect_at("OR $ UID 40", &m, L_INDEX, YES);
	imap_seqset_free(&res);
}

static void test_eval_dates(void **state)
{
	(void)state;
	struct imap_search_message m = msg_n(1);
	/* 2024-03-10 23:30 UTC: the 10th in UTC, the 11th at +0100 */
	m.internaldate = imap_days_from_civil(2024, 3, 10) * 86400 + 23 * 3600 + 30 * 60;
	m.zone = 0;
	expect_at("ON 10-Mar-2024", &m, L_INDEX, YES);
	expect_at("BEFORE 11-Mar-2024", &m, L_INDEX, YES);
	expect_at("BEFORE 10-Mar-2024", &m, L_INDEX, NO);
	expect_at("SINCE 10-Mar-2024", &m, L_INDEX, YES);
	expect_at("SINCE 11-Mar-2024", &m, L_INDEX, NO);
	m.zone = 60;
	expect_at("ON 11-Mar-2024", &m, L_INDEX, YES);
	expect_at("ON 10-Mar-2024", &m, L_INDEX, NO);
	expect_at("SINCE 11-Mar-2024", &m, L_INDEX, YES);
	m.zone = -600;
	expect_at("ON 10-Mar-2024", &m, L_INDEX, YES);
	/* SENT*: the Date: header's own day and zone */
	struct imap_search_headers h;
	imap_search_headers_init(&h);
	const char *hdr = "Date: Mon, 11 Mar 2024 00:30:00 +0100\r\n\r\n";
	imap_search_headers_build(&h, hdr, strlen(hdr));
	m.headers = &h;
	expect_at("SENTON 11-Mar-2024", &m, L_INDEX, MAYBE);
	expect_at("SENTON 11-Mar-2024", &m, L_HEADERS, YES);
	expect_at("SENTBEFORE 11-Mar-2024", &m, L_HEADERS, NO);
	expect_at("SENTBEFORE 12-Mar-2024", &m, L_HEADERS, YES);
	expect_at("SENTSINCE 11-Mar-2024", &m, L_HEADERS, YES);
	expect_at("SENTSINCE 12-Mar-2024", &m, L_HEADERS, NO);
	/* no readable Date: the internal date (in the server's zone) */
	hdr = "Date: sometime\r\n\r\n";
	imap_search_headers_build(&h, hdr, strlen(hdr));
	m.zone = 0;
	expect_at("SENTON 10-Mar-2024", &m, L_HEADERS, YES);
	m.zone = 60;
	expect_at("SENTON 11-Mar-2024", &m, L_HEADERS, YES);
	imap_search_headers_free(&h);
}

static void test_eval_logic(void **state)
{
	(void)state;
	struct imap_search_message m = msg_n(2);
	m.flags = STORE_FLAG_FLAGGED;
	/* cheap keys decide alone when they can */
	expect_at("SEEN FROM alice", &m, L_INDEX, NO);
	expect_at("FLAGGED FROM alice", &m, L_INDEX, MAYBE);
	expect_at("OR FLAGGED FROM alice", &m, L_INDEX, YES);
	expect_at("OR SEEN FROM alice", &m, L_INDEX, MAYBE);
	expect_at("NOT FROM alice", &m, L_INDEX, MAYBE);
	expect_at("NOT (SEEN FROM alice)", &m, L_INDEX, YES);
	expect_at("NOT OR FLAGGED BODY x", &m, L_INDEX, NO);
	expect_at("(FLAGGED (UNSEEN (UID 20)))", &m, L_INDEX, YES);
	expect_at("OR (SEEN) (OR DELETED NOT UNFLAGGED)", &m, L_INDEX, YES);
	expect_at("NOT NOT NOT FLAGGED", &m, L_INDEX, NO);
	/* with the digest, header keys decide; BODY still needs the message */
	struct imap_search_headers h;
	imap_search_headers_init(&h);
	const char *hdr = "From: Alice <alice@x>\r\nSubject: s\r\n\r\n";
	imap_search_headers_build(&h, hdr, strlen(hdr));
	m.headers = &h;
	expect_at("FLAGGED FROM alice", &m, L_HEADERS, YES);
	expect_at("FLAGGED FROM bob", &m, L_HEADERS, NO);
	expect_at("FROM alice BODY x", &m, L_HEADERS, MAYBE);
	expect_at("FROM bob BODY x", &m, L_HEADERS, NO);
	expect_at("OR FROM alice BODY x", &m, L_HEADERS, YES);
	/* at the message level without the message: cheaper operands still
	 * decide, the rest stays open */
	expect_at("FROM bob BODY x", &m, L_MESSAGE, NO);
	expect_at("BODY x FROM bob", &m, L_MESSAGE, NO);
	expect_at("OR BODY x FROM alice", &m, L_MESSAGE, YES);
	expect_at("BODY x FROM alice", &m, L_MESSAGE, MAYBE);
	expect_at("NOT BODY x", &m, L_MESSAGE, MAYBE);
	imap_search_headers_free(&h);
}

/* ----- evaluation: headers and text ----- */

static const char mime_msg[] = "From: =?utf-8?b?w4lsaXNl?= <elise@example.test>\r\n"
			       "To: team@example.test\r\n"
			       "Bcc: hidden@example.test\r\n"
			       "Subject: =?utf-8?q?Quarterly_r=C3=A9sum=C3=A9?=\r\n"
			       "X-Priority: 1 (Highest)\r\n"
			       "X-Tag: =?utf-8?q?caf=C3=A9?=\r\n"
			       "MIME-Version: 1.0\r\n"
			       "Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
			       "\r\n"
			       "preamble words: preambleonly\r\n"
			       "--outer\r\n"
			       "Content-Type: text/plain; charset=iso-8859-1\r\n"
			       "Content-Transfer-Encoding: quoted-printable\r\n"
			       "\r\n"
			       "Gr=FC=DFe aus K=F6ln, soft=\r\n"
			       "break joined.\r\n"
			       "--outer\r\n"
			       "Content-Type: text/html; charset=utf-8\r\n"
			       "Content-Transfer-Encoding: base64\r\n"
			       "\r\n"
			       "PGI+U8OpY3LDqHQ8L2I+IGh0bWwgcGFydA==\r\n"
			       "--outer\r\n"
			       "Content-Type: application/octet-stream\r\n"
			       "Content-Transfer-Encoding: base64\r\n"
			       "X-Part-Header: partheaderword\r\n"
			       "\r\n"
			       "YXR0YWNobWVudHdvcmQ=\r\n"
			       "--outer\r\n"
			       "Content-Type: message/rfc822\r\n"
			       "\r\n"
			       "From: inner@example.test\r\n"
			       "Subject: innersubject\r\n"
			       "\r\n"
			       "inner body text\r\n"
			       "--outer\r\n"
			       "Content-Type: text/plain; charset=x-unknown-charset\r\n"
			       "\r\n"
			       "raw bytes kept\r\n"
			       "--outer--\r\n"
			       "epilogue\r\n";

static struct imap_search_message mime_message(void)
{
	struct imap_search_message m = msg_n(1);
	m.data = mime_msg;
	m.len = strlen(mime_msg);
	return m;
}

static void test_eval_header_keys(void **state)
{
	(void)state;
	struct imap_search_message m = mime_message();
	struct imap_search_headers h;
	imap_search_headers_init(&h);
	imap_search_headers_build(&h, m.data, m.len);
	m.headers = &h;
	/* decoded, case-insensitive substrings */
	expect_at("FROM \"\xc3\xa9lise\"", &m, L_HEADERS, YES);
	expect_at("FROM ELISE@EXAMPLE", &m, L_HEADERS, YES);
	expect_at("FROM w4lsaXNl", &m, L_HEADERS, NO);
	expect_at("TO team", &m, L_HEADERS, YES);
	expect_at("CC team", &m, L_HEADERS, NO);
	expect_at("BCC hidden", &m, L_HEADERS, YES);
	expect_at("SUBJECT \"R\xc3\x89SUM\xc3\x89\"", &m, L_HEADERS, YES);
	expect_at("SUBJECT \"quarterly r\"", &m, L_HEADERS, YES);
	expect_at("SUBJECT \"\"", &m, L_HEADERS, YES);
	/* HEADER on a digest field: at the header level */
	expect_at("HEADER subject quarterly", &m, L_HEADERS, YES);
	expect_at("HEADER Bcc \"\"", &m, L_HEADERS, YES);
	expect_at("HEADER Cc \"\"", &m, L_HEADERS, NO);
	expect_at("HEADER Cc x", &m, L_HEADERS, NO);
	/* HEADER on another field: only with the message */
	expect_at("HEADER X-Priority highest", &m, L_HEADERS, MAYBE);
	expect_at("HEADER X-Priority highest", &m, L_MESSAGE, YES);
	expect_at("HEADER x-priority LOWEST", &m, L_MESSAGE, NO);
	expect_at("HEADER X-Tag \"caf\xc3\xa9\"", &m, L_MESSAGE, YES);
	expect_at("HEADER X-Priority \"\"", &m, L_MESSAGE, YES);
	expect_at("HEADER X-Missing \"\"", &m, L_MESSAGE, NO);
	/* a part's header is not the message's */
	expect_at("HEADER X-Part-Header \"\"", &m, L_MESSAGE, NO);
	/* without a digest the message level builds one */
	m.headers = NULL;
	expect_at("FROM elise", &m, L_HEADERS, MAYBE);
	expect_at("FROM elise", &m, L_MESSAGE, YES);
	expect_at("NOT TO team", &m, L_MESSAGE, NO);
	imap_search_headers_free(&h);
}

/* Address keys match the parsed addresses too (imaptest search-addresses):
 * comments and blanks inside an address, groups, encoded names. */
static void expect_addr(const char *header, const char *args, enum imap_search_match want)
{
	struct imap_search_message m = msg_n(1);
	struct imap_search_headers h;
	imap_search_headers_init(&h);
	imap_search_headers_build(&h, header, strlen(header));
	m.headers = &h;
	expect_at(args, &m, L_HEADERS, want);
	/* the same through the cache encoding */
	struct imap_search_headers d;
	imap_search_headers_init(&d);
	struct buf blob;
	buf_init(&blob, 0);
	assert_int_equal(imap_search_headers_encode(&h, &blob), 0);
	assert_int_equal(imap_search_headers_decode(&d, blob.data, blob.len), 0);
	m.headers = &d;
	expect_at(args, &m, L_HEADERS, want);
	buf_free(&blob);
	imap_search_headers_free(&d);
	imap_search_headers_free(&h);
}

static void test_eval_address_keys(void **state)
{
	(void)state;
	const char *commented = "From: <user-from (comment)@ (comment) domain.org>\r\n"
				"To: user-to@domain.org (RealTo)\r\n"
				"Cc: \"user\" . \"cc\" @ domain.org\r\n"
				"Bcc: =?utf-8?q?R=C3=A9al?= <bcc@domain.org>\r\n\r\n";
	expect_addr(commented, "FROM user-from@domain.org", YES);
	expect_addr(commented, "FROM ser-fro", YES);
	expect_addr(commented, "FROM \"(comment)\"", YES); /* the text still counts */
	expect_addr(commented, "FROM other@domain.org", NO);
	expect_addr(commented, "TO user-to@domain.org", YES);
	expect_addr(commented, "TO realto", YES);
	expect_addr(commented, "CC user.cc@domain.org", YES);
	expect_addr(commented,
		    "BCC \"r\xc3\xa9"
		    "al <bcc@\"",
		    YES);
	expect_addr(commented, "BCC user-from", NO);
	/* the parser's fill-ins are not text of the message */
	expect_addr("From: d\r\n\r\n", "FROM missing_domain", NO);
	expect_addr("From: d\r\n\r\n", "FROM d", YES);
	/* groups: the name and every member */
	const char *group = "To: groupname: groupuser1@domain.org, groupuser2@domain.org;,\r\n"
			    "  groupname2: groupuser3@domain.org;\r\n\r\n";
	expect_addr(group, "TO groupname2", YES);
	expect_addr(group, "TO groupuser3@domain.org", YES);
	expect_addr(group, "TO groupuser4", NO);
	expect_addr(group, "FROM groupname", NO);
	/* every occurrence of the field */
	expect_addr("From: a@x.test\r\nFrom: <b (c) @ y.test>\r\n\r\n", "FROM b@y.test", YES);
}

static void test_eval_body_text(void **state)
{
	(void)state;
	struct imap_search_message m = mime_message();
	/* quoted-printable in ISO-8859-1, soft line break */
	expect_at("BODY \"gr\xc3\xbc\xc3\x9f"
		  "e aus k\xc3\xb6ln\"",
		  &m, L_MESSAGE, YES);
	expect_at("BODY \"softbreak joined\"", &m, L_MESSAGE, YES);
	expect_at("BODY \"=FC\"", &m, L_MESSAGE, NO);
	/* base64 HTML in UTF-8: markup stays, text decoded */
	expect_at("BODY \"<B>S\xc3\x89"
		  "CR\xc3\x88T</b>\"",
		  &m, L_MESSAGE, YES);
	expect_at("BODY PGI", &m, L_MESSAGE, NO);
	/* an attachment is not text */
	expect_at("BODY attachmentword", &m, L_MESSAGE, NO);
	expect_at("TEXT attachmentword", &m, L_MESSAGE, NO);
	/* the embedded message's body is body text; its header is header */
	expect_at("BODY \"inner body\"", &m, L_MESSAGE, YES);
	expect_at("BODY innersubject", &m, L_MESSAGE, NO);
	expect_at("TEXT innersubject", &m, L_MESSAGE, YES);
	/* an unknown charset: the bytes as they are */
	expect_at("BODY \"raw bytes\"", &m, L_MESSAGE, YES);
	/* preamble, epilogue and part headers are not body text */
	expect_at("BODY preambleonly", &m, L_MESSAGE, NO);
	expect_at("BODY epilogue", &m, L_MESSAGE, NO);
	expect_at("BODY partheaderword", &m, L_MESSAGE, NO);
	expect_at("TEXT partheaderword", &m, L_MESSAGE, YES);
	/* TEXT: header (decoded) or body */
	expect_at("TEXT \"subject: quarterly r\xc3\xa9sum\xc3\xa9\"", &m, L_MESSAGE, YES);
	expect_at("TEXT \"k\xc3\xb6ln\"", &m, L_MESSAGE, YES);
	expect_at("TEXT \"x-priority: 1\"", &m, L_MESSAGE, YES);
	expect_at("TEXT nowhere", &m, L_MESSAGE, NO);
	/* words never match across two parts */
	expect_at("BODY \"joined. <b>\"", &m, L_MESSAGE, NO);
	/* the empty string matches any message */
	expect_at("BODY \"\"", &m, L_MESSAGE, YES);
	/* body keys need the message */
	expect_at("BODY \"k\xc3\xb6ln\"", &m, L_HEADERS, MAYBE);
	expect_at("TEXT \"k\xc3\xb6ln\"", &m, L_INDEX, MAYBE);
	/* one message, several keys: text built once, all answered */
	expect_at("BODY \"k\xc3\xb6ln\" TEXT innersubject FROM elise NOT BODY zzz", &m, L_MESSAGE,
		  YES);
	/* a message that is not MIME: the whole body is text */
	const char *plain = "Subject: x\r\n\r\nPlain Body, no MIME.\r\n";
	struct imap_search_message p = msg_n(2);
	p.data = plain;
	p.len = strlen(plain);
	expect_at("BODY \"plain body\"", &p, L_MESSAGE, YES);
	expect_at("BODY subject", &p, L_MESSAGE, NO);
	expect_at("TEXT subject", &p, L_MESSAGE, YES);
	/* an empty message */
	p.data = "";
	p.len = 0;
	expect_at("BODY x", &p, L_MESSAGE, NO);
	expect_at("TEXT \"\"", &p, L_MESSAGE, YES);
}

static void test_prepare_needs(void **state)
{
	(void)state;
	const struct {
		const char *args;
		unsigned need;
	} cases[] = {
	    {"ALL", 0},
	    {"SEEN UNSEEN 1:* UID 2 LARGER 3 MODSEQ 4 KEYWORD k", 0},
	    {"SINCE 1-Jan-2020", IMAP_SEARCH_NEED_ZONE},
	    {"FROM x", IMAP_SEARCH_NEED_HEADERS},
	    {"NOT OR SEEN SUBJECT x", IMAP_SEARCH_NEED_HEADERS},
	    {"HEADER Message-ID x", IMAP_SEARCH_NEED_HEADERS},
	    {"HEADER List-Id x", IMAP_SEARCH_NEED_MESSAGE},
	    {"BODY x", IMAP_SEARCH_NEED_MESSAGE},
	    {"(TEXT x)", IMAP_SEARCH_NEED_MESSAGE},
	    {"SENTON 1-Jan-2020", IMAP_SEARCH_NEED_HEADERS | IMAP_SEARCH_NEED_ZONE},
	    {"OR TO a BODY b", IMAP_SEARCH_NEED_HEADERS | IMAP_SEARCH_NEED_MESSAGE},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned need;
		struct imap_search_program *prog = prepared(cases[i].args, &need);
		if (need != cases[i].need)
			fail_msg("%s: need %#x, want %#x", cases[i].args, need, cases[i].need);
		imap_search_program_free(&prog);
	}
}

/* An empty mailbox: '*' matches nothing. */
static void test_empty_mailbox(void **state)
{
	(void)state;
	struct imap_search_program *prog = parse_prog("UID 1:*");
	struct imap_search_env env = {0, 0, NULL};
	imap_search_prepare(prog, &env);
	struct imap_search_message m = msg_n(1);
	m.uid = 1;
	assert_int_equal(imap_search_eval(prog, &m, L_INDEX), YES);
	imap_search_program_free(&prog);
	prog = parse_prog("*");
	imap_search_prepare(prog, &env);
	assert_int_equal(imap_search_eval(prog, &m, L_INDEX), NO);
	imap_search_program_free(&prog);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fold_properties),  cmocka_unit_test(test_fold_examples),
	    cmocka_unit_test(test_contains),	     cmocka_unit_test(test_digest_build),
	    cmocka_unit_test(test_digest_roundtrip), cmocka_unit_test(test_digest_keys),
	    cmocka_unit_test(test_eval_flags),	     cmocka_unit_test(test_eval_numbers),
	    cmocka_unit_test(test_eval_dates),	     cmocka_unit_test(test_eval_logic),
	    cmocka_unit_test(test_eval_header_keys), cmocka_unit_test(test_eval_address_keys),
	    cmocka_unit_test(test_eval_body_text),   cmocka_unit_test(test_prepare_needs),
	    cmocka_unit_test(test_empty_mailbox),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
