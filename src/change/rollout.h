/*
 * Progressive rollouts: a new flag variant, or a deploy, is given more
 * traffic step by step (5 → 25 → 50 → 100 %), each step held for a
 * duration and judged by the canary analysis (canary.h) of the new side
 * against the old one at its end. A pass promotes to the next step, a fail
 * aborts and rolls back (the flag to its version before the rollout, a
 * deploy through its rollback plan), a step marked `approval` waits for a
 * four-eyes approval (change.h) before it starts.
 *
 * Two halves: the plan loader and the step state machine are pure (no I/O,
 * unit-tested and fuzzed); the engine in rollout.c keeps each rollout in
 * the store's rollouts table, audits every write, records a change event
 * for every step, and runs one thread that sleeps until the earliest due
 * step or until it is woken (start, promote, abort, approval).
 *
 *                 start
 *                   │ (first step needs approval)
 *                   ├──────────────────────────────> awaiting-approval
 *                   v                                  │   │ approve: next step
 *   ┌──────────> running ──hold over, pass────────────(┼───┘ (when it is marked approval)
 *   │ next step  │ │ │ │                               │ reject
 *   └────────────┘ │ │ └─inconclusive: hold again      v
 *                  │ └──fail, abort, too many ────> aborted (rolled back)
 *                  │      inconclusive holds
 *                  └──pass at the last step─────> succeeded
 */
#ifndef OODA_ROLLOUT_H
#define OODA_ROLLOUT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"

struct change;

#define ROLLOUT_MAX_STEPS 20
#define ROLLOUT_MAX_PLAN_BYTES 16384

/* ---- the plan (pure) ------------------------------------------------------ */

/*
 * Checks a rollout plan (JSON text of at most ROLLOUT_MAX_PLAN_BYTES) and
 * returns it normalised in *out (caller json_decref's): steps as objects
 * {weight, hold, hold_ns, approval}, analysis thresholds filled in. Members:
 *   flag, env, variant        a flag rollout (env defaults to "default")
 *   deploy                    a deploy rollout (with flag and variant: its
 *                             traffic split is that fractional flag)
 *   service                   whose spans are analysed (flag rollouts)
 *   version                   the canary's service.version (default: the
 *                             deploy's; else spans are told apart by the
 *                             feature_flag.variant attribute)
 *   steps                     [5, 25, 100] or [{weight, hold, approval}]
 *   hold                      default hold of a step ("1m")
 *   analysis                  {min_samples, alpha, max_error_increase,
 *                             max_p99_increase, max_median_increase}
 *   max_inconclusive          holds added when a step has too little data
 *                             before it aborts [3]
 *   rationale
 * OODA_EINVAL with err naming the member on anything else.
 */
int rollout_plan_load(const char *text, size_t len, json_t **out, struct buf *err);

/* ---- the step state machine (pure) ---------------------------------------- */

enum rollout_status { RO_PENDING, RO_RUNNING, RO_AWAITING, RO_SUCCEEDED, RO_ABORTED, RO_STATUS_COUNT };
enum rollout_event { RO_EV_START, RO_EV_PASS, RO_EV_FAIL, RO_EV_INCONCLUSIVE, RO_EV_PROMOTE, RO_EV_ABORT,
		     RO_EV_APPROVE, RO_EV_REJECT, RO_EV_COUNT };
enum rollout_action {
	RO_ACT_REFUSE,   /* the event does not apply in this status */
	RO_ACT_ADVANCE,  /* start step `step` (set its weight, hold it) */
	RO_ACT_AWAIT,    /* file an approval for step `step` + 1 */
	RO_ACT_EXTEND,   /* hold the current step once more */
	RO_ACT_COMPLETE, /* the last step passed: the new side takes everything */
	RO_ACT_ABORT,    /* roll back */
};

struct rollout_state {
	enum rollout_status status;
	int step;              /* current step, -1 before the first */
	int n_steps;
	int inconclusive;      /* holds added to the current step */
	int max_inconclusive;
	const bool *approval;  /* n_steps: does step i wait for an approval before it starts? */
};

struct rollout_next {
	enum rollout_action action;
	enum rollout_status status; /* after the action */
	int step;                   /* after the action */
};

/* What event does to s. Never fails: an event that does not apply is RO_ACT_REFUSE. */
void rollout_transition(const struct rollout_state *s, enum rollout_event ev, struct rollout_next *out);

const char *rollout_status_name(enum rollout_status s);
/* RO_STATUS_COUNT when name is none. */
enum rollout_status rollout_status_parse(const char *name);

/* ---- the engine (rollout.c) ----------------------------------------------- */

/* Starts the worker; it resumes the running rollouts found in the store. */
int rollout_engine_start(struct change *c, struct buf *err);
void rollout_engine_stop(struct change *c);

/*
 * Starts a rollout of plan (as rollout_plan_load returns it) by actor. The
 * first step takes effect at once (or waits for its approval). id out.
 * OODA_ENOTFOUND for a missing flag or deploy, OODA_ECONFLICT when the flag
 * is being rolled out already.
 */
int rollout_start(struct change *c, const json_t *plan, const char *actor, const char *rationale, char id[48],
		  struct buf *err);
/* The rollout document, appended to out. */
int rollout_json(struct change *c, const char *id, struct buf *out, struct buf *err);
/*
 * {"rollouts":[…]} newest first, at most limit, of one status and one
 * environment when they are not NULL. OODA_EINVAL for an unknown status.
 */
int rollout_list_json(struct change *c, const char *status, const char *env, size_t limit, struct buf *out,
		      struct buf *err);
/* The environment of a rollout (for environment-scoped tokens). */
int rollout_env(struct change *c, const char *id, char env[64], struct buf *err);
/*
 * A person ends the current step's hold now and moves on (no analysis).
 * OODA_ECONFLICT when the rollout waits for an approval or is finished.
 */
int rollout_promote(struct change *c, const char *id, const char *actor, const char *rationale, struct buf *out,
		    struct buf *err);
/* A person aborts: rolled back as a failed step would be. */
int rollout_abort(struct change *c, const char *id, const char *actor, const char *rationale, struct buf *out,
		  struct buf *err);
/* The approval request a rollout filed was approved or rejected (approval.c). */
int rollout_decided(struct change *c, const char *id, bool approved, const char *decider, struct buf *err);

#endif
