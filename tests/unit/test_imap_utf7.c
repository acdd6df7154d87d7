/* test_imap_utf7.c - unit tests for modified UTF-7 mailbox names and the
 * mailbox-name validator (imap_utf7_*, imap_mailbox_name_check): the RFC
 * 3501 5.1.3 examples, every non-canonical form refused, round trips over
 * many code points, and names that could escape the storage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "imap/imap_utf7.h"

struct pair {
	const char *utf7;
	const char *utf8;
};

static const struct pair pairs[] = {
    /* RFC 3501 5.1.3 */
    {"~peter/mail/&U,BTFw-/&ZeVnLIqe-",
     "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"},
    {"&Jjo-!", "\xe2\x98\xba!"},
    {"Hi Mom -&Jjo--!", "Hi Mom -\xe2\x98\xba-!"},
    /* imaptest "mutf7" */
    {"p&AOQA5A-", "p\xc3\xa4\xc3\xa4"},
    {"&-", "&"},
    {"a&-b&-", "a&b&"},
    {"&ZeVnLIqe-&-x", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e&x"},
    {"&2D3eAA-", "\xf0\x9f\x98\x80"},
    {"a&2D3eAA-b&IKw-", "a\xf0\x9f\x98\x80"
			"b\xe2\x82\xac"},
    {"&AAk-", "\t"},
    {"", ""},
    {"INBOX", "INBOX"},
    {" !\"#$%'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~", " !\"#$%'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~"},
};

static void test_examples(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		struct buf out;
		const char *why = NULL;
		buf_init(&out, 0);
		if (imap_utf7_to_utf8(pairs[i].utf7, strlen(pairs[i].utf7), &out, &why) < 0)
			fail_msg("decode \"%s\": %s", pairs[i].utf7, why);
		assert_int_equal(out.len, strlen(pairs[i].utf8));
		assert_memory_equal(out.data != NULL ? out.data : "", pairs[i].utf8, out.len);
		buf_reset(&out);
		if (imap_utf8_to_utf7(pairs[i].utf8, strlen(pairs[i].utf8), &out, &why) < 0)
			fail_msg("encode \"%s\": %s", pairs[i].utf7, why);
		assert_int_equal(out.len, strlen(pairs[i].utf7));
		assert_memory_equal(out.data != NULL ? out.data : "", pairs[i].utf7, out.len);
		assert_true(imap_utf7_is_valid(pairs[i].utf7, strlen(pairs[i].utf7)));
		buf_free(&out);
	}
}

static void test_decode_bad(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "&",					/* unterminated */
	    "a&",	  "&AOQ",   "&AOQA5A", "&AGE-", /* 'a' encoded */
	    "&ACY-",					/* '&' encoded */
	    "&ACA-",					/* ' ' encoded */
	    "&AH4-",					/* '~' encoded */
	    "&AOQ-&AOQ-",				/* adjacent shifts */
	    "&AOQA-",					/* an extra character */
	    "&AOR-",					/* non-zero padding bits */
	    "&2D3-",					/* high surrogate alone */
	    "&2D3eAdg9-",				/* high, low, high */
	    "&3gE-",					/* low surrogate alone */
	    "&AAA-",					/* U+0000 */
	    "&Jjo/-",					/* '/' is not modified base64 */
	    "&Jjo=-",	  "&Jjo.-", "&Jj o-",  "&,,,-", /* U+FFFF with padding bits set */
	    "a\x80",	  "a\tb",   "\x7f",    "\xc3\xa4", "&&-", "&-&",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct buf out;
		const char *why = NULL;
		buf_init(&out, 0);
		if (imap_utf7_to_utf8(bad[i], strlen(bad[i]), &out, &why) == 0)
			fail_msg("\"%s\": accepted as \"%.*s\"", bad[i], (int)out.len, out.data);
		assert_non_null(why);
		assert_false(imap_utf7_is_valid(bad[i], strlen(bad[i])));
		buf_free(&out);
	}
	/* "&AOQ-&-&AOQ-" is canonical: '&' between two shifts */
	assert_true(imap_utf7_is_valid("&AOQ-&-&AOQ-", 12));
	assert_true(imap_utf7_is_valid("&AOQ-a&AOQ-", 11));
	/* explicit length: a NUL inside is a bad character */
	assert_false(imap_utf7_is_valid("a\0b", 3));
	/* output full */
	struct buf small;
	const char *why;
	buf_init(&small, 2);
	assert_int_equal(imap_utf7_to_utf8("abc", 3, &small, &why), -1);
	buf_free(&small);
	buf_init(&small, 2);
	assert_int_equal(imap_utf7_to_utf8("&-&-&-", 6, &small, &why), -1);
	buf_free(&small);
	buf_init(&small, 2);
	assert_int_equal(imap_utf7_to_utf8("&ZeVnLIqe-", 10, &small, &why), -1);
	buf_free(&small);
}

