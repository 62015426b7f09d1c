/*
 * Probes and heartbeats over HTTP: the state, hysteresis window and last
 * results of each probe, the heartbeat table, and the ping a job sends when
 * it starts, succeeds or fails. Thin adapters over detect/probe.h and
 * detect/heartbeat.h.
 */
#include "api/api.h"
#include "api/handlers.h"
#include "core/time.h"

int api_probes_list(struct http_request *req, struct http_response *res)
{
	return prober_json(api_daemon(req)->prober, NULL, NULL, &res->body, &req->err);
}

int api_probe_get(struct http_request *req, struct http_response *res)
{
	return prober_json(api_daemon(req)->prober, http_param(req, "service"), http_param(req, "name"), &res->body,
			   &req->err);
}

int api_heartbeats_list(struct http_request *req, struct http_response *res)
{
	return heartbeats_json(api_daemon(req)->heartbeats, NULL, ooda_now_ns(), &res->body, &req->err);
}

int api_heartbeat_ping(struct http_request *req, struct http_response *res)
{
	struct heartbeat_ping p = { .status = http_query(req, "status"), .message = http_query(req, "message"),
				    .duration_ms = -1, .exit_code = -1, .actor = req->who.actor };
	json_t *body = NULL;
	int rc = 0;
	if (req->body_len) {
		json_error_t je;
		body = json_loadb(req->body, req->body_len, 0, &je);
		if (!json_is_object(body)) {
			json_decref(body);
			buf_addf(&req->err, "the body must be a JSON object {status, message, duration_ms, exit_code}: %s",
				 je.text);
			return OODA_EINVAL;
		}
		if (!p.status && (rc = api_json_str(req, body, "status", 16, &p.status)))
			goto out;
		if (!p.message && (rc = api_json_str(req, body, "message", 250, &p.message)))
			goto out;
		json_t *d = json_object_get(body, "duration_ms"), *e = json_object_get(body, "exit_code");
		if ((d && !json_is_number(d)) || (e && !json_is_integer(e))) {
			buf_adds(&req->err, "duration_ms must be a number and exit_code an integer");
			rc = OODA_EINVAL;
			goto out;
		}
		if (d)
			p.duration_ms = (int64_t)json_number_value(d);
		if (e && json_integer_value(e) >= 0 && json_integer_value(e) <= 255)
			p.exit_code = (int)json_integer_value(e);
	}
	const char *name = http_param(req, "name");
	int64_t now = ooda_now_ns();
	rc = heartbeat_ping(api_daemon(req)->heartbeats, name, &p, now, &req->err);
	if (!rc)
		rc = heartbeats_json(api_daemon(req)->heartbeats, name, now, &res->body, &req->err);
out:
	json_decref(body);
	return rc;
}
