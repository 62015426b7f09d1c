/*
 * Unit tests for the RED anomaly watch (src/detect/redwatch.c): when a
 * scored slot raises the signal (redwatch_harmful: confident, in the
 * metric's harmful direction, and past the expected band on that side),
 * and the watch on a live view fed with server spans: traffic that falls
 * to a tenth raises `anomaly:SERVICE/request_rate`, a traffic spike that
 * ends does not. The live view runs on a fake clock.
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
	int rate_active;
	int64_t first_at;
};

static void record(void *ctx, const struct alert_signal *s)
{
	struct seen *r = ctx;
	if (s->active && !strcmp(s->name, "anomaly:api/request_rate") && !r->rate_active++)
		r->first_at = s->at_ns;
}

/* Publishes one 10 s slot of api's server spans (n of them, spread over it) ending before `end`. */
static void publish_slot(struct live_signals *live, int64_t end, int n, uint64_t *id)
{
	publish_server_spans(live, "api", "GET /", n, 0, end - 1, 10 * SEC / (n + 1), 5, id);
}

/*
 * Runs `healthy` slots of about 200 requests (±10 %), then the given slots'
 * multipliers, then 30 healthy slots, ticking the watch after each; returns
 * what it signalled.
 */
static struct seen run_watch(int healthy, const double *mult, int n_mult)
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
	int total = healthy + n_mult + 30;
	for (int s = 0; s < total; s++) {
		double m = s >= healthy && s < healthy + n_mult ? mult[s - healthy] : 1;
		fake_now += 10 * SEC;
		publish_slot(live, fake_now, (int)(200 * m * (0.9 + 0.2 * uniform())), &id);
		redwatch_tick(w, fake_now + SEC, &sink);
	}
	redwatch_destroy(w);
	live_destroy(live);
	buf_release(&err);
	return r;
}

static void test_traffic_down_fires_a_spike_that_ends_does_not(void **state)
{
	(void)state;
	double drop[10];
	for (int i = 0; i < 10; i++)
		drop[i] = 0.1;
	struct seen r = run_watch(250, drop, 10);
	assert_true(r.rate_active > 0);
	double spike[6] = { 5, 5, 5, 5, 5, 5 };
	r = run_watch(250, spike, 6);
	assert_int_equal(r.rate_active, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_harmful),
		cmocka_unit_test(test_traffic_down_fires_a_spike_that_ends_does_not),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
