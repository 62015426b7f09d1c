/*
 * One handler set for the versioned documents of the remedy stage
 * (policies, runbooks): get with history, apply, diff, rollback. What
 * differs between the kinds — how a body is checked and stored, what a diff
 * compares — is in the kind's descriptor (api/vdoc_api.h); the request
 * parsing, the defaults and the answers are here, once.
 */
#include "api/vdoc_api.h"
#include "api/api.h"

#include <stdlib.h>
#include <string.h>

struct remedy *api_remedy(struct http_request *req)
{
	struct remedy *r = __atomic_load_n(&api_daemon(req)->remedy, __ATOMIC_ACQUIRE);
	if (!r)
		buf_adds(&req->err, "the remedy stage is not running");
	return r;
}

int api_remedy_body(struct http_request *req, bool optional, struct remedy **r, json_t **body)
{
	*body = NULL;
	if (!(*r = api_remedy(req)))
		return OODA_EUNAVAIL;
	if ((!optional || req->body_len) && api_json_body(req, body))
		return OODA_EINVAL;
	return 0;
}

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

/* 200 {name, version}: the answer of every write. */
static void send_version(struct http_request *req, struct http_response *res, int64_t version)
{
	api_send_json(res, 200, json_pack("{ss sI}", "name", http_param(req, "name"), "version", (json_int_t)version));
}

int api_vdoc_get(struct http_request *req, struct http_response *res, const struct api_vdoc_kind *k)
{
	struct remedy *r = api_remedy(req);
	if (!r)
		return OODA_EUNAVAIL;
	int64_t v = 0;
	int rc = k->by_version ? version_query(req, "version", &v) : 0;
	return rc ? rc : k->get(r, http_param(req, "name"), v, &res->body, &req->err);
}

int api_vdoc_put(struct http_request *req, struct http_response *res, const struct api_vdoc_kind *k)
{
	struct remedy *r;
	json_t *body;
	int rc = api_remedy_body(req, false, &r, &body);
	if (rc)
		return rc;
	int64_t version = 0;
	rc = k->apply(req, r, body, &version);
	if (!rc)
		send_version(req, res, version);
	json_decref(body);
	return rc;
}

/* The latest version of the document, read through k->get. */
static int latest_version(struct http_request *req, struct remedy *r, const struct api_vdoc_kind *k, int64_t *v)
{
	struct buf h = BUF_INIT;
	int rc = k->get(r, http_param(req, "name"), 0, &h, &req->err);
	json_t *j = rc ? NULL : json_loads(h.data, 0, NULL);
	*v = json_integer_value(json_object_get(j, "version"));
	json_decref(j);
	buf_release(&h);
	return rc;
}

int api_vdoc_diff(struct http_request *req, struct http_response *res, const struct api_vdoc_kind *k)
{
	struct remedy *r = api_remedy(req);
	if (!r)
		return OODA_EUNAVAIL;
	int64_t from, to;
	int rc = version_query(req, "from", &from);
	if (!rc)
		rc = version_query(req, "to", &to);
	int64_t latest = 0;
	if (!rc && (!from || !to))
		rc = latest_version(req, r, k, &latest);
	if (rc)
		return rc;
	if (!to)
		to = latest;
	if (!from)
		from = to > 1 ? to - 1 : 1;
	struct buf diff = BUF_INIT;
	rc = k->diff(r, http_param(req, "name"), from, to, &diff, &req->err);
	if (!rc)
		api_send_json(res, 200, json_pack("{ss sI sI ss}", "name", http_param(req, "name"), "from", (json_int_t)from,
						  "to", (json_int_t)to, "diff", diff.data ? diff.data : ""));
	buf_release(&diff);
	return rc;
}

int api_vdoc_rollback(struct http_request *req, struct http_response *res, const struct api_vdoc_kind *k)
{
	struct remedy *r;
	json_t *body;
	int rc = api_remedy_body(req, false, &r, &body);
	if (rc)
		return rc;
	json_t *to = json_object_get(body, "to");
	int64_t version = 0;
	if (!json_is_integer(to) || json_integer_value(to) <= 0) {
		buf_adds(&req->err, "to: the version to go back to, a number");
		rc = OODA_EINVAL;
	}
	if (!rc)
		rc = k->rollback(r, http_param(req, "name"), json_integer_value(to), req->who.actor,
				 api_rationale(req, body), &version, &req->err);
	if (!rc)
		send_version(req, res, version);
	json_decref(body);
	return rc;
}
