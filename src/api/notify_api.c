/*
 * The notification outbox over HTTP: delivery status per message (by
 * incident, alert, status or id) and a test message to one target. Thin
 * adapters over respond/notify.h; no secret is ever in an answer.
 */
#include "api/api.h"
#include "api/handlers.h"

int api_notifications_list(struct http_request *req, struct http_response *res)
{
	struct daemon *d = api_daemon(req);
	size_t limit;
	int rc = api_query_limit(req, "limit", 100, 1000, &limit);
	if (rc)
		return rc;
	struct notify_filter f = {
		.incident = http_query(req, "incident"), .alert = http_query(req, "alert"),
		.status = http_query(req, "status"), .id = http_query(req, "id"), .limit = limit,
	};
	return notify_list_json(d->notify, &f, &res->body, &req->err);
}

int api_notifications_test(struct http_request *req, struct http_response *res)
{
	json_t *body;
	int rc = api_json_body(req, &body);
	if (rc)
		return rc;
	const char *target = NULL;
	rc = api_json_str(req, body, "target", 128, &target);
	if (!rc && !target) {
		buf_adds(&req->err, "target: is required (the name of a notify target)");
		rc = OODA_EINVAL;
	}
	char id[24];
	if (!rc)
		rc = notify_test(api_daemon(req)->notify, target, req->who.actor, id, &req->err);
	if (rc == OODA_ENOTFOUND) /* a bad field of the body, not a missing resource */
		rc = OODA_EINVAL;
	if (!rc) {
		res->status = 202;
		buf_addf(&res->body, "{\"id\":\"%s\",\"target\":", id);
		buf_add_json_str(&res->body, target, strlen(target));
		buf_adds(&res->body, "}");
	}
	json_decref(body); /* target points into it */
	return rc;
}
