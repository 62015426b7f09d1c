"""Change safety end to end: flags (OFREP sees a change at once, If-Match
412, history/diff/rollback, kill switches), config sets (ETag/304, YAML,
schema), deploys with snapshots, canary verification (inconclusive without
data, fail on a regression), the rollback planner (an irreversible migration
blocks it), a rollback run interrupted by kill -9 that resumes and finishes
exactly once, and four-eyes approvals (self-approval refused). Then: an
approval rule protects a flag on every path that changes it (PUT without
the tag, DELETE, rollback, import), and the actor of a record is always the
authenticated identity, whatever the body claims."""
import json
import os
import signal
import time
from oodait import Server, check, create_token, done

H = {"Content-Type": "application/json"}


def ofrep(s, key, ctx, env="prod", token=None):
    return s.post(f"/ofrep/v1/evaluate/flags/{key}", {"context": ctx}, headers={"X-Ooda-Env": env}, token=token)


def spans_payload(service, version, n, ms, errors, t_end_ns):
    spans = []
    for i in range(n):
        end = t_end_ns + i * 1000
        spans.append({"traceId": f"{i + 1:032x}", "spanId": f"{i + 1:016x}", "name": "GET /pay", "kind": 2,
                      "startTimeUnixNano": str(end - ms * 1_000_000), "endTimeUnixNano": str(end),
                      "status": {"code": 2 if i < errors else 1}})
    return {"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": service}},
        {"key": "service.version", "value": {"stringValue": version}}]},
        "scopeSpans": [{"spans": spans}]}]}


