"""The fault-drill benchmark's ooda side works (bench/drills): ooda starts with the
bench's configuration, its alert rules find the simulator's metrics under the
names ooda gives them, and a fault reaches the bench's receiver as a webhook
notification naming the failing service, and the bench's remediation policy for
that fault repairs it with a run that succeeds (the bench's MTTR). A renamed metric or config key
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
        time.sleep(3)  # a few seconds of healthy traffic in the rule's 10 s window
        _s, inst = drills.call("POST", f"{control}/faults", {"name": "config-shed"})
        t0 = time.time()
        ev = []
        while time.time() < t0 + 90 and not ev:
            ev = [e for e in rec.firing_since("ooda", t0) if "HighErrorRatio" in e[2]]
            time.sleep(0.2)
        check(ev, f"the shed reached the receiver as an ooda HighErrorRatio notification: {rec.events}")
        check(ev and "frontend" in ev[0][2], f"the notification names frontend: {ev[:1]}")
        # the bench's policy for the fault puts the shed back by itself: an MTTR from ooda's run record
        mttr, status = drills.remedy_wait(port, drills.REMEDIES["config-shed"][0], t0, t0 + 90)
        check(mttr is not None and status == "succeeded",
              f"policy unshed-frontend's run succeeded (its expect held), so the bench has an MTTR: {status}")
        _s, st = drills.call("GET", f"{control}/state")
        check(st["services"]["frontend"]["shed_ratio"] == 0, f"frontend sheds nothing again: {st['services']['frontend']}")
        drills.call("DELETE", f"{control}/faults/{inst['id']}")
    finally:
        drills.cleanup()
    check(not os.path.exists(drills.tmp), "the bench's temp dir is removed")
    done()


if __name__ == "__main__":
    main()
