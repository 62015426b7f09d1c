/*
 * Forwarding a follower's request for the leader's engine to the leader
 * (forward.h): a small pool of libcurl easy handles (each keeps its
 * connection to the leader open for the next request), the request rebuilt
 * from the incoming one and the leader's answer copied back. Sits between
 * the HTTP front (http/server.c calls it for ROUTE_LEADER routes) and the
 * cluster loop that knows the leader (cluster.h).
 */
#include "api/forward.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api/cluster.h"
#include "api/daemon.h"
#include "core/error.h"
#include "core/xalloc.h"

struct forwarder {
	struct cluster *cluster;
	pthread_mutex_t mu;
	CURL *idle[FORWARD_POOL];
	int n_idle;
};

/* Request headers sent on besides Authorization: those that change the leader's answer. */
static const char *const sent_headers[] = {
	"Content-Type", "Accept", "If-Match", "If-None-Match", "X-Ooda-Env",
};

/* Answer headers copied back to the client. */
static const char *const kept_headers[] = { "ETag", "Retry-After", "Location" };

int forward_create(struct cluster *c, struct forwarder **out, struct buf *err)
{
	(void)err;
	curl_global_init(CURL_GLOBAL_DEFAULT); /* reference-counted */
	struct forwarder *f = xcalloc(1, sizeof(*f));
	f->cluster = c;
	pthread_mutex_init(&f->mu, NULL);
	*out = f;
	return 0;
}

void forward_destroy(struct forwarder *f)
{
	if (!f)
		return;
	for (int i = 0; i < f->n_idle; i++)
		curl_easy_cleanup(f->idle[i]);
	pthread_mutex_destroy(&f->mu);
	free(f);
	curl_global_cleanup();
}

static CURL *handle_take(struct forwarder *f)
{
	CURL *h = NULL;
	pthread_mutex_lock(&f->mu);
	if (f->n_idle)
		h = f->idle[--f->n_idle];
	pthread_mutex_unlock(&f->mu);
	if (h)
		curl_easy_reset(h); /* keeps its connections */
	else
		h = curl_easy_init();
	return h;
}

