/* Unit tests for log error classes: a new error-level class is reported
 * after the warm-up, and a warn-or-worse class whose rate jumps is too. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/arena.h"
#include "core/time.h"
#include "detect/logclass.h"

struct recorder {
	char active[32][200];
	int n_active;
};

static void record(void *ctx, const struct alert_signal *s)
{
	struct recorder *r = ctx;
	if (s->active && r->n_active < 32) {
		for (int i = 0; i < r->n_active; i++)
			if (!strcmp(r->active[i], s->name))
				return;
		snprintf(r->active[r->n_active++], 200, "%s", s->name);
	}
}

static bool has_prefix(const struct recorder *r, const char *p)
{
	for (int i = 0; i < r->n_active; i++)
		if (!strncmp(r->active[i], p, strlen(p)))
			return true;
	return false;
}

static struct resource res = { .service = "checkout" };

static void feed(struct logclass *lc, const char *body, uint8_t sev, int64_t t, int n)
{
	struct arena a;
	arena_init(&a, 0);
	struct telemetry_batch b = { .arena = &a };
	b.logs = arena_zalloc(&a, (size_t)n * sizeof(struct log_record));
	b.n_logs = (size_t)n;
	for (int i = 0; i < n; i++) {
		struct log_record *r = &b.logs[i];
		r->time_ns = t;
		r->severity = sev;
		r->body = arena_printf(&a, body, i);
		r->body_len = (uint32_t)strlen(r->body);
		r->resource = &res;
	}
	logclass_observe(lc, &b);
	arena_release(&a);
}

static void test_new_error_class(void **state)
{
	(void)state;
	struct logclass *lc;
	struct buf err = BUF_INIT;
	assert_int_equal(logclass_create(NULL, &lc, &err), 0);
	struct recorder rec = { 0 };
	struct alert_sink sink = { record, &rec };
	int64_t t = ooda_now_ns();
	feed(lc, "order %d placed", 9, t, 500);
	feed(lc, "early error %d", 17, t, 1); /* during warm-up: not reported */
	logclass_tick(lc, t, &sink);
	assert_false(has_prefix(&rec, "pattern:"));
	feed(lc, "order %d placed", 9, t, 700);
	feed(lc, "payment gateway timeout for order %d", 17, t, 3);
	logclass_tick(lc, t, &sink);
	assert_true(has_prefix(&rec, "pattern:checkout/"));
	struct buf out = BUF_INIT;
	logclass_json(lc, "checkout", 0, 17, 10, &out);
	assert_non_null(strstr(out.data, "payment gateway timeout for order <*>"));
	assert_null(strstr(out.data, "placed"));
	buf_release(&out);
	logclass_destroy(lc);
	buf_release(&err);
}

static void test_rate_spike(void **state)
{
	(void)state;
	struct logclass *lc;
	struct buf err = BUF_INIT;
	assert_int_equal(logclass_create(NULL, &lc, &err), 0);
	struct recorder rec = { 0 };
	struct alert_sink sink = { record, &rec };
	const int64_t min = 60 * OODA_NS_PER_SEC;
	int64_t m0 = ooda_now_ns() / min - 400;
	/* 300 minutes of a steady 2-3 warnings a minute: learned, no signal */
	for (int m = 0; m < 300; m++) {
		feed(lc, "disk latency high on volume %d", 13, (m0 + m) * min + 1, 2 + (m % 2));
		logclass_tick(lc, (m0 + m + 1) * min + 1, &sink);
	}
	assert_false(has_prefix(&rec, "pattern-spike:"));
	/* then 60 a minute */
	for (int m = 300; m < 303; m++) {
		feed(lc, "disk latency high on volume %d", 13, (m0 + m) * min + 1, 60);
		logclass_tick(lc, (m0 + m + 1) * min + 1, &sink);
	}
	assert_true(has_prefix(&rec, "pattern-spike:checkout/"));
	logclass_destroy(lc);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_error_class),
		cmocka_unit_test(test_rate_spike),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
