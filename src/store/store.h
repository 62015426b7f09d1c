/*
 * The control-plane store: incidents, flags, configs, deploys, tokens, audit
 * — everything that is not telemetry. Callers never see SQL. Writes are
 * closures run by one writer thread, several queued closures sharing one
 * transaction (group commit) but each in its own savepoint, so one failing
 * closure never undoes another. Reads go through a reader connection and
 * run concurrently with the writer (WAL). The backend is a struct of
 * function pointers (store_backend.h, private to src/store/) so that
 * PostgreSQL can replace SQLite without touching callers: everything outside
 * store/ calls the store_<noun>_<verb>() functions below, never the backend.
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
	const char *status;    /* written by doc_put: a queryable status ("running"); NULL or "" for none */
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

/*
 * One message of the notification outbox (respond/notify.h) to one target.
 * status: "pending" (waiting for its next attempt), "delivered" or
 * "failed" (attempts exhausted, or the target is gone). incident and alert
 * are "" when the row has none.
 */
struct notify_row {
	const char *id;          /* "ntf_" + 16 hex digits, stable for dedupe_key */
	const char *dedupe_key;  /* unique: a second enqueue of the same key is ignored */
	const char *target;
	const char *kind;        /* "incident" | "alert" | "test" */
	const char *event;       /* "opened", "firing", "resolved", ... */
	const char *payload;     /* the rendered body, without secrets */
	const char *incident;
	const char *alert;
	const char *status;
	int64_t attempts;
	int64_t next_attempt_ns; /* wall clock */
	const char *last_error;
	int64_t created_ns;
	int64_t delivered_ns;    /* 0 until delivered */
};

/* What store_notify_list selects; "" or NULL fields match any row. */
struct notify_filter {
	const char *incident;
	const char *alert;
	const char *status;
	const char *id;
	size_t limit;            /* 0: 100 */
};

/* Rows of the outbox by status, and attempts made by rows in that status, for /metrics. */
struct notify_counts {
	int64_t pending, delivered, failed;
	int64_t attempts;        /* every attempt of every row */
};

/*
 * One incident (respond/incident.h): its number, the columns lists filter
 * on, and the whole document as JSON. Incidents, their timelines and
 * artifacts are history: never pruned.
 */
struct incident_row {
	int64_t number;
	const char *status;
	const char *service;
	const char *severity;
	int64_t updated_ns;
	const char *body;      /* JSON text */
};

/*
 * One progressive rollout (change/rollout.h): its id, the columns the
 * worker and lists query on, and the whole document as JSON.
 */
struct rollout_row {
	const char *id;
	const char *status;
	const char *env;
	int64_t due_ns;        /* when the current step's hold ends (0: nothing due) */
	int64_t updated_ns;
	const char *body;      /* JSON text */
};

/* One timeline entry of an incident; seq ascending from 1, written once, never changed. */
struct incident_entry_row {
	int64_t number;
	int64_t seq;           /* filled by store_incident_entry_append */
	int64_t at_ns;
	const char *kind;
	const char *actor;
	const char *text;
	const char *data;      /* JSON text */
};

/* A file attached to an incident, with the SHA-256 (hex) of its bytes as uploaded. */
struct incident_artifact_row {
	int64_t number;
	int64_t id;            /* filled by store_incident_artifact_put; 1, 2, … per incident */
	const char *name;
	const char *content_type;
	int64_t size;
	const char *sha256;
	const char *uploaded_by;
	int64_t at_ns;
	const void *bytes;     /* NULL in listings */
	size_t bytes_len;
};

/*
 * A row callback: row points at the struct the iterating function names,
 * valid during the call only. Return 0 to go on, > 0 to stop early (the
 * iteration then returns 0), < 0 to stop and have the iteration return it.
 */
typedef int (*store_row_fn)(void *ctx, const void *row);

enum store_open_flags {
	STORE_READONLY = 1 << 0,
	STORE_NO_WRITER_THREAD = 1 << 1, /* CLI tools: writes run on the caller's thread */
};

