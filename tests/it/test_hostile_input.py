"""Hostile input over real HTTP, the reproducers of an attack run against the
ASan/UBSan build: an over-long resource attribute in OTLP protobuf, times
outside 1970..2262 in OTLP (protobuf and JSON), NDJSON and PromQL, a span
that ends before the epoch, an unknown label name. Each is refused with a
message naming the field, nothing garbage is stored, and the daemon stays up
(under the sanitizers: no report in its log)."""
import json
import struct
import time
import urllib.parse
from oodait import Server, check, done


def q(s):
    return urllib.parse.quote(s, safe="")


# ---- a tiny protobuf writer ----
def varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def field_len(num, data):
    return varint(num << 3 | 2) + varint(len(data)) + data


def field_fixed64(num, v):
    return varint(num << 3 | 1) + struct.pack("<Q", v)


def kv_str(key, value):
    any_value = field_len(1, value)  # AnyValue.string_value
    return field_len(1, key) + field_len(2, any_value)


def resource_logs(service, records):
    """ResourceLogs { resource { attributes }, scope_logs { log_records } }."""
    resource = field_len(1, kv_str(b"service.name", service))
    scope = b"".join(field_len(2, r) for r in records)
    return field_len(1, field_len(1, resource) + field_len(2, scope))


def log_record(body, time_ns=None):
    r = field_len(5, field_len(1, body))  # body: AnyValue.string_value
    if time_ns is not None:
        r = field_fixed64(1, time_ns) + r
    return r


PB = {"Content-Type": "application/x-protobuf"}
JS = {"Content-Type": "application/json"}
ND = {"Content-Type": "application/x-ndjson"}


