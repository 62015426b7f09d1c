/*
 * libFuzzer harness for the runbook parser: any bytes given as a runbook's
 * Markdown must parse or fail with a message, never crash, hang or leak;
 * a parsed runbook has a valid name, 1 to RUNBOOK_MAX_STEPS steps numbered
 * from 1, each manual or automated, and every automated one carries the
 * step the engine would check.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "remedy/runbook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *doc = NULL;
	struct buf err = BUF_INIT;
	if (runbook_parse((const char *)data, size, &doc, &err) != 0) {
		if (err.len == 0 || doc)
			__builtin_trap();
	} else {
		json_t *steps = json_object_get(doc, "steps");
		const char *name = json_string_value(json_object_get(doc, "name"));
		if (!name || !*name || !json_array_size(steps) || json_array_size(steps) > RUNBOOK_MAX_STEPS ||
		    size > RUNBOOK_MAX_BYTES)
			__builtin_trap();
		size_t i;
		json_t *s;
		json_array_foreach(steps, i, s) {
			const char *kind = json_string_value(json_object_get(s, "kind"));
			if (json_integer_value(json_object_get(s, "n")) != (json_int_t)i + 1 || !kind ||
			    !json_string_value(json_object_get(s, "text")))
				__builtin_trap();
			if (!strcmp(kind, "auto") ? !json_is_object(json_object_get(s, "step"))
						  : (strcmp(kind, "manual") || json_object_get(s, "step")))
				__builtin_trap();
		}
	}
	json_decref(doc);
	buf_release(&err);
	return 0;
}
