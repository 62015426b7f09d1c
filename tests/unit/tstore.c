/* Unit tests for the telemetry block encoding and the block store. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_getFrameHeader */
#include <xxhash.h>
#include <zstd.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/hex.h"
#include "core/time.h"
#include "store/tblock.h"
#include "store/tstore.h"
#include "query/search.h"
#include "mixed_logs.h"

static struct resource res_checkout = { .service = "checkout", .service_version = "1.4.2",
					.environment = "prod" };
static struct resource res_cart = { .service = "cart" };

static void make_logs(struct arena *a, struct telemetry_batch *b, size_t n, int64_t t0)
{
	memset(b, 0, sizeof(*b));
	b->arena = a;
	b->logs = arena_zalloc(a, n * sizeof(struct log_record));
	b->n_logs = n;
	for (size_t i = 0; i < n; i++) {
		struct log_record *r = &b->logs[i];
		r->time_ns = t0 + (int64_t)i * 1000000;
		r->observed_ns = r->time_ns + 5;
		r->severity = i % 10 == 0 ? 17 : 9;
		r->severity_text = i % 10 == 0 ? "ERROR" : "INFO";
		r->body = arena_printf(a, "request %zu done: %s", i, i % 10 == 0 ? "connection refused" : "ok");
		r->body_len = (uint32_t)strlen(r->body);
		r->resource = i % 2 ? &res_cart : &res_checkout;
		if (i % 3 == 0) {
			r->has_trace_id = true;
			r->trace_id[0] = (uint8_t)i;
			r->trace_id[15] = 0xab;
		}
		r->attrs.n = 2;
		r->attrs.v = arena_zalloc(a, 2 * sizeof(struct attr));
		r->attrs.v[0] = (struct attr){ .key = "user.id", .type = ATTR_INT, .i = (int64_t)i };
		r->attrs.v[1] = (struct attr){ .key = "path", .type = ATTR_STR, .s = "/cart", .len = 5 };
	}
}

static void test_block_roundtrip(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a, 0);
	struct telemetry_batch b;
	make_logs(&a, &b, 100, 1700000000000000000);
	/* one service only, as the store would group them */
	for (size_t i = 0; i < b.n_logs; i++)
		b.logs[i].resource = &res_checkout;
	struct tblock blk;
	struct buf err = BUF_INIT;
	assert_int_equal(tblock_encode(SIGNAL_LOGS, "checkout", b.logs, b.n_logs, 3, &blk, &err), 0);
	assert_int_equal(blk.n, 100);
	assert_int_equal(blk.tmin, 1700000000000000000);
	assert_int_equal(blk.tmax, 1700000000000000000 + 99 * 1000000);
	assert_int_equal(blk.min_sev, 9);
	assert_int_equal(blk.max_sev, 17);
	assert_true(blk.data_len < blk.raw_len);

	struct arena d;
	arena_init(&d, 0);
	struct telemetry_batch out = { 0 };
	assert_int_equal(tblock_decode(SIGNAL_LOGS, blk.data, blk.data_len, &d, &out, &err), 0);
	assert_int_equal(out.n_logs, 100);
	for (size_t i = 0; i < 100; i++) {
		assert_int_equal(out.logs[i].time_ns, b.logs[i].time_ns);
		assert_int_equal(out.logs[i].observed_ns, b.logs[i].observed_ns);
		assert_string_equal(out.logs[i].body, b.logs[i].body);
		assert_string_equal(out.logs[i].severity_text, b.logs[i].severity_text);
		assert_int_equal(out.logs[i].has_trace_id, b.logs[i].has_trace_id);
		assert_memory_equal(out.logs[i].trace_id, b.logs[i].trace_id, 16);
		assert_string_equal(out.logs[i].resource->service, "checkout");
		assert_string_equal(out.logs[i].resource->service_version, "1.4.2");
		assert_int_equal(out.logs[i].attrs.n, 2);
		assert_int_equal(out.logs[i].attrs.v[0].i, (int64_t)i);
		assert_string_equal(out.logs[i].attrs.v[1].s, "/cart");
	}
	/* same resource shared, not repeated */
	assert_ptr_equal(out.logs[0].resource, out.logs[99].resource);

	/* a reader may leave out bodies and attributes; everything else is intact */
	struct telemetry_batch lean = { 0 };
	assert_int_equal(tblock_decode_some(SIGNAL_LOGS, blk.data, blk.data_len, TBLOCK_SKIP_BODY | TBLOCK_SKIP_ATTRS, &d,
					    &lean, &err), 0);
	assert_int_equal(lean.n_logs, 100);
	for (size_t i = 0; i < 100; i++) {
		assert_null(lean.logs[i].body);
		assert_int_equal(lean.logs[i].attrs.n, 0);
		assert_int_equal(lean.logs[i].time_ns, b.logs[i].time_ns);
		assert_int_equal(lean.logs[i].severity, b.logs[i].severity);
		assert_memory_equal(lean.logs[i].trace_id, b.logs[i].trace_id, 16);
		assert_string_equal(lean.logs[i].resource->service, "checkout");
	}

	/* bloom: words and trace ids present, others absent */
	uint64_t yes[2] = { tblock_token_hash("refused", 7), tblock_token_hash("connection", 10) };
	uint64_t no[1] = { tblock_token_hash("nonexistentword", 15) };
	assert_true(tblock_bloom_has_all(blk.bloom, blk.bloom_len, yes, 2));
	assert_false(tblock_bloom_has_all(blk.bloom, blk.bloom_len, no, 1));
	char hex[33];
	hex_encode(b.logs[3].trace_id, 16, hex);
	uint64_t th = tblock_token_hash(hex, 32);
	assert_true(tblock_bloom_has_all(blk.bloom, blk.bloom_len, &th, 1));

	/* damaged data: an error, never a crash */
	for (size_t cut = 0; cut < blk.data_len; cut += 7) {
		arena_reset(&d);
		struct telemetry_batch bad = { 0 };
		buf_reset(&err);
		assert_int_equal(tblock_decode(SIGNAL_LOGS, blk.data, cut, &d, &bad, &err), OODA_ECORRUPT);
	}
	tblock_release(&blk);
	buf_release(&err);
	arena_release(&a);
	arena_release(&d);
}

