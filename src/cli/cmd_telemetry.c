/*
 * CLI commands that read telemetry from the daemon: `ooda logs search`,
 * `ooda logs tail` (follow), `ooda trace show` (a text waterfall),
 * `ooda traces`, `ooda query` (PromQL, printed as a table), `ooda events`
 * and `ooda services`. Each is a thin client of one HTTP route; --json
 * prints the route's answer as is. Beside them, `ooda telemetry check` and
 * `ooda telemetry repair` work offline on a data dir's telemetry.db (no
 * daemon needed, and beside a running one): list the blocks that do not
 * decode, and drop them with an audit record.
 */
#include "cli/cli.h"
#include "audit/audit.h"
#include "core/error.h"
#include "core/time.h"
#include "store/store.h"
#include "store/tstore.h"

#include <jansson.h>
#include <math.h>
#include <unistd.h>

/* An answer that skipped damaged blocks says so; so does the CLI, on stderr. */
static void warn_partial(json_t *j)
{
	if (json_is_true(json_object_get(j, "partial")))
		fprintf(stderr, "partial answer: %s\n", cli_jstr(j, "partial_reason"));
}

static void print_log(json_t *l)
{
	const char *t = cli_jstr(l, "time");
	const char *trace = cli_jstr(l, "trace_id");
	printf("%s %-5s %-16s %s%s%s\n", t, cli_jstr(l, "severity"), cli_jstr(l, "service"), cli_jstr(l, "body"),
	       *trace ? "  trace=" : "", trace);
}

int cmd_logs_search(struct cli_args *a, struct buf *err)
{
	const char *q = a->n_pos ? a->pos[0] : "";
	const char *since = cli_opt(a, "--since");
	json_t *j;
	struct buf path = BUF_INIT;
	buf_adds(&path, "/api/v1/logs/search");
	cli_param(&path, "q", q);
	if (cli_opt(a, "--from"))
		cli_param(&path, "from", cli_opt(a, "--from"));
	else
		cli_param(&path, "since", since ? since : "15m");
	cli_param(&path, "to", cli_opt(a, "--to"));
	cli_param(&path, "limit", cli_opt(a, "--limit"));
	cli_param(&path, "cursor", cli_opt(a, "--cursor"));
	int rc = cli_call_json(a, "GET", path.data, NULL, &j, err);
	buf_release(&path);
	if (rc || a->json)
		return rc;
	size_t i;
	json_t *l;
	json_array_foreach(json_object_get(j, "logs"), i, l)
		print_log(l);
	const char *next = json_string_value(json_object_get(j, "next_cursor"));
	if (next)
		fprintf(stderr, "more: --cursor %s\n", next);
	if (!json_array_size(json_object_get(j, "logs")))
		fprintf(stderr, "no logs match in that time range\n");
	warn_partial(j);
	json_decref(j);
	return 0;
}

/*
 * Follows new logs: polls the search for records after the newest one
 * printed (the API is newest first, so each poll's page is printed in
 * reverse). Records with the same timestamp as the last printed one are
 * recognised by their text so none is printed twice.
 */
int cmd_logs_tail(struct cli_args *a, struct buf *err)
{
	const char *q = a->n_pos ? a->pos[0] : "";
	int64_t last = ooda_now_ns() - 10 * OODA_NS_PER_SEC;
	const char *since = cli_opt(a, "--since");
	int64_t d;
	if (since && !ooda_duration_parse(since, strlen(since), &d))
		last = ooda_now_ns() - d;
	char *seen_last = NULL; /* JSON text of records printed at time `last` */
	bool once = cli_flag(a, "--once");
	for (;;) {
		char from[32];
		snprintf(from, sizeof(from), "%lld", (long long)last);
		json_t *j;
		struct buf path = BUF_INIT;
		buf_adds(&path, "/api/v1/logs/search?limit=1000&from=");
		buf_adds(&path, from);
		cli_param(&path, "q", q);
		bool json = a->json;
		a->json = false;
		int rc = cli_call_json(a, "GET", path.data, NULL, &j, err);
		a->json = json;
		buf_release(&path);
		if (rc)
			return rc;
		json_t *logs = json_object_get(j, "logs");
		struct buf now_seen = BUF_INIT;
		int64_t newest = last;
		for (size_t i = json_array_size(logs); i-- > 0;) {
			json_t *l = json_array_get(logs, i);
			int64_t t = strtoll(cli_jstr(l, "time_unix_nano"), NULL, 10);
			char *text = json_dumps(l, JSON_COMPACT | JSON_SORT_KEYS);
			bool dup = t == last && seen_last && strstr(seen_last, text);
			if (!dup) {
				if (a->json)
					printf("%s\n", text);
				else
					print_log(l);
			}
			if (t > newest) {
				newest = t;
				buf_reset(&now_seen);
			}
			if (t == newest) {
				buf_adds(&now_seen, text);
				buf_addch(&now_seen, '\n');
			}
			free(text);
		}
		fflush(stdout);
		if (newest > last) {
			free(seen_last);
			seen_last = buf_detach(&now_seen, NULL);
			last = newest;
		} else if (now_seen.len) {
			size_t old = seen_last ? strlen(seen_last) : 0;
			seen_last = xrealloc(seen_last, old + now_seen.len + 1);
			memcpy(seen_last + old, now_seen.data, now_seen.len + 1);
		}
		buf_release(&now_seen);
		json_decref(j);
		if (once)
			break;
		sleep(1);
	}
	free(seen_last);
	return 0;
}

