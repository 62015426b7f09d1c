/*
 * Unit tests for window files (store/window.h): frames written are read back
 * in order with the header; the checksum trailer catches a changed byte
 * anywhere; a file cut at any length, an unknown format version, a frame
 * length over the limit, a frame after the end and bytes after the trailer
 * are refused with a reason; and a log block goes through window_import's
 * checking pass with its records counted.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "store/tblock.h"
#include "store/window.h"

/* A window file in memory: header, the given frames, end and trailer. */
static char *make_file(const int *types, const char *const *payloads, size_t n, struct window_counts *c,
		       size_t *len)
{
	char *mem = NULL;
	FILE *f = open_memstream(&mem, len);
	struct window_writer w;
	struct window_header h = { .from_ns = 100, .to_ns = 200, .service = "checkout", .created_ns = 5 };
	struct buf err = BUF_INIT;
	assert_int_equal(window_writer_open(&w, f, &h, &err), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(window_writer_frame(&w, types[i], payloads[i], strlen(payloads[i]), &err), 0);
	assert_int_equal(window_writer_finish(&w, c, &err), 0);
	window_writer_release(&w);
	fclose(f);
	assert_int_equal(c->bytes, *len);
	buf_release(&err);
	return mem;
}

/* Reads every frame of data; returns the final result and the frame count. */
static int read_all(const void *data, size_t len, size_t *frames, struct buf *err)
{
	FILE *f = fmemopen((void *)data, len ? len : 1, "rb");
	if (!len)
		fseek(f, 0, SEEK_END);
	struct window_reader r;
	struct window_header h;
	int rc = window_reader_open(&r, f, &h, err);
	*frames = 0;
	int type;
	while (!rc && !(rc = window_reader_next(&r, &type, err))) {
		(*frames)++;
		if (type == WINDOW_END)
			r.ended = true;
	}
	window_reader_release(&r);
	fclose(f);
	return rc;
}

static const int types[] = { WINDOW_EVENT, WINDOW_DOC, WINDOW_EVENT };
static const char *const payloads[] = { "{\"a\":1}", "{\"b\":2}", "" };

static void test_round_trip(void **state)
{
	(void)state;
	struct window_counts c = { .events = 2, .docs = 1 };
	size_t len;
	char *mem = make_file(types, payloads, 3, &c, &len);
	FILE *f = fmemopen(mem, len, "rb");
	struct window_reader r;
	struct window_header h;
	struct buf err = BUF_INIT;
	assert_int_equal(window_reader_open(&r, f, &h, &err), 0);
	assert_int_equal(h.from_ns, 100);
	assert_int_equal(h.to_ns, 200);
	assert_string_equal(h.service, "checkout");
	int type;
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(window_reader_next(&r, &type, &err), 0);
		assert_int_equal(type, types[i]);
		assert_int_equal(r.frame.len, strlen(payloads[i]));
		assert_memory_equal(r.frame.data, payloads[i], r.frame.len);
	}
	assert_int_equal(window_reader_next(&r, &type, &err), 0);
	assert_int_equal(type, WINDOW_END);
	r.ended = true;
	assert_int_equal(window_reader_next(&r, &type, &err), 1);
	assert_memory_equal(r.end.sha256, c.sha256, 32);
	window_reader_release(&r);
	fclose(f);
	free(mem);
	buf_release(&err);
}

static void test_every_damage_refused(void **state)
{
	(void)state;
	struct window_counts c = { 0 };
	size_t len, frames;
	char *mem = make_file(types, payloads, 3, &c, &len);
	struct buf err = BUF_INIT;
	/* cut at every length */
	for (size_t cut = 0; cut < len; cut++) {
		buf_reset(&err);
		int rc = read_all(mem, cut, &frames, &err);
		assert_true(rc < 0);
		assert_true(err.len > 0);
	}
	/* a changed byte anywhere */
	for (size_t i = 0; i < len; i++) {
		mem[i] ^= 0x20;
		buf_reset(&err);
		int rc = read_all(mem, len, &frames, &err);
		assert_true(rc < 0);
		assert_true(err.len > 0);
		mem[i] ^= 0x20;
	}
	/* a change past the header frame is caught by the checksum, and says so */
	mem[len - 40] ^= 1;
	buf_reset(&err);
	assert_int_equal(read_all(mem, len, &frames, &err), OODA_ECORRUPT);
	assert_non_null(strstr(err.data, "checksum"));
	mem[len - 40] ^= 1;
	buf_reset(&err);
	assert_int_equal(read_all(mem, len, &frames, &err), 1);
	assert_int_equal(frames, 4);
	free(mem);
	buf_release(&err);
}

struct bad_case {
	const char *name;
	size_t at;          /* byte to set */
	uint8_t value;
	int rc;
	const char *says;
};

