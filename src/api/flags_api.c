/*
 * Feature flags over HTTP: the management API (/api/v1/flags…: list, get
 * with ETag, put with If-Match, delete, history, diff, rollback, kill
 * switches, flagd import and export) and OFREP (/ofrep/v1/evaluate/flags
 * and /ofrep/v1/evaluate/flags/{key}), the protocol OpenFeature's OFREP
 * providers speak. The environment is `default` unless the request names
 * another (?env= for management, X-Ooda-Env for OFREP) or the token is
 * scoped to one, which then wins.
 *
 * An approval rule (class flag.change) protects a flag, not a verb: a PUT,
 * DELETE or rollback of a flag a rule covers — as it is now or as it would
 * be, so dropping its tags counts — files an approval request (202)
 * instead of acting, and an import that would change one is refused (409).
 * The kill switches stay immediate: they only ever disable, and they are
 * the emergency brake (docs/change.md).
 */
#include "api/api.h"
#include "api/handlers.h"
#include "change/flagstore.h"
#include "store/vdoc.h"
#include "core/time.h"

/* The environment of a request; a token scoped to an environment may not name another. */
static int request_env(struct http_request *req, bool ofrep, const char **env)
{
	const char *named = ofrep ? http_header(req, "X-Ooda-Env") : http_query(req, "env");
	const char *scope = req->who.env[0] ? req->who.env : NULL;
	if (scope && named && strcmp(named, scope)) {
		buf_addf(&req->err, "this token is scoped to environment %s and cannot use %s", scope, named);
		return OODA_EFORBIDDEN;
	}
	*env = scope ? scope : named && *named ? named : FLAG_ENV_DEFAULT;
	if (!flagstore_env_valid(*env)) {
		buf_addf(&req->err, "environment name %.80s is not valid: use letters, digits, '.', '_' or '-'", *env);
		return OODA_EINVAL;
	}
	return 0;
}

struct import_guard {
	struct change *chg;
	const char *env;
};

static bool import_protected(void *ctx, const char *key, const json_t *before, const json_t *after)
{
	(void)key;
	struct import_guard *g = ctx;
	int64_t exp;
	return approval_flag_protected(g->chg, g->env, before, after, &exp);
}

/* Files action (stolen) for approval instead of performing it: 202 with the request's id. */
static int file_approval(struct http_request *req, struct http_response *res, const char *env, json_t *action,
			 const char *rationale, int64_t exp)
{
	char id[48];
	int rc = approval_request(&api_daemon(req)->change, "flag.change", env, action, req->who.actor, rationale, exp,
				  id, &req->err);
	json_decref(action);
	if (!rc) {
		res->status = 202;
		buf_addf(&res->body, "{\"approval\":\"%s\",\"status\":\"pending approval\"}", id);
	}
	return rc;
}

static void set_etag(struct http_response *res, int64_t version)
{
	char tag[32];
	snprintf(tag, sizeof(tag), "\"v%lld\"", (long long)version);
	http_set_header(res, "ETag", tag);
}

/* ---- management --------------------------------------------------------- */

struct list_ctx {
	struct buf *out;
	size_t prefix_len;
	int n;
};

static int list_row(void *ctx, const void *row)
{
	const struct doc_row *r = row;
	struct list_ctx *c = ctx;
	json_t *def = json_loadb(r->body, r->body_len, 0, NULL);
	char when[40];
	ooda_time_format(r->time_ns, when, sizeof(when));
	json_t *item = json_pack("{s:s, s:I, s:s, s:s, s:s}", "key", r->key + c->prefix_len, "version",
				 (json_int_t)r->version, "updated", when, "author", r->author ? r->author : "",
				 "rationale", r->rationale ? r->rationale : "");
	json_t *state = json_object_get(def, "state"), *dv = json_object_get(def, "defaultVariant");
	json_object_set(item, "state", state ? state : json_string("ENABLED"));
	json_object_set(item, "defaultVariant", dv ? dv : json_null());
	json_t *variants = json_array();
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(def, "variants"), k, v)
		json_array_append_new(variants, json_string(k));
	json_object_set_new(item, "variants", variants);
	json_object_set_new(item, "targeting", json_boolean(json_object_size(json_object_get(def, "targeting")) > 0));
	json_t *svc = json_object_get(json_object_get(def, "metadata"), "service");
	if (svc)
		json_object_set(item, "service", svc);
	char *text = json_dumps(item, JSON_COMPACT);
	buf_adds(c->out, c->n++ ? "," : "");
	buf_adds(c->out, text);
	free(text);
	json_decref(item);
	json_decref(def);
	return 0;
}

