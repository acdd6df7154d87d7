/* test_base64.c - unit tests for the strict base64 codec (base64.c): the
 * RFC 4648 section 10 test vectors both ways, every strictness rule of the
 * decoder (length, padding, unused bits, alphabet, no whitespace), bounds
 * of the output, and round trips of every byte value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/base64.h"

#define CANARY 0xA5

/* Decode `len` bytes copied into a heap block of exactly that size (no
 * terminator), into a heap block of exactly len / 4 * 3 bytes plus one
 * canary byte, so that ASan and the canary catch any access beyond either.
 * The decoded bytes are copied to out (when not NULL). */
static long decode_n(const char *in, size_t len, unsigned char *out)
{
	char *copy = malloc(len == 0 ? 1 : len);
	assert_non_null(copy);
	memcpy(copy, in, len);
	size_t cap = len / 4 * 3;
	unsigned char *dst = malloc(cap + 1);
	assert_non_null(dst);
	memset(dst, CANARY, cap + 1);
	long n = base64_decode(copy, len, dst);
	if (dst[cap] != CANARY)
		fail_msg("\"%.*s\": decoder wrote past len / 4 * 3 bytes", (int)len, in);
	if (n > (long)cap)
		fail_msg("\"%.*s\": decoded length %ld above the bound %zu", (int)len, in, n, cap);
	if (out != NULL && n > 0)
		memcpy(out, dst, (size_t)n);
	free(dst);
	free(copy);
	return n;
}

static long decode(const char *in, unsigned char *out)
{
	return decode_n(in, strlen(in), out);
}

static void assert_rejected(const char *in)
{
	long n = decode(in, NULL);
	if (n != -1)
		fail_msg("\"%s\": accepted (%ld bytes), expected -1", in, n);
}

/* Encode `len` bytes copied into an exact-size heap block. */
static char *encode_n(const void *data, size_t len)
{
	void *copy = malloc(len == 0 ? 1 : len);
	assert_non_null(copy);
	memcpy(copy, data, len);
	size_t olen = base64_encoded_len(len);
	char *out = malloc(olen + 2);
	assert_non_null(out);
	memset(out, CANARY, olen + 2);
	base64_encode(copy, len, out);
	assert_int_equal(out[olen], '\0');
	assert_int_equal((unsigned char)out[olen + 1], CANARY);
	assert_int_equal(strlen(out), olen);
	free(copy);
	return out;
}

static const struct {
	const char *plain, *encoded;
} rfc4648[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

static void test_encoded_len(void **state)
{
	(void)state;
	assert_int_equal(base64_encoded_len(0), 0);
	assert_int_equal(base64_encoded_len(1), 4);
	assert_int_equal(base64_encoded_len(2), 4);
	assert_int_equal(base64_encoded_len(3), 4);
	assert_int_equal(base64_encoded_len(4), 8);
	assert_int_equal(base64_encoded_len(5), 8);
	assert_int_equal(base64_encoded_len(6), 8);
	assert_int_equal(base64_encoded_len(7), 12);
	assert_int_equal(base64_encoded_len(767), 1024);
}

static void test_rfc4648_encode(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
		char *out = encode_n(rfc4648[i].plain, strlen(rfc4648[i].plain));
		assert_string_equal(out, rfc4648[i].encoded);
		free(out);
	}
}

static void test_rfc4648_decode(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
		unsigned char out[16];
		long n = decode(rfc4648[i].encoded, out);
		assert_int_equal(n, (long)strlen(rfc4648[i].plain));
		assert_memory_equal(out, rfc4648[i].plain, (size_t)n);
	}
}

