/*
 * Times in JSON documents: the one way every stage writes an instant into
 * the JSON it answers with (RFC 3339, UTC, milliseconds: ooda_time_format),
 * so an alert's, an incident's, an on-call shift's and a drill's times read
 * alike. Here rather than in core, which has no JSON library.
 */
#ifndef OODA_JSONTIME_H
#define OODA_JSONTIME_H

#include <stdint.h>

#include <jansson.h>

/* ns (Unix ns) as a JSON string, e.g. "2026-12-07T02:48:00.000Z". */
json_t *json_time(int64_t ns);

/* As json_time, or JSON null for "no time": ns <= 0 or INT64_MAX. */
json_t *json_time_or_null(int64_t ns);

#endif
