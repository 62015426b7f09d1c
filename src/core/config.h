/*
 * ooda.yaml: the declarative configuration of a deployment. Every key lives
 * in one table (config.c); loading validates types and ranges and reports
 * the first problem as "FILE:LINE:COLUMN: key.path: message". Sections that
 * belong to a later stage (services, slos, policies, ...) are kept as YAML
 * nodes for that stage to read; docs/config.md is generated from the table.
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
	int64_t ingest_queue_bytes;
	/* the parsed document, for sections read by their own stage */
	struct fy_document *doc;
	char *text;               /* the YAML text doc points into; freed after doc */
};

enum config_type { CFG_STRING, CFG_INT, CFG_BOOL, CFG_DURATION, CFG_SIZE, CFG_SECTION };

struct config_key {
	const char *path;     /* dotted key path */
	enum config_type type;
	const char *def;      /* default, as it would be written in YAML */
	size_t offset;        /* of the field in struct config; unused for sections */
	int64_t min, max;     /* for numeric types */
	const char *doc;
};

/* The table of every known key, terminated by an entry with path NULL. */
extern const struct config_key config_keys[];

/* Fills c with every default. Caller releases with config_release(). */
void config_init(struct config *c);
void config_release(struct config *c);

/*
 * Loads path over the defaults. On error returns OODA_EINVAL (or OODA_EIO if
 * the file cannot be read) with "FILE:LINE:COLUMN: key.path: message" in err,
 * and leaves c with defaults only.
 */
int config_load(struct config *c, const char *path, struct buf *err);

/* Same from an in-memory document; name is used in error messages. */
int config_load_string(struct config *c, const char *name, const char *yaml, size_t len,
		       struct buf *err);

/* The YAML node of a section (e.g. "services"), or NULL if absent. */
struct fy_node *config_section(const struct config *c, const char *name);

/* Appends "FILE:LINE:COLUMN" of node to err (used by stages reading sections). */
void config_node_mark(const struct config *c, struct fy_node *node, struct buf *err);

/* Writes docs/config.md content for the key table into out. */
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

#endif