int api_flags_list(struct http_request *req, struct http_response *res)
{
	const char *env = NULL;
	int rc = request_env(req, false, &env);
	if (rc)
		return rc;
	char prefix[80];
	snprintf(prefix, sizeof(prefix), "%s/", env);
	struct list_ctx c = { &res->body, strlen(prefix), 0 };
	buf_adds(&res->body, "{\"env\":");
	buf_add_json_str(&res->body, env, strlen(env));
	buf_adds(&res->body, ",\"flags\":[");
	rc = vdoc_list(api_daemon(req)->store, "flag", prefix, list_row, &c);
	buf_adds(&res->body, "]}");
	return rc;
}

static void flag_doc_key(char *out, size_t n, const char *env, const char *key)
{
	snprintf(out, n, "%s/%s", env, key);
}

int api_flag_get(struct http_request *req, struct http_response *res)
{
	const char *env, *key = http_param(req, "key");
	int rc = request_env(req, false, &env);
	if (rc)
		return rc;
	char k[400];
	flag_doc_key(k, sizeof(k), env, key);
	const char *vq = http_query(req, "version");
	struct vdoc d;
	if ((rc = vdoc_get(api_daemon(req)->store, "flag", k, vq ? strtoll(vq, NULL, 10) : 0, &d, &req->err)))
		return rc;
	if (d.deleted && !vq) {
		vdoc_release(&d);
		buf_addf(&req->err, "flag %s was deleted in %s (its history remains)", key, env);
		return OODA_ENOTFOUND;
	}
	char when[40];
	ooda_time_format(d.time_ns, when, sizeof(when));
	buf_adds(&res->body, "{\"key\":");
	buf_add_json_str(&res->body, key, strlen(key));
	buf_adds(&res->body, ",\"env\":");
	buf_add_json_str(&res->body, env, strlen(env));
	buf_addf(&res->body, ",\"version\":%lld,\"updated\":\"%s\",\"deleted\":%s,\"author\":", (long long)d.version, when,
		 d.deleted ? "true" : "false");
	buf_add_json_str(&res->body, d.author, strlen(d.author));
	buf_adds(&res->body, ",\"rationale\":");
	buf_add_json_str(&res->body, d.rationale, strlen(d.rationale));
	buf_adds(&res->body, ",\"definition\":");
	buf_add(&res->body, d.deleted ? "null" : d.body, d.deleted ? 4 : d.body_len);
	buf_addch(&res->body, '}');
	set_etag(res, d.version);
	vdoc_release(&d);
	return 0;
}

