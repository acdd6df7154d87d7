/* dns.c - c-ares driven by a postane loop: its sockets become loop watchers
 * (through c-ares' socket-state callback), its retransmission timeouts a
 * timerfd. Answers are parsed by dns_parse.c, not by c-ares, so that rcodes,
 * CNAME chains and null MX are judged in one place. Finished lookups wait on
 * a "done" list and are delivered at the end of a watcher callback, so a
 * callback never runs inside the call that started its lookup. */
#include "dns/dns.h"

#include <ares.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "core/loop.h"
#include "core/util.h"
#include "dns/dns_parse.h"

#define MAX_SERVERS 8
#define ERROR_MAX 400

/* A socket c-ares asked us to watch. Slots are kept until the resolver is
 * freed, because an event for a socket closed earlier in the same loop pass
 * may still arrive; it then meets a free slot (no callback) or a reused one
 * (c-ares reads nothing and carries on). */
struct dns_sock {
	struct watcher w;
	struct dns_resolver *r;
	bool used;
};

struct dns_resolver {
	struct loop *loop;
	ares_channel channel;
	bool have_channel;
	struct watcher timer; /* timerfd: c-ares timeouts, and "deliver now" */
	struct dns_sock **socks;
	size_t nsocks;
	struct dns_query *queries; /* every query not yet freed */
	struct dns_query *done_head, *done_tail;
	size_t ndone;
	bool closing;
};

enum query_kind { QUERY_ROUTE, QUERY_TXT };

/* One host of a route being resolved. */
struct route_host {
	char name[256];
	unsigned pref;
	struct dns_addr v6[DNS_ROUTE_MAX_ADDRS_FAMILY], v4[DNS_ROUTE_MAX_ADDRS_FAMILY];
	size_t n6, n4;
};

struct dns_query {
	struct dns_resolver *r;
	struct dns_query *prev, *next; /* r->queries */
	struct dns_query *done_next;
	bool on_done;
	bool finished; /* result decided; on the done list or being delivered */
	bool cancelled;
	bool in_callback;
	enum query_kind kind;
	char name[256];
	dns_route_cb *route_cb;
	dns_txt_cb *txt_cb;
	void *ctx;
	unsigned outstanding; /* c-ares queries not yet called back */
	unsigned depth;	      /* inside our own code for this query: do not finish */

	/* Route result. */
	enum dns_route_status status;
	bool decided; /* status set by the MX step (no address phase) */
	bool from_mx;
	bool any_tempfail;
	char error[ERROR_MAX];
	struct route_host *hosts;
	size_t nhosts;

	/* TXT result. */
	int txt_status;
	char **txt;
	size_t ntxt;
};

/* The argument of one c-ares query. */
struct lookup {
	struct dns_query *q;
	unsigned type;
	size_t host; /* index into q->hosts for A/AAAA */
};

static pthread_once_t ares_once = PTHREAD_ONCE_INIT;
static int ares_init_status;

static void ares_global_init(void)
{
	ares_init_status = ares_library_init(ARES_LIB_INIT_ALL);
}

static void update_timer(struct dns_resolver *r);
static void run_done(struct dns_resolver *r);

/* --- sockets and timer --------------------------------------------------- */

static void sock_cb(struct watcher *w, uint32_t events)
{
	struct dns_sock *s = w->ctx;
	struct dns_resolver *r = s->r;
	int fd = w->fd;
	/* Errors and hang-ups are handed to c-ares as readable: its read fails
	 * and it moves on to the next server. */
	ares_socket_t rfd = (events & ~(uint32_t)LOOP_WRITE) != 0 ? fd : ARES_SOCKET_BAD;
	ares_socket_t wfd = (events & LOOP_WRITE) != 0 ? fd : ARES_SOCKET_BAD;
	ares_process_fd(r->channel, rfd, wfd);
	run_done(r);
	update_timer(r);
}

