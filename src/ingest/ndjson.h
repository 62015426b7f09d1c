/*
 * NDJSON log intake: one JSON object per line, as shippers and scripts
 * POST them, decoded into log records of a telemetry_batch with a per-line
 * report of what was rejected. Pure function: no I/O.
 */
#ifndef OODA_NDJSON_H
#define OODA_NDJSON_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "model/record.h"

/*
 * Decodes body (len bytes) into log records appended to batch (whose arena
 * must be set and owns all records; body stays the caller's). Known fields:
 * time|timestamp|ts (RFC 3339 or unix s/ms/us/ns; default now_ns),
 * service|service.name (one resource per distinct service, "unknown" if
 * absent), severity|level (word or SeverityNumber), body|message|msg,
 * trace_id|traceId (32 hex), span_id|spanId (16 hex). Every other field
 * becomes an attribute, nested objects flattened with dots.
 *
 * Empty lines are ignored. A bad line (invalid JSON, not an object, bad
 * time or id, over 1 MiB) is skipped and counted in batch->rejected; when
 * report is not NULL it receives a JSON array of {"line":N,"error":"..."}
 * (1-based line numbers, at most 100 entries).
 *
 * Errors: OODA_ETOOBIG past 1,000,000 records or the arena limit.
 */
int ndjson_decode_logs(const void *body, size_t len, int64_t now_ns, struct telemetry_batch *batch,
		       struct buf *report, struct buf *err);

#endif
