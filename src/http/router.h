/*
 * Route matching over the static route table: "/api/v1/flags/{key}" binds
 * key; a trailing "/ *" (no space) matches the rest of the path. Unknown paths are 404;
 * known paths with another method are 405 with the Allow list.
 */
#ifndef OODA_ROUTER_H
#define OODA_ROUTER_H

#include "http/server.h"

/*
 * Finds the route for method and path and binds its parameters into req
 * (strings from req->arena). Returns the route, or NULL with *status 404 or
 * 405 (then allow holds "GET, POST").
 */
const struct route *router_match(const struct route *routes, const char *method, const char *path,
				 struct http_request *req, int *status, struct buf *allow);

/* Index of r in routes, for per-route metrics. */
int router_index(const struct route *routes, const struct route *r);

#endif
