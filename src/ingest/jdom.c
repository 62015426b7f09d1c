/*
 * The ingest JSON reader (see jdom.h): a recursive-descent parser over a
 * byte range, building arena nodes. Strings are unescaped into the arena
 * (\uXXXX with surrogate pairs to UTF-8); numbers keep their text and are
 * converted on demand, so int64 values never pass through a double.
 */
#include "ingest/jdom.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>

#define JDOM_MAX_DEPTH 64

struct jp {
	const char *s, *p, *end;
	struct arena *a;
	struct buf *err;
	const char *why;
};

static void *jp_fail(struct jp *j, const char *why)
{
	if (!j->why)
		j->why = why;
	return NULL;
}

static inline void skip_ws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
		j->p++;
}

static int hex4(const char *p)
{
	int v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			v |= (c | 0x20) - 'a' + 10;
		else
			return -1;
	}
	return v;
}

static size_t put_utf8(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Bytes that end the fast scan of a string body. */
static const bool str_stop[256] = {
	[0 ... 0x1f] = true, ['"'] = true, ['\\'] = true,
};

/*
 * At the opening quote. Sets *out / *olen to the unescaped arena copy, or,
 * for a member name without escapes (in_place), to the bytes in the input.
 */
static bool parse_string(struct jp *j, const char **out, uint32_t *olen, bool in_place)
{
	const char *start = ++j->p;
	const char *q = start;
	bool esc = false;
	while (q < j->end) {
		/* skip plain bytes fast: only '"', '\\' and control characters stop the scan */
		while (q < j->end && !str_stop[(unsigned char)*q])
			q++;
		if (q >= j->end)
			break;
		unsigned char c = (unsigned char)*q;
		if (c == '"')
			break;
		if (c < 0x20) {
			j->p = q;
			jp_fail(j, "control character in string");
			return false;
		}
		if (c == '\\') {
			esc = true;
			q++;
		}
		q++;
	}
	if (q >= j->end) {
		j->p = j->end;
		jp_fail(j, "unterminated string");
		return false;
	}
	size_t raw = (size_t)(q - start);
	if (raw > UINT32_MAX / 2) {
		jp_fail(j, "string too long");
		return false;
	}
	if (in_place && !esc) {
		*out = start;
		*olen = (uint32_t)raw;
		j->p = q + 1;
		return true;
	}
	char *o = arena_alloc(j->a, raw + 1);
	if (!o) {
		jp_fail(j, "document exceeds the memory limit");
		return false;
	}
	if (!esc) {
		memcpy(o, start, raw);
		o[raw] = '\0';
		*out = o;
		*olen = (uint32_t)raw;
		j->p = q + 1;
		return true;
	}
	size_t n = 0;
	const char *p = start;
	while (p < q) {
		if (*p != '\\') {
			o[n++] = *p++;
			continue;
		}
		j->p = p;
		p++;
		char e = *p++;
		switch (e) {
		case '"': o[n++] = '"'; break;
		case '\\': o[n++] = '\\'; break;
		case '/': o[n++] = '/'; break;
		case 'b': o[n++] = '\b'; break;
		case 'f': o[n++] = '\f'; break;
		case 'n': o[n++] = '\n'; break;
		case 'r': o[n++] = '\r'; break;
		case 't': o[n++] = '\t'; break;
		case 'u': {
			if (q - p < 4) {
				jp_fail(j, "bad \\u escape");
				return false;
			}
			int cp = hex4(p);
			if (cp < 0) {
				jp_fail(j, "bad \\u escape");
				return false;
			}
			p += 4;
			uint32_t u = (uint32_t)cp;
			if (u >= 0xd800 && u < 0xdc00 && q - p >= 6 && p[0] == '\\' && p[1] == 'u') {
				int lo = hex4(p + 2);
				if (lo >= 0xdc00 && lo < 0xe000) {
					u = 0x10000 + ((u - 0xd800) << 10) + ((uint32_t)lo - 0xdc00);
					p += 6;
				}
			}
			if (u >= 0xd800 && u < 0xe000)
				u = 0xfffd; /* lone surrogate */
			/* 6 escaped bytes always make room for at most 4 output bytes */
			n += put_utf8(o + n, u);
			break;
		}
		default:
			jp_fail(j, "bad escape in string");
			return false;
		}
	}
	o[n] = '\0';
	*out = o;
	*olen = (uint32_t)n;
	j->p = q + 1;
	return true;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static bool parse_number(struct jp *j, struct jval *v)
{
	const char *start = j->p, *p = j->p;
	if (p < j->end && *p == '-')
		p++;
	if (p >= j->end || !is_digit(*p)) {
		j->p = p;
		jp_fail(j, "bad number");
		return false;
	}
	if (*p == '0')
		p++;
	else
		while (p < j->end && is_digit(*p))
			p++;
	if (p < j->end && *p == '.') {
		p++;
		if (p >= j->end || !is_digit(*p)) {
			j->p = p;
			jp_fail(j, "bad number");
			return false;
		}
		while (p < j->end && is_digit(*p))
			p++;
	}
	if (p < j->end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < j->end && (*p == '+' || *p == '-'))
			p++;
		if (p >= j->end || !is_digit(*p)) {
			j->p = p;
			jp_fail(j, "bad number");
			return false;
		}
		while (p < j->end && is_digit(*p))
			p++;
	}
	size_t n = (size_t)(p - start);
	if (n > 4096) {
		jp_fail(j, "number too long");
		return false;
	}
	char *o = arena_alloc(j->a, n + 1);
	if (!o) {
		jp_fail(j, "document exceeds the memory limit");
		return false;
	}
	memcpy(o, start, n);
	o[n] = '\0';
	v->type = J_NUM;
	v->s = o;
	v->len = (uint32_t)n;
	j->p = p;
	return true;
}

static bool literal(struct jp *j, const char *w, size_t n)
{
	if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0) {
		jp_fail(j, "invalid literal");
		return false;
	}
	j->p += n;
	return true;
}

