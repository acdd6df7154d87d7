/* buf.c - the bounded byte buffer used for all network and message data.
 * Growth is geometric; the hard maximum is checked before any allocation. */
#include "core/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

void buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max == 0 ? SIZE_MAX - 1 : max;
}

void buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

static int buf_grow(struct buf *b, size_t need)
{
	/* need + 1 (the terminator) must not wrap, whatever max says. */
	if (need > b->max || need < b->len || need == SIZE_MAX)
		return -1;
	if (need <= b->cap && b->data != NULL)
		return 0;
	size_t ncap = b->cap < 64 ? 64 : b->cap;
	while (ncap < need)
		ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
	b->data = xrealloc(b->data, ncap + 1);
	b->cap = ncap;
	b->data[b->len] = '\0';
	return 0;
}

char *buf_reserve(struct buf *b, size_t len)
{
	if (len > b->max - b->len || buf_grow(b, b->len + len) < 0)
		return NULL;
	return b->data + b->len;
}

void buf_commit(struct buf *b, size_t len)
{
	b->len += len;
	b->data[b->len] = '\0';
}

int buf_append(struct buf *b, const void *data, size_t len)
{
	char *p = buf_reserve(b, len);
	if (p == NULL)
		return -1;
	if (len > 0)
		memcpy(p, data, len);
	buf_commit(b, len);
	return 0;
}

int buf_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	char tmp[256];
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return -1;
	if ((size_t)n < sizeof(tmp))
		return buf_append(b, tmp, (size_t)n);
	/* The allocation always keeps one byte beyond cap for the NUL. */
	char *p = buf_reserve(b, (size_t)n);
	if (p == NULL)
		return -1;
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	buf_commit(b, (size_t)n);
	return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int ret = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return ret;
}

void buf_consume(struct buf *b, size_t len)
{
	if (len >= b->len) {
		b->len = 0;
	} else {
		memmove(b->data, b->data + len, b->len - len);
		b->len -= len;
	}
	if (b->data != NULL)
		b->data[b->len] = '\0';
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

size_t buf_room(const struct buf *b)
{
	return b->max - b->len;
}
