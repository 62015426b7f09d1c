/* /api/v1/audit: filtered listing with a cursor, chain verification (against anchored heads), checkpoints. */
#include "api/api.h"
#include "api/handlers.h"
#include "core/hex.h"
#include "core/time.h"

struct list_ctx {
	json_t *items;
	int64_t last_seq;
};

static int audit_row_json(void *ctx, const void *row)
{
	struct list_ctx *l = ctx;
	const struct audit_row *a = row;
	char t[40], prev[65], hash[65];
	hex_encode(a->prev_hash, 32, prev);
	hex_encode(a->hash, 32, hash);
	json_t *detail = a->detail ? json_loads(a->detail, 0, NULL) : NULL;
	json_array_append_new(l->items,
		json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:s}",
			  "seq", (json_int_t)a->seq, "time", ooda_time_format(a->time_ns, t, sizeof(t)),
			  "actor", a->actor, "action", a->action, "target", a->target,
			  "before_digest", a->before_digest, "after_digest", a->after_digest,
			  "rationale", a->rationale, "detail", detail ? detail : json_null(),
			  "prev_hash", prev, "hash", hash));
	json_object_set_new(json_array_get(l->items, json_array_size(l->items) - 1), "hash_version",
			    json_integer(a->hash_version));
	l->last_seq = a->seq;
	return 0;
}

int api_audit_list(struct http_request *req, struct http_response *res)
{
	struct daemon *d = api_daemon(req);
	struct audit_filter f = { .descending = true };
	f.actor = http_query(req, "actor");
	f.action = http_query(req, "action");
	f.target = http_query(req, "target");
	int rc;
	if ((rc = api_query_time(req, "from", &f.from_ns)) && rc != OODA_ENOTFOUND)
		return rc;
	if ((rc = api_query_time(req, "to", &f.to_ns)) && rc != OODA_ENOTFOUND)
		return rc;
	if ((rc = api_query_time(req, "since", &f.from_ns)) && rc != OODA_ENOTFOUND)
		return rc;
	if ((rc = api_query_limit(req, "limit", 100, 1000, &f.limit)))
		return rc;
	const char *order = http_query(req, "order");
	if (order && !strcmp(order, "asc"))
		f.descending = false;
	const char *cursor = http_query(req, "cursor");
	if (cursor) {
		char *end;
		long long c = strtoll(cursor, &end, 10);
		if (*end || c < 0) {
			buf_adds(&req->err, "cursor: not a cursor returned by this API");
			return OODA_EINVAL;
		}
		if (f.descending)
			f.before_seq = c;
		else
			f.after_seq = c;
	}
	struct list_ctx l = { json_array(), 0 };
	rc = store_audit_iter(d->store, &f, audit_row_json, &l);
	if (rc) {
		json_decref(l.items);
		buf_adds(&req->err, "cannot read the audit log");
		return rc;
	}
	json_t *out = json_pack("{s:o}", "records", l.items);
	if (json_array_size(l.items) == f.limit)
		json_object_set_new(out, "next_cursor", json_sprintf("%lld", (long long)l.last_seq));
	else
		json_object_set_new(out, "next_cursor", json_null());
	api_send_json(res, 200, out);
	return 0;
}

/*
 * Expected heads from the body: "head" (one) and "heads" (a list), each a
 * "SEQ:HASH" string or an anchor object as `ooda audit anchor` prints it.
 * Caller frees *out.
 */
static int verify_heads(struct http_request *req, const struct audit_keyset *pk, struct audit_head **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (!req->body_len)
		return 0;
	json_t *body;
	int rc = api_json_body(req, &body);
	if (rc)
		return rc;
	json_t *one = json_object_get(body, "head"), *list = json_object_get(body, "heads");
	if (list && !json_is_array(list)) {
		buf_adds(&req->err, "heads: expected a list of heads (\"SEQ:HASH\" or anchor objects)");
		json_decref(body);
		return OODA_EINVAL;
	}
	size_t cap = (one ? 1 : 0) + json_array_size(list);
	if (cap > 10000) {
		buf_adds(&req->err, "heads: at most 10000 heads per verification");
		json_decref(body);
		return OODA_EINVAL;
	}
	*out = xcalloc(cap ? cap : 1, sizeof(**out));
	if (one)
		rc = audit_head_from_json_keys(one, pk, "head", &(*out)[(*n)++], &req->err);
	size_t i;
	json_t *h;
	json_array_foreach(list, i, h) {
		if (rc)
			break;
		char where[32];
		snprintf(where, sizeof(where), "heads[%zu]", i);
		rc = audit_head_from_json_keys(h, pk, where, &(*out)[(*n)++], &req->err);
	}
	json_decref(body);
	if (rc) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

int api_audit_verify(struct http_request *req, struct http_response *res)
{
	struct daemon *d = api_daemon(req);
	/* this node's key and those the cluster's other nodes published (one key on a single node) */
	struct audit_keyset keys;
	int rc = audit_keyset_load(d->store, &d->signer, &keys, &req->err);
	if (rc)
		return rc;
	struct audit_verify_options opt = { .keys = &keys };
	struct audit_head *heads;
	rc = verify_heads(req, &keys, &heads, &opt.n_heads);
	if (rc) {
		audit_keyset_release(&keys);
		return rc;
	}
	opt.heads = heads;
	struct audit_verify_result r;
	rc = audit_verify(d->store, &opt, &r, &req->err);
	free(heads);
	json_t *trusted = json_array();
	for (size_t i = 0; i < keys.n; i++) {
		char id[17];
		audit_key_id(keys.pk[i], id);
		json_array_append_new(trusted, json_pack("{s:s, s:s}", "key_id", id, "node",
							 keys.node[i][0] ? keys.node[i] : "(this node)"));
	}
	audit_keyset_release(&keys);
	if (rc) {
		json_decref(trusted);
		return rc;
	}
	char head[65];
	hex_encode(r.head_hash, 32, head);
	json_t *j = json_pack("{s:b, s:I, s:I, s:I, s:{s:I, s:s}}", "ok", r.ok, "records", (json_int_t)r.records,
			      "checkpoints_verified", (json_int_t)r.checkpoints, "heads_matched",
			      (json_int_t)r.heads_matched, "head", "seq", (json_int_t)r.head_seq, "hash", head);
	json_object_set_new(j, "keys", trusted);
	if (!r.ok) {
		json_object_set_new(j, "first_bad_seq", json_integer(r.first_bad_seq));
		json_object_set_new(j, "reason", json_string(r.reason));
	}
	api_send_json(res, 200, j);
	return 0;
}

struct cp_ctx {
	struct daemon *d;
	const char *actor;
	struct checkpoint_row cp;
};

static int checkpoint_tx(struct store *s, void *ctx, struct buf *err)
{
	struct cp_ctx *c = ctx;
	return audit_anchor(s, &c->d->signer, c->actor, &c->cp, err);
}

int api_audit_checkpoint(struct http_request *req, struct http_response *res)
{
	struct daemon *d = api_daemon(req);
	struct cp_ctx c = { d, req->who.actor, { 0 } };
	int rc = store_write(d->store, checkpoint_tx, &c, &req->err);
	if (rc)
		return rc;
	char pk[65];
	hex_encode(d->signer.pk, 32, pk);
	api_send_json(res, 201, json_pack("{s:s, s:s, s:o}", "status", "checkpoint written", "public_key", pk,
					  "anchor", audit_anchor_json(&c.cp)));
	return 0;
}
