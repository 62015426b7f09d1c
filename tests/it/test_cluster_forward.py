"""Three ooda nodes on one PostgreSQL control store: a request whose answer
or effect is the leader's engine's, sent to a follower, is forwarded to the
leader, and the leader's answer comes back as it is.

An Alertmanager alert fires on the leader: every node lists it, with the
same state, and its one-alert view (a follower's own alerting core, which
does not run, knows nothing of it). A push to a follower and an incident
opened and acknowledged through followers are the leader's at once (read
back the same from every node, nothing handed over through the store). The automation switch is paused through
a follower with a token: every node then shows it paused by that token's
actor, and the audit record names the token, not the forwarding node. A
request that says it was forwarded already, sent to a follower, is refused
(503, problem+json naming the expected leader, Retry-After) and not
forwarded again; the leader serves it. When the leader is killed, a
follower answers such requests 503 with Retry-After: 1 (the leader is gone,
none is known yet) until another node leads, and then serves the new
leader's answer. One node (SQLite) ignores the hop header: nothing is
forwarded. Runs on the PostgreSQL cluster tests/pg/run started, or starts
one."""
from oodait import PG, Cluster, Server, check, done, wait_until

HOP = "X-Ooda-Forwarded-By"


def alert_named(node, name):
    r = node.get("/api/v1/alerts?state=all")
    if r.status != 200:
        return None
    al = [a for a in r.json().get("alerts", []) if a["name"] == name]
    return al[0] if al else None


def one_node():
    if PG:
        return  # the embedded store only
    s = Server()
    try:
        r = s.get("/api/v1/alerts", headers={HOP: "elsewhere"})
        check(r.status == 200, f"one node serves a leader's route with a hop header itself: {r.status} {r.body}")
        check(s.stop() == 0, "one node stops cleanly")
    finally:
        s.cleanup()


