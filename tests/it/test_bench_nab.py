"""The NAB bench's method holds: bench/nab/synth.py writes a labelled corpus that
bench/nab/score.py reads, and score.py's leave-one-category-out scores a held-out
category at the threshold chosen on the other categories only. A detector that
fires on exactly the labelled points scores 100 in every fold; one that never
fires scores 0; a threshold that would only pay on the held-out category is not
used for it. Finally the real engine (`ooda analyze anomalies`) runs over the
synthetic corpus and the cross-validated row comes out. No server is started."""
import json
import os
import subprocess
import sys
import tempfile

from oodait import BIN, check, done

HERE = os.path.dirname(os.path.abspath(__file__))
NAB = os.path.join(HERE, "../../bench/nab")


def run(*args):
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


def write_results(corpus, out, score_of):
    """One result CSV per corpus file; score_of(name, i, ts, in_window) gives each row's score."""
    with open(os.path.join(corpus, "combined_windows.json")) as f:
        windows = json.load(f)
    for name, wins in windows.items():
        with open(os.path.join(corpus, "data", name)) as f:
            rows = [line.rstrip("\n").split(",") for line in f.readlines()[1:]]
        starts = {w[0][:19] for w in wins}
        inside = set()
        for lo, hi in wins:
            on = False
            for ts, _ in rows:
                on = on or ts == lo[:19]
                if on:
                    inside.add(ts)
                if ts == hi[:19]:
                    on = False
        os.makedirs(os.path.dirname(os.path.join(out, name)), exist_ok=True)
        with open(os.path.join(out, name), "w") as f:
            f.write("timestamp,value,anomaly_score\n")
            for i, (ts, v) in enumerate(rows):
                f.write(f"{ts},{v},{score_of(name, i, ts in starts, ts in inside)}\n")
    return windows


def cv_rows(text):
    """{held-out category or 'cross-validated': (windows hit text, score text)} from score.py --cv."""
    rows = {}
    on = False
    for line in text.splitlines():
        if line.startswith("held out"):
            on = True
            continue
        if on and line.strip():
            parts = line.split()
            rows[parts[0]] = parts
    return rows


def standard(text):
    for line in text.splitlines():
        if line.startswith("standard"):
            return float(line.split()[1])
    raise AssertionError("no standard row:\n" + text)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, "synth")
        out = run(sys.executable, os.path.join(NAB, "synth.py"), corpus)
        check("30 files" in out and "24 anomaly windows" in out, f"synth corpus: {out}")
        with open(os.path.join(corpus, "combined_windows.json")) as f:
            windows = json.load(f)
        cats = {n.split("/")[0] for n in windows}
        check(len(cats) == 6, f"six categories: {sorted(cats)}")
        check(all(not w for n, w in windows.items() if n.startswith("synthCountsQuiet/")),
              "quiet count files carry no window")
        again = os.path.join(tmp, "again")
        run(sys.executable, os.path.join(NAB, "synth.py"), again)
        name = "synthDrift/synthDrift_00.csv"
        with open(os.path.join(corpus, "data", name)) as a, open(os.path.join(again, "data", name)) as b:
            check(a.read() == b.read(), "the generator is deterministic")

        score = os.path.join(NAB, "score.py")
        # the oracle: 1 on the first row of every window, 0 elsewhere
        res = os.path.join(tmp, "oracle")
        write_results(corpus, res, lambda n, i, start, inside: 1.0 if start else 0.0)
        text = run(sys.executable, score, corpus, res, "--cv")
        check(standard(text) == 100.0, f"oracle in-sample 100:\n{text}")
        rows = cv_rows(text)
        check(rows["cross-validated"][-1] == "100.0", f"oracle cross-validated 100:\n{text}")
        check(rows["synthDrift"][-1] == "100.0" and rows["synthCountsQuiet"][-1] == "-",
              f"oracle per fold:\n{text}")

        # the detector that never fires
        res = os.path.join(tmp, "never")
        write_results(corpus, res, lambda n, i, start, inside: 0.0)
        text = run(sys.executable, score, corpus, res, "--cv")
        check(cv_rows(text)["cross-validated"][-1] == "0.0",
              f"silent detector cross-validated 0:\n{text}")

        # Drifts are found only at a score (0.5) that fires everywhere in the
        # other categories; the rest is the oracle. In-sample, 0.5 is the
        # best threshold for the whole corpus only if it pays; held out, the
        # drift fold must be scored at the threshold the others chose (1.0),
        # so it finds nothing.
        res = os.path.join(tmp, "leak")

        def leak(n, i, start, inside):
            if n.startswith("synthDrift/"):
                return 0.5 if start else 0.0
            return 1.0 if start else 0.5

        write_results(corpus, res, leak)
        text = run(sys.executable, score, corpus, res, "--cv")
        rows = cv_rows(text)
        check(rows["synthDrift"][1] == "1.000000" and rows["synthDrift"][-1] == "0.0",
              f"held-out fold scored at the others' threshold:\n{text}")
        check(rows["synthLevelShift"][-1] == "100.0", f"other folds unaffected:\n{text}")

        # the real engine over the synthetic corpus
        res = os.path.join(tmp, "engine")
        for n in windows:
            os.makedirs(os.path.dirname(os.path.join(res, n)), exist_ok=True)
            with open(os.path.join(res, n), "w") as f:
                subprocess.run([BIN, "analyze", "anomalies", os.path.join(corpus, "data", n)],
                               stdout=f, check=True)
        text = run(sys.executable, score, corpus, res, "--cv")
        rows = cv_rows(text)
        check(set(rows) == cats | {"cross-validated"}, f"one row per fold and the mean:\n{text}")
        check(0.0 < standard(text) <= 100.0, f"engine in-sample score:\n{text}")
    done()


if __name__ == "__main__":
    main()
