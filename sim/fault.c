/*
 * The fault catalogue (see fault.h): each row's apply and clear act on the
 * running world the way the real incident would — a deploy recorded in ooda
 * then a failing release, a flag changed through ooda's flag API, a config
 * version put through ooda's config API — so the evidence ooda needs to find
 * the root cause is there, and nothing else is.
 */
#include "fault.h"

#include <jansson.h>

#include "core/error.h"
#include "core/log.h"
#include "core/time.h"
#include "traceparent.h"
#include "world.h"

#define SEC (INT64_C(1000000000))

static int need_server(const struct fault *f, const char *name, struct buf *err)
{
	if (f->svc >= SVC_SERVERS) {
		buf_addf(err, "service: %s needs a service with a server, not %s", name, svc_defs[f->svc].name);
		return OODA_EINVAL;
	}
	return 0;
}

/* ---- bad-deploy ---------------------------------------------------------- */

static void next_version(const char *v, char *out, size_t size)
{
	unsigned a = 0, b = 0, c = 0;
	if (sscanf(v, "%u.%u.%u", &a, &b, &c) >= 2)
		snprintf(out, size, "%u.%u.0", a, b + 1);
	else
		snprintf(out, size, "%.20s-2", v);
}

static int record_deploy(struct world *w, int svc, const char *version, const char *note, char *id, size_t id_size,
			 struct buf *err)
{
	struct buf body = BUF_INIT, resp = BUF_INIT;
	buf_adds(&body, "{\"service\":");
	buf_add_json_str(&body, svc_defs[svc].name, strlen(svc_defs[svc].name));
	buf_adds(&body, ",\"env\":");
	buf_add_json_str(&body, w->opt.env, strlen(w->opt.env));
	buf_adds(&body, ",\"version\":");
	buf_add_json_str(&body, version, strlen(version));
	buf_addf(&body, ",\"artifact\":\"registry.local/%s:%s\",\"actor\":\"ooda-sim\",\"note\":", svc_defs[svc].name,
		 version);
	buf_add_json_str(&body, note, strlen(note));
	buf_adds(&body, "}");
	int rc = world_ooda(w, "POST", "/api/v1/deploys", body.data, &resp, err);
	if (rc == 0 && id) {
		json_t *j = json_loadb(resp.data, resp.len, 0, NULL);
		snprintf(id, id_size, "%s", json_string_value(json_object_get(j, "id")) ?: "");
		json_decref(j);
	}
	buf_release(&body);
	buf_release(&resp);
	return rc;
}

static int bad_deploy_apply(struct world *w, struct fault *f, struct buf *err)
{
	if (need_server(f, "bad-deploy", err) < 0)
		return OODA_EINVAL;
	struct svc_state *st = &w->svc[f->svc];
	char cur[32], next[32], id[64] = "";
	pthread_mutex_lock(&st->mu);
	snprintf(cur, sizeof cur, "%s", st->version);
	pthread_mutex_unlock(&st->mu);
	next_version(cur, next, sizeof next);
	int rc = record_deploy(w, f->svc, next, "ooda-sim: new release", id, sizeof id, err);
	if (rc < 0)
		return rc;
	world_set_version(w, f->svc, next);
	pthread_mutex_lock(&st->mu);
	snprintf(st->bad_version, sizeof st->bad_version, "%s", next);
	st->bad_ratio = 0.1 + 0.2 * sim_rand01(&st->rng);
	snprintf(f->detail, sizeof f->detail, "deploy %s: %s %s -> %s, failing %.0f%% of requests", id,
		 svc_defs[f->svc].name, cur, next, st->bad_ratio * 100);
	pthread_mutex_unlock(&st->mu);
	snprintf(f->saved, sizeof f->saved, "%s", cur);
	return 0;
}

static void bad_deploy_clear(struct world *w, struct fault *f)
{
	struct svc_state *st = &w->svc[f->svc];
	pthread_mutex_lock(&st->mu);
	bool still_bad = strcmp(st->version, st->bad_version) == 0;
	st->bad_version[0] = '\0';
	st->bad_ratio = 0;
	pthread_mutex_unlock(&st->mu);
	if (!still_bad)
		return; /* already rolled back (admin endpoint or ooda's redeploy hook) */
	struct buf err = BUF_INIT;
	if (record_deploy(w, f->svc, f->saved, "ooda-sim: roll back the failing release", NULL, 0, &err) < 0)
		ooda_logf(LOG_WARN, NULL, "ooda-sim: rollback deploy not recorded: %s", err.data);
	buf_release(&err);
	world_set_version(w, f->svc, f->saved);
}

