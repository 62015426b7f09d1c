/*
 * The ooda.yaml loader and its schema: walks the YAML document against the
 * key table (flat keys into struct config fields, sections against their
 * sub-tables, then each section's own check), collecting every problem with
 * its file, line, column and key path, so a bad edit is found at once; a
 * failed load leaves the caller's config unchanged. `ooda serve`, `ooda
 * config check` and reload all come through here; docs/config.md is
 * generated from the same table.
 */
#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "core/time.h"
#include "core/yaml_guard.h"

#include <ctype.h>
#include <stdarg.h>
#include <strings.h>
#include <errno.h>
#include <libfyaml.h>
#include <stddef.h>

#define F(field) offsetof(struct config, field)

static const char *const log_levels[] = { "debug", "info", "warn", "error", NULL };
static const char *const telemetry_backends[] = { "sqlite", "clickhouse", NULL };
static const char *const control_backends[] = { "sqlite", "postgres", NULL };

/*
 * Section schemas. Each sub-table row is one key at its level; the stage
 * that reads the section checks what a table cannot say in its check.
 */
static const char *const severities[] = { "page", "ticket", "info", "critical", "warning", NULL };

static const struct config_key http_probe_keys[] = {
	{ "url", CFG_STRING, NULL, 0, 0, 0, "URL to request.", .required = true },
	{ "method", CFG_STRING, "GET", 0, 0, 0, "HTTP method." },
	{ "headers", CFG_ANY, NULL, 0, 0, 0, "Request headers, a mapping of name: value." },
	{ "expect_status", CFG_ANY, "2xx", 0, 0, 0, "Accepted status: a code, a class like 2xx, or a list of them." },
	{ "body_contains", CFG_STRING, NULL, 0, 0, 0, "Text the response body must contain." },
	{ "body_regex", CFG_STRING, NULL, 0, 0, 0, "Regular expression the response body must match." },
	{ "max_latency", CFG_DURATION, NULL, 0, 0, 0, "A slower answer counts as a failure." },
	{ NULL, 0, NULL, 0, 0, 0, NULL },
};

static const struct config_key exec_probe_keys[] = {
	{ "argv", CFG_STRINGS, NULL, 0, 0, 0, "The program and its arguments (no shell).", .required = true },
	{ "timeout", CFG_DURATION, NULL, 0, 0, 0, "Time after which the program is killed." },
	{ "expect_exit", CFG_INT, "0", 0, 0, 255, "Exit status that means passing." },
	{ NULL, 0, NULL, 0, 0, 0, NULL },
};

static const struct config_key probe_keys[] = {
	{ "name", CFG_STRING, NULL, 0, 0, 0, "Probe name, unique within the service.", .required = true },
	{ "http", CFG_MAP, NULL, 0, 0, 0, "An HTTP check.", .sub = http_probe_keys },
	{ "tcp", CFG_STRING, NULL, 0, 0, 0, "A TCP connect check of \"host:port\"." },
	{ "dns", CFG_STRING, NULL, 0, 0, 0, "A DNS resolution check of a host name." },
	{ "exec", CFG_MAP, NULL, 0, 0, 0, "A program run as the check (or just its argv list).", .sub = exec_probe_keys,
	  .strings_ok = true },
	{ "interval", CFG_DURATION, "30s", 0, 0, 0, "Time between attempts." },
	{ "timeout", CFG_DURATION, "10s", 0, 0, 0, "Time after which an attempt fails." },
	{ "fail_after", CFG_ANY, "1 of 1", 0, 0, 0, "Failures that make the probe failing: \"N of M\" attempts, or N." },
	{ "pass_after", CFG_INT, "1", 0, 1, 64, "Passing attempts in a row that make it passing again." },
	{ "severity", CFG_STRING, "page", 0, 0, 0, "Severity of the probe's alert.", .enums = severities },
	{ NULL, 0, NULL, 0, 0, 0, NULL },
};

static const char *const tiers[] = { "critical", "standard", NULL };

static const struct config_key service_keys[] = {
	{ "name", CFG_STRING, NULL, 0, 0, 0, "Service name, as its spans report it.", .required = true },
	{ "owner", CFG_STRING, NULL, 0, 0, 0, "Team or person owning the service; shown by `GET /api/v1/probes`." },
	{ "dependencies", CFG_STRINGS, NULL, 0, 0, 0,
	  "Services this one calls; added to the trace-derived dependency graph used to group alerts." },
	{ "probes", CFG_LIST, NULL, 0, 0, 0, "Synthetic checks of the service.", .sub = probe_keys },
	{ "tier", CFG_STRING, "standard", 0, 0, 0, "critical or standard: weighs in the severity of its incidents.",
	  .enums = tiers },
	{ "runbook", CFG_STRING, NULL, 0, 0, 0, "Runbook URL shown on its incidents, or the name of a stored runbook (`ooda runbook run --incident ID` walks it)." },
	{ "environment", CFG_STRING, "production", 0, 0, 0, "Environment tag of its incidents." },
	{ NULL, 0, NULL, 0, 0, 0, NULL },
};

static const struct config_key heartbeat_keys[] = {
	{ "name", CFG_STRING, NULL, 0, 0, 0, "Heartbeat name, used in the ping URL.", .required = true },
	{ "every", CFG_DURATION, NULL, 0, 0, 0, "Expected time between pings.", .required = true },
	{ "grace", CFG_DURATION, NULL, 0, 0, 0, "Extra time allowed before the heartbeat is late." },
	{ "service", CFG_STRING, NULL, 0, 0, 0, "Service the job belongs to." },
	{ "severity", CFG_STRING, "page", 0, 0, 0, "Severity of its alert.", .enums = severities },
	{ NULL, 0, NULL, 0, 0, 0, NULL },
};

static const struct config_key rule_keys[] = {
	{ "name", CFG_STRING, NULL, 0, 0, 0, "Alert name.", .required = true },
	{ "expr", CFG_STRING, NULL, 0, 0, 0, "PromQL expression; each result series is an alert.", .required = true },
	{ "for", CFG_DURATION, "0s", 0, 0, 0, "Time the expression must hold before the alert fires." },
	{ "keep_firing_for", CFG_DURATION, "0s", 0, 0, 0, "Time it keeps firing after the expression stops." },
	{ "labels", CFG_ANY, NULL, 0, 0, 0, "Labels added to the alert (mapping of name: value)." },
	{ "annotations", CFG_ANY, NULL, 0, 0, 0, "Annotations of the alert (mapping of name: value)." },
	{ "severity", CFG_STRING, "page", 0, 0, 0, "Severity.", .enums = severities },
	{ "service", CFG_STRING, NULL, 0, 0, 0, "Service the alert is about (else its service label)." },
	{ NULL, 0, NULL, 0, 0, 0, NULL },
};

static const struct config_key alerts_keys[] = {
	{ "interval", CFG_DURATION, "15s", 0, 0, 0, "Time between rule evaluations." },
	{ "group_window", CFG_DURATION, NULL, 0, 0, 0, "Alerts of related services this close in time join one group." },
	{ "rules", CFG_LIST, NULL, 0, 0, 0, "Alert rules.", .sub = rule_keys },
	{ "red_detector", CFG_BOOL, "true", 0, 0, 0,
	  "The fast change detector on every service's error count and on its count of slow requests (250 ms slots of span time against the service's own baseline, held past a 2 s blip; alerts.md); false turns both off." },
	{ NULL, 0, NULL, 0, 0, 0, NULL },
};

static const char *const directions[] = { "up", "down", "both", NULL };

static const struct config_key anomaly_keys[] = {
	{ "name", CFG_STRING, NULL, 0, 0, 0, "Watch name.", .required = true },
	{ "expr", CFG_STRING, NULL, 0, 0, 0, "PromQL expression of the watched series.", .required = true },
	{ "interval", CFG_DURATION, NULL, 0, 0, 0, "Time between evaluations." },
	{ "direction", CFG_STRING, "both", 0, 0, 0, "Which deviations alert.", .enums = directions },
	{ "threshold", CFG_NUMBER, NULL, 0, 0, 0, "Anomaly score, strictly between 0 and 1, above which it alerts." },
	{ "severity", CFG_STRING, NULL, 0, 0, 0, "Severity of its alert.", .enums = severities },
	{ "warmup", CFG_INT, NULL, 0, 10, 100000, "Points seen before it may alert." },
	{ NULL, 0, NULL, 0, 0, 0, NULL },
};

static const struct config_key burn_rule_keys[] = {
	{ "long", CFG_DURATION, NULL, 0, 0, 0, "Long window of the burn-rate rule." },
	{ "short", CFG_DURATION, NULL, 0, 0, 0, "Short window of the burn-rate rule." },
	{ "burn_rate", CFG_NUMBER, NULL, 0, 0, 0, "Burn rate over both windows that fires it." },
	{ NULL, 0, NULL, 0, 0, 0, NULL },
};

static const struct config_key slo_alert_keys[] = {
	{ "page", CFG_MAP, NULL, 0, 0, 0, "Burn-rate rules that page (one rule or a list).", .sub = burn_rule_keys,
	  .items = burn_rule_keys },
	{ "ticket", CFG_MAP, NULL, 0, 0, 0, "Burn-rate rules that open a ticket (one rule or a list).",
	  .sub = burn_rule_keys, .items = burn_rule_keys },
	{ NULL, 0, NULL, 0, 0, 0, NULL },
};

static const struct config_key sli_ratio_keys[] = {
	{ "from", CFG_STRING, "red", 0, 0, 0, "Source of events: red (server spans of the service)." },
	{ "errors", CFG_BOOL, "true", 0, 0, 0, "Bad events are error spans." },
	{ NULL, 0, NULL, 0, 0, 0, NULL },
};

static const struct config_key sli_latency_keys[] = {
	{ "threshold", CFG_DURATION, NULL, 0, 0, 0, "Spans slower than this are bad.", .required = true },
	{ NULL, 0, NULL, 0, 0, 0, NULL },
};

static const struct config_key sli_promql_keys[] = {
	{ "good", CFG_STRING, NULL, 0, 0, 0, "PromQL of good events (or give bad)." },
	{ "bad", CFG_STRING, NULL, 0, 0, 0, "PromQL of bad events (or give good)." },
	{ "total", CFG_STRING, NULL, 0, 0, 0, "PromQL of all events.", .required = true },
	{ NULL, 0, NULL, 0, 0, 0, NULL },
};

