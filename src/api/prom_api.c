/*
 * The Prometheus HTTP API over ooda's metrics, in Prometheus's own shapes
 * (so Grafana's Prometheus data source works unchanged): instant and range
 * queries in PromQL, series, label names and label values. Parameters come
 * from the query string or, for POST, from a form body, as Prometheus
 * accepts them; errors are {"status":"error","errorType",…} like
 * Prometheus's, not problem+json.
 */
#include "api/api.h"
#include "api/cluster.h"
#include "api/handlers.h"
#include "api/prom_shared.h"
#include "core/time.h"
#include "query/metrics.h"
#include "query/promql.h"

#include <errno.h>
#include <math.h>
#include <microhttpd.h>

#define MAX_PARAMS 64

struct params {
	const char *name[MAX_PARAMS];
	const char *value[MAX_PARAMS];
	int n;
};

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	struct params *p = cls;
	if (p->n < MAX_PARAMS) {
		p->name[p->n] = key;
		p->value[p->n++] = value ? value : "";
	}
	return MHD_YES;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static char *url_decode(struct arena *a, const char *s, size_t n)
{
	char *out = arena_alloc(a, n + 1), *o = out;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '+')
			*o++ = ' ';
		else if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			*o++ = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		} else
			*o++ = s[i];
	}
	*o = 0;
	return out;
}

static void load_params(struct http_request *req, struct params *p)
{
	p->n = 0;
	MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, collect_arg, p);
	const char *ct = http_header(req, "Content-Type");
	if (req->body_len && ct && !strncasecmp(ct, "application/x-www-form-urlencoded", 33)) {
		const char *s = req->body, *end = req->body + req->body_len;
		while (s < end && p->n < MAX_PARAMS) {
			const char *amp = memchr(s, '&', (size_t)(end - s));
			const char *stop = amp ? amp : end;
			const char *eq = memchr(s, '=', (size_t)(stop - s));
			if (stop > s) {
				p->name[p->n] = url_decode(&req->arena, s, (size_t)((eq ? eq : stop) - s));
				p->value[p->n++] = eq ? url_decode(&req->arena, eq + 1, (size_t)(stop - eq - 1)) : "";
			}
			s = stop + 1;
		}
	}
}

static const char *param(const struct params *p, const char *name)
{
	for (int i = 0; i < p->n; i++)
		if (!strcmp(p->name[i], name))
			return p->value[i];
	return NULL;
}

static int prom_error(struct http_response *res, int status, const char *type, const char *msg)
{
	buf_reset(&res->body);
	res->status = status;
	buf_addf(&res->body, "{\"status\":\"error\",\"errorType\":\"%s\",\"error\":", type);
	buf_add_json_str(&res->body, msg, strlen(msg));
	buf_addch(&res->body, '}');
	return 0;
}

/*
 * Prometheus times: unix seconds (with fraction) or RFC 3339, within the
 * representable range (1970 to 2262; see core/time.h).
 */
static int prom_time(const char *s, int64_t *ms)
{
	char *end;
	double v = strtod(s, &end);
	if (end != s && !*end) {
		/* the comparison also refuses NaN and infinities before any conversion */
		if (!(v >= 0 && v * 1000 <= (double)OODA_TIME_MAX_MS))
			return -1;
		*ms = (int64_t)llround(v * 1000);
		return 0;
	}
	int64_t ns;
	if (ooda_time_parse(s, strlen(s), &ns))
		return -1;
	*ms = ns / 1000000;
	return 0;
}

/* Steps and durations: float seconds or a duration like 15s, 1m, at most about 292 years. */
static int prom_duration(const char *s, int64_t *ms)
{
	char *end;
	double v = strtod(s, &end);
	if (end != s && !*end) {
		if (!(v >= 0 && v * 1000 <= (double)OODA_TIME_MAX_MS))
			return -1;
		*ms = (int64_t)llround(v * 1000);
		return 0;
	}
	int64_t ns;
	if (ooda_duration_parse(s, strlen(s), &ns))
		return -1;
	*ms = ns / 1000000;
	return 0;
}

