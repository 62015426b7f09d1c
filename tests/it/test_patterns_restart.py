"""Log patterns survive a restart: ingest error logs of a few kinds for a
service, note their pattern ids, first-seen times and counts, stop the daemon
with SIGTERM and start it again on the same data dir, ingest more lines of
the same kinds, and check that the same ids come back with the same
first-seen time and growing counts, that no new-error-class alert is raised
for the known classes, and that a kind never seen before is still reported
at once (the warm-up is not started over)."""
import json
import time
import urllib.parse
from oodait import Server, check, done

SERVICE = "patstore"
NEW_CLASS = "pattern:"  # alert name prefix of a new error class (pattern:SERVICE/ID)

KINDS = {
    "payment gateway timeout after <*> for order <*>": "payment gateway timeout after {n}0 ms for order A-{n}77",
    "database connection refused host=<*> port=<*>": "database connection refused host=db-{n} port=5432",
    "failed to parse response from inventory: unexpected token at offset <*>":
        "failed to parse response from inventory: unexpected token at offset {n}",
}


def ingest(s, lines):
    body = "\n".join(json.dumps({"service": SERVICE, "body": b, "severity": sev}) for b, sev in lines)
    r = s.post("/api/v1/logs", body, headers={"Content-Type": "application/x-ndjson"})
    check(r.status == 200 and r.json().get("accepted") == len(lines), f"logs accepted: {r.status} {r.body}")


def errors_of_each_kind(n, start):
    return [(fmt.format(n=start + i), "error") for fmt in KINDS.values() for i in range(n)]


def patterns(s):
    q = urllib.parse.urlencode({"service": SERVICE, "since": "1h", "limit": 1000})
    r = s.get("/api/v1/patterns?" + q)
    check(r.status == 200, f"patterns listed: {r.status} {r.body}")
    return {p["template"]: p for p in r.json()["patterns"]} if r.status == 200 else {}


def new_class_alerts(s):
    r = s.get("/api/v1/alerts?state=all")
    return {a["name"] for a in r.json()["alerts"] if a["name"].startswith(NEW_CLASS + SERVICE + "/")}


def wait_for_alert(s, name, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if name in new_class_alerts(s):
            return True
        time.sleep(0.1)
    return False


def wait_for_template(s, template, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        p = patterns(s).get(template)
        if p:
            return p
        time.sleep(0.1)
    return None


s = Server()
try:
    # the error kinds first, while the service's miner warms up: not reported as new
    ingest(s, errors_of_each_kind(10, 0))
    ingest(s, [(f"order {i} placed", "info") for i in range(1100)])
    before = {t: wait_for_template(s, t) for t in KINDS}
    for t, p in before.items():
        check(p is not None and p["count"] == 10 and p["max_severity"] == "error",
              f"{t!r} learned with 10 lines at error level: {p}")
    # past the warm-up a kind never seen is reported (the signal works)
    ingest(s, [(f"disk quota exceeded for tenant t{i}", "error") for i in range(3)])
    quota = wait_for_template(s, "disk quota exceeded for tenant <*>")
    check(quota is not None and wait_for_alert(s, f"{NEW_CLASS}{SERVICE}/{quota['id'] if quota else ''}"),
          "a new error class after the warm-up is reported before the restart")
    known_alerts = new_class_alerts(s)
    for t, p in before.items():
        check(p and f"{NEW_CLASS}{SERVICE}/{p['id']}" not in known_alerts,
              f"{t!r} was learned during the warm-up: no alert before the restart")

    rc = s.stop()
    check(rc == 0, f"SIGTERM stops the daemon cleanly (exit {rc})")
    s.start()
    check("log patterns restored for 1 services" in s.read_log(), "the daemon says it restored the patterns")

    # right after the restart the patterns are there, unchanged
    after_start = patterns(s)
    for t, p in before.items():
        a = after_start.get(t)
        check(a is not None and p is not None and a["id"] == p["id"] and a["first_seen"] == p["first_seen"]
              and a["count"] == p["count"], f"{t!r} restored as it was: {p} / {a}")

    # more lines of the same kinds, then one kind never seen before
    ingest(s, errors_of_each_kind(5, 100))
    ingest(s, [(f"certificate expired for endpoint e{i}.internal", "error") for i in range(2)])
    cert = wait_for_template(s, "certificate expired for endpoint <*>")
    check(cert is not None and wait_for_alert(s, f"{NEW_CLASS}{SERVICE}/{cert['id'] if cert else ''}"),
          "a new error class right after the restart is reported at once (warm-up state restored)")
    after = patterns(s)
    alerts = new_class_alerts(s)
    for t, p in before.items():
        a = after.get(t)
        if not check(a is not None and p is not None, f"{t!r} listed after the restart"):
            continue
        check(a["id"] == p["id"], f"{t!r}: same id after the restart ({p['id']} / {a['id']})")
        check(a["first_seen"] == p["first_seen"],
              f"{t!r}: first_seen unchanged ({p['first_seen']} / {a['first_seen']})")
        check(a["count"] == p["count"] + 5 and a["count"] > p["count"],
              f"{t!r}: counts continue ({p['count']} then {a['count']})")
        check(f"{NEW_CLASS}{SERVICE}/{a['id']}" not in alerts,
              f"{t!r}: no new-error-class alert after the restart")
    check(alerts - known_alerts == {f"{NEW_CLASS}{SERVICE}/{cert['id'] if cert else ''}"},
          f"the only new-class alert raised after the restart is the new kind: {sorted(alerts - known_alerts)}")
finally:
    s.cleanup()
done()
