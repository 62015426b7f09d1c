/*
 * The action table (action.h): exec, http, wait, notify, annotate here;
 * flag, config and rollback in action_change.c. Each
 * row validates its params at policy load — an exec given one string, or an
 * http URL whose host is off remedy.http_allow_hosts, never gets as far as
 * a run — and runs one step for the engine (remedy.c).
 */
#include "remedy/action.h"
#include "remedy/action_impl.h"
#include "core/error.h"
#include "core/spawn.h"
#include "core/time.h"
#include "core/xalloc.h"
#include "remedy/hooks.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define ARGV_MAX 64
#define ARG_MAX_LEN 4096
#define ENV_MAX 32
#define HEADERS_MAX 16
#define RETRIES_MAX 5
#define SECRET_FILE_MAX 4096

void action_result_init(struct action_result *r)
{
	memset(r, 0, sizeof(*r));
	r->status = -1;
	buf_init(&r->output);
	buf_init(&r->error);
}

void action_result_release(struct action_result *r)
{
	buf_release(&r->output);
	buf_release(&r->error);
	json_decref(r->state);
	r->state = NULL;
}

bool action_host_allowed(const json_t *allow, const char *host)
{
	if (json_is_true(allow))
		return true; /* the structural check of policies:, which cannot see the list (policy.h) */
	size_t i;
	json_t *h;
	json_array_foreach(allow, i, h) {
		const char *s = json_string_value(h);
		if (s && host && !strcasecmp(s, host))
			return true;
	}
	return false;
}

/* Parses an optional duration field; *ns keeps its value when absent. */
static int duration_field(const json_t *params, const char *key, const char *path, int64_t max, int64_t *ns,
			  struct buf *err)
{
	json_t *v = json_object_get(params, key);
	if (!v)
		return 0;
	const char *s = json_string_value(v);
	int64_t d;
	if (!s || ooda_duration_parse(s, strlen(s), &d) || d <= 0 || d > max) {
		buf_addf(err, "%s.%s: a duration such as \"30s\", above 0 and at most %llds", path, key,
			 (long long)(max / OODA_NS_PER_SEC));
		return OODA_EINVAL;
	}
	*ns = d;
	return 0;
}

int action_keys_check(const json_t *params, const char *const *keys, const char *path, struct buf *err)
{
	if (!json_is_object(params)) {
		buf_addf(err, "%s: must be a mapping", path);
		return OODA_EINVAL;
	}
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)params, k, v) {
		size_t i = 0;
		while (keys[i] && strcmp(keys[i], k))
			i++;
		if (!keys[i]) {
			buf_addf(err, "%s.%s: unknown key", path, k);
			return OODA_EINVAL;
		}
	}
	return 0;
}

/* ---- exec ------------------------------------------------------------------ */

static const char *const exec_keys[] = { "argv", "env", "cwd", "timeout", NULL };

