/*
 * The triage summary and the diagnostics snapshot (see triage.h): the
 * orient step of an incident, computed from one read of the telemetry
 * window (triage_data.c) at open and again as data arrives.
 */
#include "respond/triage.h"

#include <math.h>

#include "core/error.h"
#include "core/time.h"
#include "respond/triage_data.h"
#include "store/vdoc.h"
#include "model/jsontime.h"

#define SEV_ERROR 17   /* OTel SeverityNumber ERROR */
#define TOP_SIGNALS 8
#define TOP_OPERATIONS 5
#define TOP_TRACES 5
#define SPIKE_FACTOR 3.0
#define SNAPSHOT_MAX_DOCS 500 /* flag and config versions listed in a snapshot */

static bool node_has_involved(const struct tdata *d, uint32_t svc)
{
	for (size_t i = 0; i < d->n_involved; i++)
		if (d->nodes[i] == svc)
			return true;
	return false;
}

static bool node_has_any(const struct tdata *d, uint32_t svc)
{
	for (size_t i = 0; i < d->n_nodes; i++)
		if (d->nodes[i] == svc)
			return true;
	return false;
}

static json_t *services_red(const struct tdata *d)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < d->n_nodes; i++) {
		struct tred b = tdata_red(d, d->nodes[i], -1, d->from, d->onset);
		struct tred c = tdata_red(d, d->nodes[i], -1, d->onset, d->to);
		if (i >= d->n_involved && !b.requests && !c.requests)
			continue;
		json_array_append_new(arr, json_pack("{s:s, s:b, s:o, s:o}", "service", d->svcs.v[d->nodes[i]], "involved",
						     i < d->n_involved, "baseline", tred_json(&b), "incident",
						     tred_json(&c)));
	}
	return arr;
}

struct opcount {
	uint32_t svc, op;
	uint64_t req, err;
};

static int cmp_op(const void *a, const void *b)
{
	const struct opcount *x = a, *y = b;
	return (x->err < y->err) - (x->err > y->err);
}

static json_t *failing_operations(const struct tdata *d)
{
	struct opcount *v = NULL;
	size_t n = 0;
	for (size_t k = 0; k < d->n; k++) {
		const struct tspan *t = &d->spans[k];
		if (!t->server || t->end < d->onset)
			continue;
		if (!node_has_any(d, t->svc))
			continue;
		size_t i;
		for (i = 0; i < n && !(v[i].svc == t->svc && v[i].op == t->op); i++)
			;
		if (i == n) {
			v = xrealloc(v, (n + 1) * sizeof(*v));
			v[n++] = (struct opcount){ t->svc, t->op, 0, 0 };
		}
		v[i].req++;
		v[i].err += t->error;
	}
	if (n)
		qsort(v, n, sizeof(*v), cmp_op);
	json_t *arr = json_array();
	for (size_t i = 0; i < n && json_array_size(arr) < TOP_OPERATIONS; i++)
		if (v[i].err)
			json_array_append_new(arr, json_pack("{s:s, s:s, s:I, s:I}", "service", d->svcs.v[v[i].svc],
							     "operation", d->ops.v[v[i].op], "requests", (json_int_t)v[i].req,
							     "errors", (json_int_t)v[i].err));
	free(v);
	return arr;
}

struct users_ctx {
	struct tdata *d;
	uint8_t *seen; /* per users index */
	size_t cap;
};

static void user_mark(struct users_ctx *u, int32_t idx)
{
	if (idx < 0)
		return;
	if ((size_t)idx >= u->cap) {
		size_t nc = (size_t)idx * 2 + 64;
		u->seen = xrealloc(u->seen, nc);
		memset(u->seen + u->cap, 0, nc - u->cap);
		u->cap = nc;
	}
	u->seen[idx] = 1;
}

static int log_users(void *ctx, const struct telemetry_batch *b, int64_t tmin, int64_t tmax)
{
	(void)tmin;
	(void)tmax;
	struct users_ctx *u = ctx;
	for (size_t i = 0; i < b->n_logs; i++) {
		const struct log_record *r = &b->logs[i];
		if (r->severity < SEV_ERROR || r->time_ns < u->d->onset || r->time_ns >= u->d->to)
			continue;
		for (uint32_t k = 0; k < r->attrs.n; k++) {
			const struct attr *a = &r->attrs.v[k];
			if (strcmp(a->key, "enduser.id") && strcmp(a->key, "user.id"))
				continue;
			char v[256];
			if (a->type == ATTR_STR && a->len && a->len < sizeof(v)) {
				memcpy(v, a->s, a->len);
				v[a->len] = 0;
			} else if (a->type == ATTR_INT) {
				snprintf(v, sizeof(v), "%lld", (long long)a->i);
			} else {
				continue;
			}
			user_mark(u, (int32_t)strtab_intern(&u->d->users, v));
			break;
		}
	}
	return 0;
}

