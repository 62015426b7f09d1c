/*
 * OTLP/JSON decoder: the JSON mapping of ExportLogs/Trace/MetricsService
 * requests, parsed with the ingest JSON reader (jdom) and walked into the
 * same records as the protobuf decoder in otlp.c. Field names are
 * lowerCamelCase with snake_case also accepted; trace and span ids are hex;
 * enums are numbers or their names; 64-bit integers are strings or numbers;
 * unknown fields are ignored.
 */
#include <inttypes.h>
#include <math.h>

#include "core/error.h"
#include "core/hex.h"
#include "core/time.h"
#include "ingest/jdom.h"
#include "ingest/otlp.h"
#include "ingest/otlp_internal.h"

struct jctx {
	struct dec d;
	int64_t now_ns;
	const char *bad;
	char badbuf[160];
};

static void mark_bad(struct jctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void mark_bad(struct jctx *c, const char *fmt, ...)
{
	if (c->bad)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->badbuf, sizeof(c->badbuf), fmt, ap);
	va_end(ap);
	c->bad = c->badbuf;
}

/* A string member copied into the batch arena (the document lives in a scratch arena). */
static const char *jdup(struct jctx *c, const struct jval *v)
{
	if (!v || v->type != J_STR)
		return NULL;
	return dec_strndup(&c->d, v->s, v->len);
}

#define GET(o, camel, snake) jdom_get(o, camel, snake)
#define EACH(v, arr) for (const struct jval *v = ((arr) && (arr)->type == J_ARR) ? (arr)->child : NULL; v; v = v->next)

struct enum_name {
	const char *name;
	int value;
};

/* An enum as a number or one of its names; def when absent or unknown. */
static int j_enum(const struct jval *v, const struct enum_name *names, int def)
{
	int64_t x;
	if (!v)
		return def;
	if (v->type == J_NUM && jdom_i64(v, &x))
		return x >= 0 && x < 256 ? (int)x : def;
	if (v->type == J_STR) {
		if (jdom_i64(v, &x))
			return x >= 0 && x < 256 ? (int)x : def;
		for (; names && names->name; names++)
			if (!strcmp(v->s, names->name))
				return names->value;
	}
	return def;
}

static int64_t j_i64(const struct jval *v)
{
	int64_t x = 0;
	if (v && !jdom_i64(v, &x)) {
		uint64_t u;
		x = jdom_u64(v, &u) ? (int64_t)u : 0;
	}
	return x;
}

/*
 * A timestamp member (unix ns as a string or a number) into *out: absent
 * or null is 0 (unset); anything that is not an integer in
 * [OODA_TIME_MIN, OODA_TIME_MAX] marks the record bad, naming the member.
 */
static void j_time(struct jctx *c, const struct jval *v, int64_t *out, const char *what)
{
	uint64_t u;
	*out = 0;
	if (!v || v->type == J_NULL)
		return;
	if (!jdom_u64(v, &u) || ooda_time_from_u64(u, out))
		mark_bad(c, "%s %.40s is not a time from 1970 to 2262 in unix nanoseconds", what,
			 v->type == J_STR || v->type == J_NUM ? v->s : "(not a number)");
}

static int b64val(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+' || ch == '-')
		return 62;
	if (ch == '/' || ch == '_')
		return 63;
	return -1;
}

/* Base64 (standard or URL alphabet, padding optional) into out; -1 if invalid. */
static long b64_decode(const char *s, size_t n, uint8_t *out)
{
	while (n && s[n - 1] == '=')
		n--;
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		int v = b64val((unsigned char)s[i]);
		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	return (long)o;
}

