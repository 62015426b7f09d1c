"""SLOs end to end: the real daemon with three SLOs from ooda.yaml. Spans
posted over OTLP/JSON with half of them failing make the checkout SLO burn
hundreds of times its budget and page (GET /api/v1/slos/NAME shows the burn
rates, the budget and the page state, with a burn-down); healthy traffic
on another service shows near-zero burn and no alert; a low-traffic service
with one failure in three requests stays quiet (minimum-events guard); the
CLI renders both views; closed minutes become ooda_slo_* metric points that
PromQL reads, and after a restart the budget is still there. A bad slos:
section is refused at start with the key path. A reload (SIGHUP or
POST /api/v1/config/reload) applies a changed slos: section — added SLOs
appear, removed ones go, a changed objective shows, kept ones keep their
counts — and a bad one is rejected with the previous SLOs left running."""
import os
import signal
import time
from oodait import Server, check, done, run

CONFIG = """slos:
  - name: checkout-availability
    service: checkout
    objective: 99.9
    window: 28d
    sli:
      ratio: {from: red, errors: true}
  - name: search-latency
    service: search
    objective: 99
    window: 7d
    budgeting: timeslices
    timeslice: 1m
    timeslice_target: 0.95
    sli:
      latency: {threshold: 300ms}
  - name: admin-availability
    service: admin
    objective: 99.9
    window: 30d
    min_events: 10
    sli:
      ratio: {from: red, errors: true}
"""


def spans_payload(service, n, errors, end_ns, ms=20, seed=0):
    spans = []
    for i in range(n):
        end = end_ns - i * 1_000_000
        spans.append({"traceId": f"{seed + i + 1:032x}", "spanId": f"{seed + i + 1:016x}", "name": "GET /x", "kind": 2,
                      "startTimeUnixNano": str(end - ms * 1_000_000), "endTimeUnixNano": str(end),
                      "status": {"code": 2 if i < errors else 1}})
    return {"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": service}}]},
        "scopeSpans": [{"spans": spans}]}]}


def wait_for(fn, timeout=10):
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v or time.time() > deadline:
            return v
        time.sleep(0.25)


s = Server(config=CONFIG)
try:
    now = time.time_ns()
    # checkout: 200 requests, half failing, 5 minutes ago (closed minute) and now
    for k, when in enumerate((now - 5 * 60 * 10**9, now)):
        r = s.post("/v1/traces", spans_payload("checkout", 200, 100, when, seed=k * 1000))
        check(r.status == 200, f"traces accepted: {r.status} {r.body}")
    r = s.post("/v1/traces", spans_payload("search", 300, 0, now, ms=20, seed=5000))
    check(r.status == 200, "search traces accepted")
    r = s.post("/v1/traces", spans_payload("admin", 3, 1, now, seed=9000))
    check(r.status == 200, "admin traces accepted")

    def slo(name):
        r = s.get(f"/api/v1/slos/{name}")
        return r.json() if r.status == 200 else None

    # the current minute is read from live RED every tick, older minutes every few seconds
    j = wait_for(lambda: (lambda x: x if x and x["alert"]["state"] == "page" and x["events"]["total"] == 400
                          else None)(slo("checkout-availability")))
    check(j is not None, "checkout-availability pages")
    j = slo("checkout-availability")
    check(j["sli"]["kind"] == "ratio", "ratio SLI")
    check(abs(j["burn_rates"]["5m"] - 500) < 1, f"5m burn is 500x: {j['burn_rates']}")
    check(abs(j["burn_rates"]["1h"] - 500) < 1, "1h burn is 500x")
    check(j["events"]["total"] == 400, f"400 events in the window: {j['events']}")
    check(abs(j["sli"]["value"] - 0.5) < 1e-9, "SLI 50%")
    check(j["error_budget"]["remaining"] < 0, "budget spent")
    check(any(r["holds"] and r["severity"] == "page" for r in j["alert"]["rules"]), "a page rule holds")
    check(len(j["burn_down"]) >= 28 * 24, f"hourly burn-down over 28d: {len(j['burn_down'])}")
    check(j["burn_down"][0]["remaining"] == 1, "burn-down starts full")

    h = slo("search-latency")
    check(h is not None and h["alert"]["state"] == "ok", "healthy search SLO has no alert")
    check(h["burn_rates"]["5m"] < 0.01 and h["burn_rates"]["1h"] < 0.01, f"near-zero burn: {h['burn_rates']}")
    check(h["budgeting"] == "timeslices" and h["error_budget"]["remaining"] == 1, "timeslice budget intact")
    check(abs(h["error_budget"]["remaining_minutes"] - 100.8) < 1e-6, "99% of 7d: 100.8 bad minutes allowed")

    a = slo("admin-availability")
    check(a["burn_rates"]["5m"] > 300 and a["alert"]["state"] == "ok",
          f"low traffic (3 requests, 1 failed) does not page: {a['burn_rates']['5m']} {a['alert']['state']}")

    lst = s.get("/api/v1/slos").json()
    check([x["name"] for x in lst["slos"]] == ["checkout-availability", "search-latency", "admin-availability"],
          "list in config order")
    check(s.get("/api/v1/slos/nope").status == 404, "unknown SLO is 404")

    c = s.cli("slo", "list")
    check(c.returncode == 0 and "checkout-availability" in c.stdout and "page" in c.stdout, f"slo list: {c.stdout}{c.stderr}")
    c = s.cli("slo", "show", "checkout-availability")
    check(c.returncode == 0 and "burn-down" in c.stdout and "500.00x" in c.stdout, f"slo show: {c.stdout}{c.stderr}")

    # the closed minute from 5 minutes ago is stored as metric points
    def stored():
        r = s.get("/api/v1/query?query=" + "sum(max_over_time(ooda_slo_events_total%7Bslo%3D%22checkout-availability%22%7D%5B30m%5D))")
        res = r.json().get("data", {}).get("result", []) if r.status == 200 else []
        return res and float(res[0]["value"][1]) >= 200
    check(wait_for(stored, timeout=15), "ooda_slo_events_total holds the closed minute")

    # a restart keeps the budget (live replay and the stored minutes agree: no double count)
    s.stop()
    s.start()
    j = wait_for(lambda: (lambda x: x if x and x["events"]["total"] >= 400 else None)(slo("checkout-availability")))
    check(j is not None and j["events"]["total"] == 400, f"after restart: {j and j['events']}")
