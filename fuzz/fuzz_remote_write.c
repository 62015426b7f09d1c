/*
 * libFuzzer harness for the Prometheus remote-write decoder. The first byte
 * picks the input: raw (the bytes are the snappy block) or wrapped (the
 * bytes are the protobuf and are snappy-compressed here first, so the
 * fuzzer reaches the protobuf walk); bit 1 of it also decodes the metadata
 * (field 3) into a metadata book. Never crash, hang or leak.
 */
#include <stddef.h>
#include <stdint.h>
#include <snappy-c.h>

#include "ingest/remote_write.h"
#include "query/metrics.h"

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
	struct rw_metadata *meta = NULL;
	size_t n_meta = 0;
	int rc = (data[0] & 2) ? remote_write_decode_meta(in, len, &b, &meta, &n_meta, &err)
			       : remote_write_decode(in, len, &b, &err);
	if (rc != 0 && err.len == 0)
		__builtin_trap();
	if (rc == 0 && n_meta) { /* metadata goes into the book and out of /api/v1/metadata's merge */
		if (n_meta > RW_MAX_METADATA)
			__builtin_trap();
		struct metrics_meta_book *book = metrics_meta_book_create();
		for (size_t i = 0; i < n_meta; i++) {
			if (!meta[i].name || !meta[i].type || !meta[i].help || !meta[i].unit)
				__builtin_trap();
			metrics_meta_book_set(book, meta[i].name, meta[i].type, meta[i].help, meta[i].unit);
		}
		metrics_meta_book_destroy(book);
	}
	free(packed);
	arena_release(&a);
	buf_release(&err);
	return 0;
}
