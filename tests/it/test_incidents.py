"""Incidents end to end with the real daemon: an Alertmanager alert storm from
one failing dependency (db down → payments, checkout, frontend) becomes ONE
incident led by db; its lifecycle with 409 on an illegal move and 403 for a
viewer; commander handoff and severity; annotations, hypotheses, artifacts
(hash checked on download, a tampered one refused), status updates on the
public status page; resolve, then the same alert firing again reopens it;
every action audited with its actor; the `ooda incident` CLI in text and
--json; the status page is not served when it is off."""
import json
import os
import re
import sqlite3
from datetime import datetime, timezone
from oodait import Server, check, control_db, create_token, done, wait_until

CONFIG = """
services:
  - name: frontend
    dependencies: [checkout]
  - name: checkout
    dependencies: [payments, db]
  - name: payments
    owner: payments-team
    dependencies: [db]
    runbook: https://runbooks.example/payments
  - name: db
    owner: dba
    tier: critical
    runbook: https://runbooks.example/db
incidents:
  status_page: true
  max_artifact_bytes: 4KiB
  rules:
    - match: {alertname: NoisyButHarmless}
      open: false
"""


def am_alert(name, service, status="firing", severity="critical"):
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {"status": status, "labels": {"alertname": name, "severity": severity, "service": service},
            "annotations": {"summary": f"{name} on {service}"}, "startsAt": now,
            "endsAt": now if status == "resolved" else "0001-01-01T00:00:00Z"}


def am_post(s, tok, alerts):
    body = {"receiver": "ooda", "status": "firing", "version": "4", "groupKey": "{}:{}", "alerts": alerts}
    r = s.post("/api/v1/alerts/alertmanager", body, token=tok)
    check(r.status == 200, f"alertmanager accepted: {r.status} {r.body}")


def incidents(s, tok, q=""):
    r = s.get("/api/v1/incidents" + q, token=tok)
    check(r.status == 200, f"list incidents: {r.status} {r.body}")
    return r.json()["incidents"] if r.status == 200 else []


