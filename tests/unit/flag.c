/* Unit tests for src/change/flag: load errors with flag key and JSON path,
 * evaluation reasons and error codes, type checks, metadata merging, the
 * key list and the ETag. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>

#include "change/flag.h"
#include "change/jsonlogic.h"
#include "core/error.h"

static void test_load_errors(void **state)
{
	static const struct {
		const char *doc;
		int rc;
		const char *msg;
	} cases[] = {
		{ "not json", OODA_EPARSE, "line 1" },
		{ "[]", OODA_EINVAL, "must be a JSON object" },
		{ "{}", OODA_EINVAL, "/flags must be" },
		{ "{\"flags\":{\"f\":1}}", OODA_EINVAL, "flag \"f\": /flags/f: must be an object" },
		{ "{\"flags\":{\"f\":{\"variants\":{\"a\":1}}}}", OODA_EINVAL, "/flags/f/state" },
		{ "{\"flags\":{\"f\":{\"state\":\"ON\",\"variants\":{\"a\":1}}}}", OODA_EINVAL, "/flags/f/state" },
		{ "{\"flags\":{\"f\":{\"state\":\"ENABLED\",\"variants\":{}}}}", OODA_EINVAL, "/flags/f/variants" },
		{ "{\"flags\":{\"f\":{\"state\":\"ENABLED\",\"variants\":{\"a\":1,\"b\":\"x\"}}}}", OODA_EINVAL,
		  "/flags/f/variants/b: is a string" },
		{ "{\"flags\":{\"f\":{\"state\":\"ENABLED\",\"variants\":{\"a\":[1]}}}}", OODA_EINVAL,
		  "/flags/f/variants/a" },
		{ "{\"flags\":{\"f\":{\"state\":\"ENABLED\",\"variants\":{\"a\":1},\"defaultVariant\":\"b\"}}}",
		  OODA_EINVAL, "/flags/f/defaultVariant: \"b\"" },
		{ "{\"flags\":{\"f\":{\"state\":\"ENABLED\",\"variants\":{\"a\":1},\"targeting\":[1]}}}", OODA_EINVAL,
		  "/flags/f/targeting" },
		{ "{\"flags\":{\"f\":{\"state\":\"ENABLED\",\"variants\":{\"a\":1},\"metadata\":{\"x\":[1]}}}}",
		  OODA_EINVAL, "/flags/f/metadata/x" },
		{ "{\"flags\":{},\"$evaluators\":[]}", OODA_EINVAL, "$evaluators" },
		{ "{\"flags\":[{\"state\":\"ENABLED\",\"variants\":{\"a\":1}}]}", OODA_EINVAL, "/flags/0/key" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct flag_set *fs = NULL;
		struct buf err = BUF_INIT;
		int rc = flag_set_load(cases[i].doc, strlen(cases[i].doc), 0, &fs, &err);
		if (rc != cases[i].rc || !strstr(err.data, cases[i].msg))
			print_message("case %zu: rc %d err %s\n", i, rc, err.data);
		assert_int_equal(rc, cases[i].rc);
		assert_null(fs);
		assert_non_null(strstr(err.data, cases[i].msg));
		buf_release(&err);
	}
	/* strict: targeting that does not compile fails the load */
	const char *bad = "{\"flags\":{\"f\":{\"state\":\"ENABLED\",\"variants\":{\"a\":1},"
			  "\"targeting\":{\"if\":[{\"$ref\":\"nope\"},\"a\"]}}}}";
	struct flag_set *fs = NULL;
	struct buf err = BUF_INIT;
	assert_int_equal(flag_set_load(bad, strlen(bad), FLAG_LOAD_STRICT, &fs, &err), OODA_EPARSE);
	assert_non_null(strstr(err.data, "/flags/f/targeting/if/0: $ref to unknown evaluator \"nope\""));
	buf_release(&err);
	assert_int_equal(flag_set_load(bad, strlen(bad), 0, &fs, &err), 0);
	struct flag_result r;
	flag_evaluate(fs, "f", NULL, &r);
	assert_int_equal(r.reason, FLAG_REASON_ERROR);
	assert_int_equal(r.error, FLAG_ERROR_PARSE_ERROR);
	flag_set_destroy(fs);
	buf_release(&err);
}

