/*
 * libmicrohttpd glue for the simulated services and the control port (see
 * mhdutil.h). Thread per connection: a service handler sleeps for its
 * simulated work and calls the next service, so it must not hold an event
 * loop that others need.
 */
#include "mhdutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "core/buf.h"
#include "core/error.h"

#define MHD_MAX_BODY (64u << 10)

struct req {
	struct buf body;
	int too_big;
};

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct mhd_server *rc = cls;
	struct req *r = *con_cls;
	if (!r) {
		r = xcalloc(1, sizeof *r);
		buf_init(&r->body);
		*con_cls = r;
		return MHD_YES;
	}
	if (*upload_size) {
		if (r->body.len + *upload_size > MHD_MAX_BODY)
			r->too_big = 1;
		else
			buf_add(&r->body, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	if (r->too_big)
		return mhd_problem(c, 413, "body: larger than 64 KiB");
	return rc->route(rc->cls, c, method, url, r->body.data, r->body.len);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode t)
{
	struct req *r = *con_cls;
	if (r) {
		buf_release(&r->body);
		free(r);
		*con_cls = NULL;
	}
}

int mhd_serve(struct mhd_server *s, int port)
{
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG,
				0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
				MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u, MHD_OPTION_END);
	if (!s->d)
		return OODA_EUNAVAIL;
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : port;
	return 0;
}

void mhd_stop(struct mhd_server *s)
{
	if (s->d)
		MHD_stop_daemon(s->d);
	s->d = NULL;
}

enum MHD_Result mhd_reply(struct MHD_Connection *c, unsigned status, const char *ctype, const char *body,
			  size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", ctype);
	enum MHD_Result rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

enum MHD_Result mhd_problem(struct MHD_Connection *c, unsigned status, const char *detail)
{
	struct buf b = BUF_INIT;
	const char *title = status == 404 ? "not found" : status == 409 ? "conflict" : status == 413 ? "too large"
			  : status == 405 ? "method not allowed" : status >= 500 ? "unavailable" : "bad request";
	buf_addf(&b, "{\"type\":\"about:blank\",\"title\":\"%s\",\"status\":%u,\"detail\":", title, status);
	buf_add_json_str(&b, detail, strlen(detail));
	buf_adds(&b, "}");
	enum MHD_Result rc = mhd_reply(c, status, "application/problem+json", b.data, b.len);
	buf_release(&b);
	return rc;
}
