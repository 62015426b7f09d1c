/*
 * Canary statistics (see canary.h). U is computed by ranking the pooled
 * samples once (O(n log n)), with average ranks for ties.
 */
#include "change/canary.h"

#include <math.h>

struct obs {
	double v;
	int side; /* 0 base, 1 canary */
};

static int cmp_obs(const void *a, const void *b)
{
	double x = ((const struct obs *)a)->v, y = ((const struct obs *)b)->v;
	return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Quantile q of sorted v[0..n) by linear interpolation. */
static double quantile(const double *v, size_t n, double q)
{
	if (!n)
		return NAN;
	double pos = q * (double)(n - 1);
	size_t lo = (size_t)pos;
	double frac = pos - (double)lo;
	return lo + 1 < n ? v[lo] * (1 - frac) + v[lo + 1] * frac : v[lo];
}

/* Upper tail of the standard normal. */
static double norm_sf(double z)
{
	return 0.5 * erfc(z / sqrt(2.0));
}

void canary_analyze(const struct canary_config *cfg_in, const struct canary_side *base, const struct canary_side *can,
		    struct canary_result *r)
{
	struct canary_config cfg = cfg_in ? *cfg_in : (struct canary_config){ 0 };
	if (!cfg.min_samples)
		cfg.min_samples = 50;
	if (cfg.alpha <= 0)
		cfg.alpha = 0.01;
	if (cfg.max_p99_increase <= 0)
		cfg.max_p99_increase = 0.2;
	if (cfg.max_median_increase <= 0)
		cfg.max_median_increase = 0.2;
	if (cfg.max_error_increase <= 0)
		cfg.max_error_increase = 0.01;
	memset(r, 0, sizeof(*r));
	r->n_base = base->n;
	r->n_canary = can->n;
	r->latency_p = r->error_p = 1;
	r->base_error_ratio = base->n ? (double)base->errors / (double)base->n : 0;
	r->canary_error_ratio = can->n ? (double)can->errors / (double)can->n : 0;

	double *bs = xmalloc((base->n + 1) * sizeof(double)), *cs = xmalloc((can->n + 1) * sizeof(double));
	if (base->n)
		memcpy(bs, base->latency_ms, base->n * sizeof(double));
	if (can->n)
		memcpy(cs, can->latency_ms, can->n * sizeof(double));
	qsort(bs, base->n, sizeof(double), cmp_double);
	qsort(cs, can->n, sizeof(double), cmp_double);
	r->base_median = quantile(bs, base->n, 0.5);
	r->canary_median = quantile(cs, can->n, 0.5);
	r->base_p99 = quantile(bs, base->n, 0.99);
	r->canary_p99 = quantile(cs, can->n, 0.99);

	if (base->n < cfg.min_samples || can->n < cfg.min_samples) {
		r->verdict = CANARY_INCONCLUSIVE;
		snprintf(r->reason, sizeof(r->reason),
			 "too little data: %zu baseline and %zu canary requests, %zu needed on each side", base->n, can->n,
			 cfg.min_samples);
		goto out;
	}

	/* Mann–Whitney U with average ranks and tie correction */
	size_t n1 = base->n, n2 = can->n, n = n1 + n2;
	struct obs *o = xmalloc(n * sizeof(*o));
	for (size_t i = 0; i < n1; i++)
		o[i] = (struct obs){ base->latency_ms[i], 0 };
	for (size_t i = 0; i < n2; i++)
		o[n1 + i] = (struct obs){ can->latency_ms[i], 1 };
	qsort(o, n, sizeof(*o), cmp_obs);
	double rank_sum_canary = 0, tie_term = 0;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && o[j + 1].v == o[i].v)
			j++;
		double avg = ((double)i + (double)j) / 2.0 + 1.0;
		double t = (double)(j - i + 1);
		tie_term += t * t * t - t;
		for (size_t k = i; k <= j; k++)
			if (o[k].side)
				rank_sum_canary += avg;
		i = j + 1;
	}
	free(o);
	double u = rank_sum_canary - (double)n2 * ((double)n2 + 1) / 2.0;
	double mu = (double)n1 * (double)n2 / 2.0;
	double var = (double)n1 * (double)n2 / 12.0 * (((double)n + 1) - tie_term / ((double)n * ((double)n - 1)));
	r->u = u;
	r->latency_p = var > 0 ? norm_sf((u - mu - 0.5) / sqrt(var)) : 1; /* continuity-corrected */

	/* errors: one-sided two-proportion z-test */
	double p1 = r->base_error_ratio, p2 = r->canary_error_ratio;
	double pool = (double)(base->errors + can->errors) / (double)n;
	double se = sqrt(pool * (1 - pool) * (1.0 / (double)n1 + 1.0 / (double)n2));
	r->error_p = se > 0 ? norm_sf((p2 - p1) / se) : (p2 > p1 ? 0 : 1);

	double p99_rel = r->base_p99 > 0 ? r->canary_p99 / r->base_p99 - 1 : 0;
	double med_rel = r->base_median > 0 ? r->canary_median / r->base_median - 1 : 0;
	bool lat_bad = r->latency_p < cfg.alpha && (p99_rel > cfg.max_p99_increase || med_rel > cfg.max_median_increase);
	bool err_bad = r->error_p < cfg.alpha && p2 - p1 > cfg.max_error_increase;
	if (err_bad) {
		r->verdict = CANARY_FAIL;
		snprintf(r->reason, sizeof(r->reason), "error ratio rose from %.2f%% to %.2f%% (p=%.2g)", 100 * p1, 100 * p2,
			 r->error_p);
	} else if (lat_bad) {
		r->verdict = CANARY_FAIL;
		snprintf(r->reason, sizeof(r->reason), "latency rose: median %.1f→%.1f ms, p99 %.1f→%.1f ms (p=%.2g)",
			 r->base_median, r->canary_median, r->base_p99, r->canary_p99, r->latency_p);
	} else {
		r->verdict = CANARY_PASS;
		snprintf(r->reason, sizeof(r->reason),
			 "no significant regression: errors %.2f%%→%.2f%%, p99 %.1f→%.1f ms", 100 * p1, 100 * p2,
			 r->base_p99, r->canary_p99);
	}
out:
	free(bs);
	free(cs);
}

const char *canary_verdict_name(enum canary_verdict v)
{
	return v == CANARY_PASS ? "pass" : v == CANARY_FAIL ? "fail" : "inconclusive";
}

static void num(struct buf *b, const char *name, double v)
{
	if (isfinite(v))
		buf_addf(b, ",\"%s\":%.6g", name, v);
	else
		buf_addf(b, ",\"%s\":null", name);
}

void canary_result_json(const struct canary_result *r, struct buf *b)
{
	buf_addf(b, "{\"verdict\":\"%s\",\"reason\":", canary_verdict_name(r->verdict));
	buf_add_json_str(b, r->reason, strlen(r->reason));
	buf_addf(b, ",\"baseline_requests\":%zu,\"canary_requests\":%zu", r->n_base, r->n_canary);
	num(b, "baseline_median_ms", r->base_median);
	num(b, "canary_median_ms", r->canary_median);
	num(b, "baseline_p99_ms", r->base_p99);
	num(b, "canary_p99_ms", r->canary_p99);
	num(b, "baseline_error_ratio", r->base_error_ratio);
	num(b, "canary_error_ratio", r->canary_error_ratio);
	num(b, "latency_p_value", r->latency_p);
	num(b, "error_p_value", r->error_p);
	num(b, "mann_whitney_u", r->u);
	buf_addch(b, '}');
}
