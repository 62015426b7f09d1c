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
 *
 * Limits against exhaustion: a sweeper thread enforces deadlines on the
 * request head and the body rate that MHD's idle timeout cannot (struct
 * sock_ctx), a connection over capacity evicts an idle one, and the bytes
 * of bodies in memory across all connections are bounded by one budget.
 */
#include "http/server.h"
#include "http/auth.h"
#include "http/router.h"
#include "core/error.h"
#include "core/log.h"
#include "core/time.h"
#include "core/worker.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <microhttpd.h>
#include <zlib.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <sys/socket.h>

/* Status codes counted one by one; others fall into "other". */
static const int counted_status[] = { 200, 201, 202, 204, 304, 400, 401, 403, 404, 405, 409,
				      412, 413, 414, 415, 422, 429, 431, 500, 503, 504, 507 };
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

/*
 * One open connection (MHD's socket context), watched by the sweeper:
 *
 *   accept ──> HEAD ──first_call()──> BODY ──body complete──> BUSY
 *               ^                                              │
 *               └──────────── on_completed(): IDLE <───────────┘
 *
 * HEAD must end within header_timeout of the accept, IDLE (keep-alive)
 * within the idle timeout of the last response, and BODY must keep the
 * minimum rate once header_timeout has passed; the sweeper shuts the
 * socket of a connection that does not, and MHD then closes it as it
 * would any connection the peer dropped. At capacity a new connection
 * evicts the oldest one still in HEAD or IDLE: a flood of slow heads can
 * then not keep /healthz, /readyz or OFREP from being answered.
 */
enum sock_phase { SOCK_HEAD, SOCK_BODY, SOCK_BUSY, SOCK_IDLE };

struct sock_ctx {
	struct sock_ctx *prev, *next; /* oldest first, under conns_mu */
	int fd;
	atomic_int phase;
	atomic_llong since_ns;  /* start of the phase */
	atomic_ullong body_bytes;
	size_t uri_len;         /* request line's URI, from the URI log callback */
	bool shut;              /* the sweeper or an eviction shut it */
};

enum close_reason { CLOSE_HEAD_TIMEOUT, CLOSE_SLOW_BODY, CLOSE_IDLE, CLOSE_EVICTED, N_CLOSE };
static const char *const close_reason_names[N_CLOSE] = { "head_timeout", "slow_body", "idle_timeout", "evicted" };

struct http_server {
	struct http_options opt;
	struct MHD_Daemon *mhd;
	int n_routes;
	struct route_metrics *metrics;    /* one per route, plus one for unmatched */
	atomic_int inflight;
	atomic_ullong rejected_body;
	int port;
	struct offload off;
	/* connections and the sweeper that enforces their deadlines */
	pthread_mutex_t conns_mu;
	pthread_cond_t sweep_wake;
	struct sock_ctx *oldest, *newest;
	int n_conns;
	bool sweep_stop;
	pthread_t sweeper;
	bool sweeper_running;
	atomic_ullong closed[N_CLOSE];
	/* bytes of request bodies held in memory, against opt.body_budget */
	atomic_size_t body_bytes;
	atomic_ullong body_refused;
	atomic_ullong uri_too_long;
	/* streaming bodies (struct http_stream): the list, to wake them and end them at stop */
	pthread_mutex_t streams_mu;
	struct stream_conn *streams;
	atomic_bool stopping;
};

/* One streaming response; lives from respond() to MHD's free callback. */
struct stream_conn {
	struct http_server *server;
	struct MHD_Connection *conn;
	struct http_stream st;
	bool suspended; /* under streams_mu */
	bool woken;     /* a wake came while read() ran: read again before sleeping */
	struct stream_conn *prev, *next;
};

struct conn_ctx {
	struct http_request req;
	struct buf body;
	size_t limit;
	size_t reserved;   /* bytes of the body budget this request holds */
	bool too_big;
	bool over_budget;
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

/* Percent-encodes all but RFC 3986's unreserved characters. */
static void url_escape_add(struct buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
			buf_addch(out, (char)*p);
		} else {
			buf_addch(out, '%');
			buf_addch(out, hex[*p >> 4]);
			buf_addch(out, hex[*p & 15]);
		}
	}
}

