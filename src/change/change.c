/*
 * Config sets, the deploy and migration registry, and canary verification
 * (see change.h). Rollbacks are in rollback.c, approvals in approval.c.
 */
#include "change/change.h"
#include "change/jschema.h"
#include "audit/docwrite.h"
#include "core/worker.h"
#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "core/time.h"

#include <math.h>
#include <sodium.h>

int change_init(struct change *c, struct store *s, const struct audit_signer *sg, struct tstore *t,
		struct flagstore *f, struct buf *err)
{
	(void)err;
	memset(c, 0, sizeof(*c));
	c->store = s;
	c->sg = sg;
	c->tstore = t;
	c->flags = f;
	pthread_mutex_init(&c->mu, NULL);
	worker_cond_init(&c->wake);
	c->deploy_cfg = json_object();
	c->approval_cfg = json_array();
	return 0;
}

static bool name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (!n || n > 128)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
		      ch == '-' || ch == '.'))
			return false;
	}
	return true;
}

static int check_name(const char *what, const char *s, struct buf *err)
{
	if (name_ok(s))
		return 0;
	buf_addf(err, "%s %.80s is not valid: use letters, digits, '.', '_' or '-' (at most 128)", what,
		 s ? s : "(missing)");
	return OODA_EINVAL;
}

/* ---- configuration ------------------------------------------------------ */

static int check_hook(const json_t *h, const char *path, struct buf *err)
{
	if (!h)
		return 0;
	json_t *ex = json_object_get(h, "exec"), *http = json_object_get(h, "http");
	if (!json_is_object(h) || (!ex && !http)) {
		buf_addf(err, "%s: a hook is {exec: [argv…]} or {http: {url, method}}", path);
		return OODA_EINVAL;
	}
	if (ex) {
		size_t i;
		json_t *a;
		if (!json_is_array(ex) || !json_array_size(ex)) {
			buf_addf(err, "%s.exec: a non-empty list of arguments (no shell is used)", path);
			return OODA_EINVAL;
		}
		json_array_foreach(ex, i, a)
			if (!json_is_string(a)) {
				buf_addf(err, "%s.exec[%zu]: arguments are strings", path, i);
				return OODA_EINVAL;
			}
	}
	if (http && !json_is_string(json_object_get(http, "url"))) {
		buf_addf(err, "%s.http.url: a URL is required", path);
		return OODA_EINVAL;
	}
	json_t *t = json_object_get(h, "timeout");
	int64_t ns;
	if (t && (!json_is_string(t) || ooda_duration_parse(json_string_value(t), json_string_length(t), &ns))) {
		buf_addf(err, "%s.timeout: a duration like 5m", path);
		return OODA_EINVAL;
	}
	return 0;
}

