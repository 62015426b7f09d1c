/*
 * Unit tests for the OTLP → Prometheus name translation
 * (src/model/promname.c): tables of metric names with their unit and kind
 * and of attribute keys, each with the name Prometheus' OTLP receiver
 * gives it, under both translation strategies, and the edge cases
 * (cuts at the buffer size, empty names, unknown strategies).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "model/promname.h"

#define G PROMNAME_GAUGE
#define C PROMNAME_COUNTER
#define O PROMNAME_OTHER

static void test_promname_metric_escaped(void **state)
{
	(void)state;
	static const struct {
		const char *name, *unit;
		enum promname_kind kind;
		const char *want;
	} cases[] = {
		/* the semantic conventions' own metrics */
		{ "http.server.request.duration", "s", O, "http_server_request_duration_seconds" },
		{ "http.server.duration", "ms", O, "http_server_duration_milliseconds" },
		{ "http.server.active_requests", "{request}", O, "http_server_active_requests" },
		{ "system.filesystem.usage", "By", O, "system_filesystem_usage_bytes" },
		{ "system.memory.utilization", "1", G, "system_memory_utilization_ratio" },
		{ "system.network.dropped", "{packets}", C, "system_network_dropped_total" },
		{ "system.network.dropped", "packets", C, "system_network_dropped_packets_total" },
		{ "process.runtime.jvm.memory.usage", "KiBy", G, "process_runtime_jvm_memory_usage_kibibytes" },
		{ "http.client.request.body.size", "By", O, "http_client_request_body_size_bytes" },
		{ "vehicle.speed", "m/s", G, "vehicle_speed_meters_per_second" },
		{ "net.io", "By/s", C, "net_io_bytes_per_second_total" },
		{ "queue.arrivals", "{messages}/min", G, "queue_arrivals_per_min" },
		{ "queue.arrivals", "{messages}/s", G, "queue_arrivals_per_second" },
		{ "cpu.temperature", "Cel", G, "cpu_temperature_celsius" },
		{ "disk.free", "%", G, "disk_free_percent" },
		{ "odd.unit", "kBy", G, "odd_unit_kBy" },
		{ "odd.unit", "foo bar", G, "odd_unit_foo_bar" },
		/* characters, runs and ends */
		{ "(lambda).function.executions(#)", "", O, "lambda_function_executions" },
		{ "a..b__c--d", NULL, G, "a_b_c_d" },
		{ "_leading_and_trailing_", NULL, G, "leading_and_trailing" },
		{ "ns:metric.name", NULL, G, "ns:metric_name" },
		{ "2xx.count", NULL, G, "_2xx_count" },
		{ "caf\xc3\xa9.latte", NULL, G, "caf_latte" },
		{ "", NULL, G, "" },
		/* the suffixes are not doubled, total moves to the end */
		{ "request_duration_seconds", "s", O, "request_duration_seconds" },
		{ "seconds.before.lunch", "s", G, "seconds_before_lunch" },
		{ "requests.total", "1", C, "requests_total" },
		{ "total.requests", NULL, C, "requests_total" },
		{ "http.requests", "{request}", C, "http_requests_total" },
		{ "hits", NULL, C, "hits_total" },
		{ "cpu.utilization.ratio", "1", G, "cpu_utilization_ratio" },
		{ "cpu.utilization", "1", C, "cpu_utilization_total" },
		{ "cpu.utilization", "1", O, "cpu_utilization" },
		{ "bytes.read", "By", C, "bytes_read_total" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[PROMNAME_MAX];
		size_t n = promname_metric(cases[i].name, cases[i].unit, cases[i].kind, PROMNAME_UNDERSCORE_ESCAPING,
					   out, sizeof(out));
		if (strcmp(out, cases[i].want))
			fail_msg("%s [%s]: got %s, want %s", cases[i].name, cases[i].unit ? cases[i].unit : "",
				 out, cases[i].want);
		assert_int_equal(n, strlen(out));
	}
}

