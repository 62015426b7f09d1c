/*
 * The CLI's shared pieces: parsed arguments, the command table entry, and
 * output helpers (tables for people, raw JSON for scripts). Commands live in
 * main.c and cmd_*.c; all of them are listed in the one table in main.c.
 */
#ifndef OODA_CLI_H
#define OODA_CLI_H

#include <stdbool.h>

#include <jansson.h>

#include "cli/client.h"
#include "core/buf.h"

#define CLI_MAX_POS 16
#define CLI_MAX_OPTS 32

/* The context file `ooda login` writes (see cli_context.c). */
struct cli_context {
	char server[1024];
	char token_file[4096];
};

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
	/* filled by cli_context_resolve(): where client.server and client.token came from */
	bool resolved, has_context;
	const char *server_from; /* "flag --server", "env OODA_SERVER", "context" or "default" */
	const char *token_from;  /* likewise, or NULL when no token is in use */
	struct cli_context context;
	char context_path[4096];
	char token_buf[512];
	int resolve_rc; /* a context token file that cannot be used; reported by the first call */
	char resolve_err[1024];
	/* filled by cli_call() when the daemon answered with an error: for --json errors */
	int http_status;
	char http_title[128];
	int exit_status; /* a command's own exit status on success (deploy verify: 3 inconclusive) */
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
	const char *stage;    /* help group: observe, orient, decide, act, learn or admin */
};

/* Exit statuses, the same for every command (docs/cli.md, "Exit status"). */
enum {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAIL = 1,         /* the daemon refused or failed, or a check failed */
	CLI_EXIT_USAGE = 2,        /* bad command line: unknown command or option, missing argument */
	CLI_EXIT_INCONCLUSIVE = 3, /* deploy verify: too little data to pass or fail */
};

/*
 * The exit status for a command's result: rc 0 gives a->exit_status (0
 * unless the command set one); OODA_EINVAL (a bad command line) and
 * OODA_EPARSE (a file it names that cannot be parsed) give 2; every other
 * error 1. Errors the daemon answers with never map to either (see
 * client_call), and an answer that cannot be read is OODA_EINTERNAL, so
 * they give 1.
 */
int cli_exit_status(const struct cli_args *a, int rc);

/*
 * Prints a human rendering of a JSON answer: one `key: value` line per
 * member, nested objects indented, arrays of scalars joined by ", ",
 * arrays of objects as indented `-` items. For commands whose answer has
 * no dedicated table; never JSON unless --json was asked for.
 */
void cli_print_fields(json_t *j);

/*
 * One option's description for help, docs/cli.md and completion. command is
 * "token create" (that command only), "flags" (every flags subcommand) or
 * NULL (any command); the most specific entry wins.
 */
struct cli_option_doc {
	const char *option;  /* "--env" */
	const char *command;
	const char *text;    /* one line, no trailing period */
	const char *metavar; /* the value's placeholder in usage ("DURATION"); NULL: the name in capitals */
};

/* main.c: the command table (ends with a NULL name) and the option descriptions (ends with a NULL option). */
extern const struct cli_command *const cli_commands;
extern const struct cli_option_doc *const cli_option_docs;

/* cli_help.c */

/* "--server=,--token=,--json,--help": accepted by every command, before or after it. */
extern const char *const cli_global_options;

/* The description of option for command c, or NULL when the table has none. */
const char *cli_option_doc(const struct cli_command *c, const char *option);

/* The entry cli_option_doc takes its text from, or NULL. */
const struct cli_option_doc *cli_option_entry(const struct cli_command *c, const char *option);

/* Appends "ooda NAME SUB USAGE [--opt OPT]…" to out. */
void cli_usage_line(const struct cli_command *c, struct buf *out);

/* Help text: every command by stage; one command with its options; a group's subcommands. */
void cli_help_all(struct buf *out);
void cli_help_command(const struct cli_command *c, struct buf *out);
void cli_help_group(const char *name, struct buf *out);

/* Help for `name [sub]` (name NULL: all) into out; OODA_EINVAL with "did you mean" in err when unknown. */
int cli_help(const char *name, const char *sub, struct buf *out, struct buf *err);

/* Damerau-Levenshtein distance (a swap of neighbours is one edit); 64 for words over 63 characters. */
size_t cli_edit_distance(const char *x, const char *y);

/* The candidate closest to word when close enough to suggest, else NULL. */
const char *cli_suggest(const char *word, const char *const *cands, size_t n);

