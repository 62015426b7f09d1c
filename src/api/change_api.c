/*
 * The change stage over HTTP: config sets (with ETag for pollers and
 * If-Match for writers), config schemas, the deploy and migration
 * registry, canary verification, rollback plans and runs, approvals and
 * progressive rollouts.
 * Thin adapters over change/change.h. A token scoped to an environment
 * reaches only that environment: routes naming one check it, routes naming
 * an object by id check the object's, lists leave the others out, and what
 * spans every environment (schemas, migrations) is out of its reach.
 */
#include "api/api.h"
#include "api/handlers.h"
#include "change/change.h"
#include "change/rollout.h"
#include "store/vdoc.h"
#include "core/time.h"

static struct change *chg(struct http_request *req)
{
	return &api_daemon(req)->change;
}

/* A deploy, rollback run or approval (kind) by id, checked against the token's environment. */
static int object_in_scope(struct http_request *req, const char *kind, const char *id)
{
	if (!req->who.env[0])
		return 0;
	char env[64];
	int rc = change_object_env(chg(req), kind, id, env, &req->err);
	return rc ? rc : api_env_allowed(req, env);
}

/* The environment a list is narrowed to: the token's, or NULL for all. */
static const char *list_env(struct http_request *req)
{
	return req->who.env[0] ? req->who.env : NULL;
}

/* ---- config sets -------------------------------------------------------- */

struct cfg_list {
	struct buf *out;
	struct http_request *req;
	int n;
};

static int cfg_row(void *ctx, const void *row)
{
	const struct doc_row *r = row;
	struct cfg_list *l = ctx;
	char when[40];
	ooda_time_format(r->time_ns, when, sizeof(when));
	const char *slash = strchr(r->key, '/');
	if (!slash || !api_env_visible(l->req, slash + 1))
		return 0;
	buf_addf(l->out, "%s{\"service\":", l->n++ ? "," : "");
	buf_add_json_str(l->out, r->key, (size_t)(slash - r->key));
	buf_adds(l->out, ",\"env\":");
	buf_add_json_str(l->out, slash + 1, strlen(slash + 1));
	buf_addf(l->out, ",\"version\":%lld,\"updated\":\"%s\",\"author\":", (long long)r->version, when);
	buf_add_json_str(l->out, r->author, strlen(r->author));
	buf_addch(l->out, '}');
	return 0;
}

int api_configs_list(struct http_request *req, struct http_response *res)
{
	struct cfg_list l = { &res->body, req, 0 };
	buf_adds(&res->body, "{\"configs\":[");
	int rc = vdoc_list(api_daemon(req)->store, "config", http_query(req, "service") ? http_query(req, "service") : "",
			   cfg_row, &l);
	buf_adds(&res->body, "]}");
	return rc;
}

static void cfg_key(struct http_request *req, char *out, size_t n)
{
	snprintf(out, n, "%s/%s", http_param(req, "service"), http_param(req, "env"));
}

int api_config_get(struct http_request *req, struct http_response *res)
{
	int rc = api_env_allowed(req, http_param(req, "env"));
	if (rc)
		return rc;
	char key[300];
	cfg_key(req, key, sizeof(key));
	const char *vq = http_query(req, "version");
	struct vdoc d;
	rc = vdoc_get(api_daemon(req)->store, "config", key, vq ? strtoll(vq + (*vq == 'v'), NULL, 10) : 0, &d,
		      &req->err);
	if (rc)
		return rc;
	char tag[32];
	snprintf(tag, sizeof(tag), "\"v%lld\"", (long long)d.version);
	http_set_header(res, "ETag", tag);
	char ver[24];
	snprintf(ver, sizeof(ver), "%lld", (long long)d.version);
	http_set_header(res, "X-Ooda-Version", ver);
	const char *inm = http_header(req, "If-None-Match");
	if (inm && strstr(inm, tag)) {
		res->status = 304;
		vdoc_release(&d);
		return 0;
	}
	json_t *j = json_loadb(d.body, d.body_len, 0, NULL);
	vdoc_release(&d);
	const char *fmt = json_string_value(json_object_get(j, "format"));
	const char *want = http_query(req, "format");
	if (want && !strcmp(want, "json")) {
		char *t = json_dumps(json_object_get(j, "data"), JSON_COMPACT | JSON_ENCODE_ANY);
		buf_adds(&res->body, t);
		free(t);
	} else {
		json_t *c = json_object_get(j, "content");
		buf_add(&res->body, json_string_value(c), json_string_length(c));
		if (fmt && !strcmp(fmt, "yaml"))
			res->content_type = "application/yaml";
	}
	json_decref(j);
	return 0;
}

