/* Unit tests for the alerting core, alert rules and the Alertmanager
 * decoder: lifecycle with for/keep_firing_for on explicit times, dedup,
 * grouping and inhibition over a given graph, silences, severity mapping,
 * annotation templates, rule validation and evaluation; the reload a
 * node makes before it leads (on a SQLite store in a temporary dir). No
 * sleeps. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/error.h"
#include "core/time.h"
#include "detect/alerts.h"
#include "detect/engine.h"
#include "detect/rules.h"
#include "ingest/alertmanager.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S OODA_NS_PER_SEC
static const int64_t T0 = INT64_C(1700000000) * OODA_NS_PER_SEC;

static struct alerts *mk(void)
{
	struct alerts *a;
	struct buf err = BUF_INIT;
	assert_int_equal(alerts_create(NULL, NULL, NULL, &a, &err), 0);
	buf_release(&err);
	return a;
}

static void sig(struct alerts *a, const char *name, const char *service, json_t *labels, bool active, int64_t at,
		int64_t for_ns, int64_t keep_ns)
{
	json_t *ev = json_pack("{s:f}", "value", active ? 42.0 : 1.0);
	struct alert_signal s = { .source = "test", .name = name, .service = service, .labels = labels,
				  .evidence = ev, .active = active, .at_ns = at, .for_ns = for_ns,
				  .keep_firing_for_ns = keep_ns, .severity = SEVERITY_PAGE };
	alerts_signal(a, &s);
	json_decref(ev);
}

static enum alert_state state_of(struct alerts *a, const char *name, const char *service, json_t *labels,
				 bool *notify)
{
	char fp[17];
	alerts_fingerprint(name, service, labels, fp);
	enum alert_state st;
	bool n;
	if (alerts_state(a, fp, &st, &n))
		return (enum alert_state)-1;
	if (notify)
		*notify = n;
	return st;
}

static json_t *get(struct alerts *a, const char *name, const char *service, json_t *labels)
{
	char fp[17];
	alerts_fingerprint(name, service, labels, fp);
	struct buf out = BUF_INIT, err = BUF_INIT;
	assert_int_equal(alerts_get_json(a, fp, &out, &err), 0);
	json_t *j = json_loads(out.data, 0, NULL);
	buf_release(&out);
	buf_release(&err);
	return j;
}

/* Two alerting cores on one store, as two nodes: the one that begins to lead reads the other's firing alert. */
static void test_reload(void **state)
{
	(void)state;
	char dir[] = "/tmp/ooda-alerts-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct store *st = NULL;
	struct buf err = BUF_INIT;
	assert_int_equal(store_open(dir, 0, &st, &err), 0);
	struct alerts *leader, *follower;
	assert_int_equal(alerts_create(st, NULL, NULL, &leader, &err), 0);
	assert_int_equal(alerts_create(st, NULL, NULL, &follower, &err), 0);
	sig(leader, "Down", "api", NULL, true, T0, 0, 0);
	assert_int_equal(state_of(leader, "Down", "api", NULL, NULL), ALERT_FIRING);
	assert_int_equal((int)state_of(follower, "Down", "api", NULL, NULL), -1); /* as old as its start */
	assert_int_equal(alerts_reload(follower, &err), 0);
	bool notify = false;
	assert_int_equal(state_of(follower, "Down", "api", NULL, &notify), ALERT_FIRING);
	assert_true(notify);
	/* the signal still active on the new leader is no new firing: no transition for subscribers */
	json_t *before = get(follower, "Down", "api", NULL);
	sig(follower, "Down", "api", NULL, true, T0 + 30 * S, 0, 0);
	json_t *after = get(follower, "Down", "api", NULL);
	assert_int_equal(json_array_size(json_object_get(after, "transitions")),
			 json_array_size(json_object_get(before, "transitions")));
	assert_string_equal(json_string_value(json_object_get(after, "fired_at")),
			    json_string_value(json_object_get(before, "fired_at")));
	json_decref(before);
	json_decref(after);
	alerts_destroy(leader);
	alerts_destroy(follower);
	store_close(st);
	buf_release(&err);
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* A detector that saw its condition begin before it fired: active_at is that beginning, fired_at the firing. */
static void test_since(void **state)
{
	(void)state;
	struct alerts *a = mk();
	json_t *ev = json_pack("{s:f}", "value", 0.3);
	struct alert_signal s = { .source = "anomaly", .name = "red:checkout/error_ratio", .service = "checkout",
				  .evidence = ev, .active = true, .at_ns = T0 + 10 * S, .since_ns = T0 + 6 * S,
				  .severity = SEVERITY_TICKET };
	alerts_signal(a, &s);
	assert_int_equal(state_of(a, "red:checkout/error_ratio", "checkout", NULL, NULL), ALERT_FIRING);
	json_t *j = get(a, "red:checkout/error_ratio", "checkout", NULL);
	char want[40];
	assert_string_equal(json_string_value(json_object_get(j, "active_at")), ooda_time_format(T0 + 6 * S, want, sizeof want));
	assert_string_equal(json_string_value(json_object_get(j, "fired_at")), ooda_time_format(T0 + 10 * S, want, sizeof want));
	json_decref(j);
	/* a since after at_ns (a clock step) is ignored */
	s.name = "red:payments/error_ratio";
	s.service = "payments";
	s.since_ns = T0 + 12 * S;
	alerts_signal(a, &s);
	j = get(a, "red:payments/error_ratio", "payments", NULL);
	assert_string_equal(json_string_value(json_object_get(j, "active_at")), ooda_time_format(T0 + 10 * S, want, sizeof want));
	json_decref(j);
	json_decref(ev);
	alerts_destroy(a);
}

static void test_lifecycle(void **state)
{
	(void)state;
	struct alerts *a = mk();
	/* for 2s, keep_firing_for 3s */
	struct {
		bool is_signal, active;
		int64_t at;
		enum alert_state want;
	} steps[] = {
		{ true, true, T0, ALERT_PENDING },
		{ false, false, T0 + 1 * S, ALERT_PENDING },
		{ true, true, T0 + 3 * S / 2, ALERT_PENDING },
		{ false, false, T0 + 2 * S, ALERT_FIRING },
		{ true, false, T0 + 3 * S, ALERT_FIRING },
		{ false, false, T0 + 5 * S, ALERT_FIRING },
		{ true, true, T0 + 5 * S, ALERT_FIRING }, /* holds again: keep_firing_for restarts */
		{ true, false, T0 + 6 * S, ALERT_FIRING },
		{ false, false, T0 + 8 * S, ALERT_FIRING },
		{ false, false, T0 + 9 * S, ALERT_RESOLVED },
		{ true, true, T0 + 10 * S, ALERT_PENDING },
	};
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		if (steps[i].is_signal)
			sig(a, "HighQueue", "checkout", NULL, steps[i].active, steps[i].at, 2 * S, 3 * S);
		else
			alerts_tick(a, steps[i].at);
		enum alert_state st = state_of(a, "HighQueue", "checkout", NULL, NULL);
		if (st != steps[i].want)
			fail_msg("step %zu: state %s, want %s", i, alert_state_name(st), alert_state_name(steps[i].want));
	}
	json_t *j = get(a, "HighQueue", "checkout", NULL);
	json_t *tr = json_object_get(j, "transitions");
	assert_int_equal(json_array_size(tr), 4);
	assert_string_equal(json_string_value(json_object_get(json_array_get(tr, 1), "to")), "firing");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(tr, 1), "at_ns")), T0 + 2 * S);
	assert_true(json_real_value(json_object_get(json_object_get(json_array_get(tr, 1), "evidence"), "value")) == 42.0);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(tr, 2), "at_ns")), T0 + 9 * S);
	json_decref(j);

	/* a 2-second blip under for: 5s never fires */
	sig(a, "Blip", "checkout", NULL, true, T0, 5 * S, 0);
	alerts_tick(a, T0 + 1 * S);
	sig(a, "Blip", "checkout", NULL, false, T0 + 2 * S, 5 * S, 0);
	alerts_tick(a, T0 + 10 * S);
	assert_int_equal(state_of(a, "Blip", "checkout", NULL, NULL), ALERT_INACTIVE);
	j = get(a, "Blip", "checkout", NULL);
	char *tt = json_dumps(json_object_get(j, "transitions"), 0);
	assert_null(strstr(tt, "firing"));
	assert_non_null(strstr(tt, "pending"));
	free(tt);
	json_decref(j);

	/* for 0 fires at once; external signals fire and resolve as told */
	sig(a, "Now", NULL, NULL, true, T0, 0, 0);
	assert_int_equal(state_of(a, "Now", NULL, NULL, NULL), ALERT_FIRING);
	struct alert_signal ext = { .source = "alertmanager", .name = "Ext", .active = true, .at_ns = T0,
				    .for_ns = 10 * S, .keep_firing_for_ns = 10 * S, .external = true };
	alerts_signal(a, &ext);
	assert_int_equal(state_of(a, "Ext", NULL, NULL, NULL), ALERT_FIRING);
	ext.active = false;
	ext.at_ns = T0 + S;
	alerts_signal(a, &ext);
	assert_int_equal(state_of(a, "Ext", NULL, NULL, NULL), ALERT_RESOLVED);
	/* an inactive signal for an unknown alert creates nothing */
	sig(a, "Never", NULL, NULL, false, T0, 0, 0);
	assert_int_equal((int)state_of(a, "Never", NULL, NULL, NULL), -1);
	alerts_destroy(a);
}

