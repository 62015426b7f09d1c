/*
 * The load generator's rate curve (see wave.h): what the simulated users do.
 * The generator in load.c asks wave_interval for the gap before each request.
 */
#include "wave.h"

#include <math.h>

#include "traceparent.h"

void wave_init(struct wave *w, double rps)
{
	w->rps = rps > 0 ? rps : 1;
	w->amplitude = 0.3;
	w->period_s = 600;
	w->jitter = 0.1;
	w->multiplier = 1;
}

static double clampd(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

double wave_rate(const struct wave *w, double t)
{
	double amp = clampd(w->amplitude, 0, 0.95);
	double period = w->period_s > 0 ? w->period_s : 1;
	double mult = w->multiplier > 0 ? w->multiplier : 1;
	double rps = w->rps > 0 ? w->rps : 1;
	return rps * mult * (1 + amp * sin(2 * M_PI * t / period));
}

double wave_rate_jittered(const struct wave *w, double t, uint64_t *rng)
{
	double u = sim_rand01(rng) * 2 - 1;
	double r = wave_rate(w, t) * (1 + u * clampd(w->jitter, 0, 0.95));
	return r > 1e-9 ? r : 1e-9;
}

double wave_interval(const struct wave *w, double t, uint64_t *rng)
{
	return clampd(1.0 / wave_rate_jittered(w, t, rng), 0.0005, 10);
}
