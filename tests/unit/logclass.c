/* Unit tests for log error classes: a new error-level class is reported
 * after the warm-up, a warn-or-worse class whose rate jumps is too, and
 * the miners saved in the control store come back after a restart without
 * their known error classes being reported as new again. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/arena.h"
#include "core/time.h"
#include "core/error.h"
#include "detect/logclass.h"
#include "store/store.h"

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

static char *tmpdir(void)
{
	char *d = strdup("/tmp/ooda-logclass-XXXXXX");
	assert_non_null(mkdtemp(d));
	return d;
}

static void rmrf(const char *d)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
	assert_int_equal(system(cmd), 0);
}

/* A logclass restored from the store in dir (as the daemon does at start). */
static struct logclass *restart(struct store *st, int want_restored)
{
	struct logclass *lc;
	struct buf err = BUF_INIT;
	assert_int_equal(logclass_create(NULL, &lc, &err), 0);
	int n = logclass_restore(lc, st, &err);
	if (n != want_restored)
		fail_msg("restored %d services, expected %d (%s)", n, want_restored, err.data);
	buf_release(&err);
	return lc;
}

/* The "count" of the pattern whose template is tmpl, from the JSON of logclass_json. */
static long long count_of(struct logclass *lc, const char *tmpl, char *first_seen, size_t fs_size)
{
	struct buf out = BUF_INIT;
	logclass_json(lc, "checkout", 0, 0, 100, &out);
	long long count = -1;
	const char *t = strstr(out.data, tmpl);
	if (t) {
		const char *f = strstr(t, "\"first_seen\":\"");
		const char *c = strstr(t, "\"count\":");
		if (f && first_seen)
			snprintf(first_seen, fs_size, "%.30s", f + 14);
		if (c)
			count = atoll(c + 8);
	}
	buf_release(&out);
	return count;
}

/* Stores one pattern snapshot row as it is, as a write of the store. */
static int put_snapshot_tx(struct store *s, void *ctx, struct buf *err)
{
	(void)err;
	return store_pattern_snapshot_put(s, ctx);
}

static void test_saved_and_restored(void **state)
{
	(void)state;
	char *dir = tmpdir();
	struct store *st;
	struct buf err = BUF_INIT;
	assert_int_equal(store_open(dir, 0, &st, &err), 0);
	struct logclass *lc = restart(st, 0);
	struct recorder rec = { 0 };
	struct alert_sink sink = { record, &rec };
	int64_t t = ooda_now_ns();
	const int64_t min = 60 * OODA_NS_PER_SEC;
	feed(lc, "order %d placed", 9, t, 1200);
	feed(lc, "payment gateway timeout for order %d", 17, t, 3);
	logclass_tick(lc, t, &sink);
	assert_true(has_prefix(&rec, "pattern:checkout/"));
	char first[40] = "", first_after[40] = "";
	long long before = count_of(lc, "payment gateway timeout for order <*>", first, sizeof(first));
	assert_int_equal(before, 3);

	/* nothing is written before a minute has passed since the start */
	logclass_tick(lc, t + 1, &sink);
	struct logclass *peek = restart(st, 0);
	logclass_destroy(peek);
	/* a minute later the tick saves */
	logclass_tick(lc, t + min + 1, &sink);
	peek = restart(st, 1);
	assert_int_equal(count_of(peek, "payment gateway timeout for order <*>", NULL, 0), 3);
	logclass_destroy(peek);
	/* lines after that save reach the store at the next save only */
	feed(lc, "payment gateway timeout for order %d", 17, t + 2, 2);
	logclass_tick(lc, t + min + 2, &sink);
	peek = restart(st, 1);
	assert_int_equal(count_of(peek, "payment gateway timeout for order <*>", NULL, 0), 3);
	logclass_destroy(peek);
	assert_int_equal(logclass_save(lc, t + min + 3, &err), 0); /* as at shutdown */
	logclass_destroy(lc);

	/* restart: the class is known, past the warm-up, with its count and first-seen time */
	lc = restart(st, 1);
	struct recorder rec2 = { 0 };
	struct alert_sink sink2 = { record, &rec2 };
	assert_int_equal(count_of(lc, "payment gateway timeout for order <*>", first_after, sizeof(first_after)), 5);
	assert_string_equal(first_after, first);
	feed(lc, "payment gateway timeout for order %d", 17, t + 3, 4);
	logclass_tick(lc, t + 2 * min, &sink2);
	assert_false(has_prefix(&rec2, "pattern:checkout/"));
	assert_int_equal(count_of(lc, "payment gateway timeout for order <*>", NULL, 0), 9);
	/* a class never seen before is new at once: the warm-up is not started again */
	feed(lc, "inventory service refused reservation %d", 17, t + 4, 1);
	logclass_tick(lc, t + 2 * min + 1, &sink2);
	assert_true(has_prefix(&rec2, "pattern:checkout/"));
	logclass_destroy(lc);
	store_close(st);

	/* a stored snapshot that does not load: that service starts fresh, the others still load */
	assert_int_equal(store_open(dir, 0, &st, &err), 0);
	static const char junk[] = "OPAT\x01\x00\x00\x00garbage";
	struct pattern_snapshot_row bad = { .service = "broken", .saved_ns = t, .lines = 5, .snapshot = junk,
					    .snapshot_len = sizeof(junk) - 1 };
	assert_int_equal(store_write(st, put_snapshot_tx, &bad, &err), 0);
	lc = restart(st, 1);
	assert_int_equal(count_of(lc, "payment gateway timeout for order <*>", NULL, 0), 9);
	struct arena a;
	arena_init(&a, 0);
	struct telemetry_batch b = { .arena = &a, .n_logs = 1 };
	struct resource broken = { .service = "broken" };
	struct log_record r = { .time_ns = t, .severity = 9, .body = "fresh start", .body_len = 11, .resource = &broken };
	b.logs = &r;
	logclass_observe(lc, &b);
	arena_release(&a);
	struct buf out = BUF_INIT;
	logclass_json(lc, "broken", 0, 0, 10, &out);
	assert_non_null(strstr(out.data, "\"count\":1,"));
	buf_release(&out);
	logclass_destroy(lc);
	store_close(st);
	rmrf(dir);
	free(dir);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_error_class),
		cmocka_unit_test(test_rate_spike),
		cmocka_unit_test(test_saved_and_restored),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
