/*
 * The control store's public operations: one thin function per backend
 * operation that callers outside src/store/ need, so the backend table
 * (store_backend.h) stays private to this folder. Each forwards to the open
 * store's backend and adds nothing; the contracts are in store.h.
 */
#include "store/store_backend.h"
#include "core/error.h"

#include <string.h>

int store_data_version(struct store *s, int64_t *v)
{
	return store_backend(s)->data_version(store_impl(s), v);
}

int store_stats(struct store *s, int64_t *bytes, int64_t *audit_rows)
{
	return store_backend(s)->stats(store_impl(s), bytes, audit_rows);
}

int store_token_insert(struct store *s, const struct token_row *t)
{
	int rc = store_backend(s)->token_insert(store_impl(s), t);
	return rc ? rc : store_gen_bump(s, STORE_GEN_TOKENS);
}

int store_token_revoke(struct store *s, const char *id_or_name, int64_t now, struct token_row *out)
{
	int rc = store_backend(s)->token_revoke(store_impl(s), id_or_name, now, out);
	return rc ? rc : store_gen_bump(s, STORE_GEN_TOKENS);
}

int store_token_list(struct store *s, store_row_fn fn, void *ctx)
{
	return store_backend(s)->token_list(store_impl(s), fn, ctx);
}

int store_audit_last(struct store *s, int64_t *seq, uint8_t hash[32])
{
	return store_backend(s)->audit_last(store_impl(s), seq, hash);
}

int store_audit_insert(struct store *s, const struct audit_row *a)
{
	return store_backend(s)->audit_insert(store_impl(s), a);
}

int store_audit_iter(struct store *s, const struct audit_filter *f, store_row_fn fn, void *ctx)
{
	return store_backend(s)->audit_iter(store_impl(s), f, fn, ctx);
}

int store_checkpoint_insert(struct store *s, const struct checkpoint_row *c)
{
	return store_backend(s)->checkpoint_insert(store_impl(s), c);
}

int store_checkpoint_iter(struct store *s, store_row_fn fn, void *ctx)
{
	return store_backend(s)->checkpoint_iter(store_impl(s), fn, ctx);
}

int store_checkpoint_last(struct store *s, struct checkpoint_row *out)
{
	return store_backend(s)->checkpoint_last(store_impl(s), out);
}

int store_pattern_snapshot_put(struct store *s, const struct pattern_snapshot_row *r)
{
	return store_backend(s)->pattern_snapshot_put(store_impl(s), r);
}

int store_pattern_snapshot_iter(struct store *s, store_row_fn fn, void *ctx)
{
	return store_backend(s)->pattern_snapshot_iter(store_impl(s), fn, ctx);
}

int store_notify_insert(struct store *s, const struct notify_row *r, bool *inserted)
{
	return store_backend(s)->notify_insert(store_impl(s), r, inserted);
}

int store_notify_due(struct store *s, int64_t now_ns, size_t limit, store_row_fn fn, void *ctx)
{
	return store_backend(s)->notify_due(store_impl(s), now_ns, limit, fn, ctx);
}

int store_notify_update(struct store *s, const struct notify_row *r)
{
	return store_backend(s)->notify_update(store_impl(s), r);
}

int store_notify_list(struct store *s, const struct notify_filter *f, store_row_fn fn, void *ctx)
{
	return store_backend(s)->notify_list(store_impl(s), f, fn, ctx);
}

int store_notify_counts(struct store *s, struct notify_counts *out)
{
	return store_backend(s)->notify_counts(store_impl(s), out);
}

int store_notify_prune(struct store *s, int64_t before_ns, size_t limit, size_t *deleted)
{
	return store_backend(s)->notify_prune(store_impl(s), before_ns, limit, deleted);
}

int store_incident_put(struct store *s, const struct incident_row *r)
{
	return store_backend(s)->incident_put(store_impl(s), r);
}

int store_incident_get(struct store *s, int64_t number, store_row_fn fn, void *ctx)
{
	return store_backend(s)->incident_get(store_impl(s), number, fn, ctx);
}

int store_incident_iter(struct store *s, store_row_fn fn, void *ctx)
{
	return store_backend(s)->incident_iter(store_impl(s), fn, ctx);
}

int store_incident_max(struct store *s, int64_t *number)
{
	return store_backend(s)->incident_max(store_impl(s), number);
}

