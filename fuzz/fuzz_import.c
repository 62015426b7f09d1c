/*
 * libFuzzer harness for the window file importer (store/window.h): a file
 * handed to `ooda import` may be cut, damaged or hostile, and must be
 * refused with a reason or checked whole, never crash. The input is the
 * file itself; window_import runs its checking pass (no stores), which
 * reads every frame and decodes every block, event and document in it.
 * Because the checksum trailer would stop a mutated file at its end, the
 * harness also re-seals the input: its last 32 bytes are replaced by the
 * SHA-256 of what precedes the trailer frame, so the decoders behind the
 * framing are reached too. Seeds (fuzz/corpus/import/) are real exports of
 * the data tests/it/test_export.py ingests: a whole window, a --service
 * window, an empty one, and one cut in half.
 */
#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/window.h"

static void check(const uint8_t *data, size_t size)
{
	FILE *f = fmemopen((void *)data, size, "rb");
	if (!f)
		return;
	struct window_header h;
	struct window_counts c;
	struct buf err = BUF_INIT;
	int rc = window_import(f, NULL, NULL, &h, &c, &err);
	if (rc < 0 && !err.len)
		__builtin_trap(); /* a refusal must say why */
	buf_release(&err);
	fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 1 << 22)
		return 0;
	check(data, size);
	if (size > 37) {
		uint8_t *sealed = malloc(size);
		memcpy(sealed, data, size);
		crypto_hash_sha256(sealed + size - 32, sealed, size - 37);
		check(sealed, size);
		free(sealed);
	}
	return 0;
}
