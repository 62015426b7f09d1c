"""How soon the leader's rules read a batch pushed to a follower (api/fresh.h).
Three nodes on one PostgreSQL and one ClickHouse (run under tests/scale/run with
OODA_IT_NODES=3, OODA_IT_CONTROL=postgres, OODA_IT_TELEMETRY=clickhouse). A rule
evaluated every 10 s; a gauge over its threshold pushed to a follower; the delay
from the push's answer to the alert's pending transition (the daemon's own time).
Prints one line per run and the median."""
import json
import statistics
import sys
import time
sys.path.insert(0, "tests/it")
from oodait import Server  # noqa: E402

CONFIG = """alerts:
  interval: 10s
  rules:
    - name: QueueBacklog
      expr: queue_depth{job="checkout"} > 10
      for: 30s
      severity: page
"""
runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
delays = []
for i in range(runs):
    s = Server(config=CONFIG)
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            c = s.get("/api/v1/cluster").json()
            if c.get("leader") and all(n.get("address") for n in c["nodes"]) and len(c["nodes"]) == 3:
                break
            time.sleep(0.2)
        time.sleep(2)  # past the first evaluations
        fol = ["http://" + n["address"] for n in c["nodes"] if n["id"] != c["leader"]][0]
        body = {"resourceMetrics": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "checkout"}}]},
            "scopeMetrics": [{"metrics": [{"name": "queue.depth", "gauge": {"dataPoints": [
                {"timeUnixNano": str(time.time_ns()), "asDouble": 50}]}}]}]}]}
        r = s._send(fol, "POST", "/v1/metrics", json.dumps(body).encode(), {"Content-Type": "application/json"}, 30)
        pushed = time.time_ns()
        assert r.status == 200, r.body
        at = None
        while time.time() < pushed / 1e9 + 15 and at is None:
            al = [a for a in s.get("/api/v1/alerts?state=all").json()["alerts"] if a["name"] == "QueueBacklog"]
            if al:
                tr = s.get(f"/api/v1/alerts/{al[0]['fingerprint']}").json()["transitions"]
                at = tr[0]["at_ns"] if tr else None
            time.sleep(0.05)
        d = (at - pushed) / 1e9 if at else None
        delays.append(d if d is not None else float("inf"))
        print(f"run {i + 1}: pending {d:.3f} s after the push was acknowledged" if d is not None else f"run {i + 1}: no alert")
    finally:
        s.stop()
        s.cleanup()
print(f"median {statistics.median(delays):.3f} s over {runs} runs")