/*
 * Where the control store lives: SQLite's control.db in the data dir (the
 * default), or a PostgreSQL database named by a libpq connection string.
 * The string is a secret (it may hold a password): the store never puts it
 * in an error, a log line or the audit.
 */
struct store_location {
	const char *dir;       /* the data dir; SQLite keeps control.db here */
	const char *pg_dsn;    /* NULL or "": SQLite; else PostgreSQL */
	const char *dsn_env;   /* the environment variable pg_dsn came from (for control.pg) */
};

/*
 * Opens the control store at loc as store_open() does in a data dir. On
 * PostgreSQL the schema is created and migrated in the database (several
 * processes may open one database at once); a server that cannot be reached
 * gives OODA_EUNAVAIL with a detail that does not repeat the connection
 * string. A writable open on PostgreSQL with dir and dsn_env set leaves
 * dir/control.pg, one line "postgres VAR": the name of the variable, never
 * the string, so that store_open(dir) (the CLI's offline commands) finds the
 * same database.
 */
int store_open_at(const struct store_location *loc, unsigned flags, struct store **out, struct buf *err);

/*
 * Parses the text of a control.pg: "postgres NAME" and an optional newline,
 * NAME a variable name (letters, digits, '_', not starting with a digit, at
 * most 128 bytes). Fills var (size bytes) and returns 0, or OODA_EINVAL.
 */
int store_pg_marker_parse(const char *text, size_t len, char *var, size_t size);

/* Does dir hold control.pg (its control store is in PostgreSQL)? */
bool store_dir_is_pg(const char *dir);

/* "sqlite" or "postgres": the backend s runs on. */
const char *store_backend_name(const struct store *s);

/*
 * Waits up to timeout_ms for commits to the store, by this process or (on
 * PostgreSQL, through LISTEN/NOTIFY) by another one sharing the database.
 * *seen is the change count the caller saw last (0 at first): returns 0 at
 * once when the count has moved past it, else when it does, and writes the
 * new count to *seen; OODA_ETIMEOUT when nothing changed in time;
 * OODA_EUNAVAIL when PostgreSQL cannot be reached. On PostgreSQL counting
 * starts with the first call. For workers that would otherwise poll; one
 * caller at a time per store.
 */
int store_wait_change(struct store *s, uint64_t *seen, int64_t timeout_ms);

/*
 * Opens (creating if needed) the control store in dir; when dir holds
 * control.pg (above), the PostgreSQL database whose connection string is in
 * the variable it names instead (OODA_EINVAL naming the variable when it is
 * unset). In dir, applies pending
 * migrations, and starts the writer thread. A data dir written by a newer
 * ooda is refused with OODA_ESCHEMA; an unwritable dir with OODA_EIO.
 * Caller owns *out and frees it with store_close().
 */
int store_open(const char *dir, unsigned flags, struct store **out, struct buf *err);

/* Drains queued writes, stops the writer, closes connections. NULL is fine. */
void store_close(struct store *s);

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
 * On PostgreSQL, which several nodes with their own data dirs share, there
 * is no such record: recorded is false and record does nothing.
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

/*
 * Online backup of the control database to path (SQLite backup API). On
 * PostgreSQL refused with OODA_EINVAL and a detail naming pg_dump.
 */
int store_backup(struct store *s, const char *path, struct buf *err);

/*
 * ---- one function per backend operation --------------------------------
 *
 * Functions marked (tx) run on the writer connection: call them only from
 * a store_tx_fn given to store_write(), which holds the transaction and the
 * savepoint. The others read from a reader connection and may run on any
 * thread. All return 0 or a negative OODA_E* code (OODA_EIO for a failure
 * of the database itself); iterations also return what the callback did
 * (see store_row_fn).
 */

/* A counter that changes when another process commits to the store (token cache invalidation). */
int store_data_version(struct store *s, int64_t *v);

/*
 * Size of the control database on disk (database and WAL, bytes) and the
 * highest audit sequence number, for /metrics. Fields it
 * cannot read are 0.
 */
