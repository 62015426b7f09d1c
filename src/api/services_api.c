/*
 * The service catalogue view (GET /api/v1/services, /services/{name}): what
 * ooda.yaml's services[] declares about a service (owner, tier, runbook,
 * environment, dependencies) joined with what the running loop knows about
 * it now — live RED and the traced graph, probes, heartbeats, firing alerts,
 * SLOs, open incidents, the latest deploy and who is on call for its owner.
 * Every source is read once per request through its owner's public JSON
 * view and filtered here; nothing is stored. The overall health follows the
 * rule table health_rules below (docs/operations.md, "Service catalogue").
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/cluster.h"
#include "api/handlers.h"
#include "core/time.h"
#include "core/xalloc.h"
#include "respond/catalog.h"
#include "respond/oncall.h"

/* Without an availability SLO, an error ratio above this is "degraded". */
#define SVC_DEFAULT_ERROR_RATIO 0.05
#define SVC_MAX_INCIDENTS 1000

/* Everything the view reads, fetched once per request; each may be NULL. */
struct svc_sources {
	int64_t now_ns;
	json_t *live;       /* live_services_json: [{service, requests, rate, …}] */
	json_t *graph;      /* live_graph_json: {nodes, edges} */
	json_t *declared;   /* the services: section as JSON */
	struct catalog *cat;
	json_t *edges;      /* declared edges [{source, target}] */
	json_t *probes;     /* [{service, name, state, …}] */
	json_t *heartbeats; /* [{name, service, state, …}] */
	json_t *alerts;     /* firing [{service, severity, name, …}] */
	json_t *slos;       /* [{name, service, objective, sli, error_budget, …}] */
	json_t *incidents;  /* open [{id, services, …}] */
};

static json_t *buf_to_json(struct buf *b)
{
	json_t *j = b->len ? json_loadb(b->data, b->len, JSON_DECODE_ANY, NULL) : NULL;
	buf_release(b);
	return j;
}

/* doc's array member key (a new reference), or NULL; doc is released. */
static json_t *member(json_t *doc, const char *key)
{
	json_t *m = json_incref(json_object_get(doc, key));
	json_decref(doc);
	return json_is_array(m) ? m : (json_decref(m), NULL);
}

/* Fills *s (release with sources_release even on error); OODA_EINVAL with detail in werr for a window live refuses. */
static int sources_load(struct daemon *d, int64_t window_ns, struct svc_sources *s, struct buf *werr)
{
	struct buf b = BUF_INIT, err = BUF_INIT;
	memset(s, 0, sizeof(*s));
	cluster_live_catch_up(d->cluster); /* what other nodes acknowledged counts (several nodes only) */
	s->now_ns = ooda_now_ns();
	int rc = live_services_json(d->live, s->now_ns, window_ns, &b, werr);
	if (rc) {
		buf_release(&b);
		return rc;
	}
	s->live = buf_to_json(&b);
	if (!live_graph_json(d->live, s->now_ns, window_ns, &b, &err))
		s->graph = buf_to_json(&b);
	buf_release(&b);
	pthread_rwlock_rdlock(&d->cfg_lock);
	char *st = config_section_json(&d->cfg, "services");
	pthread_rwlock_unlock(&d->cfg_lock);
	s->declared = st ? json_loads(st, JSON_DECODE_ANY, NULL) : NULL;
	free(st);
	if (catalog_create(json_is_array(s->declared) ? s->declared : NULL, &s->cat, &err))
		s->cat = NULL;
	if (d->alerts) {
		s->edges = alerts_declared_edges(d->alerts);
		if (!alerts_list_json(d->alerts, "firing", &b, &err))
			s->alerts = member(buf_to_json(&b), "alerts");
		buf_release(&b);
	}
	if (d->prober && !prober_json(d->prober, NULL, NULL, &b, &err))
		s->probes = member(buf_to_json(&b), "probes");
	buf_release(&b);
	if (d->heartbeats && !heartbeats_json(d->heartbeats, NULL, s->now_ns, &b, &err))
		s->heartbeats = member(buf_to_json(&b), "heartbeats");
	buf_release(&b);
	if (d->slos && !slo_list_json(d->slos, s->now_ns, &b, &err))
		s->slos = member(buf_to_json(&b), "slos");
	buf_release(&b);
	struct incident_filter f = { .status = "open", .limit = SVC_MAX_INCIDENTS };
	if (d->incidents && !incidents_list_json(d->incidents, &f, &b, &err))
		s->incidents = member(buf_to_json(&b), "incidents");
	buf_release(&b);
	buf_release(&err);
	return 0;
}

