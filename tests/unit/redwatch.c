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
static struct seen run_watch(int healthy, const double *mult, const double *err_ratio, int n_fault)
{
	struct live_config lc = { .clock = fake_clock };
	struct live_signals *live = NULL;
	struct buf err = BUF_INIT;
	fake_now = T0;
	assert_int_equal(live_create(&lc, &live, &err), 0);
	struct redwatch *w = NULL;
	assert_int_equal(redwatch_create(live, NULL, &w), 0);
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
	buf_release(&err);
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
