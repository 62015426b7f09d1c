/*
 * Unit tests for log facets: counting straight from a block's columns must
 * give, byte for byte, the answer of decoding every record — over blocks
 * wholly inside the time range and straddling its edges, blocks of the
 * earlier OTB1 layout, queries the columns can answer (service, severity)
 * and queries they cannot (words, attributes, scope), which decode.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/buf.h"
#include "query/logquery.h"
#include "query/search.h"
#include "store/tstore.h"
#include "mixed_logs.h"

#define SEC 1000000000LL

static struct resource res_cart = { .service = "cart", .host = "h9" };

/* Every record stored, kept to count matches independently of the store. */
struct corpus {
	struct arena a;
	struct log_record *v[8];
	size_t n[8], nb;
};

static void add_batch(struct tstore *t, struct corpus *c, size_t n, int64_t t0, bool odd, bool cart)
{
	struct telemetry_batch b;
	make_mixed(&c->a, &b, n, t0, odd);
	if (cart)
		for (size_t i = 0; i < n; i++)
			b.logs[i].resource = &res_cart;
	struct buf err = BUF_INIT;
	assert_int_equal(tstore_append(t, &b, &err), 0);
	buf_release(&err);
	c->v[c->nb] = b.logs;
	c->n[c->nb++] = n;
}

/* The OTB1 fixture block, stored as earlier versions stored it. */
static void add_otb1_block(const char *dir, struct corpus *c)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/telemetry.db", dir);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(db,
					    "INSERT INTO log_blocks(service, tmin, tmax, n, min_sev, max_sev, raw, bloom, data) "
					    "VALUES ('shop', ?1, ?2, 40, 0, 25, 0, NULL, ?3)",
					    -1, &st, NULL),
			 SQLITE_OK);
	sqlite3_bind_int64(st, 1, MIXED_T0);
	sqlite3_bind_int64(st, 2, MIXED_T0 + 39 * SEC);
	sqlite3_bind_blob(st, 3, otb1_mixed, sizeof(otb1_mixed), SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	sqlite3_close(db);
	struct telemetry_batch b;
	make_mixed(&c->a, &b, 40, MIXED_T0, true);
	c->v[c->nb] = b.logs;
	c->n[c->nb++] = 40;
}

static uint64_t expected_total(const struct corpus *c, const struct logquery *q, int64_t from, int64_t to)
{
	uint64_t n = 0;
	for (size_t k = 0; k < c->nb; k++)
		for (size_t i = 0; i < c->n[k]; i++) {
			const struct log_record *r = &c->v[k][i];
			n += r->time_ns >= from && r->time_ns <= to && logquery_match(q, r);
		}
	return n;
}

static void test_facets_columns_match_records(void **state)
{
	(void)state;
	char dir[] = "/tmp/ooda-search-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct buf err = BUF_INIT, fast = BUF_INIT, slow = BUF_INIT;
	struct tstore_options opt = { 0 };
	struct tstore *t;
	struct corpus c = { .nb = 0 };
	arena_init(&c.a, 0);
	assert_int_equal(tstore_open(dir, &opt, &t, &err), 0);
	tstore_close(t);
	add_otb1_block(dir, &c);
	assert_int_equal(tstore_open(dir, &opt, &t, &err), 0);
	add_batch(t, &c, 1500, MIXED_T0 + 20 * SEC, false, false); /* OTB2, answered from the columns */
	add_batch(t, &c, 1200, MIXED_T0 + 400 * SEC, true, false); /* OTB2, odd values: decoded */
	add_batch(t, &c, 300, MIXED_T0 + 50 * SEC, false, false);  /* OTB1 (small) */
	add_batch(t, &c, 100, MIXED_T0 + 50 * SEC, false, true);   /* another service */

	static const char *const queries[] = {
		"", "service:shop", "service:SHOP", "service:cart", "service:shop OR service:cart", "-service:cart",
		"service:shop severity>=warn", "level:error", "host:h1", "service:shop version:2.0",
		/* not answerable from the columns: decoded record by record */
		"service:shop timeout", "service:shop http.route:\"/api/a\"", "service:shop attr.user_id:u0*",
		"scope:shop.http", "service:shop -served",
	};
	static const char *const fields[] = {
		NULL, "service,severity,http.route", "http.route,attr.http.route,user_id,tier", "env,region,level,host",
		"scope,severity", "service,trace_id",
	};
	static const int64_t ranges[][2] = {
		{ MIXED_T0 - SEC, MIXED_T0 + 3000 * SEC },          /* every block wholly inside */
		{ MIXED_T0 + 17 * SEC + 1, MIXED_T0 + 1450 * SEC }, /* edges inside blocks */
		{ MIXED_T0 + 20 * SEC, MIXED_T0 + 1319 * SEC },     /* edges on records (inclusive) */
		{ MIXED_T0 + 100 * SEC + 1, MIXED_T0 + 101 * SEC - 1 }, /* between two records */
	};
	size_t checked = 0;
	for (size_t qi = 0; qi < sizeof(queries) / sizeof(queries[0]); qi++) {
		struct logquery *q;
		if (logquery_compile(queries[qi], strlen(queries[qi]), &q, &err))
			fail_msg("%s: %s", queries[qi], err.data);
		for (size_t fi = 0; fi < sizeof(fields) / sizeof(fields[0]); fi++)
			for (size_t ri = 0; ri < sizeof(ranges) / sizeof(ranges[0]); ri++) {
				struct search_opts o = { .from_ns = ranges[ri][0], .to_ns = ranges[ri][1] };
				buf_reset(&fast);
				buf_reset(&slow);
				assert_int_equal(search_facets(t, q, &o, fields[fi], 7, &fast, &err), 0);
				o.decode_all = true;
				assert_int_equal(search_facets(t, q, &o, fields[fi], 7, &slow, &err), 0);
				if (strcmp(fast.data, slow.data))
					fail_msg("q=%s fields=%s range=%zu\n columns: %s\n records: %s", queries[qi],
						 fields[fi] ? fields[fi] : "(default)", ri, fast.data, slow.data);
				char want[64];
				snprintf(want, sizeof(want), "{\"total\":%llu,",
					 (unsigned long long)expected_total(&c, q, o.from_ns, o.to_ns));
				if (strncmp(fast.data, want, strlen(want)))
					fail_msg("q=%s range=%zu: %s, expected %s", queries[qi], ri, fast.data, want);
				checked++;
			}
		logquery_destroy(q);
	}
	assert_int_equal(checked, 15 * 6 * 4);

	/* a spot check of the values themselves: the first http.route of a record counts,
	 * the resource's when the record has none */
	struct logquery *q;
	assert_int_equal(logquery_compile("service:shop", 12, &q, &err), 0);
	struct search_opts o = { .from_ns = MIXED_T0 + 20 * SEC, .to_ns = MIXED_T0 + 49 * SEC };
	buf_reset(&fast);
	assert_int_equal(search_facets(t, q, &o, "http.route", 10, &fast, &err), 0);
	/* 6 of the first batch's 30 records in range, 4 of the OTB1 block's 20 */
	assert_non_null(strstr(fast.data, "{\"value\":\"/dup1\",\"count\":10}"));
	assert_null(strstr(fast.data, "/dup2"));
	assert_non_null(strstr(fast.data, "{\"value\":\"/from-resource\","));
	assert_non_null(strstr(fast.data, "{\"value\":\"7\","));
	logquery_destroy(q);

	tstore_close(t);
	arena_release(&c.a);
	buf_release(&err);
	buf_release(&fast);
	buf_release(&slow);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_facets_columns_match_records),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
