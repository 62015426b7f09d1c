/*
 * Runbooks kept and walked: each runbook (runbook.h) is a versioned
 * "runbook" document (history, diff, rollback like policies), and each walk
 * of one on an incident is a "runbook-run" document whose steps are
 * recorded as they are done. Walking goes in order: automated steps start
 * as soon as every step before them is done or started, each as a run of
 * the remedy engine (remedy_run_manual: same states, audit, timeline) by
 * actor "runbook:NAME@vN" started by the person; a manual step waits until
 * a person marks it done, which is recorded with who and when. Every
 * change is an audit record; starts and done steps are on the incident's
 * timeline (kind "remediation", data naming the runbook run).
 *
 * Documents (kind / key):
 *   runbook      NAME     the parsed runbook with its Markdown source
 *   runbook-run  RBR_ID   runbook, version, incident, started_by, steps
 */
#ifndef OODA_REMEDY_RUNBOOK_RUN_H
#define OODA_REMEDY_RUNBOOK_RUN_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "remedy/remedy.h"

/*
 * Parses text, checks every automated step (remedy_steps_plan) and writes
 * *out (caller owns): {name, ok, steps:[{n, kind, text, plan | error}]}.
 * Returns 0 when every step passed; OODA_EINVAL with the first refusal in
 * err ("steps[2].recipe.name: no recipe \"x\"") otherwise (*out still set
 * when the text parsed).
 */
int runbook_check_text(struct remedy *r, const char *text, size_t len, json_t **out, struct buf *err);

/* runbook_check_text on the latest version of runbook name; OODA_ENOTFOUND. */
int runbook_check(struct remedy *r, const char *name, json_t **out, struct buf *err);

/*
 * Checks text and stores it as the next version of its runbook (an
 * unchanged document keeps its version); *version out. OODA_EINVAL.
 */
int runbook_apply(struct remedy *r, const char *text, size_t len, const char *actor, const char *rationale,
		  int64_t *version, struct buf *err);

/* {"runbooks":[{name, title, version, author, services, templates, steps}]}; service/template filter (NULL: all). */
int runbook_list_json(struct remedy *r, const char *service, const char *template_, struct buf *out,
		      struct buf *err);

/* Version (0: latest) of runbook name with its history; OODA_ENOTFOUND. */
int runbook_get_json(struct remedy *r, const char *name, int64_t version, struct buf *out, struct buf *err);

/* Line diff of versions a and b (0: latest; a 0 and b 0: the one before against the latest). */
int runbook_diff(struct remedy *r, const char *name, int64_t a, int64_t b, struct buf *out, struct buf *err);

/* Stores version to again as the next version. OODA_ENOTFOUND, OODA_EINVAL. */
int runbook_rollback(struct remedy *r, const char *name, int64_t to, const char *actor, const char *rationale,
		     int64_t *version, struct buf *err);

/*
 * Starts a walk of the latest version of name on incident (required) as
 * actor, then starts its first automated step when no manual step comes
 * before it.
 * Writes the walk as runbook_run_json does. OODA_ENOTFOUND (runbook or
 * incident), OODA_ECONFLICT (automation paused: recorded on the step).
 */
int runbook_run_start(struct remedy *r, const char *name, const char *incident, const char *actor,
		      const char *rationale, struct buf *out, struct buf *err);

/* One walk, each automated step with the status of its run. OODA_ENOTFOUND. */
int runbook_run_json(struct remedy *r, const char *id, struct buf *out, struct buf *err);

/*
 * Marks manual step n of walk id done by actor (note optional), then
 * walks on: starts the next automated step (the one after waits for its
 * run to succeed, runbook_walk_poke). OODA_EINVAL (no
 * such step, or an automated one), OODA_ECONFLICT (done already).
 */
int runbook_step_done(struct remedy *r, const char *id, int n, const char *actor, const char *note,
		      struct buf *out, struct buf *err);

/*
 * Called by the engine when run, an automated step of walk, is over:
 * walks on (the steps after it start, or the next manual one is offered;
 * a run that did not succeed stops the walk) in person's name (who started
 * the run). Failures are logged: the walk keeps the run's status anyway.
 */
void runbook_walk_poke(struct remedy *r, const char *walk, const char *run, const char *person);

#endif