static const struct config_key sli_keys[] = {
	{ "ratio", CFG_MAP, NULL, 0, 0, 0, "Error ratio of the service's server spans.", .sub = sli_ratio_keys },
	{ "latency", CFG_MAP, NULL, 0, 0, 0, "Share of server spans under a threshold.", .sub = sli_latency_keys },
	{ "promql", CFG_MAP, NULL, 0, 0, 0, "Events counted by PromQL expressions.", .sub = sli_promql_keys },
	{ NULL, 0, NULL, 0, 0, 0, NULL },
};

static const char *const budgetings[] = { "occurrences", "timeslices", NULL };

static const struct config_key slo_keys[] = {
	{ "name", CFG_STRING, NULL, 0, 0, 0, "SLO name.", .required = true },
	{ "description", CFG_STRING, NULL, 0, 0, 0, "Free text, shown by `GET /api/v1/slos`." },
	{ "service", CFG_STRING, NULL, 0, 0, 0, "Service measured." },
	{ "operation", CFG_STRING, NULL, 0, 0, 0, "Operation (span name) measured; all when absent." },
	{ "objective", CFG_NUMBER, NULL, 0, 0, 0, "Target percentage of good events, above 0 and below 100, such as 99.9.",
	  .required = true },
	{ "window", CFG_DURATION, "28d", 0, 0, 0, "Rolling window of the objective." },
	{ "budgeting", CFG_STRING, "occurrences", 0, 0, 0, "How the error budget is counted.", .enums = budgetings },
	{ "timeslice", CFG_DURATION, NULL, 0, 0, 0, "Slice length when budgeting is timeslices." },
	{ "timeslice_target", CFG_NUMBER, "0.95", 0, 0, 0, "Fraction of good events that makes a slice good, in (0, 1]." },
	{ "sli", CFG_MAP, NULL, 0, 0, 0, "The indicator: exactly one of ratio, latency, promql.", .sub = sli_keys,
	  .required = true },
	{ "alerts", CFG_MAP, NULL, 0, 0, 0, "Burn-rate alert rules; multiwindow defaults when absent.",
	  .sub = slo_alert_keys },
	{ "min_events", CFG_NUMBER, "10", 0, 0, 0, "Events a window needs before it may alert." },
	{ NULL, 0, NULL, 0, 0, 0, NULL },
};

static const struct config_key http_hook_keys[] = {
	{ "url", CFG_STRING, NULL, 0, 0, 0, "URL called with the deploy as JSON.", .required = true },
	{ "method", CFG_STRING, "POST", 0, 0, 0, "HTTP method." },
	{ NULL, 0, NULL, 0, 0, 0, NULL },
};

static const struct config_key hook_keys[] = {
	{ "exec", CFG_STRINGS, NULL, 0, 0, 0, "Program and arguments run (no shell); the deploy is in its environment." },
	{ "http", CFG_MAP, NULL, 0, 0, 0, "HTTP call made instead of a program.", .sub = http_hook_keys },
	{ "timeout", CFG_DURATION, NULL, 0, 0, 0, "Time after which the hook has failed: its process group is killed (SIGKILL)." },
	{ NULL, 0, NULL, 0, 0, 0, NULL },
};

static const struct config_key deploy_hooks_keys[] = {
	{ "redeploy", CFG_MAP, NULL, 0, 0, 0, "Hook that redeploys a previous version (rollback).", .sub = hook_keys },
	{ "migrate_down", CFG_MAP, NULL, 0, 0, 0, "Hook that runs a down migration (rollback).", .sub = hook_keys },
	{ NULL, 0, NULL, 0, 0, 0, NULL },
};

static const struct config_key verify_keys[] = {
	{ "window", CFG_DURATION, "10m", 0, 0, 0, "Time after a deploy that is compared with the time before." },
	{ "min_samples", CFG_INT, "50", 0, 0, 0, "Spans of a side needed before the comparison counts." },
	{ "alpha", CFG_NUMBER, "0.01", 0, 0, 0, "Significance level of the statistical tests." },
	{ "max_p99_increase", CFG_NUMBER, "0.2", 0, 0, 0, "Largest accepted relative rise of p99 latency." },
	{ "max_median_increase", CFG_NUMBER, "0.2", 0, 0, 0, "Largest accepted relative rise of median latency." },
	{ "max_error_increase", CFG_NUMBER, "0.01", 0, 0, 0, "Largest accepted rise of the error ratio." },
	{ NULL, 0, NULL, 0, 0, 0, NULL },
};

static const struct config_key deploy_keys[] = {
	{ "hooks", CFG_MAP, NULL, 0, 0, 0, "Rollback hooks.", .sub = deploy_hooks_keys },
	{ "verify", CFG_MAP, NULL, 0, 0, 0, "Canary comparison of `ooda deploy verify`.", .sub = verify_keys },
	{ NULL, 0, NULL, 0, 0, 0, NULL },
};

static const char *const approval_classes[] = { "rollback", "migration.irreversible", "flag.change", NULL };

static const struct config_key approval_keys[] = {
	{ "class", CFG_STRING, NULL, 0, 0, 0, "Action class that needs a second person.", .enums = approval_classes,
	  .required = true },
	{ "env", CFG_STRING, NULL, 0, 0, 0, "Only in this environment." },
	{ "tags", CFG_STRINGS, NULL, 0, 0, 0, "flag.change only: flags with any of these tags." },
	{ "expires", CFG_DURATION, "1h", 0, 0, 0, "Time an approval request stays open." },
	{ NULL, 0, NULL, 0, 0, 0, NULL },
};

static const char *const rotation_types[] = { "daily", "weekly", NULL };
static const char *const weekday_names[] = { "monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
					     "sunday", NULL };

static const struct config_key rotation_keys[] = {
	{ "type", CFG_STRING, "weekly", 0, 0, 0, "How long a shift lasts.", .enums = rotation_types },
	{ "handoff", CFG_STRING, "09:00", 0, 0, 0, "Local time (HH:MM, in the schedule's time_zone) a shift hands over." },
	{ "handoff_day", CFG_STRING, NULL, 0, 0, 0, "Weekly: the day a shift hands over (default: the weekday of start).",
	  .enums = weekday_names },
	{ "start", CFG_STRING, NULL, 0, 0, 0, "Local date (YYYY-MM-DD) of the first handoff; the first participant takes it.",
	  .required = true },
	{ "participants", CFG_STRINGS, NULL, 0, 0, 0, "Users in turn order.", .required = true },
	{ NULL, 0, NULL, 0, 0, 0, NULL },
};

static const struct config_key schedule_keys[] = {
	{ "name", CFG_STRING, NULL, 0, 0, 0, "Schedule name, unique.", .required = true },
	{ "team", CFG_STRING, NULL, 0, 0, 0, "Team the schedule belongs to." },
	{ "time_zone", CFG_STRING, "UTC", 0, 0, 0, "IANA time zone of the handoff times, such as Europe/Berlin." },
	{ "rotations", CFG_LIST, NULL, 0, 0, 0, "Rotation layers: the first gives the primary, the next ones the backups.",
	  .sub = rotation_keys, .required = true },
	{ NULL, 0, NULL, 0, 0, 0, NULL },
};

static const struct config_key escalation_level_keys[] = {
	{ "targets", CFG_STRINGS, NULL, 0, 0, 0,
	  "Who is paged: schedule:NAME (its primary), schedule:NAME/backup, user:NAME or notify:TARGET.", .required = true },
	{ "timeout", CFG_DURATION, "30m", 0, 0, 0, "Unacknowledged this long, the next level is paged (at least 1s; escalation is checked every second)." },
	{ NULL, 0, NULL, 0, 0, 0, NULL },
};

static const struct config_key escalation_policy_keys[] = {
	{ "name", CFG_STRING, NULL, 0, 0, 0, "Policy name, unique.", .required = true },
	{ "team", CFG_STRING, NULL, 0, 0, 0, "Team the policy belongs to." },
	{ "levels", CFG_LIST, NULL, 0, 0, 0, "Escalation levels, paged in order.", .sub = escalation_level_keys,
	  .required = true },
	{ "repeat", CFG_INT, "0", 0, 0, 10, "Times the policy starts again at level 1 after the last level times out." },
	{ "renotify", CFG_DURATION, "0s", 0, 0, 0, "Page the current level again this often while unacknowledged (0 = never)." },
	{ NULL, 0, NULL, 0, 0, 0, NULL },
};

static const struct config_key team_keys[] = {
	{ "name", CFG_STRING, NULL, 0, 0, 0, "Team name, as services[].owner names it.", .required = true },
	{ "schedule", CFG_STRING, NULL, 0, 0, 0, "The team's on-call schedule." },
	{ "escalation_policy", CFG_STRING, NULL, 0, 0, 0, "The policy that pages for the team's services." },
	{ "notify", CFG_STRINGS, NULL, 0, 0, 0, "Notification targets told of the team's incidents." },
	{ NULL, 0, NULL, 0, 0, 0, NULL },
};

static const struct config_key oncall_keys[] = {
	{ "schedules", CFG_LIST, NULL, 0, 0, 0, "On-call schedules.", .sub = schedule_keys },
	{ "escalation_policies", CFG_LIST, NULL, 0, 0, 0, "Escalation policies.", .sub = escalation_policy_keys },
	{ "teams", CFG_LIST, NULL, 0, 0, 0, "Teams: the schedule and policy paged for the services they own.",
	  .sub = team_keys },
	{ NULL, 0, NULL, 0, 0, 0, NULL },
};

static const char *const notify_types[] = { "webhook", "slack", "pagerduty", "email", NULL };
static const char *const notify_kinds[] = { "incident", "alert", NULL };

