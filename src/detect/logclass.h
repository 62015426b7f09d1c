/*
 * Log error classes: every ingested log body gets a pattern id from a
 * streaming template miner (patterns.h), one miner per service. Per pattern
 * the highest severity seen is kept beside the miner's counts, so that a
 * pattern seen for the first time at error level or above becomes a signal
 * ("a new kind of error appeared in checkout") once the service's miner has
 * warmed up (a fresh start does not report every pattern as new).
 *
 * logclass_observe() runs on the telemetry writer thread after a batch is
 * durable; readers (the API) and the engine tick may run concurrently: each
 * service's miner is guarded by the module's lock.
 *
 * Persistence: the miners are derived state kept in the control store
 * (one row per service: the patterns_save snapshot, the lines seen and
 * each pattern's highest severity). logclass_restore loads them at start,
 * the engine tick saves the miners that changed at most once per
 * save_every_ns, and logclass_save once more at shutdown. After a crash the
 * counts since the last save are lost; patterns are learned again from new
 * lines.
 *
 * Several nodes (logclass_share): every node's miners must hold the lines of
 * all nodes, so that the leader's detectors and every node's views agree.
 * The node that ingests a request's logs stores them (encoded, bodies cut
 * to the 4,096 bytes a miner considers) as a row of the control store
 * before it acknowledges the request, and no node mines its own lines
 * directly: each applies every node's rows in id order (logclass_catch_up,
 * before a view is answered and at each engine tick), so the miners of all
 * nodes see the same lines in the same order and agree on ids and counts.
 * Saving (any node) first applies every row there is, under the store's
 * write lock, and stores the last row it applied beside the snapshots; a
 * node that starts reads the snapshots and that mark together and applies
 * only the rows after it.
 */
#ifndef OODA_LOGCLASS_H
#define OODA_LOGCLASS_H

#include <stdint.h>

#include "core/buf.h"
#include "store/store.h"
#include "model/signal.h"
#include "model/record.h"

struct logclass_config {
	uint32_t max_services;       /* miners kept; beyond, logs are not classified [64] */
	uint32_t max_patterns;       /* per service [2000] */
	uint64_t warmup_lines;       /* lines a service's miner sees before "new" is reported [1000] */
	int64_t new_active_ns;       /* how long a new error class stays an active signal [10 min] */
	int64_t save_every_ns;       /* changed miners are saved at most this often [1 min] */
};

struct logclass;

int logclass_create(const struct logclass_config *cfg, struct logclass **out, struct buf *err);
void logclass_destroy(struct logclass *lc);

/*
 * Loads every service saved in s (call before ingest starts) and keeps s
 * for later saves. A service whose saved state does not load is logged
 * with the reason and starts fresh; patterns restored here count as known,
 * so the new-error-class signal does not fire for them again. Returns the
 * number of services restored, or a negative error if the store could not
 * be read (detail in err; the miners then start fresh).
 */
int logclass_restore(struct logclass *lc, struct store *s, struct buf *err);

/*
 * Writes every miner changed since its last save to the store given to
 * logclass_restore, in one transaction; the snapshots are taken under the
 * lock and written outside it. Returns 0 (also without a store) or the
 * store's error (detail in err; those miners are tried again next time).
 */
int logclass_save(struct logclass *lc, int64_t now_ns, struct buf *err);

/* Classifies the logs of a durable batch; does nothing once shared (logclass_publish does it). */
void logclass_observe(struct logclass *lc, const struct telemetry_batch *b);

/*
 * From now on the lines come through the store given to logclass_restore
 * (call it first, before ingest starts; the store must keep pattern_lines:
 * PostgreSQL).
 */
void logclass_share(struct logclass *lc);

/*
 * Shared: stores the log lines of b (a batch the telemetry store accepted)
 * for every node's miners, in one write transaction, before the request is
 * acknowledged. If the write fails this node mines them itself (logged).
 * Not shared: does nothing. b is only read.
 */
void logclass_publish(struct logclass *lc, const struct telemetry_batch *b);

/*
 * Shared: applies the rows stored since the last one applied, in id order
 * (at most 10,000 rows a call; the rest the next time). A row that does not
 * decode is skipped, counted and logged. Not shared: does nothing.
 */
void logclass_catch_up(struct logclass *lc);

/*
 * Encodes the log lines of b (empty bodies left out) as rows for
 * logclass_lines_apply: each at most 8 MiB, 65,536 lines and 1,024
 * service names; a body is cut to 4,096 bytes. Sets *rows to an array of
 * that many bufs (NULL when none) and returns the count; the caller
 * releases each buf and frees the array. Never fails.
 */
size_t logclass_lines_encode(const struct telemetry_batch *b, struct buf **rows);

/*
 * Applies one stored row (len bytes, untrusted: every count and length is
 * checked, and the whole row before any line of it is applied) as lines
 * seen at written_ns for the new-class signal. Returns 0, or OODA_ECORRUPT
 * or OODA_ESCHEMA (another version) with the reason in err; nothing is
 * applied then.
 */
int logclass_lines_apply(struct logclass *lc, const void *data, size_t len, int64_t written_ns, struct buf *err);

/*
 * Engine tick: reports new error-level classes (and clears them after
 * new_active_ns), and saves changed miners once save_every_ns has passed.
 */
void logclass_tick(void *ctx, int64_t now_ns, const struct alert_sink *sink);

/*
 * {"patterns":[{service, id, template, example, first_seen, last_seen,
 * count, count_in_range, max_severity}…]} sorted by count_in_range; only
 * patterns seen in [from_ns, now]; service NULL = all; min_severity 0 = any.
 */
void logclass_json(struct logclass *lc, const char *service, int64_t from_ns, uint8_t min_severity, size_t limit,
		   struct buf *out);

#endif
