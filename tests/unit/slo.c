/*
 * Unit tests for SLOs and burn-rate alerts (src/detect/slo.c). Every case
 * builds an SLO set from a `slos:` section (as JSON), fills its minute ring
 * with synthetic per-minute counts through slo_record() and evaluates it at
 * an injected time, so nothing reads the clock or sleeps: a 14.4x burn
 * pages and a 0.5x burn never does, 6x over 6h/30m pages, 3x and 1x
 * ticket, a short spike alone does not page, the minimum-events guard holds,
 * the budget math is right for occurrences and timeslices, the ring wraps,
 * the tick speaks struct alert_signal, config errors name the key path, and
 * a reload (slo_set_apply) adds, changes and removes SLOs as a whole.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <math.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/error.h"
#include "detect/slo.h"

#define MIN_NS (INT64_C(60) * 1000000000)
#define CUR INT64_C(28333333) /* the minute "now" falls in */
#define NOW (CUR * MIN_NS + 59 * INT64_C(1000000000))

static struct slo_set *make(const char *json)
{
	struct slo_set *set = NULL;
	struct buf err = BUF_INIT;
	int rc = slo_set_create(json, NULL, &set, &err);
	if (rc)
		fail_msg("slo_set_create: %s", err.data);
	buf_release(&err);
	return set;
}

#define ONE(extra)                                                                                 \
	"[{\"name\":\"checkout\",\"service\":\"checkout\",\"objective\":99.9,\"window\":\"28d\","   \
	"\"sli\":{\"ratio\":{\"from\":\"red\",\"errors\":true}}" extra "}]"

/* Minutes [CUR - back + 1 - skip, CUR - skip]: total events each, bad_frac of them bad. */
static void fill(struct slo_set *set, int back, int skip, double total, double bad_frac)
{
	for (int i = 0; i < back; i++) {
		int64_t m = CUR - skip - i;
		assert_int_equal(slo_record(set, "checkout", m * MIN_NS, total - total * bad_frac, total), 0);
	}
}

static struct slo_status status(struct slo_set *set, int64_t now)
{
	struct slo_status st;
	assert_int_equal(slo_status_get(set, "checkout", now, &st), 0);
	return st;
}

static void test_fast_burn_pages(void **state)
{
	struct slo_set *set = make(ONE(""));
	fill(set, 60, 0, 1000, 0.0144); /* exactly 14.4x over the last hour */
	struct slo_status st = status(set, NOW);
	assert_true(fabs(st.burn[2] - 14.4) < 1e-6); /* 1h */
	assert_true(fabs(st.burn[0] - 14.4) < 1e-6); /* 5m */
	assert_true(st.page);
	assert_int_equal(st.severity, SEVERITY_PAGE);
	slo_set_destroy(set);
}

static void test_slow_burn_never_pages(void **state)
{
	struct slo_set *set = make(ONE(""));
	fill(set, 4 * 1440, 0, 1000, 0.0005); /* 0.5x for four days */
	/* evaluated at every minute of the last three days: never pages nor tickets */
	for (int64_t back = 3 * 1440; back >= 0; back -= 7) {
		struct slo_status st = status(set, NOW - back * MIN_NS);
		assert_false(st.page);
		assert_false(st.ticket);
		assert_true(st.burn[6] < 0.51);
	}
	slo_set_destroy(set);
}

static void test_medium_burn_pages_on_6h(void **state)
{
	struct slo_set *set = make(ONE(""));
	fill(set, 360, 0, 1000, 0.006); /* 6x for six hours */
	struct slo_status st = status(set, NOW);
	assert_true(fabs(st.burn[4] - 6) < 1e-6); /* 6h */
	assert_true(fabs(st.burn[1] - 6) < 1e-6); /* 30m */
	assert_true(st.page);                     /* by the 6h/30m rule, not the 1h/5m one */
	slo_set_destroy(set);
}

