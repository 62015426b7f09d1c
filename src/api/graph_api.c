/*
 * The dependency graph over HTTP (GET /api/v1/graph): the traced graph of
 * the live view over a window, each edge compared with the same edge over
 * the baseline period just before the window and given a health (ok,
 * degraded, failing) with a reason a person can read, plus the edges
 * ooda.yaml declares (services[].dependencies). The dashboard draws it; the
 * rules are the table edge_rules below (docs/dashboard.md, "Dependency
 * graph"). Read-only: nothing is stored.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/cluster.h"
#include "api/handlers.h"
#include "core/time.h"

#define GRAPH_DEFAULT_WINDOW_NS (5 * 60 * OODA_NS_PER_SEC)
#define GRAPH_DEFAULT_BASELINE_NS (60 * 60 * OODA_NS_PER_SEC)
#define GRAPH_MAX_BASELINE_NS (7 * 24 * 3600 * OODA_NS_PER_SEC)

/* An edge's error ratio at or above this is failing whatever its past. */
#define EDGE_FAILING_ERROR_RATIO 0.05
/* At or above this and at least EDGE_FACTOR times the baseline: degraded. */
#define EDGE_DEGRADED_ERROR_RATIO 0.01
#define EDGE_FACTOR 2.0
/* A p99 rise must also be this many milliseconds to count. */
#define EDGE_MIN_P99_RISE_MS 20.0
/* Traffic below baseline / this is a drop, once the baseline had enough calls. */
#define EDGE_DROP_FACTOR 3.0
#define EDGE_DROP_MIN_CALLS 10

/* One edge, now and over the baseline (b_calls 0: no baseline). */
struct edge_view {
	double rate, error_ratio, p99_ms;
	double b_calls, b_rate, b_error_ratio, b_p99_ms;
};

typedef bool edge_check_fn(const struct edge_view *e, struct buf *why);

static double num(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	return json_is_number(v) ? json_number_value(v) : NAN;
}

static void baseline_note(const struct edge_view *e, struct buf *why)
{
	if (e->b_calls > 0 && isfinite(e->b_error_ratio))
		buf_addf(why, " (baseline %.2f%%)", e->b_error_ratio * 100);
	else
		buf_adds(why, " (no baseline)");
}

static bool errors_high(const struct edge_view *e, struct buf *why)
{
	if (!(e->error_ratio >= EDGE_FAILING_ERROR_RATIO))
		return false;
	buf_addf(why, "error ratio %.2f%%", e->error_ratio * 100);
	baseline_note(e, why);
	return true;
}

static bool errors_up(const struct edge_view *e, struct buf *why)
{
	if (!(e->error_ratio >= EDGE_DEGRADED_ERROR_RATIO))
		return false;
	if (e->b_calls > 0 && isfinite(e->b_error_ratio) && e->error_ratio < EDGE_FACTOR * e->b_error_ratio)
		return false;
	buf_addf(why, "error ratio %.2f%%", e->error_ratio * 100);
	baseline_note(e, why);
	return true;
}

static bool latency_up(const struct edge_view *e, struct buf *why)
{
	if (!(e->b_calls > 0) || !isfinite(e->p99_ms) || !isfinite(e->b_p99_ms))
		return false;
	if (e->p99_ms < EDGE_FACTOR * e->b_p99_ms || e->p99_ms - e->b_p99_ms < EDGE_MIN_P99_RISE_MS)
		return false;
	buf_addf(why, "p99 %.0f ms (baseline %.0f ms)", e->p99_ms, e->b_p99_ms);
	return true;
}

static bool traffic_drop(const struct edge_view *e, struct buf *why)
{
	if (e->b_calls < EDGE_DROP_MIN_CALLS || !(e->rate * EDGE_DROP_FACTOR < e->b_rate))
		return false;
	buf_addf(why, "%.3g calls/s (baseline %.3g/s)", e->rate, e->b_rate);
	return true;
}

/* First match wins; none matching is "ok". */
static const struct edge_rule {
	const char *health;
	edge_check_fn *check;
} edge_rules[] = {
	{ "failing", errors_high },
	{ "degraded", errors_up },
	{ "degraded", latency_up },
	{ "degraded", traffic_drop },
};

static void edge_health_set(const struct edge_view *e, json_t *edge)
{
	struct buf why = BUF_INIT;
	const char *health = NULL;
	for (size_t i = 0; !health && i < sizeof(edge_rules) / sizeof(edge_rules[0]); i++)
		if (edge_rules[i].check(e, &why))
			health = edge_rules[i].health;
	if (!health) {
		health = "ok";
		buf_adds(&why, e->b_calls > 0 ? "within baseline" : "no baseline yet; errors low");
	}
	json_object_set_new(edge, "health", json_string(health));
	json_object_set_new(edge, "health_reason", json_string(why.data ? why.data : ""));
	buf_release(&why);
}

