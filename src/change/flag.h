/*
 * The flagd flag model and evaluator: a flag-definition document (flagd's
 * flags.json schema) is loaded into an immutable struct flag_set, with each
 * flag's targeting compiled once ($ref to $evaluators substituted), and
 * flags are evaluated against an OpenFeature context with flagd semantics:
 * reasons STATIC / DEFAULT / TARGETING_MATCH / DISABLED / ERROR (a fractional
 * split is a TARGETING_MATCH, as flagd reports it), the
 * context extended with $flagd.flagKey and $flagd.timestamp, and flagd's
 * custom operators fractional, sem_ver, starts_with and ends_with. The
 * OFREP handlers and the flag action of remedy/ sit on top of this API.
 */
#ifndef OODA_FLAG_H
#define OODA_FLAG_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "core/buf.h"

struct flag_set;
struct jl_registry;

enum flag_reason {
	FLAG_REASON_STATIC,
	FLAG_REASON_DEFAULT,
	FLAG_REASON_TARGETING_MATCH,
	FLAG_REASON_DISABLED,
	FLAG_REASON_ERROR,
};

enum flag_error {
	FLAG_ERROR_NONE,
	FLAG_ERROR_FLAG_NOT_FOUND,
	FLAG_ERROR_PARSE_ERROR,
	FLAG_ERROR_TYPE_MISMATCH,
	FLAG_ERROR_TARGETING_KEY_MISSING, /* reserved: fractional without a key answers null (DEFAULT), as flagd does */
	FLAG_ERROR_INVALID_CONTEXT,
	FLAG_ERROR_GENERAL,
};

enum flag_type {
	FLAG_TYPE_ANY, /* no check */
	FLAG_TYPE_BOOLEAN,
	FLAG_TYPE_STRING,
	FLAG_TYPE_INTEGER, /* a number with no fraction */
	FLAG_TYPE_FLOAT,   /* any number */
	FLAG_TYPE_OBJECT,
};

struct flag_result {
	/* Borrowed from the flag set, valid while it lives. NULL means "no
	 * value: use the caller's default" (DISABLED, DEFAULT without a
	 * defaultVariant, ERROR). */
	const json_t *value;
	const char *variant; /* borrowed; NULL when value is NULL */
	enum flag_reason reason;
	enum flag_error error;
	/* Flag metadata merged over the set metadata; borrowed, never NULL
	 * after a successful lookup (an empty object when there is none). */
	const json_t *metadata;
	char message[200]; /* "" unless error != FLAG_ERROR_NONE */
};

/* Load options. */
#define FLAG_LOAD_STRICT 1u /* targeting that does not compile fails the load */

/* Parses and validates a flagd flag-definition document of len bytes.
 * Structural errors (not JSON, a flag without state or variants, variants
 * of mixed types, a defaultVariant that names no variant, bad metadata) fail
 * with OODA_EPARSE or OODA_EINVAL and a message in err naming the flag key
 * and JSON path. Targeting that does not compile (unknown operator, $ref to
 * an unknown evaluator, nesting too deep) fails the load only with
 * FLAG_LOAD_STRICT; otherwise that flag evaluates to PARSE_ERROR, as flagd
 * does. On success the caller owns *out (flag_set_destroy). */
int flag_set_load(const char *json, size_t len, unsigned options, struct flag_set **out,
		  struct buf *err);
void flag_set_destroy(struct flag_set *fs);

/* Number of flags and the i-th key in sorted order (borrowed). */
size_t flag_set_count(const struct flag_set *fs);
const char *flag_set_key(const struct flag_set *fs, size_t i);
/* The flag's definition as loaded (borrowed), or NULL if unknown. */
const json_t *flag_set_flag_json(const struct flag_set *fs, const char *key);
/* The set's top-level metadata (borrowed; an empty object when absent). */
const json_t *flag_set_metadata(const struct flag_set *fs);
/* A strong HTTP ETag (quotes included) of the canonical JSON of the whole
 * document (sorted keys, compact): equal documents give equal ETags. */
const char *flag_set_etag(const struct flag_set *fs);

/* Evaluates key against context (a JSON object, borrowed, may be NULL).
 * Never allocates for a flag without targeting. Safe to call from many
 * threads on one set. Returns 0 when a result was produced (including
 * results with reason ERROR: FLAG_NOT_FOUND, PARSE_ERROR, ...). */
int flag_evaluate(const struct flag_set *fs, const char *key, const json_t *context,
		  struct flag_result *out);
/* As flag_evaluate, then checks the flag's type against expected: a
 * mismatch gives reason ERROR, error TYPE_MISMATCH and no value. */
int flag_evaluate_typed(const struct flag_set *fs, const char *key, const json_t *context,
			enum flag_type expected, struct flag_result *out);
/* Same as flag_evaluate_typed with a caller-supplied evaluation time (unix
 * seconds) for $flagd.timestamp; for tests and replays. */
int flag_evaluate_at(const struct flag_set *fs, const char *key, const json_t *context,
		     enum flag_type expected, long long timestamp, struct flag_result *out);

/* Names as OpenFeature/OFREP spell them ("TARGETING_MATCH", "FLAG_NOT_FOUND"). */
const char *flag_reason_name(enum flag_reason r);
const char *flag_error_name(enum flag_error e);
/* The type of a value as a flag type (FLAG_TYPE_INTEGER for integral numbers). */
enum flag_type flag_type_of(const json_t *v);

/* The JsonLogic registry with flagd's custom operators (shared, read-only). */
const struct jl_registry *flagd_registry(void);

#endif
