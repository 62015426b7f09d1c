"""Action items end to end with the real daemon: added over the API and the
CLI with keys INC-7/A1, A2…; bad input is a 400 problem naming the field and
writes nothing; the overdue and owner filters across incidents; marking an
item done over the CLI; every change audited with its actor; a viewer may
read but not add; an item of an incident that does not exist is a 404. The
reliability report route checks its period and counts the incidents the
incidents stage holds."""
import datetime
import json
import os
from oodait import Server, check, create_token, done

s = None
try:
    s = Server(expect_start=False)
    os.makedirs(s.data, exist_ok=True)
    responder = create_token(s.data, "responder", "alice")
    viewer = create_token(s.data, "viewer", "val")
    s.start()
    s.token = responder
    today = datetime.datetime.now(datetime.timezone.utc).date()
    past = (today - datetime.timedelta(days=3)).isoformat()
    future = (today + datetime.timedelta(days=10)).isoformat()
    for n in range(1, 10):  # INC-1 … INC-9, opened by hand
        r = s.post("/api/v1/incidents", {"title": f"incident {n}", "service": "payments"})
        check(r.status == 201 and r.json()["id"] == f"INC-{n}", f"open INC-{n}: {r.status} {r.body}")
    r = s.post("/api/v1/incidents/INC-10/actions", {"title": "x", "owner": "o", "due": future})
    check(r.status == 404 and "INC-10" in r.body, f"an item of an unknown incident: {r.status} {r.body}")

    r = s.post("/api/v1/incidents/INC-7/actions",
               {"title": "Alert on pool saturation", "owner": "payments-team", "due": past,
                "rationale": "postmortem review"})
    check(r.status == 201, f"add: {r.status} {r.body}")
    a1 = r.json() if r.status == 201 else {}
    check(a1.get("key") == "INC-7/A1" and a1.get("status") == "open" and a1.get("incident") == "INC-7",
          f"first item is INC-7/A1, open: {a1}")
    r = s.post("/api/v1/incidents/INC-7/actions",
               {"title": "Canary for payments deploys", "owner": "platform", "due": future})
    check(r.status == 201 and r.json().get("key") == "INC-7/A2", f"second item is A2: {r.body}")

    # --- bad input: 400 problem+json naming the field, nothing written
    for body, field in (({"title": "x", "owner": "o", "due": "2026-02-30"}, "due"),
                        ({"title": "", "owner": "o", "due": future}, "title"),
                        ({"title": "x", "due": future}, "owner"),
                        ({"title": "x", "owner": "o", "due": future, "priority": "high"}, "priority"),
                        ({"title": "x", "owner": "o", "due": future, "status": "maybe"}, "status")):
        r = s.post("/api/v1/incidents/INC-7/actions", body)
        check(r.status == 400 and "problem+json" in r.headers.get("Content-Type", "") and field in r.body,
              f"bad {field}: {r.status} {r.body}")
    r = s.post("/api/v1/incidents/INC%2F7/actions", {"title": "x", "owner": "o", "due": future})
    check(r.status in (400, 404), f"a malformed incident id is refused: {r.status} {r.body}")
    r = s.get("/api/v1/incidents/INC-7/actions")
    keys = [a["key"] for a in r.json()["actions"]]
    check(r.status == 200 and keys == ["INC-7/A1", "INC-7/A2"], f"nothing written by bad input: {keys}")

    # --- CLI add on another incident
    res = s.cli("actions", "add", "INC-9", "--title", "Document the failover", "--owner", "payments-team",
                "--due", past)
    check(res.returncode == 0 and "INC-9/A1" in res.stdout, f"cli add: {res.returncode} {res.stdout} {res.stderr}")

    # --- overdue and owner filters across incidents
    r = s.get("/api/v1/actions?overdue=true")
    over = sorted(a["key"] for a in r.json()["actions"])
    check(over == ["INC-7/A1", "INC-9/A1"], f"overdue: open items due before today: {over}")
    check(all(a["overdue"] for a in r.json()["actions"]), "overdue items are flagged")
    r = s.get("/api/v1/actions?limit=1")
    check(r.status == 200 and len(r.json()["actions"]) == 1 and r.json()["total"] == 3
          and r.json()["actions"][0]["due"] == past, f"limit keeps the earliest due, total counts all: {r.body}")
    r = s.get("/api/v1/actions?owner=platform")
    check([a["key"] for a in r.json()["actions"]] == ["INC-7/A2"], f"owner filter: {r.body}")
    r = s.get("/api/v1/actions?overdue=maybe")
    check(r.status == 400 and "overdue" in r.body, f"bad overdue flag: {r.status} {r.body}")
    res = s.cli("actions", "list", "--overdue", "--owner", "payments-team")
    lines = res.stdout.strip().splitlines()
    check(res.returncode == 0 and len(lines) == 3 and "INC-7/A1" in res.stdout and "INC-9/A1" in res.stdout
          and "OVERDUE" in res.stdout, f"cli list --overdue --owner: {res.stdout} {res.stderr}")
    res = s.cli("actions", "list", "--json")
    check(res.returncode == 0 and len(json.loads(res.stdout)["actions"]) == 3, f"cli list --json: {res.stdout}")

    # --- done over the CLI: no longer overdue; owner and due change over the API
    res = s.cli("actions", "done", "INC-7/A1")
    check(res.returncode == 0 and "INC-7/A1 done" in res.stdout, f"cli done: {res.stdout} {res.stderr}")
    r = s.get("/api/v1/actions?overdue=true")
    check([a["key"] for a in r.json()["actions"]] == ["INC-9/A1"], f"a done item is not overdue: {r.body}")
    r = s.post("/api/v1/actions/INC-9/A1", {"owner": "sre", "due": future, "rationale": "handed over"})
    check(r.status == 200 and r.json()["owner"] == "sre" and r.json()["due"] == future, f"update: {r.body}")
    r = s.post("/api/v1/actions/INC-9/A7", {"status": "done"})
    check(r.status == 404, f"unknown item: {r.status} {r.body}")
    r = s.post("/api/v1/actions/INC-9/A1", {"status": "closed"})
    check(r.status == 400 and "status" in r.body, f"bad status: {r.status} {r.body}")
    r = s.get("/api/v1/actions?status=done")
    done_items = r.json()["actions"]
    check([a["key"] for a in done_items] == ["INC-7/A1"] and done_items[0]["done_at"],
          f"done list with done_at: {r.body}")

    # --- audited with the actor; the viewer reads but cannot add
    r = s.get("/api/v1/audit?action=action-item.*")
    recs = r.json().get("records", r.json().get("entries", [])) if r.status == 200 else []
    acts = sorted((x.get("action"), x.get("target"), x.get("actor")) for x in recs)
    check(("action-item.create", "action-item/INC-7/A1", "token:alice") in acts
          and ("action-item.update", "action-item/INC-7/A1", "token:alice") in acts
          and len(acts) == 5, f"audit records: {acts} {r.body[:300]}")
    check(any(x.get("rationale") == "postmortem review" for x in recs), "rationale kept in the audit record")
    r = s.get("/api/v1/actions", token=viewer)
    check(r.status == 200, f"viewer reads: {r.status}")
    r = s.post("/api/v1/incidents/INC-7/actions", {"title": "x", "owner": "o", "due": future}, token=viewer)
    check(r.status == 403, f"viewer cannot add: {r.status}")

    # --- the reliability report: its period is checked; it counts the incidents the stage holds
    r = s.get("/api/v1/reports/reliability?from=yesterday")
    check(r.status == 400 and "from" in r.body, f"bad from: {r.status} {r.body}")
    r = s.get("/api/v1/reports/reliability?from=2026-12-01T00:00:00Z&to=2026-11-01T00:00:00Z")
    check(r.status == 400 and "earlier" in r.body, f"from after to: {r.status} {r.body}")
    r = s.get("/api/v1/reports/reliability")
    check(r.status == 200 and r.json()["incidents"] == 9, f"the nine incidents: {r.status} {r.body[:300]}")
    check(s.stop() == 0, "clean stop")
finally:
    if s:
        s.cleanup()
done()
