/* Unit tests for sim/: W3C traceparent, the load wave and its jitter, fault requests, the fault catalogue. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/time.h"
#include "export.h"
#include "httpc.h"
#include "fault.h"
#include "faultreq.h"
#include "topology.h"
#include "traceparent.h"
#include "wave.h"
#include "world.h"

static void test_traceparent_parse(void **state)
{
	static const struct {
		const char *in;
		int rc;
		uint8_t first_trace_byte, last_span_byte, flags;
	} cases[] = {
		{ "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", 0, 0x4b, 0xb7, 1 },
		{ "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", 0, 0x4b, 0xb7, 0 },
		/* a later version may append fields after a dash */
		{ "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", 0, 0x4b, 0xb7, 1 },
		{ "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", OODA_EINVAL, 0, 0, 0 },
		{ "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x", OODA_EINVAL, 0, 0, 0 },
		{ "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", OODA_EINVAL, 0, 0, 0 },
		{ "00-00000000000000000000000000000000-00f067aa0ba902b7-01", OODA_EINVAL, 0, 0, 0 },
		{ "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", OODA_EINVAL, 0, 0, 0 },
		{ "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", OODA_EINVAL, 0, 0, 0 },
		{ "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", OODA_EINVAL, 0, 0, 0 },
		{ "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01", OODA_EINVAL, 0, 0, 0 },
		{ "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01", OODA_EINVAL, 0, 0, 0 },
		{ "", OODA_EINVAL, 0, 0, 0 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct trace_ctx c;
		memset(&c, 0xee, sizeof c);
		int rc = traceparent_parse(cases[i].in, strlen(cases[i].in), &c);
		assert_int_equal(rc, cases[i].rc);
		if (rc == 0) {
			assert_int_equal(c.trace_id[0], cases[i].first_trace_byte);
			assert_int_equal(c.span_id[7], cases[i].last_span_byte);
			assert_int_equal(c.flags, cases[i].flags);
		} else {
			assert_int_equal(c.flags, 0xee); /* untouched on error */
		}
	}
	assert_int_equal(traceparent_parse(NULL, 0, &(struct trace_ctx){ 0 }), OODA_EINVAL);
}

static void test_traceparent_roundtrip(void **state)
{
	uint64_t rng = 42;
	for (int i = 0; i < 1000; i++) {
		struct trace_ctx a, b;
		char s[TRACEPARENT_LEN + 1];
		trace_id_random(a.trace_id, 16, &rng);
		trace_id_random(a.span_id, 8, &rng);
		a.flags = (uint8_t)(i & 1);
		traceparent_format(&a, s);
		assert_int_equal(strlen(s), TRACEPARENT_LEN);
		assert_memory_equal(s, "00-", 3);
		assert_int_equal(traceparent_parse(s, strlen(s), &b), 0);
		assert_memory_equal(a.trace_id, b.trace_id, 16);
		assert_memory_equal(a.span_id, b.span_id, 8);
		assert_int_equal(a.flags, b.flags);
		assert_false(trace_id_is_zero(a.trace_id, 16));
	}
	struct trace_ctx k = { { 0x4b, 0xf9 }, { 0, 0xf0 }, 1 };
	char s[TRACEPARENT_LEN + 1];
	assert_string_equal(traceparent_format(&k, s), "00-4bf90000000000000000000000000000-00f0000000000000-01");
}

static void test_wave_mean_and_shape(void **state)
{
	struct wave w;
	wave_init(&w, 20);
	w.period_s = 100;
	/* the smooth curve averages to rps over a whole period, peaks a quarter in, dips at three quarters */
	double sum = 0;
	for (int t = 0; t < 1000; t++)
		sum += wave_rate(&w, t * 0.1);
	assert_true(fabs(sum / 1000 - 20) < 0.01);
	assert_true(fabs(wave_rate(&w, 25) - 26) < 1e-9);
	assert_true(fabs(wave_rate(&w, 75) - 14) < 1e-9);
	assert_true(fabs(wave_rate(&w, 0) - 20) < 1e-9);
	/* a traffic spike multiplies the rate by five at every point */
	w.multiplier = 5;
	assert_true(fabs(wave_rate(&w, 25) - 130) < 1e-9);
	/* nonsense settings still give a positive rate */
	struct wave bad = { -3, 7, 0, 5, 0 };
	assert_true(wave_rate(&bad, 10) > 0);
	assert_true(wave_interval(&bad, 10, &(uint64_t){ 1 }) <= 10);
}

