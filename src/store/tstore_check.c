/*
 * Damage control for telemetry.db, beside the block store (tstore.c): the
 * look at the file that tstore_open takes before SQLite sees it (an empty
 * file or one that is not SQLite is refused, not silently replaced), and
 * the offline check and repair behind `ooda telemetry check` and `ooda
 * telemetry repair`: decode every block, list those that fail with what is
 * known about them, and delete exactly those. A running daemon skips such
 * blocks on its own (tstore_scan); repair makes the answers whole again.
 */
#include "store/tstore.h"
#include "store/tblock.h"
#include "store/tstore_schema.h"
#include "core/arena.h"
#include "core/error.h"

#include <errno.h>
#include <sqlite3.h>
#include <sys/stat.h>

static const char *const check_table[3] = { "log_blocks", "span_blocks", "metric_blocks" };

#define RECREATE_HINT                                                                                    \
	"Restore telemetry.db from a backup (`ooda backup`), or start with `ooda serve --recreate-telemetry` " \
	"to move it aside and begin an empty telemetry store"

int tstore_file_check(const char *path, bool expect_existing, bool *exists, struct buf *err)
{
	struct stat st;
	*exists = false;
	if (stat(path, &st)) {
		if (errno != ENOENT) {
			buf_addf(err, "cannot look at %s: %s", path, strerror(errno));
			return OODA_EIO;
		}
		if (!expect_existing)
			return 0; /* a first run */
		buf_addf(err, "%s is missing, though control.db records that telemetry was stored in this data dir. "
			      "%s",
			 path, RECREATE_HINT);
		return OODA_ECORRUPT;
	}
	*exists = true;
	if (!S_ISREG(st.st_mode)) {
		buf_addf(err, "%s is not a regular file", path);
		return OODA_ECORRUPT;
	}
	if (st.st_size == 0) {
		/* a database never checkpointed lives in its WAL: SQLite recovers that one */
		char wal[4200];
		struct stat ws;
		snprintf(wal, sizeof(wal), "%s-wal", path);
		if (!stat(wal, &ws) && ws.st_size > 0)
			return 0;
		buf_addf(err, "%s is empty (0 bytes): the telemetry it held is gone. %s", path, RECREATE_HINT);
		return OODA_ECORRUPT;
	}
	FILE *f = fopen(path, "rb");
	char head[16] = { 0 };
	size_t got = f ? fread(head, 1, sizeof(head), f) : 0;
	if (f)
		fclose(f);
	if (!f) {
		buf_addf(err, "cannot read %s: %s", path, strerror(errno));
		return OODA_EIO;
	}
	if (got < sizeof(head) || memcmp(head, "SQLite format 3", 16)) {
		buf_addf(err, "%s is not a SQLite database (its first bytes are not a SQLite header). %s", path,
			 RECREATE_HINT);
		return OODA_ECORRUPT;
	}
	return 0;
}

void tstore_check_release(struct tstore_check_report *r)
{
	free(r->bad);
	memset(r, 0, sizeof(*r));
}

static int open_db(const char *dir, bool write, sqlite3 **db, char *path, size_t cap, struct buf *err)
{
	struct stat st;
	if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
		buf_addf(err, "data dir %s does not exist", dir);
		return OODA_ENOTFOUND;
	}
	snprintf(path, cap, "%s/telemetry.db", dir);
	bool exists;
	int rc = tstore_file_check(path, false, &exists, err);
	if (rc)
		return rc;
	if (!exists) {
		buf_addf(err, "%s does not exist: there is no telemetry to check", path);
		return OODA_ENOTFOUND;
	}
	*db = NULL;
	if (sqlite3_open_v2(path, db, write ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		buf_addf(err, "cannot open %s: %s", path, *db ? sqlite3_errmsg(*db) : "out of memory");
		sqlite3_close(*db);
		*db = NULL;
		return OODA_EIO;
	}
	sqlite3_busy_timeout(*db, 10000);
	/* a newer ooda's file is neither checked nor repaired by this one */
	rc = tstore_schema_check(path, tstore_schema_version(*db), err);
	if (rc) {
		sqlite3_close(*db);
		*db = NULL;
	}
	return rc;
}

