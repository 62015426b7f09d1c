"""`ooda migrate`: an embedded data dir into PostgreSQL + ClickHouse and back.

A data dir is filled through the API (a flag with three versions, an
incident with a timeline, tokens, the audit records all that writes, OTLP
logs, spans and metrics), then moved with `ooda migrate --to
postgres,clickhouse` into a throwaway PostgreSQL and ClickHouse; a daemon on
those answers the same flag history, incident, timeline, log search, trace
and PromQL queries as the embedded one did and its audit chain verifies;
`ooda migrate --to sqlite` brings it all back into a new data dir, where a
daemon answers the same again. Then the refusals: a daemon holding the data
dir, a target that already holds data (nothing written), a new data dir
that is not new, a ClickHouse that cannot be reached (PostgreSQL gets no
row). Starts its own PostgreSQL (or uses tests/pg/run's) and ClickHouse."""
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.parse

import oodait
from oodait import SHARED, Server, check, done, run

# the source is an embedded data dir whatever the suite: this test makes its own PostgreSQL databases
oodait.PG = False
SAMPLES = os.path.join(SHARED, "samples")
VOLATILE = {"scanned", "took_ms", "duration_ms", "partial", "truncated", "next_cursor", "request_id"}


def shifted(v, delta):
    if isinstance(v, dict):
        return {k: (str(int(x) + delta) if k.endswith("UnixNano") and int(x) else shifted(x, delta))
                for k, x in v.items()}
    return [shifted(x, delta) for x in v] if isinstance(v, list) else v


# the samples' times moved to the last minute: older records would fall to retention (7 days) on a restart
DELTA = None


