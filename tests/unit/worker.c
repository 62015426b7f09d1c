/*
 * Unit tests for core/worker: items reach fn in push order, the queue bound
 * answers EBUSY, stop drains or drops what is queued, a wake ends a long
 * timed wait, and the monotonic cond helpers. No sleeps: a gate that fn
 * waits on holds the worker busy, and the test waits on conditions and
 * joins.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include "core/error.h"
#include "core/time.h"
#include "core/worker.h"
#include "core/lead.h"

/* What fn saw, and a gate that holds fn until the test opens it. */
struct probe {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool gate_closed; /* fn waits while this is true */
	int entered;      /* calls begun */
	intptr_t seen[32];
	int n_seen;
	int freed;
};

static void probe_init(struct probe *p, bool closed)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->gate_closed = closed;
}

static void probe_release(struct probe *p)
{
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
}

static void probe_fn(void *ctx, void *item)
{
	struct probe *p = ctx;
	pthread_mutex_lock(&p->mu);
	p->entered++;
	pthread_cond_broadcast(&p->cv);
	while (p->gate_closed)
		pthread_cond_wait(&p->cv, &p->mu);
	if (p->n_seen < 32)
		p->seen[p->n_seen++] = (intptr_t)item;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

static struct probe *freed_into; /* item_free has no ctx */

static void count_free(void *item)
{
	(void)item;
	pthread_mutex_lock(&freed_into->mu);
	freed_into->freed++;
	pthread_mutex_unlock(&freed_into->mu);
}

static void wait_entered(struct probe *p, int n)
{
	pthread_mutex_lock(&p->mu);
	while (p->entered < n)
		pthread_cond_wait(&p->cv, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

static void gate_open(struct probe *p)
{
	pthread_mutex_lock(&p->mu);
	p->gate_closed = false;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

static void test_order_and_bound(void **state)
{
	(void)state;
	struct probe p;
	probe_init(&p, true);
	struct worker *w;
	struct buf err = BUF_INIT;
	struct worker_opts o = { .capacity = 3 };
	assert_int_equal(worker_create("order", probe_fn, &p, &o, &w, &err), 0);
	assert_int_equal(worker_push(w, (void *)1), 0);
	wait_entered(&p, 1); /* item 1 is taken: the queue is empty again, fn is held */
	assert_int_equal(worker_push(w, (void *)2), 0);
	assert_int_equal(worker_push(w, (void *)3), 0);
	assert_int_equal(worker_push(w, (void *)4), 0);
	assert_int_equal(worker_queued(w), 3);
	assert_int_equal(worker_push(w, (void *)5), OODA_EBUSY); /* full: refused, not blocked */
	gate_open(&p);
	worker_wait_idle(w);
	assert_int_equal(p.n_seen, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(p.seen[i], i + 1);
	assert_int_equal(worker_calls(w), 4);
	worker_destroy(w);
	probe_release(&p);
	buf_release(&err);
}

static void test_wake_only(void **state)
{
	(void)state;
	struct probe p;
	probe_init(&p, false);
	struct worker *w;
	struct buf err = BUF_INIT;
	assert_int_equal(worker_create("wake", probe_fn, &p, NULL, &w, &err), 0);
	assert_int_equal(worker_push(w, (void *)1), OODA_EBUSY); /* no queue */
	worker_wake(w);
	worker_wait_idle(w);
	assert_int_equal(p.n_seen, 1);
	assert_int_equal(p.seen[0], 0); /* a wake calls fn with NULL */
	worker_destroy(w);
	probe_release(&p);
	buf_release(&err);
}

static void *stop_thread(void *arg)
{
	worker_stop(arg);
	return NULL;
}

/* Stops w (fn held at the gate with items queued) from another thread; returns what fn saw. */
static void stop_with_queued(enum worker_stop_mode mode, struct probe *p)
{
	probe_init(p, true);
	freed_into = p;
	struct worker *w;
	struct buf err = BUF_INIT;
	struct worker_opts o = { .capacity = 8, .stop_mode = mode, .item_free = count_free };
	assert_int_equal(worker_create("stop", probe_fn, p, &o, &w, &err), 0);
	assert_int_equal(worker_push(w, (void *)1), 0);
	wait_entered(p, 1);
	assert_int_equal(worker_push(w, (void *)2), 0);
	assert_int_equal(worker_push(w, (void *)3), 0);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, stop_thread, w), 0);
	while (!worker_stopping(w))
		sched_yield();
	assert_int_equal(worker_push(w, (void *)4), OODA_EUNAVAIL); /* stopping: refused */
	gate_open(p);
	pthread_join(t, NULL);
	worker_stop(w); /* idempotent */
	worker_destroy(w);
	buf_release(&err);
}

/* A quiesce returns at once, with an item in hand; nothing queued or woken runs after it. */
static void test_quiesce(void **state)
{
	(void)state;
	struct probe p;
	probe_init(&p, true);
	freed_into = &p;
	struct worker *w;
	struct buf err = BUF_INIT;
	struct worker_opts o = { .capacity = 8, .stop_mode = WORKER_CANCEL, .item_free = count_free };
	assert_int_equal(worker_create("quiesce", probe_fn, &p, &o, &w, &err), 0);
	assert_int_equal(worker_push(w, (void *)1), 0);
	wait_entered(&p, 1);
	assert_int_equal(worker_push(w, (void *)2), 0);
	worker_quiesce(w); /* does not wait for the item in hand */
	assert_true(worker_stopping(w));
	assert_int_equal(worker_push(w, (void *)3), OODA_EUNAVAIL);
	worker_wake(w); /* ignored */
	gate_open(&p);
	worker_stop(w);
	assert_int_equal(p.n_seen, 1); /* only the item in hand ran */
	assert_int_equal(p.seen[0], 1);
	assert_int_equal(p.entered, 1);
	assert_int_equal(p.freed, 1); /* the queued one was dropped */
	worker_destroy(w);
	worker_quiesce(NULL);
	buf_release(&err);
	probe_release(&p);
}

static void test_stop_cancel(void **state)
{
	(void)state;
	struct probe p;
	stop_with_queued(WORKER_CANCEL, &p);
	assert_int_equal(p.n_seen, 1); /* the running call finished */
	assert_int_equal(p.seen[0], 1);
	assert_int_equal(p.freed, 2); /* the two queued were dropped, freed */
	probe_release(&p);
}

static void test_stop_drain(void **state)
{
	(void)state;
	struct probe p;
	stop_with_queued(WORKER_DRAIN, &p);
	assert_int_equal(p.n_seen, 3); /* the queued ones went to fn, in order */
	for (int i = 0; i < 3; i++)
		assert_int_equal(p.seen[i], i + 1);
	assert_int_equal(p.freed, 0);
	probe_release(&p);
}

static void test_wake_ends_timed_wait(void **state)
{
	(void)state;
	struct probe p;
	probe_init(&p, false);
	struct worker *w;
	struct buf err = BUF_INIT;
	/* an hour-long interval: only the wake can make fn run during this test */
	struct worker_opts o = { .interval_ns = 3600 * OODA_NS_PER_SEC };
	assert_int_equal(worker_create("timed", probe_fn, &p, &o, &w, &err), 0);
	worker_wake(w);
	wait_entered(&p, 1);
	worker_wait_idle(w);
	assert_int_equal(worker_calls(w), 1);
	worker_wake(w);
	wait_entered(&p, 2);
	worker_wait_idle(w);
	assert_int_equal(worker_calls(w), 2);
	worker_destroy(w); /* stop ends the hour-long wait too: the join returns */
	probe_release(&p);
	buf_release(&err);
}

static void test_interval_runs(void **state)
{
	(void)state;
	struct probe p;
	probe_init(&p, false);
	struct worker *w;
	struct buf err = BUF_INIT;
	struct worker_opts o = { .interval_ns = 1000 }; /* 1 µs: fn runs on its own, unwoken */
	assert_int_equal(worker_create("interval", probe_fn, &p, &o, &w, &err), 0);
	wait_entered(&p, 3);
	worker_destroy(w);
	assert_true(p.n_seen >= 3);
	assert_int_equal(p.seen[0], 0);
	probe_release(&p);
	buf_release(&err);
}

static void test_pool(void **state)
{
	(void)state;
	struct probe p;
	probe_init(&p, true);
	struct worker *w;
	struct buf err = BUF_INIT;
	struct worker_opts o = { .capacity = 4, .threads = 2 };
	assert_int_equal(worker_create("pool", probe_fn, &p, &o, &w, &err), 0);
	assert_int_equal(worker_push(w, (void *)1), 0);
	assert_int_equal(worker_push(w, (void *)2), 0);
	/* both items are in fn at once, each on its own thread (one thread would wait here forever) */
	wait_entered(&p, 2);
	assert_int_equal(worker_push(w, (void *)3), 0);
	gate_open(&p);
	worker_wait_idle(w);
	assert_int_equal(p.n_seen, 3);
	assert_int_equal(worker_calls(w), 3);
	worker_destroy(w);
	probe_release(&p);
	buf_release(&err);
}

struct signaller {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool flag;
};

static void *signal_thread(void *arg)
{
	struct signaller *s = arg;
	pthread_mutex_lock(&s->mu);
	s->flag = true;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static void test_cond_helpers(void **state)
{
	(void)state;
	struct signaller s = { .flag = false };
	pthread_mutex_init(&s.mu, NULL);
	assert_int_equal(worker_cond_init(&s.cv), 0);
	pthread_mutex_lock(&s.mu);
	/* a deadline already passed on the monotonic clock times out at once */
	assert_true(worker_cond_wait_until(&s.cv, &s.mu, ooda_mono_ns() - 1));
	/* a signal ends a wait whose deadline is an hour away */
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, signal_thread, &s), 0);
	bool timed_out = false;
	while (!s.flag && !timed_out)
		timed_out = worker_cond_wait_until(&s.cv, &s.mu, ooda_mono_ns() + 3600 * OODA_NS_PER_SEC);
	assert_false(timed_out);
	assert_true(s.flag);
	pthread_mutex_unlock(&s.mu);
	pthread_join(t, NULL);
	pthread_cond_destroy(&s.cv);
	pthread_mutex_destroy(&s.mu);
}

/* ---- leader-only workers (core/lead.h) ------------------------------------ */

static int64_t fence_seen[8];
static int n_fence_seen;

static void fence_fn(void *ctx, void *item)
{
	(void)item;
	struct probe *p = ctx;
	pthread_mutex_lock(&p->mu);
	if (n_fence_seen < 8)
		fence_seen[n_fence_seen++] = lead_thread_fence();
	p->entered++;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/*
 * While this node follows, a leader-only worker takes nothing: pushed items
 * stay queued. When it leads, they run, each with the term as the thread's
 * fencing token.
 */
static void test_leader_only(void **state)
{
	(void)state;
	struct probe p;
	probe_init(&p, false);
	lead_set(0);
	struct worker_opts o = { .capacity = 4, .leader_only = true };
	struct worker *w = NULL;
	struct buf err = BUF_INIT;
	assert_int_equal(worker_create("follower", fence_fn, &p, &o, &w, &err), 0);
	assert_int_equal(worker_push(w, (void *)1), 0);
	assert_int_equal(worker_push(w, (void *)2), 0);
	worker_wake(w);
	assert_int_equal(worker_queued(w), 2);
	assert_int_equal(worker_calls(w), 0);
	lead_set(3);
	wait_entered(&p, 3); /* two items and the wake */
	worker_wait_idle(w);
	assert_int_equal(n_fence_seen, 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(fence_seen[i], 3);
	worker_destroy(w);
	lead_set(1);
	buf_release(&err);
	probe_release(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_and_bound),   cmocka_unit_test(test_wake_only),
		cmocka_unit_test(test_stop_cancel),       cmocka_unit_test(test_stop_drain),
		cmocka_unit_test(test_quiesce),
		cmocka_unit_test(test_wake_ends_timed_wait), cmocka_unit_test(test_interval_runs),
		cmocka_unit_test(test_cond_helpers),      cmocka_unit_test(test_pool),
		cmocka_unit_test(test_leader_only),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
