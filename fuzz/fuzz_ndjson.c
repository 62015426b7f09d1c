/*
 * libFuzzer harness for the NDJSON log decoder: any bytes must decode line
 * by line with a well-formed report, never crash, hang or leak.
 */
#include <stddef.h>
#include <stdint.h>

#include "batch_check.h"
#include "ingest/ndjson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 17) /* room for a value past the 64 KiB limit */
		return 0;
	struct arena a;
	arena_init(&a, 0);
	a.limit = 64 << 20;
	struct telemetry_batch b = { .arena = &a };
	struct buf err = BUF_INIT, report = BUF_INIT;
	int rc = ndjson_decode_logs(data, size, 1, &b, &report, &err);
	if (rc != 0 && err.len == 0)
		__builtin_trap();
	if (rc == 0 && (report.len < 2 || report.data[0] != '[' || report.data[report.len - 1] != ']'))
		__builtin_trap(); /* the report is always a JSON array */
	if (rc == 0)
		batch_check(&b); /* every "time" in 1970..2262, never wrapped; honest lengths */
	arena_release(&a);
	buf_release(&err);
	buf_release(&report);
	return 0;
}