/* What a subscriber heard, in order. */
struct heard {
	size_t n;
	struct {
		char fp[17], name[32], service[32], env[16];
		enum alert_severity severity;
		enum alert_state from, to;
		int64_t at;
	} v[8];
};

static void hear(void *ctx, const struct alert_transition *t)
{
	struct heard *h = ctx;
	assert_true(h->n < sizeof(h->v) / sizeof(h->v[0]));
	snprintf(h->v[h->n].fp, sizeof(h->v[h->n].fp), "%s", t->fingerprint);
	snprintf(h->v[h->n].name, sizeof(h->v[h->n].name), "%s", t->name);
	snprintf(h->v[h->n].service, sizeof(h->v[h->n].service), "%s", t->service ? t->service : "");
	snprintf(h->v[h->n].env, sizeof(h->v[h->n].env), "%s", json_string_value(json_object_get(t->labels, "env")));
	h->v[h->n].severity = t->severity;
	h->v[h->n].from = t->from;
	h->v[h->n].to = t->to;
	h->v[h->n].at = t->at_ns;
	h->n++;
}

/* A subscriber sees pending -> firing -> resolved, each once, on the tick after it happened. */
static void test_subscribe(void **state)
{
	(void)state;
	struct alerts *a = mk();
	struct heard h = { 0 }, h2 = { 0 };
	assert_int_equal(alerts_subscribe(a, hear, &h), 0);
	assert_int_equal(alerts_subscribe(a, hear, &h2), 0);
	json_t *labels = json_pack("{s:s}", "env", "prod");
	char fp[17];
	alerts_fingerprint("HighLatency", "checkout", labels, fp);

	sig(a, "HighLatency", "checkout", labels, true, T0, 2 * S, 0); /* pending */
	assert_int_equal(h.n, 0);                                       /* handed over by the tick only */
	alerts_tick(a, T0 + S / 2);
	assert_int_equal(h.n, 1);
	alerts_tick(a, T0 + 2 * S); /* held for 2s: fires */
	assert_int_equal(h.n, 2);
	sig(a, "HighLatency", "checkout", labels, false, T0 + 3 * S, 2 * S, 0); /* cleared: resolves */
	alerts_tick(a, T0 + 3 * S);
	alerts_tick(a, T0 + 4 * S); /* nothing new */

	const struct {
		enum alert_state from, to;
		int64_t at;
	} want[] = {
		{ ALERT_INACTIVE, ALERT_PENDING, T0 },
		{ ALERT_PENDING, ALERT_FIRING, T0 + 2 * S },
		{ ALERT_FIRING, ALERT_RESOLVED, T0 + 3 * S },
	};
	assert_int_equal(h.n, 3);
	assert_int_equal(h2.n, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(h.v[i].from, want[i].from);
		assert_int_equal(h.v[i].to, want[i].to);
		assert_int_equal(h.v[i].at, want[i].at);
		assert_string_equal(h.v[i].fp, fp);
		assert_string_equal(h.v[i].name, "HighLatency");
		assert_string_equal(h.v[i].service, "checkout");
		assert_string_equal(h.v[i].env, "prod");
		assert_int_equal(h.v[i].severity, SEVERITY_PAGE);
		assert_int_equal(h2.v[i].to, want[i].to);
	}
	json_decref(labels);

	/* the subscriber list is bounded */
	for (size_t i = 2; i < ALERTS_MAX_SUBSCRIBERS; i++)
		assert_int_equal(alerts_subscribe(a, hear, &h2), 0);
	assert_int_equal(alerts_subscribe(a, hear, &h2), OODA_ELIMIT);
	alerts_destroy(a);
}

