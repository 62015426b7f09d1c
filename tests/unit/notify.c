/*
 * Unit tests for the notifier's pure parts (src/respond/notify_config.c,
 * notify_render.c): config errors that name their key and never the
 * secret, routing by severity, service, team and kind, the shape of each
 * message type (Slack, signed webhook, PagerDuty Events v2, email), the
 * webhook signature against a known HMAC-SHA256, backoff bounds and stable
 * row ids. Nothing here sleeps or touches the network.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/time.h"
#include "respond/notify_impl.h"
#include "store/store.h"
#include "store_at.h"

static struct notify_config *load(const char *json)
{
	json_t *j = json_loads(json, JSON_DECODE_ANY, NULL);
	assert_non_null(j);
	struct notify_config *c = NULL;
	struct buf err = BUF_INIT;
	int rc = notify_config_parse(j, &c, &err);
	if (rc)
		fail_msg("config %s refused: %s", json, err.data);
	buf_release(&err);
	json_decref(j);
	return c;
}

/* ---- config errors ----------------------------------------------------------- */

static const struct {
	const char *json;
	const char *want; /* substring of the error */
} bad_configs[] = {
	{ "[1]", "notify: must be a mapping" },
	{ "{\"targets\":[{\"type\":\"webhook\",\"url\":\"http://x\"}]}", "notify.targets[0].name: is required" },
	{ "{\"targets\":[{\"name\":\"a\",\"type\":\"fax\",\"url\":\"http://x\"}]}", "notify.targets[0].type: must be webhook" },
	{ "{\"targets\":[{\"name\":\"a\",\"type\":\"webhook\",\"url\":\"ftp://x\",\"secret_env\":\"NOTIFY_UT_SECRET\"}]}",
	  "notify.targets[0].url: a webhook target needs a http:// or https:// URL" },
	{ "{\"targets\":[{\"name\":\"a\",\"type\":\"webhook\",\"url\":\"http://x\"}]}",
	  "notify.targets[0]: a webhook target needs secret_env or secret_file" },
	{ "{\"targets\":[{\"name\":\"a\",\"type\":\"webhook\",\"url\":\"http://x\",\"secret_env\":\"NOTIFY_UT_UNSET\"}]}",
	  "notify.targets[0].secret_env: environment variable NOTIFY_UT_UNSET is not set" },
	{ "{\"targets\":[{\"name\":\"a\",\"type\":\"pagerduty\",\"secret_file\":\"/nonexistent/key\"}]}",
	  "notify.targets[0].secret_file: cannot read a secret from /nonexistent/key" },
	{ "{\"targets\":[{\"name\":\"a\",\"type\":\"email\",\"url\":\"smtp://h:25\",\"from\":\"o@x\"}]}",
	  "notify.targets[0].to: an email target needs at least one recipient" },
	{ "{\"targets\":[{\"name\":\"a\",\"type\":\"email\",\"url\":\"smtp://h:25\",\"from\":\"o@x\",\"to\":[\"a@b>\"]}]}",
	  "notify.targets[0].to: \"a@b>\" is not a plain address" },
	{ "{\"targets\":[{\"name\":\"a\",\"type\":\"slack\",\"url\":\"http://x\"},{\"name\":\"a\",\"type\":\"slack\",\"url\":\"http://y\"}]}",
	  "notify.targets[1].name: \"a\" is also the name of targets[0]" },
	{ "{\"targets\":[{\"name\":\"a\",\"type\":\"slack\",\"url\":\"http://x\"}],\"routes\":[{\"targets\":[\"a\",\"b\"]}]}",
	  "notify.routes[0].targets[1]: no target is named \"b\"" },
	{ "{\"routes\":[{\"match\":{\"kind\":\"deploy\"},\"targets\":[\"a\"]}]}", "notify.routes[0].match.kind: must be incident or alert" },
	{ "{\"retry\":{\"max_attempts\":0}}", "notify.retry.max_attempts: must be an integer from 1 to 100" },
	{ "{\"retry\":{\"base\":\"10s\",\"max_backoff\":\"1s\"}}", "notify.retry.max_backoff: must not be shorter than base" },
	{ "{\"public_url\":\"ooda.example.com\"}", "notify.public_url: must be an http:// or https:// URL" },
};