int cmd_trace_show(struct cli_args *a, struct buf *err)
{
	if (!a->n_pos) {
		buf_adds(err, "usage: ooda trace show TRACE_ID");
		return OODA_EINVAL;
	}
	json_t *j;
	int rc = cli_call_item(a, "GET", "/api/v1/traces/", a->pos[0], "", NULL, &j, err);
	if (rc || a->json)
		return rc;
	json_t *spans = json_object_get(j, "spans");
	int64_t t0 = INT64_MAX, t1 = INT64_MIN;
	size_t i;
	json_t *s;
	json_array_foreach(spans, i, s) {
		int64_t st = strtoll(cli_jstr(s, "start_unix_nano"), NULL, 10);
		int64_t en = st + (int64_t)(json_real_value(json_object_get(s, "duration_ms")) * 1e6);
		if (st < t0)
			t0 = st;
		if (en > t1)
			t1 = en;
	}
	double total = (double)(t1 - t0) / 1e6;
	printf("trace %s  %zu spans  %.3f ms\n\n", cli_jstr(j, "trace_id"), json_array_size(spans), total);
	const int width = 40;
	json_array_foreach(spans, i, s) {
		int depth = (int)json_integer_value(json_object_get(s, "depth"));
		int64_t st = strtoll(cli_jstr(s, "start_unix_nano"), NULL, 10);
		double dur = json_real_value(json_object_get(s, "duration_ms"));
		int off = total > 0 ? (int)((double)(st - t0) / 1e6 / total * width) : 0;
		int len = total > 0 ? (int)ceil(dur / total * width) : width;
		if (off > width - 1)
			off = width - 1;
		if (len < 1)
			len = 1;
		if (off + len > width)
			len = width - off;
		char bar[64];
		for (int k = 0; k < width; k++)
			bar[k] = k >= off && k < off + len ? '#' : k == 0 || k == width - 1 ? '|' : ' ';
		bar[width] = 0;
		char label[160];
		snprintf(label, sizeof(label), "%*s%s %s", depth * 2, "", cli_jstr(s, "service"), cli_jstr(s, "name"));
		bool error = !strcmp(cli_jstr(s, "status"), "error");
		printf("%-48.48s %s %9.3f ms%s\n", label, bar, dur, error ? "  ERROR" : "");
		if (error && *cli_jstr(s, "status_message"))
			printf("%*s  ! %s\n", depth * 2, "", cli_jstr(s, "status_message"));
	}
	json_t *logs = json_object_get(j, "logs");
	if (json_array_size(logs)) {
		printf("\nlogs of this trace:\n");
		json_array_foreach(logs, i, s)
			print_log(s);
	}
	json_decref(j);
	return 0;
}

int cmd_traces(struct cli_args *a, struct buf *err)
{
	struct buf path = BUF_INIT;
	buf_adds(&path, "/api/v1/traces");
	cli_param(&path, "service", cli_opt(a, "--service"));
	cli_param(&path, "op", cli_opt(a, "--op"));
	cli_param(&path, "min_duration", cli_opt(a, "--min-duration"));
	cli_param(&path, "status", cli_flag(a, "--errors") ? "error" : NULL);
	cli_param(&path, "since", cli_opt(a, "--since") ? cli_opt(a, "--since") : "1h");
	cli_param(&path, "limit", cli_opt(a, "--limit"));
	json_t *j;
	int rc = cli_call_json(a, "GET", path.data, NULL, &j, err);
	buf_release(&path);
	if (rc || a->json)
		return rc;
	size_t i;
	json_t *t;
	printf("%-32s  %-24s  %-16s  %10s  %s\n", "TRACE", "START", "SERVICE", "DURATION", "OPERATION");
	json_array_foreach(json_object_get(j, "traces"), i, t) {
		printf("%-32s  %-24s  %-16s  %8.1fms  %s%s\n", cli_jstr(t, "trace_id"), cli_jstr(t, "start"), cli_jstr(t, "service"),
		       json_real_value(json_object_get(t, "duration_ms")), cli_jstr(t, "operation"),
		       !strcmp(cli_jstr(t, "status"), "error") ? "  ERROR" : "");
	}
	warn_partial(j);
	json_decref(j);
	return 0;
}

