#!/usr/bin/env python3
"""How long POST /api/v1/config/reload takes to be answered by every node (api/cluster.h):
N reloads of an unchanged file through the nodes of one oodait Server, 0.3 s apart;
prints the median, least and most.

  OODA_BIN=build/ooda OODA_IT_CONTROL=postgres OODA_IT_TELEMETRY=clickhouse OODA_IT_NODES=3 \
    PYTHONPATH=tests/it tests/scale/run python3 bench/nodes3/reload.py [N]
"""
import time, statistics, sys
from oodait import Server
s = Server()
try:
    t = []
    for i in range(int(sys.argv[1]) if len(sys.argv) > 1 else 10):
        a = time.monotonic()
        r = s.post("/api/v1/config/reload", {})
        t.append((time.monotonic() - a) * 1000)
        assert r.status == 200, r.body
        time.sleep(0.3)
    t.sort()
    print(f"reload answered by every node: n={len(t)} median {statistics.median(t):.0f} ms, min {t[0]:.0f}, max {t[-1]:.0f}")
finally:
    s.cleanup()
