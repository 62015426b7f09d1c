/*
 * The PromQL evaluator. Each selector's series are fetched from the source
 * once for the whole query (instant or range); the tree is then evaluated
 * step by step over that data with binary search into the samples, each
 * step in a scratch arena that is reset between steps, and the per-step
 * vectors are folded into the result matrix keyed by label set.
 */
#include <ctype.h>
#include <math.h>
#include <xxhash.h>

#include "core/error.h"
#include "core/time.h"
#include "query/promql_eval_impl.h"

static int fail(struct ev *ev, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct ev *ev, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	buf_vaddf(ev->err, fmt, ap);
	va_end(ap);
	return rc;
}

void *pqe_talloc(struct ev *ev, size_t n)
{
	return arena_alloc(&ev->tmp, n ? n : 1);
}

/* ---- label sets ---- */

int pqe_label_cmp(const void *a, const void *b)
{
	const struct promql_label *x = a, *y = b;
	return strcmp(x->name, y->name);
}

static int labels_cmp(const struct promql_label *a, uint32_t na, const struct promql_label *b, uint32_t nb)
{
	for (uint32_t i = 0; i < na && i < nb; i++) {
		int c = strcmp(a[i].name, b[i].name);
		if (c)
			return c;
		c = strcmp(a[i].value, b[i].value);
		if (c)
			return c;
	}
	return na < nb ? -1 : na > nb;
}

const char *pqe_lget(const struct promql_label *l, uint32_t n, const char *name)
{
	for (uint32_t i = 0; i < n; i++)
		if (strcmp(l[i].name, name) == 0)
			return l[i].value;
	return NULL;
}

static bool in_list(const char *name, const char **list, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (strcmp(list[i], name) == 0)
			return true;
	return false;
}

/* Serialises a label set into ev->key (length-prefixed, unambiguous). */
void pqe_key_of(struct ev *ev, const struct promql_label *l, uint32_t n)
{
	buf_reset(&ev->key);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t a = (uint32_t)strlen(l[i].name), b = (uint32_t)strlen(l[i].value);
		if (!b)
			continue; /* an empty label is no label */
		buf_add(&ev->key, &a, sizeof(a));
		buf_add(&ev->key, l[i].name, a);
		buf_add(&ev->key, &b, sizeof(b));
		buf_add(&ev->key, l[i].value, b);
	}
}

/* Labels filtered: keep (on) or drop (!on) the listed names; drop_name
 * also removes __name__. Result in tmp, or l itself if nothing changes. */
int pqe_filter_labels(struct ev *ev, const struct promql_label *l, uint32_t n, bool keep,
			 const char **list, uint32_t nlist, bool drop_name,
			 const struct promql_label **out, uint32_t *nout)
{
	struct promql_label *r = NULL;
	uint32_t k = 0;
	for (uint32_t i = 0; i < n; i++) {
		bool listed = in_list(l[i].name, list, nlist);
		bool take = keep ? listed : !listed;
		if (drop_name && strcmp(l[i].name, "__name__") == 0)
			take = false;
		if (take && !l[i].value[0])
			take = false;
		if (take && r)
			r[k++] = l[i];
		else if (!take && !r) {
			r = pqe_talloc(ev, sizeof(*r) * n);
			if (!r)
				return OODA_ENOMEM;
			memcpy(r, l, sizeof(*r) * i);
			k = i;
		}
	}
	if (!r) {
		*out = l;
		*nout = n;
	} else {
		*out = r;
		*nout = k;
	}
	return 0;
}

int pqe_drop_name(struct ev *ev, struct el *e)
{
	const struct promql_label *before = e->l;
	int rc = pqe_filter_labels(ev, e->l, e->n, false, NULL, 0, true, &e->l, &e->n);
	if (e->l != before)
		e->sid = 0;
	return rc;
}

/* Sets (value non-empty) or deletes name in a copy of the label set. */
int pqe_set_label(struct ev *ev, const struct promql_label *l, uint32_t n, const char *name,
		     const char *value, const struct promql_label **out, uint32_t *nout)
{
	struct promql_label *r = pqe_talloc(ev, sizeof(*r) * (n + 1));
	if (!r)
		return OODA_ENOMEM;
	uint32_t k = 0;
	bool done = false;
	for (uint32_t i = 0; i < n; i++) {
		int c = strcmp(l[i].name, name);
		if (c > 0 && !done) {
			if (value[0])
				r[k++] = (struct promql_label){ name, value };
			done = true;
		}
		if (c == 0) {
			if (value[0])
				r[k++] = (struct promql_label){ name, value };
			done = true;
			continue;
		}
		r[k++] = l[i];
	}
	if (!done && value[0])
		r[k++] = (struct promql_label){ name, value };
	*out = r;
	*nout = k;
	return 0;
}

/* ---- hash map from label key to index ---- */

int pqe_lmap_init(struct lmap *m, struct arena *a, size_t hint)
{
	m->a = a;
	m->n = 0;
	m->cap = 16;
	while (m->cap < hint * 2)
		m->cap *= 2;
	m->s = arena_zalloc(a, m->cap * sizeof(*m->s));
	return m->s ? 0 : OODA_ENOMEM;
}

/* Finds key k; if absent inserts it with index idx (copying k). *found
 * tells which; *out is the stored index. */
