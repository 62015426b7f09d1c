"""The CLI: command table, help, exit codes, config check, generated docs in sync;
which daemon it acts on (flag > env > login context > default) and saying so;
token commands through the daemon, offline only on an existing store."""
import http.server
import json
import os
import shutil
import stat
import tempfile
import threading
from oodait import BIN, PG, Server, check, create_token, done, free_port, run

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../..")

r = run("version")
check(r.returncode == 0 and r.stdout.startswith("ooda "), f"version: {r.stdout!r}")

r = run("help")
check(r.returncode == 0 and "token create" in r.stdout and "audit verify" in r.stdout, "help lists commands")
r = run("help", "token", "create")
check(r.returncode == 0 and "--role ROLE" in r.stdout and "audit verify" not in r.stdout, f"help token create: {r.stdout}")
r = run("token", "create", "--help")
check(r.returncode == 0 and "--name NAME" in r.stdout, "--help on a command")

r = run("frobnicate")
check(r.returncode == 2 and r.stderr.count("\n") == 1 and "unknown command" in r.stderr, f"unknown command: {r.stderr!r}")

# ---- help, --help, did you mean, completion, -V (issue 15, "The CLI") ------------------

for args in (("-V",), ("--version",)):
    r = run(*args)
    check(r.returncode == 0 and r.stdout.startswith("ooda "), f"{args}: {r.stdout!r}")
for args in (("version", "--json"), ("--json", "version"), ("--json", "-V")):
    r = run(*args)
    check(r.returncode == 0 and json.loads(r.stdout or "{}").get("version"), f"{args} prints JSON: {r.stdout!r}")
r = run("version")
check(not r.stdout.lstrip().startswith("{"), f"no JSON unless asked: {r.stdout!r}")

# ooda help groups the commands by stage, each command under one heading
r = run("help")
heads = ["Observe:", "Orient:", "Decide:", "Act:", "Learn:", "Admin:"]
pos = [r.stdout.find("\n" + h) for h in heads]
check(r.returncode == 0 and all(p >= 0 for p in pos) and pos == sorted(pos), f"help by stage: {r.stdout[:400]!r}")
def section(text, head):
    i = text.find("\n" + head)
    j = min([k for k in (text.find("\n" + h, i + 1) for h in heads) if k > i] + [len(text)])
    return text[i:j]
check("logs search" in section(r.stdout, "Observe:") and "flags set" in section(r.stdout, "Act:")
      and "incident postmortem" in section(r.stdout, "Learn:") and "token create" in section(r.stdout, "Admin:"),
      f"commands under their stage: {r.stdout!r}")

# CMD --help / CMD SUB --help / -h: that command's help, every option with a description, exit 0
for args in (("flags", "list", "--help"), ("flags", "list", "-h"), ("--help", "flags", "list"), ("help", "flags", "list")):
    r = run(*args)
    check(r.returncode == 0 and "usage: ooda flags list" in r.stdout and "--env ENV" in r.stdout
          and "the environment (default `default`)" in r.stdout and "token create" not in r.stdout,
          f"{args}: {r.returncode} {r.stdout!r} {r.stderr!r}")
r = run("query", "--help")
check(r.returncode == 0 and "--step DURATION" in r.stdout and "the range step" in r.stdout, f"query --help: {r.stdout!r}")
r = run("token", "--help")
check(r.returncode == 0 and "ooda token create" in r.stdout and "ooda token revoke" in r.stdout, f"group help: {r.stdout!r}")
r = run("token", "create", "--help")
opts = [l for l in r.stdout.splitlines() if l.startswith("  --")]
check(r.returncode == 0 and len(opts) >= 6 and all(len(l[29:].strip()) > 5 for l in opts),
      f"each option has a one-line description: {opts!r}")
r = run("docs", "cli")
undocumented = [l for l in r.stdout.splitlines() if l.startswith("  - `--") and l.rstrip().endswith("`:")]
check(r.returncode == 0 and not undocumented, f"every option of every command described: {undocumented}")

# did you mean
for args, want in ((("stauts",), "did you mean `ooda status`?"), (("incidnet", "list"), "did you mean `ooda incident`?"),
                   (("token", "crate"), "did you mean `ooda token create`?"),
                   (("flags", "list", "--evn", "x"), "did you mean --env?"),
                   (("--sever", "http://x", "status"), "did you mean --server?")):
    r = run(*args)
    check(r.returncode == 2 and want in r.stderr and r.stderr.count("\n") == 1, f"{args}: {r.returncode} {r.stderr!r}")
r = run("xyzzy")
check(r.returncode == 2 and "did you mean" not in r.stderr, f"no far-fetched suggestion: {r.stderr!r}")

# completion scripts generated from the table
import subprocess
r = run("completion", "bash")
check(r.returncode == 0 and "complete -o default -F _ooda ooda" in r.stdout, f"bash completion: {r.stderr!r}")
script = os.path.join(tempfile.mkdtemp(prefix="ooda-it-cli-"), "ooda.bash")
with open(script, "w") as f:
    f.write(r.stdout)