static void test_span_and_metric_roundtrip(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a, 0);
	struct span s[2] = { 0 };
	s[0].trace_id[0] = 1;
	s[0].span_id[0] = 2;
	s[0].name = "GET /cart";
	s[0].kind = SPAN_SERVER;
	s[0].start_ns = 1000;
	s[0].end_ns = 5000;
	s[0].status = STATUS_ERROR;
	s[0].status_message = "boom";
	s[0].resource = &res_cart;
	struct span_event ev = { .time_ns = 2000, .name = "exception" };
	s[0].events = &ev;
	s[0].n_events = 1;
	s[1] = s[0];
	s[1].has_parent = true;
	s[1].parent_span_id[0] = 2;
	s[1].span_id[0] = 3;
	s[1].n_events = 0;
	s[1].events = NULL;
	struct tblock blk;
	struct buf err = BUF_INIT;
	assert_int_equal(tblock_encode(SIGNAL_SPANS, "cart", s, 2, 3, &blk, &err), 0);
	struct telemetry_batch out = { 0 };
	assert_int_equal(tblock_decode(SIGNAL_SPANS, blk.data, blk.data_len, &a, &out, &err), 0);
	assert_int_equal(out.n_spans, 2);
	assert_string_equal(out.spans[0].name, "GET /cart");
	assert_int_equal(out.spans[0].end_ns, 5000);
	assert_int_equal(out.spans[0].n_events, 1);
	assert_string_equal(out.spans[0].events[0].name, "exception");
	assert_int_equal(out.spans[0].events[0].time_ns, 2000);
	assert_true(out.spans[1].has_parent);
	assert_int_equal(out.spans[1].parent_span_id[0], 2);
	assert_string_equal(out.spans[0].status_message, "boom");
	tblock_release(&blk);

	double bounds[2] = { 0.1, 1 };
	uint64_t counts[3] = { 4, 5, 6 };
	struct attr lbl = { .key = "route", .type = ATTR_STR, .s = "/x", .len = 2 };
	struct metric_point p[2] = { { .name = "http.server.duration", .type = METRIC_HISTOGRAM, .time_ns = 10,
				       .resource = &res_cart, .count = 15, .sum = 3.5, .has_sum = true,
				       .n_bounds = 2, .bounds = bounds, .bucket_counts = counts,
				       .attrs = { &lbl, 1 } },
				     { .name = "queue_depth", .type = METRIC_GAUGE, .time_ns = 20, .value = 7.25,
				       .resource = &res_cart, .unit = "1", .prom_native = true } };
	p[0].unit = "s";
	assert_int_equal(tblock_encode(SIGNAL_METRICS, "cart", p, 2, 3, &blk, &err), 0);
	/* the bloom holds the stored name and, for an OTLP metric, its Prometheus names */
	static const char *const in_bloom[] = { "http_server_duration", "http_server_duration_seconds",
						"http.server.duration_seconds", "queue_depth" };
	for (size_t i = 0; i < 4; i++) {
		uint64_t h = XXH3_64bits_withSeed(in_bloom[i], strlen(in_bloom[i]), 0x6d6574726963ULL);
		if (!tblock_bloom_has_all(blk.bloom, blk.bloom_len, &h, 1))
			fail_msg("%s is not in the bloom", in_bloom[i]);
	}
	uint64_t ratio = XXH3_64bits_withSeed("queue_depth_ratio", 17, 0x6d6574726963ULL);
	assert_false(tblock_bloom_has_all(blk.bloom, blk.bloom_len, &ratio, 1)); /* a Prometheus name already */
	memset(&out, 0, sizeof(out));
	assert_int_equal(tblock_decode(SIGNAL_METRICS, blk.data, blk.data_len, &a, &out, &err), 0);
	assert_int_equal(out.n_points, 2);
	assert_int_equal(out.points[0].count, 15);
	assert_int_equal(out.points[0].n_bounds, 2);
	assert_true(out.points[0].bounds[1] == 1.0);
	assert_int_equal(out.points[0].bucket_counts[2], 6);
	assert_string_equal(out.points[0].attrs.v[0].s, "/x");
	assert_true(out.points[1].value == 7.25);
	assert_false(out.points[0].prom_native);
	assert_true(out.points[1].prom_native);
	tblock_release(&blk);
	buf_release(&err);
	arena_release(&a);
}

static void assert_same_str(const char *a, const char *b)
{
	if (!a || !b)
		assert_ptr_equal(a, b);
	else
		assert_string_equal(a, b);
}

/* Decoded records equal the ones encoded, field by field. */
static void assert_same_logs(const struct log_record *got, const struct log_record *want, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct log_record *g = &got[i], *w = &want[i];
		assert_int_equal(g->time_ns, w->time_ns);
		assert_int_equal(g->observed_ns, w->observed_ns);
		assert_int_equal(g->severity, w->severity);
		assert_same_str(g->severity_text, w->severity_text);
		assert_same_str(g->scope_name, w->scope_name);
		assert_int_equal(g->body_len, w->body_len);
		assert_memory_equal(g->body, w->body, w->body_len);
		assert_int_equal(g->has_trace_id, w->has_trace_id);
		assert_memory_equal(g->trace_id, w->trace_id, 16);
		assert_string_equal(g->resource->service, w->resource->service);
		assert_same_str(g->resource->host, w->resource->host);
		assert_same_str(g->resource->service_version, w->resource->service_version);
		assert_int_equal(g->resource->attrs.n, w->resource->attrs.n);
		assert_int_equal(g->attrs.n, w->attrs.n);
		for (uint32_t k = 0; k < w->attrs.n; k++) {
			assert_string_equal(g->attrs.v[k].key, w->attrs.v[k].key);
			assert_int_equal(g->attrs.v[k].type, w->attrs.v[k].type);
			if (w->attrs.v[k].type == ATTR_INT)
				assert_int_equal(g->attrs.v[k].i, w->attrs.v[k].i);
			else
				assert_string_equal(g->attrs.v[k].s, w->attrs.v[k].s);
		}
	}
}

