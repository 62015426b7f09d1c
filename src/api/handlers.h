/* Every API handler, one block per resource file; the route table lists them. */
#ifndef OODA_HANDLERS_H
#define OODA_HANDLERS_H

#include "http/server.h"

/* system.c */
int api_healthz(struct http_request *req, struct http_response *res);
int api_readyz(struct http_request *req, struct http_response *res);
int api_metrics(struct http_request *req, struct http_response *res);
int api_status(struct http_request *req, struct http_response *res);
int api_config_reload(struct http_request *req, struct http_response *res);

/* tokens.c */
int api_tokens_list(struct http_request *req, struct http_response *res);
int api_tokens_create(struct http_request *req, struct http_response *res);
int api_tokens_revoke(struct http_request *req, struct http_response *res);

/* audit_api.c */
int api_audit_list(struct http_request *req, struct http_response *res);
int api_audit_verify(struct http_request *req, struct http_response *res);
int api_audit_checkpoint(struct http_request *req, struct http_response *res);

#endif