static void test_dedup(void **state)
{
	(void)state;
	json_t *l1 = json_loads("{\"a\":\"1\",\"b\":\"2\"}", 0, NULL);
	json_t *l2 = json_loads("{\"b\":\"2\",\"a\":\"1\"}", 0, NULL);
	json_t *l3 = json_loads("{\"a\":\"1\",\"b\":\"3\"}", 0, NULL);
	char f1[17], f2[17], f3[17], f4[17];
	alerts_fingerprint("X", "svc", l1, f1);
	alerts_fingerprint("X", "svc", l2, f2);
	alerts_fingerprint("X", "svc", l3, f3);
	alerts_fingerprint("X", "other", l1, f4);
	assert_string_equal(f1, f2);
	assert_string_not_equal(f1, f3);
	assert_string_not_equal(f1, f4);

	struct alerts *a = mk();
	for (int i = 0; i < 5; i++)
		sig(a, "X", "svc", i % 2 ? l1 : l2, true, T0 + i * S, 0, 0);
	sig(a, "X", "svc", l3, true, T0, 0, 0);
	struct buf out = BUF_INIT, err = BUF_INIT;
	assert_int_equal(alerts_list_json(a, NULL, &out, &err), 0);
	json_t *j = json_loads(out.data, 0, NULL);
	assert_int_equal(json_array_size(json_object_get(j, "alerts")), 2);
	json_decref(j);
	buf_reset(&out);
	assert_int_equal(alerts_list_json(a, "bogus", &out, &err), OODA_EINVAL);
	buf_release(&out);
	buf_release(&err);
	alerts_destroy(a);
	json_decref(l1);
	json_decref(l2);
	json_decref(l3);
}

static const char *GRAPH = "{\"edges\":[{\"source\":\"frontend\",\"target\":\"checkout\"},"
			   "{\"source\":\"checkout\",\"target\":\"db\"},{\"source\":\"billing\",\"target\":\"ledger\"}]}";

static const char *group_of(struct alerts *a, const char *name, const char *service, char *out)
{
	json_t *j = get(a, name, service, NULL);
	const char *g = json_string_value(json_object_get(j, "group"));
	snprintf(out, 40, "%s", g ? g : "");
	json_decref(j);
	return out;
}

static void test_grouping(void **state)
{
	(void)state;
	struct alerts *a = mk();
	struct buf err = BUF_INIT;
	assert_int_equal(alerts_set_graph_json(a, GRAPH, &err), 0);
	sig(a, "DbDown", "db", NULL, true, T0, 0, 0);
	sig(a, "Errors", "checkout", NULL, true, T0 + 5 * S, 0, 0);  /* depends on db, inside the window */
	sig(a, "Errors", "billing", NULL, true, T0 + 6 * S, 0, 0);   /* unrelated */
	sig(a, "Slow", "db", NULL, true, T0 + 10 * S, 0, 0);         /* same service */
	sig(a, "Errors", "frontend", NULL, true, T0 + 60 * S, 0, 0); /* related but past the window */
	char g1[40], g2[40], g3[40], g4[40], g5[40];
	group_of(a, "DbDown", "db", g1);
	group_of(a, "Errors", "checkout", g2);
	group_of(a, "Errors", "billing", g3);
	group_of(a, "Slow", "db", g4);
	group_of(a, "Errors", "frontend", g5);
	assert_true(g1[0] && !strncmp(g1, "grp_", 4));
	assert_string_equal(g1, g2);
	assert_string_equal(g1, g4);
	assert_string_not_equal(g1, g3);
	assert_string_not_equal(g1, g5);
	struct buf out = BUF_INIT;
	assert_int_equal(alerts_groups_json(a, false, &out, &err), 0);
	json_t *j = json_loads(out.data, 0, NULL);
	assert_int_equal(json_array_size(json_object_get(j, "groups")), 3);
	json_decref(j);
	buf_release(&out);
	buf_release(&err);
	alerts_destroy(a);
}

/*
 * Declared edges (services[].dependencies) group and inhibit like traced
 * ones, and a refresh of the traced graph does not drop them.
 */
static void test_declared_graph(void **state)
{
	(void)state;
	struct alerts *a = mk();
	struct buf err = BUF_INIT;
	assert_int_equal(alerts_set_declared_graph_json(a, "{\"edges\":[{\"source\":\"web\",\"target\":\"db\"}]}", &err),
			 0);
	/* a traced graph that knows nothing of web or db, as live signals would give */
	assert_int_equal(alerts_set_graph_json(a, "{\"edges\":[{\"source\":\"billing\",\"target\":\"ledger\"}]}", &err), 0);
	sig(a, "probe:db/up", "db", NULL, true, T0, 0, 0);
	sig(a, "heartbeat:db-backup", "db", NULL, true, T0 + 2 * S, 0, 0);
	sig(a, "probe:web/up", "web", NULL, true, T0 + 3 * S, 0, 0);
	sig(a, "probe:batch/up", "batch", NULL, true, T0 + 4 * S, 0, 0);
	char g1[40], g2[40], g3[40], g4[40];
	group_of(a, "probe:db/up", "db", g1);
	group_of(a, "heartbeat:db-backup", "db", g2);
	group_of(a, "probe:web/up", "web", g3);
	group_of(a, "probe:batch/up", "batch", g4);
	assert_true(g1[0] != '\0');
	assert_string_equal(g1, g2);
	assert_string_equal(g1, g3);
	assert_string_not_equal(g1, g4);
	/* web depends on db, which was alerting first: web's alert is a symptom */
	alerts_tick(a, T0 + 4 * S);
	json_t *j = get(a, "probe:web/up", "web", NULL);
	assert_true(json_string_length(json_object_get(j, "inhibited_by")) > 0);
	json_decref(j);
	/* without the declared edge the same alerts would not be related */
	assert_int_equal(alerts_set_declared_graph_json(a, "{\"edges\":[]}", &err), 0);
	sig(a, "probe:web/slow", "web", NULL, true, T0 + 5 * S, 0, 0);
	char g5[40];
	group_of(a, "probe:web/slow", "web", g5);
	assert_string_equal(g5, g3); /* same service still groups */
	buf_release(&err);
	alerts_destroy(a);
}

