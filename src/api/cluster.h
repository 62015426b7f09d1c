/*
 * Several ooda nodes on one PostgreSQL control store, one of them the
 * leader: the loop that claims and renews the leader's lease, says so to
 * the rest of the process (core/lead.h), steps down when the lease is lost
 * or a fenced write was refused, and records this node's heartbeat for
 * GET /api/v1/cluster. Each change of the leading node is an audit
 * record (actor "node:ID"): cluster.lead in the same transaction as the
 * claim, with the new term and why the lease was free (it expired, or its
 * holder gave it up); cluster.step_down with the term and the reason (a
 * stale fencing token, the lease lost or not renewed in time). The first
 * lease of a database, a node taking its own lease back after a restart
 * and a clean stop's release change no leading node and are not audited.
 * On SQLite there is one node and it always leads with term 1; no thread
 * runs and nothing is audited.
 *
 *                 claim won (term bumped)
 *   following ───────────────────────────────> leading ──renew──┐
 *      ^  (cluster_step)                          │  <──────────┘
 *      └── lease held by another / renewal late / a fenced write refused
 *                        (step_down)
 */
#ifndef OODA_CLUSTER_H
#define OODA_CLUSTER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "audit/audit.h"
#include "core/buf.h"
#include "model/live.h"
#include "store/store.h"

/*
 * A node writes its delta of live signals when it acknowledges an ingest
 * request with spans (cluster_live_flush) and, for what else gathered (an
 * edge made from another node's child, an external edge at the end of its
 * matching window, a delta whose write failed), every CLUSTER_LIVE_SEND_NS;
 * it reads the others' every round and before each live view answers
 * (cluster_live_catch_up). Deltas are kept in the control store
 * CLUSTER_LIVE_KEEP_NS (the live ring's hour) and read CLUSTER_LIVE_PAGE
 * rows a query.
 */
#define CLUSTER_LIVE_SEND_NS (INT64_C(1) * 1000000000)
#define CLUSTER_LIVE_KEEP_NS (INT64_C(3600) * 1000000000)
#define CLUSTER_LIVE_PAGE 500

/* The lease lasts this long; the leader renews it every CLUSTER_RENEW_NS. */
#define CLUSTER_LEASE_NS (INT64_C(5) * 1000000000)
#define CLUSTER_RENEW_NS (INT64_C(1) * 1000000000)
/*
 * Between rounds a node reads the cluster's reload generation this often
 * (one single-row query), and writes its heartbeat as soon as it answered
 * one, so a reload asked of one node is answered by all within about this
 * long plus their re-reads (docs/decisions.md, "Reload answered by every node").
 */
#define CLUSTER_CONFIG_POLL_NS (INT64_C(200) * 1000000)

struct cluster;

struct cluster_options {
	struct store *store;
	const char *node_id;  /* NULL or "": host name and the port of listen (the process id for port 0) */
	const char *listen;   /* host:port, shown as the node's address */
	const char *version;
	/*
	 * Live signals to merge with the other nodes' (NULL: none): each round
	 * this node's delta goes to the control store and the others' come
	 * back into it. live_replayed: the view was rebuilt from this node's
	 * own telemetry at start, so this node's deltas from before the start
	 * are not read back (else they are: shared telemetry is not replayed).
	 */
	struct live_signals *live;
	bool live_replayed;
	/* signs the audit records of this node's leadership changes (cluster.lead, cluster.step_down) */
	const struct audit_signer *signer;
	/* called on the cluster thread when this node is about to lead, before lead_set (not for the first claim) */
	void (*before_lead)(void *ctx);
	/* called on the cluster thread each time this node begins to lead (not for the first claim) */
	void (*on_lead)(void *ctx);
	/*
	 * Called on the cluster thread when another node asked the cluster to
	 * reload its configuration (a generation newer than this node answered):
	 * the callee re-reads ooda.yaml off this thread and answers with
	 * cluster_config_answered. Not called on SQLite (one node).
	 */
	void (*on_config_generation)(void *ctx);
	void *ctx;
	/* hex SHA-256 of the ooda.yaml this node started with ("" without one) */
	const char *config_hash;
};

/*
 * Makes the first claim (so the stages start knowing whether they lead)
 * and, on a store with a lease, starts the thread that keeps it. Caller
 * owns *out (cluster_destroy). Returns 0 or an error with detail in err.
 */
int cluster_create(const struct cluster_options *o, struct cluster **out, struct buf *err);

/*
 * Stops the thread; a leader gives its lease up (expires now) so another
 * node takes over at its next renewal instead of after the lease. NULL ok.
 */
