/*
 * Unit tests for the postmortem draft: every section is there, the
 * confirmed hypothesis is the root cause and the rejected one is ruled out,
 * the numbers (impact, times relative to onset, time to detect/ack/mitigate/
 * resolve) are the incident's, placeholders are marked, and no blame
 * language slips in.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/error.h"
#include "respond/postmortem.h"

static json_t *load(const char *s)
{
	json_error_t je;
	json_t *j = json_loads(s, 0, &je);
	if (!j)
		fail_msg("fixture: %s at %d", je.text, je.line);
	return j;
}

static const char *const incident =
	"{\"id\":\"INC-7\",\"number\":7,\"title\":\"payments: error ratio 28% (baseline 0.4%) since 14:02\","
	" \"severity\":\"SEV2\",\"status\":\"resolved\",\"service\":\"payments\",\"services\":[\"payments\",\"checkout\"],"
	" \"environment\":\"prod\",\"team\":\"payments-team\",\"runbook\":\"https://wiki/runbooks/payments\","
	" \"source\":{\"kind\":\"alert\",\"alert\":\"abc\",\"name\":\"HighErrorRate\"},"
	" \"onset_at\":\"2026-12-05T14:02:00Z\",\"opened_at\":\"2026-12-05T14:04:00Z\","
	" \"acknowledged_at\":\"2026-12-05T14:07:30Z\",\"mitigated_at\":\"2026-12-05T14:20:00Z\","
	" \"resolved_at\":\"2026-12-05T15:02:00Z\",\"reviewed_at\":null}";

static const char *const timeline =
	"{\"entries\":["
	" {\"seq\":1,\"at\":\"2026-12-05T14:03:00Z\",\"kind\":\"alert\",\"actor\":\"ooda\",\"text\":\"HighErrorRate firing on payments\"},"
	" {\"seq\":2,\"at\":\"2026-12-05T14:04:00Z\",\"kind\":\"opened\",\"actor\":\"ooda\",\"text\":\"Incident opened\"},"
	" {\"seq\":3,\"at\":\"2026-12-05T14:04:10Z\",\"kind\":\"notification\",\"actor\":\"ooda\",\"text\":\"paged alice\"},"
	" {\"seq\":4,\"at\":\"2026-12-05T14:20:00Z\",\"kind\":\"status\",\"actor\":\"alice\",\"text\":\"mitigated | rolled back\"}]}";

static const char *const hypotheses =
	"{\"hypotheses\":["
	" {\"id\":\"H1\",\"statement\":\"DNS resolver outage\",\"confidence\":0.3,\"evidence\":[],\"state\":\"rejected\"},"
	" {\"id\":\"H2\",\"statement\":\"deploy d-42 exhausted the connection pool\",\"confidence\":0.9,"
	"  \"evidence\":[{\"kind\":\"trace\",\"ref\":\"4bf92f3577b34da6a3ce929d0e0e4736\"}],\"state\":\"confirmed\"},"
	" {\"id\":\"H3\",\"statement\":\"retry storm from checkout amplified the load\",\"confidence\":0.6,"
	"  \"evidence\":[],\"state\":\"confirmed\"},"
	" {\"id\":\"H4\",\"statement\":\"still open idea\",\"confidence\":0.5,\"evidence\":[],\"state\":\"open\"}]}";

static const char *const summary =
	"{\"impact\":{\"services\":[{\"service\":\"payments\",\"baseline\":{\"requests\":1000,\"error_ratio\":0.004,"
	"  \"p90_ms\":120},\"incident\":{\"requests\":4200,\"error_ratio\":0.28,\"p90_ms\":950}}],"
	"  \"requests\":4200,\"errors\":1176,\"affected_users\":312,"
	"  \"slo_budget\":[{\"slo\":\"payments-availability\",\"burned\":0.42}]},"
	" \"changes\":[{\"id\":\"d-42\",\"kind\":\"deploy\",\"service\":\"payments\",\"version\":\"1.4.2\",\"before_onset_s\":240}],"
	" \"suspects\":[]}";

static const char *const actions =
	"[{\"key\":\"INC-7/A1\",\"title\":\"Alert on pool saturation\",\"owner\":\"payments-team\",\"due\":\"2026-12-19\","
	"  \"status\":\"open\",\"incident\":\"INC-7\"}]";

static void render(const char *inc, const char *tl, const char *hy, const char *su, const char *ac, struct buf *md)
{
	json_t *a = load(inc), *b = tl ? load(tl) : NULL, *c = hy ? load(hy) : NULL, *d = su ? load(su) : NULL,
	       *e = ac ? load(ac) : NULL;
	struct buf err = BUF_INIT;
	assert_int_equal(postmortem_render(a, b, c, d, e, md, &err), 0);
	json_decref(a);
	json_decref(b);
	json_decref(c);
	json_decref(d);
	json_decref(e);
	buf_release(&err);
}

static void test_every_section(void **state)
{
	(void)state;
	struct buf md = BUF_INIT;
	render(incident, timeline, hypotheses, summary, actions, &md);
	static const char *const sections[] = {
		"# Postmortem: INC-7 — payments: error ratio 28% (baseline 0.4%) since 14:02\n",
		"## Summary\n", "## Impact\n", "## Timeline\n", "## Root cause and contributing factors\n",
		"## Detection and response\n", "## What went well\n", "## What went wrong\n", "## Action items\n",
	};
	const char *prev = md.data;
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		const char *p = strstr(md.data, sections[i]);
		if (!p)
			fail_msg("missing section %s in:\n%s", sections[i], md.data);
		assert_true(p >= prev); /* in order */
		prev = p;
	}
	assert_non_null(strstr(md.data, POSTMORTEM_TODO));
	assert_non_null(strstr(md.data, "blameless"));
	/* no blame language */
	static const char *const blame[] = { "fault of", "careless", "human error", "should have known", "negligen" };
	for (size_t i = 0; i < sizeof(blame) / sizeof(blame[0]); i++)
		assert_null(strstr(md.data, blame[i]));
	buf_release(&md);
}

