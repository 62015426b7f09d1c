/*
 * The JsonLogic compiler and evaluator behind flag targeting. jl_compile
 * turns a jansson rule into a node tree once (operators looked up, $ref
 * substituted, constant var paths split, constant arrays folded);
 * jl_run walks that tree against the data. Values are struct jl_val: they
 * borrow from the rule and the data and take anything new from a 2 KiB
 * in-struct scratch buffer before spilling to an arena, so the common case
 * allocates nothing. Coercions follow JavaScript, which is what JsonLogic's
 * reference implementation defines them by.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>

#include "change/jsonlogic.h"
#include "core/error.h"

enum op {
	OP_VAR, OP_MISSING, OP_MISSING_SOME, OP_IF, OP_EQ, OP_SEQ, OP_NE, OP_SNE,
	OP_NOT, OP_NOTNOT, OP_OR, OP_AND, OP_GT, OP_GE, OP_LT, OP_LE, OP_MAX, OP_MIN,
	OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD, OP_IN, OP_CAT, OP_SUBSTR, OP_MERGE,
	OP_MAP, OP_FILTER, OP_REDUCE, OP_ALL, OP_NONE, OP_SOME, OP_LOG, OP_HOOK,
};

static const struct {
	const char *name;
	enum op op;
} builtins[] = {
	{ "var", OP_VAR }, { "missing", OP_MISSING }, { "missing_some", OP_MISSING_SOME },
	{ "if", OP_IF }, { "?:", OP_IF }, { "==", OP_EQ }, { "===", OP_SEQ },
	{ "!=", OP_NE }, { "!==", OP_SNE }, { "!", OP_NOT }, { "!!", OP_NOTNOT },
	{ "or", OP_OR }, { "and", OP_AND }, { ">", OP_GT }, { ">=", OP_GE },
	{ "<", OP_LT }, { "<=", OP_LE }, { "max", OP_MAX }, { "min", OP_MIN },
	{ "+", OP_ADD }, { "-", OP_SUB }, { "*", OP_MUL }, { "/", OP_DIV },
	{ "%", OP_MOD }, { "in", OP_IN }, { "cat", OP_CAT }, { "substr", OP_SUBSTR },
	{ "merge", OP_MERGE }, { "map", OP_MAP }, { "filter", OP_FILTER },
	{ "reduce", OP_REDUCE }, { "all", OP_ALL }, { "none", OP_NONE },
	{ "some", OP_SOME }, { "log", OP_LOG },
};

#define JL_MAX_HOOKS 32

struct hook {
	char name[32];
	jl_hook_fn fn;
	void *user;
};

struct jl_registry {
	struct hook hooks[JL_MAX_HOOKS];
	size_t n;
};

enum node_type { N_LIT, N_ARRAY, N_OP };

struct seg {
	const char *s;
	size_t len;
};

struct node {
	enum node_type type;
	enum op op;
	const struct hook *hook;
	struct node *args;
	size_t nargs;
	struct jl_val lit;
	struct seg *path; /* var with a constant path */
	size_t npath;
	bool has_path;
};

struct jl_rule {
	struct arena mem;
	struct node root;
	json_t **held;
	size_t nheld, capheld;
	size_t nodes; /* built by the compiler; a shared $ref tree counts once */
	bool empty;
};

/* ---- registry ---- */

struct jl_registry *jl_registry_create(void)
{
	struct jl_registry *r = xcalloc(1, sizeof(*r));
	return r;
}

void jl_registry_destroy(struct jl_registry *reg)
{
	free(reg);
}

static int builtin_lookup(const char *name)
{
	for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
		if (!strcmp(builtins[i].name, name))
			return (int)builtins[i].op;
	return -1;
}

static const struct hook *hook_lookup(const struct jl_registry *reg, const char *name)
{
	if (!reg)
		return NULL;
	for (size_t i = 0; i < reg->n; i++)
		if (!strcmp(reg->hooks[i].name, name))
			return &reg->hooks[i];
	return NULL;
}

int jl_registry_add(struct jl_registry *reg, const char *name, jl_hook_fn fn, void *user)
{
	if (!name || !*name || strlen(name) >= sizeof(reg->hooks[0].name) || !fn)
		return OODA_EINVAL;
	if (builtin_lookup(name) >= 0 || hook_lookup(reg, name))
		return OODA_ECONFLICT;
	if (reg->n >= JL_MAX_HOOKS)
		return OODA_ELIMIT;
	struct hook *h = &reg->hooks[reg->n++];
	snprintf(h->name, sizeof(h->name), "%s", name);
	h->fn = fn;
	h->user = user;
	return 0;
}

/* ---- compiler ---- */

/*
 * A named evaluator compiled once per rule: later $refs to it share its
 * node tree instead of inlining another copy, so evaluators that reference
 * each other two at a time cost linear, not exponential, compile time and
 * memory. size and height are what the shared tree stands for when
 * expanded, so the bounds below still hold for the rule as evaluated.
 */
struct ref_memo {
	const json_t *target;
	const struct node *node; /* NULL while being compiled: a second visit is a cycle */
	uint64_t size;           /* nodes of the expanded tree */
	unsigned height;         /* its nesting depth */
};

struct cctx {
	struct jl_rule *rule;
	const struct jl_registry *reg;
	const json_t *refs;
	struct buf path;
	struct buf *err;
	const char *where;
	struct ref_memo *memo;
	size_t nmemo, capmemo;
	uint64_t expanded; /* nodes of the rule with every $ref expanded */
	unsigned deepest;  /* deepest nesting reached, $refs expanded */
};

static int cfail(struct cctx *c, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int cfail(struct cctx *c, int code, const char *fmt, ...)
{
	if (c->err) {
		va_list ap;
		buf_addf(c->err, "%s%s: ", c->where ? c->where : "", c->path.len ? c->path.data : "");
		va_start(ap, fmt);
		buf_vaddf(c->err, fmt, ap);
		va_end(ap);
	}
	return code;
}

static void hold(struct jl_rule *r, json_t *j)
{
	if (r->nheld == r->capheld) {
		r->capheld = r->capheld ? r->capheld * 2 : 8;
		r->held = xrealloc(r->held, r->capheld * sizeof(*r->held));
	}
	r->held[r->nheld++] = j;
}

static void split_path(struct arena *a, const char *s, size_t len, struct seg **out, size_t *n)
{
	size_t count = 1;
	for (size_t i = 0; i < len; i++)
		count += s[i] == '.';
	struct seg *segs = arena_alloc(a, count * sizeof(*segs));
	size_t k = 0, start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || s[i] == '.') {
			segs[k].s = s + start;
			segs[k].len = i - start;
			k++;
			start = i + 1;
		}
	}
	*out = segs;
	*n = count;
}

