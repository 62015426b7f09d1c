/*
 * PromQL functions for the evaluator in promql_eval.c: the range functions
 * over a selector's window (rate, increase, *_over_time, with Prometheus'
 * extrapolation and counter resets), histogram_quantile over le buckets,
 * label_replace, and the instant-vector functions (abs, clamp, timestamp,
 * absent, ...), all called through pqe_eval_call for one step.
 */
#include <stdarg.h>
#include <ctype.h>
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "core/time.h"
#include "query/promql_eval_impl.h"

/* ---- range functions ---- */

static double go_max(double a, double b)
{
	return isnan(a) || isnan(b) ? NAN : (a > b ? a : b);
}

static double go_min(double a, double b)
{
	return isnan(a) || isnan(b) ? NAN : (a < b ? a : b);
}

static int dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	if (isnan(x))
		return isnan(y) ? 0 : -1;
	if (isnan(y))
		return 1;
	return x < y ? -1 : x > y;
}

/* φ-quantile of v[0..n) (sorted in place) with linear interpolation. */
double pqe_quantile(double q, double *v, size_t n)
{
	if (n == 0 || isnan(q))
		return NAN;
	if (q < 0)
		return -INFINITY;
	if (q > 1)
		return INFINITY;
	qsort(v, n, sizeof(*v), dcmp);
	double rank = q * (double)(n - 1);
	size_t lo = (size_t)floor(rank);
	size_t hi = lo + 1 < n ? lo + 1 : n - 1;
	double w = rank - floor(rank);
	return v[lo] * (1 - w) + v[hi] * w;
}

/* resets: the series' drop counts at s[0] and s[n-1] (equal: no reset). */
static bool extrapolated(const struct promql_sample *s, uint32_t n, const uint32_t *resets,
			 int64_t range_start, int64_t range_end, int64_t range_ms, bool counter, bool rate,
			 double *out)
{
	if (n < 2)
		return false;
	double result = s[n - 1].v - s[0].v;
	if (counter && (resets[0] != resets[1] || s[0].v < 0)) {
		double prev = 0;
		for (uint32_t i = 0; i < n; i++) {
			if (s[i].v < prev)
				result += prev;
			prev = s[i].v;
		}
	}
	double to_start = (double)(s[0].t_ms - range_start) / 1000;
	double to_end = (double)(range_end - s[n - 1].t_ms) / 1000;
	double sampled = (double)(s[n - 1].t_ms - s[0].t_ms) / 1000;
	double avg = sampled / (double)(n - 1);
	double threshold = avg * 1.1;
	if (to_start >= threshold)
		to_start = avg / 2;
	if (counter && result > 0 && s[0].v >= 0) {
		/* a counter cannot go below zero: do not extrapolate past it */
		double to_zero = sampled * (s[0].v / result);
		if (to_zero < to_start)
			to_start = to_zero;
	}
	if (to_end >= threshold)
		to_end = avg / 2;
	double factor = (sampled + to_start + to_end) / sampled;
	if (rate)
		factor /= (double)range_ms / 1000;
	*out = result * factor;
	return true;
}

int pqe_eval(struct ev *ev, const struct promql_expr *e, int64_t t, struct val *out);

static int fail_inval(struct ev *ev, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail_inval(struct ev *ev, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	buf_vaddf(ev->err, fmt, ap);
	va_end(ap);
	return OODA_EINVAL;
}

static int eval_scalar(struct ev *ev, const struct promql_expr *e, int64_t t, double *out)
{
	struct val v;
	int rc = pqe_eval(ev, e, t, &v);
	*out = v.s;
	return rc;
}

/*
 * Least-squares line through the samples, x in seconds from intercept_t:
 * its slope and its value at intercept_t. A constant series has slope 0.
 */
static void linear_regression(const struct promql_sample *s, uint32_t n, int64_t intercept_t,
			      double *slope, double *intercept)
{
	bool const_y = true;
	double sx = 0, sy = 0, sxy = 0, sx2 = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (i && s[i].v != s[0].v)
			const_y = false;
		double x = (double)(s[i].t_ms - intercept_t) / 1000;
		sx += x;
		sy += s[i].v;
		sxy += x * s[i].v;
		sx2 += x * x;
	}
	if (const_y) {
		*slope = isinf(s[0].v) ? NAN : 0;
		*intercept = isinf(s[0].v) ? NAN : s[0].v;
		return;
	}
	double cov = sxy - sx * sy / n, var = sx2 - sx * sx / n;
	*slope = cov / var;
	*intercept = sy / n - *slope * sx / n;
}

