/*
 * The JsonLogic compiler behind flag targeting, and the registry of hooks
 * (custom operators such as fractional and sem_ver) it resolves against.
 * jl_compile turns a jansson rule into the node tree of jsonlogic_impl.h
 * once: operators looked up, $ref substituted (a named evaluator compiled
 * once and shared), constant var paths split, constant arrays folded, and
 * the size and depth bounds checked; jsonlogic.c then evaluates that tree.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>

#include "change/jsonlogic_impl.h"
#include "core/error.h"

/* Operators by name; a name not here is looked up among the registry's hooks. */
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

struct jl_registry {
	struct hook hooks[JL_MAX_HOOKS];
	size_t n;
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
