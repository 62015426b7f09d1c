"""Three ooda nodes on one PostgreSQL database configured and verified as
one: a configuration reload asked of one node (over HTTP, by `ooda reload`
or SIGHUP) is answered by every node, each re-reading its own ooda.yaml,
audited once for the request and once per other node, and a node that
refuses its file is named in the answer and in GET /api/v1/cluster; the
audit chain, whose checkpoints each node signs with its own key, verifies
on every node over HTTP and with `ooda audit verify`, and a checkpoint key
no node published fails it. Telemetry stays embedded, a file per node."""
import hashlib
import json
import signal

from oodait import Cluster, check, control_db, done, pg_yaml, run

FIRST = "heartbeats:\n  - name: first\n    every: 1h\n"
SECOND = "heartbeats:\n  - name: second\n    every: 1h\n"
THIRD = "heartbeats:\n  - name: third\n    every: 1h\n"
BAD = "heartbeats:\n  - name: bad\n    evry: 1h\n"


def sha(text):
    return hashlib.sha256(text.encode()).hexdigest()


def at(url, s, method, path, body=None):
    """A request to one node (the node at url), not round-robin."""
    data = json.dumps(body).encode() if body is not None else None
    return s._send(url, method, path, data, {"Content-Type": "application/json"} if data else {}, 30)


def heartbeats(url, s):
    """The heartbeats the leader runs: every node forwards this route to the leader (api/forward.h);
    each node's own file shows in GET /api/v1/cluster."""
    return [h["name"] for h in at(url, s, "GET", "/api/v1/heartbeats").json().get("heartbeats", [])]


