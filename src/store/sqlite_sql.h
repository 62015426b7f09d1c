/*
 * Every SQL statement of the control store's SQLite backend, as named
 * constants, and the numbered schema migrations. Only store/ includes this.
 */
#ifndef OODA_SQLITE_SQL_H
#define OODA_SQLITE_SQL_H

/* Migration N brings user_version from N-1 to N. Append only; never edit. */
static const char *const sql_migrations[] = {
	/* 1: tokens, audit chain, checkpoints, versioned documents */
	"CREATE TABLE tokens("
	"  id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL,"
	"  env TEXT NOT NULL DEFAULT '', hash BLOB NOT NULL UNIQUE,"
	"  created_ns INTEGER NOT NULL, created_by TEXT NOT NULL,"
	"  revoked_ns INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE audit("
	"  seq INTEGER PRIMARY KEY, time_ns INTEGER NOT NULL, actor TEXT NOT NULL,"
	"  action TEXT NOT NULL, target TEXT NOT NULL, before_digest TEXT NOT NULL,"
	"  after_digest TEXT NOT NULL, rationale TEXT NOT NULL, detail TEXT,"
	"  prev_hash BLOB NOT NULL, hash BLOB NOT NULL);"
	"CREATE INDEX audit_time ON audit(time_ns);"
	"CREATE INDEX audit_actor ON audit(actor, seq);"
	"CREATE INDEX audit_target ON audit(target, seq);"
	"CREATE TABLE audit_checkpoints("
	"  seq INTEGER PRIMARY KEY, time_ns INTEGER NOT NULL, hash BLOB NOT NULL,"
	"  signature BLOB NOT NULL, pubkey BLOB NOT NULL);"
	"CREATE TABLE docs("
	"  kind TEXT NOT NULL, key TEXT NOT NULL, version INTEGER NOT NULL,"
	"  time_ns INTEGER NOT NULL, author TEXT NOT NULL, rationale TEXT NOT NULL,"
	"  body TEXT NOT NULL, deleted INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY(kind, key, version)) WITHOUT ROWID;",
	/* 2: log pattern miners per service (derived state, not audited; see docs/decisions.md) */
	"CREATE TABLE pattern_snapshots("
	"  service TEXT PRIMARY KEY, saved_ns INTEGER NOT NULL, lines INTEGER NOT NULL,"
	"  snapshot BLOB NOT NULL, severities BLOB NOT NULL);",
	/* 3: the audit hash formula per record; rows written before are version 1 (see audit.c) */
	"ALTER TABLE audit ADD COLUMN hash_version INTEGER NOT NULL DEFAULT 1;",
	/* 4: a queryable status per document version (rollback runs: "running", "done", "failed") */
	"ALTER TABLE docs ADD COLUMN status TEXT NOT NULL DEFAULT '';"
	"UPDATE docs SET status = coalesce(json_extract(body, '$.status'), '')"
	"  WHERE kind = 'rollback-run' AND json_valid(body);"
	"CREATE INDEX docs_status ON docs(kind, status) WHERE status <> '';",
	/* 5: the notification outbox (respond/notify.h): one row per message to one target */
	"CREATE TABLE notifications("
	"  id TEXT PRIMARY KEY, dedupe_key TEXT NOT NULL UNIQUE, target TEXT NOT NULL,"
	"  kind TEXT NOT NULL, event TEXT NOT NULL, payload TEXT NOT NULL,"
	"  incident TEXT NOT NULL DEFAULT '', alert TEXT NOT NULL DEFAULT '',"
	"  status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
	"  next_attempt_ns INTEGER NOT NULL, last_error TEXT NOT NULL DEFAULT '',"
	"  created_ns INTEGER NOT NULL, delivered_ns INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX notifications_due ON notifications(status, next_attempt_ns);"
	"CREATE INDEX notifications_incident ON notifications(incident, created_ns) WHERE incident <> '';"
	"CREATE INDEX notifications_alert ON notifications(alert, created_ns) WHERE alert <> '';",
	/* 6: incidents, their append-only timelines and artifacts (history: never pruned) */
	"CREATE TABLE incidents("
	"  number INTEGER PRIMARY KEY, status TEXT NOT NULL, service TEXT NOT NULL,"
	"  severity TEXT NOT NULL, updated_ns INTEGER NOT NULL, body TEXT NOT NULL);"
	"CREATE TABLE incident_timeline("
	"  number INTEGER NOT NULL, seq INTEGER NOT NULL, at_ns INTEGER NOT NULL, kind TEXT NOT NULL,"
	"  actor TEXT NOT NULL, text TEXT NOT NULL, data TEXT NOT NULL,"
	"  PRIMARY KEY(number, seq)) WITHOUT ROWID;"
	"CREATE TABLE incident_artifacts("
	"  number INTEGER NOT NULL, id INTEGER NOT NULL, name TEXT NOT NULL, content_type TEXT NOT NULL,"
	"  size INTEGER NOT NULL, sha256 TEXT NOT NULL, uploaded_by TEXT NOT NULL, at_ns INTEGER NOT NULL,"
	"  bytes BLOB NOT NULL, PRIMARY KEY(number, id));",
	/*
	 * 7: progressive rollouts (change/rollout.h), the document plus what the
	 * worker queries — status, and when the current step is due.
	 */
	"CREATE TABLE rollouts("
	"  id TEXT PRIMARY KEY, status TEXT NOT NULL, env TEXT NOT NULL,"
	"  due_ns INTEGER NOT NULL, updated_ns INTEGER NOT NULL, body TEXT NOT NULL);"
	"CREATE INDEX rollouts_status ON rollouts(status, due_ns);",
	/*
	 * 8: several nodes (api/cluster.h): the leader's lease and the nodes'
	 * heartbeats. Used on PostgreSQL only; a SQLite data dir has one node,
	 * always the leader, but keeps the numbering in step.
	 */
	"CREATE TABLE leader_lease(id INTEGER PRIMARY KEY, node_id TEXT NOT NULL, term INTEGER NOT NULL,"
	"  expires_ns INTEGER NOT NULL);"
	"CREATE TABLE cluster_nodes(node_id TEXT PRIMARY KEY, address TEXT NOT NULL, version TEXT NOT NULL,"
	"  role TEXT NOT NULL, term INTEGER NOT NULL, started_ns INTEGER NOT NULL, seen_ns INTEGER NOT NULL);",
	/*
	 * 9: live signals merged across nodes (model/live.h): each node's
	 * deltas of RED and edge counters, read by the others in id order and
	 * pruned by age. Used on PostgreSQL only, like 8.
	 */
	"CREATE TABLE live_deltas(id INTEGER PRIMARY KEY, node_id TEXT NOT NULL, written_ns INTEGER NOT NULL,"
	"  body BLOB NOT NULL);"
	"CREATE INDEX live_deltas_written ON live_deltas(written_ns);",
	/*
	 * 10: generations of what nodes cache (store_gen_*): one row per kind,
	 * bumped in the transaction of each change. Used on PostgreSQL only,
	 * like 8 (one node keeps the count in memory).
	 */
	"CREATE TABLE cluster_gen(kind TEXT PRIMARY KEY, gen INTEGER NOT NULL);",
	/*
	 * 11: one ooda configured and verified as a cluster: each node's audit
	 * signing key, published so that any node verifies checkpoints another
	 * signed (audit.h, audit_keys_load); the cluster's configuration reload
	 * generation and, per node, the generation and file it runs (api/cluster.h).
	 * The last two are used on PostgreSQL only, like 8.
	 */
	"CREATE TABLE audit_keys(pubkey BLOB PRIMARY KEY, node_id TEXT NOT NULL, published_ns INTEGER NOT NULL);"
	"CREATE TABLE config_generation(id INTEGER PRIMARY KEY, generation INTEGER NOT NULL, node_id TEXT NOT NULL,"
	"  actor TEXT NOT NULL, at_ns INTEGER NOT NULL);"
	"ALTER TABLE cluster_nodes ADD COLUMN config_generation INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE cluster_nodes ADD COLUMN config_hash TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE cluster_nodes ADD COLUMN config_error TEXT NOT NULL DEFAULT '';"
	"CREATE TABLE shared_exemplars(id INTEGER PRIMARY KEY, written_ns INTEGER NOT NULL, body BLOB NOT NULL);"
	"CREATE TABLE metric_metadata(name TEXT PRIMARY KEY, type TEXT NOT NULL, help TEXT NOT NULL,"
	"  unit TEXT NOT NULL, seq INTEGER NOT NULL);",
	/* 12: the live feed's events shared between nodes (web/stream.h); used on PostgreSQL only, like 8 */
	"CREATE TABLE stream_events(id INTEGER PRIMARY KEY, node_id TEXT NOT NULL, created_ns INTEGER NOT NULL,"
	"  type TEXT NOT NULL, body TEXT NOT NULL);"
	"CREATE INDEX stream_events_created ON stream_events(created_ns);",
	/*
	 * 13: log lines shared for every node's pattern miners and the last one
	 * the saved snapshots include (detect/logclass.h); used on PostgreSQL
	 * only, like 8.
	 */
	"CREATE TABLE pattern_lines(id INTEGER PRIMARY KEY, written_ns INTEGER NOT NULL, body BLOB NOT NULL);"
	"CREATE TABLE pattern_lines_mark(id INTEGER PRIMARY KEY, applied INTEGER NOT NULL);",
};

