/*
 * Time zones for on-call rotations: IANA zones read from the system's
 * compiled TZif files (RFC 8536) into an immutable object, so a schedule
 * can ask "what is the UTC offset at this instant" and "which instant is
 * 09:00 local on this day" from any thread without touching the process's
 * TZ variable or the C library's shared zone state (decisions.md, "On-call
 * time zones from TZif files"). Times past the file's last transition
 * follow its footer rule (a POSIX TZ string), so slim files work too.
 * Also the calendar arithmetic the rotations need (days since the epoch,
 * weekdays) without gmtime.
 */
#ifndef OODA_TZ_H
#define OODA_TZ_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct tz;

/* Bounds on what tz_parse accepts: real zones have < 2000 transitions and < 20 types. */
#define TZ_MAX_FILE (256 * 1024)
#define TZ_MAX_TRANSITIONS 16384
#define TZ_MAX_NAME 64

/*
 * Parses a TZif file (versions 1 to 4) held in data. Checks every count
 * against len before reading, the type indices, the ascending transition
 * times and the footer. Returns 0 and sets *out (tz_destroy frees it), or
 * OODA_EPARSE with the reason in err.
 */
int tz_parse(const unsigned char *data, size_t len, struct tz **out, struct buf *err);

/*
 * Loads the IANA zone name ("Europe/Berlin", "UTC") from $TZDIR or
 * /usr/share/zoneinfo. A name is letters, digits, '_', '+', '-' in
 * '/'-separated parts (no "..", no leading '/', at most TZ_MAX_NAME
 * bytes). "UTC" works without a file. OODA_EINVAL with "unknown time zone
 * \"NAME\"" in err when there is no such zone.
 */
int tz_load(const char *name, struct tz **out, struct buf *err);

void tz_destroy(struct tz *z);

/* The zone's offset from UTC in seconds (east positive) at unix time t (seconds). */
int32_t tz_offset(const struct tz *z, int64_t t);

/*
 * The unix time (seconds) at which local wall-clock seconds local (seconds
 * since 1970-01-01T00:00 local) occurs. A wall time that occurs twice (the
 * autumn change) gives the first; one that does not occur (the spring gap)
 * gives the instant the clock reads it after moving forward, e.g. 02:30 on
 * the spring day in Berlin is 03:30 CEST.
 */
int64_t tz_local_to_utc(const struct tz *z, int64_t local);

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1-12, day 1-31). */
int64_t tz_days_from_civil(int64_t y, int m, int d);
/* The date of days since 1970-01-01. */
void tz_civil_from_days(int64_t days, int64_t *y, int *m, int *d);
/* Weekday of days since 1970-01-01: 0 = Monday … 6 = Sunday. */
int tz_weekday(int64_t days);

#endif