int change_configure(struct change *c, const json_t *deploy, const json_t *approvals, bool apply, struct buf *err)
{
	if (deploy && !json_is_object(deploy)) {
		buf_adds(err, "deploy: a mapping with hooks and verify");
		return OODA_EINVAL;
	}
	json_t *hooks = json_object_get(deploy, "hooks");
	int rc = check_hook(json_object_get(hooks, "redeploy"), "deploy.hooks.redeploy", err);
	if (!rc)
		rc = check_hook(json_object_get(hooks, "migrate_down"), "deploy.hooks.migrate_down", err);
	json_t *v = json_object_get(deploy, "verify");
	json_t *wj = json_object_get(v, "window");
	const char *w = json_string_value(wj);
	int64_t ns;
	/* what deploy_verify would not read (a number of seconds, a quoted number) is refused, not dropped */
	if (!rc && wj && !json_is_null(wj) && (!w || ooda_duration_parse(w, strlen(w), &ns))) {
		buf_adds(err, "deploy.verify.window: a duration like 10m");
		rc = OODA_EINVAL;
	}
	static const char *const nums[] = { "min_samples", "alpha", "max_p99_increase", "max_median_increase",
					     "max_error_increase" };
	for (size_t k = 0; !rc && k < sizeof(nums) / sizeof(nums[0]); k++) {
		json_t *x = json_object_get(v, nums[k]);
		if (x && !json_is_null(x) && (!json_is_number(x) || json_number_value(x) < 0)) {
			buf_addf(err, "deploy.verify.%s: a number of at least 0", nums[k]);
			rc = OODA_EINVAL;
		}
	}
	if (!rc && approvals && !json_is_array(approvals)) {
		buf_adds(err, "approvals: a list of rules {class, env?, tags?, expires?}");
		rc = OODA_EINVAL;
	}
	size_t i;
	json_t *r;
	json_array_foreach(approvals, i, r) {
		const char *cls = json_string_value(json_object_get(r, "class"));
		const char *ex = json_string_value(json_object_get(r, "expires"));
		if (rc)
			break;
		if (!cls || (strcmp(cls, "rollback") && strcmp(cls, "migration.irreversible") && strcmp(cls, "flag.change"))) {
			buf_addf(err, "approvals[%zu].class: one of rollback, migration.irreversible, flag.change", i);
			rc = OODA_EINVAL;
		} else if (json_object_get(r, "expires") && (!ex || ooda_duration_parse(ex, strlen(ex), &ns))) {
			buf_addf(err, "approvals[%zu].expires: a duration like 2h", i);
			rc = OODA_EINVAL;
		} else if (json_object_get(r, "env") && !json_is_string(json_object_get(r, "env"))) {
			buf_addf(err, "approvals[%zu].env: an environment name (quote it if it looks like a number)", i);
			rc = OODA_EINVAL;
		}
	}
	if (!rc && apply) {
		pthread_mutex_lock(&c->mu);
		json_decref(c->deploy_cfg);
		json_decref(c->approval_cfg);
		c->deploy_cfg = deploy ? json_deep_copy(deploy) : json_object();
		c->approval_cfg = approvals ? json_deep_copy(approvals) : json_array();
		pthread_mutex_unlock(&c->mu);
	}
	return rc;
}

/* ---- config sets -------------------------------------------------------- */

int config_put(struct change *c, struct config_put *p, struct buf *err)
{
	int rc = check_name("service", p->service, err);
	if (!rc)
		rc = check_name("environment", p->env, err);
	if (rc)
		return rc;
	bool yaml = p->format && !strcmp(p->format, "yaml");
	char *json_text = NULL;
	json_t *data;
	json_error_t je;
	if (yaml) {
		if ((rc = config_yaml_to_json(p->content, p->len, &json_text, err)))
			return OODA_EINVAL;
		data = json_loads(json_text, JSON_DECODE_ANY, &je);
		free(json_text);
	} else {
		data = json_loadb(p->content, p->len, JSON_DECODE_ANY, &je);
		if (!data) {
			buf_addf(err, "not valid JSON at line %d, column %d: %s", je.line, je.column, je.text);
			return OODA_EINVAL;
		}
	}
	if (!data) {
		buf_adds(err, "the document could not be read");
		return OODA_EINVAL;
	}
	struct vdoc schema;
	struct buf ignore = BUF_INIT;
	if (!vdoc_get(c->store, "config-schema", p->service, 0, &schema, &ignore) && !schema.deleted) {
		json_t *s = json_loadb(schema.body, schema.body_len, JSON_DECODE_ANY, NULL);
		struct jschema *js = NULL;
		struct buf why = BUF_INIT;
		if (!s || jschema_compile(s, &js, &why)) {
			/* stored before the validator refused what it cannot check: refuse, never accept unchecked */
			buf_addf(err, "the schema of %s (v%lld) cannot be used, store a corrected one: %s", p->service,
				 (long long)schema.version, s ? why.data : "not valid JSON");
			rc = OODA_EREFUSED;
		} else if ((rc = jschema_validate(js, data, &why))) {
			buf_addf(err, "config for %s/%s does not match the schema of %s (v%lld): %s", p->service, p->env,
				 p->service, (long long)schema.version, why.data);
		}
		jschema_destroy(js);
		buf_release(&why);
		json_decref(s);
	}
	vdoc_release(&schema);
	buf_release(&ignore);
	if (rc) {
		json_decref(data);
		return rc;
	}
	json_t *doc = json_pack("{s:s, s:s%, s:O}", "format", yaml ? "yaml" : "json", "content", p->content, p->len,
				"data", data);
	json_decref(data);
	if (!doc) {
		buf_adds(err, "the document is not valid UTF-8 text");
		return OODA_EINVAL;
	}
	char *body = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	char key[300], target[320];
	snprintf(key, sizeof(key), "%s/%s", p->service, p->env);
	snprintf(target, sizeof(target), "config/%s", key);
	struct vdoc_write w = { .kind = "config", .key = key, .body = body, .body_len = strlen(body),
				.expect_version = p->expect_version, .actor = p->actor, .rationale = p->rationale,
				.action = "config.put", .target = target };
	rc = vdoc_put(c->store, c->sg, &w, err);
	free(body);
	if (!rc) {
		p->version = w.version;
		char ver[32], desc[400];
		snprintf(ver, sizeof(ver), "v%lld", (long long)w.version);
		snprintf(desc, sizeof(desc), "config %s changed (%s)%s%s", key, ver, p->rationale && *p->rationale ? ": " : "",
			 p->rationale ? p->rationale : "");
		struct buf e2 = BUF_INIT;
		vdoc_event(c->tstore, "config", p->service, p->env, ver, p->actor, desc, &e2);
		buf_release(&e2);
	}
	return rc;
}

