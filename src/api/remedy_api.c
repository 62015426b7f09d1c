/*
 * The remedy stage over HTTP: the recipe catalogue (every recipe, or one
 * with its params and the steps of each variant), the runs (list, one,
 * approve, reject, cancel), the policies (list, one with its history,
 * apply) and the automation switch (the global pause). Thin adapters over
 * remedy/recipe.h and remedy/remedy.h (docs/remediation.md).
 */
#include "api/api.h"
#include "api/handlers.h"
#include "remedy/recipe.h"
#include "remedy/remedy.h"
#include "remedy/run.h"

#include <stdlib.h>
#include <string.h>

int api_recipes_list(struct http_request *req, struct http_response *res)
{
	(void)req;
	api_send_json(res, 200, json_pack("{s:o}", "recipes", recipe_list_json()));
	return 0;
}

int api_recipe_get(struct http_request *req, struct http_response *res)
{
	const char *name = http_param(req, "name");
	json_t *r = recipe_get_json(name);
	if (!r) {
		buf_addf(&req->err, "name: no recipe \"%s\" (GET /api/v1/recipes lists them)", name ? name : "");
		return OODA_ENOTFOUND;
	}
	api_send_json(res, 200, r);
	return 0;
}

/* ---- runs, policies and the automation switch (remedy/remedy.h) ---------- */

static struct remedy *engine(struct http_request *req)
{
	return __atomic_load_n(&api_daemon(req)->remedy, __ATOMIC_ACQUIRE);
}

#define NEED_ENGINE(req)                                                              \
	do {                                                                          \
		if (!engine(req)) {                                                   \
			buf_adds(&(req)->err, "the remedy stage is not running");     \
			return OODA_EUNAVAIL;                                         \
		}                                                                     \
	} while (0)

int api_runs_list(struct http_request *req, struct http_response *res)
{
	NEED_ENGINE(req);
	const char *st = http_query(req, "status");
	if (st && run_state_parse(st) < 0) {
		buf_addf(&req->err, "status: \"%s\" is not a run state (pending, awaiting-approval, running, verifying, "
				    "succeeded, failed, undoing, undone, refused, dry-run, rejected, cancelled)",
			 st);
		return OODA_EINVAL;
	}
	size_t limit;
	int rc = api_query_limit(req, "limit", 100, 1000, &limit);
	if (rc)
		return rc;
	struct remedy_run_filter f = { .incident = http_query(req, "incident"), .policy = http_query(req, "policy"),
				       .status = st, .limit = (int)limit };
	return remedy_runs_json(engine(req), &f, &res->body, &req->err);
}

int api_run_get(struct http_request *req, struct http_response *res)
{
	NEED_ENGINE(req);
	return remedy_run_json(engine(req), http_param(req, "id"), &res->body, &req->err);
}

static int run_decide(struct http_request *req, struct http_response *res, int what)
{
	NEED_ENGINE(req);
	json_t *body = NULL;
	if (req->body_len && api_json_body(req, &body))
		return OODA_EINVAL;
	const char *id = http_param(req, "id"), *why = api_rationale(req, body);
	int rc;
	if (what == 2) {
		rc = remedy_run_cancel(engine(req), id, req->who.actor, why, &req->err);
		if (!rc)
			buf_addf(&res->body, "{\"id\":\"%s\",\"status\":\"cancelled\"}", id);
	} else {
		rc = remedy_run_decide(engine(req), id, what == 0, req->who.actor, why, &res->body, &req->err);
	}
	json_decref(body);
	return rc;
}

int api_run_approve(struct http_request *req, struct http_response *res)
{
	return run_decide(req, res, 0);
}

int api_run_reject(struct http_request *req, struct http_response *res)
{
	return run_decide(req, res, 1);
}

int api_run_cancel(struct http_request *req, struct http_response *res)
{
	return run_decide(req, res, 2);
}

int api_policies_list(struct http_request *req, struct http_response *res)
{
	NEED_ENGINE(req);
	return remedy_policies_json(engine(req), &res->body, &req->err);
}

int api_policy_get(struct http_request *req, struct http_response *res)
{
	NEED_ENGINE(req);
	return remedy_policy_json(engine(req), http_param(req, "name"), &res->body, &req->err);
}

