"""The service catalogue view: `ooda services list|show` and GET
/api/v1/services… join what ooda.yaml declares about each service (owner,
tier, runbook, environment, dependencies) with what the loop sees now: live
RED from spans ingested over OTLP JSON, the traced callers and callees beside
the declared ones, a probe, firing alerts, who is on call for the owner, and
an overall health with its reason. A declared service without data is
"unknown"; health turns "failing" when a page alert fires and when the probe
fails. An unknown name is a 404 problem naming it (CLI exit 1), a bad
window a 400 naming the parameter; a viewer
token reads it all.

With several nodes (the nodes3 suite), while the control store refuses every
connection, spans sent to one node are still acknowledged and counted by that
node's own view; once PostgreSQL takes connections again, the other nodes
count them too (the node writes the delta it kept at its next round)."""
import json
import os
import re
import socket
import subprocess
import threading
import time
from datetime import datetime, timezone
from oodait import Server, check, create_token, done

CONFIG = """\
services:
  - name: frontend
    owner: web
    tier: standard
    runbook: https://runbooks.example/frontend
    dependencies: [checkout]
    probes:
      - {{name: up, tcp: "127.0.0.1:{port}", interval: 200ms}}
  - name: checkout
    owner: payments
    tier: critical
    runbook: https://runbooks.example/checkout
    environment: prod
    dependencies: [db]
  - name: db
    owner: data
  - name: search
    owner: web
slos:
  - name: search-availability
    service: search
    objective: 99
    window: 7d
    min_events: 100000
    sli:
      ratio: {{from: red, errors: true}}
oncall:
  schedules:
    - name: payments
      team: payments
      time_zone: UTC
      rotations:
        - type: daily
          handoff: "09:00"
          start: "2026-01-05"
          participants: [alice]
  teams:
    - name: payments
      schedule: payments
"""


def listener():
    """A TCP port the probe can reach until it is closed."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)

    def serve():
        while True:
            try:
                c, _ = sock.accept()
                c.close()
            except OSError:
                return
    threading.Thread(target=serve, daemon=True).start()
    return sock


def search_spans(now_ns, n=20, errors=1):
    sp = [{"traceId": f"{i + 5001:032x}", "spanId": f"{i + 5001:016x}", "name": "GET /q", "kind": 2,
           "startTimeUnixNano": str(now_ns - i * 1_000_000 - 10_000_000), "endTimeUnixNano": str(now_ns - i * 1_000_000),
           "status": {"code": 2 if i < errors else 1}} for i in range(n)]
    return {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "search"}}]},
                               "scopeSpans": [{"spans": sp}]}]}


def spans(now_ns, n=20):
    """n frontend requests, each calling checkout (a server span whose parent is the frontend's)."""
    fe, co = [], []
    for i in range(n):
        end = now_ns - i * 1_000_000
        tid, fid, cid = f"{i + 1:032x}", f"{i + 1:016x}", f"{i + 1001:016x}"
        fe.append({"traceId": tid, "spanId": fid, "name": "GET /", "kind": 2,
                   "startTimeUnixNano": str(end - 40_000_000), "endTimeUnixNano": str(end), "status": {"code": 1}})
        co.append({"traceId": tid, "spanId": cid, "parentSpanId": fid, "name": "POST /pay", "kind": 2,
                   "startTimeUnixNano": str(end - 30_000_000), "endTimeUnixNano": str(end - 5_000_000),
                   "status": {"code": 1}})

    def rs(service, sp):
        return {"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
                "scopeSpans": [{"spans": sp}]}
    return {"resourceSpans": [rs("frontend", fe), rs("checkout", co)]}


def wait_for(fn, timeout=10):
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v or time.time() > deadline:
            return v
        time.sleep(0.2)


def listing(s):
    r = s.get("/api/v1/services")
    return {x["name"]: x for x in r.json()} if r.status == 200 else {}


def show(s, name):
    r = s.get(f"/api/v1/services/{name}")
    return r.json() if r.status == 200 else {}


def psql(dsn, sql):
    r = subprocess.run(["psql", "-qAtX", dsn, "-c", sql], capture_output=True, text=True)
    check(r.returncode == 0, f"psql {sql}: {r.stderr}")


def control_store_away(s, ingest, viewer):
    """The nodes' database refuses connections and theirs are ended; spans go to one node meanwhile."""
    dsn = os.environ[s.pg_var]
    db = re.findall(r"dbname=(\w+)", dsn)[-1]  # the last one counts
    admin = dsn + " dbname=postgres"
    a, b = s.url, s.followers[0].url
    one = {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "svc-away"}}]},
                              "scopeSpans": [{"spans": [
                                  {"traceId": f"{0xa0a0 + i:032x}", "spanId": f"{0xa0a0 + i:016x}", "name": "GET /a",
                                   "kind": 2, "startTimeUnixNano": str(time.time_ns() - 30_000_000),
                                   "endTimeUnixNano": str(time.time_ns() - 20_000_000), "status": {"code": 1}}
                                  for i in range(6)]}]}]}
    hdr = {"Content-Type": "application/json", "Authorization": "Bearer " + ingest}
    view = {"Authorization": "Bearer " + viewer}
    psql(admin, f"ALTER DATABASE {db} ALLOW_CONNECTIONS false")
    psql(admin, f"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{db}'")
    try:
        r = s._send(a, "POST", "/v1/traces", json.dumps(one).encode(), hdr, 30)
        check(r.status == 200, f"spans acknowledged while the control store is away: {r.status} {r.body[:200]}")
        v = s._send(a, "GET", "/api/v1/services/svc-away", None, view, 30)
        check(v.status == 200 and v.json().get("requests") == 6,
              f"the node that took them counts them meanwhile: {v.status} {v.body[:200]}")
    finally:
        psql(admin, f"ALTER DATABASE {db} ALLOW_CONNECTIONS true")
    t0 = time.time()
    seen = wait_for(lambda: (lambda r: r.status == 200 and r.json().get("requests") == 6)(
        s._send(b, "GET", "/api/v1/services/svc-away", None, view, 30)), timeout=30)
    check(seen, "another node counts them once the control store is back")
    print(f"control store back: another node counted the spans after {time.time() - t0:.1f} s")