static const char *doc =
	"{\"metadata\":{\"flagSetId\":\"set\",\"version\":\"1\"},"
	"\"$evaluators\":{\"beta\":{\"in\":[{\"var\":\"email\"},[\"a@x\",\"b@x\"]]}},"
	"\"flags\":{"
	"\"static\":{\"state\":\"ENABLED\",\"variants\":{\"on\":true,\"off\":false},\"defaultVariant\":\"on\","
	"\"metadata\":{\"version\":\"2\",\"owner\":\"team\"}},"
	"\"off\":{\"state\":\"DISABLED\",\"variants\":{\"on\":true,\"off\":false},\"defaultVariant\":\"on\"},"
	"\"nodef\":{\"state\":\"ENABLED\",\"variants\":{\"a\":1,\"b\":2}},"
	"\"target\":{\"state\":\"ENABLED\",\"variants\":{\"a\":\"A\",\"b\":\"B\"},\"defaultVariant\":\"a\","
	"\"targeting\":{\"if\":[{\"$ref\":\"beta\"},\"b\",null]}},"
	"\"boolname\":{\"state\":\"ENABLED\",\"variants\":{\"true\":1,\"false\":0},\"defaultVariant\":\"false\","
	"\"targeting\":{\"==\":[{\"var\":\"$flagd.flagKey\"},\"boolname\"]}},"
	"\"bad\":{\"state\":\"ENABLED\",\"variants\":{\"a\":1},\"defaultVariant\":\"a\",\"targeting\":{\"var\":\"email\"}},"
	"\"split\":{\"state\":\"ENABLED\",\"variants\":{\"x\":1.5,\"y\":2},\"defaultVariant\":\"x\","
	"\"targeting\":{\"fractional\":[[\"x\",50],[\"y\",50]]}},"
	"\"empty\":{\"state\":\"ENABLED\",\"variants\":{\"o\":{\"k\":1}},\"defaultVariant\":\"o\",\"targeting\":{}},"
	"\"ts\":{\"state\":\"ENABLED\",\"variants\":{\"old\":\"o\",\"new\":\"n\"},\"defaultVariant\":\"old\","
	"\"targeting\":{\"if\":[{\">\":[{\"var\":\"$flagd.timestamp\"},1000]},\"new\",\"old\"]}}"
	"}}";

