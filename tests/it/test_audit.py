"""Audit: every mutating call is recorded with its actor; verify catches a hand edit
and names the row, the detail column included; checkpoints (by count and by time) catch a
rewritten chain; an anchored head catches rows deleted with their checkpoints; backup keeps
a valid chain; a data dir from before the detail was chained still verifies."""
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from oodait import PG, Server, check, control_db, create_token, done, run

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
    if PG:
        check(r.returncode != 0 and "pg_dump" in r.stderr, f"backup on PostgreSQL points at pg_dump: {r.stderr}")
    else:
        check(r.returncode == 0 and os.path.exists(os.path.join(bdir, "control.db")), f"backup: {r.stderr}")
        r = run("audit", "verify", "--data", bdir)
        check(r.returncode == 0, f"backup verifies: {r.stdout}{r.stderr}")

    # a hand edit of row 3 is caught and named, over HTTP and offline
    db = control_db(s.data)
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
    db = control_db(s.data)
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

# --- the hardening of the chain ------------------------------------------------------------

def edit(data, *stmts):
    db = control_db(data)
    for q in stmts:
        db.execute(q)
    db.commit()
    db.close()


# the detail of a record is chained: raising a token's role in it is caught and named
s = Server()
try:
    r = s.post("/api/v1/tokens", {"name": "a", "role": "admin"})
    s.token = r.json()["token"]
    check(s.post("/api/v1/tokens", {"name": "collector", "role": "ingest"}).status == 201, "ingest token")
    rec = [x for x in s.get("/api/v1/audit").json()["records"] if x["detail"] and x["detail"]["name"] == "collector"][0]
    check(rec["detail"]["role"] == "ingest" and rec["hash_version"] == 2, f"detail shown, hash version 2: {rec}")
    edit(s.data, "UPDATE audit SET detail = replace(detail, '\"role\":\"ingest\"', '\"role\":\"admin\"')"
                 f" WHERE seq = {rec['seq']}")
    r = s.post("/api/v1/audit/verify", {})
    check(r.status == 200 and r.json()["ok"] is False and r.json()["first_bad_seq"] == rec["seq"],
          f"edited detail caught over HTTP: {r.body}")
    r = s.cli("audit", "verify")
    check(r.returncode == 1 and f"seq {rec['seq']}" in r.stderr and "altered" in r.stderr, f"edited detail, CLI: {r.stderr}")
    r = run("audit", "verify", "--data", s.data)
    check(r.returncode == 1 and f"seq {rec['seq']}" in r.stderr, f"edited detail, offline: {r.stderr}")
finally:
    s.cleanup()

# rows deleted together with the checkpoints that name them: caught by an anchored head
s = Server(config="audit:\n  checkpoint_every: 2\n")
try:
    r = s.post("/api/v1/tokens", {"name": "a", "role": "admin"})
    s.token = r.json()["token"]
    for i in range(3):
        check(s.post("/api/v1/tokens", {"name": f"t{i}", "role": "viewer"}).status == 201, f"token t{i}")
    r = s.cli("audit", "anchor")
    lines = r.stdout.splitlines()
    check(r.returncode == 0 and len(lines) == 1, f"anchor is one line: {r.stdout!r} {r.stderr}")
    anchor = json.loads(lines[0])
    # each node signs with its own key: pin every node's (one key on one node)
    pks = [run("audit", "pubkey", "--data", d).stdout.strip() for d in [s.data] + [f.data for f in s.followers]]
    pk = ",".join(pks)
    check(anchor["seq"] == 5 and len(anchor["hash"]) == 64 and len(anchor["signature"]) == 128
          and anchor["public_key"] in pks and anchor["time"].endswith("Z"), f"anchor fields: {anchor}")
    anchors = os.path.join(s.tmp, "anchors.jsonl")
    with open(anchors, "a") as f:
        f.write(lines[0] + "\n")
    for i in range(2):
        check(s.post("/api/v1/tokens", {"name": f"u{i}", "role": "viewer"}).status == 201, f"token u{i}")
    r = s.cli("audit", "verify", "--checkpoint", anchors)
    check(r.returncode == 0 and "1 anchored heads matched" in r.stdout, f"anchor found on the chain: {r.stdout}{r.stderr}")
    r = run("audit", "verify", "--data", s.data, "--checkpoint", anchors, "--pubkey", pk)
    check(r.returncode == 0, f"anchor found offline: {r.stdout}{r.stderr}")

    edit(s.data, "DELETE FROM audit WHERE seq > 3", "DELETE FROM audit_checkpoints WHERE seq > 3")
    r = run("audit", "verify", "--data", s.data, "--checkpoint", anchors, "--pubkey", pk)
    check(r.returncode == 1 and "seq 4" in r.stderr and "anchored head is record 5" in r.stderr,
          f"truncation caught offline: {r.stderr}")
    r = s.cli("audit", "verify", "--checkpoint", anchors)
    check(r.returncode == 1 and "seq 4" in r.stderr and "anchored head is record 5" in r.stderr,
          f"truncation caught online: {r.stderr}")
    r = s.cli("audit", "verify", "--head", f"{anchor['seq']}:{anchor['hash']}")
    check(r.returncode == 1 and "seq 4" in r.stderr, f"truncation caught with --head: {r.stderr}")
    r = s.post("/api/v1/audit/verify", {"head": anchor})
    check(r.status == 200 and r.json()["ok"] is False and r.json()["first_bad_seq"] == 4,
          f"truncation caught over HTTP: {r.body}")
    r = s.post("/api/v1/audit/verify", {"heads": [f"3:{'0' * 64}"]})
    check(r.status == 200 and r.json()["ok"] is False and r.json()["first_bad_seq"] == 3
          and "anchored head" in r.json()["reason"], f"head with another hash: {r.body}")

    # bad heads are a 400 naming the member; nothing is verified against a forged anchor
    forged = dict(anchor, signature="0" * 128)
    for body, field in [({"heads": [{"seq": 5, "hash": "xyz"}]}, "heads[0].hash"),
                        ({"head": "5"}, "head"), ({"heads": "5:00"}, "heads"),
                        ({"head": {"hash": anchor["hash"]}}, "head.seq"),
                        ({"head": forged}, "head.signature"),
                        ({"head": dict(anchor, public_key="ab" * 32)}, "head.public_key")]:
        r = s.post("/api/v1/audit/verify", body)
        check(r.status == 400 and r.headers.get("Content-Type", "").startswith("application/problem+json")
              and field in r.json().get("detail", ""), f"{body} -> 400 naming {field}: {r.status} {r.body}")
    r = s.cli("audit", "verify", "--head", "five:beef")
    check(r.returncode != 0 and "--head" in r.stderr, f"bad --head named: {r.stderr}")
    with open(os.path.join(s.tmp, "bad.jsonl"), "w") as f:
        f.write(json.dumps(forged) + "\n")
    r = run("audit", "verify", "--data", s.data, "--checkpoint", os.path.join(s.tmp, "bad.jsonl"))
    check(r.returncode != 0 and "bad.jsonl:1.signature" in r.stderr, f"forged anchor line named: {r.stderr}")
