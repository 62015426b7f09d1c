/*
 * The Prometheus text and OpenMetrics decoders (scrape_text.h): one pass
 * over the body, line by line, every read bounded by the line's end. A
 * line is a comment (# HELP, # TYPE, # UNIT, # EOF; other comments are
 * skipped) or a sample: name, optional {labels}, value, optional
 * timestamp and, in OpenMetrics, an optional exemplar after " # ".
 */
#include "ingest/scrape_text.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "core/time.h"
#include "ingest/decode_util.h"

struct line {
	const char *p, *end; /* the unread rest of the line */
	size_t no;           /* 1-based line number */
};

struct ctx {
	struct dec d;
	const struct scrape_text_opts *o;
	struct scrape_text_result *res;
	size_t meta_cap;
	const struct resource *last_res;
	struct buf val; /* an unescaped label value or help text */
};

static int line_error(struct ctx *c, const struct line *l, const char *what)
{
	if (c->d.err)
		buf_addf(c->d.err, "line %zu: %s", l->no, what);
	return OODA_EPARSE;
}

static void skip_blank(struct line *l)
{
	while (l->p < l->end && (*l->p == ' ' || *l->p == '\t'))
		l->p++;
}

static bool name_start(char ch)
{
	return isalpha((unsigned char)ch) || ch == '_' || ch == ':';
}

static bool name_char(char ch)
{
	return isalnum((unsigned char)ch) || ch == '_' || ch == ':';
}

/* A metric or label name at l->p; *n its length (0: none there). */
static const char *read_name(struct line *l, size_t *n, bool colon_ok)
{
	const char *s = l->p;
	if (l->p < l->end && name_start(*l->p) && (colon_ok || *l->p != ':'))
		l->p++;
	else {
		*n = 0;
		return s;
	}
	while (l->p < l->end && name_char(*l->p) && (colon_ok || *l->p != ':'))
		l->p++;
	*n = (size_t)(l->p - s);
	return s;
}

/* The next blank-separated token; *n 0 at the end of the line. */
static const char *read_token(struct line *l, size_t *n)
{
	skip_blank(l);
	const char *s = l->p;
	while (l->p < l->end && *l->p != ' ' && *l->p != '\t')
		l->p++;
	*n = (size_t)(l->p - s);
	return s;
}

/* A float as both formats write it: decimal, NaN, +Inf, -Inf (strtod also takes what Go's ParseFloat does). */
static bool parse_float(const char *s, size_t n, double *out)
{
	char tmp[64];
	if (!n || n >= sizeof(tmp))
		return false;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	char *end;
	errno = 0;
	double v = strtod(tmp, &end);
	if (end != tmp + n || (errno == ERANGE && v != 0 && !isinf(v)))
		return false;
	*out = v;
	return true;
}

/* A timestamp: integer milliseconds (text format) or float seconds (OpenMetrics) → ns. */
static bool parse_timestamp(const char *s, size_t n, bool openmetrics, int64_t *ns)
{
	/* plain decimal seconds are read exactly (a double would lose the milliseconds of today's times) */
	size_t i = 0, dot = n;
	while (i < n && ((s[i] >= '0' && s[i] <= '9') || (s[i] == '.' && dot == n)))
		if (s[i++] == '.')
			dot = i - 1;
	if (openmetrics && i == n && dot > 0 && dot <= 10) {
		int64_t sec = 0, frac = 0;
		for (size_t k = 0; k < dot; k++)
			sec = sec * 10 + (s[k] - '0');
		for (size_t k = dot + 1, d = 0; d < 9; d++, k++)
			frac = frac * 10 + (k < n ? s[k] - '0' : 0);
		*ns = sec * OODA_NS_PER_SEC + frac;
		return ooda_time_valid(*ns);
	}
	double v;
	if (!parse_float(s, n, &v) || !isfinite(v))
		return false;
	double t = openmetrics ? v * 1e9 : v * 1e6;
	if (!openmetrics && v != floor(v))
		return false;
	if (t < 0 || t > 9.2e18)
		return false;
	*ns = (int64_t)llround(t);
	return ooda_time_valid(*ns);
}

/* Unescapes a quoted label value (\\ \" \n) starting after its opening quote; leaves l after the closing one. */
static int read_quoted(struct ctx *c, struct line *l)
{
	buf_reset(&c->val);
	while (l->p < l->end) {
		char ch = *l->p++;
		if (ch == '"')
			return 0;
		if (ch == '\\' && l->p < l->end) {
			char e = *l->p++;
			ch = e == 'n' ? '\n' : e;
			if (e != 'n' && e != '\\' && e != '"') /* unknown escapes stay as written */
				buf_addch(&c->val, '\\');
		}
		buf_addch(&c->val, ch);
	}
	return line_error(c, l, "label value without its closing quote");
}

