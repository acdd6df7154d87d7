/* mime_param.c - forgiving RFC 2045 parameter lists with RFC 2231
 * continuation merging. One left-to-right pass; merging sorts only the
 * parameters whose names carry a '*'. */
#include "mime/mime_param.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "mime/mime_header.h"

#define RFC2231_MAX_INDEX 9999

void mime_param_list_init(struct mime_param_list *l, size_t max_params)
{
	memset(l, 0, sizeof(*l));
	buf_init(&l->text, 0);
	l->max = max_params;
}

void mime_param_list_reset(struct mime_param_list *l)
{
	buf_reset(&l->text);
	l->n = 0;
	l->truncated = false;
}

void mime_param_list_free(struct mime_param_list *l)
{
	buf_free(&l->text);
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

const char *mime_param_name(const struct mime_param_list *l, size_t i, size_t *len_r)
{
	*len_r = l->v[i].name_len;
	return l->text.data + l->v[i].name_off;
}

const char *mime_param_value(const struct mime_param_list *l, size_t i, size_t *len_r)
{
	*len_r = l->v[i].value_len;
	return l->text.data + l->v[i].value_off;
}

long mime_param_find(const struct mime_param_list *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++) {
		size_t nl;
		const char *n = mime_param_name(l, i, &nl);
		if (mime_ascii_ieq(n, nl, name))
			return (long)i;
	}
	return -1;
}

static bool is_tspecial(unsigned char c)
{
	return c != '\0' && strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

static bool is_token_char(unsigned char c)
{
	return c > ' ' && c < 0x7f && !is_tspecial(c);
}

size_t mime_token_len(const char *s, size_t len, size_t pos)
{
	size_t i = pos;
	while (i < len && is_token_char((unsigned char)s[i]))
		i++;
	return i - pos;
}

size_t mime_skip_cfws(const char *s, size_t len, size_t pos)
{
	while (pos < len) {
		char c = s[pos];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			pos++;
		} else if (c == '(') {
			size_t depth = 1;
			pos++;
			while (pos < len && depth > 0) {
				if (s[pos] == '\\')
					pos++;
				else if (s[pos] == '(')
					depth++;
				else if (s[pos] == ')')
					depth--;
				pos++;
			}
		} else {
			break;
		}
	}
	return pos < len ? pos : len;
}

/* Append a new entry; its name and value are appended to the text by the
 * caller right after. Returns the entry or NULL when over the limit. */
