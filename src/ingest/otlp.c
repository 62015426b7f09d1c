/*
 * OTLP protobuf decoder: a hand-rolled reader of the protobuf wire format
 * (varint, 64-bit, length-delimited, 32-bit; unknown fields skipped by wire
 * type) walking ExportLogs/Trace/MetricsServiceRequest straight into the
 * records of a telemetry_batch, with no intermediate message objects. Field
 * numbers are the named constants below (see proto/otlp-subset.proto). The
 * OTLP/JSON mapping lives in otlp_json.c.
 */
#include "ingest/otlp.h"

#include <inttypes.h>
#include <math.h>

#include "core/error.h"
#include "core/time.h"
#include "ingest/decode_util.h"
#include "ingest/otlp_internal.h"
#include "ingest/pbwire.h"

/* common.proto */
enum { ANYVALUE_STRING = 1, ANYVALUE_BOOL = 2, ANYVALUE_INT = 3, ANYVALUE_DOUBLE = 4,
       ANYVALUE_ARRAY = 5, ANYVALUE_KVLIST = 6, ANYVALUE_BYTES = 7 };
enum { ARRAYVALUE_VALUES = 1, KVLIST_VALUES = 1 };
enum { KEYVALUE_KEY = 1, KEYVALUE_VALUE = 2 };
enum { SCOPE_NAME = 1 };
/* resource.proto */
enum { RESOURCE_ATTRIBUTES = 1 };
/* Export*ServiceRequest: resource_logs, resource_spans, resource_metrics */
enum { REQUEST_RESOURCE_DATA = 1 };
/* ResourceLogs/Spans/Metrics and ScopeLogs/Spans/Metrics share their layout */
enum { RESOURCE_DATA_RESOURCE = 1, RESOURCE_DATA_SCOPES = 2 };
enum { SCOPE_DATA_SCOPE = 1, SCOPE_DATA_RECORDS = 2 };
/* logs.proto LogRecord */
enum { LOG_TIME = 1, LOG_SEVERITY_NUMBER = 2, LOG_SEVERITY_TEXT = 3, LOG_BODY = 5,
       LOG_ATTRIBUTES = 6, LOG_FLAGS = 8, LOG_TRACE_ID = 9, LOG_SPAN_ID = 10,
       LOG_OBSERVED_TIME = 11 };
/* trace.proto Span, Span.Event, Span.Link, Status */
enum { SPAN_TRACE_ID = 1, SPAN_SPAN_ID = 2, SPAN_PARENT_SPAN_ID = 4, SPAN_NAME = 5,
       SPAN_KIND = 6, SPAN_START = 7, SPAN_END = 8, SPAN_ATTRIBUTES = 9, SPAN_EVENTS = 11,
       SPAN_LINKS = 13, SPAN_STATUS = 15 };
enum { EVENT_TIME = 1, EVENT_NAME = 2, EVENT_ATTRIBUTES = 3 };
enum { LINK_TRACE_ID = 1, LINK_SPAN_ID = 2, LINK_ATTRIBUTES = 4 };
enum { STATUS_MESSAGE = 2, STATUS_CODE = 3 };
/* metrics.proto */
enum { METRIC_NAME = 1, METRIC_DESCRIPTION = 2, METRIC_UNIT = 3, METRIC_GAUGE_DATA = 5,
       METRIC_SUM_DATA = 7, METRIC_HISTOGRAM_DATA = 9, METRIC_EXP_HISTOGRAM_DATA = 10,
       METRIC_SUMMARY_DATA = 11 };
enum { DATA_POINTS = 1, DATA_TEMPORALITY = 2, SUM_IS_MONOTONIC = 3 };
enum { NUMBER_START = 2, NUMBER_TIME = 3, NUMBER_AS_DOUBLE = 4, NUMBER_EXEMPLARS = 5, NUMBER_AS_INT = 6,
       NUMBER_ATTRIBUTES = 7, NUMBER_FLAGS = 8 };
enum { HIST_START = 2, HIST_TIME = 3, HIST_COUNT = 4, HIST_SUM = 5, HIST_BUCKET_COUNTS = 6,
       HIST_EXPLICIT_BOUNDS = 7, HIST_EXEMPLARS = 8, HIST_ATTRIBUTES = 9, HIST_FLAGS = 10, HIST_MIN = 11,
       HIST_MAX = 12 };
enum { EXP_ATTRIBUTES = 1, EXP_START = 2, EXP_TIME = 3, EXP_COUNT = 4, EXP_SUM = 5,
       EXP_SCALE = 6, EXP_ZERO_COUNT = 7, EXP_POSITIVE = 8, EXP_NEGATIVE = 9, EXP_FLAGS = 10,
       EXP_EXEMPLARS = 11, EXP_MIN = 12, EXP_MAX = 13 };
enum { EXEMPLAR_TIME = 2, EXEMPLAR_AS_DOUBLE = 3, EXEMPLAR_SPAN_ID = 4, EXEMPLAR_TRACE_ID = 5,
       EXEMPLAR_AS_INT = 6, EXEMPLAR_ATTRIBUTES = 7 };
enum { BUCKETS_OFFSET = 1, BUCKETS_COUNTS = 2 };
enum { SUMMARY_START = 2, SUMMARY_TIME = 3, SUMMARY_COUNT = 4, SUMMARY_SUM = 5,
       SUMMARY_QUANTILES = 6, SUMMARY_ATTRIBUTES = 7, SUMMARY_FLAGS = 8 };
enum { QUANTILE_QUANTILE = 1, QUANTILE_VALUE = 2 };

struct pbctx {
	struct dec d;
	const uint8_t *base;
	int64_t now_ns;
	const char *bad; /* why the record being decoded is invalid, or NULL */
	char badbuf[160];
};

static int pb_error(struct pbctx *c, const uint8_t *at, const char *what)
{
	if (c->d.err)
		buf_addf(c->d.err, "protobuf: %s at byte %zu", what, (size_t)(at - c->base));
	return OODA_EPARSE;
}