int config_rollback(struct change *c, const char *service, const char *env, int64_t to, const char *actor,
		    const char *rationale, int64_t *version, struct buf *err)
{
	char key[300];
	snprintf(key, sizeof(key), "%s/%s", service, env);
	struct vdoc old;
	int rc = vdoc_get(c->store, "config", key, to, &old, err);
	if (rc)
		return rc;
	json_t *d = json_loadb(old.body, old.body_len, 0, NULL);
	vdoc_release(&old);
	const char *content = json_string_value(json_object_get(d, "content"));
	char why[600];
	snprintf(why, sizeof(why), "rollback to v%lld%s%s", (long long)to, rationale && *rationale ? ": " : "",
		 rationale ? rationale : "");
	struct config_put p = { .service = service, .env = env, .content = content ? content : "null",
				.len = content ? json_string_length(json_object_get(d, "content")) : 4,
				.format = json_string_value(json_object_get(d, "format")), .expect_version = -1,
				.actor = actor, .rationale = why };
	rc = config_put(c, &p, err);
	*version = p.version;
	json_decref(d);
	return rc;
}

int config_schema_put(struct change *c, const char *service, const char *schema, size_t len, const char *actor,
		      const char *rationale, struct buf *err)
{
	int rc = check_name("service", service, err);
	if (rc)
		return rc;
	json_error_t je;
	json_t *s = json_loadb(schema, len, JSON_DECODE_ANY, &je);
	if (!s) {
		buf_addf(err, "the schema is not valid JSON: %s", je.text);
		return OODA_EINVAL;
	}
	struct jschema *js = NULL;
	rc = jschema_compile(s, &js, err);
	jschema_destroy(js);
	char *body = rc ? NULL : json_dumps(s, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(s);
	if (rc)
		return rc;
	char target[200];
	snprintf(target, sizeof(target), "config-schema/%s", service);
	struct vdoc_write w = { .kind = "config-schema", .key = service, .body = body, .body_len = strlen(body),
				.expect_version = -1, .actor = actor, .rationale = rationale,
				.action = "config.schema", .target = target };
	rc = vdoc_put(c->store, c->sg, &w, err);
	free(body);
	return rc;
}

/* ---- deploys and migrations --------------------------------------------- */

static int64_t latest_version(struct change *c, const char *kind, const char *key)
{
	struct vdoc d;
	struct buf ignore = BUF_INIT;
	int64_t v = 0;
	if (!vdoc_get(c->store, kind, key, 0, &d, &ignore) && !d.deleted)
		v = d.version;
	vdoc_release(&d);
	buf_release(&ignore);
	return v;
}

struct deploy_tx {
	struct change *c;
	struct deploy_req *r;
	char *body;
	json_t *new_migrations; /* [{key, body}] registered on the fly */
};

static int deploy_tx(struct store *s, void *ctx, struct buf *err)
{
	struct deploy_tx *t = ctx;
	char target[80], head[300];
	snprintf(target, sizeof(target), "deploy/%s", t->r->id);
	struct vdoc_write w = { .kind = "deploy", .key = t->r->id, .body = t->body, .body_len = strlen(t->body),
				.expect_version = 0, .actor = t->r->actor, .rationale = t->r->note,
				.action = t->r->rollback_of ? "deploy.rollback" : "deploy.record", .target = target };
	int rc = vdoc_put_tx(s, t->c->sg, &w, err);
	if (!rc) {
		snprintf(head, sizeof(head), "%s/%s", t->r->service, t->r->env);
		char hb[80];
		snprintf(hb, sizeof(hb), "{\"id\":\"%s\"}", t->r->id);
		struct vdoc_write hw = { .kind = "deploy-head", .key = head, .body = hb, .body_len = strlen(hb),
					 .expect_version = -1, .actor = t->r->actor, .rationale = "",
					 .action = "deploy.head", .target = target };
		rc = vdoc_put_tx(s, t->c->sg, &hw, err);
	}
	size_t i;
	json_t *m;
	json_array_foreach(t->new_migrations, i, m) {
		if (rc)
			break;
		const char *k = json_string_value(json_object_get(m, "key"));
		char *b = json_dumps(json_object_get(m, "body"), JSON_COMPACT);
		char mt[300];
		snprintf(mt, sizeof(mt), "migration/%s", k);
		struct vdoc_write mw = { .kind = "migration", .key = k, .body = b, .body_len = strlen(b),
					 .expect_version = 0, .actor = t->r->actor,
					 .rationale = "recorded by a deploy without a down reference",
					 .action = "migration.register", .target = mt };
		rc = vdoc_put_tx(s, t->c->sg, &mw, err);
		free(b);
	}
	if (!rc && t->r->run_id) {
		/* the rollback run learns its deploy in the same transaction: recorded exactly once */
		struct vdoc run;
		if (!(rc = vdoc_get(s, "rollback-run", t->r->run_id, 0, &run, err))) {
			json_t *j = json_loadb(run.body, run.body_len, 0, NULL);
			json_object_set_new(j, "result_deploy", json_string(t->r->id));
			char *rb = json_dumps(j, JSON_COMPACT);
			char rt[80];
			snprintf(rt, sizeof(rt), "rollback-run/%s", t->r->run_id);
			struct vdoc_write rw = { .kind = "rollback-run", .key = t->r->run_id, .body = rb, .body_len = strlen(rb),
						 .status = json_string_value(json_object_get(j, "status")),
						 .expect_version = run.version, .actor = t->r->actor, .rationale = "",
						 .action = "rollback.record", .target = rt };
			rc = vdoc_put_tx(s, t->c->sg, &rw, err);
			free(rb);
			json_decref(j);
		}
		vdoc_release(&run);
	}
	return rc;
}

int deploy_record(struct change *c, struct deploy_req *r, struct buf *err)
{
	int rc = check_name("service", r->service, err);
	if (!rc)
		rc = check_name("environment", r->env, err);
	if (!rc && (!r->version || !*r->version || strlen(r->version) > 128)) {
		buf_adds(err, "a deploy needs a version (at most 128 characters)");
		rc = OODA_EINVAL;
	}
	for (size_t i = 0; !rc && i < r->n_migrations; i++)
		rc = check_name("migration id", r->migrations[i], err);
	if (rc)
		return rc;
	int64_t now = ooda_now_ns();
	snprintf(r->id, sizeof(r->id), "d-%013llx-%04x", (unsigned long long)(now / 1000000),
		 randombytes_uniform(65536));
	char head[300];
	snprintf(head, sizeof(head), "%s/%s", r->service, r->env);
	struct vdoc h;
	struct buf ignore = BUF_INIT;
	json_t *prev = json_null();
	if (!vdoc_get(c->store, "deploy-head", head, 0, &h, &ignore)) {
		json_t *hj = json_loadb(h.body, h.body_len, 0, NULL);
		prev = json_incref(json_object_get(hj, "id"));
		json_decref(hj);
	}
	vdoc_release(&h);
	buf_release(&ignore);
	char cfgkey[300];
	snprintf(cfgkey, sizeof(cfgkey), "%s/%s", r->service, r->env);
	int64_t cfgv = r->config_version ? r->config_version : latest_version(c, "config", cfgkey);
	json_t *flags = NULL;
	struct buf ferr = BUF_INIT;
	if (flagstore_snapshot(c->flags, r->env, &flags, &ferr))
		flags = json_object();
	buf_release(&ferr);
	json_t *migs = json_array(), *newm = json_array();
	for (size_t i = 0; i < r->n_migrations; i++) {
		json_array_append_new(migs, json_string(r->migrations[i]));
		char mk[300];
		snprintf(mk, sizeof(mk), "%s/%s", r->service, r->migrations[i]);
		if (!latest_version(c, "migration", mk))
			json_array_append_new(newm, json_pack("{s:s, s:{s:s, s:s, s:n, s:n, s:b}}", "key", mk, "body", "id",
							      r->migrations[i], "service", r->service, "up", "down",
							      "reversible", 0));
	}
	char when[40];
	ooda_time_format(now, when, sizeof(when));
	/* actor is who the server authenticated; what the sender claims is only reported_by */
	json_t *d = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:I, s:o, s:s, s:s?, s:s?, s:s, s:I, s:o, s:o, s:s?, s:s?}",
			      "id", r->id, "service", r->service, "environment", r->env, "version", r->version, "artifact",
			      r->artifact, "config_version", (json_int_t)cfgv, "migrations", migs, "actor", r->actor,
			      "reported_by", r->deployed_by, "note", r->note, "time", when, "time_unix_nano", (json_int_t)now, "flags", flags,
			      "previous", prev, "rollback_of", r->rollback_of, "rollback_run", r->run_id);
	struct deploy_tx t = { c, r, json_dumps(d, JSON_COMPACT), newm };
	json_decref(d);
	rc = store_write(c->store, deploy_tx, &t, err);
	free(t.body);
	json_decref(newm);
	if (!rc && !r->no_event) {
		char desc[600];
		snprintf(desc, sizeof(desc), "%s %s %s to %s%s%s", r->rollback_of ? "rollback of" : "deploy",
			 r->rollback_of ? r->rollback_of : r->service, r->rollback_of ? "restored" : r->version, r->env,
			 r->note && *r->note ? ": " : "", r->note ? r->note : "");
		struct buf e2 = BUF_INIT;
		vdoc_event(c->tstore, r->rollback_of ? "rollback" : "deploy", r->service, r->env, r->version, r->actor, desc,
			   &e2);
		buf_release(&e2);
	}
	return rc;
}