/* Holt's double exponential smoothing: the last smoothed value. */
static double holt_winters(const struct promql_sample *s, uint32_t n, double sf, double tf)
{
	double s0 = 0, s1 = s[0].v, b = s[1].v - s[0].v;
	for (uint32_t i = 1; i < n; i++) {
		if (i > 1)
			b = tf * (s1 - s0) + (1 - tf) * b;
		double next = sf * s[i].v + (1 - sf) * (s1 + b);
		s0 = s1;
		s1 = next;
	}
	return s1;
}

static int eval_absent(struct ev *ev, const struct promql_expr *s, int64_t t, struct val *out);

static int eval_range_fn(struct ev *ev, const struct promql_expr *e, int64_t t, struct val *out)
{
	enum pq_fn id = e->fn->id;
	const struct promql_expr *ms = id == FN_QUANTILE_OT ? e->args[1] : e->args[0];
	double q = 0, q2 = 0;
	int rc = 0;
	if (id == FN_QUANTILE_OT)
		rc = eval_scalar(ev, e->args[0], t, &q);
	else if (id == FN_PREDICT_LINEAR || id == FN_HOLT_WINTERS)
		rc = eval_scalar(ev, e->args[1], t, &q);
	if (!rc && id == FN_HOLT_WINTERS) {
		rc = eval_scalar(ev, e->args[2], t, &q2);
		if (!rc && !(q > 0 && q < 1))
			return fail_inval(ev, "invalid smoothing factor. Expected: 0 < sf < 1, got: %g", q);
		if (!rc && !(q2 > 0 && q2 < 1))
			return fail_inval(ev, "invalid trend factor. Expected: 0 < tf < 1, got: %g", q2);
	}
	if (rc)
		return rc;
	struct fetched fm;
	int64_t start, end;
	if ((rc = pqe_matrix(ev, ms, t, &fm, &start, &end)))
		return rc;
	const struct fetched *f = &fm;
	out->type = PQ_T_VECTOR;
	if (id == FN_ABSENT_OT) {
		for (size_t i = 0; i < f->n; i++) {
			uint32_t lo, hi;
			pqe_window(&f->ser[i], start, end, &lo, &hi);
			if (hi > lo)
				return 0;
		}
		return eval_absent(ev, ms, t, out);
	}
	if ((rc = pqe_vreserve(ev, &out->v, f->n)))
		return rc;
	for (size_t i = 0; i < f->n; i++) {
		struct fser *fs = &f->ser[i];
		uint32_t lo, hi;
		pqe_window(fs, start, end, &lo, &hi);
		const struct promql_sample *s = fs->s + lo;
		uint32_t n = hi - lo;
		if (n == 0)
			continue;
		double r = 0;
		bool ok = true;
		const uint32_t rs[2] = { fs->resets[lo], fs->resets[hi - 1] };
		switch (e->fn->id) {
		case FN_RATE: ok = extrapolated(s, n, rs, start, end, ms->range_ms, true, true, &r); break;
		case FN_INCREASE: ok = extrapolated(s, n, rs, start, end, ms->range_ms, true, false, &r); break;
		case FN_DELTA: ok = extrapolated(s, n, rs, start, end, ms->range_ms, false, false, &r); break;
		case FN_IRATE:
		case FN_IDELTA: {
			if (n < 2) {
				ok = false;
				break;
			}
			const struct promql_sample *a = &s[n - 2], *b = &s[n - 1];
			if (e->fn->id == FN_IDELTA) {
				r = b->v - a->v;
				break;
			}
			if (b->t_ms == a->t_ms) {
				ok = false;
				break;
			}
			r = b->v < a->v ? b->v : b->v - a->v;
			r /= (double)(b->t_ms - a->t_ms) / 1000;
			break;
		}
		case FN_AVG_OT:
		case FN_SUM_OT: {
			double sum = 0, c = 0;
			for (uint32_t k = 0; k < n; k++) { /* Kahan summation */
				double y = s[k].v - c, tt = sum + y;
				c = (tt - sum) - y;
				sum = tt;
			}
			r = e->fn->id == FN_SUM_OT ? sum : sum / n;
			if (e->fn->id == FN_AVG_OT && isinf(sum)) {
				double mean = 0;
				for (uint32_t k = 0; k < n; k++)
					mean += (s[k].v - mean) / (k + 1);
				r = mean;
			}
			break;
		}
		case FN_MIN_OT:
		case FN_MAX_OT:
			r = s[0].v;
			for (uint32_t k = 1; k < n; k++) {
				double v = s[k].v;
				if (e->fn->id == FN_MAX_OT ? (v > r || isnan(r)) : (v < r || isnan(r)))
					r = v;
			}
			break;
		case FN_COUNT_OT: r = n; break;
		case FN_PRESENT_OT: r = 1; break;
		case FN_RESETS: r = rs[1] - rs[0]; break;
		case FN_CHANGES:
			for (uint32_t k = 1; k < n; k++)
				if (s[k].v != s[k - 1].v && !(isnan(s[k].v) && isnan(s[k - 1].v)))
					r++;
			break;
		case FN_DERIV:
		case FN_PREDICT_LINEAR: {
			if (n < 2) {
				ok = false;
				break;
			}
			double slope, icept;
			linear_regression(s, n, id == FN_DERIV ? s[0].t_ms : t, &slope, &icept);
			r = id == FN_DERIV ? slope : slope * q + icept;
			break;
		}
		case FN_HOLT_WINTERS:
			ok = n >= 2;
			if (ok)
				r = holt_winters(s, n, q, q2);
			break;
		case FN_LAST_OT: r = s[n - 1].v; break;
		case FN_QUANTILE_OT: {
			double *v = pqe_talloc(ev, n * sizeof(*v));
			if (!v)
				return OODA_ENOMEM;
			for (uint32_t k = 0; k < n; k++)
				v[k] = s[k].v;
			r = pqe_quantile(q, v, n);
			break;
		}
		case FN_STDDEV_OT:
		case FN_STDVAR_OT: {
			double mean = 0, m2 = 0;
			for (uint32_t k = 0; k < n; k++) {
				double d = s[k].v - mean;
				mean += d / (k + 1);
				m2 += d * (s[k].v - mean);
			}
			r = m2 / n;
			if (e->fn->id == FN_STDDEV_OT)
				r = sqrt(r);
			break;
		}
		default:
			ok = false;
		}
		if (!ok)
			continue;
		bool keep_name = e->fn->id == FN_LAST_OT;
		uint32_t sid = fs->sid ? (keep_name ? fs->sid : fs->sid + 1) : 0;
		out->v.e[out->v.n++] = (struct el){ keep_name ? fs->l : fs->nl, keep_name ? fs->n : fs->nn,
						    sid, r, t };
	}
	return 0;
}

