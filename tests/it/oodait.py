"""Helpers for integration tests: start the real ooda binary on an ephemeral
loopback port with a temporary data dir, and talk to it over HTTP."""
import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

BIN = os.environ.get("OODA_BIN", os.path.join(os.path.dirname(__file__), "../../build/ooda"))
SHARED = os.environ.get("OODA_SHARED_DATA", os.path.join(os.path.dirname(__file__), "../../../shared/data"))
FAILURES = []


def check(cond, msg):
    if not cond:
        FAILURES.append(msg)
        print("FAIL:", msg, file=sys.stderr)
    return cond


def done():
    if FAILURES:
        print(f"{len(FAILURES)} check(s) failed", file=sys.stderr)
        sys.exit(1)
    print("all checks passed")


# The CLI reads a login context from $XDG_CONFIG_HOME/ooda (or ~/.config/ooda): a
# context left on the machine by a person must not steer the tests' commands.
_CLI_HOME = tempfile.mkdtemp(prefix="ooda-it-cli-home-")
atexit.register(shutil.rmtree, _CLI_HOME, True)


def run(*args, env=None, input=None, timeout=60):
    e = dict(os.environ)
    e["XDG_CONFIG_HOME"] = _CLI_HOME
    e.pop("OODA_SERVER", None)
    e.pop("OODA_TOKEN", None)
    if env:
        e.update(env)
    return subprocess.run([BIN, *args], capture_output=True, text=True, env=e, input=input, timeout=timeout)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)


# OODA_IT_TELEMETRY=clickhouse runs every Server's telemetry on ClickHouse:
# the one at OODA_CLICKHOUSE_URL (tests/clickhouse/start -- CMD sets it), else
# one this process starts on first use and stops at exit. Each Server gets a
# database of its own, so tests see only their own data.
_CH = {}


def clickhouse_url():
    url = os.environ.get("OODA_CLICKHOUSE_URL")
    if url:
        return url
    if "url" not in _CH:
        sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../clickhouse"))
        import importlib.machinery
        import importlib.util
        path = os.path.join(os.path.dirname(__file__), "../clickhouse/start")
        loader = importlib.machinery.SourceFileLoader("ch_start", path)
        spec = importlib.util.spec_from_loader("ch_start", loader)
        mod = importlib.util.module_from_spec(spec)
        loader.exec_module(mod)
        d = tempfile.mkdtemp(prefix="ooda-it-ch-")
        _CH["url"] = mod.start(d)
        _CH["mod"] = mod
        atexit.register(shutil.rmtree, d, True)
        atexit.register(mod.stop, d)
    return _CH["url"]


def telemetry_yaml(database=None):
    """The storage section that puts a server's telemetry on ClickHouse."""
    db = database or "it_" + os.urandom(6).hex()
    return f"storage:\n  telemetry:\n    backend: clickhouse\n    url: {clickhouse_url()}\n    database: {db}\n"


class Server:
    def __init__(self, config=None, data=None, extra=(), expect_start=True, env=None, telemetry=None):
        self.tmp = tempfile.mkdtemp(prefix="ooda-it-")
        self.env = env
        self.data = data or os.path.join(self.tmp, "data")
        self.config = None
        # telemetry: None follows OODA_IT_TELEMETRY; "sqlite" or "clickhouse" picks one
        self.telemetry = telemetry or os.environ.get("OODA_IT_TELEMETRY", "sqlite")
        if self.telemetry == "clickhouse" and "storage:" not in (config or ""):
            config = (config or "") + ("\n" if config and not config.endswith("\n") else "") + telemetry_yaml()
        if config is not None:
            self.config = os.path.join(self.tmp, "ooda.yaml")
            with open(self.config, "w") as f:
                f.write(config)
        self.extra = list(extra)
        self.token = None
        self.proc = None
        self.port = None
        self.log_path = os.path.join(self.tmp, "ooda.log")
        if expect_start:
            self.start()

    def args(self):
        a = ["serve", "--listen", "127.0.0.1:0", "--data", self.data]
        if self.config:
            a += ["--config", self.config]
        return a + self.extra

    def start(self, timeout=15):
        self.log = open(self.log_path, "a")
        offset = len(self.read_log())  # a restart appends: read only the new lines (in characters, not bytes)
        self.port = None
        e = dict(os.environ)
        e.update(self.env or {})
        self.proc = subprocess.Popen([BIN, *self.args()], stdout=self.log, stderr=self.log, env=e)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ooda exited with {self.proc.returncode}:\n{self.read_log()}")
            for line in self.read_log()[offset:].splitlines():
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if rec.get("msg", "").startswith("ooda serving") and rec.get("port"):
                    self.port = rec["port"]
            if self.port:
                return
            time.sleep(0.05)
        raise RuntimeError("ooda did not start:\n" + self.read_log())

    def read_log(self):
        with open(self.log_path) as f:
            return f.read()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def request(self, method, path, body=None, headers=None, token=None, timeout=30):
        h = dict(headers or {})
        tok = token if token is not None else self.token
        if tok:
            h["Authorization"] = "Bearer " + tok
        data = body
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            data = body.encode()
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return Response(r.status, dict(r.headers), r.read().decode(errors="replace"))
        except urllib.error.HTTPError as e:
            return Response(e.code, dict(e.headers), e.read().decode(errors="replace"))

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    def cli(self, *args, token=None, **kw):
        env = {"OODA_SERVER": self.url}
        tok = token if token is not None else self.token
        if tok:
            env["OODA_TOKEN"] = tok
        return run(*args, env=env, **kw)

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode if self.proc else None
        self.proc = None
        self.port = None
        return rc

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


def create_token(data_dir, role, name, env=None):
    # offline on the data dir; before the daemon's first start there is no store yet, and --init makes one
    init = [] if os.path.exists(os.path.join(data_dir, "control.db")) else ["--init"]
    scope = ["--env", env] if env else []
    r = run("token", "create", "--role", role, "--name", name, "--data", data_dir, *init, *scope)
    if r.returncode != 0:
        raise RuntimeError(r.stderr)
    return r.stdout.strip().splitlines()[-1]
