/*
 * Microbenchmark for flag evaluation: evaluations per second on one thread
 * for a static boolean flag, a targeted flag (if/== on a context string),
 * and a flag split with fractional over $flagd.flagKey + a context value.
 * Each scenario runs three times and the table shows the median, both per
 * wall-clock second and per second of the thread's CPU time (the build
 * machine is shared, so the CPU-time figure is the steadier one).
 */
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "change/flag.h"

#define RUNS 3

static const char *doc =
	"{\"flags\":{"
	"\"simple-bool\":{\"state\":\"ENABLED\",\"variants\":{\"on\":true,\"off\":false},\"defaultVariant\":\"on\"},"
	"\"targeted\":{\"state\":\"ENABLED\",\"variants\":{\"a\":\"A\",\"b\":\"B\"},\"defaultVariant\":\"a\","
	"\"targeting\":{\"if\":[{\"==\":[{\"var\":\"email\"},\"x@example.com\"]},\"b\",null]}},"
	"\"fractional\":{\"state\":\"ENABLED\",\"variants\":{\"c\":\"c\",\"d\":\"d\",\"h\":\"h\",\"s\":\"s\"},"
	"\"defaultVariant\":\"c\",\"targeting\":{\"fractional\":["
	"{\"cat\":[{\"var\":\"$flagd.flagKey\"},{\"var\":\"user.name\"}]},"
	"[\"c\",25],[\"d\",25],[\"h\",25],[\"s\",25]]}}"
	"}}";

static double now_s(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double run(const struct flag_set *fs, const char *key, json_t *ctx, long n, double *cpu_rate)
{
	double rates[RUNS], crates[RUNS];
	struct flag_result r;
	for (int k = 0; k < RUNS; k++) {
		unsigned long sink = 0;
		double t0 = now_s(CLOCK_MONOTONIC), c0 = now_s(CLOCK_THREAD_CPUTIME_ID);
		for (long i = 0; i < n; i++) {
			flag_evaluate(fs, key, ctx, &r);
			sink += (uintptr_t)r.variant;
		}
		double dt = now_s(CLOCK_MONOTONIC) - t0, dc = now_s(CLOCK_THREAD_CPUTIME_ID) - c0;
		crates[k] = n / dc;
		if (!sink)
			fprintf(stderr, "no variants\n");
		rates[k] = n / dt;
	}
	qsort(rates, RUNS, sizeof(rates[0]), cmp_d);
	qsort(crates, RUNS, sizeof(crates[0]), cmp_d);
	*cpu_rate = crates[RUNS / 2];
	return rates[RUNS / 2];
}

int main(void)
{
	struct flag_set *fs;
	struct buf err = BUF_INIT;
	if (flag_set_load(doc, strlen(doc), FLAG_LOAD_STRICT, &fs, &err)) {
		fprintf(stderr, "load: %s\n", err.data);
		return 1;
	}
	json_t *ctx = json_pack("{s:s, s:s, s:{s:s}}", "targetingKey", "user-42", "email", "x@example.com",
				"user", "name", "jack");
	static const struct {
		const char *label, *key;
		long n;
	} rows[] = {
		{ "simple boolean", "simple-bool", 20000000 },
		{ "targeting (if/==)", "targeted", 5000000 },
		{ "fractional (4-way)", "fractional", 5000000 },
	};
	printf("%-22s %18s %18s %10s\n", "flag", "evals/s (wall)", "evals/s (cpu)", "ns (cpu)");
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		double cpu, wall = run(fs, rows[i].key, ctx, rows[i].n, &cpu);
		printf("%-22s %18.0f %18.0f %10.1f\n", rows[i].label, wall, cpu, 1e9 / cpu);
	}
	json_decref(ctx);
	flag_set_destroy(fs);
	buf_release(&err);
	return 0;
}
