/*
 * libFuzzer harness for silence requests (POST /api/v1/silences): any
 * bytes, read as JSON, either make a silence, with its matchers parsed and
 * its regexes compiled, or are refused with a message; never a crash, a
 * hang or a leak. A silence made is ended again so the next input starts
 * from the same state.
 */
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "detect/alerts.h"

static struct alerts *core;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 16)
		return 0;
	struct buf err = BUF_INIT;
	if (!core && alerts_create(NULL, NULL, NULL, &core, &err))
		__builtin_trap();
	json_t *req = json_loadb((const char *)data, size, 0, NULL);
	if (req) {
		char id[32];
		int64_t now = 1700000000LL * 1000000000LL;
		int rc = alerts_silence_create(core, req, "fuzz", now, id, &err);
		if (rc && !err.len)
			__builtin_trap();
		if (!rc && alerts_silence_delete(core, id, "fuzz", &err))
			__builtin_trap();
		json_decref(req);
	}
	buf_release(&err);
	return 0;
}
