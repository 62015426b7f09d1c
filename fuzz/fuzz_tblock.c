/*
 * libFuzzer harness for the telemetry block decoder: a block read back from
 * a damaged telemetry.db must decode or fail with a reason, never crash.
 * The first byte picks the signal; the rest is the uncompressed block, which
 * the harness compresses so that the column parser itself is exercised.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <zstd.h>

#include "core/error.h"
#include "store/tblock.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 1 << 20)
		return 0;
	int signal = data[0] % 3;
	size_t bound = ZSTD_compressBound(size - 1);
	void *z = malloc(bound);
	size_t zn = ZSTD_compress(z, bound, data + 1, size - 1, 1);
	if (!ZSTD_isError(zn)) {
		struct arena a;
		arena_init(&a, 0);
		struct telemetry_batch b = { .arena = &a };
		struct buf err = BUF_INIT;
		int rc = tblock_decode(signal, z, zn, &a, &b, &err);
		if (rc && !err.len)
			__builtin_trap(); /* a failure must say why */
		buf_release(&err);
		arena_release(&a);
	}
	/* and the compressed input as is */
	struct arena a2;
	arena_init(&a2, 0);
	struct telemetry_batch b2 = { .arena = &a2 };
	struct buf err2 = BUF_INIT;
	tblock_decode(signal, data + 1, size - 1, &a2, &b2, &err2);
	buf_release(&err2);
	arena_release(&a2);
	free(z);
	return 0;
}
