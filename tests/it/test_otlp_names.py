"""OTLP metrics get the Prometheus names Prometheus' own OTLP receiver (and the
OpenTelemetry Collector's Prometheus exporters) give them, so dashboards and
alert rules written for that path match: a table of OTLP metrics (name, unit,
type) with the name the OpenTelemetry "Prometheus and OpenMetrics
Compatibility" rules give each, posted to a real daemon and read back through
/api/v1/label/__name__/values, /api/v1/series and PromQL; labels from
attributes, job and instance from service.namespace/service.name and
service.instance.id, the other resource attributes in target_info; the
payload the OpenTelemetry JS SDK sent (../shared/data/samples); then
ingest.otlp_translation_strategy switched to NoUTF8EscapingWithSuffixes by a
reload, and an unknown strategy refused. Prometheus 2.42 (Debian) has no
OTLP receiver (added in 2.47), so the expected names are the spec's.

Prints the table of docs/conformance.md ("OTLP names").
"""
import json
import os
import time
import urllib.parse

from oodait import Server, check, done, run

# (OTLP name, unit, kind, name in Prometheus' receiver); kind: gauge, counter
# (monotonic sum), updown (non-monotonic sum), histogram, summary
TABLE = [
    ("http.server.request.duration", "s", "histogram", "http_server_request_duration_seconds"),
    ("http.client.request.body.size", "By", "histogram", "http_client_request_body_size_bytes"),
    ("http.server.requests", "{request}", "counter", "http_server_requests_total"),
    ("http.server.active_requests", "{request}", "updown", "http_server_active_requests"),
    ("system.filesystem.usage", "By", "updown", "system_filesystem_usage_bytes"),
    ("system.memory.utilization", "1", "gauge", "system_memory_utilization_ratio"),
    ("system.network.dropped", "{packets}", "counter", "system_network_dropped_total"),
    ("system.network.dropped.raw", "packets", "counter", "system_network_dropped_raw_packets_total"),
    ("process.runtime.jvm.memory.usage", "KiBy", "gauge", "process_runtime_jvm_memory_usage_kibibytes"),
    ("vehicle.speed", "m/s", "gauge", "vehicle_speed_meters_per_second"),
    ("disk.io", "By/s", "counter", "disk_io_bytes_per_second_total"),
    ("(lambda).function.executions(#)", "", "gauge", "lambda_function_executions"),
    ("rpc.server.duration", "ms", "summary", "rpc_server_duration_milliseconds"),
    ("requests.total", "1", "counter", "requests_total"),
    ("request_duration_seconds", "s", "histogram", "request_duration_seconds"),
    ("2xx.responses", "", "counter", "_2xx_responses_total"),
]

RESOURCE = [("service.name", "checkout"), ("service.namespace", "shop"), ("service.instance.id", "pod-1"),
            ("host.name", "vm1"), ("deployment.environment", "prod")]
POINT_ATTRS = [("http.request.method", "GET"), ("2fa.enabled", "yes"), ("_private", "p")]


def kv(pairs):
    return [{"key": k, "value": {"stringValue": v}} for k, v in pairs]


def metric(name, unit, kind, t_ns):
    base = {"timeUnixNano": str(t_ns), "startTimeUnixNano": str(t_ns - 60 * 10**9), "attributes": kv(POINT_ATTRS)}
    m = {"name": name, "unit": unit}
    if kind in ("gauge",):
        m["gauge"] = {"dataPoints": [dict(base, asDouble=2.5)]}
    elif kind in ("counter", "updown"):
        m["sum"] = {"aggregationTemporality": 2, "isMonotonic": kind == "counter",
                    "dataPoints": [dict(base, asDouble=7)]}
    elif kind == "histogram":
        m["histogram"] = {"aggregationTemporality": 2, "dataPoints": [
            dict(base, count="3", sum=0.6, bucketCounts=["1", "2"], explicitBounds=[0.1])]}
    else:
        m["summary"] = {"dataPoints": [dict(base, count="3", sum=0.6, quantileValues=[
            {"quantile": 0.5, "value": 0.2}, {"quantile": 0.99, "value": 0.3}])]}
    return m


def payload(t_ns):
    return {"resourceMetrics": [{"resource": {"attributes": kv(RESOURCE)}, "scopeMetrics": [
        {"scope": {"name": "conformance"}, "metrics": [metric(n, u, k, t_ns) for n, u, k, _ in TABLE]}]}]}


