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
 */
#ifndef OODA_LOGCLASS_H
#define OODA_LOGCLASS_H

#include <stdint.h>

#include "core/buf.h"
#include "detect/signal.h"
#include "ingest/record.h"

struct logclass_config {
	uint32_t max_services;       /* miners kept; beyond, logs are not classified [64] */
	uint32_t max_patterns;       /* per service [2000] */
	uint64_t warmup_lines;       /* lines a service's miner sees before "new" is reported [1000] */
	int64_t new_active_ns;       /* how long a new error class stays an active signal [10 min] */
};

struct logclass;

int logclass_create(const struct logclass_config *cfg, struct logclass **out, struct buf *err);
void logclass_destroy(struct logclass *lc);

/* Classifies the logs of a durable batch. */
void logclass_observe(struct logclass *lc, const struct telemetry_batch *b);

/* Engine tick: reports new error-level classes (and clears them after new_active_ns). */
void logclass_tick(void *ctx, int64_t now_ns, const struct alert_sink *sink);

/*
 * {"patterns":[{service, id, template, example, first_seen, last_seen,
 * count, count_in_range, max_severity}…]} sorted by count_in_range; only
 * patterns seen in [from_ns, now]; service NULL = all; min_severity 0 = any.
 */
void logclass_json(struct logclass *lc, const char *service, int64_t from_ns, uint8_t min_severity, size_t limit,
		   struct buf *out);

#endif
