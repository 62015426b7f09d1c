/*
 * Unit tests for src/ingest/live: RED counters and percentiles from server
 * spans, error ratios, the dependency graph from parent/child spans (in
 * either arrival order) and from CLIENT spans naming a peer, overflow into
 * "other", window aggregation over slots, the RED snapshot, the metric-point
 * export, and the JSON views read back with jansson. Batches are built by
 * hand in an arena; time comes from a fake clock.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <math.h>
#include <cmocka.h>
#include <jansson.h>
#include <pthread.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/time.h"
#include "model/live.h"

#define SEC OODA_NS_PER_SEC
#define MS OODA_NS_PER_MS
#define T0 (INT64_C(1795600800) * SEC) /* a slot boundary */

static int64_t fake_now;
static int64_t fake_clock(void *ctx)
{
	(void)ctx;
	return fake_now;
}

static struct live_signals *make_live(struct live_config c)
{
	c.clock = fake_clock;
	struct live_signals *live = NULL;
	struct buf err = BUF_INIT;
	assert_int_equal(live_create(&c, &live, &err), 0);
	buf_release(&err);
	return live;
}

/* A hand-built batch: spans, logs and points in one arena. */
struct tb {
	struct arena a;
	struct telemetry_batch b;
	size_t cap;
};

static void tb_init(struct tb *t)
{
	arena_init(&t->a, 0);
	memset(&t->b, 0, sizeof(t->b));
	t->b.arena = &t->a;
	t->cap = 4096;
	t->b.spans = arena_zalloc(&t->a, sizeof(struct span) * t->cap);
	t->b.logs = arena_zalloc(&t->a, sizeof(struct log_record) * 64);
	t->b.points = arena_zalloc(&t->a, sizeof(struct metric_point) * 64);
}

static void tb_release(struct tb *t)
{
	arena_release(&t->a);
}

static const struct resource *tb_res(struct tb *t, const char *service)
{
	struct resource *r = arena_zalloc(&t->a, sizeof(*r));
	r->service = arena_strdup(&t->a, service);
	return r;
}

static void put_id(uint8_t *dst, size_t n, uint64_t v)
{
	memset(dst, 0, n);
	for (size_t i = 0; i < 8 && i < n; i++)
		dst[n - 1 - i] = (uint8_t)(v >> (8 * i));
}

static struct span *tb_span(struct tb *t, const char *service, const char *name, uint8_t kind,
			    int64_t end_ns, int64_t dur_ns, uint8_t status, uint64_t trace,
			    uint64_t id, uint64_t parent)
{
	assert_true(t->b.n_spans < t->cap);
	struct span *sp = &t->b.spans[t->b.n_spans++];
	sp->resource = tb_res(t, service);
	sp->name = name ? arena_strdup(&t->a, name) : NULL;
	sp->kind = kind;
	sp->start_ns = end_ns - dur_ns;
	sp->end_ns = end_ns;
	sp->status = status;
	put_id(sp->trace_id, 16, trace);
	put_id(sp->span_id, 8, id);
	if (parent) {
		put_id(sp->parent_span_id, 8, parent);
		sp->has_parent = true;
	}
	return sp;
}

static void span_attr(struct tb *t, struct span *sp, const char *key, const char *val)
{
	struct attr *v = arena_zalloc(&t->a, sizeof(struct attr) * (sp->attrs.n + 1));
	if (sp->attrs.n)
		memcpy(v, sp->attrs.v, sizeof(struct attr) * sp->attrs.n);
	v[sp->attrs.n] = (struct attr){ .key = key, .type = ATTR_STR,
					 .len = (uint32_t)strlen(val), .s = val };
	sp->attrs.v = v;
	sp->attrs.n++;
}

static void publish(struct live_signals *live, struct tb *t)
{
	assert_int_equal(live_publish(live, &t->b), 0);
}

/* Parses the JSON a view function appended to out. */
static json_t *parse(const struct buf *out)
{
	json_error_t je;
	json_t *j = json_loads(out->data, 0, &je);
	if (!j)
		fail_msg("bad JSON (%s): %s", je.text, out->data);
	return j;
}

static json_t *service_doc(struct live_signals *live, const char *name, int64_t now,
			   int64_t window)
{
	struct buf out = BUF_INIT, err = BUF_INIT;
	assert_int_equal(live_service_json(live, name, now, window, &out, &err), 0);
	json_t *j = parse(&out);
	buf_release(&out);
	buf_release(&err);
	return j;
}

static json_t *graph_doc(struct live_signals *live, int64_t now, int64_t window)
{
	struct buf out = BUF_INIT, err = BUF_INIT;
	assert_int_equal(live_graph_json(live, now, window, &out, &err), 0);
	json_t *j = parse(&out);
	buf_release(&out);
	buf_release(&err);
	return j;
}

static double num(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	if (!v)
		fail_msg("missing field %s", key);
	if (json_is_null(v))
		return NAN;
	return json_number_value(v);
}

/* The edge source -> target in a graph document, or NULL. */
static json_t *find_edge(json_t *g, const char *source, const char *target)
{
	json_t *edges = json_object_get(g, "edges"), *e;
	size_t i;
	json_array_foreach(edges, i, e) {
		if (!strcmp(json_string_value(json_object_get(e, "source")), source) &&
		    !strcmp(json_string_value(json_object_get(e, "target")), target))
			return e;
	}
	return NULL;
}

/* The [lo, hi] ms bucket that a true value falls into. */
static void bucket_of_ms(double v, double *lo, double *hi)
{
	size_t n;
	const double *b = live_bounds_seconds(&n);
	*lo = 0;
	for (size_t i = 0; i < n; i++) {
		if (v <= b[i] * 1e3) {
			*hi = b[i] * 1e3;
			return;
		}
		*lo = b[i] * 1e3;
	}
	*hi = INFINITY;
}

/* ---- RED counts and percentiles ---- */

enum dist { D_LINEAR_1_100, D_CONST_7, D_BIMODAL, D_TINY, D_HUGE };

static int64_t dist_ns(enum dist d, int i)
{
	switch (d) {
	case D_LINEAR_1_100: return (int64_t)(i % 100 + 1) * MS;
	case D_CONST_7: return 7 * MS;
	case D_BIMODAL: return (i % 10 == 9) ? 500 * MS : 2 * MS;
	case D_TINY: return 50000; /* 0.05 ms */
	case D_HUGE: return 120 * SEC;
	}
	return 0;
}

static void test_percentiles(void **state)
{
	static const struct {
		enum dist d;
		int n;
		double p50, p90, p99; /* the true percentiles, ms */
		bool exact;           /* the interpolation is exact for this shape */
	} cases[] = {
		{ D_LINEAR_1_100, 100, 50, 90, 99, true },
		{ D_LINEAR_1_100, 1000, 50, 90, 99, true },
		{ D_CONST_7, 20, 7, 7, 7, false },
		{ D_BIMODAL, 100, 2, 2, 500, false }, /* rank 90 is the last 2 ms span */
		{ D_TINY, 50, 0.05, 0.05, 0.05, false },
		{ D_HUGE, 3, 60000, 60000, 60000, true }, /* +Inf reports its lower bound */
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		fake_now = T0 + 5 * SEC;
		struct live_signals *live = make_live((struct live_config){ 0 });
		struct tb t;
		tb_init(&t);
		for (int i = 0; i < cases[c].n; i++)
			tb_span(&t, "api", "GET /x", SPAN_SERVER, T0 + 1 * SEC, dist_ns(cases[c].d, i),
				STATUS_OK, 1, (uint64_t)i + 1, 0);
		publish(live, &t);
		json_t *j = service_doc(live, "api", fake_now, 60 * SEC);
		assert_int_equal((int)num(j, "requests"), cases[c].n);
		assert_int_equal((int)num(j, "errors"), 0);
		json_t *op = json_array_get(json_object_get(j, "operations"), 0);
		assert_non_null(op);
		assert_string_equal(json_string_value(json_object_get(op, "operation")), "GET /x");
		const char *keys[] = { "p50_ms", "p90_ms", "p99_ms" };
		double want[] = { cases[c].p50, cases[c].p90, cases[c].p99 };
		for (int k = 0; k < 3; k++) {
			double got = num(j, keys[k]), lo, hi;
			if (cases[c].exact) {
				assert_float_equal(got, want[k], 1e-6);
				continue;
			}
			bucket_of_ms(want[k], &lo, &hi);
			if (got < lo || got > hi)
				fail_msg("case %zu %s = %g, want in [%g, %g]", c, keys[k], got, lo, hi);
			assert_float_equal(num(op, keys[k]), got, 1e-9);
		}
		json_decref(j);
		tb_release(&t);
		live_destroy(live);
	}
}

