/* imap_sort.h - the pure parts of SORT (RFC 5256 section 3, RFC 5957
 * DISPLAYFROM / DISPLAYTO): the sort keys of an address header and the
 * ordering of messages by a list of sort criteria.
 *
 * Strings compare under i;ascii-casemap (imap_casemap_cmp); equal messages
 * keep their mailbox order, as RFC 5256 requires. Pure: no I/O, no globals. */
#ifndef POSTANE_IMAP_SORT_H
#define POSTANE_IMAP_SORT_H

#include <stddef.h>
#include <stdint.h>

#include "imap/imap_search.h"
#include "mime/mime_parser.h"

struct buf;

/* One message to sort. String keys are mime_str slices (p == NULL: the
 * header is absent, which sorts like the empty string). */
struct imap_sort_item {
	uint32_t id;		      /* printed: sequence number or UID */
	uint32_t position;	      /* mailbox order (ties) */
	int64_t arrival;	      /* INTERNALDATE */
	int64_t date;		      /* sent date; the internal date when there is none */
	uint64_t size;		      /* RFC822.SIZE */
	struct mime_str subject;      /* base subject (imap_base_subject) */
	struct mime_str from, to, cc; /* addr-mailbox of the first address */
	struct mime_str displayfrom, displayto; /* RFC 5957 display names */
};

/* Compare two items under the criteria (the last tie-breaker is the
 * position). Returns <0, 0 (same position), >0. */
int imap_sort_compare(const struct imap_sort_item *a, const struct imap_sort_item *b,
		      const struct imap_sort_criterion *crit, unsigned ncrit);

/* Sort items[0..n) in place. */
void imap_sort_items(struct imap_sort_item *items, size_t n, const struct imap_sort_criterion *crit,
		     unsigned ncrit);

/* Does sorting by these criteria need any header (anything but ARRIVAL and
 * SIZE)? */
bool imap_sort_needs_headers(const struct imap_sort_criterion *crit, unsigned ncrit);

/* The sort keys of an unfolded address-list header value (From, To, Cc),
 * taken from its first address as ENVELOPE lays it out (RFC 5256 2.2): the
 * addr-mailbox (local part) into mailbox_out, and the RFC 5957 display name
 * into display_out: the RFC 2047-decoded display name, or "local@domain"
 * when it has none. When the value starts with a group, that address is
 * the group's start marker: both keys are the group name (decoded for
 * display), as Dovecot sorts. The parser's MISSING_MAILBOX/MISSING_DOMAIN
 * fill-ins are left out. Nothing is appended when the value holds no
 * address. Either buffer may be NULL. */
void imap_sort_address_keys(const char *value, size_t len, struct buf *mailbox_out,
			    struct buf *display_out);

#endif
