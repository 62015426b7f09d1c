"""Three ooda nodes on one PostgreSQL control store, one elected leader.

Every node agrees on the leader and its term (GET /api/v1/cluster, `ooda
cluster status`). Failover: the leader is killed with SIGKILL while a
remediation run sleeps in its first step and a notification waits for a
webhook receiver that is down; another node leads within 10 s, the run
completes once (its second step appends one line), the notification reaches
the receiver, once, when it comes up, an alert firing across the failover
(Alertmanager sends it again to the new leader) is notified once, and the
audit chain verifies, with each takeover and step-down in it. Split
brain: the new leader is stopped (SIGSTOP) past its lease, a third node takes
over, and the old one, resumed, steps down (its log says so) without acting
twice. Runs on the PostgreSQL cluster tests/pg/run started, or starts one."""
import json
import os
import signal
import tempfile
import time

from oodait import Cluster, Receiver, check, done, free_port, wait_until


def deliveries(rec):
    """The delivery ids (X-Ooda-Delivery) the receiver got, in order."""
    return [h.get("X-Ooda-Delivery", "") for _, h, _ in rec.on()]


def view(node):
    r = node.get("/api/v1/cluster")
    return r.json() if r.status == 200 else None


def lines(path):
    try:
        with open(path) as f:
            return f.read().split()
    except FileNotFoundError:
        return []


