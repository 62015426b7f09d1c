/*
 * The remedy stage's glue (remedy_glue.h): the hooks the engine calls,
 * each a thin adapter over another stage's public functions, and the two
 * trigger feeds. Nothing here decides anything; the engine does.
 */
#include "api/remedy_glue.h"
#include "core/error.h"
#include "core/log.h"
#include "core/time.h"
#include "core/xalloc.h"
#include "remedy/remedy.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Held while an incident event (the incidents worker) reaches the engine, and while the engine goes away. */
static pthread_mutex_t feed_mu = PTHREAD_MUTEX_INITIALIZER;

static struct remedy *engine_of(struct daemon *d)
{
	return __atomic_load_n(&d->remedy, __ATOMIC_ACQUIRE);
}

/* ---- hooks ----------------------------------------------------------------- */

static int hook_notify(void *ctx, const char *target, const char *event, const char *text, const char *incident,
		       const char *dedupe, struct buf *err)
{
	struct daemon *d = ctx;
	if (!d->notify) {
		buf_adds(err, "notifications are not running");
		return OODA_EUNAVAIL;
	}
	struct notify_event ev = { .kind = "incident", .event = event, .dedupe_base = dedupe, .incident_id = incident,
				   .title = text, .severity = strcmp(event, "remediation") ? "info" : "page" };
	return target ? notify_page(d->notify, target, &ev, err) : notify_enqueue(d->notify, &ev, err);
}

static int hook_annotate(void *ctx, const char *incident, const char *kind, const char *actor, const char *text,
			 const json_t *data, struct buf *err)
{
	struct daemon *d = ctx;
	if (!d->incidents) {
		buf_adds(err, "incidents are not running");
		return OODA_EUNAVAIL;
	}
	char *dj = data ? json_dumps(data, JSON_COMPACT) : NULL;
	int rc = incidents_timeline_append(d->incidents, incident, kind, actor, text, dj, err);
	free(dj);
	return rc;
}

static int hook_alert_firing(void *ctx, const char *fp, bool *firing)
{
	struct daemon *d = ctx;
	enum alert_state s;
	bool notify;
	if (!d->alerts || alerts_state(d->alerts, fp, &s, &notify))
		return OODA_ENOTFOUND;
	*firing = s == ALERT_FIRING;
	return 0;
}

static int hook_probe_passing(void *ctx, const char *service, const char *name, int64_t since_ns, bool *passing,
			      bool *checked)
{
	struct daemon *d = ctx;
	int64_t begun = 0;
	int rc = d->prober ? prober_state(d->prober, service, name, passing, &begun) : OODA_EUNAVAIL;
	if (!rc) /* an attempt that began before the steps ran says nothing of what they did */
		*checked = !since_ns || (begun > 0 && begun >= since_ns);
	return rc;
}

static int count_row(void *ctx, const void *row)
{
	(void)row;
	(*(int *)ctx)++;
	return 0;
}

/* A rollback run still running counts as a deploy in progress (every service: a run names its deploy, not a service). */
static int hook_deploy_in_progress(void *ctx, const char *service, bool *busy)
{
	(void)service;
	struct daemon *d = ctx;
	int n = 0;
	int rc = vdoc_list_status(d->store, "rollback-run", "running", count_row, &n);
	*busy = n > 0;
	return rc;
}

static int hook_approval_request(void *ctx, const char *run, const char *requester, const char *rationale,
				 int64_t ttl_ns, char id[48], struct buf *err)
{
	struct daemon *d = ctx;
	json_t *act = json_pack("{ss ss}", "type", "remedy.run", "run", run);
	int rc = approval_request(&d->change, "remedy.run", NULL, act, requester, rationale, ttl_ns, id, err);
	json_decref(act);
	return rc;
}

static int hook_approval_decide(void *ctx, const char *id, bool approve, const char *actor, const char *rationale,
				struct buf *out, struct buf *err)
{
	struct daemon *d = ctx;
	return approval_decide(&d->change, id, approve, actor, rationale, out, err);
}

