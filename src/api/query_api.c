/*
 * The read side of telemetry over HTTP: log search and facets, traces by id
 * and by filter, and the live views (services, one service; the dependency
 * graph is graph_api.c). Thin adapters: parse the query string, call query/search.c or
 * ingest/live.c, send their JSON.
 */
#include "api/api.h"
#include "api/handlers.h"
#include "core/time.h"
#include "detect/redfast.h"
#include "query/logquery.h"
#include "query/search.h"

/* An optional time parameter: 0 when absent. */
static int opt_time(struct http_request *req, const char *name, int64_t *out)
{
	*out = 0;
	int rc = api_query_time(req, name, out);
	return rc == OODA_ENOTFOUND ? 0 : rc;
}

/* from/to/since → [from, to]; default the last hour. */
static int time_range(struct http_request *req, int64_t dflt_window, int64_t *from, int64_t *to)
{
	int64_t now = ooda_now_ns(), f = 0, t = 0, since = 0;
	int rc = opt_time(req, "from", &f);
	if (!rc)
		rc = opt_time(req, "to", &t);
	if (!rc)
		rc = opt_time(req, "since", &since);
	if (rc)
		return rc;
	*to = t ? t : now;
	*from = f ? f : since ? since : *to - dflt_window;
	/* since=300y reaches before 1970: the range starts at the first representable time */
	if (*from < OODA_TIME_MIN)
		*from = OODA_TIME_MIN;
	if (*from > *to) {
		buf_adds(&req->err, "the time range is empty: from is after to");
		return OODA_EINVAL;
	}
	return 0;
}

static int compile_query(struct http_request *req, struct logquery **q)
{
	const char *text = http_query(req, "q");
	if (!text)
		text = "";
	return logquery_compile(text, strlen(text), q, &req->err);
}

int api_logs_search(struct http_request *req, struct http_response *res)
{
	struct search_opts o = { .cursor = http_query(req, "cursor") };
	int rc = time_range(req, 3600 * OODA_NS_PER_SEC, &o.from_ns, &o.to_ns);
	if (!rc)
		rc = api_query_limit(req, "limit", 100, 10000, &o.limit);
	struct logquery *q = NULL;
	if (!rc)
		rc = compile_query(req, &q);
	if (rc)
		return rc == OODA_EPARSE ? OODA_EINVAL : rc;
	rc = search_logs(api_daemon(req)->tstore, q, &o, &res->body, &req->err);
	logquery_destroy(q);
	return rc;
}

int api_logs_facets(struct http_request *req, struct http_response *res)
{
	struct search_opts o = { 0 };
	size_t buckets = 60;
	int rc = time_range(req, 3600 * OODA_NS_PER_SEC, &o.from_ns, &o.to_ns);
	if (!rc)
		rc = api_query_limit(req, "buckets", 60, 1000, &buckets);
	struct logquery *q = NULL;
	if (!rc)
		rc = compile_query(req, &q);
	if (rc)
		return rc == OODA_EPARSE ? OODA_EINVAL : rc;
	rc = search_facets(api_daemon(req)->tstore, q, &o, http_query(req, "fields"), buckets, &res->body, &req->err);
	logquery_destroy(q);
	return rc;
}

int api_trace_get(struct http_request *req, struct http_response *res)
{
	return search_trace(api_daemon(req)->tstore, http_param(req, "id"), &res->body, &req->err);
}

int api_traces_find(struct http_request *req, struct http_response *res)
{
	struct search_opts o = { 0 };
	struct trace_filter f = {
		.service = http_query(req, "service"),
		.operation = http_query(req, "op"),
	};
	const char *st = http_query(req, "status");
	if (st && strcmp(st, "error") && strcmp(st, "any")) {
		buf_addf(&req->err, "status must be error or any, not %.40s", st);
		return OODA_EINVAL;
	}
	f.errors_only = st && !strcmp(st, "error");
	const char *md = http_query(req, "min_duration");
	if (md && ooda_duration_parse(md, strlen(md), &f.min_duration_ns)) {
		buf_addf(&req->err, "min_duration %.40s is not a duration like 250ms or 2s", md);
		return OODA_EINVAL;
	}
	int rc = time_range(req, 3600 * OODA_NS_PER_SEC, &o.from_ns, &o.to_ns);
	if (!rc)
		rc = api_query_limit(req, "limit", 20, 1000, &o.limit);
	if (rc)
		return rc;
	return search_traces(api_daemon(req)->tstore, &f, &o, &res->body, &req->err);
}

int api_patterns(struct http_request *req, struct http_response *res)
{
	int64_t from = 0, to = 0;
	int rc = time_range(req, 3600 * OODA_NS_PER_SEC, &from, &to);
	size_t limit;
	if (!rc)
		rc = api_query_limit(req, "limit", 50, 1000, &limit);
	uint8_t lo = 0, hi = 0;
	const char *sev = http_query(req, "severity");
	if (!rc && sev && logquery_severity_parse(sev, &lo, &hi)) {
		buf_addf(&req->err, "severity %.40s is not one of trace, debug, info, warn, error, fatal", sev);
		rc = OODA_EINVAL;
	}
	if (rc)
		return rc;
	logclass_catch_up(api_daemon(req)->logclass); /* several nodes: the lines every node acknowledged */
	logclass_json(api_daemon(req)->logclass, http_query(req, "service"), from, lo, limit, &res->body);
	return 0;
}

int api_anomalies(struct http_request *req, struct http_response *res)
{
	buf_adds(&res->body, "{\"red\":");
	redwatch_json(api_daemon(req)->redwatch, &res->body);
	buf_adds(&res->body, ",\"watches\":");
	if (api_daemon(req)->watches)
		watches_json(api_daemon(req)->watches, &res->body);
	else
		buf_adds(&res->body, "{\"watches\":[]}");
	bool on;
	unsigned services, learning;
	redfast_status(api_daemon(req)->redfast, &on, &services, &learning);
	buf_addf(&res->body, ",\"red_detector\":{\"enabled\":%s,\"services\":%u,\"learning\":%u}", on ? "true" : "false",
		 services, learning);
	buf_addch(&res->body, '}');
	return 0;
}
