/* Unit tests for whole-store copies (store_copy, store_copy_count; the
 * control-store half of `ooda migrate`): a store with rows in every table
 * the copy moves — tokens, an audit chain with a NULL detail and a
 * checkpoint, two versions of a document with a status, a pattern
 * snapshot, an outbox row that was attempted, an incident with its
 * timeline and an artifact, a rollout — is copied into a new SQLite store;
 * every value reads back the same (binary columns byte for byte), the
 * counts agree, and copying into a store that holds the rows already fails
 * with a conflict. The source runs on SQLite, or on PostgreSQL in the pg
 * suite (store_at.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "store/store.h"
#include "store/vdoc.h"
#include "store_at.h"

static char *tmpdir(void)
{
	char *d = strdup("/tmp/ooda-store-copy-XXXXXX");
	assert_non_null(mkdtemp(d));
	return d;
}

static void rmrf(const char *d)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
	assert_int_equal(system(cmd), 0);
}

static const uint8_t blob[5] = { 0x00, 0xff, 0x27, 0x5c, 0x00 }; /* NUL, high bit, quote, backslash */

/* a published audit key (32 bytes) */
static const uint8_t blob32[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
				    17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 255 };

static int fill_tx(struct store *s, void *ctx, struct buf *err)
{
	(void)ctx;
	struct token_row t = { .created_ns = 10 };
	snprintf(t.id, sizeof(t.id), "tok_0123456789abcdef");
	snprintf(t.name, sizeof(t.name), "o'brien");
	snprintf(t.role, sizeof(t.role), "admin");
	snprintf(t.env, sizeof(t.env), "prod");
	snprintf(t.created_by, sizeof(t.created_by), "cli:root");
	for (int i = 0; i < 32; i++)
		t.hash[i] = (uint8_t)(255 - i);
	int rc = store_token_insert(s, &t);
	struct token_row out;
	if (!rc)
		rc = store_token_revoke(s, t.id, 20, &out);
	for (int i = 1; !rc && i <= 2; i++) {
		struct audit_row a = { .seq = i, .time_ns = 100 * i, .actor = "alice", .action = "flag.put",
				       .target = "flag/x", .before_digest = "", .after_digest = "ab",
				       .rationale = "why", .detail = i == 1 ? NULL : "{\"k\":1}", .hash_version = 2 };
		memset(a.prev_hash, i - 1, 32);
		memset(a.hash, i, 32);
		rc = store_audit_insert(s, &a);
	}
	struct checkpoint_row cp = { .seq = 2, .time_ns = 250 };
	memset(cp.hash, 2, 32);
	memset(cp.signature, 0x5c, 64);
	memset(cp.pubkey, 0x27, 32);
	if (!rc)
		rc = store_checkpoint_insert(s, &cp);
	for (int v = 0; !rc && v < 2; v++) {
		struct vdoc_write w = { .kind = "flag", .key = "prod/x", .body = v ? "{\"v\":2}" : "{\"v\":1}",
					.body_len = 7, .status = v ? "running" : NULL, .expect_version = -1,
					.actor = "alice", .rationale = "step" };
		struct vdoc before = { 0 };
		rc = vdoc_write_tx(s, &w, &before, err);
		vdoc_release(&before);
	}
	struct pattern_snapshot_row ps = { .service = "checkout", .saved_ns = 5, .lines = 7, .snapshot = blob,
					   .snapshot_len = sizeof(blob), .severities = blob, .severities_len = 2 };
	if (!rc)
		rc = store_pattern_snapshot_put(s, &ps);
	struct notify_row n = { .id = "ntf_1", .dedupe_key = "d1", .target = "ops", .kind = "incident",
				.event = "opened", .payload = "{}", .incident = "INC-1", .alert = "",
				.next_attempt_ns = 40, .created_ns = 30 };
	bool inserted = false;
	if (!rc)
		rc = store_notify_insert(s, &n, &inserted);
	n.status = "failed";
	n.attempts = 3;
	n.last_error = "down";
	if (!rc)
		rc = store_notify_update(s, &n);
	struct incident_row inc = { .number = 1, .status = "open", .service = "checkout", .severity = "SEV2",
				    .updated_ns = 50, .body = "{\"title\":\"t\"}" };
	if (!rc)
		rc = store_incident_put(s, &inc);
	for (int i = 0; !rc && i < 2; i++) {
		struct incident_entry_row e = { .number = 1, .at_ns = 60 + i, .kind = "note", .actor = "bob",
						.text = i ? "second" : "first", .data = "{}" };
		rc = store_incident_entry_append(s, &e);
	}
	struct incident_artifact_row art = { .number = 1, .name = "dump.bin", .content_type = "application/octet-stream",
					     .size = sizeof(blob), .sha256 = "00", .uploaded_by = "bob", .at_ns = 70,
					     .bytes = blob, .bytes_len = sizeof(blob) };
	if (!rc)
		rc = store_incident_artifact_put(s, &art);
	struct rollout_row ro = { .id = "ro_1", .status = "running", .env = "prod", .due_ns = 80, .updated_ns = 81,
				  .body = "{\"steps\":[]}" };
	if (!rc)
		rc = store_rollout_put(s, &ro);
	if (!rc)
		rc = store_audit_key_put(s, blob32, "node-1", 90);
	return rc;
}

