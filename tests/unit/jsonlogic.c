/* Unit tests for src/change/jsonlogic and murmur3: a table of (rule, data,
 * expected) per operator, JavaScript truthiness and loose-equality corners,
 * and the limits that turn runaway rules into errors. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "change/jsonlogic.h"
#include "change/murmur3.h"
#include "change/flag.h"
#include "core/error.h"

static const struct {
	const char *rule, *data, *want;
} cases[] = {
	/* var */
	{ "{\"var\":\"a\"}", "{\"a\":1}", "1" },
	{ "{\"var\":[\"a\"]}", "{\"a\":1}", "1" },
	{ "{\"var\":\"a.b.c\"}", "{\"a\":{\"b\":{\"c\":\"x\"}}}", "\"x\"" },
	{ "{\"var\":\"a.1\"}", "{\"a\":[5,6]}", "6" },
	{ "{\"var\":1}", "[\"x\",\"y\"]", "\"y\"" },
	{ "{\"var\":[\"z\",26]}", "{\"a\":1}", "26" },
	{ "{\"var\":[\"a\",26]}", "{\"a\":null}", "null" },
	{ "{\"var\":[\"a.b\",26]}", "{\"a\":null}", "26" },
	{ "{\"var\":\"\"}", "5", "5" },
	{ "{\"var\":[]}", "{\"a\":1}", "{\"a\":1}" },
	{ "{\"var\":\"nope.deeper\"}", "{}", "null" },
	{ "{\"var\":{\"cat\":[\"a\",\".b\"]}}", "{\"a\":{\"b\":3}}", "3" },
	/* missing */
	{ "{\"missing\":[\"a\",\"b\"]}", "{\"a\":1}", "[\"b\"]" },
	{ "{\"missing\":[\"a\",\"b\"]}", "{\"a\":\"\",\"b\":null}", "[\"a\",\"b\"]" },
	{ "{\"missing\":{\"merge\":[\"a\",[\"b\"]]}}", "{\"b\":1}", "[\"a\"]" },
	{ "{\"missing_some\":[1,[\"a\",\"b\",\"c\"]]}", "{\"a\":1}", "[]" },
	{ "{\"missing_some\":[2,[\"a\",\"b\",\"c\"]]}", "{\"a\":1}", "[\"b\",\"c\"]" },
	/* if */
	{ "{\"if\":[true,\"yes\",\"no\"]}", "null", "\"yes\"" },
	{ "{\"if\":[[],\"yes\",\"no\"]}", "null", "\"no\"" },
	{ "{\"if\":[false,1,false,2,3]}", "null", "3" },
	{ "{\"if\":[false,1,true,2,3]}", "null", "2" },
	{ "{\"if\":[false,1]}", "null", "null" },
	{ "{\"if\":[\"only\"]}", "null", "\"only\"" },
	{ "{\"if\":[]}", "null", "null" },
	{ "{\"?:\":[\"0\",1,2]}", "null", "1" },
	/* equality */
	{ "{\"==\":[1,1]}", "null", "true" },
	{ "{\"==\":[1,\"1\"]}", "null", "true" },
	{ "{\"==\":[0,false]}", "null", "true" },
	{ "{\"==\":[\"\",0]}", "null", "true" },
	{ "{\"==\":[null,0]}", "null", "false" },
	{ "{\"==\":[null,null]}", "null", "true" },
	{ "{\"==\":[\"1\",true]}", "null", "true" },
	{ "{\"==\":[[1],1]}", "null", "true" },
	{ "{\"==\":[[1,2],\"1,2\"]}", "null", "true" },
	{ "{\"==\":[\"abc\",\"abc\"]}", "null", "true" },
	{ "{\"===\":[1,\"1\"]}", "null", "false" },
	{ "{\"===\":[1,1.0]}", "null", "true" },
	{ "{\"!=\":[1,\"1\"]}", "null", "false" },
	{ "{\"!==\":[1,\"1\"]}", "null", "true" },
	/* truthiness */
	{ "{\"!\":[[]]}", "null", "true" },
	{ "{\"!\":[\"0\"]}", "null", "false" },
	{ "{\"!\":0}", "null", "true" },
	{ "{\"!!\":[\"\"]}", "null", "false" },
	{ "{\"!!\":[{}]}", "null", "true" },
	{ "{\"!!\":[[0]]}", "null", "true" },
	{ "{\"!!\":[null]}", "null", "false" },
	/* and / or return values */
	{ "{\"or\":[false,0,\"a\"]}", "null", "\"a\"" },
	{ "{\"or\":[false,0]}", "null", "0" },
	{ "{\"and\":[true,\"\",3]}", "null", "\"\"" },
	{ "{\"and\":[true,\"a\",3]}", "null", "3" },
	/* comparisons */
	{ "{\">\":[2,1]}", "null", "true" },
	{ "{\">=\":[1,1]}", "null", "true" },
	{ "{\"<\":[1,2,3]}", "null", "true" },
	{ "{\"<\":[1,1,3]}", "null", "false" },
	{ "{\"<=\":[1,1,3]}", "null", "true" },
	{ "{\"<\":[\"11\",\"2\"]}", "null", "true" },
	{ "{\"<\":[\"11\",2]}", "null", "false" },
	{ "{\"<\":[null,1]}", "null", "true" },
	{ "{\">\":[\"a\",1]}", "null", "false" },
	/* arithmetic */
	{ "{\"max\":[1,3,2]}", "null", "3" },
	{ "{\"min\":[1,3,-2]}", "null", "-2" },
	{ "{\"max\":[]}", "null", "null" },
	{ "{\"+\":[1,\"2\",3.5]}", "null", "6.5" },
	{ "{\"+\":\"3.14\"}", "null", "3.14" },
	{ "{\"+\":[]}", "null", "0" },
	{ "{\"-\":[5,2]}", "null", "3" },
	{ "{\"-\":2}", "null", "-2" },
	{ "{\"*\":[2,\"3\",4]}", "null", "24" },
	{ "{\"/\":[6,4]}", "null", "1.5" },
	{ "{\"/\":[1,0]}", "null", "null" },
	{ "{\"%\":[7,3]}", "null", "1" },
	{ "{\"+\":[\"abc\",1]}", "null", "null" },
	{ "{\"+\":[0.1,0.2]}", "null", "0.30000000000000004" },
	/* in, cat, substr */
	{ "{\"in\":[\"Spring\",\"Springfield\"]}", "null", "true" },
	{ "{\"in\":[\"x\",\"\"]}", "null", "false" },
	{ "{\"in\":[\"b\",[\"a\",\"b\"]]}", "null", "true" },
	{ "{\"in\":[1,[\"1\"]]}", "null", "false" },
	{ "{\"cat\":[\"I love\",\" pie\"]}", "null", "\"I love pie\"" },
	{ "{\"cat\":[\"a\",1,2.5,true,null,[1,[2,null]]]}", "null", "\"a12.5truenull1,2,\"" },
	{ "{\"substr\":[\"jsonlogic\",4]}", "null", "\"logic\"" },
	{ "{\"substr\":[\"jsonlogic\",-5]}", "null", "\"logic\"" },
	{ "{\"substr\":[\"jsonlogic\",1,3]}", "null", "\"son\"" },
	{ "{\"substr\":[\"jsonlogic\",4,-2]}", "null", "\"log\"" },
	{ "{\"substr\":[\"jsonlogic\",0,1]}", "null", "\"j\"" },
	{ "{\"substr\":[\"h\u00e9llo\",1,2]}", "null", "\"\u00e9l\"" },
	/* arrays */
	{ "{\"merge\":[[1,2],3,[[4]]]}", "null", "[1,2,3,[4]]" },
	{ "{\"map\":[{\"var\":\"xs\"},{\"*\":[{\"var\":\"\"},2]}]}", "{\"xs\":[1,2,3]}", "[2,4,6]" },
	{ "{\"map\":[5,{\"var\":\"\"}]}", "null", "[]" },
	{ "{\"filter\":[[1,2,3,4],{\"%\":[{\"var\":\"\"},2]}]}", "null", "[1,3]" },
	{ "{\"reduce\":[[1,2,3],{\"+\":[{\"var\":\"current\"},{\"var\":\"accumulator\"}]},10]}", "null", "16" },
	{ "{\"reduce\":[7,{\"var\":\"current\"},\"init\"]}", "null", "\"init\"" },
	{ "{\"all\":[[1,2],{\">\":[{\"var\":\"\"},0]}]}", "null", "true" },
	{ "{\"all\":[[],{\">\":[{\"var\":\"\"},0]}]}", "null", "false" },
	{ "{\"none\":[[1,2],{\">\":[{\"var\":\"\"},5]}]}", "null", "true" },
	{ "{\"some\":[[1,7],{\">\":[{\"var\":\"\"},5]}]}", "null", "true" },
	{ "{\"some\":[{\"var\":\"p\"},{\"==\":[{\"var\":\"n\"},\"b\"]}]}", "{\"p\":[{\"n\":\"a\"},{\"n\":\"b\"}]}", "true" },
	/* literals */
	{ "{\"a\":1,\"b\":2}", "null", "{\"a\":1,\"b\":2}" },
	{ "[1,{\"var\":\"x\"}]", "{\"x\":2}", "[1,2]" },
	{ "\"plain\"", "null", "\"plain\"" },
	{ "{\"log\":\"x\"}", "null", "\"x\"" },
	/* flagd operators */
	{ "{\"starts_with\":[\"abcdef\",\"abc\"]}", "null", "true" },
	{ "{\"ends_with\":[\"abcdef\",\"abc\"]}", "null", "false" },
	{ "{\"starts_with\":[1,\"abc\"]}", "null", "null" },
	{ "{\"sem_ver\":[\"1.2.3\",\">=\",\"1.2.0\"]}", "null", "true" },
	{ "{\"sem_ver\":[\"1.0.0-alpha\",\"<\",\"1.0.0-alpha.1\"]}", "null", "true" },
	{ "{\"sem_ver\":[\"1.0.0-rc.1\",\"<\",\"1.0.0\"]}", "null", "true" },
	{ "{\"sem_ver\":[\"1.0.0-beta.11\",\">\",\"1.0.0-beta.2\"]}", "null", "true" },
	{ "{\"sem_ver\":[\"x\",\"=\",\"1.0.0\"]}", "null", "null" },
	{ "{\"fractional\":[\"key\",[\"a\",0],[\"b\",1]]}", "null", "\"b\"" },
	{ "{\"fractional\":[\"key\",[\"a\",0],[\"b\",0]]}", "null", "null" },
	{ "{\"fractional\":[[\"a\"]]}", "{\"targetingKey\":\"u\"}", "\"a\"" },
	{ "{\"fractional\":[[\"a\"]]}", "{}", "null" },
};

