/*
 * CLI commands of the detect stage: `ooda alerts list|show|groups|silence|
 * silences|unsilence`. Each is a client of one HTTP route; --json prints
 * the route's answer as is.
 */
#include "cli/cli.h"
#include "core/error.h"
#include "core/time.h"

#include <jansson.h>

int cmd_alerts_list(struct cli_args *a, struct buf *err)
{
	struct buf path = BUF_INIT;
	buf_adds(&path, "/api/v1/alerts?state=");
	client_urlencode(&path, cli_opt(a, "--state") ? cli_opt(a, "--state") : "firing");
	json_t *j;
	int rc = cli_call_json(a, "GET", path.data, NULL, &j, err);
	buf_release(&path);
	if (rc || a->json)
		return rc;
	printf("%-16s %-9s %-6s %-28s %-16s %-24s %s\n", "FINGERPRINT", "STATE", "SEV", "NAME", "SERVICE", "SINCE",
	       "NOTE");
	size_t i;
	json_t *al;
	json_array_foreach(json_object_get(j, "alerts"), i, al) {
		const char *since = cli_jstr(al, "fired_at");
		if (!*since || strcmp(cli_jstr(al, "state"), "firing"))
			since = *cli_jstr(al, "resolved_at") && !strcmp(cli_jstr(al, "state"), "resolved") ? cli_jstr(al, "resolved_at")
											   : cli_jstr(al, "active_at");
		char note[96] = "";
		if (*cli_jstr(al, "silenced_by"))
			snprintf(note, sizeof(note), "silenced by %s", cli_jstr(al, "silenced_by"));
		else if (*cli_jstr(al, "inhibited_by"))
			snprintf(note, sizeof(note), "inhibited by %s", cli_jstr(al, "inhibited_by"));
		else if (!strcmp(cli_jstr(al, "state"), "firing"))
			snprintf(note, sizeof(note), "notifying");
		printf("%-16s %-9s %-6s %-28s %-16s %-24s %s\n", cli_jstr(al, "fingerprint"), cli_jstr(al, "state"),
		       cli_jstr(al, "severity"), cli_jstr(al, "name"), *cli_jstr(al, "service") ? cli_jstr(al, "service") : "-", since,
		       note);
	}
	json_decref(j);
	return 0;
}

/* An object as "k=v k=v" for people (a nested value as compact JSON), keys sorted. */
static void pairs(json_t *o, struct buf *out)
{
	const char *keys[64];
	size_t n = 0;
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v) if (n < 64) keys[n++] = k;
	for (size_t i = 1; i < n; i++)
		for (size_t x = i; x > 0 && strcmp(keys[x - 1], keys[x]) > 0; x--) {
			const char *tmp = keys[x];
			keys[x] = keys[x - 1];
			keys[x - 1] = tmp;
		}
	for (size_t i = 0; i < n; i++) {
		v = json_object_get(o, keys[i]);
		buf_addf(out, "%s%s=", i ? " " : "", keys[i]);
		if (json_is_string(v)) {
			buf_adds(out, json_string_value(v));
		} else {
			char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
			buf_adds(out, t ? t : "");
			free(t);
		}
	}
}

int cmd_alerts_show(struct cli_args *a, struct buf *err)
{
	if (a->n_pos != 1) {
		buf_adds(err, "usage: ooda alerts show FINGERPRINT");
		return OODA_EINVAL;
	}
	json_t *j;
	int rc = cli_call_item(a, "GET", "/api/v1/alerts/", a->pos[0], "", NULL, &j, err);
	if (rc || a->json)
		return rc;
	printf("%s %s (%s) on %s: %s\n", cli_jstr(j, "fingerprint"), cli_jstr(j, "name"), cli_jstr(j, "severity"),
	       *cli_jstr(j, "service") ? cli_jstr(j, "service") : "-", cli_jstr(j, "state"));
	struct buf kv = BUF_INIT;
	pairs(json_object_get(j, "labels"), &kv);
	printf("labels: %s\n", kv.len ? kv.data : "-");
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(j, "transitions"), i, t) {
		buf_reset(&kv);
		pairs(json_object_get(t, "evidence"), &kv);
		printf("  %s  %-8s -> %-8s  %s  %s\n", cli_jstr(t, "at"), cli_jstr(t, "from"), cli_jstr(t, "to"), cli_jstr(t, "reason"),
		       kv.data);
	}
	buf_release(&kv);
	json_decref(j);
	return 0;
}

