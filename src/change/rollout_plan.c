/*
 * The pure half of progressive rollouts (rollout.h): the plan loader, which
 * refuses anything it would not act on and names the member, and the step
 * state machine as a table of (status, event) → handler.
 */
#include "change/rollout.h"
#include "core/error.h"
#include "core/time.h"

#include <math.h>
#include <string.h>

#define HOLD_MIN_NS (1 * OODA_NS_PER_SEC)
#define HOLD_MAX_NS (24 * 3600 * OODA_NS_PER_SEC)

static const char *const plan_members[] = { "flag",  "env",      "variant",          "deploy",   "service",
					    "version", "steps", "hold", "analysis", "max_inconclusive", "rationale" };
static const char *const step_members[] = { "weight", "hold", "approval" };

/* The analysis thresholds: name, default, least and greatest value. */
static const struct {
	const char *name;
	double dflt, min, max;
} analysis_keys[] = {
	{ "min_samples", 50, 1, 1000000 },
	{ "alpha", 0.01, 1e-9, 0.5 },
	{ "max_error_increase", 0.01, 0, 1 },
	{ "max_p99_increase", 0.2, 0, 100 },
	{ "max_median_increase", 0.2, 0, 100 },
};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static bool member_known(const char *k, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(k, names[i]))
			return true;
	return false;
}

/* A name the stores accept: [A-Za-z0-9_.:/-], 1..max characters. */
static bool name_ok(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (!n || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
		      ch == '.' || ch == '-' || ch == ':' || ch == '/'))
			return false;
	}
	return true;
}

/* Optional string member k of p: absent is fine, anything but a valid name is refused. */
static int opt_name(const json_t *p, const char *k, size_t max, const char **out, struct buf *err)
{
	json_t *v = json_object_get(p, k);
	*out = NULL;
	if (!v)
		return 0;
	if (!json_is_string(v) || !name_ok(json_string_value(v), max)) {
		buf_addf(err, "%s must be a name of 1 to %zu letters, digits or _.:/-", k, max);
		return OODA_EINVAL;
	}
	*out = json_string_value(v);
	return 0;
}

static int hold_parse(const json_t *v, const char *where, int64_t *ns, struct buf *err)
{
	const char *s = json_string_value(v);
	if (!s || ooda_duration_parse(s, strlen(s), ns) || *ns < HOLD_MIN_NS || *ns > HOLD_MAX_NS) {
		buf_addf(err, "%s must be a duration from 1s to 24h, such as \"30s\" or \"5m\"", where);
		return OODA_EINVAL;
	}
	return 0;
}

static int step_load(const json_t *s, size_t i, const json_t *dflt_hold, bool weighted, double prev, json_t *steps,
		     struct buf *err)
{
	char where[48];
	const json_t *w = s, *hold = dflt_hold, *ap = NULL;
	if (json_is_object(s)) {
		const char *k;
		json_t *v;
		json_object_foreach((json_t *)s, k, v) {
			if (!member_known(k, step_members, N_OF(step_members))) {
				buf_addf(err, "steps[%zu].%s is not a step member (weight, hold, approval)", i, k);
				return OODA_EINVAL;
			}
		}
		w = json_object_get(s, "weight");
		if (json_object_get(s, "hold"))
			hold = json_object_get(s, "hold");
		ap = json_object_get(s, "approval");
	} else if (!json_is_number(s)) {
		buf_addf(err, "steps[%zu] must be a weight (a number) or an object {weight, hold, approval}", i);
		return OODA_EINVAL;
	}
	double weight = 0;
	if (w && (!json_is_number(w) || json_number_value(w) < 1 || json_number_value(w) > 100 ||
		  json_number_value(w) != floor(json_number_value(w)) || json_number_value(w) <= prev)) {
		buf_addf(err, "steps[%zu].weight must be a whole percentage from 1 to 100, above the step before", i);
		return OODA_EINVAL;
	}
	if (w)
		weight = json_number_value(w);
	else if (weighted) {
		buf_addf(err, "steps[%zu].weight is needed: a flag rollout moves traffic at every step", i);
		return OODA_EINVAL;
	}
	if (ap && !json_is_boolean(ap)) {
		buf_addf(err, "steps[%zu].approval must be true or false", i);
		return OODA_EINVAL;
	}
	if (!hold) {
		buf_addf(err, "steps[%zu].hold is needed (or a plan-wide hold)", i);
		return OODA_EINVAL;
	}
	snprintf(where, sizeof(where), "steps[%zu].hold", i);
	int64_t ns;
	int rc = hold_parse(hold, where, &ns, err);
	if (rc)
		return rc;
	json_t *o = json_pack("{s:O, s:I, s:b}", "hold", hold, "hold_ns", (json_int_t)ns, "approval", json_is_true(ap));
	if (w)
		json_object_set_new(o, "weight", json_integer((json_int_t)weight));
	json_array_append_new(steps, o);
	return 0;
}