/* Distinct users of failing requests and error logs of the involved services in the incident window. */
static json_t *affected_users(struct tdata *d)
{
	struct users_ctx u = { d, NULL, 0 };
	for (size_t k = 0; k < d->n; k++) {
		const struct tspan *t = &d->spans[k];
		if (t->error && t->end >= d->onset && node_has_involved(d, t->svc))
			user_mark(&u, t->user);
	}
	const char **names = xcalloc(d->n_involved + 1, sizeof(char *));
	for (size_t i = 0; i < d->n_involved; i++)
		names[i] = d->svcs.v[d->nodes[i]];
	struct tstore_scan q = { .signal = SIGNAL_LOGS, .from_ns = d->onset, .to_ns = d->to,
				 .services = names, .n_services = d->n_involved, .min_severity = SEV_ERROR };
	struct buf e2 = BUF_INIT;
	tstore_scan(d->deps->tstore, &q, log_users, &u, &e2); /* users from logs are a bonus: a failed read is not fatal */
	buf_release(&e2);
	free(names);
	json_int_t n = 0;
	for (size_t i = 0; i < u.cap; i++)
		n += u.seen[i];
	free(u.seen);
	return n ? json_integer(n) : json_null();
}

/* Budget burned during the incident, per SLO of an involved service. */
static json_t *slo_budget(const struct tdata *d)
{
	json_t *arr = json_array();
	if (!d->deps->slos)
		return arr;
	struct buf a = BUF_INIT, b = BUF_INIT, e = BUF_INIT;
	slo_list_json(d->deps->slos, d->onset, &a, &e);
	slo_list_json(d->deps->slos, d->now, &b, &e);
	json_t *ja = json_loadb(a.data, a.len, 0, NULL), *jb = json_loadb(b.data, b.len, 0, NULL);
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(jb, "slos"), i, s) {
		const char *svc = json_string_value(json_object_get(s, "service"));
		const char *name = json_string_value(json_object_get(s, "name"));
		int32_t idx = svc ? strtab_find(&d->svcs, svc) : -1;
		if (!name || idx < 0 || !node_has_involved(d, (uint32_t)idx))
			continue;
		json_t *before = NULL;
		size_t k;
		json_t *o;
		json_array_foreach(json_object_get(ja, "slos"), k, o) if (json_string_value(json_object_get(o, "name")) &&
									   !strcmp(json_string_value(json_object_get(o, "name")), name)) before = o;
		json_t *r0 = json_object_get(json_object_get(before, "error_budget"), "remaining");
		json_t *r1 = json_object_get(json_object_get(s, "error_budget"), "remaining");
		if (!json_is_number(r0) || !json_is_number(r1))
			continue;
		double burned = json_number_value(r0) - json_number_value(r1);
		json_array_append_new(arr, json_pack("{s:s, s:s, s:f, s:f, s:f}", "slo", name, "service", svc,
						     "remaining_at_onset", json_number_value(r0), "remaining_now",
						     json_number_value(r1), "burned", burned > 0 ? burned : 0.0));
	}
	json_decref(ja);
	json_decref(jb);
	buf_release(&a);
	buf_release(&b);
	buf_release(&e);
	return arr;
}

struct sig {
	uint32_t svc;
	const char *metric;
	double base, cur, mag;
};

static int cmp_sig(const void *a, const void *b)
{
	double x = fabs(log(((const struct sig *)a)->mag)), y = fabs(log(((const struct sig *)b)->mag));
	return (x < y) - (x > y);
}

/* The most anomalous signals: incident over baseline, far from 1 either way. */
static json_t *signals(const struct tdata *d)
{
	struct sig *v = xcalloc(d->n_nodes * 3 + 1, sizeof(*v));
	size_t n = 0;
	for (size_t i = 0; i < d->n_nodes; i++) {
		struct tred b = tdata_red(d, d->nodes[i], -1, d->from, d->onset);
		struct tred c = tdata_red(d, d->nodes[i], -1, d->onset, d->to);
		if (!c.requests && !b.requests)
			continue;
		struct {
			const char *metric;
			double base, cur, floor;
			bool ok;
		} m[3] = {
			{ "error_ratio", b.requests ? (double)b.errors / (double)b.requests : 0,
			  c.requests ? (double)c.errors / (double)c.requests : 0, 0.001, c.requests > 0 },
			{ "latency_p90", b.p90_ms, c.p90_ms, 1.0, b.requests && c.requests },
			{ "rate", b.rate, c.rate, 0.01, true },
		};
		for (int k = 0; k < 3; k++) {
			if (!m[k].ok)
				continue;
			double mag = fmax(m[k].cur, m[k].floor) / fmax(m[k].base, m[k].floor);
			if (mag < 1.5 && mag > 1 / 1.5)
				continue;
			v[n++] = (struct sig){ d->nodes[i], m[k].metric, m[k].base, m[k].cur, mag };
		}
	}
	qsort(v, n, sizeof(*v), cmp_sig);
	json_t *arr = json_array();
	for (size_t i = 0; i < n && i < TOP_SIGNALS; i++)
		json_array_append_new(arr, json_pack("{s:s, s:s, s:f, s:f, s:f}", "service", d->svcs.v[v[i].svc], "metric",
						     v[i].metric, "baseline", v[i].base, "incident", v[i].cur, "magnitude",
						     v[i].mag));
	free(v);
	return arr;
}

