/*
 * The `incidents:` section of ooda.yaml read into struct incidents_config,
 * and the decision it drives: does this alert open an incident, at which
 * severity. The config schema table (core/config.c) has checked the key
 * names and scalar types already when the daemon calls this; the loader
 * still checks every value it reads, since the fuzzer (and a reload)
 * hands it anything.
 */
#include "respond/incident.h"
#include "respond/incident_impl.h"
#include "core/config.h"
#include "core/error.h"
#include "core/time.h"
#include "core/xalloc.h"

#include <math.h>
#include <string.h>


/* The defaults of the severity matrix, documented in docs/config.md and docs/incidents.md. */
static const char *const default_matrix[2][3] = {
	[TIER_STANDARD] = { "SEV2", "SEV3", "SEV3" },
	[TIER_CRITICAL] = { "SEV1", "SEV2", "SEV3" },
};

bool incident_severity_valid(const char *s)
{
	return s && strlen(s) == 4 && !strncmp(s, "SEV", 3) && s[3] >= '1' && s[3] <= '4';
}

static int duration_of(const json_t *v, const char *key, int64_t def, int64_t *out, struct buf *err)
{
	*out = def;
	if (!v || json_is_null(v))
		return 0;
	const char *s = json_string_value(v);
	if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= 365 * 86400) {
		*out = json_integer_value(v) * OODA_NS_PER_SEC;
		return 0;
	}
	if (!s || ooda_duration_parse(s, strlen(s), out) || *out <= 0) {
		buf_addf(err, "incidents.%s: expected a positive duration like 10m or 1h", key);
		return OODA_EINVAL;
	}
	return 0;
}

/* An optional string member; OODA_EINVAL naming path.key when present and not a non-empty string. */
static int str_of(const json_t *o, const char *path, const char *key, char **out, struct buf *err)
{
	*out = NULL;
	const json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || !json_string_length(v) || json_string_length(v) > 4096) {
		buf_addf(err, "%s.%s: expected a non-empty string", path, key);
		return OODA_EINVAL;
	}
	*out = xstrdup(json_string_value(v));
	return 0;
}

/* Normalises a signal severity as alert_severity_parse does (critical = page, warning = ticket). */
static int signal_severity_of(const char *s, const char *path, char **out, struct buf *err)
{
	enum alert_severity sev;
	if (alert_severity_parse(s, &sev)) {
		buf_addf(err, "%s.severity: \"%s\" is not page, ticket, info, critical or warning", path, s);
		return OODA_EINVAL;
	}
	free(*out);
	*out = xstrdup(alert_severity_name(sev));
	return 0;
}

static int rule_parse(const json_t *j, size_t i, struct incident_rule *r, struct buf *err)
{
	char path[64];
	snprintf(path, sizeof(path), "incidents.rules[%zu]", i);
	r->open = -1;
	if (!json_is_object(j)) {
		buf_addf(err, "%s: expected a mapping", path);
		return OODA_EINVAL;
	}
	const json_t *m = json_object_get(j, "match");
	char mpath[80];
	snprintf(mpath, sizeof(mpath), "%s.match", path);
	if (m && !json_is_object(m)) {
		buf_addf(err, "%s: expected a mapping", mpath);
		return OODA_EINVAL;
	}
	int rc;
	if ((rc = str_of(m, mpath, "alertname", &r->alertname, err)) || (rc = str_of(m, mpath, "service", &r->service, err)) ||
	    (rc = str_of(m, mpath, "severity", &r->severity, err)))
		return rc;
	if (r->severity && (rc = signal_severity_of(r->severity, mpath, &r->severity, err)))
		return rc;
	const json_t *labels = json_object_get(m, "labels");
	if (labels && !json_is_null(labels)) {
		const char *k;
		const json_t *v;
		if (!json_is_object(labels)) {
			buf_addf(err, "%s.labels: expected a mapping of name: value", mpath);
			return OODA_EINVAL;
		}
		json_object_foreach((json_t *)labels, k, v) {
			if (!json_is_string(v)) {
				buf_addf(err, "%s.labels.%s: expected a string", mpath, k);
				return OODA_EINVAL;
			}
		}
		r->labels = json_deep_copy(labels);
	}
	const json_t *open = json_object_get(j, "open");
	if (open && !json_is_null(open)) {
		if (!json_is_boolean(open)) {
			buf_addf(err, "%s.open: expected true or false", path);
			return OODA_EINVAL;
		}
		r->open = json_is_true(open);
	}
	if ((rc = str_of(j, path, "severity", &r->set_severity, err)))
		return rc;
	if (r->set_severity && !incident_severity_valid(r->set_severity)) {
		buf_addf(err, "%s.severity: \"%s\" is not SEV1, SEV2, SEV3 or SEV4", path, r->set_severity);
		return OODA_EINVAL;
	}
	if (r->open < 0 && !r->set_severity) {
		buf_addf(err, "%s: says neither open nor severity", path);
		return OODA_EINVAL;
	}
	return 0;
}

