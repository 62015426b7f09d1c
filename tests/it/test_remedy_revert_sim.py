"""The two drill policies added for flag-misconfig and job-stopped, against ooda-sim
for real, both faults at once:

- flag-misconfig turns flag new-pricing on for plan=free; checkout's error ratio
  alert fires; policy revert-pricing (precondition flag_changed: the flag's current
  version is a change made minutes ago by someone other than a policy) puts the
  version before that change back through ooda's flag store, as
  policy:revert-pricing@v1; the simulator's next poll reads the flag off, the alert
  resolves and the run succeeds (expect alert_resolved).
- job-stopped silences the reconciler; heartbeat sim-reconciler goes late and its
  alert fires; policy restart-reconciler calls the simulator's POST
  /admin/job/restart; the job pings again, the alert resolves, the run succeeds.

Both runs are in the audit log under their policy's actor with the decision's
rationale, and the flag's history names the run."""
import json
import os
import subprocess
import time
import urllib.error
import urllib.request

from oodait import Server, check, create_token, done, SIM, wait_for, http_call as http


CONFIG = """
log:
  level: info
heartbeats:
  - name: sim-reconciler
    every: 2s
    grace: 2s
    service: reconciler
alerts:
  interval: 1s
  rules:
    - name: HighErrorRatio
      expr: >-
        sum by (service) (rate(ooda_span_errors_total[10s]))
        / sum by (service) (rate(ooda_span_requests_total[10s])) > 0.05
      for: 2s
      severity: page
remedy:
  http_allow_hosts: [127.0.0.1]
policies:
  - name: revert-pricing
    when: {alert: HighErrorRatio, service: checkout}
    precondition: [{flag_changed: {env: prod, key: new-pricing, within: 5m}}]
    do:
      - flag: {env: prod, key: new-pricing, to: previous}
    expect: {alert_resolved: true, timeout: 90s}
  - name: restart-reconciler
    when: {alert: "heartbeat:sim-reconciler"}
    do:
      - http: {url: "CTL/admin/job/restart", timeout: 5s}
    expect: {alert_resolved: true, timeout: 60s}
    irreversible_ok: true
    rationale: a restarted job is its own way back
"""


def main():
    s = Server(config="log:\n  level: info\n", expect_start=False)
    token = create_token(s.data, "admin", "sim")
    s.start()
    s.token = token
    ports = os.path.join(s.tmp, "ports.json")
    log = open(os.path.join(s.tmp, "sim.log"), "w")
    sim = subprocess.Popen([SIM, "run", "--ooda", s.url, "--token", token, "--env", "prod", "--base-port", "0",
                            "--ports-file", ports, "--rps", "20"], stdout=log, stderr=log)
    try:
        wait_for("the ports file", lambda: os.path.exists(ports), timeout=10)
        ctl = f"http://127.0.0.1:{json.load(open(ports))['control']}"

        def state():
            st, body = http("GET", f"{ctl}/state")
            return json.loads(body) if st == 200 else {}
        wait_for("the simulator polling the flag", lambda: state().get("flags", {}).get("polls", 0) > 0, timeout=15)
        with open(s.config, "w") as f:
            f.write(CONFIG.replace("CTL", ctl))
        r = s.post("/api/v1/config/reload")
        check(r.status == 200, f"reload with the policies: {r.status} {r.body}")

        def heartbeat_up():
            hbs = s.get("/api/v1/heartbeats").json()
            hbs = hbs.get("heartbeats", []) if isinstance(hbs, dict) else hbs
            return any(h.get("name") == "sim-reconciler" and h.get("state") == "up" for h in hbs)
        wait_for("the reconciler's heartbeat up", heartbeat_up, timeout=15)

        for name, svc in (("flag-misconfig", "checkout"), ("job-stopped", "reconciler")):
            st, body = http("POST", f"{ctl}/faults", {"name": name, "service": svc})
            check(st == 201, f"fault {name}: {st} {body}")

        def ended(policy):
            def fn():
                r = s.get(f"/api/v1/runs?policy={policy}")
                rs = r.json()["runs"] if r.status == 200 else []
                return [x for x in rs if x["status"] in ("succeeded", "failed", "undone")]
            return fn
        flag_run = (wait_for("the revert-pricing run to end", ended("revert-pricing"), timeout=60) or [{}])[0]
        job_run = (wait_for("the restart-reconciler run to end", ended("restart-reconciler"), timeout=30) or [{}])[0]

        # the flag: the change before the alert taken back, by the policy
        full = s.get("/api/v1/runs/" + flag_run.get("id", "x")).json()
        check(full.get("status") == "succeeded", f"revert-pricing succeeded: {full.get('status')} {full.get('reason')}")
        check("precondition flag_changed prod/new-pricing v2 (by token:sim" in full.get("rationale", ""),
              f"the decision names the flag change it takes back: {full.get('rationale')}")
        step = (full.get("steps") or [{}])[0]
        check(step.get("describe") == "flag prod/new-pricing back to the previous version"
              and "flag prod/new-pricing: v2 -> v3" in step.get("output", ""), f"the revert step: {step}")
        check("resolved" in full.get("verification", ""), f"verified by the alert resolving: {full.get('verification')}")
        check(state().get("flags", {}).get("new-pricing", {}).get("free") is False, f"the simulator reads the flag off: {state().get('flags')}")
        cur = s.get("/api/v1/flags/new-pricing?env=prod").json()
        check(cur.get("author") == "policy:revert-pricing@v1" and cur.get("version") == 3,
              f"v3 of the flag written by the policy: {cur.get('author')} v{cur.get('version')}")

        # the job: restarted through the simulator's admin endpoint, the heartbeat seen again
        full = s.get("/api/v1/runs/" + job_run.get("id", "x")).json()
        check(full.get("status") == "succeeded", f"restart-reconciler succeeded: {full.get('status')} {full.get('reason')}")
        step = (full.get("steps") or [{}])[0]
        check(step.get("describe") == f"http POST {ctl}/admin/job/restart" and step.get("status") == "ok",
              f"the restart step: {step}")
        job = state().get("job", {})
        check(job.get("restarts") == 1 and job.get("stopped") is False, f"the job restarted once and runs: {job}")

        # audited, by each policy's actor, with the decision's rationale
        for policy in ("revert-pricing", "restart-reconciler"):
            au = s.get(f"/api/v1/audit?actor=policy:{policy}@v1&limit=100").json()
            recs = au.get("records", au.get("entries", []))
            acts = [x.get("action") for x in recs]
            check("remedy.run.create" in acts and "remedy.step.ok" in acts and "remedy.run.succeeded" in acts,
                  f"{policy}'s run audited: {acts}")
        au = s.get("/api/v1/audit?actor=policy:revert-pricing@v1&limit=100").json()
        flag_recs = [x for x in au.get("records", au.get("entries", [])) if x.get("action", "").startswith("flag.")]
        check(flag_recs and "remediation run run-" in json.dumps(flag_recs[0]),
              f"the flag change audited with the run in its rationale: {flag_recs}")
        check(s.stop() == 0, "clean stop")
    finally:
        sim.terminate()
        sim.wait(10)
        s.cleanup()
    done()


if __name__ == "__main__":
    main()
