/*
 * Anomaly watches on series named in ooda.yaml (`anomalies:`): a PromQL
 * expression evaluated every interval; each series of its result feeds its
 * own streaming anomaly state (anomaly.h), and a score past the threshold in
 * the watched direction is an active alert signal (source "anomaly") with
 * the value, baseline, band and score as evidence.
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
#include "detect/signal.h"
#include "ingest/live.h"
#include "store/tstore.h"

struct watches;

int watches_create(struct tstore *t, struct live_signals *live, struct watches **out, struct buf *err);
void watches_destroy(struct watches *w);

/*
 * Checks the `anomalies:` section (JSON text, NULL = none) and, if apply and
 * w, makes it current; watches whose name and expression are unchanged keep
 * their learned state. Errors name the key path (anomalies[1].expr: …).
 */
int watches_configure(struct watches *w, const char *section_json, bool apply, struct buf *err);

/* Engine tick: evaluates the watches that are due; emits signals. */
void watches_tick(void *ctx, int64_t now_ns, const struct alert_sink *sink);

/* {"watches":[{name, expr, series:[{labels, value, baseline, score, direction}]}]} */
void watches_json(struct watches *w, struct buf *out);

#endif