static void sources_release(struct svc_sources *s)
{
	json_decref(s->live);
	json_decref(s->graph);
	json_decref(s->declared);
	catalog_destroy(s->cat);
	json_decref(s->edges);
	json_decref(s->probes);
	json_decref(s->heartbeats);
	json_decref(s->alerts);
	json_decref(s->slos);
	json_decref(s->incidents);
}

/* A string member for a message: "?" when absent. */
static const char *jstr(const json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));
	return v ? v : "?";
}

static bool str_is(const json_t *o, const char *key, const char *want)
{
	const char *v = json_string_value(json_object_get(o, key));
	return v && want && !strcmp(v, want);
}

/* The members of arr whose key is name, as a new array. */
static json_t *of_service(const json_t *arr, const char *key, const char *name)
{
	json_t *out = json_array(), *o;
	size_t i;
	json_array_foreach(arr, i, o)
		if (str_is(o, key, name))
			json_array_append(out, o);
	return out;
}

/* The open incidents naming service among their services. */
static json_t *incidents_of(const json_t *arr, const char *name)
{
	json_t *out = json_array(), *o, *s;
	size_t i, k;
	json_array_foreach(arr, i, o) {
		json_array_foreach(json_object_get(o, "services"), k, s)
			if (json_string_value(s) && !strcmp(json_string_value(s), name)) {
				json_array_append_new(out, json_pack("{s:O?, s:O?, s:O?, s:O?, s:O?}", "id",
						      json_object_get(o, "id"), "title", json_object_get(o, "title"),
						      "status", json_object_get(o, "status"), "severity",
						      json_object_get(o, "severity"), "opened",
						      json_object_get(o, "opened")));
				break;
			}
	}
	return out;
}

static const json_t *live_of(const struct svc_sources *s, const char *name)
{
	const json_t *o;
	size_t i;
	json_array_foreach(s->live, i, o)
		if (str_is(o, "service", name))
			return o;
	return NULL;
}

/* ---- health ------------------------------------------------------------------ */

/* What one service looks like to the health rules. */
struct svc_view {
	const char *name;
	const json_t *red;       /* the live RED object, or NULL */
	json_t *probes, *heartbeats, *alerts, *slos;
};

typedef bool health_check_fn(const struct svc_view *v, struct buf *why);

static bool alert_of_severity(const struct svc_view *v, struct buf *why, bool page)
{
	const json_t *a;
	size_t i;
	json_array_foreach(v->alerts, i, a)
		if (str_is(a, "severity", "page") == page) {
			buf_addf(why, "%s alert %s is firing", jstr(a, "severity"), jstr(a, "name"));
			return true;
		}
	return false;
}

static bool page_alert_firing(const struct svc_view *v, struct buf *why)
{
	return alert_of_severity(v, why, true);
}

static bool other_alert_firing(const struct svc_view *v, struct buf *why)
{
	return alert_of_severity(v, why, false);
}

static bool probe_failing(const struct svc_view *v, struct buf *why)
{
	const json_t *p;
	size_t i;
	json_array_foreach(v->probes, i, p)
		if (str_is(p, "state", "failing")) {
			buf_addf(why, "probe %s is failing", jstr(p, "name"));
			return true;
		}
	return false;
}

static bool heartbeat_missed(const struct svc_view *v, struct buf *why)
{
	const json_t *h;
	size_t i;
	json_array_foreach(v->heartbeats, i, h)
		if (str_is(h, "state", "late") || str_is(h, "state", "failed")) {
			buf_addf(why, "heartbeat %s is %s", jstr(h, "name"), jstr(h, "state"));
			return true;
		}
	return false;
}

/* The error ratio allowed: 1 - the strictest availability objective, else the default. */
static double allowed_error_ratio(const struct svc_view *v)
{
	double allowed = -1;
	const json_t *o;
	size_t i;
	json_array_foreach(v->slos, i, o) {
		json_t *obj = json_object_get(o, "objective");
		const char *kind = json_string_value(json_object_get(json_object_get(o, "sli"), "kind"));
		if (!json_is_number(obj) || (kind && !strcmp(kind, "latency")))
			continue;
		double a = (100.0 - json_number_value(obj)) / 100.0;
		if (allowed < 0 || a < allowed)
			allowed = a;
	}
	return allowed < 0 ? SVC_DEFAULT_ERROR_RATIO : allowed;
}

