/*
 * The HTTP server: libmicrohttpd in thread-pool mode with epoll. Each
 * request gets a context on its first callback, where the route, the token
 * and the declared length are checked before any body byte is read; the
 * body accumulates under its route's limit; the handler runs once the body
 * is complete; the completion callback records metrics and logs the line.
 *
 * Ingest handlers answer only once their batch is durable (fsync), so they
 * do not run on the event-loop threads: a waiting ingest request would
 * stall every other connection of its thread (flag evaluations included)
 * and cap ingest at one batch per thread in flight. Their connection is
 * suspended and handed to the ingest workers (as many as event-loop
 * threads), which decompress, decode and wait for the disk, then resume
 * the connection with the response ready.
 */
#include "http/server.h"
#include "http/auth.h"
#include "http/router.h"
#include "core/error.h"
#include "core/log.h"
#include "core/time.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <zlib.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>

/* Status codes counted one by one; others fall into "other". */
static const int counted_status[] = { 200, 201, 202, 204, 304, 400, 401, 403, 404, 405, 409,
				      412, 413, 415, 422, 429, 431, 500, 503, 504 };
#define N_STATUS ((int)(sizeof(counted_status) / sizeof(counted_status[0])) + 1)
static const double latency_bounds[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
					 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
#define N_BOUNDS ((int)(sizeof(latency_bounds) / sizeof(latency_bounds[0])))

struct route_metrics {
	atomic_ullong by_status[N_STATUS];
	atomic_ullong latency[N_BOUNDS + 1];
	atomic_ullong latency_sum_us;
};

struct conn_ctx;

/* The ingest workers: a queue of suspended connections whose handler is due. */
struct offload {
	pthread_mutex_t mu;
	pthread_cond_t work;
	struct conn_ctx *head, *tail;
	size_t queued_bytes;    /* bodies waiting in the queue */
	unsigned long long refused;
	pthread_t *threads;
	int n_threads;
	bool stop;
};

struct http_server {
	struct http_options opt;
	struct MHD_Daemon *mhd;
	int n_routes;
	struct route_metrics *metrics;    /* one per route, plus one for unmatched */
	atomic_int inflight;
	atomic_ullong rejected_body;
	int port;
	struct offload off;
};

struct conn_ctx {
	struct http_request req;
	struct buf body;
	size_t limit;
	bool too_big;
	bool responded;
	int status;
	int64_t start_ns;
	struct http_server *server;
	/* offloaded: queued for an ingest worker, then the response it left */
	struct conn_ctx *next;
	bool offloaded;
	atomic_bool ready;
	struct http_response res;
};

const char *role_name(enum role r)
{
	static const char *const names[] = { "none", "ingest", "viewer", "responder", "approver", "admin" };
	return r <= ROLE_ADMIN ? names[r] : "none";
}

enum role role_parse(const char *s)
{
	for (int r = ROLE_INGEST; r <= ROLE_ADMIN; r++)
		if (s && !strcmp(s, role_name((enum role)r)))
			return (enum role)r;
	return ROLE_NONE;
}

const char *http_query(struct http_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_header(struct http_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_param(struct http_request *req, const char *name)
{
	for (int i = 0; i < req->n_params; i++)
		if (!strcmp(req->param_names[i], name))
			return req->param_values[i];
	return NULL;
}

void http_set_header(struct http_response *res, const char *name, const char *value)
{
	if (res->n_headers >= HTTP_MAX_HEADERS)
		return;
	res->header_names[res->n_headers] = name;
	res->header_values[res->n_headers] = strdup(value);
	res->n_headers++;
}

void http_json(struct http_response *res, int status, struct buf *b)
{
	res->status = status;
	res->content_type = "application/json";
	buf_release(&res->body);
	res->body = *b;
	buf_init(b);
}

static int status_index(int status)
{
	for (int i = 0; i < N_STATUS - 1; i++)
		if (counted_status[i] == status)
			return i;
	return N_STATUS - 1;
}

static void request_id_from(struct conn_ctx *c)
{
	const char *tp = http_header(&c->req, "traceparent");
	/* version "00-" then 32 hex trace id: take it as the request id */
	if (tp && strlen(tp) >= 55 && tp[2] == '-' && tp[35] == '-') {
		bool hex = true;
		for (int i = 3; i < 35; i++)
			if (!strchr("0123456789abcdef", tp[i]))
				hex = false;
		if (hex) {
			memcpy(c->req.request_id, tp + 3, 32);
			c->req.request_id[32] = '\0';
			return;
		}
	}
	uint8_t rnd[16];
	randombytes_buf(rnd, sizeof(rnd));
	static const char hx[] = "0123456789abcdef";
	for (int i = 0; i < 16; i++) {
		c->req.request_id[2 * i] = hx[rnd[i] >> 4];
		c->req.request_id[2 * i + 1] = hx[rnd[i] & 15];
	}
	c->req.request_id[32] = '\0';
}

static enum MHD_Result respond(struct conn_ctx *c, struct http_response *res)
{
	size_t len;
	char *data = buf_detach(&res->body, &len);
	struct MHD_Response *r = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(r, "Content-Type", res->content_type ? res->content_type : "application/json");
	MHD_add_response_header(r, "X-Request-Id", c->req.request_id);
	for (int i = 0; i < res->n_headers; i++) {
		MHD_add_response_header(r, res->header_names[i], res->header_values[i]);
		free(res->header_values[i]);
	}
	res->n_headers = 0;
	c->status = res->status;
	c->responded = true;
	enum MHD_Result rc = MHD_queue_response(c->req.conn, (unsigned)res->status, r);
	MHD_destroy_response(r);
	return rc;
}

static void problem(struct http_response *res, int status, const char *title, const char *detail,
		    const char *instance, const char *request_id)
{
	struct buf b = BUF_INIT;
	const char *slug = "about:blank";
	char type[96];
	if (status != 500) {
		snprintf(type, sizeof(type), "https://ooda.dev/problems/%d", status);
		slug = type;
	}
	buf_adds(&b, "{\"type\":");
	buf_add_json_str(&b, slug, strlen(slug));
	buf_adds(&b, ",\"title\":");
	buf_add_json_str(&b, title, strlen(title));
	buf_addf(&b, ",\"status\":%d,\"detail\":", status);
	buf_add_json_str(&b, detail, strlen(detail));
	buf_adds(&b, ",\"instance\":");
	buf_add_json_str(&b, instance, strlen(instance));
	buf_adds(&b, ",\"request_id\":");
	buf_add_json_str(&b, request_id, strlen(request_id));
	buf_adds(&b, "}");
	buf_release(&res->body);
	res->body = b;
	res->status = status;
	res->content_type = "application/problem+json";
}

static enum MHD_Result fail_now(struct conn_ctx *c, int status, const char *title, const char *detail)
{
	struct http_response res = { 0 };
	buf_init(&res.body);
	problem(&res, status, title, detail, c->req.path, c->req.request_id);
	if (status == 401)
		http_set_header(&res, "WWW-Authenticate", "Bearer realm=\"ooda\"");
	if (status == 429)
		http_set_header(&res, "Retry-After", "1");
	return respond(c, &res);
}

/* The connection's peer is on this machine; unknown counts as not. */
static bool peer_is_loopback(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	return ci && auth_peer_is_loopback(ci->client_addr);
}

/* What authorize() does for each auth_anonymous() verdict. */
static const struct {
	int rc;
	enum role role;
	const char *detail;
} anon_verdicts[] = {
	[AUTH_ANON_OPEN] = { 0, ROLE_NONE, NULL },
	[AUTH_ANON_ADMIN] = { 0, ROLE_ADMIN, NULL },
	[AUTH_ANON_NEED_TOKEN] = { OODA_EUNAUTH, ROLE_NONE,
				   "this server requires a bearer token: send 'Authorization: Bearer <token>'" },
	[AUTH_ANON_LOOPBACK_ONLY] = { OODA_EFORBIDDEN, ROLE_NONE,
				      "this server has no API tokens, so it serves only clients on this machine "
				      "(loopback); create one with `ooda token create --role admin --name NAME --data DIR`" },
};

/*
 * Checks the bearer token against the route's minimum role. Open routes
 * ignore credentials; without them, auth_anonymous() decides from the
 * token table and the connection's peer address, on every request.
 */
static int authorize(struct http_server *s, struct conn_ctx *c, const struct route *r, struct buf *detail)
{
	struct principal *who = &c->req.who;
	const char *auth = (r->flags & ROUTE_OPEN) ? NULL : http_header(&c->req, "Authorization");
	if (!auth) {
		bool required = s->opt.tokens_required && s->opt.tokens_required(s->opt.app);
		enum auth_anon v = auth_anonymous(required, peer_is_loopback(c->req.conn), r->flags);
		if (anon_verdicts[v].detail)
			buf_adds(detail, anon_verdicts[v].detail);
		who->role = anon_verdicts[v].role;
		snprintf(who->actor, sizeof(who->actor), "anonymous");
		return anon_verdicts[v].rc;
	}
	if (strncasecmp(auth, "Bearer ", 7)) {
		buf_adds(detail, "the Authorization header must use the Bearer scheme");
		return OODA_EUNAUTH;
	}
	int rc = s->opt.authenticate(s->opt.app, auth + 7, who, detail);
	if (rc)
		return rc;
	if (who->role < r->min_role) {
		buf_addf(detail, "%s %s needs the %s role; the token of %s has %s", r->method, r->pattern,
			 role_name(r->min_role), who->actor, role_name(who->role));
		return OODA_EFORBIDDEN;
	}
	return 0;
}

static enum MHD_Result first_call(struct http_server *s, struct conn_ctx *c, const char *method,
				  const char *url)
{
	struct buf allow = BUF_INIT, detail = BUF_INIT;
	int status = 0;
	enum MHD_Result ret = MHD_YES;
	const struct route *r = router_match(s->opt.routes, method, url, &c->req, &status, &allow);
	c->req.route = r;
	if (!r) {
		if (status == 405) {
			struct http_response res = { 0 };
			buf_init(&res.body);
			buf_addf(&detail, "%s is not allowed on %s; allowed: %s", method, url, allow.data);
			problem(&res, 405, "Method Not Allowed", detail.data, url, c->req.request_id);
			http_set_header(&res, "Allow", allow.data);
			ret = respond(c, &res);
		} else {
			buf_addf(&detail, "no route %s %s; see /api/v1 routes in docs/api.md", method, url);
			ret = fail_now(c, 404, "Not Found", detail.data);
		}
		goto out;
	}
	int rc = authorize(s, c, r, &detail);
	if (rc) {
		ret = fail_now(c, ooda_http_status(rc), rc == OODA_EUNAUTH ? "Unauthorized" : "Forbidden",
			       detail.data);
		goto out;
	}
	c->limit = (r->flags & ROUTE_INGEST) ? s->opt.ingest_body_limit : s->opt.api_body_limit;
	const char *cl = http_header(&c->req, "Content-Length");
	if (cl && strtoull(cl, NULL, 10) > c->limit) {
		buf_addf(&detail, "body of %s bytes exceeds the limit of %zu bytes for this route", cl, c->limit);
		atomic_fetch_add(&s->rejected_body, 1);
		ret = fail_now(c, 413, "Content Too Large", detail.data);
	}
out:
	buf_release(&allow);
	buf_release(&detail);
	return ret;
}

/*
 * Inflates a gzip or zlib body into out, refusing to grow past limit (a
 * small body must not expand into gigabytes). Returns 0, OODA_ETOOBIG or
 * OODA_EPARSE with detail.
 */
static int inflate_body(const char *in, size_t len, size_t limit, struct buf *out, char *detail, size_t dsize)
{
	z_stream z = { 0 };
	if (inflateInit2(&z, 15 + 32) != Z_OK) { /* +32: detect gzip or zlib header */
		snprintf(detail, dsize, "cannot start decompression");
		return OODA_EINTERNAL;
	}
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)len;
	int rc = 0;
	for (;;) {
		if (out->cap - out->len < 65536)
			buf_grow(out, out->len < 65536 ? 65536 : out->len);
		z.next_out = (Bytef *)out->data + out->len;
		z.avail_out = (uInt)(out->cap - out->len - 1);
		size_t before = z.avail_out;
		int zr = inflate(&z, Z_NO_FLUSH);
		buf_setlen(out, out->len + (before - z.avail_out));
		if (out->len > limit) {
			snprintf(detail, dsize, "decompressed body exceeds the limit of %zu bytes for this route", limit);
			rc = OODA_ETOOBIG;
			break;
		}
		if (zr == Z_STREAM_END)
			break;
		if (zr != Z_OK && !(zr == Z_BUF_ERROR && z.avail_in)) {
			snprintf(detail, dsize, "body is not valid gzip/deflate data: %s (after %lu input bytes)",
				 z.msg ? z.msg : "truncated stream", (unsigned long)z.total_in);
			rc = OODA_EPARSE;
			break;
		}
	}
	inflateEnd(&z);
	return rc;
}

/*
 * The part of a request after its body is complete: decompression, the
 * handler, problem+json for its error. Fills *res; runs on an event-loop
 * thread or, for ingest routes, on an ingest worker.
 */
static void finish(struct conn_ctx *c, struct http_response *res)
{
	*res = (struct http_response){ .status = 200, .content_type = "application/json" };
	buf_init(&res->body);
	const char *url = c->req.path;
	const char *enc = http_header(&c->req, "Content-Encoding");
	if (enc && (!strcasecmp(enc, "gzip") || !strcasecmp(enc, "x-gzip") || !strcasecmp(enc, "deflate"))) {
		struct buf plain = BUF_INIT;
		char detail[200];
		int zrc = inflate_body(c->body.data, c->body.len, c->limit, &plain, detail, sizeof(detail));
		if (zrc) {
			buf_release(&plain);
			if (zrc == OODA_ETOOBIG)
				atomic_fetch_add(&c->server->rejected_body, 1);
			problem(res, zrc == OODA_ETOOBIG ? 413 : 400,
				zrc == OODA_ETOOBIG ? "Content Too Large" : "Bad Request", detail, url, c->req.request_id);
			return;
		}
		buf_release(&c->body);
		c->body = plain;
	} else if (enc && strcasecmp(enc, "identity") && !(c->req.route->flags & ROUTE_RAW_BODY)) {
		char detail[160];
		snprintf(detail, sizeof(detail), "Content-Encoding %.60s is not supported; use gzip, deflate or identity", enc);
		problem(res, 415, "Unsupported Media Type", detail, url, c->req.request_id);
		return;
	}
	c->req.body = c->body.data;
	c->req.body_len = c->body.len;
	ooda_log_set_request_id(c->req.request_id);
	int rc = c->req.route->handler(&c->req, res);
	if (rc) {
		int status = ooda_http_status(rc);
		if (rc == OODA_EBUSY && !res->n_headers)
			http_set_header(res, "Retry-After", "1");
		if (!c->req.err.len)
			buf_adds(&c->req.err, ooda_strerror(rc));
		problem(res, status, ooda_strerror(rc), c->req.err.data, url, c->req.request_id);
		if (status >= 500)
			log_error("%s %s failed: %s", c->req.method, url, c->req.err.data);
	}
	ooda_log_set_request_id(NULL);
}

static void *offload_main(void *arg)
{
	struct http_server *s = arg;
	struct offload *o = &s->off;
	pthread_mutex_lock(&o->mu);
	for (;;) {
		while (!o->head && !o->stop)
			pthread_cond_wait(&o->work, &o->mu);
		if (!o->head)
			break; /* stopping and nothing left */
		struct conn_ctx *c = o->head;
		o->head = c->next;
		if (!o->head)
			o->tail = NULL;
		o->queued_bytes -= c->body.len;
		pthread_mutex_unlock(&o->mu);
		finish(c, &c->res);
		atomic_store(&c->ready, true);
		MHD_resume_connection(c->req.conn);
		pthread_mutex_lock(&o->mu);
	}
	pthread_mutex_unlock(&o->mu);
	return NULL;
}

static int offload_start(struct http_server *s, int n, struct buf *err)
{
	struct offload *o = &s->off;
	pthread_mutex_init(&o->mu, NULL);
	pthread_cond_init(&o->work, NULL);
	o->threads = calloc((size_t)n, sizeof(*o->threads));
	if (!o->threads) {
		buf_adds(err, "http: out of memory for the ingest workers");
		return OODA_ENOMEM;
	}
	for (; o->n_threads < n; o->n_threads++) {
		int rc = pthread_create(&o->threads[o->n_threads], NULL, offload_main, s);
		if (rc) {
			buf_addf(err, "http: cannot start an ingest worker: %s", strerror(rc));
			return OODA_EINTERNAL;
		}
		pthread_setname_np(o->threads[o->n_threads], "ingest-worker");
	}
	return 0;
}

/* Lets the workers finish every queued request, then joins them. */
static void offload_stop(struct http_server *s)
{
	struct offload *o = &s->off;
	if (!o->threads)
		return;
	pthread_mutex_lock(&o->mu);
	o->stop = true;
	pthread_cond_broadcast(&o->work);
	pthread_mutex_unlock(&o->mu);
	for (int i = 0; i < o->n_threads; i++)
		pthread_join(o->threads[i], NULL);
	free(o->threads);
	o->threads = NULL;
	pthread_cond_destroy(&o->work);
	pthread_mutex_destroy(&o->mu);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct http_server *s = cls;
	struct conn_ctx *c = *con_cls;
	if (!c) {
		c = calloc(1, sizeof(*c));
		*con_cls = c;
		c->start_ns = ooda_mono_ns();
		arena_init(&c->req.arena, 16 * 1024);
		buf_init(&c->body);
		buf_init(&c->req.err);
		c->req.conn = conn;
		c->req.method = method;
		c->req.path = url;
		c->req.app = s->opt.app;
		c->server = s;
		atomic_fetch_add(&s->inflight, 1);
		request_id_from(c);
		return first_call(s, c, method, url);
	}
	if (c->offloaded) {
		/* resumed: the worker left the response (a spurious call before that waits) */
		if (!atomic_load(&c->ready) || c->responded)
			return MHD_YES;
		return respond(c, &c->res);
	}
	if (c->responded) {
		*upload_data_size = 0; /* discard the rest of a rejected body */
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (!c->too_big && c->body.len + *upload_data_size > c->limit) {
			c->too_big = true;
			buf_release(&c->body);
		}
		if (!c->too_big)
			buf_add(&c->body, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (c->too_big) {
		char detail[160];
		snprintf(detail, sizeof(detail), "body exceeds the limit of %zu bytes for this route", c->limit);
		atomic_fetch_add(&s->rejected_body, 1);
		return fail_now(c, 413, "Content Too Large", detail);
	}
	if ((c->req.route->flags & ROUTE_INGEST) && s->off.threads) {
		/* hand it to an ingest worker; the event loop goes on with other connections */
		struct offload *o = &s->off;
		pthread_mutex_lock(&o->mu);
		size_t limit = s->opt.ingest_queue_bytes;
		if (limit && o->queued_bytes && o->queued_bytes + c->body.len > limit) {
			size_t waiting = o->queued_bytes;
			o->refused++;
			pthread_mutex_unlock(&o->mu);
			char detail[200];
			snprintf(detail, sizeof(detail),
				 "ingest is behind: %zu bytes of requests wait for an ingest worker (limit %zu); retry later",
				 waiting, limit);
			return fail_now(c, 429, "Too Many Requests", detail);
		}
		o->queued_bytes += c->body.len;
		c->offloaded = true;
		MHD_suspend_connection(conn);
		if (o->tail)
			o->tail->next = c;
		else
			o->head = c;
		o->tail = c;
		pthread_cond_signal(&o->work);
		pthread_mutex_unlock(&o->mu);
		return MHD_YES;
	}
	struct http_response res;
	finish(c, &res);
	return respond(c, &res);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http_server *s = cls;
	struct conn_ctx *c = *con_cls;
	if (!c)
		return;
	if (c->offloaded && !c->responded) {
		/* the worker's response was never sent (the connection died): drop it */
		for (int i = 0; i < c->res.n_headers; i++)
			free(c->res.header_values[i]);
		buf_release(&c->res.body);
	}
	int64_t dur = ooda_mono_ns() - c->start_ns;
	int idx = c->req.route ? router_index(s->opt.routes, c->req.route) : s->n_routes;
	struct route_metrics *m = &s->metrics[idx];
	int status = c->responded ? c->status : 499;
	atomic_fetch_add(&m->by_status[status_index(status)], 1);
	double secs = (double)dur / 1e9;
	int b = 0;
	while (b < N_BOUNDS && secs > latency_bounds[b])
		b++;
	atomic_fetch_add(&m->latency[b], 1);
	atomic_fetch_add(&m->latency_sum_us, (unsigned long long)(dur / 1000));
	bool quiet = c->req.route && (c->req.route->flags & (ROUTE_INGEST | ROUTE_OPEN | ROUTE_QUIET)) && status < 400;
	if (!quiet) {
		char fields[512];
		struct buf f = BUF_INIT;
		buf_adds(&f, "\"method\":");
		buf_add_json_str(&f, c->req.method, strlen(c->req.method));
		buf_adds(&f, ",\"path\":");
		buf_add_json_str(&f, c->req.path, strlen(c->req.path));
		buf_addf(&f, ",\"status\":%d,\"duration_ms\":%.3f,\"actor\":", status, (double)dur / 1e6);
		buf_add_json_str(&f, c->req.who.actor, strlen(c->req.who.actor));
		snprintf(fields, sizeof(fields), "%s", f.data);
		buf_release(&f);
		ooda_log_set_request_id(c->req.request_id);
		ooda_logf(status >= 500 ? LOG_ERROR : LOG_INFO, fields, "request");
		ooda_log_set_request_id(NULL);
	}
	arena_release(&c->req.arena);
	buf_release(&c->body);
	buf_release(&c->req.err);
	free(c);
	*con_cls = NULL;
	atomic_fetch_sub(&s->inflight, 1);
}

bool http_listen_is_loopback(const char *listen)
{
	if (!strncmp(listen, "localhost:", 10) || !strncmp(listen, "127.", 4) ||
	    !strncmp(listen, "[::1]:", 6))
		return true;
	return false;
}

static int parse_listen(const char *listen, struct sockaddr_storage *ss, struct buf *err)
{
	memset(ss, 0, sizeof(*ss));
	const char *colon = strrchr(listen, ':');
	if (!colon || !colon[1]) {
		buf_addf(err, "listen address \"%s\" must be host:port", listen);
		return OODA_EINVAL;
	}
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || port < 0 || port > 65535) {
		buf_addf(err, "listen address \"%s\" has an invalid port", listen);
		return OODA_EINVAL;
	}
	char host[256];
	size_t hl = (size_t)(colon - listen);
	if (hl >= sizeof(host)) {
		buf_addf(err, "listen address \"%s\" is too long", listen);
		return OODA_EINVAL;
	}
	memcpy(host, listen, hl);
	host[hl] = '\0';
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host + 1, &a6->sin6_addr) == 1)
			return 0;
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		if (!strcmp(host, "localhost"))
			snprintf(host, sizeof(host), "127.0.0.1");
		if (!host[0])
			snprintf(host, sizeof(host), "0.0.0.0");
		if (inet_pton(AF_INET, host, &a4->sin_addr) == 1)
			return 0;
	}
	buf_addf(err, "listen address \"%s\": \"%s\" is not an IP address", listen, host);
	return OODA_EINVAL;
}