static int template_parse(const json_t *j, size_t i, struct incident_template *t, struct buf *err)
{
	char path[64];
	snprintf(path, sizeof(path), "incidents.templates[%zu]", i);
	if (!json_is_object(j)) {
		buf_addf(err, "%s: expected a mapping", path);
		return OODA_EINVAL;
	}
	int rc;
	if ((rc = str_of(j, path, "service", &t->service, err)) || (rc = str_of(j, path, "alertname", &t->alertname, err)) ||
	    (rc = str_of(j, path, "title", &t->title, err)) || (rc = str_of(j, path, "runbook", &t->runbook, err)))
		return rc;
	if (!t->service && !t->alertname) {
		buf_addf(err, "%s: names neither service nor alertname", path);
		return OODA_EINVAL;
	}
	const json_t *cl = json_object_get(j, "checklist");
	if (cl && !json_is_null(cl)) {
		size_t k;
		const json_t *v;
		if (!json_is_array(cl)) {
			buf_addf(err, "%s.checklist: expected a list of strings", path);
			return OODA_EINVAL;
		}
		json_array_foreach(cl, k, v) {
			if (!json_is_string(v)) {
				buf_addf(err, "%s.checklist[%zu]: expected a string", path, k);
				return OODA_EINVAL;
			}
		}
		t->checklist = json_deep_copy(cl);
	}
	return 0;
}

static int matrix_parse(const json_t *m, struct incidents_config *c, struct buf *err)
{
	for (int t = 0; t < 2; t++)
		for (int s = 0; s < 3; s++)
			snprintf(c->matrix[t][s], sizeof(c->matrix[t][s]), "%s", default_matrix[t][s]);
	if (!m || json_is_null(m))
		return 0;
	if (!json_is_object(m)) {
		buf_adds(err, "incidents.severity: expected a mapping of tier to {page, ticket, info}");
		return OODA_EINVAL;
	}
	const char *tier;
	const json_t *row;
	json_object_foreach((json_t *)m, tier, row) {
		int t = !strcmp(tier, "critical") ? TIER_CRITICAL : !strcmp(tier, "standard") ? TIER_STANDARD : -1;
		if (t < 0 || !json_is_object(row)) {
			buf_addf(err, "incidents.severity.%s: expected critical or standard, each a mapping", tier);
			return OODA_EINVAL;
		}
		const char *sk;
		const json_t *v;
		json_object_foreach((json_t *)row, sk, v) {
			enum alert_severity sev;
			if (alert_severity_parse(sk, &sev)) {
				buf_addf(err, "incidents.severity.%s.%s: not page, ticket or info", tier, sk);
				return OODA_EINVAL;
			}
			if (!incident_severity_valid(json_string_value(v))) {
				buf_addf(err, "incidents.severity.%s.%s: expected SEV1, SEV2, SEV3 or SEV4", tier, sk);
				return OODA_EINVAL;
			}
			int col = sev == SEVERITY_PAGE ? 0 : sev == SEVERITY_TICKET ? 1 : 2;
			snprintf(c->matrix[t][col], sizeof(c->matrix[t][col]), "%s", json_string_value(v));
		}
	}
	return 0;
}

