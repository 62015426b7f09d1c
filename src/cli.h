/*
 * The CLI's shared pieces: parsed arguments, the command table entry, and
 * output helpers (tables for people, raw JSON for scripts). Commands live in
 * main.c and cmd_*.c; all of them are listed in the one table in main.c.
 */
#ifndef OODA_CLI_H
#define OODA_CLI_H

#include <stdbool.h>

#include <jansson.h>

#include "api/client.h"
#include "core/buf.h"

#define CLI_MAX_POS 16
#define CLI_MAX_OPTS 32

struct cli_args {
	const char *pos[CLI_MAX_POS];
	int n_pos;
	const char *opt_names[CLI_MAX_OPTS];
	char opt_name_buf[CLI_MAX_OPTS][64];  /* storage behind opt_names */
	const char *opt_values[CLI_MAX_OPTS]; /* "" for bare flags */
	int n_opts;
	const char *passthrough[64];          /* after "--" */
	int n_passthrough;
	struct client client;
	bool json;
};

/* Value of --name, or NULL. */
const char *cli_opt(const struct cli_args *a, const char *name);
bool cli_flag(const struct cli_args *a, const char *name);

typedef int (*cli_fn)(struct cli_args *a, struct buf *err);

struct cli_command {
	const char *name;     /* "token" */
	const char *sub;      /* "create", or NULL */
	cli_fn fn;
	const char *options;  /* comma list: "--role=,--name=,--json" ('=' takes a value) */
	const char *usage;    /* positional part: "FILE" */
	const char *summary;
};

/*
 * Calls the daemon and, unless --json, leaves the body in out for the
 * command to render; with --json prints the body and sets *printed.
 */
int cli_call(struct cli_args *a, const char *method, const char *path, const char *body,
	     const char *ctype, struct buf *out, struct buf *err);

/*
 * cli_call with a JSON body (or none) whose answer, unless --json, is parsed
 * into *out (caller json_decref's it; NULL with --json). An answer that is not
 * JSON is OODA_EPARSE.
 */
int cli_call_json(struct cli_args *a, const char *method, const char *path, const char *body, json_t **out,
		  struct buf *err);

/* A string member of o, or "" when absent or not a string. */
const char *cli_jstr(json_t *o, const char *key);

/* Appends ?name=value (or &name=value), URL-encoded; nothing when value is NULL. */
void cli_param(struct buf *path, const char *name, const char *value);

/* Prints rows as an aligned table; cells[r * ncols + c]. */
void cli_table(const char *const *headers, int ncols, const char **cells, int nrows);

/* The user running the CLI, as an audit actor: "cli:NAME". */
const char *cli_actor(void);

/* cmd_telemetry.c */
int cmd_logs_search(struct cli_args *a, struct buf *err);
int cmd_logs_tail(struct cli_args *a, struct buf *err);
int cmd_trace_show(struct cli_args *a, struct buf *err);
int cmd_traces(struct cli_args *a, struct buf *err);
int cmd_query(struct cli_args *a, struct buf *err);
int cmd_events(struct cli_args *a, struct buf *err);
int cmd_services(struct cli_args *a, struct buf *err);
int cmd_logs_patterns(struct cli_args *a, struct buf *err);

/* cmd_change.c */
int cmd_flags_list(struct cli_args *a, struct buf *err);
int cmd_flags_get(struct cli_args *a, struct buf *err);
int cmd_flags_set(struct cli_args *a, struct buf *err);
int cmd_flags_history(struct cli_args *a, struct buf *err);
int cmd_flags_diff(struct cli_args *a, struct buf *err);
int cmd_flags_rollback(struct cli_args *a, struct buf *err);
int cmd_flags_import(struct cli_args *a, struct buf *err);
int cmd_flags_export(struct cli_args *a, struct buf *err);
int cmd_flags_kill(struct cli_args *a, struct buf *err);
int cmd_config_put(struct cli_args *a, struct buf *err);
int cmd_config_get(struct cli_args *a, struct buf *err);
int cmd_config_history(struct cli_args *a, struct buf *err);
int cmd_config_diff(struct cli_args *a, struct buf *err);
int cmd_config_rollback(struct cli_args *a, struct buf *err);
int cmd_deploy_record(struct cli_args *a, struct buf *err);
int cmd_deploy_list(struct cli_args *a, struct buf *err);
int cmd_deploy_show(struct cli_args *a, struct buf *err);
int cmd_deploy_verify(struct cli_args *a, struct buf *err);
int cmd_rollback_plan(struct cli_args *a, struct buf *err);
int cmd_rollback_run(struct cli_args *a, struct buf *err);
int cmd_rollback_status(struct cli_args *a, struct buf *err);
int cmd_migration_register(struct cli_args *a, struct buf *err);
int cmd_approvals_list(struct cli_args *a, struct buf *err);
int cmd_approvals_approve(struct cli_args *a, struct buf *err);
int cmd_approvals_reject(struct cli_args *a, struct buf *err);

int cmd_telemetry_check(struct cli_args *a, struct buf *err);
int cmd_telemetry_repair(struct cli_args *a, struct buf *err);

/* cmd_detect.c */
int cmd_alerts_list(struct cli_args *a, struct buf *err);
int cmd_alerts_show(struct cli_args *a, struct buf *err);
int cmd_alerts_groups(struct cli_args *a, struct buf *err);
int cmd_alerts_silence(struct cli_args *a, struct buf *err);
int cmd_alerts_silences(struct cli_args *a, struct buf *err);
int cmd_alerts_unsilence(struct cli_args *a, struct buf *err);
/* cmd_probe.c */
int cmd_probes_list(struct cli_args *a, struct buf *err);
int cmd_heartbeats_list(struct cli_args *a, struct buf *err);
int cmd_heartbeat(struct cli_args *a, struct buf *err);
/* cmd_slo.c */
int cmd_slo_list(struct cli_args *a, struct buf *err);
int cmd_slo_show(struct cli_args *a, struct buf *err);

#endif
