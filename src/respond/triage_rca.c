/*
 * The live root-cause input (see triage.h, triage_rca_input): turns the
 * telemetry window of an incident into the arrays rca_rank takes — per
 * service and per traced edge, error_ratio, latency_p90 and rate at a fixed
 * step over baseline and incident; the traced ∪ declared edges; the change
 * events; the onset and the primary service as target.
 */
#include "respond/triage.h"

#include <math.h>

#include "core/error.h"
#include "core/time.h"
#include "respond/triage_data.h"

#define MAX_STEPS 2000

struct sample {
	uint32_t bucket;
	bool error;
	double dur_ms;
};

static int cmp_sample(const void *a, const void *b)
{
	const struct sample *x = a, *y = b;
	if (x->bucket != y->bucket)
		return x->bucket < y->bucket ? -1 : 1;
	return (x->dur_ms > y->dur_ms) - (x->dur_ms < y->dur_ms);
}

struct builder {
	struct arena *a;
	struct rca_series *series;
	size_t n, cap;
	int64_t *t_s;      /* shared time axis */
	size_t steps;
	int64_t from, step;
};

static void push(struct builder *b, const char *node, const char *metric, double *v)
{
	if (b->n == b->cap) {
		size_t nc = b->cap ? b->cap * 2 : 16;
		struct rca_series *s = arena_alloc(b->a, nc * sizeof(*s));
		if (b->n)
			memcpy(s, b->series, b->n * sizeof(*s));
		b->series = s;
		b->cap = nc;
	}
	b->series[b->n++] = (struct rca_series){ .node = node, .metric = metric, .t_s = b->t_s, .v = v, .n = b->steps };
}

/* Whether client span t called service callee: the server span it parents is there, else the peer it names. */
static bool calls_into(const struct tspan *t, uint32_t callee)
{
	return t->callee >= 0 ? (uint32_t)t->callee == callee : t->peer == (int32_t)callee;
}

static void sample_add(struct builder *b, struct sample **v, size_t *n, size_t *cap, const struct tspan *t)
{
	uint64_t bk = (uint64_t)((t->end - b->from) / b->step);
	if (bk >= b->steps)
		return;
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 256;
		*v = xrealloc(*v, *cap * sizeof(**v));
	}
	(*v)[(*n)++] = (struct sample){ (uint32_t)bk, t->error, (double)(t->end - t->start) / 1e6 };
}

/*
 * The three series of one node: a service (its server spans), or an edge
 * when caller >= 0. An edge is measured as its caller saw it, from the
 * caller's CLIENT spans into the callee, when the caller sends them: those
 * include the calls that never reached the callee (refused, timed out, a
 * callee that is down sends no span at all), which the callee's server spans
 * cannot show. Without client spans, the callee's server spans whose parent
 * is in the caller.
 */
static void node_series(struct builder *b, const struct tdata *d, const char *node, uint32_t svc, int64_t caller)
{
	struct sample *v = NULL;
	size_t n = 0, cap = 0;
	if (caller >= 0)
		for (size_t k = 0; k < d->n; k++) {
			const struct tspan *t = &d->spans[k];
			if (t->client && t->svc == (uint32_t)caller && t->end >= b->from && calls_into(t, svc))
				sample_add(b, &v, &n, &cap, t);
		}
	for (size_t k = 0; k < d->n && !(caller >= 0 && n); k++) {
		const struct tspan *t = &d->spans[k];
		if (!t->server || t->svc != svc || t->end < b->from)
			continue;
		if (caller >= 0 && (t->parent < 0 || d->spans[t->parent].svc != (uint32_t)caller))
			continue;
		sample_add(b, &v, &n, &cap, t);
	}
	if (caller >= 0 && !n) {
		free(v);
		return; /* a declared edge without traffic has no series */
	}
	if (n)
		qsort(v, n, sizeof(*v), cmp_sample);
	double *er = arena_zalloc(b->a, b->steps * sizeof(double));
	double *p90 = arena_zalloc(b->a, b->steps * sizeof(double));
	double *rate = arena_zalloc(b->a, b->steps * sizeof(double));
	double step_s = (double)b->step / 1e9, last = NAN;
	/*
	 * Steps that end before the window's first telemetry measured no traffic
	 * (nothing was sending yet), which is not zero traffic: the rate there is
	 * missing, as in tdata_red. Otherwise a system started shortly before a
	 * fault shows every service's rate "rising from 0", and that rise, older
	 * than the fault, makes a caller's onset precede its failing callee's.
	 * The error ratio and latency keep their neutral fill (no failure seen, the
	 * first latency seen) so that a young system still has something to compare.
	 */
	int64_t unmeasured = d->first > b->from && d->first != INT64_MAX ? (d->first - b->from) / b->step : 0;
	size_t i = 0;
	for (size_t bk = 0; bk < b->steps; bk++) {
		size_t j = i, errs = 0;
		while (j < n && v[j].bucket == bk)
			errs += v[j++].error;
		size_t cnt = j - i;
		rate[bk] = (int64_t)bk < unmeasured ? NAN : (double)cnt / step_s;
		er[bk] = cnt ? (double)errs / (double)cnt : 0;
		if (cnt) {
			size_t r = (size_t)ceil(0.9 * (double)cnt);
			last = v[i + (r ? r - 1 : 0)].dur_ms;
		}
		p90[bk] = last; /* an empty step keeps the last latency seen */
		i = j;
	}
	/* steps before the first request take the first latency seen */
	double first = NAN;
	for (size_t bk = 0; bk < b->steps && isnan(first); bk++)
		first = p90[bk];
	for (size_t bk = 0; bk < b->steps && isnan(p90[bk]); bk++)
		p90[bk] = isnan(first) ? 0 : first;
	free(v);
	push(b, node, "error_ratio", er);
	push(b, node, "latency_p90", p90);
	push(b, node, "rate", rate);
}

