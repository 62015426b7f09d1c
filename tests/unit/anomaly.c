/*
 * Unit tests for the streaming anomaly engine (src/detect/anomaly.c): a table
 * of synthetic series, each with what a user would expect of the verdict —
 * quiet on flat, noisy and seasonal series, a confident alert with the right
 * direction on steps and spikes, silence while warming up — plus the fixed
 * memory contract, the row parser and the CSV door. Series are generated
 * with a small deterministic PRNG; nothing sleeps or reads the clock.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <math.h>
#include <string.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/error.h"
#include "detect/anomaly.h"

#define STEP_NS (INT64_C(300) * 1000000000) /* 5-minute points */
#define T0 INT64_C(1700000000000000000)

static uint64_t rng_state;

static double uniform(void)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)(rng_state >> 11) / 9007199254740992.0;
}

/* Approximately standard normal: sum of 12 uniforms minus 6. */
static double gauss(void)
{
	double s = 0;
	for (int i = 0; i < 12; i++)
		s += uniform();
	return s - 6.0;
}

enum shape { FLAT, NOISY, STEP_UP, STEP_DOWN, SPIKE_DOWN, SPIKE_UP, DAILY_SINE };

static double value_at(enum shape shape, int i, int event)
{
	switch (shape) {
	case FLAT:
		return 42.0;
	case NOISY:
		return 100.0 + 5.0 * gauss();
	case STEP_UP:
		return (i >= event ? 150.0 : 100.0) + 2.0 * gauss();
	case STEP_DOWN:
		return (i >= event ? 60.0 : 100.0) + 2.0 * gauss();
	case SPIKE_DOWN:
		return (i == event ? 20.0 : 100.0) + 2.0 * gauss();
	case SPIKE_UP:
		return (i == event ? 180.0 : 100.0) + 2.0 * gauss();
	case DAILY_SINE:
		return 100.0 + 40.0 * sin(2 * M_PI * (double)i / 288.0) + 1.0 * gauss();
	}
	return 0;
}

struct series_case {
	const char *name;
	enum shape shape;
	int points;
	int event;          /* index of the anomaly, -1 for none */
	int quiet_from;     /* max score is measured from here on (after warm-up) */
	double max_quiet;   /* scores before the event (or throughout) stay below */
	double min_alert;   /* within `within` points of the event the score reaches */
	int within;
	int direction;      /* expected direction at the alert */
};

static const struct series_case cases[] = {
	{ "flat", FLAT, 2000, -1, 0, 0.01, 0, 0, 0 },
	{ "noisy", NOISY, 3000, -1, 200, 0.999, 0, 0, 0 },
	{ "step up", STEP_UP, 1500, 1000, 200, 0.999, 0.99, 5, +1 },
	{ "step down", STEP_DOWN, 1500, 1000, 200, 0.999, 0.99, 5, -1 },
	{ "spike down", SPIKE_DOWN, 1500, 1000, 200, 0.999, 0.99, 3, -1 },
	{ "spike up", SPIKE_UP, 1500, 1000, 200, 0.999, 0.99, 3, +1 },
	/* after one period the daily profile explains the swing */
	{ "daily sine", DAILY_SINE, 288 * 5, -1, 288 + 150, 0.999, 0, 0, 0 },
};

static void test_series_table(void **state)
{
	size_t size = anomaly_state_size(NULL);
	struct anomaly_state *s = malloc(size);
	assert_non_null(s);
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const struct series_case *tc = &cases[c];
		rng_state = 12345 + c;
		anomaly_init(s, NULL);
		double max_quiet = 0;
		double max_alert = 0;
		int dir_at_alert = 0;
		for (int i = 0; i < tc->points; i++) {
			struct anomaly_result r;
			anomaly_update(s, T0 + i * STEP_NS, value_at(tc->shape, i, tc->event), &r);
			assert_true(r.score >= 0 && r.score <= 1);
			assert_true(r.expected_lo <= r.expected_hi);
			if (i >= tc->quiet_from && (tc->event < 0 || i < tc->event) && r.score > max_quiet)
				max_quiet = r.score;
			if (tc->event >= 0 && i >= tc->event && i < tc->event + tc->within && r.score > max_alert) {
				max_alert = r.score;
				dir_at_alert = r.direction;
			}
		}
		if (max_quiet >= tc->max_quiet)
			fail_msg("%s: quiet part scored %f", tc->name, max_quiet);
		if (tc->event >= 0) {
			if (max_alert < tc->min_alert)
				fail_msg("%s: best score near the event %f", tc->name, max_alert);
			if (dir_at_alert != tc->direction)
				fail_msg("%s: direction %d", tc->name, dir_at_alert);
		}
	}
	free(s);
}

