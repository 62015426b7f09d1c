"""PromQL conformance against Prometheus 2.42 (Debian's /usr/bin/prometheus).

One data set is remote-written, as the same request bytes, to ooda and to a
Prometheus started on loopback with a temporary storage dir and
--web.enable-remote-write-receiver; then every query runs through both HTTP
APIs and the answers are compared (same series, same timestamps, values
equal within 1e-9 relative). Every series has a job label: ooda names the
job of a remote-written series without one "prometheus". Standard library only: the WriteRequest
protobuf and the snappy block format (literals only, which every snappy
reader accepts) are written here by hand.

Times: the data set starts at `base` (a whole minute, an hour ago) with
samples every 15 s at base + 7.5 s + 15 s·k; queries are evaluated at
base + 10 s + 60 s·k. Prometheus 2.42 closes range windows on the left
([t - r, t]) while ooda and Prometheus 3 leave them open ((t - r, t]);
with these offsets no sample and no subquery step ever sits on a window's
left edge, so the difference cannot show, and the comparison is of what
both promise.
"""
import json
import math
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

PROMETHEUS = os.environ.get("PROMETHEUS_BIN", "/usr/bin/prometheus")
STEP_S = 15
N_SAMPLES = 240  # one hour

# ---- the data set ----


def series_set(base_ms):
    """[(labels dict, [(t_ms, value)])] — deterministic, one hour."""
    out = []
    ts = [base_ms + 7500 + STEP_S * 1000 * k for k in range(N_SAMPLES)]

    def counter(inc, reset_at=None):
        v, vals = 0.0, []
        for k in range(N_SAMPLES):
            if reset_at is not None and k == reset_at:
                v = 0.0
            v += inc(k)
            vals.append(v)
        return vals

    out.append(({"__name__": "http_requests_total", "job": "api", "instance": "a", "code": "200"},
                counter(lambda k: (k * 7) % 13 + 1)))
    out.append(({"__name__": "http_requests_total", "job": "api", "instance": "b", "code": "200"},
                counter(lambda k: (k * 5) % 11 + 2, reset_at=120)))
    out.append(({"__name__": "http_requests_total", "job": "api", "instance": "a", "code": "500"},
                counter(lambda k: 1 if k % 3 == 0 else 0)))
    out.append(({"__name__": "temperature", "job": "sensors", "room": "kitchen"},
                [round(20 + 5 * math.sin(k / 10), 1) for k in range(N_SAMPLES)]))
    out.append(({"__name__": "temperature", "job": "sensors", "room": "bath"},
                [18.0 + (k // 20) % 3 for k in range(N_SAMPLES)]))
    bounds = [("0.1", 0.2), ("0.5", 0.6), ("1", 0.9), ("+Inf", 1.0)]
    total = counter(lambda k: (k * 3) % 7 + 4)
    for le, share in bounds:
        out.append(({"__name__": "req_seconds_bucket", "job": "api", "le": le},
                    [math.floor(x * share) for x in total]))
    out.append(({"__name__": "req_seconds_count", "job": "api"}, list(total)))
    out.append(({"__name__": "req_seconds_sum", "job": "api"}, [x * 0.37 for x in total]))
    out.append(({"__name__": "instance_info", "job": "inventory", "instance": "a", "region": "eu"}, [1.0] * N_SAMPLES))
    out.append(({"__name__": "instance_info", "job": "inventory", "instance": "b", "region": "us"}, [1.0] * N_SAMPLES))
    series = [(l, list(zip(ts, v))) for l, v in out]
    series.append(({"__name__": "ends_early", "job": "batch"}, list(zip(ts[:100], [float(k) for k in range(100)]))))
    return series


# ---- remote-write encoding ----


def _varint(n):
    b = bytearray()
    while True:
        x = n & 0x7F
        n >>= 7
        if n:
            b.append(x | 0x80)
        else:
            b.append(x)
            return bytes(b)


def _field(num, wire, payload):
    if wire == 2:
        return _varint(num << 3 | 2) + _varint(len(payload)) + payload
    return _varint(num << 3 | wire) + payload


def write_request(series, metadata=()):
    """A WriteRequest: series [(labels, [(t_ms, v)])], metadata [(name, type number, help, unit)]."""
    body = b""
    for name, typ, help_, unit in metadata:
        body += _field(3, 2, _field(1, 0, _varint(typ)) + _field(2, 2, name.encode()) +
                       _field(4, 2, help_.encode()) + _field(5, 2, unit.encode()))
    for labels, samples in series:
        ts = b""
        for k in sorted(labels):
            ts += _field(1, 2, _field(1, 2, k.encode()) + _field(2, 2, labels[k].encode()))
        for t, v in samples:
            ts += _field(2, 2, _field(1, 1, struct.pack("<d", v)) + _field(2, 0, _varint(t)))
        body += _field(1, 2, ts)
    return body


def snappy_literal(data):
    """The snappy block format with literal elements only."""
    out = bytearray(_varint(len(data)))
    for i in range(0, len(data), 65536):
        chunk = data[i:i + 65536]
        n = len(chunk) - 1
        if n < 60:
            out.append(n << 2)
        else:
            out.append(61 << 2)
            out += struct.pack("<H", n)
        out += chunk
    return bytes(out)


# ---- the queries ----
# (query, mode): mode "range" runs a range query over the comparison window;
# "instant" one instant query at its middle (results whose order matters, or
# range vectors). {at} is a time inside the data set.

REPRESENTATIVE = [
    ("http_requests_total", "range"),
    ("rate(http_requests_total[5m])", "range"),
    ("irate(http_requests_total[1m])", "range"),
    ("increase(http_requests_total[10m])", "range"),
    ("sum by (code) (rate(http_requests_total[5m]))", "range"),
    ("delta(temperature[10m])", "range"),
    ("idelta(temperature[2m])", "range"),
    ("deriv(temperature[10m])", "range"),
    ("predict_linear(temperature[10m], 600)", "range"),
    ("changes(temperature[10m])", "range"),
    ("resets(http_requests_total[30m])", "range"),
    ("holt_winters(temperature[10m], 0.3, 0.6)", "range"),
    ("quantile_over_time(0.9, temperature[10m])", "range"),
    ("stddev_over_time(temperature[10m])", "range"),
    ("absent(nonexistent{job=\"x\"})", "range"),
    ("absent_over_time(ends_early[5m])", "range"),
    ("timestamp(temperature)", "range"),
    ("clamp(temperature, 19, 22)", "range"),
    ("clamp_min(temperature, 21)", "range"),
    ("clamp_max(temperature, 21)", "range"),
    ("time()", "range"),
    ("vector(1)", "range"),
    ("scalar(sum(instance_info)) * temperature", "range"),
    ("label_replace(temperature, \"r\", \"$1\", \"room\", \"(k.*)\")", "range"),
    ("label_join(instance_info, \"x\", \"/\", \"instance\", \"region\")", "range"),
    ("max_over_time(rate(http_requests_total[2m])[10m:1m])", "range"),
    ("avg_over_time(temperature[10m:30s])", "range"),
    ("sum_over_time(deriv(temperature[5m])[10m:2m])", "range"),
    ("count_over_time(temperature[3m:1m] offset 2m)", "range"),
    ("temperature offset 10m", "range"),
    ("rate(http_requests_total[5m] offset 5m)", "range"),
    ("temperature @ {at}", "range"),
    ("rate(http_requests_total[5m] @ end())", "range"),
    ("temperature @ start()", "range"),
    ("histogram_quantile(0.9, sum by (le) (rate(req_seconds_bucket[5m])))", "range"),
    ("sum(rate(req_seconds_sum[5m])) / sum(rate(req_seconds_count[5m]))", "range"),
    ("http_requests_total * on(instance) group_left(region) instance_info", "range"),
    ("sort_desc(sum by (instance) (http_requests_total))", "instant"),
    ("sort(temperature)", "instant"),
    ("temperature[2m:30s]", "instant"),
]

FULL = REPRESENTATIVE + [
    ("rate(http_requests_total[10m])", "range"),
    ("sum without (instance) (rate(http_requests_total[5m]))", "range"),
    ("avg by (job) (http_requests_total)", "range"),
    ("max(temperature)", "range"),
    ("min(temperature)", "range"),
    ("count(http_requests_total)", "range"),
    ("group by (job) (http_requests_total)", "range"),
    ("stddev(temperature)", "range"),
    ("stdvar(temperature)", "range"),
    ("quantile(0.5, http_requests_total)", "range"),
    ("topk(1, temperature)", "instant"),
    ("bottomk(2, http_requests_total)", "instant"),
    ("count_values(\"v\", temperature{room=\"bath\"})", "range"),
    ("temperature > 20", "range"),
    ("temperature > bool 20", "range"),
    ("http_requests_total{code=\"200\"} and on(instance) http_requests_total{code=\"500\"}", "range"),
    ("http_requests_total{code=\"200\"} unless on(instance) http_requests_total{code=\"500\"}", "range"),
    ("temperature{room=\"bath\"} or temperature{room=\"kitchen\"}", "range"),
    ("abs(temperature - 21)", "range"),
    ("ceil(temperature)", "range"),
    ("floor(temperature)", "range"),
    ("round(temperature, 0.5)", "range"),
    ("sqrt(temperature)", "range"),
    ("exp(temperature / 10)", "range"),
    ("ln(temperature)", "range"),
    ("log2(temperature)", "range"),
    ("log10(temperature)", "range"),
    ("temperature ^ 2 % 7", "range"),
    ("-temperature", "range"),
    ("min_over_time(temperature[10m])", "range"),
    ("max_over_time(temperature[10m])", "range"),
    ("sum_over_time(temperature[10m])", "range"),
    ("count_over_time(temperature[10m])", "range"),
    ("last_over_time(temperature[10m])", "range"),
    ("stdvar_over_time(temperature[10m])", "range"),
    ("present_over_time(ends_early[5m])", "range"),
    ("changes(temperature{room=\"bath\"}[30m])", "range"),
    ("resets(temperature[20m])", "range"),
    ("deriv(http_requests_total[5m])", "range"),
    ("predict_linear(http_requests_total[15m], 3600)", "range"),
    ("holt_winters(http_requests_total[15m], 0.1, 0.9)", "range"),
    ("idelta(http_requests_total[1m])", "range"),
    ("delta(http_requests_total[5m])", "range"),
    ("increase(http_requests_total[1h])", "range"),
    ("absent(temperature)", "range"),
    ("absent_over_time(temperature[5m])", "range"),
    ("absent_over_time(nonexistent{a=\"b\"}[5m])", "range"),
    ("label_replace(http_requests_total, \"code_class\", \"${1}xx\", \"code\", \"(.).*\")", "range"),
    ("label_join(http_requests_total, \"id\", \"-\", \"job\", \"instance\", \"code\")", "range"),
    ("histogram_quantile(0.5, rate(req_seconds_bucket[10m]))", "range"),
    ("histogram_quantile(0.99, sum by (le, job) (rate(req_seconds_bucket[5m])))", "range"),
    ("quantile_over_time(0.5, rate(http_requests_total[1m])[15m:1m])", "range"),
    ("max_over_time(temperature[1h:5m])", "range"),
    ("rate(http_requests_total[5m:30s])", "range"),
    ("deriv(sum(http_requests_total)[10m:1m])", "range"),
    ("min_over_time(temperature[5m:1m] @ {at})", "range"),
    ("temperature @ {at} offset 5m", "range"),
    ("sum(rate(http_requests_total[5m] @ start()))", "range"),
    ("timestamp(temperature @ {at})", "range"),
    ("avg_over_time(temperature[10m] offset 20m)", "range"),
    ("time() - timestamp(temperature)", "range"),
    ("scalar(temperature)", "range"),
    ("sort(rate(http_requests_total[5m]))", "instant"),
    ("sort_desc(temperature)", "instant"),
    ("temperature[5m]", "instant"),
    ("rate(http_requests_total[5m])[10m:2m]", "instant"),
    ("temperature @ {at}", "instant"),
]

# more shapes for /api/v1/format_query (parsed, never run)
FORMAT_EXTRA = [
    "sum(rate(x[5m])) by (job)", "a + b * c", "(a + b) * c", "-(a + b)", "(-a) ^ 2", "2 ^ 3 ^ 4",
    "(2 ^ 3) ^ 4", "a - (b - c)", "a / on(x, y) group_left(z) b", "a > bool 1",
    "x{a=\"b\\\"c\", d=~\"e.*\"}", "{__name__=\"x\", a=\"b\"}", "x offset -5m", "x[1h30m]", "x[90m]",
    "topk(3, x) without (a)", "count_values(\"v\", x)", "1.5e3", "0.000001", "x @ 1609746000.5", "x[7d]",
]

# queries whose right answer is empty (everything else must answer something)
EMPTY_OK = {"absent(temperature)", "absent_over_time(temperature[5m])"}

# ---- running both servers ----


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Prometheus:
    """Prometheus 2.42 on loopback with a temporary storage dir."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="ooda-prom-")
        cfg = os.path.join(self.tmp, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1h\n")
        self.port = free_port()
        self.log = open(os.path.join(self.tmp, "prometheus.log"), "w")
        self.proc = subprocess.Popen(
            [PROMETHEUS, "--config.file=" + cfg, "--storage.tsdb.path=" + os.path.join(self.tmp, "data"),
             "--web.listen-address=127.0.0.1:%d" % self.port, "--web.enable-remote-write-receiver",
             "--query.lookback-delta=5m"], stdout=self.log, stderr=self.log)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("prometheus exited: " + open(self.log.name).read()[-2000:])
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("prometheus did not become ready")

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.tmp, True)


def post(url, body, headers, token=None):
    h = dict(headers)
    if token:
        h["Authorization"] = "Bearer " + token
    req = urllib.request.Request(url, data=body, headers=h, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def remote_write(url, payload, token=None):
    return post(url + "/api/v1/write", payload,
                {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
                 "X-Prometheus-Remote-Write-Version": "0.1.0"}, token)


def query(url, q, mode, start, end, step, token=None):
    if mode == "range":
        form = {"query": q, "start": "%.3f" % start, "end": "%.3f" % end, "step": str(step)}
        path = "/api/v1/query_range"
    else:
        form = {"query": q, "time": "%.3f" % ((start + end) / 2)}
        path = "/api/v1/query"
    status, body = post(url + path, urllib.parse.urlencode(form).encode(),
                        {"Content-Type": "application/x-www-form-urlencoded"}, token)
    try:
        return status, json.loads(body)
    except ValueError:
        return status, {"raw": body.decode(errors="replace")}


# ---- comparing ----


def _num(s):
    return float(s)  # Go and ooda both write NaN, +Inf, -Inf


def _close(a, b):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def _norm(data, ordered):
    """The result as [(labels, [(t, v)])]; sorted by labels unless ordered."""
    rt, res = data["resultType"], data["result"]
    if rt == "scalar" or rt == "string":
        return [((), [(float(res[0]), res[1])])]
    out = []
    for s in res:
        pts = s.get("values") or [s["value"]]
        out.append((tuple(sorted(s["metric"].items())), [(float(t), v) for t, v in pts]))
    return out if ordered else sorted(out)


def compare(a, b, ordered=False):
    """None when equal, else a short reason."""
    if a.get("status") != b.get("status"):
        return "status %s vs %s (%s)" % (a.get("status"), b.get("status"), a.get("error") or b.get("error"))
    if a.get("status") != "success":
        return None  # both refuse the query
    if a["data"]["resultType"] != b["data"]["resultType"]:
        return "resultType %s vs %s" % (a["data"]["resultType"], b["data"]["resultType"])
    x, y = _norm(a["data"], ordered), _norm(b["data"], ordered)
    if [l for l, _ in x] != [l for l, _ in y]:
        return "series differ: %s vs %s" % ([dict(l) for l, _ in x][:3], [dict(l) for l, _ in y][:3])
    for (l, p), (_, q) in zip(x, y):
        if len(p) != len(q):
            return "%s: %d vs %d points" % (dict(l), len(p), len(q))
        for (t1, v1), (t2, v2) in zip(p, q):
            if t1 != t2:
                return "%s: time %s vs %s" % (dict(l), t1, t2)
            if isinstance(v1, str) and isinstance(v2, str) and not _close(_num(v1), _num(v2)):
                return "%s at %s: %s vs %s" % (dict(l), t1, v1, v2)
    return None


class Conformance:
    """Both servers loaded with the same data; run(q, mode) compares one query."""

    def __init__(self, ooda_url, token=None):
        self.ooda_url = ooda_url
        self.token = token
        self.base = (int(time.time()) // 60) * 60 - 3660
        payload = snappy_literal(write_request(series_set(self.base * 1000)))
        self.prom = Prometheus()
        s1, b1 = remote_write(self.prom.url, payload)
        s2, b2 = remote_write(ooda_url, payload, token)
        if s1 // 100 != 2 or s2 // 100 != 2:
            self.prom.stop()
            raise RuntimeError("remote-write: prometheus %s %r, ooda %s %r" % (s1, b1[:200], s2, b2[:200]))
        # compare over minutes 20..50 of the data set, off the sample grid
        self.start = self.base + 10 + 20 * 60
        self.end = self.base + 10 + 50 * 60
        self.step = 60
        self.at = self.base + 10 + 35 * 60

    def run(self, q, mode):
        q = q.replace("{at}", str(self.at))
        sa, a = query(self.prom.url, q, mode, self.start, self.end, self.step)
        sb, b = query(self.ooda_url, q, mode, self.start, self.end, self.step, self.token)
        if a.get("status") != "success":
            return "prometheus refused it (%s): %s" % (sa, a.get("error"))
        diff = compare(a, b, ordered=q.startswith("sort"))
        if diff:
            return "%s (ooda %s)" % (diff, sb)
        if not a["data"]["result"] and q not in EMPTY_OK:
            return "prometheus answered nothing: the query does not test anything"
        return None

    def format_diff(self, q):
        """None when ooda's /api/v1/format_query writes q as Prometheus does."""
        q = q.replace("{at}", str(self.at))
        out = []
        for url, tok in ((self.prom.url, None), (self.ooda_url, self.token)):
            status, body = post(url + "/api/v1/format_query", urllib.parse.urlencode({"query": q}).encode(),
                                {"Content-Type": "application/x-www-form-urlencoded"}, tok)
            out.append((status, json.loads(body).get("data")))
        return None if out[0] == out[1] else "prometheus %r, ooda %r" % (out[0], out[1])

    def close(self):
        self.prom.stop()
