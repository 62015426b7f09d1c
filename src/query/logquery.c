/*
 * The log search language (see logquery.h and docs/query.md): a recursive
 * descent parser from query text to a small tree of AND/OR/NOT nodes over
 * leaf terms, the evaluator that runs that tree over a log record, and the
 * prefilter hints the block store uses to skip blocks. Everything compiled
 * lives in one arena owned by the query, except PCRE2 codes, which are
 * freed one by one.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <strings.h>

#include "core/arena.h"
#include "core/error.h"
#include "query/logquery.h"

#define REGEX_MATCH_LIMIT 100000u
#define REGEX_DEPTH_LIMIT 5000u
#define REGEX_HEAP_LIMIT 4096u /* KiB */
#define MAX_HINT_TOKENS 32

enum node_kind {
	N_AND, N_OR, N_NOT,
	N_ALL,    /* empty query, bare '*' */
	N_WORD,   /* body: case-insensitive occurrence bounded by token edges */
	N_PREFIX, /* body: as N_WORD without the right edge */
	N_PHRASE, /* body: case-insensitive substring */
	N_REGEX,  /* body: PCRE2 */
	N_FIELD,  /* field op value */
};

enum field {
	F_SERVICE, F_SEVERITY, F_TRACE, F_SPAN, F_HOST, F_ENV, F_VERSION,
	F_REGION, F_SCOPE, F_ATTR,
};

enum op {
	OP_EQ,     /* ':' value, ignoring case (trace/span: hex prefix) */
	OP_PREFIX, /* ':' value* */
	OP_EXISTS, /* ':*' */
	OP_REGEX,  /* ':/re/' */
	OP_LT, OP_LE, OP_GT, OP_GE,
	OP_SEV,    /* severity range [lo, hi] */
};

struct node {
	uint8_t kind, field, op;
	bool quoted;      /* value was quoted: literal text */
	bool is_num;      /* value parses as a number */
	uint8_t lo, hi;   /* OP_SEV */
	const char *s;    /* needle / value, NUL-terminated; lowercased for body terms */
	size_t n;
	const char *key;  /* F_ATTR */
	double num;
	pcre2_code *re;
	struct node **kids;
	size_t n_kids;
};

struct logquery {
	struct arena arena;
	struct node *root;
	pcre2_code **res;
	size_t n_res;
	pcre2_match_context *mctx;
	struct logquery_hints hints;
};

struct parser {
	const char *q;
	size_t len, pos;
	int depth, terms;
	struct logquery *lq;
	struct buf *err;
	int rc;
};

/* ---- characters and text ------------------------------------------------ */

static bool tokch(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c >= 0x80;
}

static bool keych(unsigned char c)
{
	return tokch(c) || c == '.' || c == '-' || c == '@';
}

