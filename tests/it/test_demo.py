"""make demo on free ports (scripts/demo --port 0 --sim-port 0): ooda and
ooda-sim start from a temporary directory, the story is told up to the
automatic rollback by policy rollback-payments, the recovery its run verified,
the run on the incident's timeline, the MTTD, first notification and MTTR measured as
bench/drills measures them (in order), and `story: done in N s`; the banner gives a URL and a
token that work, the simulated services' telemetry reaches ooda, and SIGINT
(Ctrl-C) stops every process the script started and exits 0, leaving no
temporary directory behind; the remediation policy the story shows acting
(rollback-payments) is applied at start. About a minute of wall time, most of
it the story."""
import json
import os
import re
import signal
import subprocess
import time
import urllib.request

from oodait import BIN, check, done

DEMO = os.path.join(os.path.dirname(__file__), "../../scripts/demo")


def main():
    p = subprocess.Popen([DEMO, os.path.abspath(BIN), "--port", "0", "--sim-port", "0"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = []
    deadline = time.time() + 150
    while time.time() < deadline:
        line = p.stdout.readline()
        if not line:
            break
        out.append(line)
        if "Ctrl-C stops it all" in line:
            break
    text = "".join(out)
    # the story: nobody acts, the policy rolls payments back and its run verifies the recovery
    check(re.search(r"^5\. automatic rollback: policy rollback-payments ran run-\S+ when red:payments/error_ratio fired: "
                    r"http POST \S+/admin/version", text, re.M), f"the automatic rollback is told:\n{text[-3000:]}")
    check(re.search(r"^6\. recovery verified: run run-\S+ succeeded, expect held after .*error ratio of payments \S+ < 5\.00%; "
                    r"payments runs 2\.3\.0 again", text, re.M), f"the verified recovery is told:\n{text[-3000:]}")
    check(re.search(r"remediation +run-\S+ succeeded by policy:rollback-payments@v1", text),
          f"the run is on the incident's timeline:\n{text[-3000:]}")
    m = re.search(r"^measured as bench/drills measures them .*: MTTD \(the first alert of any service, \S+\) ([\d.]+) s, "
                  r"first notification ([\d.]+) s, MTTR ([\d.]+) s;", text, re.M)
    if check(m, f"the story gives its MTTD, first notification and MTTR:\n{text[-2000:]}"):
        mttd, notified, mttr = (float(g) for g in m.groups())
        check(0 < mttd <= notified < mttr, f"fault start < detection <= notification < verified recovery: {m.group(0)}")
    check(re.search(r"^story: done in \d+ s$", text, re.M), f"the story ends with its time:\n{text[-2000:]}")
    dash = re.search(r"^Dashboard: (\S+)/ ", text, re.M)
    inc = re.search(r"^   on the dashboard: (\S+)/#/incident/INC-\d+$", text, re.M)
    if check(dash and inc, f"the banner and the incident give the dashboard's address:\n{text[:1500]}"):
        with urllib.request.urlopen(dash.group(1) + "/", timeout=5) as r:
            page = r.read().decode(errors="replace")
            check(r.status == 200 and "text/html" in r.headers.get("Content-Type", "") and "<script" in page,
                  f"the dashboard answers at {dash.group(1)}/: {r.status} {r.headers.get('Content-Type')}")
    url = re.search(r"OODA_SERVER=(\S+)", text)
    tok = re.search(r"OODA_TOKEN=(\S+)", text)
    tmp = re.search(r"Data is in (\S+) ", text)
    check(url and tok and tmp, f"the banner gives the URL, the token and the data dir:\n{text}")
    if url and tok:
        def services():
            req = urllib.request.Request(url.group(1) + "/api/v1/services",
                                         headers={"Authorization": "Bearer " + tok.group(1)})
            with urllib.request.urlopen(req, timeout=5) as r:
                return {s["service"] for s in json.loads(r.read()) if s.get("requests")}
        want = {"frontend", "checkout", "payments", "inventory", "database"}
        seen = set()
        end = time.time() + 20
        while time.time() < end and not want <= seen:
            seen = services()
            time.sleep(0.5)
        check(want <= seen, f"the simulated services report to ooda: {seen}")
        # the story's automatic rollback: the policy is in place from the start, aimed at payments' port
        req = urllib.request.Request(url.group(1) + "/api/v1/policies/rollback-payments",
                                     headers={"Authorization": "Bearer " + tok.group(1)})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                pol = json.loads(r.read())
        except OSError as e:
            pol = {"error": str(e)}
        doc = json.dumps(pol)
        check(all(w in doc for w in ('"red:payments/error_ratio"', "rollback-last-deploy", '"error_ratio"')),
              f"policy rollback-payments is applied at start: {doc[:600]}")
    p.send_signal(signal.SIGINT)
    try:
        rest, _ = p.communicate(timeout=40)
    except subprocess.TimeoutExpired:
        p.kill()
        rest, _ = p.communicate()
    check(p.returncode == 0, f"Ctrl-C exits 0: {p.returncode}\n{rest}")
    check("stopped" in rest, f"it says it stopped: {rest}")
    if url:
        try:
            urllib.request.urlopen(url.group(1) + "/healthz", timeout=2)
            check(False, "ooda still answers after Ctrl-C")
        except OSError:
            pass
    if tmp:
        check(not os.path.exists(tmp.group(1)), "the temporary directory is removed")
    done()


main()