static void test_error_ratio(void **state)
{
	static const struct {
		int n, errors, unset;
		double ratio;
	} cases[] = {
		{ 10, 0, 5, 0.0 },
		{ 10, 1, 0, 0.1 },
		{ 4, 4, 0, 1.0 },
		{ 200, 50, 100, 0.25 },
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		fake_now = T0 + 5 * SEC;
		struct live_signals *live = make_live((struct live_config){ 0 });
		struct tb t;
		tb_init(&t);
		for (int i = 0; i < cases[c].n; i++) {
			uint8_t st = i < cases[c].errors ? STATUS_ERROR
				   : i < cases[c].errors + cases[c].unset ? STATUS_UNSET : STATUS_OK;
			tb_span(&t, "api", "op", SPAN_SERVER, T0 + SEC, 3 * MS, st, 7, (uint64_t)i + 1, 0);
		}
		/* Spans that are not requests: CLIENT and INTERNAL children. */
		tb_span(&t, "api", "op", SPAN_CLIENT, T0 + SEC, MS, STATUS_ERROR, 7, 9001, 1);
		tb_span(&t, "api", "op", SPAN_INTERNAL, T0 + SEC, MS, STATUS_ERROR, 7, 9002, 1);
		publish(live, &t);
		json_t *j = service_doc(live, "api", fake_now, 60 * SEC);
		assert_int_equal((int)num(j, "requests"), cases[c].n);
		assert_int_equal((int)num(j, "errors"), cases[c].errors);
		assert_float_equal(num(j, "error_ratio"), cases[c].ratio, 1e-9);
		json_decref(j);
		tb_release(&t);
		live_destroy(live);
	}
}

/* ---- dependency graph ---- */

enum order { SAME_PARENT_FIRST, SAME_CHILD_FIRST, PARENT_EARLIER, CHILD_EARLIER, CHILD_TOO_LATE };

static void test_edge_parent_child(void **state)
{
	static const struct {
		enum order order;
		int calls, errors; /* expected on frontend -> checkout */
	} cases[] = {
		{ SAME_PARENT_FIRST, 5, 1 },
		{ SAME_CHILD_FIRST, 5, 1 },
		{ PARENT_EARLIER, 5, 1 },
		{ CHILD_EARLIER, 5, 1 },
		{ CHILD_TOO_LATE, 0, 0 },
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		fake_now = T0 + 5 * SEC;
		struct live_signals *live = make_live((struct live_config){ 0 });
		struct tb parents, children;
		tb_init(&parents);
		tb_init(&children);
		for (int i = 0; i < 5; i++) {
			uint64_t trace = 100 + (uint64_t)i;
			/* frontend root -> frontend CLIENT -> checkout SERVER */
			tb_span(&parents, "frontend", "GET /", SPAN_SERVER, T0 + SEC, 30 * MS, STATUS_OK,
				trace, 1, 0);
			tb_span(&parents, "frontend", "POST checkout", SPAN_CLIENT, T0 + SEC, 20 * MS,
				STATUS_OK, trace, 2, 1);
			tb_span(&children, "checkout", "POST /checkout", SPAN_SERVER, T0 + SEC, 15 * MS,
				i == 0 ? STATUS_ERROR : STATUS_OK, trace, 3, 2);
		}
		struct tb both;
		switch (cases[c].order) {
		case SAME_PARENT_FIRST:
		case SAME_CHILD_FIRST: {
			tb_init(&both);
			struct tb *first = cases[c].order == SAME_PARENT_FIRST ? &parents : &children;
			struct tb *second = first == &parents ? &children : &parents;
			for (size_t i = 0; i < first->b.n_spans; i++)
				both.b.spans[both.b.n_spans++] = first->b.spans[i];
			for (size_t i = 0; i < second->b.n_spans; i++)
				both.b.spans[both.b.n_spans++] = second->b.spans[i];
			publish(live, &both);
			tb_release(&both);
			break;
		}
		case PARENT_EARLIER:
			publish(live, &parents);
			fake_now += 2 * SEC;
			publish(live, &children);
			break;
		case CHILD_EARLIER:
			publish(live, &children);
			fake_now += 2 * SEC;
			publish(live, &parents);
			break;
		case CHILD_TOO_LATE:
			publish(live, &parents);
			fake_now += 45 * SEC; /* past the 30 s matching window */
			publish(live, &children);
			break;
		}
		/* Let every matching window run out: no edge may be counted twice. */
		fake_now += 60 * SEC;
		assert_int_equal(live_expire(live), 0);

		json_t *g = graph_doc(live, fake_now, 5 * 60 * SEC);
		json_t *e = find_edge(g, "frontend", "checkout");
		if (cases[c].calls == 0) {
			assert_null(e);
			assert_int_equal(json_array_size(json_object_get(g, "edges")), 0);
			struct live_stats st;
			live_stats_get(live, &st);
			assert_int_equal(st.unmatched_children, 5);
		} else {
			assert_non_null(e);
			assert_int_equal(json_array_size(json_object_get(g, "edges")), 1);
			assert_int_equal((int)num(e, "calls"), cases[c].calls);
			assert_int_equal((int)num(e, "errors"), cases[c].errors);
			assert_float_equal(num(e, "error_ratio"), 0.2, 1e-9);
			double lo, hi;
			bucket_of_ms(15, &lo, &hi);
			assert_true(num(e, "p50_ms") >= lo && num(e, "p50_ms") <= hi);
			assert_string_equal(json_string_value(json_object_get(e, "type")), "service");
			/* Both ends are nodes; the service view lists the neighbours. */
			assert_int_equal(json_array_size(json_object_get(g, "nodes")), 2);
			json_t *s = service_doc(live, "checkout", fake_now, 5 * 60 * SEC);
			json_t *up = json_array_get(json_object_get(s, "upstream"), 0);
			assert_non_null(up);
			assert_string_equal(json_string_value(json_object_get(up, "service")), "frontend");
			assert_int_equal((int)num(up, "calls"), 5);
			assert_int_equal(json_array_size(json_object_get(s, "downstream")), 0);
			json_decref(s);
			s = service_doc(live, "frontend", fake_now, 5 * 60 * SEC);
			json_t *down = json_array_get(json_object_get(s, "downstream"), 0);
			assert_non_null(down);
			assert_string_equal(json_string_value(json_object_get(down, "service")), "checkout");
			json_decref(s);
		}
		json_decref(g);
		tb_release(&parents);
		tb_release(&children);
		live_destroy(live);
	}
}

static void test_edge_external(void **state)
{
	static const struct {
		const char *k1, *v1, *k2, *v2; /* CLIENT span attributes */
		const char *target, *type;     /* NULL target: no edge */
	} cases[] = {
		{ "peer.service", "payments-api", NULL, NULL, "payments-api", "external" },
		{ "server.address", "api.stripe.com", NULL, NULL, "api.stripe.com", "external" },
		{ "db.system", "postgresql", "server.address", "db-1", "db-1", "database" },
		{ "db.system", "redis", NULL, NULL, "redis", "database" },
		{ "peer.service", "ledger", "server.address", "10.0.0.5", "ledger", "external" },
		{ "http.method", "GET", NULL, NULL, NULL, NULL },
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		fake_now = T0 + 5 * SEC;
		struct live_signals *live = make_live((struct live_config){ 0 });
		struct tb t;
		tb_init(&t);
		for (int i = 0; i < 3; i++) {
			struct span *sp = tb_span(&t, "frontend", "call", SPAN_CLIENT, T0 + SEC, 8 * MS,
						  i == 2 ? STATUS_ERROR : STATUS_OK, 50 + (uint64_t)i, 9, 1);
			span_attr(&t, sp, cases[c].k1, cases[c].v1);
			if (cases[c].k2)
				span_attr(&t, sp, cases[c].k2, cases[c].v2);
		}
		publish(live, &t);
		/* Within the window a remote child could still claim the call. */
		json_t *g = graph_doc(live, fake_now, 60 * SEC);
		assert_int_equal(json_array_size(json_object_get(g, "edges")), 0);
		json_decref(g);
		fake_now += 31 * SEC;
		assert_int_equal(live_expire(live), 0);
		g = graph_doc(live, fake_now, 5 * 60 * SEC);
		if (!cases[c].target) {
			assert_int_equal(json_array_size(json_object_get(g, "edges")), 0);
		} else {
			json_t *e = find_edge(g, "frontend", cases[c].target);
			if (!e)
				fail_msg("case %zu: no edge to %s", c, cases[c].target);
			assert_int_equal((int)num(e, "calls"), 3);
			assert_int_equal((int)num(e, "errors"), 1);
			assert_string_equal(json_string_value(json_object_get(e, "type")), cases[c].type);
		}
		json_decref(g);
		tb_release(&t);
		live_destroy(live);
	}
}

