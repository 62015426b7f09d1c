/*
 * Time inside ooda is int64 nanoseconds since the Unix epoch, UTC. This file
 * converts at the edges: RFC 3339 text, unix seconds or nanoseconds, and
 * durations such as "15m" or "1h30m" as used by queries and ooda.yaml.
 */
#ifndef OODA_TIME_H
#define OODA_TIME_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#define OODA_NS_PER_SEC INT64_C(1000000000)
#define OODA_NS_PER_MS INT64_C(1000000)

/*
 * The representable time range, defined once: from the Unix epoch
 * (1970-01-01T00:00:00Z) to 2262-04-11T23:47:16.854775807Z, the last
 * nanosecond an int64 holds. Every time that enters from outside (ingest
 * timestamps, query parameters) is checked against it; what falls outside
 * is refused, never wrapped. OODA_TIME_MAX_MS and OODA_TIME_MAX_SEC are the
 * same bound in milliseconds and seconds (rounded down).
 */
#define OODA_TIME_MIN INT64_C(0)
#define OODA_TIME_MAX INT64_MAX
#define OODA_TIME_MAX_MS (INT64_MAX / OODA_NS_PER_MS)
#define OODA_TIME_MAX_SEC (INT64_MAX / OODA_NS_PER_SEC)

/* true when ns lies in [OODA_TIME_MIN, OODA_TIME_MAX]. */
static inline bool ooda_time_valid(int64_t ns)
{
	return ns >= OODA_TIME_MIN;
}

/*
 * Checked arithmetic on ns times and durations: sets *out and returns 0, or
 * returns OODA_EINVAL (and leaves *out alone) when the exact result does
 * not fit in an int64.
 */
int ooda_ns_add(int64_t a, int64_t b, int64_t *out);
int ooda_ns_sub(int64_t a, int64_t b, int64_t *out);
int ooda_ns_mul(int64_t a, int64_t b, int64_t *out);

/*
 * Saturating forms for bounds of a search or a query window, where a bound
 * past the end of time means "everything from there on": the exact result
 * clamped to [INT64_MIN, INT64_MAX].
 */
int64_t ooda_ns_add_sat(int64_t a, int64_t b);
int64_t ooda_ns_sub_sat(int64_t a, int64_t b);
int64_t ooda_ns_mul_sat(int64_t a, int64_t b);

/*
 * A wire timestamp (OTLP fixed64 nanoseconds) as an int64 time. Returns 0
 * and sets *ns, or OODA_EINVAL when u is past OODA_TIME_MAX.
 */
int ooda_time_from_u64(uint64_t u, int64_t *ns);

/* Wall clock, ns since the epoch. */
int64_t ooda_now_ns(void);
/* Monotonic clock, ns; only differences mean anything. */
int64_t ooda_mono_ns(void);

/*
 * The calling thread's "since" point (monotonic ns): a thread serving a
 * request sets it to when the request arrived, so a read of shared state
 * that began after that point (store_gen_read) serves every check of the
 * request; 0 clears it. ooda_thread_since returns it, or 0 when none is set.
 */
void ooda_thread_since_set(int64_t mono_ns);
int64_t ooda_thread_since(void);

/*
 * Writes ns as RFC 3339 UTC with millisecond precision
 * ("2026-11-25T10:00:00.123Z") into out (at least 32 bytes). Returns out.
 */
char *ooda_time_format(int64_t ns, char *out, size_t size);

/*
 * Parses an RFC 3339 timestamp, or a bare integer taken as unix seconds
 * (<= 1e11), milliseconds (<= 1e14), microseconds (<= 1e17) or nanoseconds.
 * Returns 0 and sets *ns, or OODA_EINVAL for bad syntax and for a time
 * outside [OODA_TIME_MIN, OODA_TIME_MAX] (0001-01-01, 9999-12-31, -1 and
 * 2^63 are all refused, never wrapped).
 */
int ooda_time_parse(const char *s, size_t len, int64_t *ns);

/*
 * Parses a duration: one or more <number><unit> with units ns, us, ms, s,
 * m, h, d, w, y (365d), e.g. "90s", "1h30m", "1.5h". Returns 0 and sets
 * *ns (>= 0), or OODA_EINVAL for bad syntax or a duration longer than
 * OODA_TIME_MAX (about 292 years).
 */
int ooda_duration_parse(const char *s, size_t len, int64_t *ns);

/* Formats a duration compactly ("1h30m", "250ms") into out. Returns out. */
char *ooda_duration_format(int64_t ns, char *out, size_t size);

#endif
