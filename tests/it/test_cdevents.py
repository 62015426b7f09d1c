"""CDEvents through the CloudEvents door: one example event per accepted
CDEvents type (tests/it/data/cdevents/, written from the spec's field
lists) posted in structured mode, one in binary mode and a batch, each read
back from /api/v1/events with the kind, service, version and environment
the CDEvents data model names; service.deployed and service.upgraded enter
the deploy registry; fields of the wrong type are refused with a 400 that
names them, and nothing of a refused batch is stored. Prints the line of
docs/conformance.md's CDEvents row."""
import json
import os
import urllib.parse
from oodait import Server, check, done

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "cdevents")

# example file → kind, service, version, environment ooda must record
EXPECT = {
    "service_deployed": ("deploy", "checkout", "sha256:0b31b1c02ff4", "prod-eu"),
    "service_upgraded": ("deploy", "cart", "2.4.1", "staging"),
    "service_rolledback": ("rollback", "payments", "sha256:9e8d7c6b5a41", "prod-us"),
    "service_removed": ("scale", "legacy-search", None, "prod-eu"),
    "environment_created": ("config", "preview-42", None, "preview-42"),
    "environment_modified": ("config", "production-eu", None, "prod-eu"),
    "environment_deleted": ("config", "preview-41", None, "preview-41"),
    "pipelinerun_finished": ("custom", "checkout-release", None, None),
    "change_merged": ("custom", "acme/checkout", None, None),
}
CE = "application/cloudevents+json"


def example(name):
    with open(os.path.join(HERE, name + ".json")) as f:
        return json.load(f)


def envelope(data, i):
    # the CloudEvents binding of CDEvents: id, source, type from the context; the CDEvent is the data
    ctx = data["context"]
    return {"specversion": "1.0", "id": f"{ctx['id']}-{i}", "source": ctx["source"], "type": ctx["type"],
            "datacontenttype": "application/json", "data": data}


def q(s):
    return urllib.parse.quote(s, safe="")


s = Server()
try:
    passed = 0
    for i, name in enumerate(sorted(EXPECT)):
        kind, svc, ver, env = EXPECT[name]
        data = example(name)
        r = s.post("/api/v1/events", json.dumps(envelope(data, i)), headers={"Content-Type": CE})
        check(r.status == 202 and r.json()["accepted"] == 1, f"{name}: accepted: {r.status} {r.body}")
        ev = [e for e in s.get(f"/api/v1/events?service={q(svc)}&limit=1000").json()["events"]
              if e.get("id") == f"{data['context']['id']}-{i}"]
        check(len(ev) == 1, f"{name}: the event is listed under service {svc}: {ev}")
        e = ev[0]
        got = (e.get("kind"), e.get("service"), e.get("version") or None, e.get("environment") or None)
        check(got == (kind, svc, ver, env), f"{name}: kind, service, version, environment {got} != {EXPECT[name]}")
        # the rest of the CDEvent is kept as attributes; the time is the context's timestamp
        attrs = e.get("attributes") or {}
        check(attrs.get("context.id") == data["context"]["id"] and attrs.get("subject.id") == data["subject"]["id"],
              f"{name}: context and subject kept as attributes: {attrs}")
        check(e.get("time", "").startswith(data["context"]["timestamp"][:19]),
              f"{name}: time from context.timestamp: {e.get('time')}")
        passed += 1

    r = s.get("/api/v1/deploys?service=checkout")
    dep = r.json()["deploys"]
    check(len(dep) == 1 and dep[0]["version"] == "sha256:0b31b1c02ff4" and dep[0].get("environment") == "prod-eu"
          and dep[0].get("artifact", "").startswith("pkg:oci/checkout@"),
          f"service.deployed is in the deploy registry with its purl: {r.body[:400]}")
    r = s.get("/api/v1/deploys?service=cart")
    check([d["version"] for d in r.json()["deploys"]] == ["2.4.1"], f"service.upgraded too: {r.body[:300]}")

    # binary mode: the CloudEvents attributes in headers, the CDEvent as the body
    data = example("service_deployed")
    data["subject"]["id"] = "search"
    data["subject"]["content"]["artifactId"] = "pkg:npm/%40acme/search@5.0.0-rc.1"
    r = s.post("/api/v1/events", json.dumps(data),
               headers={"Content-Type": "application/json", "ce-specversion": "1.0", "ce-id": "bin-1",
                        "ce-source": "/argocd/prod", "ce-type": "dev.cdevents.service.deployed.0.2.0"})
    check(r.status == 202 and len(r.json()["deploys"]) == 1, f"binary mode CDEvent: {r.status} {r.body}")
    ev = s.get("/api/v1/events?service=search").json()["events"]
    check([(e["kind"], e.get("version")) for e in ev] == [("deploy", "5.0.0-rc.1")], f"binary mode read back: {ev}")

    # a service event without subject.id names its service with the purl's name
    data = example("service_upgraded")
    del data["subject"]["id"]
    r = s.post("/api/v1/events", json.dumps(envelope(data, 99)), headers={"Content-Type": CE})
    check(r.status == 202, f"no subject.id: {r.body}")
    check(len(s.get("/api/v1/deploys?service=cart").json()["deploys"]) == 2, "the purl's name is the service")

    # wrong types: 400 problem+json naming the field; a bad event in a batch stores nothing of it
    def bad(mutate, field):
        data = example("service_deployed")
        mutate(data)
        batch = [envelope(example("environment_created"), 500), envelope(data, 501)]
        r = s.post("/api/v1/events", json.dumps(batch), headers={"Content-Type": "application/cloudevents-batch+json"})
        check(r.status == 400 and r.headers.get("Content-Type", "").startswith("application/problem+json")
              and field in r.json().get("detail", ""), f"{field} of the wrong type: {r.status} {r.body}")

    bad(lambda d: d["subject"].update(id=42), "data.subject.id")
    bad(lambda d: d.update(subject="checkout"), "data.subject")
    bad(lambda d: d["subject"]["content"].update(environment="prod"), "data.subject.content.environment")
    bad(lambda d: d["subject"]["content"]["environment"].update(id=["prod"]), "data.subject.content.environment.id")
    bad(lambda d: d["subject"]["content"].update(artifactId={"name": "x"}), "data.subject.content.artifactId")
    bad(lambda d: d["subject"]["content"].update(artifactId="oci/checkout@1"), "data.subject.content.artifactId")
    bad(lambda d: d["context"].update(timestamp="yesterday"), "data.context.timestamp")
    ev = s.get("/api/v1/events?service=preview-42").json()["events"]
    check(len(ev) == 1, f"nothing of a refused batch is stored: {ev}")

    total = len(EXPECT)
    check(passed == total, "every example passed")
    print(f"CDEvents examples: {passed} of {total} types accepted and read back as documented, "
          f"binary mode and batch refusals as expected")
finally:
    s.cleanup()
done()
