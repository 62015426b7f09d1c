/*
 * Every SQL statement of the control store's PostgreSQL backend, as named
 * constants, and its numbered schema migrations. Only store/ includes this.
 *
 * Each SQLite migration (sqlite_sql.h) has its PostgreSQL twin here with the
 * same number and the same tables, columns and meaning; the unit test
 * store_pg_schema checks that both lists have the same length. When a
 * migration N is added to sqlite_sql.h, add migration N here too. The
 * mapping: INTEGER -> BIGINT, BLOB -> BYTEA, keys that are ordered or
 * compared by range -> TEXT COLLATE "C" (byte order, as SQLite compares),
 * WITHOUT ROWID dropped, and where SQLite orders by its implicit rowid the
 * twin has an explicit BIGSERIAL column (notifications.ord).
 */
#ifndef OODA_PG_SQL_H
#define OODA_PG_SQL_H

/* Migration N brings ooda_schema.version from N-1 to N. Append only; never edit. */
static const char *const pg_migrations[] = {
	/* 1: tokens, audit chain, checkpoints, versioned documents */
	"CREATE TABLE tokens("
	"  id TEXT COLLATE \"C\" PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL,"
	"  env TEXT NOT NULL DEFAULT '', hash BYTEA NOT NULL UNIQUE,"
	"  created_ns BIGINT NOT NULL, created_by TEXT NOT NULL,"
	"  revoked_ns BIGINT NOT NULL DEFAULT 0);"
	"CREATE TABLE audit("
	"  seq BIGINT PRIMARY KEY, time_ns BIGINT NOT NULL, actor TEXT NOT NULL,"
	"  action TEXT NOT NULL, target TEXT NOT NULL, before_digest TEXT NOT NULL,"
	"  after_digest TEXT NOT NULL, rationale TEXT NOT NULL, detail TEXT,"
	"  prev_hash BYTEA NOT NULL, hash BYTEA NOT NULL);"
	"CREATE INDEX audit_time ON audit(time_ns);"
	"CREATE INDEX audit_actor ON audit(actor, seq);"
	"CREATE INDEX audit_target ON audit(target, seq);"
	"CREATE TABLE audit_checkpoints("
	"  seq BIGINT PRIMARY KEY, time_ns BIGINT NOT NULL, hash BYTEA NOT NULL,"
	"  signature BYTEA NOT NULL, pubkey BYTEA NOT NULL);"
	"CREATE TABLE docs("
	"  kind TEXT COLLATE \"C\" NOT NULL, key TEXT COLLATE \"C\" NOT NULL, version BIGINT NOT NULL,"
	"  time_ns BIGINT NOT NULL, author TEXT NOT NULL, rationale TEXT NOT NULL,"
	"  body TEXT NOT NULL, deleted INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY(kind, key, version));",
	/* 2: log pattern miners per service (derived state, not audited) */
	"CREATE TABLE pattern_snapshots("
	"  service TEXT COLLATE \"C\" PRIMARY KEY, saved_ns BIGINT NOT NULL, lines BIGINT NOT NULL,"
	"  snapshot BYTEA NOT NULL, severities BYTEA NOT NULL);",
	/* 3: the audit hash formula per record; rows written before are version 1 */
	"ALTER TABLE audit ADD COLUMN hash_version INTEGER NOT NULL DEFAULT 1;",
	/* 4: a queryable status per document version (a new PostgreSQL store has no rows to backfill) */
	"ALTER TABLE docs ADD COLUMN status TEXT NOT NULL DEFAULT '';"
	"CREATE INDEX docs_status ON docs(kind, status) WHERE status <> '';",
	/* 5: the notification outbox; ord stands for SQLite's rowid (insertion order) */
	"CREATE TABLE notifications("
	"  id TEXT PRIMARY KEY, dedupe_key TEXT NOT NULL UNIQUE, target TEXT NOT NULL,"
	"  kind TEXT NOT NULL, event TEXT NOT NULL, payload TEXT NOT NULL,"
	"  incident TEXT NOT NULL DEFAULT '', alert TEXT NOT NULL DEFAULT '',"
	"  status TEXT NOT NULL, attempts BIGINT NOT NULL DEFAULT 0,"
	"  next_attempt_ns BIGINT NOT NULL, last_error TEXT NOT NULL DEFAULT '',"
	"  created_ns BIGINT NOT NULL, delivered_ns BIGINT NOT NULL DEFAULT 0, ord BIGSERIAL);"
	"CREATE INDEX notifications_due ON notifications(status, next_attempt_ns);"
	"CREATE INDEX notifications_incident ON notifications(incident, created_ns) WHERE incident <> '';"
	"CREATE INDEX notifications_alert ON notifications(alert, created_ns) WHERE alert <> '';",
	/* 6: incidents, their append-only timelines and artifacts (history: never pruned) */
	"CREATE TABLE incidents("
	"  number BIGINT PRIMARY KEY, status TEXT NOT NULL, service TEXT NOT NULL,"
	"  severity TEXT NOT NULL, updated_ns BIGINT NOT NULL, body TEXT NOT NULL);"
	"CREATE TABLE incident_timeline("
	"  number BIGINT NOT NULL, seq BIGINT NOT NULL, at_ns BIGINT NOT NULL, kind TEXT NOT NULL,"
	"  actor TEXT NOT NULL, text TEXT NOT NULL, data TEXT NOT NULL,"
	"  PRIMARY KEY(number, seq));"
	"CREATE TABLE incident_artifacts("
	"  number BIGINT NOT NULL, id BIGINT NOT NULL, name TEXT NOT NULL, content_type TEXT NOT NULL,"
	"  size BIGINT NOT NULL, sha256 TEXT NOT NULL, uploaded_by TEXT NOT NULL, at_ns BIGINT NOT NULL,"
	"  bytes BYTEA NOT NULL, PRIMARY KEY(number, id));",
	/* 7: progressive rollouts (change/rollout.h): the document, its status and when its step is due */
	"CREATE TABLE rollouts("
	"  id TEXT PRIMARY KEY, status TEXT NOT NULL, env TEXT NOT NULL,"
	"  due_ns BIGINT NOT NULL, updated_ns BIGINT NOT NULL, body TEXT NOT NULL);"
	"CREATE INDEX rollouts_status ON rollouts(status, due_ns);",
	/* 8: several nodes (api/cluster.h): the leader's lease (one row, id 1) and the nodes' heartbeats */
	"CREATE TABLE leader_lease(id INTEGER PRIMARY KEY, node_id TEXT NOT NULL, term BIGINT NOT NULL,"
	"  expires_ns BIGINT NOT NULL);"
	"CREATE TABLE cluster_nodes(node_id TEXT PRIMARY KEY, address TEXT NOT NULL, version TEXT NOT NULL,"
	"  role TEXT NOT NULL, term BIGINT NOT NULL, started_ns BIGINT NOT NULL, seen_ns BIGINT NOT NULL);",
	/*
	 * 9: live signals merged across nodes: one row per node and round. Ids
	 * are given out under the write lock, so they commit in id order and a
	 * reader's "id > last seen" misses nothing.
	 */
	"CREATE TABLE live_deltas(id BIGSERIAL PRIMARY KEY, node_id TEXT NOT NULL, written_ns BIGINT NOT NULL,"
	"  body BYTEA NOT NULL);"
	"CREATE INDEX live_deltas_written ON live_deltas(written_ns);",
	/* 10: generations of what nodes cache (store_gen_*), one row per kind, bumped with each change */
	"CREATE TABLE cluster_gen(kind TEXT PRIMARY KEY, gen BIGINT NOT NULL);",
	/*
	 * 11: one ooda configured and verified as a cluster: each node's audit
	 * signing key (any node verifies the checkpoints another signed), the
	 * cluster's configuration reload generation (one row, id 1) and, per
	 * node, the generation and the file it runs.
	 */
	"CREATE TABLE audit_keys(pubkey BYTEA PRIMARY KEY, node_id TEXT NOT NULL, published_ns BIGINT NOT NULL);"
	"CREATE TABLE config_generation(id INTEGER PRIMARY KEY, generation BIGINT NOT NULL, node_id TEXT NOT NULL,"
	"  actor TEXT NOT NULL, at_ns BIGINT NOT NULL);"
	"ALTER TABLE cluster_nodes ADD COLUMN config_generation BIGINT NOT NULL DEFAULT 0;"
	"ALTER TABLE cluster_nodes ADD COLUMN config_hash TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE cluster_nodes ADD COLUMN config_error TEXT NOT NULL DEFAULT '';"
	/* what a node answers from memory but every node must answer alike: exemplars and remote-write metadata */
	"CREATE TABLE shared_exemplars(id BIGSERIAL PRIMARY KEY, written_ns BIGINT NOT NULL, body BYTEA NOT NULL);"
	"CREATE SEQUENCE metric_metadata_seq;"
	"CREATE TABLE metric_metadata(name TEXT PRIMARY KEY, type TEXT NOT NULL, help TEXT NOT NULL,"
	"  unit TEXT NOT NULL, seq BIGINT NOT NULL);"
	"CREATE INDEX metric_metadata_seq_idx ON metric_metadata(seq);",
	/*
	 * 12: the live feed's events (web/stream.h) as the node that stored each
	 * change published it, for the other nodes' feeds: kept ten minutes. Ids
	 * are given out under the write lock, so they commit in id order.
	 */
	"CREATE TABLE stream_events(id BIGSERIAL PRIMARY KEY, node_id TEXT NOT NULL, created_ns BIGINT NOT NULL,"
	"  type TEXT NOT NULL, body TEXT NOT NULL);"
	"CREATE INDEX stream_events_created ON stream_events(created_ns);",
	/*
	 * 13: log lines shared for every node's pattern miners (detect/logclass.h):
	 * one row per ingest request that carried logs, ids given out under the
	 * write lock (so "id > last applied" misses nothing), and the last row the
	 * saved pattern snapshots include (one row, id 1).
	 */
	"CREATE TABLE pattern_lines(id BIGSERIAL PRIMARY KEY, written_ns BIGINT NOT NULL, body BYTEA NOT NULL);"
	"CREATE TABLE pattern_lines_mark(id INTEGER PRIMARY KEY, applied BIGINT NOT NULL);",
};

