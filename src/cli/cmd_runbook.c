/*
 * CLI commands for runbooks: `ooda runbook list|show|apply|history|diff|
 * rollback|check|run|status|step`. Clients of api/runbook_api.c; --json
 * prints the route's answer as is. apply and check read a Markdown file
 * (- for stdin) and send it as {markdown}.
 */
#include "cli/cli.h"
#include "core/error.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MD_MAX (64 * 1024)

static const struct cli_vdoc_kind runbook_kind = { "runbook", "/api/v1/runbooks/" };

static void rb_path(struct buf *path, const char *name, const char *tail)
{
	buf_adds(path, runbook_kind.prefix);
	client_urlencode(path, name);
	buf_adds(path, tail);
}

/* The file's text; OODA_EIO, OODA_ETOOBIG. */
static int md_read(const char *file, struct buf *text, struct buf *err)
{
	return cli_read_file(file, MD_MAX, "a runbook", text, err);
}

/* The name in the front matter ("name: X"), copied into name; "" when none. */
static void md_name(const char *text, char *name, size_t cap)
{
	name[0] = '\0';
	const char *p = strstr(text ? text : "", "\nname:");
	if (!p && text && !strncmp(text, "name:", 5))
		p = text - 1;
	if (!p)
		return;
	p += 6;
	while (*p == ' ' || *p == '\t')
		p++;
	size_t n = strcspn(p, " \t\r\n");
	if (n >= cap)
		n = cap - 1;
	memcpy(name, p, n);
	name[n] = '\0';
}

static void runbook_steps(json_t *row, struct buf *out)
{
	buf_addf(out, "%lld", (long long)json_integer_value(json_object_get(row, "steps")));
}

int cmd_runbook_list(struct cli_args *a, struct buf *err)
{
	static const char *const filters[] = { "--service", "--template", NULL };
	json_t *j;
	int rc = cli_get_filtered(a, "/api/v1/runbooks", filters, &j, err);
	if (rc || a->json)
		return rc;
	static const struct cli_column cols[] = {
		{ "RUNBOOK", "name", NULL },
		{ "VERSION", NULL, cli_cell_version },
		{ "STEPS", NULL, runbook_steps },
		{ "SERVICES", NULL, cli_cell_services },
		{ "TITLE", "title", NULL },
	};
	cli_table_json(json_object_get(j, "runbooks"), cols, 5);
	json_decref(j);
	return 0;
}

int cmd_runbook_show(struct cli_args *a, struct buf *err)
{
	if (a->n_pos != 1) {
		buf_adds(err, "usage: ooda runbook show NAME");
		return OODA_EINVAL;
	}
	json_t *j;
	int rc = cli_call_item(a, "GET", runbook_kind.prefix, a->pos[0], "", NULL, &j, err);
	if (rc || a->json)
		return rc;
	printf("# v%lld by %s\n%s", (long long)json_integer_value(json_object_get(j, "version")), cli_jstr(j, "author"),
	       cli_jstr(json_object_get(j, "runbook"), "source"));
	json_decref(j);
	return 0;
}

int cmd_runbook_history(struct cli_args *a, struct buf *err)
{
	return cli_vdoc_history(a, &runbook_kind, err);
}

int cmd_runbook_apply(struct cli_args *a, struct buf *err)
{
	if (a->n_pos != 1) {
		buf_adds(err, "usage: ooda runbook apply FILE.md [--rationale WHY]");
		return OODA_EINVAL;
	}
	struct buf text = BUF_INIT;
	int rc = md_read(a->pos[0], &text, err);
	char name[129];
	md_name(text.data, name, sizeof(name));
	if (!rc && !*name) {
		buf_addf(err, "%s: name: the front matter names the runbook (name: NAME)", a->pos[0]);
		rc = OODA_EINVAL;
	}
	if (rc) {
		buf_release(&text);
		return rc;
	}
	json_t *body = json_pack("{ss% ss}", "markdown", text.data ? text.data : "", text.len, "rationale",
				 cli_rationale(a));
	buf_release(&text);
	if (!body) {
		buf_addf(err, "%s: not UTF-8", a->pos[0]);
		return OODA_EINVAL;
	}
	return cli_vdoc_put(a, &runbook_kind, name, body, err);
}

int cmd_runbook_diff(struct cli_args *a, struct buf *err)
{
	return cli_vdoc_diff(a, &runbook_kind, err);
}

int cmd_runbook_rollback(struct cli_args *a, struct buf *err)
{
	return cli_vdoc_rollback(a, &runbook_kind, err);
}

