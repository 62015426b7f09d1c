/*
 * The telemetry store: where logs, spans, metric points and change events
 * land after ingest decoded them, and where search, traces and PromQL read
 * them back. Records are grouped per (signal, service) into blocks
 * (tblock.h), one block per row of telemetry.db (SQLite, WAL), so SQLite
 * gives transactions and crash safety while ooda owns the encoding.
 *
 * Write path: tstore_append() encodes the batch's blocks on the caller's
 * thread (so HTTP workers compress in parallel), queues them for the single
 * writer thread and waits. The writer commits everything queued in one
 * transaction (group commit, fsync), then calls the publish hook (live
 * signals) and wakes the waiters: a request is acknowledged only once its
 * records are durable. A full queue refuses at once with OODA_EBUSY (429).
 * In the background the writer merges small blocks (compaction) and drops
 * whole blocks by age and total size (retention).
 *
 * Read path: tstore_scan() walks the blocks of one signal that overlap a
 * time range (newest first), optionally restricted to services, skips those
 * whose bloom filter lacks a required token, decodes the rest and hands each
 * one to a callback. Any number of threads may scan at once.
 *
 * The functions below go through struct tstore_backend. Two backends exist:
 * the embedded block store above (the default) and ClickHouse
 * (tstore_clickhouse.c: one row per record on a ClickHouse server, scans
 * pushed down as SQL; docs/scale.md), picked by tstore_options.backend.
 */
#ifndef OODA_TSTORE_H
#define OODA_TSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "model/record.h"

struct tstore;

/* Where the ClickHouse backend finds its server (storage.telemetry.*). */
struct tstore_clickhouse_options {
	const char *url;          /* http://host:port */
	const char *database;     /* NULL = "ooda" */
	const char *user;         /* NULL = the server's default user */
	const char *password;     /* the secret itself (read from password_env), or NULL */
};

struct tstore_options {
	/* "sqlite" or NULL: blocks in DIR/telemetry.db; "clickhouse": the server in clickhouse */
	const char *backend;
	struct tstore_clickhouse_options clickhouse;
	size_t queue_bytes;        /* bound on encoded bytes waiting for the writer */
	int64_t retention_age_ns;  /* 0 = keep forever */
	int64_t retention_bytes;   /* 0 = no size bound */
	int zstd_level;            /* blocks written at ingest; 0 picks 1 (fast) */
	int compact_level;         /* blocks merged by compaction; 0 picks 6 (small) */
	bool no_fsync;             /* benchmarks of the SQLite baseline only */
	/* Called on the writer thread after a batch is durable, before its
	 * appender wakes (live signals); may be NULL. */
	void (*publish)(void *ctx, const struct telemetry_batch *b);
	/* Called on the same thread once publish saw every batch of one commit
	 * (the embedded store's group commit; one append on ClickHouse), before
	 * their appenders wake; spans: one of the batches carried spans. May be
	 * NULL; gets publish_ctx. */
	void (*published)(void *ctx, bool spans);
	void *publish_ctx;
	/* control.db records that this data dir has held telemetry: a missing
	 * telemetry.db is then a loss, not a first run (see tstore_open). */
	bool expect_existing;
	/* A telemetry.db that tstore_open refuses is moved aside (to
	 * telemetry.db.broken-UNIXTIME) and a new, empty one created. */
	bool recreate;
	/* No background compaction or retention: the store is only read
	 * (`ooda migrate`'s source, which it must leave as it found it). */
	bool no_maintain;
};

/* The layout of telemetry.db this ooda writes (its PRAGMA user_version): the number of migrations in tstore_schema.c. */
#define TSTORE_SCHEMA_VERSION 1

/*
 * Opens the backend opt->backend names. For ClickHouse (DIR unused): checks
 * the URL and database name (OODA_EINVAL), reaches the server (OODA_EUNAVAIL
 * when it cannot), migrates the schema (OODA_ESCHEMA when a newer ooda wrote
 * it). For the embedded store (the rest of this comment):
 * opens DIR/telemetry.db and starts the writer. A first run (no
 * telemetry.db, and opt->expect_existing false) creates it. A file that is
 * empty (0 bytes), not a SQLite database or without the block tables, or
 * a missing one while opt->expect_existing, is refused with OODA_ECORRUPT,
 * and one written by a newer ooda (user_version above
 * TSTORE_SCHEMA_VERSION) with OODA_ESCHEMA; err then says what is wrong
 * and how to recover. With opt->recreate the refused file is moved aside
 * and a new store created instead (logged).
 */
int tstore_open(const char *dir, const struct tstore_options *opt, struct tstore **out, struct buf *err);
/* Drains the queue, stops the writer, closes. NULL is a no-op. */
void tstore_close(struct tstore *t);

