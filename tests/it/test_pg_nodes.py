"""The control plane on PostgreSQL shared by two ooda nodes.

Two `ooda serve` processes with their own data dirs on one PostgreSQL
database: a token made on one works on the other at once (the token cache
hears the commit through LISTEN/NOTIFY), concurrent writes through both
leave one audit chain with no gap and no fork that `ooda audit verify`
accepts over HTTP and offline, a flag written on one is read on the other,
and the connection string (which may hold a password) appears in no log,
error, API answer or audit record. Live signals merge: spans of one
service sent half to each node show in full in either node's RED and
graph, and the leader's rule sees the merged error ratio. Work begun on the
follower reaches the leader through the store: an incident opened by hand
gets the leader's triage summary and notification, its acknowledgement on
the follower the leader's notification, an Alertmanager push becomes the
leader's alert. Runs on the PostgreSQL cluster tests/pg/run
started, or starts one itself."""
import json
import os
import subprocess
import threading
import time

from oodait import Cluster, check, done, pg_database, run, pg_yaml, wait_until

var, dsn = pg_database()
# a keyword that changes nothing but marks the string: it must never show
secret = "s3cretdsnmark"
dsn += f" application_name={secret}"
os.environ[var] = dsn
os.environ["OODA_IT_HOOK_SECRET"] = "hook-key"

# the leader's rule sees the error ratio of checkout over both nodes' spans (live signals merged);
# incident events go to a webhook nobody listens on: the outbox shows what the leader queued
CONFIG = """notify:
  targets:
    - name: hook
      type: webhook
      url: http://127.0.0.1:9/hook
      secret_env: OODA_IT_HOOK_SECRET
  routes:
    - match: {kind: incident}
      targets: [hook]
alerts:
  interval: 500ms
  rules:
    - name: CheckoutErrorsMerged
      expr: sum(ooda_span_errors_total{service="checkout"}) / sum(ooda_span_requests_total{service="checkout"}) > 0.3
      for: 0s
      severity: ticket
"""
SEQ = [0]


def calls(end_ns, n, errors):
    """n calls frontend -> checkout (a server span each, the callee's child of the caller's), errors of them failing."""
    a, b = [], []
    for i in range(n):
        SEQ[0] += 1
        k = SEQ[0]
        end = end_ns - i * 1_000_000
        tid, pid, cid = f"{k:032x}", f"{k:016x}", f"{k + 10_000_000:016x}"
        a.append({"traceId": tid, "spanId": pid, "name": "GET /", "kind": 2,
                  "startTimeUnixNano": str(end - 15_000_000), "endTimeUnixNano": str(end), "status": {"code": 1}})
        b.append({"traceId": tid, "spanId": cid, "parentSpanId": pid, "name": "pay", "kind": 2,
                  "startTimeUnixNano": str(end - 11_000_000), "endTimeUnixNano": str(end - 1_000_000),
                  "status": {"code": 2 if i < errors else 1}})

    def rs(service, sp):
        return {"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
                "scopeSpans": [{"spans": sp}]}
    return {"resourceSpans": [rs("frontend", a), rs("checkout", b)]}


