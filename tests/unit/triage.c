/*
 * Unit tests for triage on a temporary telemetry store filled through the
 * tstore API: a deploy on payments (B), then B's server spans turn to
 * errors and the frontend (A) calling it follows. The summary must name the
 * deploy with before_onset_s, give the error ratios and p90 of both against
 * the baseline, count the affected users, list only failing traces as
 * exemplars and the new error class; the rca input must hold B's series and
 * the edge A→B with the deploy as a change; the text names the suspect with
 * its change; the snapshot carries the edge's RED.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/error.h"
#include "core/time.h"
#include "detect/logclass.h"
#include "respond/rca.h"
#include "respond/triage.h"
#include "store/tstore.h"

#define SEC OODA_NS_PER_SEC
#define MS OODA_NS_PER_MS
#define N_BASE 90
#define N_INC 30

struct fixture {
	char dir[64];
	struct tstore *t;
	struct logclass *lc;
	struct arena a;
	int64_t onset, now;
	char failing[N_INC][33]; /* trace ids of the failing incident requests */
	size_t n_failing;
};

static struct resource res_a = { .service = "frontend" };
static struct resource res_b = { .service = "payments" };

static void ids(uint8_t trace[16], uint8_t *span, int k, int which)
{
	memset(trace, 0, 16);
	trace[0] = 0xab;
	trace[14] = (uint8_t)(k >> 8);
	trace[15] = (uint8_t)k;
	memset(span, 0, 8);
	span[0] = (uint8_t)which;
	span[6] = (uint8_t)(k >> 8);
	span[7] = (uint8_t)k;
}

static struct attrs user_attr(struct arena *a, int k)
{
	struct attrs at = { arena_zalloc(a, sizeof(struct attr)), 1 };
	at.v[0].key = "enduser.id";
	at.v[0].type = ATTR_STR;
	at.v[0].s = arena_printf(a, "u%d", k % 6);
	at.v[0].len = (uint32_t)strlen(at.v[0].s);
	return at;
}

