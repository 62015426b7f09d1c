/*
 * The HTTP front of the daemon: libmicrohttpd with a thread pool, request
 * bodies accumulated under per-route limits, the route table (router.c),
 * authentication (auth.c), problem+json errors, a request id per request
 * and the request metrics behind /metrics.
 */
#ifndef OODA_HTTP_SERVER_H
#define OODA_HTTP_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"

struct MHD_Connection;
struct http_server;
struct route;

enum role { ROLE_NONE, ROLE_INGEST, ROLE_VIEWER, ROLE_RESPONDER, ROLE_APPROVER, ROLE_ADMIN };

/* Who is calling: from a token, or the open loopback mode. */
struct principal {
	enum role role;
	char actor[160];  /* "token:alice" or "anonymous" */
	char token_id[40];
	char env[64];     /* token's flag environment scope, "" if none */
};

#define HTTP_MAX_PARAMS 8
#define HTTP_MAX_HEADERS 16

struct http_request {
	const char *method;
	const char *path;
	const struct route *route;
	struct MHD_Connection *conn;
	const char *param_names[HTTP_MAX_PARAMS];
	const char *param_values[HTTP_MAX_PARAMS];
	int n_params;
	const char *body; /* NUL-terminated; body_len excludes the NUL */
	size_t body_len;
	struct arena arena; /* freed when the response is sent */
	struct principal who;
	char request_id[40];
	struct buf err;     /* detail for the problem+json of a failing handler */
	void *app;          /* the daemon */
};

/*
 * A body produced while it is sent (Server-Sent Events). read() runs on an
 * event-loop thread and must not block: it fills up to max bytes of buf and
 * returns how many, 0 when nothing is ready (the connection then sleeps
 * until http_server_wake_streams), or -1 to end the body. done() runs once
 * when the connection ends, for whatever reason; it releases cls.
 */
struct http_stream {
	long (*read)(void *cls, char *buf, size_t max);
	void (*done)(void *cls);
	void *cls;
};

struct http_response {
	int status;
	const char *content_type; /* default application/json */
	struct buf body;
	const char *header_names[HTTP_MAX_HEADERS];
	char *header_values[HTTP_MAX_HEADERS]; /* malloc'd; freed with the response */
	int n_headers;
	struct http_stream stream; /* read set: the body comes from it, not from body */
};

/*
 * A route handler: fills res and returns 0, or returns a negative OODA_E*
 * code with detail appended to req->err (the server writes problem+json).
 */
typedef int (*http_handler)(struct http_request *req, struct http_response *res);

enum route_flags {
	ROUTE_OPEN = 1 << 0,      /* no token needed even when tokens exist */
	ROUTE_INGEST = 1 << 1,    /* ingest body limit */
	ROUTE_RAW_BODY = 1 << 2,  /* handler checks the content type itself */
	ROUTE_QUIET = 1 << 3,     /* hot path: successful requests are counted, not logged */
	/* the server's own error bodies (401, 403, 413, a handler's error code, ...) also carry
	 * "errorCode":"GENERAL", "errorDetails" and the route's {key}: OFREP's error shape, so an
	 * OpenFeature provider can read them; the problem+json members stay */
	ROUTE_CODE_ERRORS = 1 << 4,
	/* the answer or the effect belongs to the leader's engine: with several nodes a follower
	 * hands the request to http_options.forward (api/forward.c) instead of its handler */
	ROUTE_LEADER = 1 << 5,
	/* with ROUTE_LEADER: when the request cannot reach a leader (none known, its connection refused,
	 * or it was forwarded once already), the handler serves it here and hands the work over to the
	 * leader through the control store (api/handover.h) instead of answering 503 */
	ROUTE_HANDOVER = 1 << 6,
};

/* What http_options.forward returns when the request is to be served by this node's handler. */
#define HTTP_SERVE_HERE 1

struct route {
	const char *method;
	const char *pattern; /* "/api/v1/flags/{key}"; a trailing "/ *" (no space) matches any rest */
	http_handler handler;
	enum role min_role;
	unsigned flags;
	const char *summary; /* one line for docs/api.md */
};

struct http_options {
	const char *listen;       /* host:port */
	int threads;
	int max_connections;
	int timeout_s;            /* idle time before a connection is closed */
	int header_timeout_s;     /* the whole request head must arrive within this (0: no bound) */
	size_t min_body_rate;     /* bytes/s a body must average once header_timeout_s passed (0: none) */
	int max_connections_per_ip; /* 0: no per-address bound */
	size_t url_limit;         /* longest URI (path and query); longer gets 414 */
	/* bytes of request bodies held in memory across all connections; beyond it, 503 (0: no bound) */
	size_t body_budget;
	size_t header_limit;
	size_t api_body_limit;
	size_t ingest_body_limit;
	/* bytes of ingest bodies that may wait for an ingest worker; beyond it, 429 (0: no bound) */
	size_t ingest_queue_bytes;
	const struct route *routes; /* terminated by method NULL */
	void *app;
	/* authenticates a bearer token; returns 0 and fills who, or OODA_EUNAUTH */
	int (*authenticate)(void *app, const char *token, struct principal *who, struct buf *err);
	/* true when at least one active token exists */
	bool (*tokens_required)(void *app);
	/*
	 * NULL (one node): every route is served here. Else called, after
	 * authentication and with the body read (and inflated), for each request
	 * to a ROUTE_LEADER route: returns HTTP_SERVE_HERE to run the handler,
	 * 0 with res filled (the leader's answer), or a negative OODA_E* code
	 * with detail in req->err, as a handler does.
	 */
	int (*forward)(void *app, struct http_request *req, struct http_response *res);
};

/* Binds and starts serving. Caller owns *out (http_server_stop frees it). */
int http_server_start(const struct http_options *opt, struct http_server **out, struct buf *err);
/* The port actually bound (useful with port 0). */
int http_server_port(const struct http_server *s);
/* Stops accepting, waits up to drain_ms for in-flight requests, stops. */
void http_server_stop(struct http_server *s, int drain_ms);
/* Requests being handled right now. */
int http_server_inflight(const struct http_server *s);
/*
 * Wakes every sleeping stream so its read() runs again: call after new data
 * was queued for one. Safe from any thread; NULL is a no-op. When the
 * server stops, every stream ends (read is no longer asked) before the drain.
 */
void http_server_wake_streams(struct http_server *s);
/* Appends the server's metrics in Prometheus text format. */
void http_server_metrics(const struct http_server *s, struct buf *out);

/* Query-string argument or NULL. */
const char *http_query(struct http_request *req, const char *name);
/* Appends the query string as the client sent it, decoded and escaped again ("?a=1&b=x%20y"; nothing without one). */
void http_query_string(struct http_request *req, struct buf *out);
/* Request header or NULL. */
const char *http_header(struct http_request *req, const char *name);
/* Path parameter by name ("key" of "{key}") or NULL. */
const char *http_param(struct http_request *req, const char *name);
/* Adds a response header; value is copied. */
void http_set_header(struct http_response *res, const char *name, const char *value);
/* Sets a JSON body from b (moved; b is left empty) and status. */
void http_json(struct http_response *res, int status, struct buf *b);

/* Role names <-> enum. role_parse returns ROLE_NONE for unknown names. */
const char *role_name(enum role r);
enum role role_parse(const char *s);

/* Is the host of "host:port" a loopback address? */
bool http_listen_is_loopback(const char *listen);

#endif
