/*
 * Unit tests for the fast RED change detector (src/detect/redfast.c): the
 * count test on generated one-second slots — a step in errors fires once it
 * has held, a blip shorter than the hold never does (however strong), steady
 * jitter at the baseline and a rise in traffic alone never do, a fault that
 * ends clears —, the latency test on generated duration histograms (a slow
 * dependency and a leak's creep fire once held; a blip, a few percent of
 * slowdown and more traffic never do; a fault never teaches the learnt p99),
 * and the driver on a live view fed with server spans, whose signals name the
 * service and carry their evidence. Slots are drawn with a
 * small deterministic PRNG; the live view runs on a fake clock.
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
#include "core/buf.h"
#include "core/time.h"
#include "detect/redfast.h"
#include "model/live.h"
#include "model/record.h"
#include "server_spans.h"

#define SEC OODA_NS_PER_SEC
#define T0 (INT64_C(1795600800) * SEC)

/*
 * The count and latency tests' cases below are written in one-second slots
 * with a hold of four (what a 2 s blip touches, and one more): the test's
 * mechanics do not depend on the slot's width. The driver's cases and
 * test_quarter_slots run the defaults (250 ms slots of span time).
 */
#define ONE_SECOND { .slot_ns = SEC, .hold_slots = 4 }

static uint64_t rng_state;

static double uniform(void)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)(rng_state >> 11) / 9007199254740992.0;
}

/* Errors among n requests that each fail with probability p. */
static double draw(double n, double p)
{
	double k = 0;
	for (int i = 0; i < (int)n; i++)
		k += uniform() < p;
	return k;
}

/* One phase of a generated series: `slots` slots of `rps` requests failing with probability `p`. */
struct phase {
	int slots;
	double rps, p;
};

/*
 * Runs the phases through a fresh test; returns the slot (counted from 0)
 * at which the signal first turned active, -1 if never. *active_at_end
 * receives the state after the last slot.
 */
static int run_phases(const struct phase *ph, size_t n, uint64_t seed, bool *active_at_end)
{
	struct redfast_config c = ONE_SECOND;
	struct redfast_test t = { 0 };
	rng_state = seed;
	int slot = 0, first = -1;
	bool active = false;
	for (size_t i = 0; i < n; i++)
		for (int s = 0; s < ph[i].slots; s++, slot++) {
			double req = ph[i].rps;
			active = redfast_test_update(&t, &c, req, draw(req, ph[i].p));
			if (active && first < 0)
				first = slot;
		}
	if (active_at_end)
		*active_at_end = active;
	return first;
}

/* 60 healthy slots first (the warm-up is 30): every case starts from a learnt baseline. */
#define HEALTHY(rps, p) { 60, rps, p }

