/* test_mime_parser.c - unit tests for the MIME tree parser (mime_parser.c):
 * byte offsets on Dovecot's message-parser edge cases (truncated MIME
 * headers, duplicate / garbage-suffixed / prefix boundaries, trailing
 * dashes), the RFC 2046 examples, Content-* fields, defaults (non-MIME,
 * digest, multipart without boundary), LF and CRLF line ends, limits (a
 * 10,000-level nesting with bounded stack and memory, part counts, header
 * size), and tree invariants on every prefix of the test messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "mime/mime_parser.h"

/* ---- helpers ---- */

static size_t count_lf(const char *p, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += p[i] == '\n';
	return n;
}

/* Structural invariants every tree must satisfy. */
static void check_tree(const struct mime_tree *t, const struct mime_limits *lim)
{
	assert_true(t->nparts >= 1);
	assert_ptr_equal(t->root, &t->parts[0]);
	const struct mime_part *root = t->root;
	assert_int_equal(root->hdr_start, 0);
	assert_int_equal(root->body_end, t->len);
	assert_null(root->parent);
	for (unsigned i = 0; i < t->nparts; i++) {
		const struct mime_part *p = &t->parts[i];
		assert_true(p->hdr_start <= p->hdr_end);
		assert_int_equal(p->hdr_end, p->body_start);
		assert_true(p->body_start <= p->body_end);
		assert_true(p->body_end <= t->len);
		assert_int_equal(p->body_lines,
				 count_lf(t->data + p->body_start, p->body_end - p->body_start));
		assert_non_null(p->type.p);
		assert_non_null(p->subtype.p);
		if (lim != NULL)
			assert_true(p->depth <= lim->max_depth);
		unsigned n = 0;
		size_t prev_end = p->body_start;
		for (const struct mime_part *c = p->children; c != NULL; c = c->next) {
			n++;
			assert_ptr_equal(c->parent, p);
			assert_int_equal(c->depth, p->depth + 1);
			assert_true(c->hdr_start >= prev_end);
			assert_true(c->body_end <= p->body_end);
			assert_true(c > p); /* pre-order */
			prev_end = c->body_end;
			if ((p->flags & MIME_PART_MULTIPART) != 0)
				assert_int_equal(c->number, n);
		}
		assert_int_equal(n, p->nchildren);
		if ((p->flags & MIME_PART_MESSAGE) != 0) {
			assert_int_equal(p->nchildren, 1);
			assert_int_equal(p->children->hdr_start, p->body_start);
			assert_int_equal(p->children->body_end, p->body_end);
		}
		if ((p->flags & MIME_PART_OVERFLOW) != 0)
			assert_int_equal(p->nchildren, 0);
	}
}

/* Parse from an exact-size heap copy (ASan catches over-reads). */
struct parsed {
	char *copy;
	struct mime_tree *t;
};

static struct parsed parse_n(const char *msg, size_t len, const struct mime_limits *lim)
{
	struct parsed p;
	p.copy = malloc(len == 0 ? 1 : len);
	assert_non_null(p.copy);
	memcpy(p.copy, msg, len);
	p.t = mime_parse(p.copy, len, lim);
	struct mime_limits def;
	mime_limits_default(&def);
	check_tree(p.t, lim != NULL ? lim : &def);
	return p;
}

static struct parsed parse_lim(const char *msg, const struct mime_limits *lim)
{
	return parse_n(msg, strlen(msg), lim);
}

static struct parsed parse(const char *msg)
{
	return parse_n(msg, strlen(msg), NULL);
}

static void done(struct parsed *p)
{
	mime_tree_free(&p->t);
	assert_null(p->t);
	free(p->copy);
}

