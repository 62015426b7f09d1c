/*
 * ooda.yaml: the declarative configuration of a deployment. Every key lives
 * in one schema table (config.c), sections described by sub-tables; loading
 * validates every key and reports each problem as "FILE:LINE:COLUMN:
 * key.path: message". Sections that belong to a later stage (services,
 * slos, deploy, ...) are kept as YAML nodes for that stage to read;
 * docs/config.md is generated from the table.
 */
#ifndef OODA_CONFIG_H
#define OODA_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"

struct fy_document;
struct fy_node;

struct config {
	char *path;              /* file it came from, or NULL for defaults */
	/* server */
	char *listen;            /* host:port */
	char *data_dir;
	char *node_id;           /* this node's name in a cluster; "" = host name and port */
	int64_t threads;
	int64_t max_connections;
	int64_t request_timeout_ns;
	int64_t header_timeout_ns;
	int64_t min_body_rate;   /* bytes per second, 0 = none */
	int64_t max_connections_per_ip;
	int64_t url_limit;       /* bytes */
	int64_t body_budget;     /* bytes of bodies in memory, 0 = none */
	int64_t header_limit;    /* bytes per connection for headers */
	int64_t api_body_limit;  /* bytes */
	int64_t ingest_body_limit;
	char *log_level;
	/* audit */
	int64_t audit_checkpoint_every; /* records; 0 = off */
	int64_t audit_checkpoint_interval_ns; /* oldest unsigned record's age that triggers a checkpoint */
	/* telemetry retention */
	int64_t retention_max_age_ns;
	int64_t retention_max_bytes;
	/* control store bounds (store/vdoc.h) */
	int64_t control_max_age_ns;
	int64_t control_max_versions;
	int64_t runs_max_age_ns;   /* retention.runs_max_age */
	int64_t runs_max_finished; /* retention.runs_max_finished */
	int64_t ingest_queue_bytes;
	char *otlp_translation;   /* a promname_strategy_names entry */
	/* storage.telemetry: the telemetry backend and, for ClickHouse, its server */
	char *telemetry_backend;      /* "sqlite" or "clickhouse" */
	char *telemetry_url;
	char *telemetry_database;
	char *telemetry_user;
	char *telemetry_password_env; /* the variable's name; the secret is read at open */
	/* storage.control: the control store's backend ("sqlite" | "postgres") and the env var of its DSN */
	char *control_backend;
	char *control_dsn_env;
	/* the parsed document, for sections read by their own stage */
	struct fy_document *doc;
	char *text;               /* the YAML text doc points into; freed after doc */
};

/*
 * Types of the schema. The scalar types up to CFG_SIZE fill struct config
 * fields (flat keys); the others describe the sections read by the stages.
 */
enum config_type {
	CFG_STRING, CFG_INT, CFG_BOOL, CFG_DURATION, CFG_SIZE,
	CFG_SECTION,     /* any YAML value, checked only by the row's check */
	CFG_NUMBER,      /* integer or decimal */
	CFG_LIST,        /* a list of mappings whose keys are in sub */
	CFG_MAP,         /* a mapping whose keys are in sub (or, with items, a list of those) */
	CFG_STRINGS,     /* a list of strings */
	CFG_ANY,         /* any value; its form is checked by the section's check */
	CFG_UNSUPPORTED, /* refused: doc says why (nothing reads it yet) */
};

/*
 * Checks what the table cannot express in one section (a PromQL expression
 * parses, durations relate, names are unique), given the section as compact
 * JSON. On error appends "key.path: message" to err, the path starting with
 * the section name; config_validate turns the path into FILE:LINE:COLUMN.
 * Defined by the stage that reads the section, registered with
 * config_register_check().
 */
typedef int config_check_fn(const char *section_json, struct buf *err);

