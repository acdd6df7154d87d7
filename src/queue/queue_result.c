/* queue_result.c - one job's attempt and its consequences: the message is
 * prepared (file mapped, DKIM-signed when its sender's domain has a key),
 * sent, and each recipient is then delivered, retried later (backoff,
 * expiry) or bounced. Bounces are DSNs (RFC 3464) committed like any other
 * message, with the null sender, before the recipient is marked bounced. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/util.h"
#include "dkim/dkim_sign.h"
#include "queue/dsn.h"
#include "queue/queue.h"
#include "queue/queue_private.h"
#include "smtp/smtp_submit.h"
#include "store/resolve.h"
#include "store/store.h"

#define DSN_FULL_MAX (10u * 1024 * 1024) /* larger originals: headers only */

void queue_agent_release_job(struct agent *a)
{
	if (a->map != NULL && a->map != MAP_FAILED)
		munmap(a->map, a->maplen);
	a->map = NULL;
	a->maplen = 0;
	if (a->fd >= 0)
		close(a->fd);
	a->fd = -1;
	buf_free(&a->prefix);
	free(a->crcpt);
	a->crcpt = NULL;
}

static const char *domain_of(const char *addr)
{
	const char *at = strrchr(addr, '@');
	return at != NULL ? at + 1 : "";
}

/* ------------------------------------------------------------ settling */

struct settle {
	struct queue_runner *q;
	struct qjob *j;
	struct store_qrcpt_update *u;
	char **texts; /* owned copies for u[i].error */
	char **mtas;  /* owned copies for u[i].remote_mta (the agent may go first) */
	size_t n;
};

static bool notify_has(const char *notify, const char *what)
{
	if (notify == NULL)
		return strcmp(what, "NEVER") != 0; /* absent: FAILURE (and DELAY) */
	return strcasestr(notify, what) != NULL;
}

static void settle_free(struct settle *st)
{
	for (size_t i = 0; i < st->n; i++) {
		free(st->texts[i]);
		free(st->mtas[i]);
	}
	free(st->texts);
	free(st->mtas);
	free(st->u);
	qjob_free(st->j);
	free(st);
}

/* Outcomes are recorded together once per loop pass (one transaction for
 * every job that finished in it): the scheduler's group commit. Entries
 * left without pending recipients go in the same transaction. */
static void removed_cb(void *ctx, int64_t entry_id)
{
	struct queue_runner *q = ctx;
	for (size_t i = 0; i < q->nsettled; i++) {
		struct settle *st = q->settled[i];
		if (st->j->entry_id == entry_id) {
			log_info("queue", st->j->qid, "removed (every recipient done)");
			return;
		}
	}
}

static void settled_flush(void *arg)
{
	struct queue_runner *q = arg;
	q->flush_scheduled = false;
	size_t n = 0;
	for (size_t i = 0; i < q->nsettled; i++)
		n += q->settled[i]->n;
	struct store_qrcpt_update *u = xcalloc(n == 0 ? 1 : n, sizeof(*u));
	int64_t *entries = xcalloc(q->nsettled == 0 ? 1 : q->nsettled, sizeof(int64_t));
	size_t k = 0, ne = 0;
	for (size_t i = 0; i < q->nsettled; i++) {
		struct settle *st = q->settled[i];
		memcpy(u + k, st->u, st->n * sizeof(*u));
		k += st->n;
		bool dup = false;
		for (size_t e = 0; e < ne && !dup; e++)
			dup = entries[e] == st->j->entry_id;
		if (!dup)
			entries[ne++] = st->j->entry_id;
	}
	if (store_queue_settle(q->conn, u, n, entries, ne, removed_cb, q) < 0)
		log_error("queue", NULL, "recording %zu delivery result(s): %s", n,
			  store_conn_error(q->conn));
	free(u);
	free(entries);
	for (size_t i = 0; i < q->nsettled; i++)
		settle_free(q->settled[i]);
	q->nsettled = 0;
}

static void settle_apply(struct settle *st)
{
	struct queue_runner *q = st->q;
	if (q->nsettled == q->capsettled) {
		q->capsettled = q->capsettled == 0 ? 16 : q->capsettled * 2;
		q->settled = xrealloc(q->settled, q->capsettled * sizeof(*q->settled));
	}
	q->settled[q->nsettled++] = st;
	if (!q->flush_scheduled) {
		q->flush_scheduled = true;
		loop_defer(q->loop, settled_flush, q);
	}
}

