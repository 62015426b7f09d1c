/*
 * The world's lifecycle and shared state (see world.h): start and stop in
 * order, the fault list, the calls to ooda's API, the fault ticker (expiry of
 * `for` faults, OTLP metrics each second) and the flag poller that reads
 * new-pricing over OFREP for the two user plans.
 */
#include "world.h"

#include <jansson.h>

#include "core/error.h"
#include "core/log.h"
#include "core/time.h"
#include "fault.h"
#include "httpc.h"
#include "traceparent.h"

void sim_options_init(struct sim_options *o)
{
	memset(o, 0, sizeof *o);
	o->ooda_url = "http://127.0.0.1:4318";
	o->env = "prod";
	o->base_port = 18400;
	o->rps = 20;
	o->wave_period_s = 600;
	o->job_every_s = 2;
	o->flag_poll_s = 2;
	o->seed = 1;
	o->export_ms = 1000;
}

double world_clock(struct world *w)
{
	return (double)(ooda_now_ns() - w->started_ns) / 1e9;
}

int world_ooda(struct world *w, const char *method, const char *path, const char *body, struct buf *resp,
	       struct buf *err)
{
	char url[1024];
	snprintf(url, sizeof url, "%s%s", w->opt.ooda_url, path);
	char env_hdr[96];
	snprintf(env_hdr, sizeof env_hdr, "X-Ooda-Env: %s", w->opt.env);
	const char *hdr[5] = { "Content-Type: application/json", "X-Ooda-Rationale: ooda-sim", env_hdr,
			       w->auth_header, NULL };
	struct buf rb = BUF_INIT;
	long status = 0;
	int rc = httpc_call(method, url, hdr, body, body ? strlen(body) : 0, 5000, &status, &rb, err);
	if (rc == 0 && (status < 200 || status > 299)) {
		buf_addf(err, "%s %s: ooda answered %ld: %.300s", method, path, status, rb.data);
		rc = status == 404 ? OODA_ENOTFOUND : OODA_EIO;
	}
	if (rc == 0 && resp)
		buf_add(resp, rb.data, rb.len);
	buf_release(&rb);
	return rc;
}

