/*
 * The `notify:` section of ooda.yaml read into a struct notify_config:
 * targets with their secrets (from the environment or a file, read here at
 * start and reload, never written anywhere), routes resolved to target
 * indices, and the retry policy. The schema table in core/config.c checks
 * key names and types first; this file checks what the table cannot say
 * (unique names, URL schemes, the secret each type needs, known route
 * targets) and is the semantic check of the section (notify_config_check).
 */
#include "respond/notify_impl.h"
#include "core/error.h"
#include "core/time.h"
#include "core/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const type_names[] = {
	[NOTIFY_WEBHOOK] = "webhook",
	[NOTIFY_SLACK] = "slack",
	[NOTIFY_PAGERDUTY] = "pagerduty",
	[NOTIFY_EMAIL] = "email",
};
#define N_TYPES (sizeof(type_names) / sizeof(type_names[0]))

/* What each type needs: its URL schemes and whether a secret is required. */
static const struct {
	const char *schemes[2];
	bool needs_secret;
	const char *secret_is;
} type_rules[] = {
	[NOTIFY_WEBHOOK] = { { "http://", "https://" }, true, "the HMAC-SHA256 signing key" },
	[NOTIFY_SLACK] = { { "http://", "https://" }, false, "the incoming-webhook URL" },
	[NOTIFY_PAGERDUTY] = { { "http://", "https://" }, true, "the Events API v2 routing key" },
	[NOTIFY_EMAIL] = { { "smtp://", "smtps://" }, false, "the SMTP password" },
};

const char *notify_type_name(enum notify_type t)
{
	return (size_t)t < N_TYPES ? type_names[t] : "?";
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

void notify_config_free(struct notify_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_targets; i++) {
		struct notify_target *t = &c->targets[i];
		free(t->name);
		free(t->url);
		if (t->secret)
			memset(t->secret, 0, t->secret_len);
		free(t->secret);
		free(t->username);
		free(t->from);
		strv_free(t->to, t->n_to);
	}
	free(c->targets);
	for (size_t i = 0; i < c->n_routes; i++) {
		struct notify_route *r = &c->routes[i];
		strv_free(r->severity, r->n_severity);
		strv_free(r->service, r->n_service);
		strv_free(r->team, r->n_team);
		free(r->kind);
		free(r->targets);
	}
	free(c->routes);
	free(c->public_url);
	free(c);
}

const struct notify_target *notify_config_target(const struct notify_config *c, const char *name)
{
	for (size_t i = 0; c && name && i < c->n_targets; i++)
		if (!strcmp(c->targets[i].name, name))
			return &c->targets[i];
	return NULL;
}

/* ---- field readers: each appends "path.key: message" and returns OODA_EINVAL ---- */

static int str_of(const json_t *o, const char *key, const char *path, bool required, char **out, struct buf *err)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v)) {
		if (!required)
			return 0;
		buf_addf(err, "%s.%s: is required\n", path, key);
		return OODA_EINVAL;
	}
	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 2048 ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		buf_addf(err, "%s.%s: must be a non-empty string\n", path, key);
		return OODA_EINVAL;
	}
	*out = xstrdup(json_string_value(v));
	return 0;
}

static int strs_of(const json_t *o, const char *key, const char *path, char ***out, size_t *n, struct buf *err)
{
	json_t *v = json_object_get(o, key);
	*out = NULL;
	*n = 0;
	if (!v || json_is_null(v))
		return 0;
	if (json_is_string(v)) { /* one value may be written bare */
		*out = xcalloc(1, sizeof(char *));
		(*out)[0] = xstrdup(json_string_value(v));
		*n = 1;
		return 0;
	}
	if (!json_is_array(v) || json_array_size(v) > 1024) {
		buf_addf(err, "%s.%s: must be a list of strings\n", path, key);
		return OODA_EINVAL;
	}
	*out = xcalloc(json_array_size(v) + 1, sizeof(char *));
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e) {
		if (!json_is_string(e)) {
			buf_addf(err, "%s.%s[%zu]: must be a string\n", path, key, i);
			return OODA_EINVAL;
		}
		(*out)[(*n)++] = xstrdup(json_string_value(e));
	}
	return 0;
}

