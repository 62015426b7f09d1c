/* Unit tests for src/web/web.c: which Accept-Encoding values get gzip, which If-None-Match values match an asset's tag, and that the embedded table holds the shell, its modules and uPlot with gzip bodies that inflate back to the file. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <zlib.h>
#include <cmocka.h>

#include "web/web.h"

static void test_accepts_gzip(void **state)
{
	(void)state;
	static const struct {
		const char *header;
		bool gzip;
	} cases[] = {
		{ NULL, false },
		{ "", false },
		{ "gzip", true },
		{ "GZIP", true },
		{ "gzip, deflate, br", true },
		{ "br, gzip;q=0.8", true },
		{ "deflate, br", false },
		{ "gzip;q=0", false },
		{ "gzip; q=0.000", false },
		{ "identity, *;q=0.5", true },
		{ "x-gzip", false },
		{ "gzipx", false },
		{ " , ,gzip", true },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (web_accepts_gzip(cases[i].header) != cases[i].gzip)
			fail_msg("Accept-Encoding \"%s\": want gzip=%d", cases[i].header ? cases[i].header : "(none)", cases[i].gzip);
	}
}

static void test_etag_matches(void **state)
{
	(void)state;
	static const struct {
		const char *header;
		bool match;
	} cases[] = {
		{ NULL, false },
		{ "", false },
		{ "\"abc123\"", true },
		{ "\"abc123.gz\"", true },
		{ "W/\"abc123\"", true },
		{ "\"zzz\", \"abc123\"", true },
		{ "*", true },
		{ "\"abc12\"", false },
		{ "\"abc1234\"", false },
		{ "\"abc123.br\"", false },
		{ "abc123", true },
		{ "\"", false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (web_etag_matches(cases[i].header, "abc123") != cases[i].match)
			fail_msg("If-None-Match \"%s\": want match=%d", cases[i].header ? cases[i].header : "(none)", cases[i].match);
	}
}

static void test_embedded_table(void **state)
{
	(void)state;
	static const char *const want[] = { "index.html", "app.css", "js/app.js", "vendor/uplot.js", "vendor/uplot.css" };
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!web_asset_find(want[i]))
			fail_msg("asset %s is not embedded", want[i]);
	assert_null(web_asset_find("../meson.build"));
	assert_null(web_asset_find(""));
	const struct web_asset *idx = web_asset_find("index.html");
	/* the shell points at this build's assets, and its placeholder is gone */
	assert_non_null(memmem(idx->data, idx->len, web_build_id, strlen(web_build_id)));
	assert_null(memmem(idx->data, idx->len, "{{BUILD}}", 9));
	assert_string_equal(idx->content_type, "text/html; charset=utf-8");
	for (const struct web_asset *a = web_assets; a->name; a++) {
		unsigned char out[1 << 20];
		uLongf n = sizeof(out);
		z_stream z = { 0 };
		assert_int_equal(inflateInit2(&z, 16 + MAX_WBITS), Z_OK);
		z.next_in = (unsigned char *)a->gz;
		z.avail_in = (uInt)a->gz_len;
		z.next_out = out;
		z.avail_out = (uInt)n;
		assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
		if (z.total_out != a->len || memcmp(out, a->data, a->len))
			fail_msg("the gzip body of %s does not inflate to the file", a->name);
		inflateEnd(&z);
		assert_int_equal(strlen(a->etag), 20);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts_gzip),
		cmocka_unit_test(test_etag_matches),
		cmocka_unit_test(test_embedded_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
