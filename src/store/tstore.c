/*
 * The embedded telemetry backend: blocks in telemetry.db (see tstore.h for
 * the write and read paths). Three block tables of the same shape
 * (log_blocks, span_blocks, metric_blocks) and one events table; a single
 * writer thread owns the write connection; readers borrow connections from
 * a small pool. The bloom column sits before the data column so that
 * reading it never touches the data's overflow pages.
 */
#include "store/tstore.h"
#include "store/tblock.h"
#include "store/sqlite_copy.h"
#include "store/tstore_schema.h"
#include "core/error.h"
#include "core/log.h"
#include "core/time.h"
#include "core/worker.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#define N_SIG 3
#define POOL_MAX 8
#define COMPACT_BELOW 2048   /* blocks with fewer records are merged */
#define MAINTAIN_EVERY_NS (10 * OODA_NS_PER_SEC)
#define COMPACT_SLICE_NS (100 * OODA_NS_PER_MS) /* longest pause compaction imposes on commits */
#define COMPACT_IDLE_SLICE_NS (1000 * OODA_NS_PER_MS) /* the same when no commit is waiting */

static const char *const block_table[N_SIG] = { "log_blocks", "span_blocks", "metric_blocks" };

struct job {
	struct tblock *blocks;
	size_t n_blocks;
	const struct telemetry_batch *batch;
	size_t bytes;
	int rc;
	bool done;
	char why[256];
	struct job *next;
};

struct tstore {
	const struct tstore_backend *be;
	struct tstore_options opt;
	char *path;
	sqlite3 *w;
	sqlite3_stmt *ins[N_SIG], *ins_event;
	pthread_t writer;
	pthread_mutex_t wmu;  /* held while the write connection is in use */
	pthread_mutex_t mu;   /* the queue and the stats */
	pthread_cond_t work, done;
	struct job *head, *tail;
	size_t queued_bytes;
	bool stop;
	int64_t last_maintain; /* ooda_mono_ns() of the last maintenance */
	bool compact_more;    /* the last compaction slice left work behind */
	/* reader pool */
	pthread_mutex_t pool_mu;
	sqlite3 *pool[POOL_MAX];
	int n_pool;
	/* stats, under mu */
	struct tstore_stats st;
	uint64_t event_seq;
	/* blocks found damaged, under mu: each is counted and logged once */
	struct tstore_block_id *bad;
	size_t n_bad, cap_bad;
};

static const char *const signal_name[N_SIG] = { "logs", "spans", "metrics" };

const char *tstore_signal_name(int signal)
{
	return signal >= 0 && signal < N_SIG ? signal_name[signal] : "unknown";
}

/*
 * A block did not decode (why): the first time, count it and log it with
 * its id; every time, add it to the scan's report.
 */
static void note_damaged(struct tstore *t, int signal, int64_t id, const char *why, struct tstore_skipped *sk)
{
	pthread_mutex_lock(&t->mu);
	bool seen = false;
	for (size_t i = 0; i < t->n_bad && !seen; i++)
		seen = t->bad[i].signal == signal && t->bad[i].id == id;
	if (!seen) {
		t->st.corrupt_blocks++;
		if (t->n_bad == t->cap_bad) {
			size_t cap = t->cap_bad ? t->cap_bad * 2 : 16;
			struct tstore_block_id *nb = xrealloc(t->bad, cap * sizeof(*nb));
			if (nb) {
				t->bad = nb;
				t->cap_bad = cap;
			}
		}
		if (t->n_bad < t->cap_bad)
			t->bad[t->n_bad++] = (struct tstore_block_id){ signal, id };
	}
	pthread_mutex_unlock(&t->mu);
	if (!seen)
		log_error("telemetry block %s/%lld is damaged and skipped by every read (%s); "
			  "`ooda telemetry check` lists such blocks, `ooda telemetry repair` drops them",
			  tstore_signal_name(signal), (long long)id, why);
	if (sk) {
		bool listed = false;
		for (size_t i = 0; i < sk->n_ids && !listed; i++)
			listed = sk->ids[i].signal == signal && sk->ids[i].id == id;
		if (listed)
			return;
		sk->n++;
		if (sk->n_ids < TSTORE_SKIPPED_IDS)
			sk->ids[sk->n_ids++] = (struct tstore_block_id){ signal, id };
	}
}

static int sql_exec(sqlite3 *db, const char *sql, struct buf *err)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		buf_addf(err, "telemetry store: %s (in: %.60s)", msg ? msg : sqlite3_errmsg(db), sql);
		sqlite3_free(msg);
		return OODA_EIO;
	}
	return 0;
}

/* Settings of the write connection; auto_vacuum before any table exists (the migrations make them). */
static int connection_setup(sqlite3 *db, bool no_fsync, struct buf *err)
{
	int rc = sql_exec(db, "PRAGMA auto_vacuum=INCREMENTAL", err);
	if (!rc)
		rc = sql_exec(db, "PRAGMA journal_mode=WAL", err);
	if (!rc)
		rc = sql_exec(db, no_fsync ? "PRAGMA synchronous=OFF" : "PRAGMA synchronous=FULL", err);
	if (!rc)
		rc = sql_exec(db, "PRAGMA wal_autocheckpoint=4096", err);
	return rc;
}