int incidents_config_parse(const char *json_text, struct incidents_config *out, struct buf *err)
{
	memset(out, 0, sizeof(*out));
	out->auto_open = true;
	out->group_window_ns = INCIDENTS_DEFAULT_GROUP_WINDOW_NS;
	out->reopen_window_ns = INCIDENTS_DEFAULT_REOPEN_WINDOW_NS;
	out->max_artifact_bytes = INCIDENTS_DEFAULT_MAX_ARTIFACT;
	snprintf(out->default_severity, sizeof(out->default_severity), "SEV3");
	json_t *j = NULL;
	if (json_text) {
		json_error_t je;
		j = json_loads(json_text, JSON_DECODE_ANY, &je);
		if (!j) {
			buf_addf(err, "incidents: invalid JSON: %s", je.text);
			return OODA_EINVAL;
		}
	}
	int rc = 0;
	if (json_is_null(j)) {
		json_decref(j);
		j = NULL;
	}
	if (j && !json_is_object(j)) {
		buf_adds(err, "incidents: expected a mapping");
		rc = OODA_EINVAL;
	}
	if (!rc && j) {
		const json_t *v = json_object_get(j, "auto_open");
		if (v && !json_is_boolean(v)) {
			buf_adds(err, "incidents.auto_open: expected true or false");
			rc = OODA_EINVAL;
		} else if (v) {
			out->auto_open = json_is_true(v);
		}
		v = json_object_get(j, "status_page");
		if (!rc && v && !json_is_boolean(v)) {
			buf_adds(err, "incidents.status_page: expected true or false");
			rc = OODA_EINVAL;
		} else if (v) {
			out->status_page = json_is_true(v);
		}
	}
	if (!rc)
		rc = duration_of(json_object_get(j, "group_window"), "group_window", INCIDENTS_DEFAULT_GROUP_WINDOW_NS,
				 &out->group_window_ns, err);
	if (!rc)
		rc = duration_of(json_object_get(j, "reopen_window"), "reopen_window",
				 INCIDENTS_DEFAULT_REOPEN_WINDOW_NS, &out->reopen_window_ns, err);
	if (!rc) {
		const json_t *v = json_object_get(j, "max_artifact_bytes");
		int64_t n = INCIDENTS_DEFAULT_MAX_ARTIFACT;
		if (v && json_is_integer(v))
			n = json_integer_value(v);
		else if (v && (!json_is_string(v) || config_parse_size(json_string_value(v), &n)))
			n = -1;
		if (n < 1 || n > (INT64_C(64) << 20)) {
			buf_adds(err, "incidents.max_artifact_bytes: expected a size from 1 byte to 64MiB");
			rc = OODA_EINVAL;
		}
		out->max_artifact_bytes = n;
	}
	if (!rc) {
		const json_t *v = json_object_get(j, "default_severity");
		if (v && !incident_severity_valid(json_string_value(v))) {
			buf_adds(err, "incidents.default_severity: expected SEV1, SEV2, SEV3 or SEV4");
			rc = OODA_EINVAL;
		} else if (v) {
			snprintf(out->default_severity, sizeof(out->default_severity), "%s", json_string_value(v));
		}
	}
	if (!rc)
		rc = matrix_parse(json_object_get(j, "severity"), out, err);
	const json_t *rules = json_object_get(j, "rules");
	if (!rc && rules && !json_is_null(rules)) {
		if (!json_is_array(rules) || json_array_size(rules) > INCIDENT_MAX_RULES) {
			buf_addf(err, "incidents.rules: expected a list of at most %d rules", INCIDENT_MAX_RULES);
			rc = OODA_EINVAL;
		} else {
			out->rules = json_array_size(rules) ? xcalloc(json_array_size(rules), sizeof(*out->rules)) : NULL;
			for (size_t i = 0; !rc && i < json_array_size(rules); i++) {
				out->n_rules++;
				rc = rule_parse(json_array_get(rules, i), i, &out->rules[i], err);
			}
		}
	}
	const json_t *tpls = json_object_get(j, "templates");
	if (!rc && tpls && !json_is_null(tpls)) {
		if (!json_is_array(tpls) || json_array_size(tpls) > INCIDENT_MAX_TEMPLATES) {
			buf_addf(err, "incidents.templates: expected a list of at most %d templates", INCIDENT_MAX_TEMPLATES);
			rc = OODA_EINVAL;
		} else {
			out->templates = json_array_size(tpls) ? xcalloc(json_array_size(tpls), sizeof(*out->templates)) : NULL;
			for (size_t i = 0; !rc && i < json_array_size(tpls); i++) {
				out->n_templates++;
				rc = template_parse(json_array_get(tpls, i), i, &out->templates[i], err);
			}
		}
	}
	json_decref(j);
	if (rc)
		incidents_config_release(out);
	return rc;
}

