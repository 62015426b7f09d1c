/*
 * Which daemon the CLI talks to, and with which token. Before any command
 * calls the server, cli_context_resolve() picks the server and the token,
 * each from the first of: a flag (--server, --token), an environment
 * variable (OODA_SERVER, OODA_TOKEN), the context file that `ooda login`
 * writes ($XDG_CONFIG_HOME/ooda/config, else ~/.config/ooda/config), and the
 * default (http://127.0.0.1:4318, no token), and remembers where each came
 * from so `ooda status` and every changing command can say where they acted.
 * The context's token goes only to the context's server. This file also
 * holds `ooda login` and `ooda logout`, the context file's writers.
 */
#include "cli/cli.h"
#include "core/error.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_SERVER "http://127.0.0.1:4318"

/* ---- the context file ---------------------------------------------------- */

/* The keys of the context file: one table, read and written from it. */
struct context_key {
	const char *name;
	size_t offset;
	size_t size;
	const char *doc;
};

static const struct context_key context_keys[] = {
	{ "server", offsetof(struct cli_context, server), sizeof(((struct cli_context *)0)->server),
	  "the daemon's URL" },
	{ "token_file", offsetof(struct cli_context, token_file), sizeof(((struct cli_context *)0)->token_file),
	  "a file (mode 0600) holding the token for that server" },
	{ NULL, 0, 0, NULL },
};

int cli_context_dir(char *out, size_t n, struct buf *err)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	int w;
	if (xdg && *xdg == '/')
		w = snprintf(out, n, "%s/ooda", xdg);
	else if (home && *home)
		w = snprintf(out, n, "%s/.config/ooda", home);
	else {
		buf_adds(err, "neither XDG_CONFIG_HOME nor HOME is set: no place for the CLI's context file");
		return OODA_ENOTFOUND;
	}
	if (w < 0 || (size_t)w >= n) {
		buf_adds(err, "the CLI's config directory path is too long");
		return OODA_EINVAL;
	}
	return 0;
}

static int context_file(const char *dir, const char *name, char *out, size_t n, struct buf *err)
{
	int w = snprintf(out, n, "%s/%s", dir, name);
	if (w < 0 || (size_t)w >= n) {
		buf_adds(err, "the CLI's config path is too long");
		return OODA_EINVAL;
	}
	return 0;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

int cli_context_load(const char *path, struct cli_context *c, struct buf *err)
{
	memset(c, 0, sizeof(*c));
	FILE *f = fopen(path, "r");
	if (!f) {
		if (errno == ENOENT)
			return OODA_ENOTFOUND;
		buf_addf(err, "cannot read %s: %s", path, strerror(errno));
		return OODA_EIO;
	}
	char line[8192];
	int lineno = 0, rc = 0;
	while (!rc && fgets(line, sizeof(line), f)) {
		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			buf_addf(err, "%s:%d: line too long", path, lineno);
			rc = OODA_EPARSE;
			break;
		}
		char *s = trim(line);
		if (!*s || *s == '#')
			continue;
		char *eq = strchr(s, '=');
		if (!eq) {
			buf_addf(err, "%s:%d: expected `key = value`", path, lineno);
			rc = OODA_EPARSE;
			break;
		}
		*eq = '\0';
		char *key = trim(s), *val = trim(eq + 1);
		const struct context_key *k = context_keys;
		while (k->name && strcmp(k->name, key))
			k++;
		if (!k->name) {
			buf_addf(err, "%s:%d: unknown key `%s` (known: server, token_file)", path, lineno, key);
			rc = OODA_EPARSE;
		} else if (strlen(val) >= k->size) {
			buf_addf(err, "%s:%d: %s is too long", path, lineno, key);
			rc = OODA_EPARSE;
		} else {
			memcpy((char *)c + k->offset, val, strlen(val) + 1);
		}
	}
	fclose(f);
	return rc;
}