static void test_full_alphabet(void **state)
{
	(void)state;
	/* 0x00 0x10 0x83 ... : every 6-bit value once, in order. */
	static const char all[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned char out[48];
	assert_int_equal(decode(all, out), 48);
	for (unsigned v = 0; v < 64; v++) {
		/* bit position 6v in the output */
		unsigned bit = v * 6, byte = bit / 8, shift = bit % 8;
		unsigned got = ((unsigned)out[byte] << 8 | (byte + 1 < 48 ? out[byte + 1] : 0)) >>
				   (10 - shift) &
			       63;
		assert_int_equal(got, v);
	}
	char *re = encode_n(out, 48);
	assert_string_equal(re, all);
	free(re);
	/* '+' and '/' are 62 and 63. */
	assert_int_equal(decode("+/+/", out), 3);
	assert_int_equal(out[0], 0xfb);
	assert_int_equal(out[1], 0xff);
	assert_int_equal(out[2], 0xbf);
}

static void test_length_not_multiple_of_four(void **state)
{
	(void)state;
	const char *bad[] = {"Z",      "Zg",	  "Zg=",       "Zm9",	    "Zm9vY",
			     "Zm9vYg", "Zm9vYg=", "Zm9vYmFy=", "Zm9vYmFyZ", "="};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_rejected(bad[i]);
}

static void test_padding_required_and_only_at_the_end(void **state)
{
	(void)state;
	/* unpadded forms of valid input */
	assert_rejected("Zg");
	assert_rejected("Zm8");
	/* padding inside the string */
	assert_rejected("Zg==Zg==");
	assert_rejected("Zm8=Zm8=");
	assert_rejected("Zg==Zm9v");
	assert_rejected("Zm8=Zm9v");
	/* padding in the wrong place of a quantum */
	assert_rejected("====");
	assert_rejected("Z===");
	assert_rejected("=Zg=");
	assert_rejected("Zg=A");
	assert_rejected("Z=g=");
	assert_rejected("Zm9v====");
	assert_rejected("Zm9vZ===");
	/* too much padding */
	assert_rejected("Zm8==");
	assert_rejected("Zg===");
}

static void test_unused_bits_must_be_zero(void **state)
{
	(void)state;
	unsigned char out[4];
	/* "f" = 0x66: Z(25) g(32); Z + h..v leave bits set in the unused part. */
	assert_int_equal(decode("Zg==", out), 1);
	assert_int_equal(out[0], 'f');
	const char *nonzero1[] = {"Zh==", "Zi==", "Zj==", "Zk==", "Zl==", "Zm==", "Zn==", "Zo==",
				  "Zp==", "Zq==", "Zr==", "Zs==", "Zt==", "Zu==", "Zv=="};
	for (size_t i = 0; i < sizeof(nonzero1) / sizeof(nonzero1[0]); i++)
		assert_rejected(nonzero1[i]);
	/* "fo": Zm8= is canonical; Zm9= Zm+= Zm/= ... have low bits set. */
	assert_int_equal(decode("Zm8=", out), 2);
	assert_memory_equal(out, "fo", 2);
	assert_rejected("Zm9=");
	assert_rejected("Zm-=");
	assert_rejected("Zm/=");
	assert_rejected("Zm+=");
	assert_rejected("Zm5=");
	/* zero in the unused bits, any value in the used ones */
	assert_int_equal(decode("AA==", out), 1);
	assert_int_equal(out[0], 0);
	assert_int_equal(decode("/w==", out), 1);
	assert_int_equal(out[0], 0xff);
	assert_int_equal(decode("//8=", out), 2);
	assert_int_equal(out[0], 0xff);
	assert_int_equal(out[1], 0xff);
	assert_rejected("/x==");
	assert_rejected("//9=");
}

static void test_alphabet_strict(void **state)
{
	(void)state;
	/* URL-safe alphabet, whitespace, line breaks, other junk */
	const char *bad[] = {
	    "Zm9v-_==",	 "Zm9_",	"Zm9-",		"Zm9v Yg==",   " Zm9vYmFy",
	    "Zm9vYmFy ", "Zm9v\tYmE=",	"Zm9v\r\nYmFy", "Zm9vYmF\n",   "Zm9v.mFy",
	    "Zm9v*mFy",	 "Zm9v:mFy",	"Zm9v@mFy",	"Zm9v[mFy",    "Zm9v`mFy",
	    "Zm9v{mFy",	 "Zm9v\x7fmFy", "Zm9v\x80mFy",	"Zm9v\xffmFy", "Zm9v\xc3\xa9mF"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_rejected(bad[i]);
	/* a NUL byte inside the given length */
	assert_int_equal(decode_n("Zm9v\0mFy", 8, NULL), -1);
	assert_int_equal(decode_n("Zm\0v", 4, NULL), -1);
	assert_int_equal(decode_n("Zg=\0", 4, NULL), -1);
	/* every byte value that is not in the alphabet, in each position */
	for (int c = 0; c < 256; c++) {
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '+' || c == '/')
			continue;
		for (int pos = 0; pos < 4; pos++) {
			char in[8] = "QUJDRA==";
			in[pos] = (char)c;
			if (decode_n(in, 8, NULL) != -1)
				fail_msg("byte 0x%02x at %d accepted", c, pos);
		}
	}
}

static void test_length_is_explicit(void **state)
{
	(void)state;
	unsigned char out[8];
	/* Only `len` bytes count: what follows is never read. */
	assert_int_equal(decode_n("Zm9vYmFyjunk", 8, out), 6);
	assert_memory_equal(out, "foobar", 6);
	assert_int_equal(decode_n("Zm9vYmFy", 4, out), 3);
	assert_memory_equal(out, "foo", 3);
	assert_int_equal(decode_n("anything", 0, out), 0);
}

static void test_binary_round_trip(void **state)
{
	(void)state;
	unsigned char data[300];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 7 + 3);
	for (size_t len = 0; len <= sizeof(data); len++) {
		char *enc = encode_n(data, len);
		unsigned char *dec = malloc(len + 3);
		assert_non_null(dec);
		long n = decode_n(enc, strlen(enc), dec);
		if (n != (long)len)
			fail_msg("length %zu: decoded %ld bytes", len, n);
		assert_memory_equal(dec, data, len);
		free(dec);
		free(enc);
	}
	/* every byte value in every position of a quantum */
	for (int c = 0; c < 256; c++) {
		for (int pos = 0; pos < 3; pos++) {
			unsigned char in[3] = {0x55, 0xaa, 0x0f};
			in[pos] = (unsigned char)c;
			char *enc = encode_n(in, 3);
			unsigned char out[3];
			assert_int_equal(decode_n(enc, 4, out), 3);
			assert_memory_equal(out, in, 3);
			free(enc);
		}
	}
}

