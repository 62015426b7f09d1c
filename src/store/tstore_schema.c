/*
 * telemetry.db's numbered migrations (see tstore_schema.h). Version 1 is
 * the layout ooda wrote before the file carried a version, written with
 * IF NOT EXISTS so that such a file (user_version 0, tables present) takes
 * it as is; a new file gets the same tables. Later layouts append a
 * migration and raise TSTORE_SCHEMA_VERSION with it.
 */
#include "store/tstore_schema.h"
#include "store/tstore.h"
#include "core/error.h"

#define BLOCK_TABLE(t)                                                                                   \
	"CREATE TABLE IF NOT EXISTS " t "(id INTEGER PRIMARY KEY, service TEXT NOT NULL, "                 \
	"tmin INTEGER NOT NULL, tmax INTEGER NOT NULL, n INTEGER NOT NULL, "                               \
	"min_sev INTEGER NOT NULL, max_sev INTEGER NOT NULL, raw INTEGER NOT NULL, "                       \
	"bloom BLOB, data BLOB NOT NULL);"                                                                 \
	"CREATE INDEX IF NOT EXISTS " t "_tmax ON " t "(tmax);"                                            \
	"CREATE INDEX IF NOT EXISTS " t "_svc ON " t "(service, tmax);"

/* Migration N brings user_version from N-1 to N. Append only; never edit. */
static const char *const migrations[] = {
	/* 1: block tables per signal, change events */
	BLOCK_TABLE("log_blocks") BLOCK_TABLE("span_blocks") BLOCK_TABLE("metric_blocks")
	"CREATE TABLE IF NOT EXISTS events(seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, "
	"time INTEGER NOT NULL, kind TEXT NOT NULL, service TEXT, environment TEXT, "
	"version TEXT, actor TEXT, description TEXT, source TEXT, links TEXT, attrs TEXT);"
	"CREATE INDEX IF NOT EXISTS events_time ON events(time);",
};

#define N_MIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))
_Static_assert(N_MIGRATIONS == TSTORE_SCHEMA_VERSION, "TSTORE_SCHEMA_VERSION is the number of migrations");

int64_t tstore_schema_version(sqlite3 *db)
{
	sqlite3_stmt *st;
	int64_t v = -1;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

int tstore_schema_check(const char *path, int64_t version, struct buf *err)
{
	if (version <= TSTORE_SCHEMA_VERSION)
		return 0;
	buf_addf(err, "%s has schema version %lld, newer than this ooda supports (%d): run the ooda version that "
		      "wrote it, or start with `ooda serve --recreate-telemetry` to move it aside and begin an empty "
		      "telemetry store",
		 path, (long long)version, TSTORE_SCHEMA_VERSION);
	return OODA_ESCHEMA;
}

static int run(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : OODA_EIO;
}

int tstore_schema_migrate(sqlite3 *db, const char *path, int64_t version, struct buf *err)
{
	int rc = tstore_schema_check(path, version, err);
	if (rc || version == TSTORE_SCHEMA_VERSION)
		return rc;
	if (version < 0) {
		buf_addf(err, "%s: cannot read its schema version", path);
		return OODA_EIO;
	}
	for (int v = (int)version; v < N_MIGRATIONS; v++) {
		char pragma[48];
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", v + 1);
		if (run(db, "BEGIN IMMEDIATE") || run(db, migrations[v]) || run(db, pragma) || run(db, "COMMIT")) {
			buf_addf(err, "%s: migration %d of telemetry.db failed: %s", path, v + 1, sqlite3_errmsg(db));
			run(db, "ROLLBACK");
			return OODA_EIO;
		}
	}
	return 0;
}