/* A CLIENT span naming a peer that an instrumented server answers: one edge, not two. */
static void test_edge_client_claimed(void **state)
{
	fake_now = T0 + 5 * SEC;
	struct live_signals *live = make_live((struct live_config){ 0 });
	struct tb t;
	tb_init(&t);
	struct span *sp = tb_span(&t, "frontend", "call", SPAN_CLIENT, T0 + SEC, 8 * MS, STATUS_OK,
				  1, 2, 0);
	span_attr(&t, sp, "server.address", "checkout.svc.cluster.local");
	tb_span(&t, "checkout", "POST", SPAN_SERVER, T0 + SEC, 5 * MS, STATUS_OK, 1, 3, 2);
	publish(live, &t);
	fake_now += 60 * SEC;
	live_expire(live);
	json_t *g = graph_doc(live, fake_now, 5 * 60 * SEC);
	assert_int_equal(json_array_size(json_object_get(g, "edges")), 1);
	assert_non_null(find_edge(g, "frontend", "checkout"));
	json_decref(g);
	tb_release(&t);
	live_destroy(live);
}

/* ---- limits ---- */

static void test_overflow(void **state)
{
	static const struct {
		uint32_t max_ops, max_services;
		int n_ops, n_services;
		int want_ops;      /* operation rows of service s0, "other" included */
		int want_other_op; /* requests in op "other" of s0 */
		int want_services; /* services listed, "other" included */
	} cases[] = {
		{ 2, 8, 4, 1, 3, 2 * 10, 1 },
		{ 8, 8, 4, 1, 4, 0, 1 },
		{ 2, 2, 2, 5, 2, 0, 3 },
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		fake_now = T0 + 5 * SEC;
		struct live_signals *live = make_live((struct live_config){
			.max_ops = cases[c].max_ops, .max_services = cases[c].max_services });
		struct tb t;
		tb_init(&t);
		uint64_t id = 1;
		for (int s = 0; s < cases[c].n_services; s++) {
			char svc[16];
			snprintf(svc, sizeof(svc), "s%d", s);
			for (int o = 0; o < cases[c].n_ops; o++) {
				char op[16];
				snprintf(op, sizeof(op), "op%d", o);
				for (int i = 0; i < 10; i++)
					tb_span(&t, svc, op, SPAN_SERVER, T0 + SEC, MS, STATUS_OK, 1, id++, 0);
			}
		}
		publish(live, &t);
		json_t *j = service_doc(live, "s0", fake_now, 60 * SEC);
		json_t *ops = json_object_get(j, "operations"), *op;
		assert_int_equal((int)json_array_size(ops), cases[c].want_ops);
		int other = 0, total = 0;
		size_t i;
		json_array_foreach(ops, i, op) {
			total += (int)num(op, "requests");
			if (!strcmp(json_string_value(json_object_get(op, "operation")), LIVE_OTHER))
				other = (int)num(op, "requests");
		}
		assert_int_equal(other, cases[c].want_other_op);
		assert_int_equal(total, cases[c].n_ops * 10); /* nothing lost */
		json_decref(j);

		struct buf out = BUF_INIT, err = BUF_INIT;
		assert_int_equal(live_services_json(live, fake_now, 60 * SEC, &out, &err), 0);
		j = parse(&out);
		assert_int_equal((int)json_array_size(j), cases[c].want_services);
		total = 0;
		json_t *s;
		json_array_foreach(j, i, s)
			total += (int)num(s, "requests");
		assert_int_equal(total, cases[c].n_services * cases[c].n_ops * 10);
		json_decref(j);
		buf_release(&out);
		buf_release(&err);
		tb_release(&t);
		live_destroy(live);
	}
}

static void test_edge_limit(void **state)
{
	fake_now = T0 + 5 * SEC;
	struct live_signals *live = make_live((struct live_config){ .max_edges = 2 });
	struct tb t;
	tb_init(&t);
	const char *callees[] = { "b", "c", "d", "e" };
	for (int i = 0; i < 4; i++) {
		tb_span(&t, "a", "client", SPAN_CLIENT, T0 + SEC, MS, STATUS_OK, 1, 10 + (uint64_t)i, 0);
		tb_span(&t, callees[i], "srv", SPAN_SERVER, T0 + SEC, MS, STATUS_OK, 1,
			20 + (uint64_t)i, 10 + (uint64_t)i);
	}
	publish(live, &t);
	struct live_stats st;
	live_stats_get(live, &st);
	assert_int_equal(st.edges, 2);
	assert_int_equal(st.dropped_edges, 2);
	json_t *g = graph_doc(live, fake_now, 60 * SEC);
	assert_int_equal(json_array_size(json_object_get(g, "edges")), 2);
	json_decref(g);
	tb_release(&t);
	live_destroy(live);
}

/* ---- windows and slots ---- */

static void test_windows(void **state)
{
	/* One request per 10 s slot over the last 20 minutes, every 3rd an error. */
	fake_now = T0 + 1200 * SEC;
	struct live_signals *live = make_live((struct live_config){ 0 });
	struct tb t;
	tb_init(&t);
	for (int i = 0; i < 120; i++)
		tb_span(&t, "api", "op", SPAN_SERVER, T0 + (int64_t)i * 10 * SEC + 5 * SEC, 2 * MS,
			i % 3 == 0 ? STATUS_ERROR : STATUS_OK, 1, (uint64_t)i + 1, 0);
	publish(live, &t);
	int64_t now = T0 + 1199 * SEC; /* inside the newest slot */
	static const struct {
		int64_t window;
		int requests;
		double rate;
	} cases[] = {
		{ 10 * SEC, 1, 0.1 },
		{ 60 * SEC, 6, 0.1 },
		{ 5 * 60 * SEC, 30, 0.1 },
		{ 15 * 60 * SEC, 90, 0.1 },
		{ 25 * SEC, 3, 0.1 },      /* rounded up to 3 slots */
		{ 7200 * SEC, 120, 120.0 / 3600 }, /* clamped to the ring */
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		json_t *j = service_doc(live, "api", now, cases[c].window);
		assert_int_equal((int)num(j, "requests"), cases[c].requests);
		assert_float_equal(num(j, "rate"), cases[c].rate, 1e-9);
		json_decref(j);
	}
	/* A span older than the ring is dropped and counted. */
	struct tb old;
	tb_init(&old);
	tb_span(&old, "api", "op", SPAN_SERVER, T0 + 1200 * SEC - 3601 * SEC, MS, STATUS_OK, 1, 999, 0);
	tb_span(&old, "api", "op", SPAN_SERVER, T0 + 1200 * SEC + 3600 * SEC, MS, STATUS_OK, 1, 998, 0);
	publish(live, &old);
	struct live_stats st;
	live_stats_get(live, &st);
	assert_int_equal(st.dropped_old, 1);
	assert_int_equal(st.dropped_future, 1);
	json_t *j = service_doc(live, "api", now, 7200 * SEC);
	assert_int_equal((int)num(j, "requests"), 120);
	json_decref(j);
	tb_release(&old);
	tb_release(&t);
	live_destroy(live);
}

static void test_snapshot(void **state)
{
	fake_now = T0 + 60 * SEC;
	struct live_signals *live = make_live((struct live_config){ 0 });
	struct tb t;
	tb_init(&t);
	uint64_t id = 1;
	/* slot 0: 4 requests, 1 error, 3 ms; slot 2: 2 requests at 100 ms; slot 1 empty. */
	for (int i = 0; i < 4; i++)
		tb_span(&t, "api", "op", SPAN_SERVER, T0 + SEC, 3 * MS, i ? STATUS_OK : STATUS_ERROR, 1,
			id++, 0);
	for (int i = 0; i < 2; i++)
		tb_span(&t, "api", "op", SPAN_SERVER, T0 + 25 * SEC, 100 * MS, STATUS_OK, 1, id++, 0);
	tb_span(&t, "idle", "op", SPAN_SERVER, T0 - 600 * SEC, MS, STATUS_OK, 1, id++, 0);
	publish(live, &t);

	struct arena a;
	arena_init(&a, 0);
	struct live_red *v;
	size_t n;
	struct buf err = BUF_INIT;
	assert_int_equal(live_red_snapshot(live, T0, T0 + 30 * SEC, &a, &v, &n, &err), 0);
	assert_int_equal(n, 1); /* "idle" has nothing in the range */
	assert_string_equal(v[0].service, "api");
	assert_string_equal(v[0].operation, "op");
	assert_int_equal(v[0].n_slots, 3);
	assert_true(v[0].first_slot_ns == T0);
	static const uint64_t req[] = { 4, 0, 2 }, errs[] = { 1, 0, 0 };
	for (int i = 0; i < 3; i++) {
		assert_int_equal(v[0].requests[i], req[i]);
		assert_int_equal(v[0].errors[i], errs[i]);
	}
	assert_true(v[0].p99_ms[0] > 2.5 && v[0].p99_ms[0] <= 4);
	assert_true(isnan(v[0].p99_ms[1]));
	assert_true(v[0].p99_ms[2] > 60 && v[0].p99_ms[2] <= 100);
	assert_int_equal(live_red_snapshot(live, T0, T0, &a, &v, &n, &err), OODA_EINVAL);
	buf_release(&err);
	arena_release(&a);
	tb_release(&t);
	live_destroy(live);
}