int deploy_get(struct change *c, const char *id, json_t **out, struct buf *err)
{
	struct vdoc d;
	int rc = vdoc_get(c->store, "deploy", id, 0, &d, err);
	if (rc)
		return rc;
	*out = json_loadb(d.body, d.body_len, 0, NULL);
	vdoc_release(&d);
	if (!*out) {
		buf_addf(err, "deploy %s is damaged", id);
		return OODA_ECORRUPT;
	}
	return 0;
}

struct dlist {
	json_t *all;
	const char *service, *env;
};

static int dlist_row(void *ctx, const void *row)
{
	const struct doc_row *r = row;
	struct dlist *l = ctx;
	json_t *d = json_loadb(r->body, r->body_len, 0, NULL);
	const char *denv = json_string_value(json_object_get(d, "environment"));
	if (d && (!l->service || !strcmp(json_string_value(json_object_get(d, "service")), l->service)) &&
	    (!l->env || (denv && !strcmp(denv, l->env))))
		json_array_append(l->all, d);
	json_decref(d);
	return 0;
}

static int cmp_deploy_desc(const void *a, const void *b)
{
	json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "time_unix_nano"));
	json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "time_unix_nano"));
	return x > y ? -1 : x < y;
}

int deploy_list_json(struct change *c, const char *service, const char *env, size_t limit, struct buf *out,
		     struct buf *err)
{
	struct dlist l = { json_array(), service, env };
	int rc = vdoc_list(c->store, "deploy", "", dlist_row, &l);
	if (rc) {
		buf_adds(err, "reading deploys failed");
		json_decref(l.all);
		return rc;
	}
	size_t n = json_array_size(l.all);
	json_t **v = xmalloc((n + 1) * sizeof(json_t *));
	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(l.all, i);
	qsort(v, n, sizeof(json_t *), cmp_deploy_desc);
	buf_adds(out, "{\"deploys\":[");
	for (size_t i = 0; i < n && i < (limit ? limit : 100); i++) {
		char *t = json_dumps(v[i], JSON_COMPACT);
		buf_addf(out, "%s%s", i ? "," : "", t);
		free(t);
	}
	buf_adds(out, "]}");
	free(v);
	json_decref(l.all);
	return 0;
}

