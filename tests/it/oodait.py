"""Helpers for integration tests: start the real ooda binary on an ephemeral
loopback port with a temporary data dir, and talk to it over HTTP."""
import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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
    if not url and os.environ.get("OODA_IT_TELEMETRY") == "clickhouse":
        url = os.environ.get("OODA_SCALE_CLICKHOUSE_URL")  # tests/scale/run's shared server
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


def telemetry_yaml(database=None, header=True):
    """The storage section that puts a server's telemetry on ClickHouse
    (without header: only its telemetry key, to go under a storage: line)."""
    db = database or "it_" + os.urandom(6).hex()
    return (("storage:\n" if header else "") +
            f"  telemetry:\n    backend: clickhouse\n    url: {clickhouse_url()}\n    database: {db}\n")


# OODA_IT_CONTROL=postgres runs every Server's control store on PostgreSQL:
# a fresh database per Server on the cluster OODA_IT_PG_DSN names (tests/pg/run
# starts one per test script), else on OODA_SCALE_PG_DSN's (tests/scale/run
# starts one for a whole meson run), else on a cluster this process starts itself.
PG = os.environ.get("OODA_IT_CONTROL") == "postgres"
_PG_BASE = None
_PG_COUNT = 0


def _pg_base():
    global _PG_BASE
    if _PG_BASE is None:
        _PG_BASE = os.environ.get("OODA_IT_PG_DSN") or (PG and os.environ.get("OODA_SCALE_PG_DSN"))
        if not _PG_BASE:
            here = os.path.dirname(os.path.abspath(__file__))
            d = tempfile.mkdtemp(prefix="ooda-it-pg-")
            os.chmod(d, 0o755)
            r = subprocess.run([os.path.join(here, "../pg/start"), d], capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError("cannot start PostgreSQL: " + r.stderr)
            atexit.register(subprocess.run, [os.path.join(here, "../pg/stop"), d])
            _PG_BASE = r.stdout.strip()
    return _PG_BASE


def pg_database():
    """A fresh database; returns (name of the env var holding its DSN, DSN). The var is set in os.environ."""
    global _PG_COUNT
    _PG_COUNT += 1
    base = _pg_base()
    name = f"it{os.getpid()}_{_PG_COUNT}"
    r = subprocess.run(["psql", "-qX", base, "-c", f"CREATE DATABASE {name}"], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("cannot create a database: " + r.stderr)
    var = "OODA_IT_DSN_" + name.upper()
    dsn = f"{base} dbname={name}"
    os.environ[var] = dsn
    return var, dsn


def pg_yaml(var, header=True):
    """The storage section that puts a server's control store on PostgreSQL
    (without header: only its control key, to go under a storage: line)."""
    return ("\nstorage:\n" if header else "") + f"  control:\n    backend: postgres\n    dsn_env: {var}\n"


def pg_bind(data, var):
    """Points data dir `data` at the database in $var, as `ooda serve` on it would (control.pg)."""
    os.makedirs(data, mode=0o700, exist_ok=True)
    with open(os.path.join(data, "control.pg"), "w") as f:
        f.write(f"postgres {var}\n")


def pg_bound(data):
    """The env var of the database data dir `data` is bound to (control.pg), or None."""
    try:
        with open(os.path.join(data, "control.pg")) as f:
            return f.read().split()[1]
    except (OSError, IndexError):
        return None


# OODA_IT_NODES=N (N > 1) with OODA_IT_CONTROL=postgres and
# OODA_IT_TELEMETRY=clickhouse makes every Server a cluster of N ooda nodes on
# one PostgreSQL database and one ClickHouse database: the first node starts
# first (so it usually leads), N-1 followers start after it with data dirs of
# their own and the same ooda.yaml, and request() and cli() go round-robin over
# the N, as a load balancer would. stop(), start() and send_signal() act on all
# N; stop() returns the first non-zero exit status among them (a follower's
# sanitizer report fails the test too); read_log() is every node's log, the
# first node's first. proc, port and url are the first node's. Each node
# signs audit checkpoints with its own key (in its data dir) and publishes it
# in the control store, so any node verifies the chain. SIGHUP goes to the
# first node only, as an operator would send it now: that node passes the
# reload on to the others (send_signal waits until all have answered).
NODES = int(os.environ.get("OODA_IT_NODES", "1") or "1")


class Server:
    def __init__(self, config=None, data=None, extra=(), expect_start=True, env=None, telemetry=None, pg_var=None,
                 nodes=None, ch_database=None, _follower_of=None):
        self.tmp = tempfile.mkdtemp(prefix="ooda-it-")
        self.data = data or os.path.join(self.tmp, "data")
        self.token = None
        self.proc = None
        self.port = None
        self.log_path = os.path.join(self.tmp, "ooda.log")
        self.followers = []
        self._rr = 0
        if _follower_of is not None:
            lead = _follower_of
            self.env, self.config, self.extra = lead.env, lead.config, lead.extra
            self.telemetry, self.pg_var, self.nodes = lead.telemetry, lead.pg_var, 1
            pg_bind(self.data, self.pg_var)
            return
        self.env = env
        self.config = None
        # telemetry: None follows OODA_IT_TELEMETRY; "sqlite" or "clickhouse" picks one
        self.telemetry = telemetry or os.environ.get("OODA_IT_TELEMETRY", "sqlite")
        storage = ""  # one storage: section for both stores
        if self.telemetry == "clickhouse" and "storage:" not in (config or ""):
            storage += telemetry_yaml(ch_database, header=False)  # a given database shares it
        self.pg_var = None
        if PG or pg_var:
            # a given pg_var shares that database (several nodes on one PostgreSQL)
            self.pg_var = pg_var or pg_bound(self.data) or pg_database()[0]
            if storage:
                storage += pg_yaml(self.pg_var, header=False)
            else:
                config = (config or "") + pg_yaml(self.pg_var)
            if not os.path.exists(os.path.join(self.data, "control.db")):
                pg_bind(self.data, self.pg_var)
        if storage:
            config = (config or "") + ("\n" if config and not config.endswith("\n") else "") + "storage:\n" + storage
        if config is not None:
            self.config = os.path.join(self.tmp, "ooda.yaml")
            with open(self.config, "w") as f:
                f.write(config)
        self.extra = list(extra)
        # several nodes where they share both stores, or on one database when the test asks for nodes
        shared = self.pg_var is not None and (self.telemetry == "clickhouse" or nodes is not None)
        self.nodes = max(1, nodes if nodes is not None else NODES) if shared else 1
        if expect_start:
            self.start()

    def args(self):
        a = ["serve", "--listen", "127.0.0.1:0", "--data", self.data]
        if self.config:
            a += ["--config", self.config]
        return a + self.extra

    def start(self, timeout=15):
        self._start_node(timeout)
        if self.nodes > 1 and not self.followers:
            self.followers = [type(self)(_follower_of=self) for _ in range(self.nodes - 1)]
        for f in self.followers:
            f._start_node(timeout)

    def _start_node(self, timeout):
        self.log = open(self.log_path, "a")
        offset = len(self._own_log())  # a restart appends: read only the new lines (in characters, not bytes)
        self.port = None
        e = dict(os.environ)
        e.update(self.env or {})
        self.proc = subprocess.Popen([BIN, *self.args()], stdout=self.log, stderr=self.log, env=e)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ooda exited with {self.proc.returncode}:\n{self._own_log()}")
            for line in self._own_log()[offset:].splitlines():
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if rec.get("msg", "").startswith("ooda serving") and rec.get("port"):
                    self.port = rec["port"]
            if self.port:
                return
            time.sleep(0.05)
        raise RuntimeError("ooda did not start:\n" + self._own_log())

    def _own_log(self):
        with open(self.log_path) as f:
            return f.read()

    def read_log(self):
        return self._own_log() + "".join(f._own_log() for f in self.followers)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def next_url(self):
        """The URL of the node the next request goes to (round-robin over the nodes, unless
        the test pinned one: pinned = a node's url)."""
        if self.__dict__.get("pinned"):
            return self.pinned
        urls = [self.url] + [f.url for f in self.followers if f.port]
        self._rr += 1
        return urls[(self._rr - 1) % len(urls)]

    def request(self, method, path, body=None, headers=None, token=None, timeout=30):
        return self.request_at(self.next_url(), method, path, body, headers, token, timeout)

    def request_at(self, base, method, path, body=None, headers=None, token=None, timeout=30):
        """request() to the node at base (its URL), whichever node the next request would go to."""
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
        return self._send(base, method, path, data, h, timeout)

    @staticmethod
    def _send(base, method, path, data, h, timeout):
        req = urllib.request.Request(base + path, data=data, method=method, headers=h)
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
        env = {"OODA_SERVER": self.next_url()}
        tok = token if token is not None else self.token
        if tok:
            env["OODA_TOKEN"] = tok
        return run(*args, env=env, **kw)

    def send_signal(self, sig):
        if sig == signal.SIGHUP and self.followers:
            # one node is asked; it starts a reload generation every node answers (api/cluster.h)
            before = self.config_generation()
            self.proc.send_signal(sig)
            self.wait_config(after=before)
            return
        self.proc.send_signal(sig)
        for f in self.followers:
            if f.proc:
                f.proc.send_signal(sig)

    def _cluster(self):
        r = self.request_at(self.url, "GET", "/api/v1/cluster", timeout=10)
        return r.json() if r.status == 200 else {}

    def config_generation(self):
        """The cluster's configuration reload generation, as the first node knows it (0 on one node)."""
        return (self._cluster().get("config") or {}).get("generation", 0)

    def wait_config(self, after=0, timeout=20):
        """Waits until the cluster's reload generation passed `after` and every node that is up
        answered it (GET /api/v1/cluster), as an operator checking `ooda cluster status` would."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            c = self._cluster()
            gen = (c.get("config") or {}).get("generation", 0)
            nodes = [n for n in c.get("nodes", []) if n.get("up")]
            if gen > after and nodes and all(n.get("config", {}).get("generation", 0) >= gen for n in nodes):
                return gen
            time.sleep(0.05)
        raise RuntimeError(f"the nodes did not answer the reload after generation {after}: {self._cluster()}")

    def _stop_node(self, sig, timeout):
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

    def stop(self, sig=signal.SIGTERM, timeout=20):
        # followers first, so that the first node, which leads, is the last to act
        rcs = [f._stop_node(sig, timeout) for f in self.followers]
        rc = self._stop_node(sig, timeout)
        return next((x for x in rcs if x), rc) if rc == 0 else rc

    def cleanup(self):
        self.stop()
        if FAILURES:  # a failed check: the daemons' last words, before their directories go
            for who, node in (("ooda", self), *((f"follower {i + 1}", f) for i, f in enumerate(self.followers))):
                try:
                    tail = node._own_log().splitlines()[-80:]
                except OSError:
                    continue
                print(f"--- the last {len(tail)} lines of {who}'s log ---", *tail, sep="\n", file=sys.stderr)
        for f in self.followers:
            shutil.rmtree(f.tmp, ignore_errors=True)
        shutil.rmtree(self.tmp, ignore_errors=True)


def create_token(data_dir, role, name, env=None):
    # offline on the data dir; before the daemon's first start there is no store yet, and --init makes one
    if PG and not os.path.exists(os.path.join(data_dir, "control.db")) and not pg_bound(data_dir):
        pg_bind(data_dir, pg_database()[0])
    init = [] if os.path.exists(os.path.join(data_dir, "control.db")) else ["--init"]
    scope = ["--env", env] if env else []
    r = run("token", "create", "--role", role, "--name", name, "--data", data_dir, *init, *scope)
    if r.returncode != 0:
        raise RuntimeError(r.stderr)
    return r.stdout.strip().splitlines()[-1]


class _PsqlCursor:
    def __init__(self, rows):
        self.rows = rows

    def fetchone(self):
        return self.rows[0] if self.rows else None

    def fetchall(self):
        return self.rows

    def __iter__(self):
        return iter(self.rows)


class _PsqlDB:
    """The few sqlite3 connection calls the tests make on control.db, run by psql on
    a PostgreSQL control store: ? parameters (str, int, bytes), PRAGMA integrity_check
    and user_version as their PostgreSQL meaning. Values come back as text, integers as int."""

    def __init__(self, dsn):
        self.dsn = dsn

    @staticmethod
    def _lit(v):
        if v is None:
            return "NULL"
        if isinstance(v, (bytes, bytearray)):
            return "'\\x" + bytes(v).hex() + "'::bytea"
        if isinstance(v, (int, float)):
            return str(v)
        return "'" + str(v).replace("'", "''") + "'"

    def execute(self, q, params=()):
        if q.strip().upper() == "PRAGMA INTEGRITY_CHECK":
            q = "SELECT 'ok'"
        elif q.strip().upper().startswith("PRAGMA USER_VERSION ="):
            q = "UPDATE ooda_schema SET version = " + q.split("=")[1]
        parts = q.split("?")
        sql = parts[0] + "".join(self._lit(p) + rest for p, rest in zip(params, parts[1:]))
        r = subprocess.run(["psql", "-qXtA", "-F", "\x1f", "-v", "ON_ERROR_STOP=1", self.dsn, "-c", sql],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"{sql}: {r.stderr}")
        def value(v):
            return int(v) if v.lstrip("-").isdigit() else v
        return _PsqlCursor([tuple(value(v) for v in line.split("\x1f")) for line in r.stdout.splitlines()])

    def executescript(self, text):
        self.execute(text)

    def commit(self):
        pass

    def close(self):
        pass


def control_db(data, timeout=5):
    """The control store of data dir `data` for a test to read or tamper with:
    sqlite3 on control.db, or the PostgreSQL database its control.pg names."""
    var = pg_bound(data)
    if var:
        return _PsqlDB(os.environ[var])
    import sqlite3
    return sqlite3.connect(os.path.join(data, "control.db"), timeout=timeout)


# ---- the simulator's tests (test_sim, test_remedy*_sim) ----

SIM = os.environ.get("OODA_SIM_BIN", os.path.join(os.path.dirname(__file__), "../../build/sim/ooda-sim"))


def http_call(method, url, body=None, timeout=10):
    """A JSON call to a plain HTTP endpoint (the simulator's admin API): (status, body text)."""
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def free_port():
    """A TCP port on 127.0.0.1 that was free when asked: for a receiver started later."""
    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        return so.getsockname()[1]


_closed_ports = []


def closed_port():
    """A TCP port on 127.0.0.1 that stays closed while the test runs: bound here and never
    listening, so a connection to it is refused and no other process (a simulator, another
    test's server) can take it meanwhile, as one could take a port that was merely free."""
    so = socket.socket()
    so.bind(("127.0.0.1", 0))
    _closed_ports.append(so)
    return so.getsockname()[1]


def wait_until(fn, what, timeout=20, step=0.1):
    """Calls fn until it returns something true and returns that; after timeout seconds a
    failed check names what, with fn's last value, which is returned."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(step)
    check(False, f"timed out waiting for {what}: last {last}")
    return last


def wait_for(what, fn, timeout=20, step=0.2):
    """wait_until with what first, as the simulator's tests call it; None after a timeout."""
    return wait_until(fn, what, timeout, step) or None


class Receiver:
    """A webhook receiver on loopback that records every POST as (path, headers, body bytes).
    port 0 takes a free one (self.port). status maps a path to the status it answers
    (default 200); a path starting with echo_prefix answers with the request's headers as JSON."""

    def __init__(self, port=0, status=None, echo_prefix=None):
        self.got = []
        self.lock = threading.Lock()
        rec = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with rec.lock:
                    rec.got.append((self.path, self.headers, body))
                echo = echo_prefix and self.path.startswith(echo_prefix)
                out = json.dumps(dict(self.headers)).encode() if echo else b"ok"
                self.send_response((status or {}).get(self.path, 200))
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *a):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), H)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def on(self, path=None):
        """The POSTs to path (None: all), oldest first: (path, headers, body bytes)."""
        with self.lock:
            return [g for g in self.got if path is None or g[0] == path]

    def texts(self, path=None):
        """The bodies of on(path) as text."""
        return [b.decode(errors="replace") for _, _, b in self.on(path)]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class Cluster:
    """n ooda nodes (separate processes, each a Server with a data dir of its own) on one
    PostgreSQL database: a fresh one, or the one whose DSN $pg_var holds. Each node runs
    `config` with `server: node_id` NAME appended (names: n1, n2, ... unless given;
    names=False keeps the default ids, host name and process id). Telemetry follows
    OODA_IT_TELEMETRY unless `telemetry` says; on ClickHouse every node shares one database.
    The nodes start in order (the first usually leads); with settle, the cluster waits until
    every node reports the same leader and term, all n up, each with its address.

    nodes: the Servers in start order, each a client of that node alone (request, get,
    post, cli, proc); c[name] is one by name or id. leader_id, term, view: the agreed
    GET /api/v1/cluster (settle() reads them again); leader and followers: the Servers.
    stop_clean(skip) checks that every node but those in skip exits 0 on SIGTERM (a
    sanitizer report fails it); cleanup() (also on leaving a with block) resumes stopped
    processes and stops and removes every node."""

    def __init__(self, n=3, config="", names=None, pg_var=None, telemetry=None, settle=True, timeout=20):
        self.pg_var = pg_var or pg_database()[0]
        self.names = list(names) if names else ([f"n{i + 1}" for i in range(n)] if names is None else [])
        telemetry = telemetry or os.environ.get("OODA_IT_TELEMETRY", "sqlite")
        ch_db = "it_" + os.urandom(6).hex() if telemetry == "clickhouse" else None
        self.nodes = []
        self.view = None
        try:
            for i in range(n):
                text = config + (f"\nserver:\n  node_id: {self.names[i]}\n" if self.names else "")
                self.nodes.append(Server(config=text, pg_var=self.pg_var, telemetry=telemetry, nodes=1,
                                         ch_database=ch_db))
            if settle:
                self.settle(timeout)
        except BaseException:
            self.cleanup()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()

    def __getitem__(self, key):
        ids = self.ids()
        return next(x for i, x in enumerate(self.nodes) if key in (ids[i], (self.names or [None] * len(ids))[i]))

    def ids(self):
        """The node ids, in start order (the names given, or the ones the nodes report)."""
        if self.names:
            return list(self.names)
        rows = (self.view or {}).get("nodes", [])
        by_port = {r["address"].rsplit(":", 1)[-1]: r["id"] for r in rows}
        return [by_port.get(str(x.port)) for x in self.nodes]

    def agreed(self, among=None):
        """The GET /api/v1/cluster view every node of among (default: all) reports when they
        agree on one leader and term, all of them are up with their addresses and one of
        them leads; else None."""
        among = among or self.nodes
        views = []
        for x in among:
            r = x.get("/api/v1/cluster")
            if r.status != 200:
                return None
            views.append(r.json())
        keys = {(v.get("leader"), v.get("term")) for v in views}
        if len(keys) != 1 or None in next(iter(keys)):
            return None
        v = views[0]
        up = [x for x in v["nodes"] if x["up"]]
        leaders = [x for x in v["nodes"] if x["role"] == "leader"]
        if len(up) != len(among) or len(leaders) != 1 or leaders[0]["id"] != v["leader"]:
            return None
        if any(x["address"].endswith(":0") for x in up):
            return None
        return v

    def settle(self, timeout=20):
        """Waits until every node agrees on the leader (agreed()); returns the view."""
        v = wait_until(self.agreed, f"{len(self.nodes)} nodes agreeing on one leader, each with its address",
                       timeout=timeout)
        if v:
            self.view = v
        return v

    @property
    def leader_id(self):
        return (self.view or {}).get("leader")

    @property
    def term(self):
        return (self.view or {}).get("term", 0)

    @property
    def leader(self):
        """The leading node's Server (the first node when no leader was agreed: its checks fail anyway)."""
        try:
            return self[self.leader_id]
        except StopIteration:
            return self.nodes[0]

    @property
    def followers(self):
        return [x for x in self.nodes if x is not self.leader]

    def stop_clean(self, skip=()):
        """Stops every node not in skip with SIGTERM and checks that each exits 0."""
        ids = self.ids()
        for i, x in enumerate(self.nodes):
            if x not in skip:
                check(x.stop() == 0, f"node {ids[i]} stops cleanly (no sanitizer report)")

    def cleanup(self):
        for x in self.nodes:
            if x.proc and x.proc.poll() is None:
                x.proc.send_signal(signal.SIGCONT)  # a node the test stopped (SIGSTOP) must hear the SIGTERM
            x.cleanup()
