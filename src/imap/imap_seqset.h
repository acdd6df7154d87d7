/* imap_seqset.h - IMAP sequence sets (RFC 9051 "sequence-set", RFC 5182 "$").
 *
 * Pure. A set is a list of ranges and is never expanded into numbers, so
 * "1:4294967295" costs one range. The number 0 stands for '*' until the set
 * is resolved against the mailbox (its message count for sequence numbers,
 * its largest UID for UIDs); a resolved set is sorted, its ranges disjoint
 * and non-adjacent, and it holds no 0.
 *
 * The ranges array belongs to the set: imap_seqset_free() releases it. */
#ifndef POSTANE_IMAP_SEQSET_H
#define POSTANE_IMAP_SEQSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

#define IMAP_SEQ_STAR 0u /* '*' in an unresolved range */
#define IMAP_SEQ_MAX UINT32_MAX

struct imap_seq_range {
	uint32_t lo, hi; /* inclusive; lo <= hi once resolved */
};

struct imap_seqset {
	struct imap_seq_range *ranges;
	size_t count, cap;
	bool searchres; /* "$": the session substitutes its saved result */
	bool resolved;	/* sorted, merged, no '*' */
};

enum imap_seqset_flags {
	IMAP_SEQSET_ALLOW_SEARCHRES = 1 << 0, /* accept "$" (RFC 5182) */
};

void imap_seqset_init(struct imap_seqset *set);
void imap_seqset_free(struct imap_seqset *set);
/* Append the range lo:hi (either may be IMAP_SEQ_STAR); marks the set
 * unresolved. */
void imap_seqset_add(struct imap_seqset *set, uint32_t lo, uint32_t hi);

/* Parse s[0..len) (not NUL-terminated) into *set_r (initialised here; free
 * it even on failure). Rejects 0, numbers above 4294967295, empty elements,
 * and any byte outside digits ':' ',' '*'. Returns 0 or -1 with *error_r set
 * to a static reason. The result is not resolved, except that a set without
 * '*' comes back sorted and merged. */
int imap_seqset_parse(const char *s, size_t len, unsigned flags, struct imap_seqset *set_r,
		      const char **error_r);

/* Replace '*' by `star` (the message count or the largest UID; 0 for an
 * empty mailbox, in which case '*' matches nothing and "n:*" is "1:n"),
 * then sort and merge. Cheap for any set size: O(r log r) in ranges. */
void imap_seqset_resolve(struct imap_seqset *set, uint32_t star);

/* Sort and merge the ranges of a set without '*' (for sets built with
 * imap_seqset_add). A set holding '*' is left alone: resolve it instead. */
void imap_seqset_normalize(struct imap_seqset *set);

/* Does the resolved set contain n? O(log r). */
bool imap_seqset_contains(const struct imap_seqset *set, uint32_t n);
/* How many numbers the resolved set holds (up to 2^32). */
uint64_t imap_seqset_count(const struct imap_seqset *set);
/* Largest and smallest member of a resolved, non-empty set. */
uint32_t imap_seqset_min(const struct imap_seqset *set);
uint32_t imap_seqset_max(const struct imap_seqset *set);

/* Append the set in IMAP syntax ("1:3,5,7:*") to out; "" for an empty set.
 * Returns 0 or -1 when out is full. */
int imap_seqset_format(const struct imap_seqset *set, struct buf *out);

/* Iterate over the members of a resolved set that exist in a mailbox.
 * `existing` is the mailbox's sorted array of UIDs (strictly increasing);
 * NULL means the numbers 1..count (sequence numbers). Each step gives the
 * number and its index in `existing` (its sequence number minus one). Cost:
 * O(matches + ranges * log count), never proportional to a range's width. */
struct imap_seqset_iter {
	const struct imap_seqset *set;
	const uint32_t *existing;
	size_t count;
	size_t range; /* current range */
	size_t pos;   /* next index into existing */
	bool started;
};

void imap_seqset_iter_init(struct imap_seqset_iter *it, const struct imap_seqset *set,
			   const uint32_t *existing, size_t count);
bool imap_seqset_iter_next(struct imap_seqset_iter *it, uint32_t *number_r, size_t *index_r);

#endif
