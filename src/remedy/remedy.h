/*
 * The remedy engine: the part of the loop that acts. It keeps the policies
 * (ooda.yaml's policies: and those applied over the API, each a versioned
 * "remedy-policy" document), takes triggers from alerts and incidents,
 * decides — global pause, circuit breaker, cooldown, runs per window,
 * concurrent runs, blast radius, change freezes, preconditions, mode — and
 * drives each run through the machine of run.h on a runner thread, storing
 * the run as a new version of its "remedy-run" document (queryable status)
 * after every step, so a crash resumes it exactly once. Every version is an
 * audit record by "policy:NAME@vN" with the rationale. What the engine needs
 * of other stages (notifications, the timeline, alert and probe state,
 * approvals) comes through struct remedy_hooks, filled by api/remedy_glue.c.
 *
 * Documents (kind / key):
 *   remedy-policy      NAME        the policy as applied
 *   remedy-run         RUN_ID      trigger, plan, per-step record, status
 *   remedy-automation  global      {paused, reason, by, at}
 */
#ifndef OODA_REMEDY_REMEDY_H
#define OODA_REMEDY_REMEDY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "audit/audit.h"
#include "core/buf.h"
#include "remedy/hooks.h"
#include "store/store.h"

#define REMEDY_MAX_POLICIES 256
#define REMEDY_MAX_RUNS_KEPT 10000   /* runs the guardrails remember (newest) */
#define REMEDY_MAX_HOLDS 1024        /* triggers waiting out their `for` */
#define REMEDY_RUNNERS 4             /* runs driven at once, all policies together */
#define REMEDY_APPROVAL_TTL_NS (INT64_C(3600) * 1000000000)
#define REMEDY_CONFIG_ACTOR "config:ooda.yaml"

struct remedy;

struct remedy_options {
	struct store *store;
	const struct audit_signer *signer;
	struct remedy_hooks hooks;       /* copied; any hook may be NULL */
	int64_t expect_poll_ns;          /* between checks of expect; 0: 500 ms */
};

/* A trigger: an alert that fires, or an incident that opens. Strings are copied. */
struct remedy_trigger {
	const char *kind;      /* "alert", "incident" or "canary" */
	const char *ref;       /* the alert's fingerprint, the incident's id, or the deploy's or rollout's id */
	const char *name;      /* the alert's name, the canary verdict's kind; NULL for an incident */
	const char *service;   /* may be NULL */
	const char *severity;  /* "page", "SEV2", …; may be NULL */
	const char *incident;  /* the incident, when there is one */
	const char *alert;     /* the alert's fingerprint (an incident's source alert); NULL: ref for an alert */
	int64_t at_ns;         /* when it fired or opened: part of the idempotency key */
};

/* Creates the engine (no thread yet). Caller owns *out (remedy_destroy). */
int remedy_create(const struct remedy_options *o, struct remedy **out, struct buf *err);

/*
 * Checks (apply false) or applies the policies: section (a JSON list,
 * NULL: none) and the remedy: section (NULL: defaults) of ooda.yaml. Apply
 * writes a new version of every policy whose document changed, deletes the
 * ones ooda.yaml no longer holds (only those it wrote), and reloads the
 * policies. changes gets "policy NAME v3" lines when not NULL. Errors name
 * "policies[i].field"; OODA_EINVAL.
 */
int remedy_configure(struct remedy *r, const json_t *policies, const json_t *section, bool apply,
		     struct buf *changes, struct buf *err);

/*
 * The config_check_fn of policies: and remedy: (core/config.h). The
 * policies check cannot see remedy.http_allow_hosts, so it leaves hosts to
 * remedy_configure (start and reload check them).
 */
int remedy_policies_check(const char *section_json, struct buf *err);
int remedy_section_check(const char *section_json, struct buf *err);

/* Starts the decision worker and the runners; runs left active by a crash or a stop are resumed. */
int remedy_start(struct remedy *r, struct buf *err);
/*
 * On a node that just began to lead (api/cluster.c): re-reads every run
 * from the store and hands the ones under way to the runners, which act
 * once leadership lets them (core/lead.h). Returns 0 or the store's error.
 */
int remedy_resume(struct remedy *r);

/* Stops the threads (a step in flight is left "running" and resumed at the next start) and frees r. NULL ok. */
void remedy_destroy(struct remedy *r);

/* Queues a trigger; never blocks (dropped with a log line when the queue is full). */
void remedy_trigger(struct remedy *r, const struct remedy_trigger *t);

