/*
 * Unit tests for the fast RED change detector (src/detect/redfast.c): the
 * count test on generated one-second slots — a step in errors fires once it
 * has held, a blip shorter than the hold never does (however strong), steady
 * jitter at the baseline and a rise in traffic alone never do, a fault that
 * ends clears — and the driver on a live view fed with server spans, whose
 * signal names the service and carries its evidence. Slots are drawn with a
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

#define SEC OODA_NS_PER_SEC
#define T0 (INT64_C(1795600800) * SEC)

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
	struct redfast_config c = { 0 };
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
	struct redfast_config c = { 0 };
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
	struct redfast_config c = { 0 };
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

/* ---- the driver on a live view ---- */

static int64_t fake_now;
static int64_t fake_clock(void *ctx)
{
	(void)ctx;
	return fake_now;
}

struct recorder {
	int active, inactive;
	char service[64];
	double value, score;
	json_int_t held;
	int64_t at, since; /* the first active signal's */
};

static void record_signal(void *ctx, const struct alert_signal *s)
{
	struct recorder *r = ctx;
	assert_string_equal(s->source, "anomaly");
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

/* Publishes one second of `service`'s server spans ending at fake_now, `errors` of `n` failing. */
static void publish_service(struct live_signals *live, const char *service, int n, int errors, uint64_t *id)
{
	struct arena a;
	arena_init(&a, 0);
	struct telemetry_batch b;
	memset(&b, 0, sizeof(b));
	b.arena = &a;
	b.spans = arena_zalloc(&a, sizeof(struct span) * (size_t)n);
	struct resource *res = arena_zalloc(&a, sizeof(*res));
	res->service = service;
	for (int i = 0; i < n; i++) {
		struct span *sp = &b.spans[b.n_spans++];
		sp->resource = res;
		sp->name = "POST /checkout";
		sp->kind = 2; /* server */
		sp->end_ns = fake_now - (int64_t)i * (SEC / (n + 1));
		sp->start_ns = sp->end_ns - 5 * OODA_NS_PER_MS;
		sp->status = i < errors ? STATUS_ERROR : STATUS_OK;
		++*id;
		for (int j = 0; j < 8; j++) {
			sp->trace_id[15 - j] = (uint8_t)(*id >> (8 * j));
			sp->span_id[7 - j] = (uint8_t)(*id >> (8 * j));
		}
	}
	assert_int_equal(live_publish(live, &b), 0);
	arena_release(&a);
}

static void publish_second(struct live_signals *live, int n, int errors, uint64_t *id)
{
	publish_service(live, "checkout", n, errors, id);
}

static void test_driver_on_live_spans(void **state)
{
	(void)state;
	struct live_config lc = { .clock = fake_clock };
	struct live_signals *live = NULL;
	struct buf err = BUF_INIT;
	fake_now = T0 + SEC / 3;
	assert_int_equal(live_create(&lc, &live, &err), 0);
	struct redfast *w = NULL;
	assert_int_equal(redfast_create(live, NULL, &w), 0);
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
	/* 30 % of checkout failing: active on the fourth slot of the fault, not before */
	int fired_at = -1;
	for (int s = 0; s < 10 && fired_at < 0; s++) {
		fake_now += SEC;
		publish_second(live, 30, 9, &id);
		redfast_tick(w, fake_now + SEC / 8, &sink);
		if (r.active)
			fired_at = s;
	}
	assert_int_equal(fired_at, 3);
	/* the condition began with the evidence's run of slots, before it fired: the alert's active_at */
	assert_true(r.since > 0 && r.since < r.at);
	assert_int_equal(r.at - r.since, (int64_t)r.held * SEC);
	assert_true(r.at - r.since >= 4 * SEC);
	assert_string_equal(r.service, "checkout");
	assert_true(fabs(r.value - 0.3) < 1e-9);
	assert_true(r.score >= 0.99);
	assert_true(r.held >= 4);
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
	redfast_destroy(w);
	live_destroy(live);
	buf_release(&err);
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
	struct live_config lc = { .clock = fake_clock };
	struct live_signals *live = NULL;
	struct buf err = BUF_INIT;
	int64_t t = T0 + SEC / 3;
	fake_now = t;
	assert_int_equal(live_create(&lc, &live, &err), 0);
	struct redfast *w = NULL;
	assert_int_equal(redfast_create(live, NULL, &w), 0);
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
	/* on the tick right after b's fourth failing batch, not a second later */
	assert_int_equal(fired_second, 3);
	assert_int_equal(r.a, 0);
	/* b goes silent while failing (its process died): no error ratio to speak of, the signal clears */
	for (int s = 0; s < 12; s++) {
		t += SEC;
		fake_now = t;
		publish_service(live, "a", 30, 0, &id);
		redfast_tick(w, t + SEC / 20, &sink);
	}
	assert_int_equal(r.b_cleared, 1);
	redfast_destroy(w);
	live_destroy(live);
	buf_release(&err);
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
		cmocka_unit_test(test_driver_on_live_spans),
		cmocka_unit_test(test_each_service_on_its_own_arrivals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
