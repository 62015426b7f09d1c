/*
 * libFuzzer harness for the decoder of log pattern snapshots
 * (patterns_load). The first byte picks the mode and the miner's limits:
 * bit 0 set means the rest is a snapshot body that the harness wraps in a
 * header and a valid checksum (so the fuzzer reaches the reader behind the
 * CRC); clear means the rest is loaded as it is. Bit 1 picks a tiny miner,
 * so that patterns are dropped, examples cut and history re-bucketed. Any
 * bytes must neither crash, hang nor leak; whatever loads must save and
 * load again to the same bytes, hold what it claims, and keep working as a
 * miner afterwards.
 */
#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

#include "core/buf.h"
#include "detect/patterns.h"

static int visit(const struct pattern_info *info, void *arg)
{
	const struct patterns *p = ((const struct patterns **)arg)[0];
	size_t *n = ((size_t **)arg)[1];
	if (!info->template_ || !info->example || patterns_resolve(p, info->id) != info->id)
		__builtin_trap();
	(*n)++;
	return 0;
}

/* Templates and examples, one a line (neither holds a newline). */
static int gather(const struct pattern_info *info, void *arg)
{
	struct buf *b = arg;
	buf_addf(b, "%s\n%s\n", info->template_, info->example);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	static const struct patterns_config small = { .max_patterns = 4, .max_tokens = 8, .max_line = 64,
						      .max_example = 8, .history_buckets = 3, .bucket_ns = 7,
						      .distinct_values = 3 };
	static const struct patterns_config usual = { .max_patterns = 64, .history_buckets = 60, .bucket_ns = 10 };
	const struct patterns_config *cfg = (data[0] & 2) ? &small : &usual;
	struct buf in = BUF_INIT;
	if (data[0] & 1) {
		size_t body = size - 1;
		uint8_t h[12] = { 'O', 'P', 'A', 'T', PATTERNS_SNAPSHOT_VERSION, 0, 0, 0, (uint8_t)body,
				  (uint8_t)(body >> 8), (uint8_t)(body >> 16), (uint8_t)(body >> 24) };
		buf_add(&in, h, sizeof(h));
		buf_add(&in, data + 1, body);
		uint32_t crc = (uint32_t)crc32(0, (const Bytef *)in.data, (uInt)in.len);
		uint8_t t[4] = { (uint8_t)crc, (uint8_t)(crc >> 8), (uint8_t)(crc >> 16), (uint8_t)(crc >> 24) };
		buf_add(&in, t, 4);
	} else {
		buf_add(&in, data + 1, size - 1);
	}
	struct patterns *p = NULL;
	struct buf err = BUF_INIT;
	if (patterns_load(cfg, in.data, in.len, &p, &err)) {
		if (!err.len || p)
			__builtin_trap(); /* a refusal says why and hands out nothing */
		buf_release(&err);
		buf_release(&in);
		return 0;
	}
	/* round trip: what loaded saves, loads again, and saves to the same bytes */
	struct buf once = BUF_INIT, twice = BUF_INIT;
	patterns_save(p, &once);
	struct patterns *q = NULL;
	if (patterns_load(cfg, once.data, once.len, &q, &err))
		__builtin_trap();
	patterns_save(q, &twice);
	if (once.len != twice.len || memcmp(once.data, twice.data, once.len))
		__builtin_trap();
	if (patterns_count(p) > cfg->max_patterns || patterns_count(q) != patterns_count(p))
		__builtin_trap();
	size_t seen = 0;
	const void *ctx[2] = { p, &seen };
	patterns_foreach(p, visit, ctx);
	if (seen != patterns_count(p))
		__builtin_trap();
	/* the loaded miner keeps mining: its own templates and examples, then a few lines */
	struct buf texts = BUF_INIT;
	patterns_foreach(q, gather, &texts);
	for (size_t i = 0, start = 0; i < texts.len; i++)
		if (texts.data[i] == '\n') {
			patterns_add(q, texts.data + start, i - start, (int64_t)i, NULL);
			start = i + 1;
		}
	buf_release(&texts);
	static const char *const lines[] = { "worker alpha finished the nightly job", "x y z w",
					     "worker beta finished the nightly job", "" };
	for (int i = 0; i < 4; i++)
		patterns_add(q, lines[i], strlen(lines[i]), i * 5, NULL);
	if (patterns_count(q) > cfg->max_patterns)
		__builtin_trap();
	patterns_destroy(q);
	patterns_destroy(p);
	buf_release(&once);
	buf_release(&twice);
	buf_release(&err);
	buf_release(&in);
	return 0;
}
