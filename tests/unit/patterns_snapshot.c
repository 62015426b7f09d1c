/*
 * Unit tests for snapshots of the log template miner (patterns_save and
 * patterns_load): a miner fed the Loghub samples survives a save and load
 * with the same patterns, ids, counts over time and examples, keeps giving
 * the same ids to the same lines afterwards, resolves merged-away ids, and
 * a loader that meets truncated, corrupt or absurd bytes refuses them with
 * a reason instead of crashing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <zlib.h>

#include "core/buf.h"
#include "core/error.h"
#include "detect/patterns.h"

static const char *const loghub[] = { "HDFS", "Spark", "Zookeeper", "BGL", "HPC", "Thunderbird", "Mac", "OpenStack" };

struct lines {
	char **v;
	size_t *len;
	size_t n, cap;
};

static void lines_release(struct lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	free(l->len);
}

/* Appends the lines of one Loghub sample; false if the shared data set is absent. */
static bool read_sample(const char *name, struct lines *l)
{
	const char *dir = getenv("OODA_SHARED_DATA");
	char path[512];
	snprintf(path, sizeof(path), "%s/loghub/%s/%s_2k.log", dir ? dir : OODA_SHARED_DATA, name, name);
	FILE *in = fopen(path, "r");
	if (!in)
		return false;
	char *line = NULL;
	size_t cap = 0;
	ssize_t got;
	while ((got = getline(&line, &cap, in)) >= 0) {
		size_t len = (size_t)got;
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			len--;
		if (l->n == l->cap) {
			l->cap = l->cap ? 2 * l->cap : 4096;
			l->v = realloc(l->v, l->cap * sizeof(*l->v));
			l->len = realloc(l->len, l->cap * sizeof(*l->len));
		}
		l->v[l->n] = strndup(line, len);
		l->len[l->n++] = len;
	}
	free(line);
	fclose(in);
	return true;
}

static struct patterns *make(const struct patterns_config *c)
{
	struct patterns *p = NULL;
	assert_int_equal(patterns_create(c, &p, NULL), 0);
	return p;
}

static struct patterns *load_ok(const struct patterns_config *c, const struct buf *snap)
{
	struct patterns *p = NULL;
	struct buf err = BUF_INIT;
	int rc = patterns_load(c, snap->data, snap->len, &p, &err);
	if (rc)
		fail_msg("load failed: %s", err.data);
	buf_release(&err);
	return p;
}

/* Everything patterns_foreach shows, as text, in its order. */
static int dump_one(const struct pattern_info *pi, void *arg)
{
	struct buf *b = arg;
	buf_addf(b, "%016llx|%s|%s|%lld|%lld|%llu|%lld|%lld|", (unsigned long long)pi->id, pi->template_, pi->example,
		 (long long)pi->first_seen_ns, (long long)pi->last_seen_ns, (unsigned long long)pi->count,
		 (long long)pi->bucket0, (long long)pi->bucket_ns);
	for (uint32_t i = 0; i < pi->n_history; i++)
		buf_addf(b, "%u,", pi->history[i]);
	buf_addch(b, '\n');
	return 0;
}

static void dump(const struct patterns *p, struct buf *out)
{
	buf_reset(out);
	patterns_foreach(p, dump_one, out);
}

static void feed(struct patterns *p, const struct lines *l, int64_t t0, int64_t step, uint64_t *ids)
{
	for (size_t i = 0; i < l->n; i++) {
		uint64_t id = patterns_add(p, l->v[i], l->len[i], t0 + (int64_t)i * step, NULL);
		if (ids)
			ids[i] = id;
	}
}

/*
 * All eight Loghub samples into one small-windowed miner; after a save and
 * load the patterns look the same, the same lines get the same ids in
 * both, and the two miners stay byte-for-byte equal.
 */
