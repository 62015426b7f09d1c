/*
 * The PromQL subset ooda serves on /api/v1/query and /api/v1/query_range so
 * that Grafana's Prometheus data source can read the telemetry store. It is
 * pure: promql_parse() turns text into an expression tree, the evaluator
 * reads series through a `struct promql_source` (the storage side plugs in
 * there) and promql_value_json() renders the Prometheus API "data" member.
 * All memory comes from the caller's arena; nothing here does I/O.
 */
#ifndef OODA_PROMQL_H
#define OODA_PROMQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"

#define PROMQL_MAX_QUERY_LEN (64 * 1024)
#define PROMQL_MAX_DEPTH 128
#define PROMQL_DEFAULT_MAX_SERIES 100000
#define PROMQL_MAX_POINTS 11000
#define PROMQL_DEFAULT_LOOKBACK_MS (5 * 60 * 1000)
/* A subquery without a step (`x[1h:]`) evaluates every minute, as Prometheus
 * does with its default evaluation_interval. */
#define PROMQL_SUBQUERY_STEP_MS (60 * 1000)
/* Points one subquery may produce per series and evaluation step. */
#define PROMQL_MAX_SUBQUERY_POINTS 11000
/* Inner evaluation steps all subqueries of one query may take together
 * (a subquery runs again at every step of a range query). */
#define PROMQL_MAX_SUBQUERY_STEPS 1000000
/* The bit pattern of a staleness marker sample value (a signalling NaN). */
#define PROMQL_STALE_NAN_BITS UINT64_C(0x7ff0000000000002)

struct promql_label {
	const char *name, *value;
};

struct promql_sample {
	int64_t t_ms;
	double v;
};

struct promql_series {
	struct promql_label *labels; /* sorted by name (bytewise), includes __name__ */
	uint32_t n_labels;
	struct promql_sample *samples; /* time-ascending */
	uint32_t n_samples;
};

enum promql_match_op { PROMQL_EQ, PROMQL_NE, PROMQL_RE, PROMQL_NRE };

struct promql_matcher {
	const char *name, *value;
	enum promql_match_op op;
	const void *re; /* compiled, fully anchored regex for RE/NRE; internal */
};

/*
 * The storage side. select() returns every series matching all n matchers
 * that has samples in [from_ms, to_ms] (samples outside may be included and
 * are ignored); memory comes from a. It returns 0 or a negative OODA_E* code
 * with detail in err. Use promql_matchers_match() to apply the matchers.
 * Staleness markers (PROMQL_STALE_NAN_BITS) end a series' visibility.
 */
struct promql_source {
	int version; /* 1 */
	void *ctx;
	int (*select)(void *ctx, const struct promql_matcher *m, size_t n, int64_t from_ms,
		      int64_t to_ms, struct arena *a, struct promql_series **out, size_t *n_out,
		      struct buf *err);
	size_t max_series;   /* per selector; 0 = PROMQL_DEFAULT_MAX_SERIES */
	int64_t lookback_ms; /* 0 = PROMQL_DEFAULT_LOOKBACK_MS */
};

enum promql_value_type { PROMQL_SCALAR, PROMQL_VECTOR, PROMQL_MATRIX, PROMQL_STRING };

/*
 * A result. SCALAR and STRING: t_ms with scalar or str. VECTOR: series each
 * with exactly one sample (the evaluation time). MATRIX: series with their
 * samples, sorted by labels.
 */
struct promql_value {
	enum promql_value_type type;
	int64_t t_ms;
	double scalar;
	const char *str;
	struct promql_series *series;
	size_t n_series;
};

struct promql_expr;

/*
 * Parses q[0..len) into *out, allocated from a (compiled regexes included,
 * so nothing outlives the arena). Returns 0, OODA_EPARSE with
 * "parse error at char N: ..." in err (N is the 1-based byte offset), or
 * OODA_ELIMIT when the query is longer than PROMQL_MAX_QUERY_LEN or nests
 * deeper than PROMQL_MAX_DEPTH.
 */
int promql_parse(const char *q, size_t len, struct arena *a, struct promql_expr **out,
		 struct buf *err);

/*
 * Evaluates e at t_ms. The result and everything it points to live in a.
 * Returns 0; OODA_ELIMIT when a selector matches more than the source's
 * max_series; OODA_EINVAL for run-time errors (duplicate label sets, many-to-
 * many matches); or whatever the source's select() returned. Detail in err.
 */
int promql_eval_instant(const struct promql_expr *e, const struct promql_source *src,
			int64_t t_ms, struct arena *a, struct promql_value *out, struct buf *err);

/*
 * Evaluates e at start_ms + k*step_ms for every k with the time <= end_ms,
 * fetching each selector's data once. The result is a MATRIX in a. Returns
 * 0; OODA_EINVAL for step_ms <= 0, end before start, or an expression that
 * is not a scalar or instant vector; OODA_ELIMIT past PROMQL_MAX_POINTS
 * steps or the source's max_series; otherwise as promql_eval_instant().
 */
int promql_eval_range(const struct promql_expr *e, const struct promql_source *src,
		      int64_t start_ms, int64_t end_ms, int64_t step_ms, struct arena *a,
		      struct promql_value *out, struct buf *err);

/*
 * Appends the Prometheus API "data" member for v to out:
 * {"resultType":"vector|matrix|scalar|string","result":[...]}.
 */
void promql_value_json(const struct promql_value *v, struct buf *out);

/*
 * Appends the canonical one-line text of e (what Prometheus'
 * /api/v1/format_query answers for short queries) to out.
 */
void promql_format(const struct promql_expr *e, struct buf *out);

/*
 * Parses q and returns the matchers of its selector, for /api/v1/series
 * match[]: q must be a single instant vector selector (`up{job="a"}`).
 * Matchers live in a. Returns 0 or OODA_EPARSE / OODA_ELIMIT with err.
 */
int promql_parse_selector(const char *q, size_t len, struct arena *a,
			  struct promql_matcher **m, size_t *n, struct buf *err);

/* True when the label set (sorted or not) satisfies all n matchers; a label
 * that is absent counts as the empty string. */
bool promql_matchers_match(const struct promql_matcher *m, size_t n,
			   const struct promql_label *labels, size_t n_labels);

/* True for a staleness marker. */
bool promql_is_stale(double v);

#endif
