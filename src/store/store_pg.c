/*
 * The PostgreSQL backend of the control store (libpq): the same tables as
 * the SQLite backend (pg_sql.h holds each migration's twin), one writer
 * connection used only inside transactions the store opened, one reader
 * connection shared under a mutex, statements prepared once per connection.
 * Several ooda processes may share one database: a write transaction takes
 * the store's advisory write lock first (pg_advisory_xact_lock), so the
 * audit chain's head is read and extended by one writer at a time, and each
 * commit sends NOTIFY ooda_change, which the reader connection LISTENs to
 * (store_data_version) and a third, idle connection waits on
 * (store_wait_change). The connection string is a secret: it never appears
 * in an error, a log line or the audit; server messages are passed on only
 * when they cannot contain it (after the connection is made).
 */
#include "store/store_backend.h"
#include "store/pg_sql.h"
#include "store/sqlite_sql.h"
#include "core/error.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#define PG_MIGRATIONS ((int)(sizeof(pg_migrations) / sizeof(pg_migrations[0])))
#define MAX_PARAMS 14

/* Each SQLite migration has its PostgreSQL twin with the same number (pg_sql.h). */
_Static_assert(sizeof(pg_migrations) / sizeof(pg_migrations[0]) == sizeof(sql_migrations) / sizeof(sql_migrations[0]),
	       "every SQLite migration (sqlite_sql.h) needs its PostgreSQL twin (pg_sql.h)");

struct pconn {
	PGconn *pg;
	bool prepared[PG_COUNT];
};

struct pg_store {
	struct pconn w, r, l;  /* writer, reader, listener */
	pthread_mutex_t rmu, lmu;
	char *dsn;
	bool readonly;
	int64_t version;       /* notifications from other backends seen by r */
	uint64_t changes;      /* notifications seen by l (store_wait_change) */
	char sqlstate[6];      /* of the writer's last failed statement */
	const struct store_table *copy_table; /* the table whose insert is prepared as "copy" */
};

static _Thread_local bool in_tx;

/* ---- connections ---------------------------------------------------------- */

static void pconn_close(struct pconn *c)
{
	if (c->pg)
		PQfinish(c->pg);
	memset(c, 0, sizeof(*c));
}

static int exec_ok(PGconn *pg, const char *sql)
{
	PGresult *r = PQexec(pg, sql);
	ExecStatusType st = PQresultStatus(r);
	PQclear(r);
	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : OODA_EIO;
}

/*
 * Connects c; a failure says only that the server cannot be reached (libpq's
 * own message may quote the host or the user of the connection string).
 */
static int pconn_open(struct pconn *c, const char *dsn, bool listen, struct buf *err)
{
	memset(c, 0, sizeof(*c));
	c->pg = PQconnectdb(dsn);
	if (PQstatus(c->pg) != CONNECTION_OK) {
		if (err)
			buf_adds(err, "cannot connect to the PostgreSQL control store (check that the server is up and "
				      "the connection string in storage.control.dsn_env)");
		pconn_close(c);
		return OODA_EUNAVAIL;
	}
	PQsetNoticeProcessor(c->pg, NULL, NULL);
	if (exec_ok(c->pg, "SET client_min_messages = warning") || exec_ok(c->pg, PG_SET_IDLE_TX) ||
	    (listen && exec_ok(c->pg, "LISTEN " PG_CHANNEL))) {
		if (err)
			buf_adds(err, "cannot set up the PostgreSQL control store connection");
		pconn_close(c);
		return OODA_EIO;
	}
	return 0;
}

/* A connection that broke (server restarted) is made again, once per call. */
static bool pconn_alive(struct pconn *c, bool listen)
{
	if (c->pg && PQstatus(c->pg) == CONNECTION_OK)
		return true;
	if (!c->pg)
		return false;
	PQreset(c->pg);
	memset(c->prepared, 0, sizeof(c->prepared));
	if (PQstatus(c->pg) != CONNECTION_OK || exec_ok(c->pg, PG_SET_IDLE_TX))
		return false;
	return !(listen && exec_ok(c->pg, "LISTEN " PG_CHANNEL));
}

/* ---- parameters and results ------------------------------------------------- */

struct params {
	const char *v[MAX_PARAMS];
	int len[MAX_PARAMS];
	int fmt[MAX_PARAMS];
	char num[MAX_PARAMS][24];
	int n;
};

static void p_text(struct params *p, const char *s)
{
	p->v[p->n] = s;
	p->fmt[p->n++] = 0;
}

static void p_str(struct params *p, const char *s)
{
	p_text(p, s ? s : "");
}

static void p_int(struct params *p, int64_t x)
{
	snprintf(p->num[p->n], sizeof(p->num[0]), "%lld", (long long)x);
	p_text(p, p->num[p->n]);
}

/* A LIMIT: 0 means none (NULL). */
static void p_limit(struct params *p, size_t x)
{
	if (x)
		p_int(p, (int64_t)x);
	else
		p_text(p, NULL);
}

static void p_blob(struct params *p, const void *b, size_t n)
{
	p->v[p->n] = b ? b : "";
	p->len[p->n] = (int)n;
	p->fmt[p->n++] = 1;
}

/*
 * Runs statement id on c with p; prepares it on first use. Returns the
 * result (caller PQclear()s it) or NULL with *sqlstate filled when given.
 */
static PGresult *run(struct pconn *c, enum pg_stmt id, const struct params *p, char sqlstate[6])
{
	char name[16];
	snprintf(name, sizeof(name), "s%d", (int)id);
	if (!c->pg)
		return NULL;
	if (!c->prepared[id]) {
		PGresult *r = PQprepare(c->pg, name, pg_text[id], 0, NULL);
		bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		PQclear(r);
		if (!ok)
			return NULL;
		c->prepared[id] = true;
	}
	PGresult *r = PQexecPrepared(c->pg, name, p ? p->n : 0, p ? p->v : NULL, p ? p->len : NULL,
				     p ? p->fmt : NULL, 0);
	ExecStatusType st = PQresultStatus(r);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return r;
	if (sqlstate) {
		const char *code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		snprintf(sqlstate, 6, "%s", code ? code : "");
	}
	PQclear(r);
	return NULL;
}

static const char *col(const PGresult *r, int row, int c)
{
	return PQgetisnull(r, row, c) ? "" : PQgetvalue(r, row, c);
}

