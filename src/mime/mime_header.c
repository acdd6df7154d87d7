/* mime_header.c - header section iteration (RFC 5322 2.2): one pass over the
 * bytes with memchr, so scanning a header is linear in its size whatever the
 * number of fields or continuation lines. */
#include "mime/mime_header.h"

#include <string.h>

#include "core/buf.h"

static size_t line_break_len(const char *data, size_t len, size_t pos)
{
	/* 1 or 2 if an empty line (LF or CRLF) starts at pos, else 0. */
	if (pos < len && data[pos] == '\n')
		return 1;
	if (pos + 1 < len && data[pos] == '\r' && data[pos + 1] == '\n')
		return 2;
	return 0;
}

void mime_header_iter_init(struct mime_header_iter *it, const void *data, size_t len,
			   const struct mime_header_limits *limits)
{
	memset(it, 0, sizeof(*it));
	it->data = data;
	it->len = len;
	if (limits != NULL) {
		it->max_fields = limits->max_fields;
		it->max_field_len = limits->max_field_len;
	}
	it->blank_start = len;
	it->header_end = len;
}

/* Parse the field starting at it->pos (which is not an empty line). */
static void parse_field(struct mime_header_iter *it, struct mime_header_field *f)
{
	const char *d = it->data;
	size_t len = it->len, start = it->pos;
	const char *nl = memchr(d + start, '\n', len - start);
	size_t first_end = nl != NULL ? (size_t)(nl - d) : len; /* first line, no LF */
	size_t line_end = first_end, end = nl != NULL ? first_end + 1 : len;
	if (nl != NULL && first_end > start && d[first_end - 1] == '\r')
		line_end = first_end - 1;
	size_t first_line_end = line_end;
	/* Continuation lines start with a blank. */
	while (end < len && (d[end] == ' ' || d[end] == '\t')) {
		const char *nl2 = memchr(d + end, '\n', len - end);
		if (nl2 == NULL) {
			line_end = end = len;
			break;
		}
		line_end = (size_t)(nl2 - d);
		end = line_end + 1;
		if (d[line_end - 1] == '\r')
			line_end--;
	}
	memset(f, 0, sizeof(*f));
	f->start = start;
	f->line_end = line_end;
	f->end = end;
	f->name = d + start;
	const char *colon = memchr(d + start, ':', first_line_end - start);
	if (colon != NULL) {
		size_t n = (size_t)(colon - (d + start));
		while (n > 0 && (f->name[n - 1] == ' ' || f->name[n - 1] == '\t'))
			n--;
		f->name_len = n;
		f->has_colon = true;
		size_t vstart = (size_t)(colon - d) + 1;
		f->value = d + vstart;
		f->value_len = line_end - vstart;
	} else {
		f->name_len = first_line_end - start;
		f->value = d + line_end;
		f->value_len = 0;
	}
	if (it->max_field_len != 0 && f->value_len > it->max_field_len) {
		f->value_len = it->max_field_len;
		f->truncated = true;
	}
	it->pos = end;
}

int mime_header_iter_next(struct mime_header_iter *it, struct mime_header_field *f_r)
{
	while (!it->done) {
		if (it->pos >= it->len) {
			it->done = true;
			it->blank_start = it->header_end = it->len;
			break;
		}
		size_t br = line_break_len(it->data, it->len, it->pos);
		if (br > 0) {
			it->done = true;
			it->blank_start = it->pos;
			it->header_end = it->pos + br;
			it->pos = it->header_end;
			break;
		}
		parse_field(it, f_r);
		if (it->max_fields != 0 && it->returned >= it->max_fields) {
			it->skipped++;
			continue;
		}
		it->returned++;
		return 1;
	}
	return 0;
}

bool mime_ascii_ieq(const char *s, size_t len, const char *lit)
{
	size_t i;
	for (i = 0; i < len; i++) {
		unsigned char x = (unsigned char)s[i], y = (unsigned char)lit[i];
		if (y == '\0')
			return false;
		if (x >= 'A' && x <= 'Z')
			x += 32;
		if (y >= 'A' && y <= 'Z')
			y += 32;
		if (x != y)
			return false;
	}
	return lit[i] == '\0';
}

bool mime_header_name_is(const struct mime_header_field *f, const char *name)
{
	return f->has_colon && mime_ascii_ieq(f->name, f->name_len, name);
}

int mime_header_iter_next_named(struct mime_header_iter *it, const char *name,
				struct mime_header_field *f_r)
{
	while (mime_header_iter_next(it, f_r) > 0) {
		if (mime_header_name_is(f_r, name))
			return 1;
	}
	return 0;
}

size_t mime_header_size(const void *data, size_t len, size_t *blank_start_r)
{
	const char *d = data;
	size_t pos = 0;
	for (;;) {
		size_t br = line_break_len(d, len, pos);
		if (br > 0) {
			if (blank_start_r != NULL)
				*blank_start_r = pos;
			return pos + br;
		}
		const char *nl = pos < len ? memchr(d + pos, '\n', len - pos) : NULL;
		if (nl == NULL)
			break;
		pos = (size_t)(nl - d) + 1;
	}
	if (blank_start_r != NULL)
		*blank_start_r = len;
	return len;
}

int mime_header_find(const void *data, size_t len, const char *name,
		     const struct mime_header_limits *limits, struct mime_header_field *f_r)
{
	struct mime_header_iter it;
	mime_header_iter_init(&it, data, len, limits);
	return mime_header_iter_next_named(&it, name, f_r);
}

int mime_header_unfold(const char *value, size_t len, struct buf *out)
{
	size_t i = 0;
	/* Leading blanks, including a value that starts on the next line. */
	while (i < len &&
	       (value[i] == ' ' || value[i] == '\t' || value[i] == '\r' || value[i] == '\n'))
		i++;
	while (i < len) {
		/* Copy up to the next line break, which is then dropped. */
		size_t j = i;
		while (j < len && value[j] != '\n' &&
		       !(value[j] == '\r' && j + 1 < len && value[j + 1] == '\n'))
			j++;
		if (j > i && buf_append(out, value + i, j - i) < 0)
			return -1;
		if (j >= len)
			break;
		i = j + (value[j] == '\r' ? 2 : 1);
	}
	return 0;
}