static const struct config_key notify_target_keys[] = {
	{ "name", CFG_STRING, NULL, 0, 0, 0, "Target name, used by routes and `POST /api/v1/notifications/test`.", .required = true },
	{ "type", CFG_STRING, NULL, 0, 0, 0, "What receives it: a signed JSON webhook, a Slack incoming webhook, the PagerDuty Events API v2, or email over SMTP.", .enums = notify_types, .required = true },
	{ "url", CFG_STRING, NULL, 0, 0, 0, "Where to send: http(s):// for webhook, slack and pagerduty (default the PagerDuty Events API), smtp(s)://host:port for email. A slack target may keep its URL as its secret instead." },
	{ "secret_env", CFG_STRING, NULL, 0, 0, 0, "Environment variable holding the secret: the webhook's HMAC key, the PagerDuty routing key, the SMTP password or the Slack webhook URL. Read at start and reload, never logged." },
	{ "secret_file", CFG_STRING, NULL, 0, 0, 0, "File holding the secret instead (trailing newlines dropped)." },
	{ "from", CFG_STRING, NULL, 0, 0, 0, "email: sender address." },
	{ "to", CFG_STRINGS, NULL, 0, 0, 0, "email: recipient addresses." },
	{ "username", CFG_STRING, NULL, 0, 0, 0, "email: SMTP login (the password is the secret)." },
	{ "timeout", CFG_DURATION, "10s", 0, 0, 0, "Time one delivery attempt may take." },
	{ NULL, 0, NULL, 0, 0, 0, NULL },
};

static const struct config_key notify_match_keys[] = {
	{ "severity", CFG_STRINGS, NULL, 0, 0, 0, "Severities that match (page, ticket, info, ...); absent: any." },
	{ "service", CFG_STRINGS, NULL, 0, 0, 0, "Services that match; absent: any." },
	{ "team", CFG_STRINGS, NULL, 0, 0, 0, "Teams that match (an alert's team label); absent: any." },
	{ "kind", CFG_STRING, NULL, 0, 0, 0, "Only incidents or only alerts; absent: both.", .enums = notify_kinds },
	{ NULL, 0, NULL, 0, 0, 0, NULL },
};

static const struct config_key notify_route_keys[] = {
	{ "match", CFG_MAP, NULL, 0, 0, 0, "What the route matches; every list given must hold the event's value.", .sub = notify_match_keys },
	{ "targets", CFG_STRINGS, NULL, 0, 0, 0, "Names of the targets it sends to.", .required = true },
	{ NULL, 0, NULL, 0, 0, 0, NULL },
};

static const struct config_key notify_retry_keys[] = {
	{ "max_attempts", CFG_INT, "12", 0, 1, 100, "Attempts per message before it is marked failed." },
	{ "base", CFG_DURATION, "1s", 0, 0, 0, "Backoff after the first failed attempt; doubles with each one (full jitter)." },
	{ "max_backoff", CFG_DURATION, "5m", 0, 0, 0, "Longest wait between two attempts." },
	{ NULL, 0, NULL, 0, 0, 0, NULL },
};

static const struct config_key notify_keys[] = {
	{ "public_url", CFG_STRING, NULL, 0, 0, 0, "ooda's address as people reach it; messages link there." },
	{ "targets", CFG_LIST, NULL, 0, 0, 0, "Where notifications go.", .sub = notify_target_keys },
	{ "routes", CFG_LIST, NULL, 0, 0, 0, "Which events go to which targets; every matching route sends (docs/notifications.md).", .sub = notify_route_keys },
	{ "retry", CFG_MAP, NULL, 0, 0, 0, "Retries of a failed delivery.", .sub = notify_retry_keys },
	{ NULL, 0, NULL, 0, 0, 0, NULL },
};

static const char *const incident_severities[] = { "SEV1", "SEV2", "SEV3", "SEV4", NULL };

static const struct config_key incident_match_keys[] = {
	{ "alertname", CFG_STRING, NULL, 0, 0, 0, "Alert name (rule name, slo:NAME, probe:SERVICE/NAME, …)." },
	{ "severity", CFG_STRING, NULL, 0, 0, 0, "Severity of the alert.", .enums = severities },
	{ "service", CFG_STRING, NULL, 0, 0, 0, "Service of the alert." },
	{ "labels", CFG_ANY, NULL, 0, 0, 0, "Labels the alert must carry (mapping of name: value)." },
	{ NULL, 0, NULL, 0, 0, 0, NULL },
};

static const struct config_key incident_rule_keys[] = {
	{ "match", CFG_MAP, NULL, 0, 0, 0, "What the alert must be; every key given must match.",
	  .sub = incident_match_keys },
	{ "open", CFG_BOOL, NULL, 0, 0, 0, "Whether a matching alert opens an incident (else the defaults decide)." },
	{ "severity", CFG_STRING, NULL, 0, 0, 0, "Severity of the incident (else the matrix decides).",
	  .enums = incident_severities },
	{ NULL, 0, NULL, 0, 0, 0, NULL },
};

static const struct config_key incident_template_keys[] = {
	{ "service", CFG_STRING, NULL, 0, 0, 0, "Service the template is for." },
	{ "alertname", CFG_STRING, NULL, 0, 0, 0, "Alert the template is for (beats a service template)." },
	{ "title", CFG_STRING, NULL, 0, 0, 0, "Title with {service}, {alertname}, {since}, {severity}." },
	{ "checklist", CFG_STRINGS, NULL, 0, 0, 0, "First steps, shown on the incident." },
	{ "runbook", CFG_STRING, NULL, 0, 0, 0, "Runbook URL or stored runbook name (beats the service's)." },
	{ NULL, 0, NULL, 0, 0, 0, NULL },
};

static const struct config_key incident_sev_row_keys[] = {
	{ "page", CFG_STRING, NULL, 0, 0, 0, "Severity of an incident from a page (critical) alert.",
	  .enums = incident_severities },
	{ "ticket", CFG_STRING, NULL, 0, 0, 0, "… from a ticket (warning) alert.", .enums = incident_severities },
	{ "info", CFG_STRING, NULL, 0, 0, 0, "… from an info alert.", .enums = incident_severities },
	{ NULL, 0, NULL, 0, 0, 0, NULL },
};

static const struct config_key incident_matrix_keys[] = {
	{ "critical", CFG_MAP, NULL, 0, 0, 0, "Critical tier; defaults page SEV1, ticket SEV2, info SEV3.",
	  .sub = incident_sev_row_keys },
	{ "standard", CFG_MAP, NULL, 0, 0, 0, "Standard tier; defaults page SEV2, ticket SEV3, info SEV3.",
	  .sub = incident_sev_row_keys },
	{ NULL, 0, NULL, 0, 0, 0, NULL },
};

static const struct config_key incidents_keys[] = {
	{ "auto_open", CFG_BOOL, "true", 0, 0, 0,
	  "Open incidents from alerts: page alerts, probes of critical services, confident RED anomalies (docs/incidents.md)." },
	{ "group_window", CFG_DURATION, "10m", 0, 0, 0,
	  "An alert on a related service this soon after an incident's onset joins it instead of opening another." },
	{ "reopen_window", CFG_DURATION, "1h", 0, 0, 0, "An alert firing again this soon after resolve reopens the incident." },
	{ "default_severity", CFG_STRING, "SEV3", 0, 0, 0, "Severity of an incident opened by hand.",
	  .enums = incident_severities },
	{ "severity", CFG_MAP, NULL, 0, 0, 0, "Severity matrix: service tier × alert severity.", .sub = incident_matrix_keys },
	{ "rules", CFG_LIST, NULL, 0, 0, 0, "Rules over the defaults; the first that matches decides.",
	  .sub = incident_rule_keys },
	{ "templates", CFG_LIST, NULL, 0, 0, 0, "Title, checklist and runbook per service or alert.",
	  .sub = incident_template_keys },
	{ "status_page", CFG_BOOL, "false", 0, 0, 0, "Serve status updates without a token at GET /status.json." },
	{ "max_artifact_bytes", CFG_SIZE, "1MiB", 0, 0, 0, "Largest artifact accepted (also bounded by limits.api_body)." },
	{ NULL, 0, NULL, 0, 0, 0, NULL },
};

/*
 * scrape_configs: Prometheus' own shape, so a block from prometheus.yml
 * pastes in. The Prometheus keys ooda does not implement are rows of
 * their own, refused by name rather than as unknown.
 */
#define SCRAPE_NOT_SUPPORTED(key, what) \
	{ key, CFG_UNSUPPORTED, NULL, 0, 0, 0, "not supported by ooda: " what " (docs/scraping.md, What is not supported)" }

static const struct config_key scrape_static_keys[] = {
	{ "targets", CFG_STRINGS, NULL, 0, 0, 0, "Targets as host:port." },
	{ "labels", CFG_ANY, NULL, 0, 0, 0, "Labels added to every series of these targets (mapping of name: value)." },
	{ NULL, 0, NULL, 0, 0, 0, NULL },
};

static const struct config_key scrape_file_sd_keys[] = {
	{ "files", CFG_STRINGS, NULL, 0, 0, 0,
	  "Target files in Prometheus' file_sd format (JSON .json, YAML .yml/.yaml); the last part may be a glob. Re-read when a file changes (checked every second).",
	  .required = true },
	{ "refresh_interval", CFG_DURATION, "5m", 0, 0, 0, "The files are also re-read this often." },
	{ NULL, 0, NULL, 0, 0, 0, NULL },
};

static const struct config_key scrape_authorization_keys[] = {
	{ "type", CFG_STRING, "Bearer", 0, 0, 0, "Scheme of the Authorization header." },
	{ "credentials", CFG_STRING, NULL, 0, 0, 0, "The secret sent after the type; never logged or shown." },
	{ "credentials_file", CFG_STRING, NULL, 0, 0, 0, "File holding the secret instead (read at each scrape)." },
	{ NULL, 0, NULL, 0, 0, 0, NULL },
};

static const struct config_key scrape_basic_auth_keys[] = {
	{ "username", CFG_STRING, NULL, 0, 0, 0, "User name of HTTP basic authentication." },
	{ "password", CFG_STRING, NULL, 0, 0, 0, "Password; never logged or shown." },
	{ "password_file", CFG_STRING, NULL, 0, 0, 0, "File holding the password instead (read at each scrape)." },
	{ NULL, 0, NULL, 0, 0, 0, NULL },
};

static const struct config_key scrape_tls_keys[] = {
	{ "insecure_skip_verify", CFG_BOOL, "false", 0, 0, 0, "Accept any server certificate." },
	{ "ca_file", CFG_STRING, NULL, 0, 0, 0, "CA certificates (PEM) that verify the server." },
	SCRAPE_NOT_SUPPORTED("cert_file", "client certificates"),
	SCRAPE_NOT_SUPPORTED("key_file", "client certificates"),
	SCRAPE_NOT_SUPPORTED("server_name", "a TLS server name other than the target's host"),
	SCRAPE_NOT_SUPPORTED("min_version", "a minimum TLS version (libcurl's default applies)"),
	{ NULL, 0, NULL, 0, 0, 0, NULL },
};