static const char *any_key(const struct jval *av, const struct jval **val)
{
	static const char *const keys[][2] = {
		{ "stringValue", "string_value" }, { "boolValue", "bool_value" },
		{ "intValue", "int_value" },       { "doubleValue", "double_value" },
		{ "arrayValue", "array_value" },   { "kvlistValue", "kvlist_value" },
		{ "bytesValue", "bytes_value" },
	};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const struct jval *v = jdom_get(av, keys[i][0], keys[i][1]);
		if (v) {
			*val = v;
			return keys[i][0];
		}
	}
	*val = NULL;
	return NULL;
}

static void add_double_json(struct buf *b, double d)
{
	if (isnan(d))
		buf_adds(b, "\"NaN\"");
	else if (isinf(d))
		buf_adds(b, d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
	else
		buf_addf(b, "%.17g", d);
}

/* An OTLP AnyValue object as plain compact JSON. */
static void any_json(struct buf *b, const struct jval *av, int depth)
{
	const struct jval *v;
	const char *k = any_key(av, &v);
	if (!k || depth > DECODE_MAX_DEPTH) {
		buf_adds(b, "null");
		return;
	}
	double d;
	switch (k[0]) {
	case 's':
		if (v->type == J_STR)
			buf_add_json_str(b, v->s, v->len);
		else
			buf_adds(b, "null");
		break;
	case 'b':
		if (k[1] == 'o')
			buf_adds(b, v->type == J_TRUE ? "true" : "false");
		else if (v->type == J_STR)
			buf_add_json_str(b, v->s, v->len); /* bytes stay base64 text */
		else
			buf_adds(b, "null");
		break;
	case 'i':
		buf_addf(b, "%" PRId64, j_i64(v));
		break;
	case 'd':
		if (jdom_f64(v, &d))
			add_double_json(b, d);
		else
			buf_adds(b, "null");
		break;
	case 'a': {
		buf_addch(b, '[');
		const struct jval *vals = GET(v, "values", NULL);
		bool first = true;
		EACH(e, vals) {
			if (!first)
				buf_addch(b, ',');
			first = false;
			any_json(b, e, depth + 1);
		}
		buf_addch(b, ']');
		break;
	}
	case 'k': {
		buf_addch(b, '{');
		const struct jval *vals = GET(v, "values", NULL);
		bool first = true;
		EACH(e, vals) {
			const char *key = jdom_str(GET(e, "key", NULL));
			if (!first)
				buf_addch(b, ',');
			first = false;
			buf_add_json_str(b, key ? key : "", key ? strlen(key) : 0);
			buf_addch(b, ':');
			any_json(b, GET(e, "value", NULL), depth + 1);
		}
		buf_addch(b, '}');
		break;
	}
	}
}

/*
 * An AnyValue object into a. A value over DECODE_MAX_ATTR_LEN marks the
 * record bad, naming what and key ("attribute" and its key, or "body" and
 * NULL), and leaves a as
 * JSON null.
 */
static int j_anyvalue(struct jctx *c, const struct jval *av, struct attr *a, const char *what,
		      const char *key)
{
	const struct jval *v;
	const char *k = any_key(av, &v);
	a->type = ATTR_JSON;
	a->s = "null";
	a->len = 4;
	if (!k)
		return 0;
	switch (k[0]) {
	case 's':
		if (v->type != J_STR) {
			mark_bad(c, "stringValue is not a string");
			return 0;
		}
		if (v->len > DECODE_MAX_ATTR_LEN) {
			mark_bad(c, "%s%s%.60s: value of %u bytes exceeds the limit of %u", what, key ? " " : "", key ? key : "", v->len,
				 DECODE_MAX_ATTR_LEN);
			return 0;
		}
		a->type = ATTR_STR;
		if (!(a->s = dec_strndup(&c->d, v->s, v->len)))
			return c->d.rc;
		a->len = v->len;
		return 0;
	case 'b':
		if (k[1] == 'o') {
			a->type = ATTR_BOOL;
			a->b = v->type == J_TRUE || (v->type == J_STR && !strcmp(v->s, "true"));
			return 0;
		}
		if (v->type != J_STR || v->len > DECODE_MAX_ATTR_LEN * 2) {
			mark_bad(c, "bytesValue is not a base64 string of at most 64 KiB");
			return 0;
		}
		{
			uint8_t *out = dec_alloc(&c->d, v->len + 1);
			if (!out)
				return c->d.rc;
			long n = b64_decode(v->s, v->len, out);
			if (n < 0) {
				mark_bad(c, "bytesValue is not valid base64");
				return 0;
			}
			if ((size_t)n > DECODE_MAX_ATTR_LEN) {
				mark_bad(c, "%s%s%.60s: value of %ld bytes exceeds the limit of %u", what, key ? " " : "", key ? key : "", n,
					 DECODE_MAX_ATTR_LEN);
				return 0;
			}
			out[n] = 0;
			a->type = ATTR_BYTES;
			a->s = (const char *)out;
			a->len = (uint32_t)n;
		}
		return 0;
	case 'i': {
		int64_t x;
		if (!jdom_i64(v, &x)) {
			mark_bad(c, "intValue is not an integer");
			return 0;
		}
		a->type = ATTR_INT;
		a->i = x;
		return 0;
	}
	case 'd': {
		double d;
		if (!jdom_f64(v, &d)) {
			mark_bad(c, "doubleValue is not a number");
			return 0;
		}
		a->type = ATTR_DOUBLE;
		a->d = d;
		return 0;
	}
	default: {
		buf_reset(&c->d.scratch);
		any_json(&c->d.scratch, av, 0);
		if (c->d.scratch.len > DECODE_MAX_ATTR_LEN) {
			mark_bad(c, "%s%s%.60s: value of %zu bytes exceeds the limit of %u", what, key ? " " : "", key ? key : "", c->d.scratch.len,
				 DECODE_MAX_ATTR_LEN);
			return 0;
		}
		a->s = dec_strndup(&c->d, c->d.scratch.data, c->d.scratch.len);
		if (!a->s)
			return c->d.rc;
		a->len = (uint32_t)c->d.scratch.len;
		return 0;
	}
	}
}

/* A KeyValue array appended to as; where names whose attributes they are. */
static int j_attrs(struct jctx *c, const struct jval *arr, struct attrs *as, const char *where)
{
	uint32_t cap = 0;
	if (arr && arr->type == J_ARR && arr->len && !as->v) {
		/* one allocation for the common case: every element is a KeyValue */
		uint32_t n = arr->len < DECODE_MAX_ATTRS ? arr->len : DECODE_MAX_ATTRS;
		if (!(as->v = dec_alloc(&c->d, n * sizeof(struct attr))))
			return c->d.rc;
		cap = n;
	}
	EACH(kv, arr) {
		const struct jval *kj = GET(kv, "key", NULL);
		if (!kj || kj->type != J_STR)
			continue;
		struct attr *a = dec_push_attr(&c->d, as, &cap);
		if (!a)
			return c->d.rc;
		if (kj->len > DECODE_MAX_ATTR_LEN) {
			mark_bad(c, "%s key of %u bytes exceeds the limit of %u", where, kj->len, DECODE_MAX_ATTR_LEN);
			a->key = "";
		} else if (!(a->key = jdup(c, kj))) {
			return c->d.rc;
		}
		int rc = j_anyvalue(c, GET(kv, "value", NULL), a, where, a->key); /* formatted only on error */
		if (rc)
			return rc;
	}
	return 0;
}

/* A hex id: absent or "" → *has=false; otherwise exactly n bytes of hex. */
static void j_id(struct jctx *c, const struct jval *v, uint8_t *out, size_t n, const char *what,
		 bool *has)
{
	*has = false;
	if (!v || (v->type == J_STR && v->len == 0))
		return;
	if (v->type != J_STR || hex_decode(v->s, v->len, out, n)) {
		mark_bad(c, "%s is not %zu hex digits", what, 2 * n);
		return;
	}
	*has = true;
}

static const struct enum_name severity_names[] = { { NULL, 0 } };

static int j_log(struct jctx *c, const struct jval *o, const struct resource *res, const char *scope,
		 size_t idx)
{
	struct log_record *lr = dec_push_log(&c->d);
	if (!lr)
		return c->d.rc;
	c->bad = NULL;
	lr->resource = res;
	lr->scope_name = scope;
	j_time(c, GET(o, "timeUnixNano", "time_unix_nano"), &lr->time_ns, "timeUnixNano");
	j_time(c, GET(o, "observedTimeUnixNano", "observed_time_unix_nano"), &lr->observed_ns,
	       "observedTimeUnixNano");
	const struct jval *sev = GET(o, "severityNumber", "severity_number");
	if (sev && sev->type == J_STR && !jdom_i64(sev, &(int64_t){ 0 })) {
		int n = dec_severity_text(sev->s, sev->len);
		lr->severity = n > 0 ? (uint8_t)n : 0;
	} else {
		int n = j_enum(sev, severity_names, 0);
		lr->severity = n <= 24 ? (uint8_t)n : 0;
	}
	lr->severity_text = jdup(c, GET(o, "severityText", "severity_text"));
	const struct jval *body = GET(o, "body", NULL);
	if (body) {
		struct attr a = { 0 };
		int rc = j_anyvalue(c, body, &a, "body", NULL);
		if (!rc)
			rc = otlp_body_text(&c->d, &a, &lr->body, &lr->body_len);
		if (rc)
			return rc;
	}
	int rc = j_attrs(c, GET(o, "attributes", NULL), &lr->attrs, "attribute");
	if (rc)
		return rc;
	lr->flags = (uint32_t)j_i64(GET(o, "flags", NULL));
	j_id(c, GET(o, "traceId", "trace_id"), lr->trace_id, 16, "traceId", &lr->has_trace_id);
	j_id(c, GET(o, "spanId", "span_id"), lr->span_id, 8, "spanId", &lr->has_span_id);
	otlp_log_times(lr, c->now_ns);
	if (c->bad) {
		c->d.b->n_logs--;
		dec_reject(&c->d, "log record %zu: %s", idx, c->bad);
	}
	return 0;
}

static const struct enum_name kind_names[] = {
	{ "SPAN_KIND_UNSPECIFIED", 0 }, { "SPAN_KIND_INTERNAL", 1 }, { "SPAN_KIND_SERVER", 2 },
	{ "SPAN_KIND_CLIENT", 3 },      { "SPAN_KIND_PRODUCER", 4 }, { "SPAN_KIND_CONSUMER", 5 },
	{ NULL, 0 },
};
static const struct enum_name status_names[] = {
	{ "STATUS_CODE_UNSET", 0 }, { "STATUS_CODE_OK", 1 }, { "STATUS_CODE_ERROR", 2 }, { NULL, 0 },
};
static const struct enum_name temporality_names[] = {
	{ "AGGREGATION_TEMPORALITY_UNSPECIFIED", 0 },
	{ "AGGREGATION_TEMPORALITY_DELTA", 1 },
	{ "AGGREGATION_TEMPORALITY_CUMULATIVE", 2 },
	{ NULL, 0 },
};

static int j_span(struct jctx *c, const struct jval *o, const struct resource *res, const char *scope,
		  size_t idx)
{
	struct span *sp = dec_push_span(&c->d);
	if (!sp)
		return c->d.rc;
	c->bad = NULL;
	sp->resource = res;
	sp->scope_name = scope;
	bool has_t, has_s;
	j_id(c, GET(o, "traceId", "trace_id"), sp->trace_id, 16, "traceId", &has_t);
	j_id(c, GET(o, "spanId", "span_id"), sp->span_id, 8, "spanId", &has_s);
	j_id(c, GET(o, "parentSpanId", "parent_span_id"), sp->parent_span_id, 8, "parentSpanId",
	     &sp->has_parent);
	const char *name = jdup(c, GET(o, "name", NULL));
	sp->name = name ? name : "";
	int kind = j_enum(GET(o, "kind", NULL), kind_names, 0);
	sp->kind = kind <= SPAN_CONSUMER ? (uint8_t)kind : 0;
	j_time(c, GET(o, "startTimeUnixNano", "start_time_unix_nano"), &sp->start_ns, "startTimeUnixNano");
	j_time(c, GET(o, "endTimeUnixNano", "end_time_unix_nano"), &sp->end_ns, "endTimeUnixNano");
	int rc = j_attrs(c, GET(o, "attributes", NULL), &sp->attrs, "attribute");
	if (rc)
		return rc;
	const struct jval *st = GET(o, "status", NULL);
	if (st) {
		int code = j_enum(GET(st, "code", NULL), status_names, 0);
		sp->status = code <= STATUS_ERROR ? (uint8_t)code : 0;
		sp->status_message = jdup(c, GET(st, "message", NULL));
	}
	const struct jval *evs = GET(o, "events", NULL);
	if (evs && evs->type == J_ARR && evs->len) {
		sp->events = dec_zalloc(&c->d, evs->len * sizeof(*sp->events));
		if (!sp->events)
			return c->d.rc;
		EACH(e, evs) {
			struct span_event *ev = &sp->events[sp->n_events++];
			j_time(c, GET(e, "timeUnixNano", "time_unix_nano"), &ev->time_ns, "event timeUnixNano");
			const char *en = jdup(c, GET(e, "name", NULL));
			ev->name = en ? en : "";
			if ((rc = j_attrs(c, GET(e, "attributes", NULL), &ev->attrs, "event attribute")))
				return rc;
		}
	}
	const struct jval *lns = GET(o, "links", NULL);
	if (lns && lns->type == J_ARR && lns->len) {
		sp->links = dec_zalloc(&c->d, lns->len * sizeof(*sp->links));
		if (!sp->links)
			return c->d.rc;
		EACH(l, lns) {
			struct span_link *ln = &sp->links[sp->n_links++];
			bool lt, ls;
			j_id(c, GET(l, "traceId", "trace_id"), ln->trace_id, 16, "link traceId", &lt);
			j_id(c, GET(l, "spanId", "span_id"), ln->span_id, 8, "link spanId", &ls);
			if (!lt || !ls)
				mark_bad(c, "link without traceId or spanId");
			if ((rc = j_attrs(c, GET(l, "attributes", NULL), &ln->attrs, "link attribute")))
				return rc;
		}
	}
	if (!c->bad)
		otlp_check_span(sp, has_t, has_s, &c->bad);
	if (c->bad) {
		c->d.b->n_spans--;
		dec_reject(&c->d, "span %zu: %s", idx, c->bad);
	}
	return 0;
}

static bool j_double(const struct jval *v, double *out)
{
	return v && jdom_f64(v, out);
}

/* An array of numbers (or numeric strings) as uint64 or double. */
static int j_nums(struct jctx *c, const struct jval *arr, bool dbl, void **out, uint32_t *n)
{
	*out = NULL;
	*n = 0;
	if (!arr || arr->type != J_ARR || !arr->len)
		return 0;
	void *v = dec_alloc(&c->d, arr->len * 8);
	if (!v)
		return c->d.rc;
	EACH(e, arr) {
		if (dbl) {
			double d = 0;
			if (!jdom_f64(e, &d))
				mark_bad(c, "non-numeric bucket bound");
			((double *)v)[(*n)++] = d;
		} else {
			uint64_t u = 0;
			if (!jdom_u64(e, &u))
				mark_bad(c, "non-integer bucket count");
			((uint64_t *)v)[(*n)++] = u;
		}
	}
	*out = v;
	return 0;
}

/* The point's "exemplars" (at most RECORD_MAX_EXEMPLARS; more are skipped). */
static int j_exemplars(struct jctx *c, const struct jval *arr, struct metric_point *pt)
{
	if (!arr || arr->type != J_ARR || !arr->len)
		return 0;
	uint32_t n = arr->len < RECORD_MAX_EXEMPLARS ? (uint32_t)arr->len : RECORD_MAX_EXEMPLARS;
	struct exemplar *v = dec_alloc(&c->d, n * sizeof(*v));
	if (!v)
		return c->d.rc;
	memset(v, 0, n * sizeof(*v));
	uint32_t k = 0;
	EACH(e, arr) {
		if (k == n)
			break;
		struct exemplar *ex = &v[k++];
		int rc = j_attrs(c, GET(e, "filteredAttributes", "filtered_attributes"), &ex->attrs, "exemplar attribute");
		if (rc)
			return rc;
		j_time(c, GET(e, "timeUnixNano", "time_unix_nano"), &ex->time_ns, "exemplar timeUnixNano");
		const struct jval *x;
		if ((x = GET(e, "asDouble", "as_double"))) {
			if (!jdom_f64(x, &ex->value))
				mark_bad(c, "exemplar asDouble is not a number");
		} else if ((x = GET(e, "asInt", "as_int"))) {
			int64_t i;
			if (!jdom_i64(x, &i))
				mark_bad(c, "exemplar asInt is not an integer");
			else
				ex->value = (double)i;
		}
		j_id(c, GET(e, "traceId", "trace_id"), ex->trace_id, 16, "exemplar traceId", &ex->has_trace_id);
		j_id(c, GET(e, "spanId", "span_id"), ex->span_id, 8, "exemplar spanId", &ex->has_span_id);
	}
	pt->exemplars = v;
	pt->n_exemplars = k;
	return 0;
}

static int j_point(struct jctx *c, const struct jval *o, uint8_t type, const struct resource *res,
		   size_t idx, struct metric_point *proto)
{
	struct metric_point *pt = dec_push_point(&c->d);
	if (!pt)
		return c->d.rc;
	c->bad = NULL;
	*pt = *proto;
	pt->type = type;
	pt->resource = res;
	int rc = j_attrs(c, GET(o, "attributes", NULL), &pt->attrs, "attribute");
	if (rc)
		return rc;
	j_time(c, GET(o, "startTimeUnixNano", "start_time_unix_nano"), &pt->start_ns, "startTimeUnixNano");
	j_time(c, GET(o, "timeUnixNano", "time_unix_nano"), &pt->time_ns, "timeUnixNano");
	pt->flags = (uint32_t)j_i64(GET(o, "flags", NULL));
	if (type != METRIC_SUMMARY && (rc = j_exemplars(c, GET(o, "exemplars", NULL), pt)))
		return rc;
	const struct jval *v;
	void *arr;
	uint32_t n;
	switch (type) {
	case METRIC_GAUGE:
	case METRIC_SUM:
		if ((v = GET(o, "asDouble", "as_double"))) {
			if (!jdom_f64(v, &pt->value))
				mark_bad(c, "asDouble is not a number");
		} else if ((v = GET(o, "asInt", "as_int"))) {
			int64_t x;
			if (!jdom_i64(v, &x))
				mark_bad(c, "asInt is not an integer");
			else
				pt->value = (double)x;
		}
		break;
	case METRIC_SUMMARY: {
		jdom_u64(GET(o, "count", NULL), &pt->count);
		pt->has_sum = j_double(GET(o, "sum", NULL), &pt->sum);
		const struct jval *qv = GET(o, "quantileValues", "quantile_values");
		if (qv && qv->type == J_ARR && qv->len) {
			double *qs = dec_alloc(&c->d, qv->len * sizeof(double));
			double *vs = dec_alloc(&c->d, qv->len * sizeof(double));
			if (!qs || !vs)
				return c->d.rc;
			EACH(q, qv) {
				qs[pt->n_quantiles] = 0;
				vs[pt->n_quantiles] = 0;
				j_double(GET(q, "quantile", NULL), &qs[pt->n_quantiles]);
				j_double(GET(q, "value", NULL), &vs[pt->n_quantiles]);
				pt->n_quantiles++;
			}
			pt->quantiles = qs;
			pt->quantile_values = vs;
		}
		break;
	}
	case METRIC_HISTOGRAM:
	case METRIC_EXP_HISTOGRAM:
		jdom_u64(GET(o, "count", NULL), &pt->count);
		pt->has_sum = j_double(GET(o, "sum", NULL), &pt->sum);
		pt->has_min = j_double(GET(o, "min", NULL), &pt->min);
		pt->has_max = j_double(GET(o, "max", NULL), &pt->max);
		if (type == METRIC_HISTOGRAM) {
			if ((rc = j_nums(c, GET(o, "bucketCounts", "bucket_counts"), false, &arr, &n)))
				return rc;
			pt->bucket_counts = arr;
			uint32_t nb = n;
			if ((rc = j_nums(c, GET(o, "explicitBounds", "explicit_bounds"), true, &arr, &n)))
				return rc;
			pt->bounds = arr;
			pt->n_bounds = n;
			if (nb != 0 && nb != n + 1)
				mark_bad(c, "histogram has %u bucket counts for %u bounds", nb, n);
			if (nb == 0)
				pt->bucket_counts = NULL;
		} else {
			pt->scale = (int32_t)j_i64(GET(o, "scale", NULL));
			jdom_u64(GET(o, "zeroCount", "zero_count"), &pt->zero_count);
			const struct jval *pos = GET(o, "positive", NULL), *neg = GET(o, "negative", NULL);
			pt->pos_offset = (int32_t)j_i64(GET(pos, "offset", NULL));
			if ((rc = j_nums(c, GET(pos, "bucketCounts", "bucket_counts"), false, &arr, &pt->n_pos)))
				return rc;
			pt->pos_counts = arr;
			pt->neg_offset = (int32_t)j_i64(GET(neg, "offset", NULL));
			if ((rc = j_nums(c, GET(neg, "bucketCounts", "bucket_counts"), false, &arr, &pt->n_neg)))
				return rc;
			pt->neg_counts = arr;
		}
		break;
	}
	if (c->bad) {
		c->d.b->n_points--;
		dec_reject(&c->d, "data point %zu: %s", idx, c->bad);
	}
	return 0;
}

static int j_metric(struct jctx *c, const struct jval *m, const struct resource *res, const char *scope)
{
	static const struct {
		const char *camel, *snake;
		uint8_t type;
	} kinds[] = {
		{ "gauge", NULL, METRIC_GAUGE },
		{ "sum", NULL, METRIC_SUM },
		{ "histogram", NULL, METRIC_HISTOGRAM },
		{ "exponentialHistogram", "exponential_histogram", METRIC_EXP_HISTOGRAM },
		{ "summary", NULL, METRIC_SUMMARY },
	};
	struct metric_point proto = { 0 };
	proto.name = jdup(c, GET(m, "name", NULL));
	proto.description = jdup(c, GET(m, "description", NULL));
	proto.unit = jdup(c, GET(m, "unit", NULL));
	proto.scope_name = scope;
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		const struct jval *data = GET(m, kinds[k].camel, kinds[k].snake);
		if (!data)
			continue;
		const struct jval *dps = GET(data, "dataPoints", "data_points");
		if (!proto.name || !*proto.name) {
			size_t n = dps && dps->type == J_ARR ? dps->len : 0;
			if (n) {
				c->d.b->rejected += n - 1;
				dec_reject(&c->d, "metric without a name (%zu data points)", n);
			}
			return 0;
		}
		int t = j_enum(GET(data, "aggregationTemporality", "aggregation_temporality"),
			       temporality_names, 0);
		proto.temporality = t <= TEMPORALITY_CUMULATIVE ? (uint8_t)t : 0;
		proto.monotonic = GET(data, "isMonotonic", "is_monotonic") &&
				  GET(data, "isMonotonic", "is_monotonic")->type == J_TRUE;
		EACH(dp, dps) {
			int rc = j_point(c, dp, kinds[k].type, res, c->d.b->n_points + c->d.b->rejected,
					 &proto);
			if (rc)
				return rc;
		}
	}
	return 0;
}