/*
 * The alert with fingerprint alert_fp opened or joined incident: runs it
 * triggered are linked to the incident (their next version names it, and
 * a run already over is put on the incident's timeline). Queued for the
 * decision worker; never blocks.
 */
void remedy_link_incident(struct remedy *r, const char *alert_fp, const char *incident);

/*
 * The engine tick: wakes the decision worker for triggers held `for` a
 * while, and when a retention round is due (every REMEDY_PRUNE_EVERY_NS,
 * at once again after a full batch) deletes one batch of old finished runs.
 */
void remedy_tick(struct remedy *r, int64_t now_ns);

/* ---- retention: the stored runs stay bounded ---------------------------------------- */

struct remedy_retention {
	int64_t max_age_ns;   /* a finished run whose last change is older goes (retention.runs_max_age); 0: none */
	int64_t max_finished; /* finished runs kept, the newest by creation (retention.runs_max_finished); 0: all */
};

#define REMEDY_PRUNE_BATCH 500
#define REMEDY_PRUNE_EVERY_NS (INT64_C(600) * 1000000000)

/* Sets the retention remedy_tick applies (none until called). */
void remedy_set_retention(struct remedy *r, const struct remedy_retention *ret);

/*
 * One retention batch now: deletes every version of at most
 * REMEDY_PRUNE_BATCH finished runs past the retention as of now_ns (runs
 * under way are kept whatever their age), with one audit record by
 * "ooda:retention" listing them. *deleted receives how many runs went.
 * Returns 0 or the store's error with err set.
 */
int remedy_runs_prune(struct remedy *r, int64_t now_ns, size_t *deleted, struct buf *err);

/* Waits until nothing is queued or running (tests). */
void remedy_wait_idle(struct remedy *r);

/* ---- followers: every stored version of a run (the dashboard's live feed) ---- */

#define REMEDY_MAX_SUBSCRIBERS 4

/* One stored version of a run, borrowed for the call. */
struct remedy_run_event {
	const char *action;   /* its audit action: "remedy.run.create", "remedy.step.start", "remedy.run.succeeded", … */
	const char *rationale; /* why, as audited ("step 0: http POST …: ok") */
	const json_t *run;    /* the run document as stored (the shape GET /api/v1/runs/{id} serves) */
	int64_t version;      /* the document's version: 1 at creation, one more per move */
};

typedef void remedy_subscriber_fn(void *ctx, const struct remedy_run_event *ev);

/*
 * Adds fn: fn(ctx, ev) is called after every version of every run is
 * stored (created, refused, awaiting approval, approved or rejected, each
 * step's start and end, verifying, succeeded, failed, undo, cancelled,
 * linked to an incident), on the thread that stored it — the decision
 * worker, a runner, or an API request deciding the run —, in the order of
 * that run's versions. No lock of the engine is held; fn must not block
 * and must not call remedy_subscribe or remedy_unsubscribe.
 * OODA_ELIMIT past REMEDY_MAX_SUBSCRIBERS.
 */
int remedy_subscribe(struct remedy *r, remedy_subscriber_fn *fn, void *ctx);

/* Removes fn with ctx; when it returns no call to it is under way, so ctx may go. Unknown: no-op. */
void remedy_unsubscribe(struct remedy *r, remedy_subscriber_fn *fn, void *ctx);

/*
 * The event as a small JSON object (caller owns): {run, event ("step.start",
 * "run.approve", …, the action without "remedy."), version, status, policy,
 * policy_version, mode, service, incident, at, text (the version's
 * rationale)}, plus step {index, action, status, describe} for a step or
 * undo event, and reason, verification, approved_by, rejected_by when the
 * run has them. Nothing else of the run (no output, no trigger labels).
 */
json_t *remedy_run_event_json(const struct remedy_run_event *ev);

/* ---- reads and decisions (the API) ------------------------------------------ */

struct remedy_run_filter {
	const char *incident, *policy, *status;  /* NULL: any */
	const char *before, *after;              /* a run id: the runs older, or newer, than it; NULL: from the newest */
	int limit;                               /* 0: 100 */
};

/*
 * {"runs":[…], "before": ID|null, "after": ID|null}: one page, newest
 * first; "before" and "after" are the cursors of the next older and newer
 * pages (null: none). A cursor naming no stored run, or both given, is
 * OODA_EINVAL naming the field.
 */
