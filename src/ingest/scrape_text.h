/*
 * The decoder of what a Prometheus target answers on /metrics: the text
 * exposition format 0.0.4 and OpenMetrics 1.0 text. Each sample becomes one
 * METRIC_GAUGE point named by its full sample name (foo_total, foo_bucket
 * with its le label, foo_created, ...), exactly the shape remote-write
 * points take, so PromQL reads scraped and remote-written series alike.
 * The target's labels (job, instance and static labels) are merged in as
 * Prometheus merges them. Pure function: no I/O; the scraper (scrape.h)
 * calls it with the body it fetched.
 */
#ifndef OODA_SCRAPE_TEXT_H
#define OODA_SCRAPE_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "model/record.h"

/* Limits of one scrape body, whatever the configuration says. */
#define SCRAPE_MAX_LINE ((size_t)1 << 20)  /* bytes of one line */
#define SCRAPE_MAX_LABELS 256              /* labels of one series, target labels included */
#define SCRAPE_MAX_SAMPLES 1000000u        /* samples of one scrape when sample_limit is 0 */
#define SCRAPE_MAX_METADATA 10000u         /* metric families whose HELP/TYPE/UNIT are kept */

enum scrape_format { SCRAPE_PROMTEXT, SCRAPE_OPENMETRICS };

/*
 * The format a Content-Type names: application/openmetrics-text is
 * OpenMetrics, anything else (text/plain; version=0.0.4, none) the
 * Prometheus text format, as Prometheus falls back.
 */
enum scrape_format scrape_format_of(const char *content_type);

/* A label the target adds to every sample (job, instance, static labels). */
struct scrape_label {
	const char *name, *value;
};

struct scrape_text_opts {
	enum scrape_format format;
	int64_t now_ns;          /* the scrape's time: samples without a timestamp get it */
	bool honor_timestamps;   /* false: every sample gets now_ns */
	bool honor_labels;       /* a scraped label wins over a target label of the same name */
	size_t sample_limit;     /* more samples fail the scrape; 0: SCRAPE_MAX_SAMPLES */
	const struct scrape_label *target;
	size_t n_target;
};

/* A metric family's metadata; type as Prometheus' /api/v1/metadata names it. */
struct scrape_meta {
	const char *name, *type, *help, *unit;
};

struct scrape_text_result {
	size_t samples;            /* points added to the batch */
	struct scrape_meta *meta;  /* in the batch's arena */
	size_t n_meta;
};

/*
 * Decodes body into gauge points of batch (batch->arena set; it owns
 * everything added) and the families' metadata into *res. Label merging is
 * Prometheus': empty label values are absent; a scraped label clashing
 * with a target label becomes exported_<name> unless honor_labels; the
 * point's resource service is the final job label and its host the
 * instance. Timestamps are milliseconds in the text format and seconds in
 * OpenMetrics. OpenMetrics exemplars (`# {trace_id="…"} v [ts]`) are
 * attached to their point.
 *
 * Errors fail the whole scrape, as in Prometheus: OODA_EPARSE (err names
 * the line and what was expected), OODA_ELIMIT (a line, the labels of a
 * series or the sample limit exceeded; err says which), OODA_ETOOBIG (the
 * arena limit).
 */
int scrape_text_decode(const char *body, size_t len, const struct scrape_text_opts *o,
		       struct telemetry_batch *batch, struct scrape_text_result *res, struct buf *err);

#endif
