"""Crash safety: ingest NDJSON from several clients, kill -9 the daemon in
the middle, restart on the same data dir, and check that every record whose
request was acknowledged is stored (and the store opens cleanly)."""
import json
import signal
import threading
import time
import urllib.parse
from oodait import Server, check, done

s = Server()
acked = set()
lock = threading.Lock()
stop = threading.Event()


def writer(w):
    i = 0
    while not stop.is_set():
        batch = [f"w{w}-b{i}-r{k}" for k in range(200)]
        body = "\n".join(json.dumps({"service": "crash", "body": f"record {b}", "severity": "info"}) for b in batch)
        try:
            r = s.post("/api/v1/logs", body, headers={"Content-Type": "application/x-ndjson"}, timeout=10)
        except Exception:
            return  # the daemon died mid-request: not acknowledged
        if r.status == 200 and json.loads(r.body)["accepted"] == 200:
            with lock:
                acked.update(batch)
        i += 1


try:
    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    s.send_signal(signal.SIGKILL)
    stop.set()
    for t in threads:
        t.join(timeout=15)
    s.proc.wait()
    n_acked = len(acked)
    check(n_acked > 1000, f"load was running when killed ({n_acked} records acknowledged)")
    s.proc = None
    s.start()
    stored = set()
    cursor = None
    while True:
        path = "/api/v1/logs/search?q=service:crash&since=1h&limit=10000"
        if cursor:
            path += "&cursor=" + urllib.parse.quote(cursor)
        r = s.get(path)
        page = r.json()
        stored.update(x["body"].split(" ", 1)[1] for x in page["logs"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    missing = acked - stored
    check(not missing, f"{len(missing)} acknowledged records lost after kill -9 (of {n_acked})")
    check(s.get("/readyz").status == 200, "the store opens cleanly after the crash")
finally:
    s.cleanup()
done()
