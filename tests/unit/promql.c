/*
 * Unit tests for the PromQL subset (src/query/promql*.c): an in-memory
 * promql_source with counters (one with a reset), gauges, a series that
 * goes stale and histogram buckets, then tables of queries with the JSON
 * or values Prometheus would answer, parse errors with their positions,
 * and the limits.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <math.h>
#include <cmocka.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/error.h"
#include "query/promql.h"

#define MAX_SERIES 2000

struct mem_source {
	struct promql_series s[MAX_SERIES];
	size_t n;
	struct arena a;
};

static struct mem_source mem;

/* spec: "__name__=x,a=b" (names in any order); samples every step_s from t0_s. */
static struct promql_series *add(const char *spec, int64_t t0_s, int64_t step_s, const double *v, int n)
{
	struct promql_series *s = &mem.s[mem.n++];
	memset(s, 0, sizeof(*s));
	s->labels = arena_zalloc(&mem.a, 16 * sizeof(*s->labels));
	const char *p = spec;
	while (*p) {
		const char *eq = strchr(p, '='), *end = strchr(p, ',');
		if (!end)
			end = p + strlen(p);
		s->labels[s->n_labels].name = arena_strndup(&mem.a, p, (size_t)(eq - p));
		s->labels[s->n_labels].value = arena_strndup(&mem.a, eq + 1, (size_t)(end - eq - 1));
		s->n_labels++;
		p = *end ? end + 1 : end;
	}
	s->samples = arena_alloc(&mem.a, (size_t)(n + 1) * sizeof(*s->samples));
	for (int i = 0; i < n; i++)
		s->samples[i] = (struct promql_sample){ (t0_s + step_s * i) * 1000, v[i] };
	s->n_samples = (uint32_t)n;
	return s;
}

static int mem_select(void *ctx, const struct promql_matcher *m, size_t n, int64_t from_ms,
		      int64_t to_ms, struct arena *a, struct promql_series **out, size_t *n_out,
		      struct buf *err)
{
	struct mem_source *ms = ctx;
	*out = arena_zalloc(a, (ms->n + 1) * sizeof(**out));
	*n_out = 0;
	for (size_t i = 0; i < ms->n; i++) {
		const struct promql_series *s = &ms->s[i];
		if (!promql_matchers_match(m, n, s->labels, s->n_labels))
			continue;
		struct promql_series *o = &(*out)[(*n_out)++];
		o->labels = arena_alloc(a, (s->n_labels + 1) * sizeof(*o->labels));
		memcpy(o->labels, s->labels, s->n_labels * sizeof(*o->labels));
		o->n_labels = s->n_labels;
		o->samples = arena_alloc(a, (s->n_samples + 1) * sizeof(*o->samples));
		for (uint32_t k = 0; k < s->n_samples; k++)
			if (s->samples[k].t_ms >= from_ms && s->samples[k].t_ms <= to_ms)
				o->samples[o->n_samples++] = s->samples[k];
	}
	return 0;
}

static struct promql_source src = { .version = 1, .ctx = &mem, .select = mem_select };

static void build_data(void)
{
	double v[300];
	arena_init(&mem.a, 0);
	mem.n = 0;
	/* counters every 15 s from 0 to 600 s (k = 0..40) */
	for (int k = 0; k <= 40; k++)
		v[k] = 10.0 * k;
	add("__name__=http_requests_total,job=api,instance=a,code=200", 0, 15, v, 41);
	for (int k = 0; k <= 40; k++) /* resets at k = 20 (t = 300 s) */
		v[k] = k < 20 ? 10.0 * k : 10.0 * (k - 20) + 5;
	add("__name__=http_requests_total,job=api,instance=b,code=200", 0, 15, v, 41);
	for (int k = 0; k <= 40; k++)
		v[k] = k;
	add("__name__=http_requests_total,job=api,instance=a,code=500", 0, 15, v, 41);
	/* a counter that starts at 400 s with value 2 */
	for (int k = 0; k <= 13; k++)
		v[k] = 2 + 10.0 * k;
	add("__name__=new_total,job=api", 400, 15, v, 14);
	/* gauges every 60 s */
	static const double kitchen[] = { 20, 21, 23, 22, 25, 24, 26, 27, 25, 28, 30 };
	add("__name__=temperature,room=kitchen", 0, 60, kitchen, 11);
	static const double bath[] = { 18, 18, 19, 19, 20, 20 };
	add("__name__=temperature,room=bath", 0, 60, bath, 6);
	/* goes stale at 120 s */
	uint64_t bits = PROMQL_STALE_NAN_BITS;
	double stale;
	memcpy(&stale, &bits, sizeof(stale));
	double sv[] = { 1, 2, stale };
	add("__name__=flaky", 0, 60, sv, 3);
	/* histogram buckets: cumulative counters 1k, 3k, 4k, 5k */
	static const struct {
		const char *le;
		double per;
	} b[] = { { "0.1", 1 }, { "0.5", 3 }, { "1", 4 }, { "+Inf", 5 } };
	for (size_t i = 0; i < 4; i++) {
		for (int k = 0; k <= 40; k++)
			v[k] = b[i].per * k;
		char spec[96];
		snprintf(spec, sizeof(spec), "__name__=req_seconds_bucket,job=api,le=%s", b[i].le);
		add(spec, 0, 15, v, 41);
	}
	static const double one[] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
	add("__name__=instance_info,instance=a,region=eu", 0, 60, one, 11);
	add("__name__=instance_info,instance=b,region=us", 0, 60, one, 11);
	/* the source sorts nothing: put labels in order as a store would */
	for (size_t i = 0; i < mem.n; i++) {
		struct promql_series *s = &mem.s[i];
		for (uint32_t x = 1; x < s->n_labels; x++)
			for (uint32_t y = x; y > 0 && strcmp(s->labels[y - 1].name, s->labels[y].name) > 0; y--) {
				struct promql_label t = s->labels[y];
				s->labels[y] = s->labels[y - 1];
				s->labels[y - 1] = t;
			}
	}
}

static int setup(void **state)
{
	build_data();
	return 0;
}