static int key_cb(void *ctx, const void *row)
{
	const struct audit_key_row *k = row;
	int *ok = ctx;
	*ok = !memcmp(k->pubkey, blob32, 32) && !strcmp(k->node_id, "node-1") && k->published_ns == 90;
	return 0;
}

static int token_cb(void *ctx, const void *row)
{
	*(struct token_row *)ctx = *(const struct token_row *)row;
	return 0;
}

struct audits {
	int n;
	bool detail_null[4];
	uint8_t hash[4][32], prev[4][32];
	int version[4];
};

static int audit_cb(void *ctx, const void *row)
{
	struct audits *l = ctx;
	const struct audit_row *a = row;
	if (l->n < 4) {
		l->detail_null[l->n] = a->detail == NULL;
		memcpy(l->hash[l->n], a->hash, 32);
		memcpy(l->prev[l->n], a->prev_hash, 32);
		l->version[l->n] = a->hash_version;
		l->n++;
	}
	return 0;
}

static int snapshot_cb(void *ctx, const void *row)
{
	const struct pattern_snapshot_row *r = row;
	int *ok = ctx;
	*ok = r->lines == 7 && r->snapshot_len == sizeof(blob) && !memcmp(r->snapshot, blob, sizeof(blob)) &&
	      r->severities_len == 2;
	return 0;
}

static int notify_cb(void *ctx, const void *row)
{
	const struct notify_row *r = row;
	int *ok = ctx;
	*ok = !strcmp(r->status, "failed") && r->attempts == 3 && !strcmp(r->last_error, "down") &&
	      !strcmp(r->incident, "INC-1");
	return 0;
}

static int entry_cb(void *ctx, const void *row)
{
	const struct incident_entry_row *e = row;
	struct buf *b = ctx;
	buf_addf(b, "%lld:%s;", (long long)e->seq, e->text);
	return 0;
}

static int artifact_cb(void *ctx, const void *row)
{
	const struct incident_artifact_row *a = row;
	int *ok = ctx;
	*ok = a->bytes_len == sizeof(blob) && !memcmp(a->bytes, blob, sizeof(blob)) && !strcmp(a->name, "dump.bin");
	return 0;
}

static int rollout_cb(void *ctx, const void *row)
{
	const struct rollout_row *r = row;
	int *ok = ctx;
	*ok = !strcmp(r->status, "running") && r->due_ns == 80 && !strcmp(r->body, "{\"steps\":[]}");
	return 0;
}

struct progress {
	int calls;
	char last[64];
};

static void progress_cb(void *ctx, const char *table, int64_t rows)
{
	struct progress *p = ctx;
	p->calls++;
	snprintf(p->last, sizeof(p->last), "%s:%lld", table, (long long)rows);
}

