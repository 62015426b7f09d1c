/*
 * The simulator's HTTP client (libcurl, one easy handle per call): the calls
 * between simulated services, to ooda's API and OTLP intake, and from the
 * `ooda-sim` subcommands to a running simulator's control port.
 */
#ifndef OODA_SIM_HTTPC_H
#define OODA_SIM_HTTPC_H

#include <stddef.h>

#include "core/buf.h"

/* Call once per process before any thread calls httpc_call. */
void httpc_global_init(void);

/*
 * Sends method url with the NUL-terminated header lines in headers (may be
 * NULL, else NULL-terminated) and body (may be NULL), waiting at most
 * timeout_ms. On a response returns 0, sets *status and appends the body to
 * resp (may be NULL). On a transport failure (refused, timeout) returns
 * OODA_EUNAVAIL with the reason in err and *status 0.
 */
int httpc_call(const char *method, const char *url, const char *const *headers, const char *body,
	       size_t body_len, long timeout_ms, long *status, struct buf *resp, struct buf *err);

#endif
