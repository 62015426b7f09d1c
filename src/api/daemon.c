/*
 * `ooda serve`: loads the config, refuses unsafe binds, opens the store,
 * starts HTTP, then waits for signals on the main thread — SIGHUP reloads
 * ooda.yaml, SIGTERM and SIGINT drain in-flight requests, save the log
 * pattern miners and close the store so nothing is left half-written.
 */
#include "api/daemon.h"
#include "core/error.h"
#include "core/log.h"
#include "core/time.h"

#include <jansson.h>

#include <signal.h>

static int authenticate(void *app, const char *token, struct principal *who, struct buf *err)
{
	struct daemon *d = app;
	return auth_check(d->auth, token, who, err);
}

static bool tokens_required(void *app)
{
	struct daemon *d = app;
	return auth_active_tokens(d->auth) > 0;
}

/* Which stage checks which section of ooda.yaml. */
static const struct {
	const char *section;
	config_check_fn *check;
} config_checks[] = {
	{ "services", probe_config_check },     { "heartbeats", heartbeat_config_check },
	{ "slos", slo_config_check },           { "alerts", rules_config_check },
	{ "anomalies", watches_config_check },  { "deploy", change_deploy_check },
	{ "approvals", change_approvals_check },
};

void daemon_register_config_checks(void)
{
	for (size_t i = 0; i < sizeof(config_checks) / sizeof(config_checks[0]); i++)
		if (config_register_check(config_checks[i].section, config_checks[i].check))
			abort(); /* the table above and the schema in core/config.c disagree: a build error */
}

/* Writer thread, after a batch is durable: feed live signals. */
static void publish_live(void *ctx, const struct telemetry_batch *b)
{
	struct daemon *d = ctx;
	live_publish(d->live, b);
	logclass_observe(d->logclass, b);
}

static int replay_cb(void *ctx, const struct telemetry_batch *b, int64_t tmin, int64_t tmax)
{
	(void)tmin;
	(void)tmax;
	live_publish(ctx, b);
	return 0;
}

/* Live signals are in memory: after a restart, rebuild them from the spans of the last hour. */
static void live_replay(struct daemon *d)
{
	int64_t now = ooda_now_ns();
	struct tstore_scan q = { .signal = SIGNAL_SPANS, .from_ns = now - 3600 * OODA_NS_PER_SEC, .to_ns = now,
				 .oldest_first = true };
	struct buf err = BUF_INIT;
	if (tstore_scan(d->tstore, &q, replay_cb, d->live, &err))
		log_error("live signals start empty: %s", err.data);
	buf_release(&err);
}

/* The deploy and approvals sections of cfg, checked and (if apply) made current. */
static int configure_change(struct daemon *d, const struct config *cfg, bool apply, struct buf *err)
{
	char *dt = config_section_json(cfg, "deploy"), *at = config_section_json(cfg, "approvals");
	json_t *dj = dt ? json_loads(dt, JSON_DECODE_ANY, NULL) : NULL;
	json_t *aj = at ? json_loads(at, JSON_DECODE_ANY, NULL) : NULL;
	int rc = change_configure(&d->change, json_is_null(dj) ? NULL : dj, json_is_null(aj) ? NULL : aj, apply, err);
	if (rc && d->config_path) {
		struct buf tmp = BUF_INIT;
		buf_addf(&tmp, "%s: %s", d->config_path, err->data);
		buf_reset(err);
		buf_adds(err, tmp.data);
		buf_release(&tmp);
	}
	json_decref(dj);
	json_decref(aj);
	free(dt);
	free(at);
	return rc;
}

/* ---- detect: alerting core, rules, probes, heartbeats, engine thread ---- */

/*
 * The alerts, services (probes) and heartbeats sections of cfg, checked and
 * (if apply) made current.
 */
