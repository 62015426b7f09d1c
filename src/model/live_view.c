/*
 * The read side of live signals: the JSON views the HTTP API serves
 * (services, one service, the dependency graph), the per-slot RED snapshot
 * the detection engine reads, and the export of RED series as cumulative
 * metric points for PromQL. Each call takes the live mutex for its duration
 * and sums slots as live.h describes.
 */
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <xxhash.h>

#include "core/error.h"
#include "core/time.h"
#include "model/live_impl.h"

/* ---- JSON views ---- */

struct window {
	int64_t k_lo, k_hi;
	double seconds;
};

static int window_get(const struct live_signals *live, int64_t now_ns, int64_t window_ns,
		      struct window *w, struct buf *err)
{
	if (now_ns < 0 || window_ns <= 0) {
		if (err)
			buf_adds(err, "live: window must be positive and now not before 1970");
		return OODA_EINVAL;
	}
	int64_t slot = live->cfg.slot_ns;
	int64_t m = window_ns / slot + (window_ns % slot != 0);
	if (m > (int64_t)live->cfg.n_slots)
		m = live->cfg.n_slots;
	w->k_hi = now_ns / slot;
	w->k_lo = w->k_hi - m + 1;
	w->seconds = (double)(m * slot) / 1e9;
	return 0;
}

static void json_num(struct buf *out, double v)
{
	if (isfinite(v))
		buf_addf(out, "%.10g", v);
	else
		buf_adds(out, "null");
}

static void json_red(struct buf *out, const struct totals *t, double seconds)
{
	buf_addf(out, "\"requests\":%llu,\"errors\":%llu,\"rate\":", (unsigned long long)t->req,
		 (unsigned long long)t->err);
	json_num(out, (double)t->req / seconds);
	buf_adds(out, ",\"error_ratio\":");
	json_num(out, t->req ? (double)t->err / (double)t->req : NAN);
	buf_adds(out, ",\"p50_ms\":");
	json_num(out, live_quantile_ms(t, 0.50));
	buf_adds(out, ",\"p90_ms\":");
	json_num(out, live_quantile_ms(t, 0.90));
	buf_adds(out, ",\"p99_ms\":");
	json_num(out, live_quantile_ms(t, 0.99));
}

static void service_totals(const struct live_signals *live, const struct service *svc,
			   const struct window *w, struct totals *t)
{
	memset(t, 0, sizeof(*t));
	for (uint32_t i = 0; i < svc->n_ops; i++)
		live_series_sum(live, &svc->ops[i], w->k_lo, w->k_hi, t);
}

/* The common fields of a service object, without braces. */
static void json_service_fields(const struct live_signals *live, const struct service *svc,
				const struct window *w, struct buf *out)
{
	struct totals t;
	service_totals(live, svc, w, &t);
	buf_adds(out, "\"service\":");
	buf_add_json_str(out, svc->name, strlen(svc->name));
	buf_addch(out, ',');
	json_red(out, &t, w->seconds);

	uint64_t n[3] = { 0, 0, 0 };
	for (int64_t k = w->k_lo < 0 ? 0 : w->k_lo; k <= w->k_hi; k++) {
		const struct ingest_slot *sl = &svc->ingest[live_ring_pos(live, k)];
		if (sl->k == k)
			for (int s = 0; s < 3; s++)
				n[s] += sl->n[s];
	}
	buf_adds(out, ",\"ingest\":{\"logs_per_s\":");
	json_num(out, (double)n[0] / w->seconds);
	buf_adds(out, ",\"spans_per_s\":");
	json_num(out, (double)n[1] / w->seconds);
	buf_adds(out, ",\"points_per_s\":");
	json_num(out, (double)n[2] / w->seconds);
	buf_adds(out, "},\"last_seen\":");
	if (svc->last_seen_ns == INT64_MIN) {
		buf_adds(out, "null");
	} else {
		char ts[40];
		ooda_time_format(svc->last_seen_ns, ts, sizeof(ts));
		buf_add_json_str(out, ts, strlen(ts));
	}
}

