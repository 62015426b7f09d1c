/*
 * System routes: liveness, readiness, ooda's own metrics in Prometheus text
 * format, status, and configuration reload.
 */
#include "api/api.h"
#include "api/cluster.h"
#include "api/fresh.h"
#include "web/stream.h"
#include "api/handlers.h"
#include "core/log.h"
#include "core/procstat.h"
#include "core/time.h"

#include <unistd.h>

int api_healthz(struct http_request *req, struct http_response *res)
{
	struct buf b = BUF_INIT;
	buf_adds(&b, "{\"status\":\"ok\"}");
	http_json(res, 200, &b);
	return 0;
}

/*
 * Ready when started, the control store answers, and neither store's last
 * write failed for lack of disk space (a full disk answers 503 here with
 * the reason, so a load balancer sends writes elsewhere until space is freed).
 */
int api_readyz(struct http_request *req, struct http_response *res)
{
	struct daemon *d = api_daemon(req);
	int64_t v;
	bool store_ok = store_data_version(d->store, &v) == 0;
	bool control_full;
	uint64_t failures;
	store_space(d->store, &control_full, &failures);
	struct tstore_stats ts;
	tstore_stats(d->tstore, &ts);
	bool full = control_full || ts.disk_full;
	struct buf b = BUF_INIT;
	bool ready = d->ready && store_ok && !full;
	buf_addf(&b, "{\"status\":\"%s\",\"store\":\"%s\",\"disk\":\"%s\"", ready ? "ready" : "not ready",
		 store_ok ? "ok" : "unavailable", full ? "full" : "ok");
	if (full)
		buf_addf(&b, ",\"reason\":\"the disk of the data dir is full: the last write to %s failed for lack of space; "
			     "free space (writes resume without a restart)\"",
			 control_full && ts.disk_full ? "both stores" : control_full ? "the control store" : "telemetry.db");
	buf_addch(&b, '}');
	http_json(res, ready ? 200 : 503, &b);
	return 0;
}

/* The process_* series Prometheus client libraries expose on Linux, and ooda_build_info. */
static void process_metrics(struct buf *b)
{
	struct procstat p;
	struct buf err = BUF_INIT;
	if (procstat_read(&p, &err))
		log_debug("process metrics incomplete: %s", err.data);
	buf_release(&err);
	buf_addf(b,
		 "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
		 "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %.2f\n"
		 "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
		 "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %llu\n"
		 "# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n"
		 "# TYPE process_virtual_memory_bytes gauge\nprocess_virtual_memory_bytes %llu\n"
		 "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n"
		 "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %.2f\n",
		 p.cpu_seconds, (unsigned long long)p.resident_bytes, (unsigned long long)p.virtual_bytes, p.start_time);
	if (p.open_fds >= 0)
		buf_addf(b,
			 "# HELP process_open_fds Number of open file descriptors.\n"
			 "# TYPE process_open_fds gauge\nprocess_open_fds %lld\n",
			 (long long)p.open_fds);
	if (p.max_fds >= 0)
		buf_addf(b,
			 "# HELP process_max_fds Maximum number of open file descriptors.\n"
			 "# TYPE process_max_fds gauge\nprocess_max_fds %lld\n",
			 (long long)p.max_fds);
	buf_adds(b, "# HELP ooda_build_info The version of ooda running; always 1.\n"
		    "# TYPE ooda_build_info gauge\nooda_build_info{version=\"" OODA_VERSION "\"} 1\n");
}