static int analysis_load(const json_t *a, json_t *out, struct buf *err)
{
	if (a && !json_is_object(a)) {
		buf_adds(err, "analysis must be an object");
		return OODA_EINVAL;
	}
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)a, k, v) {
		size_t i = 0;
		while (i < N_OF(analysis_keys) && strcmp(analysis_keys[i].name, k))
			i++;
		if (i == N_OF(analysis_keys)) {
			buf_addf(err, "analysis.%s is not a threshold (min_samples, alpha, max_error_increase, "
				      "max_p99_increase, max_median_increase)", k);
			return OODA_EINVAL;
		}
		double x = json_is_number(v) ? json_number_value(v) : NAN;
		if (!(x >= analysis_keys[i].min && x <= analysis_keys[i].max)) {
			buf_addf(err, "analysis.%s must be a number from %g to %g", k, analysis_keys[i].min,
				 analysis_keys[i].max);
			return OODA_EINVAL;
		}
	}
	for (size_t i = 0; i < N_OF(analysis_keys); i++) {
		json_t *x = json_object_get(a, analysis_keys[i].name);
		json_object_set_new(out, analysis_keys[i].name,
				    json_real(x ? json_number_value(x) : analysis_keys[i].dflt));
	}
	return 0;
}

int rollout_plan_load(const char *text, size_t len, json_t **out, struct buf *err)
{
	*out = NULL;
	if (len > ROLLOUT_MAX_PLAN_BYTES) {
		buf_addf(err, "a rollout plan is at most %d bytes", ROLLOUT_MAX_PLAN_BYTES);
		return OODA_EINVAL;
	}
	json_error_t je;
	json_t *p = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(p)) {
		buf_addf(err, "a rollout plan is a JSON object%s%s", p ? "" : ": ", p ? "" : je.text);
		json_decref(p);
		return OODA_EINVAL;
	}
	int rc = 0;
	const char *k;
	json_t *v;
	json_object_foreach(p, k, v) {
		if (!member_known(k, plan_members, N_OF(plan_members))) {
			buf_addf(err, "%s is not a member of a rollout plan", k);
			rc = OODA_EINVAL;
			break;
		}
	}
	const char *flag = NULL, *env = NULL, *variant = NULL, *deploy = NULL, *service = NULL, *version = NULL;
	if (!rc)
		rc = opt_name(p, "flag", 255, &flag, err);
	if (!rc)
		rc = opt_name(p, "env", 63, &env, err);
	if (!rc)
		rc = opt_name(p, "variant", 255, &variant, err);
	if (!rc)
		rc = opt_name(p, "deploy", 47, &deploy, err);
	if (!rc)
		rc = opt_name(p, "service", 255, &service, err);
	if (!rc)
		rc = opt_name(p, "version", 128, &version, err);
	if (!rc && !flag && !deploy) {
		buf_adds(err, "a rollout plan names a flag (with its new variant) or a deploy");
		rc = OODA_EINVAL;
	}
	if (!rc && flag && !variant) {
		buf_adds(err, "variant is needed: the flag variant the rollout gives traffic to");
		rc = OODA_EINVAL;
	}
	if (!rc && variant && !flag) {
		buf_adds(err, "variant needs flag: the fractional flag that splits the traffic");
		rc = OODA_EINVAL;
	}
	if (!rc && flag && !deploy && !service) {
		buf_adds(err, "service is needed: whose requests the canary analysis compares");
		rc = OODA_EINVAL;
	}
	json_t *rat = json_object_get(p, "rationale");
	if (!rc && rat && (!json_is_string(rat) || json_string_length(rat) > 1000)) {
		buf_adds(err, "rationale must be a string of at most 1000 characters");
		rc = OODA_EINVAL;
	}
	json_t *hold = json_object_get(p, "hold");
	int64_t ns;
	if (!rc && hold)
		rc = hold_parse(hold, "hold", &ns, err);
	json_t *mi = json_object_get(p, "max_inconclusive");
	if (!rc && mi && (!json_is_integer(mi) || json_integer_value(mi) < 0 || json_integer_value(mi) > 100)) {
		buf_adds(err, "max_inconclusive must be a whole number from 0 to 100");
		rc = OODA_EINVAL;
	}
	json_t *steps = json_object_get(p, "steps");
	if (!rc && (!json_is_array(steps) || !json_array_size(steps) || json_array_size(steps) > ROLLOUT_MAX_STEPS)) {
		buf_addf(err, "steps must be a list of 1 to %d steps", ROLLOUT_MAX_STEPS);
		rc = OODA_EINVAL;
	}
	json_t *nsteps = json_array();
	size_t i;
	json_t *s;
	double prev = 0;
	if (!rc) {
		json_array_foreach(steps, i, s) {
			if ((rc = step_load(s, i, hold, flag != NULL, prev, nsteps, err)))
				break;
			json_t *w = json_object_get(json_array_get(nsteps, i), "weight");
			prev = w ? (double)json_integer_value(w) : prev;
		}
	}
	if (!rc && flag && prev != 100) {
		buf_adds(err, "the last step of a flag rollout must give the new variant 100 % of the traffic");
		rc = OODA_EINVAL;
	}
	json_t *an = json_object();
	if (!rc)
		rc = analysis_load(json_object_get(p, "analysis"), an, err);
	if (rc) {
		json_decref(an);
		json_decref(nsteps);
		json_decref(p);
		return rc;
	}
	json_t *o = json_pack("{s:s, s:o, s:o, s:I}", "env", env ? env : "default", "steps", nsteps, "analysis", an,
			      "max_inconclusive", (json_int_t)(mi ? json_integer_value(mi) : 3));
	const char *strs[][2] = { { "flag", flag },	  { "variant", variant }, { "deploy", deploy },
				  { "service", service }, { "version", version }, { "rationale", json_string_value(rat) } };
	for (i = 0; i < N_OF(strs); i++)
		if (strs[i][1])
			json_object_set_new(o, strs[i][0], json_string(strs[i][1]));
	json_decref(p);
	*out = o;
	return 0;
}