/* PUT /api/v1/policies/{name}: the body is the policy (its name must match), or {policy, rationale}. */
int api_policy_put(struct http_request *req, struct http_response *res)
{
	NEED_ENGINE(req);
	json_t *body = NULL;
	if (api_json_body(req, &body))
		return OODA_EINVAL;
	json_t *doc = json_object_get(body, "policy") ? json_object_get(body, "policy") : body;
	const char *name = json_string_value(json_object_get(doc, "name"));
	int rc = 0;
	if (json_object_get(body, "policy") && json_object_size(body) > 2) {
		buf_adds(&req->err, "body: {policy, rationale} or the policy itself");
		rc = OODA_EINVAL;
	} else if (name && strcmp(name, http_param(req, "name"))) {
		buf_addf(&req->err, "name: \"%s\" differs from the URL's \"%s\"", name, http_param(req, "name"));
		rc = OODA_EINVAL;
	}
	json_t *copy = rc ? NULL : json_deep_copy(doc);
	if (copy && !name)
		json_object_set_new(copy, "name", json_string(http_param(req, "name")));
	int64_t version = 0;
	if (!rc)
		rc = remedy_policy_apply(engine(req), copy, req->who.actor,
					 json_object_get(body, "policy") ? api_rationale(req, body) : api_rationale(req, NULL),
					 &version, &req->err);
	if (!rc)
		api_send_json(res, 200, json_pack("{ss sI}", "name", http_param(req, "name"), "version", (json_int_t)version));
	json_decref(copy);
	json_decref(body);
	return rc;
}

/* ?from=N&to=M (default: the one before the latest, and the latest). */
int api_policy_diff(struct http_request *req, struct http_response *res)
{
	NEED_ENGINE(req);
	const char *names[] = { "from", "to" };
	int64_t v[2] = { 0, 0 };
	for (int i = 0; i < 2; i++) {
		const char *q = http_query(req, names[i]);
		char *end = NULL;
		if (q && (*q == 'v' || *q == 'V'))
			q++;
		if (q && (!*q || (v[i] = strtoll(q, &end, 10)) <= 0 || *end)) {
			buf_addf(&req->err, "%s: a version number such as 3 or v3", names[i]);
			return OODA_EINVAL;
		}
	}
	if (!v[0] || !v[1]) {
		struct buf h = BUF_INIT, e2 = BUF_INIT;
		int rc = remedy_policy_json(engine(req), http_param(req, "name"), &h, &req->err);
		json_t *j = rc ? NULL : json_loads(h.data, 0, NULL);
		json_int_t latest = json_integer_value(json_object_get(j, "version"));
		json_decref(j);
		buf_release(&h);
		buf_release(&e2);
		if (rc)
			return rc;
		if (!v[1])
			v[1] = latest;
		if (!v[0])
			v[0] = v[1] > 1 ? v[1] - 1 : 1;
	}
	struct buf diff = BUF_INIT;
	int rc = remedy_policy_diff(engine(req), http_param(req, "name"), v[0], v[1], &diff, &req->err);
	if (!rc)
		api_send_json(res, 200, json_pack("{ss sI sI ss}", "name", http_param(req, "name"), "from", (json_int_t)v[0],
						  "to", (json_int_t)v[1], "diff", diff.data ? diff.data : ""));
	buf_release(&diff);
	return rc;
}

/* {to: N, rationale}. */
int api_policy_rollback(struct http_request *req, struct http_response *res)
{
	NEED_ENGINE(req);
	json_t *body = NULL;
	if (api_json_body(req, &body))
		return OODA_EINVAL;
	json_t *to = json_object_get(body, "to");
	int rc = 0;
	int64_t version = 0;
	if (!json_is_integer(to) || json_integer_value(to) <= 0) {
		buf_adds(&req->err, "to: the version to go back to, a number");
		rc = OODA_EINVAL;
	}
	if (!rc)
		rc = remedy_policy_rollback(engine(req), http_param(req, "name"), json_integer_value(to), req->who.actor,
					    api_rationale(req, body), &version, &req->err);
	if (!rc)
		api_send_json(res, 200, json_pack("{ss sI}", "name", http_param(req, "name"), "version", (json_int_t)version));
	json_decref(body);
	return rc;
}

int api_automation_get(struct http_request *req, struct http_response *res)
{
	NEED_ENGINE(req);
	remedy_automation_json(engine(req), &res->body);
	return 0;
}

/* POST /api/v1/automation {paused: bool, reason}. */
int api_automation_set(struct http_request *req, struct http_response *res)
{
	NEED_ENGINE(req);
	json_t *body = NULL;
	if (api_json_body(req, &body))
		return OODA_EINVAL;
	json_t *p = json_object_get(body, "paused");
	const char *reason = NULL;
	int rc = api_json_str(req, body, "reason", 1024, &reason);
	if (!rc && !json_is_boolean(p)) {
		buf_adds(&req->err, "paused: true or false");
		rc = OODA_EINVAL;
	}
	if (!rc)
		rc = remedy_pause(engine(req), json_is_true(p), req->who.actor, reason, &req->err);
	if (!rc)
		remedy_automation_json(engine(req), &res->body);
	json_decref(body);
	return rc;
}
