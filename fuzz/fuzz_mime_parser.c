/* fuzz_mime_parser.c - libFuzzer target for the MIME tree parser and the
 * IMAP renderers built on it: parse, check the tree's invariants (every
 * offset inside the buffer, children inside their parent, line counts),
 * render BODYSTRUCTURE, BODY and ENVELOPE, and resolve sections (fixed ones
 * and each part's own number, with BINARY decoding), checking every range.
 * Byte 0 picks the limits and flags; the rest is the message. */
#undef NDEBUG /* the assertions are what a fuzz target checks */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "imap/imap_bodystructure.h"
#include "imap/imap_envelope.h"
#include "imap/imap_quote.h"
#include "imap/imap_section.h"
#include "mime/mime_parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_tree(const struct mime_tree *t, const struct mime_limits *lim)
{
	/* LF characters before each offset, for the line counts. */
	size_t *lf = malloc((t->len + 1) * sizeof(*lf));
	lf[0] = 0;
	for (size_t k = 0; k < t->len; k++)
		lf[k + 1] = lf[k] + (t->data[k] == '\n');
	assert(t->nparts >= 1 && t->nparts <= lim->max_parts);
	assert(t->root == &t->parts[0]);
	assert(t->root->hdr_start == 0 && t->root->body_end == t->len);
	for (unsigned i = 0; i < t->nparts; i++) {
		const struct mime_part *p = &t->parts[i];
		assert(p->hdr_start <= p->hdr_end && p->hdr_end == p->body_start);
		assert(p->body_start <= p->body_end && p->body_end <= t->len);
		assert(p->depth <= lim->max_depth);
		assert(lf[p->body_end] - lf[p->body_start] == p->body_lines);
		unsigned n = 0;
		size_t prev = p->body_start;
		for (const struct mime_part *c = p->children; c != NULL; c = c->next) {
			n++;
			assert(c->parent == p && c->depth == p->depth + 1);
			assert(c->hdr_start >= prev && c->body_end <= p->body_end);
			prev = c->body_end;
		}
		assert(n == p->nchildren);
		if ((p->flags & MIME_PART_MESSAGE) != 0)
			assert(n == 1 && p->children->hdr_start == p->body_start &&
			       p->children->body_end == p->body_end);
	}
	free(lf);
}

static void check_result(const struct mime_tree *t, const struct imap_section_result *r)
{
	struct buf b;
	buf_init(&b, 0);
	if (r->fields) {
		for (size_t i = 0; i < r->nranges; i++)
			assert(r->ranges[i].start <= r->ranges[i].end &&
			       r->ranges[i].end <= t->len);
	} else {
		assert(r->start <= r->end && r->end <= t->len);
	}
	assert(imap_section_result_write(r, t, &b) == 0);
	assert(b.len == imap_section_result_size(r));
	buf_reset(&b);
	size_t s1 = 0, s2 = 0;
	enum imap_binary_status st = imap_section_binary(r, t, &b, &s1);
	assert(st == IMAP_BINARY_OK || st == IMAP_BINARY_UNKNOWN_CTE);
	if (st == IMAP_BINARY_OK) {
		assert(imap_section_binary(r, t, NULL, &s2) == IMAP_BINARY_OK);
		assert(s1 == s2 && s1 == b.len);
	}
	buf_free(&b);
}

static void resolve(const struct mime_tree *t, const char *spec, bool binary)
{
	struct imap_section sec;
	struct imap_section_result r;
	const char *err;
	if (imap_section_parse(spec, strlen(spec), binary, &sec, &err) < 0)
		return;
	if (imap_section_resolve(t, &sec, &r) == 1) {
		check_result(t, &r);
		imap_section_result_free(&r);
	}
	imap_section_free(&sec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned flags = data[0];
	struct mime_limits lim;
	mime_limits_default(&lim);
	if ((flags & 0x01) != 0) {
		lim.max_depth = 3;
		lim.max_parts = 8;
		lim.max_header_size = 64;
	}
	unsigned quote = (flags & 0x02) != 0 ? IMAP_QUOTE_UTF8 : 0;
	/* An exact-size copy, so that ASan sees any read past the end. */
	size_t len = size - 1;
	char *msg = malloc(len == 0 ? 1 : len);
	memcpy(msg, data + 1, len);

	struct mime_tree *t = mime_parse(msg, len, &lim);
	check_tree(t, &lim);
	struct buf b;
	buf_init(&b, 0);
	assert(imap_bodystructure_write(&b, t, true, quote) == 0);
	assert(b.len >= 2 && b.data[0] == '(' && b.data[b.len - 1] == ')');
	buf_reset(&b);
	assert(imap_bodystructure_write(&b, t, false, quote) == 0);
	buf_reset(&b);
	assert(imap_envelope_write(&b, msg, len, quote) == 0);
	assert(b.len >= 2 && b.data[0] == '(' && b.data[b.len - 1] == ')');
	buf_free(&b);

	static const char *const specs[] = {
	    "",
	    "HEADER",
	    "TEXT",
	    "1",
	    "1.MIME",
	    "2",
	    "1.1",
	    "1.2.3",
	    "2.HEADER",
	    "1.TEXT",
	    "HEADER.FIELDS (FROM SUBJECT Content-Type)",
	    "1.HEADER.FIELDS.NOT (TO)",
	};
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++)
		resolve(t, specs[i], false);
	/* Each part through its own number. */
	for (unsigned i = 1; i < t->nparts && i < 64; i++) {
		const struct mime_part *p = &t->parts[i];
		unsigned nums[64], n = 0;
		for (const struct mime_part *q = p; q->parent != NULL && n < 64; q = q->parent) {
			if ((q->parent->flags & MIME_PART_MULTIPART) != 0)
				nums[n++] = q->number;
		}
		if (n == 0 || n == 64)
			continue;
		char spec[64 * 11 + 8];
		size_t k = 0;
		for (unsigned j = n; j-- > 0;)
			k += (size_t)snprintf(spec + k, sizeof(spec) - k, j + 1 < n ? ".%u" : "%u",
					      nums[j]);
		resolve(t, spec, true);
		snprintf(spec + k, sizeof(spec) - k, ".MIME");
		resolve(t, spec, false);
	}
	mime_tree_free(&t);
	free(msg);
	return 0;
}