/* ---- the state machine ---------------------------------------------------- */

static const char *const status_names[RO_STATUS_COUNT] = {
	[RO_PENDING] = "pending",     [RO_RUNNING] = "running",   [RO_AWAITING] = "awaiting-approval",
	[RO_SUCCEEDED] = "succeeded", [RO_ABORTED] = "aborted",
};

const char *rollout_status_name(enum rollout_status s)
{
	return s < RO_STATUS_COUNT ? status_names[s] : "unknown";
}

enum rollout_status rollout_status_parse(const char *name)
{
	for (int i = 0; name && i < RO_STATUS_COUNT; i++)
		if (!strcmp(status_names[i], name))
			return (enum rollout_status)i;
	return RO_STATUS_COUNT;
}

static void go(struct rollout_next *o, enum rollout_action a, enum rollout_status st, int step)
{
	o->action = a;
	o->status = st;
	o->step = step;
}

/* Move to step next, through its approval when it asks for one. */
static void t_next(const struct rollout_state *s, struct rollout_next *o)
{
	int next = s->step + 1;
	if (next >= s->n_steps)
		go(o, RO_ACT_COMPLETE, RO_SUCCEEDED, s->step);
	else if (s->approval && s->approval[next])
		go(o, RO_ACT_AWAIT, RO_AWAITING, s->step);
	else
		go(o, RO_ACT_ADVANCE, RO_RUNNING, next);
}

static void t_approved(const struct rollout_state *s, struct rollout_next *o)
{
	go(o, RO_ACT_ADVANCE, RO_RUNNING, s->step + 1);
}

static void t_abort(const struct rollout_state *s, struct rollout_next *o)
{
	go(o, RO_ACT_ABORT, RO_ABORTED, s->step);
}

static void t_inconclusive(const struct rollout_state *s, struct rollout_next *o)
{
	if (s->inconclusive < s->max_inconclusive)
		go(o, RO_ACT_EXTEND, RO_RUNNING, s->step);
	else
		t_abort(s, o); /* no verdict is not a pass */
}

static const struct {
	enum rollout_status from;
	enum rollout_event ev;
	void (*fn)(const struct rollout_state *s, struct rollout_next *o);
} transitions[] = {
	{ RO_PENDING, RO_EV_START, t_next },
	{ RO_RUNNING, RO_EV_PASS, t_next },
	{ RO_RUNNING, RO_EV_PROMOTE, t_next },
	{ RO_RUNNING, RO_EV_FAIL, t_abort },
	{ RO_RUNNING, RO_EV_INCONCLUSIVE, t_inconclusive },
	{ RO_RUNNING, RO_EV_ABORT, t_abort },
	{ RO_AWAITING, RO_EV_APPROVE, t_approved },
	{ RO_AWAITING, RO_EV_REJECT, t_abort },
	{ RO_AWAITING, RO_EV_ABORT, t_abort },
};

void rollout_transition(const struct rollout_state *s, enum rollout_event ev, struct rollout_next *out)
{
	go(out, RO_ACT_REFUSE, s->status, s->step);
	for (size_t i = 0; i < N_OF(transitions); i++)
		if (transitions[i].from == s->status && transitions[i].ev == ev) {
			transitions[i].fn(s, out);
			return;
		}
}
