/* libcurl behind the CLI's calls to the daemon (see client.h). */
#include "cli/client.h"
#include "core/error.h"

#include <curl/curl.h>
#include <jansson.h>

static size_t collect(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct buf *b = ud;
	if (b->len + size * nmemb > (256u << 20))
		return 0;
	buf_add(b, ptr, size * nmemb);
	return size * nmemb;
}

void client_urlencode(struct buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~') {
			buf_addch(out, (char)c);
		} else {
			buf_addch(out, '%');
			buf_addch(out, hex[c >> 4]);
			buf_addch(out, hex[c & 15]);
		}
	}
}

/*
 * The error for an HTTP status the daemon answered with. Never OODA_EINVAL:
 * that one means a bad command line (exit 2), and a request the daemon
 * refuses is a failure reported by the server (exit 1).
 */
static const struct {
	long status;
	int code;
} http_errors[] = {
	{ 401, OODA_EUNAUTH }, { 403, OODA_EFORBIDDEN }, { 404, OODA_ENOTFOUND }, { 409, OODA_ECONFLICT },
	{ 410, OODA_EGONE },   { 412, OODA_EPRECOND },   { 413, OODA_ETOOBIG },   { 429, OODA_EBUSY },
	{ 503, OODA_EUNAVAIL }, { 504, OODA_ETIMEOUT },
};

static int http_error_code(long status)
{
	for (size_t i = 0; i < sizeof(http_errors) / sizeof(http_errors[0]); i++)
		if (http_errors[i].status == status)
			return http_errors[i].code;
	return status >= 500 ? OODA_EINTERNAL : OODA_EREFUSED;
}

int client_call(const struct client *c, const char *method, const char *path, const char *body,
		size_t body_len, const char *content_type, int *status, struct buf *out, struct buf *err)
{
	static int inited;
	if (!inited) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		inited = 1;
	}
	CURL *h = curl_easy_init();
	struct buf url = BUF_INIT, auth = BUF_INIT, ct = BUF_INIT;
	size_t slen = strlen(c->server);
	buf_add(&url, c->server, slen && c->server[slen - 1] == '/' ? slen - 1 : slen);
	buf_adds(&url, path);
	struct curl_slist *hdrs = NULL;
	if (c->token && *c->token) {
		buf_addf(&auth, "Authorization: Bearer %s", c->token);
		hdrs = curl_slist_append(hdrs, auth.data);
	}
	if (body) {
		buf_addf(&ct, "Content-Type: %s", content_type ? content_type : "application/json");
		hdrs = curl_slist_append(hdrs, ct.data);
	}
	struct buf im = BUF_INIT;
	if (c->if_match) {
		buf_addf(&im, "If-Match: \"v%s\"", c->if_match + (c->if_match[0] == 'v'));
		hdrs = curl_slist_append(hdrs, im.data);
	}
	curl_easy_setopt(h, CURLOPT_URL, url.data);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, c->timeout_s > 0 ? c->timeout_s : 60L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	}
	CURLcode cc = curl_easy_perform(h);
	long code = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	*status = (int)code;
	int rc = 0;
	if (cc != CURLE_OK) {
		buf_addf(err, "cannot reach ooda at %s: %s (is `ooda serve` running? point the CLI at it with --server, OODA_SERVER or `ooda login`)",
			 c->server, curl_easy_strerror(cc));
		rc = OODA_EUNAVAIL;
	} else if (code < 200 || code >= 300) {
		json_t *j = json_loadb(out->data, out->len, 0, NULL);
		const char *title = j ? json_string_value(json_object_get(j, "title")) : NULL;
		const char *detail = j ? json_string_value(json_object_get(j, "detail")) : NULL;
		const char *perr = j ? json_string_value(json_object_get(j, "error")) : NULL;
		buf_addf(err, "%ld %s: %s", code, title ? title : "error",
			 detail ? detail : perr ? perr : out->len ? out->data : "(no detail)");
		json_decref(j);
		if (code == 401)
			buf_adds(err, c->token && *c->token
					      ? " (the token was refused: set OODA_TOKEN, or pass --token, to a valid one, or run `ooda login`)"
					      : " (no token was sent: set OODA_TOKEN, or pass --token, or run `ooda login`)");
		rc = http_error_code(code);
	}
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	buf_release(&url);
	buf_release(&auth);
	buf_release(&ct);
	buf_release(&im);
	return rc;
}
