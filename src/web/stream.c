/*
 * The live feed's hub (stream.h): one mutex guards the client list and
 * every client's ring of pre-rendered SSE frames. The HTTP server pulls a
 * client's frames through client_read() on an event-loop thread; when the
 * ring is empty the server parks the connection until a publish or a
 * heartbeat wakes it (http_server_wake_streams). The hub's own thread sends
 * heartbeats, turns newly stored change events into "change" events and,
 * with several nodes, stores the events published here for the others; a
 * second thread passes on the events the others stored (web_stream_share).
 */
#include "web/stream.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/log.h"
#include "core/time.h"
#include "core/worker.h"
#include "core/xalloc.h"

struct client {
	struct web_stream *hub;
	char *ring[WEB_STREAM_QUEUE]; /* rendered frames, oldest at head */
	int head, count;
	size_t off;                   /* bytes of ring[head] already sent */
	uint64_t lost;                /* dropped and not yet reported to the client */
	int64_t last_ns;              /* when a frame was last queued (monotonic) */
	struct client *prev, *next;
};

struct web_stream {
	pthread_mutex_t mu;
	pthread_cond_t wake;
	struct client *clients;
	int n_clients;
	uint64_t dropped;
	struct http_server *server;
	struct tstore *tstore;
	int64_t events_after_ns; /* change events up to this time were published */
	pthread_t thread;
	bool running, stop;
	/* shared with the other nodes (web_stream_share); the queue and counters under mu */
	struct store *store;
	const char *node_id;
	struct shared_event { char *type, *json; } *outq;
	size_t n_out;
	int64_t after_id;        /* the follower thread's own: the last event read */
	uint64_t sent, received, lost;
	int64_t logged_ns;
	pthread_t follower;
	bool following;
};

void web_stream_create(struct web_stream **out)
{
	struct web_stream *h = xcalloc(1, sizeof(*h));
	pthread_mutex_init(&h->mu, NULL);
	worker_cond_init(&h->wake);
	*out = h;
}

void web_stream_set_server(struct web_stream *h, struct http_server *s)
{
	pthread_mutex_lock(&h->mu);
	h->server = s;
	pthread_mutex_unlock(&h->mu);
}

/* Appends a frame to c's ring, dropping the oldest when full (h->mu held). */
static void client_push(struct web_stream *h, struct client *c, const char *frame, int64_t now)
{
	if (c->count == WEB_STREAM_QUEUE) {
		int nx = (c->head + 1) % WEB_STREAM_QUEUE;
		if (c->off) { /* the head is half sent: it stays, the next oldest goes */
			free(c->ring[nx]);
			c->ring[nx] = c->ring[c->head];
		} else {
			free(c->ring[c->head]);
		}
		c->ring[c->head] = NULL;
		c->head = nx;
		c->count--;
		c->lost++;
		h->dropped++;
	}
	c->ring[(c->head + c->count) % WEB_STREAM_QUEUE] = xstrdup(frame);
	c->count++;
	c->last_ns = now;
}

static void wake_server(struct web_stream *h)
{
	struct http_server *s = h->server;
	pthread_mutex_unlock(&h->mu);
	http_server_wake_streams(s);
	pthread_mutex_lock(&h->mu);
}

/* Queues an event for this node's clients only. */
static void publish_local(struct web_stream *h, const char *type, const char *json)
{
	struct buf f = BUF_INIT;
	buf_addf(&f, "event: %s\ndata: %s\n\n", type, json);
	int64_t now = ooda_mono_ns();
	pthread_mutex_lock(&h->mu);
	for (struct client *c = h->clients; c; c = c->next)
		client_push(h, c, f.data, now);
	bool any = h->clients != NULL;
	if (any)
		wake_server(h);
	pthread_mutex_unlock(&h->mu);
	buf_release(&f);
}

