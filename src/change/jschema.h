/*
 * A JSON Schema validator for config sets: the keywords people use to keep
 * a service's configuration sane — type, enum, const, properties, required,
 * additionalProperties, items, min/max (exclusive too), minLength,
 * maxLength, pattern, minItems, maxItems, uniqueItems — checked before a
 * config version is accepted. Unknown keywords are ignored, as the
 * specification asks. Errors name the JSON path of the first violation.
 */
#ifndef OODA_JSCHEMA_H
#define OODA_JSCHEMA_H

#include <jansson.h>

#include <stdbool.h>

#include "core/buf.h"

/* Is schema itself usable (an object, keywords of the right types)? OODA_EINVAL with detail if not. */
int jschema_check(const json_t *schema, struct buf *err);

/* 0 if doc satisfies schema; OODA_EVALIDATE with "at /path: why" otherwise. */
int jschema_validate(const json_t *schema, const json_t *doc, struct buf *err);

#endif
