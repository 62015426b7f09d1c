/*
 * Unit tests for the reliability report: MTTD/MTTA/MTTM/MTTR on hand-made
 * incidents with known answers (means and medians exact), drills left out,
 * recurrence of the same service and cause, ISO weeks across a year end,
 * and the Prometheus lines /metrics serves.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/error.h"
#include "core/time.h"
#include "respond/reliability.h"

static int64_t at(const char *s)
{
	int64_t ns;
	assert_int_equal(ooda_time_parse(s, strlen(s), &ns), 0);
	return ns;
}

/* Three incidents and a drill in one week; one incident outside the period. */
static const char *const incidents_json =
	"["
	/* onset 10:00, alert 10:02, opened 10:03, ack 10:05, mitigated 10:20, resolved 11:00 */
	"{\"id\":\"INC-1\",\"service\":\"payments\",\"source\":{\"kind\":\"alert\",\"name\":\"HighErrorRate\"},"
	" \"onset_at\":\"2026-12-01T10:00:00Z\",\"opened_at\":\"2026-12-01T10:03:00Z\","
	" \"acknowledged_at\":\"2026-12-01T10:05:00Z\",\"mitigated_at\":\"2026-12-01T10:20:00Z\","
	" \"resolved_at\":\"2026-12-01T11:00:00Z\",\"tags\":{}},"
	/* onset 12:00, no alert in the timeline: detected = opened 12:06; ack 12:16; resolved 12:30 */
	"{\"id\":\"INC-2\",\"service\":\"checkout\",\"source\":{\"kind\":\"manual\"},"
	" \"onset_at\":\"2026-12-02T12:00:00Z\",\"opened_at\":\"2026-12-02T12:06:00Z\","
	" \"acknowledged_at\":\"2026-12-02T12:16:00Z\",\"mitigated_at\":null,"
	" \"resolved_at\":\"2026-12-02T12:30:00Z\"},"
	/* payments again with the same confirmed cause: a recurrence. alert 09:01, ack 09:10, resolved 09:40 */
	"{\"id\":\"INC-3\",\"service\":\"payments\",\"source\":{\"kind\":\"alert\",\"name\":\"Latency\"},"
	" \"onset_at\":\"2026-12-03T09:00:00Z\",\"opened_at\":\"2026-12-03T09:01:00Z\","
	" \"acknowledged_at\":\"2026-12-03T09:10:00Z\",\"mitigated_at\":\"2026-12-03T09:05:00Z\","
	" \"resolved_at\":\"2026-12-03T09:40:00Z\"},"
	/* a drill: excluded whatever its numbers */
	"{\"id\":\"INC-4\",\"service\":\"payments\",\"tags\":{\"drill\":true},"
	" \"onset_at\":\"2026-12-03T15:00:00Z\",\"opened_at\":\"2026-12-03T15:00:00Z\","
	" \"resolved_at\":\"2026-12-04T15:00:00Z\"},"
	/* before the period */
	"{\"id\":\"INC-0\",\"service\":\"payments\",\"onset_at\":\"2026-11-01T10:00:00Z\","
	" \"opened_at\":\"2026-11-01T10:00:00Z\",\"resolved_at\":\"2026-11-01T20:00:00Z\"}"
	"]";

static const char *const timelines_json =
	"{\"INC-1\":{\"entries\":["
	"  {\"seq\":1,\"at\":\"2026-12-01T10:02:00Z\",\"kind\":\"alert\",\"text\":\"HighErrorRate firing\"},"
	"  {\"seq\":2,\"at\":\"2026-12-01T10:30:00Z\",\"kind\":\"hypothesis\",\"data\":{\"id\":\"H1\","
	"   \"statement\":\"connection pool exhausted\",\"state\":\"confirmed\"}}]},"
	" \"INC-3\":[{\"seq\":1,\"at\":\"2026-12-03T09:01:00Z\",\"kind\":\"detection\",\"text\":\"p90 up\"},"
	"  {\"seq\":2,\"at\":\"2026-12-03T09:20:00Z\",\"kind\":\"hypothesis\",\"data\":{\"id\":\"H1\","
	"   \"statement\":\"connection pool exhausted\",\"state\":\"confirmed\"}}]}";

