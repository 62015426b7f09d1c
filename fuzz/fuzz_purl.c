/*
 * libFuzzer harness for the package URL parser (src/ingest/purl.c), which
 * reads the artifactId of any CDEvent posted to /api/v1/events. Whatever
 * parses must have a lower-case type and a non-empty name, every part must
 * lie inside the struct's store, and parsing again gives the same parts.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/buf.h"
#include "ingest/purl.h"

static void check_in_store(const struct purl *p, const char *s)
{
	if (s && (s < p->store || s + strlen(s) >= p->store + sizeof(p->store)))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct purl a, b;
	struct buf err = BUF_INIT;
	int rc = purl_parse((const char *)data, size, &a, &err);
	if (rc) {
		if (!err.len)
			__builtin_trap(); /* every refusal says why */
		buf_release(&err);
		return 0;
	}
	if (!a.type || !*a.type || !a.name || !*a.name || a.n_q > PURL_MAX_QUALIFIERS)
		__builtin_trap();
	for (const char *t = a.type; *t; t++)
		if (*t >= 'A' && *t <= 'Z')
			__builtin_trap();
	const char *parts[] = { a.type, a.namespace, a.name, a.version, a.subpath };
	for (size_t i = 0; i < 5; i++)
		check_in_store(&a, parts[i]);
	for (size_t i = 0; i < a.n_q; i++) {
		check_in_store(&a, a.q[i].key);
		check_in_store(&a, a.q[i].value);
	}
	if (purl_parse((const char *)data, size, &b, &err) || strcmp(a.name, b.name) || strcmp(a.type, b.type) ||
	    a.n_q != b.n_q)
		__builtin_trap();
	buf_release(&err);
	return 0;
}