static void test_wave_jitter(void **state)
{
	struct wave w;
	wave_init(&w, 20);
	uint64_t rng = 7, rng2 = 7;
	double lo = 1e9, hi = 0, sum = 0;
	for (int i = 0; i < 20000; i++) {
		double r = wave_rate_jittered(&w, 0, &rng);
		lo = r < lo ? r : lo;
		hi = r > hi ? r : hi;
		sum += r;
	}
	/* jitter 0.1 keeps every draw within ±10% of the smooth rate, and it is not constant */
	assert_true(lo >= 18 - 1e-9 && hi <= 22 + 1e-9);
	assert_true(hi - lo > 3);
	assert_true(fabs(sum / 20000 - 20) < 0.1);
	/* the same seed gives the same sequence */
	uint64_t a = 99, b = 99;
	for (int i = 0; i < 10; i++)
		assert_true(wave_interval(&w, i, &a) == wave_interval(&w, i, &b));
	/* intervals are the inverse of the rate, clamped */
	double iv = wave_interval(&w, 0, &rng2);
	assert_true(iv >= 1 / 22.0 - 1e-9 && iv <= 1 / 18.0 + 1e-9);
	w.rps = 1e9;
	assert_true(wave_interval(&w, 0, &rng2) >= 0.0005);
}

