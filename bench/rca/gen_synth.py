#!/usr/bin/env python3
"""Synthetic root-cause cases with a call graph, for bench/rca: the held-out
check of how the engine uses the graph, and of fault kinds Sock Shop lacks.

Each case is a random layered call graph (a front end, middle tiers, stores)
of 10 to 16 services, each with cpu, mem, latency_p90 and error_ratio at 1 s
for 600 s, plus an error_ratio series per call edge ("caller->callee"). One
service gets a fault at a random onset: latency (its latency rises), errors
(its error ratio rises, its callers see failed calls) or cpu (its cpu and,
less, its latency rise). Faults propagate up the graph: every caller of an
affected service is affected 1 to 4 s later, with latency and errors of its
own that may be larger, relative to its baseline, than the root's. Nuisances
that a method must not take for the cause: memory of every service drifting
up, a few unrelated spikes, noisy series.

Usage: gen_synth.py OUT_DIR [N_CASES] [SEED]. Writes OUT_DIR/<case>/
metrics.csv (timestamp,node,metric,value), edges.csv (caller,callee) and
truth (root service, fault kind, onset).
"""
import os
import random
import sys

T0 = 1_700_000_000
LEN = 600


def graph(rng):
    n_mid = rng.randint(4, 7)
    n_store = rng.randint(3, 5)
    mids = [f"svc{i}" for i in range(n_mid)]
    stores = [f"db{i}" for i in range(n_store)]
    edges = set()
    for m in mids[: rng.randint(2, n_mid)]:
        edges.add(("front", m))
    for i, m in enumerate(mids):
        if not any(c == m for _, c in edges):
            edges.add((rng.choice(["front"] + mids[:i]) if i else "front", m))
        for _ in range(rng.randint(0, 2)):
            later = mids[i + 1:]
            if later:
                edges.add((m, rng.choice(later)))
        edges.add((m, rng.choice(stores)))
    for s in stores:
        if not any(c == s for _, c in edges):
            edges.add((rng.choice(mids), s))
    return ["front"] + mids + stores, sorted(edges)


def case(rng, out, name):
    nodes, edges = graph(rng)
    callers = {n: [a for a, b in edges if b == n] for n in nodes}
    root = rng.choice(nodes[1:])
    kind = rng.choice(["latency", "errors", "cpu"])
    onset = rng.randint(250, 400)
    # when each service is hit (breadth-first up the graph) and how hard (relative)
    hit = {root: (onset, 1.0)}
    queue = [root]
    while queue:
        v = queue.pop(0)
        for u in callers[v]:
            if u not in hit:
                hit[u] = (hit[v][0] + rng.randint(1, 4), rng.uniform(0.4, 1.3) * hit[v][1])
                queue.append(u)
    base = {}
    for n in nodes:
        base[n] = dict(cpu=rng.uniform(2, 60), mem=rng.uniform(5e7, 8e8), lat=rng.uniform(0.005, 0.3),
                       err=rng.uniform(0, 0.01), noise=rng.uniform(0.02, 0.12))
    drift = rng.uniform(0.0, 0.3)  # memory of every service grows by up to 30% over the window
    spikes = {(rng.choice(nodes), rng.choice(["cpu", "latency_p90"]), rng.randint(0, LEN - 5)) for _ in range(3)}
    rows = []
    for n in nodes:
        b = base[n]
        at, strength = hit.get(n, (None, 0))
        for i in range(LEN):
            t = T0 + i
            on = at is not None and i >= at
            nz = lambda: 1 + b["noise"] * rng.gauss(0, 1)
            cpu = b["cpu"] * nz()
            lat = b["lat"] * nz()
            err = max(0.0, b["err"] * nz())
            if on:
                if kind == "latency":
                    lat += b["lat"] * 3 * strength if n == root else lat * 2 * strength
                elif kind == "errors":
                    err += 0.3 * strength
                else:
                    if n == root:
                        cpu = max(cpu, 95 + rng.gauss(0, 2))
                    lat += b["lat"] * 1.5 * strength
            for sn, sm, si in spikes:
                if sn == n and si <= i < si + 2:
                    if sm == "cpu":
                        cpu *= 3
                    else:
                        lat *= 4
            mem = b["mem"] * (1 + drift * i / LEN) * (1 + 0.01 * rng.gauss(0, 1))
            rows += [(t, n, "cpu", cpu), (t, n, "mem", mem), (t, n, "latency_p90", lat), (t, n, "error_ratio", err)]
    for a, c in edges:
        at = hit.get(c, (None, 0))[0]
        for i in range(LEN):
            e = max(0.0, 0.002 * (1 + 0.5 * rng.gauss(0, 1)))
            if kind == "errors" and at is not None and i >= at:
                e += 0.3 * hit[c][1]
            rows.append((T0 + i, f"{a}->{c}", "error_ratio", e))
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "metrics.csv"), "w") as f:
        f.write("timestamp,node,metric,value\n")
        for t, n, m, v in rows:
            f.write(f"{t},{n},{m},{v:.6g}\n")
    with open(os.path.join(d, "edges.csv"), "w") as f:
        f.write("caller,callee\n")
        for a, c in edges:
            f.write(f"{a},{c}\n")
    with open(os.path.join(d, "truth"), "w") as f:
        f.write(f"{root} {kind} {T0 + onset}\n")


def main():
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 60
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 2024)
    for i in range(n):
        case(rng, out, f"case{i:03d}")


if __name__ == "__main__":
    main()