static void add_bad(struct tstore_check_report *r, size_t *cap, const struct tstore_bad_block *b)
{
	if (r->n_bad == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		r->bad = xrealloc(r->bad, *cap * sizeof(*r->bad));
	}
	r->bad[r->n_bad++] = *b;
}

int tstore_check(const char *dir, struct tstore_check_report *out, struct buf *err)
{
	memset(out, 0, sizeof(*out));
	char path[4200];
	sqlite3 *db;
	int rc = open_db(dir, false, &db, path, sizeof(path), err);
	if (rc)
		return rc;
	sqlite3_stmt *st = NULL;
	snprintf(out->integrity, sizeof(out->integrity), "not run");
	if (sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		snprintf(out->integrity, sizeof(out->integrity), "%s", (const char *)sqlite3_column_text(st, 0));
	else
		snprintf(out->integrity, sizeof(out->integrity), "%s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	st = NULL;
	struct arena a;
	arena_init(&a, 1 << 20);
	struct buf why = BUF_INIT;
	size_t cap = 0;
	for (int s = 0; s < 3 && !rc; s++) {
		char sql[160];
		snprintf(sql, sizeof(sql), "SELECT id, service, tmin, tmax, n, data FROM %s ORDER BY id", check_table[s]);
		if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
			buf_addf(err, "%s holds no telemetry tables (%s)", path, sqlite3_errmsg(db));
			rc = OODA_ECORRUPT;
			break;
		}
		int step;
		while ((step = sqlite3_step(st)) == SQLITE_ROW) {
			out->blocks++;
			arena_reset(&a);
			buf_reset(&why);
			struct telemetry_batch b = { .arena = &a };
			const void *data = sqlite3_column_blob(st, 5);
			int drc = tblock_decode(s, data, (size_t)sqlite3_column_bytes(st, 5), &a, &b, &why);
			if (!drc)
				continue;
			struct tstore_bad_block bad = { .signal = s,
							.id = sqlite3_column_int64(st, 0),
							.tmin = sqlite3_column_int64(st, 2),
							.tmax = sqlite3_column_int64(st, 3),
							.records = sqlite3_column_int64(st, 4) };
			const char *svc = (const char *)sqlite3_column_text(st, 1);
			snprintf(bad.service, sizeof(bad.service), "%s", svc ? svc : "");
			snprintf(bad.why, sizeof(bad.why), "%s", why.len ? why.data : ooda_strerror(drc));
			add_bad(out, &cap, &bad);
		}
		if (step != SQLITE_DONE) {
			/* the file itself is damaged below the rows: dropping blocks cannot mend that */
			buf_addf(err, "reading %s of %s failed: %s. %s", check_table[s], path, sqlite3_errmsg(db),
				 RECREATE_HINT);
			rc = OODA_ECORRUPT;
		}
		sqlite3_finalize(st);
		st = NULL;
	}
	buf_release(&why);
	arena_release(&a);
	sqlite3_close(db);
	if (rc)
		tstore_check_release(out);
	return rc;
}

int tstore_repair(const char *dir, const struct tstore_check_report *r, struct buf *err)
{
	if (!r->n_bad)
		return 0;
	char path[4200];
	sqlite3 *db;
	int rc = open_db(dir, true, &db, path, sizeof(path), err);
	if (rc)
		return rc;
	sqlite3_stmt *del[3] = { NULL, NULL, NULL };
	int dropped = 0;
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		rc = OODA_EIO;
	for (int s = 0; s < 3 && !rc; s++) {
		char sql[96];
		snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE id = ?1", check_table[s]);
		if (sqlite3_prepare_v2(db, sql, -1, &del[s], NULL) != SQLITE_OK)
			rc = OODA_EIO;
	}
	for (size_t i = 0; i < r->n_bad && !rc; i++) {
		const struct tstore_bad_block *b = &r->bad[i];
		if (b->signal < 0 || b->signal >= 3)
			continue;
		sqlite3_stmt *st = del[b->signal];
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, b->id);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = OODA_EIO;
		else
			dropped += sqlite3_changes(db);
	}
	if (!rc && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		rc = OODA_EIO;
	if (rc) {
		buf_addf(err, "repairing %s failed: %s", path, sqlite3_errmsg(db));
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	}
	for (int s = 0; s < 3; s++)
		sqlite3_finalize(del[s]);
	sqlite3_close(db);
	return rc ? rc : dropped;
}
