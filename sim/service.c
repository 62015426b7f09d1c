/*
 * One simulated service: its HTTP server (the work route, /healthz, /metrics
 * and the /admin endpoints) and what a request does — read the caller's
 * traceparent, do its work (sleeping for the simulated time, which faults
 * stretch), call the services below it with a client span and a new
 * traceparent each, fail as the active faults say, count the result for
 * /metrics, and queue its spans and error logs for the exporter.
 */
#include <jansson.h>
#include <math.h>

#include "core/error.h"
#include "core/time.h"
#include "httpc.h"
#include "traceparent.h"
#include "world.h"

const double sim_bucket_le[SIM_BUCKETS] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5 };

/* What a failing release of each service says in its error log. */
static const char *const bad_release_msg[SVC_COUNT] = {
	[SVC_FRONTEND] = "render checkout: template \"cart.html\" missing field Total (release %s)",
	[SVC_CHECKOUT] = "place order: nil pointer dereference in OrderBuilder.withTax (release %s)",
	[SVC_PAYMENTS] = "charge failed: card processor client %s: unexpected response field \"auth_code\"",
	[SVC_INVENTORY] = "reserve stock: serialization failure in reservation batch (release %s)",
	[SVC_DATABASE] = "query failed: planner error after upgrade to %s",
	[SVC_RECONCILER] = "reconcile: panic in release %s",
};

static void sleep_ms(double ms)
{
	if (ms <= 0)
		return;
	struct timespec ts = { (time_t)(ms / 1000), (long)(fmod(ms, 1000) * 1e6) };
	while (nanosleep(&ts, &ts) != 0)
		;
}