static bool is_node(const struct tdata *d, uint32_t s)
{
	for (size_t i = 0; i < d->n_nodes; i++)
		if (d->nodes[i] == s)
			return true;
	return false;
}

int triage_rca_build(const struct tdata *d, struct triage_rca *out, struct buf *err)
{
	(void)err;
	memset(out, 0, sizeof(*out));
	arena_init(&out->arena, 0);
	struct arena *a = &out->arena;
	int64_t step = d->deps->step_ns > 0 ? d->deps->step_ns : 60 * OODA_NS_PER_SEC;
	if (step < 10 * OODA_NS_PER_SEC)
		step = 10 * OODA_NS_PER_SEC;
	int64_t from = d->from;
	int64_t span = d->to - from;
	while ((span + step - 1) / step > MAX_STEPS)
		step *= 2;
	struct builder b = { .a = a, .from = from, .step = step };
	b.steps = (size_t)((span + step - 1) / step);
	b.t_s = arena_alloc(a, b.steps * sizeof(int64_t));
	for (size_t i = 0; i < b.steps; i++)
		b.t_s[i] = (from + (int64_t)i * step) / OODA_NS_PER_SEC;
	for (size_t i = 0; i < d->n_nodes; i++)
		node_series(&b, d, arena_strdup(a, d->svcs.v[d->nodes[i]]), d->nodes[i], -1);
	struct rca_edge *edges = arena_alloc(a, (d->n_edges + 1) * sizeof(*edges));
	size_t ne = 0;
	for (size_t i = 0; i < d->n_edges; i++) {
		const struct tedge *e = &d->edges[i];
		if (!is_node(d, e->caller) || !is_node(d, e->callee))
			continue;
		edges[ne].caller = arena_strdup(a, d->svcs.v[e->caller]);
		edges[ne].callee = arena_strdup(a, d->svcs.v[e->callee]);
		char *node = arena_printf(a, "%s->%s", edges[ne].caller, edges[ne].callee);
		node_series(&b, d, node, e->callee, e->caller);
		ne++;
	}
	size_t nc = json_array_size(d->changes), k = 0;
	struct rca_change *ch = arena_alloc(a, (nc + 1) * sizeof(*ch));
	for (size_t i = 0; i < nc; i++) {
		const json_t *c = json_array_get(d->changes, i);
		const char *svc = json_string_value(json_object_get(c, "service"));
		const char *at = json_string_value(json_object_get(c, "at"));
		int64_t ns;
		if (!svc || !at || ooda_time_parse(at, strlen(at), &ns))
			continue;
		const char *kind = json_string_value(json_object_get(c, "kind"));
		const char *id = json_string_value(json_object_get(c, "id"));
		const char *ver = json_string_value(json_object_get(c, "version"));
		const char *desc = json_string_value(json_object_get(c, "description"));
		ch[k].node = arena_strdup(a, svc);
		ch[k].at_s = ns / OODA_NS_PER_SEC;
		ch[k].kind = arena_strdup(a, kind ? kind : "change");
		ch[k].ref = id ? arena_strdup(a, id) : arena_printf(a, "%s@%s", kind ? kind : "change", ver ? ver : "?");
		ch[k].summary = desc ? arena_strdup(a, desc) : NULL;
		k++;
	}
	out->in = (struct rca_input){ .series = b.series, .n_series = b.n, .edges = edges, .n_edges = ne,
				      .changes = ch, .n_changes = k, .onset_s = d->onset / OODA_NS_PER_SEC,
				      .target = arena_strdup(a, d->primary) };
	return 0;
}

int triage_rca_input(const struct triage_deps *deps, const json_t *incident, int64_t now_ns, struct triage_rca *out,
		     struct buf *err)
{
	memset(out, 0, sizeof(*out));
	arena_init(&out->arena, 0);
	struct tdata d;
	int rc = tdata_load(&d, deps, incident, now_ns, err);
	if (!rc) {
		arena_release(&out->arena);
		rc = triage_rca_build(&d, out, err);
	}
	tdata_release(&d);
	return rc;
}

void triage_rca_release(struct triage_rca *r)
{
	arena_release(&r->arena);
	memset(r, 0, sizeof(*r));
}
