/*
 * The incidents of the respond stage: the document, its lifecycle table,
 * the handling of alert transitions (open, group, reopen) on the stage's
 * worker, and the audited write every change goes through. An incident is
 * one row of the control store (its JSON document; fields starting with
 * "_" are internal and never shown), its timeline entries and artifacts
 * are rows of their own. incident_collab.c holds annotations, hypotheses,
 * artifacts and status updates; incident_config.c the `incidents:` rules.
 */
#include "respond/incident.h"
#include "respond/catalog.h"
#include "respond/incident_impl.h"
#include "respond/incident_priv.h"
#include "audit/docwrite.h"
#include "core/error.h"
#include "core/lead.h"
#include "core/log.h"
#include "core/time.h"
#include "core/worker.h"
#include "core/xalloc.h"
#include "detect/redfast.h"
#include "model/jsontime.h"

#include <math.h>
#include <string.h>

/* ---- the lifecycle -------------------------------------------------------- */

/*
 * Every legal arrow of the lifecycle (drawn in incident.h): from, to, who
 * may take it ("responder": by hand through incidents_transition; "ooda":
 * only an alert firing again, in handle_firing) and the timestamp it sets.
 */
static const struct lifecycle_arrow {
	const char *from, *to;
	const char *by;
	const char *stamp;
} lifecycle[] = {
	{ "triggered", "acknowledged", "responder", "acknowledged_at" },
	{ "triggered", "mitigated", "responder", "mitigated_at" },
	{ "triggered", "resolved", "responder", "resolved_at" },
	{ "acknowledged", "mitigated", "responder", "mitigated_at" },
	{ "acknowledged", "resolved", "responder", "resolved_at" },
	{ "mitigated", "resolved", "responder", "resolved_at" },
	{ "resolved", "reviewed", "responder", "reviewed_at" },
	{ "resolved", "triggered", "ooda", NULL },
};

static const char *const statuses[] = { "triggered", "acknowledged", "mitigated", "resolved", "reviewed", NULL };

bool incident_transition_allowed(const char *from, const char *to, bool reopen, const char **stamp)
{
	for (size_t i = 0; i < sizeof(lifecycle) / sizeof(lifecycle[0]); i++) {
		const struct lifecycle_arrow *a = &lifecycle[i];
		if (from && to && !strcmp(a->from, from) && !strcmp(a->to, to) &&
		    !strcmp(a->by, reopen ? "ooda" : "responder")) {
			if (stamp)
				*stamp = a->stamp;
			return true;
		}
	}
	return false;
}

static bool status_known(const char *s)
{
	for (size_t i = 0; s && statuses[i]; i++)
		if (!strcmp(statuses[i], s))
			return true;
	return false;
}

bool incident_status_open(const char *s)
{
	return s && (!strcmp(s, "triggered") || !strcmp(s, "acknowledged") || !strcmp(s, "mitigated"));
}

/* ---- grouping ------------------------------------------------------------- */

bool incident_related(const char *a, const char *b, incident_reaches_fn *reaches, void *ctx)
{
	if (!a || !b)
		return false;
	return !strcmp(a, b) || (reaches && (reaches(ctx, a, b) || reaches(ctx, b, a)));
}

size_t incident_primary(const char *const *services, size_t n, incident_reaches_fn *reaches, void *ctx)
{
	size_t best = 0;
	size_t best_in = 0;
	for (size_t i = 0; reaches && i < n; i++) {
		size_t in = 0;
		for (size_t k = 0; k < n; k++)
			if (k != i && strcmp(services[k], services[i]) && reaches(ctx, services[k], services[i]))
				in++;
		if (in > best_in) {
			best = i;
			best_in = in;
		}
	}
	return best;
}

static bool graph_reaches(void *ctx, const char *from, const char *to)
{
	struct incidents *inc = ctx;
	return inc->alerts && alerts_service_reaches(inc->alerts, from, to);
}

/* ---- small helpers -------------------------------------------------------- */

int incident_number_parse(const char *id, int64_t *n, struct buf *err)
{
	const char *p = id;
	if (p && (!strncmp(p, "INC-", 4) || !strncmp(p, "inc-", 4)))
		p += 4;
	char *end = NULL;
	long long v = p && *p >= '1' && *p <= '9' ? strtoll(p, &end, 10) : 0;
	if (v <= 0 || !end || *end || strlen(p) > 15) {
		buf_addf(err, "incident id \"%s\" is not INC-<number>", id ? id : "");
		return OODA_EINVAL;
	}
	*n = v;
	return 0;
}

static int load_row(void *ctx, const void *row)
{
	const struct incident_row *r = row;
	*(json_t **)ctx = json_loads(r->body, 0, NULL);
	return 1;
}

int incident_load(struct incidents *inc, const char *id, json_t **doc, struct buf *err)
{
	int64_t n;
	int rc = incident_number_parse(id, &n, err);
	if (rc)
		return rc;
	*doc = NULL;
	rc = store_incident_get(inc->store, n, load_row, doc);
	if (rc == OODA_ENOTFOUND)
		buf_addf(err, "incident INC-%lld not found", (long long)n);
	else if (!rc && !*doc) {
		buf_addf(err, "incident INC-%lld: stored document is not JSON", (long long)n);
		rc = OODA_ECORRUPT;
	}
	return rc;
}

json_t *incident_public(const json_t *doc)
{
	json_t *p = json_object();
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)doc, k, v) {
		if (k[0] != '_')
			json_object_set(p, k, v);
	}
	return p;
}

static bool array_has(const json_t *arr, const char *s)
{
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v) {
		if (s && json_string_value(v) && !strcmp(json_string_value(v), s))
			return true;
	}
	return false;
}

static void array_add_unique(json_t *arr, const char *s)
{
	if (s && !array_has(arr, s))
		json_array_append_new(arr, json_string(s));
}

void incident_entry(struct incident_change *c, const char *kind, const char *actor, const char *text, json_t *data)
{
	if (!c->entries)
		c->entries = json_array();
	json_array_append_new(c->entries, json_pack("{s:s, s:s, s:s, s:o}", "kind", kind, "actor", actor, "text",
						     text ? text : "", "data", data ? data : json_object()));
}

/* ---- the audited write ------------------------------------------------------ */

struct tx_ctx {
	struct incidents *inc;
	struct incident_change *c;
};

/*
 * The hand-over of an incident's event to the leader, in the change's own
 * transaction: key "incident/INC-N/<time, 20 digits>" so one incident's
 * events are taken in order.
 */
static int handover_put_tx(struct store *s, int64_t number, const struct incident_change *c, struct buf *err)
{
	char key[80], id[32];
	snprintf(id, sizeof(id), "INC-%lld", (long long)number);
	snprintf(key, sizeof(key), "incident/%s/%020lld", id, (long long)c->now_ns);
	json_t *b = json_pack("{s:s, s:s, s:s?}", "incident", id, "event", c->event,
			      "event2", c->event2 && *c->event2 ? c->event2 : NULL);
	char *body = b ? json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(b);
	if (!body) {
		buf_adds(err, "the hand-over to the leader cannot be written");
		return OODA_ENOMEM;
	}
	struct vdoc_write w = { .kind = INCIDENTS_HANDOVER_KIND, .key = key, .body = body, .body_len = strlen(body),
				.status = "pending", .expect_version = -1, .actor = c->actor,
				.rationale = "changed on a node that does not lead: the leader's workers follow it up" };
	struct vdoc before = { 0 };
	int rc = vdoc_write_tx(s, &w, &before, err);
	vdoc_release(&before);
	free(body);
	return rc;
}

