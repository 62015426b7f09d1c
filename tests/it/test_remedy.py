"""Remediation end to end on the real daemon: the recipe catalogue over HTTP and the
CLI; policies from ooda.yaml and `ooda policy apply` triggered by incidents; a repeat
inside the cooldown is refused and escalated to a webhook; a failed expect undoes the
steps that ran, last first; a hanging action is killed at its timeout; the global
pause stops a storm mid-way; approve mode waits for a second person (the policy's
author is refused) and records the approver; a header secret never reaches the run,
the daemon log, the notifications or the audit log; dry-run records the exact argv
and runs nothing; bad policies are 400 problems
naming the field; and a run killed with -9 in the middle of a step finishes once
after the restart."""
import json
import os
import signal
import tempfile

from oodait import Receiver, Server, check, create_token, done, wait_until, closed_port

SECRET = "s3cr3t-remedy-7f1c2a"


def lines(path):
    try:
        with open(path) as f:
            return f.read().split()
    except FileNotFoundError:
        return []


def append(path, word):
    return {"argv": ["/bin/sh", "-c", f"echo {word} >> {path}"], "timeout": "5s"}


def main():
    tmp = tempfile.mkdtemp(prefix="ooda-remedy-")
    f = {k: os.path.join(tmp, k) for k in ("cool", "undo", "storm", "ask", "slow")}
    rec = Receiver(status={"/echo-fail": 500}, echo_prefix="/echo")
    closed = closed_port()
    cfg = f"""
remedy:
  http_allow_hosts: [127.0.0.1]
notify:
  targets:
    - name: hook
      type: webhook
      url: http://127.0.0.1:{rec.port}/hook
      secret_env: OODA_IT_HOOK_SECRET
      timeout: 2s
services:
  - name: svc-undo
    probes:
      - name: up
        tcp: 127.0.0.1:{closed}
        interval: 1s
        timeout: 1s
policies:
  - name: cool
    when: {{service: svc-cool}}
    do:
      - exec: {json.dumps(append(f["cool"], "cool"))}
    irreversible_ok: true
    rationale: appending a line harms nothing
    on_failure: {{notify: hook}}
    guardrails: {{cooldown: 1h}}
  - name: undo
    when: {{service: svc-undo}}
    do:
      - exec: {json.dumps(append(f["undo"], "do0"))}
        undo: {{exec: {json.dumps(append(f["undo"], "undo0"))}}}
      - exec: {json.dumps(append(f["undo"], "do1"))}
        undo: {{exec: {json.dumps(append(f["undo"], "undo1"))}}}
    expect: {{probe: {{service: svc-undo, name: up}}, timeout: 2s}}
    on_failure: {{undo: true, notify: hook}}
  - name: hang
    when: {{service: svc-hang}}
    do:
      - exec: {{argv: [sleep, "30"], timeout: 1s}}
    irreversible_ok: true
    rationale: sleeping changes nothing
  - name: storm
    when: {{service: svc-storm}}
    do:
      - exec: {json.dumps(append(f["storm"], "storm"))}
    irreversible_ok: true
    rationale: appending a line harms nothing
    guardrails: {{cooldown: 0s, max_runs: 100, max_concurrent: 64, max_services: 100}}
  - name: dry
    when: {{service: svc-dry}}
    mode: dry-run
    do:
      - recipe: {{name: restart-instance, variant: kubernetes, params: {{service: checkout, namespace: shop}}}}
  - name: secret
    when: {{service: svc-secret}}
    do:
      - exec: {{argv: [/bin/sh, -c, "echo token=$REMEDY_IT_SECRET"], env: [REMEDY_IT_SECRET]}}
        idempotent: true
      - http:
          url: http://127.0.0.1:{rec.port}/echo
          headers: {{Authorization: {{value_env: REMEDY_IT_SECRET}}}}
        idempotent: true
      - http:
          url: http://127.0.0.1:{rec.port}/echo-fail
          headers: {{Authorization: {{value_env: REMEDY_IT_SECRET}}}}
    irreversible_ok: true
    rationale: the receiver only records
    on_failure: {{notify: hook}}
"""
    env = {"REMEDY_IT_SECRET": SECRET, "OODA_IT_HOOK_SECRET": "hook-key"}
    s = Server(config=cfg, expect_start=False, env=env)
    try:
        admin = create_token(s.data, "admin", "alice")
        bob = create_token(s.data, "approver", "bob")
        viewer = create_token(s.data, "viewer", "vic")
        s.start()
        s.token = admin

        # ---- the catalogue ------------------------------------------------------
        r = s.get("/api/v1/recipes", token=viewer)
        recipes = {x["name"]: x for x in r.json()["recipes"]} if r.status == 200 else {}
        for name in ("restart-instance", "rollback-last-deploy", "shed-load", "scale-out", "drain-node", "clear-queue"):
            check(name in recipes, f"{name} in the catalogue: {sorted(recipes)}")
        r = s.get("/api/v1/recipes/no-such-recipe", token=viewer)
        check(r.status == 404 and "name" in r.json().get("detail", ""), f"unknown recipe: {r.status} {r.body}")
        r = s.cli("recipes", "show", "restart-instance", token=viewer)
        check(r.returncode == 0 and '"kubectl","rollout","restart","deployment/{service}"' in r.stdout,
              f"ooda recipes show: {r.returncode} {r.stdout} {r.stderr}")

        def incident(service):
            r = s.post("/api/v1/incidents", {"title": f"{service} broken", "service": service})
            check(r.status == 201, f"incident on {service}: {r.status} {r.body}")
            return r.json().get("id")

        def runs(**q):
            qs = "&".join(f"{k}={v}" for k, v in q.items())
            r = s.get("/api/v1/runs?" + qs)
            return r.json()["runs"] if r.status == 200 else []

        def settled(policy, n):
            rs = runs(policy=policy)
            # a failed run whose policy undoes is stored as failed, then moves on to undoing
            busy = [x for x in rs if x["status"] in ("pending", "running", "verifying", "undoing")
                    or (x["status"] == "failed" and policy == "undo" and not x.get("undo_order"))]
            return rs if len(rs) >= n and not busy else None

        # ---- cooldown: the second trigger is refused and escalated ---------------
        i1 = incident("svc-cool")
        wait_until(lambda: settled("cool", 1), "first cool run")
        i2 = incident("svc-cool")
        rs = wait_until(lambda: settled("cool", 2), "second cool run") or []
        st = sorted(x["status"] for x in rs)
        check(st == ["refused", "succeeded"], f"a repeat inside the cooldown acts once: {st}")
        check(lines(f["cool"]) == ["cool"], f"the action ran once: {lines(f['cool'])}")
        refused = [x for x in rs if x["status"] == "refused"]
        check(refused and "cooldown" in refused[0].get("reason", "") and refused[0]["incident"] == i2,
              f"the refusal names the cooldown: {refused}")
        hooks = wait_until(lambda: [b for b in rec.texts("/hook") if "cooldown" in b], "escalation of the refused run")
        check(bool(hooks), "the refusal escalated to the webhook")
        tl = s.get(f"/api/v1/incidents/{i1}/timeline?kind=remediation").json().get("entries", [])
        check(any("succeeded" in e.get("text", "") for e in tl), f"the run is on the incident timeline: {tl}")
        ok_run = [x for x in rs if x["status"] == "succeeded"][0]
        au = s.get("/api/v1/audit?actor=policy:cool@v1&limit=100").json()
        acts = [a["action"] for a in au.get("records", au.get("audit", []))]
        check("remedy.step.ok" in acts and "remedy.run.succeeded" in acts,
              f"every step audited by policy:cool@v1: {acts}")
        rats = [a.get("rationale", "") for a in au.get("records", au.get("audit", []))]
        check(any("incident " + i1 in x and "guardrails ok" in x for x in rats), f"rationale recorded: {rats[:3]}")
        r = s.get("/api/v1/runs/" + ok_run["id"])
        check(r.status == 200 and r.json()["steps"][0]["exit_status"] == 0, f"one run: {r.status} {r.body[:300]}")
        r = s.get("/api/v1/runs/run-nope")
        check(r.status == 404 and "id" in r.json().get("detail", ""), f"unknown run: {r.status} {r.body}")
        r = s.get("/api/v1/runs?status=bogus")
        check(r.status == 400 and "status" in r.json().get("detail", ""), f"bad status filter: {r.status}")

        # ---- a failed expect undoes what ran, last first ------------------------
        incident("svc-undo")
        rs = wait_until(lambda: settled("undo", 1), "undo run", timeout=20) or [{}]
        # svc-undo's failing probe opens an incident of its own; on a slow machine its alert
        # fires around now, and whichever incident comes second is refused by the cooldown
        rs = [x for x in rs if x.get("status") != "refused"] or rs
        check(rs[0].get("status") == "undone", f"failed expect → undone: {rs[0].get('status')} {rs[0].get('reason')}")
        check(lines(f["undo"]) == ["do0", "do1", "undo1", "undo0"], f"undo in reverse order: {lines(f['undo'])}")
        check(rs[0].get("undo_order") == [1, 0], f"undo order recorded: {rs[0].get('undo_order')}")

        # ---- dry-run: the exact argv is recorded, nothing runs ---------------------
        incident("svc-dry")
        rs = wait_until(lambda: settled("dry", 1), "dry run") or [{}]
        step = (rs[0].get("steps") or [{}])[0]
        check(rs[0].get("status") == "dry-run" and step.get("status") == "pending"
              and step.get("describe") == "exec kubectl rollout restart deployment/checkout -n shop",
              f"dry-run records the argv: {rs[0].get('status')} {step}")

        # ---- a hanging action is killed at its timeout ---------------------------
        incident("svc-hang")
        rs = wait_until(lambda: settled("hang", 1), "hang run") or [{}]
        step = (rs[0].get("steps") or [{}])[0]
        check(rs[0].get("status") == "failed" and step.get("timed_out") is True and step.get("duration_ms", 99999) < 10000,
              f"hanging step killed at its timeout: {rs[0].get('status')} {step}")

        # ---- the global pause stops a storm mid-way ------------------------------
        for _ in range(3):
            incident("svc-storm")
        wait_until(lambda: settled("storm", 3), "first half of the storm")
        r = s.cli("automation", "pause", "--reason", "storm drill")
        check(r.returncode == 0 and "paused" in r.stdout, f"ooda automation pause: {r.returncode} {r.stdout} {r.stderr}")
        r = s.post("/api/v1/automation", {"paused": True})
        check(r.status == 400 and "reason" in r.json().get("detail", ""), f"pause without a reason: {r.status}")
        for _ in range(3):
            incident("svc-storm")
        rs = wait_until(lambda: settled("storm", 6), "second half of the storm") or []
        st = [x["status"] for x in rs]
        check(st.count("succeeded") == 3 and st.count("refused") == 3, f"paused mid-storm: {st}")
        check(all("paused" in x.get("reason", "") for x in rs if x["status"] == "refused"), "refused as paused")
        check(lines(f["storm"]) == ["storm"] * 3, f"storm acted 3 times: {lines(f['storm'])}")
        r = s.get("/api/v1/automation")
        check(r.status == 200 and r.json()["paused"] and r.json()["by"] == "token:alice", f"status: {r.body}")
        r = s.cli("automation", "resume")
        check(r.returncode == 0 and "running" in r.stdout, f"ooda automation resume: {r.stdout} {r.stderr}")

        # ---- approve mode: waits; the author may not approve; another may ---------
        pol = os.path.join(tmp, "ask.yaml")
        with open(pol, "w") as fh:
            fh.write(f"""name: ask
when: {{service: svc-ask}}
mode: approve
do:
  - exec: {json.dumps(append(f["ask"], "ask"))}
""")
        r = s.cli("policy", "apply", pol, "--rationale", "drill", token=admin)
        check(r.returncode == 0 and "v1" in r.stdout, f"ooda policy apply: {r.returncode} {r.stdout} {r.stderr}")
        r = s.cli("policy", "apply", pol, token=admin)
        check(r.returncode == 0 and "v1" in r.stdout, f"an unchanged policy keeps its version: {r.stdout}")
        incident("svc-ask")
        rs = wait_until(lambda: [x for x in runs(policy="ask") if x["status"] == "awaiting-approval"], "run awaiting")
        run_id = rs[0]["id"] if rs else "run-x"
        check(lines(f["ask"]) == [], "nothing acts before approval")
        r = s.post(f"/api/v1/runs/{run_id}/approve", {"rationale": "me"}, token=admin)
        check(r.status == 403, f"the policy's author cannot approve its run: {r.status} {r.body}")
        r = s.cli("runs", "approve", run_id, "--rationale", "looks right", token=bob)
        check(r.returncode == 0, f"ooda runs approve by bob: {r.returncode} {r.stdout} {r.stderr}")
        rs = wait_until(lambda: settled("ask", 1), "approved run") or [{}]
        check(rs[0].get("status") == "succeeded" and rs[0].get("approved_by") == "token:bob",
              f"approved run acted, approver recorded: {rs[0].get('status')} {rs[0].get('approved_by')}")
        check(lines(f["ask"]) == ["ask"], f"acted once approved: {lines(f['ask'])}")
        r = s.cli("runs", "list", "--policy", "ask", token=viewer)
        check(r.returncode == 0 and run_id in r.stdout and "succeeded" in r.stdout, f"ooda runs list: {r.stdout}")
        # the list commands print aligned tables: a header, then one row per item, cells from the answer
        r = s.cli("runs", "list", "--policy", "ask", token=viewer)
        rows = [x.split() for x in r.stdout.splitlines()]
        check(rows[0] == ["RUN", "POLICY", "STATUS", "INCIDENT", "CREATED", "REASON"]
              and rows[1][:3] == [run_id, "ask", "succeeded"] and rows[1][3].startswith("INC-"), f"runs table: {r.stdout}")
        r = s.cli("runs", "show", run_id, token=viewer)
        check(r.returncode == 0 and r.stdout.startswith(f"{run_id}  succeeded  policy ask v1 (approve)"), f"runs show: {r.stdout}")
        r = s.cli("policy", "show", "ask", token=viewer)
        check(r.returncode == 0 and json.loads(r.stdout).get("name") == "ask", f"policy show: {r.stdout[:300]} {r.stderr}")
        r = s.cli("policy", "list", token=viewer)
        row = [x.split() for x in r.stdout.splitlines() if x.startswith("ask ")]
        check(r.stdout.split()[:5] == ["POLICY", "VERSION", "MODE", "AUTHOR", "BREAKER"]
              and row and row[0][:3] == ["ask", "v1", "approve"] and row[0][-1] == "closed", f"policy table: {r.stdout}")
        r = s.cli("recipes", "list", token=viewer)
        row = [x for x in r.stdout.splitlines() if x.startswith("restart-instance ")]
        check(r.stdout.split()[:3] == ["RECIPE", "VARIANTS", "DESCRIPTION"] and row and "sim" in row[0].split()[1].split(","),
              f"recipes table: {r.stdout}")

        # ---- versions: history, diff, rollback ------------------------------------
        with open(pol, "a") as fh:
            fh.write("guardrails: {cooldown: 30m}\n")
        r = s.cli("policy", "apply", pol, "--rationale", "longer cooldown", token=admin)
        check(r.returncode == 0 and "v2" in r.stdout, f"a changed policy is v2: {r.stdout} {r.stderr}")
        r = s.cli("policy", "diff", "ask", token=viewer)
        check(r.returncode == 0 and "+" in r.stdout and "30m" in r.stdout, f"ooda policy diff: {r.stdout} {r.stderr}")
        r = s.cli("policy", "rollback", "ask", "--to", "v1", "--rationale", "back", token=admin)
        check(r.returncode == 0 and "v3" in r.stdout, f"ooda policy rollback: {r.stdout} {r.stderr}")
        r = s.get("/api/v1/policies/ask")
        check(r.status == 200 and r.json()["version"] == 3 and "guardrails" not in r.json()["doc"]
              and [h["version"] for h in r.json()["history"]] == [1, 2, 3], f"v1's document is v3: {r.body[:300]}")
        r = s.cli("policy", "history", "ask", token=viewer)
        check(r.returncode == 0 and "rollback to v1" in r.stdout and "token:alice" in r.stdout,
              f"ooda policy history: {r.stdout}")
        r = s.post("/api/v1/policies/ask/rollback", {"to": 9})
        check(r.status == 404 and "to" in r.json().get("detail", ""), f"rollback to a missing version: {r.status} {r.body}")

        # ---- bad policies: 400 naming the field ---------------------------------
        bad = {"name": "bad", "when": {"service": "x"}, "do": [{"exec": {"argv": "rm -rf / ; echo"}}], "mode": "approve"}
        r = s.request("PUT", "/api/v1/policies/bad", bad)
        check(r.status == 400 and "argv" in r.json().get("detail", ""), f"exec as one string refused: {r.status} {r.body}")
        bad["do"] = [{"http": {"url": "http://evil.example.com/x"}}]
        r = s.request("PUT", "/api/v1/policies/bad", bad)
        check(r.status == 400 and "url" in r.json().get("detail", "") and "evil.example.com" in r.json().get("detail", ""),
              f"host off the allow-list refused: {r.status} {r.body}")
        r = s.get("/api/v1/policies/bad")
        check(r.status == 404, f"nothing stored for a refused policy: {r.status}")

        # ---- secrets never leave the process ------------------------------------
        incident("svc-secret")
        rs = wait_until(lambda: settled("secret", 1), "secret run") or [{}]
        check(rs[0].get("status") == "failed", f"secret run failed at its second step: {rs[0].get('status')}")
        echoed = rec.texts("/echo")
        check(echoed is not None, "the receiver got the call")
        body = s.get("/api/v1/runs/" + rs[0].get("id", "x")).body
        check("[redacted]" in body and SECRET not in body, "the secret is redacted from the run")
        steps = json.loads(body).get("steps", [{}])
        check(steps[0].get("output") == "token=[redacted]\n", f"an exec step's env secret is redacted: {steps[0]}")
        wait_until(lambda: [b for b in rec.texts("/hook") if "secret" in b], "escalation of the failed secret run")
        check(all(SECRET not in b for b in rec.texts("/hook")), "no secret in notifications")
        au = s.get("/api/v1/audit?limit=1000").body
        check(SECRET not in au, "no secret in the audit log")
        r = s.get("/api/v1/notifications?limit=200")
        check(SECRET not in r.body, "no secret in the outbox")

        check(s.stop() == 0, "clean stop")
        check(SECRET not in s.read_log(), "no secret in the daemon log")
    finally:
        s.cleanup()

    # ---- kill -9 in the middle of a step: the run finishes once -----------------
    cfg2 = f"""
policies:
  - name: slow
    when: {{service: svc-slow}}
    do:
      - exec: {{argv: [sleep, "3"], timeout: 10s}}
        idempotent: true
      - exec: {json.dumps(append(f["slow"], "done"))}
    irreversible_ok: true
    rationale: sleeping and appending harm nothing
"""
    s = Server(config=cfg2, expect_start=False)
    try:
        s.token = create_token(s.data, "admin", "alice")
        s.start()
        r = s.post("/api/v1/incidents", {"title": "slow", "service": "svc-slow"})
        inc = r.json().get("id")

        def step_running():
            rs = s.get("/api/v1/runs?policy=slow").json()["runs"]
            return rs and rs[0]["steps"][0]["status"] == "running"

        wait_until(step_running, "the sleep step running")
        s.send_signal(signal.SIGKILL)  # every node, when there are several
        for p in [s.proc] + [f.proc for f in s.followers]:
            p.wait(10)
        s.start()
        rs = wait_until(lambda: [x for x in s.get("/api/v1/runs?policy=slow").json()["runs"]
                               if x["status"] == "succeeded"], "resumed run", timeout=20) or [{}]
        all_runs = s.get("/api/v1/runs?policy=slow").json()["runs"]
        check(len(all_runs) == 1, f"one run across the crash: {[x['id'] for x in all_runs]}")
        check(rs[0].get("steps", [{}])[0].get("resumed") is True, f"the idempotent step was resumed: {rs[0].get('steps')}")
        check(lines(f["slow"]) == ["done"], f"the run finished once: {lines(f['slow'])}")
        # on PostgreSQL the restarted process is a new node that resumes the run when it takes the lease
        check(any(w in s.read_log() for w in ("resumed after a restart", "resumed after this node began to lead")),
              "the resume is logged")
        # the timeline entry follows the run's stored status: wait for it, then count
        def successes():
            tl = s.get(f"/api/v1/incidents/{inc}/timeline?kind=remediation").json().get("entries", [])
            return [e for e in tl if "succeeded" in e.get("text", "")]
        wait_until(successes, "the success on the timeline", timeout=10)
        check(len(successes()) == 1, f"one success on the timeline: {successes()}")
        check(s.stop() == 0, "clean stop after the resume")
    finally:
        s.cleanup()
        rec.close()
    done()


if __name__ == "__main__":
    main()
