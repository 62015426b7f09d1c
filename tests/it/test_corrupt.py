"""A damaged telemetry store, as a bad disk leaves it. One damaged block (of
logs, spans and metrics) makes answers partial, not 500s: the good records
come back, the answer says partial and names the block, /metrics counts it;
`ooda telemetry check` names it and `ooda telemetry repair` drops it (audited),
after which answers are whole again. An empty, foreign or missing
telemetry.db is refused at start with the recovery command, not silently
replaced by an empty store; --recreate-telemetry moves it aside."""
import glob
import json
import os
import sqlite3
import time
import urllib.parse
from oodait import Server, check, create_token, done, run

GOOD, BAD = "good-svc", "bad-svc"


def q(s):
    return urllib.parse.quote(s, safe="")


def otlp_spans(now):
    spans = []
    for svc, tid in ((GOOD, "11" * 16), (BAD, "22" * 16)):
        spans.append({"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": svc}}]},
                      "scopeSpans": [{"spans": [{"traceId": tid, "spanId": "ab" * 8, "name": "GET /pay",
                                                 "kind": 2, "startTimeUnixNano": str(now - 5_000_000),
                                                 "endTimeUnixNano": str(now)}]}]})
    return {"resourceSpans": spans}


def otlp_gauge(now):
    rms = []
    for svc, v in ((GOOD, 7), (BAD, 9)):
        rms.append({"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": svc}}]},
                    "scopeMetrics": [{"metrics": [{"name": "corrupt_probe", "gauge": {"dataPoints": [
                        {"timeUnixNano": str(now), "asDouble": v}]}}]}]})
    return {"resourceMetrics": rms}


