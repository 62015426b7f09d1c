/*
 * Package URL parsing (see purl.h), the way the purl spec reads one: cut
 * the subpath at the last '#', the qualifiers at the last '?', the scheme
 * and the type from the left, the version at the last '@' and the name at
 * the last '/'; what is left is the namespace. Each part is decoded into
 * p->store, which cannot overflow because a decoded part is never longer
 * than its text and every part adds one NUL.
 */
#include "ingest/purl.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"

struct cursor {
	struct purl *p;
	size_t used; /* bytes of p->store taken */
	struct buf *err;
};

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Starts a part in the store; parts are appended with put_decoded. */
static char *part_begin(struct cursor *c)
{
	return c->p->store + c->used;
}

static void part_end(struct cursor *c)
{
	c->p->store[c->used++] = '\0';
}

/* Appends the percent-decoded n bytes at s to the part being built. */
static int put_decoded(struct cursor *c, const char *s, size_t n, const char *what)
{
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (ch == '%') {
			int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
			int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
			if (hi < 0 || lo < 0) {
				buf_addf(c->err, "package URL: bad %%-escape in the %s", what);
				return OODA_EINVAL;
			}
			ch = (char)(hi * 16 + lo);
			if (!ch) {
				buf_addf(c->err, "package URL: %%00 in the %s", what);
				return OODA_EINVAL;
			}
			i += 2;
		}
		c->p->store[c->used++] = ch;
	}
	return 0;
}

/*
 * Decodes the '/'-separated segments of s[0..n) into one part joined by
 * '/', dropping empty segments (and "." and ".." when dots is set).
 * Returns the part, or NULL through *rc on a bad escape; an all-empty
 * input gives NULL with *rc 0.
 */
static const char *put_segments(struct cursor *c, const char *s, size_t n, bool dots, const char *what,
				int *rc)
{
	char *start = part_begin(c);
	size_t first = c->used, i = 0;
	*rc = 0;
	while (i < n) {
		size_t j = i;
		while (j < n && s[j] != '/')
			j++;
		size_t len = j - i;
		bool skip = len == 0 || (dots && ((len == 1 && s[i] == '.') || (len == 2 && !memcmp(s + i, "..", 2))));
		if (!skip) {
			if (c->used > first)
				c->p->store[c->used++] = '/';
			if ((*rc = put_decoded(c, s + i, len, what)))
				return NULL;
		}
		i = j + 1;
	}
	if (c->used == first)
		return NULL;
	part_end(c);
	return start;
}

static const char *put_one(struct cursor *c, const char *s, size_t n, const char *what, int *rc)
{
	char *start = part_begin(c);
	if ((*rc = put_decoded(c, s, n, what)))
		return NULL;
	part_end(c);
	return start;
}

static const char *last_of(const char *s, size_t n, char ch)
{
	for (size_t i = n; i > 0; i--)
		if (s[i - 1] == ch)
			return s + i - 1;
	return NULL;
}

static int parse_qualifiers(struct cursor *c, const char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		size_t j = i;
		while (j < n && s[j] != '&')
			j++;
		const char *eq = memchr(s + i, '=', j - i);
		if (j > i && !eq) {
			buf_adds(c->err, "package URL: a qualifier without '='");
			return OODA_EINVAL;
		}
		if (eq && eq + 1 < s + j) { /* an empty value drops the qualifier */
			size_t klen = (size_t)(eq - (s + i));
			if (!klen) {
				buf_adds(c->err, "package URL: a qualifier with an empty key");
				return OODA_EINVAL;
			}
			if (c->p->n_q == PURL_MAX_QUALIFIERS) {
				buf_addf(c->err, "package URL: more than %d qualifiers", PURL_MAX_QUALIFIERS);
				return OODA_ETOOBIG;
			}
			char *key = part_begin(c);
			for (size_t k = 0; k < klen; k++) {
				char ch = (char)tolower((unsigned char)s[i + k]);
				if (!isalnum((unsigned char)ch) && ch != '.' && ch != '-' && ch != '_') {
					buf_adds(c->err, "package URL: a qualifier key holds a character other than a-z 0-9 . - _");
					return OODA_EINVAL;
				}
				c->p->store[c->used++] = ch;
			}
			part_end(c);
			for (size_t k = 0; k < c->p->n_q; k++) {
				if (!strcmp(c->p->q[k].key, key)) {
					buf_addf(c->err, "package URL: qualifier \"%.64s\" given twice", key);
					return OODA_EINVAL;
				}
			}
			int rc;
			const char *val = put_one(c, eq + 1, (size_t)(s + j - eq - 1), "qualifiers", &rc);
			if (!val)
				return rc;
			c->p->q[c->p->n_q++] = (struct purl_qualifier){ key, val };
		}
		i = j + 1;
	}
	return 0;
}