static void resource_json(void *ctx, int svc, struct buf *out)
{
	struct world *w = ctx;
	char version[32];
	pthread_mutex_lock(&w->svc[svc].mu);
	snprintf(version, sizeof version, "%s", w->svc[svc].version);
	pthread_mutex_unlock(&w->svc[svc].mu);
	buf_adds(out, "{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":");
	buf_add_json_str(out, svc_defs[svc].name, strlen(svc_defs[svc].name));
	buf_adds(out, "}},{\"key\":\"service.version\",\"value\":{\"stringValue\":");
	buf_add_json_str(out, version, strlen(version));
	buf_adds(out, "}},{\"key\":\"deployment.environment\",\"value\":{\"stringValue\":");
	buf_add_json_str(out, w->opt.env, strlen(w->opt.env));
	buf_adds(out, "}},{\"key\":\"telemetry.sdk.name\",\"value\":{\"stringValue\":\"ooda-sim\"}}]}");
}

void world_set_version(struct world *w, int svc, const char *version)
{
	struct svc_state *st = &w->svc[svc];
	pthread_mutex_lock(&st->mu);
	if (strcmp(st->version, version) != 0) {
		memcpy(st->prev_version, st->version, sizeof st->version);
		size_t n = strnlen(version, sizeof st->version - 1);
		memmove(st->version, version, n);
		st->version[n] = '\0';
	}
	pthread_mutex_unlock(&st->mu);
	char msg[128];
	snprintf(msg, sizeof msg, "%s now running version %s", svc_defs[svc].name, version);
	world_log(w, svc, 9, msg, NULL, NULL, 0);
}

int64_t sim_crash_wait(int64_t last_crash, int64_t last_wait, int64_t now)
{
	if (!last_crash || now - last_crash >= SIM_CRASH_RESET_S * OODA_NS_PER_SEC)
		return SIM_CRASH_FIRST_S * OODA_NS_PER_SEC;
	int64_t wait = last_wait < SIM_CRASH_BACKOFF_S * OODA_NS_PER_SEC ? SIM_CRASH_BACKOFF_S * OODA_NS_PER_SEC :
									    2 * last_wait;
	return wait > SIM_CRASH_BACKOFF_MAX_S * OODA_NS_PER_SEC ? SIM_CRASH_BACKOFF_MAX_S * OODA_NS_PER_SEC : wait;
}

void world_restart(struct world *w, int svc)
{
	struct svc_state *st = &w->svc[svc];
	pthread_mutex_lock(&st->mu);
	st->mem_bytes = SIM_MEM_BASE;
	st->last_crash = st->crash_backoff = 0; /* a fresh process: its crash loop starts over */
	st->down = false; /* a dead process (dependency-down) comes back; the fault stays listed until cleared */
	st->restarts++;
	st->restarting_until = ooda_now_ns() + OODA_NS_PER_SEC / 2;
	pthread_mutex_unlock(&st->mu);
	world_log(w, svc, 9, "restart requested through /admin/restart", NULL, NULL, 0);
}

void world_job_restart(struct world *w)
{
	pthread_mutex_lock(&w->mu);
	w->job_stopped = false;
	w->job_restarts++;
	pthread_mutex_unlock(&w->mu);
	world_log(w, SVC_RECONCILER, 9, "restart requested through /admin/job/restart", NULL, NULL, 0);
}

/* ---- faults ------------------------------------------------------------ */

static int fault_inject_locked(struct world *w, int def, int svc, int64_t for_ns, struct buf *err)
{
	struct fault f;
	pthread_mutex_lock(&w->mu);
	for (int k = 0; k < w->nfaults; k++) {
		if (w->faults[k].active && w->faults[k].def == def && w->faults[k].svc == svc) {
			pthread_mutex_unlock(&w->mu);
			buf_addf(err, "fault %s is already active on %s (id %d): clear it first", fault_defs[def].name,
				 svc_defs[svc].name, w->faults[k].id);
			return OODA_ECONFLICT;
		}
	}
	if (w->nfaults == SIM_MAX_FAULTS) {
		/* forget the oldest cleared fault to make room */
		int k = 0;
		while (k < w->nfaults && w->faults[k].active)
			k++;
		if (k == w->nfaults) {
			pthread_mutex_unlock(&w->mu);
			buf_addf(err, "%d faults are active: clear some first", SIM_MAX_FAULTS);
			return OODA_ELIMIT;
		}
		memmove(&w->faults[k], &w->faults[k + 1], (size_t)(w->nfaults - k - 1) * sizeof w->faults[0]);
		w->nfaults--;
	}
	pthread_mutex_unlock(&w->mu);

	memset(&f, 0, sizeof f);
	f.def = def;
	f.svc = svc;
	f.started_ns = ooda_now_ns();
	f.until_ns = for_ns > 0 ? f.started_ns + for_ns : 0;
	f.active = true;
	int rc = fault_defs[def].apply(w, &f, err);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&w->mu);
	f.id = ++w->next_fault_id;
	w->faults[w->nfaults++] = f;
	pthread_mutex_unlock(&w->mu);
	char msg[256];
	snprintf(msg, sizeof msg, "ooda-sim: fault %s injected on %s (id %d)", fault_defs[def].name,
		 svc_defs[svc].name, f.id);
	ooda_logf(LOG_INFO, NULL, "%s", msg);
	return f.id;
}

int world_fault_inject(struct world *w, int def, int svc, int64_t for_ns, struct buf *err)
{
	pthread_mutex_lock(&w->fault_mu);
	int rc = fault_inject_locked(w, def, svc, for_ns, err);
	pthread_mutex_unlock(&w->fault_mu);
	return rc;
}

