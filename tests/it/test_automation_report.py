"""The automation report on the real daemon: three policies driven by incidents — one
run that succeeds and a repeat refused by the cooldown, one whose expect fails so its
step is undone, one whose incident is then resolved as a false positive — and the
report at /api/v1/reports/automation and on /metrics counts exactly those: runs by
status, success rate, recovery figures, undo count, guardrail hits by guardrail and
false activations; ?since= after the runs leaves them out."""
import time
import urllib.parse

from oodait import Server, check, done, wait_until, closed_port


def main():
    closed = closed_port()
    cfg = f"""
services:
  - name: svc-undo
    probes:
      - name: up
        tcp: 127.0.0.1:{closed}
        interval: 1s
        timeout: 1s
policies:
  - name: ok
    when: {{service: svc-ok}}
    do:
      - exec: {{argv: ["true"]}}
    irreversible_ok: true
    rationale: true changes nothing
    guardrails: {{cooldown: 1h}}
  - name: undo
    when: {{service: svc-undo}}
    do:
      - exec: {{argv: ["true"]}}
        undo: {{exec: {{argv: ["true"]}}}}
    expect: {{probe: {{service: svc-undo, name: up}}, timeout: 1s}}
  - name: fp
    when: {{service: svc-fp}}
    do:
      - exec: {{argv: ["true"]}}
    irreversible_ok: true
    rationale: true changes nothing
"""
    s = Server(config=cfg)
    try:
        def incident(service):
            r = s.post("/api/v1/incidents", {"title": f"{service} broken", "service": service})
            check(r.status == 201, f"incident on {service}: {r.status} {r.body}")
            return r.json()["id"]

        def settled(policy, n):
            rs = s.get(f"/api/v1/runs?policy={policy}").json().get("runs", [])
            busy = [x for x in rs if x["status"] in ("pending", "running", "verifying", "undoing")]
            return rs if len(rs) >= n and not busy else None

        incident("svc-ok")
        wait_until(lambda: settled("ok", 1), "the first run of ok")
        incident("svc-ok")
        wait_until(lambda: settled("ok", 2), "the refused repeat of ok")
        incident("svc-undo")
        wait_until(lambda: settled("undo", 1), "the undone run")
        fp = incident("svc-fp")
        wait_until(lambda: settled("fp", 1), "the run of fp")
        r = s.post(f"/api/v1/incidents/{fp}/transition", {"to": "acknowledged", "false_positive": True})
        check(r.status == 400 and "false_positive" in r.body, f"false_positive only on resolve: {r.status} {r.body}")
        r = s.cli("incident", "resolve", fp, "--false-positive", "--note", "the probe was misconfigured")
        check(r.returncode == 0, f"resolve as a false positive: {r.stdout} {r.stderr}")
        check(s.get(f"/api/v1/incidents/{fp}").json().get("false_positive") is True, "the resolution is kept")

        r = s.get("/api/v1/reports/automation")
        check(r.status == 200, f"report: {r.status} {r.body}")
        rep = r.json()
        pol = {g["name"]: g for g in rep["policies"]}
        check(rep["runs"] == 4 and set(pol) == {"ok", "undo", "fp"}, f"the runs: {rep}")
        ok = pol["ok"]
        check(ok["runs"] == 2 and ok["by_status"] == {"succeeded": 1, "refused": 1} and ok["success_rate"] == 1.0,
              f"ok: {ok}")
        check(ok["guardrail_hits"] == {"cooldown": 1} and ok["recovery_seconds"]["count"] == 1 and
              ok["recovery_seconds"]["median"] >= 0 and ok["false_activations"] == 0, f"ok figures: {ok}")
        und = pol["undo"]
        check(und["by_status"] == {"undone": 1} and und["undone"] == 1 and und["success_rate"] == 0.0 and
              und["recovery_seconds"]["count"] == 0, f"undo: {und}")
        check(pol["fp"]["false_activations"] == 1 and pol["fp"]["success_rate"] == 1.0, f"fp: {pol['fp']}")
        later = urllib.parse.quote(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 60)))
        r = s.get(f"/api/v1/reports/automation?since={later}")
        check(r.status == 200 and r.json()["runs"] == 0 and r.json()["policies"] == [], f"since: {r.body}")
        r = s.get("/api/v1/reports/automation?since=yesterday-ish")
        check(r.status == 400 and "since" in r.body, f"a bad since names the field: {r.status} {r.body}")

        m = s.get("/metrics").body
        for line in ('ooda_remedy_runs_total{policy="ok",status="succeeded"} 1',
                     'ooda_remedy_runs_total{policy="ok",status="refused"} 1',
                     'ooda_remedy_runs_total{policy="undo",status="undone"} 1',
                     'ooda_remedy_guardrail_hits_total{policy="ok",guardrail="cooldown"} 1',
                     'ooda_remedy_recovery_seconds_count{policy="ok"} 1',
                     'ooda_remedy_recovery_seconds_count{policy="undo"} 0'):
            check(line in m.splitlines(), f"/metrics has {line}")
        check('ooda_remedy_recovery_seconds{policy="ok",quantile="0.9"}' in m, "/metrics has the p90")
        rc = s.stop()
        check(rc == 0 and "Sanitizer" not in s.read_log(), f"the daemon stops cleanly: {rc}")
    finally:
        s.cleanup()
    done()


if __name__ == "__main__":
    main()
