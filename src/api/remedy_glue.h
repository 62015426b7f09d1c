/*
 * The glue of the remedy stage (stages.c, row "remedy"): it fills struct
 * remedy_hooks with what the engine asks of the other stages —
 * notifications (the outbox), timeline entries (incidents), alert and probe
 * state (detect), deploys in progress and four-eyes approvals (change) —
 * and feeds the engine its triggers: alerts that fire (alerts_subscribe)
 * and incidents that open (remedy_glue_on_incident, subscribed by the
 * respond row before the incidents stage starts). It lives in api/ because
 * only the daemon holds every stage at once.
 */
#ifndef OODA_REMEDY_GLUE_H
#define OODA_REMEDY_GLUE_H

#include "api/daemon.h"
#include "detect/engine.h"

/* Creates d->remedy with its hooks, applies policies: and remedy:, subscribes to alerts, starts it. */
int remedy_glue_start(struct daemon *d, struct buf *err);

/* Checks or applies the policies: and remedy: sections of cfg. */
int remedy_glue_reload(struct daemon *d, const struct config *cfg, bool apply, struct buf *changes, struct buf *err);

/* The engine tick (triggers held for their `for`). */
int remedy_glue_add_ticks(struct daemon *d, struct engine *e);

/* This node began to lead (api/cluster.h): the runs under way are read again and resumed. */
void remedy_glue_resume(struct daemon *d);

/* Stops and frees d->remedy. Idempotent. */
void remedy_glue_stop(struct daemon *d);

/*
 * An incidents_event_fn (respond/incident.h) with ctx the daemon: an
 * "opened" incident becomes a trigger once the remedy stage runs (earlier
 * events are not remediated), and the runs its alerts triggered are linked
 * to it ("opened" and "alert-joined").
 */
void remedy_glue_on_incident(void *ctx, const char *event, const char *incident_json);

#endif
