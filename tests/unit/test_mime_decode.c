/* test_mime_decode.c - unit tests for the base64 and quoted-printable
 * decoders (mime_decode.c): RFC 2045 rules, the forgiving defaults, strict
 * mode, RFC 2047 "Q", counting without output, bounded output, and the
 * imaptest fetch-binary-mime-* vectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "mime/mime_decode.h"

typedef int decode_fn(const void *, size_t, unsigned, struct buf *, size_t *);

static void check(decode_fn *fn, const char *in, size_t inlen, unsigned flags, int want_ret,
		  const char *want, size_t wantlen)
{
	char *copy = malloc(inlen == 0 ? 1 : inlen);
	assert_non_null(copy);
	memcpy(copy, in, inlen);
	struct buf b;
	buf_init(&b, 0);
	size_t size = 0, counted = 0;
	int r = fn(copy, inlen, flags, &b, &size);
	assert_int_equal(r, want_ret);
	if (r == 0) {
		assert_int_equal(size, wantlen);
		assert_int_equal(b.len, wantlen);
		if (wantlen > 0)
			assert_memory_equal(b.data, want, wantlen);
		/* Counting only gives the same size. */
		assert_int_equal(fn(copy, inlen, flags, NULL, &counted), 0);
		assert_int_equal(counted, wantlen);
	}
	buf_free(&b);
	free(copy);
}

#define B64(in, want) check(mime_base64_decode, in, sizeof(in) - 1, 0, 0, want, sizeof(want) - 1)
#define B64S(in, ret, want)                                                                        \
	check(mime_base64_decode, in, sizeof(in) - 1, MIME_DECODE_STRICT, ret, want,               \
	      sizeof(want) - 1)
#define QP(in, want) check(mime_qp_decode, in, sizeof(in) - 1, 0, 0, want, sizeof(want) - 1)
#define QPF(in, flags, ret, want)                                                                  \
	check(mime_qp_decode, in, sizeof(in) - 1, flags, ret, want, sizeof(want) - 1)

static void test_base64(void **state)
{
	(void)state;
	/* RFC 4648 10 test vectors. */
	B64("", "");
	B64("Zg==", "f");
	B64("Zm8=", "fo");
	B64("Zm9v", "foo");
	B64("Zm9vYg==", "foob");
	B64("Zm9vYmE=", "fooba");
	B64("Zm9vYmFy", "foobar");
	/* Line breaks and blanks are skipped. */
	B64("Zm9v\r\nYmFy\r\n", "foobar");
	B64("  Zm 9v\tYm\nFy  ", "foobar");
	/* Missing padding, junk characters (forgiving by default). */
	B64("Zm9vYg", "foob");
	B64("Zm9v!YmFy", "foobar");
	/* Concatenated padded blocks. */
	B64("Zg==Zg==", "ff");
	/* Binary output with NUL and high bytes. */
	B64("AP8=", "\x00\xff");
	/* Strict mode refuses junk. */
	B64S("Zm9v!YmFy", -2, "");
	B64S("Zm9vYmFy", 0, "foobar");
}

static void test_base64_imaptest(void **state)
{
	(void)state;
	/* imaptest fetch-binary-mime-base64: the five parts. */
	B64("\r\naGVs\r\nbG8gd29y\r\nbGQ=\r\n", "hello world");
	B64("  aGVs    \r\n bG8g  \r\n   d29y  \t \r\n    bGQ= \r\n\r\n", "hello world");
	B64("aGVsbG8g\r\ndG8geW91IHRv\r\nbw==\r\n", "hello to you too");
	B64("aGVsbG8gdG8gZXZlcnlvbmUh", "hello to everyone!");
	B64("YWJjZGVmZw1oaWprbA0KbW5vCnBxcnN0dXZxeHl6\r\n", "abcdefg\rhijkl\r\nmno\npqrstuvqxyz");
}

static void test_qp(void **state)
{
	(void)state;
	QP("", "");
	QP("plain", "plain");
	QP("caf=C3=A9", "caf\xc3\xa9");
	QP("lower=c3=a9", "lower\xc3\xa9");
	/* Soft line breaks, with CRLF, LF, trailing blanks, at the end. */
	QP("long=\r\nline", "longline");
	QP("long=\nline", "longline");
	QP("long= \t\r\nline", "longline");
	QP("end=", "end");
	/* Trailing blanks on a line are padding. */
	QP("a  \r\nb\t\r\n", "a\r\nb\r\n");
	QP("a  ", "a");
	QP("a b", "a b");
	/* Invalid escapes are kept as they are. */
	QP("a=ZZb", "a=ZZb");
	QP("=4", "=4");
	QP("100% =", "100% ");
	/* '_' is literal in bodies. */
	QP("foo_bar", "foo_bar");
	/* Strict mode. */
	QPF("a=ZZ", MIME_DECODE_STRICT, -2, "");
	QPF("a=41", MIME_DECODE_STRICT, 0, "aA");
}

static void test_qp_imaptest(void **state)
{
	(void)state;
	/* imaptest fetch-binary-mime-qp: 65 bytes. */
	const char in[] = "hello  \r\nbar=\r\n\r\nfoo\t=\r\nbar\r\nfoo\t \t= \r\n=62\r\n"
			  "foo = \t\r\nbar\r\nfoo =\r\n=62\r\nfoo  \r\nbar=\r\n\r\nfoo_bar\r\n";
	const char want[] = "hello\r\nbar\r\nfoo\tbar\r\nfoo\t \tb\r\nfoo bar\r\nfoo b\r\n"
			    "foo\r\nbar\r\nfoo_bar\r\n";
	assert_int_equal(sizeof(want) - 1, 65);
	QP(in, want);
}

static void test_q(void **state)
{
	(void)state;
	QPF("a_b", MIME_DECODE_Q, 0, "a b");
	QPF("J=F8rn", MIME_DECODE_Q, 0, "J\xf8rn");
	QPF("a=", MIME_DECODE_Q | MIME_DECODE_STRICT, -2, "");
	QPF("a=\r\nb", MIME_DECODE_Q | MIME_DECODE_STRICT, -2, "");
}

static void test_bounded(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 4);
	assert_int_equal(mime_base64_decode("Zm9vYmFy", 8, 0, &b, NULL), -1);
	buf_reset(&b);
	assert_int_equal(mime_qp_decode("abcdefgh", 8, 0, &b, NULL), -1);
	buf_reset(&b);
	assert_int_equal(mime_qp_decode("abcd", 4, 0, &b, NULL), 0);
	buf_free(&b);
	/* Larger than the staging buffer. */
	size_t n = 10000;
	char *in = malloc(n);
	memset(in, 'x', n);
	buf_init(&b, 0);
	size_t size = 0;
	assert_int_equal(mime_qp_decode(in, n, 0, &b, &size), 0);
	assert_int_equal(size, n);
	assert_int_equal(b.len, n);
	buf_free(&b);
	free(in);
	assert_int_equal(mime_hex_value('a'), 10);
	assert_int_equal(mime_hex_value('F'), 15);
	assert_int_equal(mime_hex_value('g'), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_base64), cmocka_unit_test(test_base64_imaptest),
	    cmocka_unit_test(test_qp),	   cmocka_unit_test(test_qp_imaptest),
	    cmocka_unit_test(test_q),	   cmocka_unit_test(test_bounded),
	};
	return cmocka_run_group_tests_name("mime_decode", tests, NULL, NULL);
}
