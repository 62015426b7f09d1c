/*
 * libFuzzer harness for the decoder of live-signal deltas
 * (live_delta_apply, src/model/live_merge.c): what another ooda node wrote
 * into the control store, read back by every node each second. Whatever
 * the bytes, the decoder either refuses them with a reason and leaves the
 * view as it was, or applies them; an accepted delta is never sent on (the
 * view's own outbox stays empty), and the JSON views still render.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/time.h"
#include "model/live.h"

static int64_t fixed_clock(void *ctx)
{
	(void)ctx;
	return INT64_C(1795600860) * OODA_NS_PER_SEC;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	struct live_config c = { .n_slots = 64, .max_services = 16, .max_ops = 4, .max_edges = 16, .span_map_size = 64,
				 .clock = fixed_clock };
	struct live_signals *live = NULL;
	if (live_create(&c, &live, NULL))
		abort();
	live_merge_enable(live);
	struct buf err = BUF_INIT, out = BUF_INIT;
	int rc = live_delta_apply(live, data, size, &err);
	struct live_stats st;
	live_stats_get(live, &st);
	if (rc && (err.len == 0 || st.merged_entries || st.services))
		abort(); /* a refusal says why and changes nothing */
	size_t n = 1;
	if (live_delta_take(live, &out, &n) || n != 0 || out.len)
		abort(); /* what was read from another node is not sent on */
	buf_reset(&out);
	if (live_graph_json(live, fixed_clock(NULL), 600 * OODA_NS_PER_SEC, &out, &err) ||
	    live_services_json(live, fixed_clock(NULL), 600 * OODA_NS_PER_SEC, &out, &err))
		abort();
	buf_release(&err);
	buf_release(&out);
	live_destroy(live);
	return 0;
}