/* ---- histogram_quantile ---- */

struct bucket {
	double le, count;
};

static int bucket_cmp(const void *a, const void *b)
{
	const struct bucket *x = a, *y = b;
	return x->le < y->le ? -1 : x->le > y->le;
}

static double bucket_quantile(double q, struct bucket *b, size_t n)
{
	if (isnan(q))
		return NAN;
	if (q < 0)
		return -INFINITY;
	if (q > 1)
		return INFINITY;
	if (n > 1) /* no buckets: b may be NULL, which qsort must not be given */
		qsort(b, n, sizeof(*b), bucket_cmp);
	if (n == 0 || !(isinf(b[n - 1].le) && b[n - 1].le > 0))
		return NAN;
	size_t k = 0; /* merge buckets with the same bound */
	for (size_t i = 0; i < n; i++) {
		if (k && b[k - 1].le == b[i].le)
			b[k - 1].count += b[i].count;
		else
			b[k++] = b[i];
	}
	n = k;
	for (size_t i = 1; i < n; i++) /* counts are cumulative: never decrease */
		if (b[i].count < b[i - 1].count)
			b[i].count = b[i - 1].count;
	if (n < 2)
		return NAN;
	double obs = b[n - 1].count;
	if (obs == 0 || isnan(obs))
		return NAN;
	double rank = q * obs;
	size_t i = 0;
	while (i < n - 1 && !(b[i].count >= rank))
		i++;
	if (i == n - 1)
		return b[n - 2].le;
	if (i == 0 && b[0].le <= 0)
		return b[0].le;
	double start = 0, end = b[i].le, count = b[i].count;
	if (i > 0) {
		start = b[i - 1].le;
		count -= b[i - 1].count;
		rank -= b[i - 1].count;
	}
	return start + (end - start) * (rank / count);
}

