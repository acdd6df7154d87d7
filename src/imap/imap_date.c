/* imap_date.c - calendar arithmetic and the date formats IMAP needs: the
 * strict IMAP date and date-time, and a tolerant reader of the Date: header
 * values real mail carries (RFC 5322 with its obsolete forms). */
#include "imap/imap_date.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/util.h"

static const char *const month_names[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

#define SECS_PER_DAY 86400
#define MAX_ZONE_MINUTES (23 * 60 + 59)

/* Howard Hinnant's days_from_civil / civil_from_days. */
int64_t imap_days_from_civil(int year, int month, int day)
{
	int64_t y = year - (month <= 2);
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void imap_civil_from_days(int64_t z, int *year_r, int *month_r, int *day_r)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t y = yoe + era * 400;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int64_t d = doy - (153 * mp + 2) / 5 + 1;
	int64_t m = mp < 10 ? mp + 3 : mp - 9;
	*year_r = (int)(y + (m <= 2));
	*month_r = (int)m;
	*day_r = (int)d;
}

int imap_days_in_month(int year, int month)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (month < 1 || month > 12)
		return 0;
	if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
		return 29;
	return days[month - 1];
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

int64_t imap_day_of(time_t t, int tz_minutes)
{
	int64_t s = (int64_t)t;
	int64_t off = (int64_t)tz_minutes * 60;
	/* keep the sum in range for absurd inputs */
	if (s > INT64_MAX / 2)
		s = INT64_MAX / 2;
	if (s < INT64_MIN / 2)
		s = INT64_MIN / 2;
	return floor_div(s + off, SECS_PER_DAY);
}

static int month_from_name(const char *s, size_t len)
{
	if (len != 3)
		return 0;
	for (int i = 0; i < 12; i++)
		if (ascii_nieq(s, month_names[i], 3))
			return i + 1;
	return 0;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* n digits at s, exactly. */
static int digits(const char *s, size_t n)
{
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* "d-Mon-yyyy" at s[*pos..len): day 1 or 2 digits (after an optional
 * space when allow_space). */
static int parse_date_text(const char *s, size_t len, size_t *pos, bool allow_space, int *y_r,
			   int *m_r, int *d_r, const char **error_r)
{
	size_t i = *pos;
	if (allow_space && i < len && s[i] == ' ')
		i++;
	size_t start = i;
	while (i < len && is_digit(s[i]) && i - start < 2)
		i++;
	if (i == start || i >= len || s[i] != '-') {
		*error_r = "Invalid date";
		return -1;
	}
	int day = digits(s + start, i - start);
	i++;
	if (len - i < 4 || s[i + 3] != '-') {
		*error_r = "Invalid date";
		return -1;
	}
	int month = month_from_name(s + i, 3);
	if (month == 0) {
		*error_r = "Invalid month in date";
		return -1;
	}
	i += 4;
	if (len - i < 4 || (len - i > 4 && is_digit(s[i + 4]))) {
		*error_r = "Invalid year in date";
		return -1;
	}
	int year = digits(s + i, 4);
	if (year < 1) {
		*error_r = "Invalid year in date";
		return -1;
	}
	i += 4;
	if (day < 1 || day > imap_days_in_month(year, month)) {
		*error_r = "Invalid day in date";
		return -1;
	}
	*y_r = year;
	*m_r = month;
	*d_r = day;
	*pos = i;
	return 0;
}

int imap_date_parse(const char *s, size_t len, int64_t *day_r, const char **error_r)
{
	size_t pos = 0;
	int y, m, d;
	if (parse_date_text(s, len, &pos, false, &y, &m, &d, error_r) < 0)
		return -1;
	if (pos != len) {
		*error_r = "Invalid date";
		return -1;
	}
	*day_r = imap_days_from_civil(y, m, d);
	return 0;
}

void imap_date_format(int64_t day, char *out, size_t outlen)
{
	int y, m, d;
	imap_civil_from_days(day, &y, &m, &d);
	if (y < 1 || y > 9999) {
		if (outlen > 0)
			out[0] = '\0';
		return;
	}
	snprintf(out, outlen, "%d-%s-%04d", d, month_names[m - 1], y);
}

int imap_datetime_parse(const char *s, size_t len, time_t *t_r, int *tz_minutes_r,
			const char **error_r)
{
	size_t i = 0;
	int y, mo, d;
	if (parse_date_text(s, len, &i, true, &y, &mo, &d, error_r) < 0)
		return -1;
	/* SP hh:mm:ss SP +hhmm */
	if (len - i != 15 || s[i] != ' ' || s[i + 3] != ':' || s[i + 6] != ':' || s[i + 9] != ' ' ||
	    (s[i + 10] != '+' && s[i + 10] != '-')) {
		*error_r = "Invalid date-time";
		return -1;
	}
	int hh = digits(s + i + 1, 2), mm = digits(s + i + 4, 2), ss = digits(s + i + 7, 2);
	int zh = digits(s + i + 11, 2), zm = digits(s + i + 13, 2);
	if (hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 60 || zh < 0 || zh > 23 ||
	    zm < 0 || zm > 59) {
		*error_r = "Invalid time in date-time";
		return -1;
	}
	if (ss == 60)
		ss = 59; /* a leap second: time_t has none */
	int tz = zh * 60 + zm;
	if (s[i + 10] == '-')
		tz = -tz;
	int64_t secs = imap_days_from_civil(y, mo, d) * SECS_PER_DAY + hh * 3600 + mm * 60 + ss;
	*t_r = (time_t)(secs - (int64_t)tz * 60);
	*tz_minutes_r = tz;
	return 0;
}

int imap_datetime_format(time_t t, int tz_minutes, char *out, size_t outlen)
{
	if (outlen > 0)
		out[0] = '\0';
	if (tz_minutes > MAX_ZONE_MINUTES || tz_minutes < -MAX_ZONE_MINUTES)
		return -1;
	int64_t day = imap_day_of(t, tz_minutes);
	int64_t secs = (int64_t)t + (int64_t)tz_minutes * 60 - day * SECS_PER_DAY;
	int y, m, d;
	imap_civil_from_days(day, &y, &m, &d);
	if (y < 1 || y > 9999 || secs < 0 || secs >= SECS_PER_DAY)
		return -1;
	int az = tz_minutes < 0 ? -tz_minutes : tz_minutes;
	int n = snprintf(out, outlen, "%2d-%s-%04d %02d:%02d:%02d %c%02d%02d", d,
			 month_names[m - 1], y, (int)(secs / 3600), (int)(secs / 60 % 60),
			 (int)(secs % 60), tz_minutes < 0 ? '-' : '+', az / 60, az % 60);
	if (n < 0 || (size_t)n >= outlen) {
		if (outlen > 0)
			out[0] = '\0';
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* RFC 5322 */

struct zone_name {
	const char *name;
	int minutes;
};

static const struct zone_name zone_names[] = {
    {"UT", 0},	      {"UTC", 0},	{"GMT", 0},	  {"Z", 0},
    {"EST", -5 * 60}, {"EDT", -4 * 60}, {"CST", -6 * 60}, {"CDT", -5 * 60},
    {"MST", -7 * 60}, {"MDT", -6 * 60}, {"PST", -8 * 60}, {"PDT", -7 * 60},
};

/* Skip white space, folding and (nested) comments. */
static size_t skip_cfws(const char *s, size_t len, size_t i)
{
	while (i < len) {
		char c = s[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',') {
			i++;
		} else if (c == '(') {
			int depth = 0;
			while (i < len) {
				if (s[i] == '\\' && i + 1 < len) {
					i += 2;
					continue;
				}
				if (s[i] == '(')
					depth++;
				else if (s[i] == ')' && --depth == 0) {
					i++;
					break;
				}
				i++;
			}
		} else {
			break;
		}
	}
	return i;
}

int imap_rfc5322_date_parse(const char *s, size_t len, time_t *t_r, int *tz_minutes_r)
{
	int day = -1, month = 0, year = -1, year_digits = 0;
	int hh = 0, mm = 0, ss = 0;
	bool have_time = false, have_zone = false;
	int tz = 0;
	size_t i = 0;

	for (;;) {
		i = skip_cfws(s, len, i);
		if (i >= len)
			break;
		char c = s[i];
		if (is_digit(c)) {
			size_t start = i;
			while (i < len && is_digit(s[i]) && i - start < 9)
				i++;
			if (i < len && is_digit(s[i]))
				return -1; /* absurdly long number */
			int v = digits(s + start, i - start);
			size_t nd = i - start;
			if (i < len && s[i] == ':' && !have_time) {
				/* hh:mm[:ss] */
				if (nd > 2 || len - i < 3 || !is_digit(s[i + 1]) ||
				    !is_digit(s[i + 2]))
					return -1;
				hh = v;
				mm = digits(s + i + 1, 2);
				i += 3;
				if (i + 2 < len && s[i] == ':' && is_digit(s[i + 1]) &&
				    is_digit(s[i + 2])) {
					ss = digits(s + i + 1, 2);
					i += 3;
				}
				if (i < len && is_digit(s[i]))
					return -1;
				have_time = true;
				continue;
			}
			if (day < 0 && nd <= 2 && v >= 1 && v <= 31 && year < 0 &&
			    !(month == 0 && have_time)) {
				day = v;
			} else if (year < 0 && nd >= 2) {
				year = v;
				year_digits = (int)nd;
			} else if (day < 0 && nd <= 2 && v >= 1 && v <= 31) {
				day = v;
			} else {
				return -1;
			}
			/* "7-Feb-1994": a dash between the parts */
			if (i < len && s[i] == '-' && i + 1 < len && is_alpha(s[i + 1]))
				i++;
			continue;
		}
		if ((c == '+' || c == '-') && len - i >= 5 && is_digit(s[i + 1]) &&
		    is_digit(s[i + 2]) && is_digit(s[i + 3]) && is_digit(s[i + 4]) &&
		    (len - i == 5 || !is_digit(s[i + 5]))) {
			int zh = digits(s + i + 1, 2), zm = digits(s + i + 3, 2);
			if (zh > 23 || zm > 59)
				return -1;
			if (!have_zone) {
				tz = zh * 60 + zm;
				if (c == '-')
					tz = -tz;
				have_zone = true;
			}
			i += 5;
			continue;
		}
		if (is_alpha(c)) {
			size_t start = i;
			while (i < len && (is_alpha(s[i]) || s[i] == '.'))
				i++;
			size_t wl = i - start;
			while (wl > 0 && s[start + wl - 1] == '.')
				wl--;
			int m = month_from_name(s + start, wl);
			if (m == 0 && wl > 3)
				m = month_from_name(s + start, 3); /* "February", "Sept" */
			if (m != 0 && month == 0) {
				month = m;
				if (i < len && s[i] == '-' && i + 1 < len && is_digit(s[i + 1]))
					i++;
				continue;
			}
			if (have_time && !have_zone) {
				for (size_t z = 0; z < sizeof(zone_names) / sizeof(zone_names[0]);
				     z++) {
					size_t zl = strlen(zone_names[z].name);
					if (zl == wl &&
					    ascii_nieq(s + start, zone_names[z].name, zl)) {
						tz = zone_names[z].minutes;
						have_zone = true;
						break;
					}
				}
				/* military letters and unknown names: -0000 */
			}
			/* day names and anything else: ignored */
			continue;
		}
		/* any other punctuation: ignored */
		i++;
	}
	if (day < 0 || month == 0 || year < 0)
		return -1;
	if (year_digits <= 2)
		year += year < 50 ? 2000 : 1900;
	else if (year_digits == 3)
		year += 1900;
	if (year < 1 || year > 9999 || day > imap_days_in_month(year, month))
		return -1;
	if (hh > 23 || mm > 59 || ss > 60)
		return -1;
	if (ss == 60)
		ss = 59; /* a leap second: time_t has none */
	int64_t secs =
	    imap_days_from_civil(year, month, day) * SECS_PER_DAY + hh * 3600 + mm * 60 + ss;
	*t_r = (time_t)(secs - (int64_t)tz * 60);
	*tz_minutes_r = tz;
	return 0;
}
