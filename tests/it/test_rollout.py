"""Progressive rollouts end to end, with spans sent over OTLP as a service's
old and new versions would: a flag rollout whose new variant is healthy is
promoted step by step to 100 % (OFREP then serves it to everyone); one whose
new variant answers errors is aborted at its first step and the flag is back
at its pre-rollout content; a deploy split by its own flag is aborted with the
flag restored and the deploy's rollback run started; a step marked approval waits, its starter cannot
approve it and promote does not replace the approval, another person's
approval lets it go on; a step whose flag was deleted stops the rollout
with the reason; a daemon killed mid-rollout resumes it at its step; a token
scoped to another environment can neither start, read nor steer one.
Bad plans are refused naming the member; every decision is in the audit log
with its actor and reason, and in the change timeline."""
import json
import signal
import time
from oodait import Server, check, create_token, done, wait_until


def spans(service, version, n, errors, ms=10):
    now = time.time_ns()
    out = []
    for i in range(n):
        end = now + i * 1000
        out.append({"traceId": f"{time.time_ns() + i:032x}", "spanId": f"{i + 1:016x}", "name": "GET /", "kind": 2,
                    "startTimeUnixNano": str(end - ms * 1_000_000), "endTimeUnixNano": str(end),
                    "status": {"code": 2 if i < errors else 1}})
    return {"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": service}},
        {"key": "service.version", "value": {"stringValue": version}}]},
        "scopeSpans": [{"spans": out}]}]}


def put_flag(s, key, rationale="new variant behind a flag"):
    flag = {"state": "ENABLED", "variants": {"old": "v1", "new": "v2"}, "defaultVariant": "old",
            "metadata": {"service": key}}
    r = s.request("PUT", f"/api/v1/flags/{key}?env=prod", flag, headers={"X-Ooda-Rationale": rationale})
    check(r.status == 200, f"flag {key} created: {r.status} {r.body}")
    return r.json()["version"]


