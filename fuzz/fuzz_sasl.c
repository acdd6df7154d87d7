/* fuzz_sasl.c - libFuzzer target for the SASL server exchanges (sasl.c) and
 * the strict base64 codec (base64.c).
 *
 * Byte 0 chooses: bit 0 the mechanism (PLAIN/LOGIN), bit 1 no initial
 * response (a NULL first step), bit 2 whether each response is sent as is
 * (base64 text typed by a client) or base64-encoded by the harness first
 * (so that the field rules behind the decoder are reached). The rest is
 * split at '\n' into up to 8 responses. The whole input after byte 0 also
 * goes through base64_decode(), whose accepted input must re-encode to the
 * same text (one canonical spelling). */
#undef NDEBUG /* the assertions are what a fuzz target checks */
#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/base64.h"
#include "auth/sasl.h"
#include "core/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_field(const char *f, bool may_be_empty)
{
	size_t n = strnlen(f, SASL_FIELD_MAX);
	assert(n < SASL_FIELD_MAX);
	assert(may_be_empty || n > 0);
	assert(utf8_valid(f, n));
}

static void check_base64(const uint8_t *in, size_t len)
{
	/* exact-size copies: ASan sees any access past either end */
	char *text = malloc(len + 1);
	memcpy(text, in, len);
	size_t cap = len / 4 * 3;
	unsigned char *out = malloc(cap + 1);
	long n = base64_decode(text, len, out);
	if (n >= 0) {
		assert((size_t)n <= cap);
		assert(len % 4 == 0);
		char *re = malloc(base64_encoded_len((size_t)n) + 1);
		base64_encode(out, (size_t)n, re);
		assert(strlen(re) == len && memcmp(re, text, len) == 0);
		free(re);
	}
	/* and every input encodes to text that decodes back to it */
	char *enc = malloc(base64_encoded_len(len) + 1);
	base64_encode(in, len, enc);
	size_t elen = strlen(enc);
	assert(elen == base64_encoded_len(len));
	unsigned char *back = malloc(elen / 4 * 3 + 1);
	assert(base64_decode(enc, elen, back) == (long)len);
	assert(memcmp(back, in, len) == 0);
	free(back);
	free(enc);
	free(out);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t mode = data[0];
	const uint8_t *p = data + 1;
	size_t len = size - 1;
	check_base64(p, len);

	struct sasl_server s;
	assert(sasl_start(&s, (mode & 1) ? "LOGIN" : "plain") == 0);
	char challenge[64];
	const char *why = NULL;
	enum sasl_status st = SASL_CONTINUE;
	int steps = 0;
	if (mode & 2) {
		st = sasl_step(&s, NULL, challenge, sizeof(challenge), &why);
		steps++;
	}
	size_t pos = 0;
	while (st == SASL_CONTINUE && steps < 9 && pos <= len) {
		const uint8_t *nl = memchr(p + pos, '\n', len - pos);
		size_t n = nl != NULL ? (size_t)(nl - (p + pos)) : len - pos;
		char *resp;
		if (mode & 4) {
			resp = malloc(base64_encoded_len(n) + 1);
			base64_encode(p + pos, n, resp);
		} else {
			resp = malloc(n + 1); /* a line: stops at a NUL like a C string */
			memcpy(resp, p + pos, n);
			resp[n] = '\0';
		}
		memset(challenge, 'X', sizeof(challenge));
		why = NULL;
		st = sasl_step(&s, resp, challenge, sizeof(challenge), &why);
		free(resp);
		steps++;
		pos += n + 1;
		if (st == SASL_CONTINUE) {
			assert(why == NULL);
			assert(memchr(challenge, '\0', sizeof(challenge)) != NULL);
			assert(strcmp(challenge, "") == 0 ||
			       strcmp(challenge, "VXNlcm5hbWU6") == 0 ||
			       strcmp(challenge, "UGFzc3dvcmQ6") == 0);
		}
	}
	switch (st) {
	case SASL_DONE:
		assert(why == NULL);
		check_field(s.authcid, false);
		check_field(s.password, false);
		check_field(s.authzid, true);
		/* no proxy authorisation */
		assert(s.authzid[0] == '\0' || strcmp(s.authzid, s.authcid) == 0);
		break;
	case SASL_FAIL:
		assert(why != NULL && why[0] != '\0');
		break;
	case SASL_CONTINUE:
	case SASL_CANCELLED:
		assert(why == NULL);
		break;
	default:
		assert(!"unknown status");
	}
	sasl_wipe(&s);
	static const struct sasl_server zero;
	assert(memcmp(&s, &zero, sizeof(s)) == 0);
	return 0;
}
