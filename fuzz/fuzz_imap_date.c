/* fuzz_imap_date.c - libFuzzer target for IMAP dates, date-times and the
 * tolerant RFC 5322 Date: reader: every accepted value formats, and the
 * formatted text parses back to the same value. */
#undef NDEBUG /* the assertions are what a fuzz target checks */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "imap/imap_date.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	const char *why = NULL;
	char out[IMAP_DATETIME_LEN + 1];
	time_t t, t2;
	int tz, tz2;
	int64_t day, day2;

	if (imap_date_parse(s, size, &day, &why) == 0) {
		imap_date_format(day, out, sizeof(out));
		assert(imap_date_parse(out, strlen(out), &day2, &why) == 0 && day2 == day);
	} else {
		assert(why != NULL);
	}
	if (imap_datetime_parse(s, size, &t, &tz, &why) == 0) {
		assert(tz > -24 * 60 && tz < 24 * 60);
		assert(imap_datetime_format(t, tz, out, sizeof(out)) == 0);
		assert(strlen(out) == IMAP_DATETIME_LEN);
		assert(imap_datetime_parse(out, strlen(out), &t2, &tz2, &why) == 0);
		assert(t2 == t && tz2 == tz);
	}
	if (imap_rfc5322_date_parse(s, size, &t, &tz) == 0) {
		assert(tz > -24 * 60 && tz < 24 * 60);
		assert(imap_datetime_format(t, tz, out, sizeof(out)) == 0);
		assert(imap_datetime_parse(out, strlen(out), &t2, &tz2, &why) == 0);
		assert(t2 == t && tz2 == tz);
		/* the IMAP form is also a valid RFC 5322 date */
		assert(imap_rfc5322_date_parse(out, strlen(out), &t2, &tz2) == 0);
		assert(t2 == t && tz2 == tz);
	}
	/* Any instant and zone in range formats and parses back. */
	if (size >= 10) {
		int64_t v;
		int16_t z;
		memcpy(&v, data, 8);
		memcpy(&z, data + 8, 2);
		v %= 250000000000ll;
		z %= 24 * 60;
		if (imap_datetime_format((time_t)v, z, out, sizeof(out)) == 0) {
			assert(imap_datetime_parse(out, strlen(out), &t2, &tz2, &why) == 0);
			assert(t2 == (time_t)v && tz2 == z);
			assert(imap_day_of((time_t)v, z) == imap_day_of(t2, tz2));
		}
	}
	return 0;
}
