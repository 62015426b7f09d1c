/*
 * JSON Schema validation for config sets (see jschema.h). Compiling walks the
 * schema once: each keyword is looked up in the keyword table and its value's
 * shape checked, each subschema is registered with its JSON pointer, each
 * pattern is compiled, each `$ref` is resolved to a registered subschema, and
 * the applicators that stay on the same instance ($ref, allOf, anyOf, oneOf,
 * not, if/then/else, dependentSchemas) are searched for loops. Validating
 * then walks schema and document together. The work is bounded everywhere:
 * subschema count and nesting at compile, nesting, a step budget and PCRE2
 * match limits at validation, so neither a hostile schema nor a hostile
 * document can hang the daemon or exhaust its stack.
 */
#include "change/jschema_impl.h"
#include "core/error.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <math.h>
#include <pcre2.h>
#include <stdint.h>

#define MAX_NODES 5000      /* subschemas in one schema */
#define MAX_DEPTH 64        /* nesting of subschemas in the schema document */
#define MAX_CHAIN 128       /* in-place applicators followed in the loop search */
#define MAX_RUN_DEPTH 256   /* subschemas entered at once while validating */
#define MAX_STEPS 1000000   /* subschema visits and value comparisons per validation */
#define MATCH_LIMIT 100000  /* PCRE2 backtracking steps per match */
#define MATCH_COST 100      /* steps of the budget one pattern match is charged */
#define SHOW 60             /* bytes of a document value quoted in an error */

/* ---- the compiled form ---------------------------------------------------- */

enum entry_kind { E_NODE, E_RE, E_REF };

/* One thing compile found, keyed by the address of its JSON in root. */
struct entry {
	const void *key;      /* E_NODE: the subschema; E_RE: pattern string or patternProperties key; E_REF: the $ref string */
	enum entry_kind kind;
	char *ptr;            /* JSON pointer of the subschema (E_REF: of the one holding the $ref) */
	int color;            /* E_NODE, loop search: 0 unseen, 1 on the current path, 2 done */
	pcre2_code *re;       /* E_RE */
	const json_t *target; /* E_REF: the subschema it resolves to */
};

struct jschema {
	json_t *root; /* our own deep copy; every key above points into it */
	struct entry *tab;
	size_t n, cap;
	pcre2_match_context *mctx;
};

static struct entry *table_add(struct jschema *js, const void *key, enum entry_kind kind)
{
	if (js->n == js->cap) {
		js->cap = js->cap ? 2 * js->cap : 64;
		js->tab = xrealloc(js->tab, js->cap * sizeof(*js->tab));
	}
	struct entry *e = &js->tab[js->n++];
	*e = (struct entry){ .key = key, .kind = kind };
	return e;
}

static int entry_cmp(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)((const struct entry *)a)->key, y = (uintptr_t)((const struct entry *)b)->key;
	return x < y ? -1 : x > y;
}

static const struct entry *table_find(const struct jschema *js, const void *key)
{
	struct entry k = { .key = key };
	return bsearch(&k, js->tab, js->n, sizeof(k), entry_cmp);
}

static void entry_release(struct entry *e)
{
	free(e->ptr);
	pcre2_code_free(e->re);
}

void jschema_destroy(struct jschema *js)
{
	if (!js)
		return;
	for (size_t i = 0; i < js->n; i++)
		entry_release(&js->tab[i]);
	free(js->tab);
	pcre2_match_context_free(js->mctx);
	json_decref(js->root);
	free(js);
}

/* Appends "/" and tok escaped as a JSON pointer token (~ is ~0, / is ~1). */
static void ptr_push(struct buf *p, const char *tok, size_t len)
{
	buf_addch(p, '/');
	for (size_t i = 0; i < len; i++) {
		if (tok[i] == '~')
			buf_adds(p, "~0");
		else if (tok[i] == '/')
			buf_adds(p, "~1");
		else
			buf_addch(p, tok[i]);
	}
}

static void ptr_push_index(struct buf *p, size_t i)
{
	buf_addf(p, "/%zu", i);
}

static const char *ptr_show(const struct buf *p)
{
	return p->len ? p->data : "/";
}

/* ---- types, values, numbers ------------------------------------------------ */

static const char *const type_names[] = { "object", "array", "string", "number", "integer", "boolean", "null" };

static bool type_known(const char *t)
{
	for (size_t i = 0; i < COUNT(type_names); i++)
		if (!strcmp(t, type_names[i]))
			return true;
	return false;
}

static bool type_is(const json_t *v, const char *t)
{
	if (!strcmp(t, "object"))
		return json_is_object(v);
	if (!strcmp(t, "array"))
		return json_is_array(v);
	if (!strcmp(t, "string"))
		return json_is_string(v);
	if (!strcmp(t, "boolean"))
		return json_is_boolean(v);
	if (!strcmp(t, "null"))
		return json_is_null(v);
	if (!strcmp(t, "number"))
		return json_is_number(v);
	if (!strcmp(t, "integer"))
		return json_is_integer(v) ||
		       (json_is_real(v) && isfinite(json_real_value(v)) && floor(json_real_value(v)) == json_real_value(v));
	return false;
}

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "object";
	case JSON_ARRAY: return "array";
	case JSON_STRING: return "string";
	case JSON_INTEGER: return "integer";
	case JSON_REAL: return "number";
	case JSON_TRUE:
	case JSON_FALSE: return "boolean";
	default: return "null";
	}
}

/* A number as a user wrote it: integers exactly, others to 15 digits. */
static const char *num_show(const json_t *v, char out[40])
{
	if (json_is_integer(v))
		snprintf(out, 40, "%lld", (long long)json_integer_value(v));
	else
		snprintf(out, 40, "%.15g", json_number_value(v));
	return out;
}

