/* Unit tests for incidents: the lifecycle table (every from → to pair), the
 * primary service and relatedness of grouping over a given graph, the
 * decision to open (defaults, tier, rules) and the severity matrix, the
 * `incidents:` loader's errors, and the service catalogue. No store, no
 * sleeps. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/time.h"
#include "detect/alerts.h"
#include "store/store.h"
#include "store_at.h"
#include "respond/catalog.h"
#include "respond/incident.h"
#include "respond/incident_impl.h"

static void test_lifecycle_table(void **state)
{
	(void)state;
	static const char *const st[] = { "triggered", "acknowledged", "mitigated", "resolved", "reviewed" };
	/* allowed[from][to] by hand */
	static const bool allowed[5][5] = {
		{ false, true, true, true, false },   /* triggered */
		{ false, false, true, true, false },  /* acknowledged */
		{ false, false, false, true, false }, /* mitigated */
		{ false, false, false, false, true }, /* resolved */
		{ false, false, false, false, false }, /* reviewed */
	};
	for (int f = 0; f < 5; f++)
		for (int t = 0; t < 5; t++) {
			const char *stamp = NULL;
			bool ok = incident_transition_allowed(st[f], st[t], false, &stamp);
			if (ok != allowed[f][t])
				fail_msg("%s -> %s: expected %s", st[f], st[t], allowed[f][t] ? "allowed" : "refused");
			if (ok)
				assert_non_null(stamp);
		}
	const char *stamp = "x";
	assert_true(incident_transition_allowed("triggered", "acknowledged", false, &stamp));
	assert_string_equal(stamp, "acknowledged_at");
	/* resolved → triggered only by a reopen, which sets no stamp */
	assert_false(incident_transition_allowed("resolved", "triggered", false, NULL));
	assert_true(incident_transition_allowed("resolved", "triggered", true, &stamp));
	assert_null(stamp);
	assert_false(incident_transition_allowed("reviewed", "triggered", true, NULL));
	assert_false(incident_transition_allowed("bogus", "resolved", false, NULL));
	assert_false(incident_transition_allowed(NULL, "resolved", false, NULL));
}

/* frontend → checkout → payments → db, and checkout → db */
static bool fake_reaches(void *ctx, const char *from, const char *to)
{
	(void)ctx;
	static const char *const reach[][2] = {
		{ "frontend", "checkout" }, { "frontend", "payments" }, { "frontend", "db" },
		{ "checkout", "payments" }, { "checkout", "db" },	{ "payments", "db" },
	};
	for (size_t i = 0; i < sizeof(reach) / sizeof(reach[0]); i++)
		if (!strcmp(reach[i][0], from) && !strcmp(reach[i][1], to))
			return true;
	return false;
}

