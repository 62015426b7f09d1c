/* Unit tests for the pure parts of the change stage: canary statistics
 * and the version diff (JSON schemas: tests/unit/jschema.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>

#include "change/canary.h"
#include "store/vdoc.h"
#include "core/error.h"

/* deterministic pseudo-random latencies around a median */
static void fill(double *v, size_t n, double median, unsigned seed)
{
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < n; i++) {
		x = x * 1664525u + 1013904223u;
		v[i] = median * (0.5 + (double)(x >> 8) / (double)(1u << 24));
	}
}

static void test_canary(void **state)
{
	(void)state;
	double base[400], same[400], slow[400];
	fill(base, 400, 20, 1);
	fill(same, 400, 20, 2);
	fill(slow, 400, 40, 3);
	struct canary_result r;
	struct canary_side b = { base, 400, 4 };

	struct {
		const char *name;
		struct canary_side canary;
		enum canary_verdict want;
	} cases[] = {
		{ "same distribution", { same, 400, 5 }, CANARY_PASS },
		{ "latency doubled", { slow, 400, 4 }, CANARY_FAIL },
		{ "errors 1% -> 10%", { same, 400, 40 }, CANARY_FAIL },
		{ "too few canary requests", { slow, 10, 5 }, CANARY_INCONCLUSIVE },
		{ "no canary requests", { NULL, 0, 0 }, CANARY_INCONCLUSIVE },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		canary_analyze(NULL, &b, &cases[i].canary, &r);
		if (r.verdict != cases[i].want)
			fail_msg("%s: verdict %s (%s)", cases[i].name, canary_verdict_name(r.verdict), r.reason);
	}
	/* the numbers behind a verdict are reported */
	canary_analyze(NULL, &b, &(struct canary_side){ slow, 400, 4 }, &r);
	assert_true(r.canary_median > 1.8 * r.base_median);
	assert_true(r.latency_p < 1e-6);
	/* empty baseline: inconclusive, never pass */
	struct canary_side empty = { NULL, 0, 0 };
	canary_analyze(NULL, &empty, &(struct canary_side){ same, 400, 0 }, &r);
	assert_int_equal(r.verdict, CANARY_INCONCLUSIVE);
}

static void test_diff(void **state)
{
	(void)state;
	struct buf d = BUF_INIT;
	const char *a = "{\"b\":1,\"a\":{\"x\":true}}", *b = "{\"a\":{\"x\":false},\"b\":1}";
	vdoc_diff(a, strlen(a), b, strlen(b), &d);
	/* keys are sorted first, so only the changed line differs */
	assert_non_null(strstr(d.data, "-     \"x\": true\n"));
	assert_non_null(strstr(d.data, "+     \"x\": false\n"));
	assert_non_null(strstr(d.data, "    \"b\": 1\n"));
	assert_null(strstr(d.data, "- \"b\""));
	buf_reset(&d);
	vdoc_diff(a, strlen(a), a, strlen(a), &d);
	assert_null(strchr(d.data, '+'));
	buf_release(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canary),
		cmocka_unit_test(test_diff),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
