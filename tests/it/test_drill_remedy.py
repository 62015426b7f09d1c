"""One fault drill with its remediation, fast: `ooda drill run --scenario
dependency-down --fast --json`. The drill config's policy drill-restart-inventory
restarts the downed inventory through the simulator's admin endpoint; the report
says the fault was remediated, by which run, with the recovery verified by the
policy's expect (inventory's probe passing), and an MTTR from the run's record
that is not before the detection; the summary has its median. The whole e2e
drill (tests/e2e/test_drills.py) checks every remediated fault; this is the one
of them that fits the integration suite (about half a minute)."""
import json
import os
import shutil
import tempfile

from oodait import BIN, check, done, run

SIM = os.environ.get("OODA_SIM_BIN", os.path.join(os.path.dirname(BIN), "sim", "ooda-sim"))


def main():
    home = tempfile.mkdtemp(prefix="ooda-drill-remedy-")
    try:
        env = dict(os.environ, TMPDIR=home, XDG_CONFIG_HOME=home)
        env.pop("OODA_SERVER", None)
        env.pop("OODA_TOKEN", None)
        r = run("drill", "run", "--scenario", "dependency-down", "--fast", "--json", "--ooda-sim", SIM,
                env=env, timeout=240)
        if not check(r.returncode == 0, f"the drill exits 0: {r.returncode} {r.stderr[-2000:]}"):
            return
        report = json.loads(r.stdout)
        s = report["scenarios"][0]
        rem = s.get("remediation") or {}
        check(s["detected"] is True, f"dependency-down detected: {s}")
        check(s["remediated"] is True and rem.get("policy") == "drill-restart-inventory"
              and rem.get("status") == "succeeded" and (rem.get("run") or "").startswith("run-"),
              f"remediated by a run of drill-restart-inventory that succeeded: {rem}")
        check("probe inventory/health passing" in (rem.get("verification") or ""),
              f"the recovery verified by the policy's expect: {rem.get('verification')}")
        check(isinstance(s["mttr_s"], float) and s["mttr_s"] >= s["mttd_s"],
              f"an MTTR from the run's record, not before the detection: {s['mttr_s']} (MTTD {s['mttd_s']})")
        check(report["summary"]["mttr_p50_s"] == s["mttr_s"], f"the summary's MTTR median: {report['summary']}")
        check("recovered by drill-restart-inventory after" in r.stderr, f"the progress line says so: {r.stderr}")
    finally:
        shutil.rmtree(home, ignore_errors=True)
    done()


if __name__ == "__main__":
    main()