static bool errors_over_objective(const struct svc_view *v, struct buf *why)
{
	json_t *er = json_object_get(v->red, "error_ratio");
	if (!json_is_number(er))
		return false;
	double allowed = allowed_error_ratio(v);
	if (json_number_value(er) <= allowed)
		return false;
	buf_addf(why, "error ratio %.2f%% is above %.2f%%", json_number_value(er) * 100, allowed * 100);
	return true;
}

/* First match wins; none matching is "ok" with data, "unknown" without. */
static const struct health_rule {
	const char *health;
	health_check_fn *check;
} health_rules[] = {
	{ "failing", page_alert_firing },
	{ "failing", probe_failing },
	{ "failing", heartbeat_missed },
	{ "degraded", other_alert_firing },
	{ "degraded", errors_over_objective },
};

static bool has_data(const struct svc_view *v)
{
	const json_t *o;
	size_t i;
	if (json_integer_value(json_object_get(v->red, "requests")) > 0)
		return true;
	json_array_foreach(v->probes, i, o)
		if (!str_is(o, "state", "unknown"))
			return true;
	json_array_foreach(v->heartbeats, i, o)
		if (!str_is(o, "state", "never"))
			return true;
	return false;
}

static void health_set(const struct svc_view *v, json_t *out)
{
	struct buf why = BUF_INIT;
	const char *health = NULL;
	for (size_t i = 0; !health && i < sizeof(health_rules) / sizeof(health_rules[0]); i++)
		if (health_rules[i].check(v, &why))
			health = health_rules[i].health;
	if (!health) {
		bool data = has_data(v);
		health = data ? "ok" : "unknown";
		buf_adds(&why, data ? "no alert firing, no probe or heartbeat failing, errors within objective"
				    : "no requests in the window and no probe or heartbeat result");
	}
	json_object_set_new(out, "health", json_string(health));
	json_object_set_new(out, "health_reason", json_string(why.data ? why.data : ""));
	buf_release(&why);
}

/* ---- one service ---------------------------------------------------------------- */

static const char *red_keys[] = { "requests", "errors", "rate", "error_ratio", "p50_ms", "p90_ms", "p99_ms", "last_seen" };

static void catalogue_set(const struct svc_sources *s, const char *name, json_t *out)
{
	const struct catalog_service *c = s->cat ? catalog_get(s->cat, name) : NULL;
	json_object_set_new(out, "name", json_string(name));
	json_object_set_new(out, "service", json_string(name));
	json_object_set_new(out, "declared", json_boolean(c != NULL));
	json_object_set_new(out, "owner", c && c->owner ? json_string(c->owner) : json_null());
	json_object_set_new(out, "tier", c ? json_string(catalog_tier_name(c->tier)) : json_null());
	json_object_set_new(out, "runbook", c && c->runbook ? json_string(c->runbook) : json_null());
	json_object_set_new(out, "environment", c ? json_string(c->environment) : json_null());
}

/* The live RED fields; counts 0 and the rest null when the service sent nothing. */
static void red_set(const json_t *red, json_t *out)
{
	for (size_t i = 0; i < sizeof(red_keys) / sizeof(red_keys[0]); i++) {
		json_t *v = json_object_get(red, red_keys[i]);
		json_object_set_new(out, red_keys[i], v ? json_incref(v) : i < 2 ? json_integer(0) : json_null());
	}
}

static void view_init(const struct svc_sources *s, const char *name, struct svc_view *v)
{
	v->name = name;
	v->red = live_of(s, name);
	v->probes = of_service(s->probes, "service", name);
	v->heartbeats = of_service(s->heartbeats, "service", name);
	v->alerts = of_service(s->alerts, "service", name);
	v->slos = of_service(s->slos, "service", name);
}

static void view_release(struct svc_view *v)
{
	json_decref(v->probes);
	json_decref(v->heartbeats);
	json_decref(v->alerts);
	json_decref(v->slos);
}

