/* Unit tests for src/core: buf, arena, time and duration parsing, errors, hex, the ooda.yaml schema. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "api/daemon.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/error.h"
#include "core/hex.h"
#include "core/time.h"

static void test_buf(void **state)
{
	struct buf b = BUF_INIT;
	assert_string_equal(b.data, "");
	buf_addf(&b, "%d-%s", 42, "x");
	buf_addch(&b, '!');
	assert_string_equal(b.data, "42-x!");
	buf_reset(&b);
	buf_add_json_str(&b, "a\"b\\c\n\x01", 7);
	assert_string_equal(b.data, "\"a\\\"b\\\\c\\n\\u0001\"");
	for (int i = 0; i < 10000; i++)
		buf_addch(&b, 'y');
	assert_int_equal(b.len, 17 + 10000);
	size_t len;
	char *s = buf_detach(&b, &len);
	assert_int_equal(len, 10017);
	free(s);
	/* what is not UTF-8 (a path like /label/%FF/values, a stray byte in a log) stays valid JSON */
	static const struct {
		const char *in;
		size_t len;
		const char *want;
	} utf8[] = {
		{ "caf\xc3\xa9", 5, "\"caf\xc3\xa9\"" },                    /* 2 bytes, kept */
		{ "\xe2\x82\xac \xf0\x9f\x94\xa5", 8, "\"\xe2\x82\xac \xf0\x9f\x94\xa5\"" }, /* 3 and 4 bytes */
		{ "a\xff" "b", 3, "\"a\\ufffdb\"" },                         /* never valid */
		{ "\xc0\xaf", 2, "\"\\ufffd\\ufffd\"" },                   /* overlong '/' */
		{ "\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"" },         /* a surrogate */
		{ "\xf4\x90\x80\x80", 4, "\"\\ufffd\\ufffd\\ufffd\\ufffd\"" }, /* past U+10FFFF */
		{ "x\xe2\x82", 3, "\"x\\ufffd\\ufffd\"" },                 /* cut short at the end */
	};
	for (size_t i = 0; i < sizeof(utf8) / sizeof(utf8[0]); i++) {
		buf_reset(&b);
		buf_add_json_str(&b, utf8[i].in, utf8[i].len);
		assert_string_equal(b.data, utf8[i].want);
	}
	s = buf_detach(&b, &len);
	assert_string_equal(b.data, "");
	free(s);
	buf_release(&b);
}

static void test_arena(void **state)
{
	struct arena a;
	arena_init(&a, 128);
	char *big = arena_alloc(&a, 1000);
	memset(big, 'x', 1000);
	char *s = arena_strdup(&a, "hello");
	assert_string_equal(s, "hello");
	assert_int_equal(((uintptr_t)arena_alloc(&a, 3)) % 16, 0);
	assert_string_equal(arena_printf(&a, "%s/%d", "a", 7), "a/7");
	a.limit = a.used + 32;
	assert_null(arena_alloc(&a, 64));
	arena_release(&a);
}