/* <0, 0, >0 like strcmp; integers are compared exactly. */
static int num_cmp(const json_t *a, const json_t *b)
{
	if (json_is_integer(a) && json_is_integer(b)) {
		json_int_t x = json_integer_value(a), y = json_integer_value(b);
		return x < y ? -1 : x > y;
	}
	double x = json_number_value(a), y = json_number_value(b);
	return x < y ? -1 : x > y;
}

static size_t utf8_len(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			n++;
	return n;
}

/* ---- the keyword table ----------------------------------------------------- */

/* What shape a keyword's value has, which is what compile checks. */
enum kw_kind {
	KW_ANNOTATION,  /* accepted and ignored */
	KW_ID,          /* $id: the root only, since it would change how $ref resolves below */
	KW_ANY,         /* const: any JSON value */
	KW_TYPE,        /* a type name or an array of them */
	KW_ARRAY,       /* enum */
	KW_NUMBER,      /* minimum, ... */
	KW_POSITIVE,    /* multipleOf */
	KW_COUNT,       /* minLength, ...: a non-negative integer */
	KW_BOOL,        /* uniqueItems */
	KW_PATTERN,     /* a regular expression */
	KW_FORMAT,      /* a name from the format table */
	KW_SCHEMA,      /* a subschema */
	KW_ITEMS,       /* a subschema (the draft-07 array form is refused) */
	KW_SCHEMA_MAP,  /* an object of subschemas */
	KW_PATTERN_MAP, /* an object of subschemas keyed by regular expressions */
	KW_SCHEMA_LIST, /* a non-empty array of subschemas */
	KW_STRINGS,     /* an array of strings */
	KW_DEP_REQUIRED,/* an object of arrays of strings */
	KW_REF,         /* a reference inside this schema */
	KW_UNSUPPORTED, /* a real keyword this validator refuses rather than ignores */
};

static const struct keyword {
	const char *name;
	enum kw_kind kind;
	const char *instead; /* KW_UNSUPPORTED: what to write instead, if anything */
} keywords[] = {
	{ "$schema", KW_ANNOTATION }, { "$id", KW_ID }, { "$comment", KW_ANNOTATION },
	{ "title", KW_ANNOTATION }, { "description", KW_ANNOTATION }, { "default", KW_ANNOTATION },
	{ "examples", KW_ANNOTATION }, { "deprecated", KW_ANNOTATION }, { "readOnly", KW_ANNOTATION },
	{ "writeOnly", KW_ANNOTATION }, { "contentEncoding", KW_ANNOTATION },
	{ "contentMediaType", KW_ANNOTATION }, { "contentSchema", KW_ANNOTATION },

	{ "type", KW_TYPE }, { "enum", KW_ARRAY }, { "const", KW_ANY },
	{ "minimum", KW_NUMBER }, { "maximum", KW_NUMBER }, { "exclusiveMinimum", KW_NUMBER },
	{ "exclusiveMaximum", KW_NUMBER }, { "multipleOf", KW_POSITIVE },
	{ "minLength", KW_COUNT }, { "maxLength", KW_COUNT }, { "pattern", KW_PATTERN }, { "format", KW_FORMAT },
	{ "minItems", KW_COUNT }, { "maxItems", KW_COUNT }, { "uniqueItems", KW_BOOL },
	{ "prefixItems", KW_SCHEMA_LIST }, { "items", KW_ITEMS }, { "contains", KW_SCHEMA },
	{ "minContains", KW_COUNT }, { "maxContains", KW_COUNT },
	{ "minProperties", KW_COUNT }, { "maxProperties", KW_COUNT }, { "required", KW_STRINGS },
	{ "properties", KW_SCHEMA_MAP }, { "patternProperties", KW_PATTERN_MAP },
	{ "additionalProperties", KW_SCHEMA }, { "propertyNames", KW_SCHEMA },
	{ "dependentRequired", KW_DEP_REQUIRED }, { "dependentSchemas", KW_SCHEMA_MAP },
	{ "allOf", KW_SCHEMA_LIST }, { "anyOf", KW_SCHEMA_LIST }, { "oneOf", KW_SCHEMA_LIST },
	{ "not", KW_SCHEMA }, { "if", KW_SCHEMA }, { "then", KW_SCHEMA }, { "else", KW_SCHEMA },
	{ "$ref", KW_REF }, { "$defs", KW_SCHEMA_MAP }, { "definitions", KW_SCHEMA_MAP },

	{ "unevaluatedProperties", KW_UNSUPPORTED, "additionalProperties" },
	{ "unevaluatedItems", KW_UNSUPPORTED, "items" },
	{ "$dynamicRef", KW_UNSUPPORTED, "$ref" }, { "$dynamicAnchor", KW_UNSUPPORTED, NULL },
	{ "$recursiveRef", KW_UNSUPPORTED, "$ref" }, { "$recursiveAnchor", KW_UNSUPPORTED, NULL },
	{ "$anchor", KW_UNSUPPORTED, "$ref to #/$defs/..." }, { "$vocabulary", KW_UNSUPPORTED, NULL },
	{ "dependencies", KW_UNSUPPORTED, "dependentRequired or dependentSchemas" },
	{ "additionalItems", KW_UNSUPPORTED, "items with prefixItems" },
};

static const struct keyword *keyword_find(const char *name)
{
	for (size_t i = 0; i < COUNT(keywords); i++)
		if (!strcmp(keywords[i].name, name))
			return &keywords[i];
	return NULL;
}

