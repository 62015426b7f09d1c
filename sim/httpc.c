/*
 * libcurl behind httpc_call (see httpc.h). Responses are capped at 4 MiB so a
 * confused peer cannot grow the simulator without bound.
 */
#include "httpc.h"

#include <curl/curl.h>

#include "core/error.h"

#define HTTPC_MAX_BODY (4u << 20)

void httpc_global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t on_data(char *p, size_t s, size_t n, void *u)
{
	struct buf *b = u;
	if (b && b->len + s * n <= HTTPC_MAX_BODY)
		buf_add(b, p, s * n);
	return s * n;
}

int httpc_call(const char *method, const char *url, const char *const *headers, const char *body,
	       size_t body_len, long timeout_ms, long *status, struct buf *resp, struct buf *err)
{
	CURL *cu = curl_easy_init();
	struct curl_slist *hdr = NULL;
	int rc = 0;
	*status = 0;
	if (!cu) {
		buf_adds(err, "curl: cannot create a handle");
		return OODA_ENOMEM;
	}
	for (size_t i = 0; headers && headers[i]; i++)
		hdr = curl_slist_append(hdr, headers[i]);
	hdr = curl_slist_append(hdr, "Expect:");
	curl_easy_setopt(cu, CURLOPT_URL, url);
	curl_easy_setopt(cu, CURLOPT_CUSTOMREQUEST, method);
	if (body) {
		curl_easy_setopt(cu, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(cu, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	} else if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(cu, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(cu, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
	}
	if (strcmp(method, "GET") == 0)
		curl_easy_setopt(cu, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(cu, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(cu, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(cu, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 2000 ? timeout_ms : 2000L);
	curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(cu, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
	CURLcode cr = curl_easy_perform(cu);
	if (cr != CURLE_OK) {
		buf_addf(err, "%s %s: %s", method, url, curl_easy_strerror(cr));
		rc = OODA_EUNAVAIL;
	} else {
		curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, status);
	}
	curl_slist_free_all(hdr);
	curl_easy_cleanup(cu);
	return rc;
}
