/*
 * ooda's commands. One table lists every command, its options, a one-line
 * summary and its stage, and a second describes each option; dispatch
 * (cli_parse.c, which holds main), `ooda help`, docs/cli.md and the
 * completion scripts (cli_help.c) all come from them. `ooda serve` runs the daemon; most other commands talk
 * to it over HTTP, and the bootstrap commands (token, audit, backup) can
 * also work on a data dir directly with --data.
 */
#include "cli/cli.h"
#include "change/change.h"
#include "detect/anomaly.h"
#include "detect/watch.h"
#include "api/daemon.h"
#include "audit/audit.h"
#include "core/config.h"
#include "core/error.h"
#include "core/hex.h"
#include "core/time.h"
#include "detect/patterns.h"
#include "detect/rules.h"
#include "detect/heartbeat.h"
#include "detect/probe.h"
#include "http/auth.h"
#include "store/store.h"
#include "store/tstore.h"

#include <jansson.h>
#include <pwd.h>
#include <sodium.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct cli_command commands[];

/* ---- helpers shared by commands -------------------------------------- */

const char *cli_opt(const struct cli_args *a, const char *name)
{
	for (int i = 0; i < a->n_opts; i++)
		if (!strcmp(a->opt_names[i], name))
			return a->opt_values[i];
	return NULL;
}

bool cli_flag(const struct cli_args *a, const char *name)
{
	return cli_opt(a, name) != NULL;
}

const char *cli_actor(void)
{
	static char actor[160];
	if (!actor[0]) {
		const char *u = getenv("USER");
		struct passwd *pw = u ? NULL : getpwuid(getuid());
		snprintf(actor, sizeof(actor), "cli:%s", u ? u : pw ? pw->pw_name : "unknown");
	}
	return actor;
}

int cli_call(struct cli_args *a, const char *method, const char *path, const char *body,
	     const char *ctype, struct buf *out, struct buf *err)
{
	int status;
	int rc = cli_context_check(a, err);
	if (!rc)
		rc = client_call(&a->client, method, path, body, body ? strlen(body) : 0, ctype, &status, out, err);
	if (!rc && a->json) {
		fwrite(out->data, 1, out->len, stdout);
		if (out->len && out->data[out->len - 1] != '\n')
			putchar('\n');
	}
	return rc;
}

const char *cli_server(struct cli_args *a)
{
	if (!a->resolved)
		cli_context_resolve(a);
	return a->client.server;
}

const char *cli_jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

void cli_param(struct buf *path, const char *name, const char *value)
{
	if (!value)
		return;
	buf_addf(path, "%c%s=", strchr(path->data, '?') ? '&' : '?', name);
	client_urlencode(path, value);
}

int cli_call_json(struct cli_args *a, const char *method, const char *path, const char *body, json_t **out,
		  struct buf *err)
{
	struct buf res = BUF_INIT;
	int rc = cli_call(a, method, path, body, body ? "application/json" : NULL, &res, err);
	*out = NULL;
	if (!rc && !a->json) {
		json_error_t je;
		*out = json_loadb(res.data, res.len, JSON_DECODE_ANY, &je);
		if (!*out) {
			buf_addf(err, "the daemon's answer is not JSON: %s", je.text);
			rc = OODA_EINTERNAL;
		}
	}
	buf_release(&res);
	return rc;
}

static void print_scalar(json_t *v)
{
	if (json_is_string(v))
		fputs(json_string_value(v), stdout);
	else if (json_is_null(v))
		fputs("-", stdout);
	else {
		char *t = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
		fputs(t ? t : "", stdout);
		free(t);
	}
}

static bool all_scalars(json_t *arr)
{
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v) if (json_is_object(v) || json_is_array(v)) return false;
	return true;
}

static void print_fields(json_t *j, int depth)
{
	const char *k;
	json_t *v;
	if (depth > 8)
		return;
	json_object_foreach(j, k, v) {
		printf("%*s%s:", depth * 2, "", k);
		if ((json_is_object(v) && !json_object_size(v)) || (json_is_array(v) && !json_array_size(v))) {
			fputs(" -\n", stdout);
		} else if (json_is_object(v)) {
			putchar('\n');
			print_fields(v, depth + 1);
		} else if (json_is_array(v) && all_scalars(v)) {
			size_t i;
			json_t *x;
			putchar(' ');
			json_array_foreach(v, i, x) {
				if (i)
					fputs(", ", stdout);
				print_scalar(x);
			}
			putchar('\n');
		} else if (json_is_array(v)) {
			putchar('\n');
			size_t i;
			json_t *x;
			json_array_foreach(v, i, x) {
				printf("%*s-\n", depth * 2 + 2, "");
				if (json_is_object(x))
					print_fields(x, depth + 2);
			}
		} else {
			putchar(' ');
			print_scalar(v);
			putchar('\n');
		}
	}
}

void cli_print_fields(json_t *j)
{
	if (json_is_object(j))
		print_fields(j, 0);
	else if (j) {
		print_scalar(j);
		putchar('\n');
	}
}

static const char *data_dir(struct cli_args *a)
{
	const char *d = cli_opt(a, "--data");
	return d && *d ? d : "./ooda-data";
}

/*
 * Offline commands work on a data dir the user named and never create a
 * store by accident: DIR must already hold control.db (the daemon makes it
 * on its first start) unless `init` is set (token create --init). They open
 * it without a writer thread.
 */
static int open_offline(struct cli_args *a, bool init, struct store **s, struct audit_signer *sg, struct buf *err)
{
	const char *dir = data_dir(a);
	char db[4096];
	snprintf(db, sizeof(db), "%s/control.db", dir);
	if (!init && access(db, F_OK) && !store_dir_is_pg(dir)) {
		buf_addf(err, "no ooda store in %s (no control.db there); name the daemon's data dir with --data DIR "
			      "(start `ooda serve --data %s` once to create it), or add --init to create a new store",
			 dir, dir);
		return OODA_ENOTFOUND;
	}
	int rc = store_open(dir, STORE_NO_WRITER_THREAD, s, err);
	if (!rc && sg)
		rc = audit_signer_load(sg, dir, 0, err);
	if (rc && *s) {
		store_close(*s);
		*s = NULL;
	}
	return rc;
}

/* ---- serve, version, config ------------------------------------------ */

static int cmd_serve(struct cli_args *a, struct buf *err)
{
	struct serve_options o = {
		.config_path = cli_opt(a, "--config"),
		.listen = cli_opt(a, "--listen"),
		.data_dir = cli_opt(a, "--data"),
		.recreate_telemetry = cli_flag(a, "--recreate-telemetry"),
	};
	return daemon_serve(&o, err);
}

static int cmd_version(struct cli_args *a, struct buf *err)
{
	if (a && a->json)
		printf("{\"version\":\"%s\"}\n", OODA_VERSION);
	else
		printf("ooda %s\n", OODA_VERSION);
	return 0;
}

/* One problem line of config_load ("FILE:LINE:COL: key: what") as JSON. */
static json_t *config_problem_json(const char *file, const char *line, size_t len)
{
	size_t fl = strlen(file);
	unsigned ln = 0, col = 0;
	int used = 0;
	json_t *p = json_object();
	if (len > fl + 1 && !strncmp(line, file, fl) && line[fl] == ':' &&
	    sscanf(line + fl + 1, "%u:%u: %n", &ln, &col, &used) == 2 && used) {
		json_object_set_new(p, "line", json_integer(ln));
		json_object_set_new(p, "column", json_integer(col));
		json_object_set_new(p, "problem", json_stringn(line + fl + 1 + used, len - fl - 1 - (size_t)used));
	} else {
		json_object_set_new(p, "problem", json_stringn(line, len));
	}
	return p;
}

/*
 * The daemon's own validation (config_load runs config_validate): what
 * passes here starts and reloads. Prints one FILE:LINE:COLUMN line per
 * problem on stderr.
 */
static int cmd_config_check(struct cli_args *a, struct buf *err)
{
	if (a->n_pos != 1) {
		buf_adds(err, "usage: ooda config check FILE");
		return OODA_EINVAL;
	}
	struct config c;
	config_init(&c);
	struct buf why = BUF_INIT;
	int rc = config_load(&c, a->pos[0], &why);
	if (!rc) {
		if (a->json) {
			json_t *j = json_pack("{s:s, s:b, s:[]}", "file", a->pos[0], "ok", 1, "problems");
			char *t = json_dumps(j, JSON_COMPACT);
			printf("%s\n", t);
			free(t);
			json_decref(j);
		} else {
			printf("%s: ok\n", a->pos[0]);
		}
	} else if (rc == OODA_EINVAL) {
		/* problems in the file: a failed check (exit 1), not a bad command line */
		rc = OODA_EVALIDATE;
		size_t lines = 1;
		for (size_t i = 0; i < why.len; i++)
			lines += why.data[i] == '\n';
		if (a->json) {
			json_t *probs = json_array();
			for (const char *p = why.data; *p;) {
				size_t n = strcspn(p, "\n");
				json_array_append_new(probs, config_problem_json(a->pos[0], p, n));
				p += n + (p[n] == '\n');
			}
			json_t *j = json_pack("{s:s, s:b, s:o}", "file", a->pos[0], "ok", 0, "problems", probs);
			char *t = json_dumps(j, JSON_COMPACT);
			printf("%s\n", t);
			free(t);
			json_decref(j);
		} else {
			fprintf(stderr, "%s\n", why.data);
		}
		buf_addf(err, "%s: %zu problem%s found", a->pos[0], lines, lines == 1 ? "" : "s");
	} else {
		buf_add(err, why.data, why.len);
	}
	buf_release(&why);
	config_release(&c);
	return rc;
}

