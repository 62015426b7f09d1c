"""A dedicated drill starts its first fault from quiet, as every later one.

An incident still open when a fault starts takes in the fault's alerts (the same
service, inside the group window), so the fault opens no incident of its own and
the drill scores it without one: what a loaded machine's start-up (a slow first
probe, a latency rule) once did to the first scenario of `make test`. Here an
incident is opened by hand on the fault's service while the drill's own ooda and
ooda-sim warm up, before the first fault; the drill must resolve it (with a note
saying why) before the fault, and the fault must open its own incident, the one
the report scores. No timing is asserted."""
import glob
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

from oodait import BIN, SIM, check, control_db, done


def api(base, token, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read().decode() or "{}")
    except urllib.error.HTTPError as e:
        return e.code, {}


def started(home):
    """(ooda's URL, token) once the drill's simulator runs: its log names both ends."""
    for d in glob.glob(os.path.join(home, "ooda-drill-*")):
        try:
            log = open(os.path.join(d, "sim.log")).read()
            token = open(os.path.join(d, "token")).read().strip()
        except OSError:
            continue
        m = re.search(r"sending to (http://127\.0\.0\.1:\d+)", log)
        if m and token:
            return m.group(1), token
    return None


def main():
    home = tempfile.mkdtemp(prefix="ooda-drill-startup-")
    drill = None
    try:
        env = dict(os.environ, TMPDIR=home, XDG_CONFIG_HOME=home)
        env.pop("OODA_SERVER", None)
        env.pop("OODA_TOKEN", None)
        drill = subprocess.Popen([BIN, "drill", "run", "--scenario", "dependency-down", "--fast", "--json",
                                  "--keep", "--ooda-sim", SIM], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 env=env, cwd=home)
        ends = None
        deadline = time.time() + 60
        while not ends and time.time() < deadline and drill.poll() is None:
            ends = started(home)
            time.sleep(0.1)
        if not check(ends, "the drill's simulator started and named ooda's URL"):
            return
        base, token = ends
        # the fault's service, before the first fault (the drill waits 8 s after the simulator is up)
        st, before = api(base, token, "POST", "/api/v1/incidents",
                         {"title": "start-up noise on inventory", "service": "inventory", "severity": "SEV3"})
        if not check(st in (200, 201) and before.get("id"), f"an incident opened during the start-up: {st} {before}"):
            return
        out, err = drill.communicate(timeout=240)
        print(err)
        if not check(drill.returncode == 0, f"the drill ran: rc {drill.returncode} {err[-2000:]}"):
            return
        sc = json.loads(out)["scenarios"][0]
        check(sc["name"] == "dependency-down" and sc["detected"] is True, f"the fault was detected: {sc}")
        check(sc["incident"] is True, f"the fault opened an incident of its own: {sc}")
        ids = [i["id"] for i in sc["incidents"]]
        check(before["id"] not in ids and ids, f"the scored incident is not the start-up's ({before['id']}): {ids}")
        # ooda's own record (the drill stopped it): the start-up's incident was resolved, saying why
        number = int(before["id"].split("-")[1])
        db = control_db(glob.glob(os.path.join(home, "ooda-drill-*", "data"))[0])
        status = db.execute("select status from incidents where number = ?", (number,)).fetchone()
        notes = [r[0] for r in db.execute("select text from incident_timeline where number = ?", (number,))]
        db.close()
        check(status and status[0] == "resolved", f"the start-up's incident was resolved: {status}")
        check(any("start-up is over" in n for n in notes), f"its timeline says why: {notes}")
    finally:
        if drill and drill.poll() is None:
            drill.kill()
            drill.wait()
        shutil.rmtree(home, ignore_errors=True)
    done()


if __name__ == "__main__":
    main()
