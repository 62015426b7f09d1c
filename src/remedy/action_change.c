/*
 * The rows of the action table (action.h) that change what the change
 * stage owns: flag (set a flag's state or default variant, or put an older
 * version back), config (put a config set's previous version back) and
 * rollback (run the rollback plan of a service's last deploy and wait for
 * it). They reach the change stage only through the hooks the daemon's glue
 * fills (hooks.h), as actor "policy:NAME@vN". flag and config bring their
 * own undo (restore): the version current before the step is kept in the
 * step's undo_state and made current again. rollback has none, so a policy
 * holding one needs mode: approve or a written waiver (policy.c).
 */
#include "remedy/action.h"
#include "remedy/action_impl.h"
#include "core/error.h"
#include "core/time.h"
#include "remedy/hooks.h"

#include <string.h>

#define NAME_MAX_LEN 255
#define ROLLBACK_TIMEOUT_DEFAULT_NS (INT64_C(600) * 1000000000)

/* [A-Za-z0-9_.-], 1..max: the names the change stage takes for environments, flags and services. */
static bool name_ok(const json_t *v, size_t max)
{
	const char *s = json_string_value(v);
	return s && *s && strlen(s) <= max &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == strlen(s);
}

static int name_field(const json_t *p, const char *key, bool required, const char *path, struct buf *err)
{
	json_t *v = json_object_get(p, key);
	if ((!v && !required) || name_ok(v, NAME_MAX_LEN))
		return 0;
	buf_addf(err, "%s.%s: %s1 to %d of [A-Za-z0-9_.-]", path, key, required ? "required: " : "", NAME_MAX_LEN);
	return OODA_EINVAL;
}

/* A version field: an integer from 1, or "previous" (the version before the current one). */
static int version_field(const json_t *p, const char *key, const char *path, struct buf *err)
{
	json_t *v = json_object_get(p, key);
	if (!v || (json_is_integer(v) && json_integer_value(v) >= 1) ||
	    (json_is_string(v) && !strcmp(json_string_value(v), "previous")))
		return 0;
	buf_addf(err, "%s.%s: a version number from 1, or \"previous\"", path, key);
	return OODA_EINVAL;
}

