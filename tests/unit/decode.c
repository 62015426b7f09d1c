/*
 * Unit tests for the ingest decoders: OTLP protobuf and JSON on payloads
 * captured from real SDKs ($OODA_SHARED_DATA/samples) and on protobuf built
 * by hand here, Prometheus remote-write, NDJSON logs, change events and
 * CloudEvents; malformed input, partial success and the per-line report.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <math.h>
#include <cmocka.h>
#include <snappy-c.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/xalloc.h"
#include "ingest/events.h"
#include "ingest/ndjson.h"
#include "ingest/otlp.h"
#include "ingest/remote_write.h"

#define NOW INT64_C(1800000000000000000)

struct fx {
	struct arena arena;
	struct telemetry_batch b;
	struct buf err;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	arena_init(&f->arena, 0);
	f->b.arena = &f->arena;
	buf_init(&f->err);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	arena_release(&f->arena);
	buf_release(&f->err);
	free(f);
	return 0;
}

static void fx_reset(struct fx *f)
{
	arena_reset(&f->arena);
	memset(&f->b, 0, sizeof(f->b));
	f->b.arena = &f->arena;
	buf_reset(&f->err);
}

static char *read_sample(const char *name, size_t *len)
{
	const char *dir = getenv("OODA_SHARED_DATA");
	char path[1024];
	snprintf(path, sizeof(path), "%s/samples/%s", dir ? dir : OODA_SHARED_DATA, name);
	FILE *fp = fopen(path, "rb");
	assert_non_null(fp);
	struct buf b = BUF_INIT;
	char tmp[4096];
	size_t n;
	while ((n = fread(tmp, 1, sizeof(tmp), fp)) > 0)
		buf_add(&b, tmp, n);
	fclose(fp);
	return buf_detach(&b, len);
}

static const struct attr *find_attr(const struct attrs *as, const char *key)
{
	for (uint32_t i = 0; i < as->n; i++)
		if (!strcmp(as->v[i].key, key))
			return &as->v[i];
	return NULL;
}

static void assert_hex(const uint8_t *id, size_t n, const char *hex)
{
	char out[64];
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", id[i]);
	assert_string_equal(out, hex);
}

/* ---- a tiny protobuf writer for hand-built payloads ---- */

static void pw_varint(struct buf *b, uint64_t v)
{
	while (v >= 0x80) {
		buf_addch(b, (char)(v | 0x80));
		v >>= 7;
	}
	buf_addch(b, (char)v);
}

static void pw_tag(struct buf *b, uint32_t field, uint32_t wt) { pw_varint(b, (uint64_t)field << 3 | wt); }

static void pw_bytes(struct buf *b, uint32_t field, const void *p, size_t n)
{
	pw_tag(b, field, 2);
	pw_varint(b, n);
	buf_add(b, p, n);
}

static void pw_str(struct buf *b, uint32_t field, const char *s) { pw_bytes(b, field, s, strlen(s)); }

static void pw_msg(struct buf *b, uint32_t field, struct buf *inner)
{
	pw_bytes(b, field, inner->data, inner->len);
	buf_release(inner);
}

static void pw_fixed64(struct buf *b, uint32_t field, uint64_t v)
{
	pw_tag(b, field, 1);
	for (int i = 0; i < 8; i++)
		buf_addch(b, (char)(v >> (8 * i)));
}

static void pw_double(struct buf *b, uint32_t field, double d)
{
	uint64_t u;
	memcpy(&u, &d, 8);
	pw_fixed64(b, field, u);
}

static void pw_vint(struct buf *b, uint32_t field, uint64_t v)
{
	pw_tag(b, field, 0);
	pw_varint(b, v);
}

/* KeyValue { key, value: AnyValue { string_value } } */
static void pw_kv_str(struct buf *b, uint32_t field, const char *k, const char *v)
{
	struct buf any = BUF_INIT, kv = BUF_INIT;
	pw_str(&any, 1, v);
	pw_str(&kv, 1, k);
	pw_msg(&kv, 2, &any);
	pw_msg(b, field, &kv);
}

static void pw_kv_int(struct buf *b, uint32_t field, const char *k, int64_t v)
{
	struct buf any = BUF_INIT, kv = BUF_INIT;
	pw_vint(&any, 3, (uint64_t)v);
	pw_str(&kv, 1, k);
	pw_msg(&kv, 2, &any);
	pw_msg(b, field, &kv);
}

/* Wraps records (field 2 of a scope message) in resource + scope envelopes. */
static void pw_envelope(struct buf *out, struct buf *records, const char *service)
{
	struct buf res = BUF_INIT, scope = BUF_INIT, sd = BUF_INIT, rd = BUF_INIT;
	pw_kv_str(&res, 1, "service.name", service);
	pw_kv_str(&res, 1, "host.name", "h1");
	pw_str(&scope, 1, "handmade");
	/* records before the scope: field order must not matter */
	buf_add(&sd, records->data, records->len);
	buf_release(records);
	pw_msg(&sd, 1, &scope);
	pw_msg(&rd, 1, &res);
	pw_msg(&rd, 2, &sd);
	pw_msg(out, 1, &rd);
}

/* ---- OTLP/JSON on captured payloads ---- */

static void test_otlp_json_samples(void **state)
{
	struct fx *f = *state;
	size_t len;
	char *s = read_sample("otlp_logs.json", &len);
	assert_int_equal(otlp_decode_logs(s, len, true, NOW, &f->b, &f->err), 0);
	free(s);
	assert_int_equal(f->b.n_logs, 1);
	const struct log_record *lr = &f->b.logs[0];
	assert_string_equal(lr->resource->service, "oteljs-probe");
	assert_string_equal(lr->resource->environment, "test");
	assert_string_equal(lr->scope_name, "probe");
	assert_int_equal(lr->severity, 17);
	assert_string_equal(lr->severity_text, "ERROR");
	assert_string_equal(lr->body, "payment failed");
	assert_true(lr->time_ns == INT64_C(1795333110347000000));
	const struct attr *a = find_attr(&lr->attrs, "order.id");
	assert_non_null(a);
	assert_int_equal(a->type, ATTR_INT);
	assert_int_equal(a->i, 42);

	fx_reset(f);
	s = read_sample("otlp_traces.json", &len);
	assert_int_equal(otlp_decode_traces(s, len, true, NOW, &f->b, &f->err), 0);
	free(s);
	assert_int_equal(f->b.n_spans, 1);
	const struct span *sp = &f->b.spans[0];
	assert_string_equal(sp->name, "GET /checkout");
	assert_hex(sp->trace_id, 16, "26ccc6bd30af53c877160cc25b12ba39");
	assert_hex(sp->span_id, 8, "8a29ef46f26ad82f");
	assert_false(sp->has_parent);
	assert_int_equal(sp->kind, SPAN_SERVER);
	assert_int_equal(sp->status, STATUS_ERROR);
	assert_string_equal(sp->status_message, "boom");
	assert_int_equal(sp->end_ns - sp->start_ns, 334536);
	assert_int_equal(sp->n_events, 1);
	assert_string_equal(sp->events[0].name, "exception");
	a = find_attr(&sp->attrs, "big");
	assert_non_null(a);
	assert_true(a->i == INT64_C(9007199254740991));
	assert_string_equal(find_attr(&sp->attrs, "http.route")->s, "/checkout");

	fx_reset(f);
	s = read_sample("otlp_metrics.json", &len);
	assert_int_equal(otlp_decode_metrics(s, len, true, NOW, &f->b, &f->err), 0);
	free(s);
	assert_int_equal(f->b.n_points, 3);
	const struct metric_point *p = &f->b.points[0];
	assert_string_equal(p->name, "http.requests");
	assert_int_equal(p->type, METRIC_SUM);
	assert_true(p->monotonic);
	assert_int_equal(p->temporality, TEMPORALITY_CUMULATIVE);
	assert_true(p->value == 3.0);
	assert_string_equal(find_attr(&p->attrs, "route")->s, "/checkout");
	p = &f->b.points[1];
	assert_string_equal(p->name, "http.duration");
	assert_int_equal(p->type, METRIC_HISTOGRAM);
	assert_int_equal(p->n_bounds, 15);
	assert_int_equal(p->count, 1);
	assert_true(p->bounds[7] == 250.0);
	assert_int_equal(p->bucket_counts[7], 1);
	assert_true(p->has_sum && p->sum == 123.4 && p->has_min && p->has_max);
	p = &f->b.points[2];
	assert_string_equal(p->name, "queue.depth");
	assert_int_equal(p->type, METRIC_GAUGE);
	assert_true(p->value == 7.0);

	fx_reset(f);
	s = read_sample("otlp_metrics_int_counter.json", &len);
	assert_int_equal(otlp_decode_metrics(s, len, true, NOW, &f->b, &f->err), 0);
	free(s);
	assert_int_equal(f->b.n_points, 1);
	assert_string_equal(f->b.points[0].name, "c.int");
	assert_string_equal(f->b.points[0].resource->service, "unknown_service:node");
	assert_true(f->b.points[0].value == 5.0);
}