/* New or spiking error classes of the involved services. */
static json_t *error_classes(const struct tdata *d)
{
	json_t *arr = json_array();
	if (!d->deps->logclass)
		return arr;
	double base_s = (double)(d->onset - d->from) / 1e9, inc_s = (double)(d->to - d->onset) / 1e9;
	logclass_catch_up(d->deps->logclass); /* several nodes: the lines every node took */
	for (size_t i = 0; i < d->n_involved; i++) {
		const char *svc = d->svcs.v[d->nodes[i]];
		struct buf a = BUF_INIT, b = BUF_INIT;
		logclass_json(d->deps->logclass, svc, d->onset, SEV_ERROR, 20, &a);
		logclass_json(d->deps->logclass, svc, d->from, SEV_ERROR, 100, &b);
		json_t *ja = json_loadb(a.data, a.len, 0, NULL), *jb = json_loadb(b.data, b.len, 0, NULL);
		size_t k;
		json_t *p;
		json_array_foreach(json_object_get(ja, "patterns"), k, p) {
			const char *id = json_string_value(json_object_get(p, "id"));
			json_int_t inc = json_integer_value(json_object_get(p, "count_in_range")), all = inc;
			size_t z;
			json_t *q;
			json_array_foreach(json_object_get(jb, "patterns"), z, q) if (id && json_string_value(json_object_get(q, "id")) &&
										     !strcmp(id, json_string_value(json_object_get(q, "id")))) all = json_integer_value(json_object_get(q, "count_in_range"));
			json_int_t base = all > inc ? all - inc : 0;
			const char *first = json_string_value(json_object_get(p, "first_seen"));
			int64_t first_ns = -1;
			if (first)
				ooda_time_parse(first, strlen(first), &first_ns);
			bool is_new = first_ns >= d->from;
			bool spiking = inc >= 3 && inc_s > 0 && (double)inc / inc_s >= SPIKE_FACTOR * (double)base / base_s;
			if (!inc || (!is_new && !spiking))
				continue;
			json_array_append_new(arr, json_pack("{s:s, s:s?, s:s?, s:I, s:I, s:s?, s:b, s:b}", "service", svc,
							     "template", json_string_value(json_object_get(p, "template")),
							     "example", json_string_value(json_object_get(p, "example")), "count",
							     inc, "baseline_count", base, "first_seen", first, "new", is_new,
							     "spiking", spiking));
		}
		json_decref(ja);
		json_decref(jb);
		buf_release(&a);
		buf_release(&b);
	}
	return arr;
}

/* Trace ids of failing requests of the involved services (primary first), at most max. */
static json_t *exemplars(const struct tdata *d, size_t max, bool with_root)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < d->n_involved && json_array_size(arr) < max; i++) {
		for (size_t k = 0; k < d->n && json_array_size(arr) < max; k++) {
			const struct tspan *t = &d->spans[k];
			if (!t->server || !t->error || t->svc != d->nodes[i] || t->end < d->onset)
				continue;
			char hex[33];
			tdata_hex(t->trace, 16, hex);
			bool dup = false;
			size_t z;
			json_t *o;
			json_array_foreach(arr, z, o) dup |= !strcmp(json_string_value(json_object_get(o, "trace_id")), hex);
			if (dup)
				continue;
			json_t *ex = json_pack("{s:s, s:s, s:s, s:f}", "trace_id", hex, "service", d->svcs.v[t->svc],
					       "operation", d->ops.v[t->op], "duration_ms", (double)(t->end - t->start) / 1e6);
			if (with_root) {
				/* the root span (no parent read) and the trace's span counts */
				const struct tspan *root = t;
				json_int_t spans = 0, errs = 0;
				for (size_t m = 0; m < d->n; m++) {
					const struct tspan *u = &d->spans[m];
					if (memcmp(u->trace, t->trace, 16))
						continue;
					spans++;
					errs += u->error;
					if (u->parent < 0 && (root->parent >= 0 || u->start < root->start))
						root = u;
				}
				json_object_set_new(ex, "root", json_pack("{s:s, s:s, s:f, s:s}", "service", d->svcs.v[root->svc],
									  "name", d->ops.v[root->op], "duration_ms",
									  (double)(root->end - root->start) / 1e6, "status",
									  root->error ? "error" : "ok"));
				json_object_set_new(ex, "spans", json_integer(spans));
				json_object_set_new(ex, "error_spans", json_integer(errs));
			}
			json_array_append_new(arr, ex);
		}
	}
	return arr;
}

static json_t *runbook(const struct tdata *d)
{
	const char *r = json_string_value(json_object_get(d->incident, "runbook"));
	size_t i;
	const json_t *s;
	json_array_foreach(d->deps->services, i, s) {
		const char *name = json_string_value(json_object_get(s, "name"));
		if (!r && name && !strcmp(name, d->primary))
			r = json_string_value(json_object_get(s, "runbook"));
	}
	return r ? json_string(r) : json_null();
}

static void window_json(const struct tdata *d, json_t *o)
{
	json_object_set_new(o, "onset_at", json_time(d->onset));
	json_object_set_new(o, "window", json_pack("{s:o, s:o, s:o, s:b}", "baseline_from", json_time(d->from), "onset",
						   json_time(d->onset), "to", json_time(d->now), "truncated",
						   d->truncated));
}

/* The service a suspect is about: "svc", "caller->svc" (the callee's behaviour), "svc@change". */
static void suspect_service(const char *node, char *out, size_t cap)
{
	const char *arrow = strstr(node, "->");
	if (arrow)
		node = arrow + 2;
	size_t n = strcspn(node, "@");
	if (n >= cap)
		n = cap - 1;
	memcpy(out, node, n);
	out[n] = '\0';
}