static const char *first_attr(const struct log_record *r, const char *key)
{
	for (uint32_t k = 0; k < r->attrs.n; k++)
		if (!strcmp(r->attrs.v[k].key, key))
			return r->attrs.v[k].s;
	return NULL;
}

static void test_block_formats(void **state)
{
	(void)state;
	struct arena a, d;
	arena_init(&a, 0);
	arena_init(&d, 0);
	struct buf err = BUF_INIT;
	struct telemetry_batch b, out = { 0 };
	make_mixed(&a, &b, 40, MIXED_T0, true);

	/* a block written by earlier versions (OTB1) still reads back whole */
	assert_int_equal(tblock_decode(SIGNAL_LOGS, otb1_mixed, sizeof(otb1_mixed), &d, &out, &err), 0);
	assert_int_equal(out.n_logs, 40);
	assert_same_logs(out.logs, b.logs, 40);

	/* small blocks are still written as OTB1 (one frame) ... */
	struct tblock blk;
	assert_int_equal(tblock_encode(SIGNAL_LOGS, "shop", b.logs, b.n_logs, 3, &blk, &err), 0);
	/* the fixture's frame, now with a content checksum (4 bytes) so damage cannot decode */
	assert_int_equal(blk.data_len, sizeof(otb1_mixed) + 4);
	ZSTD_frameHeader fh;
	assert_int_equal(ZSTD_getFrameHeader(&fh, blk.data, blk.data_len), 0);
	assert_true(fh.checksumFlag);
	memset(&out, 0, sizeof(out));
	assert_int_equal(tblock_decode(SIGNAL_LOGS, blk.data, blk.data_len, &d, &out, &err), 0);
	assert_same_logs(out.logs, b.logs, 40);
	tblock_release(&blk);

	/* ... larger ones as OTB2: one frame per column */
	struct telemetry_batch big;
	make_mixed(&a, &big, TBLOCK_FRAMES_MIN, MIXED_T0, true);
	assert_int_equal(tblock_encode(SIGNAL_LOGS, "shop", big.logs, big.n_logs, 3, &blk, &err), 0);
	assert_memory_equal(blk.data, "OTB2", 4);
	memset(&out, 0, sizeof(out));
	assert_int_equal(tblock_decode(SIGNAL_LOGS, blk.data, blk.data_len, &d, &out, &err), 0);
	assert_int_equal(out.n_logs, TBLOCK_FRAMES_MIN);
	assert_same_logs(out.logs, big.logs, TBLOCK_FRAMES_MIN);

	/* counting columns: numbers and long strings under a key are left to a full decode */
	struct tblock_logcols lc;
	const char *keys[4] = { "http.route", NULL, "user_id", "http.route" };
	assert_int_equal(tblock_logcols_decode(otb1_mixed, sizeof(otb1_mixed), keys, 4, &d, &lc, &err), 1);
	assert_int_equal(tblock_logcols_decode(blk.data, blk.data_len, keys, 4, &d, &lc, &err), 1);
	const char *user_only[1] = { "user_id" };
	assert_int_equal(tblock_logcols_decode(otb1_mixed, sizeof(otb1_mixed), user_only, 1, &d, &lc, &err), 0);
	assert_int_equal(lc.n, 40);
	for (uint32_t i = 0; i < 40; i++)
		assert_string_equal(tblock_logcols_str(&lc, lc.values[0][i]), first_attr(&b.logs[i], "user_id"));
	tblock_release(&blk);

	/* ... and everything else is counted per dictionary id, resource and severity */
	arena_reset(&a);
	make_mixed(&a, &b, 1500, MIXED_T0, false);
	assert_int_equal(tblock_encode(SIGNAL_LOGS, "shop", b.logs, b.n_logs, 3, &blk, &err), 0);
	assert_memory_equal(blk.data, "OTB2", 4);
	assert_int_equal(tblock_logcols_decode(blk.data, blk.data_len, keys, 4, &d, &lc, &err), 0);
	assert_int_equal(lc.n, 1500);
	assert_int_equal(lc.n_resources, 3);
	assert_null(lc.values[1]);
	for (uint32_t i = 0; i < 1500; i++) {
		const struct log_record *r = &b.logs[i];
		assert_int_equal(lc.time[i], r->time_ns);
		assert_int_equal(lc.severity[i], r->severity);
		assert_string_equal(lc.resources[lc.res[i]]->service, r->resource->service);
		assert_same_str(lc.resources[lc.res[i]]->host, r->resource->host);
		const char *route = first_attr(r, "http.route");
		if (route)
			assert_string_equal(tblock_logcols_str(&lc, lc.values[0][i]), route);
		else
			assert_int_equal(lc.values[0][i], 0);
		assert_int_equal(lc.values[3][i], lc.values[0][i]);
		assert_string_equal(tblock_logcols_str(&lc, lc.values[2][i]), first_attr(r, "user_id"));
	}
	/* damaged: an error, never a crash */
	for (size_t cut = 0; cut < blk.data_len; cut += 97) {
		buf_reset(&err);
		int rc = tblock_logcols_decode(blk.data, cut, keys, 4, &d, &lc, &err);
		assert_true(rc == OODA_ECORRUPT && err.len);
	}
	tblock_release(&blk);
	buf_release(&err);
	arena_release(&a);
	arena_release(&d);
}

