/*
 * libFuzzer harness for the anomaly engine's CSV door: any bytes must either
 * be scored row by row or be refused with a reason, never crash, hang or
 * leak, and every score written must lie in [0,1].
 */
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "detect/anomaly.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 16)
		return 0;
	FILE *in = fmemopen((void *)data, size, "r");
	if (!in)
		return 0;
	char *outbuf = NULL;
	size_t outlen = 0;
	FILE *out = open_memstream(&outbuf, &outlen);
	struct buf err = BUF_INIT;
	int rc = anomaly_analyze_csv(in, out, NULL, &err);
	fclose(in);
	fclose(out);
	if (rc != 0 && err.len == 0)
		__builtin_trap();
	/* every output row after the header ends with a score in [0,1] */
	char *line = strchr(outbuf, '\n');
	while (line && line[1]) {
		char *next = strchr(line + 1, '\n');
		if (!next)
			__builtin_trap();
		char *comma = memrchr(line + 1, ',', (size_t)(next - line - 1));
		if (!comma)
			__builtin_trap();
		double sc = strtod(comma + 1, NULL);
		if (!(sc >= 0 && sc <= 1))
			__builtin_trap();
		line = next;
	}
	free(outbuf);
	buf_release(&err);
	return 0;
}
