/*
 * The simulator's OTLP/HTTP JSON exporter: services add finished spans, log
 * records and metric points (already rendered as OTLP JSON objects) and a
 * thread posts them to ooda's /v1/traces, /v1/logs and /v1/metrics once an
 * interval at a fixed rate (as an SDK's periodic reader: a slow flush does
 * not stretch the period), grouped by service, the services at once (a
 * thread each per flush, as five processes would export; within a service
 * metrics first, then spans, then logs). Like an OpenTelemetry SDK's periodic
 * metric reader, the exporter asks for the metrics (exporter_on_collect)
 * right before each post, so a metric point is as fresh as the post. The queue is bounded in bytes: when it
 * is full, or ooda does not answer, items are dropped and counted — a
 * service never waits for ooda.
 */
#ifndef OODA_SIM_EXPORT_H
#define OODA_SIM_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

enum { SIG_TRACES, SIG_LOGS, SIG_METRICS, SIG_COUNT };

struct exporter;

/* Appends the OTLP `resource` object of service svc (its name, version, env). */
typedef void (*exporter_resource_fn)(void *ctx, int svc, struct buf *out);

struct exporter_stats {
	uint64_t exported[SIG_COUNT]; /* items ooda accepted (2xx) */
	uint64_t dropped;             /* items dropped: queue full or a failed post */
	uint64_t failed_posts;        /* posts that failed (transport or non-2xx) */
};

/*
 * Starts the exporter thread. base_url is ooda ("http://127.0.0.1:4318"),
 * token may be NULL (sent as a bearer token otherwise), max_bytes bounds the
 * queue, nsvc the number of services, interval_ms the flush period. The
 * strings are copied. Returns NULL with err when the thread cannot start.
 */
struct exporter *exporter_create(const char *base_url, const char *token, size_t max_bytes, int nsvc,
				 long interval_ms, exporter_resource_fn resource, void *ctx, struct buf *err);

/* Queues one OTLP JSON object (a span, a log record or a metric) of signal for svc; copies it. */
void exporter_add(struct exporter *e, int signal, int svc, const char *json, size_t len);

/* Called on the exporter's thread at the start of every flush, to add metric points. */
typedef void (*exporter_collect_fn)(void *ctx);

/*
 * Sets the collect hook (NULL: none). Set it before items flow; the hook may
 * call exporter_add. ctx must outlive e.
 */
void exporter_on_collect(struct exporter *e, exporter_collect_fn fn, void *ctx);

/* Collects and posts everything queued now, on the caller's thread (tests, tools). */
void exporter_flush(struct exporter *e);

void exporter_get_stats(struct exporter *e, struct exporter_stats *out);

/* Stops the thread after one last flush, and frees e. NULL is fine. */
void exporter_destroy(struct exporter *e);

#endif
