/* workers.h - a small pool of threads for blocking work (password hashing,
 * slow lookups) so that event loops never stall.
 *
 * workers_run() queues work(arg) on a pool thread; when it returns,
 * done(arg) runs on the given loop's thread (through loop_post). The caller
 * keeps `arg` alive until done() runs. */
#ifndef POSTANE_WORKERS_H
#define POSTANE_WORKERS_H

struct loop;
struct workers;

typedef void workers_fn(void *arg);

/* Start `nthreads` threads (at least 1). */
struct workers *workers_new(unsigned nthreads);
/* Finish queued work, then stop the threads. Accepts NULL; sets *w to NULL.
 * done() callbacks of finished work are posted to their loops as usual. */
void workers_free(struct workers **w);
/* Thread-safe. */
void workers_run(struct workers *w, workers_fn *work, workers_fn *done, struct loop *loop,
		 void *arg);

#endif