int api_config_put(struct http_request *req, struct http_response *res)
{
	if (api_env_allowed(req, http_param(req, "env")))
		return OODA_EFORBIDDEN;
	const char *ct = http_header(req, "Content-Type");
	const char *fmt = NULL;
	if (ct && !strncasecmp(ct, "application/json", 16))
		fmt = "json";
	else if (ct && (!strncasecmp(ct, "application/yaml", 16) || !strncasecmp(ct, "application/x-yaml", 18) ||
			!strncasecmp(ct, "text/yaml", 9)))
		fmt = "yaml";
	if (!fmt) {
		buf_addf(&req->err, "send the config as application/json or application/yaml, not %s", ct ? ct : "(none)");
		return OODA_EUNSUPPORTED;
	}
	struct config_put p = { .service = http_param(req, "service"), .env = http_param(req, "env"),
				.content = req->body, .len = req->body_len, .format = fmt, .actor = req->who.actor,
				.rationale = api_rationale(req, NULL) };
	int rc = api_if_match(req, &p.expect_version);
	if (!rc)
		rc = config_put(chg(req), &p, &req->err);
	if (!rc) {
		buf_addf(&res->body, "{\"service\":\"%s\",\"env\":\"%s\",\"version\":%lld}", p.service, p.env,
			 (long long)p.version);
		char tag[32];
		snprintf(tag, sizeof(tag), "\"v%lld\"", (long long)p.version);
		http_set_header(res, "ETag", tag);
	}
	return rc;
}

int api_config_history(struct http_request *req, struct http_response *res)
{
	int rc = api_env_allowed(req, http_param(req, "env"));
	if (rc)
		return rc;
	char key[300];
	cfg_key(req, key, sizeof(key));
	buf_adds(&res->body, "{\"versions\":");
	rc = vdoc_history_json(api_daemon(req)->store, "config", key, false, &res->body, &req->err);
	buf_addch(&res->body, '}');
	return rc;
}

int api_config_diff(struct http_request *req, struct http_response *res)
{
	if (api_env_allowed(req, http_param(req, "env")))
		return OODA_EFORBIDDEN;
	char key[300];
	cfg_key(req, key, sizeof(key));
	/* diff the documents' data, not their wrappers */
	const char *f = http_query(req, "from"), *t = http_query(req, "to");
	if (!f || !t) {
		buf_adds(&req->err, "diff needs ?from=N&to=M (versions)");
		return OODA_EINVAL;
	}
	struct vdoc a, b;
	struct store *s = api_daemon(req)->store;
	int rc = vdoc_get(s, "config", key, strtoll(f + (*f == 'v'), NULL, 10), &a, &req->err);
	if (rc)
		return rc;
	if ((rc = vdoc_get(s, "config", key, strtoll(t + (*t == 'v'), NULL, 10), &b, &req->err))) {
		vdoc_release(&a);
		return rc;
	}
	json_t *ja = json_loadb(a.body, a.body_len, 0, NULL), *jb = json_loadb(b.body, b.body_len, 0, NULL);
	char *da = json_dumps(json_object_get(ja, "data"), JSON_COMPACT | JSON_ENCODE_ANY);
	char *db = json_dumps(json_object_get(jb, "data"), JSON_COMPACT | JSON_ENCODE_ANY);
	struct buf d = BUF_INIT;
	vdoc_diff(da, strlen(da), db, strlen(db), &d);
	buf_addf(&res->body, "{\"from\":%lld,\"to\":%lld,\"diff\":", (long long)a.version, (long long)b.version);
	buf_add_json_str(&res->body, d.data, d.len);
	buf_addch(&res->body, '}');
	buf_release(&d);
	free(da);
	free(db);
	json_decref(ja);
	json_decref(jb);
	vdoc_release(&a);
	vdoc_release(&b);
	return 0;
}

