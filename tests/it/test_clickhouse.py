"""Telemetry on ClickHouse gives the same answers as the embedded store.
Two ooda servers, one on telemetry.db and one on a ClickHouse started for
the test (tests/clickhouse/start), are fed the same OTLP logs, spans and
metrics, NDJSON (with hostile service names and attribute values) and
change events over HTTP; log search, facets, traces by id, PromQL and the
event list must answer alike. Then: the ClickHouse password stays out of
output and logs, while ClickHouse is down ingest answers 503 (nothing
acknowledged is lost: the client's retry lands once it is back), and a
query that fails after ClickHouse began its answer is reported as such.
Concurrent ingest requests share INSERTs (group commit: fewer commits than
requests, ooda_telemetry_commits_total) and every record of every one of
them is stored once."""
import json
import os
import sys
import time
import urllib.parse

import oodait
from oodait import SHARED, Server, check, done

SAMPLES = os.path.join(SHARED, "samples")
HOSTILE = ["o'brien", "x\\' OR 1=1 --", "a'); DROP TABLE logs; --", "tab\there", "ünïcode"]
# what depends on the moment of the request (the histogram starts at now - since), not on the store
VOLATILE = {"scanned", "took_ms", "duration_ms", "partial", "truncated", "next_cursor", "request_id", "start",
            "start_unix_nano", "step_ns"}


def sample(name):
    with open(os.path.join(SAMPLES, name), "rb") as f:
        return f.read()


def q(s):
    return urllib.parse.quote(s, safe="")


def strip(v):
    if isinstance(v, dict):
        return {k: strip(x) for k, x in v.items() if k not in VOLATILE}
    if isinstance(v, list):
        return [strip(x) for x in v]
    return v


def same(a, b, path, what):
    ra, rb = a.get(path), b.get(path)
    ja = strip(ra.json()) if ra.body.startswith(("{", "[")) else ra.body
    jb = strip(rb.json()) if rb.body.startswith(("{", "[")) else rb.body
    ok = ra.status == rb.status and ja == jb
    check(ok, f"{what}: {path}\n  sqlite     {ra.status} {json.dumps(ja)[:600]}\n  clickhouse {rb.status} {json.dumps(jb)[:600]}")
    return ra


def feed(s, now_ns):
    out = []
    out.append(s.post("/v1/logs", sample("otlp_logs.json"), headers={"Content-Type": "application/json"}))
    out.append(s.post("/v1/traces", sample("otlp_traces_proto.bin"), headers={"Content-Type": "application/x-protobuf"}))
    out.append(s.post("/v1/traces", sample("otlp_traces.json"), headers={"Content-Type": "application/json"}))
    out.append(s.post("/v1/metrics", sample("otlp_metrics.json"), headers={"Content-Type": "application/json"}))
    lines = []
    for i in range(300):
        svc = HOSTILE[i % len(HOSTILE)] if i % 3 == 0 else "ndj"
        lines.append(json.dumps({"time": now_ns - (300 - i) * 1_000_000, "service": svc,
                                 "severity": "error" if i % 7 == 0 else "info",
                                 "body": f"line {i} " + ("connection refused" if i % 7 == 0 else "ok"),
                                 "user": {"id": i % 13, "name": HOSTILE[i % len(HOSTILE)]}}))
    out.append(s.post("/api/v1/logs", "\n".join(lines) + "\n", headers={"Content-Type": "application/x-ndjson"}))
    for i, svc in enumerate(["checkout", "cart", HOSTILE[0]]):
        out.append(s.post("/api/v1/events", {"id": f"ev-{i}", "kind": "deploy", "service": svc, "version": f"1.{i}",
                                             "actor": "alice", "time": now_ns - i * 1_000_000_000}))
    return [r.status for r in out]


