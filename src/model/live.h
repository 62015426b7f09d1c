/*
 * Live signals: the in-memory view of what the fleet is doing right now,
 * kept up to date at ingest. After the writer thread makes a batch durable it
 * calls live_publish(); from server spans this file keeps RED counters
 * (requests, errors, duration histogram) per service and per (service,
 * operation), from parent/child spans across services and from CLIENT spans
 * naming a peer it keeps the service dependency graph, and from every record
 * it keeps per-service ingest rates. The API and the detection engine read it
 * concurrently through the JSON views, the RED snapshot and the metric-point
 * export below. Everything is bounded by struct live_config.
 *
 * How the numbers merge (across time windows and across nodes):
 *
 *  - Time is cut into fixed slots of slot_ns (10 s by default) aligned on the
 *    Unix epoch; slot k covers [k*slot_ns, (k+1)*slot_ns). A span lands in the
 *    slot of its end time, never of the wall clock, so two nodes that saw
 *    different spans of the same interval fill the same slot numbers.
 *  - Per slot, a series holds plain counters: requests, errors, the sum of
 *    durations and one count per duration bucket. Bucket boundaries are one
 *    fixed list (live_bounds_seconds()), identical on every node and in every
 *    version, with Prometheus `le` semantics (a duration d falls in the first
 *    bucket with d <= bound; the last bucket is +Inf).
 *  - A window is a set of slots; a window's counters are the element-wise sum
 *    of its slots' counters, and the counters of the same slot from several
 *    nodes add up the same way. Percentiles are never merged: they are
 *    computed after summing, by linear interpolation inside the bucket that
 *    holds the rank, so a percentile is exact to within its bucket's width.
 *  - Rates divide a window's count by the window length rounded up to whole
 *    slots (the slot holding now_ns counts as a whole slot).
 *  - The metric-point export (PromQL) adds a point at the end of a window
 *    that ends inside the newest slot, so rules on the span counters see
 *    the slot still filling (live_export_points).
 *  - The exported cumulative counters add the counters of slots that have
 *    fallen off the ring (kept as running totals per series) to those still in
 *    it, so they only grow while ooda runs, like any Prometheus counter; the
 *    ring keeps the last n_slots slots before the newest span end seen.
 *  - Ingest rates count records per service by arrival slot (wall clock),
 *    since they measure what ooda receives, not when it happened.
 *  - Dependency edges are series like the RED ones, keyed by (caller service,
 *    callee name). A cross-service call is counted once, from the callee's
 *    server span (its end time, duration and status). A CLIENT span naming a
 *    peer (peer.service, else server.address or net.peer.name, else
 *    db.system.name or db.system) becomes an external edge only when no server
 *    span of another service claims it as parent within match_window_ns, so
 *    external edges appear that long after the call.
 */
#ifndef OODA_LIVE_H
#define OODA_LIVE_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"
#include "model/record.h"

/* Number of finite duration bucket bounds; there are LIVE_N_BOUNDS + 1 buckets. */
#define LIVE_N_BOUNDS 27
/* Service, operation and peer names longer than this are truncated. */
#define LIVE_NAME_MAX 128
/* Name of the overflow bucket for operations, services (and their ops). */
#define LIVE_OTHER "other"

/*
 * Limits and knobs; a zero field takes the default in brackets. Memory is
 * (28 + 4 * LIVE_N_BOUNDS) * n_slots bytes per RED series and per edge
 * (about 48 KiB with the defaults), allocated when the series first appears,
 * plus about 300 bytes of totals per series, and 80 bytes per span_map entry,
 * twice (about 10 MiB with the defaults), allocated at create.
 */