static int run_query(struct http_request *req, struct http_response *res, bool range)
{
	struct params p;
	load_params(req, &p);
	const char *q = param(&p, "query");
	if (!q || !*q)
		return prom_error(res, 400, "bad_data", "missing parameter: query");
	int64_t now_ms = ooda_now_ns() / 1000000, t = now_ms, start = 0, end = 0, step = 0;
	char msg[256];
	if (range) {
		const char *s = param(&p, "start"), *e = param(&p, "end"), *st = param(&p, "step");
		if (!s || prom_time(s, &start))
			return prom_error(res, 400, "bad_data", "invalid parameter \"start\": want unix seconds or RFC 3339 from 1970 to 2262");
		if (!e || prom_time(e, &end))
			return prom_error(res, 400, "bad_data", "invalid parameter \"end\": want unix seconds or RFC 3339 from 1970 to 2262");
		if (!st || prom_duration(st, &step) || step <= 0)
			return prom_error(res, 400, "bad_data", "invalid parameter \"step\": want a positive duration or seconds, at most 292 years");
		if (end < start)
			return prom_error(res, 400, "bad_data", "invalid parameter \"end\": end timestamp must not be before start time");
		if ((end - start) / step > 11000) {
			snprintf(msg, sizeof(msg), "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)");
			return prom_error(res, 400, "bad_data", msg);
		}
	} else {
		const char *ts = param(&p, "time");
		if (ts && prom_time(ts, &t))
			return prom_error(res, 400, "bad_data", "invalid parameter \"time\": want unix seconds or RFC 3339 from 1970 to 2262");
	}
	struct daemon *d = api_daemon(req);
	if (strstr(q, "ooda_span_")) /* the live series count what other nodes acknowledged (several nodes only) */
		cluster_live_catch_up(d->cluster);
	struct metrics_ctx mc = { d->tstore, d->live };
	struct promql_source src;
	metrics_source_init(&src, &mc);
	struct arena a;
	arena_init(&a, 1 << 20);
	struct promql_expr *expr;
	struct promql_value v;
	struct buf err = BUF_INIT;
	int rc = promql_parse(q, strlen(q), &a, &expr, &err);
	if (rc) {
		prom_error(res, 400, "bad_data", err.data);
	} else {
		rc = range ? promql_eval_range(expr, &src, start, end, step, &a, &v, &err) :
			     promql_eval_instant(expr, &src, t, &a, &v, &err);
		if (rc)
			prom_error(res, rc == OODA_ELIMIT || rc == OODA_EINVAL ? 422 : 500,
				   rc == OODA_ELIMIT || rc == OODA_EINVAL ? "execution" : "internal", err.data);
		else {
			buf_adds(&res->body, "{\"status\":\"success\",\"data\":");
			promql_value_json(&v, &res->body);
			metrics_partial_warning(&mc, &res->body);
			buf_adds(&res->body, "}");
		}
	}
	buf_release(&err);
	arena_release(&a);
	return 0;
}

int api_prom_query(struct http_request *req, struct http_response *res)
{
	return run_query(req, res, false);
}

int api_prom_query_range(struct http_request *req, struct http_response *res)
{
	return run_query(req, res, true);
}

static int lookup(struct http_request *req, struct http_response *res, int mode)
{
	struct params p;
	load_params(req, &p);
	const char *sel[MAX_PARAMS];
	size_t n = 0;
	for (int i = 0; i < p.n; i++)
		if (!strcmp(p.name[i], "match[]"))
			sel[n++] = p.value[i];
	if (mode == 0 && !n)
		return prom_error(res, 400, "bad_data", "no match[] parameter provided");
	/* as Prometheus: without start and end, everything stored */
	int64_t start = 0, end = OODA_TIME_MAX_MS;
	const char *s = param(&p, "start"), *e = param(&p, "end"), *lim = param(&p, "limit");
	if ((s && prom_time(s, &start)) || (e && prom_time(e, &end)))
		return prom_error(res, 400, "bad_data", "invalid parameter \"start\" or \"end\"");
	size_t limit = 0;
	if (lim && *lim) {
		char *endp;
		errno = 0;
		long long v = strtoll(lim, &endp, 10);
		if (*endp || errno || v < 0)
			return prom_error(res, 400, "bad_data", "invalid parameter \"limit\": want a non-negative integer");
		limit = (size_t)v;
	}
	struct daemon *d = api_daemon(req);
	struct metrics_ctx mc = { d->tstore, d->live };
	struct buf err = BUF_INIT;
	int rc = metrics_lookup(&mc, sel, n, start, end, mode, http_param(req, "name"), limit, &res->body, &err);
	if (rc)
		prom_error(res, rc == OODA_EPARSE || rc == OODA_EINVAL ? 400 : 422, "bad_data", err.data);
	buf_release(&err);
	return 0;
}

