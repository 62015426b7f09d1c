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
 * late are counted.
 *
 * The blip guard: a 10 s slot is long enough for a 2-second blip (a burst
 * of failures that ends by itself, as after a restart) to carry its error
 * ratio far past the band, and the engine scores the slot, not how its
 * excess is spread inside it. So a slot raises the signal only when it is
 * harmful even without its worst blip-length stretch: the watch keeps every
 * service's fine slots (live.h: 250 ms of span end time) for the last 64 s,
 * and per slot finds the stretch of ceil(blip / 250 ms) + 2 fine slots (a
 * blip's spans by their end times, one more for its phase and one for the
 * requests in flight when it ended: 10, 2.5 s, as the RED detector's hold)
 * whose removal is most favourable to "it was a blip" — the lowest error
 * ratio, the highest request rate, the lowest p99 of the rest — and scales
 * the slot's value by what that removal does to the same statistic over
 * the fine slots. The scaled value must also be past the band. A blip
 * confined to one stretch leaves the rest at its usual level; a fault that
 * lasts the slot leaves it where it was. Where the fine slots do not cover
 * the slot (the service's newest span ended before the slot did, or the fine
 * slots hold under half of the slot's requests: a batch more than 6 s late,
 * or the service stopped) the value stands alone, as before the guard: a
 * service that stopped sending still raises its traffic drop.
 *
 * Memory: three anomaly states per service (about 30 KiB) and its fine
 * slots (about 32 KiB), at most max_services services.
 */
#ifndef OODA_REDWATCH_H
#define OODA_REDWATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "detect/anomaly.h"
#include "detect/redfast.h"
#include "model/signal.h"
#include "model/live.h"

struct redwatch_config {
	double threshold;      /* score that raises the signal [0.99] */
	uint32_t max_services; /* [256] */
	int64_t blip_ns;       /* the longest burst that must never raise the signal [2 s] */
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

/*
 * The RED detector whose shared slowdowns hold back this watch's p99
 * latency (redfast.h, REDFAST_SHARED_NAME): a slot's p99 signal on a
 * service that a shared slowdown named during the slot is sent inactive,
 * with evidence held_by naming that signal, as the detector holds back the
 * service's own latency signal; errors and traffic are never held. f may be
 * NULL (nothing held); borrowed, both ticking on the engine thread.
 */
void redwatch_follow_shared(struct redwatch *w, struct redfast *f);

/* Engine tick: processes the slots that closed since the last call; emits signals. */
void redwatch_tick(void *ctx, int64_t now_ns, const struct alert_sink *sink);

/*
 * The blip guard's statistic over n fine slots (requests, errors, duration
 * buckets of live_bounds_seconds(), the slot's value for metric m = 0 rate,
 * 1 error ratio, 2 p99): the factor by which removing the stretch of w
 * consecutive slots most favourable to a blip changes it (at most 1 for the
 * error ratio and p99, at least 1 for the rate); 1 when there is nothing to
 * remove (n <= w, no request, no error). A stretch that holds every request
 * is not considered: traffic that comes in bursts shorter than a blip leaves
 * nothing to tell a blip from a fault by, and the value stands.
 */
double redwatch_blip_factor(int m, const double *req, const double *err, const double (*buckets)[LIVE_N_BOUNDS + 1],
			    size_t n, size_t w);

/* {"services":[{service, rate:{value,baseline,score,…}, error_ratio:{…}, p99_ms:{…}}…]} */
void redwatch_json(struct redwatch *w, struct buf *out);

#endif
