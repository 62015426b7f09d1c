/*
 * Unit tests for off-engine evaluation (src/detect/evalworker.c and its use
 * by alert rules and anomaly watches). The metric source blocks until the
 * test opens a gate, standing in for a slow telemetry store read; while an
 * evaluation sits in it, engine ticks still run every detector after the
 * rules (as they run probes and heartbeats) and return. Once the gate
 * opens, the next tick delivers the signals, the same as an inline
 * evaluation gives. Stopping with an evaluation in progress and signals not
 * yet delivered is clean. No sleeps: the test waits on conditions only.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/time.h"
#include "detect/engine.h"
#include "detect/evalworker.h"
#include "detect/rules.h"
#include "detect/watch.h"

#define MS OODA_NS_PER_MS
static const int64_t T0 = INT64_C(1700000000) * OODA_NS_PER_SEC;

/* ---- a metric source that blocks until the gate opens ------------------- */

static struct gate {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool blocking; /* false: the source answers at once */
	bool open;
	int entered;   /* selects that reached the gate */
	bool timed_out;/* a select gave up waiting: nobody opened the gate in time */
	double value;
} g = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, false, 0, false, 50 };

static void gate_reset(bool blocking)
{
	pthread_mutex_lock(&g.mu);
	g.blocking = blocking;
	g.open = false;
	g.entered = 0;
	g.timed_out = false;
	pthread_mutex_unlock(&g.mu);
}

static void gate_open(void)
{
	pthread_mutex_lock(&g.mu);
	g.open = true;
	pthread_cond_broadcast(&g.cv);
	pthread_mutex_unlock(&g.mu);
}

/* Waits (at most 30 s) until a select is inside the gate; false if none came. */
static bool gate_wait_entered(void)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 30;
	pthread_mutex_lock(&g.mu);
	int rc = 0;
	while (!g.entered && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&g.cv, &g.mu, &until);
	bool in = g.entered > 0;
	pthread_mutex_unlock(&g.mu);
	return in;
}

static int slow_select(void *ctx, const struct promql_matcher *m, size_t n, int64_t from_ms, int64_t to_ms,
		       struct arena *a, struct promql_series **out, size_t *n_out, struct buf *err)
{
	(void)ctx;
	(void)from_ms;
	(void)err;
	pthread_mutex_lock(&g.mu);
	g.entered++;
	pthread_cond_broadcast(&g.cv);
	if (g.blocking) {
		/* An evaluation on the engine thread would sit here with the test's
		 * thread, which alone opens the gate: give up after a while and say so. */
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 5;
		while (!g.open)
			if (pthread_cond_timedwait(&g.cv, &g.mu, &until) == ETIMEDOUT) {
				g.timed_out = true;
				break;
			}
	}
	double value = g.value;
	pthread_mutex_unlock(&g.mu);
	struct promql_series *s = arena_zalloc(a, sizeof(*s));
	s->labels = arena_zalloc(a, 2 * sizeof(*s->labels));
	s->labels[0] = (struct promql_label){ "__name__", "queue_depth" };
	s->labels[1] = (struct promql_label){ "job", "checkout" };
	s->n_labels = 2;
	s->samples = arena_zalloc(a, sizeof(*s->samples));
	s->samples[0] = (struct promql_sample){ to_ms - 1, value };
	s->n_samples = 1;
	bool ok = promql_matchers_match(m, n, s->labels, s->n_labels);
	*out = ok ? s : NULL;
	*n_out = ok ? 1 : 0;
	return 0;
}

static const struct promql_source slow_source = { .version = 1, .select = slow_select };

/* ---- what the engine's other detectors and the alert sink see ----------- */

static int later_ticks; /* a detector registered after the rules: probes, heartbeats */

static void count_tick(void *ctx, int64_t now_ns, const struct alert_sink *sink)
{
	(void)ctx;
	(void)now_ns;
	(void)sink;
	later_ticks++;
}