static int compile(struct cctx *c, const json_t *j, struct node *n, unsigned depth);
static int compile_ref(struct cctx *c, const json_t *target, const char *name, struct node *n, unsigned depth);

static int compile_literal(struct cctx *c, const json_t *j, struct node *n)
{
	n->type = N_LIT;
	switch (json_typeof(j)) {
	case JSON_STRING: {
		size_t len = json_string_length(j);
		n->lit.kind = JL_STR;
		n->lit.str.s = arena_strndup(&c->rule->mem, json_string_value(j), len);
		n->lit.str.len = len;
		break;
	}
	case JSON_INTEGER:
	case JSON_REAL:
		n->lit.kind = JL_NUM;
		n->lit.n = json_number_value(j);
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		n->lit.kind = JL_BOOL;
		n->lit.b = json_is_true(j);
		break;
	case JSON_OBJECT:
	case JSON_ARRAY: {
		json_t *copy = json_deep_copy(j);
		if (!copy)
			return cfail(c, OODA_ENOMEM, "out of memory");
		hold(c->rule, copy);
		n->lit.kind = JL_JSON;
		n->lit.json = copy;
		break;
	}
	default:
		n->lit.kind = JL_NULL;
	}
	return 0;
}

static int compile_args(struct cctx *c, const json_t *v, struct node *n, unsigned depth)
{
	size_t base = c->path.len;
	if (json_is_array(v)) {
		n->nargs = json_array_size(v);
		n->args = arena_zalloc(&c->rule->mem, (n->nargs ? n->nargs : 1) * sizeof(*n->args));
		for (size_t i = 0; i < n->nargs; i++) {
			buf_addf(&c->path, "/%zu", i);
			int rc = compile(c, json_array_get(v, i), &n->args[i], depth + 1);
			if (rc)
				return rc;
			buf_setlen(&c->path, base);
		}
		return 0;
	}
	n->nargs = 1;
	n->args = arena_zalloc(&c->rule->mem, sizeof(*n->args));
	return compile(c, v, &n->args[0], depth + 1);
}

/* {"$ref": name}: the evaluator's tree, compiled on its first use and shared after. */
static int compile_ref(struct cctx *c, const json_t *target, const char *name, struct node *n, unsigned depth)
{
	for (size_t i = 0; i < c->nmemo; i++) {
		struct ref_memo *m = &c->memo[i];
		if (m->target != target)
			continue;
		if (!m->node)
			return cfail(c, OODA_EPARSE, "$ref cycle: evaluator \"%s\" refers back to itself", name);
		if (depth + m->height > JL_MAX_DEPTH)
			return cfail(c, OODA_ELIMIT, "rule nested deeper than %d levels", JL_MAX_DEPTH);
		if (m->size > JL_MAX_NODES || c->expanded + m->size > JL_MAX_NODES)
			return cfail(c, OODA_ELIMIT, "rule expands to more than %d operations", JL_MAX_NODES);
		c->expanded += m->size;
		if (depth + m->height > c->deepest)
			c->deepest = depth + m->height;
		*n = *m->node; /* nodes are immutable once compiled: sharing the subtree is safe */
		return 0;
	}
	if (c->nmemo == c->capmemo) {
		c->capmemo = c->capmemo ? c->capmemo * 2 : 8;
		c->memo = xrealloc(c->memo, c->capmemo * sizeof(*c->memo));
	}
	size_t at = c->nmemo++;
	c->memo[at] = (struct ref_memo){ .target = target };
	uint64_t before = c->expanded;
	unsigned saved = c->deepest;
	c->deepest = depth;
	int rc = compile(c, target, n, depth);
	if (rc)
		return rc;
	c->memo[at].node = n;
	c->memo[at].size = c->expanded - before;
	c->memo[at].height = c->deepest - depth;
	if (saved > c->deepest)
		c->deepest = saved;
	return 0;
}

static int compile(struct cctx *c, const json_t *j, struct node *n, unsigned depth)
{
	if (depth > JL_MAX_DEPTH)
		return cfail(c, OODA_ELIMIT, "rule nested deeper than %d levels", JL_MAX_DEPTH);
	if (++c->expanded > JL_MAX_NODES)
		return cfail(c, OODA_ELIMIT, "rule expands to more than %d operations", JL_MAX_NODES);
	c->rule->nodes++;
	if (depth > c->deepest)
		c->deepest = depth;
	if (json_is_array(j)) {
		size_t count = json_array_size(j), base = c->path.len;
		bool all_lit = true;
		n->type = N_ARRAY;
		n->nargs = count;
		n->args = arena_zalloc(&c->rule->mem, (count ? count : 1) * sizeof(*n->args));
		for (size_t i = 0; i < count; i++) {
			buf_addf(&c->path, "/%zu", i);
			int rc = compile(c, json_array_get(j, i), &n->args[i], depth + 1);
			if (rc)
				return rc;
			buf_setlen(&c->path, base);
			all_lit &= n->args[i].type == N_LIT;
			if (n->args[i].type == N_LIT) /* a list of constants is data, not operations to bound */
				c->expanded--;
		}
		if (all_lit) { /* fold: a constant array is a literal */
			struct jl_val *items = arena_alloc(&c->rule->mem, (count ? count : 1) * sizeof(*items));
			for (size_t i = 0; i < count; i++)
				items[i] = n->args[i].lit;
			n->type = N_LIT;
			n->lit.kind = JL_ARR;
			n->lit.arr.items = items;
			n->lit.arr.n = count;
		}
		return 0;
	}
	if (!json_is_object(j) || json_object_size(j) != 1)
		return compile_literal(c, j, n);

	const char *key = json_object_iter_key(json_object_iter((json_t *)j));
	const json_t *v = json_object_iter_value(json_object_iter((json_t *)j));
	size_t base = c->path.len;
	if (!strcmp(key, "$ref") && json_is_string(v)) {
		const json_t *target = c->refs ? json_object_get(c->refs, json_string_value(v)) : NULL;
		if (!target)
			return cfail(c, OODA_EPARSE, "$ref to unknown evaluator \"%s\"", json_string_value(v));
		buf_addf(&c->path, "($ref %s)", json_string_value(v));
		int rc = compile_ref(c, target, json_string_value(v), n, depth + 1);
		buf_setlen(&c->path, base);
		return rc;
	}
	int op = builtin_lookup(key);
	const struct hook *h = NULL;
	if (op < 0) {
		h = hook_lookup(c->reg, key);
		if (!h)
			return cfail(c, OODA_EPARSE, "unknown operator \"%s\"", key);
		op = OP_HOOK;
	}
	n->type = N_OP;
	n->op = (enum op)op;
	n->hook = h;
	buf_addf(&c->path, "/%s", key);
	int rc = compile_args(c, v, n, depth);
	buf_setlen(&c->path, base);
	if (rc)
		return rc;
	if (n->op == OP_VAR && n->nargs >= 1 && n->args[0].type == N_LIT) {
		const struct jl_val *p = &n->args[0].lit;
		if (p->kind == JL_STR) {
			n->has_path = true;
			if (p->str.len)
				split_path(&c->rule->mem, p->str.s, p->str.len, &n->path, &n->npath);
		} else if (p->kind == JL_NUM) {
			char tmp[40];
			size_t len = jl_format_number(p->n, tmp, sizeof(tmp));
			n->has_path = true;
			split_path(&c->rule->mem, arena_strndup(&c->rule->mem, tmp, len), len,
				   &n->path, &n->npath);
		} else if (p->kind == JL_NULL) {
			n->has_path = true;
		}
	} else if (n->op == OP_VAR && n->nargs == 0) {
		n->has_path = true;
	}
	return 0;
}

