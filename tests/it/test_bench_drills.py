"""The fault-drill benchmark's ooda side works (bench/drills): ooda starts with the
bench's configuration, its alert rules find the simulator's metrics under the
names ooda gives them, and a fault reaches the bench's receiver as a webhook
notification naming the failing service, and the bench's remediation policy for
that fault repairs it with a run that succeeds (the bench's MTTR); a resolved incident
is not counted as one opened in the next drill; a memory leak is paged by its trend
rule before memory crosses 75 %. A renamed metric or config key
would otherwise make the benchmark report "no notification" for ooda, silently.
No timing is asserted: the benchmark measures, this test only checks it can."""
import os
import sys
import time
import urllib.parse

from oodait import BIN, check, done

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../../bench/drills"))
import drills  # noqa: E402


def series(port, q):
    url = f"http://127.0.0.1:{port}/api/v1/query?query=" + urllib.parse.quote(q)
    try:
        _s, j = drills.call("GET", url)
    except Exception:
        return []
    return j.get("data", {}).get("result", [])


def main():
    drills.OODA = BIN
    drills.SIM = os.environ.get("OODA_SIM_BIN", os.path.join(os.path.dirname(BIN), "sim", "ooda-sim"))
    rec = drills.Receiver()
    try:
        port = drills.start_ooda(rec)
        ports = drills.start_sim(port)
        control = f"http://127.0.0.1:{ports['control']}"
        # every metric a rule reads exists in ooda under the name the rule uses
        names = ["sim_requests_total", "process_memory_usage_bytes", "ooda_span_duration_seconds_bucket"]
        deadline = time.time() + 60
        while time.time() < deadline and not all(series(port, n) for n in names):
            time.sleep(0.5)
        for n in names:
            check(series(port, n), f"ooda has {n} from the simulator (the bench's rules read it)")
        # the bench's policies for error faults trigger on the fast RED detector's alert, which
        # keeps no evidence while it learns each service's baseline (its first 30 s of traffic):
        # the bench warms both systems up before its first fault, so the test waits as long
        deadline = time.time() + 90
        learning = None
        while time.time() < deadline:
            _s, an = drills.call("GET", f"http://127.0.0.1:{port}/api/v1/anomalies")
            rd = (an or {}).get("red_detector") or {}
            learning = rd.get("learning")
            if rd.get("services", 0) > 0 and learning == 0:
                break
            time.sleep(1)
        check(learning == 0, f"the fast RED detector learnt every service before the fault: {learning}")
        time.sleep(3)  # a few seconds of healthy traffic in the rule's 10 s window
        _s, inst = drills.call("POST", f"{control}/faults", {"name": "config-shed"})
        t0 = time.time()
        # the bench's error rule reads the shed under the names ooda gives the metrics (it is
        # held 12 s, and the policy below may repair the shed before: its value is checked)
        ratio = None
        while time.time() < t0 + 30 and ratio is None:
            got = [r for r in series(port, drills.RULES[0][1]) if r.get("metric", {}).get("job") == "frontend"]
            ratio = float(got[0]["value"][1]) if got else None
            time.sleep(0.2)
        check(ratio is not None and ratio > 0.05, f"HighErrorRatio's expression finds frontend above 5 %: {ratio}")
        ev = []
        while time.time() < t0 + 90 and not ev:
            ev = rec.firing_since("ooda", t0)
            time.sleep(0.2)
        check(ev, f"the shed reached the receiver as an ooda notification: {rec.events}")
        check(ev and "frontend" in ev[0][2], f"the notification names frontend: {ev[:1]}")
        # the step tables' lag: the newest sample at or before a time, from ooda's query API
        now = time.time()
        newest = drills.newest_at(port, 'sim_requests_total{job="frontend"}', now)
        check(newest is not None and now - 15 <= newest <= now + 0.001,
              f"the newest frontend sample before now is within its 15 s: {newest} at {now}")
        check(drills.newest_at(port, 'sim_requests_total{job="frontend"}', now - 3600) is None,
              "no sample an hour before the simulator started")
        # the bench's policy for the fault puts the shed back by itself: an MTTR from ooda's run record
        mttr, status = drills.remedy_wait(port, drills.REMEDIES["config-shed"][0], t0, t0 + 90)
        check(mttr is not None and status == "succeeded",
              f"policy unshed-frontend's run succeeded (its expect held), so the bench has an MTTR: {status}")
        _s, st = drills.call("GET", f"{control}/state")
        check(st["services"]["frontend"]["shed_ratio"] == 0, f"frontend sheds nothing again: {st['services']['frontend']}")
        drills.call("DELETE", f"{control}/faults/{inst['id']}")
        # the shed's incident counts for its drill; once resolved, it is no incident of
        # the next drill, though resolving it adds timeline entries (the resolved
        # notification) after the next fault's start
        check(drills.ooda_incident_service(port, t0) == "frontend",
              "the shed opened an incident on frontend, found as opened since the fault")
        _s, j = drills.call("GET", f"http://127.0.0.1:{port}/api/v1/incidents?status=open")
        check(j.get("incidents"), f"an incident is open to resolve: {j}")
        t1 = time.time()
        drills.resolve_incidents(port)
        _s, j = drills.call("GET", f"http://127.0.0.1:{port}/api/v1/incidents?limit=50")
        # ooda keeps times to the millisecond: a move made within a millisecond of t1 reads up to 1 ms before it
        check(any((drills.iso_epoch(i.get("updated_at")) or 0) >= t1 - 0.001 for i in j.get("incidents", [])),
              f"resolving touched the incident after t1 ({t1:.4f}): {[(i.get('id'), i.get('status'), i.get('updated_at')) for i in j.get('incidents', [])]}")
        check(drills.ooda_incident_service(port, t1) is None,
              "an incident resolved after t1 is not one opened since t1 (no false incident in the next drill)")
        # a leak is paged by its trend (predict_linear, as Prometheus users write it) long
        # before memory crosses 75 % of the limit
        _s, inst = drills.call("POST", f"{control}/faults", {"name": "memory-leak"})
        t2 = time.time()
        ev = []
        while time.time() < t2 + 60 and not ev:
            ev = [e for e in rec.firing_since("ooda", t2) if "MemoryFillingUp" in e[2]]
            time.sleep(0.2)
        check(ev and "checkout" in ev[0][2], f"the leak reached the receiver as MemoryFillingUp on checkout: {ev[:1]}")
        high = [e for e in rec.firing_since("ooda", t2) if "MemoryHigh" in e[2]]
        check(not ev or not high or high[0][0] > ev[0][0],
              f"the trend paged before memory crossed 75 % of the limit (MemoryHigh): {high[:1]}")
        drills.call("DELETE", f"{control}/faults/{inst['id']}")
    finally:
        drills.cleanup()
    check(not os.path.exists(drills.tmp), "the bench's temp dir is removed")
    done()


if __name__ == "__main__":
    main()
