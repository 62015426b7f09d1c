/*
 * CLI commands of the change stage: `ooda flags …`, `ooda config
 * put|get|history|diff|rollback`, `ooda deploy …`, `ooda migration
 * register`, `ooda rollback plan|run|status` and `ooda approvals …`. Each
 * is a client of one HTTP route; --json prints the route's answer as is.
 */
#include "cli/cli.h"
#include "core/error.h"

#include <errno.h>
#include <jansson.h>

/* A document or plan from FILE (- reads stdin), at most 64 MiB. */
static int read_input(const char *file, struct buf *out, struct buf *err)
{
	return cli_read_file(file, (size_t)64 << 20, "the input", out, err);
}

static void print_pretty(json_t *j)
{
	char *t = json_dumps(j, JSON_INDENT(2) | JSON_ENCODE_ANY);
	if (t)
		printf("%s\n", t);
	free(t);
}

static const char *env_of(struct cli_args *a)
{
	return cli_opt(a, "--env") ? cli_opt(a, "--env") : "default";
}

static int need_pos(struct cli_args *a, int n, const char *usage, struct buf *err)
{
	if (a->n_pos >= n)
		return 0;
	buf_addf(err, "usage: %s", usage);
	return OODA_EINVAL;
}

/* ---- flags -------------------------------------------------------------- */

/* /api/v1/flags/KEY (the first argument) + tail + ?env=ENV. */
static void flag_path(struct cli_args *a, struct buf *path, const char *tail)
{
	buf_adds(path, "/api/v1/flags/");
	client_urlencode(path, a->pos[0]);
	buf_adds(path, tail);
	cli_param(path, "env", env_of(a));
}

int cmd_flags_list(struct cli_args *a, struct buf *err)
{
	struct buf path = BUF_INIT;
	buf_adds(&path, "/api/v1/flags");
	cli_param(&path, "env", env_of(a));
	json_t *j;
	int rc = cli_call_json(a, "GET", path.data, NULL, &j, err);
	buf_release(&path);
	if (rc || a->json)
		return rc;
	printf("%-32s %8s %-9s %-10s %-24s %s\n", "FLAG", "VERSION", "STATE", "DEFAULT", "UPDATED", "AUTHOR");
	size_t i;
	json_t *f;
	json_array_foreach(json_object_get(j, "flags"), i, f)
		printf("%-32s %8lld %-9s %-10s %-24s %s\n", cli_jstr(f, "key"),
		       (long long)json_integer_value(json_object_get(f, "version")), cli_jstr(f, "state"), cli_jstr(f, "defaultVariant"),
		       cli_jstr(f, "updated"), cli_jstr(f, "author"));
	json_decref(j);
	return 0;
}

int cmd_flags_get(struct cli_args *a, struct buf *err)
{
	int rc = need_pos(a, 1, "ooda flags get KEY [--env ENV]", err);
	if (rc)
		return rc;
	struct buf path = BUF_INIT;
	flag_path(a, &path, "");
	cli_param(&path, "version", cli_strip_v(cli_opt(a, "--version")));
	json_t *j;
	rc = cli_call_json(a, "GET", path.data, NULL, &j, err);
	buf_release(&path);
	if (!rc && !a->json) {
		printf("%s (%s) v%lld by %s at %s\n", cli_jstr(j, "key"), cli_jstr(j, "env"),
		       (long long)json_integer_value(json_object_get(j, "version")), cli_jstr(j, "author"), cli_jstr(j, "updated"));
		print_pretty(json_object_get(j, "definition"));
		json_decref(j);
	}
	return rc;
}

int cmd_flags_set(struct cli_args *a, struct buf *err)
{
	int rc = need_pos(a, 2, "ooda flags set KEY FILE|- [--env ENV] [--rationale WHY] [--if-version N]", err);
	struct buf body = BUF_INIT, path = BUF_INIT, out = BUF_INIT;
	if (!rc)
		rc = read_input(a->pos[1], &body, err);
	if (!rc) {
		flag_path(a, &path, "");
		cli_param(&path, "rationale", cli_opt(a, "--rationale"));
		if (cli_opt(a, "--if-version")) {
			a->client.if_match = cli_opt(a, "--if-version");
		}
		rc = cli_call(a, "PUT", path.data, body.data, "application/json", &out, err);
		if (!rc && !a->json) {
			json_t *j = json_loadb(out.data, out.len, 0, NULL);
			if (json_object_get(j, "approval"))
				printf("change needs approval: request %s is pending on %s\n", cli_jstr(j, "approval"),
				       cli_server(a));
			else
				printf("%s is now v%lld in env %s on %s\n", a->pos[0],
				       (long long)json_integer_value(json_object_get(j, "version")), env_of(a), cli_server(a));
			json_decref(j);
		}
	}
	buf_release(&body);
	buf_release(&path);
	buf_release(&out);
	return rc;
}