static void test_time_parse(void **state)
{
	static const struct {
		const char *in;
		int rc;
		int64_t ns;
	} cases[] = {
		{ "1970-01-01T00:00:00Z", 0, 0 },
		{ "2026-11-25T10:00:00.5Z", 0, INT64_C(1795600800500000000) },
		{ "2026-11-25T12:00:00+02:00", 0, INT64_C(1795600800000000000) },
		{ "2026-11-25", 0, INT64_C(1795564800000000000) },
		{ "1795600800", 0, INT64_C(1795600800000000000) },
		{ "1795600800000", 0, INT64_C(1795600800000000000) },
		{ "1795600800000000000", 0, INT64_C(1795600800000000000) },
		{ "2026-13-01T00:00:00Z", OODA_EINVAL, 0 },
		{ "2026-11-25T10:00:00", OODA_EINVAL, 0 },
		{ "yesterday", OODA_EINVAL, 0 },
		{ "", OODA_EINVAL, 0 },
		/* the edges of the representable range, and just past them */
		{ "2262-04-11T23:47:16.854775807Z", 0, INT64_MAX },
		{ "2262-04-11T23:47:16.854775808Z", OODA_EINVAL, 0 },
		{ "9223372036854775807", 0, INT64_MAX },
		{ "1969-12-31T23:59:59.999Z", OODA_EINVAL, 0 },
		{ "0001-01-01T00:00:00Z", OODA_EINVAL, 0 },
		{ "9999-12-31T23:59:59Z", OODA_EINVAL, 0 },
		{ "-9223372036854775809", OODA_EINVAL, 0 },
		{ "-9223372036854775808", OODA_EINVAL, 0 },
		{ "9223372036854775808", OODA_EINVAL, 0 },
		{ "-1", OODA_EINVAL, 0 },
		{ "99999999999", OODA_EINVAL, 0 }, /* year 5138 */
		{ "9223372036", 0, INT64_C(9223372036) * OODA_NS_PER_SEC },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t ns = -1;
		int rc = ooda_time_parse(cases[i].in, strlen(cases[i].in), &ns);
		assert_int_equal(rc, cases[i].rc);
		if (!rc)
			assert_int_equal(ns, cases[i].ns);
	}
	char out[40];
	assert_string_equal(ooda_time_format(INT64_C(1795600800500000000), out, sizeof(out)),
			    "2026-11-25T10:00:00.500Z");
}

static void test_time_arith(void **state)
{
	int64_t r = 7;
	assert_int_equal(ooda_ns_add(1, 2, &r), 0);
	assert_int_equal(r, 3);
	assert_int_equal(ooda_ns_add(INT64_MAX, 1, &r), OODA_EINVAL);
	assert_int_equal(r, 3); /* untouched on overflow */
	assert_int_equal(ooda_ns_sub(INT64_MIN, 1, &r), OODA_EINVAL);
	assert_int_equal(ooda_ns_sub(0, INT64_MAX, &r), 0);
	assert_int_equal(r, -INT64_MAX);
	assert_int_equal(ooda_ns_mul(INT64_C(1) << 40, OODA_NS_PER_SEC, &r), OODA_EINVAL);
	assert_int_equal(ooda_ns_mul(-3, OODA_NS_PER_SEC, &r), 0);
	assert_int_equal(r, -3 * OODA_NS_PER_SEC);
	assert_int_equal(ooda_ns_add_sat(INT64_MAX, 5), INT64_MAX);
	assert_int_equal(ooda_ns_add_sat(INT64_MIN, -5), INT64_MIN);
	assert_int_equal(ooda_ns_sub_sat(INT64_MIN, 1), INT64_MIN);
	assert_int_equal(ooda_ns_sub_sat(0, INT64_MIN), INT64_MAX);
	assert_int_equal(ooda_ns_sub_sat(10, 3), 7);
	assert_int_equal(ooda_ns_mul_sat(INT64_MAX / 2, 3), INT64_MAX);
	assert_int_equal(ooda_ns_mul_sat(-(INT64_MAX / 2), 3), INT64_MIN);
	assert_int_equal(ooda_ns_mul_sat(-4, -5), 20);
	assert_int_equal(ooda_time_from_u64(UINT64_C(1) << 63, &r), OODA_EINVAL);
	assert_int_equal(ooda_time_from_u64(UINT64_MAX, &r), OODA_EINVAL);
	assert_int_equal(ooda_time_from_u64((uint64_t)INT64_MAX, &r), 0);
	assert_int_equal(r, INT64_MAX);
	assert_true(ooda_time_valid(0));
	assert_false(ooda_time_valid(-1));
	char out[40];
	assert_string_equal(ooda_time_format(INT64_MAX, out, sizeof(out)), "2262-04-11T23:47:16.854Z");
}