static void test_root_cause_from_confirmed(void **state)
{
	(void)state;
	struct buf md = BUF_INIT;
	render(incident, timeline, hypotheses, summary, actions, &md);
	assert_non_null(strstr(md.data, "**Root cause (confirmed):** deploy d-42 exhausted the connection pool "
					 "(evidence: trace `4bf92f3577b34da6a3ce929d0e0e4736`)\n"));
	assert_non_null(strstr(md.data, "**Contributing factors (confirmed):**\n\n- retry storm from checkout"));
	assert_non_null(strstr(md.data, "**Ruled out:**\n\n- DNS resolver outage\n"));
	assert_null(strstr(md.data, "still open idea"));
	buf_release(&md);
	/* nothing confirmed: a placeholder instead of a root cause */
	render(incident, timeline, NULL, NULL, NULL, &md);
	assert_non_null(strstr(md.data, "No hypothesis has been confirmed yet.\n\n" POSTMORTEM_TODO " the root cause"));
	assert_non_null(strstr(md.data, "No action items yet."));
	buf_release(&md);
}

static void test_numbers(void **state)
{
	(void)state;
	struct buf md = BUF_INIT;
	render(incident, timeline, hypotheses, summary, actions, &md);
	/* impact */
	assert_non_null(strstr(md.data, "| payments | 0.40% → 28.00% | 120 ms → 950 ms | 4200 |"));
	assert_non_null(strstr(md.data, "**Requests during the incident:** 4200 (1176 failed)"));
	assert_non_null(strstr(md.data, "**Distinct users with a failed request:** 312"));
	assert_non_null(strstr(md.data, "42.0% of the error budget burned"));
	assert_non_null(strstr(md.data, "**Duration (onset to resolved):** 1h 00m 00s"));
	/* timeline: relative to onset 14:02 and absolute UTC */
	assert_non_null(strstr(md.data, "| +1m 00s | 2026-12-05 14:03:00 UTC | *alert* HighErrorRate firing on payments | ooda |"));
	assert_non_null(strstr(md.data, "| +18m 00s | 2026-12-05 14:20:00 UTC | *status* mitigated \\| rolled back | alice |"));
	/* detection and response: detect 1 m (alert), ack 3 m 30 s after open, mitigate 18 m, resolve 1 h */
	assert_non_null(strstr(md.data, "| Time to detect (onset → first alert) | 1m 00s |"));
	assert_non_null(strstr(md.data, "| Time to acknowledge (opened → acknowledged) | 3m 30s |"));
	assert_non_null(strstr(md.data, "| Time to mitigate (onset → mitigated) | 18m 00s |"));
	assert_non_null(strstr(md.data, "| Time to resolve (onset → resolved) | 1h 00m 00s |"));
	/* derived lessons */
	assert_non_null(strstr(md.data, "- Detected by monitoring (alert: HighErrorRate) before any manual report."));
	assert_non_null(strstr(md.data, "- Responders were notified"));
	assert_non_null(strstr(md.data, "- A runbook was at hand: https://wiki/runbooks/payments"));
	assert_non_null(strstr(md.data, "- Acknowledged within 3m 30s."));
	assert_non_null(strstr(md.data, "A change (deploy 1.4.2 on payments) went out 240 s before the onset"));
	/* action items table */
	assert_non_null(strstr(md.data, "| INC-7/A1 | Alert on pool saturation | payments-team | 2026-12-19 | open |"));
	buf_release(&md);
}