static void handle_give(struct forwarder *f, CURL *h)
{
	pthread_mutex_lock(&f->mu);
	if (f->n_idle < FORWARD_POOL) {
		f->idle[f->n_idle++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&f->mu);
	if (h)
		curl_easy_cleanup(h);
}

struct answer {
	struct buf body;
	bool too_big;
	struct http_request *req;
	const char *content_type; /* in req->arena */
	struct http_response *res;
};

static size_t answer_body(char *p, size_t size, size_t n, void *ctx)
{
	struct answer *a = ctx;
	size_t len = size * n;
	if (a->body.len + len > FORWARD_MAX_ANSWER) {
		a->too_big = true;
		return 0; /* ends the transfer */
	}
	buf_add(&a->body, p, len);
	return len;
}

bool forward_header_split(const char *line, size_t len, struct forward_header *out)
{
	const char *colon = memchr(line, ':', len);
	if (!colon || colon == line)
		return false;
	const char *v = colon + 1;
	const char *end = line + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
	out->name = line;
	out->name_len = (size_t)(colon - line);
	out->value = v;
	out->value_len = (size_t)(end - v);
	return true;
}

static bool header_is(const struct forward_header *h, const char *name)
{
	return h->name_len == strlen(name) && !strncasecmp(h->name, name, h->name_len);
}

/* One header line of the leader's answer: the kept ones go to the client's response. */
static size_t answer_header(char *p, size_t size, size_t n, void *ctx)
{
	struct answer *a = ctx;
	size_t len = size * n;
	struct forward_header h;
	if (!forward_header_split(p, len, &h))
		return len; /* the status line, the blank line at the end */
	if (header_is(&h, "Content-Type")) {
		a->content_type = arena_strndup(&a->req->arena, h.value, h.value_len);
		return len;
	}
	for (size_t i = 0; i < sizeof(kept_headers) / sizeof(kept_headers[0]); i++)
		if (header_is(&h, kept_headers[i]) && a->res->n_headers < HTTP_MAX_HEADERS)
			http_set_header(a->res, kept_headers[i], arena_strndup(&a->req->arena, h.value, h.value_len));
	return len;
}

/* Whether the request asks the leader to wait for an outcome (a longer timeout). */
static bool asks_wait(struct http_request *req)
{
	return http_query(req, "wait") || (req->body && memmem(req->body, req->body_len, "\"wait\"", 6));
}

static int send_on(struct forwarder *f, struct http_request *req, struct http_response *res, const char *node_id,
		   const char *leader_id, const char *address)
{
	struct buf url = BUF_INIT;
	buf_addf(&url, "http://%s%s", address, req->path);
	http_query_string(req, &url);
	struct curl_slist *hdrs = NULL;
	struct buf line = BUF_INIT;
	const char *auth = http_header(req, "Authorization");
	if (auth) {
		buf_addf(&line, "Authorization: %s", auth);
		hdrs = curl_slist_append(hdrs, line.data);
		buf_reset(&line);
	}
	for (size_t i = 0; i < sizeof(sent_headers) / sizeof(sent_headers[0]); i++) {
		const char *v = http_header(req, sent_headers[i]);
		if (!v)
			continue;
		buf_addf(&line, "%s: %s", sent_headers[i], v);
		hdrs = curl_slist_append(hdrs, line.data);
		buf_reset(&line);
	}
	buf_addf(&line, "%s: %s", FORWARD_HOP_HEADER, node_id);
	hdrs = curl_slist_append(hdrs, line.data);
	buf_reset(&line);
	buf_addf(&line, "%s: %s", FORWARD_LEADER_HEADER, leader_id);
	hdrs = curl_slist_append(hdrs, line.data);
	hdrs = curl_slist_append(hdrs, "Expect:"); /* no 100-continue round trip */
	buf_release(&line);

	struct answer a = { .body = BUF_INIT, .req = req, .res = res };
	CURL *h = handle_take(f);
	int rc = 0;
	if (!h || !hdrs) {
		buf_adds(&req->err, "cannot forward the request to the leader: out of memory");
		rc = OODA_ENOMEM;
		goto out;
	}
	curl_easy_setopt(h, CURLOPT_URL, url.data);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)FORWARD_CONNECT_MS);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(asks_wait(req) ? FORWARD_WAIT_TIMEOUT_MS : FORWARD_TIMEOUT_MS));
	if (strcmp(req->method, "GET") && strcmp(req->method, "HEAD")) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body_len ? req->body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
	} else if (!strcmp(req->method, "HEAD")) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	}
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, answer_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &a);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, answer_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &a);
	CURLcode cc = curl_easy_perform(h);
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (cc != CURLE_OK || status < 100 || status > 599) {
		/* the URL holds no secret; the Authorization header is never named */
		if (a.too_big)
			buf_addf(&req->err, "the leader %s (%s) answered more than %u bytes", leader_id, address,
				 FORWARD_MAX_ANSWER);
		else
			buf_addf(&req->err, "the leader %s (%s) did not answer the forwarded request: %s", leader_id,
				 address, curl_easy_strerror(cc));
		/* a leader that cannot be reached is gone or going: another will lead, so the client retries */
		rc = cc == CURLE_OPERATION_TIMEDOUT ? OODA_ETIMEOUT
		     : cc == CURLE_COULDNT_CONNECT  ? OODA_EUNAVAIL
						    : OODA_EIO;
		for (int i = 0; i < res->n_headers; i++)
			free(res->header_values[i]);
		res->n_headers = 0;
		goto out;
	}
	res->status = (int)status;
	res->content_type = a.content_type ? a.content_type : "application/json";
	buf_release(&res->body);
	res->body = a.body;
	a.body = (struct buf)BUF_INIT;
out:
	if (h)
		handle_give(f, h);
	curl_slist_free_all(hdrs);
	buf_release(&a.body);
	buf_release(&url);
	return rc;
}

/* The leader cannot be reached: a route that hands its work over through the store serves it here. */
static int unreachable(struct http_request *req)
{
	if (!(req->route->flags & ROUTE_HANDOVER))
		return OODA_EUNAVAIL;
	buf_reset(&req->err);
	return HTTP_SERVE_HERE;
}

int forward_request(void *app, struct http_request *req, struct http_response *res)
{
	struct daemon *d = app;
	struct forwarder *f = d->forwarder;
	if (!f)
		return HTTP_SERVE_HERE;
	char leader[128], address[160];
	int rc = cluster_leader(f->cluster, leader, sizeof(leader), address, sizeof(address));
	if (rc == 1)
		return HTTP_SERVE_HERE;
	const char *node_id = cluster_node_id(f->cluster);
	const char *hop = http_header(req, FORWARD_HOP_HEADER);
	if (hop) {
		const char *expected = http_header(req, FORWARD_LEADER_HEADER);
		buf_addf(&req->err,
			 "node %s forwarded this request to %s as the leader, but this node (%s) does not lead; "
			 "it is not forwarded twice (the leader is %s): retry",
			 hop, expected ? expected : "?", node_id, rc == 0 ? leader : "not known yet");
		return unreachable(req);
	}
	if (rc) {
		if (leader[0] && strcmp(leader, node_id))
			buf_addf(&req->err,
				 "no leader to forward to: %s held the lease last, but its lease ended or it has not "
				 "recorded its address yet; retry",
				 leader);
		else
			buf_adds(&req->err, "no leader to forward to: an election is under way; retry");
		return unreachable(req);
	}
	rc = send_on(f, req, res, node_id, leader, address);
	return rc == OODA_EUNAVAIL ? unreachable(req) : rc; /* refused: nothing reached the leader */
}
