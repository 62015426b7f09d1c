/*
 * Prometheus remote-write decoder: the snappy-compressed protobuf
 * WriteRequest that Prometheus and agents POST to /api/v1/write, decoded
 * into gauge data points of a telemetry_batch. Pure function: no I/O.
 */
#ifndef OODA_REMOTE_WRITE_H
#define OODA_REMOTE_WRITE_H

#include <stddef.h>

#include "core/buf.h"
#include "model/record.h"

/*
 * Decodes body (raw snappy block of a WriteRequest) into batch: one
 * METRIC_GAUGE point per sample, named by the __name__ label, with the
 * other labels as attributes; the resource's service is the job label
 * ("prometheus" when absent) and its host the instance label. Stale-NaN
 * markers are kept as NaN. batch->arena must be set and owns everything
 * added; body stays the caller's. A series without __name__ is skipped and
 * counted in batch->rejected.
 *
 * Errors: OODA_EPARSE (bad snappy or protobuf; err says where),
 * OODA_ETOOBIG (uncompressed size over 256 MiB, more than 1,000,000
 * samples, or the arena limit).
 */
int remote_write_decode(const void *body, size_t len, struct telemetry_batch *batch, struct buf *err);

/* A WriteRequest's MetricMetadata: type as Prometheus names it (counter,
 * gauge, histogram, gaugehistogram, summary, info, stateset, unknown). */
struct rw_metadata {
	const char *name, *type, *help, *unit;
};

/* Metadata entries one request may carry; more are skipped. */
#define RW_MAX_METADATA 10000

/*
 * remote_write_decode() that also returns the request's metadata (field
 * 3; entries without a metric family name are dropped) in *meta / *n_meta,
 * allocated from batch->arena. meta NULL: skipped, as remote_write_decode.
 */
int remote_write_decode_meta(const void *body, size_t len, struct telemetry_batch *batch,
			     struct rw_metadata **meta, size_t *n_meta, struct buf *err);

#endif