/* The latest version of vdoc kind/key (0 when there is none). */
static int64_t latest_version(struct store *s, const char *kind, const char *key)
{
	struct vdoc v;
	struct buf ignore = BUF_INIT;
	int64_t ver = vdoc_get(s, kind, key, 0, &v, &ignore) ? 0 : v.version;
	if (ver)
		vdoc_release(&v);
	buf_release(&ignore);
	return ver;
}

static int hook_flag_set(void *ctx, const char *env, const char *key, const char *state, const char *variant,
			 const char *actor, const char *rationale, int64_t *before, int64_t *after, struct buf *err)
{
	struct daemon *d = ctx;
	if (!d->flags) {
		buf_adds(err, "flags are not running");
		return OODA_EUNAVAIL;
	}
	json_t *def = flagstore_def(d->store, env, key, 0);
	if (!def) {
		buf_addf(err, "no flag %s in environment %s", key, env);
		return OODA_ENOTFOUND;
	}
	char k[400];
	snprintf(k, sizeof(k), "%s/%s", env, key);
	*before = latest_version(d->store, "flag", k);
	if (state)
		json_object_set_new(def, "state", json_string(state));
	if (variant) {
		if (!json_object_get(json_object_get(def, "variants"), variant)) {
			buf_addf(err, "flag %s/%s has no variant %s", env, key, variant);
			json_decref(def);
			return OODA_EINVAL;
		}
		json_object_set_new(def, "defaultVariant", json_string(variant));
	}
	struct flag_change c = { .env = env, .key = key, .actor = actor, .rationale = rationale, .expect_version = -1 };
	int rc = flagstore_put(d->flags, &c, def, err);
	json_decref(def);
	*after = c.version;
	return rc;
}

static int hook_flag_changed(void *ctx, const char *env, const char *key, int64_t *version, int64_t *at_ns,
			     char *author, size_t author_size)
{
	struct daemon *d = ctx;
	char k[400];
	snprintf(k, sizeof(k), "%s/%s", env, key);
	struct vdoc v;
	struct buf ignore = BUF_INIT;
	int rc = vdoc_get(d->store, "flag", k, 0, &v, &ignore);
	buf_release(&ignore);
	if (rc)
		return rc;
	*version = v.version;
	*at_ns = v.time_ns;
	snprintf(author, author_size, "%s", v.author ? v.author : "");
	rc = v.deleted ? OODA_ENOTFOUND : 0;
	vdoc_release(&v);
	return rc;
}

static int hook_flag_restore(void *ctx, const char *env, const char *key, int64_t to, const char *actor,
			     const char *rationale, int64_t *before, int64_t *after, struct buf *err)
{
	struct daemon *d = ctx;
	if (!d->flags) {
		buf_adds(err, "flags are not running");
		return OODA_EUNAVAIL;
	}
	char k[400];
	snprintf(k, sizeof(k), "%s/%s", env, key);
	*before = latest_version(d->store, "flag", k);
	if (!to)
		to = *before - 1;
	if (to < 1) {
		buf_addf(err, "flag %s/%s has no earlier version to go back to", env, key);
		return *before ? OODA_ECONFLICT : OODA_ENOTFOUND;
	}
	struct flag_change c = { .env = env, .key = key, .actor = actor, .rationale = rationale, .expect_version = -1 };
	int rc = flagstore_rollback(d->flags, &c, to, err);
	*after = c.version;
	return rc;
}

static int hook_config_restore(void *ctx, const char *service, const char *env, int64_t to, const char *actor,
			       const char *rationale, int64_t *before, int64_t *after, struct buf *err)
{
	struct daemon *d = ctx;
	char k[300];
	snprintf(k, sizeof(k), "%s/%s", service, env);
	*before = latest_version(d->store, "config", k);
	if (!to)
		to = *before - 1;
	if (to < 1) {
		buf_addf(err, "config %s/%s has no earlier version to go back to", service, env);
		return *before ? OODA_ECONFLICT : OODA_ENOTFOUND;
	}
	return config_rollback(&d->change, service, env, to, actor, rationale, after, err);
}