static int fault_clear_locked(struct world *w, int id, struct buf *err)
{
	struct fault f;
	int k;
	pthread_mutex_lock(&w->mu);
	for (k = 0; k < w->nfaults; k++)
		if (w->faults[k].id == id && w->faults[k].active)
			break;
	if (k == w->nfaults) {
		pthread_mutex_unlock(&w->mu);
		buf_addf(err, "no active fault with id %d", id);
		return OODA_ENOTFOUND;
	}
	w->faults[k].active = false; /* claimed: a second clear finds nothing */
	f = w->faults[k];
	pthread_mutex_unlock(&w->mu);
	fault_defs[f.def].clear(w, &f);
	pthread_mutex_lock(&w->mu);
	for (k = 0; k < w->nfaults; k++)
		if (w->faults[k].id == id)
			w->faults[k].cleared_ns = ooda_now_ns();
	pthread_mutex_unlock(&w->mu);
	ooda_logf(LOG_INFO, NULL, "ooda-sim: fault %s on %s cleared (id %d)", fault_defs[f.def].name,
		  svc_defs[f.svc].name, id);
	return 0;
}

int world_fault_clear(struct world *w, int id, struct buf *err)
{
	pthread_mutex_lock(&w->fault_mu);
	int rc = fault_clear_locked(w, id, err);
	pthread_mutex_unlock(&w->fault_mu);
	return rc;
}

static void time_json(struct buf *out, const char *key, int64_t ns)
{
	char t[40];
	if (ns)
		buf_addf(out, ",\"%s\":\"%s\"", key, ooda_time_format(ns, t, sizeof t));
	else
		buf_addf(out, ",\"%s\":null", key);
}

void world_faults_json(struct world *w, struct buf *out)
{
	pthread_mutex_lock(&w->mu);
	buf_adds(out, "[");
	for (int k = 0; k < w->nfaults; k++) {
		const struct fault *f = &w->faults[k];
		buf_addf(out, "%s{\"id\":%d,\"name\":\"%s\",\"service\":\"%s\",\"active\":%s", k ? "," : "", f->id,
			 fault_defs[f->def].name, svc_defs[f->svc].name, f->active ? "true" : "false");
		time_json(out, "started", f->started_ns);
		time_json(out, "until", f->until_ns);
		time_json(out, "cleared", f->cleared_ns);
		buf_adds(out, ",\"detail\":");
		buf_add_json_str(out, f->detail, strlen(f->detail));
		buf_addf(out, ",\"expected_root_cause\":{\"kind\":\"%s\",\"service\":", fault_defs[f->def].expected_kind);
		if (strcmp(fault_defs[f->def].expected_kind, "none") == 0)
			buf_adds(out, "null}}");
		else
			buf_addf(out, "\"%s\"}}", svc_defs[f->svc].name);
	}
	buf_adds(out, "]");
	pthread_mutex_unlock(&w->mu);
}