int migration_register(struct change *c, const char *service, const char *id, const char *up, const char *down,
		       bool reversible, const char *actor, struct buf *err)
{
	int rc = check_name("service", service, err);
	if (!rc)
		rc = check_name("migration id", id, err);
	if (rc)
		return rc;
	if (reversible && (!down || !*down)) {
		buf_addf(err, "migration %s is marked reversible but has no down reference", id);
		return OODA_EINVAL;
	}
	json_t *m = json_pack("{s:s, s:s, s:s?, s:s?, s:b}", "id", id, "service", service, "up", up, "down", down,
			      "reversible", reversible);
	char *body = json_dumps(m, JSON_COMPACT);
	json_decref(m);
	char key[300], target[320];
	snprintf(key, sizeof(key), "%s/%s", service, id);
	snprintf(target, sizeof(target), "migration/%s", key);
	struct vdoc_write w = { .kind = "migration", .key = key, .body = body, .body_len = strlen(body),
				.expect_version = -1, .actor = actor, .rationale = "",
				.action = "migration.register", .target = target };
	rc = vdoc_put(c->store, c->sg, &w, err);
	free(body);
	return rc;
}

/* ---- verification ------------------------------------------------------- */

struct samples {
	double *v;
	size_t n, cap, errors;
};

static void sample_add(struct samples *s, double ms, bool error)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 1024;
		s->v = xrealloc(s->v, s->cap * sizeof(double));
	}
	s->v[s->n++] = ms;
	s->errors += error;
}

