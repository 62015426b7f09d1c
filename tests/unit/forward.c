/*
 * Unit tests for the header lines of a leader's answer to a forwarded
 * request (src/api/forward.c): a table of lines with the name and value
 * the split gives, and the lines it refuses (the status line, the blank
 * line, a line starting with its colon).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "api/forward.h"

static void test_forward_header_split(void **state)
{
	(void)state;
	static const struct {
		const char *line;
		const char *name, *value; /* NULL name: refused */
	} cases[] = {
		{ "Content-Type: application/problem+json\r\n", "Content-Type", "application/problem+json" },
		{ "ETag:   \"v3\"  \r\n", "ETag", "\"v3\"" },
		{ "Retry-After:1", "Retry-After", "1" },
		{ "Location: /api/v1/runs/r-1\n", "Location", "/api/v1/runs/r-1" },
		{ "X-Empty:\r\n", "X-Empty", "" },
		{ "X-Blank: \t \r\n", "X-Blank", "" },
		{ "X-Colon: a:b: c\r\n", "X-Colon", "a:b: c" },
		{ "HTTP/1.1 200 OK\r\n", NULL, NULL },
		{ "\r\n", NULL, NULL },
		{ ": no name\r\n", NULL, NULL },
		{ "", NULL, NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct forward_header h;
		bool ok = forward_header_split(cases[i].line, strlen(cases[i].line), &h);
		if (!cases[i].name) {
			assert_false(ok);
			continue;
		}
		assert_true(ok);
		assert_int_equal(h.name_len, strlen(cases[i].name));
		assert_memory_equal(h.name, cases[i].name, h.name_len);
		assert_int_equal(h.value_len, strlen(cases[i].value));
		if (h.value_len)
			assert_memory_equal(h.value, cases[i].value, h.value_len);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forward_header_split),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
