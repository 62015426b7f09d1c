#!/usr/bin/env python3
"""Writes the small seed corpora of the ingest fuzzers into fuzz/corpus/<name>/.
Seeds are built here from scratch (a few bytes of protobuf or JSON each), so
the corpus can be regenerated and reviewed: python3 fuzz/gen-seeds.py"""
import json, os, struct, sys, zlib

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

def varint(v):
    out = b""
    while v >= 0x80:
        out += bytes([(v & 0x7F) | 0x80]); v >>= 7
    return out + bytes([v])

def tag(f, wt): return varint(f << 3 | wt)
def ld(f, b): return tag(f, 2) + varint(len(b)) + b
def s(f, t): return ld(f, t.encode())
def vi(f, v): return tag(f, 0) + varint(v)
def f64(f, v): return tag(f, 1) + struct.pack("<Q", v)
def dbl(f, v): return tag(f, 1) + struct.pack("<d", v)
def kv(k, any_): return ld(1, s(1, k) + ld(2, any_))

res = ld(1, kv("service.name", s(1, "api")) + kv("host.name", s(1, "h")))
scope = ld(1, s(1, "lib"))
def envelope(records): return ld(1, res + ld(2, scope + records))

log = ld(2, f64(1, 1800000000000000000) + vi(2, 9) + s(3, "INFO") + ld(5, s(1, "hello")) +
         kv("n", vi(3, 5)) + ld(9, bytes(range(1, 17))) + ld(10, bytes(range(1, 9))) +
         ld(6, s(1, "arr") + ld(2, ld(5, ld(1, s(1, "x")) + ld(1, vi(3, 2))))))
span = ld(2, ld(1, bytes(range(1, 17))) + ld(2, bytes(range(1, 9))) + s(5, "GET /") + vi(6, 2) +
          f64(7, 100) + f64(8, 200) + ld(11, f64(1, 150) + s(2, "ev")) + ld(15, s(2, "boom") + vi(3, 2)))
gauge = ld(2, s(1, "g") + ld(5, ld(1, f64(3, 5) + dbl(4, 1.5))))
hist = ld(2, s(1, "h") + ld(9, ld(1, f64(4, 3) + dbl(5, 9.0) + ld(6, struct.pack("<3Q", 1, 1, 1)) +
                                  ld(7, struct.pack("<2d", 1, 10))) + vi(2, 2)))
exp = ld(2, s(1, "e") + ld(10, ld(1, f64(4, 3) + vi(6, 4) + ld(8, vi(1, 3) + ld(2, b"\x01\x02")))))
summ = ld(2, s(1, "s") + ld(11, ld(1, f64(4, 3) + ld(6, dbl(1, 0.5) + dbl(2, 2.0)))))

