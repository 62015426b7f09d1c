#!/usr/bin/env python3
"""What read-your-writes for live signals costs on three nodes (one
PostgreSQL control store, one ClickHouse telemetry store, as the nodes3
suite runs them): N sequential OTLP/JSON span requests to one node (each 10
calls, 20 spans: the caller's and the callee's, so the graph has an edge),
then N sequential GET /api/v1/services and N GET /api/v1/graph on another
node, over fresh connections. Prints the median and the 90th percentile of
each. Run it once with the binary to measure and once with the one from
before, on the same machine:

  tests/scale/run env OODA_IT_CONTROL=postgres OODA_IT_TELEMETRY=clickhouse \\
      OODA_IT_NODES=3 OODA_BIN=build/ooda PYTHONPATH=tests/it python3 bench/live/nodes.py 300

With a second argument "sqlite" each node keeps its telemetry in its own
embedded store (three nodes on one PostgreSQL control store), where an
ingest request costs far less than a ClickHouse insert, so the delta row's
write shows:

  tests/scale/run env OODA_IT_CONTROL=postgres OODA_BIN=build/ooda \\
      PYTHONPATH=tests/it python3 bench/live/nodes.py 300 sqlite
"""
import json
import statistics
import sys
import time
import urllib.request

from oodait import Server

N = int(sys.argv[1]) if len(sys.argv) > 1 else 300
EMBEDDED = len(sys.argv) > 2 and sys.argv[2] == "sqlite"


def body(k, now):
    a, b = [], []
    for i in range(10):
        tid, pid, cid = f"{k * 100 + i:032x}", f"{k * 100 + i:016x}", f"{k * 100 + i + 10_000_000:016x}"
        end = now - i * 1_000_000
        a.append({"traceId": tid, "spanId": pid, "name": "GET /", "kind": 2, "startTimeUnixNano": str(end - 15_000_000),
                  "endTimeUnixNano": str(end), "status": {"code": 1}})
        b.append({"traceId": tid, "spanId": cid, "parentSpanId": pid, "name": "handle", "kind": 2,
                  "startTimeUnixNano": str(end - 11_000_000), "endTimeUnixNano": str(end - 1_000_000),
                  "status": {"code": 1}})

    def rs(service, sp):
        return {"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
                "scopeSpans": [{"spans": sp}]}
    return json.dumps({"resourceSpans": [rs("bench-web", a), rs("bench-api", b)]}).encode()


def stats(ms):
    ms.sort()
    return statistics.median(ms), ms[int(len(ms) * 0.9)]


def timed(fn):
    out = []
    for k in range(N):
        t = time.perf_counter()
        fn(k)
        out.append((time.perf_counter() - t) * 1000)
    return stats(out)


def main():
    s = Server(telemetry="sqlite", nodes=3) if EMBEDDED else Server()
    try:
        if not s.followers:
            sys.exit("needs OODA_IT_NODES=3 with OODA_IT_CONTROL=postgres and OODA_IT_TELEMETRY=clickhouse")
        a, b = s.url, s.followers[0].url

        def ingest(k):
            req = urllib.request.Request(a + "/v1/traces", data=body(k, time.time_ns()), method="POST",
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=10) as r:
                r.read()
                assert r.status == 200

        def get(path):
            def f(k):
                with urllib.request.urlopen(b + path, timeout=10) as r:
                    r.read()
                    assert r.status == 200
            return f

        for k in range(20):  # warm up
            ingest(100000 + k)
            get("/api/v1/services")(k)
        print("ingest (20 spans) on node A   median %.2f ms  p90 %.2f ms" % timed(ingest))
        print("GET /api/v1/services on node B median %.2f ms  p90 %.2f ms" % timed(get("/api/v1/services")))
        print("GET /api/v1/graph on node B    median %.2f ms  p90 %.2f ms" % timed(get("/api/v1/graph")))
    finally:
        s.cleanup()


if __name__ == "__main__":
    main()