int jl_compile(const json_t *rule, const struct jl_registry *reg, const json_t *refs,
	       const char *where, struct jl_rule **out, struct buf *err)
{
	*out = NULL;
	struct jl_rule *r = xcalloc(1, sizeof(*r));
	arena_init(&r->mem, 4096);
	struct cctx c = { .rule = r, .reg = reg, .refs = refs, .path = BUF_INIT, .err = err, .where = where };
	r->empty = !rule || json_is_null(rule) || (json_is_object(rule) && json_object_size(rule) == 0);
	int rc = compile(&c, rule ? rule : json_null(), &r->root, 0);
	buf_release(&c.path);
	free(c.memo);
	if (rc) {
		jl_rule_destroy(r);
		return rc;
	}
	*out = r;
	return 0;
}

void jl_rule_destroy(struct jl_rule *rule)
{
	if (!rule)
		return;
	for (size_t i = 0; i < rule->nheld; i++)
		json_decref(rule->held[i]);
	free(rule->held);
	arena_release(&rule->mem);
	free(rule);
}

bool jl_rule_is_empty(const struct jl_rule *rule)
{
	return rule->empty;
}

size_t jl_rule_nodes(const struct jl_rule *rule)
{
	return rule->nodes;
}

/* ---- evaluation state ---- */

void jl_eval_init(struct jl_eval *ev, const json_t *data)
{
	ev->data = data;
	ev->flag_key = NULL;
	ev->timestamp = -1;
	ev->user = NULL;
	ev->marks = 0;
	ev->ops = 0;
	ev->depth = 0;
	ev->err = NULL;
	ev->small_used = 0;
	ev->heap_live = false;
}

void jl_eval_release(struct jl_eval *ev)
{
	if (ev->heap_live)
		arena_release(&ev->heap);
	ev->heap_live = false;
	ev->small_used = 0;
}

void *jl_alloc(struct jl_eval *ev, size_t size)
{
	size = (size + 15) & ~(size_t)15;
	if (!size)
		size = 16;
	if (size <= sizeof(ev->small) - ev->small_used) {
		void *p = ev->small + ev->small_used;
		ev->small_used += size;
		return p;
	}
	if (!ev->heap_live) {
		arena_init(&ev->heap, 0);
		ev->heap.limit = JL_MAX_SCRATCH;
		ev->heap_live = true;
	}
	return arena_alloc(&ev->heap, size);
}

