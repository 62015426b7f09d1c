"""The daemon's stages as a user sees them through a reload: one ooda.yaml
touching three stages (slos, services, heartbeats). A reload whose services:
section is bad is refused with the key path, and no stage took any of it —
the SLO keeps its objective, the new heartbeat and probe are absent. The
same file with the bad probe fixed is applied by every stage at once, and
audited with what changed in the SLOs and the service catalogue. SIGTERM then stops every stage and
the daemon exits 0."""
import signal
from oodait import Server, check, done

BEFORE = """slos:
  - name: shop-availability
    service: shop
    objective: 99.9
    sli:
      ratio: {from: red, errors: true}
heartbeats:
  - name: nightly
    every: 1h
    grace: 10m
"""
AFTER = """slos:
  - name: shop-availability
    service: shop
    objective: 95
    sli:
      ratio: {from: red, errors: true}
services:
  - name: shop
    owner: team-shop
    probes:
      - name: self
        tcp: "127.0.0.1:PORT"
        interval: 1s
heartbeats:
  - name: nightly
    every: 1h
    grace: 10m
  - name: hourly
    every: 1h
    grace: 5m
"""


def state(s):
    slo = s.get("/api/v1/slos/shop-availability").json()
    hb = {h["name"] for h in s.get("/api/v1/heartbeats").json()["heartbeats"]}
    pr = {f'{p["service"]}/{p["name"]}' for p in s.get("/api/v1/probes").json()["probes"]}
    return slo["objective"], hb, pr


s = Server(config=BEFORE)
try:
    check(state(s) == (99.9, {"nightly"}, set()), f"as started: {state(s)}")

    # a bad services: section: refused with its key path, and no stage applied any part of the file
    with open(s.config, "w") as f:
        f.write(AFTER.replace('"127.0.0.1:PORT"', '"127.0.0.1"'))
    r = s.post("/api/v1/config/reload", {})
    check(r.status == 400 and r.headers.get("Content-Type", "").startswith("application/problem+json") and
          "services[0].probes[0].tcp" in r.json().get("detail", ""), f"bad probe refuses the reload: {r.status} {r.body}")
    check(state(s) == (99.9, {"nightly"}, set()), f"nothing of the refused file applied: {state(s)}")

    # the same file fixed: every stage applies its section
    with open(s.config, "w") as f:
        f.write(AFTER.replace("PORT", str(s.port)))
    r = s.post("/api/v1/config/reload", {})
    check(r.status == 200, f"good reload: {r.status} {r.body}")
    check(state(s) == (95, {"nightly", "hourly"}, {"shop/self"}), f"every stage applied its section: {state(s)}")

    recs = s.get("/api/v1/audit?action=config.*").json()["records"]
    ok = [x for x in recs if x["action"] == "config.reload"]
    bad = [x for x in recs if x["action"] == "config.reload_rejected"]
    check(len(ok) == 1 and ok[0]["detail"] == {"slos": "changed shop-availability",
                                               "respond": "service catalogue: 1 services"},
          f"the applied reload is audited with what changed: {ok}")
    check(len(bad) == 1 and "services[0].probes[0].tcp" in bad[0]["rationale"], f"the refused one too: {bad}")

    rc = s.stop(signal.SIGTERM)
    check(rc == 0, f"SIGTERM stops every stage and exits 0: {rc}")
    check("stopped cleanly" in s.read_log(), "logged a clean stop")
finally:
    s.cleanup()
done()