static void test_duration(void **state)
{
	static const struct {
		const char *in;
		int rc;
		int64_t ns;
	} cases[] = {
		{ "15m", 0, 15 * 60 * OODA_NS_PER_SEC },
		{ "1h30m", 0, 90 * 60 * OODA_NS_PER_SEC },
		{ "250ms", 0, 250 * OODA_NS_PER_MS },
		{ "1.5h", 0, 90 * 60 * OODA_NS_PER_SEC },
		{ "7d", 0, 7 * 86400 * OODA_NS_PER_SEC },
		{ "5", OODA_EINVAL, 0 },
		{ "m", OODA_EINVAL, 0 },
		{ "5x", OODA_EINVAL, 0 },
		{ "292y", 0, INT64_C(292) * 31536000 * OODA_NS_PER_SEC },
		{ "1000000y", OODA_EINVAL, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t ns = -1;
		assert_int_equal(ooda_duration_parse(cases[i].in, strlen(cases[i].in), &ns), cases[i].rc);
		if (!cases[i].rc)
			assert_int_equal(ns, cases[i].ns);
	}
	char out[32];
	assert_string_equal(ooda_duration_format(5400 * OODA_NS_PER_SEC, out, sizeof(out)), "1h30m");
}

static void test_errors(void **state)
{
	assert_int_equal(ooda_http_status(OODA_ENOTFOUND), 404);
	assert_int_equal(ooda_http_status(OODA_EUNAUTH), 401);
	assert_string_equal(ooda_strerror(OODA_ECONFLICT), "conflict");
	assert_string_equal(ooda_errname(OODA_EBUSY), "EBUSY");
	assert_string_equal(ooda_strerror(-9999), "unknown error");
}

/* ---- ooda.yaml schema: every problem, one FILE:LINE:COLUMN line each ---- */

static void test_config_schema_errors(void **state)
{
	static const struct {
		const char *yaml;
		int lines;            /* problems reported */
		const char *want[3];  /* lines expected, in order */
	} cases[] = {
		{ "sevrer:\n  threads: 2\n", 1, { "t.yaml:1:1: sevrer: unknown key; did you mean \"server\"?" } },
		{ "server:\n  zzzz: 1\n", 1,
		  { "t.yaml:2:3: server.zzzz: unknown key (expected one of: listen, data_dir, node_id, threads," } },
		{ "server:\n  lisen: x\n  threads: many\nflags: []\n", 3,
		  { "t.yaml:2:3: server.lisen: unknown key; did you mean \"listen\"?",
		    "t.yaml:3:12: server.threads: expected an integer, got \"many\"",
		    "t.yaml:4:1: flags: not supported yet: feature flags are managed" } },
		{ "flags:\n  prod: {}\n", 1, { "t.yaml:1:1: flags: not supported yet" } },
		{ "services:\n  - name: a\n    ownr: team\n  - name: b\n    probes:\n      - name: p\n        dns: x\n"
		  "        pass_after: 1000\n",
		  2, { "t.yaml:3:5: services[0].ownr: unknown key; did you mean \"owner\"?",
		       "t.yaml:8:21: services[1].probes[0].pass_after: 1000 is out of range [1, 64]" } },
		{ "services:\n  - owner: x\n", 1, { "t.yaml:2:5: services[0].name: is required (a string)" } },
		{ "services:\n  - name: a\n    dependencies: db\n", 1,
		  { "t.yaml:3:19: services[0].dependencies: expected a list of strings" } },
		{ "services:\n  - name: a\n    dependencies: [a]\n", 1,
		  { "t.yaml:3:20: services[0].dependencies[0]: a cannot depend on itself" } },
		{ "anomalies:\n  - name: w\n    expr: up\n    direction: sideways\n", 1,
		  { "t.yaml:4:16: anomalies[0].direction: expected one of up, down, both, got \"sideways\"" } },
		/* a check the table cannot express, placed where its key path points */
		{ "anomalies:\n  - name: w\n    expr: \"rate(\"\n", 1, { "t.yaml:3:12: anomalies[0].expr:" } },
		{ "alerts:\n  - name: r\n    expr: up\n    severity: loud\n", 1,
		  { "t.yaml:4:15: alerts[0].severity: expected one of page, ticket, info" } },
		/* the keys each section's stage reads, and no other, come from the schema alone */
		{ "services:\n  - name: s\n    probes:\n      - name: p\n        http: {url: \"http://x\", bdy: x}\n", 1,
		  { "t.yaml:5:33: services[0].probes[0].http.bdy: unknown key (expected one of: url, method, headers," } },
		{ "heartbeats:\n  - {name: a, every: 5m, when: 1}\n", 1, { "t.yaml:2:26: heartbeats[0].when: unknown key" } },
		{ "alerts:\n  - {name: A, expr: up, exp: x}\n", 1,
		  { "t.yaml:2:25: alerts[0].exp: unknown key; did you mean \"expr\"?" } },
		{ "alerts:\n  rulez: []\n", 1, { "t.yaml:2:3: alerts.rulez: unknown key; did you mean \"rules\"?" } },
		{ "slos:\n  - {name: a, service: a, objective: 99, sli: {ratio: {}}, colour: 1}\n", 1,
		  { "t.yaml:2:60: slos[0].colour: unknown key" } },
		{ "slos:\n  - name: a\n    objective: 99\n    sli: {latency: {threshold: 1s, p: 99}}\n"
		  "    alerts: {page: {long: 1h, shrt: 5m}, tiket: []}\n",
		  3, { "t.yaml:4:36: slos[0].sli.latency.p: unknown key",
		       "t.yaml:5:31: slos[0].alerts.page.shrt: unknown key; did you mean \"short\"?",
		       "t.yaml:5:42: slos[0].alerts.tiket: unknown key; did you mean \"ticket\"?" } },
		{ "anomalies:\n  - {name: w, expr: up, warmpu: 20}\n", 1,
		  { "t.yaml:2:25: anomalies[0].warmpu: unknown key; did you mean \"warmup\"?" } },
		{ "services:\n  - name: s\n    probes:\n      - {name: p, exec: [true], exec_timeout: 1s}\n", 1,
		  { "t.yaml:4:33: services[0].probes[0].exec_timeout: unknown key" } },
		{ "deploy:\n  hooks:\n    redeploy: {exec: [x], retries: 3}\n", 1,
		  { "t.yaml:3:27: deploy.hooks.redeploy.retries: unknown key" } },
		/* values a stage would not read are refused, not dropped */
		{ "deploy:\n  verify: {window: 600}\n", 1, { "t.yaml:2:20: deploy.verify.window: a duration like 10m" } },
		{ "deploy:\n  verify: {alpha: \"0.05\"}\n", 1, { "t.yaml:2:20: deploy.verify.alpha: a number" } },
		{ "approvals:\n  - {class: rollback, expires: 3600}\n", 1,
		  { "t.yaml:2:32: approvals[0].expires: a duration like 2h" } },
		{ "approvals:\n  - {class: rollback, env: 2024}\n", 1, { "t.yaml:2:28: approvals[0].env: an environment name" } },
		{ "anomalies:\n  - {name: w, expr: up, interval: 90}\n", 1,
		  { "t.yaml:2:35: anomalies[0].interval: this is not a duration of at least 1s" } },
		{ "anomalies:\n  - {name: w, expr: up, threshold: \"0.5\"}\n", 1,
		  { "t.yaml:2:37: anomalies[0].threshold: a score strictly between 0 and 1" } },
		{ "approvals:\n  - {class: flag.change, tags: beta}\n", 1,
		  { "t.yaml:2:32: approvals[0].tags: expected a list of strings" } },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config c;
		struct buf err = BUF_INIT;
		config_init(&c);
		int rc = config_load_string(&c, "t.yaml", cases[i].yaml, strlen(cases[i].yaml), &err);
		if (rc != OODA_EINVAL)
			fail_msg("case %zu: rc %d, err %s", i, rc, err.data);
		int lines = 1;
		for (size_t k = 0; k < err.len; k++)
			lines += err.data[k] == '\n';
		if (lines != cases[i].lines)
			fail_msg("case %zu: %d lines, want %d:\n%s", i, lines, cases[i].lines, err.data);
		const char *line = err.data;
		for (int k = 0; k < cases[i].lines; k++) {
			const char *want = cases[i].want[k];
			if (want && strncmp(line, want, strlen(want)))
				fail_msg("case %zu line %d:\n got  %.*s\n want %s", i, k, (int)strcspn(line, "\n"), line, want);
			line += strcspn(line, "\n") + (line[strcspn(line, "\n")] ? 1 : 0);
		}
		/* a refused file leaves the config as it was */
		assert_null(c.path);
		assert_int_equal(c.threads, 8);
		config_release(&c);
		buf_release(&err);
	}
}

static void test_config_schema_accepts(void **state)
{
	static const char yaml[] =
		"server:\n  threads: 4\n"
		"services:\n"
		"  - name: checkout\n    owner: team-pay\n    dependencies: [payments, db]\n"
		"    probes:\n      - name: health\n        http: {url: \"http://127.0.0.1:1/\", expect_status: 2xx}\n"
		"        interval: 15s\n        fail_after: 3 of 5\n"
		"heartbeats:\n  - {name: backup, every: 1d, grace: 1h}\n"
		"alerts:\n  group_window: 2m\n  rules:\n    - {name: r, expr: up == 0, for: 1m, labels: {team: a}}\n"
		"deploy:\n  verify: {window: 10m, alpha: 0.05}\n"
		"approvals:\n  - {class: rollback, env: prod, expires: 2h}\n"
		"slos:\n  - name: s\n    service: checkout\n    description: checkout works\n    objective: 99.9\n    sli: {ratio: {errors: true}}\n";
	struct config c;
	struct buf err = BUF_INIT;
	config_init(&c);
	int rc = config_load_string(&c, "ok.yaml", yaml, sizeof(yaml) - 1, &err);
	if (rc)
		fail_msg("a valid file refused: %s", err.data);
	assert_int_equal(c.threads, 4);
	assert_non_null(config_section(&c, "services"));
	/* config_validate on the loaded config agrees with the load */
	assert_int_equal(config_validate(&c, &err), 0);
	assert_int_equal(err.len, 0);
	config_release(&c);
	buf_release(&err);
}

static void test_config_docs(void **state)
{
	struct buf out = BUF_INIT;
	config_docs_markdown(&out);
	assert_non_null(strstr(out.data, "| `services[].probes[].interval` | duration | `30s` |"));
	assert_non_null(strstr(out.data, "| `alerts.rules[].expr` | string |"));
	assert_non_null(strstr(out.data, "| `flags` | refused |"));
	assert_non_null(strstr(out.data, "| `policies` | section |"));
	buf_release(&out);
}

static void test_config_restart_keys(void **state)
{
	static const char a[] = "server:\n  threads: 4\nlog:\n  level: info\n";
	static const char b[] = "server:\n  threads: 2\n  listen: 127.0.0.1:9\nlog:\n  level: debug\n";
	struct config x, y;
	struct buf err = BUF_INIT, out = BUF_INIT;
	config_init(&x);
	config_init(&y);
	assert_int_equal(config_load_string(&x, "a.yaml", a, sizeof(a) - 1, &err), 0);
	assert_int_equal(config_load_string(&y, "b.yaml", b, sizeof(b) - 1, &err), 0);
	config_restart_keys(&x, &x, &out);
	assert_string_equal(out.data, "");
	/* log.level is applied by a reload; listen and threads wait for a restart */
	config_restart_keys(&x, &y, &out);
	assert_string_equal(out.data, "server.listen, server.threads");
	config_release(&x);
	config_release(&y);
	buf_release(&err);
	buf_release(&out);
}

static int no_check(const char *section_json, struct buf *err)
{
	(void)section_json;
	(void)err;
	return 0;
}

/* Only sections the schema marks as checked by a stage take a check. */
static void test_config_register_check(void **state)
{
	assert_int_equal(config_register_check("server.listen", no_check), OODA_EINVAL);
	assert_int_equal(config_register_check("flags", no_check), OODA_EINVAL);
	assert_int_equal(config_register_check("no-such-section", no_check), OODA_EINVAL);
	/* the registered alerts check is the rules stage's: only it parses PromQL */
	struct config c;
	struct buf err = BUF_INIT;
	config_init(&c);
	static const char yaml[] = "alerts:\n  rules:\n    - name: x\n      expr: \"rate(foo[5m]\"\n";
	assert_int_not_equal(config_load_string(&c, "t.yaml", yaml, sizeof(yaml) - 1, &err), 0);
	assert_non_null(strstr(err.data, "t.yaml:4:"));
	assert_non_null(strstr(err.data, "parse error"));
	config_release(&c);
	buf_release(&err);
}

/* storage.control: postgres and its variable load; another backend or an unknown key is refused by name */
static void test_config_storage_control(void **state)
{
	(void)state;
	struct config c;
	struct buf err = BUF_INIT;
	config_init(&c);
	assert_string_equal(c.control_backend, "sqlite");
	assert_string_equal(c.control_dsn_env, "OODA_CONTROL_DSN");
	static const char ok[] = "storage:\n  control:\n    backend: postgres\n    dsn_env: MY_DSN\n";
	assert_int_equal(config_load_string(&c, "ok.yaml", ok, sizeof(ok) - 1, &err), 0);
	assert_string_equal(c.control_backend, "postgres");
	assert_string_equal(c.control_dsn_env, "MY_DSN");
	static const char *const bad[][2] = {
		{ "storage:\n  control:\n    backend: mysql\n", "storage.control.backend" },
		{ "storage:\n  control:\n    dsn: host=x\n", "storage.control.dsn" },
		{ "storage:\n  controll:\n    backend: postgres\n", "storage.controll" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		buf_reset(&err);
		if (config_load_string(&c, "bad.yaml", bad[i][0], strlen(bad[i][0]), &err) != OODA_EINVAL ||
		    !strstr(err.data, bad[i][1]))
			fail_msg("case %zu not refused by name: %s", i, err.data);
	}
	assert_string_equal(c.control_backend, "postgres"); /* a failed load leaves the config as it was */
	config_release(&c);
	buf_release(&err);
}

static void test_hex(void **state)
{
	static const struct {
		const char *text;
		size_t n;     /* bytes wanted */
		int rc;
		uint8_t bytes[8];
		const char *lower; /* hex_encode of bytes, when rc is 0 */
	} cases[] = {
		{ "00ff10ab", 4, 0, { 0x00, 0xff, 0x10, 0xab }, "00ff10ab" },
		{ "DEADbeef", 4, 0, { 0xde, 0xad, 0xbe, 0xef }, "deadbeef" },
		{ "", 0, 0, { 0 }, "" },
		{ "0123456789abcdef", 8, 0, { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef }, "0123456789abcdef" },
		{ "abc", 2, -1, { 0 }, NULL },   /* odd length */
		{ "abcd", 1, -1, { 0 }, NULL },  /* longer than wanted */
		{ "0g", 1, -1, { 0 }, NULL },    /* not a hex digit */
		{ "0x", 1, -1, { 0 }, NULL },
		{ " 1", 1, -1, { 0 }, NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t out[8] = { 0 };
		int rc = hex_decode(cases[i].text, strlen(cases[i].text), out, cases[i].n);
		assert_int_equal(rc, cases[i].rc);
		if (rc)
			continue;
		assert_memory_equal(out, cases[i].bytes, cases[i].n);
		char text[17];
		memset(text, 'x', sizeof(text));
		hex_encode(out, cases[i].n, text);
		assert_string_equal(text, cases[i].lower);
	}
}

int main(void)
{
	daemon_register_config_checks(); /* as the daemon and the CLI do at start */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf),
		cmocka_unit_test(test_config_register_check),
		cmocka_unit_test(test_arena),
		cmocka_unit_test(test_time_parse),
		cmocka_unit_test(test_time_arith),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_config_schema_errors),
		cmocka_unit_test(test_config_schema_accepts),
		cmocka_unit_test(test_config_docs),
		cmocka_unit_test(test_config_restart_keys),
		cmocka_unit_test(test_config_storage_control),
		cmocka_unit_test(test_hex),
	};
	return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
