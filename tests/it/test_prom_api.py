"""The Prometheus HTTP API endpoints Grafana's data source calls besides the
queries: label lookups over all stored data by default (with limit=),
/api/v1/metadata from OTLP and remote-write, /api/v1/format_query, /api/v1/query_exemplars
(OTLP exemplars back with their trace ids),
/api/v1/rules, and /api/v1/alerts in Prometheus' envelope next to ooda's
own list."""
import time
import urllib.parse

from oodait import Server, check, done
import promconf

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACE2 = "0af7651916cd43dd8448eb211c80319c"
CONFIG = """alerts:
  interval: 500ms
  rules:
    - name: AlwaysOn
      expr: vector(1)
      severity: ticket
      labels:
        team: core
      annotations:
        summary: "always on"
"""


def otlp(now_ns):
    res = {"attributes": [{"key": "service.name", "value": {"stringValue": "shop"}}]}
    metrics = [
        {"name": "http.server.requests", "description": "Requests served", "unit": "{request}",
         "sum": {"aggregationTemporality": 2, "isMonotonic": True,
                 "dataPoints": [{"timeUnixNano": str(now_ns), "asDouble": 5}]}},
        {"name": "queue.depth", "description": "Jobs waiting", "unit": "1",
         "gauge": {"dataPoints": [{"timeUnixNano": str(now_ns), "asDouble": 3,
                                   "exemplars": [{"timeUnixNano": str(now_ns), "asInt": "7",
                                                  "traceId": TRACE2}]}]}},
        {"name": "http.server.duration", "description": "Latency", "unit": "s",
         "histogram": {"aggregationTemporality": 2, "dataPoints": [
             {"timeUnixNano": str(now_ns), "count": "2", "sum": 0.3, "bucketCounts": ["1", "1"],
              "explicitBounds": [0.1],
              "exemplars": [{"timeUnixNano": str(now_ns - 10**9), "asDouble": 0.25, "traceId": TRACE,
                             "spanId": "00f067aa0ba902b7",
                             "filteredAttributes": [{"key": "user", "value": {"stringValue": "u1"}}]}]}]}},
    ]
    return {"resourceMetrics": [{"resource": res, "scopeMetrics": [{"metrics": metrics}]}]}


def get(s, path, **params):
    q = urllib.parse.urlencode(params, doseq=True)
    return s.get(path + ("?" + q if q else ""))


