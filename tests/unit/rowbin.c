/* Unit tests for the RowBinary encoder and reader, ClickHouse quoting, and
 * the SQL a ClickHouse scan sends (store/rowbin.h, store/tstore_clickhouse.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "store/rowbin.h"
#include "store/tblock.h"
#include "store/tstore_clickhouse.h"

static void expect_bytes(const struct buf *b, const void *want, size_t n)
{
	assert_int_equal(b->len, n);
	assert_memory_equal(b->data, want, n);
}

static void test_encoder(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	rowbin_u8(&b, 0xab);
	expect_bytes(&b, "\xab", 1);
	buf_reset(&b);
	rowbin_u16(&b, 0x1234);
	expect_bytes(&b, "\x34\x12", 2);
	buf_reset(&b);
	rowbin_i64(&b, -2);
	expect_bytes(&b, "\xfe\xff\xff\xff\xff\xff\xff\xff", 8);
	buf_reset(&b);
	rowbin_u64(&b, 0x0102030405060708ULL);
	expect_bytes(&b, "\x08\x07\x06\x05\x04\x03\x02\x01", 8);
	buf_reset(&b);
	rowbin_f64(&b, 1.0); /* IEEE 754 little-endian */
	expect_bytes(&b, "\x00\x00\x00\x00\x00\x00\xf0\x3f", 8);
	buf_reset(&b);
	/* LEB128 lengths: one byte below 128, two from 128 */
	rowbin_uleb(&b, 0);
	rowbin_uleb(&b, 127);
	rowbin_uleb(&b, 128);
	rowbin_uleb(&b, 300);
	expect_bytes(&b, "\x00\x7f\x80\x01\xac\x02", 6);
	buf_reset(&b);
	rowbin_str(&b, "abc", 3);
	rowbin_str(&b, NULL, 0);
	expect_bytes(&b, "\x03" "abc" "\x00", 5);
	buf_reset(&b);
	rowbin_nstr(&b, NULL);
	rowbin_nstr(&b, "x");
	expect_bytes(&b, "\x01\x00\x01x", 4);
	buf_reset(&b);
	uint64_t v[2] = { 1, 0x100 };
	rowbin_u64s(&b, v, 2);
	expect_bytes(&b, "\x02\x01\0\0\0\0\0\0\0\x00\x01\0\0\0\0\0\0", 17);
	buf_reset(&b);
	/* 2026-12-06 is day 20793; before the epoch clamps to 0 */
	rowbin_date_ns(&b, INT64_C(20793) * 86400 * 1000000000 + 5);
	rowbin_date_ns(&b, -1000);
	expect_bytes(&b, "\x39\x51\x00\x00", 4);
	buf_release(&b);
}

static void test_reader(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	rowbin_i64(&b, -7);
	rowbin_str(&b, "hello", 5);
	rowbin_nstr(&b, NULL);
	rowbin_nstr(&b, "w");
	struct rowbin_reader r = { (const uint8_t *)b.data, (const uint8_t *)b.data + b.len };
	int64_t i;
	const char *s;
	size_t n;
	assert_int_equal(rowbin_read_i64(&r, &i), 0);
	assert_int_equal(i, -7);
	assert_int_equal(rowbin_read_str(&r, 4, &s, &n), -1); /* over the bound */
	assert_int_equal(rowbin_read_str(&r, 16, &s, &n), 0);
	assert_int_equal(n, 5);
	assert_memory_equal(s, "hello", 5);
	assert_int_equal(rowbin_read_nstr(&r, 16, &s, &n), 0);
	assert_null(s);
	assert_int_equal(rowbin_read_nstr(&r, 16, &s, &n), 0);
	assert_memory_equal(s, "w", 1);
	assert_true(r.p == r.end);
	/* a row cut short asks for more and does not move */
	struct rowbin_reader t = { (const uint8_t *)b.data, (const uint8_t *)b.data + 10 };
	assert_int_equal(rowbin_read_i64(&t, &i), 0);
	const uint8_t *at = t.p;
	assert_int_equal(rowbin_read_str(&t, 16, &s, &n), 1);
	assert_true(t.p == at);
	/* eleven continuation bytes are no length */
	static const uint8_t bad[12] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
	struct rowbin_reader u = { bad, bad + sizeof(bad) };
	uint64_t x;
	assert_int_equal(rowbin_read_uleb(&u, &x), -1);
	buf_release(&b);
}

static void test_quote(void **state)
{
	(void)state;
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "checkout", "'checkout'" },
		{ "a'b", "'a\\'b'" },
		{ "x\\' OR 1=1 --", "'x\\\\\\' OR 1=1 --'" },
		{ "line\nbreak\t", "'line\\x0abreak\\x09'" },
		{ "'); DROP TABLE logs; --", "'\\'); DROP TABLE logs; --'" },
		{ "", "''" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b = BUF_INIT;
		chsql_quote(&b, cases[i].in, strlen(cases[i].in));
		buf_addch(&b, 0);
		assert_string_equal(b.data, cases[i].want);
		buf_release(&b);
	}
	assert_true(chsql_ident_ok("ooda_telemetry"));
	assert_false(chsql_ident_ok("ooda`; DROP"));
	assert_false(chsql_ident_ok("1db"));
	assert_false(chsql_ident_ok(""));
}