int cmd_alerts_groups(struct cli_args *a, struct buf *err)
{
	json_t *j;
	int rc = cli_call_json(a, "GET", cli_flag(a, "--all") ? "/api/v1/alerts/groups?state=all" : "/api/v1/alerts/groups",
			   NULL, &j, err);
	if (rc || a->json)
		return rc;
	size_t i, k;
	json_t *g, *al;
	json_array_foreach(json_object_get(j, "groups"), i, g) {
		printf("%s  %s  started %s\n", cli_jstr(g, "id"), cli_jstr(g, "state"), cli_jstr(g, "started"));
		json_array_foreach(json_object_get(g, "alerts"), k, al)
			printf("  %-16s %-9s %-28s %s%s\n", cli_jstr(al, "fingerprint"), cli_jstr(al, "state"), cli_jstr(al, "name"),
			       *cli_jstr(al, "service") ? cli_jstr(al, "service") : "-",
			       *cli_jstr(al, "inhibited_by") ? " (inhibited)" : "");
	}
	json_decref(j);
	return 0;
}

int cmd_alerts_silence(struct cli_args *a, struct buf *err)
{
	const char *name = cli_opt(a, "--name"), *service = cli_opt(a, "--service");
	const char *dur = cli_opt(a, "--for"), *reason = cli_opt(a, "--reason");
	json_t *matchers = json_array();
	/* matchers as amtool takes them: k=v, k!=v, k=~regex, k!~regex, as --label or bare arguments */
	for (int i = 0; i < a->n_opts; i++)
		if (!strcmp(a->opt_names[i], "--label"))
			json_array_append_new(matchers, json_string(a->opt_values[i]));
	for (int i = 0; i < a->n_pos; i++)
		json_array_append_new(matchers, json_string(a->pos[i]));
	for (size_t i = 0; i < json_array_size(matchers); i++) {
		const char *m = json_string_value(json_array_get(matchers, i));
		size_t at = strcspn(m, "=!~");
		bool op_ok = m[at] == '=' || (m[at] == '!' && (m[at + 1] == '=' || m[at + 1] == '~'));
		if (!at || !op_ok) {
			buf_addf(err, "matcher \"%s\": expected label=value, label!=value, label=~regex or label!~regex", m);
			json_decref(matchers);
			return OODA_EINVAL;
		}
	}
	if ((!name && !service && !json_array_size(matchers)) || !dur || !reason) {
		json_decref(matchers);
		buf_adds(err, "usage: ooda alerts silence [MATCHER...] [--name N] [--service S] [--label MATCHER] --for 2h --reason WHY "
			      "(MATCHER: label=value, label!=value, label=~regex or label!~regex)");
		return OODA_EINVAL;
	}
	json_t *body = json_pack("{s:s?,s:s?,s:o,s:s,s:s,s:s}", "name", name, "service", service, "matchers", matchers,
				 "duration", dur, "reason", reason, "creator", cli_actor());
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	json_t *j;
	int rc = cli_call_json(a, "POST", "/api/v1/silences", text, &j, err);
	free(text);
	if (!rc && !a->json)
		printf("silenced for %s on %s: %s\n", dur, cli_server(a), cli_jstr(j, "id"));
	json_decref(j);
	return rc;
}

int cmd_alerts_silences(struct cli_args *a, struct buf *err)
{
	json_t *j;
	int rc = cli_call_json(a, "GET", cli_flag(a, "--all") ? "/api/v1/silences?all=true" : "/api/v1/silences", NULL, &j,
			   err);
	if (rc || a->json)
		return rc;
	printf("%-16s %-7s %-40s %-24s %-20s %s\n", "ID", "ACTIVE", "MATCHERS", "ENDS", "CREATOR", "REASON");
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(j, "silences"), i, s) {
		struct buf m = BUF_INIT;
		if (*cli_jstr(s, "name"))
			buf_addf(&m, "name=%s ", cli_jstr(s, "name"));
		if (*cli_jstr(s, "service"))
			buf_addf(&m, "service=%s ", cli_jstr(s, "service"));
		const char *k;
		json_t *v;
		json_object_foreach(json_object_get(s, "labels"), k, v) buf_addf(&m, "%s=%s ", k, json_string_value(v));
		size_t mi;
		json_array_foreach(json_object_get(s, "matchers"), mi, v) buf_addf(&m, "%s ", json_string_value(v));
		printf("%-16s %-7s %-40s %-24s %-20s %s\n", cli_jstr(s, "id"),
		       json_is_true(json_object_get(s, "active")) ? "yes" : "no", m.data, cli_jstr(s, "ends_at"),
		       cli_jstr(s, "creator"), cli_jstr(s, "reason"));
		buf_release(&m);
	}
	json_decref(j);
	return 0;
}

int cmd_alerts_unsilence(struct cli_args *a, struct buf *err)
{
	if (a->n_pos != 1) {
		buf_adds(err, "usage: ooda alerts unsilence ID");
		return OODA_EINVAL;
	}
	json_t *j;
	int rc = cli_call_item(a, "DELETE", "/api/v1/silences/", a->pos[0], "", NULL, &j, err);
	if (!rc && !a->json)
		printf("silence %s ended on %s\n", a->pos[0], cli_server(a));
	json_decref(j);
	return rc;
}
