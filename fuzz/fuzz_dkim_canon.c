/* fuzz_dkim_canon.c - libFuzzer target for DKIM canonicalisation: the
 * header index, bottom-up field selection, relaxed/simple header fields,
 * b= removal, and the streaming body canonicaliser (whole, chunked and one
 * byte at a time must agree; the output is idempotent and well formed).
 * Byte 0 picks the chunk size, the field limit and the l= limit; the rest
 * is a message. */
#undef NDEBUG /* the assertions are what a fuzz target checks */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "dkim/dkim_canon.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void emit_buf(void *ctx, const void *p, size_t n)
{
	assert(n > 0);
	buf_append(ctx, p, n);
}

static void canon_body(enum dkim_canon c, const char *body, size_t len, size_t chunk,
		       uint64_t limit, struct buf *out)
{
	struct dkim_body_canon bc;
	dkim_body_canon_init(&bc, c, limit, emit_buf, out);
	for (size_t pos = 0; pos < len; pos += chunk)
		dkim_body_canon_update(&bc, body + pos, len - pos < chunk ? len - pos : chunk);
	dkim_body_canon_final(&bc);
	assert(bc.emitted <= limit);
	assert(bc.emitted == (bc.length < limit ? bc.length : limit));
}

static void check_body(enum dkim_canon c, const char *body, size_t len, size_t chunk,
		       uint64_t limit)
{
	struct buf whole, pieces, bytes, again;
	buf_init(&whole, 0);
	buf_init(&pieces, 0);
	buf_init(&bytes, 0);
	buf_init(&again, 0);
	assert(dkim_canon_body(c, body, len, &whole) == 0);
	canon_body(c, body, len, chunk, UINT64_MAX, &pieces);
	canon_body(c, body, len, 1, UINT64_MAX, &bytes);
	assert(whole.len == pieces.len && whole.len == bytes.len);
	assert(whole.len == 0 || (memcmp(whole.data, pieces.data, whole.len) == 0 &&
				  memcmp(whole.data, bytes.data, whole.len) == 0));
	const char *o = whole.data;
	size_t n = whole.len;
	/* Well formed: CRLF line ends only, ends with exactly one CRLF (relaxed
	 * may be empty), no trailing empty lines. */
	if (c == DKIM_CANON_SIMPLE)
		assert(n >= 2);
	if (n > 0) {
		assert(n >= 2 && o[n - 2] == '\r' && o[n - 1] == '\n');
		assert(n < 4 || memcmp(o + n - 4, "\r\n\r\n", 4) != 0);
	}
	for (size_t i = 0; i < n; i++) {
		if (o[i] == '\n')
			assert(i > 0 && o[i - 1] == '\r');
		if (c == DKIM_CANON_RELAXED) {
			assert(o[i] != '\t');
			if (o[i] == ' ')
				assert(i + 1 < n && o[i + 1] != ' ' &&
				       !(o[i + 1] == '\r' && i + 2 < n && o[i + 2] == '\n'));
		}
	}
	/* Idempotent. */
	assert(dkim_canon_body(c, o, n, &again) == 0);
	assert(again.len == n && (n == 0 || memcmp(again.data, o, n) == 0));
	/* l= cuts the same output. */
	buf_reset(&pieces);
	canon_body(c, body, len, chunk, limit, &pieces);
	assert(pieces.len == (limit < n ? limit : n));
	assert(pieces.len == 0 || memcmp(pieces.data, o, pieces.len) == 0);
	buf_free(&whole);
	buf_free(&pieces);
	buf_free(&bytes);
	buf_free(&again);
}