/* Whether svc is the primary or lies below it (its callees, transitively, over the known edges). */
static bool below_primary(const struct tdata *d, const char *svc)
{
	size_t n = d->svcs.n;
	bool *seen = xcalloc(n + 1, sizeof(bool));
	uint32_t *queue = xcalloc(n + 1, sizeof(uint32_t));
	size_t head = 0, tail = 0;
	for (uint32_t i = 0; i < n; i++)
		if (!strcmp(d->svcs.v[i], d->primary)) {
			seen[i] = true;
			queue[tail++] = i;
		}
	bool found = false;
	while (head < tail && !found) {
		uint32_t s = queue[head++];
		found = !strcmp(d->svcs.v[s], svc);
		for (size_t k = 0; k < d->n_edges; k++)
			if (d->edges[k].caller == s && d->edges[k].callee < n && !seen[d->edges[k].callee]) {
				seen[d->edges[k].callee] = true;
				queue[tail++] = d->edges[k].callee;
			}
	}
	free(seen);
	free(queue);
	return found;
}

/* The index of the suspect whose node is name (the list's size when none), and the top score in *top. */
static size_t suspect_at(const json_t *arr, const char *name, double *top)
{
	*top = 0;
	size_t i, at = json_array_size(arr);
	const json_t *o;
	json_array_foreach(arr, i, o) {
		double sc = json_real_value(json_object_get(o, "score"));
		*top = sc > *top ? sc : *top;
		const char *node = json_string_value(json_object_get(o, "node"));
		if (at == json_array_size(arr) && node && !strcmp(node, name))
			at = i;
	}
	return at;
}

/*
 * A heartbeat or a health probe is the service's own signal. A job that
 * stopped usually stops its telemetry too, and a service that is down sends
 * no spans, so the ranking (which reads telemetry) may not see it at all, or
 * only faintly, while its callers' errors are loud.
 *   - A missed heartbeat puts its service first, with that as evidence,
 *     ahead of whatever the telemetry ranked: nothing upstream sends it.
 *   - A failing probe puts its service ahead of every caller and unrelated
 *     suspect, but behind the suspects below it (its callees, a change of
 *     one, an edge into one) that the ranking put ahead of it: a health
 *     check can fail because of a dependency, which is what the ranking is
 *     for, but never because of a caller or an unrelated service. When the
 *     ranking does not name the service at all (it sent nothing), only
 *     dependencies at the very top of the ranking stay ahead of it.
 */
static void own_signal_first(const struct tdata *d, json_t *arr)
{
	const json_t *src = json_object_get(d->incident, "source");
	const char *name = json_string_value(json_object_get(src, "name"));
	int probe = name && !strncmp(name, "probe:", 6);
	if (!d->primary || !name || (strncmp(name, "heartbeat:", 10) && !probe))
		return;
	json_t *own = json_pack("{s:s, s:s, s:s}", "kind", "own_signal", "alert", name, "detail",
				probe ? "the service's own health probe is failing" : "the service's own heartbeat stopped");
	double top;
	size_t i, at = suspect_at(arr, d->primary, &top); /* the primary's place in the ranking, or the end */
	json_t *o;
	bool ranked = at < json_array_size(arr);
	/* the suspects that stay ahead of the primary: dependencies ranked before it */
	json_t *ahead = json_array(), *rest = json_array();
	bool leading = true;
	json_array_foreach(arr, i, o) {
		if (i == at)
			continue;
		const char *node = json_string_value(json_object_get(o, "node"));
		char svc[256];
		suspect_service(node ? node : "", svc, sizeof svc);
		bool dep = probe && strcmp(svc, d->primary) && below_primary(d, svc);
		leading = leading && dep;
		if (dep && i < at && (ranked || leading))
			json_array_append(ahead, o);
		else
			json_array_append(rest, o);
	}
	/* its score is at least that of every suspect now after it */
	double rest_top = 0;
	json_array_foreach(rest, i, o) {
		double sc = json_real_value(json_object_get(o, "score"));
		rest_top = sc > rest_top ? sc : rest_top;
	}
	json_t *me;
	if (ranked) {
		me = json_incref(json_array_get(arr, at));
		json_array_insert_new(json_object_get(me, "evidence"), 0, own);
		if (json_real_value(json_object_get(me, "score")) < rest_top)
			json_object_set_new(me, "score", json_real(rest_top));
	} else {
		double sc = rest_top > 0 ? rest_top : json_array_size(ahead) ? 0.0 : top > 0 ? top : 1.0;
		me = json_pack("{s:s, s:s, s:f, s:f, s:[o]}", "node", d->primary, "kind", "service", "score", sc,
			       "confidence", 0.9, "evidence", own);
	}
	json_array_clear(arr);
	json_array_extend(arr, ahead);
	json_array_append_new(arr, me);
	json_array_extend(arr, rest);
	json_decref(ahead);
	json_decref(rest);
}

/*
 * Where the failing requests since the onset failed. A failing span none of
 * whose children failed is where its request's error began: a server or
 * internal span in its own service, a client span whose call reached no
 * server span in the service its peer names (refused, timed out: a service
 * that is down sends nothing). Spans whose origin cannot be told (a client
 * span whose callee answered without an error, a peer that is no known
 * service) are not counted, nor are failures of requests that touched none
 * of the incident's services without failing there (another incident's
 * failures). When one service is the origin of a majority of
 * the counted failures, and of at least TRIAGE_ORIGIN_MIN, its index goes to
 * *svc with its count and the total; else -1.
 */
#define TRIAGE_ORIGIN_MIN 5