/* Appends "unknown command …; did you mean `ooda …`?" (sub non-NULL: an unknown subcommand of name). */
void cli_unknown_command(const char *name, const char *sub, struct buf *err);

/* Appends "unknown option --x for `ooda …`; did you mean --y?". */
void cli_unknown_option(const struct cli_command *c, const char *option, struct buf *err);

/*
 * docs/cli.md into out. OODA_EINVAL, naming each in err, when a command has
 * no stage or an option no description (the docs test then fails).
 */
int cli_docs_markdown(struct buf *out, struct buf *err);

/* The completion script for shell ("bash", "zsh", "fish"); OODA_EINVAL for another. */
int cli_completion(const char *shell, struct buf *out, struct buf *err);

/*
 * Calls the daemon and, unless --json, leaves the body in out for the
 * command to render; with --json prints the body and sets *printed.
 */
int cli_call(struct cli_args *a, const char *method, const char *path, const char *body,
	     const char *ctype, struct buf *out, struct buf *err);

/*
 * cli_call with a JSON body (or none) whose answer, unless --json, is parsed
 * into *out (caller json_decref's it; NULL with --json). An answer that is not
 * JSON is OODA_EINTERNAL.
 */
int cli_call_json(struct cli_args *a, const char *method, const char *path, const char *body, json_t **out,
		  struct buf *err);

/* A string member of o, or "" when absent or not a string. */
const char *cli_jstr(json_t *o, const char *key);

/* Appends ?name=value (or &name=value), URL-encoded; nothing when value is NULL. */
void cli_param(struct buf *path, const char *name, const char *value);

/* Prints rows as an aligned table; cells[r * ncols + c] (cli_table.c). */
void cli_table(const char *const *headers, int ncols, const char **cells, int nrows);

/* A column of cli_table_json: its header, and a row's cell from a member or a function. */
struct cli_column {
	const char *header;
	const char *key;                            /* the row's string member (cli_jstr) when cell is NULL */
	void (*cell)(json_t *row, struct buf *out); /* writes the cell */
};

/* Prints the objects of the array list as an aligned table (cli_table), one row each. */
void cli_table_json(json_t *list, const struct cli_column *cols, int ncols);

/* Cells for cli_column.cell: "v" and the row's "version"; the row's "services" joined by ",". */
void cli_cell_version(json_t *row, struct buf *out);
void cli_cell_services(json_t *row, struct buf *out);

/*
 * (cli_request.c) cli_call_json on prefix + URL-encoded id + tail, with
 * body (stolen: json_decref'd here; NULL sends none) as compact JSON.
 */
int cli_call_item(struct cli_args *a, const char *method, const char *prefix, const char *id, const char *tail,
		  json_t *body, json_t **out, struct buf *err);

/* cli_call_item, then, unless --json, print(the answer). */
int cli_show_item(struct cli_args *a, const char *method, const char *prefix, const char *id, const char *tail,
		  json_t *body, void (*print)(json_t *j), struct buf *err);

/*
 * GET path with ?NAME=VALUE for each option "--NAME" of opts (a NULL-ended
 * list) that was given: the filters of a list command.
 */
int cli_get_filtered(struct cli_args *a, const char *path, const char *const *opts, json_t **out, struct buf *err);

/* --rationale, or "" when not given. */
const char *cli_rationale(const struct cli_args *a);

/* "v3" → "3", "V3" → "3", "3" → "3"; NULL stays NULL. */
const char *cli_strip_v(const char *s);

/*
 * Appends the file's text (- reads stdin) to out: OODA_EIO when it cannot be
 * opened, OODA_ETOOBIG past max bytes with "FILE: WHAT is at most MAX bytes".
 */
int cli_read_file(const char *file, size_t max, const char *what, struct buf *out, struct buf *err);

/*
 * (cli_vdoc.c) The commands every versioned document of the remedy stage
 * has, over the routes of api/vdoc_api.h: history, diff, rollback, and the
 * PUT of apply. One descriptor per kind.
 */
struct cli_vdoc_kind {
	const char *noun;   /* "policy": in usage lines and output */
	const char *prefix; /* "/api/v1/policies/" */
};