void queue_results_flush(struct queue_runner *q)
{
	if (q->nsettled > 0)
		settled_flush(q);
	free(q->settled);
	q->settled = NULL;
	q->capsettled = 0;
}

/* ------------------------------------------------------------ bounces */

struct dsn_commit {
	struct queue_runner *q;
	struct settle *st; /* applied once the DSN is durable (NULL: a warning) */
	char qid[32];
	bool ok;
};

static void dsn_on_loop(void *arg)
{
	struct dsn_commit *dc = arg;
	if (dc->st != NULL) {
		if (!dc->ok) /* not durable: leave the recipients pending, retry later */
			for (size_t i = 0; i < dc->st->n; i++)
				if (dc->st->u[i].state == STORE_QRCPT_BOUNCED) {
					dc->st->u[i].state = STORE_QRCPT_PENDING;
					dc->st->u[i].next_attempt = time(NULL) + 300;
				}
		settle_apply(dc->st);
	}
	free(dc);
}

static void dsn_committed(void *ctx, const struct store_commit_result *res)
{
	/* Committer thread. */
	struct dsn_commit *dc = ctx;
	struct queue_runner *q = dc->q;
	dc->ok = res->result == 0;
	if (dc->ok)
		log_info("queue", dc->qid, "DSN queued");
	else
		log_error("queue", dc->qid, "DSN not stored: %s", res->error != NULL ? res->error : "?");
	loop_post(q->loop, dsn_on_loop, dc);
	pthread_mutex_lock(&q->dsn_lock);
	q->dsn_pending--;
	pthread_cond_broadcast(&q->dsn_cond);
	pthread_mutex_unlock(&q->dsn_lock);
}