struct collect {
	size_t logs;
	size_t matches;
	const char *word;
};

static int count_cb(void *ctx, const struct telemetry_batch *b, int64_t tmin, int64_t tmax)
{
	(void)tmin;
	(void)tmax;
	struct collect *c = ctx;
	c->logs += b->n_logs;
	for (size_t i = 0; i < b->n_logs; i++)
		if (c->word && strstr(b->logs[i].body, c->word))
			c->matches++;
	return 0;
}

static char *tmpdir(void)
{
	char *d = strdup("/tmp/ooda-tstore-XXXXXX");
	assert_non_null(mkdtemp(d));
	return d;
}

static void rmrf(const char *d)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
	assert_int_equal(system(cmd), 0);
}

static void test_store_append_scan_compact_retain(void **state)
{
	(void)state;
	char *dir = tmpdir();
	struct buf err = BUF_INIT;
	struct tstore *t;
	struct tstore_options opt = { 0 };
	assert_int_equal(tstore_open(dir, &opt, &t, &err), 0);
	struct arena a;
	arena_init(&a, 0);
	int64_t t0 = 1700000000000000000;
	for (int k = 0; k < 6; k++) {
		struct telemetry_batch b;
		arena_reset(&a);
		make_logs(&a, &b, 50, t0 + (int64_t)k * 1000000000);
		assert_int_equal(tstore_append(t, &b, &err), 0);
	}
	struct tstore_stats st;
	tstore_stats(t, &st);
	assert_int_equal(st.records[SIGNAL_LOGS], 300);
	assert_int_equal(st.blocks[SIGNAL_LOGS], 12); /* 6 batches x 2 services */

	struct collect c = { .word = "refused" };
	struct tstore_scan q = { .signal = SIGNAL_LOGS };
	assert_int_equal(tstore_scan(t, &q, count_cb, &c, &err), 0);
	assert_int_equal(c.logs, 300);
	assert_int_equal(c.matches, 30);

	/* service restriction and bloom skipping */
	const char *svc[] = { "cart" };
	uint64_t tok = tblock_token_hash("nonexistentword", 15);
	memset(&c, 0, sizeof(c));
	q.services = svc;
	q.n_services = 1;
	assert_int_equal(tstore_scan(t, &q, count_cb, &c, &err), 0);
	assert_int_equal(c.logs, 150);
	memset(&c, 0, sizeof(c));
	q.tokens = &tok;
	q.n_tokens = 1;
	assert_int_equal(tstore_scan(t, &q, count_cb, &c, &err), 0);
	assert_int_equal(c.logs, 0);
	/* any one token: each block that holds one is read once, not once per token */
	uint64_t either[3] = { tok, tblock_token_hash("done", 4), tblock_token_hash("request", 7) };
	memset(&c, 0, sizeof(c));
	q.tokens = either;
	q.n_tokens = 3;
	assert_int_equal(tstore_scan(t, &q, count_cb, &c, &err), 0);
	assert_int_equal(c.logs, 0); /* all three: none has the first */
	memset(&c, 0, sizeof(c));
	q.any_token = true;
	assert_int_equal(tstore_scan(t, &q, count_cb, &c, &err), 0);
	assert_int_equal(c.logs, 150);
	q.any_token = false;

	/* compaction merges the small blocks and keeps every record */
	assert_true(tstore_maintain(t, t0, &err) > 0);
	tstore_stats(t, &st);
	assert_int_equal(st.records[SIGNAL_LOGS], 300);
	assert_int_equal(st.blocks[SIGNAL_LOGS], 2);
	memset(&c, 0, sizeof(c));
	c.word = "refused";
	struct tstore_scan all = { .signal = SIGNAL_LOGS };
	assert_int_equal(tstore_scan(t, &all, count_cb, &c, &err), 0);
	assert_int_equal(c.logs, 300);
	assert_int_equal(c.matches, 30);
	tstore_close(t);

	/* reopen: data survives; retention by age drops everything older */
	opt.retention_age_ns = 3600 * (int64_t)1000000000;
	assert_int_equal(tstore_open(dir, &opt, &t, &err), 0);
	tstore_stats(t, &st);
	assert_int_equal(st.records[SIGNAL_LOGS], 300);
	assert_true(tstore_maintain(t, t0 + 7200 * (int64_t)1000000000, &err) > 0);
	tstore_stats(t, &st);
	assert_int_equal(st.records[SIGNAL_LOGS], 0);
	tstore_close(t);

	/* retention by size keeps the newest */
	opt.retention_age_ns = 0;
	opt.retention_bytes = 1;
	assert_int_equal(tstore_open(dir, &opt, &t, &err), 0);
	for (int k = 0; k < 3; k++) {
		struct telemetry_batch b;
		arena_reset(&a);
		make_logs(&a, &b, 20, t0 + (int64_t)k * 1000000000);
		assert_int_equal(tstore_append(t, &b, &err), 0);
	}
	tstore_maintain(t, t0, &err);
	tstore_stats(t, &st);
	assert_int_equal(st.blocks[SIGNAL_LOGS], 0);
	tstore_close(t);

	arena_release(&a);
	buf_release(&err);
	rmrf(dir);
	free(dir);
}