/* ---- the knobs on one service ------------------------------------------- */

static int slow_apply(struct world *w, struct fault *f, struct buf *err)
{
	if (need_server(f, "slow-dependency", err) < 0)
		return OODA_EINVAL;
	pthread_mutex_lock(&w->svc[f->svc].mu);
	w->svc[f->svc].latency_mult = 10;
	pthread_mutex_unlock(&w->svc[f->svc].mu);
	snprintf(f->detail, sizeof f->detail, "%s latency x10", svc_defs[f->svc].name);
	return 0;
}

static void slow_clear(struct world *w, struct fault *f)
{
	pthread_mutex_lock(&w->svc[f->svc].mu);
	w->svc[f->svc].latency_mult = 1;
	pthread_mutex_unlock(&w->svc[f->svc].mu);
}

static int down_apply(struct world *w, struct fault *f, struct buf *err)
{
	if (need_server(f, "dependency-down", err) < 0)
		return OODA_EINVAL;
	pthread_mutex_lock(&w->svc[f->svc].mu);
	w->svc[f->svc].down = true;
	pthread_mutex_unlock(&w->svc[f->svc].mu);
	snprintf(f->detail, sizeof f->detail, "%s answers 503 to everything, /healthz included", svc_defs[f->svc].name);
	return 0;
}

static void down_clear(struct world *w, struct fault *f)
{
	pthread_mutex_lock(&w->svc[f->svc].mu);
	w->svc[f->svc].down = false;
	pthread_mutex_unlock(&w->svc[f->svc].mu);
}

static int leak_apply(struct world *w, struct fault *f, struct buf *err)
{
	if (need_server(f, "memory-leak", err) < 0)
		return OODA_EINVAL;
	pthread_mutex_lock(&w->svc[f->svc].mu);
	/* at the default load the limit is reached in about 30 s, then again after each restart */
	w->svc[f->svc].leak_per_req = (SIM_MEM_LIMIT - SIM_MEM_BASE) / (w->opt.rps > 0 ? w->opt.rps * 30 : 600);
	pthread_mutex_unlock(&w->svc[f->svc].mu);
	snprintf(f->detail, sizeof f->detail, "%s leaks memory on every request: latency creeps up, then OOM restarts",
		 svc_defs[f->svc].name);
	return 0;
}

static void leak_clear(struct world *w, struct fault *f)
{
	pthread_mutex_lock(&w->svc[f->svc].mu);
	w->svc[f->svc].leak_per_req = 0;
	w->svc[f->svc].mem_bytes = SIM_MEM_BASE;
	w->svc[f->svc].last_crash = w->svc[f->svc].crash_backoff = 0;
	pthread_mutex_unlock(&w->svc[f->svc].mu);
}

/* ---- flag-misconfig and config-shed: changes made through ooda ------------ */

static const char flag_broken[] =
	"{\"state\":\"ENABLED\",\"variants\":{\"on\":true,\"off\":false},\"defaultVariant\":\"off\","
	"\"targeting\":{\"if\":[{\"==\":[{\"var\":\"plan\"},\"free\"]},\"on\",\"off\"]},"
	"\"metadata\":{\"service\":\"checkout\",\"owner\":\"ooda-sim\"}}";

static int put_flag(struct world *w, const char *def, struct buf *err)
{
	char path[128];
	snprintf(path, sizeof path, "/api/v1/flags/%s?env=%s", SIM_FLAG_KEY, w->opt.env);
	return world_ooda(w, "PUT", path, def, NULL, err);
}

static int flag_apply(struct world *w, struct fault *f, struct buf *err)
{
	if (f->svc != SVC_CHECKOUT) {
		buf_adds(err, "service: flag-misconfig applies to checkout, the service that reads " SIM_FLAG_KEY);
		return OODA_EINVAL;
	}
	int rc = put_flag(w, flag_broken, err);
	if (rc < 0)
		return rc;
	snprintf(f->detail, sizeof f->detail,
		 "flag %s turned on for plan=free (30%% of users): checkout's pricing path fails for them", SIM_FLAG_KEY);
	return 0;
}

