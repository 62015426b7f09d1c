/*
 * The fast RED change detector: per service, four times a second, a
 * sequential test of its error count and of its count of slow requests
 * against its own baseline. Where redwatch.h reads 10 s live slots two slots
 * after they close (20–30 s late) and rules read a fixed ratio over a fixed
 * window, this reads the live fine slots (live.h: 250 ms of span end time)
 * as the spans arrive and asks how strong the evidence is.
 *
 * The slots are the service's own time: a span counts in the slot of its
 * end, so a 2-second blip is 2 seconds of slots wherever its exports fall.
 * A slot is tested once the service's newest span ended past it (the next
 * batch, for an SDK that exports every second), so each service's evidence
 * moves with its own exports and one service's late post never holds
 * another's back. Spans that come after their slot was tested (another
 * replica's batch, a retry) count in the next slot tested:
 *
 *   baseline b   the service's error ratio, an exponentially weighted
 *                mean of counts (half-life 300 s of slots); a slot is learnt
 *                hold_slots − 1 slots late, and not at all when by then the
 *                signal is active or S ≥ threshold, so a fault never teaches
 *                it;
 *   tolerance    p0 = b + max(b, tolerance): double the baseline and at least
 *                one point more — a rise inside a 99 % SLO's budget is the
 *                SLO burn alerts' business, not a page;
 *   the shift    p1 = p0 + shift (5 points, the size of failure the usual
 *                fixed-threshold rule pages on);
 *   evidence     the slot's binomial log-likelihood ratio
 *                L = k ln(p1/p0) + (n − k) ln((1 − p1)/(1 − p0)) for n
 *                requests and k errors, accumulated as a CUSUM
 *                S = min(cap, max(0, S + L)); L adds over requests, so the
 *                slot's width changes when evidence is seen, not how much;
 *   the hold     run = slots since S left 0 (empty slots count: time
 *                passes); the signal turns active when S ≥ threshold,
 *                run ≥ hold_slots and the run without its strongest stretch
 *                of hold_slots − 1 slots (what a blip can touch) still
 *                favours p1 by at least `outside` nats (3: odds of 20 to 1,
 *                the usual 5 % level): strong evidence of a deviation that
 *                outlasted a blip, not a strong blip's evidence decaying. A
 *                blip of B seconds touches at most ceil(B / slot) + 1 slots
 *                by its own spans' end times and one more by the requests in
 *                flight when it ended, so hold_slots − 1 = ceil(blip / slot)
 *                + 2 (10 slots, 2.5 s, for the 2 s blip);
 *   clearing     a second CUSUM C = max(0, C − L) grows while the slots favour
 *                p0; once C ≥ clear the signal is inactive and S, C and the
 *                run start again from 0.
 *
 * During the warm-up (the first warmup_slots slots with requests, 30 s of
 * them) every slot teaches the baseline and nothing accumulates. An empty
 * slot changes nothing but the run's length; a service that sends no
 * request for 10 s while its signal is active (its process died) has the
 * signal cleared, its baseline kept. Under p0 an excursion of S reaches the
 * threshold with probability at most e^-threshold (Wald); the numbers
 * behind the defaults are in docs/decisions.md ("A fast RED change
 * detector", "The RED detector in span time").
 *
 * Latency, the same test on another count: a request is slow when it took
 * longer than the service's learnt p99 plus max(half of it, 1 ms) — half
 * again as slow as its usual slowest one in a hundred, and never within a
 * millisecond of it (scheduling jitter). The p99 comes from the duration
 * histogram of the slots learnt (the live buckets, interpolated inside the
 * bucket as histogram_quantile does), weighted with the same half-life and
 * learnt on the same terms as the error baseline: a slot hold_slots − 1 slots
 * late, never while the latency test is active or decisive. Per slot the
 * test counts the requests above that bound (n requests, k slow), its
 * baseline b is the learnt histogram's share above it (about 0: it is past
 * the p99), and tolerance, shift, hold, evidence and clearing are the error
 * test's: it fires when, beyond the tolerated share, 5 points more of the
 * requests are that slow for as long as a blip cannot last. A slow database
 * (10 times its latency) or a leak that slows its service has every request
 * past the bound within a slot; the machine's load shifting a service by a
 * few percent does not.
 *
 * A slowdown shared by the whole system is not a service's fault. A
 * service is slowing when its latency test is active or holds half the
 * evidence that fires over a run whose share of slow requests is above its
 * tolerance (a lone slow request gives under 2 nats). It slows on its own
 * when its own time (live.h, "Own time": its requests' time outside their
 * calls) rises by the same test, learnt on the same terms: a service
 * waiting on a slow callee keeps its own time, one the machine slows does
 * not. Where its own time is not known (a leaf; calls not traced from its
 * server spans; nothing learnt yet), it slows on its own when none of its
 * callees is slowing with at least half its share (a caller making up to
 * two calls per request to a slow callee has up to about twice its share,
 * inherited). By shares alone a whole chain slowed by the machine looks
 * like its leaf's fault (every share rises alike); by own time every
 * service in it slows on its own. When the call graph is known (a traced
 * call between two watched services in the last minute) and, as a latency
 * test fires, two or more services slow on their own and they are at least
 * half of those slowing, the machine or something under every service
 * moved, not one service: the latency signals of that moment are held back
 * and one signal names the services instead (source "anomaly", name
 * "red:shared/slowdown", no service, severity ticket, evidence {metric
 * "slowdown", value (how many slow on their own), services, own, shares};
 * it opens no incident by default). A slow database has its callers slow
 * with it (inherited: one service slowing on its own) and fires as before.
 * The episode ends once that has not held for hold_slots slots; the latency
 * evidence of the services held back or slowing then is dropped, so one
 * still slow after the episode fires on evidence of its own, a hold later:
 * an unrelated service's chance excursion at a fault's onset delays its
 * page by about two holds, never drops it.
 *
 * A caller's latency test can decide before its callee's: the caller adds
 * up its callees' delays, and in a slowdown of the whole machine the top of
 * the chain may pass its threshold first, while the services under it are
 * still gathering evidence. So a latency test that fires while a callee is
 * rising with it (evidence gathering, S > 0, over a run whose slow share is
 * above its tolerance and at least half the caller's) and has not fired
 * yet waits for that callee to decide, at most hold_slots slots: the callee
 * fires first (a slow dependency: the caller fires after it, as before), or
 * the services slowing on their own make it a shared slowdown (the caller is
 * held back), or the wait ends and the caller fires. A service with no
 * callee rising never waits: a slow database, the leaf, fires at once.
 *
 * Signals: source "anomaly", name "red:SERVICE/error_ratio", severity
 * ticket, active_at the start of the run's first slot (span time, never
 * after the firing), evidence {metric "error_ratio", value (the last slot's
 * ratio), baseline, tolerance (p0), score = 1 − e^-S, evidence_nats (S),
 * threshold_nats, slots_held (the run), held_s (the run in seconds),
 * requests, errors (the last slot's), window "250ms slots", detector
 * "red-cusum"}: the incident stage opens an incident for it by default (a
 * confident RED anomaly on errors). And "red:SERVICE/latency": evidence
 * {metric "latency", value (the slot's share of slow requests), baseline,
 * tolerance, slow_ms (the bound), p99_ms (the learnt p99), score,
 * evidence_nats, threshold_nats, slots_held, held_s, requests, slow (the
 * slot's slow requests), window, detector, and while firing others: every
 * other service whose latency evidence is gathering, with its share,
 * evidence_nats, slots_held, active, slowing, own (slowing on its own) and
 * own_time_rising (null where its own time is not known): what else moved
 * with it}; it opens one too.
 *
 * Thread safety: redfast_tick runs on the engine thread only.
 */