int pqe_lmap_get(struct lmap *m, const char *k, size_t klen, uint32_t idx, uint32_t *out, bool *found)
{
	if ((m->n + 1) * 2 > m->cap) {
		size_t nc = m->cap * 2;
		struct lslot *ns = arena_zalloc(m->a, nc * sizeof(*ns));
		if (!ns)
			return OODA_ENOMEM;
		for (size_t i = 0; i < m->cap; i++) {
			if (!m->s[i].k)
				continue;
			size_t j = m->s[i].h & (nc - 1);
			while (ns[j].k)
				j = (j + 1) & (nc - 1);
			ns[j] = m->s[i];
		}
		m->s = ns;
		m->cap = nc;
	}
	uint64_t h = XXH3_64bits(k, klen);
	size_t j = h & (m->cap - 1);
	while (m->s[j].k) {
		if (m->s[j].h == h && m->s[j].klen == klen && memcmp(m->s[j].k, k, klen) == 0) {
			*out = m->s[j].idx;
			*found = true;
			return 0;
		}
		j = (j + 1) & (m->cap - 1);
	}
	char *copy = arena_alloc(m->a, klen + 1);
	if (!copy)
		return OODA_ENOMEM;
	memcpy(copy, k, klen);
	m->s[j] = (struct lslot){ h, copy, (uint32_t)klen, idx };
	m->n++;
	*out = idx;
	*found = false;
	return 0;
}

/* Looks k up without inserting. */
static bool lmap_find(const struct lmap *m, const char *k, size_t klen, uint32_t *out)
{
	uint64_t h = XXH3_64bits(k, klen);
	size_t j = h & (m->cap - 1);
	while (m->s[j].k) {
		if (m->s[j].h == h && m->s[j].klen == klen && memcmp(m->s[j].k, k, klen) == 0) {
			*out = m->s[j].idx;
			return true;
		}
		j = (j + 1) & (m->cap - 1);
	}
	return false;
}

int pqe_vpush(struct ev *ev, struct vec *v, struct el e)
{
	if (v->n == v->cap) {
		size_t nc = v->cap ? v->cap * 2 : 8;
		struct el *ne = pqe_talloc(ev, nc * sizeof(*ne));
		if (!ne)
			return OODA_ENOMEM;
		if (v->n)
			memcpy(ne, v->e, v->n * sizeof(*ne));
		v->e = ne;
		v->cap = nc;
	}
	v->e[v->n++] = e;
	return 0;
}

/* ---- fetching ---- */

/* The time a selector or subquery reads at for evaluation time t: its @
 * time (or t) minus its offset. */
int64_t pqe_at(const struct ev *ev, const struct promql_expr *e, int64_t t)
{
	switch (e->at) {
	case AT_TIME: t = e->at_ms; break;
	case AT_START: t = ev->q_start; break;
	case AT_END: t = ev->q_end; break;
	case AT_NONE: break;
	}
	return ooda_ns_sub_sat(t, e->offset_ms);
}

/* Counts drops once so that reset-free windows are O(1) in rate(). */
static int count_resets(struct ev *ev, struct arena *a, struct fser *fs)
{
	(void)ev;
	fs->resets = arena_alloc(a, (fs->ns + 1) * sizeof(*fs->resets));
	if (!fs->resets)
		return OODA_ENOMEM;
	uint32_t drops = 0;
	for (uint32_t k = 0; k < fs->ns; k++) {
		if (k && fs->s[k].v < fs->s[k - 1].v)
			drops++;
		fs->resets[k] = drops;
	}
	return 0;
}

static int fetch_one(struct ev *ev, const struct promql_expr *s, int64_t start, int64_t end)
{
	if (s->at) /* pinned: the same window at every step */
		start = end = pqe_at(ev, s, 0) + s->offset_ms;
	struct fetched *f = &ev->sel[s->sel_id];
	int64_t back = s->range_ms ? s->range_ms : ev->lookback;
	struct promql_series *ser = NULL;
	size_t n = 0;
	/* saturating: a window reaching past either end of time just means "all of it" */
	int64_t from = ooda_ns_sub_sat(ooda_ns_sub_sat(start, s->offset_ms), back);
	int64_t to = ooda_ns_sub_sat(end, s->offset_ms);
	int rc = ev->src->select(ev->src->ctx, s->m, s->n_m, from, to, ev->a, &ser, &n, ev->err);
	if (rc)
		return rc;
	if (n > ev->max_series)
		return fail(ev, OODA_ELIMIT, "selector at char %u matched %zu series, more than the limit of %zu",
			    s->pos, n, ev->max_series);
	f->n = n;
	f->ser = arena_zalloc(ev->a, (n ? n : 1) * sizeof(*f->ser));
	if (!f->ser)
		return OODA_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct fser *fs = &f->ser[i];
		struct promql_series *x = &ser[i];
		if (x->n_labels > 1) /* a source may give an unlabelled series with labels NULL */
			qsort(x->labels, x->n_labels, sizeof(*x->labels), pqe_label_cmp);
		fs->l = x->labels;
		fs->n = x->n_labels;
		fs->nl = arena_alloc(ev->a, (x->n_labels + 1) * sizeof(*fs->nl));
		if (!fs->nl)
			return OODA_ENOMEM;
		for (uint32_t k = 0; k < x->n_labels; k++)
			if (strcmp(x->labels[k].name, "__name__") != 0)
				fs->nl[fs->nn++] = x->labels[k];
		fs->s = x->samples;
		fs->ns = x->n_samples;
		fs->sid = ev->n_sid + 1;
		ev->n_sid += 2;
		fs->c_start = fs->c_end = INT64_MIN;
		if (s->range_ms) { /* range functions never see staleness markers */
			uint32_t stale = 0;
			for (uint32_t k = 0; k < fs->ns; k++)
				stale += promql_is_stale(fs->s[k].v);
			if (stale) {
				struct promql_sample *c = arena_alloc(ev->a, (fs->ns - stale + 1) * sizeof(*c));
				if (!c)
					return OODA_ENOMEM;
				uint32_t m = 0;
				for (uint32_t k = 0; k < fs->ns; k++)
					if (!promql_is_stale(fs->s[k].v))
						c[m++] = fs->s[k];
				fs->s = c;
				fs->ns = m;
			}
			int rc2 = count_resets(ev, ev->a, fs);
			if (rc2)
				return rc2;
		}
	}
	return 0;
}

