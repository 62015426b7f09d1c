/*
 * JsonLogic for the change stage: a rule (a jansson value) is compiled once
 * into a tree of nodes, then evaluated many times against data (a jansson
 * object, usually a flag evaluation context). Evaluation works on struct
 * jl_val, a small tagged value that borrows strings and containers from the
 * rule and the data and takes anything it builds from a per-evaluation
 * scratch area, so a simple rule allocates nothing on the heap. Operators
 * follow jsonlogic.com (truthiness and loose equality as JavaScript does);
 * extra operators (flagd's fractional, sem_ver, starts_with, ends_with) are
 * plugged in through a registry of hooks. Every evaluation is bounded: rule
 * nesting, array sizes, operation count and scratch memory all have limits
 * that end the evaluation with an error instead of hanging.
 */
#ifndef OODA_JSONLOGIC_H
#define OODA_JSONLOGIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "core/arena.h"
#include "core/buf.h"

#define JL_MAX_DEPTH 64          /* rule nesting */
#define JL_MAX_ARRAY 10000       /* elements map/filter/reduce/all/none/some walk */
#define JL_MAX_OPS 100000        /* nodes evaluated per evaluation */
#define JL_MAX_NODES JL_MAX_OPS  /* nodes of a compiled rule with every $ref expanded */
#define JL_MAX_SCRATCH (16u << 20) /* bytes of scratch per evaluation */

enum jl_kind {
	JL_NULL,
	JL_BOOL,
	JL_NUM,
	JL_STR,  /* s/len, not necessarily NUL-terminated */
	JL_ARR,  /* items built during evaluation */
	JL_OBJ,  /* keys/vals built during evaluation */
	JL_JSON, /* a borrowed jansson array or object (never a scalar) */
};

struct jl_val {
	enum jl_kind kind;
	union {
		bool b;
		double n;
		struct {
			const char *s;
			size_t len;
		} str;
		struct {
			struct jl_val *items;
			size_t n;
		} arr;
		struct {
			const char **keys;
			struct jl_val *vals;
			size_t n;
		} obj;
		const json_t *json;
	};
};

struct jl_rule;
struct jl_registry;

/* Per-evaluation state. Lives on the caller's stack; jl_eval_init fills it,
 * jl_eval_release frees what the evaluation spilled to the heap. Values an
 * evaluation returns stay valid until jl_eval_release. */
struct jl_eval {
	const json_t *data;   /* root data (borrowed) */
	/* non-NULL: {"var": "$flagd.flagKey"}, "$flagd.timestamp" and "$flagd"
	 * resolve at the root without copying data; {"var": ""} still returns
	 * data itself, without a $flagd member */
	const char *flag_key;
	int64_t timestamp;    /* unix seconds for $flagd.timestamp; <0 = now, lazily */
	void *user;           /* for hooks */
	unsigned marks;       /* hooks may set bits for the caller */
	/* private */
	unsigned long ops;
	unsigned depth;
	struct buf *err;
	size_t small_used;
	bool heap_live;
	struct arena heap;
	_Alignas(16) char small[2048];
};

/* A custom operator: args are already evaluated. Set *out (anything built
 * must come from jl_alloc) and return 0; return a negative OODA_E* code and
 * append to ev's error to abort the whole evaluation. A hook that cannot
 * apply to its arguments should answer null, as flagd's operators do. */
typedef int (*jl_hook_fn)(struct jl_eval *ev, const struct jl_val *args, size_t nargs,
			  struct jl_val *out, void *user);

/* Registry of custom operators; up to 32. Create, add, then share read-only. */
struct jl_registry *jl_registry_create(void);
void jl_registry_destroy(struct jl_registry *reg);
/* name is copied. OODA_ECONFLICT if it names a built-in or an added hook,
 * OODA_ELIMIT when full. */
int jl_registry_add(struct jl_registry *reg, const char *name, jl_hook_fn fn, void *user);

/* Compiles rule. reg (may be NULL) supplies custom operators; refs (may be
 * NULL) is an object of named rules that {"$ref": "name"} stands for; each
 * named rule is compiled once and shared by every $ref to it. Unknown
 * operators, unknown refs, $ref cycles, nesting past JL_MAX_DEPTH and a
 * rule that expands (every $ref inlined) past JL_MAX_NODES fail with
 * OODA_EPARSE or OODA_ELIMIT and a message naming the JSON path, prefixed by
 * where (e.g. "/flags/x/targeting"). The rule does not keep rule or refs
 * alive: it copies what it needs. Caller owns *out (jl_rule_destroy). */
int jl_compile(const json_t *rule, const struct jl_registry *reg, const json_t *refs,
	       const char *where, struct jl_rule **out, struct buf *err);
void jl_rule_destroy(struct jl_rule *rule);
/* True when the rule is the empty object {} or null (no logic at all). */
bool jl_rule_is_empty(const struct jl_rule *rule);
/* Nodes the compiler built: a $ref'd evaluator's tree counts once, however often it is used. */
size_t jl_rule_nodes(const struct jl_rule *rule);

void jl_eval_init(struct jl_eval *ev, const json_t *data);
void jl_eval_release(struct jl_eval *ev);
/* Evaluates rule against ev->data. On error returns a negative OODA_E* code
 * (OODA_ELIMIT for limits) with a message in err (may be NULL). A compiled
 * rule is immutable: many threads may run it at once, each with its own
 * jl_eval. */
int jl_run(const struct jl_rule *rule, struct jl_eval *ev, struct jl_val *out, struct buf *err);

/* Scratch memory for hooks; NULL past JL_MAX_SCRATCH. */
void *jl_alloc(struct jl_eval *ev, size_t size);

/* JsonLogic truthiness, JavaScript string and number conversion. */
bool jl_truthy(const struct jl_val *v);
/* Converts a jansson value to a jl_val borrowing from it. */
struct jl_val jl_from_json(const json_t *j);
/* A new jansson value for v (caller owns it); non-finite numbers become null. */
json_t *jl_to_json(const struct jl_val *v);
/* Formats a number as JavaScript's String(n) does, into out (>= 32 bytes);
 * returns the length. */
size_t jl_format_number(double n, char *out, size_t cap);

/* One-shot convenience for tests and tools: compile rule, evaluate against
 * data, return a new jansson value in *result (caller owns it). */
int jsonlogic_apply(const json_t *rule, const json_t *data, const struct jl_registry *reg,
		    json_t **result, struct buf *err);

#endif
