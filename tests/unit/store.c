/* Unit tests for the control store's public operations (store.h): what
 * callers outside src/store/ rely on now that the backend table is private —
 * token insert, list and revoke with their conflicts, the audit chain head,
 * filtered audit reads and their early stop, checkpoints, pattern snapshots
 * replaced whole, the data version another writer moves, the stats, the
 * generations nodes' caches follow (read beside a long read), and the
 * incidents' rows, timeline entries and artifacts. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/lead.h"
#include "core/time.h"
#include "store/store.h"
#include "store/vdoc.h"
#include "store_at.h"

static char *tmpdir(void)
{
	char *d = strdup("/tmp/ooda-store-XXXXXX");
	assert_non_null(mkdtemp(d));
	return d;
}

static void rmrf(const char *d)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
	assert_int_equal(system(cmd), 0);
}

static struct store *open_store(const char *dir)
{
	struct store *s = NULL;
	struct buf err = BUF_INIT;
	assert_int_equal(test_store_open(dir, 0, &s, &err), 0);
	buf_release(&err);
	return s;
}

/* ---- tokens -------------------------------------------------------------- */

static struct token_row token(const char *id, const char *name, int64_t created_ns)
{
	struct token_row t = { .created_ns = created_ns };
	snprintf(t.id, sizeof(t.id), "%s", id);
	snprintf(t.name, sizeof(t.name), "%s", name);
	snprintf(t.role, sizeof(t.role), "operator");
	snprintf(t.created_by, sizeof(t.created_by), "test");
	t.hash[0] = (uint8_t)created_ns;
	return t;
}

static int insert_tx(struct store *s, void *ctx, struct buf *err)
{
	(void)err;
	return store_token_insert(s, ctx);
}

struct revoke { const char *id_or_name; int64_t now; struct token_row out; };

static int revoke_tx(struct store *s, void *ctx, struct buf *err)
{
	(void)err;
	struct revoke *r = ctx;
	return store_token_revoke(s, r->id_or_name, r->now, &r->out);
}

struct tokens { struct token_row rows[8]; int n; };

static int collect_token(void *ctx, const void *row)
{
	struct tokens *l = ctx;
	if (l->n < 8)
		l->rows[l->n++] = *(const struct token_row *)row;
	return 0;
}

static void test_tokens(void **state)
{
	(void)state;
	char *dir = tmpdir();
	struct store *s = open_store(dir);
	struct token_row a = token("tok_00000000000000a1", "ci", 100);
	struct token_row b = token("tok_00000000000000b2", "ci", 200);
	struct token_row dup = token("tok_00000000000000a1", "other", 300);
	assert_int_equal(store_write(s, insert_tx, &b, NULL), 0);
	assert_int_equal(store_write(s, insert_tx, &a, NULL), 0);
	assert_int_equal(store_write(s, insert_tx, &dup, NULL), OODA_ECONFLICT);

	struct tokens l = { .n = 0 };
	assert_int_equal(store_token_list(s, collect_token, &l), 0);
	assert_int_equal(l.n, 2); /* the conflicting insert left nothing behind */
	assert_string_equal(l.rows[0].id, a.id); /* oldest first */
	assert_string_equal(l.rows[1].id, b.id);
	assert_string_equal(l.rows[0].role, "operator");
	assert_int_equal(l.rows[0].hash[0], 100);
	assert_int_equal(l.rows[0].revoked_ns, 0);

	/* a name two active tokens share is ambiguous; the id is not */
	struct revoke r = { .id_or_name = "ci", .now = 1000 };
	assert_int_equal(store_write(s, revoke_tx, &r, NULL), OODA_ECONFLICT);
	r = (struct revoke){ .id_or_name = a.id, .now = 1000 };
	assert_int_equal(store_write(s, revoke_tx, &r, NULL), 0);
	assert_string_equal(r.out.id, a.id);
	assert_int_equal(r.out.revoked_ns, 1000);
	assert_int_equal(store_write(s, revoke_tx, &r, NULL), OODA_ENOTFOUND); /* already revoked */
	r = (struct revoke){ .id_or_name = "ci", .now = 2000 };
	assert_int_equal(store_write(s, revoke_tx, &r, NULL), 0); /* now the name is b's alone */
	assert_string_equal(r.out.id, b.id);
	r = (struct revoke){ .id_or_name = "nobody", .now = 2000 };
	assert_int_equal(store_write(s, revoke_tx, &r, NULL), OODA_ENOTFOUND);

	l.n = 0;
	assert_int_equal(store_token_list(s, collect_token, &l), 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.rows[0].revoked_ns, 1000);
	assert_int_equal(l.rows[1].revoked_ns, 2000);
	store_close(s);
	rmrf(dir);
	free(dir);
}

/* ---- audit and checkpoints ------------------------------------------------ */

struct head { int64_t seq; uint8_t hash[32]; };

static int head_tx(struct store *s, void *ctx, struct buf *err)
{
	(void)err;
	struct head *h = ctx;
	return store_audit_last(s, &h->seq, h->hash);
}

static int append_tx(struct store *s, void *ctx, struct buf *err)
{
	(void)err;
	struct audit_row a = *(const struct audit_row *)ctx;
	uint8_t prev[32];
	int rc = store_audit_last(s, &a.seq, prev);
	if (rc)
		return rc;
	a.seq++;
	memcpy(a.prev_hash, prev, 32);
	memset(a.hash, (int)a.seq, 32);
	return store_audit_insert(s, &a);
}

static int checkpoint_tx(struct store *s, void *ctx, struct buf *err)
{
	(void)err;
	return store_checkpoint_insert(s, ctx);
}

struct seqs { int64_t seq[8]; char action[8][32]; int n; int stop_after; int fail_with; };

static int collect_seq(void *ctx, const void *row)
{
	struct seqs *l = ctx;
	if (l->fail_with)
		return l->fail_with;
	const struct audit_row *a = row;
	l->seq[l->n] = a->seq;
	snprintf(l->action[l->n], sizeof(l->action[0]), "%s", a->action);
	l->n++;
	return l->stop_after && l->n >= l->stop_after ? 1 : 0;
}

static int collect_cp(void *ctx, const void *row)
{
	struct seqs *l = ctx;
	l->seq[l->n++] = ((const struct checkpoint_row *)row)->seq;
	return 0;
}

