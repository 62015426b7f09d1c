/*
 * The scrape_configs section read into jobs (scrape_impl.h), its semantic
 * check, and the file_sd target files. The schema table in core/config.c
 * has already refused unknown keys and the Prometheus keys ooda does not
 * support, naming them; here come Prometheus' own rules (defaults,
 * timeout not over the interval, unique job names) and target syntax.
 */
#include "ingest/scrape_impl.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/config.h"
#include "core/error.h"
#include "core/time.h"
#include "core/xalloc.h"

/* A scalar member as text (YAML plain scalars may come through as JSON numbers or booleans). */
static const char *scalar(json_t *o, const char *key, char *tmp, size_t n)
{
	json_t *v = json_object_get(o, key);
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(tmp, n, "%lld", (long long)json_integer_value(v));
		return tmp;
	}
	if (json_is_real(v)) {
		snprintf(tmp, n, "%.17g", json_real_value(v));
		return tmp;
	}
	if (json_is_boolean(v))
		return json_is_true(v) ? "true" : "false";
	return NULL;
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* A duration as a section writes it: 15s, 1m30s, or a bare number of seconds. */
static int get_duration(json_t *o, const char *key, int64_t def, int64_t *out)
{
	char tmp[64];
	const char *s = scalar(o, key, tmp, sizeof(tmp));
	if (!s) {
		*out = def;
		return 0;
	}
	char *end;
	double d = strtod(s, &end);
	if (end != s && !*end && d >= 0 && d < 9e9) {
		*out = (int64_t)(d * 1e9);
		return 0;
	}
	return ooda_duration_parse(s, strlen(s), out);
}

static bool get_bool(json_t *o, const char *key, bool def)
{
	char tmp[8];
	const char *s = scalar(o, key, tmp, sizeof(tmp));
	if (!s)
		return def;
	return !strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcasecmp(s, "on");
}

void scrape_group_release(struct scrape_group *g)
{
	for (size_t i = 0; i < g->n_targets; i++)
		free(g->targets[i]);
	free(g->targets);
	for (size_t i = 0; i < g->n_labels; i++) {
		free((char *)g->labels[i].name);
		free((char *)g->labels[i].value);
	}
	free(g->labels);
	*g = (struct scrape_group){ 0 };
}

static void job_release(struct scrape_job *j)
{
	char **strs[] = { &j->name, &j->path, &j->scheme, &j->query, &j->auth_type, &j->auth_credentials,
			  &j->auth_credentials_file, &j->basic_user, &j->basic_password, &j->basic_password_file,
			  &j->ca_file };
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		free(*strs[i]);
	for (size_t i = 0; i < j->n_groups; i++)
		scrape_group_release(&j->groups[i]);
	free(j->groups);
	for (size_t i = 0; i < j->n_sd_files; i++)
		free(j->sd_files[i]);
	free(j->sd_files);
}

void scrape_cfg_unref(struct scrape_cfg *c)
{
	if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	for (size_t i = 0; i < c->n_jobs; i++)
		job_release(&c->jobs[i]);
	free(c->jobs);
	free(c);
}

