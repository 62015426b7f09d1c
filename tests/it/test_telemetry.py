"""Telemetry ingest and read-back over real HTTP: OTLP/HTTP (JSON and
protobuf, gzip, chunked, partial success, errors in the request's content
type), remote-write, NDJSON, change events (JSON and CloudEvents), then log
search with paging and facets, traces, and PromQL through the Prometheus API."""
import gzip
import http.client
import json
import os
import time
import urllib.parse
from oodait import SHARED, Server, check, done, run

SAMPLES = os.path.join(SHARED, "samples")


def sample(name):
    with open(os.path.join(SAMPLES, name), "rb") as f:
        return f.read()


def q(s):
    return urllib.parse.quote(s, safe="")


s = Server(config="limits:\n  ingest_body: 64KiB\n")
try:
    now_ns = time.time_ns()

    # --- OTLP JSON and protobuf, the captured payloads of a real SDK
    r = s.post("/v1/logs", sample("otlp_logs.json"), headers={"Content-Type": "application/json"})
    check(r.status == 200 and r.json() == {}, f"OTLP JSON logs accepted: {r.status} {r.body}")
    check(r.headers.get("Content-Type", "").startswith("application/json"), "JSON answer to a JSON request")
    r = s.post("/v1/traces", sample("otlp_traces_proto.bin"), headers={"Content-Type": "application/x-protobuf"})
    check(r.status == 200, f"OTLP protobuf traces accepted: {r.status}")
    check(r.headers.get("Content-Type") == "application/x-protobuf", "protobuf answer to a protobuf request")
    r = s.post("/v1/metrics", gzip.compress(sample("otlp_metrics.json")),
               headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    check(r.status == 200, f"gzip OTLP JSON metrics accepted: {r.status} {r.body}")

    # chunked body without Content-Length, as the JS SDK sends it
    c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    c.putrequest("POST", "/v1/traces")
    c.putheader("Content-Type", "application/json")
    c.putheader("Transfer-Encoding", "chunked")
    c.endheaders()
    body = sample("otlp_traces.json")
    for i in range(0, len(body), 100):
        part = body[i:i + 100]
        c.send(b"%x\r\n%s\r\n" % (len(part), part))
    c.send(b"0\r\n\r\n")
    resp = c.getresponse()
    check(resp.status == 200, f"chunked OTLP body accepted: {resp.status}")
    resp.read()
    c.close()

    # errors: undecodable bodies are 400 in the request's content type
    r = s.post("/v1/logs", b"\x0a\xff\xff\xff\xff\x0f", headers={"Content-Type": "application/x-protobuf"})
    check(r.status == 400 and r.headers.get("Content-Type") == "application/x-protobuf",
          f"truncated protobuf is 400 with a protobuf Status: {r.status} {r.headers.get('Content-Type')}")
    r = s.post("/v1/logs", b'{"resourceLogs": [', headers={"Content-Type": "application/json"})
    check(r.status == 400 and "message" in r.json(), f"broken JSON is 400 with a Status message: {r.body}")
    r = s.post("/v1/logs", b"hello", headers={"Content-Type": "text/plain"})
    check(r.status == 415 and "application/x-protobuf" in r.json()["detail"], f"unknown content type is 415: {r.body}")
    r = s.post("/v1/logs", b"\x1f\x8b\x08\x00garbage", headers={"Content-Type": "application/json",
                                                                  "Content-Encoding": "gzip"})
    check(r.status == 400 and "gzip" in r.json()["detail"], f"corrupt gzip is 400: {r.body}")
    r = s.post("/v1/logs", b"x" * (70 * 1024), headers={"Content-Type": "application/json"})
    check(r.status == 413, f"body over limits.ingest_body is 413: {r.status}")
    bomb = gzip.compress(b"{" + b" " * (2 * 1024 * 1024) + b"}")
    r = s.post("/v1/logs", bomb, headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    check(r.status == 413, f"a gzip body inflating past the limit is 413: {r.status}")

    # partial success: one good record, one with a bad trace id
    logs = {"resourceLogs": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "partial"}}]},
            "scopeLogs": [{"logRecords": [
                {"timeUnixNano": str(now_ns), "severityNumber": 9, "body": {"stringValue": "good record kept"}},
                {"timeUnixNano": str(now_ns), "body": {"stringValue": "bad"}, "traceId": "zz"}]}]}]}
    r = s.post("/v1/logs", logs)
    check(r.status == 200, f"partial batch still 200: {r.status}")
    ps = r.json().get("partialSuccess", {})
    check(ps.get("rejectedLogRecords") in ("1", 1) and ps.get("errorMessage"), f"partial success reported: {r.body}")
    r = s.get("/api/v1/logs/search?q=" + q("service:partial") + "&since=5m")
    check([x["body"] for x in r.json()["logs"]] == ["good record kept"], f"the good record is kept: {r.body}")

    # --- remote-write from a real Prometheus
    r = s.post("/api/v1/write", sample("prom_remote_write_req0.snappy.pb"),
               headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
                        "X-Prometheus-Remote-Write-Version": "0.1.0"})
    check(r.status == 204, f"remote-write accepted: {r.status} {r.body}")
    r = s.get("/api/v1/series?match[]=up&start=0")
    check(r.status == 200 and any(x.get("__name__") == "up" for x in r.json()["data"]), f"up series stored: {r.body}")
    r = s.post("/api/v1/write", b"not snappy", headers={"Content-Type": "application/x-protobuf"})
    check(r.status == 400, f"bad remote-write body is 400: {r.status}")

    # --- NDJSON: bad lines by number, good lines kept; 250 lines for paging
    lines = []
    for i in range(250):
        t = now_ns - (250 - i) * 1_000_000
        lines.append(json.dumps({"time": t, "service": "ndj", "severity": "error" if i % 50 == 0 else "info",
                                 "body": f"line {i} connection refused" if i % 50 == 0 else f"line {i} ok",
                                 "user": {"id": i}}))
    lines.insert(10, "{not json")
    lines.insert(20, "[1,2]")
    r = s.post("/api/v1/logs", "\n".join(lines) + "\n", headers={"Content-Type": "application/x-ndjson"})
    rep = r.json()
    check(r.status == 200 and rep["accepted"] == 250 and rep["rejected"] == 2, f"NDJSON report: {r.body[:300]}")
    check([e["line"] for e in rep["errors"]] == [11, 21], f"bad lines named by number: {rep['errors']}")

    seen, cursor, pages = [], None, 0
    while pages < 10:
        path = "/api/v1/logs/search?q=service:ndj&since=10m&limit=100" + (f"&cursor={q(cursor)}" if cursor else "")
        r = s.get(path)
        page = r.json()
        seen += [x["body"] for x in page["logs"]]
        pages += 1
        cursor = page["next_cursor"]
        if not cursor:
            break
    check(len(seen) == 250 and len(set(seen)) == 250, f"cursor paging returns every record once: {len(seen)}")
    check(seen[0] == "line 249 ok", f"newest first: {seen[:2]}")

    r = s.get("/api/v1/logs/search?q=" + q('service:ndj severity>=error "connection refused" attr.user.id:100')
              + "&since=10m")
    check([x["body"] for x in r.json()["logs"]] == ["line 100 connection refused"], f"combined query: {r.body[:300]}")
    r = s.get("/api/v1/logs/search?q=" + q("service:ndj -/ok$/") + "&since=10m")
    check(len(r.json()["logs"]) == 5, f"negated regex: {len(r.json()['logs'])}")
    r = s.get("/api/v1/logs/search?q=" + q('service:ndj "unterminated'))
    check(r.status == 400 and "char 13" in r.json()["detail"], f"query error points at the character: {r.body}")

    r = s.get("/api/v1/logs/facets?q=service:ndj&since=10m&fields=severity,service&buckets=10")
    f = r.json()
    check(f["total"] == 250, f"facets total: {f.get('total')}")
    sev = {x["value"]: x["count"] for x in f["fields"]["severity"]}
    check(sev == {"info": 245, "error": 5}, f"severity facet: {sev}")
    check(sum(f["histogram"]["counts"]) == 250 and len(f["histogram"]["counts"]) == 10, "histogram sums to the total")
    # a word or an attribute term is matched record by record, not per service
    for fq, want in (("service:ndj refused", 5), ("service:ndj attr.user.id:100", 1), ("service:ndj -refused", 245)):
        f = s.get("/api/v1/logs/facets?q=" + q(fq) + "&since=10m&fields=severity,user.id&buckets=5").json()
        check(f["total"] == want and sum(f["histogram"]["counts"]) == want, f"facets of {fq}: {f}")

    res = s.cli("logs", "search", "service:ndj severity>=error", "--since", "10m")
    check(res.returncode == 0 and res.stdout.count("connection refused") == 5, f"ooda logs search: {res.stdout}{res.stderr}")
    res = s.cli("logs", "tail", "service:ndj severity>=error", "--since", "10m", "--once")
    check(res.returncode == 0 and res.stdout.count("connection refused") == 5 and
          res.stdout.index("line 0 ") < res.stdout.index("line 200 "), f"ooda logs tail prints oldest first: {res.stdout}")

    # --- traces
    tj = json.loads(sample("otlp_traces.json"))
    trace_hex = tj["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"].lower()
    r = s.get(f"/api/v1/traces/{trace_hex}")
    t = r.json()
    check(r.status == 200 and t["span_count"] >= 1, f"trace by id: {r.body[:300]}")
    check(all("depth" in x for x in t["spans"]), "spans carry their depth in the tree")
    r = s.get("/api/v1/traces/" + "0" * 32)
    check(r.status == 404, f"unknown trace is 404: {r.status}")
    r = s.get("/api/v1/traces/xyz")
    check(r.status == 400, f"malformed trace id is 400: {r.status}")
    r = s.get("/api/v1/traces?status=error&since=3650d")
    check(r.status == 200 and any(x["trace_id"] == trace_hex for x in r.json()["traces"]), f"find error traces: {r.body[:300]}")
    res = s.cli("trace", "show", trace_hex)
    check(res.returncode == 0 and "trace " + trace_hex in res.stdout and "#" in res.stdout, f"waterfall: {res.stdout}")

    # --- PromQL over the OTLP metrics sample
    mj = json.loads(sample("otlp_metrics.json"))
    pts = [dp for rm in mj["resourceMetrics"] for sm in rm["scopeMetrics"] for m in sm["metrics"]
           if m["name"] == "http.requests" for dp in m["sum"]["dataPoints"]]
    tsec = int(pts[0]["timeUnixNano"]) / 1e9 + 1
    want = pts[0].get("asInt", pts[0].get("asDouble"))
    r = s.get(f"/api/v1/query?query={q('sum(http_requests_total)')}&time={tsec}")
    res_v = r.json()["data"]["result"]
    check(r.status == 200 and res_v and float(res_v[0]["value"][1]) == float(want), f"PromQL sum of the counter: {r.body}")
    r = s.post("/api/v1/query", f"query={q('queue_depth')}&time={tsec}",
               headers={"Content-Type": "application/x-www-form-urlencoded"})
    check(r.status == 200 and r.json()["data"]["result"], f"form-encoded POST query (Grafana): {r.body}")
    r = s.get("/api/v1/query?query=" + q("sum(rate(x[5m]"))
    check(r.status == 400 and r.json()["status"] == "error" and r.json()["errorType"] == "bad_data",
          f"PromQL errors in Prometheus's shape: {r.body}")
    r = s.get(f"/api/v1/query_range?query={q('http_requests_total')}&start={tsec - 60}&end={tsec}&step=15")
    check(r.status == 200 and r.json()["data"]["resultType"] == "matrix", f"range query: {r.body[:200]}")
    res = s.cli("query", "sum(http_requests_total)", "--time", str(tsec))
    check(res.returncode == 0 and str(want) in res.stdout, f"ooda query: {res.stdout}{res.stderr}")

    # --- change events
    r = s.post("/api/v1/events", {"kind": "deploy", "service": "checkout", "version": "1.4.2", "actor": "alice",
                                  "description": "canary 10%"})
    check(r.status == 202 and r.json()["accepted"] == 1, f"deploy event: {r.body}")
    r = s.post("/api/v1/events", {"kind": "explode", "service": "checkout"})
    check(r.status == 400 and "explode" in r.json()["detail"], f"bad kind refused: {r.body}")
    ce = {"specversion": "1.0", "id": "ce-1", "source": "/ci/pipeline", "type": "dev.cdevents.service.deployed.0.1.1",
          "subject": "cart", "data": {"version": "2.0.0", "actor": "ci-bot"}}
    r = s.post("/api/v1/events", json.dumps(ce), headers={"Content-Type": "application/cloudevents+json"})
    check(r.status == 202 and len(r.json()["deploys"]) == 1, f"CloudEvent structured mode, a CDEvent deploy: {r.body}")
    r = s.get("/api/v1/deploys?service=cart")
    check(r.status == 200 and [d["version"] for d in r.json()["deploys"]] == ["2.0.0"],
          f"the CDEvent is in the deploy registry: {r.body[:300]}")
    # the recorded deploy and its event name the same actor
    dep_actor = r.json()["deploys"][0].get("actor")
    ev = [e for e in s.get("/api/v1/events?service=cart&since=1h").json()["events"] if e["kind"] == "deploy"]
    check(dep_actor == "ci-bot" and len(ev) == 1 and ev[0].get("actor") == dep_actor,
          f"one actor in deploy list and event: {dep_actor} vs {ev}")
    r = s.post("/api/v1/events", json.dumps({"service": "cart", "description": "flag banner on"}),
               headers={"Content-Type": "application/json", "ce-specversion": "1.0", "ce-id": "ce-2",
                        "ce-source": "/flags", "ce-type": "com.example.flag.changed"})
    check(r.status == 202, f"CloudEvent binary mode: {r.body}")
    r = s.get("/api/v1/events?service=cart&since=1h")
    kinds = sorted(e["kind"] for e in r.json()["events"])
    check(kinds == ["deploy", "flag"], f"events of cart with mapped kinds: {r.body}")
    res = s.cli("events", "--service", "checkout")
    check(res.returncode == 0 and "alice" in res.stdout and "1.4.2" in res.stdout, f"ooda events: {res.stdout}")

    # --- durability: everything acknowledged is there after a restart
    s.stop()
    s.start()
    r = s.get("/api/v1/logs/search?q=service:ndj&since=10m&limit=1000")
    check(len(r.json()["logs"]) == 250, "logs survive a restart")
    m = s.get("/metrics").body
    check("ooda_telemetry_records" in m, "telemetry store sizes in /metrics")

    # --- backup while the daemon runs: a data dir made of the copy serves the same logs
    # (on ClickHouse the telemetry is the server's to back up: ooda backup copies the control store)
    if s.telemetry == "sqlite":
        bdir = os.path.join(s.tmp, "backup")
        res = run("backup", bdir, "--data", s.data)
        check(res.returncode == 0 and "telemetry.db" in res.stdout and os.path.exists(os.path.join(bdir, "telemetry.db")),
              f"ooda backup copies telemetry.db: {res.stdout}{res.stderr}")
        res = run("backup", os.path.join(s.tmp, "backup-small"), "--data", s.data, "--no-telemetry")
        check(res.returncode == 0 and not os.path.exists(os.path.join(s.tmp, "backup-small", "telemetry.db")),
              f"--no-telemetry leaves it out: {res.stdout}{res.stderr}")
        s.stop()
        restored = Server(data=bdir)
        try:
            r = restored.get("/api/v1/logs/search?q=service:ndj&since=10m&limit=1000")
            check(r.status == 200 and len(r.json()["logs"]) == 250, f"the backup serves every log: {r.body[:200]}")
        finally:
            restored.cleanup()
finally:
    s.cleanup()
done()
