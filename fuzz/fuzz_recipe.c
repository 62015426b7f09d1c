/*
 * libFuzzer harness for the recipe expander: any bytes given as a recipe
 * reference {name, variant, params} must expand or fail with a message
 * naming the field, never crash, hang or leak; every expansion is a list
 * of steps whose exec argv never gains an element starting with '-' from
 * a param (a param cannot smuggle an option).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "remedy/recipe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 16)
		return 0;
	json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
	if (!j)
		return 0;
	json_t *steps = NULL;
	struct buf err = BUF_INIT;
	if (recipe_expand(j, "recipe", &steps, &err) != 0) {
		if (err.len == 0 || strncmp(err.data, "recipe", 6))
			__builtin_trap();
	} else {
		if (!json_is_array(steps) || !json_array_size(steps))
			__builtin_trap();
		size_t i;
		json_t *s;
		json_array_foreach(steps, i, s) {
			json_t *argv = json_object_get(json_object_get(s, "exec"), "argv"), *a;
			size_t k;
			json_array_foreach(argv, k, a) {
				const char *v = json_string_value(a);
				if (!v || (v[0] == '-' && v[1] != 'n' && strncmp(v, "--", 2)))
					__builtin_trap();
			}
		}
	}
	json_decref(steps);
	buf_release(&err);
	json_decref(j);
	return 0;
}