static void test_fault_request(void **state)
{
	static const struct {
		const char *body;
		int rc;
		const char *svc;       /* expected service on success */
		long long for_s;       /* expected for, seconds */
		const char *err_field; /* the field the error names */
	} cases[] = {
		{ "{\"name\":\"bad-deploy\"}", 0, "payments", 0, NULL },
		{ "{\"name\":\"bad-deploy\",\"service\":\"checkout\",\"for\":\"90s\"}", 0, "checkout", 90, NULL },
		{ "{\"name\":\"slow-dependency\",\"for\":30}", 0, "database", 30, NULL },
		{ "{\"name\":\"noise\"}", 0, "frontend", 2, NULL },
		{ "{\"name\":\"job-stopped\",\"service\":null}", 0, "reconciler", 0, NULL },
		{ "{\"name\":\"nope\"}", OODA_EINVAL, NULL, 0, "name:" },
		{ "{\"service\":\"payments\"}", OODA_EINVAL, NULL, 0, "name:" },
		{ "{\"name\":7}", OODA_EINVAL, NULL, 0, "name:" },
		{ "{\"name\":\"bad-deploy\",\"service\":\"mainframe\"}", OODA_EINVAL, NULL, 0, "service:" },
		{ "{\"name\":\"bad-deploy\",\"for\":\"soon\"}", OODA_EINVAL, NULL, 0, "for:" },
		{ "{\"name\":\"bad-deploy\",\"for\":-1}", OODA_EINVAL, NULL, 0, "for:" },
		{ "{\"name\":\"bad-deploy\",\"for\":\"2d\"}", OODA_EINVAL, NULL, 0, "for:" },
		{ "{\"name\":\"bad-deploy\",\"for\":\"0s\"}", OODA_EINVAL, NULL, 0, "for:" },
		{ "{\"name\":\"bad-deploy\",\"for\":true}", OODA_EINVAL, NULL, 0, "for:" },
		{ "{\"name\":\"bad-deploy\",\"extra\":1}", OODA_EINVAL, NULL, 0, "extra:" },
		{ "{\"name\":\"a\",\"name\":\"b\"}", OODA_EINVAL, NULL, 0, "body:" },
		{ "[1,2]", OODA_EINVAL, NULL, 0, "body:" },
		{ "{\"name\":", OODA_EINVAL, NULL, 0, "body:" },
		{ "", OODA_EINVAL, NULL, 0, "body:" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct fault_request r;
		struct buf err = BUF_INIT;
		int rc = fault_request_parse(cases[i].body, strlen(cases[i].body), &r, &err);
		assert_int_equal(rc, cases[i].rc);
		if (rc == 0) {
			assert_string_equal(svc_defs[r.svc].name, cases[i].svc);
			assert_true(r.for_ns == cases[i].for_s * INT64_C(1000000000));
		} else {
			assert_non_null(strstr(err.data, cases[i].err_field));
		}
		buf_release(&err);
	}
}

static void test_fault_catalogue(void **state)
{
	static const char *const names[] = { "bad-deploy", "slow-dependency", "dependency-down", "memory-leak",
					     "flag-misconfig", "config-shed", "job-stopped", "traffic-spike", "noise", "blip" };
	assert_int_equal(fault_def_count, 10);
	for (size_t i = 0; i < 10; i++)
		assert_true(fault_find(names[i]) >= 0);
	assert_int_equal(fault_find("nope"), -1);
	assert_int_equal(fault_find(NULL), -1);
	struct buf out = BUF_INIT;
	fault_catalogue_json(&out);
	json_t *j = json_loads(out.data, 0, NULL);
	assert_true(json_is_array(j));
	assert_int_equal(json_array_size(j), 10);
	size_t k;
	json_t *f;
	json_array_foreach(j, k, f) {
		json_t *rc = json_object_get(f, "expected_root_cause");
		const char *kind = json_string_value(json_object_get(rc, "kind"));
		assert_non_null(kind);
		assert_non_null(json_string_value(json_object_get(rc, "text")));
		/* a fault with a cause names the service; traffic-spike, noise and a blip must blame none */
		const char *name = json_string_value(json_object_get(f, "name"));
		bool blameless = strcmp(name, "traffic-spike") == 0 || strcmp(name, "noise") == 0 ||
				 strcmp(name, "blip") == 0;
		assert_int_equal(strcmp(kind, "none") == 0, blameless);
		assert_int_equal(json_is_null(json_object_get(rc, "service")), blameless);
		/* noise and a blip open nothing at all; traffic may open an incident that blames no service */
		const char *expect = json_string_value(json_object_get(f, "expected_incident"));
		assert_non_null(expect);
		assert_string_equal(expect, !blameless ? "cause" : !strcmp(name, "traffic-spike") ? "unblamed" : "none");
	}
	/* the noise blip ends by itself after two seconds */
	json_t *noise = json_array_get(j, (size_t)fault_find("noise"));
	assert_string_equal(json_string_value(json_object_get(noise, "default_for")), "2s");
	json_t *blip = json_array_get(j, (size_t)fault_find("blip"));
	assert_string_equal(json_string_value(json_object_get(blip, "default_for")), "2s");
	json_decref(j);
	buf_release(&out);
}

static void no_resource(void *ctx, int svc, struct buf *out)
{
	buf_adds(out, "{}");
}

/* The OOM crash loop backs off as CrashLoopBackOff: 2 s, then 10, 20, 40 … 300 s; 10 minutes quiet start over. */
static void test_crash_backoff(void **state)
{
	(void)state;
	const int64_t S = OODA_NS_PER_SEC;
	int64_t now = 1000 * S, last = 0, wait = 0;
	int64_t want[] = { 2, 10, 20, 40, 80, 160, 300, 300 };
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		wait = sim_crash_wait(last, wait, now);
		assert_int_equal(wait, want[i] * S);
		last = now;
		now += wait + 30 * S; /* back up, then 30 s of leaking to the next crash */
	}
	/* ten minutes without a crash: the first crash's wait again */
	assert_int_equal(sim_crash_wait(last, wait, last + 600 * S), 2 * S);
	assert_int_equal(sim_crash_wait(last, wait, last + 599 * S), 300 * S);
	/* no crash since the last reset */
	assert_int_equal(sim_crash_wait(0, 40 * S, now), 2 * S);
}

