"""make demo without the story (scripts/demo --no-story, on free ports): ooda
and ooda-sim start from a temporary directory, the banner gives a URL and a
token that work, the simulated services' telemetry reaches ooda, and SIGINT
(Ctrl-C) stops every process the script started and exits 0, leaving no
temporary directory behind. The story itself takes about a minute and is
played by `make demo`, not here."""
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
    p = subprocess.Popen([DEMO, os.path.abspath(BIN), "--no-story", "--port", "0", "--sim-port", "0"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = []
    deadline = time.time() + 60
    while time.time() < deadline:
        line = p.stdout.readline()
        if not line:
            break
        out.append(line)
        if "Ctrl-C stops it all" in line:
            break
    text = "".join(out)
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