static int64_t col_int(const PGresult *r, int row, int c)
{
	return PQgetisnull(r, row, c) ? 0 : strtoll(PQgetvalue(r, row, c), NULL, 10);
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/*
 * A bytea column in text form ("\x" and hex) decoded into a new buffer the
 * caller frees; *n receives its length. A value not in that form is empty.
 */
static uint8_t *col_bytes(const PGresult *r, int row, int c, size_t *n)
{
	const char *t = col(r, row, c);
	size_t len = strlen(t);
	*n = 0;
	if (len < 2 || t[0] != '\\' || t[1] != 'x' || len % 2)
		return xmalloc(1);
	uint8_t *out = xmalloc((len - 2) / 2 + 1);
	for (size_t i = 2; i + 1 < len; i += 2) {
		int hi = hexval(t[i]), lo = hexval(t[i + 1]);
		if (hi < 0 || lo < 0) {
			*n = 0;
			return out;
		}
		out[(*n)++] = (uint8_t)(hi << 4 | lo);
	}
	return out;
}

/* A fixed-size bytea column into dst; a value of another size leaves zeros (tampering shows). */
static void col_fixed(const PGresult *r, int row, int c, uint8_t *dst, size_t size)
{
	size_t n;
	uint8_t *b = col_bytes(r, row, c, &n);
	memset(dst, 0, size);
	if (n == size)
		memcpy(dst, b, size);
	free(b);
}

/* ---- open, close, transactions --------------------------------------------- */

static int schema_version(PGconn *pg, int *have)
{
	PGresult *r = PQexec(pg, PG_SQL_SCHEMA_GET);
	int rc = PQresultStatus(r) == PGRES_TUPLES_OK ? 0 : OODA_EIO;
	*have = !rc && PQntuples(r) > 0 ? atoi(PQgetvalue(r, 0, 0)) : 0;
	PQclear(r);
	return rc;
}

/* Applies the pending migrations; several processes starting at once take turns (advisory lock). */
static int pg_migrate(struct pg_store *s, struct buf *err)
{
	PGconn *pg = s->w.pg;
	if (!s->readonly && (exec_ok(pg, PG_LOCK_MIGRATE) || exec_ok(pg, PG_SQL_SCHEMA_TABLE))) {
		buf_adds(err, "cannot prepare the PostgreSQL control store's schema table (does the role may create tables?)");
		return OODA_EIO;
	}
	int have = 0, rc = schema_version(pg, &have);
	if (rc && s->readonly) {
		buf_adds(err, "the PostgreSQL database holds no ooda control store yet");
		return OODA_ENOTFOUND;
	}
	if (!rc && have > PG_MIGRATIONS) {
		buf_addf(err, "the PostgreSQL control store has schema version %d, newer than this ooda supports (%d); "
			      "run the ooda version that wrote it",
			 have, PG_MIGRATIONS);
		rc = OODA_ESCHEMA;
	} else if (!rc && have < PG_MIGRATIONS && s->readonly) {
		buf_addf(err, "the PostgreSQL control store needs migration to schema %d but was opened read-only",
			 PG_MIGRATIONS);
		rc = OODA_ESCHEMA;
	}
	for (int v = have; !rc && v < PG_MIGRATIONS; v++) {
		char set[96];
		snprintf(set, sizeof(set), "DELETE FROM ooda_schema; INSERT INTO ooda_schema VALUES(%d)", v + 1);
		if (exec_ok(pg, "BEGIN") || exec_ok(pg, pg_migrations[v]) || exec_ok(pg, set) || exec_ok(pg, "COMMIT")) {
			buf_addf(err, "PostgreSQL control store migration %d failed: %s", v + 1, PQerrorMessage(pg));
			exec_ok(pg, "ROLLBACK");
			rc = OODA_EIO;
		}
	}
	if (!s->readonly)
		exec_ok(pg, PG_UNLOCK_MIGRATE);
	return rc;
}

static void pg_close(void *impl)
{
	struct pg_store *s = impl;
	if (!s)
		return;
	pconn_close(&s->w);
	pconn_close(&s->r);
	pconn_close(&s->l);
	pthread_mutex_destroy(&s->rmu);
	pthread_mutex_destroy(&s->lmu);
	if (s->dsn) {
		memset(s->dsn, 0, strlen(s->dsn));
		free(s->dsn);
	}
	free(s);
}

static int pg_open(const struct store_location *loc, bool readonly, void **impl, struct buf *err)
{
	struct pg_store *s = xcalloc(1, sizeof(*s));
	pthread_mutex_init(&s->rmu, NULL);
	pthread_mutex_init(&s->lmu, NULL);
	s->readonly = readonly;
	s->dsn = xstrdup(loc->pg_dsn);
	int rc = pconn_open(&s->w, s->dsn, false, err);
	if (!rc)
		rc = pg_migrate(s, err);
	if (!rc)
		rc = pconn_open(&s->r, s->dsn, true, err);
	if (rc) {
		pg_close(s);
		return rc;
	}
	*impl = s;
	return 0;
}

static int pg_begin(void *impl)
{
	struct pg_store *s = impl;
	s->sqlstate[0] = 0;
	if (!pconn_alive(&s->w, false))
		return OODA_EUNAVAIL;
	/* one round trip: BEGIN and the write lock */
	if (exec_ok(s->w.pg, "BEGIN; " PG_LOCK_WRITE)) {
		exec_ok(s->w.pg, "ROLLBACK");
		return OODA_EIO;
	}
	in_tx = true;
	return 0;
}

static int pg_commit(void *impl)
{
	struct pg_store *s = impl;
	/* one round trip; the notification is delivered only if the commit succeeds */
	int rc = exec_ok(s->w.pg, "NOTIFY " PG_CHANNEL "; COMMIT");
	if (!rc)
		in_tx = false;
	return rc;
}

static int pg_rollback(void *impl)
{
	in_tx = false;
	return exec_ok(((struct pg_store *)impl)->w.pg, "ROLLBACK");
}

static int pg_savepoint(void *impl)
{
	return exec_ok(((struct pg_store *)impl)->w.pg, "SAVEPOINT job");
}

static int pg_savepoint_release(void *impl)
{
	return exec_ok(((struct pg_store *)impl)->w.pg, "RELEASE SAVEPOINT job");
}

static int pg_savepoint_rollback(void *impl)
{
	PGconn *pg = ((struct pg_store *)impl)->w.pg;
	return exec_ok(pg, "ROLLBACK TO SAVEPOINT job") || exec_ok(pg, "RELEASE SAVEPOINT job") ? OODA_EIO : 0;
}

/* Reader connection, unless this thread is inside a write; NULL when the server cannot be reached. */
static struct pconn *rconn(struct pg_store *s)
{
	if (in_tx)
		return &s->w;
	pthread_mutex_lock(&s->rmu);
	if (!pconn_alive(&s->r, true)) {
		s->version++; /* notifications may have been missed */
		pthread_mutex_unlock(&s->rmu);
		return NULL;
	}
	return &s->r;
}

static void rdone(struct pg_store *s, struct pconn *c)
{
	if (c == &s->r)
		pthread_mutex_unlock(&s->rmu);
}

/* Counts the notifications waiting on pg: all of them, or those other backends than our writer sent. */
static int drain_notifies(struct pg_store *s, PGconn *pg, bool others_only)
{
	int other = 0, self = others_only && s->w.pg ? PQbackendPID(s->w.pg) : 0;
	PGnotify *n;
	while ((n = PQnotifies(pg))) {
		if (n->be_pid != self)
			other++;
		PQfreemem(n);
	}
	return other;
}

static int pg_data_version(void *impl, int64_t *v)
{
	struct pg_store *s = impl;
	if (in_tx) {
		*v = s->version;
		return 0;
	}
	struct pconn *c = rconn(s);
	if (!c)
		return OODA_EUNAVAIL;
	/*
	 * A round trip: a notification of a commit that finished before it is
	 * delivered before its answer (the server sends pending notifications
	 * before it reports ready), so a commit another process has just
	 * acknowledged always counts. It also tells a live server from a dead one.
	 */
	int rc = exec_ok(c->pg, "SELECT 1");
	if (rc) {
		s->version++; /* the server went away: the next call reconnects */
		rc = OODA_EUNAVAIL;
	} else {
		s->version += drain_notifies(s, c->pg, true);
	}
	*v = s->version;
	rdone(s, c);
	return rc;
}

static int pg_wait_change(void *impl, uint64_t *seen, int64_t timeout_ms)
{
	struct pg_store *s = impl;
	pthread_mutex_lock(&s->lmu);
	int rc = 0;
	if (!s->l.pg)
		rc = pconn_open(&s->l, s->dsn, true, NULL);
	else if (!pconn_alive(&s->l, true))
		rc = OODA_EUNAVAIL;
	if (!rc) {
		s->changes += (uint64_t)drain_notifies(s, s->l.pg, false);
		if (s->changes == *seen) {
			struct pollfd pfd = { .fd = PQsocket(s->l.pg), .events = POLLIN };
			int n = poll(&pfd, 1, timeout_ms > INT32_MAX ? INT32_MAX : (int)timeout_ms);
			if (n > 0 && !PQconsumeInput(s->l.pg))
				rc = OODA_EUNAVAIL;
			else if (n > 0)
				s->changes += (uint64_t)drain_notifies(s, s->l.pg, false);
		}
		if (!rc)
			rc = s->changes != *seen ? 0 : OODA_ETIMEOUT;
		*seen = s->changes;
	}
	pthread_mutex_unlock(&s->lmu);
	return rc;
}

static int pg_backup(void *impl, const char *path, struct buf *err)
{
	buf_adds(err, "the control store is in PostgreSQL: back it up with pg_dump (see docs/scale.md); "
		      "ooda backup copies only an embedded control.db");
	return OODA_EINVAL;
}

static int pg_stats(void *impl, int64_t *bytes, int64_t *audit_rows)
{
	struct pg_store *s = impl;
	*bytes = *audit_rows = 0;
	struct pconn *c = rconn(s);
	if (!c)
		return 0;
	PGresult *r = run(c, PG_STATS, NULL, NULL);
	if (r && PQntuples(r) == 1) {
		*bytes = col_int(r, 0, 0);
		*audit_rows = col_int(r, 0, 1);
	}
	PQclear(r);
	rdone(s, c);
	return 0;
}

static bool pg_disk_full(void *impl)
{
	/* 53100 disk_full, 53000 insufficient_resources */
	const char *st = ((struct pg_store *)impl)->sqlstate;
	return !strcmp(st, "53100");
}

/* Runs a write statement on the writer; records the SQLSTATE of a failure. */
static int wexec(struct pg_store *s, enum pg_stmt id, const struct params *p, int64_t *changed)
{
	PGresult *r = run(&s->w, id, p, s->sqlstate);
	if (!r)
		return !strcmp(s->sqlstate, "23505") ? OODA_ECONFLICT : OODA_EIO;
	if (changed)
		*changed = strtoll(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	return 0;
}

/* Runs a read on c (reader, or the writer inside a write); NULL on failure. */
static PGresult *rexec(struct pg_store *s, struct pconn *c, enum pg_stmt id, const struct params *p)
{
	return run(c, id, p, c == &s->w ? s->sqlstate : NULL);
}

/* ---- tokens ------------------------------------------------------------------ */

static void read_token(const PGresult *r, int i, struct token_row *t)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->id, sizeof(t->id), "%s", col(r, i, 0));
	snprintf(t->name, sizeof(t->name), "%s", col(r, i, 1));
	snprintf(t->role, sizeof(t->role), "%s", col(r, i, 2));
	snprintf(t->env, sizeof(t->env), "%s", col(r, i, 3));
	col_fixed(r, i, 4, t->hash, 32);
	t->created_ns = col_int(r, i, 5);
	snprintf(t->created_by, sizeof(t->created_by), "%s", col(r, i, 6));
	t->revoked_ns = col_int(r, i, 7);
}

