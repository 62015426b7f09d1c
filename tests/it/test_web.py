"""The dashboard's HTTP side with the real daemon: the shell at / needs no
token even when tokens exist and carries the Content-Security-Policy and
the other security headers; assets of this build come gzip when asked, with
an ETag that answers 304 and a year of caching; another build's path, an
unknown name and a path climbing out are 404; the shell only references
assets that exist; /status (the public status page) is the same shell, with
no token; /api/v1/whoami tells each token's role and refuses a
request without one."""
import gzip
import re
import urllib.request
from oodait import Server, check, create_token, done

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")


def raw(s, path, headers=None):
    req = urllib.request.Request(s.url + path, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def main():
    s = Server(expect_start=False)
    try:
        admin = create_token(s.data, "admin", "alice")
        viewer = create_token(s.data, "viewer", "victor")
        s.start()
        st, h, body = raw(s, "/")
        check(st == 200, f"the shell loads without a token: {st}")
        check(h.get("Content-Type", "").startswith("text/html"), f"the shell is HTML: {h.get('Content-Type')}")
        check(h.get("Content-Security-Policy") == CSP, f"CSP: {h.get('Content-Security-Policy')}")
        check(h.get("X-Content-Type-Options") == "nosniff", "nosniff")
        check(h.get("Referrer-Policy") == "no-referrer", "no-referrer")
        check(h.get("Cache-Control") == "no-cache", f"the shell is revalidated: {h.get('Cache-Control')}")
        check("Set-Cookie" not in h, "no cookie")
        html = body.decode()
        check("<script>" not in html and "onload=" not in html, "the shell has no inline script")
        refs = re.findall(r'(?:src|href)="(/assets/[^"]+)"', html)
        check(len(refs) >= 3, f"the shell references its assets: {refs}")
        for ref in refs:
            st2, h2, b2 = raw(s, ref)
            check(st2 == 200 and len(b2) > 0, f"{ref} is served: {st2}")

        st, hs, bs = raw(s, "/status")
        check(st == 200 and bs == body and hs.get("Content-Security-Policy") == CSP,
              f"/status serves the same shell without a token, with the CSP: {st}")

        app = next(r for r in refs if r.endswith("/js/app.js"))
        st, h, plain = raw(s, app)
        check(h.get("Cache-Control") == "public, max-age=31536000, immutable", f"assets cached a year: {h.get('Cache-Control')}")
        check(h.get("Content-Type", "").startswith("text/javascript"), f"module type: {h.get('Content-Type')}")
        check("Content-Encoding" not in h, "no gzip when not asked")
        st, hz, zipped = raw(s, app, {"Accept-Encoding": "gzip, deflate"})
        check(hz.get("Content-Encoding") == "gzip" and gzip.decompress(zipped) == plain, "gzip when accepted, same bytes")
        check(len(zipped) < len(plain), "gzip is smaller")
        check(hz.get("Vary") == "Accept-Encoding", "Vary: Accept-Encoding")
        st, h304, b304 = raw(s, app, {"If-None-Match": h["ETag"]})
        check(st == 304 and b304 == b"", f"ETag revalidation gives 304: {st}")
        st, _, _ = raw(s, app, {"If-None-Match": hz["ETag"], "Accept-Encoding": "gzip"})
        check(st == 304, f"the gzip tag revalidates too: {st}")
        st, _, _ = raw(s, app, {"If-None-Match": '"0000"'})
        check(st == 200, "another tag gets the body")

        build = app.split("/")[2]
        for bad in ["/assets/0123456789abcdef/js/app.js", f"/assets/{build}/nope.js", f"/assets/{build}/index.html",
                    f"/assets/{build}/../../meson.build", "/assets/", "/assets"]:
            st, h, b = raw(s, bad)
            check(st == 404 and h.get("Content-Type") == "application/problem+json", f"{bad}: 404 problem, got {st}")

        r = s.get("/api/v1/whoami", token=viewer)
        check(r.status == 200 and r.json()["role"] == "viewer" and r.json()["actor"] == "token:victor", f"whoami viewer: {r.body}")
        r = s.get("/api/v1/whoami", token=admin)
        check(r.status == 200 and r.json()["role"] == "admin", f"whoami admin: {r.body}")
        r = s.get("/api/v1/whoami", token="")
        check(r.status == 401, f"whoami without a token: {r.status}")
        r = s.get("/api/v1/whoami", token="wrong")
        check(r.status == 401, f"whoami with a wrong token: {r.status}")
    finally:
        s.cleanup()
    done()


if __name__ == "__main__":
    main()
