/*
 * On-call over HTTP: who is on call now or at a time (every schedule, or
 * one schedule or team), the shifts of a schedule in a range (a calendar),
 * and overrides (create, list, delete). Thin adapters over
 * respond/oncall_book.h and the pure functions of respond/oncall.h.
 */
#include "api/api.h"
#include "api/handlers.h"
#include "core/time.h"
#include "respond/oncall_book.h"

#define SHIFTS_DEFAULT_NS (INT64_C(7) * 86400 * OODA_NS_PER_SEC)
#define SHIFTS_MAX_NS (INT64_C(366) * 86400 * OODA_NS_PER_SEC)

static struct oncall_book *book(struct http_request *req)
{
	return api_daemon(req)->oncall;
}

static json_t *schedule_entry(const struct oncall_schedule *s, const struct oncall_shift *sh)
{
	json_t *j = oncall_shift_json(sh);
	json_object_set_new(j, "team", s->team ? json_string(s->team) : json_null());
	json_object_set_new(j, "time_zone", json_string(s->time_zone));
	return j;
}

int api_oncall_who(struct http_request *req, struct http_response *res)
{
	int64_t at = ooda_now_ns();
	int rc = api_query_time(req, "at", &at);
	if (rc && rc != OODA_ENOTFOUND)
		return rc;
	const char *schedule = http_query(req, "schedule"), *team = http_query(req, "team");
	if (schedule && team) {
		buf_adds(&req->err, "team: give schedule or team, not both");
		return OODA_EINVAL;
	}
	struct oncall_view v;
	oncall_book_view(book(req), &v);
	rc = 0;
	if (team) {
		const struct oncall_team *t = oncall_team_find(v.oc, team);
		if (!t) {
			buf_addf(&req->err, "team: no team \"%s\" under oncall.teams", team);
			rc = OODA_ENOTFOUND;
		} else if (!t->schedule) {
			buf_addf(&req->err, "team: team \"%s\" has no schedule", team);
			rc = OODA_ENOTFOUND;
		} else {
			schedule = t->schedule;
		}
	}
	if (!rc && schedule && !oncall_schedule_find(v.oc, schedule)) {
		buf_addf(&req->err, "schedule: no on-call schedule \"%s\" in ooda.yaml (oncall.schedules)", schedule);
		rc = OODA_ENOTFOUND;
	}
	json_t *list = json_array();
	for (size_t i = 0; !rc && i < v.oc->n_schedules; i++) {
		const struct oncall_schedule *s = &v.oc->schedules[i];
		if (schedule && strcmp(schedule, s->name))
			continue;
		struct oncall_shift sh;
		if (!(rc = oncall_who(v.oc, &v.ov, s->name, at, &sh, &req->err)))
			json_array_append_new(list, schedule_entry(s, &sh));
	}
	oncall_view_release(&v);
	if (rc) {
		json_decref(list);
		return rc;
	}
	char t[40];
	api_send_json(res, 200, json_pack("{s:s, s:o}", "at", ooda_time_format(at, t, sizeof(t)), "oncall", list));
	return 0;
}

int api_oncall_shifts(struct http_request *req, struct http_response *res)
{
	int64_t from = ooda_now_ns(), to;
	int rc = api_query_time(req, "from", &from);
	if (rc && rc != OODA_ENOTFOUND)
		return rc;
	to = ooda_ns_add_sat(from, SHIFTS_DEFAULT_NS);
	rc = api_query_time(req, "to", &to);
	if (rc && rc != OODA_ENOTFOUND)
		return rc;
	if (to <= from) {
		buf_adds(&req->err, "to: must be after from");
		return OODA_EINVAL;
	}
	if (to - from > SHIFTS_MAX_NS) {
		buf_adds(&req->err, "to: a range spans at most 366 days");
		return OODA_EINVAL;
	}
	const char *name = http_param(req, "name");
	struct oncall_view v;
	oncall_book_view(book(req), &v);
	json_t *shifts = NULL;
	bool truncated = false;
	rc = oncall_shifts(v.oc, &v.ov, name, from, to, &shifts, &truncated, &req->err);
	const struct oncall_schedule *s = rc ? NULL : oncall_schedule_find(v.oc, name);
	json_t *out = NULL;
	if (s) {
		char a[40], b[40];
		out = json_pack("{s:s, s:s?, s:s, s:s, s:s, s:o, s:b}", "schedule", s->name, "team", s->team, "time_zone",
				s->time_zone, "from", ooda_time_format(from, a, sizeof(a)), "to",
				ooda_time_format(to, b, sizeof(b)), "shifts", shifts, "truncated", truncated);
	}
	oncall_view_release(&v);
	if (rc)
		return rc;
	api_send_json(res, 200, out);
	return 0;
}

int api_oncall_overrides_list(struct http_request *req, struct http_response *res)
{
	const char *all = http_query(req, "all");
	api_send_json(res, 200,
		      oncall_overrides_json(book(req), http_query(req, "schedule"), all && !strcmp(all, "true"),
					    ooda_now_ns()));
	return 0;
}

int api_oncall_override_create(struct http_request *req, struct http_response *res)
{
	json_t *body;
	int rc = api_json_body(req, &body);
	if (rc)
		return rc;
	const char *claimed = json_string_value(json_object_get(body, "creator"));
	const char *actor = api_actor(req, claimed);
	json_t *out = NULL;
	rc = oncall_override_create(book(req), body, actor, claimed, ooda_now_ns(), &out, &req->err);
	json_decref(body);
	if (!rc)
		api_send_json(res, 201, out);
	return rc;
}

int api_oncall_override_delete(struct http_request *req, struct http_response *res)
{
	int rc = oncall_override_delete(book(req), http_param(req, "id"), req->who.actor, api_rationale(req, NULL),
					&req->err);
	if (!rc)
		buf_adds(&res->body, "{\"deleted\":true}");
	return rc;
}
