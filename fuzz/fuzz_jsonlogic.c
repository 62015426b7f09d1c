/*
 * libFuzzer harness for the JsonLogic evaluator: the input is split at the
 * first NUL into a rule and data, both parsed as JSON (any value). Whatever
 * they hold (deep nesting, huge arrays, wrong types), compiling and
 * evaluating must succeed or fail with a message, never crash, hang or leak.
 */
#include <stddef.h>
#include <stdint.h>

#include "change/flag.h"
#include "change/jsonlogic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 16)
		return 0;
	const uint8_t *nul = memchr(data, 0, size);
	size_t rlen = nul ? (size_t)(nul - data) : size;
	json_t *rule = json_loadb((const char *)data, rlen, JSON_DECODE_ANY, NULL);
	json_t *ctx = nul ? json_loadb((const char *)nul + 1, size - rlen - 1, JSON_DECODE_ANY, NULL) : NULL;
	if (rule) {
		json_t *out = NULL;
		struct buf err = BUF_INIT;
		int rc = jsonlogic_apply(rule, ctx, flagd_registry(), &out, &err);
		if (rc && err.len == 0)
			__builtin_trap(); /* a failure must always say why */
		if (!rc && !out)
			__builtin_trap();
		json_decref(out);
		buf_release(&err);
	}
	json_decref(rule);
	json_decref(ctx);
	return 0;
}
