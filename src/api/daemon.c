/*
 * `ooda serve`: loads the config, refuses unsafe binds, opens the stores,
 * starts the stages of the stage table (stage.h, stages.c) and the engine
 * thread, starts HTTP, then waits for signals on the main thread — SIGHUP
 * reloads ooda.yaml, SIGTERM and SIGINT drain in-flight requests, stop the
 * engine and the stages in reverse order, save the log pattern miners and
 * close the stores so nothing is left half-written. No stage is named here
 * but the alerting core, where the engine thread sends every signal.
 */
#include "api/daemon.h"
#include "api/forward.h"
#include "api/cluster.h"
#include "api/fresh.h"
#include "detect/alerts.h"
#include "detect/heartbeat.h"
#include "detect/rules.h"
#include "api/remedy_glue.h"
#include "api/stage.h"
#include "core/error.h"
#include "core/dirlock.h"
#include "core/log.h"
#include "core/time.h"
#include "core/yaml_guard.h"
#include "model/promname.h"

#include <jansson.h>

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>

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

void daemon_register_config_checks(void)
{
	for (size_t i = 0; i < daemon_n_stages; i++)
		for (size_t k = 0; k < daemon_stages[i].n_sections; k++)
			if (config_register_check(daemon_stages[i].sections[k].section, daemon_stages[i].sections[k].check))
				abort(); /* the stage table and the schema in core/config.c disagree: a build error */
}

/* Writer thread, after a batch is durable: feed live signals. */
static void publish_live(void *ctx, const struct telemetry_batch *b)
{
	struct daemon *d = ctx;
	live_publish(d->live, b);
	logclass_observe(d->logclass, b);
	if (b->n_points || b->n_spans) {
		atomic_fetch_add(&d->fresh_batches, 1); /* the rules tick passes it on (rules_note_fresh) */
		daemon_poke_engine(d);                   /* and comes now, not up to a tick later */
		fresh_note(d->fresh);                    /* on a follower: the leader's engine, likewise */
	}
}

/* Another node made shared telemetry durable (api/fresh.h): as publish_live does for this node's. */
static void daemon_on_fresh(void *ctx)
{
	struct daemon *d = ctx;
	atomic_fetch_add(&d->fresh_batches, 1);
	daemon_poke_engine(d);
}

/*
 * After publish_live saw every batch of a commit and before their requests
 * are acknowledged: with several nodes, store this node's new samples for
 * the others (cluster_live_flush: read-your-writes), one row per commit.
 */
static void published_live(void *ctx, bool spans)
{
	struct daemon *d = ctx;
	if (spans)
		cluster_live_flush(d->cluster);
}

static pthread_mutex_t poke_mu = PTHREAD_MUTEX_INITIALIZER; /* d->poke_engine */

void daemon_poke_engine(void *ctx)
{
	struct daemon *d = ctx;
	pthread_mutex_lock(&poke_mu);
	engine_poke(d->poke_engine);
	pthread_mutex_unlock(&poke_mu);
}