static int efail(struct jl_eval *ev, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int efail(struct jl_eval *ev, int code, const char *fmt, ...)
{
	if (ev->err && ev->err->len == 0) {
		va_list ap;
		va_start(ap, fmt);
		buf_vaddf(ev->err, fmt, ap);
		va_end(ap);
	}
	return code;
}

#define NOMEM(ev) efail(ev, OODA_ELIMIT, "evaluation needs more than %u bytes of scratch", JL_MAX_SCRATCH)

/* ---- values and JavaScript coercions ---- */

static const struct jl_val jl_null = { .kind = JL_NULL };

struct jl_val jl_from_json(const json_t *j)
{
	struct jl_val v = { .kind = JL_NULL };
	if (!j)
		return v;
	switch (json_typeof(j)) {
	case JSON_STRING:
		v.kind = JL_STR;
		v.str.s = json_string_value(j);
		v.str.len = json_string_length(j);
		break;
	case JSON_INTEGER:
	case JSON_REAL:
		v.kind = JL_NUM;
		v.n = json_number_value(j);
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		v.kind = JL_BOOL;
		v.b = json_is_true(j);
		break;
	case JSON_OBJECT:
	case JSON_ARRAY:
		v.kind = JL_JSON;
		v.json = j;
		break;
	default:
		break;
	}
	return v;
}

static bool is_array(const struct jl_val *v)
{
	return v->kind == JL_ARR || (v->kind == JL_JSON && json_is_array(v->json));
}

static bool is_object(const struct jl_val *v)
{
	return v->kind == JL_OBJ || (v->kind == JL_JSON && json_is_object(v->json));
}

static size_t arr_len(const struct jl_val *v)
{
	if (v->kind == JL_ARR)
		return v->arr.n;
	if (v->kind == JL_JSON && json_is_array(v->json))
		return json_array_size(v->json);
	return 0;
}

static struct jl_val arr_at(const struct jl_val *v, size_t i)
{
	if (v->kind == JL_ARR)
		return v->arr.items[i];
	return jl_from_json(json_array_get(v->json, i));
}

bool jl_truthy(const struct jl_val *v)
{
	switch (v->kind) {
	case JL_NULL:
		return false;
	case JL_BOOL:
		return v->b;
	case JL_NUM:
		return v->n != 0 && !isnan(v->n);
	case JL_STR:
		return v->str.len > 0;
	case JL_ARR:
		return v->arr.n > 0;
	case JL_OBJ:
		return true;
	case JL_JSON:
		return json_is_object(v->json) || json_array_size(v->json) > 0;
	}
	return false;
}

size_t jl_format_number(double n, char *out, size_t cap)
{
	if (isnan(n))
		return (size_t)snprintf(out, cap, "NaN");
	if (isinf(n))
		return (size_t)snprintf(out, cap, n < 0 ? "-Infinity" : "Infinity");
	if (n == 0)
		return (size_t)snprintf(out, cap, "0");
	if (n == trunc(n) && fabs(n) < 1e21)
		return (size_t)snprintf(out, cap, "%.0f", n);
	char tmp[40];
	int p;
	for (p = 1; p <= 17; p++) {
		snprintf(tmp, sizeof(tmp), "%.*e", p - 1, fabs(n));
		if (strtod(tmp, NULL) == fabs(n))
			break;
	}
	/* tmp = d[.ddd]e±x : collect digits and the exponent */
	char digits[24];
	int k = 0;
	char *e = strchr(tmp, 'e');
	for (char *q = tmp; q < e && k < 20; q++)
		if (*q >= '0' && *q <= '9')
			digits[k++] = *q;
	while (k > 1 && digits[k - 1] == '0')
		k--;
	int x = atoi(e + 1) + 1; /* value = 0.digits * 10^x */
	char res[64];
	size_t len = 0;
	if (n < 0)
		res[len++] = '-';
	if (k <= x && x <= 21) {
		memcpy(res + len, digits, (size_t)k);
		len += (size_t)k;
		for (int i = k; i < x; i++)
			res[len++] = '0';
	} else if (0 < x && x <= 21) {
		memcpy(res + len, digits, (size_t)x);
		len += (size_t)x;
		res[len++] = '.';
		memcpy(res + len, digits + x, (size_t)(k - x));
		len += (size_t)(k - x);
	} else if (-6 < x && x <= 0) {
		res[len++] = '0';
		res[len++] = '.';
		for (int i = 0; i < -x; i++)
			res[len++] = '0';
		memcpy(res + len, digits, (size_t)k);
		len += (size_t)k;
	} else {
		res[len++] = digits[0];
		if (k > 1) {
			res[len++] = '.';
			memcpy(res + len, digits + 1, (size_t)(k - 1));
			len += (size_t)(k - 1);
		}
		len += (size_t)snprintf(res + len, sizeof(res) - len, "e%c%d", x - 1 < 0 ? '-' : '+',
					abs(x - 1));
	}
	res[len] = 0;
	return (size_t)snprintf(out, cap, "%s", res);
}

/* a string builder over the evaluation scratch */
struct sb {
	struct jl_eval *ev;
	char *p;
	size_t len, cap;
	bool oom;
};

static void sb_add(struct sb *b, const char *s, size_t n)
{
	if (b->oom || !n)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		while (cap < b->len + n)
			cap *= 2;
		if (cap > JL_MAX_SCRATCH) {
			b->oom = true;
			return;
		}
		char *np = jl_alloc(b->ev, cap);
		if (!np) {
			b->oom = true;
			return;
		}
		if (b->len)
			memcpy(np, b->p, b->len);
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void sb_val(struct sb *b, const struct jl_val *v, unsigned depth, bool in_array)
{
	char num[40];
	switch (v->kind) {
	case JL_NULL:
		if (!in_array)
			sb_add(b, "null", 4);
		break;
	case JL_BOOL:
		sb_add(b, v->b ? "true" : "false", v->b ? 4 : 5);
		break;
	case JL_NUM:
		sb_add(b, num, jl_format_number(v->n, num, sizeof(num)));
		break;
	case JL_STR:
		sb_add(b, v->str.s, v->str.len);
		break;
	case JL_OBJ:
		sb_add(b, "[object Object]", 15);
		break;
	case JL_ARR:
	case JL_JSON:
		if (is_object(v)) {
			sb_add(b, "[object Object]", 15);
			break;
		}
		if (depth > 256)
			break;
		for (size_t i = 0, n = arr_len(v); i < n && !b->oom; i++) {
			if (i)
				sb_add(b, ",", 1);
			struct jl_val e = arr_at(v, i);
			sb_val(b, &e, depth + 1, true);
		}
		break;
	}
}

/* String(v); *out borrows v's string when v is one. */
static int to_str(struct jl_eval *ev, const struct jl_val *v, struct jl_val *out)
{
	if (v->kind == JL_STR) {
		*out = *v;
		return 0;
	}
	struct sb b = { .ev = ev };
	sb_val(&b, v, 0, false);
	if (b.oom)
		return NOMEM(ev);
	out->kind = JL_STR;
	out->str.s = b.len ? b.p : "";
	out->str.len = b.len;
	return 0;
}

static bool js_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Number(string) */
static double str_to_num(const char *s, size_t len)
{
	while (len && js_space(*s))
		s++, len--;
	while (len && js_space(s[len - 1]))
		len--;
	if (!len)
		return 0;
	char tmp[128];
	if (len >= sizeof(tmp))
		return NAN;
	memcpy(tmp, s, len);
	tmp[len] = 0;
	if (len > 2 && tmp[0] == '0' && strchr("xXoObB", tmp[1])) {
		int base = (tmp[1] == 'x' || tmp[1] == 'X') ? 16 : (tmp[1] == 'o' || tmp[1] == 'O') ? 8 : 2;
		double v = 0;
		for (size_t i = 2; i < len; i++) {
			int d;
			char ch = tmp[i];
			if (ch >= '0' && ch <= '9')
				d = ch - '0';
			else if (ch >= 'a' && ch <= 'f')
				d = ch - 'a' + 10;
			else if (ch >= 'A' && ch <= 'F')
				d = ch - 'A' + 10;
			else
				return NAN;
			if (d >= base)
				return NAN;
			v = v * base + d;
		}
		return v;
	}
	const char *t = tmp;
	double sign = 1;
	if (*t == '+' || *t == '-') {
		sign = *t == '-' ? -1 : 1;
		t++;
	}
	if (!strcmp(t, "Infinity"))
		return sign * INFINITY;
	bool digit = false;
	for (const char *q = t; *q; q++) {
		if (*q >= '0' && *q <= '9')
			digit = true;
		else if (!strchr(".eE+-", *q))
			return NAN;
	}
	if (!digit)
		return NAN;
	char *end;
	double v = strtod(tmp, &end);
	return *end ? NAN : v;
}

static double to_num(const struct jl_val *v, struct jl_eval *ev)
{
	switch (v->kind) {
	case JL_NULL:
		return 0;
	case JL_BOOL:
		return v->b;
	case JL_NUM:
		return v->n;
	case JL_STR:
		return str_to_num(v->str.s, v->str.len);
	default: {
		if (is_object(v))
			return NAN;
		struct jl_val s;
		if (to_str(ev, v, &s))
			return NAN;
		return str_to_num(s.str.s, s.str.len);
	}
	}
}

/* parseFloat(String(v)) */
static double parse_float(const struct jl_val *v, struct jl_eval *ev)
{
	if (v->kind == JL_NUM)
		return v->n;
	struct jl_val s;
	if (to_str(ev, v, &s))
		return NAN;
	const char *p = s.str.s, *end = p + s.str.len;
	while (p < end && js_space(*p))
		p++;
	const char *start = p;
	if (p < end && (*p == '+' || *p == '-'))
		p++;
	if ((size_t)(end - p) >= 8 && !memcmp(p, "Infinity", 8))
		return *start == '-' ? -INFINITY : INFINITY;
	const char *digits = p;
	while (p < end && *p >= '0' && *p <= '9')
		p++;
	size_t nd = (size_t)(p - digits);
	if (p < end && *p == '.') {
		p++;
		const char *f = p;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
		nd += (size_t)(p - f);
	}
	if (!nd)
		return NAN;
	if (p < end && (*p == 'e' || *p == 'E')) {
		const char *q = p + 1;
		if (q < end && (*q == '+' || *q == '-'))
			q++;
		const char *ed = q;
		while (q < end && *q >= '0' && *q <= '9')
			q++;
		if (q > ed)
			p = q;
	}
	char tmp[128];
	size_t len = (size_t)(p - start);
	if (len >= sizeof(tmp))
		len = sizeof(tmp) - 1;
	memcpy(tmp, start, len);
	tmp[len] = 0;
	return strtod(tmp, NULL);
}

/* ToPrimitive: arrays and objects become strings */
static int to_prim(struct jl_eval *ev, const struct jl_val *v, struct jl_val *out)
{
	if (v->kind == JL_ARR || v->kind == JL_OBJ || v->kind == JL_JSON)
		return to_str(ev, v, out);
	*out = *v;
	return 0;
}

static bool same_str(const struct jl_val *a, const struct jl_val *b)
{
	return a->str.len == b->str.len && !memcmp(a->str.s, b->str.s, a->str.len);
}

static bool strict_eq(const struct jl_val *a, const struct jl_val *b)
{
	if (a->kind != b->kind)
		return false;
	switch (a->kind) {
	case JL_NULL:
		return true;
	case JL_BOOL:
		return a->b == b->b;
	case JL_NUM:
		return a->n == b->n;
	case JL_STR:
		return same_str(a, b);
	case JL_JSON:
		return a->json == b->json;
	case JL_ARR:
		return a->arr.items == b->arr.items && a->arr.n == b->arr.n;
	case JL_OBJ:
		return a->obj.vals == b->obj.vals;
	}
	return false;
}

/* JavaScript's == */
static int loose_eq(struct jl_eval *ev, const struct jl_val *a, const struct jl_val *b, bool *res)
{
	bool ca = a->kind == JL_ARR || a->kind == JL_OBJ || a->kind == JL_JSON;
	bool cb = b->kind == JL_ARR || b->kind == JL_OBJ || b->kind == JL_JSON;
	if (ca && cb) {
		*res = strict_eq(a, b);
		return 0;
	}
	if (a->kind == b->kind) {
		*res = strict_eq(a, b);
		return 0;
	}
	if (a->kind == JL_NULL || b->kind == JL_NULL) {
		*res = false;
		return 0;
	}
	if (a->kind == JL_BOOL || b->kind == JL_BOOL) {
		struct jl_val na = { .kind = JL_NUM }, nb = { .kind = JL_NUM };
		const struct jl_val *x = a, *y = b;
		if (a->kind == JL_BOOL) {
			na.n = a->b;
			x = &na;
		}
		if (b->kind == JL_BOOL) {
			nb.n = b->b;
			y = &nb;
		}
		return loose_eq(ev, x, y, res);
	}
	if (ca || cb) {
		struct jl_val p;
		int rc = to_prim(ev, ca ? a : b, &p);
		if (rc)
			return rc;
		return loose_eq(ev, ca ? &p : a, ca ? b : &p, res);
	}
	/* number vs string */
	*res = to_num(a, ev) == to_num(b, ev);
	return 0;
}

/* JavaScript's <, or <= when or_equal; NaN compares false */
static int js_less(struct jl_eval *ev, const struct jl_val *a, const struct jl_val *b, bool or_equal,
		   bool *res)
{
	struct jl_val pa, pb;
	int rc = to_prim(ev, a, &pa);
	if (!rc)
		rc = to_prim(ev, b, &pb);
	if (rc)
		return rc;
	if (pa.kind == JL_STR && pb.kind == JL_STR) {
		size_t n = pa.str.len < pb.str.len ? pa.str.len : pb.str.len;
		int c = n ? memcmp(pa.str.s, pb.str.s, n) : 0;
		if (!c)
			c = pa.str.len < pb.str.len ? -1 : pa.str.len > pb.str.len;
		*res = or_equal ? c <= 0 : c < 0;
		return 0;
	}
	double x = to_num(&pa, ev), y = to_num(&pb, ev);
	*res = or_equal ? x <= y : x < y;
	return 0;
}

/* ---- var ---- */

static bool parse_index(const char *s, size_t len, size_t *idx)
{
	if (!len || len > 18)
		return false;
	size_t v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (size_t)(s[i] - '0');
	}
	*idx = v;
	return true;
}

static bool child(const struct jl_val *v, const char *s, size_t len, struct jl_val *out)
{
	size_t idx;
	if (v->kind == JL_JSON) {
		if (json_is_object(v->json)) {
			const json_t *c = json_object_getn(v->json, s, len);
			if (!c)
				return false;
			*out = jl_from_json(c);
			return true;
		}
		if (!parse_index(s, len, &idx) || idx >= json_array_size(v->json))
			return false;
		*out = jl_from_json(json_array_get(v->json, idx));
		return true;
	}
	if (v->kind == JL_ARR) {
		if (!parse_index(s, len, &idx) || idx >= v->arr.n)
			return false;
		*out = v->arr.items[idx];
		return true;
	}
	if (v->kind == JL_OBJ) {
		for (size_t i = 0; i < v->obj.n; i++) {
			if (strlen(v->obj.keys[i]) == len && !memcmp(v->obj.keys[i], s, len)) {
				*out = v->obj.vals[i];
				return true;
			}
		}
	}
	return false;
}

static bool seg_is(const struct seg *s, const char *lit)
{
	size_t n = strlen(lit);
	return s->len == n && !memcmp(s->s, lit, n);
}

static int64_t eval_timestamp(struct jl_eval *ev)
{
	if (ev->timestamp < 0)
		ev->timestamp = (int64_t)time(NULL);
	return ev->timestamp;
}

/* Resolves path at scope (NULL = the root data, where $flagd lives). */
static int resolve(struct jl_eval *ev, const struct jl_val *scope, const struct seg *path, size_t n,
		   struct jl_val *out, bool *found)
{
	struct jl_val cur;
	size_t i = 0;
	*found = false;
	if (!scope) {
		if (ev->flag_key && n >= 1 && seg_is(&path[0], "$flagd")) {
			if (n == 1) {
				const char **keys = jl_alloc(ev, 2 * sizeof(*keys));
				struct jl_val *vals = jl_alloc(ev, 2 * sizeof(*vals));
				if (!keys || !vals)
					return NOMEM(ev);
				keys[0] = "flagKey";
				keys[1] = "timestamp";
				vals[0] = (struct jl_val){ .kind = JL_STR, .str = { ev->flag_key, strlen(ev->flag_key) } };
				vals[1] = (struct jl_val){ .kind = JL_NUM, .n = (double)eval_timestamp(ev) };
				*out = (struct jl_val){ .kind = JL_OBJ, .obj = { keys, vals, 2 } };
				*found = true;
			} else if (n == 2 && seg_is(&path[1], "flagKey")) {
				*out = (struct jl_val){ .kind = JL_STR, .str = { ev->flag_key, strlen(ev->flag_key) } };
				*found = true;
			} else if (n == 2 && seg_is(&path[1], "timestamp")) {
				*out = (struct jl_val){ .kind = JL_NUM, .n = (double)eval_timestamp(ev) };
				*found = true;
			}
			return 0;
		}
		cur = jl_from_json(ev->data);
	} else {
		cur = *scope;
	}
	for (; i < n; i++) {
		struct jl_val next;
		if (!child(&cur, path[i].s, path[i].len, &next))
			return 0;
		cur = next;
	}
	*out = cur;
	*found = true;
	return 0;
}

/* Splits a runtime path string; a copy of segments goes to scratch. */
static int runtime_path(struct jl_eval *ev, const struct jl_val *p, struct seg **segs, size_t *n)
{
	struct jl_val s;
	if (p->kind == JL_NULL) {
		*n = 0;
		return 0;
	}
	int rc = to_str(ev, p, &s);
	if (rc)
		return rc;
	if (!s.str.len) {
		*n = 0;
		return 0;
	}
	size_t count = 1;
	for (size_t i = 0; i < s.str.len; i++)
		count += s.str.s[i] == '.';
	struct seg *out = jl_alloc(ev, count * sizeof(*out));
	if (!out)
		return NOMEM(ev);
	size_t k = 0, start = 0;
	for (size_t i = 0; i <= s.str.len; i++) {
		if (i == s.str.len || s.str.s[i] == '.') {
			out[k].s = s.str.s + start;
			out[k++].len = i - start;
			start = i + 1;
		}
	}
	*segs = out;
	*n = count;
	return 0;
}

/* ---- evaluator ---- */

static int eval(struct jl_eval *ev, const struct node *n, const struct jl_val *scope, struct jl_val *out);

static int eval_all(struct jl_eval *ev, const struct node *n, const struct jl_val *scope,
		    struct jl_val *local, size_t nlocal, struct jl_val **av)
{
	struct jl_val *v = local;
	if (n->nargs > nlocal) {
		v = jl_alloc(ev, n->nargs * sizeof(*v));
		if (!v)
			return NOMEM(ev);
	}
	for (size_t i = 0; i < n->nargs; i++) {
		int rc = eval(ev, &n->args[i], scope, &v[i]);
		if (rc)
			return rc;
	}
	*av = v;
	return 0;
}

static struct jl_val num_val(double d)
{
	return (struct jl_val){ .kind = JL_NUM, .n = d };
}

static struct jl_val bool_val(bool b)
{
	return (struct jl_val){ .kind = JL_BOOL, .b = b };
}

static int op_var(struct jl_eval *ev, const struct node *n, const struct jl_val *scope, struct jl_val *out)
{
	struct seg *segs = n->path;
	size_t nseg = n->npath;
	int rc;
	if (!n->has_path) {
		struct jl_val p;
		rc = eval(ev, &n->args[0], scope, &p);
		if (!rc)
			rc = runtime_path(ev, &p, &segs, &nseg);
		if (rc)
			return rc;
	}
	bool found;
	rc = resolve(ev, scope, segs, nseg, out, &found);
	if (rc)
		return rc;
	if (found) /* a present null is returned as null, as the reference does */
		return 0;
	if (n->nargs >= 2)
		return eval(ev, &n->args[1], scope, out);
	*out = jl_null;
	return 0;
}

static int missing_keys(struct jl_eval *ev, const struct jl_val *scope, const struct jl_val *keys,
			size_t nkeys, bool keys_is_array, const struct jl_val *arrv, struct jl_val *res,
			size_t *nmissing)
{
	size_t m = 0;
	for (size_t i = 0; i < nkeys; i++) {
		struct jl_val k = keys_is_array ? arr_at(arrv, i) : keys[i];
		struct seg *segs;
		size_t nseg;
		int rc = runtime_path(ev, &k, &segs, &nseg);
		if (rc)
			return rc;
		struct jl_val v;
		bool found;
		rc = resolve(ev, scope, segs, nseg, &v, &found);
		if (rc)
			return rc;
		if (!found || v.kind == JL_NULL || (v.kind == JL_STR && v.str.len == 0))
			res[m++] = k;
	}
	*nmissing = m;
	return 0;
}

static int op_iter(struct jl_eval *ev, const struct node *n, const struct jl_val *scope, struct jl_val *out)
{
	struct jl_val arr = jl_null;
	int rc = 0;
	if (n->nargs >= 1 && (rc = eval(ev, &n->args[0], scope, &arr)))
		return rc;
	size_t len = arr_len(&arr);
	if (len > JL_MAX_ARRAY)
		return efail(ev, OODA_ELIMIT, "array of %zu elements exceeds the limit of %d", len,
			     JL_MAX_ARRAY);
	const struct node *body = n->nargs >= 2 ? &n->args[1] : NULL;
	switch (n->op) {
	case OP_MAP:
	case OP_FILTER: {
		struct jl_val *items = jl_alloc(ev, (len ? len : 1) * sizeof(*items));
		if (!items)
			return NOMEM(ev);
		size_t m = 0;
		for (size_t i = 0; i < len; i++) {
			struct jl_val e = arr_at(&arr, i), r = jl_null;
			if (body && (rc = eval(ev, body, &e, &r)))
				return rc;
			if (n->op == OP_MAP)
				items[m++] = r;
			else if (jl_truthy(&r))
				items[m++] = e;
		}
		*out = (struct jl_val){ .kind = JL_ARR, .arr = { items, m } };
		return 0;
	}
	case OP_REDUCE: {
		struct jl_val acc = jl_null;
		if (n->nargs >= 3 && (rc = eval(ev, &n->args[2], scope, &acc)))
			return rc;
		static const char *keys[2] = { "current", "accumulator" };
		for (size_t i = 0; i < len && body; i++) {
			struct jl_val *frame = jl_alloc(ev, 2 * sizeof(*frame));
			if (!frame)
				return NOMEM(ev);
			frame[0] = arr_at(&arr, i);
			frame[1] = acc;
			struct jl_val fv = { .kind = JL_OBJ, .obj = { keys, frame, 2 } };
			if ((rc = eval(ev, body, &fv, &acc)))
				return rc;
		}
		if (!body && len)
			acc = jl_null;
		*out = acc;
		return 0;
	}
	default: { /* all, none, some */
		size_t hits = 0;
		for (size_t i = 0; i < len; i++) {
			struct jl_val e = arr_at(&arr, i), r = jl_null;
			if (body && (rc = eval(ev, body, &e, &r)))
				return rc;
			if (jl_truthy(&r)) {
				hits++;
				if (n->op != OP_ALL)
					break;
			} else if (n->op == OP_ALL) {
				break;
			}
		}
		if (n->op == OP_ALL)
			*out = bool_val(len > 0 && hits == len);
		else if (n->op == OP_NONE)
			*out = bool_val(hits == 0);
		else
			*out = bool_val(hits > 0);
		return 0;
	}
	}
}

/* code points of a UTF-8 string; idx[i] is the byte offset of code point i */
static size_t utf8_count(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xC0) != 0x80;
	return n;
}

