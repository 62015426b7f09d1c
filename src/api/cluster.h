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
 * A node writes its delta of live signals every CLUSTER_LIVE_SEND_NS (reads
 * the others' every round); deltas are kept in the control store
 * CLUSTER_LIVE_KEEP_NS (the live ring's hour) and read CLUSTER_LIVE_PAGE
 * rows a query.
 */
#define CLUSTER_LIVE_SEND_NS (INT64_C(5) * 1000000000)
#define CLUSTER_LIVE_KEEP_NS (INT64_C(3600) * 1000000000)
#define CLUSTER_LIVE_PAGE 500

/* The lease lasts this long; the leader renews it every CLUSTER_RENEW_NS. */
#define CLUSTER_LEASE_NS (INT64_C(5) * 1000000000)
#define CLUSTER_RENEW_NS (INT64_C(1) * 1000000000)

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
	void *ctx;
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

/* The address this node serves on, once the HTTP server has bound it (the port 0 of listen made real). */
void cluster_set_address(struct cluster *c, const char *address);

/*
 * The cluster as GET /api/v1/cluster shows it: {"node_id", "leader",
 * "term", "nodes": [{"id", "address", "role", "last_seen", "version",
 * "term", "up"}], "live": {"rows_sent", "bytes_sent", "rows_read",
 * "bytes_read", "rows_refused", "merge_ms"}} (live: the merging of live
 * signals by this node since its start). Caller owns the result. OODA_EIO when the store cannot
 * be read.
 */
int cluster_status_json(struct cluster *c, json_t **out, struct buf *err);

#endif