static void test_bad_framing(void **state)
{
	(void)state;
	struct window_counts c = { 0 };
	size_t len, frames;
	char *mem = make_file(types, payloads, 3, &c, &len);
	struct buf err = BUF_INIT;
	size_t first = 12 + 5 + (size_t)((uint8_t)mem[13] | (uint8_t)mem[14] << 8); /* the frame after the header */
	const struct bad_case cases[] = {
		{ "magic", 0, 'X', OODA_ECORRUPT, "not an ooda window file" },
		{ "version", 8, 2, OODA_ESCHEMA, "format version 2" },
		{ "frame type", first, 77, OODA_ECORRUPT, "unknown frame type 77" },
		{ "frame length", first + 4, 0x7f, OODA_ELIMIT, "over its limit" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *copy = malloc(len);
		memcpy(copy, mem, len);
		copy[cases[i].at] = (char)cases[i].value;
		buf_reset(&err);
		assert_int_equal(read_all(copy, len, &frames, &err), cases[i].rc);
		if (!strstr(err.data, cases[i].says))
			fail_msg("%s: %s", cases[i].name, err.data);
		free(copy);
	}
	/* bytes after the trailer */
	char *longer = malloc(len + 1);
	memcpy(longer, mem, len);
	longer[len] = 0;
	buf_reset(&err);
	assert_int_equal(read_all(longer, len + 1, &frames, &err), OODA_ECORRUPT);
	assert_non_null(strstr(err.data, "after its checksum"));
	free(longer);
	free(mem);
	buf_release(&err);
}

static void test_frame_limit_on_write(void **state)
{
	(void)state;
	char *mem = NULL;
	size_t len;
	FILE *f = open_memstream(&mem, &len);
	struct window_writer w;
	struct window_header h = { .to_ns = 1 };
	struct buf err = BUF_INIT;
	assert_int_equal(window_writer_open(&w, f, &h, &err), 0);
	static char big[1];
	assert_int_equal(window_writer_frame(&w, WINDOW_LOGS, big, (size_t)WINDOW_FRAME_MAX + 1, &err), OODA_ELIMIT);
	window_writer_release(&w);
	fclose(f);
	free(mem);
	buf_release(&err);
}

static void test_import_checks_blocks(void **state)
{
	(void)state;
	struct resource res = { .service = "checkout" };
	struct log_record recs[3];
	memset(recs, 0, sizeof(recs));
	for (int i = 0; i < 3; i++) {
		recs[i].time_ns = 150 + i;
		recs[i].body = "hello";
		recs[i].body_len = 5;
		recs[i].resource = &res;
	}
	struct tblock b;
	struct buf err = BUF_INIT;
	assert_int_equal(tblock_encode(SIGNAL_LOGS, "checkout", recs, 3, 1, &b, &err), 0);
	char *mem = NULL;
	size_t len;
	FILE *f = open_memstream(&mem, &len);
	struct window_writer w;
	struct window_header h = { .from_ns = 100, .to_ns = 200 };
	assert_int_equal(window_writer_open(&w, f, &h, &err), 0);
	assert_int_equal(window_writer_frame(&w, WINDOW_LOGS, b.data, b.data_len, &err), 0);
	size_t b_len = b.data_len;
	const char *ev = "{\"id\":\"e1\",\"time_unix_nano\":160,\"kind\":\"deploy\",\"attributes\":{\"n\":1}}";
	assert_int_equal(window_writer_frame(&w, WINDOW_EVENT, ev, strlen(ev), &err), 0);
	struct window_counts c = { .logs = 3, .events = 1 };
	assert_int_equal(window_writer_finish(&w, &c, &err), 0);
	window_writer_release(&w);
	fclose(f);
	tblock_release(&b);

	struct window_counts got;
	struct window_header gh;
	f = fmemopen(mem, len, "rb");
	assert_int_equal(window_import(f, NULL, NULL, &gh, &got, &err), 0);
	fclose(f);
	assert_int_equal(got.logs, 3);
	assert_int_equal(got.events, 1);
	assert_memory_equal(got.sha256, c.sha256, 32);

	/* a damaged block is reported as the damaged file it is: the checksum, not the block decoder */
	size_t at = 12 + 5 + (size_t)((uint8_t)mem[13] | (uint8_t)mem[14] << 8) + 5 + b_len / 2;
	mem[at] ^= 0x55;
	f = fmemopen(mem, len, "rb");
	buf_reset(&err);
	assert_int_equal(window_import(f, NULL, NULL, &gh, &got, &err), OODA_ECORRUPT);
	fclose(f);
	if (!strstr(err.data, "checksum mismatch"))
		fail_msg("damaged block: %s", err.data);
	free(mem);

	/* end counts that differ from the frames are refused, even under a good checksum */
	mem = NULL;
	f = open_memstream(&mem, &len);
	assert_int_equal(window_writer_open(&w, f, &h, &err), 0);
	assert_int_equal(window_writer_frame(&w, WINDOW_EVENT, ev, strlen(ev), &err), 0);
	struct window_counts lie = { .events = 1, .docs = 9 };
	assert_int_equal(window_writer_finish(&w, &lie, &err), 0);
	window_writer_release(&w);
	fclose(f);
	f = fmemopen(mem, len, "rb");
	buf_reset(&err);
	assert_int_equal(window_import(f, NULL, NULL, &gh, &got, &err), OODA_ECORRUPT);
	assert_non_null(strstr(err.data, "end frame counts"));
	fclose(f);
	free(mem);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_every_damage_refused),
		cmocka_unit_test(test_bad_framing),
		cmocka_unit_test(test_frame_limit_on_write),
		cmocka_unit_test(test_import_checks_blocks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
