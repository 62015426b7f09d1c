/*
 * Internals shared by the JSON Schema compiler and validator (jschema.c)
 * and the format checkers (jschema_format.c): the table of asserted
 * formats and two character classes both use. Nothing outside those two
 * files includes this.
 */
#ifndef OODA_JSCHEMA_IMPL_H
#define OODA_JSCHEMA_IMPL_H

#include <stdbool.h>
#include <stddef.h>

#include "change/jschema.h"
#include "core/buf.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* An asserted "format": ok says whether the len bytes at s are valid. */
struct jschema_format {
	const char *name;
	bool (*ok)(const char *s, size_t len);
};

/* The asserted format called name, or NULL when name is not one we assert. */
const struct jschema_format *jschema_format_find(const char *name);

/* Appends " a, b, c" (each asserted format's name) to out, for the error
 * that refuses an unsupported format. */
void jschema_format_names(struct buf *out);

static inline bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static inline bool is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

#endif