static int eval_histogram_quantile(struct ev *ev, double q, struct vec *in, int64_t t, struct val *out)
{
	struct lmap m;
	int rc = pqe_lmap_init(&m, &ev->tmp, in->n);
	if (rc)
		return rc;
	struct grp {
		const struct promql_label *l;
		uint32_t n, nb, cap;
		struct bucket *b;
	} *g = pqe_talloc(ev, (in->n + 1) * sizeof(*g));
	if (!g)
		return OODA_ENOMEM;
	uint32_t ng = 0;
	static const char *le_list[] = { "le" };
	for (size_t i = 0; i < in->n; i++) {
		const char *le = pqe_lget(in->e[i].l, in->e[i].n, "le");
		if (!le)
			continue;
		char *endp;
		double bound = strtod(le, &endp);
		if (endp == le || *endp)
			continue;
		const struct promql_label *l;
		uint32_t n;
		if ((rc = pqe_filter_labels(ev, in->e[i].l, in->e[i].n, false, le_list, 1, true, &l, &n)))
			return rc;
		pqe_key_of(ev, l, n);
		uint32_t idx;
		bool found;
		if ((rc = pqe_lmap_get(&m, ev->key.data, ev->key.len, ng, &idx, &found)))
			return rc;
		if (!found)
			g[ng++] = (struct grp){ .l = l, .n = n };
		struct grp *gr = &g[idx];
		if (gr->nb == gr->cap) {
			uint32_t nc = gr->cap ? gr->cap * 2 : 16;
			struct bucket *nb = pqe_talloc(ev, nc * sizeof(*nb));
			if (!nb)
				return OODA_ENOMEM;
			if (gr->nb)
				memcpy(nb, gr->b, gr->nb * sizeof(*nb));
			gr->b = nb;
			gr->cap = nc;
		}
		gr->b[gr->nb++] = (struct bucket){ bound, in->e[i].v };
	}
	out->type = PQ_T_VECTOR;
	for (uint32_t i = 0; i < ng; i++)
		if ((rc = pqe_vpush(ev, &out->v, (struct el){ g[i].l, g[i].n, 0, bucket_quantile(q, g[i].b, g[i].nb), t })))
			return rc;
	return 0;
}

/* ---- label_replace ---- */

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* Expands $1, ${1}, $name, ${name} and $$ in tmpl from the match. */
static void expand(struct buf *b, const char *tmpl, const pcre2_code *code, const char *subj,
		   pcre2_match_data *md, int nmatch)
{
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
	for (const char *p = tmpl; *p;) {
		if (*p != '$') {
			buf_addch(b, *p++);
			continue;
		}
		p++;
		if (*p == '$') {
			buf_addch(b, '$');
			p++;
			continue;
		}
		bool brace = *p == '{';
		const char *s = p + brace, *q = s;
		while (*q && (isalnum((unsigned char)*q) || *q == '_'))
			q++;
		if (q == s || (brace && *q != '}')) {
			buf_addch(b, '$'); /* not a reference: keep it literally */
			continue;
		}
		size_t len = (size_t)(q - s);
		p = q + brace;
		int num = -1;
		bool digits = true;
		for (size_t i = 0; i < len; i++)
			if (!isdigit((unsigned char)s[i]))
				digits = false;
		if (digits) {
			num = len < 6 ? atoi(s) : -1;
		} else {
			char name[64];
			if (len < sizeof(name)) {
				memcpy(name, s, len);
				name[len] = 0;
				num = pcre2_substring_number_from_name(code, (PCRE2_SPTR)name);
			}
		}
		if (num >= 0 && num < nmatch && ov[2 * num] != PCRE2_UNSET)
			buf_add(b, subj + ov[2 * num], ov[2 * num + 1] - ov[2 * num]);
	}
}