enum sql_stmt {
	SQL_TOKEN_INSERT,
	SQL_TOKEN_REVOKE_FIND,
	SQL_TOKEN_REVOKE,
	SQL_TOKEN_LIST,
	SQL_AUDIT_LAST,
	SQL_AUDIT_INSERT,
	SQL_AUDIT_ITER_ASC,
	SQL_AUDIT_ITER_DESC,
	SQL_CHECKPOINT_INSERT,
	SQL_CHECKPOINT_LIST,
	SQL_CHECKPOINT_LAST,
	SQL_DOC_LATEST_VERSION,
	SQL_DOC_INSERT,
	SQL_DOC_GET_LATEST,
	SQL_DOC_GET_VERSION,
	SQL_DOC_LIST,
	SQL_DOC_HISTORY,
	SQL_DOC_LIST_STATUS,
	SQL_PATTERN_SNAPSHOT_PUT,
	SQL_PATTERN_SNAPSHOT_LIST,
	SQL_DOC_PRUNE,
	SQL_DOC_DROP,
	SQL_NOTIFY_INSERT,
	SQL_NOTIFY_DUE,
	SQL_NOTIFY_UPDATE,
	SQL_NOTIFY_LIST,
	SQL_NOTIFY_COUNTS,
	SQL_NOTIFY_PRUNE,
	SQL_INCIDENT_PUT,
	SQL_INCIDENT_GET,
	SQL_INCIDENT_LIST,
	SQL_INCIDENT_MAX,
	SQL_INCIDENT_ENTRY_NEXT,
	SQL_INCIDENT_ENTRY_INSERT,
	SQL_INCIDENT_ENTRY_LIST,
	SQL_INCIDENT_ARTIFACT_NEXT,
	SQL_INCIDENT_ARTIFACT_INSERT,
	SQL_INCIDENT_ARTIFACT_GET,
	SQL_ROLLOUT_PUT,
	SQL_ROLLOUT_GET,
	SQL_ROLLOUT_LIST,
	SQL_ROLLOUT_LIST_STATUS,
	SQL_INCIDENT_ARTIFACT_LIST,
	SQL_AUDIT_KEY_PUT,
	SQL_AUDIT_KEY_LIST,
	SQL_COUNT
};

