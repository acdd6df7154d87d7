/* test_mime_rfc2047.c - unit tests for encoded-word decoding, charset
 * conversion and RFC 2231 value decoding (mime_rfc2047.c): the RFC 2047
 * section 8 examples, B and Q in UTF-8, US-ASCII, ISO-8859-1..15,
 * Windows-1252, KOI8-R, ISO-2022-JP, Shift_JIS; joining of adjacent words
 * (a character split across two words), malformed and unknown words left
 * as they are, and the RFC 2231 examples. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/utf8.h"
#include "mime/mime_rfc2047.h"

static void dec(const char *in, const char *want)
{
	size_t len = strlen(in);
	char *copy = malloc(len == 0 ? 1 : len);
	assert_non_null(copy);
	memcpy(copy, in, len);
	struct buf b;
	buf_init(&b, 0);
	assert_int_equal(mime_rfc2047_decode(copy, len, &b), 0);
	if (b.len != strlen(want) || (b.len > 0 && memcmp(b.data, want, b.len) != 0))
		fail_msg("decode(\"%s\"): got \"%.*s\", want \"%s\"", in, (int)b.len,
			 b.data != NULL ? b.data : "", want);
	buf_free(&b);
	free(copy);
}

static void test_rfc2047_section8(void **state)
{
	(void)state;
	dec("=?US-ASCII?Q?Keith_Moore?= <moore@cs.utk.edu>", "Keith Moore <moore@cs.utk.edu>");
	dec("=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?= <keld@dkuug.dk>",
	    "Keld J\xc3\xb8rn Simonsen <keld@dkuug.dk>");
	dec("=?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>",
	    "Andr\xc3\xa9 Pirard <PIRARD@vm1.ulg.ac.be>");
	dec("=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?= "
	    "=?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=",
	    "If you can read this you understand the example.");
	dec("Nathaniel Borenstein <nsb@thumper.bellcore.com> "
	    "(=?iso-8859-8?b?7eXs+SDv4SDp7Oj08A==?=)",
	    "Nathaniel Borenstein <nsb@thumper.bellcore.com> (\xd7\x9d\xd7\x95\xd7\x9c\xd7\xa9 "
	    "\xd7\x9f\xd7\x91 \xd7\x99\xd7\x9c\xd7\x98\xd7\xa4\xd7\xa0)");
	dec("=?ISO-8859-1?Q?Olle_J=E4rnefors?= <ojarnef@admin.kth.se>",
	    "Olle J\xc3\xa4rnefors <ojarnef@admin.kth.se>");
	dec("Patrik =?ISO-8859-1?Q?F=E4ltstr=F6m?= <paf@nada.kth.se>",
	    "Patrik F\xc3\xa4ltstr\xc3\xb6m <paf@nada.kth.se>");
	/* The table of white-space rules. */
	dec("(=?ISO-8859-1?Q?a?=)", "(a)");
	dec("(=?ISO-8859-1?Q?a?= b)", "(a b)");
	dec("(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)", "(ab)");
	dec("(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)", "(ab)");
	dec("(=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=)", "(ab)");
	dec("(=?ISO-8859-1?Q?a_b?=)", "(a b)");
	dec("(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)", "(a b)");
}

