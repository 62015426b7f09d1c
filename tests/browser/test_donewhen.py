"""The dashboard's "Done when", in a real browser on the real simulator: starts
`ooda serve` and `ooda-sim`, gives ooda a config for the simulated system (an
error-ratio alert, and policy rollback-payments in mode approve: roll payments
back to the version before the deploy, verified by its error ratio), lets the
simulator run a few seconds, injects `bad-deploy` on payments through the
simulator's control port, and then runs donewhen.mjs: an approver who only
uses the dashboard opens the overview, follows the open incident, finds the
cause (payments) and the deploy with its version in the triage summary and the
top suspect, approves the waiting rollback and watches, on the same page, the
run succeed and payments become healthy. Stops both processes. Screenshots go
to build/screenshots/donewhen-*.png. A whole-system test (normal build only),
about a minute of wall time on a quiet machine; it prints its own."""
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "it"))
from oodait import Server, check, create_token, done  # noqa: E402

ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
MODULES = os.path.join(ROOT, "web", "node_modules")
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
SIM = os.environ.get("OODA_SIM_BIN") or os.path.join(os.path.dirname(os.environ.get("OODA_BIN", ROOT + "/build/ooda")),
                                                     "sim", "ooda-sim")
WARM_S = 20  # traffic before the fault: the baseline the summary and the suspects compare with

# The simulated system as a responder's ooda.yaml would hold it, with the fast
# evaluation of `ooda drill run --fast`; {pay} is payments' base URL.
CONFIG = """
log:
  level: warn
services:
  - {{name: frontend, owner: web-team, dependencies: [checkout]}}
  - {{name: checkout, owner: orders-team, dependencies: [payments, inventory]}}
  - {{name: payments, owner: payments-team, dependencies: [database]}}
  - {{name: inventory, owner: orders-team, dependencies: [database]}}
  - {{name: database, owner: data-team}}
alerts:
  interval: 1s
  group_window: 1m
  rules:
    - name: HighErrorRatio
      expr: >-
        sum by (service) (rate(ooda_span_errors_total[20s]))
        / sum by (service) (rate(ooda_span_requests_total[20s])) > 0.05
      for: 3s
      severity: page
remedy:
  http_allow_hosts: [127.0.0.1]
policies:
  - name: rollback-payments
    description: roll payments back to the version before the deploy
    when: {{alert: HighErrorRatio, service: payments}}
    do:
      - recipe: {{name: rollback-last-deploy, variant: sim, params: {{service: "{pay}", version: "2.3.0"}}}}
    expect: {{error_ratio: {{service: payments, below: 0.05, window: 10s}}, timeout: 2m}}
    mode: approve
    irreversible_ok: true
    rationale: the version before the deploy served without errors
"""


