/*
 * Runbooks over HTTP: list, one with its history, apply ({markdown,
 * rationale}), check (the stored version, or a text not stored yet),
 * diff, rollback, and the walks — start one on an incident, read it, mark
 * a manual step done. One, apply, diff and rollback are the
 * versioned-document handlers of api/vdoc_api.h. Thin adapters over remedy/runbook_run.h
 * (docs/remediation.md, "Runbooks").
 */
#include "api/api.h"
#include "api/handlers.h"
#include "api/vdoc_api.h"
#include "remedy/runbook.h"
#include "remedy/runbook_run.h"

#include <stdlib.h>
#include <string.h>

int api_runbooks_list(struct http_request *req, struct http_response *res)
{
	struct remedy *r = api_remedy(req);
	if (!r)
		return OODA_EUNAVAIL;
	return runbook_list_json(r, http_query(req, "service"), http_query(req, "template"), &res->body,
				 &req->err);
}

/* The markdown member of body, whose front matter must name the runbook of the URL. */
static int markdown_of(struct http_request *req, json_t *body, const char **md)
{
	int rc = api_json_str(req, body, "markdown", RUNBOOK_MAX_BYTES, md);
	if (!rc && !*md) {
		buf_adds(&req->err, "markdown: the runbook's text, required");
		rc = OODA_EINVAL;
	}
	json_t *doc = NULL;
	struct buf e = BUF_INIT;
	if (!rc && !runbook_parse(*md, strlen(*md), &doc, &e) &&
	    strcmp(json_string_value(json_object_get(doc, "name")), http_param(req, "name"))) {
		buf_addf(&req->err, "name: the front matter's \"%s\" differs from the URL's \"%s\"",
			 json_string_value(json_object_get(doc, "name")), http_param(req, "name"));
		rc = OODA_EINVAL;
	}
	json_decref(doc);
	buf_release(&e);
	return rc;
}

/* PUT /api/v1/runbooks/{name} {markdown, rationale}. */
static int runbook_put_body(struct http_request *req, struct remedy *r, json_t *body, int64_t *version)
{
	const char *md = NULL;
	int rc = markdown_of(req, body, &md);
	return rc ? rc : runbook_apply(r, md, strlen(md), req->who.actor, api_rationale(req, body), version, &req->err);
}

/* The diff compares the Markdown people wrote (runbook_diff), not the parsed form. */
static const struct api_vdoc_kind runbook_kind = {
	.by_version = true,
	.get = runbook_get_json,
	.apply = runbook_put_body,
	.diff = runbook_diff,
	.rollback = runbook_rollback,
};

/* api_runbook_get, api_runbook_put, api_runbook_diff, api_runbook_rollback. */
API_VDOC_HANDLERS(api_runbook, runbook_kind)

/*
 * POST /api/v1/runbooks/{name}/check [{markdown}]: every automated step in
 * dry-run. 200 with the plan when all pass, 422 naming the first refusal.
 */
int api_runbook_check(struct http_request *req, struct http_response *res)
{
	struct remedy *r;
	json_t *body;
	int rc = api_remedy_body(req, true, &r, &body);
	if (rc)
		return rc;
	json_t *out = NULL;
	const char *md = NULL;
	if (json_object_get(body, "markdown"))
		rc = markdown_of(req, body, &md);
	if (!rc)
		rc = md ? runbook_check_text(r, md, strlen(md), &out, &req->err)
			: runbook_check(r, http_param(req, "name"), &out, &req->err);
	if (!rc)
		api_send_json(res, 200, out);
	else
		json_decref(out);
	json_decref(body);
	return rc;
}

/* POST /api/v1/runbooks/{name}/run {incident, rationale}. */
int api_runbook_run(struct http_request *req, struct http_response *res)
{
	struct remedy *r;
	json_t *body;
	int rc = api_remedy_body(req, false, &r, &body);
	if (rc)
		return rc;
	const char *incident = NULL;
	rc = api_json_str(req, body, "incident", 128, &incident);
	if (!rc)
		rc = runbook_run_start(r, http_param(req, "name"), incident, req->who.actor,
				       api_rationale(req, body), &res->body, &req->err);
	json_decref(body);
	return rc;
}

int api_runbook_run_get(struct http_request *req, struct http_response *res)
{
	struct remedy *r = api_remedy(req);
	if (!r)
		return OODA_EUNAVAIL;
	return runbook_run_json(r, http_param(req, "id"), &res->body, &req->err);
}

/* POST /api/v1/runbook-runs/{id}/steps/{n}/done {note}. */
int api_runbook_step_done(struct http_request *req, struct http_response *res)
{
	struct remedy *r;
	json_t *body;
	int rc = api_remedy_body(req, true, &r, &body);
	if (rc)
		return rc;
	const char *note = NULL, *ns = http_param(req, "n");
	char *end = NULL;
	long n = ns ? strtol(ns, &end, 10) : 0;
	rc = api_json_str(req, body, "note", 1024, &note);
	if (!rc && (!ns || !*ns || *end || n < 1 || n > 1000)) {
		buf_adds(&req->err, "n: a step number (1, 2, …)");
		rc = OODA_EINVAL;
	}
	if (!rc)
		rc = runbook_step_done(r, http_param(req, "id"), (int)n, req->who.actor, note, &res->body,
				       &req->err);
	json_decref(body);
	return rc;
}