static void test_inhibition(void **state)
{
	(void)state;
	struct alerts *a = mk();
	struct buf err = BUF_INIT;
	assert_int_equal(alerts_set_graph_json(a, GRAPH, &err), 0);
	assert_int_equal(alerts_set_graph_json(a, "{not json", &err), OODA_EPARSE);
	bool notify;
	sig(a, "DbDown", "db", NULL, true, T0, 0, 0);
	sig(a, "Errors", "frontend", NULL, true, T0 + S, 0, 0); /* frontend → checkout → db: a symptom */
	sig(a, "Errors", "billing", NULL, true, T0 + S, 0, 0);  /* independent */
	alerts_tick(a, T0 + 2 * S);
	state_of(a, "DbDown", "db", NULL, &notify);
	assert_true(notify);
	assert_int_equal(state_of(a, "Errors", "frontend", NULL, &notify), ALERT_FIRING);
	assert_false(notify);
	state_of(a, "Errors", "billing", NULL, &notify);
	assert_true(notify);
	json_t *j = get(a, "Errors", "frontend", NULL);
	char fp[17];
	alerts_fingerprint("DbDown", "db", NULL, fp);
	assert_string_equal(json_string_value(json_object_get(j, "inhibited_by")), fp);
	json_decref(j);
	/* the callee fires after its caller: the caller is not inhibited (it came first) */
	sig(a, "Late", "ledger", NULL, true, T0 + 3 * S, 0, 0);
	alerts_tick(a, T0 + 4 * S);
	state_of(a, "Errors", "billing", NULL, &notify);
	assert_true(notify);
	/* the cause resolves: the symptom pages again */
	sig(a, "DbDown", "db", NULL, false, T0 + 5 * S, 0, 0);
	alerts_tick(a, T0 + 6 * S);
	state_of(a, "Errors", "frontend", NULL, &notify);
	assert_true(notify);
	buf_release(&err);
	alerts_destroy(a);
}

/* amtool's matcher operators: =, !=, =~ (anchored like Alertmanager), !~; a missing label is "". */
static void test_silence_matchers(void **state)
{
	(void)state;
	struct alerts *a = mk();
	struct buf err = BUF_INIT;
	json_t *labels = json_pack("{s:s,s:s}", "team", "pay", "env", "prod");
	sig(a, "HighLatency", "checkout", labels, true, T0, 0, 0);
	struct {
		const char *matcher;
		bool silenced;
	} cases[] = {
		{ "alertname=~High.*", true },
		{ "alertname=~High", false }, /* anchored at both ends: not a substring search */
		{ "alertname=~Latency", false },
		{ "alertname=~(?:Low|High)Latency", true },
		{ "alertname=~Low|High.*", true }, /* ^(?:Low|High.*)$: the alternation stays inside the anchors */
		{ "alertname!~Low.*", true },
		{ "alertname!~High.*", false },
		{ "env!=dev", true },
		{ "env!=prod", false },
		{ "env=prod", true },
		{ "team=~\"pa.*\"", true }, /* a quoted value, as amtool writes it */
		{ "region=~", true },         /* a missing label is the empty value */
		{ "region=", true },
		{ "env=", false },
		{ "region!=eu", true },
		{ "region=~eu.*", false },
		{ "service=~check.*", true },
	};
	int64_t t = T0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *r = json_pack("{s:[s],s:s,s:s}", "matchers", cases[i].matcher, "duration", "1h", "reason", "test");
		char id[32];
		buf_reset(&err);
		if (alerts_silence_create(a, r, "cli:test", t, id, &err))
			fail_msg("case %zu (%s): %s", i, cases[i].matcher, err.data);
		json_decref(r);
		t += S;
		alerts_tick(a, t);
		bool notify = false;
		assert_int_equal(state_of(a, "HighLatency", "checkout", labels, &notify), ALERT_FIRING);
		if (notify == cases[i].silenced)
			fail_msg("case %zu (%s): silenced %d, want %d", i, cases[i].matcher, !notify, cases[i].silenced);
		assert_int_equal(alerts_silence_delete(a, id, "cli:test", &err), 0);
		t += S;
		alerts_tick(a, t);
	}
	/* the operators are kept as written; k=v goes to labels as before */
	json_t *r = json_pack("{s:[s,s],s:s,s:s}", "matchers", "alertname=~High.*", "team=pay", "duration", "1h", "reason",
			      "kept");
	char id[32];
	assert_int_equal(alerts_silence_create(a, r, "cli:test", t, id, &err), 0);
	json_decref(r);
	struct buf out = BUF_INIT;
	alerts_silences_json(a, false, t, &out);
	assert_non_null(strstr(out.data, "\"matchers\":[\"alertname=~High.*\"]"));
	assert_non_null(strstr(out.data, "\"labels\":{\"team\":\"pay\"}"));
	struct {
		const char *matcher, *msg;
	} bad[] = {
		{ "alertname=~(", "matchers[0]: bad regular expression" },
		{ "=~x", "matchers[0]: expected label=value" },
		{ "alertname~x", "matchers[0]: expected label=value" },
		{ "novalue", "matchers[0]: expected label=value" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = json_pack("{s:[s],s:s,s:s}", "matchers", bad[i].matcher, "duration", "1h", "reason", "x");
		buf_reset(&err);
		assert_int_equal(alerts_silence_create(a, r, "cli:test", t, id, &err), OODA_EINVAL);
		if (!strstr(err.data, bad[i].msg))
			fail_msg("bad %zu: \"%s\" lacks \"%s\"", i, err.data, bad[i].msg);
		json_decref(r);
	}
	buf_release(&out);
	buf_release(&err);
	json_decref(labels);
	alerts_destroy(a);
}

