/* imap_sort.c - SORT keys and ordering (RFC 5256, RFC 5957). */
#include "imap/imap_sort.h"

#include <stdbool.h>
#include <stdlib.h>

#include "core/buf.h"
#include "imap/imap_thread.h"
#include "mime/mime_address.h"
#include "mime/mime_header.h"
#include "mime/mime_rfc2047.h"

static int str_cmp(struct mime_str a, struct mime_str b)
{
	return imap_casemap_cmp(a.p != NULL ? a.p : "", a.p != NULL ? a.len : 0,
				b.p != NULL ? b.p : "", b.p != NULL ? b.len : 0);
}

static int num_cmp(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b ? 1 : 0;
}

int imap_sort_compare(const struct imap_sort_item *a, const struct imap_sort_item *b,
		      const struct imap_sort_criterion *crit, unsigned ncrit)
{
	for (unsigned i = 0; i < ncrit; i++) {
		int r = 0;
		switch (crit[i].key) {
		case IMAP_SORT_ARRIVAL:
			r = num_cmp(a->arrival, b->arrival);
			break;
		case IMAP_SORT_CC:
			r = str_cmp(a->cc, b->cc);
			break;
		case IMAP_SORT_DATE:
			r = num_cmp(a->date, b->date);
			break;
		case IMAP_SORT_FROM:
			r = str_cmp(a->from, b->from);
			break;
		case IMAP_SORT_SIZE:
			r = a->size < b->size ? -1 : a->size > b->size ? 1 : 0;
			break;
		case IMAP_SORT_SUBJECT:
			r = str_cmp(a->subject, b->subject);
			break;
		case IMAP_SORT_TO:
			r = str_cmp(a->to, b->to);
			break;
		case IMAP_SORT_DISPLAYFROM:
			r = str_cmp(a->displayfrom, b->displayfrom);
			break;
		case IMAP_SORT_DISPLAYTO:
			r = str_cmp(a->displayto, b->displayto);
			break;
		}
		if (r != 0)
			return crit[i].reverse ? -r : r;
	}
	/* RFC 5256: exact matches keep the order of the mailbox (REVERSE
	 * never applies to this last resort). */
	return a->position < b->position ? -1 : a->position > b->position ? 1 : 0;
}

struct sort_ctx {
	const struct imap_sort_criterion *crit;
	unsigned ncrit;
};

static int qsort_cmp(const void *x, const void *y, void *arg)
{
	const struct sort_ctx *c = arg;
	return imap_sort_compare(x, y, c->crit, c->ncrit);
}

void imap_sort_items(struct imap_sort_item *items, size_t n, const struct imap_sort_criterion *crit,
		     unsigned ncrit)
{
	struct sort_ctx c = {crit, ncrit};
	if (n > 1)
		qsort_r(items, n, sizeof(*items), qsort_cmp, &c);
}

bool imap_sort_needs_headers(const struct imap_sort_criterion *crit, unsigned ncrit)
{
	for (unsigned i = 0; i < ncrit; i++)
		if (crit[i].key != IMAP_SORT_ARRIVAL && crit[i].key != IMAP_SORT_SIZE)
			return true;
	return false;
}

/* Is this one of the address parser's fill-ins (mime_address.h)? */
static bool address_fill(const char *s, size_t len)
{
	return s == NULL || mime_ascii_ieq(s, len, "MISSING_MAILBOX") ||
	       mime_ascii_ieq(s, len, "MISSING_DOMAIN");
}

void imap_sort_address_keys(const char *value, size_t len, struct buf *mailbox_out,
			    struct buf *display_out)
{
	struct mime_address_list l;
	mime_address_list_init(&l);
	/* The first entry is all that counts; one spare for a group's end. */
	mime_address_parse(&l, value, len, 2);
	if (l.n > 0 && l.v[0].mailbox != NULL) {
		const struct mime_address *a = &l.v[0];
		/* RFC 5256 2.2: the addr-mailbox of the first address as
		 * ENVELOPE lays it out, so for a group its start marker, whose
		 * addr-mailbox is the group name (as Dovecot sorts). */
		if (mailbox_out != NULL && !address_fill(a->mailbox, a->mailbox_len))
			buf_append(mailbox_out, a->mailbox, a->mailbox_len);
		if (display_out != NULL) {
			/* RFC 5957: the decoded display name, else the
			 * addr-spec; a group shows its name */
			size_t before = display_out->len;
			if (a->domain == NULL)
				mime_rfc2047_decode(a->mailbox, a->mailbox_len, display_out);
			else if (a->name != NULL && a->name_len > 0)
				mime_rfc2047_decode(a->name, a->name_len, display_out);
			if (display_out->len == before && a->domain != NULL) {
				if (!address_fill(a->mailbox, a->mailbox_len))
					buf_append(display_out, a->mailbox, a->mailbox_len);
				if (!address_fill(a->domain, a->domain_len)) {
					buf_append(display_out, "@", 1);
					buf_append(display_out, a->domain, a->domain_len);
				}
			}
		}
	}
	mime_address_list_free(&l);
}
