"""ooda's own /metrics and the small things users hit at start and reload.

- /metrics passes `promtool check metrics` (Prometheus' own parser and lint,
  Debian's prometheus package) and, line by line, has HELP and TYPE before
  each family, valid names, well-escaped label values and no empty route;
- the standard process_* series and ooda_build_info are there with sane
  values; OFREP evaluations count by flag and reason with at most 100 flags
  (the rest, and undefined flags, under flag="other");
- scrapes and OFREP 404s are not logged at info;
- a reload that changes a restart-only key names it in the API answer, the
  CLI's output and the log;
- a start that fails (bad config, port in use) leaves no data dir it made,
  and leaves alone one that was there before.
"""
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

from oodait import Server, check, done, run

PROMTOOL = os.environ.get("PROMTOOL_BIN", "/usr/bin/promtool")
NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\\\|\\"|\\n)*"'
SAMPLE = re.compile(rf'^({NAME})(?:\{{((?:{LABEL})(?:,{LABEL})*)?\}})? (\S+)$')


def check_exposition(text):
    """The text format, line by line: every sample's family has HELP and TYPE first."""
    typed, helped, problems = {}, set(), []
    for n, line in enumerate(text.splitlines(), 1):
        if line.startswith("# HELP "):
            helped.add(line.split(" ")[2])
        elif line.startswith("# TYPE "):
            parts = line.split(" ")
            if len(parts) != 4 or parts[3] not in ("counter", "gauge", "histogram", "summary", "untyped"):
                problems.append(f"{n}: bad TYPE line {line!r}")
            elif parts[2] in typed:
                problems.append(f"{n}: second TYPE for {parts[2]}")
            else:
                typed[parts[2]] = parts[3]
        elif line.startswith("#"):
            continue
        else:
            m = SAMPLE.match(line)
            if not m:
                problems.append(f"{n}: not a sample line {line!r}")
                continue
            name, labels, value = m.groups()
            family = name
            for suffix in ("_bucket", "_sum", "_count"):
                if name.endswith(suffix) and typed.get(name[: -len(suffix)]) == "histogram":
                    family = name[: -len(suffix)]
            if family not in typed or family not in helped:
                problems.append(f"{n}: {name} without HELP/TYPE before it")
            try:
                float(value.replace("+Inf", "inf").replace("-Inf", "-inf"))
            except ValueError:
                problems.append(f"{n}: value {value!r}")
            if labels and re.search(r'\b(route|method)=""', labels):
                problems.append(f"{n}: empty route or method label: {line}")
            if typed.get(family) == "counter" and not name.endswith("_total"):
                problems.append(f"{n}: counter {name} without _total")
    return problems, typed


def sample(text, name, labels=""):
    pat = re.compile("^" + re.escape(name + (("{" + labels + "}") if labels else "")) + r" (\S+)$", re.M)
    m = pat.search(text)
    return float(m.group(1)) if m else None


# ---- /metrics, flag counters, quiet logs, reload ----

N_FLAGS = 105
flags = {"on-flag": {"state": "ENABLED", "variants": {"on": True, "off": False}, "defaultVariant": "on"},
         "off-flag": {"state": "DISABLED", "variants": {"on": True, "off": False}, "defaultVariant": "on"}}
for i in range(N_FLAGS - 2):
    flags[f"bulk-{i:03d}"] = {"state": "ENABLED", "variants": {"a": "x"}, "defaultVariant": "a"}