/* ---- compile ---------------------------------------------------------------- */

struct compiler {
	struct jschema *js;
	struct buf ptr; /* JSON pointer of the subschema being compiled */
	int depth;
	size_t nodes;
	struct buf *err;
};

static int cfail(struct compiler *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int cfail(struct compiler *c, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	buf_vaddf(c->err, fmt, ap);
	va_end(ap);
	return code;
}

static int compile_schema(struct compiler *c, const json_t *s);

static int compile_re(struct compiler *c, const char *kw, const void *key, const char *src, size_t len)
{
	int ec;
	PCRE2_SIZE off;
	/* ECMA-262 reading: $ only at the very end, \uHHHH escapes */
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)src, len, PCRE2_UTF | PCRE2_ALT_BSUX | PCRE2_DOLLAR_ENDONLY, &ec,
				       &off, NULL);
	if (!re) {
		PCRE2_UCHAR msg[160];
		pcre2_get_error_message(ec, msg, sizeof(msg));
		return cfail(c, OODA_EINVAL, "%s \"%.*s\" at %s is not a valid regular expression: %s (at offset %zu)", kw,
			     (int)(len > SHOW ? SHOW : len), src, ptr_show(&c->ptr), (const char *)msg, (size_t)off);
	}
	table_add(c->js, key, E_RE)->re = re;
	return 0;
}

/* Compiles s under the pointer token(s) kw[/tok]. */
static int compile_sub(struct compiler *c, const char *kw, const char *tok, size_t toklen, const json_t *s)
{
	size_t mark = c->ptr.len;
	ptr_push(&c->ptr, kw, strlen(kw));
	if (tok)
		ptr_push(&c->ptr, tok, toklen);
	int rc = compile_schema(c, s);
	buf_setlen(&c->ptr, mark);
	return rc;
}

static bool all_strings(const json_t *a)
{
	size_t i;
	json_t *x;
	if (!json_is_array(a))
		return false;
	json_array_foreach(a, i, x)
		if (!json_is_string(x))
			return false;
	return true;
}

static int compile_keyword(struct compiler *c, const char *k, const json_t *v)
{
	const struct keyword *kw = keyword_find(k);
	const char *at = ptr_show(&c->ptr);
	size_t i;
	json_t *x;
	const char *key;
	int rc = 0;
	if (!kw) {
		if (!strncmp(k, "x-", 2))
			return 0;
		return cfail(c, OODA_EREFUSED,
			     "%.*s at %s is not supported: it is not a JSON Schema 2020-12 keyword this validator knows "
			     "(extensions are named x-...)",
			     SHOW, k, at);
	}
	switch (kw->kind) {
	case KW_ANNOTATION:
	case KW_ANY:
		return 0;
	case KW_UNSUPPORTED:
		return cfail(c, OODA_EREFUSED, "%s at %s is not supported%s%s", k, at, kw->instead ? "; use " : "",
			     kw->instead ? kw->instead : "");
	case KW_ID:
		if (c->ptr.len)
			return cfail(c, OODA_EREFUSED, "$id at %s is not supported below the root of the schema", at);
		return json_is_string(v) ? 0 : cfail(c, OODA_EINVAL, "$id at %s must be a string", at);
	case KW_TYPE:
		if (json_is_string(v) && type_known(json_string_value(v)))
			return 0;
		if (json_is_array(v) && json_array_size(v) > 0) {
			json_array_foreach(v, i, x)
				if (!json_is_string(x) || !type_known(json_string_value(x)))
					break;
			if (i == json_array_size(v))
				return 0;
		}
		return cfail(c, OODA_EINVAL,
			     "type at %s must be one of object, array, string, number, integer, boolean, null, or an "
			     "array of them",
			     at);
	case KW_ARRAY:
		return json_is_array(v) ? 0 : cfail(c, OODA_EINVAL, "%s at %s must be an array", k, at);
	case KW_NUMBER:
		return json_is_number(v) ? 0 : cfail(c, OODA_EINVAL, "%s at %s must be a number", k, at);
	case KW_POSITIVE:
		return json_is_number(v) && json_number_value(v) > 0
			       ? 0
			       : cfail(c, OODA_EINVAL, "%s at %s must be a number above 0", k, at);
	case KW_COUNT:
		return json_is_integer(v) && json_integer_value(v) >= 0
			       ? 0
			       : cfail(c, OODA_EINVAL, "%s at %s must be a non-negative integer", k, at);
	case KW_BOOL:
		return json_is_boolean(v) ? 0 : cfail(c, OODA_EINVAL, "%s at %s must be true or false", k, at);
	case KW_PATTERN:
		if (!json_is_string(v))
			return cfail(c, OODA_EINVAL, "%s at %s must be a string", k, at);
		return compile_re(c, k, v, json_string_value(v), json_string_length(v));
	case KW_FORMAT:
		if (!json_is_string(v))
			return cfail(c, OODA_EINVAL, "format at %s must be a string", at);
		if (jschema_format_find(json_string_value(v)))
			return 0;
		rc = cfail(c, OODA_EREFUSED, "format \"%.*s\" at %s is not supported; asserted formats are", SHOW,
			   json_string_value(v), at);
		jschema_format_names(c->err);
		return rc;
	case KW_SCHEMA:
		return compile_sub(c, k, NULL, 0, v);
	case KW_ITEMS:
		if (json_is_array(v))
			return cfail(c, OODA_EREFUSED,
				     "items at %s is an array (the draft-07 tuple form), which is not supported; use "
				     "prefixItems",
				     at);
		return compile_sub(c, k, NULL, 0, v);
	case KW_SCHEMA_MAP:
	case KW_PATTERN_MAP:
		if (!json_is_object(v))
			return cfail(c, OODA_EINVAL, "%s at %s must be an object of schemas", k, at);
		json_object_foreach((json_t *)v, key, x) {
			size_t klen = strlen(key);
			if (kw->kind == KW_PATTERN_MAP && (rc = compile_re(c, k, key, key, klen)))
				return rc;
			if ((rc = compile_sub(c, k, key, klen, x)))
				return rc;
		}
		return 0;
	case KW_SCHEMA_LIST:
		if (!json_is_array(v) || json_array_size(v) == 0)
			return cfail(c, OODA_EINVAL, "%s at %s must be a non-empty array of schemas", k, at);
		json_array_foreach(v, i, x) {
			char idx[24];
			int len = snprintf(idx, sizeof(idx), "%zu", i);
			if ((rc = compile_sub(c, k, idx, (size_t)len, x)))
				return rc;
		}
		return 0;
	case KW_STRINGS:
		return all_strings(v) ? 0 : cfail(c, OODA_EINVAL, "%s at %s must be an array of strings", k, at);
	case KW_DEP_REQUIRED:
		if (!json_is_object(v))
			return cfail(c, OODA_EINVAL, "%s at %s must be an object of arrays of strings", k, at);
		json_object_foreach((json_t *)v, key, x)
			if (!all_strings(x))
				return cfail(c, OODA_EINVAL, "%s at %s must be an object of arrays of strings", k, at);
		return 0;
	case KW_REF:
		if (!json_is_string(v))
			return cfail(c, OODA_EINVAL, "$ref at %s must be a string", at);
		key = json_string_value(v);
		if (key[0] != '#')
			return cfail(c, OODA_EREFUSED,
				     "$ref \"%.*s\" at %s is not supported: only references inside the same schema "
				     "(\"#\", \"#/$defs/name\") are, never remote ones",
				     SHOW, key, at);
		if (key[1] && key[1] != '/')
			return cfail(c, OODA_EREFUSED,
				     "$ref \"%.*s\" at %s is not supported: anchors are not; use a JSON pointer such as "
				     "\"#/$defs/name\"",
				     SHOW, key, at);
		table_add(c->js, v, E_REF)->ptr = xstrdup(c->ptr.data);
		return 0;
	}
	return 0;
}

