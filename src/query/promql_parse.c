/*
 * The PromQL parser: a hand-written lexer and a precedence-climbing
 * recursive-descent parser that builds the typed expression tree the
 * evaluator walks. Types are checked here, so evaluation never sees an
 * ill-typed tree; every error names the 1-based byte offset it found.
 */
#include <ctype.h>
#include <math.h>

#include "core/error.h"
#include "core/time.h"
#include "query/promql_impl.h"

#define MAX_TREE_HEIGHT 1024

enum tok_type {
	T_EOF, T_NUM, T_STR, T_IDENT, T_DUR,
	T_LPAREN, T_RPAREN, T_LBRACE, T_RBRACE, T_LBRACK, T_RBRACK, T_COMMA, T_COLON, T_AT,
	T_ASSIGN, T_NEQ, T_RE, T_NRE,
	T_ADD, T_SUB, T_MUL, T_DIV, T_MOD, T_POW,
	T_EQL, T_GT, T_LT, T_GE, T_LE,
};

struct tok {
	enum tok_type type;
	size_t pos, len; /* 0-based start and length in the query */
	double num;
	int64_t dur_ms;
	char *str; /* T_STR: unescaped, NUL-terminated, in the arena */
	size_t str_len;
};

struct ps {
	const char *q;
	size_t len;
	size_t pos; /* where the next token starts being lexed */
	struct tok t; /* lookahead */
	struct arena *a;
	struct buf *err;
	int rc;
	int depth;
	uint32_t n_sel;
};

static const struct pq_fn_def fns[] = {
#define M PQ_T_MATRIX
#define V PQ_T_VECTOR
#define S PQ_T_SCALAR
#define STR PQ_T_STRING
	{ "rate", FN_RATE, 1, 1, { M }, V },
	{ "irate", FN_IRATE, 1, 1, { M }, V },
	{ "increase", FN_INCREASE, 1, 1, { M }, V },
	{ "delta", FN_DELTA, 1, 1, { M }, V },
	{ "idelta", FN_IDELTA, 1, 1, { M }, V },
	{ "avg_over_time", FN_AVG_OT, 1, 1, { M }, V },
	{ "min_over_time", FN_MIN_OT, 1, 1, { M }, V },
	{ "max_over_time", FN_MAX_OT, 1, 1, { M }, V },
	{ "sum_over_time", FN_SUM_OT, 1, 1, { M }, V },
	{ "count_over_time", FN_COUNT_OT, 1, 1, { M }, V },
	{ "last_over_time", FN_LAST_OT, 1, 1, { M }, V },
	{ "quantile_over_time", FN_QUANTILE_OT, 2, 2, { S, M }, V },
	{ "stddev_over_time", FN_STDDEV_OT, 1, 1, { M }, V },
	{ "stdvar_over_time", FN_STDVAR_OT, 1, 1, { M }, V },
	{ "present_over_time", FN_PRESENT_OT, 1, 1, { M }, V },
	{ "absent_over_time", FN_ABSENT_OT, 1, 1, { M }, V },
	{ "changes", FN_CHANGES, 1, 1, { M }, V },
	{ "resets", FN_RESETS, 1, 1, { M }, V },
	{ "deriv", FN_DERIV, 1, 1, { M }, V },
	{ "predict_linear", FN_PREDICT_LINEAR, 2, 2, { M, S }, V },
	{ "holt_winters", FN_HOLT_WINTERS, 3, 3, { M, S, S }, V },
	{ "double_exponential_smoothing", FN_HOLT_WINTERS, 3, 3, { M, S, S }, V },
	{ "abs", FN_ABS, 1, 1, { V }, V },
	{ "ceil", FN_CEIL, 1, 1, { V }, V },
	{ "floor", FN_FLOOR, 1, 1, { V }, V },
	{ "round", FN_ROUND, 1, 2, { V, S }, V },
	{ "sqrt", FN_SQRT, 1, 1, { V }, V },
	{ "exp", FN_EXP, 1, 1, { V }, V },
	{ "ln", FN_LN, 1, 1, { V }, V },
	{ "log2", FN_LOG2, 1, 1, { V }, V },
	{ "log10", FN_LOG10, 1, 1, { V }, V },
	{ "clamp", FN_CLAMP, 3, 3, { V, S, S }, V },
	{ "clamp_min", FN_CLAMP_MIN, 2, 2, { V, S }, V },
	{ "clamp_max", FN_CLAMP_MAX, 2, 2, { V, S }, V },
	{ "histogram_quantile", FN_HISTOGRAM_QUANTILE, 2, 2, { S, V }, V },
	{ "scalar", FN_SCALAR, 1, 1, { V }, S },
	{ "vector", FN_VECTOR, 1, 1, { S }, V },
	{ "time", FN_TIME, 0, 0, { 0 }, S },
	{ "timestamp", FN_TIMESTAMP, 1, 1, { V }, V },
	{ "absent", FN_ABSENT, 1, 1, { V }, V },
	{ "label_replace", FN_LABEL_REPLACE, 5, 5, { V, STR, STR, STR, STR }, V },
	{ "label_join", FN_LABEL_JOIN, 3, 255, { V, STR, STR, STR, STR }, V },
	{ "sort", FN_SORT, 1, 1, { V }, V },
	{ "sort_desc", FN_SORT_DESC, 1, 1, { V }, V },
#undef M
#undef V
#undef S
#undef STR
};

static const struct {
	const char *name;
	enum pq_agg op;
	enum pq_type param; /* PQ_T_VECTOR: no parameter */
} aggs[] = {
	{ "sum", AGG_SUM, PQ_T_VECTOR },
	{ "avg", AGG_AVG, PQ_T_VECTOR },
	{ "min", AGG_MIN, PQ_T_VECTOR },
	{ "max", AGG_MAX, PQ_T_VECTOR },
	{ "count", AGG_COUNT, PQ_T_VECTOR },
	{ "group", AGG_GROUP, PQ_T_VECTOR },
	{ "stddev", AGG_STDDEV, PQ_T_VECTOR },
	{ "stdvar", AGG_STDVAR, PQ_T_VECTOR },
	{ "topk", AGG_TOPK, PQ_T_SCALAR },
	{ "bottomk", AGG_BOTTOMK, PQ_T_SCALAR },
	{ "quantile", AGG_QUANTILE, PQ_T_SCALAR },
	{ "count_values", AGG_COUNT_VALUES, PQ_T_STRING },
};