/* Writes path (mode 0600) through a temporary file and a rename, so a reader never sees half of it. */
static int write_private(const char *path, const char *text, struct buf *err)
{
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		buf_addf(err, "cannot write %s: %s", tmp, strerror(errno));
		return OODA_EIO;
	}
	size_t n = strlen(text);
	int rc = 0;
	if (fchmod(fd, 0600) || write(fd, text, n) != (ssize_t)n || fsync(fd)) {
		buf_addf(err, "cannot write %s: %s", tmp, strerror(errno));
		rc = OODA_EIO;
	}
	close(fd);
	if (!rc && rename(tmp, path)) {
		buf_addf(err, "cannot write %s: %s", path, strerror(errno));
		rc = OODA_EIO;
	}
	if (rc)
		unlink(tmp);
	return rc;
}

static int mkdir_private(const char *dir, struct buf *err)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s", dir);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0700) && errno != EEXIST) {
			buf_addf(err, "cannot create %s: %s", p, strerror(errno));
			return OODA_EIO;
		}
		*s = '/';
	}
	if (mkdir(p, 0700) && errno != EEXIST) {
		buf_addf(err, "cannot create %s: %s", p, strerror(errno));
		return OODA_EIO;
	}
	return 0;
}

int cli_context_save(const char *path, const struct cli_context *c, struct buf *err)
{
	struct buf text = BUF_INIT;
	buf_adds(&text, "# ooda CLI context, written by `ooda login`; `ooda logout` removes it.\n");
	for (const struct context_key *k = context_keys; k->name; k++) {
		const char *v = (const char *)c + k->offset;
		if (*v)
			buf_addf(&text, "# %s\n%s = %s\n", k->doc, k->name, v);
	}
	int rc = write_private(path, text.data, err);
	buf_release(&text);
	return rc;
}

int cli_token_file_read(const char *path, char *out, size_t n, struct buf *err)
{
	int fd = open(path, O_RDONLY); /* through a symlink, the target's mode is what counts */
	if (fd < 0) {
		buf_addf(err, "cannot read token file %s: %s", path, strerror(errno));
		return OODA_EIO;
	}
	struct stat st;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		buf_addf(err, "token file %s is not a regular file", path);
		close(fd);
		return OODA_EINVAL;
	}
	if (st.st_mode & 077) {
		buf_addf(err, "refusing to read token file %s: it is readable by group or others (mode %04o); "
			      "run `chmod 600 %s`",
			 path, (unsigned)(st.st_mode & 07777), path);
		close(fd);
		return OODA_EFORBIDDEN;
	}
	ssize_t got = read(fd, out, n - 1);
	close(fd);
	if (got < 0) {
		buf_addf(err, "cannot read token file %s: %s", path, strerror(errno));
		return OODA_EIO;
	}
	out[got] = '\0';
	char *t = trim(out);
	size_t len = strcspn(t, "\r\n");
	memmove(out, t, len);
	out[len] = '\0';
	if (!len) {
		buf_addf(err, "token file %s is empty", path);
		return OODA_EINVAL;
	}
	return 0;
}

/* ---- resolution ---------------------------------------------------------- */

static bool same_server(const char *x, const char *y)
{
	size_t nx = strlen(x), ny = strlen(y);
	while (nx && x[nx - 1] == '/')
		nx--;
	while (ny && y[ny - 1] == '/')
		ny--;
	return nx == ny && !strncmp(x, y, nx);
}

