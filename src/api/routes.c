/*
 * The route table: every HTTP route of the daemon, its handler, the least
 * role that may call it, and a one-line summary. docs/api.md is generated
 * from this table (`ooda docs api`) and a test checks they agree.
 *
 * Which routes are the leader's is said once per path, in leader_marks
 * below, not row by row: api_routes_get() adds each mark's flags to the
 * rows it matches before the table is first used. ROUTE_LEADER marks a
 * route whose answer or effect is the leader's engine's (api/forward.h):
 * its memory (alert state, SLO burn, probes and heartbeats, anomaly
 * watches, the policies' breakers and the automation switch) or work only
 * the leader runs at once (remediation runs and approvals, runbook walks,
 * rollouts, rollbacks started, a deploy's verdict that may start a
 * remediation). With several nodes a follower forwards these to the
 * leader. Ingest, queries over stored data, OFREP and flags stay with the
 * node asked. ROUTE_HANDOVER: incident changes the engine acts on and
 * Alertmanager pushes, forwarded too, are handed over through the store
 * (api/handover.h) when no leader can be reached, rather than refused.
 */
#include "api/daemon.h"
#include "api/handlers.h"
#include "web/web.h"

#include <assert.h>
#include <pthread.h>
#include <string.h>

static struct route routes[] = {
	{ "GET", "/healthz", api_healthz, ROLE_NONE, ROUTE_OPEN, "Liveness: 200 while the process serves HTTP." },
	{ "GET", "/readyz", api_readyz, ROLE_NONE, ROUTE_OPEN, "Readiness: 200 when the store answers, else 503." },
	{ "GET", "/metrics", api_metrics, ROLE_VIEWER, ROUTE_QUIET, "ooda's own metrics in Prometheus text format." },
	{ "GET", "/", web_index, ROLE_NONE, ROUTE_OPEN, "The dashboard (docs/dashboard.md): the shell needs no token; its data calls send the bearer token." },
	{ "GET", "/assets/*", web_asset, ROLE_NONE, ROUTE_OPEN, "Dashboard assets embedded at build time (/assets/BUILD/NAME): gzip, ETag, cached a year." },
	{ "GET", "/api/v1/whoami", api_whoami, ROLE_INGEST, 0, "The caller: actor, role and flag environment of the token (what the dashboard shows and hides)." },
	{ "GET", "/api/v1/stream", api_stream, ROLE_VIEWER, 0, "Live feed (Server-Sent Events): alert transitions (`alert`), change events (`change`), incidents (`incident`: {event: opened, transition, reopened, severity, alert-joined or commander; incident: the document}), remediation runs (`run`: every stored move of a run — created, approved or rejected, each step's start and end, verifying, succeeded or failed — with its id, incident, status and step, no output), triage summaries (`summary`: {incident, top} when an incident's recomputed ranking changed its order), `dropped` when a slow client lost events; a comment every 15 s; at most 16 clients (429)." },
	{ "GET", "/api/v1/status", api_status, ROLE_VIEWER, 0, "Version, uptime, listen address, data dir, caller." },
	{ "GET", "/api/v1/cluster", api_cluster, ROLE_VIEWER, 0, "The nodes sharing this control store (id, address, role, last seen, version), the leader and its term; one node, always the leader with term 1, on SQLite. With several nodes: `feed` (live-feed events shared) and, on a shared ClickHouse, `fresh` (telemetry batches this node announced to the leader; announcements from others it heard while leading)." },
	{ "POST", "/api/v1/config/reload", api_config_reload, ROLE_ADMIN, 0, "Re-read ooda.yaml (like SIGHUP); a bad file is rejected with the reason." },
	{ "GET", "/api/v1/tokens", api_tokens_list, ROLE_ADMIN, 0, "List API tokens (never their secrets)." },
	{ "POST", "/api/v1/tokens", api_tokens_create, ROLE_ADMIN, 0, "Create a token: {name, role, env?, rationale?}; the secret is in the answer, once." },
	{ "DELETE", "/api/v1/tokens/{id}", api_tokens_revoke, ROLE_ADMIN, 0, "Revoke a token by id or name; listening beyond loopback, the last admin token is kept (409)." },
	{ "GET", "/api/v1/audit", api_audit_list, ROLE_VIEWER, 0, "Audit records, newest first; filters actor, action (prefix*), target, from, to, since, limit, cursor, order=asc." },
	{ "POST", "/api/v1/audit/verify", api_audit_verify, ROLE_VIEWER, 0, "Recompute the hash chain and checkpoint signatures, and find the anchored heads of the body (head, heads: \"SEQ:HASH\" or anchor lines) on it; names the first broken record." },
	{ "POST", "/api/v1/audit/checkpoint", api_audit_checkpoint, ROLE_ADMIN, 0, "Append an audit.checkpoint record and sign the new head; returns it as an anchor (seq, hash, time, signature, public_key)." },
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
	{ "GET", "/api/v1/services", api_services_list, ROLE_VIEWER, 0, "The service catalogue: every service declared in ooda.yaml or seen in telemetry, with owner, tier, live RED over window (default 5m), open incidents, firing alerts and health (ok, degraded, failing, unknown) with its reason." },
	{ "GET", "/api/v1/services/{name}", api_service_get, ROLE_VIEWER, 0, "One service: its catalogue entry, RED (per operation too), declared and traced callers and callees, probes, heartbeats, firing alerts, SLOs, open incidents, latest deploy, who is on call for its owner, and health with its reason; 404 when neither declared nor seen." },
	{ "GET", "/api/v1/patterns", api_patterns, ROLE_VIEWER, 0, "Log error classes (templates) per service seen since/from…to, busiest first; ?service=, ?severity=error." },
	{ "GET", "/api/v1/anomalies", api_anomalies, ROLE_VIEWER, 0, "Anomaly watches: RED per service (rate, error ratio, p99) and the anomalies: series, with baseline, band and score; `red_detector`: the fast RED change detector on or off, the services it watches and how many are still learning their baseline." },
	{ "GET", "/api/v1/graph", api_graph, ROLE_VIEWER, 0, "Service dependency graph from spans over window (default 5m): calls, rate, errors, latency per edge, each compared with the same edge over the baseline before it (default 1h) and given a health (ok, degraded, failing) with its reason; declared_edges: the services[].dependencies of ooda.yaml." },
	{ "GET", "/api/v1/query", api_prom_query, ROLE_VIEWER, 0, "Prometheus API: instant PromQL query (query, time); docs/promql.md lists the subset." },
	{ "POST", "/api/v1/query", api_prom_query, ROLE_VIEWER, 0, "Prometheus API: instant query with a form body, as Grafana sends it." },
	{ "GET", "/api/v1/query_range", api_prom_query_range, ROLE_VIEWER, 0, "Prometheus API: range query (query, start, end, step)." },
	{ "POST", "/api/v1/query_range", api_prom_query_range, ROLE_VIEWER, 0, "Prometheus API: range query with a form body." },
	{ "GET", "/api/v1/series", api_prom_series, ROLE_VIEWER, 0, "Prometheus API: series matching match[] in [start, end]." },
	{ "POST", "/api/v1/series", api_prom_series, ROLE_VIEWER, 0, "Prometheus API: series lookup with a form body." },
	{ "GET", "/api/v1/labels", api_prom_labels, ROLE_VIEWER, 0, "Prometheus API: label names (optionally of match[] series)." },
	{ "POST", "/api/v1/labels", api_prom_labels, ROLE_VIEWER, 0, "Prometheus API: label names with a form body." },
	{ "GET", "/api/v1/label/{name}/values", api_prom_label_values, ROLE_VIEWER, 0, "Prometheus API: values of one label." },
	{ "GET", "/api/v1/format_query", api_prom_format_query, ROLE_VIEWER, 0, "Prometheus API: the query's canonical text on one line (query), or the parse error." },
	{ "POST", "/api/v1/format_query", api_prom_format_query, ROLE_VIEWER, 0, "Prometheus API: format_query with a form body." },
	{ "GET", "/api/v1/metadata", api_prom_metadata, ROLE_VIEWER, 0, "Prometheus API: type, help and unit per metric from the OTLP points of the last 24 h and from remote-write metadata; metric, limit, limit_per_metric." },
	{ "GET", "/api/v1/targets", api_prom_targets, ROLE_VIEWER, 0, "Prometheus API: the targets of scrape_configs with their labels, scrape URL, health, last scrape, its duration and error; state=active|dropped|any. The leader scrapes them: a follower forwards this." },
	{ "GET", "/api/v1/query_exemplars", api_prom_query_exemplars, ROLE_VIEWER, 0, "Prometheus API: OTLP exemplars (trace and span id, value, time) of the series the query selects, in [start, end] (default the last hour); the newest 10,000 are kept in memory." },
	{ "POST", "/api/v1/query_exemplars", api_prom_query_exemplars, ROLE_VIEWER, 0, "Prometheus API: query_exemplars with a form body." },
	{ "GET", "/api/v1/rules", api_prom_rules, ROLE_VIEWER, 0, "Prometheus API: the alert rules of ooda.yaml as one rule group with their firing and pending alerts; type=alert or record." },
	{ "GET", "/api/v1/status/buildinfo", api_prom_buildinfo, ROLE_VIEWER, 0, "Prometheus API: build information (for Grafana's data source check)." },
	{ "GET", "/api/v1/flags", api_flags_list, ROLE_VIEWER, 0, "Flags of an environment (?env=, default `default`) with version, state, variants." },
	{ "GET", "/api/v1/flags/export", api_flags_export, ROLE_VIEWER, 0, "The environment as one flagd flag-definition document." },
	{ "POST", "/api/v1/flags/import", api_flags_import, ROLE_RESPONDER, 0, "Import a flagd document (?env=, ?replace=true drops absent flags); one version per changed flag; 409 if it would change a flag an approval rule protects." },
	{ "POST", "/api/v1/flags/kill", api_flags_kill_service, ROLE_RESPONDER, 0, "Kill switch per service: disable every flag of {service} changed within {since} (default 1h)." },
	{ "GET", "/api/v1/flags/{key}", api_flag_get, ROLE_VIEWER, 0, "One flag's definition (?version=N for an old one), with ETag \"vN\"." },
	{ "PUT", "/api/v1/flags/{key}", api_flag_put, ROLE_RESPONDER, 0, "Create or change a flag (flagd definition); If-Match \"vN\" guards against lost updates (412)." },
	{ "DELETE", "/api/v1/flags/{key}", api_flag_delete, ROLE_RESPONDER, 0, "Delete a flag (a new, deleted version; history stays)." },
	{ "GET", "/api/v1/flags/{key}/history", api_flag_history, ROLE_VIEWER, 0, "Every version of a flag with author, time and rationale." },
	{ "GET", "/api/v1/flags/{key}/diff", api_flag_diff, ROLE_VIEWER, 0, "Line diff between two versions: ?from=3&to=5." },
	{ "POST", "/api/v1/flags/{key}/rollback", api_flag_rollback, ROLE_RESPONDER, 0, "Make an old version current again: {to, rationale}." },
	{ "POST", "/api/v1/flags/{key}/kill", api_flag_kill, ROLE_RESPONDER, 0, "Kill switch: set the flag DISABLED now." },
	{ "POST", "/ofrep/v1/evaluate/flags/{key}", api_ofrep_flag, ROLE_INGEST, ROUTE_QUIET | ROUTE_CODE_ERRORS, "OFREP single flag evaluation ({context}); environment from X-Ooda-Env or the token." },
	{ "POST", "/ofrep/v1/evaluate/flags", api_ofrep_bulk, ROLE_INGEST, ROUTE_QUIET | ROUTE_CODE_ERRORS, "OFREP bulk evaluation with ETag / If-None-Match (304)." },
	{ "GET", "/ofrep/v1/configuration", api_ofrep_configuration, ROLE_INGEST, ROUTE_CODE_ERRORS, "OFREP provider configuration (polling, supported types)." },
	{ "GET", "/api/v1/configs", api_configs_list, ROLE_VIEWER, 0, "Config sets (service/env) with their current version; ?service= narrows." },
	{ "GET", "/api/v1/configs/{service}/{env}", api_config_get, ROLE_INGEST, ROUTE_QUIET, "A config as stored (JSON or YAML; ?format=json for JSON), ETag \"vN\", 304 on If-None-Match; ?version=N." },
	{ "PUT", "/api/v1/configs/{service}/{env}", api_config_put, ROLE_RESPONDER, 0, "New config version (application/json or application/yaml), validated against the service's schema; If-Match guards." },
	{ "GET", "/api/v1/configs/{service}/{env}/history", api_config_history, ROLE_VIEWER, 0, "Every version of a config with author, time and rationale." },
	{ "GET", "/api/v1/configs/{service}/{env}/diff", api_config_diff, ROLE_VIEWER, 0, "Line diff between two config versions: ?from=&to=." },
	{ "POST", "/api/v1/configs/{service}/{env}/rollback", api_config_rollback, ROLE_RESPONDER, 0, "Make an old config version current again: {to, rationale}." },
	{ "PUT", "/api/v1/config-schemas/{service}", api_config_schema_put, ROLE_ADMIN, 0, "The JSON schema (2020-12) every config of a service must satisfy; a keyword it cannot check is refused by name." },
	{ "POST", "/api/v1/deploys", api_deploy_record, ROLE_INGEST, 0, "Record a deploy {service, env, version, artifact, config_version?, migrations?, actor?, note?}; the token is the actor, a claimed actor is kept as reported_by; captures the flag snapshot." },
	{ "GET", "/api/v1/deploys", api_deploys_list, ROLE_VIEWER, 0, "Deploys newest first; ?service=, ?limit=." },
	{ "GET", "/api/v1/deploys/{id}", api_deploy_get, ROLE_VIEWER, 0, "One deploy with its flag snapshot, config version, migrations and last verification." },
	{ "POST", "/api/v1/deploys/{id}/verify", api_deploy_verify, ROLE_RESPONDER, 0, "Canary analysis of a deploy: pass, fail or inconclusive, with its numbers." },
	{ "GET", "/api/v1/deploys/{id}/rollback-plan", api_rollback_plan, ROLE_VIEWER, 0, "The inverse plan of a deploy (never acts); ?allow_irreversible=true." },
	{ "POST", "/api/v1/deploys/{id}/rollback", api_rollback_start, ROLE_RESPONDER, 0, "Start a durable rollback run {rationale, allow_irreversible?, wait?}, or an approval request when a rule says so." },
	{ "GET", "/api/v1/rollbacks/{id}", api_rollback_get, ROLE_VIEWER, 0, "A rollback run: plan, per-step state, status (?wait=true waits up to 30 s)." },
	{ "POST", "/api/v1/migrations", api_migration_register, ROLE_RESPONDER, 0, "Register a migration {service, id, up, down, reversible}." },
	{ "GET", "/api/v1/migrations", api_migrations_list, ROLE_VIEWER, 0, "Registered migrations; ?service=." },
	{ "POST", "/api/v1/rollouts", api_rollout_start, ROLE_RESPONDER, 0, "Start a progressive rollout of a flag variant or a deploy: {flag, env, variant, service | deploy, steps, hold, analysis?, max_inconclusive?, rationale} (docs/rollouts.md); each step is held, judged by canary analysis, promoted on pass, aborted and rolled back on fail." },
	{ "GET", "/api/v1/rollouts", api_rollouts_list, ROLE_VIEWER, 0, "Rollouts newest first; ?status=running, awaiting-approval, succeeded, aborted; ?limit=." },
	{ "GET", "/api/v1/rollouts/{id}", api_rollout_get, ROLE_VIEWER, 0, "One rollout: plan, current step, due time, verdicts and history." },
	{ "POST", "/api/v1/rollouts/{id}/promote", api_rollout_promote, ROLE_RESPONDER, 0, "End the current step's hold now and start the next {rationale}; 409 while a step waits for its approval." },
	{ "POST", "/api/v1/rollouts/{id}/abort", api_rollout_abort, ROLE_RESPONDER, 0, "Abort and roll back {rationale}: the flag to its version before the rollout, a deploy through its rollback plan." },
	{ "GET", "/api/v1/approvals", api_approvals_list, ROLE_VIEWER, 0, "Approval requests; ?status=pending (default), approved, rejected, expired, done, all." },
	{ "POST", "/api/v1/approvals/{id}/approve", api_approval_approve, ROLE_APPROVER, 0, "Approve (never your own request); the approved action then runs." },
	{ "POST", "/api/v1/approvals/{id}/reject", api_approval_reject, ROLE_APPROVER, 0, "Reject a request {rationale}." },
	{ "GET", "/api/v1/alerts", api_alerts_list, ROLE_VIEWER, 0, "Alerts by ?state=firing (default), pending, resolved, inactive or all; firing first, then newest; also, in Prometheus' envelope (status, data.alerts), the firing and pending alerts as Prometheus lists them." },
	{ "GET", "/api/v1/alerts/groups", api_alert_groups, ROLE_VIEWER, 0, "Alert groups (related services firing together); ?state=all includes resolved groups." },
	{ "POST", "/api/v1/alerts/alertmanager", api_alertmanager, ROLE_INGEST, 0, "Alertmanager webhook intake (payload version 4): firing and resolved alerts become external alerts." },
	{ "GET", "/api/v1/alerts/{fingerprint}", api_alert_get, ROLE_VIEWER, 0, "One alert with its transitions and the evidence behind each." },
	{ "GET", "/api/v1/notifications", api_notifications_list, ROLE_VIEWER, 0, "The notification outbox, newest first: delivery status per message; filters incident, alert, status (pending, delivered, failed), id (adds the payload), limit." },
	{ "POST", "/api/v1/notifications/test", api_notifications_test, ROLE_ADMIN, 0, "Queue a test message to one target: {target}; audited as notify.test; returns the notification id." },
	{ "GET", "/api/v1/incidents", api_incidents_list, ROLE_VIEWER, 0, "Incidents newest first; filters status (or open), service, severity, limit." },
	{ "POST", "/api/v1/incidents", api_incident_open, ROLE_RESPONDER, 0, "Open an incident by hand: {title, service?, severity?, summary?}." },
	{ "GET", "/api/v1/incidents/{id}", api_incident_get, ROLE_VIEWER, 0, "One incident (INC-7 or 7): status, severity, services, commander, alerts, times." },
	{ "GET", "/api/v1/incidents/{id}/timeline", api_incident_timeline, ROLE_VIEWER, 0, "The append-only timeline, seq ascending; ?kind= filters." },
	{ "GET", "/api/v1/incidents/{id}/summary", api_incident_summary, ROLE_VIEWER, 0, "The latest triage summary: impact, signals, error classes, changes, traces, runbook, suspects (computed now if none was yet)." },
	{ "GET", "/api/v1/incidents/{id}/suspects", api_incident_suspects, ROLE_VIEWER, 0, "Root-cause suspects of the latest summary, best first: {suspects: [{node, kind, score, confidence, evidence}]}." },
	{ "GET", "/api/v1/incidents/{id}/postmortem", api_incident_postmortem, ROLE_VIEWER, 0, "The postmortem draft as Markdown (?format=json wraps it): summary, impact, timeline, root cause, detection and response times, action items." },
	{ "POST", "/api/v1/incidents/{id}/transition", api_incident_transition, ROLE_RESPONDER, 0, "Move along the lifecycle: {to: acknowledged|mitigated|resolved|reviewed, note?, false_positive?} (false_positive: on resolve, the incident was no real problem); 409 naming from and to when illegal." },
	{ "POST", "/api/v1/incidents/{id}/commander", api_incident_commander, ROLE_RESPONDER, 0, "Hand command over: {commander, note?} (null clears it)." },
	{ "POST", "/api/v1/incidents/{id}/severity", api_incident_severity, ROLE_RESPONDER, 0, "Change severity: {severity: SEV1…SEV4, note?}." },
	{ "GET", "/api/v1/incidents/{id}/annotations", api_incident_annotations, ROLE_VIEWER, 0, "Annotations (markdown, author, time)." },
	{ "POST", "/api/v1/incidents/{id}/annotations", api_incident_annotate, ROLE_RESPONDER, 0, "Annotate: {markdown}." },
	{ "GET", "/api/v1/incidents/{id}/hypotheses", api_incident_hypotheses, ROLE_VIEWER, 0, "Hypotheses with evidence and their state." },
	{ "POST", "/api/v1/incidents/{id}/hypotheses", api_incident_hypothesis_add, ROLE_RESPONDER, 0, "Add a hypothesis: {statement, confidence 0–1, evidence: [{kind: logs|trace|promql|artifact|link, ref}]}." },
	{ "POST", "/api/v1/incidents/{id}/hypotheses/{hid}", api_incident_hypothesis_decide, ROLE_RESPONDER, 0, "Decide a hypothesis: {state: confirmed|rejected|open, note?}." },
	{ "GET", "/api/v1/incidents/{id}/artifacts", api_incident_artifacts, ROLE_VIEWER, 0, "Artifacts: name, content type, size, SHA-256, uploader, time." },
	{ "POST", "/api/v1/incidents/{id}/artifacts", api_incident_artifact_add, ROLE_RESPONDER, ROUTE_RAW_BODY, "Upload an artifact: the body is its bytes, ?name= its file name, Content-Type its type; size bounded by incidents.max_artifact_bytes." },
	{ "GET", "/api/v1/incidents/{id}/artifacts/{aid}", api_incident_artifact_get, ROLE_VIEWER, 0, "An artifact's bytes, after checking their SHA-256; a damaged one is refused (500, ECORRUPT)." },
	{ "GET", "/api/v1/incidents/{id}/status-updates", api_incident_status_updates, ROLE_VIEWER, 0, "Public status updates of the incident." },
	{ "POST", "/api/v1/incidents/{id}/status-updates", api_incident_status_update, ROLE_RESPONDER, 0, "Post a status update: {state: investigating|identified|monitoring|resolved, message}." },
	{ "GET", "/status", web_index, ROLE_NONE, ROUTE_OPEN, "The public status page (the dashboard shell, no token): it shows what /status.json serves." },
	{ "GET", "/status.json", api_status_page, ROLE_NONE, ROUTE_OPEN, "Public status page (no token) of incidents with status updates; 404 unless incidents.status_page is true." },
	{ "POST", "/api/v1/silences", api_silence_create, ROLE_RESPONDER, 0, "Create a silence {name?, service?, labels?, matchers? (amtool's k=v, k!=v, k=~regex, k!~regex; regexes anchored), starts_at?, ends_at? | duration, reason, creator?}; creator counts only without tokens (else it is kept as reported_by)." },
	{ "GET", "/api/v1/silences", api_silences_list, ROLE_VIEWER, 0, "Active and pending silences; ?all=true includes expired and deleted ones." },
	{ "DELETE", "/api/v1/silences/{id}", api_silence_delete, ROLE_RESPONDER, 0, "End a silence now (audited)." },
	{ "GET", "/api/v1/probes", api_probes_list, ROLE_VIEWER, 0, "Probes of every service: owner, state, hysteresis window (failures of the last M attempts), last results, next due; and the declared services with owner and dependencies." },
	{ "GET", "/api/v1/probes/{service}/{name}", api_probe_get, ROLE_VIEWER, 0, "One probe with its last results." },
	{ "GET", "/api/v1/heartbeats", api_heartbeats_list, ROLE_VIEWER, 0, "Heartbeats: state (up, late, failed, never), last ping, next due." },
	{ "POST", "/api/v1/heartbeats/{name}", api_heartbeat_ping, ROLE_INGEST, 0, "A job's ping: ?status=ok|fail|start or a body {status, message, duration_ms, exit_code}; persisted and audited." },
	{ "GET", "/api/v1/slos", api_slos_list, ROLE_VIEWER, 0, "SLOs: objective, window, SLI kind and value, error budget left, burn rates 5m…3d, alert state." },
	{ "GET", "/api/v1/slos/{name}", api_slo_get, ROLE_VIEWER, 0, "One SLO as in the list, plus its budget burn-down: budget remaining at the end of every hour of the window." },
	{ "GET", "/api/v1/oncall", api_oncall_who, ROLE_VIEWER, 0, "Who is on call now or ?at=TIME for every schedule, or ?schedule= or ?team=: primary, backups, the stint's start and end, the override in force." },
	{ "GET", "/api/v1/oncall/schedules/{name}", api_oncall_shifts, ROLE_VIEWER, 0, "The shifts of a schedule in ?from= … ?to= (default the next 7 days, at most 366): a calendar with overrides applied." },
	{ "GET", "/api/v1/oncall/overrides", api_oncall_overrides_list, ROLE_VIEWER, 0, "On-call overrides not yet ended (?all=true: every one); ?schedule= narrows." },
	{ "POST", "/api/v1/oncall/overrides", api_oncall_override_create, ROLE_RESPONDER, 0, "Override a schedule's primary {schedule, user, from?, to, reason}; audited with the caller as actor." },
	{ "DELETE", "/api/v1/oncall/overrides/{id}", api_oncall_override_delete, ROLE_RESPONDER, 0, "Delete an override (audited)." },
	{ "GET", "/api/v1/recipes", api_recipes_list, ROLE_VIEWER, 0, "The remediation recipe catalogue: each recipe with its params and the steps of each variant (sim, systemd, kubernetes)." },
	{ "GET", "/api/v1/recipes/{name}", api_recipe_get, ROLE_VIEWER, 0, "One recipe: params and, per variant, the exact steps (argv or URL templates) it expands into." },
	{ "GET", "/api/v1/runs", api_runs_list, ROLE_VIEWER, 0, "Remediation runs newest first, a page at a time: filters incident, policy, status (a run state); limit (default 100, at most 1000); before=ID for the next older page, after=ID for the next newer one (the page's `before` and `after`, null at the end). Finished runs past retention.runs_max_age or beyond the newest retention.runs_max_finished are deleted." },
	{ "GET", "/api/v1/runs/{id}", api_run_get, ROLE_VIEWER, 0, "One remediation run: trigger, rationale, plan, each step (argv or URL, output, exit status, timing), undo order, history of states." },
	{ "POST", "/api/v1/runs/{id}/approve", api_run_approve, ROLE_APPROVER, 0, "Approve a run awaiting approval (four-eyes: never a run of a policy you applied); it then acts." },
	{ "POST", "/api/v1/runs/{id}/reject", api_run_reject, ROLE_APPROVER, 0, "Reject a run awaiting approval {rationale}." },
	{ "POST", "/api/v1/runs/{id}/cancel", api_run_cancel, ROLE_RESPONDER, 0, "Cancel a run that has not acted yet (pending or awaiting approval) {rationale}." },
	{ "GET", "/api/v1/policies", api_policies_list, ROLE_VIEWER, 0, "Remediation policies: version, author, mode, guardrails, whether the circuit breaker is open, the document." },
	{ "GET", "/api/v1/policies/{name}", api_policy_get, ROLE_VIEWER, 0, "One policy with the history of its versions." },
	{ "PUT", "/api/v1/policies/{name}", api_policy_put, ROLE_ADMIN, 0, "Apply a policy (the document, or {policy, rationale}): checked like ooda.yaml's, stored as its next version; an unchanged document keeps its version." },
	{ "GET", "/api/v1/policies/{name}/diff", api_policy_diff, ROLE_VIEWER, 0, "Line diff of two versions of a policy: ?from=N&to=M (default: the latest against the one before)." },
	{ "POST", "/api/v1/policies/{name}/rollback", api_policy_rollback, ROLE_ADMIN, 0, "Apply an earlier version {to, rationale} again, as the policy's next version." },
	{ "GET", "/api/v1/runbooks", api_runbooks_list, ROLE_VIEWER, 0, "Runbooks: name, title, version, author, services, incident templates, steps; filters service, template." },
	{ "GET", "/api/v1/runbooks/{name}", api_runbook_get, ROLE_VIEWER, 0, "One runbook (?version=N, default the latest): its steps, its Markdown source and the history of its versions." },
	{ "PUT", "/api/v1/runbooks/{name}", api_runbook_put, ROLE_ADMIN, 0, "Apply a runbook {markdown, rationale}: every automated step is checked first; stored as its next version, an unchanged text keeps its version." },
	{ "POST", "/api/v1/runbooks/{name}/check", api_runbook_check, ROLE_VIEWER, 0, "Dry-run every automated step of the stored runbook, or of {markdown}: the exact argv or URL of each, or 422 naming the step and field refused." },
	{ "GET", "/api/v1/runbooks/{name}/diff", api_runbook_diff, ROLE_VIEWER, 0, "Line diff of the Markdown of two versions: ?from=N&to=M (default: the latest against the one before)." },
	{ "POST", "/api/v1/runbooks/{name}/rollback", api_runbook_rollback, ROLE_ADMIN, 0, "Apply an earlier version {to, rationale} again, as the runbook's next version." },
	{ "POST", "/api/v1/runbooks/{name}/run", api_runbook_run, ROLE_RESPONDER, 0, "Walk the runbook on an incident {incident, rationale}: automated steps run as remediation runs by runbook:NAME@vN, manual ones wait to be marked done." },
	{ "GET", "/api/v1/runbook-runs/{id}", api_runbook_run_get, ROLE_VIEWER, 0, "One runbook walk: each step, who did it and when, the run and status of each automated step." },
	{ "POST", "/api/v1/runbook-runs/{id}/steps/{n}/done", api_runbook_step_done, ROLE_RESPONDER, 0, "Mark manual step n of a walk done {note}, by you; the walk then moves on: each automated step after it starts once the one before has succeeded." },
	{ "GET", "/api/v1/automation", api_automation_get, ROLE_VIEWER, 0, "The global automation switch: paused, reason, by whom, since when, active runs." },
	{ "POST", "/api/v1/automation", api_automation_set, ROLE_RESPONDER, 0, "Pause {paused: true, reason} or resume {paused: false} every remediation decision; audited." },
	{ "GET", "/api/v1/incidents/{id}/actions", api_incident_actions_list, ROLE_VIEWER, 0, "Action items of an incident, by due date; ?overdue=true, ?owner=, ?status=open|done." },
	{ "POST", "/api/v1/incidents/{id}/actions", api_incident_actions_add, ROLE_RESPONDER, 0, "Add an action item {title, owner, due: YYYY-MM-DD, status?, rationale?}; key INC-7/A1; audited; 404 for an unknown incident." },
	{ "POST", "/api/v1/actions/{incident}/{item}", api_action_update, ROLE_RESPONDER, 0, "Change action item INCIDENT/ITEM: any of {status: open|done, owner, due, title, rationale}; audited." },
	{ "GET", "/api/v1/actions", api_actions_list, ROLE_VIEWER, 0, "Action items across incidents, by due date; ?overdue=true (open, due before today UTC), ?owner=, ?status=, ?incident=, ?limit= (default and most 1000; total counts all)." },
	{ "GET", "/api/v1/reports/automation", api_report_automation, ROLE_VIEWER, 0, "Automation report since ?since= (default 30 days ago), per policy and per recipe: runs by status, success rate, time from trigger to verified recovery (median, p90), undo count, guardrail hits by guardrail, false activations (runs on incidents resolved as false positives); drills excluded." },
	{ "GET", "/api/v1/reports/reliability", api_report_reliability, ROLE_VIEWER, 0, "Reliability report of ?from= to ?to= (default the last 30 days): MTTD, MTTA, MTTM, MTTR (mean, median) overall and per service, incidents per ISO week, recurrence; drills excluded." },
	{ NULL, NULL, NULL, 0, 0, NULL },
};

