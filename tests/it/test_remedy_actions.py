"""The flag, config and rollback actions and the error-ratio expect on the real
daemon: a probe alert fires, policy flag-off sets the flag DISABLED as
policy:flag-off@v1, its expect (the error ratio of a service with no traffic)
cannot hold, and the undo puts the flag's version before back; a policy holding a
rollback without mode: approve is refused at load (400 naming the step) and accepted
with approve; a run whose expect is an error ratio under 20 % stays verifying while
the service's spans fail and succeeds once they stop failing (OTLP spans sent to
/v1/traces); the catalogue shows the exact flag change of disable-flag; a deploy whose
canary verification fails triggers policy verdict (when: {canary: deploy-verify}),
which waits for approval and, once bob approves, runs the rollback plan of payments'
last deploy through the rollback action and waits for it to finish."""
import json
import time

from oodait import Server, check, create_token, done, wait_until, closed_port


def spans(service, n, errors, t_end_ns, seed, version=None, ms=5):
    out = []
    for i in range(n):
        end = t_end_ns + i * 1000
        out.append({"traceId": f"{seed:08x}{i + 1:024x}", "spanId": f"{seed:08x}{i + 1:08x}", "name": "GET /pay",
                    "kind": 2, "startTimeUnixNano": str(end - ms * 1_000_000), "endTimeUnixNano": str(end),
                    "status": {"code": 2 if i < errors else 1}})
    attrs = [{"key": "service.name", "value": {"stringValue": service}}]
    if version:
        attrs.append({"key": "service.version", "value": {"stringValue": version}})
    return {"resourceSpans": [{"resource": {"attributes": attrs}, "scopeSpans": [{"spans": out}]}]}


FLAG = {"state": "ENABLED", "variants": {"on": True, "off": False}, "defaultVariant": "on"}