static sqlite3 *reader_get(struct tstore *t, struct buf *err)
{
	pthread_mutex_lock(&t->pool_mu);
	sqlite3 *db = t->n_pool ? t->pool[--t->n_pool] : NULL;
	pthread_mutex_unlock(&t->pool_mu);
	if (db)
		return db;
	if (sqlite3_open_v2(t->path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		buf_addf(err, "telemetry store: cannot open a reader on %s: %s", t->path,
			 db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 5000);
	return db;
}

static void reader_put(struct tstore *t, sqlite3 *db)
{
	pthread_mutex_lock(&t->pool_mu);
	if (t->n_pool < POOL_MAX) {
		t->pool[t->n_pool++] = db;
		db = NULL;
	}
	pthread_mutex_unlock(&t->pool_mu);
	sqlite3_close(db);
}

/* ---- writing ------------------------------------------------------------ */

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

static int insert_event(struct tstore *t, const struct change_event *e, struct buf *err)
{
	sqlite3_stmt *st = t->ins_event;
	char idbuf[48];
	const char *id = e->id;
	if (!id || !*id) {
		snprintf(idbuf, sizeof(idbuf), "ev-%llx-%llx", (unsigned long long)e->time_ns,
			 (unsigned long long)++t->event_seq);
		id = idbuf;
	}
	struct buf attrs = BUF_INIT;
	record_attrs_json(&attrs, &e->attrs);
	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, e->time_ns);
	bind_text(st, 3, e->kind ? e->kind : "custom");
	bind_text(st, 4, e->service);
	bind_text(st, 5, e->environment);
	bind_text(st, 6, e->version);
	bind_text(st, 7, e->actor);
	bind_text(st, 8, e->description);
	bind_text(st, 9, e->source);
	bind_text(st, 10, e->links);
	sqlite3_bind_text(st, 11, attrs.data, (int)attrs.len, SQLITE_STATIC);
	int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : OODA_EIO;
	if (rc)
		buf_addf(err, "telemetry store: event insert: %s", sqlite3_errmsg(t->w));
	else
		t->st.events += (uint64_t)sqlite3_changes(t->w);
	sqlite3_reset(st);
	buf_release(&attrs);
	return rc;
}

static int insert_block(struct tstore *t, const struct tblock *b, struct buf *err)
{
	sqlite3_stmt *st = t->ins[b->signal];
	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, b->service, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, b->tmin);
	sqlite3_bind_int64(st, 3, b->tmax);
	sqlite3_bind_int64(st, 4, b->n);
	sqlite3_bind_int(st, 5, b->min_sev);
	sqlite3_bind_int(st, 6, b->max_sev);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)b->raw_len);
	sqlite3_bind_blob(st, 8, b->bloom, (int)b->bloom_len, SQLITE_STATIC);
	sqlite3_bind_blob(st, 9, b->data, (int)b->data_len, SQLITE_STATIC);
	int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : OODA_EIO;
	if (rc)
		buf_addf(err, "telemetry store: block insert: %s", sqlite3_errmsg(t->w));
	sqlite3_reset(st);
	return rc;
}

static void count_block(struct tstore *t, const struct tblock *b, int sign)
{
	t->st.blocks[b->signal] += (uint64_t)(int64_t)sign;
	t->st.records[b->signal] += (uint64_t)((int64_t)sign * b->n);
	t->st.bytes[b->signal] += (uint64_t)((int64_t)sign * (int64_t)(b->data_len + b->bloom_len));
}

static int commit_jobs(struct tstore *t, struct job *jobs, struct buf *err)
{
	int rc = sql_exec(t->w, "BEGIN IMMEDIATE", err);
	for (struct job *j = jobs; j && !rc; j = j->next) {
		for (size_t i = 0; i < j->n_blocks && !rc; i++)
			rc = insert_block(t, &j->blocks[i], err);
		for (size_t i = 0; i < j->batch->n_events && !rc; i++)
			rc = insert_event(t, &j->batch->events[i], err);
	}
	if (!rc)
		rc = sql_exec(t->w, "COMMIT", err);
	if (rc) {
		/* a full disk is the operator's to fix, not a server fault: 507, remembered until a commit works */
		int code = sqlite3_extended_errcode(t->w) & 0xff, sys = sqlite3_system_errno(t->w);
		bool full = code == SQLITE_FULL || (code == SQLITE_IOERR && (sys == ENOSPC || sys == EDQUOT));
		sqlite3_exec(t->w, "ROLLBACK", NULL, NULL, NULL);
		if (full) {
			buf_adds(err, ": the disk holding telemetry.db is full; free space or lower retention.max_bytes, then retry (no restart needed)");
			pthread_mutex_lock(&t->mu);
			t->st.disk_full = 1;
			t->st.disk_full_failures++;
			pthread_mutex_unlock(&t->mu);
			rc = OODA_ENOSPACE;
		}
		return rc;
	}
	pthread_mutex_lock(&t->mu);
	t->st.disk_full = 0;
	for (struct job *j = jobs; j; j = j->next)
		for (size_t i = 0; i < j->n_blocks; i++)
			count_block(t, &j->blocks[i], 1);
	t->st.commits++;
	pthread_mutex_unlock(&t->mu);
	return 0;
}

static int maintain_locked_out(struct tstore *t, int64_t now_ns, struct buf *err);