void world_state_json(struct world *w, struct buf *out)
{
	int64_t now = ooda_now_ns();
	buf_addf(out, "{\"uptime_s\":%.1f,\"ooda\":", world_clock(w));
	buf_add_json_str(out, w->opt.ooda_url, strlen(w->opt.ooda_url));
	buf_addf(out, ",\"control_port\":%d,\"services\":{", w->control.port);
	for (int i = 0; i < SVC_COUNT; i++) {
		struct svc_state *st = &w->svc[i];
		pthread_mutex_lock(&st->mu);
		buf_addf(out, "%s\"%s\":{\"port\":%d,\"version\":", i ? "," : "", svc_defs[i].name,
			 i < SVC_SERVERS ? st->http.port : 0);
		buf_add_json_str(out, st->version, strlen(st->version));
		buf_adds(out, ",\"previous_version\":");
		buf_add_json_str(out, st->prev_version, strlen(st->prev_version));
		buf_addf(out, ",\"up\":%s,\"latency_multiplier\":%g,\"shed_ratio\":%g,\"memory_bytes\":%.0f,"
			      "\"restarts\":%llu,\"requests_ok\":%llu,\"requests_failed\":%llu}",
			 !st->down && now >= st->restarting_until ? "true" : "false", st->latency_mult, st->shed_ratio,
			 st->mem_bytes, (unsigned long long)st->restarts, (unsigned long long)st->req_ok,
			 (unsigned long long)st->req_err);
		pthread_mutex_unlock(&st->mu);
	}
	pthread_mutex_lock(&w->mu);
	buf_addf(out, "},\"load\":{\"rps\":%g,\"multiplier\":%g,\"current_rate\":%.2f,\"sent\":%llu,\"failed\":%llu},",
		 w->wave.rps, w->wave.multiplier, wave_rate(&w->wave, world_clock(w)), (unsigned long long)w->load_sent,
		 (unsigned long long)w->load_failed);
	buf_addf(out, "\"job\":{\"heartbeat\":\"%s\",\"stopped\":%s,\"runs\":%llu,\"pings\":%llu,\"ping_errors\":%llu,"
		 "\"restarts\":%llu},",
		 SIM_HEARTBEAT, w->job_stopped ? "true" : "false", (unsigned long long)w->job_runs,
		 (unsigned long long)w->job_pings, (unsigned long long)w->job_ping_errors,
		 (unsigned long long)w->job_restarts);
	buf_addf(out, "\"flags\":{\"%s\":{\"free\":%s,\"pro\":%s},\"polls\":%llu,\"errors\":%llu},", SIM_FLAG_KEY,
		 w->flag_on[0] ? "true" : "false", w->flag_on[1] ? "true" : "false",
		 (unsigned long long)w->flag_polls, (unsigned long long)w->flag_errors);
	pthread_mutex_unlock(&w->mu);
	struct exporter_stats es;
	exporter_get_stats(w->exp, &es);
	buf_addf(out, "\"export\":{\"spans\":%llu,\"logs\":%llu,\"metrics\":%llu,\"dropped\":%llu,\"failed_posts\":%llu},",
		 (unsigned long long)es.exported[SIG_TRACES], (unsigned long long)es.exported[SIG_LOGS],
		 (unsigned long long)es.exported[SIG_METRICS], (unsigned long long)es.dropped,
		 (unsigned long long)es.failed_posts);
	buf_adds(out, "\"faults\":");
	world_faults_json(w, out);
	buf_adds(out, "}");
}

/* ---- background threads -------------------------------------------------- */

/* Waits up to seconds or until the world stops; returns false when it stopped. */
static bool world_wait(struct world *w, double seconds)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t ns = (int64_t)ts.tv_nsec + (int64_t)(seconds * 1e9);
	ts.tv_sec += (time_t)(ns / 1000000000);
	ts.tv_nsec = (long)(ns % 1000000000);
	pthread_mutex_lock(&w->stop_mu);
	if (w->running)
		pthread_cond_timedwait(&w->stop_cv, &w->stop_mu, &ts);
	bool run = w->running;
	pthread_mutex_unlock(&w->stop_mu);
	return run;
}

/* The exporter's collect hook: the metric points of every server, read as they are now. */
static void emit_metrics(void *ctx)
{
	struct world *w = ctx;
	int64_t now = ooda_now_ns();
	for (int i = 0; i < SVC_SERVERS; i++) {
		struct svc_state *st = &w->svc[i];
		struct buf b = BUF_INIT;
		pthread_mutex_lock(&st->mu);
		double mem = st->mem_bytes;
		unsigned long long ok = st->req_ok, bad = st->req_err;
		pthread_mutex_unlock(&st->mu);
		buf_addf(&b, "{\"name\":\"process.memory.usage\",\"unit\":\"By\",\"gauge\":{\"dataPoints\":[{"
			     "\"timeUnixNano\":\"%lld\",\"asDouble\":%.0f}]}}", (long long)now, mem);
		exporter_add(w->exp, SIG_METRICS, i, b.data, b.len);
		buf_reset(&b);
		buf_addf(&b, "{\"name\":\"sim.requests\",\"unit\":\"{request}\",\"sum\":{\"aggregationTemporality\":2,"
			     "\"isMonotonic\":true,\"dataPoints\":["
			     "{\"startTimeUnixNano\":\"%lld\",\"timeUnixNano\":\"%lld\",\"asInt\":\"%llu\","
			     "\"attributes\":[{\"key\":\"outcome\",\"value\":{\"stringValue\":\"ok\"}}]},"
			     "{\"startTimeUnixNano\":\"%lld\",\"timeUnixNano\":\"%lld\",\"asInt\":\"%llu\","
			     "\"attributes\":[{\"key\":\"outcome\",\"value\":{\"stringValue\":\"error\"}}]}]}}",
			 (long long)w->started_ns, (long long)now, ok, (long long)w->started_ns, (long long)now, bad);
		exporter_add(w->exp, SIG_METRICS, i, b.data, b.len);
		buf_release(&b);
	}
}