/* One request: A server → A client → B server, B failing when err. */
static void request(struct fixture *f, struct span *sp, int k, int64_t t0, int64_t b_dur, bool err, bool users)
{
	struct span *as = &sp[0], *ac = &sp[1], *bs = &sp[2];
	memset(sp, 0, 3 * sizeof(struct span));
	ids(as->trace_id, as->span_id, k, 1);
	ids(ac->trace_id, ac->span_id, k, 2);
	ids(bs->trace_id, bs->span_id, k, 3);
	memcpy(ac->parent_span_id, as->span_id, 8);
	memcpy(bs->parent_span_id, ac->span_id, 8);
	ac->has_parent = bs->has_parent = true;
	as->name = "GET /checkout";
	ac->name = "POST payments/charge";
	bs->name = "POST /charge";
	as->kind = SPAN_SERVER;
	ac->kind = SPAN_CLIENT;
	bs->kind = SPAN_SERVER;
	as->resource = ac->resource = &res_a;
	bs->resource = &res_b;
	bs->start_ns = t0 + 2 * MS;
	bs->end_ns = bs->start_ns + b_dur;
	ac->start_ns = t0 + 1 * MS;
	ac->end_ns = bs->end_ns + MS;
	as->start_ns = t0;
	as->end_ns = ac->end_ns + 5 * MS;
	as->status = ac->status = bs->status = err ? STATUS_ERROR : STATUS_OK;
	if (users) {
		as->attrs = user_attr(&f->a, k);
		bs->attrs = user_attr(&f->a, k);
	}
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/ooda-triage-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	struct buf err = BUF_INIT;
	struct tstore_options opt = { .no_fsync = true };
	assert_int_equal(tstore_open(f->dir, &opt, &f->t, &err), 0);
	struct logclass_config lcfg = { .warmup_lines = 1 };
	assert_int_equal(logclass_create(&lcfg, &f->lc, &err), 0);
	arena_init(&f->a, 0);
	f->now = ooda_now_ns() / SEC * SEC;
	f->onset = f->now - 300 * SEC;

	/* the deploy of payments, 4 minutes before the onset */
	struct telemetry_batch ev = { .arena = &f->a };
	ev.events = arena_zalloc(&f->a, 3 * sizeof(struct change_event));
	ev.n_events = 3;
	/* a flag flipped without a service (filed under "flags"), 10 minutes before */
	ev.events[2] = (struct change_event){ .id = "f-1", .kind = "flag", .service = "flags",
					      .environment = "prod", .version = "v3", .actor = "bob",
					      .description = "flag new-pricing v3", .source = "api",
					      .time_ns = f->onset - 600 * SEC };
	/* and one of a service nobody involved calls: not a change of this incident */
	ev.events[1] = (struct change_event){ .id = "d-43", .kind = "deploy", .service = "search",
					      .environment = "prod", .version = "9.9", .actor = "ci",
					      .description = "search 9.9", .source = "api",
					      .time_ns = f->onset - 60 * SEC };
	ev.events[0] = (struct change_event){ .id = "d-42", .kind = "deploy", .service = "payments",
					      .environment = "prod", .version = "1.4.2", .actor = "ci",
					      .description = "payments 1.4.2", .source = "api",
					      .time_ns = f->onset - 240 * SEC };
	assert_int_equal(tstore_append(f->t, &ev, &err), 0);

	/* baseline: 90 good requests, B 20 ms */
	struct telemetry_batch b = { .arena = &f->a };
	b.spans = arena_zalloc(&f->a, 3 * (N_BASE + N_INC) * sizeof(struct span));
	for (int k = 0; k < N_BASE; k++)
		request(f, &b.spans[3 * k], k, f->onset - 900 * SEC + k * 10 * SEC, 20 * MS, false, false);
	/* incident: 30 requests, B 200 ms, every other one failing (users u0..u5) */
	for (int k = 0; k < N_INC; k++) {
		bool err_ = k % 2 == 0;
		request(f, &b.spans[3 * (N_BASE + k)], 1000 + k, f->onset + 5 * SEC + k * 10 * SEC, 200 * MS, err_, true);
		if (err_) {
			char hex[33];
			snprintf(hex, sizeof(hex), "ab%026d%04x", 0, 1000 + k);
			memcpy(f->failing[f->n_failing++], hex, 33);
		}
	}
	b.n_spans = 3 * (N_BASE + N_INC);
	assert_int_equal(tstore_append(f->t, &b, &err), 0);

	/* error logs of payments in the incident, one new class */
	struct telemetry_batch l = { .arena = &f->a };
	l.logs = arena_zalloc(&f->a, 12 * sizeof(struct log_record));
	for (int k = 0; k < 12; k++) {
		struct log_record *r = &l.logs[k];
		r->time_ns = r->observed_ns = f->onset + (10 + k * 20) * SEC;
		r->severity = 17;
		r->severity_text = "ERROR";
		r->body = arena_printf(&f->a, "connection pool exhausted after %d ms", 100 + k);
		r->body_len = (uint32_t)strlen(r->body);
		r->resource = &res_a;
		r->attrs = user_attr(&f->a, 100 + k);
	}
	l.n_logs = 12;
	assert_int_equal(tstore_append(f->t, &l, &err), 0);
	logclass_observe(f->lc, &l);
	buf_release(&err);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	logclass_destroy(f->lc);
	tstore_close(f->t);
	arena_release(&f->a);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static json_t *incident(struct fixture *f)
{
	char onset[40];
	ooda_time_format(f->onset, onset, sizeof(onset));
	return json_pack("{s:s, s:s, s:[s], s:s, s:s, s:s}", "id", "INC-7", "service", "frontend", "services",
			 "frontend", "onset_at", onset, "opened_at", onset, "status", "triggered");
}

/* A stand-in ranking: checks it got the input and names payments. */
static int rank_calls;
static const char *fake_named = "payments"; /* the node the stand-in ranks first */
static const char *fake_second;            /* and second, when set (score 2.0) */
static int fake_rank(const struct rca_input *in, struct rca_suspect **out, size_t *n, struct buf *err)
{
	(void)err;
	rank_calls++;
	assert_string_equal(in->target, "frontend");
	assert_true(in->n_series >= 6 && in->n_changes == 2);
	*out = calloc(1, sizeof(**out));
	(*out)[0].node = strdup(fake_named);
	(*out)[0].kind = strdup("service");
	(*out)[0].score = 3.5;
	(*out)[0].confidence = 0.82;
	(*out)[0].evidence = json_pack("[{s:s}]", "kind", "change");
	*n = 1;
	if (fake_second) {
		*out = realloc(*out, 2 * sizeof(**out));
		(*out)[1] = (struct rca_suspect){ .node = strdup(fake_second), .kind = strdup("service"), .score = 2.0,
						  .confidence = 0.5, .evidence = json_array() };
		*n = 2;
	}
	return 0;
}

static void fake_free(struct rca_suspect *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(s[i].node);
		free(s[i].kind);
		json_decref(s[i].evidence);
	}
	free(s);
}