static int exec_validate(const json_t *p, const json_t *hosts, const char *path, struct buf *err)
{
	(void)hosts;
	json_t *argv = json_object_get(p, "argv");
	if (json_is_string(p) || json_is_string(argv)) {
		buf_addf(err, "%s.argv: must be a list of strings (program and arguments); a single string is refused, "
			      "there is no shell",
			 path);
		return OODA_EINVAL;
	}
	int rc = action_keys_check(p, exec_keys, path, err);
	if (rc)
		return rc;
	if (!json_is_array(argv) || !json_array_size(argv) || json_array_size(argv) > ARGV_MAX) {
		buf_addf(err, "%s.argv: a list of 1 to %d strings", path, ARGV_MAX);
		return OODA_EINVAL;
	}
	size_t i;
	json_t *a;
	json_array_foreach(argv, i, a) {
		if (!json_is_string(a) || json_string_length(a) > ARG_MAX_LEN || memchr(json_string_value(a), 0, json_string_length(a)) ||
		    (i == 0 && !json_string_length(a))) {
			buf_addf(err, "%s.argv[%zu]: a non-empty string of at most %d bytes", path, i, ARG_MAX_LEN);
			return OODA_EINVAL;
		}
	}
	json_t *env = json_object_get(p, "env");
	if (env && (!json_is_array(env) || json_array_size(env) > ENV_MAX)) {
		buf_addf(err, "%s.env: a list of at most %d variable names passed through from ooda's environment", path,
			 ENV_MAX);
		return OODA_EINVAL;
	}
	json_array_foreach(env, i, a) {
		const char *s = json_string_value(a);
		if (!s || !*s || strchr(s, '=') || strlen(s) > 128) {
			buf_addf(err, "%s.env[%zu]: a variable name", path, i);
			return OODA_EINVAL;
		}
	}
	json_t *cwd = json_object_get(p, "cwd");
	if (cwd && (!json_is_string(cwd) || json_string_value(cwd)[0] != '/')) {
		buf_addf(err, "%s.cwd: an absolute directory", path);
		return OODA_EINVAL;
	}
	int64_t t = ACTION_TIMEOUT_DEFAULT_NS;
	return duration_field(p, "timeout", path, ACTION_TIMEOUT_MAX_NS, &t, err);
}

static void exec_describe(const json_t *p, struct buf *out)
{
	size_t i;
	json_t *a;
	buf_adds(out, "exec");
	json_array_foreach(json_object_get(p, "argv"), i, a) {
		buf_addch(out, ' ');
		const char *s = json_string_value(a);
		bool quote = !*s || strpbrk(s, " \t\"'\\$;&|<>") != NULL;
		if (quote)
			buf_add_json_str(out, s, strlen(s));
		else
			buf_adds(out, s);
	}
}

static void output_add(struct buf *out, const char *data, size_t n)
{
	if (out->len >= ACTION_OUTPUT_MAX)
		return;
	size_t room = ACTION_OUTPUT_MAX - out->len;
	buf_add(out, data, n < room ? n : room);
}