/* ---- export as metric points ---- */

static const struct metric_point *find_point(const struct metric_point *v, size_t n,
					     const char *name, int64_t t, const char *le)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i].name, name) || v[i].time_ns != t)
			continue;
		if (!le)
			return &v[i];
		for (uint32_t k = 0; k < v[i].attrs.n; k++)
			if (!strcmp(v[i].attrs.v[k].key, "le") && !strcmp(v[i].attrs.v[k].s, le))
				return &v[i];
	}
	return NULL;
}

static void test_export(void **state)
{
	fake_now = T0 + 60 * SEC;
	struct live_signals *live = make_live((struct live_config){ 0 });
	struct tb t;
	tb_init(&t);
	uint64_t id = 1;
	for (int i = 0; i < 3; i++) /* slot 0 */
		tb_span(&t, "api", "op", SPAN_SERVER, T0 + SEC, 2 * MS, i ? STATUS_OK : STATUS_ERROR, 1,
			id++, 0);
	for (int i = 0; i < 2; i++) /* slot 2 */
		tb_span(&t, "api", "op", SPAN_SERVER, T0 + 21 * SEC, 200 * MS, STATUS_OK, 1, id++, 0);
	publish(live, &t);

	struct arena a;
	arena_init(&a, 0);
	struct metric_point *v;
	size_t n;
	struct buf err = BUF_INIT;
	assert_int_equal(live_export_points(live, T0, T0 + 30 * SEC, 100000, &a, &v, &n, &err), 0);
	/* Boundaries T0+10s, +20s, +30s; 4 + 28 points each. */
	assert_int_equal(n, 3 * (4 + LIVE_N_BOUNDS + 1));
	static const struct {
		int64_t t;
		double requests, errors, le_0_0025, le_inf, sum_s;
	} cases[] = {
		{ T0 + 10 * SEC, 3, 1, 3, 3, 0.006 },
		{ T0 + 20 * SEC, 3, 1, 3, 3, 0.006 },
		{ T0 + 30 * SEC, 5, 1, 3, 5, 0.406 },
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const struct metric_point *p = find_point(v, n, "ooda_span_requests_total", cases[c].t, NULL);
		assert_non_null(p);
		assert_float_equal(p->value, cases[c].requests, 1e-9);
		assert_int_equal(p->type, METRIC_SUM);
		assert_int_equal(p->temporality, TEMPORALITY_CUMULATIVE);
		assert_true(p->monotonic);
		assert_true(p->start_ns == T0);
		assert_string_equal(p->resource->service, "api");
		assert_int_equal(p->attrs.n, 2);
		assert_string_equal(p->attrs.v[0].key, "service");
		assert_string_equal(p->attrs.v[1].s, "op");
		p = find_point(v, n, "ooda_span_errors_total", cases[c].t, NULL);
		assert_float_equal(p->value, cases[c].errors, 1e-9);
		p = find_point(v, n, "ooda_span_duration_seconds_bucket", cases[c].t, "0.0025");
		assert_non_null(p);
		assert_float_equal(p->value, cases[c].le_0_0025, 1e-9);
		p = find_point(v, n, "ooda_span_duration_seconds_bucket", cases[c].t, "+Inf");
		assert_non_null(p);
		assert_float_equal(p->value, cases[c].le_inf, 1e-9);
		p = find_point(v, n, "ooda_span_duration_seconds_count", cases[c].t, NULL);
		assert_float_equal(p->value, cases[c].requests, 1e-9);
		p = find_point(v, n, "ooda_span_duration_seconds_sum", cases[c].t, NULL);
		assert_float_equal(p->value, cases[c].sum_s, 1e-9);
	}
	/* Buckets are cumulative over le. */
	double prev = -1;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i].name, "ooda_span_duration_seconds_bucket") || v[i].time_ns != T0 + 30 * SEC)
			continue;
		assert_true(v[i].value >= prev);
		prev = v[i].value;
	}
	assert_int_equal(live_export_points(live, T0, T0 + 30 * SEC, 10, &a, &v, &n, &err),
			 OODA_ELIMIT);
	assert_true(err.len > 0);
	buf_release(&err);
	arena_release(&a);
	tb_release(&t);
	live_destroy(live);
}

/* A window ending inside the newest slot gets one more point, at its end, counting that slot so far:
 * a rate over the last seconds sees spans that just arrived instead of waiting for the slot to close. */
static void test_export_edge(void **state)
{
	fake_now = T0 + 25 * SEC;
	struct live_signals *live = make_live((struct live_config){ 0 });
	struct tb t;
	tb_init(&t);
	uint64_t id = 1;
	for (int i = 0; i < 10; i++) /* slot 0 */
		tb_span(&t, "api", "op", SPAN_SERVER, T0 + SEC, 2 * MS, STATUS_OK, 1, id++, 0);
	for (int i = 0; i < 10; i++) /* slot 2, the newest */
		tb_span(&t, "api", "op", SPAN_SERVER, T0 + 21 * SEC, 2 * MS, STATUS_OK, 1, id++, 0);
	for (int i = 0; i < 4; i++)
		tb_span(&t, "api", "op", SPAN_SERVER, T0 + 23 * SEC, 2 * MS, STATUS_ERROR, 1, id++, 0);
	tb_span(&t, "new", "op", SPAN_SERVER, T0 + 22 * SEC, 2 * MS, STATUS_ERROR, 1, id++, 0); /* only in slot 2 */
	publish(live, &t);

	struct arena a;
	arena_init(&a, 0);
	struct metric_point *v;
	size_t n;
	struct buf err = BUF_INIT;
	const size_t per = 4 + LIVE_N_BOUNDS + 1;
	assert_int_equal(live_export_points(live, T0, T0 + 25 * SEC, 100000, &a, &v, &n, &err), 0);
	/* api: boundaries T0+10s and T0+20s, and the edge at T0+25s; new: the edge only */
	assert_int_equal(n, 4 * per);
	const struct metric_point *p = find_point(v, n, "ooda_span_requests_total", T0 + 20 * SEC, NULL);
	assert_non_null(p);
	assert_float_equal(p->value, 10, 1e-9); /* a boundary counts the closed slots only */
	static const struct {
		const char *name;
		double api, fresh;
	} edge[] = {
		{ "ooda_span_requests_total", 24, 1 },
		{ "ooda_span_errors_total", 4, 1 },
		{ "ooda_span_duration_seconds_count", 24, 1 },
	};
	for (size_t c = 0; c < sizeof(edge) / sizeof(edge[0]); c++) {
		double got[2] = { -1, -1 };
		for (size_t i = 0; i < n; i++)
			if (!strcmp(v[i].name, edge[c].name) && v[i].time_ns == T0 + 25 * SEC)
				got[!strcmp(v[i].resource->service, "new")] = v[i].value;
		assert_float_equal(got[0], edge[c].api, 1e-9);
		assert_float_equal(got[1], edge[c].fresh, 1e-9);
	}
	p = find_point(v, n, "ooda_span_duration_seconds_bucket", T0 + 25 * SEC, "+Inf");
	assert_non_null(p);
	/* a window ending on a boundary, or before the newest slot, has no edge point */
	assert_int_equal(live_export_points(live, T0, T0 + 20 * SEC, 100000, &a, &v, &n, &err), 0);
	assert_int_equal(n, 2 * per);
	assert_int_equal(live_export_points(live, T0, T0 + 15 * SEC, 100000, &a, &v, &n, &err), 0);
	assert_int_equal(n, 1 * per);
	/* the edge counts against the point limit like any other point */
	assert_int_equal(live_export_points(live, T0, T0 + 25 * SEC, 3 * per, &a, &v, &n, &err), OODA_ELIMIT);
	buf_release(&err);
	arena_release(&a);
	tb_release(&t);
	live_destroy(live);
}

/* Counters of two nodes add up to those of one node that saw everything. */
static void test_merge(void **state)
{
	fake_now = T0 + 60 * SEC;
	struct live_signals *one = make_live((struct live_config){ 0 });
	struct live_signals *n1 = make_live((struct live_config){ 0 });
	struct live_signals *n2 = make_live((struct live_config){ 0 });
	struct tb a, b;
	tb_init(&a);
	tb_init(&b);
	for (int i = 0; i < 200; i++) {
		struct tb *t = i % 3 ? &a : &b;
		tb_span(t, "api", "op", SPAN_SERVER, T0 + (i % 5) * 10 * SEC + SEC,
			(int64_t)(i * 37 % 900 + 1) * MS / 3, i % 7 ? STATUS_OK : STATUS_ERROR, 1,
			(uint64_t)i + 1, 0);
	}
	publish(one, &a);
	publish(one, &b);
	publish(n1, &a);
	publish(n2, &b);
	struct arena ar;
	arena_init(&ar, 0);
	struct metric_point *v1, *va, *vb;
	size_t c1, ca, cb;
	assert_int_equal(live_export_points(one, T0, T0 + 50 * SEC, 100000, &ar, &v1, &c1, NULL), 0);
	assert_int_equal(live_export_points(n1, T0, T0 + 50 * SEC, 100000, &ar, &va, &ca, NULL), 0);
	assert_int_equal(live_export_points(n2, T0, T0 + 50 * SEC, 100000, &ar, &vb, &cb, NULL), 0);
	assert_int_equal(c1, ca);
	assert_int_equal(c1, cb);
	for (size_t i = 0; i < c1; i++) {
		assert_string_equal(v1[i].name, va[i].name);
		assert_float_equal(v1[i].value, va[i].value + vb[i].value, 1e-9);
	}
	arena_release(&ar);
	tb_release(&a);
	tb_release(&b);
	live_destroy(one);
	live_destroy(n1);
	live_destroy(n2);
}

