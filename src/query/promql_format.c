/*
 * The canonical text of a parsed PromQL expression, as Prometheus'
 * /api/v1/format_query writes it on one line: aggregations as
 * `sum by (job) (x)`, matchers after the metric name, durations in
 * decreasing units, `@` before `offset`, strings double-quoted with Go's
 * escapes, and parentheses only where precedence needs them (the tree does
 * not remember redundant ones).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "query/promql_impl.h"

static const char *const binop_text[] = {
	[OP_ADD] = "+", [OP_SUB] = "-", [OP_MUL] = "*", [OP_DIV] = "/", [OP_MOD] = "%", [OP_POW] = "^",
	[OP_EQ] = "==", [OP_NE] = "!=", [OP_GT] = ">", [OP_LT] = "<", [OP_GE] = ">=", [OP_LE] = "<=",
	[OP_AND] = "and", [OP_OR] = "or", [OP_UNLESS] = "unless",
};

static const int binop_prec[] = {
	[OP_ADD] = 4, [OP_SUB] = 4, [OP_MUL] = 5, [OP_DIV] = 5, [OP_MOD] = 5, [OP_POW] = 6,
	[OP_EQ] = 3, [OP_NE] = 3, [OP_GT] = 3, [OP_LT] = 3, [OP_GE] = 3, [OP_LE] = 3,
	[OP_AND] = 2, [OP_OR] = 1, [OP_UNLESS] = 2,
};

static const char *const agg_text[] = {
	[AGG_SUM] = "sum", [AGG_AVG] = "avg", [AGG_MIN] = "min", [AGG_MAX] = "max",
	[AGG_COUNT] = "count", [AGG_STDDEV] = "stddev", [AGG_STDVAR] = "stdvar", [AGG_TOPK] = "topk",
	[AGG_BOTTOMK] = "bottomk", [AGG_QUANTILE] = "quantile", [AGG_COUNT_VALUES] = "count_values",
	[AGG_GROUP] = "group",
};

static const char *const match_text[] = {
	[PROMQL_EQ] = "=", [PROMQL_NE] = "!=", [PROMQL_RE] = "=~", [PROMQL_NRE] = "!~",
};

static void put_str(struct buf *out, const char *s)
{
	buf_addch(out, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': buf_adds(out, "\\\""); break;
		case '\\': buf_adds(out, "\\\\"); break;
		case '\n': buf_adds(out, "\\n"); break;
		case '\t': buf_adds(out, "\\t"); break;
		case '\r': buf_adds(out, "\\r"); break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				buf_addf(out, "\\x%02x", *p);
			else
				buf_addch(out, (char)*p);
		}
	}
	buf_addch(out, '"');
}

static void put_duration(struct buf *out, int64_t ms)
{
	static const struct {
		const char *u;
		int64_t ms;
	} units[] = {
		{ "y", INT64_C(365) * 86400000 }, { "w", INT64_C(7) * 86400000 }, { "d", 86400000 },
		{ "h", 3600000 }, { "m", 60000 }, { "s", 1000 }, { "ms", 1 },
	};
	if (ms == 0) {
		buf_adds(out, "0s");
		return;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (ms >= units[i].ms) {
			buf_addf(out, "%lld%s", (long long)(ms / units[i].ms), units[i].u);
			ms %= units[i].ms;
		}
}

/* A number as Go's fmt %v writes a float64: shortest digits, exponent
 * form ("1e-06", "1e+21") below 1e-4 and from 1e21. */
