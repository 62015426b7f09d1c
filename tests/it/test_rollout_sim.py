"""A bad deploy rolled out progressively, against ooda-sim: payments runs
2.3.0, `ooda-sim fault bad-deploy` records and runs 2.4.0 which fails 10-30 %
of its requests, and a rollout of that deploy in three held steps is aborted
at its first failing step and rolled back automatically through the deploy's
rollback plan, whose redeploy hook is the simulator's control port: payments
is back on 2.3.0 without anyone acting."""
import json
import os
import subprocess
import time
import urllib.request

from oodait import Server, check, create_token, done

SIM = os.environ.get("OODA_SIM_BIN", os.path.join(os.path.dirname(__file__), "../../build/sim/ooda-sim"))


def wait_for(what, fn, timeout=30, step=0.3):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(step)
    check(False, f"timed out waiting for {what} (last: {last!r})")
    return None


def sim_state(ctl):
    with urllib.request.urlopen(f"{ctl}/state", timeout=10) as r:
        return json.loads(r.read())


def main():
    s = Server(config="", expect_start=False)
    token = create_token(s.data, "admin", "ops")
    s.start()
    s.token = token
    ports = os.path.join(s.tmp, "ports.json")
    log = open(os.path.join(s.tmp, "sim.log"), "w")
    sim = subprocess.Popen([SIM, "run", "--ooda", s.url, "--token", token, "--base-port", "0",
                            "--ports-file", ports, "--rps", "20"], stdout=log, stderr=log)
    try:
        wait_for("the ports file", lambda: os.path.exists(ports) and os.path.getsize(ports) > 0, timeout=10)
        ctl = f"http://127.0.0.1:{json.load(open(ports))['control']}"
        with open(s.config, "w") as cf:
            cf.write(f"deploy:\n  hooks:\n    redeploy:\n      http: {{url: \"{ctl}/hooks/redeploy\"}}\n")
        r = s.post("/api/v1/config/reload")
        check(r.status == 200, f"reload with the simulator's redeploy hook: {r.status} {r.body}")
        # the version running now, recorded, so that the bad deploy has one to roll back to
        r = s.post("/api/v1/deploys", {"service": "payments", "env": "prod", "version": "2.3.0"})
        check(r.status == 201, f"payments 2.3.0 recorded: {r.body}")

        def payments_spans():
            r = s.get("/api/v1/services/payments?window=1m")
            return r.status == 200 and (r.json().get("requests") or r.json().get("rate") or 0) and r.json()
        wait_for("payments traffic in ooda", payments_spans, timeout=30)
        time.sleep(4)  # a few seconds of the good version: the baseline before the rollout

        r = subprocess.run([SIM, "fault", "bad-deploy", "--ports-file", ports], capture_output=True, text=True,
                           timeout=30)
        check(r.returncode == 0, f"fault bad-deploy: {r.stderr}")
        fault = json.loads(r.stdout)
        dep = fault["detail"].split(" ")[1].rstrip(":")
        check(sim_state(ctl)["services"]["payments"]["version"] == "2.4.0", "payments runs the bad 2.4.0")

        r = s.post("/api/v1/rollouts", {"deploy": dep, "steps": [{"weight": 10, "hold": "5s"},
                                                                  {"weight": 50, "hold": "5s"},
                                                                  {"weight": 100, "hold": "5s"}],
                                         "analysis": {"min_samples": 20}, "max_inconclusive": 2,
                                         "rationale": "payments 2.4.0, progressively"})
        check(r.status == 201 and r.json()["version"] == "2.4.0" and r.json()["service"] == "payments",
              f"the deploy's rollout started, analysing its service and version: {r.status} {r.body}")
        rid = r.json()["id"]
        ro = wait_for("the rollout to finish", lambda: (lambda j: j["status"] in ("aborted", "succeeded") and j)(
            s.get(f"/api/v1/rollouts/{rid}").json()), timeout=60, step=0.5)
        verdicts = [v["verdict"] for v in ro["verdicts"]]
        check(ro["status"] == "aborted" and verdicts and verdicts[-1] == "fail" and "fail" not in verdicts[:-1],
              f"aborted at its first failing step: {ro['status']} {verdicts} {ro.get('abort_reason')}")
        print(f"rollout {rid}: {verdicts}; {ro.get('abort_reason')}")
        check(ro.get("rollback_run"), f"the abort started the deploy's rollback run: {json.dumps(ro)[:1200]}")
        r = s.get(f"/api/v1/rollbacks/{ro['rollback_run']}?wait=true")
        check(r.status == 200 and r.json()["status"] == "done", f"the rollback run finished: {r.body[:800]}")
        check(wait_for("payments back on 2.3.0", lambda: sim_state(ctl)["services"]["payments"]["version"] == "2.3.0",
                       timeout=20), "the simulator runs 2.3.0 again, through the redeploy hook")
        deps = s.get("/api/v1/deploys?service=payments").json()["deploys"]
        check(deps[0]["version"] == "2.3.0" and deps[0].get("rollback_of") == dep,
              f"the rollback is recorded as a deploy of 2.3.0: {deps[0]}")
        audit = s.get(f"/api/v1/audit?target=rollout/{rid}").json()
        recs = audit.get("records", audit.get("entries", []))
        check(any(x["action"] == "rollout.abort" and x["actor"] == "engine:rollout" and "verdict fail" in x["rationale"]
                  for x in recs), f"the automatic abort is audited with its reason: {recs[:1]}")
        done()
    finally:
        sim.terminate()
        try:
            sim.wait(timeout=10)
        except subprocess.TimeoutExpired:
            sim.kill()
        s.cleanup()


main()
