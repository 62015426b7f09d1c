/*
 * The SQLite backend of the control store: one writer connection used only
 * inside transactions the store opened, one reader connection shared under a
 * mutex, statements prepared once per connection, and numbered migrations
 * tracked in PRAGMA user_version.
 */
#include "store/store_backend.h"
#include "store/sqlite_copy.h"
#include "store/sqlite_sql.h"
#include "core/error.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIGRATIONS ((int)(sizeof(sql_migrations) / sizeof(sql_migrations[0])))

struct conn {
	sqlite3 *db;
	sqlite3_stmt *stmt[SQL_COUNT];
};

struct sqlite_store {
	struct conn w, r;
	pthread_mutex_t rmu;
	char *path;
	bool readonly;
	sqlite3_stmt *copy_ins;             /* table_insert's statement, for copy_table */
	const struct store_table *copy_table;
};

/* Set between begin() and commit()/rollback() on the writer's thread: reads
 * made inside a write then see the transaction's own changes. */
static _Thread_local bool in_tx;

static sqlite3_stmt *stmt(struct conn *c, enum sql_stmt id)
{
	if (!c->stmt[id]) {
		if (sqlite3_prepare_v3(c->db, sql_text[id], -1, SQLITE_PREPARE_PERSISTENT,
				       &c->stmt[id], NULL) != SQLITE_OK)
			return NULL;
	} else {
		sqlite3_reset(c->stmt[id]);
		sqlite3_clear_bindings(c->stmt[id]);
	}
	return c->stmt[id];
}

static void conn_close(struct conn *c)
{
	for (int i = 0; i < SQL_COUNT; i++)
		sqlite3_finalize(c->stmt[i]);
	sqlite3_close(c->db);
	memset(c, 0, sizeof(*c));
}

/* SQLITE_FULL, or a write that failed with ENOSPC/EDQUOT underneath. */
static bool sq_disk_full(void *impl)
{
	sqlite3 *db = ((struct sqlite_store *)impl)->w.db;
	int code = sqlite3_extended_errcode(db) & 0xff;
	int sys = sqlite3_system_errno(db);
	return code == SQLITE_FULL || (code == SQLITE_IOERR && (sys == ENOSPC || sys == EDQUOT));
}

static int exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : OODA_EIO;
}

