/*
 * Private to src/respond/incident*.c: the parsed `incidents:` section
 * (rules, templates, windows, the severity matrix) and the decision of
 * whether an alert opens an incident and at which severity. The loader is
 * fuzzed (fuzz/fuzz_incident_rules.c).
 */
#ifndef OODA_INCIDENT_IMPL_H
#define OODA_INCIDENT_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "core/buf.h"
#include "model/signal.h"
#include "respond/catalog.h"

#define INCIDENT_MAX_RULES 1000
#define INCIDENT_MAX_TEMPLATES 1000

struct incident_rule {
	char *alertname, *service, *severity; /* match: NULL = any; severity is page|ticket|info */
	json_t *labels;                       /* match: object of strings, or NULL */
	int open;                             /* 1 open, 0 never, -1 not said (the defaults decide) */
	char *set_severity;                   /* SEV1…SEV4, or NULL: the matrix */
};

struct incident_template {
	char *service, *alertname;            /* selects: NULL = any */
	char *title;                          /* {service} {alertname} {since} {severity} */
	json_t *checklist;                    /* array of strings, or NULL */
	char *runbook;
};

struct incidents_config {
	bool auto_open;
	int64_t group_window_ns, reopen_window_ns;
	int64_t max_artifact_bytes;
	bool status_page;
	char default_severity[8];
	char matrix[2][3][8];                 /* [tier][page, ticket, info] → SEV1…SEV4 */
	struct incident_rule *rules;
	size_t n_rules;
	struct incident_template *templates;
	size_t n_templates;
};

/* Parses the section (JSON text or NULL: every default). OODA_EINVAL with the key path in err. */
int incidents_config_parse(const char *json_text, struct incidents_config *out, struct buf *err);
void incidents_config_release(struct incidents_config *c);

/* What the decision looks at, all borrowed. */
struct incident_signal {
	const char *name, *service, *source; /* source: "rule", "probe", "slo", "anomaly", "alertmanager", … */
	enum alert_severity severity;
	const json_t *labels;
	const char *metric;                  /* anomaly: the RED metric (error_ratio, p99_ms, …) or NULL */
	double score;                        /* anomaly confidence, or 0 */
};

struct incident_decision {
	bool open;
	bool by_rule; /* a rule of the config decided open (not the defaults) */
	char severity[8];
};

/*
 * Whether s opens an incident and with which severity: the first rule that
 * matches decides what it says; otherwise (and for what it does not say)
 * the defaults: severity page, a probe of a critical-tier service at any
 * severity, a confident RED anomaly on error ratio or latency. Severity
 * from the matrix by the service's tier and the signal's severity.
 */
void incident_decide(const struct incidents_config *c, const struct catalog *cat, const struct incident_signal *s,
		     struct incident_decision *d);

/* The template for service/alertname (a rule naming both beats one naming one), or NULL. */
const struct incident_template *incident_template_for(const struct incidents_config *c, const char *service,
						      const char *alertname);

/*
 * The generated title of an incident: from evidence with a value and a
 * baseline (anomaly watches: "payments: error ratio 28% (baseline 0.4%)
 * since 14:02"), an SLO's burn, a probe's error, else "<service>:
 * <alertname> since HH:MM" (UTC); a template's title with its placeholders
 * wins over all of them. evidence and tpl may be NULL.
 */
void incident_title(struct buf *out, const struct incident_template *tpl, const char *service, const char *name,
		    const json_t *evidence, const char *severity, int64_t since_ns);

/* True for SEV1…SEV4. */
bool incident_severity_valid(const char *s);

#endif