static void test_warmup_suppresses(void **state)
{
	struct anomaly_config c = { .warmup_points = 100 };
	struct anomaly_state *s = malloc(anomaly_state_size(&c));
	anomaly_init(s, &c);
	struct anomaly_result r;
	for (int i = 0; i < 100; i++) {
		/* wild values while learning: never a score */
		anomaly_update(s, T0 + i * STEP_NS, i % 10 == 9 ? 1e6 : 1.0, &r);
		assert_true(r.warming_up);
		assert_true(r.score == 0);
	}
	anomaly_update(s, T0 + 100 * STEP_NS, 1.0, &r);
	assert_false(r.warming_up);
	free(s);
}

static void test_baseline_and_band(void **state)
{
	struct anomaly_state *s = malloc(anomaly_state_size(NULL));
	anomaly_init(s, NULL);
	rng_state = 7;
	struct anomaly_result r;
	for (int i = 0; i < 1000; i++)
		anomaly_update(s, T0 + i * STEP_NS, 50.0 + gauss(), &r);
	assert_true(fabs(r.baseline - 50.0) < 2.0);
	assert_true(r.expected_lo < 50.0 && r.expected_hi > 50.0);
	assert_true(r.expected_hi - r.expected_lo < 20.0);
	free(s);
}

static void test_non_finite_ignored(void **state)
{
	struct anomaly_state *s = malloc(anomaly_state_size(NULL));
	anomaly_init(s, NULL);
	struct anomaly_result r;
	for (int i = 0; i < 500; i++) {
		double v = i % 7 == 3 ? NAN : i % 11 == 5 ? INFINITY : 10.0;
		anomaly_update(s, T0 + i * STEP_NS, v, &r);
		assert_true(r.score == 0);
		assert_true(isfinite(r.baseline));
	}
	free(s);
}

/*
 * Fixed memory: the size depends on the config only, and the engine never
 * writes past it — the state is embedded in a guarded block whose canary
 * must survive a long, adversarial run.
 */
static void test_fixed_memory(void **state)
{
	struct anomaly_config c = { 0 }, no_season = { .no_daily = true, .no_weekly = true };
	size_t size = anomaly_state_size(&c);
	assert_int_equal(size, anomaly_state_size(NULL));
	assert_true(anomaly_state_size(&no_season) < size);
	assert_true(size < 64 * 1024);
	unsigned char *block = malloc(size + 64);
	memset(block + size, 0xA5, 64);
	struct anomaly_state *s = (struct anomaly_state *)block;
	anomaly_init(s, &c);
	struct anomaly_result r;
	rng_state = 99;
	for (int i = 0; i < 200000; i++) {
		int64_t t = T0 + (int64_t)(uniform() * 1e15) - (i % 5 == 0 ? INT64_C(1) << 40 : 0);
		anomaly_update(s, t, gauss() * (i % 1000 == 0 ? 1e300 : 1.0), &r);
	}
	anomaly_update(s, INT64_MIN, 1.0, &r);
	anomaly_update(s, INT64_MAX, -1.0, &r);
	for (int i = 0; i < 64; i++)
		assert_int_equal(block[size + i], 0xA5);
	assert_int_equal(anomaly_state_size(&c), size);
	free(block);
}

/*
 * A nightly job: a spike around 03:00 that drifts by up to 25 minutes from
 * day to day. Once it has shown up on two days running it no longer alerts,
 * while the same spike at 15:00 (a time it never happened) does. The same
 * stream into an engine without the daily memory alerts on the nightly
 * spikes, so the memory is what keeps them quiet.
 */
static void nightly_run(const struct anomaly_config *c, double *nightly_max, double *afternoon)
{
	struct anomaly_state *s = malloc(anomaly_state_size(c));
	anomaly_init(s, c);
	rng_state = 11;
	static const int drift[] = { 0, 4, -3, 5, -5, 2, -4, 3, 1, -2 }; /* 5-minute slots */
	int64_t day0 = T0 - T0 % (INT64_C(86400) * 1000000000); /* midnight UTC */
	*nightly_max = *afternoon = 0;
	for (int day = 0; day < 10; day++) {
		for (int k = 0; k < 288; k++) {
			bool spike = k == 36 + drift[day] || (day == 9 && k == 180);
			struct anomaly_result r;
			anomaly_update(s, day0 + (int64_t)(day * 288 + k) * STEP_NS, (spike ? 160.0 : 100.0) + 2.0 * gauss(), &r);
			if (day >= 3 && spike && k != 180 && r.score > *nightly_max)
				*nightly_max = r.score;
			if (day == 9 && k == 180)
				*afternoon = r.score;
		}
	}
	free(s);
}

