/* imap_seqset.c - sequence sets as sorted lists of ranges: parsing, '*'
 * resolution, membership, and iteration against a mailbox's UID array, all
 * without ever expanding a range into its numbers. */
#include "imap/imap_seqset.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/util.h"

void imap_seqset_init(struct imap_seqset *set)
{
	memset(set, 0, sizeof(*set));
	set->resolved = true; /* the empty set */
}

void imap_seqset_free(struct imap_seqset *set)
{
	free(set->ranges);
	memset(set, 0, sizeof(*set));
}

void imap_seqset_add(struct imap_seqset *set, uint32_t lo, uint32_t hi)
{
	if (set->count == set->cap) {
		size_t ncap = set->cap < 8 ? 8 : set->cap * 2;
		set->ranges = xrealloc(set->ranges, ncap * sizeof(*set->ranges));
		set->cap = ncap;
	}
	set->ranges[set->count].lo = lo;
	set->ranges[set->count].hi = hi;
	set->count++;
	set->resolved = false;
}

/* Parse one seq-number ("*" or 1..4294967295) at s[*pos..end). */
static int parse_number(const char *s, size_t end, size_t *pos, uint32_t *n_r, const char **error_r)
{
	size_t i = *pos;
	if (i < end && s[i] == '*') {
		*n_r = IMAP_SEQ_STAR;
		*pos = i + 1;
		return 0;
	}
	uint64_t v = 0;
	size_t start = i;
	while (i < end && s[i] >= '0' && s[i] <= '9') {
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > IMAP_SEQ_MAX) {
			*error_r = "Number too large in sequence set";
			return -1;
		}
		i++;
	}
	if (i == start) {
		*error_r = "Invalid sequence set";
		return -1;
	}
	if (v == 0) {
		*error_r = "Sequence set contains 0";
		return -1;
	}
	*n_r = (uint32_t)v;
	*pos = i;
	return 0;
}

int imap_seqset_parse(const char *s, size_t len, unsigned flags, struct imap_seqset *set_r,
		      const char **error_r)
{
	imap_seqset_init(set_r);
	if (len == 1 && s[0] == '$') {
		if ((flags & IMAP_SEQSET_ALLOW_SEARCHRES) == 0) {
			*error_r = "Saved search result ($) not allowed here";
			return -1;
		}
		set_r->searchres = true;
		set_r->resolved = false;
		return 0;
	}
	if (len == 0) {
		*error_r = "Empty sequence set";
		return -1;
	}
	bool star = false;
	size_t i = 0;
	for (;;) {
		uint32_t lo, hi;
		if (parse_number(s, len, &i, &lo, error_r) < 0)
			return -1;
		hi = lo;
		if (i < len && s[i] == ':') {
			i++;
			if (parse_number(s, len, &i, &hi, error_r) < 0)
				return -1;
		}
		if (lo == IMAP_SEQ_STAR || hi == IMAP_SEQ_STAR)
			star = true;
		if (lo != IMAP_SEQ_STAR && hi != IMAP_SEQ_STAR && lo > hi) {
			uint32_t t = lo;
			lo = hi;
			hi = t;
		}
		imap_seqset_add(set_r, lo, hi);
		if (i == len)
			break;
		if (s[i] != ',') {
			*error_r = "Invalid sequence set";
			return -1;
		}
		i++;
		if (i == len) {
			*error_r = "Invalid sequence set";
			return -1;
		}
	}
	if (!star)
		imap_seqset_normalize(set_r);
	return 0;
}

static int range_cmp(const void *a, const void *b)
{
	const struct imap_seq_range *x = a, *y = b;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	if (x->hi != y->hi)
		return x->hi < y->hi ? -1 : 1;
	return 0;
}

void imap_seqset_normalize(struct imap_seqset *set)
{
	for (size_t i = 0; i < set->count; i++) {
		if (set->ranges[i].lo == IMAP_SEQ_STAR || set->ranges[i].hi == IMAP_SEQ_STAR) {
			set->resolved = false; /* only resolve() can order these */
			return;
		}
	}
	if (set->count > 1)
		qsort(set->ranges, set->count, sizeof(*set->ranges), range_cmp);
	size_t out = 0;
	for (size_t i = 0; i < set->count; i++) {
		struct imap_seq_range r = set->ranges[i];
		if (out > 0) {
			struct imap_seq_range *last = &set->ranges[out - 1];
			/* overlapping or adjacent (careful at the top) */
			if (last->hi == IMAP_SEQ_MAX || r.lo <= last->hi + 1) {
				if (r.hi > last->hi)
					last->hi = r.hi;
				continue;
			}
		}
		set->ranges[out++] = r;
	}
	set->count = out;
	set->resolved = !set->searchres;
}