static void sock_state_cb(void *data, ares_socket_t fd, int readable, int writable)
{
	struct dns_resolver *r = data;
	uint32_t events = (readable ? LOOP_READ : 0) | (writable ? LOOP_WRITE : 0);
	struct dns_sock *s = NULL, *spare = NULL;
	for (size_t i = 0; i < r->nsocks; i++) {
		if (r->socks[i]->used && r->socks[i]->w.fd == fd)
			s = r->socks[i];
		else if (!r->socks[i]->used && spare == NULL)
			spare = r->socks[i];
	}
	if (events == 0) {
		if (s != NULL) {
			loop_unwatch(r->loop, &s->w);
			s->used = false;
			s->w.fd = -1;
		}
		return;
	}
	if (s != NULL) {
		/* A socket the loop cannot watch times out in c-ares like a
		 * lost packet; there is nothing better to do here. */
		(void)loop_rewatch(r->loop, &s->w, events);
		return;
	}
	if (spare == NULL) {
		r->socks = xrealloc(r->socks, (r->nsocks + 1) * sizeof(*r->socks));
		spare = xcalloc(1, sizeof(*spare));
		spare->r = r;
		r->socks[r->nsocks++] = spare;
	}
	spare->used = true;
	(void)loop_watch(r->loop, &spare->w, fd, events, sock_cb, spare);
}