int store_stats(struct store *s, int64_t *bytes, int64_t *audit_rows);

/* (tx) Adds a token. OODA_ECONFLICT when its id is taken. */
int store_token_insert(struct store *s, const struct token_row *t);

/*
 * (tx) Revokes the active token whose id or name is id_or_name at `now`
 * and copies it, revoked, into *out. OODA_ENOTFOUND when no active token
 * matches, OODA_ECONFLICT when a name matches several (use the id).
 */
int store_token_revoke(struct store *s, const char *id_or_name, int64_t now, struct token_row *out);

/* Every token, revoked ones included, oldest first; fn gets a const struct token_row *. */
int store_token_list(struct store *s, store_row_fn fn, void *ctx);

/* (tx) The last audit record's seq and hash; 0 and zeros for an empty log. */
int store_audit_last(struct store *s, int64_t *seq, uint8_t hash[32]);

/* (tx) Appends an audit record; the caller has chained and hashed it (audit.c). */
int store_audit_insert(struct store *s, const struct audit_row *a);

/* The audit records f selects, in f's order; fn gets a const struct audit_row *. */
int store_audit_iter(struct store *s, const struct audit_filter *f, store_row_fn fn, void *ctx);

/* (tx) Stores a signed checkpoint of the audit chain. */
int store_checkpoint_insert(struct store *s, const struct checkpoint_row *c);

/* Every checkpoint by ascending seq; fn gets a const struct checkpoint_row *. */
int store_checkpoint_iter(struct store *s, store_row_fn fn, void *ctx);

/* The checkpoint with the highest seq into *out; OODA_ENOTFOUND when there is none. */
int store_checkpoint_last(struct store *s, struct checkpoint_row *out);

/* (tx) Inserts or replaces the saved log pattern state of r->service. */
int store_pattern_snapshot_put(struct store *s, const struct pattern_snapshot_row *r);

/* Every saved service's pattern state, by name; fn gets a const struct pattern_snapshot_row *. */
int store_pattern_snapshot_iter(struct store *s, store_row_fn fn, void *ctx);

/*
 * (tx) Adds r to the outbox as "pending" with no attempt made, due at
 * r->next_attempt_ns. Only id, dedupe_key, target, kind, event, payload,
 * incident, alert, next_attempt_ns and created_ns are read. *inserted is
 * false when a row with the same dedupe_key (or id) exists: nothing is
 * written then.
 */
int store_notify_insert(struct store *s, const struct notify_row *r, bool *inserted);

/* Pending rows due at now_ns (next_attempt_ns <= now_ns), soonest first, at most limit; fn gets a const struct notify_row *. */
int store_notify_due(struct store *s, int64_t now_ns, size_t limit, store_row_fn fn, void *ctx);

/*
 * (tx) Records an attempt's outcome on row r->id: status, attempts,
 * next_attempt_ns, last_error and delivered_ns are written. OODA_ENOTFOUND
 * when there is no such row.
 */
int store_notify_update(struct store *s, const struct notify_row *r);

/* Rows f selects, newest first; fn gets a const struct notify_row *. */
int store_notify_list(struct store *s, const struct notify_filter *f, store_row_fn fn, void *ctx);

/* Counts of rows by status and of attempts made. */
int store_notify_counts(struct store *s, struct notify_counts *out);

/*
 * (tx) Deletes at most limit delivered or failed rows whose last attempt
 * was before before_ns; *deleted receives how many. Pending rows are never
 * deleted.
 */
int store_notify_prune(struct store *s, int64_t before_ns, size_t limit, size_t *deleted);
/* (tx) Inserts or replaces incident r->number. */
int store_incident_put(struct store *s, const struct incident_row *r);

/* Incident number; fn gets a const struct incident_row *. OODA_ENOTFOUND when there is none. */
int store_incident_get(struct store *s, int64_t number, store_row_fn fn, void *ctx);

/* Every incident, newest (highest number) first; fn gets a const struct incident_row *. */
int store_incident_iter(struct store *s, store_row_fn fn, void *ctx);