int http_server_start(const struct http_options *opt, struct http_server **out, struct buf *err)
{
	if (sodium_init() < 0)
		return OODA_EINTERNAL;
	struct sockaddr_storage ss;
	int rc = parse_listen(opt->listen, &ss, err);
	if (rc)
		return rc;
	struct http_server *s = calloc(1, sizeof(*s));
	s->opt = *opt;
	for (const struct route *r = opt->routes; r->method; r++)
		s->n_routes++;
	s->metrics = calloc((size_t)s->n_routes + 1, sizeof(*s->metrics));
	rc = offload_start(s, opt->threads > 0 ? opt->threads : 1, err);
	if (rc) {
		offload_stop(s);
		free(s->metrics);
		free(s);
		return rc;
	}
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
			 MHD_USE_TURBO | MHD_ALLOW_SUSPEND_RESUME;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
				  MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				  MHD_OPTION_THREAD_POOL_SIZE, (unsigned)opt->threads,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned)opt->max_connections,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)opt->timeout_s,
				  MHD_OPTION_CONNECTION_MEMORY_LIMIT, opt->header_limit,
				  MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
				  MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
				  MHD_OPTION_END);
	if (!s->mhd) {
		buf_addf(err, "cannot listen on %s (address in use, or not permitted)", opt->listen);
		offload_stop(s);
		free(s->metrics);
		free(s);
		return OODA_EIO;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : 0;
	*out = s;
	return 0;
}

