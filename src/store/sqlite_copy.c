/* Online copy of an open SQLite database (see sqlite_copy.h). */
#include "store/sqlite_copy.h"
#include "core/error.h"

int sqlite_copy_to(sqlite3 *src, const char *path, int pages_per_step, struct buf *err)
{
	sqlite3 *dst = NULL;
	if (sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		buf_addf(err, "cannot create %s: %s", path, dst ? sqlite3_errmsg(dst) : "out of memory");
		sqlite3_close(dst);
		return OODA_EIO;
	}
	sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
	int rc = OODA_EIO;
	if (b) {
		int step;
		while ((step = sqlite3_backup_step(b, pages_per_step)) == SQLITE_OK || step == SQLITE_BUSY ||
		       step == SQLITE_LOCKED)
			sqlite3_sleep(5);
		sqlite3_backup_finish(b);
		rc = step == SQLITE_DONE ? 0 : OODA_EIO;
	}
	if (rc)
		buf_addf(err, "backup to %s failed: %s", path, sqlite3_errmsg(dst));
	sqlite3_close(dst);
	return rc;
}
