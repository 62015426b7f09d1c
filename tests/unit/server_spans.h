/*
 * Test helpers (include after cmocka.h): publish server spans, and calls
 * between two services, to a live view, as a batch an SDK would post.
 */
#ifndef OODA_TEST_SERVER_SPANS_H
#define OODA_TEST_SERVER_SPANS_H

#include <stdbool.h>
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

static void span_ids(struct span *sp, uint64_t trace, uint64_t id)
{
	for (int j = 0; j < 8; j++) {
		sp->trace_id[15 - j] = (uint8_t)(trace >> (8 * j));
		sp->span_id[7 - j] = (uint8_t)(id >> (8 * j));
	}
}

/* publish_calls' parts: the caller's spans (its server span and its call), the callee's server spans. */
enum { CALLER_PART = 1, CALLEE_PART = 2, BOTH_PARTS = 3 };

/*
 * One second of n requests to `caller`, each calling `callee` once: the
 * caller's server span (caller_ms), its client span and the callee's server
 * span (callee_ms), in one trace; traced = false drops the parent links (no
 * call graph). Ends at `now`, spread over the second. Publishes the parts
 * asked for: the same now and *id again with the other part publishes the
 * rest of the same requests (a callee whose batch comes later).
 */
static void publish_parts(struct live_signals *live, const char *caller, const char *callee, int n, double caller_ms,
			  double callee_ms, bool traced, int64_t now, int parts, uint64_t *id)
{
	struct arena a;
	arena_init(&a, 0);
	struct telemetry_batch b;
	memset(&b, 0, sizeof(b));
	b.arena = &a;
	b.spans = arena_zalloc(&a, sizeof(struct span) * 3 * (size_t)n);
	struct resource *rc = arena_zalloc(&a, sizeof(*rc)), *rd = arena_zalloc(&a, sizeof(*rd));
	rc->service = caller;
	rd->service = callee;
	for (int i = 0; i < n; i++) {
		int64_t end = now - (int64_t)i * (OODA_NS_PER_SEC / (n + 1));
		uint64_t trace = ++*id, top = ++*id, call = ++*id, served = ++*id;
		struct span *sv = &b.spans[b.n_spans], *cl = &b.spans[b.n_spans + 1], *cd = &b.spans[b.n_spans + 2];
		*sv = (struct span){ .name = "GET /", .kind = 2, .resource = rc, .end_ns = end,
				     .start_ns = end - (int64_t)(caller_ms * OODA_NS_PER_MS) };
		span_ids(sv, trace, top);
		*cl = (struct span){ .name = "call", .kind = 3, .resource = rc, .end_ns = end - OODA_NS_PER_MS,
				     .start_ns = end - OODA_NS_PER_MS - (int64_t)(callee_ms * OODA_NS_PER_MS),
				     .has_parent = traced };
		span_ids(cl, trace, call);
		memcpy(cl->parent_span_id, sv->span_id, 8);
		*cd = (struct span){ .name = "POST /query", .kind = 2, .resource = rd, .end_ns = cl->end_ns,
				     .start_ns = cl->start_ns, .has_parent = traced };
		span_ids(cd, trace, served);
		memcpy(cd->parent_span_id, cl->span_id, 8);
		if (parts == CALLEE_PART)
			*sv = *cd;
		b.n_spans += parts == BOTH_PARTS ? 3 : parts == CALLER_PART ? 2 : 1;
	}
	assert_int_equal(live_publish(live, &b), 0);
	arena_release(&a);
}

#endif
