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

static void recipe_variants(json_t *row, struct buf *out)
{
	size_t k;
	json_t *v;
	json_array_foreach(json_object_get(row, "variants"), k, v)
		buf_addf(out, "%s%s", k ? "," : "", cli_jstr(v, "name"));
}

int cmd_recipes_list(struct cli_args *a, struct buf *err)
{
	json_t *j;
	int rc = cli_call_json(a, "GET", "/api/v1/recipes", NULL, &j, err);
	if (rc || a->json)
		return rc;
	static const struct cli_column cols[] = {
		{ "RECIPE", "name", NULL },
		{ "VARIANTS", NULL, recipe_variants },
		{ "DESCRIPTION", "description", NULL },
	};
	cli_table_json(json_object_get(j, "recipes"), cols, 3);
	json_decref(j);
	return 0;
}

int cmd_recipes_show(struct cli_args *a, struct buf *err)
{
	if (a->n_pos != 1) {
		buf_adds(err, "usage: ooda recipes show NAME");
		return OODA_EINVAL;
	}
	json_t *j;
	int rc = cli_call_item(a, "GET", "/api/v1/recipes/", a->pos[0], "", NULL, &j, err);
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

/* A run's incident, "-" for none. */
static void run_incident(json_t *row, struct buf *out)
{
	buf_adds(out, json_is_string(json_object_get(row, "incident")) ? cli_jstr(row, "incident") : "-");
}

int cmd_runs_list(struct cli_args *a, struct buf *err)
{
	struct buf path = BUF_INIT;
	buf_adds(&path, "/api/v1/runs");
	cli_param(&path, "limit", cli_opt(a, "--limit") ? cli_opt(a, "--limit") : "50");
	static const char *const filters[] = { "--incident", "--policy", "--status", "--before", "--after", NULL };
	json_t *j;
	int rc = cli_get_filtered(a, path.data, filters, &j, err);
	buf_release(&path);
	if (rc || a->json)
		return rc;
	static const struct cli_column cols[] = {
		{ "RUN", "id", NULL },
		{ "POLICY", "policy", NULL },
		{ "STATUS", "status", NULL },
		{ "INCIDENT", NULL, run_incident },
		{ "CREATED", "created", NULL },
		{ "REASON", "reason", NULL },
	};
	cli_table_json(json_object_get(j, "runs"), cols, 6);
	const char *older = json_string_value(json_object_get(j, "before"));
	if (older)
		fprintf(stderr, "more: --before %s\n", older);
	json_decref(j);
	return 0;
}

int cmd_runs_show(struct cli_args *a, struct buf *err)
{
	if (a->n_pos != 1) {
		buf_adds(err, "usage: ooda runs show RUN_ID");
		return OODA_EINVAL;
	}
	json_t *j;
	int rc = cli_call_item(a, "GET", "/api/v1/runs/", a->pos[0], "", NULL, &j, err);
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
	char tail[16];
	snprintf(tail, sizeof(tail), "/%s", verb);
	json_t *j;
	int rc = cli_call_item(a, "POST", "/api/v1/runs/", a->pos[0], tail, json_pack("{ss}", "rationale", cli_rationale(a)),
			       &j, err);
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

static const struct cli_vdoc_kind policy_kind = { "policy", "/api/v1/policies/" };

static void policy_breaker(json_t *row, struct buf *out)
{
	buf_adds(out, json_is_true(json_object_get(row, "breaker_open")) ? "open" : "closed");
}

int cmd_policy_list(struct cli_args *a, struct buf *err)
{
	json_t *j;
	int rc = cli_call_json(a, "GET", "/api/v1/policies", NULL, &j, err);
	if (rc || a->json)
		return rc;
	static const struct cli_column cols[] = {
		{ "POLICY", "name", NULL },
		{ "VERSION", NULL, cli_cell_version },
		{ "MODE", "mode", NULL },
		{ "AUTHOR", "author", NULL },
		{ "BREAKER", NULL, policy_breaker },
	};
	cli_table_json(json_object_get(j, "policies"), cols, 5);
	json_decref(j);
	return 0;
}

int cmd_policy_show(struct cli_args *a, struct buf *err)
{
	if (a->n_pos != 1) {
		buf_adds(err, "usage: ooda policy show NAME");
		return OODA_EINVAL;
	}
	json_t *j;
	int rc = cli_call_item(a, "GET", policy_kind.prefix, a->pos[0], "", NULL, &j, err);
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
	char *json = NULL;
	int rc = cli_read_file(a->pos[0], 1u << 20, "a policy", &text, err);
	if (!rc)
		rc = config_yaml_to_json(text.data ? text.data : "", text.len, &json, err);
	buf_release(&text);
	json_t *doc = rc ? NULL : json_loads(json, 0, NULL);
	free(json);
	const char *name = json_string_value(json_object_get(doc, "name"));
	if (!rc && !json_is_object(doc)) {
		buf_addf(err, "%s: a policy is a mapping (name, when, do, …)", a->pos[0]);
		rc = OODA_EINVAL;
	} else if (!rc && !name) {
		buf_addf(err, "%s: name: every policy has one", a->pos[0]);
		rc = OODA_EINVAL;
	}
	if (!rc)
		rc = cli_vdoc_put(a, &policy_kind, name, json_pack("{sO ss}", "policy", doc, "rationale", cli_rationale(a)),
				  err);
	json_decref(doc);
	return rc;
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

int cmd_policy_history(struct cli_args *a, struct buf *err)
{
	return cli_vdoc_history(a, &policy_kind, err);
}

int cmd_policy_diff(struct cli_args *a, struct buf *err)
{
	return cli_vdoc_diff(a, &policy_kind, err);
}

int cmd_policy_rollback(struct cli_args *a, struct buf *err)
{
	return cli_vdoc_rollback(a, &policy_kind, err);
}