static int cmd_reload(struct cli_args *a, struct buf *err)
{
	struct buf out = BUF_INIT;
	int rc = cli_call(a, "POST", "/api/v1/config/reload", "{}", NULL, &out, err);
	if (!rc && !a->json) {
		printf("configuration reloaded on %s\n", cli_server(a));
		json_t *j = json_loadb(out.data ? out.data : "", out.len, 0, NULL);
		const char *warning = json_string_value(json_object_get(j, "warning"));
		if (warning)
			fprintf(stderr, "warning: %s\n", warning);
		/* several nodes: each re-read its own ooda.yaml; name those that did not take it */
		json_t *nodes = json_object_get(j, "nodes"), *n;
		size_t i, took = 0;
		json_array_foreach(nodes, i, n) {
			const char *id = json_string_value(json_object_get(n, "id")) ?: "?";
			const char *why = json_string_value(json_object_get(n, "error")) ?: "";
			if (!json_is_true(json_object_get(n, "answered")))
				fprintf(stderr, "node %s: has not answered the reload yet\n", id);
			else if (*why)
				fprintf(stderr, "node %s: refused its ooda.yaml, keeps the previous one: %.300s\n", id, why);
			else
				took++;
		}
		if (json_array_size(nodes))
			printf("%zu of %zu nodes run the new configuration (generation %lld)\n", took, json_array_size(nodes),
			       (long long)json_integer_value(json_object_get(j, "generation")));
		json_decref(j);
	}
	buf_release(&out);
	return rc;
}

/*
 * Where the CLI points and what answers there: the server and the token
 * (never its value) with where each came from, then the daemon's own
 * status (version, data dir, who you are to it). The first two lines are
 * printed even when the daemon cannot be reached.
 */
static int cmd_status(struct cli_args *a, struct buf *err)
{
	struct buf server = BUF_INIT, token = BUF_INIT, out = BUF_INIT;
	cli_context_describe(a, &server, &token);
	bool json = a->json;
	if (!json) {
		printf("%-16s %s\n%-16s %s\n", "server", server.data, "token", token.data);
		fflush(stdout);
	}
	a->json = false;
	int rc = cli_call(a, "GET", "/api/v1/status", NULL, NULL, &out, err);
	a->json = json;
	json_t *j = rc ? NULL : json_loadb(out.data, out.len, 0, NULL);
	if (!rc && !j) {
		buf_addf(err, "%s answered /api/v1/status with something that is not JSON: is it ooda?", a->client.server);
		rc = OODA_EINTERNAL;
	}
	if (!rc && json) {
		json_object_set_new(j, "server", json_string(a->client.server));
		json_object_set_new(j, "server_from", json_string(a->server_from));
		json_object_set_new(j, "token_in_use", json_boolean(a->client.token != NULL));
		json_object_set_new(j, "token_from", a->token_from ? json_string(a->token_from) : json_null());
		if (a->has_context)
			json_object_set_new(j, "context", json_string(a->context_path));
		char *t = json_dumps(j, JSON_COMPACT);
		printf("%s\n", t);
		free(t);
	} else if (!rc) {
		const char *k;
		json_t *v;
		json_object_foreach(j, k, v) {
			char *t = json_dumps(v, JSON_ENCODE_ANY);
			printf("%-16s %s\n", k, json_is_string(v) ? json_string_value(v) : t);
			free(t);
		}
	}
	json_decref(j);
	buf_release(&server);
	buf_release(&token);
	buf_release(&out);
	return rc;
}

/* ---- tokens ------------------------------------------------------------ */

/*
 * Token commands go through the daemon (/api/v1/tokens, admin role) at the
 * server from --server, OODA_SERVER, the login context or the default, and
 * say which. With --data DIR they work on that data dir instead, offline;
 * giving both --server and --data is ambiguous and refused.
 */
static int token_offline(struct cli_args *a, bool *offline, struct buf *err)
{
	*offline = cli_opt(a, "--data") != NULL;
	if (*offline && !*cli_opt(a, "--data")) {
		buf_adds(err, "--data needs a directory");
		return OODA_EINVAL;
	}
	if (*offline && cli_opt(a, "--server")) {
		buf_adds(err, "give either --server (through the daemon) or --data DIR (offline on a data dir), not both");
		return OODA_EINVAL;
	}
	if (cli_flag(a, "--init") && !*offline) {
		buf_adds(err, "--init creates a store offline: it needs --data DIR");
		return OODA_EINVAL;
	}
	return 0;
}

static int cmd_token_create(struct cli_args *a, struct buf *err)
{
	struct token_request r = {
		.name = cli_opt(a, "--name"),
		.role = cli_opt(a, "--role"),
		.env = cli_opt(a, "--env"),
		.rationale = cli_opt(a, "--rationale"),
		.actor = cli_actor(),
	};
	if (!r.name || !r.role) {
		buf_adds(err, "usage: ooda token create --role ROLE --name NAME [--env ENV] [--data DIR [--init]]");
		return OODA_EINVAL;
	}
	bool offline;
	int rc = token_offline(a, &offline, err);
	if (rc)
		return rc;
	if (!offline) {
		json_t *body = json_pack("{s:s, s:s, s:s?, s:s?}", "name", r.name, "role", r.role, "env", r.env,
					 "rationale", r.rationale);
		char *s = json_dumps(body, JSON_COMPACT);
		json_decref(body);
		struct buf out = BUF_INIT;
		bool json = a->json;
		a->json = false;
		rc = cli_call(a, "POST", "/api/v1/tokens", s, NULL, &out, err);
		a->json = json;
		free(s);
		if (!rc) {
			json_t *j = json_loadb(out.data, out.len, 0, NULL);
			if (json) {
				printf("%s\n", out.data);
			} else {
				fprintf(stderr, "created token %s (%s) for %s on %s; it is shown once, store it now:\n",
					cli_jstr(json_object_get(j, "info"), "id"), r.role, r.name, a->client.server);
				printf("%s\n", cli_jstr(j, "token"));
			}
			json_decref(j);
		}
		sodium_memzero(out.data, out.len);
		buf_release(&out);
		return rc;
	}
	struct store *s = NULL;
	struct audit_signer sg;
	rc = open_offline(a, cli_flag(a, "--init"), &s, &sg, err);
	if (rc)
		return rc;
	char secret[96];
	struct token_row row;
	rc = token_create(s, &sg, &r, secret, sizeof(secret), &row, err);
	store_close(s);
	sodium_memzero(&sg, sizeof(sg));
	if (rc)
		return rc;
	if (a->json) {
		json_t *j = json_pack("{s:s, s:{s:s, s:s, s:s, s:s?}}", "token", secret, "info", "id", row.id, "name", row.name,
				      "role", row.role, "env", *row.env ? row.env : NULL);
		char *t = json_dumps(j, JSON_COMPACT);
		printf("%s\n", t);
		sodium_memzero(t, strlen(t));
		free(t);
		json_decref(j);
	} else {
		fprintf(stderr, "created token %s (%s) for %s in %s/control.db (offline); it is shown once, store it now:\n",
			row.id, row.role, row.name, data_dir(a));
		printf("%s\n", secret);
	}
	sodium_memzero(secret, sizeof(secret));
	return 0;
}

struct rows {
	const char **cells;
	int n, cap, ncols;
	struct buf text; /* owns cell strings, separated by NULs */
	size_t *offsets;
};

static void rows_add(struct rows *r, const char *const *vals)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 32;
		r->offsets = xrealloc(r->offsets, (size_t)r->cap * (size_t)r->ncols * sizeof(size_t));
	}
	for (int c = 0; c < r->ncols; c++) {
		r->offsets[r->n * r->ncols + c] = r->text.len;
		buf_adds(&r->text, vals[c] ? vals[c] : "");
		buf_addch(&r->text, '\0');
	}
	r->n++;
}

static void rows_print(struct rows *r, const char *const *headers)
{
	const char **cells = xmalloc(sizeof(char *) * (size_t)(r->n * r->ncols + 1));
	for (int i = 0; i < r->n * r->ncols; i++)
		cells[i] = r->text.data + r->offsets[i];
	cli_table(headers, r->ncols, cells, r->n);
	free(cells);
	free(r->offsets);
	buf_release(&r->text);
}

/*
 * Prints the rows as {"WRAP":[{key: cell…}…]} (--json of an offline command,
 * in the daemon's shape): an empty cell is null; column int_col (or -1) is a
 * number. Frees the rows like rows_print.
 */
static void rows_print_json(struct rows *r, const char *const *keys, const char *wrap, int int_col)
{
	json_t *arr = json_array();
	for (int i = 0; i < r->n; i++) {
		json_t *o = json_object();
		for (int c = 0; c < r->ncols; c++) {
			const char *v = r->text.data + r->offsets[i * r->ncols + c];
			json_object_set_new(o, keys[c], c == int_col ? json_integer(strtoll(v, NULL, 10))
								     : *v ? json_string(v) : json_null());
		}
		json_array_append_new(arr, o);
	}
	json_t *j = json_pack("{s:o}", wrap, arr);
	char *t = json_dumps(j, JSON_COMPACT);
	printf("%s\n", t);
	free(t);
	json_decref(j);
	free(r->offsets);
	buf_release(&r->text);
}

static int token_row_cb(void *ctx, const void *row)
{
	struct rows *r = ctx;
	const struct token_row *t = row;
	char created[40], revoked[40] = "";
	ooda_time_format(t->created_ns, created, sizeof(created));
	if (t->revoked_ns)
		ooda_time_format(t->revoked_ns, revoked, sizeof(revoked));
	const char *vals[] = { t->id, t->name, t->role, t->env, created, revoked };
	rows_add(r, vals);
	return 0;
}

static const char *const token_headers[] = { "ID", "NAME", "ROLE", "ENV", "CREATED", "REVOKED" };

