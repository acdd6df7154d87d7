/* queue.c - the delivery scheduler (see queue.h): the thread, the scan of
 * due recipients, destinations and their delivery agents. What happens to a
 * recipient after an attempt is in queue_result.c. */
#include "queue/queue.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/util.h"
#include "dkim/dkim_sign.h"
#include "dns/dns.h"
#include "queue/queue_private.h"
#include "smtp/smtp_client.h"
#include "store/store.h"
#include "tls/tls.h"

#define SCAN_LIMIT 500        /* entries read per scan */
#define REFILL_BELOW 200      /* jobs waiting: read more when fewer, if more are due */
#define MAX_JOBS_IN_MEMORY 5000
#define LEASE_SECONDS 3600    /* a crash releases leases at the next start */

static void agent_next_host(struct agent *a);
static void agent_take_job(struct agent *a);

/* ------------------------------------------------------------ jobs */

void qjob_free(struct qjob *j)
{
	if (j == NULL)
		return;
	for (size_t i = 0; i < j->n; i++) {
		free(j->r[i].address);
		free(j->r[i].notify);
		free(j->r[i].orcpt);
		free(j->r[i].text);
	}
	free(j->r);
	free(j->qid);
	free(j->sender);
	free(j->path);
	free(j->envid);
	free(j->domain);
	free(j);
}

static struct dest *dest_get(struct queue_runner *q, const char *domain)
{
	for (struct dest *d = q->dests; d != NULL; d = d->next)
		if (strcmp(d->domain, domain) == 0)
			return d;
	struct dest *d = xcalloc(1, sizeof(*d));
	d->domain = xstrdup(domain);
	d->tail = &d->head;
	d->next = q->dests;
	q->dests = d;
	return d;
}

static void dest_push(struct dest *d, struct qjob *j)
{
	j->next = NULL;
	*d->tail = j;
	d->tail = &j->next;
	d->njobs++;
}

static struct qjob *dest_pop(struct dest *d)
{
	struct qjob *j = d->head;
	if (j == NULL)
		return NULL;
	d->head = j->next;
	if (d->head == NULL)
		d->tail = &d->head;
	d->njobs--;
	j->next = NULL;
	return j;
}

/* Forget destinations with nothing queued and no agent. */
static void dests_prune(struct queue_runner *q)
{
	struct dest **pp = &q->dests;
	while (*pp != NULL) {
		struct dest *d = *pp;
		if (d->head == NULL && d->agents == 0) {
			*pp = d->next;
			free(d->domain);
			free(d);
		} else {
			pp = &d->next;
		}
	}
}

/* ------------------------------------------------------------ scan */

struct scan_ctx {
	struct queue_runner *q;
	unsigned entries;
	int64_t *lease;
	size_t nlease, caplease;
};

static void scan_entry(void *ctx, const struct store_queue_entry *e,
		       const struct store_queue_rcpt *r, size_t n)
{
	struct scan_ctx *sc = ctx;
	struct queue_runner *q = sc->q;
	sc->entries++;
	/* One job per destination domain (all of them to the smarthost are
	 * still grouped by domain: one transaction each). */
	size_t i = 0;
	while (i < n) {
		size_t k = i;
		while (k < n && strcmp(r[k].domain, r[i].domain) == 0)
			k++;
		struct qjob *j = xcalloc(1, sizeof(*j));
		j->entry_id = e->id;
		j->qid = xstrdup(e->qid);
		j->sender = xstrdup(e->sender);
		j->path = xstrdup(e->path);
		j->envid = e->envid != NULL ? xstrdup(e->envid) : NULL;
		j->ret = e->ret;
		j->smtputf8 = e->smtputf8;
		j->body_8bit = e->body_8bit;
		j->warned = e->warned;
		j->created = e->created;
		j->size = e->size;
		j->domain = xstrdup(r[i].domain);
		j->n = k - i;
		j->r = xcalloc(j->n, sizeof(*j->r));
		for (size_t m = 0; m < j->n; m++) {
			const struct store_queue_rcpt *src = &r[i + m];
			struct qrcpt *dst = &j->r[m];
			dst->id = src->id;
			dst->address = xstrdup(src->address);
			dst->notify = src->notify != NULL ? xstrdup(src->notify) : NULL;
			dst->orcpt = src->orcpt != NULL ? xstrdup(src->orcpt) : NULL;
			dst->attempts = src->attempts;
			if (sc->nlease == sc->caplease) {
				sc->caplease = sc->caplease == 0 ? 64 : sc->caplease * 2;
				sc->lease = xrealloc(sc->lease, sc->caplease * sizeof(int64_t));
			}
			sc->lease[sc->nlease++] = src->id;
		}
		dest_push(dest_get(q, j->domain), j);
		q->njobs++;
		i = k;
	}
}

