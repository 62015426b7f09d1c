/*
 * CLI commands for remediation: `ooda recipes list|show` (the catalogue),
 * `ooda runs list|show|approve|reject|cancel`, `ooda policy
 * list|show|apply` and `ooda automation pause|resume|status`. Clients of
 * api/remedy_api.c; --json prints the route's answer as is.
 */
#include "cli/cli.h"
#include "core/config.h"
#include "core/error.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

int cmd_recipes_list(struct cli_args *a, struct buf *err)
{
	json_t *j;
	int rc = cli_call_json(a, "GET", "/api/v1/recipes", NULL, &j, err);
	if (rc || a->json)
		return rc;
	json_t *list = json_object_get(j, "recipes");
	size_t n = json_array_size(list);
	static const char *const headers[] = { "RECIPE", "VARIANTS", "DESCRIPTION" };
	enum { NC = 3 };
	const char **cells = xcalloc(n * NC + 1, sizeof(*cells));
	struct buf *vs = xcalloc(n + 1, sizeof(*vs));
	for (size_t i = 0; i < n; i++) {
		json_t *r = json_array_get(list, i), *v;
		size_t k;
		json_array_foreach(json_object_get(r, "variants"), k, v)
			buf_addf(&vs[i], "%s%s", k ? "," : "", cli_jstr(v, "name"));
		cells[i * NC] = cli_jstr(r, "name");
		cells[i * NC + 1] = vs[i].data ? vs[i].data : "";
		cells[i * NC + 2] = cli_jstr(r, "description");
	}
	cli_table(headers, NC, cells, (int)n);
	for (size_t i = 0; i < n; i++)
		buf_release(&vs[i]);
	free(vs);
	free(cells);
	json_decref(j);
	return 0;
}

int cmd_recipes_show(struct cli_args *a, struct buf *err)
{
	if (a->n_pos != 1) {
		buf_adds(err, "usage: ooda recipes show NAME");
		return OODA_EINVAL;
	}
	struct buf path = BUF_INIT;
	buf_adds(&path, "/api/v1/recipes/");
	client_urlencode(&path, a->pos[0]);
	json_t *j;
	int rc = cli_call_json(a, "GET", path.data, NULL, &j, err);
	buf_release(&path);
	if (rc || a->json)
		return rc;
	printf("%s: %s\nparams:\n", cli_jstr(j, "name"), cli_jstr(j, "description"));
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(j, "params"), i, p)
		printf("  %s%s: %s\n", cli_jstr(p, "name"), json_is_true(json_object_get(p, "required")) ? "" : " (optional)",
		       cli_jstr(p, "description"));
	json_array_foreach(json_object_get(j, "variants"), i, p) {
		char *steps = json_dumps(json_object_get(p, "steps"), JSON_COMPACT);
		printf("variant %s: %s\n", cli_jstr(p, "name"), steps ? steps : "[]");
		free(steps);
		size_t k;
		json_t *d;
		json_array_foreach(json_object_get(p, "describe"), k, d)
			printf("  dry-run: %s\n", json_string_value(d));
	}
	json_decref(j);
	return 0;
}

/* ---- runs ------------------------------------------------------------------ */

int cmd_runs_list(struct cli_args *a, struct buf *err)
{
	struct buf path = BUF_INIT;
	buf_adds(&path, "/api/v1/runs?limit=");
	client_urlencode(&path, cli_opt(a, "--limit") ? cli_opt(a, "--limit") : "50");
	const char *filters[] = { "incident", "policy", "status" }, *opts[] = { "--incident", "--policy", "--status" };
	for (size_t i = 0; i < 3; i++)
		if (cli_opt(a, opts[i])) {
			buf_addf(&path, "&%s=", filters[i]);
			client_urlencode(&path, cli_opt(a, opts[i]));
		}
	json_t *j;
	int rc = cli_call_json(a, "GET", path.data, NULL, &j, err);
	buf_release(&path);
	if (rc || a->json)
		return rc;
	json_t *list = json_object_get(j, "runs");
	size_t n = json_array_size(list);
	static const char *const headers[] = { "RUN", "POLICY", "STATUS", "INCIDENT", "CREATED", "REASON" };
	enum { NC = 6 };
	const char **cells = xcalloc(n * NC + 1, sizeof(*cells));
	for (size_t i = 0; i < n; i++) {
		json_t *r = json_array_get(list, i);
		cells[i * NC] = cli_jstr(r, "id");
		cells[i * NC + 1] = cli_jstr(r, "policy");
		cells[i * NC + 2] = cli_jstr(r, "status");
		cells[i * NC + 3] = json_is_string(json_object_get(r, "incident")) ? cli_jstr(r, "incident") : "-";
		cells[i * NC + 4] = cli_jstr(r, "created");
		cells[i * NC + 5] = json_is_string(json_object_get(r, "reason")) ? cli_jstr(r, "reason") : "";
	}
	cli_table(headers, NC, cells, (int)n);
	free(cells);
	json_decref(j);
	return 0;
}

