/*
 * The exemplar ring (src/query/exemplars.c): exemplars come back under the
 * series PromQL names (a histogram's bucket holding the value), the ring
 * keeps only the newest, and queries filter by selector and time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "core/error.h"
#include "query/exemplars.h"

static const struct resource res = { .service = "shop" };
static const double bounds[] = { 0.1, 1 };
static const uint64_t counts[] = { 1, 1, 1 };

static struct metric_point point(const char *name, uint8_t type, struct exemplar *ex, uint32_t n)
{
	struct metric_point p = { .name = name, .type = type, .time_ns = 5000000000, .resource = &res,
				  .exemplars = ex, .n_exemplars = n };
	if (type == METRIC_HISTOGRAM) {
		p.n_bounds = 2;
		p.bounds = bounds;
		p.bucket_counts = counts;
	}
	return p;
}

static struct buf out;

static char *answer(struct exemplar_ring *r, const char *q, int64_t from, int64_t to)
{
	struct buf err = BUF_INIT;
	buf_release(&out);
	assert_int_equal(exemplars_query_json(r, q, from, to, &out, &err), 0);
	buf_release(&err);
	return out.data;
}

static void test_series_and_ring(void **state)
{
	(void)state;
	struct exemplar_ring *r = exemplars_create(2);
	struct exemplar ex[3] = {
		{ .time_ns = 1000000000, .value = 0.5, .has_trace_id = true, .trace_id = { 0xab } },
		{ .time_ns = 2000000000, .value = 0.05 },
		{ .time_ns = 3000000000, .value = 9 },
	};
	struct metric_point pts[] = { point("http.duration", METRIC_HISTOGRAM, ex, 2),
				      point("queue.depth", METRIC_GAUGE, &ex[2], 1) };
	struct telemetry_batch b = { .points = pts, .n_points = 2 };
	exemplars_add(r, &b);
	/* capacity 2: the first exemplar (0.5) gave way */
	assert_string_equal(answer(r, "http_duration_bucket", 0, 10000),
			    "{\"status\":\"success\",\"data\":[{\"seriesLabels\":{\"__name__\":\"http_duration_bucket\","
			    "\"job\":\"shop\",\"le\":\"0.1\"},\"exemplars\":[{\"labels\":{},\"value\":\"0.05\",\"timestamp\":2.000}]}]}");
	assert_string_equal(answer(r, "sum(rate(queue_depth[5m]))", 0, 10000),
			    "{\"status\":\"success\",\"data\":[{\"seriesLabels\":{\"__name__\":\"queue_depth\",\"job\":\"shop\"},"
			    "\"exemplars\":[{\"labels\":{},\"value\":\"9\",\"timestamp\":3.000}]}]}");
	assert_string_equal(answer(r, "queue_depth", 0, 2999), "{\"status\":\"success\",\"data\":[]}");
	assert_string_equal(answer(r, "queue_depth{job=\"other\"}", 0, 10000), "{\"status\":\"success\",\"data\":[]}");
	/* a fresh ring keeps the 0.5 exemplar in the bucket le=1, with its trace id */
	exemplars_destroy(r);
	r = exemplars_create(0);
	exemplars_add(r, &b);
	char *a = answer(r, "http_duration_bucket{le=\"1\"}", 0, 10000);
	assert_non_null(strstr(a, "\"trace_id\":\"ab000000000000000000000000000000\""));
	assert_non_null(strstr(a, "\"value\":\"0.5\",\"timestamp\":1.000"));
	struct buf err = BUF_INIT;
	buf_release(&out);
	assert_int_equal(exemplars_query_json(r, "rate(", 0, 1, &out, &err), OODA_EPARSE);
	buf_release(&out);
	buf_release(&err);
	exemplars_destroy(r);
}

/*
 * Another node's exemplars: the encoded batch adds to a ring what
 * exemplars_add would have (same answers), and a malformed batch, whatever
 * is wrong with it, adds nothing and says why.
 */
static void test_encoded_batches(void **state)
{
	(void)state;
	struct exemplar ex[2] = {
		{ .time_ns = 1000000000, .value = 0.5, .has_trace_id = true, .trace_id = { 0xab } },
		{ .time_ns = 3000000000, .value = 9 },
	};
	struct metric_point pts[] = { point("http.duration", METRIC_HISTOGRAM, ex, 1),
				      point("queue.depth", METRIC_GAUGE, &ex[1], 1) };
	struct telemetry_batch b = { .points = pts, .n_points = 2 };
	struct buf body = BUF_INIT, err = BUF_INIT;
	assert_int_equal(exemplars_encode(&b, &body), 2);
	struct exemplar_ring *here = exemplars_create(0), *there = exemplars_create(0);
	exemplars_add(here, &b);
	assert_int_equal(exemplars_add_encoded(there, body.data, body.len, &err), 0);
	const char *qs[] = { "http_duration_bucket", "queue_depth" };
	for (size_t i = 0; i < 2; i++) {
		char want[2048];
		snprintf(want, sizeof(want), "%s", answer(here, qs[i], 0, 10000));
		assert_true(strlen(want) > 40); /* an answer with the exemplar, not an empty one */
		assert_string_equal(answer(there, qs[i], 0, 10000), want);
	}
	exemplars_destroy(there);

	/* a batch without exemplars encodes to nothing */
	struct telemetry_batch none = { .points = &pts[0], .n_points = 1 };
	pts[0].n_exemplars = 0;
	struct buf empty = BUF_INIT;
	assert_int_equal(exemplars_encode(&none, &empty), 0);
	assert_int_equal(empty.len, 0);
	buf_release(&empty);

	struct {
		const char *name;
		size_t cut;        /* bytes dropped from the end */
		size_t poke;       /* a byte set to 0 (0: none) */
		const char *magic; /* replaces the first 4 bytes */
	} bad[] = {
		{ "cut short", 3, 0, NULL },
		{ "a NUL in the series key", 0, 10, NULL },
		{ "another format", 0, 0, "OEX9" },
		{ "only the magic", 0, 0, NULL },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct buf m = BUF_INIT;
		buf_add(&m, body.data, i == 3 ? 4 : body.len - bad[i].cut);
		if (bad[i].poke)
			m.data[bad[i].poke] = 0;
		if (bad[i].magic)
			memcpy(m.data, bad[i].magic, 4);
		struct exemplar_ring *r = exemplars_create(0);
		buf_reset(&err);
		int rc = exemplars_add_encoded(r, m.data, m.len, &err);
		if (i == 3) { /* empty but well formed */
			assert_int_equal(rc, 0);
		} else {
			assert_int_equal(rc, OODA_ECORRUPT);
			assert_true(err.len > 0);
		}
		assert_string_equal(answer(r, "{__name__=~\".+\"}", 0, 10000), "{\"status\":\"success\",\"data\":[]}");
		exemplars_destroy(r);
		buf_release(&m);
	}
	exemplars_destroy(here);
	buf_release(&body);
	buf_release(&err);
	buf_release(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_series_and_ring),
		cmocka_unit_test(test_encoded_batches),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