static int pg_token_insert(void *impl, const struct token_row *t)
{
	struct params p = { 0 };
	p_str(&p, t->id);
	p_str(&p, t->name);
	p_str(&p, t->role);
	p_str(&p, t->env);
	p_blob(&p, t->hash, 32);
	p_int(&p, t->created_ns);
	p_str(&p, t->created_by);
	return wexec(impl, PG_TOKEN_INSERT, &p, NULL);
}

static int pg_token_revoke(void *impl, const char *id_or_name, int64_t now, struct token_row *out)
{
	struct pg_store *s = impl;
	struct params p = { 0 };
	p_str(&p, id_or_name);
	PGresult *r = rexec(s, &s->w, PG_TOKEN_REVOKE_FIND, &p);
	if (!r)
		return OODA_EIO;
	int found = PQntuples(r);
	if (found == 1)
		read_token(r, 0, out);
	PQclear(r);
	if (found == 0)
		return OODA_ENOTFOUND;
	if (found > 1)
		return OODA_ECONFLICT; /* a name shared by several active tokens: use the id */
	struct params q = { 0 };
	p_str(&q, out->id);
	p_int(&q, now);
	out->revoked_ns = now;
	return wexec(s, PG_TOKEN_REVOKE, &q, NULL);
}

/* Runs a read and hands each row to each(); the shape of every iteration below. */
typedef int (*row_each_fn)(const PGresult *r, int i, store_row_fn fn, void *ctx);

static int iterate(struct pg_store *s, enum pg_stmt id, const struct params *p, row_each_fn each, store_row_fn fn,
		   void *ctx, int *rows)
{
	struct pconn *c = rconn(s);
	if (!c)
		return OODA_EUNAVAIL;
	PGresult *r = rexec(s, c, id, p);
	int rc = r ? 0 : OODA_EIO;
	int n = r ? PQntuples(r) : 0;
	if (rows)
		*rows = n;
	for (int i = 0; !rc && i < n; i++)
		rc = each(r, i, fn, ctx);
	PQclear(r);
	rdone(s, c);
	return rc > 0 ? 0 : rc;
}

static int token_each(const PGresult *r, int i, store_row_fn fn, void *ctx)
{
	struct token_row t;
	read_token(r, i, &t);
	return fn(ctx, &t);
}