static const json_t *edge_find(const json_t *edges, const char *src, const char *dst)
{
	const json_t *e;
	size_t i;
	json_array_foreach(edges, i, e) {
		const char *s = json_string_value(json_object_get(e, "source"));
		const char *d = json_string_value(json_object_get(e, "target"));
		if (s && d && !strcmp(s, src) && !strcmp(d, dst))
			return e;
	}
	return NULL;
}

/* Adds baseline, health and health_reason to every edge of g from the baseline graph b (may be NULL). */
static void edges_compare(json_t *g, const json_t *b)
{
	const json_t *bedges = json_object_get(b, "edges");
	json_t *e;
	size_t i;
	json_array_foreach(json_object_get(g, "edges"), i, e) {
		const char *src = json_string_value(json_object_get(e, "source"));
		const char *dst = json_string_value(json_object_get(e, "target"));
		const json_t *be = src && dst ? edge_find(bedges, src, dst) : NULL;
		struct edge_view v = {
			.rate = num(e, "rate"), .error_ratio = num(e, "error_ratio"), .p99_ms = num(e, "p99_ms"),
			.b_calls = be ? num(be, "calls") : 0, .b_rate = be ? num(be, "rate") : NAN,
			.b_error_ratio = be ? num(be, "error_ratio") : NAN, .b_p99_ms = be ? num(be, "p99_ms") : NAN,
		};
		if (!(v.b_calls > 0))
			v.b_calls = 0;
		if (v.b_calls > 0)
			json_object_set_new(e, "baseline", json_pack("{s:O,s:O,s:O,s:O}",
				"calls", json_object_get(be, "calls"), "rate", json_object_get(be, "rate"),
				"error_ratio", json_object_get(be, "error_ratio"), "p99_ms", json_object_get(be, "p99_ms")));
		else
			json_object_set_new(e, "baseline", json_null());
		edge_health_set(&v, e);
	}
}

static int duration_param(struct http_request *req, const char *name, int64_t dflt, int64_t *out)
{
	const char *w = http_query(req, name);
	*out = dflt;
	if (w && (ooda_duration_parse(w, strlen(w), out) || *out <= 0)) {
		buf_addf(&req->err, "%s %.40s is not a positive duration like 5m", name, w);
		return OODA_EINVAL;
	}
	return 0;
}

static json_t *graph_load(struct live_signals *live, int64_t now, int64_t window, struct buf *err, int *rc)
{
	struct buf b = BUF_INIT;
	*rc = live_graph_json(live, now, window, &b, err);
	json_t *g = *rc ? NULL : json_loadb(b.data, b.len, 0, NULL);
	buf_release(&b);
	if (!*rc && !g)
		*rc = OODA_EINTERNAL;
	return g;
}

int api_graph(struct http_request *req, struct http_response *res)
{
	int64_t window, baseline;
	int rc = duration_param(req, "window", GRAPH_DEFAULT_WINDOW_NS, &window);
	if (!rc)
		rc = duration_param(req, "baseline", GRAPH_DEFAULT_BASELINE_NS, &baseline);
	if (!rc && (baseline <= window || baseline > GRAPH_MAX_BASELINE_NS)) {
		buf_adds(&req->err, "baseline must be longer than window and at most 7d");
		rc = OODA_EINVAL;
	}
	if (rc)
		return rc;
	struct daemon *d = api_daemon(req);
	cluster_live_catch_up(d->cluster); /* what other nodes acknowledged counts (several nodes only) */
	int64_t now = ooda_now_ns();
	json_t *g = graph_load(d->live, now, window, &req->err, &rc);
	if (!g)
		return rc;
	/* the baseline: the (baseline - window) before the window */
	json_t *b = graph_load(d->live, now - window, baseline - window, &req->err, &rc);
	if (!b) {
		json_decref(g);
		return rc;
	}
	edges_compare(g, b);
	json_decref(b);
	json_object_set_new(g, "window_seconds", json_integer(window / OODA_NS_PER_SEC));
	json_object_set_new(g, "baseline_seconds", json_integer(baseline / OODA_NS_PER_SEC));
	/* the edges ooda.yaml declares (services[].dependencies), beside the traced ones */
	json_object_set_new(g, "declared_edges", alerts_declared_edges(d->alerts));
	char *text = json_dumps(g, JSON_COMPACT);
	json_decref(g);
	if (!text)
		return OODA_EINTERNAL;
	buf_adds(&res->body, text);
	free(text);
	return 0;
}