static void check_field(const char *f, size_t len)
{
	struct buf simple, relaxed, again, sig;
	buf_init(&simple, 0);
	buf_init(&relaxed, 0);
	buf_init(&again, 0);
	buf_init(&sig, 0);
	assert(dkim_canon_header(DKIM_CANON_SIMPLE, f, len, &simple) == 0);
	assert(simple.len <= len && (simple.len == 0 || memcmp(simple.data, f, simple.len) == 0));
	assert(dkim_canon_header(DKIM_CANON_RELAXED, f, len, &relaxed) == 0);
	assert(relaxed.len <= len);
	const char *r = relaxed.data;
	for (size_t i = 0; i < relaxed.len; i++) {
		assert(r[i] != '\n' && r[i] != '\t');
		if (r[i] == ' ')
			assert(i > 0 && i + 1 < relaxed.len && r[i + 1] != ' ');
	}
	const char *colon = relaxed.len > 0 ? memchr(r, ':', relaxed.len) : NULL;
	if (colon != NULL) {
		for (const char *p = r; p < colon; p++)
			assert(!(*p >= 'A' && *p <= 'Z'));
		assert(colon == r || colon[-1] != ' ');
		assert(colon + 1 == r + relaxed.len || colon[1] != ' ');
	}
	assert(dkim_canon_header(DKIM_CANON_RELAXED, r, relaxed.len, &again) == 0);
	assert(again.len == relaxed.len && (again.len == 0 || memcmp(again.data, r, again.len) == 0));
	assert(dkim_canon_sig_header(DKIM_CANON_RELAXED, f, len, &sig) == 0);
	assert(sig.len <= relaxed.len);
	buf_reset(&sig);
	assert(dkim_canon_sig_header(DKIM_CANON_SIMPLE, f, len, &sig) == 0);
	assert(sig.len <= simple.len);
	buf_free(&simple);
	buf_free(&relaxed);
	buf_free(&again);
	buf_free(&sig);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t chunk = (size_t)(data[0] & 0x0f) + 1;
	size_t max_fields = (size_t)(data[0] >> 4) * 4; /* 0 = no limit */
	uint64_t limit = (uint64_t)data[0] * 3;
	size_t len = size - 1;
	char *msg = malloc(len == 0 ? 1 : len);
	memcpy(msg, data + 1, len);

	struct dkim_headers h;
	int rc = dkim_headers_parse(&h, msg, len, max_fields);
	assert(h.body_start <= len);
	assert(max_fields == 0 || h.n <= max_fields);
	size_t prev_end = 0;
	for (size_t i = 0; i < h.n; i++) {
		const struct dkim_hfield *f = &h.v[i];
		assert(f->start >= prev_end && f->start + f->raw_len <= f->end && f->end <= len);
		assert(f->name >= msg + f->start && f->name + f->name_len <= msg + f->end);
		prev_end = f->end;
		check_field(msg + f->start, f->raw_len);
		/* Bottom-up selection finds this field's name. */
		dkim_headers_reset(&h);
		long idx = dkim_headers_pick(&h, f->name, f->name_len);
		assert(idx >= (long)i);
	}
	if (rc == 0 && h.n > 0) {
		/* The first field's value as an h= list. */
		const struct dkim_hfield *f = &h.v[0];
		const char *v = f->name + f->name_len;
		const char *end = msg + f->start + f->raw_len;
		while (v < end && *v != ':')
			v++;
		if (v < end) {
			struct buf out;
			buf_init(&out, 0);
			if (dkim_canon_signed_headers(&h, DKIM_CANON_RELAXED, v + 1,
						      (size_t)(end - v - 1), &out) == 0)
				assert(out.len == 0 || (out.len >= 2 && out.data[out.len - 1] == '\n'));
			buf_free(&out);
		}
	}
	if (rc == 0) {
		check_body(DKIM_CANON_SIMPLE, msg + h.body_start, len - h.body_start, chunk, limit);
		check_body(DKIM_CANON_RELAXED, msg + h.body_start, len - h.body_start, chunk, limit);
	}
	dkim_headers_free(&h);

	/* The whole input as one header field. */
	check_field(msg, len);

	enum dkim_canon hc, bc;
	if (dkim_canon_parse(msg, len, &hc, &bc) == 0)
		assert(len >= 6);
	free(msg);
	return 0;
}
