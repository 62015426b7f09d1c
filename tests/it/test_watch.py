"""Anomaly watches on configured series: a gauge pushed over OTLP every
second, a watch with a short warm-up learns it, then a jump raises an
anomaly alert with its baseline and score as evidence; bad watch
configuration is refused with the key path."""
import json
import random
import time
from oodait import Server, check, done, run

CONFIG = """anomalies:
  - name: queue
    expr: queue_depth
    interval: 1s
    warmup: 20
    direction: up
"""


def push(s, value):
    body = {"resourceMetrics": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "worker"}}]},
        "scopeMetrics": [{"metrics": [{"name": "queue_depth", "gauge": {"dataPoints": [
            {"timeUnixNano": str(time.time_ns()), "asDouble": value}]}}]}]}]}
    s.post("/v1/metrics", body)


s = Server(config=CONFIG)
try:
    rnd = random.Random(3)
    for i in range(28):
        push(s, 10 + rnd.uniform(-0.5, 0.5))
        time.sleep(1)
    r = s.get("/api/v1/anomalies")
    w = r.json()["watches"]["watches"][0]
    check(w["name"] == "queue" and w["series"] and not w["series"][0]["warming_up"], f"learned the series: {r.body[:300]}")
    # fired at any point (a slow machine may see it already resolved once the new level is learned);
    # the loop bound is a guard only
    firing = set()
    for i in range(20):
        push(s, 60)
        time.sleep(1)
        firing = {a["name"] for a in s.get("/api/v1/alerts?state=all").json()["alerts"]
                  if a["state"] in ("firing", "resolved")}
        if "anomaly:queue" in firing:
            break
    check("anomaly:queue" in firing, f"a jump to 6x raises the anomaly alert: {firing}")
    alerts = s.get("/api/v1/alerts?state=all").json()["alerts"]
    a = [x for x in alerts if x["name"] == "anomaly:queue"]
    if a:
        detail = s.get(f"/api/v1/alerts/{a[0]['fingerprint']}").body
        check('"baseline"' in detail and '"score"' in detail, f"evidence kept: {detail[:300]}")
        check(any(f'"detector":"{d}"' in detail.replace(" ", "") for d in ("surprise", "density", "variability", "record")),
              f"evidence names the detector: {detail[:300]}")
finally:
    s.cleanup()

bad = Server(config="anomalies:\n  - name: q\n    expr: 'sum(rate(x[5m]'\n", expect_start=False)
try:
    res = run("config", "check", bad.config)
    check(res.returncode != 0 and "anomalies[0].expr" in res.stderr, f"bad watch refused with its key path: {res.stderr}")
finally:
    bad.cleanup()
done()
