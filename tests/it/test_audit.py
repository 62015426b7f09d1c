"""Audit: every mutating call is recorded with its actor; verify catches a hand edit
and names the row; checkpoints catch a rewritten chain; backup keeps a valid chain."""
import os
import sqlite3
import time
from oodait import Server, check, create_token, done, run

s = Server(config="audit:\n  checkpoint_every: 2\n")
try:
    admin = create_token(s.data, "admin", "alice")
    time.sleep(0.6)
    s.token = admin
    for i in range(3):
        r = s.post("/api/v1/tokens", {"name": f"svc{i}", "role": "ingest", "rationale": f"collector {i}"})
        check(r.status == 201, f"create token {i}")
    r = s.cli("audit", "log")
    check(r.returncode == 0, f"audit log: {r.stderr}")
    lines = r.stdout.splitlines()
    check(lines[0].split()[:4] == ["SEQ", "TIME", "ACTOR", "ACTION"], f"table header: {lines[0]}")
    check(any("token:alice" in l and "token.create" in l and "collector 2" in l for l in lines),
          f"API call recorded with actor and rationale: {r.stdout}")
    check(any("cli:" in l for l in lines), "offline token creation recorded")
    r = s.get("/api/v1/audit?actor=token:alice&limit=2")
    recs = r.json()["records"]
    check(len(recs) == 2 and all(x["actor"] == "token:alice" for x in recs) and r.json()["next_cursor"],
          f"filter + limit + cursor: {r.body}")
    r2 = s.get("/api/v1/audit?actor=token:alice&cursor=" + r.json()["next_cursor"])
    seqs = [x["seq"] for x in recs] + [x["seq"] for x in r2.json()["records"]]
    check(seqs == sorted(set(seqs), reverse=True) and len(seqs) == 3, f"cursor paging: {seqs}")
    r = s.get("/api/v1/audit?action=token.*&since=1h")
    check(len(r.json()["records"]) == 4, "action prefix filter")
    r = s.get("/api/v1/audit?from=yesterday")
    check(r.status == 400 and "from" in r.json()["detail"], "bad time filter is a 400")

    r = s.cli("audit", "verify")
    check(r.returncode == 0 and "audit chain ok: 4 records, 2 signed checkpoints" in r.stdout, f"verify ok: {r.stdout}{r.stderr}")

    # backup while running, then verify the copy offline
    bdir = os.path.join(s.tmp, "backup")
    r = run("backup", bdir, "--data", s.data)
    check(r.returncode == 0 and os.path.exists(os.path.join(bdir, "control.db")), f"backup: {r.stderr}")
    r = run("audit", "verify", "--data", bdir)
    check(r.returncode == 0, f"backup verifies: {r.stdout}{r.stderr}")

    # a hand edit of row 3 is caught and named, over HTTP and offline
    db = sqlite3.connect(os.path.join(s.data, "control.db"))
    db.execute("UPDATE audit SET rationale = 'nothing happened' WHERE seq = 3")
    db.commit()
    db.close()
    r = s.cli("audit", "verify")
    check(r.returncode == 1 and "seq 3" in r.stderr and r.stderr.count("\n") == 1, f"tamper named: {r.stderr!r}")
    r = run("audit", "verify", "--data", s.data)
    check(r.returncode == 1 and "seq 3" in r.stderr, "tamper named offline")
finally:
    s.cleanup()

# rewriting the whole chain consistently is caught by the signed checkpoints
s = Server(config="audit:\n  checkpoint_every: 1\n")
try:
    r = s.post("/api/v1/tokens", {"name": "a", "role": "admin"})
    check(r.status == 201, "first token, while the API is open")
    s.token = r.json()["token"]
    check(s.post("/api/v1/tokens", {"name": "b", "role": "viewer"}).status == 201, "second token, authenticated")
    db = sqlite3.connect(os.path.join(s.data, "control.db"))
    db.execute("DELETE FROM audit WHERE seq = 2")
    db.commit()
    db.close()
    r = run("audit", "verify", "--data", s.data)
    check(r.returncode == 1 and "seq 2" in r.stderr, f"deleted tail caught by checkpoint: {r.stderr}")
    pk = run("audit", "pubkey", "--data", s.data).stdout.strip()
    check(len(pk) == 64, "pubkey printed")
    r = run("audit", "verify", "--data", s.data, "--pubkey", "0" * 64)
    check(r.returncode == 1 and "signature" in r.stderr, f"pinned wrong key: {r.stderr}")
finally:
    s.cleanup()
done()