static void test_copy_every_table(void **state)
{
	(void)state;
	char *d1 = tmpdir(), *d2 = tmpdir();
	struct store *src = NULL, *dst = NULL;
	struct buf err = BUF_INIT;
	assert_int_equal(test_store_open(d1, STORE_NO_WRITER_THREAD, &src, &err), 0);
	assert_int_equal(store_write(src, fill_tx, NULL, &err), 0);
	assert_int_equal(store_open(d2, STORE_NO_WRITER_THREAD, &dst, &err), 0);

	int64_t before[STORE_COPY_MAX_TABLES], rows[STORE_COPY_MAX_TABLES];
	assert_int_equal(store_copy_count(dst, before, &err), 0);
	for (size_t i = 0; i < store_copy_tables(); i++)
		assert_int_equal(before[i], 0);
	assert_true(store_copy_tables() >= 10);
	assert_null(store_copy_table_name(store_copy_tables()));

	/* batches of two rows: several transactions per table */
	struct progress p = { 0 };
	struct store_copy_options o = { .batch_rows = 2, .progress = progress_cb, .ctx = &p };
	assert_int_equal(store_copy(src, dst, &o, &err), 0);
	assert_string_equal(p.last, "audit_keys:1");
	assert_true(p.calls >= (int)store_copy_tables());
	assert_int_equal(store_copy_count(src, before, &err), 0);
	assert_int_equal(store_copy_count(dst, rows, &err), 0);
	for (size_t i = 0; i < store_copy_tables(); i++) {
		assert_int_equal(rows[i], before[i]);
		assert_true(rows[i] > 0); /* every table had a row to copy */
	}

	struct token_row t = { 0 };
	assert_int_equal(store_token_list(dst, token_cb, &t), 0);
	assert_string_equal(t.name, "o'brien");
	assert_string_equal(t.env, "prod");
	assert_int_equal(t.revoked_ns, 20);
	assert_int_equal(t.hash[0], 255);
	assert_int_equal(t.hash[31], 224);

	struct audits al = { 0 };
	struct audit_filter f = { 0 };
	assert_int_equal(store_audit_iter(dst, &f, audit_cb, &al), 0);
	assert_int_equal(al.n, 2);
	assert_true(al.detail_null[0]);
	assert_false(al.detail_null[1]);
	assert_int_equal(al.hash[1][31], 2);
	assert_int_equal(al.prev[1][0], 1);
	assert_int_equal(al.version[0], 2);
	struct checkpoint_row cp;
	assert_int_equal(store_checkpoint_last(dst, &cp), 0);
	assert_int_equal(cp.seq, 2);
	assert_int_equal(cp.signature[63], 0x5c);
	assert_int_equal(cp.pubkey[0], 0x27);

	struct vdoc v = { 0 };
	assert_int_equal(vdoc_get(dst, "flag", "prod/x", 1, &v, &err), 0);
	assert_string_equal(v.body, "{\"v\":1}");
	vdoc_release(&v);
	assert_int_equal(vdoc_get(dst, "flag", "prod/x", 0, &v, &err), 0);
	assert_int_equal(v.version, 2);
	vdoc_release(&v);

	int ok = 0;
	assert_int_equal(store_pattern_snapshot_iter(dst, snapshot_cb, &ok), 0);
	assert_true(ok);
	ok = 0;
	struct notify_filter nf = { 0 };
	assert_int_equal(store_notify_list(dst, &nf, notify_cb, &ok), 0);
	assert_true(ok);
	struct buf tl = BUF_INIT;
	assert_int_equal(store_incident_entry_iter(dst, 1, entry_cb, &tl), 0);
	assert_string_equal(tl.data, "1:first;2:second;");
	buf_release(&tl);
	ok = 0;
	assert_int_equal(store_incident_artifact_get(dst, 1, 1, artifact_cb, &ok), 0);
	assert_true(ok);
	ok = 0;
	assert_int_equal(store_rollout_get(dst, "ro_1", rollout_cb, &ok), 0);
	assert_true(ok);
	ok = 0;
	assert_int_equal(store_audit_key_list(dst, key_cb, &ok), 0);
	assert_true(ok);

	/* into a store that holds the rows: refused by the first one, with the table named */
	buf_reset(&err);
	assert_int_equal(store_copy(src, dst, NULL, &err), OODA_ECONFLICT);
	assert_non_null(strstr(err.data, "tokens"));

	buf_release(&err);
	store_close(src);
	store_close(dst);
	rmrf(d1);
	rmrf(d2);
	free(d1);
	free(d2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_copy_every_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