void daemon_engine_ticks(struct daemon *d, int64_t *ticks, int64_t *poked)
{
	pthread_mutex_lock(&poke_mu);
	*ticks = d->poke_engine ? engine_ticks(d->poke_engine) : 0;
	*poked = d->poke_engine ? engine_poked_ticks(d->poke_engine) : 0;
	pthread_mutex_unlock(&poke_mu);
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

/* The engine's due hook: the earliest of an alert's `for` ending, fresh telemetry the rules
 * may read and a heartbeat turning late. */
static int64_t detect_due(void *ctx)
{
	struct daemon *d = ctx;
	int64_t due[] = { alerts_next_due(d->alerts), rules_next_due(d->rules, ooda_now_ns()), heartbeats_next_due(d->heartbeats) };
	int64_t first = 0;
	for (size_t i = 0; i < sizeof due / sizeof due[0]; i++)
		if (due[i] && (!first || due[i] < first))
			first = due[i];
	return first;
}

/* ---- the stages (stage.h): start in order, stop in reverse ---------------- */

/*
 * Starts every stage in table order, then the engine thread that ticks
 * what they added. On error the caller still runs stages_stop().
 */
static int stages_start(struct daemon *d, struct buf *err)
{
	int rc;
	for (size_t i = 0; i < daemon_n_stages; i++)
		if (daemon_stages[i].start && (rc = daemon_stages[i].start(d, err)))
			return rc;
	struct alert_sink sink = alerts_sink(d->alerts);
	if ((rc = engine_create(&sink, ENGINE_DEFAULT_TICK_NS, &d->engine, err)))
		return rc;
	engine_set_due(d->engine, detect_due, d); /* a `for` ends, or fresh data waits, between two ticks */
	for (size_t i = 0; i < daemon_n_stages; i++)
		if (daemon_stages[i].add_ticks && (rc = daemon_stages[i].add_ticks(d, d->engine))) {
			buf_addf(err, "stage %s: engine callbacks: %s", daemon_stages[i].name, ooda_strerror(rc));
			return rc;
		}
	if ((rc = engine_start(d->engine, err)))
		return rc;
	pthread_mutex_lock(&poke_mu);
	d->poke_engine = d->engine;
	pthread_mutex_unlock(&poke_mu);
	return 0;
}

/*
 * Stops the engine before what it ticks goes away, then every stage in
 * reverse order. Safe to call twice and on a half-started daemon.
 */
static void stages_stop(struct daemon *d)
{
	pthread_mutex_lock(&poke_mu);
	d->poke_engine = NULL;
	pthread_mutex_unlock(&poke_mu);
	engine_destroy(d->engine);
	d->engine = NULL;
	for (size_t i = daemon_n_stages; i-- > 0;)
		if (daemon_stages[i].stop)
			daemon_stages[i].stop(d);
}

/*
 * A reload, all or nothing: every stage checks its sections of next, and
 * only when all pass does every stage apply them, in table order. What a
 * stage reports as changed lands in detail as {"<stage>": "<changes>"}
 * (caller frees *detail).
 */
static int stages_reload(struct daemon *d, const struct config *next, char **detail, struct buf *err)
{
	int rc = 0;
	for (size_t i = 0; !rc && i < daemon_n_stages; i++)
		if (daemon_stages[i].reload)
			rc = daemon_stages[i].reload(d, next, false, NULL, err);
	json_t *changed = json_object();
	for (size_t i = 0; !rc && i < daemon_n_stages; i++) {
		if (!daemon_stages[i].reload)
			continue;
		struct buf changes = BUF_INIT;
		rc = daemon_stages[i].reload(d, next, true, &changes, err);
		if (!rc && changes.len)
			json_object_set_new(changed, daemon_stages[i].name, json_string(changes.data));
		buf_release(&changes);
	}
	*detail = !rc && json_object_size(changed) ? json_dumps(changed, JSON_COMPACT) : NULL;
	json_decref(changed);
	return rc;
}

/* ooda.yaml is read whole by config_load; its hash covers at most this many bytes (far beyond any real file). */
#define CONFIG_HASH_MAX (INT64_C(16) << 20)

/* Hex SHA-256 of the file at path into out ("" when it cannot be read): what GET /api/v1/cluster compares. */
static void config_file_hash(const char *path, char out[65])
{
	out[0] = '\0';
	FILE *f = path ? fopen(path, "rb") : NULL;
	if (!f)
		return;
	struct buf b = BUF_INIT;
	char chunk[8192];
	size_t n;
	while (b.len < (size_t)CONFIG_HASH_MAX && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(&b, chunk, n);
	if (!ferror(f))
		audit_digest_hex(b.data ? b.data : "", b.len, out);
	fclose(f);
	buf_release(&b);
}

/*
 * Who a reload is for: a request to this node (the API, SIGHUP), which then
 * asks every node of the cluster to reload too, or this node's answer to a
 * generation another node started (cluster.h).
 */
struct reload_how {
	const char *actor;
	int64_t generation; /* 0: asked of this node; else the cluster's generation it answers */
	const struct config_gen_row *asked;
};

struct reload_ctx {
	struct daemon *d;
	const struct reload_how *how;
	bool ok;
	const char *rationale;
	const char *detail; /* JSON or NULL */
	int64_t generation; /* out: the generation a request to this node started (0 on one node) */
};

/* The record of the reload and, for a request to this node, the cluster's next generation, in one transaction. */
static int reload_audit_tx(struct store *s, void *ctx, struct buf *err)
{
	struct reload_ctx *r = ctx;
	const struct reload_how *how = r->how;
	int rc = 0;
	if (!how->generation && r->d->cluster)
		rc = cluster_config_request(r->d->cluster, s, how->actor, &r->generation, err);
	if (rc)
		return rc;
	struct buf target = BUF_INIT, why = BUF_INIT;
	buf_addf(&target, "config/%s", r->d->config_path ? r->d->config_path : "(defaults)");
	const char *action = r->ok ? "config.reload" : "config.reload_rejected";
	char actor[200];
	snprintf(actor, sizeof(actor), "%s", how->actor);
	if (how->generation) {
		/* this node's answer: its own record, so that each node's outcome is in the log */
		action = r->ok ? "config.node_reload" : "config.node_reload_rejected";
		snprintf(actor, sizeof(actor), "node:%s", cluster_node_id(r->d->cluster));
		buf_addf(&why, "reload generation %lld asked of node %s by %s", (long long)how->generation,
			 how->asked->node_id, how->asked->actor);
		if (!r->ok)
			buf_addf(&why, ": %s", r->rationale);
	} else {
		buf_adds(&why, r->rationale);
		if (r->generation) /* the detail stays what each stage changed */
			buf_addf(&why, "%sreload generation %lld, asked of every node", *r->rationale ? "; " : "",
				 (long long)r->generation);
	}
	struct audit_entry e = { .actor = actor, .action = action, .target = target.data,
				 .rationale = why.data ? why.data : "", .detail = r->detail };
	rc = audit_append(s, &r->d->signer, &e, err);
	buf_release(&target);
	buf_release(&why);
	return rc;
}

/* The reload itself (reload_mu held): all or nothing, audited; *generation as reload_ctx's. */
static int reload_run(struct daemon *d, const struct reload_how *how, struct buf *restart_keys, int64_t *generation,
		      struct buf *err)
{
	struct config next;
	config_init(&next);
	char hash[65];
	config_file_hash(d->config_path, hash);
	/* the one validation of ooda.yaml (the schema and every section's check), as at start */
	int rc = config_load(&next, d->config_path, err);
	char *detail = NULL;
	if (!rc)
		rc = stages_reload(d, &next, &detail, err);
	struct reload_ctx rctx = { d, how, !rc, rc ? err->data : "", detail, 0 };
	if (!rc) {
		struct buf restart = BUF_INIT;
		config_restart_keys(&d->cfg, &next, &restart);
		if (restart.len) {
			log_warn("configuration reload: %s changed; this takes effect at the next restart", restart.data);
			if (restart_keys)
				buf_add(restart_keys, restart.data, restart.len);
		}
		buf_release(&restart);
		pthread_rwlock_wrlock(&d->cfg_lock);
		struct config old = d->cfg;
		d->cfg = next;
		d->reloads++;
		pthread_rwlock_unlock(&d->cfg_lock);
		ooda_log_set_level((enum log_level)ooda_log_level_parse(d->cfg.log_level));
		metrics_set_translation(promname_strategy_parse(d->cfg.otlp_translation));
		config_release(&old);
		log_info("configuration reloaded from %s", d->config_path);
		json_t *dj = detail ? json_loads(detail, 0, NULL) : NULL;
		const char *stage;
		json_t *v;
		json_object_foreach(dj, stage, v)
			log_info("%s: %s", stage, json_string_value(v));
		json_decref(dj);
	} else {
		config_release(&next);
		d->reload_failures++;
		log_error("configuration reload rejected, keeping the previous one: %s", err->data);
	}
	struct buf aerr = BUF_INIT;
	if (store_write(d->store, reload_audit_tx, &rctx, &aerr))
		log_error("configuration reload not recorded%s: %s", how->generation ? "" : " nor passed on to the other nodes",
			  aerr.data);
	buf_release(&aerr);
	/* what this node runs now: the new file's hash when it took it, else the previous one's */
	if (d->cluster)
		cluster_config_answered(d->cluster, how->generation ? how->generation : rctx.generation,
					rc ? NULL : hash, rc ? err->data : "");
	if (generation)
		*generation = rctx.generation;
	free(detail);
	return rc;
}

int daemon_reload(struct daemon *d, const char *actor, struct buf *restart_keys, int64_t *generation, struct buf *err)
{
	if (generation)
		*generation = 0;
	if (!d->config_path) {
		buf_adds(err, "ooda serve was started without --config; there is no file to reload");
		return OODA_EINVAL;
	}
	pthread_mutex_lock(&d->reload_mu);
	struct reload_how how = { actor, 0, NULL };
	int rc = reload_run(d, &how, restart_keys, generation, err);
	pthread_mutex_unlock(&d->reload_mu);
	return rc;
}

/*
 * This node's answer to a reload another node was asked for (on the main
 * thread, woken by SIGUSR1 from the cluster thread): re-read ooda.yaml,
 * unless this node answered that generation meanwhile.
 */
static void daemon_reload_follow(struct daemon *d)
{
	pthread_mutex_lock(&d->reload_mu);
	struct config_gen_row asked;
	int64_t gen = d->cluster ? cluster_config_pending(d->cluster, &asked) : 0;
	if (gen && d->config_path) {
		struct buf err = BUF_INIT;
		struct reload_how how = { "", gen, &asked };
		log_info("cluster: node %s asked every node to reload (generation %lld)", asked.node_id, (long long)gen);
		reload_run(d, &how, NULL, NULL, &err);
		buf_release(&err);
	} else if (gen) {
		cluster_config_answered(d->cluster, gen, NULL, "ooda serve was started without --config");
	}
	pthread_mutex_unlock(&d->reload_mu);
}

/* The cluster thread: another node started a reload generation; the main thread answers it. */
static void daemon_on_config_generation(void *ctx)
{
	(void)ctx;
	kill(getpid(), SIGUSR1); /* blocked in every thread; the main thread's sigwait takes it */
}

/* The stages' state the hook below reads goes away at stop: the hook is off from then on. */
static pthread_mutex_t lead_hook_mu = PTHREAD_MUTEX_INITIALIZER;
static bool lead_hooks_off;

static void lead_hooks_disable(void)
{
	pthread_mutex_lock(&lead_hook_mu);
	lead_hooks_off = true;
	pthread_mutex_unlock(&lead_hook_mu);
}

static void daemon_release(struct daemon *d)
{
	lead_hooks_disable();
	stages_stop(d);
	forward_destroy(d->forwarder); /* the HTTP server stopped: no request is in flight */
	d->forwarder = NULL;
	cluster_destroy(d->cluster);
	d->cluster = NULL;
	tstore_close(d->tstore); /* no more batches reach the log pattern miners */
	fresh_destroy(d->fresh); /* nor fresh_note; the engine it pokes is gone (poke_mu) */
	d->fresh = NULL;
	if (d->logclass) {
		/* the last save, after the last ingested line and before the store closes */
		struct buf err = BUF_INIT;
		if (logclass_save(d->logclass, ooda_now_ns(), &err))
			log_error("log patterns not saved at shutdown: %s", err.data);
		buf_release(&err);
	}
	redwatch_destroy(d->redwatch);
	redfast_destroy(d->redfast);
	logclass_destroy(d->logclass);
	live_destroy(d->live);
	exemplars_destroy(d->exemplars);
	metrics_meta_book_destroy(d->metric_meta);
	auth_destroy(d->auth);
	store_close(d->store);
	config_release(&d->cfg);
	pthread_rwlock_destroy(&d->cfg_lock);
	pthread_mutex_destroy(&d->reload_mu);
	pthread_mutex_destroy(&d->shared_mu);
	pthread_mutex_destroy(&d->stream_mu);
	flag_counts_release(&d->flag_counts);
	free(d->config_path);
	free(d->data_dir);
	free(d->listen);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	if (remove(path))
		log_warn("could not remove %s: %s", path, strerror(errno));
	return 0;
}

/* Removes dir and all in it (it was made by this start: everything in it is ours). */
static void remove_tree(const char *dir)
{
	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	log_info("removed %s: the start failed and the directory did not exist before it", dir);
}

/*
 * The control store storage.control names: control.db in the data dir, or
 * the PostgreSQL database whose connection string is in the environment
 * variable storage.control.dsn_env names. A data dir that holds control.pg
 * (an earlier start on PostgreSQL) stays on PostgreSQL when the config says
 * sqlite, so the daemon and the CLI's offline commands never part ways.
 * Errors name the variable, never its value (it may hold a password).
 */
static int daemon_store_open(const struct config *c, const char *data_dir, struct store **out, struct buf *err)
{
	struct store_location loc = { .dir = data_dir, .dsn_env = c->control_dsn_env };
	if (c->control_backend && !strcmp(c->control_backend, "postgres")) {
		const char *var = c->control_dsn_env;
		loc.pg_dsn = var ? getenv(var) : NULL;
		if (!loc.pg_dsn || !*loc.pg_dsn) {
			buf_addf(err, "storage.control.backend is postgres but the environment variable %s "
				      "(storage.control.dsn_env) is not set: export the libpq connection string in it",
				 var ? var : "");
			return OODA_EINVAL;
		}
	}
	/* sqlite: store_open follows a control.pg left in the data dir, as the CLI does */
	int rc = loc.pg_dsn ? store_open_at(&loc, 0, out, err) : store_open(data_dir, 0, out, err);
	if (!rc && loc.pg_dsn)
		log_info("control store: PostgreSQL (connection string from $%s)", c->control_dsn_env);
	return rc;
}

/*
 * The cluster thread's news that this node began to lead: the workers and
 * the engine pick leadership up themselves (core/lead.h); runs under way
 * are read again, since a follower's index of them is as old as its start.
 */
static void daemon_on_lead(void *ctx)
{
	remedy_glue_resume(ctx);
}


/*
 * Before this node begins to lead: the alerting core takes over the alert
 * state the previous leader stored, so an alert still firing is not seen
 * as new (and not notified a second time) by this node's first tick.
 */
static void daemon_before_lead(void *ctx)
{
	struct daemon *d = ctx;
	pthread_mutex_lock(&lead_hook_mu);
	if (!lead_hooks_off && d->alerts) {
		struct buf err = BUF_INIT;
		if (alerts_reload(d->alerts, &err))
			log_error("this node leads with the alert state it had: %s", err.data);
		buf_release(&err);
	}
	pthread_mutex_unlock(&lead_hook_mu);
}

int daemon_serve(const struct serve_options *opt, struct buf *err)
{
	struct daemon d = { 0 };
	lead_hooks_off = false;
	pthread_rwlock_init(&d.cfg_lock, NULL);
	pthread_mutex_init(&d.reload_mu, NULL);
	pthread_mutex_init(&d.shared_mu, NULL);
	pthread_mutex_init(&d.stream_mu, NULL);
	flag_counts_init(&d.flag_counts);
	config_init(&d.cfg);
	int rc = 0;
	char *made_dir = NULL; /* the data dir when this start creates it */
	int lock_fd = -1;      /* the data dir's lock (core/dirlock.h) */
	/* before any thread: configuration texts are parsed in the guard's children */
	struct buf gerr = BUF_INIT;
	if (yaml_guard_start(&gerr))
		log_warn("%s; configuration texts will be parsed in direct children", gerr.data);
	buf_release(&gerr);
	if (opt->config_path) {
		d.config_path = xstrdup(opt->config_path);
		if ((rc = config_load(&d.cfg, opt->config_path, err)))
			goto out;
	}
	d.listen = xstrdup(opt->listen ? opt->listen : d.cfg.listen);
	d.data_dir = xstrdup(opt->data_dir ? opt->data_dir : d.cfg.data_dir);
	ooda_log_set_level((enum log_level)ooda_log_level_parse(d.cfg.log_level));

	/* Signals go to the main thread only: block them before any thread starts. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1); /* the cluster thread: another node asked for a reload */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* a start that fails takes back the data dir it made, so a retry is not left with an empty one */
	struct stat st;
	if (stat(d.data_dir, &st) && errno == ENOENT)
		made_dir = xstrdup(d.data_dir);
	if ((rc = daemon_store_open(&d.cfg, d.data_dir, &d.store, err)))
		goto out;
	/* one daemon per data dir; `ooda migrate` checks the same lock */
	if ((lock_fd = dirlock_take(d.data_dir, "another ooda process", err)) < 0) {
		rc = lock_fd;
		goto out;
	}
	d.exemplars = exemplars_create(0);
	d.metric_meta = metrics_meta_book_create();
	metrics_set_translation(promname_strategy_parse(d.cfg.otlp_translation));
	if ((rc = live_create(NULL, &d.live, err)))
		goto out;
	if ((rc = logclass_create(NULL, &d.logclass, err)) || (rc = redwatch_create(d.live, NULL, &d.redwatch)) ||
	    (rc = redfast_create(d.live, NULL, &d.redfast)))
		goto out;
	redwatch_follow_shared(d.redwatch, d.redfast); /* a shared slowdown holds the watch's latency too */
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
		.published = published_live,
		.publish_ctx = &d,
		.expect_existing = store_telemetry_recorded(d.store),
		.recreate = opt->recreate_telemetry,
	};
	bool on_ch = d.cfg.telemetry_backend && !strcmp(d.cfg.telemetry_backend, "clickhouse");
	if (on_ch) {
		topt.backend = "clickhouse";
		topt.expect_existing = false;
		topt.clickhouse = (struct tstore_clickhouse_options){ .url = d.cfg.telemetry_url,
								      .database = d.cfg.telemetry_database,
								      .user = d.cfg.telemetry_user };
		if (d.cfg.telemetry_password_env) {
			topt.clickhouse.password = getenv(d.cfg.telemetry_password_env);
			if (!topt.clickhouse.password) {
				buf_addf(err, "storage.telemetry.password_env: the environment variable %.64s is not set",
					 d.cfg.telemetry_password_env);
				rc = OODA_EINVAL;
				goto out;
			}
		}
		if (!d.cfg.telemetry_url) {
			buf_adds(err, "storage.telemetry.url: required with storage.telemetry.backend: clickhouse");
			rc = OODA_EINVAL;
			goto out;
		}
	}
	if ((rc = tstore_open(d.data_dir, &topt, &d.tstore, err)) ||
	    (!on_ch && (rc = store_telemetry_record(d.store, err))))
		goto out;
	/*
	 * Several nodes on one ClickHouse share their telemetry: replaying it
	 * would count the others' spans twice, since their deltas (cluster.h)
	 * bring them in; this node's own come back the same way.
	 */
	struct lease_row lease;
	bool replay = !on_ch || store_lease_get(d.store, &lease) == OODA_EUNSUPPORTED;
	if (replay)
		live_replay(&d);
	if ((rc = audit_signer_load(&d.signer, d.data_dir, d.cfg.audit_checkpoint_every, err)))
		goto out;
	d.signer.interval_ns = d.cfg.audit_checkpoint_interval_ns;
	if ((rc = auth_create(d.store, &d.auth, err)))
		goto out;
	{
		/* before the stages: they start knowing whether this node leads */
		char start_hash[65] = "";
		struct cluster_options co = { .store = d.store, .node_id = d.cfg.node_id, .listen = d.listen,
					      .version = OODA_VERSION, .on_lead = daemon_on_lead, .ctx = &d,
					      .before_lead = daemon_before_lead, .signer = &d.signer,
					      .live = d.live, .live_replayed = replay,
					      .on_config_generation = daemon_on_config_generation,
					      .config_hash = start_hash };
		config_file_hash(d.config_path, start_hash);
		if ((rc = cluster_create(&co, &d.cluster, err)))
			goto out;
		/* one node serves every route itself: no forwarder, no forwarding code on the request path */
		if (cluster_multi(d.cluster) && (rc = forward_create(d.cluster, &d.forwarder, err)))
			goto out;
		/* every node's pattern miners take the lines of all nodes, through the store */
		if (cluster_multi(d.cluster))
			logclass_share(d.logclass);
		/* a follower's batches reach the leader's rules at once when the nodes share their telemetry */
		if (cluster_multi(d.cluster) && on_ch) {
			struct fresh_options fo = { .store = d.store, .node_id = cluster_node_id(d.cluster),
						    .on_fresh = daemon_on_fresh, .ctx = &d };
			if ((rc = fresh_create(&fo, &d.fresh, err)))
				goto out;
		}
	}
	if ((rc = stages_start(&d, err)))
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
		.routes = api_routes_get(),
		.app = &d,
		.authenticate = authenticate,
		.tokens_required = tokens_required,
		.forward = d.forwarder ? forward_request : NULL,
	};
	if ((rc = http_server_start(&hopt, &d.http, err)))
		goto out;
	d.started_ns = ooda_now_ns();
	d.ready = true;
	{
		char addr[300];
		const char *colon = strrchr(d.listen, ':');
		snprintf(addr, sizeof(addr), "%.*s:%d", colon ? (int)(colon - d.listen) : (int)strlen(d.listen), d.listen,
			 http_server_port(d.http));
		cluster_set_address(d.cluster, addr);
	}
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
			daemon_reload(&d, "signal:SIGHUP", NULL, NULL, &rerr);
			buf_release(&rerr);
			continue;
		}
		if (sig == SIGUSR1) {
			daemon_reload_follow(&d);
			continue;
		}
		log_info("received %s: draining %d in-flight requests", sig == SIGTERM ? "SIGTERM" : "SIGINT",
			 http_server_inflight(d.http));
		break;
	}
	d.ready = false;
	for (size_t i = 0; i < daemon_n_stages; i++)
		if (daemon_stages[i].quiesce)
			daemon_stages[i].quiesce(&d);
	http_server_stop(d.http, 10000);
	d.http = NULL;
	lead_hooks_disable();
	stages_stop(&d);
	/* after the stages: a leader's last writes still carry a term that holds */
	cluster_destroy(d.cluster);
	d.cluster = NULL;
	log_info("stopped cleanly");
out:
	daemon_release(&d);
	dirlock_release(lock_fd);
	yaml_guard_stop();
	if (rc && made_dir && !d.started_ns)
		remove_tree(made_dir);
	free(made_dir);
	return rc;
}
