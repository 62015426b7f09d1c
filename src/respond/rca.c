/*
 * The root-cause ranking engine (contract and constants in rca.h). Orient
 * stage of the loop: given the metric series of an incident window it says
 * which node most likely started it. Each (node, metric) series is
 * standardised against its own baseline (median and IQR, as BARO does, with
 * a floor on the scale), its score is the deviation it sustains after the
 * onset, and a node scores the largest of its metrics after each metric has
 * been put on a common footing across nodes. Only then, and only when the
 * input has them, the dependency graph (onset order, callers' errors), the
 * symptom's node and change events adjust the scores. No I/O, no clock.
 */
#include "respond/rca.h"

#include <float.h>
#include <math.h>

#include "core/error.h"

/* One series with what the engine learnt about it. */
struct sstat {
	const struct rca_series *s;
	const struct rca_series *base; /* matching normal series, or NULL: pre-onset part of s */
	size_t node;                   /* index into ctx.nodes */
	size_t metric;                 /* index into ctx.metrics */
	bool usable;                   /* enough baseline and window samples */
	double median, scale;
	double score;    /* RCA_SUSTAIN-th largest |z| in the window */
	double nscore;   /* score after the metric's family normalisation */
	double observed; /* the value at that z */
	int64_t onset;   /* first sustained exceedance; 0 none */
};

struct node {
	const char *name;
	const char *kind;
	bool edge;
	double base;      /* max nscore of its series */
	double raw;       /* max score (before the family normalisation) of its series */
	double score;
	int64_t onset;    /* earliest onset of its anomalous series; 0 none */
	json_t *evidence;
	json_t *onset_first; /* callers that followed this node, for its onset_order evidence */
};

