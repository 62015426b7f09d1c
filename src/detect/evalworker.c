/*
 * The off-engine evaluation worker (see evalworker.h): one thread, one
 * evaluation at a time, and a FIFO of deep-copied signals that the engine
 * tick drains into the alert sink. Signals are copied because the
 * detector's labels, annotations and evidence are borrowed for the length
 * of one alert_emit() call only.
 */
#include "detect/evalworker.h"
#include "core/error.h"
#include "core/log.h"
#include "core/time.h"
#include "core/worker.h"

#include <jansson.h>
#include <pthread.h>

#define SLOW_EVAL_NS (10 * OODA_NS_PER_SEC) /* an evaluation this long is logged */

struct held {
	struct held *next;
	char *source, *name, *service;
	enum alert_severity severity;
	json_t *labels, *annotations, *evidence;
	bool active, external;
	int64_t at_ns, for_ns, keep_firing_for_ns;
};

enum work_state { IDLE, QUEUED, RUNNING };

struct evalworker {
	char *name;
	evalworker_fn fn;
	void *ctx;
	struct worker *worker; /* core/worker: woken by evalworker_tick */
	pthread_mutex_t mu;  /* everything below */
	pthread_cond_t room; /* worker: the buffer was drained, or stop */
	pthread_cond_t idle; /* evalworker_wait_idle */
	bool stop;
	enum work_state state;
	int64_t now_ns;      /* of the evaluation handed over */
	struct held *head, *tail;
	size_t n_held;
	uint64_t n_sent;     /* signals buffered so far (never reset) */
	void (*on_signals)(void *ctx);
	void *on_signals_ctx;
};

static char *dup_or_null(const char *s)
{
	return xstrdup(s);
}

static json_t *copy_or_null(const json_t *j)
{
	return j ? json_deep_copy(j) : NULL;
}

static void held_free(struct held *h)
{
	free(h->source);
	free(h->name);
	free(h->service);
	json_decref(h->labels);
	json_decref(h->annotations);
	json_decref(h->evidence);
	free(h);
}

/* The sink evaluations send to, on the worker thread: copy and queue. */
static void hold_signal(void *ctx, const struct alert_signal *s)
{
	struct evalworker *w = ctx;
	struct held *h = xcalloc(1, sizeof(*h));
	if (!h)
		return;
	*h = (struct held){ .source = dup_or_null(s->source), .name = dup_or_null(s->name),
			    .service = dup_or_null(s->service), .severity = s->severity,
			    .labels = copy_or_null(s->labels), .annotations = copy_or_null(s->annotations),
			    .evidence = copy_or_null(s->evidence), .active = s->active, .external = s->external,
			    .at_ns = s->at_ns, .for_ns = s->for_ns, .keep_firing_for_ns = s->keep_firing_for_ns };
	pthread_mutex_lock(&w->mu);
	while (w->n_held >= EVALWORKER_MAX_HELD && !w->stop)
		pthread_cond_wait(&w->room, &w->mu);
	if (w->stop) {
		pthread_mutex_unlock(&w->mu);
		held_free(h);
		return;
	}
	if (w->tail)
		w->tail->next = h;
	else
		w->head = h;
	w->tail = h;
	w->n_held++;
	w->n_sent++;
	pthread_mutex_unlock(&w->mu);
}