static void flag_clear(struct world *w, struct fault *f)
{
	struct buf err = BUF_INIT;
	if (put_flag(w, world_flag_healthy(), &err) < 0)
		ooda_logf(LOG_WARN, NULL, "ooda-sim: flag %s not restored: %s", SIM_FLAG_KEY, err.data);
	buf_release(&err);
	pthread_mutex_lock(&w->mu);
	w->flag_on[0] = w->flag_on[1] = false; /* as the next poll will say */
	pthread_mutex_unlock(&w->mu);
}

static int put_shed_config(struct world *w, int svc, double ratio, struct buf *err)
{
	char path[160], body[128];
	snprintf(path, sizeof path, "/api/v1/configs/%s/%s", svc_defs[svc].name, w->opt.env);
	snprintf(body, sizeof body, "{\"admission\":{\"shed_ratio\":%.2f,\"max_inflight\":%d}}", ratio,
		 ratio > 0.3 ? 8 : 200);
	return world_ooda(w, "PUT", path, body, NULL, err);
}

static int shed_apply(struct world *w, struct fault *f, struct buf *err)
{
	if (need_server(f, "config-shed", err) < 0)
		return OODA_EINVAL;
	int rc = put_shed_config(w, f->svc, 0.6, err);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&w->svc[f->svc].mu);
	w->svc[f->svc].shed_ratio = 0.6;
	pthread_mutex_unlock(&w->svc[f->svc].mu);
	snprintf(f->detail, sizeof f->detail, "config of %s/%s: admission.shed_ratio 0.6, 60%% of requests shed",
		 svc_defs[f->svc].name, w->opt.env);
	return 0;
}

static void shed_clear(struct world *w, struct fault *f)
{
	struct buf err = BUF_INIT;
	if (put_shed_config(w, f->svc, 0, &err) < 0)
		ooda_logf(LOG_WARN, NULL, "ooda-sim: config of %s not restored: %s", svc_defs[f->svc].name, err.data);
	buf_release(&err);
	pthread_mutex_lock(&w->svc[f->svc].mu);
	w->svc[f->svc].shed_ratio = 0;
	pthread_mutex_unlock(&w->svc[f->svc].mu);
}

/* ---- the job, the load, the noise ---------------------------------------- */

static int job_apply(struct world *w, struct fault *f, struct buf *err)
{
	if (f->svc != SVC_RECONCILER) {
		buf_adds(err, "service: job-stopped applies to reconciler, the background job");
		return OODA_EINVAL;
	}
	pthread_mutex_lock(&w->mu);
	w->job_stopped = true;
	pthread_mutex_unlock(&w->mu);
	snprintf(f->detail, sizeof f->detail, "reconciler stops running and pinging heartbeat %s, silently",
		 SIM_HEARTBEAT);
	return 0;
}

static void job_clear(struct world *w, struct fault *f)
{
	pthread_mutex_lock(&w->mu);
	w->job_stopped = false;
	pthread_mutex_unlock(&w->mu);
}

static int spike_apply(struct world *w, struct fault *f, struct buf *err)
{
	pthread_mutex_lock(&w->mu);
	w->wave.multiplier = 5;
	pthread_mutex_unlock(&w->mu);
	snprintf(f->detail, sizeof f->detail, "load x5 on the frontend; every service healthy");
	return 0;
}

static void spike_clear(struct world *w, struct fault *f)
{
	pthread_mutex_lock(&w->mu);
	w->wave.multiplier = 1;
	pthread_mutex_unlock(&w->mu);
}

static int noise_apply(struct world *w, struct fault *f, struct buf *err)
{
	if (need_server(f, "noise", err) < 0)
		return OODA_EINVAL;
	pthread_mutex_lock(&w->svc[f->svc].mu);
	w->svc[f->svc].noise_ratio = 0.05;
	w->svc[f->svc].latency_mult = 1.5;
	pthread_mutex_unlock(&w->svc[f->svc].mu);
	snprintf(f->detail, sizeof f->detail, "a blip on %s: 5%% errors and 1.5x latency, then normal jitter",
		 svc_defs[f->svc].name);
	return 0;
}

/* A bad deploy's failure (the same 10-30 % of requests) that ends by itself within the
 * blip length: what a restart or a network hiccup looks like, and what a detector that
 * tells a blip from a fault must never page on, however strong. */
