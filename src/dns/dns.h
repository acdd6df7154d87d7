/* dns.h - asynchronous DNS on a postane event loop (c-ares): where mail for a
 * domain goes (MX, then AAAA and A), and TXT records for SPF/DKIM/DMARC.
 *
 * A resolver belongs to one loop and is used from that loop's thread only.
 * Every callback runs on that thread, exactly once per lookup unless the
 * lookup is cancelled, and never from inside the call that started it.
 * Lookups never block; c-ares' sockets and its retransmission timer are
 * watched by the loop (a timerfd gives c-ares millisecond timeouts). */
#ifndef POSTANE_DNS_H
#define POSTANE_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct loop;
struct dns_resolver;
struct dns_query;

/* Bounds on one route lookup. */
#define DNS_ROUTE_MAX_HOSTS 10	     /* MX hosts considered (lowest preferences) */
#define DNS_ROUTE_MAX_ADDRS_FAMILY 8 /* addresses kept per host and family */

/* `servers`: "" (or NULL) = the system's (/etc/resolv.conf); otherwise
 * "ADDR[:PORT][,ADDR[:PORT]...]", IPv6 as "[ADDR]:PORT" (or a bare ADDR
 * without a port), at most 8, port 53 by default. Each query is tried
 * `tries` times per server, with `timeout_ms` for the first try (c-ares
 * lengthens later ones). dns_resolver_new() uses 2000 ms and 2 tries.
 * Returns NULL with a message in err on a bad server list or c-ares failure. */
struct dns_resolver *dns_resolver_new(struct loop *loop, const char *servers, char *err,
				      size_t errlen);
struct dns_resolver *dns_resolver_new_opts(struct loop *loop, const char *servers,
					   unsigned timeout_ms, unsigned tries, char *err,
					   size_t errlen);
/* Free the resolver. Callbacks of lookups still pending are NOT called, and
 * their handles become invalid: owners must forget them. Loop thread only,
 * never from inside one of this resolver's callbacks; inside another loop
 * callback while the loop runs, release it through loop_defer() (a socket
 * event for it may still be due in the current pass). Accepts NULL; sets
 * *r to NULL. */
void dns_resolver_free(struct dns_resolver **r);

enum dns_route_status {
	DNS_ROUTE_OK,	    /* targets holds at least one host with addresses */
	DNS_ROUTE_TEMPFAIL, /* try again later (server failure, timeout, ...) */
	DNS_ROUTE_NXDOMAIN, /* the domain does not exist: permanent */
	DNS_ROUTE_NULLMX,   /* RFC 7505: the domain accepts no mail: permanent */
	DNS_ROUTE_NOHOST,   /* no usable host, and no temporary error: permanent */
};

struct dns_target {
	char host[256]; /* MX exchange (or the domain, or the literal "[...]") */
	unsigned pref;	/* MX preference (0 for implicit MX and literals) */
	size_t naddr;	/* >= 1 in a route given to a callback */
	/* Interleaved by family, IPv6 first: v6, v4, v6, v4, ... each family in
	 * the order the DNS gave it. The port is 0: the caller sets it. */
	struct sockaddr_storage *addr;
};

struct dns_route {
	enum dns_route_status status;
	/* Human text for logs and bounces when status is not OK, e.g. "DNS
	 * lookup of MX for example.org: server failure"; NULL when OK. */
	const char *error;
	/* In the order to try: MX preference ascending, equal preferences in
	 * random order (RFC 5321 5.1); hosts without addresses left out. */
	struct dns_target *targets;
	size_t ntargets;
	bool from_mx; /* false: implicit MX (RFC 5321 5.1) or address literal */
};

/* The route and everything it points to are valid during the callback only. */
typedef void dns_route_cb(void *ctx, const struct dns_route *route);

/* Look up where mail for `domain` goes (an ASCII domain, IDNA A-labels, or an
 * address literal "[192.0.2.1]" / "[IPv6:2001:db8::1]" which routes straight
 * to that address):
 *  - MX records sorted by preference, random order among equal preferences,
 *    at most DNS_ROUTE_MAX_HOSTS, each exchange resolved to AAAA and A (an
 *    exchange that is an IP address is used as it is; one that is a CNAME is
 *    followed);
 *  - no MX records (NODATA) -> the domain itself is the only target
 *    (implicit MX, from_mx false);
 *  - NXDOMAIN -> DNS_ROUTE_NXDOMAIN; null MX -> DNS_ROUTE_NULLMX;
 *  - SERVFAIL, REFUSED, timeout or a malformed answer on the MX query ->
 *    DNS_ROUTE_TEMPFAIL;
 *  - a host without addresses is left out; when none has any: TEMPFAIL if
 *    any address lookup failed temporarily, else DNS_ROUTE_NOHOST.
 * An invalid domain name gives DNS_ROUTE_NOHOST. cb(ctx, route) runs later on
 * the loop's thread, exactly once. Returns a handle for dns_query_cancel(),
 * valid until the callback returns. */
struct dns_query *dns_route_lookup(struct dns_resolver *r, const char *domain, dns_route_cb *cb,
				   void *ctx);

/* Abandon a lookup: its callback is then never called. Accepts NULL. Calling
 * it from inside the lookup's own callback does nothing. */
void dns_query_cancel(struct dns_query *q);

/* status: 0 records found (txt[0..n-1], each record's strings concatenated
 * and NUL-terminated; a NUL inside a record ends it there), 1 NXDOMAIN or no
 * TXT records, -1 temporary failure. txt is valid during the callback only. */
typedef void dns_txt_cb(void *ctx, int status, const char *const *txt, size_t n);

/* Look up the TXT records of `name` (following CNAMEs). Same callback and
 * handle rules as dns_route_lookup(). */
struct dns_query *dns_lookup_txt(struct dns_resolver *r, const char *name, dns_txt_cb *cb,
				 void *ctx);

/* Text for a route status: "ok", "tempfail", "nxdomain", "nullmx", "nohost". */
const char *dns_route_status_name(enum dns_route_status status);

#endif