static void test_config_errors(void **state)
{
	(void)state;
	setenv("NOTIFY_UT_SECRET", "hunter2-secret", 1);
	unsetenv("NOTIFY_UT_UNSET");
	for (size_t i = 0; i < sizeof(bad_configs) / sizeof(bad_configs[0]); i++) {
		json_t *j = json_loads(bad_configs[i].json, JSON_DECODE_ANY, NULL);
		assert_non_null(j);
		struct notify_config *c = NULL;
		struct buf err = BUF_INIT;
		int rc = notify_config_parse(j, &c, &err);
		if (rc != OODA_EINVAL || !strstr(err.data, bad_configs[i].want))
			fail_msg("%s: rc %d, error \"%s\", want \"%s\"", bad_configs[i].json, rc, err.data, bad_configs[i].want);
		if (strstr(err.data, "hunter2"))
			fail_msg("%s: the secret is in the error: %s", bad_configs[i].json, err.data);
		assert_null(c);
		buf_release(&err);
		json_decref(j);
	}
}

static void test_config_secrets(void **state)
{
	(void)state;
	setenv("NOTIFY_UT_SECRET", "hunter2-secret", 1);
	char path[] = "/tmp/notify-ut-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "file-secret\n", 12), 12);
	close(fd);
	struct buf j = BUF_INIT;
	buf_addf(&j, "{\"targets\":[{\"name\":\"w\",\"type\":\"webhook\",\"url\":\"http://x\",\"secret_env\":\"NOTIFY_UT_SECRET\"},"
		     "{\"name\":\"p\",\"type\":\"pagerduty\",\"secret_file\":\"%s\"}]}", path);
	struct notify_config *c = load(j.data);
	assert_int_equal(c->n_targets, 2);
	assert_string_equal(c->targets[0].secret, "hunter2-secret");
	assert_string_equal(c->targets[1].secret, "file-secret"); /* the newline is dropped */
	assert_string_equal(c->targets[1].url, NOTIFY_DEFAULT_PAGERDUTY_URL);
	assert_int_equal(c->max_attempts, 12);
	assert_int_equal(c->base_ns, OODA_NS_PER_SEC);
	assert_int_equal(c->max_backoff_ns, 300 * OODA_NS_PER_SEC);
	notify_config_free(c);
	unlink(path);
	buf_release(&j);
}

/* ---- routing ------------------------------------------------------------------------ */

static const char *route_config =
	"{\"targets\":[{\"name\":\"pager\",\"type\":\"slack\",\"url\":\"http://p\"},"
	"{\"name\":\"payments\",\"type\":\"slack\",\"url\":\"http://pay\"},"
	"{\"name\":\"all\",\"type\":\"slack\",\"url\":\"http://all\"},"
	"{\"name\":\"incidents\",\"type\":\"slack\",\"url\":\"http://inc\"}],"
	"\"routes\":[{\"match\":{\"severity\":[\"page\",\"critical\"]},\"targets\":[\"pager\"]},"
	"{\"match\":{\"team\":[\"payments\"],\"service\":[\"checkout\",\"billing\"]},\"targets\":[\"payments\"]},"
	"{\"match\":{\"kind\":\"incident\"},\"targets\":[\"incidents\",\"pager\"]},"
	"{\"targets\":[\"all\"]}]}";

static const struct {
	const char *kind, *severity, *service, *team;
	const char *want; /* one letter per target picked: p(ager) y (payments) a(ll) i(ncidents) */
} route_cases[] = {
	{ "alert", "page", "web", NULL, "pa" },
	{ "alert", "ticket", "web", NULL, "a" },
	{ "alert", "ticket", "checkout", "payments", "ya" },
	{ "alert", "ticket", "checkout", "search", "a" },
	{ "alert", "ticket", "web", "payments", "a" },   /* the team matches, the service does not */
	{ "alert", "ticket", NULL, "payments", "a" },    /* no service: a service list does not match */
	{ "incident", "ticket", NULL, NULL, "pai" },     /* kind incident adds incidents and pager */
	{ "incident", "critical", "billing", "payments", "pyai" },
};