static int compile_schema(struct compiler *c, const json_t *s)
{
	if (!json_is_object(s) && !json_is_boolean(s))
		return cfail(c, OODA_EINVAL, "the schema at %s must be an object or true/false, not %s",
			     ptr_show(&c->ptr), type_name(s));
	if (++c->nodes > MAX_NODES)
		return cfail(c, OODA_ELIMIT, "the schema has more than %d subschemas", MAX_NODES);
	if (c->depth >= MAX_DEPTH)
		return cfail(c, OODA_ELIMIT, "the schema at %s is nested deeper than %d levels", ptr_show(&c->ptr),
			     MAX_DEPTH);
	table_add(c->js, s, E_NODE)->ptr = xstrdup(c->ptr.data);
	const char *k;
	json_t *v;
	int rc = 0;
	c->depth++;
	if (json_is_object(s))
		json_object_foreach((json_t *)s, k, v)
			if ((rc = compile_keyword(c, k, v)))
				break;
	c->depth--;
	return rc;
}

/* Decodes %HH in a URI fragment; false on a bad escape. out has room for len+1. */
static bool fragment_decode(const char *in, size_t len, char *out, size_t *outlen)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		if (in[i] != '%') {
			out[o++] = in[i];
			continue;
		}
		if (i + 2 >= len || !is_hex(in[i + 1]) || !is_hex(in[i + 2]))
			return false;
		char hex[3] = { in[i + 1], in[i + 2], 0 };
		out[o++] = (char)strtol(hex, NULL, 16);
		i += 2;
	}
	out[o] = 0;
	*outlen = o;
	return true;
}

/* The value the JSON pointer p (already fragment-decoded) names in root, or NULL. */
static const json_t *pointer_get(const json_t *root, const char *p, size_t len)
{
	const json_t *cur = root;
	size_t i = 0;
	char *tok = xmalloc(len + 1);
	while (cur && i < len) {
		size_t t = 0;
		bool bad = false; /* a ~ not followed by 0 or 1 matches nothing */
		for (i++; i < len && p[i] != '/'; i++) {
			if (p[i] == '~' && i + 1 < len && (p[i + 1] == '0' || p[i + 1] == '1'))
				tok[t++] = p[++i] == '0' ? '~' : '/';
			else if (p[i] == '~')
				bad = true;
			else
				tok[t++] = p[i];
		}
		if (bad) {
			cur = NULL;
		} else if (json_is_object(cur)) {
			cur = json_object_getn(cur, tok, t);
		} else if (json_is_array(cur)) {
			size_t idx = 0, d;
			for (d = 0; d < t && is_digit(tok[d]) && idx < json_array_size(cur); d++)
				idx = idx * 10 + (size_t)(tok[d] - '0');
			bool ok = t > 0 && d == t && !(t > 1 && tok[0] == '0');
			cur = ok ? json_array_get(cur, idx) : NULL;
		} else {
			cur = NULL;
		}
	}
	free(tok);
	return cur;
}

