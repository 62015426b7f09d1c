/*
 * libFuzzer harness for the Prometheus remote-write decoder. The first byte
 * picks the input: raw (the bytes are the snappy block) or wrapped (the
 * bytes are the protobuf and are snappy-compressed here first, so the
 * fuzzer reaches the protobuf walk). Never crash, hang or leak.
 */
#include <stddef.h>
#include <stdint.h>
#include <snappy-c.h>

#include "ingest/remote_write.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 1 << 16)
		return 0;
	struct arena a;
	arena_init(&a, 0);
	a.limit = 64 << 20;
	struct telemetry_batch b = { .arena = &a };
	struct buf err = BUF_INIT;
	const char *in = (const char *)data + 1;
	size_t len = size - 1;
	char *packed = NULL;
	if (data[0] & 1) {
		size_t cap = snappy_max_compressed_length(len);
		packed = malloc(cap);
		if (snappy_compress(in, len, packed, &cap) != SNAPPY_OK)
			__builtin_trap();
		in = packed;
		len = cap;
	}
	if (remote_write_decode(in, len, &b, &err) != 0 && err.len == 0)
		__builtin_trap();
	free(packed);
	arena_release(&a);
	buf_release(&err);
	return 0;
}