int api_flag_put(struct http_request *req, struct http_response *res)
{
	const char *env = NULL;
	int rc = request_env(req, false, &env);
	json_t *body = NULL;
	if (!rc)
		rc = api_json_body(req, &body);
	struct flag_change c = { .env = env, .key = http_param(req, "key"), .actor = req->who.actor };
	if (!rc)
		rc = api_if_match(req, &c.expect_version);
	if (rc) {
		json_decref(body);
		return rc;
	}
	/* either the definition itself or {"definition": …, "rationale": …} */
	json_t *def = json_object_get(body, "definition");
	if (!def)
		def = body;
	c.rationale = api_rationale(req, body);
	/* a change of a protected flag (as it is, or as it would be) becomes an approval request */
	int64_t exp = 0;
	json_t *before = flagstore_def(api_daemon(req)->store, env, c.key, 0);
	bool needs = approval_flag_protected(&api_daemon(req)->change, env, before, def, &exp);
	json_decref(before);
	if (needs) {
		rc = file_approval(req, res, env,
				   json_pack("{s:s, s:s, s:s, s:O}", "type", "flag.put", "env", env, "key", c.key,
					     "definition", def),
				   c.rationale, exp);
		json_decref(body);
		return rc;
	}
	rc = flagstore_put(api_daemon(req)->flags, &c, def, &req->err);
	if (!rc) {
		buf_addf(&res->body, "{\"key\":\"%s\",\"env\":\"%s\",\"version\":%lld}", c.key, env, (long long)c.version);
		set_etag(res, c.version);
	}
	json_decref(body);
	return rc;
}

int api_flag_delete(struct http_request *req, struct http_response *res)
{
	const char *env = NULL;
	int rc = request_env(req, false, &env);
	struct flag_change c = { .env = env, .key = http_param(req, "key"), .actor = req->who.actor,
				 .rationale = api_rationale(req, NULL) };
	if (!rc)
		rc = api_if_match(req, &c.expect_version);
	if (rc)
		return rc;
	int64_t exp = 0;
	json_t *before = flagstore_def(api_daemon(req)->store, env, c.key, 0);
	bool needs = approval_flag_protected(&api_daemon(req)->change, env, before, NULL, &exp);
	json_decref(before);
	if (needs)
		return file_approval(req, res, env,
				     json_pack("{s:s, s:s, s:s}", "type", "flag.delete", "env", env, "key", c.key),
				     c.rationale, exp);
	rc = flagstore_delete(api_daemon(req)->flags, &c, &req->err);
	if (!rc)
		buf_addf(&res->body, "{\"key\":\"%s\",\"env\":\"%s\",\"version\":%lld,\"deleted\":true}", c.key, env,
			 (long long)c.version);
	return rc;
}

int api_flag_history(struct http_request *req, struct http_response *res)
{
	const char *env = NULL;
	int rc = request_env(req, false, &env);
	if (rc)
		return rc;
	char k[400];
	flag_doc_key(k, sizeof(k), env, http_param(req, "key"));
	buf_adds(&res->body, "{\"versions\":");
	rc = vdoc_history_json(api_daemon(req)->store, "flag", k, true, &res->body, &req->err);
	buf_addch(&res->body, '}');
	return rc;
}

/* Shared by flags and configs: diff of two versions as text lines. */
int api_doc_diff(struct http_request *req, struct http_response *res, const char *kind, const char *key)
{
	const char *f = http_query(req, "from"), *t = http_query(req, "to");
	if (!f || !t) {
		buf_adds(&req->err, "diff needs ?from=N&to=M (versions)");
		return OODA_EINVAL;
	}
	struct vdoc a, b;
	struct store *s = api_daemon(req)->store;
	int rc = vdoc_get(s, kind, key, strtoll(f + (*f == 'v'), NULL, 10), &a, &req->err);
	if (rc)
		return rc;
	rc = vdoc_get(s, kind, key, strtoll(t + (*t == 'v'), NULL, 10), &b, &req->err);
	if (!rc) {
		struct buf d = BUF_INIT;
		vdoc_diff(a.deleted ? "null" : a.body, a.deleted ? 4 : a.body_len, b.deleted ? "null" : b.body,
			  b.deleted ? 4 : b.body_len, &d);
		buf_addf(&res->body, "{\"from\":%lld,\"to\":%lld,\"diff\":", (long long)a.version, (long long)b.version);
		buf_add_json_str(&res->body, d.data, d.len);
		buf_addch(&res->body, '}');
		buf_release(&d);
		vdoc_release(&b);
	}
	vdoc_release(&a);
	return rc;
}