static int cmd_token_list(struct cli_args *a, struct buf *err)
{
	struct rows r = { .ncols = 6 };
	bool offline;
	int orc = token_offline(a, &offline, err);
	if (orc)
		return orc;
	if (!offline) {
		struct buf out = BUF_INIT;
		int rc = cli_call(a, "GET", "/api/v1/tokens", NULL, NULL, &out, err);
		if (!rc && !a->json) {
			json_t *j = json_loadb(out.data, out.len, 0, NULL);
			size_t i;
			json_t *t;
			json_array_foreach(json_object_get(j, "tokens"), i, t) {
				const char *vals[] = {
					json_string_value(json_object_get(t, "id")), json_string_value(json_object_get(t, "name")),
					json_string_value(json_object_get(t, "role")), json_string_value(json_object_get(t, "env")),
					json_string_value(json_object_get(t, "created")), json_string_value(json_object_get(t, "revoked")),
				};
				rows_add(&r, vals);
			}
			json_decref(j);
			rows_print(&r, token_headers);
		}
		buf_release(&out);
		return rc;
	}
	struct store *s = NULL;
	int rc = open_offline(a, false, &s, NULL, err);
	if (rc)
		return rc;
	rc = store_token_list(s, token_row_cb, &r);
	store_close(s);
	if (!rc && !a->json)
		rows_print(&r, token_headers);
	else if (!rc) {
		printf("{\"tokens\":[");
		for (int i = 0; i < r.n; i++) {
			struct buf b = BUF_INIT;
			buf_adds(&b, i ? "," : "");
			buf_adds(&b, "{\"id\":");
			const char *id = r.text.data + r.offsets[i * 6];
			buf_add_json_str(&b, id, strlen(id));
			const char *keys[] = { "name", "role", "env", "created", "revoked" };
			for (int k = 0; k < 5; k++) {
				const char *v = r.text.data + r.offsets[i * 6 + k + 1];
				buf_addf(&b, ",\"%s\":", keys[k]);
				if (k == 4 && !*v)
					buf_adds(&b, "null");
				else
					buf_add_json_str(&b, v, strlen(v));
			}
			buf_adds(&b, "}");
			fputs(b.data, stdout);
			buf_release(&b);
		}
		printf("]}\n");
		free(r.offsets);
		buf_release(&r.text);
	}
	return rc;
}

static int cmd_token_revoke(struct cli_args *a, struct buf *err)
{
	if (a->n_pos != 1) {
		buf_adds(err, "usage: ooda token revoke ID|NAME [--rationale WHY] [--data DIR]");
		return OODA_EINVAL;
	}
	bool offline;
	int rc = token_offline(a, &offline, err);
	if (rc)
		return rc;
	if (!offline) {
		struct buf path = BUF_INIT;
		buf_adds(&path, "/api/v1/tokens/");
		client_urlencode(&path, a->pos[0]);
		cli_param(&path, "rationale", cli_opt(a, "--rationale"));
		json_t *j;
		rc = cli_call_json(a, "DELETE", path.data, NULL, &j, err);
		if (!rc && !a->json)
			printf("revoked %s (%s) on %s\n", cli_jstr(j, "id"), cli_jstr(j, "name"), a->client.server);
		json_decref(j);
		buf_release(&path);
		return rc;
	}
	struct store *s = NULL;
	struct audit_signer sg;
	rc = open_offline(a, false, &s, &sg, err);
	if (rc)
		return rc;
	struct token_row row;
	const char *why = cli_opt(a, "--rationale");
	rc = token_revoke(s, &sg, a->pos[0], cli_actor(), why ? why : "", &row, err);
	store_close(s);
	sodium_memzero(&sg, sizeof(sg));
	if (!rc && a->json) {
		json_t *j = json_pack("{s:s, s:s, s:b}", "id", row.id, "name", row.name, "revoked", 1);
		char *t = json_dumps(j, JSON_COMPACT);
		printf("%s\n", t);
		free(t);
		json_decref(j);
	} else if (!rc)
		printf("revoked %s (%s) in %s/control.db (offline)\n", row.id, row.name, data_dir(a));
	return rc;
}

/* ---- audit --------------------------------------------------------------- */

static const char *const audit_headers[] = { "SEQ", "TIME", "ACTOR", "ACTION", "TARGET", "RATIONALE" };

static int audit_row_cb(void *ctx, const void *row)
{
	struct rows *r = ctx;
	const struct audit_row *ar = row;
	char seq[24], t[40];
	snprintf(seq, sizeof(seq), "%lld", (long long)ar->seq);
	const char *vals[] = { seq, ooda_time_format(ar->time_ns, t, sizeof(t)), ar->actor, ar->action,
			       ar->target, ar->rationale };
	rows_add(r, vals);
	return 0;
}

static int cmd_audit_log(struct cli_args *a, struct buf *err)
{
	struct rows r = { .ncols = 6 };
	const char *limit = cli_opt(a, "--limit");
	if (cli_opt(a, "--data")) {
		struct store *s;
		int rc = store_open(data_dir(a), STORE_READONLY, &s, err);
		if (rc)
			return rc;
		struct audit_filter f = { .actor = cli_opt(a, "--actor"), .action = cli_opt(a, "--action"),
					  .target = cli_opt(a, "--target"), .descending = true,
					  .limit = limit ? strtoul(limit, NULL, 10) : 50 };
		const char *since = cli_opt(a, "--since");
		int64_t d;
		if (since && !ooda_duration_parse(since, strlen(since), &d))
			f.from_ns = ooda_now_ns() - d;
		rc = store_audit_iter(s, &f, audit_row_cb, &r);
		store_close(s);
		static const char *const keys[] = { "seq", "time", "actor", "action", "target", "rationale" };
		if (!rc && a->json)
			rows_print_json(&r, keys, "records", 0);
		else if (!rc)
			rows_print(&r, audit_headers);
		return rc;
	}
	struct buf path = BUF_INIT, out = BUF_INIT;
	buf_adds(&path, "/api/v1/audit?limit=");
	buf_adds(&path, limit ? limit : "50");
	const char *keys[] = { "actor", "action", "target", "since" };
	for (int k = 0; k < 4; k++) {
		char opt[32];
		snprintf(opt, sizeof(opt), "--%s", keys[k]);
		const char *v = cli_opt(a, opt);
		if (v) {
			buf_addf(&path, "&%s=", keys[k]);
			client_urlencode(&path, v);
		}
	}
	int rc = cli_call(a, "GET", path.data, NULL, NULL, &out, err);
	if (!rc && !a->json) {
		json_t *j = json_loadb(out.data, out.len, 0, NULL);
		size_t i;
		json_t *rec;
		json_array_foreach(json_object_get(j, "records"), i, rec) {
			char seq[24];
			snprintf(seq, sizeof(seq), "%lld", (long long)json_integer_value(json_object_get(rec, "seq")));
			const char *vals[] = { seq, json_string_value(json_object_get(rec, "time")),
					       json_string_value(json_object_get(rec, "actor")),
					       json_string_value(json_object_get(rec, "action")),
					       json_string_value(json_object_get(rec, "target")),
					       json_string_value(json_object_get(rec, "rationale")) };
			rows_add(&r, vals);
		}
		json_decref(j);
		rows_print(&r, audit_headers);
	}
	buf_release(&path);
	buf_release(&out);
	return rc;
}

/* Heads expected on the chain: --head SEQ:HASH and every line of --checkpoint FILE. */
struct verify_heads {
	struct audit_head *v;
	size_t n, cap;
	json_t *list; /* the same, for the daemon */
};

static void verify_heads_add(struct verify_heads *h, const struct audit_head *head, json_t *j)
{
	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 8;
		h->v = xrealloc(h->v, h->cap * sizeof(*h->v));
	}
	h->v[h->n++] = *head;
	json_array_append_new(h->list, j);
}

static int verify_heads_read(struct cli_args *a, const struct audit_keyset *pk, struct verify_heads *h,
			     struct buf *err)
{
	h->list = json_array();
	const char *text = cli_opt(a, "--head");
	struct audit_head head;
	if (text) {
		struct buf why = BUF_INIT;
		int rc = audit_head_parse(text, &head, &why);
		if (rc) {
			buf_addf(err, "--head: %s", why.data);
			buf_release(&why);
			return rc;
		}
		verify_heads_add(h, &head, json_string(text));
	}
	const char *path = cli_opt(a, "--checkpoint");
	if (!path)
		return 0;
	FILE *f = fopen(path, "r");
	if (!f) {
		buf_addf(err, "--checkpoint: cannot open %s: %s", path, strerror(errno));
		return OODA_EIO;
	}
	char *line = NULL;
	size_t cap = 0;
	int rc = 0, lineno = 0;
	size_t before = h->n;
	while (!rc && getline(&line, &cap, f) > 0) {
		lineno++;
		if (strspn(line, " \t\r\n") == strlen(line))
			continue;
		json_error_t je;
		json_t *j = json_loads(line, JSON_DECODE_ANY, &je);
		char where[4200];
		snprintf(where, sizeof(where), "%s:%d", path, lineno);
		if (!j) {
			buf_addf(err, "%s: not an anchor line (JSON): %s", where, je.text);
			rc = OODA_EPARSE;
			break;
		}
		rc = audit_head_from_json_keys(j, pk, where, &head, err);
		if (!rc)
			verify_heads_add(h, &head, j);
		else
			json_decref(j);
	}
	free(line);
	fclose(f);
	if (!rc && h->n == before) {
		buf_addf(err, "--checkpoint: %s holds no anchor line", path);
		rc = OODA_EINVAL;
	}
	return rc;
}

/* Keys `audit verify --pubkey` pins at most: one per node. */
#define AUDIT_PUBKEYS_MAX 64