static void test_silences(void **state)
{
	(void)state;
	struct alerts *a = mk();
	struct buf err = BUF_INIT;
	char id[32];
	struct {
		const char *req;
		int rc;
		const char *msg;
	} bad[] = {
		{ "{\"duration\":\"1h\",\"reason\":\"x\"}", OODA_EINVAL, "at least one matcher" },
		{ "{\"service\":\"checkout\",\"duration\":\"1h\"}", OODA_EINVAL, "reason" },
		{ "{\"service\":\"checkout\",\"reason\":\"x\"}", OODA_EINVAL, "needs an end" },
		{ "{\"service\":\"checkout\",\"reason\":\"x\",\"duration\":\"soon\"}", OODA_EINVAL, "duration" },
		{ "{\"service\":\"checkout\",\"reason\":\"x\",\"duration\":\"1h\",\"matchers\":[\"novalue\"]}",
		  OODA_EINVAL, "matchers[0]" },
		{ "{\"service\":7,\"reason\":\"x\",\"duration\":\"1h\"}", OODA_EINVAL, "service" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *r = json_loads(bad[i].req, 0, NULL);
		buf_reset(&err);
		assert_int_equal(alerts_silence_create(a, r, "cli:test", T0, id, &err), bad[i].rc);
		if (!strstr(err.data, bad[i].msg))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err.data, bad[i].msg);
		json_decref(r);
	}
	json_t *labels = json_pack("{s:s}", "team", "pay");
	sig(a, "Errors", "checkout", labels, true, T0, 0, 0);
	sig(a, "Errors", "billing", NULL, true, T0, 0, 0);
	json_t *r = json_pack("{s:s,s:[s],s:s,s:s}", "service", "checkout", "matchers", "team=pay", "duration", "1h",
			      "reason", "maintenance");
	assert_int_equal(alerts_silence_create(a, r, "cli:test", T0, id, &err), 0);
	json_decref(r);
	assert_true(!strncmp(id, "sil_", 4));
	alerts_tick(a, T0 + S);
	bool notify;
	assert_int_equal(state_of(a, "Errors", "checkout", labels, &notify), ALERT_FIRING);
	assert_false(notify);
	state_of(a, "Errors", "billing", NULL, &notify);
	assert_true(notify);
	/* a label matcher that does not hold leaves the alert alone */
	r = json_pack("{s:s,s:{s:s},s:s,s:s}", "name", "Errors", "labels", "team", "other", "duration", "1h", "reason",
		      "x");
	char id2[32];
	assert_int_equal(alerts_silence_create(a, r, "cli:test", T0, id2, &err), 0);
	json_decref(r);
	alerts_tick(a, T0 + 2 * S);
	state_of(a, "Errors", "billing", NULL, &notify);
	assert_true(notify);
	/* expiry (the condition still holds) */
	sig(a, "Errors", "checkout", labels, true, T0 + 2 * 3600 * S, 0, 0);
	alerts_tick(a, T0 + 2 * 3600 * S);
	state_of(a, "Errors", "checkout", labels, &notify);
	assert_true(notify);
	struct buf out = BUF_INIT;
	alerts_silences_json(a, false, T0 + 2 * 3600 * S, &out);
	assert_non_null(strstr(out.data, "\"silences\":[]"));
	buf_reset(&out);
	alerts_silences_json(a, true, T0, &out);
	assert_non_null(strstr(out.data, "maintenance"));
	assert_non_null(strstr(out.data, "cli:test"));
	/* delete */
	assert_int_equal(alerts_silence_delete(a, id, "cli:test", &err), 0);
	assert_int_equal(alerts_silence_delete(a, id, "cli:test", &err), OODA_ENOTFOUND);
	assert_int_equal(alerts_silence_delete(a, "sil_nope", "cli:test", &err), OODA_ENOTFOUND);
	buf_release(&out);
	buf_release(&err);
	json_decref(labels);
	alerts_destroy(a);
}