s = None
s2 = None
try:
    s = Server(config=CONFIG, expect_start=False)
    os.makedirs(s.data, exist_ok=True)
    admin = create_token(s.data, "admin", "root")
    resp = create_token(s.data, "responder", "alice")
    viewer = create_token(s.data, "viewer", "val")
    ingest = create_token(s.data, "ingest", "am")
    s.start()
    s.token = resp

    # a deploy of db shortly before: a change event the incident's timeline shows
    r = s.post("/api/v1/events", {"kind": "deploy", "service": "db", "version": "14.2", "actor": "ci",
                                  "description": "db minor upgrade"}, token=ingest)
    check(r.status == 202, f"deploy event: {r.status} {r.body}")
    wait_until(lambda: s.get("/api/v1/events?service=db&since=1h", token=viewer).json()["events"], "the deploy event")
    # a silenced alert opens nothing
    r = s.post("/api/v1/silences", {"name": "MaintenanceWindow", "duration": "1h", "reason": "planned work"})
    check(r.status == 201, f"silence: {r.status} {r.body}")
    am_post(s, ingest, [am_alert("MaintenanceWindow", "search")])

    # --- an alert storm from the failing db is one incident, led by db
    am_post(s, ingest, [am_alert("HighErrorRate", "frontend")])
    first = wait_until(lambda: incidents(s, viewer), "the first incident")
    am_post(s, ingest, [am_alert("DBDown", "db"), am_alert("PaymentsErrors", "payments"),
                        am_alert("CheckoutLatency", "checkout"), am_alert("NoisyButHarmless", "search")])
    inc = wait_until(lambda: [i for i in incidents(s, viewer) if len(i["alerts"]) == 4], "four alerts in one incident")
    all_inc = incidents(s, viewer)
    check(len(all_inc) == 1, f"one incident for the storm (the rule keeps NoisyButHarmless out): {all_inc}")
    inc = inc[0] if inc else {}
    iid = inc.get("id", "INC-0")
    check(iid == "INC-1" and inc.get("number") == 1, f"named INC-1: {inc.get('id')}")
    check(inc.get("service") == "db" and inc.get("services", [None])[0] == "db", f"db leads: {inc.get('services')}")
    check(set(inc.get("services", [])) == {"db", "payments", "checkout", "frontend"}, f"services: {inc.get('services')}")
    check(inc.get("severity") == "SEV1", f"critical tier + page is SEV1: {inc.get('severity')}")
    check(inc.get("team") == "dba" and inc.get("tags", {}).get("team") == "dba", f"team from the catalogue: {inc}")
    check(inc.get("runbook") == "https://runbooks.example/db", f"runbook of db: {inc.get('runbook')}")
    check(inc.get("environment") == "production" and inc.get("tags", {}).get("service") == "db", f"tags: {inc.get('tags')}")
    check(inc.get("source", {}).get("kind") == "alertmanager" and inc.get("status") == "triggered", f"source: {inc}")
    check(inc.get("title", "").startswith("db: DBDown since "), f"title follows the primary: {inc.get('title')}")
    tl = s.get(f"/api/v1/incidents/{iid}/timeline", token=viewer).json()["entries"]
    kinds = [e["kind"] for e in tl]
    ch = [e for e in tl if e["kind"] == "change"]
    check(len(ch) == 1 and ch[0]["data"]["version"] == "14.2" and "deploy on db" in ch[0]["text"],
          f"the deploy of db is in the timeline: {ch}")
    check(inc.get("tags", {}).get("version") == "14.2", f"version tag from db's latest deploy: {inc.get('tags')}")
    check(kinds[0] == "opened" and kinds.count("alert") == 4 and [e["seq"] for e in tl] == list(range(1, len(tl) + 1)),
          f"timeline: opened, the four alerts, seq from 1: {kinds}")

    # --- bad input: a 4xx naming the field
    r = s.post("/api/v1/incidents", {"service": "db"})
    check(r.status == 400 and r.headers.get("Content-Type", "").startswith("application/problem+json")
          and "title" in r.json()["detail"], f"open without a title: {r.status} {r.body}")
    r = s.post("/api/v1/incidents", {"title": "x", "severity": "P1"})
    check(r.status == 400 and "severity" in r.json()["detail"], f"open with a bad severity: {r.status} {r.body}")
    r = s.post("/api/v1/incidents", {"title": "x"}, token=viewer)
    check(r.status == 403, f"a viewer cannot open one: {r.status}")
    r = s.request("POST", "/api/v1/incidents", body="{not json", headers={"Content-Type": "application/json"})
    check(r.status == 400, f"malformed JSON: {r.status} {r.body}")
    check(len(incidents(s, viewer)) == 1, "refused requests opened nothing")

    # --- lifecycle, roles, 409
    r = s.post(f"/api/v1/incidents/{iid}/transition", {"to": "acknowledged"}, token=viewer)
    check(r.status == 403, f"a viewer cannot transition: {r.status}")
    r = s.post(f"/api/v1/incidents/{iid}/transition", {"to": "acknowledged", "note": "on it"})
    check(r.status == 200 and r.json()["status"] == "acknowledged" and r.json()["acknowledged_at"],
          f"responder acknowledges: {r.status} {r.body}")
    r = s.post(f"/api/v1/incidents/{iid}/transition", {"to": "reviewed"})
    check(r.status == 409 and r.headers.get("Content-Type", "").startswith("application/problem+json")
          and "acknowledged" in r.body and "reviewed" in r.body, f"illegal move is 409 naming from and to: {r.status} {r.body}")
    r = s.post(f"/api/v1/incidents/{iid}/transition", {"to": "sideways"})
    check(r.status == 400 and "to" in r.body, f"unknown status is 400: {r.status} {r.body}")
    r = s.post(f"/api/v1/incidents/{iid}/commander", {"commander": "bob", "note": "shift change"})
    check(r.status == 200 and r.json()["commander"] == "bob", f"handoff: {r.status} {r.body}")
    r = s.post(f"/api/v1/incidents/{iid}/severity", {"severity": "SEV2", "note": "contained"})
    check(r.status == 200 and r.json()["severity"] == "SEV2", f"severity: {r.status} {r.body}")
    r = s.post(f"/api/v1/incidents/{iid}/severity", {"severity": "SEV7"})
    check(r.status == 400 and "severity" in r.body, f"bad severity names the field: {r.status} {r.body}")

    # --- collaboration
    r = s.post(f"/api/v1/incidents/{iid}/annotations", {"markdown": "*db* primary is **down**"})
    check(r.status == 201, f"annotate: {r.status} {r.body}")
    r = s.get(f"/api/v1/incidents/{iid}/annotations", token=viewer)
    ann = r.json().get("annotations", []) if r.status == 200 else []
    check(len(ann) == 1 and ann[0]["data"]["markdown"] == "*db* primary is **down**" and ann[0]["actor"] == "token:alice",
          f"annotation round-trip with its author: {r.body}")
    r = s.post(f"/api/v1/incidents/{iid}/hypotheses",
               {"statement": "disk full on db-1", "confidence": 0.7,
                "evidence": [{"kind": "promql", "ref": "node_filesystem_avail_bytes{host='db-1'}"}]})
    check(r.status == 201 and r.json()["id"] == "H1" and r.json()["state"] == "open", f"hypothesis: {r.status} {r.body}")
    r = s.post(f"/api/v1/incidents/{iid}/hypotheses", {"statement": "x", "confidence": 2})
    check(r.status == 400 and "confidence" in r.body, f"confidence out of range: {r.status} {r.body}")
    r = s.post(f"/api/v1/incidents/{iid}/hypotheses", {"statement": "x", "evidence": [{"kind": "gossip", "ref": "y"}]})
    check(r.status == 400 and "evidence[0].kind" in r.body, f"bad evidence kind: {r.status} {r.body}")
    r = s.post(f"/api/v1/incidents/{iid}/hypotheses/H1", {"state": "confirmed"})
    check(r.status == 200 and r.json()["state"] == "confirmed" and r.json()["decided_by"] == "token:alice",
          f"confirm: {r.status} {r.body}")
    hs = s.get(f"/api/v1/incidents/{iid}/hypotheses", token=viewer).json()["hypotheses"]
    check(len(hs) == 1 and hs[0]["evidence"][0]["kind"] == "promql" and hs[0]["confidence"] == 0.7, f"hypotheses: {hs}")

    payload = b"2026-12-05 db-1 FATAL: could not write to file: No space left on device\n"
    r = s.request("POST", f"/api/v1/incidents/{iid}/artifacts?name=db-1.log", body=payload,
                  headers={"Content-Type": "text/plain"})
    check(r.status == 201, f"upload: {r.status} {r.body}")
    art = r.json() if r.status == 201 else {}
    import hashlib
    check(art.get("sha256") == hashlib.sha256(payload).hexdigest() and art.get("size") == len(payload)
          and art.get("uploaded_by") == "token:alice", f"artifact listing: {art}")
    r = s.get(f"/api/v1/incidents/{iid}/artifacts/{art.get('id')}", token=viewer)
    check(r.status == 200 and r.body.encode() == payload and r.headers.get("Content-Type") == "text/plain",
          f"download is the same bytes: {r.status} {r.headers.get('Content-Type')}")
    r = s.request("POST", f"/api/v1/incidents/{iid}/artifacts?name=big.bin", body=b"x" * 5000,
                  headers={"Content-Type": "application/octet-stream"})
    check(r.status == 413 and "max_artifact_bytes" in r.body, f"too big: {r.status} {r.body}")
    # the respond stage's own diagnostics.json (triage snapshot at open) is not one of ours
    arts = [a for a in s.get(f"/api/v1/incidents/{iid}/artifacts", token=viewer).json()["artifacts"]
            if a["name"] != "diagnostics.json"]
    tl_art = [e for e in s.get(f"/api/v1/incidents/{iid}/timeline?kind=artifact", token=viewer).json()["entries"]
              if e["data"]["name"] != "diagnostics.json"]
    check(len(arts) == 1 and len(tl_art) == 1 and tl_art[0]["data"]["id"] == art.get("id"),
          f"the refused upload left nothing behind: {arts} {tl_art}")
    r = s.request("POST", f"/api/v1/incidents/{iid}/artifacts?name=../etc", body=b"x",
                  headers={"Content-Type": "application/octet-stream"})
    check(r.status == 400 and "name" in r.body, f"bad name: {r.status} {r.body}")
    db = control_db(s.data)
    db.execute("UPDATE incident_artifacts SET bytes = ? WHERE number = 1 AND id = ?",
               (payload.replace(b"FATAL", b"INFO!"), int(art.get("id", "A0")[1:])))
    db.commit()
    db.close()
    r = s.get(f"/api/v1/incidents/{iid}/artifacts/{art.get('id')}", token=viewer)
    check(r.status == 500 and "damaged" in r.body and art.get("sha256", "?") in r.body and "INFO!" not in r.body,
          f"tampered artifact refused: {r.status} {r.body}")

    r = s.post(f"/api/v1/incidents/{iid}/status-updates", {"state": "identified", "message": "Payments are failing; fix underway."})
    check(r.status == 201 and r.json()["by"] == "token:alice", f"status update: {r.status} {r.body}")
    r = s.post(f"/api/v1/incidents/{iid}/status-updates", {"state": "sleeping", "message": "x"})
    check(r.status == 400 and "state" in r.body, f"bad state: {r.status} {r.body}")
    r = s.get("/status.json", token="")
    page = r.json() if r.status == 200 else {}
    check(r.status == 200 and page["incidents"][0]["id"] == iid
          and page["incidents"][0]["updates"][0]["message"] == "Payments are failing; fix underway."
          and "commander" not in page["incidents"][0], f"public status page without a token: {r.status} {r.body}")
    r = s.get(f"/api/v1/incidents/{iid}", token="")
    check(r.status == 401, f"the incident itself needs a token: {r.status}")

    # --- resolve, then the same alert again reopens it
    r = s.post(f"/api/v1/incidents/{iid}/transition", {"to": "resolved"})
    check(r.status == 200 and r.json()["resolved_at"], f"resolve: {r.status} {r.body}")
    am_post(s, ingest, [am_alert("DBDown", "db", status="resolved")])
    # the alerting core hands both transitions over in order, so no wait is needed between them
    am_post(s, ingest, [am_alert("DBDown", "db")])
    again = wait_until(lambda: [i for i in incidents(s, viewer) if i["status"] == "triggered"], "the reopen")
    check(len(incidents(s, viewer)) == 1 and again and again[0]["id"] == iid and again[0]["reopened"] == 1
          and again[0]["resolved_at"] is None, f"reopened, not a new incident: {incidents(s, viewer)}")
    tl = s.get(f"/api/v1/incidents/{iid}/timeline", token=viewer).json()["entries"]
    check(any(e["kind"] == "reopened" for e in tl), "reopen in the timeline")
    check(any(e["kind"] == "alert" and e["text"] == "DBDown resolved on db" and e["data"]["fingerprint"] in again[0]["alerts"]
              for e in tl), f"the member alert resolving is in the timeline: {[e['text'] for e in tl]}")
    check(tl[-1]["seq"] == len(tl), "timeline still append-only")

    # --- audit: every action with its actor
    r = s.get("/api/v1/audit?action=incident.*&limit=100", token=admin)
    recs = r.json().get("records", r.json().get("audit", [])) if r.status == 200 else []
    acts = {(a["action"], a["actor"]) for a in recs}
    for want in [("incident.open", "ooda"), ("incident.transition", "token:alice"), ("incident.commander", "token:alice"),
                 ("incident.severity", "token:alice"), ("incident.annotate", "token:alice"),
                 ("incident.hypothesis", "token:alice"), ("incident.artifact", "token:alice"),
                 ("incident.status_update", "token:alice"), ("incident.reopen", "ooda")]:
        check(want in acts, f"audited: {want} in {sorted(acts)}")
    check(all(a["target"] == f"incident/{iid}" for a in recs), "audit targets name the incident")

    # --- the CLI
    res = s.cli("incident", "open", "Checkout slow for EU users", "--service", "checkout", "--severity", "SEV3")
    check(res.returncode == 0 and "opened INC-2" in res.stdout, f"cli open: {res.returncode} {res.stdout} {res.stderr}")
    res = s.cli("incident", "list")
    check(res.returncode == 0 and "INC-2" in res.stdout and "INC-1" in res.stdout and "SEVERITY" in res.stdout,
          f"cli list: {res.stdout} {res.stderr}")
    res = s.cli("incident", "ack", "INC-2", "--note", "looking")
    check(res.returncode == 0 and "INC-2 is acknowledged" in res.stdout, f"cli ack: {res.stdout} {res.stderr}")
    res = s.cli("incident", "ack", "INC-2")
    check(res.returncode != 0 and "acknowledged to acknowledged" in res.stderr, f"cli illegal ack: {res.stderr}")
    res = s.cli("incident", "note", "INC-2", "cache hit ratio dropped")
    check(res.returncode == 0, f"cli note: {res.stderr}")
    res = s.cli("incident", "hypothesis", "INC-2", "cache eviction storm", "--confidence", "0.4")
    check(res.returncode == 0 and "H1 open" in res.stdout, f"cli hypothesis: {res.stdout} {res.stderr}")
    res = s.cli("incident", "hypothesis", "INC-2", "H1", "--state", "rejected")
    check(res.returncode == 0 and "H1 rejected" in res.stdout, f"cli reject: {res.stdout} {res.stderr}")
    path = os.path.join(s.tmp, "trace.txt")
    with open(path, "w") as f:
        f.write("span checkout 950ms\n")
    res = s.cli("incident", "artifact", "INC-2", path, "--type", "text/plain")
    check(res.returncode == 0 and re.search(r"^A\d+: trace.txt", res.stdout), f"cli artifact: {res.stdout} {res.stderr}")
    res = s.cli("incident", "status", "INC-2", "monitoring", "Latency back to normal")
    check(res.returncode == 0, f"cli status: {res.stderr}")
    res = s.cli("incident", "mitigate", "INC-2")
    check(res.returncode == 0 and "mitigated" in res.stdout, f"cli mitigate: {res.stderr}")
    res = s.cli("incident", "resolve", "INC-2", "--json")
    check(res.returncode == 0 and json.loads(res.stdout)["status"] == "resolved", f"cli resolve --json: {res.stdout}")
    res = s.cli("incident", "show", "INC-2", "--json")
    shown = json.loads(res.stdout) if res.returncode == 0 else {}
    check(shown.get("source", {}).get("kind") == "manual" and shown.get("service") == "checkout"
          and shown.get("severity") == "SEV3", f"cli show --json: {res.stdout}")
    res = s.cli("incident", "show", "INC-2")
    check(res.returncode == 0 and "Checkout slow for EU users" in res.stdout and "resolved" in res.stdout,
          f"cli show: {res.stdout}")
    res = s.cli("incident", "timeline", "INC-2")
    check(res.returncode == 0 and "annotation" in res.stdout and "hypothesis" in res.stdout and "artifact" in res.stdout,
          f"cli timeline: {res.stdout}")
    res = s.cli("incident", "list", "--status", "open", "--json")
    check(res.returncode == 0 and json.loads(res.stdout)["incidents"][0]["id"] == "INC-1", f"cli list open: {res.stdout}")
    res = s.cli("incident", "ack", "INC-1", token=viewer)
    check(res.returncode != 0 and ("403" in res.stderr or "forbidden" in res.stderr.lower()), f"cli as viewer: {res.stderr}")
    # --- a bad incidents section is refused by reload and `config check`, naming the key
    with open(s.config, "w") as f:
        f.write(CONFIG.replace("      open: false", "      comment: oops"))
    r = s.post("/api/v1/config/reload", {}, token=admin)
    check(r.status == 400 and "incidents.rules[0]" in r.body, f"bad rule rejects the reload: {r.status} {r.body}")
    res = s.cli("config", "check", s.config)
    check(res.returncode != 0 and "incidents.rules[0]" in res.stderr, f"config check: {res.stderr}")
    with open(s.config, "w") as f:
        f.write(CONFIG.replace("open: false", "open: true"))
    r = s.post("/api/v1/config/reload", {}, token=admin)
    check(r.status == 200, f"good config reloads: {r.status} {r.body}")
    am_post(s, ingest, [am_alert("NoisyButHarmless", "mail", severity="warning")])
    noisy = wait_until(lambda: incidents(s, viewer, "?service=mail"), "the rule, reloaded, opening one")
    check(noisy and noisy[0]["severity"] == "SEV3", f"a warning on a standard service is SEV3: {noisy}")
    r = s.get("/api/v1/incidents/INC-99", token=viewer)
    check(r.status == 404, f"unknown incident: {r.status}")
    r = s.get("/api/v1/incidents/bogus", token=viewer)
    check(r.status == 400, f"malformed id: {r.status}")
    rc = s.stop()
    check(rc == 0, f"clean stop: {rc}\n{s.read_log()[-4000:]}")

    # --- incidents survive a restart; no status page when it is off
    # (and a warning from a probe of a critical service opens one)
    probe = """  - name: ledger
    tier: critical
    probes:
      - name: tcp
        tcp: 127.0.0.1:1
        interval: 1s
        severity: warning
"""
    s2 = Server(data=s.data, config=CONFIG.replace("status_page: true", "status_page: false")
                .replace("incidents:\n", probe + "incidents:\n"))
    r = s2.get("/api/v1/incidents/INC-1", token=viewer)
    check(r.status == 200 and r.json()["reopened"] == 1, f"after a restart: {r.status}")
    r = s2.get("/status.json", token="")
    check(r.status == 404, f"status page off: {r.status} {r.body}")
    led = wait_until(lambda: incidents(s2, viewer, "?service=ledger"), "the probe's incident")
    led = led[0] if led else {}
    check(led.get("source", {}).get("kind") == "probe" and led.get("severity") == "SEV2"
          and led.get("title", "").startswith("ledger: probe:ledger/tcp of 127.0.0.1:1 failing"),
          f"critical-tier probe at warning: SEV2, titled from its error: {led}")
    rc = s2.stop()
    check(rc == 0, f"clean stop after the restart: {rc}\n{s2.read_log()[-4000:]}")
finally:
    if s2:
        s2.cleanup()
    if s:
        s.cleanup()
done()