static bool wsch(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static unsigned char lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

static bool eq_nocase(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
			return false;
	return true;
}

/*
 * Finds lowercase needle in hay ignoring case. With left/right, an edge of
 * the needle that is a token character must sit on a token boundary of hay.
 */
static bool find_nocase(const char *hay, size_t hn, const char *needle, size_t nn,
			bool left, bool right)
{
	if (nn == 0)
		return true;
	if (nn > hn)
		return false;
	unsigned char first = (unsigned char)needle[0];
	bool lcheck = left && tokch(first);
	bool rcheck = right && tokch((unsigned char)needle[nn - 1]);
	for (size_t i = 0; i + nn <= hn; i++) {
		if (lower((unsigned char)hay[i]) != first)
			continue;
		if (lcheck && i > 0 && tokch((unsigned char)hay[i - 1]))
			continue;
		if (rcheck && i + nn < hn && tokch((unsigned char)hay[i + nn]))
			continue;
		if (eq_nocase(hay + i + 1, needle + 1, nn - 1))
			return true;
	}
	return false;
}

void logquery_tokens(const char *text, size_t len,
		     void (*fn)(void *ctx, const char *tok, size_t n), void *ctx)
{
	char tok[LOGQUERY_TOKEN_MAX];
	size_t i = 0;
	while (i < len) {
		while (i < len && !tokch((unsigned char)text[i]))
			i++;
		size_t n = 0;
		while (i < len && tokch((unsigned char)text[i])) {
			if (n < sizeof(tok))
				tok[n++] = (char)lower((unsigned char)text[i]);
			i++;
		}
		if (n)
			fn(ctx, tok, n);
	}
}

/* Parses all of s[0..n) as a finite number. */
static bool parse_num(const char *s, size_t n, double *out)
{
	char tmp[64];
	if (n == 0 || n >= sizeof(tmp))
		return false;
	memcpy(tmp, s, n);
	tmp[n] = 0;
	if (wsch((unsigned char)tmp[0]))
		return false;
	char *end;
	errno = 0;
	double d = strtod(tmp, &end);
	if (end != tmp + n || errno || !isfinite(d))
		return false;
	/* no hex floats, inf or nan spelled out */
	for (size_t i = 0; i < n; i++)
		if (!(isdigit((unsigned char)tmp[i]) || strchr("+-.eE", tmp[i])))
			return false;
	*out = d;
	return true;
}

/* ---- severity ----------------------------------------------------------- */

static const struct {
	const char *name;
	uint8_t lo;
} severities[] = {
	{ "trace", 1 }, { "debug", 5 }, { "info", 9 }, { "warn", 13 },
	{ "warning", 13 }, { "error", 17 }, { "fatal", 21 },
};

int logquery_severity_parse(const char *name, uint8_t *lo, uint8_t *hi)
{
	if (!name)
		return OODA_EINVAL;
	size_t n = strlen(name);
	if (n >= 1 && n <= 2 && isdigit((unsigned char)name[0]) &&
	    (n == 1 || isdigit((unsigned char)name[1]))) {
		int v = atoi(name);
		if (v < 1 || v > 24)
			return OODA_EINVAL;
		*lo = *hi = (uint8_t)v;
		return 0;
	}
	for (size_t i = 0; i < sizeof(severities) / sizeof(severities[0]); i++) {
		size_t k = strlen(severities[i].name);
		if (n < k || strncasecmp(name, severities[i].name, k) != 0)
			continue;
		if (n == k) {
			*lo = severities[i].lo;
			*hi = (uint8_t)(severities[i].lo + 3);
			return 0;
		}
		if (n == k + 1 && name[k] >= '1' && name[k] <= '4') {
			*lo = *hi = (uint8_t)(severities[i].lo + (name[k] - '1'));
			return 0;
		}
	}
	return OODA_EINVAL;
}

const char *logquery_severity_name(uint8_t sev)
{
	static const char *const names[] = { "trace", "debug", "info", "warn", "error", "fatal" };
	if (sev == 0 || sev > 24)
		return NULL;
	return names[(sev - 1) / 4];
}

/* ---- field values ------------------------------------------------------- */

static const struct {
	const char *name;
	uint8_t field;
} fields[] = {
	{ "service", F_SERVICE }, { "severity", F_SEVERITY }, { "level", F_SEVERITY },
	{ "trace_id", F_TRACE }, { "span_id", F_SPAN }, { "host", F_HOST },
	{ "env", F_ENV }, { "version", F_VERSION }, { "region", F_REGION },
	{ "scope", F_SCOPE },
};

static void hex(const uint8_t *b, size_t n, char *out, size_t size)
{
	static const char digits[] = "0123456789abcdef";
	size_t o = 0;
	for (size_t i = 0; i < n && o + 2 < size; i++) {
		out[o++] = digits[b[i] >> 4];
		out[o++] = digits[b[i] & 15];
	}
	if (size)
		out[o] = 0;
}

/* Renders attr a as text: pointer into a or tmp; *n its length. */
static const char *attr_text(const struct attr *a, char *tmp, size_t size, size_t *n)
{
	int k = 0;
	switch (a->type) {
	case ATTR_STR:
	case ATTR_JSON:
		*n = a->s ? a->len : 0;
		return a->s ? a->s : "";
	case ATTR_INT:
		k = snprintf(tmp, size, "%lld", (long long)a->i);
		break;
	case ATTR_DOUBLE:
		k = snprintf(tmp, size, "%.17g", a->d);
		break;
	case ATTR_BOOL:
		k = snprintf(tmp, size, "%s", a->b ? "true" : "false");
		break;
	case ATTR_BYTES:
		hex((const uint8_t *)a->s, a->s ? a->len : 0, tmp, size);
		k = (int)strlen(tmp);
		break;
	default:
		k = 0;
		if (size)
			tmp[0] = 0;
	}
	if (k < 0)
		k = 0;
	*n = (size_t)k < size ? (size_t)k : size ? size - 1 : 0;
	return tmp;
}

static const struct attr *attrs_find(const struct attrs *as, const char *key)
{
	for (uint32_t i = 0; i < as->n; i++)
		if (as->v[i].key && strcmp(as->v[i].key, key) == 0)
			return &as->v[i];
	return NULL;
}

const char *logquery_field_value(const struct log_record *r, const char *field,
				 char *tmp, size_t tmp_size)
{
	if (!r || !field || !tmp || tmp_size == 0)
		return NULL;
	const struct resource *res = r->resource;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (strcmp(field, fields[i].name) != 0)
			continue;
		switch (fields[i].field) {
		case F_SERVICE: return res ? res->service : NULL;
		case F_SEVERITY: return logquery_severity_name(r->severity);
		case F_HOST: return res ? res->host : NULL;
		case F_ENV: return res ? res->environment : NULL;
		case F_VERSION: return res ? res->service_version : NULL;
		case F_REGION: return res ? res->region : NULL;
		case F_SCOPE: return r->scope_name;
		case F_TRACE:
			if (!r->has_trace_id)
				return NULL;
			hex(r->trace_id, 16, tmp, tmp_size);
			return tmp;
		case F_SPAN:
			if (!r->has_span_id)
				return NULL;
			hex(r->span_id, 8, tmp, tmp_size);
			return tmp;
		}
	}
	if (strcmp(field, "body") == 0)
		return r->body;
	if (strncmp(field, "attr.", 5) == 0 && field[5])
		field += 5;
	const struct attr *a = attrs_find(&r->attrs, field);
	if (!a && res)
		a = attrs_find(&res->attrs, field);
	if (!a)
		return NULL;
	size_t n;
	const char *s = attr_text(a, tmp, tmp_size, &n);
	if (s != tmp && (a->type == ATTR_STR || a->type == ATTR_JSON))
		return s;
	return tmp;
}

/* ---- errors and allocation ---------------------------------------------- */

