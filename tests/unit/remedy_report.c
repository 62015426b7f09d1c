/*
 * Unit tests for the automation report's arithmetic (remedy/report.h):
 * runs grouped by policy and by recipe; success rate over finished runs;
 * recovery from the trigger to the move into succeeded, its median and
 * p90 by nearest rank; undo count; guardrail hits named from the refusal;
 * false activations only for runs that acted on a false-positive incident;
 * runs on drill incidents and before `since` left out; the Prometheus lines.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "core/time.h"
#include "remedy/report.h"

#define S INT64_C(1000000000)
#define T0 (INT64_C(1800000000) * S)

/* A run of policy created at T0 + at_s, triggered then, ending in status after dur_s. */
static json_t *run(const char *policy, const char *recipe, const char *status, int at_s, int dur_s, const char *incident,
		   const char *reason, bool acted)
{
	char end[40];
	ooda_time_format(T0 + (int64_t)(at_s + dur_s) * S, end, sizeof(end));
	json_t *r = json_pack("{ss ss sI s{sI} s[{ss ss}] sb}", "policy", policy, "status", status, "created_unix_nano",
			      (json_int_t)(T0 + (int64_t)at_s * S), "trigger", "at_ns", (json_int_t)(T0 + (int64_t)at_s * S),
			      "history", "to", status, "at", end, "acted", acted);
	json_object_set_new(r, "recipes", recipe ? json_pack("[s]", recipe) : json_array());
	if (incident)
		json_object_set_new(r, "incident", json_string(incident));
	if (reason)
		json_object_set_new(r, "reason", json_string(reason));
	return r;
}

static json_t *grp(json_t *rep, const char *list, const char *name)
{
	size_t i;
	json_t *g;
	json_array_foreach(json_object_get(rep, list), i, g)
		if (!strcmp(json_string_value(json_object_get(g, "name")), name))
			return g;
	fail_msg("no group %s in %s", name, list);
	return NULL;
}

static json_int_t ival(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static void test_report_numbers(void **state)
{
	(void)state;
	json_t *runs = json_array();
	/* restart: 4 succeeded in 10, 20, 30, 40 s; one failed and undone; one refused by cooldown, one by pause */
	for (int i = 1; i <= 4; i++)
		json_array_append_new(runs, run("restart", "restart-instance", "succeeded", 100 * i, 10 * i, "INC-1", NULL, true));
	json_array_append_new(runs, run("restart", "restart-instance", "undone", 600, 5, "INC-2", NULL, true));
	json_array_append_new(runs, run("restart", "restart-instance", "refused", 700, 0, "INC-2",
					"cooldown: the last run acted 2s ago (cooldown 10m)", false));
	json_array_append_new(runs, run("restart", "restart-instance", "refused", 800, 0, "INC-3",
					"automation is paused by token:alice: storm drill", false));
	/* shed: one succeeded on a drill incident (left out), one before since (left out), one failed */
	json_array_append_new(runs, run("shed", NULL, "succeeded", 900, 1, "INC-D", NULL, true));
	json_array_append_new(runs, run("shed", NULL, "succeeded", -100, 1, NULL, NULL, true));
	json_array_append_new(runs, run("shed", NULL, "failed", 950, 3, "INC-1", "step 0 failed", true));
	json_t *incidents = json_pack("[{ss sb} {ss s{ss}} {ss}]", "id", "INC-1", "false_positive", true, "id", "INC-D", "tags",
				      "drill", "true", "id", "INC-2");
	json_t *rep = NULL;
	assert_int_equal(report_compute(runs, incidents, T0, &rep), 0);
	assert_int_equal(ival(rep, "runs"), 8);
	assert_int_equal(ival(rep, "drills_excluded"), 1);
	json_t *g = grp(rep, "policies", "restart");
	assert_int_equal(ival(g, "runs"), 7);
	assert_int_equal(ival(g, "succeeded"), 4);
	assert_int_equal(ival(g, "finished"), 5);
	assert_float_equal(json_real_value(json_object_get(g, "success_rate")), 0.8, 1e-9);
	json_t *rs = json_object_get(g, "recovery_seconds");
	assert_int_equal(ival(rs, "count"), 4);
	assert_float_equal(json_real_value(json_object_get(rs, "median")), 20, 1e-6);
	assert_float_equal(json_real_value(json_object_get(rs, "p90")), 40, 1e-6);
	assert_float_equal(json_real_value(json_object_get(rs, "sum")), 100, 1e-6);
	assert_int_equal(ival(g, "undone"), 1);
	assert_int_equal(ival(json_object_get(g, "guardrail_hits"), "cooldown"), 1);
	assert_int_equal(ival(json_object_get(g, "guardrail_hits"), "pause"), 1);
	assert_int_equal(ival(json_object_get(g, "by_status"), "refused"), 2);
	/* INC-1 was a false positive: the 4 runs that acted on it */
	assert_int_equal(ival(g, "false_activations"), 4);
	json_t *sh = grp(rep, "policies", "shed");
	assert_int_equal(ival(sh, "runs"), 1);
	assert_float_equal(json_real_value(json_object_get(sh, "success_rate")), 0, 1e-9);
	assert_true(json_is_null(json_object_get(json_object_get(sh, "recovery_seconds"), "median")));
	assert_int_equal(ival(sh, "false_activations"), 1);
	json_t *rc = grp(rep, "recipes", "restart-instance");
	assert_int_equal(ival(rc, "runs"), 7);
	assert_int_equal(json_array_size(json_object_get(rep, "recipes")), 1);

	struct buf prom = BUF_INIT;
	report_prometheus(rep, &prom);
	assert_non_null(strstr(prom.data, "ooda_remedy_runs_total{policy=\"restart\",status=\"succeeded\"} 4\n"));
	assert_non_null(strstr(prom.data, "ooda_remedy_runs_total{policy=\"restart\",status=\"undone\"} 1\n"));
	assert_non_null(strstr(prom.data, "ooda_remedy_recovery_seconds{policy=\"restart\",quantile=\"0.9\"} 40.000\n"));
	assert_non_null(strstr(prom.data, "ooda_remedy_recovery_seconds_count{policy=\"restart\"} 4\n"));
	assert_non_null(strstr(prom.data, "ooda_remedy_guardrail_hits_total{policy=\"restart\",guardrail=\"cooldown\"} 1\n"));
	assert_null(strstr(prom.data, "quantile=\"0.5\"} 0.000"));
	buf_release(&prom);
	json_decref(rep);
	json_decref(incidents);
	json_decref(runs);
}

static void test_guardrail_names(void **state)
{
	(void)state;
	static const struct {
		const char *reason, *want;
	} cases[] = {
		{ "cooldown: the last run acted 2s ago (cooldown 10m)", "cooldown" },
		{ "max runs: 3 runs acted in the last 1h (max_runs 3)", "max_runs" },
		{ "max concurrent: 1 runs active (max_concurrent 1)", "max_concurrent" },
		{ "blast radius: 3 services touched in the last 1h (max_services 2)", "max_services" },
		{ "circuit breaker open: the last 3 runs of v1 failed", "breaker" },
		{ "automation is paused by token:a: x", "pause" },
		{ "precondition business_hours failed", "precondition" },
		{ "no approval request could be filed", "other" },
		{ NULL, "other" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_string_equal(report_guardrail_of(cases[i].reason), cases[i].want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_report_numbers),
		cmocka_unit_test(test_guardrail_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