/*
 * The leader's routes by path. A pattern ending in "/ *" (no space) marks
 * that path and every route below it; any other pattern, that route alone.
 * method NULL: every method. A route takes the flags of every mark it
 * matches; a mark that matches no route is a mistake (asserted).
 */
struct route_mark {
	const char *method;
	const char *pattern;
	unsigned flags;
};

static const struct route_mark leader_marks[] = {
	/* the engine's memory: read and changed only through the leader */
	{ NULL, "/api/v1/alerts/*", ROUTE_LEADER },
	{ NULL, "/api/v1/rules", ROUTE_LEADER },
	{ "GET", "/api/v1/targets", ROUTE_LEADER }, /* the leader scrapes (on a shared ClickHouse) */
	{ NULL, "/api/v1/services/*", ROUTE_LEADER },
	{ NULL, "/api/v1/anomalies", ROUTE_LEADER },
	{ NULL, "/api/v1/probes/*", ROUTE_LEADER },
	{ NULL, "/api/v1/heartbeats/*", ROUTE_LEADER },
	{ NULL, "/api/v1/slos/*", ROUTE_LEADER },
	{ NULL, "/api/v1/policies/*", ROUTE_LEADER },
	{ NULL, "/api/v1/automation", ROUTE_LEADER },
	{ NULL, "/api/v1/runbook-runs/*", ROUTE_LEADER },
	/* work the leader starts at once; reading what is stored stays with any node */
	{ "POST", "/api/v1/silences/*", ROUTE_LEADER },
	{ "DELETE", "/api/v1/silences/*", ROUTE_LEADER },
	{ "POST", "/api/v1/runs/*", ROUTE_LEADER },
	{ "POST", "/api/v1/approvals/*", ROUTE_LEADER },
	{ "POST", "/api/v1/rollouts/*", ROUTE_LEADER },
	{ "POST", "/api/v1/deploys/{id}/verify", ROUTE_LEADER },
	{ "POST", "/api/v1/deploys/{id}/rollback", ROUTE_LEADER },
	{ "POST", "/api/v1/runbooks/{name}/run", ROUTE_LEADER },
	/* handed over through the store when no leader can be reached */
	{ "POST", "/api/v1/alerts/alertmanager", ROUTE_LEADER | ROUTE_HANDOVER },
	{ "POST", "/api/v1/incidents", ROUTE_LEADER | ROUTE_HANDOVER },
	{ "POST", "/api/v1/incidents/{id}/transition", ROUTE_LEADER | ROUTE_HANDOVER },
	{ "POST", "/api/v1/incidents/{id}/commander", ROUTE_LEADER | ROUTE_HANDOVER },
	{ "POST", "/api/v1/incidents/{id}/severity", ROUTE_LEADER | ROUTE_HANDOVER },
};

/* Whether mark m covers the route (method, pattern). */
static bool mark_covers(const struct route_mark *m, const char *method, const char *pattern)
{
	if (m->method && strcmp(m->method, method))
		return false;
	size_t n = strlen(m->pattern);
	if (n < 2 || strcmp(m->pattern + n - 2, "/*"))
		return !strcmp(m->pattern, pattern);
	n -= 2; /* the stem itself, or the stem and a '/' */
	return !strncmp(m->pattern, pattern, n) && (pattern[n] == '\0' || pattern[n] == '/');
}

static void marks_apply(void)
{
	for (size_t i = 0; i < sizeof(leader_marks) / sizeof(leader_marks[0]); i++) {
		size_t matched = 0;
		for (struct route *r = routes; r->method; r++)
			if (mark_covers(&leader_marks[i], r->method, r->pattern)) {
				r->flags |= leader_marks[i].flags;
				matched++;
			}
		assert(matched > 0 && "a leader mark that matches no route (api/routes.c)");
		(void)matched;
	}
}

const struct route *api_routes_get(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, marks_apply);
	return routes;
}