int api_prom_series(struct http_request *req, struct http_response *res)
{
	return lookup(req, res, 0);
}

int api_prom_labels(struct http_request *req, struct http_response *res)
{
	return lookup(req, res, 1);
}

int api_prom_label_values(struct http_request *req, struct http_response *res)
{
	return lookup(req, res, 2);
}

/* Grafana's data source checks these on "Save & test". */
int api_prom_buildinfo(struct http_request *req, struct http_response *res)
{
	(void)req;
	buf_adds(&res->body, "{\"status\":\"success\",\"data\":{\"version\":\"2.40.0\",\"application\":\"ooda\","
			     "\"revision\":\"" OODA_VERSION "\",\"branch\":\"\",\"buildUser\":\"\",\"buildDate\":\"\","
			     "\"goVersion\":\"\"}}");
	return 0;
}

/* /api/v1/format_query: the query's canonical text, or the parse error. */
int api_prom_format_query(struct http_request *req, struct http_response *res)
{
	struct params p;
	load_params(req, &p);
	const char *q = param(&p, "query");
	if (!q || !*q)
		return prom_error(res, 400, "bad_data", "missing parameter: query");
	struct arena a;
	arena_init(&a, 0);
	struct promql_expr *expr;
	struct buf err = BUF_INIT, text = BUF_INIT;
	if (promql_parse(q, strlen(q), &a, &expr, &err)) {
		prom_error(res, 400, "bad_data", err.data);
	} else {
		promql_format(expr, &text);
		buf_adds(&res->body, "{\"status\":\"success\",\"data\":");
		buf_add_json_str(&res->body, text.data, text.len);
		buf_addch(&res->body, '}');
	}
	buf_release(&text);
	buf_release(&err);
	arena_release(&a);
	return 0;
}

/*
 * An ooda alert (alerts.h's JSON) in Prometheus' shape: labels with
 * alertname, annotations, state, activeAt and the value as text.
 */
static json_t *prom_alert(const json_t *al)
{
	json_t *labels = json_deep_copy(json_object_get(al, "labels"));
	if (!json_is_object(labels)) {
		json_decref(labels);
		labels = json_object();
	}
	if (!json_object_get(labels, "alertname"))
		json_object_set_new(labels, "alertname", json_string(json_string_value(json_object_get(al, "name"))));
	json_t *ann = json_deep_copy(json_object_get(al, "annotations"));
	if (!json_is_object(ann)) {
		json_decref(ann);
		ann = json_object();
	}
	json_t *o = json_object();
	json_object_set_new(o, "labels", labels);
	json_object_set_new(o, "annotations", ann);
	json_object_set(o, "state", json_object_get(al, "state"));
	json_t *at = json_object_get(al, "active_at");
	json_object_set_new(o, "activeAt", json_is_string(at) ? json_copy(at) : json_string("0001-01-01T00:00:00Z"));
	json_t *v = json_object_get(json_object_get(al, "evidence"), "value");
	struct buf vb = BUF_INIT;
	if (json_is_number(v))
		buf_addf(&vb, "%g", json_number_value(v));
	json_object_set_new(o, "value", json_string(vb.len ? vb.data : "0"));
	buf_release(&vb);
	return o;
}

/* The firing and pending alerts (what Prometheus lists) as ooda's JSON objects in an array (caller owns). */
static json_t *active_alerts(struct http_request *req)
{
	struct buf all = BUF_INIT, err = BUF_INIT;
	json_t *arr = json_array();
	if (!alerts_list_json(api_daemon(req)->alerts, "all", &all, &err)) {
		json_t *j = json_loadb(all.data, all.len, 0, NULL);
		size_t i;
		json_t *al;
		json_array_foreach(json_object_get(j, "alerts"), i, al) {
			const char *st = json_string_value(json_object_get(al, "state"));
			if (st && (!strcmp(st, "firing") || !strcmp(st, "pending")))
				json_array_append(arr, al);
		}
		json_decref(j);
	}
	buf_release(&all);
	buf_release(&err);
	return arr;
}

