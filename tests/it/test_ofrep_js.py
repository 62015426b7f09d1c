"""The real OpenFeature JS server SDK with the published OFREP provider
(tests/it/ofrep-js: @openfeature/server-sdk 1.23.0, @openfeature/ofrep-provider
0.1.3) evaluates ooda's flags:

- an enabled flag resolves to its value and reason;
- a disabled flag (200, reason DISABLED, no value) resolves to the code default.
  This provider predates OFREP's value-less success: it reports it as a GENERAL
  error ("does not match the expected format") while returning the code default,
  exactly as it does against flagd >= 0.16 (docs/conformance.md);
- a bad token: the provider throws on 401 without reading the body, so the SDK's
  details say GENERAL; the error hook gets the response, and ooda's OFREP error
  body (errorCode, errorDetails naming the token problem) reaches the application.

Needs node and npm: a missing tests/it/ofrep-js/node_modules is installed with
`npm ci`; if that fails, the test fails (never skips)."""
import fcntl
import json
import os
import shutil
import subprocess
import sys

from oodait import Server, check, create_token, done

JS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ofrep-js")


def fail(msg):
    print("FAIL:", msg, file=sys.stderr)
    sys.exit(1)


def ensure_sdk():
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        fail("node and npm are needed for the OpenFeature JS SDK test: run scripts/install-deps")
    marker = os.path.join(JS, "node_modules", "@openfeature", "ofrep-provider", "package.json")
    with open(os.path.join(JS, ".npm-ci.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.isfile(marker):
            base = [npm, "ci", "--prefix", JS, "--no-audit", "--no-fund", "--loglevel=error"]
            for extra in (["--offline"], ["--prefer-offline"]):
                r = subprocess.run(base + extra, capture_output=True, text=True, timeout=240)
                if r.returncode == 0:
                    break
            else:
                fail(f"npm ci in {JS} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return node


def evaluate(node, s, token, *keys):
    r = subprocess.run([node, os.path.join(JS, "eval.mjs"), s.url, "prod", token, *keys],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        fail(f"eval.mjs exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
    return json.loads(r.stdout.strip().splitlines()[-1])


node = ensure_sdk()
s = Server(expect_start=False)
data = s.data
admin = create_token(data, "admin", "ops")
app = create_token(data, "ingest", "app")
s.start()
s.token = admin
try:
    for key, state in (("on-flag", "ENABLED"), ("off-flag", "DISABLED")):
        r = s.request("PUT", f"/api/v1/flags/{key}?env=prod",
                      {"definition": {"state": state, "variants": {"on": True, "off": False}, "defaultVariant": "on"},
                       "rationale": "sdk test"})
        check(r.status in (200, 201), f"put {key}: {r.status} {r.body}")

    out = evaluate(node, s, app, "on-flag", "off-flag")
    print("sdk:", json.dumps(out))
    on, off = out["on-flag"], out["off-flag"]
    check(on["value"] is True and on["reason"] == "STATIC" and on["errorCode"] is None, f"enabled flag: {on}")
    check(off["value"] is True and off["errorCode"] == "GENERAL", f"disabled flag: the code default, GENERAL: {off}")

    out = evaluate(node, s, "not-a-token", "on-flag")
    print("sdk, bad token:", json.dumps(out))
    bad = out["on-flag"]
    check(bad["value"] is True and bad["errorCode"] == "GENERAL", f"bad token: code default, GENERAL: {bad}")
    body = bad["body"] or {}
    check(body.get("errorCode") == "GENERAL" and "token" in body.get("errorDetails", "")
          and body.get("key") == "on-flag", f"bad token: ooda's OFREP error body reaches the hook: {bad}")
finally:
    s.cleanup()
done()
