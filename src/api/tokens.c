/*
 * /api/v1/tokens: list, create (the secret is returned once), revoke. A
 * daemon listening beyond loopback refuses to revoke its last admin token.
 */
#include "api/api.h"
#include "api/handlers.h"

struct list_ctx {
	struct buf *b;
	size_t n;
};

static int list_row(void *ctx, const void *row)
{
	struct list_ctx *l = ctx;
	if (l->n++)
		buf_addch(l->b, ',');
	token_json(row, l->b);
	return 0;
}

int api_tokens_list(struct http_request *req, struct http_response *res)
{
	struct daemon *d = api_daemon(req);
	struct buf b = BUF_INIT;
	struct list_ctx l = { &b, 0 };
	buf_adds(&b, "{\"tokens\":[");
	int rc = store_token_list(d->store, list_row, &l);
	buf_adds(&b, "]}");
	if (rc) {
		buf_release(&b);
		buf_adds(&req->err, "cannot list tokens");
		return rc;
	}
	http_json(res, 200, &b);
	return 0;
}

int api_tokens_create(struct http_request *req, struct http_response *res)
{
	struct daemon *d = api_daemon(req);
	json_t *body;
	int rc = api_json_body(req, &body);
	if (rc)
		return rc;
	struct token_request tr = { .actor = req->who.actor };
	if ((rc = api_json_str(req, body, "name", 127, &tr.name)) ||
	    (rc = api_json_str(req, body, "role", 16, &tr.role)) ||
	    (rc = api_json_str(req, body, "env", 63, &tr.env)) ||
	    (rc = api_json_str(req, body, "rationale", 1024, &tr.rationale))) {
		json_decref(body);
		return rc;
	}
	char secret[96];
	struct token_row row;
	rc = token_create(d->store, &d->signer, &tr, secret, sizeof(secret), &row, &req->err);
	json_decref(body);
	if (rc)
		return rc;
	auth_invalidate(d->auth);
	struct buf b = BUF_INIT;
	buf_adds(&b, "{\"token\":");
	buf_add_json_str(&b, secret, strlen(secret));
	buf_adds(&b, ",\"info\":");
	token_json(&row, &b);
	buf_adds(&b, "}");
	http_json(res, 201, &b);
	return 0;
}

int api_tokens_revoke(struct http_request *req, struct http_response *res)
{
	struct daemon *d = api_daemon(req);
	struct token_row row;
	const char *why = http_query(req, "rationale");
	int rc = (http_listen_is_loopback(d->listen) ? token_revoke : token_revoke_keep_admin)(
		d->store, &d->signer, http_param(req, "id"), req->who.actor, why ? why : "", &row, &req->err);
	if (rc)
		return rc;
	auth_invalidate(d->auth);
	struct buf b = BUF_INIT;
	token_json(&row, &b);
	http_json(res, 200, &b);
	return 0;
}