int store_incident_entry_append(struct store *s, struct incident_entry_row *e)
{
	return store_backend(s)->incident_entry_append(store_impl(s), e);
}

int store_incident_entry_iter(struct store *s, int64_t number, store_row_fn fn, void *ctx)
{
	return store_backend(s)->incident_entry_iter(store_impl(s), number, fn, ctx);
}

int store_incident_artifact_put(struct store *s, struct incident_artifact_row *a)
{
	return store_backend(s)->incident_artifact_put(store_impl(s), a);
}

int store_incident_artifact_get(struct store *s, int64_t number, int64_t id, store_row_fn fn, void *ctx)
{
	return store_backend(s)->incident_artifact_get(store_impl(s), number, id, fn, ctx);
}

int store_incident_artifact_iter(struct store *s, int64_t number, store_row_fn fn, void *ctx)
{
	return store_backend(s)->incident_artifact_iter(store_impl(s), number, fn, ctx);
}

int store_rollout_put(struct store *s, const struct rollout_row *r)
{
	return store_backend(s)->rollout_put(store_impl(s), r);
}

int store_rollout_get(struct store *s, const char *id, store_row_fn fn, void *ctx)
{
	return store_backend(s)->rollout_get(store_impl(s), id, fn, ctx);
}

int store_rollout_list(struct store *s, const char *status, size_t limit, store_row_fn fn, void *ctx)
{
	return store_backend(s)->rollout_list(store_impl(s), status, limit, fn, ctx);
}

int store_lease_claim(struct store *s, const char *node, int64_t held_term, int64_t now_ns, int64_t lease_ns,
		      struct lease_row *out)
{
	const struct store_backend *be = store_backend(s);
	return be->lease_claim ? be->lease_claim(store_impl(s), node, held_term, now_ns, lease_ns, out)
			       : OODA_EUNSUPPORTED;
}

int store_lease_get(struct store *s, struct lease_row *out)
{
	const struct store_backend *be = store_backend(s);
	return be->lease_get ? be->lease_get(store_impl(s), out) : OODA_EUNSUPPORTED;
}

int store_node_put(struct store *s, const struct node_row *r)
{
	const struct store_backend *be = store_backend(s);
	return be->node_put ? be->node_put(store_impl(s), r) : OODA_EUNSUPPORTED;
}

int store_node_list(struct store *s, store_row_fn fn, void *ctx)
{
	const struct store_backend *be = store_backend(s);
	return be->node_list ? be->node_list(store_impl(s), fn, ctx) : OODA_EUNSUPPORTED;
}

int store_live_put(struct store *s, const char *node, int64_t written_ns, const void *body, size_t len)
{
	const struct store_backend *be = store_backend(s);
	return be->live_put ? be->live_put(store_impl(s), node, written_ns, body, len) : OODA_EUNSUPPORTED;
}

int store_live_list(struct store *s, const char *node, int64_t after_id, int64_t own_before_ns, size_t limit,
		    store_row_fn fn, void *ctx)
{
	const struct store_backend *be = store_backend(s);
	return be->live_list ? be->live_list(store_impl(s), node, after_id, own_before_ns, limit, fn, ctx)
			     : OODA_EUNSUPPORTED;
}

int store_live_prune(struct store *s, int64_t before_ns)
{
	const struct store_backend *be = store_backend(s);
	return be->live_prune ? be->live_prune(store_impl(s), before_ns) : OODA_EUNSUPPORTED;
}

int store_pattern_lines_put(struct store *s, int64_t written_ns, const void *body, size_t len)
{
	const struct store_backend *be = store_backend(s);
	return be->pattern_lines_put ? be->pattern_lines_put(store_impl(s), written_ns, body, len) : OODA_EUNSUPPORTED;
}

int store_pattern_lines_list(struct store *s, int64_t after_id, size_t limit, store_row_fn fn, void *ctx)
{
	const struct store_backend *be = store_backend(s);
	return be->pattern_lines_list ? be->pattern_lines_list(store_impl(s), after_id, limit, fn, ctx)
				      : OODA_EUNSUPPORTED;
}

int store_pattern_lines_prune(struct store *s, int64_t upto_id, int64_t before_ns)
{
	const struct store_backend *be = store_backend(s);
	return be->pattern_lines_prune ? be->pattern_lines_prune(store_impl(s), upto_id, before_ns) : OODA_EUNSUPPORTED;
}

