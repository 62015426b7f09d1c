"""The remediation recipe catalogue over HTTP and the CLI: every built-in recipe is
listed with its variants; one recipe shows the exact argv or URL each variant runs
(what a dry-run will show); an unknown recipe is a 404 problem naming the field."""
from oodait import Server, check, create_token, done


def main():
    s = Server(expect_start=False)
    try:
        viewer = create_token(s.data, "viewer", "vic")
        s.start()
        s.token = viewer

        r = s.get("/api/v1/recipes", token=viewer)
        check(r.status == 200, f"recipes listed: {r.status} {r.body}")
        recipes = {x["name"]: x for x in r.json()["recipes"]} if r.status == 200 else {}
        for name in ("restart-instance", "rollback-last-deploy", "shed-load", "scale-out", "drain-node", "clear-queue"):
            check(name in recipes, f"{name} in the catalogue: {sorted(recipes)}")
        restart = recipes.get("restart-instance", {})
        check(sorted(v["name"] for v in restart.get("variants", [])) == ["kubernetes", "sim", "systemd"],
              f"restart-instance variants: {restart.get('variants')}")

        r = s.get("/api/v1/recipes/no-such-recipe", token=viewer)
        check(r.status == 404 and r.headers.get("Content-Type", "").startswith("application/problem+json")
              and "name" in r.json().get("detail", ""), f"unknown recipe: {r.status} {r.body}")

        r = s.cli("recipes", "list", token=viewer)
        check(r.returncode == 0 and "restart-instance" in r.stdout and "sim,systemd,kubernetes" in r.stdout,
              f"ooda recipes list: {r.returncode} {r.stdout} {r.stderr}")
        r = s.cli("recipes", "show", "restart-instance", token=viewer)
        check(r.returncode == 0 and '"kubectl","rollout","restart","deployment/{service}"' in r.stdout
              and "{service}/admin/restart" in r.stdout and '"systemctl","restart","{service}"' in r.stdout,
              f"ooda recipes show: {r.returncode} {r.stdout} {r.stderr}")
        r = s.cli("recipes", "show", "nope", token=viewer)
        check(r.returncode != 0 and "nope" in r.stderr, f"ooda recipes show nope: {r.returncode} {r.stderr}")

        check(s.stop() == 0, "clean stop")
    finally:
        s.cleanup()
    done()


if __name__ == "__main__":
    main()
