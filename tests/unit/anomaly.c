/* Unit tests for the streaming anomaly engine (placeholder). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "detect/anomaly.h"

static void test_size(void **state)
{
	assert_true(anomaly_state_size(NULL) > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_size) };
	return cmocka_run_group_tests(tests, NULL, NULL);
}
