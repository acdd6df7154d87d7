/* fuzz_smtp_addr.c - libFuzzer target for smtp_addr_parse/format(): byte 0 picks the
 * flags (bit 0x10 also runs smtp_domain_normalize), the rest is the path. */
#undef NDEBUG /* the assertions are what a fuzz target checks */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned flags = data[0] & 0x0f;
	/* An exact-size copy, so that ASan sees any read past the end. */
	char *s = malloc(size - 1);
	memcpy(s, data + 1, size - 1);
	struct smtp_addr a, b;
	const char *why;
	char text[SMTP_LOCAL_MAX * 2 + SMTP_DOMAIN_MAX + 8];
	if (smtp_addr_parse(s, size - 1, flags, &a, &why) == SMTP_ADDR_OK) {
		assert(why == NULL && strlen(a.local) < sizeof(a.local));
		int n = smtp_addr_format(&a, text, sizeof(text));
		assert(n >= 0 && (size_t)n == strlen(text));
		/* The rendered "local@domain" parses back to the same address. */
		if (!a.null) {
			int e = smtp_addr_parse(text, (size_t)n, flags | SMTP_ADDR_NO_BRACKETS, &b,
						&why);
			assert(e == SMTP_ADDR_OK);
			assert(strcmp(a.local, b.local) == 0 && strcmp(a.domain, b.domain) == 0);
			assert(a.postmaster == b.postmaster && a.literal == b.literal);
		}
	} else {
		assert(why != NULL);
	}
	if ((data[0] & 0x10) != 0 && memchr(s, '\0', size - 1) == NULL) {
		/* The same bytes as an administrator's domain name: a normalised
		 * domain is valid and normalises to itself. */
		char *dom = strndup(s, size - 1), norm[SMTP_DOMAIN_MAX + 1], again[sizeof(norm)];
		if (smtp_domain_normalize(dom, norm, sizeof(norm)) == 0) {
			assert(smtp_domain_is_valid(norm, strlen(norm)));
			int e = smtp_domain_normalize(norm, again, sizeof(again));
			assert(e == 0 && strcmp(norm, again) == 0);
		}
		free(dom);
	}
	free(s);
	return 0;
}