static int pg_token_list(void *impl, store_row_fn fn, void *ctx)
{
	return iterate(impl, PG_TOKEN_LIST, NULL, token_each, fn, ctx, NULL);
}

/* ---- audit ------------------------------------------------------------------- */

static int pg_audit_last(void *impl, int64_t *seq, uint8_t hash[32])
{
	struct pg_store *s = impl;
	*seq = 0;
	memset(hash, 0, 32);
	/* the write lock (pg_begin) is held: no other node appends until we commit */
	PGresult *r = rexec(s, &s->w, PG_AUDIT_LAST, NULL);
	if (!r)
		return OODA_EIO;
	if (PQntuples(r) == 1) {
		*seq = col_int(r, 0, 0);
		col_fixed(r, 0, 1, hash, 32);
	}
	PQclear(r);
	return 0;
}

static int pg_audit_insert(void *impl, const struct audit_row *a)
{
	struct params p = { 0 };
	p_int(&p, a->seq);
	p_int(&p, a->time_ns);
	p_str(&p, a->actor);
	p_str(&p, a->action);
	p_str(&p, a->target);
	p_str(&p, a->before_digest);
	p_str(&p, a->after_digest);
	p_str(&p, a->rationale);
	p_text(&p, a->detail);
	p_blob(&p, a->prev_hash, 32);
	p_blob(&p, a->hash, 32);
	p_int(&p, a->hash_version);
	return wexec(impl, PG_AUDIT_INSERT, &p, NULL);
}

static int audit_each(const PGresult *r, int i, store_row_fn fn, void *ctx)
{
	struct audit_row a = {
		.seq = col_int(r, i, 0),	  .time_ns = col_int(r, i, 1),	      .actor = col(r, i, 2),
		.action = col(r, i, 3),		  .target = col(r, i, 4),	      .before_digest = col(r, i, 5),
		.after_digest = col(r, i, 6),	  .rationale = col(r, i, 7),
		.detail = PQgetisnull(r, i, 8) ? NULL : col(r, i, 8),
		.hash_version = (int)col_int(r, i, 11),
	};
	col_fixed(r, i, 9, a.prev_hash, 32);
	col_fixed(r, i, 10, a.hash, 32);
	return fn(ctx, &a);
}

static int pg_audit_iter(void *impl, const struct audit_filter *f, store_row_fn fn, void *ctx)
{
	struct params p = { 0 };
	p_text(&p, f->actor);
	p_text(&p, f->action);
	p_text(&p, f->target);
	p_int(&p, f->from_ns);
	p_int(&p, f->to_ns);
	p_int(&p, f->after_seq);
	p_int(&p, f->before_seq);
	p_limit(&p, f->limit);
	return iterate(impl, f->descending ? PG_AUDIT_ITER_DESC : PG_AUDIT_ITER_ASC, &p, audit_each, fn, ctx, NULL);
}

static int pg_checkpoint_insert(void *impl, const struct checkpoint_row *cp)
{
	struct params p = { 0 };
	p_int(&p, cp->seq);
	p_int(&p, cp->time_ns);
	p_blob(&p, cp->hash, 32);
	p_blob(&p, cp->signature, 64);
	p_blob(&p, cp->pubkey, 32);
	return wexec(impl, PG_CHECKPOINT_INSERT, &p, NULL);
}

static void read_checkpoint(const PGresult *r, int i, struct checkpoint_row *cp)
{
	memset(cp, 0, sizeof(*cp));
	cp->seq = col_int(r, i, 0);
	cp->time_ns = col_int(r, i, 1);
	col_fixed(r, i, 2, cp->hash, 32);
	col_fixed(r, i, 3, cp->signature, 64);
	col_fixed(r, i, 4, cp->pubkey, 32);
}

static int checkpoint_each(const PGresult *r, int i, store_row_fn fn, void *ctx)
{
	struct checkpoint_row cp;
	read_checkpoint(r, i, &cp);
	return fn(ctx, &cp);
}

static int pg_checkpoint_iter(void *impl, store_row_fn fn, void *ctx)
{
	return iterate(impl, PG_CHECKPOINT_LIST, NULL, checkpoint_each, fn, ctx, NULL);
}

static int checkpoint_copy(const PGresult *r, int i, store_row_fn fn, void *ctx)
{
	read_checkpoint(r, i, ctx);
	return 0;
}

static int pg_checkpoint_last(void *impl, struct checkpoint_row *out)
{
	int n = 0;
	int rc = iterate(impl, PG_CHECKPOINT_LAST, NULL, checkpoint_copy, NULL, out, &n);
	return !rc && n == 0 ? OODA_ENOTFOUND : rc;
}

/* ---- documents --------------------------------------------------------------- */

static int pg_doc_put(void *impl, struct doc_row *d, int64_t expect_version)
{
	struct pg_store *s = impl;
	struct params p = { 0 };
	p_str(&p, d->kind);
	p_str(&p, d->key);
	PGresult *r = rexec(s, &s->w, PG_DOC_LATEST_VERSION, &p);
	if (!r)
		return OODA_EIO;
	int64_t latest = PQntuples(r) == 1 ? col_int(r, 0, 0) : 0;
	PQclear(r);
	if (expect_version >= 0 && expect_version != latest)
		return OODA_EPRECOND;
	d->version = latest + 1;
	char *body = xmalloc(d->body_len + 1);
	memcpy(body, d->body, d->body_len);
	body[d->body_len] = 0;
	p_int(&p, d->version);
	p_int(&p, d->time_ns);
	p_str(&p, d->author);
	p_str(&p, d->rationale);
	p_text(&p, body);
	p_int(&p, d->deleted ? 1 : 0);
	p_str(&p, d->status);
	int rc = wexec(s, PG_DOC_INSERT, &p, NULL);
	free(body);
	return rc;
}

static int doc_each(const PGresult *r, int i, store_row_fn fn, void *ctx)
{
	struct doc_row d = {
		.kind = col(r, i, 0),	   .key = col(r, i, 1),		.version = col_int(r, i, 2),
		.time_ns = col_int(r, i, 3), .author = col(r, i, 4),	.rationale = col(r, i, 5),
		.body = col(r, i, 6),	   .body_len = (size_t)PQgetlength(r, i, 6),
		.deleted = col_int(r, i, 7) != 0,
	};
	return fn(ctx, &d);
}

static int pg_doc_get(void *impl, const char *kind, const char *key, int64_t version, store_row_fn fn, void *ctx)
{
	struct params p = { 0 };
	p_str(&p, kind);
	p_str(&p, key);
	if (version)
		p_int(&p, version);
	int n = 0;
	int rc = iterate(impl, version ? PG_DOC_GET_VERSION : PG_DOC_GET_LATEST, &p, doc_each, fn, ctx, &n);
	return !rc && n == 0 ? OODA_ENOTFOUND : rc;
}

