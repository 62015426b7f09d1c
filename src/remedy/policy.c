/*
 * The policy loader (policy.h): one pass over a policy document that
 * refuses unknown keys, checks every step with its action's validate
 * (action.h), and reads the guardrails with their defaults. The same
 * loader serves ooda.yaml's policies: section and `ooda policy apply`, so
 * both refuse the same documents with the same field names.
 */
#include "remedy/policy.h"
#include "core/error.h"
#include "core/time.h"
#include "remedy/action.h"
#include "remedy/recipe.h"

#include <string.h>

static const char *const mode_names[] = { [POLICY_AUTO] = "auto", [POLICY_APPROVE] = "approve",
					  [POLICY_DRY_RUN] = "dry-run" };

const char *policy_mode_name(enum policy_mode m)
{
	return (unsigned)m <= POLICY_DRY_RUN ? mode_names[m] : "?";
}

static const char *const policy_keys[] = { "name",	 "description", "when",	    "precondition", "do",
					   "expect",	 "on_failure",	"mode",	    "guardrails",   "irreversible_ok",
					   "rationale", NULL };
static const char *const when_keys[] = { "alert", "probe", "slo", "canary", "service", "severity", "for", NULL };
static const char *const canary_kinds[] = { "deploy-verify", "rollout-abort", "any", NULL };
static const char *const expect_keys[] = { "alert_resolved", "probe", "error_ratio", "timeout", NULL };
static const char *const ratio_keys[] = { "service", "below", "baseline", "window", NULL };
static const char *const budget_keys[] = { "slo", "below", "above", NULL };
static const char *const flag_changed_keys[] = { "env", "key", "within", NULL };
static const char *const probe_keys[] = { "service", "name", NULL };
static const char *const failure_keys[] = { "undo", "notify", NULL };
static const char *const guard_keys[] = { "cooldown", "window", "max_runs", "max_concurrent", "max_services",
					  "breaker", NULL };
static const char *const step_extra_keys[] = { "undo", "idempotent", "name", NULL };
static const char *const preconditions[] = { "no_deploy_in_progress", "business_hours", "alert_firing", NULL };

static int duration(const json_t *obj, const char *key, const char *path, int64_t *ns, struct buf *err)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return 0;
	const char *s = json_string_value(v);
	int64_t d;
	if (!s || ooda_duration_parse(s, strlen(s), &d) || d < 0 || d > INT64_C(7) * 86400 * OODA_NS_PER_SEC) {
		buf_addf(err, "%s.%s: a duration such as \"10m\" (at most 7d)", path, key);
		return OODA_EINVAL;
	}
	*ns = d;
	return 0;
}

static int count(const json_t *obj, const char *key, const char *path, int lo, int hi, int *out, struct buf *err)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
		buf_addf(err, "%s.%s: an integer from %d to %d", path, key, lo, hi);
		return OODA_EINVAL;
	}
	*out = (int)json_integer_value(v);
	return 0;
}

static bool nonempty_string(const json_t *v, size_t max)
{
	return json_is_string(v) && json_string_length(v) > 0 && json_string_length(v) <= max;
}

const char *policy_step_action(const json_t *step, json_t **params)
{
	const char *k;
	json_t *v;
	const char *found = NULL;
	json_object_foreach((json_t *)step, k, v) {
		if (!action_find(k))
			continue;
		if (found)
			return NULL; /* two actions in one step */
		found = k;
		if (params)
			*params = v;
	}
	return found;
}

bool policy_step_irreversible(const json_t *step)
{
	const struct remedy_action *a = action_find(policy_step_action(step, NULL));
	return a && !a->no_effect && !a->restore && !json_object_get(step, "undo");
}

