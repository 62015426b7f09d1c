/* Unit tests for the change stage: canary statistics, the version diff
 * (JSON schemas: tests/unit/jschema.c), and the queryable document status
 * the rollback runner resumes runs by. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "change/canary.h"
#include "audit/docwrite.h"
#include "store/vdoc.h"
#include "core/error.h"
#include "store/store.h"
#include "store/sqlite_sql.h"

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

static void put_run(struct store *s, const char *key, const char *body)
{
	json_t *j = json_loads(body, 0, NULL);
	assert_non_null(j);
	struct buf err = BUF_INIT;
	struct vdoc_write w = { .kind = "rollback-run", .key = key, .body = body, .body_len = strlen(body),
				.status = json_string_value(json_object_get(j, "status")), .expect_version = -1,
				.actor = "test", .rationale = "test", .action = "rollback.step", .target = key };
	if (vdoc_put(s, NULL, &w, &err))
		fail_msg("put %s: %s", key, err.data);
	json_decref(j);
	buf_release(&err);
}

static int key_row(void *ctx, const void *row)
{
	const struct doc_row *r = row;
	struct buf *keys = ctx;
	buf_addf(keys, "%s%s", keys->len ? "," : "", r->key);
	return 0;
}

static void rm_dir(const char *dir)
{
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* Runs are found by the status they were last written with, not by matching text in their bodies. */
static void test_status_query(void **state)
{
	(void)state;
	char dir[] = "/tmp/ooda-change-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct store *s;
	struct buf err = BUF_INIT, keys = BUF_INIT;
	assert_int_equal(store_open(dir, 0, &s, &err), 0);
	put_run(s, "rb-a", "{\"id\":\"rb-a\",\"status\":\"running\"}");
	put_run(s, "rb-b", "{\"id\":\"rb-b\",\"status\":\"running\"}");
	/* finished, though its verification says "status":"running" (a text match found it) */
	put_run(s, "rb-b", "{\"id\":\"rb-b\",\"status\":\"done\",\"verification\":{\"status\":\"running\"}}");
	put_run(s, "rb-c", "{\"id\":\"rb-c\",\"status\":\"failed\"}");
	put_run(s, "rb-d", "{\"id\":\"rb-d\",\"status\":\"running\"}");
	assert_int_equal(vdoc_list_status(s, "rollback-run", "running", key_row, &keys), 0);
	assert_string_equal(keys.data, "rb-a,rb-d");
	buf_reset(&keys);
	assert_int_equal(vdoc_list_status(s, "rollback-run", "done", key_row, &keys), 0);
	assert_string_equal(keys.data, "rb-b");
	buf_reset(&keys);
	assert_int_equal(vdoc_list_status(s, "flag", "running", key_row, &keys), 0);
	assert_string_equal(keys.data, "");
	store_close(s);
	rm_dir(dir);
	buf_release(&keys);
	buf_release(&err);
}

/* A run left running by a version before the status column is found after the upgrade. */
static void test_status_upgrade(void **state)
{
	(void)state;
	char dir[] = "/tmp/ooda-change-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[64];
	snprintf(path, sizeof(path), "%s/control.db", dir);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	for (int v = 0; v < 3; v++) /* schema 3: docs without a status */
		assert_int_equal(sqlite3_exec(db, sql_migrations[v], NULL, NULL, NULL), SQLITE_OK);
	(void)sql_text;
	const char *rows =
		"PRAGMA user_version = 3;"
		"INSERT INTO docs VALUES('rollback-run', 'rb-old', 1, 1, 'a', '', '{\"status\":\"running\"}', 0);"
		"INSERT INTO docs VALUES('rollback-run', 'rb-old', 2, 2, 'a', '', '{\"status\":\"running\",\"state\":[\"done\"]}', 0);"
		"INSERT INTO docs VALUES('rollback-run', 'rb-fin', 1, 1, 'a', '', '{\"status\":\"running\"}', 0);"
		"INSERT INTO docs VALUES('rollback-run', 'rb-fin', 2, 2, 'a', '', '{\"status\":\"done\"}', 0);"
		"INSERT INTO docs VALUES('flag', 'prod/x', 1, 1, 'a', '', '{\"status\":\"running\"}', 0);";
	assert_int_equal(sqlite3_exec(db, rows, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	struct store *s;
	struct buf err = BUF_INIT, keys = BUF_INIT;
	if (store_open(dir, 0, &s, &err))
		fail_msg("upgrade: %s", err.data);
	assert_int_equal(vdoc_list_status(s, "rollback-run", "running", key_row, &keys), 0);
	assert_string_equal(keys.data, "rb-old");
	buf_reset(&keys);
	assert_int_equal(vdoc_list_status(s, "flag", "running", key_row, &keys), 0);
	assert_string_equal(keys.data, ""); /* only runs have a status */
	store_close(s);
	rm_dir(dir);
	buf_release(&keys);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canary),
		cmocka_unit_test(test_diff),
		cmocka_unit_test(test_status_query),
		cmocka_unit_test(test_status_upgrade),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
