"""Self-healing against ooda-sim, for real: checkout goes down (fault
dependency-down), its probe fails (when: {probe: …}), policy restart-checkout runs
the sim variant of recipe restart-instance (POST /admin/restart on checkout's port),
and the run succeeds only once its expect (the probe passing again) holds. The run is
on the incident's timeline and in the audit log as policy:restart-checkout@v1. The
same fault again inside the cooldown is not restarted: the run is refused and the
refusal reaches a webhook, a person."""
import json
import os
import subprocess
import time
import urllib.error
import urllib.request

from oodait import Receiver, Server, check, create_token, done, SIM, wait_for, http_call as http


def main():
    hook = Receiver()
    s = Server(config="log:\n  level: info\n", expect_start=False, env={"OODA_IT_HOOK_SECRET": "k"})
    token = create_token(s.data, "admin", "sim")
    s.start()
    s.token = token
    ports = os.path.join(s.tmp, "ports.json")
    log = open(os.path.join(s.tmp, "sim.log"), "w")
    sim = subprocess.Popen([SIM, "run", "--ooda", s.url, "--token", token, "--base-port", "0",
                            "--ports-file", ports, "--rps", "5"], stdout=log, stderr=log)
    try:
        wait_for("the ports file", lambda: os.path.exists(ports), timeout=10)
        p = json.load(open(ports))
        ctl = f"http://127.0.0.1:{p['control']}"
        checkout = f"http://127.0.0.1:{p['services']['checkout']}"
        with open(s.config, "w") as f:
            f.write(f"""
log:
  level: info
remedy:
  http_allow_hosts: [127.0.0.1]
notify:
  targets:
    - name: oncall-hook
      type: webhook
      url: http://127.0.0.1:{hook.port}/hook
      secret_env: OODA_IT_HOOK_SECRET
      timeout: 2s
services:
  - name: checkout
    probes:
      - name: health
        http: {{url: "{checkout}/healthz"}}
        interval: 500ms
        timeout: 400ms
policies:
  - name: restart-checkout
    when: {{probe: {{service: checkout, name: health}}}}
    do:
      - recipe: {{name: restart-instance, variant: sim, params: {{service: "{checkout}"}}}}
    expect: {{probe: {{service: checkout, name: health}}, timeout: 10s}}
    on_failure: {{notify: oncall-hook}}
    irreversible_ok: true
    rationale: a restart is its own way back
    guardrails: {{cooldown: 10m}}
""")
        r = s.post("/api/v1/config/reload")
        check(r.status == 200, f"reload with the policy: {r.status} {r.body}")

        def probe_state():
            r = s.get("/api/v1/probes")
            for pr in r.json().get("probes", []) if r.status == 200 else []:
                if pr["service"] == "checkout" and pr["name"] == "health":
                    return pr["state"]
            return None
        wait_for("checkout's probe passing", lambda: probe_state() == "passing", timeout=15)

        def restarts():
            return json.loads(http("GET", f"{ctl}/state")[1])["services"]["checkout"]["restarts"]
        before = restarts()

        # ---- the fault: checkout down; the policy restarts it, the probe verifies it
        st, body = http("POST", f"{ctl}/faults", {"name": "dependency-down", "service": "checkout"})
        check(st == 201, f"fault dependency-down on checkout: {st} {body}")
        fid = json.loads(body).get("id") if st == 201 else 0

        def runs():
            r = s.get("/api/v1/runs?policy=restart-checkout")
            return r.json()["runs"] if r.status == 200 else []
        done_runs = wait_for("the restart run to end", lambda: [x for x in runs() if x["status"] in
                                                               ("succeeded", "failed", "undone")], timeout=25) or [{}]
        run = done_runs[0]
        check(run.get("status") == "succeeded", f"restart run succeeded: {run.get('status')} {run.get('reason')}")
        check("probe checkout/health passing" in run.get("verification", ""), f"expect verified: {run.get('verification')}")
        check(restarts() == before + 1, f"checkout restarted once: {before} → {restarts()}")
        step = (run.get("steps") or [{}])[0]
        check(step.get("describe") == f"http POST {checkout}/admin/restart" and step.get("exit_status") == 202,
              f"the sim recipe's step: {step}")

        inc = wait_for("the run linked to checkout's incident",
                       lambda: s.get("/api/v1/runs/" + run.get("id", "x")).json().get("incident"), timeout=15)
        if inc:
            tl = wait_for("the run on the timeline", lambda: [
                e for e in s.get(f"/api/v1/incidents/{inc}/timeline?kind=remediation").json().get("entries", [])
                if run["id"] in e.get("text", "") or run["id"] == (e.get("data") or {}).get("run")], timeout=10)
            check(bool(tl), f"the run is on {inc}'s timeline")
        au = s.get("/api/v1/audit?actor=policy:restart-checkout@v1&limit=100").json()
        acts = [a["action"] for a in au.get("records", [])]
        check("remedy.step.ok" in acts and "remedy.run.succeeded" in acts, f"the run is in the audit log: {acts}")

        # ---- the same fault again inside the cooldown: refused, escalated --------
        http("DELETE", f"{ctl}/faults/{fid}")
        wait_for("checkout passing between the faults", lambda: probe_state() == "passing", timeout=10)
        st, body = http("POST", f"{ctl}/faults", {"name": "dependency-down", "service": "checkout"})
        check(st == 201, f"the fault again: {st} {body}")
        refused = wait_for("the second run refused", lambda: [x for x in runs() if x["status"] == "refused"],
                           timeout=15) or [{}]
        check("cooldown" in refused[0].get("reason", ""), f"refused by the cooldown: {refused[0].get('reason')}")
        check(restarts() == before + 1, f"no second restart inside the cooldown: {restarts()}")
        wait_for("the escalation at the webhook", lambda: [b for b in hook.texts() if "cooldown" in b], timeout=10)
        check(probe_state() == "failing", "checkout stays down for a person to look at")
        check(s.stop() == 0, "clean stop")
    finally:
        sim.terminate()
        sim.wait(10)
        s.cleanup()
        hook.close()
    done()


if __name__ == "__main__":
    main()