void api_prom_alerts_data(struct http_request *req, struct buf *out)
{
	json_t *act = active_alerts(req), *arr = json_array();
	size_t i;
	json_t *al;
	json_array_foreach(act, i, al)
		json_array_append_new(arr, prom_alert(al));
	json_decref(act);
	json_t *data = json_pack("{s:o}", "alerts", arr);
	char *s = json_dumps(data, JSON_COMPACT);
	buf_adds(out, s ? s : "{\"alerts\":[]}");
	free(s);
	json_decref(data);
}

/*
 * /api/v1/rules: the alert rules of ooda.yaml as one Prometheus rule group
 * ("ooda.yaml"), each with its firing and pending alerts and a state.
 * lastEvaluation (group and rules: they are evaluated together) and the
 * group's evaluationTime are the last evaluation's, on schedule or brought
 * forward by fresh telemetry. ooda has no recording rules: type=record
 * answers no rules.
 */
int api_prom_rules(struct http_request *req, struct http_response *res)
{
	struct params p;
	load_params(req, &p);
	const char *type = param(&p, "type");
	if (type && *type && strcmp(type, "alert") && strcmp(type, "record"))
		return prom_error(res, 400, "bad_data", "invalid parameter \"type\": want alert or record");
	bool none = type && !strcmp(type, "record");
	json_t *list = rules_list_json(api_daemon(req)->rules);
	json_t *act = active_alerts(req), *rules = json_array();
	size_t i, k;
	char last[40] = "0001-01-01T00:00:00Z"; /* Prometheus' zero time: not evaluated yet; the rules are evaluated together */
	json_int_t last_ns = json_integer_value(json_object_get(list, "last_evaluation_ns"));
	if (last_ns > 0)
		ooda_time_format(last_ns, last, sizeof last);
	json_t *r, *al;
	json_array_foreach(none ? NULL : json_object_get(list, "rules"), i, r) {
		const char *name = json_string_value(json_object_get(r, "name"));
		json_t *alerts = json_array();
		const char *state = "inactive";
		json_array_foreach(act, k, al) {
			const char *an = json_string_value(json_object_get(al, "name"));
			const char *src = json_string_value(json_object_get(al, "source"));
			if (!an || strcmp(an, name) || !src || strcmp(src, "rule"))
				continue;
			const char *st = json_string_value(json_object_get(al, "state"));
			if (!strcmp(st, "firing"))
				state = "firing";
			else if (strcmp(state, "firing"))
				state = "pending";
			json_array_append_new(alerts, prom_alert(al));
		}
		json_array_append_new(rules, json_pack("{s:s,s:s,s:O,s:O,s:O,s:O,s:O,s:o,s:s,s:s,s:f,s:s,s:s}", "state", state,
						       "name", name, "query", json_object_get(r, "expr"), "duration",
						       json_object_get(r, "for_s"), "keepFiringFor",
						       json_object_get(r, "keep_firing_for_s"), "labels",
						       json_object_get(r, "labels"), "annotations",
						       json_object_get(r, "annotations"), "alerts", alerts, "health", "ok",
						       "lastError", "", "evaluationTime", 0.0, "lastEvaluation",
						       last, "type", "alerting"));
	}
	json_t *groups = json_array();
	if (json_array_size(rules))
		json_array_append_new(groups, json_pack("{s:s,s:s,s:o,s:O,s:i,s:O,s:s}", "name", "ooda", "file",
							 "ooda.yaml", "rules", rules, "interval",
							 json_object_get(list, "interval_s"), "limit", 0, "evaluationTime",
							 json_object_get(list, "evaluation_s"), "lastEvaluation", last));
	else
		json_decref(rules);
	json_t *out = json_pack("{s:s,s:{s:o}}", "status", "success", "data", "groups", groups);
	char *s = json_dumps(out, JSON_COMPACT);
	buf_adds(&res->body, s ? s : "");
	free(s);
	json_decref(out);
	json_decref(act);
	json_decref(list);
	return 0;
}

