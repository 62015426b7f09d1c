/*
 * The router: a linear walk of the route table, segment by segment. The
 * table has tens of entries, so a walk costs less than a hash lookup's
 * setup and keeps the table the single source of truth.
 */
#include "http/router.h"

#include <stdbool.h>

/* Matches one pattern; binds params when req is given. */
static bool match(const char *pattern, const char *path, struct http_request *req)
{
	const char *p = pattern, *s = path;
	int n = 0;
	while (*p && *s) {
		if (p[0] == '*' && p[1] == '\0')
			return true;
		if (*p == '{') {
			const char *close = strchr(p, '}');
			if (!close)
				return false;
			const char *end = strchr(s, '/');
			size_t len = end ? (size_t)(end - s) : strlen(s);
			if (len == 0)
				return false;
			if (req && n < HTTP_MAX_PARAMS) {
				req->param_names[n] = arena_strndup(&req->arena, p + 1, (size_t)(close - p - 1));
				req->param_values[n] = arena_strndup(&req->arena, s, len);
				n++;
			}
			p = close + 1;
			s += len;
			continue;
		}
		if (*p != *s)
			return false;
		p++;
		s++;
	}
	if (p[0] == '/' && p[1] == '*' && p[2] == '\0' && *s == '\0')
		return true;
	if (*p || *s)
		return false;
	if (req)
		req->n_params = n;
	return true;
}

const struct route *router_match(const struct route *routes, const char *method, const char *path,
				 struct http_request *req, int *status, struct buf *allow)
{
	bool path_known = false;
	const char *m = !strcmp(method, "HEAD") ? "GET" : method;
	for (const struct route *r = routes; r->method; r++) {
		if (!match(r->pattern, path, NULL))
			continue;
		if (!strcmp(r->method, m)) {
			match(r->pattern, path, req);
			return r;
		}
		if (allow->len)
			buf_adds(allow, ", ");
		buf_adds(allow, r->method);
		path_known = true;
	}
	*status = path_known ? 405 : 404;
	return NULL;
}

int router_index(const struct route *routes, const struct route *r)
{
	return (int)(r - routes);
}
