"""The control store is bounded: a heartbeat pinged more often than
retention.control_max_versions keeps only its newest versions once the
daemon's prune has run (at the first engine tick after a start, then once a
minute), its latest state is unchanged, every ping keeps its audit record and
`ooda audit verify` still passes. A key outside its bounds is refused."""
import os
import sqlite3
import time
from oodait import Server, check, control_db, done, pg_bound, run

CONFIG = """retention:
  control_max_versions: 2
heartbeats:
  - name: nightly
    every: 1h
"""


def rows(data, q):
    if pg_bound(data):
        return control_db(data).execute(q).fetchall()
    db = sqlite3.connect("file:" + os.path.join(data, "control.db") + "?mode=ro", uri=True)
    try:
        return db.execute(q).fetchall()
    finally:
        db.close()


s = Server(config=CONFIG)
try:
    for i in range(5):
        r = s.post("/api/v1/heartbeats/nightly?status=ok")
        check(r.status in (200, 204), f"ping {i + 1}: {r.status} {r.body!r}")
    pings = rows(s.data, "SELECT count(*) FROM audit WHERE action = 'heartbeat.ping'")[0][0]
    check(pings == 5, f"five pings audited, got {pings}")

    # a restart makes the prune due at the first tick
    s.stop()
    s.start()
    deadline = time.time() + 20
    versions = None
    while time.time() < deadline:
        versions = rows(s.data, "SELECT version FROM docs WHERE kind = 'heartbeat' AND key = 'nightly' "
                                "ORDER BY version")
        if len(versions) <= 2:
            break
        time.sleep(0.2)
    check([v for (v,) in versions] == [4, 5], f"the two newest heartbeat versions kept, got {versions}")
    hb = [h for h in s.get("/api/v1/heartbeats").json().get("heartbeats", []) if h.get("name") == "nightly"]
    check(len(hb) == 1 and hb[0].get("state") == "up", f"heartbeat still up after the prune: {hb}")
    pings = rows(s.data, "SELECT count(*) FROM audit WHERE action = 'heartbeat.ping'")[0][0]
    check(pings == 5, f"every ping keeps its audit record, got {pings}")
    s.stop()
    r = run("audit", "verify", "--data", s.data)
    check(r.returncode == 0, f"audit verify passes after the prune: {r.stdout} {r.stderr}")
finally:
    s.cleanup()

# out of bounds: refused at start, naming the key
bad = Server(config="retention:\n  control_max_versions: 0\n", expect_start=False)
try:
    r = run("serve", *bad.args()[1:], timeout=15)
    check(r.returncode != 0 and "retention.control_max_versions" in r.stderr,
          f"control_max_versions 0 refused: {r.stderr!r}")
finally:
    bad.cleanup()
done()
