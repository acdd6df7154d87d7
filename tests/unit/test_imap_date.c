/* test_imap_date.c - unit tests for IMAP dates and date-times and the
 * tolerant RFC 5322 Date: reader (imap_date_*, imap_datetime_*,
 * imap_rfc5322_date_parse): calendar arithmetic, the RFC 9051 examples,
 * every refusal, round trips, and the obsolete forms real mail uses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imap/imap_date.h"

static void test_calendar(void **state)
{
	(void)state;
	assert_int_equal(imap_days_from_civil(1970, 1, 1), 0);
	assert_int_equal(imap_days_from_civil(1969, 12, 31), -1);
	assert_int_equal(imap_days_from_civil(2000, 3, 1), 11017);
	assert_int_equal(imap_days_from_civil(1994, 2, 1), 8797);
	for (int64_t d = -800000; d < 3000000; d += 97) {
		int y, m, dd;
		imap_civil_from_days(d, &y, &m, &dd);
		assert_true(m >= 1 && m <= 12);
		assert_true(dd >= 1 && dd <= imap_days_in_month(y, m));
		assert_int_equal(imap_days_from_civil(y, m, dd), d);
	}
	assert_int_equal(imap_days_in_month(2000, 2), 29);
	assert_int_equal(imap_days_in_month(1900, 2), 28);
	assert_int_equal(imap_days_in_month(2024, 2), 29);
	assert_int_equal(imap_days_in_month(2023, 2), 28);
	assert_int_equal(imap_days_in_month(2023, 12), 31);
	assert_int_equal(imap_days_in_month(2023, 0), 0);
	assert_int_equal(imap_days_in_month(2023, 13), 0);
	/* the day of an instant depends on the zone */
	assert_int_equal(imap_day_of(837596665, 0), imap_days_from_civil(1996, 7, 17));
	assert_int_equal(imap_day_of(837596665, -600), imap_days_from_civil(1996, 7, 16));
	assert_int_equal(imap_day_of(-1, 0), -1);
	assert_int_equal(imap_day_of(0, 0), 0);
}

static void expect_date(const char *s, int y, int m, int d)
{
	int64_t day;
	const char *why = NULL;
	if (imap_date_parse(s, strlen(s), &day, &why) < 0)
		fail_msg("\"%s\": %s", s, why);
	assert_int_equal(day, imap_days_from_civil(y, m, d));
}

static void expect_date_bad(const char *s)
{
	int64_t day;
	const char *why = NULL;
	if (imap_date_parse(s, strlen(s), &day, &why) == 0)
		fail_msg("\"%s\": accepted", s);
	assert_non_null(why);
}