static size_t utf8_offset(const char *s, size_t len, size_t cp)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		if (((unsigned char)s[i] & 0xC0) != 0x80) {
			if (n == cp)
				return i;
			n++;
		}
	}
	return len;
}

static double to_int(double d)
{
	if (isnan(d))
		return 0;
	return trunc(d);
}

static int op_substr(struct jl_eval *ev, const struct jl_val *av, size_t nargs, struct jl_val *out)
{
	struct jl_val s;
	int rc = to_str(ev, nargs ? &av[0] : &jl_null, &s);
	if (rc)
		return rc;
	double count = (double)utf8_count(s.str.s, s.str.len);
	double start = nargs >= 2 ? to_int(to_num(&av[1], ev)) : 0;
	if (start < 0)
		start = count + start < 0 ? 0 : count + start;
	if (start > count)
		start = count;
	double end = count;
	if (nargs >= 3 && av[2].kind != JL_NULL) {
		double l = to_int(to_num(&av[2], ev));
		if (l < 0)
			end = count + l;
		else
			end = start + l;
		if (end > count)
			end = count;
	}
	if (end < start)
		end = start;
	size_t b0 = utf8_offset(s.str.s, s.str.len, (size_t)start);
	size_t b1 = utf8_offset(s.str.s, s.str.len, (size_t)end);
	*out = (struct jl_val){ .kind = JL_STR, .str = { s.str.s + b0, b1 - b0 } };
	return 0;
}

