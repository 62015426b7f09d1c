/* Unit tests for the config-set JSON Schema validator: a table of schemas
 * with documents that must pass or fail (naming the path), a table of
 * schemas that must be refused at compile (naming keyword and pointer), and
 * the bounds that keep a hostile schema or document from hanging. Schemas
 * and documents are written with ' for " to keep the tables readable. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "change/jschema.h"
#include "core/error.h"

/* Parses text after turning every ' into ". The caller decrefs. */
static json_t *j(const char *text)
{
	char *t = strdup(text);
	for (char *p = t; *p; p++)
		if (*p == '\'')
			*p = '"';
	json_error_t je;
	json_t *v = json_loads(t, JSON_DECODE_ANY, &je);
	if (!v)
		fail_msg("test JSON does not parse: %s: %s", text, je.text);
	free(t);
	return v;
}

struct vcase {
	const char *schema;
	const char *doc;
	const char *err; /* NULL = valid; else a substring of the error */
};

static void run_cases(const struct vcase *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		json_t *schema = j(cases[i].schema), *doc = j(cases[i].doc);
		struct jschema *js;
		struct buf err = BUF_INIT;
		if (jschema_compile(schema, &js, &err))
			fail_msg("schema %s should compile: %s", cases[i].schema, err.data);
		int rc = jschema_validate(js, doc, &err);
		if (!cases[i].err && rc)
			fail_msg("%s against %s should be valid: %s", cases[i].doc, cases[i].schema, err.data);
		if (cases[i].err && (rc != OODA_EVALIDATE || !strstr(err.data, cases[i].err)))
			fail_msg("%s against %s: want error containing '%s', got %d '%s'", cases[i].doc, cases[i].schema,
				 cases[i].err, rc, err.data);
		buf_release(&err);
		jschema_destroy(js);
		json_decref(schema);
		json_decref(doc);
	}
}

#define RUN(cases) run_cases(cases, sizeof(cases) / sizeof(cases[0]))

/* What the validator did before: type, properties, required, and so on. */
static void test_basics(void **state)
{
	(void)state;
	const char *s = "{'type':'object','required':['pool'],'additionalProperties':false,"
			"'properties':{'pool':{'type':'integer','minimum':1,'maximum':100},"
			"'mode':{'enum':['fast','safe']},'name':{'type':'string','pattern':'^[a-z]+$'},"
			"'hosts':{'type':'array','items':{'type':'string'},'minItems':1}}}";
	const struct vcase cases[] = {
		{ s, "{'pool':10}", NULL },
		{ s, "{'pool':10,'mode':'safe','name':'abc','hosts':['a']}", NULL },
		{ s, "{}", "at /: required property \"pool\" is missing" },
		{ s, "{'pool':0}", "at /pool: 0 is below the minimum 1" },
		{ s, "{'pool':101}", "at /pool: 101 is above the maximum 100" },
		{ s, "{'pool':'10'}", "at /pool: expected integer, got string" },
		{ s, "{'pool':5.0}", NULL },
		{ s, "{'pool':5,'mode':'yolo'}", "at /mode: \"yolo\" is not one of the allowed values (enum)" },
		{ s, "{'pool':5,'name':'ABC'}", "at /name: \"ABC\" does not match the pattern ^[a-z]+$" },
		{ s, "{'pool':5,'name':'abc\\n'}", "does not match the pattern" }, /* $ is the very end, as in ECMA-262 */
		{ s, "{'pool':5,'hosts':[]}", "at /hosts: 0 items are fewer than minItems 1" },
		{ s, "{'pool':5,'hosts':[1]}", "at /hosts/0: expected string, got integer" },
		{ s, "{'pool':5,'extra':1}", "at /extra: property \"extra\" is not allowed (additionalProperties is false)" },
		{ s, "[]", "at /: expected object, got array" },
		{ "{'type':['string','null']}", "null", NULL },
		{ "{'type':['string','null']}", "1", "expected one of string, null; got integer" },
		{ "{'properties':{'a/b':{'properties':{'c~d':{'type':'string'}}}}}", "{'a/b':{'c~d':1}}",
		  "at /a~1b/c~0d: expected string" },
		{ "{'properties':{'name':{'minLength':2,'maxLength':3}}}", "{'name':'\\u00e9\\u00e9'}", NULL },
		{ "{'properties':{'name':{'minLength':2,'maxLength':3}}}", "{'name':'a'}",
		  "at /name: 1 characters is shorter than minLength 2" },
		{ "{'properties':{'name':{'minLength':2,'maxLength':3}}}", "{'name':'abcd'}", "longer than maxLength 3" },
		{ "{'maxItems':1}", "[1,2]", "2 items are more than maxItems 1" },
		{ "false", "1", "at /: no value is allowed here" },
		{ "true", "{'anything':[1]}", NULL },
		{ "{'title':'t','description':'d','default':1,'examples':[1],'$schema':'https://json-schema.org/draft/"
		  "2020-12/schema','$id':'https://x/s','$comment':'c','deprecated':true,'readOnly':false,"
		  "'writeOnly':false,'x-owner':'team-a','type':'integer'}",
		  "1", NULL },
	};
	RUN(cases);
}

