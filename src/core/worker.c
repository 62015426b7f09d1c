/*
 * The worker primitive (see worker.h): one thread or a pool, a ring of queued items, a
 * pending-wake flag and an optional interval, all under one mutex, with one
 * condition variable on CLOCK_MONOTONIC for the thread and one for
 * worker_wait_idle.
 */
#include "core/worker.h"
#include "core/error.h"
#include "core/lead.h"
#include "core/time.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct worker {
	char *name;
	worker_fn fn;
	void *ctx;
	struct worker_opts opts;
	pthread_t *threads;
	int n_threads;       /* started */
	pthread_mutex_t mu;  /* everything below */
	pthread_cond_t wake; /* the thread: an item, a wake or stop */
	pthread_cond_t idle; /* worker_wait_idle: the thread went idle */
	void **ring;
	size_t head, n;
	int running;         /* fn calls under way */
	bool wake_pending, stop, joined;
	uint64_t calls;
};

int worker_cond_init(pthread_cond_t *c)
{
	pthread_condattr_t ca;
	int rc = pthread_condattr_init(&ca);
	if (rc)
		return rc;
	rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (!rc)
		rc = pthread_cond_init(c, &ca);
	pthread_condattr_destroy(&ca);
	return rc;
}

bool worker_cond_wait_until(pthread_cond_t *c, pthread_mutex_t *mu, int64_t deadline_ns)
{
	if (ooda_mono_ns() >= deadline_ns)
		return true;
	struct timespec ts = { .tv_sec = deadline_ns / OODA_NS_PER_SEC, .tv_nsec = deadline_ns % OODA_NS_PER_SEC };
	return pthread_cond_timedwait(c, mu, &ts) == ETIMEDOUT;
}

static bool has_work(const struct worker *w)
{
	return w->stop || w->n || w->wake_pending;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	int64_t interval = w->opts.interval_ns;
	int64_t deadline = interval > 0 ? ooda_mono_ns() + interval : 0;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		bool timed_out = false;
		while (!has_work(w) && !timed_out) {
			if (interval > 0)
				timed_out = worker_cond_wait_until(&w->wake, &w->mu, deadline) && ooda_mono_ns() >= deadline;
			else
				pthread_cond_wait(&w->wake, &w->mu);
		}
		if (w->stop)
			break;
		if (w->opts.leader_only && lead_thread_enter() < 0) {
			/* a follower leaves the work queued until it leads */
			worker_cond_wait_until(&w->wake, &w->mu, ooda_mono_ns() + LEAD_POLL_MS * OODA_NS_PER_MS);
			continue;
		}
		void *item = NULL;
		if (w->n) {
			item = w->ring[w->head];
			w->head = (w->head + 1) % w->opts.capacity;
			w->n--;
		} else if (w->wake_pending) {
			w->wake_pending = false;
		}
		w->running++;
		pthread_mutex_unlock(&w->mu);
		w->fn(w->ctx, item);
		pthread_mutex_lock(&w->mu);
		w->running--;
		w->calls++;
		if (interval > 0)
			deadline = ooda_mono_ns() + interval;
		pthread_cond_broadcast(&w->idle);
	}
	/* stopping: hand over or drop what is still queued */
	bool drain = w->opts.stop_mode == WORKER_DRAIN;
	while (w->n) {
		void *item = w->ring[w->head];
		w->head = (w->head + 1) % w->opts.capacity;
		w->n--;
		w->running += drain;
		pthread_mutex_unlock(&w->mu);
		if (drain)
			w->fn(w->ctx, item);
		else if (w->opts.item_free)
			w->opts.item_free(item);
		pthread_mutex_lock(&w->mu);
		w->running -= drain;
		w->calls += drain;
	}
	w->wake_pending = false;
	pthread_cond_broadcast(&w->idle);
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static void worker_free(struct worker *w)
{
	pthread_cond_destroy(&w->wake);
	pthread_cond_destroy(&w->idle);
	pthread_mutex_destroy(&w->mu);
	free(w->threads);
	free(w->ring);
	free(w->name);
	free(w);
}

