/*
 * CLI commands for remediation: `ooda recipes list` (the catalogue) and
 * `ooda recipes show NAME` (params and the exact steps of each variant).
 * Clients of api/remedy_api.c; --json prints the route's answer as is.
 */
#include "cli/cli.h"
#include "core/error.h"

#include <jansson.h>

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
	}
	json_decref(j);
	return 0;
}
