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
 * (store_wait_change). A fourth serves only the generation reads
 * (store_gen_read, one per request on a node that caches), so they never
 * queue behind the reader's other reads. The connection string is a
 * secret: it never appears in an error, a log line or the audit; server
 * messages are passed on only when they cannot contain it (after the
 * connection is made).
 */
#include "store/store_backend.h"
#include "store/pg_sql.h"
#include "store/sqlite_sql.h"
#include "core/error.h"
#include "core/time.h"

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
	struct pconn g;        /* generation reads (pg_gen_read), opened on the first */
	struct pconn f;        /* listens for fresh telemetry (pg_fresh_wait), opened on the first */
	pthread_mutex_t rmu, lmu, gmu, fmu;
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
/* listen: NULL, or the LISTEN statement the connection runs on opening and after a reset */
static int pconn_open(struct pconn *c, const char *dsn, const char *listen, struct buf *err)
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
	    (listen && exec_ok(c->pg, listen))) {
		if (err)
			buf_adds(err, "cannot set up the PostgreSQL control store connection");
		pconn_close(c);
		return OODA_EIO;
	}
	return 0;
}

/* A connection that broke (server restarted) is made again, once per call. */
static bool pconn_alive(struct pconn *c, const char *listen)
{
	if (c->pg && PQstatus(c->pg) == CONNECTION_OK)
		return true;
	if (!c->pg)
		return false;
	PQreset(c->pg);
	memset(c->prepared, 0, sizeof(c->prepared));
	if (PQstatus(c->pg) != CONNECTION_OK || exec_ok(c->pg, PG_SET_IDLE_TX))
		return false;
	return !(listen && exec_ok(c->pg, listen));
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
 * caller frees; *n receives its length, and a NUL follows the bytes (as
 * SQLite's blobs read back here, so a caller may treat text as a string). A
 * value not in that form is empty.
 */
static uint8_t *col_bytes(const PGresult *r, int row, int c, size_t *n)
{
	const char *t = col(r, row, c);
	size_t len = strlen(t);
	*n = 0;
	if (len < 2 || t[0] != '\\' || t[1] != 'x' || len % 2)
		return xcalloc(1, 1);
	uint8_t *out = xcalloc((len - 2) / 2 + 1, 1);
	for (size_t i = 2; i + 1 < len; i += 2) {
		int hi = hexval(t[i]), lo = hexval(t[i + 1]);
		if (hi < 0 || lo < 0) {
			*n = 0;
			break;
		}
		out[(*n)++] = (uint8_t)(hi << 4 | lo);
	}
	out[*n] = 0;
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
	pconn_close(&s->g);
	pconn_close(&s->f);
	pthread_mutex_destroy(&s->rmu);
	pthread_mutex_destroy(&s->lmu);
	pthread_mutex_destroy(&s->gmu);
	pthread_mutex_destroy(&s->fmu);
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
	pthread_mutex_init(&s->gmu, NULL);
	pthread_mutex_init(&s->fmu, NULL);
	s->readonly = readonly;
	s->dsn = xstrdup(loc->pg_dsn);
	int rc = pconn_open(&s->w, s->dsn, NULL, err);
	if (!rc)
		rc = pg_migrate(s, err);
	if (!rc)
		rc = pconn_open(&s->r, s->dsn, PG_LISTEN_CHANGE, err);
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
	if (!pconn_alive(&s->w, NULL))
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
	if (!pconn_alive(&s->r, PG_LISTEN_CHANGE)) {
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

/*
 * On a listening connection c (opened on first use with the statement
 * listen, made again after a break; the caller holds c's mutex): takes the
 * notifications waiting, counting them with count, and while none counts
 * waits for more until timeout_ms has passed — what wakes the poll may be a
 * notification that does not count. Returns how many counted (0 after the
 * timeout) or OODA_EUNAVAIL.
 */
static int listen_wait(struct pg_store *s, struct pconn *c, const char *listen, int64_t timeout_ms,
		       int (*count)(PGconn *pg, const void *arg), const void *arg)
{
	if (!c->pg ? pconn_open(c, s->dsn, listen, NULL) : !pconn_alive(c, listen))
		return OODA_EUNAVAIL;
	if (!PQconsumeInput(c->pg))
		return OODA_EUNAVAIL;
	int64_t deadline = ooda_mono_ns() + timeout_ms * 1000000;
	for (;;) {
		int got = count(c->pg, arg);
		int64_t left_ms = (deadline - ooda_mono_ns()) / 1000000;
		if (got || left_ms <= 0)
			return got;
		struct pollfd pfd = { .fd = PQsocket(c->pg), .events = POLLIN };
		int n = poll(&pfd, 1, left_ms > INT32_MAX ? INT32_MAX : (int)left_ms);
		if ((n < 0 && errno != EINTR) || (n > 0 && !PQconsumeInput(c->pg)))
			return OODA_EUNAVAIL;
	}
}

static int count_all(PGconn *pg, const void *arg)
{
	(void)arg;
	return drain_notifies(NULL, pg, false);
}

static int pg_wait_change(void *impl, uint64_t *seen, int64_t timeout_ms)
{
	struct pg_store *s = impl;
	pthread_mutex_lock(&s->lmu);
	/* a count that moved since the caller's last look answers at once */
	int got = listen_wait(s, &s->l, PG_LISTEN_CHANGE, s->changes != *seen ? 0 : timeout_ms, count_all, NULL);
	int rc = got < 0 ? got : 0;
	if (!rc) {
		s->changes += (uint64_t)got;
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

/* ---- rows as data ------------------------------------------------------------
 *
 * Each row struct of store.h is described once, as a table of its fields in
 * the order of the statements' columns; one loop turns a row into a
 * statement's parameters (p_fields) and one fills a row from a result
 * (row_read), so a table's put and each are a table, not code.
 */

enum field_kind {
	FK_STR,    /* const char *; NULL is written as "", NULL read as "" */
	FK_NSTR,   /* const char * that may be NULL both ways */
	FK_JSON,   /* const char * JSON text; NULL is written as "{}" */
	FK_TEXTN,  /* const char * (NUL-terminated when written) with its length in the size_t at aux */
	FK_INT,    /* int64_t (or uint64_t) */
	FK_INT32,  /* int */
	FK_BOOL,   /* bool, stored 0 or 1 */
	FK_CHARS,  /* char[aux], read with truncation */
	FK_FIXED,  /* uint8_t[aux] as bytea; another size reads as zeros (tampering shows) */
	FK_BYTES,  /* const void * as bytea, length in the size_t at aux; read into a buffer freed after the row */
	FK_NBYTES, /* FK_BYTES, but NULL reads as NULL (a listing without them) */
};

struct field {
	unsigned char kind;
	unsigned short off, aux;
};

struct shape {
	const struct field *f;
	int n;
};

/* A field m of struct T; _ARR: an array, its size in aux; _LEN: its length in the size_t len. */
#define FLD(k, T, m) { k, offsetof(struct T, m), 0 }
#define FLD_ARR(k, T, m) { k, offsetof(struct T, m), sizeof(((struct T *)0)->m) }
#define FLD_LEN(k, T, m, len) { k, offsetof(struct T, m), offsetof(struct T, len) }
#define SHAPE(fields) { fields, (int)(sizeof(fields) / sizeof(fields[0])) }

/* Parameters from fields [from, to) of row. */
static void p_fields(struct params *p, const struct shape *sh, int from, int to, const void *row)
{
	for (int i = from; i < to; i++) {
		const struct field *f = &sh->f[i];
		const char *at = (const char *)row + f->off;
		const char *const *str = (const char *const *)(const void *)at;
		switch (f->kind) {
		case FK_STR:
		case FK_TEXTN:
			p_str(p, *str);
			break;
		case FK_NSTR:
			p_text(p, *str);
			break;
		case FK_JSON:
			p_text(p, *str ? *str : "{}");
			break;
		case FK_INT:
			p_int(p, *(const int64_t *)(const void *)at);
			break;
		case FK_INT32:
			p_int(p, *(const int *)(const void *)at);
			break;
		case FK_BOOL:
			p_int(p, *(const bool *)(const void *)at ? 1 : 0);
			break;
		case FK_CHARS:
			p_str(p, at);
			break;
		case FK_FIXED:
			p_blob(p, at, f->aux);
			break;
		default: /* FK_BYTES, FK_NBYTES */
			p_blob(p, *str, *(const size_t *)(const void *)((const char *)row + f->aux));
			break;
		}
	}
}

/* The bytea buffers one row read holds until its callback returned (a shape has at most 4). */
struct row_bufs {
	uint8_t *b[4];
	int n;
};

static void row_bufs_release(struct row_bufs *o)
{
	for (int i = 0; i < o->n; i++)
		free(o->b[i]);
	o->n = 0;
}

/* Fills row (zeroed first, sh->n fields or as many as r has columns) from row i of r. */
static void row_read(const PGresult *r, int i, const struct shape *sh, void *row, size_t size, struct row_bufs *o)
{
	memset(row, 0, size);
	int n = sh->n < PQnfields(r) ? sh->n : PQnfields(r);
	for (int c = 0; c < n; c++) {
		const struct field *f = &sh->f[c];
		char *at = (char *)row + f->off;
		const char **str = (const char **)(void *)at;
		size_t *len = (size_t *)(void *)((char *)row + f->aux);
		switch (f->kind) {
		case FK_STR:
		case FK_JSON:
			*str = col(r, i, c);
			break;
		case FK_NSTR:
			*str = PQgetisnull(r, i, c) ? NULL : col(r, i, c);
			break;
		case FK_TEXTN:
			*str = col(r, i, c);
			*len = (size_t)PQgetlength(r, i, c);
			break;
		case FK_INT:
			*(int64_t *)(void *)at = col_int(r, i, c);
			break;
		case FK_INT32:
			*(int *)(void *)at = (int)col_int(r, i, c);
			break;
		case FK_BOOL:
			*(bool *)(void *)at = col_int(r, i, c) != 0;
			break;
		case FK_CHARS:
			snprintf(at, f->aux, "%s", col(r, i, c));
			break;
		case FK_FIXED:
			col_fixed(r, i, c, (uint8_t *)at, f->aux);
			break;
		default: /* FK_BYTES, FK_NBYTES */
			if (f->kind == FK_NBYTES && PQgetisnull(r, i, c))
				break;
			o->b[o->n] = col_bytes(r, i, c, len);
			*str = (const char *)o->b[o->n++];
			break;
		}
	}
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

/* A row of any struct of store.h, on the stack. */
#define ROW_MAX 512

struct shaped {
	const struct shape *sh;
	store_row_fn fn;
	void *ctx;
};

static int shaped_each(const PGresult *r, int i, store_row_fn unused, void *ctx)
{
	(void)unused;
	const struct shaped *c = ctx;
	_Alignas(max_align_t) unsigned char row[ROW_MAX];
	struct row_bufs o = { .n = 0 };
	row_read(r, i, c->sh, row, sizeof(row), &o);
	int rc = c->fn(c->ctx, row);
	row_bufs_release(&o);
	return rc;
}

/* Each row of statement id as a struct of shape sh to fn; *rows (may be NULL) receives how many. */
static int each_row(struct pg_store *s, enum pg_stmt id, const struct params *p, const struct shape *sh,
		    store_row_fn fn, void *ctx, int *rows)
{
	struct shaped c = { sh, fn, ctx };
	return iterate(s, id, p, shaped_each, NULL, &c, rows);
}

/* each_row for a get: OODA_ENOTFOUND when no row came. */
static int each_found(struct pg_store *s, enum pg_stmt id, const struct params *p, const struct shape *sh,
		      store_row_fn fn, void *ctx)
{
	int n = 0;
	int rc = each_row(s, id, p, sh, fn, ctx, &n);
	return !rc && n == 0 ? OODA_ENOTFOUND : rc;
}

/* A write of fields [0, n) of row (n < 0: all of them). */
static int put_row(struct pg_store *s, enum pg_stmt id, const struct shape *sh, int n, const void *row)
{
	struct params p = { 0 };
	p_fields(&p, sh, 0, n < 0 ? sh->n : n, row);
	return wexec(s, id, &p, NULL);
}

/* The tables' rows, each in its statements' column order (pg_sql.h): NAME_shape from its fields. */
#define SHAPED(name, ...)                                                   \
	static const struct field name##_fields[] = { __VA_ARGS__ };        \
	static const struct shape name##_shape = SHAPE(name##_fields)
#define STR(T, m) FLD(FK_STR, T, m)
#define INT(T, m) FLD(FK_INT, T, m)
#define CHARS(T, m) FLD_ARR(FK_CHARS, T, m)
#define FIXED(T, m) FLD_ARR(FK_FIXED, T, m)

SHAPED(token, CHARS(token_row, id), CHARS(token_row, name), CHARS(token_row, role), CHARS(token_row, env),
	FIXED(token_row, hash), INT(token_row, created_ns), CHARS(token_row, created_by), INT(token_row, revoked_ns));
SHAPED(audit, INT(audit_row, seq), INT(audit_row, time_ns), STR(audit_row, actor), STR(audit_row, action),
	STR(audit_row, target), STR(audit_row, before_digest), STR(audit_row, after_digest), STR(audit_row, rationale),
	FLD(FK_NSTR, audit_row, detail), FIXED(audit_row, prev_hash), FIXED(audit_row, hash),
	FLD(FK_INT32, audit_row, hash_version));
SHAPED(checkpoint, INT(checkpoint_row, seq), INT(checkpoint_row, time_ns), FIXED(checkpoint_row, hash),
	FIXED(checkpoint_row, signature), FIXED(checkpoint_row, pubkey));
SHAPED(doc, STR(doc_row, kind), STR(doc_row, key), INT(doc_row, version), INT(doc_row, time_ns), STR(doc_row, author),
	STR(doc_row, rationale), FLD_LEN(FK_TEXTN, doc_row, body, body_len), FLD(FK_BOOL, doc_row, deleted),
	STR(doc_row, status));
SHAPED(snapshot, STR(pattern_snapshot_row, service), INT(pattern_snapshot_row, saved_ns),
	INT(pattern_snapshot_row, lines), FLD_LEN(FK_BYTES, pattern_snapshot_row, snapshot, snapshot_len),
	FLD_LEN(FK_BYTES, pattern_snapshot_row, severities, severities_len));
SHAPED(notify, STR(notify_row, id), STR(notify_row, dedupe_key), STR(notify_row, target), STR(notify_row, kind),
	STR(notify_row, event), STR(notify_row, payload), STR(notify_row, incident), STR(notify_row, alert),
	STR(notify_row, status), INT(notify_row, attempts), INT(notify_row, next_attempt_ns),
	STR(notify_row, last_error), INT(notify_row, created_ns), INT(notify_row, delivered_ns));
/* PG_NOTIFY_INSERT's and PG_NOTIFY_UPDATE's parameters */
SHAPED(notify_insert, STR(notify_row, id), STR(notify_row, dedupe_key), STR(notify_row, target), STR(notify_row, kind),
	STR(notify_row, event), STR(notify_row, payload), STR(notify_row, incident), STR(notify_row, alert),
	INT(notify_row, next_attempt_ns), INT(notify_row, created_ns));
SHAPED(notify_update, STR(notify_row, id), STR(notify_row, status), INT(notify_row, attempts),
	INT(notify_row, next_attempt_ns), STR(notify_row, last_error), INT(notify_row, delivered_ns));
SHAPED(incident, INT(incident_row, number), STR(incident_row, status), STR(incident_row, service),
	STR(incident_row, severity), INT(incident_row, updated_ns), STR(incident_row, body));
SHAPED(entry, INT(incident_entry_row, number), INT(incident_entry_row, seq), INT(incident_entry_row, at_ns),
	STR(incident_entry_row, kind), STR(incident_entry_row, actor), STR(incident_entry_row, text),
	FLD(FK_JSON, incident_entry_row, data));
SHAPED(artifact, INT(incident_artifact_row, number), INT(incident_artifact_row, id), STR(incident_artifact_row, name),
	STR(incident_artifact_row, content_type), INT(incident_artifact_row, size), STR(incident_artifact_row, sha256),
	STR(incident_artifact_row, uploaded_by), INT(incident_artifact_row, at_ns),
	FLD_LEN(FK_NBYTES, incident_artifact_row, bytes, bytes_len));
SHAPED(rollout, STR(rollout_row, id), STR(rollout_row, status), STR(rollout_row, env), INT(rollout_row, due_ns),
	INT(rollout_row, updated_ns), STR(rollout_row, body));
SHAPED(lease, CHARS(lease_row, node_id), INT(lease_row, term), INT(lease_row, expires_ns));
SHAPED(node, STR(node_row, node_id), STR(node_row, address), STR(node_row, version), STR(node_row, role),
	INT(node_row, term), INT(node_row, started_ns), INT(node_row, seen_ns), INT(node_row, config_generation),
	STR(node_row, config_hash), STR(node_row, config_error));
SHAPED(live, INT(live_delta_row, id), STR(live_delta_row, node_id), INT(live_delta_row, written_ns),
	FLD_LEN(FK_BYTES, live_delta_row, body, body_len));
SHAPED(pattern_lines, INT(pattern_lines_row, id), INT(pattern_lines_row, written_ns),
	FLD_LEN(FK_BYTES, pattern_lines_row, body, body_len));
SHAPED(pattern_mark, INT(pattern_lines_row, id));
#undef STR
#undef INT
#undef CHARS
#undef FIXED

/* Reads row 0 of r into out when there is exactly one; 1 when there was, 0 when none, -1 for several. */
static int read_one(PGresult *r, const struct shape *sh, void *out, size_t size)
{
	int n = PQntuples(r);
	if (n == 1) {
		struct row_bufs o = { .n = 0 };
		row_read(r, 0, sh, out, size, &o);
	}
	return n == 1 ? 1 : n == 0 ? 0 : -1;
}

/* ---- tokens ------------------------------------------------------------------ */

static int pg_token_insert(void *impl, const struct token_row *t)
{
	return put_row(impl, PG_TOKEN_INSERT, &token_shape, 7, t); /* revoked_ns starts 0 */
}

static int pg_token_revoke(void *impl, const char *id_or_name, int64_t now, struct token_row *out)
{
	struct pg_store *s = impl;
	struct params p = { 0 };
	p_str(&p, id_or_name);
	PGresult *r = rexec(s, &s->w, PG_TOKEN_REVOKE_FIND, &p);
	if (!r)
		return OODA_EIO;
	int found = read_one(r, &token_shape, out, sizeof(*out));
	PQclear(r);
	if (found == 0)
		return OODA_ENOTFOUND;
	if (found < 0)
		return OODA_ECONFLICT; /* a name shared by several active tokens: use the id */
	struct params q = { 0 };
	p_str(&q, out->id);
	p_int(&q, now);
	out->revoked_ns = now;
	return wexec(s, PG_TOKEN_REVOKE, &q, NULL);
}

static int pg_token_list(void *impl, store_row_fn fn, void *ctx)
{
	return each_row(impl, PG_TOKEN_LIST, NULL, &token_shape, fn, ctx, NULL);
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
	return put_row(impl, PG_AUDIT_INSERT, &audit_shape, -1, a);
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
	return each_row(impl, f->descending ? PG_AUDIT_ITER_DESC : PG_AUDIT_ITER_ASC, &p, &audit_shape, fn, ctx, NULL);
}

static int pg_checkpoint_insert(void *impl, const struct checkpoint_row *cp)
{
	return put_row(impl, PG_CHECKPOINT_INSERT, &checkpoint_shape, -1, cp);
}

static int pg_checkpoint_iter(void *impl, store_row_fn fn, void *ctx)
{
	return each_row(impl, PG_CHECKPOINT_LIST, NULL, &checkpoint_shape, fn, ctx, NULL);
}

static int checkpoint_copy(void *ctx, const void *row)
{
	memcpy(ctx, row, sizeof(struct checkpoint_row));
	return 0;
}

static int pg_checkpoint_last(void *impl, struct checkpoint_row *out)
{
	return each_found(impl, PG_CHECKPOINT_LAST, NULL, &checkpoint_shape, checkpoint_copy, out);
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
	char *body = xmalloc(d->body_len + 1); /* text parameters end at a NUL */
	memcpy(body, d->body, d->body_len);
	body[d->body_len] = 0;
	struct doc_row row = *d;
	row.body = body;
	int rc = put_row(s, PG_DOC_INSERT, &doc_shape, -1, &row);
	free(body);
	return rc;
}

static int pg_doc_get(void *impl, const char *kind, const char *key, int64_t version, store_row_fn fn, void *ctx)
{
	struct params p = { 0 };
	p_str(&p, kind);
	p_str(&p, key);
	if (version)
		p_int(&p, version);
	return each_found(impl, version ? PG_DOC_GET_VERSION : PG_DOC_GET_LATEST, &p, &doc_shape, fn, ctx);
}

static int pg_doc_list(void *impl, const char *kind, const char *prefix, const char *after, size_t limit,
		       store_row_fn fn, void *ctx)
{
	struct params p = { 0 };
	p_str(&p, kind);
	p_str(&p, prefix);
	p_str(&p, after);
	p_limit(&p, limit);
	return each_row(impl, PG_DOC_LIST, &p, &doc_shape, fn, ctx, NULL);
}

static int pg_doc_list_status(void *impl, const char *kind, const char *status, store_row_fn fn, void *ctx)
{
	struct params p = { 0 };
	p_str(&p, kind);
	p_str(&p, status);
	return each_row(impl, PG_DOC_LIST_STATUS, &p, &doc_shape, fn, ctx, NULL);
}

static int pg_doc_history(void *impl, const char *kind, const char *key, store_row_fn fn, void *ctx)
{
	struct params p = { 0 };
	p_str(&p, kind);
	p_str(&p, key);
	return each_found(impl, PG_DOC_HISTORY, &p, &doc_shape, fn, ctx);
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
	return put_row(impl, PG_PATTERN_SNAPSHOT_PUT, &snapshot_shape, -1, r);
}

static int pg_pattern_snapshot_iter(void *impl, store_row_fn fn, void *ctx)
{
	return each_row(impl, PG_PATTERN_SNAPSHOT_LIST, NULL, &snapshot_shape, fn, ctx, NULL);
}

/* ---- the notification outbox ------------------------------------------------- */

static int pg_notify_insert(void *impl, const struct notify_row *r, bool *inserted)
{
	struct params p = { 0 };
	p_fields(&p, &notify_insert_shape, 0, notify_insert_shape.n, r);
	int64_t n = 0;
	int rc = wexec(impl, PG_NOTIFY_INSERT, &p, &n);
	*inserted = !rc && n > 0;
	return rc;
}

static int pg_notify_due(void *impl, int64_t now_ns, size_t limit, store_row_fn fn, void *ctx)
{
	struct params p = { 0 };
	p_int(&p, now_ns);
	p_limit(&p, limit);
	return each_row(impl, PG_NOTIFY_DUE, &p, &notify_shape, fn, ctx, NULL);
}

static int pg_notify_update(void *impl, const struct notify_row *r)
{
	struct params p = { 0 };
	p_fields(&p, &notify_update_shape, 0, notify_update_shape.n, r);
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
	return each_row(impl, PG_NOTIFY_LIST, &p, &notify_shape, fn, ctx, NULL);
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
	return put_row(impl, PG_INCIDENT_PUT, &incident_shape, -1, r);
}

static int pg_incident_get(void *impl, int64_t number, store_row_fn fn, void *ctx)
{
	struct params p = { 0 };
	p_int(&p, number);
	return each_found(impl, PG_INCIDENT_GET, &p, &incident_shape, fn, ctx);
}

static int pg_incident_iter(void *impl, store_row_fn fn, void *ctx)
{
	return each_row(impl, PG_INCIDENT_LIST, NULL, &incident_shape, fn, ctx, NULL);
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

/* The next number of a per-incident sequence (PG_INCIDENT_ENTRY_NEXT, _ARTIFACT_NEXT), on the writer. */
static int next_of(struct pg_store *s, enum pg_stmt id, int64_t number, int64_t *next)
{
	struct params p = { 0 };
	p_int(&p, number);
	PGresult *r = rexec(s, &s->w, id, &p);
	int ok = r && PQntuples(r) == 1;
	if (ok)
		*next = col_int(r, 0, 0);
	PQclear(r);
	return ok ? 0 : OODA_EIO;
}

static int pg_incident_entry_append(void *impl, struct incident_entry_row *e)
{
	int rc = next_of(impl, PG_INCIDENT_ENTRY_NEXT, e->number, &e->seq);
	return rc ? rc : put_row(impl, PG_INCIDENT_ENTRY_INSERT, &entry_shape, -1, e);
}

static int pg_incident_entry_iter(void *impl, int64_t number, store_row_fn fn, void *ctx)
{
	struct params p = { 0 };
	p_int(&p, number);
	return each_row(impl, PG_INCIDENT_ENTRY_LIST, &p, &entry_shape, fn, ctx, NULL);
}

static int pg_incident_artifact_put(void *impl, struct incident_artifact_row *a)
{
	int rc = next_of(impl, PG_INCIDENT_ARTIFACT_NEXT, a->number, &a->id);
	return rc ? rc : put_row(impl, PG_INCIDENT_ARTIFACT_INSERT, &artifact_shape, -1, a);
}

static int pg_incident_artifact_get(void *impl, int64_t number, int64_t id, store_row_fn fn, void *ctx)
{
	struct params p = { 0 };
	p_int(&p, number);
	p_int(&p, id);
	return each_found(impl, PG_INCIDENT_ARTIFACT_GET, &p, &artifact_shape, fn, ctx);
}

static int pg_incident_artifact_iter(void *impl, int64_t number, store_row_fn fn, void *ctx)
{
	struct params p = { 0 };
	p_int(&p, number);
	return each_row(impl, PG_INCIDENT_ARTIFACT_LIST, &p, &artifact_shape, fn, ctx, NULL);
}

/* ---- rollouts ------------------------------------------------------------ */

static int pg_rollout_put(void *impl, const struct rollout_row *r)
{
	return put_row(impl, PG_ROLLOUT_PUT, &rollout_shape, -1, r);
}

static int pg_rollout_get(void *impl, const char *id, store_row_fn fn, void *ctx)
{
	struct params p = { 0 };
	p_str(&p, id);
	return each_found(impl, PG_ROLLOUT_GET, &p, &rollout_shape, fn, ctx);
}

static int pg_rollout_list(void *impl, const char *status, size_t limit, store_row_fn fn, void *ctx)
{
	struct params p = { 0 };
	p_int(&p, (int64_t)(limit ? limit : 1000));
	if (status)
		p_str(&p, status);
	return each_row(impl, status ? PG_ROLLOUT_LIST_STATUS : PG_ROLLOUT_LIST, &p, &rollout_shape, fn, ctx, NULL);
}

/* ---- several nodes: lease, fence, heartbeats ------------------------------ */

/* The writer's read of the lease, inside the transaction (the write lock is held). */
static int lease_read_tx(struct pg_store *s, struct lease_row *out)
{
	PGresult *r = rexec(s, &s->w, PG_LEASE_GET, NULL);
	if (!r)
		return OODA_EIO;
	int n = read_one(r, &lease_shape, out, sizeof(*out));
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
	int n = read_one(r, &lease_shape, out, sizeof(*out));
	PQclear(r);
	return n == 1 ? 0 : lease_read_tx(s, out);
}

static int lease_copy(void *ctx, const void *row)
{
	memcpy(ctx, row, sizeof(struct lease_row));
	return 0;
}

static int pg_lease_get(void *impl, struct lease_row *out)
{
	memset(out, 0, sizeof(*out));
	return each_found(impl, PG_LEASE_GET, NULL, &lease_shape, lease_copy, out);
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
	return put_row(impl, PG_NODE_PUT, &node_shape, -1, r);
}

static int pg_node_list(void *impl, store_row_fn fn, void *ctx)
{
	return each_row(impl, PG_NODE_LIST, NULL, &node_shape, fn, ctx, NULL);
}

/* ---- the cluster's configuration reload generation ------------------------ */

static int pg_config_gen_bump(void *impl, const char *node, const char *actor, int64_t now_ns, int64_t *gen)
{
	struct pg_store *s = impl;
	struct params p = { 0 };
	p_str(&p, node);
	p_str(&p, actor);
	p_int(&p, now_ns);
	PGresult *r = rexec(s, &s->w, PG_CONFIG_GEN_BUMP, &p);
	if (!r)
		return OODA_EIO;
	int n = PQntuples(r);
	*gen = n == 1 ? col_int(r, 0, 0) : 0;
	PQclear(r);
	return n == 1 ? 0 : OODA_EIO;
}

static int config_gen_copy(const PGresult *r, int i, store_row_fn fn, void *ctx)
{
	(void)fn;
	struct config_gen_row *out = ctx;
	out->generation = col_int(r, i, 0);
	snprintf(out->node_id, sizeof(out->node_id), "%s", col(r, i, 1));
	snprintf(out->actor, sizeof(out->actor), "%s", col(r, i, 2));
	out->at_ns = col_int(r, i, 3);
	return 0;
}

static int pg_config_gen_get(void *impl, struct config_gen_row *out)
{
	return iterate(impl, PG_CONFIG_GEN_GET, NULL, config_gen_copy, NULL, out, NULL);
}

/* ---- exemplars and remote-write metadata every node reads ------------------ */

static int pg_exemplars_put(void *impl, int64_t now_ns, const void *body, size_t len, int64_t keep)
{
	struct params p = { 0 };
	p_int(&p, now_ns);
	p_blob(&p, body, len);
	int rc = wexec(impl, PG_EXEMPLARS_PUT, &p, NULL);
	if (rc)
		return rc;
	struct params q = { 0 };
	p_int(&q, keep);
	return wexec(impl, PG_EXEMPLARS_PRUNE, &q, NULL);
}

static int exemplar_batch_each(const PGresult *r, int i, store_row_fn fn, void *ctx)
{
	size_t n;
	uint8_t *b = col_bytes(r, i, 2, &n);
	struct exemplar_batch_row row = { .id = col_int(r, i, 0), .written_ns = col_int(r, i, 1), .body = b,
					  .body_len = n };
	int rc = fn(ctx, &row);
	free(b);
	return rc;
}

static int pg_exemplars_list(void *impl, int64_t after_id, size_t limit, store_row_fn fn, void *ctx)
{
	struct params p = { 0 };
	p_int(&p, after_id);
	p_int(&p, (int64_t)limit);
	return iterate(impl, PG_EXEMPLARS_LIST, &p, exemplar_batch_each, fn, ctx, NULL);
}

static int pg_metadata_put(void *impl, const char *name, const char *type, const char *help, const char *unit)
{
	struct params p = { 0 };
	p_str(&p, name);
	p_str(&p, type ? type : "unknown");
	p_str(&p, help ? help : "");
	p_str(&p, unit ? unit : "");
	return wexec(impl, PG_METADATA_PUT, &p, NULL);
}

static int metadata_each(const PGresult *r, int i, store_row_fn fn, void *ctx)
{
	struct metric_meta_row row = { .name = col(r, i, 0), .type = col(r, i, 1), .help = col(r, i, 2),
				       .unit = col(r, i, 3), .seq = col_int(r, i, 4) };
	return fn(ctx, &row);
}

static int pg_metadata_list(void *impl, int64_t after_seq, size_t limit, store_row_fn fn, void *ctx)
{
	struct params p = { 0 };
	p_int(&p, after_seq);
	p_int(&p, (int64_t)limit);
	return iterate(impl, PG_METADATA_LIST, &p, metadata_each, fn, ctx, NULL);
}

/* ---- the nodes' audit signing keys ---------------------------------------- */

static int pg_audit_key_put(void *impl, const uint8_t pk[32], const char *node, int64_t now_ns)
{
	struct params p = { 0 };
	p_blob(&p, pk, 32);
	p_str(&p, node);
	p_int(&p, now_ns);
	return wexec(impl, PG_AUDIT_KEY_PUT, &p, NULL);
}

static int audit_key_each(const PGresult *r, int i, store_row_fn fn, void *ctx)
{
	struct audit_key_row k = { .node_id = col(r, i, 1), .published_ns = col_int(r, i, 2) };
	col_fixed(r, i, 0, k.pubkey, 32);
	return fn(ctx, &k);
}

static int pg_audit_key_list(void *impl, store_row_fn fn, void *ctx)
{
	return iterate(impl, PG_AUDIT_KEY_LIST, NULL, audit_key_each, fn, ctx, NULL);
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
	struct live_delta_row row = { .node_id = node, .written_ns = written_ns, .body = body, .body_len = len };
	struct params p = { 0 };
	p_fields(&p, &live_shape, 1, live_shape.n, &row); /* the id is the database's */
	return wexec(impl, PG_LIVE_PUT, &p, NULL);
}

static int pg_live_list(void *impl, const char *node, int64_t after_id, int64_t own_before_ns, size_t limit,
			store_row_fn fn, void *ctx)
{
	struct params p = { 0 };
	p_str(&p, node);
	p_int(&p, after_id);
	p_int(&p, own_before_ns);
	p_int(&p, (int64_t)(limit ? limit : 1));
	return each_row(impl, PG_LIVE_LIST, &p, &live_shape, fn, ctx, NULL);
}

static int pg_live_prune(void *impl, int64_t before_ns)
{
	struct params p = { 0 };
	p_int(&p, before_ns);
	return wexec(impl, PG_LIVE_PRUNE, &p, NULL);
}

/* ---- the live feed's events shared between nodes ---------------------------- */

static int pg_stream_put(void *impl, const char *node, int64_t now_ns, const char *type, const char *body,
			 int64_t keep_after_ns)
{
	struct params p = { 0 };
	p_str(&p, node);
	p_int(&p, now_ns);
	p_str(&p, type);
	p_str(&p, body);
	int rc = wexec(impl, PG_STREAM_PUT, &p, NULL);
	if (rc)
		return rc;
	struct params q = { 0 };
	p_int(&q, keep_after_ns);
	return wexec(impl, PG_STREAM_PRUNE, &q, NULL);
}

static int stream_event_each(const PGresult *r, int i, store_row_fn fn, void *ctx)
{
	struct stream_event_row row = { .id = col_int(r, i, 0), .node_id = col(r, i, 1), .created_ns = col_int(r, i, 2),
					.type = col(r, i, 3), .body = col(r, i, 4) };
	return fn(ctx, &row);
}

static int pg_stream_list(void *impl, const char *node, int64_t after_id, size_t limit, store_row_fn fn, void *ctx)
{
	struct params p = { 0 };
	p_str(&p, node);
	p_int(&p, after_id);
	p_int(&p, (int64_t)(limit ? limit : 1));
	return iterate(impl, PG_STREAM_LIST, &p, stream_event_each, fn, ctx, NULL);
}

static int stream_head_each(const PGresult *r, int i, store_row_fn fn, void *ctx)
{
	(void)fn;
	*(int64_t *)ctx = col_int(r, i, 0);
	return 0;
}

static int pg_stream_head(void *impl, int64_t *id)
{
	*id = 0;
	return iterate(impl, PG_STREAM_HEAD, NULL, stream_head_each, NULL, id, NULL);
}

/* ---- log lines shared for the pattern miners ---------------------------------- */

static int pg_pattern_lines_put(void *impl, int64_t written_ns, const void *body, size_t len)
{
	struct pattern_lines_row row = { .written_ns = written_ns, .body = body, .body_len = len };
	struct params p = { 0 };
	p_fields(&p, &pattern_lines_shape, 1, pattern_lines_shape.n, &row); /* the id is the database's */
	return wexec(impl, PG_PATTERN_LINES_PUT, &p, NULL);
}

static int pg_pattern_lines_list(void *impl, int64_t after_id, size_t limit, store_row_fn fn, void *ctx)
{
	struct params p = { 0 };
	p_int(&p, after_id);
	p_int(&p, (int64_t)(limit ? limit : 1));
	return each_row(impl, PG_PATTERN_LINES_LIST, &p, &pattern_lines_shape, fn, ctx, NULL);
}

static int pg_pattern_lines_prune(void *impl, int64_t upto_id, int64_t before_ns)
{
	struct params p = { 0 };
	p_int(&p, upto_id);
	p_int(&p, before_ns);
	return wexec(impl, PG_PATTERN_LINES_PRUNE, &p, NULL);
}

static int pg_pattern_mark_put(void *impl, int64_t id)
{
	struct params p = { 0 };
	p_int(&p, id);
	return wexec(impl, PG_PATTERN_MARK_PUT, &p, NULL);
}

static int mark_row(void *ctx, const void *row)
{
	*(int64_t *)ctx = ((const struct pattern_lines_row *)row)->id;
	return 0;
}

static int pg_pattern_mark_get(void *impl, int64_t *id)
{
	struct params p = { 0 };
	*id = 0;
	return each_row(impl, PG_PATTERN_MARK_GET, &p, &pattern_mark_shape, mark_row, id, NULL);
}

/* ---- generations (store_gen_*) ------------------------------------------------ */

static int pg_gen_bump(void *impl, const char *name)
{
	struct params p = { 0 };
	p_str(&p, name);
	return wexec(impl, PG_GEN_BUMP, &p, NULL);
}

/*
 * On a connection of its own, not the reader: every request a node answers
 * from a cache reads the generations first, and behind the reader's other
 * reads (the cluster thread's rounds, listings) its tail grew to
 * milliseconds (docs/benchmarks.md). Inside a write it reads on the writer,
 * as every read does, to see the transaction's own bumps.
 */
static int pg_gen_read(void *impl, int64_t gens[STORE_GEN_COUNT])
{
	struct pg_store *s = impl;
	struct pconn *c = &s->w;
	if (!in_tx) {
		pthread_mutex_lock(&s->gmu);
		int rc = s->g.pg ? (pconn_alive(&s->g, NULL) ? 0 : OODA_EUNAVAIL) : pconn_open(&s->g, s->dsn, NULL, NULL);
		if (rc) {
			pthread_mutex_unlock(&s->gmu);
			return OODA_EUNAVAIL;
		}
		c = &s->g;
	}
	PGresult *r = rexec(s, c, PG_GEN_READ, NULL);
	for (int i = 0, n = r ? PQntuples(r) : 0; i < n; i++)
		for (int g = 0; g < STORE_GEN_COUNT; g++)
			if (!strcmp(col(r, i, 0), store_gen_name((enum store_gen)g)))
				gens[g] = col_int(r, i, 1);
	int rc = r ? 0 : OODA_EIO;
	PQclear(r);
	if (c == &s->g)
		pthread_mutex_unlock(&s->gmu);
	return rc;
}

/* ---- fresh telemetry announced between nodes (store_fresh_*) ------------------ */

static int pg_fresh_announce(void *impl, const char *from)
{
	struct pg_store *s = impl;
	struct pconn *c = rconn(s);
	if (!c)
		return OODA_EUNAVAIL;
	struct params p = { 0 };
	p_str(&p, from);
	PGresult *r = rexec(s, c, PG_FRESH_ANNOUNCE, &p);
	int rc = r ? 0 : OODA_EUNAVAIL;
	PQclear(r);
	rdone(s, c);
	return rc;
}

/* Takes the announcements waiting on pg; counts those from other nodes than self. */
static int fresh_drain(PGconn *pg, const void *self)
{
	int other = 0;
	PGnotify *n;
	while ((n = PQnotifies(pg))) {
		if (strcmp(n->extra, self))
			other++;
		PQfreemem(n);
	}
	return other;
}

static int pg_fresh_wait(void *impl, const char *self, int64_t timeout_ms)
{
	struct pg_store *s = impl;
	pthread_mutex_lock(&s->fmu);
	int got = listen_wait(s, &s->f, PG_LISTEN_FRESH, timeout_ms, fresh_drain, self);
	pthread_mutex_unlock(&s->fmu);
	return got < 0 ? got : got ? 0 : OODA_ETIMEOUT;
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
	.fresh_announce = pg_fresh_announce,
	.fresh_wait = pg_fresh_wait,
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
	.config_gen_bump = pg_config_gen_bump,
	.config_gen_get = pg_config_gen_get,
	.audit_key_put = pg_audit_key_put,
	.audit_key_list = pg_audit_key_list,
	.exemplars_put = pg_exemplars_put,
	.exemplars_list = pg_exemplars_list,
	.stream_put = pg_stream_put,
	.stream_list = pg_stream_list,
	.stream_head = pg_stream_head,
	.metadata_put = pg_metadata_put,
	.metadata_list = pg_metadata_list,
	.table_count = pg_table_count,
	.table_iter = pg_table_iter,
	.table_insert = pg_table_insert,

	.live_put = pg_live_put,
	.live_list = pg_live_list,
	.gen_bump = pg_gen_bump,
	.gen_read = pg_gen_read,
	.live_prune = pg_live_prune,
	.pattern_lines_put = pg_pattern_lines_put,
	.pattern_lines_list = pg_pattern_lines_list,
	.pattern_lines_prune = pg_pattern_lines_prune,
	.pattern_mark_put = pg_pattern_mark_put,
	.pattern_mark_get = pg_pattern_mark_get,
};
