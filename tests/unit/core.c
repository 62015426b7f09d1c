/* Unit tests for src/core: buf, arena, time and duration parsing, errors, hex. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/hex.h"
#include "core/time.h"

static void test_buf(void **state)
{
	struct buf b = BUF_INIT;
	assert_string_equal(b.data, "");
	buf_addf(&b, "%d-%s", 42, "x");
	buf_addch(&b, '!');
	assert_string_equal(b.data, "42-x!");
	buf_reset(&b);
	buf_add_json_str(&b, "a\"b\\c\n\x01", 7);
	assert_string_equal(b.data, "\"a\\\"b\\\\c\\n\\u0001\"");
	for (int i = 0; i < 10000; i++)
		buf_addch(&b, 'y');
	assert_int_equal(b.len, 17 + 10000);
	size_t len;
	char *s = buf_detach(&b, &len);
	assert_int_equal(len, 10017);
	free(s);
	/* what is not UTF-8 (a path like /label/%FF/values, a stray byte in a log) stays valid JSON */
	static const struct {
		const char *in;
		size_t len;
		const char *want;
	} utf8[] = {
		{ "caf\xc3\xa9", 5, "\"caf\xc3\xa9\"" },                    /* 2 bytes, kept */
		{ "\xe2\x82\xac \xf0\x9f\x94\xa5", 8, "\"\xe2\x82\xac \xf0\x9f\x94\xa5\"" }, /* 3 and 4 bytes */
		{ "a\xff" "b", 3, "\"a\\ufffdb\"" },                         /* never valid */
		{ "\xc0\xaf", 2, "\"\\ufffd\\ufffd\"" },                   /* overlong '/' */
		{ "\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"" },         /* a surrogate */
		{ "\xf4\x90\x80\x80", 4, "\"\\ufffd\\ufffd\\ufffd\\ufffd\"" }, /* past U+10FFFF */
		{ "x\xe2\x82", 3, "\"x\\ufffd\\ufffd\"" },                 /* cut short at the end */
	};
	for (size_t i = 0; i < sizeof(utf8) / sizeof(utf8[0]); i++) {
		buf_reset(&b);
		buf_add_json_str(&b, utf8[i].in, utf8[i].len);
		assert_string_equal(b.data, utf8[i].want);
	}
	s = buf_detach(&b, &len);
	assert_string_equal(b.data, "");
	free(s);
	buf_release(&b);
}

static void test_arena(void **state)
{
	struct arena a;
	arena_init(&a, 128);
	char *big = arena_alloc(&a, 1000);
	memset(big, 'x', 1000);
	char *s = arena_strdup(&a, "hello");
	assert_string_equal(s, "hello");
	assert_int_equal(((uintptr_t)arena_alloc(&a, 3)) % 16, 0);
	assert_string_equal(arena_printf(&a, "%s/%d", "a", 7), "a/7");
	a.limit = a.used + 32;
	assert_null(arena_alloc(&a, 64));
	arena_release(&a);
}

static void test_time_parse(void **state)
{
	static const struct {
		const char *in;
		int rc;
		int64_t ns;
	} cases[] = {
		{ "1970-01-01T00:00:00Z", 0, 0 },
		{ "2026-11-25T10:00:00.5Z", 0, INT64_C(1795600800500000000) },
		{ "2026-11-25T12:00:00+02:00", 0, INT64_C(1795600800000000000) },
		{ "2026-11-25", 0, INT64_C(1795564800000000000) },
		{ "1795600800", 0, INT64_C(1795600800000000000) },
		{ "1795600800000", 0, INT64_C(1795600800000000000) },
		{ "1795600800000000000", 0, INT64_C(1795600800000000000) },
		{ "2026-13-01T00:00:00Z", OODA_EINVAL, 0 },
		{ "2026-11-25T10:00:00", OODA_EINVAL, 0 },
		{ "yesterday", OODA_EINVAL, 0 },
		{ "", OODA_EINVAL, 0 },
		/* the edges of the representable range, and just past them */
		{ "2262-04-11T23:47:16.854775807Z", 0, INT64_MAX },
		{ "2262-04-11T23:47:16.854775808Z", OODA_EINVAL, 0 },
		{ "9223372036854775807", 0, INT64_MAX },
		{ "1969-12-31T23:59:59.999Z", OODA_EINVAL, 0 },
		{ "0001-01-01T00:00:00Z", OODA_EINVAL, 0 },
		{ "9999-12-31T23:59:59Z", OODA_EINVAL, 0 },
		{ "-9223372036854775809", OODA_EINVAL, 0 },
		{ "-9223372036854775808", OODA_EINVAL, 0 },
		{ "9223372036854775808", OODA_EINVAL, 0 },
		{ "-1", OODA_EINVAL, 0 },
		{ "99999999999", OODA_EINVAL, 0 }, /* year 5138 */
		{ "9223372036", 0, INT64_C(9223372036) * OODA_NS_PER_SEC },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t ns = -1;
		int rc = ooda_time_parse(cases[i].in, strlen(cases[i].in), &ns);
		assert_int_equal(rc, cases[i].rc);
		if (!rc)
			assert_int_equal(ns, cases[i].ns);
	}
	char out[40];
	assert_string_equal(ooda_time_format(INT64_C(1795600800500000000), out, sizeof(out)),
			    "2026-11-25T10:00:00.500Z");
}

