/*
 * The scraper: ooda pulling Prometheus targets itself, configured by
 * `scrape_configs:` in ooda.yaml in Prometheus' own shape. A scrape pool
 * holds the jobs and their targets (static_configs and file_sd_configs);
 * its scheduler thread hands each target to a small pool of scrape
 * threads once per scrape_interval, at a fixed phase per target (a hash of
 * its URL) so that targets spread over the interval as Prometheus spreads
 * them. A scrape fetches with libcurl (timeout, body size limit, gzip),
 * decodes the body (scrape_text.h), adds the report series Prometheus
 * adds (up, scrape_duration_seconds, ...) and hands the batch and the
 * families' metadata to the sink, which the daemon points at the same
 * telemetry store and metadata book remote-write feeds. The pool knows no
 * store: the sink is its only way out.
 */
#ifndef OODA_SCRAPE_H
#define OODA_SCRAPE_H

#include <stdbool.h>

#include "core/buf.h"
#include "ingest/scrape_text.h"
#include "model/record.h"

/* Where scraped data goes; both functions are called on scrape threads. */
struct scrape_sink {
	/* stores batch (the callee copies what it keeps); an error is logged, not retried */
	int (*append)(void *ctx, const struct telemetry_batch *batch, struct buf *err);
	/* the metric families' HELP/TYPE/UNIT of one scrape; may be NULL */
	void (*meta)(void *ctx, const struct scrape_meta *meta, size_t n);
	void *ctx;
	/*
	 * Scrape only while this process leads (core/lead.h): several nodes
	 * on one shared telemetry store scrape each target once per interval
	 * between them, not once each. A follower keeps the schedule.
	 */
	bool leader_only;
};

/* Jobs and targets a configuration may hold. */
#define SCRAPE_MAX_JOBS 1000
#define SCRAPE_MAX_TARGETS 10000 /* per job, static and discovered together */
#define SCRAPE_MAX_SD_FILE ((size_t)4 << 20)

/*
 * The semantic check of the scrape_configs section (given as JSON; NULL
 * or null is no scraping): job names unique, timeout not over the
 * interval, targets as host:port, one of credentials and
 * credentials_file, password and password_file. The schema in config.c
 * already refused unknown and unsupported keys by name. Appends
 * "scrape_configs[i].key: message" to err; OODA_EINVAL.
 */
int scrape_config_check(const char *section_json, struct buf *err);

/*
 * A Prometheus file_sd target file (JSON, or YAML when yaml) as a JSON
 * array of {"targets":[...],"labels":{...}} groups. Caller owns *groups
 * (json_decref; typed void * so this header needs no jansson). OODA_EPARSE
 * with the reason, OODA_ETOOBIG over SCRAPE_MAX_SD_FILE or
 * SCRAPE_MAX_TARGETS targets.
 */
int scrape_sd_parse(const char *text, size_t len, bool yaml, void **groups, struct buf *err);

/*
 * The check of the global section: scrape_interval (at least 1s) and
 * scrape_timeout (at most the interval), the defaults of every job.
 * scrape_config_check judges jobs against Prometheus' own defaults; a
 * clash with global's shows at start and reload (scrape_pool_configure).
 */
int scrape_global_check(const char *global_json, struct buf *err);

struct scrape_pool;

/* A pool with no jobs; *sink is copied. Caller owns *out (scrape_pool_destroy). */
int scrape_pool_create(const struct scrape_sink *sink, struct scrape_pool **out, struct buf *err);

/*
 * Checks (apply false) or makes current (apply true) a scrape_configs
 * section with the defaults of a global section (either may be NULL);
 * relative file names are relative to base_dir (the config file's
 * directory; NULL: the working directory). A target whose job, URL and labels are unchanged keeps its
 * state (last scrape, health, series seen); others start anew; removed
 * ones stop after a scrape in flight. changes (may be NULL) gets
 * "jobs N, targets M" when apply changed anything. p may be NULL when
 * apply is false.
 */
int scrape_pool_configure(struct scrape_pool *p, const char *global_json, const char *section_json,
			  const char *base_dir, bool apply, struct buf *changes, struct buf *err);

/* Starts the scheduler and scrape threads. */
int scrape_pool_start(struct scrape_pool *p, struct buf *err);

/* Stops the threads (a scrape in flight ends at its timeout) and frees p. NULL is a no-op. */
void scrape_pool_destroy(struct scrape_pool *p);

/*
 * Prometheus' /api/v1/targets answer into out: {"status":"success",
 * "data":{"activeTargets":[{discoveredLabels, labels, scrapePool,
 * scrapeUrl, globalUrl, lastError, lastScrape, lastScrapeDuration,
 * health, scrapeInterval, scrapeTimeout}], "droppedTargets":[]}}. state
 * "active", "dropped", "any" or NULL (any). Never holds credentials.
 */
void scrape_pool_targets_json(struct scrape_pool *p, const char *state, struct buf *out);

#endif