static void test_went_wrong_derived(void **state)
{
	(void)state;
	struct buf md = BUF_INIT;
	render("{\"id\":\"INC-8\",\"title\":\"t\",\"service\":\"a\",\"source\":{\"kind\":\"manual\"},\"runbook\":null,"
	       "\"onset_at\":\"2026-12-05T10:00:00Z\",\"opened_at\":\"2026-12-05T10:30:00Z\"}",
	       NULL, NULL, NULL, NULL, &md);
	const char *wrong = strstr(md.data, "## What went wrong\n");
	assert_non_null(wrong);
	assert_non_null(strstr(wrong, "opened by hand"));
	assert_non_null(strstr(wrong, "No notification was recorded"));
	assert_non_null(strstr(wrong, "No runbook was linked"));
	assert_non_null(strstr(wrong, "never acknowledged"));
	assert_non_null(strstr(md.data, "| Time to resolve (onset → resolved) | not reached |"));
	assert_non_null(strstr(md.data, "| Time to detect (onset → first alert) | 30m 00s |"));
	buf_release(&md);
	json_t *arr = json_array();
	struct buf err = BUF_INIT;
	assert_int_equal(postmortem_render(arr, NULL, NULL, NULL, NULL, &md, &err), OODA_EINVAL);
	assert_non_null(strstr(err.data, "incident"));
	json_decref(arr);
	buf_release(&err);
	buf_release(&md);
}

/* The Automation section: each run from the timeline's remediation entries, runbook steps done; absent when none ran. */
static void test_automation_section(void **state)
{
	(void)state;
	static const char *const tl =
		"{\"entries\":["
		" {\"at\":\"2026-12-05T14:05:00Z\",\"kind\":\"remediation\",\"actor\":\"policy:restart@v2\",\"text\":\"created\","
		"  \"data\":{\"run\":\"run-1\",\"policy\":\"restart\",\"policy_version\":2,\"status\":\"running\"}},"
		" {\"at\":\"2026-12-05T14:05:30Z\",\"kind\":\"remediation\",\"actor\":\"token:bob\","
		"  \"text\":\"runbook pay step 1 done by token:bob: Check the dashboard\","
		"  \"data\":{\"runbook_run\":\"rbr-1\",\"runbook\":\"pay\",\"step\":1}},"
		" {\"at\":\"2026-12-05T14:06:12Z\",\"kind\":\"remediation\",\"actor\":\"policy:restart@v2\",\"text\":\"ended\","
		"  \"data\":{\"run\":\"run-1\",\"policy\":\"restart\",\"policy_version\":2,\"status\":\"succeeded\"}}]}";
	struct buf md = BUF_INIT;
	render(incident, tl, NULL, NULL, NULL, &md);
	const char *sec = strstr(md.data, "## Automation\n");
	assert_non_null(sec);
	assert_non_null(strstr(sec, "| run-1 | restart | succeeded | 1m 12s |"));
	assert_non_null(strstr(sec, "- runbook pay step 1 done by token:bob: Check the dashboard\n"));
	assert_true(sec < strstr(md.data, "## Action items"));
	buf_release(&md);
	render(incident, timeline, NULL, NULL, NULL, &md);
	assert_null(strstr(md.data, "## Automation"));
	buf_release(&md);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_section),
		cmocka_unit_test(test_automation_section),
		cmocka_unit_test(test_root_cause_from_confirmed),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_went_wrong_derived),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