void cli_context_resolve(struct cli_args *a)
{
	struct buf err = BUF_INIT;
	struct cli_context *c = &a->context;
	int rc = 0;
	char dir[4096];
	a->has_context = false;
	if (!cli_context_dir(dir, sizeof(dir), &err) && !context_file(dir, "config", a->context_path,
								       sizeof(a->context_path), &err)) {
		rc = cli_context_load(a->context_path, c, &err);
		if (rc == OODA_ENOTFOUND) {
			rc = 0;
		} else if (!rc) {
			a->has_context = true;
		}
	} else {
		a->context_path[0] = '\0';
		buf_reset(&err); /* no home: simply no context */
	}

	const char *s = cli_opt(a, "--server"), *env = getenv("OODA_SERVER");
	if (s && *s) {
		a->client.server = s;
		a->server_from = "flag --server";
	} else if (env && *env) {
		a->client.server = env;
		a->server_from = "env OODA_SERVER";
	} else if (a->has_context && *c->server) {
		a->client.server = c->server;
		a->server_from = "context";
	} else {
		a->client.server = DEFAULT_SERVER;
		a->server_from = "default";
	}

	const char *t = cli_opt(a, "--token"), *tenv = getenv("OODA_TOKEN");
	a->client.token = NULL;
	a->token_from = NULL;
	if (t && *t) {
		a->client.token = t;
		a->token_from = "flag --token";
	} else if (tenv && *tenv) {
		a->client.token = tenv;
		a->token_from = "env OODA_TOKEN";
	} else if (!rc && a->has_context && *c->token_file &&
		   same_server(a->client.server, *c->server ? c->server : DEFAULT_SERVER)) {
		rc = cli_token_file_read(c->token_file, a->token_buf, sizeof(a->token_buf), &err);
		if (!rc) {
			a->client.token = a->token_buf;
			a->token_from = "context";
		} else {
			buf_addf(&err, " (named by %s)", a->context_path);
		}
	}
	if (rc && a->token_from && strcmp(a->server_from, "default"))
		rc = 0; /* flags or env vars named both: a broken context was not needed */
	a->resolve_rc = rc;
	snprintf(a->resolve_err, sizeof(a->resolve_err), "%s", err.len ? err.data : "");
	buf_release(&err);
	a->resolved = true;
}

int cli_context_check(struct cli_args *a, struct buf *err)
{
	if (!a->resolved)
		cli_context_resolve(a);
	if (a->resolve_rc)
		buf_adds(err, a->resolve_err);
	return a->resolve_rc;
}

void cli_context_describe(struct cli_args *a, struct buf *server, struct buf *token)
{
	if (!a->resolved)
		cli_context_resolve(a);
	buf_addf(server, "%s (from %s", a->client.server, a->server_from);
	if (!strcmp(a->server_from, "context"))
		buf_addf(server, " %s", a->context_path);
	else if (!strcmp(a->server_from, "default"))
		buf_adds(server, ": no --server, OODA_SERVER or `ooda login` context");
	buf_adds(server, ")");
	if (a->client.token) {
		buf_addf(token, "in use (from %s", a->token_from);
		if (!strcmp(a->token_from, "context"))
			buf_addf(token, " %s, token_file %s", a->context_path, a->context.token_file);
		buf_adds(token, ")");
	} else if (a->resolve_rc) {
		buf_addf(token, "unreadable: %s", a->resolve_err);
	} else if (a->has_context && *a->context.token_file) {
		buf_addf(token, "none (the context's token is kept for %s only)",
			 *a->context.server ? a->context.server : DEFAULT_SERVER);
	} else {
		buf_adds(token, "none");
	}
}

/* ---- login and logout ----------------------------------------------------- */

/* Reads the token from standard input: its first line, trimmed. */
static int token_from_stdin(char *out, size_t n, struct buf *err)
{
	if (isatty(STDIN_FILENO))
		fprintf(stderr, "paste the token and press Enter (it is not shown): ");
	size_t len = 0;
	int ch;
	while (len + 1 < n && (ch = getchar()) != EOF && ch != '\n')
		out[len++] = (char)ch;
	out[len] = '\0';
	char *t = trim(out);
	memmove(out, t, strlen(t) + 1);
	if (!*out) {
		buf_adds(err, "no token on standard input; pipe one in, or give --token-file FILE");
		return OODA_EINVAL;
	}
	return 0;
}