static void hexs(const uint8_t *in, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[in[i] >> 4];
		out[2 * i + 1] = d[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static void attr_str(struct buf *b, bool *first, const char *k, const char *v)
{
	buf_addf(b, "%s{\"key\":\"%s\",\"value\":{\"stringValue\":", *first ? "" : ",", k);
	buf_add_json_str(b, v, strlen(v));
	buf_adds(b, "}}");
	*first = false;
}

static void attr_int(struct buf *b, bool *first, const char *k, long long v)
{
	buf_addf(b, "%s{\"key\":\"%s\",\"value\":{\"intValue\":\"%lld\"}}", *first ? "" : ",", k, v);
	*first = false;
}

struct span {
	const uint8_t *trace_id;
	const uint8_t *span_id;
	const uint8_t *parent; /* NULL for a root */
	const char *name;
	int kind;              /* 1 internal, 2 server, 3 client */
	int64_t start, end;
	int http_status;       /* 0: none */
	const char *error;     /* NULL: ok */
	const char *peer;      /* client spans */
	const char *method, *route;
	int user;              /* 0: none */
};

static void emit_span(struct world *w, int svc, const struct span *s)
{
	struct buf b = BUF_INIT;
	char tid[33], sid[17], pid[17];
	hexs(s->trace_id, 16, tid);
	hexs(s->span_id, 8, sid);
	buf_addf(&b, "{\"traceId\":\"%s\",\"spanId\":\"%s\",", tid, sid);
	if (s->parent) {
		hexs(s->parent, 8, pid);
		buf_addf(&b, "\"parentSpanId\":\"%s\",", pid);
	}
	buf_adds(&b, "\"name\":");
	buf_add_json_str(&b, s->name, strlen(s->name));
	buf_addf(&b, ",\"kind\":%d,\"startTimeUnixNano\":\"%lld\",\"endTimeUnixNano\":\"%lld\",\"attributes\":[", s->kind,
		 (long long)s->start, (long long)s->end);
	bool first = true;
	if (s->method)
		attr_str(&b, &first, "http.request.method", s->method);
	if (s->route)
		attr_str(&b, &first, s->kind == 3 ? "url.path" : "http.route", s->route);
	if (s->http_status)
		attr_int(&b, &first, "http.response.status_code", s->http_status);
	if (s->peer)
		attr_str(&b, &first, "peer.service", s->peer);
	if (s->user) {
		char u[32];
		snprintf(u, sizeof u, "user-%d", s->user);
		attr_str(&b, &first, "enduser.id", u);
	}
	buf_adds(&b, "],\"status\":");
	if (s->error) {
		buf_adds(&b, "{\"code\":2,\"message\":");
		buf_add_json_str(&b, s->error, strlen(s->error));
		buf_adds(&b, "}");
	} else {
		buf_adds(&b, "{\"code\":1}");
	}
	buf_adds(&b, "}");
	exporter_add(w->exp, SIG_TRACES, svc, b.data, b.len);
	buf_release(&b);
}

void world_log(struct world *w, int svc, int severity, const char *msg, const uint8_t *trace_id,
	       const uint8_t *span_id, int user)
{
	static const char *const sev_text[] = { [9] = "INFO", [13] = "WARN", [17] = "ERROR", [21] = "FATAL" };
	struct buf b = BUF_INIT;
	char id[33];
	buf_addf(&b, "{\"timeUnixNano\":\"%lld\",\"severityNumber\":%d,\"severityText\":\"%s\",\"body\":{\"stringValue\":",
		 (long long)ooda_now_ns(), severity,
		 severity >= 0 && severity <= 21 && sev_text[severity] ? sev_text[severity] : "INFO");
	buf_add_json_str(&b, msg, strlen(msg));
	buf_adds(&b, "}");
	if (trace_id) {
		hexs(trace_id, 16, id);
		buf_addf(&b, ",\"traceId\":\"%s\"", id);
	}
	if (span_id) {
		hexs(span_id, 8, id);
		buf_addf(&b, ",\"spanId\":\"%s\"", id);
	}
	buf_adds(&b, ",\"attributes\":[");
	bool first = true;
	if (user) {
		char u[32];
		snprintf(u, sizeof u, "user-%d", user);
		attr_str(&b, &first, "enduser.id", u);
		attr_int(&b, &first, "user.id", user);
	}
	buf_adds(&b, "]}");
	exporter_add(w->exp, SIG_LOGS, svc, b.data, b.len);
	buf_release(&b);
}

/* Calls service `to` on behalf of `from` inside the span parent; returns the status, 0 when unreachable. */
static int call_down(struct world *w, int from, int to, const uint8_t *trace_id, const uint8_t *parent, int user,
		     char *why, size_t why_size)
{
	struct trace_ctx ctx;
	char tp[TRACEPARENT_LEN + 1], hdr_tp[TRACEPARENT_LEN + 16], hdr_user[48], url[128];
	uint8_t sid[8];
	pthread_mutex_lock(&w->svc[from].mu);
	trace_id_random(sid, 8, &w->svc[from].rng);
	pthread_mutex_unlock(&w->svc[from].mu);
	memcpy(ctx.trace_id, trace_id, 16);
	memcpy(ctx.span_id, sid, 8);
	ctx.flags = 1;
	snprintf(hdr_tp, sizeof hdr_tp, "traceparent: %s", traceparent_format(&ctx, tp));
	snprintf(hdr_user, sizeof hdr_user, "X-Sim-User: %d", user);
	snprintf(url, sizeof url, "http://127.0.0.1:%d%s", w->svc[to].http.port, svc_defs[to].route);
	const char *hdr[3] = { hdr_tp, hdr_user, NULL };
	struct buf err = BUF_INIT;
	long status = 0;
	int64_t start = ooda_now_ns();
	int rc = httpc_call(svc_defs[to].method, url, hdr, "{}", 2, 3000, &status, NULL, &err);
	int64_t end = ooda_now_ns();
	char name[96];
	snprintf(name, sizeof name, "%s %s", svc_defs[to].method, svc_defs[to].route);
	why[0] = '\0';
	if (rc < 0)
		snprintf(why, why_size, "%s unreachable: %s", svc_defs[to].name, err.data);
	else if (status >= 500)
		snprintf(why, why_size, "%s answered %ld", svc_defs[to].name, status);
	struct span s = { trace_id, sid, parent, name, 3, start, end, (int)status, why[0] ? why : NULL,
			  svc_defs[to].name, svc_defs[to].method, svc_defs[to].route, 0 };
	emit_span(w, from, &s);
	buf_release(&err);
	return rc < 0 ? 0 : (int)status;
}

static void record(struct svc_state *st, int status, double seconds)
{
	if (status == 503)
		st->req_shed++;
	if (status >= 500)
		st->req_err++;
	else
		st->req_ok++;
	for (int b = 0; b < SIM_BUCKETS; b++)
		if (seconds <= sim_bucket_le[b])
			st->bucket[b]++;
	st->latency_sum += seconds;
	st->latency_count++;
}

int service_handle(struct world *w, int i, const char *traceparent, int user)
{
	struct svc_state *st = &w->svc[i];
	const struct svc_def *def = &svc_defs[i];
	struct trace_ctx in;
	bool has_parent = traceparent && traceparent_parse(traceparent, strlen(traceparent), &in) == 0;
	uint8_t tid[16], sid[8];
	int64_t start = ooda_now_ns();
	char version[32], why[256] = "";
	bool crashed = false, fail_own = false, shed = false, flag_break = false;
	double work, extra = 0;
	int64_t wait = 0; /* an OOM crash: how long the restart takes (the crash loop's back-off) */

	pthread_mutex_lock(&st->mu);
	if (st->down || start < st->restarting_until) {
		pthread_mutex_unlock(&st->mu); /* the process is not there: no span, no metric */
		return 503;
	}
	if (has_parent)
		memcpy(tid, in.trace_id, 16);
	else
		trace_id_random(tid, 16, &st->rng);
	trace_id_random(sid, 8, &st->rng);
	snprintf(version, sizeof version, "%s", st->version);
	work = def->work_ms * st->latency_mult * (0.7 + 0.6 * sim_rand01(&st->rng));
	if (st->leak_per_req > 0) {
		st->mem_bytes += st->leak_per_req;
		extra = 400.0 * (st->mem_bytes - SIM_MEM_BASE) / (SIM_MEM_LIMIT - SIM_MEM_BASE);
		if (st->mem_bytes >= SIM_MEM_LIMIT) {
			crashed = true;
			st->restarts++;
			st->mem_bytes = SIM_MEM_BASE;
			wait = sim_crash_wait(st->last_crash, st->crash_backoff, start);
			st->last_crash = start;
			st->crash_backoff = wait;
			st->restarting_until = start + wait;
		}
	}
	shed = st->shed_ratio > 0 && sim_rand01(&st->rng) < st->shed_ratio;
	if (st->bad_version[0] && strcmp(st->bad_version, st->version) == 0 && sim_rand01(&st->rng) < st->bad_ratio)
		fail_own = true;
	if (st->noise_ratio > 0 && sim_rand01(&st->rng) < st->noise_ratio)
		fail_own = true;
	uint64_t restarts = st->restarts;
	pthread_mutex_unlock(&st->mu);

	if (i == SVC_CHECKOUT && user > 0) {
		pthread_mutex_lock(&w->mu);
		flag_break = w->flag_on[user % 10 < 3 ? 0 : 1];
		pthread_mutex_unlock(&w->mu);
	}

	int status = 200;
	if (crashed) {
		snprintf(why, sizeof why,
			 "OOMKilled: %s exceeded its memory limit of 256 MiB (restart %llu, back in %lld s)", def->name,
			 (unsigned long long)restarts, (long long)(wait / OODA_NS_PER_SEC));
		world_log(w, i, 21, why, tid, sid, user);
		status = 503;
	} else if (shed) {
		snprintf(why, sizeof why, "load shed: request rejected by admission control");
		status = 503;
	} else {
		sleep_ms(work / 2 + extra);
		for (int k = 0; k < SVC_MAX_CALLS && def->calls[k] >= 0 && status == 200; k++) {
			char down_why[200];
			int s = call_down(w, i, def->calls[k], tid, sid, user, down_why, sizeof down_why);
			if (s == 0 || s >= 500) {
				status = 502;
				snprintf(why, sizeof why, "%s failed: %s", def->route, down_why);
				world_log(w, i, 17, why, tid, sid, user);
			}
		}
		sleep_ms(work / 2);
		if (status == 200 && flag_break) {
			status = 500;
			snprintf(why, sizeof why,
				 "pricing: discount table missing for plan free (flag %s on) while pricing order",
				 SIM_FLAG_KEY);
			world_log(w, i, 17, why, tid, sid, user);
		} else if (status == 200 && fail_own) {
			status = 500;
			snprintf(why, sizeof why, bad_release_msg[i], version);
			world_log(w, i, 17, why, tid, sid, user);
		}
	}
	int64_t end = ooda_now_ns();
	char name[96];
	if (i == SVC_RECONCILER)
		snprintf(name, sizeof name, "%s", def->route);
	else
		snprintf(name, sizeof name, "%s %s", def->method, def->route);
	struct span s = { tid, sid, has_parent ? in.span_id : NULL, name, i == SVC_RECONCILER ? 1 : 2, start, end,
			  i == SVC_RECONCILER ? 0 : status, status >= 500 ? why : NULL, NULL,
			  i == SVC_RECONCILER ? NULL : def->method, i == SVC_RECONCILER ? NULL : def->route,
			  i == SVC_FRONTEND ? user : 0 };
	emit_span(w, i, &s);
	pthread_mutex_lock(&st->mu);
	record(st, status, (double)(end - start) / 1e9);
	pthread_mutex_unlock(&st->mu);
	return status;
}

void service_metrics(struct world *w, int i, struct buf *out)
{
	struct svc_state *st = &w->svc[i];
	const char *n = svc_defs[i].name;
	pthread_mutex_lock(&st->mu);
	buf_adds(out, "# HELP sim_requests_total Requests answered, by status class.\n"
		      "# TYPE sim_requests_total counter\n");
	buf_addf(out, "sim_requests_total{service=\"%s\",code=\"2xx\"} %llu\n", n, (unsigned long long)st->req_ok);
	buf_addf(out, "sim_requests_total{service=\"%s\",code=\"5xx\"} %llu\n", n, (unsigned long long)st->req_err);
	buf_adds(out, "# HELP sim_requests_shed_total Requests rejected by load shedding (also counted as 5xx).\n"
		      "# TYPE sim_requests_shed_total counter\n");
	buf_addf(out, "sim_requests_shed_total{service=\"%s\"} %llu\n", n, (unsigned long long)st->req_shed);
	buf_adds(out, "# HELP sim_request_duration_seconds Time to answer a request.\n"
		      "# TYPE sim_request_duration_seconds histogram\n");
	for (int b = 0; b < SIM_BUCKETS; b++)
		buf_addf(out, "sim_request_duration_seconds_bucket{service=\"%s\",le=\"%g\"} %llu\n", n,
			 sim_bucket_le[b], (unsigned long long)st->bucket[b]);
	buf_addf(out, "sim_request_duration_seconds_bucket{service=\"%s\",le=\"+Inf\"} %llu\n", n,
		 (unsigned long long)st->latency_count);
	buf_addf(out, "sim_request_duration_seconds_sum{service=\"%s\"} %.6f\n", n, st->latency_sum);
	buf_addf(out, "sim_request_duration_seconds_count{service=\"%s\"} %llu\n", n,
		 (unsigned long long)st->latency_count);
	buf_adds(out, "# HELP process_resident_memory_bytes Simulated resident memory.\n"
		      "# TYPE process_resident_memory_bytes gauge\n");
	buf_addf(out, "process_resident_memory_bytes{service=\"%s\"} %.0f\n", n, st->mem_bytes);
	buf_adds(out, "# HELP sim_restarts_total Restarts, by the admin endpoint or a crash.\n"
		      "# TYPE sim_restarts_total counter\n");
	buf_addf(out, "sim_restarts_total{service=\"%s\"} %llu\n", n, (unsigned long long)st->restarts);
	buf_adds(out, "# HELP sim_build_info The running version.\n# TYPE sim_build_info gauge\n");
	buf_addf(out, "sim_build_info{service=\"%s\",version=", n);
	buf_add_json_str(out, st->version, strlen(st->version));
	buf_adds(out, "} 1\n");
	pthread_mutex_unlock(&st->mu);
}

/* POST /admin/version {"version"} and /admin/shed {"ratio"}: small JSON bodies. */
static enum MHD_Result admin_json(struct world *w, int i, struct MHD_Connection *c, const char *what,
				  const char *body, size_t len)
{
	json_error_t je;
	json_t *j = json_loadb(body, len, 0, &je);
	enum MHD_Result rc;
	if (!json_is_object(j)) {
		json_decref(j);
		return mhd_problem(c, 400, strcmp(what, "version") == 0 ? "body: must be {\"version\": \"…\"}"
									: "body: must be {\"ratio\": 0..1}");
	}
	if (strcmp(what, "version") == 0) {
		json_t *v = json_object_get(j, "version");
		const char *s = json_string_value(v);
		if (!s || !*s || strlen(s) >= sizeof w->svc[i].version) {
			json_decref(j);
			return mhd_problem(c, 400, "version: required, a string of 1 to 31 characters");
		}
		world_set_version(w, i, s);
	} else {
		json_t *v = json_object_get(j, "ratio");
		double r = json_number_value(v);
		if (!json_is_number(v) || !isfinite(r) || r < 0 || r > 1) {
			json_decref(j);
			return mhd_problem(c, 400, "ratio: required, a number from 0 to 1");
		}
		pthread_mutex_lock(&w->svc[i].mu);
		w->svc[i].shed_ratio = r;
		pthread_mutex_unlock(&w->svc[i].mu);
	}
	json_decref(j);
	struct buf out = BUF_INIT;
	world_state_json(w, &out);
	rc = mhd_reply(c, 200, "application/json", out.data, out.len);
	buf_release(&out);
	return rc;
}

static enum MHD_Result on_service(void *cls, struct MHD_Connection *c, const char *method, const char *url,
				  const char *body, size_t len)
{
	struct svc_state *st = cls;
	struct world *w = st->w;
	int i = st->idx;
	if (strcmp(url, "/healthz") == 0) {
		pthread_mutex_lock(&st->mu);
		bool up = !st->down && ooda_now_ns() >= st->restarting_until;
		pthread_mutex_unlock(&st->mu);
		return up ? mhd_reply(c, 200, "text/plain", "ok\n", 3) : mhd_problem(c, 503, "service is down");
	}
	if (strcmp(url, "/metrics") == 0) {
		struct buf out = BUF_INIT;
		service_metrics(w, i, &out);
		enum MHD_Result rc = mhd_reply(c, 200, "text/plain; version=0.0.4", out.data, out.len);
		buf_release(&out);
		return rc;
	}
	if (strncmp(url, "/admin/", 7) == 0) {
		if (strcmp(method, "POST") != 0)
			return mhd_problem(c, 405, "admin endpoints take POST");
		if (strcmp(url, "/admin/restart") == 0) {
			world_restart(w, i);
			return mhd_reply(c, 202, "application/json", "{\"restarting\":true}", 19);
		}
		if (strcmp(url, "/admin/version") == 0)
			return admin_json(w, i, c, "version", body, len);
		if (strcmp(url, "/admin/shed") == 0)
			return admin_json(w, i, c, "shed", body, len);
		return mhd_problem(c, 404, "admin endpoints: /admin/restart, /admin/version, /admin/shed");
	}
	if (strcmp(url, svc_defs[i].route) != 0)
		return mhd_problem(c, 404, "no such route");
	int user = 0;
	const char *u = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "user");
	if (!u)
		u = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Sim-User");
	if (u)
		user = atoi(u);
	const char *tp = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "traceparent");
	int status = service_handle(w, i, tp, user);
	if (status == 200)
		return mhd_reply(c, 200, "application/json", "{\"ok\":true}", 11);
	return mhd_problem(c, (unsigned)status, status == 503 ? "unavailable" : "request failed");
}

int service_start(struct world *w, int i, int port, struct buf *err)
{
	struct svc_state *st = &w->svc[i];
	st->http.route = on_service;
	st->http.cls = st;
	if (mhd_serve(&st->http, port) < 0) {
		buf_addf(err, "%s: cannot listen on 127.0.0.1:%d", svc_defs[i].name, port);
		return OODA_EUNAVAIL;
	}
	return 0;
}

void service_stop(struct world *w, int i)
{
	mhd_stop(&w->svc[i].http);
}