static int size_param(const struct params *p, const char *name, size_t *out)
{
	const char *s = param(p, name);
	*out = 0;
	if (!s || !*s)
		return 0;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (*end || errno)
		return -1;
	*out = v > 0 ? (size_t)v : 0; /* Prometheus: zero or negative means no limit */
	return 0;
}

/*
 * /api/v1/metadata: type, help and unit per metric from the OTLP points of
 * the last METADATA_WINDOW (Prometheus, too, knows the metadata of what it
 * currently scrapes) and from remote-write metadata; metric=, limit=,
 * limit_per_metric=.
 */
#define METADATA_WINDOW_MS (INT64_C(24) * 3600 * 1000)

int api_prom_metadata(struct http_request *req, struct http_response *res)
{
	struct params p;
	load_params(req, &p);
	size_t limit, per;
	if (size_param(&p, "limit", &limit))
		return prom_error(res, 400, "bad_data", "invalid parameter \"limit\": want an integer");
	if (size_param(&p, "limit_per_metric", &per))
		return prom_error(res, 400, "bad_data", "invalid parameter \"limit_per_metric\": want an integer");
	struct daemon *d = api_daemon(req);
	struct metrics_ctx mc = { d->tstore, d->live };
	int64_t now = ooda_now_ns() / 1000000;
	struct buf err = BUF_INIT;
	prom_shared_catch_up(d); /* what other nodes of the cluster acknowledged */
	int rc = metrics_metadata(&mc, d->metric_meta, now - METADATA_WINDOW_MS, now + 60000, param(&p, "metric"), limit,
				  per, &res->body, &err);
	if (rc)
		prom_error(res, 500, "internal", err.data);
	buf_release(&err);
	return 0;
}

/* /api/v1/targets: the scrape targets (ingest/scrape.h) in Prometheus' envelope. */
int api_prom_targets(struct http_request *req, struct http_response *res)
{
	struct params p;
	load_params(req, &p);
	const char *state = param(&p, "state");
	if (state && *state && strcmp(state, "active") && strcmp(state, "dropped") && strcmp(state, "any"))
		return prom_error(res, 400, "bad_data", "invalid parameter \"state\": want active, dropped or any");
	struct daemon *d = api_daemon(req);
	res->status = 200;
	res->content_type = "application/json";
	if (d->scrape)
		scrape_pool_targets_json(d->scrape, state, &res->body);
	else
		buf_adds(&res->body, "{\"status\":\"success\",\"data\":{\"activeTargets\":[],\"droppedTargets\":[]}}");
	return 0;
}

/*
 * /api/v1/query_exemplars: the OTLP exemplars kept in memory (exemplars.h)
 * of the series the query's selectors match, in [start, end] (default:
 * the last hour, as Prometheus).
 */
int api_prom_query_exemplars(struct http_request *req, struct http_response *res)
{
	struct params p;
	load_params(req, &p);
	const char *q = param(&p, "query"), *s = param(&p, "start"), *e = param(&p, "end");
	if (!q || !*q)
		return prom_error(res, 400, "bad_data", "missing parameter: query");
	int64_t end = ooda_now_ns() / 1000000, start = end - 3600 * 1000;
	if ((s && *s && prom_time(s, &start)) || (e && *e && prom_time(e, &end)))
		return prom_error(res, 400, "bad_data", "invalid parameter \"start\" or \"end\": want unix seconds or RFC 3339 from 1970 to 2262");
	if (end < start)
		return prom_error(res, 400, "bad_data", "end timestamp must not be before start time");
	struct daemon *d = api_daemon(req);
	struct buf err = BUF_INIT;
	prom_shared_catch_up(d); /* what other nodes of the cluster acknowledged */
	if (!d->exemplars)
		buf_adds(&res->body, "{\"status\":\"success\",\"data\":[]}");
	else if (exemplars_query_json(d->exemplars, q, start, end, &res->body, &err))
		prom_error(res, 400, "bad_data", err.data);
	buf_release(&err);
	return 0;
}
