/*
 * The built-in recipe table (recipe.h). Each row names its params and,
 * per variant, a template of steps in which "{param}" is replaced by the
 * param's value; a value is checked against the param's character set
 * first, so a param can never smuggle an argument or a path segment.
 */
#include "remedy/recipe.h"
#include "core/error.h"
#include "remedy/action.h"
#include "remedy/policy.h"

#include <stdlib.h>
#include <string.h>

#define RECIPE_MAX_PARAMS 4

struct recipe_param {
	const char *name;
	const char *description;
	const char *charset;  /* allowed bytes */
	bool required;
};

struct recipe_variant {
	const char *name;     /* "sim", "systemd", "kubernetes" */
	const char *steps;    /* JSON template of the do steps */
};

struct recipe {
	const char *name;
	const char *description;
	struct recipe_param params[RECIPE_MAX_PARAMS];
	struct recipe_variant variants[3];
};

#define NAMECHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.@"
#define URLCHARS NAMECHARS ":/"
#define DIGITS "0123456789"
#define RATIO DIGITS "."

static const struct recipe recipes[] = {
	{ "restart-instance",
	  "Restart one instance of a service; nothing to undo (a restart is its own way back).",
	  { { "service", "service (sim: its base URL http://127.0.0.1:PORT; systemd: the unit; kubernetes: the deployment)", URLCHARS, true },
	    { "namespace", "Kubernetes namespace (default: default)", NAMECHARS, false } },
	  { { "sim", "[{\"http\":{\"method\":\"POST\",\"url\":\"{service}/admin/restart\",\"retries\":2,\"timeout\":\"10s\"},\"idempotent\":true}]" },
	    { "systemd", "[{\"exec\":{\"argv\":[\"systemctl\",\"restart\",\"{service}\"],\"timeout\":\"2m\"},\"idempotent\":true}]" },
	    { "kubernetes", "[{\"exec\":{\"argv\":[\"kubectl\",\"rollout\",\"restart\",\"deployment/{service}\",\"-n\",\"{namespace}\"],\"timeout\":\"2m\"},\"idempotent\":true}]" } } },
	{ "rollback-last-deploy",
	  "Put the previous version back.",
	  { { "service", "service (sim: base URL; kubernetes: the deployment; ooda: the service as deploys name it)", URLCHARS, true },
	    { "version", "sim: the version to go back to", NAMECHARS, false },
	    { "namespace", "Kubernetes namespace (default: default)", NAMECHARS, false },
	    { "env", "ooda: the environment of the deploy (default: any)", NAMECHARS, false } },
	  { { "sim", "[{\"http\":{\"method\":\"POST\",\"url\":\"{service}/admin/version\",\"body\":{\"version\":\"{version}\"},\"timeout\":\"10s\"},\"idempotent\":true}]" },
	    { "kubernetes", "[{\"exec\":{\"argv\":[\"kubectl\",\"rollout\",\"undo\",\"deployment/{service}\",\"-n\",\"{namespace}\"],\"timeout\":\"2m\"}}]" },
	    { "ooda", "[{\"rollback\":{\"service\":\"{service}\",\"env\":\"{env}\"}}]" } } },
	{ "shed-load",
	  "Refuse a share of requests to protect the rest; undone by shedding nothing.",
	  { { "service", "sim: the service's base URL", URLCHARS, true },
	    { "ratio", "share refused, 0 to 1", RATIO, true } },
	  { { "sim", "[{\"http\":{\"method\":\"POST\",\"url\":\"{service}/admin/shed\",\"body\":{\"ratio\":\"{ratio}\"},\"timeout\":\"10s\"},\"idempotent\":true,"
		     "\"undo\":{\"http\":{\"method\":\"POST\",\"url\":\"{service}/admin/shed\",\"body\":{\"ratio\":0},\"timeout\":\"10s\"}}}]" } } },
	{ "disable-flag",
	  "Kill switch: set a flag DISABLED, so every client falls back to its code default; undone by the flag's version before.",
	  { { "flag", "the flag's key", NAMECHARS, true },
	    { "env", "the flag's environment", NAMECHARS, true } },
	  { { "ooda", "[{\"flag\":{\"env\":\"{env}\",\"key\":\"{flag}\",\"state\":\"DISABLED\"}}]" } } },
	{ "open-circuit",
	  "Open the circuit a service reads from flag SERVICE.circuit_open (variant on); undone by the flag's version before.",
	  { { "service", "the service; the flag is SERVICE.circuit_open", NAMECHARS, true },
	    { "env", "the flag's environment", NAMECHARS, true } },
	  { { "ooda", "[{\"flag\":{\"env\":\"{env}\",\"key\":\"{service}.circuit_open\",\"variant\":\"on\"}}]" } } },
	{ "scale-out",
	  "Set the replica count of a deployment.",
	  { { "service", "the deployment", NAMECHARS, true },
	    { "replicas", "the replica count", DIGITS, true },
	    { "namespace", "Kubernetes namespace (default: default)", NAMECHARS, false } },
	  { { "kubernetes", "[{\"exec\":{\"argv\":[\"kubectl\",\"scale\",\"deployment/{service}\",\"--replicas={replicas}\",\"-n\",\"{namespace}\"],\"timeout\":\"2m\"},\"idempotent\":true}]" } } },
	{ "drain-node",
	  "Move the work off a node; undone by uncordoning it.",
	  { { "node", "the node name", NAMECHARS, true } },
	  { { "kubernetes", "[{\"exec\":{\"argv\":[\"kubectl\",\"drain\",\"{node}\",\"--ignore-daemonsets\"],\"timeout\":\"10m\"},\"idempotent\":true,"
			    "\"undo\":{\"exec\":{\"argv\":[\"kubectl\",\"uncordon\",\"{node}\"],\"timeout\":\"1m\"}}}]" } } },
	{ "clear-queue",
	  "Purge a queue through a hook program the site provides (argv: the hook and the queue name).",
	  { { "hook", "absolute path of the hook program", URLCHARS, true },
	    { "queue", "the queue name", NAMECHARS, true } },
	  { { "systemd", "[{\"exec\":{\"argv\":[\"{hook}\",\"{queue}\"],\"timeout\":\"5m\"}}]" },
	    { "kubernetes", "[{\"exec\":{\"argv\":[\"{hook}\",\"{queue}\"],\"timeout\":\"5m\"}}]" } } },
};
#define N_RECIPES (sizeof(recipes) / sizeof(recipes[0]))