seeds = {
    "otlp_proto": {
        "logs": b"\x00" + envelope(log),
        "traces": b"\x01" + envelope(span),
        "metrics": b"\x02" + envelope(gauge + hist + exp + summ),
    },
    "otlp_json": {
        "logs": b"\x00" + json.dumps({"resourceLogs": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "api"}}]},
            "scopeLogs": [{"scope": {"name": "l"}, "logRecords": [{"timeUnixNano": "1", "severityNumber": 9,
            "body": {"kvlistValue": {"values": [{"key": "a", "value": {"intValue": "1"}}]}},
            "traceId": "0102030405060708090a0b0c0d0e0f10", "spanId": "0102030405060708"}]}]}]}).encode(),
        "traces": b"\x01" + json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "0102030405060708090a0b0c0d0e0f10",
            "spanId": "0102030405060708", "name": "x", "kind": "SPAN_KIND_SERVER", "startTimeUnixNano": 1, "endTimeUnixNano": 2,
            "events": [{"name": "e"}], "links": [{"traceId": "0102030405060708090a0b0c0d0e0f10", "spanId": "0102030405060708"}],
            "status": {"code": 2}}]}]}]}).encode(),
        "metrics": b"\x02" + json.dumps({"resourceMetrics": [{"scopeMetrics": [{"metrics": [
            {"name": "s", "sum": {"aggregationTemporality": 2, "isMonotonic": True, "dataPoints": [{"asInt": "3"}]}},
            {"name": "h", "histogram": {"dataPoints": [{"count": "2", "bucketCounts": ["1", 1], "explicitBounds": [5]}]}},
            {"name": "e", "exponentialHistogram": {"dataPoints": [{"scale": 2, "positive": {"offset": -1, "bucketCounts": [1]}}]}},
            {"name": "q", "summary": {"dataPoints": [{"quantileValues": [{"quantile": 0.5, "value": 1}]}]}}]}]}]}).encode(),
    },
    "ndjson": {
        "lines": b'{"time":"2026-11-25T10:00:00Z","service":"api","level":"error","msg":"x","user":{"id":1}}\n'
                 b'{"ts":1795600800,"severity":3,"body":{"a":[1,2]},"trace_id":"0102030405060708090a0b0c0d0e0f10"}\n'
                 b'\nnot json\n[1]\n{"message":"\\u00e9\\ud83d\\ude00"}\r\n',
    },
    "cloudevents": {
        "event": b"\x00" + json.dumps([{"kind": "deploy", "service": "api", "version": "1", "time": "2026-11-25T10:00:00Z",
            "links": ["u"], "attributes": {"a": {"b": 1}}}]).encode(),
        "structured": b"\x01" + json.dumps({"specversion": "1.0", "id": "1", "source": "s", "type": "x.deploy",
            "subject": "api", "data": {"version": "2"}}).encode(),
        "cdevent": b"\x01" + json.dumps({"specversion": "1.0", "id": "2", "source": "/cd", "type": "dev.cdevents.service.deployed.0.2.0",
            "data": {"context": {"id": "c", "timestamp": "2026-12-01T09:15:00Z"}, "subject": {"id": "checkout",
            "content": {"environment": {"id": "prod"}, "artifactId": "pkg:oci/checkout@sha256%3A0b31?repository_url=r&tag=v3#a/b"}}}}).encode(),
        "cdevent-env": b"\x01" + json.dumps({"specversion": "1.0", "id": "3", "source": "/tf", "type": "dev.cdevents.environment.modified",
            "data": {"subject": {"id": "prod", "content": {"name": 7}}}}).encode(),
        "binary": b"\x02io.ooda.flag.changed\x00" + json.dumps({"service": "api", "actor": "ann"}).encode(),
    },
    "purl": {
        "oci": b"pkg:oci/myapp@sha256%3A0b31b1c02ff458ad9b7b81cbdf8f028bd54699fa151f221d1e8de6817db93427?repository_url=ghcr.io/acme/myapp&tag=v2",
        "maven": b"pkg:maven/org.apache.commons/io@1.3.4",
        "npm-scope": b"pkg:npm/%40angular/animation@12.3.1",
        "subpath": b"PKG://GitHub/package-url//purl-spec/@244fd47e07d1004?Arch=x86_64&empty=#/./a/../b/c/",
        "bad-escape": b"pkg:oci/x%2@1%zz?a=1&A=2",
    },
    "remote_write": {
        # wrapped: byte 1 says the harness snappy-compresses the protobuf itself
        "series": b"\x01" + ld(1, ld(1, s(1, "__name__") + s(2, "up")) + ld(1, s(1, "job") + s(2, "node")) +
                   ld(1, s(1, "instance") + s(2, "h:9100")) + ld(2, dbl(1, 1.0) + vi(2, 1795600800000))),
        # bit 1: also decode metadata (field 3): a counter, an unknown type number, no name
        "metadata": b"\x03" + ld(3, vi(1, 1) + s(2, "up_total") + s(4, "Help text") + s(5, "seconds")) +
                    ld(3, vi(1, 99) + s(2, "odd")) + ld(3, s(4, "nameless")) +
                    ld(1, ld(1, s(1, "__name__") + s(2, "up_total")) + ld(2, dbl(1, 1.0) + vi(2, 1795600800000))),
        # raw: a literal-only snappy block holding one empty series
        "raw": b"\x00" + bytes([4, 0x0c]) + ld(1, b"\x12\x00"),
    },
}

# The reproducers of an attack run against the ASan/UBSan build, one seed
# each: an over-long resource attribute, times outside 1970..2262, PromQL
# durations past the representable range.
big = "x" * 70000
def resource_envelope(service, records):
    return ld(1, ld(1, kv("service.name", s(1, service))) + ld(2, scope + records))