/* ---- fine slots ---- */

/* The fine slot holding t, read from live for service: requests and errors (-1 when not returned). */
static void fine_at(struct live_signals *live, const char *service, int64_t t, double *req, double *err)
{
	struct live_fine f[LIVE_FINE_SLOTS];
	size_t n = 0;
	int64_t head = 0;
	assert_int_equal(live_red_fine(live, service, 0, LIVE_FINE_SLOTS, f, &n, &head), 0);
	*req = *err = -1;
	for (size_t i = 0; i < n; i++)
		if (f[i].k == t / LIVE_FINE_NS) {
			*req = f[i].req;
			*err = f[i].err;
		}
}

/* The bucket of live_bounds_seconds() a duration of s seconds lands in (le: the first bound at or above it). */
static int bucket_of_s(double s)
{
	size_t nb;
	const double *bounds = live_bounds_seconds(&nb);
	for (size_t i = 0; i < nb; i++)
		if (s <= bounds[i])
			return (int)i;
	return (int)nb;
}

/* Sums service's fine slots: own_n, and the own buckets into own (LIVE_N_BOUNDS + 1). */
static double fine_own(struct live_signals *live, const char *service, double *own)
{
	struct live_fine f[LIVE_FINE_SLOTS];
	size_t n = 0;
	int64_t head = 0;
	assert_int_equal(live_red_fine(live, service, 0, LIVE_FINE_SLOTS, f, &n, &head), 0);
	double own_n = 0;
	memset(own, 0, sizeof(double) * (LIVE_N_BOUNDS + 1));
	for (size_t i = 0; i < n; i++) {
		own_n += f[i].own_n;
		for (int b = 0; b <= LIVE_N_BOUNDS; b++)
			own[b] += f[i].own[b];
	}
	return own_n;
}

/*
 * Own time: a server span's duration outside the union of its calls (calls
 * overlapping, a call reaching past its parent, calls in the batch after
 * their server span or in an earlier batch); a server span without a known
 * call has none; a call counts for one server span only.
 */
static void test_fine_own_time(void **state)
{
	(void)state;
	fake_now = T0 + 60 * SEC;
	struct live_signals *live = make_live((struct live_config){ 0 });
	int64_t base = T0 + 59 * SEC;
	double own[LIVE_N_BOUNDS + 1];
	struct tb t;
	tb_init(&t);
	/* server [60, 100] ms; calls [70, 85] and [80, 90] overlap: covered 20 ms, own 20 ms; calls after it */
	tb_span(&t, "api", "op", SPAN_SERVER, base + 100 * MS, 40 * MS, STATUS_OK, 1, 10, 0);
	tb_span(&t, "api", "call", SPAN_CLIENT, base + 90 * MS, 10 * MS, STATUS_OK, 1, 11, 10);
	tb_span(&t, "api", "call", SPAN_CLIENT, base + 85 * MS, 15 * MS, STATUS_OK, 1, 12, 10);
	tb_span(&t, "db", "q", SPAN_SERVER, base + 90 * MS, 9 * MS, STATUS_OK, 1, 13, 11); /* a leaf: no own time */
	/* a server span making no call: no own time */
	tb_span(&t, "api", "op", SPAN_SERVER, base + 120 * MS, 7 * MS, STATUS_OK, 2, 20, 0);
	publish(live, &t);
	assert_float_equal(fine_own(live, "api", own), 1, 1e-9);
	assert_float_equal(own[bucket_of_s(0.020)], 1, 1e-9);
	assert_float_equal(fine_own(live, "db", own), 0, 1e-9);
	tb_release(&t);

	/* the call in one batch, its server span [150, 200] in the next; the call [140, 195] reaches before it */
	tb_init(&t);
	tb_span(&t, "api", "call", SPAN_CLIENT, base + 195 * MS, 55 * MS, STATUS_OK, 3, 31, 30);
	publish(live, &t);
	tb_release(&t);
	tb_init(&t);
	tb_span(&t, "api", "op", SPAN_SERVER, base + 200 * MS, 50 * MS, STATUS_OK, 3, 30, 0);
	publish(live, &t);
	assert_float_equal(fine_own(live, "api", own), 2, 1e-9);
	assert_float_equal(own[bucket_of_s(0.005)], 1, 1e-9);
	tb_release(&t);

	/* the same server span again (a duplicate export): its calls were used up, no own time twice */
	tb_init(&t);
	tb_span(&t, "api", "op", SPAN_SERVER, base + 200 * MS, 50 * MS, STATUS_OK, 3, 30, 0);
	publish(live, &t);
	assert_float_equal(fine_own(live, "api", own), 2, 1e-9);
	struct live_stats st;
	live_stats_get(live, &st);
	assert_int_equal(st.own_timed, 2);
	tb_release(&t);
	live_destroy(live);
}

static void test_fine_slots(void **state)
{
	(void)state;
	fake_now = T0 + 60 * SEC;
	struct live_signals *live = make_live((struct live_config){ 0 });
	struct live_fine f[LIVE_FINE_SLOTS];
	size_t n = 7;
	int64_t head = 0;
	assert_int_equal(live_red_fine(live, "api", 0, LIVE_FINE_SLOTS, f, &n, &head), 0);
	assert_int_equal(n, 0); /* never seen */
	assert_true(head == INT64_MIN);
	assert_int_equal(live_red_fine(NULL, "api", 0, 1, f, &n, &head), OODA_EINVAL);
	struct tb t;
	tb_init(&t);
	/* by span end time: 3 requests (1 failing, 12 ms) in [59 s, 59.25 s), 1 in [59.5, 59.75) */
	int64_t base = T0 + 59 * SEC;
	tb_span(&t, "api", "op", SPAN_SERVER, base + 10 * MS, 12 * MS, STATUS_ERROR, 1, 1, 0);
	tb_span(&t, "api", "op", SPAN_SERVER, base + 100 * MS, 12 * MS, STATUS_OK, 1, 2, 0);
	tb_span(&t, "api", "other-op", SPAN_SERVER, base + 249 * MS, 12 * MS, STATUS_OK, 1, 3, 0);
	tb_span(&t, "api", "op", SPAN_SERVER, base + 600 * MS, 3 * SEC, STATUS_OK, 1, 4, 0);
	tb_span(&t, "api", "call", SPAN_CLIENT, base + 600 * MS, 3 * MS, STATUS_ERROR, 1, 5, 4); /* not a request */
	publish(live, &t);
	assert_int_equal(live_red_fine(live, "api", 0, LIVE_FINE_SLOTS, f, &n, &head), 0);
	assert_int_equal(head, (base + 600 * MS) / LIVE_FINE_NS);
	assert_int_equal(n, LIVE_FINE_SLOTS); /* as far back as the ring goes, the empty slots as zeros */
	assert_int_equal(f[n - 1].k, head);
	assert_int_equal(f[n - 3].k, base / LIVE_FINE_NS);
	assert_true(f[n - 3].req == 3 && f[n - 3].err == 1 && f[n - 2].req == 0 && f[n - 1].req == 1);
	/* the buckets: three in the (10, 15] ms bucket, one past 2.5 s */
	size_t nb;
	const double *bounds = live_bounds_seconds(&nb);
	double total = 0;
	for (size_t b = 0; b <= nb; b++) {
		total += f[n - 3].b[b];
		if (f[n - 3].b[b] > 0)
			assert_true(b < nb && bounds[b] >= 0.012 && (b == 0 || bounds[b - 1] < 0.012));
	}
	assert_true(total == 3);
	assert_true(f[n - 1].b[nb] == 1 || bounds[nb - 1] >= 3);
	/* from_k and cap: the newest kept */
	assert_int_equal(live_red_fine(live, "api", head - 2, LIVE_FINE_SLOTS, f, &n, &head), 0);
	assert_int_equal(n, 3);
	assert_int_equal(live_red_fine(live, "api", 0, 2, f, &n, &head), 0);
	assert_int_equal(n, 2);
	assert_int_equal(f[1].k, head);
	tb_release(&t);
	/* a late span lands in its own slot; one later than LIVE_FINE_LATE_NS is old news; one from a clock ahead
	   of ours lands in our clock's slot */
	tb_init(&t);
	tb_span(&t, "api", "op", SPAN_SERVER, base + 20 * MS, 1 * MS, STATUS_ERROR, 2, 1, 0);
	tb_span(&t, "api", "op", SPAN_SERVER, base + 600 * MS - LIVE_FINE_LATE_NS - SEC, 1 * MS, STATUS_ERROR, 2, 2, 0);
	tb_span(&t, "api", "op", SPAN_SERVER, fake_now + 3 * SEC, 1 * MS, STATUS_OK, 2, 3, 0);
	publish(live, &t);
	tb_release(&t);
	double req, err;
	fine_at(live, "api", base, &req, &err);
	assert_true(req == 4 && err == 2);
	fine_at(live, "api", fake_now, &req, &err);
	assert_true(req == 1 && err == 0);
	assert_int_equal(live_red_fine(live, "api", 0, LIVE_FINE_SLOTS, f, &n, &head), 0);
	assert_int_equal(head, fake_now / LIVE_FINE_NS);
	double all = 0;
	for (size_t i = 0; i < n; i++)
		all += f[i].req;
	assert_true(all == 6); /* 4 + 1 before, the one from ahead; not the old one */
	live_destroy(live);
}