static void put_number(struct buf *out, double v)
{
	if (isnan(v)) {
		buf_adds(out, "NaN");
		return;
	}
	if (isinf(v)) {
		buf_adds(out, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	char tmp[40];
	int prec = 1;
	for (; prec < 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, v);
	char *e = strchr(tmp, 'e');
	int exp10 = e ? atoi(e + 1) : 0;
	if (v != 0 && (exp10 < -4 || exp10 >= 21)) {
		*e = 0;
		buf_addf(out, "%se%c%02d", tmp, exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
		return;
	}
	pq_format_float(out, v);
}

static void put_labels(struct buf *out, const char **l, uint32_t n)
{
	buf_addch(out, '(');
	for (uint32_t i = 0; i < n; i++)
		buf_addf(out, "%s%s", i ? ", " : "", l[i]);
	buf_addch(out, ')');
}

static void put_modifiers(struct buf *out, const struct promql_expr *e)
{
	switch (e->at) {
	case AT_TIME: buf_addf(out, " @ %.3f", (double)e->at_ms / 1000); break;
	case AT_START: buf_adds(out, " @ start()"); break;
	case AT_END: buf_adds(out, " @ end()"); break;
	case AT_NONE: break;
	}
	if (e->offset_ms) {
		buf_adds(out, e->offset_ms < 0 ? " offset -" : " offset ");
		put_duration(out, e->offset_ms < 0 ? -e->offset_ms : e->offset_ms);
	}
}

static void put_expr(struct buf *out, const struct promql_expr *e);

static void put_wrapped(struct buf *out, const struct promql_expr *e, bool paren)
{
	if (paren)
		buf_addch(out, '(');
	put_expr(out, e);
	if (paren)
		buf_addch(out, ')');
}

static void put_selector(struct buf *out, const struct promql_expr *e)
{
	/* the parser puts the name written before the braces first */
	const char *name = e->named ? e->m[0].value : NULL;
	if (name)
		buf_adds(out, name);
	bool first = true;
	for (uint32_t i = 0; i < e->n_m; i++) {
		if (name && i == 0)
			continue;
		buf_adds(out, first ? "{" : ",");
		first = false;
		buf_addf(out, "%s%s", e->m[i].name, match_text[e->m[i].op]);
		put_str(out, e->m[i].value);
	}
	if (!first)
		buf_addch(out, '}');
	if (e->range_ms) {
		buf_addch(out, '[');
		put_duration(out, e->range_ms);
		buf_addch(out, ']');
	}
	put_modifiers(out, e);
}

static void put_expr(struct buf *out, const struct promql_expr *e)
{
	switch (e->kind) {
	case PQ_NUM:
		put_number(out, e->num);
		return;
	case PQ_STR:
		put_str(out, e->str);
		return;
	case PQ_SEL:
		put_selector(out, e);
		return;
	case PQ_SUBQ:
		/* a selector's own modifiers would otherwise read as coming before its range */
		put_wrapped(out, e->arg, e->arg->kind == PQ_BIN || e->arg->kind == PQ_NEG ||
					 (e->arg->kind == PQ_SEL && (e->arg->offset_ms || e->arg->at)));
		buf_addch(out, '[');
		put_duration(out, e->range_ms);
		buf_addch(out, ':');
		if (e->step_ms)
			put_duration(out, e->step_ms);
		buf_addch(out, ']');
		put_modifiers(out, e);
		return;
	case PQ_NEG:
		buf_addch(out, '-');
		put_wrapped(out, e->arg, e->arg->kind == PQ_BIN);
		return;
	case PQ_CALL:
		buf_addf(out, "%s(", e->fn->name);
		for (uint32_t i = 0; i < e->n_args; i++) {
			if (i)
				buf_adds(out, ", ");
			put_expr(out, e->args[i]);
		}
		buf_addch(out, ')');
		return;
	case PQ_AGG:
		buf_adds(out, agg_text[e->agg]);
		if (e->without || e->n_grp) {
			buf_adds(out, e->without ? " without " : " by ");
			put_labels(out, e->grp, e->n_grp);
			buf_addch(out, ' ');
		}
		buf_addch(out, '(');
		if (e->param) {
			put_expr(out, e->param);
			buf_adds(out, ", ");
		}
		put_expr(out, e->arg);
		buf_addch(out, ')');
		return;
	case PQ_BIN: {
		int p = binop_prec[e->op];
		bool right_assoc = e->op == OP_POW;
		const struct promql_expr *l = e->lhs, *r = e->rhs;
		bool lp = (l->kind == PQ_BIN && (binop_prec[l->op] < p || (right_assoc && binop_prec[l->op] == p))) ||
			  (right_assoc && (l->kind == PQ_NEG || (l->kind == PQ_NUM && signbit(l->num))));
		bool rp = r->kind == PQ_BIN && (binop_prec[r->op] < p || (!right_assoc && binop_prec[r->op] == p));
		put_wrapped(out, l, lp);
		buf_addf(out, " %s", binop_text[e->op]);
		if (e->ret_bool)
			buf_adds(out, " bool");
		if (e->on || e->n_mlabels) {
			buf_adds(out, e->on ? " on " : " ignoring ");
			put_labels(out, e->mlabels, e->n_mlabels);
			if (e->card == CARD_MANY_ONE || e->card == CARD_ONE_MANY) {
				buf_adds(out, e->card == CARD_MANY_ONE ? " group_left " : " group_right ");
				put_labels(out, e->include, e->n_include);
			}
		}
		buf_addch(out, ' ');
		put_wrapped(out, r, rp);
		return;
	}
	}
}

void promql_format(const struct promql_expr *e, struct buf *out)
{
	put_expr(out, e);
}
