"""Auth: open loopback mode, tokens required once one exists, roles, revocation,
refusal to bind a non-loopback address without tokens."""
import time
from oodait import Server, check, create_token, done, run

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
done()