static void test_tickets(void **state)
{
	struct slo_set *set = make(ONE(""));
	fill(set, 1440, 0, 1000, 0.003); /* 3x for a day */
	struct slo_status st = status(set, NOW);
	assert_false(st.page);
	assert_true(st.ticket);
	assert_int_equal(st.severity, SEVERITY_TICKET);
	slo_set_destroy(set);

	set = make(ONE(""));
	fill(set, 3 * 1440, 0, 1000, 0.001); /* 1x for three days */
	st = status(set, NOW);
	assert_false(st.page);
	assert_true(st.ticket);
	slo_set_destroy(set);

	set = make(ONE(""));
	fill(set, 3 * 1440, 0, 1000, 0.0009); /* just under 1x: nothing */
	st = status(set, NOW);
	assert_false(st.page);
	assert_false(st.ticket);
	slo_set_destroy(set);
}

static void test_windows_semantics(void **state)
{
	/* a 5-minute spike at 14.4x after 55 healthy minutes: the 1h window says no */
	struct slo_set *set = make(ONE(""));
	fill(set, 55, 5, 1000, 0);
	fill(set, 5, 0, 1000, 0.0144);
	struct slo_status st = status(set, NOW);
	assert_true(st.burn[0] >= 14.4 - 1e-6);
	assert_true(fabs(st.burn[2] - 1.2) < 1e-6);
	assert_false(st.page);
	slo_set_destroy(set);

	/* an hour at 14.4x, then healthy minutes: the short windows reset the page
	 * (5 healthy minutes clear the 1h/5m rule, 30 clear the 6h/30m one too) */
	set = make(ONE(""));
	fill(set, 60, 30, 1000, 0.0144);
	fill(set, 30, 0, 1000, 0);
	st = status(set, NOW);
	assert_false(st.page);
	assert_true(st.ticket); /* the 1d/2h rule still sees 9.6x */
	st = status(set, NOW - 25 * MIN_NS);
	assert_true(st.page); /* 5 healthy minutes: 6h/30m still holds at 12x */
	assert_true(st.burn[0] == 0);
	st = status(set, NOW - 30 * MIN_NS);
	assert_true(st.page);
	slo_set_destroy(set);
}

static void test_min_events_guard(void **state)
{
	/* low traffic: 1 of 5 requests failed, a 200x burn, yet fewer than 10 events */
	struct slo_set *set = make(ONE(""));
	assert_int_equal(slo_record(set, "checkout", CUR * MIN_NS, 4, 5), 0);
	struct slo_status st = status(set, NOW);
	assert_true(st.burn[0] > 100);
	assert_false(st.page);
	assert_false(st.ticket);
	slo_set_destroy(set);

	set = make(ONE(",\"min_events\":5"));
	assert_int_equal(slo_record(set, "checkout", CUR * MIN_NS, 4, 5), 0);
	st = status(set, NOW);
	assert_true(st.page);
	slo_set_destroy(set);
}

static void test_configurable_thresholds(void **state)
{
	struct slo_set *set = make(ONE(",\"alerts\":{\"page\":[{\"long\":\"1h\",\"short\":\"5m\",\"burn_rate\":2}],"
				      "\"ticket\":[]}"));
	fill(set, 60, 0, 1000, 0.003); /* 3x: pages at a threshold of 2 */
	struct slo_status st = status(set, NOW);
	assert_true(st.page);
	assert_false(st.ticket);
	slo_set_destroy(set);
}

static void test_budget_occurrences(void **state)
{
	struct slo_set *set = make(ONE(""));
	fill(set, 1000, 0, 1000, 0.0005); /* 1e6 events, 500 bad, 1000 allowed */
	struct slo_status st = status(set, NOW);
	assert_true(fabs(st.total - 1e6) < 1e-6);
	assert_true(fabs(st.budget_remaining - 0.5) < 1e-9);
	assert_true(fabs(st.budget_remaining_events - 500) < 1e-6);
	assert_true(fabs(st.sli - 0.9995) < 1e-12);
	slo_set_destroy(set);

	/* no events: the whole budget is left and the SLI is unknown */
	set = make(ONE(""));
	st = status(set, NOW);
	assert_true(st.budget_remaining == 1);
	assert_true(isnan(st.sli));
	assert_true(st.burn[0] == 0);
	slo_set_destroy(set);
}

