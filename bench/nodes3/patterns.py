#!/usr/bin/env python3
"""The cost of sharing log lines for every node's pattern miners (detect/logclass.h):
N requests of 100 log lines posted round-robin over the nodes of one oodait Server,
then GET /api/v1/patterns 30 times round-robin; prints the median and 90th percentile
of each, and the rows and bytes of pattern_lines (PostgreSQL). Run it on three nodes
(and with the binary before, for the difference):

  OODA_BIN=build/ooda OODA_IT_CONTROL=postgres OODA_IT_TELEMETRY=clickhouse OODA_IT_NODES=3 \
    PYTHONPATH=tests/it tests/scale/run python3 bench/nodes3/patterns.py [N]
"""
import json, os, statistics, subprocess, sys, time, glob
from oodait import Server
N = int(sys.argv[1]) if len(sys.argv) > 1 else 60
s = Server()
try:
    lat = []
    for i in range(N):
        body = "\n".join(json.dumps({"service": f"svc{i % 4}", "body": f"request {i}-{k} from 10.0.{k}.1 took {k * 7} ms",
                                     "severity": "info" if k % 10 else "error"}) for k in range(100))
        a = time.monotonic()
        r = s.post("/api/v1/logs", body, headers={"Content-Type": "application/x-ndjson"})
        lat.append((time.monotonic() - a) * 1000)
        assert r.status == 200, r.body
    lat.sort()
    print(f"POST /api/v1/logs, 100 lines: n={N} p50 {statistics.median(lat):.1f} ms p90 {lat[int(N*0.9)]:.1f} ms")
    g = []
    for i in range(30):
        a = time.monotonic()
        r = s.get("/api/v1/patterns?since=1h&limit=1000")
        g.append((time.monotonic() - a) * 1000)
        assert r.status == 200
    g.sort()
    print(f"GET /api/v1/patterns (round robin): n=30 p50 {statistics.median(g):.1f} ms p90 {g[27]:.1f} ms, "
          f"{len(r.json()['patterns'])} patterns")
    dsn = os.environ.get(s.pg_var or "", "")
    psql = (glob.glob("/usr/lib/postgresql/*/bin/psql") or ["psql"])[0]
    q = subprocess.run([psql, dsn, "-Atc", "SELECT count(*), coalesce(sum(octet_length(body)),0) FROM pattern_lines"],
                       capture_output=True, text=True)
    print("pattern_lines rows|bytes:", q.stdout.strip() or q.stderr.strip())
finally:
    s.cleanup()
