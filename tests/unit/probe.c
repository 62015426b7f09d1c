/*
 * Unit tests for probes and heartbeats (src/detect/probe.c, heartbeat.c):
 * the hysteresis table (sequences of results and the state after each),
 * config errors that name their key path, the drift-free schedule with
 * explicit times, the heartbeat state function, and the tick's signals.
 * Nothing here sleeps, reads the clock or touches the network.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/time.h"
#include "detect/heartbeat.h"
#include "detect/probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#define S OODA_NS_PER_SEC

/* Results as letters ('.' success, 'x' failure) and the state after each (u, p, f). */
struct hyst_case {
	const char *what;
	int n, m, k;
	const char *results;
	const char *states;
};

static const struct hyst_case hyst[] = {
	{ "healthy stays passing", 3, 5, 2, "........", "pppppppp" },
	{ "failures from the start fail at N", 3, 5, 2, "xxxx", "uuff" },
	{ "a transient blip never fails", 3, 5, 2, "..x....x...", "ppppppppppp" },
	{ "two failures in five stay passing", 3, 5, 2, ".x.x....", "pppppppp" },
	{ "fails 1 in 4 (flapping) never fails", 3, 5, 2, "...x...x...x...x...x", "pppppppppppppppppppp" },
	{ "three of five fail", 3, 5, 2, ".x.x.x", "pppppf" },
	{ "persistent fault fails within the window", 3, 5, 2, "..xxx", "ppppf" },
	{ "failures spread wider than M do not add up", 3, 5, 2, "x...x...x...x", "uppppppppppp" "p" },
	{ "recovery needs K consecutive successes", 3, 5, 2, "..xxx.x..", "ppppffffp" },
	{ "after recovery the window starts empty", 3, 5, 2, "xxx..x.x", "uuffpppp" },
	{ "K = 3", 2, 3, 3, ".xx...", "ppfffp" },
	{ "1 of 1 fails on every failure", 1, 1, 1, ".x.x", "pfpf" },
	{ "N = M = 32", 32, 32, 1, ".", "p" },
};

static void test_hysteresis(void **state)
{
	(void)state;
	for (size_t c = 0; c < sizeof(hyst) / sizeof(hyst[0]); c++) {
		struct probe_window w = { 0 };
		const struct hyst_case *h = &hyst[c];
		for (size_t i = 0; h->results[i]; i++) {
			enum probe_state s = probe_window_push(&w, h->results[i] == '.', h->n, h->m, h->k);
			char want = h->states[i];
			char got = s == PROBE_UNKNOWN ? 'u' : s == PROBE_PASSING ? 'p' : 'f';
			if (got != want)
				fail_msg("%s: after %zu results (%.*s) state %c, want %c", h->what, i + 1, (int)(i + 1),
					 h->results, got, want);
		}
	}
}

static void test_window_failures(void **state)
{
	(void)state;
	struct probe_window w = { 0 };
	for (int i = 0; i < 40; i++)
		probe_window_push(&w, i % 2 == 0, 32, 32, 1);
	assert_int_equal(w.len, PROBE_WINDOW_MAX);
	assert_int_equal(probe_window_failures(&w, 4), 2);
	assert_int_equal(probe_window_failures(&w, 32), 16);
}

static void test_schedule(void **state)
{
	(void)state;
	const int64_t T = 1000 * S, I = 10 * S;
	struct {
		int64_t due, now, want;
	} cases[] = {
		{ T, T, T + I },                 /* on time */
		{ T, T + 3 * S, T + I },         /* started late: the next stays on the grid */
		{ T, T + I - 1, T + I },
		{ T, T + I, T + 2 * I },         /* a whole slot late: skip it, do not burst */
		{ T, T + 35 * S, T + 4 * I },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(probe_next_due(cases[i].due, I, cases[i].now), cases[i].want);
	/* 1000 attempts, each starting a little late: the 1000th is due exactly at T + 1000 I */
	int64_t due = T;
	for (int k = 0; k < 1000; k++) {
		int64_t started = due + (k % 7) * 13 * OODA_NS_PER_MS;
		due = probe_next_due(due, I, started + 40 * OODA_NS_PER_MS);
	}
	assert_int_equal(due, T + 1000 * I);
}

static json_t *yaml_json(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);
	if (!j)
		fail_msg("bad test JSON: %s", e.text);
	return j;
}