static int duration_of(const json_t *o, const char *key, const char *path, int64_t min, int64_t max, int64_t *out,
		       struct buf *err)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v))
		return 0;
	int64_t d = -1;
	if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) < 86400 * 366)
		d = json_integer_value(v) * OODA_NS_PER_SEC;
	else if (json_is_string(v) && ooda_duration_parse(json_string_value(v), json_string_length(v), &d))
		d = -1;
	if (d < min || d > max) {
		char a[32], b[32];
		buf_addf(err, "%s.%s: must be a duration between %s and %s\n", path, key,
			 ooda_duration_format(min, a, sizeof(a)), ooda_duration_format(max, b, sizeof(b)));
		return OODA_EINVAL;
	}
	*out = d;
	return 0;
}

/* Reads a whole small file into a new string (trailing newlines cut). */
static int read_secret_file(const char *path, char **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > NOTIFY_MAX_SECRET) {
		close(fd);
		return -EINVAL;
	}
	char *b = xmalloc((size_t)st.st_size + 1);
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, b + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	while (got && (b[got - 1] == '\n' || b[got - 1] == '\r'))
		got--;
	b[got] = 0;
	*out = b;
	*len = got;
	return 0;
}

/* The target's secret from secret_env or secret_file; the message names the variable or file, never the value. */
static int secret_of(const json_t *o, const char *path, struct notify_target *t, struct buf *err)
{
	const char *env = json_string_value(json_object_get(o, "secret_env"));
	const char *file = json_string_value(json_object_get(o, "secret_file"));
	if (env && file) {
		buf_addf(err, "%s.secret_file: give secret_env or secret_file, not both\n", path);
		return OODA_EINVAL;
	}
	if (env) {
		const char *v = getenv(env);
		if (!v || !*v) {
			buf_addf(err, "%s.secret_env: environment variable %s is not set\n", path, env);
			return OODA_EINVAL;
		}
		t->secret_len = strnlen(v, NOTIFY_MAX_SECRET + 1);
		if (t->secret_len > NOTIFY_MAX_SECRET) {
			buf_addf(err, "%s.secret_env: the value of %s is longer than %d bytes\n", path, env,
				 NOTIFY_MAX_SECRET);
			return OODA_EINVAL;
		}
		t->secret = xstrndup(v, t->secret_len);
	} else if (file) {
		int rc = read_secret_file(file, &t->secret, &t->secret_len);
		if (rc || !t->secret_len) {
			buf_addf(err, "%s.secret_file: cannot read a secret from %s: %s\n", path, file,
				 rc ? strerror(-rc == EINVAL ? EFBIG : -rc) : "the file is empty");
			return OODA_EINVAL;
		}
	}
	if (!t->secret && type_rules[t->type].needs_secret) {
		buf_addf(err, "%s: a %s target needs secret_env or secret_file (%s)\n", path, type_names[t->type],
			 type_rules[t->type].secret_is);
		return OODA_EINVAL;
	}
	return 0;
}

static bool has_scheme(const char *url, enum notify_type type)
{
	for (size_t i = 0; i < 2; i++)
		if (!strncasecmp(url, type_rules[type].schemes[i], strlen(type_rules[type].schemes[i])) &&
		    url[strlen(type_rules[type].schemes[i])])
			return true;
	return false;
}