static enum MHD_Result query_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	struct buf *out = cls;
	buf_addch(out, out->len ? '&' : '?');
	url_escape_add(out, key);
	if (value) {
		buf_addch(out, '=');
		url_escape_add(out, value);
	}
	return MHD_YES;
}

void http_query_string(struct http_request *req, struct buf *out)
{
	struct buf q = BUF_INIT;
	MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, query_arg, &q);
	if (q.len)
		buf_add(out, q.data, q.len);
	buf_release(&q);
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
	res->header_values[res->n_headers] = xstrdup(value);
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

/* MHD's content reader for a stream: data, end, or sleep until a wake. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream_conn *sc = cls;
	struct http_server *s = sc->server;
	if (atomic_load(&s->stopping))
		return MHD_CONTENT_READER_END_OF_STREAM;
	long n = sc->st.read(sc->st.cls, buf, max);
	if (n > 0)
		return (ssize_t)n;
	if (n < 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	pthread_mutex_lock(&s->streams_mu);
	if (sc->woken) {
		sc->woken = false; /* data may have arrived after read() looked: MHD asks again */
	} else if (!sc->suspended) {
		sc->suspended = true;
		MHD_suspend_connection(sc->conn);
	}
	pthread_mutex_unlock(&s->streams_mu);
	return 0;
}

static void stream_free(void *cls)
{
	struct stream_conn *sc = cls;
	struct http_server *s = sc->server;
	pthread_mutex_lock(&s->streams_mu);
	if (sc->prev)
		sc->prev->next = sc->next;
	else
		s->streams = sc->next;
	if (sc->next)
		sc->next->prev = sc->prev;
	pthread_mutex_unlock(&s->streams_mu);
	if (sc->st.done)
		sc->st.done(sc->st.cls);
	free(sc);
}

void http_server_wake_streams(struct http_server *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->streams_mu);
	for (struct stream_conn *sc = s->streams; sc; sc = sc->next) {
		if (sc->suspended) {
			sc->suspended = false;
			MHD_resume_connection(sc->conn);
		} else {
			sc->woken = true;
		}
	}
	pthread_mutex_unlock(&s->streams_mu);
}

static struct MHD_Response *stream_response(struct conn_ctx *c, struct http_response *res)
{
	struct http_server *s = c->server;
	struct stream_conn *sc = xcalloc(1, sizeof(*sc));
	sc->server = s;
	sc->conn = c->req.conn;
	sc->st = res->stream;
	res->stream = (struct http_stream){ 0 };
	struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, sc, stream_free);
	if (!r) {
		if (sc->st.done)
			sc->st.done(sc->st.cls);
		free(sc);
		return NULL;
	}
	pthread_mutex_lock(&s->streams_mu);
	sc->next = s->streams;
	if (sc->next)
		sc->next->prev = sc;
	s->streams = sc;
	pthread_mutex_unlock(&s->streams_mu);
	return r;
}