int cmd_flags_history(struct cli_args *a, struct buf *err)
{
	int rc = need_pos(a, 1, "ooda flags history KEY [--env ENV]", err);
	if (rc)
		return rc;
	struct buf path = BUF_INIT;
	flag_path(a, &path, "/history");
	json_t *j;
	rc = cli_call_json(a, "GET", path.data, NULL, &j, err);
	buf_release(&path);
	if (rc || a->json)
		return rc;
	printf("%-8s %-24s %-24s %s\n", "VERSION", "TIME", "AUTHOR", "RATIONALE");
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(j, "versions"), i, v)
		printf("v%-7lld %-24s %-24s %s%s\n", (long long)json_integer_value(json_object_get(v, "version")),
		       cli_jstr(v, "time"), cli_jstr(v, "author"), cli_jstr(v, "rationale"),
		       json_is_true(json_object_get(v, "deleted")) ? " (deleted)" : "");
	json_decref(j);
	return 0;
}

static int print_diff(struct cli_args *a, const char *path, struct buf *err)
{
	json_t *j;
	int rc = cli_call_json(a, "GET", path, NULL, &j, err);
	if (!rc && !a->json) {
		printf("--- v%lld\n+++ v%lld\n%s", (long long)json_integer_value(json_object_get(j, "from")),
		       (long long)json_integer_value(json_object_get(j, "to")), cli_jstr(j, "diff"));
		json_decref(j);
	}
	return rc;
}

int cmd_flags_diff(struct cli_args *a, struct buf *err)
{
	int rc = need_pos(a, 3, "ooda flags diff KEY vA vB [--env ENV]", err);
	if (rc)
		return rc;
	struct buf path = BUF_INIT;
	flag_path(a, &path, "/diff");
	cli_param(&path, "from", cli_strip_v(a->pos[1]));
	cli_param(&path, "to", cli_strip_v(a->pos[2]));
	rc = print_diff(a, path.data, err);
	buf_release(&path);
	return rc;
}

/* POSTs body; prints `done` and the server it changed, then the answer unless brief. */
static int post_simple(struct cli_args *a, const char *path, json_t *body, const char *done, bool brief,
		       struct buf *err)
{
	char *text = json_dumps(body, JSON_COMPACT);
	json_t *j;
	int rc = cli_call_json(a, "POST", path, text, &j, err);
	free(text);
	if (!rc && !a->json) {
		if (json_object_get(j, "approval")) {
			printf("needs approval: request %s is pending on %s\n", cli_jstr(j, "approval"), cli_server(a));
		} else {
			printf("%s on %s\n", done, cli_server(a));
			if (!brief)
				cli_print_fields(j);
		}
		json_decref(j);
	}
	return rc;
}

int cmd_flags_rollback(struct cli_args *a, struct buf *err)
{
	int rc = need_pos(a, 1, "ooda flags rollback KEY --to vN [--env ENV] [--rationale WHY]", err);
	if (!rc && !cli_opt(a, "--to")) {
		buf_adds(err, "usage: ooda flags rollback KEY --to vN");
		rc = OODA_EINVAL;
	}
	if (rc)
		return rc;
	struct buf path = BUF_INIT;
	flag_path(a, &path, "/rollback");
	json_t *body = json_pack("{s:I, s:s}", "to", (json_int_t)strtoll(cli_strip_v(cli_opt(a, "--to")), NULL, 10), "rationale",
				 cli_rationale(a));
	struct buf done = BUF_INIT;
	buf_addf(&done, "flag %s rolled back to v%s in env %s", a->pos[0], cli_strip_v(cli_opt(a, "--to")), env_of(a));
	rc = post_simple(a, path.data, body, done.data, false, err);
	buf_release(&done);
	json_decref(body);
	buf_release(&path);
	return rc;
}

int cmd_flags_import(struct cli_args *a, struct buf *err)
{
	int rc = need_pos(a, 1, "ooda flags import FILE.json [--env ENV] [--replace] [--lenient]", err);
	struct buf body = BUF_INIT, path = BUF_INIT, out = BUF_INIT;
	if (!rc)
		rc = read_input(a->pos[0], &body, err);
	if (!rc) {
		buf_adds(&path, "/api/v1/flags/import");
		cli_param(&path, "env", env_of(a));
		cli_param(&path, "replace", cli_flag(a, "--replace") ? "true" : NULL);
		cli_param(&path, "strict", cli_flag(a, "--lenient") ? "false" : NULL);
		cli_param(&path, "rationale", cli_opt(a, "--rationale"));
		rc = cli_call(a, "POST", path.data, body.data, "application/json", &out, err);
		if (!rc && !a->json) {
			json_t *j = json_loadb(out.data, out.len, 0, NULL);
			printf("%lld flags changed in env %s on %s\n",
			       (long long)json_integer_value(json_object_get(j, "changed")), env_of(a), cli_server(a));
			json_decref(j);
		}
	}
	buf_release(&body);
	buf_release(&path);
	buf_release(&out);
	return rc;
}