tmp_hook = None
s = None
try:
    # tokens: an admin (ops), two approvers (alice, bob), an app (ingest)
    import tempfile
    base = tempfile.mkdtemp(prefix="ooda-it-change-")
    data = os.path.join(base, "data")
    admin = create_token(data, "admin", "ops")
    alice = create_token(data, "approver", "alice")
    bob = create_token(data, "approver", "bob")
    app = create_token(data, "ingest", "app")
    hook_log = os.path.join(base, "hook.log")
    marker_dir = os.path.join(base, "markers")
    os.makedirs(marker_dir)
    hook = os.path.join(base, "redeploy.sh")
    with open(hook, "w") as f:
        # idempotent by (run, step): the marker is taken atomically, so a
        # resumed run does not redeploy twice
        f.write("#!/bin/sh\nmkdir \"%s/$OODA_RUN_ID-$OODA_STEP\" 2>/dev/null || exit 0\n"
                "sleep 2\necho \"$OODA_RUN_ID $OODA_STEP $OODA_VERSION\" >> \"%s\"\n" % (marker_dir, hook_log))
    os.chmod(hook, 0o755)
    config = f"""deploy:
  hooks:
    redeploy:
      exec: ["{hook}"]
      timeout: 30s
    migrate_down:
      exec: ["sh", "-c", "echo down $OODA_MIGRATION >> {hook_log}"]
approvals:
  - class: rollback
    env: prod
    expires: 1h
  - class: flag.change
    tags: [critical]
"""
    s = Server(config=config, data=data)
    s.token = admin

    # --- flags: create, OFREP sees it at once, stale If-Match is 412
    flag = {"state": "ENABLED", "variants": {"on": True, "off": False}, "defaultVariant": "off",
            "targeting": {"if": [{"ends_with": [{"var": "email"}, "@example.com"]}, "on", None]}}
    r = s.request("PUT", "/api/v1/flags/new-checkout?env=prod", flag, headers={"X-Ooda-Rationale": "launch"})
    check(r.status == 200 and r.json()["version"] == 1, f"flag created: {r.body}")
    r = ofrep(s, "new-checkout", {"targetingKey": "u1", "email": "a@example.com"}, token=app)
    check(r.status == 200 and r.json()["value"] is True and r.json()["reason"] == "TARGETING_MATCH",
          f"OFREP evaluates the targeting: {r.body}")
    flag["defaultVariant"] = "on"
    r = s.request("PUT", "/api/v1/flags/new-checkout?env=prod", flag, headers={"If-Match": '"v1"'})
    check(r.status == 200 and r.json()["version"] == 2, f"change with the right If-Match: {r.body}")
    r = ofrep(s, "new-checkout", {"targetingKey": "u2", "email": "b@other.org"}, token=app)
    check(r.status == 200 and r.json()["value"] is True,
          f"OFREP sees the change on the very next request: {r.body}")
    r = s.request("PUT", "/api/v1/flags/new-checkout?env=prod", flag, headers={"If-Match": '"v1"'})
    check(r.status == 412, f"stale If-Match is 412: {r.status} {r.body}")
    r = ofrep(s, "new-checkout", {}, env="staging", token=app)
    check(r.status == 404 and r.json()["errorCode"] == "FLAG_NOT_FOUND", f"other environment: {r.body}")
    r = s.request("PUT", "/api/v1/flags/bad?env=prod", {"state": "ENABLED", "variants": {"a": 1, "b": "x"},
                                                         "defaultVariant": "a"})
    check(r.status == 400, f"mixed variant types refused: {r.status} {r.body}")

    # bulk with ETag / 304
    r = s.post("/ofrep/v1/evaluate/flags", {"context": {"targetingKey": "u1"}}, headers={"X-Ooda-Env": "prod"},
               token=app)
    etag = r.headers.get("ETag")
    check(r.status == 200 and etag and any(f["key"] == "new-checkout" for f in r.json()["flags"]), f"bulk: {r.body}")
    r = s.post("/ofrep/v1/evaluate/flags", {"context": {"targetingKey": "u1"}},
               headers={"X-Ooda-Env": "prod", "If-None-Match": etag}, token=app)
    check(r.status == 304, f"bulk unchanged is 304: {r.status}")

    # history, diff, rollback through the CLI
    res = s.cli("flags", "history", "new-checkout", "--env", "prod")
    check(res.returncode == 0 and "v1" in res.stdout and "v2" in res.stdout and "launch" in res.stdout,
          f"flags history: {res.stdout}{res.stderr}")
    res = s.cli("flags", "diff", "new-checkout", "v1", "v2", "--env", "prod")
    check(res.returncode == 0 and '-   "defaultVariant": "off"' in res.stdout and '+   "defaultVariant": "on"' in res.stdout,
          f"flags diff: {res.stdout}{res.stderr}")
    res = s.cli("flags", "rollback", "new-checkout", "--to", "v1", "--env", "prod", "--rationale", "too early")
    check(res.returncode == 0, f"flags rollback: {res.stderr}")
    r = s.get("/api/v1/flags/new-checkout?env=prod")
    check(r.json()["version"] == 3 and r.json()["definition"]["defaultVariant"] == "off", f"v1 restored as v3: {r.body}")
    res = s.cli("flags", "get", "new-checkout", "--env", "prod", "--version", "v2")
    check(res.returncode == 0 and res.stdout.startswith("new-checkout (prod) v2 by ") and '"on"' in res.stdout,
          f"flags get --version: {res.stdout}{res.stderr}")
    r = s.get("/api/v1/events?kind=flag&since=5m")
    check(len(r.json()["events"]) >= 3, f"flag changes reach the timeline: {len(r.json()['events'])}")

    # kill switches: one flag, and every recent flag of a service
    svc_flag = {"state": "ENABLED", "variants": {"on": True, "off": False}, "defaultVariant": "on",
                "metadata": {"service": "checkout"}}
    s.request("PUT", "/api/v1/flags/fast-path?env=prod", svc_flag)
    s.request("PUT", "/api/v1/flags/new-banner?env=prod", svc_flag)
    res = s.cli("flags", "kill", "--service", "checkout", "--since", "1h", "--env", "prod", "--rationale", "incident")
    check(res.returncode == 0 and "fast-path" in res.stdout and "new-banner" in res.stdout, f"service kill: {res.stdout}")
    r = ofrep(s, "fast-path", {}, token=app)
    check(r.status == 200 and r.json().get("reason") == "DISABLED" and "value" not in r.json(),
          f"killed flag: a success with reason DISABLED and no value (the code default): {r.body}")

    # tagged flag changes need approval; self-approval is refused
    crit = {"state": "ENABLED", "variants": {"on": True, "off": False}, "defaultVariant": "off",
            "metadata": {"tags": "critical"}}
    r = s.request("PUT", "/api/v1/flags/payments-v2?env=prod", crit, headers={"X-Ooda-Rationale": "enable new payments"})
    check(r.status == 202 and r.json()["approval"], f"tagged flag change becomes an approval request: {r.body}")
    ap = r.json()["approval"]
    r = s.get("/api/v1/flags/payments-v2?env=prod")
    check(r.status == 404, "nothing changed before approval")

    # --- config sets
    r = s.request("PUT", "/api/v1/config-schemas/checkout", {"type": "object", "required": ["pool"],
                  "properties": {"pool": {"type": "integer", "minimum": 1}}})
    check(r.status == 200, f"schema stored: {r.body}")
    r = s.request("PUT", "/api/v1/configs/checkout/prod", "pool: 10\ntimeout: 5s\n",
                  headers={"Content-Type": "application/yaml"})
    check(r.status == 200 and r.json()["version"] == 1, f"YAML config v1: {r.body}")
    r = s.request("PUT", "/api/v1/configs/checkout/prod", "pool: 0\n", headers={"Content-Type": "application/yaml"})
    check(r.status == 422 and "/pool" in r.json()["detail"], f"schema violation refused with its path: {r.status} {r.body}")
    r = s.request("PUT", "/api/v1/configs/checkout/prod", '{"pool": 20, "timeout": "5s"}', headers=H)
    check(r.json()["version"] == 2, "config v2")
    r = s.get("/api/v1/configs/checkout/prod", token=app)
    etag = r.headers.get("ETag")
    check(r.status == 200 and json.loads(r.body)["pool"] == 20 and etag == '"v2"', f"config get with ETag: {r.body}")
    r = s.get("/api/v1/configs/checkout/prod", token=app, headers={"If-None-Match": etag})
    check(r.status == 304, f"unchanged config is 304 for pollers: {r.status}")
    res = s.cli("config", "diff", "checkout/prod", "v1", "v2")
    check('-   "pool": 10' in res.stdout and '+   "pool": 20' in res.stdout, f"config diff: {res.stdout}{res.stderr}")

    # a schema with oneOf and $ref is applied, not skipped; a keyword that cannot be checked is refused
    billing = {"$defs": {"port": {"type": "integer", "minimum": 1, "maximum": 65535},
                         "tcp": {"type": "object", "required": ["kind", "port"], "additionalProperties": False,
                                 "properties": {"kind": {"const": "tcp"}, "port": {"$ref": "#/$defs/port"}}},
                         "unix": {"type": "object", "required": ["kind", "path"], "additionalProperties": False,
                                  "properties": {"kind": {"const": "unix"}, "path": {"type": "string", "pattern": "^/"}}}},
               "type": "object", "required": ["db"],
               "properties": {"db": {"oneOf": [{"$ref": "#/$defs/tcp"}, {"$ref": "#/$defs/unix"}]}}}
    r = s.request("PUT", "/api/v1/config-schemas/billing", billing)
    check(r.status == 200, f"oneOf/$ref schema stored: {r.status} {r.body}")
    r = s.request("PUT", "/api/v1/configs/billing/prod", '{"db": {"kind": "tcp", "port": 5432}}', headers=H)
    check(r.status == 200, f"config matching one alternative accepted: {r.status} {r.body}")
    r = s.request("PUT", "/api/v1/configs/billing/prod", "db:\n  kind: tcp\n  port: 70000\n",
                  headers={"Content-Type": "application/yaml"})
    check(r.status == 422 and r.headers.get("Content-Type", "").startswith("application/problem+json")
          and "at /db/port: 70000 is above the maximum 65535" in r.json()["detail"],
          f"config violating the $ref'd definition refused with its path: {r.status} {r.body}")
    r = s.request("PUT", "/api/v1/config-schemas/billing",
                  {"type": "object", "properties": {"db": {"type": "object", "unevaluatedProperties": False}}})
    check(r.status == 422 and r.headers.get("Content-Type", "").startswith("application/problem+json")
          and "unevaluatedProperties at /properties/db is not supported" in r.json()["detail"],
          f"schema with an unsupported keyword refused by name: {r.status} {r.body}")
    r = s.request("PUT", "/api/v1/config-schemas/billing", {"$ref": "#"})
    check(r.status == 422 and "refers back to itself" in r.json()["detail"], f"$ref loop refused: {r.status} {r.body}")
    r = s.request("PUT", "/api/v1/configs/billing/prod", '{"db": {"kind": "udp"}}', headers=H)
    check(r.status == 422 and "schema of billing (v1)" in r.json()["detail"] and "/db" in r.json()["detail"],
          f"refused schemas were not stored, v1 still applies: {r.status} {r.body}")

    # --- deploys, migrations, plan
    r = s.post("/api/v1/migrations", {"service": "checkout", "id": "0041_add_col", "up": "0041.up.sql",
                                       "down": "0041.down.sql", "reversible": True})
    check(r.status == 201, f"migration registered: {r.body}")
    res = s.cli("deploy", "record", "--service", "checkout", "--env", "prod", "--version", "1.4.1",
                "--artifact", "sha256:aaa", "--actor", "ci", "--note", "weekly")
    check(res.returncode == 0 and "recorded" in res.stdout, f"deploy record: {res.stdout}{res.stderr}")
    d1 = res.stdout.split()[1]
    s.request("PUT", "/api/v1/flags/new-checkout?env=prod", dict(flag, defaultVariant="on"))
    s.request("PUT", "/api/v1/configs/checkout/prod", '{"pool": 30}', headers=H)
    r = s.post("/api/v1/deploys", {"service": "checkout", "env": "prod", "version": "1.4.2", "artifact": "sha256:bbb",
                                    "migrations": ["0041_add_col", "0042_drop_col"]})
    check(r.status == 201 and r.json()["previous"] == d1 and r.json()["config_version"] == 3, f"deploy 2: {r.body}")
    d2 = r.json()["id"]
    check(r.json()["flags"].get("new-checkout") == 4, f"flag snapshot captured: {r.json()['flags']}")
    res = s.cli("rollback", "plan", d2)
    check(res.returncode != 0 and "0042_drop_col" in res.stderr and "irreversible" in res.stderr,
          f"irreversible migration blocks the plan: {res.stdout}{res.stderr}")
    r = s.post(f"/api/v1/deploys/{d2}/rollback", {"rationale": "bad deploy"})
    check(r.status == 412, f"blocked plan refused: {r.status} {r.body}")
    res = s.cli("rollback", "run", d2, "--rationale", "bad deploy")
    check(res.returncode != 0 and "0042_drop_col" in res.stderr, f"ooda rollback run refused: {res.stdout}{res.stderr}")

    # --- canary verification
    r = s.post(f"/api/v1/deploys/{d2}/verify", {})
    check(r.status == 200 and r.json()["verdict"] == "inconclusive", f"no data is inconclusive: {r.body}")
    r = s.post("/api/v1/deploys", {"service": "payments", "env": "prod", "version": "2.0.0"})
    p1 = r.json()["id"]
    r = s.post("/api/v1/deploys", {"service": "payments", "env": "prod", "version": "2.1.0"})
    p2 = r.json()["id"]
    now = time.time_ns()
    s.post("/v1/traces", spans_payload("payments", "2.0.0", 200, 10, 0, now), token=app)
    s.post("/v1/traces", spans_payload("payments", "2.1.0", 200, 45, 40, now), token=app)
    res = s.cli("deploy", "verify", p2)
    check(res.returncode == 1 and "verdict: fail" in res.stdout, f"a regression fails verification: {res.stdout}")
    res = s.cli("deploy", "verify", p2, "--json")
    check(res.returncode == 1 and json.loads(res.stdout or "{}").get("verdict") == "fail",
          f"a failed verification exits 1 with --json too: {res.returncode} {res.stdout}")
    r = s.get(f"/api/v1/deploys/{p2}")
    check(r.json()["verification"]["verdict"] == "fail" and r.json()["verification"]["baseline"].startswith("previous"),
          f"verdict stored with its numbers: {r.body[:300]}")

    # --- rollback of payments (prod needs approval), interrupted by kill -9
    r = s.post(f"/api/v1/deploys/{p2}/rollback", {"rationale": "verification failed"}, token=app)
    check(r.status == 403, f"an ingest token cannot start rollbacks: {r.status}")
    r = s.post(f"/api/v1/deploys/{p2}/rollback", {"rationale": "verification failed"})
    check(r.status == 202 and r.json()["approval"], f"prod rollback needs approval: {r.body}")
    rb_ap = r.json()["approval"]
    r = s.post(f"/api/v1/approvals/{rb_ap}/approve", {"rationale": "me"})
    check(r.status == 403, f"the requester may not approve (admin role or not): {r.status} {r.body}")
    r = s.post(f"/api/v1/approvals/{ap}/reject", {"rationale": "not now"}, token=bob)
    check(r.status == 200 and r.json()["status"] == "rejected", f"flag request rejected: {r.body}")
    r = s.post(f"/api/v1/approvals/{rb_ap}/approve", {"rationale": "ok"}, token=alice)
    check(r.status == 200 and r.json().get("run"), f"approved: the rollback starts: {r.body}")
    run = r.json().get("run")
    time.sleep(1.0)  # the redeploy hook sleeps 2 s: kill in the middle
    s.stop(sig=signal.SIGKILL)
    s.start()
    r = s.get(f"/api/v1/rollbacks/{run}?wait=true")
    rj = r.json()
    check(rj.get("status") == "done" and all(x == "done" for x in rj["state"]), f"resumed run finished: {r.body[:400]}")
    res = s.cli("rollback", "status", run, "--wait")
    check(res.returncode == 0 and res.stdout.startswith(f"run {run} of {p2}: done"), f"ooda rollback status: {res.stdout}{res.stderr}")
    time.sleep(2.5)  # let an orphaned hook from before the crash finish
    lines = [l for l in open(hook_log).read().splitlines() if l.startswith(run)]
    check(len(lines) == 1, f"the redeploy happened exactly once: {lines}")
    r = s.get("/api/v1/deploys?service=payments")
    rolls = [d for d in r.json()["deploys"] if d.get("rollback_of") == p2]
    check(len(rolls) == 1 and rolls[0]["version"] == "2.0.0", f"exactly one rollback deploy, of 2.0.0: {rolls}")
    res = s.cli("deploy", "list", "--service", "payments", "--limit", "2")
    rows = res.stdout.splitlines()
    check(res.returncode == 0 and len(rows) == 3 and rows[1].startswith(rolls[0]["id"]) and rows[1].endswith("(rollback)")
          and rows[2].startswith(p2), f"ooda deploy list --service --limit: {res.stdout}{res.stderr}")
    # a rollback of the rollback restores 2.1.0 (the planner accepts it)
    r = s.get(f"/api/v1/deploys/{rolls[0]['id']}/rollback-plan")
    check(r.status == 200 and r.json()["to_version"] == "2.1.0", f"rollback of a rollback: {r.body[:300]}")
    r = s.get("/api/v1/audit?action=rollback.*")
    check(len(r.json()["records"]) >= 5, "every rollback step is audited")
    r = s.get("/api/v1/events?kind=rollback&service=payments&since=5m")
    check(any("finished" in (e["description"] or "") for e in r.json()["events"]), "rollback reaches the timeline")
