"""The respond stage end to end with the real daemon: frontend → checkout →
payments with owners and tiers; traffic through real OTLP ingest (/v1/traces and
/v1/logs, JSON) gives a baseline, then a deploy of payments (change events API), then
payments' spans turn to errors and its callers follow on their calls to it.
The page alert on payments' error ratio (Alertmanager intake, startsAt at the
error onset) opens an incident, and: `ooda incident show` prints a summary
whose FIRST suspect is payments with the deploy in its evidence; the
diagnostics snapshot is an artifact; the timeline has opened, alert, change,
summary and notification entries; the webhook receiver got exactly one
(signed) notification for the opening; escalation paged level 1 of the owner
team's policy and level 2 when level 1 does not acknowledge; ack and resolve
notify; the postmortem has every section with
numbers; the reliability report and /metrics give MTTA and MTTR of the real
incident; action items check that the incident exists."""
import hashlib
import hmac
import json
import os
import random
import socket
import time
from datetime import datetime, timezone

from oodait import Receiver, Server, check, create_token, done

SECRET = "whsec_e2e_41c9"
NS = 1_000_000_000


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def verify(sig_header, body):
    parts = dict(p.split("=", 1) for p in sig_header.split(","))
    mac = hmac.new(SECRET.encode(), parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(mac, parts["v1"])


def wait_for(fn, what, timeout=30):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.1)
    check(False, f"timed out waiting for {what}: last {last}")
    return last


def iso(ns):
    return datetime.fromtimestamp(ns / NS, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


RNG = random.Random(7)


def span(service, name, start_ns, dur_ms, error, kind=2, trace=None, parent=None, peer=None):
    attrs = [{"key": "peer.service", "value": {"stringValue": peer}}] if peer else []
    s = {"traceId": trace, "spanId": "%016x" % RNG.getrandbits(64), "name": name, "kind": kind,
         "startTimeUnixNano": str(start_ns), "endTimeUnixNano": str(start_ns + dur_ms * 1_000_000),
         "attributes": attrs, "status": {"code": 2 if error else 1}}
    if parent:
        s["parentSpanId"] = parent
    return service, s


def request(t_ns, pay_err, caller_err):
    """One traced request frontend → checkout → payments (server spans and client spans to the callee)."""
    trace = "%032x" % RNG.getrandbits(128)
    out = []
    _, fe = span("frontend", "GET /checkout", t_ns, 120, caller_err, trace=trace)
    out.append(("frontend", fe))
    _, fe_c = span("frontend", "POST checkout", t_ns + 1_000_000, 110, caller_err, kind=3, trace=trace,
                   parent=fe["spanId"], peer="checkout")
    out.append(("frontend", fe_c))
    _, co = span("checkout", "POST /order", t_ns + 2_000_000, 100, caller_err, trace=trace, parent=fe_c["spanId"])
    out.append(("checkout", co))
    _, co_c = span("checkout", "POST payments", t_ns + 3_000_000, 80, caller_err, kind=3, trace=trace,
                   parent=co["spanId"], peer="payments")
    out.append(("checkout", co_c))
    _, pa = span("payments", "POST /charge", t_ns + 4_000_000, 70 if not pay_err else 90, pay_err, trace=trace,
                 parent=co_c["spanId"])
    out.append(("payments", pa))
    return out


def otlp(spans):
    by = {}
    for svc, s in spans:
        by.setdefault(svc, []).append(s)
    return {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": svc}}]},
                               "scopeSpans": [{"spans": ss}]} for svc, ss in by.items()]}