static void start_agents(struct queue_runner *q);

static void scan(struct queue_runner *q)
{
	int64_t now = time(NULL);
	if (q->njobs >= MAX_JOBS_IN_MEMORY)
		return;
	struct scan_ctx sc = {.q = q};
	if (store_queue_due(q->conn, now, SCAN_LIMIT, scan_entry, &sc) < 0) {
		log_error("queue", NULL, "scan: %s", store_conn_error(q->conn));
	} else if (sc.nlease > 0 &&
		   store_queue_lease(q->conn, sc.lease, sc.nlease, now + LEASE_SECONDS) < 0) {
		log_error("queue", NULL, "lease: %s", store_conn_error(q->conn));
	}
	free(sc.lease);
	/* A full scan: more may be due than one scan reads. Read again as soon
	 * as the destinations have taken most of these. */
	q->more_due = sc.entries >= SCAN_LIMIT;
	start_agents(q);
}

static void maybe_scan(struct queue_runner *q)
{
	int64_t now = time(NULL);
	if (q->stopping)
		return;
	if (!q->kicked && now < q->next_check)
		return;
	q->kicked = false;
	q->next_check = now + 1;
	int64_t when = 0;
	int r = store_queue_next_due(q->conn, &when);
	if (r == 1 && when <= now)
		scan(q);
}

static void on_tick(void *arg)
{
	maybe_scan(arg);
}

static void on_kick(void *arg)
{
	struct queue_runner *q = arg;
	q->kicked = true;
	maybe_scan(q);
}

void queue_runner_kick(struct queue_runner *q)
{
	if (q != NULL)
		loop_post(q->loop, on_kick, q);
}

/* ------------------------------------------------------------ agents */

static void agent_free(struct agent *a)
{
	struct queue_runner *q = a->q;
	struct agent **pp = &q->agents;
	while (*pp != NULL && *pp != a)
		pp = &(*pp)->next;
	if (*pp == a)
		*pp = a->next;
	q->nagents--;
	a->dest->agents--;
	if (a->dq != NULL)
		dns_query_cancel(a->dq);
	if (a->cl != NULL)
		smtp_client_abort(a->cl);
	queue_agent_release_job(a);
	qjob_free(a->job); /* its recipients stay leased until the next start */
	for (size_t i = 0; i < a->ntargets; i++)
		free(a->targets[i].addr);
	free(a->targets);
	free(a);
}

/* The agent is done: nothing left for its destination, or it stops. */
static void agent_end(struct agent *a)
{
	struct queue_runner *q = a->q;
	if (a->cl != NULL) {
		smtp_client_quit(a->cl);
		a->cl = NULL;
	}
	agent_free(a);
	dests_prune(q);
	start_agents(q);
	if (q->nagents == 0 && q->njobs == 0)
		q->kicked = true; /* look again at once: more may be due */
}

/* Every address of every host failed: the destination is unreachable now.
 * Its queued jobs (they would all fail the same way) are retried later. */