int cmd_flags_export(struct cli_args *a, struct buf *err)
{
	struct buf path = BUF_INIT;
	buf_adds(&path, "/api/v1/flags/export");
	cli_param(&path, "env", env_of(a));
	json_t *j;
	int rc = cli_call_json(a, "GET", path.data, NULL, &j, err);
	buf_release(&path);
	if (!rc && !a->json) {
		print_pretty(j);
		json_decref(j);
	}
	return rc;
}

int cmd_flags_kill(struct cli_args *a, struct buf *err)
{
	struct buf path = BUF_INIT;
	json_t *body = json_pack("{s:s}", "rationale", cli_rationale(a));
	if (a->n_pos) {
		buf_adds(&path, "/api/v1/flags/");
		client_urlencode(&path, a->pos[0]);
		buf_adds(&path, "/kill");
	} else if (cli_opt(a, "--service")) {
		buf_adds(&path, "/api/v1/flags/kill");
		json_object_set_new(body, "service", json_string(cli_opt(a, "--service")));
		json_object_set_new(body, "since", json_string(cli_opt(a, "--since") ? cli_opt(a, "--since") : "1h"));
	} else {
		json_decref(body);
		buf_adds(err, "usage: ooda flags kill KEY | --service NAME [--since 1h] [--env ENV] [--rationale WHY]");
		return OODA_EINVAL;
	}
	cli_param(&path, "env", env_of(a));
	cli_param(&path, "rationale", cli_opt(a, "--rationale"));
	char *text = json_dumps(body, JSON_COMPACT);
	json_t *j;
	int rc = cli_call_json(a, "POST", path.data, text, &j, err);
	free(text);
	json_decref(body);
	buf_release(&path);
	if (!rc && !a->json) {
		size_t i;
		json_t *k;
		json_t *dis = json_object_get(j, "disabled");
		if (!json_array_size(dis))
			printf("nothing to disable in env %s on %s\n", env_of(a), cli_server(a));
		json_array_foreach(dis, i, k)
			printf("disabled %s in env %s on %s\n", json_string_value(k), env_of(a), cli_server(a));
		json_decref(j);
	}
	return rc;
}

/* ---- config sets -------------------------------------------------------- */

static int cfg_path(struct cli_args *a, struct buf *path, const char *suffix, struct buf *err)
{
	if (!a->n_pos || !strchr(a->pos[0], '/')) {
		buf_adds(err, "name a config as SERVICE/ENV, e.g. checkout/prod");
		return OODA_EINVAL;
	}
	buf_adds(path, "/api/v1/configs/");
	const char *slash = strchr(a->pos[0], '/');
	struct buf svc = BUF_INIT;
	buf_add(&svc, a->pos[0], (size_t)(slash - a->pos[0]));
	client_urlencode(path, svc.data);
	buf_release(&svc);
	buf_addch(path, '/');
	client_urlencode(path, slash + 1);
	buf_adds(path, suffix);
	return 0;
}

int cmd_config_put(struct cli_args *a, struct buf *err)
{
	struct buf path = BUF_INIT, body = BUF_INIT, out = BUF_INIT;
	int rc = need_pos(a, 2, "ooda config put SERVICE/ENV FILE [--rationale WHY]", err);
	if (!rc)
		rc = cfg_path(a, &path, "", err);
	if (!rc)
		rc = read_input(a->pos[1], &body, err);
	if (!rc) {
		cli_param(&path, "rationale", cli_opt(a, "--rationale"));
		size_t n = strlen(a->pos[1]);
		bool yaml = (n > 5 && !strcmp(a->pos[1] + n - 5, ".yaml")) || (n > 4 && !strcmp(a->pos[1] + n - 4, ".yml"));
		if (cli_opt(a, "--if-version"))
			a->client.if_match = cli_opt(a, "--if-version");
		rc = cli_call(a, "PUT", path.data, body.data, yaml ? "application/yaml" : "application/json", &out, err);
		if (!rc && !a->json) {
			json_t *j = json_loadb(out.data, out.len, 0, NULL);
			printf("%s is now v%lld on %s\n", a->pos[0], (long long)json_integer_value(json_object_get(j, "version")),
			       cli_server(a));
			json_decref(j);
		}
	}
	buf_release(&path);
	buf_release(&body);
	buf_release(&out);
	return rc;
}

int cmd_config_get(struct cli_args *a, struct buf *err)
{
	struct buf path = BUF_INIT, out = BUF_INIT;
	int rc = cfg_path(a, &path, "", err);
	if (!rc) {
		cli_param(&path, "version", cli_strip_v(cli_opt(a, "--version")));
		bool json = a->json;
		a->json = false;
		rc = cli_call(a, "GET", path.data, NULL, NULL, &out, err);
		a->json = json;
		if (!rc)
			fwrite(out.data, 1, out.len, stdout);
		if (!rc && out.len && out.data[out.len - 1] != '\n')
			putchar('\n');
	}
	buf_release(&path);
	buf_release(&out);
	return rc;
}

