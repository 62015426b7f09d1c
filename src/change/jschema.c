/*
 * JSON Schema subset validation (see jschema.h). Recursion is bounded by
 * the schema's depth (at most 64 levels), so a hostile schema cannot
 * exhaust the stack.
 */
#include "change/jschema.h"
#include "core/error.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <math.h>
#include <pcre2.h>

#define MAX_DEPTH 64

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
		return json_is_integer(v) || (json_is_real(v) && floor(json_real_value(v)) == json_real_value(v));
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

static int fail(struct buf *err, const char *path, const char *fmt, const char *a, double d)
{
	buf_addf(err, "at %s: ", *path ? path : "/");
	buf_addf(err, fmt, a, d);
	return OODA_EVALIDATE;
}

static size_t utf8_len(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

static int validate(const json_t *s, const json_t *v, char *path, size_t plen, int depth, struct buf *err)
{
	if (depth > MAX_DEPTH) {
		buf_addf(err, "at %s: schema nested deeper than %d levels", path, MAX_DEPTH);
		return OODA_EVALIDATE;
	}
	if (json_is_boolean(s))
		return json_is_true(s) ? 0 : fail(err, path, "no value is allowed here%s", "", 0);
	if (!json_is_object(s))
		return 0;
	json_t *t = json_object_get(s, "type");
	if (json_is_string(t) && !type_is(v, json_string_value(t))) {
		buf_addf(err, "at %s: expected %s, got %s", *path ? path : "/", json_string_value(t), type_name(v));
		return OODA_EVALIDATE;
	}
	if (json_is_array(t)) {
		bool any = false;
		size_t i;
		json_t *x;
		json_array_foreach(t, i, x)
			any |= json_is_string(x) && type_is(v, json_string_value(x));
		if (!any)
			return fail(err, path, "value of type %s is not one of the allowed types", type_name(v), 0);
	}
	json_t *en = json_object_get(s, "enum");
	if (json_is_array(en)) {
		bool any = false;
		size_t i;
		json_t *x;
		json_array_foreach(en, i, x)
			any |= json_equal(x, (json_t *)v);
		if (!any)
			return fail(err, path, "value is not one of the enum values%s", "", 0);
	}
	json_t *c = json_object_get(s, "const");
	if (c && !json_equal(c, (json_t *)v))
		return fail(err, path, "value differs from the required constant%s", "", 0);
	if (json_is_number(v)) {
		double d = json_number_value(v);
		json_t *k;
		if ((k = json_object_get(s, "minimum")) && json_is_number(k) && d < json_number_value(k))
			return fail(err, path, "%s%g is below the minimum", "", d);
		if ((k = json_object_get(s, "maximum")) && json_is_number(k) && d > json_number_value(k))
			return fail(err, path, "%s%g is above the maximum", "", d);
		if ((k = json_object_get(s, "exclusiveMinimum")) && json_is_number(k) && d <= json_number_value(k))
			return fail(err, path, "%s%g is not above the exclusive minimum", "", d);
		if ((k = json_object_get(s, "exclusiveMaximum")) && json_is_number(k) && d >= json_number_value(k))
			return fail(err, path, "%s%g is not below the exclusive maximum", "", d);
	}
	if (json_is_string(v)) {
		size_t n = utf8_len(json_string_value(v));
		json_t *k;
		if ((k = json_object_get(s, "minLength")) && json_is_integer(k) && (json_int_t)n < json_integer_value(k))
			return fail(err, path, "string shorter than minLength%s", "", 0);
		if ((k = json_object_get(s, "maxLength")) && json_is_integer(k) && (json_int_t)n > json_integer_value(k))
			return fail(err, path, "string longer than maxLength%s", "", 0);
		if ((k = json_object_get(s, "pattern")) && json_is_string(k)) {
			int ec;
			PCRE2_SIZE eo;
			pcre2_code *re = pcre2_compile((PCRE2_SPTR)json_string_value(k), PCRE2_ZERO_TERMINATED, PCRE2_UTF,
						       &ec, &eo, NULL);
			if (re) {
				pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
				int m = pcre2_match(re, (PCRE2_SPTR)json_string_value(v), json_string_length(v), 0, 0, md,
						    NULL);
				pcre2_match_data_free(md);
				pcre2_code_free(re);
				if (m < 0)
					return fail(err, path, "string does not match the pattern %s", json_string_value(k), 0);
			}
		}
	}
	if (json_is_array(v)) {
		json_t *k;
		size_t n = json_array_size(v);
		if ((k = json_object_get(s, "minItems")) && json_is_integer(k) && (json_int_t)n < json_integer_value(k))
			return fail(err, path, "fewer items than minItems%s", "", 0);
		if ((k = json_object_get(s, "maxItems")) && json_is_integer(k) && (json_int_t)n > json_integer_value(k))
			return fail(err, path, "more items than maxItems%s", "", 0);
		if (json_is_true(json_object_get(s, "uniqueItems")))
			for (size_t i = 0; i < n; i++)
				for (size_t j = i + 1; j < n && n <= 10000; j++)
					if (json_equal(json_array_get(v, i), json_array_get(v, j)))
						return fail(err, path, "items are not unique%s", "", 0);
		json_t *items = json_object_get(s, "items");
		if (items) {
			for (size_t i = 0; i < n; i++) {
				int len = snprintf(path + plen, 1024 - plen, "/%zu", i);
				int rc = validate(items, json_array_get(v, i), path, plen + (size_t)len, depth + 1, err);
				path[plen] = 0;
				if (rc)
					return rc;
			}
		}
	}
	if (json_is_object(v)) {
		json_t *req = json_object_get(s, "required"), *props = json_object_get(s, "properties");
		size_t i;
		json_t *x;
		json_array_foreach(req, i, x)
			if (json_is_string(x) && !json_object_get(v, json_string_value(x)))
				return fail(err, path, "required property \"%s\" is missing", json_string_value(x), 0);
		json_t *addl = json_object_get(s, "additionalProperties");
		const char *k;
		json_t *val;
		json_object_foreach((json_t *)v, k, val) {
			json_t *ps = json_object_get(props, k);
			int len = snprintf(path + plen, 1024 - plen, "/%s", k);
			size_t np = plen + (size_t)len < 1000 ? plen + (size_t)len : plen;
			int rc = 0;
			if (ps)
				rc = validate(ps, val, path, np, depth + 1, err);
			else if (json_is_false(addl))
				rc = fail(err, path, "property is not allowed (additionalProperties is false)%s", "", 0);
			else if (json_is_object(addl))
				rc = validate(addl, val, path, np, depth + 1, err);
			path[plen] = 0;
			if (rc)
				return rc;
		}
	}
	return 0;
}

int jschema_check(const json_t *schema, struct buf *err)
{
	if (!json_is_object(schema) && !json_is_boolean(schema)) {
		buf_adds(err, "a JSON schema is an object (or true/false)");
		return OODA_EINVAL;
	}
	return 0;
}

int jschema_validate(const json_t *schema, const json_t *doc, struct buf *err)
{
	char path[1024] = "";
	return validate(schema, doc, path, 0, 0, err);
}