static void test_evaluate(void **state)
{
	struct flag_set *fs;
	struct buf err = BUF_INIT;
	assert_int_equal(flag_set_load(doc, strlen(doc), FLAG_LOAD_STRICT, &fs, &err), 0);
	struct flag_result r;
	json_t *ctx = json_pack("{s:s, s:s}", "email", "a@x", "targetingKey", "user-1");

	flag_evaluate(fs, "static", ctx, &r);
	assert_int_equal(r.reason, FLAG_REASON_STATIC);
	assert_true(json_is_true(r.value));
	assert_string_equal(r.variant, "on");
	assert_string_equal(json_string_value(json_object_get(r.metadata, "version")), "2");
	assert_string_equal(json_string_value(json_object_get(r.metadata, "flagSetId")), "set");

	flag_evaluate(fs, "off", ctx, &r);
	assert_int_equal(r.reason, FLAG_REASON_DISABLED);
	assert_null(r.value);

	flag_evaluate(fs, "nodef", ctx, &r);
	assert_int_equal(r.reason, FLAG_REASON_DEFAULT);
	assert_null(r.value);

	flag_evaluate(fs, "target", ctx, &r);
	assert_int_equal(r.reason, FLAG_REASON_TARGETING_MATCH);
	assert_string_equal(r.variant, "b");
	json_object_set_new(ctx, "email", json_string("c@x"));
	flag_evaluate(fs, "target", ctx, &r);
	assert_int_equal(r.reason, FLAG_REASON_DEFAULT);
	assert_string_equal(r.variant, "a");

	flag_evaluate(fs, "boolname", ctx, &r);
	assert_int_equal(r.reason, FLAG_REASON_TARGETING_MATCH);
	assert_string_equal(r.variant, "true");

	flag_evaluate(fs, "bad", ctx, &r);
	assert_int_equal(r.reason, FLAG_REASON_ERROR);
	assert_int_equal(r.error, FLAG_ERROR_GENERAL);
	assert_non_null(strstr(r.message, "not defined"));

	/* a fractional split reports TARGETING_MATCH, as flagd does */
	flag_evaluate(fs, "split", ctx, &r);
	assert_int_equal(r.reason, FLAG_REASON_TARGETING_MATCH);
	assert_string_equal(flag_reason_name(r.reason), "TARGETING_MATCH");
	flag_evaluate_typed(fs, "split", ctx, FLAG_TYPE_FLOAT, &r);
	assert_int_equal(r.error, FLAG_ERROR_NONE);
	flag_evaluate_typed(fs, "split", ctx, FLAG_TYPE_STRING, &r);
	assert_int_equal(r.error, FLAG_ERROR_TYPE_MISMATCH);

	flag_evaluate(fs, "empty", ctx, &r);
	assert_int_equal(r.reason, FLAG_REASON_STATIC);
	assert_true(json_is_object(r.value));

	flag_evaluate_at(fs, "ts", ctx, FLAG_TYPE_STRING, 999, &r);
	assert_string_equal(r.variant, "old");
	flag_evaluate_at(fs, "ts", ctx, FLAG_TYPE_STRING, 1001, &r);
	assert_string_equal(r.variant, "new");
	flag_evaluate(fs, "ts", ctx, &r);
	assert_string_equal(r.variant, "new");

	flag_evaluate(fs, "missing", ctx, &r);
	assert_int_equal(r.error, FLAG_ERROR_FLAG_NOT_FOUND);
	assert_string_equal(flag_error_name(r.error), "FLAG_NOT_FOUND");

	json_t *arr = json_array();
	flag_evaluate(fs, "target", arr, &r);
	assert_int_equal(r.error, FLAG_ERROR_INVALID_CONTEXT);
	json_decref(arr);

	flag_evaluate_typed(fs, "nodef", ctx, FLAG_TYPE_INTEGER, &r);
	assert_int_equal(r.error, FLAG_ERROR_NONE);
	flag_evaluate_typed(fs, "static", ctx, FLAG_TYPE_STRING, &r);
	assert_int_equal(r.error, FLAG_ERROR_TYPE_MISMATCH);

	/* keys, json, etag */
	assert_int_equal(flag_set_count(fs), 9);
	assert_string_equal(flag_set_key(fs, 0), "bad");
	assert_string_equal(flag_set_key(fs, 8), "ts");
	assert_non_null(flag_set_flag_json(fs, "static"));
	assert_null(flag_set_flag_json(fs, "nope"));
	const char *etag = flag_set_etag(fs);
	assert_int_equal(strlen(etag), 18);

	struct flag_set *fs2;
	json_t *j = json_loads(doc, 0, NULL);
	char *re = json_dumps(j, JSON_INDENT(2)); /* same document, other spacing */
	assert_int_equal(flag_set_load(re, strlen(re), 0, &fs2, &err), 0);
	assert_string_equal(flag_set_etag(fs2), etag);
	flag_set_destroy(fs2);
	free(re);
	json_decref(j);

	json_decref(ctx);
	flag_set_destroy(fs);
	buf_release(&err);
}

struct worker {
	const struct flag_set *fs;
	int mismatches;
};

/* Evaluates the same flags with per-thread contexts; every answer must
 * equal what a single thread computes. */
static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char tk[32];
	for (int i = 0; i < 20000; i++) {
		snprintf(tk, sizeof(tk), "user-%d", i % 97);
		json_t *ctx = json_pack("{s:s, s:s}", "targetingKey", tk, "email", i % 2 ? "a@x" : "z@x");
		struct flag_result r1, r2;
		flag_evaluate(w->fs, "split", ctx, &r1);
		flag_evaluate(w->fs, "split", ctx, &r2);
		if (r1.variant != r2.variant || r1.reason != FLAG_REASON_TARGETING_MATCH)
			w->mismatches++;
		flag_evaluate(w->fs, "target", ctx, &r1);
		if (strcmp(r1.variant, i % 2 ? "b" : "a"))
			w->mismatches++;
		json_decref(ctx);
	}
	return NULL;
}

/* $evaluators where each one uses the one before twice: {"and":[{"$ref":e(i-1)},{"$ref":e(i-1)}]}. */
static json_t *doubling_evaluators(int levels)
{
	json_t *ev = json_object();
	json_object_set_new(ev, "e0", json_pack("{s:[{s:s}, i]}", "==", "var", "x", 1));
	for (int i = 1; i <= levels; i++) {
		char name[16], prev[16];
		snprintf(name, sizeof(name), "e%d", i);
		snprintf(prev, sizeof(prev), "e%d", i - 1);
		json_object_set_new(ev, name, json_pack("{s:[{s:s}, {s:s}]}", "and", "$ref", prev, "$ref", prev));
	}
	return ev;
}