static int fetch_all(struct ev *ev, const struct promql_expr *e, int64_t start, int64_t end)
{
	if (!e)
		return 0;
	int rc = 0;
	switch (e->kind) {
	case PQ_SEL:
		return fetch_one(ev, e, start, end);
	case PQ_CALL:
		for (uint32_t i = 0; i < e->n_args && !rc; i++)
			rc = fetch_all(ev, e->args[i], start, end);
		return rc;
	case PQ_AGG:
		rc = fetch_all(ev, e->param, start, end);
		return rc ? rc : fetch_all(ev, e->arg, start, end);
	case PQ_NEG:
		return fetch_all(ev, e->arg, start, end);
	case PQ_SUBQ: {
		/* the inner expression runs at the subquery's steps in (at - range, at] */
		int64_t s0 = e->at ? pqe_at(ev, e, 0) : ooda_ns_sub_sat(start, e->offset_ms);
		int64_t e0 = e->at ? s0 : ooda_ns_sub_sat(end, e->offset_ms);
		return fetch_all(ev, e->arg, ooda_ns_sub_sat(s0, e->range_ms), e0);
	}
	case PQ_BIN:
		rc = fetch_all(ev, e->lhs, start, end);
		return rc ? rc : fetch_all(ev, e->rhs, start, end);
	default:
		return 0;
	}
}