static int cmp_service_name(const void *a, const void *b)
{
	const struct service *x = *(struct service *const *)a, *y = *(struct service *const *)b;
	return strcmp(x->name, y->name);
}

int live_services_json(struct live_signals *live, int64_t now_ns, int64_t window_ns,
		       struct buf *out, struct buf *err)
{
	if (!live || !out)
		return OODA_EINVAL;
	struct window w;
	int rc = window_get(live, now_ns, window_ns, &w, err);
	if (rc)
		return rc;
	pthread_mutex_lock(&live->lock);
	struct service **v = xmalloc(sizeof(*v) * (live->n_services + 1));
	if (live->n_services) /* none yet: services may be NULL, which memcpy must not be given */
		memcpy(v, live->services, sizeof(*v) * live->n_services);
	if (live->n_services > 1)
		qsort(v, live->n_services, sizeof(*v), cmp_service_name);
	buf_addch(out, '[');
	for (uint32_t i = 0; i < live->n_services; i++) {
		buf_adds(out, i ? ",{" : "{");
		json_service_fields(live, v[i], &w, out);
		buf_addch(out, '}');
	}
	buf_addch(out, ']');
	pthread_mutex_unlock(&live->lock);
	free(v);
	return 0;
}

static const char *edge_type(const struct live_signals *live, const struct edge *e)
{
	const char *name = e->s.name;
	size_t len = strlen(name);
	if (live_service_find(live, name, len, XXH3_64bits(name, len)) != NONE)
		return "service";
	return e->kind == EDGE_DB ? "database" : "external";
}

/* Calls, errors and latency of one edge, without braces. */
static void json_edge_stats(const struct totals *t, double seconds, struct buf *out)
{
	buf_addf(out, "\"calls\":%llu,\"errors\":%llu,\"rate\":",
		 (unsigned long long)t->req, (unsigned long long)t->err);
	json_num(out, (double)t->req / seconds);
	buf_adds(out, ",\"error_ratio\":");
	json_num(out, t->req ? (double)t->err / (double)t->req : NAN);
	buf_adds(out, ",\"p50_ms\":");
	json_num(out, live_quantile_ms(t, 0.50));
	buf_adds(out, ",\"p99_ms\":");
	json_num(out, live_quantile_ms(t, 0.99));
}

struct op_row {
	const struct series *s;
	struct totals t;
};

static int cmp_op_row(const void *a, const void *b)
{
	const struct op_row *x = a, *y = b;
	if (x->t.req != y->t.req)
		return x->t.req < y->t.req ? 1 : -1;
	return strcmp(x->s->name, y->s->name);
}

/* Neighbour list: callers of svc (upstream) or its callees (downstream). */
static void json_neighbours(const struct live_signals *live, uint32_t svc_id, bool upstream,
			    const struct window *w, struct buf *out)
{
	const char *name = live->services[svc_id]->name;
	bool first = true;
	buf_addch(out, '[');
	for (uint32_t i = 0; i < live->n_edges; i++) {
		const struct edge *e = live->edges[i];
		if (upstream ? strcmp(e->s.name, name) != 0 : e->src != svc_id)
			continue;
		struct totals t = { 0 };
		live_series_sum(live, &e->s, w->k_lo, w->k_hi, &t);
		if (!t.req)
			continue;
		const char *other = upstream ? live->services[e->src]->name : e->s.name;
		buf_adds(out, first ? "{\"service\":" : ",{\"service\":");
		first = false;
		buf_add_json_str(out, other, strlen(other));
		buf_addf(out, ",\"type\":\"%s\",", upstream ? "service" : edge_type(live, e));
		json_edge_stats(&t, w->seconds, out);
		buf_addch(out, '}');
	}
	buf_addch(out, ']');
}

/* The index of the service called name (a whole name, not truncated), or NONE. Holds the lock. */
static uint32_t service_named(const struct live_signals *live, const char *name)
{
	size_t len = strlen(name);
	return len < LIVE_NAME_MAX ? live_service_find(live, name, len, XXH3_64bits(name, len)) : NONE;
}