static void test_audit_and_checkpoints(void **state)
{
	(void)state;
	char *dir = tmpdir();
	struct store *s = open_store(dir);

	/* an empty log: head 0 with a zero hash, no checkpoint */
	struct head h;
	memset(&h, 0xff, sizeof(h));
	assert_int_equal(store_write(s, head_tx, &h, NULL), 0);
	assert_int_equal(h.seq, 0);
	static const uint8_t zero[32];
	assert_memory_equal(h.hash, zero, 32);
	struct checkpoint_row cp;
	assert_int_equal(store_checkpoint_last(s, &cp), OODA_ENOTFOUND);

	static const char *actions[] = { "token.create", "flag.put", "token.revoke" };
	for (int i = 0; i < 3; i++) {
		struct audit_row a = { .time_ns = 1000 * (i + 1), .actor = "alice", .action = actions[i],
				       .target = "t", .before_digest = "", .after_digest = "", .rationale = "",
				       .hash_version = 2 };
		assert_int_equal(store_write(s, append_tx, &a, NULL), 0);
	}
	assert_int_equal(store_write(s, head_tx, &h, NULL), 0);
	assert_int_equal(h.seq, 3);
	assert_int_equal(h.hash[0], 3);

	struct seqs l = { .n = 0 };
	struct audit_filter f = { .after_seq = 1 };
	assert_int_equal(store_audit_iter(s, &f, collect_seq, &l), 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.seq[0], 2);
	assert_int_equal(l.seq[1], 3);

	l = (struct seqs){ .n = 0 };
	f = (struct audit_filter){ .action = "token.*", .descending = true };
	assert_int_equal(store_audit_iter(s, &f, collect_seq, &l), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.action[0], "token.revoke");
	assert_string_equal(l.action[1], "token.create");

	/* a callback's > 0 stops early and is not an error; its < 0 is returned */
	l = (struct seqs){ .stop_after = 1 };
	f = (struct audit_filter){ 0 };
	assert_int_equal(store_audit_iter(s, &f, collect_seq, &l), 0);
	assert_int_equal(l.n, 1);
	l = (struct seqs){ .fail_with = OODA_EINVAL };
	assert_int_equal(store_audit_iter(s, &f, collect_seq, &l), OODA_EINVAL);

	struct checkpoint_row c2 = { .seq = 2, .time_ns = 2500 }, c3 = { .seq = 3, .time_ns = 3500 };
	c3.signature[63] = 7;
	assert_int_equal(store_write(s, checkpoint_tx, &c2, NULL), 0);
	assert_int_equal(store_write(s, checkpoint_tx, &c3, NULL), 0);
	assert_int_equal(store_checkpoint_last(s, &cp), 0);
	assert_int_equal(cp.seq, 3);
	assert_int_equal(cp.signature[63], 7);
	l = (struct seqs){ .n = 0 };
	assert_int_equal(store_checkpoint_iter(s, collect_cp, &l), 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.seq[0], 2);
	assert_int_equal(l.seq[1], 3);

	int64_t bytes = 0, audit_rows = 0;
	assert_int_equal(store_stats(s, &bytes, &audit_rows), 0);
	assert_true(bytes > 0);
	assert_int_equal(audit_rows, 3);
	store_close(s);
	rmrf(dir);
	free(dir);
}

/* ---- pattern snapshots ---------------------------------------------------- */

static int snapshot_tx(struct store *s, void *ctx, struct buf *err)
{
	(void)err;
	return store_pattern_snapshot_put(s, ctx);
}

struct snaps { char service[4][32]; char body[4][32]; uint64_t lines[4]; int n; };

static int collect_snap(void *ctx, const void *row)
{
	struct snaps *l = ctx;
	const struct pattern_snapshot_row *r = row;
	snprintf(l->service[l->n], sizeof(l->service[0]), "%s", r->service);
	snprintf(l->body[l->n], sizeof(l->body[0]), "%.*s", (int)r->snapshot_len, (const char *)r->snapshot);
	l->lines[l->n] = r->lines;
	l->n++;
	return 0;
}

static void test_pattern_snapshots(void **state)
{
	(void)state;
	char *dir = tmpdir();
	struct store *s = open_store(dir);
	struct pattern_snapshot_row b = { .service = "checkout", .saved_ns = 1, .lines = 10,
					  .snapshot = "v1", .snapshot_len = 2 };
	struct pattern_snapshot_row a = { .service = "cart", .saved_ns = 1, .lines = 4,
					  .snapshot = "c1", .snapshot_len = 2 };
	struct pattern_snapshot_row b2 = { .service = "checkout", .saved_ns = 2, .lines = 25,
					   .snapshot = "v2", .snapshot_len = 2 };
	assert_int_equal(store_write(s, snapshot_tx, &b, NULL), 0);
	assert_int_equal(store_write(s, snapshot_tx, &a, NULL), 0);
	assert_int_equal(store_write(s, snapshot_tx, &b2, NULL), 0);
	struct snaps l = { .n = 0 };
	assert_int_equal(store_pattern_snapshot_iter(s, collect_snap, &l), 0);
	assert_int_equal(l.n, 2); /* replaced whole, by service name */
	assert_string_equal(l.service[0], "cart");
	assert_string_equal(l.service[1], "checkout");
	assert_string_equal(l.body[1], "v2");
	assert_int_equal(l.lines[1], 25);
	store_close(s);
	rmrf(dir);
	free(dir);
}

/* ---- the data version ------------------------------------------------------ */

static void test_data_version_moves_on_another_writer(void **state)
{
	(void)state;
	char *dir = tmpdir();
	struct store *s = open_store(dir);
	struct store *other = open_store(dir); /* another process's connection, as `ooda token create` offline */
	int64_t v1 = 0, v2 = 0, v3 = 0;
	assert_int_equal(store_data_version(s, &v1), 0);
	assert_int_equal(store_data_version(s, &v2), 0);
	assert_int_equal(v1, v2); /* nothing committed elsewhere */
	struct token_row t = token("tok_00000000000000c3", "offline", 5);
	assert_int_equal(store_write(other, insert_tx, &t, NULL), 0);
	assert_int_equal(store_data_version(s, &v3), 0);
	assert_true(v3 != v2);
	struct tokens l = { .n = 0 };
	assert_int_equal(store_token_list(s, collect_token, &l), 0);
	assert_int_equal(l.n, 1);
	store_close(other);
	store_close(s);
	rmrf(dir);
	free(dir);
}

/* ---- generations (store_gen_*) --------------------------------------------- */

struct gen_doc {
	const char *kind;
	int fail; /* the write's own error after the document went in: it rolls back */
};

static int gen_doc_tx(struct store *s, void *ctx, struct buf *err)
{
	const struct gen_doc *g = ctx;
	struct vdoc_write w = { .kind = g->kind, .key = "k1", .body = "{}", .body_len = 2, .expect_version = -1,
				.actor = "test", .rationale = "generations" };
	struct vdoc before;
	int rc = vdoc_write_tx(s, &w, &before, err);
	vdoc_release(&before);
	return rc ? rc : g->fail;
}

static void gens_read(struct store *s, int64_t out[STORE_GEN_COUNT])
{
	for (int g = 0; g < STORE_GEN_COUNT; g++)
		assert_int_equal(store_gen_read(s, (enum store_gen)g, &out[g]), 0);
}

