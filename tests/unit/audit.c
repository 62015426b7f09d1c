/* Unit tests for the audit chain: append, verify, tampering of every kind. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "audit/audit.h"
#include "audit/docwrite.h"
#include "core/config.h"
#include "core/error.h"
#include "core/time.h"
#include "store_at.h"

struct fixture {
	char dir[64];
	struct store *s;
	struct audit_signer sg;
};

struct append_ctx {
	struct audit_signer *sg;
	const char *action;
};

static int append_tx(struct store *s, void *ctx, struct buf *err)
{
	struct append_ctx *a = ctx;
	struct audit_entry e = { .actor = "token:alice", .action = a->action, .target = "flag/x",
				 .before = "{\"on\":false}", .after = "{\"on\":true}", .rationale = "test" };
	return audit_append(s, a->sg, &e, err);
}

static void append(struct fixture *f, int n, bool signed_)
{
	for (int i = 0; i < n; i++) {
		struct append_ctx a = { signed_ ? &f->sg : NULL, "flag.update" };
		assert_int_equal(store_write(f->s, append_tx, &a, NULL), 0);
	}
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/ooda-audit-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	struct buf err = BUF_INIT;
	assert_int_equal(test_store_open(f->dir, 0, &f->s, &err), 0);
	assert_int_equal(audit_signer_load(&f->sg, f->dir, 3, &err), 0);
	buf_release(&err);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	store_close(f->s);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void sql(struct fixture *f, const char *q)
{
	int prc = test_store_psql(f->dir, q, NULL);
	if (prc >= 0) {
		if (prc)
			fail_msg("%s: psql failed", q);
		return;
	}
	char path[128];
	snprintf(path, sizeof(path), "%s/control.db", f->dir);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	char *msg = NULL;
	int rc = sqlite3_exec(db, q, NULL, NULL, &msg);
	if (rc)
		fail_msg("%s: %s", q, msg);
	sqlite3_close(db);
}

static struct audit_verify_result verify_heads(struct fixture *f, const struct audit_head *heads, size_t n)
{
	struct audit_verify_result r;
	struct buf err = BUF_INIT;
	struct audit_verify_options opt = { .pinned_pk = f->sg.pk, .heads = heads, .n_heads = n };
	assert_int_equal(audit_verify(f->s, &opt, &r, &err), 0);
	buf_release(&err);
	return r;
}

static struct audit_verify_result verify(struct fixture *f)
{
	return verify_heads(f, NULL, 0);
}

struct detail_ctx {
	const char *action, *detail;
};

static int detail_tx(struct store *s, void *ctx, struct buf *err)
{
	struct detail_ctx *d = ctx;
	struct audit_entry e = { .actor = "cli:root", .action = d->action, .target = "token/tok_1",
				 .after = "{}", .rationale = "", .detail = d->detail };
	return audit_append(s, NULL, &e, err);
}

static void append_detail(struct fixture *f, const char *action, const char *detail)
{
	struct detail_ctx d = { action, detail };
	assert_int_equal(store_write(f->s, detail_tx, &d, NULL), 0);
}

static void test_intact_chain_verifies(void **state)
{
	struct fixture *f = *state;
	append(f, 7, true);
	struct audit_verify_result r = verify(f);
	assert_true(r.ok);
	assert_int_equal(r.records, 7);
	assert_int_equal(r.checkpoints, 2); /* at 3 and 6 */
}

static void test_edited_row_is_named(void **state)
{
	struct fixture *f = *state;
	append(f, 5, false);
	sql(f, "UPDATE audit SET actor = 'token:mallory' WHERE seq = 3");
	struct audit_verify_result r = verify(f);
	assert_false(r.ok);
	assert_int_equal(r.first_bad_seq, 3);
	assert_non_null(strstr(r.reason, "altered"));
}

static void test_deleted_row_is_named(void **state)
{
	struct fixture *f = *state;
	append(f, 5, false);
	sql(f, "DELETE FROM audit WHERE seq = 2");
	struct audit_verify_result r = verify(f);
	assert_false(r.ok);
	assert_int_equal(r.first_bad_seq, 2);
}

