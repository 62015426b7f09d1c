#!/usr/bin/env python3
"""The cost of one forwarded request on loopback: GET /api/v1/automation (a
ROUTE_LEADER route with a small answer from the leader's memory) asked N
times in a row of the leader itself and of a follower that forwards it, on
three nodes sharing one PostgreSQL database (tests/pg: a throwaway cluster
unless OODA_IT_PG_DSN names one), and of one embedded node (SQLite), where
nothing is forwarded. Prints the median and the 90th percentile of each.

  OODA_BIN=build/ooda PYTHONPATH=tests/it python3 bench/forward/run.py [N]
"""
import statistics
import sys
import time
import urllib.request

from oodait import Cluster, Server

N = int(sys.argv[1]) if len(sys.argv) > 1 else 500
PATH = "/api/v1/automation"


def timed(url):
    out = []
    for _ in range(N):
        t = time.perf_counter()
        with urllib.request.urlopen(url + PATH, timeout=10) as r:
            r.read()
            assert r.status == 200
        out.append((time.perf_counter() - t) * 1000)
    out.sort()
    return statistics.median(out), out[int(len(out) * 0.9)]


def main():
    one = Server()
    try:
        timed(one.url)
        print("one embedded node       median %.3f ms  p90 %.3f ms" % timed(one.url))
    finally:
        one.cleanup()
    with Cluster(3, names=("b1", "b2", "b3")) as c:
        leader, follower = c.leader, c.followers[0]
        timed(leader.url)
        timed(follower.url)
        print("three nodes, the leader median %.3f ms  p90 %.3f ms" % timed(leader.url))
        print("three nodes, a follower median %.3f ms  p90 %.3f ms (forwarded)" % timed(follower.url))


if __name__ == "__main__":
    main()