static void *writer_main(void *arg)
{
	struct tstore *t = arg;
	pthread_mutex_lock(&t->mu);
	for (;;) {
		while (!t->head && !t->stop) {
			/* more compaction waiting: come back soon */
			int64_t wait = t->compact_more ? 100 * OODA_NS_PER_MS : OODA_NS_PER_SEC;
			worker_cond_wait_until(&t->work, &t->mu, ooda_mono_ns() + wait);
			if (!t->head && !t->stop && !t->opt.no_maintain &&
			    ooda_mono_ns() - t->last_maintain > (t->compact_more ? 100 * OODA_NS_PER_MS : MAINTAIN_EVERY_NS))
				break;
		}
		if (!t->head && t->stop)
			break;
		struct job *jobs = t->head;
		t->head = t->tail = NULL;
		pthread_mutex_unlock(&t->mu);
		if (jobs) {
			struct buf err = BUF_INIT;
			pthread_mutex_lock(&t->wmu);
			int rc = commit_jobs(t, jobs, &err);
			pthread_mutex_unlock(&t->wmu);
			if (rc)
				log_error("telemetry commit failed: %s", err.data);
			bool spans = false;
			for (struct job *j = jobs; j; j = j->next) {
				if (!rc && t->opt.publish)
					t->opt.publish(t->opt.publish_ctx, j->batch);
				spans = spans || j->batch->n_spans;
			}
			if (!rc && t->opt.published)
				t->opt.published(t->opt.publish_ctx, spans);
			pthread_mutex_lock(&t->mu);
			for (struct job *j = jobs, *next; j; j = next) {
				next = j->next;
				j->rc = rc;
				if (rc)
					snprintf(j->why, sizeof(j->why), "%s", err.data);
				t->queued_bytes -= j->bytes;
				j->done = true;
			}
			pthread_cond_broadcast(&t->done);
			pthread_mutex_unlock(&t->mu);
			buf_release(&err);
		}
		int64_t now = ooda_now_ns();
		if (!t->opt.no_maintain &&
		    ooda_mono_ns() - t->last_maintain > (t->compact_more ? 100 * OODA_NS_PER_MS : MAINTAIN_EVERY_NS)) {
			t->last_maintain = ooda_mono_ns();
			struct buf err = BUF_INIT;
			pthread_mutex_lock(&t->wmu);
			int mrc = maintain_locked_out(t, now, &err);
			pthread_mutex_unlock(&t->wmu);
			if (mrc < 0)
				log_error("telemetry maintenance failed: %s", err.data);
			buf_release(&err);
		}
		pthread_mutex_lock(&t->mu);
	}
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

/* Groups records by service and encodes each group into blocks. */
struct group {
	const char *service;
	size_t *idx;
	size_t n, cap;
};

static const char *rec_service(int signal, const void *recs, size_t i)
{
	const struct resource *r;
	if (signal == SIGNAL_LOGS)
		r = ((const struct log_record *)recs)[i].resource;
	else if (signal == SIGNAL_SPANS)
		r = ((const struct span *)recs)[i].resource;
	else
		r = ((const struct metric_point *)recs)[i].resource;
	return r && r->service ? r->service : "unknown";
}

static int encode_signal(struct tstore *t, int signal, const void *recs, size_t n, size_t size,
			 struct tblock **blocks, size_t *n_blocks, size_t *cap_blocks, struct buf *err)
{
	if (!n)
		return 0;
	struct group *g = NULL;
	size_t ng = 0;
	const char *last = NULL;
	size_t last_g = 0;
	for (size_t i = 0; i < n; i++) {
		const char *svc = rec_service(signal, recs, i);
		size_t k = ng;
		if (last && (svc == last || !strcmp(svc, last))) {
			k = last_g;
		} else {
			for (k = 0; k < ng; k++)
				if (!strcmp(g[k].service, svc))
					break;
			if (k == ng) {
				g = xrealloc(g, (ng + 1) * sizeof(*g));
				g[ng++] = (struct group){ .service = svc };
			}
		}
		last = svc;
		last_g = k;
		if (g[k].n == g[k].cap) {
			g[k].cap = g[k].cap ? g[k].cap * 2 : 64;
			g[k].idx = xrealloc(g[k].idx, g[k].cap * sizeof(size_t));
		}
		g[k].idx[g[k].n++] = i;
	}
	int rc = 0;
	char *tmp = xmalloc(size * (n < TBLOCK_MAX_RECORDS ? n : TBLOCK_MAX_RECORDS));
	for (size_t k = 0; k < ng && !rc; k++) {
		for (size_t off = 0; off < g[k].n && !rc; off += TBLOCK_MAX_RECORDS) {
			size_t m = g[k].n - off < TBLOCK_MAX_RECORDS ? g[k].n - off : TBLOCK_MAX_RECORDS;
			for (size_t j = 0; j < m; j++)
				memcpy(tmp + j * size, (const char *)recs + g[k].idx[off + j] * size, size);
			if (*n_blocks == *cap_blocks) {
				*cap_blocks = *cap_blocks ? *cap_blocks * 2 : 8;
				*blocks = xrealloc(*blocks, *cap_blocks * sizeof(struct tblock));
			}
			rc = tblock_encode(signal, g[k].service, tmp, m, t->opt.zstd_level,
					   &(*blocks)[*n_blocks], err);
			if (!rc)
				(*n_blocks)++;
		}
	}
	free(tmp);
	for (size_t k = 0; k < ng; k++)
		free(g[k].idx);
	free(g);
	return rc;
}

static int sqlite_append(struct tstore *t, const struct telemetry_batch *b, struct buf *err)
{
	struct job j = { .batch = b };
	size_t cap = 0;
	int rc = encode_signal(t, SIGNAL_LOGS, b->logs, b->n_logs, sizeof(struct log_record), &j.blocks,
			       &j.n_blocks, &cap, err);
	if (!rc)
		rc = encode_signal(t, SIGNAL_SPANS, b->spans, b->n_spans, sizeof(struct span), &j.blocks,
				   &j.n_blocks, &cap, err);
	if (!rc)
		rc = encode_signal(t, SIGNAL_METRICS, b->points, b->n_points, sizeof(struct metric_point),
				   &j.blocks, &j.n_blocks, &cap, err);
	for (size_t i = 0; i < j.n_blocks; i++)
		j.bytes += j.blocks[i].data_len + j.blocks[i].bloom_len + 256;
	j.bytes += b->n_events * 1024;
	if (!rc && !j.n_blocks && !b->n_events)
		goto out;
	if (!rc) {
		pthread_mutex_lock(&t->mu);
		if (t->stop) {
			buf_adds(err, "the telemetry store is shutting down");
			rc = OODA_EUNAVAIL;
		} else if (t->head && t->queued_bytes + j.bytes > t->opt.queue_bytes) {
			buf_addf(err, "the ingest queue is full (%zu of %zu bytes waiting for the disk); retry later",
				 t->queued_bytes, t->opt.queue_bytes);
			t->st.rejected_busy++;
			rc = OODA_EBUSY;
		} else {
			t->queued_bytes += j.bytes;
			if (t->tail)
				t->tail->next = &j;
			else
				t->head = &j;
			t->tail = &j;
			pthread_cond_signal(&t->work);
			while (!j.done)
				pthread_cond_wait(&t->done, &t->mu);
			rc = j.rc;
			if (rc)
				buf_adds(err, j.why);
		}
		pthread_mutex_unlock(&t->mu);
	}
out:
	for (size_t i = 0; i < j.n_blocks; i++)
		tblock_release(&j.blocks[i]);
	free(j.blocks);
	return rc;
}

/* ---- maintenance: retention and compaction ------------------------------ */

static int64_t query_i64(sqlite3 *db, const char *sql, int64_t dflt)
{
	sqlite3_stmt *st;
	int64_t v = dflt;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
			v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	return v;
}

/* Recounts from the tables; called on the writer's connection only. */
static void load_stats(struct tstore *t)
{
	uint64_t blocks[N_SIG], records[N_SIG], bytes[N_SIG];
	for (int s = 0; s < N_SIG; s++) {
		char sql[256];
		snprintf(sql, sizeof(sql), "SELECT count(*), sum(n), sum(length(data) + coalesce(length(bloom),0)) FROM %s",
			 block_table[s]);
		blocks[s] = records[s] = bytes[s] = 0;
		sqlite3_stmt *st;
		if (sqlite3_prepare_v2(t->w, sql, -1, &st, NULL) == SQLITE_OK) {
			if (sqlite3_step(st) == SQLITE_ROW) {
				blocks[s] = (uint64_t)sqlite3_column_int64(st, 0);
				records[s] = (uint64_t)sqlite3_column_int64(st, 1);
				bytes[s] = (uint64_t)sqlite3_column_int64(st, 2);
			}
			sqlite3_finalize(st);
		}
	}
	uint64_t events = (uint64_t)query_i64(t->w, "SELECT count(*) FROM events", 0);
	pthread_mutex_lock(&t->mu);
	memcpy(t->st.blocks, blocks, sizeof(blocks));
	memcpy(t->st.records, records, sizeof(records));
	memcpy(t->st.bytes, bytes, sizeof(bytes));
	t->st.events = events;
	pthread_mutex_unlock(&t->mu);
}

static int drop_where(struct tstore *t, int s, const char *where, int64_t arg, struct buf *err)
{
	char sql[256];
	snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE %s", block_table[s], where);
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(t->w, sql, -1, &st, NULL) != SQLITE_OK) {
		buf_addf(err, "telemetry retention: %s", sqlite3_errmsg(t->w));
		return OODA_EIO;
	}
	sqlite3_bind_int64(st, 1, arg);
	int rc = sqlite3_step(st) == SQLITE_DONE ? sqlite3_changes(t->w) : OODA_EIO;
	if (rc < 0)
		buf_addf(err, "telemetry retention: %s", sqlite3_errmsg(t->w));
	sqlite3_finalize(st);
	return rc;
}