static void test_table(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *rule = json_loads(cases[i].rule, JSON_DECODE_ANY, NULL);
		json_t *data = json_loads(cases[i].data, JSON_DECODE_ANY, NULL);
		json_t *want = json_loads(cases[i].want, JSON_DECODE_ANY, NULL);
		json_t *got = NULL;
		struct buf err = BUF_INIT;
		assert_non_null(rule);
		assert_non_null(want);
		int rc = jsonlogic_apply(rule, data, flagd_registry(), &got, &err);
		if (rc)
			print_message("case %zu %s: %s\n", i, cases[i].rule, err.data);
		assert_int_equal(rc, 0);
		bool eq = json_equal(got, want) ||
			  (json_is_number(got) && json_is_number(want) &&
			   json_number_value(got) == json_number_value(want));
		if (!eq) {
			char *g = json_dumps(got, JSON_ENCODE_ANY);
			print_message("case %zu %s on %s: got %s want %s\n", i, cases[i].rule, cases[i].data, g,
				      cases[i].want);
			free(g);
		}
		assert_true(eq);
		json_decref(rule);
		json_decref(data);
		json_decref(want);
		json_decref(got);
		buf_release(&err);
	}
}

static void expect_error(const char *rule_text, const char *data_text, int code, const char *msg_part)
{
	json_t *rule = json_loads(rule_text, JSON_DECODE_ANY, NULL);
	json_t *data = data_text ? json_loads(data_text, JSON_DECODE_ANY, NULL) : NULL;
	json_t *got = NULL;
	struct buf err = BUF_INIT;
	assert_non_null(rule);
	int rc = jsonlogic_apply(rule, data, NULL, &got, &err);
	if (rc != code)
		print_message("%s: rc %d (%s)\n", rule_text, rc, err.data);
	assert_int_equal(rc, code);
	assert_null(got);
	assert_non_null(strstr(err.data, msg_part));
	json_decref(rule);
	json_decref(data);
	buf_release(&err);
}