static const struct config_key scrape_global_keys[] = {
	{ "scrape_interval", CFG_DURATION, "1m", 0, 0, 0, "Default scrape_interval of every scrape_configs entry." },
	{ "scrape_timeout", CFG_DURATION, "10s", 0, 0, 0,
	  "Default scrape_timeout of every scrape_configs entry (capped to the entry's interval)." },
	{ "evaluation_interval", CFG_UNSUPPORTED, NULL, 0, 0, 0,
	  "not supported by ooda: rules are evaluated every alerts.interval (docs/alerts.md)" },
	SCRAPE_NOT_SUPPORTED("external_labels", "external labels"),
	SCRAPE_NOT_SUPPORTED("query_log_file", "a query log"),
	{ NULL, 0, NULL, 0, 0, 0, NULL },
};

static const char *const scrape_schemes[] = { "http", "https", NULL };

static const struct config_key scrape_keys[] = {
	{ "job_name", CFG_STRING, NULL, 0, 0, 0, "The job label of every series scraped, unique.", .required = true },
	{ "scrape_interval", CFG_DURATION, "1m", 0, 0, 0,
	  "Time between scrapes of one target (at least 1s); targets are spread over it." },
	{ "scrape_timeout", CFG_DURATION, "10s", 0, 0, 0,
	  "Time after which a scrape fails; at most scrape_interval (the default is capped to it)." },
	{ "metrics_path", CFG_STRING, "/metrics", 0, 0, 0, "Path fetched on each target." },
	{ "scheme", CFG_STRING, "http", 0, 0, 0, "http or https.", .enums = scrape_schemes },
	{ "params", CFG_ANY, NULL, 0, 0, 0, "Query parameters (mapping of name: [values])." },
	{ "static_configs", CFG_LIST, NULL, 0, 0, 0, "Targets listed here.", .sub = scrape_static_keys },
	{ "file_sd_configs", CFG_LIST, NULL, 0, 0, 0, "Targets read from files.", .sub = scrape_file_sd_keys },
	{ "honor_labels", CFG_BOOL, "false", 0, 0, 0,
	  "A scraped label wins over a target label of the same name (else it is kept as exported_<name>)." },
	{ "honor_timestamps", CFG_BOOL, "true", 0, 0, 0, "Keep the timestamps the target gives (else the scrape time)." },
	{ "authorization", CFG_MAP, NULL, 0, 0, 0, "An Authorization header sent with each scrape.",
	  .sub = scrape_authorization_keys },
	{ "basic_auth", CFG_MAP, NULL, 0, 0, 0, "HTTP basic authentication sent with each scrape.",
	  .sub = scrape_basic_auth_keys },
	{ "tls_config", CFG_MAP, NULL, 0, 0, 0, "TLS settings of https targets.", .sub = scrape_tls_keys },
	{ "sample_limit", CFG_INT, "0", 0, 0, 1000000,
	  "More samples than this fail the scrape (up 0); 0 means ooda's own bound of 1,000,000." },
	{ "body_size_limit", CFG_SIZE, "0", 0, 0, 0,
	  "A larger (uncompressed) answer fails the scrape (up 0); 0 means 64MiB." },
	SCRAPE_NOT_SUPPORTED("relabel_configs", "relabeling; use static or file labels"),
	SCRAPE_NOT_SUPPORTED("metric_relabel_configs", "relabeling"),
	SCRAPE_NOT_SUPPORTED("kubernetes_sd_configs", "service discovery other than static_configs and file_sd_configs"),
	SCRAPE_NOT_SUPPORTED("consul_sd_configs", "service discovery other than static_configs and file_sd_configs"),
	SCRAPE_NOT_SUPPORTED("dns_sd_configs", "service discovery other than static_configs and file_sd_configs"),
	SCRAPE_NOT_SUPPORTED("ec2_sd_configs", "service discovery other than static_configs and file_sd_configs"),
	SCRAPE_NOT_SUPPORTED("http_sd_configs", "service discovery other than static_configs and file_sd_configs"),
	SCRAPE_NOT_SUPPORTED("docker_sd_configs", "service discovery other than static_configs and file_sd_configs"),
	SCRAPE_NOT_SUPPORTED("gce_sd_configs", "service discovery other than static_configs and file_sd_configs"),
	SCRAPE_NOT_SUPPORTED("azure_sd_configs", "service discovery other than static_configs and file_sd_configs"),
	SCRAPE_NOT_SUPPORTED("oauth2", "OAuth 2 client credentials; use authorization"),
	SCRAPE_NOT_SUPPORTED("proxy_url", "scraping through a proxy"),
	SCRAPE_NOT_SUPPORTED("label_limit", "label count limits per job (ooda's own bound is 256 labels per series)"),
	SCRAPE_NOT_SUPPORTED("label_name_length_limit", "label length limits per job (ooda's own bound is 64 KiB)"),
	SCRAPE_NOT_SUPPORTED("label_value_length_limit", "label length limits per job (ooda's own bound is 64 KiB)"),
	SCRAPE_NOT_SUPPORTED("target_limit", "target limits per job (ooda's own bound is 10,000 targets per job)"),
	SCRAPE_NOT_SUPPORTED("scrape_classic_histograms", "native histograms"),
	SCRAPE_NOT_SUPPORTED("native_histogram_bucket_limit", "native histograms"),
	SCRAPE_NOT_SUPPORTED("scrape_protocols", "choosing protocols (ooda sends Prometheus 2.42's Accept header)"),
	{ NULL, 0, NULL, 0, 0, 0, NULL },
};

static const struct config_key freeze_keys[] = {
	{ "from", CFG_STRING, NULL, 0, 0, 0, "Start of the freeze, an RFC 3339 time.", .required = true },
	{ "to", CFG_STRING, NULL, 0, 0, 0, "End of the freeze, an RFC 3339 time.", .required = true },
	{ "reason", CFG_STRING, "change freeze", 0, 0, 0, "Shown on the runs it holds for approval." },
	{ NULL, 0, NULL, 0, 0, 0, NULL },
};

static const struct config_key remedy_keys[] = {
	{ "http_allow_hosts", CFG_STRINGS, NULL, 0, 0, 0,
	  "Hosts (no port) an http action or recipe may call; a policy calling another host is refused at load." },
	{ "freezes", CFG_LIST, NULL, 0, 0, 0,
	  "Change freeze windows: a run that would act inside one waits for a four-eyes approval instead.",
	  .sub = freeze_keys },
	{ NULL, 0, NULL, 0, 0, 0, NULL },
};

/* model/promname.h's strategies (core cannot include model) */
static const char *const otlp_translations[] = { "UnderscoreEscapingWithSuffixes", "NoUTF8EscapingWithSuffixes",
						 NULL };

