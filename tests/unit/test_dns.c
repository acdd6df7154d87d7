/* test_dns.c - unit tests for the loop-driven resolver (dns.c): a small UDP
 * DNS responder thread on 127.0.0.1 answers from a canned zone, and route and
 * TXT lookups run on a real loop: MX order and equal-preference shuffling,
 * implicit MX, null MX, NXDOMAIN, SERVFAIL and timeouts, CNAMEs, IPv6 with
 * IPv4, bounds, cancellation, and freeing with lookups pending. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/loop.h"
#include "dns/dns.h"
#include "dns/dns_parse.h"

/* --- the canned zone ------------------------------------------------------ */

/* type 0 with data "SERVFAIL", "REFUSED" or "TIMEOUT" makes the name fail. */
struct zone_rr {
	const char *name;
	unsigned type;
	unsigned pref;
	const char *data; /* address, target name, or TXT strings split by '|' */
};

static const struct zone_rr zone[] = {
    {"mx.test", DNS_TYPE_MX, 20, "mx2.mx.test"},
    {"mx.test", DNS_TYPE_MX, 10, "mx1.mx.test"},
    {"mx1.mx.test", DNS_TYPE_A, 0, "127.0.0.2"},
    {"mx1.mx.test", DNS_TYPE_AAAA, 0, "::2"},
    {"mx2.mx.test", DNS_TYPE_A, 0, "127.0.0.3"},
    {"eq.test", DNS_TYPE_MX, 10, "a.eq.test"},
    {"eq.test", DNS_TYPE_MX, 10, "b.eq.test"},
    {"eq.test", DNS_TYPE_MX, 5, "first.eq.test"},
    {"first.eq.test", DNS_TYPE_A, 0, "192.0.2.5"},
    {"a.eq.test", DNS_TYPE_A, 0, "192.0.2.10"},
    {"b.eq.test", DNS_TYPE_A, 0, "192.0.2.11"},
    {"implicit.test", DNS_TYPE_A, 0, "192.0.2.20"},
    {"implicit.test", DNS_TYPE_AAAA, 0, "2001:db8::20"},
    {"bare.test", DNS_TYPE_TXT, 0, "no mail here"},
    {"nullmx.test", DNS_TYPE_MX, 0, "."},
    {"servfail.test", 0, 0, "SERVFAIL"},
    {"refused.test", 0, 0, "REFUSED"},
    {"timeout.test", 0, 0, "TIMEOUT"},
    {"cname.test", DNS_TYPE_MX, 10, "alias.cname.test"},
    {"alias.cname.test", DNS_TYPE_CNAME, 0, "mid.cname.test"},
    {"mid.cname.test", DNS_TYPE_CNAME, 0, "real.cname.test"},
    {"real.cname.test", DNS_TYPE_A, 0, "192.0.2.30"},
    {"viacname.test", DNS_TYPE_CNAME, 0, "mx.test"},
    {"v6.test", DNS_TYPE_MX, 10, "dual.v6.test"},
    {"dual.v6.test", DNS_TYPE_AAAA, 0, "2001:db8::1"},
    {"dual.v6.test", DNS_TYPE_AAAA, 0, "2001:db8::2"},
    {"dual.v6.test", DNS_TYPE_A, 0, "192.0.2.1"},
    {"nohost.test", DNS_TYPE_MX, 10, "gone.nohost.test"},
    {"nohost.test", DNS_TYPE_MX, 20, "."},
    {"half.test", DNS_TYPE_MX, 10, "sf.half.test"},
    {"half.test", DNS_TYPE_MX, 20, "ok.half.test"},
    {"sf.half.test", 0, 0, "SERVFAIL"},
    {"ok.half.test", DNS_TYPE_A, 0, "192.0.2.40"},
    {"broken.test", DNS_TYPE_MX, 10, "sf.broken.test"},
    {"sf.broken.test", 0, 0, "SERVFAIL"},
    {"iplit.test", DNS_TYPE_MX, 10, "192.0.2.55"},
    {"dup.test", DNS_TYPE_MX, 10, "mx1.mx.test"},
    {"dup.test", DNS_TYPE_MX, 20, "MX1.mx.test"},
    {"txt.test", DNS_TYPE_TXT, 0, "v=spf1 |mx -all"},
    {"txt.test", DNS_TYPE_TXT, 0, "second"},
    {"garbage.test", 0, 0, "GARBAGE"},
};