int api_metrics(struct http_request *req, struct http_response *res)
{
	struct daemon *d = api_daemon(req);
	struct buf b = BUF_INIT;
	process_metrics(&b);
	http_server_metrics(d->http, &b);
	flag_counts_metrics(&d->flag_counts, &b);
	int64_t bytes = 0, audit_rows = 0;
	store_stats(d->store, &bytes, &audit_rows);
	buf_addf(&b,
		 "# HELP ooda_store_bytes Size of the control-plane database files.\n"
		 "# TYPE ooda_store_bytes gauge\nooda_store_bytes{store=\"control\"} %lld\n"
		 "# HELP ooda_audit_records Records in the audit chain.\n"
		 "# TYPE ooda_audit_records gauge\nooda_audit_records %lld\n"
		 "# HELP ooda_queue_depth Work waiting in internal queues.\n"
		 "# TYPE ooda_queue_depth gauge\nooda_queue_depth{queue=\"control_writer\"} %zu\n"
		 "# HELP ooda_config_reloads_total Configuration reloads by outcome.\n"
		 "# TYPE ooda_config_reloads_total counter\n"
		 "ooda_config_reloads_total{outcome=\"ok\"} %lld\nooda_config_reloads_total{outcome=\"rejected\"} %lld\n"
		 "# HELP ooda_api_tokens Active API tokens.\n"
		 "# TYPE ooda_api_tokens gauge\nooda_api_tokens %zu\n",
		 (long long)bytes, (long long)audit_rows, store_queue_depth(d->store), (long long)d->reloads,
		 (long long)d->reload_failures, auth_active_tokens(d->auth));
	struct tstore_stats ts;
	tstore_stats(d->tstore, &ts);
	static const char *const sig[3] = { "logs", "spans", "metrics" };
	buf_adds(&b, "# HELP ooda_telemetry_records Records stored in telemetry blocks.\n"
		     "# TYPE ooda_telemetry_records gauge\n");
	for (int i = 0; i < 3; i++)
		buf_addf(&b, "ooda_telemetry_records{signal=\"%s\"} %llu\n", sig[i], (unsigned long long)ts.records[i]);
	buf_adds(&b, "# HELP ooda_telemetry_blocks Telemetry blocks stored.\n# TYPE ooda_telemetry_blocks gauge\n");
	for (int i = 0; i < 3; i++)
		buf_addf(&b, "ooda_telemetry_blocks{signal=\"%s\"} %llu\n", sig[i], (unsigned long long)ts.blocks[i]);
	buf_adds(&b, "# HELP ooda_telemetry_block_bytes Compressed bytes of telemetry blocks (data and blooms).\n"
		     "# TYPE ooda_telemetry_block_bytes gauge\n");
	for (int i = 0; i < 3; i++)
		buf_addf(&b, "ooda_telemetry_block_bytes{signal=\"%s\"} %llu\n", sig[i], (unsigned long long)ts.bytes[i]);
	buf_addf(&b,
		 "# HELP ooda_change_events Change events stored.\n# TYPE ooda_change_events gauge\nooda_change_events %llu\n"
		 "# HELP ooda_telemetry_file_bytes Size of telemetry.db and its WAL.\n"
		 "# TYPE ooda_telemetry_file_bytes gauge\nooda_telemetry_file_bytes %llu\n"
		 "# HELP ooda_ingest_queue_bytes Encoded telemetry waiting for the writer.\n"
		 "# TYPE ooda_ingest_queue_bytes gauge\nooda_ingest_queue_bytes %llu\n"
		 "# HELP ooda_ingest_rejected_busy_total Ingest requests refused with 429 because the queue was full.\n"
		 "# TYPE ooda_ingest_rejected_busy_total counter\nooda_ingest_rejected_busy_total %llu\n"
		 "# HELP ooda_telemetry_commits_total Group commits of the telemetry writer.\n"
		 "# TYPE ooda_telemetry_commits_total counter\nooda_telemetry_commits_total %llu\n"
		 "# HELP ooda_telemetry_compactions_total Compaction rounds that merged blocks.\n"
		 "# TYPE ooda_telemetry_compactions_total counter\nooda_telemetry_compactions_total %llu\n"
		 "# HELP ooda_telemetry_retention_dropped_total Blocks dropped by retention.\n"
		 "# TYPE ooda_telemetry_retention_dropped_total counter\nooda_telemetry_retention_dropped_total %llu\n",
		 (unsigned long long)ts.events, (unsigned long long)ts.file_bytes, (unsigned long long)ts.queue_bytes,
		 (unsigned long long)ts.rejected_busy, (unsigned long long)ts.commits, (unsigned long long)ts.compactions,
		 (unsigned long long)ts.retention_dropped);
	buf_addf(&b, "# HELP ooda_telemetry_corrupt_blocks_total Damaged telemetry blocks found (and skipped by reads) since start.\n"
		     "# TYPE ooda_telemetry_corrupt_blocks_total counter\nooda_telemetry_corrupt_blocks_total %llu\n",
		 (unsigned long long)ts.corrupt_blocks);
	bool control_full;
	uint64_t control_full_failures;
	store_space(d->store, &control_full, &control_full_failures);
	buf_addf(&b,
		 "# HELP ooda_store_disk_full 1 while the last write of a store failed because its disk is full (alert on this).\n"
		 "# TYPE ooda_store_disk_full gauge\n"
		 "ooda_store_disk_full{store=\"control\"} %d\nooda_store_disk_full{store=\"telemetry\"} %d\n"
		 "# HELP ooda_store_disk_full_failures_total Writes refused with 507 because the disk was full.\n"
		 "# TYPE ooda_store_disk_full_failures_total counter\n"
		 "ooda_store_disk_full_failures_total{store=\"control\"} %llu\n"
		 "ooda_store_disk_full_failures_total{store=\"telemetry\"} %llu\n",
		 control_full ? 1 : 0, ts.disk_full ? 1 : 0, (unsigned long long)control_full_failures,
		 (unsigned long long)ts.disk_full_failures);
	if (d->alerts)
		alerts_metrics(d->alerts, &b);
	int64_t ticks = 0, poked = 0;
	daemon_engine_ticks(d, &ticks, &poked);
	buf_addf(&b,
		 "# HELP ooda_engine_ticks_total Detection engine ticks since start.\n"
		 "# TYPE ooda_engine_ticks_total counter\nooda_engine_ticks_total %lld\n"
		 "# HELP ooda_engine_poked_ticks_total Engine ticks asked for by new telemetry or a finished rule "
		 "evaluation, ahead of the period.\n"
		 "# TYPE ooda_engine_poked_ticks_total counter\nooda_engine_poked_ticks_total %lld\n",
		 (long long)ticks, (long long)poked);
	api_reliability_metrics(d, &b);
	api_automation_metrics(d, &b);
	if (d->notify)
		notify_metrics(d->notify, &b);
	res->status = 200;
	res->content_type = "text/plain; version=0.0.4; charset=utf-8";
	buf_release(&res->body);
	res->body = b;
	return 0;
}