static int hook_rollback_last(void *ctx, const char *service, const char *env, bool approved, const char *actor,
			      const char *rationale, int64_t timeout_ns, struct buf *out, struct buf *err)
{
	struct daemon *d = ctx;
	struct buf list = BUF_INIT;
	int rc = deploy_list_json(&d->change, service, env, 1, &list, err);
	json_t *j = rc ? NULL : json_loads(list.data, 0, NULL);
	buf_release(&list);
	const char *deploy = json_string_value(json_object_get(json_array_get(json_object_get(j, "deploys"), 0), "id"));
	if (!rc && !deploy) {
		buf_addf(err, "no deploy of %s%s%s to roll back", service, env ? " in " : "", env ? env : "");
		rc = OODA_ENOTFOUND;
	}
	char run[48] = "", approval[48] = "";
	if (!rc)
		rc = rollback_start(&d->change, deploy, false, approved, actor, rationale, run, approval, err);
	if (!rc && !run[0]) {
		buf_addf(err, "the rollback of %s needs the approval of a person first (request %s)", deploy, approval);
		rc = OODA_EPRECOND;
	}
	if (!rc) {
		int64_t ms = timeout_ns / 1000000;
		rc = rollback_wait(&d->change, run, ms > INT32_MAX ? INT32_MAX : (int)ms);
		if (rc == OODA_ETIMEOUT)
			buf_addf(err, "rollback run %s still running at the timeout", run);
	}
	struct buf rj = BUF_INIT, ignore = BUF_INIT;
	const char *status = NULL;
	json_t *rd = NULL;
	if (!rc && !rollback_run_json(&d->change, run, &rj, &ignore)) {
		rd = json_loads(rj.data, 0, NULL);
		status = json_string_value(json_object_get(rd, "status"));
		if (!status || strcmp(status, "done")) {
			const char *why = json_string_value(json_object_get(rd, "error"));
			buf_addf(err, "rollback run %s ended %s%s%s", run, status ? status : "in an unknown state",
				 why ? ": " : "", why ? why : "");
			rc = OODA_ECONFLICT;
		}
	}
	if (run[0]) {
		json_t *o = json_pack("{ss ss ss?}", "deploy", deploy, "run", run, "status", status);
		char *txt = json_dumps(o, JSON_COMPACT);
		buf_adds(out, txt);
		free(txt);
		json_decref(o);
	}
	json_decref(rd);
	json_decref(j);
	buf_release(&rj);
	buf_release(&ignore);
	return rc;
}

#define RATIO_SLOTS 1024

/* errors / requests of service over [from, to); NaN without requests. */
/*
 * The error ratio over the RED slots overlapping [from, to) that began at or
 * after since (a slot that began before holds requests served before it);
 * *count gets the requests.
 */
static double ratio_between(struct live_signals *live, const char *service, int64_t from, int64_t to, int64_t since,
			    double *req, double *errs, double *count)
{
	int64_t first = 0, slot = 0;
	size_t n = 0;
	struct buf ignore = BUF_INIT;
	double total = 0, bad = 0;
	if (!live_red_counts(live, service, NULL, from, to, 0, RATIO_SLOTS, &first, &slot, req, errs, NULL, &n, &ignore))
		for (size_t i = 0; i < n; i++) {
			if (first + (int64_t)i * slot < since)
				continue;
			total += req[i];
			bad += errs[i];
		}
	buf_release(&ignore);
	if (count)
		*count = total;
	return total > 0 ? bad / total : NAN;
}

static int hook_error_ratio(void *ctx, const char *service, int64_t window_ns, int64_t since_ns, int64_t base_end_ns,
			    double *ratio, double *requests, double *baseline)
{
	struct daemon *d = ctx;
	if (!d->live)
		return OODA_EUNAVAIL;
	double *req = xcalloc(RATIO_SLOTS, sizeof(double)), *errs = xcalloc(RATIO_SLOTS, sizeof(double));
	int64_t now = ooda_now_ns();
	*ratio = ratio_between(d->live, service, now - window_ns, now, since_ns, req, errs, requests);
	*baseline = ratio_between(d->live, service, base_end_ns - window_ns, base_end_ns, 0, req, errs, NULL);
	free(req);
	free(errs);
	return 0;
}

