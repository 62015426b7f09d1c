"""Three ooda nodes on one PostgreSQL control store: what one node keeps in
memory follows changes made through another, from the very next request.

Each node caches the token table, the compiled flag sets OFREP evaluates (and
their ETags), the silences of the alerting core and the on-call overrides. A
change through one node moves its kind's generation in the control store
(cluster_gen), which every node compares before it answers from its cache. So,
with no wait between the change and the check: a token made on one node works
on the others and a revoked one stops working on all of them; a flag changed
on one node is what OFREP on the others evaluates, and their old ETag no longer
matches; an on-call override made on one node is listed and applied by the
others; a silence made on a follower is listed by every node and honoured by
the leader's alerting core (the alert pushed to the leader shows as silenced
and no notification is queued for it); a silence ended on another node is
listed as ended everywhere. Each cache is read on every node before the change,
so an answer after it cannot come from a first load. Runs on the PostgreSQL
cluster tests/pg/run started, or starts one."""
import os
from datetime import datetime, timedelta, timezone

from oodait import Cluster, check, done, free_port, wait_until

CONFIG = """
oncall:
  schedules:
    - name: payments
      team: payments
      rotations:
        - type: daily
          handoff: "09:00"
          start: "2026-01-05"
          participants: [alice, bob]
notify:
  retry: {{max_attempts: 2, base: 50ms, max_backoff: 100ms}}
  targets:
    - name: hook
      type: webhook
      url: http://127.0.0.1:{port}/hook
      secret_env: OODA_IT_HOOK_SECRET
      timeout: 1s
  routes:
    - match: {{kind: alert}}
      targets: [hook]
"""

FLAG = {"state": "ENABLED", "variants": {"on": True, "off": False}, "defaultVariant": "off"}


def ofrep(node, etag=None):
    h = {"X-Ooda-Env": "prod"}
    if etag:
        h["If-None-Match"] = etag
    return node.post("/ofrep/v1/evaluate/flags", {"context": {"targetingKey": "u1"}}, headers=h)


def flag_value(r):
    flags = r.json().get("flags", []) if r.status == 200 else []
    return next((f.get("value") for f in flags if f.get("key") == "cluster-flag"), None)


