/*
 * Log patterns: a streaming template miner that gives every log body a
 * pattern id, so that "orient" can count error classes instead of lines.
 * A line is split into tokens on whitespace; variable parts (numbers, hex,
 * ips, uuids, paths, URLs, key=value and JSON "key": values, quoted values
 * holding numbers, sizes with their units) are masked to "<*>" by
 * hand-written classifiers, and so are tokens whose shape names a thing
 * even without a digit (host names, host:port, e-mail addresses, file and
 * executable names, IPv6 and MAC addresses, day and month names, a syslog
 * source tag such as "sshd[812]:" among the first two tokens); runs of like
 * variables collapse into one. The masked tokens are routed by
 * token count and leading tokens to a small set of candidate patterns, and
 * a line joins the one that matches it (every constant equal, by default).
 * Words without digits become variables too, once distinct_values patterns
 * differ only by the word in one position: they merge into one pattern
 * with "<*>" there (with fewer than 3 other constant words it takes 8),
 * older patterns the merged one covers fold into it, and the merged-away
 * ids live on as aliases. The daemon feeds it ingested log
 * records from the writer thread; `ooda analyze patterns FILE` feeds it a
 * file. Memory is bounded: past max_patterns the least recently seen
 * pattern is evicted.
 *
 * Thread-safety: none. A struct patterns belongs to one thread at a time
 * (in the daemon, the single writer thread); callers that share it must
 * lock around every call.
 */
#ifndef OODA_DETECT_PATTERNS_H
#define OODA_DETECT_PATTERNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/buf.h"

/* Every field's zero value picks the default named beside it. */
struct patterns_config {
	uint32_t max_patterns;    /* 10,000; past it the least recently seen is evicted */
	uint32_t max_tokens;      /* 256 tokens of a line are considered, the rest ignored */
	uint32_t max_line;        /* 4096 bytes of a line are considered, the rest ignored */
	uint32_t max_example;     /* 512 bytes of the first line are kept as its example */
	uint32_t history_buckets; /* 60 buckets of counts over time per pattern */
	int64_t bucket_ns;        /* 60 s per bucket */
	/*
	 * 1.0: share of a line's tokens a pattern must hold (equal, or "<*>")
	 * for the line to join it; below 1, joining turns the differing
	 * positions into "<*>".
	 */
	double similarity;
	/*
	 * 4 (at most 8): when this many patterns are equal but for one
	 * position, each with its own word there, they merge into one with
	 * "<*>" at that position (words without digits can be variables too).
	 */
	uint32_t distinct_values;
};

struct patterns;

/* What patterns_foreach shows of one pattern; valid during the callback only. */
struct pattern_info {
	uint64_t id;
	const char *template_; /* tokens joined by one space, "<*>" for variables */
	const char *example;   /* the first line seen, truncated to max_example */
	int64_t first_seen_ns;
	int64_t last_seen_ns;
	uint64_t count;        /* lines since the pattern was created */
	/*
	 * Counts over time: history[i] counts lines whose time fell into the
	 * bucket starting at (bucket0 + i) * bucket_ns, oldest first; buckets
	 * older than history_buckets before last_seen are forgotten.
	 */
	const uint32_t *history;
	uint32_t n_history;
	int64_t bucket0;
	int64_t bucket_ns;
};

/*
 * Creates a miner. c may be NULL for all defaults. Returns 0, or
 * OODA_EINVAL (a limit out of range; detail in err) or OODA_ENOMEM.
 * The caller owns *out and frees it with patterns_destroy.
 */
int patterns_create(const struct patterns_config *c, struct patterns **out, struct buf *err);

/* Frees p and everything it holds. NULL is a no-op. */
void patterns_destroy(struct patterns *p);

/*
 * Assigns a pattern to one line (len bytes, need not be NUL-terminated,
 * any bytes allowed) seen at t_ns and returns its id. The id is a hash of
 * the pattern's template when it was created and stays the same while the
 * template generalises; a pattern evicted and later re-created from the same
 * kind of line gets the same id again. *is_new (may be NULL) tells whether
 * this line created the pattern. An empty or all-whitespace line has a
 * pattern too (the empty template). Never fails: memory is allocated up
 * front where possible and an allocation failure aborts, like buf.
 */
uint64_t patterns_add(struct patterns *p, const char *line, size_t len, int64_t t_ns, bool *is_new);

/*
 * The current template of pattern id ("<*>" marks variables), or NULL if
 * no such pattern is held (never was, or evicted). The string belongs to p
 * and stays valid until the next patterns_add or patterns_destroy.
 */
const char *patterns_template(const struct patterns *p, uint64_t id);

/*
 * The id pattern id lives on as: itself, or the pattern it was merged into
 * (its template generalised). 0 if no such pattern is held.
 */
uint64_t patterns_resolve(const struct patterns *p, uint64_t id);

/* Fills *info for pattern id (info->id is the resolved id); returns 0 or OODA_ENOTFOUND. Same lifetime as above. */
int patterns_get(const struct patterns *p, uint64_t id, struct pattern_info *info);

/* Number of patterns held now (at most max_patterns). */
size_t patterns_count(const struct patterns *p);

/* Bytes held by p (tables and patterns), for limits and /metrics. */
size_t patterns_memory(const struct patterns *p);

/*
 * Calls fn for every pattern held, most recently seen first. fn returns 0
 * to go on, anything else to stop; that value is returned. fn must not call
 * patterns_add on p.
 */
typedef int (*patterns_fn)(const struct pattern_info *info, void *arg);
int patterns_foreach(const struct patterns *p, patterns_fn fn, void *arg);

/*
 * Snapshots: a miner written to bytes and read back, so that patterns
 * survive a restart with their ids, templates, first- and last-seen times,
 * counts, counts over time, examples and merged-away ids (aliases), and the
 * same lines keep mapping to the same ids. The format is versioned
 * (PATTERNS_SNAPSHOT_VERSION) and described beside patterns_save in
 * patterns.c.
 */
#define PATTERNS_SNAPSHOT_VERSION 1

/*
 * Appends a snapshot of p to out (little-endian, varint-packed; a few
 * hundred bytes per pattern). Never fails: out grows like any buf. p is
 * only read.
 */
void patterns_save(const struct patterns *p, struct buf *out);

/*
 * Creates a miner with configuration c (NULL for all defaults, as in
 * patterns_create) holding what the snapshot data[0..len) holds. The bytes
 * are untrusted: every length, count and index is checked before use, and
 * anything truncated, corrupt (checksum), of another version or beyond a
 * limit is refused with OODA_ECORRUPT or OODA_ESCHEMA (version) and a
 * precise reason in err (may be NULL); *out is then untouched. Limits of c
 * apply: a snapshot with more than max_patterns patterns keeps the most
 * recently seen ones; examples are cut to max_example; a pattern with more
 * tokens than max_tokens is refused; counts over time taken with another
 * bucket width are re-bucketed by their start time. Returns 0 or an error
 * of patterns_create. The caller owns *out (patterns_destroy).
 */
int patterns_load(const struct patterns_config *c, const void *data, size_t len, struct patterns **out,
		  struct buf *err);

/*
 * The offline door: reads lines from in (LF or CRLF; the last may lack a
 * newline), assigns patterns in one pass, and writes for each input line
 * "<id as 16 hex digits>\t<template>\n", where id and template are
 * those of the line's pattern once the whole input is read (after merges). Returns 0,
 * or OODA_EIO (read or write failed; detail in err) or an error of
 * patterns_create.
 */
int patterns_analyze_file(FILE *in, FILE *out, const struct patterns_config *c, struct buf *err);

#endif
