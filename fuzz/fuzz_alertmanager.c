/*
 * libFuzzer harness for the Alertmanager webhook decoder: any bytes must
 * decode into signals or fail with a message, never crash, hang or leak;
 * a failed payload emits nothing.
 */
#include <stddef.h>
#include <stdint.h>

#include "ingest/alertmanager.h"

static void count(void *ctx, const struct alert_signal *s)
{
	size_t *n = ctx;
	if (!s->name || !*s->name)
		__builtin_trap();
	(*n)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 20)
		return 0;
	size_t n = 0, reported = 0;
	struct alert_sink sink = { count, &n };
	struct buf err = BUF_INIT;
	int rc = alertmanager_decode((const char *)data, size, 1, &sink, &reported, &err);
	if (rc && (err.len == 0 || n != 0))
		__builtin_trap();
	if (!rc && n != reported)
		__builtin_trap();
	buf_release(&err);
	return 0;
}
