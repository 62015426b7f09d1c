/* Shared helpers of the API handlers (see api.h). */
#include "api/api.h"
#include "core/time.h"

#include <strings.h>

int api_json_body(struct http_request *req, json_t **out)
{
	const char *ct = http_header(req, "Content-Type");
	if (!ct || strncasecmp(ct, "application/json", 16)) {
		buf_addf(&req->err, "expected Content-Type application/json, got %s", ct ? ct : "none");
		return OODA_EUNSUPPORTED;
	}
	json_error_t je;
	json_t *j = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &je);
	if (!j) {
		buf_addf(&req->err, "invalid JSON at line %d column %d: %s", je.line, je.column, je.text);
		return OODA_EPARSE;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		buf_adds(&req->err, "the body must be a JSON object");
		return OODA_EINVAL;
	}
	*out = j;
	return 0;
}

int api_json_str(struct http_request *req, json_t *obj, const char *key, size_t max, const char **out)
{
	json_t *v = json_object_get(obj, key);
	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v)) {
		buf_addf(&req->err, "%s: expected a string", key);
		return OODA_EINVAL;
	}
	if (json_string_length(v) > max) {
		buf_addf(&req->err, "%s: longer than %zu characters", key, max);
		return OODA_EINVAL;
	}
	*out = json_string_value(v);
	return 0;
}

int api_query_time(struct http_request *req, const char *name, int64_t *out)
{
	const char *v = http_query(req, name);
	if (!v)
		return OODA_ENOTFOUND;
	size_t n = strlen(v);
	int64_t d;
	if (!ooda_time_parse(v, n, out))
		return 0;
	if (!ooda_duration_parse(v, n, &d)) {
		*out = ooda_now_ns() - d;
		return 0;
	}
	buf_addf(&req->err, "%s: \"%s\" is not a time (RFC 3339, unix seconds/ms/ns) or a duration such as 15m",
		 name, v);
	return OODA_EINVAL;
}

int api_query_limit(struct http_request *req, const char *name, size_t def, size_t max, size_t *out)
{
	const char *v = http_query(req, name);
	*out = def;
	if (!v)
		return 0;
	char *end;
	long long n = strtoll(v, &end, 10);
	if (*end || n < 1 || (unsigned long long)n > max) {
		buf_addf(&req->err, "%s: expected an integer from 1 to %zu", name, max);
		return OODA_EINVAL;
	}
	*out = (size_t)n;
	return 0;
}

void api_send_json(struct http_response *res, int status, json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	struct buf b = BUF_INIT;
	if (s) {
		buf_adds(&b, s);
		free(s);
	}
	http_json(res, status, &b);
}

const char *api_rationale(struct http_request *req, json_t *body)
{
	const char *r = body ? json_string_value(json_object_get(body, "rationale")) : NULL;
	if (!r)
		r = http_header(req, "X-Ooda-Rationale");
	if (!r)
		r = http_query(req, "rationale");
	return r ? r : "";
}

int api_if_match(struct http_request *req, int64_t *v)
{
	const char *h = http_header(req, "If-Match");
	*v = -1;
	if (!h || !strcmp(h, "*"))
		return 0;
	while (*h && !(*h >= '0' && *h <= '9'))
		h++;
	char *end;
	long long n = strtoll(h, &end, 10);
	if (end == h || n < 0) {
		buf_adds(&req->err, "If-Match must carry a version ETag like \"v3\"");
		return OODA_EINVAL;
	}
	*v = n;
	return 0;
}

int api_env_allowed(struct http_request *req, const char *env)
{
	const char *scope = req->who.env;
	if (!scope[0] || (env && !strcmp(env, scope)))
		return 0;
	if (env && *env)
		buf_addf(&req->err, "this token is scoped to environment %s and cannot use %.80s", scope, env);
	else
		buf_addf(&req->err, "this token is scoped to environment %s and cannot use what spans every environment",
			 scope);
	return OODA_EFORBIDDEN;
}

bool api_env_visible(const struct http_request *req, const char *env)
{
	return !req->who.env[0] || (env && !strcmp(env, req->who.env));
}

const char *api_actor(const struct http_request *req, const char *claimed)
{
	if (!strcmp(req->who.actor, "anonymous") && claimed && *claimed && strlen(claimed) <= 128)
		return claimed;
	return req->who.actor;
}