struct verify_scan {
	const char *version;
	int64_t from, to;        /* canary window */
	int64_t pre_from;        /* pre-deploy window start */
	struct samples canary, parallel, pre;
	bool any_server;
};

static int verify_cb(void *ctx, const struct telemetry_batch *b, int64_t tmin, int64_t tmax)
{
	(void)tmin;
	(void)tmax;
	struct verify_scan *v = ctx;
	for (size_t i = 0; i < b->n_spans; i++) {
		const struct span *s = &b->spans[i];
		if (s->kind != SPAN_SERVER && s->kind != SPAN_CONSUMER && s->has_parent)
			continue;
		const char *ver = s->resource ? s->resource->service_version : NULL;
		double ms = (double)(s->end_ns - s->start_ns) / 1e6;
		bool err = s->status == STATUS_ERROR;
		if (s->end_ns >= v->from && s->end_ns <= v->to) {
			if (ver && !strcmp(ver, v->version))
				sample_add(&v->canary, ms, err);
			else
				sample_add(&v->parallel, ms, err);
		} else if (s->end_ns >= v->pre_from && s->end_ns < v->from && !(ver && !strcmp(ver, v->version))) {
			sample_add(&v->pre, ms, err);
		}
	}
	return 0;
}

static double cfg_num(const json_t *o, const char *k, double dflt)
{
	json_t *v = json_object_get(o, k);
	return json_is_number(v) ? json_number_value(v) : dflt;
}