/* ---- the list ----------------------------------------------------------------- */

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void name_add(const char ***names, size_t *n, size_t *cap, const char *name)
{
	if (!name || !*name)
		return;
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*names)[i], name))
			return;
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 32;
		*names = xrealloc(*names, *cap * sizeof(**names));
	}
	(*names)[(*n)++] = name;
}

/* Declared ∪ sending telemetry ∪ service nodes of the traced graph, sorted; borrowed from s. */
static const char **known_names(const struct svc_sources *s, size_t *n)
{
	const char **names = NULL;
	size_t cap = 0;
	const json_t *o;
	size_t i;
	*n = 0;
	json_array_foreach(s->declared, i, o)
		name_add(&names, n, &cap, json_string_value(json_object_get(o, "name")));
	json_array_foreach(s->live, i, o)
		name_add(&names, n, &cap, json_string_value(json_object_get(o, "service")));
	json_array_foreach(json_object_get(s->graph, "nodes"), i, o)
		if (str_is(o, "type", "service"))
			name_add(&names, n, &cap, json_string_value(json_object_get(o, "id")));
	if (*n)
		qsort(names, *n, sizeof(*names), name_cmp);
	return names;
}

static int window_of(struct http_request *req, int64_t *window)
{
	const char *w = http_query(req, "window");
	*window = 5 * 60 * OODA_NS_PER_SEC;
	if (w && (ooda_duration_parse(w, strlen(w), window) || *window <= 0)) {
		buf_addf(&req->err, "window: %.40s is not a duration like 5m", w);
		return OODA_EINVAL;
	}
	return 0;
}

int api_services_list(struct http_request *req, struct http_response *res)
{
	int64_t window;
	int rc = window_of(req, &window);
	if (rc)
		return rc;
	struct svc_sources s;
	if ((rc = sources_load(api_daemon(req), window, &s, &req->err))) {
		sources_release(&s);
		return rc;
	}
	size_t n;
	const char **names = known_names(&s, &n);
	json_t *list = json_array();
	for (size_t i = 0; i < n; i++) {
		struct svc_view v;
		view_init(&s, names[i], &v);
		json_t *o = json_object();
		catalogue_set(&s, names[i], o);
		red_set(v.red, o);
		json_t *ingest = json_object_get(v.red, "ingest");
		if (ingest)
			json_object_set(o, "ingest", ingest);
		json_t *inc = incidents_of(s.incidents, names[i]);
		json_object_set_new(o, "open_incidents", json_integer((json_int_t)json_array_size(inc)));
		json_decref(inc);
		json_object_set_new(o, "firing_alerts", json_integer((json_int_t)json_array_size(v.alerts)));
		health_set(&v, o);
		view_release(&v);
		json_array_append_new(list, o);
	}
	free(names);
	sources_release(&s);
	api_send_json(res, 200, list);
	return 0;
}

/* ---- show ------------------------------------------------------------------- */

/* One side of the merged dependencies: declared names ∪ traced edges. */
static json_t *merged_deps(const json_t *declared, const json_t *traced)
{
	json_t *out = json_array(), *o;
	size_t i;
	json_array_foreach(traced, i, o) {
		json_t *e = json_deep_copy(o);
		json_object_set_new(e, "traced", json_true());
		json_object_set_new(e, "declared", json_false());
		json_array_append_new(out, e);
	}
	json_array_foreach(declared, i, o) {
		const char *name = json_string_value(o);
		json_t *e, *hit = NULL;
		size_t k;
		json_array_foreach(out, k, e)
			if (str_is(e, "service", name))
				hit = e;
		if (hit)
			json_object_set_new(hit, "declared", json_true());
		else
			json_array_append_new(out, json_pack("{s:s, s:b, s:b}", "service", name, "declared", 1, "traced", 0));
	}
	return out;
}

static json_t *declared_side(const json_t *edges, const char *name, bool outgoing)
{
	json_t *out = json_array(), *e;
	size_t i;
	json_array_foreach(edges, i, e)
		if (str_is(e, outgoing ? "source" : "target", name))
			json_array_append(out, json_object_get(e, outgoing ? "target" : "source"));
	return out;
}