static void agent_dest_failed(struct agent *a)
{
	struct qjob *j;
	while ((j = dest_pop(a->dest)) != NULL) {
		a->q->njobs--;
		queue_job_failed(a->q, j, a->route_perm, a->route_status, a->last_error, NULL);
	}
	agent_end(a);
}

static void copy_route(struct agent *a, const struct dns_route *rt)
{
	a->ntargets = rt->ntargets;
	a->targets = xcalloc(rt->ntargets == 0 ? 1 : rt->ntargets, sizeof(*a->targets));
	for (size_t i = 0; i < rt->ntargets; i++) {
		struct dns_target *t = &a->targets[i];
		snprintf(t->host, sizeof(t->host), "%s", rt->targets[i].host);
		t->pref = rt->targets[i].pref;
		t->naddr = rt->targets[i].naddr;
		t->addr = xcalloc(t->naddr == 0 ? 1 : t->naddr, sizeof(*t->addr));
		if (t->naddr > 0)
			memcpy(t->addr, rt->targets[i].addr, t->naddr * sizeof(*t->addr));
	}
}

static void on_route(void *ctx, const struct dns_route *rt)
{
	struct agent *a = ctx;
	a->dq = NULL;
	switch (rt->status) {
	case DNS_ROUTE_OK:
		copy_route(a, rt);
		a->ti = 0;
		a->ai = 0;
		agent_next_host(a);
		return;
	case DNS_ROUTE_NULLMX:
		a->route_perm = true;
		snprintf(a->route_status, sizeof(a->route_status), "5.1.10");
		snprintf(a->last_error, sizeof(a->last_error),
			 "domain %s accepts no mail (null MX)", a->dest->domain);
		break;
	case DNS_ROUTE_NXDOMAIN:
	case DNS_ROUTE_NOHOST:
		a->route_perm = true;
		snprintf(a->route_status, sizeof(a->route_status), "5.1.2");
		snprintf(a->last_error, sizeof(a->last_error), "%s",
			 rt->error != NULL ? rt->error : "no mail host for the domain");
		break;
	default:
		a->route_perm = false;
		snprintf(a->route_status, sizeof(a->route_status), "4.4.3");
		snprintf(a->last_error, sizeof(a->last_error), "%s",
			 rt->error != NULL ? rt->error : "DNS lookup failed");
		break;
	}
	agent_dest_failed(a);
}

static void on_ready(void *ctx, struct smtp_client *cl, bool ok,
		     const struct smtp_client_status *st)
{
	struct agent *a = ctx;
	if (!ok) {
		/* This host failed (refused, timed out, 4xx/5xx greeting, TLS
		 * required and missing...): the next one. */
		smtp_client_status_str(st, a->last_error, sizeof(a->last_error));
		log_info("queue", NULL, "%s: %s[%s]:%u: %s", a->dest->domain, a->host, a->addrtext,
			 a->port, a->last_error);
		smtp_client_abort(cl);
		a->cl = NULL;
		/* Opportunistic TLS that failed (old or broken server): the same
		 * host once more in plaintext, as other MTAs do. */
		bool tls_optional = !a->q->smarthost && !a->q->cfg->tls_required;
		if (st->tls && tls_optional && !a->plaintext) {
			a->plaintext = true;
			agent_next_host(a);
			return;
		}
		a->plaintext = false;
		a->ai++;
		agent_next_host(a);
		return;
	}
	a->cl = cl;
	const char *tls = smtp_client_tls_info(cl);
	log_info("queue", NULL, "connected to %s[%s]:%u%s%s", a->host, a->addrtext, a->port,
		 tls != NULL ? " with " : "", tls != NULL ? tls : "");
	agent_take_job(a);
}