static void test_errors(void **state)
{
	expect_error("{\"nope\":[1]}", NULL, OODA_EPARSE, "unknown operator \"nope\"");
	expect_error("{\"if\":[true,{\"bogus\":1}]}", NULL, OODA_EPARSE, "/if/1");
	expect_error("{\"fractional\":[]}", NULL, OODA_EPARSE, "unknown operator");
	/* depth */
	struct buf deep = BUF_INIT;
	for (int i = 0; i < 70; i++)
		buf_adds(&deep, "{\"!\":[");
	buf_adds(&deep, "1");
	for (int i = 0; i < 70; i++)
		buf_adds(&deep, "]}");
	expect_error(deep.data, NULL, OODA_ELIMIT, "deeper than 64");
	buf_release(&deep);
	/* huge arrays in map */
	struct buf big = BUF_INIT;
	buf_adds(&big, "{\"xs\":[");
	for (int i = 0; i < 10001; i++)
		buf_addf(&big, "%s%d", i ? "," : "", i);
	buf_adds(&big, "]}");
	expect_error("{\"map\":[{\"var\":\"xs\"},{\"var\":\"\"}]}", big.data, OODA_ELIMIT, "10000");
	buf_release(&big);
	/* operation budget: nested maps over 10,000 elements each */
	struct buf ten = BUF_INIT;
	buf_adds(&ten, "{\"xs\":[");
	for (int i = 0; i < 10000; i++)
		buf_addf(&ten, "%s%d", i ? "," : "", i);
	buf_adds(&ten, "]}");
	const char *rule = "{\"map\":[{\"var\":\"xs\"},{\"map\":[[1,2,3,4,5,6,7,8,9,10,11,12],{\"+\":[{\"var\":\"\"},1]}]}]}";
	expect_error(rule, ten.data, OODA_ELIMIT, "operations");
	buf_release(&ten);
}