static const json_t *service_of(const json_t *summary, const char *name)
{
	size_t i;
	const json_t *o;
	json_array_foreach(json_object_get(json_object_get(summary, "impact"), "services"), i, o) if (
		!strcmp(json_string_value(json_object_get(o, "service")), name)) return o;
	fail_msg("service %s not in impact", name);
	return NULL;
}

static double at2(const json_t *o, const char *a, const char *b)
{
	const json_t *v = json_object_get(json_object_get(o, a), b);
	assert_true(json_is_number(v));
	return json_number_value(v);
}

static void test_summary(void **state)
{
	struct fixture *f = *state;
	struct triage_deps deps = { .tstore = f->t, .logclass = f->lc, .rank = fake_rank, .rank_free = fake_free };
	json_t *inc = incident(f), *s;
	struct buf err = BUF_INIT;
	assert_int_equal(triage_compute(&deps, inc, f->now, &s, &err), 0);

	/* changes: the deploy of the callee, 240 s before the onset */
	json_t *ch = json_array_get(json_object_get(s, "changes"), 0);
	assert_non_null(ch);
	assert_string_equal(json_string_value(json_object_get(ch, "id")), "d-42");
	assert_string_equal(json_string_value(json_object_get(ch, "kind")), "deploy");
	assert_string_equal(json_string_value(json_object_get(ch, "service")), "payments");
	assert_float_equal(json_number_value(json_object_get(ch, "before_onset_s")), 240.0, 1e-6);
	/* the global flag flip too, older; not search's deploy */
	assert_int_equal(json_array_size(json_object_get(s, "changes")), 2);
	ch = json_array_get(json_object_get(s, "changes"), 1);
	assert_string_equal(json_string_value(json_object_get(ch, "id")), "f-1");
	assert_float_equal(json_number_value(json_object_get(ch, "before_onset_s")), 600.0, 1e-6);
	assert_true(json_is_false(json_object_get(json_object_get(s, "window"), "truncated")));

	/* impact: error ratio and p90 against the baseline, both services */
	const json_t *b = service_of(s, "payments"), *a = service_of(s, "frontend");
	assert_float_equal(at2(b, "baseline", "error_ratio"), 0.0, 1e-9);
	assert_float_equal(at2(b, "incident", "error_ratio"), 0.5, 1e-9);
	assert_float_equal(at2(b, "baseline", "requests"), N_BASE, 0);
	assert_float_equal(at2(b, "incident", "requests"), N_INC, 0);
	assert_float_equal(at2(b, "baseline", "p90_ms"), 20.0, 1e-6);
	assert_float_equal(at2(b, "incident", "p90_ms"), 200.0, 1e-6);
	assert_float_equal(at2(a, "incident", "error_ratio"), 0.5, 1e-9);
	assert_float_equal(at2(a, "incident", "p90_ms"), 208.0, 1e-6);
	assert_true(json_is_true(json_object_get(a, "involved")));
	assert_true(json_is_false(json_object_get(b, "involved")));
	json_t *imp = json_object_get(s, "impact");
	assert_int_equal(json_integer_value(json_object_get(imp, "requests")), N_INC);
	assert_int_equal(json_integer_value(json_object_get(imp, "errors")), N_INC / 2);
	/* users of failing requests: k even → u0, u2, u4; error logs add u4 (100 % 6), u5, u0, u1, u2, u3 → 6 */
	assert_int_equal(json_integer_value(json_object_get(imp, "affected_users")), 6);
	json_t *op = json_array_get(json_object_get(imp, "operations"), 0);
	assert_int_equal(json_integer_value(json_object_get(op, "errors")), N_INC / 2);

	/* exemplars: only failing traces */
	json_t *ex = json_object_get(s, "exemplar_traces");
	assert_true(json_array_size(ex) > 0);
	size_t i;
	json_t *o;
	json_array_foreach(ex, i, o) {
		bool found = false;
		for (size_t k = 0; k < f->n_failing; k++)
			found |= !strcmp(f->failing[k], json_string_value(json_object_get(o, "trace_id")));
		if (!found)
			fail_msg("exemplar %s is not a failing trace", json_string_value(json_object_get(o, "trace_id")));
	}
	/* signals: payments' error ratio far above its baseline */
	assert_true(json_array_size(json_object_get(s, "signals")) > 0);
	/* the new error class with an example line */
	json_t *ec = json_array_get(json_object_get(s, "error_classes"), 0);
	assert_non_null(ec);
	assert_true(json_is_true(json_object_get(ec, "new")));
	assert_non_null(strstr(json_string_value(json_object_get(ec, "example")), "connection pool exhausted"));
	/* suspects from the ranking */
	assert_int_equal(rank_calls, 1);
	json_t *sus = json_array_get(json_object_get(s, "suspects"), 0);
	assert_string_equal(json_string_value(json_object_get(sus, "node")), "payments");

	/* the one-screen text */
	struct buf text = BUF_INIT;
	triage_render_text(s, &text);
	assert_non_null(strstr(text.data, "Impact:"));
	assert_non_null(strstr(text.data, "payments (neighbour): errors 50.0% (baseline 0.0%), p90 200ms (baseline 20ms)"));
	assert_non_null(strstr(text.data, "Changes: deploy payments 1.4.2 d-42, 4m before onset"));
	assert_non_null(strstr(text.data, "Suspects: 1. payments (0.82) deploy d-42 4m before onset"));
	buf_release(&text);
	json_decref(s);

	/* no ranking wired: no suspects, still a summary */
	deps.rank = NULL;
	assert_int_equal(triage_compute(&deps, inc, f->now, &s, &err), 0);
	assert_int_equal(json_array_size(json_object_get(s, "suspects")), 0);
	json_decref(s);
	/* past the span bound the answer says it is partial */
	deps.max_spans = 10;
	assert_int_equal(triage_compute(&deps, inc, f->now, &s, &err), 0);
	assert_true(json_is_true(json_object_get(json_object_get(s, "window"), "truncated")));
	json_decref(s);

	/* the ranking naming a service with no failures: every failing request since the onset began
	 * in payments (its own server span failed, nothing below it), so payments goes first */
	deps.max_spans = 0;
	deps.rank = fake_rank;
	fake_named = "search";
	assert_int_equal(triage_compute(&deps, inc, f->now, &s, &err), 0);
	json_t *list = json_object_get(s, "suspects");
	assert_int_equal(json_array_size(list), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "node")), "payments");
	assert_true(json_real_value(json_object_get(json_array_get(list, 0), "score")) >= 3.5);
	json_t *ev0 = json_array_get(json_object_get(json_array_get(list, 0), "evidence"), 0);
	assert_string_equal(json_string_value(json_object_get(ev0, "kind")), "error_origin");
	assert_int_equal(json_integer_value(json_object_get(ev0, "failures")), N_INC / 2);
	assert_int_equal(json_integer_value(json_object_get(ev0, "of")), N_INC / 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 1), "node")), "search");
	json_decref(s);
	fake_named = "payments";

	/* the own-signal cases: an incident whose service sends nothing since its onset (one second
	 * ago), so no failing request says where it began and the ranking's order is what moves */
	char late[40];
	ooda_time_format(f->now - SEC, late, sizeof(late));
	json_object_set_new(inc, "onset_at", json_string(late));
	json_object_set_new(inc, "opened_at", json_string(late));
	/* a missed heartbeat is the service's own signal: it comes first, the ranking after it */
	json_object_set_new(inc, "source", json_pack("{s:s, s:s}", "kind", "alert", "name", "heartbeat:nightly"));
	assert_int_equal(triage_compute(&deps, inc, f->now, &s, &err), 0);
	list = json_object_get(s, "suspects");
	assert_int_equal(json_array_size(list), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "node")), "frontend");
	ev0 = json_array_get(json_object_get(json_array_get(list, 0), "evidence"), 0);
	assert_string_equal(json_string_value(json_object_get(ev0, "kind")), "own_signal");
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 1), "node")), "payments");
	json_decref(s);
	/* a failing probe, the ranking naming a dependency of the service (payments, below frontend):
	 * the health check may fail because of it, so the ranking's order stays and the probe is evidence */
	json_object_set_new(inc, "source", json_pack("{s:s, s:s}", "kind", "alert", "name", "probe:frontend/health"));
	assert_int_equal(triage_compute(&deps, inc, f->now, &s, &err), 0);
	list = json_object_get(s, "suspects");
	assert_int_equal(json_array_size(list), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "node")), "payments");
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 1), "node")), "frontend");
	ev0 = json_array_get(json_object_get(json_array_get(list, 1), "evidence"), 0);
	assert_string_equal(json_string_value(json_object_get(ev0, "kind")), "own_signal");
	assert_non_null(strstr(json_string_value(json_object_get(ev0, "detail")), "probe"));
	json_decref(s);
	/* the ranking naming a service that is not below frontend (nothing frontend calls): the probe comes first */
	fake_named = "search";
	assert_int_equal(triage_compute(&deps, inc, f->now, &s, &err), 0);
	list = json_object_get(s, "suspects");
	assert_int_equal(json_array_size(list), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "node")), "frontend");
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 1), "node")), "search");
	json_decref(s);
	/* a caller or unrelated service ranked first and a dependency second: the silent service goes
	 * ahead of both (only dependencies at the very top stay ahead of it) */
	fake_named = "search";
	fake_second = "payments";
	assert_int_equal(triage_compute(&deps, inc, f->now, &s, &err), 0);
	list = json_object_get(s, "suspects");
	assert_int_equal(json_array_size(list), 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "node")), "frontend");
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 1), "node")), "search");
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 2), "node")), "payments");
	json_decref(s);
	/* the dependency first, an unrelated service second: dependency, then the service, then the rest */
	fake_named = "payments";
	fake_second = "search";
	assert_int_equal(triage_compute(&deps, inc, f->now, &s, &err), 0);
	list = json_object_get(s, "suspects");
	assert_int_equal(json_array_size(list), 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "node")), "payments");
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 1), "node")), "frontend");
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 2), "node")), "search");
	json_decref(s);
	/* ranked itself, behind an unrelated service: moved ahead of it, its score raised to match */
	fake_named = "search";
	fake_second = "frontend";
	assert_int_equal(triage_compute(&deps, inc, f->now, &s, &err), 0);
	list = json_object_get(s, "suspects");
	assert_int_equal(json_array_size(list), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "node")), "frontend");
	assert_true(json_real_value(json_object_get(json_array_get(list, 0), "score")) >= 3.5);
	json_decref(s);
	fake_second = NULL;
	/* the ranking naming the service itself: one entry, the probe's evidence first, then the ranking's */
	fake_named = "frontend";
	assert_int_equal(triage_compute(&deps, inc, f->now, &s, &err), 0);
	fake_named = "payments";
	list = json_object_get(s, "suspects");
	assert_int_equal(json_array_size(list), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "node")), "frontend");
	json_t *ev = json_object_get(json_array_get(list, 0), "evidence");
	assert_int_equal(json_array_size(ev), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(ev, 0), "kind")), "own_signal");
	assert_string_equal(json_string_value(json_object_get(json_array_get(ev, 1), "kind")), "change");
	json_decref(s);
	json_decref(inc);
	buf_release(&err);
}