static int configure_detect(struct daemon *d, const struct config *cfg, bool apply, struct buf *err)
{
	char *at = config_section_json(cfg, "alerts");
	int rc = rules_configure(apply ? d->rules : NULL, at, apply, err);
	free(at);
	if (!rc) {
		char *wt = config_section_json(cfg, "anomalies");
		rc = watches_configure(apply ? d->watches : NULL, wt, apply, err);
		free(wt);
	}
	if (!rc && apply)
		alerts_set_group_window(d->alerts, rules_group_window(d->rules));
	char *st = config_section_json(cfg, "services"), *ht = config_section_json(cfg, "heartbeats");
	json_t *sj = st ? json_loads(st, JSON_DECODE_ANY, NULL) : NULL;
	json_t *hj = ht ? json_loads(ht, JSON_DECODE_ANY, NULL) : NULL;
	if (!rc)
		rc = prober_configure(d->prober, sj, apply, err);
	if (!rc && apply) {
		/* services[].dependencies join the traced graph that groups and inhibits alerts */
		struct buf edges = BUF_INIT;
		services_edges_json(sj, &edges);
		rc = alerts_set_declared_graph_json(d->alerts, edges.data, err);
		buf_release(&edges);
	}
	if (!rc)
		rc = heartbeats_configure(d->heartbeats, hj, apply, err);
	json_decref(sj);
	json_decref(hj);
	free(st);
	free(ht);
	if (rc && d->config_path) {
		struct buf tmp = BUF_INIT;
		buf_addf(&tmp, "%s: %s", d->config_path, err->data);
		buf_reset(err);
		buf_adds(err, tmp.data);
		buf_release(&tmp);
	}
	return rc;
}

/*
 * The slos section of cfg, checked and (if apply) made the running SLOs,
 * with a summary of what changed appended to changes; key paths in err,
 * prefixed with the file.
 */
static int configure_slos(struct daemon *d, const struct config *cfg, bool apply, struct buf *changes,
			  struct buf *err)
{
	char *text = config_section_json(cfg, "slos");
	int rc = apply ? slo_set_apply(d->slos, text, changes, err) : slo_config_check(text, err);
	free(text);
	if (rc && d->config_path) {
		struct buf tmp = BUF_INIT;
		buf_addf(&tmp, "%s: %s", d->config_path, err->data);
		buf_reset(err);
		buf_adds(err, tmp.data);
		buf_release(&tmp);
	}
	return rc;
}

static void tick_rules(void *ctx, int64_t now_ns, const struct alert_sink *sink)
{
	rules_tick(ctx, now_ns, sink);
}

/* The time-based audit checkpoint (audit_tick); a failure is logged at most once a minute. */
static void tick_audit(void *ctx, int64_t now_ns, const struct alert_sink *sink)
{
	(void)sink;
	static int64_t logged_ns; /* the engine thread is the only caller */
	struct daemon *d = ctx;
	struct buf err = BUF_INIT;
	if (audit_tick(d->store, &d->signer, now_ns, &err) < 0 && now_ns - logged_ns >= 60 * OODA_NS_PER_SEC) {
		log_error("timed audit checkpoint not written: %s", err.data);
		logged_ns = now_ns;
	}
	buf_release(&err);
}

/*
 * The control store's bound (vdoc_prune_tick): one batch of old alert,
 * silence and heartbeat versions per due tick; a failure is logged at most
 * once a minute, like the audit tick.
 */
static void tick_prune(void *ctx, int64_t now_ns, const struct alert_sink *sink)
{
	(void)sink;
	static int64_t logged_ns; /* the engine thread is the only caller */
	struct daemon *d = ctx;
	struct buf err = BUF_INIT;
	int n = vdoc_prune_tick(&d->pruner, d->store, now_ns, &err);
	if (n < 0 && now_ns - logged_ns >= 60 * OODA_NS_PER_SEC) {
		log_error("control store: old versions not pruned: %s", err.data);
		logged_ns = now_ns;
	} else if (n > 0) {
		log_debug("control store: pruned %d old versions", n);
	}
	buf_release(&err);
}

static void tick_alerts(void *ctx, int64_t now_ns, const struct alert_sink *sink)
{
	(void)sink;
	alerts_tick(ctx, now_ns);
}

/*
 * ooda watching itself: a store whose last write failed for lack of space
 * raises the page alert "ooda:disk-full" (label store=control|telemetry),
 * resolved by the first write that commits again. Edge-free like every
 * detector: the alerting core ignores "inactive" for an alert it never saw.
 */
static void tick_self(void *ctx, int64_t now_ns, const struct alert_sink *sink)
{
	struct daemon *d = ctx;
	bool control_full = false;
	uint64_t failures = 0;
	store_space(d->store, &control_full, &failures);
	struct tstore_stats ts = { 0 };
	tstore_stats(d->tstore, &ts);
	const struct {
		const char *store;
		bool full;
	} stores[] = { { "control", control_full }, { "telemetry", ts.disk_full != 0 } };
	for (size_t i = 0; i < sizeof(stores) / sizeof(stores[0]); i++) {
		json_t *labels = json_pack("{ss}", "store", stores[i].store);
		json_t *ann = json_pack("{ss}", "summary",
					"the disk of ooda's data dir is full: writes to this store are refused with 507 "
					"until space is freed (docs/operations.md, Disk full)");
		struct alert_signal sig = {
			.source = "self", .name = "ooda:disk-full", .severity = SEVERITY_PAGE,
			.labels = labels, .annotations = ann, .active = stores[i].full, .at_ns = now_ns,
		};
		alert_emit(sink, &sig);
		json_decref(labels);
		json_decref(ann);
	}
}