static void test_severity(void **state)
{
	(void)state;
	struct {
		const char *in;
		int rc;
		enum alert_severity want;
	} cases[] = {
		{ "page", 0, SEVERITY_PAGE },	  { "critical", 0, SEVERITY_PAGE }, { "CRITICAL", 0, SEVERITY_PAGE },
		{ "ticket", 0, SEVERITY_TICKET }, { "warning", 0, SEVERITY_TICKET }, { "info", 0, SEVERITY_INFO },
		{ "none", 0, SEVERITY_INFO },	  { "loud", OODA_EINVAL, 0 },	     { NULL, OODA_EINVAL, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum alert_severity s = SEVERITY_INFO;
		assert_int_equal(alert_severity_parse(cases[i].in, &s), cases[i].rc);
		if (!cases[i].rc)
			assert_int_equal(s, cases[i].want);
	}
	assert_string_equal(alert_severity_name(SEVERITY_PAGE), "page");
}

static void test_template(void **state)
{
	(void)state;
	json_t *labels = json_pack("{s:s,s:s}", "job", "checkout", "instance", "i-1");
	struct {
		const char *in, *want;
	} cases[] = {
		{ "backlog {{ $value }} on {{ $labels.job }}", "backlog 42.5 on checkout" },
		{ "{{$value}}/{{$labels.instance}}", "42.5/i-1" },
		{ "{{ .Value }} {{ .Labels.job }}", "42.5 checkout" },
		{ "missing [{{ $labels.nope }}]", "missing []" },
		{ "kept {{ humanize $value }}", "kept {{ humanize $value }}" },
		{ "open {{ $value", "open {{ $value" },
		{ "", "" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf out = BUF_INIT;
		rules_template(cases[i].in, 42.5, labels, &out);
		assert_string_equal(out.data, cases[i].want);
		buf_release(&out);
	}
	json_decref(labels);
}

static void test_rules_config(void **state)
{
	(void)state;
	struct {
		const char *json;
		const char *err; /* NULL = valid */
	} cases[] = {
		{ "null", NULL },
		{ "[]", NULL },
		{ "[{\"name\":\"A\",\"expr\":\"up > 1\",\"for\":\"2s\",\"severity\":\"critical\","
		  "\"labels\":{\"team\":\"pay\",\"n\":3},\"annotations\":{\"summary\":\"{{ $value }}\"}}]",
		  NULL },
		{ "{\"interval\":\"2s\",\"group_window\":\"1m\",\"rules\":[{\"name\":\"A\",\"expr\":\"up\"}]}", NULL },
		{ "[{\"name\":\"A\",\"expr\":\"up\"},{\"name\":\"B\",\"expr\":\"sum(up\"}]", "alerts[1].expr: parse error at char" },
		{ "{\"rules\":[{\"name\":\"A\",\"expr\":\"up{\"}]}", "alerts.rules[0].expr: parse error at char" },
		{ "[{\"expr\":\"up\"}]", "alerts[0].name: missing" },
		{ "[{\"name\":\"A\"}]", "alerts[0].expr: missing" },
		{ "[{\"name\":\"A\",\"expr\":\"up\",\"for\":\"later\"}]", "alerts[0].for" },
		{ "[{\"name\":\"A\",\"expr\":\"up\",\"severity\":\"loud\"}]", "alerts[0].severity" },
		{ "[{\"name\":\"A\",\"expr\":\"up\",\"annotations\":{\"a\":[1]}}]", "alerts[0].annotations.a" },
		{ "{\"interval\":\"1ms\"}", "alerts.interval" },
		{ "42", "expected a list" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf err = BUF_INIT;
		int rc = rules_configure(NULL, cases[i].json, false, &err);
		if (!cases[i].err && rc)
			fail_msg("case %zu should load: %s", i, err.data);
		if (cases[i].err && (!rc || !strstr(err.data, cases[i].err)))
			fail_msg("case %zu: rc %d, \"%s\" lacks \"%s\"", i, rc, err.data, cases[i].err);
		buf_release(&err);
	}
}

/* A metric source with one gauge, queue_depth{job="checkout"} = g_value. */
static double g_value;

static int fake_select(void *ctx, const struct promql_matcher *m, size_t n, int64_t from_ms, int64_t to_ms,
		       struct arena *a, struct promql_series **out, size_t *n_out, struct buf *err)
{
	struct promql_series *s = arena_zalloc(a, sizeof(*s));
	s->labels = arena_zalloc(a, 2 * sizeof(*s->labels));
	s->labels[0] = (struct promql_label){ "__name__", "queue_depth" };
	s->labels[1] = (struct promql_label){ "job", "checkout" };
	s->n_labels = 2;
	s->samples = arena_zalloc(a, sizeof(*s->samples));
	s->samples[0] = (struct promql_sample){ to_ms - 1, g_value };
	s->n_samples = 1;
	bool ok = promql_matchers_match(m, n, s->labels, s->n_labels);
	*out = ok ? s : NULL;
	*n_out = ok ? 1 : 0;
	return 0;
}

static void test_rules_eval(void **state)
{
	(void)state;
	struct promql_source src = { .version = 1, .select = fake_select };
	struct rules *r;
	struct buf err = BUF_INIT;
	assert_int_equal(rules_create(NULL, NULL, &r, &err), 0);
	rules_set_source(r, &src);
	assert_int_equal(rules_configure(r,
					 "[{\"name\":\"Backlog\",\"expr\":\"queue_depth > 10\",\"for\":\"2s\","
					 "\"severity\":\"page\",\"labels\":{\"team\":\"pay\"},"
					 "\"annotations\":{\"summary\":\"backlog {{ $value }} on {{ $labels.job }}\"}}]",
					 true, &err),
			 0);
	assert_int_equal(rules_count(r), 1);
	struct alerts *a = mk();
	struct alert_sink sink = alerts_sink(a);
	json_t *labels = json_pack("{s:s,s:s}", "job", "checkout", "team", "pay");
	g_value = 50;
	rules_tick(r, T0, &sink);
	alerts_tick(a, T0);
	assert_int_equal(state_of(a, "Backlog", "checkout", labels, NULL), ALERT_PENDING);
	rules_tick(r, T0 + 2 * S, &sink);
	alerts_tick(a, T0 + 2 * S);
	assert_int_equal(state_of(a, "Backlog", "checkout", labels, NULL), ALERT_FIRING);
	json_t *j = get(a, "Backlog", "checkout", labels);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "annotations"), "summary")),
			    "backlog 50 on checkout");
	assert_string_equal(json_string_value(json_object_get(j, "severity")), "page");
	assert_true(json_real_value(json_object_get(json_object_get(j, "evidence"), "value")) == 50.0);
	json_decref(j);
	g_value = 3; /* the series leaves the result: inactive */
	rules_tick(r, T0 + 3 * S, &sink);
	assert_int_equal(state_of(a, "Backlog", "checkout", labels, NULL), ALERT_RESOLVED);
	/* removing the rule on reload resolves what it had active */
	g_value = 50;
	rules_tick(r, T0 + 4 * S, &sink);
	rules_tick(r, T0 + 6 * S, &sink);
	assert_int_equal(state_of(a, "Backlog", "checkout", labels, NULL), ALERT_FIRING);
	assert_int_equal(rules_configure(r, "[]", true, &err), 0);
	rules_tick(r, T0 + 7 * S, &sink);
	assert_int_equal(state_of(a, "Backlog", "checkout", labels, NULL), ALERT_RESOLVED);
	json_decref(labels);
	alerts_destroy(a);
	rules_destroy(r);
	buf_release(&err);
}