static void test_parse_ok(void **state)
{
	(void)state;
	json_t *j = yaml_json(
		"[{\"name\":\"web\",\"owner\":\"team\"},"
		" {\"name\":\"checkout\",\"probes\":["
		"  {\"name\":\"http\",\"http\":{\"url\":\"http://127.0.0.1:1/healthz\",\"expect_status\":[200,\"3xx\"],"
		"   \"headers\":{\"X-A\":\"1\"},\"body_regex\":\"^ok\",\"max_latency\":\"500ms\"},"
		"   \"interval\":\"10s\",\"fail_after\":\"2 of 4\",\"pass_after\":3,\"severity\":\"ticket\"},"
		"  {\"name\":\"db\",\"tcp\":\"[::1]:5432\",\"interval\":2},"
		"  {\"name\":\"dns\",\"dns\":\"example.internal\"},"
		"  {\"name\":\"job\",\"exec\":{\"argv\":[\"true\",\"x\"],\"timeout\":\"1s\",\"expect_exit\":3}}]}]");
	struct probe_spec *v;
	size_t n;
	struct buf err = BUF_INIT;
	assert_int_equal(probe_specs_parse(j, &v, &n, &err), 0);
	assert_int_equal(n, 4);
	assert_string_equal(v[0].service, "checkout");
	assert_int_equal(v[0].kind, PROBE_HTTP);
	assert_string_equal(v[0].method, "GET");
	assert_true(probe_status_expected(&v[0], 200));
	assert_true(probe_status_expected(&v[0], 302));
	assert_false(probe_status_expected(&v[0], 204));
	assert_int_equal(v[0].fail_n, 2);
	assert_int_equal(v[0].fail_m, 4);
	assert_int_equal(v[0].pass_k, 3);
	assert_int_equal(v[0].max_latency_ns, 500 * OODA_NS_PER_MS);
	assert_int_equal(v[0].interval_ns, 10 * S);
	assert_int_equal(v[0].timeout_ns, 10 * S); /* default 10s, clipped to the interval */
	assert_int_equal(v[0].severity, SEVERITY_TICKET);
	assert_string_equal(v[1].host, "::1");
	assert_string_equal(v[1].port, "5432");
	assert_int_equal(v[1].timeout_ns, 2 * S);
	assert_int_equal(v[1].fail_n, PROBE_DEFAULT_FAIL_N);
	assert_int_equal(v[1].fail_m, PROBE_DEFAULT_FAIL_M);
	assert_int_equal(v[1].pass_k, PROBE_DEFAULT_PASS_K);
	assert_int_equal(v[2].interval_ns, PROBE_DEFAULT_INTERVAL_NS);
	assert_int_equal(v[3].kind, PROBE_EXEC);
	assert_int_equal(v[3].argc, 2);
	assert_int_equal(v[3].timeout_ns, 1 * S);
	assert_int_equal(v[3].expect_exit, 3);
	assert_null(v[3].argv[2]);
	/* default expected statuses: 2xx */
	json_t *d = yaml_json("[{\"name\":\"s\",\"probes\":[{\"name\":\"p\",\"http\":{\"url\":\"https://x/\"}}]}]");
	struct probe_spec *dv;
	size_t dn;
	assert_int_equal(probe_specs_parse(d, &dv, &dn, &err), 0);
	assert_true(probe_status_expected(&dv[0], 204));
	assert_false(probe_status_expected(&dv[0], 301));
	probe_specs_free(dv, dn);
	probe_specs_free(v, n);
	json_decref(d);
	json_decref(j);
	buf_release(&err);
}

