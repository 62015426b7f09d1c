/*
 * CLI commands of the detect stage's probes and heartbeats: `ooda probes
 * list`, `ooda heartbeats list`, and the job wrapper `ooda heartbeat NAME
 * -- CMD ARGS…`, which pings start, runs the command without a shell,
 * reports success or failure with exit code and duration, and exits with
 * the command's own code.
 */
#include "cli/cli.h"
#include "core/error.h"
#include "core/time.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

extern char **environ;

/* The cells of `probes list` made from the window and the last attempt. */
static void probe_window(json_t *p, struct buf *out)
{
	json_t *w = json_object_get(p, "window");
	buf_addf(out, "%lld/%lld failed (%s)", (long long)json_integer_value(json_object_get(w, "failures")),
		 (long long)json_integer_value(json_object_get(w, "attempts")), cli_jstr(w, "fail_after"));
}

static void probe_latency(json_t *p, struct buf *out)
{
	json_t *last = json_object_get(p, "last");
	if (json_is_object(last))
		buf_addf(out, "%.1fms", json_number_value(json_object_get(last, "duration_ms")));
}

static void probe_error(json_t *p, struct buf *out)
{
	json_t *last = json_object_get(p, "last");
	buf_adds(out, json_is_object(last) ? cli_jstr(last, "error") : "");
}

int cmd_probes_list(struct cli_args *a, struct buf *err)
{
	json_t *j;
	int rc = cli_call_json(a, "GET", "/api/v1/probes", NULL, &j, err);
	if (rc || a->json)
		return rc;
	static const struct cli_column cols[] = {
		{ "SERVICE", "service", NULL }, { "PROBE", "name", NULL },	{ "KIND", "kind", NULL },
		{ "STATE", "state", NULL },	{ "WINDOW", NULL, probe_window }, { "LAST", NULL, probe_latency },
		{ "ERROR", NULL, probe_error },
	};
	cli_table_json(json_object_get(j, "probes"), cols, 7);
	json_decref(j);
	return 0;
}

int cmd_heartbeats_list(struct cli_args *a, struct buf *err)
{
	json_t *j;
	int rc = cli_call_json(a, "GET", "/api/v1/heartbeats", NULL, &j, err);
	if (rc || a->json)
		return rc;
	static const struct cli_column cols[] = {
		{ "HEARTBEAT", "name", NULL },	  { "STATE", "state", NULL },	     { "EVERY", "every", NULL },
		{ "GRACE", "grace", NULL },	  { "LAST PING", "last_ping", NULL }, { "NEXT DUE", "next_due", NULL },
		{ "MESSAGE", "message", NULL },
	};
	cli_table_json(json_object_get(j, "heartbeats"), cols, 7);
	json_decref(j);
	return 0;
}

/* A ping that must not stop the job: failures are reported on stderr only. */
static void ping(struct cli_args *a, const char *name, json_t *body)
{
	struct buf path = BUF_INIT, out = BUF_INIT, err = BUF_INIT;
	buf_adds(&path, "/api/v1/heartbeats/");
	client_urlencode(&path, name);
	char *text = json_dumps(body, JSON_COMPACT);
	int status;
	if (cli_context_check(a, &err) ||
	    client_call(&a->client, "POST", path.data, text, strlen(text), "application/json", &status, &out, &err))
		fprintf(stderr, "ooda heartbeat: ping %s not delivered: %s\n", name, err.data);
	free(text);
	json_decref(body);
	buf_release(&path);
	buf_release(&out);
	buf_release(&err);
}

int cmd_heartbeat(struct cli_args *a, struct buf *err)
{
	if (a->n_pos != 1 || a->n_passthrough < 1) {
		buf_adds(err, "usage: ooda heartbeat NAME -- COMMAND [ARGS…]");
		return OODA_EINVAL;
	}
	const char *name = a->pos[0];
	ping(a, name, json_pack("{s:s}", "status", "start"));
	char *argv[65];
	for (int i = 0; i < a->n_passthrough; i++)
		argv[i] = (char *)a->passthrough[i];
	argv[a->n_passthrough] = NULL;
	int64_t t0 = ooda_mono_ns();
	pid_t pid;
	int rc = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ);
	int code, st = 0;
	char message[300];
	if (rc) {
		code = 127;
		snprintf(message, sizeof(message), "cannot run %s: %s", argv[0], strerror(rc));
		fprintf(stderr, "ooda heartbeat: %s\n", message);
	} else {
		/* the child handles ^C itself; the wrapper waits to report it */
		signal(SIGINT, SIG_IGN);
		signal(SIGTERM, SIG_IGN);
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		if (WIFSIGNALED(st)) {
			code = 128 + WTERMSIG(st);
			snprintf(message, sizeof(message), "%s killed by signal %d", argv[0], WTERMSIG(st));
		} else {
			code = WEXITSTATUS(st);
			if (code)
				snprintf(message, sizeof(message), "%s exited %d", argv[0], code);
			else
				message[0] = '\0';
		}
	}
	int64_t ms = (ooda_mono_ns() - t0) / OODA_NS_PER_MS;
	ping(a, name, json_pack("{s:s, s:s, s:I, s:i}", "status", code ? "fail" : "ok", "message", message,
				"duration_ms", (json_int_t)ms, "exit_code", code));
	if (code) {
		fflush(stdout);
		exit(code);
	}
	return 0;
}

/* ooda targets: GET /api/v1/targets as a table; --job narrows to one scrape job. */
int cmd_targets(struct cli_args *a, struct buf *err)
{
	json_t *j;
	int rc = cli_call_json(a, "GET", "/api/v1/targets", NULL, &j, err);
	if (rc || a->json)
		return rc;
	const char *job = cli_opt(a, "--job");
	json_t *arr = json_object_get(json_object_get(j, "data"), "activeTargets");
	size_t n = json_array_size(arr), i, rows = 0;
	const char **cells = xcalloc(n * 6 + 1, sizeof(char *));
	char (*dur)[32] = xcalloc(n + 1, sizeof(*dur));
	json_t *t;
	json_array_foreach(arr, i, t) {
		if (job && strcmp(cli_jstr(t, "scrapePool"), job))
			continue;
		bool never = !strcmp(cli_jstr(t, "health"), "unknown");
		snprintf(dur[rows], sizeof(dur[rows]), "%.1fms", json_number_value(json_object_get(t, "lastScrapeDuration")) * 1000);
		const char *row[] = { cli_jstr(t, "scrapePool"), cli_jstr(t, "scrapeUrl"), cli_jstr(t, "health"),
				      never ? "never" : cli_jstr(t, "lastScrape"), never ? "" : dur[rows], cli_jstr(t, "lastError") };
		memcpy(cells + rows * 6, row, sizeof(row));
		rows++;
	}
	static const char *const headers[] = { "JOB", "URL", "HEALTH", "LAST SCRAPE", "DURATION", "ERROR" };
	cli_table(headers, 6, cells, (int)rows);
	free(cells);
	free(dur);
	json_decref(j);
	return 0;
}
