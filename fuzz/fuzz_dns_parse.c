/* fuzz_dns_parse.c - libFuzzer target for dns_parse_answer(): the input is a
 * DNS response message; whatever parses must respect the parser's bounds. */
#undef NDEBUG /* the assertions are what a fuzz target checks */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dns/dns_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy, so that ASan sees any read past the end. */
	uint8_t *msg = malloc(size == 0 ? 1 : size);
	memcpy(msg, data, size);
	struct dns_answer a;
	const char *why;
	if (dns_parse_answer(msg, size, &a, &why) == 0) {
		assert(why == NULL);
		assert(a.rcode <= 15 && a.ncname <= DNS_CNAME_MAX);
		assert(strlen(a.qname) < DNS_NAME_TEXT_MAX && strlen(a.name) < DNS_NAME_TEXT_MAX);
		assert(a.nmx <= DNS_ANSWER_MAX && a.naddr <= DNS_ANSWER_MAX &&
		       a.ntxt <= DNS_ANSWER_MAX);
		/* Only the array of the asked type is filled. */
		if (a.qtype != DNS_TYPE_MX)
			assert(a.nmx == 0 && !a.null_mx);
		if (a.qtype != DNS_TYPE_A && a.qtype != DNS_TYPE_AAAA)
			assert(a.naddr == 0);
		if (a.qtype != DNS_TYPE_TXT)
			assert(a.ntxt == 0);
		for (size_t i = 0; i < a.nmx; i++)
			assert(strlen(a.mx[i].host) > 0 && a.mx[i].pref <= 0xffff);
		for (size_t i = 0; i < a.naddr; i++)
			assert(a.addr[i].family == (a.qtype == DNS_TYPE_A ? AF_INET : AF_INET6));
		for (size_t i = 0; i < a.ntxt; i++)
			assert(a.txt[i].len < size && a.txt[i].data[a.txt[i].len] == '\0');
		assert(!a.null_mx || (a.nmx == 1 && strcmp(a.mx[0].host, ".") == 0));
		dns_answer_free(&a);
	} else {
		assert(why != NULL && why[0] != '\0');
	}
	free(msg);
	return 0;
}
