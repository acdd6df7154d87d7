/* test_dkim_canon.c - unit tests for DKIM canonicalisation (dkim_canon.c):
 * the RFC 6376 3.4.5 examples, the empty-body hashes of RFC 6376 errata
 * 1376/1377, header fields (case, folding, WSP around the colon), b=
 * removal, bottom-up header selection (5.4.2), body edge cases fed whole,
 * one byte at a time and split at every offset, l= limits, and body-hash
 * known answers: the RFC 8463 A.3 message and, when the conformance data is
 * present, the bh= of the real signed messages there (mail-auth, dkimpy,
 * Mail::DKIM corpus). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>

#include "auth/base64.h"
#include "core/buf.h"
#include "dkim/dkim_canon.h"
#include "dkim_fixture.h"

/* RFC 8463 Appendix A.3 / RFC 6376 Appendix A: the unsigned message. */
static const char rfc_msg[] =
	"From: Joe SixPack <joe@football.example.com>\r\n"
	"To: Suzie Q <suzie@shopping.example.net>\r\n"
	"Subject: Is dinner ready?\r\n"
	"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
	"Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
	"\r\n"
	"Hi.\r\n"
	"\r\n"
	"We lost the game.  Are you hungry yet?\r\n"
	"\r\n"
	"Joe.\r\n";

static char *copy_exact(const char *s, size_t len)
{
	char *p = malloc(len == 0 ? 1 : len);
	assert_non_null(p);
	memcpy(p, s, len);
	return p;
}

static void header_is(enum dkim_canon c, const char *field, const char *want)
{
	char *f = copy_exact(field, strlen(field));
	struct buf out;
	buf_init(&out, 0);
	assert_int_equal(dkim_canon_header(c, f, strlen(field), &out), 0);
	buf_append(&out, "", 0);
	assert_string_equal(out.data, want);
	buf_free(&out);
	free(f);
}

static void sig_header_is(const char *field, const char *want)
{
	char *f = copy_exact(field, strlen(field));
	struct buf out;
	buf_init(&out, 0);
	assert_int_equal(dkim_canon_sig_header(DKIM_CANON_RELAXED, f, strlen(field), &out), 0);
	buf_append(&out, "", 0);
	assert_string_equal(out.data, want);
	buf_free(&out);
	free(f);
}

struct collect {
	struct buf b;
	size_t calls;
};

static void collect_emit(void *ctx, const void *data, size_t len)
{
	struct collect *c = ctx;
	assert_true(len > 0);
	buf_append(&c->b, data, len);
	c->calls++;
}

/* Canonicalise `in` whole, one byte at a time, and split at every offset
 * (all from exact-size copies); every way must give `want`. */
static void body_is_n(enum dkim_canon c, const char *in, size_t inlen, const char *want,
		      size_t wantlen)
{
	char *p = copy_exact(in, inlen);
	struct buf whole;
	buf_init(&whole, 0);
	assert_int_equal(dkim_canon_body(c, p, inlen, &whole), 0);
	assert_int_equal(whole.len, wantlen);
	if (wantlen > 0)
		assert_memory_equal(whole.data, want, wantlen);
	buf_free(&whole);

	struct collect col;
	struct dkim_body_canon bc;
	buf_init(&col.b, 0);
	col.calls = 0;
	dkim_body_canon_init(&bc, c, UINT64_MAX, collect_emit, &col);
	for (size_t i = 0; i < inlen; i++)
		dkim_body_canon_update(&bc, p + i, 1);
	dkim_body_canon_final(&bc);
	assert_int_equal(col.b.len, wantlen);
	assert_true(bc.length == wantlen);
	if (wantlen > 0)
		assert_memory_equal(col.b.data, want, wantlen);
	buf_free(&col.b);

	for (size_t cut = 0; cut <= inlen; cut++) {
		buf_init(&col.b, 0);
		dkim_body_canon_init(&bc, c, UINT64_MAX, collect_emit, &col);
		char *a = copy_exact(p, cut), *b = copy_exact(p + cut, inlen - cut);
		dkim_body_canon_update(&bc, a, cut);
		dkim_body_canon_update(&bc, b, inlen - cut);
		dkim_body_canon_final(&bc);
		/* Updates after final are ignored. */
		dkim_body_canon_update(&bc, "x\r\n", 3);
		dkim_body_canon_final(&bc);
		free(a);
		free(b);
		assert_int_equal(col.b.len, wantlen);
		if (wantlen > 0)
			assert_memory_equal(col.b.data, want, wantlen);
		buf_free(&col.b);
	}
	free(p);
}

