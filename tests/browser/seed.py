"""Seeds a running ooda with what the dashboard shows, through its real HTTP
ingest: spans of two services (one trace with an error), a steady edge
web -> catalog with a baseline half an hour old and a caller of catalog whose
name is hostile, logs carrying that
trace id, a gauge, a change event, a deploy and a flag. Hostile strings ride
in log bodies, attribute values, span names, the flag's description and its
rationale so the
browser test can check they stay text. Returns the ids the test looks for."""
import json
import os
import time

XSS = '<img src=x onerror="window.__xss=1">'


def attrs(d):
    return [{"key": k, "value": {"stringValue": v}} for k, v in d.items()]


def spans_body(trace, now):
    def span(sid, parent, name, service_start, dur_ms, err=False, kind=2):
        s = {"traceId": trace, "spanId": sid, "name": name, "kind": kind,
             "startTimeUnixNano": str(now + service_start * 1_000_000),
             "endTimeUnixNano": str(now + (service_start + dur_ms) * 1_000_000),
             "attributes": attrs({"http.route": "/pay", "note": XSS}),
             "status": {"code": 2 if err else 1}}
        if parent:
            s["parentSpanId"] = parent
        return s
    return {"resourceSpans": [
        {"resource": {"attributes": attrs({"service.name": "checkout"})},
         "scopeSpans": [{"spans": [span("a1a1a1a1a1a1a1a1", None, "POST /checkout", 0, 120),
                                   span("b2b2b2b2b2b2b2b2", "a1a1a1a1a1a1a1a1", "call payments", 10, 90, kind=3)]}]},
        {"resource": {"attributes": attrs({"service.name": "payments"})},
         "scopeSpans": [{"spans": [span("c3c3c3c3c3c3c3c3", "b2b2b2b2b2b2b2b2", "charge " + XSS, 20, 70, err=True)]}]},
    ]}


def calls_body(caller, callee, end_ns, n, errors=0):
    """n requests of caller, each calling callee; the first `errors` of the callee's spans fail."""
    a, b = [], []
    for i in range(n):
        tid, pid, cid = os.urandom(16).hex(), os.urandom(8).hex(), os.urandom(8).hex()
        end = end_ns - i * 1_000_000
        a.append({"traceId": tid, "spanId": pid, "name": "GET /list", "kind": 2,
                  "startTimeUnixNano": str(end - 30_000_000), "endTimeUnixNano": str(end), "status": {"code": 1}})
        b.append({"traceId": tid, "spanId": cid, "parentSpanId": pid, "name": "list " + XSS, "kind": 2,
                  "startTimeUnixNano": str(end - 20_000_000), "endTimeUnixNano": str(end - 5_000_000),
                  "status": {"code": 2 if i < errors else 1}})

    def rs(service, sp):
        return {"resource": {"attributes": attrs({"service.name": service})}, "scopeSpans": [{"spans": sp}]}
    return {"resourceSpans": [rs(caller, a), rs(callee, b)]}


def seed_graph(s):
    """A healthy edge web -> catalog, steady since half an hour ago (the
    baseline), and a caller whose service name is a hostile string."""
    now = time.time_ns() - 2_000_000_000
    for end, caller, n in ((now - 1_800_000_000_000, "web", 40), (now, "web", 40), (now, XSS, 5)):
        r = s.post("/v1/traces", calls_body(caller, "catalog", end, n))
        assert r.status == 200, r.body


def seed(s):
    """s: an oodait.Server with an admin token set. Returns a dict of seeded ids."""
    now = time.time_ns() - 2_000_000_000
    trace = os.urandom(16).hex()
    r = s.post("/v1/traces", spans_body(trace, now))
    assert r.status == 200, r.body
    for i in range(20):
        t = os.urandom(16).hex()
        body = spans_body(t, now - i * 1_000_000_000)
        r = s.post("/v1/traces", body)
        assert r.status == 200, r.body
    lines = [
        {"timestamp": now, "service": "payments", "severity": "error",
         "body": "card declined for order 4711 " + XSS, "trace_id": trace,
         "attributes": {"user.id": XSS, "order": "4711"}},
        {"timestamp": now + 1000, "service": "checkout", "severity": "info",
         "body": "checkout started", "trace_id": trace},
    ] + [{"timestamp": now - i * 1_000_000, "service": "checkout", "severity": "info",
          "body": f"request {i} served"} for i in range(30)]
    r = s.post("/api/v1/logs", "\n".join(json.dumps(x) for x in lines) + "\n",
               headers={"Content-Type": "application/x-ndjson"})
    assert r.status == 200, r.body
    r = s.post("/api/v1/events", {"service": "payments", "kind": "deploy", "env": "prod",
                                  "summary": "payments v2 " + XSS})
    assert r.status in (200, 201, 202), r.body
    r = s.post("/api/v1/deploys", {"service": "payments", "env": "prod", "version": "v2", "artifact": "payments:v2"})
    assert r.status in (200, 201), r.body
    flag = {"state": "ENABLED", "variants": {"on": True, "off": False}, "defaultVariant": "off",
            "metadata": {"description": XSS}}
    r = s.request("PUT", "/api/v1/flags/new-checkout?env=prod", body={"definition": flag, "rationale": "seed " + XSS})
    assert r.status in (200, 201), r.body
    for body, why in (({"timeout_ms": 300, "retries": 2}, "first"), ({"timeout_ms": 500, "retries": 2}, "slower upstream")):
        r = s.request("PUT", "/api/v1/configs/payments/prod", body=body, headers={"X-Ooda-Rationale": why})
        assert r.status == 200, r.body
    seed_graph(s)
    return {"trace": trace, "flag": "new-checkout", "env": "prod"}
