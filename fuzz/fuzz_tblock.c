/*
 * libFuzzer harness for the telemetry block decoder: a block read back from
 * a damaged telemetry.db must decode or fail with a reason, never crash.
 * The first byte picks the signal; the rest is the uncompressed block, which
 * the harness compresses so that the column parser itself is exercised
 * (OTB1), and also the stored block as is (OTB2, or a zstd frame). Log
 * blocks also go through the counting reader (facets).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <zstd.h>

#include "core/error.h"
#include "store/tblock.h"

static void logcols(const void *block, size_t len)
{
	static const char *const keys[3] = { "http.route", NULL, "k" };
	struct arena a;
	arena_init(&a, 0);
	struct buf err = BUF_INIT;
	struct tblock_logcols c;
	int rc = tblock_logcols_decode(block, len, keys, 3, &a, &c, &err);
	if (rc < 0 && !err.len)
		__builtin_trap();
	if (!rc)
		for (uint32_t i = 0; i < c.n; i++) {
			if (c.res[i] >= c.n_resources || !c.resources[c.res[i]]->service)
				__builtin_trap();
			if (c.values[0][i] && !tblock_logcols_str(&c, c.values[0][i]))
				__builtin_trap();
		}
	buf_release(&err);
	arena_release(&a);
}

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
		logcols(z, zn);
		buf_release(&err);
		arena_release(&a);
	}
	/* and the compressed input as is */
	struct arena a2;
	arena_init(&a2, 0);
	struct telemetry_batch b2 = { .arena = &a2 };
	struct buf err2 = BUF_INIT;
	tblock_decode(signal, data + 1, size - 1, &a2, &b2, &err2);
	logcols(data + 1, size - 1);
	buf_release(&err2);
	arena_release(&a2);
	free(z);
	return 0;
}