/* The highest incident number so far (0 for none); call inside a write for the next one. */
int store_incident_max(struct store *s, int64_t *number);

/* (tx) Appends e to its incident's timeline with the next seq, written back into e->seq. */
int store_incident_entry_append(struct store *s, struct incident_entry_row *e);

/* The timeline of incident number by seq; fn gets a const struct incident_entry_row *. */
int store_incident_entry_iter(struct store *s, int64_t number, store_row_fn fn, void *ctx);

/* (tx) Stores an artifact with the next id of its incident, written back into a->id. */
int store_incident_artifact_put(struct store *s, struct incident_artifact_row *a);

/*
 * One artifact with its bytes (get; OODA_ENOTFOUND if absent) or every
 * artifact of an incident by id without them (iter, bytes NULL); fn gets a
 * const struct incident_artifact_row *.
 */
int store_incident_artifact_get(struct store *s, int64_t number, int64_t id, store_row_fn fn, void *ctx);
/* (tx) Inserts or replaces rollout r->id. */
int store_rollout_put(struct store *s, const struct rollout_row *r);
/* Rollout id; fn gets a const struct rollout_row *. OODA_ENOTFOUND when there is none. */
int store_rollout_get(struct store *s, const char *id, store_row_fn fn, void *ctx);
/*
 * At most limit rollouts, newest (highest id) first, of one status when
 * status is not NULL (an indexed query); fn gets a const struct rollout_row *.
 */
int store_rollout_list(struct store *s, const char *status, size_t limit, store_row_fn fn, void *ctx);
int store_incident_artifact_iter(struct store *s, int64_t number, store_row_fn fn, void *ctx);

/* ---- generations: what a node's caches follow -------------------------------
 *
 * A node keeps parts of the control store in memory to answer fast: the
 * token table (http/auth.c), the compiled flag sets OFREP evaluates
 * (change/flagstore.c), the alerting core's silences and the on-call
 * overrides. On PostgreSQL other nodes change them too. Every such change
 * bumps its kind's generation in the change's own transaction (one row per
 * kind in cluster_gen), and a cache compares the generation it was built at
 * with store_gen_read() before it answers, rebuilding when they differ. So
 * a change committed through any node is seen by the very next request to
 * every node. Document writes of the kinds in store_gen_of_doc bump on their
 * own (vdoc.c); tokens in store_token_insert/revoke.
 */
enum store_gen { STORE_GEN_TOKENS, STORE_GEN_FLAGS, STORE_GEN_SILENCES, STORE_GEN_ONCALL, STORE_GEN_COUNT };

/* "tokens", "flags", "silences", "oncall": the row's name in cluster_gen. */
const char *store_gen_name(enum store_gen g);

/* The generation a document kind bumps ("silence": STORE_GEN_SILENCES), or STORE_GEN_COUNT for none. */
enum store_gen store_gen_of_doc(const char *kind);

/*
 * (tx) Bumps g as part of the running write: on PostgreSQL the row in
 * cluster_gen (so it commits or rolls back with the change); on SQLite (one
 * node) a counter in memory, moved once the transaction commits.
 */
int store_gen_bump(struct store *s, enum store_gen g);

/*
 * Writes to *gen the generation of g, counting every change committed
 * (by any node) before this call began — or, on a thread serving a request
 * (ooda_thread_since, core/time.h), before the request arrived. On
 * PostgreSQL that takes one round trip, shared: a caller that arrives while
 * another's read is under way waits for it and reads again only if that
 * read began before it (or its request) arrived, so a request's checks
 * (its token, then the flags) share one query, and concurrent callers cost
 * about one query per round trip, not one each.
 * On SQLite it reads the counter in memory (no I/O). OODA_EUNAVAIL when
 * PostgreSQL cannot be reached; *gen then holds the last value read, so a
 * cache goes on answering from what it has.
 */
int store_gen_read(struct store *s, enum store_gen g, int64_t *gen);

/* Round trips store_gen_read made (PostgreSQL) since the store opened, for the cost figures. */
uint64_t store_gen_reads(struct store *s);