int api_status(struct http_request *req, struct http_response *res)
{
	struct daemon *d = api_daemon(req);
	char started[40];
	json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:b, s:s}",
			      "version", OODA_VERSION, "listen", d->listen, "data_dir", d->data_dir,
			      "uptime_seconds", (json_int_t)((ooda_now_ns() - d->started_ns) / OODA_NS_PER_SEC),
			      "started", ooda_time_format(d->started_ns, started, sizeof(started)),
			      "config", d->config_path ? d->config_path : "", "auth_required",
			      auth_active_tokens(d->auth) > 0, "you", req->who.actor);
	api_send_json(res, 200, j);
	return 0;
}

int api_cluster(struct http_request *req, struct http_response *res)
{
	struct daemon *d = api_daemon(req);
	json_t *j = NULL;
	if (!d->cluster) {
		buf_adds(&req->err, "the cluster is not set up yet");
		return OODA_EUNAVAIL;
	}
	int rc = cluster_status_json(d->cluster, &j, &req->err);
	if (rc)
		return rc;
	if (cluster_multi(d->cluster)) { /* the live feed's events shared with the other nodes (web/stream.h) */
		uint64_t sent = 0, received = 0, lost = 0;
		pthread_mutex_lock(&d->stream_mu);
		if (d->stream)
			web_stream_share_stats(d->stream, &sent, &received, &lost);
		pthread_mutex_unlock(&d->stream_mu);
		json_object_set_new(j, "feed", json_pack("{s:I, s:I, s:I}", "events_sent", (json_int_t)sent,
							 "events_received", (json_int_t)received, "events_lost",
							 (json_int_t)lost));
	}
	if (d->fresh) { /* fresh telemetry announced to the leader (api/fresh.h) */
		uint64_t sent = 0, heard = 0;
		fresh_counts(d->fresh, &sent, &heard);
		json_object_set_new(j, "fresh", json_pack("{s:I, s:I}", "announced", (json_int_t)sent, "heard",
							  (json_int_t)heard));
	}
	api_send_json(res, 200, j);
	return 0;
}