/* many.test: 15 MX hosts m1..m15 with preference = number, each with an A. */
#define MANY 15

/* --- the responder -------------------------------------------------------- */

static int responder_fd = -1;
static unsigned responder_port;
static pthread_t responder_thread;
static atomic_bool responder_stop;
static atomic_uint responder_queries;

struct wbuf {
	uint8_t b[1500];
	size_t n;
};

static void w8(struct wbuf *w, unsigned v)
{
	if (w->n < sizeof(w->b))
		w->b[w->n++] = (uint8_t)v;
}

static void w16(struct wbuf *w, unsigned v)
{
	w8(w, v >> 8);
	w8(w, v & 0xff);
}

static void wname(struct wbuf *w, const char *name)
{
	const char *p = name;
	while (*p != '\0' && strcmp(p, ".") != 0) {
		const char *dot = strchr(p, '.');
		size_t len = dot != NULL ? (size_t)(dot - p) : strlen(p);
		w8(w, (unsigned)len);
		for (size_t i = 0; i < len; i++)
			w8(w, (unsigned char)p[i]);
		p += len + (dot != NULL);
	}
	w8(w, 0);
}

static void wrr(struct wbuf *w, const char *owner, unsigned type, unsigned pref, const char *data)
{
	wname(w, owner);
	w16(w, type);
	w16(w, DNS_CLASS_IN);
	w16(w, 0);
	w16(w, 60);
	size_t at = w->n;
	w16(w, 0);
	if (type == DNS_TYPE_A) {
		uint8_t a[4];
		inet_pton(AF_INET, data, a);
		for (int i = 0; i < 4; i++)
			w8(w, a[i]);
	} else if (type == DNS_TYPE_AAAA) {
		uint8_t a[16];
		inet_pton(AF_INET6, data, a);
		for (int i = 0; i < 16; i++)
			w8(w, a[i]);
	} else if (type == DNS_TYPE_MX) {
		w16(w, pref);
		wname(w, data);
	} else if (type == DNS_TYPE_CNAME) {
		wname(w, data);
	} else if (type == DNS_TYPE_TXT) {
		const char *p = data;
		for (;;) {
			const char *bar = strchr(p, '|');
			size_t len = bar != NULL ? (size_t)(bar - p) : strlen(p);
			w8(w, (unsigned)len);
			for (size_t i = 0; i < len; i++)
				w8(w, (unsigned char)p[i]);
			if (bar == NULL)
				break;
			p = bar + 1;
		}
	}
	size_t len = w->n - at - 2;
	w->b[at] = (uint8_t)(len >> 8);
	w->b[at + 1] = (uint8_t)len;
}

/* Records of `type` for `name` into the answer; returns how many, or -1 if
 * the name is unknown. Sets *fail to a failure mode, *cname to an alias. */
static int zone_find(const char *name, unsigned type, struct wbuf *w, unsigned *count,
		     const char **fail, const char **cname)
{
	int known = -1;
	*fail = NULL;
	*cname = NULL;
	char buf[64];
	for (int i = 1; i <= MANY; i++) {
		snprintf(buf, sizeof(buf), "m%d.many.test", i);
		if (strcasecmp(name, buf) == 0) {
			known = 0;
			if (type == DNS_TYPE_A) {
				snprintf(buf, sizeof(buf), "10.0.0.%d", i);
				wrr(w, name, type, 0, buf);
				(*count)++;
				known = 1;
			}
		}
	}
	if (strcasecmp(name, "many.test") == 0) {
		known = 0;
		for (int i = MANY; i >= 1 && type == DNS_TYPE_MX; i--) {
			snprintf(buf, sizeof(buf), "m%d.many.test", i);
			wrr(w, name, type, (unsigned)i, buf);
			(*count)++;
			known++;
		}
	}
	for (size_t i = 0; i < sizeof(zone) / sizeof(zone[0]); i++) {
		if (strcasecmp(zone[i].name, name) != 0)
			continue;
		if (known < 0)
			known = 0;
		if (zone[i].type == 0)
			*fail = zone[i].data;
		else if (zone[i].type == DNS_TYPE_CNAME && type != DNS_TYPE_CNAME)
			*cname = zone[i].data;
		if (zone[i].type == type || (zone[i].type == DNS_TYPE_CNAME && *cname != NULL)) {
			wrr(w, name, zone[i].type, zone[i].pref, zone[i].data);
			(*count)++;
			known++;
		}
	}
	return known;
}