static const char *type_name(enum pq_type t)
{
	switch (t) {
	case PQ_T_SCALAR: return "scalar";
	case PQ_T_VECTOR: return "instant vector";
	case PQ_T_MATRIX: return "range vector";
	case PQ_T_STRING: return "string";
	}
	return "?";
}

/* Records the first error only; returns NULL for convenient tail calls. */
static void *perr(struct ps *p, int rc, size_t pos0, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void *perr(struct ps *p, int rc, size_t pos0, const char *fmt, ...)
{
	if (p->rc)
		return NULL;
	p->rc = rc;
	buf_addf(p->err, "parse error at char %zu: ", pos0 + 1);
	va_list ap;
	va_start(ap, fmt);
	buf_vaddf(p->err, fmt, ap);
	va_end(ap);
	return NULL;
}

static void *oom(struct ps *p)
{
	return perr(p, OODA_ENOMEM, p->t.pos, "out of memory");
}

static void *alloc(struct ps *p, size_t n)
{
	void *r = arena_zalloc(p->a, n);
	if (!r)
		oom(p);
	return r;
}

/* The lookahead described for "unexpected ..." messages. */
static const char *tok_desc(struct ps *p, const struct tok *t)
{
	if (t->type == T_EOF)
		return "end of input";
	size_t n = t->len > 40 ? 40 : t->len;
	const char *s = arena_printf(p->a, "\"%.*s%s\"", (int)n, p->q + t->pos,
				     t->len > n ? "..." : "");
	return s ? s : "token";
}

/* ---- lexer ---- */

static bool is_ident_start(int c)
{
	return isalpha(c) || c == '_' || c == ':';
}

static bool is_ident_char(int c)
{
	return isalnum(c) || c == '_' || c == ':';
}

static bool is_label_name(const char *s, size_t n)
{
	if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
			return false;
	return true;
}

/*
 * Duration "1h30m": returns the length consumed (0 if not a duration). A
 * duration longer than the representable time range (OODA_TIME_MAX_MS,
 * about 292 years) sets *too_long and returns 0.
 */
static size_t lex_duration(const char *s, size_t n, int64_t *ms, bool *too_long)
{
	static const struct {
		const char *u;
		int64_t ms;
	} units[] = {
		{ "y", INT64_C(365) * 86400000 }, { "w", INT64_C(7) * 86400000 },
		{ "d", 86400000 }, { "h", 3600000 }, { "ms", 1 }, { "m", 60000 }, { "s", 1000 },
	};
	size_t i = 0;
	int64_t total = 0;
	int64_t last_unit = INT64_MAX;
	while (i < n && isdigit((unsigned char)s[i])) {
		int64_t v = 0;
		while (i < n && isdigit((unsigned char)s[i])) {
			if (v > INT64_C(1000000000000))
				return 0;
			v = v * 10 + (s[i++] - '0');
		}
		size_t k;
		for (k = 0; k < sizeof(units) / sizeof(units[0]); k++) {
			size_t ul = strlen(units[k].u);
			if (i + ul <= n && memcmp(s + i, units[k].u, ul) == 0 &&
			    !(ul == 1 && units[k].u[0] == 'm' && i + 1 < n && s[i + 1] == 's'))
				break;
		}
		if (k == sizeof(units) / sizeof(units[0]))
			return 0;
		if (units[k].ms >= last_unit)
			return 0; /* units must shrink: 1h30m, not 30m1h */
		last_unit = units[k].ms;
		if (v > (OODA_TIME_MAX_MS - total) / units[k].ms) {
			*too_long = true;
			return 0;
		}
		total += v * units[k].ms;
		i += strlen(units[k].u);
	}
	if (i == 0 || (i < n && (isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '.')))
		return 0;
	*ms = total;
	return i;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void put_utf8(struct buf *b, uint32_t cp)
{
	if (cp < 0x80) {
		buf_addch(b, (char)cp);
	} else if (cp < 0x800) {
		buf_addch(b, (char)(0xc0 | (cp >> 6)));
		buf_addch(b, (char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		buf_addch(b, (char)(0xe0 | (cp >> 12)));
		buf_addch(b, (char)(0x80 | ((cp >> 6) & 0x3f)));
		buf_addch(b, (char)(0x80 | (cp & 0x3f)));
	} else {
		buf_addch(b, (char)(0xf0 | (cp >> 18)));
		buf_addch(b, (char)(0x80 | ((cp >> 12) & 0x3f)));
		buf_addch(b, (char)(0x80 | ((cp >> 6) & 0x3f)));
		buf_addch(b, (char)(0x80 | (cp & 0x3f)));
	}
}

static int lex_string(struct ps *p, struct tok *t, size_t i)
{
	const char *q = p->q;
	char quote = q[i++];
	struct buf b = BUF_INIT;
	int rc = 0;
	for (;;) {
		if (i >= p->len) {
			perr(p, OODA_EPARSE, t->pos, "unterminated quoted string");
			rc = -1;
			break;
		}
		char c = q[i];
		if (c == quote) {
			i++;
			break;
		}
		if (quote != '`' && c == '\n') {
			perr(p, OODA_EPARSE, i, "newline in quoted string");
			rc = -1;
			break;
		}
		if (quote == '`' || c != '\\') {
			buf_addch(&b, c);
			i++;
			continue;
		}
		size_t esc = i++;
		if (i >= p->len) {
			perr(p, OODA_EPARSE, t->pos, "unterminated quoted string");
			rc = -1;
			break;
		}
		c = q[i++];
		int nhex = 0;
		switch (c) {
		case 'a': buf_addch(&b, '\a'); break;
		case 'b': buf_addch(&b, '\b'); break;
		case 'f': buf_addch(&b, '\f'); break;
		case 'n': buf_addch(&b, '\n'); break;
		case 'r': buf_addch(&b, '\r'); break;
		case 't': buf_addch(&b, '\t'); break;
		case 'v': buf_addch(&b, '\v'); break;
		case '\\': case '"': case '\'': case '`': buf_addch(&b, c); break;
		case 'x': nhex = 2; break;
		case 'u': nhex = 4; break;
		case 'U': nhex = 8; break;
		default:
			if (c >= '0' && c <= '7' && i + 1 < p->len && q[i] >= '0' && q[i] <= '7' &&
			    q[i + 1] >= '0' && q[i + 1] <= '7') {
				int v = (c - '0') * 64 + (q[i] - '0') * 8 + (q[i + 1] - '0');
				if (v > 255) {
					perr(p, OODA_EPARSE, esc, "octal escape value out of range");
					rc = -1;
					goto out;
				}
				buf_addch(&b, (char)v);
				i += 2;
				break;
			}
			perr(p, OODA_EPARSE, esc, "unknown escape sequence \"\\%c\"", isprint((unsigned char)c) ? c : '?');
			rc = -1;
			goto out;
		}
		if (nhex) {
			uint32_t v = 0;
			for (int k = 0; k < nhex; k++) {
				int h = i < p->len ? hexval((unsigned char)q[i]) : -1;
				if (h < 0) {
					perr(p, OODA_EPARSE, esc, "invalid escape sequence");
					rc = -1;
					goto out;
				}
				v = v * 16 + (uint32_t)h;
				i++;
			}
			if (nhex == 2)
				buf_addch(&b, (char)v);
			else if (v > 0x10ffff || (v >= 0xd800 && v < 0xe000)) {
				perr(p, OODA_EPARSE, esc, "invalid unicode code point in escape");
				rc = -1;
				goto out;
			} else
				put_utf8(&b, v);
		}
	}
out:
	if (!rc) {
		t->type = T_STR;
		t->str = arena_strndup(p->a, b.data, b.len);
		t->str_len = b.len;
		t->len = i - t->pos;
		if (!t->str) {
			oom(p);
			rc = -1;
		}
	}
	buf_release(&b);
	return rc;
}

static int lex_number(struct ps *p, struct tok *t, size_t i)
{
	const char *q = p->q;
	size_t start = i;
	if (q[i] == '0' && i + 1 < p->len && (q[i + 1] == 'x' || q[i + 1] == 'X')) {
		i += 2;
		while (i < p->len && hexval((unsigned char)q[i]) >= 0)
			i++;
		if (i == start + 2)
			goto bad;
	} else {
		size_t digits = 0;
		while (i < p->len && isdigit((unsigned char)q[i]))
			i++, digits++;
		if (i < p->len && q[i] == '.') {
			i++;
			while (i < p->len && isdigit((unsigned char)q[i]))
				i++, digits++;
		}
		if (!digits)
			goto bad;
		if (i < p->len && (q[i] == 'e' || q[i] == 'E')) {
			size_t j = i + 1;
			if (j < p->len && (q[j] == '+' || q[j] == '-'))
				j++;
			if (j < p->len && isdigit((unsigned char)q[j])) {
				while (j < p->len && isdigit((unsigned char)q[j]))
					j++;
				i = j;
			}
		}
	}
	if (i < p->len && (isalnum((unsigned char)q[i]) || q[i] == '_' || q[i] == '.'))
		goto bad;
	char tmp[64];
	if (i - start >= sizeof(tmp))
		goto bad;
	memcpy(tmp, q + start, i - start);
	tmp[i - start] = 0;
	t->type = T_NUM;
	t->num = strtod(tmp, NULL);
	t->len = i - start;
	return 0;
bad:
	{
		size_t end = i < p->len ? i + 1 : p->len;
		size_t show = end - start > 40 ? 40 : end - start;
		perr(p, OODA_EPARSE, start, "bad number or duration syntax: \"%.*s\"", (int)show, q + start);
	}
	return -1;
}

/* Lexes the token at p->pos into *t and advances p->pos. */
static int lex(struct ps *p, struct tok *t)
{
	const char *q = p->q;
	size_t i = p->pos;
	for (;;) {
		while (i < p->len && isspace((unsigned char)q[i]))
			i++;
		if (i < p->len && q[i] == '#') {
			while (i < p->len && q[i] != '\n')
				i++;
			continue;
		}
		break;
	}
	memset(t, 0, sizeof(*t));
	t->pos = i;
	if (i >= p->len) {
		t->type = T_EOF;
		p->pos = i;
		return 0;
	}
	unsigned char c = (unsigned char)q[i];
	char n = i + 1 < p->len ? q[i + 1] : 0;
	t->len = 1;
	if (isdigit(c) || (c == '.' && isdigit((unsigned char)n))) {
		int64_t ms;
		bool too_long = false;
		size_t dl = lex_duration(q + i, p->len - i, &ms, &too_long);
		if (too_long) {
			size_t e = i;
			while (e < p->len && isalnum((unsigned char)q[e]) && e - i < 40)
				e++;
			perr(p, OODA_EPARSE, i, "duration \"%.*s\" is longer than the 292 years ooda can represent",
			     (int)(e - i), q + i);
			return -1;
		}
		if (dl) {
			t->type = T_DUR;
			t->dur_ms = ms;
			t->len = dl;
		} else if (lex_number(p, t, i)) {
			return -1;
		}
	} else if (is_ident_start(c)) {
		size_t j = i;
		while (j < p->len && is_ident_char((unsigned char)q[j]))
			j++;
		t->len = j - i;
		t->type = T_IDENT;
		if (t->len == 3 && strncasecmp(q + i, "inf", 3) == 0) {
			t->type = T_NUM;
			t->num = INFINITY;
		} else if (t->len == 3 && strncasecmp(q + i, "nan", 3) == 0) {
			t->type = T_NUM;
			t->num = NAN;
		}
	} else if (c == '"' || c == '\'' || c == '`') {
		if (lex_string(p, t, i))
			return -1;
	} else {
		switch (c) {
		case '(': t->type = T_LPAREN; break;
		case ')': t->type = T_RPAREN; break;
		case '{': t->type = T_LBRACE; break;
		case '}': t->type = T_RBRACE; break;
		case '[': t->type = T_LBRACK; break;
		case ']': t->type = T_RBRACK; break;
		case ',': t->type = T_COMMA; break;
		case ':': t->type = T_COLON; break;
		case '@': t->type = T_AT; break;
		case '+': t->type = T_ADD; break;
		case '-': t->type = T_SUB; break;
		case '*': t->type = T_MUL; break;
		case '/': t->type = T_DIV; break;
		case '%': t->type = T_MOD; break;
		case '^': t->type = T_POW; break;
		case '=':
			if (n == '=') t->type = T_EQL, t->len = 2;
			else if (n == '~') t->type = T_RE, t->len = 2;
			else t->type = T_ASSIGN;
			break;
		case '!':
			if (n == '=') t->type = T_NEQ, t->len = 2;
			else if (n == '~') t->type = T_NRE, t->len = 2;
			else goto bad;
			break;
		case '>':
			if (n == '=') t->type = T_GE, t->len = 2;
			else t->type = T_GT;
			break;
		case '<':
			if (n == '=') t->type = T_LE, t->len = 2;
			else t->type = T_LT;
			break;
		default:
			goto bad;
		}
	}
	p->pos = t->pos + t->len;
	return 0;
bad:
	if (isprint(c))
		perr(p, OODA_EPARSE, i, "unexpected character \"%c\"", c);
	else
		perr(p, OODA_EPARSE, i, "unexpected character 0x%02x", c);
	return -1;
}

static int next(struct ps *p)
{
	return lex(p, &p->t);
}

/* The token after the lookahead, without consuming anything. */
static int peek2(struct ps *p, struct tok *t)
{
	size_t save = p->pos;
	int rc = lex(p, t);
	p->pos = save;
	return rc;
}

static bool is_kw(const struct ps *p, const struct tok *t, const char *kw)
{
	size_t n = strlen(kw);
	return t->type == T_IDENT && t->len == n && memcmp(p->q + t->pos, kw, n) == 0;
}

static int expect(struct ps *p, enum tok_type type, const char *what)
{
	if (p->t.type != type) {
		perr(p, OODA_EPARSE, p->t.pos, "unexpected %s, expected %s", tok_desc(p, &p->t), what);
		return -1;
	}
	return next(p);
}

/* ---- tree ---- */

static struct promql_expr *node(struct ps *p, enum pq_kind kind, enum pq_type type, size_t pos)
{
	struct promql_expr *e = alloc(p, sizeof(*e));
	if (!e)
		return NULL;
	e->kind = kind;
	e->type = type;
	e->pos = (uint32_t)pos + 1;
	e->height = 1;
	return e;
}

static int grow(struct ps *p, struct promql_expr *e, const struct promql_expr *child)
{
	if (child && child->height + 1 > e->height)
		e->height = child->height + 1;
	if (e->height > MAX_TREE_HEIGHT) {
		perr(p, OODA_ELIMIT, e->pos - 1, "expression nests deeper than %d operations", MAX_TREE_HEIGHT);
		return -1;
	}
	return 0;
}

/* Appends to an arena array, doubling: *cap tracks capacity. */
static void *push(struct ps *p, void *arr, uint32_t n, uint32_t *cap, size_t size)
{
	if (n < *cap)
		return arr;
	uint32_t nc = *cap ? *cap * 2 : 4;
	void *na = alloc(p, (size_t)nc * size);
	if (!na)
		return NULL;
	if (n)
		memcpy(na, arr, (size_t)n * size);
	*cap = nc;
	return na;
}

static struct promql_expr *parse_expr(struct ps *p, int min_prec);

static bool matcher_matches_empty(const struct promql_matcher *m)
{
	return promql_matchers_match(m, 1, NULL, 0);
}

static int parse_label_name(struct ps *p, const char **out)
{
	if (p->t.type != T_IDENT || !is_label_name(p->q + p->t.pos, p->t.len)) {
		perr(p, OODA_EPARSE, p->t.pos, "unexpected %s, expected label name", tok_desc(p, &p->t));
		return -1;
	}
	*out = arena_strndup(p->a, p->q + p->t.pos, p->t.len);
	if (!*out) {
		oom(p);
		return -1;
	}
	return next(p);
}

/* '(' [name {',' name} [',']] ')' */
static int parse_label_list(struct ps *p, const char ***out, uint32_t *n)
{
	uint32_t cap = 0;
	*out = NULL;
	*n = 0;
	if (expect(p, T_LPAREN, "\"(\""))
		return -1;
	while (p->t.type != T_RPAREN) {
		const char **arr = push(p, *out, *n, &cap, sizeof(char *));
		if (!arr)
			return -1;
		*out = arr;
		if (parse_label_name(p, &arr[*n]))
			return -1;
		(*n)++;
		if (p->t.type == T_COMMA) {
			if (next(p))
				return -1;
		} else if (p->t.type != T_RPAREN) {
			perr(p, OODA_EPARSE, p->t.pos, "unexpected %s, expected \",\" or \")\"",
			     tok_desc(p, &p->t));
			return -1;
		}
	}
	return next(p);
}

/* After '{': matchers up to and including '}'. name may be NULL. */
static struct promql_expr *parse_selector(struct ps *p, const char *name, size_t pos)
{
	struct promql_expr *e = node(p, PQ_SEL, PQ_T_VECTOR, pos);
	if (!e)
		return NULL;
	uint32_t cap = 0;
	if (name) {
		e->m = push(p, e->m, 0, &cap, sizeof(*e->m));
		if (!e->m)
			return NULL;
		e->m[0] = (struct promql_matcher){ .name = "__name__", .value = name, .op = PROMQL_EQ };
		e->n_m = 1;
		e->named = true;
	}
	if (p->t.type == T_LBRACE) {
		if (next(p))
			return NULL;
		while (p->t.type != T_RBRACE) {
			struct promql_matcher m = { 0 };
			size_t lpos = p->t.pos;
			if (parse_label_name(p, &m.name))
				return NULL;
			switch (p->t.type) {
			case T_ASSIGN: m.op = PROMQL_EQ; break;
			case T_NEQ: m.op = PROMQL_NE; break;
			case T_RE: m.op = PROMQL_RE; break;
			case T_NRE: m.op = PROMQL_NRE; break;
			default:
				return perr(p, OODA_EPARSE, p->t.pos,
					    "unexpected %s, expected label matching operator",
					    tok_desc(p, &p->t));
			}
			if (next(p))
				return NULL;
			if (p->t.type != T_STR)
				return perr(p, OODA_EPARSE, p->t.pos, "unexpected %s, expected string",
					    tok_desc(p, &p->t));
			m.value = p->t.str;
			if (m.op == PROMQL_RE || m.op == PROMQL_NRE) {
				struct buf rerr = BUF_INIT;
				m.re = pq_regex_compile(p->a, p->t.str, p->t.str_len, &rerr);
				if (!m.re) {
					perr(p, OODA_EPARSE, p->t.pos, "invalid regular expression: %s", rerr.data);
					buf_release(&rerr);
					return NULL;
				}
				buf_release(&rerr);
			}
			if (name && strcmp(m.name, "__name__") == 0)
				return perr(p, OODA_EPARSE, lpos, "metric name must not be set twice");
			if (next(p))
				return NULL;
			struct promql_matcher *arr = push(p, e->m, e->n_m, &cap, sizeof(*arr));
			if (!arr)
				return NULL;
			e->m = arr;
			arr[e->n_m++] = m;
			if (p->t.type == T_COMMA) {
				if (next(p))
					return NULL;
			} else if (p->t.type != T_RBRACE) {
				return perr(p, OODA_EPARSE, p->t.pos, "unexpected %s, expected \",\" or \"}\"",
					    tok_desc(p, &p->t));
			}
		}
		if (next(p))
			return NULL;
	}
	bool nonempty = false;
	for (uint32_t i = 0; i < e->n_m; i++)
		if (!matcher_matches_empty(&e->m[i]))
			nonempty = true;
	if (!nonempty)
		return perr(p, OODA_EPARSE, pos, "vector selector must contain at least one non-empty matcher");
	e->sel_id = p->n_sel++;
	return e;
}

static struct promql_expr *parse_call(struct ps *p, const struct pq_fn_def *fn, size_t pos)
{
	struct promql_expr *e = node(p, PQ_CALL, fn->ret, pos);
	if (!e || expect(p, T_LPAREN, "\"(\""))
		return NULL;
	e->fn = fn;
	uint32_t cap = 0;
	while (p->t.type != T_RPAREN) {
		if (e->n_args >= fn->max_args)
			return perr(p, OODA_EPARSE, p->t.pos,
				    "too many arguments in call to function \"%s\", expected at most %u",
				    fn->name, fn->max_args);
		struct promql_expr *arg = parse_expr(p, 1);
		if (!arg)
			return NULL;
		enum pq_type want = fn->args[e->n_args < 4 ? e->n_args : 4];
		if (arg->type != want)
			return perr(p, OODA_EPARSE, arg->pos - 1,
				    "expected type %s in call to function \"%s\", got %s",
				    type_name(want), fn->name, type_name(arg->type));
		struct promql_expr **arr = push(p, e->args, e->n_args, &cap, sizeof(*arr));
		if (!arr)
			return NULL;
		e->args = arr;
		arr[e->n_args++] = arg;
		if (grow(p, e, arg))
			return NULL;
		if (p->t.type == T_COMMA) {
			if (next(p))
				return NULL;
			if (p->t.type == T_RPAREN)
				return perr(p, OODA_EPARSE, p->t.pos, "unexpected \")\", expected expression");
		} else if (p->t.type != T_RPAREN) {
			return perr(p, OODA_EPARSE, p->t.pos, "unexpected %s, expected \",\" or \")\"",
				    tok_desc(p, &p->t));
		}
	}
	if (e->n_args < fn->min_args)
		return perr(p, OODA_EPARSE, p->t.pos,
			    "expected %u argument(s) in call to function \"%s\", got %u",
			    fn->min_args, fn->name, e->n_args);
	if (fn->id == FN_LABEL_JOIN) {
		for (uint32_t i = 1; i < e->n_args; i++)
			if (e->args[i]->kind != PQ_STR)
				return perr(p, OODA_EPARSE, e->args[i]->pos - 1, "label_join() needs literal strings");
		const struct promql_expr *dst = e->args[1];
		if (!is_label_name(dst->str, strlen(dst->str)))
			return perr(p, OODA_EPARSE, dst->pos - 1, "invalid destination label name in label_join()");
	}
	if (fn->id == FN_LABEL_REPLACE) {
		const struct promql_expr *dst = e->args[1], *re = e->args[4];
		if (dst->kind != PQ_STR || !is_label_name(dst->str, strlen(dst->str)))
			return perr(p, OODA_EPARSE, dst->pos - 1, "invalid destination label name in label_replace()");
		if (re->kind != PQ_STR)
			return perr(p, OODA_EPARSE, re->pos - 1, "label_replace() needs a literal regex");
		struct buf rerr = BUF_INIT;
		e->re = pq_regex_compile(p->a, re->str, strlen(re->str), &rerr);
		if (!e->re) {
			perr(p, OODA_EPARSE, re->pos - 1, "invalid regular expression in label_replace(): %s",
			     rerr.data);
			buf_release(&rerr);
			return NULL;
		}
		buf_release(&rerr);
	}
	if (next(p))
		return NULL;
	return e;
}

static int parse_grouping(struct ps *p, struct promql_expr *e)
{
	e->without = is_kw(p, &p->t, "without");
	if (next(p))
		return -1;
	return parse_label_list(p, &e->grp, &e->n_grp);
}

static struct promql_expr *parse_agg(struct ps *p, int idx, size_t pos)
{
	struct promql_expr *e = node(p, PQ_AGG, PQ_T_VECTOR, pos);
	if (!e)
		return NULL;
	e->agg = aggs[idx].op;
	bool grouped = false;
	if (is_kw(p, &p->t, "by") || is_kw(p, &p->t, "without")) {
		if (parse_grouping(p, e))
			return NULL;
		grouped = true;
	}
	if (expect(p, T_LPAREN, "\"(\""))
		return NULL;
	if (aggs[idx].param != PQ_T_VECTOR) {
		e->param = parse_expr(p, 1);
		if (!e->param)
			return NULL;
		if (e->param->type != aggs[idx].param)
			return perr(p, OODA_EPARSE, e->param->pos - 1,
				    "expected type %s in aggregation parameter, got %s",
				    type_name(aggs[idx].param), type_name(e->param->type));
		if (expect(p, T_COMMA, "\",\""))
			return NULL;
		if (grow(p, e, e->param))
			return NULL;
	}
	e->arg = parse_expr(p, 1);
	if (!e->arg)
		return NULL;
	if (e->arg->type != PQ_T_VECTOR)
		return perr(p, OODA_EPARSE, e->arg->pos - 1,
			    "expected type instant vector in aggregation expression, got %s",
			    type_name(e->arg->type));
	if (grow(p, e, e->arg))
		return NULL;
	if (expect(p, T_RPAREN, "\")\""))
		return NULL;
	if (!grouped && (is_kw(p, &p->t, "by") || is_kw(p, &p->t, "without")))
		if (parse_grouping(p, e))
			return NULL;
	if (e->agg == AGG_COUNT_VALUES && e->param->kind == PQ_STR &&
	    !is_label_name(e->param->str, strlen(e->param->str)))
		return perr(p, OODA_EPARSE, e->param->pos - 1, "invalid label name \"%s\" in count_values",
			    e->param->str);
	return e;
}

/* A duration token, or fail naming what was expected. */
static int take_duration(struct ps *p, int64_t *ms)
{
	if (p->t.type != T_DUR) {
		perr(p, OODA_EPARSE, p->t.pos, "unexpected %s, expected duration", tok_desc(p, &p->t));
		return -1;
	}
	*ms = p->t.dur_ms;
	return next(p);
}

/*
 * The lexer reads ":1m" as an identifier (':' may start a metric name);
 * inside brackets it is the subquery colon: re-lex after it.
 */
static bool at_colon(struct ps *p)
{
	if (p->t.type != T_COLON && !(p->t.type == T_IDENT && p->q[p->t.pos] == ':'))
		return false;
	p->pos = p->t.pos + 1;
	return true;
}

/* "[range]" on a selector or "[range:step]" on any instant vector. */
static struct promql_expr *parse_brackets(struct ps *p, struct promql_expr *e, bool sel)
{
	size_t pos = p->t.pos;
	if (next(p))
		return NULL;
	int64_t range;
	if (take_duration(p, &range))
		return NULL;
	if (range <= 0)
		return perr(p, OODA_EPARSE, pos + 1, "range must be positive");
	if (!at_colon(p)) {
		if (!sel || e->range_ms || e->offset_ms || e->at)
			return perr(p, OODA_EPARSE, pos, sel && !e->range_ms ?
				    "the range must come before the offset and @ modifiers" :
				    "ranges only allowed for vector selectors");
		if (expect(p, T_RBRACK, "\"]\" or \":\""))
			return NULL;
		e->range_ms = range;
		e->type = PQ_T_MATRIX;
		return e;
	}
	if (next(p))
		return NULL;
	if (e->type != PQ_T_VECTOR)
		return perr(p, OODA_EPARSE, pos, "subquery is only allowed on instant vector, got %s",
			    type_name(e->type));
	struct promql_expr *sq = node(p, PQ_SUBQ, PQ_T_MATRIX, e->pos - 1);
	if (!sq)
		return NULL;
	sq->arg = e;
	sq->range_ms = range;
	if (p->t.type != T_RBRACK) {
		if (take_duration(p, &sq->step_ms))
			return NULL;
		if (sq->step_ms <= 0)
			return perr(p, OODA_EPARSE, pos, "zero or negative subquery step");
	}
	if (expect(p, T_RBRACK, "\"]\""))
		return NULL;
	if (range / (sq->step_ms ? sq->step_ms : PROMQL_SUBQUERY_STEP_MS) > PROMQL_MAX_SUBQUERY_POINTS)
		return perr(p, OODA_ELIMIT, pos, "subquery has more than %d steps; use a larger step",
			    PROMQL_MAX_SUBQUERY_POINTS);
	return grow(p, sq, e) ? NULL : sq;
}

/* "@ <time>", "@ start()", "@ end()". */
static int parse_at(struct ps *p, struct promql_expr *e)
{
	size_t pos = p->t.pos;
	if (next(p))
		return -1;
	if (is_kw(p, &p->t, "start") || is_kw(p, &p->t, "end")) {
		e->at = is_kw(p, &p->t, "start") ? AT_START : AT_END;
		if (next(p) || expect(p, T_LPAREN, "\"(\"") || expect(p, T_RPAREN, "\")\""))
			return -1;
		return 0;
	}
	int sign = 1;
	if (p->t.type == T_SUB || p->t.type == T_ADD) {
		sign = p->t.type == T_SUB ? -1 : 1;
		if (next(p))
			return -1;
	}
	if (p->t.type != T_NUM && p->t.type != T_DUR) {
		perr(p, OODA_EPARSE, p->t.pos, "unexpected %s, expected timestamp, start() or end()",
		     tok_desc(p, &p->t));
		return -1;
	}
	/* "@ 100" lexes as a number; a plain integer may lex as a duration-less number only */
	double v = p->t.type == T_NUM ? p->t.num : NAN;
	if (!(fabs(v) * 1000 <= (double)OODA_TIME_MAX_MS)) {
		perr(p, OODA_EPARSE, pos, "timestamp out of bounds for @ modifier");
		return -1;
	}
	e->at = AT_TIME;
	e->at_ms = (int64_t)llround(sign * v * 1000);
	return next(p);
}

/*
 * Postfix after a primary: a range or subquery in brackets, then the
 * offset and @ modifiers in either order, each at most once, on a selector
 * or a subquery only.
 */
static struct promql_expr *parse_postfix(struct ps *p, struct promql_expr *e, bool sel)
{
	while (e && p->t.type == T_LBRACK) {
		bool was_sel = sel && e->kind == PQ_SEL;
		e = parse_brackets(p, e, was_sel);
	}
	while (e) {
		bool mod = e->kind == PQ_SEL || e->kind == PQ_SUBQ;
		if (is_kw(p, &p->t, "offset")) {
			if (!mod)
				return perr(p, OODA_EPARSE, p->t.pos,
					    "offset modifier must be preceded by an instant vector selector or range vector selector or a subquery");
			if (e->offset_ms)
				return perr(p, OODA_EPARSE, p->t.pos, "offset may not be set multiple times");
			if (next(p))
				return NULL;
			int sign = 1;
			if (p->t.type == T_SUB || p->t.type == T_ADD) {
				sign = p->t.type == T_SUB ? -1 : 1;
				if (next(p))
					return NULL;
			}
			int64_t d;
			if (take_duration(p, &d))
				return NULL;
			e->offset_ms = sign * d;
		} else if (p->t.type == T_AT) {
			if (!mod)
				return perr(p, OODA_EPARSE, p->t.pos,
					    "@ modifier must be preceded by an instant vector selector or range vector selector or a subquery");
			if (e->at)
				return perr(p, OODA_EPARSE, p->t.pos, "@ <timestamp> may not be set multiple times");
			if (parse_at(p, e))
				return NULL;
		} else if (p->t.type == T_LBRACK) {
			if (e->kind == PQ_SEL && !e->range_ms)
				return perr(p, OODA_EPARSE, p->t.pos, "the range must come before the offset and @ modifiers");
			return perr(p, OODA_EPARSE, p->t.pos, "ranges only allowed for vector selectors");
		} else {
			break;
		}
	}
	return e;
}

static struct promql_expr *parse_primary(struct ps *p)
{
	size_t pos = p->t.pos;
	switch (p->t.type) {
	case T_NUM: {
		struct promql_expr *e = node(p, PQ_NUM, PQ_T_SCALAR, pos);
		if (!e)
			return NULL;
		e->num = p->t.num;
		if (next(p))
			return NULL;
		return parse_postfix(p, e, false);
	}
	case T_STR: {
		struct promql_expr *e = node(p, PQ_STR, PQ_T_STRING, pos);
		if (!e)
			return NULL;
		e->str = p->t.str;
		if (next(p))
			return NULL;
		return parse_postfix(p, e, false);
	}
	case T_LPAREN: {
		if (next(p))
			return NULL;
		struct promql_expr *e = parse_expr(p, 1);
		if (!e || expect(p, T_RPAREN, "\")\""))
			return NULL;
		return parse_postfix(p, e, false);
	}
	case T_LBRACE: {
		struct promql_expr *e = parse_selector(p, NULL, pos);
		return e ? parse_postfix(p, e, true) : NULL;
	}
	case T_IDENT: {
		struct tok t2;
		if (peek2(p, &t2))
			return NULL;
		const char *id = p->q + p->t.pos;
		size_t idn = p->t.len;
		for (size_t i = 0; i < sizeof(aggs) / sizeof(aggs[0]); i++) {
			if (strlen(aggs[i].name) != idn || strncmp(aggs[i].name, id, idn) != 0)
				continue;
			if (t2.type == T_LPAREN || is_kw(p, &t2, "by") || is_kw(p, &t2, "without")) {
				if (next(p))
					return NULL;
				struct promql_expr *e = parse_agg(p, (int)i, pos);
				return e ? parse_postfix(p, e, false) : NULL;
			}
		}
		if (t2.type == T_LPAREN) {
			for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
				if (strlen(fns[i].name) == idn && strncmp(fns[i].name, id, idn) == 0) {
					if (next(p))
						return NULL;
					struct promql_expr *e = parse_call(p, &fns[i], pos);
					return e ? parse_postfix(p, e, false) : NULL;
				}
			return perr(p, OODA_EPARSE, pos, "unknown function with name \"%.*s\"",
				    (int)(idn > 64 ? 64 : idn), id);
		}
		static const char *const kws[] = { "by", "without", "on", "ignoring", "group_left",
						   "group_right", "bool", "and", "or", "unless", "offset" };
		for (size_t i = 0; i < sizeof(kws) / sizeof(kws[0]); i++)
			if (is_kw(p, &p->t, kws[i]))
				return perr(p, OODA_EPARSE, pos, "unexpected %s, expected expression",
					    tok_desc(p, &p->t));
		const char *name = arena_strndup(p->a, id, idn);
		if (!name)
			return oom(p);
		if (next(p))
			return NULL;
		struct promql_expr *e = parse_selector(p, name, pos);
		return e ? parse_postfix(p, e, true) : NULL;
	}
	default:
		return perr(p, OODA_EPARSE, pos, "unexpected %s, expected expression", tok_desc(p, &p->t));
	}
}

/* Binary operator at the lookahead: precedence (0 = none). */
static int binop_at(struct ps *p, enum pq_binop *op)
{
	switch (p->t.type) {
	case T_ADD: *op = OP_ADD; return 4;
	case T_SUB: *op = OP_SUB; return 4;
	case T_MUL: *op = OP_MUL; return 5;
	case T_DIV: *op = OP_DIV; return 5;
	case T_MOD: *op = OP_MOD; return 5;
	case T_POW: *op = OP_POW; return 6;
	case T_EQL: *op = OP_EQ; return 3;
	case T_NEQ: *op = OP_NE; return 3;
	case T_GT: *op = OP_GT; return 3;
	case T_LT: *op = OP_LT; return 3;
	case T_GE: *op = OP_GE; return 3;
	case T_LE: *op = OP_LE; return 3;
	case T_IDENT:
		if (is_kw(p, &p->t, "and")) { *op = OP_AND; return 2; }
		if (is_kw(p, &p->t, "unless")) { *op = OP_UNLESS; return 2; }
		if (is_kw(p, &p->t, "or")) { *op = OP_OR; return 1; }
		return 0;
	default:
		return 0;
	}
}

static bool is_comparison(enum pq_binop op)
{
	return op >= OP_EQ && op <= OP_LE;
}

static bool is_setop(enum pq_binop op)
{
	return op >= OP_AND;
}

/* Modifiers after a binary operator: bool, on/ignoring, group_left/right. */
static int parse_bin_modifiers(struct ps *p, struct promql_expr *e)
{
	if (is_kw(p, &p->t, "bool")) {
		if (!is_comparison(e->op)) {
			perr(p, OODA_EPARSE, p->t.pos, "bool modifier can only be used on comparison operators");
			return -1;
		}
		e->ret_bool = true;
		if (next(p))
			return -1;
	}
	bool matching = false;
	if (is_kw(p, &p->t, "on") || is_kw(p, &p->t, "ignoring")) {
		e->on = is_kw(p, &p->t, "on");
		matching = true;
		if (next(p) || parse_label_list(p, &e->mlabels, &e->n_mlabels))
			return -1;
	}
	if (is_kw(p, &p->t, "group_left") || is_kw(p, &p->t, "group_right")) {
		if (!matching) {
			perr(p, OODA_EPARSE, p->t.pos, "group modifiers need on(...) or ignoring(...) first");
			return -1;
		}
		if (is_setop(e->op)) {
			perr(p, OODA_EPARSE, p->t.pos, "no grouping allowed for \"and\", \"or\", \"unless\" operations");
			return -1;
		}
		e->card = is_kw(p, &p->t, "group_left") ? CARD_MANY_ONE : CARD_ONE_MANY;
		if (next(p))
			return -1;
		if (p->t.type == T_LPAREN && parse_label_list(p, &e->include, &e->n_include))
			return -1;
	}
	if (is_setop(e->op))
		e->card = CARD_MANY_MANY;
	return 0;
}

static struct promql_expr *parse_unary(struct ps *p)
{
	if (p->t.type != T_SUB && p->t.type != T_ADD)
		return parse_primary(p);
	bool neg = p->t.type == T_SUB;
	size_t pos = p->t.pos;
	if (next(p))
		return NULL;
	struct promql_expr *x = parse_expr(p, 6);
	if (!x)
		return NULL;
	if (x->type != PQ_T_SCALAR && x->type != PQ_T_VECTOR)
		return perr(p, OODA_EPARSE, pos, "unary expression only allowed on expressions of type scalar or instant vector, got %s",
			    type_name(x->type));
	if (!neg)
		return x;
	if (x->kind == PQ_NUM) {
		x->num = -x->num;
		x->pos = (uint32_t)pos + 1;
		return x;
	}
	struct promql_expr *e = node(p, PQ_NEG, x->type, pos);
	if (!e)
		return NULL;
	e->arg = x;
	return grow(p, e, x) ? NULL : e;
}

static struct promql_expr *parse_expr(struct ps *p, int min_prec)
{
	if (++p->depth > PROMQL_MAX_DEPTH) {
		p->depth--;
		return perr(p, OODA_ELIMIT, p->t.pos, "expression nests deeper than %d levels", PROMQL_MAX_DEPTH);
	}
	struct promql_expr *lhs = parse_unary(p);
	while (lhs) {
		enum pq_binop op;
		int prec = binop_at(p, &op);
		if (!prec || prec < min_prec)
			break;
		size_t pos = p->t.pos;
		if (next(p)) {
			lhs = NULL;
			break;
		}
		struct promql_expr *e = node(p, PQ_BIN, PQ_T_VECTOR, pos);
		if (!e || (e->op = op, parse_bin_modifiers(p, e))) {
			lhs = NULL;
			break;
		}
		struct promql_expr *rhs = parse_expr(p, op == OP_POW ? prec : prec + 1);
		if (!rhs) {
			lhs = NULL;
			break;
		}
		e->lhs = lhs;
		e->rhs = rhs;
		if ((lhs->type != PQ_T_SCALAR && lhs->type != PQ_T_VECTOR) ||
		    (rhs->type != PQ_T_SCALAR && rhs->type != PQ_T_VECTOR)) {
			lhs = perr(p, OODA_EPARSE, pos,
				   "binary expression must contain only scalar and instant vector types");
			break;
		}
		bool scalars = lhs->type == PQ_T_SCALAR && rhs->type == PQ_T_SCALAR;
		if (is_setop(op) && (lhs->type != PQ_T_VECTOR || rhs->type != PQ_T_VECTOR)) {
			lhs = perr(p, OODA_EPARSE, pos, "set operator \"%s\" not allowed in binary scalar expression",
				   op == OP_AND ? "and" : op == OP_OR ? "or" : "unless");
			break;
		}
		if (is_comparison(op) && scalars && !e->ret_bool) {
			lhs = perr(p, OODA_EPARSE, pos, "comparisons between scalars must use BOOL modifier");
			break;
		}
		if ((e->n_mlabels || e->on || e->card != CARD_ONE_ONE) && !is_setop(op) &&
		    (lhs->type != PQ_T_VECTOR || rhs->type != PQ_T_VECTOR)) {
			lhs = perr(p, OODA_EPARSE, pos, "vector matching only allowed between instant vectors");
			break;
		}
		e->type = scalars ? PQ_T_SCALAR : PQ_T_VECTOR;
		if (grow(p, e, lhs) || grow(p, e, rhs)) {
			lhs = NULL;
			break;
		}
		lhs = e;
	}
	p->depth--;
	return lhs;
}

static int parse_root(const char *q, size_t len, struct arena *a, struct promql_expr **out,
		      struct buf *err)
{
	*out = NULL;
	if (len > PROMQL_MAX_QUERY_LEN) {
		buf_addf(err, "query is %zu bytes, longer than the limit of %d", len, PROMQL_MAX_QUERY_LEN);
		return OODA_ELIMIT;
	}
	struct ps p = { .q = q, .len = len, .a = a, .err = err };
	if (next(&p))
		return p.rc;
	if (p.t.type == T_EOF) {
		perr(&p, OODA_EPARSE, 0, "no expression found in input");
		return p.rc;
	}
	struct promql_expr *e = parse_expr(&p, 1);
	if (e && p.t.type != T_EOF)
		perr(&p, OODA_EPARSE, p.t.pos, "unexpected %s", tok_desc(&p, &p.t));
	if (p.rc)
		return p.rc;
	e->n_sel = p.n_sel;
	*out = e;
	return 0;
}

int promql_parse(const char *q, size_t len, struct arena *a, struct promql_expr **out,
		 struct buf *err)
{
	return parse_root(q, len, a, out, err);
}

int promql_parse_selector(const char *q, size_t len, struct arena *a,
			  struct promql_matcher **m, size_t *n, struct buf *err)
{
	struct promql_expr *e;
	int rc = parse_root(q, len, a, &e, err);
	if (rc)
		return rc;
	if (e->kind != PQ_SEL || e->range_ms || e->offset_ms || e->at) {
		buf_addf(err, "parse error at char 1: expected a single vector selector");
		return OODA_EPARSE;
	}
	*m = e->m;
	*n = e->n_m;
	return 0;
}