static int conn_open(struct conn *c, const char *path, int flags, struct buf *err)
{
	memset(c, 0, sizeof(*c));
	int rc = sqlite3_open_v2(path, &c->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		buf_addf(err, "cannot open %s: %s", path, c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
		sqlite3_close(c->db);
		c->db = NULL;
		return OODA_EIO;
	}
	sqlite3_busy_timeout(c->db, 10000);
	return 0;
}

static int migrate(struct sqlite_store *s, struct buf *err)
{
	sqlite3_stmt *st;
	int have = 0;
	if (sqlite3_prepare_v2(s->w.db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			have = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	if (have > MIGRATIONS) {
		buf_addf(err, "%s has schema version %d, newer than this ooda supports (%d); "
			      "run the ooda version that wrote it, or restore a backup",
			 s->path, have, MIGRATIONS);
		return OODA_ESCHEMA;
	}
	if (have == MIGRATIONS)
		return 0;
	if (s->readonly) {
		buf_addf(err, "%s needs migration to schema %d but was opened read-only", s->path, MIGRATIONS);
		return OODA_ESCHEMA;
	}
	for (int v = have; v < MIGRATIONS; v++) {
		char pragma[64];
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", v + 1);
		if (exec(s->w.db, "BEGIN IMMEDIATE") || exec(s->w.db, sql_migrations[v]) ||
		    exec(s->w.db, pragma) || exec(s->w.db, "COMMIT")) {
			buf_addf(err, "migration %d failed: %s", v + 1, sqlite3_errmsg(s->w.db));
			exec(s->w.db, "ROLLBACK");
			return OODA_EIO;
		}
	}
	return 0;
}

static void sq_close(void *impl)
{
	struct sqlite_store *s = impl;
	if (!s)
		return;
	conn_close(&s->r);
	sqlite3_finalize(s->copy_ins);
	if (s->w.db && !s->readonly)
		sqlite3_wal_checkpoint_v2(s->w.db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	conn_close(&s->w);
	pthread_mutex_destroy(&s->rmu);
	free(s->path);
	free(s);
}

static int sq_open(const struct store_location *loc, bool readonly, void **impl, struct buf *err)
{
	const char *dir = loc->dir;
	if (!readonly && mkdir(dir, 0700) && errno != EEXIST) {
		buf_addf(err, "cannot create data dir %s: %s", dir, strerror(errno));
		return OODA_EIO;
	}
	struct stat st;
	if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
		buf_addf(err, "data dir %s does not exist or is not a directory", dir);
		return OODA_EIO;
	}
	if (!readonly && access(dir, W_OK)) {
		buf_addf(err, "data dir %s is not writable: %s", dir, strerror(errno));
		return OODA_EIO;
	}
	struct sqlite_store *s = xcalloc(1, sizeof(*s));
	pthread_mutex_init(&s->rmu, NULL);
	s->readonly = readonly;
	size_t n = strlen(dir) + 32;
	s->path = xmalloc(n);
	snprintf(s->path, n, "%s/control.db", dir);
	if (readonly && access(s->path, R_OK)) {
		buf_addf(err, "no control database at %s", s->path);
		sq_close(s);
		return OODA_ENOTFOUND;
	}
	int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	int rc = conn_open(&s->w, s->path, flags, err);
	if (!rc && !readonly &&
	    (exec(s->w.db, "PRAGMA journal_mode = WAL") || exec(s->w.db, "PRAGMA synchronous = FULL"))) {
		buf_addf(err, "cannot set up %s: %s", s->path, sqlite3_errmsg(s->w.db));
		rc = OODA_EIO;
	}
	if (!rc)
		rc = migrate(s, err);
	if (!rc)
		rc = conn_open(&s->r, s->path, SQLITE_OPEN_READONLY, err);
	if (rc) {
		sq_close(s);
		return rc;
	}
	*impl = s;
	return 0;
}

static int sq_begin(void *impl)
{
	struct sqlite_store *s = impl;
	if (exec(s->w.db, "BEGIN IMMEDIATE"))
		return OODA_EIO;
	in_tx = true;
	return 0;
}

static int sq_commit(void *impl)
{
	struct sqlite_store *s = impl;
	int rc = exec(s->w.db, "COMMIT");
	if (!rc)
		in_tx = false;
	return rc;
}

static int sq_rollback(void *impl)
{
	struct sqlite_store *s = impl;
	in_tx = false;
	return exec(s->w.db, "ROLLBACK");
}

static int sq_savepoint(void *impl)
{
	return exec(((struct sqlite_store *)impl)->w.db, "SAVEPOINT job");
}

static int sq_savepoint_release(void *impl)
{
	return exec(((struct sqlite_store *)impl)->w.db, "RELEASE job");
}

static int sq_savepoint_rollback(void *impl)
{
	struct sqlite_store *s = impl;
	return exec(s->w.db, "ROLLBACK TO job") || exec(s->w.db, "RELEASE job") ? OODA_EIO : 0;
}

/* Reader connection, unless this thread is inside a write. */
static struct conn *rconn(struct sqlite_store *s)
{
	if (in_tx)
		return &s->w;
	pthread_mutex_lock(&s->rmu);
	return &s->r;
}

static void rdone(struct sqlite_store *s, struct conn *c)
{
	if (c == &s->r)
		pthread_mutex_unlock(&s->rmu);
}

static int sq_data_version(void *impl, int64_t *v)
{
	struct sqlite_store *s = impl;
	struct conn *c = rconn(s);
	sqlite3_stmt *st;
	int rc = OODA_EIO;
	if (sqlite3_prepare_v2(c->db, "PRAGMA data_version", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW) {
			*v = sqlite3_column_int64(st, 0);
			rc = 0;
		}
		sqlite3_finalize(st);
	}
	rdone(s, c);
	return rc;
}

static int sq_backup(void *impl, const char *path, struct buf *err)
{
	struct sqlite_store *s = impl;
	struct conn *c = rconn(s);
	int rc = sqlite_copy_to(c->db, path, 256, err);
	rdone(s, c);
	return rc;
}

static int sq_stats(void *impl, int64_t *bytes, int64_t *audit_rows)
{
	struct sqlite_store *s = impl;
	struct stat st;
	*bytes = 0;
	if (!stat(s->path, &st))
		*bytes += st.st_size;
	char wal[4096];
	snprintf(wal, sizeof(wal), "%s-wal", s->path);
	if (!stat(wal, &st))
		*bytes += st.st_size;
	struct conn *c = rconn(s);
	sqlite3_stmt *q;
	*audit_rows = 0;
	if (sqlite3_prepare_v2(c->db, "SELECT COALESCE(MAX(seq), 0) FROM audit", -1, &q, NULL) == SQLITE_OK) {
		if (sqlite3_step(q) == SQLITE_ROW)
			*audit_rows = sqlite3_column_int64(q, 0);
		sqlite3_finalize(q);
	}
	rdone(s, c);
	return 0;
}

static void copy_text(char *dst, size_t size, sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	snprintf(dst, size, "%s", t ? (const char *)t : "");
}

static void read_token(sqlite3_stmt *st, struct token_row *t)
{
	memset(t, 0, sizeof(*t));
	copy_text(t->id, sizeof(t->id), st, 0);
	copy_text(t->name, sizeof(t->name), st, 1);
	copy_text(t->role, sizeof(t->role), st, 2);
	copy_text(t->env, sizeof(t->env), st, 3);
	if (sqlite3_column_bytes(st, 4) == 32)
		memcpy(t->hash, sqlite3_column_blob(st, 4), 32);
	t->created_ns = sqlite3_column_int64(st, 5);
	copy_text(t->created_by, sizeof(t->created_by), st, 6);
	t->revoked_ns = sqlite3_column_int64(st, 7);
}

static int sq_token_insert(void *impl, const struct token_row *t)
{
	struct sqlite_store *s = impl;
	sqlite3_stmt *st = stmt(&s->w, SQL_TOKEN_INSERT);
	if (!st)
		return OODA_EIO;
	sqlite3_bind_text(st, 1, t->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, t->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, t->role, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, t->env, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 5, t->hash, 32, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, t->created_ns);
	sqlite3_bind_text(st, 7, t->created_by, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_CONSTRAINT)
		return OODA_ECONFLICT;
	return rc == SQLITE_DONE ? 0 : OODA_EIO;
}

static int sq_token_revoke(void *impl, const char *id_or_name, int64_t now, struct token_row *out)
{
	struct sqlite_store *s = impl;
	sqlite3_stmt *st = stmt(&s->w, SQL_TOKEN_REVOKE_FIND);
	if (!st)
		return OODA_EIO;
	sqlite3_bind_text(st, 1, id_or_name, -1, SQLITE_STATIC);
	int found = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		read_token(st, out);
		found++;
	}
	sqlite3_reset(st);
	if (found == 0)
		return OODA_ENOTFOUND;
	if (found > 1)
		return OODA_ECONFLICT; /* a name shared by several active tokens: use the id */
	st = stmt(&s->w, SQL_TOKEN_REVOKE);
	sqlite3_bind_text(st, 1, out->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	out->revoked_ns = now;
	return rc == SQLITE_DONE ? 0 : OODA_EIO;
}

static int sq_token_list(void *impl, store_row_fn fn, void *ctx)
{
	struct sqlite_store *s = impl;
	struct conn *c = rconn(s);
	sqlite3_stmt *st = stmt(c, SQL_TOKEN_LIST);
	int rc = st ? 0 : OODA_EIO;
	while (!rc && sqlite3_step(st) == SQLITE_ROW) {
		struct token_row t;
		read_token(st, &t);
		rc = fn(ctx, &t);
	}
	if (st)
		sqlite3_reset(st);
	rdone(s, c);
	return rc > 0 ? 0 : rc;
}

static int sq_audit_last(void *impl, int64_t *seq, uint8_t hash[32])
{
	struct sqlite_store *s = impl;
	sqlite3_stmt *st = stmt(&s->w, SQL_AUDIT_LAST);
	if (!st)
		return OODA_EIO;
	*seq = 0;
	memset(hash, 0, 32);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*seq = sqlite3_column_int64(st, 0);
		if (sqlite3_column_bytes(st, 1) == 32)
			memcpy(hash, sqlite3_column_blob(st, 1), 32);
	}
	sqlite3_reset(st);
	return 0;
}

static int sq_audit_insert(void *impl, const struct audit_row *a)
{
	struct sqlite_store *s = impl;
	sqlite3_stmt *st = stmt(&s->w, SQL_AUDIT_INSERT);
	if (!st)
		return OODA_EIO;
	sqlite3_bind_int64(st, 1, a->seq);
	sqlite3_bind_int64(st, 2, a->time_ns);
	sqlite3_bind_text(st, 3, a->actor, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, a->action, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, a->target, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, a->before_digest, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, a->after_digest, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, a->rationale, -1, SQLITE_STATIC);
	if (a->detail)
		sqlite3_bind_text(st, 9, a->detail, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 10, a->prev_hash, 32, SQLITE_STATIC);
	sqlite3_bind_blob(st, 11, a->hash, 32, SQLITE_STATIC);
	sqlite3_bind_int(st, 12, a->hash_version);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : OODA_EIO;
}

static const char *col_text(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	return t ? (const char *)t : "";
}

static int sq_audit_iter(void *impl, const struct audit_filter *f, store_row_fn fn, void *ctx)
{
	struct sqlite_store *s = impl;
	struct conn *c = rconn(s);
	sqlite3_stmt *st = stmt(c, f->descending ? SQL_AUDIT_ITER_DESC : SQL_AUDIT_ITER_ASC);
	int rc = st ? 0 : OODA_EIO;
	if (st) {
		if (f->actor)
			sqlite3_bind_text(st, 1, f->actor, -1, SQLITE_STATIC);
		if (f->action)
			sqlite3_bind_text(st, 2, f->action, -1, SQLITE_STATIC);
		if (f->target)
			sqlite3_bind_text(st, 3, f->target, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, f->from_ns);
		sqlite3_bind_int64(st, 5, f->to_ns);
		sqlite3_bind_int64(st, 6, f->after_seq);
		sqlite3_bind_int64(st, 7, f->before_seq);
		sqlite3_bind_int64(st, 8, f->limit ? (int64_t)f->limit : -1);
	}
	while (!rc) {
		int step = sqlite3_step(st);
		if (step == SQLITE_DONE)
			break;
		if (step != SQLITE_ROW) {
			rc = OODA_EIO;
			break;
		}
		struct audit_row a = {
			.seq = sqlite3_column_int64(st, 0),
			.time_ns = sqlite3_column_int64(st, 1),
			.actor = col_text(st, 2),
			.action = col_text(st, 3),
			.target = col_text(st, 4),
			.before_digest = col_text(st, 5),
			.after_digest = col_text(st, 6),
			.rationale = col_text(st, 7),
			.detail = sqlite3_column_type(st, 8) == SQLITE_NULL ? NULL : col_text(st, 8),
		};
		/* a hash column of the wrong size is itself tampering: leave zeros */
		if (sqlite3_column_bytes(st, 9) == 32)
			memcpy(a.prev_hash, sqlite3_column_blob(st, 9), 32);
		if (sqlite3_column_bytes(st, 10) == 32)
			memcpy(a.hash, sqlite3_column_blob(st, 10), 32);
		a.hash_version = sqlite3_column_int(st, 11);
		rc = fn(ctx, &a);
	}
	if (st)
		sqlite3_reset(st);
	rdone(s, c);
	return rc > 0 ? 0 : rc;
}

static int sq_checkpoint_insert(void *impl, const struct checkpoint_row *cp)
{
	struct sqlite_store *s = impl;
	sqlite3_stmt *st = stmt(&s->w, SQL_CHECKPOINT_INSERT);
	if (!st)
		return OODA_EIO;
	sqlite3_bind_int64(st, 1, cp->seq);
	sqlite3_bind_int64(st, 2, cp->time_ns);
	sqlite3_bind_blob(st, 3, cp->hash, 32, SQLITE_STATIC);
	sqlite3_bind_blob(st, 4, cp->signature, 64, SQLITE_STATIC);
	sqlite3_bind_blob(st, 5, cp->pubkey, 32, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : OODA_EIO;
}

static void read_checkpoint(sqlite3_stmt *st, struct checkpoint_row *cp)
{
	memset(cp, 0, sizeof(*cp));
	cp->seq = sqlite3_column_int64(st, 0);
	cp->time_ns = sqlite3_column_int64(st, 1);
	if (sqlite3_column_bytes(st, 2) == 32)
		memcpy(cp->hash, sqlite3_column_blob(st, 2), 32);
	if (sqlite3_column_bytes(st, 3) == 64)
		memcpy(cp->signature, sqlite3_column_blob(st, 3), 64);
	if (sqlite3_column_bytes(st, 4) == 32)
		memcpy(cp->pubkey, sqlite3_column_blob(st, 4), 32);
}

static int sq_checkpoint_iter(void *impl, store_row_fn fn, void *ctx)
{
	struct sqlite_store *s = impl;
	struct conn *c = rconn(s);
	sqlite3_stmt *st = stmt(c, SQL_CHECKPOINT_LIST);
	int rc = st ? 0 : OODA_EIO;
	while (!rc && sqlite3_step(st) == SQLITE_ROW) {
		struct checkpoint_row cp;
		read_checkpoint(st, &cp);
		rc = fn(ctx, &cp);
	}
	if (st)
		sqlite3_reset(st);
	rdone(s, c);
	return rc > 0 ? 0 : rc;
}

static int sq_audit_key_put(void *impl, const uint8_t pk[32], const char *node, int64_t now_ns)
{
	struct sqlite_store *s = impl;
	sqlite3_stmt *st = stmt(&s->w, SQL_AUDIT_KEY_PUT);
	if (!st)
		return OODA_EIO;
	sqlite3_bind_blob(st, 1, pk, 32, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, node, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now_ns);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : OODA_EIO;
}

static int sq_audit_key_list(void *impl, store_row_fn fn, void *ctx)
{
	struct sqlite_store *s = impl;
	struct conn *c = rconn(s);
	sqlite3_stmt *st = stmt(c, SQL_AUDIT_KEY_LIST);
	int rc = st ? 0 : OODA_EIO;
	while (!rc && sqlite3_step(st) == SQLITE_ROW) {
		struct audit_key_row k = { .node_id = (const char *)sqlite3_column_text(st, 1),
					   .published_ns = sqlite3_column_int64(st, 2) };
		if (sqlite3_column_bytes(st, 0) == 32)
			memcpy(k.pubkey, sqlite3_column_blob(st, 0), 32);
		if (!k.node_id)
			k.node_id = "";
		rc = fn(ctx, &k);
	}
	if (st)
		sqlite3_reset(st);
	rdone(s, c);
	return rc > 0 ? 0 : rc;
}

static int sq_checkpoint_last(void *impl, struct checkpoint_row *out)
{
	struct sqlite_store *s = impl;
	struct conn *c = rconn(s);
	sqlite3_stmt *st = stmt(c, SQL_CHECKPOINT_LAST);
	int rc = OODA_EIO;
	if (st) {
		int step = sqlite3_step(st);
		if (step == SQLITE_ROW) {
			read_checkpoint(st, out);
			rc = 0;
		} else if (step == SQLITE_DONE) {
			rc = OODA_ENOTFOUND;
		}
		sqlite3_reset(st);
	}
	rdone(s, c);
	return rc;
}

static int sq_doc_put(void *impl, struct doc_row *d, int64_t expect_version)
{
	struct sqlite_store *s = impl;
	sqlite3_stmt *st = stmt(&s->w, SQL_DOC_LATEST_VERSION);
	if (!st)
		return OODA_EIO;
	sqlite3_bind_text(st, 1, d->kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, d->key, -1, SQLITE_STATIC);
	int64_t latest = 0;
	if (sqlite3_step(st) == SQLITE_ROW)
		latest = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (expect_version >= 0 && expect_version != latest)
		return OODA_EPRECOND;
	d->version = latest + 1;
	st = stmt(&s->w, SQL_DOC_INSERT);
	sqlite3_bind_text(st, 1, d->kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, d->key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, d->version);
	sqlite3_bind_int64(st, 4, d->time_ns);
	sqlite3_bind_text(st, 5, d->author, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, d->rationale ? d->rationale : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, d->body, (int)d->body_len, SQLITE_STATIC);
	sqlite3_bind_int(st, 8, d->deleted);
	sqlite3_bind_text(st, 9, d->status ? d->status : "", -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : OODA_EIO;
}

static int doc_rows(sqlite3_stmt *st, store_row_fn fn, void *ctx, int *count)
{
	int rc = 0;
	while (!rc) {
		int step = sqlite3_step(st);
		if (step == SQLITE_DONE)
			break;
		if (step != SQLITE_ROW)
			return OODA_EIO;
		struct doc_row d = {
			.kind = col_text(st, 0),
			.key = col_text(st, 1),
			.version = sqlite3_column_int64(st, 2),
			.time_ns = sqlite3_column_int64(st, 3),
			.author = col_text(st, 4),
			.rationale = col_text(st, 5),
			.body = col_text(st, 6),
			.body_len = (size_t)sqlite3_column_bytes(st, 6),
			.deleted = sqlite3_column_int(st, 7) != 0,
		};
		(*count)++;
		rc = fn(ctx, &d);
	}
	return rc > 0 ? 0 : rc;
}

static int sq_doc_get(void *impl, const char *kind, const char *key, int64_t version,
		      store_row_fn fn, void *ctx)
{
	struct sqlite_store *s = impl;
	struct conn *c = rconn(s);
	sqlite3_stmt *st = stmt(c, version ? SQL_DOC_GET_VERSION : SQL_DOC_GET_LATEST);
	int rc = OODA_EIO, n = 0;
	if (st) {
		sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
		if (version)
			sqlite3_bind_int64(st, 3, version);
		rc = doc_rows(st, fn, ctx, &n);
		sqlite3_reset(st);
		if (!rc && n == 0)
			rc = OODA_ENOTFOUND;
	}
	rdone(s, c);
	return rc;
}

static int sq_doc_list(void *impl, const char *kind, const char *prefix, const char *after,
		       size_t limit, store_row_fn fn, void *ctx)
{
	struct sqlite_store *s = impl;
	struct conn *c = rconn(s);
	sqlite3_stmt *st = stmt(c, SQL_DOC_LIST);
	int rc = OODA_EIO, n = 0;
	if (st) {
		sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, prefix ? prefix : "", -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, after ? after : "", -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, limit ? (int64_t)limit : -1);
		rc = doc_rows(st, fn, ctx, &n);
		sqlite3_reset(st);
	}
	rdone(s, c);
	return rc;
}

static int sq_doc_list_status(void *impl, const char *kind, const char *status, store_row_fn fn, void *ctx)
{
	struct sqlite_store *s = impl;
	struct conn *c = rconn(s);
	sqlite3_stmt *st = stmt(c, SQL_DOC_LIST_STATUS);
	int rc = OODA_EIO, n = 0;
	if (st) {
		sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
		rc = doc_rows(st, fn, ctx, &n);
		sqlite3_reset(st);
	}
	rdone(s, c);
	return rc;
}

static int sq_doc_history(void *impl, const char *kind, const char *key, store_row_fn fn, void *ctx)
{
	struct sqlite_store *s = impl;
	struct conn *c = rconn(s);
	sqlite3_stmt *st = stmt(c, SQL_DOC_HISTORY);
	int rc = OODA_EIO, n = 0;
	if (st) {
		sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
		rc = doc_rows(st, fn, ctx, &n);
		sqlite3_reset(st);
		if (!rc && n == 0)
			rc = OODA_ENOTFOUND;
	}
	rdone(s, c);
	return rc;
}

static int sq_doc_prune(void *impl, const char *kind, int64_t before_ns, int64_t keep_versions, size_t limit,
			size_t *deleted)
{
	struct sqlite_store *s = impl;
	*deleted = 0;
	sqlite3_stmt *st = stmt(&s->w, SQL_DOC_PRUNE);
	if (!st)
		return OODA_EIO;
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, before_ns);
	sqlite3_bind_int64(st, 3, keep_versions);
	sqlite3_bind_int64(st, 4, (int64_t)limit);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return OODA_EIO;
	*deleted = (size_t)sqlite3_changes(s->w.db);
	return 0;
}

static int sq_doc_drop(void *impl, const char *kind, const char *key, size_t *deleted)
{
	struct sqlite_store *s = impl;
	*deleted = 0;
	sqlite3_stmt *st = stmt(&s->w, SQL_DOC_DROP);
	if (!st)
		return OODA_EIO;
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return OODA_EIO;
	*deleted = (size_t)sqlite3_changes(s->w.db);
	return 0;
}

static int sq_pattern_snapshot_put(void *impl, const struct pattern_snapshot_row *r)
{
	struct sqlite_store *s = impl;
	sqlite3_stmt *st = stmt(&s->w, SQL_PATTERN_SNAPSHOT_PUT);
	if (!st)
		return OODA_EIO;
	sqlite3_bind_text(st, 1, r->service, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, r->saved_ns);
	sqlite3_bind_int64(st, 3, (int64_t)r->lines);
	sqlite3_bind_blob64(st, 4, r->snapshot, r->snapshot_len, SQLITE_STATIC);
	sqlite3_bind_blob64(st, 5, r->severities ? r->severities : "", r->severities_len, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : OODA_EIO;
}

static int sq_pattern_snapshot_iter(void *impl, store_row_fn fn, void *ctx)
{
	struct sqlite_store *s = impl;
	struct conn *c = rconn(s);
	sqlite3_stmt *st = stmt(c, SQL_PATTERN_SNAPSHOT_LIST);
	int rc = st ? 0 : OODA_EIO;
	while (!rc) {
		int step = sqlite3_step(st);
		if (step == SQLITE_DONE)
			break;
		if (step != SQLITE_ROW) {
			rc = OODA_EIO;
			break;
		}
		/* a blob's pointer before its size, as SQLite asks */
		struct pattern_snapshot_row r = { .service = col_text(st, 0),
						  .saved_ns = sqlite3_column_int64(st, 1),
						  .lines = (uint64_t)sqlite3_column_int64(st, 2) };
		r.snapshot = sqlite3_column_blob(st, 3);
		r.snapshot_len = (size_t)sqlite3_column_bytes(st, 3);
		r.severities = sqlite3_column_blob(st, 4);
		r.severities_len = (size_t)sqlite3_column_bytes(st, 4);
		rc = fn(ctx, &r);
	}
	if (st)
		sqlite3_reset(st);
	rdone(s, c);
	return rc > 0 ? 0 : rc;
}

/* ---- statements as data: typed parameters, rows through a mapper ----------- */

/*
 * A statement's parameters as a list (SQ_INT, SQ_TEXT, SQ_BLOB), bound in
 * order from 1; text and blobs are bound SQLITE_STATIC, so they must outlive
 * the step. Rows come back through a mapper that builds the row struct of
 * one table and hands it to the caller's store_row_fn.
 */
enum sq_type { SQ_I64, SQ_TXT, SQ_BLB };

struct sq_param {
	enum sq_type type;
	int64_t i;
	const void *p; /* text (NUL-ended) or blob */
	size_t len;    /* blob length */
};

#define SQ_INT(v) { .type = SQ_I64, .i = (v) }
#define SQ_TEXT(v) { .type = SQ_TXT, .p = (v) }
#define SQ_BLOB(v, n) { .type = SQ_BLB, .p = (v), .len = (n) }
#define SQ_PARAMS(...) (const struct sq_param[]){ __VA_ARGS__ }, \
	(int)(sizeof((const struct sq_param[]){ __VA_ARGS__ }) / sizeof(struct sq_param))

/* Builds the row at st's cursor and returns fn's answer for it. */
typedef int (*sq_row_map)(sqlite3_stmt *st, store_row_fn fn, void *ctx);

static void sq_bind(sqlite3_stmt *st, const struct sq_param *p, int n)
{
	for (int i = 0; i < n; i++) {
		if (p[i].type == SQ_I64)
			sqlite3_bind_int64(st, i + 1, p[i].i);
		else if (p[i].type == SQ_TXT)
			sqlite3_bind_text(st, i + 1, p[i].p, -1, SQLITE_STATIC);
		else
			sqlite3_bind_blob64(st, i + 1, p[i].p, p[i].len, SQLITE_STATIC);
	}
}

/* Steps st (bound) to its end, each row through map; *any set on a row. Resets st. */
static int sq_rows(sqlite3_stmt *st, sq_row_map map, store_row_fn fn, void *ctx, bool *any)
{
	int rc = 0;
	while (!rc) {
		int step = sqlite3_step(st);
		if (step == SQLITE_DONE)
			break;
		if (step != SQLITE_ROW) {
			rc = OODA_EIO;
			break;
		}
		*any = true;
		rc = map(st, fn, ctx);
	}
	sqlite3_reset(st);
	return rc > 0 ? 0 : rc;
}

/*
 * A read: statement id with params on the reader (the writer inside a
 * transaction), every row through map. *any (may be NULL) tells whether a
 * row came. 0, OODA_EIO, or fn's negative answer.
 */
static int sq_query(struct sqlite_store *s, enum sql_stmt id, const struct sq_param *p, int n, sq_row_map map,
		    store_row_fn fn, void *ctx, bool *any)
{
	struct conn *c = rconn(s);
	sqlite3_stmt *st = stmt(c, id);
	bool got = false;
	int rc = OODA_EIO;
	if (st) {
		sq_bind(st, p, n);
		rc = sq_rows(st, map, fn, ctx, &got);
	}
	rdone(s, c);
	if (any)
		*any = got;
	return rc;
}

static int step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : OODA_EIO;
}

/* A write on the writer connection (inside the store's transaction): 0 or OODA_EIO. */
static int sq_exec(struct sqlite_store *s, enum sql_stmt id, const struct sq_param *p, int n)
{
	sqlite3_stmt *st = stmt(&s->w, id);
	if (!st)
		return OODA_EIO;
	sq_bind(st, p, n);
	return step_done(st);
}

/* One integer from st (bound) on c. */
static int one_int(sqlite3_stmt *st, int64_t *out)
{
	int rc = sqlite3_step(st) == SQLITE_ROW ? 0 : OODA_EIO;
	if (!rc)
		*out = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc;
}

/* One integer from statement id with params, on the writer connection. */
static int sq_exec_int(struct sqlite_store *s, enum sql_stmt id, const struct sq_param *p, int n, int64_t *out)
{
	sqlite3_stmt *st = stmt(&s->w, id);
	if (!st)
		return OODA_EIO;
	sq_bind(st, p, n);
	return one_int(st, out);
}

/* ---- incidents ------------------------------------------------------------ */

static int sq_incident_put(void *impl, const struct incident_row *r)
{
	return sq_exec(impl, SQL_INCIDENT_PUT,
		       SQ_PARAMS(SQ_INT(r->number), SQ_TEXT(r->status), SQ_TEXT(r->service ? r->service : ""),
				 SQ_TEXT(r->severity), SQ_INT(r->updated_ns), SQ_TEXT(r->body)));
}

static int incident_map(sqlite3_stmt *st, store_row_fn fn, void *ctx)
{
	struct incident_row r = { .number = sqlite3_column_int64(st, 0), .status = col_text(st, 1),
				  .service = col_text(st, 2), .severity = col_text(st, 3),
				  .updated_ns = sqlite3_column_int64(st, 4), .body = col_text(st, 5) };
	return fn(ctx, &r);
}

static int sq_incident_get(void *impl, int64_t number, store_row_fn fn, void *ctx)
{
	bool any;
	int rc = sq_query(impl, SQL_INCIDENT_GET, SQ_PARAMS(SQ_INT(number)), incident_map, fn, ctx, &any);
	return !rc && !any ? OODA_ENOTFOUND : rc;
}

static int sq_incident_iter(void *impl, store_row_fn fn, void *ctx)
{
	return sq_query(impl, SQL_INCIDENT_LIST, NULL, 0, incident_map, fn, ctx, NULL);
}

static int sq_incident_max(void *impl, int64_t *number)
{
	struct sqlite_store *s = impl;
	struct conn *c = rconn(s);
	sqlite3_stmt *st = stmt(c, SQL_INCIDENT_MAX);
	int rc = st ? one_int(st, number) : OODA_EIO;
	rdone(s, c);
	return rc;
}

static int sq_incident_entry_append(void *impl, struct incident_entry_row *e)
{
	if (sq_exec_int(impl, SQL_INCIDENT_ENTRY_NEXT, SQ_PARAMS(SQ_INT(e->number)), &e->seq))
		return OODA_EIO;
	return sq_exec(impl, SQL_INCIDENT_ENTRY_INSERT,
		       SQ_PARAMS(SQ_INT(e->number), SQ_INT(e->seq), SQ_INT(e->at_ns), SQ_TEXT(e->kind), SQ_TEXT(e->actor),
				 SQ_TEXT(e->text ? e->text : ""), SQ_TEXT(e->data ? e->data : "{}")));
}

static int entry_map(sqlite3_stmt *st, store_row_fn fn, void *ctx)
{
	struct incident_entry_row e = { .number = sqlite3_column_int64(st, 0), .seq = sqlite3_column_int64(st, 1),
					.at_ns = sqlite3_column_int64(st, 2), .kind = col_text(st, 3),
					.actor = col_text(st, 4), .text = col_text(st, 5), .data = col_text(st, 6) };
	return fn(ctx, &e);
}

static int sq_incident_entry_iter(void *impl, int64_t number, store_row_fn fn, void *ctx)
{
	return sq_query(impl, SQL_INCIDENT_ENTRY_LIST, SQ_PARAMS(SQ_INT(number)), entry_map, fn, ctx, NULL);
}

static int sq_incident_artifact_put(void *impl, struct incident_artifact_row *a)
{
	if (sq_exec_int(impl, SQL_INCIDENT_ARTIFACT_NEXT, SQ_PARAMS(SQ_INT(a->number)), &a->id))
		return OODA_EIO;
	return sq_exec(impl, SQL_INCIDENT_ARTIFACT_INSERT,
		       SQ_PARAMS(SQ_INT(a->number), SQ_INT(a->id), SQ_TEXT(a->name), SQ_TEXT(a->content_type),
				 SQ_INT(a->size), SQ_TEXT(a->sha256), SQ_TEXT(a->uploaded_by), SQ_INT(a->at_ns),
				 SQ_BLOB(a->bytes ? a->bytes : "", a->bytes_len)));
}

static int artifact_map(sqlite3_stmt *st, store_row_fn fn, void *ctx)
{
	struct incident_artifact_row a = { .number = sqlite3_column_int64(st, 0), .id = sqlite3_column_int64(st, 1),
					   .name = col_text(st, 2), .content_type = col_text(st, 3),
					   .size = sqlite3_column_int64(st, 4), .sha256 = col_text(st, 5),
					   .uploaded_by = col_text(st, 6), .at_ns = sqlite3_column_int64(st, 7) };
	if (sqlite3_column_type(st, 8) != SQLITE_NULL) {
		/* a blob's pointer before its size, as SQLite asks */
		a.bytes = sqlite3_column_blob(st, 8);
		a.bytes_len = (size_t)sqlite3_column_bytes(st, 8);
		if (!a.bytes)
			a.bytes = "";
	}
	return fn(ctx, &a);
}

static int sq_incident_artifact_get(void *impl, int64_t number, int64_t id, store_row_fn fn, void *ctx)
{
	bool any;
	int rc = sq_query(impl, SQL_INCIDENT_ARTIFACT_GET, SQ_PARAMS(SQ_INT(number), SQ_INT(id)), artifact_map, fn, ctx,
			  &any);
	return !rc && !any ? OODA_ENOTFOUND : rc;
}

static int sq_incident_artifact_iter(void *impl, int64_t number, store_row_fn fn, void *ctx)
{
	return sq_query(impl, SQL_INCIDENT_ARTIFACT_LIST, SQ_PARAMS(SQ_INT(number)), artifact_map, fn, ctx, NULL);
}

/* ---- the notification outbox ---------------------------------------------- */

static int sq_notify_insert(void *impl, const struct notify_row *r, bool *inserted)
{
	struct sqlite_store *s = impl;
	*inserted = false;
	sqlite3_stmt *st = stmt(&s->w, SQL_NOTIFY_INSERT);
	if (!st)
		return OODA_EIO;
	const char *text[] = { r->id,	 r->dedupe_key, r->target, r->kind,
			       r->event, r->payload,	r->incident, r->alert };
	for (int i = 0; i < 8; i++)
		sqlite3_bind_text(st, i + 1, text[i] ? text[i] : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, r->next_attempt_ns);
	sqlite3_bind_int64(st, 10, r->created_ns);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return OODA_EIO;
	*inserted = sqlite3_changes(s->w.db) > 0;
	return 0;
}

static int notify_rows(sqlite3_stmt *st, store_row_fn fn, void *ctx)
{
	int rc = 0;
	while (!rc) {
		int step = sqlite3_step(st);
		if (step == SQLITE_DONE)
			break;
		if (step != SQLITE_ROW)
			return OODA_EIO;
		struct notify_row r = {
			.id = col_text(st, 0),	       .dedupe_key = col_text(st, 1),
			.target = col_text(st, 2),     .kind = col_text(st, 3),
			.event = col_text(st, 4),      .payload = col_text(st, 5),
			.incident = col_text(st, 6),   .alert = col_text(st, 7),
			.status = col_text(st, 8),     .attempts = sqlite3_column_int64(st, 9),
			.next_attempt_ns = sqlite3_column_int64(st, 10), .last_error = col_text(st, 11),
			.created_ns = sqlite3_column_int64(st, 12),	 .delivered_ns = sqlite3_column_int64(st, 13),
		};
		rc = fn(ctx, &r);
	}
	return rc > 0 ? 0 : rc;
}

static int sq_notify_due(void *impl, int64_t now_ns, size_t limit, store_row_fn fn, void *ctx)
{
	struct sqlite_store *s = impl;
	struct conn *c = rconn(s);
	sqlite3_stmt *st = stmt(c, SQL_NOTIFY_DUE);
	int rc = OODA_EIO;
	if (st) {
		sqlite3_bind_int64(st, 1, now_ns);
		sqlite3_bind_int64(st, 2, limit ? (int64_t)limit : -1);
		rc = notify_rows(st, fn, ctx);
		sqlite3_reset(st);
	}
	rdone(s, c);
	return rc;
}

static int sq_notify_update(void *impl, const struct notify_row *r)
{
	struct sqlite_store *s = impl;
	sqlite3_stmt *st = stmt(&s->w, SQL_NOTIFY_UPDATE);
	if (!st)
		return OODA_EIO;
	sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->status, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, r->attempts);
	sqlite3_bind_int64(st, 4, r->next_attempt_ns);
	sqlite3_bind_text(st, 5, r->last_error ? r->last_error : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, r->delivered_ns);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return OODA_EIO;
	return sqlite3_changes(s->w.db) > 0 ? 0 : OODA_ENOTFOUND;
}

static int sq_notify_list(void *impl, const struct notify_filter *f, store_row_fn fn, void *ctx)
{
	struct sqlite_store *s = impl;
	struct conn *c = rconn(s);
	sqlite3_stmt *st = stmt(c, SQL_NOTIFY_LIST);
	int rc = OODA_EIO;
	if (st) {
		const char *v[] = { f->incident, f->alert, f->status, f->id };
		for (int i = 0; i < 4; i++)
			sqlite3_bind_text(st, i + 1, v[i] ? v[i] : "", -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, f->limit ? (int64_t)f->limit : 100);
		rc = notify_rows(st, fn, ctx);
		sqlite3_reset(st);
	}
	rdone(s, c);
	return rc;
}

static int sq_notify_counts(void *impl, struct notify_counts *out)
{
	struct sqlite_store *s = impl;
	memset(out, 0, sizeof(*out));
	struct conn *c = rconn(s);
	sqlite3_stmt *st = stmt(c, SQL_NOTIFY_COUNTS);
	int rc = st ? 0 : OODA_EIO;
	while (!rc) {
		int step = sqlite3_step(st);
		if (step == SQLITE_DONE)
			break;
		if (step != SQLITE_ROW) {
			rc = OODA_EIO;
			break;
		}
		const char *status = col_text(st, 0);
		int64_t n = sqlite3_column_int64(st, 1);
		if (!strcmp(status, "pending"))
			out->pending = n;
		else if (!strcmp(status, "delivered"))
			out->delivered = n;
		else if (!strcmp(status, "failed"))
			out->failed = n;
		out->attempts += sqlite3_column_int64(st, 2);
	}
	if (st)
		sqlite3_reset(st);
	rdone(s, c);
	return rc;
}

static int sq_notify_prune(void *impl, int64_t before_ns, size_t limit, size_t *deleted)
{
	struct sqlite_store *s = impl;
	*deleted = 0;
	sqlite3_stmt *st = stmt(&s->w, SQL_NOTIFY_PRUNE);
	if (!st)
		return OODA_EIO;
	sqlite3_bind_int64(st, 1, before_ns);
	sqlite3_bind_int64(st, 2, (int64_t)limit);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return OODA_EIO;
	*deleted = (size_t)sqlite3_changes(s->w.db);
	return 0;
}

/* ---- rollouts ------------------------------------------------------------ */

static int sq_rollout_put(void *impl, const struct rollout_row *r)
{
	struct sqlite_store *s = impl;
	sqlite3_stmt *st = stmt(&s->w, SQL_ROLLOUT_PUT);
	if (!st)
		return OODA_EIO;
	sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->status, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, r->env ? r->env : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, r->due_ns);
	sqlite3_bind_int64(st, 5, r->updated_ns);
	sqlite3_bind_text(st, 6, r->body, -1, SQLITE_STATIC);
	return step_done(st);
}

