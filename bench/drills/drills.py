#!/usr/bin/env python3
"""Fault drills, ooda against Prometheus + Alertmanager: from a fault injected
into ooda-sim to the first notification of each system at the same local
webhook receiver.

One simulated system (ooda-sim, docs/sim.md) is watched by both at once:
ooda receives its OTLP and heartbeats; Prometheus scrapes every service's
/metrics every 1 s and evaluates every 1 s; Alertmanager sends to a webhook.
Both have the same rules with the same `for` (below, and bench/drills/README.md);
both notify ONE receiver in this process (path /ooda or /am), which stamps each
arrival with time.time(). A fault's start is the moment the simulator's
`POST /faults` answer arrives, on the same clock. Per scenario and run: wait
until neither system has an alert pending or firing and the last fault was cleared
at least DRILL_SETTLE (30 s, the longest rule window) ago, inject, wait for the first
firing notification of each (DRILL_TIMEOUT, 120 s), clear, settle. For `noise`
and `traffic-spike` (nothing is broken) every firing notification within
DRILL_QUIET (45 s) is a false one. For a fault with a remediation policy
(REMEDIES) the drill then waits for the policy's run to succeed: MTTR, from
ooda's run record. Then the human-in-the-loop MTTR baseline from the
assumptions in HUMAN below.

Python 3 standard library only. Usage: drills.py BUILD (see bench/drills/run).
"""
import datetime
import http.server
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../lib"))
from benchutil import table  # noqa: E402  the benches' one Markdown table writer

build = sys.argv[1] if __name__ == "__main__" and len(sys.argv) > 1 else "build-bench"
OODA = os.path.join(build, "ooda")
SIM = os.path.join(build, "sim", "ooda-sim")
RUNS = int(os.environ.get("DRILL_RUNS", "3"))
FOR = os.environ.get("DRILL_FOR", "2s")
# The longest blip that must never page (ooda's RED detector: alerts.red_detector's blip,
# 2 s). A rule over a window of W s on a ratio a blip can push past its threshold sees a
# blip for up to BLIP_S + W s, so such a rule holds `for` that long on both sides
# (docs/decisions.md, "No error-ratio rule pages on a 2 s blip").
BLIP_S = 2
TIMEOUT = float(os.environ.get("DRILL_TIMEOUT", "120"))
QUIET = float(os.environ.get("DRILL_QUIET", "45"))
RPS = os.environ.get("DRILL_RPS", "20")
# Before a fault, the last one's clearing is at least this far back (s): the longest
# rule window (30 s), so every window holds healthy data only, as before a real fault.
# Without it a trend rule's window still held the last leak's drop to the base after
# its restart, which held the next leak's detection back by ~9 s on both sides.
SETTLE = float(os.environ.get("DRILL_SETTLE", "30"))
# Before the first drill, wait until ooda's RED anomaly watch has learnt every service
# (GET /api/v1/anomalies: no error ratio still warming up; 150 slots of 10 s, about 26 min),
# so the drills meet the ooda a team runs, not one started a minute ago. DRILL_LEARN=0 skips it.
LEARN = os.environ.get("DRILL_LEARN", "1") != "0"
LEARN_LIMIT = 40 * 60
# ooda's fast RED change detector (alerts.red_detector, on by default) and, on the
# Prometheus side, its closest PromQL equivalent (HighErrorRatioFast below). DRILL_FAST=0
# turns both off: the comparison as it stood before the detector.
FAST = os.environ.get("DRILL_FAST", "1") != "0"

# name, fault, service (None: the fault's default), harmless (every alert is false)
SCENARIOS = [
    ("bad-deploy", "bad-deploy", None, False),
    ("slow-dependency", "slow-dependency", None, False),
    ("dependency-down", "dependency-down", None, False),
    ("memory-leak", "memory-leak", None, False),
    ("flag-misconfig", "flag-misconfig", None, False),
    ("config-shed", "config-shed", None, False),
    ("job-stopped", "job-stopped", None, False),
    ("traffic-spike", "traffic-spike", None, True),
    ("noise", "noise", None, True),
    # a bad deploy's failure (10-30 % of payments' requests) gone within 2 s: what a
    # restart looks like; every alert is false
    ("blip", "blip", None, True),
    # not a simulator fault: the bench loads the machine itself (HOST_STRESS_S of busy
    # loops, two per core, and a writer that syncs every block), nothing injected in the
    # system watched: every alert is false
    ("host-stress", None, None, True),
]
HOST_STRESS_S = 30


def host_counters():
    """The machine's stall counters now: (time, CPU pressure µs, IO pressure µs (PSI
    `some` totals, /proc/pressure), steal ticks, all ticks (/proc/stat)); None where the
    kernel has none."""
    def psi(kind):
        try:
            with open(f"/proc/pressure/{kind}") as f:
                return int(f.readline().split("total=")[1])
        except (OSError, IndexError, ValueError):
            return None
    steal = ticks = None
    try:
        with open("/proc/stat") as f:
            cpu = [int(v) for v in f.readline().split()[1:]]
        steal, ticks = (cpu[7] if len(cpu) > 7 else 0), sum(cpu)
    except (OSError, ValueError):
        pass
    return (time.time(), psi("cpu"), psi("io"), steal, ticks)


def host_share(a, b):
    """Between two host_counters(): the share of the time some task waited for a CPU, for
    IO, and the share of CPU time the hypervisor took (steal), in %."""
    dt = max(b[0] - a[0], 1e-6)
    out = {}
    for key, i in (("cpu", 1), ("io", 2)):
        out[key] = None if a[i] is None or b[i] is None else 100.0 * (b[i] - a[i]) / 1e6 / dt
    out["steal"] = None if a[3] is None or b[4] == a[4] else 100.0 * (b[3] - a[3]) / (b[4] - a[4])
    return out


def host_stress():
    """Starts the host-stress load; returns its processes (each stops by itself)."""
    procs = [subprocess.Popen(["timeout", str(HOST_STRESS_S), "sh", "-c", "while :; do :; done"])
             for _ in range(2 * (os.cpu_count() or 1))]
    procs.append(subprocess.Popen(
        ["timeout", str(HOST_STRESS_S), "sh", "-c",
         f"while :; do dd if=/dev/zero of={tmp}/stress.bin bs=4k count=1000 oflag=dsync 2>/dev/null; done"]))
    return procs