static void test_grouping(void **state)
{
	(void)state;
	static const struct {
		const char *services[4];
		size_t n;
		size_t primary;
	} cases[] = {
		{ { "checkout", "payments", "frontend", "db" }, 4, 3 },
		{ { "db", "checkout" }, 2, 0 },
		{ { "frontend", "checkout" }, 2, 1 },
		{ { "frontend" }, 1, 0 },
		{ { "search", "mail" }, 2, 0 }, /* unrelated: the first stays */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(incident_primary(cases[i].services, cases[i].n, fake_reaches, NULL), cases[i].primary);
	assert_true(incident_related("db", "db", NULL, NULL));
	assert_true(incident_related("frontend", "db", fake_reaches, NULL));
	assert_true(incident_related("db", "frontend", fake_reaches, NULL));
	assert_false(incident_related("search", "db", fake_reaches, NULL));
	assert_false(incident_related(NULL, "db", fake_reaches, NULL));
}

static struct catalog *mk_catalog(void)
{
	json_t *svcs = json_loads("[{\"name\":\"payments\",\"tier\":\"critical\",\"owner\":\"pay-team\"},"
				  "{\"name\":\"search\"}]",
				  0, NULL);
	struct catalog *c;
	struct buf err = BUF_INIT;
	assert_int_equal(catalog_create(svcs, &c, &err), 0);
	json_decref(svcs);
	buf_release(&err);
	return c;
}

static void test_decide_defaults(void **state)
{
	(void)state;
	struct incidents_config cfg;
	struct buf err = BUF_INIT;
	assert_int_equal(incidents_config_parse(NULL, &cfg, &err), 0);
	struct catalog *cat = mk_catalog();
	static const struct {
		const char *service, *source, *metric;
		enum alert_severity sev;
		double score;
		bool open;
		const char *severity;
	} cases[] = {
		{ "payments", "rule", NULL, SEVERITY_PAGE, 0, true, "SEV1" },     /* critical × page */
		{ "search", "alertmanager", NULL, SEVERITY_PAGE, 0, true, "SEV2" }, /* standard × page */
		{ "search", "rule", NULL, SEVERITY_TICKET, 0, false, "SEV3" },
		{ "payments", "probe", NULL, SEVERITY_TICKET, 0, true, "SEV2" },  /* critical probe at warning */
		{ "search", "probe", NULL, SEVERITY_TICKET, 0, false, "SEV3" },
		{ "search", "anomaly", "error_ratio", SEVERITY_TICKET, 0.995, true, "SEV3" },
		{ "search", "anomaly", "p99_ms", SEVERITY_TICKET, 0.999, true, "SEV3" },
		{ "search", "anomaly", "error_ratio", SEVERITY_TICKET, 0.5, false, "SEV3" },
		{ "search", "anomaly", "request_rate", SEVERITY_TICKET, 0.999, false, "SEV3" },
		{ "unknown", "rule", NULL, SEVERITY_PAGE, 0, true, "SEV2" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct incident_signal s = { .name = "x", .service = cases[i].service, .source = cases[i].source,
					     .severity = cases[i].sev, .metric = cases[i].metric, .score = cases[i].score };
		struct incident_decision d;
		incident_decide(&cfg, cat, &s, &d);
		if (d.open != cases[i].open || strcmp(d.severity, cases[i].severity))
			fail_msg("case %zu: open %d severity %s", i, d.open, d.severity);
	}
	incidents_config_release(&cfg);
	catalog_destroy(cat);
	buf_release(&err);
}

static void test_decide_rules(void **state)
{
	(void)state;
	const char *yaml_json =
		"{\"rules\":[{\"match\":{\"alertname\":\"Noisy\"},\"open\":false},"
		"{\"match\":{\"severity\":\"warning\",\"labels\":{\"team\":\"db\"}},\"open\":true,\"severity\":\"SEV2\"},"
		"{\"match\":{\"service\":\"search\"},\"severity\":\"SEV4\"}],"
		"\"severity\":{\"standard\":{\"page\":\"SEV3\"}},\"group_window\":\"5m\"}";
	struct incidents_config cfg;
	struct buf err = BUF_INIT;
	assert_int_equal(incidents_config_parse(yaml_json, &cfg, &err), 0);
	assert_int_equal(cfg.group_window_ns, 300 * INT64_C(1000000000));
	assert_int_equal(cfg.reopen_window_ns, INCIDENTS_DEFAULT_REOPEN_WINDOW_NS);
	json_t *db = json_pack("{ss}", "team", "db"), *other = json_pack("{ss}", "team", "web");
	static const struct {
		const char *name, *service;
		enum alert_severity sev;
		int labels; /* 0 none, 1 db, 2 other */
		bool open;
		const char *severity;
	} cases[] = {
		{ "Noisy", "orders", SEVERITY_PAGE, 0, false, "SEV3" },
		{ "Slow", "orders", SEVERITY_TICKET, 1, true, "SEV2" },
		{ "Slow", "orders", SEVERITY_TICKET, 2, false, "SEV3" },
		{ "Down", "search", SEVERITY_PAGE, 0, true, "SEV4" },
		{ "Down", "orders", SEVERITY_PAGE, 0, true, "SEV3" }, /* the matrix as configured */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct incident_signal s = { .name = cases[i].name, .service = cases[i].service, .source = "rule",
					     .severity = cases[i].sev,
					     .labels = cases[i].labels == 1 ? db : cases[i].labels == 2 ? other : NULL };
		struct incident_decision d;
		incident_decide(&cfg, NULL, &s, &d);
		if (d.open != cases[i].open || strcmp(d.severity, cases[i].severity))
			fail_msg("case %zu: open %d severity %s", i, d.open, d.severity);
	}
	json_decref(db);
	json_decref(other);
	incidents_config_release(&cfg);
	buf_release(&err);
}

static void test_config_errors(void **state)
{
	(void)state;
	static const struct {
		const char *json, *want;
	} cases[] = {
		{ "[]", "incidents: expected a mapping" },
		{ "{\"group_window\":\"soon\"}", "incidents.group_window" },
		{ "{\"rules\":[{\"match\":{\"alertname\":\"A\"}}]}", "incidents.rules[0]: says neither" },
		{ "{\"rules\":[{\"open\":true,\"severity\":\"SEV9\"}]}", "incidents.rules[0].severity" },
		{ "{\"rules\":[{\"open\":true,\"match\":{\"severity\":\"loud\"}}]}", "incidents.rules[0].match.severity" },
		{ "{\"rules\":[{\"open\":true,\"match\":{\"labels\":{\"a\":1}}}]}", "incidents.rules[0].match.labels.a" },
		{ "{\"templates\":[{\"title\":\"x\"}]}", "incidents.templates[0]: names neither" },
		{ "{\"severity\":{\"gold\":{}}}", "incidents.severity.gold" },
		{ "{\"severity\":{\"critical\":{\"page\":\"P1\"}}}", "incidents.severity.critical.page" },
		{ "{\"max_artifact_bytes\":\"1TiB\"}", "incidents.max_artifact_bytes" },
		{ "{\"status_page\":\"yes\"}", "incidents.status_page" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf err = BUF_INIT;
		assert_int_equal(incidents_config_check(cases[i].json, &err), OODA_EINVAL);
		if (!strstr(err.data, cases[i].want))
			fail_msg("case %zu: \"%s\" does not name %s", i, err.data, cases[i].want);
		buf_release(&err);
	}
}

static void test_catalog(void **state)
{
	(void)state;
	struct catalog *c = mk_catalog();
	const struct catalog_service *p = catalog_get(c, "payments");
	assert_non_null(p);
	assert_int_equal(p->tier, TIER_CRITICAL);
	assert_string_equal(p->owner, "pay-team");
	assert_string_equal(p->environment, CATALOG_DEFAULT_ENVIRONMENT);
	const struct catalog_service *s = catalog_get(c, "search");
	assert_int_equal(s->tier, TIER_STANDARD);
	assert_null(s->owner);
	assert_null(catalog_get(c, "nope"));
	struct catalog *same = mk_catalog(), *other = NULL;
	assert_true(catalog_equal(c, same));
	json_t *j = json_loads("[{\"name\":\"payments\",\"owner\":\"pay-team\"},{\"name\":\"search\"}]", 0, NULL);
	struct buf e = BUF_INIT;
	assert_int_equal(catalog_create(j, &other, &e), 0);
	assert_false(catalog_equal(c, other)); /* payments is no longer critical */
	json_decref(j);
	buf_release(&e);
	catalog_destroy(same);
	catalog_destroy(other);
	catalog_destroy(c);
	json_t *bad = json_loads("[{\"name\":\"a\",\"tier\":\"gold\"}]", 0, NULL);
	struct catalog *x = NULL;
	struct buf err = BUF_INIT;
	assert_int_equal(catalog_create(bad, &x, &err), OODA_EINVAL);
	assert_non_null(strstr(err.data, "services[0].tier"));
	json_decref(bad);
	buf_release(&err);
}

static void test_templates(void **state)
{
	(void)state;
	struct incidents_config cfg;
	struct buf err = BUF_INIT;
	assert_int_equal(incidents_config_parse("{\"templates\":[{\"service\":\"pay\",\"title\":\"a\"},"
						"{\"service\":\"pay\",\"alertname\":\"Down\",\"title\":\"b\"},"
						"{\"alertname\":\"Down\",\"title\":\"c\"}]}",
						&cfg, &err),
			 0);
	assert_string_equal(incident_template_for(&cfg, "pay", "Down")->title, "b");
	assert_string_equal(incident_template_for(&cfg, "pay", "Other")->title, "a");
	assert_string_equal(incident_template_for(&cfg, "web", "Down")->title, "c");
	assert_null(incident_template_for(&cfg, "web", "Other"));
	incidents_config_release(&cfg);
	buf_release(&err);
}

static void test_titles(void **state)
{
	(void)state;
	const int64_t at = INT64_C(1700000000) * OODA_NS_PER_SEC + 14 * 60 * OODA_NS_PER_SEC; /* 22:27 UTC */
	static const struct {
		const char *service, *name, *evidence, *want;
	} cases[] = {
		{ "payments", "anomaly:payments/error_ratio", "{\"metric\":\"error_ratio\",\"value\":0.28,\"baseline\":0.004}",
		  "payments: error ratio 28% (baseline 0.4%) since 22:27" },
		{ "payments", "anomaly:payments/p99_ms", "{\"metric\":\"p99_ms\",\"value\":950,\"baseline\":120}",
		  "payments: p99 ms 950 (baseline 120) since 22:27" },
		{ "database", "red:database/latency",
		  "{\"metric\":\"latency\",\"value\":0.97,\"baseline\":0,\"slow_ms\":8.4,\"p99_ms\":5.6}",
		  "database: 97% of requests slower than 8.4 ms (usual p99 5.6 ms) since 22:27" },
		{ "checkout", "slo:checkout-availability", "{\"burn_rates\":{\"1h\":14.4},\"budget_remaining\":0.62}",
		  "checkout: SLO checkout-availability burning 14.4x over 1h, 62% of budget left since 22:27" },
		{ "checkout", "probe:checkout/http", "{\"target\":\"http://c/healthz\",\"error\":\"connection refused\"}",
		  "checkout: probe:checkout/http of http://c/healthz failing (connection refused) since 22:27" },
		{ "db", "DBDown", "{\"startsAt\":\"x\"}", "db: DBDown since 22:27" },
		{ NULL, "ooda:disk-full", NULL, "ooda: ooda:disk-full since 22:27" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *ev = cases[i].evidence ? json_loads(cases[i].evidence, 0, NULL) : NULL;
		struct buf out = BUF_INIT;
		incident_title(&out, NULL, cases[i].service, cases[i].name, ev, "SEV2", at);
		if (strcmp(out.data, cases[i].want))
			fail_msg("case %zu: \"%s\"", i, out.data);
		buf_release(&out);
		json_decref(ev);
	}
	struct incident_template t = { .title = "[{severity}] {service}/{alertname} at {since} {unknown}" };
	struct buf out = BUF_INIT;
	incident_title(&out, &t, "db", "DBDown", NULL, "SEV1", at);
	assert_string_equal(out.data, "[SEV1] db/DBDown at 22:27 {unknown}");
	buf_release(&out);
}

/* ---- the stage on a real store, fed through the alerting core ------------- */

struct events {
	char log[2048];
	int n;
};

static void on_event(void *ctx, const char *event, const char *incident_json)
{
	struct events *e = ctx;
	json_t *j = json_loads(incident_json, 0, NULL);
	size_t len = strlen(e->log);
	snprintf(e->log + len, sizeof(e->log) - len, "%s:%s ", event, json_string_value(json_object_get(j, "id")));
	e->n++;
	json_decref(j);
}

static void fire(struct alerts *a, const char *name, const char *service, bool active, int64_t at)
{
	struct alert_signal s = { .source = "rule", .name = name, .service = service, .severity = SEVERITY_PAGE,
				  .active = active, .at_ns = at };
	alerts_signal(a, &s);
	alerts_tick(a, at);
}

static json_t *get(struct incidents *inc, const char *id)
{
	struct buf out = BUF_INIT, err = BUF_INIT;
	assert_int_equal(incidents_get_json(inc, id, &out, &err), 0);
	json_t *j = json_loads(out.data, 0, NULL);
	buf_release(&out);
	buf_release(&err);
	return j;
}

/* A started incident stage on a fresh store in a temporary directory, its events into *ev. */
struct stage {
	char dir[32];
	struct store *st;
	struct alerts *al;
	struct incidents *inc;
};

static void stage_open(struct stage *s, const char *graph, const char *settings, const char *services,
		       struct events *ev)
{
	struct buf err = BUF_INIT;
	snprintf(s->dir, sizeof(s->dir), "/tmp/ooda-incident-XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	assert_int_equal(test_store_open(s->dir, 0, &s->st, &err), 0);
	assert_int_equal(alerts_create(NULL, NULL, NULL, &s->al, &err), 0);
	if (graph)
		assert_int_equal(alerts_set_declared_graph_json(s->al, graph, &err), 0);
	struct incidents_options o = { .store = s->st, .alerts = s->al };
	assert_int_equal(incidents_create(&o, &s->inc, &err), 0);
	assert_int_equal(incidents_configure(s->inc, settings, services, true, NULL, &err), 0);
	assert_int_equal(incidents_subscribe(s->inc, on_event, ev), 0);
	assert_int_equal(incidents_start(s->inc, &err), 0);
	buf_release(&err);
}

static void stage_close(struct stage *s)
{
	incidents_destroy(s->inc);
	alerts_destroy(s->al);
	store_close(s->st);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->dir);
	assert_int_equal(system(cmd), 0);
}

static void test_stage(void **state)
{
	(void)state;
	struct buf err = BUF_INIT, out = BUF_INIT;
	struct events ev = { .n = 0 };
	struct stage sg;
	stage_open(&sg,
		   "{\"edges\":[{\"source\":\"frontend\",\"target\":\"checkout\"},"
		   "{\"source\":\"checkout\",\"target\":\"db\"}]}",
		   "{\"reopen_window\":\"1h\"}", "[{\"name\":\"db\",\"tier\":\"critical\",\"owner\":\"dba\"}]", &ev);
	struct alerts *al = sg.al;
	struct incidents *inc = sg.inc;

	const int64_t t0 = ooda_now_ns();
	/* the symptom first, then the cause, then the middle: one incident led by db */
	fire(al, "FrontendErrors", "frontend", true, t0);
	fire(al, "DBDown", "db", true, t0 + OODA_NS_PER_SEC);
	fire(al, "CheckoutSlow", "checkout", true, t0 + 2 * OODA_NS_PER_SEC);
	fire(al, "SearchDown", "search", true, t0 + 3 * OODA_NS_PER_SEC); /* unrelated: its own */
	incidents_wait_idle(inc);
	json_t *i1 = get(inc, "INC-1");
	assert_string_equal(json_string_value(json_object_get(i1, "service")), "db");
	assert_int_equal(json_array_size(json_object_get(i1, "alerts")), 3);
	assert_string_equal(json_string_value(json_object_get(i1, "severity")), "SEV1");
	assert_string_equal(json_string_value(json_object_get(i1, "team")), "dba");
	json_decref(i1);
	json_t *i2 = get(inc, "INC-2");
	assert_string_equal(json_string_value(json_object_get(i2, "service")), "search");
	json_decref(i2);
	assert_non_null(strstr(ev.log, "opened:INC-1 alert-joined:INC-1 severity:INC-1 alert-joined:INC-1 opened:INC-2"));

	/* resolve by hand; the cause firing again reopens, it does not open INC-3 */
	assert_int_equal(incidents_transition(inc, "INC-1", "resolved", "fixed", "tester", &out, &err), 0);
	assert_int_equal(incidents_transition(inc, "INC-1", "acknowledged", NULL, "tester", &out, &err), OODA_ECONFLICT);
	assert_non_null(strstr(err.data, "from resolved to acknowledged"));
	fire(al, "DBDown", "db", false, t0 + 10 * OODA_NS_PER_SEC);
	fire(al, "DBDown", "db", true, t0 + 20 * OODA_NS_PER_SEC);
	incidents_wait_idle(inc);
	i1 = get(inc, "INC-1");
	assert_string_equal(json_string_value(json_object_get(i1, "status")), "triggered");
	assert_int_equal(json_integer_value(json_object_get(i1, "reopened")), 1);
	json_decref(i1);
	assert_non_null(strstr(ev.log, "transition:INC-1 reopened:INC-1"));
	buf_reset(&out);
	assert_int_equal(incidents_get_json(inc, "INC-3", &out, &err), OODA_ENOTFOUND);

	/* another stage's entry: appended with the next seq, nothing rewritten */
	assert_int_equal(incidents_timeline_append(inc, "INC-1", "notification", "notify", "paged dba", "{\"to\":\"dba\"}",
						   &err),
			 0);
	assert_int_equal(incidents_timeline_append(inc, "INC-1", "gossip", "x", "y", NULL, &err), OODA_EINVAL);
	buf_reset(&out);
	assert_int_equal(incidents_timeline_json(inc, "INC-1", NULL, &out, &err), 0);
	json_t *doc = json_loads(out.data, 0, NULL);
	json_t *tl = json_object_get(doc, "entries");
	size_t n = json_array_size(tl);
	for (size_t k = 0; k < n; k++)
		assert_int_equal(json_integer_value(json_object_get(json_array_get(tl, k), "seq")), (json_int_t)k + 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(tl, n - 1), "kind")), "notification");
	json_decref(doc);

	stage_close(&sg);
	buf_release(&err);
	buf_release(&out);
}

static void fire_anomaly(struct alerts *a, const char *name, const char *service, const char *evidence, bool active,
			 int64_t at)
{
	json_t *ev = json_loads(evidence, 0, NULL);
	assert_non_null(ev);
	struct alert_signal s = { .source = "anomaly", .name = name, .service = service,
				  .severity = SEVERITY_TICKET, .evidence = ev, .active = active, .at_ns = at };
	alerts_signal(a, &s);
	alerts_tick(a, at);
	json_decref(ev);
}

/*
 * While the RED detector's shared slowdown fires, a latency anomaly on a
 * service it names opens no incident (the shared signal says it); one on
 * another service, an error anomaly on a named one, and a latency anomaly
 * once the shared slowdown is over still do; a rule saying open is obeyed.
 */
static void test_shared_slowdown_opens_nothing(void **state)
{
	(void)state;
	struct events ev = { .n = 0 };
	struct stage sg;
	stage_open(&sg, NULL, "{\"rules\":[{\"match\":{\"service\":\"d\"},\"open\":true}]}", NULL, &ev);
	struct alerts *al = sg.al;
	struct incidents *inc = sg.inc;
	const int64_t t0 = ooda_now_ns(), s = OODA_NS_PER_SEC;
	const char *slow = "{\"metric\":\"p99_ms\",\"value\":60,\"score\":0.999}";
	fire_anomaly(al, "red:shared/slowdown", NULL,
		     "{\"metric\":\"slowdown\",\"value\":3,\"services\":[\"a\",\"b\",\"d\"]}", true, t0);
	fire_anomaly(al, "anomaly:a/p99_ms", "a", slow, true, t0 + s);
	fire_anomaly(al, "red:b/latency", "b", "{\"metric\":\"latency\",\"value\":0.4,\"score\":0.999}", true,
		     t0 + s);
	incidents_wait_idle(inc);
	assert_int_equal(ev.n, 0); /* the shared slowdown's own services: nothing opened */
	fire_anomaly(al, "anomaly:c/p99_ms", "c", slow, true, t0 + 2 * s); /* not in it */
	fire_anomaly(al, "anomaly:b/error_ratio", "b", "{\"metric\":\"error_ratio\",\"value\":0.3,\"score\":0.999}",
		     true, t0 + 2 * s); /* errors are not a slowdown */
	fire_anomaly(al, "anomaly:d/p99_ms", "d", slow, true, t0 + 2 * s); /* a rule opens it */
	incidents_wait_idle(inc);
	assert_non_null(strstr(ev.log, "opened:INC-1"));
	assert_non_null(strstr(ev.log, "opened:INC-2"));
	assert_non_null(strstr(ev.log, "opened:INC-3"));
	assert_null(strstr(ev.log, "INC-4"));
	const char *want[] = { "c", "b", "d" };
	for (int i = 0; i < 3; i++) {
		char id[8];
		snprintf(id, sizeof(id), "INC-%d", i + 1);
		json_t *d = get(inc, id);
		assert_string_equal(json_string_value(json_object_get(d, "service")), want[i]);
		json_decref(d);
	}
	/* the shared slowdown over: a's latency anomaly firing again opens its incident */
	fire_anomaly(al, "red:shared/slowdown", NULL, "{\"metric\":\"slowdown\"}", false, t0 + 3 * s);
	fire_anomaly(al, "anomaly:a/p99_ms", "a", slow, false, t0 + 3 * s);
	fire_anomaly(al, "anomaly:a/p99_ms", "a", slow, true, t0 + 20 * s);
	incidents_wait_idle(inc);
	json_t *d = get(inc, "INC-4");
	assert_string_equal(json_string_value(json_object_get(d, "service")), "a");
	json_decref(d);

	stage_close(&sg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lifecycle_table), cmocka_unit_test(test_grouping),
		cmocka_unit_test(test_decide_defaults), cmocka_unit_test(test_decide_rules),
		cmocka_unit_test(test_config_errors),	cmocka_unit_test(test_catalog),
		cmocka_unit_test(test_templates),	cmocka_unit_test(test_stage),
		cmocka_unit_test(test_titles),		cmocka_unit_test(test_shared_slowdown_opens_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
