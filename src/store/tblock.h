/*
 * Telemetry blocks: the on-disk encoding of a group of records of one
 * signal and one service. A block is columnar — times, severities, bodies,
 * ids, names and attributes each go to their own column, strings that repeat
 * (attribute keys, span names, scopes, resources) go through a per-block
 * dictionary — and the columns are compressed with zstd, each column on its
 * own in larger blocks so a reader decompresses only what it reads. Beside the
 * data, a block carries its time bounds, its record count and a bloom filter
 * of its tokens (body words, attribute values, trace ids, names), so a query
 * can skip it without decompressing. The block store (tstore.c) keeps one
 * block per SQLite row; this file only turns records into bytes and back.
 */
#ifndef OODA_TBLOCK_H
#define OODA_TBLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"
#include "model/record.h"

/* Most records in one block; larger groups are cut into several blocks. */
#define TBLOCK_MAX_RECORDS 8192

/*
 * Blocks of at least this many records are written with one zstd frame per
 * column (layout OTB2, so readers decompress only the columns they read);
 * smaller ones, which compaction soon merges, with one frame for all
 * (OTB1). Both are read.
 */
#define TBLOCK_FRAMES_MIN 1024

/* An encoded block, ready to store. data and bloom are malloc'd. */
struct tblock {
	int signal;           /* enum signal */
	char service[128];
	int64_t tmin, tmax;   /* record times (span start .. end for spans) */
	uint32_t n;           /* records */
	uint8_t min_sev;      /* logs: lowest severity in the block */
	uint8_t max_sev;      /* logs: highest severity in the block */
	void *data;           /* zstd-compressed columns */
	size_t data_len;
	size_t raw_len;       /* before compression */
	void *bloom;
	size_t bloom_len;
};

/*
 * tblock_encode that also hands back the distinct token hashes the bloom
 * would be built from, sorted (*tokens malloc'd, the caller frees it), and
 * no bloom (out->bloom NULL): a store that keeps one record per row indexes
 * the tokens itself (tstore_clickhouse.c). Token value 0 is stored as 1, as
 * in the bloom.
 */
int tblock_encode_tokens(int signal, const char *service, const void *recs, size_t n, int level,
			 struct tblock *out, uint64_t **tokens, size_t *n_tokens, struct buf *err);

/* Frees data and bloom. */
void tblock_release(struct tblock *b);

/*
 * Encodes recs[0..n) (all of the same signal and service) into out.
 * recs points at struct log_record, struct span or struct metric_point
 * according to signal. Returns 0, or OODA_ENOMEM / OODA_EINTERNAL.
 */
int tblock_encode(int signal, const char *service, const void *recs, size_t n, int level,
		  struct tblock *out, struct buf *err);

/*
 * Decodes a block's data into records allocated in arena: fills the logs,
 * spans or points of batch (and their counts) according to signal.
 * Bad data returns OODA_ECORRUPT with detail.
 */
int tblock_decode(int signal, const void *data, size_t len, struct arena *arena,
		  struct telemetry_batch *batch, struct buf *err);

/* Columns a reader may leave out (logs): bodies come back NULL, attributes empty. */
#define TBLOCK_SKIP_BODY 1u
#define TBLOCK_SKIP_ATTRS 2u

/* tblock_decode, leaving out the columns named in skip (a TBLOCK_SKIP_* mask). */
int tblock_decode_some(int signal, const void *data, size_t len, unsigned skip, struct arena *arena,
		       struct telemetry_batch *batch, struct buf *err);

/*
 * Counting over a log block without materialising its records (facets):
 * per record its time, severity and resource, and for each of keys[0..n_keys)
 * the dictionary id of the record's own attribute of that key (the first
 * one, as a search reads it), 0 when the record has none. Only the columns
 * this needs are decompressed. Everything lives in arena.
 */
#define TBLOCK_COLS_MAX_KEYS 8

struct tblock_logcols {
	uint32_t n;                          /* records */
	const int64_t *time;                 /* [n] */
	const uint8_t *severity;             /* [n] SeverityNumber */
	const uint32_t *res;                 /* [n] index into resources */
	const struct resource **resources;   /* [n_resources], in order of first use */
	uint32_t n_resources;
	const uint32_t *values[TBLOCK_COLS_MAX_KEYS]; /* [n] per key: dictionary id, 0 = none */
	uint32_t n_ids;                      /* dictionary ids run 1..n_ids */
	void *reader;                        /* for tblock_logcols_str */
};

/*
 * Fills out from a log block. keys are attribute keys (at most
 * TBLOCK_COLS_MAX_KEYS; a NULL key leaves its values NULL). Returns 0; 1 when a record holds one of the keys
 * with a value that is not a dictionary string (a number, a long string…):
 * the caller decodes the block instead; OODA_ECORRUPT with detail for bad
 * data.
 */
int tblock_logcols_decode(const void *data, size_t len, const char *const *keys, size_t n_keys,
			  struct arena *arena, struct tblock_logcols *out, struct buf *err);

/* The string of dictionary id 1..n_ids of c (NUL-terminated, in c's arena). */
const char *tblock_logcols_str(const struct tblock_logcols *c, uint32_t id);

/*
 * Token hashing shared by the bloom filter and the queries: a token is a
 * maximal run of ASCII letters, digits and '_' (and any byte >= 0x80),
 * lowercased; tokens longer than 64 bytes are hashed on their first 64.
 */
uint64_t tblock_token_hash(const char *tok, size_t len);
/* Calls fn for each lowercased token of text (lowercase copy in a scratch buffer). */
void tblock_tokens(const char *text, size_t len, void (*fn)(void *ctx, const char *tok, size_t n),
		   void *ctx);
/* Does the bloom possibly contain every one of hashes[0..n)? */
bool tblock_bloom_has_all(const void *bloom, size_t len, const uint64_t *hashes, size_t n);

#endif
