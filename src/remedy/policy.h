/*
 * A remediation policy as a document: when it triggers, the preconditions
 * checked right before acting, the ordered do steps (each one action of
 * action.h with its undo, or a recipe of recipe.h), the expected outcome,
 * the mode (auto, approve, dry-run) and its guardrails. policy_load checks the whole document —
 * unknown keys, a step that cannot be undone without approval or a waiver,
 * an http host off the allow-list — and fills the guardrails, defaults
 * included; nothing here runs anything.
 */
#ifndef OODA_REMEDY_POLICY_H
#define OODA_REMEDY_POLICY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"

#define POLICY_MAX_STEPS 32
#define POLICY_MAX_PRECONDITIONS 16
#define FLAG_CHANGED_WITHIN_DEFAULT_NS (INT64_C(15) * 60 * 1000000000) /* precondition flag_changed */

/* Defaults of a policy's guardrails (docs/remediation.md). */
#define GUARD_COOLDOWN_DEFAULT_NS (INT64_C(600) * 1000000000)   /* 10m */
#define GUARD_WINDOW_DEFAULT_NS (INT64_C(3600) * 1000000000)    /* 1h */
#define GUARD_MAX_RUNS_DEFAULT 3                                /* per window */
#define GUARD_MAX_CONCURRENT_DEFAULT 1
#define GUARD_MAX_SERVICES_DEFAULT 2                            /* distinct services per window */
#define GUARD_BREAKER_DEFAULT 3                                 /* consecutive failed runs */

enum policy_mode { POLICY_AUTO, POLICY_APPROVE, POLICY_DRY_RUN };

struct policy_guardrails {
	int64_t cooldown_ns;
	int64_t window_ns;
	int max_runs;
	int max_concurrent;
	int max_services;
	int breaker;
};

/* A loaded policy: the document as given plus what the engine reads often. */
struct remedy_policy {
	json_t *doc;                 /* owned; the document as validated */
	const char *name;            /* borrowed from doc */
	enum policy_mode mode;
	struct policy_guardrails guard;
	int64_t for_ns;              /* when.for */
	int64_t expect_timeout_ns;   /* expect.timeout; 0 when there is no expect */
};

/*
 * Checks doc (a policy mapping) and fills *out (policy_release), taking a
 * reference on doc. path prefixes field names in err ("policies[2]");
 * allow_hosts is remedy.http_allow_hosts (NULL: none). Returns 0 or
 * OODA_EINVAL with "PATH.field: reason" in err.
 */
int policy_load(const json_t *doc, const json_t *allow_hosts, const char *path, struct remedy_policy *out,
		struct buf *err);

void policy_release(struct remedy_policy *p);

/* "auto", "approve", "dry-run". */
const char *policy_mode_name(enum policy_mode m);

/*
 * Whether step (one element of do, or an undo) takes effect without a
 * way back: not a no-effect action, no undo of its own (restore) and no
 * undo given.
 */
bool policy_step_irreversible(const json_t *step);

/* The action name of a step (its one action key) and its params; NULL when malformed. */
const char *policy_step_action(const json_t *step, json_t **params);

#endif