static void *tick_main(void *arg)
{
	struct world *w = arg;
	while (world_wait(w, 0.2)) {
		int64_t now = ooda_now_ns();
		int expired[SIM_MAX_FAULTS], ne = 0;
		pthread_mutex_lock(&w->mu);
		for (int k = 0; k < w->nfaults; k++)
			if (w->faults[k].active && w->faults[k].until_ns && now >= w->faults[k].until_ns)
				expired[ne++] = w->faults[k].id;
		pthread_mutex_unlock(&w->mu);
		for (int k = 0; k < ne; k++) {
			struct buf err = BUF_INIT;
			world_fault_clear(w, expired[k], &err);
			buf_release(&err);
		}
	}
	return NULL;
}

static const char flag_healthy[] =
	"{\"state\":\"ENABLED\",\"variants\":{\"on\":true,\"off\":false},\"defaultVariant\":\"off\","
	"\"metadata\":{\"service\":\"checkout\",\"owner\":\"ooda-sim\"}}";

static void poll_flags(struct world *w)
{
	static const char *const plans[2] = { "free", "pro" };
	for (int p = 0; p < 2; p++) {
		char body[160];
		snprintf(body, sizeof body, "{\"context\":{\"targetingKey\":\"sim-%s\",\"plan\":\"%s\"}}", plans[p],
			 plans[p]);
		struct buf resp = BUF_INIT, err = BUF_INIT;
		int rc = world_ooda(w, "POST", "/ofrep/v1/evaluate/flags/" SIM_FLAG_KEY, body, &resp, &err);
		json_t *j = rc == 0 ? json_loadb(resp.data, resp.len, 0, NULL) : NULL;
		json_t *v = json_object_get(j, "value");
		pthread_mutex_lock(&w->mu);
		w->flag_polls++;
		if (json_is_boolean(v))
			w->flag_on[p] = json_is_true(v);
		else if (j && !v && !json_object_get(j, "errorCode"))
			w->flag_on[p] = false; /* a success without a value (DISABLED): the code's default, off */
		else
			w->flag_errors++; /* keep the last value, as an OFREP provider's cache does */
		pthread_mutex_unlock(&w->mu);
		json_decref(j);
		buf_release(&resp);
		buf_release(&err);
	}
}

static void *flag_main(void *arg)
{
	struct world *w = arg;
	struct buf err = BUF_INIT;
	char path[128];
	snprintf(path, sizeof path, "/api/v1/flags/%s?env=%s", SIM_FLAG_KEY, w->opt.env);
	if (world_ooda(w, "GET", path, NULL, NULL, &err) == OODA_ENOTFOUND) {
		buf_reset(&err);
		if (world_ooda(w, "PUT", path, flag_healthy, NULL, &err) < 0)
			ooda_logf(LOG_WARN, NULL, "ooda-sim: cannot create flag %s: %s", SIM_FLAG_KEY, err.data);
	}
	buf_release(&err);
	do
		poll_flags(w);
	while (world_wait(w, w->opt.flag_poll_s));
	return NULL;
}

const char *world_flag_healthy(void)
{
	return flag_healthy;
}