static int64_t to_version(json_t *body)
{
	json_t *to = json_object_get(body, "to");
	if (json_is_integer(to))
		return json_integer_value(to);
	if (json_is_string(to))
		return strtoll(json_string_value(to) + (json_string_value(to)[0] == 'v'), NULL, 10);
	return 0;
}

int api_config_rollback(struct http_request *req, struct http_response *res)
{
	json_t *body;
	int rc = api_env_allowed(req, http_param(req, "env"));
	if (!rc)
		rc = api_json_body(req, &body);
	if (rc)
		return rc;
	int64_t to = to_version(body), v = 0;
	if (to <= 0) {
		buf_adds(&req->err, "rollback needs {\"to\": VERSION}");
		rc = OODA_EINVAL;
	} else {
		rc = config_rollback(chg(req), http_param(req, "service"), http_param(req, "env"), to, req->who.actor,
				     api_rationale(req, body), &v, &req->err);
	}
	if (!rc)
		buf_addf(&res->body, "{\"version\":%lld,\"restored\":%lld}", (long long)v, (long long)to);
	json_decref(body);
	return rc;
}

int api_config_schema_put(struct http_request *req, struct http_response *res)
{
	int rc = api_env_allowed(req, NULL); /* a schema binds the service in every environment */
	if (rc)
		return rc;
	rc = config_schema_put(chg(req), http_param(req, "service"), req->body, req->body_len, req->who.actor,
				   api_rationale(req, NULL), &req->err);
	if (!rc)
		buf_adds(&res->body, "{\"ok\":true}");
	return rc;
}

/* ---- deploys, migrations, verification, rollbacks ------------------------ */

int api_deploy_record(struct http_request *req, struct http_response *res)
{
	json_t *body;
	int rc = api_json_body(req, &body);
	if (rc)
		return rc;
	json_t *m = json_object_get(body, "migrations");
	size_t nm = json_array_size(m);
	const char **migs = xcalloc(nm + 1, sizeof(char *));
	for (size_t i = 0; i < nm; i++)
		migs[i] = json_string_value(json_array_get(m, i));
	const char *env = json_string_value(json_object_get(body, "environment"));
	if (!env)
		env = json_string_value(json_object_get(body, "env"));
	if (!env) /* unnamed: the token's environment, else default */
		env = req->who.env[0] ? req->who.env : "default";
	struct deploy_req r = { .service = json_string_value(json_object_get(body, "service")),
				.env = env,
				.version = json_string_value(json_object_get(body, "version")),
				.artifact = json_string_value(json_object_get(body, "artifact")),
				.config_version = json_integer_value(json_object_get(body, "config_version")),
				.migrations = migs, .n_migrations = nm,
				.actor = api_actor(req, json_string_value(json_object_get(body, "actor"))),
				.deployed_by = json_string_value(json_object_get(body, "actor")),
				.note = json_string_value(json_object_get(body, "note")) };
	rc = api_env_allowed(req, env);
	if (!rc && m && !json_is_array(m)) {
		buf_adds(&req->err, "migrations is a list of migration ids");
		rc = OODA_EINVAL;
	}
	if (!rc)
		rc = deploy_record(chg(req), &r, &req->err);
	if (!rc) {
		json_t *d;
		if (!deploy_get(chg(req), r.id, &d, &req->err))
			api_send_json(res, 201, d);
	}
	free(migs);
	json_decref(body);
	return rc;
}

int api_deploys_list(struct http_request *req, struct http_response *res)
{
	size_t limit;
	int rc = api_query_limit(req, "limit", 50, 1000, &limit);
	return rc ? rc : deploy_list_json(chg(req), http_query(req, "service"), list_env(req), limit, &res->body,
					  &req->err);
}