/* Connect to the next address in the route. */
static void agent_next_host(struct agent *a)
{
	struct queue_runner *q = a->q;
	while (a->ti < a->ntargets && a->ai >= a->targets[a->ti].naddr) {
		a->ti++;
		a->ai = 0;
	}
	if (a->ti >= a->ntargets || q->stopping) {
		if (a->last_error[0] == '\0')
			snprintf(a->last_error, sizeof(a->last_error), "no address to deliver to");
		a->route_perm = false;
		snprintf(a->route_status, sizeof(a->route_status), "4.4.1");
		agent_dest_failed(a);
		return;
	}
	struct dns_target *t = &a->targets[a->ti];
	struct sockaddr_storage ss = t->addr[a->ai];
	unsigned port = q->smarthost ? q->sh_port : q->cfg->delivery_port;
	socklen_t len;
	if (ss.ss_family == AF_INET6) {
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
		len = sizeof(struct sockaddr_in6);
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, a->addrtext,
			  sizeof(a->addrtext));
	} else {
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
		len = sizeof(struct sockaddr_in);
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, a->addrtext,
			  sizeof(a->addrtext));
	}
	snprintf(a->host, sizeof(a->host), "%s", t->host);
	a->port = port;
	struct smtp_client_opts o = {
		.helo_name = q->cfg->hostname,
		.tls = a->plaintext ? NULL : q->tls,
		.tls_required = q->smarthost || q->cfg->tls_required,
		.tls_verify = q->cfg->tls_required,
		.implicit_tls = q->smarthost && q->sh_implicit,
		.auth_user = q->smarthost ? q->sh_user : NULL,
		.auth_pass = q->smarthost ? q->sh_pass : NULL,
		.connect_timeout = q->cfg->connect_timeout,
		.timeout = q->cfg->client_timeout,
	};
	struct smtp_client *cl =
		smtp_client_connect(q->loop, (struct sockaddr *)&ss, len, t->host, &o, on_ready, a);
	a->cl = cl;
	if (cl == NULL) {
		snprintf(a->last_error, sizeof(a->last_error), "connect to %s[%s]:%u: %s", t->host,
			 a->addrtext, port, strerror(errno));
		a->ai++;
		agent_next_host(a);
	}
}

static void on_sent(void *ctx, struct smtp_client *cl, struct smtp_client_msg *m,
		    enum smtp_client_result res);

/* Send the destination's next job over the open connection. */
static void agent_take_job(struct agent *a)
{
	struct queue_runner *q = a->q;
	struct qjob *j = q->stopping ? NULL : dest_pop(a->dest);
	if (j == NULL) {
		agent_end(a);
		return;
	}
	q->njobs--;
	if (q->more_due && q->njobs < REFILL_BELOW && !q->kicked) {
		q->kicked = true;
		loop_post(q->loop, on_kick, q);
	}
	a->job = j;
	char where[512];
	snprintf(where, sizeof(where), "%s[%s]:%u", a->host, a->addrtext, a->port);
	if (queue_send_job(q, a, j, where) < 0)
		agent_take_job(a); /* the job was settled without sending */
}

int queue_agent_send(struct agent *a, struct smtp_client_msg *m)
{
	smtp_client_send(a->cl, m, on_sent, a);
	return 0;
}

static void on_sent(void *ctx, struct smtp_client *cl, struct smtp_client_msg *m,
		    enum smtp_client_result res)
{
	struct agent *a = ctx;
	struct qjob *j = a->job;
	a->job = NULL;
	queue_job_sent(a->q, a, j, m, res);
	bool alive = smtp_client_usable(cl);
	if (!alive) {
		/* The connection is gone: reconnect (to the same host list,
		 * starting after this address) for the rest. */
		if (a->cl != NULL) {
			smtp_client_abort(a->cl);
			a->cl = NULL;
		}
		if (a->dest->head == NULL) {
			agent_end(a);
			return;
		}
		a->ai++;
		a->plaintext = false;
		agent_next_host(a);
		return;
	}
	agent_take_job(a);
}

