/*
 * Internals shared by the PromQL parser (promql_parse.c), evaluator
 * (promql_eval.c) and JSON writer: the expression tree, the function table
 * and the regex helpers. Nothing outside src/query includes this.
 */
#ifndef OODA_PROMQL_IMPL_H
#define OODA_PROMQL_IMPL_H

#include "query/promql.h"

enum pq_type { PQ_T_SCALAR, PQ_T_VECTOR, PQ_T_MATRIX, PQ_T_STRING };

enum pq_kind { PQ_NUM, PQ_STR, PQ_SEL, PQ_CALL, PQ_AGG, PQ_BIN, PQ_NEG, PQ_SUBQ };

/* The @ modifier: none, a fixed time, or the query's start() / end(). */
enum pq_at { AT_NONE, AT_TIME, AT_START, AT_END };

enum pq_fn {
	FN_RATE, FN_IRATE, FN_INCREASE, FN_DELTA, FN_IDELTA,
	FN_AVG_OT, FN_MIN_OT, FN_MAX_OT, FN_SUM_OT, FN_COUNT_OT, FN_LAST_OT,
	FN_QUANTILE_OT, FN_STDDEV_OT, FN_STDVAR_OT, FN_PRESENT_OT,
	FN_CHANGES, FN_RESETS, FN_DERIV, FN_PREDICT_LINEAR, FN_HOLT_WINTERS,
	FN_ABSENT_OT, /* last of the functions over a range vector */
	FN_ABS, FN_CEIL, FN_FLOOR, FN_ROUND, FN_SQRT, FN_EXP, FN_LN, FN_LOG2, FN_LOG10,
	FN_CLAMP, FN_CLAMP_MIN, FN_CLAMP_MAX,
	FN_HISTOGRAM_QUANTILE, FN_SCALAR, FN_VECTOR, FN_TIME, FN_TIMESTAMP, FN_ABSENT,
	FN_LABEL_REPLACE, FN_LABEL_JOIN, FN_SORT, FN_SORT_DESC,
};

struct pq_fn_def {
	const char *name;
	enum pq_fn id;
	uint8_t min_args, max_args;
	enum pq_type args[5]; /* past the fifth argument, the fifth's type */
	enum pq_type ret;
};

enum pq_agg {
	AGG_SUM, AGG_AVG, AGG_MIN, AGG_MAX, AGG_COUNT, AGG_STDDEV, AGG_STDVAR,
	AGG_TOPK, AGG_BOTTOMK, AGG_QUANTILE, AGG_COUNT_VALUES, AGG_GROUP,
};

enum pq_binop {
	OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD, OP_POW,
	OP_EQ, OP_NE, OP_GT, OP_LT, OP_GE, OP_LE,
	OP_AND, OP_OR, OP_UNLESS,
};

enum pq_card { CARD_ONE_ONE, CARD_MANY_ONE, CARD_ONE_MANY, CARD_MANY_MANY };

struct promql_expr {
	enum pq_kind kind;
	enum pq_type type;
	uint32_t pos; /* 1-based byte offset in the query */
	uint32_t n_sel; /* root only: number of selectors, ids 0..n_sel-1 */
	uint32_t height; /* of the subtree, bounds evaluation recursion */

	double num;      /* PQ_NUM */
	const char *str; /* PQ_STR */

	/* PQ_SEL; range, offset and @ also PQ_SUBQ (its expression in arg) */
	struct promql_matcher *m;
	uint32_t n_m;
	uint32_t sel_id;
	bool named; /* written as name{…}: m[0] is its __name__ matcher */
	int64_t range_ms; /* 0: instant selector */
	int64_t offset_ms;
	int64_t step_ms; /* PQ_SUBQ: the resolution, 0 = PROMQL_SUBQUERY_STEP_MS */
	enum pq_at at;
	int64_t at_ms; /* AT_TIME */

	/* PQ_CALL, PQ_AGG, PQ_BIN, PQ_NEG */
	const struct pq_fn_def *fn;
	struct promql_expr **args;
	uint32_t n_args;
	const void *re; /* label_replace's compiled regex */

	enum pq_agg agg;
	struct promql_expr *param, *arg; /* aggregation; arg also for PQ_NEG */
	const char **grp;
	uint32_t n_grp;
	bool without;

	enum pq_binop op;
	struct promql_expr *lhs, *rhs;
	bool ret_bool;
	bool on;      /* on(...) given; otherwise ignoring(...) or nothing */
	const char **mlabels;
	uint32_t n_mlabels;
	enum pq_card card;
	const char **include;
	uint32_t n_include;
};

/* Compiles re fully anchored (dot matches newline) into memory from a.
 * Returns NULL and appends the PCRE2 message to err on failure. */
const void *pq_regex_compile(struct arena *a, const char *re, size_t len, struct buf *err);
/* Whole-string match of s. */
bool pq_regex_match(const void *code, const char *s, size_t len);

/* Shortest decimal that reads back as v, fixed notation, "NaN", "+Inf". */
void pq_format_float(struct buf *out, double v);

#endif