/* Another node's requests reach the fine slots by arrival: the newest slot, or the clock's. */
static void test_fine_slots_merged(void **state)
{
	(void)state;
	fake_now = T0 + 60 * SEC;
	struct live_signals *n1 = make_live((struct live_config){ 0 });
	struct live_signals *n2 = make_live((struct live_config){ 0 });
	live_merge_enable(n1);
	struct tb t;
	tb_init(&t);
	tb_span(&t, "api", "op", SPAN_SERVER, T0 + 59 * SEC, 5 * MS, STATUS_ERROR, 1, 1, 0);
	tb_span(&t, "api", "op", SPAN_SERVER, T0 + 59 * SEC + 500 * MS, 5 * MS, STATUS_OK, 1, 2, 0);
	tb_span(&t, "api", "op", SPAN_SERVER, T0 + 20 * SEC, 5 * MS, STATUS_ERROR, 1, 3, 0); /* old news */
	publish(n1, &t);
	tb_release(&t);
	struct buf d = BUF_INIT, err = BUF_INIT;
	size_t entries = 0;
	assert_int_equal(live_delta_take(n1, &d, &entries), 0);
	fake_now += 300 * MS;
	assert_int_equal(live_delta_apply(n2, (const uint8_t *)d.data, d.len, &err), 0);
	double req, e;
	fine_at(n2, "api", fake_now, &req, &e);
	assert_true(req == 2 && e == 1); /* the 10 s slot of 50–60 s, now; the one of 20–30 s left out */
	struct live_fine f[4];
	size_t n = 0;
	int64_t head = 0;
	assert_int_equal(live_red_fine(n2, "api", 0, 4, f, &n, &head), 0);
	assert_int_equal(head, fake_now / LIVE_FINE_NS + 1); /* the slot before the newest: testable at once */
	/* a second delta in the same slot lands in the newest; the newest never runs ahead of the clock's next */
	struct tb t2;
	tb_init(&t2);
	tb_span(&t2, "api", "op", SPAN_SERVER, T0 + 59 * SEC + 800 * MS, 5 * MS, STATUS_OK, 1, 4, 0);
	publish(n1, &t2);
	tb_release(&t2);
	buf_reset(&d);
	assert_int_equal(live_delta_take(n1, &d, &entries), 0);
	assert_int_equal(live_delta_apply(n2, (const uint8_t *)d.data, d.len, &err), 0);
	assert_int_equal(live_red_fine(n2, "api", 0, 4, f, &n, &head), 0);
	assert_int_equal(head, fake_now / LIVE_FINE_NS + 1);
	assert_true(f[n - 1].req == 1);
	buf_release(&d);
	buf_release(&err);
	live_destroy(n1);
	live_destroy(n2);
}

/* ---- merging across nodes: deltas ---- */

/* Points of a live view over the first five slots after T0, for comparing two views. */
static void export_of(struct live_signals *live, struct arena *ar, struct metric_point **v, size_t *n)
{
	assert_int_equal(live_export_points(live, T0, T0 + 50 * SEC, 100000, ar, v, n, NULL), 0);
}

static void assert_same_points(struct live_signals *x, struct live_signals *y)
{
	struct arena ar;
	arena_init(&ar, 0);
	struct metric_point *vx, *vy;
	size_t cx, cy;
	export_of(x, &ar, &vx, &cx);
	export_of(y, &ar, &vy, &cy);
	assert_int_equal(cx, cy);
	for (size_t i = 0; i < cx; i++) {
		assert_string_equal(vx[i].name, vy[i].name);
		assert_float_equal(vx[i].value, vy[i].value, 1e-9);
	}
	arena_release(&ar);
}

/* Spans of "api" (RED) and calls web -> api (an edge), split between two batches. */
static void delta_batches(struct tb *a, struct tb *b)
{
	for (int i = 0; i < 120; i++) {
		struct tb *t = i % 3 ? a : b;
		int64_t end = T0 + (i % 5) * 10 * SEC + SEC;
		tb_span(t, "web", "GET /", SPAN_SERVER, end, 30 * MS, STATUS_OK, (uint64_t)i + 1, (uint64_t)i + 1, 0);
		tb_span(t, "api", "op", SPAN_SERVER, end - MS, (int64_t)(i * 37 % 900 + 1) * MS / 3,
			i % 7 ? STATUS_OK : STATUS_ERROR, (uint64_t)i + 1, (uint64_t)i + 1001, (uint64_t)i + 1);
	}
}

static void take(struct live_signals *live, struct buf *out, size_t want_entries)
{
	size_t n = 99;
	buf_reset(out);
	assert_int_equal(live_delta_take(live, out, &n), 0);
	assert_int_equal(n, want_entries);
	assert_int_equal(out->len > 0, want_entries > 0);
}

static void test_delta_roundtrip(void **state)
{
	fake_now = T0 + 60 * SEC;
	struct live_signals *one = make_live((struct live_config){ 0 });
	struct live_signals *n1 = make_live((struct live_config){ 0 });
	struct live_signals *n2 = make_live((struct live_config){ 0 });
	live_merge_enable(n1);
	live_merge_enable(n2);
	struct tb a, b;
	tb_init(&a);
	tb_init(&b);
	delta_batches(&a, &b);
	publish(one, &a);
	publish(one, &b);
	publish(n1, &a);
	publish(n2, &b);
	struct buf d1 = BUF_INIT, d2 = BUF_INIT, err = BUF_INIT;
	/* per node: 5 slots of web's RED, 5 of api's, 5 of the edge web -> api */
	take(n1, &d1, 15);
	assert_int_equal(live_delta_apply(n2, (const uint8_t *)d1.data, d1.len, &err), 0);
	/* n2 sends only what it ingested, not what it read from n1 */
	take(n2, &d2, 15);
	assert_int_equal(live_delta_apply(n1, (const uint8_t *)d2.data, d2.len, &err), 0);
	assert_same_points(n1, one);
	assert_same_points(n2, one);
	json_t *g = graph_doc(n2, fake_now, 120 * SEC);
	json_t *e = find_edge(g, "web", "api");
	assert_non_null(e);
	assert_int_equal((int)num(e, "calls"), 120);
	json_decref(g);
	struct live_stats st;
	live_stats_get(n1, &st);
	assert_int_equal(st.merged_entries, 15);
	take(n1, &d1, 0); /* taken: nothing new */
	buf_release(&d1);
	buf_release(&d2);
	buf_release(&err);
	tb_release(&a);
	tb_release(&b);
	live_destroy(one);
	live_destroy(n1);
	live_destroy(n2);
}

static void put_varint(struct buf *b, uint64_t v)
{
	do {
		uint8_t c = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v)
			c |= 0x80;
		buf_add(b, &c, 1);
	} while (v);
}

/* A hand-made delta of one RED entry: requests req, the bucket counts given (mask order). */
static void crafted(struct buf *b, int64_t slot_ns, const char *op, uint64_t req, uint64_t err, uint32_t mask,
		    const uint64_t *counts, size_t n)
{
	buf_reset(b);
	buf_add(b, "OLD1", 4);
	put_varint(b, (uint64_t)slot_ns);
	put_varint(b, 1);
	buf_add(b, "\0", 1);
	put_varint(b, 3);
	buf_add(b, "api", 3);
	put_varint(b, strlen(op));
	buf_add(b, op, strlen(op));
	put_varint(b, (uint64_t)(T0 / (10 * SEC)));
	put_varint(b, req);
	put_varint(b, err);
	double sum = 0.5;
	buf_add(b, &sum, 8);
	put_varint(b, mask);
	for (size_t i = 0; i < n; i++)
		put_varint(b, counts[i]);
}

