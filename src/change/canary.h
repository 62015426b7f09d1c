/*
 * Canary analysis: is the new version worse than the old one? A pure
 * engine — arrays in, verdict out, no I/O — used after a deploy (comparing
 * the new version's requests with the previous version running beside it,
 * or with the pre-deploy baseline) and after a rollback.
 *
 * Latency: a one-sided Mann–Whitney U test (is the canary's distribution
 * shifted up?) with the normal approximation and tie correction, plus the
 * effect sizes people act on: the ratio of medians and of p99s.
 * Errors: a one-sided two-proportion z-test and the absolute increase of
 * the error ratio. A regression needs both statistical significance (p <
 * alpha) and an effect past its threshold; too little data on either side
 * is inconclusive, never a pass.
 */
#ifndef OODA_CANARY_H
#define OODA_CANARY_H

#include <stddef.h>
#include <stdint.h>

#include <stdbool.h>

#include "core/buf.h"

struct canary_config {
	size_t min_samples;        /* per side [50] */
	double alpha;              /* significance [0.01] */
	double max_p99_increase;   /* relative, 0.2 = +20% [0.2] */
	double max_median_increase;/* relative [0.2] */
	double max_error_increase; /* absolute error ratio, 0.01 = +1 point [0.01] */
};

enum canary_verdict { CANARY_INCONCLUSIVE, CANARY_PASS, CANARY_FAIL };

struct canary_side {
	const double *latency_ms; /* one per request */
	size_t n;
	size_t errors;            /* requests that failed, of n */
};

struct canary_result {
	enum canary_verdict verdict;
	char reason[256];
	size_t n_base, n_canary;
	double base_median, canary_median, base_p99, canary_p99; /* ms */
	double base_error_ratio, canary_error_ratio;
	double latency_p, error_p;  /* one-sided p-values (1 when not computed) */
	double u;                   /* Mann–Whitney U of the canary */
};

/* Compares canary with base. The arrays are not modified (copies are sorted). */
void canary_analyze(const struct canary_config *cfg, const struct canary_side *base, const struct canary_side *canary,
		    struct canary_result *out);

const char *canary_verdict_name(enum canary_verdict v);

/* The result as a JSON object (appended to out). */
void canary_result_json(const struct canary_result *r, struct buf *out);

#endif