static void respond(const uint8_t *q, size_t qlen, const struct sockaddr_in *peer)
{
	/* Queries from c-ares: header, one uncompressed question, maybe OPT. */
	if (qlen < 17)
		return;
	char name[256];
	size_t off = 12, o = 0;
	while (off < qlen && q[off] != 0) {
		size_t n = q[off];
		if (off + 1 + n > qlen || o + n + 2 > sizeof(name))
			return;
		if (o > 0)
			name[o++] = '.';
		memcpy(name + o, q + off + 1, n);
		o += n;
		off += 1 + n;
	}
	name[o] = '\0';
	if (off + 5 > qlen)
		return;
	unsigned type = ((unsigned)q[off + 1] << 8) | q[off + 2];
	size_t qend = off + 5;

	struct wbuf w = {.n = 0};
	w8(&w, q[0]);
	w8(&w, q[1]);
	w16(&w, 0); /* flags, set below */
	w16(&w, 1);
	w16(&w, 0); /* ancount, set below */
	w16(&w, 0);
	w16(&w, 0);
	for (size_t i = 12; i < qend; i++)
		w8(&w, q[i]);
	unsigned count = 0, rcode = DNS_RCODE_NOERROR;
	char cur[256];
	snprintf(cur, sizeof(cur), "%s", name);
	for (int hop = 0; hop < 10; hop++) {
		const char *fail, *cname;
		int known = zone_find(cur, type, &w, &count, &fail, &cname);
		if (fail != NULL && strcmp(fail, "TIMEOUT") == 0)
			return;
		if (fail != NULL && strcmp(fail, "GARBAGE") == 0) {
			w.n = 14; /* a header cut short */
			break;
		}
		if (fail != NULL) {
			rcode =
			    strcmp(fail, "SERVFAIL") == 0 ? DNS_RCODE_SERVFAIL : DNS_RCODE_REFUSED;
			break;
		}
		if (known < 0) {
			rcode = DNS_RCODE_NXDOMAIN;
			break;
		}
		if (cname == NULL)
			break;
		snprintf(cur, sizeof(cur), "%s", cname);
	}
	w.b[2] = 0x81; /* QR, RD */
	w.b[3] = (uint8_t)(0x80 | rcode);
	if (w.n >= 8) {
		w.b[6] = (uint8_t)(count >> 8);
		w.b[7] = (uint8_t)count;
	}
	if (sendto(responder_fd, w.b, w.n, 0, (const struct sockaddr *)peer, sizeof(*peer)) < 0)
		return;
}

static void *responder_main(void *arg)
{
	(void)arg;
	uint8_t buf[1500];
	while (!atomic_load(&responder_stop)) {
		struct pollfd pfd = {.fd = responder_fd, .events = POLLIN};
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		struct sockaddr_in peer;
		socklen_t plen = sizeof(peer);
		ssize_t n =
		    recvfrom(responder_fd, buf, sizeof(buf), 0, (struct sockaddr *)&peer, &plen);
		if (n <= 0)
			continue;
		atomic_fetch_add(&responder_queries, 1);
		respond(buf, (size_t)n, &peer);
	}
	return NULL;
}