# The rules, one per line on each side: (name, ooda expr, Prometheus expr).
# Error ratio: both count the same requests (ooda the OTLP sum `sim.requests`
# by outcome, pushed every second, which ooda names `sim_requests_total` with the
# service in `job`; Prometheus `sim_requests_total` by code,
# scraped every second) over 10 s. Latency: the database's median over 30 s
# (healthy 4 ms, 20 ms and more when slow) from ooda's span histogram (10 s
# slots, the only latency ooda gets) and from the scraped histogram. Not a p99 of
# every service: on this shared 2-core machine the tail follows the machine's
# load (p99 0.2-0.5 s while healthy at load 25), a median of the database does not.
# Memory: the gauge, 75 % of the simulated 256 MiB limit, and its trend reaching
# the limit within 15 min (predict_linear on both sides).
ERR_WINDOW_S = 10
RULES = [
    ("HighErrorRatio",
     f'sum by (job) (rate(sim_requests_total{{outcome="error"}}[{ERR_WINDOW_S}s])) '
     f'/ sum by (job) (rate(sim_requests_total[{ERR_WINDOW_S}s])) > 0.05',
     f'sum by (service) (rate(sim_requests_total{{code="5xx"}}[{ERR_WINDOW_S}s])) '
     f'/ sum by (service) (rate(sim_requests_total[{ERR_WINDOW_S}s])) > 0.05'),
    ("DatabaseSlow",
     'histogram_quantile(0.5, sum by (service, le) (rate(ooda_span_duration_seconds_bucket{service="database"}[30s]))) > 0.02',
     'histogram_quantile(0.5, sum by (service, le) (rate(sim_request_duration_seconds_bucket{service="database"}[30s]))) > 0.02'),
    ("MemoryHigh",
     'process_memory_usage_bytes > 201326592',
     'process_resident_memory_bytes > 201326592'),
    # A leak by its trend, as Prometheus users write it: at the last 30 s's rate the
    # limit (256 MiB) is reached within 15 min, the time the scripted responder
    # (HUMAN) needs from the page to a repair. Flat memory never fires it.
    ("MemoryFillingUp",
     'predict_linear(process_memory_usage_bytes[30s], 900) > 268435456',
     'predict_linear(process_resident_memory_bytes[30s], 900) > 268435456'),
]

# The background job's dead-man switch. ooda: heartbeat sim-reconciler (the job pings
# after every run). Prometheus: the job's last-success time, which a batch job pushes to
# a Pushgateway (the simulator's control port serves it the same way, honor_labels as
# for a Pushgateway), late past the same every + grace; `for: 0s` as ooda's heartbeat
# has none. Grace 3 s: late when two runs in a row are missing (the second one's due
# time, every after the first) plus 1 s for a run's own time (a run takes milliseconds).
# ooda's fast RED change detector (src/detect/redfast.h) tests each service's error count
# in 250 ms slots of span time against the service's own baseline (a CUSUM of the
# binomial likelihood ratio: tolerance baseline + max(baseline, 1 point), tuned to a
# 5-point rise, 8 nats to fire) and fires when the excess held 11 slots (2.75 s of the
# service's spans from the first failing one) with evidence outside any blip-length
# stretch. PromQL has no sequential test (an
# evaluation keeps no state but `for`) and no per-request evidence, so Prometheus gets
# the closest rule it can express: the error ratio over the shortest window a 1 s scrape
# gives a rate for, at the threshold the other rule uses, held for as long as it takes
# to keep the detector's promise, that a 2 s blip never pages however strong: a window
# of W seconds holds a blip of B seconds for up to B + W, so `for` is B + W (5 s). With
# `for: 3s` (the hold's length, as this bench had it) it paged on the `blip` scenario,
# a bad deploy's failure gone within 2 s (docs/decisions.md, "No error-ratio rule pages
# on a 2 s blip").
FAST_WINDOW_S = 3
FAST_FOR = f"{BLIP_S + FAST_WINDOW_S}s"
PROM_FAST_RULE = ("HighErrorRatioFast",
                  f'sum by (service) (rate(sim_requests_total{{code="5xx"}}[{FAST_WINDOW_S}s])) '
                  f'/ sum by (service) (rate(sim_requests_total[{FAST_WINDOW_S}s])) > 0.05', FAST_FOR)

# The same detector tests latency: the share of a service's requests slower than its
# learnt p99 plus half (at least 1 ms), against its own baseline share, with the same
# evidence and hold. PromQL cannot count requests past a learnt bound (`le` is a fixed
# label), so the closest rule compares the p99 over the last 3 s with 1.5 times the p99 of
# the 5 minutes before the last minute, a service against its own recent past, with the
# same hold as the error rule. Its baseline window holds whatever happened in it, earlier
# drills included.
PROM_FAST_LATENCY = ("LatencyRiseFast",
                     f'histogram_quantile(0.99, sum by (service, le) (rate(sim_request_duration_seconds_bucket[{FAST_WINDOW_S}s]))) '
                     '> 1.5 * histogram_quantile(0.99, sum by (service, le) '
                     '(rate(sim_request_duration_seconds_bucket[5m] offset 1m)))', FAST_FOR)

# Each rule's `for`, the same on both sides: the error ratio's held for a blip plus its
# window (a 2 s blip of 30 % is 6 % of 10 s: with `for: 2s` it paged on `blip`), the rest
# DRILL_FOR (a 2 s blip cannot move a 30 s median past its threshold; memory does not
# blip here).
RULE_FOR = {"HighErrorRatio": f"{ERR_WINDOW_S + BLIP_S}s"}


def rule_for(name):
    return RULE_FOR.get(name, FOR)


HB_EVERY, HB_GRACE = 2, 3
PROM_JOB_RULE = ("JobStopped",
                 f'time() - sim_job_last_success_timestamp_seconds{{job="reconciler"}} > {HB_EVERY + HB_GRACE}')

# The remediation policies (the same as `ooda drill run`'s, docs/drills.md), one per
# fault the simulator has a hook for: fault -> (policy, service acted on, trigger,
# step with {url} the service's base URL, expect). A fault that shows as a service's
# errors is acted on when the fast RED detector finds them (`red:SERVICE/error_ratio`;
# HighErrorRatio with DRILL_FAST=0, which turns the detector off) and verified on the
# service's live error ratio over the last 10 s. The memory leak is restarted before its
# OOM, when checkout's memory trend reaches the limit within 15 min (MemoryFillingUp), and
# verified on its health probe, as the drill does.
def _errors(svc):
    return f'{{alert: "red:{svc}/error_ratio"}}' if FAST else f"{{alert: HighErrorRatio, service: {svc}}}"