static void timer_cb(struct watcher *w, uint32_t events)
{
	(void)events;
	struct dns_resolver *r = w->ctx;
	uint64_t expirations;
	/* Reading resets the timer's readiness; EAGAIN means nothing expired. */
	if (read(w->fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		return;
	/* With no socket given, c-ares only handles the queries that timed out. */
	ares_process_fd(r->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	run_done(r);
	update_timer(r);
}

/* Arm the timer for c-ares' next timeout, or to fire at once when finished
 * lookups are waiting to be delivered. */
static void update_timer(struct dns_resolver *r)
{
	struct itimerspec its;
	memset(&its, 0, sizeof(its));
	if (r->done_head != NULL) {
		its.it_value.tv_nsec = 1;
	} else {
		struct timeval tvbuf, *tv = ares_timeout(r->channel, NULL, &tvbuf);
		if (tv != NULL) {
			its.it_value.tv_sec = tv->tv_sec;
			its.it_value.tv_nsec = (long)tv->tv_usec * 1000;
			if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
				its.it_value.tv_nsec = 1; /* zero would disarm */
		}
	}
	if (timerfd_settime(r->timer.fd, 0, &its, NULL) < 0)
		die("timerfd_settime: %s", strerror(errno));
}

/* --- query life cycle ---------------------------------------------------- */

static struct dns_query *query_new(struct dns_resolver *r, enum query_kind kind, const char *name,
				   void *ctx)
{
	struct dns_query *q = xcalloc(1, sizeof(*q));
	q->r = r;
	q->kind = kind;
	q->ctx = ctx;
	snprintf(q->name, sizeof(q->name), "%s", name);
	q->next = r->queries;
	if (r->queries != NULL)
		r->queries->prev = q;
	r->queries = q;
	return q;
}

static void done_remove(struct dns_resolver *r, struct dns_query *q)
{
	struct dns_query **pp = &r->done_head, *prev = NULL;
	while (*pp != NULL && *pp != q) {
		prev = *pp;
		pp = &(*pp)->done_next;
	}
	if (*pp == NULL)
		return;
	*pp = q->done_next;
	if (r->done_tail == q)
		r->done_tail = prev;
	q->done_next = NULL;
	q->on_done = false;
	r->ndone--;
}

static void query_free(struct dns_query *q)
{
	struct dns_resolver *r = q->r;
	if (q->on_done)
		done_remove(r, q);
	if (q->prev != NULL)
		q->prev->next = q->next;
	else
		r->queries = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
	for (size_t i = 0; i < q->ntxt; i++)
		free(q->txt[i]);
	free(q->txt);
	free(q->hosts);
	free(q);
}

/* The result is decided: queue the query for delivery. */
static void query_finish(struct dns_query *q)
{
	struct dns_resolver *r = q->r;
	q->finished = true;
	q->on_done = true;
	q->done_next = NULL;
	if (r->done_tail != NULL)
		r->done_tail->done_next = q;
	else
		r->done_head = q;
	r->done_tail = q;
	r->ndone++;
}

static void route_assemble(struct dns_query *q);

/* Called when q may have nothing left in flight. */
static void query_maybe_finish(struct dns_query *q)
{
	if (q->finished || q->outstanding > 0 || q->depth > 0)
		return;
	if (q->kind == QUERY_ROUTE && !q->decided)
		route_assemble(q);
	query_finish(q);
}

static void deliver(struct dns_query *q);

/* Deliver finished lookups: at most as many as were waiting when this
 * started, so callbacks that start lookups which finish at once (literals)
 * cannot keep it going; those wait for the next round (the timer fires at
 * once). */
static void run_done(struct dns_resolver *r)
{
	for (size_t n = r->ndone; n > 0 && r->done_head != NULL; n--) {
		struct dns_query *q = r->done_head;
		done_remove(r, q);
		deliver(q);
		query_free(q);
	}
}

void dns_query_cancel(struct dns_query *q)
{
	if (q == NULL || q->in_callback || q->cancelled)
		return;
	q->cancelled = true;
	if (q->on_done)
		done_remove(q->r, q);
	/* Queries still in c-ares free themselves in their last callback. */
	if (q->outstanding == 0 && q->depth == 0)
		query_free(q);
}

/* --- answers ------------------------------------------------------------- */

enum outcome { OUT_RECORDS, OUT_NODATA, OUT_NXDOMAIN, OUT_TEMPFAIL };

static const char *ares_status_text(int status)
{
	switch (status) {
	case ARES_ESERVFAIL:
		return "server failure";
	case ARES_EREFUSED:
		return "query refused";
	case ARES_ETIMEOUT:
		return "timed out";
	case ARES_ECONNREFUSED:
		return "connection refused";
	case ARES_EFORMERR:
		return "format error";
	case ARES_ENOTIMP:
		return "not implemented";
	case ARES_EBADRESP:
		return "malformed answer";
	case ARES_EBADNAME:
		return "invalid name";
	case ARES_ECANCELLED:
	case ARES_EDESTRUCTION:
		return "cancelled";
	default:
		return ares_strerror(status);
	}
}

/* Judge one c-ares answer. On OUT_RECORDS *ans holds the records (the caller
 * frees it); on OUT_TEMPFAIL *why says what went wrong. */
static enum outcome judge(int status, const unsigned char *abuf, int alen, unsigned type,
			  struct dns_answer *ans, char *why, size_t whylen)
{
	memset(ans, 0, sizeof(*ans));
	if (abuf != NULL && alen > 0) {
		const char *perr;
		if (dns_parse_answer(abuf, (size_t)alen, ans, &perr) < 0) {
			snprintf(why, whylen, "malformed answer (%s)", perr);
			return OUT_TEMPFAIL;
		}
		if (ans->qtype != type) {
			dns_answer_free(ans);
			snprintf(why, whylen, "answer to another question");
			return OUT_TEMPFAIL;
		}
		if (ans->rcode == DNS_RCODE_NXDOMAIN)
			return OUT_NXDOMAIN;
		if (ans->rcode != DNS_RCODE_NOERROR) {
			snprintf(why, whylen, "%s", dns_rcode_text(ans->rcode));
			dns_answer_free(ans);
			return OUT_TEMPFAIL;
		}
		if (ans->nmx + ans->naddr + ans->ntxt == 0)
			return OUT_NODATA;
		return OUT_RECORDS;
	}
	switch (status) {
	case ARES_ENODATA:
		return OUT_NODATA;
	case ARES_ENOTFOUND:
		return OUT_NXDOMAIN;
	default:
		snprintf(why, whylen, "%s", ares_status_text(status));
		return OUT_TEMPFAIL;
	}
}

static const char *type_name(unsigned type)
{
	switch (type) {
	case DNS_TYPE_MX:
		return "MX";
	case DNS_TYPE_A:
		return "A";
	case DNS_TYPE_AAAA:
		return "AAAA";
	case DNS_TYPE_TXT:
		return "TXT";
	default:
		return "?";
	}
}

static void ares_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen);

static void start_query(struct dns_query *q, const char *name, unsigned type, size_t host)
{
	struct lookup *lk = xcalloc(1, sizeof(*lk));
	lk->q = q;
	lk->type = type;
	lk->host = host;
	q->outstanding++;
	/* c-ares may call back at once (a bad name): depth keeps q open. */
	q->depth++;
	ares_query(q->r->channel, name, DNS_CLASS_IN, (int)type, ares_cb, lk);
	q->depth--;
}

/* --- names and addresses ------------------------------------------------- */

/* A host name we are willing to look up: LDH labels (and '_'), not empty,
 * at most 253 characters, an optional final dot. */
static bool name_is_valid(const char *s)
{
	size_t len = strlen(s);
	if (len > 0 && s[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return false;
	size_t label = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
		if (++label > 63)
			return false;
	}
	return true;
}

/* Parse an IP address, optionally in brackets (with "IPv6:" for v6 as in an
 * SMTP address literal when `literal`). */
static bool parse_ip(const char *s, bool literal, struct dns_addr *a)
{
	char buf[256];
	size_t len = strlen(s);
	if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
		s++;
		len -= 2;
	} else if (literal) {
		return false;
	}
	if (len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	const char *p = buf;
	bool v6tag = strncasecmp(p, "IPv6:", 5) == 0;
	if (v6tag)
		p += 5;
	if (!v6tag && inet_pton(AF_INET, p, a->addr) == 1) {
		a->family = AF_INET;
		return true;
	}
	if ((v6tag || !literal) && inet_pton(AF_INET6, p, a->addr) == 1) {
		a->family = AF_INET6;
		return true;
	}
	return false;
}

static void host_add(struct route_host *h, const struct dns_addr *a)
{
	if (a->family == AF_INET6 && h->n6 < DNS_ROUTE_MAX_ADDRS_FAMILY)
		h->v6[h->n6++] = *a;
	else if (a->family == AF_INET && h->n4 < DNS_ROUTE_MAX_ADDRS_FAMILY)
		h->v4[h->n4++] = *a;
}

static void to_sockaddr(const struct dns_addr *a, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, a->addr, 16);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, a->addr, 4);
	}
}