static void test_rewritten_chain_caught_by_checkpoint(void **state)
{
	struct fixture *f = *state;
	append(f, 4, true); /* checkpoint at 3 */
	/* an attacker without the key rebuilds a clean chain from scratch */
	sql(f, "DELETE FROM audit");
	struct append_ctx a = { NULL, "nothing.to.see" };
	for (int i = 0; i < 4; i++)
		assert_int_equal(store_write(f->s, append_tx, &a, NULL), 0);
	struct audit_verify_result r = verify(f);
	assert_false(r.ok);
	assert_int_equal(r.first_bad_seq, 3);
	assert_non_null(strstr(r.reason, "checkpoint"));
}

static void test_truncated_tail_caught_by_checkpoint(void **state)
{
	struct fixture *f = *state;
	append(f, 6, true);
	sql(f, "DELETE FROM audit WHERE seq > 4");
	struct audit_verify_result r = verify(f);
	assert_false(r.ok);
	assert_int_equal(r.first_bad_seq, 6);
}

static void test_forged_signature(void **state)
{
	struct fixture *f = *state;
	append(f, 3, true);
	sql(f, "UPDATE audit_checkpoints SET signature = zeroblob(64)");
	struct audit_verify_result r = verify(f);
	assert_false(r.ok);
	assert_non_null(strstr(r.reason, "signature"));
}

/* The detail of a token.create names the role: raising it must break the chain. */
static void test_edited_detail_is_caught(void **state)
{
	struct fixture *f = *state;
	append(f, 1, false);
	append_detail(f, "token.create", "{\"id\":\"tok_1\",\"role\":\"ingest\"}");
	append(f, 1, false);
	assert_true(verify(f).ok);
	sql(f, "UPDATE audit SET detail = replace(detail, 'ingest', 'admin') WHERE seq = 2");
	struct audit_verify_result r = verify(f);
	assert_false(r.ok);
	assert_int_equal(r.first_bad_seq, 2);
	assert_non_null(strstr(r.reason, "altered"));
}

/* Every column the API or CLI shows is covered: an edit of any one is named. */
static void test_every_shown_column_is_chained(void **state)
{
	static const char *const edits[] = {
		"UPDATE audit SET time_ns = time_ns + 1 WHERE seq = 2",
		"UPDATE audit SET actor = 'token:mallory' WHERE seq = 2",
		"UPDATE audit SET action = 'token.list' WHERE seq = 2",
		"UPDATE audit SET target = 'token/tok_2' WHERE seq = 2",
		"UPDATE audit SET before_digest = after_digest WHERE seq = 2",
		"UPDATE audit SET after_digest = '' WHERE seq = 2",
		"UPDATE audit SET rationale = 'routine' WHERE seq = 2",
		"UPDATE audit SET detail = '{\"role\":\"admin\"}' WHERE seq = 2",
		"UPDATE audit SET detail = NULL WHERE seq = 2",
		"UPDATE audit SET hash_version = 7 WHERE seq = 2",
	};
	struct fixture *f = *state;
	append(f, 1, false);
	append_detail(f, "token.create", "{\"role\":\"ingest\"}");
	append(f, 1, false);
	sql(f, "CREATE TABLE saved AS SELECT * FROM audit");
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		sql(f, edits[i]);
		struct audit_verify_result r = verify(f);
		if (r.ok || r.first_bad_seq != 2)
			fail_msg("not caught: %s", edits[i]);
		sql(f, "DELETE FROM audit; INSERT INTO audit SELECT * FROM saved");
		assert_true(verify(f).ok);
	}
}

/* Version 1 as rows before schema 3 were hashed: what an attacker would recompute. */
static void hash_v1(sqlite3 *db, int64_t seq, uint8_t out[32])
{
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT time_ns, actor, action, target, before_digest, after_digest,"
					    " rationale, prev_hash FROM audit WHERE seq = ?1", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_int64(st, 1, seq);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	crypto_hash_sha256_state h;
	crypto_hash_sha256_init(&h);
	crypto_hash_sha256_update(&h, (const uint8_t *)"ooda-audit-v1", 13);
	crypto_hash_sha256_update(&h, sqlite3_column_blob(st, 7), 32);
	uint64_t nums[2] = { (uint64_t)seq, (uint64_t)sqlite3_column_int64(st, 0) };
	for (int n = 0; n < 2; n++)
		for (int i = 0; i < 8; i++) {
			uint8_t b = (uint8_t)(nums[n] >> (56 - 8 * i));
			crypto_hash_sha256_update(&h, &b, 1);
		}
	for (int c = 1; c <= 6; c++) {
		const char *t = (const char *)sqlite3_column_text(st, c);
		uint64_t len = strlen(t);
		for (int i = 0; i < 8; i++) {
			uint8_t b = (uint8_t)(len >> (56 - 8 * i));
			crypto_hash_sha256_update(&h, &b, 1);
		}
		crypto_hash_sha256_update(&h, (const uint8_t *)t, len);
	}
	crypto_hash_sha256_final(&h, out);
	sqlite3_finalize(st);
}