def series_names(kind, name):
    if kind == "histogram":
        return [name + "_bucket", name + "_sum", name + "_count"]
    if kind == "summary":
        return [name, name + "_sum", name + "_count"]
    return [name]


def get(s, path, **params):
    return s.get(path + "?" + urllib.parse.urlencode(params, doseq=True))


def q(s, expr, t):
    r = get(s, "/api/v1/query", query=expr, time=str(t))
    return r.json()["data"]["result"] if r.status == 200 else r.body


def strip_name(labels):
    return {k: v for k, v in labels.items() if k != "__name__"}


CONFIG = "ingest:\n  otlp_translation_strategy: {}\n"
s = Server(config=CONFIG.format("UnderscoreEscapingWithSuffixes"))
try:
    now_ns = time.time_ns()
    tsec = now_ns / 1e9 + 1
    r = s.post("/v1/metrics", payload(now_ns))
    check(r.status == 200, f"OTLP metrics accepted: {r.status} {r.body}")

    # --- names: exactly the receiver's, nothing else
    r = get(s, "/api/v1/label/__name__/values")
    got = set(r.json()["data"])
    want = {x for _, _, k, n in TABLE for x in series_names(k, n)} | {"target_info"}
    check(got == want, f"series names: missing {sorted(want - got)}, unexpected {sorted(got - want)}")
    rows = []
    for name, unit, kind, expected in TABLE:
        r = get(s, "/api/v1/series", **{"match[]": series_names(kind, expected)[0]})
        ok = r.status == 200 and len(r.json()["data"]) >= 1
        check(ok, f"{name} [{unit}] {kind} is selected as {expected}: {r.body[:200]}")
        rows.append((name, unit, kind, expected if ok else "(missing)", expected))

    # --- labels: attributes escaped, job and instance from the resource, the rest in target_info
    r = get(s, "/api/v1/series", **{"match[]": "http_server_requests_total"})
    d = r.json()["data"]
    check(d == [{"__name__": "http_server_requests_total", "job": "shop/checkout", "instance": "pod-1",
                 "http_request_method": "GET", "key_2fa_enabled": "yes", "key_private": "p"}],
          f"the counter's labels: {d}")
    r = get(s, "/api/v1/series", **{"match[]": "target_info"})
    d = r.json()["data"]
    check(d == [{"__name__": "target_info", "job": "shop/checkout", "instance": "pod-1", "host_name": "vm1",
                 "deployment_environment": "prod"}], f"one target_info per resource: {d}")
    r = get(s, "/api/v1/series", **{"match[]": 'http_server_request_duration_seconds_bucket'})
    check(sorted(x.get("le") for x in r.json()["data"]) == ["+Inf", "0.1"], f"buckets keep le: {r.body[:300]}")
    r = get(s, "/api/v1/series", **{"match[]": 'rpc_server_duration_milliseconds'})
    check(sorted(x.get("quantile") for x in r.json()["data"]) == ["0.5", "0.99"], f"quantiles: {r.body[:300]}")

    # two keys that escape to one label: the values joined with ';' in key order, as the receiver does
    coll = {"resourceMetrics": [{"resource": {"attributes": kv([("service.name", "collide")])}, "scopeMetrics": [
        {"metrics": [{"name": "collide", "gauge": {"dataPoints": [
            {"timeUnixNano": str(now_ns), "asDouble": 1, "attributes": kv([("a_b", "second"), ("a.b", "first")])}]}}]}]}]}
    check(s.post("/v1/metrics", coll).status == 200, "collision payload accepted")
    r = get(s, "/api/v1/series", **{"match[]": "collide"})
    check(r.json()["data"] == [{"__name__": "collide", "job": "collide", "a_b": "first;second"}],
          f"colliding keys joined: {r.body}")

    # --- PromQL by those names: the queries community dashboards run
    v = q(s, "sum(http_server_requests_total)", tsec)
    check(isinstance(v, list) and v and float(v[0]["value"][1]) == 7.0, f"sum of the counter: {v}")
    v = q(s, 'http_server_requests_total * on (job, instance) group_left (deployment_environment) target_info', tsec)
    check(isinstance(v, list) and len(v) == 1 and v[0]["metric"].get("deployment_environment") == "prod",
          f"target_info joins in a resource attribute: {v}")
    v = q(s, 'histogram_quantile(0.5, sum by (le) (http_server_request_duration_seconds_bucket{job="shop/checkout"}))',
          tsec)
    check(isinstance(v, list) and len(v) == 1 and abs(float(v[0]["value"][1]) - 0.1) < 0.1,
          f"histogram_quantile over the buckets: {v}")
    v = q(s, 'system_memory_utilization_ratio{instance="pod-1"}', tsec)
    check(isinstance(v, list) and len(v) == 1 and float(v[0]["value"][1]) == 2.5, f"a _ratio gauge: {v}")
    r = get(s, "/api/v1/metadata", metric="http_server_request_duration_seconds")
    check(r.json()["data"].get("http_server_request_duration_seconds", [{}])[0].get("type") == "histogram",
          f"metadata under the same name: {r.body}")

    # --- what the OpenTelemetry JS SDK sent (the captured payload)
    sample = os.path.join(os.environ.get("OODA_SHARED_DATA", ""), "samples", "otlp_metrics.json")
    with open(sample) as f:
        body = json.load(f)
    r = s.post("/v1/metrics", body)
    check(r.status == 200, f"SDK payload accepted: {r.status} {r.body}")
    t_sdk = max(int(dp["timeUnixNano"]) for rm in body["resourceMetrics"] for sm in rm["scopeMetrics"]
                for m in sm["metrics"] for k in ("sum", "gauge", "histogram") if k in m
                for dp in m[k]["dataPoints"]) / 1e9 + 1
    r = get(s, "/api/v1/series", **{"match[]": '{job="oteljs-probe"}'})
    names = sorted({x["__name__"] for x in r.json()["data"]})
    check(names == ["http_duration_milliseconds_bucket", "http_duration_milliseconds_count",
                    "http_duration_milliseconds_sum", "http_requests_total", "queue_depth", "target_info"],
          f"the SDK's metrics by the receiver's names: {names}")
    info = [strip_name(x) for x in r.json()["data"] if x["__name__"] == "target_info"]
    check(info == [{"job": "oteljs-probe", "deployment_environment": "test"}], f"the SDK's target_info: {info}")
    v = q(s, 'sum(http_requests_total{job="oteljs-probe"})', t_sdk)
    check(isinstance(v, list) and len(v) == 1, f"PromQL over the SDK's counter: {v}")

    # --- UTF-8 names kept (Prometheus 3's NoUTF8EscapingWithSuffixes), by a reload
    with open(s.config, "w") as f:
        f.write(CONFIG.format("NoUTF8EscapingWithSuffixes"))
    r = s.post("/api/v1/config/reload", {})
    check(r.status == 200, f"strategy reloads: {r.status} {r.body}")
    r = get(s, "/api/v1/series", **{"match[]": '{__name__="http.server.request.duration_seconds_count"}'})
    d = r.json()["data"]
    check(d == [{"__name__": "http.server.request.duration_seconds_count", "job": "shop/checkout",
                 "instance": "pod-1", "http.request.method": "GET", "2fa.enabled": "yes", "_private": "p"}],
          f"UTF-8 names and keys kept, suffixes added: {d}")
    v = q(s, '{__name__="http.server.requests_total"}', tsec)
    check(isinstance(v, list) and len(v) == 1 and float(v[0]["value"][1]) == 7.0, f"PromQL by the UTF-8 name: {v}")
    r = get(s, "/api/v1/series", **{"match[]": "target_info"})
    check([x.get("deployment.environment") for x in r.json()["data"] if x.get("job") == "shop/checkout"] == ["prod"],
          f"target_info keeps the keys: {r.body[:300]}")

    # --- an unknown strategy is refused by name, at reload and by config check
    with open(s.config, "w") as f:
        f.write(CONFIG.format("NoTranslation"))
    r = s.post("/api/v1/config/reload", {})
    check(r.status == 400 and "ingest.otlp_translation_strategy" in r.body, f"unknown strategy: {r.status} {r.body}")
    res = run("config", "check", s.config)
    check(res.returncode != 0 and "ingest.otlp_translation_strategy" in res.stderr
          and "NoUTF8EscapingWithSuffixes" in res.stderr, f"config check names the key and values: {res.stderr}")
    r = get(s, "/api/v1/series", **{"match[]": '{__name__="http.server.request.duration_seconds_count"}'})
    check(len(r.json()["data"]) == 1, f"the rejected reload kept the strategy: {r.body[:200]}")
finally:
    s.cleanup()

print("| OTLP metric | unit | type | name in ooda | name in Prometheus' OTLP receiver |")
print("| --- | --- | --- | --- | --- |")
for name, unit, kind, got, want in rows:
    print(f"| `{name}` | {'`' + unit + '`' if unit else '(none)'} | {kind} | `{got}` | `{want}` |")
done()
