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