static const struct recipe *recipe_find(const char *name)
{
	for (size_t i = 0; name && i < N_RECIPES; i++)
		if (!strcmp(recipes[i].name, name))
			return &recipes[i];
	return NULL;
}

/* Replaces "{p}" in every string of j (recursively) by its value; a whole-string number param becomes a number. */
static json_t *fill(const json_t *j, const struct recipe *r, const json_t *params)
{
	if (json_is_object(j)) {
		json_t *o = json_object();
		const char *k;
		json_t *v;
		json_object_foreach((json_t *)j, k, v) {
			json_t *f = fill(v, r, params);
			if (f)
				json_object_set_new(o, k, f);
		}
		return o;
	}
	if (json_is_array(j)) {
		json_t *a = json_array();
		size_t i;
		json_t *v;
		json_array_foreach(j, i, v) {
			json_t *f = fill(v, r, params);
			if (f)
				json_array_append_new(a, f);
		}
		return a;
	}
	if (!json_is_string(j))
		return json_deep_copy(j);
	const char *s = json_string_value(j);
	/* a param of digits and dots standing alone ("{ratio}") becomes a number */
	for (size_t i = 0; i < RECIPE_MAX_PARAMS && r->params[i].name; i++) {
		size_t nl = strlen(r->params[i].name);
		const char *v = json_string_value(json_object_get(params, r->params[i].name));
		if (v && !strcmp(r->params[i].charset, RATIO) && s[0] == '{' && !strncmp(s + 1, r->params[i].name, nl) &&
		    s[nl + 1] == '}' && !s[nl + 2])
			return json_real(strtod(v, NULL));
	}
	struct buf out = BUF_INIT;
	bool missing = false;
	while (*s) {
		const char *open = strchr(s, '{'), *close = open ? strchr(open, '}') : NULL;
		if (!open || !close) {
			buf_adds(&out, s);
			break;
		}
		buf_add(&out, s, (size_t)(open - s));
		struct buf name = BUF_INIT;
		buf_add(&name, open + 1, (size_t)(close - open - 1));
		const char *v = json_string_value(json_object_get(params, name.data));
		if (!v && !strcmp(name.data, "namespace"))
			v = "default";
		missing |= !v;
		buf_adds(&out, v ? v : "");
		buf_release(&name);
		s = close + 1;
	}
	if (!out.len && missing) {
		buf_release(&out);
		return NULL; /* an optional param standing alone and not given: the key is left out */
	}
	json_t *res = json_stringn(out.data ? out.data : "", out.len);
	buf_release(&out);
	return res;
}