/* The version a to field asks for; 0 for "previous" (the hooks take 0 so). */
static int64_t version_of(const json_t *v)
{
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static void version_describe(const json_t *v, struct buf *out)
{
	if (json_is_integer(v))
		buf_addf(out, "v%lld", (long long)json_integer_value(v));
	else
		buf_adds(out, "the previous version");
}

/* Fails res when the hook is missing; true when it is there. */
static bool hook_there(const void *fn, const char *what, struct action_result *res)
{
	if (fn)
		return true;
	buf_addf(&res->error, "%s: not available in this daemon", what);
	return false;
}

/* The rationale the change stage records: what and which run ("remediation run run-…: flag set"). */
static const char *why(const struct action_env *env, const char *what, char *out, size_t size)
{
	snprintf(out, size, "remediation run %s: %s", env->run_id ? env->run_id : "?", what);
	return out;
}

static void done(struct action_result *res, int rc)
{
	res->ok = rc == 0;
	res->status = rc;
	if (rc && !res->error.len)
		buf_adds(&res->error, ooda_strerror(rc));
}

/* ---- flag ----------------------------------------------------------------------- */

static const char *const flag_keys[] = { "env", "key", "state", "variant", "to", NULL };

static int flag_validate(const json_t *p, const json_t *hosts, const char *path, struct buf *err)
{
	(void)hosts;
	int rc = action_keys_check(p, flag_keys, path, err);
	if (!rc)
		rc = name_field(p, "env", true, path, err);
	if (!rc)
		rc = name_field(p, "key", true, path, err);
	if (!rc)
		rc = name_field(p, "variant", false, path, err);
	if (!rc)
		rc = version_field(p, "to", path, err);
	if (rc)
		return rc;
	const char *st = json_string_value(json_object_get(p, "state"));
	if (json_object_get(p, "state") && (!st || (strcmp(st, "ENABLED") && strcmp(st, "DISABLED")))) {
		buf_addf(err, "%s.state: ENABLED or DISABLED", path);
		return OODA_EINVAL;
	}
	bool set = st || json_object_get(p, "variant"), to = json_object_get(p, "to") != NULL;
	if (set == to) {
		buf_addf(err, "%s: either state and/or variant (set the flag) or to (put version to back)", path);
		return OODA_EINVAL;
	}
	return 0;
}

static void flag_describe(const json_t *p, struct buf *out)
{
	const char *env = json_string_value(json_object_get(p, "env")), *key = json_string_value(json_object_get(p, "key"));
	buf_addf(out, "flag %s/%s", env, key);
	if (json_object_get(p, "to")) {
		buf_adds(out, " back to ");
		version_describe(json_object_get(p, "to"), out);
	}
	const char *st = json_string_value(json_object_get(p, "state"));
	const char *var = json_string_value(json_object_get(p, "variant"));
	if (st)
		buf_addf(out, " state=%s", st);
	if (var)
		buf_addf(out, " defaultVariant=%s", var);
}

/* What a flag or config step changed: the output line ("flag prod/x: v2 -> v3") and the undo state. */
static void changed(struct action_result *res, const char *what, const char *a, const char *b, int64_t before,
		    int64_t after)
{
	buf_addf(&res->output, "%s %s/%s: v%lld -> v%lld", what, a, b, (long long)before, (long long)after);
	res->state = json_pack("{ss ss ss sI sI}", "what", what, "of", a, "name", b, "before", (json_int_t)before,
			       "after", (json_int_t)after);
}

static int flag_run(const struct action_env *env, const json_t *p, struct action_result *res)
{
	char w[160];
	const struct remedy_hooks *h = env->hooks;
	const char *e = json_string_value(json_object_get(p, "env")), *key = json_string_value(json_object_get(p, "key"));
	int64_t before = 0, after = 0;
	int rc;
	if (json_object_get(p, "to")) {
		if (!hook_there(h ? (const void *)h->flag_restore : NULL, "flag", res))
			return 0;
		rc = h->flag_restore(h->ctx, e, key, version_of(json_object_get(p, "to")), env->actor,
				     why(env, "flag back to an earlier version", w, sizeof(w)), &before, &after, &res->error);
	} else {
		if (!hook_there(h ? (const void *)h->flag_set : NULL, "flag", res))
			return 0;
		rc = h->flag_set(h->ctx, e, key, json_string_value(json_object_get(p, "state")),
				 json_string_value(json_object_get(p, "variant")), env->actor, why(env, "flag set", w, sizeof(w)), &before,
				 &after, &res->error);
	}
	if (!rc)
		changed(res, "flag", e, key, before, after);
	done(res, rc);
	return 0;
}

static int flag_restore(const struct action_env *env, const json_t *p, const json_t *state, struct action_result *res)
{
	char w[160];
	const struct remedy_hooks *h = env->hooks;
	json_int_t to = json_integer_value(json_object_get(state, "before"));
	if (to < 1) {
		buf_adds(&res->error, "flag: the step left no version to put back");
		return 0;
	}
	if (!hook_there(h ? (const void *)h->flag_restore : NULL, "flag", res))
		return 0;
	const char *e = json_string_value(json_object_get(p, "env")), *key = json_string_value(json_object_get(p, "key"));
	int64_t before = 0, after = 0;
	int rc = h->flag_restore(h->ctx, e, key, to, env->actor, why(env, "undo, the flag as it was before the run", w, sizeof(w)),
				 &before, &after, &res->error);
	if (!rc)
		buf_addf(&res->output, "flag %s/%s: v%lld put back as v%lld", e, key, (long long)to, (long long)after);
	done(res, rc);
	return 0;
}

/* ---- config ------------------------------------------------------------------------ */

static const char *const config_keys[] = { "service", "env", "to", NULL };

static int config_validate(const json_t *p, const json_t *hosts, const char *path, struct buf *err)
{
	(void)hosts;
	int rc = action_keys_check(p, config_keys, path, err);
	if (!rc)
		rc = name_field(p, "service", true, path, err);
	if (!rc)
		rc = name_field(p, "env", true, path, err);
	if (!rc)
		rc = version_field(p, "to", path, err);
	return rc;
}

static void config_describe(const json_t *p, struct buf *out)
{
	buf_addf(out, "config %s/%s back to ", json_string_value(json_object_get(p, "service")),
		 json_string_value(json_object_get(p, "env")));
	version_describe(json_object_get(p, "to"), out);
}

static int config_run(const struct action_env *env, const json_t *p, struct action_result *res)
{
	char w[160];
	const struct remedy_hooks *h = env->hooks;
	if (!hook_there(h ? (const void *)h->config_restore : NULL, "config", res))
		return 0;
	const char *svc = json_string_value(json_object_get(p, "service")), *e = json_string_value(json_object_get(p, "env"));
	int64_t before = 0, after = 0;
	int rc = h->config_restore(h->ctx, svc, e, version_of(json_object_get(p, "to")), env->actor,
				   why(env, "config rolled back", w, sizeof(w)), &before, &after, &res->error);
	if (!rc)
		changed(res, "config", svc, e, before, after);
	done(res, rc);
	return 0;
}

static int config_restore(const struct action_env *env, const json_t *p, const json_t *state, struct action_result *res)
{
	char w[160];
	const struct remedy_hooks *h = env->hooks;
	json_int_t to = json_integer_value(json_object_get(state, "before"));
	if (to < 1) {
		buf_adds(&res->error, "config: the step left no version to put back");
		return 0;
	}
	if (!hook_there(h ? (const void *)h->config_restore : NULL, "config", res))
		return 0;
	const char *svc = json_string_value(json_object_get(p, "service")), *e = json_string_value(json_object_get(p, "env"));
	int64_t before = 0, after = 0;
	int rc = h->config_restore(h->ctx, svc, e, to, env->actor, why(env, "undo, the config as it was before the run", w, sizeof(w)),
				   &before, &after, &res->error);
	if (!rc)
		buf_addf(&res->output, "config %s/%s: v%lld put back as v%lld", svc, e, (long long)to, (long long)after);
	done(res, rc);
	return 0;
}

/* ---- rollback -------------------------------------------------------------------------- */

static const char *const rollback_keys[] = { "service", "env", "timeout", NULL };

static int rollback_validate(const json_t *p, const json_t *hosts, const char *path, struct buf *err)
{
	(void)hosts;
	int rc = action_keys_check(p, rollback_keys, path, err);
	if (!rc)
		rc = name_field(p, "service", true, path, err);
	if (!rc)
		rc = name_field(p, "env", false, path, err);
	const char *t = json_string_value(json_object_get(p, "timeout"));
	int64_t d = 0;
	if (!rc && json_object_get(p, "timeout") &&
	    (!t || ooda_duration_parse(t, strlen(t), &d) || d <= 0 || d > ACTION_TIMEOUT_MAX_NS)) {
		buf_addf(err, "%s.timeout: a duration such as \"10m\", above 0 and at most 1h", path);
		rc = OODA_EINVAL;
	}
	return rc;
}

static void rollback_describe(const json_t *p, struct buf *out)
{
	const char *e = json_string_value(json_object_get(p, "env"));
	buf_addf(out, "rollback the last deploy of %s%s%s (its rollback plan), waiting for the run",
		 json_string_value(json_object_get(p, "service")), e ? " in " : "", e ? e : "");
}

static int rollback_run(const struct action_env *env, const json_t *p, struct action_result *res)
{
	char w[160];
	const struct remedy_hooks *h = env->hooks;
	if (!hook_there(h ? (const void *)h->rollback_last : NULL, "rollback", res))
		return 0;
	int64_t timeout = ROLLBACK_TIMEOUT_DEFAULT_NS;
	const char *t = json_string_value(json_object_get(p, "timeout"));
	if (t)
		ooda_duration_parse(t, strlen(t), &timeout);
	int rc = h->rollback_last(h->ctx, json_string_value(json_object_get(p, "service")),
				  json_string_value(json_object_get(p, "env")), env->approved, env->actor,
				  why(env, "rollback of the last deploy", w, sizeof(w)), timeout, &res->output, &res->error);
	res->timed_out = rc == OODA_ETIMEOUT;
	done(res, rc);
	return 0;
}

const struct remedy_action action_flag = {
	REMEDY_ACTION_VERSION, "flag", true, false, flag_validate, flag_run, flag_describe, flag_restore,
};
const struct remedy_action action_config = {
	REMEDY_ACTION_VERSION, "config", false, false, config_validate, config_run, config_describe, config_restore,
};
const struct remedy_action action_rollback = {
	REMEDY_ACTION_VERSION, "rollback", false, false, rollback_validate, rollback_run, rollback_describe, NULL,
};
