/*
 * Unit tests for src/query/logquery: which records each kind of query
 * matches (a table of query → match bitmap over a fixed record set), the
 * errors bad queries give and where they point, prefilter hints, the
 * shared tokenizer, severity names and facet field values.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <pthread.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/error.h"
#include "query/logquery.h"

#define N_RECORDS 5

static struct attr r0_attrs[] = {
	{ .key = "user.id", .type = ATTR_INT, .i = 42 },
	{ .key = "duration_ms", .type = ATTR_INT, .i = 300 },
	{ .key = "http.route", .type = ATTR_STR, .s = "/api/cart", .len = 9 },
};
static struct attr r0_res_attrs[] = {
	{ .key = "service.name", .type = ATTR_STR, .s = "checkout", .len = 8 },
	{ .key = "k8s.pod.name", .type = ATTR_STR, .s = "checkout-7f9", .len = 12 },
};
static struct attr r1_attrs[] = {
	{ .key = "user.id", .type = ATTR_STR, .s = "4711", .len = 4 },
	{ .key = "duration_ms", .type = ATTR_DOUBLE, .d = 120.5 },
};
static struct attr r2_attrs[] = {
	{ .key = "flag", .type = ATTR_BOOL, .b = true },
};
static struct attr r2_res_attrs[] = {
	{ .key = "team", .type = ATTR_STR, .s = "core", .len = 4 },
};
static struct attr r4_attrs[] = {
	{ .key = "duration_ms", .type = ATTR_INT, .i = 250 },
	{ .key = "user.id", .type = ATTR_INT, .i = 4 },
};

static const struct resource res0 = {
	.service = "checkout", .service_version = "1.4.2", .environment = "prod",
	.host = "web-1", .attrs = { r0_res_attrs, 2 },
};
static const struct resource res1 = {
	.service = "payments", .environment = "staging", .host = "web-2",
};
static const struct resource res2 = {
	.service = "test-runner", .attrs = { r2_res_attrs, 1 },
};
static const struct resource res3 = { .service = "checkout", .environment = "prod" };
static const struct resource res4 = { .service = "Payments" };

#define BODY(s) .body = s, .body_len = sizeof(s) - 1

static struct log_record recs[N_RECORDS] = {
	{ .severity = 17, BODY("Connection refused to db:5432 after timeout"),
	  .has_trace_id = true,
	  .trace_id = { 0x0a, 0xf7, 0x65, 0x19, 0x16, 0xcd, 0x43, 0xdd,
			0x84, 0x48, 0xeb, 0x21, 0x1c, 0x80, 0x31, 0x9c },
	  .has_span_id = true,
	  .span_id = { 0xb7, 0xad, 0x6b, 0x71, 0x69, 0x20, 0x33, 0x31 },
	  .resource = &res0, .scope_name = "io.ooda.checkout", .attrs = { r0_attrs, 3 } },
	{ .severity = 9, BODY("request timeouts increasing; retry=3"),
	  .resource = &res1, .attrs = { r1_attrs, 2 } },
	{ .severity = 13, BODY("He said \"hi\" \\ back"),
	  .resource = &res2, .attrs = { r2_attrs, 1 } },
	{ .severity = 0, .resource = &res3 },
	{ .severity = 21, BODY("TimeOut: upstream_reset \xc3\x89" "CHEC"),
	  .resource = &res4, .attrs = { r4_attrs, 2 } },
};

static unsigned match_bits(const char *q)
{
	struct logquery *lq = NULL;
	struct buf err = BUF_INIT;
	int rc = logquery_compile(q, strlen(q), &lq, &err);
	if (rc != 0)
		fail_msg("query '%s' failed: %s", q, err.data);
	unsigned bits = 0;
	for (int i = 0; i < N_RECORDS; i++)
		if (logquery_match(lq, &recs[i]))
			bits |= 1u << i;
	logquery_destroy(lq);
	buf_release(&err);
	return bits;
}

static void test_match(void **state)
{
	static const struct {
		const char *q;
		unsigned bits; /* bit i: record i matches */
	} cases[] = {
		{ "", 0x1f },
		{ "   ", 0x1f },
		{ "*", 0x1f },
		/* words: whole tokens, any case; prefix */
		{ "timeout", 0x11 },
		{ "TIMEOUT", 0x11 },
		{ "timeouts", 0x02 },
		{ "time*", 0x13 },
		{ "upstream_reset", 0x10 },
		{ "upstream", 0x00 },
		{ "\xc3\x89" "CHEC", 0x10 },
		{ "retry=3", 0x02 },
		{ "retry=", 0x02 },
		{ "etry=3", 0x00 },
		/* phrases: substrings, any case, escapes */
		{ "\"connection refused\"", 0x01 },
		{ "\"CONNECTION REF\"", 0x01 },
		{ "\"db:5432\"", 0x01 },
		{ "\"said \\\"hi\\\" \\\\ back\"", 0x04 },
		{ "\"\"", 0x1f },
		/* regex */
		{ "/time.?out/", 0x03 },
		{ "/time.?out/i", 0x13 },
		{ "/^request\\b/", 0x02 },
		{ "/a\\/b/", 0x00 },
		{ "/(a+)+$/", 0x00 },
		/* service and friends */
		{ "service:checkout", 0x09 },
		{ "service:CHECKOUT", 0x09 },
		{ "service:\"checkout\"", 0x09 },
		{ "service:pay*", 0x12 },
		{ "service:/^pay/", 0x02 },
		{ "service:/^pay/i", 0x12 },
		{ "-service:checkout", 0x16 },
		{ "NOT service:checkout", 0x16 },
		{ "host:web-1", 0x01 },
		{ "host:web*", 0x03 },
		{ "host:*", 0x03 },
		{ "env:prod", 0x09 },
		{ "version:1.4.2", 0x01 },
		{ "scope:io.ooda.checkout", 0x01 },
		/* severity */
		{ "severity:error", 0x01 },
		{ "level:ERROR", 0x01 },
		{ "severity:error OR severity:fatal", 0x11 },
		{ "severity>=warn", 0x15 },
		{ "severity>warn", 0x11 },
		{ "severity<warn", 0x02 },
		{ "severity<=warn", 0x06 },
		{ "severity:9", 0x02 },
		{ "severity:info2", 0x00 },
		{ "severity:error1", 0x01 },
		{ "severity>=17", 0x11 },
		{ "severity:*", 0x17 },
		{ "-severity:*", 0x08 },
		{ "severity>fatal", 0x00 },
		/* ids */
		{ "trace_id:0af7651916cd43dd8448eb211c80319c", 0x01 },
		{ "trace_id:0AF765", 0x01 },
		{ "trace_id:0af766", 0x00 },
		{ "trace_id:*", 0x01 },
		{ "-trace_id:*", 0x1e },
		{ "span_id:b7ad6b7169203331", 0x01 },
		{ "span_id:b7ad*", 0x01 },
		/* attributes, record and resource */
		{ "attr.user.id:42", 0x01 },
		{ "user.id:42", 0x01 },
		{ "user.id:\"42\"", 0x01 },
		{ "attr.user.id:4*", 0x13 },
		{ "attr.user.id:4", 0x10 },
		{ "attr.user.id:4711", 0x02 },
		{ "attr.duration_ms>250", 0x01 },
		{ "attr.duration_ms>=250", 0x11 },
		{ "attr.duration_ms<200", 0x02 },
		{ "attr.duration_ms<=120.5", 0x02 },
		{ "attr.duration_ms:120.5", 0x02 },
		{ "attr.duration_ms:250.0", 0x10 },
		{ "attr.duration_ms:*", 0x13 },
		{ "-attr.duration_ms:*", 0x0c },
		{ "attr.user.id>1000", 0x02 },
		{ "k8s.pod.name:checkout-7f9", 0x01 },
		{ "service.name:checkout", 0x01 },
		{ "team:core", 0x04 },
		{ "attr.team:CORE", 0x04 },
		{ "flag:true", 0x04 },
		{ "http.route:\"/api/cart\"", 0x01 },
		{ "http.route:/cart$/", 0x01 },
		{ "nosuch:*", 0x00 },
		/* body field */
		{ "body:timeout", 0x11 },
		{ "body:\"refused to\"", 0x01 },
		{ "body:/refused/", 0x01 },
		{ "body:*", 0x17 },
		/* boolean structure */
		{ "timeout -service:payments", 0x01 },
		{ "timeout OR retry", 0x13 },
		{ "retry OR timeout service:checkout", 0x03 },
		{ "(retry OR timeout) service:checkout", 0x01 },
		{ "service:checkout AND timeout", 0x01 },
		{ "NOT (service:checkout OR severity:info)", 0x14 },
		{ "-(service:checkout OR severity:info)", 0x14 },
		{ "NOT NOT service:checkout", 0x09 },
		{ "((timeout))", 0x11 },
		{ "(service:checkout)(timeout)", 0x01 },
		{ "- retry", 0x00 },
		{ "or", 0x00 },
		{ "service:checkout severity>=error \"connection refused\" trace_id:0af7 "
		  "attr.user.id:42 -service:test /time.?out/", 0x01 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned got = match_bits(cases[i].q);
		if (got != cases[i].bits)
			fail_msg("query '%s': got 0x%02x, want 0x%02x", cases[i].q, got, cases[i].bits);
	}
}

