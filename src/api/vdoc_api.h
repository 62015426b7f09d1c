/*
 * The versioned documents of the remedy stage over HTTP — remediation
 * policies and runbooks — through one handler set: read one (with the
 * history of its versions), apply the next version, diff two versions,
 * roll back to an earlier one. Each kind is a descriptor naming its
 * functions in remedy/; the resource files (remedy_api.c, runbook_api.c)
 * hold a descriptor each and route to these handlers. The write itself,
 * with its audit record ("policy.apply", "runbook.apply"), stays in
 * remedy/, which checks and reloads what it keeps in memory.
 */
#ifndef OODA_VDOC_API_H
#define OODA_VDOC_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "http/server.h"

struct remedy;

struct api_vdoc_kind {
	bool by_version; /* GET takes ?version=N (otherwise the latest only, and ?version is not read) */
	/* The document (version 0: the latest) as JSON with "version" and "history"; OODA_ENOTFOUND. */
	int (*get)(struct remedy *r, const char *name, int64_t version, struct buf *out, struct buf *err);
	/*
	 * The validator and the write: checks body (parsed, not NULL) against
	 * the URL's name, then stores it as the next version; *version out.
	 * Errors in req->err.
	 */
	int (*apply)(struct http_request *req, struct remedy *r, json_t *body, int64_t *version);
	/* A line diff of versions a and b (both given); OODA_ENOTFOUND. */
	int (*diff)(struct remedy *r, const char *name, int64_t a, int64_t b, struct buf *out, struct buf *err);
	/* Applies version to again as the next version; OODA_ENOTFOUND, OODA_EINVAL. */
	int (*rollback)(struct remedy *r, const char *name, int64_t to, const char *actor, const char *rationale,
			int64_t *version, struct buf *err);
};

/*
 * The remedy engine of the daemon, or NULL with "the remedy stage is not
 * running" in req->err (the handler then returns OODA_EUNAVAIL).
 */
struct remedy *api_remedy(struct http_request *req);

/*
 * The start of a remedy handler that reads a JSON body: *r as api_remedy
 * (OODA_EUNAVAIL without it), *body parsed (OODA_EINVAL with the reason in
 * req->err; NULL when optional and the request has none). The caller
 * json_decref's *body.
 */
int api_remedy_body(struct http_request *req, bool optional, struct remedy **r, json_t **body);

/*
 * Defines NAME_get, NAME_put, NAME_diff and NAME_rollback, the route
 * handlers of one kind, each calling api_vdoc_* with &kind.
 */
#define API_VDOC_HANDLERS(NAME, kind)                                              \
	int NAME##_get(struct http_request *req, struct http_response *res)        \
	{                                                                          \
		return api_vdoc_get(req, res, &(kind));                            \
	}                                                                          \
	int NAME##_put(struct http_request *req, struct http_response *res)        \
	{                                                                          \
		return api_vdoc_put(req, res, &(kind));                            \
	}                                                                          \
	int NAME##_diff(struct http_request *req, struct http_response *res)       \
	{                                                                          \
		return api_vdoc_diff(req, res, &(kind));                           \
	}                                                                          \
	int NAME##_rollback(struct http_request *req, struct http_response *res)   \
	{                                                                          \
		return api_vdoc_rollback(req, res, &(kind));                       \
	}

/* GET …/{name}[?version=N]: k->get's answer as is. */
int api_vdoc_get(struct http_request *req, struct http_response *res, const struct api_vdoc_kind *k);

/* PUT …/{name}: k->apply on the JSON body; 200 {name, version}. */
int api_vdoc_put(struct http_request *req, struct http_response *res, const struct api_vdoc_kind *k);

/*
 * GET …/{name}/diff?from=N&to=M ("3" or "v3"; default: the latest against
 * the one before): 200 {name, from, to, diff}.
 */
int api_vdoc_diff(struct http_request *req, struct http_response *res, const struct api_vdoc_kind *k);

/* POST …/{name}/rollback {to: N, rationale}: 200 {name, version}. */
int api_vdoc_rollback(struct http_request *req, struct http_response *res, const struct api_vdoc_kind *k);

#endif
