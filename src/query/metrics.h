/*
 * Metrics as PromQL sees them: a promql_source over the metric blocks of
 * the telemetry store and the live RED series, plus the Prometheus HTTP
 * API's series, labels and label-values lookups. OTel points become
 * Prometheus series here, named as Prometheus' own OTLP receiver names
 * them (model/promname.h, docs/promql.md):
 *
 *   - names: escaped, with unit and type suffixes (http.server.duration in
 *     s → http_server_duration_seconds; a monotonic sum gets _total, a
 *     gauge of unit 1 _ratio); remote-written and live series as they are;
 *   - labels: the point's attributes (keys escaped the same way), job =
 *     service.namespace/service.name, instance = service.instance.id;
 *   - target_info{job, instance, …} = 1: the other resource attributes,
 *     one series per resource;
 *   - gauge and sum: one series; delta sums are accumulated into a running
 *     total so rate() and increase() work on them like on counters;
 *   - histogram: NAME_bucket{le} (cumulative), NAME_sum, NAME_count;
 *   - exponential histogram: stored as sent; queried as NAME_bucket with
 *     le = the upper bound of each populated bucket (base 2^(2^-scale)),
 *     le="0" for the zero bucket (and negative buckets), NAME_sum, NAME_count;
 *   - summary: NAME{quantile}, NAME_sum, NAME_count.
 */
#ifndef OODA_METRICS_H
#define OODA_METRICS_H

#include "model/live.h"
#include "query/promql.h"
#include "store/tstore.h"

struct metrics_ctx {
	struct tstore *tstore;
	struct live_signals *live; /* may be NULL */
	/* damaged metric blocks the selects skipped (zero it first): the answer is partial */
	struct tstore_skipped skipped;
};

/*
 * How OTLP names are written (enum promname_strategy, from
 * ingest.otlp_translation_strategy) for every select, lookup and
 * metadata answer from now on; any other value means the default,
 * PROMNAME_UNDERSCORE_ESCAPING. Thread-safe.
 */
void metrics_set_translation(int strategy);
int metrics_translation(void);

/* Fills src with the select function over ctx (which must outlive src). */
void metrics_source_init(struct promql_source *src, struct metrics_ctx *ctx);

/*
 * Series matching any of the selectors in [from_ms, to_ms]:
 * mode 0 → {"status":"success","data":[{labels}…]} (/api/v1/series),
 * mode 1 → label names (/api/v1/labels), mode 2 → values of label `name`.
 * Selectors NULL/0 = every series. limit > 0 keeps the first limit
 * entries (series in store order, names and values sorted) and adds the
 * warning "results truncated due to limit". Reads label sets only (no
 * samples are kept); more than PROMQL_DEFAULT_MAX_SERIES series per
 * selector is OODA_ELIMIT.
 */
int metrics_lookup(struct metrics_ctx *ctx, const char *const *selectors, size_t n_sel, int64_t from_ms,
		   int64_t to_ms, int mode, const char *name, size_t limit, struct buf *out, struct buf *err);

/* Metrics /api/v1/metadata lists at most, without a limit. */
#define METRICS_MAX_METADATA 10000

/*
 * The metric metadata remote-write senders send (WriteRequest field 3):
 * the latest type, help and unit per metric family name, in memory (a
 * sender resends it every minute), at most METRICS_MAX_METADATA names.
 * Thread-safe.
 */
struct metrics_meta_book;
struct metrics_meta_book *metrics_meta_book_create(void);
void metrics_meta_book_destroy(struct metrics_meta_book *b); /* NULL is a no-op */
/* Records name's metadata (copied), replacing what was there. */
void metrics_meta_book_set(struct metrics_meta_book *b, const char *name, const char *type, const char *help,
			   const char *unit);

/*
 * Prometheus' /api/v1/metadata from the OTLP metric points stored in
 * [from_ms, to_ms] and from book (may be NULL): {"status":"success",
 * "data":{"NAME":[{"type","help","unit"}]}} keyed by the Prometheus name
 * (as the series are named; a histogram or summary by its base name), type
 * counter (monotonic sum), gauge, histogram or summary, help = the OTLP
 * description; distinct entries of one name are all listed. metric (NULL
 * or "": all) narrows to one name; limit caps the metrics (0: at most
 * METRICS_MAX_METADATA, with a warning when more exist), limit_per_metric
 * the entries per name (0: no cap). 0 or the store's error.
 */
int metrics_metadata(struct metrics_ctx *ctx, struct metrics_meta_book *book, int64_t from_ms, int64_t to_ms,
		     const char *metric, size_t limit, size_t limit_per_metric, struct buf *out, struct buf *err);

/*
 * The series an exemplar of point p with this value belongs to, as its
 * label key "name\1value\2…" (names sorted) in key: the point's series;
 * for a histogram the `_bucket` series of the smallest bound >= value.
 * OODA_ENOTFOUND for a point with no such series (a summary).
 */
int metrics_exemplar_series(const struct metric_point *p, double value, struct buf *key);

/*
 * When the selects skipped damaged blocks, appends
 * ,"warnings":["partial answer: …"] (the Prometheus API's place for it)
 * to an open response object; else nothing.
 */
void metrics_partial_warning(const struct metrics_ctx *ctx, struct buf *body);

#endif
