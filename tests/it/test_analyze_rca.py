"""`ooda analyze rca`: the offline door of the root-cause engine. A small
generated incident (three services, the database's latency rising first and
its callers following) ranks the database first in text and in --json; the
graph, --changes, --at and --target are taken; a malformed CSV is refused with
FILE:LINE and exit 2, a missing file with exit 1, and nothing is printed on
stdout for either."""
import json
import os
import random
import shutil
import tempfile

from oodait import check, done, run

T0 = 1_700_000_000
tmp = tempfile.mkdtemp(prefix="ooda-it-rca-")
try:
    rng = random.Random(5)
    metrics = os.path.join(tmp, "metrics.csv")
    with open(metrics, "w") as f:
        f.write("timestamp,node,metric,value\n")
        # (node, metric, level, noise, start of the rise, rise)
        for node, metric, level, noise, at, rise in (
                ("db", "latency_p90", 0.010, 0.0005, 100, 0.030),
                ("api", "latency_p90", 0.050, 0.0020, 103, 0.040),
                ("front", "latency_p90", 0.080, 0.0030, 106, 0.045),
                ("front", "cpu", 20.0, 1.0, None, 0),
                ("api", "cpu", 30.0, 1.0, None, 0),
                ("db", "cpu", 15.0, 1.0, None, 0)):
            for i in range(160):
                v = level + rng.gauss(0, noise) + (rise if at is not None and i >= at else 0)
                f.write(f"{T0 + i},{node},{metric},{v:.6f}\n")
    edges = os.path.join(tmp, "edges.csv")
    with open(edges, "w") as f:
        f.write("caller,callee\nfront,api\napi,db\n")

    r = run("analyze", "rca", "--metrics", metrics, "--graph", edges)
    check(r.returncode == 0, f"text run exits 0: {r.returncode} {r.stderr}")
    lines = r.stdout.splitlines()
    check(len(lines) >= 5 and lines[0].startswith("onset ") and "(estimated)" in lines[0],
          f"the estimated onset comes first: {lines[:1]}")
    check(len(lines) >= 3 and lines[1].split()[:3] == ["RANK", "NODE", "KIND"], f"a header row: {lines[1:2]}")
    first = lines[2].split() if len(lines) > 2 else []
    check(first[:3] == ["1", "db", "service"], f"db ranks first in text: {lines[2:3]}")
    check("latency_p90" in (lines[2] if len(lines) > 2 else ""), f"its top evidence is the latency: {lines[2:3]}")

    r = run("analyze", "rca", "--metrics", metrics, "--graph", edges, "--at", str(T0 + 95), "--target", "front",
            "--json")
    check(r.returncode == 0, f"--json run exits 0: {r.stderr}")
    out = json.loads(r.stdout or "[]")
    check(isinstance(out, list) and len(out) == 3, f"an array of the three services: {r.stdout[:200]}")
    check(all({"node", "score", "confidence", "evidence"} <= set(s) for s in out), "each suspect has its fields")
    check([s["node"] for s in out][:1] == ["db"], f"db first in --json: {[s['node'] for s in out]}")
    check(all(out[i]["score"] >= out[i + 1]["score"] for i in range(len(out) - 1)), "best first")
    check(all(0 <= s["confidence"] <= 1 for s in out), "confidences in [0,1]")
    kinds = {e["kind"] for e in out[0]["evidence"]} if out else set()
    check({"metric", "onset_order"} <= kinds, f"db's evidence names its metric and the onset order: {kinds}")
    victims = [e for s in out if s["node"] == "api" for e in s["evidence"] if e["kind"] == "onset_order"]
    check(any(e.get("explained_by") == "db" for e in victims), f"api is explained by db: {victims}")

    changes = os.path.join(tmp, "changes.csv")
    with open(changes, "w") as f:
        f.write(f"timestamp,node,kind,ref\n{T0 + 40},db,deploy,db-v7\n{T0 - 7200},api,deploy,api-v1\n")
    r = run("analyze", "rca", "--metrics", metrics, "--graph", edges, "--changes", changes, "--json")
    out = json.loads(r.stdout or "[]") if r.returncode == 0 else []
    check(r.returncode == 0 and out and out[0]["node"] == "db", f"with changes db is still first: {r.stderr}")
    ev = [e for e in out[0]["evidence"] if e["kind"] == "change"] if out else []
    check(len(ev) == 1 and ev[0]["ref"] == "db-v7" and ev[0]["before_onset_s"] > 0,
          f"the deploy just before onset is in db's evidence: {ev}")
    check(any(s["node"] == "db@db-v7" and s["kind"] == "change" for s in out), "the deploy ranks as a suspect")
    check(not any(s["node"] == "api@api-v1" for s in out), "a deploy two hours earlier does not")
    r = run("analyze", "rca", "--metrics", metrics, "--graph", edges, "--changes", changes)
    check(r.returncode == 0 and "deploy db-v7" in r.stdout, f"text shows the deploy: {r.stdout}")

    bad = os.path.join(tmp, "bad.csv")
    with open(bad, "w") as f:
        f.write("timestamp,node,metric,value\n1700000000,db,cpu,1\n1700000001,db,cpu,lots\n")
    r = run("analyze", "rca", "--metrics", bad, "--json")
    check(r.returncode == 2, f"a malformed CSV exits 2: {r.returncode}")
    check(f"{bad}:3:" in r.stderr, f"the error names FILE:LINE: {r.stderr}")
    check(r.stdout == "", f"nothing on stdout: {r.stdout[:100]}")

    badg = os.path.join(tmp, "bad_edges.csv")
    with open(badg, "w") as f:
        f.write("caller,callee\nfront\n")
    r = run("analyze", "rca", "--metrics", metrics, "--graph", badg)
    check(r.returncode == 2 and f"{badg}:2:" in r.stderr, f"a malformed graph names FILE:LINE: {r.stderr}")

    badc = os.path.join(tmp, "bad_changes.csv")
    with open(badc, "w") as f:
        f.write(f"{T0},db,deploy\n")
    r = run("analyze", "rca", "--metrics", metrics, "--changes", badc)
    check(r.returncode == 2 and f"{badc}:1:" in r.stderr, f"a malformed changes file names FILE:LINE: {r.stderr}")

    r = run("analyze", "rca", "--metrics", os.path.join(tmp, "missing.csv"))
    check(r.returncode == 1 and "cannot open" in r.stderr, f"a missing file exits 1: {r.returncode} {r.stderr}")
    r = run("analyze", "rca", "--metrics", metrics, "--at", "soon")
    check(r.returncode == 2 and "--at" in r.stderr, f"a bad --at is a usage error: {r.stderr}")
    r = run("analyze", "rca")
    check(r.returncode == 2 and "usage" in r.stderr, f"no --metrics is a usage error: {r.stderr}")
finally:
    shutil.rmtree(tmp, True)
done()
