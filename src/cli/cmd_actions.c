/*
 * CLI commands of action items: `ooda actions list [--overdue] [--owner O]`,
 * `ooda actions add INC-7 --title … --owner … --due YYYY-MM-DD` and
 * `ooda actions done INC-7/A1`. Each is one call to the daemon's
 * /api/v1/actions routes; the daemon audits the change with the caller.
 */
#include "cli/cli.h"
#include "core/error.h"

#include <jansson.h>

/* An item's status, OVERDUE when it is late. */
static void action_status(json_t *it, struct buf *out)
{
	buf_adds(out, json_is_true(json_object_get(it, "overdue")) ? "OVERDUE" : cli_jstr(it, "status"));
}

int cmd_actions_list(struct cli_args *a, struct buf *err)
{
	if (a->n_pos > 1) {
		buf_adds(err, "usage: ooda actions list [INCIDENT] [--overdue] [--owner O] [--status open|done]");
		return OODA_EINVAL;
	}
	struct buf path = BUF_INIT;
	buf_adds(&path, "/api/v1/actions");
	cli_param(&path, "incident", a->n_pos ? a->pos[0] : NULL);
	cli_param(&path, "overdue", cli_flag(a, "--overdue") ? "true" : NULL);
	cli_param(&path, "owner", cli_opt(a, "--owner"));
	cli_param(&path, "status", cli_opt(a, "--status"));
	json_t *j;
	int rc = cli_call_json(a, "GET", path.data, NULL, &j, err);
	buf_release(&path);
	if (rc || a->json)
		return rc;
	static const struct cli_column cols[] = {
		{ "KEY", "key", NULL },	    { "STATUS", NULL, action_status }, { "DUE", "due", NULL },
		{ "OWNER", "owner", NULL }, { "TITLE", "title", NULL },	       { "INCIDENT", "incident", NULL },
	};
	if (json_array_size(json_object_get(j, "actions")))
		cli_table_json(json_object_get(j, "actions"), cols, 6);
	else
		printf("no action items\n");
	json_decref(j);
	return 0;
}

int cmd_actions_add(struct cli_args *a, struct buf *err)
{
	const char *title = cli_opt(a, "--title"), *owner = cli_opt(a, "--owner"), *due = cli_opt(a, "--due");
	if (a->n_pos != 1 || !title || !owner || !due) {
		buf_adds(err, "usage: ooda actions add INCIDENT --title T --owner O --due YYYY-MM-DD [--rationale R]");
		return OODA_EINVAL;
	}
	json_t *body = json_pack("{s:s, s:s, s:s, s:s?}", "title", title, "owner", owner, "due", due, "rationale",
				 cli_opt(a, "--rationale"));
	if (!body) {
		buf_adds(err, "--title, --owner and --due must be UTF-8 text");
		return OODA_EINVAL;
	}
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	struct buf path = BUF_INIT;
	buf_adds(&path, "/api/v1/incidents/");
	client_urlencode(&path, a->pos[0]);
	buf_adds(&path, "/actions");
	json_t *j;
	int rc = cli_call_json(a, "POST", path.data, text, &j, err);
	free(text);
	buf_release(&path);
	if (!rc && !a->json)
		printf("added %s (due %s, owner %s) on %s\n", cli_jstr(j, "key"), cli_jstr(j, "due"), cli_jstr(j, "owner"),
		       cli_server(a));
	json_decref(j);
	return rc;
}

int cmd_actions_done(struct cli_args *a, struct buf *err)
{
	const char *key = a->n_pos == 1 ? a->pos[0] : NULL;
	const char *slash = key ? strchr(key, '/') : NULL;
	if (!slash || slash == key || !slash[1] || strchr(slash + 1, '/')) {
		buf_adds(err, "usage: ooda actions done INCIDENT/ITEM (such as INC-7/A1) [--rationale R]");
		return OODA_EINVAL;
	}
	json_t *body = json_pack("{s:s, s:s?}", "status", "done", "rationale", cli_opt(a, "--rationale"));
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	struct buf path = BUF_INIT, inc = BUF_INIT;
	buf_add(&inc, key, (size_t)(slash - key));
	buf_adds(&path, "/api/v1/actions/");
	client_urlencode(&path, inc.data);
	buf_addch(&path, '/');
	client_urlencode(&path, slash + 1);
	json_t *j;
	int rc = cli_call_json(a, "POST", path.data, text, &j, err);
	free(text);
	buf_release(&path);
	buf_release(&inc);
	if (!rc && !a->json)
		printf("%s done on %s\n", cli_jstr(j, "key"), cli_server(a));
	json_decref(j);
	return rc;
}