/* Runs st (bound) and hands each rollout row to fn. */
static int rollout_rows(sqlite3_stmt *st, store_row_fn fn, void *ctx, bool *any)
{
	int rc = 0;
	while (!rc) {
		int step = sqlite3_step(st);
		if (step == SQLITE_DONE)
			break;
		if (step != SQLITE_ROW) {
			rc = OODA_EIO;
			break;
		}
		struct rollout_row r = { .id = col_text(st, 0), .status = col_text(st, 1), .env = col_text(st, 2),
					 .due_ns = sqlite3_column_int64(st, 3), .updated_ns = sqlite3_column_int64(st, 4),
					 .body = col_text(st, 5) };
		*any = true;
		rc = fn(ctx, &r);
	}
	sqlite3_reset(st);
	return rc > 0 ? 0 : rc;
}

static int sq_rollout_get(void *impl, const char *id, store_row_fn fn, void *ctx)
{
	struct sqlite_store *s = impl;
	struct conn *c = rconn(s);
	sqlite3_stmt *st = stmt(c, SQL_ROLLOUT_GET);
	bool any = false;
	int rc = OODA_EIO;
	if (st) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		rc = rollout_rows(st, fn, ctx, &any);
	}
	rdone(s, c);
	return !rc && !any ? OODA_ENOTFOUND : rc;
}

