/* imap_date.h - IMAP dates and date-times (RFC 9051 "date", "date-time")
 * and RFC 5322 Date: header values.
 *
 * Pure; no time zone database and no locale: calendar arithmetic is done
 * here (proleptic Gregorian, years 1..9999), so results never depend on the
 * process's TZ. A "day" is a day number: days since 1970-01-01 (negative
 * before), which is what SINCE/BEFORE/ON and SENT* compare. A zone is an
 * offset from UTC in minutes (east positive: -0700 is -420). */
#ifndef POSTANE_IMAP_DATE_H
#define POSTANE_IMAP_DATE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* "17-Jul-1996 02:44:25 -0700" plus NUL. */
#define IMAP_DATETIME_LEN 26
/* "17-Jul-1996" plus NUL. */
#define IMAP_DATE_LEN 11

/* Day number of a calendar date (month 1..12); no validation. */
int64_t imap_days_from_civil(int year, int month, int day);
/* Calendar date of a day number. */
void imap_civil_from_days(int64_t days, int *year_r, int *month_r, int *day_r);
/* Days in a month (1..12) of a year. */
int imap_days_in_month(int year, int month);
/* The day number of the instant t seen in zone tz_minutes. */
int64_t imap_day_of(time_t t, int tz_minutes);

/* IMAP date: "1-Feb-1994" / "01-Feb-1994" (month any case), the text of an
 * atom or of a quoted string (the caller removes the quotes). Returns 0 and
 * the day number, or -1 with *error_r set. */
int imap_date_parse(const char *s, size_t len, int64_t *day_r, const char **error_r);
/* "1-Feb-1994" into out (at least IMAP_DATE_LEN + 1 bytes). */
void imap_date_format(int64_t day, char *out, size_t outlen);

/* IMAP date-time without its quotes: "17-Jul-1996 02:44:25 -0700", the day
 * also as " 7" or "7"; a leap second :60 reads as :59. Returns 0 with the
 * instant (UTC) and the zone, or -1 with *error_r set. */
int imap_datetime_parse(const char *s, size_t len, time_t *t_r, int *tz_minutes_r,
			const char **error_r);
/* Format the instant t in zone tz_minutes: " 7-Jul-1996 02:44:25 -0700"
 * (day padded with a space, as date-day-fixed wants), into out of at least
 * IMAP_DATETIME_LEN + 1 bytes. Returns 0, or -1 when the date falls outside
 * years 1..9999 or the zone is over 23:59 (out is then ""). */
int imap_datetime_format(time_t t, int tz_minutes, char *out, size_t outlen);

/* RFC 5322 date-time as found in Date: headers, tolerantly: optional day of
 * week, comments and folding anywhere, "7 Feb 1994" or "Feb 7 1994" or
 * "7-Feb-1994", 2- and 3-digit years (RFC 5322 4.3), missing seconds,
 * missing or obsolete zones (UT GMT EST ... military letters as +0000,
 * unknown names ignored), asctime order "Mon Feb  7 21:52:25 1994". A
 * missing time is 00:00:00, a missing zone +0000, a leap second :59.
 * Returns 0 or -1. */
int imap_rfc5322_date_parse(const char *s, size_t len, time_t *t_r, int *tz_minutes_r);

#endif
