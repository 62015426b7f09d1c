"""ooda-sim against the real daemon: the simulated system's traces arrive in
ooda as one tree frontend → checkout → payments/inventory → database under
one trace id; every service's /metrics is valid Prometheus text; each fault
of the catalogue applies and clears with the effect a responder would see
(bad-deploy: a deploy in ooda and errors, cured by clearing or by a rollback
through ooda whose redeploy hook reaches the simulator; slow-dependency: database latency
in ooda; job-stopped: the heartbeat goes late; noise clears by itself; the
others change what they say); bad control requests are 4xx problems naming
the field; with ooda gone the services keep answering and the exporter
counts what it drops; SIGTERM stops the simulator with status 0."""
import json
import os
import re
import signal
import subprocess
import time
from datetime import datetime, timezone
import urllib.error
import urllib.request

from oodait import Server, check, create_token, done, SIM, wait_for


CONFIG = """\
heartbeats:
  - name: sim-reconciler
    every: 1s
    grace: 1s
    service: reconciler
"""


def http(method, url, body=None, timeout=10):
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def sim_cli(*args, ports):
    return subprocess.run([SIM, *args, "--ports-file", ports], capture_output=True, text=True, timeout=30)


PROM_LINE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*"(,|(?=\})))*\})? '
                       r'[-+]?([0-9.]+(e[-+]?[0-9]+)?|\+Inf|NaN)$')


def check_metrics(name, text):
    bad = [l for l in text.splitlines() if l and not l.startswith("#") and not PROM_LINE.match(l)]
    check(not bad, f"{name}: /metrics lines are Prometheus text: {bad[:3]}")
    series = {}
    for l in text.splitlines():
        if l and not l.startswith("#"):
            k, v = l.rsplit(" ", 1)
            series[k] = float(v)
    buckets = [v for k, v in series.items() if k.startswith("sim_request_duration_seconds_bucket")]
    check(buckets == sorted(buckets), f"{name}: histogram buckets are cumulative")
    inf = series.get(f'sim_request_duration_seconds_bucket{{service="{name}",le="+Inf"}}')
    check(inf == series.get(f'sim_request_duration_seconds_count{{service="{name}"}}'),
          f"{name}: +Inf bucket equals the count")
    check(series.get(f'sim_requests_total{{service="{name}",code="2xx"}}', 0) > 0, f"{name}: served requests")
    check(f'process_resident_memory_bytes{{service="{name}"}}' in series, f"{name}: memory gauge")
    return series