static int op_in(struct jl_eval *ev, const struct jl_val *av, size_t nargs, struct jl_val *out)
{
	if (nargs < 2 || !jl_truthy(&av[1])) {
		*out = bool_val(false);
		return 0;
	}
	const struct jl_val *b = &av[1];
	if (b->kind == JL_STR) {
		struct jl_val a;
		int rc = to_str(ev, &av[0], &a);
		if (rc)
			return rc;
		*out = bool_val(a.str.len == 0 || memmem(b->str.s, b->str.len, a.str.s, a.str.len) != NULL);
		return 0;
	}
	if (is_array(b)) {
		size_t len = arr_len(b);
		ev->ops += len / 16;
		for (size_t i = 0; i < len; i++) {
			struct jl_val e = arr_at(b, i);
			if (strict_eq(&av[0], &e)) {
				*out = bool_val(true);
				return 0;
			}
		}
	}
	*out = bool_val(false);
	return 0;
}

static int op_merge(struct jl_eval *ev, const struct jl_val *av, size_t nargs, struct jl_val *out)
{
	size_t total = 0;
	for (size_t i = 0; i < nargs; i++)
		total += is_array(&av[i]) ? arr_len(&av[i]) : 1;
	if (total > (size_t)JL_MAX_SCRATCH / sizeof(struct jl_val))
		return NOMEM(ev);
	ev->ops += total / 16;
	struct jl_val *items = jl_alloc(ev, (total ? total : 1) * sizeof(*items));
	if (!items)
		return NOMEM(ev);
	size_t m = 0;
	for (size_t i = 0; i < nargs; i++) {
		if (is_array(&av[i])) {
			for (size_t k = 0, len = arr_len(&av[i]); k < len; k++)
				items[m++] = arr_at(&av[i], k);
		} else {
			items[m++] = av[i];
		}
	}
	*out = (struct jl_val){ .kind = JL_ARR, .arr = { items, m } };
	return 0;
}