static int cmd_audit_verify(struct cli_args *a, struct buf *err)
{
	struct audit_verify_result r;
	struct verify_heads heads = { 0 };
	/* --pubkey: one key, or the keys of several nodes separated by commas (each signs its own checkpoints) */
	uint8_t pk[AUDIT_PUBKEYS_MAX][32];
	struct audit_keyset pins = { pk, NULL, 0 };
	const char *pkhex = cli_opt(a, "--pubkey");
	for (const char *k = pkhex; k && *k;) {
		size_t n = strcspn(k, ",");
		if (n != 64 || pins.n == AUDIT_PUBKEYS_MAX ||
		    sodium_hex2bin(pk[pins.n], 32, k, 64, NULL, NULL, NULL)) {
			buf_addf(err, "--pubkey: expected 64 hex characters, or at most %d such keys separated by commas",
				 AUDIT_PUBKEYS_MAX);
			return OODA_EINVAL;
		}
		pins.n++;
		k += n + (k[n] == ',');
	}
	if (pkhex && !pins.n) {
		buf_adds(err, "--pubkey: expected 64 hex characters");
		return OODA_EINVAL;
	}
	int rc = verify_heads_read(a, &pins, &heads, err);
	if (!rc && cli_opt(a, "--data")) {
		struct store *s;
		rc = store_open(data_dir(a), STORE_READONLY, &s, err);
		if (!rc) {
			struct audit_verify_options opt = { .keys = &pins, .heads = heads.v, .n_heads = heads.n };
			rc = audit_verify(s, &opt, &r, err);
			store_close(s);
		}
	} else if (!rc) {
		struct buf out = BUF_INIT;
		bool json = a->json;
		a->json = false;
		json_t *body = json_pack("{s:O}", "heads", heads.list);
		char *text = json_dumps(body, JSON_COMPACT);
		json_decref(body);
		rc = cli_call(a, "POST", "/api/v1/audit/verify", text, NULL, &out, err);
		free(text);
		a->json = json;
		if (!rc) {
			json_t *j = json_loadb(out.data, out.len, 0, NULL);
			memset(&r, 0, sizeof(r));
			r.ok = json_is_true(json_object_get(j, "ok"));
			r.records = json_integer_value(json_object_get(j, "records"));
			r.checkpoints = json_integer_value(json_object_get(j, "checkpoints_verified"));
			r.heads_matched = json_integer_value(json_object_get(j, "heads_matched"));
			r.first_bad_seq = json_integer_value(json_object_get(j, "first_bad_seq"));
			json_t *head = json_object_get(j, "head");
			r.head_seq = json_integer_value(json_object_get(head, "seq"));
			const char *hh = json_string_value(json_object_get(head, "hash"));
			if (hh && strlen(hh) == 64)
				sodium_hex2bin(r.head_hash, 32, hh, 64, NULL, NULL, NULL);
			snprintf(r.reason, sizeof(r.reason), "%s", json_string_value(json_object_get(j, "reason")) ?: "");
			json_decref(j);
		}
		buf_release(&out);
	}
	free(heads.v);
	json_decref(heads.list);
	if (rc)
		return rc;
	char head[65];
	hex_encode(r.head_hash, 32, head);
	if (a->json)
		printf("{\"ok\":%s,\"records\":%lld,\"checkpoints_verified\":%lld,\"heads_matched\":%lld,"
		       "\"head\":{\"seq\":%lld,\"hash\":\"%s\"},\"first_bad_seq\":%lld}\n",
		       r.ok ? "true" : "false", (long long)r.records, (long long)r.checkpoints,
		       (long long)r.heads_matched, (long long)r.head_seq, head, (long long)r.first_bad_seq);
	if (r.ok) {
		if (!a->json) {
			printf("audit chain ok: %lld records, %lld signed checkpoints verified", (long long)r.records,
			       (long long)r.checkpoints);
			if (heads.n)
				printf(", %lld anchored heads matched", (long long)r.heads_matched);
			printf("; head %lld:%s\n", (long long)r.head_seq, head);
		}
		return 0;
	}
	buf_addf(err, "audit chain broken at seq %lld: %s", (long long)r.first_bad_seq, r.reason);
	return OODA_ECORRUPT;
}

static int cmd_audit_checkpoint(struct cli_args *a, struct buf *err)
{
	struct buf out = BUF_INIT;
	int rc = cli_call(a, "POST", "/api/v1/audit/checkpoint", "{}", NULL, &out, err);
	if (!rc && !a->json) {
		json_t *j = json_loadb(out.data, out.len, 0, NULL);
		printf("checkpoint written on %s; public key %s\n", cli_server(a),
		       json_string_value(json_object_get(j, "public_key")));
		json_decref(j);
	}
	buf_release(&out);
	return rc;
}

struct anchor_ctx {
	const struct audit_signer *sg;
	struct checkpoint_row cp;
};

static int anchor_tx(struct store *s, void *ctx, struct buf *err)
{
	struct anchor_ctx *c = ctx;
	return audit_anchor(s, c->sg, cli_actor(), &c->cp, err);
}

/* One JSON line: the signed head to keep outside this host (docs/operations.md). */
static int cmd_audit_anchor(struct cli_args *a, struct buf *err)
{
	json_t *anchor = NULL;
	int rc;
	if (cli_opt(a, "--data")) {
		struct store *s;
		struct audit_signer sg;
		rc = open_offline(a, false, &s, &sg, err);
		if (rc)
			return rc;
		struct anchor_ctx c = { &sg, { 0 } };
		rc = store_write(s, anchor_tx, &c, err);
		store_close(s);
		sodium_memzero(&sg, sizeof(sg));
		if (!rc)
			anchor = audit_anchor_json(&c.cp);
	} else {
		struct buf out = BUF_INIT;
		bool json = a->json;
		a->json = false;
		rc = cli_call(a, "POST", "/api/v1/audit/checkpoint", "{}", NULL, &out, err);
		a->json = json;
		if (!rc) {
			json_t *j = json_loadb(out.data, out.len, 0, NULL);
			anchor = json_incref(json_object_get(j, "anchor"));
			json_decref(j);
			if (!anchor) {
				buf_adds(err, "the daemon's answer holds no anchor (an older ooda?)");
				rc = OODA_EINTERNAL;
			}
		}
		buf_release(&out);
	}
	if (anchor) {
		char *line = json_dumps(anchor, JSON_COMPACT);
		printf("%s\n", line);
		free(line);
		json_decref(anchor);
	}
	return rc;
}

static int cmd_audit_pubkey(struct cli_args *a, struct buf *err)
{
	struct audit_signer sg;
	char key[4096];
	snprintf(key, sizeof(key), "%s/audit-ed25519.key", data_dir(a));
	if (access(key, F_OK)) { /* audit_signer_load would make a new key: a stray one, never the daemon's */
		buf_addf(err, "no audit key at %s; name the daemon's data dir with --data DIR", key);
		return OODA_ENOTFOUND;
	}
	int rc = audit_signer_load(&sg, data_dir(a), 0, err);
	if (rc)
		return rc;
	char hex[65];
	hex_encode(sg.pk, 32, hex);
	if (a->json)
		printf("{\"public_key\":\"%s\"}\n", hex);
	else
		printf("%s\n", hex);
	sodium_memzero(&sg, sizeof(sg));
	return 0;
}

/* ---- backup -------------------------------------------------------------- */

static int cmd_backup(struct cli_args *a, struct buf *err)
{
	if (a->n_pos != 1) {
		buf_adds(err, "usage: ooda backup DEST_DIR [--data DIR] [--no-telemetry]");
		return OODA_EINVAL;
	}
	const char *dest = a->pos[0];
	struct store *s;
	int rc = store_open(data_dir(a), STORE_READONLY, &s, err); /* read-only: never creates a store */
	if (rc)
		return rc;
	bool made = !mkdir(dest, 0700);
	if (!made && errno != EEXIST) {
		store_close(s);
		buf_addf(err, "cannot create %s: %s", dest, strerror(errno));
		return OODA_EIO;
	}
	char path[4096];
	snprintf(path, sizeof(path), "%s/control.db", dest);
	rc = store_backup(s, path, err);
	store_close(s);
	if (rc && made) /* a refused backup (a PostgreSQL control store) leaves no empty directory behind */
		rmdir(dest);
	if (!rc) {
		char src[4096], dst[4096];
		snprintf(src, sizeof(src), "%s/audit-ed25519.key", data_dir(a));
		snprintf(dst, sizeof(dst), "%s/audit-ed25519.key", dest);
		FILE *in = fopen(src, "rb");
		if (in) {
			int fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0600);
			char k[64];
			size_t n = fread(k, 1, sizeof(k), in);
			if (fd < 0 || write(fd, k, n) != (ssize_t)n)
				rc = OODA_EIO;
			if (fd >= 0)
				close(fd);
			fclose(in);
			sodium_memzero(k, sizeof(k));
		}
		if (!a->json)
			printf("backed up %s to %s: control.db and the audit key\n", data_dir(a), dest);
	}
	json_t *telemetry = json_null(); /* bytes copied; null when skipped or absent */
	if (!rc && !cli_flag(a, "--no-telemetry")) {
		snprintf(path, sizeof(path), "%s/telemetry.db", dest);
		int64_t bytes = 0;
		int trc = tstore_backup(data_dir(a), path, &bytes, err);
		if (trc == OODA_ENOTFOUND) {
			if (!a->json)
				printf("no telemetry.db in %s: nothing more to copy\n", data_dir(a));
			buf_reset(err);
		} else if (trc) {
			rc = trc;
		} else if (!a->json) {
			printf("backed up telemetry.db (%.1f MB)\n", (double)bytes / 1e6);
		} else {
			json_decref(telemetry);
			telemetry = json_integer(bytes);
		}
	}
	if (!rc && a->json) {
		json_t *j = json_pack("{s:s, s:s, s:[s,s], s:o}", "data", data_dir(a), "dest", dest, "copied", "control.db",
				      "audit-ed25519.key", "telemetry_bytes", json_incref(telemetry));
		char *t = json_dumps(j, JSON_COMPACT);
		printf("%s\n", t);
		free(t);
		json_decref(j);
	}
	json_decref(telemetry);
	return rc;
}

/* ---- docs and help ----------------------------------------------------- */

static int cmd_help(struct cli_args *a, struct buf *err)
{
	if (a->n_pos > 2) {
		buf_adds(err, "usage: ooda help [COMMAND [SUBCOMMAND]]");
		return OODA_EINVAL;
	}
	struct buf out = BUF_INIT;
	int rc = cli_help(a->n_pos ? a->pos[0] : NULL, a->n_pos > 1 ? a->pos[1] : NULL, &out, err);
	if (!rc)
		fputs(out.data, stdout);
	buf_release(&out);
	return rc;
}

static int cmd_completion(struct cli_args *a, struct buf *err)
{
	struct buf out = BUF_INIT;
	int rc = a->n_pos == 1 ? cli_completion(a->pos[0], &out, err) : cli_completion(NULL, &out, err);
	if (!rc)
		fputs(out.data, stdout);
	buf_release(&out);
	return rc;
}

/*
 * --json for the offline analyzers, whose engines write text lines: the
 * lines are collected in memory and printed as one JSON array of objects,
 * line split at sep into the fields named by keys (numeric fields as
 * numbers). Output before an error is dropped, so stdout is JSON or empty.
 */
struct lines_json {
	char sep;
	int skip;                 /* header lines */
	const char *const *keys;
	const bool *numeric;
	int nkeys;
};

