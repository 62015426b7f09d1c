/*
 * The inside of live signals, shared by live.c (state and the publish path)
 * and live_view.c (JSON views, RED snapshot, metric-point export): the slot
 * rings, services, edges and span maps. Not part of the API; include
 * model/live.h instead.
 */
#ifndef OODA_LIVE_IMPL_H
#define OODA_LIVE_IMPL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "model/live.h"

#define NB (LIVE_N_BOUNDS + 1) /* buckets, the last one +Inf */
#define NONE UINT32_MAX
#define EMPTY UINT32_MAX

/* One slot of one series: the counters of one slot_ns interval. */
struct slot {
	int64_t k; /* absolute slot number held; -1 when empty */
	uint32_t req, err;
	double sum_s;
	uint32_t b[NB];
};

/* Counters summed over several slots. */
struct totals {
	uint64_t req, err;
	double sum_s;
	uint64_t b[NB];
};

struct series {
	char *name;
	uint64_t hash;
	int64_t first_k;    /* oldest slot ever recorded; INT64_MAX when none */
	struct totals gone; /* slots overwritten in the ring, for cumulative export */
	struct slot *ring;  /* n_slots */
};

struct ingest_slot {
	int64_t k;
	uint32_t n[3]; /* logs, spans, metric points */
};

/* One fine slot of one service (live.h, "Fine slots"). */
struct fine_slot {
	int64_t k; /* -1 when empty */
	uint32_t req, err;
	uint32_t b[NB];
	uint32_t own_n;   /* requests whose own time is known (a call of theirs was matched) */
	uint32_t own[NB]; /* their own time (outside their calls) per duration bucket */
};

struct service {
	char *name;
	uint64_t hash;
	struct series *ops; /* max_ops + 1; the last slot is reserved for "other" */
	uint32_t n_ops;
	uint32_t other_op;  /* index of op "other", or NONE */
	uint16_t *op_index; /* op index + 1, open addressing, op_mask + 1 entries */
	uint32_t op_mask;
	struct ingest_slot *ingest; /* n_slots, keyed by arrival slot */
	int64_t last_seen_ns;       /* arrival time; INT64_MIN when none */
	struct fine_slot *fine;     /* LIVE_FINE_SLOTS, at the first request */
	int64_t fine_head;          /* newest fine slot; INT64_MIN when none */
};

enum edge_kind { EDGE_SPAN, EDGE_PEER, EDGE_DB };

struct edge {
	uint32_t src;
	uint8_t kind;
	struct series s; /* s.name is the target name */
};

/* An entry of a span map; see struct spanmap. */
/* F_REMOTE: a pending child another node took (live_remote_child), waiting here for its parent */
enum { F_LIVE = 1, F_EXT = 2, F_CLAIMED = 4, F_ERR = 8, F_EXT_LOST = 16, F_REMOTE = 32 };
struct ment {
	uint8_t trace[16];
	uint8_t id[8];   /* span id (recent map) or parent span id (pending map) */
	int64_t seen_ns; /* arrival, for the matching window */
	int64_t end_ns, dur_ns;
	uint32_t svc;
	uint32_t edge;   /* external edge of a CLIENT span, or NONE */
	uint32_t hash;
	uint8_t flags;
};

/*
 * A FIFO ring of entries with a linear-probing index on (trace, id) that
 * allows duplicate keys. The oldest entry leaves first, by age or when the
 * ring is full; an entry can also be dropped from the middle, which only
 * unindexes it (its ring place is reclaimed when it reaches the tail).
 */
struct mref {
	uint32_t pos;  /* ring position, EMPTY when the index slot is free */
	uint32_t hash; /* copy of the entry's hash, so probes stay in the index */
};

struct spanmap {
	struct ment *ring;
	uint32_t cap, head, count;
	struct mref *index;
	uint32_t mask;
};

/*
 * The merge outbox (live_merge.c): this node's own samples since the last
 * live_delta_take(), one entry per (series, slot), so a node sends what it
 * ingested and never what it imported from others.
 */
enum out_type { OUT_RED, OUT_EDGE, OUT_WAIT };
struct outent {
	struct series *s;
	int64_t k;
	uint32_t owner; /* service index (OUT_RED) or edge index (OUT_EDGE) */
	uint8_t type;
	struct slot c;  /* c.k unused */
};

/*
 * A server span of this node whose parent span this node has not seen: sent
 * so that the node holding the parent makes the edge (live.h, "Edges across
 * nodes").
 */
struct outwait {
	uint8_t trace[16];
	uint8_t parent[8];
	uint32_t svc;
	int64_t end_ns, dur_ns;
	bool err;
};

