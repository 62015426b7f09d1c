/*
 * The control store's backend table: private to src/store/. A backend
 * (SQLite today, PostgreSQL later) is one file that fills this struct;
 * store.c opens it and runs the writer, store_ops.c turns each operation
 * into a public store_<noun>_<verb>() in store.h, vdoc.c reads and writes
 * documents through it. No file outside src/store/ includes this header or
 * calls store_backend()/store_impl(): scripts/check-layers refuses it.
 */
#ifndef OODA_STORE_BACKEND_H
#define OODA_STORE_BACKEND_H

#include "store/store.h"

#define STORE_BACKEND_VERSION 3

/*
 * Whole-table copies (store_copy.c, `ooda migrate`). A table is described
 * once, for both backends, in store_copy.c's table; a row travels as one
 * store_cell per column, typed by the column's letter in `types`.
 */
enum store_col_type {
	STORE_COL_INT = 'i',   /* INTEGER / BIGINT */
	STORE_COL_TEXT = 't',  /* TEXT NOT NULL */
	STORE_COL_NTEXT = 'n', /* TEXT that may be NULL */
	STORE_COL_BLOB = 'b',  /* BLOB / BYTEA */
};

struct store_cell {
	int64_t i;             /* STORE_COL_INT */
	const char *p;         /* text (NUL-terminated) or bytes; NULL when null */
	size_t len;
};

struct store_table {
	const char *name;
	const char *cols;      /* "a, b, c": every column the copy moves */
	const char *types;     /* one enum store_col_type letter per column */
	const char *order;     /* ORDER BY on SQLite: the order rows were written in */
	const char *pg_order;  /* the same order on PostgreSQL */
};

/* Columns of a store_table (letters in types). */
#define STORE_TABLE_MAX_COLS 16

/*
 * A control-plane backend. `impl` is the backend's own state. Functions
 * marked (tx) run on the writer connection inside a transaction the store
 * opened; the others read from a reader connection and may run on any thread.
 */
struct store_backend {
	int version;
	const char *name;
	int (*open)(const struct store_location *loc, bool readonly, void **impl, struct buf *err);
	void (*close)(void *impl);
	int (*begin)(void *impl);
	int (*commit)(void *impl);
	int (*rollback)(void *impl);
	int (*savepoint)(void *impl);
	int (*savepoint_release)(void *impl);
	int (*savepoint_rollback)(void *impl);
	/* Monotonic counter that changes when another process commits. */
	int (*data_version)(void *impl, int64_t *v);
	/*
	 * Optional: store_wait_change's contract for commits by any process.
	 * NULL: the store counts its own writer's commits only (store.c).
	 */
	int (*wait_change)(void *impl, uint64_t *seen, int64_t timeout_ms);
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
	/* (tx) deletes every version of kind/key; *deleted receives how many (0: there was none) */
	int (*doc_drop)(void *impl, const char *kind, const char *key, size_t *deleted);

	/* (tx) inserts or replaces the row of r->service */
	int (*pattern_snapshot_put)(void *impl, const struct pattern_snapshot_row *r);
	/* every saved service, by name; row pointers valid during the call only */
	int (*pattern_snapshot_iter)(void *impl, store_row_fn fn, void *ctx);
	/* Did the writer's last failed call fail for lack of disk space? (writer thread) */
	bool (*disk_full)(void *impl);
	/* latest version of each key of kind whose latest version has status (not ""), keys ascending */
	int (*doc_list_status)(void *impl, const char *kind, const char *status, store_row_fn fn, void *ctx);
	/* the notification outbox; contracts in store.h (store_notify_*) */
	int (*notify_insert)(void *impl, const struct notify_row *r, bool *inserted); /* (tx) */
	int (*notify_due)(void *impl, int64_t now_ns, size_t limit, store_row_fn fn, void *ctx);
	int (*notify_update)(void *impl, const struct notify_row *r);                 /* (tx) */
	int (*notify_list)(void *impl, const struct notify_filter *f, store_row_fn fn, void *ctx);
	int (*notify_counts)(void *impl, struct notify_counts *out);
	int (*notify_prune)(void *impl, int64_t before_ns, size_t limit, size_t *deleted);    /* (tx) */

	/* incidents, timelines, artifacts (store.h) */
	int (*incident_put)(void *impl, const struct incident_row *r);                 /* (tx) */
	int (*incident_get)(void *impl, int64_t number, store_row_fn fn, void *ctx);
	int (*incident_iter)(void *impl, store_row_fn fn, void *ctx);
	int (*incident_max)(void *impl, int64_t *number);
	int (*incident_entry_append)(void *impl, struct incident_entry_row *e);       /* (tx) */
	int (*incident_entry_iter)(void *impl, int64_t number, store_row_fn fn, void *ctx);
	int (*incident_artifact_put)(void *impl, struct incident_artifact_row *a);     /* (tx) */
	int (*incident_artifact_get)(void *impl, int64_t number, int64_t id, store_row_fn fn, void *ctx);
	int (*incident_artifact_iter)(void *impl, int64_t number, store_row_fn fn, void *ctx);