const struct config_key config_keys[] = {
	{ "server.listen", CFG_STRING, "127.0.0.1:4318", F(listen), 0, 0,
	  "Address and port to serve HTTP on. Binding a non-loopback address requires at least one API token." },
	{ "server.data_dir", CFG_STRING, "./ooda-data", F(data_dir), 0, 0,
	  "Directory holding the control-plane and telemetry databases, the audit signing key and backups." },
	{ "server.node_id", CFG_STRING, NULL, F(node_id), 0, 0,
	  "This node's name among several ooda nodes sharing one PostgreSQL control store (GET /api/v1/cluster); empty: the host name and the listen port. Unique per node." },
	{ "server.threads", CFG_INT, "8", F(threads), 1, 256,
	  "HTTP event-loop threads, and as many ingest workers (ingest requests wait for the disk there, not on an event loop)." },
	{ "server.max_connections", CFG_INT, "1024", F(max_connections), 1, 100000,
	  "Open connections accepted at once; further connections are refused." },
	{ "server.request_timeout", CFG_DURATION, "30s", F(request_timeout_ns), OODA_NS_PER_SEC, 3600 * OODA_NS_PER_SEC,
	  "Idle time after which a connection is closed." },
	{ "server.header_timeout", CFG_DURATION, "10s", F(header_timeout_ns), OODA_NS_PER_SEC, 3600 * OODA_NS_PER_SEC,
	  "The whole request head (request line and headers) must arrive within this; a connection still sending it is closed, however steadily it dribbles." },
	{ "server.min_body_rate", CFG_SIZE, "1KiB", F(min_body_rate), 0, INT64_C(1) << 30,
	  "Bytes per second a request body must average once server.header_timeout has passed; a slower upload is closed (0 = no bound)." },
	{ "server.max_connections_per_ip", CFG_INT, "0", F(max_connections_per_ip), 0, 100000,
	  "Open connections accepted from one client address (0 = no bound; leave 0 behind a proxy or load balancer)." },
	{ "limits.header_bytes", CFG_SIZE, "32KiB", F(header_limit), 4096, 1 << 20,
	  "Memory per connection for the request line and headers; larger headers get 431." },
	{ "limits.url_bytes", CFG_SIZE, "8KiB", F(url_limit), 1024, 64 * 1024,
	  "Longest URL (path and query) accepted; longer gets 414." },
	{ "limits.body_bytes_in_flight", CFG_SIZE, "256MiB", F(body_budget), 0, INT64_C(1) << 36,
	  "Bytes of request bodies held in memory at once across all connections (reserved from Content-Length when the head arrives, counted as chunked bodies grow, decompressed size included); beyond it requests get 503 with Retry-After (0 = no bound)." },
	{ "limits.api_body", CFG_SIZE, "1MiB", F(api_body_limit), 1024, INT64_C(1) << 30,
	  "Largest request body accepted on /api/v1 routes other than ingest; larger bodies get 413." },
	{ "limits.ingest_body", CFG_SIZE, "64MiB", F(ingest_body_limit), 1024, INT64_C(1) << 32,
	  "Largest (decompressed) body accepted on ingest routes; larger bodies get 413." },
	{ "log.level", CFG_STRING, "info", F(log_level), 0, 0,
	  "Level of ooda's own logs on stderr: debug, info, warn or error.", .enums = log_levels,
	  .reloadable = true },
	{ "audit.checkpoint_every", CFG_INT, "1000", F(audit_checkpoint_every), 0, 1000000,
	  "Write an Ed25519-signed checkpoint of the audit chain every N records (0 = only by time and on request). The key is created in the data dir." },
	{ "audit.checkpoint_interval", CFG_DURATION, "5m", F(audit_checkpoint_interval_ns), OODA_NS_PER_SEC, 86400 * OODA_NS_PER_SEC,
	  "Sign the audit chain head once the oldest unsigned record is this old, so a write is never long without a checkpoint (see operations.md)." },
	{ "retention.max_age", CFG_DURATION, "7d", F(retention_max_age_ns), 60 * OODA_NS_PER_SEC, INT64_C(9000000000000000000),
	  "Telemetry older than this is dropped, whole blocks at a time." },
	{ "retention.max_bytes", CFG_SIZE, "10GiB", F(retention_max_bytes), 1 << 20, INT64_MAX,
	  "Telemetry store size above which the oldest blocks are dropped." },
	{ "retention.control_max_age", CFG_DURATION, "30d", F(control_max_age_ns), 3600 * OODA_NS_PER_SEC,
	  INT64_C(9000000000000000000),
	  "Old versions of the documents ooda rewrites on its own (alert transitions, silences, heartbeat pings) are deleted from control.db once older than this; the latest version of each is kept, and so is everything people wrote (flags, configs, deploys, approvals, tokens, audit). Delivered and failed notifications older than this are deleted too. See operations.md, Control store size." },
	{ "retention.control_max_versions", CFG_INT, "100", F(control_max_versions), 1, 1000000000,
	  "Versions kept per alert, silence or heartbeat, the latest included; older ones are deleted whatever their age." },
	{ "retention.runs_max_age", CFG_DURATION, "90d", F(runs_max_age_ns), 86400 * OODA_NS_PER_SEC,
	  INT64_C(9000000000000000000),
	  "A finished remediation run (succeeded, failed, undone, refused, dry-run, rejected or cancelled) whose last change is older than this is deleted from control.db with every version of it; a run still under way is kept. The audit records of its changes stay. See remediation.md, Run retention." },
	{ "retention.runs_max_finished", CFG_INT, "10000", F(runs_max_finished), 100, 1000000000,
	  "Finished remediation runs kept, the newest; older finished runs are deleted whatever their age. Runs under way are not counted and never deleted." },
	{ "storage.telemetry.backend", CFG_STRING, "sqlite", F(telemetry_backend), 0, 0,
	  "Where telemetry is kept: sqlite (telemetry.db in the data dir) or clickhouse (a ClickHouse server, docs/scale.md).",
	  .enums = telemetry_backends },
	{ "storage.telemetry.url", CFG_STRING, NULL, F(telemetry_url), 0, 0,
	  "ClickHouse: the HTTP interface, http://host:8123 (no user or password in it)." },
	{ "storage.telemetry.database", CFG_STRING, "ooda", F(telemetry_database), 0, 0,
	  "ClickHouse: the database ooda creates and migrates its tables in." },
	{ "storage.telemetry.user", CFG_STRING, NULL, F(telemetry_user), 0, 0,
	  "ClickHouse: the user (else the server's default user)." },
	{ "storage.telemetry.password_env", CFG_STRING, NULL, F(telemetry_password_env), 0, 0,
	  "ClickHouse: the name of the environment variable holding the user's password (never the password itself)." },
	{ "storage.control.backend", CFG_STRING, "sqlite", F(control_backend), 0, 0,
	  "Where the control plane (documents, tokens, audit chain, incidents, outbox) is kept: sqlite (control.db in server.data_dir) or postgres (the database storage.control.dsn_env names; see scale.md).",
	  .enums = control_backends },
	{ "storage.control.dsn_env", CFG_STRING, "OODA_CONTROL_DSN", F(control_dsn_env), 0, 0,
	  "Name of the environment variable holding the libpq connection string of the PostgreSQL control store (read at start; the string itself is never written to ooda.yaml, logs, errors, the audit or the API)." },
	{ "ingest.queue_bytes", CFG_SIZE, "256MiB", F(ingest_queue_bytes), 1 << 20, INT64_C(1) << 34,
	  "Bound of each ingest queue: request bodies waiting for an ingest worker, and decoded telemetry waiting for the writer; when full, ingest answers 429 with Retry-After." },
	{ "ingest.otlp_translation_strategy", CFG_STRING, "UnderscoreEscapingWithSuffixes", F(otlp_translation), 0, 0,
	  "How OTLP metric and attribute names become Prometheus names, as Prometheus' `otlp.translation_strategy`: UnderscoreEscapingWithSuffixes (http.server.request.duration in s → http_server_request_duration_seconds) or NoUTF8EscapingWithSuffixes (→ http.server.request.duration_seconds, keys kept as sent). See promql.md.",
	  .enums = otlp_translations, .reloadable = true },
	{ "services", CFG_LIST, NULL, 0, 0, 0, "Services, their owners, declared dependencies and probes (docs/probes.md).",
	  .sub = service_keys, .staged = true },
	{ "heartbeats", CFG_LIST, NULL, 0, 0, 0, "Dead-man's switches for background jobs (docs/probes.md).",
	  .sub = heartbeat_keys, .staged = true },
	{ "slos", CFG_LIST, NULL, 0, 0, 0, "Service level objectives and their burn-rate alerts (docs/slo.md).",
	  .sub = slo_keys, .staged = true },
	{ "alerts", CFG_MAP, NULL, 0, 0, 0, "Alert rules and grouping (docs/alerts.md); a bare list is read as `rules`.",
	  .sub = alerts_keys, .items = rule_keys, .staged = true },
	{ "anomalies", CFG_LIST, NULL, 0, 0, 0, "Extra series watched by the anomaly detector (docs/alerts.md).",
	  .sub = anomaly_keys, .staged = true },
	{ "deploy", CFG_MAP, NULL, 0, 0, 0, "Rollback hooks and the settings of `ooda deploy verify` (docs/operations.md).",
	  .sub = deploy_keys, .staged = true },
	{ "approvals", CFG_LIST, NULL, 0, 0, 0, "Four-eyes approval rules per action class.", .sub = approval_keys,
	  .staged = true },
	{ "oncall", CFG_MAP, NULL, 0, 0, 0, "On-call schedules, escalation policies and teams (docs/oncall.md).",
	  .sub = oncall_keys, .staged = true },
	{ "notify", CFG_MAP, NULL, 0, 0, 0, "Notification targets, routes and retries (docs/notifications.md).",
	  .sub = notify_keys, .staged = true },
	{ "incidents", CFG_MAP, NULL, 0, 0, 0, "Incidents from alerts: rules, grouping, severity, templates (docs/incidents.md).",
	  .sub = incidents_keys, .staged = true },
	{ "global", CFG_MAP, NULL, 0, 0, 0,
	  "Prometheus' global block, as prometheus.yml has it: the defaults of scrape_configs (docs/scraping.md).",
	  .sub = scrape_global_keys, .staged = true },
	{ "scrape_configs", CFG_LIST, NULL, 0, 0, 0,
	  "Prometheus targets ooda scrapes itself, in prometheus.yml's own shape (docs/scraping.md).",
	  .sub = scrape_keys, .staged = true },
	{ "policies", CFG_SECTION, NULL, 0, 0, 0,
	  "Remediation policies: when, precondition, do, expect, on_failure, mode, guardrails (docs/remediation.md).",
	  .staged = true },
	{ "remedy", CFG_MAP, NULL, 0, 0, 0, "The remedy stage: hosts http actions may call, change freezes (docs/remediation.md).",
	  .sub = remedy_keys, .staged = true },
	{ "flags", CFG_UNSUPPORTED, NULL, 0, 0, 0,
	  "not supported yet: feature flags are managed through the API and `ooda flag`, not ooda.yaml" },
	{ NULL, 0, NULL, 0, 0, 0, NULL },
};

static const char *const type_names[] = {
	[CFG_STRING] = "string", [CFG_INT] = "integer", [CFG_BOOL] = "boolean", [CFG_DURATION] = "duration",
	[CFG_SIZE] = "size", [CFG_SECTION] = "section", [CFG_NUMBER] = "number", [CFG_LIST] = "list",
	[CFG_MAP] = "mapping", [CFG_STRINGS] = "list of strings", [CFG_ANY] = "any", [CFG_UNSUPPORTED] = "refused",
};

/* Scalar flat keys fill a field of struct config; everything else is a section. */
static bool is_field(const struct config_key *k)
{
	return k->type <= CFG_SIZE;
}

int config_parse_size(const char *s, int64_t *out)
{
	static const struct {
		const char *suffix;
		int64_t mult;
	} units[] = {
		{ "", 1 }, { "b", 1 }, { "k", 1000 }, { "kb", 1000 }, { "kib", 1024 },
		{ "m", 1000000 }, { "mb", 1000000 }, { "mib", 1 << 20 },
		{ "g", 1000000000 }, { "gb", 1000000000 }, { "gib", 1 << 30 },
		{ "t", INT64_C(1000000000000) }, { "tb", INT64_C(1000000000000) }, { "tib", INT64_C(1) << 40 },
	};
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || errno || v < 0)
		return OODA_EINVAL;
	while (*end == ' ')
		end++;
	char suf[8];
	size_t n = strlen(end);
	if (n >= sizeof(suf))
		return OODA_EINVAL;
	for (size_t i = 0; i < n; i++)
		suf[i] = (char)tolower((unsigned char)end[i]);
	suf[n] = '\0';
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (!strcmp(suf, units[i].suffix)) {
			double r = v * (double)units[i].mult;
			if (r > 9.2e18)
				return OODA_EINVAL;
			*out = (int64_t)r;
			return 0;
		}
	}
	return OODA_EINVAL;
}