static int retention(struct tstore *t, int64_t now_ns, struct buf *err)
{
	int dropped = 0;
	if (t->opt.retention_age_ns > 0) {
		int64_t cutoff = now_ns - t->opt.retention_age_ns;
		for (int s = 0; s < N_SIG; s++) {
			int rc = drop_where(t, s, "tmax < ?1", cutoff, err);
			if (rc < 0)
				return rc;
			dropped += rc;
		}
		sqlite3_stmt *st;
		if (sqlite3_prepare_v2(t->w, "DELETE FROM events WHERE time < ?1", -1, &st, NULL) == SQLITE_OK) {
			sqlite3_bind_int64(st, 1, cutoff);
			sqlite3_step(st);
			sqlite3_finalize(st);
		}
	}
	if (t->opt.retention_bytes > 0) {
		/* drop the oldest blocks, whatever their signal, until under the bound */
		for (int round = 0; round < 1000; round++) {
			uint64_t total = 0;
			pthread_mutex_lock(&t->mu);
			for (int s = 0; s < N_SIG; s++)
				total += t->st.bytes[s];
			pthread_mutex_unlock(&t->mu);
			if (total <= (uint64_t)t->opt.retention_bytes)
				break;
			int oldest = -1;
			int64_t otmax = INT64_MAX;
			for (int s = 0; s < N_SIG; s++) {
				char sql[128];
				snprintf(sql, sizeof(sql), "SELECT min(tmax) FROM %s", block_table[s]);
				int64_t v = query_i64(t->w, sql, INT64_MAX);
				if (v < otmax) {
					otmax = v;
					oldest = s;
				}
			}
			if (oldest < 0)
				break;
			int rc = drop_where(t, oldest,
					    "tmax <= ?1", otmax, err);
			if (rc <= 0)
				break;
			dropped += rc;
			load_stats(t);
		}
	}
	if (dropped) {
		sqlite3_exec(t->w, "PRAGMA incremental_vacuum", NULL, NULL, NULL);
		pthread_mutex_lock(&t->mu);
		t->st.retention_dropped += (uint64_t)dropped;
		pthread_mutex_unlock(&t->mu);
		load_stats(t);
	}
	return dropped;
}

static int cmp_log_time(const void *a, const void *b)
{
	int64_t x = ((const struct log_record *)a)->time_ns, y = ((const struct log_record *)b)->time_ns;
	return x < y ? -1 : x > y;
}

static int cmp_span_time(const void *a, const void *b)
{
	int64_t x = ((const struct span *)a)->start_ns, y = ((const struct span *)b)->start_ns;
	return x < y ? -1 : x > y;
}

static int cmp_point_time(const void *a, const void *b)
{
	int64_t x = ((const struct metric_point *)a)->time_ns, y = ((const struct metric_point *)b)->time_ns;
	return x < y ? -1 : x > y;
}

