/*
 * Unit tests for the RED anomaly watch (src/detect/redwatch.c): when a
 * scored slot raises the signal (redwatch_harmful: confident, in the
 * metric's harmful direction, and past the expected band on that side),
 * and the watch on a live view fed with server spans a second at a time:
 * traffic that falls to a tenth raises `anomaly:SERVICE/request_rate`, a
 * traffic spike that ends does not; a 2-second burst of failures is held
 * back by the blip guard where failures that last raise
 * `anomaly:SERVICE/error_ratio`; and the guard's factor on fine slots. The
 * live view runs on a fake clock.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <math.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "core/arena.h"
#include "core/time.h"
#include "detect/redfast.h"
#include "detect/redwatch.h"
#include "model/live.h"
#include "model/record.h"
#include "server_spans.h"

#define SEC OODA_NS_PER_SEC
#define T0 (INT64_C(1795600800) * SEC)

static void test_harmful(void **state)
{
	(void)state;
	struct anomaly_result r = { .score = 0.999, .direction = -1, .baseline = 24, .expected_lo = 15,
				    .expected_hi = 33, .detector = "variability" };
	/* traffic down: below the band, confident */
	assert_true(redwatch_harmful(&r, 3, -1, 0.99));
	/* back inside the band: an ordinary value, whatever the score (a spike that ended) */
	assert_false(redwatch_harmful(&r, 19.7, -1, 0.99));
	assert_false(redwatch_harmful(&r, 15, -1, 0.99));
	/* not confident, warming up, or the other direction */
	r.score = 0.98;
	assert_false(redwatch_harmful(&r, 3, -1, 0.99));
	r.score = 0.999;
	r.warming_up = true;
	assert_false(redwatch_harmful(&r, 3, -1, 0.99));
	r.warming_up = false;
	assert_false(redwatch_harmful(&r, 3, +1, 0.99));
	/* errors up: above the band */
	struct anomaly_result e = { .score = 0.995, .direction = +1, .baseline = 0.01, .expected_lo = 0,
				    .expected_hi = 0.02, .detector = "density" };
	assert_true(redwatch_harmful(&e, 0.2, +1, 0.99));
	assert_false(redwatch_harmful(&e, 0.015, +1, 0.99));
	/* no band to compare with: the score and direction decide */
	e.expected_hi = NAN;
	assert_true(redwatch_harmful(&e, 0.015, +1, 0.99));
}

/* ---- on a live view ---- */

static int64_t fake_now;
static int64_t fake_clock(void *ctx)
{
	(void)ctx;
	return fake_now;
}

static uint64_t rng = 12345;
static double uniform(void)
{
	rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)(rng >> 11) / 9007199254740992.0;
}

struct seen {
	int rate_active, err_active;
	int err_guarded; /* error-ratio slots past the band, confident, held back as a blip */
	int64_t first_at;
};

static void record(void *ctx, const struct alert_signal *s)
{
	struct seen *r = ctx;
	if (s->active && !strcmp(s->name, "anomaly:api/request_rate") && !r->rate_active++)
		r->first_at = s->at_ns;
	if (!strcmp(s->name, "anomaly:api/error_ratio")) {
		if (s->active)
			r->err_active++;
		double v = json_real_value(json_object_get(s->evidence, "value"));
		double hi = json_real_value(json_object_get(s->evidence, "expected_hi"));
		double score = json_real_value(json_object_get(s->evidence, "score"));
		bool warming = json_is_true(json_object_get(s->evidence, "warming_up"));
		if (!s->active && !warming && score >= 0.99 && v > hi)
			r->err_guarded++;
	}
}

/* How many of n requests fail at ratio p (a binomial draw). */
static int failures(int n, double p)
{
	int k = 0;
	for (int i = 0; i < n; i++)
		k += uniform() < p;
	return k;
}

/*
 * Runs `healthy` seconds of api's traffic (about 20 requests a second,
 * ±10 %, 1 % failing), then the given seconds' traffic multipliers and
 * error ratios, then 300 healthy seconds: one batch of server spans a
 * second, as an SDK exports, and a tick of the watch after each; returns
 * what it signalled.
 */
