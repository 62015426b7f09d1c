/*
 * Action items over HTTP: list and add the items of one incident, change
 * one item (status, owner, due, title), and the list across incidents with
 * the overdue and owner filters. Thin adapters over respond/actions.h; the
 * incident check comes from the daemon (d->incident_exists, set when the
 * incidents stage starts; NULL accepts any well-formed incident id).
 */
#include "api/api.h"
#include "api/handlers.h"
#include "core/time.h"
#include "respond/actions.h"

static struct actions actions_of(struct http_request *req)
{
	struct daemon *d = api_daemon(req);
	struct actions a = { .store = d->store, .signer = &d->signer, .exists = d->incident_exists,
			     .exists_ctx = d->incident_ctx };
	return a;
}

/* ?name=true|false; OODA_EINVAL naming it for anything else. */
static int query_bool(struct http_request *req, const char *name, bool *out)
{
	const char *v = http_query(req, name);
	*out = false;
	if (!v || !strcmp(v, "false") || !strcmp(v, "0"))
		return 0;
	if (!strcmp(v, "true") || !strcmp(v, "1") || !*v) {
		*out = true;
		return 0;
	}
	buf_addf(&req->err, "%s: expected true or false", name);
	return OODA_EINVAL;
}

static int list(struct http_request *req, struct http_response *res, const char *incident)
{
	struct actions a = actions_of(req);
	struct actions_filter f = { .incident = incident, .owner = http_query(req, "owner"),
				    .status = http_query(req, "status") };
	if (!incident)
		f.incident = http_query(req, "incident");
	int rc = query_bool(req, "overdue", &f.overdue);
	if (!rc)
		rc = api_query_limit(req, "limit", ACTIONS_LIST_MAX, ACTIONS_LIST_MAX, &f.limit);
	if (rc)
		return rc;
	if (f.owner && strlen(f.owner) > ACTIONS_OWNER_MAX) {
		buf_addf(&req->err, "owner: longer than %d characters", ACTIONS_OWNER_MAX);
		return OODA_EINVAL;
	}
	json_t *out;
	if ((rc = actions_list(&a, &f, ooda_now_ns(), &out, &req->err)))
		return rc;
	api_send_json(res, 200, out);
	return 0;
}

int api_incident_actions_list(struct http_request *req, struct http_response *res)
{
	const char *id = http_param(req, "id");
	if (!actions_incident_id_valid(id)) {
		buf_adds(&req->err, "id: not an incident id");
		return OODA_EINVAL;
	}
	return list(req, res, id);
}

int api_actions_list(struct http_request *req, struct http_response *res)
{
	return list(req, res, NULL);
}

int api_incident_actions_add(struct http_request *req, struct http_response *res)
{
	json_t *body, *out;
	int rc = api_json_body(req, &body);
	if (rc)
		return rc;
	struct actions a = actions_of(req);
	rc = actions_add(&a, http_param(req, "id"), body, req->who.actor, api_rationale(req, body), ooda_now_ns(), &out,
			 &req->err);
	json_decref(body);
	if (!rc)
		api_send_json(res, 201, out);
	return rc;
}

int api_action_update(struct http_request *req, struct http_response *res)
{
	const char *inc = http_param(req, "incident"), *item = http_param(req, "item");
	if (!actions_incident_id_valid(inc) || !item || item[0] != 'A' || strlen(item) > 12) {
		buf_adds(&req->err, "key: expected INCIDENT/A<n>, such as INC-7/A1");
		return OODA_EINVAL;
	}
	char key[ACTIONS_ID_MAX + 16];
	snprintf(key, sizeof(key), "%s/%s", inc, item);
	json_t *body, *out;
	int rc = api_json_body(req, &body);
	if (rc)
		return rc;
	struct actions a = actions_of(req);
	rc = actions_update(&a, key, body, req->who.actor, api_rationale(req, body), ooda_now_ns(), &out, &req->err);
	json_decref(body);
	if (!rc)
		api_send_json(res, 200, out);
	return rc;
}