int api_deploy_get(struct http_request *req, struct http_response *res)
{
	json_t *d;
	int rc = object_in_scope(req, "deploy", http_param(req, "id"));
	if (!rc)
		rc = deploy_get(chg(req), http_param(req, "id"), &d, &req->err);
	if (!rc) {
		struct vdoc v;
		struct buf ignore = BUF_INIT;
		if (!vdoc_get(api_daemon(req)->store, "verification", http_param(req, "id"), 0, &v, &ignore))
			json_object_set_new(d, "verification", json_loadb(v.body, v.body_len, 0, NULL));
		vdoc_release(&v);
		buf_release(&ignore);
		api_send_json(res, 200, d);
	}
	return rc;
}

int api_deploy_verify(struct http_request *req, struct http_response *res)
{
	int rc = object_in_scope(req, "deploy", http_param(req, "id"));
	return rc ? rc : deploy_verify(chg(req), http_param(req, "id"), &res->body, &req->err);
}

int api_rollback_plan(struct http_request *req, struct http_response *res)
{
	const char *ai = http_query(req, "allow_irreversible");
	json_t *plan;
	int rc = object_in_scope(req, "deploy", http_param(req, "id"));
	if (rc)
		return rc;
	rc = rollback_plan(chg(req), http_param(req, "id"), ai && !strcmp(ai, "true"), &plan, &req->err);
	if (!rc)
		api_send_json(res, 200, plan);
	return rc;
}

int api_rollback_start(struct http_request *req, struct http_response *res)
{
	json_t *body;
	int rc = object_in_scope(req, "deploy", http_param(req, "id"));
	if (!rc)
		rc = api_json_body(req, &body);
	if (rc)
		return rc;
	char run[48], ap[48];
	bool allow = json_is_true(json_object_get(body, "allow_irreversible"));
	rc = rollback_start(chg(req), http_param(req, "id"), allow, false, req->who.actor, api_rationale(req, body), run,
			    ap, &req->err);
	if (!rc) {
		res->status = 202;
		if (ap[0]) {
			buf_addf(&res->body, "{\"approval\":\"%s\",\"status\":\"pending approval\"}", ap);
		} else {
			json_t *w = json_object_get(body, "wait");
			if (json_is_true(w))
				rollback_wait(chg(req), run, 60000);
			rc = rollback_run_json(chg(req), run, &res->body, &req->err);
		}
	}
	json_decref(body);
	return rc;
}

int api_rollback_get(struct http_request *req, struct http_response *res)
{
	const char *w = http_query(req, "wait");
	int rc = object_in_scope(req, "rollback-run", http_param(req, "id"));
	if (rc)
		return rc;
	if (w && !strcmp(w, "true"))
		rollback_wait(chg(req), http_param(req, "id"), 30000);
	return rollback_run_json(chg(req), http_param(req, "id"), &res->body, &req->err);
}

int api_migration_register(struct http_request *req, struct http_response *res)
{
	json_t *body;
	int rc = api_env_allowed(req, NULL); /* a migration belongs to the service in every environment */
	if (!rc)
		rc = api_json_body(req, &body);
	if (rc)
		return rc;
	rc = migration_register(chg(req), json_string_value(json_object_get(body, "service")),
				json_string_value(json_object_get(body, "id")),
				json_string_value(json_object_get(body, "up")),
				json_string_value(json_object_get(body, "down")),
				json_is_true(json_object_get(body, "reversible")), req->who.actor, &req->err);
	if (!rc) {
		res->status = 201;
		buf_adds(&res->body, "{\"ok\":true}");
	}
	json_decref(body);
	return rc;
}

struct mig_list {
	struct buf *out;
	int n;
};

static int mig_row(void *ctx, const void *row)
{
	const struct doc_row *r = row;
	struct mig_list *l = ctx;
	buf_adds(l->out, l->n++ ? "," : "");
	buf_add(l->out, r->body, r->body_len);
	return 0;
}