/* oneOf with $ref into $defs: the shape a real service schema has. */
static void test_oneof_ref(void **state)
{
	(void)state;
	const char *s = "{'$defs':{"
			"'port':{'type':'integer','minimum':1,'maximum':65535},"
			"'tcp':{'type':'object','required':['kind','port'],'additionalProperties':false,"
			"'properties':{'kind':{'const':'tcp'},'port':{'$ref':'#/$defs/port'}}},"
			"'unix':{'type':'object','required':['kind','path'],'additionalProperties':false,"
			"'properties':{'kind':{'const':'unix'},'path':{'type':'string','pattern':'^/'}}}},"
			"'type':'object','properties':{'db':{'oneOf':[{'$ref':'#/$defs/tcp'},{'$ref':'#/$defs/unix'}]},"
			"'replicas':{'type':'array','items':{'$ref':'#/properties/db'}}}}";
	const struct vcase cases[] = {
		{ s, "{'db':{'kind':'tcp','port':5432}}", NULL },
		{ s, "{'db':{'kind':'unix','path':'/run/pg.sock'}}", NULL },
		{ s, "{'db':{'kind':'tcp','port':70000}}", "at /db/port: 70000 is above the maximum 65535" },
		{ s, "{'db':{'kind':'tcp','port':70000}}", "matches none of the oneOf alternatives" },
		{ s, "{'db':{'kind':'unix','path':'relative'}}", "at /db/path: \"relative\" does not match" },
		{ s, "{'db':{'kind':'udp'}}", "at /db: matches none of the oneOf alternatives" },
		{ s, "{'replicas':[{'kind':'tcp','port':1},{'kind':'tcp','port':0}]}", "at /replicas/1/port: 0 is below" },
		{ s, "{'replicas':[{'kind':'unix','path':'/a'}]}", NULL },
		/* a value matching two alternatives fails oneOf, passes anyOf */
		{ "{'oneOf':[{'type':'integer'},{'minimum':0}]}", "5", "matches more than one oneOf alternative (0 and 1)" },
		{ "{'oneOf':[{'type':'integer'},{'minimum':0}]}", "-5", NULL },
		{ "{'oneOf':[{'type':'integer'},{'minimum':0}]}", "-5.5", "matches none of the oneOf alternatives" },
		{ "{'anyOf':[{'type':'integer'},{'minimum':0}]}", "5", NULL },
		{ "{'anyOf':[{'type':'integer'},{'minimum':0}]}", "-5.5", "matches none of the anyOf alternatives" },
		/* a recursive schema descends into the document, so it is fine */
		{ "{'type':'object','properties':{'children':{'type':'array','items':{'$ref':'#'}}},"
		  "'additionalProperties':false}",
		  "{'children':[{'children':[]},{'children':[{'x':1}]}]}", "at /children/1/children/0/x: property" },
		{ "{'$defs':{'a~b':{'type':'string'},'c/d':{'type':'integer'},'e f':{'const':1}},"
		  "'prefixItems':[{'$ref':'#/$defs/a~0b'},{'$ref':'#/$defs/c~1d'},{'$ref':'#/$defs/e%20f'}]}",
		  "['x',2,1]", NULL },
		{ "{'$defs':{'a~b':{'type':'string'}},'items':{'$ref':'#/$defs/a~0b'}}", "[1]", "at /0: expected string" },
		{ "{'$defs':{'never':false},'properties':{'x':{'$ref':'#/$defs/never'}}}", "{'x':1}", "at /x: no value" },
		{ "{'definitions':{'n':{'type':'null'}},'$ref':'#/definitions/n'}", "null", NULL },
	};
	RUN(cases);
}