syn = subprocess.run(["bash", "-n", script], capture_output=True, text=True)
check(syn.returncode == 0, f"bash -n on the completion script: {syn.stderr}")
def complete(*words):
    line = " ".join(words)
    prog = (f"source {script}; COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; _ooda; "
            "printf '%s\\n' \"${COMPREPLY[@]}\"")
    return subprocess.run(["bash", "-c", prog], capture_output=True, text=True).stdout.split()
got = complete("ooda", "token", "cr")
check(got == ["create"], f"completes a subcommand: {got}")
got = complete("ooda", "inc")
check(got == ["incident"], f"completes a command: {got}")
got = complete("ooda", "--server", "http://x", "flags", "list", "--e")
check(got == ["--env"], f"completes an option, after a global option with its value: {got}")
got = complete("ooda", "flags", "list", "--env", "prod", "--")
check("--env" in got and "--json" in got and "--server" in got, f"options of the command and global ones: {got}")
r = run("completion", "zsh")
check(r.returncode == 0 and "bashcompinit" in r.stdout and "_ooda()" in r.stdout, "zsh completion")
r = run("completion", "fish")
check(r.returncode == 0 and "complete -c ooda -n '__fish_seen_subcommand_from token; and not __fish_seen_subcommand_from "
      "create list revoke' -a create" in r.stdout and "-l env -r" in r.stdout, f"fish completion: {r.stdout[:300]!r}")
r = run("completion", "tcsh")
check(r.returncode == 2 and "bash|zsh|fish" in r.stderr, f"unknown shell: {r.stderr!r}")

# --json on the offline analyzers; refused, not ignored, where there is no data to print
import subprocess as _sp
def run_in(args, text):
    return _sp.run([os.path.abspath(BIN), *args], input=text, capture_output=True, text=True, timeout=60)
r = run_in(["analyze", "anomalies", "-", "--json"], "timestamp,value\n2020-01-01 00:00:00,1.5\n2020-01-01 00:05:00,2\n")
j = json.loads(r.stdout) if r.returncode == 0 and r.stdout.startswith("[") else []
check(len(j) == 2 and j[0]["timestamp"] == "2020-01-01 00:00:00" and j[0]["value"] == 1.5 and "anomaly_score" in j[1],
      f"analyze anomalies --json: {r.stdout!r} {r.stderr!r}")
r = run_in(["--json", "analyze", "patterns", "-"], "user 1 logged in\nuser 2 logged in\n")
j = json.loads(r.stdout) if r.returncode == 0 and r.stdout.startswith("[") else []
check(len(j) == 2 and j[0]["pattern_id"] == j[1]["pattern_id"] and j[0]["template"] == "user <*> logged in",
      f"analyze patterns --json: {r.stdout!r} {r.stderr!r}")
r = run_in(["analyze", "anomalies", "-", "--json"], "timestamp,value\n2020-01-01 00:00:00,1\nabc\n")
check(r.returncode == 2 and r.stdout == "" and r.stderr.startswith("{"), f"a bad CSV: no partial output: {r.stdout!r}")
for args in (("docs", "cli", "--json"), ("--json", "completion", "bash")):
    r = run(*args)
    check(r.returncode == 2 and r.stdout == "" and "no --json output" in r.stderr, f"{args} refused: {r.stderr!r}")

# exit 2 for usage, with the error as JSON on stderr when --json is given
r = run("--json", "frobnicate")
e = json.loads(r.stderr or "{}").get("error", {}) if r.stderr.startswith("{") else {}
check(r.returncode == 2 and r.stdout == "" and e.get("status") is None and "unknown command" in e.get("detail", "")
      and e.get("exit") == 2, f"usage error as JSON: {r.stderr!r}")
r = run("flags", "diff", "--json")
e = json.loads(r.stderr or "{}").get("error", {}) if r.stderr.startswith("{") else {}
check(r.returncode == 2 and "usage" in e.get("detail", ""), f"missing argument is usage, as JSON: {r.stderr!r}")
r = run("token")
check(r.returncode != 0 and "needs a subcommand" in r.stderr, "group without subcommand")
r = run("token", "list", "--bogus")
check(r.returncode != 0 and "unknown option --bogus" in r.stderr, f"unknown option: {r.stderr!r}")

# config check: good file, and bad files with file:line:column and the key path
good = os.path.join(ROOT, "examples/ooda.yaml")
r = run("config", "check", good)
check(r.returncode == 0, f"example config is valid: {r.stderr}")
r = run("config", "check", good, "--json")
check(r.returncode == 0 and json.loads(r.stdout or "{}") == {"file": good, "ok": True, "problems": []},
      f"config check --json: {r.stdout!r}")