static int responder_start(void **state)
{
	(void)state;
	responder_fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(responder_fd >= 0);
	struct sockaddr_in sin = {.sin_family = AF_INET};
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* Room for bursts of queries (best effort: capped by rmem_max). */
	int rcvbuf = 1 << 20;
	(void)setsockopt(responder_fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	assert_int_equal(bind(responder_fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	socklen_t len = sizeof(sin);
	assert_int_equal(getsockname(responder_fd, (struct sockaddr *)&sin, &len), 0);
	responder_port = ntohs(sin.sin_port);
	atomic_store(&responder_stop, false);
	assert_int_equal(pthread_create(&responder_thread, NULL, responder_main, NULL), 0);
	return 0;
}

static int responder_end(void **state)
{
	(void)state;
	atomic_store(&responder_stop, true);
	pthread_join(responder_thread, NULL);
	close(responder_fd);
	return 0;
}

/* --- running lookups ------------------------------------------------------ */

struct fixture {
	struct loop *loop;
	struct dns_resolver *r;
	unsigned ticks;
	unsigned pending; /* callbacks still expected */
	bool in_lookup;	  /* set around dns_route_lookup() calls */
	bool used;	  /* the loop has run: make a new one before the next run */
};

/* What a callback saw, copied out of the route. */
struct result {
	struct fixture *fx;
	int calls;
	bool called_inside;
	enum dns_route_status status;
	char error[512];
	bool from_mx;
	size_t ntargets;
	char hosts[16][256];
	unsigned prefs[16];
	char addrs[16][128]; /* per target: addresses joined by ' ' */
	/* TXT */
	int txt_status;
	size_t ntxt;
	char txt[8][256];
};

static void tick(void *arg)
{
	struct fixture *fx = arg;
	/* A bound on every test: no loop run takes more than 4 seconds. */
	if (++fx->ticks >= 4)
		loop_stop(fx->loop);
}

static void fixture_open(struct fixture *fx)
{
	fx->loop = loop_new();
	fx->used = false;
	loop_on_tick(fx->loop, tick, fx);
	char servers[64], err[256];
	snprintf(servers, sizeof(servers), "127.0.0.1:%u", responder_port);
	fx->r = dns_resolver_new_opts(fx->loop, servers, 300, 1, err, sizeof(err));
	if (fx->r == NULL)
		fail_msg("dns_resolver_new: %s", err);
}

static int fixture_setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	assert_non_null(fx);
	fixture_open(fx);
	*state = fx;
	return 0;
}

static int fixture_teardown(void **state)
{
	struct fixture *fx = *state;
	dns_resolver_free(&fx->r);
	assert_null(fx->r);
	loop_free(&fx->loop);
	free(fx);
	return 0;
}

static void addr_text(const struct sockaddr_storage *ss, char *out, size_t outlen)
{
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, out, (socklen_t)outlen);
		assert_int_equal(s6->sin6_port, 0);
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
		assert_int_equal(ss->ss_family, AF_INET);
		inet_ntop(AF_INET, &s4->sin_addr, out, (socklen_t)outlen);
		assert_int_equal(s4->sin_port, 0);
	}
}

static void route_cb(void *ctx, const struct dns_route *route)
{
	struct result *res = ctx;
	res->calls++;
	res->called_inside = res->fx->in_lookup;
	res->status = route->status;
	res->from_mx = route->from_mx;
	snprintf(res->error, sizeof(res->error), "%s", route->error != NULL ? route->error : "");
	if (route->status == DNS_ROUTE_OK)
		assert_null(route->error);
	else
		assert_non_null(route->error);
	res->ntargets = route->ntargets;
	for (size_t i = 0; i < route->ntargets && i < 16; i++) {
		const struct dns_target *t = &route->targets[i];
		assert_true(t->naddr > 0);
		snprintf(res->hosts[i], sizeof(res->hosts[i]), "%s", t->host);
		res->prefs[i] = t->pref;
		res->addrs[i][0] = '\0';
		for (size_t k = 0; k < t->naddr; k++) {
			char a[64];
			addr_text(&t->addr[k], a, sizeof(a));
			size_t used = strlen(res->addrs[i]);
			snprintf(res->addrs[i] + used, sizeof(res->addrs[i]) - used, "%s%s",
				 k > 0 ? " " : "", a);
		}
	}
	if (--res->fx->pending == 0)
		loop_stop(res->fx->loop);
}

static struct dns_query *start(struct fixture *fx, const char *domain, struct result *res)
{
	memset(res, 0, sizeof(*res));
	res->fx = fx;
	fx->pending++;
	fx->in_lookup = true;
	struct dns_query *q = dns_route_lookup(fx->r, domain, route_cb, res);
	fx->in_lookup = false;
	assert_non_null(q);
	return q;
}

/* A loop runs once (loop_stop() is final), so every run gets a new loop and
 * resolver; fresh() makes them before the lookups of the next run start. */
static void fresh(struct fixture *fx)
{
	if (!fx->used)
		return;
	dns_resolver_free(&fx->r);
	loop_free(&fx->loop);
	fixture_open(fx);
}

static void run(struct fixture *fx)
{
	fx->ticks = 0;
	fx->used = true;
	loop_run(fx->loop);
	if (fx->pending != 0)
		fail_msg("%u lookup(s) did not call back in time", fx->pending);
}

