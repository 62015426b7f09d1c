/*
 * What every ingest harness checks on a decoded batch, beyond "no crash":
 * each time lies in the representable range (core/time.h), each span ends
 * no earlier than it starts, and each string's stated length is readable
 * and within the decoders' 64 KiB limit, so ASan sees a length that lies
 * about its bytes (an over-long value once became "" with the length of
 * "null"). Traps on a violation. Header-only, for fuzz/ only.
 */
#ifndef OODA_FUZZ_BATCH_CHECK_H
#define OODA_FUZZ_BATCH_CHECK_H

#include "core/time.h"
#include "model/record.h"

static volatile unsigned batch_check_sink;

#define BATCH_CHECK_MAX 65536u /* DECODE_MAX_ATTR_LEN */

/* Reads every byte of s[0..len); traps past max or on NULL with a length. */
static void batch_check_bytes(const char *s, uint32_t len, uint32_t max)
{
	if (len > max || (len && !s))
		__builtin_trap();
	unsigned h = 0;
	for (uint32_t i = 0; i < len; i++)
		h = h * 31 + (unsigned char)s[i];
	batch_check_sink += h;
}

static void batch_check_attrs(const struct attrs *as)
{
	for (uint32_t i = 0; i < as->n; i++) {
		const struct attr *a = &as->v[i];
		if (!a->key)
			__builtin_trap();
		batch_check_bytes(a->key, (uint32_t)strlen(a->key), BATCH_CHECK_MAX);
		if (a->type == ATTR_STR || a->type == ATTR_BYTES || a->type == ATTR_JSON)
			batch_check_bytes(a->s, a->len, BATCH_CHECK_MAX);
	}
}

static void batch_check_resource(const struct resource *r)
{
	if (!r || !r->service)
		__builtin_trap();
	batch_check_bytes(r->service, (uint32_t)strlen(r->service), BATCH_CHECK_MAX);
	batch_check_attrs(&r->attrs);
}

static void batch_check_time(int64_t ns)
{
	if (!ooda_time_valid(ns))
		__builtin_trap();
}

static void batch_check(const struct telemetry_batch *b)
{
	for (size_t i = 0; i < b->n_logs; i++) {
		const struct log_record *l = &b->logs[i];
		batch_check_time(l->time_ns);
		batch_check_time(l->observed_ns);
		batch_check_resource(l->resource);
		batch_check_attrs(&l->attrs);
		if (l->body) /* a bytes body is rendered as quoted hex: twice the limit and the quotes */
			batch_check_bytes(l->body, l->body_len, 2 * BATCH_CHECK_MAX + 2);
	}
	for (size_t i = 0; i < b->n_spans; i++) {
		const struct span *s = &b->spans[i];
		batch_check_time(s->start_ns);
		batch_check_time(s->end_ns);
		if (s->end_ns < s->start_ns)
			__builtin_trap();
		batch_check_resource(s->resource);
		batch_check_attrs(&s->attrs);
		for (uint32_t k = 0; k < s->n_events; k++) {
			batch_check_time(s->events[k].time_ns);
			batch_check_attrs(&s->events[k].attrs);
		}
		for (uint32_t k = 0; k < s->n_links; k++)
			batch_check_attrs(&s->links[k].attrs);
	}
	for (size_t i = 0; i < b->n_points; i++) {
		const struct metric_point *p = &b->points[i];
		batch_check_time(p->time_ns);
		batch_check_time(p->start_ns);
		batch_check_resource(p->resource);
		batch_check_attrs(&p->attrs);
		if (p->n_exemplars > RECORD_MAX_EXEMPLARS || (p->n_exemplars && !p->exemplars))
			__builtin_trap();
		for (uint32_t k = 0; k < p->n_exemplars; k++) {
			batch_check_time(p->exemplars[k].time_ns);
			batch_check_attrs(&p->exemplars[k].attrs);
		}
	}
}

#endif
