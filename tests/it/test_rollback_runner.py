"""The rollback runner is woken, not polling: a run started while another
is executing is run right after it (both reach done), and a run that was
queued when the daemon stopped is still stored as running and resumes at
the next start. The redeploy hook holds each run at a gate file the test
opens, so the order is the test's, not the clock's."""
import os
import signal
import tempfile
from oodait import Server, check, create_token, done

base = tempfile.mkdtemp(prefix="ooda-it-runner-")
data = os.path.join(base, "data")
admin = create_token(data, "admin", "ops")
gates = os.path.join(base, "gates")
os.makedirs(gates)
hook_log = os.path.join(base, "hook.log")
hook = os.path.join(base, "redeploy.sh")
with open(hook, "w") as f:
    # waits (at most 30 s) for the test to open the run's gate, then logs the redeploy
    f.write("#!/bin/sh\ni=0\nwhile [ ! -e \"%s/$OODA_RUN_ID\" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done\n"
            "echo \"$OODA_RUN_ID $OODA_VERSION\" >> \"%s\"\n" % (gates, hook_log))
os.chmod(hook, 0o755)
config = f"""deploy:
  hooks:
    redeploy:
      exec: ["{hook}"]
      timeout: 60s
"""


def gate_open(run):
    open(os.path.join(gates, run), "w").close()


def deploy(s, service, version):
    r = s.post("/api/v1/deploys", {"service": service, "env": "staging", "version": version})
    check(r.status == 201, f"deploy {service} {version}: {r.status} {r.body}")
    return r.json()["id"]


def rollback(s, dep):
    r = s.post(f"/api/v1/deploys/{dep}/rollback", {"rationale": "bad deploy"})
    check(r.status == 202 and r.json().get("status") == "running", f"rollback of {dep} starts a run: {r.status} {r.body}")
    return r.json()["id"]


def status(s, run, wait=False):
    r = s.get(f"/api/v1/rollbacks/{run}" + ("?wait=true" if wait else ""))
    check(r.status == 200, f"run {run}: {r.status} {r.body}")
    return r.json()


def redeploys(run):
    if not os.path.exists(hook_log):
        return []
    return [l for l in open(hook_log).read().splitlines() if l.startswith(run + " ")]


s = Server(config=config, data=data)
s.token = admin
try:
    deploy(s, "cart", "1.0.0")
    cart2 = deploy(s, "cart", "1.1.0")
    deploy(s, "shop", "2.0.0")
    shop2 = deploy(s, "shop", "2.1.0")

    # --- a run started while another one executes runs right after it
    run_a = rollback(s, cart2)
    run_b = rollback(s, shop2)
    check(status(s, run_a)["status"] == "running", "the first run waits at its gate")
    check(status(s, run_b)["status"] == "running", "the second run is queued behind it")
    gate_open(run_a)
    gate_open(run_b)
    b = status(s, run_b, wait=True)
    check(b["status"] == "done" and all(x == "done" for x in b["state"]), f"the second run finished: {b}")
    a = status(s, run_a, wait=True)
    check(a["status"] == "done", f"the first run finished: {a}")
    check(len(redeploys(run_a)) == 1 and len(redeploys(run_b)) == 1,
          f"each run redeployed once: {redeploys(run_a)} {redeploys(run_b)}")

    # --- a run queued when the daemon stops is stored as running and resumes at the next start
    cart3 = deploy(s, "cart", "1.2.0")
    shop3 = deploy(s, "shop", "2.2.0")
    run_c = rollback(s, cart3)
    run_d = rollback(s, shop3)
    s.send_signal(signal.SIGTERM)
    gate_open(run_c)  # the stopping daemon lets the executing run finish
    s.proc.wait(timeout=60)
    check(s.proc.returncode == 0, f"clean stop: {s.proc.returncode}")
    s.proc = None
    check(redeploys(run_d) == [], f"the queued run did not run before the stop: {redeploys(run_d)}")
    gate_open(run_d)
    s.start()
    d = status(s, run_d, wait=True)
    check(d["status"] == "done" and all(x == "done" for x in d["state"]), f"the queued run resumed and finished: {d}")
    c = status(s, run_c, wait=True)
    check(c["status"] == "done", f"the run that was executing at the stop finished: {c}")
    check(len(redeploys(run_c)) == 1 and len(redeploys(run_d)) == 1,
          f"each run redeployed once: {redeploys(run_c)} {redeploys(run_d)}")
finally:
    s.cleanup()

done()
