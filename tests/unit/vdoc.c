/*
 * Unit tests for the bound on the control store (store/vdoc.h): old versions
 * of the kinds the daemon rewrites on its own are pruned by count and by
 * age, in batches; the latest version of every key, every other kind and
 * the audit chain stay as they were.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <unistd.h>

#include "audit/audit.h"
#include "audit/docwrite.h"
#include "core/error.h"
#include "core/time.h"
#include "store/vdoc.h"
#include "store_at.h"

#define DAY_NS (86400 * OODA_NS_PER_SEC)

struct fixture {
	char dir[64];
	struct store *s;
	struct audit_signer sg;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/ooda-vdoc-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	struct buf err = BUF_INIT;
	assert_int_equal(test_store_open(f->dir, 0, &f->s, &err), 0);
	assert_int_equal(audit_signer_load(&f->sg, f->dir, 100, &err), 0);
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

struct puts_ctx {
	const struct audit_signer *sg;
	const char *kind, *key;
	int n;
	bool last_deleted;
};

/* n audited versions of kind/key in one transaction (one fsync, not n). */
static int puts_tx(struct store *s, void *ctx, struct buf *err)
{
	struct puts_ctx *p = ctx;
	char target[128];
	snprintf(target, sizeof(target), "%s/%s", p->kind, p->key);
	for (int i = 0; i < p->n; i++) {
		char body[64];
		snprintf(body, sizeof(body), "{\"n\":%d}", i + 1);
		struct vdoc_write w = { .kind = p->kind, .key = p->key, .body = body, .body_len = strlen(body),
					.deleted = p->last_deleted && i == p->n - 1, .expect_version = -1,
					.actor = "engine:test", .rationale = "test", .action = "test.put",
					.target = target };
		int rc = vdoc_put_tx(s, p->sg, &w, err);
		if (rc)
			return rc;
	}
	return 0;
}

static void put_n(struct fixture *f, const char *kind, const char *key, int n)
{
	struct puts_ctx p = { &f->sg, kind, key, n, false };
	struct buf err = BUF_INIT;
	assert_int_equal(store_write(f->s, puts_tx, &p, &err), 0);
	buf_release(&err);
}

