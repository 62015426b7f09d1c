#!/usr/bin/env python3
"""Root-cause ranking bench: runs `ooda analyze rca --json` per case and
scores where the true root cause lands.

Sock Shop (../shared/data/rca/sock-shop, 10 faults x 5 runs, wide CSVs, the
root cause is the folder's prefix, no call graph): each case's normal.csv and
anomalous.csv are converted to long format (column "<service>_<metric>")
and ranked with --normal. Printed: AC@1, AC@3, Avg@5 overall and per fault
type, then leave-one-fault-type-out: the two free constants (the relative
and the resolution scale floors) are picked on one fault type from a grid
and scored on the other, and the whole grid (no floor at all included).

Synthetic (bench/rca/gen_synth.py: call graphs, latency/error/cpu faults that
propagate to callers): ranked with the graph and without it, onset estimated.

AC@k: share of cases whose root cause is among the first k suspects;
Avg@5: mean of AC@1..AC@5 (RCAEval's definitions).
Usage: rca_bench.py OODA_BIN SHARED_DATA_DIR
"""
import concurrent.futures
import csv
import json
import math
import os
import subprocess
import sys
import tempfile

REL_GRID = [1e-9, 0.01, 0.05, 0.2]   # relative scale floor (x |baseline median|)
RES_GRID = [1e-9, 0.001, 0.01, 0.1]  # resolution floor (x largest |value| of the metric)
DEFAULT = (0.05, 0.01)               # RCA_SCALE_FLOOR, RCA_RESOLUTION


def wide_to_long(src, dst):
    with open(src) as f, open(dst, "w") as out:
        r = csv.reader(f)
        head = next(r)
        out.write("timestamp,node,metric,value\n")
        cols = [(j, *h.split("_", 1)) for j, h in enumerate(head) if j and "_" in h]
        for row in r:
            t = row[0].split(".")[0]
            for j, node, metric in cols:
                v = row[j] if j < len(row) else ""
                if v and v.lower() != "nan":
                    out.write(f"{t},{node},{metric},{v}\n")


def rank(binary, args):
    p = subprocess.run([binary, "analyze", "rca", *args, "--json"], capture_output=True, text=True, timeout=120)
    if p.returncode:
        raise SystemExit(f"ooda analyze rca {' '.join(args)}: {p.stderr.strip()}")
    return [s["node"] for s in json.loads(p.stdout) if s.get("kind") != "change"]


def position(ranking, root):
    return ranking.index(root) + 1 if root in ranking else math.inf


def scores(ranks):
    if not ranks:
        return (0, 0, 0)
    ac = lambda k: sum(r <= k for r in ranks) / len(ranks)
    return ac(1), ac(3), sum(ac(k) for k in range(1, 6)) / 5


def row(label, ranks):
    a1, a3, a5 = scores(ranks)
    print(f"| {label} | {len(ranks)} | {a1:.2f} | {a3:.2f} | {a5:.2f} |")