void incidents_config_release(struct incidents_config *c)
{
	for (size_t i = 0; i < c->n_rules; i++) {
		free(c->rules[i].alertname);
		free(c->rules[i].service);
		free(c->rules[i].severity);
		free(c->rules[i].set_severity);
		json_decref(c->rules[i].labels);
	}
	free(c->rules);
	for (size_t i = 0; i < c->n_templates; i++) {
		free(c->templates[i].service);
		free(c->templates[i].alertname);
		free(c->templates[i].title);
		free(c->templates[i].runbook);
		json_decref(c->templates[i].checklist);
	}
	free(c->templates);
	memset(c, 0, sizeof(*c));
}

static bool rule_matches(const struct incident_rule *r, const struct incident_signal *s)
{
	if (r->alertname && (!s->name || strcmp(r->alertname, s->name)))
		return false;
	if (r->service && (!s->service || strcmp(r->service, s->service)))
		return false;
	if (r->severity && strcmp(r->severity, alert_severity_name(s->severity)))
		return false;
	const char *k;
	const json_t *v;
	json_object_foreach(r->labels, k, v) {
		const char *have = json_string_value(json_object_get(s->labels, k));
		if (!have || strcmp(have, json_string_value(v)))
			return false;
	}
	return true;
}

/* The defaults: page; a probe of a critical service; a confident RED anomaly on errors or latency. */
static bool default_open(const struct catalog *cat, const struct incident_signal *s)
{
	if (s->severity == SEVERITY_PAGE)
		return true;
	const struct catalog_service *cs = catalog_get(cat, s->service);
	if (s->source && !strcmp(s->source, "probe") && cs && cs->tier == TIER_CRITICAL)
		return true;
	if (s->source && !strcmp(s->source, "anomaly") && s->metric && s->score >= INCIDENTS_ANOMALY_MIN_SCORE &&
	    (strstr(s->metric, "error") || strstr(s->metric, "p99") || strstr(s->metric, "latency")))
		return true;
	return false;
}

void incident_decide(const struct incidents_config *c, const struct catalog *cat, const struct incident_signal *s,
		     struct incident_decision *d)
{
	const struct catalog_service *cs = catalog_get(cat, s->service);
	int tier = cs && cs->tier == TIER_CRITICAL ? TIER_CRITICAL : TIER_STANDARD;
	int col = s->severity == SEVERITY_PAGE ? 0 : s->severity == SEVERITY_TICKET ? 1 : 2;
	snprintf(d->severity, sizeof(d->severity), "%s", c->matrix[tier][col]);
	d->open = c->auto_open && default_open(cat, s);
	d->by_rule = false;
	for (size_t i = 0; i < c->n_rules; i++) {
		const struct incident_rule *r = &c->rules[i];
		if (!rule_matches(r, s))
			continue;
		if (r->open >= 0) {
			d->open = r->open;
			d->by_rule = true;
		}
		if (r->set_severity)
			snprintf(d->severity, sizeof(d->severity), "%s", r->set_severity);
		break;
	}
}

const struct incident_template *incident_template_for(const struct incidents_config *c, const char *service,
						      const char *alertname)
{
	const struct incident_template *best = NULL;
	int best_score = 0;
	for (size_t i = 0; i < c->n_templates; i++) {
		const struct incident_template *t = &c->templates[i];
		if ((t->service && (!service || strcmp(t->service, service))) ||
		    (t->alertname && (!alertname || strcmp(t->alertname, alertname))))
			continue;
		int score = (t->service != NULL) + 2 * (t->alertname != NULL);
		if (score > best_score) {
			best = t;
			best_score = score;
		}
	}
	return best;
}
