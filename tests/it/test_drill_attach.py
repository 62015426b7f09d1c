"""`ooda drill run --attach` drills a system that already runs: an ooda and an
ooda-sim started here (the bench's, as `make demo` would have them), one small
scenario and noise (a comma list). The report has the scenario detected and the time to the first
notification ooda delivered (from its outbox, GET /api/v1/notifications), and
the webhook receiver did get it; an incident that was open before the drill is
left alone (an attached drill resolves only its own). No timing is asserted."""
import json
import os
import sys
import time
import urllib.parse

from oodait import BIN, check, done, run

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
        server = f"http://127.0.0.1:{port}"
        deadline = time.time() + 60
        while time.time() < deadline and not series(port, "sim_requests_total"):
            time.sleep(0.5)
        check(series(port, "sim_requests_total"), "ooda has the simulator's request counters")
        time.sleep(3)  # a few seconds of healthy traffic in the rule's 10 s window
        _s, before = drills.call("POST", f"{server}/api/v1/incidents",
                                 {"title": "opened by hand before the drill", "severity": "SEV3"})
        check(before.get("id"), f"an incident opened by hand: {before}")

        # refused: --sim without --attach, --attach without --sim
        r = run("drill", "run", "--sim", control, "--scenario", "config-shed", "--server", server)
        check(r.returncode != 0 and "--sim" in r.stderr, f"--sim alone is refused: {r.stderr}")
        r = run("drill", "run", "--attach", "--scenario", "config-shed", "--server", server)
        check(r.returncode != 0 and "--sim" in r.stderr, f"--attach needs --sim: {r.stderr}")

        # a comma list names several scenarios; a name the catalogue lacks is refused, by name
        r = run("drill", "run", "--attach", "--sim", control, "--scenario", "config-shed,no-such-fault",
                "--server", server)
        check(r.returncode != 0 and "'no-such-fault'" in r.stderr, f"an unknown name in the list is refused: {r.stderr}")

        t0 = time.time()
        r = run("drill", "run", "--attach", "--sim", control, "--scenario", "noise,config-shed", "--fast",
                "--server", server, "--json", timeout=240)
        check(r.returncode == 0, f"the attached drill ran: rc {r.returncode} {r.stderr[-2000:]}")
        rep = json.loads(r.stdout) if r.returncode == 0 else {"scenarios": [{}]}
        check([s.get("name") for s in rep["scenarios"]] == ["config-shed", "noise"],
              f"both listed scenarios ran, in the catalogue's order: {rep['scenarios']}")
        sc = rep["scenarios"][0]
        check(sc.get("name") == "config-shed" and sc.get("detected") is True, f"config-shed detected: {sc}")
        fn = sc.get("first_notification_s")
        check(isinstance(fn, (int, float)), f"first_notification_s is a number: {sc}")
        check(isinstance(fn, (int, float)) and isinstance(sc.get("mttd_s"), (int, float))
              and fn >= sc["mttd_s"] - 0.1, f"the notification left after the alert fired: {sc}")
        check(rec.firing_since("ooda", t0), f"the receiver got ooda's firing notification: {rec.events[-5:]}")
        _s, inc = drills.call("GET", f"{server}/api/v1/incidents/{before['id']}")
        check(inc.get("status") not in ("resolved", "reviewed"),
              f"the incident opened before the drill is still open: {inc.get('status')}")
    finally:
        drills.cleanup()
    done()


if __name__ == "__main__":
    main()