static void agent_start(struct queue_runner *q, struct dest *d)
{
	struct agent *a = xcalloc(1, sizeof(*a));
	a->fd = -1;
	a->q = q;
	a->dest = d;
	a->next = q->agents;
	q->agents = a;
	q->nagents++;
	d->agents++;
	const char *where = q->smarthost ? q->sh_host : d->domain;
	a->dq = dns_route_lookup(q->dns, where, on_route, a);
	if (a->dq == NULL) {
		a->route_perm = false;
		snprintf(a->route_status, sizeof(a->route_status), "4.4.3");
		snprintf(a->last_error, sizeof(a->last_error), "DNS lookup of %s failed", where);
		agent_dest_failed(a);
	}
}

/* Start agents for destinations with waiting jobs, within the limits: one
 * more per destination for every few waiting jobs. */
static void start_agents(struct queue_runner *q)
{
	bool again = true;
	while (again && !q->stopping) {
		again = false;
		for (struct dest *d = q->dests; d != NULL; d = d->next) {
			if (q->nagents >= q->cfg->concurrency)
				return;
			if (d->njobs > 0 && d->agents < q->cfg->concurrency_per_domain &&
			    d->njobs > d->agents * 4u) {
				agent_start(q, d);
				again = true;
				break; /* the list may have changed */
			}
		}
	}
}

/* ------------------------------------------------------------ thread */

static void *runner_main(void *arg)
{
	struct queue_runner *q = arg;
	loop_run(q->loop);
	return NULL;
}

static int load_smarthost(struct queue_runner *q, char *err, size_t errlen)
{
	const struct config *cfg = q->cfg;
	if (cfg->smarthost[0] == '\0')
		return 0;
	q->smarthost = true;
	q->sh_implicit = strcmp(cfg->smarthost_tls, "implicit") == 0;
	q->sh_port = q->sh_implicit ? 465 : 587;
	const char *s = cfg->smarthost;
	const char *colon = strrchr(s, ':');
	size_t hl = strlen(s);
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (close == NULL) {
			snprintf(err, errlen, "[delivery] smarthost: missing ]");
			return -1;
		}
		colon = close[1] == ':' ? close + 1 : NULL;
		hl = (size_t)(close + 1 - s);
	} else if (colon != NULL) {
		hl = (size_t)(colon - s);
	}
	if (colon != NULL) {
		unsigned long p = strtoul(colon + 1, NULL, 10);
		if (p == 0 || p > 65535) {
			snprintf(err, errlen, "[delivery] smarthost: bad port");
			return -1;
		}
		q->sh_port = (unsigned)p;
	}
	char host[256];
	snprintf(host, sizeof(host), "%.*s", (int)hl, s);
	if (host[0] == '[') { /* "[name]": the name (we look up its address) */
		memmove(host, host + 1, strlen(host));
		host[strcspn(host, "]")] = '\0';
	}
	/* An address goes to the resolver as an address literal. */
	struct in6_addr a6;
	if (inet_pton(AF_INET, host, &a6) == 1)
		snprintf(q->sh_host, sizeof(q->sh_host), "[%s]", host);
	else if (inet_pton(AF_INET6, host, &a6) == 1)
		snprintf(q->sh_host, sizeof(q->sh_host), "[IPv6:%s]", host);
	else
		snprintf(q->sh_host, sizeof(q->sh_host), "%s", host);
	if (cfg->smarthost_auth_file[0] == '\0')
		return 0;
	FILE *f = fopen(cfg->smarthost_auth_file, "r");
	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", cfg->smarthost_auth_file, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077) != 0)
		log_warn("queue", NULL, "%s is readable by others: chmod 600 it",
			 cfg->smarthost_auth_file);
	char line[1024];
	if (fgets(line, sizeof(line), f) == NULL || strchr(line, ':') == NULL) {
		fclose(f);
		snprintf(err, errlen, "%s: expected one line USER:PASSWORD", cfg->smarthost_auth_file);
		return -1;
	}
	fclose(f);
	line[strcspn(line, "\r\n")] = '\0';
	char *sep = strchr(line, ':');
	*sep = '\0';
	q->sh_user = xstrdup(line);
	q->sh_pass = xstrdup(sep + 1);
	explicit_bzero(line, sizeof(line));
	return 0;
}

