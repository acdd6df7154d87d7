/* queue.h - the delivery scheduler: takes due recipients from the durable
 * queue in the store, finds where their domain's mail goes (DNS MX, or the
 * smarthost), delivers with the SMTP client, and records each recipient's
 * outcome: delivered, retried later with backoff, or bounced to the sender
 * with a DSN.
 *
 * It runs on a thread of its own with its own event loop, store connection
 * and resolver. Recipients are grouped by destination domain; each
 * destination has at most [delivery] concurrency_per_domain connections and
 * all destinations together at most [delivery] concurrency. A connection
 * delivers the destination's messages one after the other (reuse) until
 * none is left.
 *
 * Durability: the store says what is pending. A recipient is marked
 * delivered only after the peer's 2xx reply to the message; a crash before
 * that delivers it again after restart (as every MTA does); a bounced
 * recipient is marked only after its DSN has been committed. */
#ifndef POSTANE_QUEUE_H
#define POSTANE_QUEUE_H

#include <stddef.h>

struct config;
struct store;
struct queue_runner;

/* Start the scheduler thread. Returns NULL with a message in err. */
struct queue_runner *queue_runner_start(const struct config *cfg, struct store *store, char *err,
					size_t errlen);
/* Scan the queue now (after new mail was queued). Thread-safe; accepts NULL. */
void queue_runner_kick(struct queue_runner *q);
/* Stop: connections are closed; what was in flight is tried again after the
 * next start. Accepts NULL; sets *q to NULL. */
void queue_runner_stop(struct queue_runner **q);

#endif