static void test_budget_timeslices(void **state)
{
	struct slo_set *set = make("[{\"name\":\"checkout\",\"service\":\"checkout\",\"objective\":99,"
				   "\"window\":\"7d\",\"budgeting\":\"timeslices\",\"timeslice\":\"1m\","
				   "\"timeslice_target\":0.95,\"sli\":{\"latency\":{\"threshold\":\"300ms\"}}}]");
	/* 10080 one-minute slices, 1% of them (100.8) may be bad */
	fill(set, 100, 0, 100, 0.05);  /* exactly 95% good: good slices */
	fill(set, 10, 200, 100, 0.10); /* 90% good: 10 bad slices */
	struct slo_status st = status(set, NOW);
	assert_true(fabs(st.budget_remaining - (1 - 10 / 100.8)) < 1e-9);
	assert_true(fabs(st.budget_remaining_minutes - 90.8) < 1e-9);
	assert_true(fabs(st.sli - (1 - 10 / 10080.0)) < 1e-12);
	/* 30m window: 30 slices, none bad */
	assert_true(st.burn[1] == 0);
	/* 6h window: 360 slices, 10 bad: burn = (10/360)/0.01 */
	assert_true(fabs(st.burn[4] - (10.0 / 360) / 0.01) < 1e-6);
	slo_set_destroy(set);

	/* 5-minute slices: a bad minute spoils its slice only if the slice falls under the target */
	set = make("[{\"name\":\"checkout\",\"service\":\"checkout\",\"objective\":99,\"window\":\"1d\","
		   "\"budgeting\":\"timeslices\",\"timeslice\":\"5m\",\"timeslice_target\":0.9,"
		   "\"sli\":{\"ratio\":{}}}]");
	int64_t base = (CUR / 5) * 5 - 10; /* a whole slice, closed */
	for (int i = 0; i < 5; i++)
		assert_int_equal(slo_record(set, "checkout", (base + i) * MIN_NS, i == 0 ? 60 : 100, 100), 0);
	st = status(set, NOW);
	assert_true(st.budget_remaining == 1); /* 460/500 = 92% >= 90% */
	assert_int_equal(slo_record(set, "checkout", (base + 1) * MIN_NS, 70, 100), 0);
	st = status(set, NOW);
	assert_true(fabs(st.budget_remaining - (1 - 1 / (0.01 * 288))) < 1e-9); /* 430/500 */
	slo_set_destroy(set);
}

static void test_ring_wraps(void **state)
{
	struct slo_set *set = make(ONE(""));
	int64_t ring = SLO_RING_MINUTES;
	assert_int_equal(slo_record(set, "checkout", (CUR - ring) * MIN_NS, 0, 1000), 0);
	struct slo_status st = status(set, (CUR - ring) * MIN_NS + 1);
	assert_true(st.burn[0] > 900);
	/* the same ring place, 30 days later: the old minute is gone */
	assert_int_equal(slo_record(set, "checkout", CUR * MIN_NS, 1000, 1000), 0);
	st = status(set, (CUR - ring) * MIN_NS + 1);
	assert_true(st.burn[0] == 0);
	st = status(set, NOW);
	assert_true(st.burn[0] == 0);
	assert_true(fabs(st.total - 1000) < 1e-9);
	/* and a minute older than the ring can hold is refused */
	assert_int_equal(slo_record(set, "checkout", (CUR - ring) * MIN_NS, 0, 1), OODA_EINVAL);
	/* a full 30 days: every minute lands, the window sums 28 days of them */
	for (int64_t m = CUR - ring + 1; m <= CUR; m++)
		assert_int_equal(slo_record(set, "checkout", m * MIN_NS, 9, 10), 0);
	st = status(set, NOW);
	assert_true(fabs(st.total - 28 * 1440 * 10.0) < 1e-6);
	assert_true(fabs(st.burn[6] - 100) < 1e-6);
	assert_int_equal(slo_record(set, "nope", NOW, 1, 1), OODA_ENOTFOUND);
	assert_int_equal(slo_record(set, "checkout", NOW, 2, 1), OODA_EINVAL);
	slo_set_destroy(set);
}

struct recorder {
	int n, active_page, active_ticket;
	char last_name[80];
	double burn_1h;
};

