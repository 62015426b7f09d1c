/*
 * Helpers shared by the API handlers: JSON bodies in and out, query
 * parameters with limits, and the daemon behind a request.
 */
#ifndef OODA_API_H
#define OODA_API_H

#include <jansson.h>
#include <stdint.h>

#include "api/daemon.h"
#include "core/error.h"

static inline struct daemon *api_daemon(struct http_request *req)
{
	return req->app;
}

/*
 * Parses the body as a JSON object. Requires Content-Type application/json
 * (OODA_EUNSUPPORTED otherwise). Caller owns *out (json_decref).
 */
int api_json_body(struct http_request *req, json_t **out);

/* A string member: NULL if absent; OODA_EINVAL (detail in req->err) if not a string or too long. */
int api_json_str(struct http_request *req, json_t *obj, const char *key, size_t max, const char **out);

/* Query parameter as a time (RFC 3339, unix s/ms/ns, or a duration before now like "15m"). */
int api_query_time(struct http_request *req, const char *name, int64_t *out);

/* Query parameter as a limit in [1, max], default def. */
int api_query_limit(struct http_request *req, const char *name, size_t def, size_t max, size_t *out);

/* Serialises j into res as JSON with status; steals the reference. */
void api_send_json(struct http_response *res, int status, json_t *j);

/* Why, for the audit log: body "rationale", else X-Ooda-Rationale, else ?rationale=; "" if none. */
const char *api_rationale(struct http_request *req, json_t *body);

/* If-Match: "v3", "3" or W/"v3" → 3; absent or "*" → -1. OODA_EINVAL (detail in req->err) if malformed. */
int api_if_match(struct http_request *req, int64_t *v);

/*
 * A token scoped to an environment acts only there: 0 when the request's
 * token has no scope or env is its environment, else OODA_EFORBIDDEN with a
 * detail naming both. env NULL or "" (something spanning every
 * environment, like a service's migrations) is outside every scope.
 */
int api_env_allowed(struct http_request *req, const char *env);
/* Whether a list may show an item of env to this request's token (no detail). */
bool api_env_visible(const struct http_request *req, const char *env);

/*
 * Who did it: the authenticated identity. Only in open loopback mode, where
 * nobody is authenticated, does the client's claimed name (the CLI sends
 * cli:USER) stand in for "anonymous". Store the claimed name apart, as
 * reported_by, never as the actor.
 */
const char *api_actor(const struct http_request *req, const char *claimed);

#endif