static void test_store_events(void **state)
{
	(void)state;
	char *dir = tmpdir();
	struct buf err = BUF_INIT, out = BUF_INIT;
	struct tstore *t;
	struct tstore_options opt = { 0 };
	assert_int_equal(tstore_open(dir, &opt, &t, &err), 0);
	struct change_event ev[2] = {
		{ .id = "d1", .kind = "deploy", .service = "checkout", .version = "1.4.2", .time_ns = 100,
		  .actor = "alice" },
		{ .kind = "flag", .service = "cart", .time_ns = 200, .description = "new \"banner\"" },
	};
	struct telemetry_batch b = { .events = ev, .n_events = 2 };
	assert_int_equal(tstore_append(t, &b, &err), 0);
	assert_int_equal(tstore_append(t, &b, &err), 0); /* d1 again: kept once */
	struct tstore_event_filter f = { .service = "checkout" };
	assert_int_equal(tstore_events_json(t, &f, &out, &err), 0);
	assert_non_null(strstr(out.data, "\"id\":\"d1\""));
	assert_non_null(strstr(out.data, "\"actor\":\"alice\""));
	assert_null(strstr(out.data, "banner"));
	struct tstore_stats st;
	tstore_stats(t, &st);
	assert_int_equal(st.events, 3);
	tstore_close(t);
	buf_release(&err);
	buf_release(&out);
	rmrf(dir);
	free(dir);
}

/*
 * search_trace builds the tree: roots (no parent, or a parent the trace
 * lacks) in start order, children by start time under their parent, a
 * cycle emitted flat at the end; a wide trace keeps every span.
 */
static void add_span(struct span *v, size_t *n, const char *name, uint8_t id, uint8_t parent, int64_t start)
{
	struct span *s = &v[(*n)++];
	memset(s, 0, sizeof(*s));
	s->trace_id[0] = 0xab;
	s->span_id[7] = id;
	s->span_id[6] = (uint8_t)(*n >> 8); /* distinct ids for the wide trace */
	if (parent) {
		s->has_parent = true;
		s->parent_span_id[7] = parent;
	}
	s->name = name;
	s->kind = SPAN_SERVER;
	s->start_ns = 1700000000000000000 + start;
	s->end_ns = s->start_ns + 10;
	s->resource = &res_cart;
}

static void test_trace_tree(void **state)
{
	(void)state;
	char *dir = tmpdir();
	struct buf err = BUF_INIT, out = BUF_INIT;
	struct tstore *t;
	struct tstore_options opt = { 0 };
	assert_int_equal(tstore_open(dir, &opt, &t, &err), 0);
	struct span v[8];
	size_t n = 0;
	add_span(v, &n, "R", 1, 0, 100);
	add_span(v, &n, "A", 2, 1, 200);
	add_span(v, &n, "B", 3, 1, 150);
	add_span(v, &n, "C", 4, 2, 250);
	add_span(v, &n, "O", 5, 99, 120);
	add_span(v, &n, "X", 6, 7, 300);
	add_span(v, &n, "Y", 7, 6, 310);
	for (size_t i = 0; i < n; i++)
		v[i].span_id[6] = 0;
	struct telemetry_batch b = { .spans = v, .n_spans = n };
	assert_int_equal(tstore_append(t, &b, &err), 0);
	assert_int_equal(search_trace(t, "ab000000000000000000000000000000", &out, &err), 0);
	static const char *const want[] = { "R", "0", "B", "1", "A", "1", "C", "2", "O", "0", "X", "0", "Y", "1" };
	const char *p = out.data;
	for (size_t k = 0; k < 7; k++) {
		char name[32], depth[32];
		snprintf(name, sizeof(name), "\"name\":\"%s\"", want[2 * k]);
		snprintf(depth, sizeof(depth), "\"depth\":%s", want[2 * k + 1]);
		const char *at = strstr(p, name);
		if (!at)
			fail_msg("span %s missing or out of order in %s", want[2 * k], out.data);
		/* a span's depth follows its name in the same object */
		const char *d = strstr(at, "\"depth\":");
		if (!d || strncmp(d, depth, strlen(depth)) || (d[strlen(depth)] != ',' && d[strlen(depth)] != '}'))
			fail_msg("span %s should have %s in %s", want[2 * k], depth, out.data);
		p = at + 1;
	}

	/* the trace's logs are those within a minute of its spans, however the
	 * blocks fall: a line of the same trace half an hour earlier, stored in
	 * the same block as one in the window, is not in the answer */
	struct log_record lg[2];
	memset(lg, 0, sizeof(lg));
	for (size_t i = 0; i < 2; i++) {
		lg[i].has_trace_id = true;
		lg[i].trace_id[0] = 0xab;
		lg[i].severity = 9;
		lg[i].resource = &res_cart;
	}
	lg[0].time_ns = v[0].start_ns + 10 * OODA_NS_PER_SEC;
	lg[0].body = "inside the window";
	lg[0].body_len = (uint32_t)strlen(lg[0].body);
	lg[1].time_ns = v[0].start_ns - 1800 * OODA_NS_PER_SEC;
	lg[1].body = "half an hour before";
	lg[1].body_len = (uint32_t)strlen(lg[1].body);
	struct telemetry_batch lb = { .logs = lg, .n_logs = 2 };
	assert_int_equal(tstore_append(t, &lb, &err), 0);
	buf_reset(&out);
	assert_int_equal(search_trace(t, "ab000000000000000000000000000000", &out, &err), 0);
	assert_non_null(strstr(out.data, "inside the window"));
	assert_null(strstr(out.data, "half an hour before"));

	/* a wide trace: one root and 3,000 children, every one kept at depth 1 */
	struct span *w = calloc(3001, sizeof(*w));
	size_t m = 0;
	add_span(w, &m, "root", 1, 0, 0);
	w[0].trace_id[0] = 0xcd;
	w[0].span_id[6] = 0;
	for (size_t i = 1; i <= 3000; i++) {
		add_span(w, &m, "child", (uint8_t)(i & 0xff), 1, (int64_t)i);
		w[i].trace_id[0] = 0xcd;
		w[i].span_id[5] = (uint8_t)(i >> 8);
		w[i].span_id[6] = 0xee;
	}
	struct telemetry_batch wb = { .spans = w, .n_spans = m };
	assert_int_equal(tstore_append(t, &wb, &err), 0);
	buf_reset(&out);
	assert_int_equal(search_trace(t, "cd000000000000000000000000000000", &out, &err), 0);
	assert_non_null(strstr(out.data, "\"span_count\":3001"));
	size_t depth1 = 0;
	for (const char *q = out.data; (q = strstr(q, "\"depth\":1")) != NULL; q++)
		depth1++;
	assert_int_equal(depth1, 3000);
	free(w);
	tstore_close(t);
	buf_release(&out);
	buf_release(&err);
	rmrf(dir);
	free(dir);
}