static void test_promname_metric_utf8(void **state)
{
	(void)state;
	static const struct {
		const char *name, *unit;
		enum promname_kind kind;
		const char *want;
	} cases[] = {
		{ "http.server.request.duration", "s", O, "http.server.request.duration_seconds" },
		{ "http.requests", "{request}", C, "http.requests_total" },
		{ "total.requests", NULL, C, "requests_total" },
		{ "system.memory.utilization", "1", G, "system.memory.utilization_ratio" },
		{ "caf\xc3\xa9.latte", "By", G, "caf\xc3\xa9.latte_bytes" },
		{ "2xx.count", NULL, G, "2xx.count" },
		{ "--a..b", NULL, G, "a..b" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[PROMNAME_MAX];
		promname_metric(cases[i].name, cases[i].unit, cases[i].kind, PROMNAME_NO_UTF8_ESCAPING, out,
				sizeof(out));
		if (strcmp(out, cases[i].want))
			fail_msg("%s: got %s, want %s", cases[i].name, out, cases[i].want);
	}
}

static void test_promname_label(void **state)
{
	(void)state;
	static const struct {
		const char *key, *want, *want_utf8;
	} cases[] = {
		{ "http.request.method", "http_request_method", "http.request.method" },
		{ "http.response.status_code", "http_response_status_code", "http.response.status_code" },
		{ "k8s.pod.name", "k8s_pod_name", "k8s.pod.name" },
		{ "2fa.enabled", "key_2fa_enabled", "2fa.enabled" },
		{ "_private", "key_private", "_private" },
		{ "__reserved", "__reserved", "__reserved" },
		{ "a/b c-d", "a_b_c_d", "a/b c-d" },
		{ "a..b", "a__b", "a..b" },
		{ "caf\xc3\xa9", "caf_", "caf\xc3\xa9" },
		{ "", "", "" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[PROMNAME_MAX];
		promname_label(cases[i].key, PROMNAME_UNDERSCORE_ESCAPING, out, sizeof(out));
		if (strcmp(out, cases[i].want))
			fail_msg("%s: got %s, want %s", cases[i].key, out, cases[i].want);
		promname_label(cases[i].key, PROMNAME_NO_UTF8_ESCAPING, out, sizeof(out));
		if (strcmp(out, cases[i].want_utf8))
			fail_msg("%s (utf-8): got %s, want %s", cases[i].key, out, cases[i].want_utf8);
	}
}

static void test_promname_limits(void **state)
{
	(void)state;
	char small[8];
	/* cut at the buffer, still terminated, still the prefix of the full name */
	assert_int_equal(promname_metric("http.server.duration", "s", O, 0, small, sizeof(small)), 7);
	assert_string_equal(small, "http_se");
	assert_int_equal(promname_label("http.request.method", 0, small, sizeof(small)), 7);
	assert_string_equal(small, "http_re");
	/* a cut never leaves half a UTF-8 character */
	promname_metric("ab.\xc3\xa9\xc3\xa9", NULL, G, PROMNAME_NO_UTF8_ESCAPING, small, 6);
	assert_string_equal(small, "ab.\xc3\xa9");
	promname_metric("abcd\xc3\xa9", NULL, G, PROMNAME_NO_UTF8_ESCAPING, small, 6);
	assert_string_equal(small, "abcd");
	/* a long name is cut at PROMNAME_MAX whatever the buffer */
	char longname[1000], big[1000];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	assert_int_equal(promname_metric(longname, "s", C, 0, big, sizeof(big)), PROMNAME_MAX - 1);
	/* many words */
	char dots[900];
	for (size_t i = 0; i + 2 < sizeof(dots); i += 2) {
		dots[i] = 'x';
		dots[i + 1] = '.';
	}
	dots[sizeof(dots) - 2] = 'y';
	dots[sizeof(dots) - 1] = 0;
	assert_true(promname_metric(dots, "s", C, 0, big, sizeof(big)) <= PROMNAME_MAX - 1);
	assert_int_equal(promname_metric(NULL, NULL, G, 0, big, sizeof(big)), 0);
	assert_int_equal(promname_metric("x", NULL, G, 0, big, 0), 0);
}

static void test_promname_strategy(void **state)
{
	(void)state;
	assert_int_equal(promname_strategy_parse("UnderscoreEscapingWithSuffixes"), PROMNAME_UNDERSCORE_ESCAPING);
	assert_int_equal(promname_strategy_parse("NoUTF8EscapingWithSuffixes"), PROMNAME_NO_UTF8_ESCAPING);
	assert_int_equal(promname_strategy_parse("NoTranslation"), -1);
	assert_int_equal(promname_strategy_parse(""), -1);
	assert_int_equal(promname_strategy_parse(NULL), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_promname_metric_escaped),
		cmocka_unit_test(test_promname_metric_utf8),
		cmocka_unit_test(test_promname_label),
		cmocka_unit_test(test_promname_limits),
		cmocka_unit_test(test_promname_strategy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