int cmd_runs_show(struct cli_args *a, struct buf *err)
{
	if (a->n_pos != 1) {
		buf_adds(err, "usage: ooda runs show RUN_ID");
		return OODA_EINVAL;
	}
	struct buf path = BUF_INIT;
	buf_adds(&path, "/api/v1/runs/");
	client_urlencode(&path, a->pos[0]);
	json_t *j;
	int rc = cli_call_json(a, "GET", path.data, NULL, &j, err);
	buf_release(&path);
	if (rc || a->json)
		return rc;
	printf("%s  %s  policy %s v%lld (%s)\n", cli_jstr(j, "id"), cli_jstr(j, "status"), cli_jstr(j, "policy"),
	       (long long)json_integer_value(json_object_get(j, "policy_version")), cli_jstr(j, "mode"));
	printf("why: %s\n", cli_jstr(j, "rationale"));
	if (json_is_string(json_object_get(j, "reason")))
		printf("reason: %s\n", cli_jstr(j, "reason"));
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(j, "steps"), i, s) {
		printf("  %zu. %-11s %s", i, cli_jstr(s, "status"), cli_jstr(s, "describe"));
		if (json_object_get(s, "exit_status"))
			printf("  (status %lld, %lld ms)", (long long)json_integer_value(json_object_get(s, "exit_status")),
			       (long long)json_integer_value(json_object_get(s, "duration_ms")));
		printf("\n");
		json_t *u = json_object_get(s, "undo");
		if (u)
			printf("     undone: %s %s\n", cli_jstr(u, "status"), cli_jstr(u, "describe"));
	}
	if (json_is_string(json_object_get(j, "verification")))
		printf("expect: %s\n", cli_jstr(j, "verification"));
	json_decref(j);
	return 0;
}

static int run_post(struct cli_args *a, const char *verb, struct buf *err)
{
	if (a->n_pos != 1) {
		buf_addf(err, "usage: ooda runs %s RUN_ID [--rationale WHY]", verb);
		return OODA_EINVAL;
	}
	struct buf path = BUF_INIT;
	buf_adds(&path, "/api/v1/runs/");
	client_urlencode(&path, a->pos[0]);
	buf_addf(&path, "/%s", verb);
	json_t *body = json_pack("{ss}", "rationale", cli_opt(a, "--rationale") ? cli_opt(a, "--rationale") : "");
	char *text = json_dumps(body, JSON_COMPACT);
	json_t *j;
	int rc = cli_call_json(a, "POST", path.data, text, &j, err);
	free(text);
	json_decref(body);
	buf_release(&path);
	if (rc || a->json)
		return rc;
	printf("%s: %s\n", a->pos[0], json_is_string(json_object_get(j, "status")) ? cli_jstr(j, "status") : verb);
	json_decref(j);
	return 0;
}

int cmd_runs_approve(struct cli_args *a, struct buf *err)
{
	return run_post(a, "approve", err);
}

int cmd_runs_reject(struct cli_args *a, struct buf *err)
{
	return run_post(a, "reject", err);
}

int cmd_runs_cancel(struct cli_args *a, struct buf *err)
{
	return run_post(a, "cancel", err);
}

/* ---- policies ------------------------------------------------------------------ */

int cmd_policy_list(struct cli_args *a, struct buf *err)
{
	json_t *j;
	int rc = cli_call_json(a, "GET", "/api/v1/policies", NULL, &j, err);
	if (rc || a->json)
		return rc;
	json_t *list = json_object_get(j, "policies");
	size_t n = json_array_size(list);
	static const char *const headers[] = { "POLICY", "VERSION", "MODE", "AUTHOR", "BREAKER" };
	enum { NC = 5 };
	const char **cells = xcalloc(n * NC + 1, sizeof(*cells));
	char (*ver)[24] = xcalloc(n + 1, sizeof(*ver));
	for (size_t i = 0; i < n; i++) {
		json_t *p = json_array_get(list, i);
		snprintf(ver[i], sizeof(ver[i]), "v%lld", (long long)json_integer_value(json_object_get(p, "version")));
		cells[i * NC] = cli_jstr(p, "name");
		cells[i * NC + 1] = ver[i];
		cells[i * NC + 2] = cli_jstr(p, "mode");
		cells[i * NC + 3] = cli_jstr(p, "author");
		cells[i * NC + 4] = json_is_true(json_object_get(p, "breaker_open")) ? "open" : "closed";
	}
	cli_table(headers, NC, cells, (int)n);
	free(ver);
	free(cells);
	json_decref(j);
	return 0;
}

