/*
 * libFuzzer harness for the RowBinary reader: whatever bytes a ClickHouse
 * server (or something posing as one) answers, walking them as the scan and
 * event rows do must stay inside the input and end.
 */
#include <stddef.h>
#include <stdint.h>

#include "store/rowbin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rowbin_reader r = { data, data + size };
	for (int i = 0; i < 100000 && r.p < r.end; i++) {
		int64_t t;
		uint64_t u;
		const char *s;
		size_t n;
		int rc;
		switch (i % 4) {
		case 0:
			rc = rowbin_read_i64(&r, &t);
			break;
		case 1:
			rc = rowbin_read_str(&r, 1 << 20, &s, &n);
			if (!rc && (s < (const char *)data || s + n > (const char *)data + size))
				__builtin_trap();
			break;
		case 2:
			rc = rowbin_read_nstr(&r, 1 << 20, &s, &n);
			break;
		default:
			rc = rowbin_read_uleb(&r, &u);
			break;
		}
		if (rc)
			break;
		if (r.p > r.end)
			__builtin_trap();
	}
	return 0;
}