/* Every keyword beyond the old subset: one case that passes, one that fails. */
static void test_keywords(void **state)
{
	(void)state;
	const struct vcase cases[] = {
		{ "{'allOf':[{'minimum':1},{'maximum':3}]}", "2", NULL },
		{ "{'allOf':[{'minimum':1},{'maximum':3}]}", "4", "4 is above the maximum 3" },
		{ "{'not':{'type':'string'}}", "1", NULL },
		{ "{'not':{'type':'string'}}", "'s'", "must not match the schema under not" },
		{ "{'if':{'properties':{'tls':{'const':true}}},'then':{'required':['cert']},'else':{'maxProperties':1}}",
		  "{'tls':true,'cert':'c'}", NULL },
		{ "{'if':{'properties':{'tls':{'const':true}}},'then':{'required':['cert']},'else':{'maxProperties':1}}",
		  "{'tls':true}", "required property \"cert\" is missing" },
		{ "{'if':{'properties':{'tls':{'const':true}}},'then':{'required':['cert']},'else':{'maxProperties':1}}",
		  "{'tls':false}", NULL },
		{ "{'if':{'properties':{'tls':{'const':true}}},'then':{'required':['cert']},'else':{'maxProperties':1}}",
		  "{'tls':false,'x':1}", "2 properties are more than maxProperties 1" },
		{ "{'const':{'a':[1,2]}}", "{'a':[1,2.0]}", NULL },
		{ "{'const':{'a':[1,2]}}", "{'a':[2,1]}", "is not the required value {\"a\":[1,2]} (const)" },
		{ "{'enum':[1,'x',null]}", "1.0", NULL },
		{ "{'enum':[1,'x',null]}", "false", "false is not one of the allowed values" },
		{ "{'exclusiveMinimum':0}", "0.5", NULL },
		{ "{'exclusiveMinimum':0}", "0", "0 is not above the exclusive minimum 0" },
		{ "{'exclusiveMaximum':10}", "9", NULL },
		{ "{'exclusiveMaximum':10}", "10", "10 is not below the exclusive maximum 10" },
		{ "{'multipleOf':5}", "15", NULL },
		{ "{'multipleOf':5}", "16", "16 is not a multiple of 5" },
		{ "{'multipleOf':0.1}", "0.3", NULL },
		{ "{'multipleOf':0.1}", "0.35", "is not a multiple of 0.1" },
		{ "{'prefixItems':[{'type':'string'},{'type':'integer'}],'items':false}", "['a',1]", NULL },
		{ "{'prefixItems':[{'type':'string'},{'type':'integer'}],'items':false}", "['a',1,2]",
		  "at /2: no value is allowed here" },
		{ "{'prefixItems':[{'type':'string'},{'type':'integer'}],'items':false}", "[1]", "at /0: expected string" },
		{ "{'uniqueItems':true}", "[1,'1',[1],{'a':1}]", NULL },
		{ "{'uniqueItems':true}", "[{'a':1,'b':2},{'b':2,'a':1.0}]", "items 0 and 1 are equal (uniqueItems)" },
		{ "{'contains':{'type':'string'}}", "[1,'a']", NULL },
		{ "{'contains':{'type':'string'}}", "[1,2]", "0 items match contains, fewer than 1" },
		{ "{'contains':{'type':'string'},'minContains':2,'maxContains':2}", "['a','b',1]", NULL },
		{ "{'contains':{'type':'string'},'minContains':2,'maxContains':2}", "['a','b','c']", "more than maxContains 2" },
		{ "{'minProperties':1}", "{'a':1}", NULL },
		{ "{'minProperties':1}", "{}", "0 properties are fewer than minProperties 1" },
		{ "{'patternProperties':{'^x-':{'type':'string'}},'additionalProperties':false}", "{'x-a':'s'}", NULL },
		{ "{'patternProperties':{'^x-':{'type':'string'}},'additionalProperties':false}", "{'x-a':1}",
		  "at /x-a: expected string" },
		{ "{'patternProperties':{'^x-':{'type':'string'}},'additionalProperties':false}", "{'y':'s'}",
		  "at /y: property \"y\" is not allowed" },
		{ "{'properties':{'a':true},'additionalProperties':{'type':'integer'}}", "{'a':'s','b':1}", NULL },
		{ "{'properties':{'a':true},'additionalProperties':{'type':'integer'}}", "{'b':'s'}",
		  "at /b: expected integer" },
		{ "{'propertyNames':{'pattern':'^[a-z_]+$'}}", "{'pool_size':1}", NULL },
		{ "{'propertyNames':{'pattern':'^[a-z_]+$'}}", "{'PoolSize':1}",
		  "at /PoolSize: \"PoolSize\" does not match the pattern ^[a-z_]+$ (property name)" },
		{ "{'dependentRequired':{'tls':['cert','key']}}", "{'tls':true,'cert':1,'key':2}", NULL },
		{ "{'dependentRequired':{'tls':['cert','key']}}", "{'tls':true,'cert':1}",
		  "property \"key\" is required when \"tls\" is present" },
		{ "{'dependentSchemas':{'tls':{'required':['cert']}}}", "{'x':1}", NULL },
		{ "{'dependentSchemas':{'tls':{'required':['cert']}}}", "{'tls':1}", "required property \"cert\"" },
		{ "{'pattern':'\\\\d+'}", "'a1'", NULL }, /* not anchored: a match anywhere */
		{ "{'pattern':'^\\\\u00e9$'}", "'\\u00e9'", NULL }, /* ECMA-262 \\u escapes */
		{ "{'pattern':'\\\\d+'}", "'ab'", "does not match the pattern" },
		{ "{'pattern':'\\\\d+'}", "12", NULL }, /* pattern only constrains strings */
	};
	RUN(cases);
}