int cmd_login(struct cli_args *a, struct buf *err)
{
	if (a->n_pos) {
		buf_adds(err, "usage: ooda login [--server URL] [--token-file FILE] (or the token on standard input)");
		return OODA_EINVAL;
	}
	cli_context_resolve(a);
	/* login checks the token it is given, never one from elsewhere */
	char token[512];
	char dir[4096], cfg[4096], own_token[4096], file[4096] = "";
	int rc = cli_context_dir(dir, sizeof(dir), err);
	if (!rc)
		rc = context_file(dir, "config", cfg, sizeof(cfg), err);
	if (!rc)
		rc = context_file(dir, "token", own_token, sizeof(own_token), err);
	const char *tf = cli_opt(a, "--token-file");
	if (!rc && tf) {
		if (!realpath(tf, file)) {
			buf_addf(err, "cannot read token file %s: %s", tf, strerror(errno));
			return OODA_EIO;
		}
		rc = cli_token_file_read(file, token, sizeof(token), err);
	} else if (!rc) {
		rc = token_from_stdin(token, sizeof(token), err);
	}
	if (rc)
		return rc;

	struct client c = a->client;
	c.token = token;
	struct buf out = BUF_INIT;
	int status;
	rc = client_call(&c, "GET", "/api/v1/status", NULL, 0, NULL, &status, &out, err);
	json_t *j = rc ? NULL : json_loadb(out.data, out.len, 0, NULL);
	buf_release(&out);
	if (!rc && !j) {
		buf_addf(err, "%s answered /api/v1/status with something that is not JSON: is it ooda?", c.server);
		rc = OODA_EINTERNAL;
	} else if (!rc && !json_is_true(json_object_get(j, "auth_required"))) {
		buf_addf(err, "cannot check the token: %s has no tokens yet, so it accepts any; "
			      "create one first (ooda token create --role admin --name NAME)",
			 c.server);
		rc = OODA_EREFUSED;
	} else if (rc == OODA_EUNAUTH) {
		buf_reset(err);
		buf_addf(err, "%s refused the token (401): it is unknown or revoked; nothing was saved", c.server);
	}
	if (!rc)
		rc = mkdir_private(dir, err);
	if (!rc && *file && strcmp(file, own_token))
		unlink(own_token); /* a token an earlier login kept is not left behind */
	if (!rc && !*file) {
		struct buf text = BUF_INIT;
		buf_addf(&text, "%s\n", token);
		rc = write_private(own_token, text.data, err);
		sodium_memzero(text.data, text.len);
		buf_release(&text);
		snprintf(file, sizeof(file), "%s", own_token);
	}
	sodium_memzero(token, sizeof(token));
	if (!rc) {
		struct cli_context ctx = { 0 };
		snprintf(ctx.server, sizeof(ctx.server), "%s", c.server);
		snprintf(ctx.token_file, sizeof(ctx.token_file), "%s", file);
		rc = cli_context_save(cfg, &ctx, err);
	}
	if (!rc) {
		if (a->json) {
			json_t *o = json_pack("{s:s, s:s, s:s}", "server", c.server, "you", cli_jstr(j, "you"), "context", cfg);
			char *t = json_dumps(o, JSON_COMPACT);
			printf("%s\n", t);
			free(t);
			json_decref(o);
		} else
			printf("logged in to %s as %s (ooda %s); context saved in %s\n", c.server, cli_jstr(j, "you"),
			       cli_jstr(j, "version"), cfg);
	}
	json_decref(j);
	return rc;
}

int cmd_logout(struct cli_args *a, struct buf *err)
{
	char dir[4096], cfg[4096], own_token[4096];
	int rc = cli_context_dir(dir, sizeof(dir), err);
	if (!rc)
		rc = context_file(dir, "config", cfg, sizeof(cfg), err);
	if (!rc)
		rc = context_file(dir, "token", own_token, sizeof(own_token), err);
	if (rc)
		return rc;
	struct cli_context c;
	struct buf why = BUF_INIT;
	int lrc = cli_context_load(cfg, &c, &why);
	buf_release(&why);
	if (lrc == OODA_ENOTFOUND) {
		if (a->json)
			printf("{\"logged_out\":false}\n");
		else
			printf("not logged in: no context at %s\n", cfg);
		return 0;
	}
	bool removed_token = !unlink(own_token);
	if (unlink(cfg) && errno != ENOENT) {
		buf_addf(err, "cannot remove %s: %s", cfg, strerror(errno));
		return OODA_EIO;
	}
	if (a->json) {
		json_t *j = json_pack("{s:b, s:s, s:[s]}", "logged_out", 1, "server", *c.server ? c.server : DEFAULT_SERVER,
				      "removed", cfg);
		if (removed_token)
			json_array_append_new(json_object_get(j, "removed"), json_string(own_token));
		char *t = json_dumps(j, JSON_COMPACT);
		printf("%s\n", t);
		free(t);
		json_decref(j);
	} else {
		printf("logged out of %s: removed %s%s%s\n", *c.server ? c.server : DEFAULT_SERVER, cfg,
		       removed_token ? " and " : "", removed_token ? own_token : "");
	}
	return 0;
}
