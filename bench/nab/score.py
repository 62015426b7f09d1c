#!/usr/bin/env python3
"""NAB v1.0 scorer for ooda's anomaly bench (Python 3, standard library only).

Reads the corpus windows (combined_windows.json) and, for every corpus file,
a result CSV `timestamp,value,anomaly_score` written by bench_nab; scores
them the way NAB v1.0 does and prints one row per application profile:

* each row gets a weight: inside a window, the scaled sigmoid of its relative
  position (-(right - i + 1) / width) times A_TP divided by the sigmoid at the
  left edge, so the earliest row of a window is worth exactly A_TP; outside,
  the scaled sigmoid of the distance past the previous window's right edge
  (in units of that window's width - 1; 3.0 when no window came before)
  times |A_FP|, which is -|A_FP| far from any window;
* rows in the probationary period (the first min(floor(0.15 n), 750) rows of
  a file) are dropped;
* one threshold per profile for the whole corpus, swept over every distinct
  score from the highest down: a row at or above it is a detection; every
  detection outside a window adds its weight, a window adds the weight of
  its best (earliest) detection or -A_FN when it has none;
* normalised = 100 (raw - null) / (perfect - null), with null = -A_FN per
  window (the detector that never fires) and perfect = A_TP per window.

With --cv it also scores leave-one-category-out: a category is the first
directory of a file's name; for each category the threshold is swept on the
rows of the other categories only and the held-out category is scored at
it. A fold prints its windows, FP rows, raw score and normalised score (none
for a category without windows, whose only effect is its false-positive
cost). The cross-validated figure is the held-out raw scores of all folds
added up and normalised over every window of the corpus: the window-weighted
mean of the folds, with the false alarms of window-less folds charged to it.
"""
import json
import math
import os
import sys

PROFILES = [
    # name, A_TP, A_FP, A_FN  (A_TN plays no part in the score)
    ("standard", 1.0, 0.11, 1.0),
    ("reward_low_FP_rate", 1.0, 0.22, 1.0),
    ("reward_low_FN_rate", 1.0, 0.11, 2.0),
]
PROBATION = 0.15


def scaled_sigmoid(x):
    if x >= 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * x)) - 1.0


def norm_ts(s):
    s = s.strip()
    if s.endswith(".000000"):
        s = s[:-7]
    return s


def read_result(path):
    ts, scores = [], []
    with open(path) as f:
        header = f.readline()
        if not header.startswith("timestamp"):
            raise SystemExit(f"{path}: no header")
        for line in f:
            parts = line.rstrip("\n").split(",")
            if len(parts) < 3:
                continue
            ts.append(norm_ts(parts[0]))
            scores.append(float(parts[2]))
    return ts, scores


def file_rows(name, ts, scores, windows):
    """(score, window id or None, tp weight or unweighted fp value) per row."""
    n = len(ts)
    probation = min(math.floor(PROBATION * n), PROBATION * 5000)
    index = {t: i for i, t in enumerate(ts)}
    lims = []
    for w in windows:
        lo, hi = index[norm_ts(w[0])], index[norm_ts(w[1])]
        lims.append((lo, hi))
    lims.sort()
    max_tp = scaled_sigmoid(-1.0)
    rows = []
    wi = 0
    cur = None
    prev = None
    for i in range(n):
        if cur is None and wi < len(lims) and i == lims[wi][0]:
            cur = lims[wi]
            wi += 1
        if cur is not None:
            width = cur[1] - cur[0] + 1
            pos = -(cur[1] - i + 1) / width
            kind, value = f"{name}|{cur[0]}", scaled_sigmoid(pos) / max_tp
        else:
            if prev is None:
                pos = 3.0
            else:
                pos = abs(prev[1] - i) / float(prev[1] - prev[0])
            kind, value = None, scaled_sigmoid(pos)
        if i >= probation:
            rows.append((scores[i], kind, value))
        if cur is not None and i == cur[1]:
            prev = cur
            cur = None
    return rows, len(lims)


def sweep(rows, n_windows, a_tp, a_fp, a_fn):
    """Best (raw score, threshold, detected windows, fp rows) over thresholds."""
    order = sorted(rows, key=lambda r: r[0], reverse=True)
    best_win = {}
    fp_sum = 0.0
    fp_n = 0
    detected_sum = 0.0  # sum over detected windows of (best tp weight)
    best = (-a_fn * n_windows, 1.1, 0, 0)
    i = 0
    while i < len(order):
        thr = order[i][0]
        while i < len(order) and order[i][0] == thr:
            s, kind, value = order[i]
            if kind is None:
                fp_sum += value * a_fp
                fp_n += 1
            else:
                old = best_win.get(kind)
                if old is None or value > old:
                    detected_sum += value - (old if old is not None else 0.0)
                    best_win[kind] = value
            i += 1
        # a detected window's weight is always positive, so max(-A_FN, w) = w
        raw = fp_sum - a_fn * (n_windows - len(best_win)) + a_tp * detected_sum
        if raw > best[0]:
            best = (raw, thr, len(best_win), fp_n)
    return best