static enum MHD_Result respond(struct conn_ctx *c, struct http_response *res)
{
	struct MHD_Response *r = NULL;
	if (res->stream.read && res->status == 200 && !atomic_load(&c->server->stopping))
		r = stream_response(c, res);
	if (res->stream.done) { /* not streamed after all: the handler's state is released here */
		res->stream.done(res->stream.cls);
		res->stream = (struct http_stream){ 0 };
	}
	if (!r) {
		size_t len;
		char *data = buf_detach(&res->body, &len);
		r = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
	}
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

/*
 * An error answer as problem+json. For a route marked ROUTE_CODE_ERRORS (req
 * may be NULL) the body also carries OFREP's errorCode/errorDetails and the
 * path's {key}, so a feature-flag SDK can show why it was refused.
 */
static void problem(struct http_response *res, struct http_request *req, int status, const char *title,
		    const char *detail, const char *instance, const char *request_id)
{
	struct buf b = BUF_INIT;
	const char *slug = "about:blank";
	char type[96];
	if (status != 500) {
		snprintf(type, sizeof(type), "https://ooda.dev/problems/%d", status);
		slug = type;
	}
	if (req && req->route && (req->route->flags & ROUTE_CODE_ERRORS)) {
		const char *key = http_param(req, "key");
		buf_addch(&b, '{');
		if (key) {
			buf_adds(&b, "\"key\":");
			buf_add_json_str(&b, key, strlen(key));
			buf_addch(&b, ',');
		}
		buf_adds(&b, "\"errorCode\":\"GENERAL\",\"errorDetails\":");
		buf_add_json_str(&b, detail, strlen(detail));
		buf_adds(&b, ",\"type\":");
	} else {
		buf_adds(&b, "{\"type\":");
	}
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
	problem(&res, &c->req, status, title, detail, c->req.path, c->req.request_id);
	if (status == 401)
		http_set_header(&res, "WWW-Authenticate", "Bearer realm=\"ooda\"");
	if (status == 429 || status == 503)
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

/* ---- body budget: bytes of request bodies held in memory, all connections */

/* Takes n more bytes of the budget for c; false (nothing taken) when they do not fit. */
static bool budget_take(struct http_server *s, struct conn_ctx *c, size_t n)
{
	size_t cur = atomic_load(&s->body_bytes);
	do {
		if (s->opt.body_budget && cur + n > s->opt.body_budget)
			return false;
	} while (!atomic_compare_exchange_weak(&s->body_bytes, &cur, cur + n));
	c->reserved += n;
	return true;
}

/* Grows c's share of the budget to hold want bytes. */
static bool budget_cover(struct http_server *s, struct conn_ctx *c, size_t want)
{
	return want <= c->reserved || budget_take(s, c, want - c->reserved);
}

static void budget_release(struct http_server *s, struct conn_ctx *c)
{
	atomic_fetch_sub(&s->body_bytes, c->reserved);
	c->reserved = 0;
}

static enum MHD_Result fail_budget(struct conn_ctx *c, size_t want)
{
	struct http_server *s = c->server;
	char detail[300];
	atomic_fetch_add(&s->body_refused, 1);
	if (want)
		snprintf(detail, sizeof(detail),
			 "request bodies in progress already hold %zu of the %zu bytes allowed (limits.body_bytes_in_flight); "
			 "this body needs %zu more; retry later",
			 atomic_load(&s->body_bytes), s->opt.body_budget, want);
	else
		snprintf(detail, sizeof(detail),
			 "this chunked body outgrew what request bodies in progress left of the %zu bytes allowed "
			 "(limits.body_bytes_in_flight); retry later",
			 s->opt.body_budget);
	return fail_now(c, 503, "Service Unavailable", detail);
}

/* ---- connections: phases, deadlines, eviction (see struct sock_ctx) ---- */

static struct sock_ctx *sock_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

static void sock_enter(struct sock_ctx *k, enum sock_phase phase)
{
	if (!k)
		return;
	atomic_store(&k->since_ns, ooda_mono_ns());
	atomic_store(&k->phase, (int)phase);
}

/* Shuts k's socket (under conns_mu, so MHD has not closed the fd yet). */
static void sock_shut(struct http_server *s, struct sock_ctx *k, enum close_reason why)
{
	if (k->shut)
		return;
	k->shut = true;
	shutdown(k->fd, SHUT_RDWR);
	atomic_fetch_add(&s->closed[why], 1);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct http_server *s = cls;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		struct sock_ctx *k = xcalloc(1, sizeof(*k));
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		k->fd = ci ? ci->connect_fd : -1;
		sock_enter(k, SOCK_HEAD);
		*socket_context = k;
		pthread_mutex_lock(&s->conns_mu);
		k->prev = s->newest;
		if (s->newest)
			s->newest->next = k;
		else
			s->oldest = k;
		s->newest = k;
		s->n_conns++;
		if (s->n_conns > s->opt.max_connections) {
			/* over capacity: the oldest connection that is not doing anything gives way */
			for (struct sock_ctx *o = s->oldest; o && o != k; o = o->next) {
				int ph = atomic_load(&o->phase);
				if (!o->shut && o->fd >= 0 && (ph == SOCK_HEAD || ph == SOCK_IDLE)) {
					sock_shut(s, o, CLOSE_EVICTED);
					break;
				}
			}
		}
		pthread_mutex_unlock(&s->conns_mu);
		return;
	}
	struct sock_ctx *k = *socket_context;
	if (!k)
		return;
	pthread_mutex_lock(&s->conns_mu);
	if (k->prev)
		k->prev->next = k->next;
	else
		s->oldest = k->next;
	if (k->next)
		k->next->prev = k->prev;
	else
		s->newest = k->prev;
	s->n_conns--;
	pthread_mutex_unlock(&s->conns_mu);
	free(k);
	*socket_context = NULL;
}

/* MHD's URI log callback: notes the length of the request line's URI. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct sock_ctx *k = sock_of(conn);
	if (k)
		k->uri_len = strlen(uri);
	return NULL;
}

/* Shuts every connection past its deadline; see struct sock_ctx. */
static void sweep(struct http_server *s)
{
	int64_t now = ooda_mono_ns();
	int64_t head_ns = (int64_t)s->opt.header_timeout_s * OODA_NS_PER_SEC;
	int64_t idle_ns = (int64_t)s->opt.timeout_s * OODA_NS_PER_SEC;
	pthread_mutex_lock(&s->conns_mu);
	for (struct sock_ctx *k = s->oldest; k; k = k->next) {
		if (k->shut || k->fd < 0)
			continue;
		int64_t age = now - atomic_load(&k->since_ns);
		int phase = atomic_load(&k->phase);
		if (phase == SOCK_HEAD && head_ns && age > head_ns)
			sock_shut(s, k, CLOSE_HEAD_TIMEOUT);
		else if (phase == SOCK_IDLE && idle_ns && age > idle_ns)
			sock_shut(s, k, CLOSE_IDLE);
		else if (phase == SOCK_BODY && s->opt.min_body_rate && age > head_ns &&
			 (double)atomic_load(&k->body_bytes) < (double)s->opt.min_body_rate * ((double)age / 1e9))
			sock_shut(s, k, CLOSE_SLOW_BODY);
	}
	pthread_mutex_unlock(&s->conns_mu);
}

static void *sweeper_main(void *arg)
{
	struct http_server *s = arg;
	pthread_mutex_lock(&s->conns_mu);
	while (!s->sweep_stop) {
		worker_cond_wait_until(&s->sweep_wake, &s->conns_mu, ooda_mono_ns() + 250 * OODA_NS_PER_MS);
		if (s->sweep_stop)
			break;
		pthread_mutex_unlock(&s->conns_mu);
		sweep(s);
		pthread_mutex_lock(&s->conns_mu);
	}
	pthread_mutex_unlock(&s->conns_mu);
	return NULL;
}

/* Bytes of the request head: the URI (with its query) and every header line. */
static enum MHD_Result add_header_len(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	*(size_t *)cls += strlen(key) + (value ? strlen(value) : 0) + 4;
	return MHD_YES;
}

/* Content-Encoding a route accepts: gzip/deflate are inflated here; raw-body routes may take snappy. */
static bool encoding_known(const char *enc, const struct route *r)
{
	static const char *const known[] = { "identity", "gzip", "x-gzip", "deflate" };
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcasecmp(enc, known[i]))
			return true;
	return (r->flags & ROUTE_RAW_BODY) && !strcasecmp(enc, "snappy");
}