int cmd_config_history(struct cli_args *a, struct buf *err)
{
	struct buf path = BUF_INIT;
	int rc = cfg_path(a, &path, "/history", err);
	json_t *j = NULL;
	if (!rc)
		rc = cli_call_json(a, "GET", path.data, NULL, &j, err);
	buf_release(&path);
	if (rc || a->json)
		return rc;
	size_t i;
	json_t *v;
	printf("%-8s %-24s %-24s %s\n", "VERSION", "TIME", "AUTHOR", "RATIONALE");
	json_array_foreach(json_object_get(j, "versions"), i, v)
		printf("v%-7lld %-24s %-24s %s\n", (long long)json_integer_value(json_object_get(v, "version")),
		       cli_jstr(v, "time"), cli_jstr(v, "author"), cli_jstr(v, "rationale"));
	json_decref(j);
	return 0;
}

int cmd_config_diff(struct cli_args *a, struct buf *err)
{
	struct buf path = BUF_INIT;
	int rc = need_pos(a, 3, "ooda config diff SERVICE/ENV vA vB", err);
	if (!rc)
		rc = cfg_path(a, &path, "/diff", err);
	if (!rc) {
		cli_param(&path, "from", cli_strip_v(a->pos[1]));
		cli_param(&path, "to", cli_strip_v(a->pos[2]));
		rc = print_diff(a, path.data, err);
	}
	buf_release(&path);
	return rc;
}

int cmd_config_rollback(struct cli_args *a, struct buf *err)
{
	struct buf path = BUF_INIT;
	int rc = cfg_path(a, &path, "/rollback", err);
	if (!rc && !cli_opt(a, "--to")) {
		buf_adds(err, "usage: ooda config rollback SERVICE/ENV --to vN [--rationale WHY]");
		rc = OODA_EINVAL;
	}
	if (!rc) {
		json_t *body = json_pack("{s:I, s:s}", "to", (json_int_t)strtoll(cli_strip_v(cli_opt(a, "--to")), NULL, 10),
					 "rationale", cli_rationale(a));
		struct buf done = BUF_INIT;
		buf_addf(&done, "config %s rolled back to v%s", a->pos[0], cli_strip_v(cli_opt(a, "--to")));
		rc = post_simple(a, path.data, body, done.data, false, err);
		buf_release(&done);
		json_decref(body);
	}
	buf_release(&path);
	return rc;
}

/* ---- deploys and rollbacks ---------------------------------------------- */

int cmd_deploy_record(struct cli_args *a, struct buf *err)
{
	if (!cli_opt(a, "--service") || !cli_opt(a, "--version")) {
		buf_adds(err, "usage: ooda deploy record --service S --version V [--env E] [--artifact A] "
			      "[--config-version N] [--migrations a,b] [--actor WHO] [--note TEXT]");
		return OODA_EINVAL;
	}
	json_t *body = json_pack("{s:s, s:s, s:s}", "service", cli_opt(a, "--service"), "version", cli_opt(a, "--version"),
				 "env", env_of(a));
	const char *opt[3][2] = { { "--artifact", "artifact" }, { "--actor", "actor" }, { "--note", "note" } };
	for (int i = 0; i < 3; i++)
		if (cli_opt(a, opt[i][0]))
			json_object_set_new(body, opt[i][1], json_string(cli_opt(a, opt[i][0])));
	if (cli_opt(a, "--config-version"))
		json_object_set_new(body, "config_version",
				    json_integer(strtoll(cli_strip_v(cli_opt(a, "--config-version")), NULL, 10)));
	if (cli_opt(a, "--migrations")) {
		json_t *m = json_array();
		const char *p = cli_opt(a, "--migrations");
		while (*p) {
			size_t n = strcspn(p, ",");
			if (n)
				json_array_append_new(m, json_stringn(p, n));
			p += n + (p[n] == ',');
		}
		json_object_set_new(body, "migrations", m);
	}
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	json_t *j;
	int rc = cli_call_json(a, "POST", "/api/v1/deploys", text, &j, err);
	free(text);
	if (!rc && !a->json) {
		printf("deploy %s recorded on %s: %s %s in env %s (config v%lld, %zu flags in the snapshot)\n",
		       cli_jstr(j, "id"), cli_server(a), cli_jstr(j, "service"), cli_jstr(j, "version"),
		       cli_jstr(j, "environment"), (long long)json_integer_value(json_object_get(j, "config_version")),
		       json_object_size(json_object_get(j, "flags")));
		json_decref(j);
	}
	return rc;
}