static void test_charsets(void **state)
{
	(void)state;
	dec("=?utf-8?B?w6nDqMOg?=", "\xc3\xa9\xc3\xa8\xc3\xa0");
	dec("=?UTF-8?Q?=E2=82=AC_100?=", "\xe2\x82\xac 100");
	dec("=?utf8?q?x?=", "x");
	dec("=?iso-8859-15?q?=A4?=", "\xe2\x82\xac"); /* euro sign in Latin-9 */
	dec("=?iso-8859-2?q?=B1?=", "\xc4\x85");      /* a ogonek */
	dec("=?iso-8859-5?q?=B0?=", "\xd0\x90");      /* Cyrillic A */
	dec("=?iso-8859-7?q?=E1?=", "\xce\xb1");      /* alpha */
	dec("=?iso-8859-9?q?=FD?=", "\xc4\xb1");      /* dotless i */
	dec("=?windows-1252?q?=80=93?=", "\xe2\x82\xac\xe2\x80\x9c");
	dec("=?cp1252?q?=85?=", "\xe2\x80\xa6");
	dec("=?koi8-r?b?8NLJ18XU?=", "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82");
	dec("=?ISO-2022-JP?B?GyRCJEYkOSRIGyhC?=", "\xe3\x81\xa6\xe3\x81\x99\xe3\x81\xa8");
	dec("=?shift_jis?B?g2WDWINn?=", "\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88");
	dec("=?gb2312?B?1tDOxA==?=", "\xe4\xb8\xad\xe6\x96\x87");
	dec("=?big5?B?pKSk5Q==?=", "\xe4\xb8\xad\xe6\x96\x87");
	/* RFC 2231 language suffix in an encoded word. */
	dec("=?US-ASCII*EN?Q?Keith_Moore?=", "Keith Moore");
	/* Charset names are case-insensitive. */
	dec("=?Iso-8859-1?q?=E9?==?ISO-8859-1?Q?=E9?=", "\xc3\xa9\xc3\xa9");
	/* Invalid bytes in a known charset become U+FFFD. */
	dec("=?utf-8?q?a=FFb?=", "a\xef\xbf\xbd"
				 "b");
	dec("=?us-ascii?q?=C3=A9?=", "\xc3\xa9"); /* mislabelled UTF-8 is kept */
}

static void test_joining(void **state)
{
	(void)state;
	/* A UTF-8 character split across two words. */
	dec("=?utf-8?B?ww==?= =?utf-8?B?qQ==?=", "\xc3\xa9");
	dec("=?utf-8?q?=C3?= =?utf-8?q?=A9?=", "\xc3\xa9");
	dec("=?utf-8?q?=E2=82?=\r\n =?UTF-8?q?=AC?=", "\xe2\x82\xac");
	/* Text between words is kept, whitespace only between words goes. */
	dec("=?utf-8?q?a?= and =?utf-8?q?b?=", "a and b");
	dec("x =?utf-8?q?a?= y", "x a y");
	/* Words glued to text are decoded too (common in real mail). */
	dec("Re:=?utf-8?q?x?=", "Re:x");
	/* A different charset flushes the first run. */
	dec("=?iso-8859-1?q?=E9?= =?utf-8?q?=C3=A9?=", "\xc3\xa9\xc3\xa9");
}

static void test_malformed(void **state)
{
	(void)state;
	const char *same[] = {
	    "plain text",
	    "=?",
	    "=?utf-8",
	    "=?utf-8?",
	    "=?utf-8?x?abc?=",	/* unknown encoding */
	    "=?utf-8?q?abc",	/* no end */
	    "=?utf-8?q?abc?",	/* no '=' after '?' */
	    "=?utf-8?b?!!!!?=", /* bad base64 */
	    "=?utf-8?q?a=ZZ?=", /* bad escape */
	    "=?\?q?abc?=",	/* empty charset */
	    "=?no-such-charset-xyz?q?abc?=",
	    "=?utf 8?q?abc?=", /* blank in charset */
	    "=?ut/f8?q?abc?=", /* never handed to iconv */
	    "=?utf-8?q?a\r\nb?=",
	    "a=?b",
	    "100% = sure",
	    "",
	};
	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++)
		dec(same[i], same[i]);
	/* A malformed word between good ones stays, the others decode. */
	dec("=?utf-8?q?a?= =?utf-8?b?!?= =?utf-8?q?b?=", "a =?utf-8?b?!?= b");
	/* Unknown charset: the run is kept exactly, blanks included. */
	dec("=?x-nope?q?a?=  =?x-nope?q?b?=", "=?x-nope?q?a?=  =?x-nope?q?b?=");
	/* An empty encoded text is valid. */
	dec("a =?utf-8?q?\?= b", "a  b");
	/* 8-bit raw text is copied unchanged. */
	dec("caf\xc3\xa9 =?utf-8?q?ok?=", "caf\xc3\xa9 ok");
	/* '?' inside Q text ends the word early: not a word. */
	dec("=?utf-8?q?a?b?=", "=?utf-8?q?a?b?=");
}