/*
 * Creates the alerting core, rules, the prober and heartbeats from cfg,
 * starts the workers that evaluate rules' and watches' PromQL off the
 * engine thread, and starts the engine thread that ticks every detector.
 */
static int start_detect(struct daemon *d, struct buf *err)
{
	int rc;
	struct prober_options popt = { .tstore = d->tstore };
	if ((rc = watches_create(d->tstore, d->live, &d->watches, err)) ||
	    (rc = alerts_create(d->store, &d->signer, d->live, &d->alerts, err)) ||
	    (rc = rules_create(d->tstore, d->live, &d->rules, err)) || (rc = prober_create(&popt, &d->prober, err)) ||
	    (rc = heartbeats_create(d->store, &d->signer, &d->heartbeats, err)) ||
	    (rc = configure_detect(d, &d->cfg, true, err)) || (rc = prober_start(d->prober, err)) ||
	    (rc = rules_start(d->rules, err)) || (rc = watches_start(d->watches, err)))
		return rc;
	d->pruner = (struct vdoc_pruner){ .r = { .max_age_ns = d->cfg.control_max_age_ns,
						 .max_versions = d->cfg.control_max_versions },
					  .interval_ns = 60 * OODA_NS_PER_SEC };
	struct alert_sink sink = alerts_sink(d->alerts);
	if ((rc = engine_create(&sink, ENGINE_DEFAULT_TICK_NS, &d->engine, err)) ||
	    (rc = engine_add(d->engine, tick_rules, d->rules)) || (rc = engine_add(d->engine, tick_alerts, d->alerts)) ||
	    (rc = engine_add(d->engine, probes_tick, d->prober)) ||
	    (rc = engine_add(d->engine, heartbeats_tick, d->heartbeats)) ||
	    (rc = engine_add(d->engine, redwatch_tick, d->redwatch)) || (rc = engine_add(d->engine, logclass_tick, d->logclass)) ||
	    (rc = engine_add(d->engine, watches_tick, d->watches)) || (rc = engine_add(d->engine, tick_audit, d)) ||
	    (rc = engine_add(d->engine, tick_prune, d)) ||
	    (rc = engine_add(d->engine, tick_self, d)) ||
	    (d->slos && (rc = engine_add(d->engine, slo_tick, d->slos))))
		return rc;
	return engine_start(d->engine, err);
}

/*
 * Stops the engine before what it ticks goes away; destroying rules and
 * watches joins their workers (after the evaluation in progress).
 */
static void stop_detect(struct daemon *d)
{
	engine_destroy(d->engine);
	d->engine = NULL;
	prober_destroy(d->prober);
	d->prober = NULL;
	heartbeats_destroy(d->heartbeats);
	d->heartbeats = NULL;
	rules_destroy(d->rules);
	d->rules = NULL;
	alerts_destroy(d->alerts);
	d->alerts = NULL;
	watches_destroy(d->watches);
	d->watches = NULL;
}

/* ---- end of detect ------------------------------------------------------- */

struct reload_ctx {
	struct daemon *d;
	const char *actor;
	const char *outcome;
	const char *rationale;
	const char *detail; /* JSON or NULL */
};

static int reload_audit_tx(struct store *s, void *ctx, struct buf *err)
{
	struct reload_ctx *r = ctx;
	struct buf target = BUF_INIT;
	buf_addf(&target, "config/%s", r->d->config_path ? r->d->config_path : "(defaults)");
	struct audit_entry e = { .actor = r->actor, .action = r->outcome, .target = target.data,
				 .rationale = r->rationale, .detail = r->detail };
	int rc = audit_append(s, &r->d->signer, &e, err);
	buf_release(&target);
	return rc;
}