int remedy_runs_json(struct remedy *r, const struct remedy_run_filter *f, struct buf *out, struct buf *err);
/* One run; OODA_ENOTFOUND. */
int remedy_run_json(struct remedy *r, const char *id, struct buf *out, struct buf *err);

/*
 * A person decides a run awaiting approval, through the change stage's
 * four-eyes approvals (hooks.decide): the policy's author may not approve
 * a run of it (OODA_EFORBIDDEN). OODA_ECONFLICT when the run is not
 * awaiting approval.
 */
int remedy_run_decide(struct remedy *r, const char *id, bool approve, const char *actor, const char *rationale,
		      struct buf *out, struct buf *err);

/*
 * What the approvals call back once a request of type "remedy.run" is
 * decided: the run starts (approved) or ends rejected, recording who.
 */
int remedy_run_approved(struct remedy *r, const char *id, bool approve, const char *approver, const char *rationale,
			struct buf *err);

/* Stops a run that has not acted yet (pending, awaiting approval). OODA_ECONFLICT otherwise. */
int remedy_run_cancel(struct remedy *r, const char *id, const char *actor, const char *rationale, struct buf *err);

/* {"policies":[{name, version, author, mode, guardrails, breaker_open, doc}]}. */
int remedy_policies_json(struct remedy *r, struct buf *out, struct buf *err);
/* One policy with its history of versions; OODA_ENOTFOUND. */
int remedy_policy_json(struct remedy *r, const char *name, struct buf *out, struct buf *err);
/* Checks and stores doc as the next version of its policy; *version out. */
int remedy_policy_apply(struct remedy *r, const json_t *doc, const char *actor, const char *rationale,
			int64_t *version, struct buf *err);

/* A line diff (store/vdoc.h) of versions a and b of policy name (0: the latest). OODA_ENOTFOUND. */
int remedy_policy_diff(struct remedy *r, const char *name, int64_t a, int64_t b, struct buf *out, struct buf *err);

/* Applies version to of policy name again, as its next version. OODA_ENOTFOUND, OODA_EINVAL. */
int remedy_policy_rollback(struct remedy *r, const char *name, int64_t to, const char *actor, const char *rationale,
			   int64_t *version, struct buf *err);

/* The global pause: every decision checks it. Audited; reason required to pause. */
int remedy_pause(struct remedy *r, bool paused, const char *actor, const char *reason, struct buf *err);
/* {"paused", "reason", "by", "at", "active_runs"}. */
void remedy_automation_json(struct remedy *r, struct buf *out);

/* ---- runs a person starts (runbooks, runbook_run.h) -------------------------- */

/*
 * Checks step (one do step: an action or a recipe reference) as the
 * engine would run it — the recipe and its params, the action's params,
 * the http allow-list — and writes *describe (caller owns): the expanded
 * steps [{action, describe: the exact argv or URL, …}]. path prefixes the
 * field in err ("steps[3]"). OODA_EINVAL.
 */
int remedy_steps_plan(struct remedy *r, const json_t *step, const char *path, json_t **describe, struct buf *err);

struct remedy_manual_run {
	const char *id;          /* "run-…", chosen by the caller (idempotent: a second start is OODA_ECONFLICT) */
	const char *policy;      /* what the run is of: "runbook:NAME" */
	int64_t version;         /* the runbook's version */
	const char *actor;       /* "runbook:NAME@vN": the actor of every step */
	const char *started_by;  /* the person: the actor of the run's creation */
	const char *incident;    /* may be NULL */
	const json_t *step;      /* one do step (borrowed) */
	const char *rationale;
	const char *walk;        /* the runbook walk ("rbr-…") the step is of: told when the run is over (runbook_walk_poke); may be NULL */
};

/*
 * Starts a run of one step now, on the runners, through the same states,
 * records, audit and timeline as a policy's run (no guardrails: a person
 * asked; the global pause still refuses with OODA_ECONFLICT). OODA_EINVAL
 * for a step remedy_steps_plan refuses.
 */
int remedy_run_manual(struct remedy *r, const struct remedy_manual_run *m, struct buf *err);

/* A timeline entry of kind on incident through the annotate hook; 0 when there is no incident or hook. */
int remedy_note(struct remedy *r, const char *incident, const char *kind, const char *actor, const char *text,
		const json_t *data, struct buf *err);

/* The store and audit signer the engine writes with (borrowed; runbook_run.c keeps its documents there). */
struct store *remedy_store(struct remedy *r);
const struct audit_signer *remedy_signer(struct remedy *r);

#endif