static void test_routing(void **state)
{
	(void)state;
	struct notify_config *c = load(route_config);
	const char letters[] = "pyai";
	for (size_t i = 0; i < sizeof(route_cases) / sizeof(route_cases[0]); i++) {
		struct notify_event ev = { .kind = route_cases[i].kind, .event = "firing", .severity = route_cases[i].severity,
					   .service = route_cases[i].service, .team = route_cases[i].team };
		bool picked[4];
		size_t n = notify_route(c, &ev, picked);
		char got[8] = "";
		size_t k = 0;
		for (size_t t = 0; t < 4; t++)
			if (picked[t])
				got[k++] = letters[t];
		got[k] = 0;
		if (strcmp(got, route_cases[i].want) || n != strlen(route_cases[i].want))
			fail_msg("case %zu: picked \"%s\" (%zu), want \"%s\"", i, got, n, route_cases[i].want);
	}
	notify_config_free(c);
}

/* ---- message shapes ------------------------------------------------------------------- */

static const struct notify_event incident_ev = {
	.kind = "incident", .event = "opened", .incident_id = "inc_42", .title = "Checkout errors <5xx>",
	.severity = "page", .service = "checkout", .team = "payments", .impact = "12% of checkouts fail",
	.top_suspect = "deploy checkout v2.3.1", .at_ns = INT64_C(1700000000) * OODA_NS_PER_SEC,
};

static json_t *render_json(const struct notify_target *t, const struct notify_event *ev, const char *public_url)
{
	struct buf out = BUF_INIT;
	notify_render(t, ev, "ntf_00000000000000aa", public_url, 1, &out);
	json_t *j = json_loads(out.data, 0, NULL);
	if (!j)
		fail_msg("not JSON: %s", out.data);
	buf_release(&out);
	return j;
}

static void test_render_webhook(void **state)
{
	(void)state;
	struct notify_target t = { .name = "hook", .type = NOTIFY_WEBHOOK, .url = "http://x" };
	json_t *j = render_json(&t, &incident_ev, "https://ooda.example.com/");
	assert_string_equal(json_string_value(json_object_get(j, "id")), "ntf_00000000000000aa");
	assert_string_equal(json_string_value(json_object_get(j, "event")), "opened");
	assert_string_equal(json_string_value(json_object_get(j, "kind")), "incident");
	json_t *inc = json_object_get(j, "incident");
	assert_string_equal(json_string_value(json_object_get(inc, "id")), "inc_42");
	assert_string_equal(json_string_value(json_object_get(inc, "top_suspect")), "deploy checkout v2.3.1");
	assert_string_equal(json_string_value(json_object_get(inc, "link")),
			    "https://ooda.example.com/api/v1/incidents/inc_42");
	assert_string_equal(json_string_value(json_object_get(j, "at")), "2023-11-14T22:13:20.000Z");
	json_decref(j);
}

static void test_render_slack(void **state)
{
	(void)state;
	struct notify_target t = { .name = "chat", .type = NOTIFY_SLACK, .url = "http://x" };
	json_t *j = render_json(&t, &incident_ev, "https://ooda.example.com");
	const char *text = json_string_value(json_object_get(j, "text"));
	assert_non_null(text);
	assert_non_null(strstr(text, "[PAGE] Checkout errors &lt;5xx&gt; (opened)"));
	json_t *blocks = json_object_get(j, "blocks");
	assert_int_equal(json_array_size(blocks), 2);
	json_t *sec = json_array_get(blocks, 0);
	assert_string_equal(json_string_value(json_object_get(sec, "type")), "section");
	const char *md = json_string_value(json_object_get(json_object_get(sec, "text"), "text"));
	assert_string_equal(json_string_value(json_object_get(json_object_get(sec, "text"), "type")), "mrkdwn");
	assert_non_null(strstr(md, "<https://ooda.example.com/api/v1/incidents/inc_42|Checkout errors &lt;5xx&gt;>"));
	assert_non_null(strstr(md, "*Impact:* 12% of checkouts fail"));
	assert_non_null(strstr(md, "*Top suspect:* deploy checkout v2.3.1"));
	assert_non_null(strstr(md, "*Severity:* PAGE"));
	assert_string_equal(json_string_value(json_object_get(json_array_get(blocks, 1), "type")), "context");
	json_decref(j);
}