static const struct rca_series *series(const struct rca_input *in, const char *node, const char *metric)
{
	for (size_t i = 0; i < in->n_series; i++)
		if (!strcmp(in->series[i].node, node) && !strcmp(in->series[i].metric, metric))
			return &in->series[i];
	return NULL;
}

static void test_rca_input(void **state)
{
	struct fixture *f = *state;
	struct triage_deps deps = { .tstore = f->t, .step_ns = 60 * SEC };
	json_t *inc = incident(f);
	struct triage_rca r;
	struct buf err = BUF_INIT;
	assert_int_equal(triage_rca_input(&deps, inc, f->now, &r, &err), 0);
	assert_string_equal(r.in.target, "frontend");
	assert_int_equal(r.in.onset_s, f->onset / SEC);
	/* B's series over baseline + incident, one point per minute */
	const struct rca_series *er = series(&r.in, "payments", "error_ratio");
	const struct rca_series *p90 = series(&r.in, "payments", "latency_p90");
	assert_non_null(er);
	assert_non_null(p90);
	assert_non_null(series(&r.in, "payments", "rate"));
	assert_int_equal(er->n, 21); /* 15 + 5 minutes, and the minute holding now */
	for (size_t i = 1; i < er->n; i++)
		assert_true(er->t_s[i] == er->t_s[i - 1] + 60);
	double before = 0, after = 0;
	for (size_t i = 0; i < er->n; i++) {
		if (er->t_s[i] + 60 <= f->onset / SEC)
			before = fmax(before, er->v[i]);
		else if (er->t_s[i] >= f->onset / SEC)
			after = fmax(after, er->v[i]);
	}
	assert_float_equal(before, 0.0, 1e-9);
	assert_true(after >= 0.5);
	assert_float_equal(p90->v[0], 20.0, 1e-6);
	assert_float_equal(p90->v[er->n - 2], 200.0, 1e-6);
	/* the edge A→B and its series */
	bool edge = false;
	for (size_t i = 0; i < r.in.n_edges; i++)
		edge |= !strcmp(r.in.edges[i].caller, "frontend") && !strcmp(r.in.edges[i].callee, "payments");
	assert_true(edge);
	assert_non_null(series(&r.in, "frontend->payments", "error_ratio"));
	/* the deploy as a change on payments */
	assert_int_equal(r.in.n_changes, 2);
	assert_string_equal(r.in.changes[0].node, "payments");
	assert_string_equal(r.in.changes[0].kind, "deploy");
	assert_string_equal(r.in.changes[0].ref, "d-42");
	assert_int_equal(r.in.changes[0].at_s, f->onset / SEC - 240);
	triage_rca_release(&r);


	/* a window that starts before the system sent anything: the rate of the steps before the
	 * first span is missing (NaN), not zero traffic, so it cannot "rise from 0" at the system's
	 * start; the error ratio and latency keep their neutral fill */
	struct triage_deps longer = deps;
	longer.baseline_ns = 1800 * SEC; /* 15 min before the first span */
	assert_int_equal(triage_rca_input(&longer, inc, f->now, &r, &err), 0);
	const struct rca_series *rate = series(&r.in, "payments", "rate");
	er = series(&r.in, "payments", "error_ratio");
	p90 = series(&r.in, "payments", "latency_p90");
	assert_non_null(rate);
	size_t missing = 0, measured = 0;
	for (size_t i = 0; i < rate->n; i++) {
		if (rate->t_s[i] + 60 <= (f->onset - 900 * SEC) / SEC) {
			assert_true(isnan(rate->v[i]));
			assert_float_equal(er->v[i], 0.0, 1e-9);
			assert_float_equal(p90->v[i], 20.0, 1e-6);
			missing++;
		} else if (rate->t_s[i] + 60 <= f->onset / SEC) {
			assert_true(rate->v[i] > 0); /* one request every 10 s in the baseline */
			measured++;
		}
	}
	assert_true(missing >= 14 && measured >= 14);
	triage_rca_release(&r);

	/* a declared dependency joins the graph without traffic */
	json_t *svcs = json_pack("[{s:s, s:[s]}]", "name", "frontend", "dependencies", "sessions");
	deps.services = svcs;
	assert_int_equal(triage_rca_input(&deps, inc, f->now, &r, &err), 0);
	edge = false;
	for (size_t i = 0; i < r.in.n_edges; i++)
		edge |= !strcmp(r.in.edges[i].caller, "frontend") && !strcmp(r.in.edges[i].callee, "sessions");
	assert_true(edge);
	triage_rca_release(&r);
	json_decref(svcs);

	/* an incident without onset is refused with the reason */
	json_t *bad = json_pack("{s:s, s:s}", "id", "INC-8", "service", "frontend");
	buf_reset(&err);
	assert_int_equal(triage_rca_input(&deps, bad, f->now, &r, &err), OODA_EINVAL);
	assert_non_null(strstr(err.data, "onset_at"));
	triage_rca_release(&r);
	json_decref(bad);
	json_decref(inc);
	buf_release(&err);
}

