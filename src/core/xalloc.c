/*
 * The aborting allocators of xalloc.h: the only file in src/ that calls the C
 * library's allocators without answering their failure itself (check-alloc
 * knows this file). Everything else in the daemon and the CLI allocates
 * through these, or through buf and arena, which end the same way.
 */
#include "core/xalloc.h"

#include <stdint.h>

static void xalloc_die(size_t n, size_t size)
{
	if (size == 1)
		fprintf(stderr, "ooda: out of memory allocating %zu bytes\n", n);
	else
		fprintf(stderr, "ooda: out of memory allocating %zu x %zu bytes\n", n, size);
	fflush(stderr);
	abort();
}

void *xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);
	if (!p)
		xalloc_die(size, 1);
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	if (!n || !size)
		n = size = 1;
	void *p = size > SIZE_MAX / n ? NULL : calloc(n, size);
	if (!p)
		xalloc_die(n, size);
	return p;
}

void *xrealloc(void *p, size_t size)
{
	void *q = realloc(p, size ? size : 1);
	if (!q)
		xalloc_die(size, 1);
	return q;
}

void *xreallocarray(void *p, size_t n, size_t size)
{
	if (n && size > SIZE_MAX / n)
		xalloc_die(n, size);
	return xrealloc(p, n * size);
}

char *xstrdup(const char *s)
{
	return s ? xstrndup(s, strlen(s)) : NULL;
}

char *xstrndup(const char *s, size_t len)
{
	size_t n = strnlen(s, len);
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}