static int pg_doc_list(void *impl, const char *kind, const char *prefix, const char *after, size_t limit,
		       store_row_fn fn, void *ctx)
{
	struct params p = { 0 };
	p_str(&p, kind);
	p_str(&p, prefix);
	p_str(&p, after);
	p_limit(&p, limit);
	return iterate(impl, PG_DOC_LIST, &p, doc_each, fn, ctx, NULL);
}

static int pg_doc_list_status(void *impl, const char *kind, const char *status, store_row_fn fn, void *ctx)
{
	struct params p = { 0 };
	p_str(&p, kind);
	p_str(&p, status);
	return iterate(impl, PG_DOC_LIST_STATUS, &p, doc_each, fn, ctx, NULL);
}

static int pg_doc_history(void *impl, const char *kind, const char *key, store_row_fn fn, void *ctx)
{
	struct params p = { 0 };
	p_str(&p, kind);
	p_str(&p, key);
	int n = 0;
	int rc = iterate(impl, PG_DOC_HISTORY, &p, doc_each, fn, ctx, &n);
	return !rc && n == 0 ? OODA_ENOTFOUND : rc;
}

static int pg_doc_prune(void *impl, const char *kind, int64_t before_ns, int64_t keep_versions, size_t limit,
			size_t *deleted)
{
	struct params p = { 0 };
	p_str(&p, kind);
	p_int(&p, before_ns);
	p_int(&p, keep_versions);
	p_int(&p, (int64_t)limit);
	int64_t n = 0;
	int rc = wexec(impl, PG_DOC_PRUNE, &p, &n);
	*deleted = rc ? 0 : (size_t)n;
	return rc;
}

static int pg_doc_drop(void *impl, const char *kind, const char *key, size_t *deleted)
{
	struct params p = { 0 };
	p_str(&p, kind);
	p_str(&p, key);
	int64_t n = 0;
	int rc = wexec(impl, PG_DOC_DROP, &p, &n);
	*deleted = rc ? 0 : (size_t)n;
	return rc;
}

static int pg_pattern_snapshot_put(void *impl, const struct pattern_snapshot_row *r)
{
	struct params p = { 0 };
	p_str(&p, r->service);
	p_int(&p, r->saved_ns);
	p_int(&p, (int64_t)r->lines);
	p_blob(&p, r->snapshot, r->snapshot_len);
	p_blob(&p, r->severities, r->severities_len);
	return wexec(impl, PG_PATTERN_SNAPSHOT_PUT, &p, NULL);
}

static int snapshot_each(const PGresult *r, int i, store_row_fn fn, void *ctx)
{
	struct pattern_snapshot_row row = { .service = col(r, i, 0), .saved_ns = col_int(r, i, 1),
					    .lines = (uint64_t)col_int(r, i, 2) };
	uint8_t *snap = col_bytes(r, i, 3, &row.snapshot_len);
	uint8_t *sev = col_bytes(r, i, 4, &row.severities_len);
	row.snapshot = snap;
	row.severities = sev;
	int rc = fn(ctx, &row);
	free(snap);
	free(sev);
	return rc;
}

static int pg_pattern_snapshot_iter(void *impl, store_row_fn fn, void *ctx)
{
	return iterate(impl, PG_PATTERN_SNAPSHOT_LIST, NULL, snapshot_each, fn, ctx, NULL);
}

/* ---- the notification outbox ------------------------------------------------- */

static int pg_notify_insert(void *impl, const struct notify_row *r, bool *inserted)
{
	struct params p = { 0 };
	const char *text[] = { r->id, r->dedupe_key, r->target, r->kind, r->event, r->payload, r->incident, r->alert };
	for (int i = 0; i < 8; i++)
		p_str(&p, text[i]);
	p_int(&p, r->next_attempt_ns);
	p_int(&p, r->created_ns);
	int64_t n = 0;
	int rc = wexec(impl, PG_NOTIFY_INSERT, &p, &n);
	*inserted = !rc && n > 0;
	return rc;
}

static int notify_each(const PGresult *r, int i, store_row_fn fn, void *ctx)
{
	struct notify_row n = {
		.id = col(r, i, 0),	    .dedupe_key = col(r, i, 1),	     .target = col(r, i, 2),
		.kind = col(r, i, 3),	    .event = col(r, i, 4),	     .payload = col(r, i, 5),
		.incident = col(r, i, 6),   .alert = col(r, i, 7),	     .status = col(r, i, 8),
		.attempts = col_int(r, i, 9), .next_attempt_ns = col_int(r, i, 10), .last_error = col(r, i, 11),
		.created_ns = col_int(r, i, 12), .delivered_ns = col_int(r, i, 13),
	};
	return fn(ctx, &n);
}

static int pg_notify_due(void *impl, int64_t now_ns, size_t limit, store_row_fn fn, void *ctx)
{
	struct params p = { 0 };
	p_int(&p, now_ns);
	p_limit(&p, limit);
	return iterate(impl, PG_NOTIFY_DUE, &p, notify_each, fn, ctx, NULL);
}

static int pg_notify_update(void *impl, const struct notify_row *r)
{
	struct params p = { 0 };
	p_str(&p, r->id);
	p_str(&p, r->status);
	p_int(&p, r->attempts);
	p_int(&p, r->next_attempt_ns);
	p_str(&p, r->last_error);
	p_int(&p, r->delivered_ns);
	int64_t n = 0;
	int rc = wexec(impl, PG_NOTIFY_UPDATE, &p, &n);
	return rc ? rc : n > 0 ? 0 : OODA_ENOTFOUND;
}

static int pg_notify_list(void *impl, const struct notify_filter *f, store_row_fn fn, void *ctx)
{
	struct params p = { 0 };
	p_str(&p, f->incident);
	p_str(&p, f->alert);
	p_str(&p, f->status);
	p_str(&p, f->id);
	p_int(&p, f->limit ? (int64_t)f->limit : 100);
	return iterate(impl, PG_NOTIFY_LIST, &p, notify_each, fn, ctx, NULL);
}

static int counts_each(const PGresult *r, int i, store_row_fn fn, void *ctx)
{
	struct notify_counts *out = ctx;
	const char *status = col(r, i, 0);
	int64_t n = col_int(r, i, 1);
	if (!strcmp(status, "pending"))
		out->pending = n;
	else if (!strcmp(status, "delivered"))
		out->delivered = n;
	else if (!strcmp(status, "failed"))
		out->failed = n;
	out->attempts += col_int(r, i, 2);
	return 0;
}

static int pg_notify_counts(void *impl, struct notify_counts *out)
{
	memset(out, 0, sizeof(*out));
	return iterate(impl, PG_NOTIFY_COUNTS, NULL, counts_each, NULL, out, NULL);
}