/* Part i: header start and length, body length and lines, children. */
static void expect(const struct mime_tree *t, unsigned i, size_t pos, size_t hdr, size_t body,
		   size_t lines, unsigned nchildren)
{
	assert_true(i < t->nparts);
	const struct mime_part *p = &t->parts[i];
	if (p->hdr_start != pos || p->hdr_end - p->hdr_start != hdr ||
	    p->body_end - p->body_start != body || p->body_lines != lines ||
	    p->nchildren != nchildren)
		fail_msg("part %u: pos %zu hdr %zu body %zu lines %zu children %u; want %zu %zu "
			 "%zu %zu %u",
			 i, p->hdr_start, p->hdr_end - p->hdr_start, p->body_end - p->body_start,
			 p->body_lines, p->nchildren, pos, hdr, body, lines, nchildren);
}

static void expect_type(const struct mime_tree *t, unsigned i, const char *type,
			const char *subtype, unsigned flags_set)
{
	const struct mime_part *p = &t->parts[i];
	assert_true(mime_str_is(p->type, type));
	assert_true(mime_str_is(p->subtype, subtype));
	if ((p->flags & flags_set) != flags_set)
		fail_msg("part %u flags %#x lack %#x", i, p->flags, flags_set);
}

#define MP MIME_PART_MULTIPART
#define MSG MIME_PART_MESSAGE
#define TXT MIME_PART_TEXT
#define ISM MIME_PART_IS_MIME

/* ---- Dovecot's message-parser edge cases (LF line ends) ---- */

static void test_truncated_mime_headers(void **state)
{
	(void)state;
	struct parsed p = parse("Content-Type: multipart/mixed; boundary=\":foo\"\n\n"
				"--:foo\n--:foo\nContent-Type: text/plain\n"
				"--:foo\nContent-Type: text/plain\r\n"
				"--:foo\nContent-Type: text/html\n--:foo--\n");
	assert_int_equal(p.t->nparts, 5);
	expect(p.t, 0, 0, 48, 112, 8, 4);
	expect(p.t, 1, 55, 0, 0, 0, 0);
	expect(p.t, 2, 62, 24, 0, 0, 0);
	expect(p.t, 3, 94, 24, 0, 0, 0);
	expect(p.t, 4, 127, 23, 0, 0, 0);
	expect_type(p.t, 4, "text", "html", TXT | ISM | MIME_PART_NO_BLANK);
	done(&p);

	p = parse("Content-Type: multipart/mixed; boundary=\"ab\"\n\n"
		  "--ab\nContent-Type: multipart/mixed; boundary=\"a\"\n\n"
		  "--ab\nContent-Type: text/plain\n\n--a\n\n");
	assert_int_equal(p.t->nparts, 3);
	expect(p.t, 0, 0, 46, 86, 8, 2);
	/* The empty line before a delimiter belongs to the delimiter. */
	expect(p.t, 1, 51, 44, 0, 0, 0);
	expect_type(p.t, 1, "multipart", "mixed", MP | ISM);
	expect(p.t, 2, 101, 26, 5, 2, 0);
	done(&p);

	p = parse("Content-Type: multipart/mixed; boundary=\"ab\"\n");
	assert_int_equal(p.t->nparts, 1);
	expect(p.t, 0, 0, 45, 0, 0, 0);
	expect_type(p.t, 0, "multipart", "mixed", MP | ISM | MIME_PART_NO_BLANK);
	done(&p);

	p = parse("Content-Type: multipart/mixed; boundary=\"ab\"\n\nbody\n");
	expect(p.t, 0, 0, 46, 5, 1, 0);
	done(&p);
}