static void test_loghub_round_trip(void **state)
{
	struct lines l = { 0 };
	for (size_t i = 0; i < sizeof(loghub) / sizeof(loghub[0]); i++)
		if (!read_sample(loghub[i], &l)) {
			lines_release(&l);
			skip();
			return;
		}
	/* 16,000 lines over about 27 minutes: counts spread over many buckets */
	struct patterns_config cfg = { .history_buckets = 60, .bucket_ns = INT64_C(60000000000) };
	const int64_t t0 = INT64_C(1800000000000000000), step = 100000000;
	struct patterns *a = make(&cfg);
	feed(a, &l, t0, step, NULL);
	assert_true(patterns_count(a) > 500);

	struct buf snap = BUF_INIT, again = BUF_INIT, da = BUF_INIT, db = BUF_INIT;
	patterns_save(a, &snap);
	struct patterns *b = load_ok(&cfg, &snap);
	assert_int_equal(patterns_count(b), patterns_count(a));
	dump(a, &da);
	dump(b, &db);
	assert_string_equal(da.data, db.data);
	patterns_save(b, &again);
	assert_int_equal(again.len, snap.len);
	assert_memory_equal(again.data, snap.data, snap.len);

	/* the same lines again, later: the same ids from the saved and the loaded miner */
	uint64_t *ia = calloc(l.n, sizeof(*ia)), *ib = calloc(l.n, sizeof(*ib));
	int64_t t1 = t0 + (int64_t)l.n * step;
	feed(a, &l, t1, step, ia);
	feed(b, &l, t1, step, ib);
	for (size_t i = 0; i < l.n; i++)
		if (ia[i] != ib[i])
			fail_msg("line %zu \"%s\": id %016llx before the save, %016llx after", i, l.v[i],
				 (unsigned long long)ia[i], (unsigned long long)ib[i]);
	dump(a, &da);
	dump(b, &db);
	assert_string_equal(da.data, db.data);
	buf_reset(&snap);
	buf_reset(&again);
	patterns_save(a, &snap);
	patterns_save(b, &again);
	assert_int_equal(again.len, snap.len);
	assert_memory_equal(again.data, snap.data, snap.len);

	/* counts continued: every line was counted twice */
	struct pattern_info info;
	assert_int_equal(patterns_get(b, ib[0], &info), 0);
	assert_true(info.count >= 2);
	assert_true(info.first_seen_ns < t1);
	free(ia);
	free(ib);
	patterns_destroy(a);
	patterns_destroy(b);
	buf_release(&snap);
	buf_release(&again);
	buf_release(&da);
	buf_release(&db);
	lines_release(&l);
}

/* Five workers merge into one pattern; their old ids still resolve after a load. */
static void test_aliases_resolve(void **state)
{
	struct patterns *p = make(NULL);
	static const char *const names[] = { "alpha", "beta", "gamma", "delta", "epsilon" };
	uint64_t ids[5];
	for (int i = 0; i < 5; i++) {
		char line[64];
		snprintf(line, sizeof(line), "worker %s finished the nightly job", names[i]);
		ids[i] = patterns_add(p, line, strlen(line), 10 + i, NULL);
	}
	assert_int_equal(patterns_count(p), 1);
	struct buf snap = BUF_INIT;
	patterns_save(p, &snap);
	struct patterns *q = load_ok(NULL, &snap);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(patterns_resolve(q, ids[i]), ids[0]);
		assert_string_equal(patterns_template(q, ids[i]), "worker <*> finished the nightly job");
		struct pattern_info info;
		assert_int_equal(patterns_get(q, ids[i], &info), 0);
		assert_int_equal(info.id, ids[0]);
		assert_int_equal(info.count, 5);
		assert_int_equal(info.first_seen_ns, 10);
		assert_int_equal(info.last_seen_ns, 14);
		assert_string_equal(info.example, "worker alpha finished the nightly job");
	}
	/* a new worker joins the merged pattern */
	assert_int_equal(patterns_add(q, "worker zeta finished the nightly job", 36, 20, NULL), ids[0]);
	patterns_destroy(p);
	patterns_destroy(q);
	buf_release(&snap);
}

/*
 * Siblings seen before a save count towards a merge after it: four names
 * before, the fifth after, and the five merge as they would have.
 */
static void test_merge_continues(void **state)
{
	struct patterns *p = make(NULL);
	static const char *const names[] = { "alpha", "beta", "gamma", "delta", "epsilon" };
	uint64_t ids[5];
	char line[64];
	for (int i = 0; i < 4; i++) {
		snprintf(line, sizeof(line), "replica %s lost its lease early", names[i]);
		ids[i] = patterns_add(p, line, strlen(line), i, NULL);
	}
	assert_int_equal(patterns_count(p), 4);
	struct buf snap = BUF_INIT;
	patterns_save(p, &snap);
	struct patterns *q = load_ok(NULL, &snap);
	snprintf(line, sizeof(line), "replica %s lost its lease early", names[4]);
	ids[4] = patterns_add(q, line, strlen(line), 4, NULL);
	assert_int_equal(patterns_count(q), 1);
	for (int i = 0; i < 5; i++)
		assert_int_equal(patterns_resolve(q, ids[i]), ids[0]);
	assert_string_equal(patterns_template(q, ids[1]), "replica <*> lost its lease early");
	patterns_destroy(p);
	patterns_destroy(q);
	buf_release(&snap);
}

