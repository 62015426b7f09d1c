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
	/* Whether probe service/name passes now. */
	int (*probe_passing)(void *ctx, const char *service, const char *name, bool *passing);
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
};

#endif
