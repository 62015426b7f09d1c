/*
 * The glue between the parts of the respond stage (stages.c, row
 * "respond"): what happens when an incident opens, changes or stays
 * unacknowledged. It lives in api/ because it needs the daemon — the
 * triage dependencies (api_triage_deps), the notification outbox, the
 * on-call book and the incidents stage all at once.
 *
 * One worker thread (the triage worker) takes incident events from the
 * incidents_subscribe hook and, off the engine thread and off every HTTP
 * lock:
 *   - on "opened": computes the triage summary with the root-cause ranking
 *     (deps->rank = rca_rank), keeps it as the incident's latest summary and
 *     appends it to the timeline (kind "summary"), stores the diagnostics
 *     snapshot as the artifact diagnostics.json, then notifies;
 *   - on "alert-joined": recomputes and appends the summary;
 *   - on acknowledged / resolved / reopened / severity raised: notifies;
 *   - every pass without an event (at most every second, woken by the
 *     row's engine tick): refreshes the latest summary of each open,
 *     unresolved incident at most every RESPOND_REFRESH_NS (every
 *     RESPOND_RETRY_EMPTY_NS while it names no suspect or is younger than
 *     RESPOND_YOUNG_NS; bounded: at
 *     most RESPOND_MAX_OPEN incidents), and runs escalation for each open
 *     unacknowledged one (escalation_tick with the owner team's policy;
 *     pages go to notify_page).
 * Each enqueued notification is a timeline entry "notification" {target,
 * event, notification}.
 */
#ifndef OODA_RESPOND_GLUE_H
#define OODA_RESPOND_GLUE_H

#include <stdint.h>

#include <jansson.h>

#include "api/daemon.h"

#define RESPOND_REFRESH_NS (30 * INT64_C(1000000000))
#define RESPOND_RETRY_EMPTY_NS (5 * INT64_C(1000000000)) /* a summary without suspects is due again this soon */
#define RESPOND_YOUNG_NS (2 * 60 * INT64_C(1000000000)) /* younger incidents: every RESPOND_RETRY_EMPTY_NS */
#define RESPOND_MAX_OPEN 50

/* Creates the triage worker and subscribes to d->incidents (before incidents_start). */
int respond_glue_start(struct daemon *d, struct buf *err);

/*
 * Joins the worker (after the event in progress); later events are dropped.
 * Call before incidents_destroy: the worker calls into the incidents stage.
 * Idempotent.
 */
void respond_glue_stop(struct daemon *d);

/* respond_glue_stop, then frees the glue; after incidents_destroy (its hook holds the glue). */
void respond_glue_destroy(struct daemon *d);

/* Adds the tick that wakes the worker for refreshes and escalation. */
int respond_glue_add_ticks(struct daemon *d, struct engine *e);

/*
 * The latest triage summary of incident id (INC-7 or 7) into *out (caller
 * owns it): the one kept in memory, else the last "summary" entry of the
 * timeline, else computed now. OODA_ENOTFOUND, OODA_EINVAL.
 */
int respond_summary(struct daemon *d, const char *id, json_t **out, struct buf *err);

/* Waits until the triage worker has nothing to do (tests, tools). */
void respond_glue_wait_idle(struct daemon *d);

#endif
