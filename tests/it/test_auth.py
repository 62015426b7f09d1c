"""Auth: open loopback mode, tokens required once one exists, roles, revocation,
refusal to bind a non-loopback address without tokens, and the rule "no tokens,
loopback only" holding per request after the last token is gone."""
import json
import subprocess
import time
import urllib.error
import urllib.request
from oodait import Server, check, create_token, done, run


class PublicServer(Server):
    """A daemon listening on every address (0.0.0.0), as an operator would expose it."""

    def args(self):
        return ["serve", "--listen", "0.0.0.0:0", "--data", self.data]


def non_loopback_address():
    """An IPv4 address of this machine other than 127.x, or None."""
    try:
        out = subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for a in out.split():
        if "." in a and not a.startswith("127."):
            return a
    return None


def request_via(addr, port, method, path, body=None, token=None):
    h = {"Content-Type": "application/json"}
    if token:
        h["Authorization"] = "Bearer " + token
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://{addr}:{port}{path}", data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()

s = Server()
try:
    r = s.get("/api/v1/status")
    check(r.status == 200 and r.json()["auth_required"] is False, "open mode on loopback with no tokens")

    admin = create_token(s.data, "admin", "alice")
    viewer = create_token(s.data, "viewer", "victor")
    check(admin.startswith("ooda_") and len(admin) > 40, f"token format: {admin}")
    time.sleep(0.6)  # the daemon notices tokens created by another process within 500 ms

    r = s.get("/api/v1/status", token="")
    check(r.status == 401 and r.headers.get("Content-Type") == "application/problem+json", f"no token: {r.status}")
    check("bearer token" in r.json()["detail"] and r.headers.get("WWW-Authenticate"), "401 says how to authenticate")
    r = s.get("/api/v1/status", token="ooda_notarealtoken000000000000000000000000")
    check(r.status == 401 and "unknown or revoked" in r.json()["detail"], "invalid token: 401")
    r = s.get("/api/v1/status", headers={"Authorization": "Basic YWxpY2U6c2VjcmV0"}, token="")
    check(r.status == 401 and "Bearer" in r.json()["detail"], "wrong scheme: 401")
    r = s.get("/healthz", token="")
    check(r.status == 200, "healthz stays open")
    r = s.get("/readyz", token="")
    check(r.status == 200, "readyz stays open")
    r = s.get("/healthz", token="ooda_revokedorstale0000000000000000000000000")
    check(r.status == 200, f"healthz ignores a stale token: {r.status}")
    r = s.get("/readyz", token="ooda_revokedorstale0000000000000000000000000")
    check(r.status == 200, f"readyz ignores a stale token: {r.status}")
    r = s.get("/metrics", token="")
    check(r.status == 401, "metrics needs a token once tokens exist")

    r = s.get("/api/v1/status", token=viewer)
    check(r.status == 200 and r.json()["you"] == "token:victor", "viewer can read status")
    r = s.post("/api/v1/tokens", {"name": "x", "role": "admin"}, token=viewer)
    check(r.status == 403 and "needs the admin role" in r.json()["detail"], f"viewer cannot create tokens: {r.body}")

    r = s.post("/api/v1/tokens", {"name": "ingester", "role": "ingest", "rationale": "collector"}, token=admin)
    check(r.status == 201 and r.json()["token"].startswith("ooda_"), f"admin creates token: {r.body}")
    ingest = r.json()["token"]
    ingest_id = r.json()["info"]["id"]
    r = s.get("/api/v1/status", token=ingest)
    check(r.status == 403, "ingest role cannot read status")
    r = s.post("/api/v1/tokens", {"name": "y", "role": "superuser"}, token=admin)
    check(r.status == 400 and "role" in r.json()["detail"], "bad role rejected with reason")

    r = s.get("/api/v1/tokens", token=admin)
    names = [t["name"] for t in r.json()["tokens"]]
    check(set(names) >= {"alice", "victor", "ingester"}, f"token list: {names}")
    check("hash" not in r.body and admin not in r.body, "token list never shows secrets or hashes")

    r = s.request("DELETE", "/api/v1/tokens/" + ingest_id, token=admin)
    check(r.status == 200 and r.json()["revoked"], f"revoke: {r.body}")
    r = s.get("/api/v1/status", token=ingest)
    check(r.status == 401, "revoked token is refused at once")

    # revocation from the CLI while the daemon runs takes effect within a second
    r = run("token", "revoke", "victor", "--data", s.data)
    check(r.returncode == 0, f"offline revoke: {r.stderr}")
    time.sleep(0.6)
    r = s.get("/api/v1/status", token=viewer)
    check(r.status == 401, "token revoked offline stops working")

    r = s.cli("token", "list", "--server", s.url, "--json", token=admin)
    check(r.returncode == 0 and '"victor"' in r.stdout, f"token list over HTTP: {r.stderr}")