static void lookup(struct fixture *fx, const char *domain, struct result *res)
{
	fresh(fx);
	start(fx, domain, res);
	run(fx);
	assert_int_equal(res->calls, 1);
	assert_false(res->called_inside);
}

/* --- tests ---------------------------------------------------------------- */

static void test_mx_order(void **state)
{
	struct fixture *fx = *state;
	struct result res;
	lookup(fx, "mx.test", &res);
	assert_int_equal(res.status, DNS_ROUTE_OK);
	assert_true(res.from_mx);
	assert_int_equal(res.ntargets, 2);
	assert_string_equal(res.hosts[0], "mx1.mx.test");
	assert_int_equal(res.prefs[0], 10);
	assert_string_equal(res.addrs[0], "::2 127.0.0.2");
	assert_string_equal(res.hosts[1], "mx2.mx.test");
	assert_int_equal(res.prefs[1], 20);
	assert_string_equal(res.addrs[1], "127.0.0.3");
	/* Upper case and a final dot name the same domain. */
	lookup(fx, "MX.Test.", &res);
	assert_int_equal(res.status, DNS_ROUTE_OK);
	assert_int_equal(res.ntargets, 2);
}

static void test_equal_preference_shuffle(void **state)
{
	struct fixture *fx = *state;
	enum { RUNS = 40, BATCH = 8 };
	static struct result res[RUNS];
	/* In batches, so that the responder's socket buffer never overflows. */
	for (int b = 0; b < RUNS; b += BATCH) {
		fresh(fx);
		for (int i = b; i < b + BATCH; i++)
			start(fx, "eq.test", &res[i]);
		run(fx);
	}
	int a_first = 0, b_first = 0;
	for (int i = 0; i < RUNS; i++) {
		assert_int_equal(res[i].calls, 1);
		if (res[i].status != DNS_ROUTE_OK)
			fail_msg("run %d: %s", i, res[i].error);
		assert_int_equal(res[i].ntargets, 3);
		/* The lowest preference always comes first. */
		assert_string_equal(res[i].hosts[0], "first.eq.test");
		if (strcmp(res[i].hosts[1], "a.eq.test") == 0) {
			assert_string_equal(res[i].hosts[2], "b.eq.test");
			a_first++;
		} else {
			assert_string_equal(res[i].hosts[1], "b.eq.test");
			assert_string_equal(res[i].hosts[2], "a.eq.test");
			b_first++;
		}
	}
	/* Both orders: a chance of 2^-39 to fail by bad luck. */
	assert_true(a_first > 0);
	assert_true(b_first > 0);
}

static void test_implicit_mx(void **state)
{
	struct fixture *fx = *state;
	struct result res;
	lookup(fx, "implicit.test", &res);
	assert_int_equal(res.status, DNS_ROUTE_OK);
	assert_false(res.from_mx);
	assert_int_equal(res.ntargets, 1);
	assert_string_equal(res.hosts[0], "implicit.test");
	assert_int_equal(res.prefs[0], 0);
	assert_string_equal(res.addrs[0], "2001:db8::20 192.0.2.20");
	/* A domain with neither MX nor addresses. */
	lookup(fx, "bare.test", &res);
	assert_int_equal(res.status, DNS_ROUTE_NOHOST);
	assert_string_equal(res.error, "bare.test has no MX and no address records");
}

static void test_null_mx(void **state)
{
	struct fixture *fx = *state;
	struct result res;
	lookup(fx, "nullmx.test", &res);
	assert_int_equal(res.status, DNS_ROUTE_NULLMX);
	assert_int_equal(res.ntargets, 0);
	assert_non_null(strstr(res.error, "null MX"));
}

static void test_nxdomain(void **state)
{
	struct fixture *fx = *state;
	struct result res;
	lookup(fx, "nowhere.test", &res);
	assert_int_equal(res.status, DNS_ROUTE_NXDOMAIN);
	assert_string_equal(res.error, "DNS lookup of MX for nowhere.test: no such domain");
}

static void test_tempfail(void **state)
{
	struct fixture *fx = *state;
	struct result res;
	lookup(fx, "servfail.test", &res);
	assert_int_equal(res.status, DNS_ROUTE_TEMPFAIL);
	assert_string_equal(res.error, "DNS lookup of MX for servfail.test: server failure");
	lookup(fx, "refused.test", &res);
	assert_int_equal(res.status, DNS_ROUTE_TEMPFAIL);
	assert_string_equal(res.error, "DNS lookup of MX for refused.test: query refused");
	lookup(fx, "timeout.test", &res);
	assert_int_equal(res.status, DNS_ROUTE_TEMPFAIL);
	assert_string_equal(res.error, "DNS lookup of MX for timeout.test: timed out");
	lookup(fx, "garbage.test", &res);
	assert_int_equal(res.status, DNS_ROUTE_TEMPFAIL);
	assert_non_null(strstr(res.error, "DNS lookup of MX for garbage.test: "));
}