static int resolve_refs(struct compiler *c)
{
	struct jschema *js = c->js;
	for (size_t i = 0; i < js->n; i++) {
		struct entry *e = &js->tab[i];
		if (e->kind != E_REF)
			continue;
		const char *ref = json_string_value(e->key);
		size_t len = json_string_length(e->key) - 1, plen;
		char *p = xmalloc(len + 1);
		const json_t *t = NULL;
		if (fragment_decode(ref + 1, len, p, &plen))
			t = pointer_get(js->root, p, plen);
		free(p);
		const struct entry *te = t ? table_find(js, t) : NULL;
		if (!te || te->kind != E_NODE)
			return cfail(c, OODA_EINVAL, "$ref \"%.*s\" at %s %s", SHOW, ref, e->ptr[0] ? e->ptr : "/",
				     t ? "does not point at a schema" : "points at nothing in this schema");
		e->target = t;
	}
	return 0;
}

/* Depth-first search of the applicators that stay on the same document value. */
static int loop_visit(struct compiler *c, struct entry *e, int depth)
{
	static const char *const single[] = { "not", "if", "then", "else" };
	static const char *const lists[] = { "allOf", "anyOf", "oneOf" };
	if (e->color == 2)
		return 0;
	if (e->color == 1)
		return cfail(c, OODA_EREFUSED,
			     "the schema at %s refers back to itself ($ref, allOf, anyOf, oneOf, not, if/then/else) "
			     "without descending into the document, so it could never finish",
			     e->ptr[0] ? e->ptr : "/");
	if (depth > MAX_CHAIN)
		return cfail(c, OODA_ELIMIT, "the schema at %s chains more than %d $ref and combinators",
			     e->ptr[0] ? e->ptr : "/", MAX_CHAIN);
	e->color = 1;
	const json_t *s = e->key, *next[8];
	size_t n = 0;
	int rc = 0;
	const struct entry *r = table_find(c->js, json_object_get(s, "$ref"));
	if (r)
		next[n++] = r->target;
	for (size_t i = 0; i < COUNT(single); i++)
		if (json_object_get(s, single[i]))
			next[n++] = json_object_get(s, single[i]);
	for (size_t l = 0; l <= COUNT(lists) && !rc; l++) {
		const json_t *many = l < COUNT(lists) ? json_object_get(s, lists[l]) : NULL;
		size_t i;
		const char *k;
		json_t *x;
		if (l == COUNT(lists)) {
			many = json_object_get(s, "dependentSchemas");
			json_object_foreach((json_t *)many, k, x)
				if (!rc)
					rc = loop_visit(c, (struct entry *)table_find(c->js, x), depth + 1);
		} else {
			json_array_foreach(many, i, x)
				if (!rc)
					rc = loop_visit(c, (struct entry *)table_find(c->js, x), depth + 1);
		}
	}
	for (size_t i = 0; i < n && !rc; i++)
		rc = loop_visit(c, (struct entry *)table_find(c->js, next[i]), depth + 1);
	e->color = 2;
	return rc;
}

int jschema_compile(const json_t *schema, struct jschema **out, struct buf *err)
{
	*out = NULL;
	if (!json_is_object(schema) && !json_is_boolean(schema)) {
		buf_adds(err, "a JSON schema is an object (or true/false)");
		return OODA_EINVAL;
	}
	struct jschema *js = xcalloc(1, sizeof(*js));
	js->root = json_deep_copy(schema);
	js->mctx = pcre2_match_context_create(NULL);
	if (!js->root || !js->mctx)
		abort();
	pcre2_set_match_limit(js->mctx, MATCH_LIMIT);
	pcre2_set_depth_limit(js->mctx, 10000);
	struct compiler c = { .js = js, .ptr = BUF_INIT, .err = err };
	int rc = compile_schema(&c, js->root);
	if (!rc) {
		qsort(js->tab, js->n, sizeof(*js->tab), entry_cmp);
		/* true and false are shared by jansson: keep one entry per address */
		size_t w = 0;
		for (size_t i = 0; i < js->n; i++) {
			if (w && js->tab[w - 1].key == js->tab[i].key)
				entry_release(&js->tab[i]);
			else
				js->tab[w++] = js->tab[i];
		}
		js->n = w;
		rc = resolve_refs(&c);
	}
	for (size_t i = 0; i < js->n && !rc; i++)
		if (js->tab[i].kind == E_NODE && json_is_object((const json_t *)js->tab[i].key))
			rc = loop_visit(&c, &js->tab[i], 0);
	buf_release(&c.ptr);
	if (rc) {
		jschema_destroy(js);
		return rc;
	}
	*out = js;
	return 0;
}

/* ---- validate --------------------------------------------------------------- */

struct run {
	const struct jschema *js;
	struct buf path; /* JSON pointer of the document value being checked */
	size_t steps;
	int depth;
};

static int vfail(struct run *r, struct buf *err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int vfail(struct run *r, struct buf *err, const char *fmt, ...)
{
	va_list ap;
	buf_addf(err, "at %s: ", ptr_show(&r->path));
	va_start(ap, fmt);
	buf_vaddf(err, fmt, ap);
	va_end(ap);
	return OODA_EVALIDATE;
}

static int over_budget(struct run *r, struct buf *err)
{
	buf_addf(err, "at %s: checking this document against the schema needs more than %d steps", ptr_show(&r->path),
		 MAX_STEPS);
	return OODA_ELIMIT;
}

/* Appends v as compact JSON, cut at SHOW bytes. */
static void value_add(struct buf *b, const json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!s)
		return;
	size_t n = strlen(s);
	buf_add(b, s, n > SHOW ? SHOW : n);
	if (n > SHOW)
		buf_adds(b, "...");
	free(s);
}