finally:
    s.cleanup()

# checkpoints by time: a record does not stay unsigned longer than checkpoint_interval
s = Server(config="audit:\n  checkpoint_every: 0\n  checkpoint_interval: 1s\n")
try:
    r = s.post("/api/v1/tokens", {"name": "a", "role": "admin"})
    check(r.status == 201, "one record")
    s.token = r.json()["token"]
    deadline = time.time() + 20
    n = 0
    while time.time() < deadline and n == 0:
        n = s.post("/api/v1/audit/verify", {}).json()["checkpoints_verified"]
        if n == 0:
            time.sleep(0.2)
    check(n == 1, f"timed checkpoint written: {n}")
    s.stop()
    edit(s.data, "DELETE FROM audit WHERE seq = 1")
    r = run("audit", "verify", "--data", s.data)
    check(r.returncode == 1 and "seq 1" in r.stderr and "removed" in r.stderr, f"deleted record caught: {r.stderr}")
finally:
    s.cleanup()

if PG:
    # a PostgreSQL store starts at the current schema: it has no version-1 data dir to upgrade
    done()
    sys.exit(0)

# a data dir written before the detail was chained: its chain still verifies, new records
# are version 2 after it, and a new record cannot be relabelled version 1
tmp = tempfile.mkdtemp(prefix="ooda-it-old-")
old = os.path.join(tmp, "data")
os.makedirs(old, mode=0o700)
db = sqlite3.connect(os.path.join(old, "control.db"))
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "audit_v1_control.sql")) as f:
    db.executescript(f.read())
db.close()
with open(os.path.join(old, "audit-ed25519.key"), "wb") as f:
    f.write(bytes.fromhex("f4b27a8bc532a394ab5c7aa0ea6e08206d13bf5b45baaef5f65afea4b18b99e0"
                          "135866d1903c0d1820f873f46276dfc300e57309b6527b2732cecf894240fee2"))
os.chmod(os.path.join(old, "audit-ed25519.key"), 0o600)
s = Server(data=old)
try:
    s.token = "ooda_cJzAj-mFa1DwWN_Uck-MbE7apd8Q-RN7GeQb_5qHz1k"
    r = s.post("/api/v1/audit/verify", {})
    check(r.status == 200 and r.json()["ok"] and r.json()["records"] == 5 and r.json()["checkpoints_verified"] >= 1,
          f"old chain verifies after the upgrade: {r.body}")
    for name in ("new", "newer"):
        check(s.post("/api/v1/tokens", {"name": name, "role": "viewer"}).status == 201, "token on the old data dir")
    recs = s.get("/api/v1/audit?order=asc").json()["records"]
    check([x["hash_version"] for x in recs] == [1, 1, 1, 1, 1, 2, 2], f"old records v1, new v2: {recs}")
    r = s.cli("audit", "verify")
    check(r.returncode == 0 and "7 records" in r.stdout, f"mixed chain verifies: {r.stdout}{r.stderr}")
    edit(old, "UPDATE audit SET hash_version = 1 WHERE seq = 7")
    r = s.cli("audit", "verify")
    check(r.returncode == 1 and "seq 7" in r.stderr and "downgrade" in r.stderr, f"downgrade refused: {r.stderr}")
finally:
    s.cleanup()
    shutil.rmtree(tmp, ignore_errors=True)
done()