int api_whoami(struct http_request *req, struct http_response *res)
{
	struct daemon *d = api_daemon(req);
	json_t *j = json_pack("{s:s, s:s, s:s, s:b}", "actor", req->who.actor, "role", role_name(req->who.role),
			      "env", req->who.env, "auth_required", auth_active_tokens(d->auth) > 0);
	api_send_json(res, 200, j);
	return 0;
}

int api_stream(struct http_request *req, struct http_response *res)
{
	struct daemon *d = api_daemon(req);
	if (!d->stream) {
		buf_adds(&req->err, "the live feed is not running");
		return OODA_EUNAVAIL;
	}
	web_stream_set_server(d->stream, d->http);
	return web_stream_open(d->stream, res, &req->err);
}

/* How long a reload over HTTP waits for the other nodes to answer it. */
#define RELOAD_WAIT_NS (INT64_C(10) * 1000000000)

int api_config_reload(struct http_request *req, struct http_response *res)
{
	struct daemon *d = api_daemon(req);
	struct buf restart = BUF_INIT;
	int64_t gen = 0;
	int rc = daemon_reload(d, req->who.actor, &restart, &gen, &req->err);
	if (rc) {
		buf_release(&restart);
		if (gen) {
			/* refused here and passed on all the same: answered once every node re-read its file too */
			json_t *nodes = NULL;
			struct buf werr = BUF_INIT;
			cluster_config_wait(d->cluster, gen, RELOAD_WAIT_NS, &nodes, &werr);
			json_decref(nodes);
			buf_release(&werr);
		}
		return rc == OODA_EIO ? OODA_EINVAL : rc;
	}
	json_t *body = json_pack("{s:s, s:s}", "status", "reloaded", "config", d->config_path);
	if (gen) {
		/* several nodes: answered when each has re-read its own file (each within a second or so) */
		json_t *nodes = NULL;
		struct buf werr = BUF_INIT;
		int wrc = cluster_config_wait(d->cluster, gen, RELOAD_WAIT_NS, &nodes, &werr);
		json_object_set_new(body, "generation", json_integer(gen));
		if (nodes)
			json_object_set_new(body, "nodes", nodes);
		size_t i;
		json_t *n;
		bool refused = false;
		json_array_foreach(nodes, i, n)
			refused = refused || *json_string_value(json_object_get(n, "error"));
		if (wrc == OODA_ETIMEOUT)
			json_object_set_new(body, "cluster_warning",
					    json_string("not every node answered the reload in time: see nodes"));
		else if (wrc)
			json_object_set_new(body, "cluster_warning", json_string(werr.data ? werr.data : "nodes unknown"));
		else if (refused)
			json_object_set_new(body, "cluster_warning",
					    json_string("a node refused its ooda.yaml and keeps its previous one: see nodes"));
		buf_release(&werr);
	}
	if (restart.len) {
		/* keys a reload cannot apply: named, so nobody believes they took effect */
		json_t *keys = json_array();
		for (char *k = restart.data, *next; k; k = next) {
			next = strstr(k, ", ");
			if (next) {
				*next = '\0';
				next += 2;
			}
			json_array_append_new(keys, json_string(k));
		}
		json_object_set_new(body, "restart_required", keys);
		char msg[600];
		snprintf(msg, sizeof(msg), "changed keys that take effect only at the next restart: %.500s",
			 json_string_value(json_array_get(keys, 0)));
		for (size_t i = 1; i < json_array_size(keys) && strlen(msg) < 500; i++)
			snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), ", %.60s",
				 json_string_value(json_array_get(keys, i)));
		json_object_set_new(body, "warning", json_string(msg));
	}
	buf_release(&restart);
	api_send_json(res, 200, body);
	return 0;
}