struct lbl {
	const char *name;
	size_t nlen;
	const char *value; /* in the arena */
	size_t vlen;
};

/* {name="value",...} at l->p (after '{'); fills v (up to SCRAPE_MAX_LABELS). */
static int read_labels(struct ctx *c, struct line *l, struct lbl *v, size_t *n)
{
	*n = 0;
	for (;;) {
		skip_blank(l);
		if (l->p < l->end && *l->p == '}') {
			l->p++;
			return 0;
		}
		size_t nl;
		const char *name = read_name(l, &nl, false);
		if (!nl)
			return line_error(c, l, "expected a label name or '}'");
		skip_blank(l);
		if (l->p >= l->end || *l->p != '=')
			return line_error(c, l, "expected '=' after the label name");
		l->p++;
		skip_blank(l);
		if (l->p >= l->end || *l->p != '"')
			return line_error(c, l, "expected a quoted label value");
		l->p++;
		int rc = read_quoted(c, l);
		if (rc)
			return rc;
		if (nl > DECODE_MAX_ATTR_LEN || c->val.len > DECODE_MAX_ATTR_LEN) {
			if (c->d.err)
				buf_addf(c->d.err, "line %zu: label longer than %u bytes", l->no, DECODE_MAX_ATTR_LEN);
			return OODA_ELIMIT;
		}
		for (size_t i = 0; i < *n; i++)
			if (v[i].nlen == nl && !memcmp(v[i].name, name, nl))
				return line_error(c, l, "duplicate label name");
		if (*n >= SCRAPE_MAX_LABELS) {
			if (c->d.err)
				buf_addf(c->d.err, "line %zu: more than %d labels on one series", l->no, SCRAPE_MAX_LABELS);
			return OODA_ELIMIT;
		}
		char *val = dec_strndup(&c->d, c->val.len ? c->val.data : "", c->val.len);
		if (!val)
			return c->d.rc;
		v[(*n)++] = (struct lbl){ name, nl, val, c->val.len };
		skip_blank(l);
		if (l->p < l->end && *l->p == ',') {
			l->p++;
			continue;
		}
		if (l->p < l->end && *l->p == '}') {
			l->p++;
			return 0;
		}
		return line_error(c, l, "expected ',' or '}' after a label value");
	}
}

/* The metadata entry of family name, appended when it is not the last one seen. */
static struct scrape_meta *meta_for(struct ctx *c, const char *name, size_t n)
{
	struct scrape_text_result *r = c->res;
	if (r->n_meta && !strncmp(r->meta[r->n_meta - 1].name, name, n) && !r->meta[r->n_meta - 1].name[n])
		return &r->meta[r->n_meta - 1];
	if (r->n_meta >= SCRAPE_MAX_METADATA)
		return NULL;
	struct scrape_meta *m = dec_grow(&c->d, r->meta, r->n_meta, &c->meta_cap, sizeof(*m), SCRAPE_MAX_METADATA,
					 "metric families");
	if (!m)
		return NULL;
	r->meta = m;
	char *nm = dec_strndup(&c->d, name, n);
	if (!nm)
		return NULL;
	m[r->n_meta] = (struct scrape_meta){ .name = nm, .type = "unknown", .help = "", .unit = "" };
	return &m[r->n_meta++];
}

/* Types by format, and the name /api/v1/metadata gives each. */
static const struct {
	const char *word, *as;
	bool promtext, openmetrics;
} family_types[] = {
	{ "counter", "counter", true, true },	     { "gauge", "gauge", true, true },
	{ "histogram", "histogram", true, true },    { "summary", "summary", true, true },
	{ "untyped", "unknown", true, false },	     { "unknown", "unknown", false, true },
	{ "gaugehistogram", "gaugehistogram", false, true }, { "info", "info", false, true },
	{ "stateset", "stateset", false, true },
};

