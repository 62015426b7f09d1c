/*
 * The control-plane store: incidents, flags, configs, deploys, tokens, audit
 * — everything that is not telemetry. Callers never see SQL. Writes are
 * closures run by one writer thread, several queued closures sharing one
 * transaction (group commit) but each in its own savepoint, so one failing
 * closure never undoes another. Reads go through a reader connection and
 * run concurrently with the writer (WAL). The backend is a struct of
 * function pointers so that PostgreSQL can replace SQLite without touching
 * callers.
 */
#ifndef OODA_STORE_H
#define OODA_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct store;

struct token_row {
	char id[40];       /* "tok_" + 16 hex */
	char name[128];
	char role[16];
	char env[64];      /* flag environment scope, "" for none */
	uint8_t hash[32];  /* SHA-256 of the secret */
	int64_t created_ns;
	int64_t revoked_ns; /* 0 while active */
	char created_by[128];
};

struct audit_row {
	int64_t seq;
	int64_t time_ns;
	const char *actor;
	const char *action;
	const char *target;
	const char *before_digest; /* hex SHA-256 of the state before, "" if none */
	const char *after_digest;
	const char *rationale;
	const char *detail;        /* JSON context, may be NULL; chained from hash version 2 on */
	uint8_t prev_hash[32];
	uint8_t hash[32];
	int hash_version;          /* formula of hash (audit.c); rows older than schema 3 are 1 */
};

struct audit_filter {
	const char *actor;
	const char *action;   /* exact, or a prefix ending in '*' */
	const char *target;
	int64_t from_ns, to_ns; /* 0 = open */
	int64_t after_seq;      /* cursor: only seq > after_seq (ascending) */
	int64_t before_seq;     /* cursor: only seq < before_seq (descending); 0 = none */
	bool descending;
	size_t limit;           /* 0 = unlimited */
};

struct checkpoint_row {
	int64_t seq;
	int64_t time_ns;
	uint8_t hash[32];
	uint8_t signature[64];
	uint8_t pubkey[32];
};

/*
 * A versioned document (flags, configs, deploys, approvals, ...): every put
 * creates an immutable version; the latest is the current state.
 */
struct doc_row {
	const char *kind;
	const char *key;
	int64_t version;
	int64_t time_ns;
	const char *author;
	const char *rationale;
	const char *body;      /* JSON text */
	size_t body_len;
	bool deleted;
};

/*
 * The saved state of one service's log pattern miner (detect/logclass):
 * derived from ingested logs, replaced whole on every save, not audited.
 */
struct pattern_snapshot_row {
	const char *service;
	int64_t saved_ns;
	uint64_t lines;          /* log lines the miner has seen */
	const void *snapshot;    /* patterns_save() bytes */
	size_t snapshot_len;
	const void *severities;  /* per pattern id its highest severity: (u64 LE id, u8) records */
	size_t severities_len;
};

typedef int (*store_row_fn)(void *ctx, const void *row);

#define STORE_BACKEND_VERSION 1

/*
 * A control-plane backend. `impl` is the backend's own state. Functions
 * marked (tx) run on the writer connection inside a transaction the store
 * opened; the others read from a reader connection and may run on any thread.
 */
struct store_backend {
	int version;
	const char *name;
	int (*open)(const char *dir, bool readonly, void **impl, struct buf *err);
	void (*close)(void *impl);
	int (*begin)(void *impl);
	int (*commit)(void *impl);
	int (*rollback)(void *impl);
	int (*savepoint)(void *impl);
	int (*savepoint_release)(void *impl);
	int (*savepoint_rollback)(void *impl);
	/* Monotonic counter that changes when another process commits. */
	int (*data_version)(void *impl, int64_t *v);
	int (*backup)(void *impl, const char *path, struct buf *err);
	int (*stats)(void *impl, int64_t *bytes, int64_t *audit_rows);

	int (*token_insert)(void *impl, const struct token_row *t);           /* (tx) */
	int (*token_revoke)(void *impl, const char *id_or_name, int64_t now,
			    struct token_row *out);                               /* (tx) */
	int (*token_list)(void *impl, store_row_fn fn, void *ctx);