# telemetry embedded, a file per node; the nodes' default ids (host name and process id)
nodes3 = Cluster(3, config=FIRST, names=False, telemetry="sqlite")
try:
    nodes, var = nodes3.nodes, nodes3.pg_var
    urls = [n.url for n in nodes]
    s = nodes[0]

    def write_all(texts):
        for n, text in zip(nodes, texts):
            with open(n.config, "w") as f:
                f.write(text + pg_yaml(var))

    def cluster(url):
        return at(url, s, "GET", "/api/v1/cluster").json()

    ids = nodes3.ids()  # each node writes its row (address, the file it runs) once a second: settled, all three are in
    c = cluster(urls[0])
    hashes = {n["id"]: n["config"]["hash"] for n in c["nodes"] if n["up"]}
    check(len(hashes) == 3 and set(hashes.values()) == {sha(FIRST + pg_yaml(var))},
          f"each node shows the hash of the file it runs: {hashes}")

    # --- a reload asked of the second node reaches all three
    write_all([SECOND] * 3)
    r = at(urls[1], s, "POST", "/api/v1/config/reload", {})
    j = r.json()
    check(r.status == 200 and j.get("generation") == 1 and len(j.get("nodes", [])) == 3
          and all(n["answered"] and n["generation"] == 1 and n["hash"] == sha(SECOND + pg_yaml(var))
                  and n["error"] == "" for n in j["nodes"]) and "cluster_warning" not in j,
          f"the reload's answer names every node's outcome: {r.status} {r.body}")
    seen = [heartbeats(u, s) for u in urls]
    check(seen == [["second"]] * 3, f"every node runs the new file: {seen}")
    recs = at(urls[2], s, "GET", "/api/v1/audit?action=config.*").json()["records"]
    acts = sorted((x["action"], x["actor"].startswith("node:")) for x in recs)
    check(acts == [("config.node_reload", True)] * 2 + [("config.reload", False)],
          f"the request audited once, each other node's reload once: {acts}")
    check(all("generation 1 asked of node " + ids[1] in x["rationale"] for x in recs
              if x["action"] == "config.node_reload")
          and [x["rationale"] for x in recs if x["action"] == "config.reload"] == [
              "reload generation 1, asked of every node"],
          f"the records name the generation: {[(x['rationale'], x['detail']) for x in recs]}")

    # --- a node that refuses its file keeps the one it runs, and says so
    write_all([THIRD, THIRD, BAD])
    r = run("reload", env={"OODA_SERVER": urls[0]})
    check(r.returncode == 0 and "2 of 3 nodes run the new configuration (generation 2)" in r.stdout
          and f"node {ids[2]}: refused its ooda.yaml" in r.stderr and "evry" in r.stderr,
          f"ooda reload names the node that refused, and why: {r.stdout} {r.stderr}")
    seen = [heartbeats(u, s) for u in urls]
    lead = cluster(urls[0]).get("leader")
    want = ["second"] if lead == ids[2] else ["third"]
    check(seen == [want] * 3, f"every node answers with the leader's heartbeats ({lead}): {seen}")
    cfg = {n["id"]: n["config"] for n in cluster(urls[1])["nodes"]}
    check(cfg[ids[2]]["generation"] == 2 and "evry" in cfg[ids[2]]["error"]
          and cfg[ids[2]]["hash"] == sha(SECOND + pg_yaml(var))
          and all(cfg[i]["hash"] == sha(THIRD + pg_yaml(var)) and cfg[i]["error"] == "" for i in ids[:2]),
          f"GET /api/v1/cluster shows the refusal and each node's file: {cfg}")
    recs = at(urls[0], s, "GET", "/api/v1/audit?action=config.node_reload_rejected").json()["records"]
    check(len(recs) == 1 and recs[0]["actor"] == "node:" + ids[2] and "evry" in recs[0]["rationale"],
          f"the refusal is audited by the node: {recs}")

    # --- SIGHUP to one node: every node answers; the third takes its repaired file
    write_all([THIRD] * 3)
    nodes[1].proc.send_signal(signal.SIGHUP)
    gen = s.wait_config(after=2)
    seen = [heartbeats(u, s) for u in urls]
    check(gen == 3 and seen == [["third"]] * 3, f"SIGHUP on one node reloads all three: {gen} {seen}")
    recs = at(urls[0], s, "GET", "/api/v1/audit?action=config.reload").json()["records"]
    check([x["actor"] for x in recs][:1] == ["signal:SIGHUP"], f"the SIGHUP is the request: {recs[:1]}")

    # --- the audit chain, with checkpoints signed by each node's own key, verifies on every node
    keys = set()
    for u in urls:
        r = at(u, s, "POST", "/api/v1/audit/checkpoint", {})
        check(r.status == 201, f"checkpoint on {u}: {r.status} {r.body}")
        keys.add(r.json().get("public_key"))
    check(len(keys) == 3, f"three signing keys: {keys}")
    for u in urls:
        r = at(u, s, "POST", "/api/v1/audit/verify", {})
        j = r.json()
        check(r.status == 200 and j["ok"] and j["checkpoints_verified"] >= 3 and len(j["keys"]) == 3,
              f"verify on {u}: {r.body}")
        v = run("audit", "verify", env={"OODA_SERVER": u})
        check(v.returncode == 0, f"ooda audit verify on {u}: {v.stdout} {v.stderr}")
    # an anchor one node printed verifies on another
    anchor = at(urls[2], s, "POST", "/api/v1/audit/checkpoint", {}).json()["anchor"]
    r = at(urls[0], s, "POST", "/api/v1/audit/verify", {"head": anchor})
    check(r.status == 200 and r.json()["ok"] and r.json()["heads_matched"] == 1,
          f"an anchor signed by another node verifies: {r.body}")
    # a key no node published is refused: the check is against the cluster's keys, not whatever key signed
    control_db(s.data).execute("DELETE FROM audit_keys WHERE node_id = ?", (ids[2],))
    r = at(urls[0], s, "POST", "/api/v1/audit/verify", {})
    check(r.status == 200 and r.json()["ok"] is False and "no node of this cluster published" in r.json()["reason"],
          f"a checkpoint by an unpublished key fails: {r.body}")
    # the node publishes its key again when it starts
    nodes[2].stop()
    nodes[2].start()
    r = at(urls[0], s, "POST", "/api/v1/audit/verify", {})
    check(r.status == 200 and r.json()["ok"], f"verifies again once the node published its key: {r.body}")
finally:
    nodes3.cleanup()
done()