struct live_config {
	int64_t slot_ns;          /* slot width [10 s] */
	uint32_t n_slots;         /* slots kept per series [360, one hour]; max 100000 */
	uint32_t max_services;    /* beyond it, records go to service "other" [256] */
	uint32_t max_ops;         /* per service; beyond it, op "other" [64] */
	uint32_t max_series;      /* (service, operation) series in all, not
	                             counting the "other" ops [2048] */
	uint32_t max_edges;       /* beyond it, new edges are dropped and counted [1024] */
	uint32_t span_map_size;   /* recent spans and waiting children kept for
	                             parent/child matching, each [65536]; calls
	                             waiting for their server span (own time):
	                             a quarter of it */
	int64_t match_window_ns;  /* how long a span waits for its parent or its
	                             remote child [30 s] */
	int64_t max_future_ns;    /* spans ending later than clock + this are
	                             dropped [5 min] */
	/* Wall clock for arrival times and the future bound [ooda_now_ns]. */
	int64_t (*clock)(void *ctx);
	void *clock_ctx;
};

/* Counters about what live_publish() could not use; all cumulative. */
struct live_stats {
	uint64_t spans;            /* spans seen */
	uint64_t server_spans;     /* spans counted as requests */
	uint64_t dropped_old;      /* request or edge samples older than the ring */
	uint64_t dropped_future;   /* spans ending too far after the clock */
	uint64_t dropped_edges;    /* edge samples lost because max_edges was reached */
	uint64_t overflow_services;/* records attributed to service "other" */
	uint64_t overflow_ops;     /* requests attributed to operation "other" */
	uint64_t unmatched_children; /* children whose parent never came in time */
	uint64_t evicted_spans;    /* recent spans pushed out of a full span map */
	uint64_t merge_dropped;    /* local samples not sent to other nodes: the merge outbox was full */
	uint64_t merged_entries;   /* (series, slot) counters applied from other nodes */
	uint64_t waits_sent;       /* children sent to the other nodes: their parent was not seen here */
	uint64_t waits_received;   /* such children received from other nodes */
	uint64_t remote_edges;     /* edge samples made here from another node's child and a parent seen here */
	uint64_t own_timed;        /* requests whose own time was found (one of their calls seen) */
	uint32_t services, series, edges;
};

struct live_signals;

/*
 * Creates an empty live view. cfg may be NULL for all defaults; it is copied.
 * Returns 0 and sets *out (caller owns it; free with live_destroy), or
 * OODA_EINVAL with the reason in err for an out-of-range knob, or
 * OODA_ENOMEM.
 */
int live_create(const struct live_config *cfg, struct live_signals **out, struct buf *err);

/* Frees live and everything in it. NULL is a no-op. */
void live_destroy(struct live_signals *live);

/*
 * Folds a committed batch into the live view: spans into RED series and the
 * dependency graph, every record into its service's ingest rate. The batch is
 * only read; nothing in it is kept after the call. Records that do not fit
 * (too old, too far in the future, past a limit) are counted in live_stats,
 * never an error. Safe to call while readers run. Returns 0, or OODA_EINVAL
 * if live or batch is NULL.
 */
int live_publish(struct live_signals *live, const struct telemetry_batch *batch);

/*
 * Ages the parent/child matching state by the clock: children that waited
 * longer than match_window_ns give up, and CLIENT spans with a peer that no
 * remote server span claimed by then become external edges. live_publish()
 * does this too; the engine tick calls it so edges appear when no ingest
 * happens. Returns 0 or OODA_EINVAL.
 */
int live_expire(struct live_signals *live);

/* Copies the counters of what could not be used into *out; NULLs are a no-op. */
void live_stats_get(struct live_signals *live, struct live_stats *out);

/* The finite bucket bounds in seconds, ascending; *n = LIVE_N_BOUNDS. */
const double *live_bounds_seconds(size_t *n);

/*
 * On bucket counts h (LIVE_N_BOUNDS + 1 of them, the bounds above, the last
 * +Inf; not cumulative), how every percentile and share here is read:
 * live_hist_quantile_s, the q-quantile (0..1) in seconds by linear
 * interpolation inside the bucket holding the rank (in +Inf: the last finite
 * bound), NaN when h is empty; live_hist_below, how many took at most le
 * seconds, linear inside the bucket holding le (nothing in +Inf counts).
 */
