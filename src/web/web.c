/*
 * Serves the dashboard from the table scripts/embed-assets generated: the
 * shell at `/`, everything else under /assets/<build id>/. The shell changes
 * with every build and is revalidated (ETag); the assets' URLs carry the
 * build id, so a browser may keep them for a year. Every response carries the
 * same security headers; the shell holds no data, so it needs no token.
 */
#include "web/web.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"

/* The headers every dashboard response carries, as one table. */
static const struct {
	const char *name;
	const char *value;
} security_headers[] = {
	{ "Content-Security-Policy", WEB_CSP },
	{ "X-Content-Type-Options", "nosniff" },
	{ "Referrer-Policy", "no-referrer" },
	{ "X-Frame-Options", "DENY" },
	{ "Cross-Origin-Opener-Policy", "same-origin" },
};

const struct web_asset *web_asset_find(const char *name)
{
	for (const struct web_asset *a = web_assets; a->name; a++)
		if (!strcmp(a->name, name))
			return a;
	return NULL;
}

/* Next comma-separated element of *s, trimmed, into [*b, *e); false at the end. */
static bool next_item(const char **s, const char **b, const char **e)
{
	const char *p = *s;
	while (*p == ' ' || *p == '\t' || *p == ',')
		p++;
	if (!*p)
		return false;
	const char *end = strchr(p, ',');
	if (!end)
		end = p + strlen(p);
	*s = end;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*b = p;
	*e = end;
	return true;
}

bool web_accepts_gzip(const char *ae)
{
	const char *b, *e;
	while (ae && next_item(&ae, &b, &e)) {
		const char *semi = memchr(b, ';', (size_t)(e - b));
		const char *tok_end = semi ? semi : e;
		while (tok_end > b && (tok_end[-1] == ' ' || tok_end[-1] == '\t'))
			tok_end--;
		size_t n = (size_t)(tok_end - b);
		if (!((n == 4 && !strncasecmp(b, "gzip", 4)) || (n == 1 && *b == '*')))
			continue;
		if (!semi)
			return true;
		const char *q = semi + 1;
		while (q < e && (*q == ' ' || *q == '\t'))
			q++;
		if (e - q >= 2 && (q[0] == 'q' || q[0] == 'Q') && q[1] == '=') {
			char num[16];
			size_t len = (size_t)(e - q - 2);
			if (len >= sizeof(num))
				len = sizeof(num) - 1;
			memcpy(num, q + 2, len);
			num[len] = '\0';
			return strtod(num, NULL) > 0;
		}
		return true;
	}
	return false;
}

bool web_etag_matches(const char *inm, const char *etag)
{
	const char *b, *e;
	size_t n = strlen(etag);
	while (inm && next_item(&inm, &b, &e)) {
		if (e - b == 1 && *b == '*')
			return true;
		if (e - b >= 2 && b[0] == 'W' && b[1] == '/')
			b += 2;
		if (e - b >= 2 && *b == '"' && e[-1] == '"') {
			b++;
			e--;
		}
		/* the gzip representation's tag is the same hash with a ".gz" suffix */
		size_t len = (size_t)(e - b);
		if (len >= 3 && !memcmp(e - 3, ".gz", 3))
			len -= 3;
		if (len == n && !memcmp(b, etag, n))
			return true;
	}
	return false;
}

static int serve(struct http_request *req, struct http_response *res, const struct web_asset *a,
		 const char *cache_control)
{
	for (size_t i = 0; i < sizeof(security_headers) / sizeof(security_headers[0]); i++)
		http_set_header(res, security_headers[i].name, security_headers[i].value);
	http_set_header(res, "Cache-Control", cache_control);
	http_set_header(res, "Vary", "Accept-Encoding");
	bool gz = web_accepts_gzip(http_header(req, "Accept-Encoding"));
	char etag[64];
	snprintf(etag, sizeof(etag), "\"%s%s\"", a->etag, gz ? ".gz" : "");
	http_set_header(res, "ETag", etag);
	res->content_type = a->content_type;
	buf_reset(&res->body);
	if (web_etag_matches(http_header(req, "If-None-Match"), a->etag)) {
		res->status = 304;
		return 0;
	}
	res->status = 200;
	if (gz) {
		http_set_header(res, "Content-Encoding", "gzip");
		buf_add(&res->body, a->gz, a->gz_len);
	} else {
		buf_add(&res->body, a->data, a->len);
	}
	return 0;
}

int web_index(struct http_request *req, struct http_response *res)
{
	const struct web_asset *a = web_asset_find("index.html");
	if (!a) {
		buf_adds(&req->err, "this binary was built without the dashboard");
		return OODA_ENOTFOUND;
	}
	return serve(req, res, a, "no-cache");
}

int web_asset(struct http_request *req, struct http_response *res)
{
	static const char prefix[] = "/assets/";
	const char *rest = req->path + (strncmp(req->path, prefix, sizeof(prefix) - 1) ? strlen(req->path)
										   : sizeof(prefix) - 1);
	size_t id_len = strlen(web_build_id);
	if (strncmp(rest, web_build_id, id_len) || rest[id_len] != '/') {
		buf_addf(&req->err, "%s is not an asset of this build (%s): reload the page", req->path, web_build_id);
		return OODA_ENOTFOUND;
	}
	const char *name = rest + id_len + 1;
	const struct web_asset *a = strcmp(name, "index.html") ? web_asset_find(name) : NULL;
	if (!a) {
		buf_addf(&req->err, "no asset named %s", name);
		return OODA_ENOTFOUND;
	}
	return serve(req, res, a, "public, max-age=31536000, immutable");
}