static void test_cname(void **state)
{
	struct fixture *fx = *state;
	struct result res;
	/* The MX host is an alias (two CNAMEs deep). */
	lookup(fx, "cname.test", &res);
	assert_int_equal(res.status, DNS_ROUTE_OK);
	assert_int_equal(res.ntargets, 1);
	assert_string_equal(res.hosts[0], "alias.cname.test");
	assert_string_equal(res.addrs[0], "192.0.2.30");
	/* The domain itself is an alias of one with MX records. */
	lookup(fx, "viacname.test", &res);
	assert_int_equal(res.status, DNS_ROUTE_OK);
	assert_int_equal(res.ntargets, 2);
	assert_string_equal(res.hosts[0], "mx1.mx.test");
}

static void test_ipv6_and_ipv4(void **state)
{
	struct fixture *fx = *state;
	struct result res;
	lookup(fx, "v6.test", &res);
	assert_int_equal(res.status, DNS_ROUTE_OK);
	assert_int_equal(res.ntargets, 1);
	assert_string_equal(res.addrs[0], "2001:db8::1 192.0.2.1 2001:db8::2");
}

static void test_unusable_hosts(void **state)
{
	struct fixture *fx = *state;
	struct result res;
	/* Only host NXDOMAIN, the other the root: no host, permanently. */
	lookup(fx, "nohost.test", &res);
	assert_int_equal(res.status, DNS_ROUTE_NOHOST);
	assert_string_equal(res.error, "no MX host of nohost.test has an address");
	/* One host fails, the other answers: that one is the route. */
	lookup(fx, "half.test", &res);
	assert_int_equal(res.status, DNS_ROUTE_OK);
	assert_int_equal(res.ntargets, 1);
	assert_string_equal(res.hosts[0], "ok.half.test");
	assert_int_equal(res.prefs[0], 20);
	/* The only host fails temporarily. */
	lookup(fx, "broken.test", &res);
	assert_int_equal(res.status, DNS_ROUTE_TEMPFAIL);
	assert_non_null(strstr(res.error, "for sf.broken.test: server failure"));
	/* An MX naming an IP address; a host listed twice is tried once. */
	lookup(fx, "iplit.test", &res);
	assert_int_equal(res.status, DNS_ROUTE_OK);
	assert_string_equal(res.hosts[0], "192.0.2.55");
	assert_string_equal(res.addrs[0], "192.0.2.55");
	lookup(fx, "dup.test", &res);
	assert_int_equal(res.status, DNS_ROUTE_OK);
	assert_int_equal(res.ntargets, 1);
}

static void test_host_bound(void **state)
{
	struct fixture *fx = *state;
	struct result res;
	lookup(fx, "many.test", &res);
	assert_int_equal(res.status, DNS_ROUTE_OK);
	assert_int_equal(res.ntargets, DNS_ROUTE_MAX_HOSTS);
	for (size_t i = 0; i < DNS_ROUTE_MAX_HOSTS; i++) {
		char want[32];
		snprintf(want, sizeof(want), "m%zu.many.test", i + 1);
		assert_string_equal(res.hosts[i], want);
		assert_int_equal(res.prefs[i], i + 1);
	}
}