/* A printable copy of an untrusted name for an error text. */
static void safe_text(char *out, size_t outlen, const char *s)
{
	size_t o = 0;
	for (; *s != '\0' && o + 1 < outlen && o < 100; s++)
		out[o++] = (*s > 32 && *s < 127) ? *s : '?';
	out[o] = '\0';
}

/* --- routes -------------------------------------------------------------- */

static void route_decide(struct dns_query *q, enum dns_route_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void route_decide(struct dns_query *q, enum dns_route_status status, const char *fmt, ...)
{
	q->status = status;
	q->decided = true;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(q->error, sizeof(q->error), fmt, ap);
	va_end(ap);
}

static struct route_host *route_add_host(struct dns_query *q, const char *name, unsigned pref)
{
	if (q->hosts == NULL)
		q->hosts = xcalloc(DNS_ROUTE_MAX_HOSTS, sizeof(*q->hosts));
	struct route_host *h = &q->hosts[q->nhosts++];
	snprintf(h->name, sizeof(h->name), "%s", name);
	h->pref = pref;
	return h;
}

/* Start AAAA and A lookups for host i (or use it as an address). */
static void route_resolve_host(struct dns_query *q, size_t i)
{
	struct dns_addr a;
	if (parse_ip(q->hosts[i].name, false, &a)) {
		host_add(&q->hosts[i], &a);
		return;
	}
	start_query(q, q->hosts[i].name, DNS_TYPE_AAAA, i);
	start_query(q, q->hosts[i].name, DNS_TYPE_A, i);
}

struct mx_order {
	unsigned pref;
	uint32_t key;
	const char *host;
};

static int mx_order_cmp(const void *a, const void *b)
{
	const struct mx_order *x = a, *y = b;
	if (x->pref != y->pref)
		return x->pref < y->pref ? -1 : 1;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return 0;
}

static void route_on_mx(struct dns_query *q, int status, const unsigned char *abuf, int alen)
{
	struct dns_answer ans;
	char why[200];
	switch (judge(status, abuf, alen, DNS_TYPE_MX, &ans, why, sizeof(why))) {
	case OUT_TEMPFAIL:
		route_decide(q, DNS_ROUTE_TEMPFAIL, "DNS lookup of MX for %s: %s", q->name, why);
		return;
	case OUT_NXDOMAIN:
		dns_answer_free(&ans);
		route_decide(q, DNS_ROUTE_NXDOMAIN, "DNS lookup of MX for %s: no such domain",
			     q->name);
		return;
	case OUT_NODATA:
		/* RFC 5321 5.1: no MX records, the domain is its own mail host. */
		dns_answer_free(&ans);
		q->from_mx = false;
		route_add_host(q, q->name, 0);
		route_resolve_host(q, 0);
		return;
	case OUT_RECORDS:
		break;
	}
	if (ans.null_mx) {
		dns_answer_free(&ans);
		route_decide(q, DNS_ROUTE_NULLMX,
			     "domain %s does not accept mail (null MX, RFC 7505)", q->name);
		return;
	}
	q->from_mx = true;
	struct mx_order order[DNS_ANSWER_MAX];
	uint32_t keys[DNS_ANSWER_MAX];
	random_bytes(keys, sizeof(keys));
	for (size_t i = 0; i < ans.nmx; i++) {
		order[i].pref = ans.mx[i].pref;
		order[i].key = keys[i];
		order[i].host = ans.mx[i].host;
	}
	/* The loop above filled the ans.nmx entries qsort reads. */
	/* cppcheck-suppress uninitvar */
	qsort(order, ans.nmx, sizeof(order[0]), mx_order_cmp);
	for (size_t i = 0; i < ans.nmx && q->nhosts < DNS_ROUTE_MAX_HOSTS; i++) {
		const char *host = order[i].host;
		struct dns_addr a;
		/* The root ("." among other MX records) and names we would not
		 * look up are unusable hosts; a repeated host is tried once. */
		if (!name_is_valid(host) && !parse_ip(host, false, &a))
			continue;
		bool seen = false;
		for (size_t k = 0; k < q->nhosts && !seen; k++)
			seen = strcasecmp(q->hosts[k].name, host) == 0;
		if (!seen)
			route_add_host(q, host, order[i].pref);
	}
	dns_answer_free(&ans);
	for (size_t i = 0; i < q->nhosts; i++)
		route_resolve_host(q, i);
}

static void route_on_addr(struct dns_query *q, struct lookup *lk, int status,
			  const unsigned char *abuf, int alen)
{
	struct dns_answer ans;
	char why[200];
	struct route_host *h = &q->hosts[lk->host];
	switch (judge(status, abuf, alen, lk->type, &ans, why, sizeof(why))) {
	case OUT_TEMPFAIL:
		if (!q->any_tempfail)
			snprintf(q->error, sizeof(q->error), "DNS lookup of %s for %s: %s",
				 type_name(lk->type), h->name, why);
		q->any_tempfail = true;
		return;
	case OUT_RECORDS:
		for (size_t i = 0; i < ans.naddr; i++)
			host_add(h, &ans.addr[i]);
		break;
	case OUT_NXDOMAIN:
	case OUT_NODATA:
		break;
	}
	dns_answer_free(&ans);
}

/* All address lookups are back: decide. */
static void route_assemble(struct dns_query *q)
{
	size_t usable = 0;
	for (size_t i = 0; i < q->nhosts; i++)
		usable += q->hosts[i].n6 + q->hosts[i].n4 > 0;
	if (usable > 0) {
		q->status = DNS_ROUTE_OK;
		q->error[0] = '\0';
	} else if (q->any_tempfail) {
		q->status = DNS_ROUTE_TEMPFAIL; /* q->error holds the first failure */
	} else if (q->from_mx) {
		q->status = DNS_ROUTE_NOHOST;
		snprintf(q->error, sizeof(q->error), "no MX host of %s has an address", q->name);
	} else {
		q->status = DNS_ROUTE_NOHOST;
		snprintf(q->error, sizeof(q->error), "%s has no MX and no address records",
			 q->name);
	}
	q->decided = true;
}

static void deliver_route(struct dns_query *q)
{
	struct dns_route route = {.status = q->status, .from_mx = q->from_mx};
	route.error = q->status == DNS_ROUTE_OK ? NULL : q->error;
	if (q->status == DNS_ROUTE_OK) {
		route.targets = xcalloc(q->nhosts, sizeof(*route.targets));
		for (size_t i = 0; i < q->nhosts; i++) {
			const struct route_host *h = &q->hosts[i];
			size_t n = h->n6 + h->n4;
			if (n == 0)
				continue;
			struct dns_target *t = &route.targets[route.ntargets++];
			snprintf(t->host, sizeof(t->host), "%s", h->name);
			t->pref = h->pref;
			t->addr = xcalloc(n, sizeof(*t->addr));
			/* Interleave the families, IPv6 first (RFC 8305 4). */
			for (size_t k = 0; k < DNS_ROUTE_MAX_ADDRS_FAMILY; k++) {
				if (k < h->n6)
					to_sockaddr(&h->v6[k], &t->addr[t->naddr++]);
				if (k < h->n4)
					to_sockaddr(&h->v4[k], &t->addr[t->naddr++]);
			}
		}
	}
	q->route_cb(q->ctx, &route);
	for (size_t i = 0; i < route.ntargets; i++)
		free(route.targets[i].addr);
	free(route.targets);
}

struct dns_query *dns_route_lookup(struct dns_resolver *r, const char *domain, dns_route_cb *cb,
				   void *ctx)
{
	struct dns_query *q = query_new(r, QUERY_ROUTE, domain, ctx);
	q->route_cb = cb;
	q->depth++;
	struct dns_addr a;
	char shown[128];
	safe_text(shown, sizeof(shown), domain);
	if (domain[0] == '[') {
		if (parse_ip(domain, true, &a)) {
			route_add_host(q, domain, 0);
			host_add(&q->hosts[0], &a);
		} else {
			route_decide(q, DNS_ROUTE_NOHOST, "invalid address literal %s", shown);
		}
	} else if (!name_is_valid(domain)) {
		route_decide(q, DNS_ROUTE_NOHOST, "invalid domain name %s", shown);
	} else {
		start_query(q, domain, DNS_TYPE_MX, 0);
	}
	q->depth--;
	query_maybe_finish(q);
	update_timer(r);
	return q;
}

/* --- TXT ----------------------------------------------------------------- */

static void txt_on_answer(struct dns_query *q, int status, const unsigned char *abuf, int alen)
{
	struct dns_answer ans;
	char why[200];
	switch (judge(status, abuf, alen, DNS_TYPE_TXT, &ans, why, sizeof(why))) {
	case OUT_TEMPFAIL:
		q->txt_status = -1;
		return;
	case OUT_NXDOMAIN:
	case OUT_NODATA:
		q->txt_status = 1;
		break;
	case OUT_RECORDS:
		q->txt_status = 0;
		q->txt = xcalloc(ans.ntxt + 1, sizeof(*q->txt));
		for (size_t i = 0; i < ans.ntxt; i++)
			q->txt[q->ntxt++] = xstrdup(ans.txt[i].data);
		break;
	}
	dns_answer_free(&ans);
}

struct dns_query *dns_lookup_txt(struct dns_resolver *r, const char *name, dns_txt_cb *cb,
				 void *ctx)
{
	struct dns_query *q = query_new(r, QUERY_TXT, name, ctx);
	q->txt_cb = cb;
	q->depth++;
	if (name_is_valid(name))
		start_query(q, name, DNS_TYPE_TXT, 0);
	else
		q->txt_status = 1; /* no such name can exist */
	q->depth--;
	query_maybe_finish(q);
	update_timer(r);
	return q;
}

/* --- dispatch ------------------------------------------------------------ */

static void ares_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	(void)timeouts;
	struct lookup *lk = arg;
	struct dns_query *q = lk->q;
	q->outstanding--;
	if (q->cancelled || q->r->closing) {
		if (q->cancelled && q->outstanding == 0 && q->depth == 0)
			query_free(q);
		free(lk);
		return;
	}
	q->depth++;
	if (q->kind == QUERY_TXT)
		txt_on_answer(q, status, abuf, alen);
	else if (lk->type == DNS_TYPE_MX)
		route_on_mx(q, status, abuf, alen);
	else
		route_on_addr(q, lk, status, abuf, alen);
	q->depth--;
	free(lk);
	query_maybe_finish(q);
}

