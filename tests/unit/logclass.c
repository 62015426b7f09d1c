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
#include "store_at.h"

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

/* A batch of n lines: body i of fmt at severity sev for service svc[i % n_svc]. */
static void batch_fill(struct telemetry_batch *b, struct arena *a, struct resource *svc, size_t n_svc,
		       const char *fmt, uint8_t sev, int64_t t, size_t n)
{
	b->arena = a;
	b->logs = arena_zalloc(a, n * sizeof(struct log_record));
	b->n_logs = n;
	for (size_t i = 0; i < n; i++) {
		struct log_record *r = &b->logs[i];
		r->time_ns = t + (int64_t)i;
		r->severity = sev;
		r->body = arena_printf(a, fmt, (int)i);
		r->body_len = (uint32_t)strlen(r->body);
		r->resource = &svc[i % n_svc];
	}
}

/*
 * Lines sent through the store as rows (logclass_lines_encode) and applied
 * on another node (logclass_lines_apply) leave that node's miners as the
 * lines fed directly leave this one's: the same patterns, ids, counts and
 * times, and the same new error class reported after the warm-up.
 */
static void test_lines_agree(void **state)
{
	(void)state;
	struct logclass *here, *there;
	struct buf err = BUF_INIT;
	assert_int_equal(logclass_create(NULL, &here, &err), 0);
	assert_int_equal(logclass_create(NULL, &there, &err), 0);
	/* an empty service name is a name like any other */
	struct resource svcs[3] = { { .service = "checkout" }, { .service = "cart" }, { .service = "" } };
	int64_t t = INT64_C(1795600860) * OODA_NS_PER_SEC;
	const char *fmts[] = { "order %d placed", "cart %d emptied by user", NULL };
	uint8_t sevs[] = { 9, 9 };
	for (int k = 0; fmts[k]; k++) {
		struct arena a;
		arena_init(&a, 0);
		struct telemetry_batch b = { 0 };
		batch_fill(&b, &a, svcs, 3, fmts[k], sevs[k], t, 1800);
		logclass_observe(here, &b);
		struct buf *rows = NULL;
		size_t n = logclass_lines_encode(&b, &rows);
		assert_int_equal(n, 1);
		assert_int_equal(logclass_lines_apply(there, rows[0].data, rows[0].len, t, &err), 0);
		buf_release(&rows[0]);
		free(rows);
		arena_release(&a);
	}
	/* after the warm-up: a new error class, with a body longer than a miner considers and an empty one */
	struct arena a;
	arena_init(&a, 0);
	struct telemetry_batch b = { 0 };
	batch_fill(&b, &a, svcs, 1, "payment gateway timeout for order %d", 17, t + 5, 3);
	char *long_body = arena_zalloc(&a, 6001);
	memset(long_body, 'x', 6000);
	memcpy(long_body, "stack ", 6);
	b.logs[1].body = long_body;
	b.logs[1].body_len = 6000;
	b.logs[2].body_len = 0;
	logclass_observe(here, &b);
	struct buf *rows = NULL;
	size_t n = logclass_lines_encode(&b, &rows);
	assert_int_equal(n, 1);
	assert_true(rows[0].len < 4096 + 200); /* the long body was cut to what a miner considers */
	assert_int_equal(logclass_lines_apply(there, rows[0].data, rows[0].len, t, &err), 0);
	buf_release(&rows[0]);
	free(rows);
	arena_release(&a);

	struct buf x = BUF_INIT, y = BUF_INIT;
	logclass_json(here, NULL, 0, 0, 1000, &x);
	logclass_json(there, NULL, 0, 0, 1000, &y);
	assert_string_equal(x.data, y.data);
	assert_non_null(strstr(y.data, "\"count\":600"));
	assert_non_null(strstr(y.data, "\"service\":\"\""));
	assert_non_null(strstr(y.data, "payment gateway timeout for order <*>"));
	struct recorder ra = { 0 }, rb = { 0 };
	struct alert_sink sa = { record, &ra }, sb = { record, &rb };
	logclass_tick(here, t, &sa);
	logclass_tick(there, t, &sb);
	assert_int_equal(rb.n_active, ra.n_active);
	assert_true(has_prefix(&rb, "pattern:checkout/"));
	buf_release(&x);
	buf_release(&y);
	logclass_destroy(here);
	logclass_destroy(there);
	buf_release(&err);
}