static void record_signal(void *ctx, const struct alert_signal *s)
{
	struct recorder *r = ctx;
	r->n++;
	snprintf(r->last_name, sizeof(r->last_name), "%s", s->name);
	assert_string_equal(s->source, "slo");
	assert_non_null(s->evidence);
	r->burn_1h = json_real_value(json_object_get(json_object_get(s->evidence, "burn_rates"), "1h"));
	assert_non_null(json_object_get(s->evidence, "budget_remaining"));
	if (s->active && s->severity == SEVERITY_PAGE)
		r->active_page++;
	if (s->active && s->severity == SEVERITY_TICKET)
		r->active_ticket++;
}

static void test_tick_signals(void **state)
{
	struct slo_set *set = make(ONE(""));
	struct recorder r = { 0 };
	struct alert_sink sink = { record_signal, &r };
	slo_tick(set, NOW, &sink);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.active_page + r.active_ticket, 0);
	fill(set, 60, 0, 1000, 0.05);
	slo_tick(set, NOW, &sink);
	assert_int_equal(r.n, 4);
	assert_int_equal(r.active_page, 1);
	assert_int_equal(r.active_ticket, 1);
	assert_string_equal(r.last_name, "slo:checkout");
	assert_true(fabs(r.burn_1h - 50) < 1e-6);
	slo_set_destroy(set);
}

static void test_json(void **state)
{
	struct slo_set *set = make(ONE(""));
	fill(set, 120, 0, 100, 0.02);
	struct buf out = BUF_INIT, err = BUF_INIT;
	assert_int_equal(slo_get_json(set, "checkout", NOW, &out, &err), 0);
	json_t *j = json_loads(out.data, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "alert"), "state")), "page");
	json_t *bd = json_object_get(j, "burn_down");
	assert_true(json_array_size(bd) >= 28 * 24);
	double last = json_number_value(json_object_get(json_array_get(bd, json_array_size(bd) - 1), "remaining"));
	if (fabs(last - (1 - 0.02 / 0.001)) > 1e-6)
		fail_msg("last burn-down point %g", last);
	json_decref(j);
	buf_reset(&out);
	assert_int_equal(slo_list_json(set, NOW, &out, &err), 0);
	j = json_loads(out.data, 0, NULL);
	assert_int_equal(json_array_size(json_object_get(j, "slos")), 1);
	json_decref(j);
	buf_reset(&out);
	assert_int_equal(slo_get_json(set, "nope", NOW, &out, &err), OODA_ENOTFOUND);
	buf_release(&out);
	buf_release(&err);
	slo_set_destroy(set);
}

/* slos[].description is kept and shown, not accepted and dropped. */
static void test_description(void **state)
{
	struct slo_set *set = make(ONE(",\"description\":\"checkout answers without errors\""));
	struct buf out = BUF_INIT, err = BUF_INIT;
	assert_int_equal(slo_get_json(set, "checkout", NOW, &out, &err), 0);
	json_t *j = json_loads(out.data, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(j, "description")), "checkout answers without errors");
	json_decref(j);
	buf_reset(&out);
	slo_set_destroy(set);
	set = make(ONE(""));
	assert_int_equal(slo_get_json(set, "checkout", NOW, &out, &err), 0);
	j = json_loads(out.data, 0, NULL);
	assert_true(json_is_null(json_object_get(j, "description")));
	json_decref(j);
	buf_release(&out);
	buf_release(&err);
	slo_set_destroy(set);
}

/* Collects the names and activity of the signals of one tick. */
struct seen {
	int n;
	char names[8][80];
	bool active[8];
};

static void see_signal(void *ctx, const struct alert_signal *s)
{
	struct seen *r = ctx;
	if (r->n < 8) {
		snprintf(r->names[r->n], sizeof(r->names[0]), "%s", s->name);
		r->active[r->n] = s->active;
	}
	r->n++;
}

