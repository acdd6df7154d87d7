/* resolve.h - recipient resolution over the storage interface: which local
 * accounts does an address deliver to?
 *
 * Order for local@domain (domain must be a local domain):
 *   1. an alias for local@domain (targets resolved recursively; a target
 *      equal to the alias itself means "also keep a copy in the account");
 *   2. the account local@domain;
 *   3. with a recipient delimiter ("+"), steps 1-2 for the part before it;
 *   4. the domain's catch-all alias "@domain".
 * Matching is case-insensitive (ASCII). Expansion depth and fan-out are
 * bounded. */
#ifndef POSTANE_RESOLVE_H
#define POSTANE_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store_conn;

enum resolve_status {
	RESOLVE_ERROR = -1,    /* store failure: answer 451 */
	RESOLVE_NO_USER = 0,   /* local domain, nobody there: 550 5.1.1 */
	RESOLVE_LOCAL = 1,     /* accounts filled in */
	RESOLVE_NOT_LOCAL = 2, /* not one of our domains */
};

#define RESOLVE_MAX_DEPTH 8
#define RESOLVE_MAX_ACCOUNTS 1000

struct resolve_result {
	int64_t *accounts; /* distinct account ids */
	size_t n, cap;
	unsigned remote_targets; /* alias targets outside our domains (skipped) */
	bool via_catchall;       /* a catch-all alias was used */
};

/* Resolve local@domain (domain lowercase A-label). Appends to res (which may
 * already hold accounts from earlier recipients; duplicates are skipped).
 * `delimiter` is 0 when plus-addressing is off. */
enum resolve_status resolve_recipient(struct store_conn *c, const char *local, const char *domain,
				      char delimiter, struct resolve_result *res);
void resolve_result_free(struct resolve_result *res);

#endif
