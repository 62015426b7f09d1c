/*
 * The telemetry window of one triage call (see triage_data.h): one scan of
 * the spans of onset − baseline .. now, parent links resolved across
 * services, the involved services and their neighbours in the traced ∪
 * declared dependency graph, and the change events around them.
 */
#include "respond/triage_data.h"

#include <math.h>

#include "core/error.h"
#include "core/time.h"

/* ---- interned strings ---- */

static uint64_t fnv(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 1099511628211ULL;
	return h;
}

int32_t strtab_find(const struct strtab *t, const char *s)
{
	if (!t->n_slots)
		return -1;
	for (size_t i = fnv(s, strlen(s)) & (t->n_slots - 1);; i = (i + 1) & (t->n_slots - 1)) {
		uint32_t k = t->slots[i];
		if (!k)
			return -1;
		if (!strcmp(t->v[k - 1], s))
			return (int32_t)(k - 1);
	}
}

uint32_t strtab_intern(struct strtab *t, const char *s)
{
	int32_t f = strtab_find(t, s);
	if (f >= 0)
		return (uint32_t)f;
	if ((t->n + 1) * 2 > t->n_slots) {
		size_t ns = t->n_slots ? t->n_slots * 2 : 64;
		uint32_t *slots = xcalloc(ns, sizeof(uint32_t));
		for (size_t k = 0; k < t->n; k++) {
			size_t i = fnv(t->v[k], strlen(t->v[k])) & (ns - 1);
			while (slots[i])
				i = (i + 1) & (ns - 1);
			slots[i] = (uint32_t)k + 1;
		}
		free(t->slots);
		t->slots = slots;
		t->n_slots = ns;
	}
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->v = xrealloc(t->v, t->cap * sizeof(char *));
	}
	t->v[t->n] = xstrdup(s);
	size_t i = fnv(s, strlen(s)) & (t->n_slots - 1);
	while (t->slots[i])
		i = (i + 1) & (t->n_slots - 1);
	t->slots[i] = (uint32_t)t->n + 1;
	return (uint32_t)t->n++;
}

static void strtab_release(struct strtab *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i]);
	free(t->v);
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

void tdata_hex(const uint8_t *b, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[b[i] >> 4];
		out[2 * i + 1] = hx[b[i] & 15];
	}
	out[2 * n] = 0;
}

/* ---- the scan ---- */

/* The user of a record: enduser.id, else user.id (strings and integers). */
static int32_t user_of(struct tdata *d, const struct attrs *a)
{
	const struct attr *best = NULL;
	for (uint32_t i = 0; i < a->n; i++) {
		if (!strcmp(a->v[i].key, "enduser.id"))
			best = &a->v[i];
		else if (!best && !strcmp(a->v[i].key, "user.id"))
			best = &a->v[i];
	}
	if (!best)
		return -1;
	char tmp[32];
	if (best->type == ATTR_STR && best->s && best->len && best->len < 256) {
		char v[256];
		memcpy(v, best->s, best->len);
		v[best->len] = 0;
		return (int32_t)strtab_intern(&d->users, v);
	}
	if (best->type == ATTR_INT) {
		snprintf(tmp, sizeof(tmp), "%lld", (long long)best->i);
		return (int32_t)strtab_intern(&d->users, tmp);
	}
	return -1;
}

static int span_row(void *ctx, const struct telemetry_batch *b, int64_t tmin, int64_t tmax)
{
	(void)tmin;
	(void)tmax;
	struct tdata *d = ctx;
	for (size_t i = 0; i < b->n_spans; i++) {
		const struct span *sp = &b->spans[i];
		if (sp->end_ns < d->from || sp->end_ns >= d->to)
			continue;
		if (d->n == d->max) {
			d->truncated = true;
			return 1;
		}
		if (d->n == d->cap) {
			d->cap = d->cap ? d->cap * 2 : 1024;
			d->spans = xrealloc(d->spans, d->cap * sizeof(struct tspan));
		}
		struct tspan *t = &d->spans[d->n++];
		memset(t, 0, sizeof(*t));
		t->start = sp->start_ns;
		t->end = sp->end_ns;
		t->svc = strtab_intern(&d->svcs, sp->resource && sp->resource->service ? sp->resource->service : "unknown");
		t->op = strtab_intern(&d->ops, sp->name ? sp->name : "");
		t->user = user_of(d, &sp->attrs);
		t->parent = -1;
		t->peer = t->callee = -1;
		memcpy(t->trace, sp->trace_id, 16);
		memcpy(t->id, sp->span_id, 8);
		memcpy(t->pid, sp->parent_span_id, 8);
		t->has_parent = sp->has_parent;
		t->server = sp->kind == SPAN_SERVER || sp->kind == SPAN_CONSUMER ||
			    (sp->kind == SPAN_UNSPECIFIED && !sp->has_parent);
		t->client = sp->kind == SPAN_CLIENT;
		if (t->client) {
			size_t len = 0;
			bool db = false;
			const char *peer = span_client_peer(sp, &len, &db);
			if (peer && len < 256) {
				char v[256];
				memcpy(v, peer, len);
				v[len] = 0;
				t->peer = (int32_t)strtab_intern(&d->peers, v);
			}
		}
		t->error = sp->status == STATUS_ERROR;
		if (t->server && t->end < d->first)
			d->first = t->end;
	}
	return 0;
}

