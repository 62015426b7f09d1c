/*
 * CLI commands for on-call: `ooda oncall who` (who is on call now or
 * --at a time, for every schedule or one --schedule or --team), `ooda
 * oncall shifts SCHEDULE` (the calendar of a range) and `ooda oncall
 * override add|list|rm`. Each is a client of one route of
 * api/oncall_api.c; --json prints the route's answer as is.
 */
#include "cli/cli.h"
#include "core/error.h"

#include <jansson.h>

static void backups_text(json_t *shift, struct buf *out)
{
	size_t i;
	json_t *b;
	json_array_foreach(json_object_get(shift, "backups"), i, b)
		buf_addf(out, "%s%s", i ? "," : "", json_string_value(b));
	if (!out->len)
		buf_adds(out, "-");
}

static const char *or_dash(json_t *o, const char *key)
{
	const char *s = cli_jstr(o, key);
	return *s ? s : "-";
}

/* The cells of `oncall who` that are not a plain member: "-" for none. */
static void team_cell(json_t *s, struct buf *out)
{
	buf_adds(out, or_dash(s, "team"));
}

static void primary_cell(json_t *s, struct buf *out)
{
	buf_adds(out, json_is_string(json_object_get(s, "primary")) ? cli_jstr(s, "primary") : "(nobody yet)");
}

static void start_cell(json_t *s, struct buf *out)
{
	buf_adds(out, or_dash(s, "start"));
}

static void end_cell(json_t *s, struct buf *out)
{
	buf_adds(out, or_dash(s, "end"));
}

static void override_cell(json_t *s, struct buf *out)
{
	json_t *o = json_object_get(s, "override");
	if (json_is_object(o))
		buf_addf(out, "%s for %s: %s", cli_jstr(o, "id"), or_dash(o, "replaces"), cli_jstr(o, "reason"));
	else
		buf_adds(out, "-");
}

int cmd_oncall_who(struct cli_args *a, struct buf *err)
{
	const char *schedule = cli_opt(a, "--schedule"), *team = cli_opt(a, "--team");
	if (schedule && team) {
		buf_adds(err, "usage: ooda oncall who [--at TIME] [--schedule S | --team T]");
		return OODA_EINVAL;
	}
	struct buf path = BUF_INIT;
	buf_adds(&path, "/api/v1/oncall");
	cli_param(&path, "at", cli_opt(a, "--at"));
	cli_param(&path, "schedule", schedule);
	cli_param(&path, "team", team);
	json_t *j;
	int rc = cli_call_json(a, "GET", path.data, NULL, &j, err);
	buf_release(&path);
	if (rc || a->json)
		return rc;
	static const struct cli_column cols[] = {
		{ "SCHEDULE", "schedule", NULL }, { "TEAM", NULL, team_cell },	  { "PRIMARY", NULL, primary_cell },
		{ "BACKUPS", NULL, backups_text }, { "SINCE", NULL, start_cell }, { "UNTIL", NULL, end_cell },
		{ "OVERRIDE", NULL, override_cell },
	};
	printf("on call at %s\n", cli_jstr(j, "at"));
	if (json_array_size(json_object_get(j, "oncall")))
		cli_table_json(json_object_get(j, "oncall"), cols, 7);
	else
		printf("no on-call schedules: declare them under oncall.schedules in ooda.yaml (docs/oncall.md)\n");
	json_decref(j);
	return 0;
}

int cmd_oncall_shifts(struct cli_args *a, struct buf *err)
{
	if (a->n_pos != 1) {
		buf_adds(err, "usage: ooda oncall shifts SCHEDULE [--from TIME] [--to TIME]");
		return OODA_EINVAL;
	}
	struct buf path = BUF_INIT;
	buf_adds(&path, "/api/v1/oncall/schedules/");
	client_urlencode(&path, a->pos[0]);
	cli_param(&path, "from", cli_opt(a, "--from"));
	cli_param(&path, "to", cli_opt(a, "--to"));
	json_t *j;
	int rc = cli_call_json(a, "GET", path.data, NULL, &j, err);
	buf_release(&path);
	if (rc || a->json)
		return rc;
	printf("schedule %s (%s), %s to %s\n", cli_jstr(j, "schedule"), cli_jstr(j, "time_zone"), cli_jstr(j, "from"),
	       cli_jstr(j, "to"));
	json_t *list = json_object_get(j, "shifts");
	size_t n = json_array_size(list);
	static const char *const headers[] = { "START", "END", "PRIMARY", "BACKUPS", "OVERRIDE" };
	enum { NC = 5 };
	const char **cells = xcalloc(n * NC + 1, sizeof(*cells));
	struct buf *bk = xcalloc(n + 1, sizeof(*bk));
	for (size_t i = 0; i < n; i++) {
		json_t *s = json_array_get(list, i), *o = json_object_get(s, "override");
		backups_text(s, &bk[i]);
		const char **row = &cells[i * NC];
		row[0] = or_dash(s, "start");
		row[1] = or_dash(s, "end");
		row[2] = cli_jstr(s, "primary");
		row[3] = bk[i].data;
		row[4] = json_is_object(o) ? cli_jstr(o, "id") : "-";
	}
	if (n)
		cli_table(headers, NC, cells, (int)n);
	else
		printf("nobody is on call in this range\n");
	if (json_is_true(json_object_get(j, "truncated")))
		printf("(more shifts follow; ask for a shorter range)\n");
	for (size_t i = 0; i < n; i++)
		buf_release(&bk[i]);
	free(bk);
	free(cells);
	json_decref(j);
	return 0;
}

