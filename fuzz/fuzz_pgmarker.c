/*
 * libFuzzer harness for the control.pg parser (store_pg_marker_parse in
 * src/store/store.c), which offline commands read from a data dir to find
 * a PostgreSQL control store. Any text is refused, or gives a non-empty
 * variable name of letters, digits and '_' that fits the buffer.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char var[64];
	memset(var, 'x', sizeof(var));
	if (store_pg_marker_parse((const char *)data, size, var, sizeof(var)) == 0) {
		size_t n = strnlen(var, sizeof(var));
		if (n == 0 || n == sizeof(var))
			__builtin_trap();
		for (size_t i = 0; i < n; i++)
			if (!(var[i] == '_' || (var[i] >= 'A' && var[i] <= 'Z') || (var[i] >= 'a' && var[i] <= 'z') ||
			      (var[i] >= '0' && var[i] <= '9')))
				__builtin_trap();
	}
	return 0;
}
