/* loop.c - an epoll event loop with a thread-safe post queue (eventfd) and a
 * coarse one-second tick. Kept small on purpose: everything protocol-specific
 * lives in the sessions that register watchers. */
#include "core/loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/util.h"

struct loop_call {
	loop_fn *fn;
	void *arg;
};

struct call_vec {
	struct loop_call *v;
	size_t n, cap;
};

struct loop {
	int epfd;
	struct watcher wake;
	atomic_bool stop;
	uint64_t now;
	uint64_t next_tick;

	pthread_mutex_t post_lock;
	struct call_vec posted;
	struct call_vec deferred;
	struct call_vec ticks;
};

static void call_push(struct call_vec *cv, loop_fn *fn, void *arg)
{
	if (cv->n == cv->cap) {
		cv->cap = cv->cap == 0 ? 16 : cv->cap * 2;
		cv->v = xrealloc(cv->v, cv->cap * sizeof(*cv->v));
	}
	cv->v[cv->n].fn = fn;
	cv->v[cv->n].arg = arg;
	cv->n++;
}

static void loop_wake_cb(struct watcher *w, uint32_t events)
{
	(void)events;
	uint64_t v;
	/* Reading resets the counter; EAGAIN just means another pass got it. */
	if (read(w->fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
}

struct loop *loop_new(void)
{
	struct loop *loop = xcalloc(1, sizeof(*loop));
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0)
		die("epoll_create1: %s", strerror(errno));
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (efd < 0)
		die("eventfd: %s", strerror(errno));
	pthread_mutex_init(&loop->post_lock, NULL);
	atomic_init(&loop->stop, false);
	loop->now = now_ms();
	loop->next_tick = loop->now + 1000;
	if (loop_watch(loop, &loop->wake, efd, LOOP_READ, loop_wake_cb, loop) < 0)
		die("epoll_ctl: %s", strerror(errno));
	return loop;
}

void loop_free(struct loop **loopp)
{
	struct loop *loop = *loopp;
	if (loop == NULL)
		return;
	close(loop->wake.fd);
	close(loop->epfd);
	pthread_mutex_destroy(&loop->post_lock);
	free(loop->posted.v);
	free(loop->deferred.v);
	free(loop->ticks.v);
	free(loop);
	*loopp = NULL;
}

int loop_watch(struct loop *loop, struct watcher *w, int fd, uint32_t events, loop_watcher_cb *cb,
	       void *ctx)
{
	w->fd = fd;
	w->events = 0;
	w->registered = false;
	w->cb = cb;
	w->ctx = ctx;
	return loop_rewatch(loop, w, events);
}

int loop_rewatch(struct loop *loop, struct watcher *w, uint32_t events)
{
	if (w->registered && w->events == events)
		return 0;
	w->events = events;
	if (events == 0) {
		if (w->registered && epoll_ctl(loop->epfd, EPOLL_CTL_DEL, w->fd, NULL) < 0)
			return -1;
		w->registered = false;
		return 0;
	}
	struct epoll_event ev = {.events = events, .data.ptr = w};
	if (epoll_ctl(loop->epfd, w->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, w->fd, &ev) < 0)
		return -1;
	w->registered = true;
	return 0;
}

void loop_unwatch(struct loop *loop, struct watcher *w)
{
	if (w->registered && w->fd >= 0)
		epoll_ctl(loop->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	w->registered = false;
	w->cb = NULL;
}

void loop_post(struct loop *loop, loop_fn *fn, void *arg)
{
	pthread_mutex_lock(&loop->post_lock);
	call_push(&loop->posted, fn, arg);
	pthread_mutex_unlock(&loop->post_lock);
	uint64_t one = 1;
	/* The eventfd counter cannot overflow in practice; a failed write
	 * would only delay the call until the next tick. */
	if (write(loop->wake.fd, &one, sizeof(one)) < 0)
		return;
}

void loop_defer(struct loop *loop, loop_fn *fn, void *arg)
{
	call_push(&loop->deferred, fn, arg);
}

void loop_on_tick(struct loop *loop, loop_fn *fn, void *arg)
{
	call_push(&loop->ticks, fn, arg);
}

void loop_stop(struct loop *loop)
{
	atomic_store(&loop->stop, true);
	uint64_t one = 1;
	if (write(loop->wake.fd, &one, sizeof(one)) < 0)
		return;
}

uint64_t loop_now(const struct loop *loop)
{
	return loop->now;
}

static void run_posted(struct loop *loop)
{
	struct call_vec batch;
	pthread_mutex_lock(&loop->post_lock);
	batch = loop->posted;
	memset(&loop->posted, 0, sizeof(loop->posted));
	pthread_mutex_unlock(&loop->post_lock);
	for (size_t i = 0; i < batch.n; i++)
		batch.v[i].fn(batch.v[i].arg);
	free(batch.v);
}

static void run_deferred(struct loop *loop)
{
	/* Deferred calls may defer more; loop until none are left. */
	while (loop->deferred.n > 0) {
		struct call_vec batch = loop->deferred;
		memset(&loop->deferred, 0, sizeof(loop->deferred));
		for (size_t i = 0; i < batch.n; i++)
			batch.v[i].fn(batch.v[i].arg);
		free(batch.v);
	}
}

void loop_run(struct loop *loop)
{
	struct epoll_event events[128];
	while (!atomic_load(&loop->stop)) {
		loop->now = now_ms();
		int timeout = loop->next_tick > loop->now ? (int)(loop->next_tick - loop->now) : 0;
		int n = epoll_wait(loop->epfd, events, 128, timeout);
		if (n < 0 && errno != EINTR)
			die("epoll_wait: %s", strerror(errno));
		loop->now = now_ms();
		for (int i = 0; i < n; i++) {
			struct watcher *w = events[i].data.ptr;
			if (w->cb != NULL)
				w->cb(w, events[i].events);
		}
		run_posted(loop);
		if (loop->now >= loop->next_tick) {
			loop->next_tick = loop->now + 1000;
			for (size_t i = 0; i < loop->ticks.n; i++)
				loop->ticks.v[i].fn(loop->ticks.v[i].arg);
		}
		run_deferred(loop);
	}
	run_posted(loop);
	run_deferred(loop);
}