int cmd_deploy_list(struct cli_args *a, struct buf *err)
{
	static const char *const filters[] = { "--service", "--limit", NULL };
	json_t *j;
	int rc = cli_get_filtered(a, "/api/v1/deploys", filters, &j, err);
	if (rc || a->json)
		return rc;
	printf("%-22s %-24s %-16s %-10s %-12s %s\n", "ID", "TIME", "SERVICE", "ENV", "VERSION", "ACTOR");
	size_t i;
	json_t *d;
	json_array_foreach(json_object_get(j, "deploys"), i, d)
		printf("%-22s %-24s %-16s %-10s %-12s %s%s\n", cli_jstr(d, "id"), cli_jstr(d, "time"), cli_jstr(d, "service"),
		       cli_jstr(d, "environment"), cli_jstr(d, "version"), cli_jstr(d, "actor"),
		       json_is_string(json_object_get(d, "rollback_of")) ? "  (rollback)" : "");
	json_decref(j);
	return 0;
}

static int deploy_call(struct cli_args *a, const char *method, const char *suffix, const char *usage, struct buf *err)
{
	int rc = need_pos(a, 1, usage, err);
	if (rc)
		return rc;
	struct buf tail = BUF_INIT;
	buf_adds(&tail, suffix);
	cli_param(&tail, "allow_irreversible", cli_flag(a, "--allow-irreversible") ? "true" : NULL);
	rc = cli_show_item(a, method, "/api/v1/deploys/", a->pos[0], tail.data,
			   !strcmp(method, "POST") ? json_object() : NULL, cli_print_fields, err);
	buf_release(&tail);
	return rc;
}

int cmd_deploy_show(struct cli_args *a, struct buf *err)
{
	return deploy_call(a, "GET", "", "ooda deploy show DEPLOY_ID", err);
}

int cmd_deploy_verify(struct cli_args *a, struct buf *err)
{
	int rc = need_pos(a, 1, "ooda deploy verify DEPLOY_ID", err);
	if (rc)
		return rc;
	/* the verdict sets the exit status with or without --json: a CI gate reads it */
	json_t *j;
	bool json = a->json;
	a->json = false;
	rc = cli_call_item(a, "POST", "/api/v1/deploys/", a->pos[0], "/verify", json_object(), &j, err);
	a->json = json;
	if (!rc && json) {
		char *t = json_dumps(j, JSON_COMPACT);
		printf("%s\n", t);
		free(t);
	} else if (!rc) {
		printf("verdict: %s (deploy %s, recorded on %s)\n%s\n", cli_jstr(j, "verdict"), a->pos[0], cli_server(a),
		       cli_jstr(j, "reason"));
		printf("baseline (%s): %lld requests, median %.1f ms, p99 %.1f ms, errors %.2f%%\n", cli_jstr(j, "baseline"),
		       (long long)json_integer_value(json_object_get(j, "baseline_requests")),
		       json_number_value(json_object_get(j, "baseline_median_ms")),
		       json_number_value(json_object_get(j, "baseline_p99_ms")),
		       100 * json_number_value(json_object_get(j, "baseline_error_ratio")));
		printf("canary: %lld requests, median %.1f ms, p99 %.1f ms, errors %.2f%%\n",
		       (long long)json_integer_value(json_object_get(j, "canary_requests")),
		       json_number_value(json_object_get(j, "canary_median_ms")),
		       json_number_value(json_object_get(j, "canary_p99_ms")),
		       100 * json_number_value(json_object_get(j, "canary_error_ratio")));
	}
	if (!rc) {
		const char *verdict = cli_jstr(j, "verdict");
		if (!strcmp(verdict, "fail")) {
			rc = OODA_EPRECOND;
			buf_adds(err, "the deploy failed verification");
		} else if (strcmp(verdict, "pass")) {
			/* inconclusive, or a verdict this CLI does not know: never a pass */
			a->exit_status = CLI_EXIT_INCONCLUSIVE;
			if (!json)
				fprintf(stderr, "ooda: verification is %s: not enough data to pass or fail (exit %d)\n",
					*verdict ? verdict : "missing", CLI_EXIT_INCONCLUSIVE);
		}
	}
	json_decref(j);
	return rc;
}