static int cmp_trace(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

static bool involved(const struct tdata *d, uint32_t svc)
{
	for (size_t i = 0; i < d->n_involved; i++)
		if (d->nodes[i] == svc)
			return true;
	return false;
}

/*
 * The trace ids, sorted for bsearch with cmp_trace (*n of them; the caller
 * frees), of the spans in one of the incident's services: every one, or
 * only those that failed since the onset.
 */
static uint8_t (*involved_traces(const struct tdata *d, bool failed_since_onset, size_t *n))[16]
{
	uint8_t(*traces)[16] = xcalloc(d->n ? d->n : 1, 16);
	*n = 0;
	for (size_t k = 0; k < d->n; k++) {
		const struct tspan *t = &d->spans[k];
		if (involved(d, t->svc) && (!failed_since_onset || (t->error && t->end >= d->onset)))
			memcpy(traces[(*n)++], t->trace, 16);
	}
	qsort(traces, *n, 16, cmp_trace);
	return traces;
}

static int32_t error_origin(const struct tdata *d, size_t *count, size_t *total)
{
	*count = *total = 0;
	if (!d->n)
		return -1;
	/* the traces whose request failed in one of the incident's services, sorted */
	size_t nt;
	uint8_t(*traces)[16] = involved_traces(d, true, &nt);
	bool *err_child = xcalloc(d->n, sizeof(bool));
	size_t *by_svc = xcalloc(d->svcs.n + 1, sizeof(size_t));
	for (size_t k = 0; k < d->n; k++)
		if (d->spans[k].error && d->spans[k].parent >= 0)
			err_child[d->spans[k].parent] = true;
	for (size_t k = 0; k < d->n; k++) {
		const struct tspan *t = &d->spans[k];
		if (!t->error || err_child[k] || t->end < d->onset || !nt || !bsearch(t->trace, traces, nt, 16, cmp_trace))
			continue;
		int32_t origin = -1;
		if (!t->client)
			origin = (int32_t)t->svc;
		else if (t->callee < 0)
			origin = t->peer;
		if (origin < 0 || (size_t)origin >= d->svcs.n)
			continue;
		by_svc[origin]++;
		(*total)++;
	}
	int32_t best = -1;
	for (size_t i = 0; i < d->svcs.n; i++)
		if (best < 0 || by_svc[i] > by_svc[best])
			best = (int32_t)i;
	if (best >= 0) {
		*count = by_svc[best];
		if (*count < TRIAGE_ORIGIN_MIN || 2 * *count <= *total)
			best = -1;
	}
	free(traces);
	free(err_child);
	free(by_svc);
	return best;
}

/* Moves svc's node first (or adds it), its score at least the top one, with ev first in its evidence. */
static void put_first(json_t *arr, const char *svc, json_t *ev, double confidence)
{
	double top;
	size_t at = suspect_at(arr, svc, &top);
	json_t *me;
	if (at < json_array_size(arr)) {
		me = json_incref(json_array_get(arr, at));
		json_array_remove(arr, at);
		if (!json_is_array(json_object_get(me, "evidence")))
			json_object_set_new(me, "evidence", json_array());
		json_array_insert_new(json_object_get(me, "evidence"), 0, ev);
		if (json_real_value(json_object_get(me, "score")) < top)
			json_object_set_new(me, "score", json_real(top));
	} else {
		me = json_pack("{s:s, s:s, s:f, s:f, s:[o]}", "node", svc, "kind", "service", "score", top > 0 ? top : 1.0,
			       "confidence", confidence, "evidence", ev);
	}
	json_array_insert_new(arr, 0, me);
}

/*
 * The service where most failing requests began goes first. The ranking
 * reads metric series at a fixed step, and an incident seconds old (or one
 * whose fault a policy undid within seconds) has one sample after its onset,
 * where every service with errors looks alike; the traces say directly which
 * one failed by itself and which ones only passed a failure up. Only the
 * service's own node moves (its changes and edges keep their places); its
 * score becomes at least the top score; the evidence says how many failures
 * began there.
 */
static bool origin_first(const struct tdata *d, json_t *arr)
{
	size_t count, total;
	int32_t o = error_origin(d, &count, &total);
	if (o < 0)
		return false;
	const char *svc = d->svcs.v[o];
	char detail[320];
	snprintf(detail, sizeof detail, "%zu of %zu failing requests since the onset began in %s (no failing call below)",
		 count, total, svc);
	json_t *ev = json_pack("{s:s, s:I, s:I, s:s}", "kind", "error_origin", "failures", (json_int_t)count, "of",
			       (json_int_t)total, "detail", detail);
	put_first(arr, svc, ev, (double)count / (double)total);
	return true;
}

/*
 * Where the time added since the onset was spent. A span's own time is its
 * duration less its children's (taken one after another, clamped at 0): a
 * server or internal span's is its service's work, a client span's (the
 * wire, a call refused or timed out) the service it called (the callee, else
 * the service its peer names). Per service, the own time of its spans since
 * the onset beyond what they took on average before it, counting only the
 * spans of traces that touched one of the incident's services (not another
 * incident's slowness). When one service
 * holds a strict majority of the time added, with at least TRIAGE_ORIGIN_MIN
 * spans on either side of the onset and its own time per span grown by half
 * and at least 1 ms (the RED detector's slow bound), its index goes to the
 * result with its figures; else -1.
 */
struct slow_origin {
	double added_ms, total_ms, before_ms, after_ms;
};

static int32_t latency_origin(const struct tdata *d, struct slow_origin *o)
{
	memset(o, 0, sizeof(*o));
	if (!d->n || d->onset <= d->from)
		return -1;
	/* the traces that touched one of the incident's services, sorted */
	size_t nt;
	uint8_t(*traces)[16] = involved_traces(d, false, &nt);
	double *child = xcalloc(d->n, sizeof(double));
	double *sum_b = xcalloc(2 * (d->svcs.n + 1), sizeof(double)), *sum_a = sum_b + d->svcs.n + 1;
	size_t *n_b = xcalloc(2 * (d->svcs.n + 1), sizeof(size_t)), *n_a = n_b + d->svcs.n + 1;
	for (size_t k = 0; k < d->n; k++)
		if (d->spans[k].parent >= 0)
			child[d->spans[k].parent] += (double)(d->spans[k].end - d->spans[k].start);
	for (size_t k = 0; k < d->n; k++) {
		const struct tspan *t = &d->spans[k];
		int32_t at = !t->client ? (int32_t)t->svc : t->callee >= 0 ? t->callee : t->peer;
		if (at < 0 || (size_t)at >= d->svcs.n || t->end < d->from || t->end >= d->to ||
		    !bsearch(t->trace, traces, nt, 16, cmp_trace))
			continue;
		double own = fmax(0, (double)(t->end - t->start) - child[k]) / 1e6;
		if (t->end < d->onset) {
			sum_b[at] += own;
			n_b[at]++;
		} else {
			sum_a[at] += own;
			n_a[at]++;
		}
	}
	int32_t best = -1;
	double best_added = 0;
	for (size_t i = 0; i < d->svcs.n; i++) {
		if (n_b[i] < TRIAGE_ORIGIN_MIN || n_a[i] < TRIAGE_ORIGIN_MIN)
			continue;
		double added = sum_a[i] - (double)n_a[i] * sum_b[i] / (double)n_b[i];
		if (added <= 0)
			continue;
		o->total_ms += added;
		if (best < 0 || added > best_added) {
			best = (int32_t)i;
			best_added = added;
		}
	}
	if (best >= 0) {
		o->added_ms = best_added;
		o->before_ms = sum_b[best] / (double)n_b[best];
		o->after_ms = sum_a[best] / (double)n_a[best];
		if (2 * best_added <= o->total_ms || o->after_ms < o->before_ms + fmax(0.5 * o->before_ms, 1.0))
			best = -1;
	}
	free(traces);
	free(child);
	free(sum_b);
	free(n_b);
	return best;
}

/*
 * With no error origin, the service where most of the added time was spent
 * goes first, for the reason origin_first gives: a latency incident seconds
 * old has one sample of every service's latency after its onset, and each
 * caller of a slow service is slower by as much as it is, while the traces
 * say whose own work grew.
 */
static void slow_origin_first(const struct tdata *d, json_t *arr)
{
	struct slow_origin o;
	int32_t i = latency_origin(d, &o);
	if (i < 0)
		return;
	const char *svc = d->svcs.v[i];
	char detail[320];
	snprintf(detail, sizeof detail,
		 "%.0f ms of the %.0f ms added since the onset were spent in %s's own work (%.3g ms per span, %.3g ms "
		 "before)",
		 o.added_ms, o.total_ms, svc, o.after_ms, o.before_ms);
	json_t *ev = json_pack("{s:s, s:f, s:f, s:f, s:f, s:s}", "kind", "latency_origin", "added_ms", o.added_ms,
			       "of_ms", o.total_ms, "own_ms", o.after_ms, "before_ms", o.before_ms, "detail", detail);
	put_first(arr, svc, ev, o.added_ms / o.total_ms);
}

static json_t *suspects(const struct tdata *d, json_t *summary)
{
	json_t *arr = json_array();
	if (!d->deps->rank)
		return arr;
	struct triage_rca r;
	struct buf e = BUF_INIT;
	struct rca_suspect *s = NULL;
	size_t n = 0;
	int rc = triage_rca_build(d, &r, &e);
	if (!rc)
		rc = d->deps->rank(&r.in, &s, &n, &e);
	if (rc) {
		json_object_set_new(summary, "suspects_error", json_string(e.len ? e.data : ooda_strerror(rc)));
	} else {
		for (size_t i = 0; i < n; i++)
			if (s[i].score > 0) /* a score of 0: nothing about it moved, no suspect */
				json_array_append_new(arr, json_pack("{s:s?, s:s?, s:f, s:f, s:O?}", "node", s[i].node, "kind",
								     s[i].kind, "score", s[i].score, "confidence",
								     s[i].confidence, "evidence", s[i].evidence));
		if (d->deps->rank_free)
			d->deps->rank_free(s, n);
	}
	triage_rca_release(&r);
	buf_release(&e);
	if (!origin_first(d, arr))
		slow_origin_first(d, arr);
	own_signal_first(d, arr);
	return arr;
}

int triage_compute(const struct triage_deps *deps, const json_t *incident, int64_t now_ns, json_t **summary,
		   struct buf *err)
{
	*summary = NULL;
	struct tdata d;
	int rc = tdata_load(&d, deps, incident, now_ns, err);
	if (rc) {
		tdata_release(&d);
		return rc;
	}
	json_t *s = json_object();
	json_object_set_new(s, "incident", d.id ? json_string(d.id) : json_null());
	json_object_set_new(s, "computed_at", json_time(now_ns));
	window_json(&d, s);
	json_t *svcs = services_red(&d);
	json_int_t req = 0, errs = 0;
	size_t i;
	json_t *o;
	json_array_foreach(svcs, i, o) {
		if (!json_is_true(json_object_get(o, "involved")))
			continue;
		req += json_integer_value(json_object_get(json_object_get(o, "incident"), "requests"));
		errs += json_integer_value(json_object_get(json_object_get(o, "incident"), "errors"));
	}
	json_object_set_new(s, "impact", json_pack("{s:o, s:o, s:I, s:I, s:o, s:o}", "services", svcs, "operations",
						   failing_operations(&d), "requests", req, "errors", errs,
						   "affected_users", affected_users(&d), "slo_budget", slo_budget(&d)));
	json_object_set_new(s, "signals", signals(&d));
	json_object_set_new(s, "error_classes", error_classes(&d));
	json_object_set_new(s, "changes", json_incref(d.changes));
	json_object_set_new(s, "exemplar_traces", exemplars(&d, TOP_TRACES, false));
	json_object_set_new(s, "runbook", runbook(&d));
	json_object_set_new(s, "suspects", suspects(&d, s));
	tdata_release(&d);
	*summary = s;
	return 0;
}

/* ---- the one-screen text ---- */

static void ago(struct buf *out, double s)
{
	double a = fabs(s);
	if (a >= 3600)
		buf_addf(out, "%.1fh", a / 3600);
	else if (a >= 60)
		buf_addf(out, "%.0fm", a / 60);
	else
		buf_addf(out, "%.0fs", a);
	buf_adds(out, s >= 0 ? " before onset" : " after onset");
}

static const char *jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static void pct(struct buf *out, const json_t *v)
{
	if (json_is_number(v))
		buf_addf(out, "%.1f%%", 100 * json_number_value(v));
	else
		buf_adds(out, "n/a");
}

static void ms(struct buf *out, const json_t *v)
{
	if (json_is_number(v))
		buf_addf(out, "%.0fms", json_number_value(v));
	else
		buf_adds(out, "n/a");
}

void triage_render_text(const json_t *summary, struct buf *out)
{
	const json_t *imp = json_object_get(summary, "impact");
	size_t i;
	const json_t *o;
	buf_adds(out, "Impact:");
	json_array_foreach(json_object_get(imp, "services"), i, o) {
		const json_t *b = json_object_get(o, "baseline"), *c = json_object_get(o, "incident");
		buf_addf(out, "\n  %s%s: errors ", jstr(o, "service"),
			 json_is_true(json_object_get(o, "involved")) ? "" : " (neighbour)");
		pct(out, json_object_get(c, "error_ratio"));
		buf_adds(out, " (baseline ");
		pct(out, json_object_get(b, "error_ratio"));
		buf_adds(out, "), p90 ");
		ms(out, json_object_get(c, "p90_ms"));
		buf_adds(out, " (baseline ");
		ms(out, json_object_get(b, "p90_ms"));
		buf_addf(out, "), %lld requests", (long long)json_integer_value(json_object_get(c, "requests")));
	}
	if (!json_array_size(json_object_get(imp, "services")))
		buf_adds(out, " no requests seen");
	buf_addf(out, "\n  total: %lld requests, %lld failed", (long long)json_integer_value(json_object_get(imp, "requests")),
		 (long long)json_integer_value(json_object_get(imp, "errors")));
	if (json_is_integer(json_object_get(imp, "affected_users")))
		buf_addf(out, ", %lld users affected", (long long)json_integer_value(json_object_get(imp, "affected_users")));
	json_array_foreach(json_object_get(imp, "slo_budget"), i, o)
		buf_addf(out, "\n  SLO %s: %.1f%% of the error budget burned", jstr(o, "slo"),
			 100 * json_number_value(json_object_get(o, "burned")));
	buf_addch(out, '\n');
	if (json_array_size(json_object_get(imp, "operations"))) {
		buf_adds(out, "Operations:");
		json_array_foreach(json_object_get(imp, "operations"), i, o)
			buf_addf(out, "%s %s %s (%lld errors)", i ? "," : "", jstr(o, "service"), jstr(o, "operation"),
				 (long long)json_integer_value(json_object_get(o, "errors")));
		buf_addch(out, '\n');
	}
	if (json_array_size(json_object_get(summary, "signals"))) {
		buf_adds(out, "Signals:");
		json_array_foreach(json_object_get(summary, "signals"), i, o)
			buf_addf(out, "%s %s %s x%.1f", i ? "," : "", jstr(o, "service"), jstr(o, "metric"),
				 json_number_value(json_object_get(o, "magnitude")));
		buf_addch(out, '\n');
	}
	json_array_foreach(json_object_get(summary, "error_classes"), i, o)
		buf_addf(out, "%s %s%s %s (%lld): %.120s\n", i ? "       " : "Errors:", json_is_true(json_object_get(o, "new")) ? "[new] " : "",
			 jstr(o, "service"), jstr(o, "template"), (long long)json_integer_value(json_object_get(o, "count")),
			 jstr(o, "example"));
	json_array_foreach(json_object_get(summary, "changes"), i, o) {
		buf_addf(out, "%s %s %s %s%s%s, ", i ? "        " : "Changes:", jstr(o, "kind"), jstr(o, "service"),
			 jstr(o, "version"), *jstr(o, "id") ? " " : "", jstr(o, "id"));
		ago(out, json_number_value(json_object_get(o, "before_onset_s")));
		buf_addch(out, '\n');
	}
	if (json_array_size(json_object_get(summary, "exemplar_traces"))) {
		buf_adds(out, "Traces:");
		json_array_foreach(json_object_get(summary, "exemplar_traces"), i, o)
			buf_addf(out, " %s", jstr(o, "trace_id"));
		buf_addch(out, '\n');
	}
	buf_addf(out, "Runbook: %s\n", json_is_string(json_object_get(summary, "runbook")) ?
		 jstr(summary, "runbook") : "none");
	buf_adds(out, "Suspects:");
	json_array_foreach(json_object_get(summary, "suspects"), i, o) {
		if (i >= 5)
			break;
		buf_addf(out, "%s %zu. %s (%.2f)", i ? "\n         " : "", i + 1, jstr(o, "node"),
			 json_number_value(json_object_get(o, "confidence")));
		/* the nearest change on that node, if any */
		size_t k;
		const json_t *c;
		json_array_foreach(json_object_get(summary, "changes"), k, c) {
			if (strcmp(jstr(c, "service"), jstr(o, "node")))
				continue;
			buf_addf(out, " %s %s ", jstr(c, "kind"), *jstr(c, "id") ? jstr(c, "id") : jstr(c, "version"));
			ago(out, json_number_value(json_object_get(c, "before_onset_s")));
			break;
		}
	}
	if (!json_array_size(json_object_get(summary, "suspects")))
		buf_adds(out, " none ranked yet");
	buf_addch(out, '\n');
}

/* ---- the diagnostics snapshot ---- */

struct docs_ctx {
	json_t *arr;
};

static int doc_row(void *ctx, const void *row)
{
	struct docs_ctx *c = ctx;
	const struct doc_row *r = row;
	char t[40];
	if (json_array_size(c->arr) >= SNAPSHOT_MAX_DOCS)
		return 0;
	json_array_append_new(c->arr, json_pack("{s:s, s:I, s:s, s:s?}", "key", r->key, "version", (json_int_t)r->version,
						"time", ooda_time_format(r->time_ns, t, sizeof(t)), "author", r->author));
	return 0;
}

static json_t *json_from(struct buf *b)
{
	json_t *j = json_loadb(b->data, b->len, 0, NULL);
	buf_release(b);
	return j;
}

int triage_snapshot(const struct triage_deps *deps, const json_t *incident, int64_t now_ns, json_t **out,
		    struct buf *err)
{
	*out = NULL;
	struct tdata d;
	int rc = tdata_load(&d, deps, incident, now_ns, err);
	if (rc) {
		tdata_release(&d);
		return rc;
	}
	json_t *s = json_object();
	json_object_set_new(s, "incident", d.id ? json_string(d.id) : json_null());
	json_object_set_new(s, "taken_at", json_time(now_ns));
	window_json(&d, s);
	json_t *edges = json_array();
	for (size_t i = 0; i < d.n_edges; i++) {
		const struct tedge *e = &d.edges[i];
		if (!node_has_involved(&d, e->caller) && !node_has_involved(&d, e->callee))
			continue;
		struct tred b = tdata_red(&d, e->callee, e->caller, d.from, d.onset);
		struct tred c = tdata_red(&d, e->callee, e->caller, d.onset, d.to);
		json_array_append_new(edges, json_pack("{s:s, s:s, s:b, s:b, s:o, s:o}", "source", d.svcs.v[e->caller],
						       "target", d.svcs.v[e->callee], "traced", e->traced, "declared",
						       e->declared, "baseline", tred_json(&b), "incident", tred_json(&c)));
	}
	json_object_set_new(s, "red", json_pack("{s:o, s:o}", "services", services_red(&d), "edges", edges));
	json_object_set_new(s, "error_classes", error_classes(&d));
	json_object_set_new(s, "exemplar_traces", exemplars(&d, 10, true));
	json_t *probes = json_array(), *hbs = json_array();
	if (deps->prober) {
		struct buf b = BUF_INIT, e = BUF_INIT;
		if (!prober_json(deps->prober, NULL, NULL, &b, &e)) {
			json_t *j = json_from(&b);
			size_t i;
			json_t *p;
			json_array_foreach(json_object_get(j, "probes"), i, p) {
				const char *svc = json_string_value(json_object_get(p, "service"));
				int32_t idx = svc ? strtab_find(&d.svcs, svc) : -1;
				if (idx >= 0 && node_has_any(&d, (uint32_t)idx))
					json_array_append(probes, p);
			}
			json_decref(j);
		}
		buf_release(&b);
		buf_release(&e);
	}
	if (deps->heartbeats) {
		struct buf b = BUF_INIT, e = BUF_INIT;
		if (!heartbeats_json(deps->heartbeats, NULL, now_ns, &b, &e)) {
			json_t *j = json_from(&b);
			json_array_extend(hbs, json_object_get(j, "heartbeats"));
			json_decref(j);
		}
		buf_release(&b);
		buf_release(&e);
	}
	json_object_set_new(s, "probes", probes);
	json_object_set_new(s, "heartbeats", hbs);
	struct docs_ctx flags = { json_array() }, configs = { json_array() };
	if (deps->store) {
		vdoc_list(deps->store, "flag", "", doc_row, &flags);
		for (size_t i = 0; i < d.n_nodes; i++) {
			char prefix[200];
			snprintf(prefix, sizeof(prefix), "%s/", d.svcs.v[d.nodes[i]]);
			vdoc_list(deps->store, "config", prefix, doc_row, &configs);
		}
	}
	json_object_set_new(s, "flags", flags.arr);
	json_object_set_new(s, "configs", configs.arr);
	json_object_set_new(s, "changes", json_incref(d.changes));
	tdata_release(&d);
	*out = s;
	return 0;
}
