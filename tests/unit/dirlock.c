/* Unit tests for the data dir's lock (core/dirlock.h): a second taker is
 * refused with EBUSY naming the holder's pid, released is free again, a
 * missing dir is made, and a path that cannot be a dir gives EIO. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/dirlock.h"
#include "core/error.h"

static void test_lock_twice(void **state)
{
	(void)state;
	char d[] = "/tmp/ooda-dirlock-XXXXXX";
	assert_non_null(mkdtemp(d));
	char sub[64];
	snprintf(sub, sizeof(sub), "%s/data", d); /* made by the first take */
	struct buf err = BUF_INIT;
	int fd = dirlock_take(sub, "an ooda serve", &err);
	assert_true(fd >= 0);
	char pid[32];
	snprintf(pid, sizeof(pid), "process %ld", (long)getpid());
	/* flock locks belong to the open file: a second open in this process conflicts as another process would */
	assert_int_equal(dirlock_take(sub, "an ooda serve", &err), OODA_EBUSY);
	assert_non_null(strstr(err.data, "in use by an ooda serve"));
	assert_non_null(strstr(err.data, pid));
	dirlock_release(fd);
	buf_reset(&err);
	fd = dirlock_take(sub, "x", &err);
	assert_true(fd >= 0);
	dirlock_release(fd);
	dirlock_release(-1);

	char file[64];
	snprintf(file, sizeof(file), "%s/plain", d);
	FILE *f = fopen(file, "w");
	assert_non_null(f);
	fclose(f);
	buf_reset(&err);
	assert_int_equal(dirlock_take(file, "x", &err), OODA_EIO);
	assert_true(err.len > 0);
	buf_release(&err);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lock_twice),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
