/* placeholder */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include "detect/patterns.h"
static void test_x(void **state) { }
int main(void) { const struct CMUnitTest t[] = { cmocka_unit_test(test_x) }; return cmocka_run_group_tests(t, NULL, NULL); }