int recipe_expand(const json_t *ref, const char *path, json_t **out, struct buf *err)
{
	*out = NULL;
	const char *name = json_string_value(json_object_get(ref, "name"));
	const char *variant = json_string_value(json_object_get(ref, "variant"));
	json_t *params = json_object_get(ref, "params");
	const char *k;
	json_t *v;
	if (!json_is_object(ref)) {
		buf_addf(err, "%s: a mapping {name, variant, params}", path);
		return OODA_EINVAL;
	}
	json_object_foreach((json_t *)ref, k, v) {
		if (strcmp(k, "name") && strcmp(k, "variant") && strcmp(k, "params")) {
			buf_addf(err, "%s.%s: unknown key", path, k);
			return OODA_EINVAL;
		}
	}
	const struct recipe *r = recipe_find(name);
	if (!r) {
		buf_addf(err, "%s.name: no recipe \"%s\" (ooda recipes list)", path, name ? name : "");
		return OODA_EINVAL;
	}
	const struct recipe_variant *var = NULL;
	for (size_t i = 0; i < 3 && r->variants[i].name; i++)
		if (variant && !strcmp(r->variants[i].name, variant))
			var = &r->variants[i];
	if (!var) {
		buf_addf(err, "%s.variant: recipe %s has the variants", path, r->name);
		for (size_t i = 0; i < 3 && r->variants[i].name; i++)
			buf_addf(err, "%s %s", i ? "," : "", r->variants[i].name);
		return OODA_EINVAL;
	}
	if (params && !json_is_object(params)) {
		buf_addf(err, "%s.params: a mapping", path);
		return OODA_EINVAL;
	}
	json_object_foreach(params, k, v) {
		const struct recipe_param *p = NULL;
		for (size_t i = 0; i < RECIPE_MAX_PARAMS && r->params[i].name; i++)
			if (!strcmp(r->params[i].name, k))
				p = &r->params[i];
		const char *s = json_string_value(v);
		if (!p) {
			buf_addf(err, "%s.params.%s: recipe %s has no such param", path, k, r->name);
			return OODA_EINVAL;
		}
		if (!s || !*s || strlen(s) > 512 || strspn(s, p->charset) != strlen(s) || s[0] == '-') {
			buf_addf(err, "%s.params.%s: a string of 1 to 512 of [%s], not starting with '-'", path, k, p->charset);
			return OODA_EINVAL;
		}
	}
	for (size_t i = 0; i < RECIPE_MAX_PARAMS && r->params[i].name; i++)
		if (r->params[i].required && !json_object_get(params, r->params[i].name)) {
			buf_addf(err, "%s.params.%s: required by recipe %s", path, r->params[i].name, r->name);
			return OODA_EINVAL;
		}
	json_t *tmpl = json_loads(var->steps, 0, NULL);
	if (!tmpl) {
		buf_addf(err, "%s: recipe %s/%s is broken", path, r->name, var->name);
		return OODA_EINTERNAL;
	}
	*out = fill(tmpl, r, params);
	json_decref(tmpl);
	return 0;
}

static json_t *recipe_json(const struct recipe *r)
{
	json_t *ps = json_array(), *vs = json_array();
	for (size_t i = 0; i < RECIPE_MAX_PARAMS && r->params[i].name; i++)
		json_array_append_new(ps, json_pack("{s:s, s:s, s:b}", "name", r->params[i].name, "description",
						     r->params[i].description, "required", r->params[i].required));
	for (size_t i = 0; i < 3 && r->variants[i].name; i++) {
		json_t *steps = json_loads(r->variants[i].steps, 0, NULL), *lines = json_array(), *st;
		size_t k;
		/* each step as a dry-run shows it: the exact argv, URL or flag change, params as {name} */
		json_array_foreach(steps, k, st) {
			json_t *params = NULL;
			const struct remedy_action *a = action_find(policy_step_action(st, &params));
			struct buf d = BUF_INIT;
			if (a)
				a->describe(params, &d);
			json_array_append_new(lines, json_string(d.data ? d.data : ""));
			buf_release(&d);
		}
		json_array_append_new(vs, json_pack("{s:s, s:o, s:o}", "name", r->variants[i].name, "steps", steps,
						     "describe", lines));
	}
	return json_pack("{s:s, s:s, s:o, s:o}", "name", r->name, "description", r->description, "params", ps,
			 "variants", vs);
}

json_t *recipe_list_json(void)
{
	json_t *a = json_array();
	for (size_t i = 0; i < N_RECIPES; i++)
		json_array_append_new(a, recipe_json(&recipes[i]));
	return a;
}

json_t *recipe_get_json(const char *name)
{
	const struct recipe *r = recipe_find(name);
	return r ? recipe_json(r) : NULL;
}
