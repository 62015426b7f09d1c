/*
 * The allocation policy in one place: small allocations that fail end the
 * process with a message naming the size (a daemon that cannot find a few
 * bytes cannot keep its promises, and an error path per allocation would
 * mostly be untested dead weight). prelude.h includes this header into every
 * ooda file. Allocations sized by input (decompressed bodies, block encode
 * buffers, a whole trace's tree) are bounded by a limit first and keep a
 * checked malloc with an error answer; scripts/check-alloc refuses any other
 * bare malloc/calloc/realloc/strdup/strndup in src/. See docs/decisions.md.
 */
#ifndef OODA_XALLOC_H
#define OODA_XALLOC_H

#include <stddef.h>

/*
 * Like malloc/calloc/realloc, but never return NULL: on failure they print
 * "ooda: out of memory allocating N bytes" to stderr and abort(). A size of
 * 0 gives a valid, unique pointer (one byte). xcalloc and xreallocarray also
 * abort when n * size overflows. The caller owns the result (free()).
 */
void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
void *xreallocarray(void *p, size_t n, size_t size);
/*
 * Copies of a string, which the caller owns. xstrdup(NULL) returns NULL, so an
 * optional field copies in one call; xstrndup copies at most len bytes and
 * always NUL-terminates. Abort as above on failure.
 */
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t len);

#endif