static void test_boundary_matching(void **state)
{
	(void)state;
	/* Duplicate boundary: the innermost wins. */
	struct parsed p = parse("Content-Type: multipart/mixed; boundary=\"a\"\n\n"
				"--a\nContent-Type: multipart/mixed; boundary=\"a\"\n\n"
				"--a\nContent-Type: text/plain\n\nbody\n");
	expect(p.t, 0, 0, 45, 84, 7, 1);
	expect(p.t, 1, 49, 45, 35, 4, 1);
	expect(p.t, 2, 98, 26, 5, 1, 0);
	done(&p);

	/* Garbage after a boundary still matches (prefix). */
	p = parse("Content-Type: multipart/mixed; boundary=\"a\"\n\n"
		  "--ab\nContent-Type: multipart/mixed; boundary=\"a\"\n\n"
		  "--ac\nContent-Type: text/plain\n\nbody\n");
	expect(p.t, 0, 0, 45, 86, 7, 1);
	expect(p.t, 1, 50, 45, 36, 4, 1);
	expect(p.t, 2, 100, 26, 5, 1, 0);
	done(&p);

	/* Inner boundary extends the outer one. */
	p = parse("Content-Type: multipart/mixed; boundary=\"a\"\n\n"
		  "--a\nContent-Type: multipart/mixed; boundary=\"ab\"\n\n"
		  "--ab\nContent-Type: text/plain\n\nbody\n");
	expect(p.t, 0, 0, 45, 86, 7, 1);
	expect(p.t, 1, 49, 46, 36, 4, 1);
	expect(p.t, 2, 100, 26, 5, 1, 0);
	done(&p);

	/* Outer boundary extends the inner one: the longest match wins. */
	p = parse("Content-Type: multipart/mixed; boundary=\"ab\"\n\n"
		  "--ab\nContent-Type: multipart/mixed; boundary=\"a\"\n\n"
		  "--a\nContent-Type: text/plain\n\nbody\n"
		  "--ab\nContent-Type: text/html\n\nbody2\n");
	expect(p.t, 0, 0, 46, 121, 11, 2);
	expect(p.t, 1, 51, 45, 34, 3, 1);
	expect(p.t, 2, 100, 26, 4, 0, 0);
	expect(p.t, 3, 136, 25, 6, 1, 0);
	done(&p);

	/* Boundaries ending in dashes. */
	p = parse("Content-Type: multipart/mixed; boundary=\"a--\"\n\n"
		  "--a--\nContent-Type: multipart/mixed; boundary=\"a----\"\n\n"
		  "--a----\nContent-Type: text/plain\n\nbody\n"
		  "--a------\nContent-Type: text/html\n\nbody2\n--a----");
	assert_int_equal(p.t->nparts, 3);
	expect(p.t, 0, 0, 47, 142, 11, 1);
	expect(p.t, 1, 53, 49, 79, 7, 1);
	done(&p);

	/* Truncated header that would have started a boundary. */
	p = parse("Content-Type: multipart/mixed; boundary=\"a\"\n\n"
		  "--a\nContent-Type: multipart/mixed; boundary=\"ab\"\nMIME-Version: 1.0\n"
		  "--ab\nContent-Type: text/plain\n\n--ab--\n--a--\n\n");
	assert_int_equal(p.t->nparts, 4);
	expect(p.t, 0, 0, 45, 112, 9, 3);
	expect(p.t, 1, 49, 62, 0, 0, 0);
	expect(p.t, 2, 117, 25, 0, 0, 0);
	expect(p.t, 3, 150, 0, 0, 0, 0);
	done(&p);

	/* Transport padding after the boundary and close delimiter. */
	p = parse("Content-Type: multipart/mixed; boundary=b\n\n--b \t\n\nx\n--b-- \nepilogue\n");
	expect(p.t, 0, 0, 43, 25, 5, 1);
	expect(p.t, 1, 49, 1, 1, 0, 0);
	done(&p);
}

static void test_no_eoh(void **state)
{
	(void)state;
	struct parsed p = parse("a:b\n");
	expect(p.t, 0, 0, 4, 0, 0, 0);
	assert_true((p.t->root->flags & MIME_PART_NO_BLANK) != 0);
	done(&p);
	p = parse("");
	expect(p.t, 0, 0, 0, 0, 0, 0);
	expect_type(p.t, 0, "text", "plain", TXT);
	done(&p);
	p = parse("\r\n");
	expect(p.t, 0, 0, 2, 0, 0, 0);
	done(&p);
	p = parse("\nbody");
	expect(p.t, 0, 0, 1, 4, 0, 0);
	done(&p);
}

/* ---- RFC 2046 ---- */