static json_t *latest_deploy(struct daemon *d, const char *name)
{
	if (!d->change_ready)
		return json_null();
	struct buf b = BUF_INIT, err = BUF_INIT;
	json_t *list = NULL;
	if (!deploy_list_json(&d->change, name, NULL, 1, &b, &err))
		list = member(buf_to_json(&b), "deploys");
	buf_release(&b);
	buf_release(&err);
	json_t *dep = json_array_get(list, 0);
	json_t *out = dep ? json_pack("{s:O?, s:O?, s:O?, s:O?, s:O?}", "id", json_object_get(dep, "id"), "version",
				      json_object_get(dep, "version"), "environment", json_object_get(dep, "environment"),
				      "time", json_object_get(dep, "time"), "actor", json_object_get(dep, "actor"))
			  : json_null();
	json_decref(list);
	return out ? out : json_null();
}

/* Who is on call now for the owner team: its schedule's shift, or null. */
static json_t *oncall_now(struct daemon *d, const char *owner, int64_t now_ns)
{
	if (!d->oncall || !owner)
		return json_null();
	struct oncall_view v;
	oncall_book_view(d->oncall, &v);
	const struct oncall_team *t = oncall_team_find(v.oc, owner);
	json_t *out = NULL;
	struct oncall_shift sh;
	struct buf err = BUF_INIT;
	if (t && t->schedule && !oncall_who(v.oc, &v.ov, t->schedule, now_ns, &sh, &err)) {
		out = oncall_shift_json(&sh);
		json_object_set_new(out, "team", json_string(owner));
	}
	oncall_view_release(&v);
	buf_release(&err);
	return out ? out : json_null();
}

int api_service_get(struct http_request *req, struct http_response *res)
{
	int64_t window;
	int rc = window_of(req, &window);
	if (rc)
		return rc;
	struct daemon *d = api_daemon(req);
	const char *name = http_param(req, "name");
	struct svc_sources s;
	if ((rc = sources_load(d, window, &s, &req->err))) {
		sources_release(&s);
		return rc;
	}
	size_t n;
	const char **names = known_names(&s, &n);
	bool known = false;
	for (size_t i = 0; i < n && !known; i++)
		known = !strcmp(names[i], name);
	free(names);
	if (!known) {
		sources_release(&s);
		buf_addf(&req->err, "service \"%.128s\" is not declared in ooda.yaml (services) nor seen in telemetry", name);
		return OODA_ENOTFOUND;
	}
	/* the live detail: RED per operation, traced callers and callees */
	struct buf b = BUF_INIT, err = BUF_INIT;
	json_t *o = NULL;
	if (!live_service_json(d->live, name, s.now_ns, window, &b, &err))
		o = buf_to_json(&b);
	buf_release(&b);
	buf_release(&err);
	if (!json_is_object(o)) {
		json_decref(o);
		o = json_pack("{s:[], s:[], s:[]}", "operations", "upstream", "downstream");
	}
	struct svc_view v;
	view_init(&s, name, &v);
	catalogue_set(&s, name, o);
	red_set(v.red, o);
	json_t *deps = declared_side(s.edges, name, true), *dependents = declared_side(s.edges, name, false);
	json_object_set_new(o, "callees", merged_deps(deps, json_object_get(o, "downstream")));
	json_object_set_new(o, "callers", merged_deps(dependents, json_object_get(o, "upstream")));
	json_object_set_new(o, "dependencies", deps);
	json_object_set_new(o, "dependents", dependents);
	health_set(&v, o);
	json_object_set(o, "probes", v.probes);
	json_object_set(o, "heartbeats", v.heartbeats);
	json_object_set(o, "alerts", v.alerts);
	json_t *slos = json_array(), *x;
	size_t i;
	json_array_foreach(v.slos, i, x)
		json_array_append_new(slos, json_pack("{s:O?, s:O?, s:O?, s:O?, s:O?}", "name", json_object_get(x, "name"),
						      "objective", json_object_get(x, "objective"), "sli",
						      json_object_get(json_object_get(x, "sli"), "value"), "budget_remaining",
						      json_object_get(json_object_get(x, "error_budget"), "remaining"),
						      "alert", json_object_get(json_object_get(x, "alert"), "state")));
	json_object_set_new(o, "slos", slos);
	json_object_set_new(o, "incidents", incidents_of(s.incidents, name));
	json_object_set_new(o, "deploy", latest_deploy(d, name));
	json_object_set_new(o, "oncall", oncall_now(d, json_string_value(json_object_get(o, "owner")), s.now_ns));
	view_release(&v);
	sources_release(&s);
	api_send_json(res, 200, o);
	return 0;
}
