/* loop.h - the event loop: epoll, cross-thread posts, a one-second tick.
 *
 * One loop runs per thread. Watchers are level-triggered. Callbacks run on
 * the loop's thread only. loop_post() and loop_stop() are the only calls that
 * may come from another thread. Objects that callbacks may still reference in
 * the current pass are released with loop_defer(), which runs after the pass. */
#ifndef POSTANE_LOOP_H
#define POSTANE_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#define LOOP_READ 0x001u  /* EPOLLIN */
#define LOOP_WRITE 0x004u /* EPOLLOUT */

struct loop;
struct watcher;

typedef void loop_watcher_cb(struct watcher *w, uint32_t events);
typedef void loop_fn(void *arg);

struct watcher {
	int fd;
	uint32_t events;
	bool registered; /* in the epoll set (an empty event set is removed) */
	loop_watcher_cb *cb;
	void *ctx;
};

struct loop *loop_new(void);
/* Frees the loop; pending posts are dropped. Accepts NULL; sets *loop to NULL. */
void loop_free(struct loop **loop);

/* Start watching `fd` for `events`; `w` must stay valid until unwatched.
 * Watching for no events at all takes the fd out of the epoll set, so that a
 * hung-up socket does not wake the loop while its owner waits for something
 * else (EPOLLHUP cannot be masked). */
int loop_watch(struct loop *loop, struct watcher *w, int fd, uint32_t events, loop_watcher_cb *cb,
	       void *ctx);
int loop_rewatch(struct loop *loop, struct watcher *w, uint32_t events);
void loop_unwatch(struct loop *loop, struct watcher *w);

/* Run fn(arg) on the loop's thread soon. Thread-safe. */
void loop_post(struct loop *loop, loop_fn *fn, void *arg);
/* Run fn(arg) after the current pass (for releasing objects). Loop thread only. */
void loop_defer(struct loop *loop, loop_fn *fn, void *arg);
/* Run fn(arg) about once a second (timeouts). Loop thread only, before run. */
void loop_on_tick(struct loop *loop, loop_fn *fn, void *arg);

/* Run until loop_stop(). */
void loop_run(struct loop *loop);
/* Ask the loop to return from loop_run(). Thread-safe. */
void loop_stop(struct loop *loop);
/* Milliseconds of monotonic time at the start of the current pass. */
uint64_t loop_now(const struct loop *loop);

#endif
