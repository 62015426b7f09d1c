"""ooda scraping Prometheus targets itself (scrape_configs, docs/scraping.md),
against real targets: Prometheus 2.42 and Alertmanager from Debian, ooda's
own /metrics (found through a file_sd file written after start, so the file
watch is tested too), and a small HTTP server for odd bodies: OpenMetrics
with an exemplar, a gzip answer, an answer over body_size_limit and one
slower than scrape_timeout. Checks what a user sees: PromQL over scraped
series, /api/v1/targets in Prometheus' shape, the auth headers the targets
received, secrets nowhere in the API or the log, /api/v1/metadata, a key
Prometheus has and ooda lacks refused by name, and a reload that drops a
job."""
import base64
import gzip
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from oodait import Server, check, done, run, create_token
from promconf import free_port

PROMETHEUS = os.environ.get("PROMETHEUS_BIN", "/usr/bin/prometheus")
ALERTMANAGER = os.environ.get("ALERTMANAGER_BIN", "/usr/bin/prometheus-alertmanager")
TOKEN = "s3cr3t-bearer-7f3a"
PASSWORD = "pw-9c1d-basic"
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"

seen = {"auth": [], "accept": [], "vanish": False}

OM_BODY = ("# TYPE acme_req_seconds histogram\n"
           "# UNIT acme_req_seconds seconds\n"
           "# HELP acme_req_seconds Request latency.\n"
           f'acme_req_seconds_bucket{{le="0.1"}} 8 # {{trace_id="{TRACE}"}} 0.054\n'
           'acme_req_seconds_bucket{le="+Inf"} 9\n'
           "acme_req_seconds_sum 0.5\n"
           "acme_req_seconds_count 9\n"
           "# TYPE acme_jobs counter\n"
           'acme_jobs_total{job="inner"} 17\n'
           "# EOF\n")


class Target(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def send(self, body, ctype="text/plain; version=0.0.4", encoding=None):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        if encoding:
            self.send_header("Content-Encoding", encoding)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass

    def do_GET(self):
        seen["auth"].append(self.headers.get("Authorization", ""))
        seen["accept"].append(self.headers.get("Accept", ""))
        path, _, q = self.path.partition("?")
        seen.setdefault("hits", []).append((time.monotonic(), path))
        if path == "/params":
            got = urllib.parse.parse_qs(q)
            self.send(b'params_seen{module="%s",n="%d"} 1\n' % (",".join(got.get("module", [])).encode(), len(got)))
        elif path == "/tls":
            self.send(b"tls_value 7\n")
        elif self.path == "/om":
            self.send(OM_BODY.encode(), "application/openmetrics-text; version=1.0.0; charset=utf-8")
        elif self.path == "/gz":
            check("gzip" in self.headers.get("Accept-Encoding", ""), "the scraper accepts gzip")
            self.send(gzip.compress(b"# TYPE gz_value gauge\ngz_value 42\n"), encoding="gzip")
        elif self.path == "/big":
            self.send(b"".join(b"big_series_%d 1\n" % i for i in range(1000)))
        elif self.path == "/vanish":
            self.send(b"vanish_a 1\n" + (b"" if seen["vanish"] else b"vanish_b 1\n"))
        elif self.path == "/slow":
            time.sleep(2)
            self.send(b"slow_value 1\n")
        else:
            self.send_response(404)
            self.end_headers()


def start_tls(tmp):
    """A self-signed https target: its certificate file doubles as the CA of tls_config.ca_file."""
    key, crt = os.path.join(tmp, "tls.key"), os.path.join(tmp, "tls.crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt,
                    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Target)
    httpd.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, crt


def start_prom_and_am(tmp):
    pport, aport = free_port(), free_port()
    pcfg = os.path.join(tmp, "prometheus.yml")
    with open(pcfg, "w") as f:
        f.write("global:\n  scrape_interval: 1h\nscrape_configs: []\n")
    plog = open(os.path.join(tmp, "prom.log"), "w")
    prom = subprocess.Popen([PROMETHEUS, "--config.file=" + pcfg, "--storage.tsdb.path=" + os.path.join(tmp, "pd"),
                             "--web.listen-address=127.0.0.1:%d" % pport], stdout=plog, stderr=plog)
    acfg = os.path.join(tmp, "am.yml")
    with open(acfg, "w") as f:
        f.write("route:\n  receiver: none\nreceivers:\n  - name: none\n")
    am = subprocess.Popen([ALERTMANAGER, "--config.file=" + acfg, "--storage.path=" + os.path.join(tmp, "ad"),
                           "--web.listen-address=127.0.0.1:%d" % aport, "--cluster.listen-address="],
                          stdout=plog, stderr=plog)
    return prom, pport, am, aport


def query(s, q):
    r = s.get("/api/v1/query?" + urllib.parse.urlencode({"query": q}))
    if r.status != 200:
        return None
    return r.json()["data"]["result"]


def wait_for(what, fn, timeout=30):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.2)
    check(False, f"timed out waiting for {what} (last: {last})")
    return None