int daemon_reload(struct daemon *d, const char *actor, struct buf *err)
{
	if (!d->config_path) {
		buf_adds(err, "ooda serve was started without --config; there is no file to reload");
		return OODA_EINVAL;
	}
	pthread_mutex_lock(&d->reload_mu);
	struct config next;
	config_init(&next);
	struct buf slo_changes = BUF_INIT;
	/* the one validation of ooda.yaml (the schema and every section's check), as at start */
	int rc = config_load(&next, d->config_path, err);
	/* SLOs first: the only apply that can still fail (out of memory), before anything changed */
	if (!rc)
		rc = configure_slos(d, &next, true, &slo_changes, err);
	if (!rc)
		configure_change(d, &next, true, err);
	if (!rc)
		configure_detect(d, &next, true, err);
	char *detail = NULL;
	if (!rc && slo_changes.len) {
		json_t *dj = json_pack("{s:s}", "slos", slo_changes.data);
		detail = json_dumps(dj, JSON_COMPACT);
		json_decref(dj);
	}
	struct reload_ctx rctx = { d, actor, rc ? "config.reload_rejected" : "config.reload", rc ? err->data : "",
				   detail };
	if (!rc) {
		struct buf restart = BUF_INIT;
		config_restart_keys(&d->cfg, &next, &restart);
		if (restart.len)
			log_warn("configuration reload: %s changed; this takes effect at the next restart", restart.data);
		buf_release(&restart);
		pthread_rwlock_wrlock(&d->cfg_lock);
		struct config old = d->cfg;
		d->cfg = next;
		d->reloads++;
		pthread_rwlock_unlock(&d->cfg_lock);
		ooda_log_set_level((enum log_level)ooda_log_level_parse(d->cfg.log_level));
		config_release(&old);
		log_info("configuration reloaded from %s", d->config_path);
		if (slo_changes.len)
			log_info("slos: %s", slo_changes.data);
	} else {
		config_release(&next);
		d->reload_failures++;
		log_error("configuration reload rejected, keeping the previous one: %s", err->data);
	}
	struct buf aerr = BUF_INIT;
	store_write(d->store, reload_audit_tx, &rctx, &aerr);
	buf_release(&aerr);
	free(detail);
	buf_release(&slo_changes);
	pthread_mutex_unlock(&d->reload_mu);
	return rc;
}

static void daemon_release(struct daemon *d)
{
	stop_detect(d);
	slo_set_destroy(d->slos); /* after the engine that ticked it */
	if (d->change_ready)
		change_release(&d->change);
	flagstore_destroy(d->flags);
	tstore_close(d->tstore); /* no more batches reach the log pattern miners */
	if (d->logclass) {
		/* the last save, after the last ingested line and before the store closes */
		struct buf err = BUF_INIT;
		if (logclass_save(d->logclass, ooda_now_ns(), &err))
			log_error("log patterns not saved at shutdown: %s", err.data);
		buf_release(&err);
	}
	redwatch_destroy(d->redwatch);
	logclass_destroy(d->logclass);
	live_destroy(d->live);
	auth_destroy(d->auth);
	store_close(d->store);
	config_release(&d->cfg);
	pthread_rwlock_destroy(&d->cfg_lock);
	pthread_mutex_destroy(&d->reload_mu);
	free(d->config_path);
	free(d->data_dir);
	free(d->listen);
}