static void deliver(struct dns_query *q)
{
	q->in_callback = true;
	if (q->kind == QUERY_ROUTE)
		deliver_route(q);
	else
		q->txt_cb(q->ctx, q->txt_status, (const char *const *)q->txt, q->ntxt);
}

const char *dns_route_status_name(enum dns_route_status status)
{
	switch (status) {
	case DNS_ROUTE_OK:
		return "ok";
	case DNS_ROUTE_TEMPFAIL:
		return "tempfail";
	case DNS_ROUTE_NXDOMAIN:
		return "nxdomain";
	case DNS_ROUTE_NULLMX:
		return "nullmx";
	case DNS_ROUTE_NOHOST:
		return "nohost";
	}
	return "?";
}

/* --- resolver ------------------------------------------------------------ */

/* Parse "ADDR[:PORT][,ADDR[:PORT]...]" (IPv6 as [ADDR]:PORT or bare ADDR)
 * into nodes[]. Returns the count or -1 with a message. */
static int parse_servers(const char *list, struct ares_addr_port_node *nodes, char *err,
			 size_t errlen)
{
	int n = 0;
	const char *p = list;
	while (*p != '\0') {
		const char *end = strchr(p, ',');
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
		char item[128], host[128];
		while (len > 0 && (*p == ' ' || *p == '\t')) {
			p++;
			len--;
		}
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len == 0 || len >= sizeof(item)) {
			snprintf(err, errlen, "DNS server list \"%s\": empty or overlong entry",
				 list);
			return -1;
		}
		memcpy(item, p, len);
		item[len] = '\0';
		const char *port = NULL;
		if (item[0] == '[') {
			char *close = strchr(item, ']');
			if (close == NULL || (close[1] != '\0' && close[1] != ':'))
				goto bad;
			*close = '\0';
			snprintf(host, sizeof(host), "%s", item + 1);
			if (close[1] == ':')
				port = close + 2;
		} else {
			char *colon = strchr(item, ':');
			if (colon != NULL && strchr(colon + 1, ':') == NULL) {
				*colon = '\0';
				port = colon + 1;
			}
			snprintf(host, sizeof(host), "%s", item);
		}
		uint64_t portnum = 53;
		if (port != NULL && (parse_u64(port, strlen(port), &portnum) < 0 || portnum == 0 ||
				     portnum > 65535))
			goto bad;
		if (n == MAX_SERVERS) {
			snprintf(err, errlen, "DNS server list: more than %d servers", MAX_SERVERS);
			return -1;
		}
		struct ares_addr_port_node *node = &nodes[n];
		memset(node, 0, sizeof(*node));
		if (inet_pton(AF_INET, host, &node->addr.addr4) == 1)
			node->family = AF_INET;
		else if (inet_pton(AF_INET6, host, &node->addr.addr6) == 1)
			node->family = AF_INET6;
		else
			goto bad;
		node->udp_port = node->tcp_port = (int)portnum;
		if (n > 0)
			nodes[n - 1].next = node;
		n++;
		p += len;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == ',' && *++p == '\0') {
			snprintf(err, errlen, "DNS server list \"%s\": empty entry", list);
			return -1;
		}
		continue;
	bad:
		snprintf(err, errlen, "DNS server list: bad server \"%s\"", item);
		return -1;
	}
	if (n == 0) {
		snprintf(err, errlen, "DNS server list \"%s\" names no server", list);
		return -1;
	}
	return n;
}

