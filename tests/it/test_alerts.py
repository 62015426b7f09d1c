"""Alerting end to end with the real daemon: a PromQL rule over a gauge pushed
with OTLP/JSON goes pending, then firing, then resolved when the gauge drops;
a 2-second blip under `for: 5s` never fires; the Alertmanager samples fire
and resolve an external alert; a silence takes an alert out of notification
(and is audited with its creator); alerts survive a restart; a bad rule
rejects a reload with the rule's path and the parse position."""
import json
import os
import signal
import time
from oodait import SHARED, Server, check, done

H = {"Content-Type": "application/json"}


def gauge(s, service, name, value):
    now = time.time_ns()
    body = {"resourceMetrics": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeMetrics": [{"metrics": [{"name": name, "gauge": {"dataPoints": [
            {"timeUnixNano": str(now), "asDouble": value}]}}]}]}]}
    r = s.post("/v1/metrics", body)
    check(r.status == 200, f"metrics accepted: {r.status} {r.body}")


def find(s, name, state="all"):
    r = s.get(f"/api/v1/alerts?state={state}")
    return [a for a in r.json()["alerts"] if a["name"] == name]


def wait_state(s, name, want, timeout=20):
    deadline = time.time() + timeout
    seen = None
    while time.time() < deadline:
        al = find(s, name)
        seen = al[0]["state"] if al else None
        if seen == want:
            return al[0]
        time.sleep(0.1)
    check(False, f"{name}: wanted {want}, last seen {seen}")
    return None


CONFIG = """alerts:
  interval: 500ms
  group_window: 30s
  rules:
    - name: QueueBacklog
      expr: queue_depth{job="checkout"} > 10
      for: 2s
      severity: page
      labels:
        team: payments
      annotations:
        summary: "backlog {{ $value }} on {{ $labels.job }}"
    - name: BlipCheck
      expr: blip_level{job="worker"} > 10
      for: 5s
"""