int deploy_verify(struct change *c, const char *id, struct buf *out, struct buf *err)
{
	json_t *d;
	int rc = deploy_get(c, id, &d, err);
	if (rc)
		return rc;
	pthread_mutex_lock(&c->mu);
	json_t *vcfg = json_deep_copy(json_object_get(c->deploy_cfg, "verify"));
	pthread_mutex_unlock(&c->mu);
	int64_t window = 10 * 60 * OODA_NS_PER_SEC;
	const char *w = json_string_value(json_object_get(vcfg, "window"));
	if (w)
		ooda_duration_parse(w, strlen(w), &window);
	struct canary_config cc = { .min_samples = (size_t)cfg_num(vcfg, "min_samples", 50),
				    .alpha = cfg_num(vcfg, "alpha", 0.01),
				    .max_p99_increase = cfg_num(vcfg, "max_p99_increase", 0.2),
				    .max_median_increase = cfg_num(vcfg, "max_median_increase", 0.2),
				    .max_error_increase = cfg_num(vcfg, "max_error_increase", 0.01) };
	json_decref(vcfg);
	int64_t t0 = json_integer_value(json_object_get(d, "time_unix_nano")), now = ooda_now_ns();
	struct verify_scan v = { .version = json_string_value(json_object_get(d, "version")), .from = t0,
				 .to = t0 + window < now ? t0 + window : now, .pre_from = t0 - window };
	const char *svc = json_string_value(json_object_get(d, "service"));
	const char *svcs[1] = { svc };
	struct tstore_scan q = { .signal = SIGNAL_SPANS, .from_ns = v.pre_from, .to_ns = v.to, .services = svcs,
				 .n_services = 1 };
	rc = tstore_scan(c->tstore, &q, verify_cb, &v, err);
	if (!rc) {
		bool parallel = v.parallel.n >= (cc.min_samples ? cc.min_samples : 50);
		struct samples *base = parallel ? &v.parallel : &v.pre;
		struct canary_side bs = { base->v, base->n, base->errors }, cs = { v.canary.v, v.canary.n, v.canary.errors };
		struct canary_result res;
		canary_analyze(&cc, &bs, &cs, &res);
		struct buf js = BUF_INIT;
		canary_result_json(&res, &js);
		json_t *rj = json_loads(js.data, 0, NULL);
		char when[40];
		ooda_time_format(now, when, sizeof(when));
		json_object_set_new(rj, "deploy", json_string(id));
		json_object_set_new(rj, "baseline", json_string(parallel ? "previous version in parallel" :
									    "pre-deploy window"));
		json_object_set_new(rj, "window_seconds", json_integer((t0 + window < now ? window : now - t0) / OODA_NS_PER_SEC));
		json_object_set_new(rj, "checked_at", json_string(when));
		char *body = json_dumps(rj, JSON_COMPACT);
		char target[80];
		snprintf(target, sizeof(target), "deploy/%s", id);
		struct vdoc_write vw = { .kind = "verification", .key = id, .body = body, .body_len = strlen(body),
					 .expect_version = -1, .actor = "engine:canary", .rationale = res.reason,
					 .action = "deploy.verify", .target = target };
		rc = vdoc_put(c->store, c->sg, &vw, err);
		if (!rc) {
			buf_adds(out, body);
			char desc[400];
			snprintf(desc, sizeof(desc), "verification of %s %s: %s — %s", svc, v.version,
				 canary_verdict_name(res.verdict), res.reason);
			struct buf e2 = BUF_INIT;
			vdoc_event(c->tstore, "custom", svc, json_string_value(json_object_get(d, "environment")), v.version,
				   "engine:canary", desc, &e2);
			buf_release(&e2);
			if (res.verdict == CANARY_FAIL && c->verdict_fn)
				c->verdict_fn(c->verdict_ctx, "deploy-verify", id, svc,
					      json_string_value(json_object_get(d, "environment")), res.reason);
		}
		free(body);
		json_decref(rj);
		buf_release(&js);
	}
	free(v.canary.v);
	free(v.parallel.v);
	free(v.pre.v);
	json_decref(d);
	return rc;
}

/* Where each kind of object keeps its environment: a member, or a member of a member. */
static const struct {
	const char *kind, *outer, *member;
} env_of[] = {
	{ "deploy", NULL, "environment" },
	{ "rollback-run", "plan", "env" },
	{ "approval", NULL, "env" },
};

int change_object_env(struct change *c, const char *kind, const char *id, char env[64], struct buf *err)
{
	env[0] = '\0';
	for (size_t i = 0; i < sizeof(env_of) / sizeof(env_of[0]); i++) {
		if (strcmp(env_of[i].kind, kind))
			continue;
		struct vdoc d;
		int rc = vdoc_get(c->store, kind, id, 0, &d, err);
		if (rc)
			return rc;
		json_t *j = json_loadb(d.body, d.body_len, 0, NULL);
		vdoc_release(&d);
		json_t *o = env_of[i].outer ? json_object_get(j, env_of[i].outer) : j;
		const char *e = json_string_value(json_object_get(o, env_of[i].member));
		snprintf(env, 64, "%s", e ? e : "");
		json_decref(j);
		return 0;
	}
	buf_addf(err, "objects of kind %s have no environment", kind);
	return OODA_EINVAL;
}

/* The deploy and approvals sections each checked alone, for the config schema. */
static int change_section_check(const char *section_json, bool deploy, struct buf *err)
{
	json_t *j = json_loads(section_json, JSON_DECODE_ANY, NULL);
	if (json_is_null(j)) {
		json_decref(j);
		j = NULL;
	}
	struct change tmp = { 0 };
	int rc = change_configure(&tmp, deploy ? j : NULL, deploy ? NULL : j, false, err);
	json_decref(j);
	return rc;
}

int change_deploy_check(const char *section_json, struct buf *err)
{
	return change_section_check(section_json, true, err);
}

int change_approvals_check(const char *section_json, struct buf *err)
{
	return change_section_check(section_json, false, err);
}
