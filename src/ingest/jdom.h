/*
 * A small JSON reader for the ingest hot path: parses one document into a
 * tree of nodes allocated in a request arena (no malloc per value), with a
 * nesting limit and errors that say line and column. OTLP/JSON, NDJSON and
 * change events decode through it; jansson stays for API documents.
 */
#ifndef OODA_JDOM_H
#define OODA_JDOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"

enum jtype { J_NULL, J_FALSE, J_TRUE, J_NUM, J_STR, J_ARR, J_OBJ };

struct jval {
	uint8_t type;       /* enum jtype */
	uint32_t len;       /* bytes of s (J_STR, J_NUM) or children (J_ARR, J_OBJ) */
	uint32_t klen;
	const char *s;      /* J_STR unescaped, J_NUM as written; NUL-terminated */
	const char *key;    /* member name (klen bytes, not NUL-terminated: may point into the text) */
	struct jval *child; /* first element or member */
	struct jval *next;  /* next sibling */
};

/*
 * Parses exactly one JSON value from text (trailing whitespace allowed).
 * Every node and string value lives in arena; member names may point into
 * text, which must therefore outlive the tree. Returns the root, or NULL with
 * "line L, column C: why" appended to err (also when nesting passes 64 or
 * the arena limit is reached).
 */
struct jval *jdom_parse(struct arena *arena, const char *text, size_t len, struct buf *err);

/* Member of obj named key (or, if key2 is not NULL, key2); NULL if absent or obj is not an object. */
const struct jval *jdom_get(const struct jval *obj, const char *key, const char *key2);

/* A J_STR's text, or NULL for any other type. */
static inline const char *jdom_str(const struct jval *v)
{
	return v && v->type == J_STR ? v->s : NULL;
}

/* Integer from a number or a decimal string ("123"); false if neither or out of range. */
bool jdom_i64(const struct jval *v, int64_t *out);
bool jdom_u64(const struct jval *v, uint64_t *out);
/* Double from a number or a string (also "NaN", "Infinity", "-Infinity"). */
bool jdom_f64(const struct jval *v, double *out);

/* Appends v as compact JSON text. */
void jdom_write(struct buf *out, const struct jval *v);

#endif
