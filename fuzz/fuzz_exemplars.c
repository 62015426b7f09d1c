/*
 * libFuzzer harness for the decoder of exemplar batches another ooda node
 * stored in the control store (exemplars_add_encoded, src/query/exemplars.c),
 * read by every node before it answers /api/v1/query_exemplars. Whatever
 * the bytes, the batch is refused whole with a reason or added whole, and
 * the ring still answers a query.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "query/exemplars.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 20)
		return 0;
	struct exemplar_ring *r = exemplars_create(64);
	struct buf err = BUF_INIT, out = BUF_INIT;
	int rc = exemplars_add_encoded(r, data, size, &err);
	if (rc && err.len == 0)
		abort(); /* a refusal says why */
	buf_reset(&err);
	if (exemplars_query_json(r, "{__name__=~\".+\"}", INT64_MIN / 2, INT64_MAX / 2, &out, &err))
		abort();
	if (rc && strstr(out.data ? out.data : "", "seriesLabels"))
		abort(); /* a refused batch added nothing */
	buf_release(&err);
	buf_release(&out);
	exemplars_destroy(r);
	return 0;
}
