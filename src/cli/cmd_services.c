/*
 * `ooda services list|show`: the service catalogue (GET /api/v1/services…)
 * as a table of every service and as one screen about one service — its
 * catalogue entry, live RED, dependencies, probes, alerts, SLOs, incidents,
 * latest deploy, who is on call, and its health with the reason.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/client.h"
#include "core/error.h"
#include "core/xalloc.h"

static const char *or_dash(json_t *o, const char *k)
{
	const char *s = cli_jstr(o, k);
	return *s ? s : "-";
}

/* A number member with printf format fmt and a scale, or "-" when null. */
static const char *num(char *out, size_t n, json_t *o, const char *k, const char *fmt, double scale)
{
	json_t *v = json_object_get(o, k);
	if (!json_is_number(v))
		return "-";
	snprintf(out, n, fmt, json_number_value(v) * scale);
	return out;
}

int cmd_services_list(struct cli_args *a, struct buf *err)
{
	struct buf path = BUF_INIT;
	buf_adds(&path, "/api/v1/services");
	cli_param(&path, "window", cli_opt(a, "--window"));
	json_t *j;
	int rc = cli_call_json(a, "GET", path.data, NULL, &j, err);
	buf_release(&path);
	if (rc || a->json)
		return rc;
	enum { NCOL = 8 };
	static const char *const headers[NCOL] = { "SERVICE", "TIER", "OWNER", "HEALTH", "REQ/S", "ERR%", "P90", "INCIDENTS" };
	size_t n = json_array_size(j);
	const char **cells = xcalloc(n ? n * NCOL : 1, sizeof(*cells));
	char (*text)[4][24] = xcalloc(n ? n : 1, sizeof(*text));
	size_t i;
	json_t *s;
	json_array_foreach(j, i, s) {
		const char **row = cells + i * NCOL;
		row[0] = cli_jstr(s, "name");
		row[1] = or_dash(s, "tier");
		row[2] = or_dash(s, "owner");
		row[3] = or_dash(s, "health");
		row[4] = num(text[i][0], sizeof(text[i][0]), s, "rate", "%.2f", 1);
		row[5] = num(text[i][1], sizeof(text[i][1]), s, "error_ratio", "%.2f%%", 100);
		row[6] = num(text[i][2], sizeof(text[i][2]), s, "p90_ms", "%.1fms", 1);
		row[7] = num(text[i][3], sizeof(text[i][3]), s, "open_incidents", "%.0f", 1);
	}
	cli_table(headers, NCOL, cells, (int)n);
	free(cells);
	free(text);
	json_decref(j);
	return 0;
}

/* "  - NAME  detail" lines of arr, or "  (none)". */
static void print_list(const char *title, json_t *arr, void (*line)(json_t *))
{
	printf("%s:\n", title);
	if (!json_array_size(arr)) {
		printf("  (none)\n");
		return;
	}
	size_t i;
	json_t *o;
	json_array_foreach(arr, i, o)
		line(o);
}

static void dep_line(json_t *o)
{
	char calls[32], er[32], p99[32];
	const char *how = json_is_true(json_object_get(o, "declared"))
				  ? (json_is_true(json_object_get(o, "traced")) ? "declared+traced" : "declared")
				  : "traced";
	printf("  - %-24s %-16s calls %-6s err %-8s p99 %s\n", cli_jstr(o, "service"), how,
	       num(calls, sizeof(calls), o, "calls", "%.0f", 1), num(er, sizeof(er), o, "error_ratio", "%.2f%%", 100),
	       num(p99, sizeof(p99), o, "p99_ms", "%.1fms", 1));
}

static void probe_line(json_t *o)
{
	printf("  - %-24s %-6s %s\n", cli_jstr(o, "name"), cli_jstr(o, "kind"), cli_jstr(o, "state"));
}

static void heartbeat_line(json_t *o)
{
	printf("  - %-24s %s\n", cli_jstr(o, "name"), cli_jstr(o, "state"));
}

static void alert_line(json_t *o)
{
	printf("  - %-24s %-7s since %s\n", cli_jstr(o, "name"), cli_jstr(o, "severity"), or_dash(o, "started"));
}

static void slo_line(json_t *o)
{
	char obj[32], sli[32], left[32];
	printf("  - %-24s objective %s  sli %s  budget left %s  alert %s\n", cli_jstr(o, "name"),
	       num(obj, sizeof(obj), o, "objective", "%g%%", 1), num(sli, sizeof(sli), o, "sli", "%.3f%%", 100),
	       num(left, sizeof(left), o, "budget_remaining", "%.1f%%", 100), or_dash(o, "alert"));
}

static void incident_line(json_t *o)
{
	printf("  - %-8s %-4s %-12s %s\n", cli_jstr(o, "id"), cli_jstr(o, "severity"), cli_jstr(o, "status"),
	       cli_jstr(o, "title"));
}

int cmd_services_show(struct cli_args *a, struct buf *err)
{
	if (a->n_pos < 1) {
		buf_adds(err, "usage: ooda services show NAME");
		return OODA_EINVAL;
	}
	struct buf path = BUF_INIT;
	buf_adds(&path, "/api/v1/services/");
	client_urlencode(&path, a->pos[0]);
	cli_param(&path, "window", cli_opt(a, "--window"));
	json_t *j;
	int rc = cli_call_json(a, "GET", path.data, NULL, &j, err);
	buf_release(&path);
	if (rc || a->json)
		return rc;
	char b[5][32];
	printf("%s  %s (%s)\n", cli_jstr(j, "name"), cli_jstr(j, "health"), cli_jstr(j, "health_reason"));
	printf("owner %s  tier %s  environment %s%s\n", or_dash(j, "owner"), or_dash(j, "tier"), or_dash(j, "environment"),
	       json_is_true(json_object_get(j, "declared")) ? "" : "  (not declared in ooda.yaml)");
	printf("runbook %s\n", or_dash(j, "runbook"));
	printf("RED  %s req/s  errors %s  p50 %s  p90 %s  p99 %s\n", num(b[0], 32, j, "rate", "%.2f", 1),
	       num(b[1], 32, j, "error_ratio", "%.2f%%", 100), num(b[2], 32, j, "p50_ms", "%.1fms", 1),
	       num(b[3], 32, j, "p90_ms", "%.1fms", 1), num(b[4], 32, j, "p99_ms", "%.1fms", 1));
	json_t *dep = json_object_get(j, "deploy"), *oc = json_object_get(j, "oncall");
	if (json_is_object(dep))
		printf("deploy %s at %s (%s)\n", or_dash(dep, "version"), or_dash(dep, "time"), or_dash(dep, "environment"));
	else
		printf("deploy -\n");
	if (json_is_object(oc))
		printf("on call %s (team %s, schedule %s, until %s)\n", or_dash(oc, "primary"), or_dash(oc, "team"),
		       or_dash(oc, "schedule"), or_dash(oc, "end"));
	else
		printf("on call -\n");
	print_list("calls (callees)", json_object_get(j, "callees"), dep_line);
	print_list("called by (callers)", json_object_get(j, "callers"), dep_line);
	print_list("probes", json_object_get(j, "probes"), probe_line);
	print_list("heartbeats", json_object_get(j, "heartbeats"), heartbeat_line);
	print_list("firing alerts", json_object_get(j, "alerts"), alert_line);
	print_list("SLOs", json_object_get(j, "slos"), slo_line);
	print_list("open incidents", json_object_get(j, "incidents"), incident_line);
	json_decref(j);
	return 0;
}
