/* test_imap_thread.c - unit tests for imap_thread.h: RFC 5256 base subject
 * extraction (every rule of section 2.1, reply/forward detection), msg-id
 * lists, and both threading algorithms on hand-made mailboxes: chains,
 * branches, missing parents (dummies kept or promoted), loops in
 * References, self references, duplicate and missing Message-IDs,
 * In-Reply-To, subject merging (section 3 step 5), date and mailbox-order
 * ties, and a 20,000-message chain that must not touch the stack. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "imap/imap_thread.h"

/* ----- base subject ----- */

static void expect_base(const char *in, const char *want, bool want_reply)
{
	struct buf out;
	buf_init(&out, 0);
	bool reply = imap_base_subject(in, strlen(in), &out);
	const char *got = out.data != NULL ? out.data : "";
	if (strcmp(got, want) != 0 || reply != want_reply)
		fail_msg("base subject of \"%s\": got \"%s\" (reply %d), want \"%s\" (reply %d)",
			 in, got, reply, want, want_reply);
	buf_free(&out);
}

static void test_base_subject_plain(void **state)
{
	(void)state;
	expect_base("", "", false);
	expect_base(" ", "", false);
	expect_base("\t \t", "", false);
	expect_base("foo", "foo", false);
	expect_base("  foo  ", "foo", false);
	/* (1) tabs and folds become spaces, runs one space */
	expect_base("foo\t\tbar", "foo bar", false);
	expect_base("foo\r\n bar", "foo bar", false);
	expect_base("foo    bar   baz", "foo bar baz", false);
	/* words that only look like prefixes stay */
	expect_base("Refoo", "Refoo", false);
	expect_base("Re foo", "Re foo", false);
	expect_base("fwd", "fwd", false);
	expect_base("Regarding: x", "Regarding: x", false);
	expect_base("foo re: bar", "foo re: bar", false);
	/* letter case is kept (comparison folds it) */
	expect_base("Re: HeLLo", "HeLLo", true);
}

static void test_base_subject_leaders(void **state)
{
	(void)state;
	/* (3) subj-refwd in any case, blanks before the colon */
	expect_base("Re: foo", "foo", true);
	expect_base("RE:foo", "foo", true);
	expect_base("re : foo", "foo", true);
	expect_base("Re:   foo", "foo", true);
	expect_base("Fwd: foo", "foo", true);
	expect_base("FW: foo", "foo", true);
	expect_base("fw:foo", "foo", true);
	expect_base("Re: Re: Re: foo", "foo", true);
	expect_base("FWD: FW: re: foo", "foo", true);
	/* subj-refwd with its own blob: "Re[2]:" */
	expect_base("Re[2]: foo", "foo", true);
	expect_base("Re [2]: foo", "foo", true);
	expect_base("Fwd[3]:foo", "foo", true);
	/* *subj-blob subj-refwd */
	expect_base("[list] Re: foo", "foo", true);
	expect_base("[a][b] Re: foo", "foo", true);
	/* the leader only: nothing left */
	expect_base("Re:", "", true);
	expect_base("re :", "", true);
	expect_base("[foo] re:", "", true);
}

static void test_base_subject_blobs(void **state)
{
	(void)state;
	/* (4) a leading blob goes when something follows it */
	expect_base("[list] foo", "foo", false);
	expect_base("[list]foo", "foo", false);
	expect_base("[a][b] foo", "foo", false);
	expect_base("[a] [b] foo", "foo", false);
	expect_base("Re: [list] foo", "foo", true);
	expect_base("[list] Re: [other] Re: foo", "foo", true);
	/* ... and stays when it is all there is */
	expect_base("[list]", "[list]", false);
	expect_base("[a] [b]", "[b]", false);
	expect_base("Re: [list]", "[list]", true);
	/* not a blob: brackets inside, unclosed */
	expect_base("[a[b] foo", "[a[b] foo", false);
	expect_base("[abc foo", "[abc foo", false);
}

static void test_base_subject_trailers(void **state)
{
	(void)state;
	/* (2) "(fwd)" and blanks from the end, repeatedly */
	expect_base("foo (fwd)", "foo", true);
	expect_base("foo (FWD)", "foo", true);
	expect_base("foo (fwd) (fwd)  ", "foo", true);
	expect_base("foo(fwd)", "foo", true);
	expect_base("(fwd)", "", true);
	expect_base("Re: (fwd)", "", true);
	expect_base("foo (fwd) bar", "foo (fwd) bar", false);
	expect_base("foo (fw)", "foo (fw)", false);
}

