"""GET /api/v1/runs is read a page at a time: seven runs (a dry-run policy
triggered by seven incidents) come back three by three, newest first, each
page's `before` cursor giving the next older page and `after` the newer one,
with null at either end, and `ooda runs list` prints the next cursor; a cursor that names no run, two cursors or a limit
out of range are 400 problems naming the field; and the retention keys of
finished runs refuse a value below their floor at start."""
from oodait import Server, check, done, run, wait_for

CONFIG = """
policies:
  - name: dry
    when: {service: svc-page}
    mode: dry-run
    do:
      - exec: {argv: [/bin/true]}
    guardrails: {cooldown: 0s, max_runs: 100, max_concurrent: 64}
"""

s = Server(config=CONFIG)
try:
    for i in range(7):
        r = s.post("/api/v1/incidents", {"title": f"page {i}", "service": "svc-page"})
        check(r.status == 201, f"incident {i}: {r.status} {r.body}")
    every = wait_for("seven runs", lambda: (lambda rs: rs if len(rs) == 7 else None)(
        s.get("/api/v1/runs?limit=1000").json()["runs"]))
    ids = [x["id"] for x in every]
    check([x["created_unix_nano"] for x in every] == sorted((x["created_unix_nano"] for x in every), reverse=True),
          f"newest first: {every}")

    pages, cursor = [], None
    while True:
        r = s.get("/api/v1/runs?limit=3" + (f"&before={cursor}" if cursor else ""))
        check(r.status == 200, f"page {len(pages)}: {r.status} {r.body}")
        j = r.json()
        pages.append([x["id"] for x in j["runs"]])
        cursor = j["before"]
        if cursor is None or len(pages) > 5:
            break
    check([len(p) for p in pages] == [3, 3, 1], f"pages of 3, 3 and 1: {pages}")
    check(sum(pages, []) == ids, f"the pages hold every run once, in order: {pages} vs {ids}")

    j = s.get(f"/api/v1/runs?limit=3&after={ids[-1]}").json()
    check([x["id"] for x in j["runs"]] == ids[3:6] and j["after"] == ids[3] and j["before"] == ids[5],
          f"after the oldest: the three newer runs nearest it: {j}")
    j = s.get(f"/api/v1/runs?limit=3&after={ids[3]}").json()
    check([x["id"] for x in j["runs"]] == ids[:3] and j["after"] is None, f"the newest page again: {j}")

    # the CLI pages the same way: it prints the next page's cursor
    r = s.cli("runs", "list", "--limit", "3")
    check(r.returncode == 0 and f"more: --before {ids[2]}" in r.stderr and ids[0] in r.stdout
          and ids[3] not in r.stdout, f"ooda runs list --limit 3: {r.stdout} {r.stderr}")
    r = s.cli("runs", "list", "--limit", "3", "--before", ids[5])
    check(r.returncode == 0 and ids[6] in r.stdout and ids[5] not in r.stdout and "more:" not in r.stderr,
          f"ooda runs list --before: {r.stdout} {r.stderr}")

    for q, field in (("before=run-nosuch", "before"), ("after=run-nosuch", "after"),
                     (f"before={ids[0]}&after={ids[1]}", "before"), ("limit=0", "limit"), ("limit=1001", "limit")):
        r = s.get("/api/v1/runs?" + q)
        check(r.status == 400 and r.headers.get("Content-Type", "").startswith("application/problem+json")
              and field in r.json().get("detail", ""), f"{q}: 400 naming {field}: {r.status} {r.body}")
finally:
    s.cleanup()

for key, value in (("runs_max_age", "1h"), ("runs_max_finished", "10")):
    bad = Server(config=f"retention:\n  {key}: {value}\n", expect_start=False)
    try:
        r = run("serve", *bad.args()[1:], timeout=15)
        check(r.returncode != 0 and f"retention.{key}" in r.stderr, f"{key} {value} refused: {r.stderr!r}")
    finally:
        bad.cleanup()
done()