static struct jval *parse_value(struct jp *j, int depth)
{
	skip_ws(j);
	if (j->p >= j->end)
		return jp_fail(j, "unexpected end of input");
	struct jval *v = arena_alloc(j->a, sizeof(*v));
	if (!v)
		return jp_fail(j, "document exceeds the memory limit");
	memset(v, 0, sizeof(*v));
	switch (*j->p) {
	case '{': {
		if (depth >= JDOM_MAX_DEPTH)
			return jp_fail(j, "nesting deeper than 64");
		v->type = J_OBJ;
		j->p++;
		skip_ws(j);
		if (j->p < j->end && *j->p == '}') {
			j->p++;
			return v;
		}
		struct jval **tail = &v->child;
		for (;;) {
			skip_ws(j);
			if (j->p >= j->end || *j->p != '"')
				return jp_fail(j, "expected a member name");
			const char *k;
			uint32_t kl;
			if (!parse_string(j, &k, &kl, true))
				return NULL;
			skip_ws(j);
			if (j->p >= j->end || *j->p != ':')
				return jp_fail(j, "expected ':'");
			j->p++;
			struct jval *m = parse_value(j, depth + 1);
			if (!m)
				return NULL;
			m->key = k;
			m->klen = kl;
			*tail = m;
			tail = &m->next;
			v->len++;
			skip_ws(j);
			if (j->p < j->end && *j->p == ',') {
				j->p++;
				continue;
			}
			if (j->p < j->end && *j->p == '}') {
				j->p++;
				return v;
			}
			return jp_fail(j, "expected ',' or '}'");
		}
	}
	case '[': {
		if (depth >= JDOM_MAX_DEPTH)
			return jp_fail(j, "nesting deeper than 64");
		v->type = J_ARR;
		j->p++;
		skip_ws(j);
		if (j->p < j->end && *j->p == ']') {
			j->p++;
			return v;
		}
		struct jval **tail = &v->child;
		for (;;) {
			struct jval *m = parse_value(j, depth + 1);
			if (!m)
				return NULL;
			*tail = m;
			tail = &m->next;
			v->len++;
			skip_ws(j);
			if (j->p < j->end && *j->p == ',') {
				j->p++;
				continue;
			}
			if (j->p < j->end && *j->p == ']') {
				j->p++;
				return v;
			}
			return jp_fail(j, "expected ',' or ']'");
		}
	}
	case '"':
		v->type = J_STR;
		return parse_string(j, &v->s, &v->len, false) ? v : NULL;
	case 't':
		v->type = J_TRUE;
		return literal(j, "true", 4) ? v : NULL;
	case 'f':
		v->type = J_FALSE;
		return literal(j, "false", 5) ? v : NULL;
	case 'n':
		v->type = J_NULL;
		return literal(j, "null", 4) ? v : NULL;
	default:
		return parse_number(j, v) ? v : NULL;
	}
}