static void test_formats(void **state)
{
	(void)state;
	static const struct {
		const char *format, *good, *bad;
	} f[] = {
		{ "date-time", "2026-12-05T19:00:00Z", "2026-12-05 19:00:00" },
		{ "date-time", "2026-12-05T19:00:00.123+01:00", "2026-13-05T19:00:00Z" },
		{ "date", "2024-02-29", "2026-02-29" },
		{ "time", "23:59:60Z", "24:00:00Z" },
		{ "duration", "P1Y2M3DT4H5M6S", "P1S" },
		{ "duration", "PT30S", "PT" },
		{ "duration", "P2W", "P1M2Y" },
		{ "email", "ops.team+oncall@example.com", "ops..team@example.com" },
		{ "email", "a@b", "@example.com" },
		{ "hostname", "db-1.internal.example.com", "-db.example.com" },
		{ "hostname", "localhost", "db_1.example.com" },
		{ "ipv4", "192.168.0.1", "192.168.0.256" },
		{ "ipv4", "0.0.0.0", "01.2.3.4" },
		{ "ipv6", "::1", "1::2::3" },
		{ "ipv6", "2001:db8::8a2e:370:7334", "192.168.0.1" },
		{ "uri", "https://example.com/a?b=c#d", "/relative/path" },
		{ "uri", "urn:isbn:0451450523", "https://exa mple.com" },
		{ "uuid", "123e4567-e89b-12d3-a456-426614174000", "123e4567e89b12d3a456426614174000" },
	};
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		json_t *schema = json_pack("{s:s}", "format", f[i].format);
		json_t *good = json_string(f[i].good), *bad = json_string(f[i].bad);
		struct jschema *js;
		struct buf err = BUF_INIT;
		assert_int_equal(jschema_compile(schema, &js, &err), 0);
		if (jschema_validate(js, good, &err))
			fail_msg("%s should be a valid %s: %s", f[i].good, f[i].format, err.data);
		if (jschema_validate(js, bad, &err) != OODA_EVALIDATE || !strstr(err.data, "(format)"))
			fail_msg("%s should not be a valid %s: '%s'", f[i].bad, f[i].format, err.data);
		/* a format only constrains strings */
		json_t *num = json_integer(1);
		assert_int_equal(jschema_validate(js, num, &err), 0);
		json_decref(num);
		buf_release(&err);
		jschema_destroy(js);
		json_decref(schema);
		json_decref(good);
		json_decref(bad);
	}
}

