/*
 * Parsing of the control port's fault requests (see faultreq.h): the one
 * place where outside JSON enters the simulator's control path.
 */
#include "faultreq.h"

#include <jansson.h>
#include <math.h>

#include "core/error.h"
#include "core/time.h"
#include "fault.h"
#include "topology.h"

static int parse_for(json_t *v, int64_t *ns, struct buf *err)
{
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		if (ooda_duration_parse(s, json_string_length(v), ns) < 0) {
			buf_addf(err, "for: \"%.40s\" is not a duration (like 30s, 2m, 1h)", s);
			return OODA_EINVAL;
		}
	} else if (json_is_number(v)) {
		double d = json_number_value(v);
		if (!isfinite(d) || d <= 0 || d > 86400) {
			buf_adds(err, "for: seconds must be above 0 and at most 86400");
			return OODA_EINVAL;
		}
		*ns = (int64_t)(d * 1e9);
	} else {
		buf_adds(err, "for: must be a duration string or a number of seconds");
		return OODA_EINVAL;
	}
	if (*ns <= 0 || *ns > FAULT_MAX_FOR_NS) {
		buf_adds(err, "for: must be above 0 and at most 24h");
		return OODA_EINVAL;
	}
	return 0;
}

int fault_request_parse(const char *body, size_t len, struct fault_request *out, struct buf *err)
{
	json_error_t je;
	json_t *root = json_loadb(body ? body : "", body ? len : 0, JSON_REJECT_DUPLICATES, &je);
	int rc = OODA_EINVAL;
	if (!root) {
		buf_addf(err, "body: not JSON (%s)", je.text);
		return OODA_EINVAL;
	}
	if (!json_is_object(root)) {
		buf_adds(err, "body: must be a JSON object {name, service?, for?}");
		goto out;
	}
	const char *key;
	json_t *v;
	json_object_foreach(root, key, v) {
		if (strcmp(key, "name") && strcmp(key, "service") && strcmp(key, "for")) {
			buf_addf(err, "%.40s: unknown member (expected name, service, for)", key);
			goto out;
		}
	}
	v = json_object_get(root, "name");
	if (!json_is_string(v)) {
		buf_adds(err, "name: required, a fault name (ooda-sim list-faults)");
		goto out;
	}
	out->def = fault_find(json_string_value(v));
	if (out->def < 0) {
		buf_addf(err, "name: unknown fault \"%.40s\" (ooda-sim list-faults)", json_string_value(v));
		goto out;
	}
	out->svc = fault_defs[out->def].default_svc;
	v = json_object_get(root, "service");
	if (v && !json_is_null(v)) {
		if (!json_is_string(v) || svc_find(json_string_value(v)) < 0) {
			buf_adds(err, "service: must name a simulated service (");
			for (int i = 0; i < SVC_COUNT; i++)
				buf_addf(err, "%s%s", i ? ", " : "", svc_defs[i].name);
			buf_adds(err, ")");
			goto out;
		}
		out->svc = svc_find(json_string_value(v));
	}
	out->for_ns = fault_defs[out->def].default_for_ns;
	v = json_object_get(root, "for");
	if (v && !json_is_null(v) && parse_for(v, &out->for_ns, err) < 0)
		goto out;
	rc = 0;
out:
	json_decref(root);
	return rc;
}
