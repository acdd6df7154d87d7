/* dkim_canon.h - DKIM canonicalisation (RFC 6376 3.4) and header field
 * selection (RFC 6376 5.4.2): the byte-exact transformations a signer and a
 * verifier must agree on, kept apart from keys and hashes.
 *
 * Pure: no I/O, no globals. Output goes into a caller's struct buf or, for
 * the streaming body canonicaliser, through a callback. Every function
 * stays within the [data, data + len) range it is given.
 *
 * Line ends: messages are expected with CRLF line ends (what the store
 * keeps). A bare LF is taken as a line end too (a message in "native"
 * form, RFC 6376 5.3); a bare CR is ordinary data. */
#ifndef POSTANE_DKIM_CANON_H
#define POSTANE_DKIM_CANON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

enum dkim_canon {
	DKIM_CANON_SIMPLE,
	DKIM_CANON_RELAXED,
};

/* Parse a c= value: "simple", "relaxed", "relaxed/simple", ... (a missing
 * body part means simple). Returns 0, or -1 for anything else. */
int dkim_canon_parse(const char *s, size_t len, enum dkim_canon *header_r, enum dkim_canon *body_r);
/* "simple" or "relaxed". */
const char *dkim_canon_name(enum dkim_canon c);

/* ----- header fields ----- */

/* Append the canonical form of one header field to out, WITHOUT a final
 * CRLF (the caller adds it; the DKIM-Signature field itself is hashed
 * without one). `field` is the whole field as it appears in the message:
 * name, colon, value with its folds; a final line end, if included, is
 * ignored. simple: the bytes unchanged. relaxed: name lowercased, folds
 * removed, WSP runs as one SP, no WSP around the colon or at the end.
 * Returns 0, or -1 if out would exceed its maximum. */
int dkim_canon_header(enum dkim_canon c, const char *field, size_t len, struct buf *out);

/* Append the canonical form of a DKIM-Signature field with the value of
 * its b= tag removed (RFC 6376 3.7: the tag stays, as "b=", and the
 * whitespace around its value goes with the value), without a final CRLF.
 * Returns 0, or -1 if out would exceed its maximum. */
int dkim_canon_sig_header(enum dkim_canon c, const char *field, size_t len, struct buf *out);

/* ----- the header section ----- */

struct dkim_hfield {
	const char *name; /* field name (trailing blanks before ':' removed) */
	size_t name_len;
	size_t start;	 /* offset of the field's first byte in the message */
	size_t end;	 /* offset just past the field's final line end */
	size_t raw_len;	 /* bytes of the field without its final line end */
	bool picked;	 /* already chosen by dkim_headers_pick() */
};

struct dkim_headers {
	const char *msg;
	size_t len;
	struct dkim_hfield *v; /* in message order; owned */
	size_t n;
	size_t body_start; /* offset of the body (== len without one) */
};

/* Index the header fields of the message at msg (lines without a colon are
 * skipped: they cannot be signed). At most max_fields fields (0 = no
 * limit): a message with more gives -1, since a signature over part of
 * the header would be wrong. Returns 0 or -1; free with
 * dkim_headers_free() either way. The index points into msg. */
int dkim_headers_parse(struct dkim_headers *h, const char *msg, size_t len, size_t max_fields);
void dkim_headers_free(struct dkim_headers *h);

/* Number of fields named `name` (case-insensitive). */
size_t dkim_headers_count(const struct dkim_headers *h, const char *name, size_t name_len);

/* Forget earlier picks (start of a new h= walk). */
void dkim_headers_reset(struct dkim_headers *h);
/* RFC 6376 5.4.2: the bottom-most field named `name` not picked yet in this
 * walk; marks it picked. Returns its index, or -1 when there is none left
 * (a name listed more often than it occurs signs its absence). */
long dkim_headers_pick(struct dkim_headers *h, const char *name, size_t name_len);

/* Append the header hash input for the colon-separated h= list `hlist`
 * (FWS around names allowed): each selected field canonicalised and
 * followed by CRLF, in list order; absent fields contribute nothing.
 * Resets the picks first. Returns 0, or -1 if out would exceed its
 * maximum or a name in the list is empty. */
int dkim_canon_signed_headers(struct dkim_headers *h, enum dkim_canon c, const char *hlist,
			      size_t hlen, struct buf *out);

/* ----- body ----- */

/* Receives canonical body bytes, in order, in chunks of any size. */
typedef void dkim_canon_emit_fn(void *ctx, const void *data, size_t len);

#define DKIM_BODY_STAGE 1024

/* Streaming body canonicaliser: feed the body in chunks of any size (one
 * byte at a time gives the same output), then call final. The output is
 * what RFC 6376 3.4.3/3.4.4 hash: simple keeps the bytes but drops empty
 * lines at the end (an empty body becomes one CRLF); relaxed also removes
 * WSP at line ends and reduces WSP runs to one SP (an empty body stays
 * empty). A last line without a line end is ended with CRLF. */
struct dkim_body_canon {
	enum dkim_canon canon;
	dkim_canon_emit_fn *emit;
	void *ctx;
	uint64_t limit;	 /* bytes passed to emit at most (l=); UINT64_MAX = all */
	uint64_t length; /* canonical bytes produced so far, before the limit */
	uint64_t emitted; /* bytes passed to emit */
	uint64_t empty_lines; /* held back until something follows them */
	bool cr;	      /* a CR waits to see whether LF follows */
	bool wsp;	      /* relaxed: a WSP run waits for a non-WSP byte */
	bool line_content;    /* the current line has produced output */
	bool finished;
	size_t staged;
	unsigned char stage[DKIM_BODY_STAGE];
};

void dkim_body_canon_init(struct dkim_body_canon *bc, enum dkim_canon c, uint64_t limit,
			  dkim_canon_emit_fn *emit, void *ctx);
void dkim_body_canon_update(struct dkim_body_canon *bc, const void *data, size_t len);
/* Ends the body: flushes everything to emit. Further updates are ignored. */
void dkim_body_canon_final(struct dkim_body_canon *bc);

/* The whole body at once, appended to out. Returns 0, or -1 if out would
 * exceed its maximum (out is then partial). */
int dkim_canon_body(enum dkim_canon c, const char *body, size_t len, struct buf *out);

#endif