static int set_value(struct config *c, const struct config_key *k, const char *v, struct buf *err)
{
	char *field = (char *)c + k->offset;
	int64_t n = 0;
	switch (k->type) {
	case CFG_STRING: {
		char **sp = (char **)field;
		free(*sp);
		*sp = xstrdup(v);
		return 0;
	}
	case CFG_BOOL:
		if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on"))
			n = 1;
		else if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off"))
			n = 0;
		else
			goto bad;
		*(int64_t *)field = n;
		return 0;
	case CFG_INT: {
		char *end;
		errno = 0;
		long long ll = strtoll(v, &end, 10);
		if (end == v || *end || errno)
			goto bad;
		n = ll;
		break;
	}
	case CFG_DURATION:
		if (ooda_duration_parse(v, strlen(v), &n))
			goto bad;
		break;
	case CFG_SIZE:
		if (config_parse_size(v, &n))
			goto bad;
		break;
	default:
		return 0;
	}
	if (n < k->min || n > k->max) {
		buf_addf(err, "%s: %s is out of range [%lld, %lld]", k->path, v, (long long)k->min,
			 (long long)k->max);
		return OODA_EINVAL;
	}
	*(int64_t *)field = n;
	return 0;
bad:
	buf_addf(err, "%s: expected %s %s, got \"%s\"", k->path, k->type == CFG_INT ? "an" : "a", type_names[k->type], v);
	if (k->type == CFG_DURATION)
		buf_adds(err, " (e.g. 30s, 5m, 1h30m)");
	else if (k->type == CFG_SIZE)
		buf_adds(err, " (e.g. 512KiB, 64MiB)");
	return OODA_EINVAL;
}

void config_init(struct config *c)
{
	memset(c, 0, sizeof(*c));
	struct buf err = BUF_INIT;
	for (const struct config_key *k = config_keys; k->path; k++)
		if (is_field(k))
			set_value(c, k, k->def, &err);
	buf_release(&err);
}

void config_release(struct config *c)
{
	for (const struct config_key *k = config_keys; k->path; k++) {
		if (k->type == CFG_STRING) {
			char **sp = (char **)((char *)c + k->offset);
			free(*sp);
			*sp = NULL;
		}
	}
	free(c->path);
	if (c->doc)
		fy_document_destroy(c->doc);
	free(c->text);
	memset(c, 0, sizeof(*c));
}

/*
 * libfyaml exposes positions through tokens; a collection's position is
 * taken from its first scalar, which is where a reader's eye lands anyway.
 */
static const struct fy_mark *node_start(struct fy_node *n, int depth)
{
	if (!n || depth > 16)
		return NULL;
	if (fy_node_is_scalar(n)) {
		struct fy_token *t = fy_node_get_scalar_token(n);
		return t ? fy_token_start_mark(t) : NULL;
	}
	if (fy_node_is_mapping(n)) {
		void *it = NULL;
		struct fy_node_pair *p = fy_node_mapping_iterate(n, &it);
		return p ? node_start(fy_node_pair_key(p), depth + 1) : NULL;
	}
	void *it = NULL;
	return node_start(fy_node_sequence_iterate(n, &it), depth + 1);
}

static void mark(const char *name, struct fy_node *n, struct buf *err)
{
	const struct fy_mark *m = node_start(n, 0);
	if (m)
		buf_addf(err, "%s:%d:%d: ", name, m->line + 1, m->column + 1);
	else
		buf_addf(err, "%s: ", name);
}

void config_node_mark(const struct config *c, struct fy_node *node, struct buf *err)
{
	const struct fy_mark *m = node_start(node, 0);
	if (m)
		buf_addf(err, "%s:%d:%d", c->path ? c->path : "ooda.yaml", m->line + 1, m->column + 1);
	else
		buf_adds(err, c->path ? c->path : "ooda.yaml");
}

/* ---- validation ---------------------------------------------------------- */

#define MAX_ERRORS 100
#define MAX_DEPTH 16

/* One validation pass: where errors go and, when loading, the config being filled. */
struct vctx {
	const char *file;
	struct fy_document *doc;
	struct config *out; /* flat values are set here */
	struct buf *err;
	int n;              /* errors found */
};

static void verr(struct vctx *v, struct fy_node *n, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Appends one "FILE:LINE:COLUMN: path: message" line (the first MAX_ERRORS only). */
static void verr(struct vctx *v, struct fy_node *n, const char *path, const char *fmt, ...)
{
	if (v->n++ >= MAX_ERRORS)
		return;
	if (v->err->len)
		buf_addch(v->err, '\n');
	mark(v->file, n, v->err);
	if (path && *path)
		buf_addf(v->err, "%s: ", path);
	va_list ap;
	va_start(ap, fmt);
	buf_vaddf(v->err, fmt, ap);
	va_end(ap);
}

static size_t edit_distance(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);
	if (na > 63 || nb > 63)
		return 64;
	size_t row[64];
	for (size_t j = 0; j <= nb; j++)
		row[j] = j;
	for (size_t i = 1; i <= na; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= nb; j++) {
			size_t up = row[j];
			size_t best = diag + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[nb];
}

/* The keys allowed at one level, for "did you mean" and "expected one of". */
struct names {
	char v[48][48];
	size_t n;
};

static void names_add(struct names *ns, const char *s, size_t len)
{
	if (ns->n >= sizeof(ns->v) / sizeof(ns->v[0]) || len >= sizeof(ns->v[0]))
		return;
	for (size_t i = 0; i < ns->n; i++)
		if (strlen(ns->v[i]) == len && !memcmp(ns->v[i], s, len))
			return;
	memcpy(ns->v[ns->n], s, len);
	ns->v[ns->n++][len] = '\0';
}

static void unknown_key(struct vctx *v, struct fy_node *kn, const char *path, const char *key,
			const struct names *ns)
{
	const char *best = NULL;
	size_t bd = 3;
	for (size_t i = 0; i < ns->n; i++) {
		size_t d = edit_distance(key, ns->v[i]);
		if (d < bd && d < strlen(key)) {
			bd = d;
			best = ns->v[i];
		}
	}
	if (best) {
		verr(v, kn, path, "unknown key; did you mean \"%s\"?", best);
		return;
	}
	struct buf list = BUF_INIT;
	for (size_t i = 0; i < ns->n; i++)
		buf_addf(&list, "%s%s", i ? ", " : "", ns->v[i]);
	verr(v, kn, path, "unknown key (expected one of: %s)", list.len ? list.data : "none");
	buf_release(&list);
}

/* An absent value: `key:` with nothing after it, `~` or `null`. */
static bool is_null(struct fy_node *n)
{
	if (!n)
		return true;
	if (!fy_node_is_scalar(n))
		return false;
	if (fy_node_get_style(n) != FYNS_PLAIN)
		return false;
	const char *s = fy_node_get_scalar0(n);
	return !s || !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

/* Sections compare enums ignoring case, as their stages do; flat keys exactly. */
static bool in_enum(const char *const *e, const char *s, bool exact)
{
	for (; *e; e++)
		if (exact ? !strcmp(*e, s) : !strcasecmp(*e, s))
			return true;
	return false;
}

static void enum_error(struct vctx *v, struct fy_node *n, const char *path, const char *const *e, const char *s)
{
	struct buf list = BUF_INIT;
	for (const char *const *p = e; *p; p++)
		buf_addf(&list, "%s%s", p == e ? "" : ", ", *p);
	verr(v, n, path, "expected one of %s, got \"%s\"", list.data, s);
	buf_release(&list);
}

static void walk_map(struct vctx *v, struct fy_node *map, const struct config_key *tab, const char *path,
		     int depth);

/* Checks the value vn of key kn (row k) at path against the schema. */
static void check_value(struct vctx *v, struct fy_node *kn, struct fy_node *vn, const struct config_key *k,
			const char *path, int depth)
{
	if (k->type == CFG_UNSUPPORTED) {
		verr(v, kn, path, "%s", k->doc);
		return;
	}
	if (depth > MAX_DEPTH) {
		verr(v, vn, path, "nesting too deep");
		return;
	}
	if (is_null(vn) || k->type == CFG_ANY || k->type == CFG_SECTION)
		return;
	const char *s = fy_node_is_scalar(vn) ? fy_node_get_scalar0(vn) : NULL;
	char sub[512];
	switch (k->type) {
	case CFG_STRING:
	case CFG_INT:
	case CFG_BOOL:
	case CFG_SIZE:
	case CFG_NUMBER:
	case CFG_DURATION: {
		if (!s) {
			verr(v, vn, path, "expected %s %s, got a %s", k->type == CFG_INT ? "an" : "a", type_names[k->type],
			     fy_node_is_mapping(vn) ? "mapping" : "list");
			return;
		}
		if (k->type == CFG_STRING) {
			if (k->enums && !in_enum(k->enums, s, false))
				enum_error(v, vn, path, k->enums, s);
			return;
		}
		char *end;
		errno = 0;
		double d = strtod(s, &end);
		bool num = end != s && !*end && !errno;
		int64_t n = 0;
		bool ok;
		if (k->type == CFG_NUMBER)
			ok = num;
		else if (k->type == CFG_DURATION) /* sections also take a bare number of seconds */
			ok = (num && d >= 0) || !ooda_duration_parse(s, strlen(s), &n);
		else if (k->type == CFG_SIZE)
			ok = !config_parse_size(s, &n);
		else if (k->type == CFG_BOOL)
			ok = in_enum((const char *const[]){ "true", "false", "yes", "no", "on", "off", NULL }, s, false);
		else {
			long long ll = strtoll(s, &end, 10);
			ok = end != s && !*end && !errno;
			n = ll;
		}
		if (!ok) {
			verr(v, vn, path, "expected %s %s, got \"%s\"%s", k->type == CFG_INT ? "an" : "a", type_names[k->type], s,
			     k->type == CFG_DURATION ? " (e.g. 30s, 5m, 1h30m)" :
			     k->type == CFG_SIZE     ? " (e.g. 512KiB, 64MiB)" : "");
			return;
		}
		if (k->type == CFG_INT && (k->min || k->max) && (n < k->min || n > k->max))
			verr(v, vn, path, "%s is out of range [%lld, %lld]", s, (long long)k->min, (long long)k->max);
		return;
	}
	case CFG_STRINGS:
		if (!fy_node_is_sequence(vn)) {
			verr(v, vn, path, "expected a list of strings");
			return;
		}
		{
			void *it = NULL;
			struct fy_node *e;
			int i = 0;
			while ((e = fy_node_sequence_iterate(vn, &it))) {
				if (!fy_node_is_scalar(e)) {
					snprintf(sub, sizeof(sub), "%s[%d]", path, i);
					verr(v, e, sub, "expected a string");
				}
				i++;
			}
		}
		return;
	case CFG_LIST:
	case CFG_MAP: {
		const struct config_key *items = k->type == CFG_LIST ? k->sub : k->items;
		if (k->type == CFG_MAP && fy_node_is_mapping(vn)) {
			walk_map(v, vn, k->sub, path, depth + 1);
			return;
		}
		if (k->type == CFG_MAP && k->strings_ok && fy_node_is_sequence(vn)) {
			const struct config_key strings = { k->path, CFG_STRINGS };
			check_value(v, kn, vn, &strings, path, depth + 1);
			return;
		}
		if (!items || !fy_node_is_sequence(vn)) {
			verr(v, vn, path, "expected a %s%s", type_names[k->type],
			     k->type == CFG_MAP && items ? " or a list of them" : "");
			return;
		}
		void *it = NULL;
		struct fy_node *e;
		int i = 0;
		while ((e = fy_node_sequence_iterate(vn, &it))) {
			snprintf(sub, sizeof(sub), "%s[%d]", path, i++);
			if (!fy_node_is_mapping(e))
				verr(v, e, sub, "expected a mapping of keys");
			else
				walk_map(v, e, items, sub, depth + 1);
		}
		return;
	}
	default:
		return;
	}
}

static const struct config_key *row_named(const struct config_key *tab, const char *name)
{
	for (const struct config_key *k = tab; k->path; k++)
		if (!strcmp(k->path, name))
			return k;
	return NULL;
}

static void walk_map(struct vctx *v, struct fy_node *map, const struct config_key *tab, const char *path,
		     int depth)
{
	char sub[512];
	void *iter = NULL;
	struct fy_node_pair *pair;
	while ((pair = fy_node_mapping_iterate(map, &iter))) {
		struct fy_node *kn = fy_node_pair_key(pair);
		const char *ks = kn && fy_node_is_scalar(kn) ? fy_node_get_scalar0(kn) : NULL;
		if (!ks) {
			verr(v, kn ? kn : map, path, "keys must be plain strings");
			continue;
		}
		snprintf(sub, sizeof(sub), "%s.%s", path, ks);
		const struct config_key *k = row_named(tab, ks);
		if (!k) {
			struct names ns = { .n = 0 };
			for (const struct config_key *r = tab; r->path; r++)
				names_add(&ns, r->path, strlen(r->path));
			unknown_key(v, kn, sub, ks, &ns);
			continue;
		}
		check_value(v, kn, fy_node_pair_value(pair), k, sub, depth);
	}
	for (const struct config_key *k = tab; k->path; k++) {
		if (!k->required || !is_null(fy_node_mapping_lookup_by_string(map, k->path, FY_NT)))
			continue;
		snprintf(sub, sizeof(sub), "%s.%s", path, k->path);
		verr(v, map, sub, "is required (%s%s)", k->type == CFG_INT ? "an " : "a ", type_names[k->type]);
	}
}

/*
 * Where a key path ("services[0].probes[1].interval") is in the document:
 * the deepest node of it that exists, or NULL.
 */
static struct fy_node *node_at(struct fy_node *root, const char *path, size_t len)
{
	struct fy_node *cur = root, *found = NULL;
	size_t i = 0;
	for (int steps = 0; cur && i < len && steps < 64; steps++) {
		if (path[i] == '.') {
			i++;
			continue;
		}
		struct fy_node *next = NULL;
		if (path[i] == '[') {
			char *end;
			long idx = strtol(path + i + 1, &end, 10);
			if (end == path + i + 1 || (size_t)(end - path) >= len || *end != ']')
				break;
			i = (size_t)(end - path) + 1;
			if (fy_node_is_sequence(cur) && idx >= 0 && idx < fy_node_sequence_item_count(cur))
				next = fy_node_sequence_get_by_index(cur, (int)idx);
		} else {
			size_t j = i;
			while (j < len && path[j] != '.' && path[j] != '[')
				j++;
			if (fy_node_is_mapping(cur))
				next = fy_node_mapping_lookup_by_string(cur, path + i, j - i);
			i = j;
		}
		if (!next)
			break;
		found = cur = next;
	}
	return found;
}

/* A section check said "key.path: message": place it at the node the path names. */
static void section_error(struct vctx *v, struct fy_node *section, const char *name, const char *msg)
{
	size_t n = 0;
	while (msg[n] && (isalnum((unsigned char)msg[n]) || strchr("_.-[]", msg[n])))
		n++;
	struct fy_node *at = NULL;
	if (n && msg[n] == ':' && !strncmp(msg, name, strlen(name)))
		at = node_at(fy_document_root(v->doc), msg, n);
	if (at)
		verr(v, at, NULL, "%s", msg);
	else
		verr(v, section, name, "%s", msg);
}

/* Is path a proper prefix ("server") of some table key ("server.listen")? */
static bool is_group(const char *path)
{
	size_t n = strlen(path);
	for (const struct config_key *k = config_keys; k->path; k++)
		if (!strncmp(k->path, path, n) && k->path[n] == '.')
			return true;
	return false;
}

static const struct config_key *find_key(const char *path)
{
	for (const struct config_key *k = config_keys; k->path; k++)
		if (!strcmp(k->path, path))
			return k;
	return NULL;
}

/* A flat key: its scalar, typed and bounded, stored in v->out. */
static void flat_value(struct vctx *v, struct fy_node *kn, struct fy_node *vn, const struct config_key *k,
		       const char *path)
{
	const char *s = vn && fy_node_is_scalar(vn) ? fy_node_get_scalar0(vn) : NULL;
	if (!s) {
		verr(v, vn ? vn : kn, path, "expected %s %s value", k->type == CFG_INT ? "an" : "a", type_names[k->type]);
		return;
	}
	if (k->type == CFG_STRING && k->enums && !in_enum(k->enums, s, true)) {
		enum_error(v, vn, path, k->enums, s);
		return;
	}
	struct buf detail = BUF_INIT;
	struct config scratch = { 0 };
	if (set_value(v->out ? v->out : &scratch, k, s, &detail))
		verr(v, vn, NULL, "%s", detail.data);
	if (k->type == CFG_STRING)
		free(*(char **)((char *)&scratch + k->offset));
	buf_release(&detail);
}

/* The stages' section checks, by top-level key (config_register_check). */
static struct {
	const char *section;
	config_check_fn *fn;
} checks[16];

int config_register_check(const char *section, config_check_fn *fn)
{
	const struct config_key *k = config_keys;
	while (k->path && strcmp(k->path, section))
		k++;
	if (!k->path || !k->staged)
		return OODA_EINVAL;
	size_t i = 0;
	while (i < sizeof(checks) / sizeof(checks[0]) && checks[i].section && strcmp(checks[i].section, section))
		i++;
	if (i == sizeof(checks) / sizeof(checks[0]))
		return OODA_ELIMIT;
	checks[i].section = k->path;
	checks[i].fn = fn;
	return 0;
}

static config_check_fn *registered_check(const char *section)
{
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]) && checks[i].section; i++)
		if (!strcmp(checks[i].section, section))
			return checks[i].fn;
	return NULL;
}

