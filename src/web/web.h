/*
 * The dashboard's HTTP side: the shell at `/` and its embedded assets at
 * /assets/<build>/<name>, with a strict Content-Security-Policy, gzip when the
 * client accepts it, ETag/304, and a year of caching for the build-hashed
 * assets. Loading the shell needs no token; every data call the page makes
 * carries the bearer token it keeps in session storage (docs/dashboard.md).
 */
#ifndef OODA_WEB_H
#define OODA_WEB_H

#include <stdbool.h>

#include "http/server.h"
#include "web/assets.h"

/* The policy sent with every dashboard response. */
#define WEB_CSP                                                                                     \
	"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "           \
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

/* GET /: the shell (index.html), revalidated on every load (no-cache + ETag). */
int web_index(struct http_request *req, struct http_response *res);

/*
 * GET /assets/ *: one embedded asset of this build. Another build's path,
 * an unknown name or "index.html" is OODA_ENOTFOUND.
 */
int web_asset(struct http_request *req, struct http_response *res);

/* The embedded asset called name, or NULL. */
const struct web_asset *web_asset_find(const char *name);

/* Does an Accept-Encoding value allow gzip (a "gzip" or "*" token whose q is not 0)? NULL: no. */
bool web_accepts_gzip(const char *accept_encoding);

/* Does an If-None-Match value name etag (quoted, weak or not, in a list, or "*")? NULL: no. */
bool web_etag_matches(const char *if_none_match, const char *etag);

#endif
