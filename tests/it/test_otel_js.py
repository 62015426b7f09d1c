"""The real OpenTelemetry JS SDK (tests/it/otel-js: NodeSDK, logs and metrics SDKs,
OTLP http/protobuf exporters) sends one checkout request's traces, logs and metrics
to ooda; everything is then read back through the API and the CLI. The exporters
send Transfer-Encoding: chunked bodies with no Content-Length; the first run is
uncompressed, the second gzip-compressed (OTEL_EXPORTER_OTLP_COMPRESSION).

Needs node and npm. A missing tests/it/otel-js/node_modules is installed here with
`npm ci` (from the npm cache when it can); if that fails, the test fails: it never
skips."""
import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
import uuid
from oodait import Server, check, done

JS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "otel-js")


def fail(msg):
    print("FAIL:", msg, file=sys.stderr)
    sys.exit(1)


def ensure_sdk():
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        fail("node and npm are needed for the OpenTelemetry JS SDK test: run scripts/install-deps")
    marker = os.path.join(JS, "node_modules", "@opentelemetry", "sdk-node", "package.json")
    if os.path.isfile(marker):
        return node
    # the normal and the ASan build run this test at the same time: one installs
    with open(os.path.join(JS, ".npm-ci.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.isfile(marker):
            npm_ci(npm)
    return node


def npm_ci(npm):
    print("installing the OpenTelemetry JS SDK: npm ci --prefix tests/it/otel-js", file=sys.stderr)
    base = [npm, "ci", "--prefix", JS, "--no-audit", "--no-fund", "--loglevel=error"]
    for extra in (["--offline"], ["--prefer-offline"]):
        r = subprocess.run(base + extra, capture_output=True, text=True, timeout=240)
        if r.returncode == 0:
            return
    fail(f"npm ci in {JS} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")


def emit(node, server, run_id, compression=None):
    env = dict(os.environ, OTEL_EXPORTER_OTLP_ENDPOINT=server.url)
    for k in ("OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_SERVICE_NAME",
              "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_SDK_DISABLED"):
        env.pop(k, None)
    if compression:
        env["OTEL_EXPORTER_OTLP_COMPRESSION"] = compression
    r = subprocess.run([node, os.path.join(JS, "emit.mjs"), run_id], capture_output=True, text=True,
                       env=env, timeout=120)
    if r.returncode != 0:
        fail(f"emit.mjs ({compression or 'uncompressed'}) exited {r.returncode}:\n{r.stdout}\n{r.stderr}\n"
             f"--- ooda log ---\n{server.read_log()}")
    # the SDK reports partial success, rejected records and retries as diag warnings
    check(r.stderr.strip() == "", f"SDK warnings ({compression or 'uncompressed'}): {r.stderr}")
    out = json.loads(r.stdout.strip().splitlines()[-1])
    check(len(out["trace_id"]) == 32 and out["trace_id"] != "0" * 32, f"trace id printed: {out}")
    return out


def search(s, q, since="1h"):
    return s.get("/api/v1/logs/search?" + urllib.parse.urlencode({"q": q, "since": since}, quote_via=urllib.parse.quote))


def wait_for(fn, what, timeout=15):
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v or time.time() > deadline:
            check(bool(v), f"{what} (waited {timeout}s)")
            return v
        time.sleep(0.1)


def check_run(s, out, label):
    run, tid = out["run_id"], out["trace_id"]

    # the error log, found by service, severity and free text, carries the ids
    def find_log():
        r = search(s, f"service:checkout severity>=error {run}")
        return r.json()["logs"] if r.status == 200 else None
    logs = wait_for(find_log, f"{label}: error log found by search") or []
    check(len(logs) == 1, f"{label}: exactly one error log for the run: {logs}")
    if logs:
        lg = logs[0]
        check(lg["body"] == f"payment declined for order {run}", f"{label}: log body: {lg}")
        check(lg["severity"] == "ERROR" and lg["severity_number"] == 17, f"{label}: severity: {lg}")
        check(lg["trace_id"] == tid, f"{label}: log trace_id {lg['trace_id']} == printed {tid}")
        check(lg["span_id"] == out["span_id"], f"{label}: log span_id is the checkout server span's")
        check(lg["service"] == "checkout" and lg["service_version"] == "1.4.2" and lg["environment"] == "it",
              f"{label}: log resource: {lg}")
        check(lg["attributes"].get("order.id") == run, f"{label}: log attributes: {lg['attributes']}")
    r = search(s, f"service:checkout {run}")
    check(r.status == 200 and len(r.json()["logs"]) == 4, f"{label}: all four logs of the run: {r.body}")
    r2 = search(s, f"service:checkout severity<error {run}")
    check(r2.status == 200 and all(x["severity"] == "INFO" for x in r2.json()["logs"])
          and len(r2.json()["logs"]) == 3, f"{label}: info logs: {r2.body}")

    # the trace: both services, tree order, depths, the error and its exception
    def get_trace():
        r = s.get(f"/api/v1/traces/{tid}")
        return r.json() if r.status == 200 and len(r.json().get("spans", [])) == 4 else None
    t = wait_for(get_trace, f"{label}: trace {tid} with 4 spans") or {"spans": [], "logs": []}
    got = [(sp.get("depth"), sp["service"], sp["name"], sp["kind"]) for sp in t["spans"]]
    want = [(0, "checkout", "GET /checkout", "server"),
            (1, "checkout", "POST payments/charge", "client"),
            (2, "payments", "POST /charge", "server"),
            (3, "payments", "authorize card", "internal")]
    check(got == want, f"{label}: spans in tree order with depths:\n  got  {got}\n  want {want}")
    if len(t["spans"]) == 4:
        sp = t["spans"]
        check(sp[0]["parent_span_id"] is None and sp[0]["span_id"] == out["span_id"], f"{label}: root span")
        for i in (1, 2, 3):
            check(sp[i]["parent_span_id"] == sp[i - 1]["span_id"], f"{label}: span {i} parent (propagated)")
        check(all(x["trace_id"] == tid for x in sp), f"{label}: one trace id")
        check([x["status"] for x in sp] == ["unset", "unset", "error", "unset"], f"{label}: statuses")
        check(sp[2]["status_message"] == f"card declined for order {run}", f"{label}: status message")
        ev = sp[2]["events"]
        check(len(ev) == 1 and ev[0]["name"] == "exception"
              and ev[0]["attributes"].get("exception.type") == "CardDeclinedError"
              and "emit.mjs" in ev[0]["attributes"].get("exception.stacktrace", ""),
              f"{label}: exception event: {ev}")
        check(sp[2]["resource"].get("service.version") == "0.9.0", f"{label}: payments resource")
        check(sp[1]["attributes"].get("server.port") == 8080
              and sp[0]["attributes"].get("http.response.status_code") == 402, f"{label}: int attributes")
        check(all(x["duration_ms"] > 0 for x in sp), f"{label}: durations")
        starts = [int(x["start_unix_nano"]) for x in sp]
        check(starts == sorted(starts), f"{label}: children start after their parents: {starts}")
    check(len(t["logs"]) == 3 and all(x["trace_id"] == tid for x in t["logs"]),
          f"{label}: the trace's logs: {t['logs']}")

    # the CLI waterfall
    r = s.cli("trace", "show", tid, "--server", s.url)
    check(r.returncode == 0, f"{label}: ooda trace show: {r.returncode} {r.stderr}")
    check("checkout" in r.stdout and "payments" in r.stdout and "ERROR" in r.stdout
          and f"card declined for order {run}" in r.stdout and f"payment declined for order {run}" in r.stdout,
          f"{label}: waterfall:\n{r.stdout}")
    lines = [ln for ln in r.stdout.splitlines() if "authorize card" in ln]
    check(len(lines) == 1 and lines[0].startswith("      payments"), f"{label}: waterfall indents by depth: {lines}")
    return t


def instant(s, q):
    r = s.get("/api/v1/query?" + urllib.parse.urlencode({"query": q}))
    if not check(r.status == 200 and r.json()["status"] == "success", f"query {q}: {r.status} {r.body}"):
        return []
    return r.json()["data"]["result"]


node = ensure_sdk()
s = Server()
try:
    first = emit(node, s, "run" + uuid.uuid4().hex[:12])
    check_run(s, first, "uncompressed")

    # metrics: the counter, by attributes and summed, and the histogram
    res = wait_for(lambda: instant(s, "orders_total"), "orders_total has series")
    by = {(x["metric"].get("payment"), x["metric"].get("result")): float(x["value"][1]) for x in res or []}
    check(by == {("card", "declined"): 1.0, ("card", "ok"): 2.0, ("wallet", "ok"): 3.0},
          f"orders_total by attributes: {res}")
    check(all(x["metric"].get("job") == "checkout" for x in res or []), f"orders_total job label: {res}")
    res = instant(s, "sum(orders_total)")
    check(len(res) == 1 and float(res[0]["value"][1]) == first["orders_total"],
          f"sum(orders_total) == {first['orders_total']}: {res}")
    # named as Prometheus' OTLP receiver names them: instance from service.instance.id,
    # the other resource attributes on target_info, joinable by job and instance
    res = instant(s, "orders_total")
    insts = {x["metric"].get("instance") for x in res or []}
    info = instant(s, 'target_info{job="checkout"}')
    check(len(insts) == 1 and None not in insts and len(info) == 1
          and info[0]["metric"].get("instance") in insts and info[0]["metric"].get("service_version") == "1.4.2"
          and "deployment_environment" in info[0]["metric"] and "service_version" not in res[0]["metric"],
          f"target_info carries the SDK's resource: {info} {insts}")
    res = instant(s, "sum by (service_version) (orders_total * on (job, instance) group_left (service_version) target_info)")
    check(len(res) == 1 and res[0]["metric"] == {"service_version": "1.4.2"}
          and float(res[0]["value"][1]) == first["orders_total"], f"a resource attribute joined in: {res}")
    res = instant(s, "sum(checkout_duration_seconds_count)")
    check(len(res) == 1 and float(res[0]["value"][1]) == 2, f"histogram count: {res}")
    res = instant(s, 'sum(checkout_duration_seconds_bucket{le="+Inf"})')
    check(len(res) == 1 and float(res[0]["value"][1]) == 2, f"histogram +Inf bucket: {res}")
    r = s.cli("query", "sum(orders_total)", "--server", s.url)
    check(r.returncode == 0 and "6" in r.stdout, f"ooda query: {r.returncode} {r.stdout} {r.stderr}")

    # the same again with gzip-compressed bodies
    second = emit(node, s, "run" + uuid.uuid4().hex[:12], compression="gzip")
    check(second["trace_id"] != first["trace_id"], "a new trace per run")
    check_run(s, second, "gzip")

    # live views built from the spans of both runs
    r = s.get("/api/v1/services")
    svcs = {x["service"]: x for x in r.json()} if r.status == 200 else {}
    check({"checkout", "payments"} <= set(svcs), f"services: {r.body}")
    if {"checkout", "payments"} <= set(svcs):
        check(svcs["checkout"]["requests"] == 2 and svcs["checkout"]["errors"] == 0,
              f"checkout RED: {svcs['checkout']}")
        check(svcs["payments"]["requests"] == 2 and svcs["payments"]["errors"] == 2,
              f"payments RED: {svcs['payments']}")
    r = s.get("/api/v1/graph")
    edges = [e for e in r.json().get("edges", []) if (e["source"], e["target"]) == ("checkout", "payments")]
    check(len(edges) == 1 and edges[0]["calls"] == 2 and edges[0]["errors"] == 2,
          f"graph edge checkout -> payments: {r.body}")
    check(not any(e["target"] == "checkout" for e in r.json().get("edges", [])), f"no edge into checkout: {r.body}")
    r = s.get("/api/v1/traces?" + urllib.parse.urlencode({"service": "payments", "status": "error", "since": "1h"}))
    found = json.dumps(r.json()) if r.status == 200 else ""
    check(first["trace_id"] in found and second["trace_id"] in found, f"traces?status=error: {r.body}")

    bad = [ln for ln in s.read_log().splitlines() if '"level":"error"' in ln or '"level":"warn"' in ln]
    check(not bad, "no errors or warnings in ooda's log:\n" + "\n".join(bad))
finally:
    s.cleanup()
done()