static void print_lines_json(const char *text, size_t len, const struct lines_json *f)
{
	json_t *arr = json_array();
	const char *p = text, *end = text + len;
	for (int line = 0; p < end; line++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		if (line >= f->skip && le > p) {
			json_t *o = json_object();
			const char *q = p;
			for (int k = 0; k < f->nkeys; k++) {
				const char *fe = k == f->nkeys - 1 ? le : memchr(q, f->sep, (size_t)(le - q));
				if (!fe)
					fe = le;
				json_t *v = json_stringn(q, (size_t)(fe - q));
				if (f->numeric[k]) {
					char *num_end;
					double d = strtod(json_string_value(v), &num_end);
					if (*num_end == '\0' && num_end != json_string_value(v)) {
						json_decref(v);
						v = json_real(d);
					}
				}
				json_object_set_new(o, f->keys[k], v);
				q = fe < le ? fe + 1 : le;
			}
			json_array_append_new(arr, o);
		}
		p = nl ? nl + 1 : end;
	}
	char *t = json_dumps(arr, JSON_COMPACT);
	printf("%s\n", t);
	free(t);
	json_decref(arr);
}

typedef int (*analyze_fn)(FILE *in, FILE *out, struct buf *err);

static int analyze_patterns_fn(FILE *in, FILE *out, struct buf *err)
{
	return patterns_analyze_file(in, out, NULL, err);
}

static int analyze_anomalies_fn(FILE *in, FILE *out, struct buf *err)
{
	return anomaly_analyze_csv(in, out, NULL, err);
}

/* Runs fn from FILE (- for stdin) to stdout, or through print_lines_json with --json. */
static int analyze_run(struct cli_args *a, analyze_fn fn, const struct lines_json *f, struct buf *err)
{
	bool use_stdin = !strcmp(a->pos[0], "-");
	FILE *in = use_stdin ? stdin : fopen(a->pos[0], "r");
	if (!in) {
		buf_addf(err, "cannot open %s: %s", a->pos[0], strerror(errno));
		return OODA_EIO;
	}
	int rc;
	if (!a->json) {
		rc = fn(in, stdout, err);
	} else {
		char *text = NULL;
		size_t len = 0;
		FILE *mem = open_memstream(&text, &len);
		rc = mem ? fn(in, mem, err) : OODA_ENOMEM;
		if (mem)
			fclose(mem);
		if (!rc)
			print_lines_json(text, len, f);
		free(text);
	}
	if (!use_stdin)
		fclose(in);
	return rc;
}

/* ooda analyze patterns FILE: the offline door of the log template miner. */
static int cmd_analyze_patterns(struct cli_args *a, struct buf *err)
{
	if (a->n_pos != 1) {
		buf_adds(err, "usage: ooda analyze patterns FILE (- for standard input)");
		return OODA_EINVAL;
	}
	static const char *const keys[] = { "pattern_id", "template" };
	static const bool numeric[] = { false, false };
	struct lines_json f = { '\t', 0, keys, numeric, 2 };
	return analyze_run(a, analyze_patterns_fn, &f, err);
}

static int cmd_docs(struct cli_args *a, struct buf *err)
{
	struct buf out = BUF_INIT;
	const char *what = a->n_pos ? a->pos[0] : "";
	if (!strcmp(what, "config")) {
		config_docs_markdown(&out);
	} else if (!strcmp(what, "api")) {
		static const char *const roles[] = { "open", "ingest", "viewer", "responder", "approver", "admin" };
		buf_adds(&out, "# HTTP API\n\nGenerated by `ooda docs api` from the route table in `src/api/routes.c`;\n"
			       "a test fails when this file and the table disagree.\n\n"
			       "Errors are `application/problem+json` (`type`, `title`, `status`, `detail`,\n"
			       "`instance`, `request_id`). Send `Authorization: Bearer TOKEN` once any token exists;\n"
			       "with no tokens the API is open, and only loopback addresses may be bound.\n"
			       "Every response carries `X-Request-Id` (the trace id of an incoming `traceparent`,\n"
			       "or a fresh random id).\n\n"
			       "With several nodes (docs/scale.md), a route marked *leader* is answered by the\n"
			       "leader's engine: a follower forwards it to the leader and returns the leader's\n"
			       "answer (503 with `Retry-After: 1` while no leader is known).\n\n"
			       "| method | path | least role | description |\n|---|---|---|---|\n");
		for (const struct route *r = api_routes_get(); r->method; r++)
			buf_addf(&out, "| %s | `%s` | %s | %s%s |\n", r->method, r->pattern,
				 (r->flags & ROUTE_OPEN) ? "open" : roles[r->min_role],
				 (r->flags & ROUTE_LEADER) ? "*leader* " : "", r->summary);
	} else if (!strcmp(what, "cli")) {
		int rc = cli_docs_markdown(&out, err);
		if (rc) {
			buf_release(&out);
			return rc;
		}
	} else {
		buf_adds(err, "usage: ooda docs api|config|cli");
		return OODA_EINVAL;
	}
	fputs(out.data, stdout);
	buf_release(&out);
	return 0;
}

/* ---- the table ----------------------------------------------------------- */


/* ooda analyze anomalies FILE.csv: the offline door of the anomaly engine (NAB format). */
static int cmd_analyze_anomalies(struct cli_args *a, struct buf *err)
{
	if (a->n_pos != 1) {
		buf_adds(err, "usage: ooda analyze anomalies FILE.csv (timestamp,value; - for standard input)");
		return OODA_EINVAL;
	}
	static const char *const keys[] = { "timestamp", "value", "anomaly_score" };
	static const bool numeric[] = { false, true, true };
	struct lines_json f = { ',', 1, keys, numeric, 3 };
	return analyze_run(a, analyze_anomalies_fn, &f, err);
}

/*
 * The command table. A row is
 *   { NAME, SUB or NULL, FUNCTION, "OPTIONS", "POSITIONALS", "SUMMARY", "STAGE" },
 * OPTIONS a comma list ("--env=,--all": '=' takes a value); STAGE is the help
 * group: "observe", "orient", "decide", "act", "learn" or "admin". A row of
 * the older six-field shape takes its stage by appending it as a seventh
 * field. Every option needs a line in option_docs below; `ooda docs cli`
 * (and so the docs test) names any command without a stage or option
 * without a description.
 */
