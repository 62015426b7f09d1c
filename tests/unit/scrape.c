/*
 * Unit tests for the scraper's pure parts (src/ingest/scrape_text.c,
 * scrape_config.c): the Prometheus text format and OpenMetrics as
 * Prometheus' own parsers read them (HELP/TYPE/UNIT, escapes, timestamps
 * in ms and s, exemplars, # EOF), label merging with the target's labels,
 * the limits, the scrape_configs check and file_sd target files.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/time.h"
#include "ingest/scrape.h"

#define NOW ((int64_t)1700000000 * OODA_NS_PER_SEC)

static const struct scrape_label target[] = { { "job", "node" }, { "instance", "10.0.0.1:9100" } };

struct decoded {
	struct arena a;
	struct telemetry_batch b;
	struct scrape_text_result r;
	struct buf err;
	int rc;
};

static void decode(struct decoded *d, enum scrape_format f, const char *body, bool honor_labels, size_t limit)
{
	arena_init(&d->a, 0);
	d->b = (struct telemetry_batch){ .arena = &d->a };
	d->err = (struct buf)BUF_INIT;
	struct scrape_text_opts o = { .format = f, .now_ns = NOW, .honor_timestamps = true, .honor_labels = honor_labels,
				      .sample_limit = limit, .target = target, .n_target = 2 };
	d->rc = scrape_text_decode(body, strlen(body), &o, &d->b, &d->r, &d->err);
}

static void decoded_release(struct decoded *d)
{
	arena_release(&d->a);
	buf_release(&d->err);
}

static const char *attr(const struct metric_point *p, const char *key)
{
	for (uint32_t i = 0; i < p->attrs.n; i++)
		if (!strcmp(p->attrs.v[i].key, key))
			return p->attrs.v[i].s;
	return NULL;
}

static const struct scrape_meta *meta(const struct decoded *d, const char *name)
{
	for (size_t i = 0; i < d->r.n_meta; i++)
		if (!strcmp(d->r.meta[i].name, name))
			return &d->r.meta[i];
	return NULL;
}

static void test_promtext(void **state)
{
	(void)state;
	struct decoded d;
	decode(&d, SCRAPE_PROMTEXT,
	       "# HELP http_requests_total The total number of HTTP requests.\n"
	       "# TYPE http_requests_total counter\n"
	       "http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n"
	       "http_requests_total{method=\"post\",code=\"400\"}    3 1395066363000\n"
	       "\n"
	       "# A normal comment.\n"
	       "msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find file:\\n\\\"FILE.TXT\\\"\"} 1.458255915e9\n"
	       "metric_without_timestamp_and_labels 12.47\n"
	       "# TYPE rpc_duration_seconds summary\n"
	       "rpc_duration_seconds{quantile=\"0.5\"} 4773\n"
	       "rpc_duration_seconds_sum 1.7560473e+07\n"
	       "# TYPE plain untyped\n"
	       "plain{empty=\"\"} +Inf\n"
	       "  indented NaN\r\n",
	       false, 0);
	assert_int_equal(d.rc, 0);
	assert_int_equal(d.r.samples, 8);
	assert_int_equal(d.b.n_points, 8);
	const struct metric_point *p = &d.b.points[0];
	assert_string_equal(p->name, "http_requests_total");
	assert_int_equal(p->type, METRIC_GAUGE);
	assert_true(p->value == 1027);
	assert_int_equal(p->time_ns, (int64_t)1395066363000 * OODA_NS_PER_MS);
	assert_string_equal(attr(p, "method"), "post");
	assert_string_equal(attr(p, "job"), "node");
	assert_string_equal(attr(p, "instance"), "10.0.0.1:9100");
	assert_string_equal(p->resource->service, "node");
	assert_string_equal(p->resource->host, "10.0.0.1:9100");
	assert_string_equal(attr(&d.b.points[2], "path"), "C:\\DIR\\FILE.TXT");
	assert_string_equal(attr(&d.b.points[2], "error"), "Cannot find file:\n\"FILE.TXT\"");
	assert_int_equal(d.b.points[3].time_ns, NOW); /* no timestamp: the scrape's */
	assert_null(attr(&d.b.points[6], "empty")); /* an empty value is no label */
	assert_true(isinf(d.b.points[6].value));
	assert_true(isnan(d.b.points[7].value));
	assert_string_equal(d.b.points[7].name, "indented");
	const struct scrape_meta *m = meta(&d, "http_requests_total");
	assert_non_null(m);
	assert_string_equal(m->type, "counter");
	assert_string_equal(m->help, "The total number of HTTP requests.");
	assert_string_equal(meta(&d, "rpc_duration_seconds")->type, "summary");
	assert_string_equal(meta(&d, "plain")->type, "unknown");
	decoded_release(&d);
}

