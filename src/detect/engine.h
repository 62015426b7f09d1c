/*
 * The engine thread (orient → decide): one thread that wakes every tick
 * (250 ms by default), and in between when an alert's `for` ends
 * (engine_set_due) or something asks (engine_poke: a durable batch of
 * telemetry, a rule evaluation with signals to deliver), and calls, in registration order, each detector's
 * tick callback with the clock and the sink its signals go to — alert
 * rules and whatever other detectors register (probes' results,
 * heartbeats, SLO burn, anomaly scores…), then the alerting core, so what
 * they signalled reaches its subscribers in the same tick. Callbacks must not block
 * on I/O beyond short store writes: detectors that read the telemetry
 * store (alert rules, anomaly watches, PromQL SLIs) hand that work to a
 * worker thread of their own and only collect its results on the tick
 * (evalworker.h, slo.h).
 */
#ifndef OODA_ENGINE_H
#define OODA_ENGINE_H

#include <stdint.h>

#include "core/buf.h"
#include "model/signal.h"

#define ENGINE_MAX_CALLBACKS 32
#define ENGINE_DEFAULT_TICK_NS (250 * INT64_C(1000000))

typedef void (*engine_tick_fn)(void *ctx, int64_t now_ns, const struct alert_sink *sink);

struct engine;

/*
 * Creates a stopped engine whose callbacks get sink (copied). tick_ns <= 0
 * means ENGINE_DEFAULT_TICK_NS. Caller owns *out (engine_destroy).
 */
int engine_create(const struct alert_sink *sink, int64_t tick_ns, struct engine **out, struct buf *err);

/*
 * Adds a callback, called on every tick after the ones added before it.
 * Safe while the engine runs. OODA_ELIMIT past ENGINE_MAX_CALLBACKS.
 */
int engine_add(struct engine *e, engine_tick_fn tick, void *ctx);

/* Starts the thread. OODA_EINTERNAL with detail if it cannot. */
int engine_start(struct engine *e, struct buf *err);

/* The earliest wall-clock time (ns) something is due, asked after every tick; 0: nothing. */
typedef int64_t (*engine_due_fn)(void *ctx);

/*
 * Sets the due hook (NULL: none; before engine_start). When it names a time
 * before the next periodic tick, the engine ticks then as well (an alert's
 * `for` ends between two ticks), at least ENGINE_MIN_GAP_NS after the last
 * tick; the periodic schedule is unchanged.
 */
#define ENGINE_MIN_GAP_NS (10 * INT64_C(1000000))
void engine_set_due(struct engine *e, engine_due_fn fn, void *ctx);

/* When the engine should wake after a tick, at mono_ns (wall_ns on the wall clock): the
 * periodic next_ns, or earlier for a due time after tick_wall_ns (the wall-clock now
 * the tick ran with; 0 when none ran) that is still ahead or came while the tick ran
 * (engine_set_due), never sooner than ENGINE_MIN_GAP_NS. A due at or before
 * tick_wall_ns was the tick's to handle: ignored, so nothing spins. All ns. Pure: for
 * tests. */
int64_t engine_wake_ns(int64_t next_ns, int64_t mono_ns, int64_t wall_ns, int64_t due_wall_ns, int64_t tick_wall_ns);

/*
 * Asks for a tick soon, for an event the periodic tick would see up to a
 * tick late (a batch of telemetry made durable, an evaluation that finished
 * with signals to deliver): the engine ticks ENGINE_POKE_GAP_NS after the
 * end of its last tick, or at once when that is past. Pokes before that
 * tick starts share it (a burst of batches is one tick); the periodic
 * schedule is unchanged. Any thread; never blocks beyond the engine's lock.
 */
#define ENGINE_POKE_GAP_NS (25 * INT64_C(1000000))
void engine_poke(struct engine *e);

/* When a poked engine ticks: ENGINE_POKE_GAP_NS after last_end_ns (monotonic), but not later than
 * wake_ns, the tick it would do anyway; all ns. Pure: for tests. */
int64_t engine_poke_wake_ns(int64_t wake_ns, int64_t last_end_ns);

/* Ticks done on a poke so far (included in engine_ticks), for tests and /metrics. */
int64_t engine_poked_ticks(struct engine *e);

/* Runs one tick now on the caller's thread (tests, and `ooda` tools). */
void engine_tick_once(struct engine *e, int64_t now_ns);

/* Stops the thread (waits for the tick in progress) and frees e. NULL is a no-op. */
void engine_destroy(struct engine *e);

/* Ticks done so far, for /metrics. */
int64_t engine_ticks(struct engine *e);

#endif
