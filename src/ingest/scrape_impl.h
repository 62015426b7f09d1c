/*
 * Internal to the scraper (scrape.c, scrape_config.c): a scrape job as
 * read from one scrape_configs entry, and the loader from the section's
 * JSON. Not part of any other folder's API.
 */
#ifndef OODA_SCRAPE_IMPL_H
#define OODA_SCRAPE_IMPL_H

#include <stdatomic.h>
#include <stdint.h>

#include "ingest/scrape.h"

struct scrape_group {
	char **targets;                /* host:port */
	size_t n_targets;
	struct scrape_label *labels;   /* the group's labels (xstrdup'd) */
	size_t n_labels;
};

struct scrape_job {
	char *name;
	int64_t interval_ns, timeout_ns;
	char *path, *scheme;
	char *query;                   /* "?a=b&c=d" from params, or "" */
	bool honor_labels, honor_timestamps;
	char *auth_type, *auth_credentials, *auth_credentials_file;
	char *basic_user, *basic_password, *basic_password_file;
	bool insecure_skip_verify;
	char *ca_file;
	size_t sample_limit;           /* 0: SCRAPE_MAX_SAMPLES */
	int64_t body_limit;            /* bytes, after decompression */
	struct scrape_group *groups;   /* static_configs */
	size_t n_groups;
	char **sd_files;               /* file_sd_configs[].files, globs */
	size_t n_sd_files;
	int64_t sd_refresh_ns;
};

/* A whole section, shared by the targets made from it (refcounted). */
struct scrape_cfg {
	atomic_int refs;
	struct scrape_job *jobs;
	size_t n_jobs;
};

/* Default body_size_limit: what ooda takes from one scrape when the job sets none. */
#define SCRAPE_DEFAULT_BODY_LIMIT ((int64_t)64 << 20)

/*
 * Loads section_json (NULL: no jobs) into a new cfg with refs 1, the
 * defaults of scrape_interval and scrape_timeout from global_json (the
 * global section; NULL: Prometheus' 1m and 10s). Relative file names
 * (file_sd files, credentials_file, password_file, ca_file) are taken
 * relative to base_dir (the config file's directory, as Prometheus takes
 * them; NULL: the working directory). err names the key path.
 */
int scrape_cfg_load(const char *global_json, const char *section_json, const char *base_dir, struct scrape_cfg **out,
		    struct buf *err);
void scrape_cfg_unref(struct scrape_cfg *c); /* frees at zero; NULL is a no-op */

void scrape_group_release(struct scrape_group *g);

/* The groups of a file_sd JSON array (scrape_sd_parse) appended to *v; err says what was wrong. */
int scrape_groups_from_json(void *array, struct scrape_group **v, size_t *n, struct buf *err);

#endif