/*
 * A callee that is down sends no span at all: web's calls to cart fail
 * before they reach it. The edge web->cart is measured from web's CLIENT
 * spans (the peer they name, peer.service), so it shows the failure cart's
 * own spans cannot, and the ranking puts cart ahead of web, whose errors
 * follow it. Without the peer attribute the failed calls name no callee and
 * the edge has no series.
 */
static struct resource res_web = { .service = "web" };
static struct resource res_cart = { .service = "cart" };

static void web_call_ms(struct fixture *f, struct span *sp, int k, int64_t t0, bool down, bool peer, int cart_ms)
{
	struct span *ws = &sp[0], *wc = &sp[1], *cs = &sp[2];
	memset(sp, 0, 3 * sizeof(struct span));
	ids(ws->trace_id, ws->span_id, 5000 + k, 4);
	ids(wc->trace_id, wc->span_id, 5000 + k, 5);
	ids(cs->trace_id, cs->span_id, 5000 + k, 6);
	memcpy(wc->parent_span_id, ws->span_id, 8);
	memcpy(cs->parent_span_id, wc->span_id, 8);
	wc->has_parent = cs->has_parent = true;
	ws->name = "GET /basket";
	wc->name = "GET /items";
	cs->name = "GET /items";
	ws->kind = SPAN_SERVER;
	wc->kind = SPAN_CLIENT;
	cs->kind = SPAN_SERVER;
	ws->resource = wc->resource = &res_web;
	cs->resource = &res_cart;
	ws->start_ns = t0;
	wc->start_ns = cs->start_ns = t0 + MS;
	cs->end_ns = t0 + (1 + cart_ms) * MS;
	wc->end_ns = down ? t0 + 2 * MS : cs->end_ns + MS; /* refused at once */
	ws->end_ns = wc->end_ns + MS;
	ws->status = wc->status = down ? STATUS_ERROR : STATUS_OK;
	if (peer) {
		wc->attrs.v = arena_zalloc(&f->a, sizeof(struct attr));
		wc->attrs.n = 1;
		wc->attrs.v[0] = (struct attr){ .key = "peer.service", .type = ATTR_STR, .s = "cart", .len = 4 };
	}
}