static enum MHD_Result first_call(struct http_server *s, struct conn_ctx *c, const char *method,
				  const char *url)
{
	struct buf allow = BUF_INIT, detail = BUF_INIT;
	int status = 0;
	enum MHD_Result ret = MHD_YES;
	struct sock_ctx *k = sock_of(c->req.conn);
	sock_enter(k, SOCK_BODY);
	/* MHD's buffer is larger than these limits, so that we, not MHD's HTML page, refuse */
	size_t uri_len = k && k->uri_len ? k->uri_len : strlen(url);
	if (uri_len > s->opt.url_limit) {
		atomic_fetch_add(&s->uri_too_long, 1);
		buf_addf(&detail, "the URL is %zu bytes; at most %zu are accepted (limits.url_bytes)", uri_len,
			 s->opt.url_limit);
		c->req.path = "(URL too long)";
		ret = fail_now(c, 414, "URI Too Long", detail.data);
		goto out;
	}
	size_t head_len = 0;
	MHD_get_connection_values(c->req.conn, MHD_HEADER_KIND, add_header_len, &head_len);
	if (head_len > s->opt.header_limit) {
		buf_addf(&detail, "the request headers are %zu bytes; at most %zu are accepted (limits.header_bytes)",
			 head_len, s->opt.header_limit);
		ret = fail_now(c, 431, "Request Header Fields Too Large", detail.data);
		goto out;
	}
	const struct route *r = router_match(s->opt.routes, method, url, &c->req, &status, &allow);
	c->req.route = r;
	if (!r) {
		if (status == 405) {
			struct http_response res = { 0 };
			buf_init(&res.body);
			buf_addf(&detail, "%s is not allowed on %s; allowed: %s", method, url, allow.data);
			problem(&res, NULL, 405, "Method Not Allowed", detail.data, url, c->req.request_id);
			http_set_header(&res, "Allow", allow.data);
			ret = respond(c, &res);
		} else {
			buf_addf(&detail, "no route %s %s; see /api/v1 routes in docs/api.md", method, url);
			ret = fail_now(c, 404, "Not Found", detail.data);
		}
		goto out;
	}
	ooda_thread_since_set(c->start_ns); /* reads of shared state begun since serve the request */
	int rc = authorize(s, c, r, &detail);
	ooda_thread_since_set(0);
	if (rc) {
		ret = fail_now(c, ooda_http_status(rc), rc == OODA_EUNAUTH ? "Unauthorized" : "Forbidden",
			       detail.data);
		goto out;
	}
	const char *enc = http_header(&c->req, "Content-Encoding");
	if (enc && !encoding_known(enc, r)) {
		buf_adds(&detail, "Content-Encoding ");
		buf_add(&detail, enc, strnlen(enc, 60));
		buf_adds(&detail, " is not supported; use gzip, deflate or identity");
		ret = fail_now(c, 415, "Unsupported Media Type", detail.data);
		goto out;
	}
	c->limit = (r->flags & ROUTE_INGEST) ? s->opt.ingest_body_limit : s->opt.api_body_limit;
	const char *cl = http_header(&c->req, "Content-Length");
	unsigned long long declared = cl ? strtoull(cl, NULL, 10) : 0;
	if (declared > c->limit || (s->opt.body_budget && declared > s->opt.body_budget)) {
		buf_addf(&detail, "body of %s bytes exceeds the limit of %zu bytes for this route", cl,
			 declared > c->limit ? c->limit : s->opt.body_budget);
		atomic_fetch_add(&s->rejected_body, 1);
		ret = fail_now(c, 413, "Content Too Large", detail.data);
	} else if (declared && !budget_take(s, c, (size_t)declared)) {
		/* refused before a byte of the body is read: the declared length is reserved up front */
		ret = fail_budget(c, (size_t)declared);
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
			problem(res, &c->req, zrc == OODA_ETOOBIG ? 413 : 400,
				zrc == OODA_ETOOBIG ? "Content Too Large" : "Bad Request", detail, url, c->req.request_id);
			return;
		}
		buf_release(&c->body);
		c->body = plain;
		/* the inflated body is what stays in memory now: it holds the budget */
		if (!budget_cover(c->server, c, c->body.len)) {
			char bd[240];
			atomic_fetch_add(&c->server->body_refused, 1);
			snprintf(bd, sizeof(bd),
				 "the decompressed body of %zu bytes does not fit in limits.body_bytes_in_flight (%zu bytes) now; retry later",
				 c->body.len, c->server->opt.body_budget);
			problem(res, &c->req, 503, "Service Unavailable", bd, url, c->req.request_id);
			http_set_header(res, "Retry-After", "1");
			return;
		}
	}
	c->req.body = c->body.data;
	c->req.body_len = c->body.len;
	ooda_log_set_request_id(c->req.request_id);
	ooda_thread_since_set(c->start_ns);
	/* a route whose answer is the leader's: the forward hook answers it, or says to serve it here */
	int rc = HTTP_SERVE_HERE;
	if ((c->req.route->flags & ROUTE_LEADER) && c->server->opt.forward)
		rc = c->server->opt.forward(c->server->opt.app, &c->req, res);
	if (rc == HTTP_SERVE_HERE)
		rc = c->req.route->handler(&c->req, res);
	ooda_thread_since_set(0);
	if (rc) {
		int status = ooda_http_status(rc);
		if ((rc == OODA_EBUSY || rc == OODA_EUNAVAIL) && !res->n_headers)
			http_set_header(res, "Retry-After", "1");
		if (rc == OODA_ENOSPACE && !res->n_headers)
			http_set_header(res, "Retry-After", "30");
		if (!c->req.err.len)
			buf_adds(&c->req.err, ooda_strerror(rc));
		problem(res, &c->req, status, ooda_strerror(rc), c->req.err.data, url, c->req.request_id);
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
	o->threads = xcalloc((size_t)n, sizeof(*o->threads));
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
		c = xcalloc(1, sizeof(*c));
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
	struct sock_ctx *k = sock_of(conn);
	if (k)
		atomic_fetch_add(&k->body_bytes, *upload_data_size);
	if (c->responded) {
		*upload_data_size = 0; /* discard the rest of a rejected body */
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (!c->too_big && c->body.len + *upload_data_size > c->limit) {
			c->too_big = true;
			buf_release(&c->body);
			budget_release(s, c);
		}
		/* a chunked body (or one longer than declared) takes its budget as it grows */
		if (!c->too_big && !c->over_budget && !budget_cover(s, c, c->body.len + *upload_data_size)) {
			c->over_budget = true;
			buf_release(&c->body);
			budget_release(s, c); /* the rest is read and dropped */
		}
		if (!c->too_big && !c->over_budget)
			buf_add(&c->body, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	sock_enter(k, SOCK_BUSY);
	if (c->over_budget && !c->too_big)
		return fail_budget(c, 0);
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
	/* hot and polled routes log their successes (and a quiet route its 404s: an OFREP client
	 * asking for a flag it does not define) at debug; everything else at info, 5xx at error */
	unsigned rflags = c->req.route ? c->req.route->flags : 0;
	bool quiet = ((rflags & (ROUTE_INGEST | ROUTE_OPEN | ROUTE_QUIET)) && status < 400) ||
		     ((rflags & ROUTE_QUIET) && status == 404);
	enum log_level level = status >= 500 ? LOG_ERROR : quiet ? LOG_DEBUG : LOG_INFO;
	if (ooda_log_enabled(level)) {
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
		ooda_logf(level, fields, "request");
		ooda_log_set_request_id(NULL);
	}
	budget_release(s, c);
	sock_enter(sock_of(conn), SOCK_IDLE);
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

/* Stops the sweeper and frees s (the MHD daemon is stopped already). */
static void server_free(struct http_server *s)
{
	if (s->sweeper_running) {
		pthread_mutex_lock(&s->conns_mu);
		s->sweep_stop = true;
		pthread_cond_signal(&s->sweep_wake);
		pthread_mutex_unlock(&s->conns_mu);
		pthread_join(s->sweeper, NULL);
	}
	pthread_cond_destroy(&s->sweep_wake);
	pthread_mutex_destroy(&s->conns_mu);
	free(s->metrics);
	free(s);
}

int http_server_start(const struct http_options *opt, struct http_server **out, struct buf *err)
{
	if (sodium_init() < 0)
		return OODA_EINTERNAL;
	struct sockaddr_storage ss;
	int rc = parse_listen(opt->listen, &ss, err);
	if (rc)
		return rc;
	struct http_server *s = xcalloc(1, sizeof(*s));
	s->opt = *opt;
	for (const struct route *r = opt->routes; r->method; r++)
		s->n_routes++;
	s->metrics = xcalloc((size_t)s->n_routes + 1, sizeof(*s->metrics));
	pthread_mutex_init(&s->conns_mu, NULL);
	pthread_mutex_init(&s->streams_mu, NULL);
	worker_cond_init(&s->sweep_wake);
	rc = offload_start(s, opt->threads > 0 ? opt->threads : 1, err);
	if (!rc && pthread_create(&s->sweeper, NULL, sweeper_main, s)) {
		buf_adds(err, "http: cannot start the connection sweeper");
		rc = OODA_EINTERNAL;
	} else if (!rc) {
		s->sweeper_running = true;
		pthread_setname_np(s->sweeper, "http-sweeper");
	}
	if (rc) {
		offload_stop(s);
		server_free(s);
		return rc;
	}
	/*
	 * Room above max_connections, so that a connection over capacity is
	 * still accepted and evicts an idle one (on_connection) instead of
	 * being refused; and a buffer larger than the header and URL limits,
	 * so that first_call, not MHD's HTML page, refuses a long head.
	 */
	unsigned mhd_limit = (unsigned)opt->max_connections + (unsigned)(opt->max_connections / 8 > 32 ? opt->max_connections / 8 : 32);
	size_t pool = opt->header_limit + opt->url_limit + 64 * 1024;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
			 MHD_USE_TURBO | MHD_ALLOW_SUSPEND_RESUME;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
				  MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				  MHD_OPTION_THREAD_POOL_SIZE, (unsigned)opt->threads,
				  MHD_OPTION_CONNECTION_LIMIT, mhd_limit,
				  MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)opt->max_connections_per_ip,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)opt->timeout_s,
				  MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool,
				  MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
				  MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
				  MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
				  MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
				  MHD_OPTION_END);
	if (!s->mhd) {
		buf_addf(err, "cannot listen on %s (address in use, or not permitted)", opt->listen);
		offload_stop(s);
		server_free(s);
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
	/* streams never end by themselves: end them now, so the drain below is about real requests */
	atomic_store(&s->stopping, true);
	http_server_wake_streams(s);
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
	server_free(s);
}

void http_server_metrics(const struct http_server *s, struct buf *out)
{
	buf_adds(out, "# HELP ooda_http_requests_total HTTP requests by route and status.\n"
		      "# TYPE ooda_http_requests_total counter\n");
	for (int i = 0; i <= s->n_routes; i++) {
		const char *pattern = i < s->n_routes ? s->opt.routes[i].pattern : "unmatched";
		const char *method = i < s->n_routes ? s->opt.routes[i].method : "other";
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
		const char *method = i < s->n_routes ? s->opt.routes[i].method : "other";
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
	struct http_server *m = (struct http_server *)s;
	pthread_mutex_lock(&m->conns_mu);
	int open_conns = m->n_conns;
	pthread_mutex_unlock(&m->conns_mu);
	buf_addf(out,
		 "# HELP ooda_http_connections Open HTTP connections.\n"
		 "# TYPE ooda_http_connections gauge\nooda_http_connections %d\n"
		 "# HELP ooda_http_connections_closed_total Connections closed by the server: head not complete in time, body too slow, idle, or evicted at capacity.\n"
		 "# TYPE ooda_http_connections_closed_total counter\n",
		 open_conns);
	for (int i = 0; i < N_CLOSE; i++)
		buf_addf(out, "ooda_http_connections_closed_total{reason=\"%s\"} %llu\n", close_reason_names[i],
			 atomic_load(&m->closed[i]));
	buf_addf(out,
		 "# HELP ooda_http_body_bytes_in_flight Bytes of request bodies held in memory (received, queued or decompressed).\n"
		 "# TYPE ooda_http_body_bytes_in_flight gauge\nooda_http_body_bytes_in_flight %zu\n"
		 "# HELP ooda_http_body_bytes_limit The bound limits.body_bytes_in_flight (0: none).\n"
		 "# TYPE ooda_http_body_bytes_limit gauge\nooda_http_body_bytes_limit %zu\n"
		 "# HELP ooda_http_body_budget_refused_total Requests answered 503 because bodies in flight would exceed the bound.\n"
		 "# TYPE ooda_http_body_budget_refused_total counter\nooda_http_body_budget_refused_total %llu\n"
		 "# HELP ooda_http_uri_too_long_total Requests answered 414 for a URL over limits.url_bytes.\n"
		 "# TYPE ooda_http_uri_too_long_total counter\nooda_http_uri_too_long_total %llu\n",
		 atomic_load(&m->body_bytes), s->opt.body_budget, atomic_load(&m->body_refused),
		 atomic_load(&m->uri_too_long));
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