finally:
    s.cleanup()

# Binding a non-loopback address with no tokens is refused, and says why.
s = Server(expect_start=False)
r = run("serve", "--listen", "0.0.0.0:0", "--data", s.data, timeout=15)
check(r.returncode != 0 and "refusing to listen on 0.0.0.0:0 without API tokens" in r.stderr,
      f"non-loopback without tokens: {r.stderr!r}")
s.cleanup()

# Listening on 0.0.0.0 with one admin token: its revocation over HTTP is refused with the reason.
s = PublicServer(expect_start=False)
try:
    root = create_token(s.data, "admin", "root")
    s.start()
    r = s.get("/api/v1/tokens", token=root)
    root_id = [t["id"] for t in r.json()["tokens"] if t["name"] == "root"][0]
    r = s.request("DELETE", "/api/v1/tokens/" + root_id, token=root)
    check(r.status == 409 and r.headers.get("Content-Type") == "application/problem+json"
          and "last admin token" in r.json()["detail"], f"last admin token kept on 0.0.0.0: {r.status} {r.body}")
    r = s.get("/api/v1/status", token="")
    check(r.status == 401, f"still no anonymous access after the refused revoke: {r.status}")
    r = s.post("/api/v1/tokens", {"name": "evil", "role": "admin"}, token="")
    check(r.status == 401, f"no anonymous token creation: {r.status}")
    # with a second admin the first may go
    r = s.post("/api/v1/tokens", {"name": "root2", "role": "admin"}, token=root)
    check(r.status == 201, f"second admin: {r.body}")
    root2 = r.json()["token"]
    r = s.request("DELETE", "/api/v1/tokens/root", token=root2)
    check(r.status == 200, f"revoke an admin while another remains: {r.status} {r.body}")
    r = s.request("DELETE", "/api/v1/tokens/root2", token=root2)
    check(r.status == 409, f"now root2 is the last admin: {r.status}")
    r = s.post("/api/v1/tokens", {"name": "reader", "role": "viewer"}, token=root2)
    r = s.request("DELETE", "/api/v1/tokens/reader", token=root2)
    check(r.status == 200, f"a non-admin token may still be revoked beside the last admin: {r.status} {r.body}")

    # The CLI beside the daemon can still revoke the last token offline. Then only
    # loopback peers are served anonymously; anyone else is refused on every request.
    r = run("token", "revoke", "root2", "--data", s.data)
    check(r.returncode == 0, f"offline revoke of the last token: {r.stderr}")
    time.sleep(0.6)  # the daemon notices the token table changed within 500 ms
    r = s.get("/api/v1/status", token="")
    check(r.status == 200, f"a loopback peer is served without tokens: {r.status}")
    addr = non_loopback_address()
    if addr:
        st, body = request_via(addr, s.port, "GET", "/api/v1/status")
        check(st == 403 and "loopback" in json.loads(body)["detail"],
              f"a non-loopback peer is refused when no tokens exist: {st} {body}")
        st, body = request_via(addr, s.port, "POST", "/api/v1/tokens", {"name": "evil", "role": "admin"})
        check(st == 403, f"a non-loopback peer cannot mint an admin token: {st} {body}")
        st, body = request_via(addr, s.port, "GET", "/healthz")
        check(st == 200, f"healthz stays open to every peer: {st}")
    else:
        print("no non-loopback address on this machine: the peer rule is covered by unit_auth")
finally:
    s.cleanup()
done()