/* NAME: every version, when, by whom, why (the history of GET prefix NAME). */
int cli_vdoc_history(struct cli_args *a, const struct cli_vdoc_kind *k, struct buf *err);
/* NAME [vA vB]: the line diff, under "NAME vA → vB". */
int cli_vdoc_diff(struct cli_args *a, const struct cli_vdoc_kind *k, struct buf *err);
/* NAME --to vN [--rationale WHY]: version N again as the next version. */
int cli_vdoc_rollback(struct cli_args *a, const struct cli_vdoc_kind *k, struct buf *err);
/* PUT body (stolen) as document name; prints "NOUN NAME vN". */
int cli_vdoc_put(struct cli_args *a, const struct cli_vdoc_kind *k, const char *name, json_t *body, struct buf *err);

/* The user running the CLI, as an audit actor: "cli:NAME". */
const char *cli_actor(void);

/* The server the command talks to, for messages ("on http://…"): every command
 * that changes something names it. Resolves the context first if needed. */
const char *cli_server(struct cli_args *a);

/* cli_context.c */

/* $XDG_CONFIG_HOME/ooda, else $HOME/.config/ooda; OODA_ENOTFOUND when neither is set. */
int cli_context_dir(char *out, size_t n, struct buf *err);

/* Reads a context file into *c. OODA_ENOTFOUND when it does not exist;
 * OODA_EPARSE naming FILE:LINE for an unknown key or a malformed line. */
int cli_context_load(const char *path, struct cli_context *c, struct buf *err);

/* Writes *c to path with mode 0600 (atomically, through a rename). */
int cli_context_save(const char *path, const struct cli_context *c, struct buf *err);

/* Reads the token (first line, trimmed) of a token file into out. Refuses,
 * with OODA_EFORBIDDEN and the chmod to run, a file group or others can read. */
int cli_token_file_read(const char *path, char *out, size_t n, struct buf *err);

/* Picks a->client.server and .token: flag > env var > context > default, and
 * records where each came from. The context's token is used only with the
 * context's server. Never fails: an unusable token file is kept in
 * a->resolve_rc for cli_context_check(). */
void cli_context_resolve(struct cli_args *a);

/* Resolves if not yet done; returns the resolution's error (with detail in err). */
int cli_context_check(struct cli_args *a, struct buf *err);

/* Appends "URL (from SOURCE)" to server and "in use (from SOURCE)" or "none"
 * to token; never the token itself. */
void cli_context_describe(struct cli_args *a, struct buf *server, struct buf *token);

int cmd_login(struct cli_args *a, struct buf *err);
int cmd_logout(struct cli_args *a, struct buf *err);

/* cmd_telemetry.c */
int cmd_logs_search(struct cli_args *a, struct buf *err);
int cmd_logs_tail(struct cli_args *a, struct buf *err);
int cmd_trace_show(struct cli_args *a, struct buf *err);
int cmd_traces(struct cli_args *a, struct buf *err);
int cmd_query(struct cli_args *a, struct buf *err);
int cmd_events(struct cli_args *a, struct buf *err);
int cmd_services_list(struct cli_args *a, struct buf *err);
int cmd_cluster_status(struct cli_args *a, struct buf *err);
int cmd_services_show(struct cli_args *a, struct buf *err);
int cmd_logs_patterns(struct cli_args *a, struct buf *err);

/* cmd_notify.c */
int cmd_notifications_list(struct cli_args *a, struct buf *err);
int cmd_notifications_test(struct cli_args *a, struct buf *err);

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
int cmd_rollout_start(struct cli_args *a, struct buf *err);
int cmd_rollout_status(struct cli_args *a, struct buf *err);
int cmd_rollout_list(struct cli_args *a, struct buf *err);
int cmd_rollout_promote(struct cli_args *a, struct buf *err);
int cmd_rollout_abort(struct cli_args *a, struct buf *err);
int cmd_rollback_status(struct cli_args *a, struct buf *err);
int cmd_migration_register(struct cli_args *a, struct buf *err);
int cmd_approvals_list(struct cli_args *a, struct buf *err);
int cmd_approvals_approve(struct cli_args *a, struct buf *err);
int cmd_approvals_reject(struct cli_args *a, struct buf *err);

int cmd_telemetry_check(struct cli_args *a, struct buf *err);
int cmd_telemetry_repair(struct cli_args *a, struct buf *err);

/* cmd_window.c */
int cmd_export(struct cli_args *a, struct buf *err);
int cmd_import(struct cli_args *a, struct buf *err);
/* `ooda migrate` (cmd_migrate.c) */
int cmd_migrate(struct cli_args *a, struct buf *err);

