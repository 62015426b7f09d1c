/*
 * The schema of telemetry.db: numbered migrations tracked in PRAGMA
 * user_version, as control.db's are (sqlite_sql.h), shared by the block
 * store's open (tstore.c) and the offline check and repair
 * (tstore_check.c). Only store/ includes this.
 */
#ifndef OODA_TSTORE_SCHEMA_H
#define OODA_TSTORE_SCHEMA_H

#include <sqlite3.h>
#include <stdint.h>

#include "core/buf.h"

/* The user_version of db, or -1 when it cannot be read. */
int64_t tstore_schema_version(sqlite3 *db);

/*
 * 0 when this ooda reads a telemetry.db at version; OODA_ESCHEMA when a
 * newer ooda wrote it, err naming path, both versions and the way out.
 */
int tstore_schema_check(const char *path, int64_t version, struct buf *err);

/*
 * Brings db from version to TSTORE_SCHEMA_VERSION: each migration in its
 * own transaction together with its user_version, so a failure leaves the
 * file at the last migration that committed (err names the one that
 * failed). Connection settings (journal mode, auto_vacuum) are the
 * caller's, set before. Returns 0 or OODA_EIO/OODA_ESCHEMA.
 */
int tstore_schema_migrate(sqlite3 *db, const char *path, int64_t version, struct buf *err);

#endif
