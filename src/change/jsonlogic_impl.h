/*
 * Internals shared by the JsonLogic compiler (jsonlogic_compile.c: the
 * hook registry and jl_compile) and evaluator (jsonlogic.c: values,
 * coercions and jl_run): the operator codes and the compiled node tree.
 * Nothing outside those two files includes this.
 */
#ifndef OODA_JSONLOGIC_IMPL_H
#define OODA_JSONLOGIC_IMPL_H

#include <stdbool.h>
#include <stddef.h>

#include "change/jsonlogic.h"
#include "core/arena.h"

enum op {
	OP_VAR, OP_MISSING, OP_MISSING_SOME, OP_IF, OP_EQ, OP_SEQ, OP_NE, OP_SNE,
	OP_NOT, OP_NOTNOT, OP_OR, OP_AND, OP_GT, OP_GE, OP_LT, OP_LE, OP_MAX, OP_MIN,
	OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD, OP_IN, OP_CAT, OP_SUBSTR, OP_MERGE,
	OP_MAP, OP_FILTER, OP_REDUCE, OP_ALL, OP_NONE, OP_SOME, OP_LOG, OP_HOOK,
};

struct hook {
	char name[32];
	jl_hook_fn fn;
	void *user;
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

#endif