def sample(name):
    global DELTA
    with open(os.path.join(SAMPLES, name), "rb") as f:
        j = json.load(f)
    if DELTA is None:
        DELTA = time.time_ns() - 60 * 10**9 - int(json.load(open(os.path.join(SAMPLES, "otlp_metrics.json")))[
            "resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]["sum"]["dataPoints"][0]["timeUnixNano"])
    return json.dumps(shifted(j, DELTA))


def q(s):
    return urllib.parse.quote(s, safe="")


def strip(v):
    if isinstance(v, dict):
        return {k: strip(x) for k, x in v.items() if k not in VOLATILE}
    if isinstance(v, list):
        return [strip(x) for x in v]
    return v


def fill(s):
    r = s.post("/api/v1/tokens", {"name": "root", "role": "admin"})
    check(r.status == 201, f"first token: {r.status} {r.body}")
    s.token = r.json()["token"]
    r = s.post("/api/v1/tokens", {"name": "reader", "role": "viewer"})
    check(r.status == 201, f"second token: {r.status}")
    for i, default in enumerate(["off", "on", "off"]):
        flag = {"state": "ENABLED", "variants": {"on": True, "off": False}, "defaultVariant": default}
        r = s.request("PUT", "/api/v1/flags/new-checkout", flag, headers={"X-Ooda-Rationale": f"step {i}"})
        check(r.status == 200, f"flag version {i + 1}: {r.status} {r.body}")
    r = s.post("/api/v1/incidents", {"title": "checkout errors", "service": "checkout", "severity": "SEV2"})
    check(r.status == 201, f"incident: {r.status} {r.body}")
    r = s.post("/api/v1/incidents/INC-1/transition", {"to": "acknowledged", "note": "looking into it"})
    check(r.status == 200, f"acknowledged: {r.status} {r.body}")
    for path, ctype, name in (("/v1/logs", "application/json", "otlp_logs.json"),
                              ("/v1/traces", "application/json", "otlp_traces.json"),
                              ("/v1/metrics", "application/json", "otlp_metrics.json")):
        r = s.post(path, sample(name), headers={"Content-Type": ctype})
        check(r.status == 200, f"ingest {name}: {r.status} {r.body[:200]}")
    now = time.time_ns()
    lines = "".join(json.dumps({"time": now - (200 - i) * 1_000_000, "service": "ndj", "severity": "info",
                                "body": f"line {i} " + ("connection refused" if i % 7 == 0 else "ok")}) + "\n"
                    for i in range(200))
    r = s.post("/api/v1/logs", lines, headers={"Content-Type": "application/x-ndjson"})
    check(r.status in (200, 202), f"NDJSON: {r.status} {r.body[:200]}")
    for i, svc in enumerate(["checkout", "o'brien"]):
        r = s.post("/api/v1/events", {"id": f"ev-{i}", "kind": "deploy", "service": svc, "version": f"1.{i}",
                                      "actor": "alice", "time": now - i * 1_000_000_123,
                                      "attributes": {"git": {"sha": "abc"}, "n": i}})
        check(r.status in (200, 202), f"event {i}: {r.status} {r.body[:200]}")


def queries():
    tj = json.loads(sample("otlp_traces.json"))
    trace = tj["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"].lower()
    mj = json.loads(sample("otlp_metrics.json"))
    t0 = min(int(dp["timeUnixNano"]) for rm in mj["resourceMetrics"] for sm in rm["scopeMetrics"]
             for m in sm["metrics"] for kind in ("sum", "gauge", "histogram") if kind in m
             for dp in m[kind]["dataPoints"]) / 1e9
    return [
        "/api/v1/flags/new-checkout/history",
        "/api/v1/flags/new-checkout",
        "/api/v1/incidents/INC-1",
        "/api/v1/incidents/INC-1/timeline",
        "/api/v1/tokens",
        "/api/v1/events?since=3650d",
        "/api/v1/logs/search?since=3650d&limit=1000&q=" + q("refused"),
        "/api/v1/logs/search?since=3650d&limit=1000&q=" + q("service:ndj"),
        "/api/v1/traces/" + trace,
        f"/api/v1/query?query={q('sum(http_requests_total)')}&time={t0 + 1}",
        f"/api/v1/query_range?query={q('http_requests_total')}&start={t0 - 60}&end={t0 + 60}&step=15",
    ]


def answers(s):
    out = {}
    for path in queries():
        r = s.get(path)
        check(r.status == 200, f"{path}: {r.status} {r.body[:300]}")
        out[path] = strip(r.json()) if r.status == 200 else None
    return out


def same(before, after, where):
    for path in before:
        check(before[path] == after.get(path),
              f"{where}: {path} differs\n  before {json.dumps(before[path])[:700]}\n  after  {json.dumps(after.get(path))[:700]}")


def psql_count(dsn, table):
    r = subprocess.run(["psql", "-qtAX", dsn, "-c", f"SELECT count(*) FROM {table}"], capture_output=True, text=True)
    return int(r.stdout.strip()) if r.returncode == 0 else -1


tmp = tempfile.mkdtemp(prefix="ooda-it-migrate-")
src = Server(telemetry="sqlite")
servers = [src]
try:
    fill(src)
    root = src.token
    before = answers(src)
    check(before["/api/v1/incidents/INC-1/timeline"] and len(before["/api/v1/flags/new-checkout/history"]["versions"]
                                                             if isinstance(before["/api/v1/flags/new-checkout/history"], dict)
                                                             else before["/api/v1/flags/new-checkout/history"]) == 3,
          f"three flag versions: {json.dumps(before['/api/v1/flags/new-checkout/history'])[:300]}")

    check({"ev-0", "ev-1"} <= {e["id"] for e in before["/api/v1/events?since=3650d"]["events"]},
          f"the two deploy events: {before['/api/v1/events?since=3650d']}")
    var, dsn = oodait.pg_database()
    ch_db = "mig_" + os.urandom(4).hex()
    cfg = os.path.join(tmp, "scale.yaml")
    with open(cfg, "w") as f:
        f.write(oodait.telemetry_yaml(ch_db) + f"  control:\n    backend: postgres\n    dsn_env: {var}\n")

    # a daemon holds the data dir: refused, nothing written
    r = run("migrate", "--data", src.data, "--to", "postgres,clickhouse", "--config", cfg)
    check(r.returncode != 0 and "in use" in r.stderr, f"refused while the daemon runs: {r.returncode} {r.stderr!r}")
    check(psql_count(dsn, "audit") <= 0, "nothing reached PostgreSQL while the daemon ran")
    # and a second daemon on the same data dir
    r = run("serve", "--listen", "127.0.0.1:0", "--data", src.data, timeout=20)
    check(r.returncode != 0 and "in use" in r.stderr, f"a second daemon on the data dir: {r.stderr[-300:]!r}")
    check(src.get("/api/v1/incidents/INC-1").status == 200, "the first daemon goes on")
    check(src.stop() == 0, "the embedded ooda stops cleanly")

    # ClickHouse cannot be reached: refused before any row is written to PostgreSQL
    bad = os.path.join(tmp, "bad.yaml")
    with open(bad, "w") as f:
        f.write(f"storage:\n  telemetry:\n    backend: clickhouse\n    url: http://127.0.0.1:9\n    database: x\n"
                f"  control:\n    backend: postgres\n    dsn_env: {var}\n")
    r = run("migrate", "--data", src.data, "--to", "postgres,clickhouse", "--config", bad)
    check(r.returncode != 0 and "ClickHouse" in r.stderr, f"unreachable ClickHouse: {r.returncode} {r.stderr!r}")
    check(psql_count(dsn, "audit") == 0 and psql_count(dsn, "docs") == 0,
          f"no row in PostgreSQL after the refusal: audit {psql_count(dsn, 'audit')}")

    # a failure midway: a trigger makes PostgreSQL refuse the incidents' timelines after the tables before them went in
    var2, dsn2 = oodait.pg_database()
    with open(bad.replace("bad.yaml", "bad2.yaml"), "w") as f:
        f.write(open(bad).read().replace(var, var2))
    r = run("migrate", "--data", src.data, "--to", "postgres,clickhouse", "--config", bad.replace("bad.yaml", "bad2.yaml"))
    check(r.returncode != 0, "the second database gets its schema and no row")
    trig = ("CREATE FUNCTION boom() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'disk on fire'; END $$ LANGUAGE plpgsql;"
            "CREATE TRIGGER boom BEFORE INSERT ON incident_timeline FOR EACH ROW EXECUTE FUNCTION boom();")
    t = subprocess.run(["psql", "-qX", dsn2, "-c", trig], capture_output=True, text=True)
    check(t.returncode == 0, f"trigger: {t.stderr}")
    half = os.path.join(tmp, "half.yaml")
    with open(half, "w") as f:
        f.write(f"storage:\n  control:\n    backend: postgres\n    dsn_env: {var2}\n")
    r = run("migrate", "--data", src.data, "--to", "postgres", "--config", half)
    check(r.returncode != 0 and "incident_timeline" in r.stderr and "the source is untouched" in r.stderr
          and "drop and create the PostgreSQL database" in r.stderr, f"a failure midway says so: {r.stderr[-600:]!r}")
    check(psql_count(dsn2, "tokens") == 2 and psql_count(dsn2, "incident_timeline") == 0,
          "the tables before the failure were copied, the failing one not")
    src.start()
    same(before, answers(src), "the source after a failed migration")
    check(src.stop() == 0, "the embedded ooda stops cleanly again")

    # into PostgreSQL and ClickHouse
    t = time.time()
    r = run("migrate", "--data", src.data, "--to", "postgres,clickhouse", "--config", cfg, "--rationale", "scale out",
            timeout=120)
    check(r.returncode == 0, f"migrate to postgres,clickhouse: {r.returncode}\n{r.stdout}\n{r.stderr}")
    print(f"migrate out: {time.time() - t:.1f} s\n{r.stdout}")
    for want in ("audit ", "docs ", "incident_timeline ", "tokens ", "logs ", "spans ", "metric points ", "change events ",
                 "audit verify on the target: ok"):
        check(want in r.stdout, f"the summary names {want!r}: {r.stdout}")
    check(dsn not in r.stdout + r.stderr, "the connection string is not printed")
    r = run("migrate", "--data", src.data, "--to", "postgres,clickhouse", "--config", cfg, "--json", timeout=60)
    audit_rows = psql_count(dsn, "audit")
    check(r.returncode != 0 and "already holds" in r.stderr, f"a target with data is refused: {r.stderr!r}")
    check(psql_count(dsn, "audit") == audit_rows, "and nothing was written to it")

    with open(cfg) as f:
        big = Server(data=os.path.join(tmp, "scale-data"), config=f.read(), telemetry="clickhouse")
    servers.append(big)
    big.token = root
    same(before, answers(big), "on PostgreSQL + ClickHouse")
    r = big.post("/api/v1/audit/verify", {})
    check(r.status == 200 and r.json().get("ok") is True, f"audit verify on PostgreSQL: {r.status} {r.body[:300]}")
    r = big.get("/api/v1/audit?action=store.migrate")
    check(r.status == 200 and "store.migrate" in r.body and "scale out" in r.body,
          f"the move is in the audit log with its rationale: {r.body[:400]}")
    check(big.stop() == 0, "the ooda on PostgreSQL + ClickHouse stops cleanly")

    # back into a new data dir
    back = os.path.join(tmp, "back")
    r = run("migrate", "--data", src.data, "--to", "sqlite", "--config", cfg)
    check(r.returncode != 0 and "already holds" in r.stderr, f"--to sqlite into a used data dir: {r.stderr!r}")
    r = run("migrate", "--data", back, "--to", "sqlite", "--config", cfg, "--json", timeout=120)
    check(r.returncode == 0, f"migrate to sqlite: {r.returncode}\n{r.stdout}\n{r.stderr}")
    summary = json.loads(r.stdout) if r.returncode == 0 else {}
    check(summary.get("audit_verified") is True and all(t["source"] == t["target"] for t in summary.get("tables", [])),
          f"the JSON summary: {r.stdout[:500]}")
    home = Server(data=back, telemetry="sqlite")
    servers.append(home)
    home.token = root
    same(before, answers(home), "back on the embedded store")
    check(home.stop() == 0, "the embedded ooda on the copy stops cleanly")
    r = run("audit", "verify", "--data", back)
    check(r.returncode == 0, f"audit verify offline on the new data dir: {r.stdout} {r.stderr}")
finally:
    for s in servers:
        s.cleanup()
    shutil.rmtree(tmp, ignore_errors=True)
done()