/* Kills the process group of pid: SIGTERM, then SIGKILL after the grace. Reaps pid; *status its wait status. */
static void group_kill(pid_t pid, int *status)
{
	kill(-pid, SIGTERM);
	int64_t deadline = ooda_mono_ns() + ACTION_KILL_GRACE_NS;
	while (ooda_mono_ns() < deadline) {
		if (waitpid(pid, status, WNOHANG) == pid) {
			kill(-pid, SIGKILL); /* the group's stragglers */
			return;
		}
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	kill(-pid, SIGKILL);
	while (waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
}

static void redact(struct buf *out, char *const *secrets, size_t n);

static int exec_run(const struct action_env *env, const json_t *p, struct action_result *res)
{
	json_t *argvj = json_object_get(p, "argv"), *envj = json_object_get(p, "env");
	const char *cwd = json_string_value(json_object_get(p, "cwd"));
	int64_t timeout = ACTION_TIMEOUT_DEFAULT_NS;
	struct buf scratch = BUF_INIT;
	duration_field(p, "timeout", "exec", ACTION_TIMEOUT_MAX_NS, &timeout, &scratch);
	buf_release(&scratch);
	size_t argc = json_array_size(argvj), envc = 0;
	char **argv = xcalloc(argc + 1, sizeof(*argv));
	char **envp = xcalloc(ENV_MAX + 3, sizeof(*envp));
	for (size_t i = 0; i < argc; i++)
		argv[i] = (char *)json_string_value(json_array_get(argvj, i));
	/* the allow-list: PATH always, then the names the step lists, as ooda has them */
	const char *always[] = { "PATH", "LANG" };
	/* the values of the listed names may be credentials: kept output never shows them */
	char **secrets = xcalloc(ENV_MAX + 1, sizeof(*secrets));
	size_t nsec = 0;
	for (size_t i = 0; i < 2 + json_array_size(envj) && envc < ENV_MAX + 2; i++) {
		const char *name = i < 2 ? always[i] : json_string_value(json_array_get(envj, i - 2));
		size_t nl = strlen(name);
		for (char **e = environ; e && *e; e++)
			if (!strncmp(*e, name, nl) && (*e)[nl] == '=') {
				envp[envc++] = *e;
				if (i >= 2 && strlen(*e + nl + 1) >= 4 && nsec < ENV_MAX)
					secrets[nsec++] = xstrdup(*e + nl + 1);
				break;
			}
	}
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC)) {
		buf_addf(&res->error, "exec: pipe: %s", strerror(errno));
		free(argv);
		free(envp);
		for (size_t i = 0; i < nsec; i++)
			free(secrets[i]);
		free(secrets);
		return 0;
	}
	/* started without a fork that could allocate (core/spawn.h), in its own process group (group_kill) */
	struct spawn_opts so = { .argv = argv, .env = envp, .out_fd = pfd[1], .null_stdin = true, .own_group = true,
				 .cwd = cwd };
	pid_t pid;
	int src = ooda_spawn(&so, &pid);
	close(pfd[1]);
	free(argv);
	free(envp);
	if (src) {
		close(pfd[0]);
		for (size_t i = 0; i < nsec; i++)
			free(secrets[i]);
		free(secrets);
		/* as a shell reports them: 127 when the program is not there, 126 when it cannot run (or no cwd) */
		res->status = src == ENOENT && !(cwd && access(cwd, X_OK)) ? 127 : 126;
		if (res->status == 127)
			buf_addf(&res->error, "exit status 127: %s not found or not executable",
				 json_string_value(json_array_get(argvj, 0)));
		else
			buf_addf(&res->error, "exit status 126: cannot start %s%s%s: %s",
				 json_string_value(json_array_get(argvj, 0)), cwd ? " in " : "", cwd ? cwd : "", strerror(src));
		return 0;
	}
	int64_t deadline = ooda_mono_ns() + timeout;
	int status = 0;
	bool reaped = false, eof = false;
	char chunk[4096];
	while (!reaped) {
		int64_t left = deadline - ooda_mono_ns();
		if (left <= 0 || (env->stop && *env->stop)) {
			res->timed_out = left <= 0;
			group_kill(pid, &status);
			reaped = true;
			break;
		}
		if (!eof) {
			struct pollfd pf = { pfd[0], POLLIN, 0 };
			int ms = left / 1000000 > 200 ? 200 : (int)(left / 1000000) + 1;
			if (poll(&pf, 1, ms) > 0) {
				ssize_t n = read(pfd[0], chunk, sizeof(chunk));
				if (n > 0)
					output_add(&res->output, chunk, (size_t)n);
				else if (n == 0)
					eof = true;
			}
		} else {
			struct timespec ts = { 0, 20 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
		if (waitpid(pid, &status, WNOHANG) == pid)
			reaped = true;
	}
	/* what is left in the pipe (the child is gone; a grandchild holding it was killed with the group) */
	fcntl(pfd[0], F_SETFL, O_NONBLOCK);
	for (int k = 0; k < 64; k++) {
		ssize_t n = read(pfd[0], chunk, sizeof(chunk));
		if (n <= 0)
			break;
		output_add(&res->output, chunk, (size_t)n);
	}
	close(pfd[0]);
	redact(&res->output, secrets, nsec);
	for (size_t i = 0; i < nsec; i++)
		free(secrets[i]);
	free(secrets);
	if (res->timed_out) {
		buf_addf(&res->error, "timed out after %llds: process group killed", (long long)(timeout / OODA_NS_PER_SEC));
		res->status = -1;
	} else if (WIFEXITED(status)) {
		res->status = WEXITSTATUS(status);
		res->ok = res->status == 0;
		if (res->status == 127)
			buf_addf(&res->error, "exit status 127: %s not found or not executable",
				 json_string_value(json_array_get(argvj, 0)));
		else if (!res->ok)
			buf_addf(&res->error, "exit status %d", res->status);
	} else {
		res->status = -1;
		buf_addf(&res->error, "killed by signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	}
	return 0;
}

/* ---- http -------------------------------------------------------------------- */

static const char *const http_keys[] = { "method", "url", "headers", "body", "expect_status", "retries", "timeout", NULL };
static const char *const http_methods[] = { "GET", "POST", "PUT", "PATCH", "DELETE", NULL };

/* The host of url into host (no port); 0 or OODA_EINVAL. */
static int url_host(const char *url, char *host, size_t size)
{
	CURLU *u = curl_url();
	char *h = NULL, *scheme = NULL;
	int rc = OODA_EINVAL;
	if (u && !curl_url_set(u, CURLUPART_URL, url, 0) && !curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) &&
	    (!strcmp(scheme, "http") || !strcmp(scheme, "https")) && !curl_url_get(u, CURLUPART_HOST, &h, 0) &&
	    strlen(h) < size) {
		memcpy(host, h, strlen(h) + 1);
		rc = 0;
	}
	curl_free(h);
	curl_free(scheme);
	curl_url_cleanup(u);
	return rc;
}

static int http_validate(const json_t *p, const json_t *hosts, const char *path, struct buf *err)
{
	int rc = action_keys_check(p, http_keys, path, err);
	if (rc)
		return rc;
	const char *url = json_string_value(json_object_get(p, "url"));
	char host[256];
	if (!url || strlen(url) > 2048 || url_host(url, host, sizeof(host))) {
		buf_addf(err, "%s.url: an http:// or https:// URL", path);
		return OODA_EINVAL;
	}
	if (!action_host_allowed(hosts, host)) {
		buf_addf(err, "%s.url: host \"%s\" is not on remedy.http_allow_hosts", path, host);
		return OODA_EINVAL;
	}
	const char *m = json_string_value(json_object_get(p, "method"));
	if (json_object_get(p, "method")) {
		size_t i = 0;
		while (m && http_methods[i] && strcmp(http_methods[i], m))
			i++;
		if (!m || !http_methods[i]) {
			buf_addf(err, "%s.method: one of GET, POST, PUT, PATCH, DELETE", path);
			return OODA_EINVAL;
		}
	}
	json_t *hs = json_object_get(p, "headers");
	if (hs && (!json_is_object(hs) || json_object_size(hs) > HEADERS_MAX)) {
		buf_addf(err, "%s.headers: a mapping of at most %d names", path, HEADERS_MAX);
		return OODA_EINVAL;
	}
	const char *name;
	json_t *v;
	json_object_foreach(hs, name, v) {
		bool bad_name = !*name || strpbrk(name, ":\r\n ") != NULL;
		int given = !!json_is_string(json_object_get(v, "value")) + !!json_is_string(json_object_get(v, "value_env")) +
			    !!json_is_string(json_object_get(v, "value_file"));
		if (bad_name || !json_is_object(v) || given != 1 || json_object_size(v) != 1) {
			buf_addf(err, "%s.headers.%s: a mapping with one of value, value_env (a variable name) or value_file (a path)",
				 path, name);
			return OODA_EINVAL;
		}
		const char *val = json_string_value(json_object_get(v, "value"));
		if (val && strpbrk(val, "\r\n")) {
			buf_addf(err, "%s.headers.%s.value: no line breaks", path, name);
			return OODA_EINVAL;
		}
	}
	json_t *b = json_object_get(p, "body");
	if (b && json_is_string(b) && json_string_length(b) > 65536) {
		buf_addf(err, "%s.body: at most 64 KiB", path);
		return OODA_EINVAL;
	}
	json_t *es = json_object_get(p, "expect_status");
	if (es && (!json_is_integer(es) || json_integer_value(es) < 100 || json_integer_value(es) > 599)) {
		buf_addf(err, "%s.expect_status: a status code from 100 to 599 (default: any 2xx)", path);
		return OODA_EINVAL;
	}
	json_t *r = json_object_get(p, "retries");
	if (r && (!json_is_integer(r) || json_integer_value(r) < 0 || json_integer_value(r) > RETRIES_MAX)) {
		buf_addf(err, "%s.retries: an integer from 0 to %d", path, RETRIES_MAX);
		return OODA_EINVAL;
	}
	int64_t t = 0;
	return duration_field(p, "timeout", path, ACTION_TIMEOUT_MAX_NS, &t, err);
}

static void http_describe(const json_t *p, struct buf *out)
{
	const char *m = json_string_value(json_object_get(p, "method"));
	buf_addf(out, "http %s %s", m ? m : "POST", json_string_value(json_object_get(p, "url")));
}

static size_t http_body_cb(char *ptr, size_t size, size_t n, void *ud)
{
	output_add(ud, ptr, size * n);
	return size * n;
}

/* Every occurrence of each secret in out replaced by "[redacted]". */
static void redact(struct buf *out, char *const *secrets, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t sl = strlen(secrets[i]);
		if (sl < 1)
			continue;
		struct buf tmp = BUF_INIT;
		const char *p = out->data ? out->data : "", *hit;
		while ((hit = strstr(p, secrets[i]))) {
			buf_add(&tmp, p, (size_t)(hit - p));
			buf_adds(&tmp, "[redacted]");
			p = hit + sl;
		}
		buf_adds(&tmp, p);
		buf_reset(out);
		buf_add(out, tmp.data ? tmp.data : "", tmp.len);
		buf_release(&tmp);
	}
}

/* The secret of a header spec from the environment or a file (trailing newline dropped); caller frees. */
static char *secret_read(const json_t *spec, struct buf *err)
{
	const char *env = json_string_value(json_object_get(spec, "value_env"));
	const char *file = json_string_value(json_object_get(spec, "value_file"));
	if (env) {
		const char *v = getenv(env);
		if (!v) {
			buf_addf(err, "header secret: environment variable %s is not set", env);
			return NULL;
		}
		return xstrdup(v);
	}
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		buf_addf(err, "header secret: cannot open %s: %s", file, strerror(errno));
		return NULL;
	}
	char *s = xmalloc(SECRET_FILE_MAX + 1);
	ssize_t n = read(fd, s, SECRET_FILE_MAX);
	close(fd);
	if (n < 0)
		n = 0;
	s[n] = 0;
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = 0;
	return s;
}

static int http_run(const struct action_env *env, const json_t *p, struct action_result *res)
{
	const char *url = json_string_value(json_object_get(p, "url"));
	const char *m = json_string_value(json_object_get(p, "method"));
	int64_t timeout = 10 * OODA_NS_PER_SEC;
	struct buf scratch = BUF_INIT;
	duration_field(p, "timeout", "http", ACTION_TIMEOUT_MAX_NS, &timeout, &scratch);
	buf_release(&scratch);
	json_int_t expect = json_integer_value(json_object_get(p, "expect_status"));
	int retries = (int)json_integer_value(json_object_get(p, "retries"));
	json_t *bj = json_object_get(p, "body");
	char *body = !bj ? NULL : json_is_string(bj) ? xstrdup(json_string_value(bj)) : json_dumps(bj, JSON_COMPACT);
	struct curl_slist *hl = NULL;
	char *secrets[HEADERS_MAX] = { 0 };
	size_t n_secrets = 0;
	const char *name;
	json_t *v;
	if (bj && !json_is_string(bj))
		hl = curl_slist_append(hl, "Content-Type: application/json");
	json_object_foreach(json_object_get(p, "headers"), name, v) {
		const char *plain = json_string_value(json_object_get(v, "value"));
		char *val = plain ? xstrdup(plain) : secret_read(v, &res->error);
		if (!val)
			goto out;
		if (!plain && n_secrets < HEADERS_MAX)
			secrets[n_secrets++] = val;
		struct buf line = BUF_INIT;
		buf_addf(&line, "%s: %s", name, val);
		hl = curl_slist_append(hl, line.data);
		/* the line holds the secret: wipe it before freeing */
		memset(line.data, 0, line.len);
		buf_release(&line);
		if (plain)
			free(val);
	}
	for (int attempt = 0; attempt <= retries; attempt++) {
		if (attempt) {
			/* backoff 0.5 s · 2^attempt with ±50 % jitter */
			int64_t base = (OODA_NS_PER_SEC / 2) << attempt;
			int64_t wait = base / 2 + (int64_t)((uint64_t)rand() % (uint64_t)base);
			int64_t end = ooda_mono_ns() + wait;
			while (ooda_mono_ns() < end && !(env->stop && *env->stop)) {
				struct timespec ts = { 0, 50 * 1000 * 1000 };
				nanosleep(&ts, NULL);
			}
			buf_reset(&res->output);
			buf_reset(&res->error);
		}
		CURL *c = curl_easy_init();
		if (!c) {
			buf_adds(&res->error, "http: cannot make a request");
			break;
		}
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, m ? m : "POST");
		if (body || !m || strcmp(m, "GET"))
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
		if (m && !strcmp(m, "GET"))
			curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(timeout / 1000000));
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
		curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_body_cb);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &res->output);
		CURLcode cc = curl_easy_perform(c);
		long status = 0;
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_cleanup(c);
		res->status = (int)status;
		if (cc != CURLE_OK) {
			res->timed_out = cc == CURLE_OPERATION_TIMEDOUT;
			buf_addf(&res->error, "http: %s (attempt %d of %d)", curl_easy_strerror(cc), attempt + 1, retries + 1);
			continue;
		}
		res->ok = expect ? status == expect : status >= 200 && status < 300;
		if (res->ok)
			break;
		buf_addf(&res->error, "http: status %ld, expected %s (attempt %d of %d)", status,
			 expect ? "the given expect_status" : "2xx", attempt + 1, retries + 1);
		if (status >= 400 && status < 500 && status != 429)
			break; /* a client error will not get better */
	}
