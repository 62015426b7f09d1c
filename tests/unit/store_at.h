/*
 * The control store the unit tests open: SQLite in the test's temp dir, or,
 * when OODA_TEST_PG_DSN names a PostgreSQL server (tests/pg/run sets it), a
 * database of that server made for the dir (one per dir, so two opens of one
 * dir share it as two processes would share control.db). Included by the
 * store, vdoc, audit, incident and notify tests: their assertions run
 * unchanged on both backends.
 */
#ifndef OODA_TEST_STORE_AT_H
#define OODA_TEST_STORE_AT_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "store/store.h"

/* The connection string of dir's database, or NULL on SQLite. Creates the database on first use. */
static inline const char *test_store_dsn(const char *dir, char *out, size_t size)
{
	const char *base = getenv("OODA_TEST_PG_DSN");
	if (!base || !*base)
		return NULL;
	uint64_t h = 1469598103934665603ULL;
	for (const char *p = dir; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ULL;
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "psql -qX '%s' -c 'CREATE DATABASE t%016llx' >/dev/null 2>&1", base,
		 (unsigned long long)h);
	if (system(cmd)) {
		/* exists already: a second open of the same dir */
	}
	/* libpq takes the last of a repeated keyword */
	snprintf(out, size, "%s dbname=t%016llx", base, (unsigned long long)h);
	return out;
}

static inline int test_store_open(const char *dir, unsigned flags, struct store **out, struct buf *err)
{
	char dsn[1024];
	struct store_location loc = { .dir = dir, .pg_dsn = test_store_dsn(dir, dsn, sizeof(dsn)) };
	return store_open_at(&loc, flags, out, err);
}

/*
 * On PostgreSQL: runs q (SQL written for SQLite; zeroblob(64) is the one
 * function translated) in dir's database with psql and returns psql's exit
 * status; with out, the rows are appended to it as SQLite's shell would
 * print them ("|" between columns, NULL as NULL, one line each). Returns -1
 * on SQLite (the caller runs q itself).
 */
static inline int test_store_psql(const char *dir, const char *q, struct buf *out)
{
	char dsn[1024];
	if (!test_store_dsn(dir, dsn, sizeof(dsn)))
		return -1;
	struct buf sq = BUF_INIT, cmd = BUF_INIT;
	for (const char *p = q; *p; p++) {
		if (!strncmp(p, "zeroblob(64)", 12)) {
			buf_adds(&sq, "decode(repeat('00', 64), 'hex')");
			p += 11;
		} else {
			buf_addch(&sq, *p);
		}
	}
	buf_addf(&cmd, "psql -qXtA -P null=NULL -v ON_ERROR_STOP=1 '%s' -c '", dsn);
	for (size_t i = 0; i < sq.len; i++) {
		if (sq.data[i] == '\'')
			buf_adds(&cmd, "'\\''"); /* for the shell */
		else
			buf_addch(&cmd, sq.data[i]);
	}
	buf_addch(&cmd, '\'');
	FILE *f = popen(cmd.data, "r");
	buf_release(&sq);
	buf_release(&cmd);
	if (!f)
		return 1;
	char line[4096];
	while (fgets(line, sizeof(line), f))
		if (out)
			buf_adds(out, line);
	return pclose(f);
}

/* On PostgreSQL, the first value q selects; -1 on SQLite. */
static inline int test_store_psql_int(const char *dir, const char *q, int64_t *v)
{
	struct buf out = BUF_INIT;
	int rc = test_store_psql(dir, q, &out);
	*v = out.len ? strtoll(out.data, NULL, 10) : 0;
	buf_release(&out);
	return rc;
}

#endif
