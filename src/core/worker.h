/*
 * One worker thread with a bounded queue: the primitive behind every
 * background loop of the daemon (the SLO worker, the evaluation workers, the
 * prober, the rollback runner). A worker sleeps until it is handed an item
 * (worker_push), woken (worker_wake) or, when it has an interval, until the
 * interval has passed; then it calls fn once per queued item, or once with a
 * NULL item for a wake or an interval. Every timed wait is on
 * CLOCK_MONOTONIC, so a jump of the wall clock neither stalls nor spins a
 * worker; the cond helpers at the end give the loops not built on a worker
 * (the store writers, the HTTP sweeper) the same clock.
 *
 *   worker_create ──> sleeping ──push / wake / interval──> running fn ──> sleeping
 *                         │                                    │
 *                         └────────── worker_stop ─────────────┴──> stopped (joined)
 */
#ifndef OODA_WORKER_H
#define OODA_WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/*
 * Called on a worker thread: with an item taken from the queue (in push
 * order), or with item NULL after a worker_wake() or when the interval has
 * passed. fn owns the item it is given. With one thread (the default) fn
 * never runs twice at once; with a pool (worker_opts.threads > 1) each
 * thread takes the next item when it is free, so calls overlap.
 */
typedef void (*worker_fn)(void *ctx, void *item);

enum worker_stop_mode {
	WORKER_CANCEL = 0, /* worker_stop drops queued items (item_free on each) */
	WORKER_DRAIN,      /* worker_stop hands every queued item to fn first */
};

struct worker_opts {
	size_t capacity;       /* items the queue holds; 0: a wake-only worker (worker_push is EBUSY) */
	int64_t interval_ns;   /* > 0: fn(ctx, NULL) also runs this long after the thread's last call ended */
	enum worker_stop_mode stop_mode;
	void (*item_free)(void *item); /* frees a dropped item; NULL: dropped items are not freed */
	int threads;           /* threads sharing the queue; 0 or 1: one */
	/*
	 * true: fn runs only while this node leads (core/lead.h), each call with
	 * the thread's fencing token entered; while following, items and wakes
	 * wait in the queue and are taken when leadership comes (checked every
	 * LEAD_POLL_MS).
	 */
	bool leader_only;
};

#define LEAD_POLL_MS 200

struct worker;

/*
 * Starts a worker thread named name (copied; for logs) that calls fn(ctx, …).
 * opts may be NULL (capacity 0, no interval, cancel on stop). ctx must outlive
 * the worker. Caller owns *out (worker_destroy). Returns 0, OODA_ENOMEM, or
 * OODA_EINTERNAL with the reason in err.
 */
int worker_create(const char *name, worker_fn fn, void *ctx, const struct worker_opts *opts, struct worker **out,
		  struct buf *err);

/*
 * Queues item for fn and wakes the worker. Never blocks. Returns 0 (the
 * worker owns item), OODA_EBUSY when the queue is full, or OODA_EUNAVAIL once
 * the worker is stopping; on error the caller keeps item.
 */
int worker_push(struct worker *w, void *item);

/*
 * Makes the worker call fn(ctx, NULL) once more soon; wakes sent while one
 * is already pending merge into one call. A wake sent while fn runs causes
 * one more call after it. Never blocks on fn.
 */
void worker_wake(struct worker *w);

/*
 * Begins a stop without waiting for it: no new item or wake is taken (queued
 * items go as worker_stop says), the item in hand finishes. worker_stop
 * still joins later. For a daemon whose stop has begun: a worker that acts
 * on the world must not start something new while the rest shuts down.
 */
void worker_quiesce(struct worker *w);

/* True once worker_stop() or worker_quiesce() has begun: a long fn should return early. */
bool worker_stopping(struct worker *w);

/*
 * Stops the worker and waits for its threads: a running fn finishes; queued
 * items then go to fn (WORKER_DRAIN) or to item_free (WORKER_CANCEL); a
 * pending wake is dropped. Later pushes are refused. Idempotent; NULL is a
 * no-op. Must not be called from fn.
 */
void worker_stop(struct worker *w);

/* worker_stop, then frees w. NULL is a no-op. */
void worker_destroy(struct worker *w);

/* Waits until the queue is empty, no wake is pending and no fn is running (tests, tools). */
void worker_wait_idle(struct worker *w);

/* Items queued now (not counting one fn is working on). */
size_t worker_queued(struct worker *w);

/* Calls fn so far (items and wakes): lets a test wait for a call without sleeping. */
uint64_t worker_calls(struct worker *w);

/* ---- monotonic condition variables -------------------------------------- */

/* pthread_cond_init with CLOCK_MONOTONIC as the clock of timed waits. Returns pthread's code. */
int worker_cond_init(pthread_cond_t *c);

/*
 * Waits on c (initialised by worker_cond_init, mu held) until signalled or
 * until ooda_mono_ns() reaches deadline_ns. Returns true when the deadline
 * passed. Spurious wake-ups return false, as pthread's do.
 */
bool worker_cond_wait_until(pthread_cond_t *c, pthread_mutex_t *mu, int64_t deadline_ns);

#endif