def score_at(rows, n_windows, thr, a_tp, a_fp, a_fn):
    """Raw score, windows hit and FP rows of rows at a fixed threshold."""
    hit = {}
    fp = 0
    raw = 0.0
    for s, kind, value in rows:
        if s < thr:
            continue
        if kind is None:
            fp += 1
            raw += value * a_fp
        else:
            hit[kind] = max(hit.get(kind, -9.0), value)
    raw += a_tp * sum(hit.values()) - a_fn * (n_windows - len(hit))
    return raw, len(hit), fp


def cross_validate(per_file, n_windows):
    """Leave-one-category-out at the standard profile; prints every fold."""
    _, a_tp, a_fp, a_fn = PROFILES[0]
    cats = sorted({name.split("/")[0] for name in per_file})
    print(f"\nleave-one-category-out (standard profile): threshold swept on the other "
          f"categories, held-out category scored at it")
    print(f"{'held out':<24} {'threshold':>10} {'windows hit':>12} {'FP rows':>8} "
          f"{'raw':>7} {'score':>7}")
    total = 0.0
    for cat in cats:
        train, test, n_train, n_test = [], [], 0, 0
        for name, (rows, nw) in per_file.items():
            if name.split("/")[0] == cat:
                test.extend(rows)
                n_test += nw
            else:
                train.extend(rows)
                n_train += nw
        _, thr, _, _ = sweep(train, n_train, a_tp, a_fp, a_fn)
        raw, hit, fp = score_at(test, n_test, thr, a_tp, a_fp, a_fn)
        total += raw
        norm = (f"{100.0 * (raw + a_fn * n_test) / ((a_tp + a_fn) * n_test):7.1f}"
                if n_test else f"{'-':>7}")
        print(f"{cat:<24} {thr:10.6f} {hit:>7}/{n_test:<4} {fp:>8} {raw:7.2f} {norm}")
    cv = 100.0 * (total + a_fn * n_windows) / ((a_tp + a_fn) * n_windows)
    print(f"{'cross-validated':<24} {'':>10} {'':>12} {'':>8} {total:7.2f} {cv:7.1f}")


def main():
    if len(sys.argv) < 3:
        raise SystemExit("usage: score.py CORPUS_DIR RESULTS_DIR [--files] [--cv]")
    corpus, results = sys.argv[1], sys.argv[2]
    with open(os.path.join(corpus, "combined_windows.json")) as f:
        windows = json.load(f)
    all_rows = []
    per_file = {}
    n_windows = 0
    for name in sorted(windows):
        ts, scores = read_result(os.path.join(results, name))
        rows, nw = file_rows(name, ts, scores, windows[name])
        per_file[name] = (rows, nw)
        all_rows.extend(rows)
        n_windows += nw
    print(f"{len(windows)} files, {n_windows} anomaly windows, "
          f"{sum(len(r) for r, _ in per_file.values())} scored rows")
    print(f"{'profile':<20} {'score':>7} {'threshold':>10} {'windows hit':>12} {'FP rows':>8}")
    thresholds = {}
    for pname, a_tp, a_fp, a_fn in PROFILES:
        raw, thr, hit, fps = sweep(all_rows, n_windows, a_tp, a_fp, a_fn)
        null = -a_fn * n_windows
        perfect = a_tp * n_windows
        score = 100.0 * (raw - null) / (perfect - null)
        thresholds[pname] = thr
        print(f"{pname:<20} {score:7.1f} {thr:10.6f} {hit:>7}/{n_windows:<4} {fps:>8}")
    if "--files" in sys.argv:
        thr = thresholds["standard"]
        print(f"\nper file at the standard threshold {thr:.6f}: windows hit, FP rows, raw")
        for name, (rows, nw) in per_file.items():
            hit = {}
            fp = 0
            raw = 0.0
            for s, kind, value in rows:
                if s < thr:
                    continue
                if kind is None:
                    fp += 1
                    raw += value * 0.11
                else:
                    hit[kind] = max(hit.get(kind, -9), value)
            raw += sum(hit.values()) - (nw - len(hit))
            print(f"  {name:<62} {len(hit)}/{nw} {fp:4d} {raw:7.2f}")
    if "--cv" in sys.argv:
        cross_validate(per_file, n_windows)


if __name__ == "__main__":
    main()
