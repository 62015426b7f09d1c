/*
 * The exemplar ring (src/query/exemplars.c): exemplars come back under the
 * series PromQL names (a histogram's bucket holding the value), the ring
 * keeps only the newest, and queries filter by selector and time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_series_and_ring),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
