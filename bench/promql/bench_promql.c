/*
 * Microbenchmark for PromQL range evaluation: rate(big_total[5m]) over
 * 1,000 counters holding one hour of 15 s samples, evaluated at every
 * 15 s step (240 output points per series), from an in-memory
 * promql_source so that only the evaluator is measured. Runs five times
 * and prints the median wall-clock and thread CPU milliseconds (the
 * machine may be shared; the CPU figure is the steadier one).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/arena.h"
#include "core/buf.h"
#include "query/promql.h"

#define N_SERIES 1000
#define N_SAMPLES 241
#define RUNS 5

static struct promql_series series[N_SERIES];
static struct arena mem;

static int mem_select(void *ctx, const struct promql_matcher *m, size_t n, int64_t from_ms,
		      int64_t to_ms, struct arena *a, struct promql_series **out, size_t *n_out,
		      struct buf *err)
{
	(void)ctx;
	(void)err;
	*out = arena_zalloc(a, (N_SERIES + 1) * sizeof(**out));
	*n_out = 0;
	for (size_t i = 0; i < N_SERIES; i++) {
		const struct promql_series *s = &series[i];
		if (!promql_matchers_match(m, n, s->labels, s->n_labels))
			continue;
		struct promql_series *o = &(*out)[(*n_out)++];
		o->labels = s->labels;
		o->n_labels = s->n_labels;
		o->samples = arena_alloc(a, (s->n_samples + 1) * sizeof(*o->samples));
		for (uint32_t k = 0; k < s->n_samples; k++)
			if (s->samples[k].t_ms >= from_ms && s->samples[k].t_ms <= to_ms)
				o->samples[o->n_samples++] = s->samples[k];
	}
	return 0;
}

static void build_data(void)
{
	char inst[32];
	arena_init(&mem, 0);
	for (int s = 0; s < N_SERIES; s++) {
		struct promql_series *p = &series[s];
		p->labels = arena_zalloc(&mem, 3 * sizeof(*p->labels));
		snprintf(inst, sizeof(inst), "i%d", s);
		p->labels[0] = (struct promql_label){ "__name__", "big_total" };
		p->labels[1] = (struct promql_label){ "instance", arena_strndup(&mem, inst, strlen(inst)) };
		p->labels[2] = (struct promql_label){ "job", "j" };
		p->n_labels = 3;
		p->samples = arena_alloc(&mem, N_SAMPLES * sizeof(*p->samples));
		for (int k = 0; k < N_SAMPLES; k++)
			p->samples[k] = (struct promql_sample){ (int64_t)k * 15000, (double)k * (s + 1) };
		p->n_samples = N_SAMPLES;
	}
}

static double now_ms(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(void)
{
	struct promql_source src = { .version = 1, .ctx = NULL, .select = mem_select };
	const char *q = "rate(big_total[5m])";
	double wall[RUNS], cpu[RUNS];
	build_data();
	for (int r = 0; r < RUNS; r++) {
		struct arena a;
		struct buf err = BUF_INIT;
		struct promql_expr *e;
		struct promql_value out;
		arena_init(&a, 0);
		if (promql_parse(q, strlen(q), &a, &e, &err)) {
			fprintf(stderr, "bench_promql: %s: %s\n", q, err.data);
			return 1;
		}
		double w0 = now_ms(CLOCK_MONOTONIC), c0 = now_ms(CLOCK_THREAD_CPUTIME_ID);
		int rc = promql_eval_range(e, &src, 0, 3600000, 15000, &a, &out, &err);
		cpu[r] = now_ms(CLOCK_THREAD_CPUTIME_ID) - c0;
		wall[r] = now_ms(CLOCK_MONOTONIC) - w0;
		if (rc || out.n_series != N_SERIES) {
			fprintf(stderr, "bench_promql: eval failed (%d): %s\n", rc, err.data);
			return 1;
		}
		buf_release(&err);
		arena_release(&a);
	}
	qsort(wall, RUNS, sizeof(wall[0]), cmp_d);
	qsort(cpu, RUNS, sizeof(cpu[0]), cmp_d);
	printf("| query                                   | series x steps | wall ms | cpu ms |\n");
	printf("|-----------------------------------------|----------------|---------|--------|\n");
	printf("| rate(big_total[5m]), 1 h at 15 s steps  | %d x 240     | %7.1f | %6.1f |\n", N_SERIES,
	       wall[RUNS / 2], cpu[RUNS / 2]);
	arena_release(&mem);
	return 0;
}
