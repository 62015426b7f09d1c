"""Probes and heartbeats end to end: small HTTP and TCP servers started here
are probed by the real daemon. A healthy target stays passing; a flapping one
(fails 1 request in 4) never goes failing; a down target goes failing within
its window and the signal says so; a slow one over max_latency counts as a
failure; recovery needs K successes; results are queryable as
ooda_probe_success; TCP, DNS and exec probes work; a reload keeps the state
of unchanged probes and a bad services section is rejected. Heartbeats:
a job that never pings goes late, `ooda heartbeat NAME -- false` reports
failure with the exit code, and pings survive a restart."""
import http.server
from datetime import datetime
import os
import signal
import socket
import socketserver
import threading
import time
import urllib.parse
from oodait import Server, check, done, closed_port


def firing(s):
    r = s.get("/api/v1/alerts?state=firing")
    return {a.get("name") for a in r.json().get("alerts", [])} if r.status == 200 else set()


def all_alert_names(s):
    r = s.get("/api/v1/alerts?state=all")
    return {a.get("name") for a in r.json().get("alerts", [])} if r.status == 200 else set()

lock = threading.Lock()
counts = {}
recover_ok = threading.Event()


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        with lock:
            counts[self.path] = counts.get(self.path, 0) + 1
            n = counts[self.path]
        status, body = 200, b"ok healthy"
        if self.path == "/flap" and n % 4 == 0:
            status = 503
        elif self.path == "/slow":
            time.sleep(0.3)
        elif self.path == "/broken":
            status = 500
        elif self.path == "/recover" and not recover_ok.is_set():
            status = 500
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class ThreadingHTTP(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def stamp_ms(at):
    """Milliseconds since the epoch of an RFC 3339 time as the daemon writes it (…T12:00:00.250Z)."""
    return datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp() * 1000


def wait_for(fn, timeout, step=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(step)
    return fn()


def probes(s):
    r = s.get("/api/v1/probes")
    return {f'{p["service"]}/{p["name"]}': p for p in r.json()["probes"]} if r.status == 200 else {}


httpd = ThreadingHTTP(("127.0.0.1", 0), Handler)
threading.Thread(target=httpd.serve_forever, daemon=True).start()
hp = httpd.server_address[1]
tcp = socket.socket()
tcp.bind(("127.0.0.1", 0))
tcp.listen(64)
tp = tcp.getsockname()[1]


def accept_loop():
    while True:
        try:
            c, _ = tcp.accept()
            c.close()
        except OSError:
            return


threading.Thread(target=accept_loop, daemon=True).start()
closed = closed_port()

CONFIG = f"""services:
  - name: shop
    owner: team-shop
    probes:
      - name: healthy
        http: {{url: "http://127.0.0.1:{hp}/ok", expect_status: [200, 204], body_contains: healthy, body_regex: "^ok"}}
        interval: 200ms
      - name: flapping
        http: {{url: "http://127.0.0.1:{hp}/flap", expect_status: "2xx"}}
        interval: 150ms
      - name: down
        http: {{url: "http://127.0.0.1:{closed}/"}}
        interval: 200ms
        fail_after: 3 of 5
      - name: slow
        http: {{url: "http://127.0.0.1:{hp}/slow", max_latency: 100ms}}
        interval: 500ms
      - name: recover
        http: {{url: "http://127.0.0.1:{hp}/recover"}}
        interval: 200ms
        pass_after: 3
      - name: db
        tcp: "127.0.0.1:{tp}"
        interval: 200ms
      - name: db-down
        tcp: "127.0.0.1:{closed}"
        interval: 200ms
      - name: dns
        dns: localhost
        interval: 300ms
      - name: job
        exec: {{argv: ["true"], timeout: 250ms}}
        interval: 300ms
      - name: job-bad
        exec: {{argv: ["sh", "-c", "echo disk full; exit 3"]}}
        interval: 300ms
      - name: job-hang
        exec: {{argv: ["sleep", "30"], timeout: 300ms}}
        interval: 400ms
heartbeats:
  - name: silent
    every: 1s
    grace: 1s
  - name: nightly
    every: 1h
    grace: 10m
    service: shop
  - name: hourly
    every: 1h
"""

s = None
try:
    # `ooda config check` reads the sections the way the daemon will
    import tempfile
    bad = os.path.join(tempfile.mkdtemp(prefix="ooda-it-probes-"), "bad.yaml")
    with open(bad, "w") as f:
        f.write("services:\n  - name: a\n    probes:\n      - name: p\n        http: {url: ftp://x}\n")
    from oodait import run
    r = run("config", "check", bad)
    check(r.returncode == 1 and "services[0].probes[0].http.url" in r.stderr, f"config check names the key path: {r.stderr}")

    s = Server(config=CONFIG)

    # --- down target: failing within its window (3 of 5 at 200 ms), with the signal
    p = wait_for(lambda: probes(s).get("shop/down", {}).get("state") == "failing" and probes(s), 10)
    check(p and p["shop/down"]["state"] == "failing", f"down target becomes failing: {p and p.get('shop/down')}")
    if p:
        d = p["shop/down"]
        check(d["window"]["fail_after"] == "3 of 5" and d["window"]["failures"] >= 3, f"window shown: {d['window']}")
        check(d["last"]["ok"] is False and d["last"].get("error"), f"last result has the error: {d['last']}")
        # with several nodes the first one (the leader) probes while the others start, before
        # the test can look: the attempts then are not counted from the start of the wait
        if not s.followers:
            check(d["attempts"] <= 6, f"failing within its window, not later: {d['attempts']} attempts")
    check(wait_for(lambda: "probe:shop/down" in firing(s), 5), "the probe's alert is firing")

    # --- let everything run a while
    time.sleep(3.5)
    with lock:
        flap_hits = counts.get("/flap", 0)  # before the probes are read: their attempts can only be more
    p = probes(s)
    # a lone timeout on a loaded machine is the blip the 3-of-5 window absorbs: the
    # probe must stay passing and never alert, not be perfect
    check(p["shop/healthy"]["state"] == "passing" and p["shop/healthy"]["window"]["failures"] < 3
          and "probe:shop/healthy" not in firing(s),
          f"healthy target stays passing: {p['shop/healthy']}")
    fl = p["shop/flapping"]
    # one prober for the whole of ooda: the target sees the attempts the probe reports (and
    # at most one more, in flight), however many nodes serve
    check(flap_hits <= fl["attempts"] + 2,
          f"each attempt reaches the target once: {flap_hits} requests for {fl['attempts']} attempts")
    check(fl["failures"] >= 3 and fl["state"] == "passing",
          f"flapping target (1 in 4 fails) never goes failing: {fl['state']}, {fl['failures']} failures of {fl['attempts']}")
    check("probe:shop/flapping" not in all_alert_names(s), "no alert ever for the flapping probe")
    sl = p["shop/slow"]
    check(sl["state"] == "failing" and "max_latency" in (sl["last"].get("error") or ""),
          f"slow target over max_latency counts as failure: {sl['state']} {sl['last']}")
    check(p["shop/db"]["state"] == "passing", f"tcp probe passes: {p['shop/db']}")
    check(p["shop/db-down"]["state"] == "failing", f"tcp probe to a closed port fails: {p['shop/db-down']}")
    check(p["shop/dns"]["state"] == "passing", f"dns probe of localhost passes: {p['shop/dns']}")
    check(p["shop/job"]["state"] == "passing", f"exec probe passes: {p['shop/job']}")
    jb = p["shop/job-bad"]
    check(jb["state"] == "failing" and jb["last"]["code"] == 3 and "disk full" in jb["last"]["error"],
          f"exec exit code and output in the error: {jb['last']}")
    jh = p["shop/job-hang"]
    check(jh["state"] == "failing" and "killed" in (jh["last"].get("error") or ""), f"hung exec killed at its timeout: {jh['last']}")
    check(p["shop/recover"]["state"] == "failing", f"recover target failing first: {p['shop/recover']['state']}")

    # schedule: attempts follow the interval (not a burst, not stalled), read from the
    # times the daemon recorded for its attempts rather than from how long the test ran
    hl = p["shop/healthy"]
    at = sorted(stamp_ms(x["at"]) for x in hl["results"])
    check(hl["attempts"] >= 3 and len(at) >= 3, f"healthy is probed again and again: {hl['attempts']} attempts")
    # each attempt takes its own 200ms slot of the schedule, so n attempts span more than n - 2 slots
    # however late the machine runs them
    span = at[-1] - at[0] if at else 0
    check(len(at) - 2 < span / 200 + 1, f"healthy attempts keep to their 200ms interval, not a burst: {len(at)} in {span:.0f} ms")

    # --- recovery needs K (3) consecutive successes
    recover_ok.set()
    r = wait_for(lambda: probes(s)["shop/recover"]["state"] == "passing" and probes(s)["shop/recover"], 10)
    check(bool(r), "recovered target passes again")
    if r:
        res = r["results"]
        check(len(res) >= 3 and all(x["ok"] for x in res[:3]), f"recovery after 3 successes: {[x['ok'] for x in res]}")
        k = 0
        while k < len(res) and res[k]["ok"]:
            k += 1
        check(k >= 3 and k < len(res), f"state turned only after K successes ({k} ok before a failure)")

    # --- one probe by path; 404 for unknown
    r = s.get("/api/v1/probes/shop/healthy")
    check(r.status == 200 and r.json()["name"] == "healthy" and len(r.json()["results"]) > 0, f"one probe: {r.body[:200]}")
    check(s.get("/api/v1/probes/shop/nope").status == 404, "unknown probe is 404")

    # --- metrics in the telemetry store
    def q():
        r = s.get("/api/v1/query?query=" + urllib.parse.quote('ooda_probe_success{probe="down"}'))
        return r.json()["data"]["result"] if r.status == 200 else None
    res = wait_for(q, 5)
    check(bool(res) and res[0]["metric"].get("service") == "shop" and res[0]["value"][1] == "0",
          f"ooda_probe_success queryable: {res}")
    r = s.get("/api/v1/query?query=ooda_probe_success")
    check(r.status == 200 and len(r.json()["data"]["result"]) >= 8, f"all probes' success series: {r.body[:300]}")
    r = s.get("/api/v1/query?query=" + urllib.parse.quote('ooda_probe_duration_seconds{probe="slow"}'))
    v = r.json()["data"]["result"]
    check(v and float(v[0]["value"][1]) >= 0.25, f"duration gauge stored: {v}")

    # --- CLI
    out = s.cli("probes", "list")
    check(out.returncode == 0 and "flapping" in out.stdout and "failing" in out.stdout, f"ooda probes list: {out.stdout} {out.stderr}")
    check(out.stdout.split()[:7] == ["SERVICE", "PROBE", "KIND", "STATE", "WINDOW", "LAST", "ERROR"]
          and " failed (" in out.stdout, f"ooda probes list columns: {out.stdout}")

    # --- heartbeats: late (never pinged within every+grace), failed via the wrapper
    out = s.cli("heartbeat", "nightly", "--", "false")
    check(out.returncode == 1, f"wrapper exits with the command's code: {out.returncode} {out.stderr}")
    out = s.cli("heartbeat", "hourly", "--", "sh", "-c", "exit 0")
    check(out.returncode == 0, f"wrapper of a good run exits 0: {out.stderr}")

    def hbs():
        return {h["name"]: h for h in s.get("/api/v1/heartbeats").json()["heartbeats"]}
    h = wait_for(lambda: hbs()["silent"]["state"] == "late" and hbs(), 5)
    check(bool(h), f"a silent job goes late after every+grace: {hbs()['silent']}")
    h = hbs()
    check(h["nightly"]["state"] == "failed" and h["nightly"]["exit_code"] == 1 and h["nightly"]["duration_ms"] is not None,
          f"failed run reported: {h['nightly']}")
    check(h["nightly"]["last_start"] is not None, f"start ping recorded: {h['nightly']}")
    check(h["hourly"]["state"] == "up", f"good run is up: {h['hourly']}")
    check(wait_for(lambda: "heartbeat:silent" in firing(s) and "heartbeat:nightly" in firing(s), 3),
          "heartbeat signals went active")
    r = s.post("/api/v1/heartbeats/silent?status=ok")
    check(r.status == 200 and r.json()["state"] == "up", f"a ping makes it up: {r.body}")
    r = s.post("/api/v1/heartbeats/silent", {"status": "fail", "message": "no space left", "exit_code": 2, "duration_ms": 12})
    check(r.status == 200 and r.json()["state"] == "failed" and r.json()["message"] == "no space left", f"failed ping: {r.body}")
    check(s.post("/api/v1/heartbeats/unknown").status == 404, "ping of an unknown heartbeat is 404")
    check(s.post("/api/v1/heartbeats/silent?status=maybe").status == 400, "bad status is 400")
    out = s.cli("heartbeats", "list")
    check(out.returncode == 0 and "nightly" in out.stdout and "failed" in out.stdout, f"ooda heartbeats list: {out.stdout}")
    check(out.stdout.splitlines()[0].split() == ["HEARTBEAT", "STATE", "EVERY", "GRACE", "LAST", "PING", "NEXT", "DUE",
                                                 "MESSAGE"], f"ooda heartbeats list columns: {out.stdout}")

    # --- reload: a bad services section is rejected; a good one keeps unchanged probes' state
    before = probes(s)["shop/healthy"]["attempts"]
    with open(s.config, "w") as f:
        f.write(CONFIG.replace('tcp: "127.0.0.1:%d"' % tp, 'tcp: "127.0.0.1"'))
    r = s.post("/api/v1/config/reload", {})
    check(r.status == 400 and "services[0].probes[5].tcp" in r.json()["detail"], f"bad probe rejects the reload with its key path: {r.body}")
    check(len(probes(s)) == 11, "probes unchanged after a rejected reload")
    with open(s.config, "w") as f:
        f.write(CONFIG.replace(f"http://127.0.0.1:{hp}/slow", f"http://127.0.0.1:{hp}/ok"))
    s.send_signal(signal.SIGHUP)
    ok = wait_for(lambda: probes(s)["shop/slow"]["attempts"] < 3 and probes(s), 5)
    check(bool(ok), "a probe whose target changed starts afresh")
    p = probes(s)
    check(p["shop/healthy"]["attempts"] >= before, f"an unchanged probe keeps its state: {p['shop/healthy']['attempts']} >= {before}")

    # --- pings survive a restart
    s.stop()
    s.start()
    h = {x["name"]: x for x in s.get("/api/v1/heartbeats").json()["heartbeats"]}
    check(h["nightly"]["state"] == "failed" and h["hourly"]["state"] == "up", f"pings persisted across a restart: {h}")
    r = s.get("/api/v1/audit?action=heartbeat.*")
    check(r.status == 200 and len(r.json()["records"]) >= 4, f"pings audited: {r.body[:200]}")
    # services[].owner is shown with each probe and in the list of declared services
    r = s.get("/api/v1/probes").json()
    check(all(x["owner"] == "team-shop" for x in r["probes"]), f"each probe names its owner: {r['probes'][0]}")
    check(r["services"] == [{"name": "shop", "owner": "team-shop", "dependencies": []}],
          f"declared services listed: {r['services']}")
finally:
    if s:
        s.cleanup()
    httpd.shutdown()
    tcp.close()

# services[].dependencies join the dependency graph with no trace at all: alerts of a
# declared dependency (its probe and its heartbeat) are grouped with those of its dependents,
# while an unrelated service's alert opens a group of its own
DEPS = f"""services:
  - name: web
    dependencies: [db]
    probes:
      - {{name: up, tcp: "127.0.0.1:{closed}", interval: 200ms}}
  - name: db
    owner: team-data
    probes:
      - {{name: up, tcp: "127.0.0.1:{closed}", interval: 200ms}}
  - name: batch
    probes:
      - {{name: up, tcp: "127.0.0.1:{closed}", interval: 200ms}}
heartbeats:
  - {{name: db-backup, every: 1s, grace: 1s, service: db}}
"""
s = Server(config=DEPS)
try:
    def groups():
        return s.get("/api/v1/alerts/groups").json().get("groups", [])

    def grouped():
        gs = groups()
        names = [sorted(a["name"] for a in g["alerts"]) for g in gs]
        return ["heartbeat:db-backup", "probe:db/up", "probe:web/up"] in names and ["probe:batch/up"] in names

    ok = wait_for(grouped, 10)
    check(bool(ok), f"a declared dependency's probe and heartbeat alerts join its dependent's group: {groups()}")
    r = s.get("/api/v1/probes").json()
    check({x["name"]: x["dependencies"] for x in r["services"]} == {"web": ["db"], "db": [], "batch": []},
          f"declared dependencies listed: {r['services']}")
    g = s.get("/api/v1/graph").json()
    check(g.get("declared_edges") == [{"source": "web", "target": "db"}] and g.get("edges") == [],
          f"the graph shows the declared edge beside the (here empty) traced ones: {g}")
finally:
    s.cleanup()
done()
