/*
 * libFuzzer harness for the /proc/<pid>/stat parser (src/core/procstat.c)
 * behind ooda's process_* metrics. Any text is either refused with a
 * reason or gives figures that are not negative.
 */
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/procstat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct procstat p = { 0 };
	struct buf err = BUF_INIT;
	int rc = procstat_parse((const char *)data, size, 100, 4096, 1700000000, &p, &err);
	if (rc && !err.len)
		__builtin_trap(); /* every refusal says why */
	if (!rc && (p.cpu_seconds < 0 || p.start_time < 0))
		__builtin_trap();
	buf_release(&err);
	return 0;
}
