/*
 * The route table: every HTTP route of the daemon, its handler, the least
 * role that may call it, and a one-line summary. docs/api.md is generated
 * from this table (`ooda docs api`) and a test checks they agree.
 */
#include "api/daemon.h"
#include "api/handlers.h"

const struct route api_routes[] = {
	{ "GET", "/healthz", api_healthz, ROLE_NONE, ROUTE_OPEN, "Liveness: 200 while the process serves HTTP." },
	{ "GET", "/readyz", api_readyz, ROLE_NONE, ROUTE_OPEN, "Readiness: 200 when the store answers, else 503." },
	{ "GET", "/metrics", api_metrics, ROLE_VIEWER, 0, "ooda's own metrics in Prometheus text format." },
	{ "GET", "/api/v1/status", api_status, ROLE_VIEWER, 0, "Version, uptime, listen address, data dir, caller." },
	{ "POST", "/api/v1/config/reload", api_config_reload, ROLE_ADMIN, 0, "Re-read ooda.yaml (like SIGHUP); a bad file is rejected with the reason." },
	{ "GET", "/api/v1/tokens", api_tokens_list, ROLE_ADMIN, 0, "List API tokens (never their secrets)." },
	{ "POST", "/api/v1/tokens", api_tokens_create, ROLE_ADMIN, 0, "Create a token: {name, role, env?, rationale?}; the secret is in the answer, once." },
	{ "DELETE", "/api/v1/tokens/{id}", api_tokens_revoke, ROLE_ADMIN, 0, "Revoke a token by id or name." },
	{ "GET", "/api/v1/audit", api_audit_list, ROLE_VIEWER, 0, "Audit records, newest first; filters actor, action (prefix*), target, from, to, since, limit, cursor, order=asc." },
	{ "POST", "/api/v1/audit/verify", api_audit_verify, ROLE_VIEWER, 0, "Recompute the hash chain and checkpoint signatures; names the first broken record." },
	{ "POST", "/api/v1/audit/checkpoint", api_audit_checkpoint, ROLE_ADMIN, 0, "Write an Ed25519-signed checkpoint of the chain head." },
	{ "POST", "/v1/logs", api_otlp_logs, ROLE_INGEST, ROUTE_INGEST | ROUTE_RAW_BODY, "OTLP/HTTP logs (protobuf or JSON, gzip); partial success for bad records; 429 + Retry-After when the queue is full." },
	{ "POST", "/v1/traces", api_otlp_traces, ROLE_INGEST, ROUTE_INGEST | ROUTE_RAW_BODY, "OTLP/HTTP traces (protobuf or JSON, gzip); feeds RED and the dependency graph." },
	{ "POST", "/v1/metrics", api_otlp_metrics, ROLE_INGEST, ROUTE_INGEST | ROUTE_RAW_BODY, "OTLP/HTTP metrics: gauge, sum, histogram, exponential histogram, summary." },
	{ "POST", "/api/v1/write", api_remote_write, ROLE_INGEST, ROUTE_INGEST | ROUTE_RAW_BODY, "Prometheus remote-write 1.0 (snappy-compressed WriteRequest)." },
	{ "POST", "/api/v1/logs", api_ndjson_logs, ROLE_INGEST, ROUTE_INGEST | ROUTE_RAW_BODY, "NDJSON logs, one object per line; bad lines reported by number, good lines kept." },
	{ "POST", "/api/v1/events", api_events_post, ROLE_INGEST, ROUTE_INGEST | ROUTE_RAW_BODY, "Change events: JSON object or array, or CloudEvents 1.0 (structured, batch, binary mode)." },
	{ "GET", "/api/v1/events", api_events_list, ROLE_VIEWER, 0, "Change events newest first; filters service, kind, env, since/from, to, limit." },
	{ "GET", "/api/v1/logs/search", api_logs_search, ROLE_VIEWER, 0, "Log search: q (docs/query.md), since or from/to, limit, cursor; newest first." },
	{ "GET", "/api/v1/logs/facets", api_logs_facets, ROLE_VIEWER, 0, "Top values per field (fields=service,severity,…) and a count-over-time histogram for q." },
	{ "GET", "/api/v1/traces/{id}", api_trace_get, ROLE_VIEWER, 0, "One trace: spans in tree order with depth, and the logs carrying its trace id." },
	{ "GET", "/api/v1/traces", api_traces_find, ROLE_VIEWER, 0, "Find traces: service, op, min_duration, status=error, since/from/to, limit." },
	{ "GET", "/api/v1/services", api_services_list, ROLE_VIEWER, 0, "Live RED per service (rate, error ratio, p50/p90/p99) over window (default 5m)." },
	{ "GET", "/api/v1/services/{name}", api_service_get, ROLE_VIEWER, 0, "One service: RED per operation, its callers and callees, ingest rate." },
	{ "GET", "/api/v1/graph", api_graph, ROLE_VIEWER, 0, "Service dependency graph from spans: calls, errors, latency per edge." },
	{ "GET", "/api/v1/query", api_prom_query, ROLE_VIEWER, 0, "Prometheus API: instant PromQL query (query, time); docs/promql.md lists the subset." },
	{ "POST", "/api/v1/query", api_prom_query, ROLE_VIEWER, 0, "Prometheus API: instant query with a form body, as Grafana sends it." },
	{ "GET", "/api/v1/query_range", api_prom_query_range, ROLE_VIEWER, 0, "Prometheus API: range query (query, start, end, step)." },
	{ "POST", "/api/v1/query_range", api_prom_query_range, ROLE_VIEWER, 0, "Prometheus API: range query with a form body." },
	{ "GET", "/api/v1/series", api_prom_series, ROLE_VIEWER, 0, "Prometheus API: series matching match[] in [start, end]." },
	{ "POST", "/api/v1/series", api_prom_series, ROLE_VIEWER, 0, "Prometheus API: series lookup with a form body." },
	{ "GET", "/api/v1/labels", api_prom_labels, ROLE_VIEWER, 0, "Prometheus API: label names (optionally of match[] series)." },
	{ "POST", "/api/v1/labels", api_prom_labels, ROLE_VIEWER, 0, "Prometheus API: label names with a form body." },
	{ "GET", "/api/v1/label/{name}/values", api_prom_label_values, ROLE_VIEWER, 0, "Prometheus API: values of one label." },
	{ "GET", "/api/v1/status/buildinfo", api_prom_buildinfo, ROLE_VIEWER, 0, "Prometheus API: build information (for Grafana's data source check)." },
	{ NULL, NULL, NULL, 0, 0, NULL },
};