/* ---- damaged blocks and damaged files ----------------------------------- */

static void sql_on(const char *dir, const char *sql)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/telemetry.db", dir);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

/* Flips the bytes of the block of service at offsets (negative: from the end); returns its id. */
static int64_t flip_block(const char *dir, const char *service, const long *at, size_t n_at)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/telemetry.db", dir);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT id, data FROM log_blocks WHERE service = ?1", -1, &st, NULL),
			 SQLITE_OK);
	sqlite3_bind_text(st, 1, service, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int64_t id = sqlite3_column_int64(st, 0);
	size_t len = (size_t)sqlite3_column_bytes(st, 1);
	uint8_t *data = malloc(len);
	memcpy(data, sqlite3_column_blob(st, 1), len);
	sqlite3_finalize(st);
	for (size_t i = 0; i < n_at; i++)
		data[at[i] < 0 ? (long)len + at[i] : at[i]] ^= 0x5a;
	assert_int_equal(sqlite3_prepare_v2(db, "UPDATE log_blocks SET data = ?1 WHERE id = ?2", -1, &st, NULL),
			 SQLITE_OK);
	sqlite3_bind_blob(st, 1, data, (int)len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, id);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(data);
	return id;
}

static void test_scan_skips_damaged_block(void **state)
{
	(void)state;
	/* where the bytes flip: the magic, inside the frame, the last byte (its checksum), several at once */
	static const struct {
		long at[3];
		size_t n;
	} cases[] = { { { 0 }, 1 }, { { 2 }, 1 }, { { 40 }, 1 }, { { -1 }, 1 }, { { 10, 60, -3 }, 3 } };
	struct buf err = BUF_INIT, out = BUF_INIT;
	struct arena a;
	arena_init(&a, 0);
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		char *dir = tmpdir();
		struct tstore *t;
		struct tstore_options opt = { 0 };
		assert_int_equal(tstore_open(dir, &opt, &t, &err), 0);
		struct telemetry_batch b;
		arena_reset(&a);
		make_logs(&a, &b, 50, 1700000000000000000);
		assert_int_equal(tstore_append(t, &b, &err), 0); /* one block per service, 25 records each */
		tstore_close(t);
		int64_t bad = flip_block(dir, "cart", cases[k].at, cases[k].n);

		assert_int_equal(tstore_open(dir, &opt, &t, &err), 0);
		for (int round = 0; round < 2; round++) {
			struct collect c = { .word = "refused" };
			struct tstore_skipped sk = { 0 };
			struct tstore_scan q = { .signal = SIGNAL_LOGS, .skipped = &sk };
			assert_int_equal(tstore_scan(t, &q, count_cb, &c, &err), 0);
			assert_int_equal(c.logs, 25); /* checkout's records, all of them */
			assert_int_equal(sk.n, 1);
			assert_int_equal(sk.n_ids, 1);
			assert_int_equal(sk.ids[0].signal, SIGNAL_LOGS);
			assert_int_equal(sk.ids[0].id, bad);
		}
		struct tstore_stats st;
		tstore_stats(t, &st);
		assert_int_equal(st.corrupt_blocks, 1); /* two scans, one block: counted once */

		/* the API's answers say they are partial and name the block */
		struct logquery *lq;
		assert_int_equal(logquery_compile("", 0, &lq, &err), 0);
		struct search_opts so = { .from_ns = 0, .to_ns = INT64_MAX };
		char want[64];
		snprintf(want, sizeof(want), "{\"signal\":\"logs\",\"id\":%lld}", (long long)bad);
		buf_reset(&out);
		assert_int_equal(search_logs(t, lq, &so, &out, &err), 0);
		assert_non_null(strstr(out.data, "\"partial\":true"));
		assert_non_null(strstr(out.data, want));
		buf_reset(&out);
		assert_int_equal(search_facets(t, lq, &so, NULL, 10, &out, &err), 0);
		assert_non_null(strstr(out.data, "\"total\":25,"));
		assert_non_null(strstr(out.data, "\"partial\":true"));
		logquery_destroy(lq);
		tstore_close(t);

		/* check names it; repair drops it and nothing else */
		struct tstore_check_report r;
		assert_int_equal(tstore_check(dir, &r, &err), 0);
		assert_int_equal(r.blocks, 2);
		assert_int_equal(r.n_bad, 1);
		assert_int_equal(r.bad[0].id, bad);
		assert_int_equal(r.bad[0].signal, SIGNAL_LOGS);
		assert_string_equal(r.bad[0].service, "cart");
		assert_int_equal(r.bad[0].records, 25);
		assert_true(strlen(r.bad[0].why) > 0);
		assert_string_equal(r.integrity, "ok");
		assert_int_equal(tstore_repair(dir, &r, &err), 1);
		tstore_check_release(&r);
		assert_int_equal(tstore_check(dir, &r, &err), 0);
		assert_int_equal(r.blocks, 1);
		assert_int_equal(r.n_bad, 0);
		tstore_check_release(&r);

		assert_int_equal(tstore_open(dir, &opt, &t, &err), 0);
		struct collect c = { 0 };
		struct tstore_skipped sk = { 0 };
		struct tstore_scan q = { .signal = SIGNAL_LOGS, .skipped = &sk };
		assert_int_equal(tstore_scan(t, &q, count_cb, &c, &err), 0);
		assert_int_equal(c.logs, 25);
		assert_int_equal(sk.n, 0);
		tstore_close(t);
		rmrf(dir);
		free(dir);
	}
	buf_release(&out);
	buf_release(&err);
	arena_release(&a);
}