import tempfile
cases = [
    ("server:\n  listen: 127.0.0.1:1\n  thredas: 4\n", ":3:3: server.thredas: unknown key"),
    ("server:\n  threads: many\n", ":2:12: server.threads: expected an integer"),
    ("limits:\n  api_body: 12 parsecs\n", ":2:13: limits.api_body: expected a size"),
    ("retention:\n  max_age: soon\n", "retention.max_age: expected a duration"),
    ("server: [1, 2\n", ":"),
    ("- just\n- a list\n", "the top level must be a mapping"),
    ("log:\n  level: chatty\n", ":2:10: log.level: expected one of debug, info, warn, error"),
    # sections are checked by the same schema: unknown keys with the closest one, types, refused sections
    ("services:\n  - name: api\n    probes:\n      - name: h\n        tcp: \"127.0.0.1:1\"\n        intervall: 5s\n",
     ":6:9: services[0].probes[0].intervall: unknown key; did you mean \"interval\"?"),
    ("heartbeats:\n  - name: nightly\n", ":2:5: heartbeats[0].every: is required"),
    ("slos:\n  - name: s\n    objective: high\n    sli: {ratio: {}}\n", ":3:16: slos[0].objective: expected a number"),
    ("approvals:\n  - class: deploy\n", ":2:12: approvals[0].class: expected one of rollback"),
    ("alerts:\n  rules:\n    - name: r\n      expr: \"up ==\"\n", ":4:14: alerts.rules[0].expr: parse error"),
    ("deploy:\n  verify:\n    window: 10 minutes\n", ":3:13: deploy.verify.window: expected a duration"),
    ("flags:\n  env: prod\n", ":1:1: flags: not supported yet"),
    # inputs on which libfyaml 0.7 crashes or loops: refused, never fatal
    ("- ? ? ??: \t  ? ? ?,", "the YAML parser failed"),
    ("\r%\xb1", "YAML directives"),
]
for text, want in cases:
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(text)
    r = run("config", "check", f.name)
    check(r.returncode != 0 and f.name in r.stderr and want in r.stderr, f"config check {text!r}: {r.stderr!r}")
    os.unlink(f.name)

# every problem of a file is reported, one FILE:LINE:COLUMN line each, and the run fails
bad = ("server:\n  listne: 127.0.0.1:1\n"        # unknown key, with the closest one
       "audit:\n  checkpoint_every: often\n"     # wrong type
       "flags:\n  - name: checkout\n")            # a section ooda.yaml refuses
with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
    f.write(bad)
r = run("config", "check", f.name)
lines = [l for l in r.stderr.splitlines() if l.startswith(f.name + ":")]
check(r.returncode != 0 and len(lines) == 3, f"three problems, three lines: {r.stderr!r}")
check(lines[:3] == [f"{f.name}:2:3: server.listne: unknown key; did you mean \"listen\"?",
                    f"{f.name}:4:21: audit.checkpoint_every: expected an integer, got \"often\"",
                    f"{f.name}:5:1: flags: not supported yet: feature flags are managed through the API and `ooda flag`, not ooda.yaml"],
      f"each line names file, line, column, key and problem: {lines!r}")
check("3 problems found" in r.stderr, f"summary: {r.stderr!r}")
check(r.returncode == 1, f"a failed check exits 1, not 2 (usage): {r.returncode}")
r = run("--json", "config", "check", f.name)
j = json.loads(r.stdout or "{}")
e = json.loads(r.stderr or "{}").get("error", {}) if r.stderr.startswith("{") else {}
check(r.returncode == 1 and j.get("ok") is False and len(j.get("problems", [])) == 3
      and j["problems"][0] == {"line": 2, "column": 3, "problem": "server.listne: unknown key; did you mean \"listen\"?"}
      and "3 problems found" in e.get("detail", ""), f"config check --json: {r.stdout!r} {r.stderr!r}")
# the daemon refuses the same file at start
r = run("serve", "--listen", "127.0.0.1:0", "--data", tempfile.mkdtemp(prefix="ooda-it-cli-"), "--config", f.name,
        timeout=15)
check(r.returncode != 0 and f"{f.name}:2:3: server.listne" in r.stderr and f"{f.name}:5:1: flags" in r.stderr,
      f"serve refuses the file check refuses: {r.stderr!r}")
os.unlink(f.name)

# every config file shipped in the tree passes
for rel in ("examples/ooda.yaml", "examples/demo.yaml"):
    r = run("config", "check", os.path.join(ROOT, rel))
    check(r.returncode == 0, f"{rel} passes config check: {r.stderr!r}")

r = run("config", "check", "/nonexistent.yaml")
check(r.returncode != 0 and "cannot open" in r.stderr, "missing config file")

# generated docs match the tables
for what in ("api", "config", "cli"):
    r = run("docs", what)
    path = os.path.join(ROOT, "docs", what + ".md")
    on_disk = open(path).read() if os.path.exists(path) else ""
    check(r.returncode == 0 and r.stdout == on_disk,
          f"docs/{what}.md is out of date: run `build/ooda docs {what} > docs/{what}.md`")

# ---- which daemon the CLI acts on, and saying so --------------------------------

