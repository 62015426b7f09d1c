/*
 * The Alertmanager webhook decoder: validates the whole payload first (so a
 * bad request changes nothing), then turns each alert into an external
 * alert_signal. See alertmanager.h for the mapping.
 */
#include "ingest/alertmanager.h"
#include "core/error.h"
#include "core/time.h"

#include <jansson.h>

static int string_map(json_t *o, const char *what, size_t i, bool required, struct buf *err)
{
	if (!o && !required)
		return 0;
	if (!json_is_object(o)) {
		buf_addf(err, "alerts[%zu].%s: %s", i, what, o ? "expected an object of strings" : "missing");
		return OODA_EINVAL;
	}
	if (json_object_size(o) > ALERTMANAGER_MAX_LABELS) {
		buf_addf(err, "alerts[%zu].%s: more than %d entries", i, what, ALERTMANAGER_MAX_LABELS);
		return OODA_ELIMIT;
	}
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v) {
		if (!json_is_string(v)) {
			buf_addf(err, "alerts[%zu].%s.%s: expected a string", i, what, k);
			return OODA_EINVAL;
		}
		if (json_string_length(v) > ALERTMANAGER_MAX_STR || strlen(k) > ALERTMANAGER_MAX_STR) {
			buf_addf(err, "alerts[%zu].%s.%s: longer than %d bytes", i, what, k, ALERTMANAGER_MAX_STR);
			return OODA_ELIMIT;
		}
	}
	return 0;
}

/* Alertmanager writes "0001-01-01T00:00:00Z" for "no time": that reads as 0. */
static int am_time(json_t *o, const char *key, size_t i, int64_t *out, struct buf *err)
{
	json_t *v = json_object_get(o, key);
	*out = 0;
	if (!v || json_is_null(v))
		return 0;
	const char *s = json_string_value(v);
	if (!s) {
		buf_addf(err, "alerts[%zu].%s: expected an RFC 3339 time string", i, key);
		return OODA_EINVAL;
	}
	if (!strncmp(s, "0001-01-01", 10) || !*s)
		return 0;
	if (ooda_time_parse(s, strlen(s), out)) {
		buf_addf(err, "alerts[%zu].%s: \"%.64s\" is not an RFC 3339 time", i, key, s);
		return OODA_EINVAL;
	}
	return 0;
}

static int check_alert(json_t *al, size_t i, struct buf *err)
{
	if (!json_is_object(al)) {
		buf_addf(err, "alerts[%zu]: expected an object", i);
		return OODA_EINVAL;
	}
	const char *st = json_string_value(json_object_get(al, "status"));
	if (!st || (strcmp(st, "firing") && strcmp(st, "resolved"))) {
		buf_addf(err, "alerts[%zu].status: expected \"firing\" or \"resolved\"", i);
		return OODA_EINVAL;
	}
	json_t *labels = json_object_get(al, "labels");
	int rc = string_map(labels, "labels", i, true, err);
	if (!rc)
		rc = string_map(json_object_get(al, "annotations"), "annotations", i, false, err);
	if (rc)
		return rc;
	const char *name = json_string_value(json_object_get(labels, "alertname"));
	if (!name || !*name) {
		buf_addf(err, "alerts[%zu].labels.alertname: missing", i);
		return OODA_EINVAL;
	}
	json_t *fp = json_object_get(al, "fingerprint");
	if (fp && !json_is_string(fp)) {
		buf_addf(err, "alerts[%zu].fingerprint: expected a string", i);
		return OODA_EINVAL;
	}
	int64_t t;
	if ((rc = am_time(al, "startsAt", i, &t, err)) || (rc = am_time(al, "endsAt", i, &t, err)))
		return rc;
	return 0;
}

static void emit(json_t *al, int64_t now_ns, const struct alert_sink *sink)
{
	json_t *labels = json_deep_copy(json_object_get(al, "labels"));
	const char *name = json_string_value(json_object_get(labels, "alertname"));
	char *name_copy = xstrdup(name);
	json_object_del(labels, "alertname");
	const char *service = json_string_value(json_object_get(labels, "service"));
	if (!service)
		service = json_string_value(json_object_get(labels, "job"));
	enum alert_severity sev = SEVERITY_TICKET;
	alert_severity_parse(json_string_value(json_object_get(labels, "severity")), &sev);
	bool firing = !strcmp(json_string_value(json_object_get(al, "status")), "firing");
	int64_t starts, ends;
	struct buf ignore = BUF_INIT;
	am_time(al, "startsAt", 0, &starts, &ignore);
	am_time(al, "endsAt", 0, &ends, &ignore);
	buf_release(&ignore);
	json_t *evidence = json_object();
	const char *keys[] = { "fingerprint", "startsAt", "endsAt", "generatorURL", "status" };
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		json_t *v = json_object_get(al, keys[k]);
		if (json_is_string(v))
			json_object_set(evidence, keys[k], v);
	}
	struct alert_signal s = {
		.source = "alertmanager",
		.name = name_copy,
		.service = service,
		.severity = sev,
		.labels = labels,
		.annotations = json_object_get(al, "annotations"),
		.evidence = evidence,
		.active = firing,
		.at_ns = firing ? (starts ? starts : now_ns) : (ends ? ends : now_ns),
		.external = true,
	};
	alert_emit(sink, &s);
	json_decref(evidence);
	json_decref(labels);
	free(name_copy);
}

int alertmanager_decode(const char *body, size_t len, int64_t now_ns, const struct alert_sink *sink,
			size_t *n_alerts, struct buf *err)
{
	if (n_alerts)
		*n_alerts = 0;
	json_error_t je;
	json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (!j) {
		buf_addf(err, "invalid JSON at line %d column %d: %s", je.line, je.column, je.text);
		return OODA_EPARSE;
	}
	int rc = 0;
	json_t *alerts = json_object_get(j, "alerts");
	const char *ver = json_string_value(json_object_get(j, "version"));
	const char *st = json_string_value(json_object_get(j, "status"));
	if (!json_is_object(j)) {
		buf_adds(err, "the payload must be a JSON object (an Alertmanager webhook message)");
		rc = OODA_EINVAL;
	} else if (!ver || strcmp(ver, "4")) {
		buf_adds(err, "version: expected \"4\" (the Alertmanager webhook payload version)");
		rc = OODA_EINVAL;
	} else if (json_object_get(j, "status") && (!st || (strcmp(st, "firing") && strcmp(st, "resolved")))) {
		buf_adds(err, "status: expected \"firing\" or \"resolved\"");
		rc = OODA_EINVAL;
	} else if (!json_is_array(alerts)) {
		buf_adds(err, alerts ? "alerts: expected a list" : "alerts: missing");
		rc = OODA_EINVAL;
	} else if (json_array_size(alerts) > ALERTMANAGER_MAX_ALERTS) {
		buf_addf(err, "alerts: more than %d in one message", ALERTMANAGER_MAX_ALERTS);
		rc = OODA_ELIMIT;
	}
	size_t i;
	json_t *al;
	if (!rc)
		json_array_foreach(alerts, i, al) if ((rc = check_alert(al, i, err))) break;
	if (!rc) {
		json_array_foreach(alerts, i, al) emit(al, now_ns, sink);
		if (n_alerts)
			*n_alerts = json_array_size(alerts);
	}
	json_decref(j);
	return rc;
}
