/*
 * libFuzzer harness for the simulator's W3C traceparent parser
 * (sim/traceparent.c), which reads a header any caller of a simulated service
 * can send. Whatever parses must have non-zero ids and format back to a
 * version-00 header that parses to the same context.
 */
#include <stddef.h>
#include <stdint.h>

#include "traceparent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct trace_ctx a, b;
	char s[TRACEPARENT_LEN + 1];
	if (traceparent_parse((const char *)data, size, &a) != 0)
		return 0;
	if (trace_id_is_zero(a.trace_id, 16) || trace_id_is_zero(a.span_id, 8))
		__builtin_trap();
	traceparent_format(&a, s);
	if (traceparent_parse(s, TRACEPARENT_LEN, &b) != 0 || memcmp(&a, &b, sizeof a) != 0)
		__builtin_trap();
	return 0;
}
