/*
 * NDJSON log decoding (see ndjson.h). Each line is parsed with the ingest
 * JSON reader into a scratch arena that is reset per line, so only the
 * record and its strings land in the batch arena.
 */
#include "ingest/ndjson.h"

#include "core/error.h"
#include "core/hex.h"
#include "core/time.h"
#include "ingest/decode_util.h"
#include "ingest/jdom.h"

#define NDJSON_MAX_LINE ((size_t)1 << 20)
#define NDJSON_MAX_REPORT 100

struct nd {
	struct dec d;
	struct buf *report;
	size_t reported;
	struct resource **res;
	size_t n_res, cap_res;
};

static void line_error(struct nd *c, size_t line, const char *why)
{
	dec_reject(&c->d, "line %zu: %s", line, why);
	if (!c->report || c->reported >= NDJSON_MAX_REPORT)
		return;
	if (c->reported++)
		buf_addch(c->report, ',');
	buf_addf(c->report, "{\"line\":%zu,\"error\":", line);
	buf_add_json_str(c->report, why, strlen(why));
	buf_addch(c->report, '}');
}

static const struct resource *service_resource(struct nd *c, const char *svc, size_t len)
{
	for (size_t i = c->n_res; i-- > 0;) /* newest first */
		if (dec_eq(svc, len, c->res[i]->service) || (len == 0 && !strcmp(c->res[i]->service, "unknown")))
			return c->res[i];
	void *na = dec_grow(&c->d, c->res, c->n_res, &c->cap_res, sizeof(*c->res), 1u << 20, "services");
	if (!na)
		return NULL;
	c->res = na;
	struct resource *r = dec_zalloc(&c->d, sizeof(*r));
	if (!r)
		return NULL;
	struct attr *a = dec_zalloc(&c->d, sizeof(*a));
	if (!a)
		return NULL;
	r->service = len ? dec_strndup(&c->d, svc, len) : "unknown";
	if (!r->service)
		return NULL;
	a->key = "service.name";
	a->type = ATTR_STR;
	a->s = r->service;
	a->len = (uint32_t)strlen(r->service);
	r->attrs.v = a;
	r->attrs.n = 1;
	c->res[c->n_res++] = r;
	return r;
}

enum nd_field { NF_OTHER, NF_TIME, NF_SERVICE, NF_SEVERITY, NF_BODY, NF_TRACE, NF_SPAN, NF_COUNT };

/* The known field names: the one table of them. */
static const struct {
	const char *name;
	enum nd_field field;
} nd_fields[] = {
	{ "time", NF_TIME },       { "timestamp", NF_TIME }, { "ts", NF_TIME },
	{ "service", NF_SERVICE }, { "service.name", NF_SERVICE },
	{ "severity", NF_SEVERITY }, { "level", NF_SEVERITY },
	{ "body", NF_BODY },       { "message", NF_BODY },   { "msg", NF_BODY },
	{ "trace_id", NF_TRACE },  { "traceId", NF_TRACE },
	{ "span_id", NF_SPAN },    { "spanId", NF_SPAN },
};

static enum nd_field classify(const struct jval *m)
{
	if (m->klen < 2 || m->klen > 12)
		return NF_OTHER;
	for (size_t i = 0; i < sizeof(nd_fields) / sizeof(nd_fields[0]); i++)
		if (dec_eq(m->key, m->klen, nd_fields[i].name))
			return nd_fields[i].field;
	return NF_OTHER;
}

