/*
 * Runbooks over HTTP: list, one with its history, apply ({markdown,
 * rationale}), check (the stored version, or a text not stored yet),
 * diff, rollback, and the walks — start one on an incident, read it, mark
 * a manual step done. Thin adapters over remedy/runbook_run.h
 * (docs/remediation.md, "Runbooks").
 */
#include "api/api.h"
#include "api/handlers.h"
#include "remedy/runbook.h"
#include "remedy/runbook_run.h"

#include <stdlib.h>
#include <string.h>

static struct remedy *engine(struct http_request *req)
{
	return __atomic_load_n(&api_daemon(req)->remedy, __ATOMIC_ACQUIRE);
}

#define NEED_ENGINE(req)                                                          \
	do {                                                                      \
		if (!engine(req)) {                                               \
			buf_adds(&(req)->err, "the remedy stage is not running"); \
			return OODA_EUNAVAIL;                                     \
		}                                                                 \
	} while (0)

/* A version from ?name= ("3" or "v3"); 0 when absent. */
static int version_query(struct http_request *req, const char *name, int64_t *v)
{
	const char *q = http_query(req, name);
	*v = 0;
	if (!q)
		return 0;
	if (*q == 'v' || *q == 'V')
		q++;
	char *end = NULL;
	if (!*q || (*v = strtoll(q, &end, 10)) <= 0 || *end) {
		buf_addf(&req->err, "%s: a version number such as 3 or v3", name);
		return OODA_EINVAL;
	}
	return 0;
}

int api_runbooks_list(struct http_request *req, struct http_response *res)
{
	NEED_ENGINE(req);
	return runbook_list_json(engine(req), http_query(req, "service"), http_query(req, "template"), &res->body,
				 &req->err);
}

int api_runbook_get(struct http_request *req, struct http_response *res)
{
	NEED_ENGINE(req);
	int64_t v;
	int rc = version_query(req, "version", &v);
	return rc ? rc : runbook_get_json(engine(req), http_param(req, "name"), v, &res->body, &req->err);
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
int api_runbook_put(struct http_request *req, struct http_response *res)
{
	NEED_ENGINE(req);
	json_t *body = NULL;
	if (api_json_body(req, &body))
		return OODA_EINVAL;
	const char *md = NULL;
	int64_t version = 0;
	int rc = markdown_of(req, body, &md);
	if (!rc)
		rc = runbook_apply(engine(req), md, strlen(md), req->who.actor, api_rationale(req, body), &version,
				   &req->err);
	if (!rc)
		api_send_json(res, 200, json_pack("{ss sI}", "name", http_param(req, "name"), "version", (json_int_t)version));
	json_decref(body);
	return rc;
}

/*
 * POST /api/v1/runbooks/{name}/check [{markdown}]: every automated step in
 * dry-run. 200 with the plan when all pass, 422 naming the first refusal.
 */
int api_runbook_check(struct http_request *req, struct http_response *res)
{
	NEED_ENGINE(req);
	json_t *body = NULL, *out = NULL;
	if (req->body_len && api_json_body(req, &body))
		return OODA_EINVAL;
	const char *md = NULL;
	int rc = 0;
	if (json_object_get(body, "markdown"))
		rc = markdown_of(req, body, &md);
	if (!rc)
		rc = md ? runbook_check_text(engine(req), md, strlen(md), &out, &req->err)
			: runbook_check(engine(req), http_param(req, "name"), &out, &req->err);
	if (!rc)
		api_send_json(res, 200, out);
	else
		json_decref(out);
	json_decref(body);
	return rc;
}

int api_runbook_diff(struct http_request *req, struct http_response *res)
{
	NEED_ENGINE(req);
	int64_t a, b;
	int rc = version_query(req, "from", &a);
	if (!rc)
		rc = version_query(req, "to", &b);
	struct buf diff = BUF_INIT;
	if (!rc)
		rc = runbook_diff(engine(req), http_param(req, "name"), a, b, &diff, &req->err);
	if (!rc)
		api_send_json(res, 200, json_pack("{ss ss}", "name", http_param(req, "name"), "diff", diff.data ? diff.data : ""));
	buf_release(&diff);
	return rc;
}

/* {to: N, rationale}. */
int api_runbook_rollback(struct http_request *req, struct http_response *res)
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
		rc = runbook_rollback(engine(req), http_param(req, "name"), json_integer_value(to), req->who.actor,
				      api_rationale(req, body), &version, &req->err);
	if (!rc)
		api_send_json(res, 200, json_pack("{ss sI}", "name", http_param(req, "name"), "version", (json_int_t)version));
	json_decref(body);
	return rc;
}

/* POST /api/v1/runbooks/{name}/run {incident, rationale}. */
int api_runbook_run(struct http_request *req, struct http_response *res)
{
	NEED_ENGINE(req);
	json_t *body = NULL;
	if (api_json_body(req, &body))
		return OODA_EINVAL;
	const char *incident = NULL;
	int rc = api_json_str(req, body, "incident", 128, &incident);
	if (!rc)
		rc = runbook_run_start(engine(req), http_param(req, "name"), incident, req->who.actor,
				       api_rationale(req, body), &res->body, &req->err);
	json_decref(body);
	return rc;
}

int api_runbook_run_get(struct http_request *req, struct http_response *res)
{
	NEED_ENGINE(req);
	return runbook_run_json(engine(req), http_param(req, "id"), &res->body, &req->err);
}

/* POST /api/v1/runbook-runs/{id}/steps/{n}/done {note}. */
int api_runbook_step_done(struct http_request *req, struct http_response *res)
{
	NEED_ENGINE(req);
	json_t *body = NULL;
	if (req->body_len && api_json_body(req, &body))
		return OODA_EINVAL;
	const char *note = NULL, *ns = http_param(req, "n");
	char *end = NULL;
	long n = ns ? strtol(ns, &end, 10) : 0;
	int rc = api_json_str(req, body, "note", 1024, &note);
	if (!rc && (!ns || !*ns || *end || n < 1 || n > 1000)) {
		buf_adds(&req->err, "n: a step number (1, 2, …)");
		rc = OODA_EINVAL;
	}
	if (!rc)
		rc = runbook_step_done(engine(req), http_param(req, "id"), (int)n, req->who.actor, note, &res->body,
				       &req->err);
	json_decref(body);
	return rc;
}
