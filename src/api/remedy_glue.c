/*
 * The remedy stage's glue (remedy_glue.h): the hooks the engine calls,
 * each a thin adapter over another stage's public functions, and the two
 * trigger feeds. Nothing here decides anything; the engine does.
 */
#include "api/remedy_glue.h"
#include "core/error.h"
#include "core/log.h"
#include "core/time.h"
#include "remedy/remedy.h"

#include <pthread.h>
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

static int hook_probe_passing(void *ctx, const char *service, const char *name, bool *passing)
{
	struct daemon *d = ctx;
	struct buf out = BUF_INIT, err = BUF_INIT;
	int rc = d->prober ? prober_json(d->prober, service, name, &out, &err) : OODA_EUNAVAIL;
	if (!rc) {
		json_t *j = json_loads(out.data, 0, NULL);
		const char *st = json_string_value(json_object_get(j, "state"));
		*passing = st && !strcmp(st, "passing");
		json_decref(j);
	}
	buf_release(&out);
	buf_release(&err);
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
			   .approval_request = hook_approval_request, .approval_decide = hook_approval_decide },
	};
	struct remedy *r;
	int rc = remedy_create(&o, &r, err);
	if (rc)
		return rc;
	if ((rc = configure(d, r, &d->cfg, true, NULL, err)) || (rc = remedy_start(r, err))) {
		remedy_destroy(r);
		return rc;
	}
	d->change.perform_ext = perform_remedy;
	d->change.perform_ext_ctx = d;
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
	remedy_destroy(r);
}
