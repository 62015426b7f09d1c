"""Replay of a time window: ingest logs, spans, metrics, change events and an
alert through real HTTP, `ooda export` a window (and a --service window) of the
stopped daemon's data dir, `ooda import` it into a fresh dir, start a second
daemon there and compare what queries answer. A damaged, cut or unknown-version
file is refused by name and leaves no store behind; so is a non-empty target."""
import json
import os
import sqlite3
import subprocess
import time
import urllib.parse
from oodait import BIN, Server, check, done, run


def q(s):
    return urllib.parse.quote(s, safe="")


def attr(k, v):
    return {"key": k, "value": {"stringValue": v}}


def resource(svc):
    return {"attributes": [attr("service.name", svc), attr("deployment.environment", "prod")]}


now = time.time_ns()
T0 = now - 120 * 10**9          # the window: [T0, T1]
T1 = now + 60 * 10**9
OLD = now - 3 * 3600 * 10**9    # outside the window
TRACE = "5b8efff798038103d269b633813fc60c"


def logs_body(svc, n, t_base, word):
    recs = [{"timeUnixNano": str(t_base + i * 10**6), "severityNumber": 17 if i % 5 == 0 else 9,
             "severityText": "ERROR" if i % 5 == 0 else "INFO", "body": {"stringValue": f"{word} {svc} line {i}"},
             "attributes": [attr("user.id", str(i))],
             **({"traceId": TRACE, "spanId": "eee19b7ec3c1b174"} if i == 0 else {})} for i in range(n)]
    return {"resourceLogs": [{"resource": resource(svc), "scopeLogs": [{"scope": {"name": "t"}, "logRecords": recs}]}]}


def spans_body():
    t = now - 30 * 10**9
    out = []
    for svc, sid, parent, name in (("checkout", "eee19b7ec3c1b174", "", "POST /pay"),
                                   ("payments", "eee19b7ec3c1b175", "eee19b7ec3c1b174", "charge")):
        sp = {"traceId": TRACE, "spanId": sid, "name": name, "kind": 2, "startTimeUnixNano": str(t),
              "endTimeUnixNano": str(t + 50 * 10**6), "status": {"code": 2 if svc == "payments" else 1},
              "attributes": [attr("http.route", "/pay")]}
        if parent:
            sp["parentSpanId"] = parent
        out.append({"resource": resource(svc), "scopeSpans": [{"scope": {"name": "t"}, "spans": [sp]}]})
    return {"resourceSpans": out}


def metrics_body(svc, value, t):
    return {"resourceMetrics": [{"resource": resource(svc), "scopeMetrics": [{"scope": {"name": "t"}, "metrics": [
        {"name": "queue_depth", "gauge": {"dataPoints": [{"timeUnixNano": str(t), "asDouble": value,
                                                           "attributes": [attr("queue", "orders")]}]}}]}]}]}


J = {"Content-Type": "application/json"}
tmp_files = []


def answers(s):
    """What a user would look at for the window, in comparable form."""
    out = {}
    rng = f"&from={T0}&to={T1}&limit=1000"
    for name, query in (("all", ""), ("errors", "severity>=error"), ("payments", "service:payments"),
                        ("word", '"boom"')):
        r = s.get("/api/v1/logs/search?q=" + q(query) + rng)
        out["logs_" + name] = sorted(x["body"] for x in r.json()["logs"]) if r.status == 200 else r.body
    r = s.get(f"/api/v1/traces/{TRACE}")
    out["trace"] = sorted((x["name"], x.get("service")) for x in r.json().get("spans", [])) if r.status == 200 else r.status
    tsec = (now - 10 * 10**9) / 1e9
    for svc in ("checkout", "payments"):
        promql = 'queue_depth{job="%s"}' % svc
        r = s.get(f"/api/v1/query?query={q(promql)}&time={tsec}")
        res = r.json()["data"]["result"] if r.status == 200 else r.body
        out["promql_" + svc] = [float(x["value"][1]) for x in res] if isinstance(res, list) else res
    r = s.get(f"/api/v1/events?from={T0}&to={T1}&limit=100")
    out["events"] = sorted((e["kind"], e["service"], e.get("version"), e["time_unix_nano"], e.get("id"),
                            json.dumps(e.get("attributes"), sort_keys=True)) for e in r.json()["events"]) \
        if r.status == 200 else r.body
    r = s.get("/api/v1/alerts")
    out["alerts"] = sorted((a["name"], a["state"], a["fingerprint"]) for a in r.json()["alerts"]) \
        if r.status == 200 else r.body
    return out


