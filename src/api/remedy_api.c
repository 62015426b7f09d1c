/*
 * The remedy stage over HTTP: the recipe catalogue (every recipe, or one
 * with its params and the steps of each variant), the runs (list, one,
 * approve, reject, cancel), the policies (list, one with its history,
 * apply, diff, rollback: through the versioned-document handlers of
 * api/vdoc_api.h) and the automation switch (the global pause). Thin
 * adapters over remedy/recipe.h and remedy/remedy.h (docs/remediation.md).
 */
#include "api/api.h"
#include "api/handlers.h"
#include "api/vdoc_api.h"
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

int api_runs_list(struct http_request *req, struct http_response *res)
{
	struct remedy *r = api_remedy(req);
	if (!r)
		return OODA_EUNAVAIL;
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
				       .status = st, .before = http_query(req, "before"), .after = http_query(req, "after"),
				       .limit = (int)limit };
	return remedy_runs_json(r, &f, &res->body, &req->err);
}

int api_run_get(struct http_request *req, struct http_response *res)
{
	struct remedy *r = api_remedy(req);
	if (!r)
		return OODA_EUNAVAIL;
	return remedy_run_json(r, http_param(req, "id"), &res->body, &req->err);
}

static int run_decide(struct http_request *req, struct http_response *res, int what)
{
	struct remedy *r;
	json_t *body;
	int rc = api_remedy_body(req, true, &r, &body);
	if (rc)
		return rc;
	const char *id = http_param(req, "id"), *why = api_rationale(req, body);
	if (what == 2) {
		rc = remedy_run_cancel(r, id, req->who.actor, why, &req->err);
		if (!rc)
			buf_addf(&res->body, "{\"id\":\"%s\",\"status\":\"cancelled\"}", id);
	} else {
		rc = remedy_run_decide(r, id, what == 0, req->who.actor, why, &res->body, &req->err);
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
	struct remedy *r = api_remedy(req);
	if (!r)
		return OODA_EUNAVAIL;
	return remedy_policies_json(r, &res->body, &req->err);
}

/* ---- policies: versioned documents (api/vdoc_api.h) ----------------------- */

static int policy_get(struct remedy *r, const char *name, int64_t version, struct buf *out, struct buf *err)
{
	(void)version; /* by_version is false: always the latest */
	return remedy_policy_json(r, name, out, err);
}

/* The body is the policy (its name must match the URL's), or {policy, rationale}. */
static int policy_apply(struct http_request *req, struct remedy *r, json_t *body, int64_t *version)
{
	json_t *doc = json_object_get(body, "policy") ? json_object_get(body, "policy") : body;
	const char *name = json_string_value(json_object_get(doc, "name"));
	if (json_object_get(body, "policy") && json_object_size(body) > 2) {
		buf_adds(&req->err, "body: {policy, rationale} or the policy itself");
		return OODA_EINVAL;
	}
	if (name && strcmp(name, http_param(req, "name"))) {
		buf_addf(&req->err, "name: \"%s\" differs from the URL's \"%s\"", name, http_param(req, "name"));
		return OODA_EINVAL;
	}
	json_t *copy = json_deep_copy(doc);
	if (copy && !name)
		json_object_set_new(copy, "name", json_string(http_param(req, "name")));
	int rc = remedy_policy_apply(r, copy, req->who.actor,
				     json_object_get(body, "policy") ? api_rationale(req, body) : api_rationale(req, NULL),
				     version, &req->err);
	json_decref(copy);
	return rc;
}

static const struct api_vdoc_kind policy_kind = {
	.by_version = false,
	.get = policy_get,
	.apply = policy_apply,
	.diff = remedy_policy_diff,
	.rollback = remedy_policy_rollback,
};

/* api_policy_get, api_policy_put (PUT /api/v1/policies/{name}), api_policy_diff, api_policy_rollback. */
API_VDOC_HANDLERS(api_policy, policy_kind)

int api_automation_get(struct http_request *req, struct http_response *res)
{
	struct remedy *r = api_remedy(req);
	if (!r)
		return OODA_EUNAVAIL;
	remedy_automation_json(r, &res->body);
	return 0;
}

/* POST /api/v1/automation {paused: bool, reason}. */
int api_automation_set(struct http_request *req, struct http_response *res)
{
	struct remedy *r;
	json_t *body;
	int rc = api_remedy_body(req, false, &r, &body);
	if (rc)
		return rc;
	json_t *p = json_object_get(body, "paused");
	const char *reason = NULL;
	rc = api_json_str(req, body, "reason", 1024, &reason);
	if (!rc && !json_is_boolean(p)) {
		buf_adds(&req->err, "paused: true or false");
		rc = OODA_EINVAL;
	}
	if (!rc)
		rc = remedy_pause(r, json_is_true(p), req->who.actor, reason, &req->err);
	if (!rc)
		remedy_automation_json(r, &res->body);
	json_decref(body);
	return rc;
}