/* The signals a sink received, as JSON, in order. */
static json_t *received;

static void record(void *ctx, const struct alert_signal *s)
{
	(void)ctx;
	json_array_append_new(received,
			      json_pack("{s:s, s:s, s:s?, s:i, s:O?, s:O?, s:O?, s:b, s:I, s:I, s:I}", "source", s->source,
					"name", s->name, "service", s->service, "severity", (int)s->severity, "labels",
					s->labels, "annotations", s->annotations, "evidence", s->evidence, "active",
					s->active, "at", (json_int_t)s->at_ns, "for", (json_int_t)s->for_ns, "keep",
					(json_int_t)s->keep_firing_for_ns));
}

static void tick_rules(void *ctx, int64_t now_ns, const struct alert_sink *sink)
{
	rules_tick(ctx, now_ns, sink);
}

static const char RULE[] = "[{\"name\":\"Backlog\",\"expr\":\"queue_depth > 10\",\"for\":\"2s\","
			   "\"keep_firing_for\":\"1m\",\"severity\":\"page\",\"labels\":{\"team\":\"pay\"},"
			   "\"annotations\":{\"summary\":\"backlog {{ $value }} on {{ $labels.job }}\"}}]";

static struct rules *make_rules(void)
{
	struct rules *r;
	struct buf err = BUF_INIT;
	assert_int_equal(rules_create(NULL, NULL, &r, &err), 0);
	rules_set_source(r, &slow_source);
	assert_int_equal(rules_configure(r, RULE, true, &err), 0);
	buf_release(&err);
	return r;
}

/* ---- tests -------------------------------------------------------------- */

/* ---- event-driven ticks: a poke, and the hook after an evaluation ------- */

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int ticks, hooks;
} seen = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0 };

static void seen_tick(void *ctx, int64_t now_ns, const struct alert_sink *sink)
{
	(void)ctx;
	(void)now_ns;
	(void)sink;
	pthread_mutex_lock(&seen.mu);
	seen.ticks++;
	pthread_cond_broadcast(&seen.cv);
	pthread_mutex_unlock(&seen.mu);
}

/* Waits (at most 30 s, a guard, not a timing) until seen.ticks reaches n; the count. */
static int seen_wait_ticks(int n)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 30;
	pthread_mutex_lock(&seen.mu);
	int rc = 0;
	while (seen.ticks < n && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&seen.cv, &seen.mu, &until);
	int got = seen.ticks;
	pthread_mutex_unlock(&seen.mu);
	return got;
}

/* An engine whose period is an hour ticks again on a poke: event-driven, not on the grid. */
static void test_engine_poke(void **state)
{
	(void)state;
	/* the poked tick comes a gap after the last tick ended, never later than the scheduled one */
	assert_int_equal(engine_poke_wake_ns(1000 * MS, 800 * MS), 800 * MS + ENGINE_POKE_GAP_NS);
	assert_int_equal(engine_poke_wake_ns(810 * MS, 800 * MS), 810 * MS);
	assert_int_equal(engine_poke_wake_ns(1000 * MS, 0), ENGINE_POKE_GAP_NS); /* long past: at once */

	seen.ticks = 0;
	struct buf err = BUF_INIT;
	struct engine *e;
	assert_int_equal(engine_create(NULL, 3600 * OODA_NS_PER_SEC, &e, &err), 0);
	assert_int_equal(engine_add(e, seen_tick, NULL), 0);
	assert_int_equal(engine_start(e, &err), 0);
	assert_int_equal(seen_wait_ticks(1), 1); /* the first tick comes at start */
	engine_poke(e);
	assert_int_equal(seen_wait_ticks(2), 2); /* the next periodic one is an hour away */
	assert_int_equal(engine_poked_ticks(e), 1);
	engine_poke(e);
	engine_poke(e); /* pokes before the tick share it */
	assert_true(seen_wait_ticks(3) >= 3);
	engine_destroy(e);
	assert_true(seen.ticks <= 4);
	engine_poke(NULL); /* a no-op */
	buf_release(&err);
}