tid = "0102030405060708090a0b0c0d0e0f10"
seeds["otlp_proto"].update({
    "hostile-resource": b"\x00" + resource_envelope(big, log) + envelope(log),
    "hostile-log-time": b"\x00" + envelope(ld(2, f64(1, 1 << 63) + ld(5, s(1, "2^63")))),
    "hostile-span-time": b"\x01" + envelope(ld(2, ld(1, bytes(range(1, 17))) + ld(2, bytes(range(1, 9))) +
                                                 f64(7, (1 << 64) - 1) + f64(8, 0))),
})
# exemplars on a gauge point (field 5) and a histogram point (field 8): time, double,
# span and trace ids, an attribute; then one with ids of the wrong length
exemplar = f64(2, 7) + dbl(3, 0.25) + ld(4, bytes(range(1, 9))) + ld(5, bytes(range(1, 17))) + ld(7, kv("user", s(1, "u1")))
seeds["otlp_proto"].update({
    "exemplars": b"\x02" + envelope(ld(2, s(1, "g") + ld(5, ld(1, f64(3, 5) + dbl(4, 1.5) + ld(5, exemplar) * 20))) +
                                    ld(2, s(1, "h") + ld(9, ld(1, f64(4, 3) + ld(6, struct.pack("<2Q", 1, 2)) +
                                                             ld(7, struct.pack("<d", 1)) + ld(8, exemplar) +
                                                             ld(8, ld(5, b"\x01\x02")))))),
})
seeds["otlp_json"].update({
    "exemplars": b"\x02" + json.dumps({"resourceMetrics": [{"scopeMetrics": [{"metrics": [
        {"name": "g", "gauge": {"dataPoints": [{"asDouble": 1, "exemplars": [
            {"timeUnixNano": "5", "asInt": "3", "traceId": tid, "spanId": "0102030405060708",
             "filteredAttributes": [{"key": "user", "value": {"stringValue": "u1"}}]}] * 20}]}},
        {"name": "h", "histogram": {"dataPoints": [{"count": "1", "bucketCounts": ["0", "1"], "explicitBounds": [1],
            "exemplars": [{"asDouble": "x", "traceId": "zz"}, {"asDouble": 2}]}]}}]}]}]}).encode(),
})
seeds["otlp_json"].update({
    "hostile-resource": b"\x00" + json.dumps({"resourceLogs": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": big}}]},
        "scopeLogs": [{"logRecords": [{"body": {"stringValue": "b"}}]}]}]}).encode(),
    "hostile-span-time": b"\x01" + json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [
        {"traceId": tid, "spanId": "0102030405060708", "startTimeUnixNano": -9223372036854775809, "endTimeUnixNano": 5},
        {"traceId": tid, "spanId": "0102030405060709", "startTimeUnixNano": "18446744073709551615", "endTimeUnixNano": "0",
         "events": [{"timeUnixNano": "9223372036854775808"}]}]}]}]}).encode(),
    "hostile-metric-time": b"\x02" + json.dumps({"resourceMetrics": [{"scopeMetrics": [{"metrics": [
        {"name": "m", "gauge": {"dataPoints": [{"startTimeUnixNano": -9223372036854775809, "timeUnixNano": "5",
                                                "asDouble": 1}]}}]}]}]}).encode(),
    "hostile-log-time": b"\x00" + json.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": [
        {"timeUnixNano": "9223372036854775808", "observedTimeUnixNano": -1}]}]}]}).encode(),
})
seeds["ndjson"]["hostile-times"] = (
    b'{"time":-9223372036854775809,"msg":"a"}\n{"time":"0001-01-01T00:00:00Z","msg":"b"}\n'
    b'{"time":"9999-12-31T23:59:59Z","msg":"c"}\n{"ts":9223372036854775807}\n{"time":9223372036.854775807}\n'
    b'{"time":"2262-04-11T23:47:16.854775807Z"}\n{"time":"1970-01-01T00:00:00+23:59"}\n')
