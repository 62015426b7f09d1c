/*
 * Internals shared by the two halves of the PromQL evaluator:
 * promql_eval.c (fetching, label sets, aggregation, binary operators, the
 * result accumulator and the entry points) and promql_eval_func.c (range
 * and instant functions, histogram_quantile, label_replace). Nothing
 * outside those two files includes this.
 */
#ifndef OODA_PROMQL_EVAL_IMPL_H
#define OODA_PROMQL_EVAL_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"
#include "query/promql_impl.h"

/* One element of an instant vector: t is the sample's own time for raw
 * selector output (what timestamp() reports), else the evaluation time. */
struct el {
	const struct promql_label *l;
	uint32_t n;
	uint32_t sid; /* 0, or a stable id of the label set l (see acc_add) */
	double v;
	int64_t t;
};

struct vec {
	struct el *e;
	size_t n, cap;
};

struct val {
	enum pq_type type;
	double s;
	const char *str;
	struct vec v;
};

struct fser {
	struct promql_label *l, *nl; /* nl: without __name__ */
	uint32_t n, nn;
	struct promql_sample *s;
	uint32_t ns;
	uint32_t *resets; /* range selectors: resets[i] = drops in s[1..i] */
	uint32_t sid; /* sid of l; sid + 1 is the sid of nl */
	uint32_t lo, hi; /* window cursor of the last step */
	int64_t c_start, c_end;
};

struct fetched {
	struct fser *ser;
	size_t n;
};

struct lslot {
	uint64_t h;
	const char *k;
	uint32_t klen;
	uint32_t idx;
};

struct lmap {
	struct lslot *s;
	size_t cap, n;
	struct arena *a;
};

/* A series of the result being built, samples growing by doubling. */
struct aser {
	const struct promql_label *l;
	uint32_t n;
	struct promql_sample *s;
	uint32_t ns, cap;
};

struct ev {
	const struct promql_source *src;
	struct arena *a; /* result and fetched data */
	struct arena tmp; /* reset every step */
	struct buf *err;
	struct buf key; /* scratch for label keys */
	int64_t lookback;
	int64_t q_start, q_end; /* the query's start() and end() for the @ modifier */
	uint64_t subq_budget; /* inner steps subqueries may still evaluate */
	size_t max_series;
	struct fetched *sel;
	uint32_t n_sid; /* stable label-set ids handed out */
	uint32_t *sid_aser; /* sid -> result series index + 1 (0 = unknown) */
	/* result accumulator */
	struct lmap acc;
	struct aser *aser;
	size_t n_aser, cap_aser;
};

/* The label set of a scalar turned into a vector element: no labels. */
static const struct promql_label no_labels[1];

/* Defined in promql_eval.c (each as its comment there says); the
 * negative returns are OODA_E* codes with ev->err set. */
int pqe_drop_name(struct ev *ev, struct el *e);
int pqe_eval(struct ev *ev, const struct promql_expr *e, int64_t t, struct val *out);
int pqe_filter_labels(struct ev *ev, const struct promql_label *l, uint32_t n, bool keep,
			 const char **list, uint32_t nlist, bool drop_name,
			 const struct promql_label **out, uint32_t *nout);
void pqe_key_of(struct ev *ev, const struct promql_label *l, uint32_t n);
int pqe_label_cmp(const void *a, const void *b);
const char *pqe_lget(const struct promql_label *l, uint32_t n, const char *name);
int pqe_lmap_get(struct lmap *m, const char *k, size_t klen, uint32_t idx, uint32_t *out, bool *found);
int pqe_lmap_init(struct lmap *m, struct arena *a, size_t hint);
int pqe_set_label(struct ev *ev, const struct promql_label *l, uint32_t n, const char *name,
		     const char *value, const struct promql_label **out, uint32_t *nout);
void *pqe_talloc(struct ev *ev, size_t n);
int pqe_vpush(struct ev *ev, struct vec *v, struct el e);
int pqe_vreserve(struct ev *ev, struct vec *v, size_t n);
void pqe_window(struct fser *fs, int64_t start, int64_t end, uint32_t *lo, uint32_t *hi);
int64_t pqe_at(const struct ev *ev, const struct promql_expr *e, int64_t t);
int pqe_matrix(struct ev *ev, const struct promql_expr *e, int64_t t, struct fetched *out,
	       int64_t *start, int64_t *end);
/* Defined in promql_eval_func.c. */
int pqe_eval_call(struct ev *ev, const struct promql_expr *e, int64_t t, struct val *out);
double pqe_quantile(double q, double *v, size_t n);

#endif
