/*
 * The change stage: config sets, the deployment and migration registry,
 * canary verification, the rollback planner with its durable runs, and
 * four-eyes approvals. Flags live in flagstore.h. Every function takes the
 * stage's context (the stores, the audit signer, the flags) and writes
 * versioned documents through audit/docwrite.h, so each change is audited and
 * reaches the timeline as a change event.
 *
 * Documents (kind / key):
 *   config        SERVICE/ENV       {format, content, data}
 *   config-schema SERVICE           a JSON schema for SERVICE's configs
 *   deploy        ID                a deploy record (immutable after creation)
 *   deploy-head   SERVICE/ENV       {id} of the latest deploy
 *   migration     SERVICE/ID        {id, service, up, down, reversible}
 *   migration-state SERVICE/ID      {applied}
 *   verification  DEPLOY_ID         the latest canary verdict of a deploy
 *   rollback-run  RUN_ID            plan, per-step state, status
 *   approval      APPROVAL_ID       request, decision, expiry
 *
 * Progressive rollouts are rows of their own table (rollout.h).
 */
#ifndef OODA_CHANGE_H
#define OODA_CHANGE_H

#include <jansson.h>
#include <pthread.h>

#include "audit/audit.h"
#include "change/canary.h"
#include "change/flagstore.h"
#include "store/store.h"
#include "store/tstore.h"

struct worker;
struct rollout_engine;

struct change {
	struct store *store;
	const struct audit_signer *sg;
	struct tstore *tstore;
	struct flagstore *flags;
	pthread_mutex_t mu;
	json_t *deploy_cfg;    /* the `deploy:` section as JSON (hooks, verify) */
	json_t *approval_cfg;  /* the `approvals:` section as JSON (a list of rules) */
	struct worker *runner; /* rollback runs: run ids pushed by rollback_start, a wake resumes */
	pthread_cond_t wake;   /* a run finished (rollback_wait); CLOCK_MONOTONIC */
	struct rollout_engine *ro; /* progressive rollouts (rollout.h); NULL until change_start */
	/*
	 * Decided requests of a type this stage does not perform (an action
	 * type "remedy.run"): approve true performs it in approver's name, false
	 * tells its owner it was rejected. Set by the daemon's glue before any
	 * request is decided; NULL: such a request fails when approved.
	 */
	int (*perform_ext)(void *ctx, const json_t *action, bool approve, const char *approver, const char *rationale,
			   struct buf *out, struct buf *err);
	void *perform_ext_ctx;
	/*
	 * A canary verdict that says stop, after it is stored: kind
	 * "deploy-verify" (a deploy's verification failed) or "rollout-abort" (a
	 * progressive rollout aborted), id the deploy or rollout, service and env
	 * as recorded (may be NULL), reason the verdict's. Set by the daemon's
	 * glue before change_start; NULL: nobody listens. Must not call back
	 * into this stage.
	 */
	void (*verdict_fn)(void *ctx, const char *kind, const char *id, const char *service, const char *env,
			   const char *reason);
	void *verdict_ctx;
};

int change_init(struct change *c, struct store *s, const struct audit_signer *sg, struct tstore *t,
		struct flagstore *f, struct buf *err);
/*
 * Starts the rollback runner: it resumes the runs whose stored status is
 * running (left by a crash or a stop) and then sleeps until rollback_start
 * hands it a run; it never polls. Starts the rollout engine (rollout.h) too.
 */
int change_start(struct change *c, struct buf *err);
void change_release(struct change *c);

/* A stop has begun: start no queued rollback run (they stay stored as running); the one in hand finishes. */
void change_quiesce(struct change *c);

/*
 * Validates the `deploy:` and `approvals:` sections (as JSON; NULL = absent)
 * and, if apply, makes them current. Errors name the key path.
 */
int change_configure(struct change *c, const json_t *deploy, const json_t *approvals, bool apply, struct buf *err);

/* ---- config sets -------------------------------------------------------- */

struct config_put {
	const char *service, *env;
	const char *content;
	size_t len;
	const char *format;     /* "json" or "yaml" */
	int64_t expect_version; /* -1 = any */
	const char *actor, *rationale;
	int64_t version;        /* out */
};
int config_put(struct change *c, struct config_put *p, struct buf *err);
int config_rollback(struct change *c, const char *service, const char *env, int64_t to, const char *actor,
		    const char *rationale, int64_t *version, struct buf *err);