static void test_time_arith(void **state)
{
	int64_t r = 7;
	assert_int_equal(ooda_ns_add(1, 2, &r), 0);
	assert_int_equal(r, 3);
	assert_int_equal(ooda_ns_add(INT64_MAX, 1, &r), OODA_EINVAL);
	assert_int_equal(r, 3); /* untouched on overflow */
	assert_int_equal(ooda_ns_sub(INT64_MIN, 1, &r), OODA_EINVAL);
	assert_int_equal(ooda_ns_sub(0, INT64_MAX, &r), 0);
	assert_int_equal(r, -INT64_MAX);
	assert_int_equal(ooda_ns_mul(INT64_C(1) << 40, OODA_NS_PER_SEC, &r), OODA_EINVAL);
	assert_int_equal(ooda_ns_mul(-3, OODA_NS_PER_SEC, &r), 0);
	assert_int_equal(r, -3 * OODA_NS_PER_SEC);
	assert_int_equal(ooda_ns_add_sat(INT64_MAX, 5), INT64_MAX);
	assert_int_equal(ooda_ns_add_sat(INT64_MIN, -5), INT64_MIN);
	assert_int_equal(ooda_ns_sub_sat(INT64_MIN, 1), INT64_MIN);
	assert_int_equal(ooda_ns_sub_sat(0, INT64_MIN), INT64_MAX);
	assert_int_equal(ooda_ns_sub_sat(10, 3), 7);
	assert_int_equal(ooda_ns_mul_sat(INT64_MAX / 2, 3), INT64_MAX);
	assert_int_equal(ooda_ns_mul_sat(-(INT64_MAX / 2), 3), INT64_MIN);
	assert_int_equal(ooda_ns_mul_sat(-4, -5), 20);
	assert_int_equal(ooda_time_from_u64(UINT64_C(1) << 63, &r), OODA_EINVAL);
	assert_int_equal(ooda_time_from_u64(UINT64_MAX, &r), OODA_EINVAL);
	assert_int_equal(ooda_time_from_u64((uint64_t)INT64_MAX, &r), 0);
	assert_int_equal(r, INT64_MAX);
	assert_true(ooda_time_valid(0));
	assert_false(ooda_time_valid(-1));
	char out[40];
	assert_string_equal(ooda_time_format(INT64_MAX, out, sizeof(out)), "2262-04-11T23:47:16.854Z");
}

static void test_duration(void **state)
{
	static const struct {
		const char *in;
		int rc;
		int64_t ns;
	} cases[] = {
		{ "15m", 0, 15 * 60 * OODA_NS_PER_SEC },
		{ "1h30m", 0, 90 * 60 * OODA_NS_PER_SEC },
		{ "250ms", 0, 250 * OODA_NS_PER_MS },
		{ "1.5h", 0, 90 * 60 * OODA_NS_PER_SEC },
		{ "7d", 0, 7 * 86400 * OODA_NS_PER_SEC },
		{ "5", OODA_EINVAL, 0 },
		{ "m", OODA_EINVAL, 0 },
		{ "5x", OODA_EINVAL, 0 },
		{ "292y", 0, INT64_C(292) * 31536000 * OODA_NS_PER_SEC },
		{ "1000000y", OODA_EINVAL, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t ns = -1;
		assert_int_equal(ooda_duration_parse(cases[i].in, strlen(cases[i].in), &ns), cases[i].rc);
		if (!cases[i].rc)
			assert_int_equal(ns, cases[i].ns);
	}
	char out[32];
	assert_string_equal(ooda_duration_format(5400 * OODA_NS_PER_SEC, out, sizeof(out)), "1h30m");
}

static void test_errors(void **state)
{
	assert_int_equal(ooda_http_status(OODA_ENOTFOUND), 404);
	assert_int_equal(ooda_http_status(OODA_EUNAUTH), 401);
	assert_string_equal(ooda_strerror(OODA_ECONFLICT), "conflict");
	assert_string_equal(ooda_errname(OODA_EBUSY), "EBUSY");
	assert_string_equal(ooda_strerror(-9999), "unknown error");
}

static void test_hex(void **state)
{
	static const struct {
		const char *text;
		size_t n;     /* bytes wanted */
		int rc;
		uint8_t bytes[8];
		const char *lower; /* hex_encode of bytes, when rc is 0 */
	} cases[] = {
		{ "00ff10ab", 4, 0, { 0x00, 0xff, 0x10, 0xab }, "00ff10ab" },
		{ "DEADbeef", 4, 0, { 0xde, 0xad, 0xbe, 0xef }, "deadbeef" },
		{ "", 0, 0, { 0 }, "" },
		{ "0123456789abcdef", 8, 0, { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef }, "0123456789abcdef" },
		{ "abc", 2, -1, { 0 }, NULL },   /* odd length */
		{ "abcd", 1, -1, { 0 }, NULL },  /* longer than wanted */
		{ "0g", 1, -1, { 0 }, NULL },    /* not a hex digit */
		{ "0x", 1, -1, { 0 }, NULL },
		{ " 1", 1, -1, { 0 }, NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t out[8] = { 0 };
		int rc = hex_decode(cases[i].text, strlen(cases[i].text), out, cases[i].n);
		assert_int_equal(rc, cases[i].rc);
		if (rc)
			continue;
		assert_memory_equal(out, cases[i].bytes, cases[i].n);
		char text[17];
		memset(text, 'x', sizeof(text));
		hex_encode(out, cases[i].n, text);
		assert_string_equal(text, cases[i].lower);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf),
		cmocka_unit_test(test_arena),
		cmocka_unit_test(test_time_parse),
		cmocka_unit_test(test_time_arith),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_hex),
	};
	return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
