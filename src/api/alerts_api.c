/*
 * The alerting core over HTTP: alerts by state, one alert with its
 * transitions and evidence, alert groups, silences, and the Alertmanager
 * webhook intake (on a node that does not lead, handed to the leader
 * through the store: api/handover.h). Thin adapters over detect/alerts.h
 * and ingest/alertmanager.h.
 */
#include "api/api.h"
#include "api/handlers.h"
#include "api/handover.h"
#include "core/lead.h"
#include "core/time.h"
#include "detect/alerts.h"
#include "ingest/alertmanager.h"

static struct alerts *core(struct http_request *req)
{
	return api_daemon(req)->alerts;
}

/*
 * ooda's list ({"alerts":[…]}, what the CLI and the dashboard read) and,
 * in the same object, Prometheus' envelope {"status":"success","data":
 * {"alerts":[…]}} with the firing and pending alerts for Grafana and other
 * Prometheus clients; each side ignores the other's members
 * (docs/decisions.md).
 */
int api_alerts_list(struct http_request *req, struct http_response *res)
{
	struct buf ours = BUF_INIT;
	int rc = alerts_list_json(core(req), http_query(req, "state"), &ours, &req->err);
	if (!rc && ours.len > 1 && ours.data[0] == '{') {
		buf_adds(&res->body, "{\"status\":\"success\",\"data\":");
		api_prom_alerts_data(req, &res->body);
		buf_addch(&res->body, ',');
		buf_add(&res->body, ours.data + 1, ours.len - 1);
	} else if (!rc) {
		buf_add(&res->body, ours.data, ours.len);
	}
	buf_release(&ours);
	return rc;
}

int api_alert_get(struct http_request *req, struct http_response *res)
{
	return alerts_get_json(core(req), http_param(req, "fingerprint"), &res->body, &req->err);
}

int api_alert_groups(struct http_request *req, struct http_response *res)
{
	const char *st = http_query(req, "state");
	if (st && strcmp(st, "all") && strcmp(st, "firing")) {
		buf_addf(&req->err, "state must be firing or all, not \"%s\"", st);
		return OODA_EINVAL;
	}
	return alerts_groups_json(core(req), st && !strcmp(st, "all"), &res->body, &req->err);
}

int api_alertmanager(struct http_request *req, struct http_response *res)
{
	size_t n = 0;
	int rc;
	if (lead_term() == 0) { /* the leader's alerting core acts on it: hand it over through the store */
		rc = handover_alertmanager_put(api_daemon(req), req->body, req->body_len, ooda_now_ns(),
					       api_actor(req, NULL), &n, &req->err);
		if (!rc)
			buf_addf(&res->body, "{\"accepted\":%zu,\"handed_over\":true}", n);
		return rc;
	}
	struct alert_sink sink = alerts_sink(core(req));
	rc = alertmanager_decode(req->body, req->body_len, ooda_now_ns(), &sink, &n, &req->err);
	if (!rc)
		buf_addf(&res->body, "{\"accepted\":%zu}", n);
	return rc;
}

int api_silence_create(struct http_request *req, struct http_response *res)
{
	json_t *body;
	int rc = api_json_body(req, &body);
	if (rc)
		return rc;
	char id[32];
	int64_t now = ooda_now_ns();
	/* the creator is who the server authenticated; a claimed "creator" counts
	 * only in open loopback mode, where nobody is (api_actor) */
	const char *actor = api_actor(req, json_string_value(json_object_get(body, "creator")));
	rc = alerts_silence_create(core(req), body, actor, now, id, &req->err);
	json_decref(body);
	if (!rc) {
		res->status = 201;
		buf_addf(&res->body, "{\"id\":\"%s\"}", id);
	}
	return rc;
}

int api_silences_list(struct http_request *req, struct http_response *res)
{
	const char *all = http_query(req, "all");
	return alerts_silences_json(core(req), all && !strcmp(all, "true"), ooda_now_ns(), &res->body);
}

int api_silence_delete(struct http_request *req, struct http_response *res)
{
	int rc = alerts_silence_delete(core(req), http_param(req, "id"), req->who.actor, &req->err);
	if (!rc)
		buf_adds(&res->body, "{\"deleted\":true}");
	return rc;
}
