/*
 * The engine thread: a loop that sleeps on a condition variable (so stop is
 * immediate) and runs the registered tick callbacks in order.
 */
#include "detect/engine.h"
#include "core/error.h"
#include "core/lead.h"
#include "core/time.h"

#include <errno.h>
#include <pthread.h>

struct engine_cb {
	engine_tick_fn fn;
	void *ctx;
};

struct engine {
	pthread_mutex_t mu;
	pthread_cond_t wake;
	pthread_t thread;
	bool running, stop;
	int64_t tick_ns;
	struct alert_sink sink;
	struct engine_cb cb[ENGINE_MAX_CALLBACKS];
	int n_cb;
	int64_t ticks;
	engine_due_fn due;
	void *due_ctx;
	bool poked;         /* engine_poke since the last tick started */
	int64_t poked_ticks;
};

void engine_set_due(struct engine *e, engine_due_fn fn, void *ctx)
{
	pthread_mutex_lock(&e->mu);
	e->due = fn;
	e->due_ctx = ctx;
	pthread_mutex_unlock(&e->mu);
}

int64_t engine_wake_ns(int64_t next_ns, int64_t mono_ns, int64_t wall_ns, int64_t due_wall_ns, int64_t tick_wall_ns)
{
	if (tick_wall_ns <= 0 || tick_wall_ns > wall_ns)
		tick_wall_ns = wall_ns; /* no tick ran (a follower): a past due is nobody's to catch */
	if (due_wall_ns <= 0 || due_wall_ns <= tick_wall_ns)
		return next_ns; /* nothing due, or due already when the tick began and it left it: no spinning */
	int64_t in = due_wall_ns - wall_ns;
	if (in < ENGINE_MIN_GAP_NS)
		in = ENGINE_MIN_GAP_NS;
	return mono_ns + in < next_ns ? mono_ns + in : next_ns;
}

int64_t engine_poke_wake_ns(int64_t wake_ns, int64_t last_end_ns)
{
	int64_t p = last_end_ns + ENGINE_POKE_GAP_NS;
	return p < wake_ns ? p : wake_ns;
}

void engine_poke(struct engine *e)
{
	if (!e)
		return;
	pthread_mutex_lock(&e->mu);
	if (!e->poked) {
		e->poked = true;
		pthread_cond_broadcast(&e->wake);
	}
	pthread_mutex_unlock(&e->mu);
}

int64_t engine_poked_ticks(struct engine *e)
{
	pthread_mutex_lock(&e->mu);
	int64_t n = e->poked_ticks;
	pthread_mutex_unlock(&e->mu);
	return n;
}

static int64_t ts_ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * OODA_NS_PER_SEC + t->tv_nsec;
}

int engine_create(const struct alert_sink *sink, int64_t tick_ns, struct engine **out, struct buf *err)
{
	struct engine *e = xcalloc(1, sizeof(*e));
	pthread_mutex_init(&e->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&e->wake, &ca);
	pthread_condattr_destroy(&ca);
	e->tick_ns = tick_ns > 0 ? tick_ns : ENGINE_DEFAULT_TICK_NS;
	if (sink)
		e->sink = *sink;
	*out = e;
	return 0;
}

int engine_add(struct engine *e, engine_tick_fn tick, void *ctx)
{
	pthread_mutex_lock(&e->mu);
	int rc = OODA_ELIMIT;
	if (e->n_cb < ENGINE_MAX_CALLBACKS) {
		e->cb[e->n_cb++] = (struct engine_cb){ tick, ctx };
		rc = 0;
	}
	pthread_mutex_unlock(&e->mu);
	return rc;
}

void engine_tick_once(struct engine *e, int64_t now_ns)
{
	struct engine_cb cb[ENGINE_MAX_CALLBACKS];
	pthread_mutex_lock(&e->mu);
	int n = e->n_cb;
	memcpy(cb, e->cb, sizeof(cb[0]) * (size_t)n);
	pthread_mutex_unlock(&e->mu);
	for (int i = 0; i < n; i++)
		cb[i].fn(cb[i].ctx, now_ns, &e->sink);
	pthread_mutex_lock(&e->mu);
	e->ticks++;
	pthread_mutex_unlock(&e->mu);
}

static void *engine_main(void *arg)
{
	struct engine *e = arg;
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	pthread_mutex_lock(&e->mu);
	while (!e->stop) {
		pthread_mutex_unlock(&e->mu);
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		bool periodic = ts_ns(&now) >= ts_ns(&next);
		/* only the leader ticks (core/lead.h); a follower's detectors wait, its ingest goes on */
		int64_t tick_wall = 0; /* the tick's own now: a due after it came during the tick, unseen */
		if (lead_thread_enter() > 0) {
			tick_wall = ooda_now_ns();
			engine_tick_once(e, tick_wall);
		}
		pthread_mutex_lock(&e->mu);
		engine_due_fn due = e->due;
		void *due_ctx = e->due_ctx;
		pthread_mutex_unlock(&e->mu);
		int64_t due_ns = due ? due(due_ctx) : 0; /* on this thread, like the ticks */
		pthread_mutex_lock(&e->mu);
		if (periodic) {
			int64_t ns = (int64_t)next.tv_nsec + e->tick_ns;
			next.tv_sec += (time_t)(ns / OODA_NS_PER_SEC);
			next.tv_nsec = (long)(ns % OODA_NS_PER_SEC);
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > next.tv_sec + 1) /* fell far behind: do not try to catch up */
			next = now;
		int64_t w = engine_wake_ns(ts_ns(&next), ts_ns(&now), ooda_now_ns(), due_ns, tick_wall);
		int64_t end = ts_ns(&now);
		for (;;) {
			int64_t at = e->poked ? engine_poke_wake_ns(w, end) : w;
			struct timespec wake = { .tv_sec = (time_t)(at / OODA_NS_PER_SEC),
						 .tv_nsec = (long)(at % OODA_NS_PER_SEC) };
			if (e->stop || pthread_cond_timedwait(&e->wake, &e->mu, &wake) == ETIMEDOUT)
				break;
		}
		if (e->poked && !e->stop) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (ts_ns(&now) < w) /* the tick comes because of the poke, not its schedule */
				e->poked_ticks++;
		}
		e->poked = false; /* the tick about to run sees what the pokes announced */
	}
	pthread_mutex_unlock(&e->mu);
	return NULL;
}

int engine_start(struct engine *e, struct buf *err)
{
	pthread_mutex_lock(&e->mu);
	e->stop = false;
	int rc = e->running ? 0 : pthread_create(&e->thread, NULL, engine_main, e);
	if (!rc)
		e->running = true;
	pthread_mutex_unlock(&e->mu);
	if (rc) {
		buf_addf(err, "engine: cannot start its thread: %s", strerror(rc));
		return OODA_EINTERNAL;
	}
	return 0;
}

int64_t engine_ticks(struct engine *e)
{
	pthread_mutex_lock(&e->mu);
	int64_t n = e->ticks;
	pthread_mutex_unlock(&e->mu);
	return n;
}

void engine_destroy(struct engine *e)
{
	if (!e)
		return;
	pthread_mutex_lock(&e->mu);
	bool running = e->running;
	e->stop = true;
	pthread_cond_broadcast(&e->wake);
	pthread_mutex_unlock(&e->mu);
	if (running)
		pthread_join(e->thread, NULL);
	pthread_cond_destroy(&e->wake);
	pthread_mutex_destroy(&e->mu);
	free(e);
}