int api_flag_diff(struct http_request *req, struct http_response *res)
{
	const char *env = NULL;
	int rc = request_env(req, false, &env);
	if (rc)
		return rc;
	char k[400];
	flag_doc_key(k, sizeof(k), env, http_param(req, "key"));
	return api_doc_diff(req, res, "flag", k);
}

int api_flag_rollback(struct http_request *req, struct http_response *res)
{
	const char *env = NULL;
	json_t *body = NULL;
	int rc = request_env(req, false, &env);
	if (!rc)
		rc = api_json_body(req, &body);
	if (rc)
		return rc;
	json_t *to = json_object_get(body, "to");
	int64_t v = json_is_integer(to) ? json_integer_value(to) :
		    json_is_string(to) ? strtoll(json_string_value(to) + (json_string_value(to)[0] == 'v'), NULL, 10) : 0;
	if (v <= 0) {
		json_decref(body);
		buf_adds(&req->err, "rollback needs {\"to\": VERSION}");
		return OODA_EINVAL;
	}
	struct flag_change c = { .env = env, .key = http_param(req, "key"), .actor = req->who.actor,
				 .rationale = api_rationale(req, body), .expect_version = -1 };
	int64_t exp = 0;
	json_t *before = flagstore_def(api_daemon(req)->store, env, c.key, 0), *after = flagstore_def(api_daemon(req)->store, env, c.key, v);
	bool needs = approval_flag_protected(&api_daemon(req)->change, env, before, after, &exp);
	json_decref(before);
	json_decref(after);
	if (needs) {
		rc = file_approval(req, res, env,
				   json_pack("{s:s, s:s, s:s, s:I}", "type", "flag.rollback", "env", env, "key", c.key, "to",
					     (json_int_t)v),
				   c.rationale, exp);
		json_decref(body);
		return rc;
	}
	rc = flagstore_rollback(api_daemon(req)->flags, &c, v, &req->err);
	if (!rc)
		buf_addf(&res->body, "{\"key\":\"%s\",\"env\":\"%s\",\"version\":%lld,\"restored\":%lld}", c.key, env,
			 (long long)c.version, (long long)v);
	json_decref(body);
	return rc;
}

int api_flag_kill(struct http_request *req, struct http_response *res)
{
	const char *env = NULL;
	int rc = request_env(req, false, &env);
	if (rc)
		return rc;
	buf_adds(&res->body, "{\"disabled\":");
	rc = flagstore_kill(api_daemon(req)->flags, env, http_param(req, "key"), NULL, 0, req->who.actor,
			    api_rationale(req, NULL), &res->body, &req->err);
	buf_addch(&res->body, '}');
	return rc;
}

int api_flags_kill_service(struct http_request *req, struct http_response *res)
{
	const char *env = NULL;
	json_t *body = NULL;
	int rc = request_env(req, false, &env);
	if (!rc)
		rc = api_json_body(req, &body);
	if (rc)
		return rc;
	const char *service = json_string_value(json_object_get(body, "service"));
	const char *since = json_string_value(json_object_get(body, "since"));
	int64_t d = 3600 * OODA_NS_PER_SEC;
	if (!service) {
		buf_adds(&req->err, "the service kill switch needs {\"service\": NAME, \"since\": \"1h\"}");
		rc = OODA_EINVAL;
	} else if (since && ooda_duration_parse(since, strlen(since), &d)) {
		buf_addf(&req->err, "since %.40s is not a duration like 1h", since);
		rc = OODA_EINVAL;
	}
	if (!rc) {
		buf_adds(&res->body, "{\"disabled\":");
		rc = flagstore_kill(api_daemon(req)->flags, env, NULL, service, ooda_now_ns() - d, req->who.actor,
				    api_rationale(req, body), &res->body, &req->err);
		buf_addch(&res->body, '}');
	}
	json_decref(body);
	return rc;
}