static int override_add(struct cli_args *a, struct buf *err)
{
	const char *schedule = cli_opt(a, "--schedule"), *user = cli_opt(a, "--user"), *from = cli_opt(a, "--from");
	const char *to = cli_opt(a, "--to"), *reason = cli_opt(a, "--reason");
	if (!schedule || !user || !to || !reason) {
		buf_adds(err, "usage: ooda oncall override add --schedule S --user U [--from TIME] --to TIME --reason WHY");
		return OODA_EINVAL;
	}
	json_t *body = json_pack("{s:s, s:s, s:s?, s:s, s:s, s:s}", "schedule", schedule, "user", user, "from", from,
				 "to", to, "reason", reason, "creator", cli_actor());
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	json_t *j;
	int rc = cli_call_json(a, "POST", "/api/v1/oncall/overrides", text, &j, err);
	free(text);
	if (!rc && !a->json)
		printf("override %s on %s: %s is on call for %s from %s to %s\n", cli_jstr(j, "id"), cli_server(a),
		       cli_jstr(j, "user"), cli_jstr(j, "schedule"), cli_jstr(j, "from"), cli_jstr(j, "to"));
	json_decref(j);
	return rc;
}

static int override_list(struct cli_args *a, struct buf *err)
{
	struct buf path = BUF_INIT;
	buf_adds(&path, "/api/v1/oncall/overrides");
	cli_param(&path, "schedule", cli_opt(a, "--schedule"));
	cli_param(&path, "all", cli_flag(a, "--all") ? "true" : NULL);
	json_t *j;
	int rc = cli_call_json(a, "GET", path.data, NULL, &j, err);
	buf_release(&path);
	if (rc || a->json)
		return rc;
	json_t *list = json_object_get(j, "overrides");
	size_t n = json_array_size(list);
	static const char *const headers[] = { "ID", "SCHEDULE", "USER", "FROM", "TO", "CREATED BY", "REASON" };
	enum { NC = 7 };
	static const char *const keys[NC] = { "id", "schedule", "user", "from", "to", "created_by", "reason" };
	const char **cells = xcalloc(n * NC + 1, sizeof(*cells));
	for (size_t i = 0; i < n; i++)
		for (int c = 0; c < NC; c++)
			cells[i * NC + c] = or_dash(json_array_get(list, i), keys[c]);
	if (n)
		cli_table(headers, NC, cells, (int)n);
	else
		printf("no on-call overrides%s\n", cli_flag(a, "--all") ? "" : " in force or ahead (--all: ended ones too)");
	free(cells);
	json_decref(j);
	return 0;
}

static int override_rm(struct cli_args *a, struct buf *err)
{
	if (a->n_pos != 2) {
		buf_adds(err, "usage: ooda oncall override rm ID");
		return OODA_EINVAL;
	}
	struct buf path = BUF_INIT;
	buf_adds(&path, "/api/v1/oncall/overrides/");
	client_urlencode(&path, a->pos[1]);
	cli_param(&path, "rationale", cli_opt(a, "--reason"));
	json_t *j;
	int rc = cli_call_json(a, "DELETE", path.data, NULL, &j, err);
	buf_release(&path);
	if (!rc && !a->json)
		printf("override %s deleted on %s\n", a->pos[1], cli_server(a));
	json_decref(j);
	return rc;
}

int cmd_oncall_override(struct cli_args *a, struct buf *err)
{
	static const struct {
		const char *verb;
		cli_fn fn;
	} verbs[] = { { "add", override_add }, { "list", override_list }, { "rm", override_rm } };
	for (size_t i = 0; a->n_pos >= 1 && i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (!strcmp(a->pos[0], verbs[i].verb))
			return verbs[i].fn(a, err);
	buf_adds(err, "usage: ooda oncall override add|list|rm …");
	return OODA_EINVAL;
}
