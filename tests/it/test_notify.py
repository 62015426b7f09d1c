"""Notifications end to end with the real daemon and real receivers started
here: an alert fired through the Alertmanager intake reaches a Slack-shaped
receiver, a PagerDuty-shaped receiver (Events API v2 fields) and an SMTP sink
(aiosmtpd); a signed webhook whose receiver is down keeps retrying (attempts
increase), survives a daemon restart and arrives exactly once with a valid
HMAC once the receiver is up; routing by severity and team; a silenced alert
notifies nobody; a test message is audited; the secrets never appear in the
log, the audit log or any API answer; bad notify config is refused with its
key and position."""
import hashlib
import hmac
import json
import os
import socket
import sys
import threading

try:
    from aiosmtpd.controller import Controller
except ImportError:  # a python3 of its own (pyenv) next to Debian's, where scripts/install-deps put it
    sys.path.append("/usr/lib/python3/dist-packages")
    from aiosmtpd.controller import Controller

from oodait import Receiver, Server, check, done, free_port, run, wait_until

HOOK_SECRET = "whsec_it_6b1f0c2e9d"
PD_KEY = "R0UTINGKEY_it_a81c44"


class Hang:
    """Accepts connections and never answers: a receiver that hangs."""

    def __init__(self, port):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(8)
        self.conns = []
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        try:
            while True:
                self.conns.append(self.sock.accept()[0])
        except OSError:
            pass

    def close(self):
        for c in self.conns:
            c.close()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() of the thread
        except OSError:
            pass
        self.sock.close()


class Sink:
    def __init__(self):
        self.msgs = []

    async def handle_DATA(self, server, session, envelope):
        self.msgs.append(envelope)
        return "250 OK"


def fire(s, name, labels, status="firing"):
    alert = {"status": status, "labels": dict(labels, alertname=name), "annotations": {"summary": name},
             "startsAt": "2026-11-22T07:35:09.956Z"}
    if status == "resolved":
        alert["endsAt"] = "2026-11-22T07:45:09.956Z"
    r = s.post("/api/v1/alerts/alertmanager", {"version": "4", "status": status, "alerts": [alert]})
    check(r.status == 200, f"alertmanager intake: {r.status} {r.body}")


def fingerprint(s, name):
    r = s.get("/api/v1/alerts?state=all")
    al = [a for a in r.json()["alerts"] if a["name"] == name]
    return al[0]["fingerprint"] if al else None


def rows(s, **q):
    qs = "&".join(f"{k}={v}" for k, v in q.items())
    r = s.get("/api/v1/notifications" + ("?" + qs if qs else ""))
    check(r.status == 200, f"notifications list: {r.status} {r.body}")
    return r.json()["notifications"] if r.status == 200 else []