#ifndef OODA_REDFAST_H
#define OODA_REDFAST_H

#include <stdbool.h>
#include <stdint.h>

#include "model/live.h"
#include "model/signal.h"

/* The name of the signal for a slowdown shared by the system (above). */
#define REDFAST_SHARED_NAME "red:shared/slowdown"
#define REDFAST_MAX_HOLD 16
/* Duration buckets (the live histogram's, the last +Inf). */
#define REDFAST_NB (LIVE_N_BOUNDS + 1)
/* redfast_test.learnt: the slot just fed was learnt at once (warm-up). */
#define REDFAST_LEARNT_NOW REDFAST_MAX_HOLD

/* Knobs; a zero field takes the default in brackets. */
struct redfast_config {
	int64_t slot_ns;        /* [LIVE_FINE_NS, 250 ms]; the driver always reads the live fine slots */
	int64_t blip_ns;        /* the longest burst that must never fire [2 s] */
	uint32_t hold_slots;    /* slots an excursion must last before it fires [ceil(blip / slot) + 3];
	                           2 to REDFAST_MAX_HOLD */
	uint32_t warmup_slots;  /* slots with requests before the baseline is trusted [30 s of slots] */
	double half_life_slots; /* of the baseline [300 s of slots] */
	double tolerance;       /* minimum excess over the baseline tolerated [0.01] */
	double shift;           /* the excess the test is tuned to [0.05] */
	double threshold;       /* evidence (nats) that fires [8] */
	double outside;         /* evidence (nats) the run must hold outside its strongest blip-length stretch [3] */
	double clear;           /* evidence (nats) for the tolerance that clears [3] */
	double cap;             /* S never exceeds this [2 * threshold] */
	double slow_margin;     /* latency: slow is past p99 * (1 + this) ... [0.5] */
	double slow_min_s;      /* ... and past p99 + this [0.001] */
	uint32_t max_services;  /* [256] */
};

