/*
 * libFuzzer harness for the text forms of times and durations (core/time.c):
 * RFC 3339 and unix timestamps as NDJSON "time", CloudEvents time and query
 * parameters give them, and durations as queries and ooda.yaml do. Byte 0
 * picks the parser. Whatever parses must lie in the representable range
 * (times in 1970..2262, durations 0..OODA_TIME_MAX) and format without a
 * crash; nothing may overflow on the way (UBSan traps on that).
 */
#include <stddef.h>
#include <stdint.h>

#include "core/time.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *s = (const char *)data + 1;
	size_t n = size - 1;
	int64_t ns = -1;
	char out[64];
	if (data[0] & 1) {
		if (ooda_duration_parse(s, n, &ns) == 0) {
			if (ns < 0)
				__builtin_trap();
			ooda_duration_format(ns, out, sizeof(out));
		}
	} else if (ooda_time_parse(s, n, &ns) == 0) {
		if (!ooda_time_valid(ns))
			__builtin_trap();
		ooda_time_format(ns, out, sizeof(out));
	}
	return 0;
}