/* One step (do[i], or an undo when is_undo): exactly one action key, plus undo/idempotent/name. */
static int step_check(const json_t *step, const json_t *hosts, const char *path, bool is_undo, struct buf *err)
{
	if (!json_is_object(step)) {
		buf_addf(err, "%s: a mapping with one action key (exec, http, wait, notify, annotate, flag, config, rollback)", path);
		return OODA_EINVAL;
	}
	json_t *params = NULL;
	const char *name = policy_step_action(step, &params);
	if (!name) {
		buf_addf(err, "%s: exactly one action key: exec, http, wait, notify, annotate, flag, config or rollback", path);
		return OODA_EINVAL;
	}
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)step, k, v) {
		if (!strcmp(k, name))
			continue;
		size_t i = 0;
		while (step_extra_keys[i] && strcmp(step_extra_keys[i], k))
			i++;
		if (!step_extra_keys[i] || (is_undo && strcmp(k, "name"))) {
			buf_addf(err, "%s.%s: unknown key", path, k);
			return OODA_EINVAL;
		}
	}
	json_t *idem = json_object_get(step, "idempotent");
	if (idem && !json_is_boolean(idem)) {
		buf_addf(err, "%s.idempotent: true or false", path);
		return OODA_EINVAL;
	}
	json_t *nm = json_object_get(step, "name");
	if (nm && !nonempty_string(nm, 128)) {
		buf_addf(err, "%s.name: a string of 1 to 128 bytes", path);
		return OODA_EINVAL;
	}
	struct buf sub = BUF_INIT;
	buf_addf(&sub, "%s.%s", path, name);
	int rc = action_find(name)->validate(params, hosts, sub.data, err);
	buf_release(&sub);
	json_t *undo = json_object_get(step, "undo");
	if (!rc && undo) {
		struct buf up = BUF_INIT;
		buf_addf(&up, "%s.undo", path);
		rc = step_check(undo, hosts, up.data, true, err);
		buf_release(&up);
	}
	return rc;
}

static int when_check(const json_t *w, const char *path, int64_t *for_ns, struct buf *err)
{
	struct buf p = BUF_INIT;
	buf_addf(&p, "%s.when", path);
	int rc = action_keys_check(w, when_keys, p.data, err);
	json_t *pr = json_object_get(w, "probe");
	if (!rc && pr) {
		/* a probe that fails is the alert "probe:SERVICE/NAME" (detect/probe.h) */
		if (!json_is_object(pr) || json_object_size(pr) != 2 || !nonempty_string(json_object_get(pr, "service"), 256) ||
		    !nonempty_string(json_object_get(pr, "name"), 256)) {
			buf_addf(err, "%s.probe: {service, name} of a probe", p.data);
			rc = OODA_EINVAL;
		} else if (json_object_get(w, "alert")) {
			buf_addf(err, "%s.probe: an alert or a probe, not both", p.data);
			rc = OODA_EINVAL;
		}
	}
	json_t *slo = json_object_get(w, "slo");
	if (!rc && slo && (pr || json_object_get(w, "alert"))) {
		/* an SLO's burn-rate alert is "slo:NAME" (detect/slo.h) */
		buf_addf(err, "%s.slo: an alert, a probe or an SLO, not two of them", p.data);
		rc = OODA_EINVAL;
	}
	json_t *can = json_object_get(w, "canary");
	if (!rc && can) {
		const char *cs = json_string_value(can);
		size_t k = 0;
		while (cs && canary_kinds[k] && strcmp(canary_kinds[k], cs))
			k++;
		if (!cs || !canary_kinds[k]) {
			buf_addf(err, "%s.canary: deploy-verify (a deploy's verification failed), rollout-abort or any", p.data);
			rc = OODA_EINVAL;
		} else if (pr || slo || json_object_get(w, "alert")) {
			buf_addf(err, "%s.canary: a canary verdict, not also an alert, a probe or an SLO", p.data);
			rc = OODA_EINVAL;
		}
	}
	if (!rc && !json_object_get(w, "alert") && !pr && !slo && !can && !json_object_get(w, "service")) {
		buf_addf(err, "%s: names an alert, a probe, an slo, a canary verdict, a service, or both", p.data);
		rc = OODA_EINVAL;
	}
	const char *fields[] = { "alert", "service", "severity", "slo" };
	for (size_t i = 0; !rc && i < 4; i++) {
		json_t *v = json_object_get(w, fields[i]);
		if (v && !nonempty_string(v, 256)) {
			buf_addf(err, "%s.%s: a string of 1 to 256 bytes", p.data, fields[i]);
			rc = OODA_EINVAL;
		}
	}
	if (!rc)
		rc = duration(w, "for", p.data, for_ns, err);
	buf_release(&p);
	return rc;
}