int api_migrations_list(struct http_request *req, struct http_response *res)
{
	char prefix[200] = "";
	if (http_query(req, "service"))
		snprintf(prefix, sizeof(prefix), "%s/", http_query(req, "service"));
	struct mig_list l = { &res->body, 0 };
	buf_adds(&res->body, "{\"migrations\":[");
	int rc = vdoc_list(api_daemon(req)->store, "migration", prefix, mig_row, &l);
	buf_adds(&res->body, "]}");
	return rc;
}

/* ---- approvals ---------------------------------------------------------- */

int api_approvals_list(struct http_request *req, struct http_response *res)
{
	return approval_list_json(chg(req), http_query(req, "status") ? http_query(req, "status") : "pending",
				  list_env(req), &res->body, &req->err);
}

static int decide(struct http_request *req, struct http_response *res, bool approve)
{
	json_t *body = NULL;
	int rc = object_in_scope(req, "approval", http_param(req, "id"));
	if (rc)
		return rc;
	if (req->body_len && api_json_body(req, &body))
		return OODA_EINVAL;
	rc = approval_decide(chg(req), http_param(req, "id"), approve, req->who.actor, api_rationale(req, body),
				 &res->body, &req->err);
	json_decref(body);
	return rc;
}

int api_approval_approve(struct http_request *req, struct http_response *res)
{
	return decide(req, res, true);
}

int api_approval_reject(struct http_request *req, struct http_response *res)
{
	return decide(req, res, false);
}

/* ---- progressive rollouts ----------------------------------------------- */

/* A rollout by id, checked against the token's environment. */
static int rollout_in_scope(struct http_request *req, const char *id)
{
	if (!req->who.env[0])
		return 0;
	char env[64];
	int rc = rollout_env(chg(req), id, env, &req->err);
	return rc ? rc : api_env_allowed(req, env);
}

int api_rollout_start(struct http_request *req, struct http_response *res)
{
	json_t *plan;
	int rc = rollout_plan_load(req->body ? req->body : "", req->body_len, &plan, &req->err);
	if (rc)
		return rc;
	/* a deploy rollout's environment is the deploy's */
	char denv[64] = "";
	if (json_object_get(plan, "deploy"))
		rc = change_object_env(chg(req), "deploy", json_string_value(json_object_get(plan, "deploy")), denv,
				       &req->err);
	if (!rc)
		rc = api_env_allowed(req, denv[0] ? denv : json_string_value(json_object_get(plan, "env")));
	char id[48];
	if (!rc)
		rc = rollout_start(chg(req), plan, req->who.actor, api_rationale(req, plan), id, &req->err);
	if (!rc) {
		res->status = 201;
		rc = rollout_json(chg(req), id, &res->body, &req->err);
	}
	json_decref(plan);
	return rc;
}

int api_rollouts_list(struct http_request *req, struct http_response *res)
{
	size_t limit;
	int rc = api_query_limit(req, "limit", 100, 1000, &limit);
	return rc ? rc : rollout_list_json(chg(req), http_query(req, "status"), list_env(req), limit, &res->body, &req->err);
}

int api_rollout_get(struct http_request *req, struct http_response *res)
{
	int rc = rollout_in_scope(req, http_param(req, "id"));
	return rc ? rc : rollout_json(chg(req), http_param(req, "id"), &res->body, &req->err);
}

/* promote or abort: {rationale} */
static int rollout_verb(struct http_request *req, struct http_response *res, bool promote)
{
	json_t *body;
	int rc = rollout_in_scope(req, http_param(req, "id"));
	if (!rc)
		rc = api_json_body(req, &body);
	if (rc)
		return rc;
	const char *why = api_rationale(req, body);
	rc = promote ? rollout_promote(chg(req), http_param(req, "id"), req->who.actor, why, &res->body, &req->err) :
		       rollout_abort(chg(req), http_param(req, "id"), req->who.actor, why, &res->body, &req->err);
	json_decref(body);
	return rc;
}

int api_rollout_promote(struct http_request *req, struct http_response *res)
{
	return rollout_verb(req, res, true);
}

int api_rollout_abort(struct http_request *req, struct http_response *res)
{
	return rollout_verb(req, res, false);
}