static const char rfc2046_simple[] =
    "From: Nathaniel Borenstein <nsb@bellcore.com>\r\n"
    "To: Ned Freed <ned@innosoft.com>\r\n"
    "Date: Sun, 21 Mar 1993 23:56:48 -0800 (PST)\r\n"
    "Subject: Sample message\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-type: multipart/mixed; boundary=\"simple boundary\"\r\n"
    "\r\n"
    "This is the preamble.  It is to be ignored, though it\r\n"
    "is a handy place for composition agents to include an\r\n"
    "explanatory note to non-MIME conformant readers.\r\n"
    "\r\n"
    "--simple boundary\r\n"
    "\r\n"
    "This is implicitly typed plain US-ASCII text.\r\n"
    "It does NOT end with a linebreak.\r\n"
    "--simple boundary\r\n"
    "Content-type: text/plain; charset=us-ascii\r\n"
    "\r\n"
    "This is explicitly typed plain US-ASCII text.\r\n"
    "It DOES end with a linebreak.\r\n"
    "\r\n"
    "--simple boundary--\r\n"
    "\r\n"
    "This is the epilogue.  It is also to be ignored.\r\n";

static void test_rfc2046_5_1_1(void **state)
{
	(void)state;
	struct parsed p = parse(rfc2046_simple);
	const struct mime_tree *t = p.t;
	assert_int_equal(t->nparts, 3);
	expect_type(t, 0, "multipart", "mixed", MP | ISM);
	assert_true(mime_str_is(t->root->boundary, "simple boundary"));
	const struct mime_part *a = &t->parts[1], *b = &t->parts[2];
	expect_type(t, 1, "text", "plain", TXT | ISM);
	assert_int_equal(a->hdr_end - a->hdr_start, 2);
	assert_int_equal(a->body_end - a->body_start, 80);
	assert_memory_equal(t->data + a->body_start, "This is implicitly", 18);
	assert_memory_equal(t->data + a->body_end - 10, "linebreak.", 10);
	assert_int_equal(a->body_lines, 1);
	assert_memory_equal(t->data + b->body_end - 12, "linebreak.\r\n", 12);
	assert_int_equal(b->body_lines, 2);
	assert_int_equal(b->nparams, 1);
	assert_true(mime_str_is(b->params[0].value, "us-ascii"));
	done(&p);
}

static void test_rfc2046_appendix_a(void **state)
{
	(void)state;
	struct parsed p = parse("MIME-Version: 1.0\r\n"
				"Content-Type: multipart/mixed;\r\n"
				"              boundary=unique-boundary-1\r\n"
				"\r\n"
				"preamble\r\n"
				"--unique-boundary-1\r\n"
				"\r\n"
				"  ... Some text appears here ...\r\n"
				"--unique-boundary-1\r\n"
				"Content-Type: multipart/parallel; boundary=unique-boundary-2\r\n"
				"\r\n"
				"--unique-boundary-2\r\n"
				"Content-Type: audio/basic\r\n"
				"Content-Transfer-Encoding: base64\r\n"
				"\r\n"
				"AAAA\r\n"
				"--unique-boundary-2\r\n"
				"Content-Type: image/jpeg\r\n"
				"Content-Transfer-Encoding: base64\r\n"
				"\r\n"
				"BBBB\r\n"
				"--unique-boundary-2--\r\n"
				"\r\n"
				"--unique-boundary-1\r\n"
				"Content-Type: message/rfc822\r\n"
				"\r\n"
				"From: (mailbox in US-ASCII)\r\n"
				"Content-Type: Text/plain; charset=ISO-8859-1\r\n"
				"Content-Transfer-Encoding: Quoted-printable\r\n"
				"\r\n"
				"  ... Additional text in ISO-8859-1 goes here ...\r\n"
				"\r\n"
				"--unique-boundary-1--\r\n");
	const struct mime_tree *t = p.t;
	assert_int_equal(t->nparts, 7);
	expect_type(t, 0, "multipart", "mixed", MP);
	expect_type(t, 1, "text", "plain", TXT);
	expect_type(t, 2, "multipart", "parallel", MP);
	expect_type(t, 3, "audio", "basic", 0);
	assert_int_equal(t->parts[3].encoding, MIME_CTE_BASE64);
	assert_int_equal(t->parts[3].body_end - t->parts[3].body_start, 4);
	expect_type(t, 4, "image", "jpeg", 0);
	expect_type(t, 5, "message", "rfc822", MSG);
	expect_type(t, 6, "Text", "plain", TXT);
	assert_int_equal(t->parts[6].encoding, MIME_CTE_QP);
	assert_true(mime_str_is(t->parts[6].cte, "quoted-printable"));
	assert_int_equal(t->parts[6].depth, 2);
	assert_int_equal(t->parts[5].number, 3);
	assert_int_equal(t->parts[6].number, 0);
	/* The epilogue of the inner multipart: an empty line. */
	assert_int_equal(t->parts[2].body_end, t->parts[4].body_end + 2 + 21 + 2);
	done(&p);
}

