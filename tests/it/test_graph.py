"""GET /api/v1/graph compares each traced edge over the window with the same
edge over the baseline before it and gives it a health a person can read:
an edge whose errors rise is failing, one whose p99 rises or whose traffic
drops is degraded, a steady one is ok "within baseline", a new one is ok
with "no baseline yet". Spans are sent over OTLP JSON with start times in
the baseline period (half an hour ago) and now. Every edge carries its rate;
declared edges stay beside the traced ones; a bad window or baseline is a
400 naming it; a viewer reads the graph.

With several nodes (the nodes3 suite) the caller's spans go through one node
and the callee's through another, and a third is asked at once: the edge, the
callee's RED and its ooda_span_* series count every span the first two
acknowledged (when the child's node acknowledged first; when the parent's did,
the node holding the parent makes the edge at its next round, which the test
waits for and prints)."""
import time
import urllib.parse
from oodait import Server, check, create_token, done, wait_for

CONFIG = """\
services:
  - name: frontend
    dependencies: [checkout]
"""

SEQ = [0]


def calls(caller, callee, end_ns, n, dur_ms=10, errors=0):
    """n requests of caller, each calling callee (a server span whose parent is the caller's)."""
    a, b = [], []
    for i in range(n):
        SEQ[0] += 1
        k = SEQ[0]
        end = end_ns - i * 1_000_000
        tid, pid, cid = f"{k:032x}", f"{k:016x}", f"{k + 10_000_000:016x}"
        a.append({"traceId": tid, "spanId": pid, "name": "GET /", "kind": 2,
                  "startTimeUnixNano": str(end - (dur_ms + 5) * 1_000_000), "endTimeUnixNano": str(end),
                  "status": {"code": 1}})
        b.append({"traceId": tid, "spanId": cid, "parentSpanId": pid, "name": "handle", "kind": 2,
                  "startTimeUnixNano": str(end - dur_ms * 1_000_000 - 1_000_000), "endTimeUnixNano": str(end - 1_000_000),
                  "status": {"code": 2 if i < errors else 1}})

    def rs(service, sp):
        return {"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
                "scopeSpans": [{"spans": sp}]}
    return {"resourceSpans": [rs(caller, a), rs(callee, b)]}


def split(body):
    """The caller's and the callee's spans of a calls() body, as two requests."""
    caller, callee = body["resourceSpans"]
    return {"resourceSpans": [caller]}, {"resourceSpans": [callee]}


def across_nodes(s, now):
    """The caller's spans through node a, the callee's through node b, every view read on node c at once."""
    a, b, c = s.url, s.followers[0].url, s.followers[1].url
    def post(url, body):
        r = s.request_at(url, "POST", "/v1/traces", body)
        check(r.status == 200, f"spans accepted by {url}: {r.status} {r.body[:200]}")

    def get(url, path):
        r = s.request_at(url, "GET", path)
        check(r.status == 200, f"GET {path} on {url}: {r.status} {r.body[:200]}")
        return r.json() if r.status == 200 else {}

    def edge(url, src, dst):
        return {(x["source"], x["target"]): x for x in get(url, "/api/v1/graph").get("edges", [])}.get((src, dst))

    # the callee's spans first, as an SDK exports them (they end first), then the caller's on another node
    parents, children = split(calls("web-x", "api-x", now, 7, errors=2))
    post(b, children)
    post(a, parents)
    for url in (c, a, b):
        e = edge(url, "web-x", "api-x") or {}
        check(e.get("calls") == 7 and e.get("errors") == 2,
              f"the edge whose caller and callee spans reached different nodes, on {url} at once: {e}")
    svc = get(c, "/api/v1/services/api-x")
    check(svc.get("requests") == 7 and svc.get("errors") == 2,
          f"the callee's RED on a third node at once: {svc.get('requests')} {svc.get('errors')}")
    up = [x for x in svc.get("upstream", []) if x.get("service") == "web-x"]
    check(len(up) == 1 and up[0].get("calls") == 7, f"the callee's caller on a third node: {svc.get('upstream')}")
    q = urllib.parse.quote('sum(ooda_span_requests_total{service="api-x"})')
    res = get(c, "/api/v1/query?query=" + q).get("data", {}).get("result", [])
    check(len(res) == 1 and float(res[0]["value"][1]) == 7, f"ooda_span_requests_total on a third node at once: {res}")

    # the caller's spans first: the node holding them makes the edge when it reads the callee's (each round)
    parents, children = split(calls("web-y", "api-y", now, 5))
    post(a, parents)
    post(b, children)
    t0 = time.time()
    e = wait_for("the edge on a third node when the caller's spans came first",
                 lambda: (edge(c, "web-y", "api-y") or {}).get("calls") == 5, timeout=15)
    print(f"caller's spans first: the edge was on the third node {time.time() - t0:.2f} s after the callee's were "
          f"acknowledged")
    for url in (a, b):
        e = edge(url, "web-y", "api-y") or {}
        check(e.get("calls") == 5, f"and on {url}, counted once: {e}")


