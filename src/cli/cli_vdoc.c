/*
 * The commands of a versioned document of the remedy stage — `ooda policy`
 * and `ooda runbook` history, diff, rollback and the PUT of apply — once,
 * over the shared routes of api/vdoc_api.h. A kind is its noun and its
 * route prefix; reading the document from a file (YAML for a policy,
 * Markdown for a runbook) and showing it stay in cmd_remedy.c and
 * cmd_runbook.c.
 */
#include "cli/cli.h"
#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>

int cli_vdoc_history(struct cli_args *a, const struct cli_vdoc_kind *k, struct buf *err)
{
	if (a->n_pos != 1) {
		buf_addf(err, "usage: ooda %s history NAME", k->noun);
		return OODA_EINVAL;
	}
	json_t *j;
	int rc = cli_call_item(a, "GET", k->prefix, a->pos[0], "", NULL, &j, err);
	if (rc || a->json) /* --json: the whole document was printed; the history is part of it */
		return rc;
	size_t i;
	json_t *h;
	json_array_foreach(json_object_get(j, "history"), i, h)
		printf("v%lld  %s  %s%s  %s\n", (long long)json_integer_value(json_object_get(h, "version")),
		       cli_jstr(h, "time"), cli_jstr(h, "author"),
		       json_is_true(json_object_get(h, "deleted")) ? "  (deleted)" : "", cli_jstr(h, "rationale"));
	json_decref(j);
	return 0;
}

int cli_vdoc_diff(struct cli_args *a, const struct cli_vdoc_kind *k, struct buf *err)
{
	if (a->n_pos != 1 && a->n_pos != 3) {
		buf_addf(err, "usage: ooda %s diff NAME [vA vB]", k->noun);
		return OODA_EINVAL;
	}
	struct buf tail = BUF_INIT;
	buf_adds(&tail, "/diff");
	if (a->n_pos == 3) {
		cli_param(&tail, "from", cli_strip_v(a->pos[1]));
		cli_param(&tail, "to", cli_strip_v(a->pos[2]));
	}
	json_t *j;
	int rc = cli_call_item(a, "GET", k->prefix, a->pos[0], tail.data, NULL, &j, err);
	buf_release(&tail);
	if (rc || a->json)
		return rc;
	printf("%s v%lld → v%lld\n%s", cli_jstr(j, "name"), (long long)json_integer_value(json_object_get(j, "from")),
	       (long long)json_integer_value(json_object_get(j, "to")), cli_jstr(j, "diff"));
	json_decref(j);
	return 0;
}

int cli_vdoc_rollback(struct cli_args *a, const struct cli_vdoc_kind *k, struct buf *err)
{
	const char *to = cli_strip_v(cli_opt(a, "--to"));
	if (a->n_pos != 1 || !to) {
		buf_addf(err, "usage: ooda %s rollback NAME --to vN [--rationale WHY]", k->noun);
		return OODA_EINVAL;
	}
	char *end = NULL;
	long long v = strtoll(to, &end, 10);
	if (!*to || *end || v <= 0) {
		buf_adds(err, "--to: a version such as v3");
		return OODA_EINVAL;
	}
	json_t *j;
	int rc = cli_call_item(a, "POST", k->prefix, a->pos[0], "/rollback",
			       json_pack("{sI ss}", "to", (json_int_t)v, "rationale", cli_rationale(a)), &j, err);
	if (rc || a->json)
		return rc;
	printf("%s %s v%lld (as v%lld)\n", k->noun, cli_jstr(j, "name"),
	       (long long)json_integer_value(json_object_get(j, "version")), v);
	json_decref(j);
	return 0;
}

int cli_vdoc_put(struct cli_args *a, const struct cli_vdoc_kind *k, const char *name, json_t *body, struct buf *err)
{
	json_t *j;
	int rc = cli_call_item(a, "PUT", k->prefix, name, "", body, &j, err);
	if (rc || a->json)
		return rc;
	printf("%s %s v%lld\n", k->noun, cli_jstr(j, "name"), (long long)json_integer_value(json_object_get(j, "version")));
	json_decref(j);
	return 0;
}