struct queue_runner *queue_runner_start(const struct config *cfg, struct store *store, char *err,
					size_t errlen)
{
	struct queue_runner *q = xcalloc(1, sizeof(*q));
	const char *e = NULL;
	q->cfg = cfg;
	q->store = store;
	pthread_mutex_init(&q->dsn_lock, NULL);
	pthread_cond_init(&q->dsn_cond, NULL);
	q->retry.lifetime = cfg->max_queue_lifetime;
	q->retry.delay_warning = cfg->delay_warning;
	if (retry_parse(cfg->retry_schedule, &q->retry) < 0) {
		snprintf(err, errlen, "[delivery] retry_schedule: expected seconds, e.g. 300,600");
		goto fail;
	}
	if (load_smarthost(q, err, errlen) < 0)
		goto fail;
	q->conn = store_conn_open(store, &e);
	if (q->conn == NULL) {
		snprintf(err, errlen, "%s", e);
		goto fail;
	}
	if (store_queue_release_leases(q->conn) < 0) {
		snprintf(err, errlen, "queue: %s", store_conn_error(q->conn));
		goto fail;
	}
	q->loop = loop_new();
	q->dns = dns_resolver_new(q->loop, cfg->dns_servers, err, errlen);
	if (q->dns == NULL)
		goto fail;
	if (tls_client_new(NULL, &q->tls, &e) < 0) {
		snprintf(err, errlen, "TLS client: %s", e);
		goto fail;
	}
	char dir[4096];
	dkim_keyring_dir(cfg->dkim_dir, cfg->data_dir, dir, sizeof(dir));
	q->dkim = dkim_keyring_load(dir, err, errlen);
	if (q->dkim == NULL)
		goto fail;
	q->dkim_keys = dkim_keyring_foreach(q->dkim, NULL, NULL, NULL);
	loop_on_tick(q->loop, on_tick, q);
	q->kicked = true;
	loop_post(q->loop, on_kick, q);
	if (pthread_create(&q->thread, NULL, runner_main, q) != 0) {
		snprintf(err, errlen, "pthread_create: %s", strerror(errno));
		goto fail;
	}
	q->started = true;
	log_info("queue", NULL, "delivery: %s, retry schedule %s s, lifetime %u s",
		 q->smarthost ? "through the smarthost" : "by MX", cfg->retry_schedule,
		 cfg->max_queue_lifetime);
	return q;
fail:
	queue_runner_stop(&q);
	return NULL;
}

static void stop_on_loop(void *arg)
{
	struct queue_runner *q = arg;
	q->stopping = true;
	while (q->agents != NULL)
		agent_free(q->agents);
	struct dest *d;
	while ((d = q->dests) != NULL) {
		struct qjob *j;
		while ((j = dest_pop(d)) != NULL)
			qjob_free(j);
		q->dests = d->next;
		free(d->domain);
		free(d);
	}
	q->njobs = 0;
	loop_stop(q->loop);
}

void queue_runner_stop(struct queue_runner **qp)
{
	struct queue_runner *q = *qp;
	if (q == NULL)
		return;
	*qp = NULL;
	if (q->started) {
		loop_post(q->loop, stop_on_loop, q);
		pthread_join(q->thread, NULL);
		/* Bounces committed meanwhile post back here: run them. */
		queue_results_drain(q);
	}
	if (q->conn != NULL)
		queue_results_flush(q);
	dns_resolver_free(&q->dns);
	tls_client_free(&q->tls);
	dkim_keyring_free(&q->dkim);
	loop_free(&q->loop);
	store_conn_close(&q->conn);
	pthread_mutex_destroy(&q->dsn_lock);
	pthread_cond_destroy(&q->dsn_cond);
	free(q->sh_user);
	if (q->sh_pass != NULL) {
		explicit_bzero(q->sh_pass, strlen(q->sh_pass));
		free(q->sh_pass);
	}
	free(q);
}