struct config_key {
	const char *path;     /* dotted key path (top table), or the key name (sub-tables) */
	enum config_type type;
	const char *def;      /* default, as it would be written in YAML */
	size_t offset;        /* of the field in struct config; only for flat keys */
	int64_t min, max;     /* for numeric types; both 0 = unbounded (sections) */
	const char *doc;
	/* Section schema: the fields below may be left out, so 7-field rows stay valid. */
	const struct config_key *sub;   /* CFG_MAP: its keys; CFG_LIST: each item's keys */
	const struct config_key *items; /* CFG_MAP: may also be written as a list of these */
	const char *const *enums;       /* CFG_STRING: the accepted values, NULL-terminated */
	bool required;
	bool staged;                    /* the section has a stage's semantic check (config_register_check) */
	bool reloadable;                /* flat keys: a reload applies it (else at the next start) */
	bool strings_ok;                /* CFG_MAP: may also be written as a list of strings */
};

/* The table of every known key, terminated by an entry with path NULL. */
extern const struct config_key config_keys[];

/* Fills c with every default. Caller releases with config_release(). */
void config_init(struct config *c);
void config_release(struct config *c);

/*
 * Loads path over the defaults and validates the whole document against the
 * schema (config_validate). On error returns OODA_EINVAL (or OODA_EIO if the
 * file cannot be read) with one "FILE:LINE:COLUMN: key.path: message" line
 * per problem in err (lines separated by '\n', no trailing newline), and
 * leaves c unchanged. `ooda serve`, `ooda config check` and reload all load
 * through here, so they accept and refuse the same files.
 */
int config_load(struct config *c, const char *path, struct buf *err);

/* Same from an in-memory document; name is used in error messages. */
int config_load_string(struct config *c, const char *name, const char *yaml, size_t len,
		       struct buf *err);

/*
 * The one validation of ooda.yaml: every key against the schema (unknown
 * keys with a did-you-mean, types, bounds, enums, required keys, refused
 * sections), then each section's check. Appends every problem found (at
 * most 100) as a line of err; returns OODA_EINVAL if there was any, else 0.
 */
int config_validate(const struct config *c, struct buf *err);

/*
 * Appends to out, comma-separated, the flat keys whose value differs
 * between old and next and that a reload does not apply (not reloadable):
 * they take effect at the next start. Nothing when there are none.
 */
void config_restart_keys(const struct config *old, const struct config *next, struct buf *out);

/* The YAML node of a section (e.g. "services"), or NULL if absent. */
struct fy_node *config_section(const struct config *c, const char *name);

/* Appends "FILE:LINE:COLUMN" of node to err (used by stages reading sections). */
void config_node_mark(const struct config *c, struct fy_node *node, struct buf *err);

/*
 * Writes docs/config.md content for the key table into out: one row per
 * key, nested section keys written like services[].probes[].interval.
 */
void config_docs_markdown(struct buf *out);

/* Parses "64MiB", "1MB", "512k", "1024" into bytes. */
int config_parse_size(const char *s, int64_t *out);

/*
 * Converts a YAML document to compact JSON (caller frees *json with free()).
 * The text is first parsed in a throw-away child process, so malformed
 * input that would upset the YAML library cannot take the daemon down.
 * OODA_EPARSE with line and column on bad YAML.
 */
int config_yaml_to_json(const char *text, size_t len, char **json, struct buf *err);

/* A section (services, deploy, approvals, …) as compact JSON text; NULL if absent. Caller frees. */
char *config_section_json(const struct config *c, const char *name);

/*
 * Registers fn as the semantic check of the section at top-level key
 * section (a row of config_keys with .staged set). The stages define the
 * checks; a layer above them (the daemon) registers them before any config
 * is loaded, so core never calls up into a stage by name. Registering the
 * same section again replaces the check. Not thread-safe: call at start.
 * Returns OODA_EINVAL for a section the schema does not mark as staged.
 */
int config_register_check(const char *section, config_check_fn *fn);

#endif