/* Fills the zero fields of c with the defaults above. */
void redfast_config_defaults(struct redfast_config *c);

/* The state of one count test (one service's errors); zero it to start. */
struct redfast_test {
	double base_k, base_n;  /* weighted counts behind the baseline */
	double s, c;            /* the CUSUMs for p1 and for p0 */
	double llr;             /* the last slot's L */
	double p0, p1, ratio;   /* the last slot's tolerance, alternative and ratio */
	double n, k;            /* the last slot's counts */
	uint32_t slots;         /* slots with requests seen */
	uint32_t run;           /* slots since S left 0 */
	double run_sum;         /* sum of L over the run (not capped) */
	double run_n, run_k;    /* requests and counted ones (errors, slow) over the run */
	double blip_max;        /* the largest sum of L over at most hold_slots − 1 consecutive slots of the run */
	double recent[REDFAST_MAX_HOLD]; /* the run's last L, by run % REDFAST_MAX_HOLD */
	double pend_n[REDFAST_MAX_HOLD], pend_k[REDFAST_MAX_HOLD]; /* slots not yet learnt */
	uint32_t pending;       /* slots ever queued for learning */
	int learnt;             /* what the last update taught the baseline: -1 nothing, REDFAST_LEARNT_NOW
	                           the slot fed, else the index in pend_* of an earlier one */
	bool active;
};

/*
 * Feeds one slot's counts (n requests of which k failed; k is clamped to
 * [0, n]) to the test t under c (defaults applied). Returns whether the
 * signal is active after this slot. n <= 0 changes nothing.
 */
bool redfast_test_update(struct redfast_test *t, const struct redfast_config *c, double n, double k);

/*
 * An empty slot: a run in progress grows by a slot without evidence (time
 * passes; an excursion can outlast the hold on it, never gain evidence on
 * it). Returns whether the signal is active.
 */
bool redfast_test_idle(struct redfast_test *t, const struct redfast_config *c);

/* The baseline ratio the test holds (0 before any request). */
double redfast_test_baseline(const struct redfast_test *t);

/* The latency test of one service; zero it to start. */
struct redfast_latency {
	double hist[REDFAST_NB];                   /* learnt duration buckets, exponentially weighted */
	double pend[REDFAST_MAX_HOLD][REDFAST_NB]; /* slots not yet learnt, as t.pend_* */
	double p99_s, slow_s;                      /* the last slot's learnt p99 and slow bound (0: none yet) */
	struct redfast_test t;                     /* the count test on slow requests */
};

/*
 * Feeds one slot's duration buckets (REDFAST_NB counts, bounds of
 * live_bounds_seconds()) to the latency test l under c. Returns whether its
 * signal is active after this slot. A slot without requests changes nothing.
 */
bool redfast_latency_update(struct redfast_latency *l, const struct redfast_config *c, const double *buckets);

struct redfast;

/* Creates the detector on live (borrowed). cfg may be NULL (defaults). Returns 0 and sets *out. */
int redfast_create(struct live_signals *live, const struct redfast_config *cfg, struct redfast **out);
void redfast_destroy(struct redfast *w);

/*
 * Turns the detector on or off (alerts.red_detector; on after create). Off,
 * the next tick sends an inactive signal for every service it had sent an
 * active one for and forgets what it learnt. Safe from any thread.
 */
void redfast_set_enabled(struct redfast *w, bool on);

/*
 * Whether the detector is on, how many services it watches and how many of
 * them are still warming up (fewer than warmup_slots slots with requests:
 * no evidence yet), as of the end of the last tick. Any thread; w may be NULL.
 */
void redfast_status(struct redfast *w, bool *enabled, unsigned *services, unsigned *learning);

/*
 * Engine tick: tests every service's fine slots that closed since the last
 * tick (its newest span ended past them) and emits a signal per service
 * when its state changed, and while active once per tick that tested a slot.
 */
void redfast_tick(void *ctx, int64_t now_ns, const struct alert_sink *sink);

/*
 * Whether a shared slowdown (REDFAST_SHARED_NAME) that named service
 * overlapped [from_ns, to_ns): it names a service from the start of the
 * episode's runs (span time) until the episode ends (the clock), the last
 * four episodes per service. So a reader of older slots (the anomaly watch,
 * 20-30 s behind) holds back the latency the detector held back. Engine
 * thread only, as redfast_tick; w may be NULL (false).
 */
bool redfast_shared_overlaps(const struct redfast *w, const char *service, int64_t from_ns, int64_t to_ns);

#endif
