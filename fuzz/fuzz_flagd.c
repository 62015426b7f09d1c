/*
 * libFuzzer harness for the flagd flag-definition loader: any bytes must
 * load or fail with a message; a loaded set must evaluate every flag
 * against a fixed context without crashing, hanging or leaking.
 */
#include <stddef.h>
#include <stdint.h>

#include "change/flag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 16)
		return 0;
	static json_t *ctx;
	if (!ctx)
		ctx = json_pack("{s:s, s:s, s:i, s:{s:s}, s:[i,i]}", "targetingKey", "user-1", "email",
				"a@example.com", "age", 42, "user", "name", "jack", "xs", 1, 2);
	struct flag_set *fs = NULL;
	struct buf err = BUF_INIT;
	int rc = flag_set_load((const char *)data, size, 0, &fs, &err);
	if (rc && err.len == 0)
		__builtin_trap();
	if (!rc) {
		for (size_t i = 0; i < flag_set_count(fs); i++) {
			struct flag_result r;
			flag_evaluate_at(fs, flag_set_key(fs, i), ctx, FLAG_TYPE_ANY, 1700000000, &r);
			if (r.reason == FLAG_REASON_ERROR && !r.message[0])
				__builtin_trap();
		}
		flag_set_etag(fs);
		flag_set_destroy(fs);
	}
	buf_release(&err);
	return 0;
}