int live_service_json(struct live_signals *live, const char *name, int64_t now_ns,
		      int64_t window_ns, struct buf *out, struct buf *err)
{
	if (!live || !name || !out)
		return OODA_EINVAL;
	struct window w;
	int rc = window_get(live, now_ns, window_ns, &w, err);
	if (rc)
		return rc;
	pthread_mutex_lock(&live->lock);
	uint32_t id = service_named(live, name);
	if (id == NONE) {
		pthread_mutex_unlock(&live->lock);
		if (err)
			buf_addf(err, "live: no service named \"%.*s\"", LIVE_NAME_MAX, name);
		return OODA_ENOTFOUND;
	}
	const struct service *svc = live->services[id];
	struct op_row *rows = xcalloc(svc->n_ops + 1, sizeof(*rows));
	uint32_t n = 0;
	for (uint32_t i = 0; i < svc->n_ops; i++) {
		rows[n].s = &svc->ops[i];
		live_series_sum(live, &svc->ops[i], w.k_lo, w.k_hi, &rows[n].t);
		if (rows[n].t.req)
			n++;
		else
			memset(&rows[n], 0, sizeof(rows[n]));
	}
	if (n > 1)
		qsort(rows, n, sizeof(*rows), cmp_op_row);

	buf_addch(out, '{');
	json_service_fields(live, svc, &w, out);
	buf_adds(out, ",\"operations\":[");
	for (uint32_t i = 0; i < n; i++) {
		buf_adds(out, i ? ",{\"operation\":" : "{\"operation\":");
		buf_add_json_str(out, rows[i].s->name, strlen(rows[i].s->name));
		buf_addch(out, ',');
		json_red(out, &rows[i].t, w.seconds);
		buf_addch(out, '}');
	}
	buf_adds(out, "],\"upstream\":");
	json_neighbours(live, id, true, &w, out);
	buf_adds(out, ",\"downstream\":");
	json_neighbours(live, id, false, &w, out);
	buf_addch(out, '}');
	pthread_mutex_unlock(&live->lock);
	free(rows);
	return 0;
}

struct node {
	const char *name;
	const char *type;
};

static int cmp_node(const void *a, const void *b)
{
	const struct node *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	if (c)
		return c;
	/* A service beats an external of the same name, so it survives dedup. */
	return strcmp(x->type, y->type) == 0 ? 0 : (!strcmp(x->type, "service") ? -1 : 1);
}

int live_graph_json(struct live_signals *live, int64_t now_ns, int64_t window_ns,
		    struct buf *out, struct buf *err)
{
	if (!live || !out)
		return OODA_EINVAL;
	struct window w;
	int rc = window_get(live, now_ns, window_ns, &w, err);
	if (rc)
		return rc;
	pthread_mutex_lock(&live->lock);
	size_t cap = (size_t)live->n_services + 2 * (size_t)live->n_edges + 1;
	struct node *nodes = xmalloc(sizeof(*nodes) * cap);
	struct totals *et = xcalloc(live->n_edges + 1, sizeof(*et));
	size_t nn = 0;
	for (uint32_t i = 0; i < live->n_services; i++) {
		struct totals t;
		service_totals(live, live->services[i], &w, &t);
		if (t.req)
			nodes[nn++] = (struct node){ live->services[i]->name, "service" };
	}
	buf_adds(out, "{\"edges\":[");
	bool first = true;
	for (uint32_t i = 0; i < live->n_edges; i++) {
		const struct edge *e = live->edges[i];
		live_series_sum(live, &e->s, w.k_lo, w.k_hi, &et[i]);
		if (!et[i].req)
			continue;
		const char *src = live->services[e->src]->name;
		const char *type = edge_type(live, e);
		nodes[nn++] = (struct node){ src, "service" };
		nodes[nn++] = (struct node){ e->s.name, type };
		buf_adds(out, first ? "{\"source\":" : ",{\"source\":");
		first = false;
		buf_add_json_str(out, src, strlen(src));
		buf_adds(out, ",\"target\":");
		buf_add_json_str(out, e->s.name, strlen(e->s.name));
		buf_addf(out, ",\"type\":\"%s\",", type);
		json_edge_stats(&et[i], w.seconds, out);
		buf_addch(out, '}');
	}
	buf_adds(out, "],\"nodes\":[");
	if (nn > 1)
		qsort(nodes, nn, sizeof(*nodes), cmp_node);
	first = true;
	for (size_t i = 0; i < nn; i++) {
		if (i && !strcmp(nodes[i].name, nodes[i - 1].name))
			continue;
		buf_adds(out, first ? "{\"id\":" : ",{\"id\":");
		first = false;
		buf_add_json_str(out, nodes[i].name, strlen(nodes[i].name));
		buf_addf(out, ",\"type\":\"%s\"", nodes[i].type);
		size_t len = strlen(nodes[i].name);
		uint32_t id = live_service_find(live, nodes[i].name, len, XXH3_64bits(nodes[i].name, len));
		if (id != NONE) {
			struct totals t;
			service_totals(live, live->services[id], &w, &t);
			buf_addf(out, ",\"requests\":%llu,\"rate\":", (unsigned long long)t.req);
			json_num(out, (double)t.req / w.seconds);
			buf_adds(out, ",\"error_ratio\":");
			json_num(out, t.req ? (double)t.err / (double)t.req : NAN);
		}
		buf_addch(out, '}');
	}
	buf_adds(out, "]}");
	pthread_mutex_unlock(&live->lock);
	free(nodes);
	free(et);
	return 0;
}