static void test_literals_and_bad_names(void **state)
{
	struct fixture *fx = *state;
	struct result res;
	unsigned before = atomic_load(&responder_queries);
	lookup(fx, "[192.0.2.9]", &res);
	assert_int_equal(res.status, DNS_ROUTE_OK);
	assert_false(res.from_mx);
	assert_string_equal(res.hosts[0], "[192.0.2.9]");
	assert_string_equal(res.addrs[0], "192.0.2.9");
	lookup(fx, "[IPv6:2001:db8::9]", &res);
	assert_int_equal(res.status, DNS_ROUTE_OK);
	assert_string_equal(res.addrs[0], "2001:db8::9");
	lookup(fx, "[2001:db8::9]", &res);
	assert_int_equal(res.status, DNS_ROUTE_NOHOST);
	lookup(fx, "[300.1.1.1]", &res);
	assert_int_equal(res.status, DNS_ROUTE_NOHOST);
	lookup(fx, "bad name.test", &res);
	assert_int_equal(res.status, DNS_ROUTE_NOHOST);
	assert_string_equal(res.error, "invalid domain name bad?name.test");
	lookup(fx, "a..test", &res);
	assert_int_equal(res.status, DNS_ROUTE_NOHOST);
	lookup(fx, "", &res);
	assert_int_equal(res.status, DNS_ROUTE_NOHOST);
	/* None of these asked the DNS. */
	assert_int_equal(atomic_load(&responder_queries), before);
}

static void other_cb(void *ctx, const struct dns_route *route)
{
	(void)route;
	int *calls = ctx;
	(*calls)++;
}

static void txt_never_cb(void *ctx, int status, const char *const *txt, size_t n)
{
	(void)status;
	(void)txt;
	(void)n;
	int *calls = ctx;
	(*calls)++;
}

static void test_cancel(void **state)
{
	struct fixture *fx = *state;
	struct result res;
	int cancelled_calls = 0;
	/* In flight (the answer never comes, or comes later), and already
	 * finished (a literal waits on the done list): neither calls back. */
	struct dns_query *q1 = dns_route_lookup(fx->r, "timeout.test", other_cb, &cancelled_calls);
	struct dns_query *q2 = dns_route_lookup(fx->r, "mx.test", other_cb, &cancelled_calls);
	struct dns_query *q3 = dns_route_lookup(fx->r, "[192.0.2.1]", other_cb, &cancelled_calls);
	dns_query_cancel(q1);
	dns_query_cancel(q2);
	dns_query_cancel(q3);
	dns_query_cancel(NULL);
	/* Lookups started after them finish, one past q1's timeout, so the
	 * cancelled ones had every chance to call back. */
	struct result res2;
	start(fx, "half.test", &res);
	start(fx, "timeout.test", &res2);
	run(fx);
	assert_int_equal(res.calls, 1);
	assert_int_equal(res.status, DNS_ROUTE_OK);
	assert_int_equal(res2.calls, 1);
	assert_int_equal(res2.status, DNS_ROUTE_TEMPFAIL);
	assert_int_equal(cancelled_calls, 0);
}

struct chain {
	struct fixture *fx;
	int step;
	struct result res;
};

/* A callback that starts the next lookup and cancels itself (a no-op). */
static void chain_cb(void *ctx, const struct dns_route *route)
{
	struct chain *c = ctx;
	assert_int_equal(route->status, DNS_ROUTE_OK);
	if (c->step++ == 0) {
		dns_query_cancel(
		    dns_route_lookup(c->fx->r, "nxdomain-please.test", other_cb, &c->step));
		c->fx->in_lookup = true;
		dns_route_lookup(c->fx->r, "[192.0.2.1]", route_cb, &c->res);
		c->fx->in_lookup = false;
	}
}

static void test_lookup_from_callback(void **state)
{
	struct fixture *fx = *state;
	struct chain c = {.fx = fx};
	c.res.fx = fx;
	fx->pending = 1;
	dns_route_lookup(fx->r, "mx.test", chain_cb, &c);
	run(fx);
	assert_int_equal(c.step, 1);
	assert_int_equal(c.res.calls, 1);
	assert_false(c.res.called_inside);
}

static void test_free_with_pending(void **state)
{
	struct fixture *fx = *state;
	int calls = 0;
	/* Still in flight when the run ends (the literal finishes first). */
	dns_route_lookup(fx->r, "timeout.test", other_cb, &calls);
	dns_lookup_txt(fx->r, "timeout.test", txt_never_cb, &calls);
	struct result res;
	lookup(fx, "[192.0.2.2]", &res);
	/* Waiting for delivery, and just sent. */
	dns_route_lookup(fx->r, "[192.0.2.1]", other_cb, &calls);
	dns_route_lookup(fx->r, "mx.test", other_cb, &calls);
	dns_resolver_free(&fx->r);
	assert_null(fx->r);
	assert_int_equal(calls, 0);
	dns_resolver_free(&fx->r); /* NULL is fine */
}

struct txt_result {
	struct fixture *fx;
	int calls;
	int status;
	size_t n;
	char txt[8][256];
};