def main():
    os.environ["OODA_IT_HOOK_SECRET"] = "hook-key"
    tmp = tempfile.mkdtemp(prefix="ooda-cluster-")
    out = os.path.join(tmp, "done")
    hook_port = free_port()
    base = f"""
notify:
  retry:
    max_attempts: 100
    base: 50ms
    max_backoff: 300ms
  targets:
    - name: hook
      type: webhook
      url: http://127.0.0.1:{hook_port}/hook
      secret_env: OODA_IT_HOOK_SECRET
      timeout: 2s
  routes:
    - match: {{kind: alert}}
      targets: [hook]
policies:
  - name: slow
    when: {{service: svc-slow}}
    do:
      - exec: {{argv: [sleep, "4"], timeout: 20s}}
        idempotent: true
      - exec: {{argv: [/bin/sh, -c, "echo done >> {out}"], timeout: 5s}}
        idempotent: true
    irreversible_ok: true
    rationale: sleeping and appending a line harm nothing
"""
    rec = None
    c = Cluster(3, config=base)
    try:
        nodes = dict(zip(c.names, c.nodes))
        v, leader, term = c.view, c.leader_id or "n1", c.term
        check(leader in nodes and term >= 1, f"a leader among the nodes: {v}")
        check(sorted(x["id"] for x in v["nodes"]) == ["n1", "n2", "n3"] if v else False, f"three nodes: {v}")
        check(all(x["address"].startswith("127.0.0.1:") and not x["address"].endswith(":0") for x in v["nodes"]),
              f"each node's address is where it serves: {v['nodes']}")
        r = nodes["n2"].cli("cluster", "status")
        check(r.returncode == 0 and f"leader   {leader}" in r.stdout and "n3" in r.stdout,
              f"ooda cluster status: {r.stdout}{r.stderr}")
        r = nodes["n3"].cli("cluster", "status", "--json")
        check(r.returncode == 0 and json.loads(r.stdout).get("leader") == leader, f"--json: {r.stdout}{r.stderr}")

        # ---- failover: kill -9 the leader mid-run with a notification pending ----
        L = nodes[leader]
        r = L.post("/api/v1/incidents", {"title": "svc-slow broken", "service": "svc-slow"})
        check(r.status == 201, f"incident: {r.status} {r.body}")

        def running():
            r = L.get("/api/v1/runs?policy=slow")
            rs = r.json().get("runs", []) if r.status == 200 else []
            return rs if rs and rs[0]["status"] == "running" else None

        wait_until(running, "the remediation run to start its sleep")
        r = L.post("/api/v1/notifications/test", {"target": "hook"})
        check(r.status in (200, 201, 202), f"a test notification queued: {r.status} {r.body}")
        note = r.json().get("id", "")
        wait_until(lambda: any(n["id"] == note and n["attempts"] >= 1 for n in
                             L.get(f"/api/v1/notifications?id={note}").json().get("notifications", [])),
                 "a failed delivery attempt (receiver down)")
        # an alert firing on the leader, its notification pending too (pushed without startsAt: active from now)
        push = {"version": "4", "status": "firing", "alerts": [
            {"status": "firing", "labels": {"alertname": "StillFiring", "service": "svc-alert"}}]}
        r = L.post("/api/v1/alerts/alertmanager", push)
        check(r.status == 200, f"alert pushed to the leader: {r.status} {r.body}")

        def fingerprint():
            al = [a for a in L.get("/api/v1/alerts?state=all").json()["alerts"] if a["name"] == "StillFiring"]
            return al[0]["fingerprint"] if al else None

        fp = wait_until(fingerprint, "the pushed alert on the leader")

        def alert_rows(node):  # the outbox is in the store: any node lists it
            r = node.get(f"/api/v1/notifications?alert={fp}")
            return [n for n in r.json().get("notifications", []) if n["event"] == "firing"] if r.status == 200 else []

        wait_until(lambda: alert_rows(L), "the firing alert's notification queued")
        L.proc.kill()
        L.proc.wait()
        killed_at = time.time()
        rest = [x for k, x in nodes.items() if k != leader]
        v2 = wait_until(lambda: (lambda v: v if v and v["term"] > term and v["leader"] != leader else None)(
            view(rest[0])), "another node to lead", timeout=15)
        took = time.time() - killed_at
        check(v2 is not None and took <= 10, f"a new leader within 10 s: {took:.1f}s {v2}")
        print(f"takeover after kill -9: {took:.1f} s")
        leader2 = v2["leader"] if v2 else rest[0]
        term2 = v2["term"] if v2 else 0
        L2 = nodes.get(leader2, rest[0])

        rec = Receiver(hook_port)
        wait_until(lambda: note in deliveries(rec), "the pending notification delivered after failover")
        # Alertmanager sends the still-firing alert again, now to the new leader: not a new alert
        r = L2.post("/api/v1/alerts/alertmanager", push)
        check(r.status == 200 and not r.json().get("handed_over"), f"alert pushed to the new leader: {r.body}")

        def run_done():
            r = L2.get("/api/v1/runs?policy=slow")
            rs = r.json().get("runs", []) if r.status == 200 else []
            return rs if rs and rs[0]["status"] in ("succeeded", "failed") else None

        rs = wait_until(run_done, "the run to finish on the new leader", timeout=30)
        check(rs and len(rs) == 1 and rs[0]["status"] == "succeeded", f"one run, succeeded: {rs}")
        check(lines(out) == ["done"], f"the run's last step acted once: {lines(out)}")
        r = L2.post("/api/v1/audit/verify", {})
        check(r.status == 200 and r.json().get("ok"), f"the audit chain verifies: {r.body}")

        # ---- split brain: stop the new leader past its lease, resume it ----------
        before = deliveries(rec)
        L2.proc.send_signal(signal.SIGSTOP)
        third = [x for x in rest if x is not L2][0]
        v3 = wait_until(lambda: (lambda v: v if v and v["term"] > term2 else None)(view(third)),
                      "a third leader while the second is stopped", timeout=15)
        check(v3 is not None and v3["leader"] != leader2, f"the lease moved on: {v3}")
        L2.proc.send_signal(signal.SIGCONT)
        wait_until(lambda: "stepping down" in L2.read_log(), "the resumed node to step down")
        v4 = wait_until(lambda: c.agreed(rest), "the two live nodes agreeing again")
        check(v4 and v4["leader"] != leader2 and v4["term"] == v3["term"],
              f"the resumed node follows the newer term: {v4}")
        time.sleep(2)  # let a duplicate, if any, happen before counting
        got = deliveries(rec)
        check(got == before and got.count(note) == 1, f"every notification delivered once: {got}")
        check(lines(out) == ["done"], f"no step repeated after the split: {lines(out)}")
        rows = alert_rows(third)
        check(len(rows) == 1 and rows[0]["status"] == "delivered" and got.count(rows[0]["id"]) == 1,
              f"the alert firing across the failover notified once: {rows}")
        recs = third.get("/api/v1/audit?action=cluster.*&order=asc&limit=100").json()["records"]
        leads = [(x["actor"], x["rationale"]) for x in recs if x["action"] == "cluster.lead"]
        downs = [(x["actor"], x["rationale"]) for x in recs if x["action"] == "cluster.step_down"]
        check(any(a == f"node:{leader2}" and f"lease expired: node {leader}" in why for a, why in leads),
              f"the takeover after kill -9 is audited by the new leader: {leads}")
        check(any(a == f"node:{v3['leader']}" and f"node {leader2}" in why for a, why in leads),
              f"the takeover during the split is audited: {leads}")
        check(any(a == f"node:{leader2}" and f"term {term2}:" in why for a, why in downs),
              f"the resumed node's step-down is audited with its term and reason: {downs}")
        print(f"leadership audit: {leads} {downs}")
        r = third.post("/api/v1/audit/verify", {})
        check(r.status == 200 and r.json().get("ok"), f"the audit chain verifies after the split: {r.body}")
        c.stop_clean(skip=[L])
    finally:
        c.cleanup()
        if rec:
            rec.close()
    done()


main()