/*
 * The last record's detail is edited and the record relabelled version 1
 * (which leaves detail out) with a correct version-1 hash: the verifier
 * must refuse the downgrade rather than accept the record.
 */
static void test_downgraded_record_is_refused(void **state)
{
	struct fixture *f = *state;
	append(f, 2, false);
	append_detail(f, "token.create", "{\"role\":\"ingest\"}");
	if (getenv("OODA_TEST_PG_DSN"))
		skip(); /* recomputes a hash with SQLite's own reads; the other tamper cases run on both */
	char path[128];
	snprintf(path, sizeof(path), "%s/control.db", f->dir);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "UPDATE audit SET detail = '{\"role\":\"admin\"}', hash_version = 1"
					  " WHERE seq = 3", NULL, NULL, NULL), SQLITE_OK);
	uint8_t h[32];
	hash_v1(db, 3, h);
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(db, "UPDATE audit SET hash = ?1 WHERE seq = 3", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_blob(st, 1, h, 32, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	sqlite3_close(db);
	struct audit_verify_result r = verify(f);
	assert_false(r.ok);
	assert_int_equal(r.first_bad_seq, 3);
	assert_non_null(strstr(r.reason, "downgrade"));
}

/* Version-1 records (written before schema 3) followed by version-2 ones verify. */
static void test_old_records_then_new_verify(void **state)
{
	struct fixture *f = *state;
	append(f, 2, false);
	if (getenv("OODA_TEST_PG_DSN"))
		skip(); /* a PostgreSQL store is never older than schema 3: no version-1 records there */
	/* make records 1 and 2 what an older ooda wrote: version 1, hashed without detail */
	char path[128];
	snprintf(path, sizeof(path), "%s/control.db", f->dir);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "UPDATE audit SET hash_version = 1", NULL, NULL, NULL), SQLITE_OK);
	for (int64_t seq = 1; seq <= 2; seq++) {
		uint8_t h[32];
		hash_v1(db, seq, h);
		sqlite3_stmt *st;
		assert_int_equal(sqlite3_prepare_v2(db, "UPDATE audit SET hash = ?1 WHERE seq = ?2;", -1, &st, NULL),
				 SQLITE_OK);
		sqlite3_bind_blob(st, 1, h, 32, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, seq);
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		sqlite3_finalize(st);
		if (seq == 1) {
			assert_int_equal(sqlite3_prepare_v2(db, "UPDATE audit SET prev_hash = ?1 WHERE seq = 2", -1, &st,
							    NULL), SQLITE_OK);
			sqlite3_bind_blob(st, 1, h, 32, SQLITE_STATIC);
			assert_int_equal(sqlite3_step(st), SQLITE_DONE);
			sqlite3_finalize(st);
		}
	}
	sqlite3_close(db);
	assert_true(verify(f).ok);
	append_detail(f, "token.create", "{\"role\":\"viewer\"}");
	struct audit_verify_result r = verify(f);
	assert_true(r.ok);
	assert_int_equal(r.records, 3);
}

/*
 * Rows and the checkpoints naming them deleted together leave a consistent
 * (shorter) chain, even for a pinned key; only the anchored head catches it.
 */
static void test_truncation_caught_by_anchored_head(void **state)
{
	struct fixture *f = *state;
	append(f, 7, true); /* checkpoints at 3 and 6 */
	struct audit_verify_result r = verify(f);
	assert_true(r.ok);
	struct audit_head head = { .seq = r.head_seq };
	memcpy(head.hash, r.head_hash, 32);
	assert_int_equal(head.seq, 7);
	sql(f, "DELETE FROM audit WHERE seq > 4; DELETE FROM audit_checkpoints WHERE seq > 4");
	assert_true(verify(f).ok); /* what the attack gets away with without an anchor */
	r = verify_heads(f, &head, 1);
	assert_false(r.ok);
	assert_int_equal(r.first_bad_seq, 5);
	assert_non_null(strstr(r.reason, "anchored head is record 7"));
}