def targets(s):
    r = s.get("/api/v1/targets")
    return r.json()["data"]["activeTargets"] if r.status == 200 else []


def target_of(s, job):
    for t in targets(s):
        if t["scrapePool"] == job and t["health"] != "unknown":
            return t
    return None


def config(pport, aport, hport, sd_dir, pwfile, with_slow=True, tport=0, crt=""):
    slow = f"""  - job_name: slow
    scrape_interval: 2s
    scrape_timeout: 500ms
    metrics_path: /slow
    static_configs: [{{targets: ["127.0.0.1:{hport}"]}}]
""" if with_slow else ""
    return f"""global:
  scrape_interval: 1s
  scrape_timeout: 800ms
scrape_configs:
  - job_name: prom
    scrape_interval: 1s
    static_configs:
      - targets: ["127.0.0.1:{pport}"]
        labels: {{env: test}}
  - job_name: am
    static_configs: [{{targets: ["127.0.0.1:{aport}"]}}]
  - job_name: om
    scrape_interval: 1s
    metrics_path: /om
    authorization: {{credentials: {TOKEN}}}
    static_configs: [{{targets: ["127.0.0.1:{hport}"]}}]
  - job_name: gz
    scrape_interval: 1s
    metrics_path: /gz
    basic_auth: {{username: scraper, password_file: {pwfile}}}
    static_configs: [{{targets: ["127.0.0.1:{hport}"]}}]
  - job_name: big
    scrape_interval: 1s
    metrics_path: /big
    body_size_limit: 1KiB
    static_configs: [{{targets: ["127.0.0.1:{hport}"]}}]
  - job_name: params
    scrape_interval: 1s
    metrics_path: /params
    params: {{module: [if_mib, "a b"]}}
    static_configs: [{{targets: ["127.0.0.1:{hport}"]}}]
  - job_name: tls_strict
    scheme: https
    metrics_path: /tls
    static_configs: [{{targets: ["127.0.0.1:{tport}"]}}]
  - job_name: tls_insecure
    scheme: https
    metrics_path: /tls
    tls_config: {{insecure_skip_verify: true}}
    static_configs: [{{targets: ["127.0.0.1:{tport}"]}}]
  - job_name: tls_ca
    scheme: https
    metrics_path: /tls
    tls_config: {{ca_file: {crt}}}
    static_configs: [{{targets: ["127.0.0.1:{tport}"]}}]
  - job_name: vanish
    scrape_interval: 1s
    metrics_path: /vanish
    static_configs: [{{targets: ["127.0.0.1:{hport}"]}}]
{slow}  - job_name: self
    scrape_interval: 1s
    file_sd_configs:
      - files: ["{sd_dir}/*.json"]
"""