int api_flags_import(struct http_request *req, struct http_response *res)
{
	const char *env = NULL;
	int rc = request_env(req, false, &env);
	if (rc)
		return rc;
	const char *rep = http_query(req, "replace"), *strict = http_query(req, "strict");
	int changed = 0;
	struct import_guard g = { &api_daemon(req)->change, env };
	rc = flagstore_import(api_daemon(req)->flags, env, req->body, req->body_len, rep && !strcmp(rep, "true"),
			      !strict || strcmp(strict, "false"), req->who.actor, api_rationale(req, NULL),
			      import_protected, &g, &changed, &req->err);
	if (!rc)
		buf_addf(&res->body, "{\"env\":\"%s\",\"changed\":%d}", env, changed);
	return rc;
}

int api_flags_export(struct http_request *req, struct http_response *res)
{
	const char *env = NULL;
	int rc = request_env(req, false, &env);
	json_t *doc;
	if (!rc)
		rc = flagstore_export(api_daemon(req)->flags, env, &doc, &req->err);
	if (!rc)
		api_send_json(res, 200, doc);
	return rc;
}

/* ---- OFREP -------------------------------------------------------------- */

static void ofrep_error(struct http_response *res, int status, const char *key, const char *code, const char *detail)
{
	buf_reset(&res->body);
	res->status = status;
	buf_addch(&res->body, '{');
	if (key) {
		buf_adds(&res->body, "\"key\":");
		buf_add_json_str(&res->body, key, strlen(key));
		buf_addch(&res->body, ',');
	}
	buf_addf(&res->body, "\"errorCode\":\"%s\",\"errorDetails\":", code);
	buf_add_json_str(&res->body, detail, strlen(detail));
	buf_addch(&res->body, '}');
}

/* The evaluation context of an OFREP body ({"context": {…}}); NULL + error response on failure. */
static json_t *ofrep_context(struct http_request *req, struct http_response *res, const char *key)
{
	if (!req->body_len)
		return json_object();
	json_error_t je;
	json_t *body = json_loadb(req->body, req->body_len, 0, &je);
	if (!body || !json_is_object(body)) {
		char detail[200];
		snprintf(detail, sizeof(detail), "the body is not a JSON object: %s", body ? "wrong type" : je.text);
		ofrep_error(res, 400, key, "PARSE_ERROR", detail);
		json_decref(body);
		return NULL;
	}
	json_t *ctx = json_object_get(body, "context");
	if (ctx && !json_is_object(ctx)) {
		ofrep_error(res, 400, key, "INVALID_CONTEXT", "context must be a JSON object");
		json_decref(body);
		return NULL;
	}
	json_t *out = ctx ? json_incref(ctx) : json_object();
	json_decref(body);
	return out;
}

/* One evaluation success. A result without a value (DISABLED, or DEFAULT with no default
 * variant) has no "value" member: the client uses its code default. */
static void result_json(struct buf *b, const char *key, const struct flag_result *r)
{
	buf_adds(b, "{\"key\":");
	buf_add_json_str(b, key, strlen(key));
	if (r->value) {
		char *v = json_dumps(r->value, JSON_COMPACT | JSON_ENCODE_ANY);
		buf_addf(b, ",\"value\":%s", v);
		free(v);
	}
	buf_addf(b, ",\"reason\":\"%s\"", flag_reason_name(r->reason));
	if (r->variant) {
		buf_adds(b, ",\"variant\":");
		buf_add_json_str(b, r->variant, strlen(r->variant));
	}
	char *m = json_dumps(r->metadata ? r->metadata : json_object(), JSON_COMPACT);
	buf_addf(b, ",\"metadata\":%s}", m);
	free(m);
}