seeds["ndjson"]["hostile-service"] = b'{"service":"' + big.encode() + b'","msg":"a"}\n'
seeds["promql"] = {
    "hostile-offset": b"up offset 1000000y",
    "hostile-offset-max": b"rate(up[292y] offset -292y) + up offset 292y",
    "subquery": b"max_over_time(rate(up[1m])[10m:1m] offset 5m @ 100)",
    "subquery-nested": b"avg_over_time(max_over_time(up[1m:15s])[5m:])",
    "at-start-end": b"up @ start() - up offset 1m @ end() + rate(up[5m] @ -30)",
    "functions-new": b"sort_desc(label_join(up, \"x\", \"-\", \"job\", \"instance\")) or changes(up[1m]) or resets(up[1m])"
                     b" or deriv(up[1m]) or predict_linear(up[1m], 60) or holt_winters(up[1m], 0.5, 0.5)",
    "absent-over-time": b"absent_over_time(nope{job=\"x\"}[1m]) + present_over_time(up[1m])",
    "subquery-huge": b"count_over_time(up[292y:1ms])",
}
seeds["time"] = {
    "rfc3339": b"\x002026-11-25T10:00:00.5+02:00",
    "min-int": b"\x00-9223372036854775809",
    "year-1": b"\x000001-01-01T00:00:00Z",
    "year-9999": b"\x009999-12-31T23:59:59Z",
    "last-ns": b"\x002262-04-11T23:47:16.854775807Z",
    "unix-ms": b"\x001795600800000",
    "duration": b"\x011h30m15.5s",
    "duration-long": b"\x011000000y",
}

# Log pattern snapshots (format: see patterns_save in src/detect/patterns.c).
def uv(v): return varint(v)
def zz(v): return varint(v << 1 if v >= 0 else ((-v) << 1) - 1)
def u64(v): return struct.pack("<Q", v)

def pattern(pid, leaf, rank, first, last, count, tokens, example, hist_last, buckets, aliases=()):
    """tokens: (text, is_variable); buckets: {index from the oldest: count}."""
    out = u64(pid) + u64(leaf) + uv(rank) + zz(first) + zz(last) + uv(count) + uv(len(tokens))
    for text, var in tokens:
        out += uv(len(text) << 1 | var) + text.encode()
    out += uv(len(example)) + example.encode() + zz(hist_last) + uv(len(buckets))
    prev = -1
    for i in sorted(buckets):
        out += uv(i - prev - 1) + uv(buckets[i])
        prev = i
    return out + uv(len(aliases)) + b"".join(u64(a) for a in aliases)

def snapshot(body):
    head = b"OPAT" + struct.pack("<HHI", 1, 0, len(body))
    return head + body + struct.pack("<I", zlib.crc32(head + body))

worker = [("worker", 0), ("<*>", 1), ("finished", 0), ("the", 0), ("nightly", 0), ("job", 0)]
reset = [("connection", 0), ("reset", 0), ("by", 0), ("peer", 0), ("<*>", 1)]
snap_body = (uv(10) + uv(60) + uv(3) + uv(1) +
             pattern(0x1111, 0xaaaa, 0, 10, 14, 5, worker, "worker alpha finished the nightly job", 1,
                     {58: 3, 59: 2}, (0x2222, 0x3333, 0x4444, 0x5555)) +
             pattern(0x6666, 0xbbbb, 0, -3, 40, 2, reset, "connection reset by peer 10.0.0.1", 4, {59: 2}) +
             pattern(0x7777, 0xbbbb, 1, 7, 7, 1, [("disk", 0), ("full", 0), ("on", 0), ("<*>", 1)],
                     "disk full on /dev/sda1", 0, {59: 1}) +
             u64(0x9999) + uv(2) + uv(1) + uv(2))
seeds["patterns_snapshot"] = {
    # byte 0: bit 0 = wrap the body in header and checksum, bit 1 = a tiny miner
    "raw": b"\x00" + snapshot(snap_body),
    "raw-tiny": b"\x02" + snapshot(snap_body),
    "body": b"\x01" + snap_body,
    "body-tiny": b"\x03" + snap_body,
}

seeds["scrape_text"] = {
    # byte 0: bit 0 = OpenMetrics, bit 1 = honor_labels, bit 2 = honor_timestamps, bit 3 = sample_limit 5
    "promtext": b"\x04" + b"# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\n"
                b'http_requests_total{method="post",code="200",job="inner"} 1027 1395066363000\n'
                b'msdos{path="C:\\\\DIR",error="a\\n\\"b\\""} 1.5e9\n# TYPE s summary\ns{quantile="0.5"} NaN\n',
    "openmetrics": b"\x07" + b"# TYPE h histogram\n# UNIT h seconds\n# HELP h Latency.\n"
                   b'h_bucket{le="0.1"} 8 # {trace_id="4bf92f3577b34da6a3ce929d0e0e4736"} 0.05 1520879607.789\n'
                   b'h_bucket{le="+Inf"} 9\nh_sum 0.5 1520879607.5\nh_count 9\nh_created 1520430000.1\n# EOF\n',
    "limit": b"\x08" + b"a 1\nb 2\nc 3\nd 4\ne 5\nf 6\n",
}
seeds["scrape_sd"] = {
    # byte 0: bit 0 = YAML
    "json": b"\x00" + b'[{"targets":["a:1","b:2"],"labels":{"env":"prod"}}]',
    "yaml": b"\x01" + b"- targets: ['a:1']\n  labels:\n    env: prod\n- targets: ['c:3']\n",
}