static void web_call(struct fixture *f, struct span *sp, int k, int64_t t0, bool down, bool peer)
{
	web_call_ms(f, sp, k, t0, down, peer, 8);
}

static void callee_down(struct fixture *f, bool peer)
{
	struct buf err = BUF_INIT;
	struct telemetry_batch b = { .arena = &f->a };
	b.spans = arena_zalloc(&f->a, 3 * (N_BASE + N_INC) * sizeof(struct span));
	for (int k = 0; k < N_BASE + N_INC; k++) {
		bool down = k >= N_BASE;
		int64_t t0 = down ? f->onset + 5 * SEC + (k - N_BASE) * 10 * SEC : f->onset - 900 * SEC + k * 10 * SEC;
		web_call(f, &b.spans[b.n_spans], k, t0, down, peer);
		b.n_spans += down ? 2 : 3; /* cart, down, sends nothing */
	}
	assert_int_equal(tstore_append(f->t, &b, &err), 0);
	buf_release(&err);
}

static json_t *web_incident(struct fixture *f)
{
	char onset[40];
	ooda_time_format(f->onset, onset, sizeof(onset));
	return json_pack("{s:s, s:s, s:[s], s:s, s:s, s:s}", "id", "INC-9", "service", "web", "services", "web",
			 "onset_at", onset, "opened_at", onset, "status", "triggered");
}