static int hook_slo_budget(void *ctx, const char *slo, double *remaining)
{
	struct daemon *d = ctx;
	struct slo_status st;
	if (!d->slos || slo_status_get(d->slos, slo, ooda_now_ns(), &st))
		return OODA_ENOTFOUND;
	*remaining = st.budget_remaining;
	return 0;
}

static int hook_service_probes(void *ctx, const char *service, int *passing, int *total)
{
	struct daemon *d = ctx;
	struct buf out = BUF_INIT, err = BUF_INIT;
	int rc = d->prober ? prober_json(d->prober, NULL, NULL, &out, &err) : OODA_EUNAVAIL;
	*passing = *total = 0;
	json_t *j = rc ? NULL : json_loads(out.data, 0, NULL);
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(j, "probes"), i, p) {
		const char *svc = json_string_value(json_object_get(p, "service"));
		const char *st = json_string_value(json_object_get(p, "state"));
		if (!svc || strcmp(svc, service))
			continue;
		(*total)++;
		*passing += st && !strcmp(st, "passing");
	}
	json_decref(j);
	buf_release(&out);
	buf_release(&err);
	return rc ? rc : *total ? 0 : OODA_ENOTFOUND;
}

/* change's perform_ext: a decided "remedy.run" request. */
static int perform_remedy(void *ctx, const json_t *action, bool approve, const char *approver, const char *rationale,
			  struct buf *out, struct buf *err)
{
	struct daemon *d = ctx;
	const char *type = json_string_value(json_object_get(action, "type"));
	const char *run = json_string_value(json_object_get(action, "run"));
	struct remedy *r = engine_of(d);
	if (!type || strcmp(type, "remedy.run") || !run || !r) {
		buf_addf(err, "approved action of unknown type %s", type ? type : "(none)");
		return OODA_EINTERNAL;
	}
	int rc = remedy_run_approved(r, run, approve, approver, rationale, err);
	if (!rc && approve) {
		buf_adds(out, ",\"run\":");
		buf_add_json_str(out, run, strlen(run));
	}
	return rc;
}

/* ---- triggers ------------------------------------------------------------------ */

static void on_alert(void *ctx, const struct alert_transition *t)
{
	struct daemon *d = ctx;
	struct remedy *r = engine_of(d);
	if (!r || t->to != ALERT_FIRING)
		return;
	struct remedy_trigger tr = { .kind = "alert", .ref = t->fingerprint, .name = t->name, .service = t->service,
				     .severity = alert_severity_name(t->severity), .at_ns = t->at_ns };
	remedy_trigger(r, &tr);
}

/* change's verdict_fn: a failed deploy verification or an aborted rollout. */
static void on_verdict(void *ctx, const char *kind, const char *id, const char *service, const char *env,
		       const char *reason)
{
	(void)env;
	(void)reason;
	struct daemon *d = ctx;
	struct remedy_trigger tr = { .kind = "canary", .ref = id, .name = kind, .service = service,
				     .at_ns = ooda_now_ns() };
	pthread_mutex_lock(&feed_mu);
	struct remedy *r = engine_of(d);
	if (r && id)
		remedy_trigger(r, &tr);
	pthread_mutex_unlock(&feed_mu);
}

void remedy_glue_on_incident(void *ctx, const char *event, const char *incident_json)
{
	struct daemon *d = ctx;
	bool opened = !strcmp(event, "opened");
	if (!opened && strcmp(event, "alert-joined"))
		return;
	json_t *j = json_loads(incident_json, 0, NULL);
	const char *id = json_string_value(json_object_get(j, "id"));
	const char *opened_at = json_string_value(json_object_get(j, "opened_at"));
	int64_t at = 0;
	if (!opened_at || ooda_time_parse(opened_at, strlen(opened_at), &at))
		at = ooda_now_ns();
	json_t *src = json_object_get(j, "source");
	struct remedy_trigger tr = { .kind = "incident", .ref = id, .incident = id,
				     .service = json_string_value(json_object_get(j, "service")),
				     .severity = json_string_value(json_object_get(j, "severity")),
				     .alert = json_string_value(json_object_get(src, "alert")), .at_ns = at };
	pthread_mutex_lock(&feed_mu);
	struct remedy *r = engine_of(d);
	if (id && r && opened)
		remedy_trigger(r, &tr);
	size_t i;
	json_t *fp;
	json_array_foreach(r && id ? json_object_get(j, "alerts") : NULL, i, fp)
		remedy_link_incident(r, json_string_value(fp), id);
	pthread_mutex_unlock(&feed_mu);
	json_decref(j);
}