/* A fraction field from 0 to 1 (absent: ok). */
static int fraction(const json_t *obj, const char *key, const char *path, struct buf *err)
{
	json_t *v = json_object_get(obj, key);
	if (!v || (json_is_number(v) && json_number_value(v) >= 0 && json_number_value(v) <= 1))
		return 0;
	buf_addf(err, "%s.%s: a fraction from 0 to 1", path, key);
	return OODA_EINVAL;
}

/*
 * {flag_changed: {env, key, within}}: the flag's current version was written
 * by someone other than a policy within `within` (default 15m, at most 1d)
 * before the trigger. env and key as the flag action takes them.
 */
static int flag_changed_check(const json_t *fc, const char *path, struct buf *err)
{
	int rc = action_keys_check(fc, flag_changed_keys, path, err);
	const char *const req[] = { "env", "key" };
	for (size_t k = 0; !rc && k < 2; k++) {
		const char *s = json_string_value(json_object_get(fc, req[k]));
		if (!s || !*s || strlen(s) > 255 ||
		    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != strlen(s)) {
			buf_addf(err, "%s.%s: required: 1 to 255 of [A-Za-z0-9_.-]", path, req[k]);
			rc = OODA_EINVAL;
		}
	}
	int64_t within = 0;
	if (!rc)
		rc = duration(fc, "within", path, &within, err);
	if (!rc && json_object_get(fc, "within") && (within < OODA_NS_PER_SEC || within > INT64_C(86400) * OODA_NS_PER_SEC)) {
		buf_addf(err, "%s.within: from 1s to 1d", path);
		rc = OODA_EINVAL;
	}
	return rc;
}

/* {error_budget: {slo, below|above}}, {services_healthy: [SERVICE, …]} or {flag_changed: {env, key, within}}. */
static int precondition_object_check(const json_t *c, const char *path, size_t i, struct buf *err)
{
	struct buf p = BUF_INIT;
	buf_addf(&p, "%s.precondition[%zu]", path, i);
	json_t *eb = json_object_get(c, "error_budget"), *sh = json_object_get(c, "services_healthy");
	json_t *fc = json_object_get(c, "flag_changed");
	int rc = 0;
	if (json_object_size(c) != 1 || (!eb && !sh && !fc)) {
		buf_addf(err, "%s: one key, error_budget, services_healthy or flag_changed", p.data);
		rc = OODA_EINVAL;
	} else if (fc) {
		buf_adds(&p, ".flag_changed");
		rc = flag_changed_check(fc, p.data, err);
	} else if (eb) {
		buf_adds(&p, ".error_budget");
		rc = action_keys_check(eb, budget_keys, p.data, err);
		if (!rc && !nonempty_string(json_object_get(eb, "slo"), 256)) {
			buf_addf(err, "%s.slo: the SLO's name", p.data);
			rc = OODA_EINVAL;
		}
		if (!rc && !json_object_get(eb, "below") == !json_object_get(eb, "above")) {
			buf_addf(err, "%s: below or above (a fraction of the budget left), one of them", p.data);
			rc = OODA_EINVAL;
		}
		if (!rc)
			rc = fraction(eb, "below", p.data, err);
		if (!rc)
			rc = fraction(eb, "above", p.data, err);
	} else {
		buf_adds(&p, ".services_healthy");
		size_t k;
		json_t *v;
		if (!json_is_array(sh) || !json_array_size(sh) || json_array_size(sh) > 16) {
			buf_addf(err, "%s: a list of 1 to 16 services whose probes must all pass", p.data);
			rc = OODA_EINVAL;
		}
		json_array_foreach(rc ? NULL : sh, k, v) {
			if (!nonempty_string(v, 256)) {
				buf_addf(err, "%s[%zu]: a service name", p.data, k);
				rc = OODA_EINVAL;
				break;
			}
		}
	}
	buf_release(&p);
	return rc;
}