/* Merges up to TBLOCK_MAX_RECORDS records of small blocks of one service. */
static int compact_one(struct tstore *t, int s, const char *service, struct buf *err)
{
	char sql[256];
	snprintf(sql, sizeof(sql), "SELECT id, n, data FROM %s WHERE service = ?1 AND n < %d ORDER BY tmin LIMIT 64",
		 block_table[s], COMPACT_BELOW);
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(t->w, sql, -1, &st, NULL) != SQLITE_OK) {
		buf_addf(err, "telemetry compaction: %s", sqlite3_errmsg(t->w));
		return OODA_EIO;
	}
	sqlite3_bind_text(st, 1, service, -1, SQLITE_STATIC);
	struct arena a;
	arena_init(&a, 1 << 20);
	size_t size = s == SIGNAL_LOGS ? sizeof(struct log_record) :
		      s == SIGNAL_SPANS ? sizeof(struct span) : sizeof(struct metric_point);
	char *all = xmalloc(size * TBLOCK_MAX_RECORDS);
	size_t total = 0;
	int64_t ids[64];
	int n_ids = 0, rc = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		int64_t n = sqlite3_column_int64(st, 1);
		if (total + (size_t)n > TBLOCK_MAX_RECORDS)
			break;
		struct telemetry_batch b = { 0 };
		rc = tblock_decode(s, sqlite3_column_blob(st, 2), (size_t)sqlite3_column_bytes(st, 2), &a, &b, err);
		if (rc) {
			/* a damaged block is left for a person to look at, not merged */
			note_damaged(t, s, sqlite3_column_int64(st, 0), err->data, NULL);
			buf_reset(err);
			rc = 0;
			continue;
		}
		const void *src = s == SIGNAL_LOGS ? (const void *)b.logs :
				  s == SIGNAL_SPANS ? (const void *)b.spans : (const void *)b.points;
		size_t m = s == SIGNAL_LOGS ? b.n_logs : s == SIGNAL_SPANS ? b.n_spans : b.n_points;
		memcpy(all + total * size, src, m * size);
		total += m;
		ids[n_ids++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	int changed = 0;
	if (n_ids >= 2) {
		qsort(all, total, size, s == SIGNAL_LOGS ? cmp_log_time : s == SIGNAL_SPANS ? cmp_span_time : cmp_point_time);
		struct tblock blk;
		rc = tblock_encode(s, service, all, total, t->opt.compact_level, &blk, err);
		if (!rc) {
			rc = sql_exec(t->w, "BEGIN IMMEDIATE", err);
			if (!rc)
				rc = insert_block(t, &blk, err);
			for (int i = 0; i < n_ids && !rc; i++) {
				snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE id = %lld", block_table[s],
					 (long long)ids[i]);
				rc = sql_exec(t->w, sql, err);
			}
			if (!rc)
				rc = sql_exec(t->w, "COMMIT", err);
			if (rc)
				sqlite3_exec(t->w, "ROLLBACK", NULL, NULL, NULL);
			else
				changed = n_ids;
			tblock_release(&blk);
		}
	}
	free(all);
	arena_release(&a);
	return rc ? rc : changed;
}

/*
 * Merges small blocks. Runs on the writer thread between commits, so it
 * works in slices of at most COMPACT_SLICE_NS and tells the writer (via
 * t->compact_more) to come back soon rather than hold ingest up.
 */