/* cart down (web's failed calls naming it or not), web's incident, cart declared, and its rca input. */
struct down {
	json_t *svcs, *inc;
	struct triage_deps deps;
	struct triage_rca r;
	struct buf err;
};

static void down_open(struct fixture *f, bool peer, struct down *x)
{
	callee_down(f, peer);
	x->svcs = json_pack("[{s:s, s:[s]}]", "name", "web", "dependencies", "cart");
	x->deps = (struct triage_deps){ .tstore = f->t, .step_ns = 60 * SEC, .services = x->svcs };
	x->inc = web_incident(f);
	buf_init(&x->err);
	assert_int_equal(triage_rca_input(&x->deps, x->inc, f->now, &x->r, &x->err), 0);
}

static void down_close(struct down *x)
{
	triage_rca_release(&x->r);
	json_decref(x->inc);
	json_decref(x->svcs);
	buf_release(&x->err);
}

static void test_callee_down(void **state)
{
	struct fixture *f = *state;
	struct down x;
	down_open(f, true, &x);
	/* the edge as web saw it: every call failed since the onset, none before */
	const struct rca_series *er = series(&x.r.in, "web->cart", "error_ratio");
	const struct rca_series *rate = series(&x.r.in, "web->cart", "rate");
	assert_non_null(er);
	assert_non_null(rate);
	double before = 0, after = 0, rate_after = 0;
	for (size_t i = 0; i < er->n; i++) {
		if (er->t_s[i] + 60 <= f->onset / SEC)
			before = fmax(before, er->v[i]);
		else if (er->t_s[i] >= f->onset / SEC && er->t_s[i] + 60 <= f->now / SEC) {
			after = fmax(after, er->v[i]);
			rate_after = fmax(rate_after, rate->v[i]);
		}
	}
	assert_float_equal(before, 0.0, 1e-9);
	assert_float_equal(after, 1.0, 1e-9);
	assert_true(rate_after > 0); /* the calls went on: only their answers changed */

	/* the real ranking: cart, which sent nothing, ahead of web */
	x.deps.rank = rca_rank;
	x.deps.rank_free = rca_suspects_free;
	json_t *s = NULL;
	assert_int_equal(triage_compute(&x.deps, x.inc, f->now, &s, &x.err), 0);
	const json_t *top = json_array_get(json_object_get(s, "suspects"), 0);
	assert_non_null(top);
	assert_string_equal(json_string_value(json_object_get(top, "node")), "cart");
	/* and the traces say where the failures began: in cart, which no call reached */
	const json_t *ev = json_array_get(json_object_get(top, "evidence"), 0);
	assert_string_equal(json_string_value(json_object_get(ev, "kind")), "error_origin");
	assert_int_equal(json_integer_value(json_object_get(ev, "failures")), N_INC);
	assert_int_equal(json_integer_value(json_object_get(ev, "of")), N_INC);
	json_decref(s);
	down_close(&x);
}

