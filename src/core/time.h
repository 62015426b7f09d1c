/*
 * Time inside ooda is int64 nanoseconds since the Unix epoch, UTC. This file
 * converts at the edges: RFC 3339 text, unix seconds or nanoseconds, and
 * durations such as "15m" or "1h30m" as used by queries and ooda.yaml.
 */
#ifndef OODA_TIME_H
#define OODA_TIME_H

#include <stdint.h>
#include <stddef.h>

#define OODA_NS_PER_SEC INT64_C(1000000000)
#define OODA_NS_PER_MS INT64_C(1000000)

/* Wall clock, ns since the epoch. */
int64_t ooda_now_ns(void);
/* Monotonic clock, ns; only differences mean anything. */
int64_t ooda_mono_ns(void);

/*
 * Writes ns as RFC 3339 UTC with millisecond precision
 * ("2026-11-25T10:00:00.123Z") into out (at least 32 bytes). Returns out.
 */
char *ooda_time_format(int64_t ns, char *out, size_t size);

/*
 * Parses an RFC 3339 timestamp, or a bare integer taken as unix seconds
 * (<= 1e11), milliseconds (<= 1e14), microseconds (<= 1e17) or nanoseconds.
 * Returns 0 and sets *ns, or OODA_EINVAL.
 */
int ooda_time_parse(const char *s, size_t len, int64_t *ns);

/*
 * Parses a duration: one or more <number><unit> with units ns, us, ms, s,
 * m, h, d, w, y (365d), e.g. "90s", "1h30m", "1.5h". Returns 0 and sets
 * *ns, or OODA_EINVAL.
 */
int ooda_duration_parse(const char *s, size_t len, int64_t *ns);

/* Formats a duration compactly ("1h30m", "250ms") into out. Returns out. */
char *ooda_duration_format(int64_t ns, char *out, size_t size);

#endif