static void test_recurring_daily_departure(void **state)
{
	struct anomaly_config with_memory = { 0 }, without = { .no_daily = true };
	double nightly, afternoon;
	nightly_run(&with_memory, &nightly, &afternoon);
	if (nightly >= 0.997)
		fail_msg("the nightly spike still alerts after two days: %f", nightly);
	if (afternoon < 0.997)
		fail_msg("the same spike at a new time of day scored only %f", afternoon);
	nightly_run(&without, &nightly, &afternoon);
	if (nightly < 0.997)
		fail_msg("without the daily memory the nightly spike scored only %f", nightly);
}

/*
 * A spiky series: spikes of about +60 at irregular intervals. The engine
 * learns to expect them (quiet at the last ordinary spike), but a spike far
 * taller than any it has seen is a record: an alert, detector "record",
 * pointing up.
 */
static void test_record_departure(void **state)
{
	struct anomaly_state *s = malloc(anomaly_state_size(NULL));
	anomaly_init(s, NULL);
	rng_state = 5;
	struct anomaly_result r;
	int next = 30, i = 0;
	double ordinary = 0;
	for (; i < 3000; i++) {
		bool spike = i == next;
		if (spike)
			next += 20 + (int)(uniform() * 40);
		anomaly_update(s, T0 + i * STEP_NS, (spike ? 160.0 + 5.0 * gauss() : 100.0) + 2.0 * gauss(), &r);
		if (spike && i > 2500 && r.score > ordinary)
			ordinary = r.score;
	}
	if (ordinary >= 0.997)
		fail_msg("an ordinary spike still alerts after 2500 points: %f", ordinary);
	anomaly_update(s, T0 + i * STEP_NS, 260.0, &r);
	if (r.score < 0.997)
		fail_msg("a record spike scored only %f", r.score);
	assert_non_null(r.detector);
	assert_string_equal(r.detector, "record");
	assert_int_equal(r.direction, 1);
	free(s);
}

/*
 * A slow drift: noise of spread 2 around 100, then from point 2000 a climb
 * of 0.02 per point (one spread every 100 points, 6 per day). No single
 * point is surprising and the fast level follows it; the change-point
 * detector must raise an alert within a day (288 points). Before the drift
 * the noise stays below 0.999, the bound the "noisy" case above holds to.
 */
static void test_slow_drift(void **state)
{
	struct anomaly_config c = { .no_daily = true, .no_weekly = true };
	struct anomaly_state *s = malloc(anomaly_state_size(&c));
	anomaly_init(s, &c);
	rng_state = 11;
	struct anomaly_result r;
	double before = 0, after = 0;
	for (int i = 0; i < 2288; i++) {
		double drift = i >= 2000 ? 0.02 * (i - 2000) : 0.0;
		anomaly_update(s, T0 + i * STEP_NS, 100.0 + drift + 2.0 * gauss(), &r);
		if (i < 2000 && r.score > before)
			before = r.score;
		if (i >= 2000 && r.detector && !strcmp(r.detector, "change") && r.score > after)
			after = r.score;
	}
	if (before >= 0.999)
		fail_msg("the steady series alerted before the drift: %f", before);
	if (after < 0.997)
		fail_msg("the change detector gave a drift of 6 spreads per day only %f within a day", after);
	free(s);
}