int store_pattern_mark_put(struct store *s, int64_t id)
{
	const struct store_backend *be = store_backend(s);
	return be->pattern_mark_put ? be->pattern_mark_put(store_impl(s), id) : OODA_EUNSUPPORTED;
}

int store_pattern_mark_get(struct store *s, int64_t *id)
{
	const struct store_backend *be = store_backend(s);
	*id = 0;
	return be->pattern_mark_get ? be->pattern_mark_get(store_impl(s), id) : OODA_EUNSUPPORTED;
}

int store_config_gen_bump(struct store *s, const char *node, const char *actor, int64_t now_ns, int64_t *gen)
{
	const struct store_backend *be = store_backend(s);
	return be->config_gen_bump ? be->config_gen_bump(store_impl(s), node, actor, now_ns, gen) : OODA_EUNSUPPORTED;
}

int store_config_gen_get(struct store *s, struct config_gen_row *out)
{
	const struct store_backend *be = store_backend(s);
	memset(out, 0, sizeof(*out));
	return be->config_gen_get ? be->config_gen_get(store_impl(s), out) : OODA_EUNSUPPORTED;
}

int store_audit_key_put(struct store *s, const uint8_t pk[32], const char *node, int64_t now_ns)
{
	const struct store_backend *be = store_backend(s);
	return be->audit_key_put ? be->audit_key_put(store_impl(s), pk, node, now_ns) : OODA_EUNSUPPORTED;
}

int store_audit_key_list(struct store *s, store_row_fn fn, void *ctx)
{
	const struct store_backend *be = store_backend(s);
	return be->audit_key_list ? be->audit_key_list(store_impl(s), fn, ctx) : OODA_EUNSUPPORTED;
}

int store_exemplars_put(struct store *s, int64_t now_ns, const void *body, size_t len, int64_t keep)
{
	const struct store_backend *be = store_backend(s);
	return be->exemplars_put ? be->exemplars_put(store_impl(s), now_ns, body, len, keep) : OODA_EUNSUPPORTED;
}

int store_exemplars_list(struct store *s, int64_t after_id, size_t limit, store_row_fn fn, void *ctx)
{
	const struct store_backend *be = store_backend(s);
	return be->exemplars_list ? be->exemplars_list(store_impl(s), after_id, limit, fn, ctx) : OODA_EUNSUPPORTED;
}

int store_metadata_put(struct store *s, const char *name, const char *type, const char *help, const char *unit)
{
	const struct store_backend *be = store_backend(s);
	return be->metadata_put ? be->metadata_put(store_impl(s), name, type, help, unit) : OODA_EUNSUPPORTED;
}

int store_metadata_list(struct store *s, int64_t after_seq, size_t limit, store_row_fn fn, void *ctx)
{
	const struct store_backend *be = store_backend(s);
	return be->metadata_list ? be->metadata_list(store_impl(s), after_seq, limit, fn, ctx) : OODA_EUNSUPPORTED;
}

int store_stream_put(struct store *s, const char *node, int64_t now_ns, const char *type, const char *body,
		     int64_t keep_after_ns)
{
	const struct store_backend *be = store_backend(s);
	return be->stream_put ? be->stream_put(store_impl(s), node, now_ns, type, body, keep_after_ns)
			      : OODA_EUNSUPPORTED;
}

int store_stream_list(struct store *s, const char *node, int64_t after_id, size_t limit, store_row_fn fn, void *ctx)
{
	const struct store_backend *be = store_backend(s);
	return be->stream_list ? be->stream_list(store_impl(s), node, after_id, limit, fn, ctx) : OODA_EUNSUPPORTED;
}

int store_stream_head(struct store *s, int64_t *id)
{
	const struct store_backend *be = store_backend(s);
	return be->stream_head ? be->stream_head(store_impl(s), id) : OODA_EUNSUPPORTED;
}

int store_fresh_announce(struct store *s, const char *from)
{
	const struct store_backend *be = store_backend(s);
	if (!be->fresh_announce)
		return OODA_EUNSUPPORTED;
	return strlen(from) < 64 ? be->fresh_announce(store_impl(s), from) : OODA_EINVAL;
}

int store_fresh_wait(struct store *s, const char *self, int64_t timeout_ms)
{
	const struct store_backend *be = store_backend(s);
	return be->fresh_wait ? be->fresh_wait(store_impl(s), self, timeout_ms) : OODA_EUNSUPPORTED;
}
