"""Environment scopes, route by route: every route that names an environment,
or an object that belongs to one (a deploy, a rollback run, an approval),
answered for three tokens of the same role: unscoped, scoped to that
environment (prod), scoped to another (staging). The first two act; the third
gets 403 with a detail naming both environments, and nothing changes. Lists
leave out what a scoped token may not see; what spans every environment
(schemas, migrations) is refused to any scoped token."""
import json
import os
import tempfile
from oodait import Server, check, create_token, done, run

H = {"Content-Type": "application/json"}
base = tempfile.mkdtemp(prefix="ooda-it-authz-")
data = os.path.join(base, "data")


def token(name, role, env=None):
    return create_token(data, role, name, env)


setup = token("setup", "admin")
WHO = {"u": token("u", "admin"), "s": token("s", "admin", "prod"), "o": token("o", "admin", "staging")}
s = Server(config="approvals:\n  - class: flag.change\n    tags: [critical]\n", data=data)
s.token = setup
try:
    flag = {"state": "ENABLED", "variants": {"on": True, "off": False}, "defaultVariant": "off"}
    crit = dict(flag, metadata={"tags": "critical"})
    for env in ("prod", "staging"):
        r = s.request("PUT", f"/api/v1/configs/web/{env}", {"pool": 1, "secret": f"{env}-pw"})
        check(r.status == 200, f"setup config {env}: {r.body}")
    s.request("PUT", "/api/v1/configs/web/prod", {"pool": 2, "secret": "prod-pw"})
    d = {}
    for v in ("1.0", "1.1"):
        r = s.post("/api/v1/deploys", {"service": "web", "env": "prod", "version": v, "artifact": "a" + v})
        check(r.status == 201, f"setup deploy {v}: {r.body}")
        d[v] = r.json()["id"]
    r = s.post("/api/v1/deploys", {"service": "web", "env": "staging", "version": "9", "artifact": "s"})
    d_staging = r.json()["id"]
    r = s.post(f"/api/v1/deploys/{d['1.1']}/rollback", {"rationale": "setup"})
    check(r.status == 202 and r.json().get("id"), f"setup rollback run: {r.body[:300]}")
    run_id = r.json().get("id")
    ap = {}
    for w in WHO:
        for v in (1, 2):
            r = s.request("PUT", f"/api/v1/flags/f-{w}?env=prod", dict(flag, defaultVariant="on" if v == 2 else "off"))
            check(r.status == 200, f"setup flag f-{w} v{v}: {r.body}")
        r = s.request("PUT", f"/api/v1/flags/c-{w}?env=prod", crit)
        check(r.status == 202, f"setup approval for {w}: {r.body}")
        ap[w] = r.json()["approval"]
    s.request("PUT", "/api/v1/flags/f-stg?env=staging", flag)
    s.post("/api/v1/events", {"kind": "config", "service": "web", "environment": "prod", "description": "p"})
    s.post("/api/v1/events", {"kind": "config", "service": "web", "environment": "staging", "description": "st"})

    # (method, path, body, headers); {w} is the caller's own copy where the call consumes something
    routes = [
        ("GET", "/api/v1/configs/web/prod", None, None),
        ("PUT", "/api/v1/configs/web/prod", {"pool": 3, "secret": "x"}, None),
        ("GET", "/api/v1/configs/web/prod/history", None, None),
        ("GET", "/api/v1/configs/web/prod/diff?from=1&to=2", None, None),
        ("POST", "/api/v1/configs/web/prod/rollback", {"to": 1, "rationale": "m"}, None),
        ("POST", "/api/v1/deploys", {"service": "web", "env": "prod", "version": "2.{w}", "artifact": "z"}, None),
        ("GET", f"/api/v1/deploys/{d['1.0']}", None, None),
        ("POST", f"/api/v1/deploys/{d['1.0']}/verify", {}, None),
        ("GET", f"/api/v1/deploys/{d['1.1']}/rollback-plan", None, None),
        ("POST", f"/api/v1/deploys/{d['1.1']}/rollback", {"rationale": "m"}, None),
        ("GET", f"/api/v1/rollbacks/{run_id}", None, None),
        ("POST", "/api/v1/approvals/{ap}/approve", {"rationale": "m"}, None),
        ("POST", "/api/v1/events", {"kind": "deploy", "service": "web", "environment": "prod"}, None),
        ("GET", "/api/v1/events?env=prod", None, None),
        ("GET", "/api/v1/flags?env=prod", None, None),
        ("GET", "/api/v1/flags/export?env=prod", None, None),
        ("POST", "/api/v1/flags/import?env=prod", {"flags": {"i-{w}": flag}}, None),
        ("GET", "/api/v1/flags/f-{w}?env=prod", None, None),
        ("PUT", "/api/v1/flags/f-{w}?env=prod", flag, None),
        ("GET", "/api/v1/flags/f-{w}/history?env=prod", None, None),
        ("GET", "/api/v1/flags/f-{w}/diff?env=prod&from=1&to=2", None, None),
        ("POST", "/api/v1/flags/f-{w}/rollback?env=prod", {"to": 1, "rationale": "m"}, None),
        ("POST", "/api/v1/flags/f-{w}/kill?env=prod", {}, None),
        ("POST", "/api/v1/flags/kill?env=prod", {"service": "none"}, None),
        ("DELETE", "/api/v1/flags/f-{w}?env=prod", None, None),
        ("POST", "/ofrep/v1/evaluate/flags/f-u", {"context": {}}, {"X-Ooda-Env": "prod"}),
        ("POST", "/ofrep/v1/evaluate/flags", {"context": {}}, {"X-Ooda-Env": "prod"}),
    ]

    def call(method, path, body, headers, w):
        path = path.replace("{w}", w).replace("{ap}", ap[w])
        if isinstance(body, dict):
            body = json.loads(json.dumps(body).replace("{w}", w))
        return s.request(method, path, body, headers=dict(headers or {}, **H), token=WHO[w])

    for method, path, body, headers in routes:
        for w in ("o", "u", "s"):  # the foreign token first: it must not change what the others then see
            r = call(method, path, body, headers, w)
            label = f"{method} {path} as {'unscoped' if w == 'u' else 'prod-scoped' if w == 's' else 'staging-scoped'}"
            if w == "o":
                ok = r.status == 403 and "staging" in r.body and "prod" in r.body
                check(ok, f"{label}: 403 naming the environments, got {r.status} {r.body[:200]}")
            else:
                check(200 <= r.status < 300 or (r.status == 404 and path.startswith("/ofrep")),
                      f"{label}: allowed, got {r.status} {r.body[:200]}")
    authors = [v.get("author") for v in s.get("/api/v1/configs/web/prod/history").json()["versions"]]
    check("token:o" not in authors and "token:u" in authors and "token:s" in authors,
          f"only the two allowed tokens wrote prod's config: {authors}")
    r = s.post(f"/api/v1/approvals/{ap['o']}/reject", {"rationale": "m"}, token=WHO["o"])
    check(r.status == 403 and "prod" in r.body, f"reject of a prod approval by the staging token: {r.status} {r.body}")
    r = s.get("/api/v1/approvals?status=all")
    st = {a["id"]: a["status"] for a in r.json()["approvals"]}
    check(st[ap["o"]] == "pending" and st[ap["u"]] != "pending" and st[ap["s"]] != "pending",
          f"the foreign token's approval is untouched: {st}")

    # a deploy or event naming no environment takes the token's; naming another is refused
    r = s.post("/api/v1/deploys", {"service": "web", "version": "3", "artifact": "q"}, token=WHO["o"])
    check(r.status == 201 and r.json()["environment"] == "staging", f"unnamed env is the token's: {r.body[:200]}")
    r = s.post("/api/v1/events", [{"kind": "deploy", "service": "web", "environment": "staging"},
                                  {"kind": "deploy", "service": "web", "environment": "prod"}], token=WHO["o"])
    check(r.status == 403 and "event 1" in r.json()["detail"], f"a batch with a foreign event is refused whole: {r.body}")
    r = s.get(f"/api/v1/deploys/{d_staging}", token=WHO["o"])
    check(r.status == 200, f"its own environment's deploy: {r.status}")

    # lists are narrowed to the token's environment
    def envs(path, key, field, w):
        return {x.get(field) for x in s.get(path, token=WHO[w]).json()[key]}
    check(envs("/api/v1/configs", "configs", "env", "o") == {"staging"}, "config list of staging-scoped token")
    check(envs("/api/v1/configs", "configs", "env", "s") == {"prod"}, "config list of prod-scoped token")
    check(envs("/api/v1/configs", "configs", "env", "u") == {"prod", "staging"}, "config list of unscoped token")
    check(envs("/api/v1/deploys", "deploys", "environment", "o") == {"staging"}, "deploy list, staging-scoped")
    check("prod" in envs("/api/v1/deploys", "deploys", "environment", "u"), "deploy list, unscoped")
    check(envs("/api/v1/approvals?status=all", "approvals", "env", "o") <= {"staging"}, "approval list, staging-scoped")
    check(envs("/api/v1/approvals?status=all", "approvals", "env", "s") == {"prod"}, "approval list, prod-scoped")
    check(envs("/api/v1/events?since=1h", "events", "environment", "o") <= {"staging", None} and
          "prod" not in envs("/api/v1/events?since=1h", "events", "environment", "o"), "event list, staging-scoped")
    check("prod" in envs("/api/v1/events?since=1h", "events", "environment", "u"), "event list, unscoped")
    r = s.get("/api/v1/flags", token=WHO["o"])
    check(r.status == 200 and r.json()["env"] == "staging", f"flag list defaults to the token's env: {r.body[:200]}")

    # what spans every environment is the unscoped token's alone
    for method, path, body in (("PUT", "/api/v1/config-schemas/web", {"type": "object"}),
                               ("POST", "/api/v1/migrations", {"service": "web", "id": "m1", "up": "u", "down": "d",
                                                               "reversible": True})):
        for w in ("o", "s"):
            r = s.request(method, path, body, token=WHO[w])
            check(r.status == 403 and "every environment" in r.json()["detail"],
                  f"{method} {path} refused to a scoped token: {r.status} {r.body[:200]}")
        r = s.request(method, path, body, token=WHO["u"])
        check(r.status in (200, 201), f"{method} {path} by the unscoped token: {r.status} {r.body[:200]}")
finally:
    s.cleanup()
done()
