/*
 * bench_redfast: the fast RED change detector's count test
 * (src/detect/redfast.c, its defaults: 250 ms slots of span time) on
 * generated slots, to check its parameters against what they promise:
 *
 *   quiet     healthy services for many service-days: requests per slot
 *             Poisson around the rate, which itself wanders (±10 % jitter
 *             each second and a daily-like wave of ±50 %), errors binomial
 *             around a baseline that itself drifts slowly (±50 % over hours);
 *             every slot the signal turns active counts as a false alarm;
 *   blips     a blip of 2 s at a random phase, and its requests in flight
 *             ending up to 100 ms after it, of a given failure ratio on a
 *             healthy service, many times;
 *   steps     a fault from a random phase on: the seconds from its start to
 *             the end of the slot at which the signal fired.
 *
 * Usage: bench_redfast [SERVICE_DAYS [SLOT_MS HOLD_SLOTS]] (default 20 per
 * quiet case; the slot and hold of the defaults, or others to compare, e.g.
 * 1000 4 for one-second slots held four as before span time). Prints
 * Markdown tables. Deterministic (fixed seeds).
 */
#include <math.h>
#include <stdbool.h>
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

static struct redfast_config cfg; /* the defaults, or the slot and hold asked for */
static double slot_s;             /* its slot width, s */

/* The requests of a healthy service in slot t (of slot_s) and its error ratio then. */
static double jitter_now = 1;
static void healthy(double rps, double base, long t, double *n, double *p)
{
	double sec = (double)t * slot_s;
	double wave = 1 + 0.5 * sin(2 * M_PI * sec / 86400.0);
	if (t % (long)(1 / slot_s + 0.5) == 0) /* the rate's jitter, once a second */
		jitter_now = 1 + 0.1 * (2 * uniform() - 1);
	*n = poisson(rps * slot_s * wave * jitter_now);
	*p = base * (1 + 0.5 * sin(2 * M_PI * sec / 14400.0 + 1));
}

static bool feed(struct redfast_test *t, const struct redfast_config *c, double n, double k)
{
	return n > 0 ? redfast_test_update(t, c, n, k) : redfast_test_idle(t, c);
}

static void quiet(int days)
{
	static const double rates[] = { 2, 20, 50, 200, 1000 };
	static const double bases[] = { 0, 0.001, 0.005, 0.02, 0.05 };
	printf("| rate (req/s) | baseline | service-days | false alarms | per service-day |\n|---|---|---|---|---|\n");
	for (size_t r = 0; r < sizeof(rates) / sizeof(rates[0]); r++)
		for (size_t b = 0; b < sizeof(bases) / sizeof(bases[0]); b++) {
			struct redfast_config c = cfg;
			struct redfast_test t = { 0 };
			long alarms = 0;
			bool was = false;
			for (long s = 0; s < (long)((double)days * 86400 / slot_s); s++) {
				double n, p;
				healthy(rates[r], bases[b], s, &n, &p);
				bool on = feed(&t, &c, n, binomial(n, p));
				alarms += on && !was;
				was = on;
			}
			printf("| %g | %g %% | %d | %ld | %.3g |\n", rates[r], bases[b] * 100, days, alarms,
			       (double)alarms / days);
		}
}

/*
 * Runs a healthy warm-up of 10 minutes, then a fault of ratio q from a random
 * phase of a slot for `fault_s` seconds (its requests in flight ending up to
 * `tail_s` after it), then 30 s healthy; returns the seconds from the fault's
 * start to the end of the slot at which the signal first turned active, or -1.
 */
static double episode(double rps, double base, double q, double fault_s, double tail_s)
{
	struct redfast_config c = cfg;
	struct redfast_test t = { 0 };
	long s = 0;
	for (; (double)s * slot_s < 600; s++) {
		double n, p;
		healthy(rps, base, s, &n, &p);
		feed(&t, &c, n, binomial(n, p));
	}
	double from = (double)s * slot_s + slot_s * uniform();
	double to = from + fault_s + tail_s * uniform();
	for (; (double)s * slot_s < to + 30; s++) {
		double n, p;
		healthy(rps, base, s, &n, &p);
		/* the share of the slot's requests that ended inside the fault */
		double a = (double)s * slot_s, b = a + slot_s;
		double in = fmax(0, fmin(b, to) - fmax(a, from)) / slot_s;
		double nf = binomial(n, in);
		double k = binomial(nf, q) + binomial(n - nf, p);
		if (feed(&t, &c, n, k))
			return b - from;
	}
	return -1;
}

static void blips(int trials)
{
	static const double rates[] = { 20, 50, 200 };
	static const double ratios[] = { 0.05, 0.2, 1.0 };
	printf("\n| blip of 2 s, random phase, + 0–100 ms in flight | rate (req/s) | baseline | trials | fired |\n"
	       "|---|---|---|---|---|\n");
	for (size_t q = 0; q < sizeof(ratios) / sizeof(ratios[0]); q++)
		for (size_t r = 0; r < sizeof(rates) / sizeof(rates[0]); r++) {
			int fired = 0;
			for (int i = 0; i < trials; i++)
				fired += episode(rates[r], 0.002, ratios[q], 2, 0.1) >= 0;
			printf("| %g %% failing | %g | 0.2 %% | %d | %d |\n", ratios[q] * 100, rates[r], trials, fired);
		}
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void steps(int trials)
{
	static const double rates[] = { 5, 20, 50, 200 };
	static const double ratios[] = { 0.03, 0.05, 0.1, 0.2, 0.3 };
	printf("\n| step | rate (req/s) | baseline | trials | fired | seconds to fire: median | 90th | worst |\n"
	       "|---|---|---|---|---|---|---|---|\n");
	double *v = xmalloc(sizeof(double) * (size_t)trials);
	for (size_t q = 0; q < sizeof(ratios) / sizeof(ratios[0]); q++)
		for (size_t r = 0; r < sizeof(rates) / sizeof(rates[0]); r++) {
			int m = 0;
			for (int i = 0; i < trials; i++) {
				double f = episode(rates[r], 0.002, ratios[q], 300, 0);
				if (f >= 0)
					v[m++] = f;
			}
			qsort(v, (size_t)m, sizeof(double), cmp);
			if (m)
				printf("| %g %% failing | %g | 0.2 %% | %d | %d | %.2f | %.2f | %.2f |\n", ratios[q] * 100,
				       rates[r], trials, m, v[m / 2], v[(m * 9) / 10], v[m - 1]);
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
	if (argc > 3) {
		cfg.slot_ns = (int64_t)atoi(argv[2]) * 1000000;
		cfg.hold_slots = (uint32_t)atoi(argv[3]);
	}
	redfast_config_defaults(&cfg);
	struct redfast_config c = cfg;
	slot_s = (double)c.slot_ns / 1e9;
	printf("slots of %g s, hold %u slots, warm-up %u slots, half-life %g slots\n\n", slot_s, c.hold_slots,
	       c.warmup_slots, c.half_life_slots);
	quiet(days);
	blips(2000);
	steps(1000);
	return 0;
}
