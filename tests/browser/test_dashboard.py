"""The dashboard in a real browser: starts `ooda serve` with an admin and a
viewer token, seeds telemetry, a deploy and a flag through the real HTTP
ingest (seed.py, hostile strings included), then runs dashboard.mjs with
node (playwright-core driving Debian's chromium, axe-core for accessibility)
and stops the server. Screenshots of every main page land in
build/screenshots/. Needs `scripts/install-deps --e2e` (chromium, npm ci in web/)."""
import http.server
import os
import shutil
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "it"))
from oodait import Server, check, create_token, done  # noqa: E402
import seed  # noqa: E402

ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
MODULES = os.path.join(ROOT, "web", "node_modules")
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# A service with a probe and an SLO. The probe asks a small local service
# (Payments below) that answers 500 until it is "rolled back": a tile shows it
# failing, its alert opens an incident, and the policy in approve mode that
# the failing probe triggers rolls it back once someone approves in the page
# (the "Done when" of the dashboard issue).
CONFIG = """
services:
  - name: payments
    owner: team-payments
    probes:
      - name: http
        http: {{url: "http://127.0.0.1:{port}/healthz"}}
        interval: 1s
slos:
  - name: payments-availability
    service: payments
    objective: 99.5
    window: 1d
    sli:
      ratio: {{from: red, errors: true}}
incidents:
  status_page: true
remedy:
  http_allow_hosts: [127.0.0.1]
policies:
  - name: rollback-payments
    description: 'roll payments back to v1 {xss}'
    when: {{probe: {{service: payments, name: http}}}}
    do:
      - http: {{url: "http://127.0.0.1:{port}/admin/version", method: POST, body: '{{"version": "v1"}}'}}
    expect: {{probe: {{service: payments, name: http}}, timeout: 30s}}
    mode: approve
    irreversible_ok: true
    rationale: v1 was healthy; rolling back is the way back
"""


class Payments(http.server.BaseHTTPRequestHandler):
    """The service the policy rolls back: unhealthy until POST /admin/version.
    Its answer to the rollback carries a hostile string (the run's output)."""
    healthy = False

    def do_GET(self):
        self._send(200 if Payments.healthy else 500, b"ok\n" if Payments.healthy else b"v2 broken\n")

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(n)
        Payments.healthy = True
        self._send(200, ('rolled back to v1 ' + seed.XSS + '\n').encode())

    def _send(self, code, body):
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def main():
    node = shutil.which("node")
    if not check(node is not None, "node is installed (scripts/install-deps)"):
        done()
    if not check(os.path.exists(CHROMIUM), f"chromium at {CHROMIUM} (scripts/install-deps --e2e)"):
        done()
    if not check(os.path.isdir(os.path.join(MODULES, "playwright-core")), "web/node_modules has playwright-core (npm ci --prefix web)"):
        done()
    svc = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Payments)
    threading.Thread(target=svc.serve_forever, daemon=True).start()
    s = Server(config=CONFIG.format(port=svc.server_address[1], xss=seed.XSS), expect_start=False)
    try:
        admin = create_token(s.data, "admin", "alice")
        viewer = create_token(s.data, "viewer", "victor")
        approver = create_token(s.data, "approver", "bob")
        s.start()
        s.token = admin
        ids = seed.seed(s)
        shots = os.environ.get("OODA_SCREENSHOTS") or os.path.join(os.path.dirname(os.environ.get("OODA_BIN", ROOT + "/build/ooda")), "screenshots")
        env = dict(os.environ, OODA_URL=s.url, ADMIN_TOKEN=admin, VIEWER_TOKEN=viewer, APPROVER_TOKEN=approver, TRACE_ID=ids["trace"],
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
        svc.shutdown()
    done()


if __name__ == "__main__":
    main()