static void test_nul_bytes_encode(void **state)
{
	(void)state;
	/* SASL PLAIN messages carry NULs: "\0tim\0tanstaaftanstaaf" */
	static const char msg[] = "\0tim\0tanstaaftanstaaf";
	char *enc = encode_n(msg, sizeof(msg) - 1);
	assert_string_equal(enc, "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
	unsigned char out[32];
	assert_int_equal(decode(enc, out), (long)sizeof(msg) - 1);
	assert_memory_equal(out, msg, sizeof(msg) - 1);
	free(enc);
}

static void test_canonical_form_is_unique(void **state)
{
	(void)state;
	/* For every 1- and 2-byte input, the encoder's output is the only
	 * accepted spelling with padding: any change of the last data
	 * character that keeps the decoded bytes the same is refused. */
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (int b = 0; b < 256; b++) {
		unsigned char one = (unsigned char)b;
		char *enc = encode_n(&one, 1);
		int accepted = 0;
		for (int k = 0; k < 64; k++) {
			char in[5];
			memcpy(in, enc, 5);
			in[1] = alphabet[k];
			unsigned char out[3];
			long n = decode_n(in, 4, out);
			if (n == 1 && out[0] == one)
				accepted++;
			else
				assert_true(n == -1 || out[0] != one);
		}
		assert_int_equal(accepted, 1);
		free(enc);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_encoded_len),
	    cmocka_unit_test(test_rfc4648_encode),
	    cmocka_unit_test(test_rfc4648_decode),
	    cmocka_unit_test(test_full_alphabet),
	    cmocka_unit_test(test_length_not_multiple_of_four),
	    cmocka_unit_test(test_padding_required_and_only_at_the_end),
	    cmocka_unit_test(test_unused_bits_must_be_zero),
	    cmocka_unit_test(test_alphabet_strict),
	    cmocka_unit_test(test_length_is_explicit),
	    cmocka_unit_test(test_binary_round_trip),
	    cmocka_unit_test(test_nul_bytes_encode),
	    cmocka_unit_test(test_canonical_form_is_unique),
	};
	return cmocka_run_group_tests_name("base64", tests, NULL, NULL);
}
