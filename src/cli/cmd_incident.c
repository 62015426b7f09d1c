/*
 * CLI commands for incidents: `ooda incident list|show|open|ack|mitigate|
 * resolve|timeline|note|hypothesis|artifact|status|postmortem`. Each is a client of
 * one route of api/incidents_api.c (rows of the command table in main.c,
 * so a new subcommand such as `postmortem` is one more row); --json prints
 * the route's answer as is.
 */
#include "cli/cli.h"
#include "core/error.h"
#include "respond/triage.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

static int need_id(struct cli_args *a, const char *usage, int n, struct buf *err)
{
	if (a->n_pos < n) {
		buf_addf(err, "usage: ooda incident %s", usage);
		return OODA_EINVAL;
	}
	return 0;
}

static void incident_path(struct buf *path, const char *id, const char *rest)
{
	buf_adds(path, "/api/v1/incidents/");
	client_urlencode(path, id);
	if (rest)
		buf_adds(path, rest);
}

static const char *or_dash(json_t *o, const char *k)
{
	const char *s = cli_jstr(o, k);
	return *s ? s : "-";
}

int cmd_incident_list(struct cli_args *a, struct buf *err)
{
	struct buf path = BUF_INIT;
	buf_adds(&path, "/api/v1/incidents");
	cli_param(&path, "status", cli_opt(a, "--status"));
	cli_param(&path, "service", cli_opt(a, "--service"));
	cli_param(&path, "severity", cli_opt(a, "--severity"));
	json_t *j;
	int rc = cli_call_json(a, "GET", path.data, NULL, &j, err);
	buf_release(&path);
	if (rc || a->json)
		return rc;
	json_t *list = json_object_get(j, "incidents");
	size_t n = json_array_size(list);
	static const char *const headers[] = { "ID", "SEVERITY", "STATUS", "SERVICE", "COMMANDER", "OPENED", "TITLE" };
	const char **cells = xcalloc(n * 7 + 1, sizeof(*cells));
	for (size_t i = 0; i < n; i++) {
		json_t *x = json_array_get(list, i);
		const char **row = &cells[i * 7];
		row[0] = cli_jstr(x, "id");
		row[1] = cli_jstr(x, "severity");
		row[2] = cli_jstr(x, "status");
		row[3] = or_dash(x, "service");
		row[4] = or_dash(x, "commander");
		row[5] = cli_jstr(x, "opened_at");
		row[6] = cli_jstr(x, "title");
	}
	if (n)
		cli_table(headers, 7, cells, (int)n);
	else
		printf("no incidents\n");
	free(cells);
	json_decref(j);
	return 0;
}

static void print_incident(json_t *x)
{
	printf("%s  %s  %s\n", cli_jstr(x, "id"), cli_jstr(x, "severity"), cli_jstr(x, "status"));
	printf("title      %s\n", cli_jstr(x, "title"));
	printf("service    %s", or_dash(x, "service"));
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(x, "services"), i, s) {
		if (i)
			printf("%s%s", i == 1 ? " (with " : ", ", json_string_value(s));
	}
	printf("%s\n", json_array_size(json_object_get(x, "services")) > 1 ? ")" : "");
	printf("team       %s\n", or_dash(x, "team"));
	printf("commander  %s\n", or_dash(x, "commander"));
	printf("runbook    %s\n", or_dash(x, "runbook"));
	printf("alerts     %zu\n", json_array_size(json_object_get(x, "alerts")));
	static const char *const times[] = { "onset_at", "opened_at", "acknowledged_at", "mitigated_at", "resolved_at",
					     "reviewed_at" };
	for (size_t k = 0; k < sizeof(times) / sizeof(times[0]); k++)
		if (json_is_string(json_object_get(x, times[k])))
			printf("%-10.*s %s\n", (int)(strlen(times[k]) - 3), times[k], cli_jstr(x, times[k]));
	json_int_t re = json_integer_value(json_object_get(x, "reopened"));
	if (re)
		printf("reopened   %lld times\n", (long long)re);
}

/*
 * The incident, then its triage summary (GET …/summary) as
 * triage_render_text; --json prints the incident document with "summary"
 * added. A summary that cannot be had is a line, not an error.
 */
int cmd_incident_show(struct cli_args *a, struct buf *err)
{
	int rc = need_id(a, "show ID", 1, err);
	if (rc)
		return rc;
	bool json = a->json;
	a->json = false;
	struct buf path = BUF_INIT, serr = BUF_INIT;
	incident_path(&path, a->pos[0], NULL);
	json_t *j = NULL, *s = NULL;
	rc = cli_call_json(a, "GET", path.data, NULL, &j, err);
	buf_reset(&path);
	incident_path(&path, a->pos[0], "/summary");
	if (!rc && cli_call_json(a, "GET", path.data, NULL, &s, &serr))
		s = NULL;
	a->json = json;
	buf_release(&path);
	if (!rc && json) {
		json_object_set(j, "summary", s ? s : json_null());
		char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
		if (text)
			printf("%s\n", text);
		free(text);
	} else if (!rc) {
		print_incident(j);
		printf("\n");
		if (s) {
			struct buf out = BUF_INIT;
			triage_render_text(s, &out);
			fputs(out.data, stdout);
			if (out.len && out.data[out.len - 1] != '\n')
				printf("\n");
			buf_release(&out);
		} else {
			printf("no triage summary: %s\n", serr.data);
		}
	}
	json_decref(j);
	json_decref(s);
	buf_release(&serr);
	return rc;
}