/* Parent links: an open-addressing map of span ids to indexes. */
static void link_parents(struct tdata *d)
{
	size_t ns = 64;
	while (ns < d->n * 2)
		ns *= 2;
	uint32_t *slots = xcalloc(ns, sizeof(uint32_t));
	for (size_t k = 0; k < d->n; k++) {
		size_t i = fnv(d->spans[k].id, 8) & (ns - 1);
		while (slots[i])
			i = (i + 1) & (ns - 1);
		slots[i] = (uint32_t)k + 1;
	}
	for (size_t k = 0; k < d->n; k++) {
		struct tspan *t = &d->spans[k];
		if (!t->has_parent)
			continue;
		for (size_t i = fnv(t->pid, 8) & (ns - 1); slots[i]; i = (i + 1) & (ns - 1)) {
			const struct tspan *p = &d->spans[slots[i] - 1];
			if (!memcmp(p->id, t->pid, 8) && !memcmp(p->trace, t->trace, 16)) {
				t->parent = (int32_t)(slots[i] - 1);
				if (t->server && p->client && p->svc != t->svc) /* the call reached t's service */
					d->spans[t->parent].callee = (int32_t)t->svc;
				break;
			}
		}
	}
	free(slots);
}

static struct tedge *edge_get(struct tdata *d, uint32_t caller, uint32_t callee)
{
	for (size_t i = 0; i < d->n_edges; i++)
		if (d->edges[i].caller == caller && d->edges[i].callee == callee)
			return &d->edges[i];
	d->edges = xrealloc(d->edges, (d->n_edges + 1) * sizeof(struct tedge));
	struct tedge *e = &d->edges[d->n_edges++];
	memset(e, 0, sizeof(*e));
	e->caller = caller;
	e->callee = callee;
	return e;
}

static void add_edges(struct tdata *d)
{
	/* traced: a server span whose parent (read) is in another service */
	for (size_t k = 0; k < d->n; k++) {
		const struct tspan *t = &d->spans[k];
		if (t->server && t->parent >= 0 && d->spans[t->parent].svc != t->svc)
			edge_get(d, d->spans[t->parent].svc, t->svc)->traced = true;
	}
	/* traced, as live signals saw them (also calls to databases and external peers) */
	if (d->deps->live) {
		struct buf g = BUF_INIT, ignore = BUF_INIT; /* no graph: the edges of the spans read still count */
		if (!live_graph_json(d->deps->live, d->to, d->to - d->from, &g, &ignore)) {
			json_t *j = json_loadb(g.data, g.len, 0, NULL);
			size_t i;
			json_t *e;
			json_array_foreach(json_object_get(j, "edges"), i, e) {
				const char *s = json_string_value(json_object_get(e, "source"));
				const char *t = json_string_value(json_object_get(e, "target"));
				if (s && t)
					edge_get(d, strtab_intern(&d->svcs, s), strtab_intern(&d->svcs, t))->traced = true;
			}
			json_decref(j);
		}
		buf_release(&ignore);
		buf_release(&g);
	}
	/* declared: services[].dependencies of ooda.yaml */
	size_t i;
	const json_t *s;
	json_array_foreach(d->deps->services, i, s) {
		const char *name = json_string_value(json_object_get(s, "name"));
		size_t k;
		const json_t *dep;
		if (!name)
			continue;
		json_array_foreach(json_object_get(s, "dependencies"), k, dep) {
			if (json_string_value(dep))
				edge_get(d, strtab_intern(&d->svcs, name), strtab_intern(&d->svcs, json_string_value(dep)))
					->declared = true;
		}
	}
}