static void count_hook(void *ctx)
{
	(void)ctx;
	pthread_mutex_lock(&seen.mu);
	seen.hooks++;
	pthread_mutex_unlock(&seen.mu);
}

/* An evaluation that found something calls the hook (the daemon pokes the engine with it); one that found nothing does not. */
static void test_rules_on_signals(void **state)
{
	(void)state;
	gate_reset(false);
	received = json_array();
	struct alert_sink sink = { record, NULL };
	struct rules *r = make_rules();
	struct buf err = BUF_INIT;
	assert_int_equal(rules_start(r, &err), 0);
	seen.hooks = 0;
	rules_on_signals(r, count_hook, NULL);
	g.value = 50;
	rules_tick(r, T0, &sink); /* queue_depth 50 > 10: an active signal */
	rules_wait(r);
	pthread_mutex_lock(&seen.mu);
	assert_int_equal(seen.hooks, 1);
	pthread_mutex_unlock(&seen.mu);
	rules_tick(r, T0 + 250 * MS, &sink); /* delivers it; the interval has not passed: no evaluation */
	rules_wait(r);
	assert_int_equal(json_array_size(received), 1);
	pthread_mutex_lock(&seen.mu);
	assert_int_equal(seen.hooks, 1);
	pthread_mutex_unlock(&seen.mu);
	rules_destroy(r);
	json_decref(received);
	buf_release(&err);
}


static void test_rules_off_engine(void **state)
{
	(void)state;
	/* what an inline evaluation sends, to compare with */
	gate_reset(false);
	received = json_array();
	struct alert_sink sink = { record, NULL };
	struct rules *inl = make_rules();
	rules_tick(inl, T0, &sink);
	rules_destroy(inl);
	json_t *want = received;
	assert_int_equal(json_array_size(want), 1);

	gate_reset(true);
	received = json_array();
	later_ticks = 0;
	struct rules *r = make_rules();
	struct buf err = BUF_INIT;
	assert_int_equal(rules_start(r, &err), 0);
	struct engine *e;
	assert_int_equal(engine_create(&sink, 0, &e, &err), 0);
	assert_int_equal(engine_add(e, tick_rules, r), 0);
	assert_int_equal(engine_add(e, count_tick, NULL), 0);

	engine_tick_once(e, T0); /* hands the evaluation over */
	assert_int_equal(later_ticks, 1);
	assert_true(gate_wait_entered()); /* the evaluation now waits on the "store" */
	engine_tick_once(e, T0 + 250 * MS);
	engine_tick_once(e, T0 + 500 * MS);
	assert_int_equal(later_ticks, 3); /* the engine went on meanwhile */
	pthread_mutex_lock(&g.mu);
	bool timed_out = g.timed_out, open = g.open;
	int entered = g.entered;
	pthread_mutex_unlock(&g.mu);
	assert_false(timed_out);
	assert_false(open);
	assert_int_equal(entered, 1); /* and handed over nothing more while it ran */
	assert_int_equal(json_array_size(received), 0);

	gate_open();
	rules_wait(r);
	engine_tick_once(e, T0 + 750 * MS); /* delivers what the evaluation found */
	assert_int_equal(later_ticks, 4);
	assert_true(json_equal(received, want)); /* exactly what an inline evaluation sends, at_ns T0 */
	json_t *ev = json_object_get(json_array_get(received, 0), "evidence");
	assert_true(json_real_value(json_object_get(ev, "value")) == 50.0);
	assert_string_equal(json_string_value(json_object_get(ev, "rule")), "Backlog");

	/* a rule removed by a reload is reported inactive through the worker too */
	json_array_clear(received);
	assert_int_equal(rules_configure(r, "[]", true, &err), 0);
	engine_tick_once(e, T0 + 1000 * MS);
	rules_wait(r);
	engine_tick_once(e, T0 + 1250 * MS);
	assert_int_equal(json_array_size(received), 1);
	json_t *sig = json_array_get(received, 0);
	assert_string_equal(json_string_value(json_object_get(sig, "name")), "Backlog");
	assert_false(json_is_true(json_object_get(sig, "active")));

	engine_destroy(e);
	rules_destroy(r);
	json_decref(want);
	json_decref(received);
	buf_release(&err);
}

