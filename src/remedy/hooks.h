/*
 * What the remedy stage asks of the rest of the daemon, as function
 * pointers the glue (api/remedy_glue.c) fills: the stage itself includes
 * no other stage of its rank. Every hook may be NULL: a check it answers
 * is then "unknown" and says so in the run's rationale.
 */
#ifndef OODA_REMEDY_HOOKS_H
#define OODA_REMEDY_HOOKS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct remedy_hooks {
	void *ctx;
	/*
	 * Queues a notification: to target when given (paged directly), else
	 * through the notify routes. event "remediation" is an escalation
	 * (severity page); any other ("remediation-succeeded") is for the record
	 * (severity info). Returns rows queued or < 0.
	 */
	int (*notify)(void *ctx, const char *target, const char *event, const char *text, const char *incident,
		      const char *dedupe, struct buf *err);
	/* Appends a timeline entry of kind to incident (borrowed data JSON). */
	int (*annotate)(void *ctx, const char *incident, const char *kind, const char *actor, const char *text,
			const json_t *data, struct buf *err);
	/* Whether the alert with fingerprint fp is firing now. */
	int (*alert_firing)(void *ctx, const char *fp, bool *firing);
	/*
	 * Whether probe service/name passes now (*passing: its state is passing and
	 * its newest attempt succeeded), and whether that
	 * attempt began at or after since_ns (*checked; always true for 0): a
	 * result from before the steps ran says nothing of what they did.
	 */
	int (*probe_passing)(void *ctx, const char *service, const char *name, int64_t since_ns, bool *passing,
			     bool *checked);
	/* Whether a deploy or a rollback of service (NULL: any) is in progress. */
	int (*deploy_in_progress)(void *ctx, const char *service, bool *busy);
	/*
	 * Files a four-eyes approval request (type "remedy.run", run) in
	 * requester's name; writes its id. Its decision comes back through
	 * remedy_run_approved.
	 */
	int (*approval_request)(void *ctx, const char *run, const char *requester, const char *rationale,
				int64_t ttl_ns, char id[48], struct buf *err);
	/* Decides approval request id as actor (the requester may not): OODA_EFORBIDDEN, OODA_ECONFLICT. */
	int (*approval_decide)(void *ctx, const char *id, bool approve, const char *actor, const char *rationale,
			       struct buf *out, struct buf *err);
	/*
	 * Sets flag env/key (it must exist) as actor: state "ENABLED" or
	 * "DISABLED" and/or defaultVariant variant (either may be NULL). Writes
	 * the version current before (*before) and the one written (*after).
	 */
	int (*flag_set)(void *ctx, const char *env, const char *key, const char *state, const char *variant,
			const char *actor, const char *rationale, int64_t *before, int64_t *after, struct buf *err);
	/*
	 * The current version of flag env/key (*version), when it was written
	 * (*at_ns) and by whom (author, truncated to author_size).
	 * OODA_ENOTFOUND: no such flag.
	 */
	int (*flag_changed)(void *ctx, const char *env, const char *key, int64_t *version, int64_t *at_ns,
			    char *author, size_t author_size);
	/* Makes version to of flag env/key current again (0: the version before the current one), as a new version; *before, *after as above. */
	int (*flag_restore)(void *ctx, const char *env, const char *key, int64_t to, const char *actor,
			    const char *rationale, int64_t *before, int64_t *after, struct buf *err);
	/*
	 * Makes version to of config set service/env current again (0: the
	 * version before the current one), as a new version; *before, *after.
	 */
	int (*config_restore)(void *ctx, const char *service, const char *env, int64_t to, const char *actor,
			      const char *rationale, int64_t *before, int64_t *after, struct buf *err);
	/*
	 * Starts the rollback plan of the last deploy of service (of env when
	 * not NULL) as actor and waits up to timeout_ns for its run to finish.
	 * approved: the remediation run was approved by a person. Appends
	 * {"deploy","run","status"} to out; 0 only when the run finished done.
	 */
	int (*rollback_last)(void *ctx, const char *service, const char *env, bool approved, const char *actor,
			     const char *rationale, int64_t timeout_ns, struct buf *out, struct buf *err);
	/*
	 * The error ratio (errors / requests) of service's server spans over
	 * the last window_ns, counting only what was served since since_ns (0:
	 * no bound) (*ratio, NaN without requests; *requests, how many), and
	 * over the window of the same length before the trigger at base_end_ns
	 * (*baseline, NaN without requests), from live RED.
	 */
	int (*error_ratio)(void *ctx, const char *service, int64_t window_ns, int64_t since_ns, int64_t base_end_ns,
			   double *ratio, double *requests, double *baseline);
	/* The fraction of SLO slo's error budget left now (may be below 0). */
	int (*slo_budget)(void *ctx, const char *slo, double *remaining);
	/* How many probes of service pass and how many there are. OODA_ENOTFOUND: none. */
	int (*service_probes)(void *ctx, const char *service, int *passing, int *total);
};

#endif