/* ---- Content-* fields ---- */

static void test_content_fields(void **state)
{
	(void)state;
	struct parsed p =
	    parse("MIME-Version: 1.0\r\n"
		  "Content-Type: text/x-myown; charset=us-ascii; foo=\"quoted\\\"string\"\r\n"
		  "Content-ID: <foo@example.com>\r\n"
		  "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n"
		  "Content-Disposition: inline; foo=bar\r\n"
		  "Content-Description: hello\r\n description\r\n"
		  "Content-Language: en, fi,\r\n se\r\n"
		  "Content-Location: http://example.com/test.txt\r\n"
		  "Content-Transfer-Encoding: 8BIT (comment)\r\n"
		  "Content-Type: text/ignored\r\n"
		  "\r\nhello\r\n");
	const struct mime_part *r = p.t->root;
	expect_type(p.t, 0, "text", "x-myown", TXT | ISM);
	assert_int_equal(r->nparams, 2);
	assert_true(mime_str_is(r->params[1].name, "foo"));
	assert_true(mime_str_is(r->params[1].value, "quoted\"string"));
	assert_true(mime_str_is(r->id, "<foo@example.com>"));
	assert_true(mime_str_is(r->md5, "Q2hlY2sgSW50ZWdyaXR5IQ=="));
	assert_true(mime_str_is(r->disposition, "inline"));
	assert_int_equal(r->ndisp_params, 1);
	assert_true(mime_str_is(r->description, "hello description"));
	assert_int_equal(r->nlanguages, 3);
	assert_true(mime_str_is(r->languages[2], "se"));
	assert_true(mime_str_is(r->location, "http://example.com/test.txt"));
	assert_true(mime_str_is(r->cte, "8BIT"));
	assert_int_equal(r->encoding, MIME_CTE_8BIT);
	const struct mime_param *cs = mime_param_get(r->params, r->nparams, "CHARSET");
	assert_non_null(cs);
	assert_null(mime_param_get(r->params, r->nparams, "nope"));
	done(&p);

	/* CTE kinds. */
	const struct {
		const char *v;
		enum mime_cte e;
	} ctes[] = {
	    {"7bit", MIME_CTE_7BIT},
	    {"8bit", MIME_CTE_8BIT},
	    {"binary", MIME_CTE_BINARY},
	    {"BASE64", MIME_CTE_BASE64},
	    {" quoted-printable", MIME_CTE_QP},
	    {"x-uuencode", MIME_CTE_UNKNOWN},
	    {"base64;", MIME_CTE_BASE64},
	    {"?invalid", MIME_CTE_7BIT},
	    {"", MIME_CTE_7BIT},
	};
	for (size_t i = 0; i < sizeof(ctes) / sizeof(ctes[0]); i++) {
		char msg[256];
		snprintf(msg, sizeof(msg),
			 "Content-Type: text/plain\r\nContent-Transfer-Encoding:%s\r\n\r\nx",
			 ctes[i].v);
		p = parse(msg);
		assert_int_equal(p.t->root->encoding, ctes[i].e);
		done(&p);
	}
}