s = None
try:
    s = Server(config=CONFIG)

    # --- rule lifecycle: pending, firing, resolved
    gauge(s, "checkout", "queue.depth", 50)
    al = wait_state(s, "QueueBacklog", "pending")
    for _ in range(6):  # keep the condition fresh while for: 2s runs
        gauge(s, "checkout", "queue.depth", 50)
        if find(s, "QueueBacklog", "firing"):
            break
        time.sleep(0.5)
    al = wait_state(s, "QueueBacklog", "firing")
    if al:
        check(al["severity"] == "page" and al["labels"].get("team") == "payments" and al["service"] == "checkout",
              f"labels, severity, service: {al}")
        check(al["annotations"].get("summary") == "backlog 50 on checkout", f"templated annotation: {al}")
        check(al["notify"] is True and al["group"], f"notifying, in a group: {al}")
        fp = al["fingerprint"]
        r = s.get(f"/api/v1/alerts/{fp}")
        tr = r.json()["transitions"]
        check([t["to"] for t in tr] == ["pending", "firing"], f"transitions: {tr}")
        check(len(tr) == 2 and tr[1]["at_ns"] - tr[0]["at_ns"] >= 2 * 10**9,
              f"firing only once the condition held for: 2s, by the alert's own transition times: {tr}")
        check(tr[-1]["evidence"].get("value") == 50, f"evidence kept with the transition: {tr[-1]}")
        r = s.get("/api/v1/alerts/groups")
        check(any(fp in [m["fingerprint"] for m in g["alerts"]] for g in r.json()["groups"]), f"groups: {r.body}")
        res = s.cli("alerts", "list")
        check(res.returncode == 0 and "QueueBacklog" in res.stdout and "notifying" in res.stdout,
              f"ooda alerts list: {res.stdout}{res.stderr}")

        # --- a silence takes it out of notification, audited with its creator
        res = s.cli("alerts", "silence", "--service", "checkout", "--label", "team=payments", "--for", "1h",
                    "--reason", "planned maintenance")
        check(res.returncode == 0 and "sil_" in res.stdout, f"ooda alerts silence: {res.stdout}{res.stderr}")
        sid = res.stdout.strip().split()[-1]
        deadline = time.time() + 5
        while time.time() < deadline and s.get(f"/api/v1/alerts/{fp}").json()["notify"]:
            time.sleep(0.1)
        a2 = s.get(f"/api/v1/alerts/{fp}").json()
        check(a2["state"] == "firing" and a2["notify"] is False and a2["silenced_by"] == sid,
              f"silenced alert still firing, not notifying: {a2}")
        res = s.cli("alerts", "silences")
        check(res.returncode == 0 and sid in res.stdout and "planned maintenance" in res.stdout,
              f"ooda alerts silences: {res.stdout}{res.stderr}")
        r = s.get("/api/v1/audit?action=silence.create")
        recs = r.json()["records"]
        check(recs and recs[0]["actor"].startswith("cli:") and recs[0]["rationale"] == "planned maintenance",
              f"silence audited with its creator: {r.body[:400]}")
        r = s.post("/api/v1/silences", {"duration": "1h", "reason": "x"})
        check(r.status == 400 and "matcher" in r.body, f"silence without matcher: {r.status} {r.body}")
        res = s.cli("alerts", "unsilence", sid)
        check(res.returncode == 0, f"ooda alerts unsilence: {res.stderr}")
        deadline = time.time() + 5
        while time.time() < deadline and not s.get(f"/api/v1/alerts/{fp}").json()["notify"]:
            gauge(s, "checkout", "queue.depth", 50)
            time.sleep(0.2)
        check(s.get(f"/api/v1/alerts/{fp}").json()["notify"] is True, "unsilenced alert notifies again")
        r = s.request("DELETE", f"/api/v1/silences/{sid}")
        check(r.status == 404, f"ending an ended silence: {r.status}")

        # --- the gauge drops: resolved
        gauge(s, "checkout", "queue.depth", 2)
        al = wait_state(s, "QueueBacklog", "resolved")
        r = s.get("/api/v1/audit?action=alert.*")
        actors = {x["actor"] for x in r.json()["records"]}
        check("engine:alerts" in actors, f"transitions audited by engine:alerts: {actors}")

    # --- a 2-second blip with for: 5s never fires
    gauge(s, "worker", "blip.level", 99)
    wait_state(s, "BlipCheck", "pending")
    time.sleep(2)
    gauge(s, "worker", "blip.level", 1)
    wait_state(s, "BlipCheck", "inactive")
    time.sleep(4)
    al = find(s, "BlipCheck")
    check(al and al[0]["state"] == "inactive", f"blip stays inactive: {al}")
    if al:
        tr = s.get(f"/api/v1/alerts/{al[0]['fingerprint']}").json()["transitions"]
        check("firing" not in [t["to"] for t in tr], f"blip never fired: {tr}")

    # --- Alertmanager intake: firing then resolved
    with open(os.path.join(SHARED, "samples", "alertmanager_webhook.json")) as f:
        firing = f.read()
    with open(os.path.join(SHARED, "samples", "alertmanager_webhook_resolved.json")) as f:
        resolved = f.read()
    r = s.post("/api/v1/alerts/alertmanager", firing, headers=H)
    check(r.status == 200 and r.json()["accepted"] == 1, f"webhook accepted: {r.status} {r.body}")
    am = find(s, "AlwaysFiring", "firing")
    check(am and am[0]["source"] == "alertmanager" and am[0]["severity"] == "page" and am[0]["external"],
          f"external alert firing: {am}")
    r = s.post("/api/v1/alerts/alertmanager", resolved, headers=H)
    check(r.status == 200, f"resolved webhook accepted: {r.status} {r.body}")
    am = find(s, "AlwaysFiring")
    check(am and am[0]["state"] == "resolved", f"external alert resolved: {am}")
    r = s.get("/api/v1/audit?actor=alertmanager")
    check(len(r.json()["records"]) >= 2, f"alertmanager transitions audited: {r.body[:300]}")
    r = s.post("/api/v1/alerts/alertmanager", {"version": "4", "alerts": [{"status": "firing", "labels": {}}]})
    check(r.status == 400 and "alerts[0].labels.alertname" in r.body, f"bad payload is 400: {r.status} {r.body}")
    r = s.post("/api/v1/alerts/alertmanager", "{nope", headers=H)
    check(r.status == 400, f"bad JSON is 400: {r.status}")
    r = s.get("/api/v1/alerts?state=sideways")
    check(r.status == 400, f"unknown state is 400: {r.status}")
    r = s.get("/api/v1/alerts/0000000000000000")
    check(r.status == 404, f"unknown alert is 404: {r.status}")

    # --- restart: alerts come back from the store
    s.stop()
    s.start()
    am = find(s, "AlwaysFiring")
    check(am and am[0]["state"] == "resolved", f"alerts survive a restart: {am}")
    qb = find(s, "QueueBacklog")
    check(qb and qb[0]["state"] == "resolved", f"rule alert survives a restart: {qb}")

    # --- a bad rule rejects a reload, naming the rule and the position
    with open(s.config, "w") as f:
        f.write(CONFIG.replace('queue_depth{job="checkout"} > 10', 'sum(queue_depth'))
    r = s.post("/api/v1/config/reload", {})
    check(r.status == 400 and "alerts.rules[0].expr" in r.body and "at char" in r.body,
          f"bad rule rejects the reload: {r.status} {r.body}")
    res = s.cli("config", "check", s.config)
    check(res.returncode != 0 and "alerts.rules[0].expr" in res.stderr, f"config check: {res.stderr}")
    with open(s.config, "w") as f:
        f.write(CONFIG)
    r = s.post("/api/v1/config/reload", {})
    check(r.status == 200, f"good config reloads: {r.status} {r.body}")
    m = s.get("/metrics").body
    check('ooda_alerts{state="resolved"}' in m and "ooda_silences" in m, "alert counts in /metrics")
    check(s.stop() == 0, "clean stop with the engine running")
finally:
    if s:
        s.cleanup()
done()
