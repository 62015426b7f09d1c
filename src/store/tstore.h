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
 * The functions below go through struct tstore_backend, the seam where a
 * ClickHouse backend can be added without touching callers.
 */
#ifndef OODA_TSTORE_H
#define OODA_TSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "ingest/record.h"

struct tstore;

struct tstore_options {
	size_t queue_bytes;        /* bound on encoded bytes waiting for the writer */
	int64_t retention_age_ns;  /* 0 = keep forever */
	int64_t retention_bytes;   /* 0 = no size bound */
	int zstd_level;            /* blocks written at ingest; 0 picks 1 (fast) */
	int compact_level;         /* blocks merged by compaction; 0 picks 6 (small) */
	bool no_fsync;             /* benchmarks of the SQLite baseline only */
	/* Called on the writer thread after a batch is durable, before its
	 * appender wakes (live signals); may be NULL. */
	void (*publish)(void *ctx, const struct telemetry_batch *b);
	void *publish_ctx;
};

/* Opens (creating) DIR/telemetry.db and starts the writer. */
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
	uint8_t min_severity;      /* logs: skip blocks whose highest severity is lower */
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
};

/*
 * Called per decoded block with its records in b (logs, spans or points,
 * per signal) and the block's time bounds. The batch and its arena are
 * reused after the call returns. Return nonzero to stop the scan.
 */
typedef int (*tstore_scan_fn)(void *ctx, const struct telemetry_batch *b, int64_t tmin, int64_t tmax);

/* Runs a scan; returns 0, or an error (OODA_ECORRUPT names the block). */
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
	uint64_t disk_full;          /* 1 while the last commit failed for lack of space (appends get OODA_ENOSPACE) */
	uint64_t disk_full_failures; /* commits refused for lack of space since start */
};
void tstore_stats(struct tstore *t, struct tstore_stats *out);

/* Runs compaction and retention now (tests, `ooda` maintenance); returns blocks changed. */
int tstore_maintain(struct tstore *t, int64_t now_ns, struct buf *err);

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

#endif