static int target_parse(const json_t *o, const char *path, struct notify_target *t, struct buf *err)
{
	if (!json_is_object(o)) {
		buf_addf(err, "%s: must be a mapping with name, type and url\n", path);
		return OODA_EINVAL;
	}
	t->timeout_ns = 10 * OODA_NS_PER_SEC;
	char *type = NULL;
	int rc = str_of(o, "name", path, true, &t->name, err);
	if (!rc)
		rc = str_of(o, "type", path, true, &type, err);
	if (!rc) {
		size_t i = 0;
		while (i < N_TYPES && strcmp(type, type_names[i]))
			i++;
		if (i == N_TYPES) {
			buf_addf(err, "%s.type: must be webhook, slack, pagerduty or email\n", path);
			rc = OODA_EINVAL;
		}
		t->type = (enum notify_type)i;
	}
	free(type);
	if (rc)
		return rc;
	if ((rc = str_of(o, "url", path, false, &t->url, err)) || (rc = secret_of(o, path, t, err)) ||
	    (rc = duration_of(o, "timeout", path, 100 * OODA_NS_PER_MS, 300 * OODA_NS_PER_SEC, &t->timeout_ns, err)))
		return rc;
	if (!t->url && t->type == NOTIFY_PAGERDUTY)
		t->url = xstrdup(NOTIFY_DEFAULT_PAGERDUTY_URL);
	if (!t->url && t->type == NOTIFY_SLACK && t->secret) { /* the webhook URL kept as a secret */
		if (!has_scheme(t->secret, NOTIFY_SLACK)) {
			buf_addf(err, "%s: the secret of a slack target without url must be its https:// webhook URL\n",
				 path);
			return OODA_EINVAL;
		}
		return 0;
	}
	if (!t->url) {
		buf_addf(err, "%s.url: is required\n", path);
		return OODA_EINVAL;
	}
	if (!has_scheme(t->url, t->type)) {
		buf_addf(err, "%s.url: a %s target needs a %s or %s URL\n", path, type_names[t->type],
			 type_rules[t->type].schemes[0], type_rules[t->type].schemes[1]);
		return OODA_EINVAL;
	}
	if (t->type == NOTIFY_EMAIL) {
		if ((rc = str_of(o, "from", path, true, &t->from, err)) ||
		    (rc = strs_of(o, "to", path, &t->to, &t->n_to, err)) ||
		    (rc = str_of(o, "username", path, false, &t->username, err)))
			return rc;
		if (!t->n_to) {
			buf_addf(err, "%s.to: an email target needs at least one recipient\n", path);
			return OODA_EINVAL;
		}
		const char *addrs[1 + 64];
		size_t n = 0;
		addrs[n++] = t->from;
		for (size_t i = 0; i < t->n_to && n < 65; i++)
			addrs[n++] = t->to[i];
		for (size_t i = 0; i < n; i++)
			if (!strchr(addrs[i], '@') || strpbrk(addrs[i], "<>\r\n ,")) {
				buf_addf(err, "%s.%s: \"%s\" is not a plain address like ops@example.com\n", path,
					 i ? "to" : "from", addrs[i]);
				return OODA_EINVAL;
			}
	} else {
		static const char *const email_only[] = { "from", "to", "username" };
		for (size_t i = 0; i < 3; i++)
			if (json_object_get(o, email_only[i])) {
				buf_addf(err, "%s.%s: only an email target has %s\n", path, email_only[i], email_only[i]);
				return OODA_EINVAL;
			}
	}
	return 0;
}

static int route_parse(const json_t *o, const char *path, const struct notify_config *c, struct notify_route *r,
		       struct buf *err)
{
	if (!json_is_object(o)) {
		buf_addf(err, "%s: must be a mapping with match and targets\n", path);
		return OODA_EINVAL;
	}
	json_t *m = json_object_get(o, "match");
	char mpath[128];
	snprintf(mpath, sizeof(mpath), "%s.match", path);
	int rc = 0;
	if (m && !json_is_null(m)) {
		if (!json_is_object(m)) {
			buf_addf(err, "%s: must be a mapping of severity, service, team, kind\n", mpath);
			return OODA_EINVAL;
		}
		if ((rc = strs_of(m, "severity", mpath, &r->severity, &r->n_severity, err)) ||
		    (rc = strs_of(m, "service", mpath, &r->service, &r->n_service, err)) ||
		    (rc = strs_of(m, "team", mpath, &r->team, &r->n_team, err)) ||
		    (rc = str_of(m, "kind", mpath, false, &r->kind, err)))
			return rc;
		if (r->kind && strcmp(r->kind, "incident") && strcmp(r->kind, "alert")) {
			buf_addf(err, "%s.kind: must be incident or alert\n", mpath);
			return OODA_EINVAL;
		}
	}
	char **names = NULL;
	size_t n = 0;
	if ((rc = strs_of(o, "targets", path, &names, &n, err))) {
		strv_free(names, n);
		return rc;
	}
	if (!n) {
		buf_addf(err, "%s.targets: is required (the names of targets)\n", path);
		strv_free(names, n);
		return OODA_EINVAL;
	}
	r->targets = xcalloc(n, sizeof(size_t));
	for (size_t i = 0; i < n && !rc; i++) {
		const struct notify_target *t = notify_config_target(c, names[i]);
		if (!t) {
			buf_addf(err, "%s.targets[%zu]: no target is named \"%s\"\n", path, i, names[i]);
			rc = OODA_EINVAL;
			break;
		}
		r->targets[r->n_targets++] = (size_t)(t - c->targets);
	}
	strv_free(names, n);
	return rc;
}

