/* buf.h - binary-safe, length-tracking byte buffer with a hard maximum.
 *
 * Every byte that comes from the network passes through a struct buf. The
 * buffer grows on demand up to `max`; an append that would exceed it fails
 * with -1 and leaves the buffer unchanged. Allocation failure aborts. */
#ifndef POSTANE_BUF_H
#define POSTANE_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data;  /* NUL-terminated for convenience; may hold NULs inside */
	size_t len;  /* bytes in use */
	size_t cap;  /* bytes allocated (excluding the terminating NUL) */
	size_t max;  /* hard limit on len; 0 means SIZE_MAX */
};

/* Initialise an empty buffer with a hard maximum (0 = unlimited). */
void buf_init(struct buf *b, size_t max);
/* Release memory; the buffer can be reused after buf_init(). */
void buf_free(struct buf *b);
/* Returns 0, or -1 when the result would exceed b->max. */
int buf_append(struct buf *b, const void *data, size_t len);
int buf_append_str(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Make room for at least `len` more bytes; returns a pointer to the free
 * space or NULL when that would exceed b->max. Follow with buf_commit(). */
char *buf_reserve(struct buf *b, size_t len);
void buf_commit(struct buf *b, size_t len);
/* Remove the first `len` bytes. */
void buf_consume(struct buf *b, size_t len);
void buf_reset(struct buf *b);
/* Bytes that can still be appended before hitting max. */
size_t buf_room(const struct buf *b);

#endif
