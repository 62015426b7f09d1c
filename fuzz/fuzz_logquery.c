/*
 * libFuzzer harness for the log search language: any bytes must compile or
 * fail with a positioned message, and a compiled query must match a few
 * records, read its hints and be destroyed without crashing, hanging
 * (regex match limits) or leaking.
 */
#include <stddef.h>
#include <stdint.h>

#include "query/logquery.h"

static struct attr rec_attrs[] = {
	{ .key = "user.id", .type = ATTR_INT, .i = 42 },
	{ .key = "duration_ms", .type = ATTR_DOUBLE, .d = 250.5 },
	{ .key = "http.route", .type = ATTR_STR, .s = "/api/cart", .len = 9 },
	{ .key = "flag", .type = ATTR_BOOL, .b = true },
	{ .key = "raw", .type = ATTR_BYTES, .s = "\x00\x01\xff", .len = 3 },
	{ .key = "list", .type = ATTR_JSON, .s = "[1,2]", .len = 5 },
};
static struct attr res_attrs[] = {
	{ .key = "service.name", .type = ATTR_STR, .s = "checkout", .len = 8 },
};
static const struct resource res = {
	.service = "checkout", .service_version = "1.4.2", .environment = "prod",
	.host = "web-1", .region = "eu-west-1", .attrs = { res_attrs, 1 },
};
static const struct resource bare = { .service = "unknown" };

static const char body[] = "Connection refused to db:5432 after timeout aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab \xc3\x89\xff";

static struct log_record recs[] = {
	{ .severity = 17, .body = body, .body_len = sizeof(body) - 1, .has_trace_id = true,
	  .trace_id = { 0x0a, 0xf7, 0x65, 0x19 }, .has_span_id = true, .resource = &res,
	  .scope_name = "io.ooda", .attrs = { rec_attrs, 6 } },
	{ .severity = 0, .resource = &bare },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct logquery *q = NULL;
	struct buf err = BUF_INIT;
	int rc = logquery_compile((const char *)data, size, &q, &err);
	if (rc != 0) {
		if (err.len == 0 || q)
			__builtin_trap(); /* a failure must say why and leave nothing */
	} else {
		for (size_t i = 0; i < sizeof(recs) / sizeof(recs[0]); i++)
			(void)logquery_match(q, &recs[i]);
		const struct logquery_hints *h = logquery_hints(q);
		for (size_t i = 0; i < h->n_tokens; i++)
			if (!h->tokens[i][0])
				__builtin_trap();
		logquery_destroy(q);
	}
	buf_release(&err);
	return 0;
}