int cmd_query(struct cli_args *a, struct buf *err)
{
	if (!a->n_pos) {
		buf_adds(err, "usage: ooda query 'EXPR' [--time T | --since 1h --step 1m]");
		return OODA_EINVAL;
	}
	struct buf path = BUF_INIT;
	const char *since = cli_opt(a, "--since");
	bool range = since != NULL;
	buf_adds(&path, range ? "/api/v1/query_range" : "/api/v1/query");
	cli_param(&path, "query", a->pos[0]);
	if (range) {
		int64_t d = 0, now = ooda_now_ns();
		if (ooda_duration_parse(since, strlen(since), &d)) {
			buf_addf(err, "--since %s is not a duration like 1h", since);
			buf_release(&path);
			return OODA_EINVAL;
		}
		char tmp[48];
		snprintf(tmp, sizeof(tmp), "%.3f", (double)(now - d) / 1e9);
		cli_param(&path, "start", tmp);
		snprintf(tmp, sizeof(tmp), "%.3f", (double)now / 1e9);
		cli_param(&path, "end", tmp);
		cli_param(&path, "step", cli_opt(a, "--step") ? cli_opt(a, "--step") : "60s");
	} else {
		cli_param(&path, "time", cli_opt(a, "--time"));
	}
	json_t *j;
	int rc = cli_call_json(a, "GET", path.data, NULL, &j, err);
	buf_release(&path);
	if (rc || a->json)
		return rc;
	json_t *data = json_object_get(j, "data");
	const char *type = cli_jstr(data, "resultType");
	json_t *result = json_object_get(data, "result");
	if (!strcmp(type, "scalar") || !strcmp(type, "string")) {
		printf("%s\n", json_string_value(json_array_get(result, 1)));
		json_decref(j);
		return 0;
	}
	size_t i;
	json_t *s;
	json_array_foreach(result, i, s) {
		struct buf labels = BUF_INIT;
		const char *k;
		json_t *v;
		const char *name = json_string_value(json_object_get(json_object_get(s, "metric"), "__name__"));
		buf_adds(&labels, name ? name : "");
		buf_addch(&labels, '{');
		int n = 0;
		json_object_foreach(json_object_get(s, "metric"), k, v) {
			if (!strcmp(k, "__name__"))
				continue;
			buf_addf(&labels, "%s%s=\"%s\"", n++ ? ", " : "", k, json_string_value(v));
		}
		buf_addch(&labels, '}');
		if (!strcmp(type, "vector")) {
			printf("%-70s %s\n", labels.data, json_string_value(json_array_get(json_object_get(s, "value"), 1)));
		} else {
			printf("%s\n", labels.data);
			size_t p;
			json_t *pt;
			json_array_foreach(json_object_get(s, "values"), p, pt) {
				char when[40];
				ooda_time_format((int64_t)(json_number_value(json_array_get(pt, 0)) * 1e9), when, sizeof(when));
				printf("  %s  %s\n", when, json_string_value(json_array_get(pt, 1)));
			}
		}
		buf_release(&labels);
	}
	if (!json_array_size(result))
		fprintf(stderr, "no series\n");
	json_decref(j);
	return 0;
}

int cmd_events(struct cli_args *a, struct buf *err)
{
	struct buf path = BUF_INIT;
	buf_adds(&path, "/api/v1/events");
	cli_param(&path, "service", cli_opt(a, "--service"));
	cli_param(&path, "kind", cli_opt(a, "--kind"));
	cli_param(&path, "since", cli_opt(a, "--since") ? cli_opt(a, "--since") : "24h");
	cli_param(&path, "limit", cli_opt(a, "--limit"));
	json_t *j;
	int rc = cli_call_json(a, "GET", path.data, NULL, &j, err);
	buf_release(&path);
	if (rc || a->json)
		return rc;
	size_t i;
	json_t *e;
	printf("%-24s  %-9s  %-16s  %-12s  %-16s  %s\n", "TIME", "KIND", "SERVICE", "VERSION", "ACTOR", "DESCRIPTION");
	json_array_foreach(json_object_get(j, "events"), i, e)
		printf("%-24s  %-9s  %-16s  %-12s  %-16s  %s\n", cli_jstr(e, "time"), cli_jstr(e, "kind"), cli_jstr(e, "service"),
		       cli_jstr(e, "version"), cli_jstr(e, "actor"), cli_jstr(e, "description"));
	json_decref(j);
	return 0;
}