/* The postmortem draft (GET …/postmortem) to stdout, or to --output FILE. */
int cmd_incident_postmortem(struct cli_args *a, struct buf *err)
{
	int rc = need_id(a, "postmortem ID [--output FILE]", 1, err);
	if (rc)
		return rc;
	const char *file = cli_opt(a, "--output");
	bool json = a->json;
	struct buf path = BUF_INIT, md = BUF_INIT;
	incident_path(&path, a->pos[0], json ? "/postmortem?format=json" : "/postmortem");
	a->json = false;
	rc = cli_call(a, "GET", path.data, NULL, NULL, &md, err);
	a->json = json;
	buf_release(&path);
	if (!rc && file) {
		FILE *f = fopen(file, "w");
		if (!f || fwrite(md.data, 1, md.len, f) != md.len) {
			buf_addf(err, "%s: %s", file, strerror(errno));
			rc = OODA_EIO;
		}
		if (f && fclose(f) && !rc) {
			buf_addf(err, "%s: %s", file, strerror(errno));
			rc = OODA_EIO;
		}
		if (!rc)
			fprintf(stderr, "postmortem of %s written to %s\n", a->pos[0], file);
	} else if (!rc) {
		fwrite(md.data, 1, md.len, stdout);
	}
	buf_release(&md);
	return rc;
}

/* POSTs body to the incident's sub-route; prints what it answered (or the JSON). */
static int post_to(struct cli_args *a, const char *id, const char *rest, json_t *body, json_t **out, struct buf *err)
{
	struct buf path = BUF_INIT;
	if (id)
		incident_path(&path, id, rest);
	else
		buf_adds(&path, "/api/v1/incidents");
	char *text = json_dumps(body, JSON_COMPACT);
	int rc = cli_call_json(a, "POST", path.data, text, out, err);
	free(text);
	json_decref(body);
	buf_release(&path);
	return rc;
}

int cmd_incident_open(struct cli_args *a, struct buf *err)
{
	int rc = need_id(a, "open TITLE [--service=S] [--severity=SEVn]", 1, err);
	if (rc)
		return rc;
	json_t *body = json_pack("{s:s, s:s?, s:s?, s:s?}", "title", a->pos[0], "service", cli_opt(a, "--service"),
				 "severity", cli_opt(a, "--severity"), "summary", cli_opt(a, "--summary"));
	json_t *j;
	if ((rc = post_to(a, NULL, NULL, body, &j, err)) || a->json)
		return rc;
	printf("opened %s on %s\n", cli_jstr(j, "id"), cli_server(a));
	print_incident(j);
	json_decref(j);
	return 0;
}

static int move_to(struct cli_args *a, const char *to, struct buf *err)
{
	struct buf usage = BUF_INIT;
	buf_addf(&usage, "%s ID [--note=TEXT]", !strcmp(to, "acknowledged") ? "ack" : !strcmp(to, "mitigated") ? "mitigate" : "resolve");
	int rc = need_id(a, usage.data, 1, err);
	buf_release(&usage);
	if (rc)
		return rc;
	json_t *j;
	if ((rc = post_to(a, a->pos[0], "/transition", json_pack("{s:s, s:s?, s:b}", "to", to, "note", cli_opt(a, "--note"), "false_positive", cli_flag(a, "--false-positive")), &j,
			  err)) ||
	    a->json)
		return rc;
	printf("%s is %s (on %s)\n", cli_jstr(j, "id"), cli_jstr(j, "status"), cli_server(a));
	json_decref(j);
	return 0;
}

int cmd_incident_ack(struct cli_args *a, struct buf *err)
{
	return move_to(a, "acknowledged", err);
}

int cmd_incident_mitigate(struct cli_args *a, struct buf *err)
{
	return move_to(a, "mitigated", err);
}

int cmd_incident_resolve(struct cli_args *a, struct buf *err)
{
	return move_to(a, "resolved", err);
}

int cmd_incident_timeline(struct cli_args *a, struct buf *err)
{
	int rc = need_id(a, "timeline ID [--kind=K]", 1, err);
	if (rc)
		return rc;
	struct buf path = BUF_INIT;
	incident_path(&path, a->pos[0], "/timeline");
	cli_param(&path, "kind", cli_opt(a, "--kind"));
	json_t *j;
	rc = cli_call_json(a, "GET", path.data, NULL, &j, err);
	buf_release(&path);
	if (rc || a->json)
		return rc;
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(j, "entries"), i, e) {
		printf("%4lld  %s  %-13s %-20s %s\n", (long long)json_integer_value(json_object_get(e, "seq")),
		       cli_jstr(e, "at"), cli_jstr(e, "kind"), cli_jstr(e, "actor"), cli_jstr(e, "text"));
	}
	json_decref(j);
	return 0;
}