static void test_render_pagerduty(void **state)
{
	(void)state;
	struct notify_target t = { .name = "pd", .type = NOTIFY_PAGERDUTY, .url = "http://x", .secret = "R0UTING",
				   .secret_len = 7 };
	json_t *j = render_json(&t, &incident_ev, "https://ooda.example.com");
	/* Events API v2: event_action, dedup_key, payload.{summary,source,severity} are required for a trigger */
	assert_string_equal(json_string_value(json_object_get(j, "event_action")), "trigger");
	assert_string_equal(json_string_value(json_object_get(j, "dedup_key")), "inc_42");
	assert_null(json_object_get(j, "routing_key")); /* added when sent, never stored */
	json_t *p = json_object_get(j, "payload");
	assert_string_equal(json_string_value(json_object_get(p, "summary")),
			    "[PAGE] Checkout errors <5xx>: 12% of checkouts fail");
	assert_string_equal(json_string_value(json_object_get(p, "source")), "checkout");
	assert_string_equal(json_string_value(json_object_get(p, "severity")), "critical");
	assert_string_equal(json_string_value(json_object_get(p, "component")), "checkout");
	assert_string_equal(json_string_value(json_object_get(p, "group")), "payments");
	assert_string_equal(json_string_value(json_object_get(p, "timestamp")), "2023-11-14T22:13:20.000Z");
	assert_string_equal(json_string_value(json_object_get(json_object_get(p, "custom_details"), "top_suspect")),
			    "deploy checkout v2.3.1");
	json_t *link = json_array_get(json_object_get(j, "links"), 0);
	assert_string_equal(json_string_value(json_object_get(link, "href")),
			    "https://ooda.example.com/api/v1/incidents/inc_42");
	json_decref(j);

	struct notify_event res = incident_ev;
	res.event = "resolved";
	j = render_json(&t, &res, NULL);
	assert_string_equal(json_string_value(json_object_get(j, "event_action")), "resolve");
	assert_string_equal(json_string_value(json_object_get(j, "dedup_key")), "inc_42");
	assert_null(json_object_get(j, "payload"));
	json_decref(j);

	static const struct {
		const char *ours, *theirs;
	} sev[] = { { "page", "critical" }, { "critical", "critical" }, { "ticket", "warning" },
		    { "warning", "warning" }, { "info", "info" }, { "sev9", "error" }, { NULL, "error" } };
	for (size_t i = 0; i < sizeof(sev) / sizeof(sev[0]); i++)
		assert_string_equal(notify_pagerduty_severity(sev[i].ours), sev[i].theirs);
	assert_string_equal(notify_pagerduty_action("acknowledged"), "acknowledge");
	assert_string_equal(notify_pagerduty_action("escalated"), "trigger");
}

static void test_render_email(void **state)
{
	(void)state;
	char *to[] = { "oncall@example.com", "lead@example.com" };
	struct notify_target t = { .name = "mail", .type = NOTIFY_EMAIL, .url = "smtp://h:25", .from = "ooda@example.com",
				   .to = to, .n_to = 2 };
	struct notify_event ev = incident_ev;
	ev.title = "Checkout\r\nBcc: evil@example.com";
	struct buf out = BUF_INIT;
	notify_render(&t, &ev, "ntf_00000000000000aa", NULL, 1, &out);
	const char *m = out.data;
	assert_non_null(strstr(m, "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"));
	assert_non_null(strstr(m, "From: ooda <ooda@example.com>\r\n"));
	assert_non_null(strstr(m, "To: oncall@example.com, lead@example.com\r\n"));
	assert_non_null(strstr(m, "Message-ID: <ntf_00000000000000aa@ooda>\r\n"));
	assert_non_null(strstr(m, "Subject: [PAGE] Checkout  Bcc: evil@example.com (opened)\r\n"));
	assert_null(strstr(m, "\r\nBcc:")); /* a title cannot add a header */
	assert_non_null(strstr(m, "\r\n\r\n"));
	assert_non_null(strstr(m, "Top suspect: deploy checkout v2.3.1\r\n"));
	buf_release(&out);

	ev.title = "Zahlung fehlgeschlagen ü";
	notify_render(&t, &ev, "ntf_00000000000000aa", NULL, 1, &out);
	assert_non_null(strstr(out.data, "Subject: =?UTF-8?B?"));
	buf_release(&out);
}