static void test_parse_row(void **state)
{
	static const struct {
		const char *in;
		int rc;
		int64_t t_ns;
		double v;
	} rows[] = {
		{ "2014-02-14 14:30:00,0.132", 0, INT64_C(1392388200000000000), 0.132 },
		{ "2014-02-14T14:30:00Z,1e3\r", 0, INT64_C(1392388200000000000), 1000 },
		{ "2014-02-14 14:30:00.5,-2", 0, INT64_C(1392388200500000000), -2 },
		{ "\"2014-02-14 14:30:00\",\"7\"", 0, INT64_C(1392388200000000000), 7 },
		{ "1392388200,3", 0, INT64_C(1392388200000000000), 3 },
		{ "2014-02-14T15:30:00+01:00,4", 0, INT64_C(1392388200000000000), 4 },
		{ "timestamp,value", OODA_EPARSE, 0, 0 },
		{ "2014-02-14 14:30:00", OODA_EPARSE, 0, 0 },
		{ "2014-02-14 14:30:00,", OODA_EPARSE, 0, 0 },
		{ "2014-02-14 14:30:00,1,2", OODA_EPARSE, 0, 0 },
		{ "2014-13-14 14:30:00,1", OODA_EPARSE, 0, 0 },
		{ ",1", OODA_EPARSE, 0, 0 },
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int64_t t = 0;
		double v = 0;
		int rc = anomaly_parse_row(rows[i].in, strlen(rows[i].in), &t, &v);
		if (rc != rows[i].rc)
			fail_msg("%s: rc %d", rows[i].in, rc);
		if (rc == 0) {
			assert_true(t == rows[i].t_ns);
			assert_true(v == rows[i].v);
		}
	}
}

static void run_csv(const char *input, int want_rc, const char *want_prefix)
{
	FILE *in = fmemopen((void *)input, strlen(input), "r");
	char *outbuf = NULL;
	size_t outlen = 0;
	FILE *out = open_memstream(&outbuf, &outlen);
	struct buf err = BUF_INIT;
	int rc = anomaly_analyze_csv(in, out, NULL, &err);
	fclose(in);
	fclose(out);
	if (rc != want_rc)
		fail_msg("rc %d (%s) for %s", rc, err.data, input);
	if (rc != 0)
		assert_true(err.len > 0);
	if (want_prefix && strncmp(outbuf, want_prefix, strlen(want_prefix)) != 0)
		fail_msg("output %s", outbuf);
	free(outbuf);
	buf_release(&err);
}

static void test_analyze_csv(void **state)
{
	run_csv("timestamp,value\n2014-02-14 14:30:00,1\n\n2014-02-14 14:35:00,2\n", 0,
		"timestamp,value,anomaly_score\n2014-02-14 14:30:00,1,0\n2014-02-14 14:35:00,2,0\n");
	run_csv("", 0, "timestamp,value,anomaly_score\n");
	run_csv("2014-02-14 14:30:00,1\n", OODA_EPARSE, NULL);
	run_csv("timestamp,value\nnot a row\n", OODA_EPARSE, NULL);
	char *big = malloc(6000);
	memcpy(big, "timestamp,value\n", 16);
	memset(big + 16, '1', 5000);
	big[5016] = '\0';
	run_csv(big, OODA_ELIMIT, NULL);
	free(big);

	/* a longer series: a step after a flat stretch scores high in the output */
	struct buf csv = BUF_INIT;
	buf_adds(&csv, "timestamp,value\n");
	for (int i = 0; i < 600; i++)
		buf_addf(&csv, "%d,%d\n", 1392388200 + i * 300, i < 500 ? 10 + i % 3 : 40);
	FILE *in = fmemopen(csv.data, csv.len, "r");
	char *outbuf = NULL;
	size_t outlen = 0;
	FILE *out = open_memstream(&outbuf, &outlen);
	struct buf err = BUF_INIT;
	assert_int_equal(anomaly_analyze_csv(in, out, NULL, &err), 0);
	fclose(in);
	fclose(out);
	double best = 0;
	int lines = 0;
	for (char *p = outbuf; (p = strchr(p, '\n')) != NULL; p++) {
		lines++;
		char *last = memrchr(outbuf, ',', (size_t)(p - outbuf));
		double sc = strtod(last + 1, NULL);
		if (lines > 500 && sc > best)
			best = sc;
	}
	assert_int_equal(lines, 601);
	assert_true(best > 0.99);
	free(outbuf);
	buf_release(&err);
	buf_release(&csv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_series_table),
		cmocka_unit_test(test_warmup_suppresses),
		cmocka_unit_test(test_baseline_and_band),
		cmocka_unit_test(test_non_finite_ignored),
		cmocka_unit_test(test_fixed_memory),
		cmocka_unit_test(test_recurring_daily_departure),
		cmocka_unit_test(test_record_departure),
		cmocka_unit_test(test_slow_drift),
		cmocka_unit_test(test_parse_row),
		cmocka_unit_test(test_analyze_csv),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