/* Counts over time come back as they were, and re-bucketed into another width. */
static void test_history_preserved(void **state)
{
	struct patterns_config cfg = { .history_buckets = 4, .bucket_ns = 100 };
	struct patterns *p = make(&cfg);
	const char *l = "disk latency high on sda";
	static const int64_t times[] = { 0, 50, 120, 130, 250, 260, 270, 390 };
	uint64_t id = 0;
	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++)
		id = patterns_add(p, l, strlen(l), times[i], NULL);
	struct buf snap = BUF_INIT;
	patterns_save(p, &snap);

	struct patterns *q = load_ok(&cfg, &snap);
	struct pattern_info info;
	assert_int_equal(patterns_get(q, id, &info), 0);
	assert_int_equal(info.bucket0, 0);
	assert_int_equal(info.n_history, 4);
	static const uint32_t want[] = { 2, 2, 3, 1 };
	for (int i = 0; i < 4; i++)
		assert_int_equal(info.history[i], want[i]);
	assert_int_equal(info.count, 8);
	assert_int_equal(info.last_seen_ns, 390);
	/* the window keeps sliding from where it was */
	patterns_add(q, l, strlen(l), 420, NULL);
	assert_int_equal(patterns_get(q, id, &info), 0);
	assert_int_equal(info.bucket0, 1);
	assert_int_equal(info.history[0], 2);
	assert_int_equal(info.history[3], 1);
	patterns_destroy(q);

	/* buckets twice as wide and a longer window: (2+2), (3+1) */
	struct patterns_config wide = { .history_buckets = 8, .bucket_ns = 200 };
	q = load_ok(&wide, &snap);
	assert_int_equal(patterns_get(q, id, &info), 0);
	assert_int_equal(info.bucket0, 1 - 8 + 1);
	assert_int_equal(info.history[6], 4);
	assert_int_equal(info.history[7], 4);
	patterns_destroy(q);

	/* a shorter window keeps the newest buckets */
	struct patterns_config narrow = { .history_buckets = 2, .bucket_ns = 100 };
	q = load_ok(&narrow, &snap);
	assert_int_equal(patterns_get(q, id, &info), 0);
	assert_int_equal(info.history[0], 3);
	assert_int_equal(info.history[1], 1);
	patterns_destroy(q);
	patterns_destroy(p);
	buf_release(&snap);
}

/* A miner smaller than the snapshot keeps its most recently seen patterns. */
static void test_fewer_slots(void **state)
{
	struct patterns *p = make(NULL);
	uint64_t ids[10];
	for (int i = 0; i < 10; i++) {
		char line[64];
		snprintf(line, sizeof(line), "job %c%c step %c%c done", 'a' + i, 'k' + i, 'm' + i, 'c' + i);
		ids[i] = patterns_add(p, line, strlen(line), i, NULL);
	}
	struct buf snap = BUF_INIT;
	patterns_save(p, &snap);
	struct patterns_config small = { .max_patterns = 3 };
	struct patterns *q = load_ok(&small, &snap);
	assert_int_equal(patterns_count(q), 3);
	for (int i = 0; i < 10; i++)
		assert_int_equal(patterns_resolve(q, ids[i]) != 0, i >= 7);
	/* and evicts as usual after */
	patterns_add(q, "a line of another kind", 22, 11, NULL);
	assert_int_equal(patterns_count(q), 3);
	assert_int_equal(patterns_resolve(q, ids[7]), 0);
	patterns_destroy(p);
	patterns_destroy(q);
	buf_release(&snap);
}

static int expect_refused(const void *data, size_t len, const char *want)
{
	struct patterns *q = (struct patterns *)(uintptr_t)0x1;
	struct buf err = BUF_INIT;
	int rc = patterns_load(NULL, data, len, &q, &err);
	if (!rc)
		fail_msg("%zu bytes loaded, expected a refusal (%s)", len, want ? want : "any");
	assert_ptr_equal(q, (struct patterns *)(uintptr_t)0x1);
	assert_true(err.len > 0);
	if (want && !strstr(err.data, want))
		fail_msg("error \"%s\" does not mention \"%s\"", err.data, want);
	buf_release(&err);
	return rc;
}

static struct buf small_snapshot(void)
{
	struct patterns *p = make(NULL);
	static const char *const names[] = { "alpha", "beta", "gamma", "delta", "epsilon" };
	for (int i = 0; i < 5; i++) {
		char line[64];
		snprintf(line, sizeof(line), "worker %s finished job %d", names[i], i);
		patterns_add(p, line, strlen(line), i * 1000, NULL);
	}
	patterns_add(p, "connection reset by peer", 24, 77, NULL);
	struct buf snap = BUF_INIT;
	patterns_save(p, &snap);
	patterns_destroy(p);
	return snap;
}