/* ---- OTLP protobuf ---- */

static void test_otlp_proto_sample(void **state)
{
	struct fx *f = *state;
	size_t len;
	char *s = read_sample("otlp_traces_proto.bin", &len);
	assert_int_equal(otlp_decode_traces(s, len, false, NOW, &f->b, &f->err), 0);
	assert_int_equal(f->b.n_spans, 1);
	const struct span *sp = &f->b.spans[0];
	assert_string_equal(sp->resource->service, "oteljs-probe");
	assert_string_equal(sp->resource->environment, "test");
	assert_string_equal(sp->scope_name, "probe");
	assert_string_equal(sp->name, "GET /checkout");
	assert_hex(sp->trace_id, 16, "26ccc6bd30af53c877160cc25b12ba39");
	assert_hex(sp->span_id, 8, "8a29ef46f26ad82f");
	assert_int_equal(sp->kind, SPAN_SERVER);
	assert_int_equal(sp->status, STATUS_ERROR);
	assert_string_equal(sp->status_message, "boom");
	assert_int_equal(sp->n_events, 1);
	assert_string_equal(find_attr(&sp->events[0].attrs, "exception.message")->s, "boom");
	assert_int_equal(find_attr(&sp->attrs, "http.status_code")->i, 500);
	assert_true(find_attr(&sp->attrs, "big")->i == INT64_C(9007199254740991));

	/* every truncation fails cleanly; cutting inside the outer message is a parse error */
	for (size_t n = 0; n < len; n++) {
		fx_reset(f);
		int rc = otlp_decode_traces(s, n, false, NOW, &f->b, &f->err);
		if (n > 0 && n < len)
			assert_int_equal(rc, OODA_EPARSE);
		if (rc)
			assert_non_null(strstr(f->err.data, "at byte"));
	}
	free(s);
}