/*
 * Online copy of DIR/telemetry.db to dest_path (created or replaced) with
 * SQLite's backup API: consistent while a daemon keeps writing, which it
 * does not block for long (the copy goes 1,024 pages at a time). Returns
 * 0, OODA_ENOTFOUND when DIR holds no telemetry.db, or OODA_EIO with
 * detail. Sets *bytes to the size of the copy.
 */
int tstore_backup(const char *dir, const char *dest_path, int64_t *bytes, struct buf *err);

/*
 * Stores every record of batch durably; returns when committed (0) or failed.
 * The batch stays owned by the caller. OODA_EBUSY when the queue is full
 * (nothing stored), OODA_EIO on a storage failure (nothing stored).
 */
int tstore_append(struct tstore *t, const struct telemetry_batch *batch, struct buf *err);

/* A block as stored, before decoding (see tstore_scan.block_fn). */
struct tstore_block {
	const void *data;          /* the encoded block (tblock.h) */
	size_t len;
	int64_t tmin, tmax;        /* its time bounds */
	struct arena *arena;       /* scratch for this block, reset before the next */
};

/* block_fn's answer for a block it wants decoded and passed to fn as usual. */
#define TSTORE_SCAN_DECODE 2

/* What a scan reads. */
struct tstore_scan {
	int signal;                /* SIGNAL_LOGS, SIGNAL_SPANS or SIGNAL_METRICS */
	int64_t from_ns, to_ns;    /* blocks overlapping [from, to]; 0/0 = all time */
	const char *const *services; /* NULL = every service */
	size_t n_services;
	const uint64_t *tokens;    /* tblock_token_hash values every record must hold */
	size_t n_tokens;
	bool any_token;            /* a block needs only one of tokens (each block is read once) */
	uint8_t min_severity;      /* logs: skip blocks whose highest severity is lower */
	/* Optional: the scan is for the records of this trace (16 bytes). The
	 * embedded store goes by the trace id's token in tokens, which the caller
	 * passes too; a backend with a trace-id column filters on it. */
	const uint8_t *trace_id;
	bool oldest_first;         /* default newest first (by block end) */
	unsigned skip;             /* logs: columns the callback does not need (TBLOCK_SKIP_BODY, …) */
	/*
	 * Optional, for readers that count straight from the encoded columns:
	 * called with each block before it is decoded. Returns 0 when it dealt
	 * with the block, 1 to stop the scan, TSTORE_SCAN_DECODE to have the
	 * block decoded and passed to the scan's callback, or a negative error
	 * code (with detail in err) that ends the scan. A backend that does not
	 * store blocks ignores it and calls the callback.
	 */
	int (*block_fn)(void *ctx, const struct tstore_block *b, struct buf *err);
	/* Where the scan reports the blocks it skipped as damaged; may be NULL. */
	struct tstore_skipped *skipped;
};

/*
 * The damaged blocks a scan passed over (its answer is partial). Adds up
 * over several scans that share it; zero it before the first.
 */
#define TSTORE_SKIPPED_IDS 16
struct tstore_skipped {
	uint64_t n;                     /* blocks skipped, counting those not listed */
	size_t n_ids;                   /* the first TSTORE_SKIPPED_IDS of them */
	struct tstore_block_id {
		int signal;
		int64_t id;
	} ids[TSTORE_SKIPPED_IDS];
};

/* "logs", "spans" or "metrics": how a block's signal is named to people. */
const char *tstore_signal_name(int signal);

/*
 * Called per decoded block with its records in b (logs, spans or points,
 * per signal) and the block's time bounds. The batch and its arena are
 * reused after the call returns. Return nonzero to stop the scan.
 */
typedef int (*tstore_scan_fn)(void *ctx, const struct telemetry_batch *b, int64_t tmin, int64_t tmax);

/*
 * Runs a scan; returns 0 or an error (OODA_EIO when the store cannot be
 * read). A block that does not decode (tblock_decode's or block_fn's
 * OODA_ECORRUPT) is skipped, not fatal: it is added to q->skipped, counted
 * in tstore_stats.corrupt_blocks and logged, both once per block.
 */
int tstore_scan(struct tstore *t, const struct tstore_scan *q, tstore_scan_fn fn, void *ctx,
		struct buf *err);

/* Change events, newest first, filtered (NULL/0 = any), at most limit. */
struct tstore_event_filter {
	const char *service, *kind, *environment;
	int64_t from_ns, to_ns;
	size_t limit;
};
/* Appends a JSON array of events to out. */
int tstore_events_json(struct tstore *t, const struct tstore_event_filter *f, struct buf *out, struct buf *err);

