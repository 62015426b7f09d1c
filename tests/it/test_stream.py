"""The dashboard's live feed with the real daemon: GET /api/v1/stream needs
a viewer (an ingest token gets 403, no token 401); a change event posted
while a client listens arrives as `event: change` with the stored event; the
17th client gets 429 while 16 are open; and SIGTERM with streams open stops
the daemon at once and cleanly instead of waiting out the drain."""
import http.client
import json
import signal
import time
from oodait import Server, check, create_token, done


def open_stream(s, token):
    c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    c.request("GET", "/api/v1/stream", headers={"Authorization": "Bearer " + token})
    return c, c.getresponse()


def next_event(r, want, timeout=10):
    """Reads SSE frames until one of type want; returns its parsed data or None."""
    deadline = time.time() + timeout
    typ, data = None, []
    while time.time() < deadline:
        line = r.readline()
        if not line:
            return None
        line = line.decode().rstrip("\n")
        if line == "":
            if typ == want and data:
                return json.loads("\n".join(data))
            typ, data = None, []
        elif line.startswith("event:"):
            typ = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
    return None


def main():
    s = Server(expect_start=False)
    try:
        viewer = create_token(s.data, "viewer", "victor")
        ingest = create_token(s.data, "ingest", "shipper")
        s.start()
        s.token = ingest
        c, r = open_stream(s, ingest)
        check(r.status == 403, f"an ingest token may not follow the feed: {r.status}")
        c.close()
        c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
        c.request("GET", "/api/v1/stream")
        check(c.getresponse().status == 401, "no token: 401")
        c.close()

        c, r = open_stream(s, viewer)
        check(r.status == 200 and r.getheader("Content-Type") == "text/event-stream", f"stream opens: {r.status}")
        check(r.getheader("Cache-Control") == "no-store", "the stream is not cached")
        post = s.post("/api/v1/events", {"service": "payments", "kind": "deploy", "env": "prod", "version": "v42"})
        check(post.status in (200, 201, 202), f"event accepted: {post.status} {post.body}")
        ev = next_event(r, "change")
        check(ev is not None and ev.get("service") == "payments" and ev.get("version") == "v42",
              f"the change arrives on the stream: {ev}")

        more = []
        for _ in range(15):
            more.append(open_stream(s, viewer))
        check(all(rr.status == 200 for _, rr in more), "16 clients may listen")
        c17, r17 = open_stream(s, viewer)
        body = r17.read().decode()
        check(r17.status == 429 and "live streams" in body, f"the 17th gets 429: {r17.status} {body}")
        c17.close()

        t0 = time.time()
        rc = s.stop(sig=signal.SIGTERM, timeout=20)
        took = time.time() - t0
        check(rc == 0, f"clean exit with streams open: {rc}")
        check(took < 8, f"SIGTERM ends the streams instead of waiting out the drain: {took:.1f}s")
        check("stopped cleanly" in s.read_log(), "the log says it stopped cleanly")
        for cc, _ in more:
            cc.close()
        c.close()
    finally:
        s.cleanup()
    done()


if __name__ == "__main__":
    main()
