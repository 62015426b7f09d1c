/*
 * libFuzzer harness for the scrape body decoder (ingest/scrape_text.h).
 * The first byte picks the format (bit 0: OpenMetrics), honor_labels
 * (bit 1), honor_timestamps (bit 2) and a small sample_limit (bit 3); the
 * rest is the body. Never crash, hang or leak; a failure always says why,
 * and a success keeps every bound.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ingest/scrape_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 1 << 20)
		return 0;
	static const struct scrape_label target[] = { { "job", "fuzz" }, { "instance", "h:1" }, { "env", "x" } };
	struct arena a;
	arena_init(&a, 0);
	a.limit = 64 << 20;
	struct telemetry_batch b = { .arena = &a };
	struct buf err = BUF_INIT;
	struct scrape_text_opts o = {
		.format = (data[0] & 1) ? SCRAPE_OPENMETRICS : SCRAPE_PROMTEXT,
		.now_ns = 1700000000000000000,
		.honor_labels = data[0] & 2,
		.honor_timestamps = data[0] & 4,
		.sample_limit = (data[0] & 8) ? 5 : 0,
		.target = target,
		.n_target = 3,
	};
	struct scrape_text_result r;
	int rc = scrape_text_decode((const char *)data + 1, size - 1, &o, &b, &r, &err);
	if (rc != 0 && err.len == 0)
		__builtin_trap();
	if (rc == 0) {
		if (r.samples != b.n_points || (o.sample_limit && r.samples > o.sample_limit) ||
		    r.n_meta > SCRAPE_MAX_METADATA)
			__builtin_trap();
		for (size_t i = 0; i < b.n_points; i++) {
			const struct metric_point *p = &b.points[i];
			if (!p->name || !p->resource || !p->resource->service || p->attrs.n > SCRAPE_MAX_LABELS)
				__builtin_trap();
			for (uint32_t k = 0; k < p->attrs.n; k++)
				if (!p->attrs.v[k].key || !p->attrs.v[k].s || strlen(p->attrs.v[k].s) > p->attrs.v[k].len)
					__builtin_trap();
		}
	}
	arena_release(&a);
	buf_release(&err);
	return 0;
}
