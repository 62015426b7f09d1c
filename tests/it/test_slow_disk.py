"""A slow disk does not stall the server: with one event-loop thread and every
sync of telemetry.db taking 1.5 s (a preloaded shim), an ingest request waits
for its batch to be durable while health checks and flag evaluations on the
same thread still answer at once; a second ingest request is read and queued
meanwhile and committed in the next sync; everything acknowledged is stored.
Nothing here is timed: the shim counts the slow syncs into a file, and the
order in which requests are answered is what the test checks."""
import os
import shutil
import tempfile
import threading
import time
from oodait import Server, check, done

SLOW_MS = 1500
lib = os.environ.get("OODA_SLOWSYNC")
check(lib and os.path.exists(lib), f"the slow-disk shim is built: {lib}")

flag_dir = tempfile.mkdtemp(prefix="ooda-it-slow-")
tmp_flag = os.path.join(flag_dir, "slow-now")  # the shim slows syncs only while this file exists
count_file = os.path.join(flag_dir, "slow-syncs")  # one byte per slowed sync, written when it completes


def slow_syncs():
    """How many slowed syncs of telemetry.db have completed so far."""
    try:
        return os.path.getsize(count_file)
    except OSError:
        return 0


s = Server(config="server:\n  threads: 1\ningest:\n  queue_bytes: 1MiB\n",
           env={"LD_PRELOAD": lib, "OODA_TEST_SLOW_SYNC_FLAG": tmp_flag, "OODA_TEST_SLOW_SYNC_MS": str(SLOW_MS),
                "OODA_TEST_SLOW_SYNC_COUNT": count_file,
                "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"})
try:
    flag = {"state": "ENABLED", "variants": {"on": True, "off": False}, "defaultVariant": "on"}
    r = s.request("PUT", "/api/v1/flags/checkout-v2?env=test", flag)
    check(r.status == 200, f"a flag to evaluate: {r.status} {r.body[:200]}")
    open(tmp_flag, "w").close()

    results = {}

    def ingest(name, n):
        body = "".join(f'{{"service":"slow","body":"{name} line {i}","severity":"info"}}\n' for i in range(n))
        r = s.post("/api/v1/logs", body, headers={"Content-Type": "application/x-ndjson"}, timeout=60)
        results[name] = (r.status, slow_syncs(), r.body)  # slow syncs completed when it was acknowledged

    a = threading.Thread(target=ingest, args=("first", 50))
    b = threading.Thread(target=ingest, args=("second", 70))
    a.start()
    time.sleep(0.05)
    b.start()
    time.sleep(0.3)
    h = s.get("/healthz")
    f = s.post("/ofrep/v1/evaluate/flags/checkout-v2", {"context": {"targetingKey": "u1"}},
               headers={"X-Ooda-Env": "test"})
    # answered first: both ingest requests are still waiting for the slow sync
    still_waiting = a.is_alive() and b.is_alive()
    check(h.status == 200, f"/healthz answers while ingest waits for the disk: {h.status}")
    check(f.status == 200, f"a flag evaluates while ingest waits for the disk: {f.status} {f.body[:200]}")
    check(still_waiting, "/healthz and the flag were answered while both ingest requests still waited for the slow sync")
    a.join()
    b.join()
    for name in ("first", "second"):
        status, syncs, body = results[name]
        check(status == 200 and syncs >= 1,
              f"{name} ingest is acknowledged only after a slow sync: {status} after {syncs} slow syncs {body[:200]}")
    print(f"slow syncs done when acknowledged: first {results['first'][1]}, second {results['second'][1]}")
    check(results["second"][1] <= 2, f"the second batch was committed in the next sync: {results['second'][1]} slow syncs")
    # overload: while the only worker waits for the disk, bodies past ingest.queue_bytes (1 MiB
    # here) are refused at once with 429 and Retry-After instead of piling up in memory
    big = "".join(f'{{"service":"bulk","body":"bulk line {i} {"x" * 80}"}}\n' for i in range(6000))  # ~0.6 MB
    c = threading.Thread(target=ingest, args=("blocker", 10))
    c.start()
    time.sleep(0.3)
    queued = []
    q1 = threading.Thread(target=lambda: queued.append(
        s.post("/api/v1/logs", big, headers={"Content-Type": "application/x-ndjson"}, timeout=60)))
    q1.start()
    time.sleep(0.3)
    r = s.post("/api/v1/logs", big, headers={"Content-Type": "application/x-ndjson"}, timeout=60)
    blocker_waiting = c.is_alive()
    check(r.status == 429 and r.headers.get("Retry-After") == "1" and "wait for an ingest worker" in r.json()["detail"],
          f"a body past the queue bound is refused with 429: {r.status} {r.body[:300]}")
    check(blocker_waiting, "the refusal came while the worker still waited for the disk, not after")
    c.join()
    q1.join()
    check(queued and queued[0].status == 200, f"the queued request is stored: {queued[0].status if queued else None}")
    m = s.get("/metrics").body
    check("ooda_http_ingest_refused_total 1" in m, "the refusal is counted in /metrics")

    os.unlink(tmp_flag)
    r = s.get("/api/v1/logs/search?q=service:slow&since=10m&limit=1000")
    check(r.status == 200 and len(r.json()["logs"]) == 130, f"all 130 acknowledged records are stored: {r.body[:300]}")
finally:
    shutil.rmtree(flag_dir, ignore_errors=True)
    s.cleanup()
done()