static void test_apply(void **state)
{
	struct slo_set *set = make(ONE(",\"alerts\":{\"ticket\":[]}") /* checkout: page rules only */);
	fill(set, 60, 0, 1000, 0.05); /* 50x: pages */
	assert_int_equal(slo_record(set, "checkout", CUR * MIN_NS, 950, 1000), 0);
	struct seen r = { 0 };
	struct alert_sink sink = { see_signal, &r };
	slo_tick(set, NOW, &sink);
	assert_true(status(set, NOW).page);

	/* checkout's objective changes, "search" is added: checkout keeps its minutes */
	struct buf changes = BUF_INIT, err = BUF_INIT;
	const char *two = "[{\"name\":\"checkout\",\"service\":\"checkout\",\"objective\":90,"
			  "\"sli\":{\"ratio\":{}}},"
			  "{\"name\":\"search\",\"service\":\"search\",\"objective\":99,\"sli\":{\"ratio\":{}}}]";
	assert_int_equal(slo_set_apply(set, two, &changes, &err), 0);
	assert_string_equal(changes.data, "added search; changed checkout");
	assert_int_equal(slo_set_count(set), 2);
	struct slo_status st = status(set, NOW);
	assert_true(fabs(st.total - 60000) < 1e-6);           /* the counts stayed */
	assert_true(fabs(st.burn[2] - 0.05 / 0.1) < 1e-9);     /* and burn against the new objective */
	assert_false(st.page);
	assert_int_equal(slo_record(set, "search", NOW, 1, 1), 0);

	/* the same list again changes nothing */
	buf_reset(&changes);
	assert_int_equal(slo_set_apply(set, two, &changes, &err), 0);
	assert_int_equal((int)changes.len, 0);

	/* a bad section changes nothing and names the key */
	assert_int_equal(slo_set_apply(set, "[{\"name\":\"x\",\"service\":\"a\",\"objective\":120,"
					     "\"sli\":{\"ratio\":{}}}]",
				       &changes, &err),
			 OODA_EINVAL);
	assert_non_null(strstr(err.data, "slos[0].objective"));
	assert_int_equal(slo_set_count(set), 2);
	assert_int_equal((int)changes.len, 0);

	/* checkout is removed: the next tick reports it inactive, then never again */
	assert_int_equal(slo_set_apply(set, "[{\"name\":\"search\",\"service\":\"search\",\"objective\":99,"
					     "\"sli\":{\"ratio\":{}}}]",
				       &changes, &err),
			 0);
	assert_string_equal(changes.data, "removed checkout");
	assert_int_equal(slo_record(set, "checkout", NOW, 1, 1), OODA_ENOTFOUND);
	struct slo_status s2;
	assert_int_equal(slo_status_get(set, "search", NOW, &s2), 0);
	assert_true(fabs(s2.total - 1) < 1e-9); /* search kept what it counted */
	memset(&r, 0, sizeof(r));
	slo_tick(set, NOW, &sink);
	assert_int_equal(r.n, 4); /* checkout page + ticket (inactive), search page + ticket */
	int checkout = 0;
	for (int i = 0; i < 4; i++)
		if (!strcmp(r.names[i], "slo:checkout")) {
			checkout++;
			assert_false(r.active[i]);
		}
	assert_int_equal(checkout, 2);
	memset(&r, 0, sizeof(r));
	slo_tick(set, NOW, &sink);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.names[0], "slo:search");

	/* and no slos at all */
	buf_reset(&changes);
	assert_int_equal(slo_set_apply(set, NULL, &changes, &err), 0);
	assert_string_equal(changes.data, "removed search");
	assert_int_equal(slo_set_count(set), 0);
	buf_release(&changes);
	buf_release(&err);
	slo_set_destroy(set);
}