work = tempfile.mkdtemp(prefix="ooda-it-cli-")
cfg_home = os.path.join(work, "config")
ctx_path = os.path.join(cfg_home, "ooda", "config")


def cli(*args, server=None, token=None, input=None, cwd=None, extra=None):
    """The CLI with a private config home and nothing inherited from the caller's environment."""
    env = {"XDG_CONFIG_HOME": cfg_home, "OODA_SERVER": server or "", "OODA_TOKEN": token or ""}
    env.update(extra or {})
    e = dict(os.environ)
    e.update(env)
    import subprocess
    return subprocess.run([os.path.abspath(BIN), *args], capture_output=True, text=True, env=e, input=input, timeout=60,
                          cwd=cwd or work)


class Recorder(http.server.BaseHTTPRequestHandler):
    """A stand-in server that records what it is sent (to prove where the token goes)."""
    seen = []

    def do_GET(self):
        Recorder.seen.append((self.path, self.headers.get("Authorization")))
        body = b'{"version":"recorder","data_dir":"/nowhere","auth_required":false,"you":"anonymous"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


rec = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
threading.Thread(target=rec.serve_forever, daemon=True).start()
rec_url = f"http://127.0.0.1:{rec.server_address[1]}"
dead_url = f"http://127.0.0.1:{free_port()}"