int cmd_policy_show(struct cli_args *a, struct buf *err)
{
	if (a->n_pos != 1) {
		buf_adds(err, "usage: ooda policy show NAME");
		return OODA_EINVAL;
	}
	struct buf path = BUF_INIT;
	buf_adds(&path, "/api/v1/policies/");
	client_urlencode(&path, a->pos[0]);
	json_t *j;
	int rc = cli_call_json(a, "GET", path.data, NULL, &j, err);
	buf_release(&path);
	if (rc || a->json)
		return rc;
	char *t = json_dumps(j, JSON_INDENT(2));
	printf("%s\n", t ? t : "");
	free(t);
	json_decref(j);
	return 0;
}

/* ooda policy apply FILE: a policy as YAML or JSON (- reads stdin). */
int cmd_policy_apply(struct cli_args *a, struct buf *err)
{
	if (a->n_pos != 1) {
		buf_adds(err, "usage: ooda policy apply FILE [--rationale WHY]");
		return OODA_EINVAL;
	}
	struct buf text = BUF_INIT;
	FILE *f = strcmp(a->pos[0], "-") ? fopen(a->pos[0], "r") : stdin;
	if (!f) {
		buf_addf(err, "cannot open %s", a->pos[0]);
		return OODA_EIO;
	}
	char chunk[8192];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && text.len < (1u << 20))
		buf_add(&text, chunk, n);
	if (f != stdin)
		fclose(f);
	char *json = NULL;
	int rc = text.len >= (1u << 20) ? OODA_ETOOBIG : config_yaml_to_json(text.data ? text.data : "", text.len, &json, err);
	buf_release(&text);
	json_t *doc = rc ? NULL : json_loads(json, 0, NULL);
	free(json);
	if (!rc && !json_is_object(doc)) {
		buf_addf(err, "%s: a policy is a mapping (name, when, do, …)", a->pos[0]);
		rc = OODA_EINVAL;
	}
	if (rc) {
		json_decref(doc);
		return rc;
	}
	const char *name = json_string_value(json_object_get(doc, "name"));
	if (!name) {
		buf_addf(err, "%s: name: every policy has one", a->pos[0]);
		json_decref(doc);
		return OODA_EINVAL;
	}
	struct buf path = BUF_INIT;
	buf_adds(&path, "/api/v1/policies/");
	client_urlencode(&path, name);
	json_t *body = json_pack("{sO ss}", "policy", doc, "rationale", cli_opt(a, "--rationale") ? cli_opt(a, "--rationale") : "");
	char *bt = json_dumps(body, JSON_COMPACT);
	json_t *j;
	rc = cli_call_json(a, "PUT", path.data, bt, &j, err);
	free(bt);
	json_decref(body);
	json_decref(doc);
	buf_release(&path);
	if (rc || a->json)
		return rc;
	printf("policy %s v%lld\n", cli_jstr(j, "name"), (long long)json_integer_value(json_object_get(j, "version")));
	json_decref(j);
	return 0;
}

/* ---- the automation switch ---------------------------------------------------------- */

static void automation_print(json_t *j)
{
	if (json_is_true(json_object_get(j, "paused")))
		printf("paused by %s at %s: %s\n", cli_jstr(j, "by"), cli_jstr(j, "at"), cli_jstr(j, "reason"));
	else
		printf("running (%lld active runs)\n", (long long)json_integer_value(json_object_get(j, "active_runs")));
}

static int automation_set(struct cli_args *a, bool paused, struct buf *err)
{
	const char *reason = cli_opt(a, "--reason");
	if (paused && (!reason || !*reason)) {
		buf_adds(err, "usage: ooda automation pause --reason WHY");
		return OODA_EINVAL;
	}
	json_t *body = json_pack("{sb ss}", "paused", paused, "reason", reason ? reason : "");
	char *text = json_dumps(body, JSON_COMPACT);
	json_t *j;
	int rc = cli_call_json(a, "POST", "/api/v1/automation", text, &j, err);
	free(text);
	json_decref(body);
	if (rc || a->json)
		return rc;
	automation_print(j);
	json_decref(j);
	return 0;
}

