/* fuzz_smtp_data.c - libFuzzer target for the DATA/BDAT content decoder: the
 * same bytes decoded in one call and in splits chosen by the input agree. */
#undef NDEBUG /* the assertions are what a fuzz target checks */
#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every CR is followed by LF and every LF preceded by CR. */
static bool all_crlf(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\r' && (i + 1 == len || s[i + 1] != '\n'))
			return false;
		if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
			return false;
	}
	return true;
}

/* Where decoding must stop: just after the first <CRLF>.<CRLF>, or after
 * ".<CRLF>" as the very first line; bare CR or LF never count. 0 if none. */
static size_t end_of_data(const char *in, size_t len)
{
	if (len >= 3 && memcmp(in, ".\r\n", 3) == 0)
		return 3;
	const char *p = memmem(in, len, "\r\n.\r\n", 5);
	return p != NULL ? (size_t)(p - in) + 5 : 0;
}

/* BDAT content written the slow way: each CRLF, bare CR or bare LF as CRLF. */
static size_t bdat_expected(const char *in, size_t len, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		if (in[i] != '\r' && in[i] != '\n') {
			out[o++] = in[i];
			continue;
		}
		if (in[i] == '\r' && i + 1 < len && in[i + 1] == '\n')
			i++;
		out[o++] = '\r';
		out[o++] = '\n';
	}
	return o;
}

/* Feed `n` bytes through an output buffer of exactly the documented size,
 * so that ASan catches any write past 2 * n + 4. */
static size_t feed(struct smtp_data_decoder *d, const char *in, size_t n, char *acc,
		   size_t *acc_len, size_t acc_max)
{
	char *out = malloc(2 * n + 4);
	size_t out_len = SIZE_MAX;
	size_t used = smtp_data_feed(d, in, n, out, &out_len);
	assert(used <= n && out_len <= 2 * n + 4);
	assert(used == n || d->done);
	assert(*acc_len + out_len <= acc_max);
	memcpy(acc + *acc_len, out, out_len);
	*acc_len += out_len;
	free(out);
	return used;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Byte 0: bit 0 selects DATA (dot mode) or BDAT. Bytes 1-4: split
	 * pattern; each chunk is b % 8 bytes, or (b & 0x7f) * 8 when b >= 0x80,
	 * and a zero-length feed is followed by one byte. */
	if (size < 5)
		return 0;
	bool dot_mode = (data[0] & 1) != 0;
	const uint8_t *split = data + 1;
	size_t len = size - 5;
	char *in = malloc(len);
	memcpy(in, data + 5, len);
	size_t max = 2 * len + 4 + 2; /* feed bound plus smtp_data_finish() */
	char *one = malloc(max), *many = malloc(max);
	size_t one_len = 0, many_len = 0;

	struct smtp_data_decoder d1, d2;
	smtp_data_init(&d1, dot_mode);
	size_t used1 = feed(&d1, in, len, one, &one_len, max);
	size_t end = dot_mode ? end_of_data(in, len) : 0;
	assert(d1.done == (end != 0) && used1 == (end != 0 ? end : len));

	smtp_data_init(&d2, dot_mode);
	size_t used2 = 0;
	for (size_t k = 0; used2 < len && !d2.done; k++) {
		size_t n = split[k % 4] < 0x80 ? split[k % 4] % 8u : (split[k % 4] & 0x7fu) * 8u;
		if (n == 0) {
			size_t none = feed(&d2, in + used2, 0, many, &many_len, max);
			assert(none == 0);
			n = 1;
		}
		if (n > len - used2)
			n = len - used2;
		used2 += feed(&d2, in + used2, n, many, &many_len, max);
	}
	assert(used2 == used1 && d2.done == d1.done);
	assert(d2.bare_cr == d1.bare_cr && d2.bare_lf == d1.bare_lf);

	if (!d1.done) {
		size_t n1, n2;
		smtp_data_finish(&d1, one + one_len, &n1);
		smtp_data_finish(&d2, many + many_len, &n2);
		assert(n1 <= 2 && n2 <= 2);
		one_len += n1;
		many_len += n2;
	}
	assert(one_len == many_len && memcmp(one, many, one_len) == 0);
	assert(all_crlf(one, one_len));
	if (!dot_mode) {
		char *want = malloc(max);
		size_t want_len = bdat_expected(in, len, want);
		assert(want_len == one_len && memcmp(want, one, one_len) == 0);
		free(want);
	}
	free(in);
	free(one);
	free(many);
	return 0;
}