def main():
    s = Server(config=CONFIG, expect_start=False)
    try:
        viewer = create_token(s.data, "viewer", "vera")
        admin = create_token(s.data, "admin", "ada")
        s.start()
        s.token = admin
        now = time.time_ns() - 2_000_000_000
        past = now - 30 * 60 * 1_000_000_000
        for body in (
            calls("frontend", "checkout", past, 30),
            calls("frontend", "db", past, 30, dur_ms=10),
            calls("frontend", "search", past, 300),
            calls("checkout", "payments", past, 20),
            calls("frontend", "checkout", now, 30, errors=10),
            calls("frontend", "db", now, 30, dur_ms=400),
            calls("frontend", "search", now, 2),
            calls("checkout", "payments", now, 20),
            calls("frontend", "cart", now, 5),
        ):
            r = s.post("/v1/traces", body)
            check(r.status == 200, f"OTLP spans accepted: {r.status} {r.body[:200]}")

        r = s.get("/api/v1/graph", token=viewer)
        check(r.status == 200, f"a viewer reads the graph: {r.status} {r.body[:200]}")
        g = r.json()
        edges = {(e["source"], e["target"]): e for e in g["edges"]}
        check(g.get("window_seconds") == 300 and g.get("baseline_seconds") == 3600,
              f"the answer names its window and baseline: {g.get('window_seconds')} {g.get('baseline_seconds')}")

        e = edges.get(("frontend", "checkout"), {})
        check(e.get("health") == "failing" and "error ratio 33.33%" in e.get("health_reason", "")
              and "baseline 0.00%" in e.get("health_reason", ""),
              f"an edge whose errors rose is failing, with the ratio and its baseline: {e}")
        check((e.get("baseline") or {}).get("calls") == 30 and e.get("calls") == 30 and e.get("errors") == 10,
              f"the edge carries its baseline calls beside the window's: {e}")
        check(isinstance(e.get("rate"), (int, float)) and abs(e["rate"] - 30 / 300) < 1e-6,
              f"the edge carries its rate over the window: {e.get('rate')}")

        e = edges.get(("frontend", "db"), {})
        check(e.get("health") == "degraded" and e.get("health_reason", "").startswith("p99 "),
              f"an edge whose p99 rose is degraded, saying so: {e}")

        e = edges.get(("frontend", "search"), {})
        check(e.get("health") == "degraded" and "calls/s" in e.get("health_reason", ""),
              f"an edge whose traffic dropped is degraded, saying so: {e}")

        e = edges.get(("checkout", "payments"), {})
        check(e.get("health") == "ok" and e.get("health_reason") == "within baseline",
              f"a steady edge is ok within baseline: {e}")

        e = edges.get(("frontend", "cart"), {})
        check(e.get("health") == "ok" and e.get("baseline") is None and "no baseline" in e.get("health_reason", ""),
              f"a new edge is ok with no baseline: {e}")

        check({"source": "frontend", "target": "checkout"} in g.get("declared_edges", []),
              f"declared edges stay beside the traced ones: {g.get('declared_edges')}")

        # a shorter baseline leaves the half-hour-old calls out: the steady edge has none
        g2 = s.get("/api/v1/graph?window=5m&baseline=10m").json()
        e = {(x["source"], x["target"]): x for x in g2["edges"]}.get(("checkout", "payments"), {})
        check(e.get("baseline") is None and e.get("health") == "ok",
              f"the baseline parameter sets the period compared with: {e}")

        if len(s.followers) >= 2:
            across_nodes(s, now)

        for q, name in (("window=soon", "window"), ("baseline=-1m", "baseline"), ("window=10m&baseline=10m", "baseline"),
                        ("baseline=30d", "baseline")):
            r = s.get("/api/v1/graph?" + q)
            check(r.status == 400 and r.headers.get("Content-Type", "").startswith("application/problem+json")
                  and name in r.json().get("detail", ""),
                  f"{q} is a 400 problem naming {name}: {r.status} {r.body[:200]}")
        check(s.stop() == 0, "the daemon stops cleanly")
    finally:
        s.cleanup()
    done()


if __name__ == "__main__":
    main()
