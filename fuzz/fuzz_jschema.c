/*
 * libFuzzer harness for the config-set JSON Schema compiler and validator:
 * the input is split at the first NUL into a schema and a document, both
 * parsed as JSON (any value). Whatever they hold ($ref loops, deep nesting,
 * hostile patterns, huge arrays), compiling must succeed or be refused with
 * a message, and validating a compiled schema must answer (valid, invalid
 * with a path, or over a limit with a message), never crash, hang or leak.
 */
#include <stddef.h>
#include <stdint.h>

#include "change/jschema.h"
#include "core/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 16)
		return 0;
	const uint8_t *nul = memchr(data, 0, size);
	size_t slen = nul ? (size_t)(nul - data) : size;
	json_t *schema = json_loadb((const char *)data, slen, JSON_DECODE_ANY, NULL);
	json_t *doc = nul ? json_loadb((const char *)nul + 1, size - slen - 1, JSON_DECODE_ANY, NULL) : NULL;
	if (schema) {
		struct jschema *js = NULL;
		struct buf err = BUF_INIT;
		int rc = jschema_compile(schema, &js, &err);
		if (rc && (err.len == 0 || js))
			__builtin_trap(); /* a refusal must say why and hand back nothing */
		if (!rc && !js)
			__builtin_trap();
		if (js && doc) {
			buf_reset(&err);
			rc = jschema_validate(js, doc, &err);
			if (rc && rc != OODA_EVALIDATE && rc != OODA_ELIMIT)
				__builtin_trap();
			if (rc && strncmp(err.data, "at /", 4))
				__builtin_trap(); /* every violation names the document path */
		}
		jschema_destroy(js);
		buf_release(&err);
	}
	json_decref(schema);
	json_decref(doc);
	return 0;
}
