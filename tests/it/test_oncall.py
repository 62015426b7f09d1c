"""On-call end to end: `ooda oncall who --at` answers from the schedules of
ooda.yaml (primary and backups of a weekly and a daily rotation in
Europe/Berlin); an override made with `ooda oncall override add` changes who
is on call, is audited with its actor, survives a restart and is gone after
`override rm`; a viewer cannot make one (403); bad overrides get a 400
problem naming the field; the calendar of shifts reflects the override; a bad
`oncall:` section is refused with FILE:LINE:COL by `ooda config check` and
by a reload, which keeps the old config."""
import json
import os
import re
import time
from datetime import datetime, timedelta, timezone
from oodait import Server, check, create_token, done, run

CONFIG = """\
services:
  - name: checkout
    owner: payments
oncall:
  schedules:
    - name: payments
      team: payments
      time_zone: Europe/Berlin
      rotations:
        - type: weekly
          handoff: "09:00"
          handoff_day: monday
          start: "2026-01-05"
          participants: [alice, bob, carol]
        - type: daily
          handoff: "09:00"
          start: "2026-01-05"
          participants: [dave, erin]
  escalation_policies:
    - name: payments-page
      team: payments
      repeat: 1
      renotify: 5m
      levels:
        - targets: ["schedule:payments"]
          timeout: 10m
        - targets: ["schedule:payments/backup", "notify:payments-chat"]
          timeout: 15m
  teams:
    - name: payments
      schedule: payments
      escalation_policy: payments-page
"""


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def who(s, at, token):
    r = s.cli("oncall", "who", "--at", at, "--team", "payments", "--json", token=token)
    check(r.returncode == 0, f"oncall who --at {at}: {r.stderr}")
    return json.loads(r.stdout)["oncall"][0] if r.returncode == 0 else {}