/* tstore_copy and tstore_count: every record into another store, the same records; a damaged block stops it */
static void test_copy_and_count(void **state)
{
	(void)state;
	char *d1 = tmpdir(), *d2 = tmpdir(), *d3 = tmpdir();
	struct buf err = BUF_INIT;
	struct tstore *src, *dst;
	struct tstore_options opt = { 0 };
	assert_int_equal(tstore_open(d1, &opt, &src, &err), 0);
	struct arena a;
	arena_init(&a, 0);
	int64_t t0 = 1700000000000000000;
	for (int k = 0; k < 30; k++) { /* 60 small blocks, gathered into appends of many records */
		struct telemetry_batch b;
		arena_reset(&a);
		make_logs(&a, &b, 40, t0 + (int64_t)k * 1000000000);
		assert_int_equal(tstore_append(src, &b, &err), 0);
	}
	struct span sp[3];
	size_t nsp = 0;
	add_span(sp, &nsp, "GET /", 1, 0, t0);
	add_span(sp, &nsp, "db", 2, 1, t0 + 10);
	add_span(sp, &nsp, "cache", 3, 1, t0 + 20);
	struct telemetry_batch sb = { .arena = &a, .spans = sp, .n_spans = nsp };
	assert_int_equal(tstore_append(src, &sb, &err), 0);
	struct tstore_counts before;
	assert_int_equal(tstore_count(src, &before, &err), 0);
	assert_int_equal(before.records[SIGNAL_LOGS], 1200);
	assert_int_equal(before.records[SIGNAL_SPANS], 3);
	assert_int_equal(before.records[SIGNAL_METRICS], 0);

	assert_int_equal(tstore_open(d2, &opt, &dst, &err), 0);
	assert_int_equal(tstore_copy(src, dst, NULL, NULL, &err), 0);
	struct tstore_counts after;
	assert_int_equal(tstore_count(dst, &after, &err), 0);
	assert_memory_equal(&before, &after, sizeof(before));
	struct collect c = { .word = "refused" };
	struct tstore_scan q = { .signal = SIGNAL_LOGS };
	assert_int_equal(tstore_scan(dst, &q, count_cb, &c, &err), 0);
	assert_int_equal(c.logs, 1200);
	assert_int_equal(c.matches, 120);
	struct tstore_stats st;
	tstore_stats(dst, &st);
	assert_true(st.blocks[SIGNAL_LOGS] <= 4); /* gathered: one append, a block per service */
	tstore_close(dst);
	tstore_close(src);

	/* a damaged block in the source: the count and the copy say so instead of losing it quietly */
	const long at[1] = { 40 };
	flip_block(d1, "cart", at, 1);
	assert_int_equal(tstore_open(d1, &opt, &src, &err), 0);
	assert_int_equal(tstore_open(d3, &opt, &dst, &err), 0);
	buf_reset(&err);
	assert_int_equal(tstore_count(src, &before, &err), OODA_ECORRUPT);
	assert_non_null(strstr(err.data, "ooda telemetry check"));
	buf_reset(&err);
	assert_int_equal(tstore_copy(src, dst, NULL, NULL, &err), OODA_ECORRUPT);
	tstore_close(dst);
	tstore_close(src);
	arena_release(&a);
	buf_release(&err);
	rmrf(d1);
	rmrf(d2);
	rmrf(d3);
	free(d1);
	free(d2);
	free(d3);
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	fwrite(text, 1, strlen(text), f);
	fclose(f);
}

static long file_size(const char *dir, const char *name)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	struct stat st;
	return stat(path, &st) ? -1 : (long)st.st_size;
}

enum prep { P_NONE, P_EMPTY, P_GARBAGE, P_NEWER, P_FOREIGN };

static void prepare(const char *dir, enum prep p)
{
	if (p == P_EMPTY)
		write_file(dir, "telemetry.db", "");
	else if (p == P_GARBAGE)
		write_file(dir, "telemetry.db", "this is a text file, no database at all\n");
	else if (p == P_NEWER)
		sql_on(dir, "CREATE TABLE log_blocks(id INTEGER PRIMARY KEY); PRAGMA user_version = 99");
	else if (p == P_FOREIGN)
		sql_on(dir, "CREATE TABLE recipes(name TEXT)");
}

static void test_open_refuses_damaged_file(void **state)
{
	(void)state;
	static const struct {
		enum prep prep;
		bool expect_existing;
		int rc;
		const char *says;
	} cases[] = {
		{ P_NONE, false, 0, NULL }, /* a first run */
		{ P_NONE, true, OODA_ECORRUPT, "is missing" },
		{ P_EMPTY, false, OODA_ECORRUPT, "is empty (0 bytes)" },
		{ P_EMPTY, true, OODA_ECORRUPT, "is empty (0 bytes)" },
		{ P_GARBAGE, false, OODA_ECORRUPT, "is not a SQLite database" },
		{ P_NEWER, false, OODA_ESCHEMA, "schema version 99, newer than this ooda supports (1)" },
		{ P_FOREIGN, false, OODA_ECORRUPT, "holds no telemetry tables" },
	};
	struct buf err = BUF_INIT;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		char *dir = tmpdir();
		prepare(dir, cases[k].prep);
		long before = file_size(dir, "telemetry.db");
		struct tstore *t = NULL;
		struct tstore_options opt = { .expect_existing = cases[k].expect_existing };
		buf_reset(&err);
		assert_int_equal(tstore_open(dir, &opt, &t, &err), cases[k].rc);
		if (cases[k].rc) {
			assert_null(t);
			assert_non_null(strstr(err.data, cases[k].says));
			assert_non_null(strstr(err.data, "--recreate-telemetry"));
			assert_int_equal(file_size(dir, "telemetry.db"), before); /* left as it was */
			/* told to, it moves the file aside and starts empty */
			opt.recreate = true;
			buf_reset(&err);
			assert_int_equal(tstore_open(dir, &opt, &t, &err), 0);
			struct tstore_stats st;
			tstore_stats(t, &st);
			assert_int_equal(st.blocks[SIGNAL_LOGS], 0);
			char cmd[600];
			snprintf(cmd, sizeof(cmd), "ls %s | grep -q '^telemetry.db.broken-'", dir);
			assert_int_equal(system(cmd), before >= 0 ? 0 : 256);
		}
		tstore_close(t);
		/* what was created opens again, as is */
		struct tstore_options again = { .expect_existing = true };
		assert_int_equal(tstore_open(dir, &again, &t, &err), 0);
		tstore_close(t);
		rmrf(dir);
		free(dir);
	}
	buf_release(&err);
}