int cmd_automation_pause(struct cli_args *a, struct buf *err)
{
	return automation_set(a, true, err);
}

int cmd_automation_resume(struct cli_args *a, struct buf *err)
{
	return automation_set(a, false, err);
}

int cmd_automation_status(struct cli_args *a, struct buf *err)
{
	json_t *j;
	int rc = cli_call_json(a, "GET", "/api/v1/automation", NULL, &j, err);
	if (rc || a->json)
		return rc;
	automation_print(j);
	json_decref(j);
	return 0;
}

static void policy_path(struct buf *path, const char *name, const char *tail)
{
	buf_adds(path, "/api/v1/policies/");
	client_urlencode(path, name);
	buf_adds(path, tail);
}

int cmd_policy_history(struct cli_args *a, struct buf *err)
{
	if (a->n_pos != 1) {
		buf_adds(err, "usage: ooda policy history NAME");
		return OODA_EINVAL;
	}
	struct buf path = BUF_INIT;
	policy_path(&path, a->pos[0], "");
	json_t *j;
	int rc = cli_call_json(a, "GET", path.data, NULL, &j, err);
	buf_release(&path);
	if (rc)
		return rc;
	if (a->json) {
		/* cli_call_json printed the whole policy; the history is part of it */
		return 0;
	}
	size_t i;
	json_t *h;
	json_array_foreach(json_object_get(j, "history"), i, h)
		printf("v%lld  %s  %s%s  %s\n", (long long)json_integer_value(json_object_get(h, "version")), cli_jstr(h, "time"),
		       cli_jstr(h, "author"), json_is_true(json_object_get(h, "deleted")) ? "  (deleted)" : "",
		       cli_jstr(h, "rationale"));
	json_decref(j);
	return 0;
}

static const char *strip_v(const char *s)
{
	return s && (*s == 'v' || *s == 'V') ? s + 1 : s;
}

int cmd_policy_diff(struct cli_args *a, struct buf *err)
{
	if (a->n_pos != 1 && a->n_pos != 3) {
		buf_adds(err, "usage: ooda policy diff NAME [vA vB]");
		return OODA_EINVAL;
	}
	struct buf path = BUF_INIT;
	policy_path(&path, a->pos[0], "/diff");
	if (a->n_pos == 3) {
		buf_adds(&path, "?from=");
		client_urlencode(&path, strip_v(a->pos[1]));
		buf_adds(&path, "&to=");
		client_urlencode(&path, strip_v(a->pos[2]));
	}
	json_t *j;
	int rc = cli_call_json(a, "GET", path.data, NULL, &j, err);
	buf_release(&path);
	if (rc || a->json)
		return rc;
	printf("%s v%lld → v%lld\n%s", cli_jstr(j, "name"), (long long)json_integer_value(json_object_get(j, "from")),
	       (long long)json_integer_value(json_object_get(j, "to")), cli_jstr(j, "diff"));
	json_decref(j);
	return 0;
}

int cmd_policy_rollback(struct cli_args *a, struct buf *err)
{
	const char *to = strip_v(cli_opt(a, "--to"));
	if (a->n_pos != 1 || !to) {
		buf_adds(err, "usage: ooda policy rollback NAME --to vN [--rationale WHY]");
		return OODA_EINVAL;
	}
	char *end = NULL;
	long long v = strtoll(to, &end, 10);
	if (!*to || *end || v <= 0) {
		buf_adds(err, "--to: a version such as v3");
		return OODA_EINVAL;
	}
	struct buf path = BUF_INIT;
	policy_path(&path, a->pos[0], "/rollback");
	json_t *body = json_pack("{sI ss}", "to", (json_int_t)v, "rationale",
				 cli_opt(a, "--rationale") ? cli_opt(a, "--rationale") : "");
	char *text = json_dumps(body, JSON_COMPACT);
	json_t *j;
	int rc = cli_call_json(a, "POST", path.data, text, &j, err);
	free(text);
	json_decref(body);
	buf_release(&path);
	if (rc || a->json)
		return rc;
	printf("policy %s v%lld (as v%lld)\n", cli_jstr(j, "name"), (long long)json_integer_value(json_object_get(j, "version")),
	       v);
	json_decref(j);
	return 0;
}
