"""The dashboard in a real browser: starts `ooda serve` with an admin and a
viewer token, seeds telemetry, a deploy and a flag through the real HTTP
ingest (seed.py, hostile strings included), then runs dashboard.mjs with
node (playwright-core driving Debian's chromium, axe-core for accessibility)
and stops the server. Screenshots of every main page land in
build/screenshots/. Needs `scripts/install-deps --e2e` (chromium, npm ci in web/)."""
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "it"))
from oodait import Server, check, create_token, done  # noqa: E402
import seed  # noqa: E402

ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
MODULES = os.path.join(ROOT, "web", "node_modules")
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# A service with a probe (at a closed loopback port: it fails, as a tile should show) and an SLO.
CONFIG = """
services:
  - name: payments
    owner: team-payments
    probes:
      - name: http
        http: {url: "http://127.0.0.1:9/healthz"}
        interval: 1s
slos:
  - name: payments-availability
    service: payments
    objective: 99.5
    window: 1d
    sli:
      ratio: {from: red, errors: true}
incidents:
  status_page: true
"""


def main():
    node = shutil.which("node")
    if not check(node is not None, "node is installed (scripts/install-deps)"):
        done()
    if not check(os.path.exists(CHROMIUM), f"chromium at {CHROMIUM} (scripts/install-deps --e2e)"):
        done()
    if not check(os.path.isdir(os.path.join(MODULES, "playwright-core")), "web/node_modules has playwright-core (npm ci --prefix web)"):
        done()
    s = Server(config=CONFIG, expect_start=False)
    try:
        admin = create_token(s.data, "admin", "alice")
        viewer = create_token(s.data, "viewer", "victor")
        s.start()
        s.token = admin
        ids = seed.seed(s)
        shots = os.environ.get("OODA_SCREENSHOTS") or os.path.join(os.path.dirname(os.environ.get("OODA_BIN", ROOT + "/build/ooda")), "screenshots")
        env = dict(os.environ, OODA_URL=s.url, ADMIN_TOKEN=admin, VIEWER_TOKEN=viewer, TRACE_ID=ids["trace"],
                   FLAG_ENV=ids["env"], FLAG_KEY=ids["flag"], SHOTS=shots, CHROMIUM=CHROMIUM, WEB_MODULES=MODULES)
        r = subprocess.run([node, os.path.join(HERE, "dashboard.mjs")], env=env, capture_output=True, text=True, timeout=240)
        sys.stdout.write(r.stdout)
        sys.stderr.write(r.stderr[-4000:])
        for line in r.stdout.splitlines():
            if line.startswith("FAIL "):
                check(False, line[5:])
        check(r.returncode == 0, f"the browser run passed (exit {r.returncode})")
        rc = s.stop()
        check(rc == 0, f"the daemon stopped cleanly after the browser session (exit {rc})")
    finally:
        s.cleanup()
    done()


if __name__ == "__main__":
    main()