static void test_date(void **state)
{
	(void)state;
	expect_date("1-Feb-1994", 1994, 2, 1);
	expect_date("01-Feb-1994", 1994, 2, 1);
	expect_date("1-feb-1994", 1994, 2, 1);
	expect_date("5-MAR-2000", 2000, 3, 5);
	expect_date("29-Feb-2000", 2000, 2, 29);
	expect_date("31-Dec-9999", 9999, 12, 31);
	expect_date("1-Jan-0001", 1, 1, 1);
	static const char *const bad[] = {
	    "",		  "1-Feb-94",	 "32-Jan-2000", "29-Feb-2001",	"0-Jan-2000",
	    "1-Foo-2000", "1 Feb 1994",	 "1-Feb-19940", "001-Feb-1994", "1-Feb-1994 ",
	    "1-Feb-0000", " 1-Feb-1994", "1-Feb-",	"1-Fe-1994",	"1-Feb-199x",
	    "-Feb-1994",  "1-Febr-1994", "31-Apr-2000",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_date_bad(bad[i]);
	/* only len bytes are read */
	int64_t day;
	const char *why;
	assert_int_equal(imap_date_parse("1-Feb-1994X", 10, &day, &why), 0);

	char out[IMAP_DATE_LEN + 1];
	imap_date_format(imap_days_from_civil(1994, 2, 1), out, sizeof(out));
	assert_string_equal(out, "1-Feb-1994");
	imap_date_format(imap_days_from_civil(2023, 12, 31), out, sizeof(out));
	assert_string_equal(out, "31-Dec-2023");
	imap_date_format(imap_days_from_civil(10000, 1, 1), out, sizeof(out));
	assert_string_equal(out, "");
	for (int64_t d = -700000; d < 2900000; d += 1009) {
		imap_date_format(d, out, sizeof(out));
		int64_t back;
		assert_int_equal(imap_date_parse(out, strlen(out), &back, &why), 0);
		assert_int_equal(back, d);
	}
}

static void expect_datetime(const char *s, time_t t, int tz)
{
	time_t got;
	int gtz;
	const char *why = NULL;
	if (imap_datetime_parse(s, strlen(s), &got, &gtz, &why) < 0)
		fail_msg("\"%s\": %s", s, why);
	assert_int_equal(got, t);
	assert_int_equal(gtz, tz);
}

static void test_datetime(void **state)
{
	(void)state;
	/* RFC 9051 INTERNALDATE example */
	expect_datetime("17-Jul-1996 02:44:25 -0700", 837596665, -420);
	expect_datetime("17-Jul-1996 09:44:25 +0000", 837596665, 0);
	expect_datetime("17-Jul-1996 11:14:25 +0130", 837596665, 90);
	expect_datetime(" 7-Jul-1996 02:44:25 -0700", 837596665 - 10 * 86400, -420);
	expect_datetime("07-Jul-1996 02:44:25 -0700", 837596665 - 10 * 86400, -420);
	expect_datetime("7-Jul-1996 02:44:25 -0700", 837596665 - 10 * 86400, -420);
	expect_datetime("1-Jan-1970 00:00:00 +0000", 0, 0);
	expect_datetime("31-Dec-1969 23:59:59 +0000", -1, 0);
	expect_datetime("31-Dec-1969 23:59:60 +0000", -1, 0); /* leap second: :59 */
	static const char *const bad[] = {
	    "17-Jul-1996 02:44:25",	   "17-Jul-1996 24:00:00 +0000",
	    "17-Jul-1996 02:60:00 +0000",  "17-Jul-1996 02:44:61 +0000",
	    "17-Jul-1996 02:44:25 +2400",  "17-Jul-1996 02:44:25 -0760",
	    "17-Jul-1996  02:44:25 +0000", "17-Jul-1996 2:44:25 +0000",
	    "17-Jul-1996 02:44:25 +0000 ", "17-Jul-1996 02:44:25 0000",
	    "17-Jul-1996 02:44:25 +000",   "17-Jul-1996 02-44-25 +0000",
	    "17-Jul-96 02:44:25 +0000",	   "",
	    "  7-Jul-1996 02:44:25 -0700", "17-Jul-1996 02:44:2x +0000",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		time_t t;
		int tz;
		const char *why = NULL;
		if (imap_datetime_parse(bad[i], strlen(bad[i]), &t, &tz, &why) == 0)
			fail_msg("\"%s\": accepted", bad[i]);
		assert_non_null(why);
	}
}

static void test_datetime_format(void **state)
{
	(void)state;
	char out[IMAP_DATETIME_LEN + 1];
	assert_int_equal(imap_datetime_format(837596665, -420, out, sizeof(out)), 0);
	assert_string_equal(out, "17-Jul-1996 02:44:25 -0700");
	assert_int_equal(imap_datetime_format(837596665 - 10 * 86400, -420, out, sizeof(out)), 0);
	assert_string_equal(out, " 7-Jul-1996 02:44:25 -0700");
	assert_int_equal(imap_datetime_format(0, 0, out, sizeof(out)), 0);
	assert_string_equal(out, " 1-Jan-1970 00:00:00 +0000");
	assert_int_equal(imap_datetime_format(-1, 90, out, sizeof(out)), 0);
	assert_string_equal(out, " 1-Jan-1970 01:29:59 +0130");
	/* refusals */
	assert_int_equal(imap_datetime_format(0, 24 * 60, out, sizeof(out)), -1);
	assert_string_equal(out, "");
	assert_int_equal(imap_datetime_format(0, -24 * 60, out, sizeof(out)), -1);
	assert_int_equal(imap_datetime_format((time_t)300000000000ll, 0, out, sizeof(out)), -1);
	assert_int_equal(imap_datetime_format((time_t)-70000000000ll, 0, out, sizeof(out)), -1);
	assert_int_equal(imap_datetime_format(0, 0, out, 10), -1);
	assert_string_equal(out, "");
	/* round trips */
	for (int64_t t = -2000000000ll; t < 40000000000ll; t += 123456789) {
		for (int tz = -1439; tz <= 1439; tz += 317) {
			time_t back;
			int btz;
			const char *why;
			assert_int_equal(imap_datetime_format((time_t)t, tz, out, sizeof(out)), 0);
			assert_int_equal(strlen(out), IMAP_DATETIME_LEN);
			assert_int_equal(imap_datetime_parse(out, strlen(out), &back, &btz, &why),
					 0);
			assert_int_equal(back, t);
			assert_int_equal(btz, tz);
		}
	}
}

static void expect_5322(const char *s, const char *imap_equiv)
{
	time_t t, want;
	int tz, wtz;
	const char *why;
	if (imap_rfc5322_date_parse(s, strlen(s), &t, &tz) < 0)
		fail_msg("\"%s\": refused", s);
	assert_int_equal(imap_datetime_parse(imap_equiv, strlen(imap_equiv), &want, &wtz, &why), 0);
	if (t != want || tz != wtz)
		fail_msg("\"%s\": got %lld %d, want %lld %d (%s)", s, (long long)t, tz,
			 (long long)want, wtz, imap_equiv);
}

static void test_rfc5322(void **state)
{
	(void)state;
	expect_5322("Mon, 7 Feb 1994 21:52:25 -0800 (PST)", "07-Feb-1994 21:52:25 -0800");
	expect_5322("Mon, 7 Feb 1994 21:52:25 -0800", "07-Feb-1994 21:52:25 -0800");
	expect_5322("7 Feb 1994 21:52:25 -0800", "07-Feb-1994 21:52:25 -0800");
	expect_5322("Mon, 07 Feb 94 21:52 PST", "07-Feb-1994 21:52:00 -0800");
	expect_5322("Monday, 7-Feb-1994 21:52:25 GMT", "07-Feb-1994 21:52:25 +0000");
	expect_5322("Mon Feb  7 21:52:25 1994", "07-Feb-1994 21:52:25 +0000");
	expect_5322("Feb 7 1994 21:52:25 EDT", "07-Feb-1994 21:52:25 -0400");
	expect_5322("7 Feb 1994", "07-Feb-1994 00:00:00 +0000");
	expect_5322("  Mon,\r\n 7 Feb\t1994 (comment (nested \\) here)) 21:52:25 -0800",
		    "07-Feb-1994 21:52:25 -0800");
	expect_5322("7 February 1994 21:52:25 EST", "07-Feb-1994 21:52:25 -0500");
	expect_5322("7 Feb 1994 21:52:25 A", "07-Feb-1994 21:52:25 +0000");
	expect_5322("7 Feb 1994 21:52:25 CEST", "07-Feb-1994 21:52:25 +0000");
	expect_5322("7 Feb 094 21:52:25 +0000", "07-Feb-1994 21:52:25 +0000");
	expect_5322("7 Feb 49 00:00:00 +0000", "07-Feb-2049 00:00:00 +0000");
	expect_5322("7 Feb 50 00:00:00 +0000", "07-Feb-1950 00:00:00 +0000");
	expect_5322("Sun, 22 Nov 2026 00:12:19 +0000", "22-Nov-2026 00:12:19 +0000");
	expect_5322("Tue, 1 Jul 2003 10:52:37 +0200", "01-Jul-2003 10:52:37 +0200");
	expect_5322("Thu, 13 Feb 1969 23:32:54 -0330", "13-Feb-1969 23:32:54 -0330");
	expect_5322("Fri, 21 Nov 1997 09:55:06 -0600 (MDT)", "21-Nov-1997 09:55:06 -0600");
	expect_5322("1994 Feb 7 21:52:25 +0100", "07-Feb-1994 21:52:25 +0100");
	expect_5322("7 Feb 1994 21:52:25 +0000 -0800", "07-Feb-1994 21:52:25 +0000");
	expect_5322("7 Feb 1994 23:59:60 +0000", "07-Feb-1994 23:59:59 +0000");
	expect_5322("31 Dec 9999 23:59:60 +0000", "31-Dec-9999 23:59:59 +0000");
	static const char *const bad[] = {
	    "",
	    "garbage",
	    "Feb 1994",
	    "32 Feb 1994",
	    "7 Feb",
	    "30 Feb 2000",
	    "7 Feb 1994 25:00:00",
	    "7 Feb 1994 21:61:00",
	    "7 Feb 1994 21:52:25 +2500",
	    "7 Feb 1234567890",
	    "7 Feb 1994 123:00",
	    "7 Feb 1994 1 2 3",
	    "7 Feb 99999",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		time_t t;
		int tz;
		if (imap_rfc5322_date_parse(bad[i], strlen(bad[i]), &t, &tz) == 0)
			fail_msg("\"%s\": accepted", bad[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_calendar), cmocka_unit_test(test_date),
	    cmocka_unit_test(test_datetime), cmocka_unit_test(test_datetime_format),
	    cmocka_unit_test(test_rfc5322),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