/* Sizes and counters for /metrics and `ooda status`. */
struct tstore_stats {
	uint64_t blocks[3], records[3], bytes[3]; /* by signal (logs, spans, metrics) */
	uint64_t events;
	uint64_t file_bytes;
	uint64_t queue_bytes, queue_limit;
	uint64_t commits, rejected_busy, compactions, retention_dropped;
	uint64_t corrupt_blocks;  /* distinct blocks found damaged since start */
	uint64_t disk_full;          /* 1 while the last commit failed for lack of space (appends get OODA_ENOSPACE) */
	uint64_t disk_full_failures; /* commits refused for lack of space since start */
};
void tstore_stats(struct tstore *t, struct tstore_stats *out);

/* Runs compaction and retention now (tests, `ooda` maintenance); returns blocks changed. */
int tstore_maintain(struct tstore *t, int64_t now_ns, struct buf *err);

/* ---- check and repair (tstore_check.c) ----------------------------------- */

/*
 * Looks at DIR/telemetry.db before SQLite opens it: 0 when it is a SQLite
 * file, or absent and !expect_existing (a first run); OODA_ECORRUPT with
 * what is wrong in err when it is empty, not a SQLite file, or absent
 * though expected. Sets *exists.
 */
int tstore_file_check(const char *path, bool expect_existing, bool *exists, struct buf *err);

/* A block that does not decode. */
struct tstore_bad_block {
	int signal;
	int64_t id;
	char service[128];
	int64_t tmin, tmax;
	int64_t records;        /* as the row says */
	char why[256];          /* the decoder's complaint */
};

struct tstore_check_report {
	uint64_t blocks;                /* blocks read */
	struct tstore_bad_block *bad;   /* malloc'd, n_bad of them */
	size_t n_bad;
	char integrity[256];            /* SQLite's quick_check: "ok" or its first complaint */
};

/*
 * Reads and decodes every block of DIR/telemetry.db without a daemon
 * (read-only; creates nothing, so DIR and its telemetry.db must exist:
 * else OODA_ENOTFOUND). Fills out (release it with tstore_check_release)
 * and returns 0 when the check ran, whatever it found; OODA_ECORRUPT when
 * the file is no telemetry store at all; OODA_ESCHEMA when a newer ooda
 * wrote it.
 */
int tstore_check(const char *dir, struct tstore_check_report *out, struct buf *err);
void tstore_check_release(struct tstore_check_report *r);

/*
 * Deletes the blocks listed in r->bad from DIR/telemetry.db, in one
 * transaction (works beside a running daemon: SQLite serialises the
 * writers). Returns the number of blocks deleted, or OODA_EIO with detail.
 */
int tstore_repair(const char *dir, const struct tstore_check_report *r, struct buf *err);

/* Plug-in point: a telemetry backend. Version 1. */
struct tstore_backend {
	int version;
	const char *name;
	int (*open)(const char *dir, const struct tstore_options *opt, struct tstore **out, struct buf *err);
	void (*close)(struct tstore *t);
	int (*append)(struct tstore *t, const struct telemetry_batch *b, struct buf *err);
	int (*scan)(struct tstore *t, const struct tstore_scan *q, tstore_scan_fn fn, void *ctx, struct buf *err);
	int (*events_json)(struct tstore *t, const struct tstore_event_filter *f, struct buf *out, struct buf *err);
	void (*stats)(struct tstore *t, struct tstore_stats *out);
	int (*maintain)(struct tstore *t, int64_t now_ns, struct buf *err);
};

/* The embedded SQLite block backend. */
extern const struct tstore_backend tstore_sqlite_blocks;
/* Telemetry on a ClickHouse server (tstore_clickhouse.c). */
extern const struct tstore_backend tstore_clickhouse;

/* ---- copying a whole telemetry store (tstore_copy.c; `ooda migrate`) ---- */

/* Records of each signal in a store, indexed by SIGNAL_LOGS, SIGNAL_SPANS, SIGNAL_METRICS. */
struct tstore_counts {
	uint64_t records[3];
};

/*
 * Counts every record of each signal in t by reading them all (the same
 * way on every backend, so two stores' counts compare). A damaged block
 * fails the count with OODA_ECORRUPT and a detail that says how to find
 * and remove it (`ooda telemetry check`), since it could not be copied.
 */
int tstore_count(struct tstore *t, struct tstore_counts *out, struct buf *err);

/* Called after each append to the target: records of signal copied so far. */
typedef void (*tstore_copy_progress_fn)(void *ctx, int signal, uint64_t records);

/*
 * Copies every log record, span and metric point of src into dst, oldest
 * first, signal by signal, in appends of at most 20,000 records (each
 * durable before the next is read); src is only read. Change events are
 * not copied here (`ooda migrate` copies them through tstore_events_json).
 * A damaged block in src fails the copy with OODA_ECORRUPT. On a failure
 * the appends made stay in dst; err says which signal failed.
 */
int tstore_copy(struct tstore *src, struct tstore *dst, tstore_copy_progress_fn progress, void *ctx,
		struct buf *err);

#endif