/* ---- snapshot and export for the engine and PromQL ---- */

static int arena_fail(struct buf *err)
{
	if (err)
		buf_adds(err, "live: arena limit reached");
	return OODA_ENOMEM;
}

int live_red_snapshot(struct live_signals *live, int64_t from_ns, int64_t to_ns,
		      struct arena *arena, struct live_red **out, size_t *n,
		      struct buf *err)
{
	if (!live || !arena || !out || !n)
		return OODA_EINVAL;
	if (from_ns < 0 || to_ns <= from_ns) {
		if (err)
			buf_adds(err, "live: empty or negative time range");
		return OODA_EINVAL;
	}
	int64_t slot = live->cfg.slot_ns;
	int64_t k_lo = from_ns / slot, k_hi = (to_ns - 1) / slot;
	if (k_hi - k_lo + 1 > (int64_t)live->cfg.n_slots)
		k_lo = k_hi - live->cfg.n_slots + 1;
	if (k_lo < 0)
		k_lo = 0;
	uint32_t m = (uint32_t)(k_hi - k_lo + 1);

	int rc = 0;
	pthread_mutex_lock(&live->lock);
	struct live_red *v = arena_alloc(arena, sizeof(*v) * (live->n_series + live->n_services + 1));
	size_t count = 0;
	if (!v)
		rc = arena_fail(err);
	for (uint32_t si = 0; !rc && si < live->n_services; si++) {
		const struct service *svc = live->services[si];
		for (uint32_t oi = 0; !rc && oi < svc->n_ops; oi++) {
			const struct series *s = &svc->ops[oi];
			uint64_t *req = arena_alloc(arena, sizeof(uint64_t) * m);
			uint64_t *errs = arena_alloc(arena, sizeof(uint64_t) * m);
			double *p99 = arena_alloc(arena, sizeof(double) * m);
			if (!req || !errs || !p99) {
				rc = arena_fail(err);
				break;
			}
			uint64_t total = 0;
			for (uint32_t i = 0; i < m; i++) {
				int64_t k = k_lo + i;
				const struct slot *sl = &s->ring[live_ring_pos(live, k)];
				struct totals t = { 0 };
				if (sl->k == k)
					live_totals_add_slot(&t, sl);
				req[i] = t.req;
				errs[i] = t.err;
				p99[i] = live_quantile_ms(&t, 0.99);
				total += t.req;
			}
			if (!total)
				continue;
			char *sname = arena_strdup(arena, svc->name);
			char *oname = arena_strdup(arena, s->name);
			if (!sname || !oname) {
				rc = arena_fail(err);
				break;
			}
			v[count++] = (struct live_red){ .service = sname, .operation = oname,
							.first_slot_ns = k_lo * slot, .slot_ns = slot,
							.n_slots = m, .requests = req, .errors = errs,
							.p99_ms = p99 };
		}
	}
	pthread_mutex_unlock(&live->lock);
	if (rc)
		return rc;
	*out = v;
	*n = count;
	return 0;
}