/* 1: a field was read into f; 0: end of message; OODA_EPARSE on malformed input. */
static int pb_next(struct pbctx *c, struct pbr *r, struct pbf *f)
{
	const char *why = NULL;
	int rc = pbw_next(r, f, &why);
	return rc < 0 ? pb_error(c, f->at, why) : rc;
}

static int pb_want(struct pbctx *c, const struct pbf *f, uint32_t wt)
{
	if (f->wt == wt)
		return 0;
	if (c->d.err)
		buf_addf(c->d.err, "protobuf: field %u has wire type %u, expected %u at byte %zu", f->num,
			 f->wt, wt, (size_t)(f->at - c->base));
	return OODA_EPARSE;
}

#define WANT(c, f, wt)                                  \
	do {                                            \
		int rc_ = pb_want(c, f, wt);            \
		if (rc_)                                \
			return rc_;                     \
	} while (0)
#define TRY(x)                      \
	do {                        \
		int rc_ = (x);      \
		if (rc_ < 0)        \
			return rc_; \
	} while (0)
#define CAT2_(a, b) a##b
#define CAT_(a, b) CAT2_(a, b)
#define FIELDS(c, r, f) FIELDS_(c, r, f, CAT_(more_, __LINE__))
#define FIELDS_(c, r, f, m) for (int m; (m = pb_next(c, r, f)) != 0;) if (m < 0) return m; else

static void mark_bad(struct pbctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void mark_bad(struct pbctx *c, const char *fmt, ...)
{
	if (c->bad)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->badbuf, sizeof(c->badbuf), fmt, ap);
	va_end(ap);
	c->bad = c->badbuf;
}

static int pb_str(struct pbctx *c, const struct pbf *f, const char **out)
{
	WANT(c, f, WT_LEN);
	char *s = dec_strndup(&c->d, (const char *)f->data, f->len);
	if (!s)
		return c->d.rc;
	*out = s;
	return 0;
}

static void hexbytes(struct buf *b, const uint8_t *p, size_t n)
{
	static const char hx[] = "0123456789abcdef";
	buf_addch(b, '"');
	for (size_t i = 0; i < n; i++) {
		buf_addch(b, hx[p[i] >> 4]);
		buf_addch(b, hx[p[i] & 15]);
	}
	buf_addch(b, '"');
}

static int pb_any_json(struct pbctx *c, const uint8_t *p, size_t n, int depth);

/* ArrayValue (kv=false) or KeyValueList (kv=true) as JSON into c->d.scratch. */
static int pb_list_json(struct pbctx *c, const uint8_t *p, size_t n, bool kv, int depth)
{
	if (depth > DECODE_MAX_DEPTH)
		return pb_error(c, p, "AnyValue nested deeper than 64");
	struct buf *b = &c->d.scratch;
	struct pbr r = { p, p + n };
	struct pbf f;
	bool first = true;
	buf_addch(b, kv ? '{' : '[');
	FIELDS(c, &r, &f) {
		if (f.num != 1)
			continue;
		WANT(c, &f, WT_LEN);
		if (!first)
			buf_addch(b, ',');
		first = false;
		if (!kv) {
			TRY(pb_any_json(c, f.data, f.len, depth + 1));
			continue;
		}
		struct pbr kr = { f.data, f.data + f.len };
		struct pbf kf;
		const uint8_t *key = NULL, *val = NULL;
		size_t klen = 0, vlen = 0;
		FIELDS(c, &kr, &kf) {
			if (kf.num == KEYVALUE_KEY) {
				WANT(c, &kf, WT_LEN);
				key = kf.data;
				klen = kf.len;
			} else if (kf.num == KEYVALUE_VALUE) {
				WANT(c, &kf, WT_LEN);
				val = kf.data;
				vlen = kf.len;
			}
		}
		buf_add_json_str(b, key ? (const char *)key : "", klen);
		buf_addch(b, ':');
		if (val)
			TRY(pb_any_json(c, val, vlen, depth + 1));
		else
			buf_add(b, "null", 4);
	}
	buf_addch(b, kv ? '}' : ']');
	return 0;
}