/* # HELP / # TYPE / # UNIT / # EOF; other comments are skipped. Returns 1 for # EOF. */
static int read_comment(struct ctx *c, struct line *l)
{
	bool om = c->o->format == SCRAPE_OPENMETRICS;
	l->p++; /* '#' */
	size_t kn;
	const char *kw = read_token(l, &kn);
	if (kn == 3 && !memcmp(kw, "EOF", 3))
		return om ? 1 : 0;
	bool help = kn == 4 && !memcmp(kw, "HELP", 4), type = kn == 4 && !memcmp(kw, "TYPE", 4),
	     unit = om && kn == 4 && !memcmp(kw, "UNIT", 4);
	if (!help && !type && !unit)
		return 0;
	skip_blank(l);
	size_t nn;
	const char *name = read_name(l, &nn, true);
	if (!nn)
		return line_error(c, l, "expected a metric name after # HELP, # TYPE or # UNIT");
	if (l->p < l->end && *l->p != ' ' && *l->p != '\t')
		return line_error(c, l, "invalid character in a metric name");
	struct scrape_meta *m = meta_for(c, name, nn);
	if (!m)
		return c->d.rc;
	if (type) {
		size_t tn;
		const char *t = read_token(l, &tn);
		for (size_t i = 0; i < sizeof(family_types) / sizeof(family_types[0]); i++)
			if ((om ? family_types[i].openmetrics : family_types[i].promtext) && strlen(family_types[i].word) == tn &&
			    !memcmp(family_types[i].word, t, tn)) {
				m->type = family_types[i].as;
				return 0;
			}
		return line_error(c, l, "unknown metric type in # TYPE");
	}
	if (l->p < l->end)
		l->p++; /* the one separating blank: the text keeps the rest as written */
	buf_reset(&c->val);
	while (l->p < l->end) {
		char ch = *l->p++;
		if (ch == '\\' && l->p < l->end) {
			char e = *l->p++;
			if (e == 'n')
				ch = '\n';
			else if (e == '\\' || (om && e == '"'))
				ch = e;
			else {
				buf_addch(&c->val, '\\');
				ch = e;
			}
		}
		buf_addch(&c->val, ch);
	}
	char *text = dec_strndup(&c->d, c->val.len ? c->val.data : "", c->val.len);
	if (!text)
		return c->d.rc;
	if (help)
		m->help = text;
	else
		m->unit = text;
	return 0;
}

static const struct resource *resource_for(struct ctx *c, const char *job, const char *instance)
{
	const struct resource *r = c->last_res;
	job = job ? job : "unknown";
	if (r && !strcmp(r->service, job) && ((!r->host && !instance) || (r->host && instance && !strcmp(r->host, instance))))
		return r;
	struct resource *nr = dec_zalloc(&c->d, sizeof(*nr));
	if (!nr)
		return NULL;
	nr->service = job;
	nr->host = instance;
	c->last_res = nr;
	return nr;
}

static bool lbl_is(const struct lbl *x, const char *name)
{
	return dec_eq(x->name, x->nlen, name);
}

/* Appends label name=value (both copied) to as. */
static int attr_add(struct ctx *c, struct attrs *as, uint32_t *cap, const char *name, size_t nl, const char *value,
		    size_t vl)
{
	struct attr *a = dec_push_attr(&c->d, as, cap);
	if (!a || !(a->key = dec_strndup(&c->d, name, nl)))
		return c->d.rc ? c->d.rc : OODA_ETOOBIG;
	a->type = ATTR_STR;
	a->s = value;
	a->len = (uint32_t)vl;
	return 0;
}

/*
 * The labels of one series after Prometheus' merge: the scraped ones
 * (empty values dropped), the target's on top (or under them with
 * honor_labels), a clash renamed exported_<name>.
 */
static int merge_labels(struct ctx *c, const struct lbl *v, size_t n, struct attrs *as, const char **job,
			const char **instance)
{
	uint32_t cap = 0;
	const struct scrape_text_opts *o = c->o;
	int rc;
	for (size_t i = 0; i < n; i++) {
		if (!v[i].vlen)
			continue;
		bool clash = false;
		for (size_t t = 0; t < o->n_target; t++)
			if (o->target[t].value && *o->target[t].value && lbl_is(&v[i], o->target[t].name))
				clash = true;
		if (clash && !o->honor_labels) {
			char *nm = dec_alloc(&c->d, v[i].nlen + 10);
			if (!nm)
				return c->d.rc;
			memcpy(nm, "exported_", 9);
			memcpy(nm + 9, v[i].name, v[i].nlen);
			nm[9 + v[i].nlen] = '\0';
			if ((rc = attr_add(c, as, &cap, nm, v[i].nlen + 9, v[i].value, v[i].vlen)))
				return rc;
			continue;
		}
		if ((rc = attr_add(c, as, &cap, v[i].name, v[i].nlen, v[i].value, v[i].vlen)))
			return rc;
		if (lbl_is(&v[i], "job"))
			*job = v[i].value;
		else if (lbl_is(&v[i], "instance"))
			*instance = v[i].value;
	}
	for (size_t t = 0; t < o->n_target; t++) {
		const struct scrape_label *tl = &o->target[t];
		if (!tl->value || !*tl->value)
			continue;
		bool kept = false;
		if (o->honor_labels)
			for (size_t i = 0; i < n; i++)
				if (v[i].vlen && lbl_is(&v[i], tl->name))
					kept = true;
		if (kept)
			continue;
		if ((rc = attr_add(c, as, &cap, tl->name, strlen(tl->name), tl->value, strlen(tl->value))))
			return rc;
		if (!strcmp(tl->name, "job"))
			*job = tl->value;
		else if (!strcmp(tl->name, "instance"))
			*instance = tl->value;
	}
	if (as->n > SCRAPE_MAX_LABELS) {
		if (c->d.err)
			buf_addf(c->d.err, "more than %d labels on one series once the target's are added", SCRAPE_MAX_LABELS);
		return OODA_ELIMIT;
	}
	return 0;
}

