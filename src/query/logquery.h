/*
 * The log search language: what a user types into the dashboard search box,
 * `ooda logs …` or GET /api/v1/logs?q=…, compiled once into an immutable
 * matcher that the telemetry store and the live tail run over log records.
 * Pure: no I/O, no clock. The grammar and its semantics are in docs/query.md.
 * The compiled query also yields prefilter hints (service, lowest severity,
 * trace id, required tokens) so the block store can skip whole blocks.
 */
#ifndef OODA_LOGQUERY_H
#define OODA_LOGQUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "model/record.h"

#define LOGQUERY_MAX_LEN 4096   /* bytes of query text */
#define LOGQUERY_MAX_TERMS 64   /* leaf terms */
#define LOGQUERY_MAX_DEPTH 16   /* nested parentheses and negations */
#define LOGQUERY_TOKEN_MAX 128  /* tokens longer than this are cut to it */

struct logquery; /* compiled, immutable; match from any number of threads */

/*
 * Compiles the query text q (len bytes, need not be NUL-terminated). An
 * empty or all-blank query compiles and matches every record. On success
 * returns 0 and sets *out, which the caller owns and frees with
 * logquery_destroy. On failure returns OODA_EPARSE (bad syntax, unknown
 * severity, bad regex) or OODA_ELIMIT (longer than LOGQUERY_MAX_LEN, more
 * than LOGQUERY_MAX_TERMS terms, nesting deeper than LOGQUERY_MAX_DEPTH),
 * leaves *out NULL and appends to err (if not NULL) one line of the form
 * "query error at char N: what" where N is the 1-based byte offset of the
 * offending character in q.
 */
int logquery_compile(const char *q, size_t len, struct logquery **out, struct buf *err);

/* Frees a compiled query; NULL is fine. */
void logquery_destroy(struct logquery *q);

/*
 * True if record r satisfies q. Thread-safe: q is only read; regex terms
 * use match data allocated per call. A regex that exceeds the match limit
 * on a record counts as not matching that record (it never hangs).
 */
bool logquery_match(const struct logquery *q, const struct log_record *r);

/*
 * Prefilter hints: necessary conditions every matching record meets, for
 * skipping blocks before running logquery_match. Each member is "no
 * constraint" when empty/zero/NULL; a hint never excludes a matching record.
 *  - services: the record's service is one of these (compare ignoring
 *    ASCII case, as service:X does);
 *  - min_severity: the record's SeverityNumber is at least this (0 = any);
 *  - trace_id_hex: the record's trace id, 32 lowercase hex digits;
 *  - tokens: lowercase tokens (as logquery_tokens makes them) that occur
 *    among the tokens of the record's body or of one of its record or
 *    resource attribute values rendered by logquery_field_value.
 */
struct logquery_hints {
	const char **services;
	size_t n_services;
	uint8_t min_severity;
	const char *trace_id_hex;
	const char **tokens;
	size_t n_tokens;
};

/* The hints of q; owned by q, valid until logquery_destroy. Never NULL. */
const struct logquery_hints *logquery_hints(const struct logquery *q);

/*
 * The tokenizer shared by word matching and the block store's bloom
 * filter: calls fn once per token of text, in order, with the token
 * lowercased (ASCII) and cut to LOGQUERY_TOKEN_MAX bytes. A token is a
 * maximal run of bytes in [A-Za-z0-9_] or >= 0x80 (so UTF-8 letters join
 * words). tok is valid only during the call.
 */
void logquery_tokens(const char *text, size_t len,
		     void (*fn)(void *ctx, const char *tok, size_t n), void *ctx);

/*
 * Parses a severity: a name (trace, debug, info, warn or warning, error,
 * fatal; any case; an optional digit 1-4 picks one number of the range, as
 * in "error2") or a number 1..24. Sets [*lo, *hi] to the OTel
 * SeverityNumber range: TRACE 1-4, DEBUG 5-8, INFO 9-12, WARN 13-16,
 * ERROR 17-20, FATAL 21-24. Returns 0 or OODA_EINVAL.
 */
int logquery_severity_parse(const char *name, uint8_t *lo, uint8_t *hi);

/*
 * The lowercase short name of a SeverityNumber ("trace" … "fatal"), or
 * NULL for 0 (unspecified) and numbers above 24. Static storage.
 */
const char *logquery_severity_name(uint8_t sev);

/*
 * The value of field in record r as text, for facet counting: "service",
 * "severity"/"level" (short name), "host", "env", "version", "region",
 * "scope", "trace_id", "span_id" (hex), "body", or any attribute key
 * (optionally written "attr.KEY"; record attributes win over resource
 * attributes). Numbers and booleans are rendered into tmp (64 bytes are
 * plenty); bytes attributes as hex, cut to fit tmp. Returns a pointer into
 * r or tmp, or NULL if the record has no such field.
 */
const char *logquery_field_value(const struct log_record *r, const char *field,
				 char *tmp, size_t tmp_size);

/*
 * What matching q reads of a record beyond its resource: the body, the
 * record's attributes, its severity, its other fields (trace and span ids,
 * scope). A reader that decodes records may leave out what is not needed;
 * a query that reads nothing but the resource (and the severity) answers
 * the same for every record that shares them.
 */
#define LOGQUERY_NEEDS_BODY 1u
#define LOGQUERY_NEEDS_ATTRS 2u
#define LOGQUERY_NEEDS_SEVERITY 4u
#define LOGQUERY_NEEDS_OTHER 8u
unsigned logquery_needs(const struct logquery *q);

#endif
