"""Runbooks on the real daemon: `ooda runbook apply` stores a Markdown runbook as a
versioned document (history, diff, rollback); `ooda runbook check` shows the exact
argv of every automated step and refuses an unknown recipe or param by name (and so
does apply, storing nothing); `ooda runbook run NAME --incident ID` walks it: the
automated step after a manual one waits until a second person marks the manual step
done (the runbook is the one services[].runbook names), then runs as a remediation run by runbook:NAME@v1 started by that person; the
walk, the incident timeline and the audit log say who did what. The walk waits for
each automated step's run to be over before the next step, and a step whose run
failed stops it."""
import json
import os
import tempfile

from oodait import Server, check, create_token, done, wait_until


def main():
    tmp = tempfile.mkdtemp(prefix="ooda-runbook-")
    mark = os.path.join(tmp, "ran")
    s = Server(config="remedy:\n  http_allow_hosts: [127.0.0.1]\nservices:\n  - name: checkout\n    runbook: checkout-down\n",
               expect_start=False)
    try:
        alice = create_token(s.data, "admin", "alice")
        bob = create_token(s.data, "responder", "bob")
        vic = create_token(s.data, "viewer", "vic")
        s.start()
        s.token = alice

        step = json.dumps({"exec": {"argv": ["/bin/sh", "-c", f"echo ran >> {mark}"]}})
        good = os.path.join(tmp, "checkout.md")
        text = ("---\nname: checkout-down\nservices: [checkout]\ntemplates: sev1\n---\n"
                "# Checkout is down\n\n"
                "- [ ] Check the checkout dashboard\n\n"
                f"```step\n{step}\n```\n")
        with open(good, "w") as f:
            f.write(text)

        # ---- apply, list, show, history ------------------------------------------
        r = s.cli("runbook", "apply", good, "--rationale", "first cut")
        check(r.returncode == 0 and "runbook checkout-down v1" in r.stdout, f"apply: {r.stdout} {r.stderr}")
        r = s.cli("runbook", "apply", good)
        check(r.returncode == 0 and "v1" in r.stdout, f"an unchanged runbook keeps its version: {r.stdout}")
        r = s.get("/api/v1/runbooks?service=checkout", token=vic)
        rbs = r.json().get("runbooks", [])
        check(r.status == 200 and [x["name"] for x in rbs] == ["checkout-down"] and rbs[0]["steps"] == 2,
              f"listed by service: {r.status} {r.body}")
        r = s.cli("runbook", "list", "--service", "checkout", token=vic)
        rows = [x.split() for x in r.stdout.splitlines()]
        check(len(rows) == 2 and rows[0][:4] == ["RUNBOOK", "VERSION", "STEPS", "SERVICES"]
              and rows[1][:4] == ["checkout-down", "v1", "2", "checkout"], f"runbook list: {r.stdout} {r.stderr}")
        r = s.cli("runbook", "list", "--service", "payments", token=vic)
        check(r.stdout.strip().splitlines() == [r.stdout.splitlines()[0]], f"filtered by --service: {r.stdout}")
        r = s.get("/api/v1/runbooks?service=payments", token=vic)
        check(r.json().get("runbooks") == [], f"not attached to payments: {r.body}")
        r = s.cli("runbook", "show", "checkout-down", token=vic)
        check(r.returncode == 0 and "- [ ] Check the checkout dashboard" in r.stdout, f"show: {r.stdout} {r.stderr}")

        # ---- check: the exact argv; unknown recipes and params refused by name ----------
        k8s = os.path.join(tmp, "k8s.md")
        with open(k8s, "w") as f:
            f.write("---\nname: k8s-restart\n---\n- [auto] restart-instance/kubernetes service=checkout namespace=shop\n")
        r = s.cli("runbook", "check", k8s, token=vic)
        check(r.returncode == 0 and "kubectl rollout restart deployment/checkout -n shop" in r.stdout,
              f"check shows the argv: {r.stdout} {r.stderr}")
        bad = os.path.join(tmp, "bad.md")
        for line, named in (("- [auto] restart-everything/sim service=http://127.0.0.1:1", "restart-everything"),
                            ("- [auto] restart-instance/sim servce=http://127.0.0.1:1", "servce")):
            with open(bad, "w") as f:
                f.write(f"---\nname: bad-one\n---\n- [ ] look first\n{line}\n")
            r = s.cli("runbook", "check", bad, token=vic)
            check(r.returncode != 0 and named in r.stderr and "steps[2]" in r.stderr,
                  f"check refuses {named} by name: {r.returncode} {r.stdout} {r.stderr}")
            r = s.cli("runbook", "apply", bad)
            check(r.returncode != 0 and named in r.stderr, f"apply refuses {named}: {r.stderr}")
        r = s.get("/api/v1/runbooks/bad-one", token=vic)
        check(r.status == 404, f"nothing stored of a refused runbook: {r.status}")
        r = s.request("PUT", "/api/v1/runbooks/other", {"markdown": text}, token=alice)
        check(r.status == 400 and "name" in r.body, f"URL and front matter must agree: {r.status} {r.body}")
        r = s.post("/api/v1/runbooks/checkout-down/check", token=vic)
        check(r.status == 200 and r.json()["ok"], f"the stored runbook checks: {r.body}")

        # ---- versions: v2, diff, rollback -------------------------------------------
        with open(good, "w") as f:
            f.write(text.replace("Check the checkout dashboard", "Check the checkout and payments dashboards"))
        r = s.cli("runbook", "apply", good, "--rationale", "payments too")
        check(r.returncode == 0 and "v2" in r.stdout, f"v2: {r.stdout} {r.stderr}")
        r = s.cli("runbook", "diff", "checkout-down", token=vic)
        check("payments dashboards" in r.stdout and "Check the checkout dashboard" in r.stdout, f"diff: {r.stdout}")
        check(r.stdout.startswith("checkout-down v1 → v2\n"), f"the diff names its versions, as a policy's: {r.stdout}")
        # the diff names the versions it compared, as a policy's does (the same handler serves both)
        r = s.get("/api/v1/runbooks/checkout-down/diff", token=vic)
        check(r.status == 200 and r.json().get("from") == 1 and r.json().get("to") == 2, f"diff versions: {r.body}")
        r = s.get("/api/v1/runbooks/checkout-down/diff?from=v2&to=1", token=vic)
        check(r.status == 200 and (r.json()["from"], r.json()["to"]) == (2, 1), f"diff from v2 to 1: {r.body}")
        r = s.get("/api/v1/runbooks/checkout-down/diff?from=x", token=vic)
        check(r.status == 400 and "from" in r.json().get("detail", ""), f"a bad version names the field: {r.body}")
        r = s.get("/api/v1/runbooks/checkout-down?version=v1", token=vic)
        check(r.status == 200 and r.json()["version"] == 1, f"one version: {r.body[:200]}")
        r = s.cli("runbook", "rollback", "checkout-down", "--to", "v1", "--rationale", "too long")
        check(r.returncode == 0 and "runbook checkout-down v3 (as v1)" in r.stdout, f"rollback: {r.stdout} {r.stderr}")
        r = s.cli("runbook", "rollback", "checkout-down", "--to", "vx")
        check(r.returncode != 0 and "--to" in r.stderr, f"a bad --to names the option: {r.stderr}")
        r = s.cli("runbook", "history", "checkout-down", token=vic)
        hist = r.stdout.strip().splitlines()
        check(len(hist) == 3 and "alice" in hist[0] and "rollback to v1" in hist[2], f"history: {r.stdout}")

        # ---- walking it on an incident ------------------------------------------------
        r = s.post("/api/v1/incidents", {"title": "checkout broken", "service": "checkout"})
        check(r.status == 201, f"incident: {r.status} {r.body}")
        inc = r.json()["id"]
        r = s.cli("runbook", "run", "checkout-down", "--incident", "INC-404")
        check(r.returncode != 0 and "INC-404" in r.stderr, f"an unknown incident is refused: {r.stderr}")
        # no NAME: the runbook the incident names (services[].runbook)
        r = s.cli("--json", "runbook", "run", "--incident", inc, "--rationale", "probe failing")
        check(r.returncode == 0, f"run: {r.stdout} {r.stderr}")
        walk = json.loads(r.stdout)
        wid = walk["id"]
        check(walk["version"] == 3 and walk["started_by"] == "token:alice" and walk["status"] == "in-progress",
              f"the walk: {walk}")
        check([x["status"] for x in walk["steps"]] == ["pending", "pending"] and not os.path.exists(mark),
              f"the automated step waits for the manual one before it: {walk['steps']}")
        r = s.post(f"/api/v1/runbook-runs/{wid}/steps/2/done", {}, token=bob)
        check(r.status == 400 and "automated" in r.body, f"an automated step is not marked by hand: {r.status} {r.body}")
        r = s.cli("runbook", "step", wid, "1", "--done", "--note", "dashboards red", token=bob)
        check(r.returncode == 0 and "by token:bob" in r.stdout, f"step done: {r.stdout} {r.stderr}")
        r = s.cli("runbook", "step", wid, "1", "--done", token=bob)
        check(r.returncode != 0 and "token:bob" in r.stderr, f"done twice is refused: {r.stderr}")

        def finished():
            w = s.get(f"/api/v1/runbook-runs/{wid}", token=vic).json()
            return w if w["status"] != "in-progress" else None

        w = wait_until(finished, "the automated step to finish")
        st = w["steps"]
        check(st[0]["done_by"] == "token:bob" and st[0]["note"] == "dashboards red", f"who did step 1: {st[0]}")
        check(st[1]["run_status"] == "succeeded" and st[1]["started_by"] == "token:bob" and w["status"] == "walked"
              and st[1]["status"] == "done", f"step 2 ran: {st[1]} {w['status']}")
        with open(mark) as f:
            check(f.read() == "ran\n", "the exec step ran exactly once")
        run = s.get("/api/v1/runs/" + st[1]["run"], token=vic).json()
        check(run["actor"] == "runbook:checkout-down@v3" and run["policy"] == "runbook:checkout-down" and
              run["incident"] == inc and run["started_by"] == "token:bob", f"the run: {run}")
        r = s.cli("runbook", "status", wid, token=vic)
        check(r.returncode == 0 and "succeeded" in r.stdout and "token:bob" in r.stdout, f"status: {r.stdout}")

        # ---- the timeline and the audit log -----------------------------------------------
        tl = s.get(f"/api/v1/incidents/{inc}/timeline", token=vic).json().get("entries", [])
        texts = [(e.get("kind"), e.get("actor"), e.get("text", "")) for e in tl]
        check(any(k == "remediation" and a == "token:alice" and "started by token:alice" in t for k, a, t in texts),
              f"start on the timeline: {texts}")
        check(any(k == "remediation" and a == "token:bob" and "step 1 done by token:bob" in t for k, a, t in texts),
              f"done step on the timeline: {texts}")
        check(any(k == "remediation" and "succeeded" in t and "runbook:checkout-down@v3" in t for k, a, t in texts),
              f"the run on the timeline: {texts}")
        au = s.get("/api/v1/audit?actor=runbook:checkout-down@v3&limit=100", token=alice).json()
        acts = [x.get("action") for x in au.get("records", au.get("entries", []))]
        check("remedy.step.ok" in acts and "remedy.run.succeeded" in acts, f"the run's steps audited: {acts}")
        au = s.get("/api/v1/audit?actor=token:bob&limit=100", token=alice).json()
        acts = [x.get("action") for x in au.get("records", au.get("entries", []))]
        check("runbook.step.done" in acts and "remedy.run.create" in acts, f"bob's part audited: {acts}")
        au = s.get("/api/v1/audit?actor=token:alice&limit=100", token=alice).json()
        acts = [x.get("action") for x in au.get("records", au.get("entries", []))]
        check(acts.count("runbook.apply") == 3 and "runbook.run.start" in acts, f"alice's part audited: {acts}")

        # ---- the walk waits for each automated step's run -------------------------------
        one, two, five = (os.path.join(tmp, n) for n in ("one", "two", "five"))

        def sh(cmd):
            return "```step\n" + json.dumps({"exec": {"argv": ["/bin/sh", "-c", cmd]}}) + "\n```\n\n"
        order = os.path.join(tmp, "order.md")
        with open(order, "w") as f:
            f.write("---\nname: in-order\n---\n# In order\n\n" + sh(f"sleep 2; echo one > {one}")
                    + sh(f"cat {one} > {two}") + "- [ ] Confirm the checkout is back\n\n" + sh("false")
                    + sh(f"echo five > {five}"))
        r = s.cli("runbook", "apply", order)
        check(r.returncode == 0, f"apply in-order: {r.stdout} {r.stderr}")
        r = s.post("/api/v1/runbooks/in-order/run", {"incident": inc}, token=bob)
        check(r.status in (200, 201), f"walk in-order: {r.status} {r.body}")
        oid = r.json().get("id", "x")
        check([x["status"] for x in r.json().get("steps", [])] == ["started"] + ["pending"] * 4,
              f"the second automated step waits for the first one's run: {r.body}")

        def at_manual():
            w = s.get(f"/api/v1/runbook-runs/{oid}", token=vic).json()
            return w if [x["status"] for x in w["steps"]][:2] == ["done", "done"] else None
        w = wait_until(at_manual, "both automated steps done")
        check(w["status"] == "in-progress" and w["steps"][2]["status"] == "pending", f"the manual step is next: {w}")
        check(open(two).read() == "one\n", "step 2 ran after step 1's run was over (it read what step 1 wrote)")
        r = s.post(f"/api/v1/runbook-runs/{oid}/steps/3/done", {}, token=bob)
        check(r.status == 200, f"step 3 done: {r.status} {r.body}")
        w = wait_until(lambda: (lambda w: w if w["status"] != "in-progress" else None)(
            s.get(f"/api/v1/runbook-runs/{oid}", token=vic).json()), "the walk to stop")
        st = [x["status"] for x in w["steps"]]
        check(w["status"] == "stopped" and st == ["done", "done", "done", "failed", "pending"]
              and w["steps"][3].get("ended_as") == "failed" and not os.path.exists(five),
              f"a failed step stops the walk; the step after it never starts: {w['status']} {st}")

        rc = s.stop()
        check(rc == 0 and "Sanitizer" not in s.read_log(), f"the daemon stops cleanly: {rc}")
    finally:
        s.cleanup()
    done()


if __name__ == "__main__":
    main()