struct outbox {
	bool on;
	struct outent *v;
	uint32_t n, cap;
	struct outwait *w; /* waiting children, at most LIVE_OUTBOX_WAITS_MAX */
	uint32_t n_w, cap_w;
	uint32_t *index; /* entry index, EMPTY when free */
	uint32_t mask;
	uint64_t dropped; /* samples lost to a full outbox */
};

struct live_signals {
	pthread_mutex_t lock;
	struct live_config cfg;
	int64_t head; /* newest slot seen in a span end; INT64_MIN at start */

	struct service **services; /* max_services + 1 */
	uint32_t n_services;
	uint32_t other_service; /* index, or NONE */
	uint32_t *svc_index;    /* service index, EMPTY when free */
	uint32_t svc_mask;
	uint32_t n_series;

	struct edge **edges;
	uint32_t n_edges;
	uint32_t *edge_index;
	uint32_t edge_mask;

	struct spanmap recent, pending;
	struct spanmap kids; /* CLIENT spans by (trace, parent span id): a server span's calls, for its own time */
	struct live_stats st;
	struct outbox out;
};

static inline uint32_t live_ring_pos(const struct live_signals *live, int64_t k)
{
	return (uint32_t)(k % live->cfg.n_slots);
}

/* a + b, at most UINT32_MAX: counters merged from many nodes never wrap */
static inline uint32_t live_add_sat(uint32_t a, uint32_t b)
{
	return a > UINT32_MAX - b ? UINT32_MAX : a + b;
}

static inline void live_totals_add_slot(struct totals *t, const struct slot *s)
{
	t->req += s->req;
	t->err += s->err;
	t->sum_s += s->sum_s;
	for (int i = 0; i < NB; i++)
		t->b[i] += s->b[i];
}

/* Adds slots k_lo..k_hi of s (those present in the ring) into t. */
void live_series_sum(const struct live_signals *live, const struct series *s, int64_t k_lo,
		     int64_t k_hi, struct totals *t);

/* The q-quantile of t in ms, interpolated inside its bucket; NaN when empty. */
double live_quantile_ms(const struct totals *t, double q);

/* Notes a local sample of slot k of s in the merge outbox, when merging is on. */
void live_outbox_note(struct live_signals *live, uint8_t type, uint32_t owner, struct series *s,
		      int64_t k, int64_t dur_ns, bool err);

/* Notes a local child whose parent this node has not seen (e: its pending entry), when merging is on. */
void live_outbox_wait(struct live_signals *live, const struct ment *e);

/*
 * A child span another node took whose parent it had not seen (lock held):
 * when the parent is among this node's recent spans, the edge parent's
 * service -> svc is counted here (a local sample, sent on); otherwise the
 * child waits in the pending map, flagged F_REMOTE, for a parent arriving
 * here within match_window_ns.
 */
void live_remote_child(struct live_signals *live, const uint8_t trace[16], const uint8_t parent[8], uint32_t svc,
		       int64_t end_ns, int64_t dur_ns, bool err);

/* Frees the merge outbox. */
void live_outbox_release(struct live_signals *live);

/* The bucket of a duration (le semantics; the last is +Inf). */
int live_bucket_of(int64_t dur_ns);

/* The service called name (len bytes): found, created, or "other" past max_services; NONE on no memory. */
uint32_t live_service_by_name(struct live_signals *live, const char *name, size_t len);

/* The operation series name of svc: found, created, or "other" past the limits; NULL on no memory. */
struct series *live_op_resolve(struct live_signals *live, struct service *svc, const char *name);

/* The edge src -> name, created if needed; NONE when max_edges is reached. */
uint32_t live_edge_resolve(struct live_signals *live, uint32_t src, const char *name, size_t len,
			   uint8_t kind);

/* The slot of s holding k, made current (older contents go to s->gone); NULL if k is older than the ring. */
struct slot *live_series_slot(struct live_signals *live, struct series *s, int64_t k);

/*
 * Adds req requests (err failing, b[] per bucket, or one request of bucket
 * one_b when b is NULL) to svc's fine slot of end_ns, or by arrival when
 * by_arrival (see live.h, "Fine slots"); now_ns is the clock.
 */
void live_fine_add(struct service *svc, int64_t end_ns, bool by_arrival, int64_t now_ns, uint32_t req, uint32_t err,
		   const uint32_t *b, int one_b, int own_b);

/* The index of the service called name (len bytes, hash XXH3), or NONE. */
uint32_t live_service_find(const struct live_signals *live, const char *name, size_t len,
			   uint64_t hash);

#endif