static void test_errors(void **state)
{
	static const struct {
		const char *q;
		int rc;
		const char *msg;
	} cases[] = {
		{ "\"abc", OODA_EPARSE, "at char 1: unterminated quoted string" },
		{ "service:checkout \"abc\\\"", OODA_EPARSE, "at char 18: unterminated quoted string" },
		{ "severity:bogus", OODA_EPARSE, "at char 10: unknown severity 'bogus'" },
		{ "severity:25", OODA_EPARSE, "at char 10: unknown severity" },
		{ "severity:err*", OODA_EPARSE, "at char 10: severity takes a name or a number" },
		{ "a /x(y/", OODA_EPARSE, "at char 7: bad regular expression: missing closing parenthesis" },
		{ "/abc", OODA_EPARSE, "at char 1: unterminated regular expression" },
		{ "/abc/x", OODA_EPARSE, "at char 6: unknown regular expression flag 'x'" },
		{ "//", OODA_EPARSE, "at char 1: empty regular expression" },
		{ "(a b", OODA_EPARSE, "at char 1: unclosed '('" },
		{ "a)", OODA_EPARSE, "at char 2: unexpected ')'" },
		{ "a OR", OODA_EPARSE, "at char 3: expected a term after OR" },
		{ "OR a", OODA_EPARSE, "at char 1: expected a term before OR" },
		{ "a AND", OODA_EPARSE, "at char 3: expected a term after AND" },
		{ "NOT", OODA_EPARSE, "at char 1: expected a term after NOT" },
		{ "x ()", OODA_EPARSE, "at char 3: empty parentheses" },
		{ "attr.x>abc", OODA_EPARSE, "at char 8: expected a number after '>'" },
		{ "service>3", OODA_EPARSE, "at char 8: 'service' takes ':' only" },
		{ "trace_id:xyz", OODA_EPARSE, "at char 10: expected a hex digit" },
		{ "trace_id:0af7651916cd43dd8448eb211c80319c0", OODA_EPARSE, "at char 42: trace_id is at most 32" },
		{ "a*b", OODA_EPARSE, "at char 2: '*' is only allowed at the end of a word" },
		{ "user.id:4*2", OODA_EPARSE, "at char 10: '*' is only allowed at the end of a value" },
		{ "service:", OODA_EPARSE, "at char 9: missing value after ':'" },
		{ "x attr.n>= y", OODA_EPARSE, "at char 11: missing value after '>='" },
		{ "\"a\"b", OODA_EPARSE, "at char 4: expected a blank or ')' after the closing quote" },
		{ "/a/b", OODA_EPARSE, "at char 4: unknown regular expression flag 'b'" },
		{ "/a/ib", OODA_EPARSE, "at char 5: unknown regular expression flag 'b'" },
		{ "attr.n>5*", OODA_EPARSE, "at char 9: '*' cannot be used with a comparison" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct logquery *lq = (struct logquery *)1;
		struct buf err = BUF_INIT;
		int rc = logquery_compile(cases[i].q, strlen(cases[i].q), &lq, &err);
		if (rc != cases[i].rc || !strstr(err.data, cases[i].msg))
			fail_msg("query '%s': rc %d, message '%s'; want %d, '%s'", cases[i].q, rc,
				 err.data, cases[i].rc, cases[i].msg);
		assert_null(lq);
		assert_non_null(strstr(err.data, "query error at char "));
		buf_release(&err);
	}
}

static void test_limits(void **state)
{
	struct buf q = BUF_INIT, err = BUF_INIT;
	struct logquery *lq = NULL;

	for (int i = 0; i < 64; i++)
		buf_addf(&q, "w%d ", i);
	assert_int_equal(logquery_compile(q.data, q.len, &lq, &err), 0);
	logquery_destroy(lq);
	buf_adds(&q, "one-more");
	assert_int_equal(logquery_compile(q.data, q.len, &lq, &err), OODA_ELIMIT);
	assert_non_null(strstr(err.data, "more than 64 terms"));

	buf_reset(&q);
	buf_reset(&err);
	for (int i = 0; i < 16; i++)
		buf_addch(&q, '(');
	buf_adds(&q, "a");
	for (int i = 0; i < 16; i++)
		buf_addch(&q, ')');
	assert_int_equal(logquery_compile(q.data, q.len, &lq, &err), 0);
	logquery_destroy(lq);
	buf_reset(&q);
	for (int i = 0; i < 17; i++)
		buf_addch(&q, '(');
	buf_adds(&q, "a");
	for (int i = 0; i < 17; i++)
		buf_addch(&q, ')');
	assert_int_equal(logquery_compile(q.data, q.len, &lq, &err), OODA_ELIMIT);
	assert_non_null(strstr(err.data, "at char 17: nesting deeper than 16"));

	buf_reset(&q);
	buf_reset(&err);
	for (int i = 0; i < 17; i++)
		buf_addch(&q, '-');
	buf_addch(&q, 'a');
	assert_int_equal(logquery_compile(q.data, q.len, &lq, &err), OODA_ELIMIT);

	buf_reset(&q);
	buf_reset(&err);
	for (int i = 0; i < 4097; i++)
		buf_addch(&q, ' ');
	assert_int_equal(logquery_compile(q.data, q.len, &lq, &err), OODA_ELIMIT);
	assert_non_null(strstr(err.data, "longer than 4096 bytes"));
	buf_setlen(&q, 4096);
	assert_int_equal(logquery_compile(q.data, q.len, &lq, NULL), 0);
	assert_true(logquery_match(lq, &recs[0]));
	logquery_destroy(lq);

	/* not NUL-terminated: only len bytes are read */
	assert_int_equal(logquery_compile("timeoutXYZ", 7, &lq, NULL), 0);
	assert_true(logquery_match(lq, &recs[0]));
	logquery_destroy(lq);

	buf_release(&q);
	buf_release(&err);
}

static void test_hints(void **state)
{
	static const struct {
		const char *q;
		const char *services; /* space-separated, "" for none */
		uint8_t min_severity;
		const char *trace;
		const char *tokens;   /* space-separated, in order */
	} cases[] = {
		{ "", "", 0, NULL, "" },
		{ "service:checkout severity>=warn timeout \"connection refused now\" "
		  "trace_id:0AF7651916CD43DD8448EB211C80319C attr.user:bob",
		  "checkout", 13, "0af7651916cd43dd8448eb211c80319c", "timeout refused bob" },
		{ "(service:a OR service:b) severity:error", "a b", 17, NULL, "" },
		{ "service:a OR timeout", "", 0, NULL, "" },
		{ "-service:a -timeout NOT severity:error", "", 0, NULL, "" },
		{ "severity:warn OR severity:error", "", 13, NULL, "" },
		{ "severity>warn", "", 17, NULL, "" },
		{ "time* foo-ba* Retry=3", "", 0, NULL, "foo retry 3" },
		{ "service:a service:A", "a", 0, NULL, "" },
		{ "service:a service:b", "", 0, NULL, "" },
		{ "service:a* service:/b/", "", 0, NULL, "" },
		{ "(service:a timeout) OR (service:b timeout)", "a b", 0, NULL, "" },
		{ "trace_id:0af7", "", 0, NULL, "" },
		{ "user.id:42 duration>5 team:\"Core Team\" k:ab*", "", 0, NULL, "core team" },
		{ "(a b) c", "", 0, NULL, "a b c" },
		{ "a a A", "", 0, NULL, "a" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct logquery *lq = NULL;
		struct buf err = BUF_INIT, got = BUF_INIT;
		if (logquery_compile(cases[i].q, strlen(cases[i].q), &lq, &err) != 0)
			fail_msg("query '%s': %s", cases[i].q, err.data);
		const struct logquery_hints *h = logquery_hints(lq);
		for (size_t j = 0; j < h->n_services; j++)
			buf_addf(&got, "%s%s", j ? " " : "", h->services[j]);
		if (strcmp(got.data, cases[i].services) != 0)
			fail_msg("query '%s': services '%s', want '%s'", cases[i].q, got.data,
				 cases[i].services);
		buf_reset(&got);
		for (size_t j = 0; j < h->n_tokens; j++)
			buf_addf(&got, "%s%s", j ? " " : "", h->tokens[j]);
		if (strcmp(got.data, cases[i].tokens) != 0)
			fail_msg("query '%s': tokens '%s', want '%s'", cases[i].q, got.data,
				 cases[i].tokens);
		if (h->min_severity != cases[i].min_severity)
			fail_msg("query '%s': min_severity %d, want %d", cases[i].q,
				 h->min_severity, cases[i].min_severity);
		if (cases[i].trace)
			assert_string_equal(h->trace_id_hex, cases[i].trace);
		else
			assert_null(h->trace_id_hex);
		logquery_destroy(lq);
		buf_release(&err);
		buf_release(&got);
	}
}

static void collect(void *ctx, const char *tok, size_t n)
{
	struct buf *b = ctx;
	if (b->len)
		buf_addch(b, '|');
	buf_add(b, tok, n);
}

static void test_tokens(void **state)
{
	static const struct {
		const char *text;
		const char *want;
	} cases[] = {
		{ "", "" },
		{ "  ,;  ", "" },
		{ "Hello, World_42!", "hello|world_42" },
		{ "request timeout after 5s", "request|timeout|after|5s" },
		{ "h\xc3\xa9llo--x", "h\xc3\xa9llo|x" },
		{ "GET /api/v1/users?id=7", "get|api|v1|users|id|7" },
		{ "a", "a" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b = BUF_INIT;
		logquery_tokens(cases[i].text, strlen(cases[i].text), collect, &b);
		assert_string_equal(b.data, cases[i].want);
		buf_release(&b);
	}
	char big[300];
	memset(big, 'A', sizeof(big));
	struct buf b = BUF_INIT;
	logquery_tokens(big, sizeof(big), collect, &b);
	assert_int_equal(b.len, LOGQUERY_TOKEN_MAX);
	assert_int_equal(b.data[0], 'a');
	buf_release(&b);
}

static void test_severity(void **state)
{
	static const struct {
		const char *name;
		int rc;
		uint8_t lo, hi;
	} cases[] = {
		{ "trace", 0, 1, 4 }, { "DEBUG", 0, 5, 8 }, { "info", 0, 9, 12 },
		{ "warn", 0, 13, 16 }, { "Warning", 0, 13, 16 }, { "error", 0, 17, 20 },
		{ "fatal", 0, 21, 24 }, { "error3", 0, 19, 19 }, { "fatal4", 0, 24, 24 },
		{ "1", 0, 1, 1 }, { "24", 0, 24, 24 }, { "0", OODA_EINVAL, 0, 0 },
		{ "25", OODA_EINVAL, 0, 0 }, { "error5", OODA_EINVAL, 0, 0 },
		{ "err", OODA_EINVAL, 0, 0 }, { "", OODA_EINVAL, 0, 0 },
		{ "123", OODA_EINVAL, 0, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t lo = 0, hi = 0;
		assert_int_equal(logquery_severity_parse(cases[i].name, &lo, &hi), cases[i].rc);
		if (cases[i].rc == 0) {
			assert_int_equal(lo, cases[i].lo);
			assert_int_equal(hi, cases[i].hi);
		}
	}
	assert_null(logquery_severity_name(0));
	assert_string_equal(logquery_severity_name(1), "trace");
	assert_string_equal(logquery_severity_name(12), "info");
	assert_string_equal(logquery_severity_name(13), "warn");
	assert_string_equal(logquery_severity_name(20), "error");
	assert_string_equal(logquery_severity_name(24), "fatal");
	assert_null(logquery_severity_name(25));
}

static void test_field_value(void **state)
{
	static const struct {
		int rec;
		const char *field;
		const char *want; /* NULL: absent */
	} cases[] = {
		{ 0, "service", "checkout" }, { 0, "severity", "error" }, { 0, "level", "error" },
		{ 0, "host", "web-1" }, { 0, "env", "prod" }, { 0, "version", "1.4.2" },
		{ 0, "scope", "io.ooda.checkout" },
		{ 0, "trace_id", "0af7651916cd43dd8448eb211c80319c" },
		{ 0, "span_id", "b7ad6b7169203331" },
		{ 0, "user.id", "42" }, { 0, "attr.user.id", "42" },
		{ 0, "http.route", "/api/cart" }, { 0, "k8s.pod.name", "checkout-7f9" },
		{ 1, "duration_ms", "120.5" }, { 1, "trace_id", NULL }, { 1, "version", NULL },
		{ 2, "flag", "true" }, { 2, "team", "core" }, { 3, "severity", NULL },
		{ 3, "body", NULL }, { 3, "nosuch", NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char tmp[64];
		const char *v = logquery_field_value(&recs[cases[i].rec], cases[i].field, tmp, sizeof(tmp));
		if (!cases[i].want)
			assert_null(v);
		else if (!v || strcmp(v, cases[i].want) != 0)
			fail_msg("record %d field %s: '%s', want '%s'", cases[i].rec, cases[i].field,
				 v ? v : "(null)", cases[i].want);
	}
}

static void *match_many(void *arg)
{
	const struct logquery *lq = arg;
	size_t hits = 0;
	for (int i = 0; i < 2000; i++)
		hits += logquery_match(lq, &recs[i % N_RECORDS]);
	return (void *)hits;
}

static void test_needs(void **state)
{
	(void)state;
	static const struct {
		const char *q;
		unsigned needs;
	} cases[] = {
		{ "", 0 },
		{ "service:a OR host:b*", 0 },
		{ "-env:prod region:eu version:/1\\..*/", 0 },
		{ "service:a severity>=warn", LOGQUERY_NEEDS_SEVERITY },
		{ "timeout", LOGQUERY_NEEDS_BODY },
		{ "service:a -\"connection refused\"", LOGQUERY_NEEDS_BODY },
		{ "user.id:42", LOGQUERY_NEEDS_ATTRS },
		{ "scope:http", LOGQUERY_NEEDS_OTHER },
		{ "trace_id:abc* OR span_id:12", LOGQUERY_NEEDS_OTHER },
		{ "level:error (timeout OR k:v)", LOGQUERY_NEEDS_SEVERITY | LOGQUERY_NEEDS_BODY | LOGQUERY_NEEDS_ATTRS },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct logquery *q;
		assert_int_equal(logquery_compile(cases[i].q, strlen(cases[i].q), &q, NULL), 0);
		if (logquery_needs(q) != cases[i].needs)
			fail_msg("%s: needs %u, expected %u", cases[i].q, logquery_needs(q), cases[i].needs);
		logquery_destroy(q);
	}
}

static void test_threads(void **state)
{
	static const char q[] = "/time.?out/i OR attr.duration_ms>100";
	struct logquery *lq = NULL;
	assert_int_equal(logquery_compile(q, sizeof(q) - 1, &lq, NULL), 0);
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, match_many, lq), 0);
	for (int i = 0; i < 4; i++) {
		void *hits;
		pthread_join(t[i], &hits);
		assert_int_equal((size_t)hits, 2000 / N_RECORDS * 3);
	}
	logquery_destroy(lq);
}

static void test_regex_limit(void **state)
{
	static const char q[] = "/(a|aa)+(b|bb)*$/ OR /(x+x+)+y/";
	struct logquery *lq = NULL;
	assert_int_equal(logquery_compile(q, sizeof(q) - 1, &lq, NULL), 0);
	char body[4096];
	memset(body, 'x', sizeof(body));
	memset(body, 'a', 64);
	body[sizeof(body) - 1] = 'z';
	struct log_record r = { .body = body, .body_len = sizeof(body), .resource = &res1 };
	assert_false(logquery_match(lq, &r)); /* returns: the limit stops it */
	logquery_destroy(lq);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_hints),
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_severity),
		cmocka_unit_test(test_field_value),
		cmocka_unit_test(test_needs),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_regex_limit),
	};
	return cmocka_run_group_tests_name("logquery", tests, NULL, NULL);
}