def main():
    os.environ["OODA_IT_HOOK_SECRET"] = "hook-key"
    port = free_port()  # nothing listens: a notification queued for the silenced alert would show in the outbox
    with Cluster(3, config=CONFIG.format(port=port)) as c:
        every, names, L = c.nodes, c.names, c.leader
        A, B = c.followers

        # ---- flags: OFREP and its ETag on every node follow a change on one -----
        r = every[0].request("PUT", "/api/v1/flags/cluster-flag?env=prod", FLAG,
                             headers={"X-Ooda-Rationale": "cluster test"})
        check(r.status in (200, 201), f"flag on n1: {r.status} {r.body}")
        etags = []
        for i, x in enumerate(every):
            r = ofrep(x)
            check(flag_value(r) is False, f"{names[i]} evaluates the new flag: {r.status} {r.body}")
            etags.append(r.headers.get("ETag"))
            r = ofrep(x, etags[-1])
            check(r.status == 304, f"{names[i]}: its ETag matches while nothing changed: {r.status}")
        check(len(set(etags)) == 1, f"one ETag for one flag set on every node: {etags}")
        r = every[1].request("PUT", "/api/v1/flags/cluster-flag?env=prod", dict(FLAG, defaultVariant="on"),
                             headers={"X-Ooda-Rationale": "turn it on"})
        check(r.status == 200, f"flag changed on n2: {r.status} {r.body}")
        for i, x in enumerate(every):
            r = ofrep(x, etags[0])
            check(r.status == 200 and flag_value(r) is True,
                  f"{names[i]} evaluates the change at once, the old ETag no longer matches: {r.status} {r.body}")
            r1 = x.post("/ofrep/v1/evaluate/flags/cluster-flag", {"context": {"targetingKey": "u1"}},
                        headers={"X-Ooda-Env": "prod"})
            check(r1.status == 200 and r1.json().get("value") is True, f"{names[i]}, one flag: {r1.body}")

        # ---- on-call overrides ---------------------------------------------------
        for x in every:
            x.get("/api/v1/oncall/overrides")
            x.get("/api/v1/oncall?schedule=payments")
        now = datetime.now(timezone.utc)
        body = {"schedule": "payments", "user": "zed", "from": (now - timedelta(minutes=1)).isoformat(),
                "to": (now + timedelta(hours=2)).isoformat(), "reason": "swap"}
        r = every[2].post("/api/v1/oncall/overrides", body)
        check(r.status == 201, f"override on n3: {r.status} {r.body}")
        oid = r.json().get("id", "") if r.status == 201 else ""
        for i, x in enumerate(every):
            ov = x.get("/api/v1/oncall/overrides").json().get("overrides", [])
            check([o["id"] for o in ov] == [oid], f"{names[i]} lists the override made on n3: {ov}")
            r = x.get("/api/v1/oncall?schedule=payments")
            check(r.status == 200 and '"zed"' in r.body, f"{names[i]} applies it: {r.body}")
        r = every[0].request("DELETE", f"/api/v1/oncall/overrides/{oid}")
        check(r.status in (200, 204), f"override deleted on n1: {r.status} {r.body}")
        for i, x in enumerate(every):
            ov = x.get("/api/v1/oncall/overrides").json().get("overrides", [])
            check(ov == [], f"{names[i]} no longer lists it: {ov}")

        # ---- silences: made on a follower, honoured by the leader ---------------
        for x in every:
            x.get("/api/v1/silences")
        r = A.post("/api/v1/silences", {"labels": {"alertname": "Quiet"}, "duration": "1h",
                                        "reason": "maintenance"})
        check(r.status == 201, f"silence on a follower: {r.status} {r.body}")
        sid = r.json().get("id", "") if r.status == 201 else ""
        for i, x in enumerate(every):
            sil = x.get("/api/v1/silences").json().get("silences", [])
            check([s["id"] for s in sil] == [sid] and sil[0]["active"], f"{names[i]} lists the silence: {sil}")
        push = {"version": "4", "status": "firing", "alerts": [
            {"status": "firing", "labels": {"alertname": "Quiet", "service": "svc-q"}}]}
        r = L.post("/api/v1/alerts/alertmanager", push)
        check(r.status == 200 and not r.json().get("handed_over"), f"alert pushed to the leader: {r.status} {r.body}")

        def silenced():
            al = [a for a in L.get("/api/v1/alerts?state=all").json().get("alerts", [])
                  if a["name"] == "Quiet"]
            return al[0] if al and al[0]["state"] == "firing" and al[0].get("silenced_by") else None

        al = wait_until(silenced, "the leader's alert to fire, silenced")
        check(al and al["silenced_by"] == sid, f"the leader silences it with the follower's silence: {al}")
        fp = al["fingerprint"] if al else ""
        r = L.get(f"/api/v1/notifications?alert={fp}")
        check(r.status == 200 and r.json().get("notifications") == [],
              f"no notification for the silenced alert: {r.body}")
        r = B.request("DELETE", f"/api/v1/silences/{sid}")
        check(r.status in (200, 204), f"silence ended on the other follower: {r.status} {r.body}")
        for i, x in enumerate(every):
            sil = x.get("/api/v1/silences").json().get("silences", [])
            check(sil == [], f"{names[i]} no longer lists the ended silence as active: {sil}")

        # ---- tokens: made on one node, revoked on another ---------------------
        r = every[0].post("/api/v1/tokens", {"name": "root", "role": "admin", "rationale": "cluster test"})
        check(r.status == 201, f"admin token: {r.status} {r.body}")
        root = r.json()["token"] if r.status == 201 else ""
        for i, x in enumerate(every):
            r = x.get("/api/v1/status", token="")
            check(r.status == 401, f"node {names[i]} asks for a token once one exists: {r.status}")
            r = x.get("/api/v1/status", token=root)
            check(r.status == 200, f"node {names[i]} knows the new token at once: {r.status}")
        r = every[1].post("/api/v1/tokens", {"name": "temp", "role": "viewer"}, token=root)
        check(r.status == 201, f"viewer token on n2: {r.status} {r.body}")
        temp = r.json()["token"] if r.status == 201 else ""
        for i, x in enumerate(every):
            check(x.get("/api/v1/status", token=temp).status == 200, f"the token made on n2 works on {names[i]}")
        r = every[2].request("DELETE", "/api/v1/tokens/temp", token=root)
        check(r.status == 200, f"revoked on n3: {r.status} {r.body}")
        for i, x in enumerate(every):
            r = x.get("/api/v1/status", token=temp)
            check(r.status == 401, f"the token revoked on n3 is refused at once by {names[i]}: {r.status}")
        c.stop_clean()
    done()


main()