static void test_truncated_and_flipped(void **state)
{
	struct buf snap = small_snapshot();
	for (size_t n = 0; n < snap.len; n++)
		expect_refused(snap.data, n, NULL);
	/* one byte too many */
	struct buf longer = BUF_INIT;
	buf_add(&longer, snap.data, snap.len);
	buf_addch(&longer, 0);
	expect_refused(longer.data, longer.len, "trailing bytes");
	buf_release(&longer);

	char *copy = malloc(snap.len);
	memcpy(copy, snap.data, snap.len);
	copy[4] = 2; /* version */
	assert_int_equal(expect_refused(copy, snap.len, "version 2"), OODA_ESCHEMA);
	memcpy(copy, snap.data, snap.len);
	copy[0] = 'X';
	assert_int_equal(expect_refused(copy, snap.len, "magic"), OODA_ECORRUPT);
	/* any flipped bit in the body or checksum */
	for (size_t i = 12; i < snap.len; i++) {
		memcpy(copy, snap.data, snap.len);
		copy[i] ^= 0x10;
		assert_int_equal(expect_refused(copy, snap.len, NULL), OODA_ECORRUPT);
	}
	free(copy);
	buf_release(&snap);
}

static void wrap(const struct buf *body, struct buf *out);

/* The body cut at every length, with a header and checksum that agree: the reader itself refuses. */
static void test_truncated_body(void **state)
{
	struct buf snap = small_snapshot(), body = BUF_INIT, cut = BUF_INIT;
	buf_add(&body, snap.data + 12, snap.len - 16);
	for (size_t n = 0; n < body.len; n++) {
		struct buf part = BUF_INIT;
		buf_add(&part, body.data, n);
		wrap(&part, &cut);
		expect_refused(cut.data, cut.len, NULL);
		buf_release(&part);
	}
	wrap(&body, &cut);
	assert_int_equal(cut.len, snap.len);
	assert_memory_equal(cut.data, snap.data, snap.len);
	struct patterns *p = load_ok(NULL, &cut);
	assert_int_equal(patterns_count(p), 2);
	patterns_destroy(p);
	buf_release(&cut);
	buf_release(&body);
	buf_release(&snap);
}

/* ---- hand-built bodies, with a valid header and checksum ------------------ */

static void put_v(struct buf *b, uint64_t v)
{
	while (v >= 0x80) {
		buf_addch(b, (char)(v | 0x80));
		v >>= 7;
	}
	buf_addch(b, (char)v);
}

static void put_u64(struct buf *b, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		buf_addch(b, (char)(v >> (8 * i)));
}

static void put_le32(struct buf *b, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		buf_addch(b, (char)(v >> (8 * i)));
}

static void wrap(const struct buf *body, struct buf *out)
{
	buf_reset(out);
	buf_add(out, "OPAT\x01\x00\x00\x00", 8);
	put_le32(out, (uint32_t)body->len);
	buf_add(out, body->data, body->len);
	put_le32(out, (uint32_t)crc32(0, (const Bytef *)out->data, (uInt)out->len));
}

/* A pattern "a <*>" with the given id, count and aliases, one bucket of history. */
static void put_pattern(struct buf *b, uint64_t id, uint64_t count, uint64_t n_alias, const uint64_t *alias)
{
	put_u64(b, id);
	put_u64(b, 42); /* leaf key */
	put_v(b, 0);
	put_v(b, 2 * 5);  /* first seen 5 */
	put_v(b, 2 * 9);  /* last seen 9 */
	put_v(b, count);
	put_v(b, 2);
	put_v(b, 1 << 1);
	buf_add(b, "a", 1);
	put_v(b, 3 << 1 | 1);
	buf_add(b, "<*>", 3);
	put_v(b, 3);
	buf_add(b, "a 1", 3);
	put_v(b, 0); /* history ends at bucket 0 */
	put_v(b, 1);
	put_v(b, 59);
	put_v(b, count);
	put_v(b, n_alias);
	for (uint64_t i = 0; i < n_alias; i++)
		put_u64(b, alias[i]);
}

static void head(struct buf *b, uint64_t n_pat, uint64_t n_skel)
{
	buf_reset(b);
	put_v(b, 60000000000ull);
	put_v(b, 60);
	put_v(b, n_pat);
	put_v(b, n_skel);
}