def sock_shop(binary, data, tmp):
    root_dir = os.path.join(data, "rca", "sock-shop")
    cases = []
    for fault in sorted(os.listdir(root_dir)):
        for run in sorted(os.listdir(os.path.join(root_dir, fault))):
            d = os.path.join(tmp, "sock-shop", fault, run)
            os.makedirs(d)
            wide_to_long(os.path.join(root_dir, fault, run, "normal.csv"), os.path.join(d, "normal.csv"))
            wide_to_long(os.path.join(root_dir, fault, run, "anomalous.csv"), os.path.join(d, "anomalous.csv"))
            cases.append((fault, run, d))
    configs = [(rel, res) for rel in REL_GRID for res in RES_GRID]
    jobs = [(cfg, f, d) for cfg in configs for f, _, d in cases]

    def one(job):
        (rel, res), f, d = job
        r = rank(binary, ["--metrics", os.path.join(d, "anomalous.csv"), "--normal", os.path.join(d, "normal.csv"),
                          "--scale-floor", str(rel), "--resolution", str(res)])
        return (rel, res), f, position(r, f.rsplit("-", 1)[0])

    res = {cfg: [] for cfg in configs}  # config -> [(fault, rank)]
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        for cfg, f, r in ex.map(one, jobs):
            res[cfg].append((f, r))
    print("### Sock Shop (in-sample: the shipped configuration)\n")
    print("| cases | n | AC@1 | AC@3 | Avg@5 |\n|---|---|---|---|---|")
    base = res[DEFAULT]
    row("all", [r for _, r in base])
    for typ in ("cpu", "mem"):
        row(f"{typ} faults", [r for f, r in base if f.endswith(typ)])
    for svc in sorted({f.rsplit("-", 1)[0] for f, _ in base}):
        row(svc, [r for f, r in base if f.startswith(svc + "-")])
    print("\n### Sock Shop, leave one fault type out\n")
    print("The two scale floors are picked from the grid below by Avg@5 (then AC@1, then nearness to "
          "the default) on one fault type and scored on the other.\n")
    print("| picked on | scale floor | resolution | scored on | n | AC@1 | AC@3 | Avg@5 |")
    print("|---|---|---|---|---|---|---|---|")
    for train, test in (("cpu", "mem"), ("mem", "cpu")):
        def key(cfg):
            a1, _, a5 = scores([r for f, r in res[cfg] if f.endswith(train)])
            return (a5, a1, -abs(math.log(cfg[0] / DEFAULT[0])) - abs(math.log(cfg[1] / DEFAULT[1])))
        cfg = max(configs, key=key)
        a1, a3, a5 = scores([r for f, r in res[cfg] if f.endswith(test)])
        n = sum(f.endswith(test) for f, _ in res[cfg])
        print(f"| {train} | {cfg[0]:g} | {cfg[1]:g} | {test} | {n} | {a1:.2f} | {a3:.2f} | {a5:.2f} |")
    print("\n### Sock Shop across the grid: AC@1 / Avg@5 (1e-09 is no floor at all)\n")
    print("| resolution \\ scale floor | " + " | ".join(f"{x:g}" for x in REL_GRID) + " |")
    print("|---|" + "---|" * len(REL_GRID))
    for rs in RES_GRID:
        cells = []
        for rel in REL_GRID:
            a1, _, a5 = scores([r for _, r in res[(rel, rs)]])
            cells.append(f"{a1:.2f} / {a5:.2f}")
        print(f"| {rs:g} | " + " | ".join(cells) + " |")


def synthetic(binary, here, tmp, n):
    out = os.path.join(tmp, "synth")
    subprocess.run([sys.executable, os.path.join(here, "gen_synth.py"), out, str(n)], check=True)
    with_g, without = [], []
    for c in sorted(os.listdir(out)):
        d = os.path.join(out, c)
        root, kind, _ = open(os.path.join(d, "truth")).read().split()
        m = ["--metrics", os.path.join(d, "metrics.csv")]
        with_g.append((kind, position(rank(binary, m + ["--graph", os.path.join(d, "edges.csv")]), root)))
        without.append((kind, position(rank(binary, m), root)))
    print(f"\n### Synthetic cases with a call graph (held out: bench/rca/gen_synth.py, {n} cases, onset estimated)\n")
    print("| faults | n | AC@1 graph | AC@3 graph | Avg@5 graph | AC@1 no graph | Avg@5 no graph |")
    print("|---|---|---|---|---|---|---|")
    for kind in ("all", "latency", "errors", "cpu"):
        g = [r for k, r in with_g if kind in ("all", k)]
        w = [r for k, r in without if kind in ("all", k)]
        a1, a3, a5 = scores(g)
        b1, _, b5 = scores(w)
        print(f"| {kind} | {len(g)} | {a1:.2f} | {a3:.2f} | {a5:.2f} | {b1:.2f} | {b5:.2f} |")


def main():
    binary, data = sys.argv[1], sys.argv[2]
    here = os.path.dirname(os.path.abspath(__file__))
    with tempfile.TemporaryDirectory(prefix="ooda-rca-bench-") as tmp:
        sock_shop(binary, data, tmp)
        synthetic(binary, here, tmp, int(os.environ.get("RCA_SYNTH_CASES", "60")))


if __name__ == "__main__":
    main()