/* One integer from DIR/telemetry.db (-1 when the query fails). */
static int64_t sql_int(const char *dir, const char *q)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/telemetry.db", dir);
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v = -1;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_prepare_v2(db, q, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return v;
}

/*
 * A telemetry.db from before the file carried a schema version (today's
 * tables, user_version 0) is migrated to version 1 at open, its data kept;
 * one from a newer ooda is refused by open, check and repair alike, naming
 * both versions, and left as it was.
 */
static void test_schema_versions(void **state)
{
	(void)state;
	char *dir = tmpdir();
	struct buf err = BUF_INIT, out = BUF_INIT;
	struct tstore *t;
	struct tstore_options opt = { 0 };
	assert_int_equal(tstore_open(dir, &opt, &t, &err), 0);
	struct change_event ev = { .id = "d1", .kind = "deploy", .service = "checkout", .version = "1.4.2",
				   .time_ns = 100, .actor = "alice" };
	struct telemetry_batch b = { .events = &ev, .n_events = 1 };
	assert_int_equal(tstore_append(t, &b, &err), 0);
	tstore_close(t);
	assert_int_equal(sql_int(dir, "PRAGMA user_version"), TSTORE_SCHEMA_VERSION);

	/* unversioned, as files were: migrated, the event still there */
	sql_on(dir, "PRAGMA user_version = 0");
	struct tstore_options again = { .expect_existing = true };
	assert_int_equal(tstore_open(dir, &again, &t, &err), 0);
	struct tstore_event_filter f = { .service = "checkout" };
	assert_int_equal(tstore_events_json(t, &f, &out, &err), 0);
	assert_non_null(strstr(out.data, "\"id\":\"d1\""));
	tstore_close(t);
	assert_int_equal(sql_int(dir, "PRAGMA user_version"), 1);

	/* newer: refused everywhere with both versions named, the file untouched */
	sql_on(dir, "PRAGMA user_version = 2");
	buf_reset(&err);
	assert_int_equal(tstore_open(dir, &again, &t, &err), OODA_ESCHEMA);
	assert_non_null(strstr(err.data, "schema version 2, newer than this ooda supports (1)"));
	struct tstore_check_report rep;
	buf_reset(&err);
	assert_int_equal(tstore_check(dir, &rep, &err), OODA_ESCHEMA);
	assert_non_null(strstr(err.data, "schema version 2, newer than this ooda supports (1)"));
	struct tstore_bad_block bad = { .signal = SIGNAL_LOGS, .id = 1 };
	struct tstore_check_report one = { .bad = &bad, .n_bad = 1 };
	buf_reset(&err);
	assert_int_equal(tstore_repair(dir, &one, &err), OODA_ESCHEMA);
	assert_int_equal(sql_int(dir, "PRAGMA user_version"), 2);
	assert_int_equal(sql_int(dir, "SELECT count(*) FROM events"), 1);
	rmrf(dir);

	/*
	 * A migration that fails is undone whole: an old file whose "events" is
	 * a view cannot take migration 1, which leaves no table half made and
	 * the version at 0.
	 */
	free(dir);
	dir = tmpdir();
	sql_on(dir, "CREATE TABLE log_blocks(id INTEGER PRIMARY KEY, service TEXT NOT NULL, tmin INTEGER NOT NULL, "
		    "tmax INTEGER NOT NULL, n INTEGER NOT NULL, min_sev INTEGER NOT NULL, max_sev INTEGER NOT NULL, "
		    "raw INTEGER NOT NULL, bloom BLOB, data BLOB NOT NULL);"
		    "CREATE VIEW events AS SELECT 1 AS time");
	buf_reset(&err);
	t = NULL;
	assert_int_equal(tstore_open(dir, &opt, &t, &err), OODA_EIO);
	assert_null(t);
	assert_non_null(strstr(err.data, "migration 1 of telemetry.db failed"));
	assert_int_equal(sql_int(dir, "PRAGMA user_version"), 0);
	assert_int_equal(sql_int(dir, "SELECT count(*) FROM sqlite_master WHERE name = 'span_blocks'"), 0);
	rmrf(dir);
	free(dir);
	buf_release(&err);
	buf_release(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_block_roundtrip),
		cmocka_unit_test(test_block_formats),
		cmocka_unit_test(test_span_and_metric_roundtrip),
		cmocka_unit_test(test_store_append_scan_compact_retain),
		cmocka_unit_test(test_store_events),
		cmocka_unit_test(test_trace_tree),
		cmocka_unit_test(test_scan_skips_damaged_block),
		cmocka_unit_test(test_open_refuses_damaged_file),
		cmocka_unit_test(test_schema_versions),
		cmocka_unit_test(test_copy_and_count),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
