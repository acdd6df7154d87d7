/* fuzz_smtp_reply.c - libFuzzer target for the SMTP reply parser, the reply
 * text renderer, the EHLO keyword reader and xtext: the same bytes parsed
 * whole, one byte at a time and in splits chosen by the input agree. */
#undef NDEBUG /* the assertions are what a fuzz target checks */
#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "smtp/smtp_client.h"
#include "smtp/smtp_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Render every reply of in[0..len), fed in pieces of `step` bytes (0: all
 * at once), into out: "code|enh|line|...;" then "E" on error. */
static size_t render(const char *in, size_t len, size_t step, char *out, size_t cap)
{
	struct smtp_reply_limits lim = {.max_line = 64, .max_lines = 8};
	struct smtp_reply_parser *p = smtp_reply_parser_new(&lim);
	size_t o = 0;
	bool failed = false;
	for (size_t i = 0; i < len && !failed;) {
		size_t n = step == 0 || step > len - i ? len - i : step;
		char *chunk = malloc(n);
		memcpy(chunk, in + i, n);
		size_t off = 0;
		while (off < n) {
			struct smtp_reply r;
			size_t used;
			const char *why;
			enum smtp_reply_status st =
			    smtp_reply_parse(p, chunk + off, n - off, &used, &r, &why);
			assert(used <= n - off);
			off += used;
			if (st == SMTP_REPLY_ERROR) {
				assert(why != NULL && why[0] != '\0');
				if (o < cap)
					out[o++] = 'E';
				failed = true;
				break;
			}
			assert(why == NULL);
			if (st == SMTP_REPLY_MORE) {
				assert(off == n);
				break;
			}
			assert(r.code >= 200 && r.code <= 599);
			assert(r.nlines >= 1 && r.nlines <= lim.max_lines);
			assert(strlen(r.enhanced) < SMTP_ENHANCED_MAX);
			assert(r.enhanced[0] == '\0' ||
			       (unsigned)(r.enhanced[0] - '0') == r.code / 100);
			int k = snprintf(out + o, cap - o, "%u|%s", r.code, r.enhanced);
			o += k > 0 ? (size_t)k : 0;
			for (unsigned l = 0; l < r.nlines && o < cap; l++) {
				size_t ll = strlen(r.lines[l]);
				assert(ll + 4 <= lim.max_line);
				assert(strchr(r.lines[l], '\r') == NULL &&
				       strchr(r.lines[l], '\n') == NULL);
				k = snprintf(out + o, cap - o, "|%s", r.lines[l]);
				o += k > 0 ? (size_t)k : 0;
			}
			if (o < cap)
				out[o++] = ';';
			/* The one-line text: bounded, printable, valid UTF-8. */
			char text[100];
			size_t tl = smtp_reply_text(&r, text, sizeof(text));
			assert(tl == strlen(text) && tl < sizeof(text));
			for (size_t t = 0; t < tl; t++)
				assert((unsigned char)text[t] >= 0x20 && text[t] != 0x7f);
			assert(utf8_valid(text, tl));
			struct smtp_ehlo e;
			smtp_ehlo_parse(&r, &e);
			assert((e.auth_mechs != 0) <= e.auth);
			assert(e.size_max == 0 || e.size);
		}
		free(chunk);
		i += n;
	}
	smtp_reply_parser_free(&p);
	return o < cap ? o : cap;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	size_t step = data[0] % 16 + 1;
	const char *in = (const char *)data + 1;
	size_t len = size - 1;
	size_t cap = 4 * len + 64;
	char *a = malloc(cap), *b = malloc(cap), *c = malloc(cap);
	size_t la = render(in, len, 0, a, cap);
	size_t lb = render(in, len, 1, b, cap);
	size_t lc = render(in, len, step, c, cap);
	assert(la == lb && memcmp(a, b, la) == 0);
	assert(la == lc && memcmp(a, c, la) == 0);
	free(a);
	free(b);
	free(c);

	/* xtext: the encoding is printable ASCII without '=' and never cut
	 * inside an escape. */
	char *s = malloc(len + 1);
	memcpy(s, in, len);
	s[len] = '\0';
	char x[64];
	size_t need = smtp_xtext_encode(s, x, sizeof(x));
	size_t xl = strlen(x);
	assert(xl <= need && xl < sizeof(x));
	for (size_t i = 0; i < xl; i++) {
		assert(x[i] >= '!' && x[i] <= '~' && x[i] != '=');
		if (x[i] == '+')
			assert(i + 2 < xl);
	}
	free(s);
	return 0;
}
