"""Shared pieces of the ingest and query benchmarks: starting and stopping
`ooda serve` and an unprivileged ClickHouse server on loopback, replaying
packs with bench_post, and reading a process's memory and CPU time.
Python 3 standard library only."""

import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

CLK_TCK = os.sysconf("SC_CLK_TCK")


def die(msg):
    print(f"bench: {msg}", file=sys.stderr)
    sys.exit(1)


def proc_status_kb(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def proc_cpu_seconds(pid):
    """User + system CPU seconds of pid (all threads)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            parts = f.read().rsplit(")", 1)[1].split()
        return (int(parts[11]) + int(parts[12])) / CLK_TCK
    except OSError:
        return 0.0


def du_bytes(path):
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                pass
    return total


def http(method, url, body=None, headers=None, timeout=600):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.read()


class Tmp:
    """A temp dir removed at exit (the run scripts also trap signals)."""

    def __init__(self, prefix):
        self.path = tempfile.mkdtemp(prefix=prefix, dir=os.environ.get("BENCH_TMPDIR"))
        os.chmod(self.path, 0o755)

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)


class Ooda:
    def __init__(self, binary, data_dir, log_path, extra=()):
        self.data_dir = data_dir
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(
            [binary, "serve", "--listen", "127.0.0.1:0", "--data", data_dir, *extra],
            stdout=self.log, stderr=self.log)
        self.port = None
        for _ in range(200):
            with open(log_path, "rb") as f:
                m = re.search(rb'"port":(\d+)', f.read())
            if m:
                self.port = int(m.group(1))
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        if not self.port:
            self.stop()
            die(f"ooda did not start; its log:\n{open(log_path).read()}")
        self.base = f"http://127.0.0.1:{self.port}"

    @property
    def pid(self):
        return self.proc.pid

    def blocks(self):
        """Telemetry blocks stored, from /metrics."""
        total = 0
        for line in self.get("/metrics")[1].decode().splitlines():
            if line.startswith("ooda_telemetry_blocks{"):
                total += int(float(line.split()[-1]))
        return total

    def settle(self, quiet_s=15, timeout_s=900):
        """Waits until background compaction stops changing the block count
        (the counterpart of OPTIMIZE FINAL on ClickHouse); returns seconds waited."""
        t0 = time.time()
        last, since = self.blocks(), time.time()
        while time.time() - t0 < timeout_s:
            time.sleep(1)
            n = self.blocks()
            if n != last:
                last, since = n, time.time()
            elif time.time() - since >= quiet_s:
                break
        return time.time() - t0

    def stop(self):
        """SIGTERM and wait for a clean stop; returns peak RSS in kB seen just before."""
        hwm = proc_status_kb(self.proc.pid, "VmHWM")
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return hwm

    def get(self, path):
        return http("GET", self.base + path)


CH_CONFIG = """<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>{d}/server.log</log><errorlog>{d}/server.err.log</errorlog><console>0</console></logger>
  <http_port>{http}</http_port>
  <tcp_port>{tcp}</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>{d}/data/</path>
  <tmp_path>{d}/tmp/</tmp_path>
  <format_schema_path>{d}/format_schemas/</format_schema_path>
  <users_config>{d}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>536870912</mark_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
</yandex>
"""

CH_USERS = """<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>8000000000</max_memory_usage></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
    <profile>default</profile><quota>default</quota></default></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
    <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
"""


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class ClickHouse:
    """clickhouse-server (Debian 18.16) as `nobody` with its own config and
    data under d, HTTP interface on a free loopback port."""

    def __init__(self, d):
        exe = shutil.which("clickhouse-server") or shutil.which("clickhouse")
        if not exe:
            die("clickhouse-server not found; run scripts/install-deps --bench")
        self.dir = d
        self.http_port, tcp = free_port(), free_port()
        os.makedirs(d, exist_ok=True)
        with open(f"{d}/config.xml", "w") as f:
            f.write(CH_CONFIG.format(d=d, http=self.http_port, tcp=tcp))
        with open(f"{d}/users.xml", "w") as f:
            f.write(CH_USERS)
        cmd = [exe] if exe.endswith("server") else [exe, "server"]
        cmd += ["--config-file", f"{d}/config.xml"]
        if os.getuid() == 0:
            nobody = pwd.getpwnam("nobody")
            for root, dirs, files in os.walk(d):
                for n in dirs + files:
                    os.chown(os.path.join(root, n), nobody.pw_uid, nobody.pw_gid)
            os.chown(d, nobody.pw_uid, nobody.pw_gid)
            cmd = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups"] + cmd
        self.out = open(f"{d}/stdout.log", "wb")
        self.proc = subprocess.Popen(cmd, stdout=self.out, stderr=self.out)
        self.base = f"http://127.0.0.1:{self.http_port}/"
        for _ in range(300):
            try:
                if self.query("SELECT 1").strip() == b"1":
                    return
            except OSError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        err = ""
        for name in ("stdout.log", "server.err.log"):
            try:
                err += open(f"{d}/{name}").read()[-2000:]
            except OSError:
                pass
        self.stop()
        die(f"ClickHouse did not start (port {self.http_port}):\n{err}")

    @property
    def pid(self):
        return self.proc.pid

    def query(self, sql, timeout=3600):
        return http("POST", self.base, sql.encode(), timeout=timeout)[1]

    def insert_path(self, table, fmt="JSONEachRow"):
        return "/?query=" + urllib.parse.quote(f"INSERT INTO {table} FORMAT {fmt}")

    def active_bytes(self, table=None, database="default"):
        """Bytes on disk of the active parts (merged-away parts linger for
        minutes before ClickHouse deletes them, so du would count them)."""
        where = f" AND table = '{table}'" if table else ""
        return int(self.query(f"SELECT sum(bytes_on_disk) FROM system.parts WHERE active AND database = '{database}'"
                              + where) or 0)

    def stop(self):
        hwm = proc_status_kb(self.proc.pid, "VmHWM")
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()
        return hwm


def post(build, port, path, ctype, pack, conns, server=None):
    """Replays pack with bench_post; returns its JSON figures. On failure the
    message says whether server (an Ooda) is still running, with its log tail."""
    out = subprocess.run([f"{build}/bench/ingest/bench_post", "127.0.0.1", str(port), path, ctype, pack,
                          str(conns)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if out.returncode != 0:
        why = out.stderr.decode()[-2000:]
        if server is not None:
            state = "still running" if server.proc.poll() is None else f"exited with {server.proc.returncode}"
            why += f"\nooda {state}; its log ends:\n" + open(server.log_path, errors="replace").read()[-2000:]
        die(f"loading {pack} into {path} failed:\n{why}")
    return json.loads(out.stdout)


def gen(build, *args):
    r = subprocess.run([f"{build}/bench/ingest/bench_gen"] + [str(a) for a in args],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        die(f"bench_gen {' '.join(map(str, args))} failed: {r.stderr.decode()}")
    return r.stdout.decode().strip()


def install_signal_cleanup(fn):
    """Runs fn on SIGINT/SIGTERM/SIGHUP, then exits."""
    def handler(signum, _frame):
        fn()
        sys.exit(128 + signum)
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, handler)


def table(headers, rows):
    """A Markdown table, columns padded for the terminal."""
    cells = [headers] + rows
    w = [max(len(str(r[i])) for r in cells) for i in range(len(headers))]
    line = lambda r: "| " + " | ".join(str(c).ljust(w[i]) for i, c in enumerate(r)) + " |"
    out = [line(headers), "|" + "|".join("-" * (x + 2) for x in w) + "|"]
    out += [line(r) for r in rows]
    return "\n".join(out)


def fmt_int(x):
    return f"{x:,.0f}"