/* Stops and joins the threads started so far. */
static void threads_join(struct worker *w)
{
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_broadcast(&w->wake);
	pthread_mutex_unlock(&w->mu);
	for (int i = 0; i < w->n_threads; i++)
		pthread_join(w->threads[i], NULL);
}

int worker_create(const char *name, worker_fn fn, void *ctx, const struct worker_opts *opts, struct worker **out,
		  struct buf *err)
{
	*out = NULL;
	struct worker *w = xcalloc(1, sizeof(*w));
	w->name = xstrdup(name ? name : "worker");
	if (opts)
		w->opts = *opts;
	int want = w->opts.threads > 1 ? w->opts.threads : 1;
	if (w->opts.capacity)
		w->ring = xcalloc(w->opts.capacity, sizeof(*w->ring));
	w->threads = xcalloc((size_t)want, sizeof(*w->threads));
	w->fn = fn;
	w->ctx = ctx;
	pthread_mutex_init(&w->mu, NULL);
	int rc = worker_cond_init(&w->wake);
	if (!rc)
		rc = pthread_cond_init(&w->idle, NULL);
	if (rc) {
		buf_addf(err, "%s: cannot set up the worker's condition: %s", w->name, strerror(rc));
		free(w->threads);
		free(w->ring);
		free(w->name);
		pthread_mutex_destroy(&w->mu);
		free(w);
		return OODA_EINTERNAL;
	}
	for (; w->n_threads < want; w->n_threads++) {
		rc = pthread_create(&w->threads[w->n_threads], NULL, worker_main, w);
		if (rc) {
			buf_addf(err, "%s: cannot start worker thread %d: %s", w->name, w->n_threads + 1, strerror(rc));
			threads_join(w);
			worker_free(w);
			return OODA_EINTERNAL;
		}
	}
	*out = w;
	return 0;
}

int worker_push(struct worker *w, void *item)
{
	pthread_mutex_lock(&w->mu);
	int rc = 0;
	if (w->stop)
		rc = OODA_EUNAVAIL;
	else if (w->n >= w->opts.capacity)
		rc = OODA_EBUSY;
	else {
		w->ring[(w->head + w->n) % w->opts.capacity] = item;
		w->n++;
		pthread_cond_signal(&w->wake);
	}
	pthread_mutex_unlock(&w->mu);
	return rc;
}

void worker_wake(struct worker *w)
{
	pthread_mutex_lock(&w->mu);
	if (!w->stop) {
		w->wake_pending = true;
		pthread_cond_signal(&w->wake);
	}
	pthread_mutex_unlock(&w->mu);
}

void worker_quiesce(struct worker *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_broadcast(&w->wake);
	pthread_mutex_unlock(&w->mu);
}

bool worker_stopping(struct worker *w)
{
	pthread_mutex_lock(&w->mu);
	bool stop = w->stop;
	pthread_mutex_unlock(&w->mu);
	return stop;
}

void worker_stop(struct worker *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	bool join = !w->joined;
	w->joined = true;
	pthread_mutex_unlock(&w->mu);
	if (join)
		threads_join(w);
}

void worker_destroy(struct worker *w)
{
	if (!w)
		return;
	worker_stop(w);
	worker_free(w);
}

void worker_wait_idle(struct worker *w)
{
	pthread_mutex_lock(&w->mu);
	while (w->n || w->running || (w->wake_pending && !w->stop))
		pthread_cond_wait(&w->idle, &w->mu);
	pthread_mutex_unlock(&w->mu);
}

size_t worker_queued(struct worker *w)
{
	pthread_mutex_lock(&w->mu);
	size_t n = w->n;
	pthread_mutex_unlock(&w->mu);
	return n;
}

uint64_t worker_calls(struct worker *w)
{
	pthread_mutex_lock(&w->mu);
	uint64_t n = w->calls;
	pthread_mutex_unlock(&w->mu);
	return n;
}
