/* queue_private.h - the scheduler's state, shared by queue.c (scan,
 * destinations, agents) and queue_result.c (sending a job, recording what
 * happened, bounces). Loop thread only. */
#ifndef POSTANE_QUEUE_PRIVATE_H
#define POSTANE_QUEUE_PRIVATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "dns/dns.h"
#include "queue/retry.h"
#include "smtp/smtp_client.h"

struct config;
struct store;
struct store_conn;
struct loop;
struct tls_client;
struct settle;
struct dkim_keyring;

/* One recipient of a job, with the outcome of the attempt. */
struct qrcpt {
	int64_t id;
	char *address;
	char *notify;
	char *orcpt;
	unsigned attempts;
	int code;       /* reply to RCPT (or to the data), 0 = none */
	char status[16];
	char *text;
};

/* The recipients of one queued message that go to one domain. */
struct qjob {
	struct qjob *next;
	int64_t entry_id;
	char *qid, *sender, *path, *envid, *domain;
	int ret;
	bool smtputf8, body_8bit, warned;
	int64_t created;
	uint64_t size;
	struct qrcpt *r;
	size_t n;
};

struct dest {
	struct dest *next;
	char *domain;
	struct qjob *head, **tail;
	unsigned njobs;
	unsigned agents;
};

/* One delivery connection for a destination, job after job. */
struct agent {
	struct agent *next;
	struct queue_runner *q;
	struct dest *dest;
	struct dns_query *dq;
	struct dns_target *targets;
	size_t ntargets, ti, ai;
	bool route_perm;
	bool plaintext; /* this address again without STARTTLS (its TLS failed) */
	char route_status[16];
	struct smtp_client *cl;
	char host[256];
	char addrtext[64];
	unsigned port;
	char where[512];
	char last_error[512];
	/* the job being sent */
	struct qjob *job;
	int fd;
	void *map;
	size_t maplen;
	struct buf prefix;
	struct smtp_client_msg msg;
	struct smtp_client_rcpt *crcpt;
};

struct queue_runner {
	const struct config *cfg;
	struct store *store;
	struct store_conn *conn;
	struct loop *loop;
	pthread_t thread;
	bool started, stopping, kicked;
	bool more_due; /* the last scan was full */
	int64_t next_check;
	struct dns_resolver *dns;
	struct tls_client *tls;
	struct dkim_keyring *dkim;
	size_t dkim_keys; /* keys in it (0: never sign) */
	struct retry_policy retry;
	struct dest *dests;
	struct agent *agents;
	unsigned nagents;
	unsigned njobs; /* queued in destinations, not yet taken */
	/* smarthost */
	bool smarthost, sh_implicit;
	char sh_host[256];
	unsigned sh_port;
	char *sh_user, *sh_pass;
	/* outcomes waiting for the end of the loop pass (queue_result.c) */
	struct settle **settled;
	size_t nsettled, capsettled;
	bool flush_scheduled;
	/* bounces being committed (they call back from the committer) */
	pthread_mutex_t dsn_lock;
	pthread_cond_t dsn_cond;
	unsigned dsn_pending;
};

void qjob_free(struct qjob *j);

/* queue.c: hand the prepared message to the agent's connection. */
int queue_agent_send(struct agent *a, struct smtp_client_msg *m);

/* queue_result.c */
/* Prepare and send job j over agent a's connection (where: "host[addr]:port"
 * for logs). Returns 0 when sent, -1 when the job was settled without
 * sending (its file is gone, ...). */
int queue_send_job(struct queue_runner *q, struct agent *a, struct qjob *j, const char *where);
/* The transaction ended: record every recipient's outcome. */
void queue_job_sent(struct queue_runner *q, struct agent *a, struct qjob *j,
		    const struct smtp_client_msg *m, enum smtp_client_result res);
/* The job could not be tried (DNS, every host down): all its recipients
 * fail with `error`, permanently or for a later retry. */
void queue_job_failed(struct queue_runner *q, struct qjob *j, bool permanent, const char *status,
		      const char *error, const char *remote_mta);
/* Close the job's file and free what was prepared for sending it. */
void queue_agent_release_job(struct agent *a);
/* Record outcomes still waiting (at stop). */
void queue_results_flush(struct queue_runner *q);
/* At stop: wait for bounces being committed and record them. */
void queue_results_drain(struct queue_runner *q);

#endif
