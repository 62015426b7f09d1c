/*
 * Incidents over HTTP: list, open by hand, one incident, its timeline,
 * lifecycle transitions, commander handoffs, severity, annotations,
 * hypotheses, artifacts (raw bytes in and out), status updates, and the
 * public status page. Thin adapters over respond/incident.h; the actor is
 * always the authenticated caller (api_actor).
 */
#include "api/api.h"
#include "api/handlers.h"
#include "api/respond_glue.h"
#include "core/time.h"
#include "respond/actions.h"
#include "respond/incident.h"
#include "respond/postmortem.h"

#include <string.h>

static struct incidents *inc(struct http_request *req)
{
	return api_daemon(req)->incidents;
}

static const char *id_of(struct http_request *req)
{
	return http_param(req, "id");
}

/* The body as a JSON object and the who, for every change. */
static int body_and_actor(struct http_request *req, json_t **body, const char **actor)
{
	int rc = api_json_body(req, body);
	if (rc)
		return rc;
	*actor = api_actor(req, NULL);
	return 0;
}

/* Runs a change that reads string members of the body; 201 or 200 on success. */
static int finish(struct http_response *res, json_t *body, int rc, int status)
{
	json_decref(body);
	if (!rc)
		res->status = status;
	return rc;
}

int api_incidents_list(struct http_request *req, struct http_response *res)
{
	struct incident_filter f = { .status = http_query(req, "status"),
				     .service = http_query(req, "service"),
				     .severity = http_query(req, "severity") };
	int rc = api_query_limit(req, "limit", 100, 1000, &f.limit);
	return rc ? rc : incidents_list_json(inc(req), &f, &res->body, &req->err);
}

int api_incident_open(struct http_request *req, struct http_response *res)
{
	json_t *body;
	const char *actor;
	int rc = body_and_actor(req, &body, &actor);
	if (rc)
		return rc;
	return finish(res, body, incidents_open(inc(req), body, actor, &res->body, &req->err), 201);
}

int api_incident_get(struct http_request *req, struct http_response *res)
{
	return incidents_get_json(inc(req), id_of(req), &res->body, &req->err);
}

int api_incident_timeline(struct http_request *req, struct http_response *res)
{
	return incidents_timeline_json(inc(req), id_of(req), http_query(req, "kind"), &res->body, &req->err);
}

int api_incident_transition(struct http_request *req, struct http_response *res)
{
	json_t *body;
	const char *actor, *to, *note;
	int rc = body_and_actor(req, &body, &actor);
	if (rc)
		return rc;
	if (!(rc = api_json_str(req, body, "to", 32, &to)) && !(rc = api_json_str(req, body, "note", 65536, &note))) {
		if (!to) {
			buf_adds(&req->err, "to: required (acknowledged, mitigated, resolved or reviewed)");
			rc = OODA_EINVAL;
		} else {
			json_t *fp = json_object_get(body, "false_positive");
			if (fp && !json_is_boolean(fp)) {
				buf_adds(&req->err, "false_positive: true or false");
				rc = OODA_EINVAL;
			} else {
				rc = incidents_transition_fp(inc(req), id_of(req), to,
							     note ? note : api_rationale(req, body), json_is_true(fp),
							     actor, &res->body, &req->err);
			}
		}
	}
	return finish(res, body, rc, 200);
}

int api_incident_commander(struct http_request *req, struct http_response *res)
{
	json_t *body;
	const char *actor, *who, *note;
	int rc = body_and_actor(req, &body, &actor);
	if (rc)
		return rc;
	if (!(rc = api_json_str(req, body, "commander", 160, &who)) && !(rc = api_json_str(req, body, "note", 65536, &note)))
		rc = incidents_set_commander(inc(req), id_of(req), who, note, actor, &res->body, &req->err);
	return finish(res, body, rc, 200);
}

