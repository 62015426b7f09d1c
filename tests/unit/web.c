/* Unit tests for src/web: which Accept-Encoding values get gzip, which If-None-Match values match an asset's tag, that the embedded table holds the shell, its modules and uPlot with gzip bodies that inflate back to the file; and the live feed's hub: events in order, drop-oldest with a count the client is told, frames split across small reads, heartbeats, the client limit. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <cmocka.h>

#include "core/error.h"
#include "core/time.h"
#include "web/stream.h"
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

/* Everything a client would receive now, read max bytes at a time. */
static void drain(struct http_stream *st, size_t max, struct buf *out)
{
	char tmp[8192];
	long n;
	while ((n = st->read(st->cls, tmp, max)) > 0)
		buf_add(out, tmp, (size_t)n);
	assert_int_equal(n, 0);
}

static void test_stream_order_and_drops(void **state)
{
	(void)state;
	struct web_stream *h;
	web_stream_create(&h);
	struct http_response res = { 0 };
	struct buf err = BUF_INIT, got = BUF_INIT;
	assert_int_equal(web_stream_open(h, &res, &err), 0);
	assert_int_equal(res.status, 200);
	assert_string_equal(res.content_type, "text/event-stream");
	struct http_stream st = res.stream;
	for (int k = 0; k < res.n_headers; k++)
		free(res.header_values[k]);
	drain(&st, 4096, &got);
	assert_non_null(strstr(got.data, "retry: 2000"));
	buf_reset(&got);

	/* a few events arrive in order, each as one frame */
	web_stream_publish(h, "change", "{\"n\":1}");
	web_stream_publish(h, "alert", "{\"n\":2}");
	drain(&st, 7, &got); /* tiny reads: frames are split, never mixed */
	assert_string_equal(got.data, "event: change\ndata: {\"n\":1}\n\nevent: alert\ndata: {\"n\":2}\n\n");
	buf_reset(&got);

	/* a client that does not read keeps the newest WEB_STREAM_QUEUE and is told how many it lost */
	int total = WEB_STREAM_QUEUE + 40;
	for (int i = 0; i < total; i++) {
		char j[32];
		snprintf(j, sizeof(j), "{\"n\":%d}", i);
		web_stream_publish(h, "change", j);
	}
	int clients;
	uint64_t dropped;
	web_stream_stats(h, &clients, &dropped);
	assert_int_equal(clients, 1);
	assert_int_equal(dropped, 40);
	drain(&st, 4096, &got);
	static const char notice[] = "event: dropped\ndata: {\"dropped\":40}\n\n";
	if (strncmp(got.data, notice, strlen(notice)))
		fail_msg("the stream starts with %.60s", got.data);
	char first[48], last[48];
	snprintf(first, sizeof(first), "data: {\"n\":%d}\n", 40);
	snprintf(last, sizeof(last), "data: {\"n\":%d}\n\n", total - 1);
	assert_non_null(strstr(got.data, first));
	assert_null(strstr(got.data, "data: {\"n\":39}\n"));
	assert_string_equal(got.data + got.len - strlen(last), last);
	buf_reset(&got);

	/* an idle client gets a heartbeat comment; a busy one does not */
	web_stream_tick(h, ooda_mono_ns());
	drain(&st, 4096, &got);
	assert_int_equal(got.len, 0);
	web_stream_tick(h, ooda_mono_ns() + WEB_STREAM_HEARTBEAT_NS + 1);
	drain(&st, 4096, &got);
	assert_string_equal(got.data, ": heartbeat\n\n");

	st.done(st.cls);
	web_stream_stats(h, &clients, &dropped);
	assert_int_equal(clients, 0);
	buf_release(&got);
	buf_release(&err);
	web_stream_destroy(h);
}

static void test_stream_client_limit(void **state)
{
	(void)state;
	struct web_stream *h;
	web_stream_create(&h);
	struct http_stream open[WEB_STREAM_MAX_CLIENTS];
	struct buf err = BUF_INIT;
	for (int i = 0; i < WEB_STREAM_MAX_CLIENTS; i++) {
		struct http_response res = { 0 };
		assert_int_equal(web_stream_open(h, &res, &err), 0);
		open[i] = res.stream;
		for (int k = 0; k < res.n_headers; k++)
			free(res.header_values[k]);
	}
	struct http_response res = { 0 };
	assert_int_equal(web_stream_open(h, &res, &err), OODA_EBUSY);
	assert_non_null(strstr(err.data, "live streams"));
	assert_null(res.stream.read);
	open[0].done(open[0].cls); /* one leaves: another may come */
	buf_reset(&err);
	assert_int_equal(web_stream_open(h, &res, &err), 0);
	for (int k = 0; k < res.n_headers; k++)
		free(res.header_values[k]);
	buf_release(&err);
	web_stream_destroy(h); /* frees the clients the server never closed */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts_gzip),
		cmocka_unit_test(test_etag_matches),
		cmocka_unit_test(test_embedded_table),
		cmocka_unit_test(test_stream_order_and_drops),
		cmocka_unit_test(test_stream_client_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