static void test_callee_down_no_peer(void **state)
{
	struct fixture *f = *state;
	struct down x;
	down_open(f, false, &x);
	/* the baseline's calls reached cart (its server spans name it); the failed ones name nothing */
	const struct rca_series *er = series(&x.r.in, "web->cart", "error_ratio");
	assert_non_null(er);
	for (size_t i = 0; i < er->n; i++)
		assert_float_equal(er->v[i], 0.0, 1e-9);
	down_close(&x);
}

/*
 * cart ten times slower (8 ms to 80 ms of its own work), no error: web's
 * latency incident. web is slower by as much as cart, and payments (the
 * fixture's other incident, 20 ms to 200 ms, in traces web never touched)
 * slower still; the traces say the time added in web's requests was spent
 * in cart.
 */
static void test_callee_slow(void **state)
{
	struct fixture *f = *state;
	struct buf err = BUF_INIT;
	struct telemetry_batch b = { .arena = &f->a };
	b.spans = arena_zalloc(&f->a, 3 * (N_BASE + N_INC) * sizeof(struct span));
	for (int k = 0; k < N_BASE + N_INC; k++) {
		bool slow = k >= N_BASE;
		int64_t t0 = slow ? f->onset + 5 * SEC + (k - N_BASE) * 10 * SEC : f->onset - 900 * SEC + k * 10 * SEC;
		web_call_ms(f, &b.spans[b.n_spans], k, t0, false, true, slow ? 80 : 8);
		b.n_spans += 3;
	}
	assert_int_equal(tstore_append(f->t, &b, &err), 0);
	json_t *svcs = json_pack("[{s:s, s:[s]}]", "name", "web", "dependencies", "cart");
	struct triage_deps deps = { .tstore = f->t, .step_ns = 60 * SEC, .services = svcs, .rank = rca_rank,
				    .rank_free = rca_suspects_free };
	json_t *inc = web_incident(f), *s = NULL;
	assert_int_equal(triage_compute(&deps, inc, f->now, &s, &err), 0);
	const json_t *top = json_array_get(json_object_get(s, "suspects"), 0);
	assert_non_null(top);
	assert_string_equal(json_string_value(json_object_get(top, "node")), "cart");
	const json_t *ev = json_array_get(json_object_get(top, "evidence"), 0);
	assert_string_equal(json_string_value(json_object_get(ev, "kind")), "latency_origin");
	/* 72 ms more in each of the 30 requests, all of it cart's own work */
	assert_float_equal(json_number_value(json_object_get(ev, "added_ms")), 72.0 * N_INC, 1e-6);
	assert_float_equal(json_number_value(json_object_get(ev, "of_ms")), 72.0 * N_INC, 1e-6);
	/* per span: cart's server span and web's call to it (1 ms on the wire), (80 + 1) / 2 and (8 + 1) / 2 */
	assert_float_equal(json_number_value(json_object_get(ev, "own_ms")), 40.5, 1e-6);
	assert_float_equal(json_number_value(json_object_get(ev, "before_ms")), 4.5, 1e-6);
	json_decref(s);
	json_decref(inc);
	json_decref(svcs);
	buf_release(&err);
}

static void test_snapshot(void **state)
{
	struct fixture *f = *state;
	struct triage_deps deps = { .tstore = f->t, .logclass = f->lc };
	json_t *inc = incident(f), *s;
	struct buf err = BUF_INIT;
	assert_int_equal(triage_snapshot(&deps, inc, f->now, &s, &err), 0);
	json_t *e = json_array_get(json_object_get(json_object_get(s, "red"), "edges"), 0);
	assert_non_null(e);
	assert_string_equal(json_string_value(json_object_get(e, "source")), "frontend");
	assert_string_equal(json_string_value(json_object_get(e, "target")), "payments");
	assert_float_equal(at2(e, "incident", "error_ratio"), 0.5, 1e-9);
	assert_float_equal(at2(e, "baseline", "requests"), N_BASE, 0);
	json_t *ex = json_array_get(json_object_get(s, "exemplar_traces"), 0);
	json_t *root = json_object_get(ex, "root");
	assert_string_equal(json_string_value(json_object_get(root, "service")), "frontend");
	assert_string_equal(json_string_value(json_object_get(root, "status")), "error");
	assert_int_equal(json_integer_value(json_object_get(ex, "spans")), 3);
	assert_int_equal(json_array_size(json_object_get(s, "changes")), 2);
	assert_true(json_is_array(json_object_get(s, "probes")) && json_is_array(json_object_get(s, "flags")));
	json_decref(s);
	json_decref(inc);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_summary, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rca_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_callee_down, setup, teardown),
		cmocka_unit_test_setup_teardown(test_callee_down_no_peer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_callee_slow, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