static int compaction(struct tstore *t, struct buf *err)
{
	int changed = 0;
	int64_t start = ooda_mono_ns();
	t->compact_more = false;
	for (int s = 0; s < N_SIG && !t->compact_more; s++) {
		char sql[256];
		snprintf(sql, sizeof(sql),
			 "SELECT service FROM %s WHERE n < %d GROUP BY service HAVING count(*) >= 4 LIMIT 16",
			 block_table[s], COMPACT_BELOW);
		sqlite3_stmt *st;
		if (sqlite3_prepare_v2(t->w, sql, -1, &st, NULL) != SQLITE_OK)
			continue;
		char services[16][128];
		int ns = 0;
		while (ns < 16 && sqlite3_step(st) == SQLITE_ROW)
			snprintf(services[ns++], 128, "%s", (const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
		for (int i = 0; i < ns && !t->compact_more; i++) {
			/* a few rounds per service so a burst of small blocks converges */
			for (int round = 0; round < 8; round++) {
				int rc = compact_one(t, s, services[i], err);
				if (rc < 0)
					return rc;
				if (rc == 0)
					break;
				changed += rc;
				/* yield to ingest after a slice; with nothing queued, keep going longer */
				int64_t spent = ooda_mono_ns() - start;
				pthread_mutex_lock(&t->mu);
				bool waiting = t->head != NULL;
				pthread_mutex_unlock(&t->mu);
				if (spent > (waiting ? COMPACT_SLICE_NS : COMPACT_IDLE_SLICE_NS)) {
					t->compact_more = true;
					break;
				}
			}
		}
	}
	if (changed) {
		/* give the pages of the merged blocks back to the file system */
		sqlite3_exec(t->w, "PRAGMA incremental_vacuum", NULL, NULL, NULL);
		pthread_mutex_lock(&t->mu);
		t->st.compactions++;
		pthread_mutex_unlock(&t->mu);
		load_stats(t);
	}
	return changed;
}

static int maintain_locked_out(struct tstore *t, int64_t now_ns, struct buf *err)
{
	int a = retention(t, now_ns, err);
	if (a < 0)
		return a;
	int b = compaction(t, err);
	if (b < 0)
		return b;
	return a + b;
}

/* Maintenance on demand, from any thread. */
static int sqlite_maintain(struct tstore *t, int64_t now_ns, struct buf *err)
{
	/* The write connection is borrowed from the writer between commits. */
	pthread_mutex_lock(&t->wmu);
	int rc = maintain_locked_out(t, now_ns, err);
	pthread_mutex_unlock(&t->wmu);
	return rc;
}

/* ---- reading ------------------------------------------------------------ */

/* Whether a block's bloom may hold what the scan looks for. */
static bool bloom_passes(const struct tstore_scan *q, const void *bloom, size_t len)
{
	if (!q->any_token)
		return tblock_bloom_has_all(bloom, len, q->tokens, q->n_tokens);
	for (size_t i = 0; i < q->n_tokens; i++)
		if (tblock_bloom_has_all(bloom, len, &q->tokens[i], 1))
			return true;
	return false;
}

static int sqlite_scan(struct tstore *t, const struct tstore_scan *q, tstore_scan_fn fn, void *ctx,
		       struct buf *err)
{
	if (q->signal < 0 || q->signal >= N_SIG) {
		buf_addf(err, "no blocks for signal %d", q->signal);
		return OODA_EINVAL;
	}
	sqlite3 *db = reader_get(t, err);
	if (!db)
		return OODA_EIO;
	struct buf sql = BUF_INIT;
	buf_addf(&sql, "SELECT id, tmin, tmax, max_sev, bloom FROM %s WHERE tmax >= ?1 AND tmin <= ?2",
		 block_table[q->signal]);
	if (q->n_services) {
		buf_adds(&sql, " AND service COLLATE NOCASE IN (");
		for (size_t i = 0; i < q->n_services; i++)
			buf_addf(&sql, "%s?%zu", i ? "," : "", i + 3);
		buf_adds(&sql, ")");
	}
	buf_addf(&sql, " ORDER BY tmax %s", q->oldest_first ? "ASC" : "DESC");
	sqlite3_stmt *st = NULL, *get = NULL;
	int rc = 0;
	char gsql[128];
	snprintf(gsql, sizeof(gsql), "SELECT data FROM %s WHERE id = ?1", block_table[q->signal]);
	if (sqlite3_prepare_v2(db, sql.data, -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, gsql, -1, &get, NULL) != SQLITE_OK) {
		buf_addf(err, "telemetry scan: %s", sqlite3_errmsg(db));
		rc = OODA_EIO;
		goto out;
	}
	int64_t from = q->from_ns, to = q->to_ns ? q->to_ns : INT64_MAX;
	sqlite3_bind_int64(st, 1, from);
	sqlite3_bind_int64(st, 2, to);
	for (size_t i = 0; i < q->n_services; i++)
		sqlite3_bind_text(st, (int)i + 3, q->services[i], -1, SQLITE_STATIC);
	struct arena a;
	arena_init(&a, 1 << 20);
	int step;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if (q->signal == SIGNAL_LOGS && q->min_severity &&
		    sqlite3_column_int(st, 3) < q->min_severity)
			continue;
		if (q->n_tokens && !bloom_passes(q, sqlite3_column_blob(st, 4), (size_t)sqlite3_column_bytes(st, 4)))
			continue;
		int64_t id = sqlite3_column_int64(st, 0);
		sqlite3_reset(get);
		sqlite3_bind_int64(get, 1, id);
		if (sqlite3_step(get) != SQLITE_ROW)
			continue; /* dropped by compaction or retention meanwhile */
		arena_reset(&a);
		int64_t tmin = sqlite3_column_int64(st, 1), tmax = sqlite3_column_int64(st, 2);
		if (q->block_fn) {
			struct tstore_block blk = { sqlite3_column_blob(get, 0), (size_t)sqlite3_column_bytes(get, 0),
						    tmin, tmax, &a };
			size_t mark = err->len;
			int r = q->block_fn(ctx, &blk, err);
			if (r == OODA_ECORRUPT) {
				note_damaged(t, q->signal, id, err->data + mark, q->skipped);
				buf_setlen(err, mark);
				continue;
			}
			if (r < 0) {
				buf_addf(err, " (%s block %lld)", block_table[q->signal], (long long)id);
				rc = r;
				break;
			}
			if (r == 1)
				break;
			if (r != TSTORE_SCAN_DECODE)
				continue;
			arena_reset(&a);
		}
		struct telemetry_batch b = { .arena = &a };
		size_t mark = err->len;
		rc = tblock_decode_some(q->signal, sqlite3_column_blob(get, 0), (size_t)sqlite3_column_bytes(get, 0),
					q->skip, &a, &b, err);
		if (rc == OODA_ECORRUPT) {
			note_damaged(t, q->signal, id, err->data + mark, q->skipped);
			buf_setlen(err, mark);
			rc = 0;
			continue;
		}
		if (rc) {
			buf_addf(err, " (%s block %lld)", block_table[q->signal], (long long)id);
			break;
		}
		if (fn(ctx, &b, tmin, tmax))
			break;
	}
	if (!rc && step != SQLITE_ROW && step != SQLITE_DONE) {
		buf_addf(err, "telemetry scan: %s", sqlite3_errmsg(db));
		rc = OODA_EIO;
	}
	arena_release(&a);
out:
	sqlite3_finalize(st);
	sqlite3_finalize(get);
	buf_release(&sql);
	reader_put(t, db);
	return rc;
}

static void col_json(struct buf *b, const char *name, sqlite3_stmt *st, int i, bool raw)
{
	buf_addf(b, ",\"%s\":", name);
	if (sqlite3_column_type(st, i) == SQLITE_NULL) {
		buf_adds(b, "null");
		return;
	}
	const char *s = (const char *)sqlite3_column_text(st, i);
	if (raw)
		buf_adds(b, s);
	else
		buf_add_json_str(b, s, strlen(s));
}

static int sqlite_events_json(struct tstore *t, const struct tstore_event_filter *f, struct buf *out,
			      struct buf *err)
{
	sqlite3 *db = reader_get(t, err);
	if (!db)
		return OODA_EIO;
	sqlite3_stmt *st;
	const char *sql = "SELECT id, time, kind, service, environment, version, actor, description, source, "
			  "links, attrs FROM events WHERE time >= ?1 AND time <= ?2 AND (?3 IS NULL OR service = ?3) "
			  "AND (?4 IS NULL OR kind = ?4) AND (?5 IS NULL OR environment = ?5) "
			  "ORDER BY time DESC, seq DESC LIMIT ?6";
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		buf_addf(err, "events: %s", sqlite3_errmsg(db));
		reader_put(t, db);
		return OODA_EIO;
	}
	sqlite3_bind_int64(st, 1, f->from_ns);
	sqlite3_bind_int64(st, 2, f->to_ns ? f->to_ns : INT64_MAX);
	bind_text(st, 3, f->service);
	bind_text(st, 4, f->kind);
	bind_text(st, 5, f->environment);
	sqlite3_bind_int64(st, 6, f->limit ? (int64_t)f->limit : 100);
	buf_addch(out, '[');
	int n = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		char when[40];
		int64_t ns = sqlite3_column_int64(st, 1);
		ooda_time_format(ns, when, sizeof(when));
		buf_adds(out, n++ ? ",{" : "{");
		buf_adds(out, "\"id\":");
		const char *id = (const char *)sqlite3_column_text(st, 0);
		buf_add_json_str(out, id, strlen(id));
		buf_addf(out, ",\"time\":\"%s\",\"time_unix_nano\":%lld", when, (long long)ns);
		col_json(out, "kind", st, 2, false);
		col_json(out, "service", st, 3, false);
		col_json(out, "environment", st, 4, false);
		col_json(out, "version", st, 5, false);
		col_json(out, "actor", st, 6, false);
		col_json(out, "description", st, 7, false);
		col_json(out, "source", st, 8, false);
		col_json(out, "links", st, 9, true);
		col_json(out, "attributes", st, 10, true);
		buf_addch(out, '}');
	}
	buf_addch(out, ']');
	sqlite3_finalize(st);
	reader_put(t, db);
	return 0;
}