int cmd_rollback_plan(struct cli_args *a, struct buf *err)
{
	int rc = need_pos(a, 1, "ooda rollback plan DEPLOY_ID [--allow-irreversible]", err);
	if (rc)
		return rc;
	struct buf tail = BUF_INIT;
	buf_adds(&tail, "/rollback-plan");
	cli_param(&tail, "allow_irreversible", cli_flag(a, "--allow-irreversible") ? "true" : NULL);
	json_t *j;
	rc = cli_call_item(a, "GET", "/api/v1/deploys/", a->pos[0], tail.data, NULL, &j, err);
	buf_release(&tail);
	if (rc || a->json)
		return rc;
	printf("rollback of %s: %s %s -> %s in %s\n", cli_jstr(j, "deploy"), cli_jstr(j, "service"), cli_jstr(j, "from_version"),
	       cli_jstr(j, "to_version"), cli_jstr(j, "env"));
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(j, "steps"), i, s) {
		const char *t = cli_jstr(s, "type");
		printf("  %zu. ", i + 1);
		if (!strcmp(t, "flags")) {
			printf("restore flags:");
			const char *k;
			json_t *v;
			json_object_foreach(json_object_get(s, "restore"), k, v)
				printf(" %s→v%lld", k, (long long)json_integer_value(v));
			size_t n;
			json_array_foreach(json_object_get(s, "disable"), n, v)
				printf(" disable %s", json_string_value(v));
			printf("\n");
		} else if (!strcmp(t, "config")) {
			printf("restore config %s/%s to v%lld\n", cli_jstr(s, "service"), cli_jstr(s, "env"),
			       (long long)json_integer_value(json_object_get(s, "version")));
		} else if (!strcmp(t, "migration_down")) {
			printf("run down-migration of %s (%s)\n", cli_jstr(s, "migration"), cli_jstr(s, "down"));
		} else if (!strcmp(t, "migration_skip")) {
			printf("CANNOT undo migration %s: it is irreversible\n", cli_jstr(s, "migration"));
		} else if (!strcmp(t, "redeploy")) {
			printf("redeploy %s %s (%s) through deploy.hooks.redeploy\n", cli_jstr(s, "service"), cli_jstr(s, "version"),
			       cli_jstr(s, "artifact"));
		} else if (!strcmp(t, "record")) {
			printf("record the rollback as a deploy\n");
		} else if (!strcmp(t, "verify")) {
			printf("verify the rolled-back version\n");
		}
	}
	if (json_is_true(json_object_get(j, "blocked"))) {
		buf_addf(err, "blocked: %s", cli_jstr(j, "reason"));
		rc = OODA_EPRECOND;
	}
	json_decref(j);
	return rc;
}

static void print_run(json_t *j)
{
	printf("run %s of %s: %s\n", cli_jstr(j, "id"), cli_jstr(j, "deploy"), cli_jstr(j, "status"));
	size_t i;
	json_t *s;
	json_t *state = json_object_get(j, "state");
	json_array_foreach(json_object_get(json_object_get(j, "plan"), "steps"), i, s)
		printf("  %zu. %-16s %s\n", i + 1, cli_jstr(s, "type"), json_string_value(json_array_get(state, i)));
	if (json_object_get(j, "error"))
		printf("error: %s\n", cli_jstr(j, "error"));
	json_t *v = json_object_get(j, "verification");
	if (v)
		printf("verification: %s — %s\n", cli_jstr(v, "verdict"), cli_jstr(v, "reason"));
}

int cmd_rollback_run(struct cli_args *a, struct buf *err)
{
	int rc = need_pos(a, 1, "ooda rollback run DEPLOY_ID --rationale WHY [--allow-irreversible] [--wait]", err);
	if (rc)
		return rc;
	json_t *body = json_pack("{s:s, s:b, s:b}", "rationale", cli_rationale(a), "allow_irreversible",
				 cli_flag(a, "--allow-irreversible"), "wait", cli_flag(a, "--wait"));
	json_t *j;
	rc = cli_call_item(a, "POST", "/api/v1/deploys/", a->pos[0], "/rollback", body, &j, err);
	if (!rc && !a->json) {
		if (json_object_get(j, "approval"))
			printf("rollback needs approval: request %s is pending on %s (ooda approvals approve %s)\n",
			       cli_jstr(j, "approval"), cli_server(a), cli_jstr(j, "approval"));
		else {
			printf("rollback of %s started on %s\n", a->pos[0], cli_server(a));
			print_run(j);
		}
		if (!strcmp(cli_jstr(j, "status"), "failed"))
			rc = OODA_EIO, buf_adds(err, "the rollback run failed");
		json_decref(j);
	}
	return rc;
}

int cmd_rollback_status(struct cli_args *a, struct buf *err)
{
	int rc = need_pos(a, 1, "ooda rollback status RUN_ID [--wait]", err);
	if (rc)
		return rc;
	return cli_show_item(a, "GET", "/api/v1/rollbacks/", a->pos[0], cli_flag(a, "--wait") ? "?wait=true" : "", NULL,
			     print_run, err);
}

int cmd_migration_register(struct cli_args *a, struct buf *err)
{
	if (!cli_opt(a, "--service") || !cli_opt(a, "--id")) {
		buf_adds(err, "usage: ooda migration register --service S --id ID [--up REF] [--down REF] [--irreversible]");
		return OODA_EINVAL;
	}
	json_t *body = json_pack("{s:s, s:s, s:s?, s:s?, s:b}", "service", cli_opt(a, "--service"), "id", cli_opt(a, "--id"),
				 "up", cli_opt(a, "--up"), "down", cli_opt(a, "--down"), "reversible",
				 !cli_flag(a, "--irreversible") && cli_opt(a, "--down"));
	int rc = post_simple(a, "/api/v1/migrations", body, "migration registered", true, err);
	json_decref(body);
	return rc;
}

/* ---- approvals ---------------------------------------------------------- */

