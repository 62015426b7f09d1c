/*
 * libFuzzer harness for the TZif reader (respond/tz.c): any bytes must
 * parse or fail with a reason, never read past the input, crash or leak;
 * a zone that parses answers offsets within a day of UTC and maps wall
 * times back to instants for any time.
 */
#include <stddef.h>
#include <stdint.h>

#include "respond/tz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tz *z = NULL;
	struct buf err = BUF_INIT;
	if (tz_parse(data, size, &z, &err) != 0) {
		if (err.len == 0)
			__builtin_trap(); /* a failure must say why */
	} else {
		static const int64_t probes[] = { INT64_C(-5000000000), -1, 0, 1800000000, 2200000000, INT64_C(9000000000) };
		for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
			int32_t off = tz_offset(z, probes[i]);
			if (off <= -90000 || off >= 93600)
				__builtin_trap();
			(void)tz_local_to_utc(z, probes[i]);
		}
		tz_destroy(z);
	}
	buf_release(&err);
	return 0;
}