int api_incident_severity(struct http_request *req, struct http_response *res)
{
	json_t *body;
	const char *actor, *sev, *note;
	int rc = body_and_actor(req, &body, &actor);
	if (rc)
		return rc;
	if (!(rc = api_json_str(req, body, "severity", 8, &sev)) && !(rc = api_json_str(req, body, "note", 65536, &note)))
		rc = incidents_set_severity(inc(req), id_of(req), sev, note, actor, &res->body, &req->err);
	return finish(res, body, rc, 200);
}

int api_incident_annotations(struct http_request *req, struct http_response *res)
{
	struct buf tl = BUF_INIT;
	int rc = incidents_timeline_json(inc(req), id_of(req), "annotation", &tl, &req->err);
	if (!rc) {
		/* the same entries, under the name of the resource */
		json_t *j = json_loads(tl.data, 0, NULL);
		json_t *o = json_pack("{s:O}", "annotations", json_object_get(j, "entries"));
		api_send_json(res, 200, o);
		json_decref(j);
	}
	buf_release(&tl);
	return rc;
}

int api_incident_annotate(struct http_request *req, struct http_response *res)
{
	json_t *body;
	const char *actor, *md;
	int rc = body_and_actor(req, &body, &actor);
	if (rc)
		return rc;
	if (!(rc = api_json_str(req, body, "markdown", 65536, &md)))
		rc = incidents_annotate(inc(req), id_of(req), md, actor, &res->body, &req->err);
	return finish(res, body, rc, 201);
}

int api_incident_hypotheses(struct http_request *req, struct http_response *res)
{
	return incidents_hypotheses_json(inc(req), id_of(req), &res->body, &req->err);
}

int api_incident_hypothesis_add(struct http_request *req, struct http_response *res)
{
	json_t *body;
	const char *actor;
	int rc = body_and_actor(req, &body, &actor);
	if (rc)
		return rc;
	return finish(res, body, incidents_hypothesis_add(inc(req), id_of(req), body, actor, &res->body, &req->err), 201);
}

int api_incident_hypothesis_decide(struct http_request *req, struct http_response *res)
{
	json_t *body;
	const char *actor, *state, *note;
	int rc = body_and_actor(req, &body, &actor);
	if (rc)
		return rc;
	if (!(rc = api_json_str(req, body, "state", 16, &state)) && !(rc = api_json_str(req, body, "note", 65536, &note)))
		rc = incidents_hypothesis_decide(inc(req), id_of(req), http_param(req, "hid"), state, note, actor,
						 &res->body, &req->err);
	return finish(res, body, rc, 200);
}

int api_incident_artifacts(struct http_request *req, struct http_response *res)
{
	return incidents_artifacts_json(inc(req), id_of(req), &res->body, &req->err);
}

/* The body is the artifact's bytes; ?name= names it, Content-Type says what it is. */
int api_incident_artifact_add(struct http_request *req, struct http_response *res)
{
	const char *ctype = http_header(req, "Content-Type");
	int rc = incidents_artifact_add(inc(req), id_of(req), http_query(req, "name"), ctype, req->body, req->body_len,
					api_actor(req, NULL), &res->body, &req->err);
	if (!rc)
		res->status = 201;
	return rc;
}

int api_incident_artifact_get(struct http_request *req, struct http_response *res)
{
	char *name = NULL, *ctype = NULL;
	struct buf bytes = BUF_INIT;
	int rc = incidents_artifact_get(inc(req), id_of(req), http_param(req, "aid"), &bytes, &name, &ctype, &req->err);
	if (!rc) {
		res->content_type = arena_strdup(&req->arena, ctype);
		buf_add(&res->body, bytes.data, bytes.len);
		struct buf cd = BUF_INIT;
		buf_adds(&cd, "attachment; filename=\"");
		for (const char *p = name; *p; p++)
			buf_addch(&cd, *p == '"' ? '_' : *p);
		buf_addch(&cd, '"');
		http_set_header(res, "Content-Disposition", cd.data);
		buf_release(&cd);
	}
	free(name);
	free(ctype);
	buf_release(&bytes);
	return rc;
}

