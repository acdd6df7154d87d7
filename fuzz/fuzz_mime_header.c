/* fuzz_mime_header.c - libFuzzer target for header iteration, unfolding,
 * RFC 2047 decoding, parameter lists with RFC 2231 merging and decoding,
 * the address-list parser, section spec parsing, and ENVELOPE. Byte 0
 * picks the iteration limits; the rest is a header section. */
#undef NDEBUG /* the assertions are what a fuzz target checks */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "imap/imap_envelope.h"
#include "imap/imap_section.h"
#include "mime/mime_address.h"
#include "mime/mime_header.h"
#include "mime/mime_param.h"
#include "mime/mime_rfc2047.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool inside(const char *p, size_t n, const char *base, size_t len)
{
	return p >= base && n <= len && (size_t)(p - base) <= len - n;
}

static void check_addresses(const struct mime_address_list *l, size_t max)
{
	assert(max == 0 || l->n <= max);
	for (size_t i = 0; i < l->n; i++) {
		const struct mime_address *a = &l->v[i];
		const char *s[4] = {a->name, a->route, a->mailbox, a->domain};
		size_t n[4] = {a->name_len, a->route_len, a->mailbox_len, a->domain_len};
		for (int k = 0; k < 4; k++) {
			if (s[k] == NULL)
				continue;
			bool own = inside(s[k], n[k], l->text.data, l->text.len);
			bool fill = strcmp(s[k], "MISSING_MAILBOX") == 0 ||
				    strcmp(s[k], "MISSING_DOMAIN") == 0;
			assert(own || fill);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct mime_header_limits lim = {.max_fields = data[0] & 0x0f,
					 .max_field_len = (size_t)(data[0] >> 4) * 16};
	size_t len = size - 1;
	char *hdr = malloc(len == 0 ? 1 : len);
	memcpy(hdr, data + 1, len);

	struct buf unfolded, decoded;
	buf_init(&unfolded, 0);
	buf_init(&decoded, 0);
	struct mime_address_list al;
	mime_address_list_init(&al);
	struct mime_param_list pl;
	mime_param_list_init(&pl, 50);

	struct mime_header_iter it;
	struct mime_header_field f;
	mime_header_iter_init(&it, hdr, len, &lim);
	size_t prev_end = 0;
	while (mime_header_iter_next(&it, &f) > 0) {
		assert(f.start >= prev_end && f.start < f.end && f.end <= len);
		assert(f.line_end <= f.end);
		assert(inside(f.name, f.name_len, hdr, len));
		assert(inside(f.value, f.value_len, hdr, len));
		assert(lim.max_field_len == 0 || f.value_len <= lim.max_field_len);
		prev_end = f.end;

		buf_reset(&unfolded);
		assert(mime_header_unfold(f.value, f.value_len, &unfolded) == 0);
		assert(unfolded.len <= f.value_len);
		const char *v = unfolded.data != NULL ? unfolded.data : "";

		buf_reset(&decoded);
		assert(mime_rfc2047_decode(v, unfolded.len, &decoded) == 0);
		assert(decoded.len <= 4 * unfolded.len + 16);

		mime_address_parse(&al, v, unfolded.len, 100);
		check_addresses(&al, 100);

		mime_param_list_reset(&pl);
		mime_param_parse(v, unfolded.len, &pl);
		assert(pl.n <= 50);
		for (size_t i = 0; i < pl.n; i++) {
			size_t nl, vl;
			const char *n = mime_param_name(&pl, i, &nl);
			const char *pv = mime_param_value(&pl, i, &vl);
			assert(inside(n, nl, pl.text.data, pl.text.len));
			assert(inside(pv, vl, pl.text.data, pl.text.len));
			if (nl > 0 && n[nl - 1] == '*') {
				buf_reset(&decoded);
				int r = mime_rfc2231_decode(pv, vl, &decoded);
				assert(r == 0 || r == -2);
			}
		}
	}
	assert(it.header_end <= len && it.blank_start <= it.header_end);
	assert(mime_header_size(hdr, len, NULL) == it.header_end);

	/* The same bytes as a section spec. */
	struct imap_section sec;
	const char *err;
	if (imap_section_parse(hdr, len, false, &sec, &err) == 0) {
		struct buf b;
		buf_init(&b, 0);
		assert(imap_section_write(&sec, &b) == 0);
		buf_free(&b);
		imap_section_free(&sec);
	}

	struct buf env;
	buf_init(&env, 0);
	assert(imap_envelope_write(&env, hdr, len, data[0] & 1) == 0);
	buf_free(&env);

	mime_param_list_free(&pl);
	mime_address_list_free(&al);
	buf_free(&unfolded);
	buf_free(&decoded);
	free(hdr);
	return 0;
}
