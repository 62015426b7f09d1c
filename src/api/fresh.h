/*
 * Fresh telemetry announced across nodes. On one node a batch made
 * durable pokes the engine (daemon_poke_engine), so a rule reads a pushed
 * value at once instead of at its next scheduled evaluation. With several
 * nodes on one ClickHouse the engine runs on the leader only, and a batch
 * a follower took would wait for the schedule (up to the rules' interval).
 * So a follower announces each such batch through the control store
 * (store_fresh_announce: a PostgreSQL NOTIFY on a channel of its own), and
 * the leader, hearing one from another node, does what its own batch
 * would have done (on_fresh). Announcements are coalesced: while one is on
 * its way, any number of new batches make one more, sent after it, so a
 * batch durable before an announcement is always covered by it.
 *
 * Nothing here is needed for correctness: a lost announcement (PostgreSQL
 * away) only leaves the batch to the next scheduled evaluation.
 */
#ifndef OODA_FRESH_H
#define OODA_FRESH_H

#include <stdint.h>

#include "core/buf.h"
#include "store/store.h"

struct fresh;

struct fresh_options {
	struct store *store;  /* the shared control store (PostgreSQL) */
	const char *node_id;  /* this node (announcements it made itself are not heard) */
	/* on the listening thread, for each wake-up by another node's announcement while this node leads */
	void (*on_fresh)(void *ctx);
	void *ctx;
};

/* Starts the announcing and the listening worker. Caller owns *out (fresh_destroy). */
int fresh_create(const struct fresh_options *o, struct fresh **out, struct buf *err);

/* Stops both workers (within about FRESH_LISTEN_MS). NULL ok. */
void fresh_destroy(struct fresh *f);

/*
 * After a batch with spans or points is durable (the telemetry writer's
 * thread), on a node that does not lead: asks for an announcement. Never
 * waits on the store. NULL ok (one node: nothing to announce).
 */
void fresh_note(struct fresh *f);

/* Announcements sent and heard (from other nodes, while leading) so far. */
void fresh_counts(struct fresh *f, uint64_t *sent, uint64_t *heard);

/* Each wait of the listening worker lasts at most this long, so a stop waits no longer. */
#define FRESH_LISTEN_MS 200

#endif