def main():
    tmp = tempfile.mkdtemp(prefix="ooda-scrape-")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Target)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    hport = httpd.server_address[1]
    prom, pport, am, aport = start_prom_and_am(tmp)
    tls, crt = start_tls(tmp)
    tport = tls.server_address[1]
    sd_dir = os.path.join(tmp, "sd")
    os.makedirs(sd_dir)
    pwfile = os.path.join(tmp, "pw")
    with open(pwfile, "w") as f:
        f.write(PASSWORD + "\n")
    s = None
    try:
        # a key Prometheus has and ooda lacks is refused by name, at check and at start
        bad = os.path.join(tmp, "bad.yaml")
        with open(bad, "w") as f:
            f.write("scrape_configs:\n  - job_name: x\n    relabel_configs: []\n    static_configs: [{targets: ['a:1']}]\n")
        r = run("config", "check", bad)
        check(r.returncode != 0 and "scrape_configs[0].relabel_configs: not supported by ooda" in r.stderr + r.stdout,
              f"relabel_configs is refused by name: {r.returncode} {r.stderr} {r.stdout}")

        # the target file is named relative to ooda.yaml's directory, as Prometheus resolves it
        s = Server(config="", expect_start=False)
        # what the harness wrote (the storage section of the scale variant) stays in every file written below
        with open(s.config) as f:
            storage = f.read()
        sd_rel = os.path.relpath(sd_dir, os.path.dirname(s.config))
        check(not sd_rel.startswith("/"), f"a relative path: {sd_rel}")
        with open(s.config, "w") as f:
            f.write(config(pport, aport, hport, sd_rel, pwfile, tport=tport, crt=crt) + storage)
        s.start()
        # ooda's own /metrics, found once the target file names it
        with open(os.path.join(sd_dir, "self.json.tmp"), "w") as f:
            json.dump([{"targets": [f"127.0.0.1:{s.port}"], "labels": {"role": "self"}}], f)
        os.rename(os.path.join(sd_dir, "self.json.tmp"), os.path.join(sd_dir, "self.json"))

        # PromQL over scraped data
        up = wait_for("up{job=prom} == 1", lambda: query(s, 'up{job="prom"} == 1'))
        check(up and up[0]["metric"].get("instance") == f"127.0.0.1:{pport}" and up[0]["metric"].get("env") == "test",
              f"up of Prometheus carries job, instance and the static label: {up}")
        bi = wait_for("prometheus_build_info", lambda: query(s, 'prometheus_build_info{job="prom"}'))
        check(bi and bi[0]["metric"].get("version"), f"prometheus_build_info scraped with its labels: {bi}")
        am_up = wait_for("alertmanager_build_info", lambda: query(s, 'alertmanager_build_info{job="am"}'))
        check(bool(am_up), f"Alertmanager's /metrics scraped: {am_up}")
        own = wait_for("ooda_build_info from file_sd", lambda: query(s, 'ooda_build_info{job="self",role="self"}'))
        check(bool(own), f"ooda's own /metrics scraped through a target file written after start: {own}")
        n = wait_for("scrape_samples_scraped", lambda: query(s, 'scrape_samples_scraped{job="prom"} > 100'))
        check(bool(n), f"scrape_samples_scraped counts Prometheus' samples: {n}")
        for name in ("scrape_duration_seconds", "scrape_samples_post_metric_relabeling", "scrape_series_added"):
            check(bool(query(s, f'{name}{{job="prom"}}')), f"{name} is recorded per target")

        # OpenMetrics: histogram series, exemplar, a clashing job label kept as exported_job
        om = wait_for("OpenMetrics bucket", lambda: query(s, 'acme_req_seconds_bucket{job="om",le="0.1"}'))
        check(om and om[0]["value"][1] == "8", f"OpenMetrics histogram bucket: {om}")
        ej = query(s, 'acme_jobs_total{job="om"}')
        check(ej and ej[0]["metric"].get("exported_job") == "inner", f"scraped job label kept as exported_job: {ej}")
        r = s.get("/api/v1/query_exemplars?" + urllib.parse.urlencode({"query": "acme_req_seconds_bucket"}))
        check(r.status == 200 and TRACE in r.body, f"the OpenMetrics exemplar's trace id comes back: {r.status} {r.body[:300]}")
        added = wait_for("om scrape_series_added", lambda: query(s, 'max_over_time(scrape_series_added{job="om"}[5m]) == 5')
                         and query(s, 'scrape_series_added{job="om"} == 0'))
        check(bool(added), "scrape_series_added: 5 at the first scrape of the OpenMetrics target, 0 once nothing is new")
        sc = query(s, 'scrape_samples_scraped{job="om"}')
        check(sc and sc[0]["value"][1] == "5", f"scrape_samples_scraped of the OpenMetrics target: {sc}")
        gz = wait_for("gzip body", lambda: query(s, 'gz_value{job="gz"} == 42'))
        check(bool(gz), f"a gzip answer is decoded: {gz}")

        # a series gone from the answer gets a staleness marker: PromQL stops seeing it at once
        check(bool(wait_for("vanish_b", lambda: query(s, 'vanish_b{job="vanish"}'))), "vanish_b scraped")
        seen["vanish"] = True
        gone = wait_for("vanish_b stale", lambda: query(s, 'vanish_b{job="vanish"}') == [] and
                        query(s, 'vanish_a{job="vanish"}'))
        check(bool(gone), "a series that vanished from the target is no longer returned (staleness marker)")

        # params become the query string; https with a self-signed certificate
        pr = wait_for("params", lambda: query(s, 'params_seen{job="params"}'))
        # one scrape per interval (1 s) reaches a target, however many nodes serve: at most
        # one more than the whole seconds since its first scrape (a late scrape skips a turn)
        hits = [t for t, p in seen.get("hits", []) if p == "/params"]
        span = time.monotonic() - hits[0] if hits else 0
        check(hits and len(hits) <= int(span) + 2,
              f"the params target is scraped once per interval: {len(hits)} scrapes in {span:.1f} s")
        check(pr and pr[0]["metric"].get("module") == "if_mib,a b" and pr[0]["metric"].get("n") == "1",
              f"params reach the target as its query string: {pr}")
        for job in ("tls_insecure", "tls_ca"):
            ok = wait_for(job, lambda: query(s, f'tls_value{{job="{job}"}} == 7'))
            check(bool(ok), f"https target scraped with {job}: {ok}")
        # on a loaded machine a scrape may time out in the handshake first: wait for a
        # scrape that got as far as the certificate
        def strict_refused():
            t = target_of(s, "tls_strict")
            return t if t and "certificate" in t["lastError"].lower() else None
        strict = wait_for("tls_strict down", strict_refused) or target_of(s, "tls_strict")
        check(strict and strict["health"] == "down" and strict["scrapeUrl"].startswith("https://")
              and "certificate" in strict["lastError"].lower(),
              f"a self-signed certificate fails without ca_file or insecure_skip_verify: {strict}")

        # failures: up 0 and the reason at /api/v1/targets
        big = wait_for("big target down", lambda: target_of(s, "big"))
        check(big and big["health"] == "down" and "body size limit" in big["lastError"],
              f"an answer over body_size_limit fails the scrape: {big}")
        check(bool(wait_for("up{job=big} == 0", lambda: query(s, 'up{job="big"} == 0'))), "up is 0 for the big target")
        slow = wait_for("slow target down", lambda: target_of(s, "slow"))
        check(slow and slow["health"] == "down" and "timed out" in slow["lastError"],
              f"a scrape over scrape_timeout fails: {slow}")
        check(bool(wait_for("up{job=slow} == 0", lambda: query(s, 'up{job="slow"} == 0'))), "up is 0 for the slow target")

        # /api/v1/targets in Prometheus' shape
        ts = targets(s)
        p = [t for t in ts if t["scrapePool"] == "prom"]
        check(len(p) == 1 and p[0]["health"] == "up" and p[0]["scrapeUrl"] == f"http://127.0.0.1:{pport}/metrics"
              and p[0]["labels"] == {"job": "prom", "instance": f"127.0.0.1:{pport}", "env": "test"}
              and p[0]["lastScrape"].endswith("Z") and p[0]["lastScrapeDuration"] > 0
              and p[0]["discoveredLabels"]["__address__"] == f"127.0.0.1:{pport}",
              f"/api/v1/targets lists Prometheus as Prometheus would: {p}")
        a = [t for t in ts if t["scrapePool"] == "am"]
        check(a and a[0]["scrapeInterval"] == "1s" and a[0]["scrapeTimeout"] == "800ms",
              f"a job without scrape_interval takes global's: {a}")
        r = s.get("/api/v1/targets?state=bogus")
        check(r.status == 400 and "state" in r.body, f"a bad state parameter is refused: {r.status} {r.body}")

        r = s.cli("targets", "--job", "big")
        check(r.returncode == 0 and "down" in r.stdout and "body size limit" in r.stdout and "prom" not in r.stdout,
              f"ooda targets --job big shows the one failing target and why: {r.returncode} {r.stdout} {r.stderr}")

        # auth headers sent, secrets shown nowhere
        want_basic = "Basic " + base64.b64encode(f"scraper:{PASSWORD}".encode()).decode()
        check(f"Bearer {TOKEN}" in seen["auth"], f"authorization credentials sent: {set(seen['auth'])}")
        check(want_basic in seen["auth"], f"basic_auth sent with the password from its file: {set(seen['auth'])}")
        check(any(a.startswith("application/openmetrics-text") for a in seen["accept"]),
              f"Accept asks for OpenMetrics first: {seen['accept'][:1]}")
        body = s.get("/api/v1/targets").body
        check(TOKEN not in body and PASSWORD not in body, "no secret in /api/v1/targets")
        check(TOKEN not in s.read_log() and PASSWORD not in s.read_log(), "no secret in the log")

        # metadata: TYPE/HELP/UNIT of scraped families
        r = s.get("/api/v1/metadata?metric=acme_req_seconds")
        md = r.json()["data"].get("acme_req_seconds", []) if r.status == 200 else []
        check(any(m["type"] == "histogram" and m["help"] == "Request latency." and m["unit"] == "seconds" for m in md),
              f"scraped metadata at /api/v1/metadata: {r.body[:300]}")

        r = s.get("/api/v1/metadata")
        data = r.json()["data"] if r.status == 200 else {}
        samples = [n for n in ("acme_req_seconds_bucket", "acme_req_seconds_sum", "acme_req_seconds_count") if n in data]
        check("acme_req_seconds" in data and not samples,
              f"the histogram family is listed, not its sample names as bare gauges: {samples}")
        r = s.get("/api/v1/metadata?metric=acme_req_seconds_bucket")
        check(r.status == 200 and r.json()["data"] == {}, f"a sample name of a family has no metadata of its own: {r.body[:300]}")

        r = s.get("/api/v1/metadata?metric=prometheus_build_info")
        md = r.json()["data"].get("prometheus_build_info", []) if r.status == 200 else []
        check(len(md) == 1 and md[0]["type"] == "gauge" and md[0]["help"],
              f"one entry per family, the target's own, not also a bare gauge from the stored points: {md}")

        # reload: a refused key keeps the old jobs; a good file drops the slow job, keeps the data
        with open(s.config, "w") as f:
            f.write(config(pport, aport, hport, sd_rel, pwfile, tport=tport, crt=crt).replace(
                "  - job_name: big\n", "  - job_name: big\n    kubernetes_sd_configs: []\n") + storage)
        r = s.post("/api/v1/config/reload", {})
        check(r.status != 200 and "kubernetes_sd_configs: not supported by ooda" in r.body,
              f"reload refuses an unsupported key by name: {r.status} {r.body}")
        with open(s.config, "w") as f:
            f.write(config(pport, aport, hport, sd_rel, pwfile, with_slow=False, tport=tport, crt=crt) + storage)
        r = s.post("/api/v1/config/reload", {})
        check(r.status == 200, f"good reload: {r.status} {r.body}")
        pools = {t["scrapePool"] for t in targets(s)}
        check("slow" not in pools and "prom" in pools, f"the reload dropped the slow job only: {pools}")
        check(bool(query(s, 'prometheus_build_info{job="prom"}')), "scraped data survives the reload")
        check(wait_for("up{job=slow} gone", lambda: query(s, 'up{job="slow"}') == []) is not None,
              "the removed job's series end with staleness markers")
        rc = s.stop()
        check(rc == 0, f"ooda stops cleanly with scrapes in flight (exit {rc}): {s.read_log()[-3000:]}")
    finally:
        if s:
            s.cleanup()
        for proc in (prom, am):
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        httpd.shutdown()
        tls.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)
    done()


if __name__ == "__main__":
    main()