def main():
    sock = listener()
    s = Server(config=CONFIG.format(port=sock.getsockname()[1]), expect_start=False)
    try:
        viewer = create_token(s.data, "viewer", "val")
        ingest = create_token(s.data, "ingest", "feeder")
        s.start()
        s.token = viewer

        # --- before any data: every declared service, "unknown" health
        svcs = listing(s)
        check(set(svcs) == {"frontend", "checkout", "db", "search"}, f"declared services listed: {sorted(svcs)}")
        check(svcs.get("db", {}).get("health") == "unknown" and svcs["db"].get("rate") is None,
              f"no data, unknown: {svcs.get('db')}")

        r = s.post("/v1/traces", spans(time.time_ns()), token=ingest)
        check(r.status == 200, f"spans accepted: {r.status} {r.body}")
        r = s.post("/v1/traces", search_spans(time.time_ns()), token=ingest)
        check(r.status == 200, f"search spans accepted: {r.status} {r.body}")
        r = s.post("/api/v1/deploys", {"service": "checkout", "env": "prod", "version": "1.4.2"}, token=ingest)
        check(r.status == 201, f"deploy recorded: {r.status} {r.body}")
        svcs = wait_for(lambda: (lambda v: v if v.get("checkout", {}).get("requests") == 20
                                 and v.get("frontend", {}).get("health") == "ok" else None)(listing(s)))
        check(svcs is not None, f"RED and health arrive: {listing(s)}")
        co = (svcs or {}).get("checkout", {})
        check(co.get("owner") == "payments" and co.get("tier") == "critical" and co.get("environment") == "prod"
              and co.get("declared") is True, f"catalogue fields: {co}")
        check(co.get("rate", 0) > 0 and co.get("error_ratio") == 0 and isinstance(co.get("p90_ms"), (int, float))
              and co.get("open_incidents") == 0, f"live RED: {co}")
        check(co.get("health") == "ok" and co.get("health_reason"), f"checkout ok: {co}")
        check((svcs or {}).get("db", {}).get("health") == "unknown", "db still unknown")
        # one error in 20 (5%) is above the 1% its 99% SLO allows
        se = (svcs or {}).get("search", {})
        check(se.get("health") == "degraded" and "5.00%" in se.get("health_reason", "")
              and "1.00%" in se.get("health_reason", ""), f"search degraded over its objective: {se}")
        se = show(s, "search")
        check([(x.get("name"), x.get("objective")) for x in se.get("slos", [])] == [("search-availability", 99)]
              and isinstance(se["slos"][0].get("budget_remaining"), (int, float)), f"the SLO and its budget: {se.get('slos')}")

        # --- show: declared ∪ traced dependencies, probe, on call, runbook
        co = show(s, "checkout")
        callers = {c["service"]: c for c in co.get("callers", [])}
        callees = {c["service"]: c for c in co.get("callees", [])}
        check(callers.get("frontend", {}).get("declared") is True and callers["frontend"].get("traced") is True
              and callers["frontend"].get("calls") == 20, f"frontend calls checkout, declared and traced: {callers}")
        check(callees.get("db", {}).get("declared") is True and callees["db"].get("traced") is False,
              f"db declared only: {callees}")
        check(co.get("dependencies") == ["db"] and co.get("dependents") == ["frontend"], f"declared deps: {co}")
        check(co.get("runbook") == "https://runbooks.example/checkout", "runbook shown")
        check((co.get("oncall") or {}).get("primary") == "alice" and co["oncall"].get("team") == "payments",
              f"on call for the owner: {co.get('oncall')}")
        check(co.get("incidents") == [] and co.get("alerts") == [] and co.get("slos") == [],
              f"the live sections: {co}")
        check((co.get("deploy") or {}).get("version") == "1.4.2" and co["deploy"].get("environment") == "prod",
              f"latest deploy: {co.get('deploy')}")
        fe = wait_for(lambda: (lambda v: v if v.get("probes") and v["probes"][0].get("state") == "passing" else None)(
            show(s, "frontend")))
        check(fe is not None, f"the frontend's probe passes: {show(s, 'frontend').get('probes')}")

        # --- CLI, text and JSON
        r = s.cli("services", "list")
        line = next((l for l in r.stdout.splitlines() if l.startswith("checkout")), "")
        check(r.returncode == 0 and "critical" in line and "payments" in line and " ok " in line + " ",
              f"services list: {r.stdout} {r.stderr}")
        r = s.cli("services", "list", "--json")
        check(r.returncode == 0 and {x["name"] for x in json.loads(r.stdout)} == {"frontend", "checkout", "db", "search"},
              f"services list --json: {r.stdout[:300]} {r.stderr}")
        r = s.cli("services", "show", "checkout")
        check(r.returncode == 0 and "payments" in r.stdout and "runbooks.example/checkout" in r.stdout
              and "frontend" in r.stdout and "declared+traced" in r.stdout and "alice" in r.stdout and "1.4.2" in r.stdout,
              f"services show: {r.stdout} {r.stderr}")
        r = s.cli("services", "show", "checkout", "--json")
        check(r.returncode == 0 and json.loads(r.stdout).get("tier") == "critical", f"show --json: {r.stderr}")

        # --- unknown service: 404 problem naming it; CLI exit 1
        r = s.get("/api/v1/services/nosuch")
        check(r.status == 404 and "problem+json" in r.headers.get("Content-Type", "") and "nosuch" in r.body,
              f"404 names the service: {r.status} {r.body}")
        r = s.get("/api/v1/services?window=soon")
        check(r.status == 400 and "problem+json" in r.headers.get("Content-Type", "") and "window" in r.json().get("detail", ""),
              f"a bad window is a 400 naming it: {r.status} {r.body}")
        r = s.cli("services", "show", "nosuch")
        check(r.returncode == 1 and "nosuch" in r.stderr, f"CLI: {r.returncode} {r.stderr}")

        # --- a page alert on checkout: failing, with the reason
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        alert = {"status": "firing", "labels": {"alertname": "CheckoutDown", "severity": "critical", "service": "checkout"},
                 "annotations": {"summary": "down"}, "startsAt": now, "endsAt": "0001-01-01T00:00:00Z"}
        r = s.post("/api/v1/alerts/alertmanager", {"receiver": "ooda", "status": "firing", "version": "4",
                                                   "groupKey": "{}:{}", "alerts": [alert]}, token=ingest)
        check(r.status == 200, f"alert accepted: {r.status} {r.body}")
        co = wait_for(lambda: (lambda v: v if v.get("health") == "failing" else None)(show(s, "checkout")))
        check(co is not None and "CheckoutDown" in co.get("health_reason", "")
              and [a.get("name") for a in co.get("alerts", [])] == ["CheckoutDown"],
              f"failing after the alert: {show(s, 'checkout')}")
        # the page alert opened an incident on checkout: in show and in the list's count
        co = wait_for(lambda: (lambda v: v if v.get("incidents") else None)(show(s, "checkout")))
        check(co is not None and co["incidents"][0].get("status") == "triggered"
              and co["incidents"][0].get("id", "").startswith("INC-"), f"open incident: {show(s, 'checkout')}")
        check(listing(s).get("checkout", {}).get("open_incidents") == 1, "the list counts it")

        # --- the probe fails: frontend failing
        sock.close()
        fe = wait_for(lambda: (lambda v: v if v.get("health") == "failing" else None)(listing(s).get("frontend", {})))
        check(fe is not None and "probe" in (fe or {}).get("health_reason", ""), f"failing probe: {listing(s).get('frontend')}")
        r = s.cli("services", "show", "frontend")
        check(r.returncode == 0 and "failing" in r.stdout, f"show says failing: {r.stdout}")
        if s.followers:
            control_store_away(s, ingest, viewer)
        rc = s.stop()
        check(rc == 0, f"the daemon stops cleanly (leak check under ASan): {rc}\n{s.read_log()[-2000:]}")
    finally:
        s.cleanup()
    done()


if __name__ == "__main__":
    main()