static void test_parse_errors(void **state)
{
	(void)state;
	struct {
		const char *json, *want;
	} cases[] = {
		{ "{}", "services: must be a list" },
		{ "[{\"name\":\"a\",\"probes\":[]},{\"name\":\"b\",\"probes\":[{\"name\":\"p\",\"http\":{\"url\":\"ftp://x\"}}]}]",
		  "services[1].probes[0].http.url: must be an http:// or https:// URL" },
		{ "[{\"name\":\"b\",\"probes\":[{\"name\":\"p\",\"http\":{}}]}]", "services[0].probes[0].http.url: is required" },
		{ "[{\"probes\":[{\"name\":\"p\",\"tcp\":\"a:1\"}]}]", "services[0].name: is required" },
		{ "[{\"name\":\"s\",\"probes\":[{\"name\":\"p\"}]}]", "services[0].probes[0]: needs one of http, tcp, dns, exec" },
		{ "[{\"name\":\"s\",\"probes\":[{\"name\":\"p\",\"tcp\":\"a:1\",\"dns\":\"a\"}]}]", "services[0].probes[0].dns: a probe has one kind" },
		{ "[{\"name\":\"s\",\"probes\":[{\"name\":\"p\",\"tcp\":\"nohost\"}]}]", "services[0].probes[0].tcp: must be \"host:port\"" },
		{ "[{\"name\":\"s\",\"probes\":[{\"name\":\"p\",\"tcp\":\"a:99999\"}]}]", "services[0].probes[0].tcp: port" },
		{ "[{\"name\":\"s\",\"probes\":[{\"name\":\"p\",\"tcp\":\"a:1\",\"fail_after\":\"6 of 5\"}]}]",
		  "services[0].probes[0].fail_after: needs 1 <= N <= M" },
		{ "[{\"name\":\"s\",\"probes\":[{\"name\":\"p\",\"tcp\":\"a:1\",\"fail_after\":\"three\"}]}]",
		  "services[0].probes[0].fail_after: must be \"N of M\"" },
		{ "[{\"name\":\"s\",\"probes\":[{\"name\":\"p\",\"tcp\":\"a:1\",\"interval\":\"soon\"}]}]",
		  "services[0].probes[0].interval: \"soon\" is not a duration" },
		{ "[{\"name\":\"s\",\"probes\":[{\"name\":\"p\",\"tcp\":\"a:1\",\"interval\":\"1s\",\"timeout\":\"2s\"}]}]",
		  "services[0].probes[0].timeout: must not be longer than the interval" },
		{ "[{\"name\":\"s\",\"probes\":[{\"name\":\"p\",\"http\":{\"url\":\"http://x\",\"expect_status\":[200,\"6xx\"]}}]}]",
		  "services[0].probes[0].http.expect_status[1]: expected an HTTP status" },
		{ "[{\"name\":\"s\",\"probes\":[{\"name\":\"p\",\"http\":{\"url\":\"http://x\",\"body_regex\":\"(\"}}]}]",
		  "services[0].probes[0].http.body_regex: " },
		{ "[{\"name\":\"s\",\"probes\":[{\"name\":\"p\",\"exec\":{\"argv\":[]}}]}]", "services[0].probes[0].exec.argv: must be a list" },
		{ "[{\"name\":\"s\",\"probes\":[{\"name\":\"p\",\"exec\":{\"argv\":[\"a\"],\"expect_exit\":300}}]}]",
		  "services[0].probes[0].exec.expect_exit: must be between 0 and 255" },
		{ "[{\"name\":\"s\",\"probes\":[{\"name\":\"p\",\"tcp\":\"a:1\"},{\"name\":\"p\",\"dns\":\"a\"}]}]",
		  "services[0].probes[1].name: \"p\" is already a probe of service s" },
		{ "[{\"name\":\"s\",\"probes\":[{\"name\":\"p\",\"tcp\":\"a:1\",\"severity\":\"loud\"}]}]",
		  "services[0].probes[0].severity: must be page, ticket or info" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *j = yaml_json(cases[i].json);
		struct probe_spec *v = (void *)1;
		size_t n = 7;
		struct buf err = BUF_INIT;
		int rc = probe_specs_parse(j, &v, &n, &err);
		if (rc != OODA_EINVAL || strncmp(err.data, cases[i].want, strlen(cases[i].want)))
			fail_msg("case %zu: rc %d, error \"%s\", want prefix \"%s\"", i, rc, err.data, cases[i].want);
		assert_null(v);
		assert_int_equal(n, 0);
		buf_release(&err);
		json_decref(j);
	}
}

static void test_heartbeat_state(void **state)
{
	(void)state;
	struct heartbeat_spec spec = { .name = "backup", .every_ns = 300 * S, .grace_ns = 60 * S };
	const int64_t T = 5000 * S;
	struct heartbeat_status st = { .duration_ms = -1, .exit_code = -1 };
	int64_t due;
	assert_int_equal(heartbeat_state_at(&spec, &st, T, T + 100 * S, &due), HEARTBEAT_NEVER);
	assert_int_equal(due, T + 360 * S);
	assert_int_equal(heartbeat_state_at(&spec, &st, T, T + 361 * S, NULL), HEARTBEAT_LATE);
	st.last_ok_ns = st.last_ping_ns = T + 400 * S;
	assert_int_equal(heartbeat_state_at(&spec, &st, T, T + 401 * S, NULL), HEARTBEAT_UP);
	assert_int_equal(heartbeat_state_at(&spec, &st, T, T + 760 * S, NULL), HEARTBEAT_UP);
	assert_int_equal(heartbeat_state_at(&spec, &st, T, T + 761 * S, NULL), HEARTBEAT_LATE);
	st.failed = true;
	assert_int_equal(heartbeat_state_at(&spec, &st, T, T + 402 * S, NULL), HEARTBEAT_FAILED);
}

static void test_heartbeat_parse(void **state)
{
	(void)state;
	struct {
		const char *json, *want;
	} cases[] = {
		{ "[{\"name\":\"a\",\"every\":\"5m\",\"grace\":\"1m\"},{\"name\":\"b\"}]", "heartbeats[1].every: is required" },
		{ "[{\"name\":\"a\",\"every\":\"often\"}]", "heartbeats[0].every: must be a duration" },
		{ "[{\"every\":\"5m\"}]", "heartbeats[0].name: is required" },
		{ "[{\"name\":\"a\",\"every\":\"5m\"},{\"name\":\"a\",\"every\":\"1m\"}]", "heartbeats[1].name: \"a\" is already" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *j = yaml_json(cases[i].json);
		struct heartbeat_spec *v;
		size_t n;
		struct buf err = BUF_INIT;
		int rc = heartbeat_specs_parse(j, &v, &n, &err);
		if (rc != OODA_EINVAL || strncmp(err.data, cases[i].want, strlen(cases[i].want)))
			fail_msg("case %zu: rc %d, error \"%s\", want prefix \"%s\"", i, rc, err.data, cases[i].want);
		buf_release(&err);
		json_decref(j);
	}
	json_t *j = yaml_json("[{\"name\":\"nightly\",\"every\":\"1d\",\"grace\":\"1h\",\"service\":\"db\"}]");
	struct heartbeat_spec *v;
	size_t n;
	struct buf err = BUF_INIT;
	assert_int_equal(heartbeat_specs_parse(j, &v, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].every_ns, 86400 * S);
	assert_int_equal(v[0].grace_ns, 3600 * S);
	assert_string_equal(v[0].service, "db");
	heartbeat_specs_free(v, n);
	json_decref(j);
}

struct recorder {
	int n, active;
	char last[128];
	const char *source;
};

static void rec_signal(void *ctx, const struct alert_signal *s)
{
	struct recorder *r = ctx;
	r->n++;
	r->active += s->active;
	snprintf(r->last, sizeof(r->last), "%s", s->name);
	r->source = s->source;
}

/* The engine wakes when a heartbeat turns late (heartbeats_next_due): at that instant, not a tick later. */
static void test_heartbeat_due(void **state)
{
	(void)state;
	struct heartbeats *h;
	struct buf err = BUF_INIT;
	assert_int_equal(heartbeats_create(NULL, NULL, &h, &err), 0);
	assert_int_equal(heartbeats_next_due(h), 0); /* none configured */
	json_t *j = yaml_json("[{\"name\":\"job\",\"every\":\"2s\",\"grace\":\"4s\"}]");
	assert_int_equal(heartbeats_configure(h, j, true, &err), 0);
	struct recorder r = { 0 };
	struct alert_sink sink = { rec_signal, &r };
	int64_t now = ooda_now_ns();
	struct heartbeat_ping p = { .status = "ok", .duration_ms = -1, .exit_code = -1 };
	assert_int_equal(heartbeat_ping(h, "job", &p, now, &err), 0);
	int64_t due = heartbeats_next_due(h);
	assert_int_equal(due, now + 6 * S + 1); /* the first instant past every + grace */
	heartbeats_tick(h, due - 1, &sink);
	assert_int_equal(r.active, 0); /* on time until then */
	heartbeats_tick(h, due, &sink);
	assert_int_equal(r.active, 1); /* late at the due time */
	assert_int_equal(heartbeats_next_due(h), 0); /* signalled: nothing more to wake for until a ping */
	assert_int_equal(heartbeat_ping(h, "job", &p, now + 7 * S, &err), 0);
	assert_int_equal(heartbeats_next_due(h), now + 13 * S + 1);
	p.status = "fail";
	assert_int_equal(heartbeat_ping(h, "job", &p, now + 8 * S, &err), 0);
	assert_int_equal(heartbeats_next_due(h), 0); /* failed: active until an ok ping, whatever the clock */
	heartbeats_destroy(h);
	json_decref(j);
	buf_release(&err);
}

static void test_heartbeat_tick(void **state)
{
	(void)state;
	struct heartbeats *h;
	struct buf err = BUF_INIT;
	assert_int_equal(heartbeats_create(NULL, NULL, &h, &err), 0);
	json_t *j = yaml_json("[{\"name\":\"job\",\"every\":\"1s\",\"grace\":\"1s\"}]");
	assert_int_equal(heartbeats_configure(h, j, true, &err), 0);
	struct recorder r = { 0 };
	struct alert_sink sink = { rec_signal, &r };
	int64_t now = ooda_now_ns();
	heartbeats_tick(h, now, &sink);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.active, 0);
	assert_string_equal(r.last, "heartbeat:job");
	heartbeats_tick(h, now + 3 * S, &sink); /* silent past every + grace */
	assert_int_equal(r.n, 2);
	assert_int_equal(r.active, 1);
	struct heartbeat_ping p = { .status = "fail", .duration_ms = -1, .exit_code = 1 };
	assert_int_equal(heartbeat_ping(h, "job", &p, now + 3 * S, &err), 0);
	p.status = "bogus";
	assert_int_equal(heartbeat_ping(h, "job", &p, now + 3 * S, &err), OODA_EINVAL);
	buf_reset(&err);
	p.status = "ok";
	assert_int_equal(heartbeat_ping(h, "nope", &p, now, &err), OODA_ENOTFOUND);
	buf_reset(&err);
	struct buf out = BUF_INIT;
	assert_int_equal(heartbeats_json(h, "job", now + 3 * S, &out, &err), 0);
	assert_non_null(strstr(out.data, "\"state\":\"failed\""));
	buf_release(&out);
	heartbeats_destroy(h);
	json_decref(j);
	buf_release(&err);
}

static void test_prober_reload_and_tick(void **state)
{
	(void)state;
	struct prober *p;
	struct buf err = BUF_INIT;
	assert_int_equal(prober_create(NULL, &p, &err), 0);
	json_t *a = yaml_json("[{\"name\":\"s\",\"probes\":[{\"name\":\"a\",\"tcp\":\"127.0.0.1:1\"},"
			      "{\"name\":\"b\",\"dns\":\"localhost\"}]}]");
	assert_int_equal(prober_configure(p, a, true, &err), 0);
	json_t *bad = yaml_json("[{\"name\":\"s\",\"probes\":[{\"name\":\"a\",\"tcp\":\"x\"}]}]");
	assert_int_equal(prober_configure(p, bad, true, &err), OODA_EINVAL);
	assert_non_null(strstr(err.data, "services[0].probes[0].tcp"));
	struct buf out = BUF_INIT;
	assert_int_equal(prober_json(p, NULL, NULL, &out, &err), 0);
	assert_non_null(strstr(out.data, "\"name\":\"a\""));
	assert_non_null(strstr(out.data, "\"state\":\"unknown\""));
	buf_reset(&out);
	assert_int_equal(prober_json(p, "s", "zz", &out, &err), OODA_ENOTFOUND);
	struct recorder r = { 0 };
	struct alert_sink sink = { rec_signal, &r };
	probes_tick(p, ooda_now_ns(), &sink); /* nothing evaluated yet: no signal */
	assert_int_equal(r.n, 0);
	buf_release(&out);
	buf_release(&err);
	json_decref(a);
	json_decref(bad);
	prober_destroy(p);
}

/* Polls prober_state until the newest attempt began after `after` (at most 5 s). */
static int64_t attempt_after(struct prober *p, const char *name, int64_t after, bool *passing)
{
	int64_t begun = 0;
	for (int i = 0; i < 500; i++) {
		assert_int_equal(prober_state(p, "s", name, passing, &begun), 0);
		if (begun > after)
			break;
		usleep(10000);
	}
	return begun;
}

/* What the remediation's `expect: probe` reads: passing means the state is passing and the
 * newest attempt succeeded; the attempt is dated by when it began. */
static void test_prober_state(void **state)
{
	(void)state;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof sa;
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(fd, 64), 0); /* the kernel completes the probes' connects: no accept needed */
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	char cfg[256];
	snprintf(cfg, sizeof cfg,
		 "[{\"name\":\"s\",\"probes\":[{\"name\":\"up\",\"tcp\":\"127.0.0.1:%d\",\"interval\":\"100ms\"},"
		 "{\"name\":\"down\",\"tcp\":\"127.0.0.1:1\",\"interval\":\"100ms\"}]}]",
		 ntohs(sa.sin_port));
	struct prober *p;
	struct buf err = BUF_INIT;
	assert_int_equal(prober_create(NULL, &p, &err), 0);
	json_t *j = yaml_json(cfg);
	assert_int_equal(prober_configure(p, j, true, &err), 0);
	bool passing = true;
	int64_t begun = -1;
	assert_int_equal(prober_state(p, "s", "up", &passing, &begun), 0);
	assert_false(passing); /* no attempt yet: not passing, never attempted */
	assert_int_equal(begun, 0);
	assert_int_equal(prober_state(p, "s", "nope", &passing, &begun), OODA_ENOTFOUND);
	int64_t t0 = ooda_now_ns();
	assert_int_equal(prober_start(p, &err), 0);
	begun = attempt_after(p, "up", 0, &passing);
	assert_true(begun >= t0 - 1000000 && begun <= ooda_now_ns());
	assert_true(passing);
	attempt_after(p, "down", 0, &passing);
	assert_false(passing);
	/* the listener gone, the next attempt fails: the window (3 of 5) still reads passing,
	 * the check does not */
	close(fd);
	int64_t closed = ooda_now_ns();
	begun = attempt_after(p, "up", closed, &passing);
	assert_true(begun > closed);
	assert_false(passing);
	struct buf out = BUF_INIT;
	assert_int_equal(prober_json(p, "s", "up", &out, &err), 0);
	assert_non_null(strstr(out.data, "\"state\":\"passing\""));
	buf_release(&out);
	prober_destroy(p);
	json_decref(j);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hysteresis),
		cmocka_unit_test(test_window_failures),
		cmocka_unit_test(test_schedule),
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_heartbeat_state),
		cmocka_unit_test(test_heartbeat_parse),
		cmocka_unit_test(test_heartbeat_tick),
		cmocka_unit_test(test_heartbeat_due),
		cmocka_unit_test(test_prober_reload_and_tick),
		cmocka_unit_test(test_prober_state),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