static int teardown(void **state)
{
	arena_release(&mem.a);
	return 0;
}

/* Runs q as an instant query at t_s; returns 0 and the JSON in out, or the code. */
static int run(const char *q, double t_s, struct buf *out, struct buf *err)
{
	struct arena a;
	arena_init(&a, 0);
	struct promql_expr *e;
	int rc = promql_parse(q, strlen(q), &a, &e, err);
	if (!rc) {
		struct promql_value v;
		rc = promql_eval_instant(e, &src, (int64_t)(t_s * 1000), &a, &v, err);
		if (!rc)
			promql_value_json(&v, out);
	}
	arena_release(&a);
	return rc;
}

static void test_json_cases(void **state)
{
	static const struct {
		const char *q;
		double t;
		const char *json;
	} cases[] = {
		/* literals, precedence, number formatting */
		{ "1 + 2 * 3 ^ 2 ^ 2", 600, "{\"resultType\":\"scalar\",\"result\":[600,\"163\"]}" },
		{ "-2 ^ 2", 600, "{\"resultType\":\"scalar\",\"result\":[600,\"-4\"]}" },
		{ "2 ^ -1", 600, "{\"resultType\":\"scalar\",\"result\":[600,\"0.5\"]}" },
		{ "10 - 2 - 3", 600, "{\"resultType\":\"scalar\",\"result\":[600,\"5\"]}" },
		{ "(1 + 2) * 3 # a comment", 600, "{\"resultType\":\"scalar\",\"result\":[600,\"9\"]}" },
		{ "2 * 3 % 4", 1.5, "{\"resultType\":\"scalar\",\"result\":[1.5,\"2\"]}" },
		{ "1 == bool 1", 600, "{\"resultType\":\"scalar\",\"result\":[600,\"1\"]}" },
		{ "1e21", 600, "{\"resultType\":\"scalar\",\"result\":[600,\"1000000000000000000000\"]}" },
		{ "-1.5e-7", 600, "{\"resultType\":\"scalar\",\"result\":[600,\"-0.00000015\"]}" },
		{ "0x10 + .5", 600, "{\"resultType\":\"scalar\",\"result\":[600,\"16.5\"]}" },
		{ "0 / 0", 600, "{\"resultType\":\"scalar\",\"result\":[600,\"NaN\"]}" },
		{ "-Inf", 600, "{\"resultType\":\"scalar\",\"result\":[600,\"-Inf\"]}" },
		{ "\"a\\tb\"", 600, "{\"resultType\":\"string\",\"result\":[600,\"a\\tb\"]}" },
		{ "vector(1/0)", 600, "{\"resultType\":\"vector\",\"result\":[{\"metric\":{},\"value\":[600,\"+Inf\"]}]}" },
		{ "time()", 600.25, "{\"resultType\":\"scalar\",\"result\":[600.25,\"600.25\"]}" },
		/* selectors, lookback, staleness, offset */
		{ "temperature", 600,
		  "{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"__name__\":\"temperature\",\"room\":\"kitchen\"},\"value\":[600,\"30\"]}]}" },
		{ "temperature", 599,
		  "{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"__name__\":\"temperature\",\"room\":\"kitchen\"},\"value\":[599,\"28\"]},"
		  "{\"metric\":{\"__name__\":\"temperature\",\"room\":\"bath\"},\"value\":[599,\"20\"]}]}" },
		{ "temperature{room=\"kitchen\"} offset 5m", 600,
		  "{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"__name__\":\"temperature\",\"room\":\"kitchen\"},\"value\":[600,\"24\"]}]}" },
		{ "{__name__=~\"temp.*\", room!~\"k.*\"}", 599,
		  "{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"__name__\":\"temperature\",\"room\":\"bath\"},\"value\":[599,\"20\"]}]}" },
		{ "flaky", 100, "{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"__name__\":\"flaky\"},\"value\":[100,\"2\"]}]}" },
		{ "flaky", 150, "{\"resultType\":\"vector\",\"result\":[]}" },
		{ "temperature{room=\"kitchen\"}[2m]", 600,
		  "{\"resultType\":\"matrix\",\"result\":[{\"metric\":{\"__name__\":\"temperature\",\"room\":\"kitchen\"},\"values\":[[540,\"28\"],[600,\"30\"]]}]}" },
		/* sort, label_join, absent_over_time, a bare subquery */
		{ "sort(temperature)", 599,
		  "{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"__name__\":\"temperature\",\"room\":\"bath\"},\"value\":[599,\"20\"]},"
		  "{\"metric\":{\"__name__\":\"temperature\",\"room\":\"kitchen\"},\"value\":[599,\"28\"]}]}" },
		{ "sort_desc(temperature)", 599,
		  "{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"__name__\":\"temperature\",\"room\":\"kitchen\"},\"value\":[599,\"28\"]},"
		  "{\"metric\":{\"__name__\":\"temperature\",\"room\":\"bath\"},\"value\":[599,\"20\"]}]}" },
		{ "label_join(instance_info{instance=\"a\"}, \"where\", \"-\", \"instance\", \"region\", \"none\")", 600,
		  "{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"__name__\":\"instance_info\",\"instance\":\"a\",\"region\":\"eu\",\"where\":\"a-eu-\"},\"value\":[600,\"1\"]}]}" },
		{ "absent_over_time(nothing{job=\"x\",a=~\"b\"}[5m])", 600,
		  "{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"job\":\"x\"},\"value\":[600,\"1\"]}]}" },
		{ "absent_over_time(temperature[5m])", 600, "{\"resultType\":\"vector\",\"result\":[]}" },
		{ "absent_over_time(temperature{room=\"bath\"}[5m])", 700,
		  "{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"room\":\"bath\"},\"value\":[700,\"1\"]}]}" },
		{ "temperature{room=\"kitchen\"}[3m:1m]", 610,
		  "{\"resultType\":\"matrix\",\"result\":[{\"metric\":{\"__name__\":\"temperature\",\"room\":\"kitchen\"},\"values\":[[480,\"25\"],[540,\"28\"],[600,\"30\"]]}]}" },
		{ "last_over_time(temperature{room=\"kitchen\"}[3m:1m])", 610,
		  "{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"__name__\":\"temperature\",\"room\":\"kitchen\"},\"value\":[610,\"30\"]}]}" },
		/* comparisons */
		{ "temperature > 25", 600,
		  "{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"__name__\":\"temperature\",\"room\":\"kitchen\"},\"value\":[600,\"30\"]}]}" },
		{ "25 < temperature", 600,
		  "{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"__name__\":\"temperature\",\"room\":\"kitchen\"},\"value\":[600,\"30\"]}]}" },
		{ "temperature > bool 25", 599,
		  "{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"room\":\"kitchen\"},\"value\":[599,\"1\"]},{\"metric\":{\"room\":\"bath\"},\"value\":[599,\"0\"]}]}" },
		{ "temperature == on(room) temperature{room=\"bath\"}", 599,
		  "{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"room\":\"bath\"},\"value\":[599,\"20\"]}]}" },
		/* aggregations */
		{ "sum by (code) (http_requests_total)", 600,
		  "{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"code\":\"200\"},\"value\":[600,\"605\"]},{\"metric\":{\"code\":\"500\"},\"value\":[600,\"40\"]}]}" },
		{ "sum(http_requests_total) without (instance, code)", 600,
		  "{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"job\":\"api\"},\"value\":[600,\"645\"]}]}" },
		{ "topk(2, http_requests_total)", 600,
		  "{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"__name__\":\"http_requests_total\",\"code\":\"200\",\"instance\":\"a\",\"job\":\"api\"},\"value\":[600,\"400\"]},"
		  "{\"metric\":{\"__name__\":\"http_requests_total\",\"code\":\"200\",\"instance\":\"b\",\"job\":\"api\"},\"value\":[600,\"205\"]}]}" },
		{ "bottomk by (code) (1, http_requests_total)", 600,
		  "{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"__name__\":\"http_requests_total\",\"code\":\"200\",\"instance\":\"b\",\"job\":\"api\"},\"value\":[600,\"205\"]},"
		  "{\"metric\":{\"__name__\":\"http_requests_total\",\"code\":\"500\",\"instance\":\"a\",\"job\":\"api\"},\"value\":[600,\"40\"]}]}" },
		{ "count by (__name__) (temperature)", 599,
		  "{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"__name__\":\"temperature\"},\"value\":[599,\"2\"]}]}" },
		{ "count_values(\"v\", temperature)", 599,
		  "{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"v\":\"28\"},\"value\":[599,\"1\"]},{\"metric\":{\"v\":\"20\"},\"value\":[599,\"1\"]}]}" },
		/* vector matching with group_left */
		{ "http_requests_total * on(instance) group_left(region) instance_info", 600,
		  "{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"code\":\"200\",\"instance\":\"a\",\"job\":\"api\",\"region\":\"eu\"},\"value\":[600,\"400\"]},"
		  "{\"metric\":{\"code\":\"200\",\"instance\":\"b\",\"job\":\"api\",\"region\":\"us\"},\"value\":[600,\"205\"]},"
		  "{\"metric\":{\"code\":\"500\",\"instance\":\"a\",\"job\":\"api\",\"region\":\"eu\"},\"value\":[600,\"40\"]}]}" },
		{ "instance_info * on(instance) group_right http_requests_total{code=\"200\"}", 600,
		  "{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"code\":\"200\",\"instance\":\"a\",\"job\":\"api\"},\"value\":[600,\"400\"]},"
		  "{\"metric\":{\"code\":\"200\",\"instance\":\"b\",\"job\":\"api\"},\"value\":[600,\"205\"]}]}" },
		/* set operators */
		{ "temperature and temperature{room=\"bath\"}", 599,
		  "{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"__name__\":\"temperature\",\"room\":\"bath\"},\"value\":[599,\"20\"]}]}" },
		{ "temperature unless temperature{room=\"bath\"}", 599,
		  "{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"__name__\":\"temperature\",\"room\":\"kitchen\"},\"value\":[599,\"28\"]}]}" },
		{ "temperature{room=\"bath\"} or vector(1)", 599,
		  "{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"__name__\":\"temperature\",\"room\":\"bath\"},\"value\":[599,\"20\"]},{\"metric\":{},\"value\":[599,\"1\"]}]}" },
		/* functions */
		{ "absent(nothing{job=\"x\"})", 600,
		  "{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"job\":\"x\"},\"value\":[600,\"1\"]}]}" },
		{ "absent(temperature)", 600, "{\"resultType\":\"vector\",\"result\":[]}" },
		{ "timestamp(temperature)", 599,
		  "{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"room\":\"kitchen\"},\"value\":[599,\"540\"]},{\"metric\":{\"room\":\"bath\"},\"value\":[599,\"300\"]}]}" },
		{ "label_replace(temperature, \"r\", \"x-$1\", \"room\", \"(.*)en\")", 600,
		  "{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"__name__\":\"temperature\",\"r\":\"x-kitch\",\"room\":\"kitchen\"},\"value\":[600,\"30\"]}]}" },
		{ "clamp(temperature, 21, 26)", 599,
		  "{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"room\":\"kitchen\"},\"value\":[599,\"26\"]},{\"metric\":{\"room\":\"bath\"},\"value\":[599,\"21\"]}]}" },
		{ "scalar(temperature{room=\"kitchen\"}) * 2", 600, "{\"resultType\":\"scalar\",\"result\":[600,\"60\"]}" },
		{ "round(temperature / 7, 0.5)", 600,
		  "{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"room\":\"kitchen\"},\"value\":[600,\"4.5\"]}]}" },
		{ "last_over_time(temperature{room=\"kitchen\"}[5m])", 600,
		  "{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"__name__\":\"temperature\",\"room\":\"kitchen\"},\"value\":[600,\"30\"]}]}" },
		{ "histogram_quantile(0.5, req_seconds_bucket)", 600,
		  "{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"job\":\"api\"},\"value\":[600,\"0.4\"]}]}" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf out = BUF_INIT, err = BUF_INIT;
		int rc = run(cases[i].q, cases[i].t, &out, &err);
		if (rc || strcmp(out.data, cases[i].json) != 0)
			fail_msg("query %s at %g: rc %d err %s\n got  %s\n want %s", cases[i].q, cases[i].t, rc,
				 err.data, out.data, cases[i].json);
		buf_release(&out);
		buf_release(&err);
	}
}

/* Evaluates q at t_s and returns the value of the one result (scalar or
 * single-element vector). */
static double value_of(const char *q, double t_s)
{
	struct arena a;
	arena_init(&a, 0);
	struct buf err = BUF_INIT;
	struct promql_expr *e;
	struct promql_value v;
	int rc = promql_parse(q, strlen(q), &a, &e, &err);
	if (!rc)
		rc = promql_eval_instant(e, &src, (int64_t)(t_s * 1000), &a, &v, &err);
	if (rc)
		fail_msg("%s: %s", q, err.data);
	double r = NAN;
	if (v.type == PROMQL_SCALAR)
		r = v.scalar;
	else if (v.type == PROMQL_VECTOR && v.n_series == 1)
		r = v.series[0].samples[0].v;
	else
		fail_msg("%s: %zu results", q, v.n_series);
	buf_release(&err);
	arena_release(&a);
	return r;
}

static void test_values(void **state)
{
	static const struct {
		const char *q;
		double t, want;
	} cases[] = {
		/* window (300, 600]: k = 21..40, 210 → 400, starts 15 s after the window */
		{ "rate(http_requests_total{instance=\"a\",code=\"200\"}[5m])", 600, 190.0 / 285 },
		{ "increase(http_requests_total{instance=\"a\",code=\"200\"}[5m])", 600, 200 },
		/* window (150, 450] holds the reset at 300 s: 110..190, 5..105 → 185 */
		{ "increase(http_requests_total{instance=\"b\"}[5m])", 450, 185.0 * 300 / 285 },
		{ "rate(http_requests_total{instance=\"b\"}[5m])", 450, 185.0 / 285 },
		/* starts mid-window at value 2: extrapolated to zero (3 s) not 7.5 s */
		{ "increase(new_total[5m])", 600, 130.0 * (195 + 3 + 5) / 195 },
		{ "rate(new_total[5m])", 600, 130.0 * (195 + 3 + 5) / 195 / 300 },
		{ "irate(http_requests_total{instance=\"b\"}[1m])", 300, 5.0 / 15 },
		{ "irate(temperature{room=\"kitchen\"}[5m])", 600, 2.0 / 60 },
		{ "idelta(temperature{room=\"kitchen\"}[5m])", 600, 2 },
		/* (300, 600]: 26 27 25 28 30 */
		{ "delta(temperature{room=\"kitchen\"}[5m])", 600, 5 },
		{ "avg_over_time(temperature{room=\"kitchen\"}[5m])", 600, 27.2 },
		{ "min_over_time(temperature{room=\"kitchen\"}[5m])", 600, 25 },
		{ "max_over_time(temperature{room=\"kitchen\"}[5m])", 600, 30 },
		{ "sum_over_time(temperature{room=\"kitchen\"}[5m])", 600, 136 },
		{ "count_over_time(temperature{room=\"kitchen\"}[5m])", 600, 5 },
		{ "quantile_over_time(0.5, temperature{room=\"kitchen\"}[5m])", 600, 27 },
		{ "quantile_over_time(0.25, temperature{room=\"kitchen\"}[5m])", 600, 26 },
		{ "stddev_over_time(temperature{room=\"kitchen\"}[5m])", 600, 1.7204650534085253 },
		{ "temperature{room=\"kitchen\"} offset 1m", 600, 28 },
		{ "histogram_quantile(0.5, rate(req_seconds_bucket[5m]))", 600, 0.4 },
		{ "histogram_quantile(0.9, sum by (le) (rate(req_seconds_bucket[5m])))", 600, 1 },
		{ "histogram_quantile(0.1, req_seconds_bucket)", 600, 0.05 },
		{ "sum(http_requests_total)", 600, 645 },
		{ "avg(http_requests_total)", 600, 215 },
		{ "max(http_requests_total)", 600, 400 },
		{ "min(http_requests_total)", 600, 40 },
		{ "count(http_requests_total)", 600, 3 },
		{ "quantile(0.5, http_requests_total)", 600, 205 },
		{ "stddev(temperature)", 599, 4 },
		{ "sum(rate(http_requests_total{code=\"500\"}[5m])) / sum(rate(http_requests_total[5m]))", 600,
		  19.0 / (190 + 190 + 19) },
		{ "sum by (instance) (http_requests_total{code=\"500\"}) / on(instance) sum by (instance) (http_requests_total)",
		  600, 40.0 / 440 },
		{ "abs(-temperature{room=\"kitchen\"})", 600, 30 },
		{ "ceil(temperature{room=\"kitchen\"} / 7)", 600, 5 },
		{ "floor(temperature{room=\"kitchen\"} / 7)", 600, 4 },
		{ "sqrt(temperature{room=\"kitchen\"} - 21)", 600, 3 },
		{ "ln(exp(temperature{room=\"kitchen\"}))", 600, 30 },
		{ "log2(temperature{room=\"kitchen\"} + 2)", 600, 5 },
		{ "log10(temperature{room=\"kitchen\"} * 100 / 3)", 600, 3 },
		{ "clamp_min(temperature{room=\"kitchen\"}, 40)", 600, 40 },
		{ "clamp_max(temperature{room=\"kitchen\"}, 10)", 600, 10 },
		{ "time() - timestamp(temperature{room=\"kitchen\"})", 599, 59 },
		{ "count(temperature{room=\"kitchen\"} + on() group_left vector(1))", 600, 1 },
		/* (300, 600]: 26 27 25 28 30 */
		{ "changes(temperature{room=\"kitchen\"}[5m])", 600, 4 },
		{ "resets(temperature{room=\"kitchen\"}[5m])", 600, 1 },
		{ "resets(http_requests_total{instance=\"b\"}[10m])", 600, 1 },
		{ "resets(http_requests_total{instance=\"b\"}[5m])", 600, 0 },
		{ "deriv(http_requests_total{instance=\"a\",code=\"200\"}[5m])", 600, 2.0 / 3 },
		{ "predict_linear(http_requests_total{instance=\"a\",code=\"200\"}[5m], 60)", 600, 440 },
		{ "deriv(temperature{room=\"bath\"}[2m])", 300, 0 },
		{ "holt_winters(http_requests_total{instance=\"a\",code=\"200\"}[5m], 0.5, 0.5)", 600, 400 },
		{ "holt_winters(temperature{room=\"kitchen\"}[5m], 0.5, 0.5)", 600, 28.96875 },
		{ "double_exponential_smoothing(temperature{room=\"kitchen\"}[5m], 0.5, 0.5)", 600, 28.96875 },
		{ "present_over_time(temperature{room=\"kitchen\"}[5m])", 600, 1 },
		{ "absent_over_time(nothing[5m])", 600, 1 },
		{ "clamp(temperature{room=\"kitchen\"}, 0, 10)", 600, 10 },
		{ "scalar(temperature{room=\"kitchen\"}) + 1", 600, 31 },
		/* subqueries: steps at multiples of the step in (t - range, t] */
		{ "max_over_time(temperature{room=\"kitchen\"}[5m:1m])", 630, 30 },
		{ "min_over_time(temperature{room=\"kitchen\"}[5m:1m])", 630, 25 },
		{ "count_over_time(temperature{room=\"kitchen\"}[5m:1m])", 630, 5 },
		{ "avg_over_time((temperature{room=\"kitchen\"} * 2)[2m:30s])", 600, 55.5 },
		{ "sum_over_time(rate(http_requests_total{instance=\"a\",code=\"200\"}[1m])[3m:1m])", 600, 2 },
		{ "max_over_time(temperature{room=\"kitchen\"}[5m:1m] offset 5m)", 600, 25 },
		{ "count_over_time(temperature{room=\"kitchen\"}[10m:])", 600, 10 },
		/* @ pins the evaluation time; offset applies after it */
		{ "temperature{room=\"kitchen\"} @ 120", 600, 23 },
		{ "temperature{room=\"kitchen\"} @ 120 offset 1m", 600, 21 },
		{ "temperature{room=\"kitchen\"} offset 1m @ 120", 600, 21 },
		{ "rate(http_requests_total{instance=\"a\",code=\"200\"}[5m] @ 300)", 600, 2.0 / 3 },
		{ "temperature{room=\"kitchen\"} @ end()", 540, 28 },
		{ "max_over_time(temperature{room=\"kitchen\"}[3m:1m] @ 240)", 600, 25 },
		{ "timestamp(temperature{room=\"kitchen\"} @ 130)", 600, 120 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double got = value_of(cases[i].q, cases[i].t);
		if (!(fabs(got - cases[i].want) <= 1e-9 * fmax(1, fabs(cases[i].want))))
			fail_msg("%s at %g: got %.17g want %.17g", cases[i].q, cases[i].t, got, cases[i].want);
	}
}

static void test_range_query(void **state)
{
	struct arena a;
	arena_init(&a, 0);
	struct buf err = BUF_INIT, out = BUF_INIT;
	struct promql_expr *e;
	const char *q = "rate(http_requests_total{code=\"200\"}[5m])";
	assert_int_equal(promql_parse(q, strlen(q), &a, &e, &err), 0);
	struct promql_value v;
	assert_int_equal(promql_eval_range(e, &src, 300000, 600000, 60000, &a, &v, &err), 0);
	assert_int_equal(v.type, PROMQL_MATRIX);
	assert_int_equal(v.n_series, 2);
	assert_int_equal(v.series[0].n_samples, 6);
	assert_string_equal(v.series[0].labels[1].value, "a"); /* sorted by labels */
	for (uint32_t i = 0; i < 6; i++) {
		assert_int_equal(v.series[0].samples[i].t_ms, 300000 + 60000 * i);
		assert_true(fabs(v.series[0].samples[i].v - 190.0 / 285) < 1e-12);
	}
	/* a scalar becomes a matrix with one unlabelled series */
	q = "time() * 2";
	assert_int_equal(promql_parse(q, strlen(q), &a, &e, &err), 0);
	assert_int_equal(promql_eval_range(e, &src, 0, 30000, 15000, &a, &v, &err), 0);
	promql_value_json(&v, &out);
	assert_string_equal(out.data, "{\"resultType\":\"matrix\",\"result\":[{\"metric\":{},\"values\":"
				      "[[0,\"0\"],[15,\"30\"],[30,\"60\"]]}]}");
	/* the gauge's lookback ends five minutes after its last sample */
	buf_reset(&out);
	q = "temperature{room=\"bath\"}";
	assert_int_equal(promql_parse(q, strlen(q), &a, &e, &err), 0);
	assert_int_equal(promql_eval_range(e, &src, 240000, 660000, 60000, &a, &v, &err), 0);
	promql_value_json(&v, &out);
	assert_string_equal(out.data, "{\"resultType\":\"matrix\",\"result\":[{\"metric\":{\"__name__\":\"temperature\",\"room\":\"bath\"},"
				      "\"values\":[[240,\"20\"],[300,\"20\"],[360,\"20\"],[420,\"20\"],[480,\"20\"],[540,\"20\"]]}]}");
	/* @ start() holds the first step's value; a subquery at every step */
	buf_reset(&out);
	q = "temperature{room=\"kitchen\"} @ start()";
	assert_int_equal(promql_parse(q, strlen(q), &a, &e, &err), 0);
	assert_int_equal(promql_eval_range(e, &src, 120000, 240000, 60000, &a, &v, &err), 0);
	promql_value_json(&v, &out);
	assert_string_equal(out.data, "{\"resultType\":\"matrix\",\"result\":[{\"metric\":{\"__name__\":\"temperature\",\"room\":\"kitchen\"},"
				      "\"values\":[[120,\"23\"],[180,\"23\"],[240,\"23\"]]}]}");
	buf_reset(&out);
	q = "max_over_time(temperature{room=\"kitchen\"}[2m:1m])";
	assert_int_equal(promql_parse(q, strlen(q), &a, &e, &err), 0);
	assert_int_equal(promql_eval_range(e, &src, 150000, 330000, 60000, &a, &v, &err), 0);
	promql_value_json(&v, &out);
	assert_string_equal(out.data, "{\"resultType\":\"matrix\",\"result\":[{\"metric\":{\"room\":\"kitchen\"},"
				      "\"values\":[[150,\"23\"],[210,\"23\"],[270,\"25\"],[330,\"25\"]]}]}");
	/* holt_winters refuses factors outside (0, 1) at run time */
	q = "holt_winters(temperature[5m], 1, 0.5)";
	assert_int_equal(promql_parse(q, strlen(q), &a, &e, &err), 0);
	buf_reset(&err);
	assert_int_equal(promql_eval_instant(e, &src, 600000, &a, &v, &err), OODA_EINVAL);
	assert_non_null(strstr(err.data, "invalid smoothing factor"));
	/* topk picks different series at different steps */
	q = "topk(1, temperature)";
	assert_int_equal(promql_parse(q, strlen(q), &a, &e, &err), 0);
	assert_int_equal(promql_eval_range(e, &src, 0, 600000, 60000, &a, &v, &err), 0);
	assert_int_equal(v.n_series, 1);
	/* errors */
	q = "temperature[5m]";
	assert_int_equal(promql_parse(q, strlen(q), &a, &e, &err), 0);
	assert_int_equal(promql_eval_range(e, &src, 0, 600000, 60000, &a, &v, &err), OODA_EINVAL);
	q = "temperature";
	assert_int_equal(promql_parse(q, strlen(q), &a, &e, &err), 0);
	assert_int_equal(promql_eval_range(e, &src, 0, 600000, 0, &a, &v, &err), OODA_EINVAL);
	assert_int_equal(promql_eval_range(e, &src, 0, 11000 * 1000, 1000, &a, &v, &err), OODA_ELIMIT);
	assert_int_equal(promql_eval_range(e, &src, 0, 10999 * 1000, 1000, &a, &v, &err), 0);
	q = "http_requests_total - on() group_left http_requests_total";
	assert_int_equal(promql_parse(q, strlen(q), &a, &e, &err), 0);
	buf_reset(&err);
	assert_int_equal(promql_eval_instant(e, &src, 600000, &a, &v, &err), OODA_EINVAL);
	assert_non_null(strstr(err.data, "duplicate series"));
	q = "rate(http_requests_total[5m]) or rate(new_total[5m])";
	assert_int_equal(promql_parse(q, strlen(q), &a, &e, &err), 0);
	assert_int_equal(promql_eval_instant(e, &src, 600000, &a, &v, &err), 0);
	q = "label_replace(http_requests_total, \"code\", \"\", \"code\", \".*\")";
	assert_int_equal(promql_parse(q, strlen(q), &a, &e, &err), 0);
	buf_reset(&err);
	assert_int_equal(promql_eval_instant(e, &src, 600000, &a, &v, &err), OODA_EINVAL);
	assert_non_null(strstr(err.data, "same labelset"));
	/* series limit */
	struct promql_source small = src;
	small.max_series = 2;
	q = "http_requests_total";
	assert_int_equal(promql_parse(q, strlen(q), &a, &e, &err), 0);
	assert_int_equal(promql_eval_instant(e, &small, 600000, &a, &v, &err), OODA_ELIMIT);
	buf_release(&err);
	buf_release(&out);
	arena_release(&a);
}

/* A source that remembers the window it was asked for. */
static int64_t last_from, last_to;
static int edge_select(void *ctx, const struct promql_matcher *m, size_t n, int64_t from_ms, int64_t to_ms,
		       struct arena *a, struct promql_series **out, size_t *n_out, struct buf *err)
{
	last_from = from_ms;
	last_to = to_ms;
	return mem_select(ctx, m, n, from_ms, to_ms, a, out, n_out, err);
}

/* Times at the ends of the representable range: no overflow, no wrap, no hang. */
static void test_time_edges(void **state)
{
	struct arena a;
	arena_init(&a, 0);
	struct buf err = BUF_INIT;
	struct promql_expr *e;
	struct promql_value v;
	struct promql_source es = src;
	es.select = edge_select;
	/* the largest offset the parser takes, at time 0 and at the last instant */
	const char *q = "temperature offset 292y";
	assert_int_equal(promql_parse(q, strlen(q), &a, &e, &err), 0);
	assert_int_equal(promql_eval_instant(e, &es, 0, &a, &v, &err), 0);
	assert_true(last_to == -INT64_C(292) * 31536000 * 1000);
	assert_int_equal(v.n_series, 0);
	q = "temperature offset -292y";
	assert_int_equal(promql_parse(q, strlen(q), &a, &e, &err), 0);
	assert_int_equal(promql_eval_instant(e, &es, INT64_MAX, &a, &v, &err), 0);
	assert_true(last_to == INT64_MAX); /* saturated, not wrapped to the distant past */
	q = "rate(http_requests_total[292y] offset 292y)";
	assert_int_equal(promql_parse(q, strlen(q), &a, &e, &err), 0);
	assert_int_equal(promql_eval_instant(e, &es, INT64_MIN + 5, &a, &v, &err), 0);
	assert_true(last_from == INT64_MIN);
	/* a range query over the last instants: one step, then it stops */
	q = "time()";
	assert_int_equal(promql_parse(q, strlen(q), &a, &e, &err), 0);
	assert_int_equal(promql_eval_range(e, &es, INT64_MAX, INT64_MAX, 1, &a, &v, &err), 0);
	assert_int_equal(v.n_series, 1);
	assert_int_equal(v.series[0].n_samples, 1);
	assert_int_equal(promql_eval_range(e, &es, INT64_MAX - 10, INT64_MAX, 7, &a, &v, &err), 0);
	assert_int_equal(v.series[0].n_samples, 2);
	/* a span that does not fit in an int64 is too many points, not a negative count */
	buf_reset(&err);
	assert_int_equal(promql_eval_range(e, &es, INT64_MIN, INT64_MAX, INT64_MAX, &a, &v, &err), OODA_ELIMIT);
	/* a histogram quantile over no buckets at all */
	q = "histogram_quantile(0.9, nothing_bucket)";
	assert_int_equal(promql_parse(q, strlen(q), &a, &e, &err), 0);
	assert_int_equal(promql_eval_instant(e, &es, 600000, &a, &v, &err), 0);
	assert_int_equal(v.n_series, 0);
	buf_release(&err);
	arena_release(&a);
}

static void test_parse_errors(void **state)
{
	static const struct {
		const char *q;
		int rc;
		const char *msg;
	} cases[] = {
		{ "up{job=\"x\",,}", OODA_EPARSE, "parse error at char 12: unexpected \",\", expected label name" },
		{ "up{job=\"x\"", OODA_EPARSE, "parse error at char 11: unexpected end of input, expected \",\" or \"}\"" },
		{ "up{job=}", OODA_EPARSE, "parse error at char 8: unexpected \"}\", expected string" },
		{ "up{job~\"x\"}", OODA_EPARSE, "parse error at char 7: unexpected character \"~\"" },
		{ "rate(up[5m)", OODA_EPARSE, "parse error at char 11: unexpected \")\", expected \"]\"" },
		{ "rate(up)", OODA_EPARSE, "parse error at char 6: expected type range vector in call to function \"rate\", got instant vector" },
		{ "1 +", OODA_EPARSE, "parse error at char 4: unexpected end of input, expected expression" },
		{ "foo bar", OODA_EPARSE, "parse error at char 5: unexpected \"bar\"" },
		{ "up[5x]", OODA_EPARSE, "parse error at char 4: bad number or duration syntax" },
		{ "1 > 2", OODA_EPARSE, "parse error at char 3: comparisons between scalars must use BOOL modifier" },
		{ "sum(up) by (1)", OODA_EPARSE, "parse error at char 13: unexpected \"1\", expected label name" },
		{ "nofn(up)", OODA_EPARSE, "parse error at char 1: unknown function with name \"nofn\"" },
		{ "{}", OODA_EPARSE, "parse error at char 1: vector selector must contain at least one non-empty matcher" },
		{ "{a=~\".*\"}", OODA_EPARSE, "at least one non-empty matcher" },
		{ "up{a=~\"(\"}", OODA_EPARSE, "parse error at char 7: invalid regular expression" },
		{ "\"abc", OODA_EPARSE, "parse error at char 1: unterminated quoted string" },
		{ "up offset", OODA_EPARSE, "parse error at char 10: unexpected end of input, expected duration" },
		{ "up[5m:0s]", OODA_EPARSE, "zero or negative subquery step" },
		{ "up[5m][10m:1m]", OODA_EPARSE, "parse error at char 7: subquery is only allowed on instant vector, got range vector" },
		{ "up[1y:1ms]", OODA_ELIMIT, "subquery has more than 11000 steps" },
		{ "up[5m:1m", OODA_EPARSE, "expected \"]\"" },
		{ "sum(up) offset 5m", OODA_EPARSE, "offset modifier must be preceded by an instant vector selector" },
		{ "sum(up) @ 100", OODA_EPARSE, "@ modifier must be preceded by an instant vector selector" },
		{ "up @ 100 @ 200", OODA_EPARSE, "@ <timestamp> may not be set multiple times" },
		{ "up @ foo", OODA_EPARSE, "expected timestamp, start() or end()" },
		{ "up @ 1e300", OODA_EPARSE, "timestamp out of bounds for @ modifier" },
		{ "label_join(up, \"1x\", \"-\", \"a\")", OODA_EPARSE, "invalid destination label name in label_join()" },
		{ "label_join(up, \"x\")", OODA_EPARSE, "expected 3 argument(s) in call to function \"label_join\"" },
		{ "holt_winters(up[5m], 0.5)", OODA_EPARSE, "expected 3 argument(s)" },
		{ "sort(up[5m])", OODA_EPARSE, "expected type instant vector in call to function \"sort\"" },
		{ "(up)[5m]", OODA_EPARSE, "parse error at char 5: ranges only allowed for vector selectors" },
		{ "rate(up[5m]) + up[5m]", OODA_EPARSE, "parse error at char 14: binary expression must contain only scalar and instant vector types" },
		{ "up and 1", OODA_EPARSE, "set operator \"and\" not allowed" },
		{ "up + bool up", OODA_EPARSE, "parse error at char 6: bool modifier can only be used on comparison operators" },
		{ "1 + on(a) up", OODA_EPARSE, "vector matching only allowed between instant vectors" },
		{ "up * group_left up", OODA_EPARSE, "group modifiers need on(...) or ignoring(...)" },
		{ "sum(up, up)", OODA_EPARSE, "parse error at char 7: unexpected \",\", expected \")\"" },
		{ "topk(up)", OODA_EPARSE, "expected type scalar in aggregation parameter, got instant vector" },
		{ "round(up, 1, 2)", OODA_EPARSE, "too many arguments in call to function \"round\"" },
		{ "clamp(up, 1)", OODA_EPARSE, "expected 3 argument(s) in call to function \"clamp\"" },
		{ "", OODA_EPARSE, "parse error at char 1: no expression found in input" },
		{ "up{a=\"\\q\"}", OODA_EPARSE, "parse error at char 7: unknown escape sequence" },
		{ "x offset 5m[1m]", OODA_EPARSE, "the range must come before the offset and @ modifiers" },
		{ "label_replace(up, \"1x\", \"\", \"a\", \".*\")", OODA_EPARSE, "invalid destination label name" },
		{ "sum by (a) up", OODA_EPARSE, "parse error at char 12: unexpected \"up\", expected \"(\"" },
		/* durations past the representable range are refused, not wrapped */
		{ "up offset 1000000y", OODA_EPARSE, "parse error at char 11: duration \"1000000y\" is longer than the 292 years" },
		{ "rate(up[300y])", OODA_EPARSE, "parse error at char 9: duration \"300y\" is longer than the 292 years" },
	};
	struct arena a;
	arena_init(&a, 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf err = BUF_INIT;
		struct promql_expr *e;
		int rc = promql_parse(cases[i].q, strlen(cases[i].q), &a, &e, &err);
		if (rc != cases[i].rc || !strstr(err.data, cases[i].msg))
			fail_msg("%s: rc %d, err \"%s\", want \"%s\"", cases[i].q, rc, err.data, cases[i].msg);
		buf_release(&err);
	}
	/* nesting and length limits */
	struct buf q = BUF_INIT, err = BUF_INIT;
	for (int i = 0; i < 200; i++)
		buf_addch(&q, '(');
	buf_addch(&q, '1');
	for (int i = 0; i < 200; i++)
		buf_addch(&q, ')');
	struct promql_expr *e;
	assert_int_equal(promql_parse(q.data, q.len, &a, &e, &err), OODA_ELIMIT);
	buf_reset(&q);
	for (int i = 0; i < 100; i++)
		buf_addch(&q, '(');
	buf_addch(&q, '1');
	for (int i = 0; i < 100; i++)
		buf_addch(&q, ')');
	assert_int_equal(promql_parse(q.data, q.len, &a, &e, &err), 0);
	buf_reset(&q);
	buf_adds(&q, "1");
	while (q.len < PROMQL_MAX_QUERY_LEN)
		buf_adds(&q, " + 1");
	assert_int_equal(promql_parse(q.data, q.len, &a, &e, &err), OODA_ELIMIT);
	/* a long flat chain evaluates (recursion is bounded by the tree height) */
	buf_reset(&q);
	buf_adds(&q, "temperature");
	for (int i = 0; i < 1000; i++)
		buf_adds(&q, " + temperature");
	assert_int_equal(promql_parse(q.data, q.len, &a, &e, &err), 0);
	struct promql_value v;
	assert_int_equal(promql_eval_instant(e, &src, 600000, &a, &v, &err), 0);
	assert_int_equal(v.n_series, 1);
	assert_true(v.series[0].samples[0].v == 30 * 1001);
	buf_adds(&q, " + 1");
	for (int i = 0; i < 30; i++)
		buf_adds(&q, " + temperature");
	assert_int_equal(promql_parse(q.data, q.len, &a, &e, &err), OODA_ELIMIT);
	buf_release(&q);
	buf_release(&err);
	arena_release(&a);
}

static void test_parse_ok(void **state)
{
	static const char *const ok[] = {
		"up{job=\"a\",}",
		"sum without () (up)",
		"sum(up) by (job,)",
		"count_values by (job) (\"v\", up)",
		"rate(up[1h30m] offset -5m)",
		"up offset 1w",
		"avg_over_time(up[1y])",
		"a / ignoring(x) group_left b",
		"a or b and c unless d",
		"a > bool on(x) group_right(y) b",
		"Inf + nan",
		"(1 > bool 0) + up",
		"'single'",
		"`raw\\n`",
		"up{on=\"x\", by=\"y\"}",
		"histogram_quantile(0.99, sum by (le, job) (rate(x_bucket[5m])))",
		"-(-up)",
		"+up",
		"up # comment\n + 1",
		"up[5m:]",
		"rate(up[5m])[30m:1m]",
		"max_over_time((up > 0)[1h:5m] offset 1h @ 1609746000)",
		"up @ start()",
		"up @ end() offset 5m",
		"rate(up[5m] @ 100)",
		"up[5m:1m] @ -100",
		"label_join(up, \"x\", \",\", \"a\", \"b\", \"c\", \"d\", \"e\")",
		"double_exponential_smoothing(up[1h], 0.1, 0.9)",
		"sort_desc(sum by (job) (up))",
		"max_over_time(sum(rate(up[1m]))[10m:1m])",
	};
	struct arena a;
	arena_init(&a, 0);
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct buf err = BUF_INIT;
		struct promql_expr *e;
		if (promql_parse(ok[i], strlen(ok[i]), &a, &e, &err))
			fail_msg("%s: %s", ok[i], err.data);
		buf_release(&err);
	}
	struct promql_matcher *m;
	size_t n;
	struct buf err = BUF_INIT;
	const char *q = "up{job=~\"a|b\", x!=\"\"}";
	assert_int_equal(promql_parse_selector(q, strlen(q), &a, &m, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(m[0].name, "__name__");
	struct promql_label l[] = { { "__name__", "up" }, { "job", "b" }, { "x", "1" } };
	assert_true(promql_matchers_match(m, n, l, 3));
	l[1].value = "ab";
	assert_false(promql_matchers_match(m, n, l, 3));
	assert_int_equal(promql_parse_selector("rate(up[5m])", 12, &a, &m, &n, &err), OODA_EPARSE);
	buf_release(&err);
	arena_release(&a);
}

/* 1,000 counters x 1 h of 15 s samples, rate over 5 m at every 15 s: one
 * result series per counter with a rate at every step but the first. The
 * speed of this query is measured in bench/promql, not here. */
static void test_rate_many_series(void **state)
{
	arena_release(&mem.a);
	arena_init(&mem.a, 0);
	mem.n = 0;
	double v[241];
	char spec[64];
	for (int s = 0; s < 1000; s++) {
		for (int k = 0; k < 241; k++)
			v[k] = (double)k * (s + 1);
		snprintf(spec, sizeof(spec), "__name__=big_total,job=j,instance=i%d", s);
		add(spec, 0, 15, v, 241);
	}
	struct arena a;
	arena_init(&a, 0);
	struct buf err = BUF_INIT;
	struct promql_expr *e;
	const char *q = "rate(big_total[5m])";
	assert_int_equal(promql_parse(q, strlen(q), &a, &e, &err), 0);
	struct promql_value out;
	assert_int_equal(promql_eval_range(e, &src, 0, 3600000, 15000, &a, &out, &err), 0);
	assert_int_equal(out.n_series, 1000);
	assert_int_equal(out.series[0].n_samples, 240); /* no rate at t = 0 */
	buf_release(&err);
	arena_release(&a);
	arena_release(&mem.a);
	build_data();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_cases),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_range_query),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_time_edges),
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_rate_many_series),
	};
	return cmocka_run_group_tests_name("promql", tests, setup, teardown);
}