int daemon_serve(const struct serve_options *opt, struct buf *err)
{
	struct daemon d = { 0 };
	pthread_rwlock_init(&d.cfg_lock, NULL);
	pthread_mutex_init(&d.reload_mu, NULL);
	config_init(&d.cfg);
	int rc = 0;
	if (opt->config_path) {
		d.config_path = strdup(opt->config_path);
		if ((rc = config_load(&d.cfg, opt->config_path, err)))
			goto out;
	}
	d.listen = strdup(opt->listen ? opt->listen : d.cfg.listen);
	d.data_dir = strdup(opt->data_dir ? opt->data_dir : d.cfg.data_dir);
	ooda_log_set_level((enum log_level)ooda_log_level_parse(d.cfg.log_level));

	/* Signals go to the main thread only: block them before any thread starts. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if ((rc = store_open(d.data_dir, 0, &d.store, err)))
		goto out;
	if ((rc = live_create(NULL, &d.live, err)))
		goto out;
	if ((rc = logclass_create(NULL, &d.logclass, err)) || (rc = redwatch_create(d.live, NULL, &d.redwatch)))
		goto out;
	{
		/* before ingest starts: the log pattern miners as they were saved */
		struct buf lerr = BUF_INIT;
		int n = logclass_restore(d.logclass, d.store, &lerr);
		if (n < 0)
			log_error("log patterns start fresh: %s", lerr.data);
		else if (n)
			log_info("log patterns restored for %d services", n);
		buf_release(&lerr);
	}
	struct tstore_options topt = {
		.queue_bytes = (size_t)d.cfg.ingest_queue_bytes,
		.retention_age_ns = d.cfg.retention_max_age_ns,
		.retention_bytes = d.cfg.retention_max_bytes,
		.publish = publish_live,
		.publish_ctx = &d,
		.expect_existing = store_telemetry_recorded(d.store),
		.recreate = opt->recreate_telemetry,
	};
	if ((rc = tstore_open(d.data_dir, &topt, &d.tstore, err)) || (rc = store_telemetry_record(d.store, err)))
		goto out;
	live_replay(&d);
	{
		char *text = config_section_json(&d.cfg, "slos");
		struct slo_options so = { .live = d.live, .tstore = d.tstore };
		rc = slo_set_create(text, &so, &d.slos, err);
		free(text);
		if (rc || (rc = slo_set_start(d.slos, err)))
			goto out;
	}
	if ((rc = audit_signer_load(&d.signer, d.data_dir, d.cfg.audit_checkpoint_every, err)))
		goto out;
	d.signer.interval_ns = d.cfg.audit_checkpoint_interval_ns;
	if ((rc = auth_create(d.store, &d.auth, err)))
		goto out;
	if ((rc = flagstore_create(d.store, &d.signer, d.tstore, &d.flags, err)))
		goto out;
	if ((rc = change_init(&d.change, d.store, &d.signer, d.tstore, d.flags, err)))
		goto out;
	d.change_ready = true;
	if ((rc = configure_change(&d, &d.cfg, true, err)) || (rc = change_start(&d.change, err)))
		goto out;
	if ((rc = start_detect(&d, err)))
		goto out;
	if (!http_listen_is_loopback(d.listen) && auth_active_tokens(d.auth) == 0) {
		buf_addf(err, "refusing to listen on %s without API tokens: anyone who can reach it could "
			      "change this system. Create one first with `ooda token create --role admin "
			      "--name NAME --data %s`, or listen on 127.0.0.1",
			 d.listen, d.data_dir);
		rc = OODA_EREFUSED;
		goto out;
	}
	struct http_options hopt = {
		.listen = d.listen,
		.threads = (int)d.cfg.threads,
		.max_connections = (int)d.cfg.max_connections,
		.timeout_s = (int)(d.cfg.request_timeout_ns / OODA_NS_PER_SEC),
		.header_timeout_s = (int)(d.cfg.header_timeout_ns / OODA_NS_PER_SEC),
		.min_body_rate = (size_t)d.cfg.min_body_rate,
		.max_connections_per_ip = (int)d.cfg.max_connections_per_ip,
		.url_limit = (size_t)d.cfg.url_limit,
		.body_budget = (size_t)d.cfg.body_budget,
		.header_limit = (size_t)d.cfg.header_limit,
		.api_body_limit = (size_t)d.cfg.api_body_limit,
		.ingest_body_limit = (size_t)d.cfg.ingest_body_limit,
		.ingest_queue_bytes = (size_t)d.cfg.ingest_queue_bytes,
		.routes = api_routes,
		.app = &d,
		.authenticate = authenticate,
		.tokens_required = tokens_required,
	};
	if ((rc = http_server_start(&hopt, &d.http, err)))
		goto out;
	d.started_ns = ooda_now_ns();
	d.ready = true;
	{
		char fields[256];
		snprintf(fields, sizeof(fields), "\"listen\":\"%s\",\"port\":%d,\"data_dir\":\"%s\"",
			 d.listen, http_server_port(d.http), d.data_dir);
		ooda_logf(LOG_INFO, fields, "ooda serving on %s", d.listen);
	}
	for (;;) {
		int sig = 0;
		if (sigwait(&set, &sig))
			continue;
		if (sig == SIGHUP) {
			struct buf rerr = BUF_INIT;
			daemon_reload(&d, "signal:SIGHUP", &rerr);
			buf_release(&rerr);
			continue;
		}
		log_info("received %s: draining %d in-flight requests", sig == SIGTERM ? "SIGTERM" : "SIGINT",
			 http_server_inflight(d.http));
		break;
	}
	d.ready = false;
	http_server_stop(d.http, 10000);
	d.http = NULL;
	stop_detect(&d);
	log_info("stopped cleanly");
out:
	daemon_release(&d);
	return rc;
}