def main():
    s = Server(config=CONFIG, expect_start=False)
    token = create_token(s.data, "admin", "sim")
    s.start()
    s.token = token
    ports = os.path.join(s.tmp, "ports.json")
    log = open(os.path.join(s.tmp, "sim.log"), "w")
    sim = subprocess.Popen([SIM, "run", "--ooda", s.url, "--token", token, "--base-port", "0",
                            "--ports-file", ports, "--rps", "15", "--job-every", "1s"], stdout=log, stderr=log)
    try:
        wait_for("the ports file", lambda: os.path.exists(ports), timeout=10)
        p = json.load(open(ports))
        ctl = f"http://127.0.0.1:{p['control']}"
        svc = p["services"]
        check(sorted(svc) == ["checkout", "database", "frontend", "inventory", "payments"], f"ports: {svc}")

        # one request's trace, as ooda stores it: the whole tree under one id
        def full_trace():
            r = s.get("/api/v1/traces?service=frontend&limit=20")
            for t in r.json().get("traces", []) if r.status == 200 else []:
                tr = s.get(f"/api/v1/traces/{t['trace_id']}").json()
                if len({sp["service"] for sp in tr["spans"]}) == 5 and len(tr["spans"]) >= 11:
                    return tr
            return None
        tr = wait_for("a full trace in ooda", full_trace, timeout=25)
        if tr:
            spans = tr["spans"]
            check(len({sp["trace_id"] for sp in spans}) == 1, "every span has the one trace id")
            by_id = {sp["span_id"]: sp for sp in spans}
            def chain(sp):
                out = []
                while sp:
                    if sp["kind"] == "server":
                        out.append(sp["service"])
                    sp = by_id.get(sp.get("parent_span_id"))
                return out[::-1]
            chains = {tuple(chain(sp)) for sp in spans if sp["service"] == "database" and sp["kind"] == "server"}
            check(chains == {("frontend", "checkout", "payments", "database"),
                             ("frontend", "checkout", "inventory", "database")},
                  f"database is reached through payments and through inventory: {chains}")
            roots = [sp for sp in spans if not sp.get("parent_span_id")]
            check(len(roots) == 1 and roots[0]["service"] == "frontend", "the frontend's span is the root")

        for name, port in svc.items():
            st, hdr, body = http("GET", f"http://127.0.0.1:{port}/metrics")
            check(st == 200 and hdr.get("Content-Type", "").startswith("text/plain"), f"{name} /metrics: {st}")
            check_metrics(name, body)
            st, _, _ = http("GET", f"http://127.0.0.1:{port}/healthz")
            check(st == 200, f"{name} /healthz: {st}")

        # the catalogue, as drills will read it
        r = subprocess.run([SIM, "list-faults", "--json"], capture_output=True, text=True, timeout=10)
        cat = {f["name"]: f for f in json.loads(r.stdout)}
        check(len(cat) == 10 and cat["bad-deploy"]["expected_root_cause"]["kind"] == "deploy"
              and cat["traffic-spike"]["expected_root_cause"]["service"] is None, "list-faults --json")

        # bad-deploy: a deploy event in ooda, then payments errors in ooda; clear rolls back
        r = sim_cli("fault", "bad-deploy", ports=ports)
        check(r.returncode == 0, f"fault bad-deploy: {r.stderr}")
        f = json.loads(r.stdout) if r.returncode == 0 else {}
        deps = s.get("/api/v1/deploys?service=payments").json()
        deps = deps.get("deploys", deps) if isinstance(deps, dict) else deps
        check(any(d.get("version") == "2.4.0" for d in deps), f"deploy of payments 2.4.0 recorded: {deps}")
        ev = s.get("/api/v1/events?service=payments&kind=deploy").json()["events"]
        check(len(ev) >= 1, "a deploy change event on the timeline")
        wait_for("payments errors in ooda's logs",
                 lambda: s.get("/api/v1/logs/search?q=" + urllib.request.quote("service:payments severity>=error")
                               + "&since=1m").json().get("logs"), timeout=20)
        st, _, body = http("GET", f"{ctl}/state")
        check(json.loads(body)["services"]["payments"]["version"] == "2.4.0", "payments runs 2.4.0")
        r = sim_cli("clear", str(f.get("id")), ports=ports)
        check(r.returncode == 0, f"clear bad-deploy: {r.stderr}")
        st, _, body = http("GET", f"{ctl}/state")
        check(json.loads(body)["services"]["payments"]["version"] == "2.3.0", "rolled back to 2.3.0")
        deps = s.get("/api/v1/deploys?service=payments").json()
        deps = deps.get("deploys", deps) if isinstance(deps, dict) else deps
        check(deps and deps[0].get("version") == "2.3.0", "the rollback is a deploy of 2.3.0 in ooda")

        # a rollback through ooda reaches the simulator: its redeploy hook is the control port
        with open(s.config, "a") as cf:
            cf.write(f"deploy:\n  hooks:\n    redeploy:\n      http: {{url: \"{ctl}/hooks/redeploy\"}}\n")
        r = s.post("/api/v1/config/reload")
        check(r.status == 200, f"reload with the redeploy hook: {r.status} {r.body}")
        r = sim_cli("fault", "bad-deploy", ports=ports)
        f2 = json.loads(r.stdout) if r.returncode == 0 else {}
        dep = f2.get("detail", "").split(" ")[1].rstrip(":") if f2 else ""
        r = s.post(f"/api/v1/deploys/{dep}/rollback", {"rationale": "payments fails since this deploy", "wait": True})
        check(r.status in (200, 201, 202), f"rollback of {dep} through ooda: {r.status} {r.body}")
        check(wait_for("payments back on 2.3.0", lambda: json.loads(http("GET", f"{ctl}/state")[2])
                       ["services"]["payments"]["version"] == "2.3.0", timeout=20),
              "ooda's rollback ran the previous version in the simulator")
        ndeploys = len(s.get("/api/v1/deploys?service=payments").json().get("deploys", []))
        check(ndeploys >= 3, f"the deploys of payments so far: {ndeploys}")
        r = sim_cli("clear", str(f2.get("id")), ports=ports)
        check(r.returncode == 0, f"clear after the rollback: {r.stderr}")
        check(len(s.get("/api/v1/deploys?service=payments").json().get("deploys", [])) == ndeploys,
              "clearing a fault already rolled back records no other deploy")

        # the redeploy hook directly, and the admin endpoint
        st, _, _ = http("POST", f"{ctl}/hooks/redeploy", {"service": "payments", "env": "prod", "version": "2.2.9"})
        check(st == 200, f"redeploy hook: {st}")
        st, _, body = http("POST", f"http://127.0.0.1:{svc['payments']}/admin/version", {"version": "2.3.0"})
        check(st == 200 and json.loads(body)["services"]["payments"]["version"] == "2.3.0", "admin version")
        st, hdr, body = http("POST", f"http://127.0.0.1:{svc['payments']}/admin/shed", {"ratio": 7})
        check(st == 400 and "ratio" in body and hdr.get("Content-Type") == "application/problem+json",
              f"admin shed with a bad ratio: {st} {body}")

        # slow-dependency: the database's latency in ooda goes up ×10
        def p50(name):
            r = s.get(f"/api/v1/services/{name}?window=4s")
            return r.json().get("p50_ms") if r.status == 200 else None
        # a 4 s window can be empty for a moment on a loaded machine: wait for one
        before = wait_for("database p50 before the fault", lambda: p50("database"), timeout=20, step=0.5)
        st, _, body = http("POST", f"{ctl}/faults", {"name": "slow-dependency", "for": "60s"})
        check(st == 201, f"slow-dependency: {st} {body}")
        fid = json.loads(body).get("id")
        slow = wait_for("database p50 above 15 ms in ooda", lambda: (p50("database") or 0) > 15 and p50("database"),
                        timeout=20, step=0.5)
        check(before is not None and slow and before < slow, f"database p50 before {before} ms, during {slow} ms")
        st, _, _ = http("DELETE", f"{ctl}/faults/{fid}")
        check(st == 200, f"clear slow-dependency: {st}")

        # job-stopped: the heartbeat goes late, and comes back when cleared
        def hb_state():
            hbs = s.get("/api/v1/heartbeats").json()["heartbeats"]
            return next((h["state"] for h in hbs if h["name"] == "sim-reconciler"), None)
        def job_last_success():
            """The job's last success on the control port's /metrics (what Prometheus scrapes)."""
            st, _, body = http("GET", f"{ctl}/metrics")
            for line in body.splitlines() if st == 200 else []:
                if line.startswith('sim_job_last_success_timestamp_seconds{job="reconciler"} '):
                    return float(line.split()[1])
            return None
        check(wait_for("heartbeat up", lambda: hb_state() == "up"), "heartbeat up before the fault")
        check(job_last_success() is not None, "the job's last success is on the control port's /metrics")
        st, _, body = http("POST", f"{ctl}/faults", {"name": "job-stopped"})
        fid = json.loads(body).get("id")
        check(wait_for("heartbeat late", lambda: hb_state() == "late", timeout=15), "heartbeat late after job-stopped")
        # the last success Prometheus would read is the run of ooda's last ok ping (it ends, then pings)
        last = job_last_success()
        hb = next(h for h in s.get("/api/v1/heartbeats").json()["heartbeats"] if h["name"] == "sim-reconciler")
        ok_at = datetime.strptime(hb["last_ok"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()
        # the gauge is rounded to the millisecond (%.3f) and last_ok truncated to it: 1.5 ms of slack, no more
        check(last is not None and last <= ok_at + 0.0015 + 1e-6, f"no success after the last ok ping: {last} <= {ok_at}")
        http("DELETE", f"{ctl}/faults/{fid}")
        check(wait_for("heartbeat up again", lambda: hb_state() == "up", timeout=15), "heartbeat up after clear")
        again = job_last_success()
        check(again is not None and last is not None and again > last, f"a success again after the clear: {again}")

        # noise: a 2-second blip that clears by itself
        st, _, body = http("POST", f"{ctl}/faults", {"name": "noise"})
        nid = json.loads(body).get("id")
        def noise_cleared():
            fs = json.loads(http("GET", f"{ctl}/faults")[2])
            n = next(x for x in fs if x["id"] == nid)
            return not n["active"] and n["cleared"]
        check(wait_for("noise cleared by itself", noise_cleared, timeout=10), "noise ends by itself")

        # the other faults: each applies with its visible effect, and clears
        def state():
            return json.loads(http("GET", f"{ctl}/state")[2])
        cases = [
            ("dependency-down", lambda: http("GET", f"http://127.0.0.1:{svc['inventory']}/healthz")[0] == 503,
             lambda: http("GET", f"http://127.0.0.1:{svc['inventory']}/healthz")[0] == 200),
            ("memory-leak", lambda: state()["services"]["checkout"]["memory_bytes"] > 64 * 1048576,
             lambda: state()["services"]["checkout"]["memory_bytes"] == 64 * 1048576),
            ("flag-misconfig", lambda: state()["flags"]["new-pricing"]["free"] and
             not state()["flags"]["new-pricing"]["pro"],
             lambda: not state()["flags"]["new-pricing"]["free"]),
            ("config-shed", lambda: state()["services"]["frontend"]["shed_ratio"] == 0.6 and
             s.get("/api/v1/configs/frontend/prod?format=json").json().get("admission", {}).get("shed_ratio") == 0.6,
             lambda: state()["services"]["frontend"]["shed_ratio"] == 0),
            ("traffic-spike", lambda: state()["load"]["multiplier"] == 5, lambda: state()["load"]["multiplier"] == 1),
        ]
        for name, applied, cleared in cases:
            st, _, body = http("POST", f"{ctl}/faults", {"name": name})
            check(st == 201, f"{name}: {st} {body}")
            fid = json.loads(body).get("id") if st == 201 else 0
            check(wait_for(f"{name} applied", applied, timeout=10), f"{name} applied")
            st, _, _ = http("DELETE", f"{ctl}/faults/{fid}")
            check(st == 200, f"clear {name}: {st}")
            check(wait_for(f"{name} cleared", cleared, timeout=10), f"{name} cleared")
        flag_events = s.get("/api/v1/events?kind=flag&service=checkout").json()["events"]
        check(len(flag_events) >= 2, f"the flag change and its undo are change events: {len(flag_events)}")

        # bad control input: 4xx problems naming the field, nothing injected
        for body, want, field in [({"name": "nope"}, 400, "name"), ({"name": "bad-deploy", "for": "soon"}, 400, "for"),
                                  ({"name": "bad-deploy", "service": "mainframe"}, 400, "service"),
                                  ({"name": "job-stopped", "service": "payments"}, 400, "service"),
                                  (b"{not json", 400, "body")]:
            st, hdr, txt = http("POST", f"{ctl}/faults", body)
            check(st == want and hdr.get("Content-Type") == "application/problem+json"
                  and json.loads(txt)["detail"].startswith(field), f"bad fault {body!r}: {st} {txt}")
        st, _, body = http("POST", f"{ctl}/faults", {"name": "traffic-spike"})
        sid = json.loads(body)["id"]
        st, _, txt = http("POST", f"{ctl}/faults", {"name": "traffic-spike"})
        check(st == 409, f"the same fault twice on one service is a conflict: {st} {txt}")
        http("DELETE", f"{ctl}/faults/{sid}")
        st, _, _ = http("DELETE", f"{ctl}/faults/{sid}")
        check(st == 404, f"clearing a cleared fault: {st}")
        st, _, _ = http("GET", f"{ctl}/hooks/redeploy")
        check(st == 405, f"a known path with another method: {st}")
        st, _, _ = http("DELETE", f"{ctl}/faults/abc")
        check(st == 400, f"a fault id that is not a number: {st}")
        active = [x for x in json.loads(http("GET", f"{ctl}/faults")[2]) if x["active"]]
        check(not active, f"no fault left active: {active}")
        r = sim_cli("fault", "nope", ports=ports)
        check(r.returncode == 1 and "name: unknown fault" in r.stderr, f"CLI names the bad field: {r.stderr}")

        # ooda goes away: services keep answering, the exporter drops and counts
        s.stop()
        dropped0 = state()["export"]["dropped"]
        check(wait_for("drops counted", lambda: state()["export"]["dropped"] > dropped0, timeout=15),
              "items dropped while ooda is down are counted")
        t0 = time.time()
        st, _, _ = http("GET", f"http://127.0.0.1:{svc['frontend']}/checkout?user=3", timeout=10)
        check(st == 200 and time.time() - t0 < 5, f"the frontend still answers with ooda down: {st}")
    finally:
        if sim.poll() is None:
            sim.send_signal(signal.SIGTERM)
            try:
                rc = sim.wait(timeout=20)
            except subprocess.TimeoutExpired:
                sim.kill()
                rc = sim.wait()
            check(rc == 0, f"ooda-sim exits 0 on SIGTERM: {rc}")
        else:
            check(False, f"ooda-sim died early: {sim.returncode}\n" + open(os.path.join(s.tmp, "sim.log")).read())
        log.close()
        s.cleanup()
    done()


main()
