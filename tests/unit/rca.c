/*
 * Unit tests for the root-cause ranking engine (src/respond/rca.c) and its
 * CSV door (src/respond/rca_csv.c): small synthetic incidents where a user
 * knows the answer — one anomalous node among quiet ones, a fault that
 * propagates from a callee to its callers, a deploy just before onset —
 * plus malformed input, determinism and the loader's FILE:LINE errors.
 * Series come from a small deterministic PRNG; nothing sleeps.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <math.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/error.h"
#include "respond/rca.h"
#include "respond/rca_csv.h"

#define N 120
#define T0 INT64_C(1700000000)

static uint64_t rng_state;

static double gauss(void)
{
	double s = 0;
	for (int i = 0; i < 12; i++) {
		rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
		s += (double)(rng_state >> 11) / 9007199254740992.0;
	}
	return s - 6.0;
}

/* A little world of up to 8 series of N samples each, one per second. */
struct world {
	int64_t t[N];
	double v[8][N];
	struct rca_series s[8];
	size_t n;
};

/* Adds node/metric: level + noise, plus step from sample `at` on (at < 0: none). */
static void add(struct world *w, const char *node, const char *metric, double level, double noise, int at, double step)
{
	for (int i = 0; i < N; i++) {
		w->t[i] = T0 + i;
		w->v[w->n][i] = level + noise * gauss() + (at >= 0 && i >= at ? step : 0);
	}
	w->s[w->n] = (struct rca_series){ node, metric, w->t, w->v[w->n], N };
	w->n++;
}

static size_t rank_of(const struct rca_suspect *s, size_t n, const char *node)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(s[i].node, node))
			return i + 1;
	return 0;
}

static json_t *evidence_of(const struct rca_suspect *s, const char *kind)
{
	size_t i;
	json_t *e;
	json_array_foreach(s->evidence, i, e)
		if (!strcmp(json_string_value(json_object_get(e, "kind")), kind))
			return e;
	return NULL;
}