out:
	redact(&res->output, secrets, n_secrets);
	redact(&res->error, secrets, n_secrets);
	for (size_t i = 0; i < n_secrets; i++) {
		memset(secrets[i], 0, strlen(secrets[i]));
		free(secrets[i]);
	}
	curl_slist_free_all(hl);
	free(body);
	return 0;
}

/* ---- wait, notify, annotate ---------------------------------------------------- */

static int wait_validate(const json_t *p, const json_t *hosts, const char *path, struct buf *err)
{
	(void)hosts;
	const char *s = json_string_value(p);
	int64_t d;
	if (!s || ooda_duration_parse(s, strlen(s), &d) || d <= 0 || d > ACTION_TIMEOUT_MAX_NS) {
		buf_addf(err, "%s: a duration such as \"30s\", at most 1h", path);
		return OODA_EINVAL;
	}
	return 0;
}

static void wait_describe(const json_t *p, struct buf *out)
{
	buf_addf(out, "wait %s", json_string_value(p));
}

static int wait_run(const struct action_env *env, const json_t *p, struct action_result *res)
{
	int64_t d = 0;
	const char *s = json_string_value(p);
	ooda_duration_parse(s, strlen(s), &d);
	int64_t end = ooda_mono_ns() + d;
	while (ooda_mono_ns() < end && !(env->stop && *env->stop)) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	res->ok = true;
	res->status = 0;
	return 0;
}