/* Bookkeeping outside the numbered migrations: the schema version itself. */
#define PG_SQL_SCHEMA_TABLE "CREATE TABLE IF NOT EXISTS ooda_schema(version INTEGER NOT NULL)"
#define PG_SQL_SCHEMA_GET "SELECT version FROM ooda_schema"
/* Advisory lock keys (two int4 halves): 0x6f6f6461 is "ooda". */
#define PG_LOCK_MIGRATE "SELECT pg_advisory_lock(1869571169, 1)"
#define PG_UNLOCK_MIGRATE "SELECT pg_advisory_unlock(1869571169, 1)"
/*
 * The control store's write lock, held from BEGIN to COMMIT: writers on
 * every node take turns, as SQLite's BEGIN IMMEDIATE makes them, so the
 * audit chain's read of its head and the append after it are one step.
 */
#define PG_LOCK_WRITE "SELECT pg_advisory_xact_lock(1869571169, 2)"
/*
 * A session left idle inside a transaction this long is ended by the
 * server, and with it the write lock it holds: a node paused mid-write
 * (SIGSTOP, a VM freeze) would otherwise stop every node's writes, the
 * lease's renewal and takeover among them. Well under the lease (5 s,
 * api/cluster.h); the writer never waits between statements for long.
 */
#define PG_SET_IDLE_TX "SET idle_in_transaction_session_timeout = '2s'"
/* The channel every commit notifies (store_data_version, store_wait_change). */
#define PG_CHANNEL "ooda_change"
#define PG_LISTEN_CHANGE "LISTEN " PG_CHANNEL
/* The channel of fresh telemetry (store_fresh_announce): payload, the announcing node. */
#define PG_FRESH_CHANNEL "ooda_fresh"
#define PG_LISTEN_FRESH "LISTEN " PG_FRESH_CHANNEL