def main():
    one_node()
    with Cluster(3) as c:
        every, names, L, leader = c.nodes, c.names, c.leader, c.leader_id
        A, B = c.followers

        # ---- an alert's state: the leader's, from every node ---------------------
        push = {"version": "4", "status": "firing", "alerts": [
            {"status": "firing", "labels": {"alertname": "Forwarded", "service": "svc-f"}}]}
        r = L.post("/api/v1/alerts/alertmanager", push)
        check(r.status == 200, f"alert pushed to the leader: {r.status} {r.body}")
        al = wait_until(lambda: (lambda a: a if a and a["state"] == "firing" else None)(alert_named(L, "Forwarded")),
                        "the leader's alert to fire")
        fp = al["fingerprint"] if al else ""
        for i, x in enumerate(every):
            a = alert_named(x, "Forwarded")
            check(a and a["state"] == "firing" and a["fingerprint"] == fp,
                  f"{names[i]} lists the leader's firing alert: {a}")
            r = x.get(f"/api/v1/alerts/{fp}")
            check(r.status == 200 and r.json().get("state") == "firing",
                  f"{names[i]} shows the alert itself: {r.status} {r.body[:200]}")
            r = x.get("/api/v1/alerts")
            check(r.status == 200 and r.headers.get("Content-Type", "").startswith("application/json"),
                  f"{names[i]}: the leader's Content-Type comes back: {r.headers}")

        # ---- an Alertmanager push and an incident's acknowledgement through followers --
        r = A.post("/api/v1/alerts/alertmanager", {"version": "4", "status": "firing", "alerts": [
            {"status": "firing", "labels": {"alertname": "ViaFollower", "service": "svc-f"}}]})
        check(r.status == 200 and not r.json().get("handed_over"),
              f"a push to a follower is answered by the leader, not handed over: {r.status} {r.body}")
        for i, x in enumerate(every):
            a = alert_named(x, "ViaFollower")
            check(a and a["state"] == "firing", f"{names[i]} lists the pushed alert firing at once: {a}")
        r = B.post("/api/v1/incidents", {"title": "opened through a follower", "service": "svc-f"})
        check(r.status == 201, f"incident opened through a follower: {r.status} {r.body}")
        inc = r.json().get("id", "") if r.status == 201 else ""
        r = A.post(f"/api/v1/incidents/{inc}/transition", {"to": "acknowledged"})
        check(r.status == 200 and r.json().get("status") == "acknowledged",
              f"acknowledged through the other follower: {r.status} {r.body}")
        for i, x in enumerate(every):
            r = x.get(f"/api/v1/incidents/{inc}")
            check(r.status == 200 and r.json().get("status") == "acknowledged",
                  f"{names[i]} reads the incident acknowledged: {r.body[:200]}")
        acts = [x["action"] for x in L.get("/api/v1/audit?action=handover.*&limit=50").json()["records"]]
        check(acts == [], f"nothing was handed over through the store: {acts}")

        # ---- a change through a follower, with a token ---------------------------
        r = L.post("/api/v1/tokens", {"name": "carol", "role": "admin", "rationale": "forward test"})
        check(r.status == 201, f"admin token: {r.status} {r.body}")
        tok = r.json()["token"] if r.status == 201 else ""
        r = A.post("/api/v1/automation", {"paused": True, "reason": "forward test"}, token=tok)
        check(r.status == 200 and r.json().get("paused") is True, f"paused through a follower: {r.status} {r.body}")
        for i, x in enumerate(every):
            r = x.get("/api/v1/automation", token=tok)
            check(r.status == 200 and r.json().get("paused") is True and "carol" in r.body,
                  f"{names[i]} shows automation paused by the token's actor: {r.status} {r.body}")
        r = B.get("/api/v1/automation", token="")
        check(r.status == 401, f"no token, no answer: refused before any forwarding: {r.status}")
        recs = L.get("/api/v1/audit?action=automation.pause&limit=5", token=tok).json().get("records", [])
        check(len(recs) == 1 and "carol" in recs[0]["actor"] and "node:" not in recs[0]["actor"],
              f"the pause is audited once, as the token's actor: {recs}")
        r = B.post("/api/v1/automation", {"paused": False, "reason": "done"}, token=tok)
        check(r.status == 200 and r.json().get("paused") is False, f"resumed through the other follower: {r.body}")
        check(all(x.get("/api/v1/automation", token=tok).json().get("paused") is False for x in every),
              "every node shows it resumed")
        r = A.post("/api/v1/automation", {"paused": "yes"}, token=tok)
        check(r.status == 400 and "paused" in r.body and
              r.headers.get("Content-Type", "").startswith("application/problem+json"),
              f"the leader's 400 comes back as it is: {r.status} {r.headers.get('Content-Type')} {r.body}")

        # ---- a forwarded request is not forwarded again -----------------------------
        r = A.get("/api/v1/alerts", token=tok, headers={HOP: "n-elsewhere", "X-Ooda-Forwarded-To": "n-gone"})
        check(r.status == 503 and r.headers.get("Retry-After") and "n-gone" in r.body and leader in r.body and
              r.headers.get("Content-Type", "").startswith("application/problem+json"),
              f"a forwarded request on a follower is refused, naming the leader it expected: {r.status} {r.body}")
        r = L.get("/api/v1/alerts", token=tok, headers={HOP: "n-elsewhere"})
        check(r.status == 200, f"the leader serves a forwarded request: {r.status} {r.body[:200]}")
        r = A.get("/api/v1/incidents", token=tok, headers={HOP: "n-elsewhere"})
        check(r.status == 200, f"a route of stored data is served by any node: {r.status}")

        # ---- no leader: 503 and Retry-After until another node leads ----------------
        L.proc.kill()
        L.proc.wait()
        r = A.get("/api/v1/alerts", token=tok)
        check(r.status == 503 and r.headers.get("Retry-After") == "1",
              f"with the leader gone, a follower answers 503 Retry-After: 1: {r.status} {r.headers} {r.body}")
        r = A.get("/api/v1/incidents", token=tok)
        check(r.status == 200, f"stored data is still served meanwhile: {r.status}")
        rest = [A, B]

        def answered():
            rs = [x.get(f"/api/v1/alerts/{fp}", token=tok) for x in rest]
            return rs if all(x.status == 200 for x in rs) else None

        rs = wait_until(answered, "a new leader answering through both followers", timeout=30)
        for x in rs or []:
            check(x.json().get("state") == "firing", f"the new leader still has the alert firing: {x.body[:200]}")
        c.stop_clean(skip=[L])
    done()


if __name__ == "__main__":
    main()