static bool hex_digit(char ch, uint8_t *v)
{
	if (ch >= '0' && ch <= '9')
		*v = (uint8_t)(ch - '0');
	else if (ch >= 'a' && ch <= 'f')
		*v = (uint8_t)(ch - 'a' + 10);
	else if (ch >= 'A' && ch <= 'F')
		*v = (uint8_t)(ch - 'A' + 10);
	else
		return false;
	return true;
}

static bool hex_bytes(const char *s, size_t n, uint8_t *out, size_t want)
{
	if (n != 2 * want)
		return false;
	for (size_t i = 0; i < want; i++) {
		uint8_t hi, lo;
		if (!hex_digit(s[2 * i], &hi) || !hex_digit(s[2 * i + 1], &lo))
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

/* An OpenMetrics exemplar after " # ": {labels} value [timestamp]. */
static int read_exemplar(struct ctx *c, struct line *l, struct metric_point *pt, struct lbl *scratch)
{
	skip_blank(l);
	if (l->p >= l->end || *l->p != '{')
		return line_error(c, l, "expected '{' to open an exemplar's labels");
	l->p++;
	size_t n;
	int rc = read_labels(c, l, scratch, &n);
	if (rc)
		return rc;
	size_t vn, tn;
	const char *vs = read_token(l, &vn);
	struct exemplar *ex = dec_zalloc(&c->d, sizeof(*ex));
	if (!ex)
		return c->d.rc;
	if (!parse_float(vs, vn, &ex->value))
		return line_error(c, l, "expected an exemplar value");
	const char *ts = read_token(l, &tn);
	ex->time_ns = pt->time_ns;
	if (tn && !parse_timestamp(ts, tn, true, &ex->time_ns))
		return line_error(c, l, "bad exemplar timestamp");
	uint32_t cap = 0;
	for (size_t i = 0; i < n; i++) {
		if (lbl_is(&scratch[i], "trace_id") || lbl_is(&scratch[i], "traceID") || lbl_is(&scratch[i], "traceId")) {
			if (hex_bytes(scratch[i].value, scratch[i].vlen, ex->trace_id, 16))
				ex->has_trace_id = true;
		} else if (lbl_is(&scratch[i], "span_id") || lbl_is(&scratch[i], "spanID") || lbl_is(&scratch[i], "spanId")) {
			if (hex_bytes(scratch[i].value, scratch[i].vlen, ex->span_id, 8))
				ex->has_span_id = true;
		}
		if ((rc = attr_add(c, &ex->attrs, &cap, scratch[i].name, scratch[i].nlen, scratch[i].value, scratch[i].vlen)))
			return rc;
	}
	pt->exemplars = ex;
	pt->n_exemplars = 1;
	return 0;
}

static int read_sample(struct ctx *c, struct line *l, struct lbl *v, struct lbl *scratch)
{
	bool om = c->o->format == SCRAPE_OPENMETRICS;
	size_t nn, n = 0;
	const char *name = read_name(l, &nn, true);
	if (!nn)
		return line_error(c, l, "expected a metric name");
	if (nn > DECODE_MAX_ATTR_LEN) {
		if (c->d.err)
			buf_addf(c->d.err, "line %zu: metric name longer than %u bytes", l->no, DECODE_MAX_ATTR_LEN);
		return OODA_ELIMIT;
	}
	int rc;
	const char *after_name = l->p;
	if (!om) /* the text format allows blanks before the labels */
		skip_blank(l);
	if (l->p < l->end && *l->p != '{')
		l->p = after_name;
	if (l->p < l->end && *l->p == '{') {
		l->p++;
		if ((rc = read_labels(c, l, v, &n)))
			return rc;
	}
	if (l->p >= l->end || (*l->p != ' ' && *l->p != '\t'))
		return line_error(c, l, "expected a blank and the value after the metric name or labels");
	size_t vn, tn;
	const char *vs = read_token(l, &vn);
	double value;
	if (!parse_float(vs, vn, &value))
		return line_error(c, l, "expected a float value (such as 1, 2.5e3, NaN, +Inf)");
	int64_t t_ns = c->o->now_ns;
	const char *ts = read_token(l, &tn);
	bool exemplar = false;
	if (tn == 1 && *ts == '#' && om)
		exemplar = true;
	else if (tn) {
		int64_t got;
		if (!parse_timestamp(ts, tn, om, &got))
			return line_error(c, l, om ? "expected a timestamp in seconds" : "expected a timestamp in milliseconds");
		if (c->o->honor_timestamps)
			t_ns = got;
		size_t hn;
		const char *h = read_token(l, &hn);
		if (hn == 1 && *h == '#' && om)
			exemplar = true;
		else if (hn)
			return line_error(c, l, "unexpected text after the timestamp");
	}
	size_t limit = c->o->sample_limit ? c->o->sample_limit : SCRAPE_MAX_SAMPLES;
	if (c->res->samples >= limit) {
		if (c->d.err)
			buf_addf(c->d.err, "sample limit of %zu exceeded", limit);
		return OODA_ELIMIT;
	}
	struct metric_point *pt = dec_push_point(&c->d);
	if (!pt)
		return c->d.rc;
	if (!(pt->name = dec_strndup(&c->d, name, nn)))
		return c->d.rc;
	const char *job = NULL, *instance = NULL;
	if ((rc = merge_labels(c, v, n, &pt->attrs, &job, &instance)))
		return rc;
	if (!(pt->resource = resource_for(c, job, instance)))
		return c->d.rc;
	pt->type = METRIC_GAUGE;
	pt->value = value;
	pt->time_ns = t_ns;
	c->res->samples++;
	if (exemplar && (rc = read_exemplar(c, l, pt, scratch)))
		return rc;
	return 0;
}

enum scrape_format scrape_format_of(const char *ct)
{
	if (!ct)
		return SCRAPE_PROMTEXT;
	while (*ct == ' ')
		ct++;
	return strncasecmp(ct, "application/openmetrics-text", 28) ? SCRAPE_PROMTEXT : SCRAPE_OPENMETRICS;
}

int scrape_text_decode(const char *body, size_t len, const struct scrape_text_opts *o,
		       struct telemetry_batch *batch, struct scrape_text_result *res, struct buf *err)
{
	*res = (struct scrape_text_result){ 0 };
	struct ctx c = { .o = o, .res = res, .val = BUF_INIT };
	dec_init(&c.d, batch, err);
	struct lbl *v = xcalloc(2 * SCRAPE_MAX_LABELS, sizeof(*v));
	bool om = o->format == SCRAPE_OPENMETRICS, eof = false;
	int rc = 0;
	const char *p = body, *end = body + len;
	struct line l = { 0 };
	while (!rc && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		l = (struct line){ p, le, l.no + 1 };
		p = nl ? nl + 1 : end;
		if ((size_t)(le - l.p) > SCRAPE_MAX_LINE) {
			if (err)
				buf_addf(err, "line %zu: longer than %zu bytes", l.no, SCRAPE_MAX_LINE);
			rc = OODA_ELIMIT;
			break;
		}
		if (eof) {
			rc = line_error(&c, &l, "text after # EOF");
			break;
		}
		if (le > l.p && le[-1] == '\r' && !om)
			l.end--;
		if (!om)
			skip_blank(&l);
		if (l.p == l.end) {
			if (om && nl)
				rc = line_error(&c, &l, "empty line (OpenMetrics has none)");
			continue;
		}
		if (*l.p == '#') {
			int r = read_comment(&c, &l);
			if (r == 1)
				eof = true;
			else
				rc = r;
			continue;
		}
		rc = read_sample(&c, &l, v, v + SCRAPE_MAX_LABELS);
	}
	if (!rc && om && !eof) {
		if (err)
			buf_adds(err, "OpenMetrics body does not end with # EOF (truncated?)");
		rc = OODA_EPARSE;
	}
	if (!rc && c.d.rc)
		rc = c.d.rc;
	free(v);
	buf_release(&c.val);
	dec_release(&c.d);
	return rc;
}