#define BODY_IS(c, in, want) body_is_n(c, in, sizeof(in) - 1, want, sizeof(want) - 1)

static void b64_sha(const char *alg, const void *data, size_t len, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	const EVP_MD *m = strcmp(alg, "sha1") == 0 ? EVP_sha1() : EVP_sha256();
	assert_int_equal(EVP_Digest(data, len, md, &n, m, NULL), 1);
	base64_encode(md, n, out);
}

static void body_hash_is(enum dkim_canon c, const char *alg, const char *body, size_t len,
			 uint64_t limit, const char *want)
{
	struct buf out;
	buf_init(&out, 0);
	assert_int_equal(dkim_canon_body(c, body, len, &out), 0);
	size_t n = limit < out.len ? (size_t)limit : out.len;
	char b64[128];
	b64_sha(alg, out.data, n, b64);
	assert_string_equal(b64, want);
	buf_free(&out);
}

/* ----- RFC examples ----- */

static void test_rfc6376_example(void **state)
{
	(void)state;
	/* RFC 6376 3.4.5: the header and body of the example, field by field. */
	header_is(DKIM_CANON_RELAXED, "A: X\r\n", "a:X");
	header_is(DKIM_CANON_RELAXED, "B : Y\t\r\n\tZ  \r\n", "b:Y Z");
	header_is(DKIM_CANON_SIMPLE, "A: X\r\n", "A: X");
	header_is(DKIM_CANON_SIMPLE, "B : Y\t\r\n\tZ  \r\n", "B : Y\t\r\n\tZ  ");
	BODY_IS(DKIM_CANON_RELAXED, " C \r\nD \t E\r\n\r\n\r\n", " C\r\nD E\r\n");
	BODY_IS(DKIM_CANON_SIMPLE, " C \r\nD \t E\r\n\r\n\r\n", " C \r\nD \t E\r\n");

	/* The same through the header index and an h= list. */
	static const char msg[] = "A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n C \r\nD \t E\r\n\r\n\r\n";
	struct dkim_headers h;
	assert_int_equal(dkim_headers_parse(&h, msg, sizeof(msg) - 1, 0), 0);
	struct buf out;
	buf_init(&out, 0);
	assert_int_equal(dkim_canon_signed_headers(&h, DKIM_CANON_RELAXED, "a:b", 3, &out), 0);
	assert_string_equal(out.data, "a:X\r\nb:Y Z\r\n");
	buf_reset(&out);
	assert_int_equal(dkim_canon_signed_headers(&h, DKIM_CANON_SIMPLE, "A : B", 5, &out), 0);
	assert_string_equal(out.data, "A: X\r\nB : Y\t\r\n\tZ  \r\n");
	assert_int_equal(h.body_start, 22);
	buf_free(&out);
	dkim_headers_free(&h);
}

