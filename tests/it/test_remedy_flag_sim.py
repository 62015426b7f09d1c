"""A bad flag cured by the kill switch, against ooda-sim for real: fault
flag-misconfig turns flag new-pricing on for plan=free and checkout fails for those
users; an incident opens on checkout; policy kill-pricing runs recipe disable-flag
(the flag action, through ooda's own flag store, as policy:kill-pricing@v1); the
simulator's next flag poll reads the flag disabled, checkout stops failing, and the
run succeeds only once its expect (checkout's error ratio under 5 %) holds."""
import json
import os
import subprocess
import time
import urllib.error
import urllib.request

from oodait import Server, check, create_token, done, SIM, wait_for, http_call as http


def main():
    s = Server(config="log:\n  level: info\n", expect_start=False)
    token = create_token(s.data, "admin", "sim")
    s.start()
    s.token = token
    ports = os.path.join(s.tmp, "ports.json")
    log = open(os.path.join(s.tmp, "sim.log"), "w")
    sim = subprocess.Popen([SIM, "run", "--ooda", s.url, "--token", token, "--env", "prod", "--base-port", "0",
                            "--ports-file", ports, "--rps", "20"], stdout=log, stderr=log)
    try:
        wait_for("the ports file", lambda: os.path.exists(ports), timeout=10)
        ctl = f"http://127.0.0.1:{json.load(open(ports))['control']}"

        def flags():
            st, body = http("GET", f"{ctl}/state")
            return json.loads(body)["flags"] if st == 200 else {}
        wait_for("the simulator polling the flag", lambda: flags().get("polls", 0) > 0, timeout=15)
        with open(s.config, "w") as f:
            f.write("""
log:
  level: info
policies:
  - name: kill-pricing
    when: {service: checkout}
    do:
      - recipe: {name: disable-flag, variant: ooda, params: {flag: new-pricing, env: prod}}
    expect: {error_ratio: {service: checkout, below: 0.05, window: 1s}, timeout: 30s}
""")
        r = s.post("/api/v1/config/reload")
        check(r.status == 200, f"reload with the policy: {r.status} {r.body}")

        st, body = http("POST", f"{ctl}/faults", {"name": "flag-misconfig", "service": "checkout"})
        check(st == 201, f"fault flag-misconfig: {st} {body}")
        wait_for("the simulator reading the bad flag", lambda: flags().get("new-pricing", {}).get("free") is True, timeout=15)

        def ratios(j):
            if isinstance(j, dict):
                for k, v in j.items():
                    if k == "error_ratio" and isinstance(v, (int, float)):
                        yield v
                    else:
                        yield from ratios(v)
            elif isinstance(j, list):
                for v in j:
                    yield from ratios(v)

        def checkout_errors():
            r = s.get("/api/v1/services/checkout?window=10s")
            return r.status == 200 and max(ratios(r.json()), default=0) > 0.1
        wait_for("checkout's errors in ooda", checkout_errors, timeout=20)

        r = s.post("/api/v1/incidents", {"title": "checkout failing for free users", "service": "checkout"})
        check(r.status == 201, f"incident on checkout: {r.status} {r.body}")

        def ended():
            r = s.get("/api/v1/runs?policy=kill-pricing")
            rs = r.json()["runs"] if r.status == 200 else []
            return [x for x in rs if x["status"] in ("succeeded", "failed", "undone", "refused")]
        run = (wait_for("the kill-pricing run to end", ended, timeout=40) or [{}])[0]
        check(run.get("status") == "succeeded", f"run succeeded: {run.get('status')} {run.get('reason')}")
        full = s.get("/api/v1/runs/" + run.get("id", "x")).json()
        step = (full.get("steps") or [{}])[0]
        check(step.get("describe") == "flag prod/new-pricing state=DISABLED", f"the disable-flag step: {step}")
        check("error ratio of checkout" in full.get("verification", ""), f"verified: {full.get('verification')}")
        check(flags().get("new-pricing", {}).get("free") is False, f"the simulator reads the flag off: {flags()} {full}")
        cur = s.get("/api/v1/flags/new-pricing?env=prod").json()
        check(cur.get("author") == "policy:kill-pricing@v1" and cur["definition"]["state"] == "DISABLED",
              f"the flag disabled by the policy: {cur}")
        check(s.stop() == 0, "clean stop")
    finally:
        sim.terminate()
        sim.wait(10)
        s.cleanup()
    done()


if __name__ == "__main__":
    main()