int config_schema_put(struct change *c, const char *service, const char *schema, size_t len, const char *actor,
		      const char *rationale, struct buf *err);

/* ---- deploys and migrations --------------------------------------------- */

struct deploy_req {
	const char *service, *env, *version, *artifact;
	int64_t config_version;      /* 0 = the latest config of service/env, if any */
	const char *const *migrations;
	size_t n_migrations;
	const char *actor, *note;
	const char *deployed_by;     /* who deployed, as the sender says (CI user): stored as reported_by, never as actor */
	const char *rollback_of;     /* set by the rollback runner */
	const char *run_id;
	bool no_event;               /* the sender's own change event is already on the timeline */
	char id[48];                 /* out */
};
int deploy_record(struct change *c, struct deploy_req *r, struct buf *err);
/* The deploy record (caller json_decref's). */
int deploy_get(struct change *c, const char *id, json_t **out, struct buf *err);
/* {"deploys":[…]} newest first, optionally of one service and/or one environment (NULL: all). */
int deploy_list_json(struct change *c, const char *service, const char *env, size_t limit, struct buf *out,
		     struct buf *err);

/*
 * The environment of a "deploy", "rollback-run" or "approval" by id, into
 * env ("" when it names none), so callers can check an environment-scoped
 * token against it. OODA_ENOTFOUND (detail in err) if there is no such object.
 */
int change_object_env(struct change *c, const char *kind, const char *id, char env[64], struct buf *err);

int migration_register(struct change *c, const char *service, const char *id, const char *up, const char *down,
		       bool reversible, const char *actor, struct buf *err);

/*
 * Canary verification of a deploy over [deploy time, +window] (window from
 * `deploy.verify.window`, default 10m, cut at now): the new version's
 * server spans against the previous version's in the same window, or the
 * pre-deploy window when none ran beside it. Stores the verdict, records a
 * change event, appends the verdict JSON to out.
 */
int deploy_verify(struct change *c, const char *id, struct buf *out, struct buf *err);

/* ---- rollbacks ---------------------------------------------------------- */

/* The inverse plan of a deploy as JSON ({steps, blocked, reason}); never acts. */
int rollback_plan(struct change *c, const char *deploy_id, bool allow_irreversible, json_t **plan, struct buf *err);

/*
 * Starts a durable rollback run of a deploy (or, when an approval rule
 * covers it, files an approval request instead: *approval_id set, no run).
 * Refuses a blocked plan. *run_id is set when a run starts. approved: the
 * caller is performing an approved request, so no new one is filed.
 */
int rollback_start(struct change *c, const char *deploy_id, bool allow_irreversible, bool approved, const char *actor,
		   const char *rationale, char run_id[48], char approval_id[48], struct buf *err);
int rollback_run_json(struct change *c, const char *run_id, struct buf *out, struct buf *err);
/* Waits (up to timeout_ms) until the run is no longer running; 0 when finished. */
int rollback_wait(struct change *c, const char *run_id, int timeout_ms);

/* ---- approvals ---------------------------------------------------------- */

/* Does an approval rule cover (class, env, tags)? Sets *expires_ns (the rule's validity). */
bool approval_required(struct change *c, const char *class, const char *env, const json_t *tags, int64_t *expires_ns);
/*
 * Does a flag.change rule protect a change of a flag in env from before to
 * after (flagd definitions; either may be NULL)? A rule protects the flag as
 * it is and as it would be, so removing the tags a rule matches is covered.
 */
bool approval_flag_protected(struct change *c, const char *env, const json_t *before, const json_t *after,
			     int64_t *expires_ns);
/* Files a pending request to perform action (JSON: {type, …}); id out. */
int approval_request(struct change *c, const char *class, const char *env, json_t *action, const char *actor,
		     const char *rationale, int64_t expires_ns, char id[48], struct buf *err);
/* Approve or reject; the requester may never decide their own request. On approval the action runs. */
int approval_decide(struct change *c, const char *id, bool approve, const char *actor, const char *rationale,
		    struct buf *out, struct buf *err);
/* Requests of status ("all" for every one), of one environment when env is not NULL. */
int approval_list_json(struct change *c, const char *status, const char *env, struct buf *out, struct buf *err);

/*
 * The semantic checks of the `deploy:` and `approvals:` sections of ooda.yaml
 * (config_check_fn in core/config.h), registered with config_register_check().
 */
struct buf;
int change_deploy_check(const char *section_json, struct buf *err);
int change_approvals_check(const char *section_json, struct buf *err);

#endif