/* Boundary slots k (value at t = k * slot covers slots < k) a series gets. */
static void export_range(const struct live_signals *live, const struct series *s,
			 int64_t kb_lo, int64_t kb_hi, int64_t *lo, int64_t *hi)
{
	int64_t ring_lo = live->head - live->cfg.n_slots + 1; /* oldest slot in the ring */
	int64_t first = s->first_k > ring_lo ? s->first_k : ring_lo;
	*lo = kb_lo > first + 1 ? kb_lo : first + 1;
	*hi = kb_hi < live->head + 1 ? kb_hi : live->head + 1;
}

struct export_ctx {
	struct arena *arena;
	struct metric_point *v;
	size_t n;
	const char **le; /* NB strings */
};

static struct metric_point *export_point(struct export_ctx *x, const char *name,
					 const char *unit, int64_t t, int64_t start,
					 const struct resource *res, struct attrs attrs, double value)
{
	struct metric_point *p = &x->v[x->n++];
	memset(p, 0, sizeof(*p));
	p->name = name;
	p->unit = unit;
	p->type = METRIC_SUM;
	p->temporality = TEMPORALITY_CUMULATIVE;
	p->monotonic = true;
	p->prom_native = true;
	p->time_ns = t;
	p->start_ns = start;
	p->resource = res;
	p->attrs = attrs;
	p->value = value;
	return p;
}

/*
 * Emits the points of one series: one per boundary kb in [lo, hi] and, when
 * edge_ns > 0, one more at edge_ns that also counts the slots from hi to the
 * one holding edge_ns (the newest, still filling).
 */
static int export_series(struct live_signals *live, struct export_ctx *x,
			 const struct service *svc, const struct series *s,
			 int64_t lo, int64_t hi, int64_t edge_ns, struct buf *err)
{
	struct arena *a = x->arena;
	struct resource *res = arena_zalloc(a, sizeof(*res));
	struct attr *base = arena_zalloc(a, sizeof(struct attr) * 2);
	struct attr *bl = arena_zalloc(a, sizeof(struct attr) * 3 * NB);
	char *sname = arena_strdup(a, svc->name), *oname = arena_strdup(a, s->name);
	if (!res || !base || !bl || !sname || !oname)
		return arena_fail(err);
	res->service = sname;
	base[0] = (struct attr){ .key = "service", .type = ATTR_STR,
				 .len = (uint32_t)strlen(sname), .s = sname };
	base[1] = (struct attr){ .key = "operation", .type = ATTR_STR,
				 .len = (uint32_t)strlen(oname), .s = oname };
	for (int i = 0; i < NB; i++) {
		bl[3 * i] = base[0];
		bl[3 * i + 1] = base[1];
		bl[3 * i + 2] = (struct attr){ .key = "le", .type = ATTR_STR,
					       .len = (uint32_t)strlen(x->le[i]), .s = x->le[i] };
	}

	/* Cumulative = slots gone from the ring + ring slots up to kb - 1. */
	struct totals acc = s->gone;
	for (uint32_t i = 0; i < live->cfg.n_slots; i++) {
		const struct slot *sl = &s->ring[i];
		if (sl->k >= 0 && sl->k < lo - 1)
			live_totals_add_slot(&acc, sl);
	}
	int64_t start = s->first_k * live->cfg.slot_ns;
	struct attrs a2 = { base, 2 };
	int64_t last = edge_ns > 0 ? (hi >= lo ? hi + 1 : lo) : hi;
	for (int64_t kb = lo; kb <= last; kb++) {
		int64_t t = kb * live->cfg.slot_ns;
		if (kb > hi) { /* the edge: acc holds the slots up to done_k; add the rest, to the newest */
			t = edge_ns;
			for (int64_t k = (hi >= lo ? hi - 1 : lo - 2) + 1; k <= live->head; k++) {
				const struct slot *sl = &s->ring[live_ring_pos(live, k)];
				if (sl->k == k)
					live_totals_add_slot(&acc, sl);
			}
		} else {
			const struct slot *sl = &s->ring[live_ring_pos(live, kb - 1)];
			if (sl->k == kb - 1)
				live_totals_add_slot(&acc, sl);
		}
		export_point(x, "ooda_span_requests_total", "1", t, start, res, a2, (double)acc.req);
		export_point(x, "ooda_span_errors_total", "1", t, start, res, a2, (double)acc.err);
		uint64_t cum = 0;
		for (int i = 0; i < NB; i++) {
			cum += acc.b[i];
			export_point(x, "ooda_span_duration_seconds_bucket", "s", t, start, res,
				     (struct attrs){ &bl[3 * i], 3 }, (double)cum);
		}
		export_point(x, "ooda_span_duration_seconds_count", "s", t, start, res, a2,
			     (double)acc.req);
		export_point(x, "ooda_span_duration_seconds_sum", "s", t, start, res, a2, acc.sum_s);
	}
	return 0;
}

