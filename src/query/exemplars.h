/*
 * Exemplars for Prometheus' /api/v1/query_exemplars: the OTLP exemplars of
 * recent metric points (a measurement and the trace it was taken in), kept
 * in a bounded in-memory ring, each under the Prometheus series it belongs
 * to (the point's series; for a histogram the `_bucket` series whose `le`
 * holds the value). Like Prometheus' own exemplar storage the ring holds
 * the newest EXEMPLARS_CAPACITY entries; unlike it, a restart empties it.
 * Thread-safe: ingest adds while queries read.
 */
#ifndef OODA_EXEMPLARS_H
#define OODA_EXEMPLARS_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "model/record.h"

#define EXEMPLARS_CAPACITY 10000
/* Exemplars one query answers at most (then a warning says so). */
#define EXEMPLARS_MAX_ANSWER 10000

struct exemplar_ring;

/* Creates an empty ring of capacity entries (0: EXEMPLARS_CAPACITY). Caller owns it. */
struct exemplar_ring *exemplars_create(size_t capacity);

/* Frees the ring; NULL is a no-op. */
void exemplars_destroy(struct exemplar_ring *r);

/*
 * Adds the exemplars of b's metric points (copied; b may go away), the
 * oldest entries making room. Series labels are named as PromQL sees the
 * point (query/metrics.h).
 */
void exemplars_add(struct exemplar_ring *r, const struct telemetry_batch *b);

/*
 * Several nodes share their exemplars through the control store: the node
 * that ingests a batch encodes its exemplars (series key, labels, time,
 * value: "OEX1", then per entry a 4-byte little-endian length and the
 * series key, the same for the labels, 8 bytes of time in ms and 8 of the
 * value's IEEE bits), and every node adds the stored batches to its ring.
 * EXEMPLARS_KEY_MAX bounds a key, EXEMPLARS_BODY_MAX a batch, and a batch
 * holds at most EXEMPLARS_CAPACITY entries.
 */
#define EXEMPLARS_MAGIC "OEX1"
#define EXEMPLARS_KEY_MAX 65536
#define EXEMPLARS_BODY_MAX (16 * 1024 * 1024)

/* Appends b's exemplars, encoded, to out (nothing when it has none); returns how many. */
size_t exemplars_encode(const struct telemetry_batch *b, struct buf *out);

/*
 * Adds the entries of an encoded batch to r. The body is checked whole
 * first: a malformed one (cut short, a key over EXEMPLARS_KEY_MAX or with a
 * NUL, more than EXEMPLARS_CAPACITY entries, over EXEMPLARS_BODY_MAX) adds
 * nothing and returns OODA_ECORRUPT with detail.
 */
int exemplars_add_encoded(struct exemplar_ring *r, const void *body, size_t len, struct buf *err);

/*
 * Appends Prometheus' answer {"status":"success","data":[{"seriesLabels":
 * {…},"exemplars":[{"labels":{"trace_id","span_id",…},"value":"…",
 * "timestamp":S}]}]} for the exemplars in [from_ms, to_ms] whose series
 * match any selector of the PromQL query q. OODA_EPARSE / OODA_ELIMIT with
 * err for a query that does not parse.
 */
int exemplars_query_json(struct exemplar_ring *r, const char *q, int64_t from_ms, int64_t to_ms, struct buf *out,
			 struct buf *err);

#endif