/* Read the original (whole, or its header for RET=HDRS / big messages). */
static int read_original(const struct qjob *j, struct buf *out, bool *headers_only)
{
	int fd = open(j->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	*headers_only = j->ret == 2 || j->size > DSN_FULL_MAX;
	size_t want = *headers_only ? 256 * 1024 : (size_t)j->size;
	char *p = buf_reserve(out, want);
	ssize_t n = p != NULL ? read(fd, p, want) : -1;
	close(fd);
	if (n < 0)
		return -1;
	buf_commit(out, (size_t)n);
	if (*headers_only) {
		const char *end = memmem(out->data, out->len, "\r\n\r\n", 4);
		if (end != NULL)
			out->len = (size_t)(end - out->data) + 2;
	}
	return 0;
}

/* Build and commit a DSN to the job's sender for the recipients in `which`
 * (indexes into st->u / j->r). Returns 0 when a commit was started. */
static int send_dsn(struct queue_runner *q, struct qjob *j, const size_t *which, size_t nwhich,
		    const struct store_qrcpt_update *u, bool delay, struct settle *st)
{
	const struct config *cfg = q->cfg;
	char local[130], domain[256];
	const char *at = strrchr(j->sender, '@');
	if (at == NULL || (size_t)(at - j->sender) >= sizeof(local) || strlen(at + 1) >= sizeof(domain))
		return -1;
	snprintf(local, sizeof(local), "%.*s", (int)(at - j->sender), j->sender);
	snprintf(domain, sizeof(domain), "%s", at + 1);
	ascii_lower(domain);

	struct dsn_rcpt *dr = xcalloc(nwhich, sizeof(*dr));
	for (size_t k = 0; k < nwhich; k++) {
		const struct qrcpt *r = &j->r[which[k]];
		dr[k].address = r->address;
		dr[k].orcpt = r->orcpt;
		dr[k].action = delay ? "delayed" : "failed";
		dr[k].status = u[which[k]].status != NULL ? u[which[k]].status : (delay ? "4.0.0" : "5.0.0");
		dr[k].remote_mta = u[which[k]].remote_mta;
		dr[k].diagnostic = u[which[k]].error;
		dr[k].last_attempt = u[which[k]].attempt_time;
		dr[k].will_retry_until = delay ? j->created + q->retry.lifetime : 0;
	}
	char seed[24], qid[32];
	random_id(seed, sizeof(seed), 16);
	random_id(qid, sizeof(qid), 12);
	struct buf orig, msg;
	buf_init(&orig, 0);
	buf_init(&msg, 0);
	bool headers_only = true;
	if (read_original(j, &orig, &headers_only) < 0)
		headers_only = true;
	struct dsn_info info = {
		.reporting_mta = cfg->hostname,
		.to = j->sender,
		.envid = j->envid,
		.queue_id = j->qid,
		.arrival = j->created,
		.now = time(NULL),
		.delay = delay,
		.headers_only = headers_only,
		.boundary_seed = seed,
		.rcpts = dr,
		.nrcpt = nwhich,
	};
	int ret = dsn_build(&info, orig.data != NULL ? orig.data : "", orig.len, &msg);
	free(dr);
	buf_free(&orig);
	if (ret < 0) {
		buf_free(&msg);
		return -1;
	}
	/* Where the DSN goes: a local account, or the queue. */
	struct resolve_result res = {0};
	char delim = cfg->recipient_delimiter[0];
	enum resolve_status rs = resolve_recipient(q->conn, local, domain, delim, &res);
	if (rs == RESOLVE_NO_USER || rs == RESOLVE_ERROR) {
		log_warn("queue", j->qid, "DSN to <%s> dropped: %s", j->sender,
			 rs == RESOLVE_NO_USER ? "no such local user" : "lookup failed");
		resolve_result_free(&res);
		buf_free(&msg);
		return rs == RESOLVE_NO_USER ? 1 : -1;
	}
	/* Trace fields as for mail that came in over SMTP: Received: always,
	 * Return-Path: (RFC 5321 4.4) only at final delivery, here. */
	struct buf trace;
	buf_init(&trace, 0);
	char date[64];
	rfc5322_date(time(NULL), date, sizeof(date));
	if (rs == RESOLVE_LOCAL)
		buf_append_str(&trace, "Return-Path: <>\r\n");
	buf_printf(&trace, "Received: by %s (postane) id %s; %s\r\n", cfg->hostname, qid, date);
	struct store_msg *sm = NULL;
	int wr = store_msg_begin(q->conn, &sm);
	if (wr == 0)
		wr = store_msg_write(sm, trace.data, trace.len);
	buf_free(&trace);
	if (wr < 0 || store_msg_write(sm, msg.data, msg.len) < 0) {
		if (sm != NULL)
			store_msg_abort(&sm);
		resolve_result_free(&res);
		buf_free(&msg);
		return -1;
	}
	buf_free(&msg);
	const char *remote[1] = {j->sender};
	struct store_envelope env = {
		.sender = "",
		.accounts = rs == RESOLVE_LOCAL ? res.accounts : NULL,
		.naccounts = rs == RESOLVE_LOCAL ? res.n : 0,
		.remote = rs == RESOLVE_NOT_LOCAL ? remote : NULL,
		.nremote = rs == RESOLVE_NOT_LOCAL ? 1 : 0,
		.qid = qid,
	};
	struct dsn_commit *dc = xcalloc(1, sizeof(*dc));
	dc->q = q;
	dc->st = st;
	snprintf(dc->qid, sizeof(dc->qid), "%s", qid);
	pthread_mutex_lock(&q->dsn_lock);
	q->dsn_pending++;
	pthread_mutex_unlock(&q->dsn_lock);
	log_info("queue", j->qid, "sender <%s>: %s notification %s", j->sender,
		 delay ? "delay" : "non-delivery", qid);
	store_msg_commit_env(sm, &env, dsn_committed, dc);
	resolve_result_free(&res);
	if (rs == RESOLVE_NOT_LOCAL)
		queue_runner_kick(q);
	return 0;
}

void queue_results_drain(struct queue_runner *q)
{
	pthread_mutex_lock(&q->dsn_lock);
	while (q->dsn_pending > 0)
		pthread_cond_wait(&q->dsn_cond, &q->dsn_lock);
	pthread_mutex_unlock(&q->dsn_lock);
	/* One more pass runs what the committer posted. */
	loop_stop(q->loop);
	loop_run(q->loop);
}

/* ------------------------------------------------------------ outcomes */

/* Fill st->u[i] for recipient i from a reply, and log it. */
static void outcome(struct settle *st, size_t i, int code, const char *status, const char *text,
		    const char *remote_mta, bool force_perm)
{
	struct queue_runner *q = st->q;
	struct qjob *j = st->j;
	struct qrcpt *r = &j->r[i];
	struct store_qrcpt_update *u = &st->u[i];
	int64_t now = time(NULL);
	u->rcpt_id = r->id;
	u->attempt_time = now;
	u->count_attempt = true;
	free(st->mtas[i]);
	st->mtas[i] = remote_mta != NULL ? xstrdup(remote_mta) : NULL;
	u->remote_mta = st->mtas[i];
	char st_buf[16];
	if (status != NULL && status[0] != '\0')
		snprintf(st_buf, sizeof(st_buf), "%s", status);
	else
		dsn_status_from_reply(code, NULL, st_buf);
	snprintf(r->status, sizeof(r->status), "%s", st_buf);
	u->status = r->status;
	free(st->texts[i]);
	st->texts[i] = xstrdup(text != NULL ? text : "");
	u->error = st->texts[i];
	const char *verdict;
	if (code >= 200 && code < 300 && !force_perm) {
		u->state = STORE_QRCPT_DELIVERED;
		verdict = "sent";
	} else if ((code >= 500 && code < 600) || force_perm) {
		u->state = STORE_QRCPT_BOUNCED;
		verdict = "bounced";
	} else {
		int64_t next = 0;
		if (retry_next(&q->retry, r->attempts + 1, j->created, now, &next) == RETRY_EXPIRED) {
			u->state = STORE_QRCPT_BOUNCED;
			char *t = NULL;
			if (asprintf(&t, "delivery time expired; last error: %s", st->texts[i]) < 0)
				t = NULL;
			free(st->texts[i]);
			st->texts[i] = t != NULL ? t : xstrdup("delivery time expired");
			u->error = st->texts[i];
			snprintf(r->status, sizeof(r->status), "4.4.7");
			verdict = "expired";
		} else {
			u->state = STORE_QRCPT_PENDING;
			u->next_attempt = next;
			verdict = "deferred";
		}
	}
	log_info("queue", j->qid, "to=<%s> relay=%s delay=%llds status=%s (%s)", r->address,
		 remote_mta != NULL ? remote_mta : "none", (long long)(now - j->created), verdict,
		 u->error);
}

/* After the outcomes: bounces (then apply), delay warning, or apply now. */
static void settle(struct settle *st)
{
	struct queue_runner *q = st->q;
	struct qjob *j = st->j;
	size_t *bounced = xcalloc(st->n, sizeof(size_t));
	size_t *delayed = xcalloc(st->n, sizeof(size_t));
	size_t nb = 0, nd = 0;
	for (size_t i = 0; i < st->n; i++) {
		if (st->u[i].state == STORE_QRCPT_BOUNCED && notify_has(j->r[i].notify, "FAILURE"))
			bounced[nb++] = i;
		if (st->u[i].state == STORE_QRCPT_PENDING && notify_has(j->r[i].notify, "DELAY"))
			delayed[nd++] = i;
	}
	bool null_sender = j->sender[0] == '\0'; /* never bounce a bounce */
	if (nd > 0 && !null_sender &&
	    retry_warn_due(&q->retry, j->created, time(NULL), j->warned)) {
		if (send_dsn(q, j, delayed, nd, st->u, true, NULL) == 0) {
			store_queue_set_warned(q->conn, j->entry_id);
			j->warned = true;
		}
	}
	int r = nb > 0 && !null_sender ? send_dsn(q, j, bounced, nb, st->u, false, st) : 1;
	free(bounced);
	free(delayed);
	if (r < 0) {
		/* No DSN could be made: keep bounced recipients pending a while
		 * rather than losing the notification. */
		for (size_t i = 0; i < st->n; i++)
			if (st->u[i].state == STORE_QRCPT_BOUNCED && !null_sender) {
				st->u[i].state = STORE_QRCPT_PENDING;
				st->u[i].next_attempt = time(NULL) + 300;
			}
	}
	if (r != 0)
		settle_apply(st);
}

static struct settle *settle_new(struct queue_runner *q, struct qjob *j)
{
	struct settle *st = xcalloc(1, sizeof(*st));
	st->q = q;
	st->j = j;
	st->n = j->n;
	st->u = xcalloc(j->n, sizeof(*st->u));
	st->texts = xcalloc(j->n, sizeof(char *));
	st->mtas = xcalloc(j->n, sizeof(char *));
	return st;
}

void queue_job_failed(struct queue_runner *q, struct qjob *j, bool permanent, const char *status,
		      const char *error, const char *remote_mta)
{
	struct settle *st = settle_new(q, j);
	for (size_t i = 0; i < j->n; i++)
		outcome(st, i, permanent ? 550 : 450, status, error, remote_mta, permanent);
	settle(st);
}

/* ------------------------------------------------------------ sending */

/* The domain to sign for: the From: header's (what DMARC aligns with) when
 * we have a key for it, else the envelope sender's. */
static bool signing_domain(struct queue_runner *q, const struct qjob *j, const char *msg,
			   size_t len, char *out, size_t outlen)
{
	size_t hend = submit_header_end(msg, len);
	struct submit_headers *h = xcalloc(1, sizeof(*h));
	submit_scan_headers(msg, hend > 0 ? hend : len, h);
	bool found = false;
	for (unsigned i = 0; i < h->naddrs && !found; i++) {
		snprintf(out, outlen, "%s", domain_of(h->addrs[i]));
		ascii_lower(out);
		found = dkim_keyring_has(q->dkim, out);
	}
	free(h);
	if (!found && j->sender[0] != '\0') {
		snprintf(out, outlen, "%s", domain_of(j->sender));
		ascii_lower(out);
		found = dkim_keyring_has(q->dkim, out);
	}
	return found;
}

int queue_send_job(struct queue_runner *q, struct agent *a, struct qjob *j, const char *where)
{
	snprintf(a->where, sizeof(a->where), "%s", where);
	a->fd = open(j->path, O_RDONLY | O_CLOEXEC);
	if (a->fd < 0) {
		/* Deleted by the administrator meanwhile (or lost): nothing to send. */
		log_warn("queue", j->qid, "%s: %s; dropping the attempt", j->path, strerror(errno));
		a->job = NULL;
		qjob_free(j);
		return -1;
	}
	buf_init(&a->prefix, 0);
	char sdom[256];
	/* Without any key there is nothing to sign: no mapping, no header scan. */
	a->maplen = q->dkim_keys > 0 ? (size_t)j->size : 0;
	a->map = a->maplen > 0 ? mmap(NULL, a->maplen, PROT_READ, MAP_PRIVATE, a->fd, 0) : NULL;
	if (a->map != MAP_FAILED && a->map != NULL &&
	    signing_domain(q, j, a->map, a->maplen, sdom, sizeof(sdom))) {
		char err[256] = "";
		if (dkim_keyring_sign(q->dkim, sdom, a->map, a->maplen, time(NULL), &a->prefix, err,
				      sizeof(err)) < 0)
			log_warn("queue", j->qid, "DKIM signing for %s failed (%s); sending unsigned",
				 sdom, err);
	}
	a->crcpt = xcalloc(j->n, sizeof(*a->crcpt));
	for (size_t i = 0; i < j->n; i++) {
		a->crcpt[i].address = j->r[i].address;
		a->crcpt[i].notify = j->r[i].notify;
		a->crcpt[i].orcpt = j->r[i].orcpt;
	}
	memset(&a->msg, 0, sizeof(a->msg));
	a->msg.sender = j->sender;
	a->msg.rcpts = a->crcpt;
	a->msg.nrcpt = j->n;
	a->msg.ret = j->ret == 1 ? "FULL" : j->ret == 2 ? "HDRS" : NULL;
	a->msg.envid = j->envid;
	a->msg.body_8bit = j->body_8bit;
	a->msg.smtputf8 = j->smtputf8;
	a->msg.prefix = a->prefix.data;
	a->msg.prefix_len = a->prefix.len;
	a->msg.fd = a->fd;
	a->msg.size = j->size;
	return queue_agent_send(a, &a->msg);
}

void queue_job_sent(struct queue_runner *q, struct agent *a, struct qjob *j,
		    const struct smtp_client_msg *m, enum smtp_client_result res)
{
	struct settle *st = settle_new(q, j);
	for (size_t i = 0; i < j->n; i++) {
		/* Every recipient has its own status: its RCPT reply, the reply
		 * to the content, or why the transaction ended. */
		const struct smtp_client_status *cs = &m->rcpts[i].status;
		const struct smtp_client_status *use = cs->code != 0 ? cs : &m->status;
		char text[SMTP_CLIENT_TEXT_MAX + 64];
		smtp_client_status_str(use, text, sizeof(text));
		int code = use->code != 0 ? use->code : (res == SMTP_CLIENT_PERMFAIL ? 554 : 451);
		outcome(st, i, code, use->enhanced, text, use->remote ? a->where : NULL, false);
	}
	queue_agent_release_job(a);
	settle(st);
}
