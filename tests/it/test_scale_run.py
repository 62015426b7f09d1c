"""tests/scale/run, the wrapper that gives a whole `meson test` run one
PostgreSQL and one ClickHouse: the command sees both through
OODA_SCALE_PG_DSN and OODA_SCALE_CLICKHOUSE_URL and can use them, its exit
status is the wrapper's, and both servers are stopped and their directories
removed when the command ends, also when the wrapper itself is sent SIGTERM
in the middle (as meson's Ctrl-C or a CI timeout would)."""
import os
import shutil
import subprocess
import sys
import tempfile
import time

from oodait import check, done

HERE = os.path.dirname(os.path.abspath(__file__))
RUN = os.path.join(HERE, "../scale/run")

# The command: writes both addresses and a query's answer from each, says it is
# ready, waits for the test to have looked at the servers, then exits with the
# status asked for or sends the wrapper SIGTERM.
PROBE = r"""
import os, signal, subprocess, sys, time, urllib.request
seen, mode = sys.argv[1], sys.argv[2]
dsn, url = os.environ["OODA_SCALE_PG_DSN"], os.environ["OODA_SCALE_CLICKHOUSE_URL"]
r = subprocess.run(["psql", "-qXtA", dsn, "-c", "SELECT 40 + 2"], capture_output=True, text=True)
with urllib.request.urlopen(url + "/?query=SELECT%2040%2B2", timeout=10) as a:
    ch = a.read().decode().strip()
with open(seen + ".tmp", "w") as out:
    out.write("\n".join([dsn, url, r.stdout.strip(), ch]) + "\n")
os.rename(seen + ".tmp", seen)
while not os.path.exists(seen + ".ok"):
    time.sleep(0.05)
if mode == "term":
    os.kill(os.getppid(), signal.SIGTERM)
    signal.pause()  # the wrapper passes SIGTERM on
sys.exit(int(mode))
"""


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is not running: read its state
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def server_pids(dsn, url):
    """The PostgreSQL postmaster's and the ClickHouse server's process ids, while they run."""
    host = [kv.split("=", 1)[1] for kv in dsn.split() if kv.startswith("host=")][0]
    pids = []
    with open(os.path.join(host, "data", "postmaster.pid")) as f:
        pids.append(int(f.readline()))
    port = url.rsplit(":", 1)[1]
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if "clickhouse-server" in cmd:
                cfg = cmd.split("--config-file=")[-1].strip()
                try:
                    with open(cfg) as f:
                        if f"<http_port>{port}</http_port>" in f.read():
                            pids.append(int(d))
                except OSError:
                    pass
    return pids, host


def one(mode, want_rc):
    tmp = tempfile.mkdtemp(prefix="ooda-it-scale-run-")
    seen = os.path.join(tmp, "seen")
    p = subprocess.Popen([RUN, sys.executable, "-c", PROBE, seen, mode],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    pids, dirs, got, err = [], [], [], ""
    try:
        deadline = time.time() + 180
        while not os.path.exists(seen) and time.time() < deadline and p.poll() is None:
            time.sleep(0.05)
        got = open(seen).read().split("\n") if os.path.exists(seen) else []
        check(len(got) >= 4 and got[0].startswith("host=") and got[1].startswith("http://127.0.0.1:"),
              f"{mode}: both addresses given: {got}")
        check(got[2:4] == ["42", "42"], f"{mode}: the command queried both: {got}")
        if len(got) >= 4:
            pids, host = server_pids(got[0], got[1])
            dirs.append(host)
            check(len(pids) == 2 and all(alive(x) for x in pids), f"{mode}: both servers run during the command: {pids}")
        open(seen + ".ok", "w").close()
        _, err = p.communicate(timeout=180)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    check(p.returncode == want_rc, f"{mode}: the wrapper exits {want_rc}: {p.returncode} {err[-500:]}")
    check(pids and not any(alive(x) for x in pids), f"{mode}: both servers stopped after: {[x for x in pids if alive(x)]}")
    check(dirs and not any(os.path.exists(d) for d in dirs), f"{mode}: their directories removed: {dirs}")


one("3", 3)         # the command fails: its status, servers stopped
one("term", 143)    # the wrapper is told to stop mid-run: it passes SIGTERM on, then stops both
done()
