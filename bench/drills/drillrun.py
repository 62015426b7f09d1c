#!/usr/bin/env python3
"""The drill as ooda ships it, at realistic pace: `ooda drill run --scenario all
--json`, the command tests/e2e/test_drills.py runs with --fast. A dedicated ooda
and ooda-sim (docs/drills.md); MTTD, incident, suspects, remediation and MTTR
from ooda's own records. Prints one row per scenario and the summary.

Usage: drillrun.py BUILD (DRILL_SCENARIOS: a comma list, default all; DRILL_JSON: a file
for the whole report)."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../lib"))
from benchutil import table  # noqa: E402

build = sys.argv[1] if len(sys.argv) > 1 else "build-bench"
scen = os.environ.get("DRILL_SCENARIOS", "all") or "all"
cmd = [os.path.join(build, "ooda"), "drill", "run", "--scenario", scen, "--json",
       "--ooda-sim", os.path.join(build, "sim", "ooda-sim")]
print("drill: " + " ".join(cmd), file=sys.stderr, flush=True)
r = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, timeout=7200)
try:
    rep = json.loads(r.stdout)
except ValueError:
    print(f"drill: no JSON report (exit {r.returncode})", file=sys.stderr)
    sys.exit(1)
if os.environ.get("DRILL_JSON"):  # the whole report (suspects, incidents, remediation), for reading afterwards
    with open(os.environ["DRILL_JSON"], "w") as out:
        out.write(r.stdout)


def f(v, fmt="{:.1f}"):
    return "—" if v is None else (("yes" if v else "no") if isinstance(v, bool) else fmt.format(v))


rows = [[s["name"], f(s.get("detected")), f(s.get("mttd_s")), f(s.get("incident")), f(s.get("top1")),
         f(s.get("top3")), f(s.get("remediated")), f(s.get("mttr_s")), s.get("false_incidents", 0)]
        for s in rep.get("scenarios", [])]
print(table(["scenario", "detected", "MTTD s", "incident", "top-1", "top-3", "remediated", "MTTR s",
             "false incidents"], rows))
sm = rep.get("summary", {})
print(f"\nsummary: MTTD p50 {f(sm.get('mttd_p50_s'))} s, top-1 rate {f(sm.get('top1_rate'), '{:.2f}')}, "
      f"false incidents {sm.get('false_incidents')}, MTTR p50 {f(sm.get('mttr_p50_s'))} s (pace {sm.get('pace')})")
sys.exit(r.returncode)
