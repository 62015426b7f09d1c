/*
 * PromQL pieces shared by parser and evaluator and the API edge: label
 * matchers (PCRE2 regexes compiled into the caller's arena, so an
 * expression is freed with its arena), staleness markers, and the
 * Prometheus query API JSON for results ("data" member).
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <math.h>
#include <pcre2.h>

#include "query/promql_impl.h"

static void *re_alloc(size_t size, void *ctx)
{
	return arena_alloc(ctx, size);
}

static void re_free(void *ptr, void *ctx)
{
	(void)ptr;
	(void)ctx; /* the arena frees everything at once */
}

const void *pq_regex_compile(struct arena *a, const char *re, size_t len, struct buf *err)
{
	pcre2_general_context *g = pcre2_general_context_create(re_alloc, re_free, a);
	pcre2_compile_context *cc = g ? pcre2_compile_context_create(g) : NULL;
	if (!cc) {
		buf_adds(err, "out of memory");
		return NULL;
	}
	/* anchored at both ends like every PromQL regex: ^(?:re)$ */
	struct buf pat = BUF_INIT;
	buf_adds(&pat, "^(?:");
	buf_add(&pat, re, len);
	buf_adds(&pat, ")$");
	int ec;
	PCRE2_SIZE eo;
	pcre2_code *code = pcre2_compile((PCRE2_SPTR)pat.data, pat.len,
					 PCRE2_DOTALL | PCRE2_DOLLAR_ENDONLY | PCRE2_UTF |
						 PCRE2_MATCH_INVALID_UTF,
					 &ec, &eo, cc);
	buf_release(&pat);
	if (!code) {
		PCRE2_UCHAR msg[160];
		pcre2_get_error_message(ec, msg, sizeof(msg));
		buf_addf(err, "%s", (const char *)msg);
		return NULL;
	}
	return code;
}

bool pq_regex_match(const void *code, const char *s, size_t len)
{
	pcre2_match_data *md = pcre2_match_data_create(1, NULL);
	if (!md)
		return false;
	int rc = pcre2_match(code, (PCRE2_SPTR)s, len, 0, 0, md, NULL);
	pcre2_match_data_free(md);
	return rc >= 0;
}

static const char *label_get(const struct promql_label *l, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(l[i].name, name) == 0)
			return l[i].value;
	return "";
}

bool promql_matchers_match(const struct promql_matcher *m, size_t n,
			   const struct promql_label *labels, size_t n_labels)
{
	for (size_t i = 0; i < n; i++) {
		const char *v = label_get(labels, n_labels, m[i].name);
		bool ok;
		switch (m[i].op) {
		case PROMQL_EQ: ok = strcmp(v, m[i].value) == 0; break;
		case PROMQL_NE: ok = strcmp(v, m[i].value) != 0; break;
		case PROMQL_RE: ok = m[i].re && pq_regex_match(m[i].re, v, strlen(v)); break;
		case PROMQL_NRE: ok = !(m[i].re && pq_regex_match(m[i].re, v, strlen(v))); break;
		default: ok = false;
		}
		if (!ok)
			return false;
	}
	return true;
}

bool promql_is_stale(double v)
{
	uint64_t bits;
	memcpy(&bits, &v, sizeof(bits));
	return bits == PROMQL_STALE_NAN_BITS;
}

/* ---- JSON ---- */