static void test_delta_bad(void **state)
{
	fake_now = T0 + 60 * SEC;
	struct live_signals *n1 = make_live((struct live_config){ 0 });
	struct live_signals *n2 = make_live((struct live_config){ 0 });
	struct live_signals *ref = make_live((struct live_config){ 0 });
	live_merge_enable(n1);
	struct tb a, b;
	tb_init(&a);
	tb_init(&b);
	delta_batches(&a, &b);
	publish(n1, &a);
	struct buf d = BUF_INIT, err = BUF_INIT, x = BUF_INIT;
	take(n1, &d, 15);
	/* every truncation, and a byte too many, is refused and changes nothing */
	for (size_t len = 0; len < d.len; len++) {
		buf_reset(&err);
		assert_int_equal(live_delta_apply(n2, (const uint8_t *)d.data, len, &err), OODA_EINVAL);
		assert_true(err.len > 0);
	}
	buf_reset(&x);
	buf_add(&x, d.data, d.len);
	buf_add(&x, "\0", 1);
	assert_int_equal(live_delta_apply(n2, (const uint8_t *)x.data, x.len, &err), OODA_EINVAL);
	assert_same_points(n2, ref);
	/* a node cutting time into other slots */
	struct live_signals *other = make_live((struct live_config){ .slot_ns = 5 * SEC });
	buf_reset(&err);
	assert_int_equal(live_delta_apply(other, (const uint8_t *)d.data, d.len, &err), OODA_EINVAL);
	assert_non_null(strstr(err.data, "slots of another width"));
	live_destroy(other);
	/* counts that do not add up, errors above requests, a bucket past +Inf, an empty name */
	uint64_t one[1] = { 1 }, two[2] = { 1, 1 };
	crafted(&x, 10 * SEC, "op", 2, 0, 1, one, 1);
	buf_reset(&err);
	assert_int_equal(live_delta_apply(n2, (const uint8_t *)x.data, x.len, &err), OODA_EINVAL);
	assert_non_null(strstr(err.data, "do not add up"));
	crafted(&x, 10 * SEC, "op", 2, 3, 3, two, 2);
	assert_int_equal(live_delta_apply(n2, (const uint8_t *)x.data, x.len, NULL), OODA_EINVAL);
	crafted(&x, 10 * SEC, "op", 1, 0, UINT32_C(1) << 30, one, 1);
	assert_int_equal(live_delta_apply(n2, (const uint8_t *)x.data, x.len, NULL), OODA_EINVAL);
	crafted(&x, 10 * SEC, "", 1, 0, 1, one, 1);
	assert_int_equal(live_delta_apply(n2, (const uint8_t *)x.data, x.len, NULL), OODA_EINVAL);
	assert_same_points(n2, ref);
	/* the same entry well formed is applied */
	crafted(&x, 10 * SEC, "op", 2, 1, 3, two, 2);
	assert_int_equal(live_delta_apply(n2, (const uint8_t *)x.data, x.len, &err), 0);
	json_t *j = service_doc(n2, "api", fake_now, 600 * SEC);
	assert_int_equal((int)num(j, "requests"), 2);
	assert_int_equal((int)num(j, "errors"), 1);
	json_decref(j);
	buf_release(&d);
	buf_release(&x);
	buf_release(&err);
	tb_release(&a);
	tb_release(&b);
	live_destroy(n1);
	live_destroy(n2);
	live_destroy(ref);
}

/* Calls web -> api: web's root and CLIENT span in parents, api's SERVER span in children. */
static void cross_batches(struct tb *parents, struct tb *children, int n)
{
	for (int i = 0; i < n; i++) {
		uint64_t trace = 7000 + (uint64_t)i;
		int64_t end = T0 + (i % 3) * 10 * SEC + 2 * SEC;
		tb_span(parents, "web", "GET /", SPAN_SERVER, end, 40 * MS, STATUS_OK, trace, 1, 0);
		struct span *c = tb_span(parents, "web", "GET api", SPAN_CLIENT, end - MS, 30 * MS, STATUS_OK, trace, 2, 1);
		span_attr(parents, c, "peer.service", "api");
		tb_span(children, "api", "GET /x", SPAN_SERVER, end - 2 * MS, 20 * MS, i % 4 ? STATUS_OK : STATUS_ERROR,
			trace, 3, 2);
	}
}

/* The edges leaving source in a graph document, and the calls of the one to target. */
static void edges_from(struct live_signals *live, const char *source, const char *target, int *n_edges, int *calls,
		       int *errors)
{
	json_t *g = graph_doc(live, fake_now, 600 * SEC), *edges = json_object_get(g, "edges"), *e;
	size_t i;
	*n_edges = *calls = *errors = 0;
	json_array_foreach(edges, i, e) {
		if (strcmp(json_string_value(json_object_get(e, "source")), source))
			continue;
		(*n_edges)++;
		if (!strcmp(json_string_value(json_object_get(e, "target")), target)) {
			*calls += (int)num(e, "calls");
			*errors += (int)num(e, "errors");
		}
	}
	json_decref(g);
}

/*
 * A parent span on one node and its child on another still make the edge,
 * counted once on every node, whichever comes first; the CLIENT span the
 * remote child claimed makes no external edge; a third node that holds
 * neither counts the edge from the holder's delta only.
 */
static void test_delta_cross_node_edges(void **state)
{
	enum { N = 12, ERRS = 3 };
	for (int child_first = 0; child_first < 2; child_first++) {
		fake_now = T0 + 40 * SEC;
		struct live_signals *n1 = make_live((struct live_config){ 0 }); /* gets the parents */
		struct live_signals *n2 = make_live((struct live_config){ 0 }); /* gets the children */
		struct live_signals *n3 = make_live((struct live_config){ 0 }); /* gets neither */
		live_merge_enable(n1);
		live_merge_enable(n2);
		live_merge_enable(n3);
		struct tb parents, children;
		tb_init(&parents);
		tb_init(&children);
		cross_batches(&parents, &children, N);
		struct buf d1 = BUF_INIT, d2 = BUF_INIT, err = BUF_INIT;
		publish(n2, &children);
		/* 3 slots of api's RED and one waiting child per call */
		take(n2, &d2, 3 + N);
		if (child_first) { /* the child reaches n1 before the parent does */
			assert_int_equal(live_delta_apply(n1, (const uint8_t *)d2.data, d2.len, &err), 0);
			publish(n1, &parents);
		} else {
			publish(n1, &parents);
			assert_int_equal(live_delta_apply(n1, (const uint8_t *)d2.data, d2.len, &err), 0);
		}
		/* n1 sends web's RED and the edge, 3 slots each, and no waiting child (it has no parentless child) */
		take(n1, &d1, 6);
		assert_int_equal(live_delta_apply(n2, (const uint8_t *)d1.data, d1.len, &err), 0);
		assert_int_equal(live_delta_apply(n3, (const uint8_t *)d2.data, d2.len, &err), 0);
		assert_int_equal(live_delta_apply(n3, (const uint8_t *)d1.data, d1.len, &err), 0);
		take(n2, &d2, 0); /* n2 does not send on what it read */
		take(n3, &d2, 0); /* nor does n3 make an edge from a child it cannot match */
		/* after the matching window: no external edge from the claimed CLIENT spans, nothing twice */
		fake_now += 120 * SEC;
		struct live_signals *all[] = { n1, n2, n3 };
		for (size_t k = 0; k < 3; k++) {
			live_expire(all[k]);
			int edges, calls, errors;
			edges_from(all[k], "web", "api", &edges, &calls, &errors);
			assert_int_equal(edges, 1);
			assert_int_equal(calls, N);
			assert_int_equal(errors, ERRS);
		}
		struct live_stats st;
		live_stats_get(n1, &st);
		assert_int_equal(st.remote_edges, N);
		assert_int_equal(st.waits_received, N);
		live_stats_get(n2, &st);
		assert_int_equal(st.waits_sent, N);
		live_stats_get(n3, &st);
		assert_int_equal(st.unmatched_children, 0); /* another node's children are not this node's loss */
		buf_release(&d1);
		buf_release(&d2);
		buf_release(&err);
		tb_release(&parents);
		tb_release(&children);
		live_destroy(n1);
		live_destroy(n2);
		live_destroy(n3);
	}
}