static bool node_has(const struct tdata *d, uint32_t s)
{
	for (size_t i = 0; i < d->n_nodes; i++)
		if (d->nodes[i] == s)
			return true;
	return false;
}

static void node_add(struct tdata *d, uint32_t s)
{
	if (node_has(d, s))
		return;
	d->nodes = xrealloc(d->nodes, (d->n_nodes + 1) * sizeof(uint32_t));
	d->nodes[d->n_nodes++] = s;
}

static int cmp_change_time(const void *a, const void *b)
{
	json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "time_unix_nano"));
	json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "time_unix_nano"));
	return (x < y) - (x > y);
}

/*
 * Change events of every node from onset − lookback to now, newest first,
 * deduplicated; plus the flag changes recorded without a service (the flag
 * store files them under "flags"), which may touch any service.
 */
static int load_changes(struct tdata *d, struct buf *err)
{
	json_t *all = json_array();
	for (size_t i = 0; i <= d->n_nodes; i++) {
		struct tstore_event_filter f = { .service = i < d->n_nodes ? d->svcs.v[d->nodes[i]] : "flags",
						 .kind = i < d->n_nodes ? NULL : "flag",
						 .from_ns = d->onset - TRIAGE_CHANGE_LOOKBACK_NS, .to_ns = d->to,
						 .limit = 50 };
		struct buf out = BUF_INIT;
		int rc = tstore_events_json(d->deps->tstore, &f, &out, err);
		if (rc) {
			buf_release(&out);
			json_decref(all);
			return rc;
		}
		json_t *arr = json_loadb(out.data, out.len, 0, NULL);
		buf_release(&out);
		size_t k;
		json_t *e;
		json_array_foreach(arr, k, e) {
			const char *kind = json_string_value(json_object_get(e, "kind"));
			if (kind && !strcmp(kind, "incident"))
				continue;
			json_array_append(all, e);
		}
		json_decref(arr);
	}
	size_t n = json_array_size(all);
	json_t **v = xcalloc(n + 1, sizeof(json_t *));
	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(all, i);
	qsort(v, n, sizeof(json_t *), cmp_change_time);
	d->changes = json_array();
	for (size_t i = 0; i < n && json_array_size(d->changes) < 20; i++) {
		const char *id = json_string_value(json_object_get(v[i], "id"));
		bool dup = false;
		for (size_t k = 0; k < i && !dup; k++)
			dup = id && json_string_value(json_object_get(v[k], "id")) &&
			      !strcmp(id, json_string_value(json_object_get(v[k], "id")));
		if (dup)
			continue;
		int64_t at = json_integer_value(json_object_get(v[i], "time_unix_nano"));
		json_array_append_new(d->changes,
				      json_pack("{s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:f}", "id", id, "kind",
						json_string_value(json_object_get(v[i], "kind")), "service",
						json_string_value(json_object_get(v[i], "service")), "version",
						json_string_value(json_object_get(v[i], "version")), "actor",
						json_string_value(json_object_get(v[i], "actor")), "description",
						json_string_value(json_object_get(v[i], "description")), "at",
						json_string_value(json_object_get(v[i], "time")), "before_onset_s",
						(double)(d->onset - at) / 1e9));
	}
	free(v);
	json_decref(all);
	return 0;
}

static int64_t time_field(const json_t *inc, const char *k)
{
	const char *s = json_string_value(json_object_get(inc, k));
	int64_t ns;
	return s && !ooda_time_parse(s, strlen(s), &ns) ? ns : -1;
}