static const char *const notify_keys[] = { "target", "text", NULL };

static int text_validate(const json_t *p, const char *const *keys, const char *path, struct buf *err)
{
	int rc = action_keys_check(p, keys, path, err);
	if (rc)
		return rc;
	json_t *t = json_object_get(p, "text");
	if (!json_is_string(t) || !json_string_length(t) || json_string_length(t) > 2048) {
		buf_addf(err, "%s.text: a string of 1 to 2048 bytes", path);
		return OODA_EINVAL;
	}
	json_t *tg = json_object_get(p, "target");
	if (tg && !json_is_string(tg)) {
		buf_addf(err, "%s.target: a notify target name", path);
		return OODA_EINVAL;
	}
	return 0;
}

static int notify_validate(const json_t *p, const json_t *hosts, const char *path, struct buf *err)
{
	(void)hosts;
	return text_validate(p, notify_keys, path, err);
}

static void notify_describe(const json_t *p, struct buf *out)
{
	const char *t = json_string_value(json_object_get(p, "target"));
	buf_addf(out, "notify %s: %s", t ? t : "(the owner's targets)", json_string_value(json_object_get(p, "text")));
}

static int notify_run(const struct action_env *env, const json_t *p, struct action_result *res)
{
	if (!env->hooks || !env->hooks->notify) {
		buf_adds(&res->error, "notify: notifications are not configured");
		return 0;
	}
	struct buf dedupe = BUF_INIT;
	buf_addf(&dedupe, "%s#notify", env->run_id);
	int n = env->hooks->notify(env->hooks->ctx, json_string_value(json_object_get(p, "target")), "remediation",
				   json_string_value(json_object_get(p, "text")), env->incident, dedupe.data, &res->error);
	buf_release(&dedupe);
	res->status = n;
	res->ok = n >= 0;
	if (res->ok)
		buf_addf(&res->output, "%d notification(s) queued", n);
	return 0;
}