static int retry_parse(const json_t *o, struct notify_config *c, struct buf *err)
{
	if (!o || json_is_null(o))
		return 0;
	if (!json_is_object(o)) {
		buf_adds(err, "notify.retry: must be a mapping of max_attempts, base, max_backoff\n");
		return OODA_EINVAL;
	}
	json_t *ma = json_object_get(o, "max_attempts");
	if (ma) {
		if (!json_is_integer(ma) || json_integer_value(ma) < 1 || json_integer_value(ma) > 100) {
			buf_adds(err, "notify.retry.max_attempts: must be an integer from 1 to 100\n");
			return OODA_EINVAL;
		}
		c->max_attempts = json_integer_value(ma);
	}
	int rc = duration_of(o, "base", "notify.retry", 10 * OODA_NS_PER_MS, 3600 * OODA_NS_PER_SEC, &c->base_ns, err);
	if (!rc)
		rc = duration_of(o, "max_backoff", "notify.retry", 10 * OODA_NS_PER_MS, 86400 * OODA_NS_PER_SEC,
				 &c->max_backoff_ns, err);
	if (!rc && c->max_backoff_ns < c->base_ns) {
		buf_adds(err, "notify.retry.max_backoff: must not be shorter than base\n");
		rc = OODA_EINVAL;
	}
	return rc;
}

int notify_config_parse(const json_t *section, struct notify_config **out, struct buf *err)
{
	struct notify_config *c = xcalloc(1, sizeof(*c));
	c->max_attempts = 12;
	c->base_ns = OODA_NS_PER_SEC;
	c->max_backoff_ns = 300 * OODA_NS_PER_SEC;
	int rc = 0;
	size_t mark = err->len;
	if (section && !json_is_null(section)) {
		if (!json_is_object(section)) {
			buf_adds(err, "notify: must be a mapping of targets, routes, retry, public_url\n");
			rc = OODA_EINVAL;
			goto out;
		}
		rc = str_of(section, "public_url", "notify", false, &c->public_url, err);
		if (!rc && c->public_url && strncmp(c->public_url, "http://", 7) && strncmp(c->public_url, "https://", 8)) {
			buf_adds(err, "notify.public_url: must be an http:// or https:// URL\n");
			rc = OODA_EINVAL;
		}
		if (!rc)
			rc = retry_parse(json_object_get(section, "retry"), c, err);
		if (rc)
			goto out;
		json_t *tl = json_object_get(section, "targets");
		if (tl && !json_is_null(tl) && (!json_is_array(tl) || json_array_size(tl) > NOTIFY_MAX_TARGETS)) {
			buf_addf(err, "notify.targets: must be a list of at most %d targets\n", NOTIFY_MAX_TARGETS);
			rc = OODA_EINVAL;
			goto out;
		}
		c->targets = xcalloc(json_array_size(tl) + 1, sizeof(*c->targets));
		size_t i;
		json_t *e;
		json_array_foreach(tl, i, e) {
			char path[64];
			snprintf(path, sizeof(path), "notify.targets[%zu]", i);
			struct notify_target *t = &c->targets[c->n_targets++];
			if (target_parse(e, path, t, err)) {
				rc = OODA_EINVAL;
				goto out;
			}
			for (size_t j = 0; j + 1 < c->n_targets; j++)
				if (!strcmp(c->targets[j].name, t->name)) {
					buf_addf(err, "%s.name: \"%s\" is also the name of targets[%zu]\n", path, t->name, j);
					rc = OODA_EINVAL;
					goto out;
				}
		}
		if (rc)
			goto out;
		json_t *rl = json_object_get(section, "routes");
		if (rl && !json_is_null(rl) && (!json_is_array(rl) || json_array_size(rl) > NOTIFY_MAX_ROUTES)) {
			buf_addf(err, "notify.routes: must be a list of at most %d routes\n", NOTIFY_MAX_ROUTES);
			rc = OODA_EINVAL;
			goto out;
		}
		c->routes = xcalloc(json_array_size(rl) + 1, sizeof(*c->routes));
		json_array_foreach(rl, i, e) {
			char path[64];
			snprintf(path, sizeof(path), "notify.routes[%zu]", i);
			if (route_parse(e, path, c, &c->routes[c->n_routes++], err)) {
				rc = OODA_EINVAL;
				goto out;
			}
		}
	}
out:
	if (rc) {
		if (err->len > mark && err->data[err->len - 1] == '\n')
			buf_setlen(err, err->len - 1);
		notify_config_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

int notify_config_check(const char *section_json, struct buf *err)
{
	json_t *j = section_json ? json_loads(section_json, JSON_DECODE_ANY, NULL) : NULL;
	if (section_json && !j) {
		buf_adds(err, "notify: not valid JSON");
		return OODA_EINVAL;
	}
	struct notify_config *c = NULL;
	int rc = notify_config_parse(j, &c, err);
	notify_config_free(c);
	json_decref(j);
	return rc;
}