static void txt_cb(void *ctx, int status, const char *const *txt, size_t n)
{
	struct txt_result *t = ctx;
	t->calls++;
	t->status = status;
	t->n = n;
	for (size_t i = 0; i < n && i < 8; i++)
		snprintf(t->txt[i], sizeof(t->txt[i]), "%s", txt[i]);
	if (--t->fx->pending == 0)
		loop_stop(t->fx->loop);
}

static void txt(struct fixture *fx, const char *name, struct txt_result *t)
{
	fresh(fx);
	memset(t, 0, sizeof(*t));
	t->fx = fx;
	fx->pending++;
	assert_non_null(dns_lookup_txt(fx->r, name, txt_cb, t));
	run(fx);
	assert_int_equal(t->calls, 1);
}

static void test_txt(void **state)
{
	struct fixture *fx = *state;
	struct txt_result t;
	txt(fx, "txt.test", &t);
	assert_int_equal(t.status, 0);
	assert_int_equal(t.n, 2);
	assert_string_equal(t.txt[0], "v=spf1 mx -all");
	assert_string_equal(t.txt[1], "second");
	txt(fx, "mx.test", &t);
	assert_int_equal(t.status, 1);
	assert_int_equal(t.n, 0);
	txt(fx, "nowhere.test", &t);
	assert_int_equal(t.status, 1);
	txt(fx, "servfail.test", &t);
	assert_int_equal(t.status, -1);
	txt(fx, "_dmarc.nowhere.test", &t);
	assert_int_equal(t.status, 1);
}

static void test_server_lists(void **state)
{
	(void)state;
	struct loop *loop = loop_new();
	char err[256];
	struct dns_resolver *r;
	static const char *const good[] = {"127.0.0.1", "127.0.0.1:5353", "[::1]:53", "::1",
					   "192.0.2.1, [2001:db8::1]:5300 ,10.0.0.1:53"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		r = dns_resolver_new(loop, good[i], err, sizeof(err));
		if (r == NULL)
			fail_msg("\"%s\": %s", good[i], err);
		dns_resolver_free(&r);
	}
	r = dns_resolver_new(loop, "", err, sizeof(err));
	assert_non_null(r);
	dns_resolver_free(&r);
	static const char *const bad[] = {
	    "localhost",
	    "127.0.0.1:0",
	    "127.0.0.1:65536",
	    "[::1",
	    "[::1]x",
	    "1.2.3.4,",
	    "1.2.3.4:53:53",
	    ",",
	    "1.0.0.1,1.0.0.2,1.0.0.3,1.0.0.4,1.0.0.5,1.0.0.6,1.0.0.7,1.0.0.8,1.0.0.9",
	    "127.0.0.1:port",
	    "[::1]:"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		r = dns_resolver_new(loop, bad[i], err, sizeof(err));
		if (r != NULL)
			fail_msg("\"%s\" accepted", bad[i]);
		assert_true(err[0] != '\0');
	}
	loop_free(&loop);
}

static void test_status_names(void **state)
{
	(void)state;
	assert_string_equal(dns_route_status_name(DNS_ROUTE_OK), "ok");
	assert_string_equal(dns_route_status_name(DNS_ROUTE_TEMPFAIL), "tempfail");
	assert_string_equal(dns_route_status_name(DNS_ROUTE_NXDOMAIN), "nxdomain");
	assert_string_equal(dns_route_status_name(DNS_ROUTE_NULLMX), "nullmx");
	assert_string_equal(dns_route_status_name(DNS_ROUTE_NOHOST), "nohost");
}

#define T(f) cmocka_unit_test_setup_teardown(f, fixture_setup, fixture_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_mx_order),
	    T(test_equal_preference_shuffle),
	    T(test_implicit_mx),
	    T(test_null_mx),
	    T(test_nxdomain),
	    T(test_tempfail),
	    T(test_cname),
	    T(test_ipv6_and_ipv4),
	    T(test_unusable_hosts),
	    T(test_host_bound),
	    T(test_literals_and_bad_names),
	    T(test_cancel),
	    T(test_lookup_from_callback),
	    T(test_free_with_pending),
	    T(test_txt),
	    cmocka_unit_test(test_server_lists),
	    cmocka_unit_test(test_status_names),
	};
	return cmocka_run_group_tests_name("dns", tests, responder_start, responder_end);
}
