/* mime_header.h - RFC 5322 header section scanning over a byte range: field
 * by field, with the raw value (folding kept) and an unfolded copy on demand.
 *
 * Pure: no I/O, no globals, no allocation except into a caller's struct buf.
 * The iterator never reads outside [data, data + len). Line ends may be CRLF
 * or a bare LF. The header section ends after the first empty line; a header
 * without one ends at the end of the range (a message without a body).
 *
 * All pointers returned point into the caller's range and stay valid as long
 * as it does; offsets are relative to `data`. */
#ifndef POSTANE_MIME_HEADER_H
#define POSTANE_MIME_HEADER_H

#include <stdbool.h>
#include <stddef.h>

struct buf;

/* Caller-chosen bounds. 0 means unlimited. */
struct mime_header_limits {
	unsigned max_fields;  /* fields returned; later fields are skipped */
	size_t max_field_len; /* bytes of a raw value returned (cut beyond) */
};

struct mime_header_field {
	const char *name; /* the field name, trailing blanks before ':' removed */
	size_t name_len;
	const char *value; /* raw value after ':' up to the final line end */
	size_t value_len;
	size_t start;	 /* offset of the field's first byte */
	size_t line_end; /* offset of the final CRLF/LF (== end if none) */
	size_t end;	 /* offset just past the final line end */
	bool has_colon;	 /* false: a junk line; name is the whole line */
	bool truncated;	 /* value_len was cut to max_field_len */
};

struct mime_header_iter {
	const char *data;
	size_t len;
	size_t pos;
	unsigned max_fields;
	size_t max_field_len;
	unsigned returned; /* fields returned so far */
	unsigned skipped;  /* fields over max_fields, not returned */
	bool done;
	size_t blank_start; /* once done: where the empty line starts (or len) */
	size_t header_end;  /* once done: just past the empty line (or len) */
};

void mime_header_iter_init(struct mime_header_iter *it, const void *data, size_t len,
			   const struct mime_header_limits *limits);
/* Returns 1 with *f_r set, or 0 at the end of the header section (then
 * it->header_end is the offset where the body starts). */
int mime_header_iter_next(struct mime_header_iter *it, struct mime_header_field *f_r);
/* Like mime_header_iter_next() but returns only fields named `name`
 * (case-insensitive). */
int mime_header_iter_next_named(struct mime_header_iter *it, const char *name,
				struct mime_header_field *f_r);

/* Offset just past the empty line ending the header section starting at
 * data, or len when there is none. *blank_start_r (may be NULL) gets the
 * offset where that empty line starts (len when there is none). */
size_t mime_header_size(const void *data, size_t len, size_t *blank_start_r);

/* First field named `name` (case-insensitive) within the header section at
 * data. Returns 1 (found, *f_r set) or 0. */
int mime_header_find(const void *data, size_t len, const char *name,
		     const struct mime_header_limits *limits, struct mime_header_field *f_r);

/* True if the field's name equals `name` (ASCII case-insensitive). */
bool mime_header_name_is(const struct mime_header_field *f, const char *name);
/* True if the `len` bytes at s equal the NUL-terminated `lit` ignoring ASCII
 * case. */
bool mime_ascii_ieq(const char *s, size_t len, const char *lit);

/* Append the unfolded form of a raw value to out: leading blanks and folds
 * skipped, each line break of a fold removed (the blank after it kept).
 * Returns 0, or -1 if out would exceed its maximum (out is then partial). */
int mime_header_unfold(const char *value, size_t len, struct buf *out);

#endif