/* One SQL value from control.db, as the file holds it. */
static int64_t count(struct fixture *f, const char *q)
{
	int64_t pv = 0;
	int prc = test_store_psql_int(f->dir, q, &pv);
	if (prc >= 0) {
		assert_int_equal(prc, 0);
		return pv;
	}
	char path[128];
	snprintf(path, sizeof(path), "%s/control.db", f->dir);
	sqlite3 *db;
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static int64_t versions(struct fixture *f, const char *kind, const char *key)
{
	char q[256];
	snprintf(q, sizeof(q), "SELECT count(*) FROM docs WHERE kind = '%s' AND key = '%s'", kind, key);
	return count(f, q);
}

static void assert_chain_verifies(struct fixture *f, int64_t records)
{
	struct audit_verify_result r;
	struct buf err = BUF_INIT;
	struct audit_verify_options opt = { .pinned_pk = f->sg.pk };
	assert_int_equal(audit_verify(f->s, &opt, &r, &err), 0);
	if (!r.ok)
		fail_msg("audit verify failed after pruning: %s", r.reason);
	assert_int_equal(r.records, records);
	buf_release(&err);
}

static void assert_version(struct fixture *f, const char *kind, const char *key, int64_t version, int want_rc)
{
	struct vdoc d;
	struct buf err = BUF_INIT;
	assert_int_equal(vdoc_get(f->s, kind, key, version, &d, &err), want_rc);
	vdoc_release(&d);
	buf_release(&err);
}

static void test_kinds_pruned_and_kept(void **state)
{
	(void)state;
	static const struct {
		const char *kind;
		bool pruned;
	} cases[] = {
		{ "alert", true },	  { "silence", true },	     { "heartbeat", true },
		{ "flag", false },	  { "flagset", false },	     { "config", false },
		{ "config-schema", false }, { "deploy", false },	     { "deploy-head", false },
		{ "approval", false },	  { "rollback-run", false }, { "migration", false },
		{ "migration-state", false }, { "verification", false }, { "store", false },
		{ "alerts", false },	  { "", false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (vdoc_kind_pruned(cases[i].kind) != cases[i].pruned)
			fail_msg("kind \"%s\": pruned should be %d", cases[i].kind, cases[i].pruned);
}

/*
 * N alert versions and M flag versions: the alert keeps its newest
 * max_versions, a short alert history and the flag keep everything, and the
 * audit chain (one record per version written) still verifies whole.
 */
static void test_count_bound(void **state)
{
	struct fixture *f = *state;
	put_n(f, "alert", "fp-flapping", 250);
	put_n(f, "alert", "fp-quiet", 3);
	put_n(f, "heartbeat", "nightly-backup", 150);
	put_n(f, "flag", "prod/new-checkout", 250);
	put_n(f, "config", "checkout/prod", 120);
	int64_t records = 250 + 3 + 150 + 250 + 120;

	struct vdoc_retention r = { .max_age_ns = 30 * DAY_NS, .max_versions = 100 };
	size_t n = 0;
	struct buf err = BUF_INIT;
	assert_int_equal(vdoc_prune(f->s, &r, ooda_now_ns(), &n, &err), 0);
	assert_int_equal(n, 150 + 50);

	assert_int_equal(versions(f, "alert", "fp-flapping"), 100);
	assert_int_equal(versions(f, "alert", "fp-quiet"), 3);
	assert_int_equal(versions(f, "heartbeat", "nightly-backup"), 100);
	assert_int_equal(versions(f, "flag", "prod/new-checkout"), 250);
	assert_int_equal(versions(f, "config", "checkout/prod"), 120);
	/* the newest 100 are the ones kept */
	assert_version(f, "alert", "fp-flapping", 150, OODA_ENOTFOUND);
	assert_version(f, "alert", "fp-flapping", 151, 0);
	assert_version(f, "flag", "prod/new-checkout", 1, 0);
	struct vdoc d;
	assert_int_equal(vdoc_get(f->s, "alert", "fp-flapping", 0, &d, &err), 0);
	assert_int_equal(d.version, 250);
	assert_string_equal(d.body, "{\"n\":250}");
	vdoc_release(&d);

	/* the audit chain is untouched and whole */
	assert_int_equal(count(f, "SELECT count(*) FROM audit"), records);
	assert_chain_verifies(f, records);

	/* a second pass finds nothing; the next write continues the numbering */
	assert_int_equal(vdoc_prune(f->s, &r, ooda_now_ns(), &n, &err), 0);
	assert_int_equal(n, 0);
	put_n(f, "alert", "fp-flapping", 1);
	assert_version(f, "alert", "fp-flapping", 251, 0);
	assert_chain_verifies(f, records + 1);
	buf_release(&err);
}

/* By age: every old version goes but the latest, a deleted latest (an ended silence) included. */
static void test_age_bound_keeps_latest(void **state)
{
	struct fixture *f = *state;
	put_n(f, "alert", "fp-1", 5);
	struct puts_ctx p = { &f->sg, "silence", "sil-1", 2, true };
	assert_int_equal(store_write(f->s, puts_tx, &p, NULL), 0);
	put_n(f, "approval", "apr-1", 4);

	struct vdoc_retention r = { .max_age_ns = 30 * DAY_NS, .max_versions = 100 };
	size_t n = 0;
	struct buf err = BUF_INIT;
	/* not old yet: nothing goes */
	assert_int_equal(vdoc_prune(f->s, &r, ooda_now_ns() + 29 * DAY_NS, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(vdoc_prune(f->s, &r, ooda_now_ns() + 31 * DAY_NS, &n, &err), 0);
	assert_int_equal(n, 4 + 1);
	assert_int_equal(versions(f, "alert", "fp-1"), 1);
	assert_version(f, "alert", "fp-1", 5, 0);
	assert_int_equal(versions(f, "silence", "sil-1"), 1);
	struct vdoc d;
	assert_int_equal(vdoc_get(f->s, "silence", "sil-1", 0, &d, &err), 0);
	assert_int_equal(d.version, 2);
	assert_true(d.deleted);
	vdoc_release(&d);
	assert_int_equal(versions(f, "approval", "apr-1"), 4);
	assert_chain_verifies(f, 5 + 2 + 4);
	buf_release(&err);
}

struct drop_ctx {
	const char *key;
	size_t deleted;
};

static int drop_tx(struct store *s, void *ctx, struct buf *err)
{
	struct drop_ctx *c = ctx;
	return vdoc_drop_tx(s, "remedy-run", c->key, &c->deleted, err);
}

/* vdoc_drop_tx deletes every version of one key and nothing else; the audit chain still verifies. */
static void test_drop_deletes_every_version(void **state)
{
	struct fixture *f = *state;
	put_n(f, "remedy-run", "run-a", 3);
	put_n(f, "remedy-run", "run-b", 2);
	struct drop_ctx c = { "run-a", 0 };
	struct buf err = BUF_INIT;
	assert_int_equal(store_write(f->s, drop_tx, &c, &err), 0);
	assert_int_equal(c.deleted, 3);
	assert_int_equal(versions(f, "remedy-run", "run-a"), 0);
	assert_version(f, "remedy-run", "run-a", 0, OODA_ENOTFOUND);
	assert_int_equal(versions(f, "remedy-run", "run-b"), 2);
	c = (struct drop_ctx){ "run-a", 7 };
	assert_int_equal(store_write(f->s, drop_tx, &c, &err), 0);
	assert_int_equal(c.deleted, 0);
	assert_chain_verifies(f, 3 + 2);
	buf_release(&err);
}

/*
 * The periodic prune deletes one batch per due tick: a backlog drains over
 * consecutive ticks, then the next round waits for the interval.
 */
static void test_tick_drains_in_batches(void **state)
{
	struct fixture *f = *state;
	put_n(f, "alert", "fp-1", 260);
	struct vdoc_pruner p = { .r = { .max_age_ns = 30 * DAY_NS, .max_versions = 10, .batch = 100 },
				 .interval_ns = 60 * OODA_NS_PER_SEC };
	struct buf err = BUF_INIT;
	int64_t now = ooda_now_ns();
	assert_int_equal(vdoc_prune_tick(&p, f->s, now, &err), 100);
	assert_int_equal(versions(f, "alert", "fp-1"), 160);
	assert_int_equal(vdoc_prune_tick(&p, f->s, now + 1, &err), 100);
	assert_int_equal(vdoc_prune_tick(&p, f->s, now + 2, &err), 50);
	assert_int_equal(versions(f, "alert", "fp-1"), 10);
	assert_int_equal(p.pruned, 250);
	/* caught up: not due again before the interval */
	put_n(f, "alert", "fp-1", 5);
	assert_int_equal(vdoc_prune_tick(&p, f->s, now + 3, &err), 0);
	assert_int_equal(versions(f, "alert", "fp-1"), 15);
	assert_int_equal(vdoc_prune_tick(&p, f->s, now + 2 + 60 * OODA_NS_PER_SEC, &err), 5);
	assert_int_equal(versions(f, "alert", "fp-1"), 10);
	assert_chain_verifies(f, 265);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kinds_pruned_and_kept),
		cmocka_unit_test_setup_teardown(test_count_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_age_bound_keeps_latest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tick_drains_in_batches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drop_deletes_every_version, setup, teardown),
	};
	return cmocka_run_group_tests_name("vdoc", tests, NULL, NULL);
}