static void test_scan_sql(void **state)
{
	(void)state;
	const char *svc[2] = { "check'out", "cart" };
	uint64_t toks[2] = { 42, 0 };
	uint8_t tid[16] = { 0xab, 1 };
	struct tstore_scan q = { .signal = SIGNAL_LOGS, .from_ns = INT64_C(86400000000000), .to_ns = INT64_C(172800000000000),
				 .services = svc, .n_services = 2, .min_severity = 17, .tokens = toks, .n_tokens = 2,
				 .trace_id = tid };
	struct buf b = BUF_INIT;
	assert_int_equal(ch_scan_sql("ooda", &q, &b), 0);
	buf_addch(&b, 0);
	assert_string_equal(b.data,
			    "SELECT time, time, rec FROM `ooda`.logs WHERE 1 AND time >= 86400000000000 AND time <= "
			    "172800000000000 AND day >= '1970-01-02' AND day <= '1970-01-03' AND service IN ('check\\'out','cart') "
			    "AND severity >= 17 AND trace_id = unhex('ab010000000000000000000000000000') AND "
			    "hasAll(tokens, [toUInt64(42),toUInt64(1)]) ORDER BY time DESC FORMAT RowBinary");
	buf_reset(&b);
	/* the trace id's token adds nothing to the trace id filter and is left out */
	uint64_t tt = tblock_token_hash("ab010000000000000000000000000000", 32);
	struct tstore_scan s = { .signal = SIGNAL_SPANS, .oldest_first = true, .trace_id = tid, .tokens = &tt,
				 .n_tokens = 1 };
	assert_int_equal(ch_scan_sql("db", &s, &b), 0);
	buf_addch(&b, 0);
	assert_null(strstr(b.data, "hasAll"));
	assert_non_null(strstr(b.data, "FROM `db`.spans WHERE 1 AND trace_id = unhex('ab01"));
	assert_non_null(strstr(b.data, "(service, day) IN (SELECT service, day FROM `db`.traces"));
	assert_non_null(strstr(b.data, "ORDER BY tmin ASC"));
	buf_reset(&b);
	/* no upper bound: no day bound past what Date holds */
	struct tstore_scan open_end = { .signal = SIGNAL_METRICS, .from_ns = INT64_C(1796515200000000000) };
	assert_int_equal(ch_scan_sql("db", &open_end, &b), 0);
	buf_addch(&b, 0);
	assert_non_null(strstr(b.data, "AND day >= '2026-12-06'"));
	assert_null(strstr(b.data, "day <="));
	buf_reset(&b);
	struct tstore_scan bad = { .signal = SIGNAL_EVENTS };
	assert_int_equal(ch_scan_sql("db", &bad, &b), OODA_EINVAL);
	buf_release(&b);
}

static void test_url_check(void **state)
{
	(void)state;
	static const struct {
		const char *url;
		int rc;
	} cases[] = {
		{ "http://127.0.0.1:8123", 0 },
		{ "https://ch.example:8443", 0 },
		{ "http://user:secret@127.0.0.1:8123", OODA_EINVAL },
		{ "ftp://127.0.0.1", OODA_EINVAL },
		{ "http://127.0.0.1:8123/?query=DROP", OODA_EINVAL },
		{ "http://", OODA_EINVAL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf err = BUF_INIT;
		assert_int_equal(ch_url_check(cases[i].url, &err), cases[i].rc);
		if (cases[i].rc)
			assert_null(strstr(err.data, "secret"));
		buf_release(&err);
	}
}

/* Without a server the open fails at once, as unavailable, naming the URL. */
static void test_open_unreachable(void **state)
{
	(void)state;
	struct tstore_options o = { .backend = "clickhouse", .clickhouse = { .url = "http://127.0.0.1:1",
									     .password = "pw-must-not-show" } };
	struct tstore *t = NULL;
	struct buf err = BUF_INIT;
	assert_int_equal(tstore_open("/nonexistent", &o, &t, &err), OODA_EUNAVAIL);
	assert_null(t);
	assert_non_null(strstr(err.data, "127.0.0.1:1"));
	assert_null(strstr(err.data, "pw-must-not-show"));
	buf_release(&err);
	o.backend = "mysql";
	assert_int_equal(tstore_open("/nonexistent", &o, &t, &err), OODA_EINVAL);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encoder),       cmocka_unit_test(test_reader),
		cmocka_unit_test(test_quote),         cmocka_unit_test(test_scan_sql),
		cmocka_unit_test(test_url_check),     cmocka_unit_test(test_open_unreachable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