static void test_base_subject_fwd_wrapper(void **state)
{
	(void)state;
	/* (6) "[fwd:" ... "]" unwrapped, then everything again */
	expect_base("[fwd: foo]", "foo", true);
	expect_base("[Fwd: foo]", "foo", true);
	expect_base("[FWD:foo]", "foo", true);
	expect_base("[fwd: Re: foo (fwd)]", "foo", true);
	expect_base("[fwd: [fwd: foo]]", "foo", true);
	expect_base("Re: [fwd: [list] re: foo]", "foo", true);
	expect_base("Re: Fwd: [fwd: Re: foo] (fwd)", "foo", true);
	expect_base("[fwd:]", "", true);
	/* the closing bracket must end the subject */
	expect_base("[fwd: foo] bar", "bar", false);
	expect_base("[fwd: foo", "[fwd: foo", false);
}

static void test_casemap_cmp(void **state)
{
	(void)state;
	assert_int_equal(imap_casemap_cmp("abc", 3, "ABC", 3), 0);
	assert_true(imap_casemap_cmp("abc", 3, "abd", 3) < 0);
	assert_true(imap_casemap_cmp("ab", 2, "abc", 3) < 0);
	assert_true(imap_casemap_cmp("abc", 3, "ab", 2) > 0);
	assert_int_equal(imap_casemap_cmp("", 0, "", 0), 0);
	/* i;ascii-casemap maps a-z to A-Z: '_' (0x5F) sorts after 'Z' and 'z' */
	assert_true(imap_casemap_cmp("_", 1, "a", 1) > 0);
	assert_true(imap_casemap_cmp("_", 1, "Z", 1) > 0);
	/* bytes above 0x7F compare as bytes */
	assert_true(imap_casemap_cmp("\xc3\xa9", 2, "z", 1) > 0);
}

/* ----- Message-ID lists ----- */

static void expect_ids(const char *value, const char *want)
{
	struct buf out;
	buf_init(&out, 0);
	size_t pos = 0;
	const char *id;
	size_t len;
	while (imap_thread_next_msgid(value, strlen(value), &pos, &id, &len)) {
		if (out.len > 0)
			buf_append(&out, "|", 1);
		buf_append(&out, id, len);
	}
	const char *got = out.data != NULL ? out.data : "";
	if (strcmp(got, want) != 0)
		fail_msg("ids of \"%s\": got \"%s\", want \"%s\"", value, got, want);
	buf_free(&out);
}

static void test_msgids(void **state)
{
	(void)state;
	expect_ids("", "");
	expect_ids("<a@b>", "a@b");
	expect_ids("  <a@b>  <c@d>", "a@b|c@d");
	expect_ids("<a@b><c@d>", "a@b|c@d");
	expect_ids("<a@b> (comment) <c@d>", "a@b|c@d");
	expect_ids("<> <x@y>", "x@y");
	expect_ids("< a@b >", "a@b");
	expect_ids("<a <b@c>", "b@c");
	expect_ids("<a@b", "");
	expect_ids("no ids here", "");
	expect_ids("<a@b> <c@d", "a@b");
}

/* ----- threading ----- */

struct spec {
	uint32_t id;
	const char *msgid, *refs, *irt, *subject;
	int64_t date;
};

