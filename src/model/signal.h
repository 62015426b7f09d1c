/*
 * What every detector tells the alerting core. Probes, heartbeats, SLO
 * burn, alert rules, the anomaly engine, new log error classes and
 * Alertmanager's webhook all speak this one struct: "condition NAME (with
 * these labels) holds / no longer holds, here is what I saw". The alerting
 * core (alerts.h) turns the stream of signals into alerts with a lifecycle
 * (pending → firing → resolved), deduplicated by fingerprint, grouped,
 * inhibited and silenced.
 *
 * A detector reports the level of its condition each time it evaluates it
 * (edge-free: repeating "active" is fine and cheap); `for_ns` and
 * `keep_firing_for_ns` are applied by the core, not by detectors.
 */
#ifndef OODA_SIGNAL_H
#define OODA_SIGNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

enum alert_severity { SEVERITY_INFO, SEVERITY_TICKET, SEVERITY_PAGE };

struct alert_signal {
	const char *source;       /* "rule", "probe", "heartbeat", "slo", "anomaly", "pattern", "self", "alertmanager" */
	const char *name;         /* the alert name: rule name, "probe:checkout-http", … */
	const char *service;      /* the service it concerns, or NULL */
	enum alert_severity severity;
	const json_t *labels;     /* extra identifying labels (object of strings) or NULL; borrowed */
	const json_t *annotations;/* summary, description, runbook … or NULL; borrowed */
	const json_t *evidence;   /* what the detector saw: value, baseline, threshold, window, score … ; borrowed */
	bool active;              /* the condition holds at at_ns */
	int64_t at_ns;
	int64_t since_ns;         /* when the condition began, if the detector saw it begin before at_ns
				   * (a sequential test's evidence run); 0: at at_ns. The alert's active_at,
				   * so an incident's onset; it fires at at_ns all the same */
	int64_t for_ns;           /* active this long before firing (0 = fire at once) */
	int64_t keep_firing_for_ns; /* stay firing this long after the condition clears */
	bool external;            /* the sender owns the lifecycle (Alertmanager): no for, resolve when told */
};

/* Where detectors send signals (the alerting core, or a test's recorder). */
struct alert_sink {
	void (*signal)(void *ctx, const struct alert_signal *s);
	void *ctx;
};

static inline void alert_emit(const struct alert_sink *sink, const struct alert_signal *s)
{
	if (sink && sink->signal)
		sink->signal(sink->ctx, s);
}

/* "page" | "ticket" | "info"; Prometheus-style "critical"/"warning" map to page/ticket. */
const char *alert_severity_name(enum alert_severity s);
int alert_severity_parse(const char *s, enum alert_severity *out);

#endif
