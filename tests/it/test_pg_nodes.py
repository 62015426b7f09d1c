"""The control plane on PostgreSQL shared by two ooda nodes.

Two `ooda serve` processes with their own data dirs on one PostgreSQL
database: a token made on one works on the other at once (the token cache
hears the commit through LISTEN/NOTIFY), concurrent writes through both
leave one audit chain with no gap and no fork that `ooda audit verify`
accepts over HTTP and offline, a flag written on one is read on the other,
and the connection string (which may hold a password) appears in no log,
error, API answer or audit record. Runs on the PostgreSQL cluster tests/pg/run
started, or starts one itself."""
import json
import os
import subprocess
import threading
import time

from oodait import Server, check, done, pg_database, run, pg_yaml

var, dsn = pg_database()
# a keyword that changes nothing but marks the string: it must never show
secret = "s3cretdsnmark"
dsn += f" application_name={secret}"
os.environ[var] = dsn

a = Server(pg_var=var)
b = Server(pg_var=var)
try:
    check(a.data != b.data, "two data dirs")
    r = a.post("/api/v1/tokens", {"name": "root", "role": "admin"})
    check(r.status == 201, f"first token on node a: {r.status} {r.body}")
    root = r.json().get("token")
    a.token = b.token = root
    # the token cache re-checks the store's data version at most every 0.5 s
    deadline = time.time() + 5
    while True:
        r = b.get("/api/v1/tokens")
        if r.status == 200 or time.time() > deadline:
            break
        time.sleep(0.1)
    check(r.status == 200 and any(t["name"] == "root" for t in r.json()["tokens"]),
          f"node b knows node a's token: {r.status} {r.body}")

    # concurrent writes through both nodes: tokens and flag versions
    errors = []

    def writer(node, tag, n):
        for i in range(n):
            r = node.post("/api/v1/tokens", {"name": f"{tag}{i}", "role": "viewer"})
            if r.status != 201:
                errors.append((tag, i, r.status, r.body))
            flag = {"state": "ENABLED", "variants": {"on": True, "off": False},
                    "defaultVariant": "on" if i % 2 else "off"}
            r = node.request("PUT", f"/api/v1/flags/shared-{tag}-{i % 3}", flag, headers={"X-Ooda-Rationale": "load"})
            if r.status != 200:
                errors.append((tag, i, r.status, r.body))

    n = 15
    threads = [threading.Thread(target=writer, args=(node, tag, n))
               for node, tag in ((a, "a"), (a, "c"), (b, "b"), (b, "d"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(not errors, f"every write through either node succeeded: {errors[:3]}")

    recs = a.get("/api/v1/audit?order=asc&limit=1000").json()["records"]
    seqs = [x["seq"] for x in recs]
    check(seqs == list(range(1, len(seqs) + 1)), f"one chain, no gap or fork: {seqs[:5]}..{seqs[-5:]}")
    check(len(seqs) >= 1 + 4 * n * 2, f"every write audited: {len(seqs)} records")
    for node in (a, b):
        r = node.post("/api/v1/audit/verify", {})
        check(r.status == 200 and r.json().get("ok") and r.json().get("records") == len(seqs),
              f"audit verify over HTTP on {node.data}: {r.body}")
    r = run("audit", "verify", "--data", a.data)
    check(r.returncode == 0 and f"{len(seqs)} records" in r.stdout, f"audit verify offline: {r.stdout}{r.stderr}")
    r = a.cli("audit", "verify")
    check(r.returncode == 0, f"ooda audit verify: {r.stdout}{r.stderr}")

    # a flag written on b is read on a
    r = b.get("/api/v1/flags/shared-b-1")
    va = a.get("/api/v1/flags/shared-b-1")
    check(r.status == 200 and va.status == 200 and r.json() == va.json(), f"same flag on both nodes: {va.body}")

    # the connection string shows nowhere
    seen = [a.read_log(), b.read_log(), json.dumps(recs)]
    for path in ("/api/v1/status", "/api/v1/config", "/readyz", "/metrics", "/api/v1/tokens"):
        seen.append(a.get(path).body)
    check(not any(secret in x for x in seen), "the connection string is in no log, audit record or answer")
    check(any("control store: PostgreSQL" in line for line in a.read_log().splitlines()), "the backend is logged")

    # PostgreSQL goes away and comes back: writes fail with a problem, /readyz says the
    # store is not ready, and both come back without a restart of ooda
    here = os.path.dirname(os.path.abspath(__file__))
    cluster = [kv.split("=", 1)[1] for kv in dsn.split() if kv.startswith("host=")][0]
    subprocess.run([os.path.join(here, "../pg/stop"), "--keep", cluster], check=True)
    r = a.post("/api/v1/tokens", {"name": "while-down", "role": "viewer"})
    check(r.status >= 500 and r.headers.get("Content-Type") == "application/problem+json",
          f"write while PostgreSQL is down: {r.status} {r.body}")
    r = a.get("/readyz")
    check(r.status == 503, f"not ready while PostgreSQL is down: {r.status} {r.body}")
    subprocess.run([os.path.join(here, "../pg/start"), cluster], check=True, capture_output=True)
    deadline = time.time() + 10
    while True:
        r = a.post("/api/v1/tokens", {"name": "after", "role": "viewer"})
        if r.status == 201 or time.time() > deadline:
            break
        time.sleep(0.2)
    check(r.status == 201, f"writes work again once PostgreSQL is back: {r.status} {r.body}")
    r = a.get("/readyz")
    check(r.status == 200, f"ready again: {r.status} {r.body}")
    r = a.post("/api/v1/audit/verify", {})
    check(r.status == 200 and r.json().get("ok"), f"chain intact after the outage: {r.body}")
    seen += [a.read_log()]
    check(not any(secret in x for x in seen), "the connection string is in no log line of the outage")
finally:
    a.cleanup()
    b.cleanup()

# a server that cannot be reached: a clear start error naming the variable, not the string
os.environ["OODA_IT_BAD_DSN"] = "host=/nonexistent-ooda port=1 user=x password=hunter2secret dbname=nope"
import tempfile
tmp = tempfile.mkdtemp(prefix="ooda-it-pgbad-")
cfg = os.path.join(tmp, "ooda.yaml")
with open(cfg, "w") as f:
    f.write(pg_yaml("OODA_IT_BAD_DSN"))
r = run("serve", "--listen", "127.0.0.1:0", "--data", os.path.join(tmp, "data"), "--config", cfg, timeout=30)
check(r.returncode != 0 and "PostgreSQL" in r.stderr and "hunter2secret" not in r.stderr + r.stdout,
      f"unreachable PostgreSQL refused without the secret: {r.stderr!r}")
with open(cfg, "w") as f:
    f.write(pg_yaml("OODA_IT_UNSET_DSN"))
os.environ.pop("OODA_IT_UNSET_DSN", None)
r = run("serve", "--listen", "127.0.0.1:0", "--data", os.path.join(tmp, "data2"), "--config", cfg, timeout=30)
check(r.returncode != 0 and "OODA_IT_UNSET_DSN" in r.stderr, f"unset variable named: {r.stderr!r}")
done()