static void single_anomalous_node_ranks_first(void **state)
{
	(void)state;
	rng_state = 1;
	struct world w = { 0 };
	add(&w, "carts", "cpu", 20, 1, -1, 0);
	add(&w, "orders", "cpu", 30, 1, 70, 40); /* the culprit */
	add(&w, "orders", "mem", 1e8, 1e5, -1, 0);
	add(&w, "user", "cpu", 10, 0.5, -1, 0);
	add(&w, "user", "latency_p90", 0.2, 0.01, -1, 0);
	struct rca_input in = { .series = w.s, .n_series = w.n }; /* onset estimated, no normal */
	struct rca_suspect *s;
	size_t n;
	struct buf err = BUF_INIT;
	assert_int_equal(rca_rank(&in, &s, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(s[0].node, "orders");
	assert_string_equal(s[0].kind, "service");
	assert_true(s[0].score > 3 * s[1].score);
	assert_true(s[0].confidence > 0.8 && s[0].confidence <= 1.0);
	for (size_t i = 0; i < n; i++)
		assert_true(s[i].confidence >= 0 && s[i].confidence <= 1);
	json_t *m = evidence_of(&s[0], "metric");
	assert_non_null(m);
	assert_string_equal(json_string_value(json_object_get(m, "metric")), "cpu");
	assert_true(json_number_value(json_object_get(m, "observed")) > 60);
	assert_int_equal(rca_onset(&in), T0 + 70);
	/* the same incident with a separate normal period ranks the same */
	struct world nw = { 0 };
	add(&nw, "carts", "cpu", 20, 1, -1, 0);
	add(&nw, "orders", "cpu", 30, 1, -1, 0);
	add(&nw, "user", "cpu", 10, 0.5, -1, 0);
	in.normal = nw.s;
	in.n_normal = nw.n;
	rca_suspects_free(s, n);
	assert_int_equal(rca_rank(&in, &s, &n, &err), 0);
	assert_string_equal(s[0].node, "orders");
	rca_suspects_free(s, n);
	buf_release(&err);
}

/*
 * db's latency rises first; mid and front, which call it, follow a few
 * seconds later with larger relative jumps. Without the graph the loudest
 * victim wins; with it the callee that started first does.
 */
static void callee_that_started_first_ranks_above_callers(void **state)
{
	(void)state;
	rng_state = 7;
	struct world w = { 0 };
	add(&w, "db", "latency_p90", 10, 0.5, 60, 20);
	add(&w, "mid", "latency_p90", 5, 0.25, 63, 25);
	add(&w, "front", "latency_p90", 4, 0.2, 66, 30);
	add(&w, "other", "latency_p90", 8, 0.4, -1, 0);
	struct rca_edge edges[] = { { "front", "mid" }, { "mid", "db" }, { "front", "other" } };
	struct rca_input in = { .series = w.s, .n_series = w.n, .onset_s = T0 + 55 };
	struct rca_suspect *s;
	size_t n;
	struct buf err = BUF_INIT;
	assert_int_equal(rca_rank(&in, &s, &n, &err), 0);
	assert_string_equal(s[0].node, "front"); /* no graph: the biggest jump */
	rca_suspects_free(s, n);
	in.edges = edges;
	in.n_edges = 3;
	assert_int_equal(rca_rank(&in, &s, &n, &err), 0);
	assert_string_equal(s[0].node, "db");
	assert_true(rank_of(s, n, "db") < rank_of(s, n, "mid"));
	assert_true(rank_of(s, n, "db") < rank_of(s, n, "front"));
	json_t *first = evidence_of(&s[0], "onset_order");
	assert_non_null(first);
	assert_string_equal(json_string_value(json_object_get(first, "role")), "first");
	json_t *victim = evidence_of(&s[rank_of(s, n, "mid") - 1], "onset_order");
	assert_non_null(victim);
	assert_string_equal(json_string_value(json_object_get(victim, "explained_by")), "db");
	rca_suspects_free(s, n);
	/* the symptom seen at mid: "other" is off its path */
	in.target = "mid";
	assert_int_equal(rca_rank(&in, &s, &n, &err), 0);
	assert_string_equal(s[0].node, "db");
	assert_non_null(evidence_of(&s[rank_of(s, n, "other") - 1], "off_path"));
	rca_suspects_free(s, n);
	buf_release(&err);
}

/*
 * db's own metrics stay quiet, but calls to it start failing (the edge
 * series) and front's error ratio follows: the callee is the suspect, with
 * its callers' errors as evidence, and front is explained by it.
 */
static void callers_errors_point_at_the_callee(void **state)
{
	(void)state;
	rng_state = 21;
	struct world w = { 0 };
	add(&w, "front", "error_ratio", 0.01, 0.001, 62, 0.3);
	add(&w, "front->db", "error_ratio", 0.01, 0.001, 60, 0.3);
	add(&w, "db", "cpu", 40, 1, -1, 0);
	add(&w, "cache", "cpu", 20, 1, -1, 0);
	struct rca_edge edges[] = { { "front", "db" }, { "front", "cache" } };
	struct rca_input in = { .series = w.s, .n_series = w.n, .edges = edges, .n_edges = 2, .onset_s = T0 + 55 };
	struct rca_suspect *s;
	size_t n;
	struct buf err = BUF_INIT;
	assert_int_equal(rca_rank(&in, &s, &n, &err), 0);
	assert_string_equal(s[0].node, "db");
	json_t *e = evidence_of(&s[0], "callers_errors");
	assert_non_null(e);
	assert_string_equal(json_string_value(json_object_get(e, "edge")), "front->db");
	assert_true(rank_of(s, n, "front") > 1 && rank_of(s, n, "front->db") > 1);
	assert_string_equal(s[rank_of(s, n, "front->db") - 1].kind, "edge");
	rca_suspects_free(s, n);
	buf_release(&err);
}

/* Two nodes step alike; a deploy on one a minute before onset decides it. */
static void change_before_onset_raises_its_node(void **state)
{
	(void)state;
	rng_state = 3;
	struct world w = { 0 };
	add(&w, "alpha", "error_ratio", 0.01, 0.001, 80, 0.2);
	add(&w, "beta", "error_ratio", 0.01, 0.001, 80, 0.2);
	add(&w, "gamma", "error_ratio", 0.01, 0.001, -1, 0);
	struct rca_change ch[] = {
		{ "beta", T0 + 20, "deploy", "d-42", "beta v1.3" },
		{ "gamma", T0 + 80 - 4000, "deploy", "d-1", NULL }, /* long before: no effect */
	};
	struct rca_input in = { .series = w.s, .n_series = w.n, .onset_s = T0 + 80 };
	struct rca_suspect *s;
	size_t n;
	struct buf err = BUF_INIT;
	assert_int_equal(rca_rank(&in, &s, &n, &err), 0);
	double beta_before = s[rank_of(s, n, "beta") - 1].score;
	rca_suspects_free(s, n);
	in.changes = ch;
	in.n_changes = 2;
	assert_int_equal(rca_rank(&in, &s, &n, &err), 0);
	assert_string_equal(s[0].node, "beta");
	assert_true(s[0].score > beta_before);
	json_t *e = evidence_of(&s[0], "change");
	assert_non_null(e);
	assert_string_equal(json_string_value(json_object_get(e, "ref")), "d-42");
	assert_int_equal(json_integer_value(json_object_get(e, "before_onset_s")), 60);
	/* the deploy is a suspect of its own, tied to its node; the old one is not */
	size_t r = rank_of(s, n, "beta@d-42");
	assert_true(r > 0);
	assert_string_equal(s[r - 1].kind, "change");
	assert_int_equal(rank_of(s, n, "gamma@d-1"), 0);
	assert_null(evidence_of(&s[rank_of(s, n, "gamma") - 1], "change"));
	rca_suspects_free(s, n);
	buf_release(&err);
}

static void malformed_input_is_einval(void **state)
{
	(void)state;
	struct rca_suspect *s;
	size_t n;
	struct buf err = BUF_INIT;
	int64_t t[] = { 10, 30, 20 };
	double v[] = { 1, 2, 3 };
	struct rca_series bad[] = {
		{ "a", "cpu", t, v, 3 },     /* unsorted */
		{ "a", "cpu", t, v, 0 },     /* no samples anywhere */
		{ NULL, "cpu", t, v, 2 },    /* no node */
		{ "a", "", t, v, 2 },        /* no metric */
	};
	for (size_t i = 0; i < 4; i++) {
		struct rca_input in = { .series = &bad[i], .n_series = 1 };
		buf_reset(&err);
		assert_int_equal(rca_rank(&in, &s, &n, &err), OODA_EINVAL);
		assert_true(err.len > 0);
		assert_null(s);
		assert_int_equal(n, 0);
	}
	struct rca_input none = { 0 };
	assert_int_equal(rca_rank(&none, &s, &n, &err), OODA_EINVAL);
	struct rca_series ok = { "a", "cpu", t, v, 2 };
	struct rca_edge e = { "a", NULL };
	struct rca_input in = { .series = &ok, .n_series = 1, .edges = &e, .n_edges = 1, .onset_s = 20 };
	assert_int_equal(rca_rank(&in, &s, &n, &err), OODA_EINVAL);
	in.n_edges = 0;
	in.scale_floor = -1;
	assert_int_equal(rca_rank(&in, &s, &n, &err), OODA_EINVAL);
	in.scale_floor = 0;
	in.resolution = NAN;
	assert_int_equal(rca_rank(&in, &s, &n, &err), OODA_EINVAL);
	in.resolution = 0;
	assert_int_equal(rca_rank(&in, &s, &n, &err), 0);
	rca_suspects_free(s, n);
	buf_release(&err);
}

static char *dump(const struct rca_suspect *s, size_t n)
{
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < n; i++) {
		char *e = json_dumps(s[i].evidence, JSON_COMPACT | JSON_SORT_KEYS);
		buf_addf(&b, "%s %s %.17g %.17g %s\n", s[i].node, s[i].kind, s[i].score, s[i].confidence, e);
		free(e);
	}
	return buf_detach(&b, NULL);
}

/* Same input, same answer — also when the series arrive in another order, and on ties. */
static void ranking_is_deterministic(void **state)
{
	(void)state;
	rng_state = 11;
	struct world w = { 0 };
	add(&w, "a", "cpu", 10, 1, 60, 10);
	add(&w, "b", "cpu", 10, 0, 60, 10); /* b and c tie exactly */
	add(&w, "c", "cpu", 10, 0, 60, 10);
	add(&w, "d", "mem", 100, 1, -1, 0);
	struct rca_edge edges[] = { { "a", "b" }, { "b", "c" } };
	struct rca_input in = { .series = w.s, .n_series = w.n, .edges = edges, .n_edges = 2 };
	struct rca_suspect *s1, *s2;
	size_t n1, n2;
	struct buf err = BUF_INIT;
	assert_int_equal(rca_rank(&in, &s1, &n1, &err), 0);
	struct rca_series rev[4] = { w.s[3], w.s[2], w.s[1], w.s[0] };
	in.series = rev;
	assert_int_equal(rca_rank(&in, &s2, &n2, &err), 0);
	char *d1 = dump(s1, n1), *d2 = dump(s2, n2);
	assert_string_equal(d1, d2);
	assert_true(rank_of(s1, n1, "b") < rank_of(s1, n1, "c") || s1[rank_of(s1, n1, "b") - 1].score !=
									    s1[rank_of(s1, n1, "c") - 1].score);
	free(d1);
	free(d2);
	rca_suspects_free(s1, n1);
	rca_suspects_free(s2, n2);
	buf_release(&err);
}

static int load(const char *text, bool edges, struct rca_csv *d, struct buf *err)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int rc = edges ? rca_csv_load_edges(d, f, "x.csv", err) : rca_csv_load_series(d, f, "x.csv", err);
	fclose(f);
	return rc;
}