/* The worker's fn: runs the evaluation evalworker_tick handed over, if any. */
static void evaluate(void *arg, void *item)
{
	(void)item;
	struct evalworker *w = arg;
	struct alert_sink buffer = { .signal = hold_signal, .ctx = w };
	pthread_mutex_lock(&w->mu);
	if (w->stop || w->state != QUEUED) {
		pthread_mutex_unlock(&w->mu);
		return;
	}
	w->state = RUNNING;
	int64_t now_ns = w->now_ns;
	uint64_t sent = w->n_sent;
	pthread_mutex_unlock(&w->mu);
	int64_t t0 = ooda_mono_ns();
	w->fn(w->ctx, now_ns, &buffer);
	int64_t took = ooda_mono_ns() - t0;
	if (took >= SLOW_EVAL_NS)
		log_warn("%s: one evaluation took %.1f s; the engine did not wait for it", w->name, (double)took / 1e9);
	pthread_mutex_lock(&w->mu);
	bool found = w->n_sent != sent;
	void (*hook)(void *) = w->on_signals;
	void *hook_ctx = w->on_signals_ctx;
	pthread_mutex_unlock(&w->mu);
	if (found && hook)
		hook(hook_ctx); /* before idle, so whoever waits for idle knows the hook ran */
	pthread_mutex_lock(&w->mu);
	w->state = IDLE;
	pthread_cond_broadcast(&w->idle);
	pthread_mutex_unlock(&w->mu);
}

void evalworker_on_signals(struct evalworker *w, void (*fn)(void *ctx), void *ctx)
{
	pthread_mutex_lock(&w->mu);
	w->on_signals = fn;
	w->on_signals_ctx = ctx;
	pthread_mutex_unlock(&w->mu);
}

/* Frees w once its thread is gone (or never started). */
static void worker_free(struct evalworker *w)
{
	pthread_cond_destroy(&w->room);
	pthread_cond_destroy(&w->idle);
	pthread_mutex_destroy(&w->mu);
	free(w->name);
	free(w);
}

int evalworker_create(const char *name, evalworker_fn fn, void *ctx, struct evalworker **out, struct buf *err)
{
	struct evalworker *w = xcalloc(1, sizeof(*w));
	if (!w || !(w->name = xstrdup(name ? name : "evaluation"))) {
		free(w);
		buf_adds(err, "evaluation worker: out of memory");
		return OODA_ENOMEM;
	}
	w->fn = fn;
	w->ctx = ctx;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->room, NULL);
	pthread_cond_init(&w->idle, NULL);
	int rc = worker_create(w->name, evaluate, w, NULL, &w->worker, err);
	if (rc) {
		worker_free(w);
		return rc;
	}
	*out = w;
	return 0;
}

void evalworker_destroy(struct evalworker *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_broadcast(&w->room);
	pthread_mutex_unlock(&w->mu);
	worker_destroy(w->worker); /* a running evaluation ends (evalworker_stopping) and is joined */
	w->state = IDLE;
	for (struct held *h = w->head, *next; h; h = next) {
		next = h->next;
		held_free(h);
	}
	worker_free(w);
}

void evalworker_tick(struct evalworker *w, int64_t now_ns, const struct alert_sink *sink)
{
	pthread_mutex_lock(&w->mu);
	struct held *h = w->head;
	w->head = w->tail = NULL;
	w->n_held = 0;
	pthread_cond_broadcast(&w->room);
	if (w->state == IDLE && !w->stop) {
		w->state = QUEUED;
		w->now_ns = now_ns;
	}
	bool handed = w->state == QUEUED;
	pthread_mutex_unlock(&w->mu);
	if (handed)
		worker_wake(w->worker);
	for (struct held *next; h; h = next) {
		next = h->next;
		struct alert_signal s = { .source = h->source, .name = h->name, .service = h->service,
					  .severity = h->severity, .labels = h->labels, .annotations = h->annotations,
					  .evidence = h->evidence, .active = h->active, .at_ns = h->at_ns,
					  .for_ns = h->for_ns, .keep_firing_for_ns = h->keep_firing_for_ns,
					  .external = h->external };
		alert_emit(sink, &s);
		held_free(h);
	}
}

bool evalworker_stopping(struct evalworker *w)
{
	pthread_mutex_lock(&w->mu);
	bool stop = w->stop;
	pthread_mutex_unlock(&w->mu);
	return stop;
}

void evalworker_wait_idle(struct evalworker *w)
{
	pthread_mutex_lock(&w->mu);
	while (w->state != IDLE)
		pthread_cond_wait(&w->idle, &w->mu);
	pthread_mutex_unlock(&w->mu);
}