/* JSON Schema equality: 1 equals 1.0, objects ignore key order. Counts steps. */
static bool equal(struct run *r, const json_t *a, const json_t *b)
{
	if (++r->steps > MAX_STEPS)
		return false;
	if (json_is_number(a) && json_is_number(b))
		return num_cmp(a, b) == 0;
	if (json_typeof(a) != json_typeof(b))
		return false;
	size_t i;
	const char *k;
	json_t *x;
	switch (json_typeof(a)) {
	case JSON_STRING:
		return json_string_length(a) == json_string_length(b) &&
		       !memcmp(json_string_value(a), json_string_value(b), json_string_length(a));
	case JSON_ARRAY:
		if (json_array_size(a) != json_array_size(b))
			return false;
		json_array_foreach(a, i, x)
			if (!equal(r, x, json_array_get(b, i)))
				return false;
		return true;
	case JSON_OBJECT:
		if (json_object_size(a) != json_object_size(b))
			return false;
		json_object_foreach((json_t *)a, k, x) {
			const json_t *y = json_object_get(b, k);
			if (!y || !equal(r, x, y))
				return false;
		}
		return true;
	default:
		return true;
	}
}

static int check(struct run *r, const json_t *s, const json_t *v, struct buf *err);

/* 1 if the pattern compiled under key matches s, 0 if not, -1 past a limit. */
static int re_match(struct run *r, const void *key, const char *s, size_t len)
{
	if ((r->steps += MATCH_COST) > MAX_STEPS)
		return -1;
	pcre2_match_data *md = pcre2_match_data_create(1, NULL);
	if (!md)
		abort();
	int m = pcre2_match(table_find(r->js, key)->re, (PCRE2_SPTR)s, len, 0, 0, md, r->js->mctx);
	pcre2_match_data_free(md);
	return m >= 0 ? 1 : m == PCRE2_ERROR_NOMATCH ? 0 : -1;
}

static int re_limit(struct run *r, struct buf *err, const char *what, const char *src)
{
	if (r->steps > MAX_STEPS)
		return over_budget(r, err);
	buf_addf(err, "at %s: the %s %.*s could not be matched within its limits", ptr_show(&r->path), what, SHOW, src);
	return OODA_ELIMIT;
}

/* check() at path + "/" + tok. */
static int check_at(struct run *r, const json_t *s, const json_t *v, const char *tok, size_t toklen, struct buf *err)
{
	size_t mark = r->path.len;
	ptr_push(&r->path, tok, toklen);
	int rc = check(r, s, v, err);
	buf_setlen(&r->path, mark);
	return rc;
}

static int check_item(struct run *r, const json_t *s, const json_t *v, size_t i, struct buf *err)
{
	size_t mark = r->path.len;
	ptr_push_index(&r->path, i);
	int rc = check(r, s, v, err);
	buf_setlen(&r->path, mark);
	return rc;
}

static int check_type(struct run *r, const json_t *s, const json_t *v, struct buf *err)
{
	json_t *t = json_object_get(s, "type"), *x;
	size_t i;
	if (!t)
		return 0;
	if (json_is_string(t))
		return type_is(v, json_string_value(t))
			       ? 0
			       : vfail(r, err, "expected %s, got %s", json_string_value(t), type_name(v));
	json_array_foreach(t, i, x)
		if (type_is(v, json_string_value(x)))
			return 0;
	vfail(r, err, "expected one of");
	json_array_foreach(t, i, x)
		buf_addf(err, "%s %s", i ? "," : "", json_string_value(x));
	buf_addf(err, "; got %s", type_name(v));
	return OODA_EVALIDATE;
}

static int check_value(struct run *r, const json_t *s, const json_t *v, struct buf *err)
{
	json_t *en = json_object_get(s, "enum"), *c = json_object_get(s, "const"), *x;
	size_t i;
	if (en) {
		bool any = false;
		json_array_foreach(en, i, x)
			if ((any = equal(r, x, v)))
				break;
		if (r->steps > MAX_STEPS)
			return over_budget(r, err);
		if (!any) {
			vfail(r, err, "%s", "");
			value_add(err, v);
			buf_adds(err, " is not one of the allowed values (enum)");
			return OODA_EVALIDATE;
		}
	}
	if (c && !equal(r, c, v)) {
		if (r->steps > MAX_STEPS)
			return over_budget(r, err);
		vfail(r, err, "%s", "");
		value_add(err, v);
		buf_adds(err, " is not the required value ");
		value_add(err, c);
		buf_adds(err, " (const)");
		return OODA_EVALIDATE;
	}
	return 0;
}

static int check_number(struct run *r, const json_t *s, const json_t *v, struct buf *err)
{
	static const struct {
		const char *kw;
		int bad_cmp; /* num_cmp(v, limit) that violates it: below, above, not above, not below */
		bool or_equal;
		const char *says;
	} limits[] = {
		{ "minimum", -1, false, "is below the minimum" },
		{ "maximum", 1, false, "is above the maximum" },
		{ "exclusiveMinimum", -1, true, "is not above the exclusive minimum" },
		{ "exclusiveMaximum", 1, true, "is not below the exclusive maximum" },
	};
	if (!json_is_number(v))
		return 0;
	char a[40], b[40];
	for (size_t i = 0; i < COUNT(limits); i++) {
		json_t *k = json_object_get(s, limits[i].kw);
		if (!k)
			continue;
		int cmp = num_cmp(v, k);
		if (cmp == limits[i].bad_cmp || (limits[i].or_equal && cmp == 0))
			return vfail(r, err, "%s %s %s", num_show(v, a), limits[i].says, num_show(k, b));
	}
	json_t *m = json_object_get(s, "multipleOf");
	if (m) {
		bool ok;
		if (json_is_integer(v) && json_is_integer(m)) {
			ok = json_integer_value(v) % json_integer_value(m) == 0;
		} else {
			double q = json_number_value(v) / json_number_value(m);
			ok = isfinite(q) && fabs(q - nearbyint(q)) <= 1e-9 * fmax(1.0, fabs(q));
		}
		if (!ok)
			return vfail(r, err, "%s is not a multiple of %s", num_show(v, a), num_show(m, b));
	}
	return 0;
}

