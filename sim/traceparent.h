/*
 * W3C trace context for the simulator: the `traceparent` header that carries a
 * trace id and the caller's span id from one simulated service to the next,
 * so that ooda sees frontend → checkout → payments/inventory → database as one
 * trace. Pure functions, no I/O; the parser is fuzzed (fuzz/fuzz_traceparent.c).
 */
#ifndef OODA_SIM_TRACEPARENT_H
#define OODA_SIM_TRACEPARENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "00-" 32 hex "-" 16 hex "-" 2 hex, plus NUL */
#define TRACEPARENT_LEN 55

struct trace_ctx {
	uint8_t trace_id[16];
	uint8_t span_id[8]; /* the parent span (the caller's client span) */
	uint8_t flags;      /* bit 0: sampled */
};

/*
 * Parses a traceparent header value of len bytes (not NUL-terminated is
 * fine). Accepts version 00 exactly as specified and, for a higher version,
 * the first four fields followed by end or '-' (forward compatibility, as
 * the W3C text asks). Refuses version ff, upper-case hex, an all-zero trace
 * or span id and any other shape. Returns 0 and fills *out, or OODA_EINVAL
 * leaving *out untouched.
 */
int traceparent_parse(const char *s, size_t len, struct trace_ctx *out);

/*
 * Writes the version-00 header for ctx into out (at least TRACEPARENT_LEN + 1
 * bytes), lower-case hex, NUL-terminated. Returns out.
 */
char *traceparent_format(const struct trace_ctx *ctx, char *out);

/* True when every byte of id[0..n) is zero (an invalid W3C id). */
bool trace_id_is_zero(const uint8_t *id, size_t n);

/*
 * Fills id[0..n) with random bytes from the xorshift state *rng, never all
 * zero. Not for secrets: ids need only be unique enough for one simulation.
 */
void trace_id_random(uint8_t *id, size_t n, uint64_t *rng);

/* One step of xorshift64*: advances *state (never 0) and returns 64 bits. */
uint64_t sim_rand64(uint64_t *state);
/* A uniform double in [0, 1) from *state. */
double sim_rand01(uint64_t *state);

#endif
