/*
 * Unit tests for the /proc/self/stat parser behind ooda's process_* metrics:
 * a real line, a command name holding spaces and parentheses, and refusals
 * of text that is not of that shape.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/procstat.h"

/* utime 150, stime 50, starttime 1000, vsize 123456789, rss 250 pages */
#define TAIL " S 1 4242 4242 0 -1 4194560 1234 0 0 0 150 50 0 0 20 0 9 0 1000 123456789 250 18446744073709551615\n"

static void test_procstat_parse(void **state)
{
	(void)state;
	const char *line = "4242 (ooda)" TAIL;
	struct procstat p = { 0 };
	struct buf err = BUF_INIT;
	assert_int_equal(procstat_parse(line, strlen(line), 100, 4096, 1700000000, &p, &err), 0);
	assert_true(p.cpu_seconds > 1.999 && p.cpu_seconds < 2.001);
	assert_true(p.start_time > 1700000009.999 && p.start_time < 1700000010.001);
	assert_int_equal(p.virtual_bytes, 123456789);
	assert_int_equal(p.resident_bytes, 250 * 4096);
	buf_release(&err);
}

static void test_procstat_odd_name(void **state)
{
	(void)state;
	/* a command may call itself anything: the fields start after the last ')' */
	const char *line = "4242 (a) b (c) 1 2 3)" TAIL;
	struct procstat p = { 0 };
	struct buf err = BUF_INIT;
	assert_int_equal(procstat_parse(line, strlen(line), 100, 4096, 0, &p, &err), 0);
	assert_int_equal(p.resident_bytes, 250 * 4096);
	buf_release(&err);
}

static void test_procstat_refused(void **state)
{
	(void)state;
	const char *bad[] = { "", "4242 ooda S 1 2 3", "4242 (ooda) S 1 2 3\n",
			      "4242 (ooda) S 1 4242 4242 0 -1 4194560 1234 0 0 0 x5 50 0 0 20 0 9 0 1000 1 2 3\n" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct procstat p = { 0 };
		struct buf err = BUF_INIT;
		assert_int_equal(procstat_parse(bad[i], strlen(bad[i]), 100, 4096, 0, &p, &err), OODA_EINVAL);
		assert_true(err.len > 0);
		buf_release(&err);
	}
}

static void test_procstat_read(void **state)
{
	(void)state;
	struct procstat p;
	struct buf err = BUF_INIT;
	assert_int_equal(procstat_read(&p, &err), 0);
	assert_true(p.resident_bytes > 0 && p.virtual_bytes >= p.resident_bytes);
	assert_true(p.open_fds >= 3);
	assert_true(p.max_fds == -1 || p.max_fds >= p.open_fds);
	assert_true(p.start_time > 1e9);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_procstat_parse),
		cmocka_unit_test(test_procstat_odd_name),
		cmocka_unit_test(test_procstat_refused),
		cmocka_unit_test(test_procstat_read),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
