#!/usr/bin/env python3
"""Synthetic NAB-style corpus for the anomaly bench (standard library only).

Writes OUT_DIR/data/CATEGORY/NAME.csv ("timestamp,value", 5-minute points,
two weeks each) and OUT_DIR/combined_windows.json, so that
`NAB_CORPUS=OUT_DIR bench/nab/run BUILD --cv` scores the engine on it. The
kinds of behaviour are those of real service metrics the shared corpus
lacks: persistent level shifts, slow drifts, changes in variance, heavy
bursty counts (traffic-like and social-media-like) that must not alert, and
daily/weekly seasonality. Every file is generated from a fixed seed, so the
corpus is the same on every machine.

Labels follow NAB: each anomaly is the point where the behaviour starts;
its window is centred on it and is 10% of the file's length divided by the
number of anomalies in the file wide. Files in a "...Quiet" category have
no anomaly: there the engine can only lose points by alerting.
"""
import json
import math
import os
import random
import sys

N = 4032                      # two weeks of 5-minute points
STEP = 300                    # seconds
START = 1_400_000_400         # 2014-05-13 16:20:00 UTC, a multiple of STEP


def daily(i, amp):
    return amp * math.sin(2 * math.pi * (i % 288) / 288.0)


def weekly(i, amp):
    day = (i // 288) % 7
    return -amp if day in (5, 6) else 0.0


def poisson(rng, lam):
    """Poisson draw; normal approximation above 50 (it is only noise)."""
    if lam <= 0:
        return 0
    if lam > 50:
        return max(0, int(round(rng.gauss(lam, math.sqrt(lam)))))
    k, p, lim = 0, 1.0, math.exp(-lam)
    while True:
        p *= rng.random()
        if p <= lim:
            return k
        k += 1


def anomaly_at(rng):
    return rng.randrange(int(0.3 * N), int(0.9 * N))


# Each generator returns (values, anomaly indexes).

def level_shift(rng):
    base, sd = rng.uniform(20, 80), rng.uniform(1, 4)
    a = anomaly_at(rng)
    shift = rng.choice((-1, 1)) * rng.uniform(4, 8) * sd
    v = [base + daily(i, 3 * sd) + rng.gauss(0, sd) + (shift if i >= a else 0) for i in range(N)]
    return v, [a]


def drift(rng):
    base, sd = rng.uniform(20, 80), rng.uniform(1, 3)
    a = anomaly_at(rng)
    slope = rng.choice((-1, 1)) * rng.uniform(8, 15) * sd / 288.0   # 8-15 sd per day
    v = [base + rng.gauss(0, sd) + (slope * (i - a) if i >= a else 0) for i in range(N)]
    return v, [a]


def variance_change(rng):
    base, sd = rng.uniform(20, 80), rng.uniform(1, 3)
    a = anomaly_at(rng)
    factor = rng.uniform(3, 5)
    v = [base + daily(i, 2 * sd) + rng.gauss(0, sd * (factor if i >= a else 1)) for i in range(N)]
    return v, [a]


def seasonal_break(rng):
    """Daily and weekly pattern; one day the peak does not come (a dead job, an outage)."""
    base, amp = rng.uniform(40, 80), rng.uniform(10, 25)
    sd = amp / 10
    a = (anomaly_at(rng) // 288) * 288 + 60      # before the daily peak at slot 72
    v = []
    for i in range(N):
        x = base + weekly(i, amp / 2) + rng.gauss(0, sd)
        if not (a <= i < a + 96):
            x += daily(i, amp)
        v.append(x)
    return v, [a + 12]


def traffic(rng, anomaly):
    """Request counts: Poisson around a daily and weekly rate, with bursts of load."""
    rate = rng.uniform(50, 400)
    a = anomaly_at(rng) if anomaly else -1
    v = []
    burst = 0
    for i in range(N):
        lam = rate * (1 + 0.5 * math.sin(2 * math.pi * (i % 288) / 288.0))
        lam *= 0.6 if (i // 288) % 7 in (5, 6) else 1.0
        if burst == 0 and rng.random() < 0.01:
            burst = rng.randint(1, 4)
        if burst:
            lam *= rng.uniform(1.3, 2.0)
            burst -= 1
        if anomaly and a <= i < a + 36:
            lam *= 0.05                          # an outage: traffic collapses for 3 hours
        v.append(poisson(rng, lam))
    return v, [a] if anomaly else []


def social(rng, anomaly):
    """Mention counts: low Poisson rate times heavy-tailed (log-normal) bursts."""
    rate = rng.uniform(5, 30)
    a = anomaly_at(rng) if anomaly else -1
    v = []
    for i in range(N):
        lam = rate * (1 + 0.3 * math.sin(2 * math.pi * (i % 288) / 288.0))
        lam *= math.exp(rng.gauss(0, 0.5))
        if anomaly and a <= i < a + 48:
            lam *= 12 * math.exp(-(i - a) / 24.0) + 1   # a story breaks, then fades
        v.append(poisson(rng, lam))
    return v, [a] if anomaly else []


CORPUS = [
    # category, generator, files
    ("synthLevelShift", level_shift, 6),
    ("synthDrift", drift, 4),
    ("synthVariance", variance_change, 4),
    ("synthSeasonal", seasonal_break, 4),
    ("synthCounts", lambda r: traffic(r, True), 3),
    ("synthCounts", lambda r: social(r, True), 3),
    ("synthCountsQuiet", lambda r: traffic(r, False), 3),
    ("synthCountsQuiet", lambda r: social(r, False), 3),
]


def stamp(i):
    t = START + i * STEP
    days, rem = divmod(t, 86400)
    # civil date from days since the epoch (proleptic Gregorian)
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    y += m <= 2
    return f"{y:04d}-{m:02d}-{d:02d} {rem // 3600:02d}:{rem % 3600 // 60:02d}:{rem % 60:02d}"


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: synth.py OUT_DIR")
    out = sys.argv[1]
    windows = {}
    counters = {}
    for seed_base, (cat, gen, files) in enumerate(CORPUS):
        os.makedirs(os.path.join(out, "data", cat), exist_ok=True)
        for k in range(files):
            idx = counters.get(cat, 0)
            counters[cat] = idx + 1
            rng = random.Random(1000 * seed_base + k)
            values, anomalies = gen(rng)
            name = f"{cat}/{cat}_{idx:02d}.csv"
            with open(os.path.join(out, "data", name), "w") as f:
                f.write("timestamp,value\n")
                for i, x in enumerate(values):
                    f.write(f"{stamp(i)},{x:.4f}\n" if isinstance(x, float) else f"{stamp(i)},{x}\n")
            width = int(0.1 * N / max(1, len(anomalies)))
            wins = []
            for a in anomalies:
                lo, hi = max(0, a - width // 2), min(N - 1, a + width // 2)
                wins.append([stamp(lo) + ".000000", stamp(hi) + ".000000"])
            windows[name] = wins
    with open(os.path.join(out, "combined_windows.json"), "w") as f:
        json.dump(windows, f, indent=1, sort_keys=True)
    print(f"{sum(counters.values())} files in {len(counters)} categories, "
          f"{sum(len(w) for w in windows.values())} anomaly windows -> {out}")


if __name__ == "__main__":
    main()
