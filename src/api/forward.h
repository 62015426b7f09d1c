/*
 * Request forwarding to the leader: with several nodes on one control
 * store, a request to a route marked ROUTE_LEADER (api/routes.c) that
 * reaches a follower is sent on over HTTP to the leader's recorded address
 * — same method, path, query, body, Authorization and the few request
 * headers that change an answer — and the leader's status, Content-Type,
 * ETag, Retry-After, Location and body go back to the client as they are.
 * The leader authenticates the token again, so its audit records name the
 * token's actor, never the forwarding node. A forwarded request carries
 * FORWARD_HOP_HEADER (the forwarding node) and FORWARD_LEADER_HEADER (the
 * leader it expected); one that lands on a node that does not lead is not
 * forwarded again but answered 503 naming both. With no live leader known
 * (an election under way) the answer is 503 with Retry-After: 1, but for a
 * route marked ROUTE_HANDOVER, which the follower then serves itself by
 * handing the work over through the store (api/handover.h). With one
 * node (SQLite) no forwarder exists and http_options.forward stays NULL.
 */
#ifndef OODA_FORWARD_H
#define OODA_FORWARD_H

#include <stdbool.h>
#include <stddef.h>

#include "http/server.h"

#define FORWARD_HOP_HEADER "X-Ooda-Forwarded-By"
#define FORWARD_LEADER_HEADER "X-Ooda-Forwarded-To"
/* A forwarded request must be answered within this (connecting within FORWARD_CONNECT_MS) ... */
#define FORWARD_TIMEOUT_MS 10000
/* ... or this, when it asks the leader to wait (?wait=, a body naming "wait": rollbacks wait up to 30 s). */
#define FORWARD_WAIT_TIMEOUT_MS 35000
#define FORWARD_CONNECT_MS 2000
/* The leader's answer is refused (502) past this many bytes. */
#define FORWARD_MAX_ANSWER (64u << 20)
/* Idle connections to the leader kept for reuse. */
#define FORWARD_POOL 8

struct cluster;
struct forwarder;

/* One header line of the leader's answer, split in place (pointers into the line). */
struct forward_header {
	const char *name;
	size_t name_len;
	const char *value; /* without the blanks around it and the line end */
	size_t value_len;
};

/*
 * Splits "Name: value\r\n" (len bytes, not NUL-terminated); false for a line
 * without a name and a colon (the status line, the blank line). Reads only
 * line[0, len).
 */
bool forward_header_split(const char *line, size_t len, struct forward_header *out);

/* A forwarder for this node, asking c who leads. Caller owns *out (forward_destroy). */
int forward_create(struct cluster *c, struct forwarder **out, struct buf *err);
/* Closes its idle connections; NULL ok. No request may be in flight. */
void forward_destroy(struct forwarder *f);

/*
 * The http_options.forward hook (app is the daemon, whose forwarder is
 * used): HTTP_SERVE_HERE on the leader; else 0 with res holding the
 * leader's answer, whatever its status, or OODA_EUNAVAIL (no leader known,
 * the leader refused the connection, or a forwarded request on a node that
 * does not lead), OODA_ETIMEOUT (the leader did not answer in time) or
 * OODA_EIO (another transfer failure, or an answer over FORWARD_MAX_ANSWER),
 * with detail in req->err; for a ROUTE_HANDOVER route, HTTP_SERVE_HERE
 * instead of OODA_EUNAVAIL. The Authorization header is sent on and never
 * written to err or the log.
 */
int forward_request(void *app, struct http_request *req, struct http_response *res);

#endif