/* A schema the validator cannot honour is refused by name, never half-applied. */
static void test_refused(void **state)
{
	(void)state;
	static const struct {
		const char *schema;
		int code;
		const char *err;
	} cases[] = {
		{ "{'properties':{'db':{'unevaluatedProperties':false}}}", OODA_EREFUSED,
		  "unevaluatedProperties at /properties/db is not supported" },
		{ "{'unevaluatedItems':false}", OODA_EREFUSED, "unevaluatedItems at / is not supported" },
		{ "{'$defs':{'a':{'$dynamicRef':'#meta'}}}", OODA_EREFUSED, "$dynamicRef at /$defs/a is not supported" },
		{ "{'$anchor':'a'}", OODA_EREFUSED, "$anchor at / is not supported" },
		{ "{'dependencies':{'a':['b']}}", OODA_EREFUSED, "dependencies at / is not supported; use dependentRequired" },
		{ "{'additionalItems':false}", OODA_EREFUSED, "additionalItems at / is not supported" },
		{ "{'items':[{'type':'string'}]}", OODA_EREFUSED, "use prefixItems" },
		{ "{'properties':{'port':{'maximun':10}}}", OODA_EREFUSED, "maximun at /properties/port is not supported" },
		{ "{'anyOf':[{'type':'string'},{'minLenght':1}]}", OODA_EREFUSED, "minLenght at /anyOf/1 is not supported" },
		{ "{'$ref':'https://example.com/schema.json'}", OODA_EREFUSED, "never remote ones" },
		{ "{'$ref':'other.json#/a'}", OODA_EREFUSED, "never remote ones" },
		{ "{'$ref':'#anchor'}", OODA_EREFUSED, "anchors are not" },
		{ "{'properties':{'a':{'$id':'https://x/a'}}}", OODA_EREFUSED, "$id at /properties/a is not supported" },
		{ "{'format':'phone'}", OODA_EREFUSED, "format \"phone\" at / is not supported; asserted formats are" },
		/* loops that never reach into the document */
		{ "{'$ref':'#'}", OODA_EREFUSED, "refers back to itself" },
		{ "{'$defs':{'a':{'$ref':'#/$defs/b'},'b':{'allOf':[{'$ref':'#/$defs/a'}]}},'$ref':'#/$defs/a'}",
		  OODA_EREFUSED, "refers back to itself" },
		{ "{'not':{'anyOf':[{'$ref':'#'}]}}", OODA_EREFUSED, "refers back to itself" },
		/* malformed */
		{ "{'$ref':'#/$defs/missing'}", OODA_EINVAL, "$ref \"#/$defs/missing\" at / points at nothing" },
		{ "{'$defs':{'a':{'enum':[1]}},'$ref':'#/$defs/a/enum'}", OODA_EINVAL, "does not point at a schema" },
		{ "{'$defs':{'a':true},'$ref':'#/$defs/~~~0000~~~g'}", OODA_EINVAL, "points at nothing" }, /* bad escapes */
		{ "{'$defs':{'a':true},'$ref':'#/$defs/a%'}", OODA_EINVAL, "points at nothing" },
		{ "{'minimum':'1'}", OODA_EINVAL, "minimum at / must be a number" },
		{ "{'properties':{'a':{'minLength':-1}}}", OODA_EINVAL, "minLength at /properties/a must be a non-negative" },
		{ "{'multipleOf':0}", OODA_EINVAL, "multipleOf at / must be a number above 0" },
		{ "{'type':'text'}", OODA_EINVAL, "type at / must be one of" },
		{ "{'required':'a'}", OODA_EINVAL, "required at / must be an array of strings" },
		{ "{'oneOf':[]}", OODA_EINVAL, "oneOf at / must be a non-empty array" },
		{ "{'properties':{'a':1}}", OODA_EINVAL, "the schema at /properties/a must be an object or true/false" },
		{ "{'pattern':'(['}", OODA_EINVAL, "pattern \"([\" at / is not a valid regular expression" },
		{ "{'patternProperties':{'(':true}}", OODA_EINVAL, "patternProperties \"(\" at / is not a valid" },
		{ "[]", OODA_EINVAL, "a JSON schema is an object" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *schema = j(cases[i].schema);
		struct jschema *js = (struct jschema *)1;
		struct buf err = BUF_INIT;
		int rc = jschema_compile(schema, &js, &err);
		if (rc != cases[i].code || !strstr(err.data, cases[i].err))
			fail_msg("%s: want %d '%s', got %d '%s'", cases[i].schema, cases[i].code, cases[i].err, rc,
				 err.data);
		assert_null(js);
		buf_release(&err);
		json_decref(schema);
	}
}

/* Hostile sizes end with an error, not a crash or a hang. */
static void test_bounds(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	struct jschema *js;

	/* 100 levels of nesting in the schema */
	struct buf deep = BUF_INIT;
	for (int i = 0; i < 100; i++)
		buf_adds(&deep, "{\"not\":");
	buf_adds(&deep, "{}");
	for (int i = 0; i < 100; i++)
		buf_addch(&deep, '}');
	json_t *schema = json_loads(deep.data, 0, NULL);
	assert_int_equal(jschema_compile(schema, &js, &err), OODA_ELIMIT);
	assert_non_null(strstr(err.data, "nested deeper than 64 levels"));
	json_decref(schema);
	buf_release(&deep);

	/* too many subschemas */
	schema = json_object();
	json_t *props = json_object();
	for (int i = 0; i < 6000; i++) {
		char k[16];
		snprintf(k, sizeof(k), "p%d", i);
		json_object_set_new(props, k, json_object());
	}
	json_object_set_new(schema, "properties", props);
	buf_reset(&err);
	assert_int_equal(jschema_compile(schema, &js, &err), OODA_ELIMIT);
	assert_non_null(strstr(err.data, "more than 5000 subschemas"));
	json_decref(schema);

	/* exponential work: each level tries the next one twice, 2^30 in all */
	struct buf defs = BUF_INIT;
	buf_adds(&defs, "{\"$defs\":{");
	for (int i = 0; i < 30; i++)
		buf_addf(&defs, "\"d%d\":{\"anyOf\":[{\"allOf\":[{\"$ref\":\"#/$defs/d%d\"},false]},{\"$ref\":\"#/$defs/d%d\"}]},", i,
			 i + 1, i + 1);
	buf_adds(&defs, "\"d30\":{\"type\":\"string\"}},\"$ref\":\"#/$defs/d0\"}");
	schema = json_loads(defs.data, 0, NULL);
	assert_non_null(schema);
	buf_reset(&err);
	assert_int_equal(jschema_compile(schema, &js, &err), 0);
	json_t *doc = json_integer(1);
	assert_int_equal(jschema_validate(js, doc, &err), OODA_ELIMIT);
	assert_non_null(strstr(err.data, "needs more than"));
	json_decref(doc);
	jschema_destroy(js);
	json_decref(schema);
	buf_release(&defs);

	/* a recursive schema and a document nested 1000 deep */
	schema = j("{'type':'array','items':{'$ref':'#'}}");
	struct buf nest = BUF_INIT;
	for (int i = 0; i < 1000; i++)
		buf_addch(&nest, '[');
	for (int i = 0; i < 1000; i++)
		buf_addch(&nest, ']');
	doc = json_loads(nest.data, 0, NULL);
	buf_reset(&err);
	assert_int_equal(jschema_compile(schema, &js, &err), 0);
	assert_int_equal(jschema_validate(js, doc, &err), OODA_ELIMIT);
	assert_non_null(strstr(err.data, "nested deeper"));
	jschema_destroy(js);
	json_decref(doc);
	json_decref(schema);
	buf_release(&nest);

	/* catastrophic backtracking stops at the match limit */
	schema = j("{'pattern':'^(a+)+$'}");
	char s[64];
	memset(s, 'a', 40);
	s[40] = 'b';
	s[41] = 0;
	doc = json_string(s);
	buf_reset(&err);
	assert_int_equal(jschema_compile(schema, &js, &err), 0);
	assert_int_equal(jschema_validate(js, doc, &err), OODA_ELIMIT);
	assert_non_null(strstr(err.data, "could not be matched within its limits"));
	jschema_destroy(js);
	json_decref(doc);
	json_decref(schema);

	/* pattern matches count against the budget: 5,000 pass, 20,000 stop */
	schema = j("{'items':{'pattern':'^[a-z]+$'}}");
	buf_reset(&err);
	assert_int_equal(jschema_compile(schema, &js, &err), 0);
	for (int n = 5000; n <= 20000; n += 15000) {
		doc = json_array();
		for (int i = 0; i < n; i++)
			json_array_append_new(doc, json_string("abc"));
		assert_int_equal(jschema_validate(js, doc, &err), n == 5000 ? 0 : OODA_ELIMIT);
		json_decref(doc);
	}
	assert_non_null(strstr(err.data, "needs more than"));
	jschema_destroy(js);
	json_decref(schema);

	/* the compiled schema is a copy: the caller may free its JSON */
	schema = j("{'properties':{'a':{'pattern':'^x'}}}");
	buf_reset(&err);
	assert_int_equal(jschema_compile(schema, &js, &err), 0);
	json_decref(schema);
	doc = j("{'a':'y'}");
	assert_int_equal(jschema_validate(js, doc, &err), OODA_EVALIDATE);
	json_decref(doc);
	jschema_destroy(js);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basics),   cmocka_unit_test(test_oneof_ref), cmocka_unit_test(test_keywords),
		cmocka_unit_test(test_formats),  cmocka_unit_test(test_refused),   cmocka_unit_test(test_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