static void test_bounded(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 4);
	assert_int_equal(mime_rfc2047_decode("=?utf-8?q?abcdefgh?=", 20, &b), -1);
	buf_free(&b);
	buf_init(&b, 4);
	assert_int_equal(mime_rfc2047_decode("abcdefgh", 8, &b), -1);
	buf_free(&b);
	/* Many words: linear, valid output. */
	struct buf in;
	buf_init(&in, 0);
	for (int i = 0; i < 5000; i++)
		buf_append_str(&in, "=?utf-8?b?w6k=?= ");
	buf_init(&b, 0);
	assert_int_equal(mime_rfc2047_decode(in.data, in.len, &b), 0);
	assert_true(utf8_valid(b.data, b.len));
	assert_int_equal(b.len, 5000 * 2 + 1); /* the final blank stays */
	buf_free(&b);
	buf_free(&in);
}

static void charset(const char *cs, const char *in, const char *want, int want_ret)
{
	struct buf b;
	buf_init(&b, 0);
	int r = mime_charset_to_utf8(cs, strlen(cs), in, strlen(in), &b);
	assert_int_equal(r, want_ret);
	if (r == 0)
		assert_string_equal(b.data != NULL ? b.data : "", want);
	buf_free(&b);
}

static void test_charset_to_utf8(void **state)
{
	(void)state;
	charset("iso-8859-1", "caf\xe9", "caf\xc3\xa9", 0);
	charset("latin1", "\xff", "\xc3\xbf", 0);
	charset("windows-1252", "\x80", "\xe2\x82\xac", 0);
	charset("ISO-8859-15", "\xa4", "\xe2\x82\xac", 0);
	charset("utf-8", "ok \xc3\xa9", "ok \xc3\xa9", 0);
	charset("utf-8", "\xc3", "\xef\xbf\xbd", 0);
	charset("us-ascii", "a\x80", "a\xef\xbf\xbd", 0);
	charset("ks_c_5601-1987", "\xb0\xa1", "\xea\xb0\x80", 0);
	charset("iso-8859-8-i", "\xe0", "\xd7\x90", 0);
	charset("x-unknown-charset", "abc", "", -2);
	charset("", "abc", "", -2);
	/* A cut multi-byte sequence at the end. */
	charset("shift_jis", "\x83", "\xef\xbf\xbd", 0);
	/* Invalid in the middle. */
	charset("euc-jp",
		"a\xff"
		"b",
		"a\xef\xbf\xbd"
		"b",
		0);
}

static void rfc2231(const char *in, const char *want, int want_ret)
{
	struct buf b;
	buf_init(&b, 0);
	int r = mime_rfc2231_decode(in, strlen(in), &b);
	assert_int_equal(r, want_ret);
	if (r == 0)
		assert_string_equal(b.data != NULL ? b.data : "", want);
	buf_free(&b);
}

static void test_rfc2231_values(void **state)
{
	(void)state;
	/* RFC 2231 section 4. */
	rfc2231("us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A", "This is ***fun***", 0);
	rfc2231("us-ascii'en'This%20is%20even%20more%20%2A%2A%2Afun%2A%2A%2A%20isn't it!",
		"This is even more ***fun*** isn't it!", 0);
	rfc2231("utf-8''%E2%82%AC%20rates.txt", "\xe2\x82\xac rates.txt", 0);
	rfc2231("iso-8859-1''caf%E9", "caf\xc3\xa9", 0);
	rfc2231("''plain", "plain", 0);
	rfc2231("no-quotes%20here", "no-quotes here", 0);
	rfc2231("utf-8''bad%ZZescape%", "bad%ZZescape%", 0);
	rfc2231("x-bogus''abc", "", -2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc2047_section8), cmocka_unit_test(test_charsets),
	    cmocka_unit_test(test_joining),	     cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_bounded),	     cmocka_unit_test(test_charset_to_utf8),
	    cmocka_unit_test(test_rfc2231_values),
	};
	return cmocka_run_group_tests_name("mime_rfc2047", tests, NULL, NULL);
}
