/* Every API handler, one block per resource file; the route table lists them. */
#ifndef OODA_HANDLERS_H
#define OODA_HANDLERS_H

#include "http/server.h"

/* system.c */
int api_healthz(struct http_request *req, struct http_response *res);
int api_readyz(struct http_request *req, struct http_response *res);
int api_metrics(struct http_request *req, struct http_response *res);
int api_status(struct http_request *req, struct http_response *res);
int api_cluster(struct http_request *req, struct http_response *res);
int api_whoami(struct http_request *req, struct http_response *res);
int api_stream(struct http_request *req, struct http_response *res);
int api_config_reload(struct http_request *req, struct http_response *res);

/* tokens.c */
int api_tokens_list(struct http_request *req, struct http_response *res);
int api_tokens_create(struct http_request *req, struct http_response *res);
int api_tokens_revoke(struct http_request *req, struct http_response *res);

/* audit_api.c */
int api_audit_list(struct http_request *req, struct http_response *res);
int api_audit_verify(struct http_request *req, struct http_response *res);
int api_audit_checkpoint(struct http_request *req, struct http_response *res);

/* ingest_api.c */
int api_otlp_logs(struct http_request *req, struct http_response *res);
int api_otlp_traces(struct http_request *req, struct http_response *res);
int api_otlp_metrics(struct http_request *req, struct http_response *res);
int api_remote_write(struct http_request *req, struct http_response *res);
int api_ndjson_logs(struct http_request *req, struct http_response *res);
int api_events_post(struct http_request *req, struct http_response *res);
int api_events_list(struct http_request *req, struct http_response *res);

/* query_api.c */
int api_logs_search(struct http_request *req, struct http_response *res);
int api_logs_facets(struct http_request *req, struct http_response *res);
int api_trace_get(struct http_request *req, struct http_response *res);
int api_traces_find(struct http_request *req, struct http_response *res);
int api_graph(struct http_request *req, struct http_response *res);
int api_patterns(struct http_request *req, struct http_response *res);
int api_anomalies(struct http_request *req, struct http_response *res);

/* prom_api.c */
int api_prom_query(struct http_request *req, struct http_response *res);
int api_prom_query_range(struct http_request *req, struct http_response *res);
int api_prom_series(struct http_request *req, struct http_response *res);
int api_prom_labels(struct http_request *req, struct http_response *res);
int api_prom_label_values(struct http_request *req, struct http_response *res);
int api_prom_buildinfo(struct http_request *req, struct http_response *res);
int api_prom_format_query(struct http_request *req, struct http_response *res);
int api_prom_rules(struct http_request *req, struct http_response *res);
int api_prom_metadata(struct http_request *req, struct http_response *res);
int api_prom_query_exemplars(struct http_request *req, struct http_response *res);
int api_prom_targets(struct http_request *req, struct http_response *res);
/* Appends {"alerts":[…]}: the firing and pending alerts in Prometheus' shape. */
void api_prom_alerts_data(struct http_request *req, struct buf *out);

/* flags_api.c */
int api_flags_list(struct http_request *req, struct http_response *res);
int api_flag_get(struct http_request *req, struct http_response *res);
int api_flag_put(struct http_request *req, struct http_response *res);
int api_flag_delete(struct http_request *req, struct http_response *res);
int api_flag_history(struct http_request *req, struct http_response *res);
int api_flag_diff(struct http_request *req, struct http_response *res);
int api_flag_rollback(struct http_request *req, struct http_response *res);
int api_flag_kill(struct http_request *req, struct http_response *res);
int api_flags_kill_service(struct http_request *req, struct http_response *res);
int api_flags_import(struct http_request *req, struct http_response *res);
int api_flags_export(struct http_request *req, struct http_response *res);
int api_ofrep_flag(struct http_request *req, struct http_response *res);
int api_ofrep_bulk(struct http_request *req, struct http_response *res);
int api_ofrep_configuration(struct http_request *req, struct http_response *res);
/* diff of two versions of a document, ?from=&to= (shared by flags and configs) */
int api_doc_diff(struct http_request *req, struct http_response *res, const char *kind, const char *key);

/* change_api.c */
int api_configs_list(struct http_request *req, struct http_response *res);
int api_config_get(struct http_request *req, struct http_response *res);
int api_config_put(struct http_request *req, struct http_response *res);
int api_config_history(struct http_request *req, struct http_response *res);
int api_config_diff(struct http_request *req, struct http_response *res);
int api_config_rollback(struct http_request *req, struct http_response *res);
int api_config_schema_put(struct http_request *req, struct http_response *res);
int api_deploy_record(struct http_request *req, struct http_response *res);
int api_deploys_list(struct http_request *req, struct http_response *res);
int api_deploy_get(struct http_request *req, struct http_response *res);
int api_deploy_verify(struct http_request *req, struct http_response *res);
int api_rollback_plan(struct http_request *req, struct http_response *res);
int api_rollback_start(struct http_request *req, struct http_response *res);
int api_rollback_get(struct http_request *req, struct http_response *res);
int api_migration_register(struct http_request *req, struct http_response *res);
int api_migrations_list(struct http_request *req, struct http_response *res);
int api_rollout_start(struct http_request *req, struct http_response *res);
int api_rollouts_list(struct http_request *req, struct http_response *res);
int api_rollout_get(struct http_request *req, struct http_response *res);
int api_rollout_promote(struct http_request *req, struct http_response *res);
int api_rollout_abort(struct http_request *req, struct http_response *res);
int api_approvals_list(struct http_request *req, struct http_response *res);
int api_approval_approve(struct http_request *req, struct http_response *res);
int api_approval_reject(struct http_request *req, struct http_response *res);