void web_stream_publish(struct web_stream *h, const char *type, const char *json)
{
	if (!h)
		return;
	publish_local(h, type, json);
	if (!h->store)
		return;
	pthread_mutex_lock(&h->mu);
	if (h->n_out >= WEB_STREAM_SHARE_QUEUE || strlen(json) > WEB_STREAM_SHARE_MAX_BYTES) {
		h->lost++;
	} else {
		h->outq[h->n_out++] = (struct shared_event){ xstrdup(type), xstrdup(json) };
		pthread_cond_broadcast(&h->wake); /* the hub's thread stores it now, not at its next second */
	}
	pthread_mutex_unlock(&h->mu);
}

/* The server's read(): frames in order, a "dropped" notice first when some were lost. */
static long client_read(void *cls, char *buf, size_t max)
{
	struct client *c = cls;
	struct web_stream *h = c->hub;
	long n = 0;
	pthread_mutex_lock(&h->mu);
	if (c->lost && c->off == 0) {
		int len = snprintf(buf, max, "event: dropped\ndata: {\"dropped\":%llu}\n\n", (unsigned long long)c->lost);
		if (len > 0 && (size_t)len < max) {
			n = len;
			c->lost = 0;
		}
	}
	while (c->count && (size_t)n < max) {
		const char *f = c->ring[c->head];
		size_t left = strlen(f) - c->off;
		size_t take = left < max - (size_t)n ? left : max - (size_t)n;
		memcpy(buf + n, f + c->off, take);
		n += (long)take;
		c->off += take;
		if (c->off < strlen(f))
			break; /* the rest of this frame goes with the next read */
		free(c->ring[c->head]);
		c->ring[c->head] = NULL;
		c->head = (c->head + 1) % WEB_STREAM_QUEUE;
		c->count--;
		c->off = 0;
	}
	pthread_mutex_unlock(&h->mu);
	return n;
}

static void client_done(void *cls)
{
	struct client *c = cls;
	struct web_stream *h = c->hub;
	pthread_mutex_lock(&h->mu);
	if (c->prev)
		c->prev->next = c->next;
	else
		h->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	h->n_clients--;
	pthread_mutex_unlock(&h->mu);
	for (int i = 0; i < c->count; i++)
		free(c->ring[(c->head + i) % WEB_STREAM_QUEUE]);
	free(c);
}

int web_stream_open(struct web_stream *h, struct http_response *res, struct buf *err)
{
	pthread_mutex_lock(&h->mu);
	if (h->n_clients >= WEB_STREAM_MAX_CLIENTS) {
		pthread_mutex_unlock(&h->mu);
		buf_addf(err, "%d live streams are open, the most this server keeps; close a dashboard tab or retry later",
			 WEB_STREAM_MAX_CLIENTS);
		return OODA_EBUSY;
	}
	struct client *c = xcalloc(1, sizeof(*c));
	c->hub = h;
	int64_t now = ooda_mono_ns();
	/* the first frame: tells the client the stream is live, and how often to expect a heartbeat */
	client_push(h, c, ": ooda live feed; a comment line every 15 s\nretry: 2000\n\n", now);
	c->next = h->clients;
	if (c->next)
		c->next->prev = c;
	h->clients = c;
	h->n_clients++;
	pthread_mutex_unlock(&h->mu);
	res->status = 200;
	res->content_type = "text/event-stream";
	http_set_header(res, "Cache-Control", "no-store");
	http_set_header(res, "X-Accel-Buffering", "no");
	res->stream = (struct http_stream){ .read = client_read, .done = client_done, .cls = c };
	return 0;
}

void web_stream_tick(struct web_stream *h, int64_t now_ns)
{
	pthread_mutex_lock(&h->mu);
	bool any = false;
	for (struct client *c = h->clients; c; c = c->next) {
		if (now_ns - c->last_ns >= WEB_STREAM_HEARTBEAT_NS) {
			client_push(h, c, ": heartbeat\n\n", now_ns);
			any = true;
		}
	}
	if (any)
		wake_server(h);
	pthread_mutex_unlock(&h->mu);
}