def main():
    port = free_port()
    recv = Receiver(port)
    config = f"""
services:
  - name: frontend
    owner: web
    dependencies: [checkout]
  - name: checkout
    owner: shop
    tier: critical
    dependencies: [payments]
  - name: payments
    owner: payments
    tier: critical
    runbook: https://runbooks.example/payments
notify:
  public_url: http://ooda.example
  targets:
    - name: hook
      type: webhook
      url: http://127.0.0.1:{port}/hook
      secret_env: OODA_E2E_SECRET
    - name: pager
      type: webhook
      url: http://127.0.0.1:{port}/pager
      secret_env: OODA_E2E_SECRET
  routes:
    - match: {{kind: incident}}
      targets: [hook]
oncall:
  schedules:
    - name: payments
      team: payments
      time_zone: UTC
      rotations:
        - type: daily
          handoff: "00:00"
          start: "2026-01-01"
          participants: [alice]
  escalation_policies:
    - name: payments-page
      team: payments
      levels:
        - targets: ["schedule:payments"]
          timeout: 2s
        - targets: ["user:lead"]
          timeout: 10m
  teams:
    - name: payments
      schedule: payments
      escalation_policy: payments-page
      notify: [pager]
"""
    s = Server(config=config, expect_start=False, env={"OODA_E2E_SECRET": SECRET})
    try:
        os.makedirs(s.data, exist_ok=True)
        resp = create_token(s.data, "responder", "alice")
        admin = create_token(s.data, "admin", "root")
        ingest = create_token(s.data, "ingest", "ci")
        s.start()
        s.token = resp

        # --- telemetry: 15 minutes of baseline, a deploy of payments, then 6 minutes of errors
        now = time.time_ns()
        onset = now - 6 * 60 * NS
        deploy_at = onset - 90 * NS
        spans = []
        t = now - 22 * 60 * NS
        while t < now:
            bad = t >= onset
            spans += request(t, pay_err=bad and RNG.random() < 0.8, caller_err=bad and RNG.random() < 0.7)
            t += 2 * NS
        for i in range(0, len(spans), 500):
            r = s.post("/v1/traces", otlp(spans[i:i + 500]), token=ingest)
            check(r.status in (200, 202), f"OTLP ingest: {r.status} {r.body[:200]}")
        logs = []
        for k in range(0, 22 * 60, 10):
            t = now - 22 * 60 * NS + k * NS
            bad = t >= onset
            logs.append({"timeUnixNano": str(t), "severityText": "ERROR" if bad else "INFO",
                         "severityNumber": 17 if bad else 9,
                         "body": {"stringValue": f"charge failed: card vault timeout after {900 + k % 50} ms" if bad
                                  else f"charge ok in {60 + k % 20} ms"}})
        r = s.post("/v1/logs", {"resourceLogs": [{"resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "payments"}}]}, "scopeLogs": [{"logRecords": logs}]}]},
            token=ingest)
        check(r.status in (200, 202), f"OTLP logs: {r.status} {r.body[:200]}")
        r = s.post("/api/v1/events", {"kind": "deploy", "service": "payments", "version": "2.7.0", "actor": "ci",
                                      "description": "payments 2.7.0", "time": iso(deploy_at)}, token=ingest)
        check(r.status == 202, f"deploy event: {r.status} {r.body}")
        wait_for(lambda: s.get("/api/v1/events?service=payments&since=1h").json()["events"], "the deploy event")

        # --- the page on payments' error ratio (Prometheus via the Alertmanager intake) opens an incident
        alert = {"status": "firing", "labels": {"alertname": "PaymentsErrorRatio", "severity": "page",
                                                 "service": "payments"},
                 "annotations": {"summary": "payments error ratio above 5%"}, "startsAt": iso(onset),
                 "endsAt": "0001-01-01T00:00:00Z"}
        r = s.post("/api/v1/alerts/alertmanager", {"version": "4", "status": "firing", "alerts": [alert]},
                   token=ingest)
        check(r.status == 200, f"alertmanager intake: {r.status} {r.body}")
        inc = wait_for(lambda: s.get("/api/v1/incidents").json()["incidents"], "the incident")[0]
        iid = inc["id"]
        tl = lambda kind: s.get(f"/api/v1/incidents/{iid}/timeline?kind={kind}").json()["entries"]
        wait_for(lambda: tl("summary"), "the summary on the timeline")
        wait_for(lambda: tl("notification"), "the notification on the timeline")

        # --- the summary and its suspects
        res = s.cli("incident", "show", iid)
        out = res.stdout
        check(res.returncode == 0 and out.startswith(iid), f"show prints the header: {out[:200]} {res.stderr}")
        check("Suspects" in out and "Impact" in out, f"show prints the triage text: {out}")
        check("card vault timeout" in out, f"the new error class from the logs: {out}")
        sus = s.get(f"/api/v1/incidents/{iid}/suspects").json()["suspects"]
        check(sus and sus[0]["node"] == "payments", f"the first suspect is payments: {json.dumps(sus)[:800]}")
        ev = json.dumps(sus[0].get("evidence") if sus else None)
        check("deploy" in ev and "2.7.0" in ev, f"the deploy is in its evidence: {ev[:600]}")
        sus_line = out[out.find("Suspects"):]
        check("1. payments" in sus_line, f"show names payments first: {sus_line[:300]}")
        j = json.loads(s.cli("incident", "show", iid, "--json").stdout)
        check(j["id"] == iid and j["summary"]["suspects"][0]["node"] == "payments", "show --json includes summary")
        summ = s.get(f"/api/v1/incidents/{iid}/summary").json()
        check(summ["incident"] == iid and summ["impact"]["services"], f"GET summary: {str(summ)[:300]}")
        arts = s.get(f"/api/v1/incidents/{iid}/artifacts").json()["artifacts"]
        check([a["name"] for a in arts] == ["diagnostics.json"] and len(arts[0]["sha256"]) == 64,
              f"the diagnostics snapshot is a hashed artifact: {arts}")
        r = s.get(f"/api/v1/incidents/INC-999/summary")
        check(r.status == 404 and r.headers.get("Content-Type", "").startswith("application/problem+json"),
              f"summary of an unknown incident: {r.status}")

        # --- the timeline, the one notification at the receiver, the level 1 page
        kinds = {e["kind"] for e in s.get(f"/api/v1/incidents/{iid}/timeline").json()["entries"]}
        for k in ("opened", "alert", "change", "summary", "notification"):
            check(k in kinds, f"timeline has {k}: {kinds}")
        change = tl("change")
        check(any("2.7.0" in json.dumps(e) for e in change), f"the deploy on the timeline: {change}")
        hooks = wait_for(lambda: recv.on("/hook"), "the webhook delivery")
        time.sleep(1.0)  # a second (duplicate) delivery would arrive in this time
        hooks = recv.on("/hook")
        check(len(hooks) == 1, f"exactly one notification for the incident: {[b for _, _, b in hooks]}")
        _, h, b = hooks[0]
        body = json.loads(b)
        check(verify(h.get("X-Ooda-Signature", "t=0,v1=0"), b), "the webhook signature is valid")
        check(body.get("kind") == "incident" and body.get("event") == "opened", f"an incident opening: {body}")
        check("payments" in json.dumps(body), f"names payments: {body}")
        pages = wait_for(lambda: recv.on("/pager"), "the level 1 page to the team's target")
        check("escalated" in pages[0][2].decode() and "user:alice" in pages[0][2].decode(),
              f"level 1 pages alice on call: {pages[0][2][:400]}")
        notes = tl("notification")
        check(any(e["data"].get("target") == "hook" and e["data"].get("event") == "opened" and
                  e["data"].get("notification", "").startswith("ntf_") for e in notes), f"notification entries: {notes}")
        check(any(e["data"].get("event") == "escalated" and e["data"].get("level") == 1 for e in notes),
              f"the page is on the timeline: {notes}")
        # escalation pages level 2 when level 1 does not acknowledge (level 1 times out after 2s)
        lvl2 = wait_for(lambda: [b for _, _, b in recv.on("/pager") if b"user:lead" in b], "the level 2 page")
        check(lvl2 and json.loads(lvl2[0]).get("event") == "escalated", f"level 2 page: {lvl2[:1]}")
        # the page is delivered, then its timeline entry written: wait for the entry
        wait_for(lambda: any(e["data"].get("level") == 2 and e["data"].get("page_to") == "user:lead"
                             for e in tl("notification")), "the level 2 page on the timeline")
        r = s.get(f"/api/v1/notifications?incident={iid}")
        check(r.status == 200 and len(r.json()["notifications"]) >= 2, f"delivery status by incident: {r.body[:300]}")

        # --- lowering the severity tells nobody; raising it does
        for sev in ("SEV3", "SEV2"):
            r = s.post(f"/api/v1/incidents/{iid}/severity", {"severity": sev, "note": "re-assessed"})
            check(r.status == 200, f"severity {sev}: {r.status} {r.body}")
        wait_for(lambda: len(recv.on("/hook")) == 2, "the severity-raised notification")

        # --- ack, resolve: each notifies; no more pages after ack
        time.sleep(1.0)  # MTTA is measured in seconds
        res = s.cli("incident", "ack", iid)
        check(res.returncode == 0, f"ack: {res.stdout}{res.stderr}")
        res = s.cli("incident", "resolve", iid)
        check(res.returncode == 0, f"resolve: {res.stdout}{res.stderr}")
        wait_for(lambda: len(recv.on("/hook")) == 4, "ack and resolve notifications")
        events = [json.loads(b)["event"] for _, _, b in recv.on("/hook")]
        check(events == ["opened", "severity-raised", "acknowledged", "resolved"], f"events at the receiver: {events}")

        # --- action items check the incident; the reliability report uses the real one
        r = s.post("/api/v1/incidents/INC-404/actions", {"title": "x", "owner": "bob", "due": "2030-01-01"})
        check(r.status == 404, f"an action item of an unknown incident: {r.status} {r.body}")
        r = s.post(f"/api/v1/incidents/{iid}/actions", {"title": "Canary payments deploys", "owner": "bob",
                                                          "due": "2030-01-01", "rationale": "postmortem"})
        check(r.status == 201, f"an action item: {r.status} {r.body}")
        doc = s.get(f"/api/v1/incidents/{iid}").json()
        rep = s.get("/api/v1/reports/reliability").json()
        ov = rep["overall"]

        def secs(a, b):
            return (datetime.fromisoformat(doc[b].replace("Z", "+00:00")) -
                    datetime.fromisoformat(doc[a].replace("Z", "+00:00"))).total_seconds()
        check(rep["incidents"] == 1 and ov["mtta"]["n"] == 1 and ov["mttr"]["n"] == 1, f"report: {ov}")
        check(abs(ov["mtta"]["mean_s"] - secs("opened_at", "acknowledged_at")) < 0.01 and ov["mtta"]["mean_s"] >= 1,
              f"MTTA: {ov['mtta']} vs {doc['opened_at']}..{doc['acknowledged_at']}")
        check(abs(ov["mttr"]["mean_s"] - secs("onset_at", "resolved_at")) < 0.01 and ov["mttr"]["mean_s"] >= 360,
              f"MTTR from the onset: {ov['mttr']}")
        m = s.get("/metrics").body
        line = [x for x in m.splitlines() if x.startswith("ooda_incidents_mtta_seconds")]
        check(line and abs(float(line[0].split()[-1]) - ov["mtta"]["mean_s"]) < 0.01,
              f"/metrics has the MTTA of the report: {line}")
        line = [x for x in m.splitlines() if x.startswith("ooda_incidents_mttr_seconds")]
        check(line and abs(float(line[0].split()[-1]) - ov["mttr"]["mean_s"]) < 0.01,
              f"/metrics has the MTTR of the report: {line}")

        # --- the postmortem
        path = os.path.join(s.tmp, "pm.md")
        res = s.cli("incident", "postmortem", iid, "--output", path)
        check(res.returncode == 0 and os.path.exists(path), f"postmortem: {res.stdout}{res.stderr}")
        md = open(path).read() if os.path.exists(path) else ""
        for sec in ("Summary", "Impact", "Timeline", "Root cause", "Detection and response", "Action items"):
            check(f"## {sec}" in md, f"postmortem section {sec}: {md[:400]}")
        check("Canary payments deploys" in md and "payments" in md and any(c.isdigit() for c in md),
              "the postmortem has the action item and numbers")
        r = s.get(f"/api/v1/incidents/{iid}/postmortem?format=json")
        check(r.status == 200 and r.json()["markdown"].startswith("#"), f"format=json wraps it: {r.body[:200]}")
        r = s.get(f"/api/v1/incidents/{iid}/postmortem?format=pdf")
        check(r.status == 400 and "format" in r.body, f"a bad format names the field: {r.body}")

        # --- one row, three parts: a reload is all-or-nothing across on-call, notify and incidents
        new_route = "    - match: {kind: alert}\n      targets: [pager]\n"
        changed = config.replace("      targets: [hook]\n", "      targets: [hook]\n" + new_route)
        with open(s.config, "w") as f:
            f.write(changed.replace("timeout: 2s", "timeout: 500ms"))
        r = s.post("/api/v1/config/reload", {}, token=admin)
        check(r.status == 400 and "levels[0].timeout" in r.body, f"a bad oncall section refuses the reload: {r.body}")
        with open(s.config, "w") as f:
            f.write(changed)
        r = s.post("/api/v1/config/reload", {}, token=admin)
        check(r.status == 200, f"good reload: {r.status} {r.body}")
        recs = s.get("/api/v1/audit?action=config.*", token=admin).json()["records"]
        ok = [x for x in recs if x["action"] == "config.reload"]
        check(len(ok) == 1 and ok[0]["detail"] == {"respond": "notify: targets hook, pager; 2 routes"},
              f"the refused reload changed no part; the good one is audited under respond: {ok}")
        # --- the same alert firing again after resolve reopens the incident: told once more
        for status in ("resolved", "firing"):
            a = dict(alert, status=status, startsAt=iso(time.time_ns()))
            if status == "resolved":
                a["endsAt"] = iso(time.time_ns())
            r = s.post("/api/v1/alerts/alertmanager", {"version": "4", "status": status, "alerts": [a]}, token=ingest)
            check(r.status == 200, f"alertmanager {status}: {r.status} {r.body}")
        wait_for(lambda: s.get(f"/api/v1/incidents/{iid}").json()["reopened"] == 1, "the reopening")
        wait_for(lambda: [b for _, _, b in recv.on("/hook") if json.loads(b)["event"] == "reopened"],
                 "the reopened notification")
        rc = s.stop()
        check(rc == 0, f"the daemon stops cleanly (no leak under ASan): {rc}\n{s.read_log()[-3000:]}")
    finally:
        s.cleanup()
        recv.close()
    done()


main()