/* A row cut short anywhere, of another version or with bytes after its end is refused whole, with a reason. */
static void test_lines_refused(void **state)
{
	(void)state;
	struct resource svc = { .service = "checkout" };
	struct arena a;
	arena_init(&a, 0);
	struct telemetry_batch b = { 0 };
	batch_fill(&b, &a, &svc, 1, "disk %d full", 17, 1000, 4);
	struct buf *rows = NULL;
	assert_int_equal(logclass_lines_encode(&b, &rows), 1);
	const struct buf *row = &rows[0];
	struct logclass *lc;
	struct buf err = BUF_INIT, out = BUF_INIT;
	assert_int_equal(logclass_create(NULL, &lc, &err), 0);
	for (size_t len = 0; len < row->len; len++) {
		buf_reset(&err);
		assert_int_equal(logclass_lines_apply(lc, row->data, len, 0, &err), OODA_ECORRUPT);
		assert_true(err.len > 0);
	}
	struct buf bad = BUF_INIT;
	buf_add(&bad, row->data, row->len);
	bad.data[0] = 2;
	buf_reset(&err);
	assert_int_equal(logclass_lines_apply(lc, bad.data, bad.len, 0, &err), OODA_ESCHEMA);
	bad.data[0] = 1;
	buf_add(&bad, "x", 1);
	buf_reset(&err);
	assert_int_equal(logclass_lines_apply(lc, bad.data, bad.len, 0, &err), OODA_ECORRUPT);
	assert_non_null(strstr(err.data, "after the last line"));
	logclass_json(lc, NULL, 0, 0, 100, &out);
	assert_string_equal(out.data, "{\"patterns\":[]}"); /* nothing of a refused row was applied */
	buf_reset(&out);
	assert_int_equal(logclass_lines_apply(lc, row->data, row->len, 0, &err), 0);
	logclass_json(lc, NULL, 0, 0, 100, &out);
	assert_non_null(strstr(out.data, "\"count\":4"));
	buf_release(&bad);
	buf_release(&out);
	buf_release(&err);
	buf_release(&rows[0]);
	free(rows);
	arena_release(&a);
	logclass_destroy(lc);
}

/* More service names than a row holds: the lines go into a second row, and every line is in one. */
static void test_lines_split(void **state)
{
	(void)state;
	enum { N = 1500 };
	struct resource *svcs = calloc(N, sizeof(*svcs));
	char (*names)[16] = calloc(N, sizeof(*names));
	for (int i = 0; i < N; i++) {
		snprintf(names[i], sizeof(names[i]), "svc-%d", i);
		svcs[i].service = names[i];
	}
	struct arena a;
	arena_init(&a, 0);
	struct telemetry_batch b = { 0 };
	batch_fill(&b, &a, svcs, N, "line %d", 9, 1000, N);
	struct buf *rows = NULL;
	size_t n = logclass_lines_encode(&b, &rows);
	assert_int_equal(n, 2);
	struct logclass_config c = { .max_services = N };
	struct logclass *lc;
	struct buf err = BUF_INIT, out = BUF_INIT;
	assert_int_equal(logclass_create(&c, &lc, &err), 0);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(logclass_lines_apply(lc, rows[i].data, rows[i].len, 0, &err), 0);
		buf_release(&rows[i]);
	}
	logclass_json(lc, "svc-1499", 0, 0, 10, &out);
	assert_non_null(strstr(out.data, "\"count\":1"));
	buf_reset(&out);
	logclass_json(lc, "svc-0", 0, 0, 10, &out);
	assert_non_null(strstr(out.data, "\"count\":1"));
	free(rows);
	buf_release(&out);
	buf_release(&err);
	arena_release(&a);
	logclass_destroy(lc);
	free(svcs);
	free(names);
}