finally:
    s.cleanup()

# --- reload applies the slos: section
RELOAD_BEFORE = """slos:
  - name: keep-availability
    service: keep
    objective: 99.9
    sli:
      ratio: {from: red, errors: true}
  - name: gone-availability
    service: gone
    objective: 99
    sli:
      ratio: {from: red, errors: true}
"""
RELOAD_AFTER = """slos:
  - name: keep-availability
    service: keep
    objective: 95
    window: 7d
    sli:
      ratio: {from: red, errors: true}
  - name: new-latency
    service: keep
    objective: 99
    sli:
      latency: {threshold: 250ms}
"""
s = Server(config=RELOAD_BEFORE)
try:
    r = s.post("/v1/traces", spans_payload("keep", 100, 10, time.time_ns(), seed=20000))
    check(r.status == 200, "keep traces accepted")

    def slos():
        return {x["name"]: x for x in s.get("/api/v1/slos").json()["slos"]}

    j = wait_for(lambda: (lambda x: x if x.get("keep-availability", {}).get("events", {}).get("total") == 100
                          else None)(slos()))
    check(j is not None and set(j) == {"keep-availability", "gone-availability"}, f"two SLOs before: {j and list(j)}")

    with open(s.config, "w") as f:
        f.write(RELOAD_AFTER)
    s.send_signal(signal.SIGHUP)
    j = wait_for(lambda: (lambda x: x if "new-latency" in x else None)(slos()))
    check(j is not None, "SIGHUP adds new-latency")
    j = slos()
    check(list(j) == ["keep-availability", "new-latency"], f"gone-availability removed, config order: {list(j)}")
    k = j["keep-availability"]
    check(k["objective"] == 95 and k["window"] == "7d", f"changed objective and window: {k['objective']} {k['window']}")
    check(k["events"]["total"] == 100, f"kept SLO keeps its counts: {k['events']}")
    check(abs(k["error_budget"]["allowed_fraction"] - 0.05) < 1e-9, "budget from the new objective")
    check(abs(k["burn_rates"]["5m"] - 2) < 1e-6, f"10% errors burn a 5% budget 2x: {k['burn_rates']['5m']}")
    check(j["new-latency"]["sli"]["kind"] == "latency", "new SLO has its SLI")
    check(s.get("/api/v1/slos/gone-availability").status == 404, "removed SLO is 404")
    c = s.cli("slo", "list")
    check(c.returncode == 0 and "new-latency" in c.stdout and "gone-availability" not in c.stdout,
          f"slo list after reload: {c.stdout}{c.stderr}")

    # a bad slos: section rejects the whole reload; the SLOs stay as they were
    with open(s.config, "w") as f:
        f.write(RELOAD_AFTER.replace("objective: 95", "objective: 120"))
    r = s.post("/api/v1/config/reload", {})
    check(r.status == 400 and "slos[0].objective" in r.json().get("detail", ""), f"bad slos rejects the reload: {r.status} {r.body}")
    j = slos()
    check(list(j) == ["keep-availability", "new-latency"] and j["keep-availability"]["objective"] == 95,
          f"previous SLOs stay: {[(n, x['objective']) for n, x in j.items()]}")
    check(s.get("/healthz").status == 200, "still serving")

    # the reloads are audited, the applied one with what changed in the SLOs
    recs = s.get("/api/v1/audit?action=config.*").json()["records"]
    ok = [x for x in recs if x["action"] == "config.reload"]
    bad = [x for x in recs if x["action"] == "config.reload_rejected"]
    check(len(ok) == 1 and ok[0]["actor"] == "signal:SIGHUP" and
          ok[0]["detail"] == {"slos": "added new-latency; changed keep-availability; removed gone-availability"},
          f"reload audited with the SLO changes: {ok}")
    check(len(bad) == 1 and "slos[0].objective" in bad[0]["rationale"], f"rejection audited: {bad}")
finally:
    s.cleanup()

bad = Server(config="slos:\n  - name: x\n    service: a\n    objective: 120\n    sli: {ratio: {}}\n", expect_start=False)
try:
    r = run("serve", "--listen", "127.0.0.1:0", "--data", bad.data, "--config", bad.config, timeout=20)
    check(r.returncode != 0 and "slos[0].objective" in (r.stderr + r.stdout), f"bad slos refused: {r.stderr}")
    r = run("config", "check", bad.config)
    check(r.returncode != 0 and "slos[0].objective" in (r.stderr + r.stdout), f"config check names the key: {r.stderr}")
finally:
    bad.cleanup()
done()