void web_stream_stats(struct web_stream *h, int *clients, uint64_t *dropped)
{
	pthread_mutex_lock(&h->mu);
	*clients = h->n_clients;
	*dropped = h->dropped;
	pthread_mutex_unlock(&h->mu);
}

/* Publishes the change events stored since the last look, oldest first. */
static void poll_events(struct web_stream *h)
{
	struct tstore_event_filter f = { .from_ns = h->events_after_ns + 1, .limit = 200 };
	struct buf out = BUF_INIT, err = BUF_INIT;
	if (tstore_events_json(h->tstore, &f, &out, &err)) {
		buf_release(&out);
		buf_release(&err);
		return;
	}
	json_t *arr = json_loadb(out.data, out.len, 0, NULL);
	buf_release(&out);
	buf_release(&err);
	if (!json_is_array(arr)) {
		json_decref(arr);
		return;
	}
	for (size_t i = json_array_size(arr); i-- > 0;) {
		json_t *ev = json_array_get(arr, i);
		json_int_t t = json_integer_value(json_object_get(ev, "time_unix_nano"));
		if (t > h->events_after_ns)
			h->events_after_ns = t;
		char *s = json_dumps(ev, JSON_COMPACT);
		if (s) {
			web_stream_publish(h, "change", s);
			free(s);
		}
	}
	json_decref(arr);
}

struct share_batch {
	struct shared_event *v;
	size_t n;
	const char *node_id;
};

static int share_tx(struct store *s, void *ctx, struct buf *err)
{
	const struct share_batch *b = ctx;
	int64_t now = ooda_now_ns();
	for (size_t i = 0; i < b->n; i++) {
		int rc = store_stream_put(s, b->node_id, now, b->v[i].type, b->v[i].json, now - WEB_STREAM_SHARE_KEEP_NS);
		if (rc) {
			buf_addf(err, "the live feed's events cannot be stored for the other nodes: %s", ooda_strerror(rc));
			return rc;
		}
	}
	return 0;
}

/* Stores the queued events for the other nodes, in one transaction (h->mu held; released meanwhile). */
static void share_out(struct web_stream *h)
{
	struct share_batch b = { h->outq, h->n_out, h->node_id };
	h->outq = xcalloc(WEB_STREAM_SHARE_QUEUE, sizeof(*h->outq));
	h->n_out = 0;
	pthread_mutex_unlock(&h->mu);
	struct buf err = BUF_INIT;
	int rc = store_write(h->store, share_tx, &b, &err);
	pthread_mutex_lock(&h->mu);
	if (rc) {
		h->lost += b.n;
		int64_t now = ooda_now_ns();
		if (now - h->logged_ns >= 10 * OODA_NS_PER_SEC) {
			log_warn("live feed: %s", err.data);
			h->logged_ns = now;
		}
	} else {
		h->sent += b.n;
	}
	buf_release(&err);
	for (size_t i = 0; i < b.n; i++) {
		free(b.v[i].type);
		free(b.v[i].json);
	}
	free(b.v);
}

static int shared_row(void *ctx, const void *row)
{
	struct web_stream *h = ctx;
	const struct stream_event_row *r = row;
	h->after_id = r->id;
	if (!strchr(r->body, '\n')) /* one line of JSON, as every producer writes it */
		publish_local(h, r->type, r->body);
	pthread_mutex_lock(&h->mu);
	h->received++;
	pthread_mutex_unlock(&h->mu);
	return 0;
}

/*
 * The follower thread: wakes on every commit to the store (LISTEN/NOTIFY on
 * PostgreSQL) or after half a second, and passes on what other nodes stored.
 * Reads are at least 20 ms apart, so a burst of commits costs one query.
 */