/* A section: its schema, then (if that found nothing) the stage's own check. */
static void section_value(struct vctx *v, struct fy_node *kn, struct fy_node *vn, const struct config_key *k,
			  const char *path)
{
	int before = v->n;
	check_value(v, kn, vn, k, path, 1);
	if (v->n != before || !k->staged || is_null(vn))
		return;
	config_check_fn *check = registered_check(k->path);
	if (!check) { /* never skipped in silence: a binary that forgot to register is refused */
		verr(v, vn, path, "this section's check is not registered (an ooda build error)");
		return;
	}
	char *json = fy_emit_node_to_string(vn, FYECF_MODE_JSON_ONELINE | FYECF_NO_ENDING_NEWLINE);
	if (!json) {
		verr(v, vn, path, "cannot be read as data");
		return;
	}
	struct buf why = BUF_INIT;
	if (check(json, &why))
		section_error(v, vn, path, why.len ? why.data : "is not valid");
	buf_release(&why);
	free(json);
}

static void walk_flat(struct vctx *v, struct fy_node *map, const char *prefix, int depth)
{
	void *iter = NULL;
	struct fy_node_pair *pair;
	while ((pair = fy_node_mapping_iterate(map, &iter))) {
		struct fy_node *kn = fy_node_pair_key(pair);
		struct fy_node *vn = fy_node_pair_value(pair);
		const char *ks = kn && fy_node_is_scalar(kn) ? fy_node_get_scalar0(kn) : NULL;
		if (!ks) {
			verr(v, kn ? kn : map, *prefix ? prefix : "(top)", "keys must be plain strings");
			continue;
		}
		char path[256];
		snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", ks);
		const struct config_key *k = find_key(path);
		if (k && is_field(k)) {
			flat_value(v, kn, vn, k, path);
		} else if (k) {
			section_value(v, kn, vn, k, path);
		} else if (is_group(path)) {
			if (!vn || !fy_node_is_mapping(vn))
				verr(v, vn ? vn : kn, path, "expected a mapping");
			else if (depth >= 8)
				verr(v, vn, path, "nesting too deep");
			else
				walk_flat(v, vn, path, depth + 1);
		} else {
			/* the names allowed at this level: the next segment of every key under prefix */
			struct names ns = { .n = 0 };
			size_t pl = strlen(prefix);
			for (const struct config_key *r = config_keys; r->path; r++) {
				if (pl && (strncmp(r->path, prefix, pl) || r->path[pl] != '.'))
					continue;
				const char *seg = r->path + (pl ? pl + 1 : 0);
				names_add(&ns, seg, strcspn(seg, "."));
			}
			unknown_key(v, kn, path, ks, &ns);
		}
	}
}

static int validate_doc(struct vctx *v)
{
	struct fy_node *root = fy_document_root(v->doc);
	if (root && !fy_node_is_mapping(root))
		verr(v, root, NULL, "the top level must be a mapping of keys");
	else if (root)
		walk_flat(v, root, "", 0);
	if (v->n > MAX_ERRORS)
		buf_addf(v->err, "\n%s: %d more problems not shown", v->file, v->n - MAX_ERRORS);
	return v->n ? OODA_EINVAL : 0;
}

int config_validate(const struct config *c, struct buf *err)
{
	if (!c->doc)
		return 0;
	struct vctx v = { .file = c->path ? c->path : "ooda.yaml", .doc = c->doc, .err = err };
	return validate_doc(&v);
}