static char *thread_of(enum imap_thread_algorithm alg, const struct spec *sp, size_t n)
{
	struct imap_thread_msg *m = calloc(n + 1, sizeof(*m));
	struct buf *subj = calloc(n + 1, sizeof(*subj));
	for (size_t i = 0; i < n; i++) {
		m[i].id = sp[i].id;
		m[i].message_id = sp[i].msgid;
		m[i].message_id_len = sp[i].msgid != NULL ? strlen(sp[i].msgid) : 0;
		m[i].references = sp[i].refs;
		m[i].references_len = sp[i].refs != NULL ? strlen(sp[i].refs) : 0;
		m[i].in_reply_to = sp[i].irt;
		m[i].in_reply_to_len = sp[i].irt != NULL ? strlen(sp[i].irt) : 0;
		buf_init(&subj[i], 0);
		const char *s = sp[i].subject != NULL ? sp[i].subject : "";
		m[i].subject_is_reply = imap_base_subject(s, strlen(s), &subj[i]);
		m[i].base_subject = subj[i].data != NULL ? subj[i].data : "";
		m[i].base_subject_len = subj[i].len;
		m[i].date = sp[i].date;
	}
	struct buf out;
	buf_init(&out, 0);
	assert_int_equal(imap_thread(alg, m, n, &out), 0);
	char *r = strdup(out.data != NULL ? out.data : "");
	buf_free(&out);
	for (size_t i = 0; i < n; i++)
		buf_free(&subj[i]);
	free(subj);
	free(m);
	return r;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void expect_thread(enum imap_thread_algorithm alg, const struct spec *sp, size_t n,
			  const char *want)
{
	char *got = thread_of(alg, sp, n);
	if (strcmp(got, want) != 0)
		fail_msg("thread: got  %s\n        want %s", got, want);
	free(got);
}

#define REFS IMAP_THREAD_REFERENCES
#define ORDSUBJ IMAP_THREAD_ORDEREDSUBJECT

static void test_refs_empty(void **state)
{
	(void)state;
	expect_thread(REFS, NULL, 0, "");
	expect_thread(ORDSUBJ, NULL, 0, "");
	const struct spec one[] = {{7, NULL, NULL, NULL, NULL, 0}};
	expect_thread(REFS, one, 1, "(7)");
	expect_thread(ORDSUBJ, one, 1, "(7)");
}

static void test_refs_chain_and_branches(void **state)
{
	(void)state;
	const struct spec chain[] = {
	    {1, "<a@x>", NULL, NULL, "one", 1},
	    {2, "<b@x>", "<a@x>", NULL, "two", 2},
	    {3, "<c@x>", "<a@x> <b@x>", NULL, "three", 3},
	};
	expect_thread(REFS, chain, N(chain), "(1 2 3)");
	/* RFC 5256's example shape: (3 6 (4 23)(44 7 96)) */
	const struct spec rfc[] = {
	    {2, "<m2>", NULL, NULL, "s2", 1},
	    {3, "<m3>", NULL, NULL, "s3", 2},
	    {6, "<m6>", "<m3>", NULL, "s6", 3},
	    {4, "<m4>", "<m3> <m6>", NULL, "s4", 4},
	    {23, "<m23>", "<m3> <m6> <m4>", NULL, "s23", 5},
	    {44, "<m44>", "<m3> <m6>", NULL, "s44", 6},
	    {7, "<m7>", "<m3> <m6> <m44>", NULL, "s7", 7},
	    {96, "<m96>", "<m3> <m6> <m44> <m7>", NULL, "s96", 8},
	};
	expect_thread(REFS, rfc, N(rfc), "(2)(3 6 (4 23)(44 7 96))");
	/* In-Reply-To when there are no References; its first id only */
	const struct spec irt[] = {
	    {1, "<a@x>", NULL, NULL, "p", 1},
	    {2, "<b@x>", NULL, "<a@x> <zz@x>", "q", 2},
	    {3, "<c@x>", "", "<b@x>", "r", 3},
	};
	expect_thread(REFS, irt, N(irt), "(1 2 3)");
	/* References win over In-Reply-To */
	const struct spec both[] = {
	    {1, "<a@x>", NULL, NULL, "p", 1},
	    {2, "<b@x>", NULL, NULL, "q", 2},
	    {3, "<c@x>", "<b@x>", "<a@x>", "r", 3},
	};
	expect_thread(REFS, both, N(both), "(1)(2 3)");
}

static void test_refs_sibling_dates(void **state)
{
	(void)state;
	/* siblings by sent date, ties in mailbox order; threads likewise */
	const struct spec sp[] = {
	    {1, "<a>", NULL, NULL, "root", 10}, {2, "<b>", "<a>", NULL, "x", 50},
	    {3, "<c>", "<a>", NULL, "y", 30},	{4, "<d>", "<a>", NULL, "z", 30},
	    {5, "<e>", NULL, NULL, "early", 5},
	};
	expect_thread(REFS, sp, N(sp), "(5)(1 (3)(4)(2))");
}

static void test_refs_missing_parents(void **state)
{
	(void)state;
	/* two children of a missing message: the dummy stays at the top */
	const struct spec two[] = {
	    {2, "<b>", "<a>", NULL, "first", 1},
	    {3, "<c>", "<a>", NULL, "second", 2},
	};
	expect_thread(REFS, two, N(two), "((2)(3))");
	/* one child: promoted to the top */
	const struct spec one[] = {
	    {2, "<b>", "<a>", NULL, "lonely", 1},
	};
	expect_thread(REFS, one, N(one), "(2)");
	/* a chain of missing messages under a real one collapses */
	const struct spec mid[] = {
	    {1, "<a>", NULL, NULL, "top", 1},
	    {4, "<d>", "<a> <b> <c>", NULL, "deep", 2},
	    {5, "<e>", "<a> <b> <x>", NULL, "other", 3},
	};
	expect_thread(REFS, mid, N(mid), "(1 (4)(5))");
	/* missing ancestors over a single real descendant chain */
	const struct spec deep[] = {
	    {2, "<b>", "<m1> <m2> <m3>", NULL, "p", 1},
	    {3, "<c>", "<m1> <m2> <m3> <b>", NULL, "q", 2},
	};
	expect_thread(REFS, deep, N(deep), "(2 3)");
	/* a dummy's place among the threads is its first child's date */
	const struct spec order[] = {
	    {1, "<one>", NULL, NULL, "alpha", 20},
	    {2, "<b>", "<gone>", NULL, "beta", 30},
	    {3, "<c>", "<gone>", NULL, "gamma", 10},
	};
	expect_thread(REFS, order, N(order), "((3)(2))(1)");
}

static void test_refs_loops(void **state)
{
	(void)state;
	/* each message names the other as its parent: the later link would
	 * close a loop and is not made */
	const struct spec pair[] = {
	    {1, "<a>", "<b>", NULL, "one", 1},
	    {2, "<b>", "<a>", NULL, "two", 2},
	};
	expect_thread(REFS, pair, N(pair), "(2 1)");
	/* a message referencing itself */
	const struct spec self[] = {{1, "<a>", "<a>", NULL, "me", 1}};
	expect_thread(REFS, self, N(self), "(1)");
	const struct spec self2[] = {
	    {1, "<a>", NULL, NULL, "top", 1},
	    {2, "<b>", "<a> <b>", NULL, "me", 2},
	};
	/* its last reference is itself: no parent (RFC 5256 step 1.B) */
	expect_thread(REFS, self2, N(self2), "(1)(2)");
	/* a loop inside one References list */
	const struct spec inner[] = {
	    {1, "<x>", "<a> <b> <a> <c>", NULL, "loop", 1},
	};
	expect_thread(REFS, inner, N(inner), "(1)");
	const struct spec inner2[] = {
	    {1, "<a>", NULL, NULL, "a", 1},
	    {2, "<b>", "<a>", NULL, "b", 2},
	    {3, "<x>", "<b> <a> <b>", NULL, "x", 3},
	};
	expect_thread(REFS, inner2, N(inner2), "(1 2 3)");
	/* three messages in a cycle */
	const struct spec tri[] = {
	    {1, "<a>", "<c>", NULL, "s1", 1},
	    {2, "<b>", "<a>", NULL, "s2", 2},
	    {3, "<c>", "<b>", NULL, "s3", 3},
	};
	expect_thread(REFS, tri, N(tri), "(3 1 2)");
}

static void test_refs_message_ids(void **state)
{
	(void)state;
	/* a duplicate Message-ID belongs to the first message only */
	const struct spec dup[] = {
	    {1, "<a>", NULL, NULL, "first", 1},
	    {2, "<a>", NULL, NULL, "copy", 2},
	    {3, "<c>", "<a>", NULL, "reply", 3},
	};
	expect_thread(REFS, dup, N(dup), "(1 3)(2)");
	/* missing or invalid Message-IDs: unique, unreferenced */
	const struct spec none[] = {
	    {1, NULL, NULL, NULL, "u1", 1},
	    {2, "no brackets", NULL, NULL, "u2", 2},
	    {3, "<>", "<missing>", NULL, "u3", 3},
	};
	expect_thread(REFS, none, N(none), "(1)(2)(3)");
	/* a message's own References move it even when an earlier
	 * message's References placed it elsewhere */
	const struct spec move[] = {
	    {1, "<a>", NULL, NULL, "one", 1},
	    {2, "<x>", "<a> <c>", NULL, "two", 3},
	    {3, "<c>", "<b>", NULL, "three", 2},
	};
	expect_thread(REFS, move, N(move), "(1)(3 2)");
	/* a message without references loses a parent guessed earlier */
	const struct spec orphan[] = {
	    {1, "<a>", NULL, NULL, "one", 1},
	    {2, "<x>", "<a> <c>", NULL, "two", 3},
	    {3, "<c>", NULL, NULL, "three", 2},
	};
	expect_thread(REFS, orphan, N(orphan), "(1)(3 2)");
}

static void test_refs_subjects(void **state)
{
	(void)state;
	/* a reply without references joins the thread of its subject */
	const struct spec reply[] = {
	    {1, "<a>", NULL, NULL, "Hello", 1},
	    {2, "<b>", NULL, NULL, "Re: Hello", 2},
	};
	expect_thread(REFS, reply, N(reply), "(1 2)");
	/* the original is preferred even when it comes later */
	const struct spec later[] = {
	    {1, "<a>", NULL, NULL, "Re: Hi", 1},
	    {2, "<b>", NULL, NULL, "hi", 2},
	};
	expect_thread(REFS, later, N(later), "(2 1)");
	/* two originals (or two replies): under a new dummy */
	const struct spec twins[] = {
	    {1, "<a>", NULL, NULL, "Hello", 1},
	    {2, "<b>", NULL, NULL, "[list] hello", 2},
	};
	expect_thread(REFS, twins, N(twins), "((1)(2))");
	const struct spec replies[] = {
	    {1, "<a>", NULL, NULL, "Re: x", 1},
	    {2, "<b>", NULL, NULL, "Fwd: x", 2},
	    {3, "<c>", NULL, NULL, "RE: X", 3},
	};
	expect_thread(REFS, replies, N(replies), "((1)(2)(3))");
	/* a dummy thread takes in a message of the same subject */
	const struct spec dummy[] = {
	    {2, "<b>", "<gone>", NULL, "S", 1},
	    {3, "<c>", "<gone>", NULL, "Re: S", 2},
	    {4, "<d>", NULL, NULL, "s", 3},
	};
	expect_thread(REFS, dummy, N(dummy), "((2)(3)(4))");
	/* two dummy threads of one subject become one */
	const struct spec dummies[] = {
	    {1, "<a>", "<g1>", NULL, "T", 1},
	    {2, "<b>", "<g1>", NULL, "T", 2},
	    {3, "<c>", "<g2>", NULL, "T", 3},
	    {4, "<d>", "<g2>", NULL, "T", 4},
	};
	expect_thread(REFS, dummies, N(dummies), "((1)(2)(3)(4))");
	/* empty subjects are never merged */
	const struct spec empty[] = {
	    {1, "<a>", NULL, NULL, "", 1},
	    {2, "<b>", NULL, NULL, "Re:", 2},
	};
	expect_thread(REFS, empty, N(empty), "(1)(2)");
	/* a reply's whole thread moves under the original */
	const struct spec sub[] = {
	    {1, "<a>", NULL, NULL, "topic", 1},
	    {2, "<b>", NULL, NULL, "Re: topic", 2},
	    {3, "<c>", "<b>", NULL, "Re: topic", 3},
	};
	expect_thread(REFS, sub, N(sub), "(1 2 3)");
}

static void test_ordered_subject(void **state)
{
	(void)state;
	const struct spec sp[] = {
	    {1, NULL, NULL, NULL, "A", 3},     {2, NULL, NULL, NULL, "B", 1},
	    {3, NULL, NULL, NULL, "Re: a", 2}, {4, NULL, NULL, NULL, "b", 4},
	    {5, NULL, NULL, NULL, "[x] B", 5}, {6, NULL, NULL, NULL, "C", 0},
	};
	/* threads by their first date; children flat, by date */
	expect_thread(ORDSUBJ, sp, N(sp), "(6)(2 (4)(5))(3 1)");
	/* references play no part */
	const struct spec refs[] = {
	    {1, "<a>", NULL, NULL, "x", 1},
	    {2, "<b>", "<a>", NULL, "y", 2},
	};
	expect_thread(ORDSUBJ, refs, N(refs), "(1)(2)");
	/* same date: mailbox order */
	const struct spec ties[] = {
	    {9, NULL, NULL, NULL, "s", 5},
	    {8, NULL, NULL, NULL, "s", 5},
	    {7, NULL, NULL, NULL, "s", 5},
	};
	expect_thread(ORDSUBJ, ties, N(ties), "(9 (8)(7))");
}

/* A 20,000-message chain (each a reply to the one before) and one
 * message with 20,000 children: no recursion may blow the stack. */
static void test_large(void **state)
{
	(void)state;
	enum { COUNT = 20000 };
	struct spec *sp = calloc(COUNT, sizeof(*sp));
	char(*ids)[24] = calloc(COUNT, 24);
	char(*refs)[24] = calloc(COUNT, 24);
	for (int i = 0; i < COUNT; i++) {
		snprintf(ids[i], 24, "<m%d@x>", i);
		snprintf(refs[i], 24, "<m%d@x>", i - 1);
		sp[i].id = (uint32_t)i + 1;
		sp[i].msgid = ids[i];
		sp[i].refs = i > 0 ? refs[i] : NULL;
		sp[i].subject = "chain";
		sp[i].date = i;
	}
	char *got = thread_of(REFS, sp, COUNT);
	size_t len = strlen(got);
	assert_true(len > 2);
	assert_memory_equal(got, "(1 2 3 ", 7);
	assert_string_equal(got + len - 7, " 20000)");
	free(got);
	for (int i = 1; i < COUNT; i++)
		sp[i].refs = ids[0];
	got = thread_of(REFS, sp, COUNT);
	assert_memory_equal(got, "(1 (2)(3)", 9);
	assert_string_equal(got + strlen(got) - 8, "(20000))");
	free(got);
	got = thread_of(ORDSUBJ, sp, COUNT);
	assert_memory_equal(got, "(1 (2)(3)", 9);
	free(got);
	free(refs);
	free(ids);
	free(sp);
}

/* Only the last IMAP_THREAD_MAX_REFERENCES ids of References count. */
static void test_refs_limit(void **state)
{
	(void)state;
	struct buf refs;
	buf_init(&refs, 0);
	for (int i = 0; i < IMAP_THREAD_MAX_REFERENCES; i++)
		buf_printf(&refs, "<r%d@x> ", i);
	struct spec sp[] = {
	    {1, "<r0@x>", NULL, NULL, "first", 1},
	    {2, "<last@x>", refs.data, NULL, "second", 2},
	};
	/* r0 is among the last 100: 1 is an ancestor (through dummies) */
	expect_thread(REFS, sp, N(sp), "(1 2)");
	/* one more id in front pushes r0 out */
	struct buf more;
	buf_init(&more, 0);
	buf_printf(&more, "<r0@x> <extra@x> %s", refs.data + strlen("<r0@x> "));
	sp[1].refs = more.data;
	expect_thread(REFS, sp, N(sp), "(1)(2)");
	buf_free(&more);
	buf_free(&refs);
}

/* An output buffer that fills up reports it. */
static void test_buffer_full(void **state)
{
	(void)state;
	const struct spec sp[] = {
	    {1, "<a>", NULL, NULL, "x", 1},
	    {2, "<b>", "<a>", NULL, "y", 2},
	    {3, "<c>", "<a>", NULL, "z", 3},
	};
	struct imap_thread_msg m[3];
	memset(m, 0, sizeof(m));
	for (int i = 0; i < 3; i++) {
		m[i].id = sp[i].id;
		m[i].message_id = sp[i].msgid;
		m[i].message_id_len = strlen(sp[i].msgid);
		m[i].references = sp[i].refs;
		m[i].references_len = sp[i].refs != NULL ? strlen(sp[i].refs) : 0;
		m[i].base_subject = sp[i].subject;
		m[i].base_subject_len = 1;
		m[i].date = sp[i].date;
	}
	struct buf out;
	buf_init(&out, 5);
	assert_int_equal(imap_thread(REFS, m, 3, &out), -1);
	buf_free(&out);
	buf_init(&out, 0);
	assert_int_equal(imap_thread(REFS, m, 3, &out), 0);
	assert_string_equal(out.data, "(1 (2)(3))");
	buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_base_subject_plain),
	    cmocka_unit_test(test_base_subject_leaders),
	    cmocka_unit_test(test_base_subject_blobs),
	    cmocka_unit_test(test_base_subject_trailers),
	    cmocka_unit_test(test_base_subject_fwd_wrapper),
	    cmocka_unit_test(test_casemap_cmp),
	    cmocka_unit_test(test_msgids),
	    cmocka_unit_test(test_refs_empty),
	    cmocka_unit_test(test_refs_chain_and_branches),
	    cmocka_unit_test(test_refs_sibling_dates),
	    cmocka_unit_test(test_refs_missing_parents),
	    cmocka_unit_test(test_refs_loops),
	    cmocka_unit_test(test_refs_message_ids),
	    cmocka_unit_test(test_refs_subjects),
	    cmocka_unit_test(test_ordered_subject),
	    cmocka_unit_test(test_refs_limit),
	    cmocka_unit_test(test_large),
	    cmocka_unit_test(test_buffer_full),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