static void sqlite_stats(struct tstore *t, struct tstore_stats *out)
{
	pthread_mutex_lock(&t->mu);
	*out = t->st;
	out->queue_bytes = t->queued_bytes;
	out->queue_limit = t->opt.queue_bytes;
	pthread_mutex_unlock(&t->mu);
	struct stat sb;
	char wal[4096];
	out->file_bytes = stat(t->path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
	snprintf(wal, sizeof(wal), "%s-wal", t->path);
	if (stat(wal, &sb) == 0)
		out->file_bytes += (uint64_t)sb.st_size;
}

/* ---- open and close ----------------------------------------------------- */

/*
 * Opens t->path for writing after tstore_file_check, and checks that what
 * it opened is a telemetry store of a version this ooda reads; then brings
 * it (or a new one) to TSTORE_SCHEMA_VERSION with the migrations of
 * tstore_schema.c.
 */
static int open_checked(struct tstore *t, bool expect_existing, struct buf *err)
{
	bool exists;
	int rc = tstore_file_check(t->path, expect_existing, &exists, err);
	if (rc)
		return rc;
	if (sqlite3_open_v2(t->path, &t->w, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		buf_addf(err, "cannot open %s: %s", t->path, t->w ? sqlite3_errmsg(t->w) : "out of memory");
		return OODA_EIO;
	}
	sqlite3_busy_timeout(t->w, 5000);
	int64_t version = tstore_schema_version(t->w);
	int64_t tables = query_i64(t->w, "SELECT count(*) FROM sqlite_master", -1);
	int64_t ours = query_i64(t->w, "SELECT count(*) FROM sqlite_master WHERE name = 'log_blocks'", -1);
	if (version < 0 || tables < 0) {
		buf_addf(err, "%s cannot be read as a SQLite database (%s). Restore it from a backup, or start with "
			      "`ooda serve --recreate-telemetry` to move it aside and begin an empty telemetry store",
			 t->path, sqlite3_errmsg(t->w));
		return OODA_ECORRUPT;
	}
	if ((rc = tstore_schema_check(t->path, version, err)))
		return rc;
	if (!ours && (tables > 0 || expect_existing)) {
		buf_addf(err, "%s is a SQLite database but holds no telemetry tables%s. Restore telemetry.db from a "
			      "backup, or start with `ooda serve --recreate-telemetry` to move it aside and begin an "
			      "empty telemetry store",
			 t->path, expect_existing ? ", though control.db records that telemetry was stored here" : "");
		return OODA_ECORRUPT;
	}
	if ((rc = connection_setup(t->w, t->opt.no_fsync, err)) ||
	    (rc = tstore_schema_migrate(t->w, t->path, version, err)))
		return rc;
	if (ours && version < TSTORE_SCHEMA_VERSION)
		log_info("%s: schema migrated from version %lld to %d", t->path, (long long)version,
			 TSTORE_SCHEMA_VERSION);
	return 0;
}

/* Renames path (and its WAL) to path.broken-UNIXTIME so a new store can start; the old one stays for a person. */
static int move_aside(const char *path, struct buf *err)
{
	char to[4200], from[4200];
	snprintf(to, sizeof(to), "%s.broken-%lld", path, (long long)(ooda_now_ns() / OODA_NS_PER_SEC));
	bool moved = !rename(path, to);
	if (!moved && errno != ENOENT) {
		buf_addf(err, "cannot move %s aside to %s: %s", path, to, strerror(errno));
		return OODA_EIO;
	}
	snprintf(from, sizeof(from), "%s-wal", path);
	char to_wal[4300];
	snprintf(to_wal, sizeof(to_wal), "%s-wal", to);
	if (rename(from, to_wal) && errno != ENOENT) {
		buf_addf(err, "cannot move %s aside: %s", from, strerror(errno));
		return OODA_EIO;
	}
	snprintf(from, sizeof(from), "%s-shm", path);
	unlink(from);
	if (moved)
		log_warn("telemetry store re-created (--recreate-telemetry): the old one is kept as %s", to);
	else
		log_warn("telemetry store re-created (--recreate-telemetry): %s was missing", path);
	return 0;
}

static void sqlite_close(struct tstore *t)
{
	if (!t)
		return;
	if (t->writer) {
		pthread_mutex_lock(&t->mu);
		t->stop = true;
		pthread_cond_broadcast(&t->work);
		pthread_mutex_unlock(&t->mu);
		pthread_join(t->writer, NULL);
	}
	for (int s = 0; s < N_SIG; s++)
		sqlite3_finalize(t->ins[s]);
	sqlite3_finalize(t->ins_event);
	for (int i = 0; i < t->n_pool; i++)
		sqlite3_close(t->pool[i]);
	if (t->w) {
		sqlite3_exec(t->w, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
		sqlite3_close(t->w);
	}
	pthread_mutex_destroy(&t->mu);
	pthread_mutex_destroy(&t->wmu);
	pthread_mutex_destroy(&t->pool_mu);
	pthread_cond_destroy(&t->work);
	pthread_cond_destroy(&t->done);
	free(t->bad);
	free(t->path);
	free(t);
}

static int sqlite_open(const char *dir, const struct tstore_options *opt, struct tstore **out, struct buf *err)
{
	struct tstore *t = xcalloc(1, sizeof(*t));
	t->be = &tstore_sqlite_blocks;
	t->opt = *opt;
	if (!t->opt.queue_bytes)
		t->opt.queue_bytes = 256u << 20;
	if (!t->opt.zstd_level)
		t->opt.zstd_level = 1;
	if (!t->opt.compact_level)
		t->opt.compact_level = 6;
	pthread_mutex_init(&t->mu, NULL);
	pthread_mutex_init(&t->wmu, NULL);
	pthread_mutex_init(&t->pool_mu, NULL);
	worker_cond_init(&t->work);
	pthread_cond_init(&t->done, NULL);
	mkdir(dir, 0700);
	size_t plen = strlen(dir) + 16;
	t->path = xmalloc(plen);
	snprintf(t->path, plen, "%s/telemetry.db", dir);
	size_t mark = err->len;
	int rc = open_checked(t, opt->expect_existing, err);
	if ((rc == OODA_ECORRUPT || rc == OODA_ESCHEMA) && opt->recreate) {
		log_warn("%s", err->data + mark);
		buf_setlen(err, mark);
		sqlite3_close(t->w);
		t->w = NULL;
		if (!(rc = move_aside(t->path, err)))
			rc = open_checked(t, false, err);
	}
	if (rc)
		goto fail;
	for (int s = 0; s < N_SIG; s++) {
		char sql[256];
		snprintf(sql, sizeof(sql),
			 "INSERT INTO %s(service, tmin, tmax, n, min_sev, max_sev, raw, bloom, data) "
			 "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
			 block_table[s]);
		if (sqlite3_prepare_v3(t->w, sql, -1, SQLITE_PREPARE_PERSISTENT, &t->ins[s], NULL) != SQLITE_OK) {
			buf_addf(err, "telemetry store: %s", sqlite3_errmsg(t->w));
			rc = OODA_EIO;
			goto fail;
		}
	}
	if (sqlite3_prepare_v3(t->w,
			       "INSERT OR IGNORE INTO events(id, time, kind, service, environment, version, actor, "
			       "description, source, links, attrs) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
			       -1, SQLITE_PREPARE_PERSISTENT, &t->ins_event, NULL) != SQLITE_OK) {
		buf_addf(err, "telemetry store: %s", sqlite3_errmsg(t->w));
		rc = OODA_EIO;
		goto fail;
	}
	load_stats(t);
	t->event_seq = (uint64_t)query_i64(t->w, "SELECT max(seq) FROM events", 0);
	t->last_maintain = ooda_mono_ns();
	if (pthread_create(&t->writer, NULL, writer_main, t)) {
		buf_adds(err, "cannot start the telemetry writer thread");
		rc = OODA_EINTERNAL;
		goto fail;
	}
	*out = t;
	return 0;
fail:
	sqlite_close(t);
	return rc;
}

const struct tstore_backend tstore_sqlite_blocks = {
	.version = 1,
	.name = "sqlite-blocks",
	.open = sqlite_open,
	.close = sqlite_close,
	.append = sqlite_append,
	.scan = sqlite_scan,
	.events_json = sqlite_events_json,
	.stats = sqlite_stats,
	.maintain = sqlite_maintain,
};

/* ---- the public face: dispatch through the backend ---------------------- */

int tstore_open(const char *dir, const struct tstore_options *opt, struct tstore **out, struct buf *err)
{
	if (opt->backend && !strcmp(opt->backend, "clickhouse"))
		return tstore_clickhouse.open(dir, opt, out, err);
	if (opt->backend && strcmp(opt->backend, "sqlite")) {
		buf_addf(err, "unknown telemetry backend %.32s (sqlite or clickhouse)", opt->backend);
		return OODA_EINVAL;
	}
	return tstore_sqlite_blocks.open(dir, opt, out, err);
}

void tstore_close(struct tstore *t)
{
	if (t)
		t->be->close(t);
}

int tstore_append(struct tstore *t, const struct telemetry_batch *b, struct buf *err)
{
	return t->be->append(t, b, err);
}

int tstore_scan(struct tstore *t, const struct tstore_scan *q, tstore_scan_fn fn, void *ctx, struct buf *err)
{
	return t->be->scan(t, q, fn, ctx, err);
}

int tstore_events_json(struct tstore *t, const struct tstore_event_filter *f, struct buf *out, struct buf *err)
{
	return t->be->events_json(t, f, out, err);
}

void tstore_stats(struct tstore *t, struct tstore_stats *out)
{
	t->be->stats(t, out);
}

int tstore_maintain(struct tstore *t, int64_t now_ns, struct buf *err)
{
	return t->be->maintain(t, now_ns, err);
}

int tstore_backup(const char *dir, const char *dest_path, int64_t *bytes, struct buf *err)
{
	char src_path[4096];
	snprintf(src_path, sizeof(src_path), "%s/telemetry.db", dir);
	*bytes = 0;
	if (access(src_path, F_OK)) {
		buf_addf(err, "%s does not exist", src_path);
		return OODA_ENOTFOUND;
	}
	sqlite3 *src = NULL;
	int rc = OODA_EIO;
	if (sqlite3_open_v2(src_path, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		buf_addf(err, "cannot open %s: %s", src_path, src ? sqlite3_errmsg(src) : "out of memory");
	} else {
		sqlite3_busy_timeout(src, 5000);
		rc = sqlite_copy_to(src, dest_path, 1024, err);
	}
	struct stat st;
	if (!rc && stat(dest_path, &st) == 0)
		*bytes = (int64_t)st.st_size;
	sqlite3_close(src);
	return rc;
}
