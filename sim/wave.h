/*
 * The load generator's shape: a steady request rate with a daily-like wave
 * compressed into a short period, per-second jitter, and a multiplier that the
 * traffic-spike fault raises. Pure arithmetic on a caller-held random state, so
 * the unit tests can check the mean, the bounds and the spike without a clock.
 */
#ifndef OODA_SIM_WAVE_H
#define OODA_SIM_WAVE_H

#include <stdint.h>

struct wave {
	double rps;        /* mean requests per second (> 0) */
	double amplitude;  /* wave depth as a share of rps, in [0, 1) */
	double period_s;   /* seconds for one "day" (> 0) */
	double jitter;     /* relative noise per draw, in [0, 1) */
	double multiplier; /* 1 normally; 5 during a traffic spike */
};

/* Fills w with the defaults: rps, amplitude 0.3, period 600 s, jitter 0.1, ×1. */
void wave_init(struct wave *w, double rps);

/*
 * The smooth rate at t seconds since the start, without jitter:
 * rps × multiplier × (1 + amplitude × sin(2π t / period)). Always > 0.
 */
double wave_rate(const struct wave *w, double t);

/*
 * The rate at t with jitter drawn from *rng: wave_rate(t) × (1 + u × jitter)
 * for u uniform in [-1, 1). Always > 0.
 */
double wave_rate_jittered(const struct wave *w, double t, uint64_t *rng);

/*
 * Seconds until the next request at t: 1 / wave_rate_jittered(t), clamped to
 * [0.0005 s, 10 s] so that a bad setting never stalls or spins the generator.
 */
double wave_interval(const struct wave *w, double t, uint64_t *rng);

#endif