static int pg_notify_prune(void *impl, int64_t before_ns, size_t limit, size_t *deleted)
{
	struct params p = { 0 };
	p_int(&p, before_ns);
	p_int(&p, (int64_t)limit);
	int64_t n = 0;
	int rc = wexec(impl, PG_NOTIFY_PRUNE, &p, &n);
	*deleted = rc ? 0 : (size_t)n;
	return rc;
}

/* ---- incidents --------------------------------------------------------------- */

static int pg_incident_put(void *impl, const struct incident_row *r)
{
	struct params p = { 0 };
	p_int(&p, r->number);
	p_str(&p, r->status);
	p_str(&p, r->service);
	p_str(&p, r->severity);
	p_int(&p, r->updated_ns);
	p_str(&p, r->body);
	return wexec(impl, PG_INCIDENT_PUT, &p, NULL);
}

static int incident_each(const PGresult *r, int i, store_row_fn fn, void *ctx)
{
	struct incident_row row = { .number = col_int(r, i, 0), .status = col(r, i, 1), .service = col(r, i, 2),
				    .severity = col(r, i, 3), .updated_ns = col_int(r, i, 4), .body = col(r, i, 5) };
	return fn(ctx, &row);
}

static int pg_incident_get(void *impl, int64_t number, store_row_fn fn, void *ctx)
{
	struct params p = { 0 };
	p_int(&p, number);
	int n = 0;
	int rc = iterate(impl, PG_INCIDENT_GET, &p, incident_each, fn, ctx, &n);
	return !rc && n == 0 ? OODA_ENOTFOUND : rc;
}

static int pg_incident_iter(void *impl, store_row_fn fn, void *ctx)
{
	return iterate(impl, PG_INCIDENT_LIST, NULL, incident_each, fn, ctx, NULL);
}

static int int_copy(const PGresult *r, int i, store_row_fn fn, void *ctx)
{
	*(int64_t *)ctx = col_int(r, i, 0);
	return 0;
}

static int pg_incident_max(void *impl, int64_t *number)
{
	*number = 0;
	return iterate(impl, PG_INCIDENT_MAX, NULL, int_copy, NULL, number, NULL);
}

static int pg_incident_entry_append(void *impl, struct incident_entry_row *e)
{
	struct pg_store *s = impl;
	struct params p = { 0 };
	p_int(&p, e->number);
	PGresult *r = rexec(s, &s->w, PG_INCIDENT_ENTRY_NEXT, &p);
	if (!r || PQntuples(r) != 1) {
		PQclear(r);
		return OODA_EIO;
	}
	e->seq = col_int(r, 0, 0);
	PQclear(r);
	p_int(&p, e->seq);
	p_int(&p, e->at_ns);
	p_str(&p, e->kind);
	p_str(&p, e->actor);
	p_str(&p, e->text);
	p_text(&p, e->data ? e->data : "{}");
	return wexec(s, PG_INCIDENT_ENTRY_INSERT, &p, NULL);
}

static int entry_each(const PGresult *r, int i, store_row_fn fn, void *ctx)
{
	struct incident_entry_row e = { .number = col_int(r, i, 0), .seq = col_int(r, i, 1),
					.at_ns = col_int(r, i, 2),   .kind = col(r, i, 3),
					.actor = col(r, i, 4),	     .text = col(r, i, 5),
					.data = col(r, i, 6) };
	return fn(ctx, &e);
}

static int pg_incident_entry_iter(void *impl, int64_t number, store_row_fn fn, void *ctx)
{
	struct params p = { 0 };
	p_int(&p, number);
	return iterate(impl, PG_INCIDENT_ENTRY_LIST, &p, entry_each, fn, ctx, NULL);
}

static int pg_incident_artifact_put(void *impl, struct incident_artifact_row *a)
{
	struct pg_store *s = impl;
	struct params p = { 0 };
	p_int(&p, a->number);
	PGresult *r = rexec(s, &s->w, PG_INCIDENT_ARTIFACT_NEXT, &p);
	if (!r || PQntuples(r) != 1) {
		PQclear(r);
		return OODA_EIO;
	}
	a->id = col_int(r, 0, 0);
	PQclear(r);
	p_int(&p, a->id);
	p_str(&p, a->name);
	p_str(&p, a->content_type);
	p_int(&p, a->size);
	p_str(&p, a->sha256);
	p_str(&p, a->uploaded_by);
	p_int(&p, a->at_ns);
	p_blob(&p, a->bytes, a->bytes_len);
	return wexec(s, PG_INCIDENT_ARTIFACT_INSERT, &p, NULL);
}

static int artifact_each(const PGresult *r, int i, store_row_fn fn, void *ctx)
{
	struct incident_artifact_row a = { .number = col_int(r, i, 0), .id = col_int(r, i, 1),
					   .name = col(r, i, 2),	 .content_type = col(r, i, 3),
					   .size = col_int(r, i, 4),	 .sha256 = col(r, i, 5),
					   .uploaded_by = col(r, i, 6),	 .at_ns = col_int(r, i, 7) };
	uint8_t *bytes = NULL;
	if (!PQgetisnull(r, i, 8)) {
		bytes = col_bytes(r, i, 8, &a.bytes_len);
		a.bytes = bytes;
	}
	int rc = fn(ctx, &a);
	free(bytes);
	return rc;
}

static int pg_incident_artifact_get(void *impl, int64_t number, int64_t id, store_row_fn fn, void *ctx)
{
	struct params p = { 0 };
	p_int(&p, number);
	p_int(&p, id);
	int n = 0;
	int rc = iterate(impl, PG_INCIDENT_ARTIFACT_GET, &p, artifact_each, fn, ctx, &n);
	return !rc && n == 0 ? OODA_ENOTFOUND : rc;
}

static int pg_incident_artifact_iter(void *impl, int64_t number, store_row_fn fn, void *ctx)
{
	struct params p = { 0 };
	p_int(&p, number);
	return iterate(impl, PG_INCIDENT_ARTIFACT_LIST, &p, artifact_each, fn, ctx, NULL);
}

/* ---- rollouts ------------------------------------------------------------ */

static int pg_rollout_put(void *impl, const struct rollout_row *r)
{
	struct params p = { 0 };
	p_str(&p, r->id);
	p_str(&p, r->status);
	p_str(&p, r->env ? r->env : "");
	p_int(&p, r->due_ns);
	p_int(&p, r->updated_ns);
	p_str(&p, r->body);
	return wexec(impl, PG_ROLLOUT_PUT, &p, NULL);
}

static int rollout_each(const PGresult *r, int i, store_row_fn fn, void *ctx)
{
	struct rollout_row row = { .id = col(r, i, 0), .status = col(r, i, 1), .env = col(r, i, 2),
				   .due_ns = col_int(r, i, 3), .updated_ns = col_int(r, i, 4), .body = col(r, i, 5) };
	return fn(ctx, &row);
}