pair = Cluster(2, config=CONFIG, names=False, pg_var=var)
a, b = pair.nodes
try:
    check(a.data != b.data, "two data dirs")
    r = a.post("/api/v1/tokens", {"name": "root", "role": "admin"})
    check(r.status == 201, f"first token on node a: {r.status} {r.body}")
    root = r.json().get("token")
    a.token = b.token = root
    # the token cache re-checks the store's data version at most every 0.5 s
    deadline = time.time() + 5
    while True:
        r = b.get("/api/v1/tokens")
        if r.status == 200 or time.time() > deadline:
            break
        time.sleep(0.1)
    check(r.status == 200 and any(t["name"] == "root" for t in r.json()["tokens"]),
          f"node b knows node a's token: {r.status} {r.body}")

    # concurrent writes through both nodes: tokens and flag versions
    errors = []

    def writer(node, tag, n):
        for i in range(n):
            r = node.post("/api/v1/tokens", {"name": f"{tag}{i}", "role": "viewer"})
            if r.status != 201:
                errors.append((tag, i, r.status, r.body))
            flag = {"state": "ENABLED", "variants": {"on": True, "off": False},
                    "defaultVariant": "on" if i % 2 else "off"}
            r = node.request("PUT", f"/api/v1/flags/shared-{tag}-{i % 3}", flag, headers={"X-Ooda-Rationale": "load"})
            if r.status != 200:
                errors.append((tag, i, r.status, r.body))

    n = 15
    threads = [threading.Thread(target=writer, args=(node, tag, n))
               for node, tag in ((a, "a"), (a, "c"), (b, "b"), (b, "d"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(not errors, f"every write through either node succeeded: {errors[:3]}")

    recs = a.get("/api/v1/audit?order=asc&limit=1000").json()["records"]
    seqs = [x["seq"] for x in recs]
    check(seqs == list(range(1, len(seqs) + 1)), f"one chain, no gap or fork: {seqs[:5]}..{seqs[-5:]}")
    check(len(seqs) >= 1 + 4 * n * 2, f"every write audited: {len(seqs)} records")
    for node in (a, b):
        r = node.post("/api/v1/audit/verify", {})
        check(r.status == 200 and r.json().get("ok") and r.json().get("records") == len(seqs),
              f"audit verify over HTTP on {node.data}: {r.body}")
    r = run("audit", "verify", "--data", a.data)
    check(r.returncode == 0 and f"{len(seqs)} records" in r.stdout, f"audit verify offline: {r.stdout}{r.stderr}")
    r = a.cli("audit", "verify")
    check(r.returncode == 0, f"ooda audit verify: {r.stdout}{r.stderr}")

    # a flag written on b is read on a
    r = b.get("/api/v1/flags/shared-b-1")
    va = a.get("/api/v1/flags/shared-b-1")
    check(r.status == 200 and va.status == 200 and r.json() == va.json(), f"same flag on both nodes: {va.body}")

    # live signals merged: checkout's spans half to each node, no error on a (the leader), every one on b
    now = time.time_ns() - 1_000_000_000
    check(a.post("/v1/traces", calls(now, 20, 0)).status == 200, "spans to node a")
    check(b.post("/v1/traces", calls(now, 20, 20)).status == 200, "spans to node b")

    def red(node):
        r = node.get("/api/v1/services/checkout")
        red = r.json() if r.status == 200 else {}
        return red if red.get("requests") == 40 and red.get("errors") == 20 else None

    def edge(node):
        r = node.get("/api/v1/graph")
        es = [e for e in r.json().get("edges", []) if e["source"] == "frontend" and e["target"] == "checkout"] \
            if r.status == 200 else []
        return es[0] if es and es[0]["calls"] == 40 and es[0]["errors"] == 20 else None

    for name, node in (("a", a), ("b", b)):
        wait_until(lambda: red(node), f"checkout's RED on node {name} counting both nodes' spans")
        wait_until(lambda: edge(node), f"the edge frontend -> checkout on node {name} counting both nodes' calls")
    lead = a.get("/api/v1/cluster").json()
    check(lead.get("leader") == lead.get("node_id"), f"node a leads: {lead}")
    wait_until(lambda: [x for x in a.get("/api/v1/alerts?state=firing").json()["alerts"]
                        if x["name"] == "CheckoutErrorsMerged"],
               "the leader's rule on the merged error ratio (0.5; its own share is 0) to fire")
    for name, node in (("a", a), ("b", b)):
        m = node.get("/api/v1/cluster").json().get("live", {})
        check(m.get("rows_sent", 0) >= 1 and m.get("rows_read", 0) >= 1 and m.get("rows_refused") == 0,
              f"node {name} sent and read live deltas: {m}")
        print(f"node {name} live merge: {m}")

    # hand-over through the store: an incident opened by hand and an Alertmanager push, both sent to the follower
    # as if forwarded once already (the hop header), so that the follower hands them over instead of forwarding
    hop = {"X-Ooda-Forwarded-By": "elsewhere"}
    r = b.post("/api/v1/incidents", {"title": "opened on the follower", "service": "checkout"}, headers=hop)
    check(r.status == 201, f"incident opened on node b: {r.status} {r.body}")
    inc = r.json().get("id", "")

    def summarised():
        r = a.get(f"/api/v1/incidents/{inc}/timeline")
        es = r.json().get("entries", r.json().get("timeline", [])) if r.status == 200 else []
        return [e for e in es if e.get("kind") == "summary"]

    wait_until(summarised, f"the leader's triage summary on {inc}, opened on the follower")

    def notified(event):
        r = a.get(f"/api/v1/notifications?incident={inc}")
        return [n for n in r.json().get("notifications", []) if n["event"] == event] if r.status == 200 else []

    wait_until(lambda: notified("opened"), f"the leader's 'opened' notification of {inc}")
    r = b.post(f"/api/v1/incidents/{inc}/transition", {"to": "acknowledged"}, headers=hop)
    check(r.status == 200, f"acknowledged on the follower: {r.status} {r.body}")
    wait_until(lambda: notified("acknowledged"), f"the leader's 'acknowledged' notification of {inc}")
    push = {"version": "4", "status": "firing", "alerts": [
        {"status": "firing", "labels": {"alertname": "PushedToFollower", "service": "checkout"}}]}
    r = b.post("/api/v1/alerts/alertmanager", push, headers=hop)
    check(r.status == 200 and r.json().get("handed_over") is True, f"push to the follower handed over: {r.body}")
    wait_until(lambda: [x for x in a.get("/api/v1/alerts?state=firing").json()["alerts"]
                        if x["name"] == "PushedToFollower"], "the leader's alert from the follower's push")
    r = b.post("/api/v1/alerts/alertmanager", {"version": "4", "alerts": [{"status": "firing"}]}, headers=hop)
    check(r.status == 400 and "alerts[0].labels" in r.body, f"a bad push to the follower is refused, naming the field: {r.body}")
    acts = [x["action"] for x in a.get("/api/v1/audit?action=handover.*&limit=50").json()["records"]] + \
           [x["action"] for x in a.get("/api/v1/audit?action=alerts.handover&limit=50").json()["records"]]
    check(acts.count("handover.take") == 3 and acts.count("alerts.handover") == 1, f"hand-overs audited: {acts}")

    # the connection string shows nowhere
    seen = [a.read_log(), b.read_log(), json.dumps(recs)]
    for path in ("/api/v1/status", "/api/v1/config", "/readyz", "/metrics", "/api/v1/tokens"):
        seen.append(a.get(path).body)
    check(not any(secret in x for x in seen), "the connection string is in no log, audit record or answer")
    check(any("control store: PostgreSQL" in line for line in a.read_log().splitlines()), "the backend is logged")

    # PostgreSQL goes away and comes back: writes fail with a problem, /readyz says the
    # store is not ready, and both come back without a restart of ooda
    here = os.path.dirname(os.path.abspath(__file__))
    cluster = [kv.split("=", 1)[1] for kv in dsn.split() if kv.startswith("host=")][0]
    subprocess.run([os.path.join(here, "../pg/stop"), "--keep", cluster], check=True)
    r = a.post("/api/v1/tokens", {"name": "while-down", "role": "viewer"})
    check(r.status >= 500 and r.headers.get("Content-Type") == "application/problem+json",
          f"write while PostgreSQL is down: {r.status} {r.body}")
    r = a.get("/readyz")
    check(r.status == 503, f"not ready while PostgreSQL is down: {r.status} {r.body}")
    subprocess.run([os.path.join(here, "../pg/start"), cluster], check=True, capture_output=True)
    deadline = time.time() + 10
    while True:
        r = a.post("/api/v1/tokens", {"name": "after", "role": "viewer"})
        if r.status == 201 or time.time() > deadline:
            break
        time.sleep(0.2)
    check(r.status == 201, f"writes work again once PostgreSQL is back: {r.status} {r.body}")
    r = a.get("/readyz")
    check(r.status == 200, f"ready again: {r.status} {r.body}")
    r = a.post("/api/v1/audit/verify", {})
    check(r.status == 200 and r.json().get("ok"), f"chain intact after the outage: {r.body}")
    seen += [a.read_log()]
    check(not any(secret in x for x in seen), "the connection string is in no log line of the outage")
finally:
    pair.cleanup()

# a server that cannot be reached: a clear start error naming the variable, not the string
os.environ["OODA_IT_BAD_DSN"] = "host=/nonexistent-ooda port=1 user=x password=hunter2secret dbname=nope"
import tempfile
tmp = tempfile.mkdtemp(prefix="ooda-it-pgbad-")
cfg = os.path.join(tmp, "ooda.yaml")
with open(cfg, "w") as f:
    f.write(pg_yaml("OODA_IT_BAD_DSN"))
r = run("serve", "--listen", "127.0.0.1:0", "--data", os.path.join(tmp, "data"), "--config", cfg, timeout=30)
check(r.returncode != 0 and "PostgreSQL" in r.stderr and "hunter2secret" not in r.stderr + r.stdout,
      f"unreachable PostgreSQL refused without the secret: {r.stderr!r}")
with open(cfg, "w") as f:
    f.write(pg_yaml("OODA_IT_UNSET_DSN"))
os.environ.pop("OODA_IT_UNSET_DSN", None)
r = run("serve", "--listen", "127.0.0.1:0", "--data", os.path.join(tmp, "data2"), "--config", cfg, timeout=30)
check(r.returncode != 0 and "OODA_IT_UNSET_DSN" in r.stderr, f"unset variable named: {r.stderr!r}")
done()