static int preconditions_check(const json_t *list, const char *path, struct buf *err)
{
	if (!json_is_array(list) || json_array_size(list) > POLICY_MAX_PRECONDITIONS) {
		buf_addf(err, "%s.precondition: a list of at most %d checks", path, POLICY_MAX_PRECONDITIONS);
		return OODA_EINVAL;
	}
	size_t i;
	json_t *c;
	json_array_foreach(list, i, c) {
		if (json_is_object(c)) {
			int rc = precondition_object_check(c, path, i, err);
			if (rc)
				return rc;
			continue;
		}
		const char *name = json_string_value(c);
		size_t k = 0;
		while (name && preconditions[k] && strcmp(preconditions[k], name))
			k++;
		if (!name || !preconditions[k]) {
			buf_addf(err, "%s.precondition[%zu]: one of no_deploy_in_progress, business_hours, alert_firing, "
				      "{error_budget: {slo, below|above}}, {services_healthy: [SERVICE…]}, "
				      "{flag_changed: {env, key, within}}",
				 path, i);
			return OODA_EINVAL;
		}
	}
	return 0;
}

static int expect_check(const json_t *e, const char *path, int64_t *timeout, struct buf *err)
{
	struct buf p = BUF_INIT;
	buf_addf(&p, "%s.expect", path);
	int rc = action_keys_check(e, expect_keys, p.data, err);
	json_t *ar = json_object_get(e, "alert_resolved"), *pr = json_object_get(e, "probe");
	if (!rc && ar && !json_is_boolean(ar)) {
		buf_addf(err, "%s.alert_resolved: true or false", p.data);
		rc = OODA_EINVAL;
	}
	if (!rc && pr) {
		buf_adds(&p, ".probe");
		rc = action_keys_check(pr, probe_keys, p.data, err);
		if (!rc && (!nonempty_string(json_object_get(pr, "service"), 256) ||
			    !nonempty_string(json_object_get(pr, "name"), 256))) {
			buf_addf(err, "%s: service and name of a probe", p.data);
			rc = OODA_EINVAL;
		}
		buf_setlen(&p, p.len - 6);
	}
	json_t *er = json_object_get(e, "error_ratio");
	if (!rc && er) {
		buf_adds(&p, ".error_ratio");
		rc = action_keys_check(er, ratio_keys, p.data, err);
		json_t *bl = json_object_get(er, "baseline");
		int64_t win = 0;
		if (!rc && !nonempty_string(json_object_get(er, "service"), 256)) {
			buf_addf(err, "%s.service: the service whose server spans count", p.data);
			rc = OODA_EINVAL;
		}
		if (!rc && bl && !json_is_boolean(bl)) {
			buf_addf(err, "%s.baseline: true or false", p.data);
			rc = OODA_EINVAL;
		}
		if (!rc && !json_object_get(er, "below") && !json_is_true(bl)) {
			buf_addf(err, "%s: below (a fraction), baseline: true, or both", p.data);
			rc = OODA_EINVAL;
		}
		if (!rc)
			rc = fraction(er, "below", p.data, err);
		if (!rc)
			rc = duration(er, "window", p.data, &win, err);
		if (!rc && json_object_get(er, "window") && (win < OODA_NS_PER_SEC || win > 3600 * OODA_NS_PER_SEC)) {
			buf_addf(err, "%s.window: from 1s to 1h", p.data);
			rc = OODA_EINVAL;
		}
		buf_setlen(&p, p.len - strlen(".error_ratio"));
	}
	if (!rc && !json_is_true(ar) && !pr && !er) {
		buf_addf(err, "%s: alert_resolved: true, a probe, an error_ratio, or more of them", p.data);
		rc = OODA_EINVAL;
	}
	*timeout = 5 * 60 * OODA_NS_PER_SEC;
	if (!rc)
		rc = duration(e, "timeout", p.data, timeout, err);
	if (!rc && *timeout <= 0) {
		buf_addf(err, "%s.timeout: above 0", p.data);
		rc = OODA_EINVAL;
	}
	buf_release(&p);
	return rc;
}