static int sq_rollout_list(void *impl, const char *status, size_t limit, store_row_fn fn, void *ctx)
{
	struct sqlite_store *s = impl;
	struct conn *c = rconn(s);
	sqlite3_stmt *st = stmt(c, status ? SQL_ROLLOUT_LIST_STATUS : SQL_ROLLOUT_LIST);
	bool any = false;
	int rc = OODA_EIO;
	if (st) {
		sqlite3_bind_int64(st, 1, (int64_t)(limit ? limit : 1000));
		if (status)
			sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
		rc = rollout_rows(st, fn, ctx, &any);
	}
	rdone(s, c);
	return rc;
}

/* ---- whole-table copies (store_copy.c) ------------------------------------ */

static int sq_table_count(void *impl, const struct store_table *t, int64_t *rows)
{
	struct sqlite_store *s = impl;
	char sql[160];
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", t->name);
	struct conn *c = rconn(s);
	sqlite3_stmt *st;
	int rc = OODA_EIO;
	if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW) {
			*rows = sqlite3_column_int64(st, 0);
			rc = 0;
		}
		sqlite3_finalize(st);
	}
	rdone(s, c);
	return rc;
}

static int sq_table_iter(void *impl, const struct store_table *t, store_row_fn fn, void *ctx)
{
	struct sqlite_store *s = impl;
	struct buf sql = BUF_INIT;
	buf_addf(&sql, "SELECT %s FROM %s ORDER BY %s", t->cols, t->name, t->order);
	size_t ncol = strlen(t->types);
	struct conn *c = rconn(s);
	sqlite3_stmt *st;
	int rc = OODA_EIO;
	if (ncol <= STORE_TABLE_MAX_COLS && sqlite3_prepare_v2(c->db, sql.data, -1, &st, NULL) == SQLITE_OK) {
		int step;
		rc = 0;
		while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
			struct store_cell row[STORE_TABLE_MAX_COLS] = { 0 };
			for (size_t i = 0; i < ncol; i++) {
				int k = (int)i;
				if (t->types[i] == STORE_COL_INT) {
					row[i].i = sqlite3_column_int64(st, k);
				} else if (sqlite3_column_type(st, k) != SQLITE_NULL) {
					row[i].p = t->types[i] == STORE_COL_BLOB ? (const char *)sqlite3_column_blob(st, k) :
										   (const char *)sqlite3_column_text(st, k);
					row[i].len = (size_t)sqlite3_column_bytes(st, k);
					if (!row[i].p)
						row[i].p = "";
				}
			}
			rc = fn(ctx, row);
		}
		if (!rc && step != SQLITE_DONE)
			rc = OODA_EIO;
		sqlite3_finalize(st);
	}
	rdone(s, c);
	buf_release(&sql);
	return rc > 0 ? 0 : rc;
}