def compare(now_ns):
    a = Server(telemetry="sqlite")
    b = Server(telemetry="clickhouse")
    try:
        sa, sb = feed(a, now_ns), feed(b, now_ns)
        check(sa == sb and all(x in (200, 202) for x in sa), f"both accept the same data: {sa} {sb}")
        for query in ["service:ndj", "refused", "severity>=error", "service:ndj severity>=error \"connection refused\"",
                      "attr.user.id:3", "service:\"o'brien\"", "-/ok$/", "attr.user.name:\"o'brien\"",
                      "attr.user.name:\"a'); DROP TABLE logs; --\""]:
            r = same(a, b, "/api/v1/logs/search?since=1h&limit=1000&q=" + q(query), "log search")
            check(r.status == 200 and r.json()["logs"], f"log search {query!r} finds lines: {r.status} {r.body[:200]}")
        for svc in HOSTILE:
            r = same(a, b, "/api/v1/logs/search?since=1h&limit=1000&q=" + q(f'service:"{svc}"'), "hostile service")
            check(r.status == 200, f"search of service {svc!r}: {r.status} {r.body[:200]}")
        same(a, b, "/api/v1/logs/facets?since=1h&q=" + q("service:ndj") + "&fields=severity,service,user.id&buckets=20",
             "facets")
        same(a, b, "/api/v1/logs/facets?since=1h&q=" + q("") + "&fields=service&buckets=20", "facets of all")
        tj = json.loads(sample("otlp_traces.json"))
        for rs in tj["resourceSpans"][:1]:
            for sp in rs["scopeSpans"][0]["spans"][:2]:
                r = same(a, b, "/api/v1/traces/" + sp["traceId"].lower(), "trace by id")
                check(r.status == 200, f"the trace is found: {r.body[:200]}")
        same(a, b, "/api/v1/traces/" + "0" * 32, "unknown trace")
        same(a, b, "/api/v1/traces?since=3650d", "trace list")
        same(a, b, "/api/v1/traces?status=error&since=3650d", "error traces")
        mj = json.loads(sample("otlp_metrics.json"))
        t0 = min(int(dp["timeUnixNano"]) for rm in mj["resourceMetrics"] for sm in rm["scopeMetrics"]
                 for m in sm["metrics"] for kind in ("sum", "gauge", "histogram") if kind in m
                 for dp in m[kind]["dataPoints"]) / 1e9
        for expr in ["sum(http_requests_total)", "http_requests_total", "queue_depth", "count by (__name__) ({__name__=~\".+\"})",
                     "sum by (job) (http_requests_total)"]:
            r = same(a, b, f"/api/v1/query?query={q(expr)}&time={t0 + 1}", "PromQL")
            check(r.status == 200 and r.json()["data"]["result"], f"PromQL {expr} has a result: {r.body[:200]}")
            r = same(a, b, f"/api/v1/query_range?query={q(expr)}&start={t0 - 60}&end={t0 + 60}&step=15", "PromQL range")
            check(r.status == 200 and r.json()["data"]["result"], f"PromQL range {expr} has a result: {r.body[:200]}")
        same(a, b, "/api/v1/series?match[]=" + q('{__name__=~".+"}') + "&start=0", "series")
        same(a, b, "/api/v1/labels?start=0", "label names")
        r = same(a, b, "/api/v1/events?since=1h", "events")
        check(r.status == 200 and len(r.json()["events"]) == 3, f"three events: {r.body[:200]}")
        same(a, b, "/api/v1/events?since=1h&service=" + q(HOSTILE[0]), "events of a hostile service")
        same(a, b, "/api/v1/events?since=1h&service=cart&kind=deploy", "events by kind")
        # the hostile values did no harm: everything is still there on both
        for s in (a, b):
            r = s.get("/api/v1/logs/search?since=1h&limit=1000&q=" + q("line"))
            check(r.status == 200 and len(r.json()["logs"]) == 300, f"all 300 lines intact: {len(r.json().get('logs', []))}")
    finally:
        check(a.stop() == 0, "the embedded ooda stops cleanly")
        check(b.stop() == 0, "the ooda on ClickHouse stops cleanly (leak check under ASan)")


def commits(s):
    for line in s.get("/metrics").body.splitlines():
        if line.startswith("ooda_telemetry_commits_total "):
            return int(float(line.split()[1]))
    return None


def group_commit():
    """48 NDJSON requests at once from 16 threads: they share INSERTs (ClickHouse makes one
    part per INSERT), and each of the 48 x 50 records is stored exactly once."""
    import concurrent.futures
    s = Server(telemetry="clickhouse")
    try:
        before = commits(s)

        def send(k):
            lines = [json.dumps({"service": "gc", "body": f"req {k} line {i}", "attrs": {"k": k}}) for i in range(50)]
            return s.post("/api/v1/logs", "\n".join(lines) + "\n",
                          headers={"Content-Type": "application/x-ndjson"}).status
        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            got = list(ex.map(send, range(48)))
        check(all(st == 200 for st in got), f"every concurrent request is acknowledged: {got}")
        after = commits(s)
        check(before is not None and after is not None and 0 < after - before < 48,
              f"48 concurrent requests took fewer than 48 group commits: {before} -> {after}")
        r = s.get("/api/v1/logs/facets?since=1h&q=" + q("service:gc") + "&fields=service")
        total = r.json().get("total") if r.status == 200 else None
        check(total == 48 * 50, f"each of the 2,400 records stored once: {total} {r.body[:200]}")
    finally:
        check(s.stop() == 0, "the ooda on ClickHouse stops cleanly")


