/*
 * Reports over HTTP: the reliability report (MTTD/MTTA/MTTM/MTTR, incidents
 * per week, recurrence) of a period, and its Prometheus lines for /metrics.
 * The incident list comes from the incidents stage through
 * d->incidents_fetch (set when that stage starts); until then the report
 * answers 503 and /metrics leaves the lines out. A thin adapter over
 * respond/reliability.h.
 */
#include "api/api.h"
#include "api/handlers.h"
#include "core/time.h"
#include "respond/reliability.h"

#define DEFAULT_PERIOD_NS (30 * 86400 * OODA_NS_PER_SEC)

static int report(struct daemon *d, int64_t from, int64_t to, json_t **out, struct buf *err)
{
	if (!d->incidents_fetch) {
		buf_adds(err, "the reliability report needs the incidents stage, which is not running");
		return OODA_EUNAVAIL;
	}
	json_t *incidents = NULL, *timelines = NULL;
	int rc = d->incidents_fetch(d->incident_ctx, from, to, &incidents, &timelines, err);
	if (!rc)
		rc = reliability_compute(incidents, timelines, from, to, out, err);
	json_decref(incidents);
	json_decref(timelines);
	return rc;
}

int api_report_reliability(struct http_request *req, struct http_response *res)
{
	int64_t now = ooda_now_ns(), from, to;
	int rc = api_query_time(req, "to", &to);
	if (rc == OODA_ENOTFOUND)
		to = now;
	else if (rc)
		return rc;
	rc = api_query_time(req, "from", &from);
	if (rc == OODA_ENOTFOUND)
		from = to - DEFAULT_PERIOD_NS;
	else if (rc)
		return rc;
	if (from >= to) {
		buf_adds(&req->err, "from: must be earlier than to");
		return OODA_EINVAL;
	}
	json_t *out;
	if ((rc = report(api_daemon(req), from, to, &out, &req->err)))
		return rc;
	api_send_json(res, 200, out);
	return 0;
}

void api_reliability_metrics(struct daemon *d, struct buf *out)
{
	if (!d->incidents_fetch)
		return;
	int64_t now = ooda_now_ns();
	json_t *r;
	struct buf err = BUF_INIT;
	if (!report(d, now - DEFAULT_PERIOD_NS, now, &r, &err)) {
		reliability_render_prometheus(r, out);
		json_decref(r);
	}
	buf_release(&err);
}
