/*
 * Off-engine evaluation: a worker thread for the detectors whose evaluation
 * reads the telemetry store (alert rules and anomaly watches evaluate
 * PromQL), so that a slow read never holds up the engine thread and the
 * detectors after them (probes, heartbeats). The engine tick only hands an
 * evaluation over and collects what the last one found: the evaluation
 * runs on the worker and sends its signals to a buffer, and the next
 * engine tick passes them, in order and unchanged (same name, labels,
 * annotations, evidence, at_ns), to the alert sink on the engine thread.
 *
 *   engine tick:  evalworker_tick ── deliver buffered signals ──> alert sink
 *                        │
 *                        └── idle? hand over "evaluate at now" ──> worker
 *   worker:       fn(ctx, now, buffer sink) ── signals ──> buffer
 *
 * One evaluation runs at a time: while one is queued or running, a tick
 * hands over nothing (the detector evaluates again at the first tick after
 * it finished). When the buffer holds EVALWORKER_MAX_HELD signals, the
 * worker waits for the engine to deliver them rather than drop any.
 */
#ifndef OODA_EVALWORKER_H
#define OODA_EVALWORKER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "model/signal.h"

#define EVALWORKER_MAX_HELD 100000

/* One evaluation at now_ns, sending its signals to sink (on the worker thread). */
typedef void (*evalworker_fn)(void *ctx, int64_t now_ns, const struct alert_sink *sink);

struct evalworker;

/*
 * Starts a worker thread that runs fn(ctx, …) when evalworker_tick() hands
 * it an evaluation. name ("alert rules") is for logs; it is copied. ctx
 * must outlive the worker. Caller owns *out (evalworker_destroy). Returns 0,
 * OODA_ENOMEM, or OODA_EINTERNAL with the reason in err.
 */
int evalworker_create(const char *name, evalworker_fn fn, void *ctx, struct evalworker **out, struct buf *err);

/*
 * Stops the worker: tells a running evaluation to end (evalworker_stopping),
 * waits for it, drops signals not yet delivered and frees w. NULL is a no-op.
 */
void evalworker_destroy(struct evalworker *w);

/*
 * The engine tick: delivers the signals buffered since the last call to sink
 * (in the order they were sent), then hands an evaluation at now_ns to the
 * worker unless one is queued or running. Never waits for an evaluation.
 */
void evalworker_tick(struct evalworker *w, int64_t now_ns, const struct alert_sink *sink);

/*
 * Sets a hook called on the worker thread after each evaluation that sent
 * at least one signal, once they are all buffered (NULL: none): the owner
 * pokes the engine (engine_poke) so the next tick delivers them at once
 * rather than up to a period later. Call before handing evaluations over.
 */
void evalworker_on_signals(struct evalworker *w, void (*fn)(void *ctx), void *ctx);

/* True once evalworker_destroy() has begun: a long evaluation should end early. */
bool evalworker_stopping(struct evalworker *w);

/* Waits until no evaluation is queued or running (tests, tools). */
void evalworker_wait_idle(struct evalworker *w);

#endif
