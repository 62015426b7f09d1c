/*
 * Anomaly detection on every service's RED signals, automatically: each
 * live-signal slot (10 s), per service, the request rate, the error ratio
 * and the p99 latency (the highest p99 among its operations) go through
 * their own streaming anomaly state (anomaly.h). A score past the
 * threshold in the harmful direction — errors or latency up, traffic down —
 * is reported as an active alert signal (source "anomaly") with the value,
 * the baseline, the expected band and the score as evidence.
 *
 * A slot is read two slots after it closed, so spans that arrive a little
 * late are counted. Memory: three anomaly states per service (about 30 KiB),
 * at most max_services services.
 */
#ifndef OODA_REDWATCH_H
#define OODA_REDWATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "detect/anomaly.h"
#include "model/signal.h"
#include "model/live.h"

struct redwatch_config {
	double threshold;      /* score that raises the signal [0.99] */
	uint32_t max_services; /* [256] */
	struct anomaly_config anomaly; /* zero = the engine's defaults */
};

struct redwatch;

int redwatch_create(struct live_signals *live, const struct redwatch_config *cfg, struct redwatch **out);
void redwatch_destroy(struct redwatch *w);

/*
 * Whether result r of metric value `value` raises the signal: not warming
 * up, score >= threshold, direction bad (+1 up, -1 down) and value beyond
 * the expected band on that side (when the band is finite).
 */
bool redwatch_harmful(const struct anomaly_result *r, double value, int bad, double threshold);

/* Engine tick: processes the slots that closed since the last call; emits signals. */
void redwatch_tick(void *ctx, int64_t now_ns, const struct alert_sink *sink);

/* {"services":[{service, rate:{value,baseline,score,…}, error_ratio:{…}, p99_ms:{…}}…]} */
void redwatch_json(struct redwatch *w, struct buf *out);

#endif
