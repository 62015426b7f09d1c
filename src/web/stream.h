/*
 * The dashboard's live feed behind GET /api/v1/stream: a hub that fans
 * events out to at most WEB_STREAM_MAX_CLIENTS Server-Sent Events clients.
 * Producers (alert transitions through alerts_subscribe, change events the
 * hub's thread reads from the telemetry store, later incidents) call
 * web_stream_publish; each client has a bounded queue that drops its oldest
 * event when full and tells the client how many it lost (an event
 * "dropped"). A comment line goes out every WEB_STREAM_HEARTBEAT_NS so
 * proxies and the browser see the connection alive. Never blocks a
 * producer beyond a short lock.
 *
 *   client: open (web_stream_open) → queued → read by the server → … →
 *           done (connection closed, or the server stopping ends every stream)
 */
#ifndef OODA_WEB_STREAM_H
#define OODA_WEB_STREAM_H

#include <stdint.h>

#include "http/server.h"
#include "store/store.h"
#include "store/tstore.h"

#define WEB_STREAM_MAX_CLIENTS 16
#define WEB_STREAM_QUEUE 256
#define WEB_STREAM_HEARTBEAT_NS (15 * 1000000000LL)

struct web_stream;

/* Creates an idle hub (no thread yet). Caller owns *out (web_stream_destroy). */
void web_stream_create(struct web_stream **out);

/*
 * Starts the hub's thread: heartbeats, and change events appended to t
 * after now, published as "change". t may be NULL (heartbeats only).
 * OODA_EINTERNAL when the thread cannot start (detail in err).
 */
int web_stream_start(struct web_stream *h, struct tstore *t, struct buf *err);

/*
 * Several nodes (PostgreSQL): every node's feed carries every event once.
 * Called before web_stream_start; store and node_id must outlive the hub.
 * From then on each event published here is also stored for the other
 * nodes (store_stream_put, by the hub's thread: a publish still never
 * waits for the store; at most WEB_STREAM_SHARE_QUEUE wait, beyond that
 * they stay local and are counted), and a second thread follows the store's
 * change notifications (store_wait_change) and passes the events other
 * nodes stored since the last look to this hub's clients, oldest first,
 * starting with those stored after this call. Change events ("change")
 * are read from the telemetry store by every node and are not shared.
 * Returns 0, or OODA_EUNSUPPORTED on a store with one node (SQLite), where
 * nothing changes.
 */
int web_stream_share(struct web_stream *h, struct store *store, const char *node_id);
#define WEB_STREAM_SHARE_QUEUE 1024
/* Events of at most this many bytes are shared; a larger one stays on this node (counted). */
#define WEB_STREAM_SHARE_MAX_BYTES (256 * 1024)
/* Stored events are kept this long (a node that was away longer misses the older ones). */
#define WEB_STREAM_SHARE_KEEP_NS (600 * 1000000000LL)

/* Events this node stored for the others, read from them, and could not share (queue full, too big, store away). */
void web_stream_share_stats(struct web_stream *h, uint64_t *sent, uint64_t *received, uint64_t *lost);

/* The server whose sleeping streams a publish wakes; set before clients come. */
void web_stream_set_server(struct web_stream *h, struct http_server *s);

/*
 * Queues `event: type` with one line of JSON data for every client; json is
 * copied and must hold no newline. A full queue drops its oldest event.
 */
void web_stream_publish(struct web_stream *h, const char *type, const char *json);

/*
 * Makes res a stream for a new client: 200 text/event-stream whose body is
 * the client's queue. OODA_EBUSY (detail in err) when WEB_STREAM_MAX_CLIENTS
 * are connected.
 */
int web_stream_open(struct web_stream *h, struct http_response *res, struct buf *err);

/* Queues a heartbeat for clients idle for WEB_STREAM_HEARTBEAT_NS at now_ns (monotonic). */
void web_stream_tick(struct web_stream *h, int64_t now_ns);

/* Clients connected now, and events dropped from full queues since start. */
void web_stream_stats(struct web_stream *h, int *clients, uint64_t *dropped);

/* Stops the thread and frees the hub; call after the HTTP server stopped. NULL is a no-op. */
void web_stream_destroy(struct web_stream *h);

#endif