static void csv_loads_long_format_in_any_order(void **state)
{
	(void)state;
	struct rca_csv d;
	struct buf err = BUF_INIT;
	assert_int_equal(load("timestamp,node,metric,value\n"
			      "3,b,cpu,7\n1,a,cpu,1.5\r\n\n2,a,cpu,\n1,b,cpu,5\n 2 , a , mem , 9 \n3,a,cpu,nan\n",
			      false, &d, &err),
			 0);
	assert_int_equal(d.n_series, 3);
	const struct rca_series *acpu = NULL;
	for (size_t i = 0; i < d.n_series; i++)
		if (!strcmp(d.series[i].node, "a") && !strcmp(d.series[i].metric, "cpu"))
			acpu = &d.series[i];
	assert_non_null(acpu);
	assert_int_equal(acpu->n, 3);
	assert_int_equal(acpu->t_s[0], 1);
	assert_int_equal(acpu->t_s[2], 3);
	assert_true(acpu->v[0] == 1.5 && isnan(acpu->v[1]));
	rca_csv_release(&d);
	static const char good[] = "timestamp,node,kind,ref\n1700000000,carts,deploy,v2\n", bad[] = "1700000000,carts,deploy\n";
	FILE *f = fmemopen((void *)good, strlen(good), "r");
	assert_int_equal(rca_csv_load_changes(&d, f, "c.csv", &err), 0);
	fclose(f);
	assert_int_equal(d.n_changes, 1);
	assert_true(d.changes[0].at_s == 1700000000 && !strcmp(d.changes[0].ref, "v2"));
	rca_csv_release(&d);
	f = fmemopen((void *)bad, strlen(bad), "r");
	assert_int_equal(rca_csv_load_changes(&d, f, "c.csv", &err), OODA_EPARSE);
	fclose(f);
	assert_non_null(strstr(err.data, "c.csv:1:"));
	assert_int_equal(load("caller,callee\nfront,carts\nfront , orders\n", true, &d, &err), 0);
	assert_int_equal(d.n_edges, 2);
	assert_string_equal(d.edges[1].callee, "orders");
	rca_csv_release(&d);
	buf_release(&err);
}