static void test_anchored_head_with_other_hash_fails(void **state)
{
	struct fixture *f = *state;
	append(f, 4, false);
	struct audit_head heads[2] = { { .seq = 4 }, { .seq = 2 } };
	struct audit_verify_result r = verify(f);
	memcpy(heads[0].hash, r.head_hash, 32);
	memset(heads[1].hash, 0xab, 32);
	r = verify_heads(f, heads, 1);
	assert_true(r.ok);
	assert_int_equal(r.heads_matched, 1);
	r = verify_heads(f, heads, 2);
	assert_false(r.ok);
	assert_int_equal(r.first_bad_seq, 2);
	assert_non_null(strstr(r.reason, "anchored head"));
}

static void test_head_parse(void **state)
{
	(void)state;
	char good[80];
	snprintf(good, sizeof(good), "12:%064d", 0);
	static const struct {
		const char *text;
		int rc;
	} cases[] = {
		{ NULL, 0 }, /* good, filled below */
		{ "12", OODA_EINVAL },
		{ ":00", OODA_EINVAL },
		{ "0:0000000000000000000000000000000000000000000000000000000000000000", OODA_EINVAL },
		{ "-3:0000000000000000000000000000000000000000000000000000000000000000", OODA_EINVAL },
		{ "x3:0000000000000000000000000000000000000000000000000000000000000000", OODA_EINVAL },
		{ "3:00", OODA_EINVAL },
		{ "3:zz00000000000000000000000000000000000000000000000000000000000000", OODA_EINVAL },
		{ "3:00000000000000000000000000000000000000000000000000000000000000000", OODA_EINVAL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct audit_head h;
		struct buf err = BUF_INIT;
		int rc = audit_head_parse(cases[i].text ? cases[i].text : good, &h, &err);
		if (rc != cases[i].rc)
			fail_msg("%s: got %d", cases[i].text ? cases[i].text : good, rc);
		if (!rc)
			assert_int_equal(h.seq, 12);
		else
			assert_non_null(strstr(err.data, "SEQ:HASH"));
		buf_release(&err);
	}
}

struct anchor_ctx {
	struct audit_signer *sg;
	struct checkpoint_row cp;
};

static int anchor_tx(struct store *s, void *ctx, struct buf *err)
{
	struct anchor_ctx *a = ctx;
	return audit_anchor(s, a->sg, "cli:root", &a->cp, err);
}

/* An anchor line reads back as the head it signs, and only as that head. */
static void test_anchor_line_round_trip(void **state)
{
	struct fixture *f = *state;
	append(f, 2, false);
	struct anchor_ctx a = { &f->sg, { 0 } };
	assert_int_equal(store_write(f->s, anchor_tx, &a, NULL), 0);
	assert_int_equal(a.cp.seq, 3);
	json_t *j = audit_anchor_json(&a.cp);
	struct audit_head h;
	struct buf err = BUF_INIT;
	assert_int_equal(audit_head_from_json(j, f->sg.pk, "anchor", &h, &err), 0);
	struct audit_verify_result r = verify_heads(f, &h, 1);
	assert_true(r.ok);
	assert_int_equal(r.heads_matched, 1);
	uint8_t other[32];
	memset(other, 7, 32);
	assert_int_equal(audit_head_from_json(j, other, "anchor", &h, &err), OODA_EINVAL);
	assert_non_null(strstr(err.data, "anchor.public_key"));
	buf_reset(&err);
	json_object_set_new(j, "seq", json_integer(2));
	assert_int_equal(audit_head_from_json(j, NULL, "anchor", &h, &err), OODA_EINVAL);
	assert_non_null(strstr(err.data, "anchor.signature"));
	buf_reset(&err);
	json_object_set_new(j, "hash", json_string("beef"));
	assert_int_equal(audit_head_from_json(j, NULL, "heads[1]", &h, &err), OODA_EINVAL);
	assert_non_null(strstr(err.data, "heads[1].hash"));
	json_decref(j);
	buf_release(&err);
}

/* The timed checkpoint signs records once the oldest unsigned one is old enough, once. */
static void test_tick_signs_waiting_records(void **state)
{
	struct fixture *f = *state;
	struct buf err = BUF_INIT;
	f->sg.every = 0;
	f->sg.interval_ns = 60 * OODA_NS_PER_SEC;
	int64_t now = ooda_now_ns();
	assert_int_equal(audit_tick(f->s, &f->sg, now, &err), 0); /* empty log */
	append(f, 2, false);
	assert_int_equal(audit_tick(f->s, &f->sg, now, &err), 0);
	assert_int_equal(verify(f).checkpoints, 0);
	assert_int_equal(audit_tick(f->s, &f->sg, now + 61 * OODA_NS_PER_SEC, &err), 1);
	assert_int_equal(audit_tick(f->s, &f->sg, now + 62 * OODA_NS_PER_SEC, &err), 0);
	struct audit_verify_result r = verify(f);
	assert_true(r.ok);
	assert_int_equal(r.checkpoints, 1);
	/* the checkpoint pins the head: deleting the tail now fails even without an anchor */
	sql(f, "DELETE FROM audit WHERE seq = 2");
	r = verify(f);
	assert_false(r.ok);
	assert_int_equal(r.first_bad_seq, 2);
	buf_release(&err);
}

static void test_checkpoints_on_by_default(void **state)
{
	(void)state;
	struct config c;
	config_init(&c);
	assert_int_equal(c.audit_checkpoint_every, 1000);
	assert_int_equal(c.audit_checkpoint_interval_ns, 5 * 60 * OODA_NS_PER_SEC);
	config_release(&c);
}

static int text_row(void *ctx, int n, char **v, char **names)
{
	struct buf *b = ctx;
	for (int i = 0; i < n; i++)
		buf_addf(b, "%s%s", i ? "|" : "", v[i] ? v[i] : "NULL");
	buf_addch(b, '\n');
	return 0;
}

/* The rows of q against control.db, "|" between columns, one line each. */
static void sql_text(struct fixture *f, const char *q, struct buf *out)
{
	int prc = test_store_psql(f->dir, q, out);
	if (prc >= 0) {
		if (prc)
			fail_msg("%s: psql failed", q);
		return;
	}
	char path[128];
	snprintf(path, sizeof(path), "%s/control.db", f->dir);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	char *msg = NULL;
	if (sqlite3_exec(db, q, text_row, out, &msg))
		fail_msg("%s: %s", q, msg);
	sqlite3_close(db);
}

/* A document write puts the version and its audit record in one transaction; a stale write puts neither. */
static void test_document_write_is_audited(void **state)
{
	struct fixture *f = *state;
	struct buf err = BUF_INIT, rows = BUF_INIT;
	const char *v1 = "{\"on\":false}", *v2 = "{\"on\":true}";
	struct vdoc_write w = { .kind = "flag", .key = "prod/x", .body = v1, .body_len = strlen(v1),
				.expect_version = 0, .actor = "token:alice", .rationale = "first",
				.action = "flag.put", .target = "flag/prod/x" };
	assert_int_equal(vdoc_put(f->s, &f->sg, &w, &err), 0);
	assert_int_equal(w.version, 1);
	w.body = v2, w.body_len = strlen(v2), w.expect_version = 1, w.rationale = "second";
	assert_int_equal(vdoc_put(f->s, &f->sg, &w, &err), 0);
	assert_int_equal(w.version, 2);

	/* stale: someone else wrote version 2 meanwhile */
	w.expect_version = 1;
	assert_int_equal(vdoc_put(f->s, &f->sg, &w, &err), OODA_EPRECOND);
	assert_non_null(strstr(err.data, "flag prod/x is at version 2, not 1"));

	char d1[65], d2[65];
	audit_digest_hex(v1, strlen(v1), d1);
	audit_digest_hex(v2, strlen(v2), d2);
	sql_text(f, "SELECT actor, action, target, before_digest, after_digest, rationale, detail FROM audit "
		    "ORDER BY seq", &rows);
	struct buf want = BUF_INIT;
	buf_addf(&want, "token:alice|flag.put|flag/prod/x||%s|first|{\"version\":1}\n"
			"token:alice|flag.put|flag/prod/x|%s|%s|second|{\"version\":2}\n", d1, d1, d2);
	assert_string_equal(rows.data, want.data);

	struct vdoc d;
	assert_int_equal(vdoc_get(f->s, "flag", "prod/x", 0, &d, &err), 0);
	assert_int_equal(d.version, 2);
	assert_string_equal(d.body, v2);
	assert_string_equal(d.author, "token:alice");
	vdoc_release(&d);
	assert_true(verify(f).ok);
	buf_release(&want);
	buf_release(&rows);
	buf_release(&err);
}

struct publish_ctx {
	const struct audit_signer *sg;
	const char *node;
};

static int publish_tx(struct store *s, void *ctx, struct buf *err)
{
	struct publish_ctx *p = ctx;
	return audit_key_publish(s, p->sg, p->node, err);
}

/*
 * Several nodes, a key each: a checkpoint another node signed verifies
 * against the keys the nodes published, and fails (naming the key) when its
 * key was never published; heads signed by a published key are accepted.
 */
static void test_checkpoints_of_several_nodes(void **state)
{
	struct fixture *f = *state;
	struct buf err = BUF_INIT;
	char other_dir[96];
	snprintf(other_dir, sizeof(other_dir), "%s/node2", f->dir);
	assert_int_equal(mkdir(other_dir, 0700), 0);
	struct audit_signer other;
	assert_int_equal(audit_signer_load(&other, other_dir, 3, &err), 0);
	assert_memory_not_equal(other.pk, f->sg.pk, 32);
	append(f, 2, true);
	struct append_ctx a = { &other, "flag.update" };
	assert_int_equal(store_write(f->s, append_tx, &a, &err), 0); /* seq 3: a checkpoint by the other key */

	struct audit_keyset keys;
	assert_int_equal(audit_keyset_load(f->s, &f->sg, &keys, &err), 0);
	assert_int_equal(keys.n, 1); /* only this node's own: the other never published */
	struct audit_verify_options opt = { .keys = &keys };
	struct audit_verify_result r;
	assert_int_equal(audit_verify(f->s, &opt, &r, &err), 0);
	char id[17], want[200];
	audit_key_id(other.pk, id);
	snprintf(want, sizeof(want), "checkpoint at record 3 is signed by key %s, which no node of this cluster "
				     "published", id);
	assert_false(r.ok);
	assert_int_equal(r.first_bad_seq, 3);
	assert_string_equal(r.reason, want);
	audit_keyset_release(&keys);

	struct publish_ctx p1 = { &f->sg, "n1" }, p2 = { &other, "n2" };
	assert_int_equal(store_write(f->s, publish_tx, &p1, &err), 0);
	assert_int_equal(store_write(f->s, publish_tx, &p2, &err), 0);
	assert_int_equal(store_write(f->s, publish_tx, &p2, &err), 0); /* again: kept once */
	assert_int_equal(audit_keyset_load(f->s, &f->sg, &keys, &err), 0);
	assert_int_equal(keys.n, 2);
	assert_int_equal(audit_keyset_find(&keys, other.pk), 1);
	assert_string_equal(keys.node[1], "n2");
	assert_int_equal(audit_verify(f->s, &opt, &r, &err), 0);
	assert_true(r.ok);
	assert_int_equal(r.checkpoints, 1);

	/* an anchor line signed by the other node is a head this node accepts; a stranger's is not */
	struct checkpoint_row cp;
	assert_int_equal(store_checkpoint_last(f->s, &cp), 0);
	json_t *j = audit_anchor_json(&cp);
	struct audit_head h;
	assert_int_equal(audit_head_from_json_keys(j, &keys, "head", &h, &err), 0);
	assert_int_equal(h.seq, 3);
	struct audit_keyset mine = { keys.pk, keys.node, 1 };
	buf_reset(&err);
	assert_int_equal(audit_head_from_json_keys(j, &mine, "head", &h, &err), OODA_EINVAL);
	assert_non_null(strstr(err.data, "head.public_key"));
	json_decref(j);
	audit_keyset_release(&keys);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_intact_chain_verifies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_edited_row_is_named, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deleted_row_is_named, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rewritten_chain_caught_by_checkpoint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_tail_caught_by_checkpoint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forged_signature, setup, teardown),
		cmocka_unit_test_setup_teardown(test_edited_detail_is_caught, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_shown_column_is_chained, setup, teardown),
		cmocka_unit_test_setup_teardown(test_downgraded_record_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_old_records_then_new_verify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncation_caught_by_anchored_head, setup, teardown),
		cmocka_unit_test_setup_teardown(test_anchored_head_with_other_hash_fails, setup, teardown),
		cmocka_unit_test(test_head_parse),
		cmocka_unit_test_setup_teardown(test_anchor_line_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tick_signs_waiting_records, setup, teardown),
		cmocka_unit_test(test_checkpoints_on_by_default),
		cmocka_unit_test_setup_teardown(test_document_write_is_audited, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checkpoints_of_several_nodes, setup, teardown),
	};
	return cmocka_run_group_tests_name("audit", tests, NULL, NULL);
}