int cmd_approvals_list(struct cli_args *a, struct buf *err)
{
	static const char *const filters[] = { "--status", NULL };
	json_t *j;
	int rc = cli_get_filtered(a, "/api/v1/approvals", filters, &j, err);
	if (rc || a->json)
		return rc;
	printf("%-22s %-22s %-8s %-10s %-20s %-24s %s\n", "ID", "CLASS", "ENV", "STATUS", "REQUESTER", "EXPIRES",
	       "RATIONALE");
	size_t i;
	json_t *x;
	json_array_foreach(json_object_get(j, "approvals"), i, x)
		printf("%-22s %-22s %-8s %-10s %-20s %-24s %s\n", cli_jstr(x, "id"), cli_jstr(x, "class"), cli_jstr(x, "env"),
		       cli_jstr(x, "status"), cli_jstr(x, "requester"), cli_jstr(x, "expires"), cli_jstr(x, "rationale"));
	json_decref(j);
	return 0;
}

static int decide(struct cli_args *a, const char *verb, struct buf *err)
{
	int rc = need_pos(a, 1, "ooda approvals approve|reject ID [--rationale WHY]", err);
	if (rc)
		return rc;
	struct buf path = BUF_INIT;
	buf_adds(&path, "/api/v1/approvals/");
	client_urlencode(&path, a->pos[0]);
	buf_addf(&path, "/%s", verb);
	json_t *body = json_pack("{s:s}", "rationale", cli_rationale(a));
	struct buf done = BUF_INIT;
	buf_addf(&done, "request %s %s", a->pos[0], !strcmp(verb, "approve") ? "approved" : "rejected");
	rc = post_simple(a, path.data, body, done.data, false, err);
	buf_release(&done);
	json_decref(body);
	buf_release(&path);
	return rc;
}

int cmd_approvals_approve(struct cli_args *a, struct buf *err)
{
	return decide(a, "approve", err);
}

int cmd_approvals_reject(struct cli_args *a, struct buf *err)
{
	return decide(a, "reject", err);
}

/* ---- progressive rollouts ------------------------------------------------ */

/* One line per step: weight, hold, approval, and where the rollout is. */
static void print_rollout(json_t *j)
{
	const char *target = cli_jstr(j, "flag")[0] ? cli_jstr(j, "flag") : cli_jstr(j, "deploy");
	long long cur = (long long)json_integer_value(json_object_get(j, "step"));
	printf("rollout %s of %s (%s%s%s) in %s: %s", cli_jstr(j, "id"), target, cli_jstr(j, "service"),
	       cli_jstr(j, "version")[0] ? " " : "", cli_jstr(j, "version"), cli_jstr(j, "env"), cli_jstr(j, "status"));
	if (cli_jstr(j, "approval")[0])
		printf(" (approval %s)", cli_jstr(j, "approval"));
	printf("\n");
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(j, "steps"), i, s) {
		json_t *w = json_object_get(s, "weight");
		char weight[16] = "-";
		if (w)
			snprintf(weight, sizeof(weight), "%lld %%", (long long)json_integer_value(w));
		printf("  %s step %zu  %-6s hold %-6s%s\n", (long long)i == cur ? ">" : " ", i + 1, weight,
		       cli_jstr(s, "hold"), json_is_true(json_object_get(s, "approval")) ? "  approval" : "");
	}
	json_array_foreach(json_object_get(j, "history"), i, s)
		printf("  %s  %-14s %s — %s\n", cli_jstr(s, "time"), cli_jstr(s, "actor"), cli_jstr(s, "what"),
		       cli_jstr(s, "rationale"));
	if (cli_jstr(j, "rollback_run")[0])
		printf("  rollback run %s\n", cli_jstr(j, "rollback_run"));
	if (cli_jstr(j, "rollback_error")[0])
		printf("  rollback error: %s\n", cli_jstr(j, "rollback_error"));
}

/* --steps 5,25,50,100 as weights; --approve-at 2,3 marks steps (from 1) that wait for an approval. */
static int rollout_steps(struct cli_args *a, json_t *plan, struct buf *err)
{
	const char *st = cli_opt(a, "--steps"), *at = cli_opt(a, "--approve-at");
	if (!st && !at)
		return 0;
	json_t *steps = json_object_get(plan, "steps");
	if (st) {
		steps = json_array();
		json_object_set_new(plan, "steps", steps);
		for (const char *p = st; *p;) {
			char *end;
			long w = strtol(p, &end, 10);
			if (end == p || (*end && *end != ',') || w < 1 || w > 100) {
				buf_addf(err, "--steps is a list of percentages such as 5,25,50,100, not %s", st);
				return OODA_EINVAL;
			}
			json_array_append_new(steps, json_pack("{s:i}", "weight", (int)w));
			p = *end ? end + 1 : end;
		}
		if (!cli_opt(a, "--deploy") && !json_object_get(plan, "hold"))
			json_object_set_new(plan, "hold", json_string("5m"));
	}
	for (const char *p = at; p && *p;) {
		char *end;
		long n = strtol(p, &end, 10);
		json_t *s = json_array_get(steps, (size_t)(n - 1));
		if (end == p || (*end && *end != ',') || n < 1 || !s) {
			buf_addf(err, "--approve-at is a list of step numbers (from 1) of the plan, not %s", at);
			return OODA_EINVAL;
		}
		if (json_is_integer(s)) { /* a plain weight from a file */
			json_array_set_new(steps, (size_t)(n - 1), json_pack("{s:O}", "weight", s));
			s = json_array_get(steps, (size_t)(n - 1));
		}
		if (json_is_object(s))
			json_object_set_new(s, "approval", json_true());
		p = *end ? end + 1 : end;
	}
	return 0;
}

