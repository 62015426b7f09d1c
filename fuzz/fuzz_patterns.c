/*
 * libFuzzer harness for the log template miner: the input is split into
 * lines and fed to a small miner (few patterns, short lines, so eviction,
 * merging and truncation all happen), then every id handed out is looked up
 * and the patterns are walked. Any bytes must neither crash, hang nor leak,
 * and the miner's invariants (bounded count, ids resolve) must hold.
 */
#include <stddef.h>
#include <stdint.h>

#include "detect/patterns.h"

#define MAX_LINES 512

static int visit(const struct pattern_info *info, void *arg)
{
	size_t *n = arg;
	if (!info->template_ || !info->example || info->count == 0)
		__builtin_trap();
	(*n)++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct patterns_config cfg = { .max_patterns = 16, .max_tokens = 24, .max_line = 200,
				       .max_example = 40, .history_buckets = 4, .bucket_ns = 10 };
	struct patterns *p;
	if (patterns_create(&cfg, &p, NULL))
		return 0;
	uint64_t ids[MAX_LINES];
	size_t n = 0, start = 0;
	for (size_t i = 0; i <= size && n < MAX_LINES; i++) {
		if (i == size || data[i] == '\n') {
			bool is_new;
			/* time steps back now and then, to exercise the history window */
			int64_t t = (int64_t)(n * 7 % 23) - 5;
			ids[n++] = patterns_add(p, (const char *)data + start, i - start, t, &is_new);
			start = i + 1;
		}
	}
	if (patterns_count(p) > cfg.max_patterns)
		__builtin_trap();
	for (size_t i = 0; i < n; i++) {
		uint64_t id = patterns_resolve(p, ids[i]);
		const char *t = patterns_template(p, ids[i]);
		if ((id == 0) != (t == NULL))
			__builtin_trap();
	}
	size_t seen = 0;
	patterns_foreach(p, visit, &seen);
	if (seen != patterns_count(p))
		__builtin_trap();
	patterns_destroy(p);
	return 0;
}
