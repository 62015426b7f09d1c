/*
 * libFuzzer harness for the alert rule loader: any bytes given as the JSON
 * of the `alerts:` section must load or fail with a message naming where,
 * never crash, hang or leak.
 */
#include <stddef.h>
#include <stdint.h>

#include "detect/rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 16)
		return 0;
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	struct rules *r = NULL;
	struct buf err = BUF_INIT;
	rules_create(NULL, NULL, &r, &err);
	if (rules_configure(r, text, true, &err) != 0 && err.len == 0)
		__builtin_trap(); /* a failure must always say why */
	rules_tick(r, 1, NULL);
	rules_destroy(r);
	buf_release(&err);
	free(text);
	return 0;
}