static int write_ports(struct world *w, struct buf *err)
{
	struct buf b = BUF_INIT;
	buf_addf(&b, "{\"control\":%d,\"ooda\":", w->control.port);
	buf_add_json_str(&b, w->opt.ooda_url, strlen(w->opt.ooda_url));
	buf_adds(&b, ",\"services\":{");
	for (int i = 0; i < SVC_SERVERS; i++)
		buf_addf(&b, "%s\"%s\":%d", i ? "," : "", svc_defs[i].name, w->svc[i].http.port);
	buf_adds(&b, "}}\n");
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp", w->opt.ports_file);
	FILE *f = fopen(tmp, "w");
	int rc = 0;
	if (!f || fwrite(b.data, 1, b.len, f) != b.len) {
		buf_addf(err, "cannot write %s", tmp);
		rc = OODA_EIO;
	}
	if (f && fclose(f) != 0 && rc == 0) {
		buf_addf(err, "cannot write %s", tmp);
		rc = OODA_EIO;
	}
	if (rc == 0 && rename(tmp, w->opt.ports_file) != 0) {
		buf_addf(err, "cannot rename %s to %s", tmp, w->opt.ports_file);
		rc = OODA_EIO;
	}
	buf_release(&b);
	return rc;
}

struct world *world_start(const struct sim_options *opt, struct buf *err)
{
	struct world *w = xcalloc(1, sizeof *w);
	w->opt = *opt;
	w->started_ns = ooda_now_ns();
	pthread_mutex_init(&w->mu, NULL);
	pthread_mutex_init(&w->fault_mu, NULL);
	pthread_mutex_init(&w->stop_mu, NULL);
	pthread_cond_init(&w->stop_cv, NULL);
	w->running = 1;
	if (opt->token && *opt->token) {
		struct buf a = BUF_INIT;
		buf_addf(&a, "Authorization: Bearer %s", opt->token);
		w->auth_header = buf_detach(&a, NULL);
	}
	wave_init(&w->wave, opt->rps);
	w->wave.period_s = opt->wave_period_s > 0 ? opt->wave_period_s : 600;
	w->load_rng = opt->seed * 7919 + 1;
	for (int i = 0; i < SVC_COUNT; i++) {
		struct svc_state *st = &w->svc[i];
		st->w = w;
		st->idx = i;
		pthread_mutex_init(&st->mu, NULL);
		snprintf(st->version, sizeof st->version, "%s", svc_defs[i].version);
		st->latency_mult = 1;
		st->mem_bytes = SIM_MEM_BASE;
		st->rng = opt->seed * 1000003 + (uint64_t)i * 7 + 1;
	}
	w->exp = exporter_create(opt->ooda_url, opt->token, 16u << 20, SVC_COUNT, opt->export_ms, resource_json, w,
				 err);
	if (!w->exp)
		goto fail;
	exporter_on_collect(w->exp, emit_metrics, w);
	if (control_start(w, opt->base_port, err) < 0)
		goto fail;
	for (int i = 0; i < SVC_SERVERS; i++)
		if (service_start(w, i, opt->base_port ? opt->base_port + 1 + i : 0, err) < 0)
			goto fail;
	if (opt->ports_file && write_ports(w, err) < 0)
		goto fail;
	w->flag_started = pthread_create(&w->flag_thread, NULL, flag_main, w) == 0;
	w->tick_started = pthread_create(&w->tick_thread, NULL, tick_main, w) == 0;
	if (!w->flag_started || !w->tick_started || load_start(w, err) < 0) {
		buf_adds(err, "cannot start the simulator's threads");
		goto fail;
	}
	return w;
fail:
	world_stop(w);
	return NULL;
}

void world_stop(struct world *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->stop_mu);
	w->running = 0;
	pthread_cond_broadcast(&w->stop_cv);
	pthread_mutex_unlock(&w->stop_mu);
	load_stop(w);
	if (w->flag_started)
		pthread_join(w->flag_thread, NULL);
	if (w->tick_started)
		pthread_join(w->tick_thread, NULL);
	control_stop(w);
	for (int i = 0; i < SVC_SERVERS; i++)
		service_stop(w, i);
	exporter_destroy(w->exp);
	for (int i = 0; i < SVC_COUNT; i++)
		pthread_mutex_destroy(&w->svc[i].mu);
	pthread_mutex_destroy(&w->mu);
	pthread_mutex_destroy(&w->fault_mu);
	pthread_mutex_destroy(&w->stop_mu);
	pthread_cond_destroy(&w->stop_cv);
	free(w->auth_header);
	free(w);
}