static void test_openmetrics(void **state)
{
	(void)state;
	struct decoded d;
	decode(&d, SCRAPE_OPENMETRICS,
	       "# TYPE acme_http_router_request_seconds histogram\n"
	       "# UNIT acme_http_router_request_seconds seconds\n"
	       "# HELP acme_http_router_request_seconds Latency \\\"quoted\\\".\n"
	       "acme_http_router_request_seconds_bucket{le=\"0.1\"} 8 # {trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\"} 0.054 1520879607.789\n"
	       "acme_http_router_request_seconds_bucket{le=\"+Inf\"} 9\n"
	       "acme_http_router_request_seconds_sum 0.5 1520879607.5\n"
	       "acme_http_router_request_seconds_count 9\n"
	       "acme_http_router_request_seconds_created 1520430000.123\n"
	       "# TYPE foo counter\n"
	       "foo_total 17.0 1520879607.789 # {id=\"counter-test\"} 5\n"
	       "# TYPE state stateset\n"
	       "state{state=\"a\"} 1\n"
	       "# EOF\n",
	       false, 0);
	assert_int_equal(d.rc, 0);
	assert_int_equal(d.b.n_points, 7);
	const struct metric_point *b0 = &d.b.points[0];
	assert_string_equal(attr(b0, "le"), "0.1");
	assert_int_equal(b0->n_exemplars, 1);
	assert_true(b0->exemplars[0].has_trace_id);
	assert_int_equal(b0->exemplars[0].trace_id[0], 0x4b);
	assert_true(fabs(b0->exemplars[0].value - 0.054) < 1e-12);
	assert_int_equal(b0->exemplars[0].time_ns / OODA_NS_PER_MS, (int64_t)1520879607789);
	assert_int_equal(d.b.points[2].time_ns, (int64_t)1520879607500 * OODA_NS_PER_MS); /* seconds, not ms */
	assert_string_equal(d.b.points[4].name, "acme_http_router_request_seconds_created");
	assert_int_equal(d.b.points[5].n_exemplars, 1);
	assert_false(d.b.points[5].exemplars[0].has_trace_id);
	const struct scrape_meta *m = meta(&d, "acme_http_router_request_seconds");
	assert_non_null(m);
	assert_string_equal(m->type, "histogram");
	assert_string_equal(m->unit, "seconds");
	assert_string_equal(m->help, "Latency \"quoted\".");
	assert_string_equal(meta(&d, "state")->type, "stateset");
	decoded_release(&d);
}

static void test_label_merge(void **state)
{
	(void)state;
	static const char body[] = "m{job=\"inner\",instance=\"x\",k=\"v\"} 1\n";
	struct decoded d;
	decode(&d, SCRAPE_PROMTEXT, body, false, 0);
	assert_int_equal(d.rc, 0);
	const struct metric_point *p = &d.b.points[0];
	assert_string_equal(attr(p, "job"), "node");
	assert_string_equal(attr(p, "exported_job"), "inner");
	assert_string_equal(attr(p, "exported_instance"), "x");
	assert_string_equal(p->resource->service, "node");
	decoded_release(&d);
	decode(&d, SCRAPE_PROMTEXT, body, true, 0); /* honor_labels */
	assert_int_equal(d.rc, 0);
	p = &d.b.points[0];
	assert_string_equal(attr(p, "job"), "inner");
	assert_string_equal(attr(p, "instance"), "x");
	assert_null(attr(p, "exported_job"));
	assert_string_equal(p->resource->service, "inner");
	decoded_release(&d);
}

static void test_honor_timestamps_off(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a, 0);
	struct telemetry_batch b = { .arena = &a };
	struct scrape_text_result r;
	struct buf err = BUF_INIT;
	struct scrape_text_opts o = { .format = SCRAPE_PROMTEXT, .now_ns = NOW, .honor_timestamps = false };
	static const char body[] = "m 1 1395066363000\n";
	assert_int_equal(scrape_text_decode(body, strlen(body), &o, &b, &r, &err), 0);
	assert_int_equal(b.points[0].time_ns, NOW);
	arena_release(&a);
	buf_release(&err);
}