/* host:port, no scheme, path or credentials (they have their own keys). */
static bool target_ok(const char *t)
{
	if (!*t || strlen(t) > 1024 || strpbrk(t, "/@?# \t\r\n"))
		return false;
	const char *colon = strrchr(t, ':');
	if (!colon || colon == t || !colon[1])
		return false;
	for (const char *p = colon + 1; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	return atoi(colon + 1) > 0 && atoi(colon + 1) < 65536;
}

static bool label_name_ok(const char *s)
{
	if (!*s || !(((*s | 32) >= 'a' && (*s | 32) <= 'z') || *s == '_'))
		return false;
	for (; *s; s++)
		if (!(((*s | 32) >= 'a' && (*s | 32) <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

/* One {targets, labels} group; path names it in err ("scrape_configs[0].static_configs[1]"). */
static int group_load(json_t *g, struct scrape_group *out, const char *path, struct buf *err)
{
	*out = (struct scrape_group){ 0 };
	if (!json_is_object(g)) {
		buf_addf(err, "%s: expected a mapping with targets and labels", path);
		return OODA_EINVAL;
	}
	json_t *ts = json_object_get(g, "targets"), *ls = json_object_get(g, "labels");
	if (ts && !json_is_array(ts) && !json_is_null(ts)) {
		buf_addf(err, "%s.targets: expected a list of host:port", path);
		return OODA_EINVAL;
	}
	if (ls && !json_is_object(ls) && !json_is_null(ls)) {
		buf_addf(err, "%s.labels: expected a mapping of name: value", path);
		return OODA_EINVAL;
	}
	size_t nt = json_array_size(ts);
	if (nt > SCRAPE_MAX_TARGETS) {
		buf_addf(err, "%s.targets: more than %d targets", path, SCRAPE_MAX_TARGETS);
		return OODA_ETOOBIG;
	}
	out->targets = xcalloc(nt ? nt : 1, sizeof(char *));
	for (size_t i = 0; i < nt; i++) {
		const char *t = json_string_value(json_array_get(ts, i));
		if (!t || !target_ok(t)) {
			buf_addf(err, "%s.targets[%zu]: expected host:port (no scheme, path or credentials; see scheme, "
				      "metrics_path, basic_auth), got \"%s\"", path, i, t ? t : "(not a string)");
			scrape_group_release(out);
			return OODA_EINVAL;
		}
		out->targets[out->n_targets++] = xstrdup(t);
	}
	size_t nl = json_object_size(ls);
	if (nl > SCRAPE_MAX_LABELS / 2) {
		buf_addf(err, "%s.labels: more than %d labels", path, SCRAPE_MAX_LABELS / 2);
		scrape_group_release(out);
		return OODA_ETOOBIG;
	}
	out->labels = xcalloc(nl ? nl : 1, sizeof(*out->labels));
	const char *k;
	json_t *v;
	json_object_foreach(ls, k, v) {
		char tmp[64];
		const char *s = json_is_string(v) ? json_string_value(v) : NULL;
		if (!s && (json_is_integer(v) || json_is_real(v) || json_is_boolean(v))) {
			json_t *wrap = json_pack("{sO}", "v", v);
			s = scalar(wrap, "v", tmp, sizeof(tmp));
			s = s ? s : "";
			out->labels[out->n_labels].value = xstrdup(s);
			json_decref(wrap);
		} else if (s) {
			out->labels[out->n_labels].value = xstrdup(s);
		}
		if (!out->labels[out->n_labels].value || !label_name_ok(k) || !strncmp(k, "__", 2)) {
			free((char *)out->labels[out->n_labels].value);
			buf_addf(err, "%s.labels.%s: expected a label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __) "
				      "and a string value", path, k);
			scrape_group_release(out);
			return OODA_EINVAL;
		}
		out->labels[out->n_labels++].name = xstrdup(k);
	}
	return 0;
}

int scrape_groups_from_json(void *array, struct scrape_group **v, size_t *n, struct buf *err)
{
	json_t *a = array;
	if (!json_is_array(a)) {
		buf_adds(err, "expected a list of {targets, labels} groups");
		return OODA_EPARSE;
	}
	size_t total = 0;
	for (size_t i = 0; i < json_array_size(a); i++) {
		char path[64];
		snprintf(path, sizeof(path), "[%zu]", i);
		struct scrape_group g;
		int rc = group_load(json_array_get(a, i), &g, path, err);
		if (rc)
			return rc == OODA_EINVAL ? OODA_EPARSE : rc;
		total += g.n_targets;
		if (total > SCRAPE_MAX_TARGETS) {
			scrape_group_release(&g);
			buf_addf(err, "more than %d targets", SCRAPE_MAX_TARGETS);
			return OODA_ETOOBIG;
		}
		*v = xreallocarray(*v, *n + 1, sizeof(**v));
		(*v)[(*n)++] = g;
	}
	return 0;
}

int scrape_sd_parse(const char *text, size_t len, bool yaml, void **groups, struct buf *err)
{
	*groups = NULL;
	if (len > SCRAPE_MAX_SD_FILE) {
		buf_addf(err, "target file larger than %zu bytes", SCRAPE_MAX_SD_FILE);
		return OODA_ETOOBIG;
	}
	json_t *j;
	if (yaml) {
		char *js = NULL;
		size_t blank = 0;
		while (blank < len && strchr(" \t\r\n", text[blank]) && text[blank])
			blank++;
		if (blank == len) { /* an empty YAML file is an empty list, as in Prometheus */
			*groups = json_array();
			return 0;
		}
		int rc = config_yaml_to_json(text, len, &js, err);
		if (rc)
			return OODA_EPARSE;
		j = json_loads(js, JSON_DECODE_ANY, NULL);
		free(js);
	} else {
		json_error_t je;
		j = json_loadb(text, len, JSON_DECODE_ANY, &je);
		if (!j) {
			buf_addf(err, "JSON error at line %d, column %d: %s", je.line, je.column, je.text);
			return OODA_EPARSE;
		}
	}
	if (!json_is_array(j)) {
		json_decref(j);
		buf_adds(err, "expected a list of {targets, labels} groups");
		return OODA_EPARSE;
	}
	size_t total = 0;
	for (size_t i = 0; i < json_array_size(j); i++) {
		json_t *g = json_array_get(j, i);
		total += json_array_size(json_object_get(g, "targets"));
	}
	if (total > SCRAPE_MAX_TARGETS) {
		json_decref(j);
		buf_addf(err, "more than %d targets", SCRAPE_MAX_TARGETS);
		return OODA_ETOOBIG;
	}
	/* validated here so a bad file is reported as a whole and the old targets stay */
	struct scrape_group *v = NULL;
	size_t n = 0;
	int rc = scrape_groups_from_json(j, &v, &n, err);
	for (size_t i = 0; i < n; i++)
		scrape_group_release(&v[i]);
	free(v);
	if (rc) {
		json_decref(j);
		return rc;
	}
	*groups = j;
	return 0;
}

static const char *const auth_secrets[][3] = {
	{ "authorization", "credentials", "credentials_file" },
	{ "basic_auth", "password", "password_file" },
};

/* What every job of one load shares: Prometheus' global defaults and the directory relative file names are in. */
struct scrape_defaults {
	int64_t interval_ns, timeout_ns;
	const char *base_dir; /* NULL: relative names stay relative to the working directory */
};

/* A file name of the config, relative to its directory as Prometheus resolves it; NULL stays NULL. */
static char *path_in(const struct scrape_defaults *d, const char *p)
{
	if (!p)
		return NULL;
	if (p[0] == '/' || !d->base_dir || !*d->base_dir)
		return xstrdup(p);
	struct buf b = BUF_INIT;
	buf_addf(&b, "%s/%s", d->base_dir, p);
	return buf_detach(&b, NULL);
}

/* The global section's scrape_interval and scrape_timeout (absent: 1m and 10s), checked as Prometheus checks them. */
static int defaults_load(const char *global_json, struct scrape_defaults *d, struct buf *err)
{
	*d = (struct scrape_defaults){ 60 * OODA_NS_PER_SEC, 10 * OODA_NS_PER_SEC, NULL };
	json_t *g = global_json ? json_loads(global_json, JSON_DECODE_ANY, NULL) : NULL;
	int rc = 0;
	if (json_is_object(g)) {
		if (get_duration(g, "scrape_interval", d->interval_ns, &d->interval_ns) || d->interval_ns < OODA_NS_PER_SEC) {
			buf_adds(err, "global.scrape_interval: expected a duration of at least 1s");
			rc = OODA_EINVAL;
		} else if (get_duration(g, "scrape_timeout", d->timeout_ns, &d->timeout_ns) ||
			   d->timeout_ns < 10 * OODA_NS_PER_MS) {
			buf_adds(err, "global.scrape_timeout: expected a duration of at least 10ms");
			rc = OODA_EINVAL;
		} else if (d->timeout_ns > d->interval_ns) {
			buf_adds(err, "global.scrape_timeout: greater than global.scrape_interval (Prometheus refuses this too)");
			rc = OODA_EINVAL;
		}
	}
	json_decref(g);
	return rc;
}

int scrape_global_check(const char *global_json, struct buf *err)
{
	struct scrape_defaults d;
	return defaults_load(global_json, &d, err);
}

/* Loads entry j (scrape_configs[i]) into job; err prefixed with its path. */
static int job_load(json_t *j, size_t i, const struct scrape_defaults *def, struct scrape_job *job, struct buf *err)
{
	char path[64], tmp[64];
	snprintf(path, sizeof(path), "scrape_configs[%zu]", i);
	*job = (struct scrape_job){ 0 };
	if (!json_is_object(j)) {
		buf_addf(err, "%s: expected a mapping", path);
		return OODA_EINVAL;
	}
	const char *name = scalar(j, "job_name", tmp, sizeof(tmp));
	if (!name || !*name) {
		buf_addf(err, "%s.job_name: required", path);
		return OODA_EINVAL;
	}
	job->name = xstrdup(name);
	if (get_duration(j, "scrape_interval", def->interval_ns, &job->interval_ns) ||
	    job->interval_ns < OODA_NS_PER_SEC) {
		buf_addf(err, "%s.scrape_interval: expected a duration of at least 1s", path);
		return OODA_EINVAL;
	}
	int64_t def_timeout = def->timeout_ns;
	if (def_timeout > job->interval_ns)
		def_timeout = job->interval_ns; /* as Prometheus: the default timeout never exceeds the interval */
	if (get_duration(j, "scrape_timeout", def_timeout, &job->timeout_ns) || job->timeout_ns < 10 * OODA_NS_PER_MS) {
		buf_addf(err, "%s.scrape_timeout: expected a duration of at least 10ms", path);
		return OODA_EINVAL;
	}
	if (job->timeout_ns > job->interval_ns) {
		buf_addf(err, "%s.scrape_timeout: greater than scrape_interval (Prometheus refuses this too)", path);
		return OODA_EINVAL;
	}
	const char *mp = scalar(j, "metrics_path", tmp, sizeof(tmp));
	if (mp && *mp != '/') {
		buf_addf(err, "%s.metrics_path: must start with /", path);
		return OODA_EINVAL;
	}
	job->path = xstrdup(mp ? mp : "/metrics");
	const char *sc = scalar(j, "scheme", tmp, sizeof(tmp));
	if (sc && strcmp(sc, "http") && strcmp(sc, "https")) {
		buf_addf(err, "%s.scheme: expected http or https, got \"%s\"", path, sc);
		return OODA_EINVAL;
	}
	job->scheme = xstrdup(sc ? sc : "http");
	/* params: name → list of values, appended as the query string */
	json_t *params = json_object_get(j, "params");
	struct buf q = BUF_INIT;
	if (params && !json_is_null(params)) {
		if (!json_is_object(params)) {
			buf_addf(err, "%s.params: expected a mapping of name: [values]", path);
			return OODA_EINVAL;
		}
		const char *k;
		json_t *vals;
		json_object_foreach(params, k, vals) {
			json_t *one = json_is_array(vals) ? NULL : vals;
			size_t nv = one ? 1 : json_array_size(vals);
			for (size_t x = 0; x < nv; x++) {
				json_t *v = one ? one : json_array_get(vals, x);
				if (!json_is_string(v)) {
					buf_addf(err, "%s.params.%s: expected a list of strings", path, k);
					buf_release(&q);
					return OODA_EINVAL;
				}
				buf_addch(&q, q.len ? '&' : '?');
				for (const char *s = k; *s; s++)
					buf_addf(&q, (strchr("-_.~", *s) || ((*s | 32) >= 'a' && (*s | 32) <= 'z') ||
						      (*s >= '0' && *s <= '9')) ? "%c" : "%%%02X", (unsigned char)*s);
				buf_addch(&q, '=');
				for (const char *s = json_string_value(v); *s; s++)
					buf_addf(&q, (strchr("-_.~", *s) || ((*s | 32) >= 'a' && (*s | 32) <= 'z') ||
						      (*s >= '0' && *s <= '9')) ? "%c" : "%%%02X", (unsigned char)*s);
			}
		}
	}
	job->query = xstrdup(q.len ? q.data : "");
	buf_release(&q);
	job->honor_labels = get_bool(j, "honor_labels", false);
	job->honor_timestamps = get_bool(j, "honor_timestamps", true);
	for (size_t a = 0; a < 2; a++) {
		json_t *o = json_object_get(j, auth_secrets[a][0]);
		if (!json_is_object(o))
			continue;
		const char *sec = scalar(o, auth_secrets[a][1], tmp, sizeof(tmp));
		char tmp2[64];
		const char *file = scalar(o, auth_secrets[a][2], tmp2, sizeof(tmp2));
		if (sec && file) {
			buf_addf(err, "%s.%s: give %s or %s, not both", path, auth_secrets[a][0], auth_secrets[a][1],
				 auth_secrets[a][2]);
			return OODA_EINVAL;
		}
		if (a == 0) {
			const char *type = scalar(o, "type", tmp2, sizeof(tmp2));
			if (type && !strcasecmp(type, "basic")) {
				buf_addf(err, "%s.authorization.type: Basic is set with basic_auth", path);
				return OODA_EINVAL;
			}
			job->auth_type = xstrdup(type ? type : "Bearer");
			job->auth_credentials = dup_or_null(sec);
			job->auth_credentials_file = path_in(def, file);
		} else {
			job->basic_user = dup_or_null(scalar(o, "username", tmp2, sizeof(tmp2)));
			job->basic_password = dup_or_null(sec);
			job->basic_password_file = path_in(def, file);
		}
	}
	if (job->auth_type && job->basic_user) {
		buf_addf(err, "%s: give authorization or basic_auth, not both", path);
		return OODA_EINVAL;
	}
	json_t *tls = json_object_get(j, "tls_config");
	if (json_is_object(tls)) {
		job->insecure_skip_verify = get_bool(tls, "insecure_skip_verify", false);
		job->ca_file = path_in(def, scalar(tls, "ca_file", tmp, sizeof(tmp)));
	}
	const char *sl = scalar(j, "sample_limit", tmp, sizeof(tmp));
	if (sl) {
		char *end;
		long long v = strtoll(sl, &end, 10);
		if (*end || v < 0 || v > (long long)SCRAPE_MAX_SAMPLES) {
			buf_addf(err, "%s.sample_limit: expected 0 to %u", path, SCRAPE_MAX_SAMPLES);
			return OODA_EINVAL;
		}
		job->sample_limit = (size_t)v;
	}
	job->body_limit = SCRAPE_DEFAULT_BODY_LIMIT;
	const char *bl = scalar(j, "body_size_limit", tmp, sizeof(tmp));
	if (bl) {
		int64_t v;
		if (config_parse_size(bl, &v) || v < 0 || v > ((int64_t)1 << 32)) {
			buf_addf(err, "%s.body_size_limit: expected a size up to 4GiB, such as 10MB", path);
			return OODA_EINVAL;
		}
		job->body_limit = v ? v : SCRAPE_DEFAULT_BODY_LIMIT;
	}
	json_t *st = json_object_get(j, "static_configs");
	size_t ng = json_array_size(st), total = 0;
	job->groups = xcalloc(ng ? ng : 1, sizeof(*job->groups));
	for (size_t g = 0; g < ng; g++) {
		char gp[128];
		snprintf(gp, sizeof(gp), "%s.static_configs[%zu]", path, g);
		int rc = group_load(json_array_get(st, g), &job->groups[g], gp, err);
		if (rc)
			return rc;
		job->n_groups++;
		total += job->groups[g].n_targets;
		if (total > SCRAPE_MAX_TARGETS) {
			buf_addf(err, "%s.static_configs: more than %d targets", path, SCRAPE_MAX_TARGETS);
			return OODA_ETOOBIG;
		}
	}
	json_t *sd = json_object_get(j, "file_sd_configs");
	job->sd_refresh_ns = 5 * 60 * OODA_NS_PER_SEC;
	for (size_t s = 0; s < json_array_size(sd); s++) {
		json_t *e = json_array_get(sd, s);
		json_t *files = json_object_get(e, "files");
		if (!json_is_array(files) || !json_array_size(files)) {
			buf_addf(err, "%s.file_sd_configs[%zu].files: expected a list of file names or globs", path, s);
			return OODA_EINVAL;
		}
		int64_t r;
		if (get_duration(e, "refresh_interval", job->sd_refresh_ns, &r) || r < OODA_NS_PER_SEC) {
			buf_addf(err, "%s.file_sd_configs[%zu].refresh_interval: expected a duration of at least 1s", path, s);
			return OODA_EINVAL;
		}
		job->sd_refresh_ns = r;
		for (size_t f = 0; f < json_array_size(files); f++) {
			const char *fn = json_string_value(json_array_get(files, f));
			const char *base = fn ? strrchr(fn, '/') : NULL;
			base = base ? base + 1 : fn;
			size_t bl2 = base ? strlen(base) : 0;
			bool ext = bl2 > 5 && (!strcmp(base + bl2 - 5, ".json") || !strcmp(base + bl2 - 5, ".yaml") ||
					       !strcmp(base + bl2 - 4, ".yml"));
			if (!fn || !*fn || !ext) {
				buf_addf(err, "%s.file_sd_configs[%zu].files[%zu]: expected a path ending in .json, .yml or "
					      ".yaml (a glob may stand in the last part), as Prometheus requires", path, s, f);
				return OODA_EINVAL;
			}
			job->sd_files = xreallocarray(job->sd_files, job->n_sd_files + 1, sizeof(char *));
			job->sd_files[job->n_sd_files++] = path_in(def, fn);
		}
	}
	return 0;
}

int scrape_cfg_load(const char *global_json, const char *section_json, const char *base_dir, struct scrape_cfg **out,
		    struct buf *err)
{
	*out = NULL;
	struct scrape_defaults def;
	if (defaults_load(global_json, &def, err))
		return OODA_EINVAL;
	def.base_dir = base_dir;
	struct scrape_cfg *c = xcalloc(1, sizeof(*c));
	atomic_init(&c->refs, 1);
	json_t *j = section_json ? json_loads(section_json, JSON_DECODE_ANY, NULL) : NULL;
	if (section_json && !j) {
		buf_adds(err, "scrape_configs: not valid JSON");
		free(c);
		return OODA_EINVAL;
	}
	if (j && !json_is_null(j) && !json_is_array(j)) {
		json_decref(j);
		buf_adds(err, "scrape_configs: expected a list of scrape configs");
		free(c);
		return OODA_EINVAL;
	}
	size_t n = json_array_size(j);
	if (n > SCRAPE_MAX_JOBS) {
		json_decref(j);
		buf_addf(err, "scrape_configs: more than %d jobs", SCRAPE_MAX_JOBS);
		free(c);
		return OODA_EINVAL;
	}
	c->jobs = xcalloc(n ? n : 1, sizeof(*c->jobs));
	int rc = 0;
	for (size_t i = 0; !rc && i < n; i++) {
		rc = job_load(json_array_get(j, i), i, &def, &c->jobs[i], err);
		c->n_jobs++;
		for (size_t k = 0; !rc && k < i; k++)
			if (!strcmp(c->jobs[k].name, c->jobs[i].name)) {
				buf_addf(err, "scrape_configs[%zu].job_name: \"%s\" is already the name of scrape_configs[%zu]",
					 i, c->jobs[i].name, k);
				rc = OODA_EINVAL;
			}
	}
	json_decref(j);
	if (rc) {
		scrape_cfg_unref(c);
		return rc == OODA_ETOOBIG ? OODA_EINVAL : rc;
	}
	*out = c;
	return 0;
}

int scrape_config_check(const char *section_json, struct buf *err)
{
	struct scrape_cfg *c;
	int rc = scrape_cfg_load(NULL, section_json, NULL, &c, err);
	scrape_cfg_unref(c);
	return rc;
}