struct ctx {
	const struct rca_input *in;
	double rel, res;
	struct sstat *ss;
	size_t n_ss;
	const char **nodes; /* sorted unique */
	size_t n_nodes;
	const char **metrics; /* sorted unique */
	size_t n_metrics;
	double *peak; /* per metric: largest finite |value| over series and normal */
	size_t *normal_order; /* normal indexes sorted by (node, metric) */
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Sorted unique copy (pointers) of n strings. */
static const char **uniq_sorted(const char **v, size_t n, size_t *n_out)
{
	qsort(v, n, sizeof(*v), cmp_str);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (!k || strcmp(v[k - 1], v[i]))
			v[k++] = v[i];
	*n_out = k;
	return v;
}

static size_t find_str(const char **v, size_t n, const char *key)
{
	const char **p = bsearch(&key, v, n, sizeof(*v), cmp_str);
	return p ? (size_t)(p - v) : SIZE_MAX;
}

/* Quantile q in [0,1] of sorted v[0..n-1], linear interpolation. */
static double quantile(const double *v, size_t n, double q)
{
	double k = (double)(n - 1) * q;
	size_t f = (size_t)k;
	size_t c = f + 1 < n ? f + 1 : f;
	return v[f] + (v[c] - v[f]) * (k - (double)f);
}

static int validate(const struct rca_input *in, struct buf *err)
{
	if (!in || (in->n_series && !in->series) || (in->n_normal && !in->normal) || (in->n_edges && !in->edges) ||
	    (in->n_changes && !in->changes)) {
		buf_adds(err, "rca: missing input arrays");
		return OODA_EINVAL;
	}
	if (in->scale_floor < 0 || !isfinite(in->scale_floor) || in->resolution < 0 || !isfinite(in->resolution)) {
		buf_adds(err, "rca: scale_floor and resolution must be finite numbers >= 0");
		return OODA_EINVAL;
	}
	size_t samples = 0;
	for (int pass = 0; pass < 2; pass++) {
		const struct rca_series *v = pass ? in->normal : in->series;
		size_t n = pass ? in->n_normal : in->n_series;
		for (size_t i = 0; i < n; i++) {
			const struct rca_series *s = &v[i];
			if (!s->node || !s->node[0] || !s->metric || !s->metric[0]) {
				buf_addf(err, "rca: %s series %zu has no node or metric", pass ? "normal" : "", i);
				return OODA_EINVAL;
			}
			if (s->n && (!s->t_s || !s->v)) {
				buf_addf(err, "rca: series %s/%s has no samples array", s->node, s->metric);
				return OODA_EINVAL;
			}
			for (size_t j = 1; j < s->n; j++)
				if (s->t_s[j] <= s->t_s[j - 1]) {
					buf_addf(err, "rca: series %s/%s: times not ascending at sample %zu", s->node,
						 s->metric, j);
					return OODA_EINVAL;
				}
			if (!pass)
				samples += s->n;
		}
	}
	if (!samples) {
		buf_adds(err, "rca: no samples to rank");
		return OODA_EINVAL;
	}
	for (size_t i = 0; i < in->n_edges; i++)
		if (!in->edges[i].caller || !in->edges[i].callee || !in->edges[i].caller[0] || !in->edges[i].callee[0]) {
			buf_addf(err, "rca: edge %zu has no caller or callee", i);
			return OODA_EINVAL;
		}
	for (size_t i = 0; i < in->n_changes; i++)
		if (!in->changes[i].node || !in->changes[i].node[0]) {
			buf_addf(err, "rca: change %zu has no node", i);
			return OODA_EINVAL;
		}
	return 0;
}

static int cmp_normal(const void *a, const void *b, void *arg)
{
	const struct rca_series *v = arg;
	const struct rca_series *x = &v[*(const size_t *)a], *y = &v[*(const size_t *)b];
	int c = strcmp(x->node, y->node);
	return c ? c : strcmp(x->metric, y->metric);
}

static const struct rca_series *find_normal(const struct ctx *c, const struct rca_series *s)
{
	size_t lo = 0, hi = c->in->n_normal;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct rca_series *m = &c->in->normal[c->normal_order[mid]];
		int k = strcmp(m->node, s->node);
		if (!k)
			k = strcmp(m->metric, s->metric);
		if (!k)
			return m;
		if (k < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static void ctx_release(struct ctx *c)
{
	free(c->ss);
	free(c->nodes);
	free(c->metrics);
	free(c->peak);
	free(c->normal_order);
}

/* Nodes, metrics, peaks and the normal lookup. */
static void ctx_init(struct ctx *c, const struct rca_input *in)
{
	memset(c, 0, sizeof(*c));
	c->in = in;
	c->rel = in->scale_floor > 0 ? in->scale_floor : RCA_SCALE_FLOOR;
	c->res = in->resolution > 0 ? in->resolution : RCA_RESOLUTION;
	size_t n = in->n_series;
	c->ss = xcalloc(n ? n : 1, sizeof(*c->ss));
	c->nodes = xcalloc(n ? n : 1, sizeof(*c->nodes));
	c->metrics = xcalloc(n + in->n_normal + 1, sizeof(*c->metrics));
	for (size_t i = 0; i < n; i++) {
		c->nodes[i] = in->series[i].node;
		c->metrics[i] = in->series[i].metric;
	}
	for (size_t i = 0; i < in->n_normal; i++)
		c->metrics[n + i] = in->normal[i].metric;
	uniq_sorted(c->nodes, n, &c->n_nodes);
	uniq_sorted(c->metrics, n + in->n_normal, &c->n_metrics);
	c->peak = xcalloc(c->n_metrics + 1, sizeof(*c->peak));
	for (int pass = 0; pass < 2; pass++) {
		const struct rca_series *v = pass ? in->normal : in->series;
		size_t nv = pass ? in->n_normal : in->n_series;
		for (size_t i = 0; i < nv; i++) {
			size_t m = find_str(c->metrics, c->n_metrics, v[i].metric);
			for (size_t j = 0; j < v[i].n; j++)
				if (isfinite(v[i].v[j]) && fabs(v[i].v[j]) > c->peak[m])
					c->peak[m] = fabs(v[i].v[j]);
		}
	}
	c->normal_order = xcalloc(in->n_normal + 1, sizeof(size_t));
	for (size_t i = 0; i < in->n_normal; i++)
		c->normal_order[i] = i;
	qsort_r(c->normal_order, in->n_normal, sizeof(size_t), cmp_normal, (void *)in->normal);
	for (size_t i = 0; i < n; i++) {
		struct sstat *st = &c->ss[i];
		st->s = &in->series[i];
		st->node = find_str(c->nodes, c->n_nodes, st->s->node);
		st->metric = find_str(c->metrics, c->n_metrics, st->s->metric);
		st->base = in->n_normal ? find_normal(c, st->s) : NULL;
	}
}

/*
 * Standardises every series against its baseline and scores the window
 * t >= onset. With a normal series the baseline is all of it; else it is the
 * part of the series before onset.
 */
static void score_series(struct ctx *c, int64_t onset)
{
	size_t cap = 0;
	for (size_t i = 0; i < c->n_ss; i++) {
		size_t nb = c->ss[i].base ? c->ss[i].base->n : 0;
		size_t k = c->ss[i].s->n > nb ? c->ss[i].s->n : nb;
		if (k > cap)
			cap = k;
	}
	double *tmp = xcalloc(cap + 1, sizeof(double));
	for (size_t i = 0; i < c->n_ss; i++) {
		struct sstat *st = &c->ss[i];
		const struct rca_series *s = st->s;
		st->usable = false;
		st->score = st->nscore = st->observed = 0;
		st->onset = 0;
		size_t nb = 0;
		if (st->base) {
			for (size_t j = 0; j < st->base->n; j++)
				if (isfinite(st->base->v[j]))
					tmp[nb++] = st->base->v[j];
		} else {
			for (size_t j = 0; j < s->n && s->t_s[j] < onset; j++)
				if (isfinite(s->v[j]))
					tmp[nb++] = s->v[j];
		}
		if (nb < RCA_SUSTAIN)
			continue;
		qsort(tmp, nb, sizeof(double), cmp_double);
		st->median = quantile(tmp, nb, 0.5);
		double iqr = quantile(tmp, nb, 0.75) - quantile(tmp, nb, 0.25);
		double scale = iqr / 1.349;
		if (c->rel * fabs(st->median) > scale)
			scale = c->rel * fabs(st->median);
		if (c->res * c->peak[st->metric] > scale)
			scale = c->res * c->peak[st->metric];
		if (!(scale > DBL_MIN))
			continue; /* zero everywhere: nothing to see */
		st->scale = scale;
		/* the window's |z|, and the first run of RCA_SUSTAIN exceedances */
		size_t nw = 0, run = 0;
		int64_t run_start = 0;
		for (size_t j = 0; j < s->n; j++) {
			bool in_window = s->t_s[j] >= onset;
			if (!in_window && !st->base)
				continue;
			if (!isfinite(s->v[j]))
				continue;
			double z = fabs(s->v[j] - st->median) / scale;
			if (in_window)
				tmp[nw++] = z;
			if (z > RCA_Z_ONSET) {
				if (!run++)
					run_start = s->t_s[j];
				if (run == RCA_SUSTAIN && !st->onset)
					st->onset = run_start;
			} else {
				run = 0;
			}
		}
		if (!nw)
			continue;
		st->usable = true;
		qsort(tmp, nw, sizeof(double), cmp_double);
		size_t at = nw >= RCA_SUSTAIN ? nw - RCA_SUSTAIN : 0;
		st->score = tmp[at];
		/* the observed value at that z: the window sample closest to it */
		double best = INFINITY;
		for (size_t j = 0; j < s->n; j++) {
			if (s->t_s[j] < onset || !isfinite(s->v[j]))
				continue;
			double d = fabs(fabs(s->v[j] - st->median) / scale - st->score);
			if (d < best) {
				best = d;
				st->observed = s->v[j];
			}
		}
	}
	/* one metric must not dominate: divide by the median node's excess */
	double *fam = tmp;
	if (cap < c->n_ss) {
		free(tmp);
		fam = xcalloc(c->n_ss + 1, sizeof(double));
	}
	/* series grouped by metric (counting sort), so each family is one pass */
	size_t *start = xcalloc(c->n_metrics + 2, sizeof(size_t)), *order = xcalloc(c->n_ss + 1, sizeof(size_t));
	for (size_t i = 0; i < c->n_ss; i++)
		start[c->ss[i].metric + 1]++;
	for (size_t m = 0; m < c->n_metrics; m++)
		start[m + 1] += start[m];
	size_t *fill = xcalloc(c->n_metrics + 1, sizeof(size_t));
	for (size_t i = 0; i < c->n_ss; i++)
		order[start[c->ss[i].metric] + fill[c->ss[i].metric]++] = i;
	free(fill);
	for (size_t m = 0; m < c->n_metrics; m++) {
		size_t k = 0;
		for (size_t x = start[m]; x < start[m + 1]; x++)
			if (c->ss[order[x]].usable)
				fam[k++] = c->ss[order[x]].score;
		double div = 1;
		if (k >= 3) {
			qsort(fam, k, sizeof(double), cmp_double);
			double med = quantile(fam, k, 0.5) / RCA_Z_ONSET;
			if (med > 1)
				div = med;
		}
		for (size_t x = start[m]; x < start[m + 1]; x++)
			c->ss[order[x]].nscore = c->ss[order[x]].score / div;
	}
	free(start);
	free(order);
	free(fam);
}

/*
 * The onset when none is given. With a normal period: where the most
 * anomalous series first sustains its deviation. Without one: the change
 * point (largest Welch t of the mean shift, variances floored like the
 * scales) of the series that changes most.
 */
static int64_t estimate_onset(struct ctx *c)
{
	int64_t first = INT64_MAX;
	for (size_t i = 0; i < c->n_ss; i++)
		if (c->ss[i].s->n && c->ss[i].s->t_s[0] < first)
			first = c->ss[i].s->t_s[0];
	if (first == INT64_MAX)
		return 0;
	if (c->in->n_normal) {
		score_series(c, INT64_MIN);
		const struct sstat *top = NULL;
		for (size_t i = 0; i < c->n_ss; i++) {
			const struct sstat *st = &c->ss[i];
			if (st->usable && st->onset && (!top || st->nscore > top->nscore))
				top = st;
		}
		return top ? top->onset : first;
	}
	double best = -1;
	int64_t onset = 0;
	for (size_t i = 0; i < c->n_ss; i++) {
		const struct rca_series *s = c->ss[i].s;
		size_t n = s->n;
		if (n < 2 * RCA_SUSTAIN)
			continue;
		double *cs = xcalloc(n + 1, sizeof(double)), *cq = xcalloc(n + 1, sizeof(double));
		size_t *cn = xcalloc(n + 1, sizeof(size_t));
		for (size_t j = 0; j < n; j++) {
			bool ok = isfinite(s->v[j]);
			cs[j + 1] = cs[j] + (ok ? s->v[j] : 0);
			cq[j + 1] = cq[j] + (ok ? s->v[j] * s->v[j] : 0);
			cn[j + 1] = cn[j] + ok;
		}
		double floor_abs = c->res * c->peak[c->ss[i].metric];
		for (size_t k = RCA_SUSTAIN; k + RCA_SUSTAIN <= n; k++) {
			double nb = (double)cn[k], na = (double)(cn[n] - cn[k]);
			if (nb < RCA_SUSTAIN || na < RCA_SUSTAIN)
				continue;
			double mb = cs[k] / nb, ma = (cs[n] - cs[k]) / na;
			double vb = cq[k] / nb - mb * mb, va = (cq[n] - cq[k]) / na - ma * ma;
			double fl = c->rel * fabs(mb) > floor_abs ? c->rel * fabs(mb) : floor_abs;
			vb = vb > fl * fl ? vb : fl * fl;
			va = va > fl * fl ? va : fl * fl;
			if (!(vb > DBL_MIN))
				continue;
			double t = fabs(ma - mb) / sqrt(vb / nb + va / na);
			if (t > best) {
				best = t;
				onset = s->t_s[k];
			}
		}
		free(cs);
		free(cq);
		free(cn);
	}
	return best > 0 ? onset : 0;
}

int64_t rca_onset(const struct rca_input *in)
{
	struct buf err = BUF_INIT;
	int rc = validate(in, &err);
	buf_release(&err);
	if (rc)
		return 0;
	if (in->onset_s)
		return in->onset_s;
	struct ctx c;
	ctx_init(&c, in);
	c.n_ss = in->n_series;
	int64_t t = estimate_onset(&c);
	ctx_release(&c);
	return t;
}

static json_t *onset_json(int64_t t)
{
	return t ? json_integer(t) : json_null();
}

static int cmp_sstat_desc(const void *a, const void *b)
{
	const struct sstat *x = *(const struct sstat *const *)a, *y = *(const struct sstat *const *)b;
	if (x->nscore != y->nscore)
		return x->nscore < y->nscore ? 1 : -1;
	return strcmp(x->s->metric, y->s->metric);
}

/* Node scores and their metric evidence (the node's three strongest series). */
static void nodes_fill(struct ctx *c, struct node *nodes)
{
	const struct sstat **by = xcalloc(c->n_ss + 1, sizeof(*by));
	for (size_t k = 0; k < c->n_nodes; k++) {
		struct node *nd = &nodes[k];
		nd->name = c->nodes[k];
		const char *arrow = strstr(nd->name, "->");
		const char *colon = strchr(nd->name, ':');
		nd->edge = arrow != NULL;
		nd->kind = arrow ? "edge" : colon ? "operation" : "service";
		nd->evidence = json_array();
	}
	size_t n = 0;
	for (size_t i = 0; i < c->n_ss; i++)
		if (c->ss[i].usable)
			by[n++] = &c->ss[i];
	qsort(by, n, sizeof(*by), cmp_sstat_desc);
	size_t *shown = xcalloc(c->n_nodes + 1, sizeof(size_t));
	for (size_t i = 0; i < n; i++) {
		const struct sstat *st = by[i];
		struct node *nd = &nodes[st->node];
		if (st->nscore > nd->base)
			nd->base = st->nscore;
		if (st->score > nd->raw)
			nd->raw = st->score;
		if (st->score >= RCA_Z_ONSET && st->onset && (!nd->onset || st->onset < nd->onset))
			nd->onset = st->onset;
		if (shown[st->node]++ >= 3)
			continue;
		json_t *e = json_pack("{s:s, s:s, s:f, s:f, s:f, s:o}", "kind", "metric", "metric", st->s->metric,
				      "baseline", st->median, "observed", st->observed, "z", st->score, "onset",
				      onset_json(st->onset));
		if (st->nscore < st->score)
			json_object_set_new(e, "z_family", json_real(st->nscore));
		json_array_append_new(nd->evidence, e);
	}
	for (size_t k = 0; k < c->n_nodes; k++)
		nodes[k].score = nodes[k].base;
	free(shown);
	free(by);
}

/*
 * The call graph as integers: every service name (of nodes, edge nodes,
 * edges and the target) gets an id, nodes are grouped by service and the
 * distinct edges sorted by (caller, callee), so each step of the graph
 * rules below is a lookup, not a scan.
 */
struct pair {
	size_t from, to;
};

struct graph {
	char **svcs; /* sorted unique, owned */
	size_t n_svcs;
	size_t *node_svc;              /* per node: its service; edge nodes: the callee's */
	size_t *edge_from;             /* per node: an edge node's caller service; SIZE_MAX otherwise */
	size_t *by_svc, *svc_start;    /* non-edge nodes grouped by service */
	struct pair *edges;            /* distinct input edges, sorted */
	size_t n_edges;
	size_t *out_start;             /* edges[out_start[s] .. out_start[s+1]) have caller s */
};

static int cmp_pair(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;
	if (x->from != y->from)
		return x->from < y->from ? -1 : 1;
	return x->to < y->to ? -1 : x->to > y->to;
}

static size_t svc_find(const struct graph *g, const char *s, size_t len)
{
	size_t lo = 0, hi = g->n_svcs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int k = strncmp(g->svcs[mid], s, len);
		if (!k)
			k = g->svcs[mid][len] ? 1 : 0;
		if (!k)
			return mid;
		if (k < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return SIZE_MAX;
}

/* The service part of a node name: "svc:op" → "svc"; "a->b": (from "a", to "b"). */
static void name_parts(const char *name, const char **from, size_t *from_len, const char **to, size_t *to_len)
{
	const char *arrow = strstr(name, "->");
	if (arrow) {
		*from = name;
		*from_len = (size_t)(arrow - name);
		*to = arrow + 2;
		*to_len = strlen(arrow + 2);
		return;
	}
	const char *colon = strchr(name, ':');
	*from = *to = name;
	*from_len = *to_len = colon ? (size_t)(colon - name) : strlen(name);
}

static void graph_init(struct graph *g, const struct ctx *c, const struct node *nodes)
{
	const struct rca_input *in = c->in;
	memset(g, 0, sizeof(*g));
	size_t cap = 2 * c->n_nodes + 2 * in->n_edges + 1, n = 0;
	char **v = xcalloc(cap, sizeof(*v));
	for (size_t k = 0; k < c->n_nodes; k++) {
		const char *f, *t;
		size_t fl, tl;
		name_parts(nodes[k].name, &f, &fl, &t, &tl);
		v[n++] = xstrndup(f, fl);
		if (nodes[k].edge)
			v[n++] = xstrndup(t, tl);
	}
	for (size_t i = 0; i < in->n_edges; i++) {
		v[n++] = xstrdup(in->edges[i].caller);
		v[n++] = xstrdup(in->edges[i].callee);
	}
	qsort(v, n, sizeof(*v), cmp_str);
	size_t u = 0;
	for (size_t i = 0; i < n; i++) {
		if (u && !strcmp(v[u - 1], v[i]))
			free(v[i]);
		else
			v[u++] = v[i];
	}
	g->svcs = v;
	g->n_svcs = u;
	g->node_svc = xcalloc(c->n_nodes + 1, sizeof(size_t));
	g->edge_from = xcalloc(c->n_nodes + 1, sizeof(size_t));
	g->svc_start = xcalloc(u + 2, sizeof(size_t));
	g->by_svc = xcalloc(c->n_nodes + 1, sizeof(size_t));
	for (size_t k = 0; k < c->n_nodes; k++) {
		const char *f, *t;
		size_t fl, tl;
		name_parts(nodes[k].name, &f, &fl, &t, &tl);
		g->node_svc[k] = svc_find(g, t, tl);
		g->edge_from[k] = nodes[k].edge ? svc_find(g, f, fl) : SIZE_MAX;
		if (!nodes[k].edge)
			g->svc_start[g->node_svc[k] + 1]++;
	}
	for (size_t i = 0; i < u; i++)
		g->svc_start[i + 1] += g->svc_start[i];
	size_t *fill = xcalloc(u + 1, sizeof(size_t));
	for (size_t k = 0; k < c->n_nodes; k++)
		if (!nodes[k].edge) {
			size_t sv = g->node_svc[k];
			g->by_svc[g->svc_start[sv] + fill[sv]++] = k;
		}
	free(fill);
	g->edges = xcalloc(in->n_edges + 1, sizeof(*g->edges));
	for (size_t i = 0; i < in->n_edges; i++)
		g->edges[i] = (struct pair){ svc_find(g, in->edges[i].caller, strlen(in->edges[i].caller)),
					     svc_find(g, in->edges[i].callee, strlen(in->edges[i].callee)) };
	qsort(g->edges, in->n_edges, sizeof(*g->edges), cmp_pair);
	size_t m = 0;
	for (size_t i = 0; i < in->n_edges; i++)
		if (!m || cmp_pair(&g->edges[m - 1], &g->edges[i]))
			g->edges[m++] = g->edges[i];
	g->n_edges = m;
	g->out_start = xcalloc(u + 2, sizeof(size_t));
	for (size_t i = 0; i < m; i++)
		g->out_start[g->edges[i].from + 1]++;
	for (size_t i = 0; i < u; i++)
		g->out_start[i + 1] += g->out_start[i];
}

static void graph_release(struct graph *g)
{
	for (size_t i = 0; i < g->n_svcs; i++)
		free(g->svcs[i]);
	free(g->svcs);
	free(g->node_svc);
	free(g->edge_from);
	free(g->by_svc);
	free(g->svc_start);
	free(g->edges);
	free(g->out_start);
}

static bool calls(const struct graph *g, size_t from, size_t to)
{
	struct pair key = { from, to };
	return bsearch(&key, g->edges, g->n_edges, sizeof(key), cmp_pair) != NULL;
}

static bool anomalous(const struct node *nd)
{
	return nd->raw >= RCA_Z_ONSET || nd->score >= RCA_Z_ONSET;
}

/*
 * Callers' errors: an edge series "caller->callee" or an error-like series of
 * a caller that turns anomalous no earlier than the callee is the callee seen
 * failing from outside; it is the callee's evidence, and an edge's errors
 * count as the callee's own score when they are stronger.
 */
static void graph_callers_errors(struct ctx *c, const struct graph *g, struct node *nodes)
{
	for (size_t k = 0; k < c->n_nodes; k++) {
		struct node *e = &nodes[k];
		if (!e->edge || !anomalous(e))
			continue;
		size_t sv = g->node_svc[k];
		for (size_t x = g->svc_start[sv]; x < g->svc_start[sv + 1]; x++) {
			struct node *v = &nodes[g->by_svc[x]];
			json_array_append_new(v->evidence, json_pack("{s:s, s:s, s:f, s:o}", "kind", "callers_errors",
								     "edge", e->name, "z", e->base, "onset",
								     onset_json(e->onset)));
			if (e->raw > v->raw)
				v->raw = e->raw;
			if (e->base > v->score) {
				v->score = e->base;
				if (!v->onset || (e->onset && e->onset < v->onset))
					v->onset = e->onset;
			}
		}
	}
	for (size_t j = 0; j < c->n_ss; j++) {
		const struct sstat *st = &c->ss[j];
		if (!st->usable || st->score < RCA_Z_ONSET || !st->onset || !strstr(st->s->metric, "err") ||
		    nodes[st->node].edge)
			continue;
		size_t from = g->node_svc[st->node];
		for (size_t i = g->out_start[from]; i < g->out_start[from + 1]; i++) {
			size_t to = g->edges[i].to;
			for (size_t x = g->svc_start[to]; x < g->svc_start[to + 1]; x++) {
				struct node *v = &nodes[g->by_svc[x]];
				if (g->by_svc[x] == st->node || !anomalous(v) || !v->onset || st->onset < v->onset)
					continue;
				json_array_append_new(v->evidence,
						      json_pack("{s:s, s:s, s:s, s:f, s:o}", "kind", "callers_errors",
								"caller", st->s->node, "metric", st->s->metric, "z",
								st->nscore, "onset", onset_json(st->onset)));
			}
		}
	}
}

/* The explainer of u among the nodes of service `to`: anomalous, started no later, not much weaker. */
static void explain_from(const struct graph *g, struct node *nodes, size_t k, size_t to, bool *victim, size_t *by)
{
	struct node *u = &nodes[k];
	for (size_t x = g->svc_start[to]; x < g->svc_start[to + 1]; x++) {
		size_t j = g->by_svc[x];
		struct node *v = &nodes[j];
		if (j == k || !anomalous(v) || !v->onset || v->onset > u->onset || v->score < RCA_EXPLAIN * u->score)
			continue;
		if (v->onset == u->onset && !u->edge && calls(g, to, g->node_svc[k]))
			continue; /* a mutual call with one onset explains neither */
		if (!victim[k] || nodes[by[k]].score < v->score) {
			victim[k] = true;
			by[k] = j;
		}
	}
}

/*
 * Onset order: a node with an anomalous callee whose anomaly began no later
 * than its own is more likely a victim of it; the callee gets the callers
 * that followed it as evidence.
 */
static void graph_onset_order(struct ctx *c, const struct graph *g, struct node *nodes)
{
	bool *victim = xcalloc(c->n_nodes + 1, sizeof(bool));
	size_t *by = xcalloc(c->n_nodes + 1, sizeof(size_t));
	for (size_t k = 0; k < c->n_nodes; k++) {
		struct node *u = &nodes[k];
		if (!anomalous(u) || !u->onset)
			continue;
		if (u->edge) { /* an edge is explained by its callee */
			explain_from(g, nodes, k, g->node_svc[k], victim, by);
			continue;
		}
		size_t from = g->node_svc[k];
		for (size_t i = g->out_start[from]; i < g->out_start[from + 1]; i++)
			explain_from(g, nodes, k, g->edges[i].to, victim, by);
	}
	for (size_t k = 0; k < c->n_nodes; k++) {
		if (!victim[k])
			continue;
		struct node *u = &nodes[k], *v = &nodes[by[k]];
		json_array_append_new(u->evidence,
				      json_pack("{s:s, s:s, s:s, s:I, s:I}", "kind", "onset_order", "role", "victim",
						"explained_by", v->name, "callee_onset", (json_int_t)v->onset, "onset",
						(json_int_t)u->onset));
		if (!v->onset_first)
			v->onset_first = json_array();
		json_array_append_new(v->onset_first, json_string(u->name));
	}
	/*
	 * A victim keeps at most RCA_VICTIM of its own score and of its
	 * explainer's final score: down a chain the callee at the bottom stays
	 * on top however loud its callers are. Scores only fall, so a pass that
	 * changes nothing ends it; n passes bound a chain of n nodes.
	 */
	double *own = xcalloc(c->n_nodes + 1, sizeof(double));
	for (size_t k = 0; k < c->n_nodes; k++)
		own[k] = nodes[k].score;
	for (size_t pass = 0; pass <= c->n_nodes; pass++) {
		bool changed = false;
		for (size_t k = 0; k < c->n_nodes; k++) {
			if (!victim[k])
				continue;
			double cap = nodes[by[k]].score < own[k] ? nodes[by[k]].score : own[k];
			if (RCA_VICTIM * cap != nodes[k].score) {
				nodes[k].score = RCA_VICTIM * cap;
				changed = true;
			}
		}
		if (!changed)
			break;
	}
	free(own);
	for (size_t k = 0; k < c->n_nodes; k++) {
		struct node *v = &nodes[k];
		if (v->onset_first)
			json_array_append_new(v->evidence, json_pack("{s:s, s:s, s:I, s:o}", "kind", "onset_order",
								     "role", "first", "onset", (json_int_t)v->onset,
								     "callers_after", v->onset_first));
		v->onset_first = NULL;
	}
	free(victim);
	free(by);
}

/* The symptom's node reaches its callees; a node it cannot reach is off its path. */
static void graph_target(struct ctx *c, const struct graph *g, struct node *nodes)
{
	const char *f, *t;
	size_t fl, tl;
	name_parts(c->in->target, &f, &fl, &t, &tl);
	size_t start = svc_find(g, f, fl);
	bool *reach = xcalloc(g->n_svcs + 1, sizeof(bool));
	size_t *queue = xcalloc(g->n_svcs + 1, sizeof(size_t)), head = 0, tail = 0;
	if (start != SIZE_MAX) {
		reach[start] = true;
		queue[tail++] = start;
	}
	while (head < tail) { /* each service enters the queue once */
		size_t s = queue[head++];
		for (size_t i = g->out_start[s]; i < g->out_start[s + 1]; i++)
			if (!reach[g->edges[i].to]) {
				reach[g->edges[i].to] = true;
				queue[tail++] = g->edges[i].to;
			}
	}
	for (size_t k = 0; k < c->n_nodes; k++) {
		size_t s = nodes[k].edge ? g->edge_from[k] : g->node_svc[k];
		if (s != SIZE_MAX && reach[s])
			continue;
		nodes[k].score *= RCA_OFF_PATH;
		json_array_append_new(nodes[k].evidence,
				      json_pack("{s:s, s:s}", "kind", "off_path", "target", c->in->target));
	}
	free(reach);
	free(queue);
}

static int cmp_suspect(const void *a, const void *b)
{
	const struct rca_suspect *x = a, *y = b;
	if (x->score != y->score)
		return x->score < y->score ? 1 : -1;
	int k = strcmp(x->node, y->node);
	return k ? k : strcmp(x->kind, y->kind);
}

int rca_rank(const struct rca_input *in, struct rca_suspect **out, size_t *n_out, struct buf *err)
{
	*out = NULL;
	*n_out = 0;
	int rc = validate(in, err);
	if (rc)
		return rc;
	struct ctx c;
	ctx_init(&c, in);
	c.n_ss = in->n_series;
	int64_t onset = in->onset_s ? in->onset_s : estimate_onset(&c);
	if (!onset) {
		buf_adds(err, "rca: cannot find the onset (too few samples); give it");
		ctx_release(&c);
		return OODA_EINVAL;
	}
	score_series(&c, onset);
	struct node *nodes = xcalloc(c.n_nodes + 1, sizeof(*nodes));
	nodes_fill(&c, nodes);
	if (in->n_edges) {
		struct graph g;
		graph_init(&g, &c, nodes);
		graph_callers_errors(&c, &g, nodes);
		graph_onset_order(&c, &g, nodes);
		if (in->target && in->target[0])
			graph_target(&c, &g, nodes);
		graph_release(&g);
	}
	/* changes close before onset raise their node and rank as suspects of their own */
	double *prox = xcalloc(in->n_changes + 1, sizeof(double));
	double *boost = xcalloc(c.n_nodes + 1, sizeof(double));
	size_t n_sus = c.n_nodes;
	for (size_t i = 0; i < in->n_changes; i++) {
		const struct rca_change *ch = &in->changes[i];
		int64_t before = onset - ch->at_s;
		if (before < 0 || before > RCA_CHANGE_WINDOW_S)
			continue;
		prox[i] = 1.0 - (double)before / RCA_CHANGE_WINDOW_S;
		if (prox[i] <= 0)
			continue;
		n_sus++;
		size_t k = find_str(c.nodes, c.n_nodes, ch->node);
		if (k == SIZE_MAX)
			continue;
		if (prox[i] > boost[k])
			boost[k] = prox[i];
		json_t *e = json_pack("{s:s, s:s, s:I, s:I}", "kind", "change", "ref", ch->ref ? ch->ref : "",
				      "at", (json_int_t)ch->at_s, "before_onset_s", (json_int_t)before);
		if (ch->kind)
			json_object_set_new(e, "change_kind", json_string(ch->kind));
		if (ch->summary)
			json_object_set_new(e, "summary", json_string(ch->summary));
		json_array_append_new(nodes[k].evidence, e);
	}
	struct rca_suspect *sus = xcalloc(n_sus + 1, sizeof(*sus));
	size_t n = 0;
	for (size_t k = 0; k < c.n_nodes; k++) {
		double before_boost = nodes[k].score;
		nodes[k].score *= 1.0 + boost[k];
		sus[n++] = (struct rca_suspect){ .node = xstrdup(nodes[k].name), .kind = xstrdup(nodes[k].kind),
						 .score = nodes[k].score, .evidence = nodes[k].evidence,
						 .onset_s = nodes[k].onset };
		nodes[k].score = before_boost; /* the change suspects below start from it */
	}
	for (size_t i = 0; i < in->n_changes; i++) {
		if (prox[i] <= 0)
			continue;
		const struct rca_change *ch = &in->changes[i];
		size_t k = find_str(c.nodes, c.n_nodes, ch->node);
		double base = k == SIZE_MAX ? 0 : nodes[k].score;
		json_t *ev = json_array();
		json_t *e = json_pack("{s:s, s:s, s:s, s:I, s:I}", "kind", "change", "node", ch->node, "ref",
				      ch->ref ? ch->ref : "", "at", (json_int_t)ch->at_s, "before_onset_s",
				      (json_int_t)(onset - ch->at_s));
		if (ch->kind)
			json_object_set_new(e, "change_kind", json_string(ch->kind));
		if (ch->summary)
			json_object_set_new(e, "summary", json_string(ch->summary));
		json_array_append_new(ev, e);
		struct buf name = BUF_INIT;
		buf_addf(&name, "%s@%s", ch->node, ch->ref && ch->ref[0] ? ch->ref : ch->kind ? ch->kind : "change");
		sus[n++] = (struct rca_suspect){ .node = buf_detach(&name, NULL), .kind = xstrdup("change"),
						 .score = base * (1.0 + prox[i]) / 2, .evidence = ev,
						 .onset_s = ch->at_s };
	}
	qsort(sus, n, sizeof(*sus), cmp_suspect);
	/* confidence: the squared score's share of the top five (a long quiet tail does not dilute it) */
	double sum = 0;
	for (size_t i = 0; i < n && i < RCA_CONFIDENCE_TOP; i++)
		sum += sus[i].score * sus[i].score;
	for (size_t i = 0; i < n; i++) {
		double share = sum > 0 ? sus[i].score * sus[i].score / sum : 0;
		sus[i].confidence = share < 1 ? share : 1;
	}
	free(prox);
	free(boost);
	free(nodes);
	ctx_release(&c);
	*out = sus;
	*n_out = n;
	return 0;
}

void rca_suspects_free(struct rca_suspect *s, size_t n)
{
	if (!s)
		return;
	for (size_t i = 0; i < n; i++) {
		free(s[i].node);
		free(s[i].kind);
		json_decref(s[i].evidence);
	}
	free(s);
}