static void test_encode_bad(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "\xff",
	    "\xc3",
	    "\xc0\x80",
	    "\xed\xa0\x80", /* surrogate */
	    "\xf4\x90\x80\x80",
	    "a\xe2\x82",
	    "\xe0\x80\xaf",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct buf out;
		const char *why = NULL;
		buf_init(&out, 0);
		assert_int_equal(imap_utf8_to_utf7(bad[i], strlen(bad[i]), &out, &why), -1);
		assert_non_null(why);
		buf_free(&out);
	}
	struct buf out;
	const char *why;
	buf_init(&out, 0);
	assert_int_equal(imap_utf8_to_utf7("a\0b", 3, &out, &why), -1);
	buf_free(&out);
	for (size_t max = 0; max < 12; max++) {
		buf_init(&out, max);
		int r = imap_utf8_to_utf7("a\xc3\xa4&\xf0\x9f\x98\x80", 10, &out, &why);
		/* "a&AOQ-&-&2D3eAA-" is 16 bytes */
		assert_int_equal(r, -1);
		buf_free(&out);
	}
}

static uint32_t rng_state = 99;

static uint32_t rng(void)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return rng_state >> 8;
}

static size_t put_cp(char *p, uint32_t cp)
{
	if (cp < 0x80) {
		p[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		p[0] = (char)(0xc0 | (cp >> 6));
		p[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		p[0] = (char)(0xe0 | (cp >> 12));
		p[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		p[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	p[0] = (char)(0xf0 | (cp >> 18));
	p[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	p[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	p[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Random names from all planes: encode, decode, compare; re-encode the
 * decoded form: identical (canonical). */
static void test_round_trip(void **state)
{
	(void)state;
	for (int round = 0; round < 3000; round++) {
		char name[256];
		size_t n = 0;
		int count = 1 + (int)(rng() % 20);
		for (int i = 0; i < count; i++) {
			uint32_t cp;
			switch (rng() % 5) {
			case 0:
				cp = 0x20 + rng() % 0x5f;
				break;
			case 1:
				cp = '&';
				break;
			case 2:
				cp = 1 + rng() % 0x7ff;
				break;
			case 3:
				cp = 0x800 + rng() % (0x10000 - 0x800);
				if (cp >= 0xd800 && cp <= 0xdfff)
					cp = 0xe000;
				break;
			default:
				cp = 0x10000 + rng() % 0x100000;
				break;
			}
			n += put_cp(name + n, cp);
		}
		struct buf u7, u8, again;
		const char *why = NULL;
		buf_init(&u7, 0);
		buf_init(&u8, 0);
		buf_init(&again, 0);
		if (imap_utf8_to_utf7(name, n, &u7, &why) < 0)
			fail_msg("round %d: encode: %s", round, why);
		if (imap_utf7_to_utf8(u7.data, u7.len, &u8, &why) < 0)
			fail_msg("round %d: decode \"%s\": %s", round, u7.data, why);
		assert_int_equal(u8.len, n);
		assert_memory_equal(u8.data, name, n);
		assert_int_equal(imap_utf8_to_utf7(u8.data, u8.len, &again, &why), 0);
		assert_int_equal(again.len, u7.len);
		assert_memory_equal(again.data, u7.data, u7.len);
		for (size_t i = 0; i < u7.len; i++)
			assert_true(u7.data[i] >= 0x20 && u7.data[i] <= 0x7e);
		buf_free(&u7);
		buf_free(&u8);
		buf_free(&again);
	}
}

static void expect_name(const char *name, size_t len, const struct imap_mailbox_limits *lim,
			bool ok)
{
	const char *why = NULL;
	int r = imap_mailbox_name_check(name, len, lim, &why);
	if (ok && r != 0)
		fail_msg("\"%.*s\": refused: %s", (int)len, name, why);
	if (!ok && r == 0)
		fail_msg("\"%.*s\": accepted", (int)len, name);
	if (!ok)
		assert_non_null(why);
}

#define NAME_OK(s) expect_name((s), sizeof(s) - 1, NULL, true)
#define NAME_BAD(s) expect_name((s), sizeof(s) - 1, NULL, false)

static void test_mailbox_names(void **state)
{
	(void)state;
	NAME_OK("INBOX");
	NAME_OK("a/b/c");
	NAME_OK("Sent");
	NAME_OK("p\xc3\xa4\xc3\xa4");
	NAME_OK("a/.b");
	NAME_OK("...");
	NAME_OK("a..b/c.");
	NAME_OK("~peter/mail");
	NAME_OK("a b\\c");
	NAME_OK("\xf0\x9f\x98\x80");
	NAME_OK("\xc2\xa0");
	NAME_BAD("");
	NAME_BAD("/a");
	NAME_BAD("a/");
	NAME_BAD("a//b");
	NAME_BAD("/");
	NAME_BAD(".");
	NAME_BAD("..");
	NAME_BAD("./a");
	NAME_BAD("a/./b");
	NAME_BAD("a/..");
	NAME_BAD("../../etc/passwd");
	NAME_BAD("a\nb");
	NAME_BAD("a\rb");
	NAME_BAD("a\0b");
	NAME_BAD("a\tb");
	NAME_BAD("a\x7f");
	NAME_BAD("\xc2\x80");
	NAME_BAD("\xc2\x9f");
	NAME_BAD("\xff");
	NAME_BAD("\xc0\xae");
	NAME_BAD("\xed\xa0\x80");
	NAME_BAD("a\xe2\x82");

	/* limits: defaults 1024 bytes, 255 per level, 32 levels */
	char big[2048];
	memset(big, 'x', sizeof(big));
	expect_name(big, 255, NULL, true);
	expect_name(big, 256, NULL, false);
	for (size_t i = 200; i < 1000; i += 200)
		big[i] = '/';
	expect_name(big, 1024, NULL, true);
	expect_name(big, 1025, NULL, false);
	char deep[200];
	for (size_t i = 0; i < 100; i++) {
		deep[2 * i] = 'a';
		deep[2 * i + 1] = '/';
	}
	expect_name(deep, 63, NULL, true);  /* 32 levels */
	expect_name(deep, 65, NULL, false); /* 33 */
	struct imap_mailbox_limits lim = {10, 3, 2};
	expect_name("abc/def", 7, &lim, true);
	expect_name("abcd/ef", 7, &lim, false);
	expect_name("ab/cd/ef", 8, &lim, false);
	expect_name("abc/abc/a", 9, &lim, false);
	expect_name("abc/abcabc", 10, &lim, false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_examples),	  cmocka_unit_test(test_decode_bad),
	    cmocka_unit_test(test_encode_bad),	  cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_mailbox_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