int cmd_logs_patterns(struct cli_args *a, struct buf *err)
{
	struct buf path = BUF_INIT;
	buf_adds(&path, "/api/v1/patterns");
	cli_param(&path, "service", cli_opt(a, "--service"));
	cli_param(&path, "since", cli_opt(a, "--since") ? cli_opt(a, "--since") : "1h");
	cli_param(&path, "severity", cli_opt(a, "--severity"));
	cli_param(&path, "limit", cli_opt(a, "--limit"));
	json_t *j;
	int rc = cli_call_json(a, "GET", path.data, NULL, &j, err);
	buf_release(&path);
	if (rc || a->json)
		return rc;
	printf("%8s  %-16s  %-6s  %-16s  %s\n", "COUNT", "SERVICE", "LEVEL", "PATTERN", "TEMPLATE");
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(j, "patterns"), i, p)
		printf("%8lld  %-16s  %-6s  %-16s  %s\n", (long long)json_integer_value(json_object_get(p, "count_in_range")),
		       cli_jstr(p, "service"), cli_jstr(p, "max_severity"), cli_jstr(p, "id"), cli_jstr(p, "template"));
	json_decref(j);
	return 0;
}

/* ---- check and repair telemetry.db, offline ----------------------------- */

static const char *tdata_dir(struct cli_args *a)
{
	const char *d = cli_opt(a, "--data");
	return d && *d ? d : "./ooda-data";
}

static void bad_block_json(json_t *arr, const struct tstore_bad_block *b)
{
	char from[40], to[40];
	ooda_time_format(b->tmin, from, sizeof(from));
	ooda_time_format(b->tmax, to, sizeof(to));
	json_array_append_new(arr, json_pack("{s:s, s:I, s:s, s:s, s:s, s:I, s:s}", "signal", tstore_signal_name(b->signal),
					     "id", (json_int_t)b->id, "service", b->service, "from", from, "to", to,
					     "records", (json_int_t)b->records, "error", b->why));
}

static void print_bad_blocks(const struct tstore_check_report *r)
{
	static const char *const headers[] = { "SIGNAL", "ID", "SERVICE", "FROM", "TO", "RECORDS", "ERROR" };
	const char **cells = xcalloc(r->n_bad * 7 + 1, sizeof(char *));
	char (*num)[3][40] = xcalloc(r->n_bad + 1, sizeof(*num));
	char (*when)[2][40] = xcalloc(r->n_bad + 1, sizeof(*when));
	for (size_t i = 0; i < r->n_bad; i++) {
		const struct tstore_bad_block *b = &r->bad[i];
		snprintf(num[i][0], 40, "%lld", (long long)b->id);
		snprintf(num[i][1], 40, "%lld", (long long)b->records);
		ooda_time_format(b->tmin, when[i][0], 40);
		ooda_time_format(b->tmax, when[i][1], 40);
		const char *row[7] = { tstore_signal_name(b->signal), num[i][0], b->service, when[i][0], when[i][1],
				       num[i][1], b->why };
		memcpy(&cells[i * 7], row, sizeof(row));
	}
	cli_table(headers, 7, cells, (int)r->n_bad);
	free(cells);
	free(num);
	free(when);
}

int cmd_telemetry_check(struct cli_args *a, struct buf *err)
{
	const char *dir = tdata_dir(a);
	struct tstore_check_report r;
	int rc = tstore_check(dir, &r, err);
	if (rc)
		return rc;
	if (a->json) {
		json_t *bad = json_array();
		for (size_t i = 0; i < r.n_bad; i++)
			bad_block_json(bad, &r.bad[i]);
		json_t *j = json_pack("{s:I, s:s, s:o}", "blocks", (json_int_t)r.blocks, "integrity", r.integrity, "damaged", bad);
		char *s = json_dumps(j, JSON_COMPACT);
		printf("%s\n", s);
		free(s);
		json_decref(j);
	} else {
		if (r.n_bad)
			print_bad_blocks(&r);
		printf("checked %llu blocks in %s/telemetry.db: %zu damaged; SQLite quick_check: %s\n",
		       (unsigned long long)r.blocks, dir, r.n_bad, r.integrity);
	}
	if (r.n_bad) {
		buf_addf(err, "%zu damaged telemetry block%s; `ooda telemetry repair --data %s --yes` drops %s", r.n_bad,
			 r.n_bad == 1 ? "" : "s", dir, r.n_bad == 1 ? "it" : "them");
		rc = OODA_ECORRUPT;
	} else if (strcmp(r.integrity, "ok")) {
		buf_addf(err, "SQLite finds telemetry.db damaged (%s): restore it from a backup, or start with "
			      "`ooda serve --recreate-telemetry`", r.integrity);
		rc = OODA_ECORRUPT;
	}
	tstore_check_release(&r);
	return rc;
}

