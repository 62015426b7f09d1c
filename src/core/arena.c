/*
 * The arena behind per-request memory. Chunks are chained; a large request
 * gets a chunk of its own size so nothing is copied when a body is big.
 */
#include "core/arena.h"

#include <stdint.h>

struct arena_chunk {
	struct arena_chunk *next;
	size_t size;
	size_t used;
	_Alignas(16) unsigned char data[];
};

void arena_init(struct arena *a, size_t chunk_size)
{
	a->head = NULL;
	a->chunk_size = chunk_size ? chunk_size : 64 * 1024;
	a->used = 0;
	a->limit = 0;
}

void arena_release(struct arena *a)
{
	struct arena_chunk *c = a->head;
	while (c) {
		struct arena_chunk *next = c->next;
		free(c);
		c = next;
	}
	a->head = NULL;
	a->used = 0;
}

void arena_reset(struct arena *a)
{
	if (!a->head)
		return;
	struct arena_chunk *c = a->head->next;
	while (c) {
		struct arena_chunk *next = c->next;
		free(c);
		c = next;
	}
	a->head->next = NULL;
	a->head->used = 0;
	a->used = 0;
}

void *arena_alloc(struct arena *a, size_t size)
{
	size = (size + 15) & ~(size_t)15;
	if (size == 0)
		size = 16;
	if (a->limit && a->used + size > a->limit)
		return NULL;
	struct arena_chunk *c = a->head;
	if (!c || c->size - c->used < size) {
		size_t csize = size > a->chunk_size ? size : a->chunk_size;
		struct arena_chunk *n = xmalloc(sizeof(*n) + csize);
		n->size = csize;
		n->used = 0;
		if (c && size > a->chunk_size) {
			/* a big one-off: keep the current chunk in front */
			n->next = c->next;
			c->next = n;
			c = n;
		} else {
			n->next = c;
			a->head = n;
			c = n;
		}
	}
	void *p = c->data + c->used;
	c->used += size;
	a->used += size;
	return p;
}

void *arena_zalloc(struct arena *a, size_t size)
{
	void *p = arena_alloc(a, size);
	if (p)
		memset(p, 0, size);
	return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t len)
{
	char *p = arena_alloc(a, len + 1);
	if (!p)
		return NULL;
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

char *arena_printf(struct arena *a, const char *fmt, ...)
{
	va_list ap, cp;
	va_start(ap, fmt);
	va_copy(cp, ap);
	int n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	char *p = n >= 0 ? arena_alloc(a, (size_t)n + 1) : NULL;
	if (p)
		vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}