static void test_empty_body(void **state)
{
	(void)state;
	/* RFC 6376 errata 1376/1377: empty body hashes. */
	body_hash_is(DKIM_CANON_SIMPLE, "sha256", "", 0, UINT64_MAX,
		     "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=");
	body_hash_is(DKIM_CANON_RELAXED, "sha256", "", 0, UINT64_MAX,
		     "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
	body_hash_is(DKIM_CANON_SIMPLE, "sha1", "", 0, UINT64_MAX, "uoq1oCgLlTqpdDX/iUbLy7J1Wic=");
	body_hash_is(DKIM_CANON_RELAXED, "sha1", "", 0, UINT64_MAX, "2jmj7l5rSw0yVb/vlWAYkK/YBwk=");
	/* Only empty lines is an empty body; in relaxed, WSP-only lines too. */
	BODY_IS(DKIM_CANON_SIMPLE, "\r\n\r\n\r\n", "\r\n");
	BODY_IS(DKIM_CANON_RELAXED, "\r\n\r\n\r\n", "");
	BODY_IS(DKIM_CANON_RELAXED, " \r\n\t\r\n  ", "");
	BODY_IS(DKIM_CANON_SIMPLE, " \r\n\t\r\n", " \r\n\t\r\n");
}

static void test_rfc8463_body_hash(void **state)
{
	(void)state;
	const char *body = strstr(rfc_msg, "\r\n\r\n") + 4;
	size_t len = strlen(body);
	/* bh= of the RFC 8463 A.3 signatures (relaxed) and of dkimpy's
	 * simple/simple signatures of the same message. */
	body_hash_is(DKIM_CANON_RELAXED, "sha256", body, len, UINT64_MAX,
		     "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=");
	body_hash_is(DKIM_CANON_SIMPLE, "sha256", body, len, UINT64_MAX,
		     "4bLNXImK9drULnmePzZNEBleUanJCX5PIsDIFoH4KTQ=");

	/* Its header fields, relaxed. */
	struct dkim_headers h;
	assert_int_equal(dkim_headers_parse(&h, rfc_msg, sizeof(rfc_msg) - 1, 0), 0);
	assert_int_equal(h.n, 5);
	struct buf out;
	buf_init(&out, 0);
	static const char hl[] = "from : to :\r\n subject : date : message-id : from : subject : date";
	assert_int_equal(dkim_canon_signed_headers(&h, DKIM_CANON_RELAXED, hl, sizeof(hl) - 1, &out),
			 0);
	assert_string_equal(out.data, "from:Joe SixPack <joe@football.example.com>\r\n"
				      "to:Suzie Q <suzie@shopping.example.net>\r\n"
				      "subject:Is dinner ready?\r\n"
				      "date:Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
				      "message-id:<20030712040037.46341.5F8J@football.example.com>\r\n");
	buf_free(&out);
	dkim_headers_free(&h);
}

/* ----- header fields ----- */

static void test_header_relaxed(void **state)
{
	(void)state;
	header_is(DKIM_CANON_RELAXED, "SUBJect: AbC", "subject:AbC");
	header_is(DKIM_CANON_RELAXED, "Subject \t:\t  a  b\t\tc \t", "subject:a b c");
	header_is(DKIM_CANON_RELAXED, "To:\r\n  a@b,\r\n\tc@d\r\n", "to:a@b, c@d");
	header_is(DKIM_CANON_RELAXED, "X-Empty:\r\n", "x-empty:");
	header_is(DKIM_CANON_RELAXED, "X-Blank:   \t \r\n", "x-blank:");
	header_is(DKIM_CANON_RELAXED, "X-Fold:a\r\n b\r\n", "x-fold:a b");
	/* Folding without WSP on either side joins the words (CRLF only goes). */
	header_is(DKIM_CANON_RELAXED, "X: a\r\n\tb", "x:a b");
	/* LF-only line ends, and a bare CR that is data. */
	header_is(DKIM_CANON_RELAXED, "X: a\n b\n", "x:a b");
	header_is(DKIM_CANON_RELAXED, "X: a\rb", "x:a\rb");
	/* Values keep their case and non-ASCII bytes. */
	header_is(DKIM_CANON_RELAXED, "Subject: \xc3\x9c Ber", "subject:\xc3\x9c Ber");
	/* A colon in the value is not the separator. */
	header_is(DKIM_CANON_RELAXED, "X-A : b : c", "x-a:b : c");
	/* No colon at all: whitespace rules only. */
	header_is(DKIM_CANON_RELAXED, "junk  line ", "junk line");
	header_is(DKIM_CANON_SIMPLE, "SUBJect: AbC\r\n", "SUBJect: AbC");
	header_is(DKIM_CANON_SIMPLE, "X: a\n", "X: a");
	header_is(DKIM_CANON_SIMPLE, "", "");
	header_is(DKIM_CANON_RELAXED, "", "");
}

static void test_sig_header(void **state)
{
	(void)state;
	sig_header_is("DKIM-Signature: v=1; a=rsa-sha256; bh=abc=; b=dGVz\r\n dA==",
		      "dkim-signature:v=1; a=rsa-sha256; bh=abc=; b=");
	sig_header_is("DKIM-Signature: b = dGVz\r\n\tdA== ; bh=xyz; d=example.org\r\n",
		      "dkim-signature:b =; bh=xyz; d=example.org");
	/* Only the tag named exactly b; bh= and a tag value containing b= stay. */
	sig_header_is("DKIM-Signature: bh=b=; z=b=x; b=Zm9v; s=sel",
		      "dkim-signature:bh=b=; z=b=x; b=; s=sel");
	/* Empty b= and no b= at all. */
	sig_header_is("DKIM-Signature: a=x; b=", "dkim-signature:a=x; b=");
	sig_header_is("DKIM-Signature: a=x", "dkim-signature:a=x");
	/* Tags are case-sensitive: B= is not b=. */
	sig_header_is("DKIM-Signature: B=1; b=2", "dkim-signature:B=1; b=");
	/* The simple form keeps everything else byte for byte. */
	struct buf out;
	buf_init(&out, 0);
	static const char f[] = "DKIM-Signature: a=x;\r\n b=Zm9v\r\n YmFy;\r\n c=d\r\n";
	assert_int_equal(dkim_canon_sig_header(DKIM_CANON_SIMPLE, f, sizeof(f) - 1, &out), 0);
	assert_string_equal(out.data, "DKIM-Signature: a=x;\r\n b=;\r\n c=d");
	buf_free(&out);
}

static void test_canon_parse(void **state)
{
	(void)state;
	enum dkim_canon h, b;
	assert_int_equal(dkim_canon_parse("relaxed/relaxed", 15, &h, &b), 0);
	assert_int_equal(h, DKIM_CANON_RELAXED);
	assert_int_equal(b, DKIM_CANON_RELAXED);
	assert_int_equal(dkim_canon_parse("relaxed", 7, &h, &b), 0);
	assert_int_equal(h, DKIM_CANON_RELAXED);
	assert_int_equal(b, DKIM_CANON_SIMPLE);
	assert_int_equal(dkim_canon_parse("simple/relaxed", 14, &h, &b), 0);
	assert_int_equal(h, DKIM_CANON_SIMPLE);
	assert_int_equal(b, DKIM_CANON_RELAXED);
	assert_int_equal(dkim_canon_parse("simple", 6, &h, &b), 0);
	assert_int_equal(dkim_canon_parse("relaxed/", 8, &h, &b), -1);
	assert_int_equal(dkim_canon_parse("future", 6, &h, &b), -1);
	assert_int_equal(dkim_canon_parse("", 0, &h, &b), -1);
	assert_int_equal(dkim_canon_parse("simple/simple/simple", 20, &h, &b), -1);
	assert_string_equal(dkim_canon_name(DKIM_CANON_RELAXED), "relaxed");
	assert_string_equal(dkim_canon_name(DKIM_CANON_SIMPLE), "simple");
}

/* ----- header section ----- */

static void test_header_pick(void **state)
{
	(void)state;
	static const char msg[] = "Received: r1\r\n"
				  "From: first\r\n"
				  "To: t\r\n"
				  "from : second\r\n"
				  "no colon line\r\n"
				  "FROM: third\r\n"
				  " \r\n"
				  "\r\n"
				  "From: in the body\r\n";
	char *m = copy_exact(msg, sizeof(msg) - 1);
	struct dkim_headers h;
	assert_int_equal(dkim_headers_parse(&h, m, sizeof(msg) - 1, 0), 0);
	assert_int_equal(h.n, 5);
	assert_int_equal(dkim_headers_count(&h, "from", 4), 3);
	assert_int_equal(dkim_headers_count(&h, "FROM", 4), 3);
	assert_int_equal(dkim_headers_count(&h, "cc", 2), 0);
	/* Bottom-up: third, second, first, then none. */
	assert_int_equal(dkim_headers_pick(&h, "From", 4), 4);
	assert_int_equal(dkim_headers_pick(&h, "from", 4), 3);
	assert_int_equal(dkim_headers_pick(&h, "from", 4), 1);
	assert_int_equal(dkim_headers_pick(&h, "from", 4), -1);
	assert_int_equal(dkim_headers_pick(&h, "to", 2), 2);
	dkim_headers_reset(&h);
	assert_int_equal(dkim_headers_pick(&h, "from", 4), 4);
	/* The field with the folded blank line keeps its continuation. */
	assert_int_equal(h.v[4].raw_len, strlen("FROM: third\r\n "));

	struct buf out;
	buf_init(&out, 0);
	static const char hl[] = "from:from:to:from:from:cc";
	assert_int_equal(dkim_canon_signed_headers(&h, DKIM_CANON_RELAXED, hl, sizeof(hl) - 1, &out),
			 0);
	assert_string_equal(out.data, "from:third\r\nfrom:second\r\nto:t\r\nfrom:first\r\n");
	/* Empty names are errors. */
	assert_int_equal(dkim_canon_signed_headers(&h, DKIM_CANON_RELAXED, "from::to", 8, &out), -1);
	assert_int_equal(dkim_canon_signed_headers(&h, DKIM_CANON_RELAXED, "", 0, &out), -1);
	buf_free(&out);
	dkim_headers_free(&h);

	/* Field limit. */
	assert_int_equal(dkim_headers_parse(&h, m, sizeof(msg) - 1, 4), -1);
	dkim_headers_free(&h);
	assert_int_equal(dkim_headers_parse(&h, m, sizeof(msg) - 1, 5), 0);
	dkim_headers_free(&h);

	/* No body, no header. */
	assert_int_equal(dkim_headers_parse(&h, m, 14, 0), 0);
	assert_int_equal(h.n, 1);
	assert_int_equal(h.body_start, 14);
	dkim_headers_free(&h);
	assert_int_equal(dkim_headers_parse(&h, "\r\nbody", 6, 0), 0);
	assert_int_equal(h.n, 0);
	assert_int_equal(h.body_start, 2);
	dkim_headers_free(&h);
	free(m);
}

/* ----- bodies ----- */

static void test_body_cases(void **state)
{
	(void)state;
	/* Trailing empty lines go, inner ones stay. */
	BODY_IS(DKIM_CANON_SIMPLE, "a\r\n\r\nb\r\n\r\n\r\n", "a\r\n\r\nb\r\n");
	BODY_IS(DKIM_CANON_RELAXED, "a\r\n\r\nb\r\n\r\n\r\n", "a\r\n\r\nb\r\n");
	/* No final CRLF: one is added. */
	BODY_IS(DKIM_CANON_SIMPLE, "abc", "abc\r\n");
	BODY_IS(DKIM_CANON_RELAXED, "abc", "abc\r\n");
	/* ... and WSP before the added CRLF is WSP at the end of a line. */
	BODY_IS(DKIM_CANON_RELAXED, "abc \t", "abc\r\n");
	BODY_IS(DKIM_CANON_SIMPLE, "abc \t", "abc \t\r\n");
	/* Relaxed WSP: runs become one SP, leading WSP kept as one SP. */
	BODY_IS(DKIM_CANON_RELAXED, "\t\ta  \t b \r\n  c\r\n", " a b\r\n c\r\n");
	BODY_IS(DKIM_CANON_SIMPLE, "\t\ta  \t b \r\n  c\r\n", "\t\ta  \t b \r\n  c\r\n");
	/* WSP-only lines inside the body become empty lines (relaxed). */
	BODY_IS(DKIM_CANON_RELAXED, "a\r\n \t \r\nb\r\n", "a\r\n\r\nb\r\n");
	/* WSP-only lines at the end go (relaxed) or stay (simple). */
	BODY_IS(DKIM_CANON_RELAXED, "a\r\n  \r\n\r\n \r\n", "a\r\n");
	BODY_IS(DKIM_CANON_SIMPLE, "a\r\n  \r\n\r\n \r\n", "a\r\n  \r\n\r\n \r\n");
	/* Bare LF is a line end (native form); bare CR is data. */
	BODY_IS(DKIM_CANON_SIMPLE, "a\nb\n\n\n", "a\r\nb\r\n");
	BODY_IS(DKIM_CANON_RELAXED, "a \nb\n", "a\r\nb\r\n");
	BODY_IS(DKIM_CANON_SIMPLE, "a\rb\r\n", "a\rb\r\n");
	BODY_IS(DKIM_CANON_RELAXED, "a \rb\r\n", "a \rb\r\n");
	BODY_IS(DKIM_CANON_SIMPLE, "a\r", "a\r\r\n");
	BODY_IS(DKIM_CANON_SIMPLE, "\r", "\r\r\n");
	BODY_IS(DKIM_CANON_RELAXED, "a\r\r\n", "a\r\r\n");
	BODY_IS(DKIM_CANON_SIMPLE, "\r\r\r\n\r\n", "\r\r\r\n");
	/* NUL and 8-bit bytes are data. */
	body_is_n(DKIM_CANON_RELAXED, "a\0b \xff\r\n", 7, "a\0b \xff\r\n", 7);
	/* A dot line is content. */
	BODY_IS(DKIM_CANON_RELAXED, ".\r\n", ".\r\n");
}

static void test_body_limit(void **state)
{
	(void)state;
	static const char in[] = "ab  cd\r\n\r\nef\r\n";
	const char *want = "ab cd\r\n\r\nef\r\n";
	for (uint64_t limit = 0; limit <= 16; limit++) {
		struct collect col;
		struct dkim_body_canon bc;
		buf_init(&col.b, 0);
		col.calls = 0;
		dkim_body_canon_init(&bc, DKIM_CANON_RELAXED, limit, collect_emit, &col);
		for (size_t i = 0; i < sizeof(in) - 1; i++)
			dkim_body_canon_update(&bc, in + i, 1);
		dkim_body_canon_final(&bc);
		size_t n = limit < 13 ? (size_t)limit : 13;
		assert_int_equal(col.b.len, n);
		if (n > 0)
			assert_memory_equal(col.b.data, want, n);
		assert_true(bc.length == 13);
		assert_true(bc.emitted == n);
		buf_free(&col.b);
	}
}

static void test_body_large(void **state)
{
	(void)state;
	/* Larger than the staging area, with held-back empty lines across
	 * flushes, fed in odd-sized chunks. */
	struct buf in, want;
	buf_init(&in, 0);
	buf_init(&want, 0);
	for (int i = 0; i < 3000; i++) {
		buf_printf(&in, "line %d \t with  spaces  \r\n", i);
		buf_printf(&want, "line %d with spaces\r\n", i);
		if (i % 7 == 0) {
			buf_append_str(&in, "\r\n \r\n\r\n");
			buf_append_str(&want, "\r\n\r\n\r\n");
		}
	}
	buf_append_str(&in, "\r\n\r\n  \r\n");
	/* The last line was not i % 7 == 0 (2999 % 7 == 3), so nothing is held. */
	struct collect col;
	struct dkim_body_canon bc;
	buf_init(&col.b, 0);
	col.calls = 0;
	dkim_body_canon_init(&bc, DKIM_CANON_RELAXED, UINT64_MAX, collect_emit, &col);
	for (size_t pos = 0, step = 1; pos < in.len; pos += step, step = step % 97 + 1) {
		size_t n = pos + step <= in.len ? step : in.len - pos;
		dkim_body_canon_update(&bc, in.data + pos, n);
	}
	dkim_body_canon_final(&bc);
	assert_int_equal(col.b.len, want.len);
	assert_memory_equal(col.b.data, want.data, want.len);
	assert_true(col.calls > 1);
	buf_free(&col.b);
	buf_free(&in);
	buf_free(&want);
}

static void test_out_full(void **state)
{
	(void)state;
	struct buf out;
	buf_init(&out, 4);
	assert_int_equal(dkim_canon_header(DKIM_CANON_RELAXED, "Subject: hello", 14, &out), -1);
	buf_free(&out);
	buf_init(&out, 4);
	assert_int_equal(dkim_canon_body(DKIM_CANON_SIMPLE, "hello\r\n", 7, &out), -1);
	buf_free(&out);
}

/* ----- conformance data: bh= known answers ----- */

/* Check the bh= of every DKIM-Signature in msg whose a= and c= we know.
 * Returns the number that matched; *checked_r counts those computed. */
static size_t check_body_hashes(const char *name, const char *msg, size_t len,
				size_t *checked_r)
{
	struct dkim_headers h;
	assert_int_equal(dkim_headers_parse(&h, msg, len, 0), 0);
	size_t matched = 0;
	*checked_r = 0;
	struct buf tag;
	buf_init(&tag, 0);
	for (size_t i = 0; i < h.n; i++) {
		const struct dkim_hfield *f = &h.v[i];
		if (f->name_len != 14 || strncasecmp(f->name, "DKIM-Signature", 14) != 0)
			continue;
		const char *list = msg + f->start + 15;
		size_t llen = f->raw_len - 15;
		enum dkim_canon hc, bcanon = DKIM_CANON_SIMPLE;
		if (tag_value(list, llen, "c", &tag) &&
		    dkim_canon_parse(tag.data, tag.len, &hc, &bcanon) < 0)
			continue;
		if (!tag_value(list, llen, "a", &tag))
			continue;
		const char *alg = strcmp(tag.data, "rsa-sha1") == 0 ? "sha1"
				  : strcmp(tag.data, "rsa-sha256") == 0 ||
						  strcmp(tag.data, "ed25519-sha256") == 0
					  ? "sha256"
					  : NULL;
		if (alg == NULL)
			continue;
		uint64_t limit = UINT64_MAX;
		if (tag_value(list, llen, "l", &tag))
			limit = strtoull(tag.data, NULL, 10);
		if (!tag_value(list, llen, "bh", &tag))
			continue;
		char want[128];
		snprintf(want, sizeof(want), "%s", tag.data);
		struct buf body;
		buf_init(&body, 0);
		assert_int_equal(
			dkim_canon_body(bcanon, msg + h.body_start, len - h.body_start, &body), 0);
		size_t n = limit < body.len ? (size_t)limit : body.len;
		char got[128];
		b64_sha(alg, body.data, n, got);
		buf_free(&body);
		(*checked_r)++;
		if (strcmp(got, want) == 0)
			matched++;
		else if (getenv("DKIM_TEST_VERBOSE") != NULL)
			fprintf(stderr, "%s: signature %zu: bh %s, computed %s\n", name, *checked_r,
				want, got);
	}
	buf_free(&tag);
	dkim_headers_free(&h);
	return matched;
}

static void test_conformance_body_hashes(void **state)
{
	(void)state;
	const char *dir = dkim_conformance_dir();
	if (dir == NULL)
		skip();
	char path[4096];
	/* mail-auth: RFC 8463 A.3, a simple/simple one, four real messages. */
	for (int i = 1; i <= 6; i++) {
		struct fake_dns dns = {.n = 0};
		struct buf msg;
		buf_init(&msg, 0);
		snprintf(path, sizeof(path), "%s/mail-auth/%03d.txt", dir, i);
		assert_int_equal(load_mail_auth(path, &dns, &msg), 0);
		size_t checked;
		size_t matched = check_body_hashes(path, msg.data, msg.len, &checked);
		assert_true(checked >= 1);
		if (matched != checked)
			fail_msg("%s: %zu of %zu body hashes match", path, matched, checked);
		fake_dns_free(&dns);
		buf_free(&msg);
	}
	/* dkimpy data: LF files converted to CRLF. */
	static const char *const dkimpy[] = {"rfc6376.signed.msg", "rfc6376.signed.rsa.msg",
					     "test2.message", "ed25519test2.msg"};
	for (size_t i = 0; i < sizeof(dkimpy) / sizeof(dkimpy[0]); i++) {
		snprintf(path, sizeof(path), "%s/dkimpy-1.1.4/%s", dir, dkimpy[i]);
		size_t len = 0;
		char *raw = read_whole(path, &len);
		assert_non_null(raw);
		struct buf msg;
		buf_init(&msg, 0);
		to_crlf(raw, len, &msg);
		size_t checked;
		size_t matched = check_body_hashes(path, msg.data, msg.len, &checked);
		assert_true(checked >= 1);
		if (matched != checked)
			fail_msg("%s: %zu of %zu body hashes match", path, matched, checked);
		buf_free(&msg);
		free(raw);
	}
	/* Mail::DKIM corpus (CRLF): every message Mail::DKIM passes, except the
	 * pre-RFC drafts whose canonicalisations (nowsp) no longer exist. */
	static const struct {
		const char *name;
		size_t matches; /* 0: every signature's */
	} corpus[] = {
		{"mine_ietf05_1.txt", 0}, {"good_rfc4871_3.txt", 0}, {"good_rfc4871_4.txt", 0},
		{"good_1878523.txt", 0},  {"good_83176.txt", 0},     {"good_qp_1.txt", 0},
		{"good_qp_2.txt", 0},	  {"good_qp_3.txt", 0},	     {"no_body_1.txt", 0},
		{"no_body_2.txt", 0},	  {"no_body_3.txt", 0},	     {"goodkey_1.txt", 0},
		{"goodkey_2.txt", 0},	  {"goodkey_3.txt", 0},	     {"goodkey_4.txt", 0},
		{"goodkey_ed25519.txt", 0}, {"ignore_7.txt", 0},
		/* Four signatures, one with a damaged bh=. */
		{"multiple_1.txt", 3},
	};
	size_t total = 0;
	for (size_t i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++) {
		snprintf(path, sizeof(path), "%s/mail-dkim-corpus/corpus/%s", dir, corpus[i].name);
		size_t len = 0;
		char *raw = read_whole(path, &len);
		assert_non_null(raw);
		size_t checked;
		size_t matched = check_body_hashes(path, raw, len, &checked);
		size_t want = corpus[i].matches != 0 ? corpus[i].matches : checked;
		if (checked == 0 || matched != want)
			fail_msg("%s: %zu of %zu body hashes match", path, matched, checked);
		total += checked;
		free(raw);
	}
	/* bad_ietf01_1 has its body altered after signing: no match. */
	snprintf(path, sizeof(path), "%s/mail-dkim-corpus/corpus/bad_ietf01_1.txt", dir);
	size_t len = 0, checked;
	char *raw = read_whole(path, &len);
	assert_non_null(raw);
	assert_int_equal(check_body_hashes(path, raw, len, &checked), 0);
	free(raw);
	assert_true(total >= 18);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc6376_example),
		cmocka_unit_test(test_empty_body),
		cmocka_unit_test(test_rfc8463_body_hash),
		cmocka_unit_test(test_header_relaxed),
		cmocka_unit_test(test_sig_header),
		cmocka_unit_test(test_canon_parse),
		cmocka_unit_test(test_header_pick),
		cmocka_unit_test(test_body_cases),
		cmocka_unit_test(test_body_limit),
		cmocka_unit_test(test_body_large),
		cmocka_unit_test(test_out_full),
		cmocka_unit_test(test_conformance_body_hashes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