/*
 * A committed change of something nodes cache moves its kind's generation
 * and no other: tokens made and revoked, documents of the kinds that map to
 * a generation; a write that rolls back and a document of another kind move
 * nothing. On PostgreSQL a second connection (another node) sees the change
 * on its very next read.
 */
static void test_generations(void **state)
{
	(void)state;
	char *dir = tmpdir();
	struct store *s = open_store(dir);
	struct store *other = open_store(dir);
	bool pg = getenv("OODA_TEST_PG_DSN") != NULL;
	assert_string_equal(store_gen_name(STORE_GEN_SILENCES), "silences");
	assert_int_equal(store_gen_of_doc("oncall.override"), STORE_GEN_ONCALL);
	assert_int_equal(store_gen_of_doc("flagset"), STORE_GEN_FLAGS);
	assert_int_equal(store_gen_of_doc("incident"), STORE_GEN_COUNT);
	int64_t g0[STORE_GEN_COUNT], g1[STORE_GEN_COUNT], o[STORE_GEN_COUNT];
	gens_read(s, g0);

	struct token_row t = token("tok_00000000000000e1", "gen", 9);
	assert_int_equal(store_write(s, insert_tx, &t, NULL), 0);
	gens_read(s, g1);
	assert_true(g1[STORE_GEN_TOKENS] > g0[STORE_GEN_TOKENS]);
	assert_int_equal(g1[STORE_GEN_FLAGS], g0[STORE_GEN_FLAGS]);
	struct revoke r = { .id_or_name = "gen", .now = 10 };
	assert_int_equal(store_write(s, revoke_tx, &r, NULL), 0);
	gens_read(s, g0);
	assert_true(g0[STORE_GEN_TOKENS] > g1[STORE_GEN_TOKENS]);

	const struct { struct gen_doc doc; enum store_gen moves; } cases[] = {
		{ { "silence", 0 }, STORE_GEN_SILENCES },
		{ { "flag", 0 }, STORE_GEN_FLAGS },
		{ { "oncall.override", 0 }, STORE_GEN_ONCALL },
		{ { "incident-note", 0 }, STORE_GEN_COUNT },     /* not cached by nodes */
		{ { "silence", OODA_EINVAL }, STORE_GEN_COUNT }, /* rolled back */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = store_write(s, gen_doc_tx, (void *)&cases[i].doc, NULL);
		assert_int_equal(rc, cases[i].doc.fail);
		gens_read(s, g1);
		for (int g = 0; g < STORE_GEN_COUNT; g++) {
			if (g == (int)cases[i].moves)
				assert_true(g1[g] > g0[g]);
			else
				assert_int_equal(g1[g], g0[g]);
		}
		memcpy(g0, g1, sizeof(g0));
	}
	if (pg) {
		/* another node's change counts on this node's next read, with no wait */
		uint64_t reads = store_gen_reads(s);
		struct gen_doc d = { "silence", 0 };
		assert_int_equal(store_write(other, gen_doc_tx, &d, NULL), 0);
		gens_read(s, g1);
		assert_true(g1[STORE_GEN_SILENCES] > g0[STORE_GEN_SILENCES]);
		assert_true(store_gen_reads(s) > reads);
		gens_read(other, o);
		assert_memory_equal(o, g1, sizeof(o));
		/*
		 * A request's checks share one read: with the thread's "since" point
		 * set before the first read, a later check of the same request
		 * reuses it (no query) even though another node committed between
		 * them; the next request (a later point) reads again and sees it.
		 */
		ooda_thread_since_set(ooda_mono_ns());
		int64_t first, again, next;
		assert_int_equal(store_gen_read(s, STORE_GEN_FLAGS, &first), 0);
		reads = store_gen_reads(s);
		struct gen_doc f = { "flag", 0 };
		assert_int_equal(store_write(other, gen_doc_tx, &f, NULL), 0);
		assert_int_equal(store_gen_read(s, STORE_GEN_FLAGS, &again), 0);
		assert_int_equal(again, first);
		assert_int_equal(store_gen_reads(s), reads);
		ooda_thread_since_set(ooda_mono_ns());
		assert_int_equal(store_gen_read(s, STORE_GEN_FLAGS, &next), 0);
		assert_true(next > first);
		ooda_thread_since_set(0);
	} else {
		/* one node: the counts are this store's own, kept in memory */
		assert_int_equal(store_gen_reads(s), 0);
		gens_read(other, o);
		assert_int_equal(o[STORE_GEN_TOKENS], 0);
	}
	store_close(other);
	store_close(s);
	rmrf(dir);
	free(dir);
}

/*
 * A generation read is answered while another read of the same node holds
 * the reader (a listing whose rows are still being handed out): on
 * PostgreSQL the generations have a connection of their own, so a
 * request's token check never waits for the cluster thread's round or a
 * long listing. The listing is held by its own row callback until the
 * generation read came back, or 10 s passed (then the test fails rather
 * than hangs).
 */
struct held_read {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool inside, release, answered;
	struct store *s;
	int rc;
	int64_t gen;
};

static int held_row(void *ctx, const void *row)
{
	(void)row;
	struct held_read *h = ctx;
	pthread_mutex_lock(&h->mu);
	h->inside = true;
	pthread_cond_broadcast(&h->cv);
	while (!h->release)
		pthread_cond_wait(&h->cv, &h->mu);
	pthread_mutex_unlock(&h->mu);
	return 0;
}

static void *held_list_main(void *arg)
{
	struct held_read *h = arg;
	store_token_list(h->s, held_row, h);
	return NULL;
}