struct jval *jdom_parse(struct arena *arena, const char *text, size_t len, struct buf *err)
{
	struct jp j = { .s = text, .p = text, .end = text + len, .a = arena, .err = err };
	struct jval *v = parse_value(&j, 0);
	if (v) {
		skip_ws(&j);
		if (j.p != j.end) {
			jp_fail(&j, "trailing characters after the JSON value");
			v = NULL;
		}
	}
	if (!v && err) {
		size_t line = 1, col = 1;
		for (const char *p = text; p < j.p && p < j.end; p++) {
			if (*p == '\n') {
				line++;
				col = 1;
			} else {
				col++;
			}
		}
		buf_addf(err, "line %zu, column %zu: %s", line, col, j.why ? j.why : "invalid JSON");
	}
	return v;
}

const struct jval *jdom_get(const struct jval *obj, const char *key, const char *key2)
{
	if (!obj || obj->type != J_OBJ)
		return NULL;
	size_t kl = strlen(key), kl2 = key2 ? strlen(key2) : 0;
	for (const struct jval *m = obj->child; m; m = m->next) {
		if (m->klen == kl && !memcmp(m->key, key, kl))
			return m;
		if (key2 && m->klen == kl2 && !memcmp(m->key, key2, kl2))
			return m;
	}
	return NULL;
}

bool jdom_i64(const struct jval *v, int64_t *out)
{
	if (!v || (v->type != J_NUM && v->type != J_STR) || v->len == 0)
		return false;
	errno = 0;
	char *end;
	long long x = strtoll(v->s, &end, 10);
	if (errno == 0 && *end == '\0' && end != v->s) {
		*out = x;
		return true;
	}
	double d;
	if (!jdom_f64(v, &d) || !(d >= -9.2233720368547758e18 && d < 9.2233720368547758e18) || d != floor(d))
		return false;
	*out = (int64_t)d;
	return true;
}

bool jdom_u64(const struct jval *v, uint64_t *out)
{
	if (!v || (v->type != J_NUM && v->type != J_STR) || v->len == 0 || v->s[0] == '-')
		return false;
	errno = 0;
	char *end;
	unsigned long long x = strtoull(v->s, &end, 10);
	if (errno == 0 && *end == '\0' && end != v->s) {
		*out = x;
		return true;
	}
	double d;
	if (!jdom_f64(v, &d) || !(d >= 0 && d < 1.8446744073709552e19) || d != floor(d))
		return false;
	*out = (uint64_t)d;
	return true;
}

bool jdom_f64(const struct jval *v, double *out)
{
	if (!v || (v->type != J_NUM && v->type != J_STR) || v->len == 0)
		return false;
	if (v->type == J_STR) {
		if (!strcmp(v->s, "NaN")) {
			*out = NAN;
			return true;
		}
		if (!strcmp(v->s, "Infinity")) {
			*out = INFINITY;
			return true;
		}
		if (!strcmp(v->s, "-Infinity")) {
			*out = -INFINITY;
			return true;
		}
	}
	char *end;
	double d = strtod(v->s, &end);
	if (*end != '\0' || end == v->s)
		return false;
	*out = d;
	return true;
}

static void write_depth(struct buf *out, const struct jval *v, int depth)
{
	switch (v->type) {
	case J_NULL: buf_add(out, "null", 4); break;
	case J_TRUE: buf_add(out, "true", 4); break;
	case J_FALSE: buf_add(out, "false", 5); break;
	case J_NUM: buf_add(out, v->s, v->len); break;
	case J_STR: buf_add_json_str(out, v->s, v->len); break;
	case J_ARR:
	case J_OBJ: {
		buf_addch(out, v->type == J_ARR ? '[' : '{');
		for (const struct jval *m = v->child; m; m = m->next) {
			if (m != v->child)
				buf_addch(out, ',');
			if (v->type == J_OBJ) {
				buf_add_json_str(out, m->key, m->klen);
				buf_addch(out, ':');
			}
			if (depth < JDOM_MAX_DEPTH)
				write_depth(out, m, depth + 1);
			else
				buf_add(out, "null", 4);
		}
		buf_addch(out, v->type == J_ARR ? ']' : '}');
		break;
	}
	}
}

void jdom_write(struct buf *out, const struct jval *v)
{
	write_depth(out, v, 0);
}
