/*
 * libFuzzer harness for the change-event decoders: ooda event JSON and
 * CloudEvents in structured and binary mode (the first byte picks one; in
 * binary mode the next bytes up to a NUL are the ce-type header). Any bytes
 * must decode or fail with a message, never crash, hang or leak.
 */
#include <stddef.h>
#include <stdint.h>

#include "ingest/events.h"

static const char *fuzz_header(void *ctx, const char *name)
{
	if (!strcmp(name, "ce-specversion"))
		return "1.0";
	if (!strcmp(name, "ce-id"))
		return "f1";
	if (!strcmp(name, "ce-source"))
		return "/fuzz";
	if (!strcmp(name, "ce-type"))
		return ctx;
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 1 << 16)
		return 0;
	struct arena a;
	arena_init(&a, 0);
	a.limit = 64 << 20;
	struct telemetry_batch b = { .arena = &a };
	struct buf err = BUF_INIT;
	const char *body = (const char *)data + 1;
	size_t len = size - 1;
	int rc;
	switch (data[0] % 3) {
	case 0:
		rc = events_decode_json(body, len, 1, &b, &err);
		break;
	case 1:
		rc = events_decode_cloudevent(body, len, NULL, NULL, 1, &b, &err);
		break;
	default: {
		const char *nul = memchr(body, '\0', len);
		char *type = strndup(body, nul ? (size_t)(nul - body) : len);
		size_t skip = nul ? (size_t)(nul - body) + 1 : len;
		rc = events_decode_cloudevent(body + skip, len - skip, fuzz_header, type, 1, &b, &err);
		free(type);
	}
	}
	if (rc != 0 && err.len == 0)
		__builtin_trap();
	arena_release(&a);
	buf_release(&err);
	return 0;
}
