/*
 * Anomaly watches on series named in ooda.yaml (`anomalies:`): a PromQL
 * expression evaluated every interval, on the watches' own worker thread
 * (watches_start) so a slow store read never delays the engine tick; each
 * series of its result feeds its own streaming anomaly state (anomaly.h),
 * and a score past the threshold in the watched direction is an active
 * alert signal (source "anomaly") with the value, baseline, band and score
 * as evidence.
 *
 *   anomalies:
 *     - name: checkout-queue
 *       expr: sum(queue_depth{job="checkout"})
 *       interval: 1m          # default 1m, at least 1s
 *       direction: up         # up, down or both (default)
 *       threshold: 0.99       # score that raises the signal (default 0.99)
 *       severity: ticket      # page, ticket (default) or info
 *       warmup: 150           # points learned before any score (default 150)
 *
 * At most 64 watches and 1,000 series per watch (about 10 KiB each).
 */
#ifndef OODA_WATCH_H
#define OODA_WATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "model/signal.h"
#include "model/live.h"
#include "query/promql.h"
#include "store/tstore.h"

struct watches;

int watches_create(struct tstore *t, struct live_signals *live, struct watches **out, struct buf *err);

/*
 * Starts the worker that evaluates the watches from then on (see
 * evalworker.h): watches_tick() only hands evaluations to it and delivers
 * the signals they sent. Without it, watches_tick() evaluates on the
 * caller's thread (tests, tools). Returns 0 or OODA_EINTERNAL with the
 * reason in err.
 */
int watches_start(struct watches *w, struct buf *err);

/* Stops the worker (waiting for the evaluation in progress) and frees w. NULL is a no-op. */
void watches_destroy(struct watches *w);

/*
 * Checks the `anomalies:` section (JSON text, NULL = none) and, if apply and
 * w, makes it current; watches whose name and expression are unchanged keep
 * their learned state. Errors name the key path (anomalies[1].expr: …).
 */
int watches_configure(struct watches *w, const char *section_json, bool apply, struct buf *err);

/*
 * The engine tick (ctx is the struct watches). With the worker started:
 * sends sink the signals of the evaluations finished since the last tick
 * and hands the worker an evaluation at now_ns if it is idle; never waits.
 * Without it: watches_evaluate() here and now.
 */
void watches_tick(void *ctx, int64_t now_ns, const struct alert_sink *sink);

/*
 * One evaluation (ctx is the struct watches): evaluates the watches that
 * are due at now_ns and sends their signals to sink. Reads the store: not
 * for the engine thread.
 */
void watches_evaluate(void *ctx, int64_t now_ns, const struct alert_sink *sink);

/* Waits until the evaluation handed to the worker (if any) has finished (tests). */
void watches_wait(struct watches *w);

/* Replaces the metric source (tests); src must outlive w. NULL restores the store's. */
void watches_set_source(struct watches *w, const struct promql_source *src);

/* {"watches":[{name, expr, series:[{labels, value, baseline, score, direction}]}]} */
void watches_json(struct watches *w, struct buf *out);

/*
 * The semantic check of the `anomalies:` section of ooda.yaml (config_check_fn in
 * core/config.h), registered by the daemon with config_register_check().
 */
struct buf;
int watches_config_check(const char *section_json, struct buf *err);

#endif