double live_hist_quantile_s(const double *h, double q);
double live_hist_below(const double *h, double le);

/*
 * The JSON views. The window is the ceil(window_ns / slot_ns) slots ending
 * with the one holding now_ns (at least one, at most n_slots). Each appends
 * one JSON document to out and returns 0, or OODA_EINVAL (bad window, NULL
 * argument) with the reason in err. Percentiles and ratios with no requests
 * are null. Times are RFC 3339 strings.
 *
 * live_services_json: an array, one object per known service, by name:
 *   {"service","requests","errors","rate","error_ratio","p50_ms","p90_ms",
 *    "p99_ms","ingest":{"logs_per_s","spans_per_s","points_per_s"},
 *    "last_seen"}
 * rate is requests per second; last_seen is the arrival time of the last
 * record from the service (null if none).
 */
int live_services_json(struct live_signals *live, int64_t now_ns, int64_t window_ns,
		       struct buf *out, struct buf *err);

/*
 * One service: the fields of live_services_json plus "operations" (the same
 * RED fields per operation, busiest first, operations idle in the window
 * left out), "upstream" (callers) and "downstream" (callees), each an array
 * of {"service","type","calls","errors","rate","error_ratio","p50_ms","p99_ms"}
 * for edges with calls in the window; type is "service", "database" or
 * "external". Returns OODA_ENOTFOUND (and appends nothing to out) for a
 * service never seen.
 */
int live_service_json(struct live_signals *live, const char *name, int64_t now_ns,
		      int64_t window_ns, struct buf *out, struct buf *err);

/*
 * The dependency graph over the window:
 *   {"nodes":[{"id","type","requests","rate","error_ratio"}],
 *    "edges":[{"source","target","type","calls","errors","rate",
 *              "error_ratio","p50_ms","p99_ms"}]}
 * (rate: calls per second over the window).
 * Only edges with calls in the window are listed; nodes are their ends plus
 * every service with requests in the window.
 */
int live_graph_json(struct live_signals *live, int64_t now_ns, int64_t window_ns,
		    struct buf *out, struct buf *err);

/*
 * One (service, operation) RED series over a run of slots, for the detection
 * engine. Slot i covers [first_slot_ns + i*slot_ns, + slot_ns). p99_ms[i] is
 * NaN where requests[i] is 0.
 */
struct live_red {
	const char *service;
	const char *operation;
	int64_t first_slot_ns;
	int64_t slot_ns;
	uint32_t n_slots;
	const uint64_t *requests;
	const uint64_t *errors;
	const double *p99_ms;
};

/*
 * Snapshots every RED series over the slots that overlap [from_ns, to_ns)
 * (at most n_slots slots, the newest kept) into arena: *out is an array of
 * *n series, series without any request in the range left out. Everything,
 * names included, lives in arena (caller owns it). Returns 0, OODA_EINVAL
 * for an empty range, or OODA_ENOMEM when the arena refuses, with the reason
 * in err.
 */
int live_red_snapshot(struct live_signals *live, int64_t from_ns, int64_t to_ns,
		      struct arena *arena, struct live_red **out, size_t *n,
		      struct buf *err);

/*
 * Exports the RED series as metric points for PromQL, at every slot boundary
 * t in (from_ns, to_ns] (t = k * slot_ns; each value covers the slots ending
 * at or before t) and, when to_ns falls inside the newest slot (off its
 * boundary), at t = to_ns too, that value covering every slot the ring holds,
 * the one still filling included — so a rate over a window ending now counts
 * the spans that arrived up to now, where boundaries alone would lag by up to
 * slot_ns: for each (service, operation) with requests in the ring,
 *   ooda_span_requests_total{service,operation}            (cumulative sum)
 *   ooda_span_errors_total{service,operation}
 *   ooda_span_duration_seconds_bucket{service,operation,le} (cumulative over
 *                                    le, one point per bound plus "+Inf")
 *   ooda_span_duration_seconds_count{service,operation}
 *   ooda_span_duration_seconds_sum{service,operation}
 * all METRIC_SUM, TEMPORALITY_CUMULATIVE, monotonic, start_ns = the start of
 * the series' first slot, resource.service = the service. Points, labels and
 * strings live in arena (caller owns them). Returns 0 with *out and *n set,
 * OODA_ELIMIT if more than max_points would be produced (nothing is
 * returned), OODA_EINVAL for a bad range, OODA_ENOMEM when the arena
 * refuses; the reason goes to err.
 */