/* First index with sample time > t. */
static uint32_t upper(const struct promql_sample *s, uint32_t n, int64_t t)
{
	uint32_t lo = 0, hi = n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (s[mid].t_ms <= t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The samples in (start, end]: steps move forward, so the cursor of the
 * previous step usually only needs a nudge; otherwise binary search. */
void pqe_window(struct fser *fs, int64_t start, int64_t end, uint32_t *lo, uint32_t *hi)
{
	if (start >= fs->c_start && end >= fs->c_end) {
		uint32_t l = fs->lo, h = fs->hi;
		while (l < fs->ns && fs->s[l].t_ms <= start)
			l++;
		if (h < l)
			h = l;
		while (h < fs->ns && fs->s[h].t_ms <= end)
			h++;
		*lo = l;
		*hi = h;
	} else {
		*lo = upper(fs->s, fs->ns, start);
		*hi = upper(fs->s, fs->ns, end);
	}
	fs->lo = *lo;
	fs->hi = *hi;
	fs->c_start = start;
	fs->c_end = end;
}

int pqe_vreserve(struct ev *ev, struct vec *v, size_t n)
{
	if (v->cap >= n)
		return 0;
	struct el *ne = pqe_talloc(ev, n * sizeof(*ne));
	if (!ne)
		return OODA_ENOMEM;
	if (v->n)
		memcpy(ne, v->e, v->n * sizeof(*ne));
	v->e = ne;
	v->cap = n;
	return 0;
}

/* ---- aggregation ---- */

struct agrp {
	const struct promql_label *l;
	uint32_t n;
	double v, mean, m2, c;
	uint32_t count;
	uint32_t first, last; /* member chain through next[] */
};

static int el_desc(const void *a, const void *b)
{
	const struct el *x = a, *y = b;
	if (isnan(x->v))
		return isnan(y->v) ? 0 : 1;
	if (isnan(y->v))
		return -1;
	return x->v > y->v ? -1 : x->v < y->v;
}

static int el_asc(const void *a, const void *b)
{
	const struct el *x = a, *y = b;
	if (isnan(x->v))
		return isnan(y->v) ? 0 : 1;
	if (isnan(y->v))
		return -1;
	return x->v < y->v ? -1 : x->v > y->v;
}

static int eval_agg(struct ev *ev, const struct promql_expr *e, int64_t t, struct val *out)
{
	struct val in, par = { 0 };
	int rc;
	if (e->param && (rc = pqe_eval(ev, e->param, t, &par)))
		return rc;
	if ((rc = pqe_eval(ev, e->arg, t, &in)))
		return rc;
	out->type = PQ_T_VECTOR;
	size_t n = in.v.n;
	if (!n)
		return 0;
	struct lmap m;
	if ((rc = pqe_lmap_init(&m, &ev->tmp, n)))
		return rc;
	struct agrp *g = pqe_talloc(ev, n * sizeof(*g));
	uint32_t *nextm = pqe_talloc(ev, n * sizeof(*nextm));
	if (!g || !nextm)
		return OODA_ENOMEM;
	uint32_t ng = 0;
	struct buf vs = BUF_INIT;
	bool keep_name = !e->without && in_list("__name__", e->grp, e->n_grp);
	for (size_t i = 0; i < n; i++) {
		struct el *x = &in.v.e[i];
		const struct promql_label *l;
		uint32_t nl;
		rc = pqe_filter_labels(ev, x->l, x->n, !e->without, e->grp, e->n_grp, keep_name ? false : true, &l, &nl);
		if (!rc && e->agg == AGG_COUNT_VALUES) {
			buf_reset(&vs);
			pq_format_float(&vs, x->v);
			char *v = arena_strndup(&ev->tmp, vs.data, vs.len);
			rc = v ? pqe_set_label(ev, l, nl, par.str, v, &l, &nl) : OODA_ENOMEM;
		}
		if (rc)
			break;
		pqe_key_of(ev, l, nl);
		uint32_t idx;
		bool found;
		if ((rc = pqe_lmap_get(&m, ev->key.data, ev->key.len, ng, &idx, &found)))
			break;
		nextm[i] = UINT32_MAX;
		struct agrp *gr = &g[idx];
		double v = x->v;
		if (!found) {
			ng++;
			*gr = (struct agrp){ .l = l, .n = nl, .v = v, .mean = v, .count = 1,
					     .first = (uint32_t)i, .last = (uint32_t)i };
			continue;
		}
		nextm[gr->last] = (uint32_t)i;
		gr->last = (uint32_t)i;
		gr->count++;
		switch (e->agg) {
		case AGG_SUM: { /* Kahan */
			double y = v - gr->c, tt = gr->v + y;
			gr->c = (tt - gr->v) - y;
			gr->v = tt;
			break;
		}
		case AGG_AVG:
		case AGG_STDDEV:
		case AGG_STDVAR: {
			double d = v - gr->mean;
			gr->mean += d / gr->count;
			gr->m2 += d * (v - gr->mean);
			break;
		}
		case AGG_MAX:
			if (v > gr->v || isnan(gr->v))
				gr->v = v;
			break;
		case AGG_MIN:
			if (v < gr->v || isnan(gr->v))
				gr->v = v;
			break;
		default:
			break;
		}
	}
	buf_release(&vs);
	if (rc)
		return rc;
	for (uint32_t i = 0; i < ng && !rc; i++) {
		struct agrp *gr = &g[i];
		double v = gr->v;
		switch (e->agg) {
		case AGG_AVG: v = gr->mean; break;
		case AGG_COUNT:
		case AGG_COUNT_VALUES: v = gr->count; break;
		case AGG_GROUP: v = 1; break;
		case AGG_STDVAR: v = gr->m2 / gr->count; break;
		case AGG_STDDEV: v = sqrt(gr->m2 / gr->count); break;
		case AGG_QUANTILE: {
			double *vals = pqe_talloc(ev, gr->count * sizeof(*vals));
			if (!vals)
				return OODA_ENOMEM;
			uint32_t k = 0;
			for (uint32_t j = gr->first; j != UINT32_MAX; j = nextm[j])
				vals[k++] = in.v.e[j].v;
			v = pqe_quantile(par.s, vals, k);
			break;
		}
		case AGG_TOPK:
		case AGG_BOTTOMK: {
			double kk = par.s;
			if (isnan(kk) || kk < 1)
				continue;
			size_t want = kk > (double)gr->count ? gr->count : (size_t)kk;
			struct el *mem = pqe_talloc(ev, gr->count * sizeof(*mem));
			if (!mem)
				return OODA_ENOMEM;
			uint32_t k = 0;
			for (uint32_t j = gr->first; j != UINT32_MAX; j = nextm[j])
				mem[k++] = in.v.e[j];
			if (k > 1)
				qsort(mem, k, sizeof(*mem), e->agg == AGG_TOPK ? el_desc : el_asc);
			for (size_t j = 0; j < want && !rc; j++) {
				mem[j].t = t;
				rc = pqe_vpush(ev, &out->v, mem[j]);
			}
			continue;
		}
		default: break;
		}
		rc = pqe_vpush(ev, &out->v, (struct el){ gr->l, gr->n, 0, v, t });
	}
	return rc;
}

/* ---- binary operators ---- */

static bool is_cmp(enum pq_binop op)
{
	return op >= OP_EQ && op <= OP_LE;
}

/* Applies op; for comparisons returns whether the pair passes and lhs. */
static double binop(enum pq_binop op, double l, double r, bool *keep)
{
	*keep = true;
	switch (op) {
	case OP_ADD: return l + r;
	case OP_SUB: return l - r;
	case OP_MUL: return l * r;
	case OP_DIV: return l / r;
	case OP_MOD: return fmod(l, r);
	case OP_POW: return pow(l, r);
	case OP_EQ: *keep = l == r; return l;
	case OP_NE: *keep = l != r; return l;
	case OP_GT: *keep = l > r; return l;
	case OP_LT: *keep = l < r; return l;
	case OP_GE: *keep = l >= r; return l;
	case OP_LE: *keep = l <= r; return l;
	default: *keep = false; return NAN;
	}
}

static int sig_key(struct ev *ev, const struct promql_expr *e, const struct el *x)
{
	const struct promql_label *l;
	uint32_t n;
	/* on(__name__) matches on the name; otherwise the name never counts */
	bool drop = !(e->on && in_list("__name__", e->mlabels, e->n_mlabels));
	int rc = pqe_filter_labels(ev, x->l, x->n, e->on, e->mlabels, e->n_mlabels, drop, &l, &n);
	if (!rc)
		pqe_key_of(ev, l, n);
	return rc;
}

static int eval_setop(struct ev *ev, const struct promql_expr *e, struct vec *L, struct vec *R, struct val *out)
{
	struct lmap m;
	int rc;
	bool found;
	uint32_t idx;
	struct vec *keyed = e->op == OP_OR ? L : R;
	if ((rc = pqe_lmap_init(&m, &ev->tmp, keyed->n)))
		return rc;
	for (size_t i = 0; i < keyed->n; i++)
		if ((rc = sig_key(ev, e, &keyed->e[i])) ||
		    (rc = pqe_lmap_get(&m, ev->key.data, ev->key.len, 0, &idx, &found)))
			return rc;
	out->type = PQ_T_VECTOR;
	struct vec *scan = e->op == OP_OR ? R : L;
	if (e->op == OP_OR)
		for (size_t i = 0; i < L->n; i++)
			if ((rc = pqe_vpush(ev, &out->v, L->e[i])))
				return rc;
	for (size_t i = 0; i < scan->n; i++) {
		if ((rc = sig_key(ev, e, &scan->e[i])))
			return rc;
		bool in_keyed = lmap_find(&m, ev->key.data, ev->key.len, &idx);
		if (in_keyed == (e->op == OP_AND))
			if ((rc = pqe_vpush(ev, &out->v, scan->e[i])))
				return rc;
	}
	return 0;
}

static int eval_vv(struct ev *ev, const struct promql_expr *e, int64_t t, struct vec *L, struct vec *R,
		   struct val *out)
{
	if (e->card == CARD_MANY_MANY)
		return eval_setop(ev, e, L, R, out);
	bool swap = e->card == CARD_ONE_MANY;
	struct vec *many = swap ? R : L, *one = swap ? L : R;
	struct lmap m, res;
	int rc;
	if ((rc = pqe_lmap_init(&m, &ev->tmp, one->n)) || (rc = pqe_lmap_init(&res, &ev->tmp, many->n)))
		return rc;
	uint8_t *matched = arena_zalloc(&ev->tmp, one->n + 1);
	if (!matched)
		return OODA_ENOMEM;
	for (size_t i = 0; i < one->n; i++) {
		uint32_t idx;
		bool found;
		if ((rc = sig_key(ev, e, &one->e[i])) ||
		    (rc = pqe_lmap_get(&m, ev->key.data, ev->key.len, (uint32_t)i, &idx, &found)))
			return rc;
		if (found)
			return fail(ev, OODA_EINVAL,
				    "found duplicate series for the match group on the %s hand-side of the operation; many-to-many matching not allowed: matching labels must be unique on one side",
				    swap ? "left" : "right");
	}
	bool drop = !is_cmp(e->op) || e->ret_bool;
	out->type = PQ_T_VECTOR;
	for (size_t i = 0; i < many->n; i++) {
		struct el x = many->e[i];
		uint32_t idx;
		if ((rc = sig_key(ev, e, &x)))
			return rc;
		if (!lmap_find(&m, ev->key.data, ev->key.len, &idx))
			continue;
		const struct el *o = &one->e[idx];
		if (e->card == CARD_ONE_ONE) {
			if (matched[idx])
				return fail(ev, OODA_EINVAL,
					    "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)");
			matched[idx] = 1;
		}
		double lv = swap ? o->v : x.v, rv = swap ? x.v : o->v;
		bool keep;
		double v = binop(e->op, lv, rv, &keep);
		if (e->ret_bool) {
			v = keep ? 1 : 0;
			keep = true;
		}
		if (!keep)
			continue;
		x.sid = 0;
		if (e->card == CARD_ONE_ONE)
			rc = pqe_filter_labels(ev, x.l, x.n, e->on, e->mlabels, e->n_mlabels, drop, &x.l, &x.n);
		else if (drop)
			rc = pqe_drop_name(ev, &x);
		for (uint32_t k = 0; k < e->n_include && !rc; k++) {
			const char *iv = pqe_lget(o->l, o->n, e->include[k]);
			rc = pqe_set_label(ev, x.l, x.n, e->include[k], iv ? iv : "", &x.l, &x.n);
		}
		if (rc)
			return rc;
		if (e->card != CARD_ONE_ONE) {
			uint32_t ridx;
			bool rfound;
			pqe_key_of(ev, x.l, x.n);
			if ((rc = pqe_lmap_get(&res, ev->key.data, ev->key.len, 0, &ridx, &rfound)))
				return rc;
			if (rfound)
				return fail(ev, OODA_EINVAL,
					    "multiple matches for labels: grouping labels must ensure unique matches");
		}
		x.v = v;
		x.t = t;
		if ((rc = pqe_vpush(ev, &out->v, x)))
			return rc;
	}
	return 0;
}

static int eval_bin(struct ev *ev, const struct promql_expr *e, int64_t t, struct val *out)
{
	struct val l, r;
	int rc;
	if ((rc = pqe_eval(ev, e->lhs, t, &l)) || (rc = pqe_eval(ev, e->rhs, t, &r)))
		return rc;
	bool keep;
	if (l.type == PQ_T_SCALAR && r.type == PQ_T_SCALAR) {
		out->type = PQ_T_SCALAR;
		out->s = binop(e->op, l.s, r.s, &keep);
		if (e->ret_bool)
			out->s = keep ? 1 : 0;
		return 0;
	}
	if (l.type == PQ_T_VECTOR && r.type == PQ_T_VECTOR)
		return eval_vv(ev, e, t, &l.v, &r.v, out);
	bool swap = l.type == PQ_T_SCALAR;
	struct vec *v = swap ? &r.v : &l.v;
	double s = swap ? l.s : r.s;
	bool drop = !is_cmp(e->op) || e->ret_bool;
	out->type = PQ_T_VECTOR;
	for (size_t i = 0; i < v->n; i++) {
		struct el x = v->e[i];
		double res = swap ? binop(e->op, s, x.v, &keep) : binop(e->op, x.v, s, &keep);
		if (is_cmp(e->op) && swap)
			res = x.v; /* a comparison always keeps the vector's value */
		if (e->ret_bool) {
			res = keep ? 1 : 0;
			keep = true;
		}
		if (!keep)
			continue;
		x.v = res;
		x.t = t;
		if ((drop && (rc = pqe_drop_name(ev, &x))) || (rc = pqe_vpush(ev, &out->v, x)))
			return rc;
	}
	return 0;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/*
 * Runs a subquery for evaluation time t: the inner expression at every
 * multiple of the step in (at - range, at], each label set one series of
 * out (in the step arena). The series carry no stable id.
 */
static int eval_subquery(struct ev *ev, const struct promql_expr *e, int64_t t, struct fetched *out)
{
	int64_t end = pqe_at(ev, e, t), lo = ooda_ns_sub_sat(end, e->range_ms);
	int64_t step = e->step_ms ? e->step_ms : PROMQL_SUBQUERY_STEP_MS;
	struct lmap m;
	int rc = pqe_lmap_init(&m, &ev->tmp, 16);
	if (rc)
		return rc;
	size_t cap = 0;
	out->n = 0;
	out->ser = NULL;
	/* the first multiple of step after lo, and how many fit up to end, without overflowing */
	int64_t q = floor_div(lo, step);
	int64_t n_steps = 0, first = 0;
	if (q < INT64_MAX / step) {
		first = (q + 1) * step;
		if (first <= end)
			n_steps = (int64_t)(((uint64_t)end - (uint64_t)first) / (uint64_t)step) + 1;
	}
	if (n_steps > PROMQL_MAX_SUBQUERY_POINTS + 1)
		n_steps = PROMQL_MAX_SUBQUERY_POINTS + 1;
	if ((uint64_t)n_steps > ev->subq_budget)
		return fail(ev, OODA_ELIMIT, "subqueries would evaluate more than %d inner steps; use larger steps or a shorter range",
			    PROMQL_MAX_SUBQUERY_STEPS);
	ev->subq_budget -= (uint64_t)n_steps;
	for (int64_t j = 0; j < n_steps && !rc; j++) {
		int64_t ts = first + j * step;
		struct val v;
		if ((rc = pqe_eval(ev, e->arg, ts, &v)))
			return rc;
		for (size_t i = 0; i < v.v.n; i++) {
			const struct el *x = &v.v.e[i];
			pqe_key_of(ev, x->l, x->n);
			uint32_t idx;
			bool found;
			if ((rc = pqe_lmap_get(&m, ev->key.data, ev->key.len, (uint32_t)out->n, &idx, &found)))
				return rc;
			if (!found) {
				if (out->n >= ev->max_series)
					return fail(ev, OODA_ELIMIT, "subquery at char %u produced more than %zu series",
						    e->pos, ev->max_series);
				if (out->n == cap) {
					size_t nc = cap ? cap * 2 : 8;
					struct fser *ns = pqe_talloc(ev, nc * sizeof(*ns));
					if (!ns)
						return OODA_ENOMEM;
					if (out->n)
						memcpy(ns, out->ser, out->n * sizeof(*ns));
					out->ser = ns;
					cap = nc;
				}
				struct fser *fs = &out->ser[out->n++];
				memset(fs, 0, sizeof(*fs));
				fs->l = (struct promql_label *)x->l;
				fs->n = x->n;
				fs->nl = pqe_talloc(ev, (x->n + 1) * sizeof(*fs->nl));
				fs->s = pqe_talloc(ev, 8 * sizeof(*fs->s));
				fs->lo = 8; /* capacity while building */
				if (!fs->nl || !fs->s)
					return OODA_ENOMEM;
				for (uint32_t k = 0; k < x->n; k++)
					if (strcmp(x->l[k].name, "__name__") != 0)
						fs->nl[fs->nn++] = x->l[k];
			}
			struct fser *fs = &out->ser[idx];
			if (fs->ns == fs->lo) {
				struct promql_sample *ns = pqe_talloc(ev, 2 * fs->lo * sizeof(*ns));
				if (!ns)
					return OODA_ENOMEM;
				memcpy(ns, fs->s, fs->ns * sizeof(*ns));
				fs->s = ns;
				fs->lo *= 2;
			}
			fs->s[fs->ns++] = (struct promql_sample){ ts, x->v };
		}
	}
	for (size_t i = 0; i < out->n && !rc; i++) {
		struct fser *fs = &out->ser[i];
		fs->lo = fs->hi = 0;
		fs->c_start = fs->c_end = INT64_MIN;
		rc = count_resets(ev, &ev->tmp, fs);
	}
	return rc;
}

/*
 * The range vector e (a range selector or a subquery) at evaluation time
 * t: its series in *out and its window (start, end].
 */
int pqe_matrix(struct ev *ev, const struct promql_expr *e, int64_t t, struct fetched *out,
	       int64_t *start, int64_t *end)
{
	*end = pqe_at(ev, e, t);
	*start = ooda_ns_sub_sat(*end, e->range_ms);
	if (e->kind == PQ_SEL) {
		*out = ev->sel[e->sel_id];
		return 0;
	}
	return eval_subquery(ev, e, t, out);
}

int pqe_eval(struct ev *ev, const struct promql_expr *e, int64_t t, struct val *out)
{
	memset(out, 0, sizeof(*out));
	out->type = e->type;
	switch (e->kind) {
	case PQ_NUM:
		out->s = e->num;
		return 0;
	case PQ_STR:
		out->str = e->str;
		return 0;
	case PQ_SEL: {
		const struct fetched *f = &ev->sel[e->sel_id];
		int64_t at = pqe_at(ev, e, t);
		int rc = pqe_vreserve(ev, &out->v, f->n);
		if (rc)
			return rc;
		for (size_t i = 0; i < f->n; i++) {
			struct fser *fs = &f->ser[i];
			uint32_t lo, k;
			pqe_window(fs, ooda_ns_sub_sat(at, ev->lookback), at, &lo, &k);
			if (k == lo)
				continue;
			const struct promql_sample *s = &fs->s[k - 1];
			if (promql_is_stale(s->v))
				continue;
			out->v.e[out->v.n++] = (struct el){ fs->l, fs->n, fs->sid, s->v, s->t_ms };
		}
		return 0;
	}
	case PQ_NEG: {
		struct val in;
		int rc = pqe_eval(ev, e->arg, t, &in);
		if (rc)
			return rc;
		if (in.type == PQ_T_SCALAR) {
			out->s = -in.s;
			return 0;
		}
		for (size_t i = 0; i < in.v.n; i++) {
			struct el x = in.v.e[i];
			x.v = -x.v;
			x.t = t;
			if ((rc = pqe_drop_name(ev, &x)) || (rc = pqe_vpush(ev, &out->v, x)))
				return rc;
		}
		return 0;
	}
	case PQ_CALL:
		return pqe_eval_call(ev, e, t, out);
	case PQ_AGG:
		return eval_agg(ev, e, t, out);
	case PQ_BIN:
		return eval_bin(ev, e, t, out);
	case PQ_SUBQ:
		break; /* a range vector: read through pqe_matrix() */
	}
	return OODA_EINTERNAL;
}

/* ---- result assembly ---- */

static int acc_add(struct ev *ev, const struct promql_label *l, uint32_t n, uint32_t sid, int64_t t,
		   double v)
{
	uint32_t idx;
	bool found;
	if (sid && ev->sid_aser[sid]) {
		idx = ev->sid_aser[sid] - 1;
		found = true;
	} else {
		pqe_key_of(ev, l, n);
		int rc = pqe_lmap_get(&ev->acc, ev->key.data, ev->key.len, (uint32_t)ev->n_aser, &idx, &found);
		if (rc)
			return rc;
		if (sid)
			ev->sid_aser[sid] = idx + 1;
	}
	if (!found) {
		if (ev->n_aser == ev->cap_aser) {
			size_t nc = ev->cap_aser ? ev->cap_aser * 2 : 64;
			struct aser *na = arena_alloc(ev->a, nc * sizeof(*na));
			if (!na)
				return OODA_ENOMEM;
			if (ev->n_aser)
				memcpy(na, ev->aser, ev->n_aser * sizeof(*na));
			ev->aser = na;
			ev->cap_aser = nc;
		}
		struct promql_label *cl = arena_alloc(ev->a, (n + 1) * sizeof(*cl));
		if (!cl)
			return OODA_ENOMEM;
		uint32_t k = 0;
		for (uint32_t i = 0; i < n; i++) {
			if (!l[i].value[0])
				continue;
			cl[k].name = arena_strdup(ev->a, l[i].name);
			cl[k].value = arena_strdup(ev->a, l[i].value);
			if (!cl[k].name || !cl[k].value)
				return OODA_ENOMEM;
			k++;
		}
		ev->aser[ev->n_aser++] = (struct aser){ .l = cl, .n = k };
	}
	struct aser *s = &ev->aser[idx];
	if (s->ns && s->s[s->ns - 1].t_ms == t)
		return fail(ev, OODA_EINVAL, "vector cannot contain metrics with the same labelset");
	if (s->ns == s->cap) {
		uint32_t nc = s->cap ? s->cap * 2 : 16;
		struct promql_sample *ns = arena_alloc(ev->a, nc * sizeof(*ns));
		if (!ns)
			return OODA_ENOMEM;
		if (s->ns)
			memcpy(ns, s->s, s->ns * sizeof(*ns));
		s->s = ns;
		s->cap = nc;
	}
	s->s[s->ns++] = (struct promql_sample){ t, v };
	return 0;
}

static int series_cmp(const void *a, const void *b)
{
	const struct promql_series *x = a, *y = b;
	return labels_cmp(x->labels, x->n_labels, y->labels, y->n_labels);
}

static int acc_finish(struct ev *ev, struct promql_value *out, bool sort)
{
	out->n_series = ev->n_aser;
	out->series = arena_zalloc(ev->a, (ev->n_aser + 1) * sizeof(*out->series));
	if (!out->series)
		return OODA_ENOMEM;
	for (size_t i = 0; i < ev->n_aser; i++)
		out->series[i] = (struct promql_series){ (struct promql_label *)ev->aser[i].l, ev->aser[i].n,
							 ev->aser[i].s, ev->aser[i].ns };
	if (sort && out->n_series > 1)
		qsort(out->series, out->n_series, sizeof(*out->series), series_cmp);
	return 0;
}

static int ev_start(struct ev *ev, const struct promql_expr *e, const struct promql_source *src,
		    struct arena *a, struct buf *err, int64_t start, int64_t end)
{
	memset(ev, 0, sizeof(*ev));
	ev->src = src;
	ev->a = a;
	ev->err = err;
	buf_init(&ev->key);
	arena_init(&ev->tmp, 0);
	ev->lookback = src->lookback_ms > 0 ? src->lookback_ms : PROMQL_DEFAULT_LOOKBACK_MS;
	ev->max_series = src->max_series ? src->max_series : PROMQL_DEFAULT_MAX_SERIES;
	ev->q_start = start;
	ev->q_end = end;
	ev->subq_budget = PROMQL_MAX_SUBQUERY_STEPS;
	if (src->version != 1 || !src->select)
		return fail(ev, OODA_EINVAL, "unsupported promql_source version %d", src->version);
	ev->sel = arena_zalloc(a, (e->n_sel + 1) * sizeof(*ev->sel));
	if (!ev->sel)
		return OODA_ENOMEM;
	int rc = pqe_lmap_init(&ev->acc, a, 64);
	if (!rc)
		rc = fetch_all(ev, e, start, end);
	if (!rc) {
		ev->sid_aser = arena_zalloc(a, (ev->n_sid + 2) * sizeof(*ev->sid_aser));
		rc = ev->sid_aser ? 0 : OODA_ENOMEM;
	}
	return rc;
}

static int ev_end(struct ev *ev, int rc)
{
	arena_release(&ev->tmp);
	buf_release(&ev->key);
	if (rc == OODA_ENOMEM && ev->err->len == 0)
		buf_adds(ev->err, "out of memory evaluating the query");
	return rc;
}

int promql_eval_instant(const struct promql_expr *e, const struct promql_source *src,
			int64_t t_ms, struct arena *a, struct promql_value *out, struct buf *err)
{
	struct ev ev;
	memset(out, 0, sizeof(*out));
	out->t_ms = t_ms;
	int rc = ev_start(&ev, e, src, a, err, t_ms, t_ms);
	if (rc)
		return ev_end(&ev, rc);
	if (e->type == PQ_T_MATRIX) { /* a bare range selector or subquery: its samples */
		struct fetched fm;
		int64_t start, end;
		rc = pqe_matrix(&ev, e, t_ms, &fm, &start, &end);
		const struct fetched *f = &fm;
		out->type = PROMQL_MATRIX;
		for (size_t i = 0; i < f->n && !rc; i++) {
			const struct fser *fs = &f->ser[i];
			uint32_t lo = upper(fs->s, fs->ns, start), hi = upper(fs->s, fs->ns, end);
			for (uint32_t k = lo; k < hi && !rc; k++)
				rc = acc_add(&ev, fs->l, fs->n, 0, fs->s[k].t_ms, fs->s[k].v);
		}
		if (!rc)
			rc = acc_finish(&ev, out, true);
		return ev_end(&ev, rc);
	}
	struct val v;
	rc = pqe_eval(&ev, e, t_ms, &v);
	if (!rc) {
		switch (v.type) {
		case PQ_T_SCALAR:
			out->type = PROMQL_SCALAR;
			out->scalar = v.s;
			break;
		case PQ_T_STRING:
			out->type = PROMQL_STRING;
			out->str = arena_strdup(a, v.str);
			rc = out->str ? 0 : OODA_ENOMEM;
			break;
		default:
			out->type = PROMQL_VECTOR;
			for (size_t i = 0; i < v.v.n && !rc; i++)
				rc = acc_add(&ev, v.v.e[i].l, v.v.e[i].n, v.v.e[i].sid, t_ms, v.v.e[i].v);
			if (!rc)
				rc = acc_finish(&ev, out, false);
			break;
		}
	}
	return ev_end(&ev, rc);
}

int promql_eval_range(const struct promql_expr *e, const struct promql_source *src,
		      int64_t start_ms, int64_t end_ms, int64_t step_ms, struct arena *a,
		      struct promql_value *out, struct buf *err)
{
	memset(out, 0, sizeof(*out));
	out->type = PROMQL_MATRIX;
	out->t_ms = end_ms;
	if (step_ms <= 0) {
		buf_adds(err, "zero or negative query resolution step widths are not accepted");
		return OODA_EINVAL;
	}
	if (end_ms < start_ms) {
		buf_adds(err, "end timestamp must not be before start time");
		return OODA_EINVAL;
	}
	if (e->type != PQ_T_SCALAR && e->type != PQ_T_VECTOR) {
		buf_addf(err, "invalid expression type \"%s\" for range query, must be scalar or instant vector",
			 e->type == PQ_T_MATRIX ? "range vector" : "string");
		return OODA_EINVAL;
	}
	int64_t span;
	if (ooda_ns_sub(end_ms, start_ms, &span) || span / step_ms >= PROMQL_MAX_POINTS) {
		buf_addf(err, "exceeded maximum resolution of %d points per timeseries; try a larger step",
			 PROMQL_MAX_POINTS);
		return OODA_ELIMIT;
	}
	struct ev ev;
	int rc = ev_start(&ev, e, src, a, err, start_ms, end_ms);
	/* step k is start + k*step <= end: counted, so the last step never wraps past INT64_MAX */
	int64_t steps = span / step_ms + 1;
	for (int64_t k = 0; !rc && k < steps; k++) {
		int64_t t = start_ms + k * step_ms;
		arena_reset(&ev.tmp);
		struct val v;
		rc = pqe_eval(&ev, e, t, &v);
		if (rc)
			break;
		if (v.type == PQ_T_SCALAR) {
			rc = acc_add(&ev, no_labels, 0, 0, t, v.s);
			continue;
		}
		for (size_t i = 0; i < v.v.n && !rc; i++)
			rc = acc_add(&ev, v.v.e[i].l, v.v.e[i].n, v.v.e[i].sid, t, v.v.e[i].v);
	}
	if (!rc)
		rc = acc_finish(&ev, out, true);
	return ev_end(&ev, rc);
}