static void test_absurd_counts(void **state)
{
	struct buf body = BUF_INIT, snap = BUF_INIT;
	uint64_t al[65];
	for (int i = 0; i < 65; i++)
		al[i] = 1000 + (uint64_t)i;

	/* the hand-built form loads: the reference for the cases below */
	head(&body, 1, 0);
	put_pattern(&body, 7, 3, 1, al);
	wrap(&body, &snap);
	struct patterns *p = load_ok(NULL, &snap);
	assert_string_equal(patterns_template(p, 1000), "a <*>");
	patterns_destroy(p);

	static const struct {
		uint64_t n_pat, id, count, n_alias;
		const char *want;
	} cases[] = {
		{ UINT64_C(1) << 40, 7, 3, 0, "pattern count" },
		{ 2, 7, 3, 0, "pattern count 2" }, /* claims two, holds one */
		{ 1, 0, 3, 0, "id 0" },
		{ 1, 7, 0, 0, "count of 0" },
		{ 1, 7, 3, 65, "alias count 65" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		head(&body, cases[i].n_pat, 0);
		put_pattern(&body, cases[i].id, cases[i].count, cases[i].n_alias, al);
		wrap(&body, &snap);
		expect_refused(snap.data, snap.len, cases[i].want);
	}

	/* an id given twice (as a pattern and as another's alias) */
	head(&body, 2, 0);
	put_pattern(&body, 7, 3, 0, al);
	uint64_t seven = 7;
	put_pattern(&body, 8, 3, 1, &seven);
	wrap(&body, &snap);
	expect_refused(snap.data, snap.len, "appears twice");

	/* tokens beyond max_tokens, a token longer than the rest, a control byte */
	head(&body, 1, 0);
	put_u64(&body, 7);
	put_u64(&body, 42);
	put_v(&body, 0);
	put_v(&body, 0);
	put_v(&body, 0);
	put_v(&body, 1);
	put_v(&body, 100000);
	wrap(&body, &snap);
	expect_refused(snap.data, snap.len, "token count 100000");
	buf_setlen(&body, body.len - 3);
	put_v(&body, 1);
	put_v(&body, UINT64_C(1) << 40);
	wrap(&body, &snap);
	expect_refused(snap.data, snap.len, "token length");
	buf_setlen(&body, body.len - 6);
	put_v(&body, 2 << 1);
	buf_add(&body, "a\n", 2);
	wrap(&body, &snap);
	expect_refused(snap.data, snap.len, "control byte");

	/* skeletons: more members than the 8 a merge needs at most, a member twice, an index out of range */
	static const struct {
		uint64_t n;
		uint64_t members[8];
		const char *want;
	} skel[] = {
		{ 8, { 0, 0, 0, 0, 0, 0, 0, 0 }, "member count 8" }, /* a skeleton holds at most 7 */
		{ 2, { 0, 0 }, "member twice" },
		{ 1, { 3 }, "member 3" },
	};
	for (size_t i = 0; i < sizeof(skel) / sizeof(skel[0]); i++) {
		head(&body, 1, 1);
		put_pattern(&body, 7, 3, 0, al);
		put_u64(&body, 99);
		put_v(&body, skel[i].n);
		for (uint64_t j = 0; j < skel[i].n; j++)
			put_v(&body, skel[i].members[j]);
		wrap(&body, &snap);
		expect_refused(snap.data, snap.len, skel[i].want);
	}
	/* history window and width */
	buf_reset(&body);
	put_v(&body, 0);
	put_v(&body, 60);
	put_v(&body, 0);
	put_v(&body, 0);
	wrap(&body, &snap);
	expect_refused(snap.data, snap.len, "must not be 0");
	buf_reset(&body);
	put_v(&body, 1);
	put_v(&body, 1u << 20);
	wrap(&body, &snap);
	expect_refused(snap.data, snap.len, "history buckets");
	/* a varint that never ends */
	buf_reset(&body);
	for (int i = 0; i < 11; i++)
		buf_addch(&body, (char)0xff);
	wrap(&body, &snap);
	expect_refused(snap.data, snap.len, "varint");
	buf_release(&body);
	buf_release(&snap);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loghub_round_trip),
		cmocka_unit_test(test_aliases_resolve),
		cmocka_unit_test(test_merge_continues),
		cmocka_unit_test(test_history_preserved),
		cmocka_unit_test(test_fewer_slots),
		cmocka_unit_test(test_truncated_and_flipped),
		cmocka_unit_test(test_truncated_body),
		cmocka_unit_test(test_absurd_counts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