int live_export_points(struct live_signals *live, int64_t from_ns, int64_t to_ns,
		       size_t max_points, struct arena *arena,
		       struct metric_point **out, size_t *n, struct buf *err);

/*
 * Per-slot counters of one service for the SLO stage, cheaper than a full
 * snapshot: the requests of `service` (of its operation `operation`, or of
 * all its operations when operation is NULL) in every slot overlapping
 * [from_ns, to_ns), at most cap slots (the newest kept). For slot i (covering
 * [*first_slot_ns + i * *slot_ns, + *slot_ns)) it writes requests[i],
 * errors[i] and, when fast is not NULL, fast[i]: the requests that took at
 * most le_seconds, interpolated linearly inside the bucket holding
 * le_seconds (exact when le_seconds is one of live_bounds_seconds()). Slots
 * the ring no longer (or not yet) holds read as zero. Arrays are the
 * caller's, with room for cap entries. Returns 0 with *n set (0 and
 * *n = 0 for a service or operation never seen), or OODA_EINVAL for a bad
 * range or argument, with the reason in err.
 */
int live_red_counts(struct live_signals *live, const char *service, const char *operation,
		    int64_t from_ns, int64_t to_ns, double le_seconds, size_t cap,
		    int64_t *first_slot_ns, int64_t *slot_ns, double *requests, double *errors,
		    double *fast, size_t *n, struct buf *err);

/*
 * Fine slots: per service (all its operations) the same counters in slots of
 * LIVE_FINE_NS, the last LIVE_FINE_SLOTS of them, for a detector that must
 * tell a 2-second blip from a fault wherever the exports fall. A server span
 * of this node lands in the fine slot of its end time, like the 10 s slots;
 * one ending more than LIVE_FINE_FUTURE_NS after the clock lands in the
 * clock's slot (a clock ahead of ours), and one ending more than
 * LIVE_FINE_LATE_NS before the service's newest fine slot is left out of the
 * fine slots (a batch retried after an outage is not news; the 10 s slots
 * count it). Counters merged from other nodes (live_delta_apply) carry 10 s
 * slots only: they land in the newest fine slot or the clock's, whichever is
 * later (by arrival), and one landing in the clock's slot makes the next slot
 * the newest, so a detector that tests the slots before the newest tests it
 * at once (nothing more comes for it by arrival).
 *
 * Own time: a server span's duration outside its own calls (the union of its
 * CLIENT children's intervals inside it), for a detector that must tell a
 * service slow by itself from one waiting on a slow callee. A CLIENT span
 * with a parent is kept by (trace, parent id) until its server span comes
 * (the same batch in any order, or an earlier one, within the matching
 * window); a server span with at least one of its calls found counts in the
 * fine slot's own_n and own buckets. A server span whose calls hang off an
 * INTERNAL span, or came in a later batch, or that made none, has no own
 * time (a leaf's own time is its duration); counters merged from other
 * nodes carry none.
 */
#define LIVE_FINE_NS (250 * INT64_C(1000000))
#define LIVE_FINE_SLOTS 64
#define LIVE_FINE_FUTURE_NS (2 * INT64_C(1000000000))
#define LIVE_FINE_LATE_NS (6 * INT64_C(1000000000))

/* One fine slot read by live_red_fine: [k * LIVE_FINE_NS, + LIVE_FINE_NS). */
struct live_fine {
	int64_t k;
	double req, err;
	double b[LIVE_N_BOUNDS + 1]; /* requests per duration bucket (live_bounds_seconds(), not cumulative) */
	double own_n;                  /* requests whose own time is known (see "Own time") */
	double own[LIVE_N_BOUNDS + 1]; /* their own time per duration bucket */
};

