/*
 * The CLI's HTTP client for the daemon's API. The caller picks the server
 * and token (the CLI: cli_context_resolve() in cli_context.c). Failures
 * come back as one line: the problem's detail.
 */
#ifndef OODA_CLIENT_H
#define OODA_CLIENT_H

#include "core/buf.h"

struct client {
	const char *server;
	const char *token;
	long timeout_s;
	const char *if_match; /* a version: sent as If-Match: "vN" when set */
};

/*
 * Sends a request; body may be NULL. On a 2xx answer returns 0 with the
 * body in out and the status in *status. Otherwise returns an OODA_E* code
 * with a one-line reason in err ("403 Forbidden: ..."); a 401 adds how to
 * send a token (OODA_TOKEN, --token, `ooda login`). An error status maps to
 * its OODA_E* code (401 OODA_EUNAUTH, 404 OODA_ENOTFOUND, …), any other 4xx
 * to OODA_EREFUSED, never to OODA_EINVAL (the CLI's usage error).
 */
int client_call(const struct client *c, const char *method, const char *path, const char *body,
		size_t body_len, const char *content_type, int *status, struct buf *out, struct buf *err);

/* Appends s URL-encoded to out. */
void client_urlencode(struct buf *out, const char *s);

#endif