static const struct cli_command commands[] = {
	{ "serve", NULL, cmd_serve, "--config=,--listen=,--data=,--recreate-telemetry", "", "Run the daemon (HTTP API, ingest, engine).", "admin" },
	{ "version", NULL, cmd_version, "", "", "Print the version.", "admin" },
	{ "help", NULL, cmd_help, "", "[COMMAND [SUB]]", "Show the commands by stage, or one command's usage and options.", "admin" },
	{ "completion", NULL, cmd_completion, "", "bash|zsh|fish",
	  "Print a shell completion script generated from this table: source <(ooda completion bash).", "admin" },
	{ "status", NULL, cmd_status, "", "", "Show the server and token in use and where each came from, then the daemon's version, data dir and who you are to it.", "admin" },
	{ "cluster", "status", cmd_cluster_status, "", "",
	  "The ooda nodes sharing this control store: which one leads, its term, each node's address and last heartbeat.", "admin" },
	{ "reload", NULL, cmd_reload, "", "", "Make the daemon re-read ooda.yaml (same as SIGHUP).", "admin" },
	{ "config", "check", cmd_config_check, "", "FILE", "Validate an ooda.yaml; errors give file:line:column and the key path.", "admin" },
	{ "login", NULL, cmd_login, "--token-file=", "",
	  "Check a token (from --token-file, mode 0600, or standard input) against the server and save both as the CLI's context.", "admin" },
	{ "logout", NULL, cmd_logout, "", "", "Remove the CLI's context (and the token file login wrote).", "admin" },
	{ "token", "create", cmd_token_create, "--role=,--name=,--env=,--rationale=,--data=,--init", "",
	  "Create an API token through the daemon, or offline in an existing data dir with --data (--init: a new store); prints the secret alone on stdout, once.", "admin" },
	{ "token", "list", cmd_token_list, "--data=", "", "List tokens from the daemon (offline from an existing data dir with --data).", "admin" },
	{ "token", "revoke", cmd_token_revoke, "--rationale=,--data=", "ID|NAME", "Revoke a token through the daemon (offline in an existing data dir with --data).", "admin" },
	{ "audit", "log", cmd_audit_log, "--actor=,--action=,--target=,--since=,--limit=,--data=", "",
	  "Show audit records, newest first (from the daemon, or the data dir with --data).", "admin" },
	{ "audit", "verify", cmd_audit_verify, "--data=,--pubkey=,--head=,--checkpoint=", "",
	  "Recompute the audit hash chain and checkpoint signatures, and find each anchored head (--head SEQ:HASH, --checkpoint FILE of anchor lines) on it; exits 1 naming the first broken record.", "admin" },
	{ "audit", "checkpoint", cmd_audit_checkpoint, "", "", "Write a signed checkpoint of the audit chain head.", "admin" },
	{ "audit", "anchor", cmd_audit_anchor, "--data=", "",
	  "Sign the audit chain head and print it as one JSON line (seq, hash, time, signature, public_key) to keep outside this host.", "admin" },
	{ "audit", "pubkey", cmd_audit_pubkey, "--data=", "", "Print the audit signing public key (pin it with verify --pubkey).", "admin" },
	{ "logs", "search", cmd_logs_search, "--since=,--from=,--to=,--limit=,--cursor=", "'QUERY'",
	  "Search logs, newest first (grammar in docs/query.md); --since 15m by default.", "observe" },
	{ "logs", "tail", cmd_logs_tail, "--since=,--once", "['QUERY']", "Follow new logs matching QUERY as they arrive.", "observe" },
	{ "logs", "patterns", cmd_logs_patterns, "--service=,--since=,--severity=,--limit=", "",
	  "Log error classes: templates per service with their counts, busiest first.", "observe" },
	{ "trace", "show", cmd_trace_show, "", "TRACE_ID", "Show a trace as a text waterfall, with its logs.", "observe" },
	{ "traces", NULL, cmd_traces, "--service=,--op=,--min-duration=,--errors,--since=,--limit=", "",
	  "Find traces (exemplars) by service, operation, duration and status.", "observe" },
	{ "query", NULL, cmd_query, "--time=,--since=,--step=", "'PROMQL'",
	  "Evaluate PromQL: an instant query, or a range over --since with --step.", "observe" },
	{ "events", NULL, cmd_events, "--service=,--kind=,--since=,--limit=", "", "List change events (deploys, config, flags…), newest first.", "observe" },
	{ "services", "list", cmd_services_list, "--window=", "",
	  "The service catalogue: every service with tier, owner, health, request rate, error ratio, p90 and open incidents.", "observe" },
	{ "services", "show", cmd_services_show, "--window=", "NAME",
	  "One service: owner, tier, runbook, live RED, declared and traced dependencies, probes, alerts, SLOs, incidents, deploy, on call, health.", "observe" },
	{ "flags", "list", cmd_flags_list, "--env=", "", "List the flags of an environment (default `default`).", "act" },
	{ "flags", "get", cmd_flags_get, "--env=,--version=", "KEY", "Show a flag's definition (an old one with --version vN).", "act" },
	{ "flags", "set", cmd_flags_set, "--env=,--rationale=,--if-version=", "KEY FILE|-", "Create or change a flag from a flagd flag definition (JSON).", "act" },
	{ "flags", "history", cmd_flags_history, "--env=", "KEY", "Every version of a flag: who, when, why.", "act" },
	{ "flags", "diff", cmd_flags_diff, "--env=", "KEY vA vB", "Line diff between two versions of a flag.", "act" },
	{ "flags", "rollback", cmd_flags_rollback, "--env=,--to=,--rationale=", "KEY", "Make an old version of a flag current again.", "act" },
	{ "flags", "import", cmd_flags_import, "--env=,--replace,--lenient,--rationale=", "FILE.json", "Import a flagd flag-definition file into an environment.", "act" },
	{ "flags", "export", cmd_flags_export, "--env=", "", "Print an environment as one flagd flag-definition document.", "act" },
	{ "flags", "kill", cmd_flags_kill, "--env=,--service=,--since=,--rationale=", "[KEY]", "Kill switch: disable a flag, or every flag of --service changed within --since.", "act" },
	{ "config", "put", cmd_config_put, "--rationale=,--if-version=", "SERVICE/ENV FILE", "Store a new version of a config set (JSON, or YAML by file extension).", "act" },
	{ "config", "get", cmd_config_get, "--version=", "SERVICE/ENV", "Print a config set as stored.", "act" },
	{ "config", "history", cmd_config_history, "", "SERVICE/ENV", "Every version of a config set.", "act" },
	{ "config", "diff", cmd_config_diff, "", "SERVICE/ENV vA vB", "Line diff between two versions of a config set.", "act" },
	{ "config", "rollback", cmd_config_rollback, "--to=,--rationale=", "SERVICE/ENV", "Make an old config version current again.", "act" },
	{ "deploy", "record", cmd_deploy_record, "--service=,--version=,--env=,--artifact=,--config-version=,--migrations=,--actor=,--note=", "",
	  "Record a deploy; captures the flag snapshot and config version.", "act" },
	{ "deploy", "list", cmd_deploy_list, "--service=,--limit=", "", "Deploys, newest first.", "act" },
	{ "deploy", "show", cmd_deploy_show, "", "DEPLOY_ID", "One deploy with its snapshot and last verification.", "act" },
	{ "deploy", "verify", cmd_deploy_verify, "", "DEPLOY_ID", "Canary analysis: pass (exit 0), fail (exit 1) or inconclusive (exit 3: too little data), with the numbers.", "decide" },
	{ "rollback", "plan", cmd_rollback_plan, "--allow-irreversible", "DEPLOY_ID", "Print the inverse plan of a deploy; exits 1 when it is blocked.", "decide" },
	{ "rollback", "run", cmd_rollback_run, "--rationale=,--allow-irreversible,--wait", "DEPLOY_ID", "Run the rollback as a durable, resumable run (or file an approval request).", "act" },
	{ "rollback", "status", cmd_rollback_status, "--wait", "RUN_ID", "Show a rollback run's steps and status.", "act" },
	{ "rollout", "start", cmd_rollout_start, "--flag=,--variant=,--service=,--version=,--deploy=,--env=,--steps=,--hold=,--approve-at=,--rationale=", "[PLAN.json|-]",
	  "Start a progressive rollout: each step held, judged by canary analysis, promoted on pass, aborted and rolled back on fail (docs/rollouts.md).", "act" },
	{ "rollout", "status", cmd_rollout_status, "", "ROLLOUT_ID", "A rollout's steps, where it is, and every decision with its reason.", "act" },
	{ "rollout", "list", cmd_rollout_list, "--status=,--limit=", "", "Rollouts, newest first.", "act" },
	{ "rollout", "promote", cmd_rollout_promote, "--rationale=", "ROLLOUT_ID", "End the current step's hold now and start the next.", "act" },
	{ "rollout", "abort", cmd_rollout_abort, "--rationale=", "ROLLOUT_ID", "Abort and roll back: the flag to its version before, a deploy through its rollback plan.", "act" },
	{ "migration", "register", cmd_migration_register, "--service=,--id=,--up=,--down=,--irreversible", "", "Register a migration and its down reference.", "act" },
	{ "approvals", "list", cmd_approvals_list, "--status=", "", "Approval requests (pending by default).", "decide" },
	{ "approvals", "approve", cmd_approvals_approve, "--rationale=", "ID", "Approve a request (never your own); the action then runs.", "decide" },
	{ "approvals", "reject", cmd_approvals_reject, "--rationale=", "ID", "Reject a request.", "decide" },
	{ "analyze", "anomalies", cmd_analyze_anomalies, "", "FILE.csv",
	  "Score a NAB-format series (timestamp,value) offline: prints timestamp,value,anomaly_score.", "orient" },
	{ "telemetry", "check", cmd_telemetry_check, "--data=", "",
	  "Decode every telemetry block of a data dir (offline); list the damaged ones and exit 1 if any.", "admin" },
	{ "telemetry", "repair", cmd_telemetry_repair, "--data=,--yes,--rationale=", "",
	  "Drop the damaged telemetry blocks (audited); without --yes only print what it would drop.", "admin" },
	{ "export", NULL, cmd_export, "--data=,--from=,--to=,--service=,--output=", "",
	  "Write a time window of a data dir's logs, spans, metrics, change events and alerts to a checksummed window file (offline; stdout unless --output).", "learn" },
	{ "import", NULL, cmd_import, "--data=,--rationale=", "FILE",
	  "Load a window file into a new data dir (checked whole first; nothing is written if it is refused).", "learn" },
	{ "migrate", NULL, cmd_migrate, "--data=,--to=,--config=,--rationale=", "",
	  "Move an embedded data dir into PostgreSQL and ClickHouse (--to postgres,clickhouse), or them into a new data dir (--to sqlite), offline; then check counts and the audit chain.", "admin" },
	{ "backup", NULL, cmd_backup, "--data=,--no-telemetry", "DEST_DIR",
	  "Online backup (SQLite backup API) of the control database, the audit key and telemetry.db (unless --no-telemetry).", "admin" },
	{ "analyze", "rca", cmd_analyze_rca, "--metrics=,--normal=,--graph=,--changes=,--at=,--target=,--scale-floor=,--resolution=", "",
	  "Rank root-cause suspects offline from long-format CSVs (timestamp,node,metric,value; graph caller,callee; changes timestamp,node,kind,ref): rank, node, score, confidence, evidence; --json: [{node,score,confidence,evidence}], best first. --scale-floor and --resolution override the engine's two scale floors (for cross-validation).", "orient" },
	{ "analyze", "patterns", cmd_analyze_patterns, "", "FILE",
	  "Give each log line a pattern id: prints pattern_id<TAB>template per input line (- reads stdin).", "orient" },
	{ "docs", NULL, cmd_docs, "", "api|config|cli", "Print generated reference docs (docs/api.md, config.md, cli.md).", "admin" },
	{ "alerts", "list", cmd_alerts_list, "--state=", "", "Alerts by state: firing (default), pending, resolved, inactive or all.", "orient" },
	{ "alerts", "show", cmd_alerts_show, "", "FINGERPRINT", "One alert with every transition and the evidence behind it.", "orient" },
	{ "alerts", "groups", cmd_alerts_groups, "--all", "", "Alert groups: related services firing together.", "orient" },
	{ "alerts", "silence", cmd_alerts_silence, "--name=,--service=,--label=,--for=,--reason=", "[MATCHER...]",
	  "Silence matching alerts for a while; matchers as amtool takes them (alertname=~'High.*', env!=dev), as arguments or --label; recorded with you as creator.", "decide" },
	{ "alerts", "silences", cmd_alerts_silences, "--all", "", "Active silences (--all: expired and ended ones too).", "decide" },
	{ "alerts", "unsilence", cmd_alerts_unsilence, "", "ID", "End a silence now.", "decide" },
	{ "notifications", "list", cmd_notifications_list, "--incident=,--alert=,--status=,--limit=", "",
	  "The notification outbox: delivery status per message (pending, delivered, failed), newest first.", "orient" },
	{ "notifications", "test", cmd_notifications_test, "", "TARGET", "Send a test message to one notify target (admin).", "admin" },
	{ "probes", "list", cmd_probes_list, "", "", "Probes of every service: state, failures in the hysteresis window, last latency and error.", "observe" },
	{ "targets", NULL, cmd_targets, "--job=", "", "Prometheus targets ooda scrapes (scrape_configs): job, URL, health, last scrape, duration and error.", "observe" },
	{ "heartbeats", "list", cmd_heartbeats_list, "", "", "Heartbeats: up, late, failed or never seen; last ping and next due.", "observe" },
	{ "heartbeat", NULL, cmd_heartbeat, "", "NAME -- COMMAND [ARGS...]",
	  "Run COMMAND (no shell) as the job of heartbeat NAME: pings start, then success or failure with exit code and duration; exits with COMMAND's code.", "observe" },
	{ "slo", "list", cmd_slo_list, "", "", "SLOs: objective, SLI, error budget left, burn rates and alert state.", "orient" },
	{ "slo", "show", cmd_slo_show, "", "NAME", "One SLO: budget, burn rate per window, alert rules, and a burn-down sparkline.", "orient" },
	{ "oncall", "who", cmd_oncall_who, "--at=,--schedule=,--team=", "",
	  "Who is on call now (or --at TIME) for every schedule, one --schedule or a --team: primary, backups, override.", "orient" },
	{ "oncall", "shifts", cmd_oncall_shifts, "--from=,--to=", "SCHEDULE", "The shifts of a schedule from --from (default now) to --to (default a week later).", "orient" },
	{ "oncall", "override", cmd_oncall_override, "--schedule=,--user=,--from=,--to=,--reason=,--all", "add|list|rm [ID]",
	  "Overrides: add --schedule S --user U [--from T] --to T --reason WHY; list [--schedule S] [--all]; rm ID.", "decide" },
	{ "recipes", "list", cmd_recipes_list, "", "", "The remediation recipe catalogue: name, variants (sim, systemd, kubernetes), what it does.", "act" },
	{ "recipes", "show", cmd_recipes_show, "", "NAME", "One recipe: its params and the exact steps (argv or URL) of each variant.", "act" },
	{ "runs", "list", cmd_runs_list, "--incident=,--policy=,--status=,--limit=,--before=,--after=", "", "Remediation runs, newest first, a page at a time: policy, status, incident, the reason of a refusal or failure; the next older page is `--before` the id it prints.", "act" },
	{ "runs", "show", cmd_runs_show, "", "RUN_ID", "One run: why it started, each step (argv or URL, status, exit, time), undo, the expect check.", "act" },
	{ "runs", "approve", cmd_runs_approve, "--rationale=", "RUN_ID", "Approve a run awaiting approval (never one of a policy you applied); it then acts.", "decide" },
	{ "runs", "reject", cmd_runs_reject, "--rationale=", "RUN_ID", "Reject a run awaiting approval.", "decide" },
	{ "runs", "cancel", cmd_runs_cancel, "--rationale=", "RUN_ID", "Cancel a run that has not acted yet.", "decide" },
	{ "policy", "list", cmd_policy_list, "", "", "Remediation policies: version, mode, author, circuit breaker.", "act" },
	{ "policy", "show", cmd_policy_show, "", "NAME", "One policy: document, guardrails and the history of its versions.", "act" },
	{ "policy", "apply", cmd_policy_apply, "--rationale=", "FILE", "Apply a policy from a YAML or JSON file (- for stdin) as its next version.", "act" },
	{ "policy", "history", cmd_policy_history, "", "NAME", "Every version of a policy: when, by whom, why.", "act" },
	{ "policy", "diff", cmd_policy_diff, "", "NAME [vA vB]", "Line diff between two versions of a policy (default: the latest against the one before).", "act" },
	{ "policy", "rollback", cmd_policy_rollback, "--to=,--rationale=", "NAME", "Apply an earlier version of a policy again, as its next version.", "act" },
	{ "runbook", "list", cmd_runbook_list, "--service=,--template=", "", "Runbooks: name, version, steps, services, title.", "act" },
	{ "runbook", "show", cmd_runbook_show, "", "NAME", "One runbook: its version, author and Markdown.", "act" },
	{ "runbook", "apply", cmd_runbook_apply, "--rationale=", "FILE.md", "Apply a runbook from a Markdown file (- for stdin) as its next version; every automated step is checked first.", "act" },
	{ "runbook", "history", cmd_runbook_history, "", "NAME", "Every version of a runbook: when, by whom, why.", "act" },
	{ "runbook", "diff", cmd_runbook_diff, "", "NAME [vA vB]", "Line diff of the Markdown of two versions (default: the latest against the one before).", "act" },
	{ "runbook", "rollback", cmd_runbook_rollback, "--to=,--rationale=", "NAME", "Apply an earlier version of a runbook again, as its next version.", "act" },
	{ "runbook", "check", cmd_runbook_check, "", "NAME|FILE.md", "Dry-run every automated step: the exact argv or URL each would run; an unknown recipe or param is refused by name.", "act" },
	{ "runbook", "run", cmd_runbook_run, "--incident=,--rationale=", "[NAME]", "Walk a runbook on an incident (default: the one the incident names, from services[].runbook or its template): automated steps run as remediation runs, manual ones wait for `runbook step`.", "act" },
	{ "runbook", "status", cmd_runbook_status, "", "RUN", "One runbook walk: each step, who did it, the run of each automated step.", "act" },
	{ "runbook", "step", cmd_runbook_step, "--done,--note=", "RUN N", "Mark manual step N of a walk done, by you; the automated steps after it then start.", "act" },
	{ "automation", "pause", cmd_automation_pause, "--reason=", "", "Pause every remediation decision (runs are refused and escalated) until resumed.", "decide" },
	{ "automation", "resume", cmd_automation_resume, "", "", "Resume remediation.", "decide" },
	{ "automation", "status", cmd_automation_status, "", "", "Whether remediation is paused, by whom and why; active runs.", "decide" },
	{ "actions", "list", cmd_actions_list, "--overdue,--owner=,--status=", "[INCIDENT]",
	  "Action items across incidents (or of INCIDENT) by due date; --overdue: open and past due.", "learn" },
	{ "actions", "add", cmd_actions_add, "--title=,--owner=,--due=,--rationale=", "INCIDENT",
	  "Add an action item to an incident: --title, --owner, --due YYYY-MM-DD; prints its key (INC-7/A1).", "learn" },
	{ "actions", "done", cmd_actions_done, "--rationale=", "KEY", "Mark action item KEY (INC-7/A1) done.", "learn" },
	{ "drill", "run", cmd_drill_run, "--scenario=,--fast,--keep,--ooda-sim=,--attach,--sim=", "",
	  "Fault drills on a dedicated ooda and ooda-sim (or --attach to running ones, --sim URL): inject each fault, score detection (MTTD), first notification, incident, top-1/top-3 suspect and false incidents; --keep leaves its directory for a look.", "learn" },
	{ "incident", "list", cmd_incident_list, "--status=,--service=,--severity=", "", "Incidents newest first: id, severity, status, service, commander, title (--status=open for the unresolved).", "orient" },
	{ "incident", "show", cmd_incident_show, "", "ID", "One incident: title, services, team, commander, runbook, times, then its triage summary (impact, changes, suspects); --json adds \"summary\".", "orient" },
	{ "incident", "postmortem", cmd_incident_postmortem, "--output=", "ID", "The postmortem draft as Markdown, to stdout or --output FILE.", "learn" },
	{ "incident", "open", cmd_incident_open, "--service=,--severity=,--summary=", "TITLE", "Open an incident by hand (severity defaults to incidents.default_severity).", "decide" },
	{ "incident", "ack", cmd_incident_ack, "--note=", "ID", "Acknowledge an incident.", "decide" },
	{ "incident", "mitigate", cmd_incident_mitigate, "--note=", "ID", "Mark an incident mitigated.", "act" },
	{ "incident", "resolve", cmd_incident_resolve, "--note=,--false-positive", "ID", "Resolve an incident (--false-positive: it was no real problem; runs on it count as false activations).", "act" },
	{ "incident", "timeline", cmd_incident_timeline, "--kind=", "ID", "The incident's timeline, oldest first (--kind= one kind).", "orient" },
	{ "incident", "note", cmd_incident_note, "", "ID MARKDOWN", "Annotate an incident.", "decide" },
	{ "incident", "hypothesis", cmd_incident_hypothesis, "--confidence=,--state=,--note=", "ID STATEMENT|HID",
	  "Add a hypothesis (--confidence 0-1), or decide one: ID HID --state=confirmed|rejected.", "decide" },
	{ "incident", "artifact", cmd_incident_artifact, "--type=", "ID FILE", "Attach a file; stored with its SHA-256, checked on download.", "decide" },
	{ "incident", "status", cmd_incident_status, "", "ID STATE MESSAGE", "Post a public status update (investigating, identified, monitoring, resolved).", "act" },
	{ NULL, NULL, NULL, NULL, NULL, NULL, NULL },
};