static int sq_table_insert(void *impl, const struct store_table *t, const struct store_cell *row)
{
	struct sqlite_store *s = impl;
	size_t ncol = strlen(t->types);
	if (s->copy_table != t) {
		sqlite3_finalize(s->copy_ins);
		s->copy_ins = NULL;
		s->copy_table = NULL;
		struct buf sql = BUF_INIT;
		buf_addf(&sql, "INSERT INTO %s(%s) VALUES (", t->name, t->cols);
		for (size_t i = 0; i < ncol; i++)
			buf_adds(&sql, i ? ", ?" : "?");
		buf_addch(&sql, ')');
		int prc = sqlite3_prepare_v2(s->w.db, sql.data, -1, &s->copy_ins, NULL);
		buf_release(&sql);
		if (prc != SQLITE_OK)
			return OODA_EIO;
		s->copy_table = t;
	} else {
		sqlite3_reset(s->copy_ins);
		sqlite3_clear_bindings(s->copy_ins);
	}
	sqlite3_stmt *st = s->copy_ins;
	for (size_t i = 0; i < ncol; i++) {
		int k = (int)i + 1;
		if (t->types[i] == STORE_COL_INT)
			sqlite3_bind_int64(st, k, row[i].i);
		else if (!row[i].p)
			sqlite3_bind_null(st, k);
		else if (t->types[i] == STORE_COL_BLOB)
			sqlite3_bind_blob64(st, k, row[i].p, row[i].len, SQLITE_STATIC);
		else
			sqlite3_bind_text64(st, k, row[i].p, row[i].len, SQLITE_STATIC, SQLITE_UTF8);
	}
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : (rc & 0xff) == SQLITE_CONSTRAINT ? OODA_ECONFLICT : OODA_EIO;
}