static void test_watches_off_engine(void **state)
{
	(void)state;
	gate_reset(true);
	received = json_array();
	later_ticks = 0;
	struct alert_sink sink = { record, NULL };
	struct watches *w;
	struct buf err = BUF_INIT;
	assert_int_equal(watches_create(NULL, NULL, &w, &err), 0);
	watches_set_source(w, &slow_source);
	assert_int_equal(watches_configure(w, "[{\"name\":\"q\",\"expr\":\"queue_depth\",\"interval\":\"1s\"}]", true,
					   &err),
			 0);
	assert_int_equal(watches_start(w, &err), 0);
	struct engine *e;
	assert_int_equal(engine_create(&sink, 0, &e, &err), 0);
	assert_int_equal(engine_add(e, watches_tick, w), 0);
	assert_int_equal(engine_add(e, count_tick, NULL), 0);

	engine_tick_once(e, T0);
	assert_true(gate_wait_entered());
	engine_tick_once(e, T0 + 250 * MS);
	assert_int_equal(later_ticks, 2);
	pthread_mutex_lock(&g.mu);
	bool timed_out = g.timed_out;
	pthread_mutex_unlock(&g.mu);
	assert_false(timed_out);
	assert_int_equal(json_array_size(received), 0);

	gate_open();
	watches_wait(w);
	engine_tick_once(e, T0 + 500 * MS);
	assert_int_equal(json_array_size(received), 1);
	json_t *sig = json_array_get(received, 0);
	assert_string_equal(json_string_value(json_object_get(sig, "name")), "anomaly:q");
	assert_string_equal(json_string_value(json_object_get(sig, "source")), "anomaly");
	assert_true(json_integer_value(json_object_get(sig, "at")) == T0);
	assert_true(json_real_value(json_object_get(json_object_get(sig, "evidence"), "value")) == 50.0);
	/* the learned state is where the API reads it */
	struct buf out = BUF_INIT;
	watches_json(w, &out);
	assert_non_null(strstr(out.data, "\"value\":50"));
	buf_release(&out);

	engine_destroy(e);
	watches_destroy(w);
	json_decref(received);
	buf_release(&err);
}

/* Stopping while an evaluation runs, with signals not yet delivered. */
static void test_stop_mid_evaluation(void **state)
{
	(void)state;
	gate_reset(true);
	received = json_array();
	struct alert_sink sink = { record, NULL };
	struct buf err = BUF_INIT;
	struct rules *r = make_rules();
	assert_int_equal(rules_start(r, &err), 0);
	rules_tick(r, T0, &sink);
	assert_true(gate_wait_entered());
	gate_open();
	rules_destroy(r); /* joins the worker; what it found is dropped */
	assert_int_equal(json_array_size(received), 0);

	/* a worker that was never handed anything stops too */
	struct evalworker *w;
	assert_int_equal(evalworker_create("idle", rules_evaluate, NULL, &w, &err), 0);
	evalworker_wait_idle(w);
	evalworker_destroy(w);
	evalworker_destroy(NULL);
	json_decref(received);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules_off_engine),
		cmocka_unit_test(test_watches_off_engine),
		cmocka_unit_test(test_stop_mid_evaluation),
		cmocka_unit_test(test_engine_poke),
		cmocka_unit_test(test_rules_on_signals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
