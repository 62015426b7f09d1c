/*
 * The automation report over HTTP and on /metrics: per policy and per
 * recipe, runs, success rate, time to verified recovery, undo count,
 * guardrail hits and false activations (remedy/report.h). The runs come
 * from the remedy engine; which incidents were drills or false positives
 * comes from the incidents stage through d->incidents_fetch (without it,
 * nothing is excluded or counted false). Incidents are fetched from 30
 * days before the report's start, so a run on an older incident still
 * finds it.
 */
#include "api/api.h"
#include "api/handlers.h"
#include "core/time.h"
#include "remedy/report.h"

#define LOOKBACK_NS (30 * 86400 * OODA_NS_PER_SEC)

static int automation_report(struct daemon *d, int64_t since, json_t **out, struct buf *err)
{
	struct remedy *r = __atomic_load_n(&d->remedy, __ATOMIC_ACQUIRE);
	if (!r) {
		buf_adds(err, "the remedy stage is not running");
		return OODA_EUNAVAIL;
	}
	json_t *runs = NULL, *incidents = NULL, *timelines = NULL;
	int rc = report_runs(r, since, &runs, err);
	if (!rc && d->incidents_fetch) {
		struct buf e2 = BUF_INIT;
		if (d->incidents_fetch(d->incident_ctx, since - LOOKBACK_NS, ooda_now_ns() + OODA_NS_PER_SEC, &incidents,
				       &timelines, &e2))
			incidents = NULL;
		buf_release(&e2);
	}
	if (!rc)
		rc = report_compute(runs, incidents, since, out);
	json_decref(runs);
	json_decref(incidents);
	json_decref(timelines);
	return rc;
}

/* GET /api/v1/reports/automation?since=TIME (default: 30 days ago). */
int api_report_automation(struct http_request *req, struct http_response *res)
{
	int64_t since;
	int rc = api_query_time(req, "since", &since);
	if (rc == OODA_ENOTFOUND)
		since = ooda_now_ns() - LOOKBACK_NS;
	else if (rc)
		return rc;
	json_t *out;
	if ((rc = automation_report(api_daemon(req), since, &out, &req->err)))
		return rc;
	api_send_json(res, 200, out);
	return 0;
}

void api_automation_metrics(struct daemon *d, struct buf *out)
{
	json_t *r;
	struct buf err = BUF_INIT;
	if (!automation_report(d, 0, &r, &err)) {
		report_prometheus(r, out);
		json_decref(r);
	}
	buf_release(&err);
}