static void add_double_json(struct buf *b, double d)
{
	if (isnan(d))
		buf_adds(b, "\"NaN\"");
	else if (isinf(d))
		buf_adds(b, d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
	else
		buf_addf(b, "%.17g", d);
}

static int pb_any_json(struct pbctx *c, const uint8_t *p, size_t n, int depth)
{
	if (depth > DECODE_MAX_DEPTH)
		return pb_error(c, p, "AnyValue nested deeper than 64");
	struct buf *b = &c->d.scratch;
	struct pbr r = { p, p + n };
	struct pbf f = { 0 }, last = { 0 };
	FIELDS(c, &r, &f) {
		if (f.num >= ANYVALUE_STRING && f.num <= ANYVALUE_BYTES)
			last = f;
	}
	switch (last.num) {
	case ANYVALUE_STRING:
		WANT(c, &last, WT_LEN);
		buf_add_json_str(b, (const char *)last.data, last.len);
		return 0;
	case ANYVALUE_BOOL:
		WANT(c, &last, WT_VARINT);
		buf_adds(b, last.u ? "true" : "false");
		return 0;
	case ANYVALUE_INT:
		WANT(c, &last, WT_VARINT);
		buf_addf(b, "%" PRId64, (int64_t)last.u);
		return 0;
	case ANYVALUE_DOUBLE: {
		WANT(c, &last, WT_I64);
		double d;
		memcpy(&d, &last.u, 8);
		add_double_json(b, d);
		return 0;
	}
	case ANYVALUE_ARRAY:
	case ANYVALUE_KVLIST:
		WANT(c, &last, WT_LEN);
		return pb_list_json(c, last.data, last.len, last.num == ANYVALUE_KVLIST, depth + 1);
	case ANYVALUE_BYTES:
		WANT(c, &last, WT_LEN);
		hexbytes(b, last.data, last.len);
		return 0;
	default:
		buf_add(b, "null", 4);
		return 0;
	}
}

/*
 * AnyValue into a (key untouched). A value over DECODE_MAX_ATTR_LEN marks
 * the record bad, naming what and key ("resource attribute" and its key, or
 * "body" and NULL), and leaves a
 * as JSON null: never a string whose length disagrees with its bytes.
 */
static int pb_anyvalue(struct pbctx *c, const uint8_t *p, size_t n, struct attr *a, const char *what,
		       const char *key)
{
	struct pbr r = { p, p + n };
	struct pbf f = { 0 }, last = { 0 };
	FIELDS(c, &r, &f) {
		if (f.num >= ANYVALUE_STRING && f.num <= ANYVALUE_BYTES)
			last = f;
	}
	switch (last.num) {
	case ANYVALUE_STRING:
	case ANYVALUE_BYTES:
		WANT(c, &last, WT_LEN);
		if (last.len > DECODE_MAX_ATTR_LEN) {
			mark_bad(c, "%s%s%.60s: value of %zu bytes exceeds the limit of %u", what, key ? " " : "", key ? key : "", last.len,
				 DECODE_MAX_ATTR_LEN);
			a->type = ATTR_JSON;
			a->s = "null";
			a->len = 4;
			return 0;
		}
		a->type = last.num == ANYVALUE_STRING ? ATTR_STR : ATTR_BYTES;
		a->s = dec_strndup(&c->d, (const char *)last.data, last.len);
		if (!a->s)
			return c->d.rc;
		a->len = (uint32_t)last.len;
		return 0;
	case ANYVALUE_BOOL:
		WANT(c, &last, WT_VARINT);
		a->type = ATTR_BOOL;
		a->b = last.u != 0;
		return 0;
	case ANYVALUE_INT:
		WANT(c, &last, WT_VARINT);
		a->type = ATTR_INT;
		a->i = (int64_t)last.u;
		return 0;
	case ANYVALUE_DOUBLE:
		WANT(c, &last, WT_I64);
		a->type = ATTR_DOUBLE;
		memcpy(&a->d, &last.u, 8);
		return 0;
	case ANYVALUE_ARRAY:
	case ANYVALUE_KVLIST: {
		WANT(c, &last, WT_LEN);
		buf_reset(&c->d.scratch);
		TRY(pb_list_json(c, last.data, last.len, last.num == ANYVALUE_KVLIST, 1));
		a->type = ATTR_JSON;
		if (c->d.scratch.len > DECODE_MAX_ATTR_LEN) {
			mark_bad(c, "%s%s%.60s: value of %zu bytes exceeds the limit of %u", what, key ? " " : "", key ? key : "", c->d.scratch.len,
				 DECODE_MAX_ATTR_LEN);
			a->s = "null";
			a->len = 4;
			return 0;
		}
		a->s = dec_strndup(&c->d, c->d.scratch.data, c->d.scratch.len);
		if (!a->s)
			return c->d.rc;
		a->len = (uint32_t)c->d.scratch.len;
		return 0;
	}
	default:
		a->type = ATTR_JSON;
		a->s = "null";
		a->len = 4;
		return 0;
	}
}

/*
 * One KeyValue appended to as; where says whose attribute it is ("attribute",
 * "resource attribute") for the message when the key or value is too long.
 */
static int pb_attr(struct pbctx *c, const struct pbf *f, struct attrs *as, uint32_t *cap, const char *where)
{
	WANT(c, f, WT_LEN);
	struct attr *a = dec_push_attr(&c->d, as, cap);
	if (!a)
		return c->d.rc;
	a->key = "";
	a->type = ATTR_JSON;
	a->s = "null";
	a->len = 4;
	/* the last key and value win; the key is read first so a message can name it */
	struct pbf key = { 0 }, val = { 0 }, kf;
	struct pbr r = { f->data, f->data + f->len };
	FIELDS(c, &r, &kf) {
		if (kf.num == KEYVALUE_KEY) {
			WANT(c, &kf, WT_LEN);
			key = kf;
		} else if (kf.num == KEYVALUE_VALUE) {
			WANT(c, &kf, WT_LEN);
			val = kf;
		}
	}
	if (key.num && key.len > DECODE_MAX_ATTR_LEN)
		mark_bad(c, "%s key of %zu bytes exceeds the limit of %u", where, key.len, DECODE_MAX_ATTR_LEN);
	else if (key.num)
		TRY(pb_str(c, &key, &a->key));
	if (val.num) {
		TRY(pb_anyvalue(c, val.data, val.len, a, where, a->key)); /* formatted only on error */
	}
	return 0;
}

/* A fixed64 timestamp field into *out; past OODA_TIME_MAX marks the record bad. */
static int pb_time(struct pbctx *c, const struct pbf *f, int64_t *out, const char *what)
{
	WANT(c, f, WT_I64);
	if (ooda_time_from_u64(f->u, out))
		mark_bad(c, "%s %" PRIu64 " is past 2262-04-11, the last time ooda can store", what, f->u);
	return 0;
}

/*
 * The Resource message. An over-long resource attribute marks the resource
 * bad (c->bad, copied into resbad by the caller): every record under it is
 * then refused, as each would carry the attribute.
 */
static int pb_resource(struct pbctx *c, const struct pbf *f, struct resource *res)
{
	WANT(c, f, WT_LEN);
	struct pbr r = { f->data, f->data + f->len };
	struct pbf af;
	uint32_t cap = 0;
	FIELDS(c, &r, &af) {
		if (af.num == RESOURCE_ATTRIBUTES)
			TRY(pb_attr(c, &af, &res->attrs, &cap, "resource attribute"));
	}
	return 0;
}

static int pb_scope(struct pbctx *c, const struct pbf *f, const char **name)
{
	WANT(c, f, WT_LEN);
	struct pbr r = { f->data, f->data + f->len };
	struct pbf sf;
	FIELDS(c, &r, &sf) {
		if (sf.num == SCOPE_NAME)
			TRY(pb_str(c, &sf, name));
	}
	return 0;
}

static int pb_id(struct pbctx *c, const struct pbf *f, uint8_t *out, size_t want, const char *what,
		 bool *has)
{
	WANT(c, f, WT_LEN);
	if (f->len == 0) {
		if (has)
			*has = false;
		return 0;
	}
	if (f->len != want) {
		mark_bad(c, "%s has %zu bytes, want %zu", what, f->len, want);
		return 0;
	}
	memcpy(out, f->data, want);
	if (has)
		*has = true;
	return 0;
}

/* ---- logs ---- */

static int pb_log(struct pbctx *c, const struct pbf *f, const struct resource *res, size_t idx)
{
	WANT(c, f, WT_LEN);
	struct log_record *lr = dec_push_log(&c->d);
	if (!lr)
		return c->d.rc;
	c->bad = NULL;
	lr->resource = res;
	uint32_t cap = 0;
	struct pbr r = { f->data, f->data + f->len };
	struct pbf lf;
	FIELDS(c, &r, &lf) {
		switch (lf.num) {
		case LOG_TIME:
			TRY(pb_time(c, &lf, &lr->time_ns, "time_unix_nano"));
			break;
		case LOG_OBSERVED_TIME:
			TRY(pb_time(c, &lf, &lr->observed_ns, "observed_time_unix_nano"));
			break;
		case LOG_SEVERITY_NUMBER:
			WANT(c, &lf, WT_VARINT);
			lr->severity = lf.u <= 24 ? (uint8_t)lf.u : 0;
			break;
		case LOG_SEVERITY_TEXT:
			TRY(pb_str(c, &lf, &lr->severity_text));
			break;
		case LOG_BODY: {
			WANT(c, &lf, WT_LEN);
			struct attr a = { 0 };
			TRY(pb_anyvalue(c, lf.data, lf.len, &a, "body", NULL));
			TRY(otlp_body_text(&c->d, &a, &lr->body, &lr->body_len));
			break;
		}
		case LOG_ATTRIBUTES:
			TRY(pb_attr(c, &lf, &lr->attrs, &cap, "attribute"));
			break;
		case LOG_FLAGS:
			WANT(c, &lf, WT_I32);
			lr->flags = (uint32_t)lf.u;
			break;
		case LOG_TRACE_ID:
			TRY(pb_id(c, &lf, lr->trace_id, 16, "trace_id", &lr->has_trace_id));
			break;
		case LOG_SPAN_ID:
			TRY(pb_id(c, &lf, lr->span_id, 8, "span_id", &lr->has_span_id));
			break;
		}
	}
	otlp_log_times(lr, c->now_ns);
	if (c->bad) {
		c->d.b->n_logs--;
		dec_reject(&c->d, "log record %zu: %s", idx, c->bad);
	}
	return 0;
}

/* ---- traces ---- */

static int pb_event(struct pbctx *c, const struct pbf *f, struct span *sp, size_t *cap)
{
	WANT(c, f, WT_LEN);
	void *na = dec_grow(&c->d, sp->events, sp->n_events, cap, sizeof(struct span_event),
			    DECODE_MAX_ATTRS, "events on a span");
	if (!na)
		return c->d.rc;
	sp->events = na;
	struct span_event *ev = &sp->events[sp->n_events++];
	memset(ev, 0, sizeof(*ev));
	ev->name = "";
	uint32_t acap = 0;
	struct pbr r = { f->data, f->data + f->len };
	struct pbf ef;
	FIELDS(c, &r, &ef) {
		if (ef.num == EVENT_TIME) {
			TRY(pb_time(c, &ef, &ev->time_ns, "event time_unix_nano"));
		} else if (ef.num == EVENT_NAME) {
			TRY(pb_str(c, &ef, &ev->name));
		} else if (ef.num == EVENT_ATTRIBUTES) {
			TRY(pb_attr(c, &ef, &ev->attrs, &acap, "event attribute"));
		}
	}
	return 0;
}

static int pb_link(struct pbctx *c, const struct pbf *f, struct span *sp, size_t *cap)
{
	WANT(c, f, WT_LEN);
	void *na = dec_grow(&c->d, sp->links, sp->n_links, cap, sizeof(struct span_link),
			    DECODE_MAX_ATTRS, "links on a span");
	if (!na)
		return c->d.rc;
	sp->links = na;
	struct span_link *ln = &sp->links[sp->n_links++];
	memset(ln, 0, sizeof(*ln));
	uint32_t acap = 0;
	bool has_t = false, has_s = false;
	struct pbr r = { f->data, f->data + f->len };
	struct pbf lf;
	FIELDS(c, &r, &lf) {
		if (lf.num == LINK_TRACE_ID)
			TRY(pb_id(c, &lf, ln->trace_id, 16, "link trace_id", &has_t));
		else if (lf.num == LINK_SPAN_ID)
			TRY(pb_id(c, &lf, ln->span_id, 8, "link span_id", &has_s));
		else if (lf.num == LINK_ATTRIBUTES)
			TRY(pb_attr(c, &lf, &ln->attrs, &acap, "link attribute"));
	}
	if (!has_t || !has_s)
		mark_bad(c, "link without trace_id or span_id");
	return 0;
}

static int pb_span(struct pbctx *c, const struct pbf *f, const struct resource *res, size_t idx)
{
	WANT(c, f, WT_LEN);
	struct span *sp = dec_push_span(&c->d);
	if (!sp)
		return c->d.rc;
	c->bad = NULL;
	sp->resource = res;
	sp->name = "";
	uint32_t cap = 0;
	size_t ecap = 0, lcap = 0;
	bool has_t = false, has_s = false;
	struct pbr r = { f->data, f->data + f->len };
	struct pbf sf;
	FIELDS(c, &r, &sf) {
		switch (sf.num) {
		case SPAN_TRACE_ID:
			TRY(pb_id(c, &sf, sp->trace_id, 16, "trace_id", &has_t));
			break;
		case SPAN_SPAN_ID:
			TRY(pb_id(c, &sf, sp->span_id, 8, "span_id", &has_s));
			break;
		case SPAN_PARENT_SPAN_ID:
			TRY(pb_id(c, &sf, sp->parent_span_id, 8, "parent_span_id", &sp->has_parent));
			break;
		case SPAN_NAME:
			TRY(pb_str(c, &sf, &sp->name));
			break;
		case SPAN_KIND:
			WANT(c, &sf, WT_VARINT);
			sp->kind = sf.u <= SPAN_CONSUMER ? (uint8_t)sf.u : SPAN_UNSPECIFIED;
			break;
		case SPAN_START:
			TRY(pb_time(c, &sf, &sp->start_ns, "start_time_unix_nano"));
			break;
		case SPAN_END:
			TRY(pb_time(c, &sf, &sp->end_ns, "end_time_unix_nano"));
			break;
		case SPAN_ATTRIBUTES:
			TRY(pb_attr(c, &sf, &sp->attrs, &cap, "attribute"));
			break;
		case SPAN_EVENTS:
			TRY(pb_event(c, &sf, sp, &ecap));
			break;
		case SPAN_LINKS:
			TRY(pb_link(c, &sf, sp, &lcap));
			break;
		case SPAN_STATUS: {
			WANT(c, &sf, WT_LEN);
			struct pbr sr = { sf.data, sf.data + sf.len };
			struct pbf tf;
			FIELDS(c, &sr, &tf) {
				if (tf.num == STATUS_MESSAGE) {
					TRY(pb_str(c, &tf, &sp->status_message));
				} else if (tf.num == STATUS_CODE) {
					WANT(c, &tf, WT_VARINT);
					sp->status = tf.u <= STATUS_ERROR ? (uint8_t)tf.u : STATUS_UNSET;
				}
			}
			break;
		}
		}
	}
	if (!c->bad)
		otlp_check_span(sp, has_t, has_s, &c->bad);
	if (c->bad) {
		c->d.b->n_spans--;
		dec_reject(&c->d, "span %zu: %s", idx, c->bad);
	}
	return 0;
}

/* ---- metrics ---- */

/* Appends one 8-byte value (raw bits) to *arr; packed and unpacked forms. */
static int pb_rep64(struct pbctx *c, const struct pbf *f, uint64_t **arr, uint32_t *n, size_t *cap)
{
	const uint8_t *p, *end;
	uint8_t one[8];
	if (f->wt == WT_I64) {
		for (int i = 0; i < 8; i++)
			one[i] = (uint8_t)(f->u >> (8 * i));
		p = one;
		end = one + 8;
	} else {
		WANT(c, f, WT_LEN);
		if (f->len % 8)
			return pb_error(c, f->at, "packed 64-bit field length not a multiple of 8");
		p = f->data;
		end = f->data + f->len;
	}
	for (; p < end; p += 8) {
		void *na = dec_grow(&c->d, *arr, *n, cap, 8, DECODE_MAX_RECORDS, "buckets in a data point");
		if (!na)
			return c->d.rc;
		*arr = na;
		(*arr)[(*n)++] = le64(p);
	}
	return 0;
}

static int pb_repvarint(struct pbctx *c, const struct pbf *f, uint64_t **arr, uint32_t *n, size_t *cap)
{
	struct pbr r;
	uint64_t single = f->u;
	if (f->wt != WT_VARINT) {
		WANT(c, f, WT_LEN);
		r = (struct pbr){ f->data, f->data + f->len };
	} else {
		r = (struct pbr){ NULL, NULL };
	}
	bool first = true;
	for (;;) {
		uint64_t v;
		if (f->wt == WT_VARINT) {
			if (!first)
				break;
			v = single;
		} else {
			if (r.p >= r.end)
				break;
			if (pb_varint(&r.p, r.end, &v))
				return pb_error(c, r.p, "truncated packed varint");
		}
		first = false;
		void *na = dec_grow(&c->d, *arr, *n, cap, 8, DECODE_MAX_RECORDS, "buckets in a data point");
		if (!na)
			return c->d.rc;
		*arr = na;
		(*arr)[(*n)++] = v;
	}
	return 0;
}

static double as_double(uint64_t u)
{
	double d;
	memcpy(&d, &u, 8);
	return d;
}

static const double *u64_as_doubles(struct pbctx *c, const uint64_t *u, uint32_t n)
{
	if (!n)
		return NULL;
	double *d = dec_alloc(&c->d, n * sizeof(double));
	if (d)
		for (uint32_t i = 0; i < n; i++)
			d[i] = as_double(u[i]);
	return d;
}

static int32_t zigzag32(uint64_t u)
{
	uint32_t v = (uint32_t)u;
	return (int32_t)((v >> 1) ^ (~(v & 1) + 1));
}

static int pb_buckets(struct pbctx *c, const struct pbf *f, int32_t *offset, const uint64_t **counts,
		      uint32_t *n)
{
	WANT(c, f, WT_LEN);
	uint64_t *arr = NULL;
	size_t cap = 0;
	*n = 0;
	struct pbr r = { f->data, f->data + f->len };
	struct pbf bf;
	FIELDS(c, &r, &bf) {
		if (bf.num == BUCKETS_OFFSET) {
			WANT(c, &bf, WT_VARINT);
			*offset = zigzag32(bf.u);
		} else if (bf.num == BUCKETS_COUNTS) {
			TRY(pb_repvarint(c, &bf, &arr, n, &cap));
		}
	}
	*counts = arr;
	return 0;
}

/* One data point of the given metric type appended to the batch. */
/* One Exemplar message appended to pt (at most RECORD_MAX_EXEMPLARS; more are skipped). */
static int pb_exemplar(struct pbctx *c, const struct pbf *f, struct metric_point *pt)
{
	WANT(c, f, WT_LEN);
	if (pt->n_exemplars >= RECORD_MAX_EXEMPLARS)
		return 0;
	if (!pt->exemplars) {
		pt->exemplars = dec_alloc(&c->d, RECORD_MAX_EXEMPLARS * sizeof(struct exemplar));
		if (!pt->exemplars)
			return c->d.rc;
	}
	struct exemplar *ex = (struct exemplar *)&pt->exemplars[pt->n_exemplars++];
	memset(ex, 0, sizeof(*ex));
	uint32_t cap = 0;
	struct pbr r = { f->data, f->data + f->len };
	struct pbf ef;
	FIELDS(c, &r, &ef) {
		switch (ef.num) {
		case EXEMPLAR_ATTRIBUTES: TRY(pb_attr(c, &ef, &ex->attrs, &cap, "exemplar attribute")); break;
		case EXEMPLAR_TIME: TRY(pb_time(c, &ef, &ex->time_ns, "exemplar time_unix_nano")); break;
		case EXEMPLAR_AS_DOUBLE:
			WANT(c, &ef, WT_I64);
			ex->value = as_double(ef.u);
			break;
		case EXEMPLAR_AS_INT:
			WANT(c, &ef, WT_I64);
			ex->value = (double)(int64_t)ef.u;
			break;
		case EXEMPLAR_SPAN_ID:
		case EXEMPLAR_TRACE_ID: {
			WANT(c, &ef, WT_LEN);
			bool trace = ef.num == EXEMPLAR_TRACE_ID;
			size_t want = trace ? 16 : 8;
			if (ef.len == 0)
				break;
			if (ef.len != want) {
				mark_bad(c, "exemplar %s is %zu bytes, not %zu", trace ? "trace_id" : "span_id", (size_t)ef.len, want);
				break;
			}
			memcpy(trace ? ex->trace_id : ex->span_id, ef.data, want);
			*(trace ? &ex->has_trace_id : &ex->has_span_id) = true;
			break;
		}
		default: break;
		}
	}
	return 0;
}

static int pb_point(struct pbctx *c, const struct pbf *f, uint8_t type, const struct resource *res,
		    size_t idx)
{
	WANT(c, f, WT_LEN);
	struct metric_point *pt = dec_push_point(&c->d);
	if (!pt)
		return c->d.rc;
	c->bad = NULL;
	pt->type = type;
	pt->resource = res;
	uint32_t acap = 0;
	uint64_t *u64s = NULL, *bounds = NULL, *quant = NULL;
	uint32_t n_u64 = 0, n_bounds = 0, n_quant = 0;
	size_t cap_u64 = 0, cap_bounds = 0, cap_quant = 0;

	/* field numbers differ per point type; map them onto one set */
	uint32_t f_attrs, f_flags, f_start = 2, f_time = 3, f_ex;
	switch (type) {
	case METRIC_HISTOGRAM: f_attrs = HIST_ATTRIBUTES; f_flags = HIST_FLAGS; f_ex = HIST_EXEMPLARS; break;
	case METRIC_EXP_HISTOGRAM: f_attrs = EXP_ATTRIBUTES; f_flags = EXP_FLAGS; f_ex = EXP_EXEMPLARS; break;
	case METRIC_SUMMARY: f_attrs = SUMMARY_ATTRIBUTES; f_flags = SUMMARY_FLAGS; f_ex = 0; break;
	default: f_attrs = NUMBER_ATTRIBUTES; f_flags = NUMBER_FLAGS; f_ex = NUMBER_EXEMPLARS; break;
	}
	struct pbr r = { f->data, f->data + f->len };
	struct pbf pf;
	FIELDS(c, &r, &pf) {
		uint32_t num = pf.num;
		if (num == f_attrs) {
			TRY(pb_attr(c, &pf, &pt->attrs, &acap, "attribute"));
		} else if (num == f_start) {
			TRY(pb_time(c, &pf, &pt->start_ns, "start_time_unix_nano"));
		} else if (num == f_time) {
			TRY(pb_time(c, &pf, &pt->time_ns, "time_unix_nano"));
		} else if (num == f_flags) {
			WANT(c, &pf, WT_VARINT);
			pt->flags = (uint32_t)pf.u;
		} else if (f_ex && num == f_ex) {
			TRY(pb_exemplar(c, &pf, pt));
		} else if (type == METRIC_GAUGE || type == METRIC_SUM) {
			if (num == NUMBER_AS_DOUBLE) {
				WANT(c, &pf, WT_I64);
				pt->value = as_double(pf.u);
			} else if (num == NUMBER_AS_INT) {
				WANT(c, &pf, WT_I64);
				pt->value = (double)(int64_t)pf.u;
			}
		} else if (num == HIST_COUNT) { /* same number in all three */
			WANT(c, &pf, WT_I64);
			pt->count = pf.u;
		} else if (num == HIST_SUM) {
			WANT(c, &pf, WT_I64);
			pt->sum = as_double(pf.u);
			pt->has_sum = true;
		} else if (type == METRIC_HISTOGRAM) {
			if (num == HIST_BUCKET_COUNTS) {
				TRY(pb_rep64(c, &pf, &u64s, &n_u64, &cap_u64));
			} else if (num == HIST_EXPLICIT_BOUNDS) {
				TRY(pb_rep64(c, &pf, &bounds, &n_bounds, &cap_bounds));
			} else if (num == HIST_MIN || num == HIST_MAX) {
				WANT(c, &pf, WT_I64);
				if (num == HIST_MIN) {
					pt->min = as_double(pf.u);
					pt->has_min = true;
				} else {
					pt->max = as_double(pf.u);
					pt->has_max = true;
				}
			}
		} else if (type == METRIC_EXP_HISTOGRAM) {
			if (num == EXP_SCALE) {
				WANT(c, &pf, WT_VARINT);
				pt->scale = zigzag32(pf.u);
			} else if (num == EXP_ZERO_COUNT) {
				WANT(c, &pf, WT_I64);
				pt->zero_count = pf.u;
			} else if (num == EXP_POSITIVE) {
				TRY(pb_buckets(c, &pf, &pt->pos_offset, &pt->pos_counts, &pt->n_pos));
			} else if (num == EXP_NEGATIVE) {
				TRY(pb_buckets(c, &pf, &pt->neg_offset, &pt->neg_counts, &pt->n_neg));
			} else if (num == EXP_MIN || num == EXP_MAX) {
				WANT(c, &pf, WT_I64);
				if (num == EXP_MIN) {
					pt->min = as_double(pf.u);
					pt->has_min = true;
				} else {
					pt->max = as_double(pf.u);
					pt->has_max = true;
				}
			}
		} else if (type == METRIC_SUMMARY && num == SUMMARY_QUANTILES) {
			WANT(c, &pf, WT_LEN);
			uint64_t q = 0, v = 0;
			struct pbr qr = { pf.data, pf.data + pf.len };
			struct pbf qf;
			FIELDS(c, &qr, &qf) {
				if (qf.num == QUANTILE_QUANTILE || qf.num == QUANTILE_VALUE) {
					WANT(c, &qf, WT_I64);
					if (qf.num == QUANTILE_QUANTILE)
						q = qf.u;
					else
						v = qf.u;
				}
			}
			struct pbf two = { .wt = WT_I64, .u = q };
			TRY(pb_rep64(c, &two, &quant, &n_quant, &cap_quant));
			two.u = v;
			TRY(pb_rep64(c, &two, &quant, &n_quant, &cap_quant));
		}
	}
	if (type == METRIC_HISTOGRAM) {
		pt->bucket_counts = u64s;
		pt->n_bounds = n_bounds;
		pt->bounds = u64_as_doubles(c, bounds, n_bounds);
		if (n_u64 != 0 && n_u64 != n_bounds + 1)
			mark_bad(c, "histogram has %u bucket counts for %u bounds", n_u64, n_bounds);
	} else if (type == METRIC_SUMMARY && n_quant) {
		pt->n_quantiles = n_quant / 2;
		double *qs = dec_alloc(&c->d, pt->n_quantiles * sizeof(double));
		double *vs = dec_alloc(&c->d, pt->n_quantiles * sizeof(double));
		if (!qs || !vs)
			return c->d.rc;
		for (uint32_t i = 0; i < pt->n_quantiles; i++) {
			qs[i] = as_double(quant[2 * i]);
			vs[i] = as_double(quant[2 * i + 1]);
		}
		pt->quantiles = qs;
		pt->quantile_values = vs;
	}
	if (c->d.rc)
		return c->d.rc;
	if (c->bad) {
		c->d.b->n_points--;
		dec_reject(&c->d, "data point %zu: %s", idx, c->bad);
	}
	return 0;
}

static int pb_metric(struct pbctx *c, const struct pbf *f, const struct resource *res)
{
	WANT(c, f, WT_LEN);
	size_t first = c->d.b->n_points;
	const char *name = NULL, *desc = NULL, *unit = NULL;
	uint8_t temporality = 0;
	bool monotonic = false;
	struct pbr r = { f->data, f->data + f->len };
	struct pbf mf;
	FIELDS(c, &r, &mf) {
		uint8_t type;
		switch (mf.num) {
		case METRIC_NAME: TRY(pb_str(c, &mf, &name)); continue;
		case METRIC_DESCRIPTION: TRY(pb_str(c, &mf, &desc)); continue;
		case METRIC_UNIT: TRY(pb_str(c, &mf, &unit)); continue;
		case METRIC_GAUGE_DATA: type = METRIC_GAUGE; break;
		case METRIC_SUM_DATA: type = METRIC_SUM; break;
		case METRIC_HISTOGRAM_DATA: type = METRIC_HISTOGRAM; break;
		case METRIC_EXP_HISTOGRAM_DATA: type = METRIC_EXP_HISTOGRAM; break;
		case METRIC_SUMMARY_DATA: type = METRIC_SUMMARY; break;
		default: continue;
		}
		WANT(c, &mf, WT_LEN);
		struct pbr dr = { mf.data, mf.data + mf.len };
		struct pbf df;
		FIELDS(c, &dr, &df) {
			if (df.num == DATA_POINTS) {
				TRY(pb_point(c, &df, type, res, c->d.b->n_points + c->d.b->rejected));
			} else if (df.num == DATA_TEMPORALITY && type != METRIC_GAUGE && type != METRIC_SUMMARY) {
				WANT(c, &df, WT_VARINT);
				temporality = df.u <= TEMPORALITY_CUMULATIVE ? (uint8_t)df.u : 0;
			} else if (df.num == SUM_IS_MONOTONIC && type == METRIC_SUM) {
				WANT(c, &df, WT_VARINT);
				monotonic = df.u != 0;
			}
		}
	}
	if (!name || !*name) {
		size_t n = c->d.b->n_points - first;
		c->d.b->n_points = first;
		if (n) {
			c->d.b->rejected += n - 1;
			dec_reject(&c->d, "metric without a name (%zu data points)", n);
		}
		return 0;
	}
	for (size_t i = first; i < c->d.b->n_points; i++) {
		struct metric_point *pt = &c->d.b->points[i];
		pt->name = name;
		pt->description = desc;
		pt->unit = unit;
		pt->temporality = temporality;
		pt->monotonic = monotonic;
	}
	return 0;
}

/* ---- the envelope shared by the three signals ---- */

enum sig { SIG_LOGS, SIG_SPANS, SIG_METRICS };

static size_t sig_count(const struct telemetry_batch *b, enum sig s)
{
	return s == SIG_LOGS ? b->n_logs : s == SIG_SPANS ? b->n_spans : b->n_points;
}

static void set_scope(struct telemetry_batch *b, enum sig s, size_t from, const char *scope)
{
	size_t to = sig_count(b, s);
	for (size_t i = from; i < to; i++) {
		if (s == SIG_LOGS)
			b->logs[i].scope_name = scope;
		else if (s == SIG_SPANS)
			b->spans[i].scope_name = scope;
		else
			b->points[i].scope_name = scope;
	}
}

static int pb_scope_data(struct pbctx *c, const struct pbf *f, enum sig s, const struct resource *res)
{
	WANT(c, f, WT_LEN);
	size_t first = sig_count(c->d.b, s);
	const char *scope = NULL;
	struct pbr r = { f->data, f->data + f->len };
	struct pbf sf;
	FIELDS(c, &r, &sf) {
		if (sf.num == SCOPE_DATA_SCOPE) {
			TRY(pb_scope(c, &sf, &scope));
		} else if (sf.num == SCOPE_DATA_RECORDS) {
			size_t idx = sig_count(c->d.b, s) + c->d.b->rejected;
			if (s == SIG_LOGS)
				TRY(pb_log(c, &sf, res, idx));
			else if (s == SIG_SPANS)
				TRY(pb_span(c, &sf, res, idx));
			else
				TRY(pb_metric(c, &sf, res));
		}
	}
	if (scope)
		set_scope(c->d.b, s, first, scope);
	return 0;
}

static int pb_resource_data(struct pbctx *c, const struct pbf *f, enum sig s)
{
	WANT(c, f, WT_LEN);
	struct resource *res = dec_zalloc(&c->d, sizeof(*res));
	if (!res)
		return c->d.rc;
	size_t first = sig_count(c->d.b, s);
	char resbad[sizeof(c->badbuf)] = "";
	struct pbr r = { f->data, f->data + f->len };
	struct pbf rf;
	FIELDS(c, &r, &rf) {
		if (rf.num == RESOURCE_DATA_RESOURCE) {
			c->bad = NULL;
			TRY(pb_resource(c, &rf, res));
			if (c->bad && !resbad[0])
				snprintf(resbad, sizeof(resbad), "%s", c->bad);
			c->bad = NULL;
		} else if (rf.num == RESOURCE_DATA_SCOPES) {
			TRY(pb_scope_data(c, &rf, s, res));
		}
	}
	dec_lift_resource(res);
	if (resbad[0])
		otlp_refuse_from(&c->d, s == SIG_LOGS ? OTLP_LOGS : s == SIG_SPANS ? OTLP_TRACES : OTLP_METRICS,
				 first, resbad);
	return 0;
}

static int pb_decode(const void *body, size_t len, enum sig s, int64_t now_ns,
		     struct telemetry_batch *batch, struct buf *err)
{
	struct pbctx c = { .base = body, .now_ns = now_ns };
	dec_init(&c.d, batch, err);
	struct pbr r = { body, (const uint8_t *)body + len };
	struct pbf f;
	int rc = 0;
	for (;;) {
		rc = pb_next(&c, &r, &f);
		if (rc <= 0)
			break;
		if (f.num == REQUEST_RESOURCE_DATA) {
			rc = pb_resource_data(&c, &f, s);
			if (rc < 0)
				break;
		}
	}
	if (rc >= 0 && c.d.rc)
		rc = c.d.rc; /* an allocation failed where no check returned it */
	dec_release(&c.d);
	return rc < 0 ? rc : 0;
}

int otlp_decode_logs(const void *body, size_t len, bool json, int64_t now_ns,
		     struct telemetry_batch *batch, struct buf *err)
{
	if (json)
		return otlp_json_decode(body, len, OTLP_LOGS, now_ns, batch, err);
	return pb_decode(body, len, SIG_LOGS, now_ns, batch, err);
}

int otlp_decode_traces(const void *body, size_t len, bool json, int64_t now_ns,
		       struct telemetry_batch *batch, struct buf *err)
{
	if (json)
		return otlp_json_decode(body, len, OTLP_TRACES, now_ns, batch, err);
	return pb_decode(body, len, SIG_SPANS, now_ns, batch, err);
}

int otlp_decode_metrics(const void *body, size_t len, bool json, int64_t now_ns,
			struct telemetry_batch *batch, struct buf *err)
{
	if (json)
		return otlp_json_decode(body, len, OTLP_METRICS, now_ns, batch, err);
	return pb_decode(body, len, SIG_METRICS, now_ns, batch, err);
}

/* ---- helpers shared with otlp_json.c ---- */

int otlp_body_text(struct dec *d, const struct attr *a, const char **body, uint32_t *len)
{
	char tmp[64];
	const char *s;
	size_t n;
	switch (a->type) {
	case ATTR_STR:
	case ATTR_JSON:
		*body = a->s;
		*len = a->len;
		return 0;
	case ATTR_BYTES:
		buf_reset(&d->scratch);
		hexbytes(&d->scratch, (const uint8_t *)a->s, a->len);
		s = d->scratch.data;
		n = d->scratch.len;
		break;
	case ATTR_INT:
		n = (size_t)snprintf(tmp, sizeof(tmp), "%" PRId64, a->i);
		s = tmp;
		break;
	case ATTR_DOUBLE:
		buf_reset(&d->scratch);
		add_double_json(&d->scratch, a->d);
		s = d->scratch.data;
		n = d->scratch.len;
		break;
	case ATTR_BOOL:
		s = a->b ? "true" : "false";
		n = strlen(s);
		break;
	default:
		s = "";
		n = 0;
	}
	char *o = dec_strndup(d, s, n);
	if (!o)
		return d->rc;
	*body = o;
	*len = (uint32_t)n;
	return 0;
}

void otlp_log_times(struct log_record *lr, int64_t now_ns)
{
	if (lr->observed_ns == 0)
		lr->observed_ns = now_ns;
	if (lr->time_ns == 0)
		lr->time_ns = lr->observed_ns;
}

void otlp_refuse_from(struct dec *d, enum otlp_signal s, size_t first, const char *why)
{
	struct telemetry_batch *b = d->b;
	size_t *n = s == OTLP_LOGS ? &b->n_logs : s == OTLP_TRACES ? &b->n_spans : &b->n_points;
	if (*n <= first)
		return;
	size_t k = *n - first;
	*n = first;
	b->rejected += k - 1;
	dec_reject(d, "%zu %s of a resource refused: %s", k,
		   s == OTLP_LOGS ? "log records" : s == OTLP_TRACES ? "spans" : "data points", why);
}

void otlp_check_span(const struct span *sp, bool has_trace, bool has_span, const char **bad)
{
	static const uint8_t zero[16];
	if (!has_trace || !memcmp(sp->trace_id, zero, 16))
		*bad = "trace_id missing or all zero";
	else if (!has_span || !memcmp(sp->span_id, zero, 8))
		*bad = "span_id missing or all zero";
	else if (sp->end_ns < sp->start_ns)
		*bad = "span ends before it starts";
}
