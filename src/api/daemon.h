/*
 * The running daemon: what `ooda serve` builds and every API handler
 * reaches through req->app. It owns the configuration (swapped on SIGHUP),
 * the stores, the audit signer, authentication and the HTTP server.
 */
#ifndef OODA_DAEMON_H
#define OODA_DAEMON_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <jansson.h>

#include "audit/audit.h"
#include "core/config.h"
#include "http/auth.h"
#include "http/server.h"
#include "change/change.h"
#include "change/flagstore.h"
#include "api/flag_counts.h"
#include "detect/logclass.h"
#include "detect/redfast.h"
#include "detect/redwatch.h"
#include "detect/watch.h"
#include "detect/alerts.h"
#include "detect/engine.h"
#include "detect/rules.h"
#include "detect/heartbeat.h"
#include "detect/probe.h"
#include "detect/slo.h"
#include "ingest/scrape.h"
#include "model/live.h"
#include "query/exemplars.h"
#include "query/metrics.h"
#include "respond/oncall_book.h"
#include "respond/notify.h"
#include "respond/incident.h"
#include "store/store.h"
#include "store/tstore.h"
#include "store/vdoc.h"

struct respond_glue;
struct remedy;
struct cluster;
struct forwarder;
struct fresh;

struct daemon {
	pthread_rwlock_t cfg_lock;  /* guards cfg during a reload */
	pthread_mutex_t reload_mu;  /* one reload at a time (SIGHUP and the API may race) */
	struct config cfg;
	char *config_path;          /* NULL when running on defaults */
	char *data_dir;
	char *listen;
	struct store *store;
	struct tstore *tstore;       /* telemetry blocks */
	struct live_signals *live;   /* RED, graph, ingest rates */
	struct exemplar_ring *exemplars; /* OTLP exemplars for /api/v1/query_exemplars */
	struct metrics_meta_book *metric_meta; /* remote-write and scrape metadata for /api/v1/metadata */
	struct scrape_pool *scrape;  /* Prometheus targets ooda scrapes (scrape_configs) */
	struct flagstore *flags;     /* feature flags per environment */
	struct flag_counts flag_counts; /* OFREP evaluations by flag and reason, for /metrics */
	struct logclass *logclass;   /* log error classes per service */
	struct redwatch *redwatch;   /* anomaly watch on RED */
	struct redfast *redfast;     /* fast change detector on RED errors */
	struct watches *watches;     /* anomaly watches on configured series */
	struct slo_set *slos;        /* SLOs and their burn-rate alerts */
	struct change change;        /* configs, deploys, rollbacks, approvals */
	bool change_ready;
	/* detect: alerting core, alert rules, the engine thread that ticks them */
	struct alerts *alerts;
	struct rules *rules;
	atomic_uint_least64_t fresh_batches; /* batches with spans or points made durable (writer thread) */
	uint64_t fresh_seen;                 /* fresh_batches at the last rules tick (engine thread) */
	struct engine *engine;
	struct engine *poke_engine; /* engine while it runs, for daemon_poke_engine (under its lock) */
	struct prober *prober;       /* probes of services in ooda.yaml */
	struct heartbeats *heartbeats; /* dead-man's switches */
	struct oncall_book *oncall;  /* respond: on-call config and overrides */
	struct notify *notify;       /* the notification outbox and its delivery worker */
	struct incidents *incidents; /* respond: incidents opened from alerts, their timelines */
	struct respond_glue *respond_glue; /* respond: triage, notifications, escalation of incidents (respond_glue.h) */
	struct remedy *remedy;       /* remediation: policies, runs, guardrails (remedy_glue.h); read atomically */
	struct vdoc_pruner pruner;   /* bounds control.db: old alert/silence/heartbeat versions (engine thread) */
	/* whether an incident id exists (action items check it); set by the
	 * incidents stage at start, NULL accepts any well-formed id */
	bool (*incident_exists)(void *ctx, const char *id);
	void *incident_ctx;
	/* the incidents with onset in [from, to) and their timelines ({id: timeline})
	 * for the reliability report and /metrics; set by the incidents stage, NULL: 503 */
	int (*incidents_fetch)(void *ctx, int64_t from_ns, int64_t to_ns, json_t **incidents, json_t **timelines,
			       struct buf *err);
	struct audit_signer signer;
	struct auth *auth;
	struct http_server *http;
	struct web_stream *stream;   /* the dashboard's live feed */
	pthread_mutex_t stream_mu;   /* guards stream against its stop while a stage's thread publishes */
	struct cluster *cluster;     /* the leader's lease and this node's heartbeat (api/cluster.h) */
	struct fresh *fresh;         /* fresh telemetry announced to the leader (api/fresh.h); NULL but with shared telemetry */
	struct forwarder *forwarder; /* a follower's requests for the leader (api/forward.h); NULL with one node */
	int64_t started_ns;
	int64_t reloads, reload_failures;
	/* exemplars and metadata other nodes stored, read up to here (api/prom_shared.h) */
	pthread_mutex_t shared_mu;
	int64_t shared_exemplar_id, shared_meta_seq;
	bool ready;
};

struct serve_options {
	const char *config_path; /* may be NULL */
	const char *listen;      /* overrides server.listen when set */
	const char *data_dir;    /* overrides server.data_dir when set */
	bool recreate_telemetry; /* a damaged or missing telemetry.db is moved aside and begun anew */
};

/* Runs until SIGTERM/SIGINT; returns 0 on a clean stop, else an error with detail. */
int daemon_serve(const struct serve_options *opt, struct buf *err);

/*
 * Registers the ooda.yaml section checks of every row of the stage table
 * (stage.h) with the config schema (config_register_check). Call once at process start, before any config is
 * loaded: `ooda serve`, reload and `ooda config check` then validate alike.
 */
void daemon_register_config_checks(void);

/*
 * Pokes the engine (engine_poke) while it runs, from any thread: a batch of
 * telemetry made durable, an evaluation with signals to deliver. ctx is the
 * struct daemon. A no-op before the engine starts and once it stops.
 */
void daemon_poke_engine(void *ctx);

/* The engine's ticks and poked ticks (engine_ticks, engine_poked_ticks); 0 when it is not running. */
void daemon_engine_ticks(struct daemon *d, int64_t *ticks, int64_t *poked);

/*
 * Re-reads the config file. A bad file is rejected (the old config stays)
 * and the reason returned; every attempt is audited with actor. When the new
 * file changes keys only a restart applies (server.threads, server.listen,
 * ...), they are logged as a warning and, if restart is not NULL, written
 * there as "a, b"; everything else takes effect now.
 *
 * On a control store several nodes share, the request then reaches every
 * node, accepted or refused here: it starts the cluster's next reload
 * generation (in the audit record's transaction; *generation receives it,
 * 0 on one node, may be NULL), and each other node re-reads its own file
 * within a second, records its outcome as config.node_reload or
 * config.node_reload_rejected (actor node:ID) and reports it in
 * GET /api/v1/cluster (cluster.h).
 */
int daemon_reload(struct daemon *d, const char *actor, struct buf *restart, int64_t *generation, struct buf *err);

/*
 * The route table of the daemon (api/routes.c), terminated by method NULL,
 * with the leader's routes marked (ROUTE_LEADER, ROUTE_HANDOVER) by their
 * paths on the first call. Static: never freed; safe from any thread.
 */
const struct route *api_routes_get(void);

#endif