static int check_string(struct run *r, const json_t *s, const json_t *v, struct buf *err)
{
	if (!json_is_string(v))
		return 0;
	const char *str = json_string_value(v);
	size_t len = json_string_length(v), n = utf8_len(str, len);
	json_t *k;
	if ((k = json_object_get(s, "minLength")) && (json_int_t)n < json_integer_value(k))
		return vfail(r, err, "%zu characters is shorter than minLength %lld", n,
			     (long long)json_integer_value(k));
	if ((k = json_object_get(s, "maxLength")) && (json_int_t)n > json_integer_value(k))
		return vfail(r, err, "%zu characters is longer than maxLength %lld", n,
			     (long long)json_integer_value(k));
	if ((k = json_object_get(s, "pattern"))) {
		int m = re_match(r, k, str, len);
		if (m == 0)
			return vfail(r, err, "\"%.*s\" does not match the pattern %.*s", SHOW, str, SHOW, json_string_value(k));
		if (m < 0)
			return re_limit(r, err, "pattern", json_string_value(k));
	}
	if ((k = json_object_get(s, "format"))) {
		const struct jschema_format *f = jschema_format_find(json_string_value(k));
		if (f && !f->ok(str, len))
			return vfail(r, err, "\"%.*s\" is not a valid %s (format)", SHOW, str, f->name);
	}
	return 0;
}

static int check_array(struct run *r, const json_t *s, const json_t *v, struct buf *err)
{
	if (!json_is_array(v))
		return 0;
	size_t n = json_array_size(v), i;
	json_t *k, *x;
	int rc;
	if ((k = json_object_get(s, "minItems")) && (json_int_t)n < json_integer_value(k))
		return vfail(r, err, "%zu items are fewer than minItems %lld", n, (long long)json_integer_value(k));
	if ((k = json_object_get(s, "maxItems")) && (json_int_t)n > json_integer_value(k))
		return vfail(r, err, "%zu items are more than maxItems %lld", n, (long long)json_integer_value(k));
	if (json_is_true(json_object_get(s, "uniqueItems")))
		for (i = 0; i < n; i++)
			for (size_t j = i + 1; j < n; j++) {
				bool same = equal(r, json_array_get(v, i), json_array_get(v, j));
				if (r->steps > MAX_STEPS)
					return over_budget(r, err);
				if (same)
					return vfail(r, err, "items %zu and %zu are equal (uniqueItems)", i, j);
			}
	json_t *prefix = json_object_get(s, "prefixItems"), *items = json_object_get(s, "items");
	size_t np = json_array_size(prefix);
	json_array_foreach(v, i, x) {
		const json_t *sub = i < np ? json_array_get(prefix, i) : items;
		if (sub && (rc = check_item(r, sub, x, i, err)))
			return rc;
	}
	json_t *contains = json_object_get(s, "contains");
	if (contains) {
		json_int_t found = 0, min = 1, max = -1;
		if ((k = json_object_get(s, "minContains")))
			min = json_integer_value(k);
		if ((k = json_object_get(s, "maxContains")))
			max = json_integer_value(k);
		struct buf scratch = BUF_INIT;
		json_array_foreach(v, i, x) {
			buf_reset(&scratch);
			rc = check_item(r, contains, x, i, &scratch);
			if (rc == OODA_ELIMIT) {
				buf_add(err, scratch.data, scratch.len);
				buf_release(&scratch);
				return rc;
			}
			found += !rc;
		}
		buf_release(&scratch);
		if (found < min)
			return vfail(r, err, "%lld items match contains, fewer than %lld", (long long)found, (long long)min);
		if (max >= 0 && found > max)
			return vfail(r, err, "%lld items match contains, more than maxContains %lld", (long long)found,
				     (long long)max);
	}
	return 0;
}

static int check_object(struct run *r, const json_t *s, const json_t *v, struct buf *err)
{
	if (!json_is_object(v))
		return 0;
	size_t n = json_object_size(v), i;
	json_t *k, *x, *val;
	const char *key;
	int rc;
	if ((k = json_object_get(s, "minProperties")) && (json_int_t)n < json_integer_value(k))
		return vfail(r, err, "%zu properties are fewer than minProperties %lld", n,
			     (long long)json_integer_value(k));
	if ((k = json_object_get(s, "maxProperties")) && (json_int_t)n > json_integer_value(k))
		return vfail(r, err, "%zu properties are more than maxProperties %lld", n,
			     (long long)json_integer_value(k));
	json_array_foreach(json_object_get(s, "required"), i, x)
		if (!json_object_get(v, json_string_value(x)))
			return vfail(r, err, "required property \"%.*s\" is missing", SHOW, json_string_value(x));
	json_object_foreach(json_object_get(s, "dependentRequired"), key, k)
		if (json_object_get(v, key))
			json_array_foreach(k, i, x)
				if (!json_object_get(v, json_string_value(x)))
					return vfail(r, err, "property \"%.*s\" is required when \"%.*s\" is present",
						     SHOW, json_string_value(x), SHOW, key);
	json_t *props = json_object_get(s, "properties"), *pprops = json_object_get(s, "patternProperties");
	json_t *addl = json_object_get(s, "additionalProperties"), *names = json_object_get(s, "propertyNames");
	json_object_foreach((json_t *)v, key, val) {
		size_t klen = strlen(key);
		if (names) {
			json_t *name = json_stringn(key, klen);
			rc = name ? check_at(r, names, name, key, klen, err) : 0;
			json_decref(name);
			if (rc) {
				buf_adds(err, " (property name)");
				return rc;
			}
		}
		bool matched = false;
		json_t *ps = json_object_get(props, key);
		if (ps) {
			matched = true;
			if ((rc = check_at(r, ps, val, key, klen, err)))
				return rc;
		}
		const char *pk;
		json_object_foreach(pprops, pk, x) {
			int m = re_match(r, pk, key, klen);
			if (m < 0)
				return re_limit(r, err, "patternProperties pattern", pk);
			if (m > 0) {
				matched = true;
				if ((rc = check_at(r, x, val, key, klen, err)))
					return rc;
			}
		}
		if (!matched && json_is_false(addl)) {
			size_t mark = r->path.len;
			ptr_push(&r->path, key, klen);
			vfail(r, err, "property \"%.*s\" is not allowed (additionalProperties is false)", SHOW, key);
			buf_setlen(&r->path, mark);
			return OODA_EVALIDATE;
		}
		if (!matched && addl && (rc = check_at(r, addl, val, key, klen, err)))
			return rc;
	}
	json_object_foreach(json_object_get(s, "dependentSchemas"), key, x)
		if (json_object_get(v, key) && (rc = check(r, x, v, err)))
			return rc;
	return 0;
}