int http_server_port(const struct http_server *s)
{
	return s->port;
}

int http_server_inflight(const struct http_server *s)
{
	return atomic_load(&((struct http_server *)s)->inflight);
}

void http_server_stop(struct http_server *s, int drain_ms)
{
	if (!s)
		return;
	MHD_socket ls = MHD_quiesce_daemon(s->mhd);
	if (ls != MHD_INVALID_SOCKET)
		close(ls);
	for (int waited = 0; atomic_load(&s->inflight) > 0 && waited < drain_ms; waited += 10) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	/*
	 * The ingest workers finish what is queued (the store is still open)
	 * and resume those connections; give their answers a moment to leave
	 * before the daemon closes every connection, suspended ones included.
	 */
	offload_stop(s);
	for (int waited = 0; atomic_load(&s->inflight) > 0 && waited < 1000; waited += 10) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	MHD_stop_daemon(s->mhd);
	free(s->metrics);
	free(s);
}

void http_server_metrics(const struct http_server *s, struct buf *out)
{
	buf_adds(out, "# HELP ooda_http_requests_total HTTP requests by route and status.\n"
		      "# TYPE ooda_http_requests_total counter\n");
	for (int i = 0; i <= s->n_routes; i++) {
		const char *pattern = i < s->n_routes ? s->opt.routes[i].pattern : "unmatched";
		const char *method = i < s->n_routes ? s->opt.routes[i].method : "";
		for (int k = 0; k < N_STATUS; k++) {
			unsigned long long v = atomic_load(&s->metrics[i].by_status[k]);
			if (!v)
				continue;
			char code[8];
			if (k < N_STATUS - 1)
				snprintf(code, sizeof(code), "%d", counted_status[k]);
			else
				snprintf(code, sizeof(code), "other");
			buf_addf(out, "ooda_http_requests_total{method=\"%s\",route=\"%s\",status=\"%s\"} %llu\n",
				 method, pattern, code, v);
		}
	}
	buf_adds(out, "# HELP ooda_http_request_duration_seconds HTTP request latency by route.\n"
		      "# TYPE ooda_http_request_duration_seconds histogram\n");
	for (int i = 0; i <= s->n_routes; i++) {
		const struct route_metrics *m = &s->metrics[i];
		unsigned long long total = 0;
		for (int b = 0; b <= N_BOUNDS; b++)
			total += atomic_load(&m->latency[b]);
		if (!total)
			continue;
		const char *pattern = i < s->n_routes ? s->opt.routes[i].pattern : "unmatched";
		const char *method = i < s->n_routes ? s->opt.routes[i].method : "";
		unsigned long long cum = 0;
		for (int b = 0; b <= N_BOUNDS; b++) {
			cum += atomic_load(&m->latency[b]);
			if (b < N_BOUNDS)
				buf_addf(out, "ooda_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\",le=\"%g\"} %llu\n",
					 method, pattern, latency_bounds[b], cum);
			else
				buf_addf(out, "ooda_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\",le=\"+Inf\"} %llu\n",
					 method, pattern, cum);
		}
		buf_addf(out, "ooda_http_request_duration_seconds_sum{method=\"%s\",route=\"%s\"} %.6f\n",
			 method, pattern, (double)atomic_load(&m->latency_sum_us) / 1e6);
		buf_addf(out, "ooda_http_request_duration_seconds_count{method=\"%s\",route=\"%s\"} %llu\n",
			 method, pattern, total);
	}
	buf_addf(out, "# HELP ooda_http_inflight_requests Requests being handled.\n"
		      "# TYPE ooda_http_inflight_requests gauge\nooda_http_inflight_requests %d\n"
		      "# HELP ooda_http_rejected_bodies_total Requests refused for an oversized body.\n"
		      "# TYPE ooda_http_rejected_bodies_total counter\nooda_http_rejected_bodies_total %llu\n",
		 atomic_load(&((struct http_server *)s)->inflight), atomic_load(&((struct http_server *)s)->rejected_body));
	struct offload *o = &((struct http_server *)s)->off;
	if (o->threads) {
		pthread_mutex_lock(&o->mu);
		size_t queued = o->queued_bytes;
		unsigned long long refused = o->refused;
		pthread_mutex_unlock(&o->mu);
		buf_addf(out,
			 "# HELP ooda_http_ingest_queued_bytes Ingest request bodies waiting for an ingest worker.\n"
			 "# TYPE ooda_http_ingest_queued_bytes gauge\nooda_http_ingest_queued_bytes %zu\n"
			 "# HELP ooda_http_ingest_refused_total Ingest requests answered 429 because too many bytes waited for a worker.\n"
			 "# TYPE ooda_http_ingest_refused_total counter\nooda_http_ingest_refused_total %llu\n",
			 queued, refused);
	}
}