static int guard_check(const json_t *g, const char *path, struct policy_guardrails *out, struct buf *err)
{
	struct policy_guardrails d = {
		GUARD_COOLDOWN_DEFAULT_NS,    GUARD_WINDOW_DEFAULT_NS,	  GUARD_MAX_RUNS_DEFAULT,
		GUARD_MAX_CONCURRENT_DEFAULT, GUARD_MAX_SERVICES_DEFAULT, GUARD_BREAKER_DEFAULT,
	};
	*out = d;
	if (!g)
		return 0;
	struct buf p = BUF_INIT;
	buf_addf(&p, "%s.guardrails", path);
	int rc = action_keys_check(g, guard_keys, p.data, err);
	if (!rc)
		rc = duration(g, "cooldown", p.data, &out->cooldown_ns, err);
	if (!rc)
		rc = duration(g, "window", p.data, &out->window_ns, err);
	if (!rc && out->window_ns <= 0) {
		buf_addf(err, "%s.window: above 0", p.data);
		rc = OODA_EINVAL;
	}
	if (!rc)
		rc = count(g, "max_runs", p.data, 1, 1000, &out->max_runs, err);
	if (!rc)
		rc = count(g, "max_concurrent", p.data, 1, 64, &out->max_concurrent, err);
	if (!rc)
		rc = count(g, "max_services", p.data, 1, 1000, &out->max_services, err);
	if (!rc)
		rc = count(g, "breaker", p.data, 1, 100, &out->breaker, err);
	buf_release(&p);
	return rc;
}

