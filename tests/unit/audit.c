/* Unit tests for the audit chain: append, verify, tampering of every kind. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <unistd.h>

#include "audit/audit.h"
#include "core/error.h"

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
	assert_int_equal(store_open(f->dir, 0, &f->s, &err), 0);
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

static struct audit_verify_result verify(struct fixture *f)
{
	struct audit_verify_result r;
	struct buf err = BUF_INIT;
	assert_int_equal(audit_verify(f->s, NULL, &r, &err), 0);
	buf_release(&err);
	return r;
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_intact_chain_verifies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_edited_row_is_named, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deleted_row_is_named, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rewritten_chain_caught_by_checkpoint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_tail_caught_by_checkpoint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forged_signature, setup, teardown),
	};
	return cmocka_run_group_tests_name("audit", tests, NULL, NULL);
}