/* cmd_detect.c */
int cmd_alerts_list(struct cli_args *a, struct buf *err);
int cmd_alerts_show(struct cli_args *a, struct buf *err);
int cmd_alerts_groups(struct cli_args *a, struct buf *err);
int cmd_alerts_silence(struct cli_args *a, struct buf *err);
int cmd_alerts_silences(struct cli_args *a, struct buf *err);
int cmd_alerts_unsilence(struct cli_args *a, struct buf *err);
/* cmd_respond.c */
int cmd_analyze_rca(struct cli_args *a, struct buf *err);

/* cmd_probe.c */
int cmd_probes_list(struct cli_args *a, struct buf *err);
int cmd_targets(struct cli_args *a, struct buf *err);
int cmd_heartbeats_list(struct cli_args *a, struct buf *err);
int cmd_heartbeat(struct cli_args *a, struct buf *err);
/* cmd_slo.c */
int cmd_slo_list(struct cli_args *a, struct buf *err);
int cmd_slo_show(struct cli_args *a, struct buf *err);
/* cmd_actions.c */
int cmd_actions_list(struct cli_args *a, struct buf *err);
int cmd_actions_add(struct cli_args *a, struct buf *err);
int cmd_actions_done(struct cli_args *a, struct buf *err);

/* cmd_oncall.c */
int cmd_oncall_who(struct cli_args *a, struct buf *err);
int cmd_oncall_shifts(struct cli_args *a, struct buf *err);
int cmd_oncall_override(struct cli_args *a, struct buf *err);

/* cmd_remedy.c */
int cmd_recipes_list(struct cli_args *a, struct buf *err);
int cmd_recipes_show(struct cli_args *a, struct buf *err);
int cmd_runbook_list(struct cli_args *a, struct buf *err);
int cmd_runbook_show(struct cli_args *a, struct buf *err);
int cmd_runbook_apply(struct cli_args *a, struct buf *err);
int cmd_runbook_history(struct cli_args *a, struct buf *err);
int cmd_runbook_diff(struct cli_args *a, struct buf *err);
int cmd_runbook_rollback(struct cli_args *a, struct buf *err);
int cmd_runbook_check(struct cli_args *a, struct buf *err);
int cmd_runbook_run(struct cli_args *a, struct buf *err);
int cmd_runbook_status(struct cli_args *a, struct buf *err);
int cmd_runbook_step(struct cli_args *a, struct buf *err);
int cmd_runs_list(struct cli_args *a, struct buf *err);
int cmd_runs_show(struct cli_args *a, struct buf *err);
int cmd_runs_approve(struct cli_args *a, struct buf *err);
int cmd_runs_reject(struct cli_args *a, struct buf *err);
int cmd_runs_cancel(struct cli_args *a, struct buf *err);
int cmd_policy_list(struct cli_args *a, struct buf *err);
int cmd_policy_show(struct cli_args *a, struct buf *err);
int cmd_policy_apply(struct cli_args *a, struct buf *err);
int cmd_policy_history(struct cli_args *a, struct buf *err);
int cmd_policy_diff(struct cli_args *a, struct buf *err);
int cmd_policy_rollback(struct cli_args *a, struct buf *err);
int cmd_automation_pause(struct cli_args *a, struct buf *err);
int cmd_automation_resume(struct cli_args *a, struct buf *err);
int cmd_automation_status(struct cli_args *a, struct buf *err);

/* cmd_drill.c */
int cmd_drill_run(struct cli_args *a, struct buf *err);

/* cmd_incident.c */
int cmd_incident_list(struct cli_args *a, struct buf *err);
int cmd_incident_show(struct cli_args *a, struct buf *err);
int cmd_incident_postmortem(struct cli_args *a, struct buf *err);
int cmd_incident_open(struct cli_args *a, struct buf *err);
int cmd_incident_ack(struct cli_args *a, struct buf *err);
int cmd_incident_mitigate(struct cli_args *a, struct buf *err);
int cmd_incident_resolve(struct cli_args *a, struct buf *err);
int cmd_incident_timeline(struct cli_args *a, struct buf *err);
int cmd_incident_note(struct cli_args *a, struct buf *err);
int cmd_incident_hypothesis(struct cli_args *a, struct buf *err);
int cmd_incident_artifact(struct cli_args *a, struct buf *err);
int cmd_incident_status(struct cli_args *a, struct buf *err);

#endif
