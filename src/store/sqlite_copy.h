/*
 * Online copy of an open SQLite database into a new file, shared by the
 * control store's backup and the telemetry store's. Only store/ includes
 * this.
 */
#ifndef OODA_SQLITE_COPY_H
#define OODA_SQLITE_COPY_H

#include <sqlite3.h>

#include "core/buf.h"

/*
 * Copies the main database of src into path (created or replaced) with
 * SQLite's backup API, pages_per_step pages at a time, so a writer on the
 * same file waits at most one step. Returns 0, or OODA_EIO with detail
 * naming path.
 */
int sqlite_copy_to(sqlite3 *src, const char *path, int pages_per_step, struct buf *err);

#endif