def password():
    url = oodait.clickhouse_url()
    secret = ch_start().TEST_PASSWORD
    cfg = oodait.telemetry_yaml() + "    user: ooda\n    password_env: OODA_CH_PW\n"
    wrong = Server(config=cfg, expect_start=False, env={"OODA_CH_PW": "wrong-" + secret})
    try:
        wrong.start()
        check(False, "a wrong ClickHouse password must stop the start")
    except RuntimeError as e:
        check("wrong-" + secret not in str(e) and secret not in str(e), "the wrong password is not printed")
        check("Authentication failed" in str(e) or "password" in str(e).lower(), f"the start says why: {str(e)[-300:]}")
    finally:
        wrong.stop()
    good = Server(config=cfg, env={"OODA_CH_PW": secret})
    try:
        r = good.post("/api/v1/logs", json.dumps({"service": "pw", "body": "hello"}) + "\n",
                      headers={"Content-Type": "application/x-ndjson"})
        check(r.status == 200, f"ingest as user ooda: {r.body}")
        r = good.get("/api/v1/logs/search?since=1h&q=service:pw")
        check(r.status == 200 and len(r.json()["logs"]) == 1, f"read back as user ooda: {r.body[:200]}")
        for path in ("/api/v1/status", "/metrics", "/api/v1/config"):
            check(secret not in good.get(path).body, f"{path} does not show the password")
    finally:
        check(good.stop() == 0, "stops cleanly")
    check(secret not in good.read_log() and secret not in wrong.read_log(), "the password is not in the logs")
    _ = url


_MOD = {}


def ch_start():
    if "m" not in _MOD:
        import importlib.machinery
        import importlib.util
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../clickhouse/start")
        loader = importlib.machinery.SourceFileLoader("ch_start_t", path)
        spec = importlib.util.spec_from_loader("ch_start_t", loader)
        m = importlib.util.module_from_spec(spec)
        loader.exec_module(m)
        _MOD["m"] = m
    return _MOD["m"]


def outage():
    """ClickHouse goes down: ingest answers 503 (retry), and after it is back
    the retried batch lands; nothing acknowledged is lost."""
    import tempfile
    import shutil
    m = ch_start()
    d = tempfile.mkdtemp(prefix="ooda-it-ch-down-")
    url = m.start(d)
    cfg = f"storage:\n  telemetry:\n    backend: clickhouse\n    url: {url}\n    database: down\n"
    s = Server(config=cfg)
    try:
        def send(tag):
            return s.post("/api/v1/logs", json.dumps({"service": "down", "body": f"batch {tag}"}) + "\n",
                          headers={"Content-Type": "application/x-ndjson"})
        r = send("a")
        check(r.status == 200, f"ingest while up: {r.status} {r.body}")
        m.stop(d)
        r = send("b")
        check(r.status == 503, f"ingest while ClickHouse is down answers 503: {r.status} {r.body}")
        check(r.headers.get("Content-Type", "").startswith("application/problem+json"), f"as a problem: {r.headers}")
        r = s.get("/api/v1/logs/search?since=1h&q=service:down")
        check(r.status >= 500 and "ClickHouse" in r.body, f"a search says the store is unreachable: {r.status} {r.body[:200]}")
        m.start(d)
        r = send("b")
        check(r.status == 200, f"the client's retry lands once ClickHouse is back: {r.status} {r.body}")
        r = s.get("/api/v1/logs/search?since=1h&q=service:down")
        bodies = sorted(x["body"] for x in r.json()["logs"])
        check(bodies == ["batch a", "batch b"], f"every acknowledged record once: {bodies}")
    finally:
        s.stop()
        m.stop(d)
        shutil.rmtree(d, ignore_errors=True)


def failure_mid_answer():
    """A query that fails after ClickHouse sent 200 ends its body with the
    exception's text: a search must say so (5xx naming it), not pass the
    text off as damaged records. A stand-in server answers like 18.16 does."""
    import http.server
    import threading

    class Fake(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            n = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(n).decode(errors="replace")
            sql = urllib.parse.unquote(self.path.split("query=", 1)[1]) if "query=" in self.path else body
            out = b""
            if sql.startswith("SELECT version()"):
                out = b"18.16.1\n"
            elif "max(version)" in sql:
                out = b"1\n"
            elif ".logs WHERE" in sql:
                out = (b"Code: 241, e.displayText() = DB::Exception: Memory limit (for query) exceeded: "
                       b"would use 9.31 GiB, e.what() = DB::Exception\n")
            self.send_response(200)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Fake)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    cfg = (f"storage:\n  telemetry:\n    backend: clickhouse\n    url: http://127.0.0.1:{srv.server_port}\n"
           "    database: fake\n")
    s = Server(config=cfg)
    try:
        r = s.get("/api/v1/logs/search?since=1h&q=" + q("service:x"))
        check(r.status >= 500 and "Memory limit" in r.body, f"the failure mid-answer is the answer: {r.status} {r.body[:300]}")
        m = s.get("/metrics").body
        check("\nooda_telemetry_corrupt_blocks_total 0\n" in m, "no record is counted as damaged")
    finally:
        s.stop()
        srv.shutdown()


if __name__ == "__main__":
    compare(time.time_ns())
    group_commit()
    password()
    outage()
    failure_mid_answer()
    done()
    sys.exit(0)
