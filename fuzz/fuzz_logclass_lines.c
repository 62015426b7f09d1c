/*
 * libFuzzer harness for the decoder of shared log lines
 * (logclass_lines_apply, src/detect/logclass.c): a row another ooda node
 * wrote into the control store for every node's pattern miners, read back
 * by each. Whatever the bytes, the decoder either refuses the row with a
 * reason and applies none of it, or applies it; the pattern view renders
 * either way, and a row accepted once is accepted again.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "detect/logclass.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 20)
		return 0;
	struct logclass_config c = { .max_services = 8, .max_patterns = 64, .warmup_lines = 4 };
	struct logclass *lc = NULL;
	struct buf err = BUF_INIT, out = BUF_INIT;
	if (logclass_create(&c, &lc, &err))
		abort();
	int rc = logclass_lines_apply(lc, data, size, 1, &err);
	logclass_json(lc, NULL, 0, 0, 1000, &out);
	if (rc && (err.len == 0 || strcmp(out.data, "{\"patterns\":[]}")))
		abort(); /* a refusal says why and applies nothing */
	if (!rc && logclass_lines_apply(lc, data, size, 2, &err))
		abort(); /* the same row decodes the same way twice */
	buf_release(&err);
	buf_release(&out);
	logclass_destroy(lc);
	return 0;
}