/* ---- several nodes: the leader's lease, fencing, the nodes' heartbeats ---- */

/* The leader's lease: who holds it, its term (the fencing token) and until when. */
struct lease_row {
	char node_id[128];
	int64_t term;
	int64_t expires_ns;
};

/*
 * (tx) Claims or renews the lease for node: a node holding term renews it
 * until now + lease_ns; any node takes a lease that expired before now,
 * and the node named in the lease takes it at once when it does not hold
 * that term (the same node restarted: node ids are unique), each with the
 * term bumped by one. *out receives the lease as it stands after
 * the call (the caller leads when out->node_id is node and out->term > 0).
 * OODA_EUNSUPPORTED on a backend with one node (SQLite).
 */
int store_lease_claim(struct store *s, const char *node, int64_t held_term, int64_t now_ns, int64_t lease_ns,
		      struct lease_row *out);
/* The lease as stored; OODA_ENOTFOUND before any node claimed it, OODA_EUNSUPPORTED on SQLite. */
int store_lease_get(struct store *s, struct lease_row *out);

/*
 * Fencing: a store_write() from a thread whose fencing token
 * (lead_thread_fence, core/lead.h) is > 0 first checks, inside its
 * transaction, that the lease's term is still that token, and fails with
 * OODA_ECONFLICT ("fenced: …") when a newer leader took over; a token of -1
 * (a node that does not lead) refuses the write; 0 checks nothing.
 * Backends with one node (SQLite) check nothing.
 */
/* How many writes the fence refused since the store opened (the cluster loop steps down on a change). */
uint64_t store_fence_refusals(struct store *s);

/* A node of the cluster as it last reported itself. */
struct node_row {
	const char *node_id;
	const char *address;
	const char *version;
	const char *role;     /* "leader" or "follower" */
	int64_t term;         /* the term it led with (0: follower) */
	int64_t started_ns;
	int64_t seen_ns;      /* its last heartbeat */
	int64_t config_generation; /* the cluster's reload generation it last answered (store_config_gen_bump) */
	const char *config_hash;   /* hex SHA-256 of the ooda.yaml it runs ("" without one); NULL as "" */
	const char *config_error;  /* why it refused that generation's file, "" when it took it; NULL as "" */
};

/* (tx) Inserts or replaces the row of r->node_id. OODA_EUNSUPPORTED on SQLite. */
int store_node_put(struct store *s, const struct node_row *r);
/* Every node, by id; fn gets a const struct node_row *. OODA_EUNSUPPORTED on SQLite. */
int store_node_list(struct store *s, store_row_fn fn, void *ctx);

/*
 * (tx) Starts the cluster's next configuration reload generation, asked for
 * by actor through node: every node re-reads its own ooda.yaml when it sees
 * a generation newer than the one it answered. *gen receives the new
 * generation. OODA_EUNSUPPORTED on SQLite (one node).
 */
int store_config_gen_bump(struct store *s, const char *node, const char *actor, int64_t now_ns, int64_t *gen);

/* The current reload generation (0 before the first); OODA_EUNSUPPORTED on SQLite. */
struct config_gen_row {
	int64_t generation;
	char node_id[128]; /* the node the reload was asked of */
	char actor[160];   /* who asked */
	int64_t at_ns;
};
int store_config_gen_get(struct store *s, struct config_gen_row *out);

/* ---- what every node answers alike: exemplars, remote-write metadata ---- */

/* A batch of exemplars as one node stored it (query/exemplars.h, exemplars_encode). */
struct exemplar_batch_row {
	int64_t id;            /* ascending in commit order */
	int64_t written_ns;
	const uint8_t *body;
	size_t body_len;
};

/* (tx) Stores an encoded batch of exemplars and keeps only the newest keep batches. OODA_EUNSUPPORTED on SQLite. */
int store_exemplars_put(struct store *s, int64_t now_ns, const void *body, size_t len, int64_t keep);
/* The batches with id > after_id, oldest first, at most limit; fn gets a const struct exemplar_batch_row *. */
int store_exemplars_list(struct store *s, int64_t after_id, size_t limit, store_row_fn fn, void *ctx);