static int load_doc(struct config *c, const char *name, struct fy_document *doc, struct fy_diag *diag,
		    struct buf *err)
{
	if (!doc) {
		void *it = NULL;
		struct fy_diag_error *e = diag ? fy_diag_errors_iterate(diag, &it) : NULL;
		if (e)
			buf_addf(err, "%s:%d:%d: %s", name, e->line + 1, e->column + 1, e->msg);
		else
			buf_addf(err, "%s: not valid YAML", name);
		return OODA_EINVAL;
	}
	struct config next;
	config_init(&next);
	struct vctx v = { .file = name, .doc = doc, .out = &next, .err = err };
	int rc = validate_doc(&v);
	if (rc) {
		config_release(&next);
		fy_document_destroy(doc);
		return rc;
	}
	next.doc = doc;
	next.path = xstrdup(name);
	config_release(c);
	*c = next;
	return 0;
}

static struct fy_diag *diag_new(void)
{
	struct fy_diag_cfg dcfg;
	fy_diag_cfg_default(&dcfg);
	dcfg.fp = NULL;
	dcfg.output_fn = NULL;
	dcfg.colorize = false;
	struct fy_diag *diag = fy_diag_create(&dcfg);
	if (diag)
		fy_diag_set_collect_errors(diag, true);
	return diag;
}

int config_load(struct config *c, const char *path, struct buf *err)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		buf_addf(err, "%s: cannot open: %s", path, strerror(errno));
		return OODA_EIO;
	}
	struct buf text = BUF_INIT;
	char chunk[8192];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		buf_add(&text, chunk, n);
		if (text.len > 16 << 20) {
			fclose(f);
			buf_release(&text);
			buf_addf(err, "%s: larger than 16 MiB", path);
			return OODA_ETOOBIG;
		}
	}
	fclose(f);
	int rc = config_load_string(c, path, text.data, text.len, err);
	buf_release(&text);
	return rc;
}

/*
 * libfyaml 0.7 (Debian 12) can crash or loop on some malformed documents:
 * each text is first parsed in a throw-away process (core/yaml_guard.h),
 * so that a bad file fails with a clear error and the daemon (and its old
 * configuration) is untouched.
 */
static int yaml_probe(const char *name, const char *text, size_t len, struct buf *err)
{
	int v = yaml_guard_check(text, len);
	if (v != YAML_CRASHED && v != YAML_HUNG)
		return 0; /* parses, or cannot probe: parse in-process as before */
	buf_addf(err, "%s:1:1: the YAML parser %s on this file; look for unusual constructs "
		      "(tabs in indentation, stray '?' or '!' indicators)",
		 name, v == YAML_HUNG ? "did not finish" : "failed");
	return OODA_EINVAL;
}

int config_load_string(struct config *c, const char *name, const char *yaml, size_t len,
		       struct buf *err)
{
	struct fy_diag *diag = diag_new();
	struct fy_parse_cfg pcfg = {
		.flags = FYPCF_QUIET | FYPCF_COLLECT_DIAG,
		.diag = diag,
	};
	/* YAML directives (%YAML, %TAG) have no use in ooda.yaml, and libfyaml
	 * 0.7's directive scanner can loop on malformed ones: refuse them here. */
	int line = 1;
	bool at_line_start = true;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)yaml[i];
		if (at_line_start && ch == '%') {
			buf_addf(err, "%s:%d:1: YAML directives (lines starting with %%) are not accepted", name, line);
			if (diag)
				fy_diag_destroy(diag);
			return OODA_EINVAL;
		}
		/* every line break YAML 1.1 or 1.2 knows: LF, CR, NEL, LS, PS; and a BOM */
		bool brk = ch == '\n' || ch == '\r' ||
			   (ch == 0xc2 && i + 1 < len && (unsigned char)yaml[i + 1] == 0x85) ||
			   (ch == 0xe2 && i + 2 < len && (unsigned char)yaml[i + 1] == 0x80 &&
			    ((unsigned char)yaml[i + 2] == 0xa8 || (unsigned char)yaml[i + 2] == 0xa9));
		bool bom = i == 0 && ch == 0xef && len >= 3 && (unsigned char)yaml[1] == 0xbb &&
			   (unsigned char)yaml[2] == 0xbf;
		if (brk || bom) {
			if (ch == '\n')
				line++;
			i += ch == 0xc2 ? 1 : (ch == 0xe2 || bom) ? 2 : 0;
			at_line_start = true;
		} else {
			at_line_start = false;
		}
	}
	char *text = NULL;
	size_t k = 0;
	while (k < len && (yaml[k] == ' ' || yaml[k] == '\t' || yaml[k] == '\r' || yaml[k] == '\n'))
		k++;
	struct fy_document *doc = NULL;
	if (k == len) {
		doc = fy_document_create(&pcfg);
	} else {
		/* the document (and its diagnostics) point into the text: keep a copy
		 * that lives as long as the config does */
		text = xmalloc(len + 1);
		memcpy(text, yaml, len);
		text[len] = '\0';
		if (yaml_probe(name, text, len, err)) {
			free(text);
			if (diag)
				fy_diag_destroy(diag);
			return OODA_EINVAL;
		}
		doc = fy_document_build_from_string(&pcfg, text, len);
	}
	int rc = load_doc(c, name, doc, diag, err);
	if (diag)
		fy_diag_destroy(diag);
	if (rc)
		free(text);
	else
		c->text = text;
	return rc;
}

void config_restart_keys(const struct config *old, const struct config *next, struct buf *out)
{
	size_t start = out->len;
	for (const struct config_key *k = config_keys; k->path; k++) {
		if (!is_field(k) || k->reloadable)
			continue;
		const char *a = (const char *)old + k->offset, *b = (const char *)next + k->offset;
		bool same = k->type == CFG_STRING ? !strcmp(*(char *const *)a ? *(char *const *)a : "",
							  *(char *const *)b ? *(char *const *)b : "")
						  : *(const int64_t *)a == *(const int64_t *)b;
		if (!same)
			buf_addf(out, "%s%s", out->len > start ? ", " : "", k->path);
	}
}

struct fy_node *config_section(const struct config *c, const char *name)
{
	if (!c->doc)
		return NULL;
	struct fy_node *root = fy_document_root(c->doc);
	if (!root || !fy_node_is_mapping(root))
		return NULL;
	return fy_node_mapping_lookup_by_string(root, name, FY_NT);
}

static void doc_row(struct buf *out, const char *path, const struct config_key *k)
{
	buf_addf(out, "| `%s` | %s | %s%s%s | %s", path, type_names[k->type], k->def ? "`" : "",
		 k->def ? k->def : "—", k->def ? "`" : "", k->doc);
	if (k->required)
		buf_adds(out, " Required.");
	if (k->enums) {
		buf_adds(out, " One of:");
		for (const char *const *e = k->enums; *e; e++)
			buf_addf(out, "%s `%s`", e == k->enums ? "" : ",", *e);
		buf_addch(out, '.');
	}
	buf_adds(out, " |\n");
}

/* The rows of a section's keys, below path. */
static void doc_section(struct buf *out, const char *path, const struct config_key *k, int depth)
{
	if (!k->sub || depth > MAX_DEPTH)
		return;
	char base[512];
	if (snprintf(base, sizeof(base), "%s%s", path, k->type == CFG_LIST ? "[]" : "") >= (int)sizeof(base))
		return; /* no key path of the schema is this long */
	for (const struct config_key *r = k->sub; r->path; r++) {
		char sub[600];
		if (snprintf(sub, sizeof(sub), "%s.%s", base, r->path) >= (int)sizeof(sub))
			continue;
		doc_row(out, sub, r);
		doc_section(out, sub, r, depth + 1);
	}
}

void config_docs_markdown(struct buf *out)
{
	buf_adds(out, "# ooda.yaml reference\n\n"
		      "Generated by `ooda docs config` from the schema table in `src/core/config.c`;\n"
		      "a test fails when this file and the table disagree. Every key below is read by\n"
		      "ooda; any other key is refused, naming the file, line and column, with the\n"
		      "closest known key. `ooda serve`, `ooda config check` and a reload (SIGHUP or\n"
		      "`POST /api/v1/config/reload`) validate a file the same way and report every\n"
		      "problem found, one `FILE:LINE:COLUMN: key.path: message` line each.\n\n"
		      "| key | type | default | description |\n|---|---|---|---|\n");
	for (const struct config_key *k = config_keys; k->path; k++) {
		doc_row(out, k->path, k);
		doc_section(out, k->path, k, 0);
	}
	buf_adds(out, "\nSizes take `KiB`, `MiB`, `GiB` (1024-based) or `KB`, `MB`, `GB`; durations take\n"
		      "`ms`, `s`, `m`, `h`, `d`, `w` and combinations such as `1h30m` (in sections, a bare\n"
		      "number is seconds). Keys of type \"refused\" are not read by this version: a file\n"
		      "that sets them is refused rather than silently ignored.\n");
}

int config_yaml_to_json(const char *text, size_t len, char **json, struct buf *err)
{
	if (len > 16 << 20) {
		buf_adds(err, "YAML document larger than 16 MiB");
		return OODA_ETOOBIG;
	}
	if (yaml_probe("document", text, len, err))
		return OODA_EPARSE;
	struct fy_diag *diag = diag_new();
	struct fy_parse_cfg pcfg = { .flags = FYPCF_QUIET, .diag = diag };
	struct fy_document *doc = fy_document_build_from_string(&pcfg, text, len);
	int rc = 0;
	if (!doc || !fy_document_root(doc)) {
		struct fy_diag_error *e;
		void *it = NULL;
		if (diag && (e = fy_diag_errors_iterate(diag, &it)))
			buf_addf(err, "YAML error at line %d, column %d: %s", e->line + 1, e->column + 1, e->msg);
		else
			buf_adds(err, doc ? "the YAML document is empty" : "not a valid YAML document");
		rc = OODA_EPARSE;
	} else {
		*json = fy_emit_document_to_string(doc, FYECF_MODE_JSON_ONELINE | FYECF_NO_ENDING_NEWLINE);
		if (!*json) {
			buf_adds(err, "the YAML document cannot be expressed as JSON");
			rc = OODA_EPARSE;
		}
	}
	fy_document_destroy(doc);
	if (diag)
		fy_diag_destroy(diag);
	return rc;
}

char *config_section_json(const struct config *c, const char *name)
{
	struct fy_node *n = config_section(c, name);
	if (!n)
		return NULL;
	return fy_emit_node_to_string(n, FYECF_MODE_JSON_ONELINE | FYECF_NO_ENDING_NEWLINE);
}