def drive(s, app, rid, service, canary_errors, until, timeout=30):
    """Sends 30 requests of each version every 0.3 s until the rollout's status is in until."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        s.post("/v1/traces", spans(service, "1.0.0", 30, 0), token=app)
        s.post("/v1/traces", spans(service, "2.0.0", 30, canary_errors), token=app)
        r = s.get(f"/api/v1/rollouts/{rid}")
        if r.json()["status"] in until:
            return r.json()
        time.sleep(0.3)
    r = s.get(f"/api/v1/rollouts/{rid}")
    check(False, f"rollout {rid} did not reach {until}: {r.body[:1500]}")


def plan(flag, steps, **kw):
    p = {"flag": flag, "env": "prod", "variant": "new", "service": flag, "version": "2.0.0", "steps": steps,
         "analysis": {"min_samples": 20}, "rationale": f"roll out {flag} v2"}
    p.update(kw)
    return p


s = None
try:
    import tempfile
    import os
    base = tempfile.mkdtemp(prefix="ooda-it-rollout-")
    data = os.path.join(base, "data")
    ops = create_token(data, "admin", "ops")
    alice = create_token(data, "approver", "alice")
    bob = create_token(data, "approver", "bob")
    app = create_token(data, "ingest", "app")
    stg = create_token(data, "responder", "stg", env="staging")
    s = Server(data=data)
    s.token = ops

    # --- bad plans are refused, naming what is wrong; nothing is stored
    put_flag(s, "checkout")
    for body, names in [({"flag": "checkout", "variant": "new", "service": "checkout", "steps": [50, 25, 100],
                          "hold": "1s"}, "steps[1].weight"),
                        ({"flag": "checkout", "variant": "new", "service": "checkout", "steps": [5, 100],
                          "hold": "1s", "colour": "red"}, "colour"),
                        (plan("checkout", [5, 50], hold="1s"), "100 %"),
                        (plan("checkout", [100], hold="1s", variant="blue"), "variant"),
                        (plan("checkout", [100]), "steps[0].hold")]:
        r = s.post("/api/v1/rollouts", body)
        check(r.status == 400 and r.headers.get("Content-Type", "").startswith("application/problem+json")
              and names in r.json().get("detail", ""), f"bad plan refused naming {names}: {r.status} {r.body}")
    r = s.post("/api/v1/rollouts", plan("nosuch", [100], hold="1s"))
    check(r.status == 404, f"a rollout of a missing flag is 404: {r.status} {r.body}")
    r = s.post("/api/v1/rollouts", plan("checkout", [100], hold="1s", rationale=""))
    check(r.status == 400 and "rationale" in r.body, f"a rollout needs a rationale: {r.status} {r.body}")
    r = s.get("/api/v1/rollouts")
    check(r.status == 200 and r.json()["rollouts"] == [], f"refused plans stored nothing: {r.body}")
    r = s.get("/api/v1/rollouts?status=done")
    check(r.status == 400 and "status" in r.json().get("detail", ""), f"an unknown status is refused by name: {r.status} {r.body}")

    # --- a healthy new variant is promoted step by step to 100 %
    r = s.post("/api/v1/rollouts", plan("checkout", [{"weight": 25, "hold": "2s"}, {"weight": 100, "hold": "2s"}]))
    check(r.status == 201 and r.json()["status"] == "running" and r.json()["step"] == 0, f"rollout started: {r.body}")
    rid = r.json()["id"]
    f = s.get("/api/v1/flags/checkout?env=prod").json()["definition"]
    check(f.get("targeting") == {"fractional": [["new", 25], ["old", 75]]},
          f"step 1 gives the new variant 25 % through a fractional split: {f}")
    r = s.post("/api/v1/rollouts", plan("checkout", [100], hold="1s"))
    check(r.status == 409 and rid in r.body, f"a second rollout of the same flag is refused: {r.status} {r.body}")
    res = s.cli("rollout", "status", rid)
    check(res.returncode == 0 and "running" in res.stdout and "25 %" in res.stdout, f"rollout status: {res.stdout}{res.stderr}")
    ro = drive(s, app, rid, "checkout", 0, ("succeeded", "aborted"))
    check(ro["status"] == "succeeded" and len(ro["verdicts"]) == 2
          and all(v["verdict"] == "pass" for v in ro["verdicts"]), f"both steps passed: {json.dumps(ro)[:1500]}")
    f = s.get("/api/v1/flags/checkout?env=prod").json()["definition"]
    check(f["defaultVariant"] == "new" and "targeting" not in f, f"promoted to 100 %: the new variant is the default: {f}")
    r = s.post("/ofrep/v1/evaluate/flags/checkout", {"context": {"targetingKey": "anyone"}},
               headers={"X-Ooda-Env": "prod"}, token=app)
    check(r.status == 200 and r.json()["value"] == "v2", f"OFREP serves the new variant to everyone: {r.body}")
    r = s.post(f"/api/v1/rollouts/{rid}/abort", {"rationale": "too late"})
    check(r.status == 409, f"a finished rollout cannot be aborted: {r.status} {r.body}")

    # a token scoped to another environment neither starts, sees nor steers prod's rollouts
    r = s.post("/api/v1/rollouts", plan("checkout", [100], hold="1s"), token=stg)
    check(r.status == 403 and "staging" in r.body, f"staging token starting a prod rollout: {r.status} {r.body}")
    r = s.get(f"/api/v1/rollouts/{rid}", token=stg)
    check(r.status == 403, f"staging token reading a prod rollout: {r.status}")
    r = s.post(f"/api/v1/rollouts/{rid}/abort", {"rationale": "x"}, token=stg)
    check(r.status == 403, f"staging token aborting a prod rollout: {r.status}")
    r = s.get("/api/v1/rollouts", token=stg)
    check(r.status == 200 and r.json()["rollouts"] == [], f"staging token's list leaves prod out: {r.body[:200]}")

    # --- a failing new variant is aborted at its first step and the flag rolled back
    before = put_flag(s, "search")
    before_def = s.get("/api/v1/flags/search?env=prod").json()["definition"]
    r = s.post("/api/v1/rollouts", plan("search", [{"weight": 10, "hold": "2s"}, {"weight": 50, "hold": "2s"},
                                                   {"weight": 100, "hold": "2s"}]))
    check(r.status == 201, f"second rollout started: {r.body}")
    rid2 = r.json()["id"]
    ro = drive(s, app, rid2, "search", 15, ("succeeded", "aborted"))
    check(ro["status"] == "aborted" and ro["step"] == 0 and len(ro["verdicts"]) == 1
          and ro["verdicts"][0]["verdict"] == "fail", f"aborted at its first failing step: {json.dumps(ro)[:1500]}")
    why = ro["abort_reason"]
    check(why.startswith("step 1 (10 %): error ratio 50.0 % vs baseline 0.0 %") and "verdict fail → abort" in why,
          f"the reason has the numbers: {why}")
    f = s.get("/api/v1/flags/search?env=prod").json()["definition"]
    check(f == before_def and ro["flag_version_restored"] == before + 2,
          f"the flag is back at its pre-rollout content, as a new version: {f} {ro.get('flag_version_restored')}")
    r = s.get(f"/api/v1/audit?target=rollout/{rid2}")
    recs = r.json().get("records", r.json().get("entries", []))
    acts = {(x["action"], x["actor"]) for x in recs}
    check(("rollout.start", "token:ops") in acts and ("rollout.abort", "engine:rollout") in acts,
          f"start and abort audited with their actors: {acts}")
    check(any(x["action"] == "rollout.abort" and "verdict fail" in x["rationale"] for x in recs),
          f"the abort's audit record has its reason: {recs[:2]}")
    def change_descs():
        return [e.get("description", "") for e in s.get("/api/v1/events?service=search&limit=50").json()["events"]]

    # the abort's change event goes to the telemetry store after the rollout's state is stored
    descs = wait_until(lambda: (lambda d: d if any(rid2 in x and "aborted" in x for x in d) else None)(change_descs()),
                       "the abort's change event", timeout=10) or change_descs()
    check(any(rid2 in d and "aborted" in d for d in descs) and any(rid2 in d and "step 1 (10 %) started" in d for d in descs),
          f"steps and the abort are change events on the timeline: {descs}")

    # --- a step marked approval waits; the starter cannot approve it; another person can
    put_flag(s, "payments")
    plan_file = os.path.join(base, "payments.json")
    with open(plan_file, "w") as pf:
        json.dump(plan("payments", [20, 100], hold="1s"), pf)
    res = s.cli("rollout", "start", plan_file, "--approve-at", "2", "--json", token=alice)
    check(res.returncode == 0, f"third rollout started by alice from a plan file: {res.stdout}{res.stderr}")
    started = json.loads(res.stdout or "{}")
    check([st["approval"] for st in started.get("steps", [])] == [False, True],
          f"--approve-at marks step 2: {started.get('steps')}")
    rid3 = started.get("id")
    ro = drive(s, app, rid3, "payments", 0, ("awaiting-approval", "aborted", "succeeded"))
    check(ro["status"] == "awaiting-approval" and ro["step"] == 0 and ro.get("approval"),
          f"step 2 waits for an approval: {json.dumps(ro)[:800]}")
    ap = ro["approval"]
    time.sleep(1.5)  # the worker does not move a rollout that waits, however long its hold is over
    check(s.get(f"/api/v1/rollouts/{rid3}").json()["status"] == "awaiting-approval", "still waiting")
    f = s.get("/api/v1/flags/payments?env=prod").json()["definition"]
    check(f.get("targeting") == {"fractional": [["new", 20], ["old", 80]]}, f"still at 20 % while it waits: {f}")
    r = s.post(f"/api/v1/approvals/{ap}/approve", {"rationale": "mine"}, token=alice)
    check(r.status == 403, f"the rollout's starter cannot approve its step: {r.status} {r.body}")
    r = s.post(f"/api/v1/rollouts/{rid3}/promote", {"rationale": "skip"})
    check(r.status == 409 and ap in r.body, f"promote does not replace the approval: {r.status} {r.body}")
    res = s.cli("approvals", "list", "--status", "pending", token=bob)
    check(res.returncode == 0 and any(l.split()[:1] == [ap] for l in res.stdout.splitlines()),
          f"ooda approvals list --status pending: {res.stdout}{res.stderr}")
    res = s.cli("approvals", "approve", ap, "--rationale", "numbers look fine", token=bob)
    check(res.returncode == 0, f"bob approves: {res.stdout}{res.stderr}")
    ro = s.get(f"/api/v1/rollouts/{rid3}").json()
    check(ro["status"] == "running" and ro["step"] == 1, f"the approved step started: {json.dumps(ro)[:800]}")
    ro = drive(s, app, rid3, "payments", 0, ("succeeded", "aborted"))
    check(ro["status"] == "succeeded", f"approved rollout completed: {ro['status']}")
    check(any(h["actor"] == "token:bob" and "step 2 (100 %) started" in h["what"] for h in ro["history"]),
          f"the approver is recorded on the step it let go: {ro['history']}")

    # --- a deploy whose traffic is split by its own flag: an abort restores the flag and rolls the deploy back
    s.post("/api/v1/deploys", {"service": "ship", "env": "prod", "version": "1.0.0"})
    ship_before = put_flag(s, "ship")
    r = s.post("/api/v1/deploys", {"service": "ship", "env": "prod", "version": "2.0.0"})
    ship2 = r.json()["id"]
    r = s.post("/api/v1/rollouts", {"deploy": ship2, "flag": "ship", "variant": "new", "steps": [20, 100],
                                    "hold": "2s", "analysis": {"min_samples": 20}, "rationale": "ship 2.0.0 behind ship"})
    check(r.status == 201 and r.json()["env"] == "prod" and r.json()["version"] == "2.0.0" and r.json()["service"] == "ship",
          f"a deploy rollout takes the deploy's environment, service and version: {r.status} {r.body[:400]}")
    rid7 = r.json()["id"]
    check(s.get("/api/v1/flags/ship?env=prod").json()["definition"].get("targeting") ==
          {"fractional": [["new", 20], ["old", 80]]}, "the deploy's flag carries the split")
    ro = drive(s, app, rid7, "ship", 15, ("succeeded", "aborted"))
    check(ro["status"] == "aborted" and ro["flag_version_restored"] == ship_before + 2 and ro.get("rollback_run"),
          f"aborted: the flag restored and the deploy's rollback run started: {json.dumps(ro)[:1200]}")
    r = s.get(f"/api/v1/rollbacks/{ro['rollback_run']}")
    check(r.status == 200 and r.json()["deploy"] == ship2, f"the rollback run is the deploy's: {r.body[:300]}")

    # --- a next step that cannot take effect (its flag deleted meanwhile) stops the rollout, saying why
    put_flag(s, "gone")
    res = s.cli("rollout", "start", "--flag", "gone", "--env", "prod", "--variant", "new", "--service", "gone",
                "--version", "2.0.0", "--steps", "10,100", "--hold", "1s", "--rationale", "gone v2", "--json")
    check(res.returncode == 0, f"rollout started from options: {res.stdout}{res.stderr}")
    rid5 = json.loads(res.stdout or "{}").get("id")
    r = s.request("DELETE", "/api/v1/flags/gone?env=prod", headers={"X-Ooda-Rationale": "retired"})
    check(r.status in (200, 204), f"flag deleted mid-rollout: {r.status} {r.body}")
    ro = drive(s, app, rid5, "gone", 0, ("succeeded", "aborted"))
    check(ro["status"] == "aborted" and "promote failed" in ro["abort_reason"]
          and "does not exist" in ro["abort_reason"], f"aborted with the reason: {ro['status']} {ro.get('abort_reason')}")

    # --- a person promotes past a long hold, then aborts from the CLI
    promo_before = put_flag(s, "promo")
    r = s.post("/api/v1/rollouts", plan("promo", [10, 50, 100], hold="1h"))
    rid6 = r.json()["id"]
    r = s.post(f"/api/v1/rollouts/{rid6}/promote", {})
    check(r.status == 400 and "rationale" in r.body, f"promote needs a rationale: {r.status} {r.body}")
    res = s.cli("--json", "rollout", "promote", rid6, "--rationale", "dashboards are green")
    pj = json.loads(res.stdout or "{}")
    check(res.returncode == 0 and pj.get("step") == 1 and not pj.get("verdicts"),
          f"ooda rollout promote: to step 2 at once, without analysis: {res.stdout[:400]}{res.stderr}")
    f = s.get("/api/v1/flags/promo?env=prod").json()["definition"]
    check(f.get("targeting") == {"fractional": [["new", 50], ["old", 50]]}, f"the flag is at 50 %: {f}")
    res = s.cli("rollout", "abort", rid6, "--rationale", "support tickets")
    check(res.returncode == 0 and "aborted" in res.stdout, f"ooda rollout abort: {res.stdout}{res.stderr}")
    ro = s.get(f"/api/v1/rollouts/{rid6}").json()
    f = s.get("/api/v1/flags/promo?env=prod").json()["definition"]
    check(ro["status"] == "aborted" and ro["flag_version_restored"] == promo_before + 3 and "targeting" not in f
          and f["defaultVariant"] == "old", f"aborted by a person, the flag restored: {ro['status']} {f}")
    check([h["actor"] for h in ro["history"]][-2:] == ["token:ops", "token:ops"], f"both decisions are the person's: {ro['history']}")

    # --- killed mid-rollout, the daemon resumes it at its step
    put_flag(s, "cart")
    r = s.post("/api/v1/rollouts", plan("cart", [{"weight": 30, "hold": "3s"}, {"weight": 100, "hold": "2s"}]))
    rid4 = r.json()["id"]
    s.post("/v1/traces", spans("cart", "1.0.0", 30, 0), token=app)
    s.post("/v1/traces", spans("cart", "2.0.0", 30, 0), token=app)
    s.stop(sig=signal.SIGKILL)
    s.start()
    ro = s.get(f"/api/v1/rollouts/{rid4}").json()
    check(ro["status"] == "running" and ro["step"] == 0, f"after a restart the rollout is at its step: {ro['status']} {ro['step']}")
    ro = drive(s, app, rid4, "cart", 0, ("succeeded", "aborted"))
    started = [h for h in ro["history"] if "step 1 (30 %) started" in h["what"]]
    check(ro["status"] == "succeeded" and len(started) == 1,
          f"resumed at step 1 (not started again) and completed: {ro['status']} {ro['history']}")
    res = s.cli("rollout", "list", "--json")
    ids = [x["id"] for x in json.loads(res.stdout)["rollouts"]]
    check(res.returncode == 0 and ids == [rid4, rid6, rid5, rid7, rid3, rid2, rid], f"rollout list, newest first: {ids}")
    res = s.cli("rollout", "start", "--flag", "cart", "--variant", "new", "--service", "cart", "--steps", "50,40",
                "--rationale", "x")
    check(res.returncode == 1 and "steps[1].weight" in res.stderr, f"the CLI shows the refusal: {res.returncode} {res.stderr}")
    res = s.cli("rollout", "list", "--status", "aborted")
    check(res.returncode == 0 and rid2 in res.stdout and rid not in res.stdout, f"list by status: {res.stdout}")
    done()
finally:
    if s:
        s.cleanup()