enum pg_stmt {
	PG_TOKEN_INSERT,
	PG_TOKEN_REVOKE_FIND,
	PG_TOKEN_REVOKE,
	PG_TOKEN_LIST,
	PG_AUDIT_LAST,
	PG_AUDIT_INSERT,
	PG_AUDIT_ITER_ASC,
	PG_AUDIT_ITER_DESC,
	PG_CHECKPOINT_INSERT,
	PG_CHECKPOINT_LIST,
	PG_CHECKPOINT_LAST,
	PG_DOC_LATEST_VERSION,
	PG_DOC_INSERT,
	PG_DOC_GET_LATEST,
	PG_DOC_GET_VERSION,
	PG_DOC_LIST,
	PG_DOC_HISTORY,
	PG_DOC_LIST_STATUS,
	PG_PATTERN_SNAPSHOT_PUT,
	PG_PATTERN_SNAPSHOT_LIST,
	PG_DOC_PRUNE,
	PG_DOC_DROP,
	PG_NOTIFY_INSERT,
	PG_NOTIFY_DUE,
	PG_NOTIFY_UPDATE,
	PG_NOTIFY_LIST,
	PG_NOTIFY_COUNTS,
	PG_NOTIFY_PRUNE,
	PG_INCIDENT_PUT,
	PG_INCIDENT_GET,
	PG_INCIDENT_LIST,
	PG_INCIDENT_MAX,
	PG_INCIDENT_ENTRY_NEXT,
	PG_INCIDENT_ENTRY_INSERT,
	PG_INCIDENT_ENTRY_LIST,
	PG_INCIDENT_ARTIFACT_NEXT,
	PG_INCIDENT_ARTIFACT_INSERT,
	PG_INCIDENT_ARTIFACT_GET,
	PG_INCIDENT_ARTIFACT_LIST,
	PG_ROLLOUT_PUT,
	PG_ROLLOUT_GET,
	PG_ROLLOUT_LIST,
	PG_ROLLOUT_LIST_STATUS,
	PG_LEASE_CLAIM,
	PG_LEASE_GET,
	PG_NODE_PUT,
	PG_NODE_LIST,
	PG_LIVE_PUT,
	PG_LIVE_LIST,
	PG_LIVE_PRUNE,
	PG_PATTERN_LINES_PUT,
	PG_PATTERN_LINES_LIST,
	PG_PATTERN_LINES_PRUNE,
	PG_PATTERN_MARK_PUT,
	PG_PATTERN_MARK_GET,
	PG_STATS,
	PG_GEN_BUMP,
	PG_GEN_READ,
	PG_AUDIT_KEY_PUT,
	PG_AUDIT_KEY_LIST,
	PG_CONFIG_GEN_BUMP,
	PG_CONFIG_GEN_GET,
	PG_EXEMPLARS_PUT,
	PG_EXEMPLARS_PRUNE,
	PG_EXEMPLARS_LIST,
	PG_METADATA_PUT,
	PG_METADATA_LIST,
	PG_STREAM_PUT,
	PG_STREAM_PRUNE,
	PG_STREAM_LIST,
	PG_STREAM_HEAD,
	PG_FRESH_ANNOUNCE,
	PG_COUNT
};

