/*
 * SLOs over HTTP: the list with each SLO's current SLI, error budget, burn
 * rates and alert state, and one SLO with its budget burn-down per hour
 * over the window. Thin adapters over detect/slo.h; the numbers are
 * computed at request time from the same minute rings the tick reads.
 */
#include "api/api.h"
#include "api/handlers.h"
#include "core/time.h"
#include "detect/slo.h"

int api_slos_list(struct http_request *req, struct http_response *res)
{
	return slo_list_json(api_daemon(req)->slos, ooda_now_ns(), &res->body, &req->err);
}

int api_slo_get(struct http_request *req, struct http_response *res)
{
	return slo_get_json(api_daemon(req)->slos, http_param(req, "name"), ooda_now_ns(), &res->body, &req->err);
}