int policy_load(const json_t *doc, const json_t *allow_hosts, const char *path, struct remedy_policy *out,
		struct buf *err)
{
	memset(out, 0, sizeof(*out));
	int rc = action_keys_check(doc, policy_keys, path, err);
	if (rc)
		return rc;
	json_t *name = json_object_get(doc, "name");
	const char *ns = json_string_value(name);
	if (!nonempty_string(name, 128) || strspn(ns, "abcdefghijklmnopqrstuvwxyz0123456789-_.") != strlen(ns)) {
		buf_addf(err, "%s.name: 1 to 128 of a-z, 0-9, '-', '_', '.'", path);
		return OODA_EINVAL;
	}
	json_t *mode = json_object_get(doc, "mode");
	enum policy_mode m = POLICY_AUTO;
	if (mode) {
		const char *s = json_string_value(mode);
		int i = 0;
		while (s && i <= POLICY_DRY_RUN && strcmp(mode_names[i], s))
			i++;
		if (!s || i > POLICY_DRY_RUN) {
			buf_addf(err, "%s.mode: auto, approve or dry-run", path);
			return OODA_EINVAL;
		}
		m = (enum policy_mode)i;
	}
	json_t *io = json_object_get(doc, "irreversible_ok"), *why = json_object_get(doc, "rationale");
	if (io && !json_is_boolean(io)) {
		buf_addf(err, "%s.irreversible_ok: true or false", path);
		return OODA_EINVAL;
	}
	if ((why && !nonempty_string(why, 1024)) || (json_is_true(io) && !why)) {
		buf_addf(err, "%s.rationale: a string of 1 to 1024 bytes%s", path,
			 json_is_true(io) ? " (irreversible_ok needs one)" : "");
		return OODA_EINVAL;
	}
	json_t *desc = json_object_get(doc, "description");
	if (desc && !nonempty_string(desc, 1024)) {
		buf_addf(err, "%s.description: a string of 1 to 1024 bytes", path);
		return OODA_EINVAL;
	}
	int64_t for_ns = 0, timeout = 0;
	if ((rc = when_check(json_object_get(doc, "when"), path, &for_ns, err)))
		return rc;
	json_t *pre = json_object_get(doc, "precondition");
	if (pre && (rc = preconditions_check(pre, path, err)))
		return rc;
	json_t *steps = json_object_get(doc, "do");
	if (!json_is_array(steps) || !json_array_size(steps) || json_array_size(steps) > POLICY_MAX_STEPS) {
		buf_addf(err, "%s.do: a list of 1 to %d steps", path, POLICY_MAX_STEPS);
		return OODA_EINVAL;
	}
	size_t i;
	json_t *s;
	json_array_foreach(steps, i, s) {
		struct buf sp = BUF_INIT;
		buf_addf(&sp, "%s.do[%zu]", path, i);
		json_t *expanded = NULL, *ref = json_object_get(s, "recipe");
		if (ref && json_object_size(s) != 1) {
			buf_addf(err, "%s: a recipe step has only the recipe key", sp.data);
			rc = OODA_EINVAL;
		} else if (ref) {
			buf_adds(&sp, ".recipe");
			rc = recipe_expand(ref, sp.data, &expanded, err);
		} else {
			expanded = json_pack("[O]", s);
		}
		size_t j;
		json_t *e;
		json_array_foreach(rc ? NULL : expanded, j, e) {
			if (!rc)
				rc = step_check(e, allow_hosts, sp.data, false, err);
			if (!rc && policy_step_irreversible(e) && m == POLICY_AUTO && !json_is_true(io)) {
				buf_addf(err, "%s: %s cannot be undone (no undo given): the policy needs mode: approve, or "
					      "irreversible_ok: true with a rationale",
					 sp.data, policy_step_action(e, NULL));
				rc = OODA_EINVAL;
			}
		}
		json_decref(expanded);
		buf_release(&sp);
		if (rc)
			return rc;
	}
	json_t *ex = json_object_get(doc, "expect");
	if (ex && (rc = expect_check(ex, path, &timeout, err)))
		return rc;
	json_t *of = json_object_get(doc, "on_failure");
	if (of) {
		struct buf p = BUF_INIT;
		buf_addf(&p, "%s.on_failure", path);
		rc = action_keys_check(of, failure_keys, p.data, err);
		json_t *u = json_object_get(of, "undo"), *n = json_object_get(of, "notify");
		if (!rc && u && !json_is_boolean(u)) {
			buf_addf(err, "%s.undo: true or false", p.data);
			rc = OODA_EINVAL;
		}
		if (!rc && n && !nonempty_string(n, 128)) {
			buf_addf(err, "%s.notify: a notify target name", p.data);
			rc = OODA_EINVAL;
		}
		buf_release(&p);
		if (rc)
			return rc;
	}
	if ((rc = guard_check(json_object_get(doc, "guardrails"), path, &out->guard, err)))
		return rc;
	out->doc = json_incref((json_t *)doc);
	out->name = ns;
	out->mode = m;
	out->for_ns = for_ns;
	out->expect_timeout_ns = ex ? timeout : 0;
	return 0;
}

void policy_release(struct remedy_policy *p)
{
	if (!p)
		return;
	json_decref(p->doc);
	memset(p, 0, sizeof(*p));
}