static void test_registry(void **state)
{
	struct jl_registry *r = jl_registry_create();
	assert_int_equal(jl_registry_add(r, "var", (jl_hook_fn)1, NULL), OODA_ECONFLICT);
	jl_registry_destroy(r);
}

static void test_murmur3(void **state)
{
	static const struct {
		const char *s;
		uint32_t seed, want;
	} v[] = {
		{ "", 0, 0 },
		{ "", 1, 0x514e28b7 },
		{ "hello", 0, 0x248bfa47 },
		{ "The quick brown fox jumps over the lazy dog", 0, 0x2e4ff723 },
		{ "a", 0, 0x3c2569b2 },
		{ "abc", 0, 0xb3dd93fa },
		{ "abcd", 0, 0x43ed676a },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		assert_int_equal(murmur3_x86_32(v[i].s, strlen(v[i].s), v[i].seed), v[i].want);
}

static void test_number_format(void **state)
{
	static const struct {
		double n;
		const char *s;
	} v[] = { { 1, "1" }, { -2.5, "-2.5" }, { 0.1, "0.1" }, { 1e21, "1e+21" }, { 1.5e-7, "1.5e-7" },
		  { 0.000001, "0.000001" }, { 123456789012, "123456789012" } };
	char out[40];
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		jl_format_number(v[i].n, out, sizeof(out));
		assert_string_equal(out, v[i].s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_registry),
		cmocka_unit_test(test_murmur3),
		cmocka_unit_test(test_number_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