static void test_defaults(void **state)
{
	(void)state;
	/* Not MIME: no MIME-Version and no Content-Type, Content-* ignored. */
	struct parsed p = parse("Content-Transfer-Encoding: base64\r\nContent-ID: <x>\r\n\r\nx");
	assert_int_equal(p.t->root->encoding, MIME_CTE_7BIT);
	assert_null(p.t->root->id.p);
	assert_true((p.t->root->flags & ISM) == 0);
	done(&p);
	p = parse("MIME-Version: 1.0\r\nContent-Transfer-Encoding: base64\r\n\r\nx");
	assert_int_equal(p.t->root->encoding, MIME_CTE_BASE64);
	expect_type(p.t, 0, "text", "plain", TXT | ISM);
	done(&p);
	/* Invalid Content-Type: text/plain (RFC 2045 5.2). */
	const char *bad[] = {"text", "/plain", "text/",		  "text/ ;",
			     "",     "(c)",    "multipart/mixed", "multipart/mixed; boundary=\"\""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char msg[256];
		snprintf(msg, sizeof(msg), "Content-Type: %s\r\n\r\n--x\r\n", bad[i]);
		p = parse(msg);
		expect_type(p.t, 0, "text", "plain", TXT | ISM);
		assert_int_equal(p.t->root->nparams, 0);
		assert_int_equal(p.t->nparts, 1);
		done(&p);
	}
	/* Blanks and comments around the slash. */
	p = parse("Content-Type: (c) image / png (x) ; name=a.png\r\n\r\nx");
	expect_type(p.t, 0, "image", "png", ISM);
	assert_int_equal(p.t->root->nparams, 1);
	done(&p);
	/* multipart/digest: parts default to message/rfc822. */
	p = parse("Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\n"
		  "From: a@b\r\nSubject: one\r\n\r\nbody\r\n--d\r\nContent-Type: text/plain\r\n\r\n"
		  "two\r\n--d--\r\n");
	assert_int_equal(p.t->nparts, 4);
	expect_type(p.t, 0, "multipart", "digest", MP | MIME_PART_DIGEST);
	expect_type(p.t, 1, "message", "rfc822", MSG);
	expect_type(p.t, 2, "text", "plain", TXT);
	assert_int_equal(p.t->parts[2].depth, 2);
	expect_type(p.t, 3, "text", "plain", TXT);
	done(&p);
	/* message/global is a message too. */
	p = parse("Content-Type: message/global\r\n\r\nSubject: x\r\n\r\ny");
	assert_int_equal(p.t->nparts, 2);
	expect_type(p.t, 0, "message", "global", MSG);
	done(&p);
	/* First Content-Type wins. */
	p = parse("Content-Type: image/gif\r\nContent-Type: text/html\r\n\r\n");
	expect_type(p.t, 0, "image", "gif", ISM);
	done(&p);
}

static void test_lf_vs_crlf(void **state)
{
	(void)state;
	/* The same message with LF and CRLF line ends: same structure; each
	 * CRLF body is longer by its line count. */
	const char *lf = "Content-Type: multipart/mixed; boundary=\"foo\n bar\"\n\n"
			 "pre\n--foo bar\nContent-Type: text/plain\n\nhello\n\n"
			 "--foo bar\nContent-Type: message/rfc822\n\n"
			 "Subject: s\nContent-Type: multipart/alternative; boundary=s1\n\n"
			 "--s1\n\nx\n--s1\nContent-Type: text/html\n\n<p>y</p>\n--s1--\n"
			 "\n--foo bar--\nepilogue\n";
	size_t n = strlen(lf);
	char *crlf = malloc(2 * n);
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (lf[i] == '\n')
			crlf[m++] = '\r';
		crlf[m++] = lf[i];
	}
	struct parsed a = parse_n(lf, n, NULL), b = parse_n(crlf, m, NULL);
	assert_int_equal(a.t->nparts, 6);
	assert_int_equal(b.t->nparts, a.t->nparts);
	for (unsigned i = 0; i < a.t->nparts; i++) {
		const struct mime_part *x = &a.t->parts[i], *y = &b.t->parts[i];
		assert_int_equal(x->flags, y->flags);
		assert_int_equal(x->body_lines, y->body_lines);
		assert_int_equal(y->body_end - y->body_start,
				 x->body_end - x->body_start + x->body_lines);
		assert_true(mime_str_is(x->subtype, y->subtype.p));
	}
	assert_true(mime_str_is(a.t->root->boundary, "foo bar"));
	done(&a);
	done(&b);
	free(crlf);
}