/* Decodes one parsed line; returns a reason to reject it, or NULL. rc gets hard errors. */
static const char *nd_line(struct nd *c, const struct jval *o, int64_t now_ns, int *rc)
{
	if (o->type != J_OBJ)
		return "line is not a JSON object";
	/* one pass over the members: the first of each known field wins */
	const struct jval *known[NF_COUNT] = { 0 };
	uint32_t n_other = 0;
	for (const struct jval *m = o->child; m; m = m->next) {
		enum nd_field f = classify(m);
		if (f == NF_OTHER)
			n_other++;
		else if (!known[f])
			known[f] = m;
	}
	const struct jval *v;
	int64_t t = now_ns;
	if ((v = known[NF_TIME]) && v->type != J_NULL) {
		if (v->type != J_STR && v->type != J_NUM)
			return "time is neither a string nor a number";
		if (v->type == J_NUM && memchr(v->s, '.', v->len)) {
			double d;
			if (!jdom_f64(v, &d) || !(d > 0 && d < 9.2e9))
				return "time is not a valid unix timestamp";
			t = (int64_t)(d * 1e9);
		} else if (ooda_time_parse(v->s, v->len, &t) != 0) {
			return "time is not RFC 3339 or a unix timestamp from 1970 to 2262";
		}
	}
	uint8_t trace[16], span[8];
	bool has_t = false, has_s = false;
	if ((v = known[NF_TRACE]) && !(v->type == J_STR && v->len == 0) && v->type != J_NULL) {
		if (v->type != J_STR || hex_decode(v->s, v->len, trace, 16))
			return "trace_id is not 32 hex digits";
		has_t = true;
	}
	if ((v = known[NF_SPAN]) && !(v->type == J_STR && v->len == 0) && v->type != J_NULL) {
		if (v->type != J_STR || hex_decode(v->s, v->len, span, 8))
			return "span_id is not 16 hex digits";
		has_s = true;
	}
	const char *svc = "";
	size_t svclen = 0;
	if ((v = known[NF_SERVICE]) && v->type == J_STR) {
		if (v->len > DECODE_MAX_ATTR_LEN)
			return "service longer than 65536 bytes";
		svc = v->s;
		svclen = v->len;
	}
	/* the body obeys the attribute limit, as in OTLP; checked before anything is pushed */
	if ((v = known[NF_BODY]) && v->type != J_NULL) {
		size_t blen = v->len;
		if (v->type != J_STR) {
			buf_reset(&c->d.scratch);
			jdom_write(&c->d.scratch, v);
			blen = c->d.scratch.len;
		}
		if (blen > DECODE_MAX_ATTR_LEN)
			return "body longer than 65536 bytes";
	}
	const struct resource *res = service_resource(c, svc, svclen);
	if (!res) {
		*rc = c->d.rc;
		return NULL;
	}
	struct log_record *lr = dec_push_log(&c->d);
	if (!lr) {
		*rc = c->d.rc;
		return NULL;
	}
	lr->resource = res;
	lr->time_ns = t;
	lr->observed_ns = now_ns;
	if (has_t)
		memcpy(lr->trace_id, trace, 16);
	if (has_s)
		memcpy(lr->span_id, span, 8);
	lr->has_trace_id = has_t;
	lr->has_span_id = has_s;
	if ((v = known[NF_SEVERITY])) {
		int64_t n;
		if (v->type == J_STR) {
			int sev = dec_severity_text(v->s, v->len);
			if (sev < 0 && jdom_i64(v, &n) && n >= 0 && n <= 24)
				sev = (int)n; /* "17" */
			lr->severity = sev > 0 ? (uint8_t)sev : 0;
			lr->severity_text = dec_strndup(&c->d, v->s, v->len);
		} else if (v->type == J_NUM && jdom_i64(v, &n) && n >= 0 && n <= 24) {
			lr->severity = (uint8_t)n;
		}
	}
	if ((v = known[NF_BODY]) && v->type != J_NULL) {
		if (v->type == J_STR) {
			lr->body = dec_strndup(&c->d, v->s, v->len);
			lr->body_len = v->len;
		} else {
			buf_reset(&c->d.scratch);
			jdom_write(&c->d.scratch, v);
			lr->body = dec_strndup(&c->d, c->d.scratch.data, c->d.scratch.len);
			lr->body_len = (uint32_t)c->d.scratch.len;
		}
	}
	if (n_other) {
		uint32_t cap = 0;
		/* size the attribute array once for the flat case */
		lr->attrs.v = dec_alloc(&c->d, n_other * sizeof(struct attr));
		if (lr->attrs.v)
			cap = n_other;
		const char *why = NULL;
		for (const struct jval *m = o->child; m && !c->d.rc; m = m->next) {
			if (classify(m) != NF_OTHER)
				continue;
			if (dec_json_attr(&c->d, m, &lr->attrs, &cap, &why) == 1) {
				c->d.b->n_logs--;
				return why;
			}
		}
	}
	if (c->d.rc) {
		*rc = c->d.rc;
		return NULL;
	}
	return NULL;
}

int ndjson_decode_logs(const void *body, size_t len, int64_t now_ns, struct telemetry_batch *batch,
		       struct buf *report, struct buf *err)
{
	struct nd c = { .report = report };
	dec_init(&c.d, batch, err);
	struct arena scratch;
	arena_init(&scratch, 16 * 1024);
	if (report)
		buf_addch(report, '[');
	struct buf jerr = BUF_INIT;
	const char *p = body, *end = p + len;
	int rc = 0;
	for (size_t line = 1; p < end && !rc; line++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *s = p;
		p = nl ? nl + 1 : end;
		while (s < le && (*s == ' ' || *s == '\t'))
			s++;
		const char *e = le;
		while (e > s && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (s == e)
			continue;
		if ((size_t)(e - s) > NDJSON_MAX_LINE) {
			line_error(&c, line, "line longer than 1 MiB");
			continue;
		}
		arena_reset(&scratch);
		buf_reset(&jerr);
		const struct jval *o = jdom_parse(&scratch, s, (size_t)(e - s), &jerr);
		if (!o) {
			char msg[160];
			/* the reader says "line 1, column C"; within an NDJSON line only the column matters */
			const char *col = strstr(jerr.data, "column ");
			snprintf(msg, sizeof(msg), "invalid JSON at %s", col ? col : jerr.data);
			line_error(&c, line, msg);
			continue;
		}
		const char *why = nd_line(&c, o, now_ns, &rc);
		if (why)
			line_error(&c, line, why);
	}
	if (report)
		buf_addch(report, ']');
	buf_release(&jerr);
	arena_release(&scratch);
	dec_release(&c.d);
	return rc;
}
