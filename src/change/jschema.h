/*
 * A JSON Schema (draft 2020-12) validator for config sets: a service's
 * schema is compiled when it is stored and again before each config
 * version is checked against it. A schema either means exactly what the
 * specification says or is refused: a keyword this validator does not
 * implement (`unevaluatedProperties`, `$dynamicRef`, a typo such as
 * `maximun`), a remote `$ref`, or a `format` it cannot assert makes
 * jschema_compile fail naming the keyword and its JSON pointer, so a stored
 * schema never silently accepts what it was written to refuse. Annotation
 * keywords (`title`, `description`, `default`, ...) and `x-` extensions are
 * accepted and ignored. Supported assertions and applicators are listed in
 * the keyword table in jschema.c and in docs/change.md.
 */
#ifndef OODA_JSCHEMA_H
#define OODA_JSCHEMA_H

#include <jansson.h>

#include <stdbool.h>

#include "core/buf.h"

/* A compiled schema: patterns compiled once, `$ref`s resolved. Opaque. */
struct jschema;

/*
 * Compiles schema (an object, or true/false). Does not keep schema: it is
 * copied, so the caller may free it afterwards. On success *out is a new
 * compiled schema the caller owns (jschema_destroy). On failure *out is
 * NULL, err says what and where (the schema's JSON pointer), and the code is
 *   OODA_EINVAL    a keyword with a value of the wrong shape, a pattern that
 *                  does not compile, a `$ref` that points nowhere;
 *   OODA_EREFUSED  a keyword, format or remote `$ref` that is not supported,
 *                  or a `$ref` loop that never reaches into the document;
 *   OODA_ELIMIT    more than 5,000 subschemas or 64 levels of nesting.
 */
int jschema_compile(const json_t *schema, struct jschema **out, struct buf *err);

/*
 * 0 if doc satisfies js. OODA_EVALIDATE with "at /instance/path: why" in err
 * for the first violation found; OODA_ELIMIT if checking needed more than a
 * bounded amount of work (nesting, steps, pattern backtracking).
 */
int jschema_validate(const struct jschema *js, const json_t *doc, struct buf *err);

/* Frees js and everything it holds; NULL is a no-op. */
void jschema_destroy(struct jschema *js);

#endif