def main():
    s = Server(config=CONFIG, expect_start=False)
    try:
        responder = create_token(s.data, "responder", "pat")
        viewer = create_token(s.data, "viewer", "vic")
        admin = create_token(s.data, "admin", "root")
        s.start()
        s.token = viewer

        # a known instant: Tuesday 2026-01-06 10:00 UTC is 11:00 in Berlin, week 1 (alice), day 2 (erin)
        w = who(s, "2026-01-06T10:00:00Z", viewer)
        check(w.get("primary") == "alice" and w.get("backups") == ["erin"] and w.get("time_zone") == "Europe/Berlin",
              f"who at a fixed time: {w}")
        check(w.get("start") == "2026-01-06T08:00:00.000Z" and w.get("end") == "2026-01-07T08:00:00.000Z",
              f"the stint runs handoff to handoff (09:00 CET): {w}")
        r = s.cli("oncall", "who", "--at", "2026-01-06T10:00:00Z", token=viewer)
        check(r.returncode == 0 and "alice" in r.stdout and "erin" in r.stdout, f"who as a table: {r.stdout} {r.stderr}")
        check(r.stdout.splitlines()[1].split() == ["SCHEDULE", "TEAM", "PRIMARY", "BACKUPS", "SINCE", "UNTIL", "OVERRIDE"],
              f"who's columns: {r.stdout}")
        # after the March change the 09:00 handoff is 07:00 UTC
        w = who(s, "2026-04-06T07:00:00Z", viewer)
        check(w.get("primary") == "bob" and w.get("start") == "2026-04-06T07:00:00.000Z", f"handoff in CEST: {w}")

        # an override tomorrow: whoever the rotation says, zed takes the primary's place
        now = datetime.now(timezone.utc).replace(microsecond=0)
        start, end = now + timedelta(days=1), now + timedelta(days=1, hours=6)
        mid = iso(start + timedelta(hours=3))
        before = who(s, mid, viewer)
        check(before.get("primary") in ("alice", "bob", "carol") and before.get("override") is None,
              f"no override yet: {before}")

        # a viewer may not
        r = s.post("/api/v1/oncall/overrides", {"schedule": "payments", "user": "zed", "to": iso(end),
                                                 "reason": "swap"}, token=viewer)
        check(r.status == 403, f"viewer cannot create an override: {r.status} {r.body}")
        r = s.cli("oncall", "override", "add", "--schedule", "payments", "--user", "zed", "--from", iso(start),
                  "--to", iso(end), "--reason", "swap", token=viewer)
        check(r.returncode != 0, f"nor through the CLI: {r.stdout}")

        # bad input: 400, problem+json naming the field, nothing written
        for body, field in [({"user": "zed", "to": iso(end), "reason": "x"}, "schedule"),
                            ({"schedule": "nope", "user": "zed", "to": iso(end), "reason": "x"}, "schedule"),
                            ({"schedule": "payments", "user": "zed", "from": iso(end), "to": iso(start),
                              "reason": "x"}, "to"),
                            ({"schedule": "payments", "user": "zed", "to": "tomorrow", "reason": "x"}, "to"),
                            ({"schedule": "payments", "user": "zed", "to": iso(end)}, "reason"),
                            ({"schedule": "payments", "user": "zed", "to": iso(end), "reason": "x", "when": 1},
                             "when")]:
            r = s.post("/api/v1/oncall/overrides", body, token=responder)
            ok = r.status == 400 and "problem+json" in r.headers.get("Content-Type", "") and field in r.body
            check(ok, f"bad override {body} → 400 naming {field}: {r.status} {r.body}")
        r = s.get("/api/v1/oncall/overrides?all=true", token=viewer)
        check(r.status == 200 and r.json()["overrides"] == [], f"no partial write: {r.body}")

        r = s.cli("oncall", "override", "add", "--schedule", "payments", "--user", "zed", "--from", iso(start),
                  "--to", iso(end), "--reason", "covering for a dentist appointment", token=responder)
        check(r.returncode == 0 and "override ov-" in r.stdout, f"override add: {r.stdout} {r.stderr}")
        m = re.search(r"override (ov-[0-9a-f]+)", r.stdout)
        ov_id = m.group(1) if m else ""
        after = who(s, mid, viewer)
        check(after.get("primary") == "zed" and (after.get("override") or {}).get("id") == ov_id
              and after["override"].get("replaces") == before.get("primary"),
              f"the override changes who is on call: {after}")
        check(who(s, iso(end + timedelta(minutes=1)), viewer).get("primary") != "zed", "and only until it ends")

        # audited with its actor and reason
        r = s.get("/api/v1/audit?action=oncall.override.create", token=admin)
        recs = r.json().get("records", []) if r.status == 200 else []
        check(len(recs) == 1 and recs[0]["actor"] == "token:pat" and recs[0]["target"] == f"oncall/override/{ov_id}"
              and "dentist" in recs[0]["rationale"], f"override audited with actor: {r.body}")

        # the calendar shows it
        r = s.get(f"/api/v1/oncall/schedules/payments?from={iso(start)}&to={iso(end)}", token=viewer)
        shifts = r.json().get("shifts", []) if r.status == 200 else []
        check(shifts and all(x["primary"] == "zed" for x in shifts), f"shifts in the override's range: {r.body}")
        r = s.cli("oncall", "shifts", "payments", "--from", iso(start - timedelta(days=1)), "--to", iso(end),
                  token=viewer)
        check(r.returncode == 0 and "zed" in r.stdout and ov_id in r.stdout, f"oncall shifts: {r.stdout} {r.stderr}")
        r = s.get("/api/v1/oncall/schedules/nope", token=viewer)
        check(r.status == 404 and "nope" in r.body, f"unknown schedule: {r.status} {r.body}")

        # a bad reload is refused and the old config stays
        with open(s.config, "w") as f:
            f.write(CONFIG.replace("Europe/Berlin", "Mars/Olympus"))
        r = s.post("/api/v1/config/reload", token=admin)
        check(r.status >= 400 and "Mars/Olympus" in r.body, f"bad oncall reload refused: {r.status} {r.body}")
        check(who(s, "2026-01-06T10:00:00Z", viewer).get("time_zone") == "Europe/Berlin", "old config kept")
        r = run("config", "check", s.config)
        check(r.returncode != 0 and re.search(r"ooda\.yaml:\d+:\d+: oncall\.schedules\[0\]\.time_zone: unknown time zone",
                                              r.stdout + r.stderr),
              f"config check names FILE:LINE:COL: {r.stdout} {r.stderr}")
        with open(s.config, "w") as f:
            f.write(CONFIG)

        # overrides are documents: a restart keeps them
        check(s.stop() == 0, "clean stop")
        s.start()
        check(who(s, mid, viewer).get("primary") == "zed", "override survives a restart")
        r = s.cli("oncall", "override", "list", token=viewer)
        check(r.returncode == 0 and ov_id in r.stdout and "zed" in r.stdout, f"override list: {r.stdout} {r.stderr}")

        r = s.cli("oncall", "override", "rm", ov_id, "--reason", "back from the dentist", token=responder)
        check(r.returncode == 0, f"override rm: {r.stdout} {r.stderr}")
        check(who(s, mid, viewer).get("primary") == before.get("primary"), "removed: the rotation again")
        r = s.get("/api/v1/audit?action=oncall.override.delete", token=admin)
        recs = r.json().get("records", []) if r.status == 200 else []
        check(len(recs) == 1 and recs[0]["actor"] == "token:pat", f"delete audited: {r.body}")
        r = s.cli("oncall", "override", "rm", ov_id, token=responder)
        check(r.returncode != 0 and "no on-call override" in r.stderr, f"rm twice: {r.stderr}")
        check(s.stop() == 0, "clean stop after the overrides")
    finally:
        s.cleanup()
    done()


if __name__ == "__main__":
    main()