static int pg_rollout_get(void *impl, const char *id, store_row_fn fn, void *ctx)
{
	struct params p = { 0 };
	p_str(&p, id);
	int n = 0;
	int rc = iterate(impl, PG_ROLLOUT_GET, &p, rollout_each, fn, ctx, &n);
	return !rc && n == 0 ? OODA_ENOTFOUND : rc;
}

static int pg_rollout_list(void *impl, const char *status, size_t limit, store_row_fn fn, void *ctx)
{
	struct params p = { 0 };
	p_int(&p, (int64_t)(limit ? limit : 1000));
	if (status)
		p_str(&p, status);
	return iterate(impl, status ? PG_ROLLOUT_LIST_STATUS : PG_ROLLOUT_LIST, &p, rollout_each, fn, ctx, NULL);
}

/* ---- several nodes: lease, fence, heartbeats ------------------------------ */

static void read_lease(const PGresult *r, struct lease_row *out)
{
	snprintf(out->node_id, sizeof(out->node_id), "%s", col(r, 0, 0));
	out->term = col_int(r, 0, 1);
	out->expires_ns = col_int(r, 0, 2);
}

/* The writer's read of the lease, inside the transaction (the write lock is held). */
static int lease_read_tx(struct pg_store *s, struct lease_row *out)
{
	PGresult *r = rexec(s, &s->w, PG_LEASE_GET, NULL);
	if (!r)
		return OODA_EIO;
	int n = PQntuples(r);
	if (n == 1)
		read_lease(r, out);
	PQclear(r);
	return n == 1 ? 0 : OODA_ENOTFOUND;
}

static int pg_lease_claim(void *impl, const char *node, int64_t held_term, int64_t now_ns, int64_t lease_ns,
			  struct lease_row *out)
{
	struct pg_store *s = impl;
	memset(out, 0, sizeof(*out));
	struct params p = { 0 };
	p_str(&p, node);
	p_int(&p, held_term);
	p_int(&p, now_ns);
	p_int(&p, lease_ns);
	PGresult *r = rexec(s, &s->w, PG_LEASE_CLAIM, &p);
	if (!r)
		return OODA_EIO;
	int n = PQntuples(r);
	if (n == 1)
		read_lease(r, out);
	PQclear(r);
	return n == 1 ? 0 : lease_read_tx(s, out);
}

static int pg_lease_get(void *impl, struct lease_row *out)
{
	struct pg_store *s = impl;
	memset(out, 0, sizeof(*out));
	struct pconn *c = rconn(s);
	if (!c)
		return OODA_EUNAVAIL;
	PGresult *r = rexec(s, c, PG_LEASE_GET, NULL);
	int n = r ? PQntuples(r) : 0;
	if (n == 1)
		read_lease(r, out);
	PQclear(r);
	rdone(s, c);
	return !r ? OODA_EIO : n == 1 ? 0 : OODA_ENOTFOUND;
}

static int pg_fence(void *impl, int64_t term, int64_t *current)
{
	struct lease_row l = { 0 };
	int rc = lease_read_tx(impl, &l);
	if (rc && rc != OODA_ENOTFOUND)
		return rc;
	*current = l.term;
	return term > 0 && l.term == term ? 0 : OODA_ECONFLICT;
}

static int pg_node_put(void *impl, const struct node_row *r)
{
	struct params p = { 0 };
	p_str(&p, r->node_id);
	p_str(&p, r->address);
	p_str(&p, r->version);
	p_str(&p, r->role);
	p_int(&p, r->term);
	p_int(&p, r->started_ns);
	p_int(&p, r->seen_ns);
	return wexec(impl, PG_NODE_PUT, &p, NULL);
}

static int node_each(const PGresult *r, int i, store_row_fn fn, void *ctx)
{
	struct node_row row = { .node_id = col(r, i, 0), .address = col(r, i, 1), .version = col(r, i, 2),
				.role = col(r, i, 3), .term = col_int(r, i, 4), .started_ns = col_int(r, i, 5),
				.seen_ns = col_int(r, i, 6) };
	return fn(ctx, &row);
}

static int pg_node_list(void *impl, store_row_fn fn, void *ctx)
{
	return iterate(impl, PG_NODE_LIST, NULL, node_each, fn, ctx, NULL);
}

/* ---- whole-table copies (store_copy.c) ------------------------------------ */

/* table_iter's cursor fetches this many rows per round trip. */
#define COPY_FETCH "FETCH 500 FROM ooda_copy"

static int pg_table_count(void *impl, const struct store_table *t, int64_t *rows)
{
	struct pg_store *s = impl;
	char sql[160];
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", t->name);
	struct pconn *c = rconn(s);
	if (!c)
		return OODA_EUNAVAIL;
	PGresult *r = PQexec(c->pg, sql);
	int rc = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 ? 0 : OODA_EIO;
	if (!rc)
		*rows = col_int(r, 0, 0);
	PQclear(r);
	rdone(s, c);
	return rc;
}

/* Hands the rows of one FETCH to fn; bytea columns are decoded from their hex text form. */
static int copy_rows(const struct store_table *t, PGresult *r, store_row_fn fn, void *ctx)
{
	size_t ncol = strlen(t->types);
	int rc = 0;
	for (int i = 0; !rc && i < PQntuples(r); i++) {
		struct store_cell row[STORE_TABLE_MAX_COLS] = { 0 };
		uint8_t *bytes[STORE_TABLE_MAX_COLS] = { 0 };
		for (size_t k = 0; k < ncol; k++) {
			int j = (int)k;
			if (t->types[k] == STORE_COL_INT) {
				row[k].i = col_int(r, i, j);
			} else if (PQgetisnull(r, i, j)) {
				row[k].p = NULL;
			} else if (t->types[k] == STORE_COL_BLOB) {
				bytes[k] = col_bytes(r, i, j, &row[k].len);
				row[k].p = (const char *)bytes[k];
			} else {
				row[k].p = PQgetvalue(r, i, j);
				row[k].len = (size_t)PQgetlength(r, i, j);
			}
		}
		rc = fn(ctx, row);
		for (size_t k = 0; k < ncol; k++)
			free(bytes[k]);
	}
	return rc;
}

/*
 * Streams the table through a cursor in a read-only transaction,
 * 500 rows at a time; the idle-in-transaction limit is lifted for it, since fn
 * may take its time (it writes the rows elsewhere) between fetches.
 */
static int pg_table_iter(void *impl, const struct store_table *t, store_row_fn fn, void *ctx)
{
	struct pg_store *s = impl;
	if (strlen(t->types) > STORE_TABLE_MAX_COLS)
		return OODA_EINVAL;
	struct pconn *c = rconn(s);
	if (!c)
		return OODA_EUNAVAIL;
	struct buf sql = BUF_INIT;
	buf_addf(&sql, "BEGIN READ ONLY; SET LOCAL idle_in_transaction_session_timeout = 0; "
		       "DECLARE ooda_copy NO SCROLL CURSOR FOR SELECT %s FROM %s ORDER BY %s",
		 t->cols, t->name, t->pg_order);
	int rc = exec_ok(c->pg, sql.data);
	while (!rc) {
		PGresult *r = PQexec(c->pg, COPY_FETCH);
		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			PQclear(r);
			rc = OODA_EIO;
			break;
		}
		int n = PQntuples(r);
		rc = copy_rows(t, r, fn, ctx);
		PQclear(r);
		if (!n && !rc)
			break;
	}
	exec_ok(c->pg, "ROLLBACK");
	rdone(s, c);
	buf_release(&sql);
	return rc > 0 ? 0 : rc;
}