int otlp_json_decode(const void *body, size_t len, enum otlp_signal s, int64_t now_ns,
		     struct telemetry_batch *batch, struct buf *err)
{
	static const char *const top[][2] = {
		{ "resourceLogs", "resource_logs" },
		{ "resourceSpans", "resource_spans" },
		{ "resourceMetrics", "resource_metrics" },
	};
	static const char *const scopes[][2] = {
		{ "scopeLogs", "scope_logs" },
		{ "scopeSpans", "scope_spans" },
		{ "scopeMetrics", "scope_metrics" },
	};
	static const char *const recs[][2] = {
		{ "logRecords", "log_records" },
		{ "spans", NULL },
		{ "metrics", NULL },
	};
	/*
	 * The document tree is only needed while walking it: it lives in a
	 * scratch arena, and what records keep is copied into the batch arena.
	 * The scratch arena inherits the batch arena's limit.
	 */
	struct arena doc;
	arena_init(&doc, len + len / 2 + 4096);
	doc.limit = batch->arena->limit;
	struct buf jerr = BUF_INIT;
	const struct jval *root = jdom_parse(&doc, body, len, &jerr);
	if (!root || root->type != J_OBJ) {
		if (err)
			buf_addf(err, "OTLP/JSON: %s", root ? "line 1, column 1: the body is not a JSON object" : jerr.data);
		buf_release(&jerr);
		arena_release(&doc);
		return OODA_EPARSE;
	}
	buf_release(&jerr);
	struct jctx c = { .now_ns = now_ns };
	dec_init(&c.d, batch, err);
	int rc = 0;
	EACH(rd, GET(root, top[s][0], top[s][1])) {
		struct resource *res = dec_zalloc(&c.d, sizeof(*res));
		if (!res) {
			rc = c.d.rc;
			goto out;
		}
		c.bad = NULL;
		if ((rc = j_attrs(&c, GET(GET(rd, "resource", NULL), "attributes", NULL), &res->attrs,
				  "resource attribute")))
			goto out;
		/* an over-long resource attribute refuses every record under it, after they are counted */
		char resbad[sizeof(c.badbuf)] = "";
		if (c.bad)
			snprintf(resbad, sizeof(resbad), "%s", c.bad);
		c.bad = NULL;
		size_t first = s == OTLP_LOGS ? batch->n_logs : s == OTLP_TRACES ? batch->n_spans : batch->n_points;
		dec_lift_resource(res);
		EACH(sd, GET(rd, scopes[s][0], scopes[s][1])) {
			const char *scope = jdup(&c, GET(GET(sd, "scope", NULL), "name", NULL));
			EACH(r, GET(sd, recs[s][0], recs[s][1])) {
				size_t idx = (s == OTLP_LOGS ? batch->n_logs : batch->n_spans) + batch->rejected;
				if (s == OTLP_LOGS)
					rc = j_log(&c, r, res, scope, idx);
				else if (s == OTLP_TRACES)
					rc = j_span(&c, r, res, scope, idx);
				else
					rc = j_metric(&c, r, res, scope);
				if (rc)
					goto out;
			}
		}
		if (resbad[0])
			otlp_refuse_from(&c.d, s, first, resbad);
	}
out:
	if (!rc)
		rc = c.d.rc; /* an allocation failed where no check returned it */
	dec_release(&c.d);
	arena_release(&doc);
	return rc;
}