static struct node *fail(struct parser *p, size_t at, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static struct node *fail(struct parser *p, size_t at, int rc, const char *fmt, ...)
{
	if (p->rc)
		return NULL;
	p->rc = rc;
	if (p->err) {
		buf_addf(p->err, "query error at char %zu: ", at + 1);
		va_list ap;
		va_start(ap, fmt);
		buf_vaddf(p->err, fmt, ap);
		va_end(ap);
	}
	return NULL;
}

static struct node *new_node(struct parser *p, uint8_t kind)
{
	struct node *n = arena_zalloc(&p->lq->arena, sizeof(*n));
	if (!n)
		return fail(p, p->pos, OODA_ENOMEM, "out of memory");
	n->kind = kind;
	return n;
}

static struct node *new_leaf(struct parser *p, uint8_t kind, size_t at)
{
	if (++p->terms > LOGQUERY_MAX_TERMS)
		return fail(p, at, OODA_ELIMIT, "more than %d terms", LOGQUERY_MAX_TERMS);
	return new_node(p, kind);
}

static bool add_kid(struct parser *p, struct node *parent, struct node *kid)
{
	struct node **k = arena_alloc(&p->lq->arena, (parent->n_kids + 1) * sizeof(*k));
	if (!k) {
		fail(p, p->pos, OODA_ENOMEM, "out of memory");
		return false;
	}
	if (parent->n_kids)
		memcpy(k, parent->kids, parent->n_kids * sizeof(*k));
	k[parent->n_kids++] = kid;
	parent->kids = k;
	return true;
}

/* ---- lexing helpers ----------------------------------------------------- */

static int peek(const struct parser *p)
{
	return p->pos < p->len ? (unsigned char)p->q[p->pos] : -1;
}

static void skip_ws(struct parser *p)
{
	while (p->pos < p->len && wsch((unsigned char)p->q[p->pos]))
		p->pos++;
}

/* The end of a term: end of input, blank or parenthesis. */
static bool at_delim(const struct parser *p, size_t at)
{
	if (at >= p->len)
		return true;
	unsigned char c = (unsigned char)p->q[at];
	return wsch(c) || c == '(' || c == ')';
}

static bool at_keyword(const struct parser *p, const char *kw)
{
	size_t n = strlen(kw);
	return p->len - p->pos >= n && memcmp(p->q + p->pos, kw, n) == 0 &&
	       at_delim(p, p->pos + n);
}

/* Reads a quoted string at p->pos (on the '"'); returns it unescaped. */
static char *read_quoted(struct parser *p, size_t *n)
{
	size_t start = p->pos++;
	struct buf b = BUF_INIT;
	for (;;) {
		if (p->pos >= p->len) {
			buf_release(&b);
			fail(p, start, OODA_EPARSE, "unterminated quoted string");
			return NULL;
		}
		char c = p->q[p->pos++];
		if (c == '"')
			break;
		if (c == '\\') {
			if (p->pos >= p->len)
				continue; /* reported as unterminated above */
			c = p->q[p->pos++];
		}
		buf_addch(&b, c);
	}
	char *s = arena_strndup(&p->lq->arena, b.data, b.len);
	*n = b.len;
	buf_release(&b);
	if (!s)
		fail(p, start, OODA_ENOMEM, "out of memory");
	else if (!at_delim(p, p->pos))
		fail(p, p->pos, OODA_EPARSE, "expected a blank or ')' after the closing quote");
	return p->rc ? NULL : s;
}

/* Reads /re/flags at p->pos (on the '/') and compiles it. */
static pcre2_code *read_regex(struct parser *p)
{
	size_t start = p->pos++;
	size_t body = p->pos;
	while (p->pos < p->len && p->q[p->pos] != '/') {
		if (p->q[p->pos] == '\\' && p->pos + 1 < p->len)
			p->pos++;
		p->pos++;
	}
	if (p->pos >= p->len) {
		fail(p, start, OODA_EPARSE, "unterminated regular expression");
		return NULL;
	}
	size_t body_end = p->pos++;
	uint32_t opts = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
	while (p->pos < p->len && isalpha((unsigned char)p->q[p->pos])) {
		if (p->q[p->pos] != 'i') {
			fail(p, p->pos, OODA_EPARSE, "unknown regular expression flag '%c'",
			     p->q[p->pos]);
			return NULL;
		}
		opts |= PCRE2_CASELESS;
		p->pos++;
	}
	if (!at_delim(p, p->pos)) {
		fail(p, p->pos, OODA_EPARSE, "expected a blank or ')' after the regular expression");
		return NULL;
	}
	if (body_end == body) {
		fail(p, start, OODA_EPARSE, "empty regular expression");
		return NULL;
	}
	pcre2_compile_context *cctx = pcre2_compile_context_create(NULL);
	if (!cctx) {
		fail(p, start, OODA_ENOMEM, "out of memory");
		return NULL;
	}
	pcre2_set_parens_nest_limit(cctx, 32);
	int ec;
	PCRE2_SIZE eoff;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)(p->q + body), body_end - body, opts,
				       &ec, &eoff, cctx);
	pcre2_compile_context_free(cctx);
	if (!re) {
		PCRE2_UCHAR msg[256];
		if (pcre2_get_error_message(ec, msg, sizeof(msg)) < 0)
			snprintf((char *)msg, sizeof(msg), "error %d", ec);
		if (eoff > body_end - body)
			eoff = body_end - body;
		size_t at = body + eoff;
		if (at >= p->len)
			at = p->len - 1;
		fail(p, at, OODA_EPARSE, "bad regular expression: %s", (const char *)msg);
		return NULL;
	}
	pcre2_code **res = arena_alloc(&p->lq->arena, (p->lq->n_res + 1) * sizeof(*res));
	if (!res) {
		pcre2_code_free(re);
		fail(p, start, OODA_ENOMEM, "out of memory");
		return NULL;
	}
	if (p->lq->n_res)
		memcpy(res, p->lq->res, p->lq->n_res * sizeof(*res));
	res[p->lq->n_res++] = re;
	p->lq->res = res;
	(void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* interpreter if unavailable */
	return re;
}

