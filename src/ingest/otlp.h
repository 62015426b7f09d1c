/*
 * OTLP decoders: the bodies of OTLP/HTTP requests to /v1/logs, /v1/traces
 * and /v1/metrics, in protobuf (ExportLogsServiceRequest,
 * ExportTraceServiceRequest, ExportMetricsServiceRequest) or in the OTLP/JSON
 * mapping, decoded into a telemetry_batch. The subset of the protocol read
 * here is written down in proto/otlp-subset.proto. Pure functions: no I/O.
 */
#ifndef OODA_OTLP_H
#define OODA_OTLP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "model/record.h"

/*
 * Decode one request body (len bytes, not NUL-terminated; json selects the
 * OTLP/JSON mapping, else protobuf) and append its records to batch.
 * batch->arena must be set; every record and string is allocated there and
 * the caller keeps ownership of body, which may be freed afterwards.
 * now_ns stands in for a log record's time when it has neither a time nor
 * an observed time.
 *
 * Partial success: a record that is individually invalid (bad trace or span
 * id length, span ending before it starts, attribute over 64 KiB, ...) is
 * skipped and counted in batch->rejected; batch->reject_msg says why for the
 * first one. Returns 0 in that case too.
 *
 * Errors: OODA_EPARSE when the body cannot be decoded (err names the byte
 * offset, or the JSON line and column); OODA_ETOOBIG past 1,000,000 records
 * of a kind or the arena's limit. Records decoded before a failure stay in
 * the batch; callers drop the batch on error.
 */
int otlp_decode_logs(const void *body, size_t len, bool json, int64_t now_ns,
		     struct telemetry_batch *batch, struct buf *err);
int otlp_decode_traces(const void *body, size_t len, bool json, int64_t now_ns,
		       struct telemetry_batch *batch, struct buf *err);
int otlp_decode_metrics(const void *body, size_t len, bool json, int64_t now_ns,
			struct telemetry_batch *batch, struct buf *err);

#endif