int live_export_points(struct live_signals *live, int64_t from_ns, int64_t to_ns,
		       size_t max_points, struct arena *arena,
		       struct metric_point **out, size_t *n, struct buf *err)
{
	if (!live || !arena || !out || !n)
		return OODA_EINVAL;
	if (from_ns < 0 || to_ns <= from_ns) {
		if (err)
			buf_adds(err, "live: empty or negative time range");
		return OODA_EINVAL;
	}
	int64_t slot = live->cfg.slot_ns;
	int64_t kb_lo = from_ns / slot + 1, kb_hi = to_ns / slot;
	const size_t per = 4 + NB;
	int rc = 0;

	pthread_mutex_lock(&live->lock);
	/* to_ns inside the newest slot, off its boundary: one more point per series, at to_ns, so a
	 * rate over a window ending now counts the spans of the slot still filling */
	int64_t edge_ns = live->head != INT64_MIN && to_ns / slot == live->head && to_ns % slot ? to_ns : 0;
	size_t total = 0;
	for (uint32_t si = 0; si < live->n_services && live->head != INT64_MIN; si++) {
		const struct service *svc = live->services[si];
		for (uint32_t oi = 0; oi < svc->n_ops; oi++) {
			int64_t lo, hi;
			export_range(live, &svc->ops[oi], kb_lo, kb_hi, &lo, &hi);
			if (hi >= lo)
				total += (size_t)(hi - lo + 1) * per;
			if (edge_ns)
				total += per;
		}
	}
	if (total > max_points) {
		pthread_mutex_unlock(&live->lock);
		if (err)
			buf_addf(err, "live: export would produce %zu points, limit %zu", total,
				 max_points);
		return OODA_ELIMIT;
	}
	struct export_ctx x = { .arena = arena };
	x.v = arena_alloc(arena, sizeof(struct metric_point) * (total + 1));
	x.le = arena_alloc(arena, sizeof(char *) * NB);
	if (!x.v || !x.le)
		rc = arena_fail(err);
	for (int i = 0; !rc && i < NB; i++) {
		x.le[i] = i < LIVE_N_BOUNDS ? arena_printf(arena, "%g", live_bounds_seconds(NULL)[i]) : "+Inf";
		if (!x.le[i])
			rc = arena_fail(err);
	}
	for (uint32_t si = 0; !rc && si < live->n_services && live->head != INT64_MIN; si++) {
		const struct service *svc = live->services[si];
		for (uint32_t oi = 0; !rc && oi < svc->n_ops; oi++) {
			int64_t lo, hi;
			export_range(live, &svc->ops[oi], kb_lo, kb_hi, &lo, &hi);
			if (hi >= lo || edge_ns)
				rc = export_series(live, &x, svc, &svc->ops[oi], lo, hi, edge_ns, err);
		}
	}
	pthread_mutex_unlock(&live->lock);
	if (rc)
		return rc;
	*out = x.v;
	*n = x.n;
	return 0;
}