static void test_export_bounded(void **state)
{
	/* ooda unreachable (port 1) and a 1 KiB queue: adding never waits, what does not fit is dropped and counted */
	struct buf err = BUF_INIT;
	struct exporter *e = exporter_create("http://127.0.0.1:1", "secret", 1024, 2, 3600 * 1000, no_resource, NULL,
					     &err);
	assert_non_null(e);
	char item[100];
	memset(item, 'x', sizeof item);
	for (int i = 0; i < 30; i++)
		exporter_add(e, SIG_TRACES, i % 2, item, sizeof item);
	exporter_add(e, SIG_COUNT, 0, item, 1); /* out of range: ignored */
	exporter_add(e, SIG_LOGS, 2, item, 1);
	struct exporter_stats st;
	exporter_get_stats(e, &st);
	assert_int_equal(st.dropped, 30 - 1024 / (sizeof item + 1));
	assert_int_equal(st.exported[SIG_TRACES], 0);
	exporter_destroy(e); /* its last flush fails: the queued items are dropped too, and it returns */
	buf_release(&err);
}

struct collect_ctx {
	struct exporter *e;
	int calls;
};

/* A collect hook that adds one metric point per call and counts its calls. */
static void collect_one(void *ctx)
{
	struct collect_ctx *c = ctx;
	exporter_add(c->e, SIG_METRICS, 0, "{}", 2);
	c->calls++;
}

static void test_export_collects_metrics_at_flush(void **state)
{
	/* like an OTel SDK's periodic reader: the metrics are read when a post goes out, not queued ahead of it */
	(void)state;
	struct buf err = BUF_INIT;
	struct collect_ctx c = { 0 };
	c.e = exporter_create("http://127.0.0.1:1", NULL, 1024, 1, 3600 * 1000, no_resource, NULL, &err);
	assert_non_null(c.e);
	exporter_on_collect(c.e, collect_one, &c);
	exporter_flush(c.e);
	struct exporter_stats st;
	exporter_get_stats(c.e, &st);
	assert_int_equal(c.calls, 1);
	assert_int_equal(st.dropped, 1); /* the point collected was posted in the same flush (and failed: port 1) */
	exporter_flush(c.e);
	exporter_get_stats(c.e, &st);
	assert_int_equal(st.dropped, 2);
	exporter_destroy(c.e);
	buf_release(&err);
}

/*
 * A one-thread HTTP receiver of four posts. It reads the first two requests before
 * answering either, so it gets the second only when the exporter sends it while the first
 * still waits for its answer (as posts wait for ooda's durable commit); with one post at
 * a time it gives up after a guard of 30 s (not a timing: a hang's end) and says so.
 */
struct path_rx {
	int fd;
	char paths[4][32];
	char bodies[4][256];
	int n;
	bool overlapped; /* the second request came while the first was unanswered */
};

static int rx_read(struct path_rx *rx, int timeout_ms)
{
	struct pollfd pf = { .fd = rx->fd, .events = POLLIN };
	if (poll(&pf, 1, timeout_ms) != 1)
		return -1;
	int c = accept(rx->fd, NULL, NULL);
	if (c < 0)
		return -1;
	char req[65536];
	size_t have = 0, need = 0;
	for (;;) {
		ssize_t k = read(c, req + have, sizeof req - 1 - have);
		if (k <= 0)
			break;
		have += (size_t)k;
		req[have] = 0;
		char *end = strstr(req, "\r\n\r\n");
		if (end && !need) {
			const char *cl = strcasestr(req, "content-length:");
			need = (size_t)(end + 4 - req) + (cl ? (size_t)strtoul(cl + 15, NULL, 10) : 0);
		}
		if (need && have >= need)
			break;
	}
	sscanf(req, "POST %31s", rx->paths[rx->n]);
	const char *body = strstr(req, "\r\n\r\n");
	snprintf(rx->bodies[rx->n], sizeof rx->bodies[0], "%s", body ? body + 4 : "");
	rx->n++;
	return c;
}