struct dns_resolver *dns_resolver_new(struct loop *loop, const char *servers, char *err,
				      size_t errlen)
{
	return dns_resolver_new_opts(loop, servers, 2000, 2, err, errlen);
}

struct dns_resolver *dns_resolver_new_opts(struct loop *loop, const char *servers,
					   unsigned timeout_ms, unsigned tries, char *err,
					   size_t errlen)
{
	struct ares_addr_port_node nodes[MAX_SERVERS];
	int nnodes = 0;
	if (servers != NULL && servers[0] != '\0') {
		nnodes = parse_servers(servers, nodes, err, errlen);
		if (nnodes < 0)
			return NULL;
	}
	pthread_once(&ares_once, ares_global_init);
	if (ares_init_status != ARES_SUCCESS) {
		snprintf(err, errlen, "c-ares: %s", ares_strerror(ares_init_status));
		return NULL;
	}

	struct dns_resolver *r = xcalloc(1, sizeof(*r));
	r->loop = loop;
	r->timer.fd = -1;
	struct ares_options opts;
	memset(&opts, 0, sizeof(opts));
	/* EDNS lets answers up to 1232 octets (DNS flag day 2020) come over UDP;
	 * larger ones are retried over TCP by c-ares (TC). NOCHECKRESP hands
	 * SERVFAIL and REFUSED answers to us instead of trying the next server:
	 * c-ares 1.18 would report them as "connection refused", and an honest
	 * reason matters in a bounce. Timeouts still move on to the next server. */
	opts.flags = ARES_FLAG_EDNS | ARES_FLAG_NOSEARCH | ARES_FLAG_NOCHECKRESP;
	opts.ednspsz = 1232;
	opts.timeout = timeout_ms > 0 ? (int)timeout_ms : 2000;
	opts.tries = tries > 0 ? (int)tries : 1;
	opts.sock_state_cb = sock_state_cb;
	opts.sock_state_cb_data = r;
	int mask = ARES_OPT_FLAGS | ARES_OPT_EDNSPSZ | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES |
		   ARES_OPT_SOCK_STATE_CB;
	int rc = ares_init_options(&r->channel, &opts, mask);
	if (rc != ARES_SUCCESS) {
		snprintf(err, errlen, "c-ares: %s", ares_strerror(rc));
		free(r);
		return NULL;
	}
	r->have_channel = true;
	if (nnodes > 0 && (rc = ares_set_servers_ports(r->channel, nodes)) != ARES_SUCCESS) {
		snprintf(err, errlen, "c-ares: setting servers: %s", ares_strerror(rc));
		dns_resolver_free(&r);
		return NULL;
	}
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (tfd < 0) {
		snprintf(err, errlen, "timerfd_create: %s", strerror(errno));
		dns_resolver_free(&r);
		return NULL;
	}
	if (loop_watch(loop, &r->timer, tfd, LOOP_READ, timer_cb, r) < 0) {
		snprintf(err, errlen, "epoll_ctl: %s", strerror(errno));
		close(tfd);
		dns_resolver_free(&r);
		return NULL;
	}
	return r;
}

void dns_resolver_free(struct dns_resolver **rp)
{
	struct dns_resolver *r = *rp;
	if (r == NULL)
		return;
	r->closing = true;
	/* No callback of any pending lookup will run: mark them all, let
	 * c-ares call back each query it holds (ARES_EDESTRUCTION), then drop
	 * whatever is left. */
	for (struct dns_query *q = r->queries; q != NULL; q = q->next)
		q->cancelled = true;
	if (r->have_channel)
		ares_destroy(r->channel);
	while (r->queries != NULL)
		query_free(r->queries);
	if (r->timer.fd >= 0 && r->timer.registered) {
		loop_unwatch(r->loop, &r->timer);
		close(r->timer.fd);
	}
	for (size_t i = 0; i < r->nsocks; i++) {
		if (r->socks[i]->used)
			loop_unwatch(r->loop, &r->socks[i]->w);
		free(r->socks[i]);
	}
	free(r->socks);
	free(r);
	*rp = NULL;
}