/* A delta with waiting children: every truncation is refused, and so are bad flags and times. */
static void test_delta_bad_wait(void **state)
{
	fake_now = T0 + 40 * SEC;
	struct live_signals *n1 = make_live((struct live_config){ 0 });
	struct live_signals *n2 = make_live((struct live_config){ 0 });
	struct live_signals *ref = make_live((struct live_config){ 0 });
	live_merge_enable(n1);
	struct tb parents, children;
	tb_init(&parents);
	tb_init(&children);
	cross_batches(&parents, &children, 2);
	publish(n1, &children);
	struct buf d = BUF_INIT, err = BUF_INIT, x = BUF_INIT;
	take(n1, &d, 2 + 2);
	for (size_t len = 0; len < d.len; len++)
		assert_int_equal(live_delta_apply(n2, (const uint8_t *)d.data, len, NULL), OODA_EINVAL);
	/* the last byte is the last child's error flag: 2 is neither 0 nor 1 */
	buf_reset(&x);
	buf_add(&x, d.data, d.len);
	((uint8_t *)x.data)[x.len - 1] = 2;
	assert_int_equal(live_delta_apply(n2, (const uint8_t *)x.data, x.len, &err), OODA_EINVAL);
	assert_non_null(strstr(err.data, "error flag"));
	assert_same_points(n2, ref);
	struct live_stats st;
	live_stats_get(n2, &st);
	assert_int_equal(st.waits_received, 0);
	assert_int_equal(live_delta_apply(n2, (const uint8_t *)d.data, d.len, &err), 0);
	live_stats_get(n2, &st);
	assert_int_equal(st.waits_received, 2);
	buf_release(&d);
	buf_release(&x);
	buf_release(&err);
	tb_release(&parents);
	tb_release(&children);
	live_destroy(n1);
	live_destroy(n2);
	live_destroy(ref);
}

/* ---- JSON views ---- */

static void test_services_json(void **state)
{
	fake_now = T0 + 5 * SEC;
	struct live_signals *live = make_live((struct live_config){ 0 });
	struct tb t;
	tb_init(&t);
	for (int i = 0; i < 30; i++)
		tb_span(&t, "api", "op", SPAN_SERVER, T0 + SEC, 4 * MS, STATUS_OK, 1, (uint64_t)i + 1, 0);
	const struct resource *wr = tb_res(&t, "worker");
	for (int i = 0; i < 12; i++)
		t.b.logs[t.b.n_logs++] = (struct log_record){ .time_ns = T0, .resource = wr };
	for (int i = 0; i < 6; i++)
		t.b.points[t.b.n_points++] = (struct metric_point){ .name = "x", .resource = wr };
	publish(live, &t);

	struct buf out = BUF_INIT, err = BUF_INIT;
	assert_int_equal(live_services_json(live, fake_now, 60 * SEC, &out, &err), 0);
	json_t *j = parse(&out);
	assert_int_equal(json_array_size(j), 2);
	json_t *api = json_array_get(j, 0), *worker = json_array_get(j, 1);
	assert_string_equal(json_string_value(json_object_get(api, "service")), "api");
	assert_string_equal(json_string_value(json_object_get(worker, "service")), "worker");
	static const char *const fields[] = { "requests", "errors", "rate", "error_ratio",
					      "p50_ms", "p90_ms", "p99_ms", "ingest", "last_seen" };
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		assert_non_null(json_object_get(api, fields[i]));
		assert_non_null(json_object_get(worker, fields[i]));
	}
	assert_float_equal(num(api, "rate"), 0.5, 1e-9);
	assert_float_equal(num(json_object_get(api, "ingest"), "spans_per_s"), 0.5, 1e-9);
	assert_float_equal(num(json_object_get(worker, "ingest"), "logs_per_s"), 0.2, 1e-9);
	assert_float_equal(num(json_object_get(worker, "ingest"), "points_per_s"), 0.1, 1e-9);
	assert_true(json_is_null(json_object_get(worker, "p99_ms")));
	assert_true(json_is_null(json_object_get(worker, "error_ratio")));
	char ts[40];
	ooda_time_format(fake_now, ts, sizeof(ts));
	assert_string_equal(json_string_value(json_object_get(api, "last_seen")), ts);
	json_decref(j);

	/* Unknown service, bad window: errors, nothing appended. */
	buf_reset(&out);
	assert_int_equal(live_service_json(live, "nope", fake_now, 60 * SEC, &out, &err),
			 OODA_ENOTFOUND);
	assert_int_equal(out.len, 0);
	assert_true(err.len > 0);
	assert_int_equal(live_graph_json(live, fake_now, 0, &out, &err), OODA_EINVAL);
	assert_int_equal(live_services_json(live, -1, 60 * SEC, &out, &err), OODA_EINVAL);

	/* Graph with no edges still has the busy service as a node. */
	json_t *g = graph_doc(live, fake_now, 60 * SEC);
	assert_int_equal(json_array_size(json_object_get(g, "edges")), 0);
	json_t *node = json_array_get(json_object_get(g, "nodes"), 0);
	assert_string_equal(json_string_value(json_object_get(node, "id")), "api");
	assert_int_equal((int)num(node, "requests"), 30);
	json_decref(g);
	buf_release(&out);
	buf_release(&err);
	tb_release(&t);
	live_destroy(live);
}

/* Names are data: odd bytes and very long names come back as valid JSON. */
static void test_odd_names(void **state)
{
	fake_now = T0 + 5 * SEC;
	struct live_signals *live = make_live((struct live_config){ 0 });
	struct tb t;
	tb_init(&t);
	char longname[600];
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	tb_span(&t, "a\"b\\c\n", "q\x01", SPAN_SERVER, T0 + SEC, MS, STATUS_OK, 1, 1, 0);
	tb_span(&t, longname, longname, SPAN_SERVER, T0 + SEC, MS, STATUS_OK, 1, 2, 0);
	struct span *sp = tb_span(&t, "c", NULL, SPAN_UNSPECIFIED, T0 + SEC, -5 * MS, STATUS_OK, 1, 3, 0);
	sp->resource = NULL;
	publish(live, &t);
	struct buf out = BUF_INIT, err = BUF_INIT;
	assert_int_equal(live_services_json(live, fake_now, 60 * SEC, &out, &err), 0);
	json_t *j = parse(&out);
	assert_int_equal(json_array_size(j), 3);
	size_t i;
	json_t *s;
	bool saw_unknown = false;
	json_array_foreach(j, i, s) {
		const char *name = json_string_value(json_object_get(s, "service"));
		assert_true(strlen(name) < LIVE_NAME_MAX);
		saw_unknown |= !strcmp(name, "unknown");
	}
	assert_true(saw_unknown);
	json_decref(j);
	assert_int_equal(live_publish(live, NULL), OODA_EINVAL);
	buf_release(&out);
	buf_release(&err);
	tb_release(&t);
	live_destroy(live);
}

/* Readers run while the writer publishes; the totals still come out exact. */
struct reader_ctx {
	struct live_signals *live;
	int rounds;
	int ok;
};

static void *reader(void *arg)
{
	struct reader_ctx *r = arg;
	struct buf out = BUF_INIT, err = BUF_INIT;
	for (int i = 0; i < r->rounds; i++) {
		buf_reset(&out);
		r->ok += live_services_json(r->live, T0 + 5 * SEC, 60 * SEC, &out, &err) == 0;
		buf_reset(&out);
		r->ok += live_graph_json(r->live, T0 + 5 * SEC, 60 * SEC, &out, &err) == 0;
	}
	buf_release(&out);
	buf_release(&err);
	return NULL;
}

static void test_concurrent_readers(void **state)
{
	fake_now = T0 + 5 * SEC;
	struct live_signals *live = make_live((struct live_config){ 0 });
	struct reader_ctx rc = { live, 200, 0 };
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, reader, &rc), 0);
	uint64_t id = 1;
	for (int b = 0; b < 100; b++) {
		struct tb t;
		tb_init(&t);
		for (int i = 0; i < 20; i++) {
			uint64_t trace = id;
			tb_span(&t, "front", "GET", SPAN_CLIENT, T0 + SEC, MS, STATUS_OK, trace, id, 0);
			tb_span(&t, "back", "GET", SPAN_SERVER, T0 + SEC, MS, STATUS_OK, trace, id + 1, id);
			id += 2;
		}
		publish(live, &t);
		tb_release(&t);
	}
	pthread_join(th, NULL);
	assert_int_equal(rc.ok, 400);
	json_t *g = graph_doc(live, fake_now, 60 * SEC);
	json_t *e = find_edge(g, "front", "back");
	assert_non_null(e);
	assert_int_equal((int)num(e, "calls"), 2000);
	json_decref(g);
	live_destroy(live);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_percentiles),
		cmocka_unit_test(test_delta_roundtrip),
		cmocka_unit_test(test_delta_bad),
		cmocka_unit_test(test_delta_cross_node_edges),
		cmocka_unit_test(test_delta_bad_wait),
		cmocka_unit_test(test_error_ratio),
		cmocka_unit_test(test_edge_parent_child),
		cmocka_unit_test(test_edge_external),
		cmocka_unit_test(test_edge_client_claimed),
		cmocka_unit_test(test_overflow),
		cmocka_unit_test(test_edge_limit),
		cmocka_unit_test(test_windows),
		cmocka_unit_test(test_snapshot),
		cmocka_unit_test(test_export),
		cmocka_unit_test(test_export_edge),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_fine_slots),
		cmocka_unit_test(test_fine_own_time),
		cmocka_unit_test(test_fine_slots_merged),
		cmocka_unit_test(test_services_json),
		cmocka_unit_test(test_odd_names),
		cmocka_unit_test(test_concurrent_readers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