static int pg_table_insert(void *impl, const struct store_table *t, const struct store_cell *row)
{
	struct pg_store *s = impl;
	size_t ncol = strlen(t->types);
	if (ncol > STORE_TABLE_MAX_COLS)
		return OODA_EINVAL;
	if (s->copy_table != t) {
		if (s->copy_table)
			exec_ok(s->w.pg, "DEALLOCATE copy");
		s->copy_table = NULL;
		struct buf sql = BUF_INIT;
		buf_addf(&sql, "INSERT INTO %s(%s) VALUES (", t->name, t->cols);
		for (size_t i = 0; i < ncol; i++)
			buf_addf(&sql, "%s$%zu", i ? ", " : "", i + 1);
		buf_addch(&sql, ')');
		PGresult *r = PQprepare(s->w.pg, "copy", sql.data, 0, NULL);
		bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		PQclear(r);
		buf_release(&sql);
		if (!ok)
			return OODA_EIO;
		s->copy_table = t;
	}
	const char *v[STORE_TABLE_MAX_COLS];
	int len[STORE_TABLE_MAX_COLS], fmt[STORE_TABLE_MAX_COLS];
	char num[STORE_TABLE_MAX_COLS][24];
	for (size_t i = 0; i < ncol; i++) {
		len[i] = 0;
		fmt[i] = 0;
		if (t->types[i] == STORE_COL_INT) {
			snprintf(num[i], sizeof(num[i]), "%lld", (long long)row[i].i);
			v[i] = num[i];
		} else if (t->types[i] == STORE_COL_BLOB) {
			v[i] = row[i].p ? row[i].p : "";
			len[i] = (int)row[i].len;
			fmt[i] = 1;
		} else {
			v[i] = row[i].p; /* NUL-terminated text, or NULL */
		}
	}
	PGresult *r = PQexecPrepared(s->w.pg, "copy", (int)ncol, v, len, fmt, 0);
	int rc = 0;
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		const char *code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		snprintf(s->sqlstate, sizeof(s->sqlstate), "%s", code ? code : "");
		rc = !strcmp(s->sqlstate, "23505") ? OODA_ECONFLICT : OODA_EIO;
	}
	PQclear(r);
	return rc;
}

/* ---- live signals merged across nodes ------------------------------------- */

static int pg_live_put(void *impl, const char *node, int64_t written_ns, const void *body, size_t len)
{
	struct params p = { 0 };
	p_str(&p, node);
	p_int(&p, written_ns);
	p_blob(&p, body, len);
	return wexec(impl, PG_LIVE_PUT, &p, NULL);
}

static int live_each(const PGresult *r, int i, store_row_fn fn, void *ctx)
{
	struct live_delta_row row = { .id = col_int(r, i, 0), .node_id = col(r, i, 1), .written_ns = col_int(r, i, 2) };
	uint8_t *body = col_bytes(r, i, 3, &row.body_len);
	row.body = body;
	int rc = fn(ctx, &row);
	free(body);
	return rc;
}

static int pg_live_list(void *impl, const char *node, int64_t after_id, int64_t own_before_ns, size_t limit,
			store_row_fn fn, void *ctx)
{
	struct params p = { 0 };
	p_str(&p, node);
	p_int(&p, after_id);
	p_int(&p, own_before_ns);
	p_int(&p, (int64_t)(limit ? limit : 1));
	return iterate(impl, PG_LIVE_LIST, &p, live_each, fn, ctx, NULL);
}

static int pg_live_prune(void *impl, int64_t before_ns)
{
	struct params p = { 0 };
	p_int(&p, before_ns);
	return wexec(impl, PG_LIVE_PRUNE, &p, NULL);
}

const struct store_backend store_pg_backend = {
	.version = STORE_BACKEND_VERSION,
	.name = "postgres",
	.open = pg_open,
	.close = pg_close,
	.begin = pg_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.savepoint = pg_savepoint,
	.savepoint_release = pg_savepoint_release,
	.savepoint_rollback = pg_savepoint_rollback,
	.data_version = pg_data_version,
	.wait_change = pg_wait_change,
	.backup = pg_backup,
	.stats = pg_stats,
	.token_insert = pg_token_insert,
	.token_revoke = pg_token_revoke,
	.token_list = pg_token_list,
	.audit_last = pg_audit_last,
	.audit_insert = pg_audit_insert,
	.audit_iter = pg_audit_iter,
	.checkpoint_insert = pg_checkpoint_insert,
	.checkpoint_iter = pg_checkpoint_iter,
	.checkpoint_last = pg_checkpoint_last,
	.doc_put = pg_doc_put,
	.doc_get = pg_doc_get,
	.doc_list = pg_doc_list,
	.doc_list_status = pg_doc_list_status,
	.doc_history = pg_doc_history,
	.doc_prune = pg_doc_prune,
	.doc_drop = pg_doc_drop,
	.pattern_snapshot_put = pg_pattern_snapshot_put,
	.pattern_snapshot_iter = pg_pattern_snapshot_iter,
	.disk_full = pg_disk_full,
	.notify_insert = pg_notify_insert,
	.notify_due = pg_notify_due,
	.notify_update = pg_notify_update,
	.notify_list = pg_notify_list,
	.notify_counts = pg_notify_counts,
	.notify_prune = pg_notify_prune,
	.incident_put = pg_incident_put,
	.incident_get = pg_incident_get,
	.incident_iter = pg_incident_iter,
	.incident_max = pg_incident_max,
	.incident_entry_append = pg_incident_entry_append,
	.incident_entry_iter = pg_incident_entry_iter,
	.incident_artifact_put = pg_incident_artifact_put,
	.incident_artifact_get = pg_incident_artifact_get,
	.incident_artifact_iter = pg_incident_artifact_iter,
	.rollout_put = pg_rollout_put,
	.rollout_get = pg_rollout_get,
	.rollout_list = pg_rollout_list,
	.lease_claim = pg_lease_claim,
	.lease_get = pg_lease_get,
	.fence = pg_fence,
	.node_put = pg_node_put,
	.node_list = pg_node_list,
	.table_count = pg_table_count,
	.table_iter = pg_table_iter,
	.table_insert = pg_table_insert,

	.live_put = pg_live_put,
	.live_list = pg_live_list,
	.live_prune = pg_live_prune,
};
