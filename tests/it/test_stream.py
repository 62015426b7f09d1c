"""The dashboard's live feed with the real daemon: GET /api/v1/stream needs
a viewer (an ingest token gets 403, no token 401); a change event posted
while a client listens arrives as `event: change` with the stored event; a
remediation run that waits for approval, is approved and acts arrives as
`event: run` for each stored version, in order (created, approved, each step's
start and end, verifying, succeeded), naming the run, its incident and the step,
without the step's output; an incident opened and acknowledged arrives as `event:
incident` {event, incident: the document} for each; the 17th client gets 429 while 16 are open; and SIGTERM with streams open stops
the daemon at once and cleanly instead of waiting out the drain.

With several nodes (the nodes3 suite): a client of one node gets, once each,
the incident events of an incident opened through another node and
acknowledged through a third."""
import http.client
import json
import signal
import time
from oodait import Server, check, create_token, done


def open_stream(s, token, port=None):
    c = http.client.HTTPConnection("127.0.0.1", port or s.port, timeout=10)
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


CONFIG = """
policies:
  - name: fix-svc-run
    when: {service: svc-run}
    mode: approve
    do:
      - exec: {argv: ["/bin/sh", "-c", "echo out-of-$((6*7))-band"]}
    irreversible_ok: true
    rationale: the step only prints
"""


def run_events(s, r, admin):
    """An incident on svc-run makes a run awaiting approval; approved, it acts. Returns its feed events."""
    inc = s.post("/api/v1/incidents", {"title": "svc-run broken", "service": "svc-run"}, token=admin)
    check(inc.status == 201, f"incident: {inc.status} {inc.body}")
    seen = []
    first = next_event(r, "run")
    if first:
        seen.append(first)
    run_id = (first or {}).get("run", "run-x")
    ap = s.post(f"/api/v1/runs/{run_id}/approve", {"rationale": "go"}, token=admin)
    check(ap.status == 200, f"approved: {ap.status} {ap.body}")
    while seen and seen[-1].get("status") not in ("succeeded", "failed", "undone") and len(seen) < 20:
        ev = next_event(r, "run")
        if not ev:
            break
        seen.append(ev)
    return inc.json().get("id"), run_id, seen


def incident_events(r, number, until):
    """The incident events of incident number read from r up to the first whose event is until."""
    got = []
    while True:
        ev = next_event(r, "incident")
        if ev is None:
            return got
        if (ev.get("incident") or {}).get("id") == number:
            got.append(ev.get("event"))
            if ev.get("event") == until:
                return got


def across_nodes(s, viewer, admin):
    """Clients of two followers; an incident opened through the first node and acknowledged through another."""
    streams = [open_stream(s, viewer, port=f.port) for f in s.followers[:2]]
    check(all(rr.status == 200 for _, rr in streams), "a follower's stream opens")
    body = json.dumps({"title": "svc-across broken", "service": "svc-across"}).encode()
    auth = {"Authorization": "Bearer " + admin, "Content-Type": "application/json"}
    opened = s._send(s.url, "POST", "/api/v1/incidents", body, auth, 30)
    check(opened.status == 201, f"incident through the first node: {opened.status} {opened.body}")
    number = opened.json().get("id") if opened.status == 201 else None
    ack = s._send(s.followers[1].url, "POST", f"/api/v1/incidents/{number}/transition",
                  json.dumps({"to": "acknowledged"}).encode(), auth, 30)
    check(ack.status == 200, f"acknowledged through a follower: {ack.status} {ack.body}")
    for i, (cc, rr) in enumerate(streams):
        got = incident_events(rr, number, "transition")
        check(got == ["opened", "transition"],
              f"follower {i + 1}'s client gets the opened incident and its acknowledgement, once each: {got}")
        cc.close()
    feed = s._send(s.followers[0].url, "GET", "/api/v1/cluster", None, {"Authorization": "Bearer " + viewer}, 30)
    f = feed.json().get("feed", {}) if feed.status == 200 else {}
    check(f.get("events_received", 0) >= 2 and f.get("events_lost") == 0,
          f"GET /api/v1/cluster counts the events a node read from the others: {f}")


def main():
    s = Server(config=CONFIG, expect_start=False)
    try:
        viewer = create_token(s.data, "viewer", "victor")
        ingest = create_token(s.data, "ingest", "shipper")
        admin = create_token(s.data, "admin", "alice")
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

        # ---- incidents: opened, then each lifecycle move, with the document ----
        opened = s.post("/api/v1/incidents", {"title": "svc-inc <img src=x onerror=alert(1)>", "service": "svc-inc"},
                        token=admin)
        check(opened.status == 201, f"incident: {opened.status} {opened.body}")
        ev = next_event(r, "incident")
        doc = (ev or {}).get("incident") or {}
        check(ev is not None and ev.get("event") == "opened" and doc.get("id") == opened.json().get("id")
              and doc.get("status") == "triggered" and doc.get("title", "").startswith("svc-inc <img"),
              f"the opened incident arrives on the stream with its document: {ev}")
        ack = s.post(f"/api/v1/incidents/{doc.get('id')}/transition", {"to": "acknowledged"}, token=admin)
        check(ack.status == 200, f"acknowledged: {ack.status} {ack.body}")
        ev = next_event(r, "incident")
        check(ev is not None and ev.get("event") == "transition"
              and (ev.get("incident") or {}).get("status") == "acknowledged",
              f"the acknowledgement arrives on the stream: {ev}")

        # ---- a remediation run, every stored version on the feed, in order ----
        inc_id, run_id, seen = run_events(s, r, admin)
        got = [(e.get("event"), e.get("status"), (e.get("step") or {}).get("index"), (e.get("step") or {}).get("status"))
               for e in seen]
        want = [("run.create", "awaiting-approval", None, None), ("run.approve", "running", None, None),
                ("step.start", "running", 0, "running"), ("step.ok", "running", 0, "ok"),
                ("run.verify", "verifying", None, None), ("run.succeeded", "succeeded", None, None)]
        check(got == want, f"the run's moves arrive in order: {got}")
        check(all(e.get("run") == run_id and e.get("incident") == inc_id and e.get("policy") == "fix-svc-run"
                  for e in seen), f"each names the run, its incident and policy: {seen[:2]}")
        check([e.get("version") for e in seen] == list(range(1, len(seen) + 1)), f"one per version: {seen}")
        step = next((e["step"] for e in seen if e.get("step")), {})
        check(step.get("action") == "exec" and "/bin/sh" in step.get("describe", ""), f"the step is named: {step}")
        check(not any("out-of-42-band" in json.dumps(e) for e in seen), "a step's output stays off the feed")
        check(seen and seen[1].get("approved_by") == "token:alice", f"the approver is on the event: {seen[1:2]}")

        if len(s.followers) >= 2:
            across_nodes(s, viewer, admin)

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