static int blip_apply(struct world *w, struct fault *f, struct buf *err)
{
	if (need_server(f, "blip", err) < 0)
		return OODA_EINVAL;
	struct svc_state *st = &w->svc[f->svc];
	pthread_mutex_lock(&st->mu);
	st->noise_ratio = 0.1 + 0.2 * sim_rand01(&st->rng);
	snprintf(f->detail, sizeof f->detail, "a blip on %s: %.0f%% of requests fail, then nothing",
		 svc_defs[f->svc].name, st->noise_ratio * 100);
	pthread_mutex_unlock(&st->mu);
	return 0;
}

static void noise_clear(struct world *w, struct fault *f)
{
	pthread_mutex_lock(&w->svc[f->svc].mu);
	w->svc[f->svc].noise_ratio = 0;
	w->svc[f->svc].latency_mult = 1;
	pthread_mutex_unlock(&w->svc[f->svc].mu);
}

const struct fault_def fault_defs[] = {
	{ "bad-deploy", "a deploy event, then the new version fails 10-30% of requests", SVC_PAYMENTS, "deploy",
	  "the deploy of a new %s version", "cause", 0, bad_deploy_apply, bad_deploy_clear },
	{ "slow-dependency", "the service's latency x10 (its callers slow down with it)", SVC_DATABASE, "latency",
	  "%s is slow", "cause", 0, slow_apply, slow_clear },
	{ "dependency-down", "the service answers 503 to everything; its callers fail", SVC_INVENTORY, "down",
	  "%s is down", "cause", 0, down_apply, down_clear },
	{ "memory-leak", "memory grows per request: latency creeps up, then a crash loop of OOM restarts",
	  SVC_CHECKOUT, "resource", "%s leaks memory", "cause", 0, leak_apply, leak_clear },
	{ "flag-misconfig", "flag new-pricing changed in ooda: on for plan=free, whose checkout path then fails",
	  SVC_CHECKOUT, "flag", "the change of flag new-pricing read by %s", "cause", 0, flag_apply, flag_clear },
	{ "config-shed", "a config version of the service in ooda that sheds 60% of requests", SVC_FRONTEND, "config",
	  "the config change of %s (admission.shed_ratio)", "cause", 0, shed_apply, shed_clear },
	{ "job-stopped", "the background job stops, silently: no runs, no heartbeat pings", SVC_RECONCILER,
	  "heartbeat", "%s stopped running", "cause", 0, job_apply, job_clear },
	{ "traffic-spike", "load x5; no service is faulty (must not be blamed on one)", SVC_FRONTEND, "none",
	  "more traffic, no fault", "unblamed", 0, spike_apply, spike_clear },
	{ "noise", "a 2-second blip and normal jitter; must open nothing", SVC_FRONTEND, "none",
	  "nothing: noise", "none", 2 * SEC, noise_apply, noise_clear },
	{ "blip", "a 2-second burst of failures as strong as a bad deploy's (10-30%), gone by itself; must open nothing",
	  SVC_PAYMENTS, "none", "nothing: a blip", "none", 2 * SEC, blip_apply, noise_clear },
};

const int fault_def_count = (int)(sizeof fault_defs / sizeof fault_defs[0]);

int fault_find(const char *name)
{
	for (int i = 0; name && i < fault_def_count; i++)
		if (strcmp(fault_defs[i].name, name) == 0)
			return i;
	return -1;
}

void fault_catalogue_json(struct buf *out)
{
	buf_adds(out, "[");
	for (int i = 0; i < fault_def_count; i++) {
		const struct fault_def *d = &fault_defs[i];
		char text[160], dur[32];
		snprintf(text, sizeof text, d->root_cause, svc_defs[d->default_svc].name);
		buf_addf(out, "%s{\"name\":\"%s\",\"description\":", i ? "," : "", d->name);
		buf_add_json_str(out, d->description, strlen(d->description));
		buf_addf(out, ",\"default_service\":\"%s\",\"default_for\":", svc_defs[d->default_svc].name);
		if (d->default_for_ns)
			buf_addf(out, "\"%s\"", ooda_duration_format(d->default_for_ns, dur, sizeof dur));
		else
			buf_adds(out, "null");
		buf_addf(out, ",\"expected_root_cause\":{\"kind\":\"%s\",\"service\":", d->expected_kind);
		if (strcmp(d->expected_kind, "none") == 0)
			buf_adds(out, "null");
		else
			buf_addf(out, "\"%s\"", svc_defs[d->default_svc].name);
		buf_adds(out, ",\"text\":");
		buf_add_json_str(out, text, strlen(text));
		buf_addf(out, "},\"expected_incident\":\"%s\"}", d->expected_incident);
	}
	buf_adds(out, "]");
}