def main():
    closed = closed_port()
    cfg = f"""
deploy:
  hooks:
    redeploy:
      exec: ["true"]
      timeout: 10s
services:
  - name: svc-flag
    probes:
      - name: up
        tcp: 127.0.0.1:{closed}
        interval: 500ms
        timeout: 500ms
policies:
  - name: flag-off
    when: {{probe: {{service: svc-flag, name: up}}}}
    do:
      - flag: {{env: prod, key: new-pricing, state: DISABLED}}
    expect: {{error_ratio: {{service: quiet, below: 0.05, window: 2s}}, timeout: 1s}}
  - name: ratio
    when: {{service: shop}}
    do:
      - flag: {{env: prod, key: shop-beta, state: DISABLED}}
    expect: {{error_ratio: {{service: shop, below: 0.2, window: 1s}}, timeout: 40s}}
  - name: verdict
    when: {{canary: deploy-verify, service: payments}}
    mode: approve
    do:
      - recipe: {{name: rollback-last-deploy, variant: ooda, params: {{service: payments, env: staging}}}}
"""
    s = Server(config="log:\n  level: info\n", expect_start=False)
    try:
        admin = create_token(s.data, "admin", "alice")
        bob = create_token(s.data, "approver", "bob")
        s.start()
        s.token = admin
        for key in ("new-pricing", "shop-beta"):
            r = s.request("PUT", f"/api/v1/flags/{key}?env=prod", body=FLAG)
            check(r.status in (200, 201), f"flag {key} created: {r.status} {r.body}")
        # the policies once the flags exist: the probe fails from its first check
        with open(s.config, "w") as f:
            f.write(cfg)
        r = s.post("/api/v1/config/reload")
        check(r.status == 200, f"reload with the policies: {r.status} {r.body}")

        def runs(policy):
            r = s.get("/api/v1/runs?policy=" + policy)
            return r.json()["runs"] if r.status == 200 else []

        def ended(policy):
            return [x for x in runs(policy) if x["status"] in ("succeeded", "failed", "undone", "refused")]

        # ---- the probe alert fires: flag off, expect fails, the undo puts it back
        # failed comes before undoing and undone (remedy/run.c): wait past it
        run = (wait_until(lambda: [x for x in ended("flag-off") if x["status"] != "failed"],
                          "the flag-off run to be undone", timeout=20) or ended("flag-off") or [{}])[0]
        check(run.get("status") == "undone", f"flag-off undone: {run.get('status')} {run.get('reason')}")
        full = s.get("/api/v1/runs/" + run.get("id", "x")).json()
        step = (full.get("steps") or [{}])[0]
        check(step.get("describe") == "flag prod/new-pricing state=DISABLED" and step.get("status") == "ok",
              f"the flag step: {step}")
        check((step.get("undo") or {}).get("status") == "ok", f"the undo ran: {step.get('undo')}")
        hist = s.get("/api/v1/flags/new-pricing/history?env=prod").json()
        versions = hist.get("versions") or []
        by_v = {v.get("version"): v for v in versions}
        check(len(by_v) == 3, f"three versions of the flag: {hist}")
        actors = {by_v.get(2, {}).get("author"), by_v.get(3, {}).get("author")}
        check(actors == {"policy:flag-off@v1"}, f"both changes by the policy: {versions}")
        check(f"remediation run {run.get('id')}: flag set" in by_v.get(2, {}).get("rationale", ""),
              f"the change names its run: {by_v.get(2)}")
        cur = s.get("/api/v1/flags/new-pricing?env=prod").json()
        check((cur.get("definition") or {}).get("state") == "ENABLED", f"the flag is back: {cur}")
        au = s.get("/api/v1/audit?actor=policy:flag-off@v1&limit=100").json()
        acts = [a["action"] for a in au.get("records", [])]
        check("remedy.undo.ok" in acts, f"the undo is audited: {acts}")

        # ---- a rollback cannot be undone: approve mode, or refused at load ----------
        pol = {"name": "rb", "when": {"alert": "DeployBad"}, "do": [{"rollback": {"service": "checkout"}}]}
        r = s.request("PUT", "/api/v1/policies/rb", body=pol)
        check(r.status == 400 and "do[0]: rollback cannot be undone" in r.json().get("detail", ""),
              f"rollback without approve refused: {r.status} {r.body}")
        r = s.request("PUT", "/api/v1/policies/rb", body=dict(pol, mode="approve"))
        check(r.status in (200, 201), f"rollback with approve accepted: {r.status} {r.body}")

        # ---- the catalogue shows the flag change --------------------------------------
        r = s.cli("recipes", "show", "disable-flag")
        check(r.returncode == 0 and 'dry-run: flag {env}/{flag} state=DISABLED' in r.stdout,
              f"ooda recipes show disable-flag: {r.returncode} {r.stdout} {r.stderr}")

        # ---- expect: error_ratio holds once the errors stop -----------------------------
        seed = 1
        now = time.time_ns()
        r = s.post("/v1/traces", spans("shop", 50, 25, now, seed))
        check(r.status == 200, f"error spans accepted: {r.status} {r.body}")
        r = s.post("/api/v1/incidents", {"title": "shop failing", "service": "shop"})
        check(r.status == 201, f"incident on shop: {r.status} {r.body}")
        wait_until(lambda: [x for x in runs("ratio") if x["status"] == "verifying"], "the ratio run verifying")
        run = s.get("/api/v1/runs/" + runs("ratio")[0]["id"]).json()
        check(run.get("status") == "verifying", f"still verifying while shop fails: {run.get('status')}")
        deadline = time.time() + 35
        while time.time() < deadline and not ended("ratio"):
            seed += 1
            s.post("/v1/traces", spans("shop", 20, 0, time.time_ns(), seed))
            time.sleep(0.5)
        run = (ended("ratio") or [{}])[0]
        check(run.get("status") == "succeeded", f"ratio run succeeded: {run.get('status')} {run.get('reason')}")
        full = s.get("/api/v1/runs/" + run.get("id", "x")).json()
        ver = full.get("verification", "")
        check("error ratio of shop" in ver and "% < 20.00%" in ver,
              f"verified by the error ratio: {full.get('verification')}")
        # ---- a failed canary verdict: the rollback of the last deploy, once approved ------
        ids = []
        for v in ("2.0.0", "2.1.0"):
            r = s.post("/api/v1/deploys", {"service": "payments", "env": "staging", "version": v})
            check(r.status == 201, f"deploy {v}: {r.status} {r.body}")
            ids.append(r.json().get("id"))
        now = time.time_ns()
        s.post("/v1/traces", spans("payments", 200, 0, now, 900, version="2.0.0", ms=10))
        s.post("/v1/traces", spans("payments", 200, 40, now, 901, version="2.1.0", ms=45))
        r = s.post(f"/api/v1/deploys/{ids[1]}/verify", {})
        check(r.status == 200 and r.json().get("verdict") == "fail", f"the canary fails: {r.status} {r.body}")
        waiting = wait_until(lambda: [x for x in runs("verdict") if x["status"] == "awaiting-approval"],
                           "the verdict run waiting for approval") or [{}]
        r = s.post(f"/api/v1/runs/{waiting[0].get('id')}/approve", {"rationale": "canary failed"}, token=bob)
        check(r.status == 200, f"bob approves: {r.status} {r.body}")
        run = (wait_until(lambda: ended("verdict"), "the rollback run to end", timeout=30) or [{}])[0]
        full = s.get("/api/v1/runs/" + run.get("id", "x")).json()
        step = (full.get("steps") or [{}])[0]
        check(run.get("status") == "succeeded" and '"status":"done"' in step.get("output", ""),
              f"the rollback ran to its end: {run.get('status')} {step}")
        check(f'"deploy":"{ids[1]}"' in step.get("output", ""), f"the last deploy rolled back: {step.get('output')}")
        check("canary verdict deploy-verify of " + ids[1] in full.get("rationale", ""),
              f"the trigger in the rationale: {full.get('rationale')}")
        check(s.stop() == 0, "clean stop")
    finally:
        s.cleanup()
    done()


if __name__ == "__main__":
    main()
