/*
 * A growable byte buffer, always NUL-terminated, used for strings built at
 * run time, response bodies and the human detail of errors (the `err`
 * out-parameter convention: a function that fails appends why to err).
 */
#ifndef OODA_BUF_H
#define OODA_BUF_H

#include <stddef.h>
#include <stdarg.h>

struct buf {
	char *data; /* never NULL after buf_init: points at "" when empty */
	size_t len;
	size_t cap;
};

#define BUF_INIT { .data = (char *)buf_empty, .len = 0, .cap = 0 }
extern const char buf_empty[1];

void buf_init(struct buf *b);
/* Frees the contents; b is empty and reusable afterwards. */
void buf_release(struct buf *b);
/* Empties b without freeing its storage. */
void buf_reset(struct buf *b);
/* Ensures room for extra more bytes (plus NUL). Aborts on out-of-memory. */
void buf_grow(struct buf *b, size_t extra);
void buf_add(struct buf *b, const void *data, size_t len);
void buf_adds(struct buf *b, const char *s);
void buf_addch(struct buf *b, char c);
void buf_addf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void buf_vaddf(struct buf *b, const char *fmt, va_list ap);
/*
 * Appends s as a JSON string literal, quotes included. Bytes that are not
 * well-formed UTF-8 become U+FFFD each, so the output is always valid JSON.
 */
void buf_add_json_str(struct buf *b, const char *s, size_t len);
void buf_setlen(struct buf *b, size_t len);
/* Returns the contents and leaves b empty; caller owns the returned string. */
char *buf_detach(struct buf *b, size_t *len);

#endif
