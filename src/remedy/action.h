/*
 * Remediation actions: one table of plug-ins (struct remedy_action), each
 * with a validate run at policy load and a run called by the engine for a
 * step of a run. exec runs an argv (never a shell) in its own process
 * group with an environment allow-list, a working directory, a timeout
 * (SIGTERM, then SIGKILL of the group) and captured output; http calls a
 * URL whose host is on remedy.http_allow_hosts, with header secrets read
 * from the environment or a file at run time and redacted from what is
 * kept; wait sleeps; notify and annotate go through hooks the daemon's
 * glue provides (remedy.h), so this stage reaches no other stage.
 */
#ifndef OODA_REMEDY_ACTION_H
#define OODA_REMEDY_ACTION_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"

#define ACTION_OUTPUT_MAX (16 * 1024)     /* bytes of output a step keeps */
#define ACTION_TIMEOUT_DEFAULT_NS (INT64_C(60) * 1000000000)
#define ACTION_TIMEOUT_MAX_NS (INT64_C(3600) * 1000000000)
#define ACTION_KILL_GRACE_NS (INT64_C(2) * 1000000000)

struct remedy_hooks;

/* What a step gives back; output capped at ACTION_OUTPUT_MAX, secrets redacted. */
struct action_result {
	bool ok;
	int status;          /* exit status, HTTP status, or -1 */
	bool timed_out;
	struct buf output;
	struct buf error;    /* why it failed, "" when ok */
	json_t *state;       /* owned, may be NULL: what the action's restore needs (kept as the step's undo_state) */
};

/* What a running action may use. */
struct action_env {
	const struct remedy_hooks *hooks;
	const char *run_id;
	const char *incident;   /* NULL when the trigger was no incident */
	const char *policy;
	const char *actor;      /* "policy:NAME@vN": whom the change stage records */
	bool approved;          /* a person approved the run */
	volatile const bool *stop; /* set: stop waiting early (shutdown or cancel) */
};

#define REMEDY_ACTION_VERSION 1

struct remedy_action {
	int version;             /* REMEDY_ACTION_VERSION */
	const char *name;
	bool idempotent;         /* default when a step does not say: running it twice does no harm */
	bool no_effect;          /* changes nothing a run would undo (wait, notify, annotate) */
	/*
	 * Checks params (the value of the step's action key); path names the
	 * field in errors ("policies[0].do[1].exec"); allow_hosts is the list of
	 * remedy.http_allow_hosts (may be NULL: none allowed).
	 */
	int (*validate)(const json_t *params, const json_t *allow_hosts, const char *path, struct buf *err);
	/* Runs it; fills res (action_result_init'ed by the caller). Returns 0 (see res->ok) or an error. */
	int (*run)(const struct action_env *env, const json_t *params, struct action_result *res);
	/* One line for dry-run and the run record: the exact argv or "POST URL". Appends to out. */
	void (*describe)(const json_t *params, struct buf *out);
	/*
	 * The action's own undo, for a step given no undo: puts back what run
	 * changed, from state (the undo_state run left; NULL when it left none).
	 * NULL: the action has no undo of its own.
	 */
	int (*restore)(const struct action_env *env, const json_t *params, const json_t *state,
		       struct action_result *res);
};

/* The action named name; NULL if none. */
const struct remedy_action *action_find(const char *name);

/* Every action, NULL-terminated. */
extern const struct remedy_action *const remedy_actions[];

void action_result_init(struct action_result *r);
void action_result_release(struct action_result *r);

/* Whether host (no port) is in allow (a JSON array of strings; JSON true: every host, for a check that cannot see the list). */
bool action_host_allowed(const json_t *allow, const char *host);

/*
 * Refuses a params object that is not a mapping or holds a key not in keys
 * (NULL-terminated): OODA_EINVAL with "PATH.KEY: unknown key" in err. Shared
 * by the action and policy loaders.
 */
int action_keys_check(const json_t *params, const char *const *keys, const char *path, struct buf *err);

#endif
