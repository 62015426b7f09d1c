/*
 * bench_redfast: the fast RED change detector's count test
 * (src/detect/redfast.c, its defaults) on generated one-second slots, to
 * check its parameters against what they promise:
 *
 *   quiet     healthy services for many service-days: requests per slot
 *             Poisson around the rate, which itself wanders (±10 % jitter
 *             each slot and a daily-like wave of ±50 %), errors binomial
 *             around a baseline that itself drifts slowly (±50 % over hours);
 *             every slot the signal turns active counts as a false alarm;
 *   blips     a blip of 2 s (three slots touched: a half, a whole, a half)
 *             of a given failure ratio on a healthy service, many times;
 *   steps     a fault from a random phase on: the slots until it fires.
 *
 * Usage: bench_redfast [SERVICE_DAYS] (default 20 per quiet case). Prints
 * Markdown tables. Deterministic (fixed seeds).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/xalloc.h"
#include "detect/redfast.h"

static uint64_t rng = 88172645463325252ULL;

static double uniform(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return ((double)(rng >> 11) + 0.5) / 9007199254740992.0;
}

static double gauss(void)
{
	return sqrt(-2 * log(uniform())) * cos(2 * M_PI * uniform());
}

/* A Poisson draw: inversion below 30, a rounded normal above. */
static double poisson(double mean)
{
	if (mean <= 0)
		return 0;
	if (mean > 30) {
		double x = floor(mean + sqrt(mean) * gauss() + 0.5);
		return x < 0 ? 0 : x;
	}
	double l = exp(-mean), p = 1;
	double k = 0;
	do {
		k++;
		p *= uniform();
	} while (p > l);
	return k - 1;
}

/* A binomial draw: exact below 64 trials, else Poisson or normal. */
static double binomial(double n, double p)
{
	if (n <= 0 || p <= 0)
		return 0;
	if (n < 64) {
		double k = 0;
		for (int i = 0; i < (int)n; i++)
			k += uniform() < p;
		return k;
	}
	if (n * p < 30)
		return fmin(n, poisson(n * p));
	double x = floor(n * p + sqrt(n * p * (1 - p)) * gauss() + 0.5);
	return x < 0 ? 0 : x > n ? n : x;
}

/* The rate and the error ratio of a healthy service at slot t. */
static void healthy(double rps, double base, long t, double *n, double *p)
{
	double wave = 1 + 0.5 * sin(2 * M_PI * (double)t / 86400.0);
	double jitter = 1 + 0.1 * (2 * uniform() - 1);
	*n = poisson(rps * wave * jitter);
	*p = base * (1 + 0.5 * sin(2 * M_PI * (double)t / 14400.0 + 1));
}

static void quiet(int days)
{
	static const double rates[] = { 2, 20, 50, 200, 1000 };
	static const double bases[] = { 0, 0.001, 0.005, 0.02, 0.05 };
	printf("| rate (req/s) | baseline | service-days | false alarms | per service-day |\n|---|---|---|---|---|\n");
	for (size_t r = 0; r < sizeof(rates) / sizeof(rates[0]); r++)
		for (size_t b = 0; b < sizeof(bases) / sizeof(bases[0]); b++) {
			struct redfast_config c = { 0 };
			struct redfast_test t = { 0 };
			long alarms = 0;
			bool was = false;
			for (long s = 0; s < (long)days * 86400; s++) {
				double n, p;
				healthy(rates[r], bases[b], s, &n, &p);
				bool on = redfast_test_update(&t, &c, n, binomial(n, p));
				alarms += on && !was;
				was = on;
			}
			printf("| %g | %g %% | %d | %ld | %.3g |\n", rates[r], bases[b] * 100, days, alarms,
			       (double)alarms / days);
		}
}

/* Runs a healthy warm-up of 600 slots, then `fault` slots of ratio q (slot fractions: the first and the
 * last slot weigh `edge`), then 120 healthy slots; returns the first slot after the fault's start at which
 * the signal was active (0-based), or -1. */
static int episode(double rps, double base, double q, int fault, double edge)
{
	struct redfast_config c = { 0 };
	struct redfast_test t = { 0 };
	long s = 0;
	for (; s < 600; s++) {
		double n, p;
		healthy(rps, base, s, &n, &p);
		redfast_test_update(&t, &c, n, binomial(n, p));
	}
	int first = -1;
	for (int i = 0; i < fault + 120; i++, s++) {
		double n, p;
		healthy(rps, base, s, &n, &p);
		double k;
		if (i < fault) {
			double w = (i == 0 || i == fault - 1) && fault > 1 ? edge : 1;
			double nf = floor(n * w + 0.5);
			k = binomial(nf, q) + binomial(n - nf, p);
		} else {
			k = binomial(n, p);
		}
		if (redfast_test_update(&t, &c, n, k) && first < 0)
			first = i;
	}
	return first;
}

static void blips(int trials)
{
	static const double rates[] = { 20, 50, 200 };
	static const double ratios[] = { 0.05, 0.2, 1.0 };
	printf("\n| blip of 2 s (3 slots: ½, 1, ½) | rate (req/s) | baseline | trials | fired |\n|---|---|---|---|---|\n");
	for (size_t q = 0; q < sizeof(ratios) / sizeof(ratios[0]); q++)
		for (size_t r = 0; r < sizeof(rates) / sizeof(rates[0]); r++) {
			int fired = 0;
			for (int i = 0; i < trials; i++)
				fired += episode(rates[r], 0.002, ratios[q], 3, 0.5) >= 0;
			printf("| %g %% failing | %g | 0.2 %% | %d | %d |\n", ratios[q] * 100, rates[r], trials, fired);
		}
}

static int cmp(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

static void steps(int trials)
{
	static const double rates[] = { 5, 20, 50, 200 };
	static const double ratios[] = { 0.03, 0.05, 0.1, 0.2, 0.3 };
	printf("\n| step | rate (req/s) | baseline | trials | fired | slots to fire: median | 90th | worst |\n"
	       "|---|---|---|---|---|---|---|---|\n");
	int *v = xmalloc(sizeof(int) * (size_t)trials);
	for (size_t q = 0; q < sizeof(ratios) / sizeof(ratios[0]); q++)
		for (size_t r = 0; r < sizeof(rates) / sizeof(rates[0]); r++) {
			int m = 0;
			for (int i = 0; i < trials; i++) {
				int f = episode(rates[r], 0.002, ratios[q], 300, 1);
				if (f >= 0)
					v[m++] = f + 1;
			}
			qsort(v, (size_t)m, sizeof(int), cmp);
			if (m)
				printf("| %g %% failing | %g | 0.2 %% | %d | %d | %d | %d | %d |\n", ratios[q] * 100, rates[r],
				       trials, m, v[m / 2], v[(m * 9) / 10], v[m - 1]);
			else
				printf("| %g %% failing | %g | 0.2 %% | %d | 0 | — | — | — |\n", ratios[q] * 100, rates[r],
				       trials);
		}
	free(v);
}

int main(int argc, char **argv)
{
	int days = argc > 1 ? atoi(argv[1]) : 20;
	if (days < 1)
		days = 1;
	quiet(days);
	blips(2000);
	steps(1000);
	return 0;
}