finally:
    if s:
        s.cleanup()

# --- four-eyes protects the flag, not one verb; the actor is who authenticated
base2 = tempfile.mkdtemp(prefix="ooda-it-change2-")
data2 = os.path.join(base2, "data")
ops = create_token(data2, "admin", "ops")
rita = create_token(data2, "responder", "rita")
alice = create_token(data2, "approver", "alice")
app = create_token(data2, "ingest", "app")
s = Server(config="approvals:\n  - class: flag.change\n    tags: [critical]\n", data=data2)
try:
    plain = {"state": "ENABLED", "variants": {"on": True, "off": False}, "defaultVariant": "off"}
    crit = dict(plain, metadata={"tags": "critical"})
    r = s.request("PUT", "/api/v1/flags/pay?env=prod", plain, token=rita)
    check(r.status == 200 and r.json()["version"] == 1, f"untagged flag created: {r.body}")
    r = s.request("PUT", "/api/v1/flags/pay?env=prod", crit, token=rita)
    check(r.status == 202, f"tagging it needs approval: {r.status} {r.body}")
    r = s.post(f"/api/v1/approvals/{r.json()['approval']}/approve", {"rationale": "ok"}, token=alice)
    check(r.status == 200 and r.json()["status"] == "approved", f"tag approved: {r.body}")
    r = s.get("/api/v1/flags/pay?env=prod", token=ops)
    check(r.json()["version"] == 2 and r.json()["definition"]["metadata"]["tags"] == "critical", f"v2 tagged: {r.body}")

    def unchanged(what):
        r = s.get("/api/v1/flags/pay?env=prod", token=ops)
        check(r.status == 200 and r.json()["version"] == 2, f"{what}: the flag is unchanged: {r.status} {r.body[:200]}")

    r = s.request("PUT", "/api/v1/flags/pay?env=prod", dict(plain, defaultVariant="on"), token=rita)
    check(r.status == 202 and r.json().get("approval"), f"removing the tag needs approval: {r.status} {r.body}")
    unchanged("PUT without the tag")
    r = s.request("DELETE", "/api/v1/flags/pay?env=prod", token=rita)
    check(r.status == 202 and r.json().get("approval"), f"DELETE needs approval: {r.status} {r.body}")
    ap_del = r.json().get("approval")
    unchanged("DELETE")
    r = s.post("/api/v1/flags/pay/rollback?env=prod", {"to": 1, "rationale": "untag"}, token=rita)
    check(r.status == 202 and r.json().get("approval"), f"rollback needs approval: {r.status} {r.body}")
    ap_rb = r.json().get("approval")
    unchanged("rollback")
    r = s.post("/api/v1/flags/import?env=prod", {"flags": {"pay": dict(plain, defaultVariant="on")}}, token=rita)
    check(r.status == 409 and "pay" in r.json()["detail"] and "approval" in r.json()["detail"],
          f"import over a protected flag refused: {r.status} {r.body}")
    unchanged("import")
    r = s.post("/api/v1/flags/import?env=prod&replace=true", {"flags": {"other": plain}}, token=rita)
    check(r.status == 409 and "pay" in r.json()["detail"], f"replace=true may not drop a protected flag: {r.body}")
    unchanged("import with replace")
    r = s.get("/api/v1/flags/other?env=prod", token=ops)
    check(r.status == 404, f"a refused import writes nothing: {r.status}")
    # a protected flag that $refs an evaluator: changing the evaluator changes the flag
    r = s.post("/api/v1/flags/import?env=beta", {"$evaluators": {"vip": {"==": [{"var": "tier"}, "gold"]}},
                                                 "flags": {"plain": plain}}, token=ops)
    check(r.status == 200, f"evaluator imported: {r.body}")
    reffed = dict(crit, targeting={"if": [{"$ref": "vip"}, "on", "off"]})
    r = s.request("PUT", "/api/v1/flags/vipflag?env=beta", reffed, token=ops)
    r = s.post(f"/api/v1/approvals/{r.json()['approval']}/approve", {"rationale": "ok"}, token=alice)
    check(r.status == 200 and r.json().get("flag_version") == 1, f"protected flag using $ref: {r.body}")
    doc = s.get("/api/v1/flags/export?env=beta", token=ops).json()
    doc["$evaluators"]["vip"] = True
    r = s.post("/api/v1/flags/import?env=beta", doc, token=rita)
    check(r.status == 409 and "vipflag" in r.json()["detail"] and "$evaluators" in r.json()["detail"],
          f"changing an evaluator a protected flag uses is refused: {r.status} {r.body}")
    exported = s.get("/api/v1/flags/export?env=prod", token=ops).json()
    r = s.post("/api/v1/flags/import?env=prod", exported, token=rita)
    check(r.status == 200 and r.json()["changed"] == 0, f"an import leaving the protected flag as is passes: {r.body}")
    # the approved requests run: the rollback (v1, untagged), then the delete
    r = s.post(f"/api/v1/approvals/{ap_rb}/approve", {"rationale": "ok"}, token=alice)
    check(r.status == 200 and r.json().get("flag_version") == 3, f"approved rollback performed: {r.body}")
    r = s.get("/api/v1/flags/pay?env=prod", token=ops)
    check("metadata" not in r.json()["definition"] and r.json()["author"] == "token:rita",
          f"v1 restored in the requester's name: {r.body}")
    r = s.post(f"/api/v1/approvals/{ap_del}/approve", {"rationale": "ok"}, token=alice)
    check(r.status == 200 and r.json().get("flag_version") == 4, f"approved delete performed: {r.body}")
    r = s.get("/api/v1/flags/pay?env=prod", token=ops)
    check(r.status == 404, f"deleted after approval: {r.status}")
    # the kill switch stays immediate: an emergency brake that only disables
    r = s.request("PUT", "/api/v1/flags/brake?env=prod", crit, token=ops)
    r = s.post(f"/api/v1/approvals/{r.json()['approval']}/approve", {"rationale": "ok"}, token=alice)
    r = s.post("/api/v1/flags/brake/kill?env=prod", {"rationale": "incident"}, token=rita)
    check(r.status == 200 and "brake" in r.body, f"kill of a protected flag is immediate: {r.status} {r.body}")

    # a deploy rollback that would restore a protected flag needs the same approval
    gflag = dict(crit, metadata={"tags": "critical", "service": "shop"})
    r = s.request("PUT", "/api/v1/flags/g?env=prod", gflag, token=ops)
    s.post(f"/api/v1/approvals/{r.json()['approval']}/approve", {"rationale": "ok"}, token=alice)
    s.post("/api/v1/deploys", {"service": "shop", "env": "prod", "version": "1", "artifact": "a"}, token=ops)
    r = s.request("PUT", "/api/v1/flags/g?env=prod", dict(gflag, defaultVariant="on"), token=ops)
    s.post(f"/api/v1/approvals/{r.json()['approval']}/approve", {"rationale": "ok"}, token=alice)
    r = s.post("/api/v1/deploys", {"service": "shop", "env": "prod", "version": "2", "artifact": "b"}, token=ops)
    check(r.status == 201 and r.json()["flags"].get("g") == 2, f"deploy 2 snapshots g v2: {r.body[:300]}")
    r = s.post(f"/api/v1/deploys/{r.json()['id']}/rollback", {"rationale": "bad"}, token=rita)
    check(r.status == 202 and r.json().get("approval"), f"a rollback restoring a protected flag is filed: {r.body[:300]}")
    r = s.get("/api/v1/flags/g?env=prod", token=ops)
    check(r.json()["version"] == 2, f"g unchanged until approved: {r.body[:200]}")

    # actor spoofing: the body's name is only reported_by
    r = s.post("/api/v1/deploys", {"service": "web", "env": "prod", "version": "1.0", "artifact": "x",
                                    "actor": "token:ops"}, token=app)
    check(r.status == 201 and r.json()["actor"] == "token:app" and r.json().get("reported_by") == "token:ops",
          f"deploy actor is the token, the claim is reported_by: {r.body[:300]}")
    r = s.get(f"/api/v1/deploys/{r.json()['id']}", token=ops)
    check(r.json()["actor"] == "token:app", f"deploy shown with the real actor: {r.body[:300]}")
    r = s.post("/api/v1/events", {"kind": "deploy", "service": "web", "version": "1.1", "actor": "token:ops"},
               token=app)
    check(r.status == 202, f"event accepted: {r.body}")
    evs = s.get("/api/v1/events?service=web&since=5m", token=ops).json()["events"]
    ev = [e for e in evs if e.get("version") == "1.1"]
    check(ev and ev[0]["actor"] == "token:app" and "reported_by" in json.dumps(ev[0]) and "token:ops" in json.dumps(ev[0]),
          f"event actor is the token, the claim kept as reported_by: {ev}")
    r = s.post("/api/v1/silences", {"service": "web", "duration": "1h", "reason": "maint", "creator": "token:ops"},
               token=rita)
    check(r.status == 201, f"silence created: {r.body}")
    sil = [x for x in s.get("/api/v1/silences", token=ops).json()["silences"] if x["id"] == r.json()["id"]]
    check(sil and sil[0]["creator"] == "token:rita", f"silence creator is the token: {sil}")
    check(sil and sil[0].get("reported_by") == "token:ops", f"the claimed creator is kept as reported_by: {sil}")
finally:
    s.cleanup()
done()
