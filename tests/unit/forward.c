/*
 * Unit tests for the header lines of a leader's answer to a forwarded
 * request (src/api/forward.c): a table of lines with the name and value
 * the split gives, and the lines it refuses (the status line, the blank
 * line, a line starting with its colon); and which routes are the leader's
 * (api/routes.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "api/daemon.h"
#include "api/forward.h"

#include <stdio.h>

static void test_forward_header_split(void **state)
{
	(void)state;
	static const struct {
		const char *line;
		const char *name, *value; /* NULL name: refused */
	} cases[] = {
		{ "Content-Type: application/problem+json\r\n", "Content-Type", "application/problem+json" },
		{ "ETag:   \"v3\"  \r\n", "ETag", "\"v3\"" },
		{ "Retry-After:1", "Retry-After", "1" },
		{ "Location: /api/v1/runs/r-1\n", "Location", "/api/v1/runs/r-1" },
		{ "X-Empty:\r\n", "X-Empty", "" },
		{ "X-Blank: \t \r\n", "X-Blank", "" },
		{ "X-Colon: a:b: c\r\n", "X-Colon", "a:b: c" },
		{ "HTTP/1.1 200 OK\r\n", NULL, NULL },
		{ "\r\n", NULL, NULL },
		{ ": no name\r\n", NULL, NULL },
		{ "", NULL, NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct forward_header h;
		bool ok = forward_header_split(cases[i].line, strlen(cases[i].line), &h);
		if (!cases[i].name) {
			assert_false(ok);
			continue;
		}
		assert_true(ok);
		assert_int_equal(h.name_len, strlen(cases[i].name));
		assert_memory_equal(h.name, cases[i].name, h.name_len);
		assert_int_equal(h.value_len, strlen(cases[i].value));
		if (h.value_len)
			assert_memory_equal(h.value, cases[i].value, h.value_len);
	}
}

/*
 * The routes a follower forwards to the leader, and those it hands over
 * through the store when no leader answers, are exactly these: the rows
 * that carried ROUTE_LEADER and ROUTE_HANDOVER one by one before the marks
 * by path (api/routes.c leader_marks) replaced them. A mark that catches
 * one route too many (a GET of stored data, an annotation) or misses one
 * fails here.
 */
static void test_leader_routes(void **state)
{
	(void)state;
	static const struct {
		const char *route; /* "METHOD pattern" */
		bool handover;
	} want[] = {
		{ "GET /api/v1/services", false },
		{ "GET /api/v1/services/{name}", false },
		{ "GET /api/v1/anomalies", false },
		{ "GET /api/v1/rules", false },
		{ "GET /api/v1/targets", false }, /* since the leader alone scrapes a shared ClickHouse */
		{ "POST /api/v1/deploys/{id}/verify", false },
		{ "POST /api/v1/deploys/{id}/rollback", false },
		{ "POST /api/v1/rollouts", false },
		{ "POST /api/v1/rollouts/{id}/promote", false },
		{ "POST /api/v1/rollouts/{id}/abort", false },
		{ "POST /api/v1/approvals/{id}/approve", false },
		{ "POST /api/v1/approvals/{id}/reject", false },
		{ "GET /api/v1/alerts", false },
		{ "GET /api/v1/alerts/groups", false },
		{ "POST /api/v1/alerts/alertmanager", true },
		{ "GET /api/v1/alerts/{fingerprint}", false },
		{ "POST /api/v1/incidents", true },
		{ "POST /api/v1/incidents/{id}/transition", true },
		{ "POST /api/v1/incidents/{id}/commander", true },
		{ "POST /api/v1/incidents/{id}/severity", true },
		{ "POST /api/v1/silences", false },
		{ "DELETE /api/v1/silences/{id}", false },
		{ "GET /api/v1/probes", false },
		{ "GET /api/v1/probes/{service}/{name}", false },
		{ "GET /api/v1/heartbeats", false },
		{ "POST /api/v1/heartbeats/{name}", false },
		{ "GET /api/v1/slos", false },
		{ "GET /api/v1/slos/{name}", false },
		{ "POST /api/v1/runs/{id}/approve", false },
		{ "POST /api/v1/runs/{id}/reject", false },
		{ "POST /api/v1/runs/{id}/cancel", false },
		{ "GET /api/v1/policies", false },
		{ "GET /api/v1/policies/{name}", false },
		{ "PUT /api/v1/policies/{name}", false },
		{ "GET /api/v1/policies/{name}/diff", false },
		{ "POST /api/v1/policies/{name}/rollback", false },
		{ "POST /api/v1/runbooks/{name}/run", false },
		{ "GET /api/v1/runbook-runs/{id}", false },
		{ "POST /api/v1/runbook-runs/{id}/steps/{n}/done", false },
		{ "GET /api/v1/automation", false },
		{ "POST /api/v1/automation", false },
	};
	const size_t n_want = sizeof(want) / sizeof(want[0]);
	size_t leaders = 0;
	char name[256];
	for (const struct route *r = api_routes_get(); r->method; r++) {
		snprintf(name, sizeof(name), "%s %s", r->method, r->pattern);
		size_t i = 0;
		while (i < n_want && strcmp(want[i].route, name))
			i++;
		if (!(r->flags & ROUTE_LEADER)) {
			if (i < n_want)
				fail_msg("%s is no longer the leader's", name);
			if (r->flags & ROUTE_HANDOVER)
				fail_msg("%s is handed over but not the leader's", name);
			continue;
		}
		if (i == n_want)
			fail_msg("%s became the leader's", name);
		if (!!(r->flags & ROUTE_HANDOVER) != want[i].handover)
			fail_msg("%s: handed over %s", name, want[i].handover ? "no longer" : "now");
		leaders++;
	}
	assert_int_equal(leaders, n_want);
	/* marked once: a second call gives the same table */
	assert_ptr_equal(api_routes_get(), api_routes_get());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forward_header_split),
		cmocka_unit_test(test_leader_routes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