void imap_seqset_resolve(struct imap_seqset *set, uint32_t star)
{
	if (set->searchres)
		return;
	size_t out = 0;
	for (size_t i = 0; i < set->count; i++) {
		uint32_t lo = set->ranges[i].lo, hi = set->ranges[i].hi;
		if (lo == IMAP_SEQ_STAR)
			lo = star;
		if (hi == IMAP_SEQ_STAR)
			hi = star;
		if (lo > hi) {
			uint32_t t = lo;
			lo = hi;
			hi = t;
		}
		if (hi == 0)
			continue; /* '*' of an empty mailbox */
		if (lo == 0)
			lo = 1;
		set->ranges[out].lo = lo;
		set->ranges[out].hi = hi;
		out++;
	}
	set->count = out;
	imap_seqset_normalize(set);
}

bool imap_seqset_contains(const struct imap_seqset *set, uint32_t n)
{
	size_t lo = 0, hi = set->count;
	/* first range with ranges[i].lo > n */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (set->ranges[mid].lo <= n)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 && n >= set->ranges[lo - 1].lo && n <= set->ranges[lo - 1].hi;
}

uint64_t imap_seqset_count(const struct imap_seqset *set)
{
	uint64_t n = 0;
	for (size_t i = 0; i < set->count; i++)
		n += (uint64_t)set->ranges[i].hi - set->ranges[i].lo + 1;
	return n;
}

uint32_t imap_seqset_min(const struct imap_seqset *set)
{
	return set->count > 0 ? set->ranges[0].lo : 0;
}

uint32_t imap_seqset_max(const struct imap_seqset *set)
{
	return set->count > 0 ? set->ranges[set->count - 1].hi : 0;
}

static int format_number(struct buf *out, uint32_t n)
{
	if (n == IMAP_SEQ_STAR)
		return buf_append(out, "*", 1);
	return buf_printf(out, "%u", (unsigned)n);
}

int imap_seqset_format(const struct imap_seqset *set, struct buf *out)
{
	if (set->searchres)
		return buf_append(out, "$", 1);
	for (size_t i = 0; i < set->count; i++) {
		const struct imap_seq_range *r = &set->ranges[i];
		if (i > 0 && buf_append(out, ",", 1) < 0)
			return -1;
		if (format_number(out, r->lo) < 0)
			return -1;
		if (r->hi != r->lo &&
		    (buf_append(out, ":", 1) < 0 || format_number(out, r->hi) < 0))
			return -1;
	}
	return 0;
}

void imap_seqset_iter_init(struct imap_seqset_iter *it, const struct imap_seqset *set,
			   const uint32_t *existing, size_t count)
{
	memset(it, 0, sizeof(*it));
	it->set = set;
	it->existing = existing;
	it->count = count;
}

static uint64_t value_at(const struct imap_seqset_iter *it, size_t i)
{
	return it->existing != NULL ? it->existing[i] : (uint64_t)i + 1;
}

/* First index in [from, count) whose value is >= x. */
static size_t lower_bound(const struct imap_seqset_iter *it, size_t from, uint32_t x)
{
	if (it->existing == NULL) {
		size_t idx = (size_t)x - 1; /* x >= 1 in a resolved set */
		if (idx > it->count)
			idx = it->count;
		return idx > from ? idx : from;
	}
	size_t lo = from, hi = it->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (it->existing[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

bool imap_seqset_iter_next(struct imap_seqset_iter *it, uint32_t *number_r, size_t *index_r)
{
	const struct imap_seqset *set = it->set;
	while (it->range < set->count) {
		const struct imap_seq_range *r = &set->ranges[it->range];
		if (!it->started) {
			it->pos = lower_bound(it, it->pos, r->lo == 0 ? 1 : r->lo);
			it->started = true;
		}
		if (it->pos < it->count && value_at(it, it->pos) <= r->hi) {
			*number_r = (uint32_t)value_at(it, it->pos);
			if (index_r != NULL)
				*index_r = it->pos;
			it->pos++;
			return true;
		}
		it->range++;
		it->started = false;
	}
	return false;
}