/* ---- limits ---- */

static char *nested_messages(unsigned levels, size_t *len_r)
{
	struct buf b;
	buf_init(&b, 0);
	for (unsigned i = 0; i < levels; i++)
		buf_printf(&b, "Subject: level %u\r\nContent-Type: message/rfc822\r\n\r\n", i);
	buf_append_str(&b, "Subject: innermost\r\n\r\nhello\r\n");
	*len_r = b.len;
	return b.data;
}

/* Boundaries are never prefixes of one another (RFC 2046 5.1.1). */
static char *nested_multiparts(unsigned levels, size_t *len_r)
{
	struct buf b;
	buf_init(&b, 0);
	for (unsigned i = 0; i < levels; i++)
		buf_printf(&b,
			   "Content-Type: multipart/mixed; boundary=\"=_%u_=\"\r\n\r\n--=_%u_=\r\n",
			   i, i);
	buf_append_str(&b, "\r\ninnermost\r\n");
	for (unsigned i = levels; i-- > 0;)
		buf_printf(&b, "--=_%u_=--\r\n", i);
	*len_r = b.len;
	return b.data;
}

static void test_deep_nesting(void **state)
{
	(void)state;
	struct mime_limits lim;
	mime_limits_default(&lim);
	size_t len;
	char *msg = nested_messages(10000, &len);
	struct parsed p = parse_n(msg, len, &lim);
	assert_int_equal(p.t->nparts, lim.max_depth + 1);
	const struct mime_part *last = &p.t->parts[p.t->nparts - 1];
	assert_int_equal(last->depth, lim.max_depth);
	assert_true((last->flags & MIME_PART_OVERFLOW) != 0);
	assert_int_equal(last->body_end, len);
	assert_true(p.t->truncated);
	done(&p);
	free(msg);

	msg = nested_multiparts(10000, &len);
	p = parse_n(msg, len, &lim);
	assert_int_equal(p.t->nparts, lim.max_depth + 1);
	last = &p.t->parts[p.t->nparts - 1];
	assert_true((last->flags & MIME_PART_OVERFLOW) != 0);
	assert_true(mime_str_is(last->type, "multipart"));
	/* Its body runs to its own enclosing boundary. */
	assert_true(last->body_end < len);
	done(&p);
	free(msg);

	/* Within the limit everything is parsed. */
	msg = nested_multiparts(40, &len);
	p = parse_n(msg, len, &lim);
	assert_int_equal(p.t->nparts, 41);
	assert_false(p.t->truncated);
	assert_memory_equal(p.t->data + p.t->parts[40].body_start, "innermost", 9);
	assert_int_equal(p.t->parts[40].body_end - p.t->parts[40].body_start, 9);
	done(&p);
	free(msg);

	/* A small depth limit. */
	lim.max_depth = 1;
	p = parse_lim("Content-Type: multipart/mixed; boundary=\"1\"\n\n--1\n"
		      "Content-Type: multipart/mixed; boundary=\"2\"\n\n--2\n"
		      "Content-Type: text/plain\n\n1\n--2\nContent-Type: text/plain\n\n22\n"
		      "--1\nContent-Type: text/plain\n\n333\n",
		      &lim);
	assert_int_equal(p.t->nparts, 3);
	expect(p.t, 0, 0, 45, 148, 15, 2);
	expect(p.t, 1, 49, 45, 64, 7, 0);
	assert_true((p.t->parts[1].flags & MIME_PART_OVERFLOW) != 0);
	expect(p.t, 2, 163, 26, 4, 1, 0);
	done(&p);
}