static int check_ref(struct run *r, const json_t *s, const json_t *v, struct buf *err)
{
	json_t *ref = json_object_get(s, "$ref");
	return ref ? check(r, table_find(r->js, ref)->target, v, err) : 0;
}

/* anyOf and oneOf: how many alternatives v matches (oneOf stops at two). */
static int check_alternatives(struct run *r, const char *kw, const json_t *list, const json_t *v, struct buf *err)
{
	struct buf scratch = BUF_INIT, why = BUF_INIT;
	size_t i, matches = 0, first = 0;
	json_t *x;
	int rc = 0;
	bool one = !strcmp(kw, "oneOf");
	json_array_foreach(list, i, x) {
		buf_reset(&scratch);
		rc = check(r, x, v, &scratch);
		if (rc == OODA_ELIMIT) {
			buf_add(err, scratch.data, scratch.len);
			goto out;
		}
		if (!rc && matches++ == 0)
			first = i;
		if (!rc && (!one || matches == 2))
			break;
		if (rc && why.len < 400)
			buf_addf(&why, "%s[%zu] %s", why.len ? "; " : "", i, scratch.data);
	}
	rc = 0;
	if (matches == 0)
		rc = vfail(r, err, "matches none of the %s alternatives: %s", kw, why.data);
	else if (one && matches > 1)
		rc = vfail(r, err, "matches more than one oneOf alternative (%zu and %zu)", first, i);
out:
	buf_release(&scratch);
	buf_release(&why);
	return rc;
}

static int check_logic(struct run *r, const json_t *s, const json_t *v, struct buf *err)
{
	json_t *x, *k;
	size_t i;
	int rc = 0;
	json_array_foreach(json_object_get(s, "allOf"), i, x)
		if ((rc = check(r, x, v, err)))
			return rc;
	if ((k = json_object_get(s, "anyOf")) && (rc = check_alternatives(r, "anyOf", k, v, err)))
		return rc;
	if ((k = json_object_get(s, "oneOf")) && (rc = check_alternatives(r, "oneOf", k, v, err)))
		return rc;
	struct buf scratch = BUF_INIT;
	if ((k = json_object_get(s, "not"))) {
		rc = check(r, k, v, &scratch);
		if (rc == OODA_ELIMIT)
			buf_add(err, scratch.data, scratch.len);
		else if (rc == 0)
			rc = vfail(r, err, "must not match the schema under not");
		else
			rc = 0;
		buf_reset(&scratch);
	}
	if (!rc && (k = json_object_get(s, "if"))) {
		rc = check(r, k, v, &scratch);
		if (rc == OODA_ELIMIT) {
			buf_add(err, scratch.data, scratch.len);
		} else {
			x = json_object_get(s, rc ? "else" : "then");
			rc = x ? check(r, x, v, err) : 0;
		}
	}
	buf_release(&scratch);
	return rc;
}

/* Each group looks only at the keywords for one kind of value or one kind of applicator. */
static int (*const groups[])(struct run *, const json_t *, const json_t *, struct buf *) = {
	check_type, check_value, check_number, check_string, check_array, check_object, check_ref, check_logic,
};

static int check(struct run *r, const json_t *s, const json_t *v, struct buf *err)
{
	if (++r->steps > MAX_STEPS)
		return over_budget(r, err);
	if (r->depth >= MAX_RUN_DEPTH) {
		buf_addf(err, "at %s: the document is nested deeper than the %d levels the schema may check",
			 ptr_show(&r->path), MAX_RUN_DEPTH);
		return OODA_ELIMIT;
	}
	if (json_is_boolean(s))
		return json_is_true(s) ? 0 : vfail(r, err, "no value is allowed here (the schema is false)");
	r->depth++;
	int rc = 0;
	for (size_t i = 0; i < COUNT(groups) && !rc; i++)
		rc = groups[i](r, s, v, err);
	r->depth--;
	return rc;
}

int jschema_validate(const struct jschema *js, const json_t *doc, struct buf *err)
{
	struct run r = { .js = js, .path = BUF_INIT };
	int rc = check(&r, js->root, doc, err);
	buf_release(&r.path);
	return rc;
}