def damage(data_dir):
    """Flips bytes in the middle of each bad-svc block; returns {signal: id}."""
    db = sqlite3.connect(os.path.join(data_dir, "telemetry.db"))
    ids = {}
    for table, sig in (("log_blocks", "logs"), ("span_blocks", "spans"), ("metric_blocks", "metrics")):
        rows = db.execute(f"SELECT id, data FROM {table} WHERE service = ?", (BAD,)).fetchall()
        check(len(rows) == 1, f"one {table} row of {BAD} to damage (found {len(rows)})")
        bid, data = rows[0]
        data = bytearray(data)
        for at in (len(data) // 2, len(data) // 2 + 1, len(data) // 3):
            data[at] ^= 0xFF
        db.execute(f"UPDATE {table} SET data = ? WHERE id = ?", (bytes(data), bid))
        ids[sig] = bid
    db.commit()
    db.close()
    return ids


def start_fails(s, says):
    try:
        s.start()
    except RuntimeError as e:
        msg = str(e)
        check(says in msg and "--recreate-telemetry" in msg,
              f"refused to start, saying {says!r} and the recovery command: {msg[-600:]}")
        return
    s.stop()
    check(False, f"the daemon started though it should refuse ({says})")


s = Server()  # a first run: no data dir yet
try:
    now = time.time_ns()
    lines = [json.dumps({"service": svc, "body": f"payment {svc} {i} settled", "severity": "info"})
             for svc in (GOOD, BAD) for i in range(20)]
    r = s.post("/api/v1/logs", "\n".join(lines), headers={"Content-Type": "application/x-ndjson"})
    check(r.status == 200, f"logs stored: {r.status} {r.body}")
    r = s.post("/v1/traces", otlp_spans(now))
    check(r.status == 200, f"spans stored: {r.status} {r.body}")
    r = s.post("/v1/metrics", otlp_gauge(now))
    check(r.status == 200, f"metrics stored: {r.status} {r.body}")
    r = s.get("/api/v1/logs/search?q=payment&since=1h&limit=100")
    check(r.status == 200 and len(r.json()["logs"]) == 40 and r.json()["partial"] is False,
          f"before the damage: 40 logs, not partial: {r.body[:300]}")
    s.stop()

    ids = damage(s.data)
    s.start()
    want_log = {"signal": "logs", "id": ids["logs"]}
    for _ in range(2):
        r = s.get("/api/v1/logs/search?q=payment&since=1h&limit=100")
        check(r.status == 200, f"search over a damaged block answers 200: {r.status} {r.body[:300]}")
        page = r.json()
        check(page.get("partial") is True and want_log in page.get("skipped_blocks", [])
              and page.get("skipped_block_count") == 1 and "damaged" in page.get("partial_reason", ""),
              f"search says partial and names the block: {page.get('partial')} {page.get('skipped_blocks')}")
        check(len(page["logs"]) == 20 and all(l["service"] == GOOD for l in page["logs"]),
              f"every record of the good block is there: {len(page['logs'])}")
    r = s.get("/api/v1/logs/facets?q=payment&since=1h")
    check(r.status == 200 and r.json().get("partial") is True and r.json()["total"] == 20,
          f"facets: 200, partial, counts the good block: {r.status} {r.body[:300]}")
    r = s.cli("logs", "search", "payment", "--since", "1h")
    check(r.returncode == 0 and len(r.stdout.splitlines()) == 20 and BAD not in r.stdout and "partial answer" in r.stderr,
          f"ooda logs search prints the good records and says the answer is partial: {r.stderr}")
    r = s.get("/api/v1/traces?since=1h")
    check(r.status == 200 and r.json().get("partial") is True
          and {"signal": "spans", "id": ids["spans"]} in r.json()["skipped_blocks"]
          and [t["trace_id"] for t in r.json()["traces"]] == ["11" * 16],
          f"trace search: 200, partial, the good trace: {r.status} {r.body[:300]}")
    r = s.get("/api/v1/traces/" + "11" * 16)
    check(r.status == 200 and r.json()["span_count"] == 1, f"the good trace reads: {r.status} {r.body[:200]}")
    r = s.get("/api/v1/traces/" + "22" * 16)
    check(r.status == 404 and "damaged" in r.body,
          f"the trace in the damaged block: 404 that says a damaged block was skipped: {r.status} {r.body}")
    r = s.get("/api/v1/query?query=" + q("corrupt_probe"))
    body = r.json() if r.status == 200 else {}
    jobs = [x["metric"].get("job") for x in body.get("data", {}).get("result", [])]
    check(r.status == 200 and jobs == [GOOD] and any(f"metrics/{ids['metrics']}" in w for w in body.get("warnings", [])),
          f"PromQL: 200, the good series, a warning naming the block: {r.status} {r.body[:400]}")
    r = s.get("/api/v1/series?match[]=corrupt_probe")
    check(r.status == 200 and any(f"metrics/{ids['metrics']}" in w for w in r.json().get("warnings", [])),
          f"series lookup: 200 with a warning naming the block: {r.status} {r.body[:300]}")
    r = s.get("/api/v1/services?window=1h")
    svcs = {x["service"] for x in r.json()} if r.status == 200 else set()
    check(GOOD in svcs and BAD not in svcs,
          f"RED rebuilt at start from the spans that could be read: {r.status} {r.body[:300]}")
    r = s.get("/metrics")
    check("ooda_telemetry_corrupt_blocks_total 3\n" in r.body,
          "/metrics counts each damaged block once: "
          + "".join(l for l in r.body.splitlines(True) if "corrupt" in l))
    log = s.read_log()
    check(log.count(f"telemetry block logs/{ids['logs']} is damaged") == 1,
          f"the damaged log block is logged once, with its id ({log.count('is damaged')} lines)")
    s.stop()

    # check names the blocks, repair asks first, then drops them with an audit record
    r = run("telemetry", "check", "--data", s.data)
    check(r.returncode == 1 and BAD in r.stdout and all(str(i) in r.stdout for i in ids.values())
          and "repair" in r.stderr, f"check lists the damaged blocks and exits 1: {r.returncode} {r.stdout} {r.stderr}")
    r = run("telemetry", "check", "--data", s.data, "--json")
    rep = json.loads(r.stdout)
    check(sorted((b["signal"], b["id"]) for b in rep["damaged"]) == sorted(ids.items())
          and all(b["service"] == BAD and b["error"] for b in rep["damaged"]) and rep["integrity"] == "ok",
          f"check --json: signal, id, service and error of each: {r.stdout}")
    r = run("telemetry", "repair", "--data", s.data)
    check(r.returncode == 0 and "--yes" in r.stdout, f"repair without --yes only says what it would do: {r.stdout}")
    check(run("telemetry", "check", "--data", s.data).returncode == 1, "... and drops nothing")
    r = run("telemetry", "repair", "--data", s.data, "--json")
    rep = json.loads(r.stdout) if r.returncode == 0 and r.stdout.startswith("{") else {}
    check(len(rep.get("damaged", [])) == 3 and rep.get("dropped", 0) is None,
          f"repair --json without --yes: the damaged blocks, nothing dropped: {r.stdout!r} {r.stderr!r}")
    r = run("telemetry", "repair", "--data", s.data, "--yes", "--rationale", "bad disk sector")
    check(r.returncode == 0 and "dropped 3" in r.stdout, f"repair --yes drops the 3 blocks: {r.stdout} {r.stderr}")
    r = run("telemetry", "check", "--data", s.data)
    check(r.returncode == 0 and "0 damaged" in r.stdout, f"check is clean after the repair: {r.stdout} {r.stderr}")

    s.start()
    r = s.get("/api/v1/logs/search?q=payment&since=1h&limit=100")
    check(r.status == 200 and r.json()["partial"] is False and len(r.json()["logs"]) == 20,
          f"after the repair the search is whole again: {r.body[:300]}")
    r = s.get("/api/v1/audit?action=telemetry.repair")
    recs = r.json().get("records", []) if r.status == 200 else []
    check(len(recs) == 1 and recs[0]["actor"].startswith("cli:") and recs[0]["rationale"] == "bad disk sector"
          and str(ids["logs"]) in json.dumps(recs[0]),
          f"the repair is audited with its actor and the dropped ids: {r.status} {r.body[:500]}")
    s.stop()

    # an empty telemetry.db is refused, left as it is, and re-created only when told to
    tdb = os.path.join(s.data, "telemetry.db")
    open(tdb, "wb").close()
    start_fails(s, "is empty (0 bytes)")
    check(os.path.getsize(tdb) == 0, "the empty file is left for a person to look at")
    r = run("telemetry", "check", "--data", s.data)
    check(r.returncode != 0 and "empty" in r.stderr, f"check says the file is empty: {r.stderr}")
    s.extra = ["--recreate-telemetry"]
    s.start()
    s.extra = []
    r = s.get("/api/v1/logs/search?q=payment&since=1h")
    check(r.status == 200 and r.json()["logs"] == [], "--recreate-telemetry starts an empty store")
    check(glob.glob(tdb + ".broken-*"), "the refused file is kept beside it")
    s.stop()

    # missing while control.db says telemetry was stored; not a SQLite file
    os.remove(tdb)
    start_fails(s, "is missing")
    check(not os.path.exists(tdb), "no empty store appears in its place")
    with open(tdb, "wb") as f:
        f.write(b"\x00garbage from a bad sector\n" * 100)
    start_fails(s, "is not a SQLite database")
finally:
    s.cleanup()

# control.db alone (a token made before the first start) is still a first run
s = Server(expect_start=False)
try:
    create_token(s.data, "admin", "first")
    s.start()
    check(s.get("/readyz").status == 200, "a data dir with only control.db starts")
    s.stop()
    # check and repair never create a store
    missing = os.path.join(s.tmp, "nowhere")
    r = run("telemetry", "check", "--data", missing)
    check(r.returncode != 0 and "does not exist" in r.stderr and not os.path.exists(missing),
          f"check of a missing data dir fails and creates nothing: {r.stderr}")
    r = run("telemetry", "repair", "--data", missing, "--yes")
    check(r.returncode != 0 and not os.path.exists(missing), "repair of a missing data dir creates nothing")
finally:
    s.cleanup()
done()
