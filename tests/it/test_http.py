"""HTTP behaviour: problem+json errors, limits, content types, request ids, metrics."""
import http.client
import json
import time
import socket
from oodait import Server, check, done

s = Server(config="limits:\n  api_body: 2KiB\n")
try:
    r = s.get("/nope")
    check(r.status == 404 and r.headers["Content-Type"] == "application/problem+json", "unknown route 404")
    p = r.json()
    check(set(p) >= {"type", "title", "status", "detail"} and p["status"] == 404, f"problem fields: {p}")

    r = s.request("DELETE", "/api/v1/audit")
    check(r.status == 405 and "GET" in r.headers.get("Allow", ""), f"405 with Allow: {r.headers}")

    r = s.post("/api/v1/tokens", '{"name": "a", "role":', headers={"Content-Type": "application/json"})
    check(r.status == 400 and "invalid JSON" in r.json()["detail"], f"malformed JSON: {r.body}")
    r = s.post("/api/v1/tokens", "[1,2]", headers={"Content-Type": "application/json"})
    check(r.status == 400 and "object" in r.json()["detail"], "JSON that is not an object")
    r = s.post("/api/v1/tokens", "name=a", headers={"Content-Type": "application/x-www-form-urlencoded"})
    check(r.status == 415 and "application/json" in r.json()["detail"], f"wrong content type: {r.status}")
    r = s.post("/api/v1/tokens", {"name": 5, "role": "admin"})
    check(r.status == 400 and "name: expected a string" in r.json()["detail"], "wrong JSON type names the field")

    big = json.dumps({"name": "x" * 5000, "role": "admin"})
    r = s.post("/api/v1/tokens", big, headers={"Content-Type": "application/json"})
    check(r.status == 413 and "2048" in r.json()["detail"], f"oversized body: {r.status} {r.body}")

    # chunked body without Content-Length over the limit is also refused
    c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    c.putrequest("POST", "/api/v1/tokens")
    c.putheader("Content-Type", "application/json")
    c.putheader("Transfer-Encoding", "chunked")
    c.endheaders()
    chunk = b"x" * 4000
    try:
        c.send(b"%x\r\n%s\r\n0\r\n\r\n" % (len(chunk), chunk))
        resp = c.getresponse()
        check(resp.status == 413, f"chunked oversized body: {resp.status}")
    except (ConnectionError, socket.timeout) as e:
        check(False, f"chunked oversized body: {e}")

    # nothing was created by any of the bad requests
    r = s.get("/api/v1/audit")
    check(r.json()["records"] == [], f"bad requests wrote nothing: {r.body}")

    # request id: from traceparent, else generated; always echoed
    tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    r = s.get("/api/v1/status", headers={"traceparent": tp})
    check(r.headers.get("X-Request-Id") == "4bf92f3577b34da6a3ce929d0e0e4736", "request id from traceparent")
    r = s.get("/api/v1/status")
    check(len(r.headers.get("X-Request-Id", "")) == 32, "generated request id")
    # the request's log line is written once its response is sent: wait for it (guard only)
    deadline = time.time() + 10
    while '"request_id":"4bf92f3577b34da6a3ce929d0e0e4736"' not in s.read_log() and time.time() < deadline:
        time.sleep(0.05)
    check(f'"request_id":"4bf92f3577b34da6a3ce929d0e0e4736"' in s.read_log(), "request id in the daemon's logs")

    # oversized headers are refused without crashing
    r = s.get("/api/v1/status", headers={"X-Big": "y" * 40000})
    check(r.status in (413, 431), f"oversized header: {r.status}")
    check(s.get("/healthz").status == 200, "still serving after bad input")

    m = s.get("/metrics")
    check(m.status == 200 and m.headers["Content-Type"].startswith("text/plain"), "metrics content type")
    for name in ('ooda_http_requests_total{method="GET",route="/api/v1/status",status="200"}',
                 "ooda_http_request_duration_seconds_bucket", "ooda_store_bytes", "ooda_queue_depth",
                 "process_resident_memory_bytes", 'status="413"'):
        check(name in m.body, f"metrics has {name}")
    for line in m.body.splitlines():
        if line and not line.startswith("#"):
            parts = line.rsplit(" ", 1)
            check(len(parts) == 2 and parts[1].replace(".", "", 1).isdigit(), f"metric line parses: {line}")
finally:
    s.cleanup()
done()
