/*
 * libFuzzer harness for the remedy stage's two ooda.yaml sections: any
 * bytes given as the policies: list and as the remedy: mapping must be
 * accepted or refused with a message naming the field (starting with
 * "policies" or "remedy"), never crash, hang or leak.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "remedy/remedy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 16)
		return 0;
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	struct buf err = BUF_INIT;
	if (remedy_policies_check(text, &err) != 0 && (err.len == 0 || strncmp(err.data, "policies", 8)))
		__builtin_trap(); /* a refusal must always say where */
	buf_reset(&err);
	if (remedy_section_check(text, &err) != 0 && (err.len == 0 || strncmp(err.data, "remedy", 6)))
		__builtin_trap();
	buf_release(&err);
	free(text);
	return 0;
}