static int eval_op(struct jl_eval *ev, const struct node *n, const struct jl_val *scope, struct jl_val *out)
{
	struct jl_val local[4], *av = NULL, t;
	int rc;
	bool b;

	switch (n->op) {
	case OP_VAR:
		return op_var(ev, n, scope, out);
	case OP_IF: {
		size_t i = 0;
		for (; i + 1 < n->nargs; i += 2) {
			if ((rc = eval(ev, &n->args[i], scope, &t)))
				return rc;
			if (jl_truthy(&t))
				return eval(ev, &n->args[i + 1], scope, out);
		}
		if (i < n->nargs)
			return eval(ev, &n->args[i], scope, out);
		*out = jl_null;
		return 0;
	}
	case OP_AND:
	case OP_OR:
		*out = jl_null;
		for (size_t i = 0; i < n->nargs; i++) {
			if ((rc = eval(ev, &n->args[i], scope, out)))
				return rc;
			if (jl_truthy(out) == (n->op == OP_OR))
				return 0;
		}
		return 0;
	case OP_MAP:
	case OP_FILTER:
	case OP_REDUCE:
	case OP_ALL:
	case OP_NONE:
	case OP_SOME:
		return op_iter(ev, n, scope, out);
	default:
		break;
	}

	if ((rc = eval_all(ev, n, scope, local, 4, &av)))
		return rc;
	const struct jl_val *a0 = n->nargs >= 1 ? &av[0] : &jl_null;
	const struct jl_val *a1 = n->nargs >= 2 ? &av[1] : &jl_null;

	switch (n->op) {
	case OP_HOOK:
		*out = jl_null;
		return n->hook->fn(ev, av, n->nargs, out, n->hook->user);
	case OP_EQ:
	case OP_NE:
		if ((rc = loose_eq(ev, a0, a1, &b)))
			return rc;
		*out = bool_val(n->op == OP_EQ ? b : !b);
		return 0;
	case OP_SEQ:
		*out = bool_val(strict_eq(a0, a1));
		return 0;
	case OP_SNE:
		*out = bool_val(!strict_eq(a0, a1));
		return 0;
	case OP_NOT:
		*out = bool_val(!jl_truthy(a0));
		return 0;
	case OP_NOTNOT:
		*out = bool_val(jl_truthy(a0));
		return 0;
	case OP_GT:
	case OP_GE:
		if ((rc = js_less(ev, a1, a0, n->op == OP_GE, &b)))
			return rc;
		*out = bool_val(b);
		return 0;
	case OP_LT:
	case OP_LE:
		if ((rc = js_less(ev, a0, a1, n->op == OP_LE, &b)))
			return rc;
		if (b && n->nargs >= 3 && (rc = js_less(ev, a1, &av[2], n->op == OP_LE, &b)))
			return rc;
		*out = bool_val(b);
		return 0;
	case OP_MAX:
	case OP_MIN: {
		double r = n->op == OP_MAX ? -INFINITY : INFINITY;
		for (size_t i = 0; i < n->nargs; i++) {
			double d = to_num(&av[i], ev);
			if (isnan(d)) {
				r = NAN;
				break;
			}
			if (n->op == OP_MAX ? d > r : d < r)
				r = d;
		}
		*out = n->nargs ? num_val(r) : jl_null;
		return 0;
	}
	case OP_ADD: {
		double r = 0;
		for (size_t i = 0; i < n->nargs; i++)
			r += parse_float(&av[i], ev);
		*out = num_val(r);
		return 0;
	}
	case OP_MUL: {
		if (!n->nargs) {
			*out = jl_null;
			return 0;
		}
		double r = parse_float(&av[0], ev);
		for (size_t i = 1; i < n->nargs; i++)
			r *= parse_float(&av[i], ev);
		*out = num_val(r);
		return 0;
	}
	case OP_SUB:
		if (!n->nargs)
			*out = jl_null;
		else if (n->nargs == 1)
			*out = num_val(-to_num(a0, ev));
		else
			*out = num_val(to_num(a0, ev) - to_num(a1, ev));
		return 0;
	case OP_DIV:
		*out = num_val(to_num(a0, ev) / to_num(a1, ev));
		return 0;
	case OP_MOD:
		*out = num_val(fmod(to_num(a0, ev), to_num(a1, ev)));
		return 0;
	case OP_IN:
		return op_in(ev, av, n->nargs, out);
	case OP_CAT: {
		if (n->nargs == 1 && a0->kind == JL_STR) {
			*out = *a0;
			return 0;
		}
		struct sb s = { .ev = ev };
		for (size_t i = 0; i < n->nargs; i++)
			sb_val(&s, &av[i], 0, false);
		if (s.oom)
			return NOMEM(ev);
		*out = (struct jl_val){ .kind = JL_STR, .str = { s.len ? s.p : "", s.len } };
		return 0;
	}
	case OP_SUBSTR:
		return op_substr(ev, av, n->nargs, out);
	case OP_MERGE:
		return op_merge(ev, av, n->nargs, out);
	case OP_MISSING: {
		bool as_array = n->nargs >= 1 && is_array(a0);
		size_t nkeys = as_array ? arr_len(a0) : n->nargs;
		if (nkeys > JL_MAX_ARRAY)
			return efail(ev, OODA_ELIMIT, "missing: %zu keys exceed the limit of %d", nkeys,
				     JL_MAX_ARRAY);
		struct jl_val *res = jl_alloc(ev, (nkeys ? nkeys : 1) * sizeof(*res));
		size_t m;
		if (!res)
			return NOMEM(ev);
		if ((rc = missing_keys(ev, scope, av, nkeys, as_array, a0, res, &m)))
			return rc;
		*out = (struct jl_val){ .kind = JL_ARR, .arr = { res, m } };
		return 0;
	}
	case OP_MISSING_SOME: {
		double need = to_num(a0, ev);
		size_t nkeys = arr_len(a1);
		if (nkeys > JL_MAX_ARRAY)
			return efail(ev, OODA_ELIMIT, "missing_some: %zu keys exceed the limit of %d", nkeys,
				     JL_MAX_ARRAY);
		struct jl_val *res = jl_alloc(ev, (nkeys ? nkeys : 1) * sizeof(*res));
		size_t m;
		if (!res)
			return NOMEM(ev);
		if ((rc = missing_keys(ev, scope, NULL, nkeys, true, a1, res, &m)))
			return rc;
		if ((double)(nkeys - m) >= need)
			m = 0;
		*out = (struct jl_val){ .kind = JL_ARR, .arr = { res, m } };
		return 0;
	}
	case OP_LOG:
		*out = *a0;
		return 0;
	default:
		return efail(ev, OODA_EINTERNAL, "operator %d not handled", (int)n->op);
	}
}