/*
 * Reads service's fine slots from from_k to its newest (*head), at most cap
 * of them (the newest kept) and none older than the ring holds; a slot with
 * nothing in it reads as zeros. out has room for cap entries. Returns 0 with
 * *n and *head set (*n = 0 and *head = INT64_MIN for a service without
 * requests yet), or OODA_EINVAL for a bad argument.
 */
int live_red_fine(struct live_signals *live, const char *service, int64_t from_k, size_t cap,
		  struct live_fine *out, size_t *n, int64_t *head);

/*
 * Merging across nodes. Several ooda nodes each see a share of the spans;
 * each sends what it ingested and adds in what the others sent, so every
 * node's views and the leader's detectors see the whole. What travels is a
 * delta: per (series, slot) the counters this node added since its last
 * take (requests, errors, sum of durations, one count per fixed bucket),
 * which add up exactly on the receiving side (see "How the numbers merge").
 * Edges travel the same way, keyed by caller service, callee name and type.
 * Ingest rates stay per node.
 *
 * Edges across nodes: a server span whose parent span this node has not
 * seen (in its batch or among its recent spans) also travels, as a waiting
 * child: trace id, parent span id, its service, end, duration and status.
 * A node that receives one looks for the parent among its own recent spans;
 * the one node that ingested the parent finds it (at once, or when the
 * parent arrives within match_window_ns) and counts the edge as its own
 * sample, which it sends on like any other. Every other node keeps the
 * child in its pending map until the window ends (bounded by
 * span_map_size, shared with its own waiting children), so no edge is
 * counted twice. Waiting children are never sent on.
 *
 * The delta is a byte string (version "OLD1"): the slot width, the entry
 * count, then per entry its type (0 RED, 1 edge, 2 waiting child). RED and
 * edge entries: the service and the operation or callee name, the edge
 * type, the slot number, requests, errors, the sum of durations (IEEE
 * double) and the non-zero bucket counts (a 32-bit mask, then the counts).
 * Waiting children: the child's service, the 16-byte trace id, the 8-byte
 * parent span id, the end time and the duration in ns, and the error flag
 * (one byte, 0 or 1). Integers are LEB128 varints.
 */

/* Entries of the outbox at most (about 150 bytes each); samples beyond it are counted in merge_dropped. */
#define LIVE_OUTBOX_MAX 16384u
/* Waiting children in the outbox at most (48 bytes each); those beyond are counted in merge_dropped. */
#define LIVE_OUTBOX_WAITS_MAX 16384u
/* A delta longer than this or with more entries than both bounds together is refused by live_delta_apply. */
#define LIVE_DELTA_MAX_BYTES (8u << 20)

/* From now on this node notes its own samples for live_delta_take. */
void live_merge_enable(struct live_signals *live);

/*
 * Appends to out the delta of this node's samples since the last call and
 * empties the outbox; *entries receives the number of (series, slot)
 * entries and waiting children (0: nothing was appended). Returns 0, or OODA_EINVAL for NULLs.
 */
int live_delta_take(struct live_signals *live, struct buf *out, size_t *entries);

/*
 * Adds a delta another node took into this view. The whole delta is
 * checked before anything is applied: a malformed one (truncated, bad
 * type, a name longer than LIVE_NAME_MAX, bucket counts that do not sum to
 * the requests, another slot width) changes nothing and returns
 * OODA_EINVAL with the reason in err. Entries for slots older than the
 * ring are skipped; names past the limits go to "other" as at ingest.
 * Samples applied here are not sent on by live_delta_take; an edge made
 * here from a waiting child and a parent this node ingested is (see "Edges
 * across nodes").
 */
int live_delta_apply(struct live_signals *live, const uint8_t *p, size_t n, struct buf *err);

#endif