static void *gen_read_main(void *arg)
{
	struct held_read *h = arg;
	int64_t gen = 0;
	int rc = store_gen_read(h->s, STORE_GEN_TOKENS, &gen);
	pthread_mutex_lock(&h->mu);
	h->rc = rc;
	h->gen = gen;
	h->answered = true;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

static void test_gen_read_beside_a_long_read(void **state)
{
	(void)state;
	char *dir = tmpdir();
	struct store *s = open_store(dir);
	struct token_row t = token("tok_00000000000000f1", "held", 11);
	assert_int_equal(store_write(s, insert_tx, &t, NULL), 0);
	struct held_read h = { .s = s };
	pthread_mutex_init(&h.mu, NULL);
	pthread_cond_init(&h.cv, NULL);
	pthread_t lister, reader;
	assert_int_equal(pthread_create(&lister, NULL, held_list_main, &h), 0);
	pthread_mutex_lock(&h.mu);
	while (!h.inside)
		pthread_cond_wait(&h.cv, &h.mu);
	pthread_mutex_unlock(&h.mu);
	assert_int_equal(pthread_create(&reader, NULL, gen_read_main, &h), 0);
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	pthread_mutex_lock(&h.mu);
	while (!h.answered && pthread_cond_timedwait(&h.cv, &h.mu, &until) == 0)
		;
	bool answered_while_held = h.answered;
	h.release = true;
	pthread_cond_broadcast(&h.cv);
	pthread_mutex_unlock(&h.mu);
	pthread_join(lister, NULL);
	pthread_join(reader, NULL);
	assert_true(answered_while_held);
	assert_int_equal(h.rc, 0);
	assert_true(h.gen >= 1); /* the token's insert moved it */
	pthread_cond_destroy(&h.cv);
	pthread_mutex_destroy(&h.mu);
	store_close(s);
	rmrf(dir);
	free(dir);
}

/* ---- waiting for a change ------------------------------------------------- */

/*
 * A worker that waits with store_wait_change wakes for a commit made after it
 * last looked, including one by another connection (on PostgreSQL, through
 * LISTEN/NOTIFY), and times out when nothing was committed.
 */
static void test_wait_change(void **state)
{
	(void)state;
	char *dir = tmpdir();
	struct store *s = open_store(dir);
	struct store *other = open_store(dir);
	uint64_t seen = 0;
	/* nothing committed: the wait times out (on PostgreSQL the first call starts listening) */
	assert_int_equal(store_wait_change(s, &seen, 0), OODA_ETIMEOUT);
	struct token_row t = token("tok_00000000000000d1", "waiter", 7);
	assert_int_equal(store_write(s, insert_tx, &t, NULL), 0);
	assert_int_equal(store_wait_change(s, &seen, 10000), 0);
	assert_int_equal(store_wait_change(s, &seen, 0), OODA_ETIMEOUT); /* seen moved on */
	if (getenv("OODA_TEST_PG_DSN")) {
		/* another process's commit wakes the waiter too */
		struct token_row u = token("tok_00000000000000d2", "elsewhere", 8);
		assert_int_equal(store_write(other, insert_tx, &u, NULL), 0);
		assert_int_equal(store_wait_change(s, &seen, 10000), 0);
	}
	store_close(other);
	store_close(s);
	rmrf(dir);
	free(dir);
}

/* ---- control.pg ------------------------------------------------------------- */

static void test_pg_marker_parse(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		const char *var; /* NULL: refused */
	} cases[] = {
		{ "postgres OODA_CONTROL_DSN\n", "OODA_CONTROL_DSN" },
		{ "postgres x1", "x1" },
		{ "postgres _A\n", "_A" },
		{ "postgres \n", NULL },
		{ "postgres 1A\n", NULL },
		{ "postgres A B\n", NULL },
		{ "postgres A\nB\n", NULL },
		{ "postgres A;rm -rf /\n", NULL },
		{ "sqlite A\n", NULL },
		{ "postgres", NULL },
		{ "", NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char var[32] = "";
		int rc = store_pg_marker_parse(cases[i].text, strlen(cases[i].text), var, sizeof(var));
		if (cases[i].var ? rc != 0 || strcmp(var, cases[i].var) : rc != OODA_EINVAL)
			fail_msg("case %zu (%s): rc %d var %s", i, cases[i].text, rc, var);
	}
	char small[4];
	assert_int_equal(store_pg_marker_parse("postgres ABCD", 13, small, sizeof(small)), OODA_EINVAL);
}

struct rollouts_seen {
	int n;
	char ids[8][32], status[8][24];
	int64_t due[8];
};

static int collect_rollout(void *ctx, const void *row)
{
	const struct rollout_row *r = row;
	struct rollouts_seen *l = ctx;
	if (l->n < 8) {
		snprintf(l->ids[l->n], sizeof(l->ids[0]), "%s", r->id);
		snprintf(l->status[l->n], sizeof(l->status[0]), "%s", r->status);
		l->due[l->n] = r->due_ns;
	}
	l->n++;
	return 0;
}

static int rollout_tx(struct store *s, void *ctx, struct buf *err)
{
	(void)err;
	return store_rollout_put(s, ctx);
}

/* Rollouts: replaced in place, found by status (what the worker asks), and still there after a reopen. */
static void test_rollouts(void **state)
{
	(void)state;
	char *dir = tmpdir();
	struct store *s = open_store(dir);
	struct rollout_row a = { .id = "ro-0001", .status = "running", .env = "prod", .due_ns = 50, .updated_ns = 1,
				 .body = "{\"step\":0}" };
	struct rollout_row b = { .id = "ro-0002", .status = "running", .env = "default", .due_ns = 70,
				 .updated_ns = 2, .body = "{\"step\":0}" };
	assert_int_equal(store_write(s, rollout_tx, &a, NULL), 0);
	assert_int_equal(store_write(s, rollout_tx, &b, NULL), 0);
	a.status = "aborted";
	a.due_ns = 0;
	assert_int_equal(store_write(s, rollout_tx, &a, NULL), 0); /* the same id: replaced, not added */

	struct rollouts_seen l = { 0 };
	assert_int_equal(store_rollout_list(s, "running", 0, collect_rollout, &l), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.ids[0], "ro-0002");
	assert_true(l.due[0] == 70);
	store_close(s);

	s = open_store(dir);
	memset(&l, 0, sizeof(l));
	assert_int_equal(store_rollout_list(s, NULL, 0, collect_rollout, &l), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.ids[0], "ro-0002"); /* newest first */
	assert_string_equal(l.status[1], "aborted");
	memset(&l, 0, sizeof(l));
	assert_int_equal(store_rollout_list(s, NULL, 1, collect_rollout, &l), 0);
	assert_int_equal(l.n, 1); /* the limit holds */
	memset(&l, 0, sizeof(l));
	assert_int_equal(store_rollout_get(s, "ro-0001", collect_rollout, &l), 0);
	assert_string_equal(l.status[0], "aborted");
	assert_int_equal(store_rollout_get(s, "ro-9999", collect_rollout, &l), OODA_ENOTFOUND);
	store_close(s);
	rmrf(dir);
	free(dir);
}

/* ---- incidents: rows, timeline entries, artifacts ------------------------------ */

static int incidents_tx(struct store *s, void *ctx, struct buf *err)
{
	(void)err;
	(void)ctx;
	struct incident_row one = { .number = 1, .status = "open", .service = NULL, .severity = "sev2",
				    .updated_ns = 10, .body = "{\"n\":1}" };
	struct incident_row two = { .number = 2, .status = "open", .service = "checkout", .severity = "sev1",
				    .updated_ns = 20, .body = "{\"n\":2}" };
	int rc = store_incident_put(s, &one);
	if (!rc)
		rc = store_incident_put(s, &two);
	one.status = "resolved";
	if (!rc)
		rc = store_incident_put(s, &one); /* the same number: replaced */
	for (int i = 0; !rc && i < 3; i++) {
		struct incident_entry_row e = { .number = 2, .at_ns = 100 + i, .kind = "note", .actor = "alice",
						.text = i == 1 ? NULL : "seen", .data = i == 2 ? "{\"x\":1}" : NULL };
		rc = store_incident_entry_append(s, &e);
		if (!rc && e.seq != i + 1)
			rc = OODA_EINTERNAL;
	}
	for (int i = 0; !rc && i < 2; i++) {
		struct incident_artifact_row a = { .number = 2, .name = i ? "empty.txt" : "db.log",
						   .content_type = "text/plain", .size = i ? 0 : 5, .sha256 = "ab",
						   .uploaded_by = "bob", .at_ns = 200, .bytes = i ? NULL : "hello",
						   .bytes_len = i ? 0 : 5 };
		rc = store_incident_artifact_put(s, &a);
		if (!rc && a.id != i + 1)
			rc = OODA_EINTERNAL;
	}
	return rc;
}

struct seen {
	int n;
	char text[8][64];
	int64_t num[8];
	size_t len[8];
};

static int see_incident(void *ctx, const void *row)
{
	const struct incident_row *r = row;
	struct seen *l = ctx;
	snprintf(l->text[l->n], sizeof(l->text[0]), "%s %s %s %s", r->status, r->service, r->severity, r->body);
	l->num[l->n++] = r->number;
	return 0;
}

static int see_entry(void *ctx, const void *row)
{
	const struct incident_entry_row *e = row;
	struct seen *l = ctx;
	snprintf(l->text[l->n], sizeof(l->text[0]), "%s %s [%s] %s", e->kind, e->actor, e->text, e->data);
	l->num[l->n++] = e->seq;
	return l->n == 2 ? 1 : 0; /* stop after two: the iteration still returns 0 */
}

static int see_artifact(void *ctx, const void *row)
{
	const struct incident_artifact_row *a = row;
	struct seen *l = ctx;
	snprintf(l->text[l->n], sizeof(l->text[0]), "%s %s %lld", a->name, a->bytes ? (const char *)a->bytes : "(none)",
		 (long long)a->size);
	l->len[l->n] = a->bytes_len;
	l->num[l->n++] = a->id;
	return 0;
}

static int refuse(void *ctx, const void *row)
{
	(void)ctx;
	(void)row;
	return OODA_ECONFLICT;
}

static void test_incidents(void **state)
{
	(void)state;
	char *dir = tmpdir();
	struct store *s = open_store(dir);
	int64_t max = -1;
	assert_int_equal(store_incident_max(s, &max), 0);
	assert_int_equal(max, 0);
	assert_int_equal(store_write(s, incidents_tx, NULL, NULL), 0);
	assert_int_equal(store_incident_max(s, &max), 0);
	assert_int_equal(max, 2);

	struct seen l = { 0 };
	assert_int_equal(store_incident_iter(s, see_incident, &l), 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.num[0], 2); /* newest first */
	assert_string_equal(l.text[0], "open checkout sev1 {\"n\":2}");
	assert_string_equal(l.text[1], "resolved  sev2 {\"n\":1}");
	memset(&l, 0, sizeof(l));
	assert_int_equal(store_incident_get(s, 1, see_incident, &l), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(store_incident_get(s, 9, see_incident, &l), OODA_ENOTFOUND);
	assert_int_equal(store_incident_get(s, 1, refuse, NULL), OODA_ECONFLICT);

	memset(&l, 0, sizeof(l));
	assert_int_equal(store_incident_entry_iter(s, 2, see_entry, &l), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.text[0], "note alice [seen] {}");
	assert_string_equal(l.text[1], "note alice [] {}");
	memset(&l, 0, sizeof(l));
	assert_int_equal(store_incident_entry_iter(s, 1, see_entry, &l), 0);
	assert_int_equal(l.n, 0);

	memset(&l, 0, sizeof(l));
	assert_int_equal(store_incident_artifact_get(s, 2, 1, see_artifact, &l), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.len[0], 5);
	assert_memory_equal(l.text[0], "db.log hello 5", 15);
	assert_int_equal(store_incident_artifact_get(s, 2, 3, see_artifact, &l), OODA_ENOTFOUND);
	memset(&l, 0, sizeof(l));
	assert_int_equal(store_incident_artifact_iter(s, 2, see_artifact, &l), 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.num[1], 2);
	assert_string_equal(l.text[1], "empty.txt (none) 0");
	store_close(s);
	rmrf(dir);
	free(dir);
}

/* ---- the leader's lease and fencing ---------------------------------------- */

struct claim {
	const char *node;
	int64_t held, now, len;
	struct lease_row out;
};

static int claim_tx(struct store *s, void *ctx, struct buf *err)
{
	(void)err;
	struct claim *c = ctx;
	return store_lease_claim(s, c->node, c->held, c->now, c->len, &c->out);
}

static struct lease_row claim(struct store *s, const char *node, int64_t held, int64_t now)
{
	struct claim c = { node, held, now, 5000, { { 0 }, 0, 0 } };
	assert_int_equal(store_write(s, claim_tx, &c, NULL), 0);
	return c.out;
}

static struct lease_row lease_now(struct store *s)
{
	struct lease_row l;
	assert_int_equal(store_lease_get(s, &l), 0);
	return l;
}

static int node_tx(struct store *s, void *ctx, struct buf *err)
{
	(void)err;
	return store_node_put(s, ctx);
}

static int count_node(void *ctx, const void *row)
{
	const struct node_row *r = row;
	if (!strcmp(r->role, "leader"))
		(*(int *)ctx)++;
	return 0;
}

/*
 * One lease: the first claim wins term 1, a second node cannot take it
 * before it expires, the first node restarted takes it back at once (term
 * 2), the second takes it after it expired with term 3; the old leader's
 * writes carrying term 2 are then refused inside their transaction (and counted),
 * the new leader's go through, a thread that follows (-1) writes nothing.
 * SQLite has one node and no lease.
 */
struct live_put {
	const char *node;
	int64_t at;
	const char *body;
};

static int live_put_tx(struct store *s, void *ctx, struct buf *err)
{
	const struct live_put *p = ctx;
	return store_live_put(s, p->node, p->at, p->body, strlen(p->body));
}

static int live_prune_tx(struct store *s, void *ctx, struct buf *err)
{
	return store_live_prune(s, *(const int64_t *)ctx);
}

struct live_seen {
	char text[256];
	int64_t last_id;
};

static int live_seen_row(void *ctx, const void *row)
{
	struct live_seen *v = ctx;
	const struct live_delta_row *r = row;
	assert_true(r->id > v->last_id); /* ascending */
	v->last_id = r->id;
	size_t n = strlen(v->text);
	snprintf(v->text + n, sizeof(v->text) - n, "%s:%.*s ", r->node_id, (int)r->body_len, (const char *)r->body);
	return 0;
}

/* Deltas of live signals (store_live_*): read by the others in commit order, a node's own only before a time, pruned by age. */
static void test_live_deltas(void **state)
{
	(void)state;
	char *dir = tmpdir();
	struct store *s = open_store(dir);
	struct live_seen v = { "", 0 };
	if (!getenv("OODA_TEST_PG_DSN")) {
		assert_int_equal(store_live_list(s, "a", 0, 0, 10, live_seen_row, &v), OODA_EUNSUPPORTED);
		store_close(s);
		rmrf(dir);
		free(dir);
		return;
	}
	const struct live_put puts[] = { { "a", 100, "a1" }, { "b", 200, "b1" }, { "a", 300, "a2" }, { "b", 400, "b\x01\xff" } };
	for (size_t i = 0; i < sizeof(puts) / sizeof(puts[0]); i++)
		assert_int_equal(store_write(s, live_put_tx, (void *)&puts[i], NULL), 0);
	/* node a reads b's, and its own written before 150 (a restart that did not replay) */
	assert_int_equal(store_live_list(s, "a", 0, 150, 10, live_seen_row, &v), 0);
	assert_string_equal(v.text, "a:a1 b:b1 b:b\x01\xff ");
	/* after the last id read: nothing new; a page of one */
	int64_t last = v.last_id;
	v.text[0] = '\0';
	assert_int_equal(store_live_list(s, "a", last, 0, 10, live_seen_row, &v), 0);
	assert_string_equal(v.text, "");
	v = (struct live_seen){ "", 0 };
	assert_int_equal(store_live_list(s, "b", 0, 0, 1, live_seen_row, &v), 0);
	assert_string_equal(v.text, "a:a1 ");
	int64_t before = 250;
	assert_int_equal(store_write(s, live_prune_tx, &before, NULL), 0);
	v = (struct live_seen){ "", 0 };
	assert_int_equal(store_live_list(s, "c", 0, 0, 10, live_seen_row, &v), 0);
	assert_string_equal(v.text, "a:a2 b:b\x01\xff ");
	store_close(s);
	rmrf(dir);
	free(dir);
}

/*
 * Fresh telemetry announced between nodes (store_fresh_*): another node's
 * announcement wakes a waiter, several are taken as one, its own are not
 * heard, and nothing waits for nobody (a timeout).
 */
static void test_fresh_announce(void **state)
{
	(void)state;
	char *dir = tmpdir();
	struct store *s = open_store(dir);
	if (!getenv("OODA_TEST_PG_DSN")) {
		assert_int_equal(store_fresh_announce(s, "a"), OODA_EUNSUPPORTED);
		assert_int_equal(store_fresh_wait(s, "b", 10), OODA_EUNSUPPORTED);
		store_close(s);
		rmrf(dir);
		free(dir);
		return;
	}
	/* the first wait starts listening: nothing announced yet */
	assert_int_equal(store_fresh_wait(s, "b", 10), OODA_ETIMEOUT);
	assert_int_equal(store_fresh_announce(s, "a"), 0);
	assert_int_equal(store_fresh_announce(s, "a"), 0);
	assert_int_equal(store_fresh_wait(s, "b", 5000), 0);
	/* the second is taken by that wait or by one more, never by more than that */
	int more = 0;
	while (store_fresh_wait(s, "b", 200) == 0)
		assert_true(++more <= 1);
	/* a node does not hear itself */
	assert_int_equal(store_fresh_announce(s, "b"), 0);
	assert_int_equal(store_fresh_wait(s, "b", 200), OODA_ETIMEOUT);
	char long_id[80];
	memset(long_id, 'x', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	assert_int_equal(store_fresh_announce(s, long_id), OODA_EINVAL);
	store_close(s);
	rmrf(dir);
	free(dir);
}

struct stream_put {
	const char *node, *type, *body;
	int64_t at, keep_after;
};

static int stream_put_tx(struct store *s, void *ctx, struct buf *err)
{
	const struct stream_put *p = ctx;
	return store_stream_put(s, p->node, p->at, p->type, p->body, p->keep_after);
}

static int stream_seen_row(void *ctx, const void *row)
{
	struct live_seen *v = ctx;
	const struct stream_event_row *r = row;
	assert_true(r->id > v->last_id); /* ascending */
	v->last_id = r->id;
	size_t n = strlen(v->text);
	snprintf(v->text + n, sizeof(v->text) - n, "%s:%s:%s ", r->node_id, r->type, r->body);
	return 0;
}

/* The live feed's shared events (store_stream_*): others' events in commit order, from the head on, pruned by age. */
static void test_stream_events(void **state)
{
	(void)state;
	char *dir = tmpdir();
	struct store *s = open_store(dir);
	struct live_seen v = { "", 0 };
	int64_t head = -1;
	if (!getenv("OODA_TEST_PG_DSN")) {
		assert_int_equal(store_stream_head(s, &head), OODA_EUNSUPPORTED);
		assert_int_equal(store_stream_list(s, "a", 0, 10, stream_seen_row, &v), OODA_EUNSUPPORTED);
		store_close(s);
		rmrf(dir);
		free(dir);
		return;
	}
	assert_int_equal(store_stream_head(s, &head), 0);
	assert_int_equal(head, 0);
	const struct stream_put puts[] = { { "a", "alert", "{\"n\":1}", 100, 0 },
					   { "b", "incident", "{\"n\":2}", 200, 0 },
					   { "a", "run", "{\"n\":3}", 300, 0 } };
	for (size_t i = 0; i < sizeof(puts) / sizeof(puts[0]); i++)
		assert_int_equal(store_write(s, stream_put_tx, (void *)&puts[i], NULL), 0);
	/* node b reads a's events only */
	assert_int_equal(store_stream_list(s, "b", 0, 10, stream_seen_row, &v), 0);
	assert_string_equal(v.text, "a:alert:{\"n\":1} a:run:{\"n\":3} ");
	/* a node that starts following now begins after the newest */
	assert_int_equal(store_stream_head(s, &head), 0);
	v = (struct live_seen){ "", 0 };
	assert_int_equal(store_stream_list(s, "c", head, 10, stream_seen_row, &v), 0);
	assert_string_equal(v.text, "");
	/* a page of one */
	assert_int_equal(store_stream_list(s, "c", 0, 1, stream_seen_row, &v), 0);
	assert_string_equal(v.text, "a:alert:{\"n\":1} ");
	/* a put deletes the events older than its keep bound */
	const struct stream_put late = { "b", "summary", "{}", 400, 250 };
	assert_int_equal(store_write(s, stream_put_tx, (void *)&late, NULL), 0);
	v = (struct live_seen){ "", 0 };
	assert_int_equal(store_stream_list(s, "c", 0, 10, stream_seen_row, &v), 0);
	assert_string_equal(v.text, "a:run:{\"n\":3} b:summary:{} ");
	store_close(s);
	rmrf(dir);
	free(dir);
}

/* ---- log lines shared for the pattern miners -------------------------------- */

struct lines_op {
	int op; /* 0 put, 1 mark, 2 prune */
	int64_t a, b;
	const char *body;
};

static int lines_tx(struct store *s, void *ctx, struct buf *err)
{
	(void)err;
	const struct lines_op *o = ctx;
	switch (o->op) {
	case 0: return store_pattern_lines_put(s, o->a, o->body, strlen(o->body));
	case 1: return store_pattern_mark_put(s, o->a);
	default: return store_pattern_lines_prune(s, o->a, o->b);
	}
}

struct lines_seen {
	char text[128];
	int64_t last_id;
};

static int lines_seen_row(void *ctx, const void *row)
{
	struct lines_seen *v = ctx;
	const struct pattern_lines_row *r = row;
	assert_true(r->id > v->last_id); /* in id order */
	v->last_id = r->id;
	size_t n = strlen(v->text);
	snprintf(v->text + n, sizeof(v->text) - n, "%.*s@%lld ", (int)r->body_len, (const char *)r->body,
		 (long long)r->written_ns);
	return 0;
}

/* Rows in id order from after an id, a page at a time; the mark; only rows the mark covers and old enough pruned. */
static void test_pattern_lines(void **state)
{
	(void)state;
	char *dir = tmpdir();
	struct store *s = open_store(dir);
	struct lines_seen v = { "", 0 };
	int64_t mark = -1;
	if (!getenv("OODA_TEST_PG_DSN")) {
		assert_int_equal(store_pattern_lines_list(s, 0, 10, lines_seen_row, &v), OODA_EUNSUPPORTED);
		assert_int_equal(store_pattern_mark_get(s, &mark), OODA_EUNSUPPORTED);
		assert_int_equal(mark, 0);
		store_close(s);
		rmrf(dir);
		free(dir);
		return;
	}
	assert_int_equal(store_pattern_mark_get(s, &mark), 0);
	assert_int_equal(mark, 0);
	const char *bodies[] = { "r1", "r2", "r3", "r\x01\xff" };
	for (int i = 0; i < 4; i++) {
		struct lines_op o = { 0, 100 * (i + 1), 0, bodies[i] };
		assert_int_equal(store_write(s, lines_tx, &o, NULL), 0);
	}
	assert_int_equal(store_pattern_lines_list(s, 0, 10, lines_seen_row, &v), 0);
	assert_string_equal(v.text, "r1@100 r2@200 r3@300 r\x01\xff@400 ");
	int64_t second = 0;
	v = (struct lines_seen){ "", 0 };
	assert_int_equal(store_pattern_lines_list(s, 0, 2, lines_seen_row, &v), 0);
	assert_string_equal(v.text, "r1@100 r2@200 ");
	second = v.last_id;
	v.text[0] = '\0';
	assert_int_equal(store_pattern_lines_list(s, second, 10, lines_seen_row, &v), 0);
	assert_string_equal(v.text, "r3@300 r\x01\xff@400 ");
	struct lines_op m = { 1, second, 0, NULL };
	assert_int_equal(store_write(s, lines_tx, &m, NULL), 0);
	m.a = second + 1; /* replaced, not added */
	assert_int_equal(store_write(s, lines_tx, &m, NULL), 0);
	assert_int_equal(store_pattern_mark_get(s, &mark), 0);
	assert_int_equal(mark, second + 1);
	/* up to the mark and written before 250: r1 and r2; r3 is under the mark but younger */
	struct lines_op p = { 2, second + 1, 250, NULL };
	assert_int_equal(store_write(s, lines_tx, &p, NULL), 0);
	v = (struct lines_seen){ "", 0 };
	assert_int_equal(store_pattern_lines_list(s, 0, 10, lines_seen_row, &v), 0);
	assert_string_equal(v.text, "r3@300 r\x01\xff@400 ");
	/* everything the mark covers, however old: the newest row stays */
	struct lines_op all = { 1, INT64_MAX, 0, NULL }, all_p = { 2, INT64_MAX, INT64_MAX, NULL };
	assert_int_equal(store_write(s, lines_tx, &all, NULL), 0);
	assert_int_equal(store_write(s, lines_tx, &all_p, NULL), 0);
	v = (struct lines_seen){ "", 0 };
	assert_int_equal(store_pattern_lines_list(s, 0, 10, lines_seen_row, &v), 0);
	assert_string_equal(v.text, "r\x01\xff@400 ");
	store_close(s);
	rmrf(dir);
	free(dir);
}

struct shared_ctx {
	int step;
	int64_t gen;
};

/* step 0: a reload generation; 1: metadata of two families; 2: the same resent, one changed; 3: exemplar batches */
static int shared_tx(struct store *s, void *ctx, struct buf *err)
{
	(void)err;
	struct shared_ctx *c = ctx;
	int rc = 0;
	switch (c->step) {
	case 0:
		return store_config_gen_bump(s, "n2", "token:ops", 500, &c->gen);
	case 1:
		rc = store_metadata_put(s, "up", "gauge", "1 when the target answered", "");
		return rc ? rc : store_metadata_put(s, "req_total", "counter", "requests", "");
	case 2:
		rc = store_metadata_put(s, "up", "gauge", "1 when the target answered", "");
		return rc ? rc : store_metadata_put(s, "req_total", "counter", "requests served", "");
	default:
		for (int i = 0; !rc && i < 4; i++)
			rc = store_exemplars_put(s, 600 + i, "OEX1", 4 + (size_t)(i % 2), 2);
		return rc;
	}
}

struct shared_seen {
	char text[256];
	int64_t last;
};

static int meta_seen(void *ctx, const void *row)
{
	struct shared_seen *v = ctx;
	const struct metric_meta_row *m = row;
	snprintf(v->text + strlen(v->text), sizeof(v->text) - strlen(v->text), "%s=%s/%s ", m->name, m->type, m->help);
	v->last = m->seq;
	return 0;
}

static int batch_seen(void *ctx, const void *row)
{
	struct shared_seen *v = ctx;
	const struct exemplar_batch_row *b = row;
	snprintf(v->text + strlen(v->text), sizeof(v->text) - strlen(v->text), "%lld:%zu ", (long long)b->written_ns,
		 b->body_len);
	v->last = b->id;
	return 0;
}

/*
 * What several nodes share besides the chain (PostgreSQL only): reload
 * generations count up, metadata is read by change (a resend of the same
 * moves nothing), exemplar batches come back in order and only the newest
 * `keep` stay.
 */
static void test_shared_between_nodes(void **state)
{
	(void)state;
	char *dir = tmpdir();
	struct store *s = open_store(dir);
	struct shared_ctx c = { 0, 0 };
	struct config_gen_row g;
	if (!getenv("OODA_TEST_PG_DSN")) {
		assert_int_equal(store_write(s, shared_tx, &c, NULL), OODA_EUNSUPPORTED);
		assert_int_equal(store_config_gen_get(s, &g), OODA_EUNSUPPORTED);
		store_close(s);
		rmrf(dir);
		free(dir);
		return;
	}
	assert_int_equal(store_config_gen_get(s, &g), 0);
	assert_int_equal(g.generation, 0);
	assert_int_equal(store_write(s, shared_tx, &c, NULL), 0);
	assert_int_equal(c.gen, 1);
	assert_int_equal(store_write(s, shared_tx, &c, NULL), 0);
	assert_int_equal(c.gen, 2);
	assert_int_equal(store_config_gen_get(s, &g), 0);
	assert_int_equal(g.generation, 2);
	assert_string_equal(g.node_id, "n2");
	assert_string_equal(g.actor, "token:ops");

	struct shared_seen v = { "", 0 };
	c.step = 1;
	assert_int_equal(store_write(s, shared_tx, &c, NULL), 0);
	assert_int_equal(store_metadata_list(s, 0, 10, meta_seen, &v), 0);
	assert_string_equal(v.text, "up=gauge/1 when the target answered req_total=counter/requests ");
	int64_t after = v.last;
	c.step = 2;
	assert_int_equal(store_write(s, shared_tx, &c, NULL), 0);
	v = (struct shared_seen){ "", 0 };
	assert_int_equal(store_metadata_list(s, after, 10, meta_seen, &v), 0);
	assert_string_equal(v.text, "req_total=counter/requests served ");

	c.step = 3;
	assert_int_equal(store_write(s, shared_tx, &c, NULL), 0);
	v = (struct shared_seen){ "", 0 };
	assert_int_equal(store_exemplars_list(s, 0, 10, batch_seen, &v), 0);
	assert_string_equal(v.text, "602:4 603:5 "); /* the newest two of four */
	v.text[0] = '\0';
	assert_int_equal(store_exemplars_list(s, v.last, 10, batch_seen, &v), 0);
	assert_string_equal(v.text, "");
	store_close(s);
	rmrf(dir);
	free(dir);
}

static void test_lease_and_fence(void **state)
{
	(void)state;
	char *dir = tmpdir();
	struct store *s = open_store(dir);
	struct lease_row l;
	if (!getenv("OODA_TEST_PG_DSN")) {
		assert_int_equal(store_lease_get(s, &l), OODA_EUNSUPPORTED);
		struct token_row t = token("tok_00000000000000f1", "onenode", 1);
		lead_thread_enter(); /* term 1: one node leads, nothing is checked */
		assert_int_equal(store_write(s, insert_tx, &t, NULL), 0);
		lead_thread_leave();
		assert_int_equal(store_fence_refusals(s), 0);
		store_close(s);
		rmrf(dir);
		free(dir);
		return;
	}
	assert_int_equal(store_lease_get(s, &l), OODA_ENOTFOUND);
	l = claim(s, "a", 0, 1000);
	assert_string_equal(l.node_id, "a");
	assert_int_equal(l.term, 1);
	assert_int_equal(l.expires_ns, 6000);
	l = claim(s, "b", 0, 2000); /* held by a: b follows */
	assert_string_equal(l.node_id, "a");
	l = claim(s, "a", 1, 3000); /* a renews its term */
	assert_int_equal(l.term, 1);
	assert_int_equal(l.expires_ns, 8000);
	l = claim(s, "a", 0, 3000); /* a restarted (it holds no term): it takes its lease back with a new term */
	assert_int_equal(l.term, 2);
	l = claim(s, "a", 2, 3000);
	assert_int_equal(l.term, 2);
	l = claim(s, "b", 0, 8001); /* expired: b takes over with the term bumped */
	assert_string_equal(l.node_id, "b");
	assert_int_equal(l.term, 3);
	l = claim(s, "a", 2, 8002); /* a's renewal of term 2 fails: b holds the lease */
	assert_string_equal(l.node_id, "b");
	assert_int_equal(lease_now(s).term, 3);

	/* a, paused past its lease, comes back and writes with its old term */
	lead_set(2);
	lead_thread_enter();
	struct token_row t = token("tok_00000000000000f2", "stale", 2);
	struct buf err = BUF_INIT;
	assert_int_equal(store_write(s, insert_tx, &t, &err), OODA_ECONFLICT);
	assert_non_null(strstr(err.data, "fenced: term 2 is older than the lease's term 3"));
	assert_int_equal(store_fence_refusals(s), 1);
	/* a follower's thread writes nothing either */
	lead_set(0);
	assert_int_equal(lead_thread_enter(), -1);
	buf_reset(&err);
	assert_int_equal(store_write(s, insert_tx, &t, &err), OODA_ECONFLICT);
	assert_int_equal(store_fence_refusals(s), 2);
	/* the leader of term 3 writes */
	lead_set(3);
	lead_thread_enter();
	assert_int_equal(store_write(s, insert_tx, &t, NULL), 0);
	/* the stale write left nothing behind: one token of that id */
	assert_int_equal(store_write(s, insert_tx, &t, NULL), OODA_ECONFLICT);
	lead_set(1);
	lead_thread_leave(); /* back to the default: not checked */
	buf_release(&err);

	struct node_row n = { "b", "127.0.0.1:1", "0", "leader", 3, 1, 2 };
	assert_int_equal(store_write(s, node_tx, &n, NULL), 0);
	n.node_id = "a";
	n.role = "follower";
	assert_int_equal(store_write(s, node_tx, &n, NULL), 0);
	n.role = "follower"; /* a replaced, not added */
	assert_int_equal(store_write(s, node_tx, &n, NULL), 0);
	int leaders = 0;
	assert_int_equal(store_node_list(s, count_node, &leaders), 0);
	assert_int_equal(leaders, 1);
	store_close(s);
	rmrf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_audit_and_checkpoints),
		cmocka_unit_test(test_pattern_snapshots),
		cmocka_unit_test(test_data_version_moves_on_another_writer),
		cmocka_unit_test(test_rollouts),
		cmocka_unit_test(test_incidents),
		cmocka_unit_test(test_wait_change),
		cmocka_unit_test(test_pg_marker_parse),
		cmocka_unit_test(test_lease_and_fence),
		cmocka_unit_test(test_live_deltas),
		cmocka_unit_test(test_stream_events),
		cmocka_unit_test(test_fresh_announce),
		cmocka_unit_test(test_pattern_lines),
		cmocka_unit_test(test_generations),
		cmocka_unit_test(test_gen_read_beside_a_long_read),
		cmocka_unit_test(test_shared_between_nodes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