int purl_parse(const char *s, size_t len, struct purl *p, struct buf *err)
{
	memset(p, 0, offsetof(struct purl, store));
	if (len > PURL_MAX_LEN) {
		buf_addf(err, "package URL: longer than %d bytes", PURL_MAX_LEN);
		return OODA_ETOOBIG;
	}
	if (memchr(s, '\0', len)) {
		buf_adds(err, "package URL: holds a NUL byte");
		return OODA_EINVAL;
	}
	struct cursor c = { .p = p, .used = 0, .err = err };
	int rc = 0;
	size_t n = len;
	const char *hash = last_of(s, n, '#');
	const char *sub = NULL;
	size_t sub_n = 0;
	if (hash) {
		sub = hash + 1;
		sub_n = (size_t)(s + n - sub);
		n = (size_t)(hash - s);
	}
	const char *qmark = last_of(s, n, '?');
	const char *qs = NULL;
	size_t qs_n = 0;
	if (qmark) {
		qs = qmark + 1;
		qs_n = (size_t)(s + n - qs);
		n = (size_t)(qmark - s);
	}
	if (n < 4 || strncasecmp(s, "pkg:", 4) != 0) {
		buf_adds(err, "package URL: does not start with \"pkg:\"");
		return OODA_EINVAL;
	}
	size_t i = 4;
	while (i < n && s[i] == '/')
		i++;
	size_t t0 = i;
	while (i < n && s[i] != '/')
		i++;
	if (i == t0 || i == n) {
		buf_adds(err, i == t0 ? "package URL: no type" : "package URL: no name");
		return OODA_EINVAL;
	}
	char *type = part_begin(&c);
	for (size_t k = t0; k < i; k++) {
		char ch = (char)tolower((unsigned char)s[k]);
		bool ok = (ch >= 'a' && ch <= 'z') || ch == '.' || ch == '+' || ch == '-' ||
			  (k > t0 && ch >= '0' && ch <= '9');
		if (!ok) {
			buf_adds(err, "package URL: the type holds a character other than a-z 0-9 . + - (or starts with a digit)");
			return OODA_EINVAL;
		}
		c.p->store[c.used++] = ch;
	}
	part_end(&c);
	p->type = type;
	/* the rest: [namespace/]name[@version], leading and trailing slashes ignored */
	const char *rest = s + i + 1;
	size_t rn = n - i - 1;
	const char *at = last_of(rest, rn, '@');
	if (at) {
		if (!(p->version = put_one(&c, at + 1, (size_t)(rest + rn - at - 1), "version", &rc)))
			return rc;
		if (!*p->version)
			p->version = NULL;
		rn = (size_t)(at - rest);
	}
	while (rn && rest[rn - 1] == '/')
		rn--;
	const char *slash = last_of(rest, rn, '/');
	const char *nm = slash ? slash + 1 : rest;
	size_t nm_n = (size_t)(rest + rn - nm);
	if (!nm_n) {
		buf_adds(err, "package URL: no name");
		return OODA_EINVAL;
	}
	if (!(p->name = put_one(&c, nm, nm_n, "name", &rc)))
		return rc;
	if (slash) {
		p->namespace = put_segments(&c, rest, (size_t)(slash - rest), false, "namespace", &rc);
		if (rc)
			return rc;
	}
	if (qs && (rc = parse_qualifiers(&c, qs, qs_n)))
		return rc;
	if (sub) {
		p->subpath = put_segments(&c, sub, sub_n, true, "subpath", &rc);
		if (rc)
			return rc;
	}
	return 0;
}