def delta(entries, slot_ns=10_000_000_000):
    """A live-signal delta (src/model/live.h): entries of (type, service, name, edge type, slot, req, err, sum, buckets)."""
    def st(t): return varint(len(t)) + t.encode()
    out = b"OLD1" + varint(slot_ns) + varint(len(entries))
    for typ, svc, name, kind, k, req, err, total, buckets in entries:
        mask = sum(1 << i for i in buckets)
        out += bytes([typ]) + st(svc) + st(name) + (bytes([kind]) if typ == 1 else b"")
        out += varint(k) + varint(req) + varint(err) + struct.pack("<d", total) + varint(mask)
        out += b"".join(varint(buckets[i]) for i in sorted(buckets))
    return out

def wait_entry(svc, trace, parent, end_ns, dur_ns, err):
    """A waiting child of a live delta (type 2): its parent span reached another node."""
    return (bytes([2]) + varint(len(svc)) + svc.encode() + trace + parent + varint(end_ns) + varint(dur_ns)
            + bytes([err]))

def delta_waits(waits, slot_ns=10_000_000_000):
    return b"OLD1" + varint(slot_ns) + varint(len(waits)) + b"".join(wait_entry(*w) for w in waits)

K = 179560086  # the harness's clock, in 10 s slots
seeds["live_delta"] = {
    "red": delta([(0, "api", "GET /", 0, K, 3, 1, 0.25, {8: 2, 27: 1})]),
    "edge": delta([(1, "web", "api", 0, K - 1, 2, 0, 0.02, {9: 2}), (1, "api", "postgresql", 2, K, 1, 1, 0.5, {17: 1})]),
    "old-slot": delta([(0, "api", "op", 0, 5, 1, 0, 0.001, {3: 1})]),
    "other-width": delta([(0, "api", "op", 0, K, 1, 0, 0.001, {3: 1})], slot_ns=5_000_000_000),
    "bad-sum": delta([(0, "api", "op", 0, K, 2, 0, 0.001, {3: 1})]),
    "wait": delta_waits([("api", b"\x01" * 16, b"\x02" * 8, K * 10_000_000_000, 20_000_000, 0),
                         ("db", b"\x01" * 16, b"\x03" * 8, K * 10_000_000_000 + 5, 1_000, 1)]),
    "wait-bad-flag": delta_waits([("api", b"\x01" * 16, b"\x02" * 8, 5, 1, 2)]),
}

def exemplar(series, labels, t_ms, v):
    """One entry of an encoded exemplar batch (src/query/exemplars.h)."""
    return (struct.pack("<I", len(series)) + series + struct.pack("<I", len(labels)) + labels +
            struct.pack("<q", t_ms) + struct.pack("<d", v))

seeds["exemplars"] = {
    "one": b"OEX1" + exemplar(b"__name__\x01latency_bucket\x02le\x010.5\x02", b"trace_id\x01" + b"ab" * 16 + b"\x02",
                              1800000000000, 0.25),
    "two": b"OEX1" + exemplar(b"__name__\x01q\x02", b"", 5, 7.0) + exemplar(b"__name__\x01q\x02", b"span_id\x01aa\x02", 6, 1.0),
    "cut": b"OEX1" + exemplar(b"__name__\x01q\x02", b"", 5, 7.0)[:-3],
    "nul": b"OEX1" + exemplar(b"__name__\x01q\x00\x02", b"", 5, 7.0),
}

for name, files in seeds.items():
    d = os.path.join(root, name)
    os.makedirs(d, exist_ok=True)
    for fname, data in files.items():
        with open(os.path.join(d, fname), "wb") as fp:
            fp.write(data)
print("seeds written to", root, file=sys.stderr)
