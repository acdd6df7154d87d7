/* mime_address.h - RFC 5322 address-list parser (3.4, with the obsolete
 * forms of 4.4) producing what IMAP ENVELOPE needs: for each mailbox its
 * display name, source route, local part and domain; groups as a start
 * marker (mailbox = group name, domain absent) and an end marker (all
 * absent), exactly as RFC 9051 7.5.2 lays them out.
 *
 * Pure, linear in the input and forgiving of real-world junk:
 *   - display names as atoms, quoted strings or raw 8-bit bytes; encoded
 *     words are NOT decoded (ENVELOPE carries the raw value);
 *   - "user@host (Real Name)": the comment becomes the name;
 *   - "Real Name user@host" without angle brackets;
 *   - route "<@a,@b:user@host>" (route "@a,@b"); domain literals kept;
 *   - a missing local part or domain reads "MISSING_MAILBOX" /
 *     "MISSING_DOMAIN" (as Dovecot does), so the result stays well formed;
 *   - unclosed quotes, comments, angle brackets and groups end at the end
 *     of the input.
 * Quoted local parts are returned unquoted. The number of entries is
 * bounded by the caller. */
#ifndef POSTANE_MIME_ADDRESS_H
#define POSTANE_MIME_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

/* One ENVELOPE address. A NULL pointer is NIL. */
struct mime_address {
	const char *name;
	size_t name_len;
	const char *route;
	size_t route_len;
	const char *mailbox;
	size_t mailbox_len;
	const char *domain;
	size_t domain_len;
};

struct mime_address_list {
	struct mime_address *v;
	size_t n, cap;
	bool truncated;	 /* more entries than the limit */
	struct buf text; /* private: backing store of the strings */
};

void mime_address_list_init(struct mime_address_list *l);
void mime_address_list_free(struct mime_address_list *l);

/* Parse an unfolded address-list value (the text after "To:"), replacing
 * the list's previous content. At most max_entries entries are produced
 * (group markers count; 0 = unlimited). Strings point into the list and
 * stay valid until the next parse or free. Never fails: input that holds no
 * address yields an empty list. */
void mime_address_parse(struct mime_address_list *l, const char *s, size_t len, size_t max_entries);

#endif