int api_ofrep_flag(struct http_request *req, struct http_response *res)
{
	const char *env, *key = http_param(req, "key");
	int rc = request_env(req, true, &env);
	if (rc)
		return rc;
	json_t *ctx = ofrep_context(req, res, key);
	if (!ctx)
		return 0;
	struct flag_env_ref *ref;
	if ((rc = flagstore_acquire(api_daemon(req)->flags, env, &ref, &req->err))) {
		json_decref(ctx);
		return rc;
	}
	struct flag_result r;
	flag_evaluate(ref->fs, key, ctx, &r);
	flag_counts_add(&api_daemon(req)->flag_counts, key, r.reason, r.error != FLAG_ERROR_FLAG_NOT_FOUND);
	if (r.error == FLAG_ERROR_FLAG_NOT_FOUND) {
		char detail[300];
		snprintf(detail, sizeof(detail), "flag %.200s is not defined in environment %s", key, env);
		ofrep_error(res, 404, key, "FLAG_NOT_FOUND", detail);
	} else if (r.error != FLAG_ERROR_NONE) {
		ofrep_error(res, 400, key, flag_error_name(r.error), r.message);
	} else {
		/* DISABLED, or DEFAULT without a default variant, is a success without a value: the
		 * caller's code default applies (OFREP's evaluation success as flagd >= 0.16 sends it) */
		result_json(&res->body, key, &r);
	}
	flagstore_release(ref);
	json_decref(ctx);
	return 0;
}

int api_ofrep_bulk(struct http_request *req, struct http_response *res)
{
	const char *env = NULL;
	int rc = request_env(req, true, &env);
	if (rc)
		return rc;
	json_t *ctx = ofrep_context(req, res, NULL);
	if (!ctx)
		return 0;
	struct flag_env_ref *ref;
	if ((rc = flagstore_acquire(api_daemon(req)->flags, env, &ref, &req->err))) {
		json_decref(ctx);
		return rc;
	}
	/* The ETag covers the flag set and the context: same inputs, same answers. */
	char *ctext = json_dumps(ctx, JSON_COMPACT | JSON_SORT_KEYS);
	char digest[65], etag[80];
	struct buf in = BUF_INIT;
	buf_adds(&in, flag_set_etag(ref->fs));
	buf_adds(&in, ctext);
	audit_digest_hex(in.data, in.len, digest);
	snprintf(etag, sizeof(etag), "\"%.32s\"", digest);
	buf_release(&in);
	free(ctext);
	const char *inm = http_header(req, "If-None-Match");
	if (inm && strstr(inm, etag)) {
		res->status = 304;
		buf_reset(&res->body);
	} else {
		buf_adds(&res->body, "{\"flags\":[");
		int n = 0;
		for (size_t i = 0; i < flag_set_count(ref->fs); i++) {
			const char *key = flag_set_key(ref->fs, i);
			struct flag_result r;
			flag_evaluate(ref->fs, key, ctx, &r);
			flag_counts_add(&api_daemon(req)->flag_counts, key, r.reason, r.error != FLAG_ERROR_FLAG_NOT_FOUND);
			buf_adds(&res->body, n++ ? "," : "");
			if (r.error != FLAG_ERROR_NONE) {
				buf_adds(&res->body, "{\"key\":");
				buf_add_json_str(&res->body, key, strlen(key));
				buf_addf(&res->body, ",\"errorCode\":\"%s\",\"errorDetails\":", flag_error_name(r.error));
				buf_add_json_str(&res->body, r.message, strlen(r.message));
				buf_addch(&res->body, '}');
			} else {
				result_json(&res->body, key, &r);
			}
		}
		buf_adds(&res->body, "]}");
	}
	http_set_header(res, "ETag", etag);
	flagstore_release(ref);
	json_decref(ctx);
	return 0;
}

int api_ofrep_configuration(struct http_request *req, struct http_response *res)
{
	(void)req;
	buf_adds(&res->body, "{\"name\":\"ooda\",\"capabilities\":{\"cacheInvalidation\":{\"polling\":{\"enabled\":true,"
			     "\"minPollingIntervalMs\":1000}},\"flagEvaluation\":{\"supportedTypes\":[\"int\",\"float\","
			     "\"string\",\"boolean\",\"object\"]}}}");
	return 0;
}