def _verified(svc):
    return f"{{error_ratio: {{service: {svc}, below: 0.05, window: 10s}}, timeout: 3m}}"


REMEDIES = {
    "bad-deploy": ("rollback-payments", "payments", _errors("payments"),
                   '{recipe: {name: rollback-last-deploy, variant: sim, params: {service: "{url}", version: "2.3.0"}}}',
                   _verified("payments")),
    "dependency-down": ("restart-inventory", "inventory", "{probe: {service: inventory, name: health}}",
                        '{recipe: {name: restart-instance, variant: sim, params: {service: "{url}"}}}',
                        "{probe: {service: inventory, name: health}, timeout: 1m}"),
    "memory-leak": ("restart-checkout", "checkout", "{alert: MemoryFillingUp, service: checkout}",
                    '{recipe: {name: restart-instance, variant: sim, params: {service: "{url}"}}}',
                    "{probe: {service: checkout, name: health}, timeout: 1m}"),
    "config-shed": ("unshed-frontend", "frontend", _errors("frontend"),
                    '{http: {url: "{url}/admin/shed", body: {ratio: 0}, timeout: 10s}}',
                    _verified("frontend")),
    "flag-misconfig": ("revert-flag-pricing", "checkout", _errors("checkout"),
                       "{flag: {env: prod, key: new-pricing, to: previous}}",
                       _verified("checkout")),
    "job-stopped": ("restart-reconciler", "reconciler", '{alert: "heartbeat:sim-reconciler"}',
                    '{http: {url: "{url}/admin/job/restart", timeout: 10s}}',
                    "{alert_resolved: true, timeout: 1m}"),
}
# Preconditions, YAML flow sequences: the flag policy takes back only a recent change of
# the flag by someone other than a policy (checkout's errors from other faults refuse).
PRECONDITIONS = {"flag-misconfig": "[{flag_changed: {env: prod, key: new-pricing, within: 5m}}]"}
# a service's port is the simulator's base port + this; the job's hook is on the control port
SIM_OFFSET = {"frontend": 1, "checkout": 2, "payments": 3, "inventory": 4, "database": 5, "reconciler": 0}

# The scripted responder (assumptions, stated in docs/benchmarks.md).
HUMAN = {
    "ack_day_s": (60, 180),       # acknowledge a page in working hours: 1-3 min
    "ack_night_s": (120, 300),    # at night: 2-5 min (woken, laptop, VPN)
    "orient_s": 300,              # open dashboards, find the suspect: 5 min
    "runbook_step_s": 300,        # run the runbook step (rollback, restart, flag off): 5 min
    "verify_s": 120,              # watch the graphs recover: 2 min
}

tmp = tempfile.mkdtemp(prefix="ooda-bench-drills-")
procs = []


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def cleanup():
    for p in reversed(procs):
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
    procs.clear()
    if os.environ.get("DRILL_KEEP"):
        log(f"drills: kept {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)


class DrillError(Exception):
    pass


def die(msg):
    """Stops what was started; exits when run as the bench, raises when imported."""
    log("bench/drills: " + msg)
    cleanup()
    if __name__ != "__main__":
        raise DrillError(msg)
    sys.exit(1)


def on_signal(signum, _frame):
    cleanup()
    sys.exit(128 + signum)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(method, url, body=None, timeout=10):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"} if data else {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, json.loads(r.read() or b"null")


def wait_http(url, what, p, tries=300):
    for _ in range(tries):
        if p.poll() is not None:
            die(f"{what} exited with {p.returncode}; logs in {tmp}")
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except Exception:
            time.sleep(0.1)
    die(f"{what} did not answer {url}")


# ---- the one receiver -------------------------------------------------------------

class Receiver:
    """Both systems post here: /ooda (ooda's webhook target) and /am
    (Alertmanager's webhook receiver). Keeps (time, source, what, firing,
    labels: Alertmanager's alertname, service and fired time)."""

    def __init__(self):
        self.events = []
        self.lock = threading.Lock()
        self.port = free_port()
        rec = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                t = time.time()
                n = int(self.headers.get("Content-Length", "0"))
                try:
                    body = json.loads(self.rfile.read(n) or b"{}")
                except ValueError:
                    body = {}
                self.send_response(200)
                self.end_headers()
                rec.add(t, self.path, body)

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), H)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def add(self, t, path, body):
        out = []
        if path.startswith("/ooda"):
            kind, event = body.get("kind"), body.get("event")
            obj = body.get(kind) if isinstance(body.get(kind), dict) else {}
            what = f"{kind}.{event} {obj.get('title') or obj.get('name') or ''} {obj.get('service') or ''}"
            out.append((t, "ooda", what.strip(), event in ("firing", "opened", "reopened"), {}))
        elif path.startswith("/am"):
            for a in body.get("alerts", []):
                lb = a.get("labels", {})
                # startsAt is the alert's fired time in Prometheus (the end of its `for`)
                out.append((t, "prom", f"{lb.get('alertname')} {lb.get('service', '')} {a.get('status')}".strip(),
                            a.get("status") == "firing",
                            {"alertname": lb.get("alertname"), "service": lb.get("service"),
                             "fired": iso_epoch(a.get("startsAt"))}))
        with self.lock:
            self.events.extend(out)

    def firing_since(self, source, t0):
        with self.lock:
            return [e for e in self.events if e[1] == source and e[3] and e[0] >= t0]


# ---- the systems --------------------------------------------------------------------