s = Server(config=CONFIG)
try:
    # --- label API: samples ten days old are found without start/end
    old_ms = int((time.time() - 10 * 86400) * 1000)
    old = [({"__name__": "old_metric", "job": "legacy", "zone": z}, [(old_ms, 1.0), (old_ms + 15000, 2.0)])
           for z in ("a", "b", "c")]
    meta = [("old_metric", 1, "Old things counted", "seconds"), ("", 2, "no name: dropped", "")]
    st, body = promconf.remote_write(s.url, promconf.snappy_literal(promconf.write_request(old, meta)))
    check(st == 204, f"old samples remote-written: {st} {body[:200]}")
    r = get(s, "/api/v1/labels")
    check(r.status == 200 and "zone" in r.json()["data"], f"labels cover old data by default: {r.body}")
    r = get(s, "/api/v1/label/zone/values")
    check(r.status == 200 and r.json()["data"] == ["a", "b", "c"], f"label values cover old data: {r.body}")
    r = get(s, "/api/v1/series", **{"match[]": "old_metric"})
    check(r.status == 200 and len(r.json()["data"]) == 3, f"series covers old data: {r.body}")
    r = get(s, "/api/v1/label/zone/values", start=str(time.time() - 3600))
    check(r.status == 200 and r.json()["data"] == [], f"an explicit start still narrows: {r.body}")
    r = get(s, "/api/v1/label/zone/values", limit="2")
    j = r.json()
    check(r.status == 200 and j["data"] == ["a", "b"] and j.get("warnings"), f"limit=2 on values: {r.body}")
    r = get(s, "/api/v1/series", limit="1", **{"match[]": "old_metric"})
    check(r.status == 200 and len(r.json()["data"]) == 1, f"limit=1 on series: {r.body}")
    r = get(s, "/api/v1/labels", limit="x")
    check(r.status == 400 and "limit" in r.json()["error"], f"bad limit is 400 naming it: {r.status} {r.body}")

    # --- metadata from OTLP
    r = s.post("/v1/metrics", otlp(time.time_ns()))
    check(r.status == 200, f"OTLP metrics accepted: {r.status} {r.body}")
    r = get(s, "/api/v1/metadata")
    d = r.json().get("data", {})
    check(r.status == 200 and r.json()["status"] == "success", f"metadata answers: {r.status} {r.body}")
    check(d.get("http_server_requests_total") == [{"type": "counter", "help": "Requests served", "unit": "{request}"}],
          f"monotonic sum is a counter with help and unit: {d}")
    check(d.get("queue_depth_ratio") == [{"type": "gauge", "help": "Jobs waiting", "unit": "1"}], f"gauge: {d}")
    check(d.get("http_server_duration_seconds", [{}])[0].get("type") == "histogram", f"histogram: {d}")
    r = get(s, "/api/v1/metadata", metric="queue_depth_ratio")
    check(list(r.json()["data"]) == ["queue_depth_ratio"], f"metric= narrows: {r.body}")
    r = get(s, "/api/v1/metadata", limit="1")
    check(len(r.json()["data"]) == 1, f"limit=1: {r.body}")
    # remote-write metadata (WriteRequest field 3) answers too
    r = get(s, "/api/v1/metadata", metric="old_metric")
    check(r.json()["data"] == {"old_metric": [{"type": "counter", "help": "Old things counted", "unit": "seconds"}]},
          f"remote-write metadata: {r.body}")

    # --- format_query and query_exemplars
    r = get(s, "/api/v1/format_query", query="sum(rate(x[5m])) by (job)")
    check(r.status == 200 and r.json()["data"] == "sum by (job) (rate(x[5m]))", f"format_query: {r.body}")
    r = get(s, "/api/v1/format_query", query="sum(")
    check(r.status == 400 and r.json()["errorType"] == "bad_data", f"format_query of bad text: {r.status} {r.body}")
    # exemplars stored from OTLP come back under their series (the bucket holding the value)
    r = get(s, "/api/v1/query_exemplars", query="histogram_quantile(0.9, rate(http_server_duration_seconds_bucket[5m]))",
            start=str(time.time() - 600), end=str(time.time() + 60))
    d = r.json().get("data")
    check(r.status == 200 and d and len(d) == 1, f"one series with exemplars: {r.body}")
    if d:
        check(d[0]["seriesLabels"] == {"__name__": "http_server_duration_seconds_bucket", "job": "shop", "le": "+Inf"},
              f"the exemplar's series is the bucket of 0.25: {d[0]}")
        ex = d[0]["exemplars"][0]
        check(ex["labels"] == {"trace_id": TRACE, "span_id": "00f067aa0ba902b7", "user": "u1"} and ex["value"] == "0.25"
              and abs(ex["timestamp"] - (time.time() - 1)) < 60, f"trace id, value and time come back: {ex}")
    r = get(s, "/api/v1/query_exemplars", query="queue_depth_ratio + http_server_requests_total")
    d = r.json().get("data")
    check(r.status == 200 and len(d) == 1 and d[0]["exemplars"][0]["labels"] == {"trace_id": TRACE2}
          and d[0]["exemplars"][0]["value"] == "7", f"default range, gauge exemplar: {r.body}")
    r = get(s, "/api/v1/query_exemplars", query="queue_depth_ratio", start="0", end="100")
    check(r.status == 200 and r.json()["data"] == [], f"outside the range: nothing: {r.body}")
    r = get(s, "/api/v1/query_exemplars", query="rate(")
    check(r.status == 400, f"exemplars of a bad query: {r.status}")

    # --- rules and alerts in Prometheus' envelope
    deadline = time.time() + 20
    rules = None
    while time.time() < deadline:
        rules = get(s, "/api/v1/rules").json()
        g = rules["data"]["groups"]
        if g and g[0]["rules"] and g[0]["rules"][0]["state"] == "firing":
            break
        time.sleep(0.2)
    rule = rules["data"]["groups"][0]["rules"][0] if rules["data"]["groups"] else {}
    check(rules["status"] == "success" and rule.get("name") == "AlwaysOn" and rule.get("query") == "vector(1)"
          and rule.get("type") == "alerting" and rule.get("labels") == {"team": "core"}, f"rules: {rules}")
    check(rule.get("state") == "firing" and rule.get("alerts")
          and rule["alerts"][0]["labels"].get("alertname") == "AlwaysOn", f"the rule's alert fires: {rule}")
    check(get(s, "/api/v1/rules", type="record").json()["data"]["groups"] == [], "no recording rules")
    r = get(s, "/api/v1/alerts")
    j = r.json()
    prom = j.get("data", {}).get("alerts", [])
    check(j.get("status") == "success" and any(a["labels"].get("alertname") == "AlwaysOn" and a["state"] == "firing"
                                              and a["activeAt"] for a in prom), f"Prometheus envelope: {j}")
    check(any(a["name"] == "AlwaysOn" for a in j.get("alerts", [])), f"ooda's own list is still there: {j}")
finally:
    s.stop()
    s.cleanup()
done()