def verify(sig_header, body, secret):
    parts = dict(p.split("=", 1) for p in sig_header.split(","))
    mac = hmac.new(secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(mac, parts["v1"])


def main():
    recv_port, hook_port, smtp_port, slow_port = free_port(), free_port(), free_port(), free_port()
    hang = Hang(slow_port)
    slow = None
    recv = Receiver(recv_port, status={"/pd": 202})
    sink = Sink()
    smtp = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    hook = None
    tmpkey = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"ooda-it-pd-{os.getpid()}")
    with open(tmpkey, "w") as f:
        f.write(PD_KEY + "\n")
    config = f"""alerts:
  interval: 500ms
notify:
  public_url: http://ooda.test
  retry:
    max_attempts: 100
    base: 50ms
    max_backoff: 300ms
  targets:
    - name: hook
      type: webhook
      url: http://127.0.0.1:{hook_port}/hook
      secret_env: OODA_IT_HOOK_SECRET
      timeout: 2s
    - name: chat
      type: slack
      url: http://127.0.0.1:{recv_port}/slack
    - name: pager
      type: pagerduty
      url: http://127.0.0.1:{recv_port}/pd
      secret_file: {tmpkey}
    - name: mail
      type: email
      url: smtp://127.0.0.1:{smtp_port}
      from: ooda@example.com
      to: [oncall@example.com]
    - name: slow
      type: webhook
      url: http://127.0.0.1:{slow_port}/slow
      secret_env: OODA_IT_HOOK_SECRET
      timeout: 60s
  routes:
    - match: {{service: [slowsvc]}}
      targets: [slow]
    - match: {{severity: [page], kind: alert}}
      targets: [pager, mail]
    - match: {{team: [payments]}}
      targets: [chat]
    - targets: [hook]
"""
    s = Server(config=config, env={"OODA_IT_HOOK_SECRET": HOOK_SECRET})
    try:
        # --- one page alert of team payments: pager, mail, chat and hook
        fire(s, "CheckoutDown", {"severity": "page", "team": "payments", "service": "checkout"})
        fp = wait_until(lambda: fingerprint(s, "CheckoutDown"), "the alert")
        wait_until(lambda: len(rows(s, alert=fp)) == 4, "four notifications queued")
        got = {r["target"] for r in rows(s, alert=fp)}
        check(got == {"hook", "chat", "pager", "mail"}, f"routed to every matching route's targets: {got}")

        pd = wait_until(lambda: recv.on("/pd"), "the PagerDuty event")
        if pd:
            ev = json.loads(pd[0][2])
            check(ev.get("routing_key") == PD_KEY, "PagerDuty event carries the routing key from the file")
            check(ev.get("event_action") == "trigger" and ev.get("dedup_key") == fp, f"trigger with dedup_key: {ev}")
            p = ev.get("payload", {})
            check(p.get("severity") == "critical" and p.get("source") == "checkout" and "CheckoutDown" in p.get("summary", ""),
                  f"PagerDuty payload has summary, source, severity: {p}")
            check(pd[0][1].get("Content-Type") == "application/json", f"JSON content type: {pd[0][1]}")
        slack = wait_until(lambda: recv.on("/slack"), "the Slack message")
        if slack:
            m = json.loads(slack[0][2])
            check("[PAGE] CheckoutDown" in m.get("text", "") and len(m.get("blocks", [])) == 2,
                  f"Slack text and blocks: {m}")
            check("http://ooda.test/api/v1/alerts/" + fp in json.dumps(m), f"Slack links to the alert: {m}")
        mail = wait_until(lambda: sink.msgs, "the email")
        if mail:
            env = mail[0]
            text = env.content.decode(errors="replace")
            check(env.mail_from == "ooda@example.com" and env.rcpt_tos == ["oncall@example.com"],
                  f"SMTP envelope: {env.mail_from} {env.rcpt_tos}")
            check("Subject: [PAGE] CheckoutDown (firing)" in text and "Message-ID: <ntf_" in text,
                  f"email headers: {text[:400]}")

        # --- the webhook receiver is down: attempts go up, the row stays pending
        wait_until(lambda: [r for r in rows(s, alert=fp) if r["target"] == "hook" and r["attempts"] >= 3],
                 "retries of the down webhook")
        h = [r for r in rows(s, alert=fp) if r["target"] == "hook"][0]
        check(h["status"] == "pending" and h["last_error"] and h["next_attempt_at"],
              f"down receiver: pending with its error: {h}")
        delivered = wait_until(lambda: len(rows(s, status="delivered")) >= 3, "three delivered")
        check(delivered, "pager, mail and chat delivered")

        # --- restart the daemon while the receiver is down, then bring the receiver up
        s.stop()
        hook = Receiver(hook_port)
        s.start()
        firing = wait_until(lambda: hook.on("/hook"), "the webhook after the restart")
        fire(s, "CheckoutDown", {"severity": "page", "team": "payments", "service": "checkout"}, status="resolved")
        # the catch-all route also gets the incident the page alert opened (kind incident): count the alert's
        alert_hooks = lambda: [x for x in hook.on("/hook") if json.loads(x[2])["kind"] == "alert"]
        wait_until(lambda: len(alert_hooks()) >= 2, "the resolution on the webhook")
        hooks = alert_hooks()
        evs = [json.loads(b)["event"] for _, _, b in hooks]
        check(evs.count("firing") == 1 and evs.count("resolved") == 1, f"exactly one firing, one resolved: {evs}")
        if firing:
            _, hdrs, body = hooks[0]
            check(verify(hdrs.get("X-Ooda-Signature", "t=0,v1=0"), body, HOOK_SECRET),
                  f"the HMAC verifies: {hdrs.get('X-Ooda-Signature')}")
            check(not verify(hdrs.get("X-Ooda-Signature", "t=0,v1=0"), body + b" ", HOOK_SECRET),
                  "a changed body does not verify")
            j = json.loads(body)
            check(hdrs.get("X-Ooda-Delivery") == j["id"] and j["alert"]["fingerprint"] == fp,
                  f"delivery id header is the payload id: {hdrs.get('X-Ooda-Delivery')} {j}")
        pdr = wait_until(lambda: [json.loads(b) for _, _, b in recv.on("/pd")
                                  if json.loads(b)["event_action"] == "resolve"], "the PagerDuty resolve")
        if pdr:
            check(pdr[0]["dedup_key"] == fp, f"resolve carries the same dedup_key: {pdr[0]}")
        r = s.cli("notifications", "list", "--json")
        check(r.returncode == 0 and json.loads(r.stdout)["notifications"], f"CLI lists notifications: {r.stderr}")
        r = s.cli("notifications", "list")
        check(r.returncode == 0 and "delivered" in r.stdout and "hook" in r.stdout, f"CLI table: {r.stdout[:300]}")

        # --- routing: a ticket of another team goes only to the catch-all route
        fire(s, "SearchSlow", {"severity": "ticket", "team": "search", "service": "search"})
        fp2 = wait_until(lambda: fingerprint(s, "SearchSlow"), "the second alert")
        wait_until(lambda: rows(s, alert=fp2), "its notification")
        got = {r["target"] for r in rows(s, alert=fp2)}
        check(got == {"hook"}, f"a ticket of team search goes to hook only: {got}")

        # --- a silenced alert notifies nobody
        r = s.post("/api/v1/silences", {"name": "Muted", "reason": "maintenance", "duration": "1h"})
        check(r.status == 201, f"silence: {r.status} {r.body}")
        fire(s, "Muted", {"severity": "page", "team": "payments"})
        fp3 = wait_until(lambda: fingerprint(s, "Muted"), "the silenced alert")
        fire(s, "Loud", {"severity": "info"})  # a later alert: once its row is there, Muted's would be too
        fp4 = wait_until(lambda: fingerprint(s, "Loud"), "the later alert")
        wait_until(lambda: rows(s, alert=fp4), "the later alert's notification")
        check(rows(s, alert=fp3) == [], "a silenced alert is not notified")

        # --- a test message, audited; bad requests name the field
        r = s.post("/api/v1/notifications/test", {"target": "chat"})
        check(r.status == 202 and r.json()["id"].startswith("ntf_"), f"test message: {r.status} {r.body}")
        wait_until(lambda: [g for g in recv.on("/slack") if b"Test notification" in g[2]], "the test message")
        r = s.post("/api/v1/notifications/test", {"target": "nobody"})
        check(r.status == 400 and "target" in r.body and "problem+json" in r.headers.get("Content-Type", ""),
              f"unknown target: {r.status} {r.body}")
        r = s.post("/api/v1/notifications/test", {})
        check(r.status == 400 and "target" in r.body, f"missing target: {r.status} {r.body}")
        r = s.get("/api/v1/notifications?status=sideways")
        check(r.status == 400 and "status" in r.body, f"bad status: {r.status} {r.body}")
        r = s.get("/api/v1/audit?action=notify.test")
        check(r.status == 200 and len(r.json()["records"]) == 1, f"the test message is audited: {r.body[:300]}")

        # --- the secrets are nowhere a person or a log reader sees
        one = rows(s, alert=fp)[0]["id"]
        seen = {
            "log": s.read_log(),
            "audit": s.cli("audit", "list", "--json").stdout + s.get("/api/v1/audit?limit=1000").body,
            "api": s.get("/api/v1/notifications?limit=1000").body + s.get(f"/api/v1/notifications?id={one}").body
            + s.get("/api/v1/status").body + s.get("/metrics").body + s.get("/api/v1/alerts?state=all").body,
        }
        for where, text in seen.items():
            check(HOOK_SECRET not in text and PD_KEY not in text, f"no secret in the {where}")
        check(s.get(f"/api/v1/notifications?id={one}").json()["notifications"][0]["payload"],
              "one row by id shows its payload")
        m = s.get("/metrics").body
        check('ooda_notifications{status="delivered"}' in m and "ooda_notification_retries_total" in m,
              "outbox metrics on /metrics")

        # --- bad config is refused with its key and position
        bad = config.replace("targets: [hook]", "targets: [hoook]")
        with open(s.config, "w") as f:
            f.write(bad)
        r = s.post("/api/v1/config/reload", {})
        check(r.status == 400 and "notify.routes[3].targets[0]" in r.body and "hoook" in r.body,
              f"unknown route target rejects the reload: {r.status} {r.body}")
        r = run("config", "check", s.config, env={"OODA_IT_HOOK_SECRET": HOOK_SECRET})
        check(r.returncode != 0 and "ooda.yaml:" in r.stderr and "notify.routes[3].targets[0]" in r.stderr,
              f"config check names file, line and key: {r.stderr}")
        with open(s.config, "w") as f:
            f.write(config)
        r = s.cli("config", "check", s.config)  # the CLI's environment has no OODA_IT_HOOK_SECRET
        check(r.returncode != 0 and "secret_env: environment variable OODA_IT_HOOK_SECRET is not set" in r.stderr,
              f"a missing secret is refused: {r.stderr}")
        with open(s.config, "w") as f:
            f.write(config.replace("    - targets: [hook]\n", ""))
        with open(tmpkey, "w") as f:  # a rotated routing key is read by the reload
            f.write(PD_KEY + "-rotated\n")
        r = s.post("/api/v1/config/reload", {})
        check(r.status == 200, f"the good file reloads: {r.status} {r.body}")
        r = s.get("/api/v1/audit?action=config.reload")
        check(r.status == 200 and any("targets hook, chat, pager, mail, slow; 3 routes" in json.dumps(x)
                                      for x in r.json()["records"]), f"the reload's change is audited: {r.body[:600]}")
        fire(s, "AfterReload", {"severity": "ticket", "team": "search"})
        fire(s, "Loud2", {"severity": "page", "team": "payments"})
        fp5 = wait_until(lambda: fingerprint(s, "Loud2"), "an alert after the reload")
        wait_until(lambda: len(rows(s, alert=fp5)) == 3, "its three notifications")
        check(rows(s, alert=fingerprint(s, "AfterReload")) == [], "the removed catch-all route no longer sends")
        pd2 = wait_until(lambda: [json.loads(b) for _, _, b in recv.on("/pd") if json.loads(b).get("dedup_key") == fp5],
                       "the PagerDuty event after the reload")
        if pd2:
            check(pd2[0]["routing_key"] == PD_KEY + "-rotated", "the rotated routing key is used after the reload")
        check(PD_KEY not in s.read_log() and HOOK_SECRET not in s.read_log(), "still no secret in the log")

        # --- a receiver that hangs does not hold up a stop, and its message is sent after the restart
        fire(s, "SlowSvcDown", {"severity": "ticket", "service": "slowsvc"})
        wait_until(lambda: hang.conns, "the hanging receiver's connection")
        rc = s.stop()
        check(rc == 0, f"the daemon stops cleanly while a receiver hangs (60s timeout): exit {rc}")
        hang.close()
        slow = Receiver(slow_port)
        s.start()
        wait_until(lambda: slow.on("/slow"), "the message to the formerly hanging receiver")
        fp6 = fingerprint(s, "SlowSvcDown")
        wait_until(lambda: [r for r in rows(s, alert=fp6) if r["status"] == "delivered"], "its row delivered")
        check(len(slow.on("/slow")) == 1 and rows(s, alert=fp6)[0]["attempts"] == 1,
              f"sent once, the abandoned try not counted: {rows(s, alert=fp6)}")
    finally:
        s.cleanup()
        recv.close()
        if hook:
            hook.close()
        if slow:
            slow.close()
        hang.close()
        smtp.stop()
        os.unlink(tmpkey)
    done()


if __name__ == "__main__":
    main()