static void test_shared_evaluators(void **state)
{
	(void)state;
	/* ten levels: the inlined tree would have thousands of nodes; shared, each evaluator is built once */
	json_t *ev = doubling_evaluators(10);
	json_t *rule = json_pack("{s:[{s:s}, s, s]}", "if", "$ref", "e10", "yes", "no");
	struct jl_rule *r = NULL;
	struct buf err = BUF_INIT;
	assert_int_equal(jl_compile(rule, NULL, ev, "/t", &r, &err), 0);
	assert_true(jl_rule_nodes(r) < 100);
	const char *want[] = { "no", "yes", "no" };
	for (int x = 0; x < 3; x++) {
		json_t *data = json_pack("{s:i}", "x", x);
		struct jl_eval e;
		struct jl_val out;
		jl_eval_init(&e, data);
		assert_int_equal(jl_run(r, &e, &out, &err), 0);
		assert_int_equal(out.kind, JL_STR);
		assert_int_equal(out.str.len, strlen(want[x]));
		assert_memory_equal(out.str.s, want[x], out.str.len);
		jl_eval_release(&e);
		json_decref(data);
	}
	jl_rule_destroy(r);
	json_decref(rule);
	json_decref(ev);

	/* twenty levels expand to a million nodes: refused with the reason, not compiled */
	ev = doubling_evaluators(20);
	rule = json_pack("{s:[{s:s}, s, s]}", "if", "$ref", "e20", "yes", "no");
	r = NULL;
	assert_int_equal(jl_compile(rule, NULL, ev, "/t", &r, &err), OODA_ELIMIT);
	assert_null(r);
	assert_non_null(strstr(err.data, "expands to more than 100000 operations"));
	buf_reset(&err);
	/* the same as a flag document: a 400 naming the flag's targeting */
	json_t *fdoc = json_pack("{s:{s:{s:s, s:{s:s, s:s}, s:s, s:O}}, s:O}", "flags", "f", "state", "ENABLED",
				"variants", "yes", "yes", "no", "no", "defaultVariant", "no", "targeting", rule,
				"$evaluators", ev);
	char *text = json_dumps(fdoc, JSON_COMPACT);
	struct flag_set *fs = NULL;
	assert_int_equal(flag_set_load(text, strlen(text), FLAG_LOAD_STRICT, &fs, &err), OODA_EINVAL);
	assert_null(fs);
	assert_non_null(strstr(err.data, "/flags/f/targeting"));
	assert_non_null(strstr(err.data, "expands to more than"));
	buf_reset(&err);
	free(text);
	json_decref(fdoc);
	json_decref(rule);
	json_decref(ev);

	/* a long constant list is one operation, not one per element: big allow-lists still compile */
	json_t *emails = json_array();
	for (int i = 0; i < 150000; i++) {
		char e[32];
		snprintf(e, sizeof(e), "u%d@x", i);
		json_array_append_new(emails, json_string(e));
	}
	rule = json_pack("{s:[{s:s}, o]}", "in", "var", "email", emails);
	assert_int_equal(jl_compile(rule, NULL, NULL, "/t", &r, &err), 0);
	jl_rule_destroy(r);
	json_decref(rule);

	/* evaluators that refer to each other in a circle are named as a cycle */
	ev = json_pack("{s:{s:{s:s}}, s:{s:{s:s}}}", "a", "!", "$ref", "b", "b", "!", "$ref", "a");
	rule = json_pack("{s:s}", "$ref", "a");
	assert_int_equal(jl_compile(rule, NULL, ev, "/t", &r, &err), OODA_EPARSE);
	assert_non_null(strstr(err.data, "$ref cycle"));
	json_decref(rule);
	json_decref(ev);
	buf_release(&err);
}

static void test_threads(void **state)
{
	struct flag_set *fs;
	struct buf err = BUF_INIT;
	assert_int_equal(flag_set_load(doc, strlen(doc), 0, &fs, &err), 0);
	pthread_t t[4];
	struct worker w[4];
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ .fs = fs };
		assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].mismatches, 0);
	}
	flag_set_destroy(fs);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_evaluate),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_shared_evaluators),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