static const struct {
	const char *json;
	const char *want; /* in the error */
} bad_configs[] = {
	{ "{}", "slos: must be a list" },
	{ "[{\"service\":\"a\",\"objective\":99,\"sli\":{\"ratio\":{}}}]", "slos[0].name" },
	{ "[{\"name\":\"a\",\"service\":\"a\",\"objective\":100,\"sli\":{\"ratio\":{}}}]", "slos[0].objective" },
	{ "[{\"name\":\"a\",\"service\":\"a\",\"objective\":\"abc\",\"sli\":{\"ratio\":{}}}]", "slos[0].objective" },
	{ "[{\"name\":\"a\",\"service\":\"a\",\"objective\":99,\"window\":\"31d\",\"sli\":{\"ratio\":{}}}]",
	  "slos[0].window" },
	{ "[{\"name\":\"a\",\"service\":\"a\",\"objective\":99,\"budgeting\":\"weird\",\"sli\":{\"ratio\":{}}}]",
	  "slos[0].budgeting" },
	{ "[{\"name\":\"a\",\"service\":\"a\",\"objective\":99}]", "slos[0].sli: is required" },
	{ "[{\"name\":\"a\",\"service\":\"a\",\"objective\":99,\"sli\":{\"latency\":{\"threshold\":\"fast\"}}}]",
	  "slos[0].sli.latency.threshold" },
	{ "[{\"name\":\"a\",\"objective\":99,\"sli\":{\"promql\":{\"good\":\"sum(\",\"total\":\"x\"}}}]",
	  "slos[0].sli.promql.good" },
	{ "[{\"name\":\"a\",\"objective\":99,\"sli\":{\"promql\":{\"good\":\"x\",\"bad\":\"y\",\"total\":\"x\"}}}]",
	  "slos[0].sli.promql" },
	{ "[{\"name\":\"a\",\"objective\":99,\"sli\":{\"ratio\":{}}}]", "slos[0].service" },
	{ "[{\"name\":\"a\",\"service\":\"a\",\"objective\":99,\"sli\":{\"ratio\":{}},"
	  "\"alerts\":{\"page\":[{\"long\":\"5m\",\"short\":\"1h\",\"burn_rate\":2}]}}]",
	  "slos[0].alerts.page[0].short" },
	{ "[{\"name\":\"a\",\"service\":\"a\",\"objective\":99,\"sli\":{\"ratio\":{}},"
	  "\"alerts\":{\"page\":[{\"long\":\"1h\",\"short\":\"5m\",\"burn_rate\":-1}]}}]",
	  "slos[0].alerts.page[0].burn_rate" },
	{ "[{\"name\":\"a\",\"service\":\"a\",\"objective\":99,\"sli\":{\"ratio\":{}}},"
	  "{\"name\":\"a\",\"service\":\"b\",\"objective\":99,\"sli\":{\"ratio\":{}}}]",
	  "slos[1].name" },
	{ "[{\"name\":\"a\",\"service\":\"a\",\"objective\":99,\"timeslice\":\"1m\",\"sli\":{\"ratio\":{}}}]",
	  "slos[0].timeslice" },
};

static void test_config_errors(void **state)
{
	for (size_t i = 0; i < sizeof(bad_configs) / sizeof(bad_configs[0]); i++) {
		struct buf err = BUF_INIT;
		int rc = slo_config_check(bad_configs[i].json, &err);
		if (rc != OODA_EINVAL || !strstr(err.data, bad_configs[i].want))
			fail_msg("case %zu: rc %d, err \"%s\", want \"%s\"", i, rc, err.data, bad_configs[i].want);
		buf_release(&err);
	}
	struct buf err = BUF_INIT;
	assert_int_equal(slo_config_check(NULL, &err), 0);
	assert_int_equal(slo_config_check("null", &err), 0);
	assert_int_equal(slo_config_check("[{\"name\":\"p\",\"objective\":\"99.5\",\"sli\":{\"promql\":{"
					  "\"bad\":\"sum(increase(http_requests_total{code=~\\\"5..\\\"}[1m]))\","
					  "\"total\":\"sum(increase(http_requests_total[1m]))\"}}}]",
					  &err),
			 0);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fast_burn_pages),
		cmocka_unit_test(test_slow_burn_never_pages),
		cmocka_unit_test(test_medium_burn_pages_on_6h),
		cmocka_unit_test(test_tickets),
		cmocka_unit_test(test_windows_semantics),
		cmocka_unit_test(test_min_events_guard),
		cmocka_unit_test(test_configurable_thresholds),
		cmocka_unit_test(test_budget_occurrences),
		cmocka_unit_test(test_budget_timeslices),
		cmocka_unit_test(test_ring_wraps),
		cmocka_unit_test(test_tick_signals),
		cmocka_unit_test(test_json), cmocka_unit_test(test_description),
		cmocka_unit_test(test_apply),
		cmocka_unit_test(test_config_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
