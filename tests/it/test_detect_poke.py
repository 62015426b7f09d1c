"""Event-driven detection with the real daemon: a pushed batch that crosses a
rule's threshold asks the engine for a tick of its own (rather than waiting
for the 250 ms period), the rules read it early (the fresh gap after the last
evaluation, an eighth of the interval: here 1.25 s of 10 s) rather than at
the next scheduled evaluation, the finished evaluation asks for another tick
to hand its alert to the alerting core, and the alert goes pending, then
firing after its `for`. The schedule is the daemon's own: /api/v1/rules names
the last evaluation before the push, and the next one on schedule is an
interval after it; the alert went pending before that. /metrics counts the
poked ticks. With several nodes the batches go to a follower, whose
announcement (api/fresh.h) must wake the leader's rules just as early; both
nodes count it in GET /api/v1/cluster's `fresh`."""
import calendar
import time
from datetime import datetime
from oodait import Server, check, done, wait_for

INTERVAL_NS = 10 * 10**9


def gauge(s, service, name, value):
    body = {"resourceMetrics": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeMetrics": [{"metrics": [{"name": name, "gauge": {"dataPoints": [
            {"timeUnixNano": str(time.time_ns()), "asDouble": value}]}}]}]}]}
    if s.followers:
        # to a node that does not lead: its batch must wake the leader's rules (api/fresh.h)
        r = s.request_at(follower_url(s), "POST", "/v1/metrics", body)
    else:
        r = s.post("/v1/metrics", body)
    check(r.status == 200, f"metrics accepted: {r.status} {r.body}")


def follower_url(s):
    c = s.get("/api/v1/cluster").json()
    for n in c["nodes"]:
        if n["id"] != c.get("leader"):
            return "http://" + n["address"]
    return s.url


def leader_url(s):
    """The node whose engine ticks: with several nodes, the leader (/metrics is each node's own)."""
    if not s.followers:
        return s.url
    lead = s.get("/api/v1/cluster").json().get("leader")
    urls = {n["id"]: "http://" + n["address"] for n in s.get("/api/v1/cluster").json()["nodes"]}
    return urls.get(lead, s.url)


def metric(s, name):
    r = s._send(leader_url(s), "GET", "/metrics", None, {}, 30)
    for line in r.body.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def alert(s, name):
    al = [a for a in s.get("/api/v1/alerts?state=all").json()["alerts"] if a["name"] == name]
    return al[0] if al else None


def last_evaluation_ns(s):
    """The rule group's lastEvaluation (RFC 3339, ms) as ns; None before the first."""
    groups = s.get("/api/v1/rules").json()["data"]["groups"]
    check(len(groups) == 1, f"one rule group: {groups}")
    t = groups[0]["lastEvaluation"]
    if t.startswith("0001-"):
        return None
    dt = datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ")
    return calendar.timegm(dt.timetuple()) * 10**9 + dt.microsecond * 1000


CONFIG = """alerts:
  interval: 10s
  rules:
    - name: QueueBacklog
      expr: queue_depth{job="checkout"} > 10
      for: 1s
      severity: page
"""

s = None
try:
    s = Server(config=CONFIG)
    # on PostgreSQL the engine runs once the node holds the lead, a moment after it answers
    wait_for("the engine's first tick", lambda: (metric(s, "ooda_engine_ticks_total") or 0) > 0, 20)
    ticks0 = metric(s, "ooda_engine_ticks_total")
    poked0 = metric(s, "ooda_engine_poked_ticks_total")
    check(ticks0 is not None and ticks0 > 0 and poked0 is not None,
          f"engine ticks and poked ticks on /metrics: {ticks0} {poked0}")
    deadline = time.time() + 30  # a guard against a hang, not a timing
    last = None
    while last is None and time.time() < deadline:
        last = last_evaluation_ns(s)
        if last is None:
            time.sleep(0.05)
    check(last is not None, "the rules were evaluated once at start")
    gauge(s, "checkout", "queue.depth", 50)
    seen = None
    while time.time() < deadline:
        a = alert(s, "QueueBacklog")
        seen = a["state"] if a else None
        if seen == "firing":
            break
        if seen == "pending":
            gauge(s, "checkout", "queue.depth", 50)  # the condition stays fresh through `for`
        time.sleep(0.1)
    check(seen == "firing", f"the pushed batch made the rule fire: last state {seen}")
    poked = metric(s, "ooda_engine_poked_ticks_total")
    check(poked is not None and poked0 is not None and poked > poked0,
          f"the batches and the evaluation that found the alert asked for ticks: {poked0} -> {poked}")
    a = alert(s, "QueueBacklog")
    if a:
        tr = s.get(f"/api/v1/alerts/{a['fingerprint']}").json()["transitions"]
        check([t["to"] for t in tr] == ["pending", "firing"], f"pending, then firing: {tr}")
        check(len(tr) == 2 and tr[1]["at_ns"] - tr[0]["at_ns"] >= 10**9, f"firing after its for: {tr}")
        # the evaluation that found the pushed value came after the one /api/v1/rules named
        # and before the next one on schedule (an interval later): it was brought forward
        check(last <= tr[0]["at_ns"] < last + INTERVAL_NS,
              f"pending at {tr[0]['at_ns']}, between the last evaluation {last} and the next on schedule")
    if s.followers:
        fr = s.request_at(follower_url(s), "GET", "/api/v1/cluster").json().get("fresh", {})
        lead = s.request_at(leader_url(s), "GET", "/api/v1/cluster").json().get("fresh", {})
        check(fr.get("announced", 0) > 0 and lead.get("heard", 0) > 0,
              f"the follower announced its batches and the leader heard them: {fr} {lead}")
    check(s.stop() == 0, "clean stop with pokes coming in")
finally:
    if s:
        s.cleanup()
done()