/* ---- signature, backoff, ids ------------------------------------------------------------ */

static void test_sign(void **state)
{
	(void)state;
	struct buf out = BUF_INIT;
	const char *body = "{\"id\":\"ntf_1\"}";
	notify_sign("whsec_test", 10, 1700000000, body, strlen(body), &out);
	/* python3: hmac.new(b"whsec_test", b'1700000000.{"id":"ntf_1"}', hashlib.sha256).hexdigest() */
	assert_string_equal(out.data, "t=1700000000,v1=2efcb619448fa4550b37d7d437dc84f49ad35d8e02cbbe107ecffeb34d0fccd9");
	buf_release(&out);
}

static void test_backoff(void **state)
{
	(void)state;
	const int64_t S = OODA_NS_PER_SEC;
	static const struct {
		int64_t attempts, base, max, cap; /* cap: the largest delay */
	} cases[] = {
		{ 1, 1, 300, 1 },   { 2, 1, 300, 2 },	{ 3, 1, 300, 4 },   { 9, 1, 300, 256 },
		{ 10, 1, 300, 300 }, { 60, 1, 300, 300 }, { 1000, 1, 300, 300 }, { 0, 1, 300, 1 },
	};
	const uint64_t rnds[] = { 0, 1, 12345, UINT64_MAX, UINT64_MAX / 2, 999999999999ULL };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t cap = cases[i].cap * S, hi = 0;
		for (size_t r = 0; r < sizeof(rnds) / sizeof(rnds[0]); r++) {
			int64_t d = notify_backoff_ns(cases[i].attempts, cases[i].base * S, cases[i].max * S, rnds[r]);
			if (d < 0 || d > cap)
				fail_msg("attempts %lld: delay %lld outside [0, %lld]", (long long)cases[i].attempts,
					 (long long)d, (long long)cap);
			if (d > hi)
				hi = d;
		}
		/* the cap itself is reachable: rnd == cap */
		assert_int_equal(notify_backoff_ns(cases[i].attempts, cases[i].base * S, cases[i].max * S, (uint64_t)cap), cap);
	}
}

static void test_row_id(void **state)
{
	(void)state;
	char a[24], b[24], c[24];
	notify_row_id("inc_1/opened/chat", a);
	notify_row_id("inc_1/opened/chat", b);
	notify_row_id("inc_1/opened/mail", c);
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	assert_int_equal(strlen(a), 20);
	assert_memory_equal(a, "ntf_", 4);
}

/* ---- the outbox on a real store ---------------------------------------------------------- */

static int count_row(void *ctx, const void *row)
{
	const struct notify_row *r = row;
	struct notify_row *last = ctx;
	last->attempts += 1; /* rows seen */
	last->next_attempt_ns = r->attempts;
	last->status = strcmp(r->status, "pending") ? "other" : "pending";
	return 0;
}