/* Shortest decimal that reads back as v, never in exponent form. */
void pq_format_float(struct buf *out, double v)
{
	if (isnan(v)) {
		buf_adds(out, "NaN");
		return;
	}
	if (isinf(v)) {
		buf_adds(out, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	if (v == 0) {
		buf_adds(out, signbit(v) ? "-0" : "0");
		return;
	}
	char e[48];
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(e, sizeof(e), "%.*e", prec - 1, v);
		if (strtod(e, NULL) == v)
			break;
	}
	const char *s = e;
	if (*s == '-') {
		buf_addch(out, '-');
		s++;
	}
	char digits[24];
	int nd = 0;
	for (; *s && *s != 'e'; s++)
		if (*s != '.' && nd < (int)sizeof(digits) - 1)
			digits[nd++] = *s;
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	int x = *s == 'e' ? atoi(s + 1) : 0;
	if (x >= 0) {
		for (int i = 0; i <= x; i++)
			buf_addch(out, i < nd ? digits[i] : '0');
		if (nd > x + 1) {
			buf_addch(out, '.');
			buf_add(out, digits + x + 1, (size_t)(nd - x - 1));
		}
	} else {
		buf_adds(out, "0.");
		for (int i = 0; i < -x - 1; i++)
			buf_addch(out, '0');
		buf_add(out, digits, (size_t)nd);
	}
}

/* Unix seconds with up to millisecond precision, as a JSON number. */
static void add_ts(struct buf *out, int64_t ms)
{
	uint64_t a = ms < 0 ? (uint64_t)0 - (uint64_t)ms : (uint64_t)ms;
	if (ms < 0)
		buf_addch(out, '-');
	buf_addf(out, "%llu", (unsigned long long)(a / 1000));
	unsigned frac = (unsigned)(a % 1000);
	if (frac) {
		char f[8];
		snprintf(f, sizeof(f), "%03u", frac);
		int n = 3;
		while (n > 0 && f[n - 1] == '0')
			n--;
		buf_addch(out, '.');
		buf_add(out, f, (size_t)n);
	}
}

static void add_point(struct buf *out, int64_t t, double v)
{
	buf_addch(out, '[');
	add_ts(out, t);
	buf_adds(out, ",\"");
	pq_format_float(out, v);
	buf_adds(out, "\"]");
}

static void add_metric(struct buf *out, const struct promql_series *s)
{
	buf_adds(out, "{\"metric\":{");
	for (uint32_t i = 0; i < s->n_labels; i++) {
		if (i)
			buf_addch(out, ',');
		buf_add_json_str(out, s->labels[i].name, strlen(s->labels[i].name));
		buf_addch(out, ':');
		buf_add_json_str(out, s->labels[i].value, strlen(s->labels[i].value));
	}
	buf_addch(out, '}');
}

void promql_value_json(const struct promql_value *v, struct buf *out)
{
	static const char *const names[] = { "scalar", "vector", "matrix", "string" };
	buf_addf(out, "{\"resultType\":\"%s\",\"result\":", names[v->type]);
	switch (v->type) {
	case PROMQL_SCALAR:
		add_point(out, v->t_ms, v->scalar);
		break;
	case PROMQL_STRING:
		buf_addch(out, '[');
		add_ts(out, v->t_ms);
		buf_addch(out, ',');
		buf_add_json_str(out, v->str ? v->str : "", v->str ? strlen(v->str) : 0);
		buf_addch(out, ']');
		break;
	case PROMQL_VECTOR:
	case PROMQL_MATRIX:
		buf_addch(out, '[');
		for (size_t i = 0; i < v->n_series; i++) {
			const struct promql_series *s = &v->series[i];
			if (i)
				buf_addch(out, ',');
			add_metric(out, s);
			if (v->type == PROMQL_VECTOR) {
				buf_adds(out, ",\"value\":");
				if (s->n_samples)
					add_point(out, s->samples[0].t_ms, s->samples[0].v);
				else
					add_point(out, v->t_ms, NAN);
			} else {
				buf_adds(out, ",\"values\":[");
				for (uint32_t k = 0; k < s->n_samples; k++) {
					if (k)
						buf_addch(out, ',');
					add_point(out, s->samples[k].t_ms, s->samples[k].v);
				}
				buf_addch(out, ']');
			}
			buf_addch(out, '}');
		}
		buf_addch(out, ']');
		break;
	}
	buf_addch(out, '}');
}