/*
 * One line per option, for help, docs/cli.md and completion (see struct
 * cli_option_doc): { OPTION, COMMAND, "TEXT", "METAVAR" or nothing }.
 * COMMAND NULL describes the option for every command that takes it,
 * "flags" for every flags subcommand, "token create" for that command
 * alone; the most specific wins. METAVAR is the value's placeholder in usage
 * lines (default: the name in capitals). Every option of the table above
 * needs a line here: `ooda docs cli` refuses to run without one, and the
 * docs test fails. Sorted by option, then command.
 */
static const struct cli_option_doc option_docs[] = {
	{ "--action", NULL, "only records of this action (token.create, flag.set, …)" },
	{ "--actor", NULL, "only records by this actor (cli:alice, token:ci, …)" },
	{ "--actor", "deploy record", "who deployed, when not you (a CI job, a release tool)" },
	{ "--alert", NULL, "only messages about this alert fingerprint" },
	{ "--all", "alerts groups", "include groups with no firing member" },
	{ "--all", "alerts silences", "include expired and ended silences" },
	{ "--all", "oncall override", "list: include past overrides" },
	{ "--allow-irreversible", NULL, "go ahead although a step (an irreversible migration) cannot be undone" },
	{ "--approve-at", NULL, "steps (from 1) that wait for another person's approval before they start", "N,…" },
	{ "--deploy", NULL, "roll out this deploy (its service and version are analysed)", "DEPLOY_ID" },
	{ "--flag", NULL, "the fractional flag that splits the traffic", "KEY" },
	{ "--hold", NULL, "how long each step is held before its analysis (default 5m)", "DURATION" },
	{ "--steps", NULL, "the new side's share of traffic at each step", "5,25,50,100" },
	{ "--variant", NULL, "the flag variant the rollout gives traffic to", "NAME" },
	{ "--service", "runbook list", "only runbooks attached to this service" },
	{ "--service", "rollout start", "whose requests the canary analysis compares" },
	{ "--version", "rollout start", "the service.version of the new side's requests (default: the deploy's, else the feature_flag.variant attribute)" },
	{ "--status", "rollout list", "running, awaiting-approval, succeeded or aborted" },
	{ "--env", "rollout start", "the flag's environment (default `default`; a deploy's own otherwise)" },
	{ "--after", "runs list", "the page of runs newer than this run (the id a previous page printed)", "RUN_ID" },
	{ "--before", "runs list", "the page of runs older than this run (the id a previous page printed)", "RUN_ID" },
	{ "--artifact", NULL, "the artifact deployed (image reference, package URL)" },
	{ "--at", "analyze rca", "the onset, as Unix seconds (default: detected from the series)", "UNIX_SECONDS" },
	{ "--at", "oncall who", "the time to ask about (RFC 3339, default now)", "TIME" },
	{ "--attach", NULL, "drill the ooda (--server, token) and ooda-sim (--sim) already running" },
	{ "--changes", NULL, "CSV of changes: timestamp,node,kind,ref", "FILE.csv" },
	{ "--checkpoint", NULL, "a file of anchor lines (from `audit anchor`); each must be found on the chain", "FILE" },
	{ "--confidence", NULL, "how sure you are, 0 to 1", "0..1" },
	{ "--config", NULL, "the ooda.yaml to run with (default: built-in defaults)", "FILE" },
	{ "--config-version", NULL, "the config set version deployed with it (vN)", "vN" },
	{ "--cursor", NULL, "continue after the last page (the cursor a previous search printed)" },
	{ "--data", NULL, "the daemon's data dir, worked on offline (it must already hold a store)", "DIR" },
	{ "--data", "serve", "the data dir (default ./ooda-data)", "DIR" },
	{ "--data", "export", "the data dir to read (default ./ooda-data)", "DIR" },
	{ "--data", "import", "the new data dir to create and fill", "DIR" },
	{ "--data", "migrate", "the embedded data dir to move out of (--to postgres,clickhouse), or the new one to fill (--to sqlite)", "DIR" },
	{ "--to", "migrate", "where to: postgres, clickhouse, both (comma-separated, from --config's storage keys) or sqlite", "TARGETS" },
	{ "--config", "migrate", "the ooda.yaml whose storage.control and storage.telemetry keys name PostgreSQL and ClickHouse", "FILE" },
	{ "--data", "backup", "the data dir to back up (default ./ooda-data)", "DIR" },
	{ "--data", "telemetry", "the data dir to check (default ./ooda-data)", "DIR" },
	{ "--done", "runbook step", "mark the manual step done, by you" },
	{ "--down", NULL, "the migration that undoes it" },
	{ "--due", NULL, "due date, YYYY-MM-DD", "YYYY-MM-DD" },
	{ "--env", NULL, "the environment (default `default`)" },
	{ "--env", "token create", "restrict the token to one environment" },
	{ "--env", "deploy record", "the environment deployed to" },
	{ "--errors", NULL, "only traces with an error span" },
	{ "--false-positive", "incident resolve", "the incident was no real problem (the automation report counts runs on it as false activations)" },
	{ "--fast", NULL, "the time-compressed pace (shorter, for CI)" },
	{ "--for", NULL, "how long the silence lasts (2h, 30m)", "DURATION" },
	{ "--from", NULL, "start of the time range (RFC 3339 or Unix seconds)", "TIME" },
	{ "--from", "oncall shifts", "first time to show (default now)", "TIME" },
	{ "--from", "oncall override", "add: when the override starts (default now)", "TIME" },
	{ "--graph", NULL, "CSV of call edges: caller,callee", "FILE.csv" },
	{ "--head", NULL, "an anchored head SEQ:HASH that must be on the chain", "SEQ:HASH" },
	{ "--id", NULL, "the migration's id" },
	{ "--if-version", NULL, "refuse unless the current version is this one (vN): no lost update", "vN" },
	{ "--incident", NULL, "only messages about this incident" },
	{ "--incident", "runbook run", "the incident the runbook is walked on (INC-7)", "ID" },
	{ "--incident", "runs list", "only runs on this incident (INC-7)" },
	{ "--init", NULL, "create a new store in --data DIR" },
	{ "--irreversible", NULL, "the migration cannot be undone (a rollback across it needs --allow-irreversible)" },
	{ "--keep", NULL, "keep the drill's directory (data, logs, token) and print where" },
	{ "--kind", NULL, "only this kind (deploy, flag, config, …)" },
	{ "--kind", "incident timeline", "only entries of this kind (alert, note, status, …)" },
	{ "--job", NULL, "only targets of this scrape job", "NAME" },
	{ "--label", NULL, "a label matcher, amtool style: k=v, k!=v, k=~regex, k!~regex (may repeat)", "MATCHER" },
	{ "--lenient", NULL, "skip flags that do not validate instead of refusing the file" },
	{ "--limit", NULL, "at most this many rows", "N" },
	{ "--listen", NULL, "address to listen on (default from the config, else 127.0.0.1:4318)", "HOST:PORT" },
	{ "--metrics", NULL, "CSV of the incident window: timestamp,node,metric,value", "FILE.csv" },
	{ "--migrations", NULL, "comma list of migration ids the deploy ran", "ID,ID…" },
	{ "--min-duration", NULL, "only traces at least this long (250ms)", "DURATION" },
	{ "--name", "token create", "who or what the token is for" },
	{ "--name", "alerts silence", "silence alerts of this name (alertname=NAME)" },
	{ "--no-telemetry", NULL, "skip telemetry.db (control.db and the audit key only)" },
	{ "--normal", NULL, "CSV of a normal period, same columns as --metrics", "FILE.csv" },
	{ "--note", NULL, "a note kept with the change" },
	{ "--note", "deploy record", "free text kept with the deploy" },
	{ "--note", "incident hypothesis", "why it was confirmed or rejected" },
	{ "--once", NULL, "print what matches now and exit instead of following" },
	{ "--ooda-sim", NULL, "the ooda-sim binary (default: next to ooda)", "PATH" },
	{ "--op", NULL, "only traces whose root operation is this" },
	{ "--output", NULL, "write to this file instead of stdout", "FILE" },
	{ "--overdue", NULL, "only open items past their due date" },
	{ "--owner", NULL, "only items owned by this person" },
	{ "--owner", "actions add", "who owns the item" },
	{ "--policy", "runs list", "only runs of this policy", "NAME" },
	{ "--pubkey", NULL, "the audit public key to pin (64 hex characters, from `audit pubkey`); with several nodes, each node's key, separated by commas", "HEX[,HEX...]" },
	{ "--rationale", NULL, "why (kept in the audit log)", "WHY" },
	{ "--reason", NULL, "why (required, audited)", "WHY" },
	{ "--recreate-telemetry", NULL, "move an unreadable telemetry.db aside and start a new one" },
	{ "--replace", NULL, "remove flags of the environment that are not in the file" },
	{ "--resolution", NULL, "override the engine's resolution floor (for cross-validation)" },
	{ "--role", NULL, "viewer, ingest, responder, approver or admin" },
	{ "--scale-floor", NULL, "override the engine's scale floor (for cross-validation)" },
	{ "--scenario", NULL, "run only these scenarios (a comma list, in the catalogue's order; or all)", "NAMES" },
	{ "--schedule", NULL, "the on-call schedule" },
	{ "--service", NULL, "only this service" },
	{ "--service", "deploy record", "the service deployed" },
	{ "--service", "migration register", "the service the migration belongs to" },
	{ "--service", "flags kill", "kill every flag of this service changed within --since" },
	{ "--service", "alerts silence", "silence alerts of this service" },
	{ "--service", "incident open", "the affected service" },
	{ "--severity", NULL, "only this severity" },
	{ "--severity", "incident open", "sev1 to sev4 (default incidents.default_severity)" },
	{ "--sim", NULL, "the control URL of the running ooda-sim (with --attach)", "URL" },
	{ "--since", NULL, "how far back (15m, 2h, 7d)", "DURATION" },
	{ "--since", "query", "evaluate a range this far back instead of an instant", "DURATION" },
	{ "--state", "alerts list", "firing (default), pending, resolved, inactive or all" },
	{ "--state", "incident hypothesis", "confirmed or rejected" },
	{ "--status", NULL, "only this status" },
	{ "--status", "approvals list", "pending (default), approved, rejected or all" },
	{ "--status", "incident list", "open, acknowledged, mitigated, resolved (open: all unresolved)" },
	{ "--status", "runs list", "only runs in this state (succeeded, failed, refused, awaiting-approval, …)" },
	{ "--step", NULL, "the range step (default 60s)", "DURATION" },
	{ "--summary", NULL, "what is going on, in a sentence" },
	{ "--target", "audit log", "only records about this target" },
	{ "--target", "analyze rca", "the node whose symptom is explained (default: the most anomalous)" },
	{ "--template", "runbook list", "only runbooks attached to this incident template" },
	{ "--team", NULL, "every schedule of this team" },
	{ "--time", NULL, "evaluation time (RFC 3339 or Unix seconds, default now)", "TIME" },
	{ "--title", NULL, "what needs doing" },
	{ "--to", NULL, "end of the time range (RFC 3339 or Unix seconds)", "TIME" },
	{ "--to", "flags rollback", "the version to make current again (vN)", "vN" },
	{ "--to", "config rollback", "the version to make current again (vN)", "vN" },
	{ "--to", "runbook rollback", "the version to apply again (vN)", "vN" },
	{ "--to", "policy rollback", "the version to apply again (vN)", "vN" },
	{ "--to", "oncall shifts", "last time to show (default a week after --from)", "TIME" },
	{ "--to", "oncall override", "add: when the override ends", "TIME" },
	{ "--token-file", NULL, "a file (mode 0600) holding the token; else it is read from standard input", "FILE" },
	{ "--type", NULL, "the artifact's media type (default from the file name)" },
	{ "--up", NULL, "what the migration does" },
	{ "--user", NULL, "who takes the shift" },
	{ "--version", "flags get", "an older version (vN)", "vN" },
	{ "--version", "config get", "an older version (vN)", "vN" },
	{ "--version", "deploy record", "the version deployed" },
	{ "--wait", NULL, "wait until the run finishes, printing each step" },
	{ "--window", NULL, "the window RED metrics are computed over (default 5m)", "DURATION" },
	{ "--yes", NULL, "really drop them (without it, only print what would be dropped)" },
	{ NULL, NULL, NULL, NULL },
};

const struct cli_command *const cli_commands = commands;
const struct cli_option_doc *const cli_option_docs = option_docs;