/* ---- the row ---------------------------------------------------------------------- */

static json_t *section_of(const struct config *cfg, const char *name)
{
	char *text = config_section_json(cfg, name);
	json_t *j = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
	free(text);
	if (json_is_null(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

static int configure(struct daemon *d, struct remedy *r, const struct config *cfg, bool apply, struct buf *changes,
		     struct buf *err)
{
	json_t *p = section_of(cfg, "policies"), *s = section_of(cfg, "remedy");
	int rc = remedy_configure(r, p, s, apply, changes, err);
	json_decref(p);
	json_decref(s);
	if (rc && d->config_path) {
		struct buf tmp = BUF_INIT;
		buf_addf(&tmp, "%s: %s", d->config_path, err->data);
		buf_reset(err);
		buf_adds(err, tmp.data);
		buf_release(&tmp);
	}
	return rc;
}

int remedy_glue_start(struct daemon *d, struct buf *err)
{
	struct remedy_options o = {
		.store = d->store,
		.signer = &d->signer,
		.hooks = { .ctx = d, .notify = hook_notify, .annotate = hook_annotate, .alert_firing = hook_alert_firing,
			   .probe_passing = hook_probe_passing, .deploy_in_progress = hook_deploy_in_progress,
			   .approval_request = hook_approval_request, .approval_decide = hook_approval_decide,
			   .flag_set = hook_flag_set, .flag_restore = hook_flag_restore,
			   .flag_changed = hook_flag_changed,
			   .config_restore = hook_config_restore, .rollback_last = hook_rollback_last,
			   .error_ratio = hook_error_ratio, .slo_budget = hook_slo_budget,
			   .service_probes = hook_service_probes },
	};
	struct remedy *r;
	int rc = remedy_create(&o, &r, err);
	if (rc)
		return rc;
	remedy_set_retention(r, &(struct remedy_retention){ .max_age_ns = d->cfg.runs_max_age_ns,
							    .max_finished = d->cfg.runs_max_finished });
	if ((rc = configure(d, r, &d->cfg, true, NULL, err)) || (rc = remedy_start(r, err))) {
		remedy_destroy(r);
		return rc;
	}
	d->change.perform_ext = perform_remedy;
	d->change.perform_ext_ctx = d;
	d->change.verdict_ctx = d;
	d->change.verdict_fn = on_verdict;
	__atomic_store_n(&d->remedy, r, __ATOMIC_RELEASE);
	return d->alerts ? alerts_subscribe(d->alerts, on_alert, d) : 0;
}

int remedy_glue_reload(struct daemon *d, const struct config *cfg, bool apply, struct buf *changes, struct buf *err)
{
	struct remedy *r = engine_of(d);
	return r ? configure(d, r, cfg, apply, changes, err) : 0;
}

static void tick(void *ctx, int64_t now_ns, const struct alert_sink *sink)
{
	(void)sink;
	remedy_tick(ctx, now_ns);
}

int remedy_glue_add_ticks(struct daemon *d, struct engine *e)
{
	struct remedy *r = engine_of(d);
	return r ? engine_add(e, tick, r) : 0;
}

void remedy_glue_resume(struct daemon *d)
{
	pthread_mutex_lock(&feed_mu); /* the engine cannot go away meanwhile */
	struct remedy *r = engine_of(d);
	if (r && remedy_resume(r))
		log_error("remediation runs cannot be read: the runs under way resume at the next leadership");
	pthread_mutex_unlock(&feed_mu);
}

void remedy_glue_stop(struct daemon *d)
{
	pthread_mutex_lock(&feed_mu);
	struct remedy *r = engine_of(d);
	__atomic_store_n(&d->remedy, NULL, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&feed_mu);
	d->change.perform_ext = NULL;
	d->change.verdict_fn = NULL;
	remedy_destroy(r);
}