/* A live view on the fake clock, set to T0, and a watch on it. */
static struct live_signals *watch_open(struct redwatch **w)
{
	struct live_config lc = { .clock = fake_clock };
	struct live_signals *live = NULL;
	struct buf err = BUF_INIT;
	fake_now = T0;
	assert_int_equal(live_create(&lc, &live, &err), 0);
	buf_release(&err);
	assert_int_equal(redwatch_create(live, NULL, w), 0);
	return live;
}

static struct seen run_watch(int healthy, const double *mult, const double *err_ratio, int n_fault)
{
	struct redwatch *w = NULL;
	struct live_signals *live = watch_open(&w);
	struct seen r = { 0 };
	struct alert_sink sink = { record, &r };
	uint64_t id = 0;
	int total = healthy + n_fault + 300;
	for (int s = 0; s < total; s++) {
		bool fault = s >= healthy && s < healthy + n_fault;
		double m = fault ? mult[s - healthy] : 1, p = fault ? err_ratio[s - healthy] : 0.01;
		int n = (int)(20 * m * (0.9 + 0.2 * uniform()));
		fake_now += SEC;
		if (n > 0)
			publish_server_spans(live, "api", "GET /", n, failures(n, p), fake_now - 1, SEC / (n + 1), 5, &id);
		redwatch_tick(w, fake_now + SEC / 10, &sink);
	}
	redwatch_destroy(w);
	live_destroy(live);
	return r;
}

/* The watch learns for 150 slots: 1,500 s; faults start 5 s into a slot. */
#define LEARNT 1605

static void test_traffic_down_fires_a_spike_that_ends_does_not(void **state)
{
	(void)state;
	double drop[100], spike[60], ok[100];
	for (int i = 0; i < 100; i++) {
		drop[i] = 0.1;
		ok[i] = 0.01;
	}
	for (int i = 0; i < 60; i++)
		spike[i] = 5;
	struct seen r = run_watch(LEARNT, drop, ok, 100);
	assert_true(r.rate_active > 0);
	r = run_watch(LEARNT, spike, ok, 60);
	assert_int_equal(r.rate_active, 0);
}

/*
 * A 2-second burst of failures (a quarter of the requests) carries its slot's
 * error ratio past the band, confidently: the guard holds it back. The same
 * failures lasting a minute raise the signal.
 */
static void test_error_blip_held_back_lasting_errors_fire(void **state)
{
	(void)state;
	double one[60], bad[60];
	for (int i = 0; i < 60; i++) {
		one[i] = 1;
		bad[i] = 0.25;
	}
	struct seen r = run_watch(LEARNT, one, bad, 2);
	assert_int_equal(r.err_active, 0);
	assert_true(r.err_guarded > 0); /* without the guard, this slot raised the signal */
	r = run_watch(LEARNT, one, bad, 60);
	assert_true(r.err_active > 0);
}

/* ---- a slowdown the whole system shared (redfast.h) ---- */

struct p99_seen {
	int active[3], held[3]; /* x, y, db: p99 signals sent active, and held back by the shared signal */
};

static void record_p99(void *ctx, const struct alert_signal *s)
{
	struct p99_seen *r = ctx;
	const char *const names[3] = { "anomaly:x/p99_ms", "anomaly:y/p99_ms", "anomaly:db/p99_ms" };
	for (int i = 0; i < 3; i++) {
		if (strcmp(s->name, names[i]))
			continue;
		r->active[i] += s->active;
		const char *by = json_string_value(json_object_get(s->evidence, "held_by"));
		if (by) {
			assert_false(s->active);
			assert_string_equal(by, REDFAST_SHARED_NAME);
			r->held[i]++;
		}
	}
}

/*
 * x and y each call db, 20 requests a second each (durations ±5 %), learnt
 * for LEARNT seconds, then 60 s with x, y and db taking x_ms, x_ms and db_ms,
 * then 60 healthy seconds; the RED detector and the watch tick on the same
 * live view, the watch following the detector's shared slowdowns or not.
 */