static json_t *load(const char *s)
{
	json_error_t je;
	json_t *j = json_loads(s, 0, &je);
	if (!j)
		fail_msg("fixture: %s at %d", je.text, je.line);
	return j;
}

static double num(json_t *r, const char *path1, const char *path2, const char *path3)
{
	json_t *v = json_object_get(r, path1);
	if (path2)
		v = json_object_get(v, path2);
	if (path3)
		v = json_object_get(v, path3);
	assert_true(json_is_number(v));
	return json_number_value(v);
}

static void test_mttx_exact(void **state)
{
	(void)state;
	json_t *inc = load(incidents_json), *tl = load(timelines_json), *r;
	struct buf err = BUF_INIT;
	assert_int_equal(reliability_compute(inc, tl, at("2026-11-30T00:00:00Z"), at("2026-12-07T00:00:00Z"), &r, &err),
			 0);
	assert_int_equal(json_integer_value(json_object_get(r, "incidents")), 3);
	assert_int_equal(json_integer_value(json_object_get(r, "drills_excluded")), 1);
	/* MTTD: 120 s (alert), 360 s (opened, no alert), 60 s (detection entry) */
	assert_int_equal(num(r, "overall", "mttd", "n"), 3);
	assert_float_equal(num(r, "overall", "mttd", "mean_s"), 180.0, 1e-9);
	assert_float_equal(num(r, "overall", "mttd", "median_s"), 120.0, 1e-9);
	/* MTTA: 120, 600, 540 */
	assert_float_equal(num(r, "overall", "mtta", "mean_s"), 420.0, 1e-9);
	assert_float_equal(num(r, "overall", "mtta", "median_s"), 540.0, 1e-9);
	/* MTTM: 1200, (none), 300 */
	assert_int_equal(num(r, "overall", "mttm", "n"), 2);
	assert_float_equal(num(r, "overall", "mttm", "mean_s"), 750.0, 1e-9);
	assert_float_equal(num(r, "overall", "mttm", "median_s"), 750.0, 1e-9);
	/* MTTR: 3600, 1800, 2400 */
	assert_float_equal(num(r, "overall", "mttr", "mean_s"), 2600.0, 1e-9);
	assert_float_equal(num(r, "overall", "mttr", "median_s"), 2400.0, 1e-9);
	/* per service: payments 3600 and 2400; the drill's 24 h is nowhere */
	assert_float_equal(num(json_object_get(json_object_get(r, "services"), "payments"), "mttr", "mean_s", NULL),
			   3000.0, 1e-9);
	assert_int_equal(num(r, "services", "payments", "incidents"), 2);
	assert_int_equal(num(r, "services", "checkout", "incidents"), 1);
	/* all three in ISO week 49 of 2026 */
	assert_int_equal(num(r, "per_week", "2026-W49", NULL), 3);
	json_decref(r);
	json_decref(inc);
	json_decref(tl);
	buf_release(&err);
}