int cmd_rollout_start(struct cli_args *a, struct buf *err)
{
	json_t *plan = NULL;
	int rc = 0;
	if (a->n_pos >= 1) {
		struct buf text = BUF_INIT;
		json_error_t je;
		rc = read_input(a->pos[0], &text, err);
		if (!rc)
			plan = json_loadb(text.data, text.len, 0, &je); /* not inside json_is_object: a macro */
		if (!rc && !json_is_object(plan)) {
			buf_addf(err, "%s is not a JSON object (a rollout plan)%s%s", a->pos[0], plan ? "" : ": ",
				 plan ? "" : je.text);
			rc = OODA_EPARSE;
		}
		buf_release(&text);
	} else {
		plan = json_object();
	}
	/* options fill in or replace members of the file's plan */
	static const char *const opts[][2] = { { "--flag", "flag" },	   { "--variant", "variant" },
					       { "--service", "service" }, { "--version", "version" },
					       { "--deploy", "deploy" },   { "--env", "env" },
					       { "--hold", "hold" },	   { "--rationale", "rationale" } };
	for (size_t i = 0; !rc && i < sizeof(opts) / sizeof(opts[0]); i++)
		if (cli_opt(a, opts[i][0]))
			json_object_set_new(plan, opts[i][1], json_string(cli_opt(a, opts[i][0])));
	if (!rc)
		rc = rollout_steps(a, plan, err);
	if (!rc && !json_object_get(plan, "steps")) {
		buf_adds(err, "usage: ooda rollout start [PLAN.json|-] [--flag KEY --variant V --service S | --deploy ID] "
			      "--steps 5,25,50,100 [--hold 5m] [--approve-at N,…] [--env ENV] --rationale WHY");
		rc = OODA_EINVAL;
	}
	json_t *j = NULL;
	if (!rc) {
		char *text = json_dumps(plan, JSON_COMPACT);
		rc = cli_call_json(a, "POST", "/api/v1/rollouts", text, &j, err);
		free(text);
	}
	if (!rc && !a->json) {
		printf("started on %s\n", cli_server(a));
		print_rollout(j);
		json_decref(j);
	}
	json_decref(plan);
	return rc;
}

int cmd_rollout_status(struct cli_args *a, struct buf *err)
{
	int rc = need_pos(a, 1, "ooda rollout status ROLLOUT_ID", err);
	return rc ? rc : cli_show_item(a, "GET", "/api/v1/rollouts/", a->pos[0], "", NULL, print_rollout, err);
}

int cmd_rollout_list(struct cli_args *a, struct buf *err)
{
	static const char *const filters[] = { "--status", "--limit", NULL };
	json_t *j;
	int rc = cli_get_filtered(a, "/api/v1/rollouts", filters, &j, err);
	if (rc || a->json)
		return rc;
	printf("%-22s %-18s %-28s %-10s %-6s %s\n", "ID", "STATUS", "TARGET", "ENV", "STEP", "STARTED");
	size_t i;
	json_t *x;
	json_array_foreach(json_object_get(j, "rollouts"), i, x) {
		char step[24];
		snprintf(step, sizeof(step), "%lld/%zu", (long long)json_integer_value(json_object_get(x, "step")) + 1,
			 json_array_size(json_object_get(x, "steps")));
		printf("%-22s %-18s %-28s %-10s %-6s %s\n", cli_jstr(x, "id"), cli_jstr(x, "status"),
		       cli_jstr(x, "flag")[0] ? cli_jstr(x, "flag") : cli_jstr(x, "deploy"), cli_jstr(x, "env"), step,
		       cli_jstr(x, "started"));
	}
	json_decref(j);
	return 0;
}

static int rollout_verb(struct cli_args *a, const char *verb, struct buf *err)
{
	int rc = need_pos(a, 1, "ooda rollout promote|abort ROLLOUT_ID --rationale WHY", err);
	char tail[16];
	snprintf(tail, sizeof(tail), "/%s", verb);
	return rc ? rc : cli_show_item(a, "POST", "/api/v1/rollouts/", a->pos[0], tail,
				       json_pack("{s:s}", "rationale", cli_rationale(a)), print_rollout, err);
}

int cmd_rollout_promote(struct cli_args *a, struct buf *err)
{
	return rollout_verb(a, "promote", err);
}

int cmd_rollout_abort(struct cli_args *a, struct buf *err)
{
	return rollout_verb(a, "abort", err);
}