static int eval(struct jl_eval *ev, const struct node *n, const struct jl_val *scope, struct jl_val *out)
{
	if (++ev->ops > JL_MAX_OPS)
		return efail(ev, OODA_ELIMIT, "evaluation exceeded %d operations", JL_MAX_OPS);
	switch (n->type) {
	case N_LIT:
		*out = n->lit;
		return 0;
	case N_ARRAY: {
		struct jl_val *items = jl_alloc(ev, (n->nargs ? n->nargs : 1) * sizeof(*items));
		if (!items)
			return NOMEM(ev);
		for (size_t i = 0; i < n->nargs; i++) {
			int rc = eval(ev, &n->args[i], scope, &items[i]);
			if (rc)
				return rc;
		}
		*out = (struct jl_val){ .kind = JL_ARR, .arr = { items, n->nargs } };
		return 0;
	}
	case N_OP:
		if (++ev->depth > JL_MAX_DEPTH * 2) {
			ev->depth--;
			return efail(ev, OODA_ELIMIT, "evaluation nested deeper than %d", JL_MAX_DEPTH * 2);
		}
		int rc = eval_op(ev, n, scope, out);
		ev->depth--;
		return rc;
	}
	return OODA_EINTERNAL;
}

int jl_run(const struct jl_rule *rule, struct jl_eval *ev, struct jl_val *out, struct buf *err)
{
	ev->err = err;
	ev->ops = 0;
	ev->depth = 0;
	int rc = eval(ev, &rule->root, NULL, out);
	if (rc) {
		if (err && !err->len)
			buf_adds(err, ooda_strerror(rc));
		*out = jl_null;
	}
	ev->err = NULL;
	return rc;
}

json_t *jl_to_json(const struct jl_val *v)
{
	switch (v->kind) {
	case JL_NULL:
		return json_null();
	case JL_BOOL:
		return json_boolean(v->b);
	case JL_NUM:
		if (!isfinite(v->n))
			return json_null();
		if (v->n == trunc(v->n) && fabs(v->n) <= 9007199254740992.0)
			return json_integer((json_int_t)v->n);
		return json_real(v->n);
	case JL_STR:
		return json_stringn_nocheck(v->str.s, v->str.len);
	case JL_ARR: {
		json_t *a = json_array();
		for (size_t i = 0; i < v->arr.n; i++)
			json_array_append_new(a, jl_to_json(&v->arr.items[i]));
		return a;
	}
	case JL_OBJ: {
		json_t *o = json_object();
		for (size_t i = 0; i < v->obj.n; i++)
			json_object_set_new(o, v->obj.keys[i], jl_to_json(&v->obj.vals[i]));
		return o;
	}
	case JL_JSON:
		return json_deep_copy(v->json);
	}
	return json_null();
}

int jsonlogic_apply(const json_t *rule, const json_t *data, const struct jl_registry *reg,
		    json_t **result, struct buf *err)
{
	struct jl_rule *r;
	*result = NULL;
	int rc = jl_compile(rule, reg, NULL, NULL, &r, err);
	if (rc)
		return rc;
	struct jl_eval ev;
	struct jl_val v;
	jl_eval_init(&ev, data);
	rc = jl_run(r, &ev, &v, err);
	if (!rc)
		*result = jl_to_json(&v);
	jl_eval_release(&ev);
	jl_rule_destroy(r);
	return rc;
}