/* The engine learns when an alert's `for` or keep_firing_for ends, so it can tick then rather than up to a tick later. */
static void test_next_due(void **state)
{
	(void)state;
	struct alerts *a = mk();
	assert_int_equal(alerts_next_due(a), 0); /* nothing waits */
	sig(a, "Slow", "checkout", NULL, true, T0, 2 * S, 3 * S);
	sig(a, "Fast", "checkout", NULL, true, T0 + S / 2, 1 * S, 0);
	assert_int_equal(alerts_next_due(a), T0 + 3 * S / 2); /* the earliest `for` */
	alerts_tick(a, T0 + 3 * S / 2);
	assert_int_equal(state_of(a, "Fast", "checkout", NULL, NULL), ALERT_FIRING);
	assert_int_equal(alerts_next_due(a), T0 + 2 * S);
	alerts_tick(a, T0 + 2 * S);
	assert_int_equal(alerts_next_due(a), 0); /* both fire; neither cleared */
	sig(a, "Slow", "checkout", NULL, false, T0 + 4 * S, 2 * S, 3 * S);
	assert_int_equal(alerts_next_due(a), T0 + 7 * S); /* cleared: keep_firing_for ends then */
	alerts_destroy(a);

	/* the engine wakes at the due time when it comes before the next period, never sooner than the gap */
	const int64_t MS_ = OODA_NS_PER_MS;
	const int64_t TK = T0 - 5 * MS_; /* the tick ran with this now and took 5 ms */
	assert_int_equal(engine_wake_ns(1000 * MS_, 800 * MS_, T0, 0, TK), 1000 * MS_);
	assert_int_equal(engine_wake_ns(1000 * MS_, 800 * MS_, T0, T0 + 50 * MS_, TK), 850 * MS_);
	assert_int_equal(engine_wake_ns(1000 * MS_, 800 * MS_, T0, T0 + 500 * MS_, TK), 1000 * MS_);
	assert_int_equal(engine_wake_ns(1000 * MS_, 800 * MS_, T0, T0 + 1, TK), 800 * MS_ + ENGINE_MIN_GAP_NS);
	/* due before the tick began: the tick saw it and left it; no spinning */
	assert_int_equal(engine_wake_ns(1000 * MS_, 800 * MS_, T0, TK, TK), 1000 * MS_);
	assert_int_equal(engine_wake_ns(1000 * MS_, 800 * MS_, T0, TK - 1, TK), 1000 * MS_);
	/* due while the tick ran (after its now, before its end): unseen, so a tick after the gap,
	 * not the next period (a `for` would otherwise end up to a period late) */
	assert_int_equal(engine_wake_ns(1000 * MS_, 800 * MS_, T0, TK + 1, TK), 800 * MS_ + ENGINE_MIN_GAP_NS);
	assert_int_equal(engine_wake_ns(1000 * MS_, 800 * MS_, T0, T0, TK), 800 * MS_ + ENGINE_MIN_GAP_NS);
	/* no tick ran (a follower): a past due is ignored */
	assert_int_equal(engine_wake_ns(1000 * MS_, 800 * MS_, T0, TK + 1, 0), 1000 * MS_);
}

/*
 * Fresh telemetry lets the rules evaluate once the fresh gap (an eighth of the interval)
 * has passed, and names that time as due so the engine wakes for it; without fresh data
 * they wait the whole interval.
 */
static void test_rules_fresh(void **state)
{
	(void)state;
	struct promql_source src = { .version = 1, .select = fake_select };
	struct rules *r;
	struct buf err = BUF_INIT;
	assert_int_equal(rules_create(NULL, NULL, &r, &err), 0);
	rules_set_source(r, &src);
	assert_int_equal(rules_configure(r,
					 "{\"interval\":\"4s\",\"rules\":[{\"name\":\"Backlog\","
					 "\"expr\":\"queue_depth > 10\",\"severity\":\"page\"}]}",
					 true, &err),
			 0);
	struct alerts *a = mk();
	struct alert_sink sink = alerts_sink(a);
	json_t *labels = json_pack("{s:s}", "job", "checkout");
	g_value = 3;
	rules_note_fresh(r);
	assert_int_equal(rules_next_due(r, T0), 0); /* never evaluated: the first evaluation is the tick's */
	rules_tick(r, T0, &sink); /* the first evaluation: nothing */
	assert_int_equal(rules_next_due(r, T0), 0); /* nothing unread */
	g_value = 50;
	rules_tick(r, T0 + 2 * S, &sink); /* nothing new arrived: waits for the interval */
	assert_int_not_equal(state_of(a, "Backlog", "checkout", labels, NULL), ALERT_FIRING);
	rules_note_fresh(r);
	assert_int_equal(rules_next_due(r, T0 + S / 4), T0 + S / 2); /* readable at the gap after the last evaluation */
	assert_int_equal(rules_next_due(r, T0 + 2 * S), 0); /* past: the tick a batch's poke brings reads it */
	rules_tick(r, T0 + 3 * S, &sink); /* fresh data, past the gap: evaluates now */
	assert_int_equal(state_of(a, "Backlog", "checkout", labels, NULL), ALERT_FIRING);
	assert_int_equal(rules_next_due(r, T0 + 3 * S), 0); /* read */
	g_value = 3;
	rules_tick(r, T0 + 5 * S, &sink); /* the fresh mark was used: the interval again */
	assert_int_equal(state_of(a, "Backlog", "checkout", labels, NULL), ALERT_FIRING);
	rules_note_fresh(r);
	rules_tick(r, T0 + 5 * S + S / 2, &sink); /* fresh again, 2.5 s after the last: evaluates */
	assert_int_equal(state_of(a, "Backlog", "checkout", labels, NULL), ALERT_RESOLVED);
	g_value = 50;
	rules_note_fresh(r);
	assert_int_equal(rules_next_due(r, T0 + 5 * S + S / 2), T0 + 6 * S); /* the engine is to wake at the gap's end */
	rules_tick(r, T0 + 5 * S + 3 * S / 4, &sink); /* 0.25 s after the last: too soon even with fresh data */
	assert_int_equal(state_of(a, "Backlog", "checkout", labels, NULL), ALERT_RESOLVED);
	rules_tick(r, T0 + 6 * S, &sink); /* the gap (0.5 s) after the last, fresh data still unread: evaluates */
	assert_int_equal(state_of(a, "Backlog", "checkout", labels, NULL), ALERT_FIRING);
	json_decref(labels);
	alerts_destroy(a);
	rules_destroy(r);
	buf_release(&err);
}

/* The gap: an eighth of the interval, at least 100 ms; none below that (no early evaluation at 100 ms). */
static void test_rules_fresh_gap(void **state)
{
	(void)state;
	assert_int_equal(rules_fresh_gap_ns(S), S / 8);
	assert_int_equal(rules_fresh_gap_ns(10 * S), 10 * S / 8);
	assert_int_equal(rules_fresh_gap_ns(S / 2), RULES_FRESH_MIN_GAP_NS);
	assert_int_equal(rules_fresh_gap_ns(S / 10), RULES_FRESH_MIN_GAP_NS);
	struct rules *r;
	struct buf err = BUF_INIT;
	assert_int_equal(rules_create(NULL, NULL, &r, &err), 0);
	struct promql_source src = { .version = 1, .select = fake_select };
	rules_set_source(r, &src);
	assert_int_equal(rules_configure(r, "{\"interval\":\"100ms\",\"rules\":[{\"name\":\"B\",\"expr\":\"queue_depth > 10\"}]}",
					 true, &err),
			 0);
	struct alerts *a = mk();
	struct alert_sink sink = alerts_sink(a);
	rules_tick(r, T0, &sink);
	rules_note_fresh(r);
	assert_int_equal(rules_next_due(r, T0), 0); /* the interval itself is the gap: nothing to wake for */
	alerts_destroy(a);
	rules_destroy(r);
	buf_release(&err);
}

