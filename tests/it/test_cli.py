"""The CLI: command table, help, exit codes, config check, generated docs in sync."""
import os
from oodait import BIN, check, done, run

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../..")

r = run("version")
check(r.returncode == 0 and r.stdout.startswith("ooda "), f"version: {r.stdout!r}")

r = run("help")
check(r.returncode == 0 and "token create" in r.stdout and "audit verify" in r.stdout, "help lists commands")
r = run("help", "token", "create")
check(r.returncode == 0 and "--role ROLE" in r.stdout and "audit" not in r.stdout, f"help token create: {r.stdout}")
r = run("token", "create", "--help")
check(r.returncode == 0 and "--name NAME" in r.stdout, "--help on a command")

r = run("frobnicate")
check(r.returncode != 0 and r.stderr.count("\n") == 1 and "unknown command" in r.stderr, f"unknown command: {r.stderr!r}")
r = run("token")
check(r.returncode != 0 and "needs a subcommand" in r.stderr, "group without subcommand")
r = run("token", "list", "--bogus")
check(r.returncode != 0 and "unknown option --bogus" in r.stderr, f"unknown option: {r.stderr!r}")

# config check: good file, and bad files with file:line:column and the key path
good = os.path.join(ROOT, "examples/ooda.yaml")
r = run("config", "check", good)
check(r.returncode == 0, f"example config is valid: {r.stderr}")

import tempfile
cases = [
    ("server:\n  listen: 127.0.0.1:1\n  thredas: 4\n", ":3:3: server.thredas: unknown key"),
    ("server:\n  threads: many\n", ":2:12: server.threads: expected a integer"),
    ("limits:\n  api_body: 12 parsecs\n", ":2:13: limits.api_body: expected a size"),
    ("retention:\n  max_age: soon\n", "retention.max_age: expected a duration"),
    ("server: [1, 2\n", ":"),
    ("- just\n- a list\n", "the top level must be a mapping"),
    ("log:\n  level: chatty\n", "log.level: expected debug, info, warn or error"),
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
r = run("config", "check", "/nonexistent.yaml")
check(r.returncode != 0 and "cannot open" in r.stderr, "missing config file")

# generated docs match the tables
for what in ("api", "config", "cli"):
    r = run("docs", what)
    path = os.path.join(ROOT, "docs", what + ".md")
    on_disk = open(path).read() if os.path.exists(path) else ""
    check(r.returncode == 0 and r.stdout == on_disk,
          f"docs/{what}.md is out of date: run `build/ooda docs {what} > docs/{what}.md`")
done()