static void test_otlp_proto_logs(void **state)
{
	struct fx *f = *state;
	struct buf recs = BUF_INIT, req = BUF_INIT;
	static const uint8_t tid[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
	static const uint8_t sid[8] = { 0xa, 0xb, 0xc, 0xd, 0xe, 0xf, 0x10, 0x11 };
	/* 0: full record with a kvlist body */
	struct buf lr = BUF_INIT, body = BUF_INIT, kvl = BUF_INIT;
	pw_fixed64(&lr, 1, 1000);
	pw_fixed64(&lr, 11, 2000);
	pw_vint(&lr, 2, 9);
	pw_str(&lr, 3, "INFO");
	pw_kv_str(&kvl, 1, "a", "x\"y");
	pw_kv_int(&kvl, 1, "n", -3);
	pw_msg(&body, 6, &kvl);
	pw_msg(&lr, 5, &body);
	pw_kv_int(&lr, 6, "attempt", 2);
	pw_bytes(&lr, 9, tid, 16);
	pw_bytes(&lr, 10, sid, 8);
	pw_tag(&lr, 8, 5);
	buf_add(&lr, "\x01\x00\x00\x00", 4);
	pw_vint(&lr, 99, 7); /* unknown field: skipped */
	pw_msg(&recs, 2, &lr);
	/* 1: bad trace id length → rejected */
	pw_bytes(&lr, 9, tid, 5);
	pw_str(&lr, 3, "x");
	pw_msg(&recs, 2, &lr);
	/* 2: no times at all → now; string body */
	struct buf sb = BUF_INIT;
	pw_str(&sb, 1, "plain");
	pw_msg(&lr, 5, &sb);
	pw_msg(&recs, 2, &lr);
	pw_envelope(&req, &recs, "checkout");

	assert_int_equal(otlp_decode_logs(req.data, req.len, false, NOW, &f->b, &f->err), 0);
	assert_int_equal(f->b.n_logs, 2);
	assert_int_equal(f->b.rejected, 1);
	assert_non_null(strstr(f->b.reject_msg, "trace_id has 5 bytes"));
	const struct log_record *l = &f->b.logs[0];
	assert_string_equal(l->resource->service, "checkout");
	assert_string_equal(l->resource->host, "h1");
	assert_string_equal(l->scope_name, "handmade");
	assert_int_equal(l->time_ns, 1000);
	assert_int_equal(l->observed_ns, 2000);
	assert_int_equal(l->severity, 9);
	assert_string_equal(l->body, "{\"a\":\"x\\\"y\",\"n\":-3}");
	assert_true(l->has_trace_id && l->has_span_id);
	assert_hex(l->span_id, 8, "0a0b0c0d0e0f1011");
	assert_int_equal(l->flags, 1);
	assert_int_equal(find_attr(&l->attrs, "attempt")->i, 2);
	l = &f->b.logs[1];
	assert_true(l->time_ns == NOW && l->observed_ns == NOW);
	assert_string_equal(l->body, "plain");
	assert_string_equal(l->scope_name, "handmade");

	/* malformed bodies */
	static const struct {
		const char *bytes;
		size_t len;
	} bad[] = {
		{ "\xff\xff\xff", 3 },                 /* varint runs off the end */
		{ "\x0f", 1 },                         /* wire type 7 */
		{ "\x0a\x05\x01", 3 },                 /* length past the end */
		{ "\x09\x01\x02", 3 },                 /* field 1 as fixed64: wrong wire type */
		{ "\x0a\x02\x12\x05", 4 },             /* nested length past its parent */
		{ "\x00\x00", 2 },                     /* field number 0 */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fx_reset(f);
		assert_int_equal(otlp_decode_logs(bad[i].bytes, bad[i].len, false, NOW, &f->b, &f->err),
				 OODA_EPARSE);
		assert_non_null(strstr(f->err.data, "byte"));
	}
	buf_release(&req);
}

static void test_otlp_proto_metrics(void **state)
{
	struct fx *f = *state;
	struct buf recs = BUF_INIT, req = BUF_INIT, m = BUF_INIT, data = BUF_INIT, dp = BUF_INIT;
	/* gauge with an int point; name after the data */
	pw_fixed64(&dp, 3, 5000);
	pw_tag(&dp, 6, 1);
	int64_t v = -12;
	buf_add(&dp, &v, 8);
	pw_kv_str(&dp, 7, "q", "jobs");
	pw_msg(&data, 1, &dp);
	pw_msg(&m, 5, &data);
	pw_str(&m, 1, "queue.size");
	pw_msg(&recs, 2, &m);
	/* monotonic delta sum with an exemplar */
	struct buf ex = BUF_INIT;
	pw_fixed64(&ex, 2, 4000);
	pw_double(&ex, 3, 1.5);
	pw_bytes(&ex, 4, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	pw_bytes(&ex, 5, "\x4b\xf9\x2f\x35\x77\xb3\x4d\xa6\xa3\xce\x92\x9d\x0e\x0e\x47\x36", 16);
	pw_kv_str(&ex, 7, "user", "u1");
	pw_msg(&dp, 5, &ex);
	pw_double(&dp, 4, 2.5);
	pw_msg(&data, 1, &dp);
	pw_vint(&data, 2, 1);
	pw_vint(&data, 3, 1);
	pw_str(&m, 1, "bytes");
	pw_str(&m, 3, "By");
	pw_msg(&m, 7, &data);
	pw_msg(&recs, 2, &m);
	/* histogram: packed bounds and counts, plus an invalid point */
	pw_fixed64(&dp, 4, 6);
	pw_double(&dp, 5, 42.0);
	struct buf packed = BUF_INIT;
	for (int i = 1; i <= 3; i++) {
		uint64_t c = (uint64_t)i;
		buf_add(&packed, &c, 8);
	}
	pw_bytes(&dp, 6, packed.data, packed.len);
	buf_reset(&packed);
	double bounds[2] = { 10, 100 };
	buf_add(&packed, bounds, sizeof(bounds));
	pw_bytes(&dp, 7, packed.data, packed.len);
	pw_double(&dp, 11, 0.5);
	pw_double(&dp, 12, 300);
	pw_tag(&ex, 6, 1); /* as_int */
	int64_t ev = 7;
	buf_add(&ex, &ev, 8);
	pw_msg(&dp, 8, &ex);
	pw_msg(&data, 1, &dp);
	pw_bytes(&dp, 7, packed.data, packed.len); /* 2 bounds, 0 counts: fine */
	pw_fixed64(&dp, 6, 1);                     /* now 1 count for 2 bounds: bad */
	pw_msg(&data, 1, &dp);
	pw_vint(&data, 2, 2);
	pw_str(&m, 1, "latency");
	pw_msg(&m, 9, &data);
	pw_msg(&recs, 2, &m);
	buf_release(&packed);
	/* exponential histogram */
	struct buf pos = BUF_INIT;
	pw_vint(&pos, 1, 3); /* zigzag(3) = -2 */
	pw_tag(&pos, 2, 2);
	pw_varint(&pos, 4);
	buf_add(&pos, "\x04\x05\x81\x01", 4); /* 4, 5, 129 */
	pw_fixed64(&dp, 4, 138);
	pw_vint(&dp, 6, 6); /* scale 3 */
	pw_fixed64(&dp, 7, 1);
	pw_msg(&dp, 8, &pos);
	pw_msg(&data, 1, &dp);
	pw_str(&m, 1, "exp");
	pw_msg(&m, 10, &data);
	pw_msg(&recs, 2, &m);
	/* summary */
	struct buf q = BUF_INIT;
	pw_double(&q, 1, 0.99);
	pw_double(&q, 2, 12.5);
	pw_fixed64(&dp, 4, 10);
	pw_double(&dp, 5, 50);
	pw_msg(&dp, 6, &q);
	pw_msg(&data, 1, &dp);
	pw_str(&m, 1, "rpc");
	pw_msg(&m, 11, &data);
	pw_msg(&recs, 2, &m);
	pw_envelope(&req, &recs, "api");

	assert_int_equal(otlp_decode_metrics(req.data, req.len, false, NOW, &f->b, &f->err), 0);
	assert_int_equal(f->b.n_points, 5);
	assert_int_equal(f->b.rejected, 1);
	assert_non_null(strstr(f->b.reject_msg, "1 bucket counts for 2 bounds"));
	const struct metric_point *p = f->b.points;
	assert_string_equal(p[0].name, "queue.size");
	assert_int_equal(p[0].type, METRIC_GAUGE);
	assert_true(p[0].value == -12.0);
	assert_int_equal(p[0].time_ns, 5000);
	assert_string_equal(p[0].resource->service, "api");
	assert_string_equal(p[0].scope_name, "handmade");
	assert_string_equal(p[1].name, "bytes");
	assert_string_equal(p[1].unit, "By");
	assert_true(p[1].monotonic && p[1].temporality == TEMPORALITY_DELTA && p[1].value == 2.5);
	assert_int_equal(p[1].n_exemplars, 1);
	assert_true(p[1].exemplars[0].value == 1.5 && p[1].exemplars[0].time_ns == 4000);
	assert_true(p[1].exemplars[0].has_trace_id && p[1].exemplars[0].trace_id[0] == 0x4b);
	assert_true(p[1].exemplars[0].has_span_id && p[1].exemplars[0].span_id[7] == 0x08);
	assert_int_equal(p[1].exemplars[0].attrs.n, 1);
	assert_string_equal(p[1].exemplars[0].attrs.v[0].key, "user");
	assert_int_equal(p[0].n_exemplars, 0);
	assert_int_equal(p[2].n_exemplars, 1);
	assert_true(p[2].exemplars[0].value == 7.0 && !p[2].exemplars[0].has_trace_id);
	assert_string_equal(p[2].name, "latency");
	assert_int_equal(p[2].type, METRIC_HISTOGRAM);
	assert_int_equal(p[2].n_bounds, 2);
	assert_true(p[2].bounds[1] == 100.0);
	assert_int_equal(p[2].bucket_counts[2], 3);
	assert_true(p[2].has_sum && p[2].sum == 42.0 && p[2].min == 0.5 && p[2].max == 300);
	assert_int_equal(p[2].temporality, TEMPORALITY_CUMULATIVE);
	assert_int_equal(p[3].type, METRIC_EXP_HISTOGRAM);
	assert_int_equal(p[3].scale, 3);
	assert_int_equal(p[3].zero_count, 1);
	assert_int_equal(p[3].pos_offset, -2);
	assert_int_equal(p[3].n_pos, 3);
	assert_int_equal(p[3].pos_counts[2], 129);
	assert_int_equal(p[4].type, METRIC_SUMMARY);
	assert_int_equal(p[4].n_quantiles, 1);
	assert_true(p[4].quantiles[0] == 0.99 && p[4].quantile_values[0] == 12.5);
	assert_int_equal(p[4].count, 10);
	buf_release(&ex);
	buf_release(&req);
}

static void test_otlp_partial_spans(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *json;
		size_t spans, rejected;
		const char *msg;
	} cases[] = {
		{ "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"0102030405060708090a0b0c0d0e0f10\","
		  "\"spanId\":\"0102030405060708\",\"name\":\"\",\"kind\":\"SPAN_KIND_CLIENT\",\"startTimeUnixNano\":5,"
		  "\"endTimeUnixNano\":\"9\"}]}]}]}",
		  1, 0, NULL },
		{ "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"0102\",\"spanId\":\"0102030405060708\"},"
		  "{\"trace_id\":\"0102030405060708090a0b0c0d0e0f10\",\"span_id\":\"0102030405060708\"}]}]}]}",
		  1, 1, "traceId is not 32 hex digits" },
		{ "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"0102030405060708090a0b0c0d0e0f10\","
		  "\"spanId\":\"0102030405060708\",\"startTimeUnixNano\":9,\"endTimeUnixNano\":5}]}]}]}",
		  0, 1, "ends before it starts" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fx_reset(f);
		assert_int_equal(otlp_decode_traces(cases[i].json, strlen(cases[i].json), true, NOW, &f->b, &f->err), 0);
		assert_int_equal(f->b.n_spans, cases[i].spans);
		assert_int_equal(f->b.rejected, cases[i].rejected);
		if (cases[i].msg)
			assert_non_null(strstr(f->b.reject_msg, cases[i].msg));
		if (cases[i].spans)
			assert_string_equal(f->b.spans[0].resource->service, "unknown");
	}
	fx_reset(f);
	assert_int_equal(otlp_decode_traces(cases[0].json, strlen(cases[0].json), true, NOW, &f->b, &f->err), 0);
	assert_int_equal(f->b.spans[0].kind, SPAN_CLIENT);
	assert_int_equal(f->b.spans[0].end_ns, 9);

	static const char *const bad_json[] = {
		"{\"resourceLogs\": [", "[1,2]", "{\"a\":1}x", "{\"a\":\"\\q\"}", "",
	};
	for (size_t i = 0; i < sizeof(bad_json) / sizeof(bad_json[0]); i++) {
		fx_reset(f);
		assert_int_equal(otlp_decode_logs(bad_json[i], strlen(bad_json[i]), true, NOW, &f->b, &f->err),
				 OODA_EPARSE);
		assert_non_null(strstr(f->err.data, "line 1, column"));
	}
	/* enum names and a structured body in JSON */
	fx_reset(f);
	const char *logs = "{\"resource_logs\":[{\"scope_logs\":[{\"log_records\":[{\"severityNumber\":\"SEVERITY_NUMBER_WARN\","
			   "\"body\":{\"arrayValue\":{\"values\":[{\"intValue\":\"1\"},{\"boolValue\":true}]}}}]}]}]}";
	assert_int_equal(otlp_decode_logs(logs, strlen(logs), true, NOW, &f->b, &f->err), 0);
	assert_int_equal(f->b.n_logs, 1);
	assert_int_equal(f->b.logs[0].severity, 13);
	assert_string_equal(f->b.logs[0].body, "[1,true]");
	assert_true(f->b.logs[0].time_ns == NOW);
}

/* ---- remote-write ---- */

static void test_remote_write(void **state)
{
	struct fx *f = *state;
	size_t len;
	char *s = read_sample("prom_remote_write_req0.snappy.pb", &len);
	assert_int_equal(remote_write_decode(s, len, &f->b, &f->err), 0);
	assert_true(f->b.n_points > 0);
	assert_int_equal(f->b.rejected, 0);
	const struct metric_point *up = NULL;
	for (size_t i = 0; i < f->b.n_points; i++) {
		assert_non_null(f->b.points[i].name);
		assert_int_equal(f->b.points[i].type, METRIC_GAUGE);
		if (!strcmp(f->b.points[i].name, "up"))
			up = &f->b.points[i];
	}
	assert_non_null(up);
	assert_true(up->value == 1.0);
	assert_string_equal(up->resource->service, find_attr(&up->attrs, "job")->s);
	assert_non_null(up->resource->host);
	assert_true(up->time_ns > INT64_C(1500000000000000000));
	fx_reset(f);
	assert_int_equal(remote_write_decode(s, len / 2, &f->b, &f->err), OODA_EPARSE);
	fx_reset(f);
	assert_int_equal(remote_write_decode("\x05garbage", 8, &f->b, &f->err), OODA_EPARSE);
	fx_reset(f);
	/* a snappy header claiming 1 GiB */
	assert_int_equal(remote_write_decode("\x80\x80\x80\x80\x04", 5, &f->b, &f->err), OODA_ETOOBIG);
	free(s);
	/* metadata (field 3): a counter with help and unit, an unknown type, one without a name */
	struct buf wr = BUF_INIT, m = BUF_INIT;
	pw_vint(&m, 1, 1);
	pw_str(&m, 2, "jobs_total");
	pw_str(&m, 4, "Jobs run");
	pw_str(&m, 5, "seconds");
	pw_msg(&wr, 3, &m);
	pw_vint(&m, 1, 42);
	pw_str(&m, 2, "odd");
	pw_msg(&wr, 3, &m);
	pw_str(&m, 4, "nameless");
	pw_msg(&wr, 3, &m);
	size_t clen = snappy_max_compressed_length(wr.len);
	char *packed = xmalloc(clen);
	assert_int_equal(snappy_compress(wr.data, wr.len, packed, &clen), SNAPPY_OK);
	struct rw_metadata *meta;
	size_t n_meta;
	fx_reset(f);
	assert_int_equal(remote_write_decode_meta(packed, clen, &f->b, &meta, &n_meta, &f->err), 0);
	assert_int_equal(n_meta, 2);
	assert_string_equal(meta[0].name, "jobs_total");
	assert_string_equal(meta[0].type, "counter");
	assert_string_equal(meta[0].help, "Jobs run");
	assert_string_equal(meta[0].unit, "seconds");
	assert_string_equal(meta[1].type, "unknown");
	assert_string_equal(meta[1].help, "");
	free(packed);
	buf_release(&wr);
}

/* ---- NDJSON ---- */

static void test_ndjson(void **state)
{
	struct fx *f = *state;
	const char *body =
		"{\"time\":\"2026-11-25T10:00:00Z\",\"service\":\"api\",\"level\":\"error\",\"msg\":\"db down\","
		"\"user\":{\"id\":42,\"name\":\"ann\"},\"trace_id\":\"0102030405060708090a0b0c0d0e0f10\",\"ok\":false}\n"
		"\n"
		"not json\n"
		"{\"ts\":1795600800,\"service.name\":\"api\",\"severity\":\"WARNING\",\"message\":\"slow\",\"tags\":[1,2]}\r\n"
		"[1,2]\n"
		"{\"service\":\"worker\",\"trace_id\":\"xyz\"}\n"
		"{\"service\":\"worker\",\"body\":{\"k\":1},\"severity\":3,\"lat\":1.5}\n"
		"{\"level\":\"21\"}";
	struct buf report = BUF_INIT;
	assert_int_equal(ndjson_decode_logs(body, strlen(body), NOW, &f->b, &report, &f->err), 0);
	assert_int_equal(f->b.n_logs, 4);
	assert_int_equal(f->b.rejected, 3);
	assert_int_equal(f->b.logs[3].severity, 21);
	assert_string_equal(f->b.logs[3].resource->service, "unknown");
	assert_string_equal(report.data,
			    "[{\"line\":3,\"error\":\"invalid JSON at column 1: invalid literal\"},"
			    "{\"line\":5,\"error\":\"line is not a JSON object\"},"
			    "{\"line\":6,\"error\":\"trace_id is not 32 hex digits\"}]");
	const struct log_record *l = &f->b.logs[0];
	assert_true(l->time_ns == INT64_C(1795600800000000000));
	assert_string_equal(l->resource->service, "api");
	assert_int_equal(l->severity, 17);
	assert_string_equal(l->body, "db down");
	assert_true(l->has_trace_id);
	assert_int_equal(find_attr(&l->attrs, "user.id")->i, 42);
	assert_string_equal(find_attr(&l->attrs, "user.name")->s, "ann");
	assert_int_equal(find_attr(&l->attrs, "ok")->type, ATTR_BOOL);
	assert_null(find_attr(&l->attrs, "msg"));
	l = &f->b.logs[1];
	assert_ptr_equal(l->resource, f->b.logs[0].resource);
	assert_int_equal(l->severity, 13);
	assert_string_equal(find_attr(&l->attrs, "tags")->s, "[1,2]");
	l = &f->b.logs[2];
	assert_string_equal(l->resource->service, "worker");
	assert_true(l->time_ns == NOW);
	assert_int_equal(l->severity, 3);
	assert_string_equal(l->body, "{\"k\":1}");
	assert_true(find_attr(&l->attrs, "lat")->d == 1.5);
	buf_release(&report);
}

/* ---- change events ---- */

static void test_events_json(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *json;
		int rc;
		size_t n;
		const char *err;
	} cases[] = {
		{ "{\"kind\":\"deploy\",\"service\":\"api\",\"version\":\"1.2.3\",\"actor\":\"ci\",\"time\":\"2026-11-25T10:00:00Z\","
		  "\"links\":[\"https://ci/1\"],\"attributes\":{\"commit\":\"abc\",\"pr\":{\"n\":7}},\"id\":\"e1\"}",
		  0, 1, NULL },
		{ "[{\"kind\":\"flag\",\"service\":\"api\"},{\"kind\":\"deployx\",\"service\":\"api\"}]", OODA_EINVAL, 0,
		  "event 1: kind \"deployx\"" },
		{ "[{\"kind\":\"config\",\"service\":\"a\"},{\"kind\":\"scale\",\"service\":\"b\"}]", 0, 2, NULL },
		{ "{\"kind\":\"deploy\"}", OODA_EINVAL, 0, "event 0: service is required" },
		{ "{\"kind\":\"deploy\",\"service\":\"a\",\"time\":\"yesterday\"}", OODA_EINVAL, 0, "time" },
		{ "{\"kind\":", OODA_EPARSE, 0, "line 1, column 9" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fx_reset(f);
		int rc = events_decode_json(cases[i].json, strlen(cases[i].json), NOW, &f->b, &f->err);
		assert_int_equal(rc, cases[i].rc);
		if (!rc)
			assert_int_equal(f->b.n_events, cases[i].n);
		if (cases[i].err)
			assert_non_null(strstr(f->err.data, cases[i].err));
	}
	fx_reset(f);
	assert_int_equal(events_decode_json(cases[0].json, strlen(cases[0].json), NOW, &f->b, &f->err), 0);
	const struct change_event *e = &f->b.events[0];
	assert_string_equal(e->kind, "deploy");
	assert_string_equal(e->version, "1.2.3");
	assert_string_equal(e->actor, "ci");
	assert_string_equal(e->id, "e1");
	assert_string_equal(e->source, "api");
	assert_string_equal(e->links, "[\"https://ci/1\"]");
	assert_true(e->time_ns == INT64_C(1795600800000000000));
	assert_int_equal(find_attr(&e->attrs, "pr.n")->i, 7);
}

struct hdrs {
	const char *const (*kv)[2];
};

static const char *get_header(void *ctx, const char *name)
{
	const struct hdrs *h = ctx;
	for (size_t i = 0; h->kv[i][0]; i++)
		if (!strcasecmp(h->kv[i][0], name))
			return h->kv[i][1];
	return NULL;
}

/* CDEvents: the data model inside data decides kind, service, version, environment and time */
static void test_cdevents(void **state)
{
	struct fx *f = *state;
#define CDE(type, subject) \
	"{\"specversion\":\"1.0\",\"id\":\"x\",\"source\":\"/s\",\"type\":\"" type "\",\"data\":{\"context\":" \
	"{\"id\":\"c\",\"timestamp\":\"2026-12-01T09:15:00Z\"},\"subject\":" subject "}}"
	static const struct {
		const char *json;
		const char *kind, *service, *version, *env;
	} ok[] = {
		{ CDE("dev.cdevents.service.deployed.0.2.0",
		      "{\"id\":\"checkout\",\"content\":{\"environment\":{\"id\":\"prod\"},"
		      "\"artifactId\":\"pkg:oci/co@sha256%3Aab?repository_url=r\"}}"),
		  "deploy", "checkout", "sha256:ab", "prod" },
		{ CDE("dev.cdevents.service.upgraded", "{\"content\":{\"artifactId\":\"pkg:maven/com.acme/cart@2.4.1\"}}"),
		  "deploy", "cart", "2.4.1", NULL },
		{ CDE("dev.cdevents.service.rolledback.0.1.1", "{\"id\":\"pay\"}"), "rollback", "pay", NULL, NULL },
		{ CDE("dev.cdevents.service.removed.0.1.1", "{\"id\":\"old\"}"), "scale", "old", NULL, NULL },
		{ CDE("dev.cdevents.environment.modified.0.1.1", "{\"id\":\"e1\",\"content\":{\"name\":\"eu\"}}"), "config",
		  "eu", NULL, "e1" },
		{ CDE("dev.cdevents.environment.deleted.0.1.1", "{\"id\":\"e2\"}"), "config", "e2", NULL, "e2" },
		{ CDE("dev.cdevents.pipelinerun.finished.0.1.1", "{\"id\":\"r1\",\"content\":{\"pipelineName\":\"rel\"}}"),
		  "custom", "rel", NULL, NULL },
		{ CDE("dev.cdevents.change.merged.0.1.2", "{\"id\":\"pr\",\"content\":{\"repository\":{\"id\":\"acme/co\"}}}"),
		  "custom", "acme/co", NULL, NULL },
		{ CDE("dev.cdevents.artifact.published.0.1.1", "{\"id\":\"pkg:golang/acme/tool@v1.2.0\"}"), "custom", "tool",
		  "v1.2.0", NULL },
		{ CDE("dev.cdevents.incident.detected.0.1.0",
		      "{\"id\":\"inc-7\",\"content\":{\"service\":{\"id\":\"checkout\"},\"environment\":{\"id\":\"prod\"},"
		      "\"artifactId\":\"pkg:oci/co@v9\"}}"),
		  "incident", "checkout", "v9", "prod" },
		/* the deployment word inside another word is not service.deployed */
		{ CDE("dev.cdevents.service.deployedx", "{\"id\":\"a\"}"), "custom", "a", NULL, NULL },
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		fx_reset(f);
		int rc = events_decode_cloudevent(ok[i].json, strlen(ok[i].json), NULL, NULL, NOW, &f->b, &f->err);
		if (rc)
			fail_msg("case %zu: %s", i, f->err.data);
		const struct change_event *e = &f->b.events[0];
		assert_string_equal(e->kind, ok[i].kind);
		assert_string_equal(e->service, ok[i].service);
		assert_string_equal(e->version ? e->version : "-", ok[i].version ? ok[i].version : "-");
		assert_string_equal(e->environment ? e->environment : "-", ok[i].env ? ok[i].env : "-");
		assert_true(e->time_ns == INT64_C(1796116500000000000));
		assert_string_equal(find_attr(&e->attrs, "context.id")->s, "c");
	}
	static const struct {
		const char *json, *err;
	} bad[] = {
		{ CDE("dev.cdevents.service.deployed", "\"checkout\""), "data.subject is not an object" },
		{ CDE("dev.cdevents.service.deployed", "{\"id\":7}"), "data.subject.id is not a string" },
		{ CDE("dev.cdevents.service.deployed", "{\"id\":\"a\",\"content\":[]}"), "data.subject.content is not" },
		{ CDE("dev.cdevents.service.deployed", "{\"id\":\"a\",\"content\":{\"environment\":{\"id\":1}}}"),
		  "data.subject.content.environment.id is not a string" },
		{ CDE("dev.cdevents.service.deployed", "{\"id\":\"a\",\"content\":{\"artifactId\":\"oci/a@1\"}}"),
		  "data.subject.content.artifactId is not a package URL" },
		{ CDE("dev.cdevents.environment.created", "{\"id\":\"a\",\"content\":{\"name\":{}}}"),
		  "data.subject.content.name is not a string" },
		{ CDE("dev.cdevents.change.merged", "{\"content\":{\"repository\":\"r\"}}"),
		  "data.subject.content.repository is not an object" },
		{ CDE("dev.cdevents.pipelinerun.finished", "{}"), "no service" },
		{ "{\"specversion\":\"1.0\",\"id\":\"x\",\"source\":\"/s\",\"type\":\"dev.cdevents.service.deployed\","
		  "\"data\":{\"context\":{\"timestamp\":\"soon\"},\"subject\":{\"id\":\"a\"}}}",
		  "data.context.timestamp is not RFC 3339" },
		{ "{\"specversion\":\"1.0\",\"id\":\"x\",\"source\":\"/s\",\"type\":\"dev.cdevents.service.deployed\","
		  "\"data\":{\"context\":[],\"subject\":{\"id\":\"a\"}}}",
		  "data.context is not an object" },
	};
#undef CDE
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fx_reset(f);
		int rc = events_decode_cloudevent(bad[i].json, strlen(bad[i].json), NULL, NULL, NOW, &f->b, &f->err);
		if (rc != OODA_EINVAL || !strstr(f->err.data, bad[i].err))
			fail_msg("bad case %zu: rc %d, %s", i, rc, f->err.data ? f->err.data : "");
	}
	/* the CloudEvents time wins over the context's timestamp; ooda's own data fields over the CDEvent's */
	fx_reset(f);
	const char *both = "{\"specversion\":\"1.0\",\"id\":\"x\",\"source\":\"/s\",\"type\":\"dev.cdevents.service.deployed\","
			   "\"time\":\"2026-11-25T10:00:00Z\",\"data\":{\"service\":\"own\",\"version\":\"v1\",\"context\":"
			   "{\"timestamp\":\"2026-12-01T09:15:00Z\"},\"subject\":{\"id\":\"a\",\"content\":"
			   "{\"artifactId\":\"pkg:oci/a@v2\"}}}}";
	assert_int_equal(events_decode_cloudevent(both, strlen(both), NULL, NULL, NOW, &f->b, &f->err), 0);
	assert_string_equal(f->b.events[0].service, "own");
	assert_string_equal(f->b.events[0].version, "v1");
	assert_true(f->b.events[0].time_ns == INT64_C(1795600800000000000));
}

static void test_cloudevents(void **state)
{
	struct fx *f = *state;
	const char *structured =
		"{\"specversion\":\"1.0\",\"id\":\"c1\",\"source\":\"/argo\",\"type\":\"dev.cdevents.service.deployed.0.1.0\","
		"\"time\":\"2026-11-25T10:00:00Z\",\"subject\":\"checkout\",\"data\":{\"version\":\"v9\",\"actor\":\"argo\",\"region\":\"eu\"}}";
	assert_int_equal(events_decode_cloudevent(structured, strlen(structured), NULL, NULL, NOW, &f->b, &f->err), 0);
	assert_int_equal(f->b.n_events, 1);
	const struct change_event *e = &f->b.events[0];
	assert_string_equal(e->kind, "deploy");
	assert_string_equal(e->service, "checkout");
	assert_string_equal(e->version, "v9");
	assert_string_equal(e->id, "c1");
	assert_string_equal(e->source, "/argo");
	assert_string_equal(find_attr(&e->attrs, "region")->s, "eu");

	static const struct {
		const char *json;
		int rc;
		const char *kind, *err;
	} cases[] = {
		{ "[{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\"type\":\"com.x.deployment.rollback\",\"service\":\"a\"},"
		  "{\"specversion\":\"1.0\",\"id\":\"2\",\"source\":\"s\",\"type\":\"com.x.thing\",\"data\":{\"service\":\"b\"}}]",
		  0, "rollback", NULL },
		{ "{\"specversion\":\"0.3\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\",\"subject\":\"a\"}", OODA_EINVAL, NULL,
		  "specversion" },
		{ "{\"specversion\":\"1.0\",\"source\":\"s\",\"type\":\"t\",\"subject\":\"a\"}", OODA_EINVAL, NULL, "id is required" },
		{ "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\"}", OODA_EINVAL, NULL, "no service" },
		{ "{", OODA_EPARSE, NULL, "line 1" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fx_reset(f);
		int rc = events_decode_cloudevent(cases[i].json, strlen(cases[i].json), NULL, NULL, NOW, &f->b, &f->err);
		assert_int_equal(rc, cases[i].rc);
		if (cases[i].kind)
			assert_string_equal(f->b.events[0].kind, cases[i].kind);
		if (cases[i].err)
			assert_non_null(strstr(f->err.data, cases[i].err));
	}
	fx_reset(f);
	assert_int_equal(events_decode_cloudevent(cases[0].json, strlen(cases[0].json), NULL, NULL, NOW, &f->b, &f->err), 0);
	assert_int_equal(f->b.n_events, 2);
	assert_string_equal(f->b.events[1].kind, "custom");
	assert_string_equal(f->b.events[1].service, "b");

	/* binary mode */
	static const char *const kv[][2] = {
		{ "ce-specversion", "1.0" }, { "ce-id", "b1" }, { "ce-source", "/flags" },
		{ "ce-type", "io.ooda.flag.changed" }, { "ce-service", "cart" }, { NULL, NULL },
	};
	struct hdrs h = { kv };
	fx_reset(f);
	const char *data = "{\"description\":\"new-checkout on\",\"actor\":\"ann\"}";
	assert_int_equal(events_decode_cloudevent(data, strlen(data), get_header, &h, NOW, &f->b, &f->err), 0);
	e = &f->b.events[0];
	assert_string_equal(e->kind, "flag");
	assert_string_equal(e->service, "cart");
	assert_string_equal(e->id, "b1");
	assert_string_equal(e->description, "new-checkout on");
	assert_string_equal(e->actor, "ann");
	assert_true(e->time_ns == NOW);
	static const char *const kv2[][2] = { { "ce-specversion", "1.0" }, { "ce-id", "b2" }, { NULL, NULL } };
	struct hdrs h2 = { kv2 };
	fx_reset(f);
	assert_int_equal(events_decode_cloudevent("", 0, get_header, &h2, NOW, &f->b, &f->err), OODA_EINVAL);
	assert_non_null(strstr(f->err.data, "source is required"));
}

/* ---- limits: nesting, memory, over-long attributes ---- */

static void test_limits(void **state)
{
	struct fx *f = *state;
	struct buf b = BUF_INIT;
	/* 100 nested arrays: past the JSON depth limit */
	for (int i = 0; i < 100; i++)
		buf_addch(&b, '[');
	for (int i = 0; i < 100; i++)
		buf_addch(&b, ']');
	assert_int_equal(otlp_decode_logs(b.data, b.len, true, NOW, &f->b, &f->err), OODA_EPARSE);
	assert_non_null(strstr(f->err.data, "deeper than 64"));
	struct buf rep = BUF_INIT;
	fx_reset(f);
	assert_int_equal(ndjson_decode_logs(b.data, b.len, NOW, &f->b, &rep, &f->err), 0);
	assert_int_equal(f->b.rejected, 1);
	buf_release(&rep);

	/* AnyValue arrays nested 100 deep in protobuf */
	struct buf any = BUF_INIT;
	pw_str(&any, 1, "leaf");
	for (int i = 0; i < 100; i++) {
		struct buf arr = BUF_INIT, wrap = BUF_INIT;
		pw_msg(&arr, 1, &any);
		pw_msg(&wrap, 5, &arr);
		any = wrap;
	}
	struct buf lr = BUF_INIT, recs = BUF_INIT, req = BUF_INIT;
	pw_msg(&lr, 5, &any);
	pw_msg(&recs, 2, &lr);
	pw_envelope(&req, &recs, "deep");
	fx_reset(f);
	assert_int_equal(otlp_decode_logs(req.data, req.len, false, NOW, &f->b, &f->err), OODA_EPARSE);
	assert_non_null(strstr(f->err.data, "nested deeper than 64"));
	buf_release(&req);

	/* an attribute value over 64 KiB rejects its record only */
	buf_reset(&b);
	buf_adds(&b, "{\"service\":\"a\",\"big\":\"");
	for (int i = 0; i < 70000; i++)
		buf_addch(&b, 'x');
	buf_adds(&b, "\"}\n{\"service\":\"a\",\"msg\":\"ok\"}\n");
	fx_reset(f);
	assert_int_equal(ndjson_decode_logs(b.data, b.len, NOW, &f->b, NULL, &f->err), 0);
	assert_int_equal(f->b.n_logs, 1);
	assert_int_equal(f->b.rejected, 1);
	assert_non_null(strstr(f->b.reject_msg, "line 1: attribute value longer than 65536"));

	/* the arena's limit turns into OODA_ETOOBIG, not a crash */
	buf_reset(&b);
	for (int i = 0; i < 5000; i++)
		buf_adds(&b, "{\"service\":\"a\",\"msg\":\"some message text\",\"k\":1}\n");
	fx_reset(f);
	f->arena.limit = f->arena.used + 64 * 1024;
	assert_int_equal(ndjson_decode_logs(b.data, b.len, NOW, &f->b, NULL, &f->err), OODA_ETOOBIG);
	assert_non_null(strstr(f->err.data, "memory limit"));
	f->arena.limit = 0;
	buf_release(&b);
}


/* ---- hostile input: over-long values and times outside 1970..2262 ---- */

static void big_string(struct buf *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf_addch(b, 'x');
}

static void test_hostile_values(void **state)
{
	struct fx *f = *state;
	/* protobuf: a 70,000-byte service.name refuses every record of its resource */
	struct buf big = BUF_INIT;
	big_string(&big, 70000);
	buf_addch(&big, '\0');
	struct buf res = BUF_INIT, lr = BUF_INIT, sd = BUF_INIT, rd = BUF_INIT, req = BUF_INIT;
	pw_kv_str(&res, 1, "service.name", big.data);
	for (int i = 0; i < 2; i++) {
		struct buf any = BUF_INIT;
		pw_str(&any, 1, "hello"); /* body: AnyValue { string_value } */
		pw_msg(&lr, 5, &any);
		pw_msg(&sd, 2, &lr);
	}
	pw_msg(&rd, 1, &res);
	pw_msg(&rd, 2, &sd);
	pw_msg(&req, 1, &rd);
	/* a second resource, well-formed, is kept */
	struct buf ok = BUF_INIT;
	{
		struct buf l = BUF_INIT, recs = BUF_INIT;
		pw_fixed64(&l, 1, 1000);
		pw_msg(&recs, 2, &l);
		pw_envelope(&ok, &recs, "fine");
	}
	buf_add(&req, ok.data, ok.len);
	buf_release(&ok);
	fx_reset(f);
	assert_int_equal(otlp_decode_logs(req.data, req.len, false, NOW, &f->b, &f->err), 0);
	assert_int_equal(f->b.n_logs, 1);
	assert_string_equal(f->b.logs[0].resource->service, "fine");
	assert_int_equal(f->b.rejected, 2);
	assert_non_null(strstr(f->b.reject_msg, "resource attribute service.name: value of 70000 bytes"));
	buf_release(&req);

	/* protobuf: an over-long record attribute refuses that record; the value is never a short lie */
	{
		struct buf l = BUF_INIT, recs = BUF_INIT;
		pw_kv_str(&l, 6, "big", big.data);
		pw_msg(&recs, 2, &l);
		pw_fixed64(&l, 1, 1000);
		pw_msg(&recs, 2, &l);
		pw_envelope(&req, &recs, "svc");
	}
	fx_reset(f);
	assert_int_equal(otlp_decode_logs(req.data, req.len, false, NOW, &f->b, &f->err), 0);
	assert_int_equal(f->b.n_logs, 1);
	assert_int_equal(f->b.rejected, 1);
	assert_non_null(strstr(f->b.reject_msg, "log record 0: attribute big: value of 70000 bytes"));
	buf_release(&req);

	/* OTLP/JSON: the same resource attribute, and an over-long bytesValue once decoded */
	struct buf j = BUF_INIT;
	buf_adds(&j, "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":\"");
	buf_add(&j, big.data, 70000);
	buf_adds(&j, "\"}}]},\"scopeSpans\":[{\"spans\":[{\"traceId\":\"0102030405060708090a0b0c0d0e0f10\","
		     "\"spanId\":\"0102030405060708\",\"startTimeUnixNano\":5,\"endTimeUnixNano\":9}]}]}]}");
	fx_reset(f);
	assert_int_equal(otlp_decode_traces(j.data, j.len, true, NOW, &f->b, &f->err), 0);
	assert_int_equal(f->b.n_spans, 0);
	assert_int_equal(f->b.rejected, 1);
	assert_non_null(strstr(f->b.reject_msg, "resource attribute service.name: value of 70000 bytes"));
	buf_reset(&j);
	buf_adds(&j, "{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"attributes\":[{\"key\":\"raw\",\"value\":{\"bytesValue\":\"");
	for (int i = 0; i < 90000; i++)
		buf_addch(&j, 'A');
	buf_adds(&j, "\"}}]},{\"body\":{\"stringValue\":\"ok\"}}]}]}]}");
	fx_reset(f);
	assert_int_equal(otlp_decode_logs(j.data, j.len, true, NOW, &f->b, &f->err), 0);
	assert_int_equal(f->b.n_logs, 1);
	assert_int_equal(f->b.rejected, 1);
	assert_non_null(strstr(f->b.reject_msg, "attribute raw: value of 67500 bytes"));
	buf_release(&j);

	/* NDJSON: an over-long service name or body refuses its line */
	buf_reset(&j);
	buf_adds(&j, "{\"service\":\"");
	buf_add(&j, big.data, 70000);
	buf_adds(&j, "\",\"msg\":\"a\"}\n{\"service\":\"s\",\"msg\":\"");
	buf_add(&j, big.data, 70000);
	buf_adds(&j, "\"}\n{\"service\":\"s\",\"msg\":\"kept\"}\n");
	fx_reset(f);
	struct buf rep = BUF_INIT;
	assert_int_equal(ndjson_decode_logs(j.data, j.len, NOW, &f->b, &rep, &f->err), 0);
	assert_int_equal(f->b.n_logs, 1);
	assert_string_equal(f->b.logs[0].body, "kept");
	assert_int_equal(f->b.rejected, 2);
	assert_non_null(strstr(rep.data, "{\"line\":1,\"error\":\"service longer than 65536 bytes\"}"));
	assert_non_null(strstr(rep.data, "{\"line\":2,\"error\":\"body longer than 65536 bytes\"}"));
	buf_release(&rep);
	buf_release(&j);
	buf_release(&big);
}

static void test_hostile_times(void **state)
{
	struct fx *f = *state;
	/* protobuf: a log time of 2^63 and a span from 2^64-1 to 0 are refused, naming the field */
	struct buf l = BUF_INIT, recs = BUF_INIT, req = BUF_INIT;
	pw_fixed64(&l, 1, UINT64_C(1) << 63);
	pw_msg(&recs, 2, &l);
	pw_fixed64(&l, 1, 0); /* 0 is "unset": the observed time stands in */
	pw_msg(&recs, 2, &l);
	pw_envelope(&req, &recs, "svc");
	fx_reset(f);
	assert_int_equal(otlp_decode_logs(req.data, req.len, false, NOW, &f->b, &f->err), 0);
	assert_int_equal(f->b.n_logs, 1);
	assert_true(f->b.logs[0].time_ns == NOW);
	assert_int_equal(f->b.rejected, 1);
	assert_non_null(strstr(f->b.reject_msg, "log record 0: time_unix_nano 9223372036854775808 is past 2262"));
	buf_release(&req);

	static const uint8_t tid[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
	static const uint8_t sid[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct buf sp = BUF_INIT;
	pw_bytes(&sp, 1, tid, 16);
	pw_bytes(&sp, 2, sid, 8);
	pw_fixed64(&sp, 7, UINT64_MAX);
	pw_fixed64(&sp, 8, 0);
	pw_msg(&recs, 2, &sp);
	pw_envelope(&req, &recs, "svc");
	fx_reset(f);
	assert_int_equal(otlp_decode_traces(req.data, req.len, false, NOW, &f->b, &f->err), 0);
	assert_int_equal(f->b.n_spans, 0);
	assert_int_equal(f->b.rejected, 1);
	assert_non_null(strstr(f->b.reject_msg, "start_time_unix_nano 18446744073709551615"));
	buf_release(&req);

	/* OTLP/JSON: -2^63-1 as a span start and as a metric point start */
	static const struct {
		int sig; /* 1 traces, 2 metrics, 0 logs */
		const char *json;
		const char *msg;
	} js[] = {
		{ 1, "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"0102030405060708090a0b0c0d0e0f10\","
		     "\"spanId\":\"0102030405060708\",\"startTimeUnixNano\":-9223372036854775809,\"endTimeUnixNano\":9}]}]}]}",
		  "startTimeUnixNano -9223372036854775809 is not a time" },
		{ 1, "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"0102030405060708090a0b0c0d0e0f10\","
		     "\"spanId\":\"0102030405060708\",\"startTimeUnixNano\":\"5\",\"endTimeUnixNano\":\"18446744073709551615\"}]}]}]}",
		  "endTimeUnixNano 18446744073709551615 is not a time" },
		{ 2, "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"name\":\"m\",\"gauge\":{\"dataPoints\":"
		     "[{\"startTimeUnixNano\":\"-9223372036854775809\",\"timeUnixNano\":\"5\",\"asInt\":1}]}}]}]}]}",
		  "startTimeUnixNano -9223372036854775809 is not a time" },
		{ 0, "{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"timeUnixNano\":\"9223372036854775808\"}]}]}]}",
		  "timeUnixNano 9223372036854775808 is not a time" },
		{ 1, "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"0102030405060708090a0b0c0d0e0f10\","
		     "\"spanId\":\"0102030405060708\",\"startTimeUnixNano\":5,\"endTimeUnixNano\":9,"
		     "\"events\":[{\"timeUnixNano\":-1,\"name\":\"e\"}]}]}]}]}",
		  "event timeUnixNano -1 is not a time" },
	};
	for (size_t i = 0; i < sizeof(js) / sizeof(js[0]); i++) {
		fx_reset(f);
		size_t n = strlen(js[i].json);
		int rc = js[i].sig == 1 ? otlp_decode_traces(js[i].json, n, true, NOW, &f->b, &f->err) :
			 js[i].sig == 2 ? otlp_decode_metrics(js[i].json, n, true, NOW, &f->b, &f->err) :
					  otlp_decode_logs(js[i].json, n, true, NOW, &f->b, &f->err);
		assert_int_equal(rc, 0);
		assert_int_equal(f->b.n_spans + f->b.n_points + f->b.n_logs, 0);
		assert_int_equal(f->b.rejected, 1);
		assert_non_null(strstr(f->b.reject_msg, js[i].msg));
	}

	/* remote-write: a sample time that overflows as ns, or before 1970, refuses the sample */
	struct buf ser = BUF_INIT, lab = BUF_INIT, smp = BUF_INIT, wr = BUF_INIT;
	pw_str(&lab, 1, "__name__");
	pw_str(&lab, 2, "up");
	pw_msg(&ser, 1, &lab);
	static const int64_t ts[] = { INT64_MAX / 1000, -1, 1795600800000 };
	for (int i = 0; i < 3; i++) {
		pw_double(&smp, 1, 1.0);
		pw_vint(&smp, 2, (uint64_t)ts[i]);
		pw_msg(&ser, 2, &smp);
	}
	pw_msg(&wr, 1, &ser);
	size_t clen = snappy_max_compressed_length(wr.len);
	char *comp = malloc(clen);
	assert_int_equal(snappy_compress(wr.data, wr.len, comp, &clen), SNAPPY_OK);
	fx_reset(f);
	assert_int_equal(remote_write_decode(comp, clen, &f->b, &f->err), 0);
	assert_int_equal(f->b.n_points, 1);
	assert_true(f->b.points[0].time_ns == INT64_C(1795600800000000000));
	assert_int_equal(f->b.rejected, 2);
	assert_non_null(strstr(f->b.reject_msg, "sample timestamp 9223372036854775 ms is outside 1970 to 2262"));
	free(comp);
	buf_release(&wr);

	/* NDJSON: times outside 1970..2262 refuse their line, never wrap */
	const char *nd = "{\"time\":-9223372036854775809,\"msg\":\"a\"}\n"
			 "{\"time\":\"0001-01-01T00:00:00Z\",\"msg\":\"b\"}\n"
			 "{\"time\":\"9999-12-31T23:59:59Z\",\"msg\":\"c\"}\n"
			 "{\"time\":\"2262-04-11T23:47:16Z\",\"msg\":\"d\"}\n";
	struct buf rep = BUF_INIT;
	fx_reset(f);
	assert_int_equal(ndjson_decode_logs(nd, strlen(nd), NOW, &f->b, &rep, &f->err), 0);
	assert_int_equal(f->b.n_logs, 1);
	assert_true(f->b.logs[0].time_ns == INT64_C(9223372036000000000));
	assert_int_equal(f->b.rejected, 3);
	assert_non_null(strstr(rep.data, "{\"line\":3,\"error\":\"time is not RFC 3339 or a unix timestamp from 1970 to 2262\"}"));
	buf_release(&rep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_otlp_json_samples, setup, teardown),
		cmocka_unit_test_setup_teardown(test_otlp_proto_sample, setup, teardown),
		cmocka_unit_test_setup_teardown(test_otlp_proto_logs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_otlp_proto_metrics, setup, teardown),
		cmocka_unit_test_setup_teardown(test_otlp_partial_spans, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remote_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ndjson, setup, teardown),
		cmocka_unit_test_setup_teardown(test_events_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cloudevents, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cdevents, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_times, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