struct repair_audit {
	const char *actor, *rationale;
	struct buf *dropped; /* JSON array of the dropped blocks */
};

static int repair_audit_tx(struct store *s, void *ctx, struct buf *err)
{
	struct repair_audit *c = ctx;
	struct audit_entry e = {
		.actor = c->actor, .action = "telemetry.repair", .target = "telemetry/blocks",
		.before = c->dropped->data, .before_len = c->dropped->len,
		.rationale = c->rationale, .detail = c->dropped->data,
	};
	return audit_append(s, NULL, &e, err);
}

/* telemetry repair --json: {"blocks", "damaged": [...], "dropped": N|null (null: not dropped, no --yes)}. */
static void repair_json(const struct tstore_check_report *r, int dropped, bool done)
{
	json_t *bad = json_array();
	for (size_t i = 0; i < r->n_bad; i++)
		bad_block_json(bad, &r->bad[i]);
	json_t *j = json_pack("{s:I, s:o, s:o}", "blocks", (json_int_t)r->blocks, "damaged", bad, "dropped",
			      done ? json_integer(dropped) : json_null());
	char *t = json_dumps(j, JSON_COMPACT);
	printf("%s\n", t);
	free(t);
	json_decref(j);
}

int cmd_telemetry_repair(struct cli_args *a, struct buf *err)
{
	const char *dir = tdata_dir(a);
	struct tstore_check_report r;
	int rc = tstore_check(dir, &r, err);
	if (rc)
		return rc;
	if (!r.n_bad) {
		if (a->json)
			repair_json(&r, 0, true);
		else
			printf("checked %llu blocks in %s/telemetry.db: none damaged, nothing to repair\n",
			       (unsigned long long)r.blocks, dir);
		tstore_check_release(&r);
		return 0;
	}
	if (!a->json)
		print_bad_blocks(&r);
	if (!cli_flag(a, "--yes")) {
		if (a->json)
			repair_json(&r, 0, false);
		else
			printf("would drop these %zu damaged block%s (their records are lost either way: no read can "
			       "decode them); run again with --yes to do it\n",
			       r.n_bad, r.n_bad == 1 ? "" : "s");
		tstore_check_release(&r);
		return 0;
	}
	/* the repair is audited in control.db: it must be there, and is never created here */
	char control[4200];
	snprintf(control, sizeof(control), "%s/control.db", dir);
	struct store *s = NULL;
	if (access(control, F_OK)) {
		buf_addf(err, "%s does not exist, so the repair could not be audited; nothing was dropped", control);
		rc = OODA_ENOTFOUND;
	} else {
		rc = store_open(dir, STORE_NO_WRITER_THREAD, &s, err);
	}
	json_t *list = json_array();
	for (size_t i = 0; i < r.n_bad; i++)
		bad_block_json(list, &r.bad[i]);
	char *text = json_dumps(list, JSON_COMPACT);
	json_decref(list);
	struct buf dropped = BUF_INIT;
	buf_adds(&dropped, text);
	free(text);
	int n = 0;
	if (!rc && (n = tstore_repair(dir, &r, err)) < 0)
		rc = n;
	if (!rc) {
		struct repair_audit c = { cli_actor(), cli_opt(a, "--rationale") ? cli_opt(a, "--rationale") : "", &dropped };
		rc = store_write(s, repair_audit_tx, &c, err);
		if (rc)
			buf_addf(err, " (the %d blocks were dropped, but the audit record was not written)", n);
	}
	if (!rc && a->json)
		repair_json(&r, n, true);
	else if (!rc)
		printf("dropped %d damaged block%s from %s/telemetry.db (audited as telemetry.repair by %s)\n", n,
		       n == 1 ? "" : "s", dir, cli_actor());
	store_close(s);
	buf_release(&dropped);
	tstore_check_release(&r);
	return rc;
}
