/*
 * A bump allocator for per-request and per-evaluation memory: decoders and
 * handlers allocate from it without freeing field by field, and the whole
 * arena is released in one call when the request ends.
 */
#ifndef OODA_ARENA_H
#define OODA_ARENA_H

#include <stddef.h>

struct arena_chunk;

struct arena {
	struct arena_chunk *head;
	size_t chunk_size; /* default size of a new chunk */
	size_t used;       /* bytes handed out, for limits and metrics */
	size_t limit;      /* 0 = unlimited; allocations past it return NULL */
};

/* chunk_size 0 picks 64 KiB. */
void arena_init(struct arena *a, size_t chunk_size);
/* Frees every chunk; a is reusable after arena_init. */
void arena_release(struct arena *a);
/* Keeps the first chunk, forgets all allocations. */
void arena_reset(struct arena *a);
/* 16-byte aligned, uninitialised. NULL only when a->limit would be passed. */
void *arena_alloc(struct arena *a, size_t size);
void *arena_zalloc(struct arena *a, size_t size);
char *arena_strndup(struct arena *a, const char *s, size_t len);
char *arena_strdup(struct arena *a, const char *s);
char *arena_printf(struct arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