static int eval_label_replace(struct ev *ev, const struct promql_expr *e, struct vec *in, struct val *out)
{
	const char *dst = e->args[1]->str, *repl = e->args[2]->str, *src = e->args[3]->str;
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(e->re, NULL);
	if (!md)
		return OODA_ENOMEM;
	int rc = 0;
	struct buf b = BUF_INIT;
	out->type = PQ_T_VECTOR;
	for (size_t i = 0; i < in->n && !rc; i++) {
		struct el x = in->e[i];
		const char *sv = pqe_lget(x.l, x.n, src);
		if (!sv)
			sv = "";
		int m = pcre2_match(e->re, (PCRE2_SPTR)sv, strlen(sv), 0, 0, md, NULL);
		if (m > 0) {
			buf_reset(&b);
			expand(&b, repl, e->re, sv, md, m);
			char *v = arena_strndup(&ev->tmp, b.data, b.len);
			if (!v)
				rc = OODA_ENOMEM;
			else
				rc = pqe_set_label(ev, x.l, x.n, dst, v, &x.l, &x.n);
			x.sid = 0;
		}
		if (!rc)
			rc = pqe_vpush(ev, &out->v, x);
	}
	buf_release(&b);
	pcre2_match_data_free(md);
	return rc;
}

/* ---- absent, label_join, sort ---- */

/* The one-element answer of absent(): the labels of s's equality matchers
 * (each named once, not __name__) when s is a selector, else none. */
static int eval_absent(struct ev *ev, const struct promql_expr *s, int64_t t, struct val *out)
{
	struct promql_label *l = NULL;
	uint32_t n = 0;
	if (s->kind == PQ_SEL) {
		l = pqe_talloc(ev, (s->n_m + 1) * sizeof(*l));
		if (!l)
			return OODA_ENOMEM;
		for (uint32_t i = 0; i < s->n_m; i++) {
			const struct promql_matcher *m = &s->m[i];
			if (m->op != PROMQL_EQ || strcmp(m->name, "__name__") == 0)
				continue;
			bool dup = false;
			for (uint32_t k = 0; k < s->n_m; k++)
				if (k != i && s->m[k].op == PROMQL_EQ && strcmp(s->m[k].name, m->name) == 0)
					dup = true;
			if (!dup && m->value[0])
				l[n++] = (struct promql_label){ m->name, m->value };
		}
		if (n > 1)
			qsort(l, n, sizeof(*l), pqe_label_cmp);
	}
	out->type = PQ_T_VECTOR;
	return pqe_vpush(ev, &out->v, (struct el){ l ? l : no_labels, n, 0, 1, t });
}

static int eval_label_join(struct ev *ev, const struct promql_expr *e, struct vec *in, struct val *out)
{
	const char *dst = e->args[1]->str, *sep = e->args[2]->str;
	struct buf b = BUF_INIT;
	int rc = 0;
	out->type = PQ_T_VECTOR;
	for (size_t i = 0; i < in->n && !rc; i++) {
		struct el x = in->e[i];
		buf_reset(&b);
		for (uint32_t k = 3; k < e->n_args; k++) {
			const char *v = pqe_lget(x.l, x.n, e->args[k]->str);
			if (k > 3)
				buf_adds(&b, sep);
			if (v)
				buf_adds(&b, v);
		}
		char *v = arena_strndup(&ev->tmp, b.len ? b.data : "", b.len);
		if (!v)
			rc = OODA_ENOMEM;
		else
			rc = pqe_set_label(ev, x.l, x.n, dst, v, &x.l, &x.n);
		x.sid = 0;
		if (!rc)
			rc = pqe_vpush(ev, &out->v, x);
	}
	buf_release(&b);
	return rc;
}

