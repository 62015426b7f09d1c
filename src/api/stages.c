/*
 * The rows of the daemon's stage table (stage.h) and the glue each row
 * needs: which ooda.yaml sections a stage checks, how it is created from
 * the configuration, reconfigured on reload, ticked by the engine thread
 * and stopped. daemon.c runs the rows; nothing here starts HTTP or opens
 * the stores.
 */
#include "api/remedy_glue.h"
#include "api/cluster.h"
#include "api/handover.h"
#include "api/respond_glue.h"
#include "api/stage.h"
#include "api/cluster.h"
#include "api/prom_shared.h"
#include "remedy/remedy.h"
#include "core/error.h"
#include "core/log.h"
#include "core/time.h"

#include <jansson.h>

/* Prefixes err with the config file, so a key path reads "ooda.yaml: slos[0].objective: …". */
static void err_in_file(const struct daemon *d, struct buf *err)
{
	if (!d->config_path)
		return;
	struct buf tmp = BUF_INIT;
	buf_addf(&tmp, "%s: %s", d->config_path, err->data);
	buf_reset(err);
	buf_adds(err, tmp.data);
	buf_release(&tmp);
}

/* A section of cfg as JSON, NULL when absent or null; caller owns the result (json_decref). */
static json_t *section_json(const struct config *cfg, const char *section)
{
	char *text = config_section_json(cfg, section);
	json_t *j = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
	free(text);
	if (json_is_null(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* ---- slo: SLOs, their burn-rate alerts and the worker that keeps budget points ---- */

static const struct stage_section slo_sections[] = { { "slos", slo_config_check } };

static int slo_start(struct daemon *d, struct buf *err)
{
	char *text = config_section_json(&d->cfg, "slos");
	struct slo_options so = { .live = d->live, .tstore = d->tstore };
	int rc = slo_set_create(text, &so, &d->slos, err);
	free(text);
	return rc ? rc : slo_set_start(d->slos, err);
}

static int slo_reload(struct daemon *d, const struct config *cfg, bool apply, struct buf *changes, struct buf *err)
{
	char *text = config_section_json(cfg, "slos");
	int rc = apply ? slo_set_apply(d->slos, text, changes, err) : slo_config_check(text, err);
	free(text);
	if (rc)
		err_in_file(d, err);
	return rc;
}

static int slo_add_ticks(struct daemon *d, struct engine *e)
{
	return d->slos ? engine_add(e, slo_tick, d->slos) : 0;
}

static void slo_stop(struct daemon *d)
{
	slo_set_destroy(d->slos);
	d->slos = NULL;
}

/* ---- change: flags, configs, deploys, rollbacks, approvals ---------------- */

static const struct stage_section change_sections[] = {
	{ "deploy", change_deploy_check },
	{ "approvals", change_approvals_check },
};

static int change_configure_from(struct daemon *d, const struct config *cfg, bool apply, struct buf *err)
{
	json_t *dj = section_json(cfg, "deploy"), *aj = section_json(cfg, "approvals");
	int rc = change_configure(&d->change, dj, aj, apply, err);
	if (rc)
		err_in_file(d, err);
	json_decref(dj);
	json_decref(aj);
	return rc;
}

static int change_stage_start(struct daemon *d, struct buf *err)
{
	int rc;
	if ((rc = flagstore_create(d->store, &d->signer, d->tstore, &d->flags, err)) ||
	    (rc = change_init(&d->change, d->store, &d->signer, d->tstore, d->flags, err)))
		return rc;
	d->change_ready = true;
	if ((rc = change_configure_from(d, &d->cfg, true, err)))
		return rc;
	return change_start(&d->change, err);
}

static int change_reload(struct daemon *d, const struct config *cfg, bool apply, struct buf *changes, struct buf *err)
{
	(void)changes;
	return change_configure_from(d, cfg, apply, err);
}

static void change_stage_quiesce(struct daemon *d)
{
	if (d->change_ready)
		change_quiesce(&d->change);
}

static void change_stage_stop(struct daemon *d)
{
	if (d->change_ready)
		change_release(&d->change);
	d->change_ready = false;
	flagstore_destroy(d->flags);
	d->flags = NULL;
}

/* ---- detect: alerting core, rules, anomaly watches, probes, heartbeats ---- */

static const struct stage_section detect_sections[] = {
	{ "services", probe_config_check },  { "heartbeats", heartbeat_config_check },
	{ "alerts", rules_config_check },    { "anomalies", watches_config_check },
};

/*
 * The alerts, anomalies, services (probes) and heartbeats sections of cfg,
 * checked and (if apply) made current.
 */
static int detect_configure(struct daemon *d, const struct config *cfg, bool apply, struct buf *err)
{
	char *at = config_section_json(cfg, "alerts");
	int rc = rules_configure(apply ? d->rules : NULL, at, apply, err);
	if (!rc) {
		char *wt = config_section_json(cfg, "anomalies");
		rc = watches_configure(apply ? d->watches : NULL, wt, apply, err);
		free(wt);
	}
	if (!rc && apply) {
		alerts_set_group_window(d->alerts, rules_group_window(d->rules));
		json_t *aj = at ? json_loads(at, JSON_DECODE_ANY, NULL) : NULL;
		json_t *on = json_is_object(aj) ? json_object_get(aj, "red_detector") : NULL;
		redfast_set_enabled(d->redfast, !json_is_false(on));
		json_decref(aj);
	}
	free(at);
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
	if (rc)
		err_in_file(d, err);
	return rc;
}

/*
 * Creates the alerting core, rules, watches, the prober and heartbeats
 * from cfg and starts the workers that evaluate rules' and watches' PromQL
 * off the engine thread, and the prober's threads.
 */
static int detect_start(struct daemon *d, struct buf *err)
{
	int rc;
	struct prober_options popt = { .tstore = d->tstore };
	if ((rc = watches_create(d->tstore, d->live, &d->watches, err)) ||
	    (rc = alerts_create(d->store, &d->signer, d->live, &d->alerts, err)) ||
	    (rc = rules_create(d->tstore, d->live, &d->rules, err)) || (rc = prober_create(&popt, &d->prober, err)) ||
	    (rc = heartbeats_create(d->store, &d->signer, &d->heartbeats, err)) ||
	    (rc = detect_configure(d, &d->cfg, true, err)) || (rc = prober_start(d->prober, err)) ||
	    (rc = rules_start(d->rules, err)) || (rc = watches_start(d->watches, err)))
		return rc;
	rules_on_signals(d->rules, daemon_poke_engine, d); /* found alerts reach the core now, not a tick later */
	return 0;
}

static int detect_reload(struct daemon *d, const struct config *cfg, bool apply, struct buf *changes, struct buf *err)
{
	(void)changes;
	return detect_configure(d, cfg, apply, err);
}

/* Fresh telemetry since the last tick lets the rules evaluate early (rules_note_fresh). */
static void tick_rules(void *ctx, int64_t now_ns, const struct alert_sink *sink)
{
	struct daemon *d = ctx;
	uint64_t n = atomic_load(&d->fresh_batches);
	if (n != d->fresh_seen) {
		d->fresh_seen = n;
		rules_note_fresh(d->rules);
	}
	rules_tick(d->rules, now_ns, sink);
}

static void tick_alerts(void *ctx, int64_t now_ns, const struct alert_sink *sink)
{
	(void)sink;
	alerts_tick(ctx, now_ns);
}

static int detect_add_ticks(struct daemon *d, struct engine *e)
{
	const struct {
		engine_tick_fn fn;
		void *ctx;
	} ticks[] = { /* the alerting core last: what every detector signalled reaches its subscribers this tick */
		{ tick_rules, d },	    { probes_tick, d->prober },	   { heartbeats_tick, d->heartbeats },
		{ redwatch_tick, d->redwatch }, { redfast_tick, d->redfast }, { logclass_tick, d->logclass }, { watches_tick, d->watches },
		{ tick_alerts, d->alerts },
	};
	int rc = 0;
	for (size_t i = 0; !rc && i < sizeof(ticks) / sizeof(ticks[0]); i++)
		rc = engine_add(e, ticks[i].fn, ticks[i].ctx);
	return rc;
}

/* Destroying rules and watches joins their workers (after the evaluation in progress). */
static void detect_stop(struct daemon *d)
{
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

/* ---- respond: on-call, notifications, incidents (one row, three parts) ---- */

static const struct stage_section respond_sections[] = {
	{ "incidents", incidents_config_check },
	{ "notify", notify_config_check },
	{ "oncall", oncall_config_check },
};

/* incidents and services (the catalogue: tier, owner, runbook, environment) of cfg. */
static int incidents_part_reload(struct daemon *d, const struct config *cfg, bool apply, struct buf *changes,
				 struct buf *err)
{
	char *it = config_section_json(cfg, "incidents"), *st = config_section_json(cfg, "services");
	int rc = incidents_configure(apply ? d->incidents : NULL, it, st, apply, changes, err);
	free(it);
	free(st);
	return rc;
}

static void stream_incident(void *ctx, const char *event, const char *incident_json);

static int incidents_part_start(struct daemon *d, struct buf *err)
{
	struct incidents_options o = { .store = d->store, .signer = &d->signer, .alerts = d->alerts, .tstore = d->tstore };
	int rc = incidents_create(&o, &d->incidents, err);
	if (!rc)
		rc = incidents_part_reload(d, &d->cfg, true, NULL, err);
	if (!rc)
		rc = respond_glue_start(d, err);
	if (!rc) /* the remedy row starts later: events before it are not remediated */
		rc = incidents_subscribe(d->incidents, remedy_glue_on_incident, d);
	if (!rc) /* the stream row starts later: events before it reach no client */
		rc = incidents_subscribe(d->incidents, stream_incident, d);
	return rc ? rc : incidents_start(d->incidents, err);
}

static void incidents_part_stop(struct daemon *d)
{
	/* the triage worker calls into incidents, and the incidents worker into its queue */
	respond_glue_stop(d);
	incidents_destroy(d->incidents);
	d->incidents = NULL;
	respond_glue_destroy(d);
}

/* on-call: schedules, overrides, escalation policies (respond/oncall_book.h). */
static int oncall_part_start(struct daemon *d, struct buf *err)
{
	char *text = config_section_json(&d->cfg, "oncall");
	int rc = oncall_book_create(d->store, &d->signer, text, &d->oncall, err);
	free(text);
	return rc;
}

/* A bad section keeps the old config; apply swaps the whole config at once. */
static int oncall_part_reload(struct daemon *d, const struct config *cfg, bool apply, struct buf *changes,
			      struct buf *err)
{
	char *text = config_section_json(cfg, "oncall");
	int rc = oncall_book_reload(d->oncall, text, apply, changes, err);
	free(text);
	return rc;
}

static void oncall_part_stop(struct daemon *d)
{
	oncall_book_destroy(d->oncall);
	d->oncall = NULL;
}

/* notify: the notification outbox and its delivery worker. */
static int notify_part_start(struct daemon *d, struct buf *err)
{
	char *text = config_section_json(&d->cfg, "notify");
	int rc = notify_create(d->store, &d->signer, text, &d->notify, err);
	free(text);
	if (rc)
		return rc;
	notify_set_retention(d->notify, d->cfg.control_max_age_ns);
	if ((rc = notify_follow_alerts(d->notify, d->alerts))) {
		buf_adds(err, "notify: cannot follow alerts");
		return rc;
	}
	return notify_start(d->notify, err);
}

static int notify_part_reload(struct daemon *d, const struct config *cfg, bool apply, struct buf *changes,
			      struct buf *err)
{
	char *text = config_section_json(cfg, "notify");
	int rc = notify_reload(d->notify, text, apply, changes, err);
	free(text);
	return rc;
}

static void notify_part_stop(struct daemon *d)
{
	notify_destroy(d->notify);
	d->notify = NULL;
}

/*
 * The parts in start order: on-call and notify before incidents, so the
 * first incident opened can already notify and escalate; stop runs them
 * in reverse (incidents, then notify, then on-call).
 */
static const struct {
	const char *name;
	int (*start)(struct daemon *d, struct buf *err);
	int (*reload)(struct daemon *d, const struct config *cfg, bool apply, struct buf *changes, struct buf *err);
	void (*stop)(struct daemon *d);
} respond_parts[] = {
	{ "oncall", oncall_part_start, oncall_part_reload, oncall_part_stop },
	{ "notify", notify_part_start, notify_part_reload, notify_part_stop },
	{ NULL, incidents_part_start, incidents_part_reload, incidents_part_stop }, /* its changes name themselves */
};
#define N_RESPOND_PARTS (sizeof(respond_parts) / sizeof(respond_parts[0]))

/* After detect: incidents and notify follow the alerting core's transitions (alerts_subscribe). */
static int respond_start(struct daemon *d, struct buf *err)
{
	int rc = 0;
	for (size_t i = 0; !rc && i < N_RESPOND_PARTS; i++)
		if ((rc = respond_parts[i].start(d, err)))
			err_in_file(d, err);
	return rc;
}

/*
 * Checks every part, or applies every part; daemon.c applies only after
 * every row's check passed, so the row as a whole is all-or-nothing. The
 * changes read "oncall: …; notify: …; incidents: …".
 */
static int respond_reload(struct daemon *d, const struct config *cfg, bool apply, struct buf *changes, struct buf *err)
{
	int rc = 0;
	for (size_t i = 0; !rc && i < N_RESPOND_PARTS; i++) {
		struct buf part = BUF_INIT;
		rc = respond_parts[i].reload(d, cfg, apply, changes ? &part : NULL, err);
		if (!rc && part.len && changes)
			buf_addf(changes, "%s%s%s%s", changes->len ? "; " : "", respond_parts[i].name ? respond_parts[i].name : "",
				 respond_parts[i].name ? ": " : "", part.data);
		buf_release(&part);
	}
	if (rc)
		err_in_file(d, err);
	return rc;
}

static int respond_add_ticks(struct daemon *d, struct engine *e)
{
	int rc = respond_glue_add_ticks(d, e);
	return rc ? rc : engine_add(e, handover_tick, d); /* what followers left for the leader (handover.h) */
}

static void respond_stop(struct daemon *d)
{
	for (size_t i = N_RESPOND_PARTS; i-- > 0;)
		respond_parts[i].stop(d);
}

/* ---- scrape: Prometheus targets ooda scrapes itself (ingest/scrape.h) ---- */

static const struct stage_section scrape_sections[] = {
	{ "scrape_configs", scrape_config_check },
	{ "global", scrape_global_check },
};

/*
 * Several nodes on one ClickHouse share their telemetry: the leader alone
 * scrapes, and what only memory keeps (exemplars, metadata) goes to every
 * node through the control store. With telemetry of its own (embedded)
 * each node scrapes for itself, as one node does.
 */
static bool scrape_leader_only(const struct daemon *d)
{
	return d->cluster && cluster_multi(d->cluster) && d->cfg.telemetry_backend &&
	       !strcmp(d->cfg.telemetry_backend, "clickhouse");
}

/* Scraped samples take remote-write's path: the telemetry store, then exemplars and live signals. */
static int scrape_sink_append(void *ctx, const struct telemetry_batch *b, struct buf *err)
{
	struct daemon *d = ctx;
	int rc = tstore_append(d->tstore, b, err);
	if (rc || !d->exemplars)
		return rc;
	if (scrape_leader_only(d))
		prom_shared_exemplars_add(d, b); /* the leader scrapes for every node: every node's ring */
	else
		exemplars_add(d->exemplars, b);
	return rc;
}

/*
 * HELP/TYPE/UNIT go to the book remote-write metadata fills, which
 * /api/v1/metadata reads; with several nodes, every node's book.
 */
static void scrape_sink_meta(void *ctx, const struct scrape_meta *m, size_t n)
{
	struct daemon *d = ctx;
	if (!n || !d->metric_meta)
		return;
	if (!scrape_leader_only(d)) {
		for (size_t i = 0; i < n; i++)
			metrics_meta_book_set(d->metric_meta, m[i].name, m[i].type, m[i].help, m[i].unit);
		return;
	}
	struct rw_metadata *v = xcalloc(n, sizeof(*v));
	for (size_t i = 0; i < n; i++)
		v[i] = (struct rw_metadata){ m[i].name, m[i].type, m[i].help, m[i].unit };
	prom_shared_metadata_set(d, v, n);
	free(v);
}

static int scrape_stage_reload(struct daemon *d, const struct config *cfg, bool apply, struct buf *changes,
			       struct buf *err)
{
	char *text = config_section_json(cfg, "scrape_configs"), *global = config_section_json(cfg, "global");
	/* relative file names are relative to the config file's directory, as in Prometheus */
	char *dir = cfg->path ? xstrdup(cfg->path) : NULL, *slash = dir ? strrchr(dir, '/') : NULL;
	if (slash)
		*slash = '\0';
	int rc = scrape_pool_configure(apply ? d->scrape : NULL, global, text, slash ? dir : NULL, apply, changes, err);
	free(dir);
	free(text);
	free(global);
	if (rc)
		err_in_file(d, err);
	return rc;
}

static int scrape_stage_start(struct daemon *d, struct buf *err)
{
	struct scrape_sink sink = { scrape_sink_append, scrape_sink_meta, d, scrape_leader_only(d) };
	int rc = scrape_pool_create(&sink, &d->scrape, err);
	if (!rc)
		rc = scrape_stage_reload(d, &d->cfg, true, NULL, err);
	return rc ? rc : scrape_pool_start(d->scrape, err);
}

static void scrape_stage_stop(struct daemon *d)
{
	scrape_pool_destroy(d->scrape);
	d->scrape = NULL;
}

/* ---- remedy: remediation policies, runs and their guardrails ---- */

static const struct stage_section remedy_sections[] = {
	{ "policies", remedy_policies_check },
	{ "remedy", remedy_section_check },
};

static int remedy_stage_start(struct daemon *d, struct buf *err)
{
	return remedy_glue_start(d, err);
}

static int remedy_stage_reload(struct daemon *d, const struct config *cfg, bool apply, struct buf *changes,
			       struct buf *err)
{
	return remedy_glue_reload(d, cfg, apply, changes, err);
}

static int remedy_stage_ticks(struct daemon *d, struct engine *e)
{
	return remedy_glue_add_ticks(d, e);
}

static void remedy_stage_stop(struct daemon *d)
{
	remedy_glue_stop(d);
}

/* ---- self: ooda watching itself (audit checkpoints on time, a full disk) ---- */

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
 * A store whose last write failed for lack of space raises the page alert
 * "ooda:disk-full" (label store=control|telemetry), resolved by the first
 * write that commits again. Edge-free like every detector: the alerting
 * core ignores "inactive" for an alert it never saw.
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

static int self_add_ticks(struct daemon *d, struct engine *e)
{
	d->pruner = (struct vdoc_pruner){ .r = { .max_age_ns = d->cfg.control_max_age_ns,
						 .max_versions = d->cfg.control_max_versions },
					  .interval_ns = 60 * OODA_NS_PER_SEC };
	int rc = engine_add(e, tick_audit, d);
	if (!rc)
		rc = engine_add(e, tick_prune, d);
	return rc ? rc : engine_add(e, tick_self, d);
}

/* ---- the table ------------------------------------------------------------ */

#define SECTIONS(v) v, sizeof(v) / sizeof(v[0])

/*
 * Start order. SLOs first: theirs is the only reload apply that can fail
 * (out of memory) and it must fail before any other stage changed. The
 * engine ticks the rows' callbacks in this order too.
 */
/* ---- stream: the dashboard's live feed (GET /api/v1/stream) ---- */

/* An alert transition as a "alert" event of the feed; runs on the engine thread and never blocks. */
static void stream_alert(void *ctx, const struct alert_transition *t)
{
	char at[40];
	json_t *j = json_pack("{s:s, s:s, s:s?, s:s, s:s, s:s, s:s}", "fingerprint", t->fingerprint, "name", t->name,
			      "service", t->service, "severity", alert_severity_name(t->severity), "from",
			      alert_state_name(t->from), "to", alert_state_name(t->to), "at",
			      ooda_time_format(t->at_ns, at, sizeof(at)));
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	if (text)
		web_stream_publish(ctx, "alert", text);
	free(text);
	json_decref(j);
}

/*
 * A stored version of a remediation run as a "run" event of the feed
 * (remedy_run_event_json: the run's id, the move, its status and step; no
 * output); on the thread that stored it, never blocking.
 */
static void stream_run(void *ctx, const struct remedy_run_event *ev)
{
	json_t *j = remedy_run_event_json(ev);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	if (text)
		web_stream_publish(ctx, "run", text);
	free(text);
	json_decref(j);
}

/*
 * An incident event ("opened", "transition", "reopened", "severity",
 * "alert-joined", "commander") as an "incident" event of the feed:
 * {"event", "incident": the document}. On the thread that stored the change;
 * publishing only queues. stream_mu keeps the hub alive while it publishes.
 */
static void stream_incident(void *ctx, const char *event, const char *incident_json)
{
	struct daemon *d = ctx;
	json_t *doc = json_loads(incident_json, 0, NULL);
	json_t *j = doc ? json_pack("{s:s, s:o}", "event", event, "incident", doc) : NULL;
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	pthread_mutex_lock(&d->stream_mu);
	if (text && d->stream)
		web_stream_publish(d->stream, "incident", text);
	pthread_mutex_unlock(&d->stream_mu);
	free(text);
	json_decref(j);
}

static int stream_start(struct daemon *d, struct buf *err)
{
	pthread_mutex_lock(&d->stream_mu);
	web_stream_create(&d->stream);
	pthread_mutex_unlock(&d->stream_mu);
	int rc = d->alerts ? alerts_subscribe(d->alerts, stream_alert, d->stream) : 0;
	struct remedy *r = __atomic_load_n(&d->remedy, __ATOMIC_ACQUIRE);
	if (!rc && r)
		rc = remedy_subscribe(r, stream_run, d->stream);
	/* several nodes: every node's feed carries the events any node published (a no-op on SQLite) */
	if (!rc && d->cluster && cluster_multi(d->cluster))
		web_stream_share(d->stream, d->store, cluster_node_id(d->cluster));
	return rc ? rc : web_stream_start(d->stream, d->tstore, err);
}

/* Before the remedy row stops: its runners may still store a version, which must not reach a freed hub. */
static void stream_stop(struct daemon *d)
{
	struct remedy *r = __atomic_load_n(&d->remedy, __ATOMIC_ACQUIRE);
	if (r && d->stream)
		remedy_unsubscribe(r, stream_run, d->stream);
	pthread_mutex_lock(&d->stream_mu);
	web_stream_destroy(d->stream);
	d->stream = NULL;
	pthread_mutex_unlock(&d->stream_mu);
}

const struct stage daemon_stages[] = {
	{ "slos", SECTIONS(slo_sections), slo_start, slo_reload, slo_add_ticks, slo_stop },
	{ "change", SECTIONS(change_sections), change_stage_start, change_reload, NULL, change_stage_stop,
	  change_stage_quiesce },
	{ "detect", SECTIONS(detect_sections), detect_start, detect_reload, detect_add_ticks, detect_stop },
	{ "respond", SECTIONS(respond_sections), respond_start, respond_reload, respond_add_ticks, respond_stop },
	{ "scrape", SECTIONS(scrape_sections), scrape_stage_start, scrape_stage_reload, NULL, scrape_stage_stop },
	{ "remedy", SECTIONS(remedy_sections), remedy_stage_start, remedy_stage_reload, remedy_stage_ticks,
	  remedy_stage_stop },
	{ "self", NULL, 0, NULL, NULL, self_add_ticks, NULL },
	{ "stream", NULL, 0, stream_start, NULL, NULL, stream_stop },
};

const size_t daemon_n_stages = sizeof(daemon_stages) / sizeof(daemon_stages[0]);