static const char *const annotate_keys[] = { "text", NULL };

static int annotate_validate(const json_t *p, const json_t *hosts, const char *path, struct buf *err)
{
	(void)hosts;
	return text_validate(p, annotate_keys, path, err);
}

static void annotate_describe(const json_t *p, struct buf *out)
{
	buf_addf(out, "annotate: %s", json_string_value(json_object_get(p, "text")));
}

static int annotate_run(const struct action_env *env, const json_t *p, struct action_result *res)
{
	if (!env->incident) {
		res->ok = true;
		res->status = 0;
		buf_adds(&res->output, "no incident to annotate");
		return 0;
	}
	if (!env->hooks || !env->hooks->annotate) {
		buf_adds(&res->error, "annotate: incidents are not available");
		return 0;
	}
	struct buf actor = BUF_INIT;
	buf_addf(&actor, "policy:%s", env->policy);
	json_t *data = json_pack("{s:s}", "run", env->run_id);
	int rc = env->hooks->annotate(env->hooks->ctx, env->incident, "note", actor.data,
				      json_string_value(json_object_get(p, "text")), data, &res->error);
	json_decref(data);
	buf_release(&actor);
	res->ok = rc == 0;
	res->status = rc;
	return 0;
}

static const struct remedy_action exec_action = {
	REMEDY_ACTION_VERSION, "exec", false, false, exec_validate, exec_run, exec_describe,
};
static const struct remedy_action http_action = {
	REMEDY_ACTION_VERSION, "http", false, false, http_validate, http_run, http_describe,
};
static const struct remedy_action wait_action = {
	REMEDY_ACTION_VERSION, "wait", true, true, wait_validate, wait_run, wait_describe,
};
static const struct remedy_action notify_action = {
	REMEDY_ACTION_VERSION, "notify", true, true, notify_validate, notify_run, notify_describe,
};
static const struct remedy_action annotate_action = {
	REMEDY_ACTION_VERSION, "annotate", false, true, annotate_validate, annotate_run, annotate_describe,
};

const struct remedy_action *const remedy_actions[] = {
	&exec_action, &http_action, &wait_action, &notify_action, &annotate_action,
	&action_flag, &action_config, &action_rollback, NULL,
};

const struct remedy_action *action_find(const char *name)
{
	for (size_t i = 0; name && remedy_actions[i]; i++)
		if (!strcmp(remedy_actions[i]->name, name))
			return remedy_actions[i];
	return NULL;
}