static void csv_errors_name_file_and_line(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		bool edges;
		int rc;
		const char *where;
	} cases[] = {
		{ "timestamp,node,metric,value\n1,a,cpu,1\n2,a,cpu\n", false, OODA_EPARSE, "x.csv:3:" },
		{ "1,a,cpu,1\n1.5,a,cpu,2\n", false, OODA_EPARSE, "x.csv:2:" },
		{ "1,a,cpu,1\n2,a,cpu,abc\n", false, OODA_EPARSE, "x.csv:2:" },
		{ "1,a,cpu,1\n2,a,cpu,inf\n", false, OODA_EPARSE, "x.csv:2:" },
		{ "1,a,cpu,1\n1,a,cpu,2\n", false, OODA_EPARSE, "x.csv:2:" },
		{ "1,\"a\",cpu,1\n", false, OODA_EPARSE, "x.csv:1:" },
		{ "1,a,cpu,1,9\n", false, OODA_EPARSE, "x.csv:1:" },
		{ "timestamp,node,metric,value\n", false, OODA_EPARSE, "x.csv:1:" },
		{ "a,b\nc\n", true, OODA_EPARSE, "x.csv:2:" },
		{ "a,b,c\n", true, OODA_EPARSE, "x.csv:1:" },
	};
	struct buf err = BUF_INIT;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rca_csv d;
		buf_reset(&err);
		assert_int_equal(load(cases[i].text, cases[i].edges, &d, &err), cases[i].rc);
		assert_non_null(strstr(err.data, cases[i].where));
		assert_int_equal(d.n_series + d.n_edges, 0);
	}
	/* an over-long line is a limit, not a crash */
	struct buf big = BUF_INIT;
	buf_adds(&big, "1,");
	for (int i = 0; i < RCA_CSV_MAX_LINE; i++)
		buf_addch(&big, 'n');
	buf_adds(&big, ",cpu,1\n");
	struct rca_csv d;
	buf_reset(&err);
	assert_int_equal(load(big.data, false, &d, &err), OODA_ELIMIT);
	assert_non_null(strstr(err.data, "x.csv:1:"));
	buf_release(&big);
	buf_release(&err);
}

int main(void)
{
	json_set_alloc_funcs(xmalloc, free);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(single_anomalous_node_ranks_first),
		cmocka_unit_test(callee_that_started_first_ranks_above_callers),
		cmocka_unit_test(callers_errors_point_at_the_callee),
		cmocka_unit_test(change_before_onset_raises_its_node),
		cmocka_unit_test(malformed_input_is_einval),
		cmocka_unit_test(ranking_is_deterministic),
		cmocka_unit_test(csv_loads_long_format_in_any_order),
		cmocka_unit_test(csv_errors_name_file_and_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