int api_incident_status_updates(struct http_request *req, struct http_response *res)
{
	return incidents_status_updates_json(inc(req), id_of(req), &res->body, &req->err);
}

int api_incident_status_update(struct http_request *req, struct http_response *res)
{
	json_t *body;
	const char *actor, *state, *msg;
	int rc = body_and_actor(req, &body, &actor);
	if (rc)
		return rc;
	if (!(rc = api_json_str(req, body, "state", 32, &state)) && !(rc = api_json_str(req, body, "message", 65536, &msg)))
		rc = incidents_status_update(inc(req), id_of(req), state, msg, actor, &res->body, &req->err);
	return finish(res, body, rc, 201);
}

int api_status_page(struct http_request *req, struct http_response *res)
{
	return incidents_status_page_json(inc(req), &res->body, &req->err);
}

/* ---- triage, suspects and the postmortem draft (respond_glue.h) ------------ */

int api_incident_summary(struct http_request *req, struct http_response *res)
{
	json_t *s;
	int rc = respond_summary(api_daemon(req), id_of(req), &s, &req->err);
	if (!rc)
		api_send_json(res, 200, s);
	return rc;
}

int api_incident_suspects(struct http_request *req, struct http_response *res)
{
	json_t *s;
	int rc = respond_summary(api_daemon(req), id_of(req), &s, &req->err);
	if (rc)
		return rc;
	json_t *suspects = json_object_get(s, "suspects");
	api_send_json(res, 200, json_pack("{s:O}", "suspects", suspects ? suspects : json_array()));
	json_decref(s);
	return 0;
}

/* A JSON answer of one of the incident reads, parsed; NULL on error (detail in err). */
static json_t *read_json(int rc, struct buf *b)
{
	json_t *j = rc ? NULL : json_loads(b->data, 0, NULL);
	buf_release(b);
	return j;
}

int api_incident_postmortem(struct http_request *req, struct http_response *res)
{
	struct daemon *d = api_daemon(req);
	const char *format = http_query(req, "format");
	if (format && strcmp(format, "json") && strcmp(format, "markdown")) {
		buf_adds(&req->err, "format: expected markdown or json");
		return OODA_EINVAL;
	}
	struct buf b = BUF_INIT;
	int rc = incidents_get_json(inc(req), id_of(req), &b, &req->err);
	json_t *doc = read_json(rc, &b);
	if (rc || !doc)
		return rc ? rc : OODA_EINTERNAL;
	const char *id = json_string_value(json_object_get(doc, "id"));
	json_t *tl = read_json(incidents_timeline_json(inc(req), id, NULL, &b, &req->err), &b);
	json_t *hy = read_json(incidents_hypotheses_json(inc(req), id, &b, &req->err), &b);
	json_t *summary = NULL, *items = NULL;
	rc = respond_summary(d, id, &summary, &req->err);
	struct actions a = { .store = d->store, .signer = &d->signer };
	struct actions_filter f = { .incident = id };
	if (!rc)
		rc = actions_list(&a, &f, ooda_now_ns(), &items, &req->err);
	struct buf md = BUF_INIT;
	if (!rc)
		rc = postmortem_render(doc, tl, hy, summary, items, &md, &req->err);
	if (!rc && format && !strcmp(format, "json")) {
		api_send_json(res, 200, json_pack("{s:s, s:s%}", "incident", id, "markdown", md.data, md.len));
	} else if (!rc) {
		res->status = 200;
		res->content_type = "text/markdown; charset=utf-8";
		buf_add(&res->body, md.data, md.len);
	}
	buf_release(&md);
	json_decref(doc);
	json_decref(tl);
	json_decref(hy);
	json_decref(summary);
	json_decref(items);
	return rc;
}
