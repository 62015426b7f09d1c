/*
 * Test helper (include after cmocka.h): publishes server spans to a live
 * view, as a batch an SDK would post.
 */
#ifndef OODA_TEST_SERVER_SPANS_H
#define OODA_TEST_SERVER_SPANS_H

#include <string.h>

#include "core/arena.h"
#include "core/time.h"
#include "model/live.h"
#include "model/record.h"

/*
 * n server spans of `service`'s operation `name`, each taking ms, ending at
 * end_ns, end_ns - gap_ns, ...; `errors` of them fail, spread evenly over
 * the n. Trace and span ids count up from *id.
 */
static void publish_server_spans(struct live_signals *live, const char *service, const char *name, int n, int errors,
				 int64_t end_ns, int64_t gap_ns, double ms, uint64_t *id)
{
	struct arena a;
	arena_init(&a, 0);
	struct telemetry_batch b;
	memset(&b, 0, sizeof(b));
	b.arena = &a;
	b.spans = arena_zalloc(&a, sizeof(struct span) * (size_t)(n > 0 ? n : 1));
	struct resource *res = arena_zalloc(&a, sizeof(*res));
	res->service = service;
	for (int i = 0; i < n; i++) {
		struct span *sp = &b.spans[b.n_spans++];
		sp->resource = res;
		sp->name = name;
		sp->kind = 2; /* server */
		sp->end_ns = end_ns - (int64_t)i * gap_ns;
		sp->start_ns = sp->end_ns - (int64_t)(ms * OODA_NS_PER_MS);
		sp->status = (i + 1) * errors / n != i * errors / n ? STATUS_ERROR : STATUS_OK;
		++*id;
		for (int j = 0; j < 8; j++) {
			sp->trace_id[15 - j] = (uint8_t)(*id >> (8 * j));
			sp->span_id[7 - j] = (uint8_t)(*id >> (8 * j));
		}
	}
	assert_int_equal(live_publish(live, &b), 0);
	arena_release(&a);
}

#endif
