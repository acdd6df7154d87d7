/* workers.c - fixed-size thread pool with a FIFO queue; completions hop
 * back to the submitting loop. */
#include "core/workers.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "core/loop.h"
#include "core/util.h"

struct job {
	workers_fn *work;
	workers_fn *done;
	struct loop *loop;
	void *arg;
	struct job *next;
};

struct workers {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job *head, **tail;
	bool stopping;
	unsigned n;
	pthread_t *threads;
};

static void *worker_main(void *p)
{
	struct workers *w = p;
	for (;;) {
		pthread_mutex_lock(&w->lock);
		while (w->head == NULL && !w->stopping)
			pthread_cond_wait(&w->cond, &w->lock);
		struct job *j = w->head;
		if (j == NULL) {
			pthread_mutex_unlock(&w->lock);
			break;
		}
		w->head = j->next;
		if (w->head == NULL)
			w->tail = &w->head;
		pthread_mutex_unlock(&w->lock);
		j->work(j->arg);
		if (j->done != NULL)
			loop_post(j->loop, j->done, j->arg);
		free(j);
	}
	return NULL;
}

struct workers *workers_new(unsigned nthreads)
{
	struct workers *w = xcalloc(1, sizeof(*w));
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	w->tail = &w->head;
	w->n = nthreads == 0 ? 1 : nthreads;
	w->threads = xcalloc(w->n, sizeof(pthread_t));
	for (unsigned i = 0; i < w->n; i++)
		if (pthread_create(&w->threads[i], NULL, worker_main, w) != 0)
			die("cannot start worker thread");
	return w;
}

void workers_free(struct workers **wp)
{
	struct workers *w = *wp;
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	for (unsigned i = 0; i < w->n; i++)
		pthread_join(w->threads[i], NULL);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w->threads);
	free(w);
	*wp = NULL;
}

void workers_run(struct workers *w, workers_fn *work, workers_fn *done, struct loop *loop,
		 void *arg)
{
	struct job *j = xmalloc(sizeof(*j));
	j->work = work;
	j->done = done;
	j->loop = loop;
	j->arg = arg;
	j->next = NULL;
	pthread_mutex_lock(&w->lock);
	*w->tail = j;
	w->tail = &j->next;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}
