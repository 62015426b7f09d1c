/*
 * CLI commands of the notification outbox: `ooda notifications list` shows
 * delivery status per message (GET /api/v1/notifications) and `ooda
 * notifications test` queues a test message to one target. --json prints
 * the route's answer as is.
 */
#include "cli/cli.h"
#include "core/error.h"

#include <jansson.h>

int cmd_notifications_list(struct cli_args *a, struct buf *err)
{
	struct buf path = BUF_INIT;
	buf_adds(&path, "/api/v1/notifications");
	cli_param(&path, "incident", cli_opt(a, "--incident"));
	cli_param(&path, "alert", cli_opt(a, "--alert"));
	cli_param(&path, "status", cli_opt(a, "--status"));
	cli_param(&path, "limit", cli_opt(a, "--limit"));
	json_t *j;
	int rc = cli_call_json(a, "GET", path.data, NULL, &j, err);
	buf_release(&path);
	if (rc || a->json)
		return rc;
	printf("%-20s %-12s %-9s %-12s %-9s %8s %-24s %s\n", "ID", "TARGET", "KIND", "EVENT", "STATUS", "ATTEMPTS",
	       "CREATED", "LAST ERROR");
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(j, "notifications"), i, r) {
		printf("%-20s %-12s %-9s %-12s %-9s %8lld %-24s %s\n", cli_jstr(r, "id"), cli_jstr(r, "target"),
		       cli_jstr(r, "kind"), cli_jstr(r, "event"), cli_jstr(r, "status"),
		       (long long)json_integer_value(json_object_get(r, "attempts")), cli_jstr(r, "created_at"),
		       cli_jstr(r, "last_error"));
	}
	json_decref(j);
	return 0;
}

int cmd_notifications_test(struct cli_args *a, struct buf *err)
{
	if (a->n_pos != 1) {
		buf_adds(err, "usage: ooda notifications test TARGET");
		return OODA_EINVAL;
	}
	json_t *body = json_pack("{ss}", "target", a->pos[0]);
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	json_t *j;
	int rc = cli_call_json(a, "POST", "/api/v1/notifications/test", text, &j, err);
	free(text);
	if (rc || a->json)
		return rc;
	printf("queued test notification %s to %s on %s\n", cli_jstr(j, "id"), cli_jstr(j, "target"), cli_server(a));
	json_decref(j);
	return 0;
}