static struct p99_seen run_chain(double x_ms, double db_ms, bool follow)
{
	struct redwatch *w = NULL;
	struct live_signals *live = watch_open(&w);
	struct redfast *f = NULL;
	assert_int_equal(redfast_create(live, NULL, &f), 0);
	if (follow)
		redwatch_follow_shared(w, f);
	struct p99_seen r = { 0 }, ignored = { 0 };
	struct alert_sink sink = { record_p99, &r }, none = { record_p99, &ignored };
	uint64_t id = 0;
	for (int s = 0; s < LEARNT + 120; s++) {
		bool fault = s >= LEARNT && s < LEARNT + 60;
		double j = 0.95 + 0.1 * uniform();
		fake_now += SEC;
		publish_parts(live, "x", "db", 20, (fault ? x_ms : 8) * j, (fault ? db_ms : 3) * j, true, fake_now,
			      BOTH_PARTS, &id);
		publish_parts(live, "y", "db", 20, (fault ? x_ms : 8) * j, (fault ? db_ms : 3) * j, true, fake_now,
			      BOTH_PARTS, &id);
		redfast_tick(f, fake_now + SEC / 8, &none);
		redwatch_tick(w, fake_now + SEC / 8, &sink);
	}
	redwatch_destroy(w);
	redfast_destroy(f);
	live_destroy(live);
	return r;
}

/*
 * The machine slows every service in the chain (each one's own time up, as
 * in tests/unit/redfast.c): the detector names a shared slowdown, and the
 * watch's p99 signals of those slots are held back with it, where, not
 * following the detector, they are sent. A slow database (its callers' own
 * time as ever) is its own fault: its p99 is sent either way.
 */
static void test_shared_slowdown_holds_p99(void **state)
{
	(void)state;
	struct p99_seen alone = run_chain(20, 9, false), held = run_chain(20, 9, true);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(alone.held[i], 0);
		assert_int_equal(held.active[i], 0);
	}
	assert_true(alone.active[0] + alone.active[1] + alone.active[2] > 0); /* without the hold, sent */
	assert_true(held.held[0] + held.held[1] + held.held[2] > 0);
	struct p99_seen db = run_chain(35, 30, true);
	assert_true(db.active[2] > 0);
	assert_int_equal(db.held[0] + db.held[1] + db.held[2], 0);
}

/* The blip factor on fine slots alone. */
static void test_blip_factor(void **state)
{
	(void)state;
	enum { N = 40, W = 10 };
	double req[N], err[N], b[N][LIVE_N_BOUNDS + 1];
	memset(b, 0, sizeof(b));
	for (int i = 0; i < N; i++) {
		req[i] = 5;
		err[i] = i >= 17 && i < 25 ? 2 : 0; /* a burst of 8 slots */
		b[i][3] = i >= 17 && i < 25 ? 0 : 5; /* and those slots slow */
		b[i][20] = i >= 17 && i < 25 ? 5 : 0;
	}
	/* errors and latency confined to one stretch: nothing left without it */
	assert_true(redwatch_blip_factor(1, req, err, (const double (*)[LIVE_N_BOUNDS + 1])b, N, W) == 0);
	double f = redwatch_blip_factor(2, req, err, (const double (*)[LIVE_N_BOUNDS + 1])b, N, W);
	assert_true(f < 0.5);
	/* the same errors spread evenly: removing a stretch changes nothing */
	for (int i = 0; i < N; i++)
		err[i] = 0.4;
	assert_true(fabs(redwatch_blip_factor(1, req, err, (const double (*)[LIVE_N_BOUNDS + 1])b, N, W) - 1) < 1e-9);
	/* traffic gone for 2 s: the rest is back at 5 a slot */
	for (int i = 0; i < N; i++)
		req[i] = i >= 10 && i < 18 ? 0 : 5;
	f = redwatch_blip_factor(0, req, err, (const double (*)[LIVE_N_BOUNDS + 1])b, N, W);
	assert_true(fabs(f * (5.0 * 32 / 40) - 5) < 1e-9);
	/* traffic in one burst shorter than a blip: nothing to tell a blip from a fault by, the value stands */
	for (int i = 0; i < N; i++) {
		req[i] = i >= 5 && i < 12 ? 6 : 0;
		err[i] = i >= 5 && i < 12 ? 3 : 0;
	}
	assert_true(redwatch_blip_factor(1, req, err, (const double (*)[LIVE_N_BOUNDS + 1])b, N, W) == 1);
	/* nothing to remove */
	assert_true(redwatch_blip_factor(1, req, err, (const double (*)[LIVE_N_BOUNDS + 1])b, W, W) == 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_harmful),
		cmocka_unit_test(test_traffic_down_fires_a_spike_that_ends_does_not),
		cmocka_unit_test(test_error_blip_held_back_lasting_errors_fire),
		cmocka_unit_test(test_blip_factor),
		cmocka_unit_test(test_shared_slowdown_holds_p99),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