/* sort() and sort_desc(): by value, NaN last either way. */
static int el_sort_asc(const void *a, const void *b)
{
	double x = ((const struct el *)a)->v, y = ((const struct el *)b)->v;
	if (isnan(x) || isnan(y))
		return isnan(x) - isnan(y);
	return x < y ? -1 : x > y;
}

static int el_sort_desc(const void *a, const void *b)
{
	double x = ((const struct el *)a)->v, y = ((const struct el *)b)->v;
	if (isnan(x) || isnan(y))
		return isnan(x) - isnan(y);
	return x > y ? -1 : x < y;
}

/* ---- calls ---- */

int pqe_eval_call(struct ev *ev, const struct promql_expr *e, int64_t t, struct val *out)
{
	enum pq_fn id = e->fn->id;
	if (id <= FN_ABSENT_OT)
		return eval_range_fn(ev, e, t, out);
	int rc;
	out->type = e->fn->ret;
	if (id == FN_TIME) {
		out->s = (double)t / 1000;
		return 0;
	}
	if (id == FN_VECTOR) {
		double s;
		if ((rc = eval_scalar(ev, e->args[0], t, &s)))
			return rc;
		return pqe_vpush(ev, &out->v, (struct el){ no_labels, 0, 0, s, t });
	}
	double a1 = 0, a2 = 0;
	struct val in;
	if (id == FN_HISTOGRAM_QUANTILE) {
		if ((rc = eval_scalar(ev, e->args[0], t, &a1)) || (rc = pqe_eval(ev, e->args[1], t, &in)))
			return rc;
		return eval_histogram_quantile(ev, a1, &in.v, t, out);
	}
	if ((rc = pqe_eval(ev, e->args[0], t, &in)))
		return rc;
	if (e->n_args > 1 && e->fn->args[1] == PQ_T_SCALAR && (rc = eval_scalar(ev, e->args[1], t, &a1)))
		return rc;
	if (e->n_args > 2 && e->fn->args[2] == PQ_T_SCALAR && (rc = eval_scalar(ev, e->args[2], t, &a2)))
		return rc;
	switch (id) {
	case FN_SCALAR:
		out->s = in.v.n == 1 ? in.v.e[0].v : NAN;
		return 0;
	case FN_LABEL_REPLACE:
		return eval_label_replace(ev, e, &in.v, out);
	case FN_ABSENT:
		return in.v.n ? 0 : eval_absent(ev, e->args[0], t, out);
	case FN_LABEL_JOIN:
		return eval_label_join(ev, e, &in.v, out);
	case FN_SORT:
	case FN_SORT_DESC:
		out->v = in.v;
		if (out->v.n > 1)
			qsort(out->v.e, out->v.n, sizeof(*out->v.e), id == FN_SORT ? el_sort_asc : el_sort_desc);
		return 0;
	default:
		break;
	}
	if (id == FN_CLAMP && a2 < a1)
		return 0;
	for (size_t i = 0; i < in.v.n; i++) {
		struct el x = in.v.e[i];
		double v = x.v;
		switch (id) {
		case FN_ABS: v = fabs(v); break;
		case FN_CEIL: v = ceil(v); break;
		case FN_FLOOR: v = floor(v); break;
		case FN_ROUND: {
			double to = e->n_args > 1 ? a1 : 1;
			double inv = 1.0 / to;
			v = floor(v * inv + 0.5) / inv;
			break;
		}
		case FN_SQRT: v = sqrt(v); break;
		case FN_EXP: v = exp(v); break;
		case FN_LN: v = log(v); break;
		case FN_LOG2: v = log2(v); break;
		case FN_LOG10: v = log10(v); break;
		case FN_CLAMP: v = go_max(a1, go_min(a2, v)); break;
		case FN_CLAMP_MIN: v = go_max(a1, v); break;
		case FN_CLAMP_MAX: v = go_min(a1, v); break;
		case FN_TIMESTAMP: v = (double)x.t / 1000; break;
		default: break;
		}
		x.v = v;
		x.t = t;
		if ((rc = pqe_drop_name(ev, &x)) || (rc = pqe_vpush(ev, &out->v, x)))
			return rc;
	}
	return 0;
}
