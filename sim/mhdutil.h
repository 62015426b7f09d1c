/*
 * The small part of libmicrohttpd the simulator's servers share: collecting a
 * request body (bounded) before a route runs, and answering with JSON, text
 * or an application/problem+json error naming the field at fault.
 */
#ifndef OODA_SIM_MHDUTIL_H
#define OODA_SIM_MHDUTIL_H

#include <microhttpd.h>
#include <stddef.h>

/* A route: answers the complete request (body is NUL-terminated). */
typedef enum MHD_Result (*mhd_route_fn)(void *cls, struct MHD_Connection *c, const char *method,
					const char *url, const char *body, size_t len);

struct mhd_server {
	mhd_route_fn route; /* set by the caller */
	void *cls;          /* set by the caller */
	struct MHD_Daemon *d;
	int port;
};

/*
 * Starts a thread-per-connection server on 127.0.0.1:port (0: ephemeral)
 * that calls s->route for every request, with bodies up to 64 KiB (413
 * beyond); sets s->port. Returns 0, or OODA_EUNAVAIL when it cannot listen.
 */
int mhd_serve(struct mhd_server *s, int port);
/* Stops the server (waits for its connections); harmless when not started. */
void mhd_stop(struct mhd_server *s);

enum MHD_Result mhd_reply(struct MHD_Connection *c, unsigned status, const char *ctype, const char *body,
			  size_t len);
/* An RFC 9457 problem: {type, title, status, detail}. */
enum MHD_Result mhd_problem(struct MHD_Connection *c, unsigned status, const char *detail);

#endif
