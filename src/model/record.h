/*
 * The telemetry data model: what every decoder (OTLP protobuf and JSON,
 * remote-write, NDJSON, CloudEvents) produces and what the block store,
 * live signals and queries consume. Records live in the arena of the batch
 * that carries them; strings are NUL-terminated and NULL when absent.
 */
#ifndef OODA_RECORD_H
#define OODA_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"

enum attr_type {
	ATTR_STR,
	ATTR_INT,
	ATTR_DOUBLE,
	ATTR_BOOL,
	ATTR_BYTES, /* raw bytes in s/len */
	ATTR_JSON,  /* arrays and key-value lists, kept as compact JSON text in s */
};

struct attr {
	const char *key;
	enum attr_type type;
	uint32_t len; /* of s, for ATTR_STR, ATTR_BYTES and ATTR_JSON */
	union {
		const char *s;
		int64_t i;
		double d;
		bool b;
	};
};

struct attrs {
	struct attr *v;
	uint32_t n;
};

/*
 * The resource a record came from. The indexed dimensions are lifted out of
 * attrs (they stay in attrs too): service.name, service.version,
 * deployment.environment (or deployment.environment.name), host.name,
 * cloud.region. service is never NULL after decoding: "unknown" if absent.
 */
struct resource {
	const char *service;
	const char *service_version;
	const char *environment;
	const char *host;
	const char *region;
	struct attrs attrs;
};

struct log_record {
	int64_t time_ns;     /* observed time when the sender gave none */
	int64_t observed_ns;
	uint8_t severity;    /* OTel SeverityNumber 0..24; 0 = unspecified */
	const char *severity_text;
	const char *body;    /* string bodies as is; structured bodies as JSON */
	uint32_t body_len;
	bool has_trace_id, has_span_id;
	uint8_t trace_id[16];
	uint8_t span_id[8];
	uint32_t flags;
	const struct resource *resource;
	const char *scope_name;
	struct attrs attrs;
};

/* OTel SpanKind and status codes, by their protocol numbers. */
enum span_kind { SPAN_UNSPECIFIED, SPAN_INTERNAL, SPAN_SERVER, SPAN_CLIENT, SPAN_PRODUCER, SPAN_CONSUMER };
enum span_status { STATUS_UNSET, STATUS_OK, STATUS_ERROR };

struct span_event {
	int64_t time_ns;
	const char *name;
	struct attrs attrs;
};

struct span_link {
	uint8_t trace_id[16];
	uint8_t span_id[8];
	struct attrs attrs;
};

struct span {
	uint8_t trace_id[16];
	uint8_t span_id[8];
	uint8_t parent_span_id[8];
	bool has_parent;
	const char *name;
	uint8_t kind;   /* enum span_kind */
	int64_t start_ns, end_ns;
	uint8_t status; /* enum span_status */
	const char *status_message;
	const struct resource *resource;
	const char *scope_name;
	struct attrs attrs;
	struct span_event *events;
	uint32_t n_events;
	struct span_link *links;
	uint32_t n_links;
};

enum metric_type { METRIC_GAUGE, METRIC_SUM, METRIC_HISTOGRAM, METRIC_EXP_HISTOGRAM, METRIC_SUMMARY };
enum temporality { TEMPORALITY_UNSPECIFIED, TEMPORALITY_DELTA, TEMPORALITY_CUMULATIVE };

/* One data point of one metric, with everything needed to store it alone. */
/* An exemplar of a metric point: one measurement and the trace it was in.
 * Exemplars reach the in-memory exemplar ring only; blocks do not keep them. */
struct exemplar {
	int64_t time_ns;
	double value;
	uint8_t trace_id[16], span_id[8];
	bool has_trace_id, has_span_id;
	struct attrs attrs; /* the filtered attributes */
};

/* Exemplars a decoder keeps per data point; more are dropped. */
#define RECORD_MAX_EXEMPLARS 16

struct metric_point {
	const char *name;
	const char *unit;
	const char *description;
	uint8_t type;        /* enum metric_type */
	uint8_t temporality; /* enum temporality */
	bool monotonic;
	int64_t time_ns, start_ns;
	const struct resource *resource;
	const char *scope_name;
	struct attrs attrs;  /* the point's own attributes (labels) */
	uint32_t flags;
	double value;        /* gauge and sum */
	/* histogram, exponential histogram and summary */
	uint64_t count;
	double sum;
	bool has_sum, has_min, has_max;
	double min, max;
	uint32_t n_bounds;        /* explicit histogram: n_bounds + 1 buckets */
	const double *bounds;
	const uint64_t *bucket_counts;
	int32_t scale;            /* exponential histogram */
	uint64_t zero_count;
	int32_t pos_offset, neg_offset;
	uint32_t n_pos, n_neg;
	const uint64_t *pos_counts, *neg_counts;
	uint32_t n_quantiles;     /* summary */
	const double *quantiles, *quantile_values;
	const struct exemplar *exemplars; /* number and histogram points; not stored in blocks */
	uint32_t n_exemplars;
	/*
	 * The name and attribute keys are Prometheus' already (remote write,
	 * the live RED series): PromQL uses them as they are, where OTLP
	 * names are translated (model/promname.h).
	 */
	bool prom_native;
};

/*
 * A change: deploy, rollback, config, flag, migration, scale, incident or
 * custom. The timeline and the root-cause ranking read these.
 */
struct change_event {
	const char *id;       /* assigned at ingest when the sender gave none */
	const char *kind;
	const char *service;
	const char *environment;
	const char *version;
	const char *actor;
	const char *description;
	const char *source;   /* CloudEvents source, or "api" */
	const char *links;    /* JSON array text, or NULL */
	int64_t time_ns;
	struct attrs attrs;
};

enum signal { SIGNAL_LOGS, SIGNAL_SPANS, SIGNAL_METRICS, SIGNAL_EVENTS };

/*
 * What one ingest request decodes into. The arena owns every record and
 * string; releasing it frees the batch. rejected/reject_msg feed OTLP
 * partial success and the NDJSON per-line report.
 */
struct telemetry_batch {
	struct arena *arena;
	struct log_record *logs;
	size_t n_logs;
	struct span *spans;
	size_t n_spans;
	struct metric_point *points;
	size_t n_points;
	struct change_event *events;
	size_t n_events;
	size_t rejected;
	const char *reject_msg;
};

/*
 * Appends attrs as a JSON object: strings and JSON values as they are,
 * numbers and booleans as JSON, bytes as hex, non-finite doubles as null.
 */
struct buf;
void record_attrs_json(struct buf *b, const struct attrs *a);

/*
 * The peer a CLIENT span names, by semantic-convention precedence:
 * peer.service, server.address, net.peer.name, db.system.name, db.system.
 * Not NUL-terminated: *len bytes. *db says it is a database (a db.system key
 * is present). NULL when the span names none.
 */
const char *span_client_peer(const struct span *sp, size_t *len, bool *db);

#endif