/* ---- terms -------------------------------------------------------------- */

static char *lowered(struct parser *p, const char *s, size_t n)
{
	char *d = arena_strndup(&p->lq->arena, s, n);
	if (!d) {
		fail(p, p->pos, OODA_ENOMEM, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		d[i] = (char)lower((unsigned char)d[i]);
	return d;
}

/* A body term from bare text s[0..n) at offset at: word, prefix or all. */
static struct node *body_word(struct parser *p, const char *s, size_t n, size_t at)
{
	for (size_t i = 0; i + 1 < n; i++)
		if (s[i] == '*')
			return fail(p, at + i, OODA_EPARSE,
				    "'*' is only allowed at the end of a word");
	bool prefix = n && s[n - 1] == '*';
	if (prefix && n == 1)
		return new_leaf(p, N_ALL, at);
	struct node *nd = new_leaf(p, prefix ? N_PREFIX : N_WORD, at);
	if (!nd)
		return NULL;
	nd->n = prefix ? n - 1 : n;
	nd->s = lowered(p, s, nd->n);
	return nd->s ? nd : NULL;
}

static uint8_t cmp_op(struct parser *p)
{
	const char *c = p->q + p->pos;
	size_t left = p->len - p->pos;
	if (c[0] == ':') {
		p->pos++;
		return OP_EQ;
	}
	bool eq = left > 1 && c[1] == '=';
	p->pos += eq ? 2 : 1;
	if (c[0] == '<')
		return eq ? OP_LE : OP_LT;
	return eq ? OP_GE : OP_GT;
}

/* key op value, with p->pos on the operator. */
static struct node *field_term(struct parser *p, size_t kstart, size_t kend)
{
	const char *key = p->q + kstart;
	size_t klen = kend - kstart;
	size_t opat = p->pos;
	uint8_t op = cmp_op(p);
	size_t vat = p->pos;
	bool body = klen == 4 && memcmp(key, "body", 4) == 0;
	int c = peek(p);
	if (c < 0 || wsch((unsigned char)c) || c == ')' || c == '(')
		return fail(p, vat, OODA_EPARSE, "missing value after '%.*s'",
			    (int)(vat - opat), p->q + opat);

	int field = F_ATTR;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (strlen(fields[i].name) == klen && memcmp(fields[i].name, key, klen) == 0)
			field = fields[i].field;
	if (field == F_ATTR && klen > 5 && memcmp(key, "attr.", 5) == 0) {
		key += 5;
		klen -= 5;
	}

	if (body) {
		if (op != OP_EQ)
			return fail(p, opat, OODA_EPARSE, "body takes ':' only");
		if (c == '"') {
			struct node *nd = new_leaf(p, N_PHRASE, vat);
			size_t n;
			char *s = nd ? read_quoted(p, &n) : NULL;
			if (!s)
				return NULL;
			nd->s = lowered(p, s, n);
			nd->n = n;
			return nd->s ? nd : NULL;
		}
		if (c == '/') {
			struct node *nd = new_leaf(p, N_REGEX, vat);
			if (!nd || !(nd->re = read_regex(p)))
				return NULL;
			return nd;
		}
		while (!at_delim(p, p->pos))
			p->pos++;
		if (p->pos - vat == 1 && c == '*') {
			struct node *nd = new_leaf(p, N_PREFIX, vat); /* body:* = has a body */
			if (nd)
				nd->s = "";
			return nd;
		}
		return body_word(p, p->q + vat, p->pos - vat, vat);
	}

	struct node *nd = new_leaf(p, N_FIELD, kstart);
	if (!nd)
		return NULL;
	nd->field = (uint8_t)field;
	if (field == F_ATTR) {
		char *k = arena_strndup(&p->lq->arena, key, klen);
		if (!k)
			return fail(p, kstart, OODA_ENOMEM, "out of memory");
		nd->key = k;
	}

	/* the value */
	if (c == '/') {
		if (op != OP_EQ)
			return fail(p, vat, OODA_EPARSE, "a regular expression needs ':'");
		nd->op = OP_REGEX;
		if (field == F_SEVERITY)
			return fail(p, vat, OODA_EPARSE, "severity takes a name or a number");
		return (nd->re = read_regex(p)) ? nd : NULL;
	}
	const char *v;
	size_t vn;
	if (c == '"') {
		char *s = read_quoted(p, &vn);
		if (!s)
			return NULL;
		v = s;
		nd->quoted = true;
		nd->op = op;
	} else {
		while (!at_delim(p, p->pos))
			p->pos++;
		v = p->q + vat;
		vn = p->pos - vat;
		for (size_t i = 0; i + 1 < vn; i++)
			if (v[i] == '*')
				return fail(p, vat + i, OODA_EPARSE,
					    "'*' is only allowed at the end of a value");
		nd->op = op;
		if (vn && v[vn - 1] == '*') {
			if (op != OP_EQ)
				return fail(p, vat + vn - 1, OODA_EPARSE,
					    "'*' cannot be used with a comparison");
			nd->op = vn == 1 ? OP_EXISTS : OP_PREFIX;
			vn--;
		}
	}
	char *val = arena_strndup(&p->lq->arena, v, vn);
	if (!val)
		return fail(p, vat, OODA_ENOMEM, "out of memory");
	nd->s = val;
	nd->n = vn;
	nd->is_num = parse_num(val, vn, &nd->num);

	switch (field) {
	case F_SEVERITY: {
		if (nd->op == OP_EXISTS) {
			nd->op = OP_SEV;
			nd->lo = 1;
			nd->hi = 24;
			return nd;
		}
		if (nd->op == OP_PREFIX)
			return fail(p, vat, OODA_EPARSE, "severity takes a name or a number");
		uint8_t lo, hi;
		if (logquery_severity_parse(val, &lo, &hi) != 0)
			return fail(p, vat, OODA_EPARSE,
				    "unknown severity '%s' (trace, debug, info, warn, error, fatal or 1-24)",
				    val);
		switch (nd->op) {
		case OP_LT: hi = (uint8_t)(lo - 1); lo = 1; break;
		case OP_LE: lo = 1; break;
		case OP_GT: lo = (uint8_t)(hi + 1); hi = 24; break;
		case OP_GE: hi = 24; break;
		default: break;
		}
		nd->op = OP_SEV;
		nd->lo = lo;
		nd->hi = hi;
		return nd;
	}
	case F_TRACE:
	case F_SPAN: {
		if (nd->op >= OP_LT)
			return fail(p, opat, OODA_EPARSE, "%s takes ':' only",
				    field == F_TRACE ? "trace_id" : "span_id");
		if (nd->op == OP_EXISTS)
			return nd;
		size_t max = field == F_TRACE ? 32 : 16;
		if (vn > max)
			return fail(p, vat + max, OODA_EPARSE, "%s is at most %zu hex digits",
				    field == F_TRACE ? "trace_id" : "span_id", max);
		for (size_t i = 0; i < vn; i++)
			if (!isxdigit((unsigned char)val[i]))
				return fail(p, vat + (nd->quoted ? i + 1 : i), OODA_EPARSE,
					    "expected a hex digit");
		for (size_t i = 0; i < vn; i++)
			val[i] = (char)lower((unsigned char)val[i]);
		nd->op = OP_PREFIX; /* a full id is its own prefix */
		return nd;
	}
	case F_ATTR:
		if (nd->op >= OP_LT && !nd->is_num)
			return fail(p, vat, OODA_EPARSE, "expected a number after '%.*s'",
				    (int)(vat - opat), p->q + opat);
		return nd;
	default:
		if (nd->op >= OP_LT)
			return fail(p, opat, OODA_EPARSE, "'%.*s' takes ':' only", (int)klen, key);
		return nd;
	}
}

/* A phrase, regex, field term or bare word at p->pos. */
static struct node *term(struct parser *p)
{
	size_t at = p->pos;
	int c = peek(p);
	if (c == '"') {
		struct node *nd = new_leaf(p, N_PHRASE, at);
		size_t n;
		char *s = nd ? read_quoted(p, &n) : NULL;
		if (!s)
			return NULL;
		nd->s = lowered(p, s, n);
		nd->n = n;
		return nd->s ? nd : NULL;
	}
	if (c == '/') {
		struct node *nd = new_leaf(p, N_REGEX, at);
		if (!nd || !(nd->re = read_regex(p)))
			return NULL;
		return nd;
	}
	size_t k = at;
	while (k < p->len && keych((unsigned char)p->q[k]))
		k++;
	if (k > at && k < p->len && (p->q[k] == ':' || p->q[k] == '<' || p->q[k] == '>')) {
		p->pos = k;
		return field_term(p, at, k);
	}
	while (!at_delim(p, p->pos))
		p->pos++;
	return body_word(p, p->q + at, p->pos - at, at);
}

static struct node *or_expr(struct parser *p);

static struct node *unary(struct parser *p)
{
	skip_ws(p);
	size_t at = p->pos;
	bool neg = false;
	if (peek(p) == '-' && p->pos + 1 < p->len && !wsch((unsigned char)p->q[p->pos + 1]) &&
	    p->q[p->pos + 1] != ')') {
		p->pos++;
		neg = true;
	} else if (at_keyword(p, "NOT")) {
		p->pos += 3;
		skip_ws(p);
		neg = true;
		if (p->pos >= p->len || peek(p) == ')')
			return fail(p, p->pos < p->len ? p->pos : at, OODA_EPARSE,
				    "expected a term after NOT");
	}
	if (neg) {
		if (++p->depth > LOGQUERY_MAX_DEPTH)
			return fail(p, at, OODA_ELIMIT, "nesting deeper than %d", LOGQUERY_MAX_DEPTH);
		struct node *kid = unary(p);
		p->depth--;
		if (!kid)
			return NULL;
		struct node *nd = new_node(p, N_NOT);
		if (!nd || !add_kid(p, nd, kid))
			return NULL;
		return nd;
	}
	int c = peek(p);
	if (c == '(') {
		if (++p->depth > LOGQUERY_MAX_DEPTH)
			return fail(p, at, OODA_ELIMIT, "nesting deeper than %d", LOGQUERY_MAX_DEPTH);
		p->pos++;
		skip_ws(p);
		if (peek(p) == ')')
			return fail(p, at, OODA_EPARSE, "empty parentheses");
		struct node *e = or_expr(p);
		if (!e)
			return NULL;
		skip_ws(p);
		if (peek(p) != ')')
			return fail(p, at, OODA_EPARSE, "unclosed '('");
		p->pos++;
		p->depth--;
		return e;
	}
	if (c == ')')
		return fail(p, at, OODA_EPARSE, "unexpected ')'");
	if (at_keyword(p, "OR") || at_keyword(p, "AND"))
		return fail(p, at, OODA_EPARSE, "expected a term before %s",
			    p->q[at] == 'O' ? "OR" : "AND");
	return term(p);
}

static struct node *and_expr(struct parser *p)
{
	struct node *all = NULL, *first = NULL;
	for (;;) {
		skip_ws(p);
		if (!first && at_keyword(p, "OR"))
			return fail(p, p->pos, OODA_EPARSE, "expected a term before OR");
		if (p->pos >= p->len || peek(p) == ')' || at_keyword(p, "OR"))
			break;
		if (first && at_keyword(p, "AND")) {
			size_t at = p->pos;
			p->pos += 3;
			skip_ws(p);
			if (p->pos >= p->len || peek(p) == ')' || at_keyword(p, "OR"))
				return fail(p, at, OODA_EPARSE, "expected a term after AND");
		}
		struct node *t = unary(p);
		if (!t)
			return NULL;
		if (!first) {
			first = t;
			continue;
		}
		if (!all) {
			all = new_node(p, N_AND);
			if (!all || !add_kid(p, all, first))
				return NULL;
		}
		if (!add_kid(p, all, t))
			return NULL;
	}
	if (!first)
		return fail(p, p->pos < p->len ? p->pos : (p->len ? p->len - 1 : 0), OODA_EPARSE,
			    "expected a term");
	return all ? all : first;
}

static struct node *or_expr(struct parser *p)
{
	struct node *first = and_expr(p), *any = NULL;
	if (!first)
		return NULL;
	for (;;) {
		skip_ws(p);
		if (!at_keyword(p, "OR"))
			break;
		size_t at = p->pos;
		p->pos += 2;
		skip_ws(p);
		if (p->pos >= p->len || peek(p) == ')' || at_keyword(p, "OR"))
			return fail(p, at, OODA_EPARSE, "expected a term after OR");
		struct node *t = and_expr(p);
		if (!t)
			return NULL;
		if (!any) {
			any = new_node(p, N_OR);
			if (!any || !add_kid(p, any, first))
				return NULL;
		}
		if (!add_kid(p, any, t))
			return NULL;
	}
	return any ? any : first;
}

/* ---- hints -------------------------------------------------------------- */

struct hint {
	int n_svc; /* -1: any service */
	const char *svc[LOGQUERY_MAX_TERMS];
	uint8_t minsev;
	const char *trace;
};

struct tokacc {
	struct logquery *lq;
	const char **v;
	size_t n;
	size_t skip_first, keep; /* window of tokens to keep: [skip_first, keep) */
	size_t seen;
};

static void tok_add(void *ctx, const char *tok, size_t n)
{
	struct tokacc *t = ctx;
	size_t idx = t->seen++;
	if (idx < t->skip_first || idx >= t->keep || t->n >= MAX_HINT_TOKENS)
		return;
	for (size_t i = 0; i < t->n; i++)
		if (strlen(t->v[i]) == n && memcmp(t->v[i], tok, n) == 0)
			return;
	char *s = arena_strndup(&t->lq->arena, tok, n);
	if (s)
		t->v[t->n++] = s;
}

static size_t count_tokens(const char *s, size_t n)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		if (tokch((unsigned char)s[i]) && (i == 0 || !tokch((unsigned char)s[i - 1])))
			c++;
	return c;
}

/* Tokens of s[0..n) that are whole tokens of any text the term matches. */
static void tokens_of(struct tokacc *t, const char *s, size_t n, bool left_edge, bool right_edge)
{
	size_t c = count_tokens(s, n);
	if (c == 0)
		return;
	t->seen = 0;
	t->skip_first = (!left_edge && tokch((unsigned char)s[0])) ? 1 : 0;
	t->keep = (!right_edge && tokch((unsigned char)s[n - 1])) ? c - 1 : c;
	logquery_tokens(s, n, tok_add, t);
}

static void hint_of(const struct node *nd, struct hint *h, struct tokacc *t)
{
	h->n_svc = -1;
	h->minsev = 0;
	h->trace = NULL;
	switch (nd->kind) {
	case N_AND:
		for (size_t i = 0; i < nd->n_kids; i++) {
			struct hint k;
			hint_of(nd->kids[i], &k, t);
			if (k.minsev > h->minsev)
				h->minsev = k.minsev;
			if (!h->trace)
				h->trace = k.trace;
			if (k.n_svc < 0)
				continue;
			if (h->n_svc < 0) {
				h->n_svc = k.n_svc;
				memcpy(h->svc, k.svc, (size_t)k.n_svc * sizeof(h->svc[0]));
				continue;
			}
			int m = 0;
			for (int a = 0; a < h->n_svc; a++)
				for (int b = 0; b < k.n_svc; b++)
					if (strcasecmp(h->svc[a], k.svc[b]) == 0) {
						h->svc[m++] = h->svc[a];
						break;
					}
			h->n_svc = m;
		}
		if (h->n_svc == 0)
			h->n_svc = -1; /* contradiction: matches nothing; stay conservative */
		return;
	case N_OR: {
		bool all_svc = true, first = true;
		int ns = 0;
		for (size_t i = 0; i < nd->n_kids; i++) {
			struct hint k;
			hint_of(nd->kids[i], &k, NULL); /* tokens of one branch are not required */
			if (first || k.minsev < h->minsev)
				h->minsev = k.minsev;
			if (first)
				h->trace = k.trace;
			else if (!h->trace || !k.trace || strcmp(h->trace, k.trace) != 0)
				h->trace = NULL;
			first = false;
			if (k.n_svc < 0 || !all_svc) {
				all_svc = false;
				continue;
			}
			for (int b = 0; b < k.n_svc && ns < LOGQUERY_MAX_TERMS; b++)
				h->svc[ns++] = k.svc[b];
		}
		if (all_svc)
			h->n_svc = ns;
		return;
	}
	case N_WORD:
		if (t)
			tokens_of(t, nd->s, nd->n, true, true);
		return;
	case N_PREFIX:
		if (t)
			tokens_of(t, nd->s, nd->n, true, false);
		return;
	case N_PHRASE:
		if (t)
			tokens_of(t, nd->s, nd->n, false, false);
		return;
	case N_FIELD:
		if (nd->field == F_SERVICE && nd->op == OP_EQ) {
			h->n_svc = 1;
			h->svc[0] = nd->s;
		} else if (nd->field == F_SEVERITY && nd->lo <= nd->hi) {
			h->minsev = nd->lo;
		} else if (nd->field == F_TRACE && nd->n == 32) {
			h->trace = nd->s;
		} else if (nd->field == F_ATTR && t && !nd->is_num &&
			   (nd->op == OP_EQ || nd->op == OP_PREFIX)) {
			tokens_of(t, nd->s, nd->n, true, nd->op == OP_EQ);
		}
		return;
	default:
		return;
	}
}

static int make_hints(struct logquery *lq)
{
	struct logquery_hints *hs = &lq->hints;
	if (!lq->root)
		return 0;
	struct tokacc t = { .lq = lq };
	t.v = arena_zalloc(&lq->arena, MAX_HINT_TOKENS * sizeof(*t.v));
	struct hint *h = arena_zalloc(&lq->arena, sizeof(*h));
	if (!t.v || !h)
		return OODA_ENOMEM;
	hint_of(lq->root, h, &t);
	hs->tokens = t.v;
	hs->n_tokens = t.n;
	hs->min_severity = h->minsev;
	hs->trace_id_hex = h->trace;
	if (h->n_svc > 0) {
		hs->services = arena_alloc(&lq->arena, (size_t)h->n_svc * sizeof(*hs->services));
		if (!hs->services)
			return OODA_ENOMEM;
		/* drop duplicates (case-insensitive) */
		for (int i = 0; i < h->n_svc; i++) {
			bool dup = false;
			for (size_t j = 0; j < hs->n_services; j++)
				dup = dup || strcasecmp(hs->services[j], h->svc[i]) == 0;
			if (!dup)
				hs->services[hs->n_services++] = h->svc[i];
		}
	}
	return 0;
}

/* ---- compile and destroy ------------------------------------------------ */

void logquery_destroy(struct logquery *q)
{
	if (!q)
		return;
	for (size_t i = 0; i < q->n_res; i++)
		pcre2_code_free(q->res[i]);
	pcre2_match_context_free(q->mctx);
	arena_release(&q->arena);
	free(q);
}

int logquery_compile(const char *q, size_t len, struct logquery **out, struct buf *err)
{
	*out = NULL;
	if (!q)
		len = 0;
	if (len > LOGQUERY_MAX_LEN) {
		if (err)
			buf_addf(err, "query error at char %d: query longer than %d bytes",
				 LOGQUERY_MAX_LEN + 1, LOGQUERY_MAX_LEN);
		return OODA_ELIMIT;
	}
	struct logquery *lq = xcalloc(1, sizeof(*lq));
	arena_init(&lq->arena, 4096);
	struct parser p = { .q = q, .len = len, .lq = lq, .err = err };
	skip_ws(&p);
	if (p.pos < p.len) {
		lq->root = or_expr(&p);
		if (lq->root && !p.rc) {
			skip_ws(&p);
			if (p.pos < p.len)
				fail(&p, p.pos, OODA_EPARSE, "unexpected ')'");
		}
		if (!lq->root && !p.rc)
			fail(&p, p.pos, OODA_EINTERNAL, "internal error");
	}
	if (!p.rc && lq->n_res) {
		lq->mctx = pcre2_match_context_create(NULL);
		if (!lq->mctx) {
			p.rc = OODA_ENOMEM;
		} else {
			pcre2_set_match_limit(lq->mctx, REGEX_MATCH_LIMIT);
			pcre2_set_depth_limit(lq->mctx, REGEX_DEPTH_LIMIT);
			pcre2_set_heap_limit(lq->mctx, REGEX_HEAP_LIMIT);
		}
	}
	if (!p.rc)
		p.rc = make_hints(lq);
	if (p.rc) {
		logquery_destroy(lq);
		return p.rc;
	}
	*out = lq;
	return 0;
}

const struct logquery_hints *logquery_hints(const struct logquery *q)
{
	return &q->hints;
}

/* ---- matching ----------------------------------------------------------- */

struct eval {
	const struct logquery *q;
	const struct log_record *r;
	pcre2_match_data *md;
};

static bool regex_match(struct eval *e, pcre2_code *re, const char *s, size_t n)
{
	if (!e->md) {
		e->md = pcre2_match_data_create(1, NULL);
		if (!e->md)
			return false;
	}
	int rc = pcre2_match(re, (PCRE2_SPTR)(s ? s : ""), s ? n : 0, 0, 0, e->md, e->q->mctx);
	return rc >= 0; /* no match, limits and errors alike are "no" */
}

/* value text (s, n) against a text op */
static bool text_match(struct eval *e, const struct node *nd, const char *s, size_t n)
{
	switch (nd->op) {
	case OP_EXISTS: return true;
	case OP_EQ: return n == nd->n && eq_nocase(s, nd->s, n);
	case OP_PREFIX: return n >= nd->n && eq_nocase(s, nd->s, nd->n);
	case OP_REGEX: return regex_match(e, nd->re, s, n);
	default: return false;
	}
}

static bool num_cmp(uint8_t op, double v, double want)
{
	switch (op) {
	case OP_EQ: return v == want;
	case OP_LT: return v < want;
	case OP_LE: return v <= want;
	case OP_GT: return v > want;
	case OP_GE: return v >= want;
	default: return false;
	}
}

static bool attr_match(struct eval *e, const struct node *nd, const struct attr *a)
{
	double v;
	bool num = false;
	if (a->type == ATTR_INT) {
		v = (double)a->i;
		num = true;
	} else if (a->type == ATTR_DOUBLE) {
		v = a->d;
		num = true;
	} else if (a->type == ATTR_STR && nd->op >= OP_LT) {
		num = a->s && parse_num(a->s, a->len, &v);
	}
	if (nd->op >= OP_LT && nd->op <= OP_GE) {
		if (!num || !nd->is_num)
			return false;
		if (a->type == ATTR_INT && nd->num == floor(nd->num) && fabs(nd->num) < 9e15) {
			int64_t w = (int64_t)nd->num;
			switch (nd->op) {
			case OP_LT: return a->i < w;
			case OP_LE: return a->i <= w;
			case OP_GT: return a->i > w;
			default: return a->i >= w;
			}
		}
		return num_cmp(nd->op, v, nd->num);
	}
	if (nd->op == OP_EQ && num && nd->is_num && !nd->quoted)
		return v == nd->num;
	char tmp[128];
	size_t n;
	const char *s = attr_text(a, tmp, sizeof(tmp), &n);
	return text_match(e, nd, s, n);
}

static bool attrs_match(struct eval *e, const struct node *nd, const struct attrs *as)
{
	for (uint32_t i = 0; i < as->n; i++)
		if (as->v[i].key && strcmp(as->v[i].key, nd->key) == 0 && attr_match(e, nd, &as->v[i]))
			return true;
	return false;
}

static bool field_match(struct eval *e, const struct node *nd)
{
	const struct log_record *r = e->r;
	const struct resource *res = r->resource;
	const char *s = NULL;
	char tmp[40];
	switch (nd->field) {
	case F_SEVERITY:
		return r->severity >= nd->lo && r->severity <= nd->hi;
	case F_TRACE:
	case F_SPAN:
		if (nd->field == F_TRACE ? !r->has_trace_id : !r->has_span_id)
			return false;
		hex(nd->field == F_TRACE ? r->trace_id : r->span_id, nd->field == F_TRACE ? 16 : 8,
		    tmp, sizeof(tmp));
		return text_match(e, nd, tmp, strlen(tmp));
	case F_ATTR:
		return attrs_match(e, nd, &r->attrs) || (res && attrs_match(e, nd, &res->attrs));
	case F_SERVICE: s = res ? res->service : NULL; break;
	case F_HOST: s = res ? res->host : NULL; break;
	case F_ENV: s = res ? res->environment : NULL; break;
	case F_VERSION: s = res ? res->service_version : NULL; break;
	case F_REGION: s = res ? res->region : NULL; break;
	case F_SCOPE: s = r->scope_name; break;
	}
	if (!s)
		return false;
	return text_match(e, nd, s, strlen(s));
}

static bool eval(struct eval *e, const struct node *nd)
{
	const struct log_record *r = e->r;
	const char *body = r->body ? r->body : "";
	size_t bn = r->body ? r->body_len : 0;
	switch (nd->kind) {
	case N_AND:
		for (size_t i = 0; i < nd->n_kids; i++)
			if (!eval(e, nd->kids[i]))
				return false;
		return true;
	case N_OR:
		for (size_t i = 0; i < nd->n_kids; i++)
			if (eval(e, nd->kids[i]))
				return true;
		return false;
	case N_NOT:
		return !eval(e, nd->kids[0]);
	case N_ALL:
		return true;
	case N_WORD:
		return find_nocase(body, bn, nd->s, nd->n, true, true);
	case N_PREFIX:
		return (nd->n || r->body) && find_nocase(body, bn, nd->s, nd->n, true, false);
	case N_PHRASE:
		return find_nocase(body, bn, nd->s, nd->n, false, false);
	case N_REGEX:
		return regex_match(e, nd->re, body, bn);
	case N_FIELD:
		return field_match(e, nd);
	}
	return false;
}

bool logquery_match(const struct logquery *q, const struct log_record *r)
{
	if (!q->root)
		return true;
	struct eval e = { .q = q, .r = r };
	bool ok = eval(&e, q->root);
	pcre2_match_data_free(e.md);
	return ok;
}

static unsigned needs_of(const struct node *n)
{
	if (!n)
		return 0;
	switch (n->kind) {
	case N_WORD:
	case N_PREFIX:
	case N_PHRASE:
	case N_REGEX:
		return LOGQUERY_NEEDS_BODY;
	case N_FIELD:
		switch (n->field) {
		case F_ATTR: return LOGQUERY_NEEDS_ATTRS;
		case F_SEVERITY: return LOGQUERY_NEEDS_SEVERITY;
		case F_TRACE:
		case F_SPAN:
		case F_SCOPE: return LOGQUERY_NEEDS_OTHER;
		default: return 0;
		}
	default: {
		unsigned m = 0;
		for (size_t i = 0; i < n->n_kids; i++)
			m |= needs_of(n->kids[i]);
		return m;
	}
	}
}

unsigned logquery_needs(const struct logquery *q)
{
	return needs_of(q->root);
}