def http(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def wait_for(what, fn, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.2)
    check(False, f"timed out waiting for {what}")
    return None


def main():
    t0 = time.time()
    node = shutil.which("node")
    if not check(node is not None, "node is installed (scripts/install-deps)"):
        done()
    if not check(os.path.exists(CHROMIUM), f"chromium at {CHROMIUM} (scripts/install-deps --e2e)"):
        done()
    if not check(os.path.isdir(os.path.join(MODULES, "playwright-core")), "web/node_modules has playwright-core"):
        done()
    if not check(os.path.exists(SIM), f"ooda-sim at {SIM}"):
        done()
    s = Server(config="log:\n  level: info\n", expect_start=False)
    sim = None
    try:
        admin = create_token(s.data, "admin", "sim")
        approver = create_token(s.data, "approver", "bob")
        s.start()
        s.token = admin
        ports = os.path.join(s.tmp, "ports.json")
        log = open(os.path.join(s.tmp, "sim.log"), "w")
        sim = subprocess.Popen([SIM, "run", "--ooda", s.url, "--base-port", "0", "--ports-file", ports],
                               stdout=log, stderr=log, env=dict(os.environ, OODA_TOKEN=admin))
        wait_for("the simulator's ports file", lambda: os.path.exists(ports) and os.path.getsize(ports) > 0, 15)
        p = json.load(open(ports))
        ctl = f"http://127.0.0.1:{p['control']}"
        with open(s.config, "w") as f:
            f.write(CONFIG.format(pay=f"http://127.0.0.1:{p['services']['payments']}"))
        r = s.post("/api/v1/config/reload")
        check(r.status == 200, f"reload with the simulated system's config: {r.status} {r.body}")

        def payments_seen():
            r = s.get("/api/v1/services")
            return r.status == 200 and any(x.get("service") == "payments" and x.get("requests") for x in r.json())
        wait_for("payments' telemetry", payments_seen, 20)
        time.sleep(max(0.0, WARM_S - (time.time() - t0)))

        st, body = http("POST", ctl + "/faults", {"name": "bad-deploy", "service": "payments"})
        check(st == 201, f"fault bad-deploy on payments: {st} {body}")
        m = re.search(r"-> (\S+),", json.loads(body).get("detail", "") if st == 201 else "")
        bad = m.group(1) if m else "?"
        print(f"fault injected {time.time() - t0:.1f} s after the start ({time.strftime('%H:%M:%S', time.gmtime())} UTC): "
              f"payments {bad}", flush=True)

        shots = os.environ.get("OODA_SCREENSHOTS") or os.path.join(os.path.dirname(os.environ.get("OODA_BIN", ROOT + "/build/ooda")), "screenshots")
        env = dict(os.environ, OODA_URL=s.url, APPROVER_TOKEN=approver, BAD_VERSION=bad, SHOTS=shots,
                   CHROMIUM=CHROMIUM, WEB_MODULES=MODULES)
        r = subprocess.run([node, os.path.join(HERE, "donewhen.mjs")], env=env, capture_output=True, text=True, timeout=150)
        sys.stdout.write(r.stdout)
        sys.stderr.write(r.stderr[-4000:])
        for line in r.stdout.splitlines():
            if line.startswith("FAIL "):
                check(False, line[5:])
        check(r.returncode == 0, f"the browser run passed (exit {r.returncode})")
        # where the time went: the fault, the incident, the run's moves (printed, not asserted)
        incs = s.get("/api/v1/incidents?limit=20").json()
        for inc in incs.get("incidents", []) if isinstance(incs, dict) else incs:
            print(f"incident {inc.get('id')} {inc.get('service')} opened {inc.get('opened_at')}: {inc.get('title')}",
                  flush=True)
            sus = s.get(f"/api/v1/incidents/{inc.get('id')}/suspects").json().get("suspects", [])
            for x in sus[:4]:
                ev = [(e.get("kind"), e.get("onset") or e.get("before_onset_s"), e.get("explained_by") or e.get("metric"))
                      for e in x.get("evidence", [])]
                print(f"  suspect {x.get('node')} {x.get('kind')} score {x.get('score'):.3f} onset {x.get('onset')}: {ev}",
                      flush=True)
        for run in s.get("/api/v1/runs?policy=rollback-payments").json().get("runs", []):
            print(f"run {run.get('id')} created {run.get('created')} {run.get('status')}: "
                  f"{run.get('verification') or run.get('reason')}", flush=True)
            for h in run.get("history", []):
                print(f"  {h.get('at')} {h.get('from')} -> {h.get('to')}", flush=True)
        st, body = http("GET", ctl + "/state")
        ver = json.loads(body)["services"]["payments"]["version"] if st == 200 else "?"
        check(ver == "2.3.0", f"the simulator runs payments 2.3.0 again (the rollback the page approved): {ver}")
        rc = s.stop()
        check(rc == 0, f"the daemon stopped cleanly (exit {rc})")
    finally:
        if sim:
            sim.terminate()
            try:
                sim.wait(10)
            except subprocess.TimeoutExpired:
                sim.kill()
        s.cleanup()
    print(f"wall time {time.time() - t0:.1f} s", flush=True)
    done()


if __name__ == "__main__":
    main()