static int prune_all_tx(struct store *s, void *ctx, struct buf *err)
{
	(void)err;
	int64_t mark = 0;
	(void)ctx;
	int rc = store_pattern_mark_get(s, &mark);
	return rc ? rc : store_pattern_lines_prune(s, mark, INT64_MAX);
}

static void json_all(struct logclass *lc, struct buf *out)
{
	buf_reset(out);
	logclass_catch_up(lc);
	logclass_json(lc, NULL, 0, 0, 1000, out);
}

/*
 * Three nodes on one control store (PostgreSQL): lines published through
 * any node reach every node's miners alike; a node not asked for anything
 * while the rows it had not read were saved and deleted reloads the saved
 * patterns and agrees again. On SQLite (one node) a publish cannot be
 * stored, and the node mines the lines itself.
 */
static void test_shared_nodes(void **state)
{
	(void)state;
	char *dir = tmpdir();
	struct store *st;
	struct buf err = BUF_INIT, ja = BUF_INIT, jb = BUF_INIT, jc = BUF_INIT;
	assert_int_equal(test_store_open(dir, 0, &st, &err), 0);
	struct logclass *n[3];
	for (int i = 0; i < 3; i++) {
		assert_int_equal(logclass_create(NULL, &n[i], &err), 0);
		assert_true(logclass_restore(n[i], st, &err) >= 0);
		logclass_share(n[i]);
	}
	struct resource svcs[2] = { { .service = "checkout" }, { .service = "cart" } };
	int64_t t = INT64_C(1795600860) * OODA_NS_PER_SEC;
	struct arena a;
	arena_init(&a, 0);
	struct telemetry_batch b = { 0 };
	batch_fill(&b, &a, svcs, 2, "order %d placed", 9, t, 1200);
	logclass_observe(n[0], &b); /* shared: the writer thread's call does nothing */
	logclass_publish(n[0], &b);
	arena_release(&a);
	json_all(n[0], &ja);
	json_all(n[1], &jb);
	if (!getenv("OODA_TEST_PG_DSN")) {
		assert_non_null(strstr(ja.data, "\"count\":600"));
		assert_string_equal(jb.data, "{\"patterns\":[]}");
		goto out;
	}
	assert_non_null(strstr(ja.data, "\"count\":600"));
	assert_string_equal(ja.data, jb.data);
	/* through the second node; the first saves; the rows the save includes are deleted */
	arena_init(&a, 0);
	batch_fill(&b, &a, svcs, 1, "payment gateway timeout for order %d", 17, t + 10, 5);
	logclass_publish(n[1], &b);
	arena_release(&a);
	assert_int_equal(logclass_save(n[0], t, &err), 0);
	assert_int_equal(store_write(st, prune_all_tx, NULL, &err), 0);
	json_all(n[0], &ja);
	json_all(n[2], &jc); /* the third had read nothing: it reloads the saved patterns */
	assert_non_null(strstr(jc.data, "payment gateway timeout for order <*>"));
	assert_string_equal(ja.data, jc.data);
	/* and goes on from there with the others */
	arena_init(&a, 0);
	batch_fill(&b, &a, svcs, 2, "cart %d emptied by user", 13, t + 20, 40);
	logclass_publish(n[2], &b);
	arena_release(&a);
	json_all(n[0], &ja);
	json_all(n[1], &jb);
	json_all(n[2], &jc);
	assert_non_null(strstr(ja.data, "cart <*> emptied by user"));
	assert_string_equal(ja.data, jb.data);
	assert_string_equal(ja.data, jc.data);
out:
	for (int i = 0; i < 3; i++)
		logclass_destroy(n[i]);
	buf_release(&ja);
	buf_release(&jb);
	buf_release(&jc);
	buf_release(&err);
	store_close(st);
	rmrf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_error_class),
		cmocka_unit_test(test_rate_spike),
		cmocka_unit_test(test_saved_and_restored),
		cmocka_unit_test(test_lines_agree),
		cmocka_unit_test(test_lines_refused),
		cmocka_unit_test(test_lines_split),
		cmocka_unit_test(test_shared_nodes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
