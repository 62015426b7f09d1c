/*
 * Package URLs (purl, github.com/package-url/purl-spec):
 * pkg:type/namespace/name@version?qualifiers#subpath. CDEvents name the
 * artifact a service runs with one (subject.content.artifactId); the
 * change-event decoder reads the service name and version from it. Pure
 * functions, no allocation: the decoded parts live inside struct purl.
 */
#ifndef OODA_PURL_H
#define OODA_PURL_H

#include <stddef.h>

#include "core/buf.h"

#define PURL_MAX_LEN 4096       /* bytes of one package URL */
#define PURL_MAX_QUALIFIERS 32  /* key=value pairs after '?' */

struct purl_qualifier {
	const char *key, *value;
};

struct purl {
	const char *type;      /* lower-cased, never NULL after a parse */
	const char *namespace; /* segments joined by '/', NULL if none */
	const char *name;      /* never NULL or empty after a parse */
	const char *version;   /* NULL if none */
	const char *subpath;   /* segments joined by '/', NULL if none */
	struct purl_qualifier q[PURL_MAX_QUALIFIERS];
	size_t n_q;            /* qualifiers in order of appearance */
	char store[PURL_MAX_LEN + 2 * PURL_MAX_QUALIFIERS + 8]; /* the parts, decoded */
};

/*
 * Parses the len bytes at s into p (caller's struct; all strings point into
 * p->store). Follows the purl spec: the scheme "pkg" is case-insensitive
 * and may be followed by slashes; the type is [A-Za-z.+-][A-Za-z0-9.+-]*
 * and is lower-cased; namespace, name, version, qualifier values and
 * subpath segments are percent-decoded; empty namespace and subpath
 * segments are dropped, as are "." and ".." in the subpath; qualifier keys
 * are lower-cased, unique and [a-z0-9._-]; a qualifier with an empty value
 * is dropped.
 *
 * Returns 0, or OODA_EINVAL with err (not NULL) saying what is wrong (no scheme, no
 * name, a bad type or key, a bad or NUL %-escape, a duplicate key), or
 * OODA_ETOOBIG past PURL_MAX_LEN bytes or PURL_MAX_QUALIFIERS qualifiers.
 */
int purl_parse(const char *s, size_t len, struct purl *p, struct buf *err);

#endif