/* NAME (stored) or FILE.md (checked without storing). */
int cmd_runbook_check(struct cli_args *a, struct buf *err)
{
	if (a->n_pos != 1) {
		buf_adds(err, "usage: ooda runbook check NAME|FILE.md");
		return OODA_EINVAL;
	}
	const char *arg = a->pos[0];
	size_t al = strlen(arg);
	bool file = !strcmp(arg, "-") || (al > 3 && !strcmp(arg + al - 3, ".md"));
	struct buf path = BUF_INIT, text = BUF_INIT;
	char *bt = NULL;
	int rc = 0;
	if (file) {
		char name[129];
		rc = md_read(arg, &text, err);
		md_name(text.data, name, sizeof(name));
		json_t *body = rc ? NULL : json_pack("{ss%}", "markdown", text.data ? text.data : "", text.len);
		if (!rc && (!*name || !body)) {
			buf_addf(err, "%s: %s", arg, body ? "name: the front matter names the runbook" : "not UTF-8");
			rc = OODA_EINVAL;
		}
		rb_path(&path, name, "/check");
		bt = body ? json_dumps(body, JSON_COMPACT) : NULL;
		json_decref(body);
	} else {
		rb_path(&path, arg, "/check");
	}
	json_t *j = NULL;
	if (!rc)
		rc = cli_call_json(a, "POST", path.data, bt, &j, err);
	free(bt);
	buf_release(&path);
	buf_release(&text);
	if (rc || a->json)
		return rc;
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(j, "steps"), i, s) {
		printf("%lld. [%s] %s\n", (long long)json_integer_value(json_object_get(s, "n")),
		       !strcmp(cli_jstr(s, "kind"), "auto") ? "auto" : " ", cli_jstr(s, "text"));
		size_t k;
		json_t *p;
		json_array_foreach(json_object_get(s, "plan"), k, p)
			printf("     would run: %s\n", cli_jstr(p, "describe"));
	}
	printf("ok\n");
	json_decref(j);
	return 0;
}

static void walk_print(json_t *j)
{
	printf("%s  runbook %s v%lld on %s  %s (started by %s)\n", cli_jstr(j, "id"), cli_jstr(j, "runbook"),
	       (long long)json_integer_value(json_object_get(j, "version")), cli_jstr(j, "incident"), cli_jstr(j, "status"),
	       cli_jstr(j, "started_by"));
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(j, "steps"), i, s) {
		bool manual = !strcmp(cli_jstr(s, "kind"), "manual");
		printf("%3lld. [%s] %s  — %s", (long long)json_integer_value(json_object_get(s, "n")), manual ? " " : "auto",
		       cli_jstr(s, "text"), cli_jstr(s, "status"));
		if (manual && json_object_get(s, "done_by"))
			printf(" by %s at %s", cli_jstr(s, "done_by"), cli_jstr(s, "done_at"));
		if (!manual && json_object_get(s, "run"))
			printf(" as %s (%s)", cli_jstr(s, "run"), cli_jstr(s, "run_status"));
		if (json_object_get(s, "error"))
			printf(": %s", cli_jstr(s, "error"));
		printf("\n");
	}
}

int cmd_runbook_run(struct cli_args *a, struct buf *err)
{
	const char *inc = cli_opt(a, "--incident");
	if (a->n_pos > 1 || !inc) {
		buf_adds(err, "usage: ooda runbook run [NAME] --incident ID [--rationale WHY]");
		return OODA_EINVAL;
	}
	char name[129] = "";
	if (a->n_pos == 1) {
		snprintf(name, sizeof(name), "%s", a->pos[0]);
	} else {
		/* the runbook the incident names (services[].runbook or its template's) */
		json_t *ij = NULL;
		bool was_json = a->json;
		a->json = false;
		int rc = cli_call_item(a, "GET", "/api/v1/incidents/", inc, "", NULL, &ij, err);
		a->json = was_json;
		const char *rb = rc ? NULL : cli_jstr(ij, "runbook");
		if (!rc && (!rb || !*rb)) {
			buf_addf(err, "incident %s names no runbook (services[].runbook or its template's): give NAME", inc);
			rc = OODA_EINVAL;
		}
		if (!rc)
			snprintf(name, sizeof(name), "%s", rb);
		json_decref(ij);
		if (rc)
			return rc;
	}
	return cli_show_item(a, "POST", runbook_kind.prefix, name, "/run",
			     json_pack("{ss ss}", "incident", inc, "rationale", cli_rationale(a)), walk_print, err);
}

int cmd_runbook_status(struct cli_args *a, struct buf *err)
{
	if (a->n_pos != 1) {
		buf_adds(err, "usage: ooda runbook status RUN");
		return OODA_EINVAL;
	}
	return cli_show_item(a, "GET", "/api/v1/runbook-runs/", a->pos[0], "", NULL, walk_print, err);
}

int cmd_runbook_step(struct cli_args *a, struct buf *err)
{
	if (a->n_pos != 2 || !cli_flag(a, "--done")) {
		buf_adds(err, "usage: ooda runbook step RUN N --done [--note TEXT]");
		return OODA_EINVAL;
	}
	struct buf tail = BUF_INIT;
	buf_adds(&tail, "/steps/");
	client_urlencode(&tail, a->pos[1]);
	buf_adds(&tail, "/done");
	const char *note = cli_opt(a, "--note");
	int rc = cli_show_item(a, "POST", "/api/v1/runbook-runs/", a->pos[0], tail.data,
			       json_pack("{ss}", "note", note ? note : ""), walk_print, err);
	buf_release(&tail);
	return rc;
}