/* A metric family's metadata as remote-write sent it. */
struct metric_meta_row {
	const char *name, *type, *help, *unit;
	int64_t seq;           /* ascending in commit order; a change gets a new one */
};
/* (tx) Records a family's metadata (a change only moves seq). OODA_EUNSUPPORTED on SQLite. */
int store_metadata_put(struct store *s, const char *name, const char *type, const char *help, const char *unit);
/* The families changed after seq, oldest change first, at most limit; fn gets a const struct metric_meta_row *. */
int store_metadata_list(struct store *s, int64_t after_seq, size_t limit, store_row_fn fn, void *ctx);

/* ---- the live feed's events, shared between nodes (web/stream.h) ------------ */

/* An event of the live feed as the node that published it stored it. */
struct stream_event_row {
	int64_t id;            /* ascending in commit order */
	const char *node_id;
	int64_t created_ns;
	const char *type;      /* the SSE event name: "alert", "incident", "run", "summary" */
	const char *body;      /* one line of JSON */
};

/*
 * (tx) Stores an event node published and deletes the events created
 * before keep_after_ns. OODA_EUNSUPPORTED on SQLite (one node: nobody to
 * share with).
 */
int store_stream_put(struct store *s, const char *node, int64_t now_ns, const char *type, const char *body,
		     int64_t keep_after_ns);
/*
 * The events with id > after_id that other nodes than node stored, oldest
 * first, at most limit (> 0); fn gets a const struct stream_event_row *
 * valid for the call. OODA_EUNSUPPORTED on SQLite.
 */
int store_stream_list(struct store *s, const char *node, int64_t after_id, size_t limit, store_row_fn fn, void *ctx);
/* The newest event's id (0: none), where a node starting to follow begins. OODA_EUNSUPPORTED on SQLite. */
int store_stream_head(struct store *s, int64_t *id);

/*
 * ---- fresh telemetry, announced between nodes -------------------------------
 * A node that made a batch of shared telemetry durable tells the others, so
 * the leader's rules read it at once rather than at their next scheduled
 * evaluation (api/cluster.h, cluster_fresh_note). On PostgreSQL a NOTIFY on
 * a channel of its own, outside any transaction, carrying the node's id.
 */

/* Announces fresh telemetry from node `from` (at most 63 bytes). OODA_EUNSUPPORTED on SQLite (one node). */
int store_fresh_announce(struct store *s, const char *from);
/*
 * Waits up to timeout_ms for an announcement from another node than self:
 * 0 when at least one arrived since the last call (all waiting ones are
 * taken), OODA_ETIMEOUT when none did, OODA_EUNAVAIL when PostgreSQL cannot
 * be reached (announcements made meanwhile are lost: the caller treats that
 * as one), OODA_EUNSUPPORTED on SQLite. The first call starts listening.
 * One caller at a time.
 */
int store_fresh_wait(struct store *s, const char *self, int64_t timeout_ms);

/* ---- audit signing keys of the nodes (audit.h, audit_keys_load) ---------- */

/* A node's published checkpoint signing key. */
struct audit_key_row {
	uint8_t pubkey[32];
	const char *node_id;  /* the node that published it first */
	int64_t published_ns;
};

/* (tx) Publishes pk as node's signing key; a key published before keeps its first row. */
int store_audit_key_put(struct store *s, const uint8_t pk[32], const char *node, int64_t now_ns);
/* Every published key, oldest first; fn gets a const struct audit_key_row *. */
int store_audit_key_list(struct store *s, store_row_fn fn, void *ctx);

/* ---- copying a whole control store (store_copy.c; `ooda migrate`) -------- */

/* Tables store_copy moves: at most this many. */
#define STORE_COPY_MAX_TABLES 16

/* How many tables store_copy moves, and the name of the i-th (NULL past the end). */
size_t store_copy_tables(void);
const char *store_copy_table_name(size_t i);

