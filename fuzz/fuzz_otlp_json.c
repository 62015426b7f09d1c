/*
 * libFuzzer harness for the OTLP/JSON decoders (logs, traces, metrics):
 * any bytes must decode or fail with a message, never crash, hang or leak.
 * The first byte picks the signal. What decodes must pass batch_check():
 * times in 1970..2262, spans not ending before they start, honest lengths.
 * Decoded metrics' exemplars then go through the exemplar ring and back.
 */
#include <stddef.h>
#include <stdint.h>

#include "batch_check.h"
#include "ingest/otlp.h"
#include "query/exemplars.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 1 << 17) /* room for a value past the 64 KiB limit */
		return 0;
	struct arena a;
	arena_init(&a, 0);
	a.limit = 64 << 20;
	struct telemetry_batch b = { .arena = &a };
	struct buf err = BUF_INIT;
	int (*fn[])(const void *, size_t, bool, int64_t, struct telemetry_batch *, struct buf *) = {
		otlp_decode_logs, otlp_decode_traces, otlp_decode_metrics,
	};
	int rc = fn[data[0] % 3](data + 1, size - 1, true, 1, &b, &err);
	if (rc != 0 && err.len == 0)
		__builtin_trap(); /* a failure must always say why */
	if (b.rejected && !b.reject_msg)
		__builtin_trap();
	if (rc == 0)
		batch_check(&b); /* callers drop the batch on failure; what they keep must be sound */
	if (rc == 0 && b.n_points) { /* exemplars go into the ring and come back out */
		struct exemplar_ring *ring = exemplars_create(4);
		struct buf out = BUF_INIT;
		exemplars_add(ring, &b);
		buf_reset(&err);
		if (exemplars_query_json(ring, "{__name__=~\".+\"}", INT64_MIN, INT64_MAX, &out, &err))
			__builtin_trap();
		buf_release(&out);
		exemplars_destroy(ring);
	}
	arena_release(&a);
	buf_release(&err);
	return 0;
}