static struct mime_param_ref *param_new(struct mime_param_list *l)
{
	if (l->max != 0 && l->n >= l->max) {
		l->truncated = true;
		return NULL;
	}
	if (l->n == l->cap) {
		l->cap = l->cap == 0 ? 8 : l->cap * 2;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	struct mime_param_ref *r = &l->v[l->n++];
	memset(r, 0, sizeof(*r));
	return r;
}

/* Offset just past the quoted string starting at s[pos] == '"'; appends its
 * unescaped content to out (if not NULL). */
static size_t quoted_string(const char *s, size_t len, size_t pos, struct buf *out)
{
	size_t i = pos + 1, run = i;
	while (i < len && s[i] != '"') {
		if (s[i] == '\\' && i + 1 < len) {
			if (out != NULL) {
				buf_append(out, s + run, i - run);
				buf_append(out, s + i + 1, 1);
			}
			i += 2;
			run = i;
			continue;
		}
		i++;
	}
	if (out != NULL && i > run)
		buf_append(out, s + run, (i < len ? i : len) - run);
	return i < len ? i + 1 : len;
}

/* Offset of the next ';' outside quoted strings (or len). */
static size_t skip_to_semicolon(const char *s, size_t len, size_t pos)
{
	while (pos < len && s[pos] != ';') {
		if (s[pos] == '"')
			pos = quoted_string(s, len, pos, NULL);
		else
			pos++;
	}
	return pos;
}

struct seg {
	size_t param;	 /* index in the unmerged list */
	size_t base_len; /* name up to the first '*' */
	unsigned idx;
	bool ext;
};

struct sort_ctx {
	const struct mime_param_list *l;
};

static int seg_cmp(const void *a, const void *b, void *arg)
{
	const struct seg *x = a, *y = b;
	const struct mime_param_list *l = ((const struct sort_ctx *)arg)->l;
	const char *nx = l->text.data + l->v[x->param].name_off;
	const char *ny = l->text.data + l->v[y->param].name_off;
	size_t n = x->base_len < y->base_len ? x->base_len : y->base_len;
	for (size_t i = 0; i < n; i++) {
		int cx = (unsigned char)nx[i], cy = (unsigned char)ny[i];
		if (cx >= 'A' && cx <= 'Z')
			cx += 32;
		if (cy >= 'A' && cy <= 'Z')
			cy += 32;
		if (cx != cy)
			return cx - cy;
	}
	if (x->base_len != y->base_len)
		return x->base_len < y->base_len ? -1 : 1;
	if (x->idx != y->idx)
		return x->idx < y->idx ? -1 : 1;
	return x->param < y->param ? -1 : (x->param > y->param);
}

static bool same_base(const struct mime_param_list *l, const struct seg *a, const struct seg *b)
{
	if (a->base_len != b->base_len)
		return false;
	const char *na = l->text.data + l->v[a->param].name_off;
	const char *nb = l->text.data + l->v[b->param].name_off;
	for (size_t i = 0; i < a->base_len; i++) {
		int x = (unsigned char)na[i], y = (unsigned char)nb[i];
		if (x >= 'A' && x <= 'Z')
			x += 32;
		if (y >= 'A' && y <= 'Z')
			y += 32;
		if (x != y)
			return false;
	}
	return true;
}

/* Is parameter i's name of the form base*, base*N or base*N*? */
static bool rfc2231_name(const struct mime_param_list *l, size_t i, struct seg *s)
{
	size_t nl;
	const char *n = mime_param_name(l, i, &nl);
	const char *star = memchr(n, '*', nl);
	if (star == NULL || star == n)
		return false;
	size_t p = (size_t)(star - n) + 1;
	s->param = i;
	s->base_len = (size_t)(star - n);
	s->idx = 0;
	s->ext = false;
	if (p == nl) {
		s->ext = true;
		return true;
	}
	size_t d = p;
	while (p < nl && n[p] >= '0' && n[p] <= '9' && s->idx <= RFC2231_MAX_INDEX) {
		s->idx = s->idx * 10 + (unsigned)(n[p] - '0');
		p++;
	}
	if (p == d || s->idx > RFC2231_MAX_INDEX)
		return false;
	if (p < nl && n[p] == '*') {
		s->ext = true;
		p++;
	}
	return p == nl;
}

static void copy_param(struct mime_param_list *dst, const struct mime_param_list *src, size_t i)
{
	struct mime_param_ref *r = param_new(dst);
	if (r == NULL)
		return;
	size_t nl, vl;
	const char *n = mime_param_name(src, i, &nl);
	const char *v = mime_param_value(src, i, &vl);
	r->name_off = dst->text.len;
	r->name_len = nl;
	buf_append(&dst->text, n, nl);
	r->value_off = dst->text.len;
	r->value_len = vl;
	buf_append(&dst->text, v, vl);
}

static void merge_rfc2231(struct mime_param_list *l, size_t first)
{
	size_t nsegs = 0;
	struct seg *segs = NULL;
	for (size_t i = first; i < l->n; i++) {
		struct seg s;
		if (rfc2231_name(l, i, &s)) {
			if (segs == NULL)
				segs = xmalloc((l->n - first) * sizeof(*segs));
			segs[nsegs++] = s;
		}
	}
	if (nsegs == 0)
		return;
	struct sort_ctx ctx = {.l = l};
	qsort_r(segs, nsegs, sizeof(*segs), seg_cmp, &ctx);

	struct mime_param_list m;
	mime_param_list_init(&m, l->max);
	/* Parameters before `first` and those without '*' keep their order. */
	for (size_t i = 0; i < l->n; i++) {
		struct seg s;
		if (i < first || !rfc2231_name(l, i, &s))
			copy_param(&m, l, i);
	}
	for (size_t g = 0; g < nsegs;) {
		size_t e = g + 1;
		while (e < nsegs && same_base(l, &segs[g], &segs[e]))
			e++;
		bool ok = true, any_ext = false;
		for (size_t k = g; k < e; k++) {
			if (segs[k].idx != k - g)
				ok = false;
			if (segs[k].ext)
				any_ext = true;
		}
		if (!ok) {
			for (size_t k = g; k < e; k++)
				copy_param(&m, l, segs[k].param);
		} else {
			struct mime_param_ref *r = param_new(&m);
			if (r != NULL) {
				size_t nl;
				const char *n = mime_param_name(l, segs[g].param, &nl);
				r->name_off = m.text.len;
				buf_append(&m.text, n, segs[g].base_len);
				if (any_ext)
					buf_append(&m.text, "*", 1);
				r->name_len = m.text.len - r->name_off;
				r->value_off = m.text.len;
				if (any_ext && !segs[g].ext)
					buf_append(&m.text, "''", 2);
				for (size_t k = g; k < e; k++) {
					size_t vl;
					const char *v = mime_param_value(l, segs[k].param, &vl);
					if (any_ext && !segs[k].ext) {
						/* A plain segment inside an
						 * encoded value: escape '%'. */
						for (size_t c = 0; c < vl; c++) {
							if (v[c] == '%')
								buf_append(&m.text, "%25", 3);
							else
								buf_append(&m.text, v + c, 1);
						}
					} else {
						buf_append(&m.text, v, vl);
					}
				}
				r->value_len = m.text.len - r->value_off;
			}
		}
		g = e;
	}
	free(segs);
	m.truncated = l->truncated;
	mime_param_list_free(l);
	*l = m;
}

void mime_param_parse(const char *s, size_t len, struct mime_param_list *l)
{
	size_t first = l->n, pos = 0;
	for (;;) {
		pos = mime_skip_cfws(s, len, pos);
		if (pos >= len)
			break;
		if (s[pos] != ';') {
			/* Junk (or a missing ';'): resynchronise. */
			pos = skip_to_semicolon(s, len, pos);
			continue;
		}
		pos = mime_skip_cfws(s, len, pos + 1);
		size_t nstart = pos, nlen = mime_token_len(s, len, pos);
		pos += nlen;
		pos = mime_skip_cfws(s, len, pos);
		if (nlen == 0 || pos >= len || s[pos] != '=') {
			pos = skip_to_semicolon(s, len, pos);
			continue;
		}
		pos = mime_skip_cfws(s, len, pos + 1);
		struct mime_param_ref *r = param_new(l);
		struct buf *t = &l->text;
		if (r != NULL) {
			r->name_off = t->len;
			r->name_len = nlen;
			buf_append(t, s + nstart, nlen);
			r->value_off = t->len;
		}
		if (pos < len && s[pos] == '"') {
			pos = quoted_string(s, len, pos, r != NULL ? t : NULL);
		} else {
			size_t vstart = pos;
			while (pos < len && s[pos] != ';' && s[pos] != ' ' && s[pos] != '\t' &&
			       s[pos] != '\r' && s[pos] != '\n' && s[pos] != '(' && s[pos] != '"')
				pos++;
			if (r != NULL)
				buf_append(t, s + vstart, pos - vstart);
		}
		if (r != NULL)
			r->value_len = t->len - r->value_off;
	}
	merge_rfc2231(l, first);
}
