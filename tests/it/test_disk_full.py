"""A full disk is the operator's to fix, not a server fault: with the data dir
on an 8 MiB tmpfs filled to the last byte, ingest and flag writes answer 507
with problem+json and Retry-After, /readyz answers 503 naming the full disk,
/metrics shows ooda_store_disk_full; once space is freed the same writes
succeed and /readyz is ready again, without a restart. Needs mount (root);
skipped otherwise."""
import json
import os
import subprocess
import sys
import tempfile
import time
from oodait import Server, check, done

mnt = tempfile.mkdtemp(prefix="ooda-it-full-")
m = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", mnt], capture_output=True, text=True)
if m.returncode != 0:
    print(f"SKIP: cannot mount a small tmpfs for the data dir (needs root): {m.stderr.strip()}")
    os.rmdir(mnt)
    sys.exit(77)

NDJSON = {"Content-Type": "application/x-ndjson"}
FLAG = {"state": "ENABLED", "variants": {"on": True, "off": False}, "defaultVariant": "off"}


def logs(n):
    return "".join(json.dumps({"service": "full", "body": f"line {i} {os.urandom(24).hex()}"}) + "\n" for i in range(n))


def disk_alert(s, store, want, timeout=20):
    """The self-alert ooda:disk-full for store, once it reaches state want (None if never)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for a in s.get("/api/v1/alerts?state=all").json()["alerts"]:
            if a["name"] == "ooda:disk-full" and a.get("labels", {}).get("store") == store and a["state"] == want:
                return a
        time.sleep(0.1)
    return None


def metric(text, name):
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return None


s = None
try:
    s = Server(data=os.path.join(mnt, "data"))
    r = s.post("/api/v1/logs", logs(10), headers=NDJSON)
    check(r.status == 200, f"ingest works while there is space: {r.status} {r.body[:200]}")
    r = s.request("PUT", "/api/v1/flags/before?env=prod", FLAG)
    check(r.status == 200, f"a flag write works while there is space: {r.status} {r.body[:200]}")

    filler = os.path.join(mnt, "filler")
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass

    r = s.post("/api/v1/logs", logs(3000), headers=NDJSON)
    check(r.status == 507, f"ingest on a full disk answers 507, not 500: {r.status} {r.body[:300]}")
    check(r.headers.get("Content-Type") == "application/problem+json", f"the 507 is problem+json: {r.headers}")
    check("Retry-After" in r.headers, f"the 507 says when to retry: {r.headers}")
    check("full" in r.body, f"the 507 says the disk is full: {r.body[:300]}")

    otlp = {"resourceLogs": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "full"}}]},
                              "scopeLogs": [{"logRecords": [{"body": {"stringValue": f"otlp {i} {os.urandom(24).hex()}"}}
                                                            for i in range(3000)]}]}]}
    r = s.post("/v1/logs", otlp)
    check(r.status == 503 and "Retry-After" in r.headers and "full" in r.json().get("message", ""),
          f"OTLP on a full disk: a retryable 503 google.rpc.Status saying so: {r.status} {r.body[:300]}")

    statuses = [s.request("PUT", f"/api/v1/flags/during-{i}?env=prod", FLAG).status for i in range(3)]
    check(507 in statuses and 500 not in statuses, f"flag writes on a full disk answer 507: {statuses}")

    r = s.get("/readyz")
    check(r.status == 503 and "full" in r.json().get("reason", ""), f"/readyz is 503 naming the full disk: {r.status} {r.body}")
    text = s.get("/metrics").body
    check(metric(text, 'ooda_store_disk_full{store="telemetry"}') == 1, "ooda_store_disk_full{store=telemetry} is 1")
    check((metric(text, 'ooda_store_disk_full_failures_total{store="control"}') or 0) >= 1,
          "refused control-store writes are counted")
    r = s.get("/healthz")
    check(r.status == 200, f"liveness is unaffected: {r.status}")
    a = disk_alert(s, "telemetry", "firing")
    check(a is not None and a.get("severity") == "page", f"a full disk pages: ooda:disk-full fires for telemetry: {a}")

    os.unlink(filler)
    r = s.post("/api/v1/logs", logs(10), headers=NDJSON)
    check(r.status == 200, f"ingest works again once space is freed: {r.status} {r.body[:200]}")
    r = s.request("PUT", "/api/v1/flags/after?env=prod", FLAG)
    check(r.status == 200, f"flag writes work again once space is freed: {r.status} {r.body[:200]}")
    r = s.get("/readyz")
    check(r.status == 200, f"/readyz is ready again without a restart: {r.status} {r.body}")
    text = s.get("/metrics").body
    check(metric(text, 'ooda_store_disk_full{store="telemetry"}') == 0 and
          metric(text, 'ooda_store_disk_full{store="control"}') == 0, "ooda_store_disk_full is back to 0")
    check(disk_alert(s, "telemetry", "resolved") is not None, "ooda:disk-full resolves once writes commit again")
finally:
    if s:
        s.stop()
        s.cleanup()
    subprocess.run(["umount", mnt])
    os.rmdir(mnt)
done()