	int (*audit_last)(void *impl, int64_t *seq, uint8_t hash[32]);        /* (tx) */
	int (*audit_insert)(void *impl, const struct audit_row *a);           /* (tx) */
	int (*audit_iter)(void *impl, const struct audit_filter *f, store_row_fn fn, void *ctx);
	int (*checkpoint_insert)(void *impl, const struct checkpoint_row *c); /* (tx) */
	int (*checkpoint_iter)(void *impl, store_row_fn fn, void *ctx);
	/* the checkpoint with the highest seq; OODA_ENOTFOUND when there is none */
	int (*checkpoint_last)(void *impl, struct checkpoint_row *out);

	/* (tx) new version = latest + 1; expect_version >= 0 must equal latest (else ECONFLICT→EPRECOND) */
	int (*doc_put)(void *impl, struct doc_row *d, int64_t expect_version);
	/* version 0 = latest. ENOTFOUND if absent. Row strings valid until the next call on this thread. */
	int (*doc_get)(void *impl, const char *kind, const char *key, int64_t version,
		       store_row_fn fn, void *ctx);
	/* latest version of each key of kind with the prefix, keys ascending after `after` */
	int (*doc_list)(void *impl, const char *kind, const char *prefix, const char *after,
			size_t limit, store_row_fn fn, void *ctx);
	int (*doc_history)(void *impl, const char *kind, const char *key, store_row_fn fn, void *ctx);
	/*
	 * (tx) deletes at most `limit` versions of kind that are not their key's
	 * latest and are older than before_ns or not among the key's keep_versions
	 * newest; *deleted receives how many. Touches no other table (the audit
	 * records that name those versions stay).
	 */
	int (*doc_prune)(void *impl, const char *kind, int64_t before_ns, int64_t keep_versions, size_t limit,
			 size_t *deleted);

	/* (tx) inserts or replaces the row of r->service */
	int (*pattern_snapshot_put)(void *impl, const struct pattern_snapshot_row *r);
	/* every saved service, by name; row pointers valid during the call only */
	int (*pattern_snapshot_iter)(void *impl, store_row_fn fn, void *ctx);
	/* Did the writer's last failed call fail for lack of disk space? (writer thread) */
	bool (*disk_full)(void *impl);
};

extern const struct store_backend store_sqlite_backend;

enum store_open_flags {
	STORE_READONLY = 1 << 0,
	STORE_NO_WRITER_THREAD = 1 << 1, /* CLI tools: writes run on the caller's thread */
};

/*
 * Opens (creating if needed) the control store in dir, applies pending
 * migrations, and starts the writer thread. A data dir written by a newer
 * ooda is refused with OODA_ESCHEMA; an unwritable dir with OODA_EIO.
 * Caller owns *out and frees it with store_close().
 */
int store_open(const char *dir, unsigned flags, struct store **out, struct buf *err);

/* Drains queued writes, stops the writer, closes connections. NULL is fine. */
void store_close(struct store *s);

const struct store_backend *store_backend(const struct store *s);
void *store_impl(const struct store *s);

/*
 * A write: fn runs on the writer thread inside a transaction and a
 * savepoint of its own. A non-zero return from fn rolls back only fn's
 * changes and is returned here; err receives fn's detail. Returns when the
 * transaction is durable. OODA_EBUSY if the queue is full.
 */
typedef int (*store_tx_fn)(struct store *s, void *ctx, struct buf *err);
int store_write(struct store *s, store_tx_fn fn, void *ctx, struct buf *err);

/* Writes waiting for the writer thread, for /metrics. */
size_t store_queue_depth(struct store *s);

/*
 * Whether control.db records that this data dir has held telemetry (so a
 * missing telemetry.db is a loss, not a first run: see tstore_open), and
 * recording it (once; later calls do nothing). Returns 0 or an error.
 */
bool store_telemetry_recorded(struct store *s);
int store_telemetry_record(struct store *s, struct buf *err);

/*
 * Disk space of the control store. A write that fails because the disk is
 * full returns OODA_ENOSPACE (507) and sets *full until a later transaction
 * commits again (space freed: no restart needed); *failures counts those
 * writes since start. For /readyz and /metrics.
 */
void store_space(struct store *s, bool *full, uint64_t *failures);

/* Online backup of the control database to path (SQLite backup API). */
int store_backup(struct store *s, const char *path, struct buf *err);

#endif