def sim_base_port():
    """A free base port with the five service ports after it free too (ooda's probes
    and policies name them before the simulator starts)."""
    lo, _hi = (int(x) for x in open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
    for _ in range(200):
        # below the ephemeral range: there, the load's own connections take every other port
        base = random.randrange(10000, max(lo - 10, 10001))
        ok = True
        for k in range(1, 6):
            with socket.socket() as s:
                # as the simulator's servers bind: a port in TIME_WAIT from the load is free for them
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind(("127.0.0.1", base + k))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    die("no free loopback ports for ooda-sim")


def remedy_config(base):
    """Probes for the services a policy restarts, and the policies (REMEDIES)."""
    out = "remedy:\n  http_allow_hosts: [127.0.0.1]\npolicies:\n"
    for fault, (name, svc, when, step, expect) in REMEDIES.items():
        pre = f"    precondition: {PRECONDITIONS[fault]}\n" if fault in PRECONDITIONS else ""
        out += (f"  - name: {name}\n    when: {when}\n{pre}    do:\n      - "
                + step.replace("{url}", f"http://127.0.0.1:{base + SIM_OFFSET[svc]}")
                + f"\n    expect: {expect}\n    irreversible_ok: true\n"
                f"    rationale: bench drill {fault}; the simulator's admin endpoint is its own way back\n"
                "    guardrails: {cooldown: 10s, max_runs: 50, window: 1h}\n")
    return out


def probes(base, svc):
    return (f"    probes:\n      - name: health\n        http: {{url: \"http://127.0.0.1:{base + SIM_OFFSET[svc]}"
            "/healthz\", expect_status: \"2xx\"}\n        interval: 1s\n        fail_after: 2 of 3\n")


sim_base = None  # the simulator's base port, chosen by start_ooda (its config names the ports)


def start_ooda(rec, base=None):
    global sim_base
    sim_base = base = base or sim_base_port()
    port = free_port()
    cfg = os.path.join(tmp, "ooda.yaml")
    rules = "".join(f"""    - name: {n}
      expr: '{o}'
      for: {rule_for(n)}
      severity: page
""" for n, o, _p in RULES)
    with open(cfg, "w") as f:
        f.write(f"""log:
  level: warn
services:
  - name: frontend
    dependencies: [checkout]
  - name: checkout
    dependencies: [payments, inventory]
{probes(base, "checkout")}  - name: payments
    dependencies: [database]
  - name: inventory
    dependencies: [database]
{probes(base, "inventory")}  - name: database
heartbeats:
  - name: sim-reconciler
    every: {HB_EVERY}s
    grace: {HB_GRACE}s
    service: reconciler
alerts:
  interval: 1s
  red_detector: {"true" if FAST else "false"}
  rules:
{rules}incidents:
  reopen_window: 1s           # each drill is its own incident: the bench resolves it after the drill
notify:
  targets:
    - name: bench
      type: webhook
      url: http://127.0.0.1:{rec.port}/ooda
      secret_env: OODA_BENCH_WEBHOOK_KEY
      timeout: 2s
  routes:
    - targets: [bench]
{remedy_config(base)}""")
    env = dict(os.environ, OODA_BENCH_WEBHOOK_KEY="bench-drills")
    lf = open(os.path.join(tmp, "ooda.log"), "w")
    p = subprocess.Popen([OODA, "serve", "--config", cfg, "--listen", f"127.0.0.1:{port}",
                          "--data", os.path.join(tmp, "ooda-data")], stdout=lf, stderr=lf, env=env)
    procs.append(p)
    wait_http(f"http://127.0.0.1:{port}/readyz", "ooda", p)
    return port


def start_sim(ooda_port, base=None):
    base = base or sim_base
    pf = os.path.join(tmp, "sim-ports.json")
    lf = open(os.path.join(tmp, "sim.log"), "w")
    p = subprocess.Popen([SIM, "run", "--ooda", f"http://127.0.0.1:{ooda_port}", "--base-port", str(base),
                          "--ports-file", pf, "--rps", RPS], stdout=lf, stderr=lf)
    procs.append(p)
    for _ in range(300):
        if os.path.exists(pf) and os.path.getsize(pf) > 0:
            try:
                with open(pf) as f:
                    return json.load(f)
            except ValueError:
                pass
        if p.poll() is not None:
            die(f"ooda-sim exited; see {tmp}/sim.log")
        time.sleep(0.1)
    die("ooda-sim wrote no ports file")


def start_prom(rec, ports):
    d = os.path.join(tmp, "prom")
    os.makedirs(d)
    am_port, am_cluster, prom_port = free_port(), free_port(), free_port()
    with open(os.path.join(d, "am.yml"), "w") as f:
        f.write(f"""route:
  receiver: bench
  group_by: [alertname, service]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 4h
receivers:
  - name: bench
    webhook_configs:
      - url: http://127.0.0.1:{rec.port}/am
        send_resolved: true
""")
    rules = "".join(f"""      - alert: {n}
        expr: '{pexpr}'
        for: {rule_for(n)}
        labels: {{severity: page}}
""" for n, _o, pexpr in RULES) + f"""      - alert: {PROM_JOB_RULE[0]}
        expr: '{PROM_JOB_RULE[1]}'
        for: 0s
        labels: {{severity: page, service: reconciler}}
""" + ("".join(f"""      - alert: {r[0]}
        expr: '{r[1]}'
        for: {r[2]}
        labels: {{severity: page}}
""" for r in (PROM_FAST_RULE, PROM_FAST_LATENCY)) if FAST else "")
    with open(os.path.join(d, "rules.yml"), "w") as f:
        f.write("groups:\n  - name: drills\n    interval: 1s\n    rules:\n" + rules)
    targets = ", ".join(f'"127.0.0.1:{p}"' for p in ports["services"].values())
    with open(os.path.join(d, "prom.yml"), "w") as f:
        f.write(f"""global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1s
rule_files: [{d}/rules.yml]
alerting:
  alertmanagers:
    - static_configs:
        - targets: ["127.0.0.1:{am_port}"]
scrape_configs:
  - job_name: sim
    static_configs:
      - targets: [{targets}]
  - job_name: sim-jobs
    honor_labels: true
    static_configs:
      - targets: ["127.0.0.1:{ports['control']}"]
""")
    am = subprocess.Popen(["prometheus-alertmanager", f"--config.file={d}/am.yml", f"--storage.path={d}/am",
                           f"--web.listen-address=127.0.0.1:{am_port}",
                           f"--cluster.listen-address=127.0.0.1:{am_cluster}"],
                          stdout=subprocess.DEVNULL, stderr=open(f"{d}/am.log", "w"))
    procs.append(am)
    pr = subprocess.Popen(["prometheus", f"--config.file={d}/prom.yml", f"--storage.tsdb.path={d}/tsdb",
                           f"--web.listen-address=127.0.0.1:{prom_port}"],
                          stdout=subprocess.DEVNULL, stderr=open(f"{d}/prom.log", "w"))
    procs.append(pr)
    wait_http(f"http://127.0.0.1:{am_port}/-/ready", "Alertmanager", am)
    wait_http(f"http://127.0.0.1:{prom_port}/-/ready", "Prometheus", pr)
    return prom_port


# ---- a drill ---------------------------------------------------------------------------

def active_alerts(ooda_port, prom_port):
    """Names of alerts pending or firing in either system (quiet = empty)."""
    out = []
    try:
        _s, j = call("GET", f"http://127.0.0.1:{ooda_port}/api/v1/alerts")
        for a in j.get("alerts", []):
            if a.get("state") in ("pending", "firing"):
                out.append("ooda:" + a.get("name", "?"))
    except Exception as e:
        out.append(f"ooda:?{e}")
    try:
        _s, j = call("GET", f"http://127.0.0.1:{prom_port}/api/v1/alerts")
        for a in j.get("data", {}).get("alerts", []):
            out.append("prom:" + a.get("labels", {}).get("alertname", "?"))
    except Exception as e:
        out.append(f"prom:?{e}")
    return out


def wait_learnt(ooda_port):
    t0 = time.time()
    while True:
        _st, j = call("GET", f"http://127.0.0.1:{ooda_port}/api/v1/anomalies")
        svcs = j["red"]["services"]
        learning = [x["service"] for x in svcs if x["error_ratio"]["warming_up"]]
        if len(svcs) >= 5 and not learning:
            log(f"drills: the anomaly watch has learnt {len(svcs)} services after {time.time() - t0:.0f} s")
            return
        if time.time() - t0 > LEARN_LIMIT:
            die(f"the anomaly watch still learning after {LEARN_LIMIT} s: {learning or 'no service yet'}")
        time.sleep(15)


def wait_quiet(ooda_port, prom_port, hold=5.0, limit=90.0):
    t0, since = time.time(), None
    while time.time() - t0 < limit:
        if active_alerts(ooda_port, prom_port):
            since = None
        elif since is None:
            since = time.time()
        elif time.time() - since >= hold:
            return True
        time.sleep(0.5)
    log(f"drills: not quiet after {limit:.0f}s: {active_alerts(ooda_port, prom_port)}")
    return False


def iso_epoch(v):
    try:
        return datetime.datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp()
    except (AttributeError, ValueError):
        return None


def new_since(inc, t0):
    """An incident opened at or after t0, or reopened since (an alert fired again
    within reopen_window). Not one that was only touched since: resolving the last
    drill's incident right before the fault adds its "resolved notification queued"
    entry a few ms later, which moves its updated_at past the next fault's start."""
    opened = iso_epoch(inc.get("opened_at"))
    if opened is not None and opened >= t0:
        return True
    updated = iso_epoch(inc.get("updated_at"))
    return (inc.get("status") == "triggered" and (inc.get("reopened") or 0) > 0
            and updated is not None and updated >= t0)


def ooda_incident_service(ooda_port, t0):
    """The primary service of ooda's incident opened or reopened since t0 (the
    one updated last), or None: what the top-1 suspect is scored on, and for a
    harmless scenario a false incident."""
    try:
        _s, j = call("GET", f"http://127.0.0.1:{ooda_port}/api/v1/incidents?limit=50")
    except Exception:
        return None
    best = None
    for inc in j.get("incidents", []):
        u = iso_epoch(inc.get("updated_at"))
        if new_since(inc, t0) and (best is None or (u or 0) > best[0]):
            best = (u or 0, inc.get("service"))
    return best[1] if best else None


def ooda_fired_evidence(ooda_port, t0):
    """Each ooda alert fired since t0: its name and the evidence of its firing
    transition (for a harmless scenario, what the detector saw as it paged)."""
    try:
        _s, j = call("GET", f"http://127.0.0.1:{ooda_port}/api/v1/alerts?state=all")
    except Exception:
        return []
    out = []
    for a in j.get("alerts", []):
        fired = iso_epoch(a.get("fired_at"))
        if fired is None or fired < t0 or a.get("severity") == "info":
            continue
        try:
            _s, one = call("GET", f"http://127.0.0.1:{ooda_port}/api/v1/alerts/{a['fingerprint']}")
        except Exception:
            one = a
        ev = a.get("evidence")
        for t in one.get("transitions") or []:
            if t.get("to") == "firing" and (iso_epoch(t.get("at")) or 0) >= t0:
                ev = t.get("evidence")
                break
        out.append({"name": a.get("name"), "fired_s": round(fired - t0, 2), "evidence": ev})
    return out


def resolve_incidents(ooda_port):
    """Ends the drill in ooda as a responder would: every open incident resolved."""
    try:
        _s, j = call("GET", f"http://127.0.0.1:{ooda_port}/api/v1/incidents?limit=50")
    except Exception:
        return
    for inc in j.get("incidents", []):
        if inc.get("status") in ("triggered", "acknowledged", "mitigated"):
            try:
                call("POST", f"http://127.0.0.1:{ooda_port}/api/v1/incidents/{inc['id']}/transition",
                     {"to": "resolved", "note": "drill over"})
            except Exception as e:
                log(f"drills: could not resolve {inc.get('id')}: {e}")


STEPS = ("data", "condition", "for", "queued", "sent", "arrived")
PROM_STEPS = ("data", "condition", "for", "notify")

# The raw series behind a rule, per side, with {svc} the alert's service: the first
# sample after the fault in which it moved (an error counted, memory grown) is the
# failing data each system had. ooda's sample time is the simulator's reading at
# export, Prometheus' the scrape's.
DATA = {
    "HighErrorRatio": ('sim_requests_total{{outcome="error",job="{svc}"}}',
                       'sim_requests_total{{code="5xx",service="{svc}"}}'),
    "MemoryHigh": ('process_memory_usage_bytes{{job="{svc}"}}', 'process_resident_memory_bytes{{service="{svc}"}}'),
    "MemoryFillingUp": ('process_memory_usage_bytes{{job="{svc}"}}',
                        'process_resident_memory_bytes{{service="{svc}"}}'),
}


def data_sel(name):
    """The raw series pair (ooda, Prometheus) behind an alert name; the fast detector's
    red:SERVICE/error_ratio and HighErrorRatioFast move with the same request counter."""
    if name and (name.endswith("/latency") or name == PROM_FAST_LATENCY[0]):
        return None  # every request moves the duration counters: no first failing sample to find
    if name and (name.startswith("red:") or name == PROM_FAST_RULE[0]):
        return DATA["HighErrorRatio"]
    return DATA.get(name)


def first_change(port, selector, t0):
    """The time of the first sample at or after t0 in which a series of selector
    rose above its previous sample (a new series: its first sample above 0), from
    an instant query of the raw samples (the same Prometheus API on both sides)."""
    q = urllib.parse.quote(f"{selector}[3m]")
    try:
        _s, j = call("GET", f"http://127.0.0.1:{port}/api/v1/query?query={q}&time={time.time():.3f}")
    except Exception:
        return None
    first = None
    for ser in (j.get("data") or {}).get("result", []):
        prev = None
        for ts, v in ser.get("values", []):
            ts, v = float(ts), float(v)
            if ts >= t0 and (v > prev if prev is not None else v > 0):
                first = ts if first is None else min(first, ts)
                break
            prev = v
    return first


def newest_at(port, selector, t):
    """The time of the newest sample of selector at or before t (the one the evaluation
    at t read last), from an instant query of its raw samples at t; None if none."""
    if t is None:
        return None
    q = urllib.parse.quote(f"{selector}[15s]")
    try:
        _s, j = call("GET", f"http://127.0.0.1:{port}/api/v1/query?query={q}&time={t:.3f}")
    except Exception:
        return None
    ts = [float(v[0]) for ser in (j.get("data") or {}).get("result", []) for v in ser.get("values", [])
          if float(v[0]) <= t + 0.0005]
    return max(ts) if ts else None


def lag(active, newest):
    """How old the newest sample was when the evaluation that found the condition ran."""
    return (active - newest) if active is not None and newest is not None else None


def diffs(ts, names):
    return {k: (ts[i + 1] - ts[i]) if ts[i] is not None and ts[i + 1] is not None else None
            for i, k in enumerate(names)}


def ooda_steps(ooda_port, t0, arrival):
    """Where ooda's time went, from its own timestamps: fault → the first failing
    sample of the rule's series (data: the simulator's reading, DATA) → the first
    evaluation that found the condition (alert active_at; from the fault, so it
    holds the export, ingest, the rule window and the evaluation) → firing
    (fired_at: the `for`) → the notification row (created_at) → delivered
    (delivered_at, the sender) → the receiver's arrival. None when unknown."""
    try:
        _s, al = call("GET", f"http://127.0.0.1:{ooda_port}/api/v1/alerts?state=all")
        _s, nt = call("GET", f"http://127.0.0.1:{ooda_port}/api/v1/notifications?limit=200")
    except Exception:
        return None
    fired = [a for a in al.get("alerts", []) if (iso_epoch(a.get("fired_at")) or 0) >= t0]
    if not fired:
        return None
    a = min(fired, key=lambda a: iso_epoch(a["fired_at"]))
    rows = [n for n in nt.get("notifications", []) if n.get("alert") == a.get("fingerprint")
            and (iso_epoch(n.get("created_at")) or 0) >= t0 and n.get("delivered_at")]
    n = min(rows, key=lambda n: iso_epoch(n["delivered_at"])) if rows else {}
    sel = data_sel(a.get("name"))
    data = first_change(ooda_port, sel[0].format(svc=a.get("service")), t0) if sel and a.get("service") else None
    out = diffs([t0, iso_epoch(a.get("active_at")), iso_epoch(a.get("fired_at")), iso_epoch(n.get("created_at")),
                 iso_epoch(n.get("delivered_at")), arrival], STEPS[1:])
    out["data"] = (data - t0) if data is not None else None
    if sel and a.get("service"):
        active = iso_epoch(a.get("active_at"))
        out["lag"] = lag(active, newest_at(ooda_port, sel[0].format(svc=a.get("service")), active))
    out["alert"] = f"{a.get('name')} {a.get('service') or ''}".strip()
    return out


def prom_steps(prom_port, t0, ev):
    """The same for Prometheus + Alertmanager, from their timestamps: fault → the
    first failing scraped sample (data) → the alert's activeAt (the evaluation
    that found the condition; from the fault) → its fired time (Alertmanager's
    startsAt: the `for`) → the webhook's arrival (Prometheus' notifier,
    Alertmanager's dispatch and the post). ev: the first firing arrival."""
    t, _src, _what, _f, lb = ev
    try:
        _s, j = call("GET", f"http://127.0.0.1:{prom_port}/api/v1/alerts")
    except Exception:
        return None
    active = None
    for a in (j.get("data") or {}).get("alerts", []):
        l2 = a.get("labels", {})
        if l2.get("alertname") == lb.get("alertname") and l2.get("service") == lb.get("service"):
            active = iso_epoch(a.get("activeAt"))
    sel = data_sel(lb.get("alertname"))
    data = first_change(prom_port, sel[1].format(svc=lb.get("service")), t0) if sel and lb.get("service") else None
    out = {"data": (data - t0) if data is not None else None}
    if sel and lb.get("service"):
        out["lag"] = lag(active, newest_at(prom_port, sel[1].format(svc=lb.get("service")), active))
    out.update(diffs([t0, active, lb.get("fired"), t], PROM_STEPS[1:]))
    out["alert"] = f"{lb.get('alertname')} {lb.get('service') or ''}".strip()
    return out


def remedy_done(ooda_port, policy, t0, status="not triggered"):
    """When the policy's first run created since t0 moved to `succeeded` (steps done,
    expect held; ooda's run record), or None, and the last run's status."""
    try:
        _s, j = call("GET", f"http://127.0.0.1:{ooda_port}/api/v1/runs?policy={policy}&limit=50")
    except Exception:
        j = {}
    best = None
    for run in j.get("runs", []):
        if (iso_epoch(run.get("created")) or 0) < t0:
            continue
        status = run.get("status", status)
        at = next((iso_epoch(h.get("at")) for h in run.get("history", []) if h.get("to") == "succeeded"), None)
        if at is not None and (best is None or at < best):
            best = at
    return best, status


def remedy_wait(ooda_port, policy, t0, deadline):
    """MTTR from ooda's run record: the fault start → the move to `succeeded` of the
    policy's first run created since t0 that succeeds; waits until the drill's deadline.
    (None, last status) when none succeeded."""
    status = "not triggered"
    while True:
        at, status = remedy_done(ooda_port, policy, t0, status)
        if at is not None:
            return at - t0, "succeeded"
        if time.time() >= deadline:
            return None, status
        time.sleep(0.5)


last_clear = 0.0  # when the last drill's fault was cleared (or ended)


def drill(rec, control, ooda_port, prom_port, fault, service, harmless):
    global last_clear
    wait_quiet(ooda_port, prom_port)
    time.sleep(max(0.0, last_clear + SETTLE - time.time()))
    resolve_incidents(ooda_port)  # the last drill's, once its alerts resolved
    body = {"name": fault}
    if service:
        body["service"] = service
    if fault == "traffic-spike":
        body["for"] = "30s"
    h0 = host_counters()
    if fault:
        _s, inst = call("POST", f"{control}/faults", body)
        stress = []
    else:
        inst, stress = {}, host_stress()
    t0 = time.time()
    res = {"expected": (inst.get("expected_root_cause") or {})}
    deadline = t0 + (QUIET if harmless else TIMEOUT)
    # Both systems watch the one simulator, and ooda's policy repairs the fault: a
    # notification after the verified repair is not the fault's detection (the fault is
    # gone), so a side that has not notified by then is censored there: "not before the
    # repair" (> the repair's time), and the wait ends.
    repaired, polled = None, 0.0
    while time.time() < deadline:
        if not harmless and all(rec.firing_since(s, t0) for s in ("ooda", "prom")):
            break
        if not harmless and fault in REMEDIES and time.time() - polled >= 1:
            polled = time.time()
            repaired, _st = remedy_done(ooda_port, REMEDIES[fault][0], t0)
            if repaired is not None:
                break
        time.sleep(0.05)
    if not harmless:
        time.sleep(2)  # the incident opens on the same firing; let it be stored
    res["incident_service"] = ooda_incident_service(ooda_port, t0)
    for s in ("ooda", "prom"):
        ev = rec.firing_since(s, t0)
        if ev and not harmless and repaired is not None and ev[0][0] > repaired:
            ev = []
        res[s] = {"mttd": (ev[0][0] - t0) if ev else None, "first": ev[0][2] if ev else None,
                  "false": len(ev) if harmless else 0,
                  "repaired_first": (repaired - t0) if not ev and repaired is not None else None}
    if harmless and res["ooda"]["false"]:
        res["ooda"]["fired"] = ooda_fired_evidence(ooda_port, t0)
    ev = rec.firing_since("ooda", t0)
    res["ooda"]["steps"] = ooda_steps(ooda_port, t0, ev[0][0]) if ev and not harmless else None
    ev = rec.firing_since("prom", t0)
    res["prom"]["steps"] = prom_steps(prom_port, t0, ev[0]) if ev and not harmless else None
    if fault in REMEDIES:
        res["ooda"]["mttr"], res["ooda"]["run"] = remedy_wait(ooda_port, REMEDIES[fault][0], t0, deadline)
    res["host"] = host_share(h0, host_counters())
    for p_ in stress:
        p_.kill()
        p_.wait()
    try:
        if inst:
            call("DELETE", f"{control}/faults/{inst['id']}")
    except Exception:
        pass  # expired by itself (noise, traffic-spike)
    last_clear = time.time()
    return res


# ---- report --------------------------------------------------------------------------------

def fmt(v):
    return "—" if v is None else f"{v:.1f} s"


def host_fmt(h):
    """host_share() as `cpu stall 1.2 %, io stall 0.3 %, steal 0.0 %`."""
    return ", ".join(f"{k}{' stall' if k != 'steal' else ''} " + ("—" if h.get(k) is None else f"{h[k]:.1f} %")
                     for k in ("cpu", "io", "steal"))


def summary(vals, none="no notification", censored=None):
    """Median and worst of vals (None: no notification). censored[i], when set, is the
    repair's time for a run with none: the fault was gone by then, so that run counts as
    "> censored[i]", ranked at that time, the most the other side's repair allows it
    (kindest to the side censored); a median or worst that is one reads "> …"."""
    censored = censored or [None] * len(vals)
    runs = [(v, False) if v is not None else (c, True) for v, c in zip(vals, censored) if v is not None or c is not None]
    if not runs:
        return none, ""
    miss = len(vals) - len(runs)
    runs.sort()
    mid = runs[(len(runs) - 1) // 2] if len(runs) % 2 else None
    if mid is not None:
        med = ("> " if mid[1] else "") + fmt(mid[0])
    else:
        a, b = runs[len(runs) // 2 - 1], runs[len(runs) // 2]
        med = ("> " if a[1] or b[1] else "") + fmt((a[0] + b[0]) / 2)
    worst = ("> " if runs[-1][1] else "") + fmt(runs[-1][0]) if not miss else f"{miss}/{len(vals)} missed"
    return med, worst


def first(a, b):
    """Whether side a notified before side b in a run (b none, or none before the repair)."""
    return a["mttd"] is not None and (b["mttd"] is None or a["mttd"] < b["mttd"])


def side_fmt(r):
    """A side's time in a run, or why there is none."""
    if r["mttd"] is not None:
        return f"{fmt(r['mttd'])} ({r['first']})"
    if r.get("repaired_first") is not None:
        return f"none before the repair at {fmt(r['repaired_first'])}"
    return "— (None)"


def step_table(results, scen, side, names):
    rows = []
    for name, _f, _s, harmless in scen:
        steps = [r[side].get("steps") for r in results[name] if r[side].get("steps")]
        if harmless or not steps:
            continue
        cells = [f"{statistics.median(got):.2f}" if got else "—"
                 for got in ([st[k] for st in steps if st.get(k) is not None] for k in names)]
        rows.append([name, ", ".join(sorted({st.get("alert") for st in steps}))] + cells)
    print(table(["scenario", "first alert"] + list(names), rows))


def human_s(notify_s):
    """The scripted human's MTTR (s), best and worst by time of day: notify + ack + orient + runbook step + verify."""
    rest = notify_s + HUMAN["orient_s"] + HUMAN["runbook_step_s"] + HUMAN["verify_s"]
    return {when: (lo + rest, hi + rest) for when, (lo, hi) in (("working hours", HUMAN["ack_day_s"]),
                                                               ("night", HUMAN["ack_night_s"]))}


def human_baseline(ooda_mttd):
    h, alone, with_ooda = HUMAN, human_s(0), human_s(ooda_mttd)
    rows = [[w, f"{lo / 60:.0f}–{hi / 60:.0f} min", f"{with_ooda[w][0] / 60:.1f}–{with_ooda[w][1] / 60:.1f} min"]
            for w, (lo, hi) in alone.items()]
    return "\n".join(["", "human in the loop (scripted): notify → ack → orient → runbook step → verify",
                      f"assumed: ack {h['ack_day_s'][0] // 60}–{h['ack_day_s'][1] // 60} min (working hours), "
                      f"{h['ack_night_s'][0] // 60}–{h['ack_night_s'][1] // 60} min (night); orient {h['orient_s'] // 60} "
                      f"min; runbook step {h['runbook_step_s'] // 60} min; verify {h['verify_s'] // 60} min",
                      table(["when", "MTTR after the notification (best–worst)", "with ooda's median time to notify"], rows)])


def main():
    for s_ in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s_, on_signal)
    for exe in (OODA, SIM, shutil.which("prometheus"), shutil.which("prometheus-alertmanager")):
        if not exe or not os.path.exists(exe):
            die(f"missing {exe}: scripts/install-deps --bench, and build {build}")
    want = os.environ.get("DRILL_SCENARIOS")
    scen = [s for s in SCENARIOS if not want or s[0] in want.split(",")]
    rec = Receiver()
    ooda_port = start_ooda(rec)
    ports = start_sim(ooda_port)
    control = f"http://127.0.0.1:{ports['control']}"
    prom_port = start_prom(rec, ports)
    log(f"drills: ooda :{ooda_port}, sim {control}, prometheus :{prom_port}, receiver :{rec.port}; warming up")
    time.sleep(40)  # rate windows filled, the heartbeat on time, start-up alerts gone
    if LEARN:
        wait_learnt(ooda_port)
    results = {}
    for name, fault, service, harmless in scen:
        results[name] = []
        for i in range(RUNS):
            r = drill(rec, control, ooda_port, prom_port, fault, service, harmless)
            results[name].append(r)
            log(f"drills: {name} #{i + 1}: ooda {side_fmt(r['ooda'])}, "
                f"prometheus+am {side_fmt(r['prom'])}; "
                f"machine {host_fmt(r['host'])}")
    with open(os.path.join(tmp, "events.json"), "w") as f:
        json.dump(rec.events, f)
    with open(os.path.join(tmp, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    print(f"fault → first notification at the receiver, {RUNS} runs per scenario; rules' `for` {FOR} (HighErrorRatio {rule_for('HighErrorRatio')}); "
          f"{RPS} rps; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the end")
    ooda_meds, rows = [], []
    for name, _f, _s, harmless in scen:
        rs = results[name]
        if harmless:
            fo = sum(r["ooda"]["false"] for r in rs)
            fp = sum(r["prom"]["false"] for r in rs)
            fi = sum(1 for r in rs if r.get("incident_service"))
            worst = max(rs, key=lambda r: r["host"].get("cpu") or 0)["host"]
            rows.append([name, "—", "—", "—", "—", "—", f"{fo} / {fp}", f"{fi} false incidents",
                         host_fmt(worst)])
            continue
        om, ow = summary([r["ooda"]["mttd"] for r in rs], censored=[r["ooda"].get("repaired_first") for r in rs])
        pm, pw = summary([r["prom"]["mttd"] for r in rs], censored=[r["prom"].get("repaired_first") for r in rs])
        got = [r["ooda"]["mttd"] for r in rs if r["ooda"]["mttd"] is not None]
        if got:
            ooda_meds.append(statistics.median(got))
        hit = sum(1 for r in rs if r.get("incident_service")
                  and r["incident_service"] == r["expected"].get("service"))
        worst = max(rs, key=lambda r: r["host"].get("cpu") or 0)["host"]
        ahead = sum(1 for r in rs if first(r["ooda"], r["prom"]))
        rows.append([name, om, ow, pm, pw, f"{ahead} of {len(rs)}", "—", f"{hit}/{len(rs)}", host_fmt(worst)])
    print(table(["scenario", "ooda median", "ooda worst", "Prom+AM median", "Prom+AM worst",
                 "ooda first, run by run", "false notifications ooda / Prom+AM", "ooda incident on the root cause",
                 "machine, the run with the most CPU stall"], rows))
    print("")
    print("ooda's time step by step, median s over the runs (fault → the rule's first failing sample → "
          "condition found → firing → notification queued → sent → at the receiver; data and condition "
          "both from the fault; lag: how old the newest sample of the series was at the evaluation that "
          "found the condition, the simulator's reading → export, ingest, evaluation)")
    step_table(results, scen, "ooda", STEPS + ("lag",))
    print("")
    print("Prometheus + Alertmanager step by step, median s (fault → first failing scraped sample → "
          "condition found (activeAt) → firing (startsAt) → at the receiver; data and condition both "
          "from the fault; lag: the same age, the scrape → the evaluation)")
    step_table(results, scen, "prom", PROM_STEPS + ("lag",))
    rem = [name for name, _f, _s, _h in scen if name in REMEDIES]
    if rem:
        print("")
        print("MTTR: fault → verified recovery (the policy's run moved to succeeded: its step ran and its "
              "expect held, ooda's run record), against the scripted human in the loop (below): the "
              "scenario's median time to notify + ack + orient + runbook step + verify")
        rows = []
        for name in rem:
            rs = results[name]
            med, worst = summary([r["ooda"].get("mttr") for r in rs], "not remediated")
            got = [r["ooda"]["mttd"] for r in rs if r["ooda"]["mttd"] is not None]
            day, night = human_s(statistics.median(got) if got else 0).values()
            rows.append([name, REMEDIES[name][0], med, worst, f"{day[0] / 60:.1f}–{night[1] / 60:.1f} min"])
        print(table(["scenario", "policy", "ooda MTTR median", "ooda MTTR worst",
                     "human in the loop (working hours – night)"], rows))
    if ooda_meds:
        print(human_baseline(statistics.median(ooda_meds)))
    cleanup()


if __name__ == "__main__":
    try:
        main()
    except SystemExit:
        raise
    except BaseException as e:
        die(f"{type(e).__name__}: {e}")