static void test_refusals(void **state)
{
	(void)state;
	char *long_line = malloc(SCRAPE_MAX_LINE + 16);
	memset(long_line, 'a', SCRAPE_MAX_LINE + 8);
	memcpy(long_line + SCRAPE_MAX_LINE + 8, " 1\n", 4);
	struct buf many = BUF_INIT;
	buf_adds(&many, "m{");
	for (int i = 0; i <= SCRAPE_MAX_LABELS; i++)
		buf_addf(&many, "l%d=\"v\",", i);
	buf_adds(&many, "} 1\n");
	const struct {
		enum scrape_format f;
		const char *body;
		size_t limit;
		int rc;
		const char *says;
	} cases[] = {
		{ SCRAPE_OPENMETRICS, "m 1\n", 0, OODA_EPARSE, "# EOF" },
		{ SCRAPE_OPENMETRICS, "m 1\n# EOF\nm 2\n", 0, OODA_EPARSE, "after # EOF" },
		{ SCRAPE_PROMTEXT, "m abc\n", 0, OODA_EPARSE, "line 1: expected a float" },
		{ SCRAPE_PROMTEXT, "ok 1\nm{a=\"b} 1\n", 0, OODA_EPARSE, "line 2: label value without its closing quote" },
		{ SCRAPE_PROMTEXT, "m{a=\"1\",a=\"2\"} 1\n", 0, OODA_EPARSE, "duplicate label" },
		{ SCRAPE_PROMTEXT, "m{a=1} 1\n", 0, OODA_EPARSE, "quoted label value" },
		{ SCRAPE_PROMTEXT, "m 1 12.5\n", 0, OODA_EPARSE, "milliseconds" },
		{ SCRAPE_PROMTEXT, "m 1 2 3\n", 0, OODA_EPARSE, "after the timestamp" },
		{ SCRAPE_PROMTEXT, "# TYPE m bogus\n", 0, OODA_EPARSE, "unknown metric type" },
		{ SCRAPE_PROMTEXT, "a 1\nb 2\nc 3\n", 2, OODA_ELIMIT, "sample limit of 2 exceeded" },
		{ SCRAPE_PROMTEXT, "1m 1\n", 0, OODA_EPARSE, "metric name" },
		{ SCRAPE_PROMTEXT, long_line, 0, OODA_ELIMIT, "longer than" },
		{ SCRAPE_PROMTEXT, many.data, 0, OODA_ELIMIT, "labels on one series" },
		{ SCRAPE_OPENMETRICS, "m 1 # {a=\"b\"}\n# EOF\n", 0, OODA_EPARSE, "exemplar value" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct decoded d;
		decode(&d, cases[i].f, cases[i].body, false, cases[i].limit);
		if (d.rc != cases[i].rc || !d.err.data || !strstr(d.err.data, cases[i].says))
			fail_msg("case %zu: rc %d, err \"%s\"; want %d and \"%s\"", i, d.rc, d.err.data ? d.err.data : "",
				 cases[i].rc, cases[i].says);
		decoded_release(&d);
	}
	free(long_line);
	buf_release(&many);
}

static void test_format_of(void **state)
{
	(void)state;
	assert_int_equal(scrape_format_of("application/openmetrics-text; version=1.0.0; charset=utf-8"),
			 SCRAPE_OPENMETRICS);
	assert_int_equal(scrape_format_of("text/plain; version=0.0.4; charset=utf-8"), SCRAPE_PROMTEXT);
	assert_int_equal(scrape_format_of(NULL), SCRAPE_PROMTEXT);
}

static void test_config_check(void **state)
{
	(void)state;
	const struct {
		const char *json;
		const char *says; /* NULL: accepted */
	} cases[] = {
		{ "[{\"job_name\":\"a\",\"scrape_interval\":\"15s\",\"static_configs\":[{\"targets\":[\"localhost:9090\"],"
		  "\"labels\":{\"env\":\"prod\"}}],\"basic_auth\":{\"username\":\"u\",\"password\":\"p\"}}]", NULL },
		{ "[{\"job_name\":\"a\",\"scrape_interval\":\"5s\"}]", NULL }, /* default timeout capped to 5s */
		{ "[{\"job_name\":\"a\",\"scrape_interval\":\"5s\",\"scrape_timeout\":\"6s\"}]",
		  "scrape_configs[0].scrape_timeout: greater than scrape_interval" },
		{ "[{\"job_name\":\"a\"},{\"job_name\":\"a\"}]", "scrape_configs[1].job_name: \"a\" is already" },
		{ "[{\"job_name\":\"a\",\"static_configs\":[{\"targets\":[\"http://h:1/metrics\"]}]}]",
		  "scrape_configs[0].static_configs[0].targets[0]: expected host:port" },
		{ "[{\"job_name\":\"a\",\"static_configs\":[{\"targets\":[\"h\"]}]}]", "expected host:port" },
		{ "[{\"job_name\":\"a\",\"authorization\":{\"credentials\":\"x\",\"credentials_file\":\"/f\"}}]",
		  "scrape_configs[0].authorization: give credentials or credentials_file, not both" },
		{ "[{\"job_name\":\"a\",\"file_sd_configs\":[{\"files\":[\"targets.txt\"]}]}]",
		  "file_sd_configs[0].files[0]: expected a path ending in .json" },
		{ "[{\"job_name\":\"a\",\"metrics_path\":\"metrics\"}]", "metrics_path: must start with /" },
		{ "[{\"job_name\":\"a\",\"static_configs\":[{\"targets\":[\"h:1\"],\"labels\":{\"__x\":\"1\"}}]}]",
		  "labels.__x" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf err = BUF_INIT;
		int rc = scrape_config_check(cases[i].json, &err);
		if (cases[i].says ? (rc != OODA_EINVAL || !err.data || !strstr(err.data, cases[i].says)) : rc != 0)
			fail_msg("case %zu: rc %d, err \"%s\"", i, rc, err.data ? err.data : "");
		buf_release(&err);
	}
	struct buf err = BUF_INIT;
	assert_int_equal(scrape_config_check(NULL, &err), 0);
	buf_release(&err);
	const struct {
		const char *json;
		const char *says;
	} global[] = {
		{ "{\"scrape_interval\":\"15s\",\"scrape_timeout\":\"5s\"}", NULL },
		{ "{\"scrape_interval\":\"5s\"}", "global.scrape_timeout: greater than global.scrape_interval" },
		{ "{\"scrape_interval\":\"100ms\"}", "global.scrape_interval: expected a duration of at least 1s" },
	};
	for (size_t i = 0; i < sizeof(global) / sizeof(global[0]); i++) {
		struct buf e = BUF_INIT;
		int rc = scrape_global_check(global[i].json, &e);
		if (global[i].says ? (rc != OODA_EINVAL || !e.data || !strstr(e.data, global[i].says)) : rc != 0)
			fail_msg("global case %zu: rc %d, err \"%s\"", i, rc, e.data ? e.data : "");
		buf_release(&e);
	}
}

static void test_sd_files(void **state)
{
	(void)state;
	const struct {
		const char *text;
		bool yaml;
		int rc;
		size_t groups;
	} cases[] = {
		{ "[{\"targets\":[\"a:1\",\"b:2\"],\"labels\":{\"env\":\"x\"}}]", false, 0, 1 },
		{ "- targets: ['a:1']\n  labels:\n    env: x\n- targets: ['c:3']\n", true, 0, 2 },
		{ "", true, 0, 0 },
		{ "[]", false, 0, 0 },
		{ "{\"targets\":[\"a:1\"]}", false, OODA_EPARSE, 0 },
		{ "[{\"targets\":[\"a\"]}]", false, OODA_EPARSE, 0 },
		{ "[{\"targets\":[\"a:1\"", false, OODA_EPARSE, 0 },
		{ "- targets: [a:1\n", true, OODA_EPARSE, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf err = BUF_INIT;
		void *g = NULL;
		int rc = scrape_sd_parse(cases[i].text, strlen(cases[i].text), cases[i].yaml, &g, &err);
		if (rc != cases[i].rc || (!rc && json_array_size(g) != cases[i].groups) || (rc && !err.len))
			fail_msg("case %zu: rc %d, err \"%s\"", i, rc, err.data ? err.data : "");
		json_decref(g);
		buf_release(&err);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_promtext),	    cmocka_unit_test(test_openmetrics),
		cmocka_unit_test(test_label_merge),	    cmocka_unit_test(test_honor_timestamps_off),
		cmocka_unit_test(test_refusals),	    cmocka_unit_test(test_format_of),
		cmocka_unit_test(test_config_check),	    cmocka_unit_test(test_sd_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