static void *follow_main(void *arg)
{
	struct web_stream *h = arg;
	uint64_t seen = 0;
	int64_t last_read = 0;
	for (;;) {
		pthread_mutex_lock(&h->mu);
		bool stop = h->stop;
		pthread_mutex_unlock(&h->mu);
		if (stop)
			break;
		int rc = store_wait_change(h->store, &seen, 500);
		if (rc == OODA_EUNAVAIL) { /* the server is away: try again in a while, without spinning */
			pthread_mutex_lock(&h->mu);
			if (!h->stop)
				worker_cond_wait_until(&h->wake, &h->mu, ooda_mono_ns() + OODA_NS_PER_SEC);
			pthread_mutex_unlock(&h->mu);
		}
		int64_t gap = ooda_mono_ns() - last_read;
		if (gap < 20 * OODA_NS_PER_MS) {
			struct timespec ts = { 0, (long)(20 * OODA_NS_PER_MS - gap) };
			nanosleep(&ts, NULL);
		}
		last_read = ooda_mono_ns();
		for (int page = 0; page < 10; page++) {
			int64_t before = h->after_id;
			if (store_stream_list(h->store, h->node_id, h->after_id, 200, shared_row, h) ||
			    h->after_id == before)
				break;
		}
	}
	return NULL;
}

int web_stream_share(struct web_stream *h, struct store *store, const char *node_id)
{
	int64_t head = 0;
	int rc = store_stream_head(store, &head);
	if (rc)
		return rc;
	h->store = store;
	h->node_id = node_id;
	h->after_id = head;
	h->outq = xcalloc(WEB_STREAM_SHARE_QUEUE, sizeof(*h->outq));
	return 0;
}

void web_stream_share_stats(struct web_stream *h, uint64_t *sent, uint64_t *received, uint64_t *lost)
{
	pthread_mutex_lock(&h->mu);
	*sent = h->sent;
	*received = h->received;
	*lost = h->lost;
	pthread_mutex_unlock(&h->mu);
}

static void *hub_main(void *arg)
{
	struct web_stream *h = arg;
	int64_t next_tick = 0;
	pthread_mutex_lock(&h->mu);
	while (!h->stop) {
		if (!h->n_out)
			worker_cond_wait_until(&h->wake, &h->mu, next_tick ? next_tick : ooda_mono_ns() + OODA_NS_PER_SEC);
		if (h->n_out)
			share_out(h);
		if (h->stop)
			break;
		if (ooda_mono_ns() < next_tick)
			continue; /* woken to share an event: heartbeats and change events keep their second */
		next_tick = ooda_mono_ns() + OODA_NS_PER_SEC;
		bool listening = h->n_clients > 0;
		pthread_mutex_unlock(&h->mu);
		web_stream_tick(h, ooda_mono_ns());
		if (listening && h->tstore)
			poll_events(h);
		else
			h->events_after_ns = ooda_now_ns(); /* nobody saw the past: start from now */
		pthread_mutex_lock(&h->mu);
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

int web_stream_start(struct web_stream *h, struct tstore *t, struct buf *err)
{
	h->tstore = t;
	h->events_after_ns = ooda_now_ns();
	if (pthread_create(&h->thread, NULL, hub_main, h)) {
		buf_adds(err, "cannot start the live feed's thread");
		return OODA_EINTERNAL;
	}
	h->running = true;
	if (h->store && pthread_create(&h->follower, NULL, follow_main, h)) {
		buf_adds(err, "cannot start the live feed's follower thread");
		return OODA_EINTERNAL;
	}
	h->following = h->store != NULL;
	return 0;
}

void web_stream_destroy(struct web_stream *h)
{
	if (!h)
		return;
	if (h->running) {
		pthread_mutex_lock(&h->mu);
		h->stop = true;
		pthread_cond_broadcast(&h->wake);
		pthread_mutex_unlock(&h->mu);
		pthread_join(h->thread, NULL);
		if (h->following)
			pthread_join(h->follower, NULL);
	}
	for (size_t i = 0; i < h->n_out; i++) { /* not stored: the store may be closing */
		free(h->outq[i].type);
		free(h->outq[i].json);
	}
	free(h->outq);
	while (h->clients) /* only when the server never ran their done(): free what is left */
		client_done(h->clients);
	pthread_cond_destroy(&h->wake);
	pthread_mutex_destroy(&h->mu);
	free(h);
}
