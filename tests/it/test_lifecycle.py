"""Lifecycle: SIGHUP reload (a bad file is rejected and the old one stays),
SIGTERM during writes leaves nothing half-written, refusal of a read-only or
newer-schema data dir."""
import os
import signal
import sqlite3
import threading
import time
from oodait import PG, Server, check, control_db, done, run

s = Server(config="log:\n  level: info\n")
try:
    with open(s.config, "w") as f:
        f.write("log:\n  level: debug\n")
    s.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    m = s.get("/metrics").body
    check('ooda_config_reloads_total{outcome="ok"} 1' in m, "SIGHUP reload applied")
    with open(s.config, "w") as f:
        f.write("log:\n  level: [broken\n")
    s.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    m = s.get("/metrics").body
    check('ooda_config_reloads_total{outcome="rejected"} 1' in m, "bad config rejected")
    check(s.get("/healthz").status == 200, "still serving after a rejected reload")
    check("configuration reload rejected" in s.read_log(), "rejection logged with its reason")
    r = s.post("/api/v1/config/reload", {})
    check(r.status == 400 and "ooda.yaml" in r.json()["detail"], f"reload over HTTP names the error: {r.body}")
    r = s.get("/api/v1/audit?action=config.*")
    acts = [x["action"] for x in r.json()["records"]]
    check(acts.count("config.reload") == 1 and acts.count("config.reload_rejected") == 2, f"reloads audited: {acts}")

    # a file the schema refuses is refused on reload too, with every problem, and the old config stays
    with open(s.config, "w") as f:
        f.write("heartbeats:\n  - name: keep-me\n    every: 1h\n")
    r = s.post("/api/v1/config/reload", {})
    check(r.status == 200, f"good reload: {r.body}")
    with open(s.config, "w") as f:
        f.write("heartbeats:\n  - name: replaced\n    evry: 1h\n"
                "server:\n  threads: lots\n"
                "flags:\n  prod: {}\n")
    r = s.post("/api/v1/config/reload", {})
    detail = r.json().get("detail", "") if r.status == 400 else ""
    check(r.status == 400 and f"{s.config}:3:5: heartbeats[0].evry: unknown key; did you mean \"every\"?" in detail
          and f"{s.config}:5:12: server.threads: expected an integer" in detail
          and f"{s.config}:6:1: flags: not supported yet" in detail,
          f"reload names every problem: {r.body}")
    names = [h["name"] for h in s.get("/api/v1/heartbeats").json().get("heartbeats", [])]
    check(names == ["keep-me"], f"the old config stays after a rejected reload: {names}")
    s.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    check('ooda_config_reloads_total{outcome="rejected"} 4' in s.get("/metrics").body, "SIGHUP rejects it too")
    names = [h["name"] for h in s.get("/api/v1/heartbeats").json().get("heartbeats", [])]
    check(names == ["keep-me"], f"still the old config after SIGHUP: {names}")
    # a key a reload cannot apply is not silently ignored: the log says it waits for a restart
    with open(s.config, "w") as f:
        f.write("heartbeats:\n  - name: keep-me\n    every: 1h\nserver:\n  threads: 3\nlog:\n  level: info\n")
    r = s.post("/api/v1/config/reload", {})
    check(r.status == 200, f"reload with a start-only key: {r.body}")
    check("server.threads changed; this takes effect at the next restart" in s.read_log(),
          "a start-only key changed on reload is named in the log")

    # SIGTERM while writes are in flight: the daemon drains, every acknowledged write is there
    acked = []
    stop = threading.Event()

    def writer(k):
        i = 0
        while not stop.is_set():
            try:
                r = s.post("/api/v1/tokens", {"name": f"w{k}-{i}", "role": "viewer"}, timeout=5)
                if r.status == 201:
                    acked.append(r.json()["info"]["id"])
            except Exception:
                return
            i += 1

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    rc = s.stop(signal.SIGTERM)
    stop.set()
    for t in threads:
        t.join()
    check(rc == 0, f"clean exit after SIGTERM: {rc}")
    check("stopped cleanly" in s.read_log(), "drain logged")
    db = control_db(s.data)
    check(db.execute("PRAGMA integrity_check").fetchone()[0] == "ok", "database intact")
    ids = {row[0] for row in db.execute("SELECT id FROM tokens")}
    audited = {row[0] for row in db.execute("SELECT target FROM audit WHERE action = 'token.create'")}
    db.close()
    check(len(acked) > 0 and set(acked) <= ids, f"every acknowledged write is stored ({len(acked)} acked)")
    check({"token/" + i for i in ids} == audited, "every stored token has exactly its audit record")
    r = run("audit", "verify", "--data", s.data)
    check(r.returncode == 0, f"chain intact after SIGTERM: {r.stderr}")
finally:
    s.cleanup()

# a data dir from a newer ooda is refused with a clear message
s = Server()
data = s.data
s.stop()
db = control_db(data)
db.execute("PRAGMA user_version = 999")
db.commit()
db.close()
r = run("serve", "--listen", "127.0.0.1:0", "--data", data, timeout=15)
check(r.returncode != 0 and "schema version 999, newer than this ooda supports" in r.stderr,
      f"newer schema refused: {r.stderr!r}")
s.cleanup()

# a read-only data dir is refused with a clear message. Root writes through
# mode bits, so as root the dir is a read-only tmpfs mount instead.
import subprocess
s = Server(expect_start=False)
os.makedirs(s.data, exist_ok=True)
mounted = False
if os.geteuid() == 0:
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", s.data]).returncode == 0
else:
    os.chmod(s.data, 0o500)
if mounted or os.geteuid() != 0:
    r = run("serve", "--listen", "127.0.0.1:0", "--data", s.data, timeout=15)
    check(r.returncode != 0 and "is not writable" in r.stderr, f"read-only data dir: {r.stderr!r}")
else:
    print("note: read-only data dir check needs mount as root; not run")
if mounted:
    subprocess.run(["umount", s.data])
os.chmod(s.data, 0o700)
s.cleanup()
done()