static void test_step_fires_after_the_hold(void **state)
{
	(void)state;
	static const struct {
		double rps, base, fault;
		int latest; /* slots after the step by which it must fire */
	} cases[] = {
		{ 50, 0.0, 0.30, 4 },  /* the brief's example: decisive at once, fires when the hold ends */
		{ 20, 0.0, 0.30, 6 },  /* the drills' rate */
		{ 20, 0.0, 0.10, 12 }, /* the smallest bad deploy at the drills' rate */
		/* a service with errors of its own: a chance error just before the step starts
		   the run a slot early, which the blip rule then waits one slot more for */
		{ 50, 0.005, 0.20, 5 },
		{ 200, 0.02, 0.10, 5 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (uint64_t seed = 1; seed <= 20; seed++) {
			struct phase ph[] = { HEALTHY(cases[i].rps, cases[i].base), { 30, cases[i].rps, cases[i].fault } };
			int first = run_phases(ph, 2, seed, NULL);
			assert_true(first >= 60 + 3); /* not before the step has lasted 4 slots */
			if (first > 60 + cases[i].latest - 1)
				fail_msg("case %zu seed %llu fired %d slots after the step", i, (unsigned long long)seed,
					 first - 60 + 1);
		}
}

static void test_blip_shorter_than_the_hold_does_not_fire(void **state)
{
	(void)state;
	static const struct {
		double rps, base, blip;
		int slots;
	} cases[] = {
		{ 20, 0.0, 0.05, 3 },   /* the noise scenario: 5 % for 2 s, touching three slots */
		{ 50, 0.0, 0.05, 3 },
		{ 20, 0.0, 0.60, 3 },   /* strong, but over before the hold ends */
		{ 50, 0.002, 1.00, 3 }, /* every request failing for three slots */
		{ 20, 0.002, 0.50, 2 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (uint64_t seed = 1; seed <= 50; seed++) {
			struct phase ph[] = { HEALTHY(cases[i].rps, cases[i].base),
					      { cases[i].slots, cases[i].rps, cases[i].blip },
					      { 60, cases[i].rps, cases[i].base } };
			if (run_phases(ph, 3, seed, NULL) >= 0)
				fail_msg("case %zu seed %llu: a blip fired", i, (unsigned long long)seed);
		}
}

static void test_jitter_and_traffic_rise_never_fire(void **state)
{
	(void)state;
	static const struct {
		double rps, base, rise; /* rise: the traffic multiplier after the healthy part */
	} cases[] = {
		{ 20, 0.005, 1 },  /* 0.5 % jitter */
		{ 50, 0.005, 1 },
		{ 500, 0.005, 1 }, /* a busy service: a tiny excess would be significant, not material */
		{ 20, 0.005, 5 },  /* the traffic spike: five times the load, the same error ratio */
		{ 50, 0.02, 5 },
		{ 2, 0.0, 1 },     /* an idle service */
		{ 20, 0.05, 1 },   /* failing 5 % from the start: that is its baseline, learnt in the warm-up */
		{ 200, 0.10, 1 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (uint64_t seed = 1; seed <= 10; seed++) {
			struct phase ph[] = { HEALTHY(cases[i].rps, cases[i].base),
					      { 3600, cases[i].rps * cases[i].rise, cases[i].base } };
			if (run_phases(ph, 2, seed, NULL) >= 0)
				fail_msg("case %zu seed %llu fired", i, (unsigned long long)seed);
		}
}

static void test_clears_when_the_fault_ends(void **state)
{
	(void)state;
	struct phase ph[] = { HEALTHY(20, 0), { 20, 20, 0.3 }, { 20, 20, 0 } };
	bool active = true;
	int first = run_phases(ph, 3, 7, &active);
	assert_true(first >= 0);
	assert_false(active);
	/* and fires again when the next fault comes */
	struct phase again[] = { HEALTHY(20, 0), { 20, 20, 0.3 }, { 20, 20, 0 }, { 20, 20, 0.3 } };
	assert_true(run_phases(again, 4, 7, &active) >= 0);
	assert_true(active);
}

static void test_a_fault_never_teaches_the_baseline(void **state)
{
	(void)state;
	struct redfast_config c = ONE_SECOND;
	struct redfast_test t = { 0 };
	rng_state = 3;
	for (int i = 0; i < 120; i++)
		redfast_test_update(&t, &c, 25, draw(25, 0.001));
	double before = redfast_test_baseline(&t);
	/* a 28 % fault for 8 slots, then healthy until it clears and a while after */
	bool fired = false;
	for (int i = 0; i < 8; i++)
		fired |= redfast_test_update(&t, &c, 25, 7);
	for (int i = 0; i < 20; i++)
		redfast_test_update(&t, &c, 25, 0);
	assert_true(fired);
	assert_false(t.active);
	/* the fault's 56 errors in 200 requests would have put it past 0.5 % */
	assert_true(redfast_test_baseline(&t) <= before + 0.0005);
}

static void test_warm_up_and_empty_slots(void **state)
{
	(void)state;
	struct redfast_config c = ONE_SECOND;
	struct redfast_test t = { 0 };
	/* failing from the start: nothing is known of the service yet, so nothing fires during the warm-up */
	for (int i = 0; i < 30; i++)
		assert_false(redfast_test_update(&t, &c, 20, 10));
	/* a slot without requests changes nothing; bad counts are clamped */
	struct redfast_test before = t;
	assert_false(redfast_test_update(&t, &c, 0, 5));
	assert_memory_equal(&before, &t, sizeof(t));
	redfast_test_update(&t, &c, 10, 50);
	assert_true(t.k == 10);
}

/* ---- the defaults: 250 ms slots of span time ---- */

/*
 * Feeds `seconds` of a service at rps to t in default slots: each request
 * ends at a uniform time in its slot and fails with probability p_in when
 * it ends in [from_s, to_s), else p_out. Returns the time (s, the end of the
 * slot) at which the signal first turned active, or -1.
 */
static double run_quarters(struct redfast_test *t, double *clock_s, double seconds, double rps, double p_out,
			   double p_in, double from_s, double to_s)
{
	struct redfast_config c = { 0 };
	redfast_config_defaults(&c);
	double w = (double)c.slot_ns / 1e9, first = -1;
	for (double end = *clock_s + seconds; *clock_s < end - 1e-9; *clock_s += w) {
		double n = 0, k = 0;
		/* Poisson arrivals: exponential gaps inside the slot */
		for (double at = *clock_s - log(uniform() + 1e-12) / rps; at < *clock_s + w;
		     at -= log(uniform() + 1e-12) / rps) {
			n++;
			k += uniform() < (at >= from_s && at < to_s ? p_in : p_out);
		}
		bool on = n > 0 ? redfast_test_update(t, &c, n, k) : redfast_test_idle(t, &c);
		if (on && first < 0)
			first = *clock_s + w;
	}
	return first;
}

static void test_quarter_slots(void **state)
{
	(void)state;
	struct redfast_config c = { 0 };
	redfast_config_defaults(&c);
	assert_int_equal(c.slot_ns, LIVE_FINE_NS);
	assert_int_equal(c.hold_slots, 11);   /* 2 s: 8 slots, 1 for its phase, 1 for requests in flight, then 1 */
	assert_int_equal(c.warmup_slots, 120); /* 30 s */
	assert_true(fabs(c.half_life_slots - 1200) < 1e-9);
	/* a 2 s blip, at any phase, lasting up to 100 ms more for the requests in flight, never fires */
	static const struct {
		double rps, p;
	} blips[] = { { 20, 0.05 }, { 20, 0.6 }, { 50, 1.0 }, { 200, 1.0 }, { 1000, 1.0 } };
	for (size_t i = 0; i < sizeof(blips) / sizeof(blips[0]); i++)
		for (uint64_t seed = 1; seed <= 40; seed++) {
			rng_state = seed;
			struct redfast_test t = { 0 };
			double clock = 0;
			run_quarters(&t, &clock, 60, blips[i].rps, 0.002, 0.002, 0, 0);
			double from = clock + 0.25 * uniform();
			if (run_quarters(&t, &clock, 30, blips[i].rps, 0.002, blips[i].p, from, from + 2.1) >= 0)
				fail_msg("blip %zu seed %llu fired", i, (unsigned long long)seed);
		}
	/* a step fires once the hold has passed (2.75 s of the fault's slots at least), and soon after */
	static const struct {
		double rps, p, latest_s;
	} steps[] = { { 20, 0.3, 6 }, { 20, 0.2, 6 }, { 50, 0.1, 6 }, { 2, 1.0, 8 } };
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		for (uint64_t seed = 1; seed <= 20; seed++) {
			rng_state = seed;
			struct redfast_test t = { 0 };
			double clock = 0;
			run_quarters(&t, &clock, 90, steps[i].rps, 0.002, 0.002, 0, 0); /* 2 rps: 120 slots with requests */
			double from = clock + 0.25 * uniform();
			double fired = run_quarters(&t, &clock, 30, steps[i].rps, 0.002, steps[i].p, from, 1e9);
			if (fired < from + 2.5 || fired > from + steps[i].latest_s)
				fail_msg("step %zu seed %llu fired %.2f s after it began", i, (unsigned long long)seed,
					 fired - from);
		}
	/* an empty slot lengthens a run in progress and nothing else */
	struct redfast_test t = { 0 };
	for (int i = 0; i < 200; i++)
		redfast_test_update(&t, &c, 5, 0);
	assert_false(redfast_test_idle(&t, &c)); /* no run: nothing */
	assert_int_equal(t.run, 0);
	redfast_test_update(&t, &c, 5, 5);
	uint32_t run = t.run;
	double s_before = t.s, sum = t.run_sum;
	assert_false(redfast_test_idle(&t, &c));
	assert_int_equal(t.run, run + 1);
	assert_true(t.s == s_before && t.run_sum == sum);
}

/* ---- the latency test ---- */

/* One slot's buckets: n requests taking base_ms * U(0.7, 1.3) * mult + add_ms each. */
static void draw_slot(double *b, int n, double base_ms, double mult, double add_ms)
{
	size_t nb;
	const double *bounds = live_bounds_seconds(&nb);
	memset(b, 0, sizeof(double) * REDFAST_NB);
	for (int i = 0; i < n; i++) {
		double d = (base_ms * (0.7 + 0.6 * uniform()) * mult + add_ms) / 1e3;
		size_t j = 0;
		while (j < nb && d > bounds[j])
			j++;
		b[j]++;
	}
}

/* A latency phase: `slots` slots of `rps` requests at base_ms * mult + add_ms; add_step_ms more each slot. */
struct lphase {
	int slots;
	double rps, mult, add_ms, add_step_ms;
};

/* As run_phases, for the latency test of a service whose requests take base_ms; l may be NULL. */
static int run_latency(const struct lphase *ph, size_t n, double base_ms, uint64_t seed, struct redfast_latency *l)
{
	struct redfast_config c = ONE_SECOND;
	static struct redfast_latency mine;
	if (!l)
		l = &mine;
	memset(l, 0, sizeof(*l));
	rng_state = seed;
	int slot = 0, first = -1;
	double b[REDFAST_NB];
	for (size_t i = 0; i < n; i++)
		for (int s = 0; s < ph[i].slots; s++, slot++) {
			draw_slot(b, (int)ph[i].rps, base_ms, ph[i].mult, ph[i].add_ms + s * ph[i].add_step_ms);
			if (redfast_latency_update(l, &c, b) && first < 0)
				first = slot;
		}
	return first;
}

#define LHEALTHY(rps) { 60, rps, 1, 0, 0 }

static void test_latency_quantile(void **state)
{
	(void)state;
	double h[REDFAST_NB] = { 0 };
	assert_true(isnan(live_hist_quantile_s(h, 0.99))); /* empty */
	/* 100 requests in (4 ms, 6 ms]: the p50 is halfway, the p99 near the top */
	h[7] = 100;
	assert_true(fabs(live_hist_quantile_s(h, 0.5) - 0.005) < 1e-12);
	assert_true(fabs(live_hist_quantile_s(h, 0.99) - 0.00598) < 1e-12);
	/* the rank in +Inf: the last finite bound, as histogram_quantile */
	h[REDFAST_NB - 1] = 100;
	assert_true(fabs(live_hist_quantile_s(h, 0.99) - 60.0) < 1e-12);
}

static void test_latency_fires_once_held(void **state)
{
	(void)state;
	static const struct {
		double rps, base_ms;
		struct lphase fault;
		int latest; /* slots after the step by which it must fire */
	} cases[] = {
		{ 20, 3, { 30, 20, 10, 0, 0 }, 4 },   /* slow-dependency: the database 10 times slower */
		{ 20, 20, { 30, 20, 3, 0, 0 }, 4 },   /* three times as slow (a p99 read high in a coarse bucket) */
		{ 20, 20, { 30, 20, 1, 6, 13 }, 6 },  /* the leak's creep: 13 ms more every second */
		{ 200, 0.3, { 30, 200, 1, 2, 0 }, 4 }, /* a sub-millisecond service, 2 ms slower */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (uint64_t seed = 1; seed <= 20; seed++) {
			struct lphase ph[] = { LHEALTHY(cases[i].rps), cases[i].fault };
			struct redfast_latency l;
			int first = run_latency(ph, 2, cases[i].base_ms, seed, &l);
			if (first < 60 + 3 || first > 60 + cases[i].latest - 1)
				fail_msg("case %zu seed %llu fired %d slots after the step", i, (unsigned long long)seed,
					 first - 60 + 1);
			/* the bound: the learnt p99 (the healthy one, within its bucket) and half again, at least 1 ms */
			assert_true(l.p99_s > 0 && l.p99_s <= cases[i].base_ms * 1.3 * 1.6e-3);
			assert_true(fabs(l.slow_s - (l.p99_s + fmax(0.5 * l.p99_s, 0.001))) < 1e-12);
		}
}

static void test_latency_blip_shift_and_traffic_never_fire(void **state)
{
	(void)state;
	static const struct {
		double base_ms;
		struct lphase change;
	} cases[] = {
		{ 3, { 3, 20, 10, 0, 0 } },     /* every request 10 times slower, for 3 slots */
		{ 20, { 3, 20, 1.5, 0, 0 } },   /* the noise scenario's blip: 1.5 times, 3 slots */
		{ 20, { 120, 20, 1.05, 0, 0 } }, /* 5 % slower for two minutes */
		{ 3, { 120, 20, 1, 0.5, 0 } },  /* half a millisecond of scheduling delay on every request */
		{ 20, { 120, 100, 1, 0, 0 } },  /* five times the traffic, as fast */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (uint64_t seed = 1; seed <= 30; seed++) {
			struct lphase ph[] = { LHEALTHY(20), cases[i].change, LHEALTHY(20) };
			int first = run_latency(ph, 3, cases[i].base_ms, seed, NULL);
			if (first >= 0)
				fail_msg("case %zu seed %llu fired at slot %d", i, (unsigned long long)seed, first);
		}
}

static void test_latency_fault_never_teaches_the_p99(void **state)
{
	(void)state;
	/* ten minutes of a database 10 times slower: active throughout, the p99 learnt stays the healthy one */
	struct lphase ph[] = { LHEALTHY(20), { 600, 20, 10, 0, 0 } };
	struct redfast_latency l;
	int first = run_latency(ph, 2, 3, 7, &l);
	assert_true(first > 60 && first < 64);
	assert_true(l.t.active);
	assert_true(l.p99_s < 0.006);
	/* back to normal: it clears */
	double b[REDFAST_NB];
	struct redfast_config c = ONE_SECOND;
	bool active = true;
	for (int s = 0; s < 10 && active; s++) {
		draw_slot(b, 20, 3, 1, 0);
		active = redfast_latency_update(&l, &c, b);
	}
	assert_false(active);
	/* a slot without requests changes nothing */
	memset(b, 0, sizeof(b));
	struct redfast_latency before = l;
	assert_false(redfast_latency_update(&l, &c, b));
	assert_memory_equal(&before.hist, &l.hist, sizeof(l.hist));
	assert_int_equal(before.t.slots, l.t.slots);
}

/* ---- the driver on a live view ---- */

static int64_t fake_now;
static int64_t fake_clock(void *ctx)
{
	(void)ctx;
	return fake_now;
}

struct recorder {
	int active, inactive;
	int lat_active, lat_inactive; /* the latency signal's */
	double slow_ms, p99_ms;
	char service[64];
	double value, score;
	json_int_t held;
	int64_t at, since; /* the first active signal's */
};

static void record_signal(void *ctx, const struct alert_signal *s)
{
	struct recorder *r = ctx;
	assert_string_equal(s->source, "anomaly");
	if (!strcmp(s->name, "red:checkout/latency")) {
		if (!s->active) {
			r->lat_inactive++;
			return;
		}
		r->lat_active++;
		assert_string_equal(json_string_value(json_object_get(s->evidence, "metric")), "latency");
		r->slow_ms = json_number_value(json_object_get(s->evidence, "slow_ms"));
		r->p99_ms = json_number_value(json_object_get(s->evidence, "p99_ms"));
		r->value = json_number_value(json_object_get(s->evidence, "value"));
		r->held = json_integer_value(json_object_get(s->evidence, "slots_held"));
		assert_true(s->since_ns > 0 && s->since_ns < s->at_ns);
		return;
	}
	assert_string_equal(s->name, "red:checkout/error_ratio");
	if (!s->active) {
		r->inactive++;
		return;
	}
	if (!r->active++) {
		r->at = s->at_ns;
		r->since = s->since_ns;
	}
	snprintf(r->service, sizeof(r->service), "%s", s->service);
	r->value = json_number_value(json_object_get(s->evidence, "value"));
	r->score = json_number_value(json_object_get(s->evidence, "score"));
	r->held = json_integer_value(json_object_get(s->evidence, "slots_held"));
	assert_string_equal(json_string_value(json_object_get(s->evidence, "metric")), "error_ratio");
}

/* Publishes one second of `service`'s server spans ending at fake_now, `errors` of `n` failing, each taking ms. */
static void publish_timed(struct live_signals *live, const char *service, int n, int errors, double ms, uint64_t *id)
{
	publish_server_spans(live, service, "POST /checkout", n, errors, fake_now, SEC / (n + 1), ms, id);
}

static void publish_service(struct live_signals *live, const char *service, int n, int errors, uint64_t *id)
{
	publish_timed(live, service, n, errors, 5, id);
}

static void publish_second(struct live_signals *live, int n, int errors, uint64_t *id)
{
	publish_service(live, "checkout", n, errors, id);
}

/* A live view on the fake clock (now T0 + 1/3 s) and the detector on it, with defaults. */
static void driver_open(struct live_signals **live, struct redfast **w)
{
	struct live_config lc = { .clock = fake_clock };
	struct buf err = BUF_INIT;
	fake_now = T0 + SEC / 3;
	assert_int_equal(live_create(&lc, live, &err), 0);
	assert_int_equal(redfast_create(*live, NULL, w), 0);
	buf_release(&err);
}

static void driver_close(struct live_signals *live, struct redfast *w)
{
	redfast_destroy(w);
	live_destroy(live);
}

static void test_driver_on_live_spans(void **state)
{
	(void)state;
	struct live_signals *live;
	struct redfast *w;
	driver_open(&live, &w);
	struct recorder r = { 0 };
	struct alert_sink sink = { record_signal, &r };
	uint64_t id = 0;
	bool on;
	unsigned services, learning, learnt_at = 0;
	redfast_status(w, &on, &services, &learning);
	assert_true(on);
	assert_int_equal(services, 0);
	/* 60 healthy seconds, with a tick between the arrivals that must not close a slot of its own */
	for (int s = 0; s < 60; s++) {
		fake_now += SEC;
		publish_second(live, 30, 0, &id);
		redfast_tick(w, fake_now + SEC / 8, &sink);
		redfast_tick(w, fake_now + SEC / 4, &sink);
		redfast_status(w, &on, &services, &learning);
		assert_int_equal(services, 1);
		if (!learning && !learnt_at)
			learnt_at = (unsigned)s + 1;
	}
	assert_int_equal(r.active, 0);
	/* learning while the warm-up (30 slots with requests) lasts, the first read closing none */
	assert_int_equal(learnt_at, 32);
	/* 30 % of checkout failing: active once the hold (11 slots, 2.75 s of span time) has passed */
	int fired_at = -1;
	int64_t fault = fake_now;
	for (int s = 0; s < 10 && fired_at < 0; s++) {
		fake_now += SEC;
		publish_second(live, 30, 9, &id);
		redfast_tick(w, fake_now + SEC / 8, &sink);
		if (r.active)
			fired_at = s;
	}
	/* on the third batch: 3 s of the fault's spans, the slots before the newest tested (2.75 s and more) */
	assert_int_equal(fired_at, 2);
	/* the condition began with the evidence's run of slots, in span time: the alert's active_at */
	assert_true(r.since > 0 && r.since < r.at);
	assert_true(r.since >= fault - LIVE_FINE_NS && r.since < fault + SEC / 2);
	assert_true(r.at - r.since >= (int64_t)r.held * LIVE_FINE_NS);
	assert_string_equal(r.service, "checkout");
	/* the last slot's ratio: 2 or 3 of the 7 or 8 requests of a quarter of a second */
	assert_true(r.value >= 2.0 / 8 && r.value <= 3.0 / 7);
	assert_true(r.score >= 0.99);
	assert_true(r.held >= 11);
	assert_int_equal(r.lat_active, 0); /* as fast as ever: errors only */
	/* healthy again: the signal goes inactive */
	for (int s = 0; s < 10; s++) {
		fake_now += SEC;
		publish_second(live, 30, 0, &id);
		redfast_tick(w, fake_now + SEC / 8, &sink);
	}
	assert_true(r.inactive >= 2); /* the first one at the start, then the clearing */
	/* a second fault fires again; turning the detector off (alerts.red_detector: false) clears it at once */
	int before = r.active;
	for (int s = 0; s < 6; s++) {
		fake_now += SEC;
		publish_second(live, 30, 15, &id);
		redfast_tick(w, fake_now + SEC / 8, &sink);
	}
	assert_true(r.active > before);
	int inactive = r.inactive;
	redfast_set_enabled(w, false);
	fake_now += SEC;
	publish_second(live, 30, 15, &id);
	before = r.active;
	redfast_tick(w, fake_now + SEC / 8, &sink);
	assert_int_equal(r.inactive, inactive + 1);
	for (int s = 0; s < 6; s++) {
		fake_now += SEC;
		publish_second(live, 30, 15, &id);
		redfast_tick(w, fake_now + SEC / 8, &sink);
	}
	assert_int_equal(r.active, before);
	redfast_status(w, &on, &services, &learning);
	assert_false(on);
	assert_int_equal(services, 0);
	driver_close(live, w);
}

/* The latency signal on live spans: checkout's requests go from 5 ms to 50 ms. */
static void test_driver_latency(void **state)
{
	(void)state;
	struct live_signals *live;
	struct redfast *w;
	driver_open(&live, &w);
	struct recorder r = { 0 };
	struct alert_sink sink = { record_signal, &r };
	uint64_t id = 0;
	for (int s = 0; s < 60; s++) {
		fake_now += SEC;
		publish_timed(live, "checkout", 30, 0, 5, &id);
		redfast_tick(w, fake_now + SEC / 8, &sink);
	}
	assert_int_equal(r.lat_active, 0);
	assert_int_equal(r.lat_inactive, 1); /* the one at the start */
	int fired_at = -1;
	for (int s = 0; s < 10 && fired_at < 0; s++) {
		fake_now += SEC;
		publish_timed(live, "checkout", 30, 0, 50, &id);
		redfast_tick(w, fake_now + SEC / 8, &sink);
		if (r.lat_active)
			fired_at = s;
	}
	assert_int_equal(fired_at, 2); /* the third batch, as errors */
	assert_int_equal(r.active, 0); /* no error */
	assert_true(fabs(r.value - 1) < 1e-9);
	assert_true(r.held >= 11);
	/* every healthy request took 5 ms, in the (4, 6] ms bucket: a p99 inside it, the bound 1 ms or half more */
	assert_true(r.p99_ms > 4 && r.p99_ms <= 6);
	assert_true(fabs(r.slow_ms - (r.p99_ms + fmax(0.5 * r.p99_ms, 1))) < 1e-9);
	for (int s = 0; s < 10; s++) {
		fake_now += SEC;
		publish_timed(live, "checkout", 30, 0, 5, &id);
		redfast_tick(w, fake_now + SEC / 8, &sink);
	}
	assert_int_equal(r.lat_inactive, 2);
	driver_close(live, w);
}

struct active_by_service {
	int a, b, b_cleared;
};

static void count_active(void *ctx, const struct alert_signal *s)
{
	struct active_by_service *r = ctx;
	if (s->active && !strcmp(s->service, "a"))
		r->a++;
	if (s->active && !strcmp(s->service, "b"))
		r->b++;
	if (!s->active && !strcmp(s->service, "b") && r->b)
		r->b_cleared++;
}

/* Two services posting at different moments of each second: each one's evidence is tested when it arrives. */
static void test_each_service_on_its_own_arrivals(void **state)
{
	(void)state;
	struct live_signals *live;
	struct redfast *w;
	driver_open(&live, &w);
	int64_t t = fake_now;
	struct active_by_service r = { 0 };
	struct alert_sink sink = { count_active, &r };
	uint64_t id = 0;
	int fired_second = -1;
	for (int s = 0; s < 80 && fired_second < 0; s++) {
		bool fault = s >= 60;
		t += SEC;
		fake_now = t;
		publish_service(live, "a", 30, 0, &id); /* a posts first */
		redfast_tick(w, t + SEC / 20, &sink);
		fake_now = t + 3 * SEC / 10;            /* b 300 ms later, failing from second 60 on */
		publish_service(live, "b", 30, fault ? 9 : 0, &id);
		redfast_tick(w, t + 7 * SEC / 20, &sink);
		if (r.b)
			fired_second = s - 60;
	}
	/* on the tick right after b's third failing batch, not a second later */
	assert_int_equal(fired_second, 2);
	assert_int_equal(r.a, 0);
	/* b goes silent while failing (its process died): no error ratio to speak of, the signal clears */
	for (int s = 0; s < 12; s++) {
		t += SEC;
		fake_now = t;
		publish_service(live, "a", 30, 0, &id);
		redfast_tick(w, t + SEC / 20, &sink);
	}
	assert_int_equal(r.b_cleared, 1);
	driver_close(live, w);
}


/* ---- a slowdown shared by the system ---- */

struct by_name {
	char name[8][64];
	int active[8], inactive[8];
	int first[8]; /* the tick (tick below) of its first active signal */
	int n, tick;
	json_int_t shared_own; /* the shared signal's count of services slowing on their own */
};

static void count_by_name(void *ctx, const struct alert_signal *s)
{
	struct by_name *r = ctx;
	int i = 0;
	while (i < r->n && strcmp(r->name[i], s->name))
		i++;
	if (i == r->n) {
		assert_true(r->n < 8);
		snprintf(r->name[r->n++], sizeof(r->name[0]), "%s", s->name);
	}
	if (s->active && !r->active[i]++)
		r->first[i] = r->tick;
	else if (!s->active)
		r->inactive[i]++;
	if (!strcmp(s->name, "red:shared/slowdown")) {
		assert_null(s->service);
		assert_string_equal(json_string_value(json_object_get(s->evidence, "metric")), "slowdown");
		if (s->active)
			r->shared_own = json_integer_value(json_object_get(s->evidence, "value"));
	}
}

static int active_of(const struct by_name *r, const char *name)
{
	for (int i = 0; i < r->n; i++)
		if (!strcmp(r->name[i], name))
			return r->active[i];
	return 0;
}

static int first_of(const struct by_name *r, const char *name)
{
	for (int i = 0; i < r->n; i++)
		if (!strcmp(r->name[i], name) && r->active[i])
			return r->first[i];
	return -1;
}

static int inactive_of(const struct by_name *r, const char *name)
{
	for (int i = 0; i < r->n; i++)
		if (!strcmp(r->name[i], name))
			return r->inactive[i];
	return 0;
}

static void publish_calls(struct live_signals *live, const char *caller, const char *callee, int n, double caller_ms,
			  double callee_ms, bool traced, uint64_t *id)
{
	publish_parts(live, caller, callee, n, caller_ms, callee_ms, traced, fake_now, BOTH_PARTS, id);
}

/* x and y each call db; one second of it, every caller taking x_ms and y_ms, the database db_ms. */
static void two_callers(struct live_signals *live, struct redfast *w, const struct alert_sink *sink, double x_ms,
			double y_ms, double db_ms, bool traced, uint64_t *id)
{
	fake_now += SEC;
	publish_calls(live, "x", "db", 20, x_ms, db_ms, traced, id);
	publish_calls(live, "y", "db", 20, y_ms, db_ms, traced, id);
	redfast_tick(w, fake_now + SEC / 8, sink);
}

/*
 * Two services slowing on their own at once, their database unchanged: held
 * back, one shared signal instead; a slow database with its callers slow
 * with it fires as before; without the call graph nothing is held; and a
 * service still slow on its own after the episode fires on its own evidence.
 */
static void test_shared_slowdown(void **state)
{
	(void)state;
	for (int traced = 1; traced >= 0; traced--) {
		struct live_signals *live;
		struct redfast *w;
		driver_open(&live, &w);
		struct by_name r = { 0 };
		struct alert_sink sink = { count_by_name, &r };
		uint64_t id = 0;
		for (int s = 0; s < 60; s++)
			two_callers(live, w, &sink, 8, 8, 3, traced, &id);
		assert_int_equal(active_of(&r, "red:x/latency") + active_of(&r, "red:y/latency"), 0);
		/* x and y four times slower, the database as ever: the machine, not a service */
		for (int s = 0; s < 15; s++)
			two_callers(live, w, &sink, 32, 32, 3, traced, &id);
		if (traced) {
			assert_int_equal(active_of(&r, "red:x/latency"), 0);
			assert_int_equal(active_of(&r, "red:y/latency"), 0);
			assert_true(active_of(&r, "red:shared/slowdown") >= 1);
			assert_int_equal(r.shared_own, 2);
		} else { /* no call graph: no telling a shared slowdown from two faults */
			assert_true(active_of(&r, "red:x/latency") >= 1);
			assert_true(active_of(&r, "red:y/latency") >= 1);
			assert_int_equal(active_of(&r, "red:shared/slowdown"), 0);
		}
		for (int s = 0; s < 20; s++)
			two_callers(live, w, &sink, 8, 8, 3, traced, &id);
		if (!traced) {
			driver_close(live, w);
			continue;
		}
		assert_int_equal(active_of(&r, "red:x/latency") + active_of(&r, "red:y/latency"), 0);
		assert_int_equal(inactive_of(&r, "red:shared/slowdown"), 1); /* the episode is over */
		int shared = active_of(&r, "red:shared/slowdown");
		/* the database ten times slower, its callers slow with it: the database's fault, every signal as before */
		for (int s = 0; s < 10; s++)
			two_callers(live, w, &sink, 35, 35, 30, traced, &id);
		assert_true(active_of(&r, "red:db/latency") >= 1);
		assert_true(active_of(&r, "red:x/latency") >= 1);
		assert_true(active_of(&r, "red:y/latency") >= 1);
		assert_int_equal(active_of(&r, "red:shared/slowdown"), shared);
		/* the database recovers first, its callers' alerts clear after it: no episode starts in that tail */
		for (int s = 0; s < 2; s++)
			two_callers(live, w, &sink, 35, 35, 3, traced, &id);
		assert_int_equal(active_of(&r, "red:shared/slowdown"), shared);
		for (int s = 0; s < 30; s++)
			two_callers(live, w, &sink, 8, 8, 3, traced, &id);
		/* both slow again together, then y recovers and x stays slow: x fires once the episode is over */
		int x_before = active_of(&r, "red:x/latency");
		for (int s = 0; s < 8; s++)
			two_callers(live, w, &sink, 32, 32, 3, traced, &id);
		assert_int_equal(active_of(&r, "red:x/latency"), x_before);
		assert_true(active_of(&r, "red:shared/slowdown") > shared);
		int fired_after = -1;
		for (int s = 0; s < 15 && fired_after < 0; s++) {
			two_callers(live, w, &sink, 32, 8, 3, traced, &id);
			if (active_of(&r, "red:x/latency") > x_before)
				fired_after = s;
		}
		/* the episode ends a hold after y calmed, then x needs a hold of its own evidence */
		assert_true(fired_after >= 3 && fired_after <= 10);
		driver_close(live, w);
	}
}

/* Opens the driver and feeds it a healthy minute of x and y calling db (8, 8 and 3 ms), traced. */
static void healthy_minute(struct live_signals **live, struct redfast **w, const struct alert_sink *sink, uint64_t *id)
{
	driver_open(live, w);
	for (int s = 0; s < 60; s++)
		two_callers(*live, *w, sink, 8, 8, 3, true, id);
}

/*
 * The machine slows under every service in a chain: the database takes 6 ms
 * more, and each caller 6 ms more of its own on top of that (its own time
 * 5 -> 11 ms, its total 8 -> 20 ms). Every service's share of slow requests
 * rises alike, so by shares alone the callers inherit from the database
 * (one service slowing on its own, three pages); by own time all three slow
 * on their own: one shared signal, no service's latency sent.
 */
static void test_shared_slowdown_in_a_chain(void **state)
{
	(void)state;
	struct live_signals *live;
	struct redfast *w;
	struct by_name r = { 0 };
	struct alert_sink sink = { count_by_name, &r };
	uint64_t id = 0;
	healthy_minute(&live, &w, &sink, &id);
	int64_t healthy_end = fake_now;
	assert_false(redfast_shared_overlaps(w, "x", T0, healthy_end));
	for (int s = 0; s < 15; s++)
		two_callers(live, w, &sink, 20, 20, 9, true, &id);
	assert_int_equal(active_of(&r, "red:x/latency"), 0);
	assert_int_equal(active_of(&r, "red:y/latency"), 0);
	assert_int_equal(active_of(&r, "red:db/latency"), 0);
	assert_true(active_of(&r, "red:shared/slowdown") >= 1);
	assert_int_equal(r.shared_own, 3);
	/* the episode names every service it held, from its runs' start; the healthy minute before it none */
	const char *const named[] = { "x", "y", "db" };
	for (int i = 0; i < 3; i++) {
		assert_true(redfast_shared_overlaps(w, named[i], fake_now - 10 * SEC, fake_now));
		assert_false(redfast_shared_overlaps(w, named[i], T0, healthy_end - 5 * SEC));
	}
	assert_false(redfast_shared_overlaps(w, "nobody", T0, fake_now + SEC));
	/* healthy again: the episode ends (a hold after), and names nothing after that */
	for (int s = 0; s < 20; s++)
		two_callers(live, w, &sink, 8, 8, 3, true, &id);
	assert_true(inactive_of(&r, "red:shared/slowdown") >= 1);
	assert_true(redfast_shared_overlaps(w, "db", fake_now - 25 * SEC, fake_now - 15 * SEC));
	assert_false(redfast_shared_overlaps(w, "db", fake_now - 10 * SEC, fake_now));
	driver_close(live, w);
}

/*
 * The database slows ten times and its callers with it by as much (their own
 * time as ever), but the database's spans come a second after its callers'
 * (its exporter's batch): the callers pass their hold first, while the
 * database, rising with them, has not decided. They wait for it (at most a
 * hold), so no caller's signal comes before the database's, and with one
 * service slowing on its own (the database; its callers' own time did not
 * move) it is the database's slowdown, not a shared one.
 */
static void test_caller_waits_for_a_callee_rising_with_it(void **state)
{
	(void)state;
	struct live_signals *live;
	struct redfast *w;
	struct by_name r = { 0 };
	struct alert_sink sink = { count_by_name, &r };
	uint64_t id = 0;
	healthy_minute(&live, &w, &sink, &id);
	assert_int_equal(active_of(&r, "red:x/latency") + active_of(&r, "red:db/latency"), 0);
	uint64_t prev_id = 0;
	int64_t prev_now = 0;
	for (int s = 0; s < 15; s++) {
		r.tick = s;
		fake_now += SEC;
		uint64_t mine = id;
		publish_parts(live, "x", "db", 20, 35, 30, true, fake_now, CALLER_PART, &id);
		publish_parts(live, "y", "db", 20, 35, 30, true, fake_now, CALLER_PART, &id);
		if (s) { /* the database's spans of the second before */
			uint64_t again = prev_id;
			publish_parts(live, "x", "db", 20, 35, 30, true, prev_now, CALLEE_PART, &again);
			publish_parts(live, "y", "db", 20, 35, 30, true, prev_now, CALLEE_PART, &again);
		}
		prev_id = mine;
		prev_now = fake_now;
		redfast_tick(w, fake_now + SEC / 8, &sink);
	}
	int db = first_of(&r, "red:db/latency"), x = first_of(&r, "red:x/latency"), y = first_of(&r, "red:y/latency");
	if (db < 0 || x < 0 || y < 0 || x < db || y < db)
		fail_msg("first signals by tick: db %d, x %d, y %d (the database must come first)", db, x, y);
	assert_int_equal(active_of(&r, "red:shared/slowdown"), 0);
	driver_close(live, w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_step_fires_after_the_hold),
		cmocka_unit_test(test_blip_shorter_than_the_hold_does_not_fire),
		cmocka_unit_test(test_jitter_and_traffic_rise_never_fire),
		cmocka_unit_test(test_clears_when_the_fault_ends),
		cmocka_unit_test(test_a_fault_never_teaches_the_baseline),
		cmocka_unit_test(test_warm_up_and_empty_slots),
		cmocka_unit_test(test_quarter_slots),
		cmocka_unit_test(test_latency_quantile),
		cmocka_unit_test(test_latency_fires_once_held),
		cmocka_unit_test(test_latency_blip_shift_and_traffic_never_fire),
		cmocka_unit_test(test_latency_fault_never_teaches_the_p99),
		cmocka_unit_test(test_driver_on_live_spans),
		cmocka_unit_test(test_driver_latency),
		cmocka_unit_test(test_each_service_on_its_own_arrivals),
		cmocka_unit_test(test_shared_slowdown),
		cmocka_unit_test(test_shared_slowdown_in_a_chain),
		cmocka_unit_test(test_caller_waits_for_a_callee_rising_with_it),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