int tdata_load(struct tdata *d, const struct triage_deps *deps, const json_t *incident, int64_t now_ns,
	       struct buf *err)
{
	memset(d, 0, sizeof(*d));
	d->deps = deps;
	d->incident = incident;
	if (!json_is_object(incident) || !deps || !deps->tstore) {
		buf_adds(err, "triage needs the incident document and the telemetry store");
		return OODA_EINVAL;
	}
	d->id = json_string_value(json_object_get(incident, "id"));
	d->primary = json_string_value(json_object_get(incident, "service"));
	const json_t *svcs = json_object_get(incident, "services");
	if (!d->primary)
		d->primary = json_string_value(json_array_get(svcs, 0));
	if (!d->primary || !*d->primary) {
		buf_adds(err, "incident: service is missing");
		return OODA_EINVAL;
	}
	d->onset = time_field(incident, "onset_at");
	if (d->onset < 0)
		d->onset = time_field(incident, "opened_at");
	if (d->onset < 0) {
		buf_adds(err, "incident: onset_at (or opened_at) must be an RFC 3339 time");
		return OODA_EINVAL;
	}
	int64_t base = deps->baseline_ns > 0 ? deps->baseline_ns : TRIAGE_BASELINE_NS;
	d->now = now_ns;
	d->from = d->onset - base;
	d->first = INT64_MAX;
	d->to = now_ns > d->onset ? now_ns + 1 : d->onset + 1;
	d->max = deps->max_spans ? deps->max_spans : TRIAGE_MAX_SPANS;
	struct tstore_scan q = { .signal = SIGNAL_SPANS, .from_ns = d->from, .to_ns = d->to };
	int rc = tstore_scan(deps->tstore, &q, span_row, d, err);
	if (rc)
		return rc;
	link_parents(d);
	/* the involved services first (primary first), then their neighbours */
	node_add(d, strtab_intern(&d->svcs, d->primary));
	size_t i;
	const json_t *s;
	json_array_foreach(svcs, i, s) if (json_string_value(s) && *json_string_value(s))
		node_add(d, strtab_intern(&d->svcs, json_string_value(s)));
	d->n_involved = d->n_nodes;
	add_edges(d);
	for (size_t e = 0; e < d->n_edges; e++) {
		const struct tedge *x = &d->edges[e];
		for (size_t k = 0; k < d->n_involved; k++) {
			if (x->caller == d->nodes[k])
				node_add(d, x->callee);
			if (x->callee == d->nodes[k])
				node_add(d, x->caller);
		}
	}
	/* a peer name to the service it is, now that every known service (declared ones too) is in svcs */
	for (size_t k = 0; k < d->n; k++)
		if (d->spans[k].peer >= 0)
			d->spans[k].peer = strtab_find(&d->svcs, d->peers.v[d->spans[k].peer]);
	return load_changes(d, err);
}

void tdata_release(struct tdata *d)
{
	strtab_release(&d->svcs);
	strtab_release(&d->ops);
	strtab_release(&d->users);
	strtab_release(&d->peers);
	free(d->spans);
	free(d->nodes);
	free(d->edges);
	json_decref(d->changes);
	memset(d, 0, sizeof(*d));
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

struct tred tdata_red(const struct tdata *d, uint32_t svc, int64_t caller, int64_t from, int64_t to)
{
	struct tred r = { 0, 0, NAN, 0 };
	double *durs = NULL;
	size_t nd = 0, cap = 0;
	for (size_t k = 0; k < d->n; k++) {
		const struct tspan *t = &d->spans[k];
		if (!t->server || t->svc != svc || t->end < from || t->end >= to)
			continue;
		if (caller >= 0 && (t->parent < 0 || d->spans[t->parent].svc != (uint32_t)caller))
			continue;
		r.requests++;
		r.errors += t->error;
		if (nd == cap) {
			cap = cap ? cap * 2 : 256;
			durs = xrealloc(durs, cap * sizeof(double));
		}
		durs[nd++] = (double)(t->end - t->start) / 1e6;
	}
	if (nd) {
		qsort(durs, nd, sizeof(double), cmp_dbl);
		size_t rank = (size_t)ceil(0.9 * (double)nd);
		r.p90_ms = durs[rank ? rank - 1 : 0];
	}
	free(durs);
	if (from < d->first && d->first < to)
		from = d->first; /* before the first telemetry: no traffic measured, not zero traffic */
	if (to > from)
		r.rate = (double)r.requests / ((double)(to - from) / 1e9);
	return r;
}

json_t *tred_json(const struct tred *r)
{
	return json_pack("{s:I, s:I, s:o, s:o, s:f}", "requests", (json_int_t)r->requests, "errors",
			 (json_int_t)r->errors, "error_ratio",
			 r->requests ? json_real((double)r->errors / (double)r->requests) : json_null(), "p90_ms",
			 isnan(r->p90_ms) ? json_null() : json_real(r->p90_ms), "rate", r->rate);
}