/* Telemetry arriving while an evaluation runs (it found the worker busy) asks for a wake after it. */
static struct rules *g_fresh_rules;
static int g_wakes;

static int fresh_select(void *ctx, const struct promql_matcher *m, size_t n, int64_t from_ms, int64_t to_ms,
			struct arena *a, struct promql_series **out, size_t *n_out, struct buf *err)
{
	rules_note_fresh(g_fresh_rules); /* a batch made durable during the evaluation */
	return fake_select(ctx, m, n, from_ms, to_ms, a, out, n_out, err);
}

static void count_wake(void *ctx)
{
	(void)ctx;
	g_wakes++;
}

static void test_rules_fresh_during_evaluation(void **state)
{
	(void)state;
	struct promql_source quiet = { .version = 1, .select = fake_select };
	struct promql_source busy = { .version = 1, .select = fresh_select };
	struct buf err = BUF_INIT;
	assert_int_equal(rules_create(NULL, NULL, &g_fresh_rules, &err), 0);
	struct rules *r = g_fresh_rules;
	assert_int_equal(rules_configure(r, "{\"interval\":\"1s\",\"rules\":[{\"name\":\"B\",\"expr\":\"queue_depth > 10\"}]}",
					 true, &err),
			 0);
	rules_on_signals(r, count_wake, NULL);
	struct alerts *a = mk();
	struct alert_sink sink = alerts_sink(a);
	g_value = 3;
	g_wakes = 0;
	rules_set_source(r, &quiet);
	rules_tick(r, T0, &sink);
	assert_int_equal(g_wakes, 0); /* nothing arrived while it ran */
	rules_set_source(r, &busy);
	rules_tick(r, T0 + S, &sink);
	assert_int_equal(g_wakes, 1); /* data came during it: the owner is asked for a tick */
	assert_int_equal(rules_next_due(r, T0 + S), T0 + S + S / 8);
	alerts_destroy(a);
	rules_destroy(r);
	buf_release(&err);
}

static char *slurp(const char *name, size_t *len)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/samples/%s", OODA_SHARED_DATA, name);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	char *data = malloc(1 << 16);
	*len = fread(data, 1, 1 << 16, f);
	fclose(f);
	return data;
}

static void test_alertmanager(void **state)
{
	(void)state;
	struct alerts *a = mk();
	struct alert_sink sink = alerts_sink(a);
	struct buf err = BUF_INIT;
	size_t len, n;
	char *body = slurp("alertmanager_webhook.json", &len);
	assert_int_equal(alertmanager_decode(body, len, T0, &sink, &n, &err), 0);
	free(body);
	assert_int_equal(n, 1);
	json_t *labels = json_pack("{s:s}", "severity", "critical");
	bool notify;
	assert_int_equal(state_of(a, "AlwaysFiring", NULL, labels, &notify), ALERT_FIRING);
	assert_true(notify);
	json_t *j = get(a, "AlwaysFiring", NULL, labels);
	assert_string_equal(json_string_value(json_object_get(j, "severity")), "page");
	assert_string_equal(json_string_value(json_object_get(j, "source")), "alertmanager");
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "evidence"), "fingerprint")),
			    "cdd08c7788026298");
	json_decref(j);
	body = slurp("alertmanager_webhook_resolved.json", &len);
	assert_int_equal(alertmanager_decode(body, len, T0, &sink, &n, &err), 0);
	free(body);
	assert_int_equal(state_of(a, "AlwaysFiring", NULL, labels, NULL), ALERT_RESOLVED);
	json_decref(labels);

	struct {
		const char *body, *msg;
	} bad[] = {
		{ "{", "invalid JSON" },
		{ "[]", "JSON object" },
		{ "{\"alerts\":[]}", "version" },
		{ "{\"version\":\"3\",\"alerts\":[]}", "version" },
		{ "{\"version\":\"4\"}", "alerts: missing" },
		{ "{\"version\":\"4\",\"status\":\"odd\",\"alerts\":[]}", "status" },
		{ "{\"version\":\"4\",\"alerts\":[{\"status\":\"firing\",\"labels\":{}}]}", "alerts[0].labels.alertname: missing" },
		{ "{\"version\":\"4\",\"alerts\":[{\"status\":\"firing\",\"labels\":{\"alertname\":\"A\"}},"
		  "{\"status\":\"up\",\"labels\":{\"alertname\":\"B\"}}]}",
		  "alerts[1].status" },
		{ "{\"version\":\"4\",\"alerts\":[{\"status\":\"firing\",\"labels\":{\"alertname\":\"A\",\"n\":1}}]}", "alerts[0].labels.n" },
		{ "{\"version\":\"4\",\"alerts\":[{\"status\":\"firing\",\"labels\":{\"alertname\":\"A\"},\"startsAt\":\"yesterday\"}]}",
		  "alerts[0].startsAt" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		buf_reset(&err);
		if (!alertmanager_decode(bad[i].body, strlen(bad[i].body), T0, &sink, &n, &err) ||
		    !strstr(err.data, bad[i].msg))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err.data, bad[i].msg);
	}
	/* nothing of a rejected payload was taken: alert A never appeared */
	assert_int_equal((int)state_of(a, "A", NULL, NULL, NULL), -1);
	buf_release(&err);
	alerts_destroy(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lifecycle),
		cmocka_unit_test(test_since),
		cmocka_unit_test(test_subscribe),   cmocka_unit_test(test_dedup),	  cmocka_unit_test(test_grouping), cmocka_unit_test(test_declared_graph),
		cmocka_unit_test(test_inhibition),  cmocka_unit_test(test_silences),  cmocka_unit_test(test_silence_matchers),  cmocka_unit_test(test_severity),
		cmocka_unit_test(test_template),    cmocka_unit_test(test_rules_config), cmocka_unit_test(test_rules_eval),
		cmocka_unit_test(test_rules_fresh), cmocka_unit_test(test_rules_fresh_gap),
		cmocka_unit_test(test_rules_fresh_during_evaluation), cmocka_unit_test(test_reload),
		cmocka_unit_test(test_next_due),
		cmocka_unit_test(test_alertmanager),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