	/* progressive rollouts (store.h) */
	int (*rollout_put)(void *impl, const struct rollout_row *r);                   /* (tx) */
	int (*rollout_get)(void *impl, const char *id, store_row_fn fn, void *ctx);
	int (*rollout_list)(void *impl, const char *status, size_t limit, store_row_fn fn, void *ctx);

	/* several nodes (store.h); NULL on a backend with one node */
	int (*lease_claim)(void *impl, const char *node, int64_t held_term, int64_t now_ns, int64_t lease_ns,
			   struct lease_row *out);                                /* (tx) */
	int (*lease_get)(void *impl, struct lease_row *out);
	/* (tx) 0 when the lease's term is still term, OODA_ECONFLICT with the current term in *current */
	int (*fence)(void *impl, int64_t term, int64_t *current);
	int (*node_put)(void *impl, const struct node_row *r);                     /* (tx) */
	int (*node_list)(void *impl, store_row_fn fn, void *ctx);

	/* whole-table copies (store_copy.c); t is one of store_copy.c's tables */
	int (*table_count)(void *impl, const struct store_table *t, int64_t *rows);
	/* every row in t's order, streamed; fn gets a const struct store_cell * (one per column) */
	int (*table_iter)(void *impl, const struct store_table *t, store_row_fn fn, void *ctx);
	int (*table_insert)(void *impl, const struct store_table *t, const struct store_cell *row); /* (tx) */

	int (*live_put)(void *impl, const char *node, int64_t written_ns, const void *body, size_t len); /* (tx) */
	int (*live_list)(void *impl, const char *node, int64_t after_id, int64_t own_before_ns, size_t limit,
			 store_row_fn fn, void *ctx);
	int (*live_prune)(void *impl, int64_t before_ns); /* (tx) */

	/* log lines shared for the pattern miners (store.h); NULL on a backend with one node */
	int (*pattern_lines_put)(void *impl, int64_t written_ns, const void *body, size_t len); /* (tx) */
	int (*pattern_lines_list)(void *impl, int64_t after_id, size_t limit, store_row_fn fn, void *ctx);
	int (*pattern_lines_prune)(void *impl, int64_t upto_id, int64_t before_ns); /* (tx) */
	int (*pattern_mark_put)(void *impl, int64_t id);                            /* (tx) */
	int (*pattern_mark_get)(void *impl, int64_t *id);

	/* generations (store.h, store_gen_*); NULL on a backend with one node */
	int (*gen_bump)(void *impl, const char *name);                 /* (tx) */
	/* fills gens[g] for each row of cluster_gen; leaves the others as they are */
	int (*gen_read)(void *impl, int64_t gens[STORE_GEN_COUNT]);
	/* the cluster's config reload generation (store.h); NULL on a backend with one node */
	int (*config_gen_bump)(void *impl, const char *node, const char *actor, int64_t now_ns, int64_t *gen); /* (tx) */
	int (*config_gen_get)(void *impl, struct config_gen_row *out);
	/* the nodes' audit signing keys (store.h) */
	int (*audit_key_put)(void *impl, const uint8_t pk[32], const char *node, int64_t now_ns); /* (tx) */
	int (*audit_key_list)(void *impl, store_row_fn fn, void *ctx);
	/* exemplars and remote-write metadata every node reads (store.h); NULL on a backend with one node */
	int (*exemplars_put)(void *impl, int64_t now_ns, const void *body, size_t len, int64_t keep); /* (tx) */
	int (*exemplars_list)(void *impl, int64_t after_id, size_t limit, store_row_fn fn, void *ctx);
	int (*metadata_put)(void *impl, const char *name, const char *type, const char *help, const char *unit); /* (tx) */
	int (*metadata_list)(void *impl, int64_t after_seq, size_t limit, store_row_fn fn, void *ctx);
	/* the live feed's events shared between nodes (store.h); NULL on a backend with one node */
	int (*stream_put)(void *impl, const char *node, int64_t now_ns, const char *type, const char *body,
			  int64_t keep_after_ns); /* (tx) */
	int (*stream_list)(void *impl, const char *node, int64_t after_id, size_t limit, store_row_fn fn, void *ctx);
	int (*stream_head)(void *impl, int64_t *id);
	/* fresh telemetry announced to the other nodes (store.h); NULL on a backend with one node */
	int (*fresh_announce)(void *impl, const char *from);
	int (*fresh_wait)(void *impl, const char *self, int64_t timeout_ms);
};

extern const struct store_backend store_sqlite_backend;
extern const struct store_backend store_pg_backend;

/* The open store's backend and that backend's own state (its `impl`). */
const struct store_backend *store_backend(const struct store *s);
void *store_impl(const struct store *s);

#endif
