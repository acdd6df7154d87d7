/* fuzz_smtp_submit.c - libFuzzer target for the submission header scan
 * (smtp_submit.c): submit_header_end() on the input and on its prefixes,
 * then submit_scan_headers() on the header section (or on everything when
 * it has no end), with the invariants of what it reports. */
#undef NDEBUG /* the assertions are what a fuzz target checks */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp/smtp_submit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Offset after the first CRLF CRLF (or 2 for a leading CRLF), else 0. */
static size_t reference_end(const char *d, size_t len)
{
	if (len >= 2 && d[0] == '\r' && d[1] == '\n')
		return 2;
	for (size_t i = 0; i + 4 <= len; i++)
		if (memcmp(d + i, "\r\n\r\n", 4) == 0)
			return i + 4;
	return 0;
}

static int contains_ci(const char *hay, size_t len, const char *needle)
{
	size_t n = strlen(needle);
	for (size_t i = 0; i + n <= len; i++)
		if (strncasecmp(hay + i, needle, n) == 0)
			return 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy, so that ASan sees any read past the end. */
	char *d = malloc(size == 0 ? 1 : size);
	memcpy(d, data, size);

	size_t end = submit_header_end(d, size);
	assert(end == reference_end(d, size));
	assert(end <= size);
	if (end > 0) {
		/* the end is found as soon as it is complete, and not before */
		assert(submit_header_end(d, end) == end);
		assert(submit_header_end(d, end - 1) == 0);
	}

	size_t hlen = end > 0 ? end : size;
	struct submit_headers h;
	memset(&h, 0xa5, sizeof(h));
	submit_scan_headers(d, hlen, &h);
	assert(h.naddrs <= SUBMIT_MAX_ADDRS);
	/* Addresses never contain NUL (an address with one is unparsable), so
	 * each stored address is a whole C string. */
	for (unsigned i = 0; i < h.naddrs; i++) {
		const char *a = h.addrs[i];
		size_t n = strnlen(a, SUBMIT_ADDR_MAX);
		assert(n < SUBMIT_ADDR_MAX);
		assert(n > 0);
		const char *at = strchr(a, '@');
		assert(at != NULL && at != a && at[1] != '\0');
		assert(strpbrk(a, " \t<>,") == NULL);
		assert(a[0] != ' ' && a[n - 1] != ' ');
	}
	if (h.has_message_id)
		assert(contains_ci(d, hlen, "message-id:"));
	if (h.has_date)
		assert(contains_ci(d, hlen, "date:"));
	if (h.from_fields > 0 || h.naddrs > 0)
		assert(contains_ci(d, hlen, "from:") || contains_ci(d, hlen, "sender:"));
	if (h.from_fields == 0 && !contains_ci(d, hlen, "sender:"))
		assert(h.naddrs == 0 && !h.unparsable);

	/* the same scan twice gives the same answer (no hidden state) */
	struct submit_headers again;
	memset(&again, 0, sizeof(again));
	submit_scan_headers(d, hlen, &again);
	assert(again.naddrs == h.naddrs && again.from_fields == h.from_fields &&
	       again.unparsable == h.unparsable && again.has_date == h.has_date &&
	       again.has_message_id == h.has_message_id);
	for (unsigned i = 0; i < h.naddrs; i++)
		assert(strcmp(again.addrs[i], h.addrs[i]) == 0);
	free(d);
	return 0;
}
