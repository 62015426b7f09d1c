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

/* Classifies the logs of a durable batch. */
void logclass_observe(struct logclass *lc, const struct telemetry_batch *b);

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