#define PG_NOTIFY_COLS                                                                                  \
	"id, dedupe_key, target, kind, event, payload, incident, alert, status, attempts, next_attempt_ns," \
	" last_error, created_ns, delivered_ns"
#define PG_AUDIT_COLS                                                                                   \
	"seq, time_ns, actor, action, target, before_digest, after_digest, rationale, detail, prev_hash,"  \
	" hash, hash_version"
#define PG_DOC_COLS "kind, key, version, time_ns, author, rationale, body, deleted"
/* $1..$3 actor, action (exact, or a prefix ending in '*'), target: NULL = any */
#define PG_AUDIT_WHERE                                                                                  \
	" WHERE ($1::text IS NULL OR actor = $1)"                                                          \
	" AND ($2::text IS NULL OR action = $2 OR (right($2, 1) = '*' AND starts_with(action, left($2, -1))))" \
	" AND ($3::text IS NULL OR target = $3) AND ($4::bigint = 0 OR time_ns >= $4) AND ($5::bigint = 0 OR time_ns < $5)" \
	" AND seq > $6::bigint AND ($7::bigint = 0 OR seq < $7)"

static const char *const pg_text[PG_COUNT] = {
	[PG_TOKEN_INSERT] =
		"INSERT INTO tokens(id, name, role, env, hash, created_ns, created_by)"
		" VALUES($1, $2, $3, $4, $5, $6, $7)",
	[PG_TOKEN_REVOKE_FIND] =
		"SELECT id, name, role, env, hash, created_ns, created_by, revoked_ns FROM tokens"
		" WHERE (id = $1 OR name = $1) AND revoked_ns = 0",
	[PG_TOKEN_REVOKE] = "UPDATE tokens SET revoked_ns = $2 WHERE id = $1",
	[PG_TOKEN_LIST] =
		"SELECT id, name, role, env, hash, created_ns, created_by, revoked_ns FROM tokens"
		" ORDER BY created_ns, id",
	[PG_AUDIT_LAST] = "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
	[PG_AUDIT_INSERT] =
		"INSERT INTO audit(" PG_AUDIT_COLS ") VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
	[PG_AUDIT_ITER_ASC] = "SELECT " PG_AUDIT_COLS " FROM audit" PG_AUDIT_WHERE " ORDER BY seq LIMIT $8",
	[PG_AUDIT_ITER_DESC] = "SELECT " PG_AUDIT_COLS " FROM audit" PG_AUDIT_WHERE " ORDER BY seq DESC LIMIT $8",
	[PG_CHECKPOINT_INSERT] =
		"INSERT INTO audit_checkpoints(seq, time_ns, hash, signature, pubkey) VALUES($1, $2, $3, $4, $5)",
	[PG_CHECKPOINT_LIST] = "SELECT seq, time_ns, hash, signature, pubkey FROM audit_checkpoints ORDER BY seq",
	[PG_CHECKPOINT_LAST] =
		"SELECT seq, time_ns, hash, signature, pubkey FROM audit_checkpoints ORDER BY seq DESC LIMIT 1",
	[PG_DOC_LATEST_VERSION] = "SELECT coalesce(MAX(version), 0) FROM docs WHERE kind = $1 AND key = $2",
	[PG_DOC_INSERT] =
		"INSERT INTO docs(kind, key, version, time_ns, author, rationale, body, deleted, status)"
		" VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9)",
	[PG_DOC_GET_LATEST] = "SELECT " PG_DOC_COLS " FROM docs WHERE kind = $1 AND key = $2"
			      " ORDER BY version DESC LIMIT 1",
	[PG_DOC_GET_VERSION] = "SELECT " PG_DOC_COLS " FROM docs WHERE kind = $1 AND key = $2 AND version = $3",
	[PG_DOC_LIST] =
		"SELECT d.kind, d.key, d.version, d.time_ns, d.author, d.rationale, d.body, d.deleted"
		" FROM docs d JOIN (SELECT key, MAX(version) AS v FROM docs WHERE kind = $1"
		"   AND starts_with(key, $2) AND key > $3 GROUP BY key) m"
		" ON d.key = m.key AND d.version = m.v WHERE d.kind = $1 AND d.deleted = 0"
		" ORDER BY d.key LIMIT $4",
	[PG_DOC_HISTORY] = "SELECT " PG_DOC_COLS " FROM docs WHERE kind = $1 AND key = $2 ORDER BY version",
	[PG_DOC_LIST_STATUS] =
		"SELECT d.kind, d.key, d.version, d.time_ns, d.author, d.rationale, d.body, d.deleted"
		" FROM docs d WHERE d.kind = $1 AND d.status = $2 AND d.status <> '' AND d.deleted = 0"
		" AND d.version = (SELECT MAX(m.version) FROM docs m WHERE m.kind = d.kind AND m.key = d.key)"
		" ORDER BY d.key",
	[PG_PATTERN_SNAPSHOT_PUT] =
		"INSERT INTO pattern_snapshots(service, saved_ns, lines, snapshot, severities)"
		" VALUES($1, $2, $3, $4, $5) ON CONFLICT (service) DO UPDATE SET saved_ns = excluded.saved_ns,"
		" lines = excluded.lines, snapshot = excluded.snapshot, severities = excluded.severities",
	[PG_PATTERN_SNAPSHOT_LIST] =
		"SELECT service, saved_ns, lines, snapshot, severities FROM pattern_snapshots ORDER BY service",
	/* as SQL_DOC_PRUNE in sqlite_sql.h */
	[PG_DOC_PRUNE] =
		"DELETE FROM docs WHERE (kind, key, version) IN ("
		" SELECT d.kind, d.key, d.version FROM docs d WHERE d.kind = $1 AND d.version <"
		"  (SELECT MAX(l.version) FROM docs l WHERE l.kind = d.kind AND l.key = d.key)"
		" AND (d.time_ns < $2 OR d.version <="
		"  (SELECT MAX(l.version) FROM docs l WHERE l.kind = d.kind AND l.key = d.key) - $3::bigint)"
		" LIMIT $4)",
	[PG_DOC_DROP] = "DELETE FROM docs WHERE kind = $1 AND key = $2",
	[PG_NOTIFY_INSERT] =
		"INSERT INTO notifications(id, dedupe_key, target, kind, event, payload, incident, alert,"
		" status, attempts, next_attempt_ns, last_error, created_ns, delivered_ns)"
		" VALUES($1, $2, $3, $4, $5, $6, $7, $8, 'pending', 0, $9, '', $10, 0) ON CONFLICT DO NOTHING",
	[PG_NOTIFY_DUE] = "SELECT " PG_NOTIFY_COLS " FROM notifications WHERE status = 'pending'"
			  " AND next_attempt_ns <= $1 ORDER BY next_attempt_ns, created_ns LIMIT $2",
	[PG_NOTIFY_UPDATE] = "UPDATE notifications SET status = $2, attempts = $3, next_attempt_ns = $4,"
			     " last_error = $5, delivered_ns = $6 WHERE id = $1",
	[PG_NOTIFY_LIST] = "SELECT " PG_NOTIFY_COLS " FROM notifications"
			   " WHERE ($1 = '' OR incident = $1) AND ($2 = '' OR alert = $2)"
			   " AND ($3 = '' OR status = $3) AND ($4 = '' OR id = $4)"
			   " ORDER BY created_ns DESC, ord DESC LIMIT $5",
	[PG_NOTIFY_COUNTS] = "SELECT status, count(*), coalesce(sum(attempts), 0) FROM notifications GROUP BY status",
	[PG_NOTIFY_PRUNE] = "DELETE FROM notifications WHERE id IN (SELECT id FROM notifications"
			    " WHERE status IN ('delivered', 'failed') AND next_attempt_ns < $1 LIMIT $2)",
	[PG_INCIDENT_PUT] =
		"INSERT INTO incidents(number, status, service, severity, updated_ns, body)"
		" VALUES($1, $2, $3, $4, $5, $6) ON CONFLICT (number) DO UPDATE SET status = excluded.status,"
		" service = excluded.service, severity = excluded.severity, updated_ns = excluded.updated_ns,"
		" body = excluded.body",
	[PG_INCIDENT_GET] =
		"SELECT number, status, service, severity, updated_ns, body FROM incidents WHERE number = $1",
	[PG_INCIDENT_LIST] =
		"SELECT number, status, service, severity, updated_ns, body FROM incidents ORDER BY number DESC",
	[PG_INCIDENT_MAX] = "SELECT coalesce(MAX(number), 0) FROM incidents",
	[PG_INCIDENT_ENTRY_NEXT] = "SELECT coalesce(MAX(seq), 0) + 1 FROM incident_timeline WHERE number = $1",
	[PG_INCIDENT_ENTRY_INSERT] =
		"INSERT INTO incident_timeline(number, seq, at_ns, kind, actor, text, data)"
		" VALUES($1, $2, $3, $4, $5, $6, $7)",
	[PG_INCIDENT_ENTRY_LIST] = "SELECT number, seq, at_ns, kind, actor, text, data FROM incident_timeline"
				   " WHERE number = $1 ORDER BY seq",
	[PG_INCIDENT_ARTIFACT_NEXT] = "SELECT coalesce(MAX(id), 0) + 1 FROM incident_artifacts WHERE number = $1",
	[PG_INCIDENT_ARTIFACT_INSERT] =
		"INSERT INTO incident_artifacts(number, id, name, content_type, size, sha256, uploaded_by, at_ns, bytes)"
		" VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9)",
	[PG_INCIDENT_ARTIFACT_GET] =
		"SELECT number, id, name, content_type, size, sha256, uploaded_by, at_ns, bytes FROM incident_artifacts"
		" WHERE number = $1 AND id = $2",
	[PG_INCIDENT_ARTIFACT_LIST] =
		"SELECT number, id, name, content_type, size, sha256, uploaded_by, at_ns, NULL FROM incident_artifacts"
		" WHERE number = $1 ORDER BY id",
	[PG_ROLLOUT_PUT] = "INSERT INTO rollouts(id, status, env, due_ns, updated_ns, body) VALUES($1, $2, $3, $4, $5, $6)"
			   " ON CONFLICT (id) DO UPDATE SET status = excluded.status, env = excluded.env,"
			   " due_ns = excluded.due_ns, updated_ns = excluded.updated_ns, body = excluded.body",
	[PG_ROLLOUT_GET] = "SELECT id, status, env, due_ns, updated_ns, body FROM rollouts WHERE id = $1",
	[PG_ROLLOUT_LIST] = "SELECT id, status, env, due_ns, updated_ns, body FROM rollouts ORDER BY id DESC LIMIT $1",
	/* through rollouts_status: the worker's query for work */
	[PG_ROLLOUT_LIST_STATUS] = "SELECT id, status, env, due_ns, updated_ns, body FROM rollouts"
				   " WHERE status = $2 ORDER BY id DESC LIMIT $1",
	/*
	 * The lease (store_lease_claim): $1 node, $2 the term it holds (0: none),
	 * $3 now, $4 the lease's length. The holder renews its term; the same
	 * node without that term (restarted) and anyone once the lease expired
	 * take it with the term bumped; otherwise no row comes back.
	 */
	[PG_LEASE_CLAIM] =
		"INSERT INTO leader_lease(id, node_id, term, expires_ns) VALUES(1, $1, 1, $3::bigint + $4::bigint)"
		" ON CONFLICT (id) DO UPDATE SET node_id = excluded.node_id,"
		" term = CASE WHEN leader_lease.node_id = $1 AND leader_lease.term = $2::bigint"
		"   THEN leader_lease.term ELSE leader_lease.term + 1 END,"
		" expires_ns = excluded.expires_ns"
		" WHERE leader_lease.node_id = $1 OR leader_lease.expires_ns < $3::bigint"
		" RETURNING node_id, term, expires_ns",
	[PG_LEASE_GET] = "SELECT node_id, term, expires_ns FROM leader_lease WHERE id = 1",
	[PG_NODE_PUT] =
		"INSERT INTO cluster_nodes(node_id, address, version, role, term, started_ns, seen_ns,"
		" config_generation, config_hash, config_error)"
		" VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (node_id) DO UPDATE SET"
		" address = excluded.address, version = excluded.version, role = excluded.role, term = excluded.term,"
		" started_ns = excluded.started_ns, seen_ns = excluded.seen_ns,"
		" config_generation = excluded.config_generation, config_hash = excluded.config_hash,"
		" config_error = excluded.config_error",
	[PG_NODE_LIST] = "SELECT node_id, address, version, role, term, started_ns, seen_ns,"
			 " config_generation, config_hash, config_error FROM cluster_nodes ORDER BY node_id",
	[PG_LIVE_PUT] = "INSERT INTO live_deltas(node_id, written_ns, body) VALUES($1, $2, $3)",
	/* $1 the reading node, $2 the last id it read, $3 its own rows written before this are read too, $4 limit */
	[PG_LIVE_LIST] = "SELECT id, node_id, written_ns, body FROM live_deltas"
			 " WHERE id > $2 AND (node_id <> $1 OR written_ns < $3) ORDER BY id LIMIT $4",
	[PG_LIVE_PRUNE] = "DELETE FROM live_deltas WHERE written_ns < $1",
	[PG_PATTERN_LINES_PUT] = "INSERT INTO pattern_lines(written_ns, body) VALUES($1, $2)",
	[PG_PATTERN_LINES_LIST] = "SELECT id, written_ns, body FROM pattern_lines WHERE id > $1 ORDER BY id LIMIT $2",
	/*
	 * only rows the saved snapshots include ($1, the mark) and older than
	 * $2, never the newest: a node that read none of them sees the gap
	 */
	[PG_PATTERN_LINES_PRUNE] = "DELETE FROM pattern_lines WHERE id <= $1 AND written_ns < $2"
				   " AND id < (SELECT max(id) FROM pattern_lines)",
	[PG_PATTERN_MARK_PUT] = "INSERT INTO pattern_lines_mark(id, applied) VALUES(1, $1)"
				" ON CONFLICT(id) DO UPDATE SET applied = excluded.applied",
	[PG_PATTERN_MARK_GET] = "SELECT applied FROM pattern_lines_mark WHERE id = 1",
	[PG_GEN_BUMP] = "INSERT INTO cluster_gen(kind, gen) VALUES($1, 1)"
			" ON CONFLICT(kind) DO UPDATE SET gen = cluster_gen.gen + 1",
	[PG_GEN_READ] = "SELECT kind, gen FROM cluster_gen",
	[PG_STATS] = "SELECT pg_database_size(current_database()), (SELECT coalesce(MAX(seq), 0) FROM audit)",
	[PG_AUDIT_KEY_PUT] = "INSERT INTO audit_keys(pubkey, node_id, published_ns) VALUES($1, $2, $3)"
			     " ON CONFLICT (pubkey) DO NOTHING",
	[PG_AUDIT_KEY_LIST] = "SELECT pubkey, node_id, published_ns FROM audit_keys ORDER BY published_ns, pubkey",
	/* the next generation, under the write lock: two reloads never share one */
	[PG_CONFIG_GEN_BUMP] =
		"INSERT INTO config_generation(id, generation, node_id, actor, at_ns) VALUES(1, 1, $1, $2, $3)"
		" ON CONFLICT (id) DO UPDATE SET generation = config_generation.generation + 1,"
		" node_id = excluded.node_id, actor = excluded.actor, at_ns = excluded.at_ns RETURNING generation",
	[PG_CONFIG_GEN_GET] = "SELECT generation, node_id, actor, at_ns FROM config_generation WHERE id = 1",
	[PG_EXEMPLARS_PUT] = "INSERT INTO shared_exemplars(written_ns, body) VALUES($1, $2)",
	/* the newest $1 batches stay (each node's ring holds the newest entries anyway) */
	[PG_EXEMPLARS_PRUNE] = "DELETE FROM shared_exemplars WHERE id <= (SELECT max(id) FROM shared_exemplars) - $1",
	[PG_EXEMPLARS_LIST] = "SELECT id, written_ns, body FROM shared_exemplars WHERE id > $1 ORDER BY id LIMIT $2",
	/* a family resent unchanged keeps its seq, so readers do not read it again */
	[PG_METADATA_PUT] =
		"INSERT INTO metric_metadata(name, type, help, unit, seq) VALUES($1, $2, $3, $4, nextval('metric_metadata_seq'))"
		" ON CONFLICT (name) DO UPDATE SET type = excluded.type, help = excluded.help, unit = excluded.unit,"
		" seq = excluded.seq WHERE (metric_metadata.type, metric_metadata.help, metric_metadata.unit)"
		" IS DISTINCT FROM (excluded.type, excluded.help, excluded.unit)",
	[PG_METADATA_LIST] = "SELECT name, type, help, unit, seq FROM metric_metadata WHERE seq > $1 ORDER BY seq LIMIT $2",
	[PG_STREAM_PUT] = "INSERT INTO stream_events(node_id, created_ns, type, body) VALUES($1, $2, $3, $4)",
	[PG_STREAM_PRUNE] = "DELETE FROM stream_events WHERE created_ns < $1",
	/* $1 the reading node (its own events are left out), $2 the last id it read, $3 limit */
	[PG_STREAM_LIST] = "SELECT id, node_id, created_ns, type, body FROM stream_events"
			   " WHERE id > $2 AND node_id <> $1 ORDER BY id LIMIT $3",
	[PG_STREAM_HEAD] = "SELECT COALESCE(max(id), 0) FROM stream_events",
	[PG_FRESH_ANNOUNCE] = "SELECT pg_notify('" PG_FRESH_CHANNEL "', $1)",
};

#endif