static void test_recurrence(void **state)
{
	(void)state;
	json_t *inc = load(incidents_json), *tl = load(timelines_json), *r;
	struct buf err = BUF_INIT;
	assert_int_equal(reliability_compute(inc, tl, at("2026-11-30T00:00:00Z"), at("2026-12-07T00:00:00Z"), &r, &err),
			 0);
	assert_int_equal(num(r, "overall", "recurrences", NULL), 1);
	assert_int_equal(num(r, "services", "payments", "recurrences"), 1);
	assert_int_equal(num(r, "services", "checkout", "recurrences"), 0);
	json_t *rec = json_array_get(json_object_get(r, "recurring"), 0);
	assert_string_equal(json_string_value(json_object_get(rec, "service")), "payments");
	assert_string_equal(json_string_value(json_object_get(rec, "cause")), "connection pool exhausted");
	assert_int_equal(json_integer_value(json_object_get(rec, "count")), 2);
	json_decref(r);
	/* without the timelines the causes are the alert names, which differ: no recurrence */
	assert_int_equal(reliability_compute(inc, NULL, at("2026-11-30T00:00:00Z"), at("2026-12-07T00:00:00Z"), &r, &err),
			 0);
	assert_int_equal(num(r, "overall", "recurrences", NULL), 0);
	/* and MTTD falls back to opened_at for INC-1 (180 s) and INC-3 (60 s) */
	assert_float_equal(num(r, "overall", "mttd", "mean_s"), (180.0 + 360.0 + 60.0) / 3, 1e-9);
	json_decref(r);
	json_decref(inc);
	json_decref(tl);
	buf_release(&err);
}

static void test_iso_weeks(void **state)
{
	(void)state;
	static const struct {
		const char *t, *week;
	} cases[] = {
		{ "2026-12-05T14:02:00Z", "2026-W49" }, { "2021-01-03T23:59:59Z", "2020-W53" },
		{ "2021-01-04T00:00:00Z", "2021-W01" }, { "2024-12-30T12:00:00Z", "2025-W01" },
		{ "1970-01-01T00:00:00Z", "1970-W01" }, { "2027-01-01T00:00:00Z", "2026-W53" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char w[16];
		assert_string_equal(reliability_iso_week(at(cases[i].t), w, sizeof(w)), cases[i].week);
	}
}

static void test_bad_input(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	json_t *r = NULL, *obj = json_object();
	assert_int_equal(reliability_compute(obj, NULL, 0, 10, &r, &err), OODA_EINVAL);
	json_decref(obj);
	json_t *bad = load("[{\"id\":\"INC-9\",\"onset_at\":\"yesterday\"}]");
	buf_reset(&err);
	assert_int_equal(reliability_compute(bad, NULL, 0, INT64_MAX, &r, &err), OODA_EINVAL);
	assert_non_null(strstr(err.data, "onset_at"));
	assert_null(r);
	json_decref(bad);
	buf_release(&err);
}

static void test_prometheus(void **state)
{
	(void)state;
	json_t *inc = load(incidents_json), *tl = load(timelines_json), *r;
	struct buf err = BUF_INIT, out = BUF_INIT;
	assert_int_equal(reliability_compute(inc, tl, at("2026-11-30T00:00:00Z"), at("2026-12-07T00:00:00Z"), &r, &err),
			 0);
	reliability_render_prometheus(r, &out);
	assert_non_null(strstr(out.data, "# TYPE ooda_incidents_mttr_seconds gauge\n"));
	assert_non_null(strstr(out.data, "ooda_incidents_mttr_seconds{service=\"\"} 2600\n"));
	assert_non_null(strstr(out.data, "ooda_incidents_mttr_seconds{service=\"payments\"} 3000\n"));
	assert_non_null(strstr(out.data, "ooda_incidents_mttr_median_seconds{service=\"checkout\"} 1800\n"));
	assert_non_null(strstr(out.data, "ooda_incidents{service=\"payments\"} 2\n"));
	assert_non_null(strstr(out.data, "ooda_incidents_recurrences{service=\"\"} 1\n"));
	/* checkout was never mitigated: no MTTM line for it */
	assert_null(strstr(out.data, "ooda_incidents_mttm_seconds{service=\"checkout\"}"));
	json_decref(r);
	json_decref(inc);
	json_decref(tl);
	buf_release(&err);
	buf_release(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mttx_exact), cmocka_unit_test(test_recurrence), cmocka_unit_test(test_iso_weeks),
		cmocka_unit_test(test_bad_input), cmocka_unit_test(test_prometheus),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