s1 = Server()
servers = [s1]
try:
    # --- ingest through real HTTP
    for svc, n, word in (("checkout", 40, "boom"), ("payments", 25, "charge")):
        r = s1.post("/v1/logs", logs_body(svc, n, now - 60 * 10**9, word), headers=J)
        check(r.status == 200, f"logs of {svc} accepted: {r.status} {r.body}")
    r = s1.post("/v1/logs", logs_body("checkout", 7, OLD, "ancient"), headers=J)
    check(r.status == 200, f"old logs accepted: {r.status} {r.body}")
    r = s1.post("/v1/traces", spans_body(), headers=J)
    check(r.status == 200, f"spans accepted: {r.status} {r.body}")
    for svc, v in (("checkout", 7.5), ("payments", 3.0)):
        r = s1.post("/v1/metrics", metrics_body(svc, v, now - 20 * 10**9), headers=J)
        check(r.status == 200, f"metrics accepted: {r.status} {r.body}")
    r = s1.post("/v1/metrics", metrics_body("checkout", 99.0, OLD), headers=J)
    for svc, ver in (("checkout", "1.4.2"), ("payments", "9.0.1")):
        r = s1.post("/api/v1/events", {"kind": "deploy", "service": svc, "version": ver, "actor": "alice",
                                       "description": "canary 10%", "attributes": {"ticket": "OPS-1", "pct": 10}})
        check(r.status == 202, f"deploy event of {svc}: {r.status} {r.body}")
    hook = {"version": "4", "status": "firing", "receiver": "hook", "alerts": [
        {"status": "firing", "labels": {"alertname": "CheckoutErrors", "severity": "critical", "service": "checkout"},
         "annotations": {"summary": "errors"}, "startsAt": "2026-11-22T07:35:09.956Z",
         "endsAt": "0001-01-01T00:00:00Z", "fingerprint": "cdd08c7788026298"}]}
    r = s1.post("/api/v1/alerts/alertmanager", hook)
    check(r.status == 200, f"alert accepted: {r.status} {r.body}")

    before = answers(s1)
    check(len(before["logs_all"]) == 65 and len(before["logs_errors"]) == 13, f"the window's logs: {len(before['logs_all'])}")
    check(len(before["trace"]) == 2 and before["promql_checkout"] == [7.5], f"trace and PromQL on the source: {before}")
    check(len(before["events"]) == 2 and len(before["alerts"]) == 1, f"events and alert on the source: {before}")
    s1.stop()

    # --- export the window, import it into a fresh dir, serve it
    win = os.path.join(s1.tmp, "window.ooda")
    res = run("export", "--data", s1.data, "--from", str(T0), "--to", str(T1), "--output", win)
    check(res.returncode == 0 and "exported 65 logs, 2 spans, 2 metric points, 2 change events, 1 alert" in res.stderr,
          f"export: {res.returncode} {res.stderr}")
    piped = os.path.join(s1.tmp, "piped.ooda")
    with open(piped, "wb") as f:
        p = subprocess.run([BIN, "export", "--data", s1.data, "--from", str(T0), "--to", str(T1)], stdout=f,
                           stderr=subprocess.PIPE, timeout=60)
    with open(piped, "rb") as f, open(win, "rb") as g:
        a, b = f.read(), g.read()
    check(p.returncode == 0 and a[:8] == b"OODAWIN\n" and len(a) == len(b), f"export to stdout: {p.stderr}")
    d2 = os.path.join(s1.tmp, "replay")
    res = run("import", win, "--data", d2, "--rationale", "study the checkout incident")
    check(res.returncode == 0 and "imported 65 logs, 2 spans, 2 metric points, 2 change events, 1 alert" in res.stderr,
          f"import: {res.returncode} {res.stderr}")
    s2 = Server(data=d2)
    servers.append(s2)
    after = answers(s2)
    for k in before:
        check(before[k] == after[k], f"{k} answers the same after the replay: {before[k]} vs {after[k]}")
    r = s2.get("/api/v1/logs/search?q=ancient&from=0&to=" + str(T1))
    check(r.status == 200 and r.json()["logs"] == [], f"logs outside the window stay out: {r.body[:200]}")
    r = s2.get("/api/v1/audit?action=window.import")
    recs = r.json()["records"]
    check(len(recs) == 1 and recs[0]["rationale"] == "study the checkout incident"
          and recs[0]["actor"].startswith("cli:"), f"the import is audited: {r.body[:400]}")
    s2.stop()

    # --- a --service window holds that service only
    win_p = os.path.join(s1.tmp, "payments.ooda")
    res = run("export", "--data", s1.data, "--from", str(T0), "--to", str(T1), "--service", "payments",
              "--output", win_p)
    check(res.returncode == 0 and "exported 25 logs, 1 spans, 1 metric points, 1 change events, 0 alert" in res.stderr,
          f"export --service: {res.stderr}")
    res = run("export", "--data", s1.data, "--from", str(T0), "--to", str(T1), "--service", "checkout",
              "--output", os.path.join(s1.tmp, "checkout.ooda"))
    check(res.returncode == 0 and "exported 40 logs, 1 spans, 1 metric points, 1 change events, 1 alert" in res.stderr,
          f"export --service checkout keeps the checkout alert: {res.stderr}")
    d3 = os.path.join(s1.tmp, "replay-payments")
    os.mkdir(d3)  # an existing empty dir is fine
    res = run("import", win_p, "--data", d3)
    check(res.returncode == 0, f"import of the service window: {res.stderr}")
    s3 = Server(data=d3)
    servers.append(s3)
    a3 = answers(s3)
    check(a3["logs_all"] == before["logs_payments"] and a3["promql_checkout"] == [] and
          a3["promql_payments"] == [3.0] and [e[1] for e in a3["events"]] == ["payments"] and a3["alerts"] == [],
          f"only payments in the service window: {a3}")
    s3.stop()

    # --- refusals: nothing is written
    with open(win, "rb") as f:
        good = f.read()

    def refused(name, data, want):
        path = os.path.join(s1.tmp, name + ".ooda")
        with open(path, "wb") as f:
            f.write(data)
        d = os.path.join(s1.tmp, "refused-" + name)
        res = run("import", path, "--data", d)
        check(res.returncode != 0 and want in res.stderr and "nothing was written" in res.stderr,
              f"{name} refused naming '{want}': {res.returncode} {res.stderr}")
        left = [x for x in os.listdir(s1.tmp) if x.startswith("refused-" + name)]
        check(left == [], f"{name}: no store and no temp dir left behind: {left}")

    bad = bytearray(good)
    bad[len(good) // 2] ^= 0x01
    refused("corrupt", bytes(bad), "checksum mismatch")
    refused("truncated", good[:len(good) - 100], "truncated")
    refused("cut-trailer", good[:len(good) - 37], "truncated")
    refused("version", good[:8] + b"\x09\x00\x00\x00" + good[12:], "format version 9")
    refused("not-a-window", b"hello world, not a window file at all", "not an ooda window file")
    res = run("import", win, "--data", d2)
    check(res.returncode != 0 and "not empty" in res.stderr, f"an existing store is never overwritten: {res.stderr}")
    # --- a damaged block of the source is left out, and the export says so
    db = sqlite3.connect(os.path.join(s1.data, "telemetry.db"))
    bid, blk = db.execute("SELECT id, data FROM log_blocks WHERE service = 'payments'").fetchone()
    blk = bytearray(blk)
    for at in (len(blk) // 2, len(blk) // 2 + 1, len(blk) // 3):
        blk[at] ^= 0xFF
    db.execute("UPDATE log_blocks SET data = ? WHERE id = ?", (bytes(blk), bid))
    db.commit()
    db.close()
    res = run("export", "--data", s1.data, "--from", str(T0), "--to", str(T1), "--output", win)
    check(res.returncode == 0 and "exported 40 logs" in res.stderr and "1 damaged telemetry blocks" in res.stderr
          and "ooda telemetry check" in res.stderr, f"a damaged source block is named: {res.stderr}")
    res = run("export", "--data", s1.data, "--from", "yesterday", "--to", str(T1), "--output", win)
    check(res.returncode != 0 and "--from" in res.stderr, f"a bad --from is named: {res.stderr}")
finally:
    for s in servers:
        s.cleanup()
done()