static void test_part_limit(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 0);
	buf_append_str(&b, "Content-Type: multipart/mixed; boundary=x\r\n\r\n");
	for (int i = 0; i < 1000; i++)
		buf_printf(&b, "--x\r\nContent-Type: text/plain\r\n\r\npart %d\r\n", i);
	buf_append_str(&b, "--x--\r\n");
	struct mime_limits lim;
	mime_limits_default(&lim);
	struct parsed p = parse_n(b.data, b.len, &lim);
	assert_int_equal(p.t->nparts, 1001);
	assert_int_equal(p.t->root->nchildren, 1000);
	assert_false(p.t->truncated);
	assert_memory_equal(p.t->data + p.t->parts[1000].body_start, "part 999", 8);
	done(&p);

	lim.max_parts = 100;
	p = parse_n(b.data, b.len, &lim);
	assert_int_equal(p.t->nparts, 100);
	assert_int_equal(p.t->root->nchildren, 99);
	assert_true(p.t->truncated);
	/* The last part kept ends at its own delimiter. */
	const struct mime_part *last = &p.t->parts[99];
	assert_memory_equal(p.t->data + last->body_start, "part 98", 7);
	assert_int_equal(last->body_end - last->body_start, 7);
	done(&p);

	/* A message part at the limit becomes opaque. */
	lim.max_parts = 2;
	p = parse_lim("Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n"
		      "Content-Type: message/rfc822\r\n\r\nSubject: s\r\n\r\nbody\r\n--x--\r\n",
		      &lim);
	assert_int_equal(p.t->nparts, 2);
	assert_true((p.t->parts[1].flags & MIME_PART_OVERFLOW) != 0);
	done(&p);
	lim.max_parts = 0; /* treated as 1 */
	p = parse_lim("Content-Type: message/rfc822\r\n\r\nx", &lim);
	assert_int_equal(p.t->nparts, 1);
	done(&p);
	buf_free(&b);
}

static void test_header_limit(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 0);
	buf_append_str(&b, "X-Filler: ");
	for (int i = 0; i < 1000; i++)
		buf_append_str(&b, "0123456789");
	buf_append_str(&b, "\r\nContent-Type: image/png\r\n\r\nbody");
	struct mime_limits lim;
	mime_limits_default(&lim);
	lim.max_header_size = 1000;
	struct parsed p = parse_n(b.data, b.len, &lim);
	/* Content-Type lies beyond the interpreted bytes... */
	expect_type(p.t, 0, "text", "plain", TXT);
	/* ...but the header's extent is exact. */
	assert_memory_equal(p.t->data + p.t->root->body_start, "body", 4);
	done(&p);
	lim.max_header_size = 20000;
	p = parse_n(b.data, b.len, &lim);
	expect_type(p.t, 0, "image", "png", ISM);
	done(&p);
	buf_free(&b);
}

/* Every prefix of each message parses into a valid tree. */
static void test_prefixes(void **state)
{
	(void)state;
	const char *msgs[] = {
	    rfc2046_simple,
	    "Content-Type: multipart/mixed; boundary=\"a\"\r\n\r\n--a\r\n"
	    "Content-Type: message/rfc822\r\n\r\nContent-Type: multipart/alternative; "
	    "boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n--a--\r\n",
	    "Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: x\n\ny\n--d--\n",
	};
	for (size_t k = 0; k < sizeof(msgs) / sizeof(msgs[0]); k++) {
		size_t n = strlen(msgs[k]);
		for (size_t len = 0; len <= n; len++) {
			struct parsed p = parse_n(msgs[k], len, NULL);
			done(&p);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_truncated_mime_headers),
	    cmocka_unit_test(test_boundary_matching),
	    cmocka_unit_test(test_no_eoh),
	    cmocka_unit_test(test_rfc2046_5_1_1),
	    cmocka_unit_test(test_rfc2046_appendix_a),
	    cmocka_unit_test(test_content_fields),
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_lf_vs_crlf),
	    cmocka_unit_test(test_deep_nesting),
	    cmocka_unit_test(test_part_limit),
	    cmocka_unit_test(test_header_limit),
	    cmocka_unit_test(test_prefixes),
	};
	return cmocka_run_group_tests_name("mime_parser", tests, NULL, NULL);
}