static void rx_answer(int c)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
	assert_true(write(c, ok, sizeof ok - 1) > 0);
	close(c);
}

static void *path_rx_main(void *arg)
{
	struct path_rx *rx = arg;
	int first = rx_read(rx, -1);
	if (first < 0)
		return NULL;
	int second = rx_read(rx, 30000);
	rx->overlapped = second >= 0;
	rx_answer(first);
	if (second < 0)
		second = rx_read(rx, -1);
	if (second >= 0)
		rx_answer(second);
	while (rx->n < 4) {
		int c = rx_read(rx, -1);
		if (c < 0)
			return NULL;
		rx_answer(c);
	}
	return NULL;
}

static void svc_resource(void *ctx, int svc, struct buf *out)
{
	(void)ctx;
	buf_addf(out, "{\"svc\":%d}", svc);
}

static void test_export_services_at_once(void **state)
{
	/* Five services with an SDK each export at once, and each SDK's metric reader exports on
	 * its own: the two services' metrics are in flight together, before either's spans. */
	(void)state;
	struct path_rx rx = { .fd = socket(AF_INET, SOCK_STREAM, 0) };
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof sa;
	assert_int_equal(bind(rx.fd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(rx.fd, 4), 0);
	assert_int_equal(getsockname(rx.fd, (struct sockaddr *)&sa, &len), 0);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, path_rx_main, &rx), 0);
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d", ntohs(sa.sin_port));
	struct buf err = BUF_INIT;
	struct exporter *e = exporter_create(url, NULL, 1 << 16, 2, 3600 * 1000, svc_resource, NULL, &err);
	assert_non_null(e);
	exporter_add(e, SIG_TRACES, 0, "{}", 2);
	exporter_add(e, SIG_METRICS, 0, "{}", 2);
	exporter_add(e, SIG_TRACES, 1, "{}", 2);
	exporter_add(e, SIG_METRICS, 1, "{}", 2);
	exporter_flush(e);
	pthread_join(th, NULL);
	assert_int_equal(rx.n, 4);
	assert_true(rx.overlapped);
	assert_string_equal(rx.paths[0], "/v1/metrics");
	assert_string_equal(rx.paths[1], "/v1/metrics");
	assert_string_equal(rx.paths[2], "/v1/traces");
	assert_string_equal(rx.paths[3], "/v1/traces");
	/* one post per service and signal: the two metrics posts are the two services' */
	assert_true((strstr(rx.bodies[0], "\"svc\":0") && strstr(rx.bodies[1], "\"svc\":1")) ||
		    (strstr(rx.bodies[0], "\"svc\":1") && strstr(rx.bodies[1], "\"svc\":0")));
	struct exporter_stats st;
	exporter_get_stats(e, &st);
	assert_int_equal(st.exported[SIG_METRICS], 2);
	assert_int_equal(st.exported[SIG_TRACES], 2);
	exporter_destroy(e);
	close(rx.fd);
	buf_release(&err);
}

int main(void)
{
	httpc_global_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_traceparent_parse), cmocka_unit_test(test_traceparent_roundtrip),
		cmocka_unit_test(test_wave_mean_and_shape), cmocka_unit_test(test_wave_jitter),
		cmocka_unit_test(test_fault_request),      cmocka_unit_test(test_fault_catalogue),
		cmocka_unit_test(test_export_collects_metrics_at_flush),
		cmocka_unit_test(test_export_services_at_once),
		cmocka_unit_test(test_export_bounded),
		cmocka_unit_test(test_crash_backoff),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