int cmd_incident_note(struct cli_args *a, struct buf *err)
{
	int rc = need_id(a, "note ID MARKDOWN", 2, err);
	if (rc)
		return rc;
	json_t *j;
	if ((rc = post_to(a, a->pos[0], "/annotations", json_pack("{s:s}", "markdown", a->pos[1]), &j, err)) || a->json)
		return rc;
	printf("noted on %s (entry %lld)\n", a->pos[0], (long long)json_integer_value(json_object_get(j, "seq")));
	json_decref(j);
	return 0;
}

/* `hypothesis ID STATEMENT [--confidence=0.7]` or `hypothesis ID HID --state=confirmed|rejected`. */
int cmd_incident_hypothesis(struct cli_args *a, struct buf *err)
{
	int rc = need_id(a, "hypothesis ID STATEMENT [--confidence=C] | hypothesis ID HID --state=confirmed|rejected", 2,
			 err);
	if (rc)
		return rc;
	json_t *j;
	const char *state = cli_opt(a, "--state");
	if (state) {
		struct buf rest = BUF_INIT;
		buf_adds(&rest, "/hypotheses/");
		client_urlencode(&rest, a->pos[1]);
		rc = post_to(a, a->pos[0], rest.data, json_pack("{s:s, s:s?}", "state", state, "note", cli_opt(a, "--note")),
			     &j, err);
		buf_release(&rest);
	} else {
		json_t *body = json_pack("{s:s}", "statement", a->pos[1]);
		const char *conf = cli_opt(a, "--confidence");
		if (conf) {
			char *end;
			errno = 0;
			double c = strtod(conf, &end);
			if (*end || errno || !(c >= 0 && c <= 1)) {
				json_decref(body);
				buf_adds(err, "--confidence: expected a number from 0 to 1");
				return OODA_EINVAL;
			}
			json_object_set_new(body, "confidence", json_real(c));
		}
		rc = post_to(a, a->pos[0], "/hypotheses", body, &j, err);
	}
	if (rc || a->json)
		return rc;
	printf("%s %s: %s (confidence %.2f)\n", cli_jstr(j, "id"), cli_jstr(j, "state"), cli_jstr(j, "statement"),
	       json_number_value(json_object_get(j, "confidence")));
	json_decref(j);
	return 0;
}

/* Uploads FILE as an artifact (--type= its content type, default application/octet-stream). */
int cmd_incident_artifact(struct cli_args *a, struct buf *err)
{
	int rc = need_id(a, "artifact ID FILE [--type=CONTENT-TYPE]", 2, err);
	if (rc)
		return rc;
	FILE *f = fopen(a->pos[1], "rb");
	if (!f) {
		buf_addf(err, "%s: %s", a->pos[1], strerror(errno));
		return OODA_EIO;
	}
	struct buf data = BUF_INIT;
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(&data, chunk, n);
	fclose(f);
	const char *base = strrchr(a->pos[1], '/');
	base = base ? base + 1 : a->pos[1];
	struct buf path = BUF_INIT, res = BUF_INIT;
	incident_path(&path, a->pos[0], "/artifacts");
	cli_param(&path, "name", base);
	const char *type = cli_opt(a, "--type") ? cli_opt(a, "--type") : "application/octet-stream";
	int status;
	rc = cli_context_check(a, err);
	if (!rc)
		rc = client_call(&a->client, "POST", path.data, data.data ? data.data : "", data.len, type, &status, &res,
				 err);
	if (!rc && a->json) {
		fwrite(res.data, 1, res.len, stdout);
		putchar('\n');
	} else if (!rc) {
		json_t *j = json_loads(res.data, 0, NULL);
		printf("%s: %s, %lld bytes, sha256 %s\n", cli_jstr(j, "id"), cli_jstr(j, "name"),
		       (long long)json_integer_value(json_object_get(j, "size")), cli_jstr(j, "sha256"));
		json_decref(j);
	}
	buf_release(&data);
	buf_release(&path);
	buf_release(&res);
	return rc;
}

/* `status ID STATE MESSAGE`: a public status update. */
int cmd_incident_status(struct cli_args *a, struct buf *err)
{
	int rc = need_id(a, "status ID investigating|identified|monitoring|resolved MESSAGE", 3, err);
	if (rc)
		return rc;
	json_t *j;
	if ((rc = post_to(a, a->pos[0], "/status-updates", json_pack("{s:s, s:s}", "state", a->pos[1], "message", a->pos[2]),
			  &j, err)) ||
	    a->json)
		return rc;
	printf("status update on %s: %s: %s\n", a->pos[0], cli_jstr(j, "state"), cli_jstr(j, "message"));
	json_decref(j);
	return 0;
}