const struct store_backend store_sqlite_backend = {
	.version = STORE_BACKEND_VERSION,
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.savepoint = sq_savepoint,
	.savepoint_release = sq_savepoint_release,
	.savepoint_rollback = sq_savepoint_rollback,
	.data_version = sq_data_version,
	.backup = sq_backup,
	.stats = sq_stats,
	.token_insert = sq_token_insert,
	.token_revoke = sq_token_revoke,
	.token_list = sq_token_list,
	.audit_last = sq_audit_last,
	.audit_insert = sq_audit_insert,
	.audit_iter = sq_audit_iter,
	.checkpoint_insert = sq_checkpoint_insert,
	.checkpoint_iter = sq_checkpoint_iter,
	.checkpoint_last = sq_checkpoint_last,
	.doc_put = sq_doc_put,
	.doc_get = sq_doc_get,
	.doc_list = sq_doc_list,
	.doc_list_status = sq_doc_list_status,
	.doc_history = sq_doc_history,
	.doc_prune = sq_doc_prune,
	.doc_drop = sq_doc_drop,
	.pattern_snapshot_put = sq_pattern_snapshot_put,
	.pattern_snapshot_iter = sq_pattern_snapshot_iter,
	.disk_full = sq_disk_full,
	.notify_insert = sq_notify_insert,
	.notify_due = sq_notify_due,
	.notify_update = sq_notify_update,
	.notify_list = sq_notify_list,
	.notify_counts = sq_notify_counts,
	.notify_prune = sq_notify_prune,
	.incident_put = sq_incident_put,
	.incident_get = sq_incident_get,
	.incident_iter = sq_incident_iter,
	.incident_max = sq_incident_max,
	.incident_entry_append = sq_incident_entry_append,
	.incident_entry_iter = sq_incident_entry_iter,
	.incident_artifact_put = sq_incident_artifact_put,
	.incident_artifact_get = sq_incident_artifact_get,
	.incident_artifact_iter = sq_incident_artifact_iter,
	.rollout_put = sq_rollout_put,
	.rollout_get = sq_rollout_get,
	.rollout_list = sq_rollout_list,
	.audit_key_put = sq_audit_key_put,
	.audit_key_list = sq_audit_key_list,
	.table_count = sq_table_count,
	.table_iter = sq_table_iter,
	.table_insert = sq_table_insert,
};