/* How many of slot s's requests took at most le seconds. */
static double slot_fast(const struct slot *s, double le)
{
	double h[NB];
	for (int b = 0; b < NB; b++)
		h[b] = s->b[b];
	return live_hist_below(h, le);
}

int live_red_counts(struct live_signals *live, const char *service, const char *operation,
		    int64_t from_ns, int64_t to_ns, double le_seconds, size_t cap,
		    int64_t *first_slot_ns, int64_t *slot_ns, double *requests, double *errors,
		    double *fast, size_t *n, struct buf *err)
{
	if (!live || !service || !first_slot_ns || !slot_ns || !requests || !errors || !n || !cap)
		return OODA_EINVAL;
	if (from_ns < 0 || to_ns <= from_ns) {
		if (err)
			buf_adds(err, "live: empty or negative time range");
		return OODA_EINVAL;
	}
	int64_t slot = live->cfg.slot_ns;
	int64_t k_lo = from_ns / slot, k_hi = (to_ns - 1) / slot;
	if (k_hi - k_lo + 1 > (int64_t)cap)
		k_lo = k_hi - (int64_t)cap + 1;
	if (k_lo < 0)
		k_lo = 0;
	size_t m = (size_t)(k_hi - k_lo + 1);
	*first_slot_ns = k_lo * slot;
	*slot_ns = slot;
	*n = 0;
	for (size_t i = 0; i < m; i++) {
		requests[i] = errors[i] = 0;
		if (fast)
			fast[i] = 0;
	}
	pthread_mutex_lock(&live->lock);
	uint32_t id = service_named(live, service);
	if (id == NONE) {
		pthread_mutex_unlock(&live->lock);
		return 0;
	}
	const struct service *svc = live->services[id];
	for (uint32_t oi = 0; oi < svc->n_ops; oi++) {
		const struct series *s = &svc->ops[oi];
		if (operation && strcmp(s->name, operation))
			continue;
		for (size_t i = 0; i < m; i++) {
			int64_t k = k_lo + (int64_t)i;
			const struct slot *sl = &s->ring[live_ring_pos(live, k)];
			if (sl->k != k)
				continue;
			requests[i] += sl->req;
			errors[i] += sl->err;
			if (fast)
				fast[i] += slot_fast(sl, le_seconds);
		}
	}
	pthread_mutex_unlock(&live->lock);
	*n = m;
	return 0;
}

int live_red_fine(struct live_signals *live, const char *service, int64_t from_k, size_t cap,
		  struct live_fine *out, size_t *n, int64_t *head)
{
	if (!live || !service || !out || !n || !head || !cap)
		return OODA_EINVAL;
	*n = 0;
	*head = INT64_MIN;
	pthread_mutex_lock(&live->lock);
	uint32_t id = service_named(live, service);
	const struct service *svc = id == NONE ? NULL : live->services[id];
	if (!svc || !svc->fine || svc->fine_head == INT64_MIN) {
		pthread_mutex_unlock(&live->lock);
		return 0;
	}
	int64_t hi = svc->fine_head, lo = from_k;
	if (lo < hi - LIVE_FINE_SLOTS + 1)
		lo = hi - LIVE_FINE_SLOTS + 1;
	if (hi - lo + 1 > (int64_t)cap)
		lo = hi - (int64_t)cap + 1;
	if (lo < 0)
		lo = 0;
	for (int64_t k = lo; k <= hi; k++) {
		struct live_fine *o = &out[(*n)++];
		const struct fine_slot *f = &svc->fine[k % LIVE_FINE_SLOTS];
		o->k = k;
		bool here = f->k == k;
		o->req = here ? f->req : 0;
		o->err = here ? f->err : 0;
		for (int b = 0; b < NB; b++) {
			o->b[b] = here ? f->b[b] : 0;
			o->own[b] = here ? f->own[b] : 0;
		}
		o->own_n = here ? f->own_n : 0;
	}
	*head = hi;
	pthread_mutex_unlock(&live->lock);
	return 0;
}
