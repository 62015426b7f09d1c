/*
 * What the OTLP protobuf (otlp.c) and JSON (otlp_json.c) decoders share:
 * the JSON entry point and the per-record rules both must apply the same
 * way. Internal to src/ingest.
 */
#ifndef OODA_OTLP_INTERNAL_H
#define OODA_OTLP_INTERNAL_H

#include "ingest/decode_util.h"

enum otlp_signal { OTLP_LOGS, OTLP_TRACES, OTLP_METRICS };

int otlp_json_decode(const void *body, size_t len, enum otlp_signal s, int64_t now_ns,
		     struct telemetry_batch *batch, struct buf *err);

/* A log body from its AnyValue: strings as is, anything else as JSON text. */
int otlp_body_text(struct dec *d, const struct attr *a, const char **body, uint32_t *len);

/* Applies the time defaults: observed ← now_ns, time ← observed. */
void otlp_log_times(struct log_record *lr, int64_t now_ns);

/*
 * Refuses the records of signal s from index first to the end of the batch
 * (those of one resource whose attributes broke a limit): counts them in
 * batch->rejected with why in the message.
 */
void otlp_refuse_from(struct dec *d, enum otlp_signal s, size_t first, const char *why);

/* Sets *bad to a reason when the span must be rejected. */
void otlp_check_span(const struct span *sp, bool has_trace, bool has_span, const char **bad);

#endif