s = Server()
try:
    now_ns = time.time_ns()

    # --- reads of an empty store: nothing to sort must not mean qsort(NULL, 0)
    for path in ("/api/v1/services", "/api/v1/graph", "/api/v1/logs/search?q=nothing",
                 "/api/v1/traces?service=none", "/api/v1/traces/0102030405060708090a0b0c0d0e0f10",
                 "/api/v1/labels", "/api/v1/label/job/values"):
        r = s.get(path)
        check(r.status in (200, 404), f"empty-store read {path}: {r.status} {r.body[:200]}")

    # --- a 70,000-byte service.name: its records refused, the other resource kept
    req = resource_logs(b"x" * 70000, [log_record(b"under the big resource")]) + \
        resource_logs(b"fine", [log_record(b"kept", now_ns)])
    r = s.post("/v1/logs", req, headers=PB)
    check(r.status == 200, f"over-long resource attribute: 200 with partial success, not a crash: {r.status}")
    check("service.name" in r.body and "70000 bytes" in r.body,
          f"partial success names the field and its size: {r.body[:200]!r}")
    r = s.get("/api/v1/logs/search?since=1h&limit=100")
    services = sorted({x.get("service") for x in r.json().get("logs", [])})
    check(r.status == 200 and services == ["fine"], f"only the good resource is stored, no program memory: {services}")

    # the same in OTLP/JSON
    big = {"resourceLogs": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "y" * 70000}}]},
                             "scopeLogs": [{"logRecords": [{"body": {"stringValue": "b"}}]}]}]}
    r = s.post("/v1/logs", big)
    ps = r.json().get("partialSuccess", {}) if r.status == 200 else {}
    check(ps.get("rejectedLogRecords") == "1" and "service.name" in ps.get("errorMessage", ""),
          f"OTLP/JSON over-long resource attribute refused by name: {r.status} {r.body[:200]}")

    # --- times outside the representable range
    r = s.post("/v1/logs", resource_logs(b"t", [log_record(b"2^63", 1 << 63)]), headers=PB)
    check(r.status == 200 and "time_unix_nano" in r.body,
          f"log time_unix_nano 2^63 refused by name: {r.status} {r.body[:200]!r}")

    tid, sid = "0102030405060708090a0b0c0d0e0f10", "0102030405060708"
    spans = {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "hostile"}}]},
                                "scopeSpans": [{"spans": [
                                    {"traceId": tid, "spanId": sid, "name": "s", "kind": 2,
                                     "startTimeUnixNano": -9223372036854775809, "endTimeUnixNano": 5},
                                    {"traceId": tid, "spanId": "0102030405060709", "name": "s", "kind": 2,
                                     "startTimeUnixNano": "18446744073709551615", "endTimeUnixNano": "0"}]}]}]}
    r = s.post("/v1/traces", json.dumps(spans), headers=JS)
    ps = r.json().get("partialSuccess", {}) if r.status == 200 else {}
    check(ps.get("rejectedSpans") == "2" and "startTimeUnixNano" in ps.get("errorMessage", ""),
          f"span starts of -2^63-1 and 2^64-1 refused by name: {r.status} {r.body[:200]}")
    metrics = {"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"name": "m", "gauge": {"dataPoints": [
        {"startTimeUnixNano": -9223372036854775809, "timeUnixNano": str(now_ns), "asDouble": 1}]}}]}]}]}
    r = s.post("/v1/metrics", json.dumps(metrics), headers=JS)
    ps = r.json().get("partialSuccess", {}) if r.status == 200 else {}
    check(ps.get("rejectedDataPoints") == "1" and "startTimeUnixNano" in ps.get("errorMessage", ""),
          f"metric startTimeUnixNano -2^63-1 refused by name: {r.status} {r.body[:200]}")
    r = s.get("/api/v1/services")
    check(r.status == 200 and "hostile" not in r.body, f"RED query after the refused spans: {r.status} {r.body[:200]}")

    lines = [b'{"time":-9223372036854775809,"msg":"a"}', b'{"time":"0001-01-01T00:00:00Z","msg":"b"}',
             b'{"time":"9999-12-31T23:59:59Z","msg":"c"}']
    r = s.post("/api/v1/logs", b"\n".join(lines) + b"\n", headers=ND)
    rep = r.json()
    check(r.status == 400 and rep.get("accepted") == 0 and rep.get("rejected") == 3,
          f"NDJSON times outside 1970..2262 refused: {r.status} {r.body[:300]}")
    check(all("time" in e["error"] for e in rep.get("errors", [])) and len(rep.get("errors", [])) == 3,
          f"each NDJSON error names the time: {rep.get('errors')}")

    # --- PromQL and the Prometheus API
    r = s.get("/api/v1/query?query=" + q("up offset 1000000y"))
    check(r.status == 400 and "1000000y" in r.json().get("error", ""), f"offset 1000000y is a parse error: {r.status} {r.body}")
    big_t = str(2**63 - 1)
    r = s.get(f"/api/v1/query_range?query=up&start={big_t}&end={big_t}&step=15")
    check(r.status == 400 and "start" in r.json().get("error", ""), f"query_range start 2^63-1 refused by name: {r.status} {r.body}")
    r = s.get("/api/v1/query_range?query=up&start=0&end=100&step=1e300")
    check(r.status == 400 and "step" in r.json().get("error", ""), f"step 1e300 refused by name: {r.status} {r.body}")
    r = s.get("/api/v1/label/%FF/values")
    check(r.status == 200 and r.json().get("data") == [], f"values of an unknown label: empty, no crash: {r.status} {r.body}")

    # --- searches reaching before 1970
    r = s.get("/api/v1/logs/search?since=292y")
    check(r.status == 200, f"since=292y searches from 1970: {r.status} {r.body[:200]}")
    r = s.get("/api/v1/logs/facets?since=292y&fields=service")
    check(r.status == 200, f"facets since=292y: {r.status} {r.body[:200]}")
    r = s.get("/api/v1/traces?since=292y&min_duration=1ms")
    check(r.status == 200, f"trace search since=292y: {r.status} {r.body[:200]}")

    r = s.get("/api/v1/status")
    check(r.status == 200, f"the daemon is still up: {r.status}")
finally:
    rc = s.stop()
    with open(s.log_path, "rb") as f:
        raw = f.read()
    try:  # the log is JSON lines: a raw 0xFF from a request path must not make it invalid UTF-8
        log = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        check(False, f"the daemon's log is valid UTF-8: {e}")
        log = raw.decode("utf-8", errors="replace")
    check(rc == 0, f"clean exit after hostile input: {rc}")
    check("runtime error" not in log and "AddressSanitizer" not in log,
          "no sanitizer report in the daemon's log: " + "\n".join(
              ln for ln in log.splitlines() if "runtime error" in ln or "Sanitizer" in ln)[:2000])
    s.cleanup()
done()