/* The columns of a notification row, in the order of struct notify_row. */
#define NOTIFY_COLS                                                                                     \
	"id, dedupe_key, target, kind, event, payload, incident, alert, status, attempts, next_attempt_ns," \
	" last_error, created_ns, delivered_ns"

static const char *const sql_text[SQL_COUNT] = {
	[SQL_TOKEN_INSERT] =
		"INSERT INTO tokens(id, name, role, env, hash, created_ns, created_by)"
		" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[SQL_TOKEN_REVOKE_FIND] =
		"SELECT id, name, role, env, hash, created_ns, created_by, revoked_ns FROM tokens"
		" WHERE (id = ?1 OR name = ?1) AND revoked_ns = 0",
	[SQL_TOKEN_REVOKE] = "UPDATE tokens SET revoked_ns = ?2 WHERE id = ?1",
	[SQL_TOKEN_LIST] =
		"SELECT id, name, role, env, hash, created_ns, created_by, revoked_ns FROM tokens"
		" ORDER BY created_ns, id",
	[SQL_AUDIT_LAST] = "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
	[SQL_AUDIT_INSERT] =
		"INSERT INTO audit(seq, time_ns, actor, action, target, before_digest, after_digest,"
		" rationale, detail, prev_hash, hash, hash_version)"
		" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
	[SQL_AUDIT_ITER_ASC] =
		"SELECT seq, time_ns, actor, action, target, before_digest, after_digest, rationale,"
		" detail, prev_hash, hash, hash_version FROM audit"
		" WHERE (?1 IS NULL OR actor = ?1)"
		" AND (?2 IS NULL OR action = ?2 OR (substr(?2, -1) = '*' AND action GLOB ?2))"
		" AND (?3 IS NULL OR target = ?3) AND (?4 = 0 OR time_ns >= ?4) AND (?5 = 0 OR time_ns < ?5)"
		" AND seq > ?6 AND (?7 = 0 OR seq < ?7)"
		" ORDER BY seq LIMIT ?8",
	[SQL_AUDIT_ITER_DESC] =
		"SELECT seq, time_ns, actor, action, target, before_digest, after_digest, rationale,"
		" detail, prev_hash, hash, hash_version FROM audit"
		" WHERE (?1 IS NULL OR actor = ?1)"
		" AND (?2 IS NULL OR action = ?2 OR (substr(?2, -1) = '*' AND action GLOB ?2))"
		" AND (?3 IS NULL OR target = ?3) AND (?4 = 0 OR time_ns >= ?4) AND (?5 = 0 OR time_ns < ?5)"
		" AND seq > ?6 AND (?7 = 0 OR seq < ?7)"
		" ORDER BY seq DESC LIMIT ?8",
	[SQL_CHECKPOINT_INSERT] =
		"INSERT INTO audit_checkpoints(seq, time_ns, hash, signature, pubkey) VALUES(?1, ?2, ?3, ?4, ?5)",
	[SQL_CHECKPOINT_LIST] =
		"SELECT seq, time_ns, hash, signature, pubkey FROM audit_checkpoints ORDER BY seq",
	[SQL_CHECKPOINT_LAST] =
		"SELECT seq, time_ns, hash, signature, pubkey FROM audit_checkpoints ORDER BY seq DESC LIMIT 1",
	[SQL_DOC_LATEST_VERSION] = "SELECT MAX(version) FROM docs WHERE kind = ?1 AND key = ?2",
	[SQL_DOC_INSERT] =
		"INSERT INTO docs(kind, key, version, time_ns, author, rationale, body, deleted, status)"
		" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[SQL_DOC_GET_LATEST] =
		"SELECT kind, key, version, time_ns, author, rationale, body, deleted FROM docs"
		" WHERE kind = ?1 AND key = ?2 ORDER BY version DESC LIMIT 1",
	[SQL_DOC_GET_VERSION] =
		"SELECT kind, key, version, time_ns, author, rationale, body, deleted FROM docs"
		" WHERE kind = ?1 AND key = ?2 AND version = ?3",
	[SQL_DOC_LIST] =
		"SELECT d.kind, d.key, d.version, d.time_ns, d.author, d.rationale, d.body, d.deleted"
		" FROM docs d JOIN (SELECT key, MAX(version) AS v FROM docs WHERE kind = ?1"
		"   AND key >= ?2 AND key < ?2 || char(0x10FFFF) AND key > ?3 GROUP BY key) m"
		" ON d.key = m.key AND d.version = m.v WHERE d.kind = ?1 AND d.deleted = 0"
		" ORDER BY d.key LIMIT ?4",
	[SQL_DOC_HISTORY] =
		"SELECT kind, key, version, time_ns, author, rationale, body, deleted FROM docs"
		" WHERE kind = ?1 AND key = ?2 ORDER BY version",
	/* the latest version of each key of kind whose latest version has the status (docs_status) */
	[SQL_DOC_LIST_STATUS] =
		"SELECT d.kind, d.key, d.version, d.time_ns, d.author, d.rationale, d.body, d.deleted"
		" FROM docs d WHERE d.kind = ?1 AND d.status = ?2 AND d.status <> '' AND d.deleted = 0"
		" AND d.version = (SELECT MAX(m.version) FROM docs m WHERE m.kind = d.kind AND m.key = d.key)"
		" ORDER BY d.key",
	[SQL_PATTERN_SNAPSHOT_PUT] =
		"INSERT OR REPLACE INTO pattern_snapshots(service, saved_ns, lines, snapshot, severities)"
		" VALUES(?1, ?2, ?3, ?4, ?5)",
	[SQL_PATTERN_SNAPSHOT_LIST] =
		"SELECT service, saved_ns, lines, snapshot, severities FROM pattern_snapshots ORDER BY service",
	/*
	 * Up to ?4 versions of kind ?1 that are not their key's latest and are
	 * older than ?2 (time_ns) or more than ?3 versions behind the latest.
	 * The latest of a key is found through the primary key, so one batch
	 * reads the kind's rows once at most and stops at the limit. Versions
	 * only grow (doc_put takes MAX + 1, and the latest is never deleted), so
	 * "more than ?3 behind" is "not among the ?3 newest".
	 */
	[SQL_DOC_PRUNE] =
		"DELETE FROM docs WHERE (kind, key, version) IN ("
		" SELECT d.kind, d.key, d.version FROM docs d WHERE d.kind = ?1 AND d.version <"
		"  (SELECT MAX(l.version) FROM docs l WHERE l.kind = d.kind AND l.key = d.key)"
		" AND (d.time_ns < ?2 OR d.version <="
		"  (SELECT MAX(l.version) FROM docs l WHERE l.kind = d.kind AND l.key = d.key) - ?3)"
		" LIMIT ?4)",
	/* every version of one key: a document its stage lets go of (remedy run retention) */
	[SQL_DOC_DROP] = "DELETE FROM docs WHERE kind = ?1 AND key = ?2",
	[SQL_NOTIFY_INSERT] =
		"INSERT OR IGNORE INTO notifications(id, dedupe_key, target, kind, event, payload, incident, alert,"
		" status, attempts, next_attempt_ns, last_error, created_ns, delivered_ns)"
		" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending', 0, ?9, '', ?10, 0)",
	[SQL_NOTIFY_DUE] = "SELECT " NOTIFY_COLS " FROM notifications WHERE status = 'pending'"
			   " AND next_attempt_ns <= ?1 ORDER BY next_attempt_ns, created_ns LIMIT ?2",
	[SQL_NOTIFY_UPDATE] = "UPDATE notifications SET status = ?2, attempts = ?3, next_attempt_ns = ?4,"
			      " last_error = ?5, delivered_ns = ?6 WHERE id = ?1",
	/* ?1..?4: incident, alert, status, id ("" = any); newest first, at most ?5 */
	[SQL_NOTIFY_LIST] = "SELECT " NOTIFY_COLS " FROM notifications"
			    " WHERE (?1 = '' OR incident = ?1) AND (?2 = '' OR alert = ?2)"
			    " AND (?3 = '' OR status = ?3) AND (?4 = '' OR id = ?4)"
			    " ORDER BY created_ns DESC, rowid DESC LIMIT ?5",
	[SQL_NOTIFY_COUNTS] = "SELECT status, count(*), coalesce(sum(attempts), 0) FROM notifications GROUP BY status",
	/* finished rows (their last attempt is next_attempt_ns) before ?1, at most ?2, through notifications_due */
	[SQL_NOTIFY_PRUNE] = "DELETE FROM notifications WHERE rowid IN (SELECT rowid FROM notifications"
			     " WHERE status IN ('delivered', 'failed') AND next_attempt_ns < ?1 LIMIT ?2)",
	[SQL_INCIDENT_PUT] =
		"INSERT OR REPLACE INTO incidents(number, status, service, severity, updated_ns, body)"
		" VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
	[SQL_INCIDENT_GET] =
		"SELECT number, status, service, severity, updated_ns, body FROM incidents WHERE number = ?1",
	[SQL_INCIDENT_LIST] =
		"SELECT number, status, service, severity, updated_ns, body FROM incidents ORDER BY number DESC",
	[SQL_INCIDENT_MAX] = "SELECT coalesce(MAX(number), 0) FROM incidents",
	[SQL_INCIDENT_ENTRY_NEXT] = "SELECT coalesce(MAX(seq), 0) + 1 FROM incident_timeline WHERE number = ?1",
	[SQL_INCIDENT_ENTRY_INSERT] =
		"INSERT INTO incident_timeline(number, seq, at_ns, kind, actor, text, data)"
		" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[SQL_INCIDENT_ENTRY_LIST] =
		"SELECT number, seq, at_ns, kind, actor, text, data FROM incident_timeline"
		" WHERE number = ?1 ORDER BY seq",
	[SQL_INCIDENT_ARTIFACT_NEXT] = "SELECT coalesce(MAX(id), 0) + 1 FROM incident_artifacts WHERE number = ?1",
	[SQL_INCIDENT_ARTIFACT_INSERT] =
		"INSERT INTO incident_artifacts(number, id, name, content_type, size, sha256, uploaded_by, at_ns, bytes)"
		" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[SQL_INCIDENT_ARTIFACT_GET] =
		"SELECT number, id, name, content_type, size, sha256, uploaded_by, at_ns, bytes FROM incident_artifacts"
		" WHERE number = ?1 AND id = ?2",
	[SQL_INCIDENT_ARTIFACT_LIST] =
		"SELECT number, id, name, content_type, size, sha256, uploaded_by, at_ns, NULL FROM incident_artifacts"
		" WHERE number = ?1 ORDER BY id",
	[SQL_ROLLOUT_PUT] = "INSERT OR REPLACE INTO rollouts(id, status, env, due_ns, updated_ns, body)"
			    " VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
	[SQL_ROLLOUT_GET] = "SELECT id, status, env, due_ns, updated_ns, body FROM rollouts WHERE id = ?1",
	[SQL_ROLLOUT_LIST] = "SELECT id, status, env, due_ns, updated_ns, body FROM rollouts ORDER BY id DESC LIMIT ?1",
	/* through rollouts_status: the worker's query for work */
	[SQL_ROLLOUT_LIST_STATUS] = "SELECT id, status, env, due_ns, updated_ns, body FROM rollouts"
				    " WHERE status = ?2 ORDER BY id DESC LIMIT ?1",
	[SQL_AUDIT_KEY_PUT] = "INSERT OR IGNORE INTO audit_keys(pubkey, node_id, published_ns) VALUES(?1, ?2, ?3)",
	[SQL_AUDIT_KEY_LIST] = "SELECT pubkey, node_id, published_ns FROM audit_keys ORDER BY published_ns, pubkey",
};

#endif
