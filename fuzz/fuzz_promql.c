/*
 * libFuzzer harness for the PromQL subset: any bytes must parse or fail
 * with a positioned message; what parses is evaluated as an instant and a
 * short range query against a tiny in-memory source and rendered as JSON,
 * then again at the first and last representable instants, never crashing,
 * overflowing, hanging or leaking; and its canonical text (promql_format)
 * must parse back to an expression with the same text.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "query/promql.h"

static struct promql_label l_a[] = { { "__name__", "up" }, { "instance", "a" }, { "job", "api" } };
static struct promql_label l_b[] = { { "__name__", "up" }, { "instance", "b" }, { "job", "db" } };
static struct promql_label l_h1[] = { { "__name__", "h_bucket" }, { "le", "0.5" } };
static struct promql_label l_h2[] = { { "__name__", "h_bucket" }, { "le", "+Inf" } };
static struct promql_sample s_a[] = { { 0, 1 }, { 15000, 5 }, { 30000, 2 }, { 45000, 9 } };
static struct promql_sample s_b[] = { { 10000, -1 }, { 40000, 1e300 } };
static struct promql_sample s_h1[] = { { 0, 1 }, { 30000, 3 } };
static struct promql_sample s_h2[] = { { 0, 2 }, { 30000, 7 } };

static struct promql_series series[] = {
	{ l_a, 3, s_a, 4 },
	{ l_b, 3, s_b, 2 },
	{ l_h1, 2, s_h1, 2 },
	{ l_h2, 2, s_h2, 2 },
};

static int tiny_select(void *ctx, const struct promql_matcher *m, size_t n, int64_t from_ms,
		       int64_t to_ms, struct arena *a, struct promql_series **out, size_t *n_out,
		       struct buf *err)
{
	size_t total = sizeof(series) / sizeof(series[0]);
	*out = arena_alloc(a, total * sizeof(**out));
	*n_out = 0;
	for (size_t i = 0; i < total; i++) {
		if (!promql_matchers_match(m, n, series[i].labels, series[i].n_labels))
			continue;
		struct promql_series *o = &(*out)[(*n_out)++];
		*o = series[i];
		o->labels = arena_alloc(a, o->n_labels * sizeof(*o->labels));
		memcpy(o->labels, series[i].labels, o->n_labels * sizeof(*o->labels));
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct promql_source src = { .version = 1, .select = tiny_select, .max_series = 3 };
	struct arena a;
	struct buf err = BUF_INIT, out = BUF_INIT;
	struct promql_expr *e;
	struct promql_value v;
	arena_init(&a, 0);
	int rc = promql_parse((const char *)data, size, &a, &e, &err);
	if (rc) {
		if (err.len == 0)
			__builtin_trap(); /* a failure must always say why */
		goto out;
	}
	/* what parses formats to text that parses and formats the same way */
	struct buf f1 = BUF_INIT, f2 = BUF_INIT;
	struct promql_expr *e2;
	promql_format(e, &f1);
	buf_reset(&err);
	if (promql_parse(f1.data, f1.len, &a, &e2, &err) == 0) {
		promql_format(e2, &f2);
		if (f1.len != f2.len || memcmp(f1.data, f2.data, f1.len) != 0)
			__builtin_trap();
	}
	buf_release(&f1);
	buf_release(&f2);
	buf_reset(&err);
	rc = promql_eval_instant(e, &src, 30000, &a, &v, &err);
	if (rc && err.len == 0)
		__builtin_trap();
	if (!rc)
		promql_value_json(&v, &out);
	buf_reset(&err);
	rc = promql_eval_range(e, &src, -15000, 60000, 15000, &a, &v, &err);
	if (rc && err.len == 0)
		__builtin_trap();
	if (!rc)
		promql_value_json(&v, &out);
	/* the ends of time: offsets, ranges, lookback and steps must not overflow */
	static const int64_t edges[][3] = {
		{ INT64_MAX - 30000, INT64_MAX, 15000 },
		{ 0, 30000, 15000 },
		{ INT64_MIN, INT64_MIN + 30000, 15000 },
	};
	for (size_t k = 0; k < sizeof(edges) / sizeof(edges[0]); k++) {
		buf_reset(&err);
		rc = promql_eval_instant(e, &src, edges[k][1], &a, &v, &err);
		if (rc && err.len == 0)
			__builtin_trap();
		buf_reset(&err);
		rc = promql_eval_range(e, &src, edges[k][0], edges[k][1], edges[k][2], &a, &v, &err);
		if (rc && err.len == 0)
			__builtin_trap();
	}
	struct promql_matcher *m;
	size_t n;
	buf_reset(&err);
	promql_parse_selector((const char *)data, size, &a, &m, &n, &err);
out:
	arena_release(&a);
	buf_release(&err);
	buf_release(&out);
	return 0;
}