static int change_tx(struct store *s, void *ctx, struct buf *err)
{
	struct tx_ctx *t = ctx;
	struct incident_change *c = t->c;
	int64_t number = json_integer_value(json_object_get(c->doc, "number"));
	int rc;
	if (c->is_new) {
		if ((rc = store_incident_max(s, &number))) {
			buf_adds(err, "incident numbers cannot be read");
			return rc;
		}
		number++;
		char id[32];
		snprintf(id, sizeof(id), "INC-%lld", (long long)number);
		json_object_set_new(c->doc, "id", json_string(id));
		json_object_set_new(c->doc, "number", json_integer(number));
	}
	json_object_set_new(c->doc, "updated_at", json_time(c->now_ns));
	if (c->artifact) {
		c->artifact->number = number;
		if ((rc = store_incident_artifact_put(s, c->artifact))) {
			buf_adds(err, "artifact not stored");
			return rc;
		}
		size_t i;
		json_t *e;
		json_array_foreach(c->entries, i, e) {
			if (!strcmp(json_string_value(json_object_get(e, "kind")), "artifact")) {
				char aid[32];
				snprintf(aid, sizeof(aid), "A%lld", (long long)c->artifact->id);
				json_object_set_new(json_object_get(e, "data"), "id", json_string(aid));
			}
		}
	}
	char *body = json_dumps(c->doc, JSON_COMPACT | JSON_SORT_KEYS);
	struct incident_row row = {
		.number = number,
		.status = json_string_value(json_object_get(c->doc, "status")),
		.service = json_string_value(json_object_get(c->doc, "service")),
		.severity = json_string_value(json_object_get(c->doc, "severity")),
		.updated_ns = c->now_ns,
		.body = body,
	};
	rc = store_incident_put(s, &row);
	size_t i;
	json_t *e;
	json_array_foreach(c->entries, i, e) {
		if (rc)
			break;
		char *data = json_dumps(json_object_get(e, "data"), JSON_COMPACT | JSON_SORT_KEYS);
		struct incident_entry_row er = {
			.number = number,
			.at_ns = c->now_ns,
			.kind = json_string_value(json_object_get(e, "kind")),
			.actor = json_string_value(json_object_get(e, "actor")),
			.text = json_string_value(json_object_get(e, "text")),
			.data = data,
		};
		rc = store_incident_entry_append(s, &er);
		json_object_set_new(e, "seq", json_integer(er.seq));
		free(data);
	}
	if (rc) {
		buf_addf(err, "incident INC-%lld not stored", (long long)number);
		free(body);
		return rc;
	}
	char target[48];
	snprintf(target, sizeof(target), "incident/INC-%lld", (long long)number);
	char *detail = c->detail ? json_dumps(c->detail, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	struct audit_entry a = {
		.actor = c->actor,
		.action = c->action,
		.target = target,
		.before = c->before,
		.before_len = c->before ? strlen(c->before) : 0,
		.after = body,
		.after_len = strlen(body),
		.rationale = c->rationale ? c->rationale : "",
		.detail = detail,
	};
	rc = audit_append(s, t->inc->signer, &a, err);
	free(detail);
	free(body);
	if (!rc && c->handover)
		rc = handover_put_tx(s, number, c, err);
	return rc;
}

int incident_commit(struct incidents *inc, struct incident_change *c, struct buf *err)
{
	/* a follower's subscribers would hold the event until it leads: the leader takes it from the store */
	c->handover = c->event && *c->event && lead_term() == 0;
	struct tx_ctx t = { inc, c };
	int rc = store_write(inc->store, change_tx, &t, err);
	if (!rc && c->event) {
		json_t *p = incident_public(c->doc);
		c->event_json = json_dumps(p, JSON_COMPACT);
		json_decref(p);
	}
	return rc;
}

void incident_change_release(struct incident_change *c)
{
	json_decref(c->doc);
	json_decref(c->entries);
	json_decref(c->detail);
	free(c->before);
	free(c->event_json);
	memset(c, 0, sizeof(*c));
}

void incident_notify(struct incidents *inc, const struct incident_change *c)
{
	if (!c->event || !*c->event || !c->event_json || c->handover)
		return;
	for (int i = 0; i < inc->n_subs; i++)
		inc->subs[i].fn(inc->subs[i].ctx, c->event, c->event_json);
	if (c->event2)
		for (int i = 0; i < inc->n_subs; i++)
			inc->subs[i].fn(inc->subs[i].ctx, c->event2, c->event_json);
}

/* ---- the stage ------------------------------------------------------------- */

int incidents_config_check(const char *section_json, struct buf *err)
{
	struct incidents_config c;
	int rc = incidents_config_parse(section_json, &c, err);
	if (!rc)
		incidents_config_release(&c);
	return rc;
}

struct tr_item {
	char fp[17];
	char *name, *service;
	json_t *labels;
	enum alert_severity severity;
	enum alert_state from, to;
	int64_t at_ns;
};

static void tr_item_free(void *p)
{
	struct tr_item *t = p;
	if (!t)
		return;
	free(t->name);
	free(t->service);
	json_decref(t->labels);
	free(t);
}

static void handle_transition(struct incidents *inc, struct tr_item *t);

static void worker_run(void *ctx, void *item)
{
	if (item) {
		handle_transition(ctx, item);
		tr_item_free(item);
	}
}

/* The alerts_subscribe callback, on the engine thread: copy and queue, never block. */
static void on_alert_transition(void *ctx, const struct alert_transition *t)
{
	struct incidents *inc = ctx;
	if (t->to == ALERT_PENDING || t->to == ALERT_INACTIVE)
		return;
	struct tr_item *it = xcalloc(1, sizeof(*it));
	snprintf(it->fp, sizeof(it->fp), "%s", t->fingerprint);
	it->name = xstrdup(t->name);
	it->service = xstrdup(t->service);
	it->labels = json_deep_copy(t->labels);
	it->severity = t->severity;
	it->from = t->from;
	it->to = t->to;
	it->at_ns = t->at_ns;
	if (worker_push(inc->worker, it)) {
		log_warn("incidents: queue full, alert %s %s not handled", it->name, alert_state_name(it->to));
		tr_item_free(it);
	}
}

int incidents_create(const struct incidents_options *o, struct incidents **out, struct buf *err)
{
	struct incidents *inc = xcalloc(1, sizeof(*inc));
	inc->store = o->store;
	inc->signer = o->signer;
	inc->alerts = o->alerts;
	inc->tstore = o->tstore;
	pthread_mutex_init(&inc->mu, NULL);
	int rc = incidents_config_parse(NULL, &inc->cfg, err);
	if (!rc)
		rc = catalog_create(NULL, &inc->cat, err);
	if (rc) {
		incidents_destroy(inc);
		return rc;
	}
	*out = inc;
	return 0;
}

static bool same_text(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

int incidents_configure(struct incidents *inc, const char *incidents_json, const char *services_json, bool apply,
			struct buf *changes, struct buf *err)
{
	struct incidents_config cfg;
	struct catalog *cat = NULL;
	int rc = incidents_config_parse(incidents_json, &cfg, err);
	if (rc)
		return rc;
	json_t *sj = services_json ? json_loads(services_json, JSON_DECODE_ANY, NULL) : NULL;
	rc = catalog_create(sj, &cat, err);
	json_decref(sj);
	if (rc || !apply || !inc) {
		incidents_config_release(&cfg);
		catalog_destroy(cat);
		return rc;
	}
	pthread_mutex_lock(&inc->mu);
	struct incidents_config old = inc->cfg;
	struct catalog *old_cat = inc->cat;
	inc->cfg = cfg;
	inc->cat = cat;
	/* what changed, for the reload's audit record: nothing when nothing did */
	bool inc_changed = !same_text(inc->cfg_text, incidents_json);
	bool svc_changed = !catalog_equal(old_cat, cat);
	free(inc->cfg_text);
	inc->cfg_text = xstrdup(incidents_json);
	pthread_mutex_unlock(&inc->mu);
	if (changes && inc_changed)
		buf_addf(changes, "incidents: %zu rules, %zu templates", cfg.n_rules, cfg.n_templates);
	if (changes && svc_changed)
		buf_addf(changes, "%sservice catalogue: %zu services", inc_changed ? "; " : "", catalog_count(cat));
	incidents_config_release(&old);
	catalog_destroy(old_cat);
	return 0;
}

int incidents_start(struct incidents *inc, struct buf *err)
{
	struct worker_opts wo = { .capacity = INCIDENTS_QUEUE, .stop_mode = WORKER_DRAIN, .item_free = tr_item_free,
				  .leader_only = true };
	int rc = worker_create("incidents", worker_run, inc, &wo, &inc->worker, err);
	if (!rc && inc->alerts)
		rc = alerts_subscribe(inc->alerts, on_alert_transition, inc);
	if (rc)
		buf_adds(err, "incidents: cannot follow alerts");
	return rc;
}

void incidents_destroy(struct incidents *inc)
{
	if (!inc)
		return;
	worker_destroy(inc->worker);
	incidents_config_release(&inc->cfg);
	catalog_destroy(inc->cat);
	free(inc->cfg_text);
	pthread_mutex_destroy(&inc->mu);
	free(inc);
}

void incidents_wait_idle(struct incidents *inc)
{
	if (inc && inc->worker)
		worker_wait_idle(inc->worker);
}

int incidents_subscribe(struct incidents *inc, incidents_event_fn *fn, void *ctx)
{
	if (inc->n_subs >= INCIDENTS_MAX_SUBSCRIBERS)
		return OODA_ELIMIT;
	inc->subs[inc->n_subs].fn = fn;
	inc->subs[inc->n_subs].ctx = ctx;
	inc->n_subs++;
	return 0;
}

/* ---- from alerts ----------------------------------------------------------- */

/* HH:MM (UTC) of ns, for titles. */
static void hhmm(int64_t ns, char out[8])
{
	int64_t s = ns / OODA_NS_PER_SEC;
	int64_t d = ((s % 86400) + 86400) % 86400;
	snprintf(out, 8, "%02d:%02d", (int)(d / 3600), (int)(d / 60 % 60));
}

static void metric_words(const char *metric, struct buf *out)
{
	for (const char *p = metric; *p; p++)
		buf_addch(out, *p == '_' ? ' ' : *p);
}

static void number_text(double v, bool percent, struct buf *out)
{
	if (percent)
		buf_addf(out, "%.3g%%", v * 100);
	else
		buf_addf(out, "%.3g", v);
}

/*
 * "payments: error ratio 28% (baseline 0.4%) since 14:02" from evidence
 * with a value and a baseline (anomaly watches), "database: 97% of requests
 * slower than 8.4 ms (usual p99 5.6 ms) since 14:02" from the RED detector's
 * latency, else a template's title
 * with its placeholders, else "<service>: <alertname> since HH:MM".
 */
void incident_title(struct buf *out, const struct incident_template *tpl, const char *service, const char *name,
		       const json_t *evidence, const char *severity, int64_t since_ns)
{
	char since[8];
	hhmm(since_ns, since);
	const char *svc = service ? service : "ooda";
	if (tpl && tpl->title) {
		for (const char *p = tpl->title; *p; p++) {
			static const char *const keys[] = { "{service}", "{alertname}", "{since}", "{severity}" };
			const char *vals[] = { svc, name, since, severity };
			bool done = false;
			for (size_t k = 0; k < 4 && !done; k++) {
				if (!strncmp(p, keys[k], strlen(keys[k]))) {
					buf_adds(out, vals[k] ? vals[k] : "");
					p += strlen(keys[k]) - 1;
					done = true;
				}
			}
			if (!done)
				buf_addch(out, *p);
		}
		return;
	}
	const json_t *value = json_object_get(evidence, "value"), *base = json_object_get(evidence, "baseline");
	const char *metric = json_string_value(json_object_get(evidence, "metric"));
	const json_t *slow = json_object_get(evidence, "slow_ms"), *p99 = json_object_get(evidence, "p99_ms");
	if (json_is_number(value) && json_is_number(slow) && json_is_number(p99)) {
		/* the RED detector's latency: the share of requests past its slow bound */
		buf_addf(out, "%s: ", svc);
		number_text(json_number_value(value), true, out);
		buf_addf(out, " of requests slower than %.3g ms (usual p99 %.3g ms) since %s", json_number_value(slow),
			 json_number_value(p99), since);
		return;
	}
	if (json_is_number(value) && json_is_number(base) && metric) {
		bool pct = strstr(metric, "ratio") != NULL;
		buf_addf(out, "%s: ", svc);
		metric_words(metric, out);
		buf_addch(out, ' ');
		number_text(json_number_value(value), pct, out);
		buf_adds(out, " (baseline ");
		number_text(json_number_value(base), pct, out);
		buf_addf(out, ") since %s", since);
		return;
	}
	const json_t *burn = json_object_get(json_object_get(evidence, "burn_rates"), "1h");
	const json_t *left = json_object_get(evidence, "budget_remaining");
	if (json_is_number(burn) && json_is_number(left) && !strncmp(name, "slo:", 4)) {
		/* SLO burn: how fast, and what is left */
		buf_addf(out, "%s: SLO %s burning %.1fx over 1h, %.0f%% of budget left since %s", svc, name + 4,
			 json_number_value(burn), json_number_value(left) * 100, since);
		return;
	}
	const char *perr = json_string_value(json_object_get(evidence, "error"));
	const char *target = json_string_value(json_object_get(evidence, "target"));
	if (target && !strncmp(name, "probe:", 6)) {
		/* a probe: which check of what, and the error it saw */
		buf_addf(out, "%s: %s of %s failing%s%s%s since %s", svc, name, target, perr && *perr ? " (" : "",
			 perr && *perr ? perr : "", perr && *perr ? ")" : "", since);
		return;
	}
	buf_addf(out, "%s: %s since %s", svc, name, since);
}

static const char *source_kind(const char *source)
{
	static const struct {
		const char *source, *kind;
	} kinds[] = { { "slo", "slo" }, { "probe", "probe" }, { "anomaly", "anomaly" }, { "alertmanager", "alertmanager" } };
	for (size_t i = 0; source && i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(kinds[i].source, source))
			return kinds[i].kind;
	return "alert";
}

/* The newest deploy event's version of service, or NULL; caller frees. */
static char *latest_version(struct incidents *inc, const char *service)
{
	if (!inc->tstore || !service)
		return NULL;
	struct tstore_event_filter f = { .service = service, .kind = "deploy", .limit = 1 };
	struct buf out = BUF_INIT, err = BUF_INIT;
	char *v = NULL;
	if (!tstore_events_json(inc->tstore, &f, &out, &err)) {
		json_t *arr = json_loads(out.data, 0, NULL);
		v = xstrdup(json_string_value(json_object_get(json_array_get(arr, 0), "version")));
		json_decref(arr);
	}
	buf_release(&out);
	buf_release(&err);
	return v;
}

/* Fills tags, team, runbook and environment of doc from the primary service, labels and the catalogue. */
static void apply_catalog(struct incidents *inc, json_t *doc, const json_t *labels, const struct incident_template *tpl)
{
	const char *service = json_string_value(json_object_get(doc, "service"));
	const struct catalog_service *cs = catalog_get(inc->cat, service);
	const char *env = json_string_value(json_object_get(labels, "environment"));
	if (!env)
		env = json_string_value(json_object_get(labels, "env"));
	if (!env)
		env = cs ? cs->environment : CATALOG_DEFAULT_ENVIRONMENT;
	const char *team = json_string_value(json_object_get(labels, "team"));
	if (!team && cs)
		team = cs->owner;
	const char *runbook = tpl && tpl->runbook ? tpl->runbook : cs ? cs->runbook : NULL;
	if (!runbook)
		runbook = json_string_value(json_object_get(labels, "runbook"));
	char *version = xstrdup(json_string_value(json_object_get(labels, "version")));
	if (!version)
		version = latest_version(inc, service);
	json_object_set_new(doc, "environment", json_string(env));
	json_object_set_new(doc, "team", team ? json_string(team) : json_null());
	json_object_set_new(doc, "runbook", runbook ? json_string(runbook) : json_null());
	json_t *tags = json_object();
	if (service)
		json_object_set_new(tags, "service", json_string(service));
	json_object_set_new(tags, "environment", json_string(env));
	if (version)
		json_object_set_new(tags, "version", json_string(version));
	if (team)
		json_object_set_new(tags, "team", json_string(team));
	json_object_set_new(doc, "tags", tags);
	free(version);
}

/* A fresh incident document (number and id are given by the write). */
json_t *incident_new_doc(const char *title, const char *severity, const char *service, int64_t now_ns)
{
	json_t *d = json_object();
	json_object_set_new(d, "id", json_null());
	json_object_set_new(d, "number", json_integer(0));
	json_object_set_new(d, "title", json_string(title));
	json_object_set_new(d, "severity", json_string(severity));
	json_object_set_new(d, "status", json_string("triggered"));
	json_object_set_new(d, "service", service ? json_string(service) : json_null());
	json_t *svcs = json_array();
	if (service)
		json_array_append_new(svcs, json_string(service));
	json_object_set_new(d, "services", svcs);
	json_object_set_new(d, "commander", json_null());
	json_object_set_new(d, "alerts", json_array());
	json_object_set_new(d, "onset_at", json_time(now_ns));
	json_object_set_new(d, "opened_at", json_time(now_ns));
	static const char *const stamps[] = { "acknowledged_at", "mitigated_at", "resolved_at", "reviewed_at" };
	for (size_t i = 0; i < 4; i++)
		json_object_set_new(d, stamps[i], json_null());
	json_object_set_new(d, "reopened", json_integer(0));
	json_object_set_new(d, "_onset_ns", json_integer(now_ns));
	json_object_set_new(d, "_alert_names", json_array());
	json_object_set_new(d, "_hypotheses", json_array());
	json_object_set_new(d, "_status_updates", json_array());
	json_object_set_new(d, "_changes_seen", json_array());
	return d;
}

/*
 * Adds "change" entries for the change events (deploys, flag and config
 * changes) of the incident's services between onset − group window and
 * now that the timeline does not have yet.
 */
static void add_changes(struct incidents *inc, struct incident_change *c, int64_t now_ns)
{
	if (!inc->tstore)
		return;
	int64_t onset = json_integer_value(json_object_get(c->doc, "_onset_ns"));
	json_t *seen = json_object_get(c->doc, "_changes_seen");
	if (!json_is_array(seen)) {
		seen = json_array();
		json_object_set_new(c->doc, "_changes_seen", seen);
	}
	/* the involved services and what they depend on (declared), at most 32 */
	json_t *svcs = json_deep_copy(json_object_get(c->doc, "services"));
	json_t *edges = inc->alerts ? alerts_declared_edges(inc->alerts) : NULL;
	size_t i;
	json_t *sv, *e;
	json_array_foreach(edges, i, e) {
		if (array_has(json_object_get(c->doc, "services"), json_string_value(json_object_get(e, "source"))) &&
		    json_array_size(svcs) < 32)
			array_add_unique(svcs, json_string_value(json_object_get(e, "target")));
	}
	json_decref(edges);
	json_array_foreach(svcs, i, sv) {
		struct tstore_event_filter f = { .service = json_string_value(sv),
						 .from_ns = onset - inc->cfg.group_window_ns, .to_ns = now_ns, .limit = 20 };
		struct buf out = BUF_INIT, err = BUF_INIT;
		if (!tstore_events_json(inc->tstore, &f, &out, &err)) {
			json_t *arr = json_loads(out.data, 0, NULL);
			size_t k;
			json_t *ev;
			json_array_foreach(arr, k, ev) {
				const char *id = json_string_value(json_object_get(ev, "id"));
				if (!id || array_has(seen, id) || json_array_size(seen) >= 500)
					continue;
				array_add_unique(seen, id);
				struct buf text = BUF_INIT;
				const char *desc = json_string_value(json_object_get(ev, "description"));
				buf_addf(&text, "%s on %s%s%s", json_string_value(json_object_get(ev, "kind")),
					 json_string_value(sv), desc && *desc ? ": " : "", desc && *desc ? desc : "");
				incident_entry(c, "change", "ooda", text.data, json_incref(ev));
				buf_release(&text);
			}
			json_decref(arr);
		}
		buf_release(&out);
		buf_release(&err);
	}
	json_decref(svcs);
}

struct collect {
	json_t *docs;
	size_t max;
};

static int collect_row(void *ctx, const void *row)
{
	struct collect *c = ctx;
	const struct incident_row *r = row;
	json_t *d = json_loads(r->body, 0, NULL);
	if (d)
		json_array_append_new(c->docs, d);
	return json_array_size(c->docs) >= c->max ? 1 : 0;
}

/* The alert's source, evidence and annotations, from the alerting core. */
static json_t *alert_details(struct incidents *inc, const char *fp)
{
	if (!inc->alerts)
		return json_object();
	struct buf out = BUF_INIT, err = BUF_INIT;
	json_t *j = NULL;
	if (!alerts_get_json(inc->alerts, fp, &out, &err))
		j = json_loads(out.data, 0, NULL);
	buf_release(&out);
	buf_release(&err);
	return j ? j : json_object();
}

static int severity_rank(const char *s)
{
	return incident_severity_valid(s) ? s[3] - '0' : 9;
}

/* Puts service primary first in services, sets "service" (the caller decides the title). */
static bool update_primary(struct incidents *inc, json_t *doc)
{
	json_t *svcs = json_object_get(doc, "services");
	size_t n = json_array_size(svcs);
	if (n < 2)
		return false;
	const char **names = xcalloc(n, sizeof(*names));
	for (size_t i = 0; i < n; i++)
		names[i] = json_string_value(json_array_get(svcs, i));
	size_t p = incident_primary(names, n, graph_reaches, inc);
	free(names);
	if (p == 0)
		return false;
	json_t *prim = json_incref(json_array_get(svcs, p));
	json_array_remove(svcs, p);
	json_array_insert_new(svcs, 0, prim);
	json_object_set(doc, "service", prim);
	return true;
}

/*
 * Whether a firing anomaly on latency is part of a slowdown shared by the
 * system: the RED detector's shared signal is firing and names its service.
 * The detector holds its own latency alerts back for it; the anomaly watch
 * (10 s slots, its own band) sees the same slowdown and would open an
 * incident on a service that is not at fault.
 */
static bool in_shared_slowdown(struct incidents *inc, const struct tr_item *t, const char *source,
			       const json_t *evidence)
{
	const char *metric = json_string_value(json_object_get(evidence, "metric"));
	if (!inc->shared_fp[0] || !t->service || !source || strcmp(source, "anomaly") || !metric ||
	    (!strstr(metric, "p99") && !strstr(metric, "latency")))
		return false;
	json_t *shared = alert_details(inc, inc->shared_fp);
	bool in = false;
	const char *state = json_string_value(json_object_get(shared, "state"));
	if (state && !strcmp(state, "firing")) {
		size_t i;
		json_t *s;
		json_array_foreach(json_object_get(json_object_get(shared, "evidence"), "services"), i, s)
			in |= json_is_string(s) && !strcmp(json_string_value(s), t->service);
	}
	json_decref(shared);
	return in;
}

static void handle_transition(struct incidents *inc, struct tr_item *t)
{
	if (!strcmp(t->name, REDFAST_SHARED_NAME))
		snprintf(inc->shared_fp, sizeof(inc->shared_fp), "%s", t->to == ALERT_FIRING ? t->fp : "");
	const char *to = alert_state_name(t->to);
	json_t *details = alert_details(inc, t->fp);
	const char *source = json_string_value(json_object_get(details, "source"));
	const json_t *evidence = json_object_get(details, "evidence");
	struct incident_change c = { 0 };
	struct buf err = BUF_INIT, text = BUF_INIT;
	int64_t now = t->at_ns > 0 ? t->at_ns : ooda_now_ns();
	pthread_mutex_lock(&inc->mu);
	struct collect col = { json_array(), 500 };
	store_incident_iter(inc->store, collect_row, &col);
	json_t *member = NULL, *recur = NULL, *group = NULL;
	size_t i;
	json_t *d;
	json_array_foreach(col.docs, i, d) {
		const char *st = json_string_value(json_object_get(d, "status"));
		bool has = array_has(json_object_get(d, "alerts"), t->fp);
		if (has && !member && (incident_status_open(st) || t->to != ALERT_FIRING))
			member = d; /* an alert resolving is recorded even on a resolved incident */
		if (!recur && !strcmp(st, "resolved") &&
		    (has || (array_has(json_object_get(d, "services"), t->service) &&
			     array_has(json_object_get(d, "_alert_names"), t->name))) &&
		    now - json_integer_value(json_object_get(d, "_resolved_ns")) <= inc->cfg.reopen_window_ns)
			recur = d;
	}
	buf_addf(&text, "%s %s%s%s", t->name, to, t->service ? " on " : "", t->service ? t->service : "");
	json_t *entry_data = json_pack("{s:s, s:s, s:s, s:s, s:o}", "fingerprint", t->fp, "name", t->name, "from",
				       alert_state_name(t->from), "to", to, "evidence",
				       evidence ? json_incref((json_t *)evidence) : json_object());
	if (member) {
		/* a member alert moved: its transition joins the timeline */
		c.doc = json_incref(member);
		c.action = "incident.alert";
		incident_entry(&c, "alert", "ooda", text.data, entry_data);
		entry_data = NULL;
	} else if (t->to == ALERT_FIRING && recur) {
		c.doc = json_incref(recur);
		c.before = json_dumps(c.doc, JSON_COMPACT | JSON_SORT_KEYS);
		json_object_set_new(c.doc, "status", json_string("triggered"));
		json_object_set_new(c.doc, "resolved_at", json_null());
		json_object_set_new(c.doc, "reopened",
				    json_integer(json_integer_value(json_object_get(c.doc, "reopened")) + 1));
		array_add_unique(json_object_get(c.doc, "alerts"), t->fp);
		c.action = "incident.reopen";
		c.event = "reopened";
		struct buf why = BUF_INIT;
		buf_addf(&why, "reopened: %s fired again", t->name);
		incident_entry(&c, "reopened", "ooda", why.data,
			       json_pack("{s:s, s:s, s:s}", "from", "resolved", "to", "triggered", "alert", t->fp));
		buf_release(&why);
		incident_entry(&c, "alert", "ooda", text.data, entry_data);
		entry_data = NULL;
	} else if (t->to == ALERT_FIRING) {
		struct incident_signal sig = { .name = t->name, .service = t->service, .source = source,
					       .severity = t->severity, .labels = t->labels,
					       .metric = json_string_value(json_object_get(evidence, "metric")),
					       .score = json_number_value(json_object_get(evidence, "score")) };
		struct incident_decision dec;
		incident_decide(&inc->cfg, inc->cat, &sig, &dec);
		/* a silenced alert is someone saying "we know": it opens nothing and joins nothing */
		if (!dec.open || json_is_string(json_object_get(details, "silenced_by")))
			goto out;
		/* a latency anomaly inside a slowdown shared by the system: the shared signal says it */
		if (!dec.by_rule && in_shared_slowdown(inc, t, source, evidence))
			goto out;
		json_array_foreach(col.docs, i, d) {
			if (!t->service || !incident_status_open(json_string_value(json_object_get(d, "status"))))
				continue;
			int64_t onset = json_integer_value(json_object_get(d, "_onset_ns"));
			if (now - onset > inc->cfg.group_window_ns || onset - now > inc->cfg.group_window_ns)
				continue;
			size_t k;
			json_t *sv;
			json_array_foreach(json_object_get(d, "services"), k, sv) {
				if (incident_related(json_string_value(sv), t->service, graph_reaches, inc)) {
					group = d;
					break;
				}
			}
			if (group)
				break;
		}
		const struct incident_template *tpl = NULL;
		if (group) {
			c.doc = json_incref(group);
			c.before = json_dumps(c.doc, JSON_COMPACT | JSON_SORT_KEYS);
			array_add_unique(json_object_get(c.doc, "alerts"), t->fp);
			array_add_unique(json_object_get(c.doc, "_alert_names"), t->name);
			array_add_unique(json_object_get(c.doc, "services"), t->service);
			c.action = "incident.alert";
			c.event = "alert-joined";
			/* onset stays the first evidence of any member */
			const char *active = json_string_value(json_object_get(details, "active_at"));
			int64_t first;
			if (active && !ooda_time_parse(active, strlen(active), &first) && first > 0 &&
			    first < json_integer_value(json_object_get(c.doc, "_onset_ns"))) {
				json_object_set_new(c.doc, "onset_at", json_time(first));
				json_object_set_new(c.doc, "_onset_ns", json_integer(first));
			}
			incident_entry(&c, "alert", "ooda", text.data, entry_data);
			entry_data = NULL;
			if (update_primary(inc, c.doc)) {
				/* the storm's deepest failing dependency leads: title, tags, team follow it */
				const char *prim = json_string_value(json_object_get(c.doc, "service"));
				if (!json_is_true(json_object_get(c.doc, "_title_manual"))) {
					struct buf title = BUF_INIT;
					bool own = !strcmp(prim, t->service);
					tpl = incident_template_for(&inc->cfg, prim, own ? t->name : NULL);
					incident_title(&title, tpl, prim, own ? t->name : "dependency failing",
						   own ? evidence : NULL,
						   json_string_value(json_object_get(c.doc, "severity")),
						   json_integer_value(json_object_get(c.doc, "_onset_ns")));
					json_object_set_new(c.doc, "title", json_string(title.data));
					buf_release(&title);
				}
				apply_catalog(inc, c.doc, t->labels, tpl);
			}
			const char *cur = json_string_value(json_object_get(c.doc, "severity"));
			if (severity_rank(dec.severity) < severity_rank(cur)) {
				struct buf s = BUF_INIT;
				buf_addf(&s, "severity %s → %s: %s joined", cur, dec.severity, t->name);
				incident_entry(&c, "severity", "ooda", s.data,
					       json_pack("{s:s, s:s}", "from", cur, "to", dec.severity));
				buf_release(&s);
				json_object_set_new(c.doc, "severity", json_string(dec.severity));
				c.event2 = "severity";
			}
		} else {
			tpl = incident_template_for(&inc->cfg, t->service, t->name);
			/* onset: the first evidence, when the alert went pending before it fired */
			int64_t onset = now;
			const char *active = json_string_value(json_object_get(details, "active_at"));
			if (!active || ooda_time_parse(active, strlen(active), &onset) || onset <= 0 || onset > now)
				onset = now;
			struct buf title = BUF_INIT;
			incident_title(&title, tpl, t->service, t->name, evidence, dec.severity, onset);
			/* opened is when ooda opened it (MTTA and escalation count from it), not the
			 * alert's own time: an Alertmanager alert carries its startsAt, maybe long past */
			int64_t opened = ooda_now_ns();
			c.doc = incident_new_doc(title.data, dec.severity, t->service, opened > now ? opened : now);
			c.is_new = true;
			buf_release(&title);
			json_object_set_new(c.doc, "onset_at", json_time(onset));
			json_object_set_new(c.doc, "_onset_ns", json_integer(onset));
			json_array_append_new(json_object_get(c.doc, "alerts"), json_string(t->fp));
			json_array_append_new(json_object_get(c.doc, "_alert_names"), json_string(t->name));
			json_object_set_new(c.doc, "source", json_pack("{s:s, s:s, s:s}", "kind", source_kind(source), "alert",
								       t->fp, "name", t->name));
			if (tpl && tpl->checklist)
				json_object_set(c.doc, "checklist", tpl->checklist);
			apply_catalog(inc, c.doc, t->labels, tpl);
			c.action = "incident.open";
			c.event = "opened";
			struct buf o = BUF_INIT;
			buf_addf(&o, "opened from %s", t->name);
			incident_entry(&c, "opened", "ooda", o.data,
				       json_pack("{s:s, s:s, s:s}", "alert", t->fp, "name", t->name, "severity", dec.severity));
			buf_release(&o);
			incident_entry(&c, "alert", "ooda", text.data, entry_data);
			entry_data = NULL;
			const char *summary = json_string_value(json_object_get(json_object_get(details, "annotations"), "summary"));
			if (evidence && json_object_size(evidence))
				incident_entry(&c, "detection", "ooda", summary ? summary : t->name,
					       json_pack("{s:s, s:O}", "source", source ? source : "", "evidence", evidence));
		}
		add_changes(inc, &c, now);
	}
	if (c.doc) {
		if (member)
			add_changes(inc, &c, now);
		c.actor = "ooda";
		c.now_ns = now;
		if (incident_commit(inc, &c, &err))
			log_error("incidents: alert %s not recorded: %s", t->name, err.data);
	}
out:
	pthread_mutex_unlock(&inc->mu);
	incident_notify(inc, &c);
	json_decref(entry_data);
	json_decref(col.docs);
	json_decref(details);
	incident_change_release(&c);
	buf_release(&err);
	buf_release(&text);
}

/* ---- reads ----------------------------------------------------------------- */

struct list_ctx {
	const struct incident_filter *f;
	json_t *out;
	size_t limit;
};

static int list_row(void *ctx, const void *row)
{
	struct list_ctx *l = ctx;
	const struct incident_row *r = row;
	const char *st = l->f ? l->f->status : NULL;
	if (st && (!strcmp(st, "open") ? !incident_status_open(r->status) : strcmp(st, r->status)))
		return 0;
	if (l->f && l->f->severity && strcmp(l->f->severity, r->severity))
		return 0;
	json_t *d = json_loads(r->body, 0, NULL);
	if (!d)
		return 0;
	if (l->f && l->f->service && !array_has(json_object_get(d, "services"), l->f->service)) {
		json_decref(d);
		return 0;
	}
	json_array_append_new(l->out, incident_public(d));
	json_decref(d);
	return json_array_size(l->out) >= l->limit ? 1 : 0;
}

static void dump_to(json_t *j, struct buf *out)
{
	char *s = json_dumps(j, JSON_COMPACT);
	buf_adds(out, s ? s : "null");
	free(s);
	json_decref(j);
}

int incidents_list_json(struct incidents *inc, const struct incident_filter *f, struct buf *out, struct buf *err)
{
	if (f && f->status && strcmp(f->status, "open") && !status_known(f->status)) {
		buf_addf(err, "status: \"%s\" is not open, triggered, acknowledged, mitigated, resolved or reviewed",
			 f->status);
		return OODA_EINVAL;
	}
	if (f && f->severity && !incident_severity_valid(f->severity)) {
		buf_addf(err, "severity: \"%s\" is not SEV1, SEV2, SEV3 or SEV4", f->severity);
		return OODA_EINVAL;
	}
	struct list_ctx l = { f, json_array(), f && f->limit ? f->limit : 100 };
	int rc = store_incident_iter(inc->store, list_row, &l);
	if (rc) {
		json_decref(l.out);
		buf_adds(err, "incidents cannot be read");
		return rc;
	}
	dump_to(json_pack("{s:o}", "incidents", l.out), out);
	return 0;
}

int incidents_get_json(struct incidents *inc, const char *id, struct buf *out, struct buf *err)
{
	json_t *doc;
	int rc = incident_load(inc, id, &doc, err);
	if (rc)
		return rc;
	dump_to(incident_public(doc), out);
	json_decref(doc);
	return 0;
}

struct tl_ctx {
	json_t *out;
	const char *kind;
};

static int timeline_row(void *ctx, const void *row)
{
	struct tl_ctx *t = ctx;
	const struct incident_entry_row *e = row;
	if (t->kind && strcmp(t->kind, e->kind))
		return 0;
	json_t *data = json_loads(e->data, 0, NULL);
	json_array_append_new(t->out, json_pack("{s:I, s:o, s:s, s:s, s:s, s:o}", "seq", (json_int_t)e->seq, "at",
						json_time(e->at_ns), "kind", e->kind, "actor", e->actor, "text", e->text,
						"data", data ? data : json_object()));
	return 0;
}

int incident_entries(struct incidents *inc, int64_t number, const char *kind, json_t **out)
{
	struct tl_ctx t = { json_array(), kind };
	int rc = store_incident_entry_iter(inc->store, number, timeline_row, &t);
	*out = t.out;
	return rc;
}

int incidents_timeline_json(struct incidents *inc, const char *id, const char *kind, struct buf *out,
			    struct buf *err)
{
	json_t *doc, *entries;
	int rc = incident_load(inc, id, &doc, err);
	if (rc)
		return rc;
	rc = incident_entries(inc, json_integer_value(json_object_get(doc, "number")), kind, &entries);
	json_decref(doc);
	if (rc) {
		json_decref(entries);
		buf_adds(err, "timeline cannot be read");
		return rc;
	}
	dump_to(json_pack("{s:o}", "entries", entries), out);
	return 0;
}

/* ---- changes by hand ------------------------------------------------------- */

int incidents_open(struct incidents *inc, const json_t *req, const char *actor, struct buf *out, struct buf *err)
{
	const json_t *title = json_object_get(req, "title"), *service = json_object_get(req, "service"),
		     *severity = json_object_get(req, "severity"), *summary = json_object_get(req, "summary");
	if (!json_is_string(title) || !json_string_length(title) || json_string_length(title) > 300) {
		buf_adds(err, "title: required, a string of 1 to 300 characters");
		return OODA_EINVAL;
	}
	if (service && !json_is_null(service) &&
	    (!json_is_string(service) || !json_string_length(service) || json_string_length(service) > 200)) {
		buf_adds(err, "service: expected a service name");
		return OODA_EINVAL;
	}
	if (severity && !json_is_null(severity) && !incident_severity_valid(json_string_value(severity))) {
		buf_adds(err, "severity: expected SEV1, SEV2, SEV3 or SEV4");
		return OODA_EINVAL;
	}
	if (summary && !json_is_null(summary) && (!json_is_string(summary) || json_string_length(summary) > INCIDENTS_MAX_TEXT)) {
		buf_adds(err, "summary: expected a string");
		return OODA_EINVAL;
	}
	int64_t now = ooda_now_ns();
	pthread_mutex_lock(&inc->mu);
	const char *sev = json_string_value(severity) ? json_string_value(severity) : inc->cfg.default_severity;
	const char *svc = json_string_value(service);
	struct incident_change c = { .is_new = true, .actor = actor, .action = "incident.open", .event = "opened",
				     .now_ns = now };
	c.doc = incident_new_doc(json_string_value(title), sev, svc, now);
	json_object_set_new(c.doc, "source", json_pack("{s:s, s:n, s:n}", "kind", "manual", "alert", "name"));
	json_object_set_new(c.doc, "_title_manual", json_true());
	const struct incident_template *tpl = incident_template_for(&inc->cfg, svc, NULL);
	if (tpl && tpl->checklist)
		json_object_set(c.doc, "checklist", tpl->checklist);
	apply_catalog(inc, c.doc, NULL, tpl);
	incident_entry(&c, "opened", actor, json_string_value(summary) ? json_string_value(summary) : "opened by hand",
		       json_pack("{s:s}", "severity", sev));
	add_changes(inc, &c, now);
	if (lead_term() == 0) /* incident_commit hands the event over */
		c.detail = json_pack("{s:b}", "handed_over_to_leader", 1);
	int rc = incident_commit(inc, &c, err);
	pthread_mutex_unlock(&inc->mu);
	if (!rc) {
		buf_adds(out, c.event_json);
		incident_notify(inc, &c);
	}
	incident_change_release(&c);
	return rc;
}

int incident_begin(struct incidents *inc, const char *id, const char *actor, const char *action,
		   struct incident_change *c, struct buf *err)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_lock(&inc->mu);
	int rc = incident_load(inc, id, &c->doc, err);
	if (rc) {
		pthread_mutex_unlock(&inc->mu);
		return rc;
	}
	c->before = json_dumps(c->doc, JSON_COMPACT | JSON_SORT_KEYS);
	c->actor = actor;
	c->action = action;
	c->now_ns = ooda_now_ns();
	return 0;
}

int incident_finish(struct incidents *inc, struct incident_change *c, int rc, struct buf *out, struct buf *err)
{
	if (!rc) {
		if (!c->event)
			c->event = ""; /* json for out, no hook */
		/* changes to the involved services keep reaching the timeline until resolve */
		json_t *before = c->before ? json_loads(c->before, 0, NULL) : NULL;
		if (incident_status_open(json_string_value(json_object_get(before, "status"))))
			add_changes(inc, c, c->now_ns);
		json_decref(before);
		rc = incident_commit(inc, c, err);
	}
	pthread_mutex_unlock(&inc->mu);
	if (!rc) {
		if (out && !c->out)
			buf_adds(out, c->event_json);
		else if (out)
			dump_to(json_incref(c->out), out);
		incident_notify(inc, c);
	}
	json_decref(c->out);
	c->out = NULL;
	incident_change_release(c);
	return rc;
}

static int text_arg(const char *what, const char *s, bool required, struct buf *err)
{
	if ((required && (!s || !*s)) || (s && strlen(s) > INCIDENTS_MAX_TEXT)) {
		buf_addf(err, "%s: %s", what, required ? "required, at most 64 KiB" : "at most 64 KiB");
		return OODA_EINVAL;
	}
	return 0;
}

int incidents_transition(struct incidents *inc, const char *id, const char *to, const char *note, const char *actor,
			 struct buf *out, struct buf *err)
{
	return incidents_transition_fp(inc, id, to, note, false, actor, out, err);
}

int incidents_transition_fp(struct incidents *inc, const char *id, const char *to, const char *note,
			    bool false_positive, const char *actor, struct buf *out, struct buf *err)
{
	if (!status_known(to)) {
		buf_addf(err, "to: \"%s\" is not acknowledged, mitigated, resolved or reviewed", to ? to : "");
		return OODA_EINVAL;
	}
	if (false_positive && strcmp(to, "resolved")) {
		buf_adds(err, "false_positive: only a move to resolved says whether it was a false positive");
		return OODA_EINVAL;
	}
	int rc = text_arg("note", note, false, err);
	struct incident_change c;
	if (rc || (rc = incident_begin(inc, id, actor, "incident.transition", &c, err)))
		return rc;
	char from[32];
	snprintf(from, sizeof(from), "%s", json_string_value(json_object_get(c.doc, "status")));
	const char *stamp = NULL;
	if (!incident_transition_allowed(from, to, false, &stamp)) {
		buf_addf(err, "an incident cannot go from %s to %s%s", from, to,
			 !strcmp(to, "triggered") ? " by hand (only an alert firing again reopens it)" : "");
		rc = OODA_ECONFLICT;
	} else {
		json_object_set_new(c.doc, "status", json_string(to));
		if (stamp)
			json_object_set_new(c.doc, stamp, json_time(c.now_ns));
		if (!strcmp(to, "resolved")) {
			json_object_set_new(c.doc, "_resolved_ns", json_integer(c.now_ns));
			/* the resolution: whether it was a false positive (the automation report counts runs on those) */
			json_object_set_new(c.doc, "false_positive", json_boolean(false_positive));
		}
		struct buf t = BUF_INIT;
		buf_addf(&t, "%s → %s%s%s%s", from, to, false_positive ? " (false positive)" : "", note && *note ? ": " : "",
			 note && *note ? note : "");
		incident_entry(&c, "status", actor, t.data,
			       json_pack("{s:s, s:s, s:s?}", "from", from, "to", to, "note", note && *note ? note : NULL));
		buf_release(&t);
		c.rationale = note;
		c.event = "transition";
		c.detail = json_pack("{s:s, s:s}", "from", from, "to", to);
	}
	return incident_finish(inc, &c, rc, out, err);
}

int incidents_set_commander(struct incidents *inc, const char *id, const char *commander, const char *note,
			    const char *actor, struct buf *out, struct buf *err)
{
	int rc = text_arg("note", note, false, err);
	if (!rc && commander && strlen(commander) > 160) {
		buf_adds(err, "commander: at most 160 characters");
		rc = OODA_EINVAL;
	}
	struct incident_change c;
	if (rc || (rc = incident_begin(inc, id, actor, "incident.commander", &c, err)))
		return rc;
	const char *from = json_string_value(json_object_get(c.doc, "commander"));
	const char *to = commander && *commander ? commander : NULL;
	struct buf t = BUF_INIT;
	buf_addf(&t, "command %s %s%s%s", to ? "handed to" : "released by", to ? to : from ? from : "nobody",
		 note && *note ? ": " : "", note && *note ? note : "");
	incident_entry(&c, "handoff", actor, t.data,
		       json_pack("{s:s?, s:s?, s:s?}", "from", from, "to", to, "note", note && *note ? note : NULL));
	buf_release(&t);
	json_object_set_new(c.doc, "commander", to ? json_string(to) : json_null());
	c.rationale = note;
	c.event = "commander";
	return incident_finish(inc, &c, 0, out, err);
}

int incidents_set_severity(struct incidents *inc, const char *id, const char *severity, const char *note,
			   const char *actor, struct buf *out, struct buf *err)
{
	if (!incident_severity_valid(severity)) {
		buf_adds(err, "severity: expected SEV1, SEV2, SEV3 or SEV4");
		return OODA_EINVAL;
	}
	int rc = text_arg("note", note, false, err);
	struct incident_change c;
	if (rc || (rc = incident_begin(inc, id, actor, "incident.severity", &c, err)))
		return rc;
	char from[8];
	snprintf(from, sizeof(from), "%s", json_string_value(json_object_get(c.doc, "severity")));
	struct buf t = BUF_INIT;
	buf_addf(&t, "severity %s → %s%s%s", from, severity, note && *note ? ": " : "", note && *note ? note : "");
	incident_entry(&c, "severity", actor, t.data,
		       json_pack("{s:s, s:s, s:s?}", "from", from, "to", severity, "note", note && *note ? note : NULL));
	buf_release(&t);
	json_object_set_new(c.doc, "severity", json_string(severity));
	c.rationale = note;
	c.event = "severity";
	return incident_finish(inc, &c, 0, out, err);
}

static const char *const timeline_kinds[] = { "opened", "alert", "detection", "change", "status", "severity",
					       "handoff", "notification", "annotation", "hypothesis", "artifact",
					       "status_update", "summary", "action", "reopened", "remediation", NULL };

int incidents_timeline_append(struct incidents *inc, const char *id, const char *kind, const char *actor,
			      const char *text, const char *data_json, struct buf *err)
{
	bool known = false;
	for (size_t i = 0; kind && timeline_kinds[i]; i++)
		known |= !strcmp(kind, timeline_kinds[i]);
	if (!known) {
		buf_addf(err, "kind: \"%s\" is not a timeline kind", kind ? kind : "");
		return OODA_EINVAL;
	}
	json_t *data = data_json ? json_loads(data_json, 0, NULL) : json_object();
	int rc = text_arg("text", text, false, err);
	if (!rc && !json_is_object(data)) {
		buf_adds(err, "data: expected a JSON object");
		rc = OODA_EINVAL;
	}
	struct incident_change c;
	if (rc || (rc = incident_begin(inc, id, actor, "incident.timeline", &c, err))) {
		json_decref(data);
		return rc;
	}
	incident_entry(&c, kind, actor, text, data);
	return incident_finish(inc, &c, 0, NULL, err);
}

/* ---- hand-over from a follower (incidents_open) ----------------------------- */

struct take_ctx {
	const struct audit_signer *signer;
	const char *key;
	int64_t version;
	const char *body;
};

static int take_tx(struct store *s, void *ctx, struct buf *err)
{
	struct take_ctx *t = ctx;
	struct vdoc_write w = { .kind = INCIDENTS_HANDOVER_KIND, .key = t->key, .body = t->body,
				.body_len = strlen(t->body), .status = "taken", .expect_version = t->version,
				.actor = "ooda", .rationale = "the leader took the hand-over",
				.action = "handover.take", .target = t->key };
	return vdoc_put_tx(s, t->signer, &w, err);
}

int incidents_handover_take(struct incidents *inc, const char *key, int64_t version, const char *body,
			    struct buf *err)
{
	json_t *b = json_loads(body, 0, NULL);
	const char *id = json_string_value(json_object_get(b, "incident"));
	const char *event = json_string_value(json_object_get(b, "event"));
	const char *event2 = json_string_value(json_object_get(b, "event2"));
	if (!id || !event) {
		buf_addf(err, "%s: not an incident's hand-over", key);
		json_decref(b);
		return OODA_EINVAL;
	}
	struct take_ctx t = { inc->signer, key, version, body };
	int rc = store_write(inc->store, take_tx, &t, err);
	if (rc) {
		json_decref(b);
		return rc;
	}
	/* the document as it is now stands for the one the follower wrote (later changes are taken after) */
	struct incident_change c = { .event = event, .event2 = event2 };
	pthread_mutex_lock(&inc->mu);
	rc = incident_load(inc, id, &c.doc, err);
	pthread_mutex_unlock(&inc->mu);
	if (!rc) {
		json_t *p = incident_public(c.doc);
		c.event_json = json_dumps(p, JSON_COMPACT);
		json_decref(p);
		incident_notify(inc, &c);
		log_info("%s: %s on a follower, taken over by the leader", id, event);
	}
	incident_change_release(&c);
	json_decref(b);
	return rc;
}