s = Server(config="server:\n  threads: 2\n")
try:
    r = s.post("/api/v1/flags/import?env=prod&strict=false", json.dumps({"flags": flags}),
               headers={"Content-Type": "application/json"})
    check(r.status == 200, f"import: {r.status} {r.body}")
    env = {"X-Ooda-Env": "prod"}
    for _ in range(3):
        r = s.post("/ofrep/v1/evaluate/flags/on-flag", {"context": {}}, headers=env)
        check(r.status == 200, f"on-flag: {r.status} {r.body}")
    r = s.post("/ofrep/v1/evaluate/flags/off-flag", {"context": {}}, headers=env)
    check(r.status == 200 and r.json().get("reason") == "DISABLED", f"off-flag: {r.body}")
    for i in range(5):  # undefined keys: a client could make up any number of them
        r = s.post(f"/ofrep/v1/evaluate/flags/no-such-{i}", {"context": {}}, headers=env)
        check(r.status == 404, f"undefined flag answers 404: {r.status}")
    r = s.post("/ofrep/v1/evaluate/flags", {"context": {}}, headers=env)  # every flag once
    check(r.status == 200 and len(r.json().get("flags", [])) == N_FLAGS, f"bulk: {r.status}")
    s.get("/no/such/route")
    for _ in range(3):
        text = s.get("/metrics").body

    if check(os.access(PROMTOOL, os.X_OK), f"{PROMTOOL} is installed (apt-get install prometheus)"):
        p = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
        check(p.returncode == 0, f"promtool check metrics: {p.stdout}{p.stderr}")
    problems, typed = check_exposition(text)
    check(not problems, "exposition format:\n" + "\n".join(problems[:20]))

    for name, kind in (("process_cpu_seconds_total", "counter"), ("process_open_fds", "gauge"),
                       ("process_max_fds", "gauge"), ("process_resident_memory_bytes", "gauge"),
                       ("process_virtual_memory_bytes", "gauge"), ("process_start_time_seconds", "gauge"),
                       ("ooda_build_info", "gauge"), ("ooda_flag_evaluations_total", "counter")):
        check(typed.get(name) == kind, f"{name} is a {kind}: {typed.get(name)}")
    rss, vms = sample(text, "process_resident_memory_bytes"), sample(text, "process_virtual_memory_bytes")
    check(rss and vms and 1e6 < rss <= vms, f"memory: rss {rss} virtual {vms}")
    fds, max_fds = sample(text, "process_open_fds"), sample(text, "process_max_fds")
    check(fds and max_fds and 3 <= fds <= max_fds, f"fds: {fds} of {max_fds}")
    start = sample(text, "process_start_time_seconds")
    check(start and abs(start - time.time()) < 600, f"start time {start} is about now ({time.time()})")
    check(sample(text, "process_cpu_seconds_total") is not None, "cpu seconds")
    version = run("--version").stdout.split()[-1]
    check(sample(text, "ooda_build_info", f'version="{version}"') == 1, f"build info for {version}")

    fe = "ooda_flag_evaluations_total"
    check(sample(text, fe, 'flag="on-flag",reason="STATIC"') == 4, "on-flag: 3 single + 1 bulk, STATIC")
    check(sample(text, fe, 'flag="off-flag",reason="DISABLED"') == 2, "off-flag: DISABLED twice")
    named = set(re.findall(rf'^{fe}{{flag="([^"]*)"', text, re.M))
    check(len(named - {"other"}) == 100, f"at most 100 flags get a series: {len(named - {'other'})}")
    check(not any(k.startswith("no-such") for k in named), "an undefined flag gets no series of its own")
    # 5 undefined flags, and the 5 defined ones past the first 100
    check(sample(text, fe, 'flag="other",reason="ERROR"') == 5, "undefined flags count under other")
    check(sample(text, fe, 'flag="other",reason="STATIC"') == 5, "flags past the 100th count under other")

    check('ooda_http_requests_total{method="GET",route="/metrics",status="200"}' in text,
          "scrapes count under their route pattern")
    check('route="/ofrep/v1/evaluate/flags/{key}",status="404"} 5' in text, "the OFREP 404s under the pattern")
    check('ooda_http_requests_total{method="other",route="unmatched",status="404"} 1' in text,
          "an unmatched request has a method and route label")

    infos = [json.loads(l) for l in s.read_log().splitlines() if l.startswith("{")]
    reqs = [x for x in infos if x.get("msg") == "request" and x.get("level") == "info"]
    check(not [x for x in reqs if x.get("path") == "/metrics"], "a scrape is not logged at info")
    check(not [x for x in reqs if x.get("path", "").startswith("/ofrep/")], "an OFREP 404 is not logged at info")
    check([x for x in reqs if x.get("path") == "/no/such/route"], "other 404s still are")

    # a reload that changes keys only a restart applies says so, in the answer, the CLI and the log
    with open(s.config, "w") as f:
        f.write("server:\n  threads: 3\n  listen: 127.0.0.1:9\n")
    r = s.post("/api/v1/config/reload", {})
    body = r.json() if r.status == 200 else {}
    check(body.get("restart_required") == ["server.listen", "server.threads"]
          or body.get("restart_required") == ["server.threads", "server.listen"],
          f"the answer names the restart-only keys: {r.body}")
    check("next restart" in body.get("warning", "") and "server.threads" in body.get("warning", ""),
          f"and warns: {r.body}")
    check("server.threads" in s.read_log() and "takes effect at the next restart" in s.read_log(),
          "the log warns too")
    with open(s.config, "w") as f:
        f.write("server:\n  threads: 4\n  listen: 127.0.0.1:9\n")
    p = s.cli("reload")
    check(p.returncode == 0 and "warning:" in p.stderr and "server.threads" in p.stderr
          and "server.listen" not in p.stderr, f"ooda reload warns of what changed since: {p.stdout}{p.stderr}")
    with open(s.config, "w") as f:
        f.write("server:\n  threads: 4\n  listen: 127.0.0.1:9\nlog:\n  level: info\n")
    r = s.post("/api/v1/config/reload", {})
    check(r.status == 200 and "restart_required" not in r.json(), f"no restart key changed, no warning: {r.body}")
finally:
    s.cleanup()

# ---- a failed start leaves no data dir behind ----

tmp = tempfile.mkdtemp(prefix="ooda-it-start-")
try:
    bad = os.path.join(tmp, "bad.yaml")
    with open(bad, "w") as f:
        f.write("server:\n  thread: 2\n")
    data = os.path.join(tmp, "a")
    p = run("serve", "--listen", "127.0.0.1:0", "--config", bad, "--data", data)
    check(p.returncode != 0 and "thread" in p.stderr, f"bad config refused: {p.returncode} {p.stderr}")
    check(not os.path.exists(data), "a bad config leaves no data dir")

    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    try:
        data = os.path.join(tmp, "b")
        p = run("serve", "--listen", f"127.0.0.1:{port}", "--data", data)
        check(p.returncode != 0 and "cannot listen" in p.stderr, f"port in use refused: {p.stderr}")
        check(not os.path.exists(data), f"a port in use leaves no data dir: {os.listdir(tmp)}")
        # a data dir that was there before is left as it was, with what it holds
        data = os.path.join(tmp, "c")
        os.mkdir(data)
        with open(os.path.join(data, "keep"), "w") as f:
            f.write("mine")
        p = run("serve", "--listen", f"127.0.0.1:{port}", "--data", data)
        check(p.returncode != 0 and os.path.exists(os.path.join(data, "keep")),
              "an existing data dir stays after a failed start")
    finally:
        busy.close()
finally:
    shutil.rmtree(tmp, ignore_errors=True)

done()