/*
 * Rows of each table store_copy moves, in store_copy_table_name's order,
 * into rows[0..store_copy_tables()). Returns 0, or an error with detail
 * naming the table.
 */
int store_copy_count(struct store *s, int64_t rows[STORE_COPY_MAX_TABLES], struct buf *err);

/* Called after each batch written (and once for an empty table with 0): rows of table copied so far. */
typedef void (*store_copy_progress_fn)(void *ctx, const char *table, int64_t rows);

struct store_copy_options {
	size_t batch_rows;       /* rows per transaction on dst; 0: 1,000 */
	size_t batch_bytes;      /* and bytes of text and blobs; 0: 4 MiB */
	store_copy_progress_fn progress; /* may be NULL */
	void *ctx;
};

/*
 * Copies every row of every table store_copy_tables() names from src into
 * dst, table by table in the order the rows were written, each column's
 * value as stored (the audit chain's hashes and signatures byte for byte),
 * in transactions of at most opt's batch on dst; src is only read. dst
 * should be empty (store_copy_count): a row that is there already fails
 * with OODA_ECONFLICT. On a failure the batches already committed stay in
 * dst and err names the table and row; the caller empties dst to retry.
 * dst must be opened with STORE_NO_WRITER_THREAD or a writer (store_write).
 */
int store_copy(struct store *src, struct store *dst, const struct store_copy_options *opt, struct buf *err);

/* A delta of one node's live signals (model/live.h, live_delta_take), as stored. */
struct live_delta_row {
	int64_t id;            /* ascending in commit order */
	const char *node_id;
	int64_t written_ns;
	const uint8_t *body;
	size_t body_len;
};

/* (tx) Appends node's delta body (len bytes). OODA_EUNSUPPORTED on SQLite. */
int store_live_put(struct store *s, const char *node, int64_t written_ns, const void *body, size_t len);
/*
 * The deltas with id > after_id, oldest first, at most limit (> 0): those of
 * every node but node, and node's own written before own_before_ns (0: none
 * of its own). fn gets a const struct live_delta_row * valid for the call.
 * OODA_EUNSUPPORTED on SQLite.
 */
int store_live_list(struct store *s, const char *node, int64_t after_id, int64_t own_before_ns, size_t limit,
		    store_row_fn fn, void *ctx);
/* (tx) Deletes the deltas written before before_ns. OODA_EUNSUPPORTED on SQLite. */
int store_live_prune(struct store *s, int64_t before_ns);

/*
 * Log lines shared for every node's pattern miners (detect/logclass.h): one
 * row per ingest request that carried logs, the body as logclass encodes it.
 * Ids ascend in commit order (given out under the write lock).
 */
struct pattern_lines_row {
	int64_t id;
	int64_t written_ns;
	const uint8_t *body;
	size_t body_len;
};

/* (tx) Appends one row of len bytes. OODA_EUNSUPPORTED on SQLite. */
int store_pattern_lines_put(struct store *s, int64_t written_ns, const void *body, size_t len);
/*
 * The rows with id > after_id, oldest first, at most limit (> 0); fn gets a
 * const struct pattern_lines_row * valid for the call. OODA_EUNSUPPORTED on
 * SQLite.
 */
int store_pattern_lines_list(struct store *s, int64_t after_id, size_t limit, store_row_fn fn, void *ctx);
/*
 * (tx) Deletes the rows with id <= upto_id written before before_ns, but
 * never the newest row (a reader behind it sees that rows are missing).
 * OODA_EUNSUPPORTED on SQLite.
 */
int store_pattern_lines_prune(struct store *s, int64_t upto_id, int64_t before_ns);
/* (tx) Records that the saved pattern snapshots include every row up to id. OODA_EUNSUPPORTED on SQLite. */
int store_pattern_mark_put(struct store *s, int64_t id);
/* The id store_pattern_mark_put recorded last, 0 when none. OODA_EUNSUPPORTED on SQLite. */
int store_pattern_mark_get(struct store *s, int64_t *id);

#endif