void cluster_destroy(struct cluster *c);

/*
 * ---- one configuration for the cluster --------------------------------------
 * A reload asked of any node (POST /api/v1/config/reload, SIGHUP) starts a
 * new generation in the control store; every node sees it within a round
 * (CLUSTER_RENEW_NS), re-reads its own ooda.yaml and reports in its
 * heartbeat the generation it answered, the hash of the file it runs and,
 * when it refused the file, why.
 */

/*
 * (tx) Starts the next generation, asked of this node by actor, and notes it
 * as answered by this node (the caller reloaded already). *gen receives it;
 * 0 on SQLite, where there is one node (returns 0 and does nothing).
 */
int cluster_config_request(struct cluster *c, struct store *s, const char *actor, int64_t *gen, struct buf *err);

/*
 * The generation this node should answer now: a newer one than it
 * answered, or 0 when it is up to date. Fills *asked with who asked
 * (node and actor, for the audit record) when not NULL.
 */
int64_t cluster_config_pending(struct cluster *c, struct config_gen_row *asked);

/*
 * Records this node's answer to generation gen (0: keep the generation,
 * e.g. after its own reload on SQLite): the hash of the ooda.yaml it runs
 * and the reason it refused the file ("" or NULL when it took it); the next
 * heartbeat shows them.
 */
void cluster_config_answered(struct cluster *c, int64_t gen, const char *hash, const char *error);

/*
 * Waits at most timeout_ns until every node heard from in the last 10 s
 * reports generation gen or newer; *nodes receives each node's answer
 * [{"id", "generation", "hash", "error", "answered"}] as last seen (caller
 * owns it). Returns 0 when all answered, OODA_ETIMEOUT when some did not
 * in time (nodes still filled), or a store error.
 */
int cluster_config_wait(struct cluster *c, int64_t gen, int64_t timeout_ns, json_t **nodes, struct buf *err);

/*
 * Read-your-writes for live signals across nodes (docs/scale.md, "Live
 * signals across nodes"). Both are no-ops on SQLite (one node) and for a
 * NULL c, and never fail: with the control store away the node answers
 * from what it has (after a failed read, catch-ups skip the store for
 * CLUSTER_RENEW_NS rather than each wait on it) and the delta waits for
 * the next round.
 *
 * cluster_live_flush: on the thread that is about to acknowledge an ingest
 * request, after live_publish: reads the other nodes' new deltas (a child
 * they sent may name a parent this request brought), then stores this
 * node's samples as one delta row, so that once the request is
 * acknowledged any node that catches up counts them.
 *
 * cluster_live_catch_up: before a live view answers (services, a service,
 * the graph, PromQL over ooda_span_*): reads the deltas stored since the
 * last read, one indexed query. Callers that arrive while a read is under
 * way wait for it to end and share the next one, which began after they
 * arrived, so a delta committed before the call is always counted.
 */
void cluster_live_flush(struct cluster *c);
void cluster_live_catch_up(struct cluster *c);

/* Whether the control store is shared by several nodes (PostgreSQL): false on SQLite. */
bool cluster_multi(const struct cluster *c);

/* This node's id (server.node_id or its default). */
const char *cluster_node_id(const struct cluster *c);

/*
 * Who runs the engine, for forwarding a request to it: 1 when this node
 * leads (always on SQLite); 0 when another node holds a live lease, with
 * its id and recorded address copied into id and address; OODA_EUNAVAIL
 * when no leader is known (none holds a live lease, an election is under
 * way, or its address is not recorded yet), id then holding the last
 * holder seen ("" if none). As of the cluster thread's last round (at most
 * CLUSTER_RENEW_NS old). Any thread.
 */
int cluster_leader(struct cluster *c, char *id, size_t id_size, char *address, size_t address_size);

/* The address this node serves on, once the HTTP server has bound it (the port 0 of listen made real). */
void cluster_set_address(struct cluster *c, const char *address);

/*
 * The cluster as GET /api/v1/cluster shows it: {"node_id", "leader",
 * "term", "nodes": [{"id", "address", "role", "last_seen", "version",
 * "term", "up", "config": {"generation", "hash", "error"}}],
 * "config": {"generation", "node", "actor", "at"}, "live": {"rows_sent", "bytes_sent", "rows_read",
 * "bytes_read", "rows_refused", "merge_ms"}} (live: the merging of live
 * signals by this node since its start). Caller owns the result. OODA_EIO when the store cannot
 * be read.
 */
int cluster_status_json(struct cluster *c, json_t **out, struct buf *err);

#endif