static void test_outbox(void **state)
{
	(void)state;
	char dir[] = "/tmp/ooda-notify-ut-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct store *s = NULL;
	struct buf err = BUF_INIT;
	assert_int_equal(test_store_open(dir, 0, &s, &err), 0);
	setenv("NOTIFY_UT_SECRET", "hunter2-secret", 1);
	/* port 1 on loopback: nothing listens, every attempt fails at once */
	const char *cfg = "{\"retry\":{\"max_attempts\":2,\"base\":\"10ms\",\"max_backoff\":\"10ms\"},"
			  "\"targets\":[{\"name\":\"hook\",\"type\":\"webhook\",\"url\":\"http://127.0.0.1:1/\","
			  "\"secret_env\":\"NOTIFY_UT_SECRET\"}],\"routes\":[{\"match\":{\"kind\":\"incident\"},\"targets\":[\"hook\"]}]}";
	struct notify *n = NULL;
	assert_int_equal(notify_create(s, NULL, cfg, &n, &err), 0);
	struct notify_event ev = { .kind = "incident", .event = "opened", .incident_id = "inc_1", .title = "t" };
	assert_int_equal(notify_enqueue(n, &ev, &err), 1);
	assert_int_equal(notify_enqueue(n, &ev, &err), 0); /* the same event again: deduplicated */
	struct notify_event alert = { .kind = "alert", .event = "firing", .alert_fingerprint = "00ff", .title = "a" };
	assert_int_equal(notify_enqueue(n, &alert, &err), 0); /* no route for alerts */
	struct notify_event bad = { .kind = "incident", .title = "no event" };
	assert_int_equal(notify_enqueue(n, &bad, &err), OODA_EINVAL);
	assert_int_equal(notify_page(n, "nobody", &ev, &err), OODA_ENOTFOUND);

	struct notify_row seen = { 0 };
	struct notify_filter f = { .incident = "inc_1" };
	assert_int_equal(store_notify_list(s, &f, count_row, &seen), 0);
	assert_int_equal(seen.attempts, 1);
	assert_int_equal(seen.next_attempt_ns, 0); /* no attempt before the worker starts */
	assert_string_equal(seen.status, "pending");

	/* a pass tries, fails and backs off; a pass past the backoff gives up after max_attempts */
	struct notify_counts c = { 0 };
	notify_deliver_due(n, 0);
	assert_int_equal(store_notify_counts(s, &c), 0);
	assert_int_equal(c.pending, 1);
	assert_int_equal(c.attempts, 1);
	notify_deliver_due(n, ooda_now_ns() + 60 * OODA_NS_PER_SEC);
	assert_int_equal(store_notify_counts(s, &c), 0);
	assert_int_equal(c.failed, 1);
	assert_int_equal(c.pending, 0);
	assert_int_equal(c.attempts, 2);
	struct buf out = BUF_INIT;
	assert_int_equal(notify_list_json(n, &f, &out, &err), 0);
	assert_non_null(strstr(out.data, "\"status\":\"failed\""));
	assert_non_null(strstr(out.data, "\"attempts\":2"));
	assert_null(strstr(out.data, "hunter2"));
	/* retention: a finished row goes once older than keep, never before */
	assert_int_equal(notify_prune(n, ooda_now_ns() + 120 * OODA_NS_PER_SEC), 0); /* no retention set */
	notify_set_retention(n, 3600 * OODA_NS_PER_SEC);
	assert_int_equal(notify_prune(n, ooda_now_ns() + 120 * OODA_NS_PER_SEC), 0);
	assert_int_equal(notify_prune(n, ooda_now_ns() + 7200 * OODA_NS_PER_SEC), 1);
	assert_int_equal(store_notify_counts(s, &c), 0);
	assert_int_equal(c.failed, 0);
	struct notify_event later = ev;
	later.event = "resolved";
	assert_int_equal(notify_enqueue(n, &later, &err), 1);
	assert_int_equal(notify_prune(n, ooda_now_ns() + 7200 * OODA_NS_PER_SEC), 0); /* pending rows stay */
	assert_int_equal(store_notify_counts(s, &c), 0);
	assert_int_equal(c.pending, 1);
	struct notify_filter badf = { .status = "lost" };
	assert_int_equal(notify_list_json(n, &badf, &out, &err), OODA_EINVAL);
	notify_destroy(n);
	store_close(s);
	buf_release(&out);
	buf_release(&err);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_errors), cmocka_unit_test(test_config_secrets),
		cmocka_unit_test(test_routing),	      cmocka_unit_test(test_render_webhook),
		cmocka_unit_test(test_render_slack),  cmocka_unit_test(test_render_pagerduty),
		cmocka_unit_test(test_render_email),  cmocka_unit_test(test_sign),
		cmocka_unit_test(test_backoff),	      cmocka_unit_test(test_row_id),
		cmocka_unit_test(test_outbox),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