s = Server()
try:
    url = s.url
    flags_file = os.path.join(work, "flags.json")
    with open(flags_file, "w") as f:
        json.dump({"flags": {k: {"state": "ENABLED", "variants": {"on": True, "off": False}, "defaultVariant": "off"}
                             for k in ("a", "b", "c")}}, f)

    # every command that changes something names the server (and env) it changed
    r = cli("flags", "import", flags_file, "--env", "staging", server=url)
    check(r.returncode == 0 and r.stdout.strip() == f"3 flags changed in env staging on {url}",
          f"flags import names env and server: {r.stdout!r} {r.stderr!r}")
    r = cli("flags", "set", "a", "-", server=url, input=json.dumps(
        {"state": "ENABLED", "variants": {"on": True, "off": False}, "defaultVariant": "on"}))
    check(r.returncode == 0 and f"in env default on {url}" in r.stdout, f"flags set: {r.stdout!r} {r.stderr!r}")
    r = cli("flags", "kill", "a", "--rationale", "test", server=url)
    check(r.returncode == 0 and f"disabled a in env default on {url}" in r.stdout, f"flags kill: {r.stdout!r} {r.stderr!r}")
    r = cli("flags", "rollback", "a", "--to", "v1", server=url)
    check(r.returncode == 0 and f"rolled back to v1 in env default on {url}" in r.stdout,
          f"flags rollback: {r.stdout!r} {r.stderr!r}")
    cfg_file = os.path.join(work, "svc.json")
    with open(cfg_file, "w") as f:
        f.write('{"pool": 4}')
    r = cli("config", "put", "svc/prod", cfg_file, server=url)
    check(r.returncode == 0 and r.stdout.strip() == f"svc/prod is now v1 on {url}", f"config put: {r.stdout!r} {r.stderr!r}")
    r = cli("deploy", "record", "--service", "svc", "--version", "1.0", server=url)
    check(r.returncode == 0 and f"recorded on {url}" in r.stdout, f"deploy record: {r.stdout!r} {r.stderr!r}")
    r = cli("migration", "register", "--service", "svc", "--id", "m1", "--down", "m1-down", server=url)
    check(r.returncode == 0 and r.stdout.strip() == f"migration registered on {url}", f"migration: {r.stdout!r} {r.stderr!r}")
    r = cli("alerts", "silence", "--service", "svc", "--for", "1h", "--reason", "test", server=url)
    check(r.returncode == 0 and f"on {url}" in r.stdout, f"alerts silence: {r.stdout!r} {r.stderr!r}")
    sid = r.stdout.strip().split()[-1]
    r = cli("alerts", "unsilence", sid, server=url)
    check(r.returncode == 0 and f"ended on {url}" in r.stdout, f"alerts unsilence: {r.stdout!r} {r.stderr!r}")
    r = cli("audit", "checkpoint", server=url)
    check(r.returncode == 0 and f"written on {url}" in r.stdout, f"audit checkpoint: {r.stdout!r} {r.stderr!r}")

    # global options before the command, checked against the command like any other
    r = cli("--server", url, "status")
    check(r.returncode == 0 and f"{url} (from flag --server)" in r.stdout, f"--server before the command: {r.stdout!r}")
    r = cli("--json", f"--server={url}", "--env", "staging", "flags", "list")
    j = json.loads(r.stdout) if r.returncode == 0 and r.stdout.startswith("{") else {}
    check(sorted(f["key"] for f in j.get("flags", [])) == ["a", "b", "c"],
          f"--json and --env before the command: {r.stdout[:300]!r} {r.stderr!r}")
    r = cli("--env", "staging", "status", server=url)
    check(r.returncode == 2 and "unknown option --env for `ooda status`" in r.stderr, f"--env on status: {r.stderr!r}")

    # a failure the daemon reports exits 1 (not 2), and --json makes it a JSON object on stderr
    r = cli("deploy", "show", "dep_nope", server=url)
    check(r.returncode == 1 and r.stderr.startswith("ooda: 404"), f"404 exits 1: {r.returncode} {r.stderr!r}")
    r = cli("--json", "deploy", "show", "dep_nope", server=url)
    e = json.loads(r.stderr).get("error", {}) if r.stderr.startswith("{") else {}
    check(r.returncode == 1 and r.stdout == "" and e.get("status") == 404 and e.get("title") and e.get("detail")
          and e.get("exit") == 1, f"404 as JSON: {r.stderr!r}")
    r = cli("alerts", "silence", "alertname=~(", "--for", "1h", "--reason", "x", server=url)
    check(r.returncode == 1 and "matchers[0]: bad regular expression" in r.stderr,
          f"a 400 from the daemon exits 1 and names the field: {r.returncode} {r.stderr!r}")
    r = cli("alerts", "silence", "alertname~x", "--for", "1h", "--reason", "x", server=url)
    check(r.returncode == 2 and "label=~regex" in r.stderr, f"a malformed matcher is a usage error: {r.stderr!r}")

    # deploy verify: too little data is inconclusive, exit 3, with or without --json; no JSON unless asked
    r = cli("deploy", "record", "--service", "lonely", "--version", "1.0", "--json", server=url)
    dep = json.loads(r.stdout).get("id") if r.returncode == 0 else None
    r = cli("deploy", "verify", dep, server=url)
    check(r.returncode == 3 and "verdict: inconclusive" in r.stdout and "too little data" in r.stdout,
          f"inconclusive exits 3: {r.returncode} {r.stdout!r} {r.stderr!r}")
    r = cli("deploy", "verify", dep, "--json", server=url)
    check(r.returncode == 3 and json.loads(r.stdout or "{}").get("verdict") == "inconclusive",
          f"inconclusive exits 3 with --json too: {r.returncode} {r.stdout!r}")
    r = cli("deploy", "show", dep, server=url)
    check(r.returncode == 0 and "lonely" in r.stdout and not r.stdout.lstrip().startswith("{")
          and '"service"' not in r.stdout, f"deploy show prints fields, not JSON: {r.stdout!r}")
    r = cli("flags", "rollback", "b", "--to", "v1", "--env", "staging", server=url)
    check(r.returncode == 0 and "{" not in r.stdout, f"flags rollback prints no JSON: {r.stdout!r}")

    # silence matchers as amtool takes them; a regex is anchored (^(?:…)$)
    am = {"receiver": "ooda", "status": "firing", "version": "4", "alerts": [
        {"status": "firing", "labels": {"alertname": n, "env": "prod"}, "annotations": {},
         "startsAt": "2026-01-01T00:00:00Z", "endsAt": "0001-01-01T00:00:00Z"} for n in ("HighLatency", "NotHigh")]}
    r = s.post("/api/v1/alerts/alertmanager", am)
    check(r.status == 200, f"alerts posted: {r.status} {r.body}")
    r = cli("alerts", "silence", "alertname=~High.*", "--label", "env!=dev", "--for", "1h", "--reason", "regex", server=url)
    check(r.returncode == 0 and "sil_" in r.stdout, f"silence with =~ and !=: {r.stdout!r} {r.stderr!r}")
    rsid = r.stdout.strip().split()[-1]
    sil = [x for x in s.get("/api/v1/silences").json()["silences"] if x["id"] == rsid]
    check(sil and sorted(sil[0]["matchers"]) == ["alertname=~High.*", "env!=dev"] and sil[0]["labels"] == {},
          f"matchers kept with their operators, not as literal values: {sil}")
    import time
    deadline = time.time() + 10
    def states():
        return {x["name"]: x.get("silenced_by") for x in s.get("/api/v1/alerts?state=all").json()["alerts"]}
    while time.time() < deadline and states().get("HighLatency") != rsid:
        time.sleep(0.2)
    st = states()
    check(st.get("HighLatency") == rsid and not st.get("NotHigh"), f"=~ is anchored: High.* silences only HighLatency: {st}")
    r = cli("alerts", "silences", server=url)
    check(r.returncode == 0 and "alertname=~High.*" in r.stdout, f"silences list shows the operator: {r.stdout!r}")
    fp = [x["fingerprint"] for x in s.get("/api/v1/alerts?state=all").json()["alerts"] if x["name"] == "HighLatency"]
    r = cli("alerts", "show", fp[0] if fp else "none", server=url)
    lab = [l for l in r.stdout.splitlines() if l.startswith("labels:")]
    check(r.returncode == 0 and lab and "env=prod" in lab[0] and "{" not in lab[0],
          f"alerts show prints labels as k=v, not JSON: {r.stdout!r}")
    r = s.post("/api/v1/silences", {"matchers": ["alertname!~High.*"], "duration": "1h", "reason": "api"})
    check(r.status == 201 or r.status == 200, f"!~ through the API: {r.status} {r.body}")
    nsid = r.json().get("id") if r.status < 300 else None
    deadline = time.time() + 10
    while time.time() < deadline and states().get("NotHigh") != nsid:
        time.sleep(0.2)
    check(states().get("NotHigh") == nsid, f"!~ silences the other alert: {states()}")
    r = s.post("/api/v1/silences", {"matchers": ["alertname=~(unclosed"], "duration": "1h", "reason": "api"})
    check(r.status == 400 and "matchers[0]" in r.body and "problem+json" in r.headers.get("Content-Type", ""),
          f"bad regex is a 400 naming the field: {r.status} {r.body}")
    for sid_ in (rsid, nsid):
        cli("alerts", "unsilence", sid_, server=url)

    r = cli("backup", os.path.join(work, "bk"), "--data", s.data, "--json")
    if PG:  # the control store is PostgreSQL's to back up: one JSON error naming pg_dump
        e = json.loads(r.stderr) if r.stderr.startswith("{") else {}
        check(r.returncode == 2 and r.stdout == "" and "pg_dump" in e.get("error", {}).get("detail", "")
              and not os.path.exists(os.path.join(work, "bk")), f"backup --json on PostgreSQL: {r.stdout!r} {r.stderr!r}")
    else:
        j = json.loads(r.stdout) if r.returncode == 0 and r.stdout.startswith("{") else {}
        check(j.get("dest") == os.path.join(work, "bk") and "control.db" in j.get("copied", [])
              and isinstance(j.get("telemetry_bytes"), int), f"backup --json: {r.stdout!r} {r.stderr!r}")

    # every command with --json: stdout is JSON (or empty), and an error is one JSON object on stderr
    def is_json(text):
        try:
            json.loads(text)
            return text.lstrip()[:1] in ("{", "[")
        except ValueError:
            return False
    import re
    skip = {"serve", "help", "docs", "completion", "heartbeat", "drill run"}  # no JSON by design; drill runs minutes
    cmds = re.findall(r"^- `ooda ([^`]*)`", run("docs", "cli").stdout, re.M)
    tried = 0
    for usage in cmds:
        words = usage.split()
        name = words[0]
        sub = words[1] if len(words) > 1 and re.fullmatch(r"[a-z-]+", words[1]) else None
        full = name + (" " + sub if sub else "")
        if full in skip or name in skip:
            continue
        pos = [w for w in words[1 + bool(sub):] if not w.startswith("[") and not w.endswith("]") and not w.startswith("--")]
        args = ([name] + ([sub] if sub else []) + ["x/y" if "/" in p and "|" not in p else "x" for p in pos]
                + (["--once"] if full == "logs tail" else []) + ["--json"])
        r = cli(*args, server=url, input="")
        tried += 1
        out_ok = r.stdout == "" or is_json(r.stdout) or all(is_json(l) for l in r.stdout.splitlines())
        err_ok = r.returncode == 0 or (is_json(r.stderr) and "error" in json.loads(r.stderr))
        check(out_ok and err_ok and r.returncode in (0, 1, 2, 3),
              f"ooda {' '.join(args)}: {r.returncode} {r.stdout[:200]!r} {r.stderr[:200]!r}")
        # and no JSON unless asked, but where JSON is the data itself (docs/cli.md, "JSON output")
        if r.returncode == 0 and full not in ("flags get", "flags export", "config get", "audit anchor"):
            r = cli(*args[:-1], server=url, input="")
            check(not r.stdout.lstrip().startswith(("{", "[")) and not r.stderr.startswith("{"),
                  f"ooda {' '.join(args[:-1])} prints no JSON unasked: {r.stdout[:200]!r} {r.stderr[:200]!r}")
    check(tried > 80, f"every command tried with --json: {tried}")

    # status: server, version, data dir, token in use, and where each came from
    r = cli("status", server=url)
    check(r.returncode == 0 and f"{url} (from env OODA_SERVER)" in r.stdout and "token            none" in r.stdout
          and s.data in r.stdout and "version" in r.stdout, f"status from env: {r.stdout!r} {r.stderr!r}")
    r = cli("status", "--server", url, server=rec_url)
    check(r.returncode == 0 and f"{url} (from flag --server)" in r.stdout, f"flag beats env: {r.stdout!r}")
    r = cli("status", server=dead_url)
    check(r.returncode != 0 and f"{dead_url} (from env OODA_SERVER)" in r.stdout, "status says where it looked when down")
    r = cli("status")
    check("http://127.0.0.1:4318 (from default" in r.stdout, f"status with nothing set: {r.stdout!r}")
    r = cli("status", "--json", server=url)
    j = json.loads(r.stdout) if r.returncode == 0 else {}
    check(j.get("server") == url and j.get("server_from") == "env OODA_SERVER" and j.get("token_in_use") is False
          and j.get("data_dir"), f"status --json: {r.stdout!r}")

    r = cli("login", server=url, input="ooda_whatever\n")
    check(r.returncode != 0 and ("no tokens yet" in r.stderr or "refused the token" in r.stderr)
          and not os.path.exists(ctx_path), f"login to an open server saves no unchecked token: {r.stderr!r}")

    # token commands go through the daemon by default, and never touch the current directory
    # (the first token, on a loopback server with none yet: the API is open)
    r = cli("token", "create", "--role", "admin", "--name", "alice", server=url)
    check(r.returncode == 0 and r.stdout.strip().startswith("ooda_") and len(r.stdout.strip().splitlines()) == 1
          and f"for alice on {url}" in r.stderr, f"token create over the API: {r.stdout!r} {r.stderr!r}")
    check(not os.path.exists(os.path.join(work, "ooda-data")), "token create made no ./ooda-data")
    admin = r.stdout.strip()
    # a 401 says how to send a token
    r = cli("flags", "list", server=url)
    check(r.returncode == 1 and "401" in r.stderr and "OODA_TOKEN" in r.stderr and "ooda login" in r.stderr,
          f"401 names OODA_TOKEN: {r.stderr!r}")
    r = cli("flags", "list", server=url, token="ooda_wrong")
    check(r.returncode == 1 and "refused" in r.stderr and "OODA_TOKEN" in r.stderr, f"401 with a bad token: {r.stderr!r}")
    r = cli("token", "create", "--role", "viewer", "--name", "api-made", server=url, token=admin)
    check(r.returncode == 0 and r.stdout.strip().startswith("ooda_"), f"second token: {r.stderr!r}")
    r = cli("token", "list", server=url, token=admin)
    check(r.returncode == 0 and "api-made" in r.stdout, f"token list over the API: {r.stdout!r} {r.stderr!r}")
    r = cli("token", "revoke", "api-made", server=url, token=admin)
    check(r.returncode == 0 and f"on {url}" in r.stdout and "api-made" in r.stdout, f"token revoke: {r.stdout!r} {r.stderr!r}")
    r = cli("token", "create", "--role", "admin", "--name", "stray", server=dead_url)
    check(r.returncode != 0 and "cannot reach" in r.stderr and dead_url in r.stderr,
          f"no daemon: token create fails and says where it looked: {r.stderr!r}")
    check(not os.path.exists(os.path.join(work, "ooda-data")), "no stray ./ooda-data store")

    # offline only on a store that exists; --init to make one; never both --server and --data
    empty = os.path.join(work, "empty")
    os.mkdir(empty)
    for args in (("token", "create", "--role", "admin", "--name", "x", "--data", empty),
                 ("token", "list", "--data", empty), ("token", "revoke", "x", "--data", empty)):
        r = cli(*args)
        check(r.returncode != 0 and "no ooda store in" in r.stderr and "--init" in r.stderr,
              f"{args[1]} --data on a dir without a store: {r.stderr!r}")
    r = cli("token", "create", "--role", "admin", "--name", "x", "--data", os.path.join(work, "nope"))
    check(r.returncode != 0 and not os.path.exists(os.path.join(work, "nope")), "no data dir is created")
    check(os.listdir(empty) == [], f"nothing written to a dir without a store: {os.listdir(empty)}")
    r = cli("token", "create", "--role", "admin", "--name", "x", "--data", s.data, "--server", url)
    check(r.returncode == 2 and "not both" in r.stderr, f"--server with --data: {r.stderr!r}")
    r = cli("token", "create", "--role", "admin", "--name", "x", "--init", server=url)
    check(r.returncode == 2 and "--init" in r.stderr, f"--init without --data: {r.stderr!r}")
    r = cli("token", "create", "--role", "admin", "--name", "fresh", "--data", os.path.join(work, "fresh"), "--init")
    check(r.returncode == 0 and os.path.exists(os.path.join(work, "fresh", "control.db"))
          and "(offline)" in r.stderr, f"--init makes a new store: {r.stderr!r}")

    # other offline commands never create a store or a key
    r = cli("audit", "pubkey", "--data", empty)
    check(r.returncode != 0 and "no audit key" in r.stderr and os.listdir(empty) == [],
          f"audit pubkey on a dir without a key: {r.stderr!r} {os.listdir(empty)}")
    r = cli("audit", "verify", "--data", empty)
    check(r.returncode != 0 and os.listdir(empty) == [], f"audit verify --data: {r.stderr!r}")
    r = cli("audit", "log", "--data", empty)
    check(r.returncode != 0 and os.listdir(empty) == [], f"audit log --data: {r.stderr!r}")
    dest = os.path.join(work, "backup-dest")
    r = cli("backup", dest, "--data", empty)
    check(r.returncode != 0 and os.listdir(empty) == [] and not os.path.exists(dest),
          f"backup of a dir without a store creates nothing: {r.stderr!r}")

    # login: needs tokens to exist, checks the token, writes the context 0600, never prints the token
    # offline, in the store the daemon made (the first-run story of the README), while it runs
    r = cli("token", "create", "--role", "viewer", "--name", "victor", "--data", s.data)
    check(r.returncode == 0 and r.stdout.strip().startswith("ooda_") and f"in {s.data}/control.db (offline)" in r.stderr,
          f"offline token create in an existing store: {r.stderr!r}")
    r = cli("login", server=url, input="ooda_notarealtoken000000000000000000000000\n")
    check(r.returncode != 0 and "refused the token" in r.stderr and not os.path.exists(ctx_path),
          f"login with a bad token saves nothing: {r.stderr!r}")
    r = cli("login", server=url, input=admin + "\n")
    check(r.returncode == 0 and url in r.stdout and "token:alice" in r.stdout and admin not in r.stdout + r.stderr,
          f"login: {r.stdout!r} {r.stderr!r}")
    check(os.path.exists(ctx_path) and stat.S_IMODE(os.stat(ctx_path).st_mode) == 0o600, "context file is 0600")
    ctx = open(ctx_path).read() if os.path.exists(ctx_path) else ""
    check(f"server = {url}" in ctx and admin not in ctx, f"context names the server, not the secret: {ctx!r}")
    tok_file = os.path.join(cfg_home, "ooda", "token")
    check(os.path.exists(tok_file) and stat.S_IMODE(os.stat(tok_file).st_mode) == 0o600, "token file is 0600")

    # with the context and nothing else set, commands act on the context's server with its token
    r = cli("flags", "import", flags_file)
    check(r.returncode == 0 and r.stdout.strip() == f"3 flags changed in env default on {url}",
          f"flags import through the context: {r.stdout!r} {r.stderr!r}")
    r = cli("status")
    check(r.returncode == 0 and f"{url} (from context {ctx_path})" in r.stdout
          and "in use (from context" in r.stdout and "token:alice" in r.stdout and admin not in r.stdout,
          f"status through the context: {r.stdout!r} {r.stderr!r}")
    r = cli("token", "list")
    check(r.returncode == 0 and "alice" in r.stdout, f"token list through the context: {r.stderr!r}")
    # the env var beats the context, and the context's token is not sent to another server
    Recorder.seen.clear()
    r = cli("status", server=rec_url)
    check(r.returncode == 0 and "recorder" in r.stdout and Recorder.seen and Recorder.seen[-1][1] is None
          and "kept for" in r.stdout, f"context token withheld from another server: {Recorder.seen} {r.stdout!r}")
    r = cli("status", "--server", rec_url)
    check(r.returncode == 0 and Recorder.seen[-1][1] is None, "nor from a --server one")
    r = cli("status", token="ooda_fromenv", server=rec_url)
    check(r.returncode == 0 and Recorder.seen[-1][1] == "Bearer ooda_fromenv" and "in use (from env OODA_TOKEN)" in r.stdout,
          f"OODA_TOKEN beats the context: {r.stdout!r}")

    # a token file others can read is refused, with the fix
    os.chmod(tok_file, 0o644)
    r = cli("flags", "list")
    check(r.returncode != 0 and "readable by group or others" in r.stderr and "chmod 600" in r.stderr,
          f"group-readable token file refused: {r.stderr!r}")
    os.chmod(tok_file, 0o600)
    loose = os.path.join(work, "loose-token")
    with open(loose, "w") as f:
        f.write(admin + "\n")
    os.chmod(loose, 0o640)
    r = cli("login", "--token-file", loose, server=url)
    check(r.returncode != 0 and "chmod 600" in r.stderr, f"login refuses a readable token file: {r.stderr!r}")
    os.chmod(loose, 0o600)
    r = cli("login", "--token-file", loose, server=url)
    ctx = open(ctx_path).read()
    check(r.returncode == 0 and f"token_file = {os.path.realpath(loose)}" in ctx, f"login --token-file: {r.stderr!r} {ctx!r}")

    # logout removes the context: back to the default
    r = cli("logout", "--json")
    j = json.loads(r.stdout) if r.returncode == 0 and r.stdout.startswith("{") else {}
    check(j.get("logged_out") is True and j.get("server") == url and not os.path.exists(ctx_path), f"logout: {r.stdout!r}")
    r = cli("status")
    check("(from default" in r.stdout and "token            none" in r.stdout, f"status after logout: {r.stdout!r}")
    check(os.path.exists(loose), "logout leaves a token file it did not write")

    # a context file that cannot be read as written is an error naming FILE:LINE, not a silent default
    os.makedirs(os.path.dirname(ctx_path), exist_ok=True)
    with open(ctx_path, "w") as f:
        f.write(f"server = {url}\nsrever = http://elsewhere\n")
    r = cli("flags", "list")
    check(r.returncode != 0 and f"{ctx_path}:2: unknown key `srever`" in r.stderr, f"bad context: {r.stderr!r}")
    r = cli("flags", "list", server=url, token=admin)
    check(r.returncode == 0, f"a bad context does not matter when env vars name server and token: {r.stderr!r}")
    os.unlink(ctx_path)
finally:
    s.cleanup()
    rec.shutdown()
    shutil.rmtree(work, ignore_errors=True)
done()
