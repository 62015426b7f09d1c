/*
 * Reading telemetry back: log search (newest first, cursor paging), facets
 * (top values per field and a count-over-time histogram for a query), a
 * trace by id (spans in tree order, with the logs of that trace) and trace
 * search (exemplars by service, operation, duration, status). Each function
 * scans the block store through tstore_scan, using the query's hints to
 * skip blocks, and writes the API's JSON into out.
 */
#ifndef OODA_SEARCH_H
#define OODA_SEARCH_H

#include <stdint.h>

#include "core/buf.h"
#include "query/logquery.h"
#include "store/tstore.h"

struct search_opts {
	int64_t from_ns, to_ns;
	size_t limit;
	const char *cursor;   /* from a previous page's next_cursor, or NULL */
	size_t max_scan;      /* records examined at most (0 = 5,000,000) */
	bool decode_all;      /* facets: decode every record rather than count from the
				 columns (the same answer, slower; for comparisons) */
};

/*
 * {"logs":[…], "next_cursor": "…"|null, "scanned": N, "truncated": bool}
 * Records newest first. OODA_EINVAL for a malformed cursor.
 */
int search_logs(struct tstore *t, const struct logquery *q, const struct search_opts *o, struct buf *out,
		struct buf *err);

/*
 * {"total": N, "fields": {"service": [{"value":…,"count":…}…], …},
 *  "histogram": {"start":…, "step_ns":…, "counts":[…]}}
 * fields: comma-separated field names (NULL = service,severity,host,version);
 * buckets: histogram buckets over [from, to].
 */
int search_facets(struct tstore *t, const struct logquery *q, const struct search_opts *o, const char *fields,
		  size_t buckets, struct buf *out, struct buf *err);

/* {"trace_id":…, "spans":[… in tree order with depth …], "logs":[…]}; OODA_ENOTFOUND if no span. */
int search_trace(struct tstore *t, const char *trace_hex, struct buf *out, struct buf *err);

struct trace_filter {
	const char *service, *operation;
	int64_t min_duration_ns;
	bool errors_only;
};
/* {"traces":[{trace_id, service, operation, start, duration_ms, status, spans}…]} newest first. */
int search_traces(struct tstore *t, const struct trace_filter *f, const struct search_opts *o, struct buf *out,
		  struct buf *err);

/*
 * Every answer above ends with "partial": false, or, when the scan skipped
 * damaged blocks (tstore_scan), "partial": true, "partial_reason": "…",
 * "skipped_block_count": N and "skipped_blocks": [{"signal","id"}…] (the
 * first TSTORE_SKIPPED_IDS). This appends those members to an open object.
 */
void search_partial_json(struct buf *out, const struct tstore_skipped *sk);

/* JSON of one log record / one span (for the API and the CLI's --json). */
void search_log_json(struct buf *out, const struct log_record *r);
void search_span_json(struct buf *out, const struct span *s, int depth);

#endif
