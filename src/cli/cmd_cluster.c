/*
 * `ooda cluster status`: the nodes sharing one control store, which of
 * them leads and with which term (GET /api/v1/cluster, api/cluster.h).
 */
#include "cli/cli.h"
#include "core/xalloc.h"

#include <stdio.h>

int cmd_cluster_status(struct cli_args *a, struct buf *err)
{
	json_t *j;
	int rc = cli_call_json(a, "GET", "/api/v1/cluster", NULL, &j, err);
	if (rc || a->json)
		return rc;
	const char *leader = cli_jstr(j, "leader");
	printf("leader   %s\nterm     %lld\nthis     %s\n\n", *leader ? leader : "(none: the lease has expired)",
	       (long long)json_integer_value(json_object_get(j, "term")), cli_jstr(j, "node_id"));
	enum { NCOL = 6 };
	static const char *const headers[NCOL] = { "NODE", "ADDRESS", "ROLE", "UP", "LAST SEEN", "VERSION" };
	json_t *nodes = json_object_get(j, "nodes");
	size_t n = json_array_size(nodes);
	const char **cells = xcalloc(n ? n * NCOL : 1, sizeof(*cells));
	size_t i;
	json_t *o;
	json_array_foreach(nodes, i, o) {
		const char **row = cells + i * NCOL;
		row[0] = cli_jstr(o, "id");
		row[1] = cli_jstr(o, "address");
		row[2] = cli_jstr(o, "role");
		row[3] = json_is_true(json_object_get(o, "up")) ? "yes" : "no";
		row[4] = cli_jstr(o, "last_seen");
		row[5] = cli_jstr(o, "version");
	}
	cli_table(headers, NCOL, cells, (int)n);
	free(cells);
	json_decref(j);
	return 0;
}