/* alerts_api.c */
int api_alerts_list(struct http_request *req, struct http_response *res);
int api_alert_groups(struct http_request *req, struct http_response *res);
int api_alert_get(struct http_request *req, struct http_response *res);
int api_alertmanager(struct http_request *req, struct http_response *res);
int api_silence_create(struct http_request *req, struct http_response *res);
int api_silences_list(struct http_request *req, struct http_response *res);
int api_silence_delete(struct http_request *req, struct http_response *res);
/* probes_api.c */
int api_probes_list(struct http_request *req, struct http_response *res);
int api_probe_get(struct http_request *req, struct http_response *res);
int api_heartbeats_list(struct http_request *req, struct http_response *res);
int api_heartbeat_ping(struct http_request *req, struct http_response *res);
/* slo_api.c */
int api_slos_list(struct http_request *req, struct http_response *res);
int api_slo_get(struct http_request *req, struct http_response *res);

/* oncall_api.c */
int api_oncall_who(struct http_request *req, struct http_response *res);
int api_oncall_shifts(struct http_request *req, struct http_response *res);
int api_oncall_overrides_list(struct http_request *req, struct http_response *res);
int api_oncall_override_create(struct http_request *req, struct http_response *res);
int api_oncall_override_delete(struct http_request *req, struct http_response *res);

/* runbook_api.c */
int api_runbooks_list(struct http_request *req, struct http_response *res);
int api_runbook_get(struct http_request *req, struct http_response *res);
int api_runbook_put(struct http_request *req, struct http_response *res);
int api_runbook_check(struct http_request *req, struct http_response *res);
int api_runbook_diff(struct http_request *req, struct http_response *res);
int api_runbook_rollback(struct http_request *req, struct http_response *res);
int api_runbook_run(struct http_request *req, struct http_response *res);
int api_runbook_run_get(struct http_request *req, struct http_response *res);
int api_runbook_step_done(struct http_request *req, struct http_response *res);

/* remedy_api.c */
int api_recipes_list(struct http_request *req, struct http_response *res);
int api_recipe_get(struct http_request *req, struct http_response *res);
int api_runs_list(struct http_request *req, struct http_response *res);
int api_run_get(struct http_request *req, struct http_response *res);
int api_run_approve(struct http_request *req, struct http_response *res);
int api_run_reject(struct http_request *req, struct http_response *res);
int api_run_cancel(struct http_request *req, struct http_response *res);
int api_policies_list(struct http_request *req, struct http_response *res);
int api_policy_get(struct http_request *req, struct http_response *res);
int api_policy_put(struct http_request *req, struct http_response *res);
int api_policy_diff(struct http_request *req, struct http_response *res);
int api_policy_rollback(struct http_request *req, struct http_response *res);
int api_automation_get(struct http_request *req, struct http_response *res);
int api_automation_set(struct http_request *req, struct http_response *res);
/* actions_api.c */
int api_incident_actions_list(struct http_request *req, struct http_response *res);
int api_incident_actions_add(struct http_request *req, struct http_response *res);
int api_action_update(struct http_request *req, struct http_response *res);
int api_actions_list(struct http_request *req, struct http_response *res);

/* reports_api.c */
int api_report_reliability(struct http_request *req, struct http_response *res);
/* The reliability report of the last 30 days as Prometheus lines (nothing without the incidents stage). */
struct daemon;
struct buf;
void api_reliability_metrics(struct daemon *d, struct buf *out);

/* automation_report_api.c */
int api_report_automation(struct http_request *req, struct http_response *res);
/* The automation report's lines for /metrics (every run, drills excluded); nothing when remedy is not running. */
void api_automation_metrics(struct daemon *d, struct buf *out);

/* triage_api.c: triage_deps (respond/triage.h) of the running daemon; *services
 * (the services: section, or NULL) backs deps->services and is the caller's to
 * json_decref after the triage call. rank is left NULL for the wiring to set. */
struct triage_deps;
void api_triage_deps(struct daemon *d, struct triage_deps *deps, json_t **services);
/* notify_api.c */
int api_notifications_list(struct http_request *req, struct http_response *res);
int api_notifications_test(struct http_request *req, struct http_response *res);
/* services_api.c: the service catalogue view */
int api_services_list(struct http_request *req, struct http_response *res);
int api_service_get(struct http_request *req, struct http_response *res);
/* incidents_api.c */
int api_incidents_list(struct http_request *req, struct http_response *res);
int api_incident_summary(struct http_request *req, struct http_response *res);
int api_incident_suspects(struct http_request *req, struct http_response *res);
int api_incident_postmortem(struct http_request *req, struct http_response *res);
int api_incident_open(struct http_request *req, struct http_response *res);
int api_incident_get(struct http_request *req, struct http_response *res);
int api_incident_timeline(struct http_request *req, struct http_response *res);
int api_incident_transition(struct http_request *req, struct http_response *res);
int api_incident_commander(struct http_request *req, struct http_response *res);
int api_incident_severity(struct http_request *req, struct http_response *res);
int api_incident_annotations(struct http_request *req, struct http_response *res);
int api_incident_annotate(struct http_request *req, struct http_response *res);
int api_incident_hypotheses(struct http_request *req, struct http_response *res);
int api_incident_hypothesis_add(struct http_request *req, struct http_response *res);
int api_incident_hypothesis_decide(struct http_request *req, struct http_response *res);
int api_incident_artifacts(struct http_request *req, struct http_response *res);
int api_incident_artifact_add(struct http_request *req, struct http_response *res);
int api_incident_artifact_get(struct http_request *req, struct http_response *res);
int api_incident_status_updates(struct http_request *req, struct http_response *res);
int api_incident_status_update(struct http_request *req, struct http_response *res);
int api_status_page(struct http_request *req, struct http_response *res);

#endif
