/*
 * The control store's front: opening a backend and the writer thread that
 * turns queued closures into group-committed transactions.
 *
 *   store_write() ──queue──> writer: BEGIN; for each job: SAVEPOINT; fn();
 *                            RELEASE or ROLLBACK TO; COMMIT ──> wake callers
 */
#include "store/store_backend.h"
#include "core/error.h"
#include "core/lead.h"
#include "core/log.h"
#include "core/time.h"

#include <pthread.h>
#include <stdatomic.h>

#define QUEUE_MAX 4096
#define BATCH_MAX 256

struct job {
	store_tx_fn fn;
	void *ctx;
	struct buf *err;
	int64_t fence;  /* the caller's fencing token (store_fence_set); 0: none */
	int rc;
	bool done;
	struct job *next;
};

struct store {
	const struct store_backend *be;
	void *impl;
	bool threaded;
	pthread_t writer;
	pthread_mutex_t mu;
	pthread_cond_t wake;  /* writer waits for work */
	pthread_cond_t done;  /* callers wait for their job */
	struct job *head, *tail;
	size_t depth;
	bool stopping;
	atomic_bool full;             /* the last failed write failed for lack of space */
	atomic_ullong full_failures;
	atomic_ullong fence_refusals; /* writes refused for a stale fencing token */
	pthread_cond_t changed;       /* broadcast after each commit (store_wait_change) */
	uint64_t commits;
	/* generations (store_gen_*): under gen_mu but gen_pending, the writer thread's own */
	pthread_mutex_t gen_mu;
	int64_t gens[STORE_GEN_COUNT];  /* as last read (PostgreSQL) or counted (SQLite) */
	int64_t gen_read_ns;            /* when the last successful read began (monotonic) */
	uint64_t gen_reads;
	unsigned gen_pending;           /* bits of the generations the running batch bumped */
};

const struct store_backend *store_backend(const struct store *s)
{
	return s->be;
}

void *store_impl(const struct store *s)
{
	return s->impl;
}

/* Did this failure of the writer come from a full disk? Ask before rolling back. */
static bool failed_for_space(struct store *s, int rc)
{
	return (rc == OODA_EIO || rc == OODA_EINTERNAL) && s->be->disk_full && s->be->disk_full(s->impl);
}

/*
 * A write refused for lack of space: OODA_ENOSPACE (507) with a detail that
 * says so; the store remembers it until a transaction commits again.
 */
static int no_space(struct store *s, struct buf *err)
{
	atomic_store(&s->full, true);
	atomic_fetch_add(&s->full_failures, 1);
	if (err->len)
		buf_adds(err, ": ");
	buf_adds(err, "the disk holding the control store is full; free space and retry (no restart needed)");
	return OODA_ENOSPACE;
}

uint64_t store_fence_refusals(struct store *s)
{
	return atomic_load(&s->fence_refusals);
}

/*
 * The fence of job j, checked inside the batch's transaction, so a leader
 * that takes over (itself a write under the same lock) is seen by every
 * later write: 0 when j may go on, else OODA_ECONFLICT with the reason.
 */
static int fence_check(struct store *s, struct job *j)
{
	if (!j->fence || !s->be->fence)
		return 0;
	int64_t current = 0;
	int rc = j->fence < 0 ? OODA_ECONFLICT : s->be->fence(s->impl, j->fence, &current);
	if (rc == OODA_ECONFLICT) {
		atomic_fetch_add(&s->fence_refusals, 1);
		if (j->fence < 0)
			buf_adds(j->err, "fenced: this node does not lead the cluster");
		else
			buf_addf(j->err, "fenced: term %lld is older than the lease's term %lld", (long long)j->fence,
				 (long long)current);
	}
	return rc;
}

/* Runs one batch of jobs in one transaction. Called without s->mu held. */
static void run_batch(struct store *s, struct job *batch)
{
	int brc = s->be->begin(s->impl);
	bool full = brc && failed_for_space(s, brc);
	for (struct job *j = batch; j; j = j->next) {
		if (brc) {
			j->rc = full ? no_space(s, j->err) : brc;
			continue;
		}
		if (s->be->savepoint(s->impl)) {
			j->rc = failed_for_space(s, OODA_EIO) ? no_space(s, j->err) : OODA_EIO;
			continue;
		}
		unsigned gens_before = s->gen_pending;
		j->rc = fence_check(s, j);
		if (!j->rc)
			j->rc = j->fn(s, j->ctx, j->err);
		if (j->rc) {
			if (failed_for_space(s, j->rc))
				j->rc = no_space(s, j->err);
			s->gen_pending = gens_before; /* its bumps roll back with it */
			s->be->savepoint_rollback(s->impl);
		} else {
			s->be->savepoint_release(s->impl);
		}
	}
	unsigned bumped = s->gen_pending;
	s->gen_pending = 0;
	if (brc)
		return;
	if (s->be->commit(s->impl)) {
		full = failed_for_space(s, OODA_EIO);
		s->be->rollback(s->impl);
		for (struct job *j = batch; j; j = j->next)
			if (!j->rc) {
				if (full) {
					j->rc = no_space(s, j->err);
				} else {
					j->rc = OODA_EIO;
					buf_adds(j->err, "commit failed");
				}
			}
	} else {
		if (bumped) {
			/* one node (SQLite): the counts move only once the change is visible to readers */
			pthread_mutex_lock(&s->gen_mu);
			for (int g = 0; g < STORE_GEN_COUNT; g++)
				if (bumped & (1u << g))
					s->gens[g]++;
			pthread_mutex_unlock(&s->gen_mu);
		}
		pthread_mutex_lock(&s->mu);
		s->commits++;
		pthread_cond_broadcast(&s->changed);
		pthread_mutex_unlock(&s->mu);
		/* space again once something was written (an empty commit proves nothing) */
		for (struct job *j = batch; j; j = j->next)
			if (!j->rc)
				atomic_store(&s->full, false);
	}
}

static void *writer_main(void *arg)
{
	struct store *s = arg;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (!s->head && !s->stopping)
			pthread_cond_wait(&s->wake, &s->mu);
		if (!s->head && s->stopping)
			break;
		struct job *batch = s->head, *last = batch;
		size_t n = 1;
		while (last->next && n < BATCH_MAX) {
			last = last->next;
			n++;
		}
		s->head = last->next;
		if (!s->head)
			s->tail = NULL;
		last->next = NULL;
		s->depth -= n;
		pthread_mutex_unlock(&s->mu);
		run_batch(s, batch);
		pthread_mutex_lock(&s->mu);
		for (struct job *j = batch; j; j = j->next)
			j->done = true;
		pthread_cond_broadcast(&s->done);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* dir/control.pg: "postgres VAR", VAR an environment variable name. */
#define PG_MARKER "control.pg"

static void marker_path(const char *dir, char *out, size_t size)
{
	snprintf(out, size, "%s/" PG_MARKER, dir);
}

/* Leaves dir/control.pg naming var; a failure only costs the CLI's offline commands. */
static void marker_write(const char *dir, const char *var)
{
	char path[4096], tmp[4200];
	marker_path(dir, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f) {
		log_warn("cannot write %s: offline commands on this data dir will not find the PostgreSQL store", path);
		return;
	}
	fprintf(f, "postgres %s\n", var);
	if (fclose(f) || rename(tmp, path))
		log_warn("cannot write %s: offline commands on this data dir will not find the PostgreSQL store", path);
}

int store_pg_marker_parse(const char *text, size_t len, char *var, size_t size)
{
	/* "postgres " NAME, then an optional newline; NAME a shell variable name */
	static const char prefix[] = "postgres ";
	if (len < sizeof(prefix) || memcmp(text, prefix, sizeof(prefix) - 1))
		return OODA_EINVAL;
	size_t i = sizeof(prefix) - 1, n = 0;
	for (; i < len && text[i] != '\n'; i++, n++) {
		char c = text[i];
		bool ok = c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (n > 0 && c >= '0' && c <= '9');
		if (!ok || n + 1 >= size || n >= 128)
			return OODA_EINVAL;
		var[n] = c;
	}
	if (n == 0 || (i < len && i + 1 != len))
		return OODA_EINVAL; /* nothing, or more than one line */
	var[n] = 0;
	return 0;
}

/* The variable dir/control.pg names into var; false when there is no marker (or not a valid one). */
static bool marker_read(const char *dir, char *var, size_t size)
{
	char path[4096], text[256];
	marker_path(dir, path, sizeof(path));
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	size_t len = fread(text, 1, sizeof(text), f);
	fclose(f);
	if (store_pg_marker_parse(text, len, var, size)) {
		log_warn("%s is not one line \"postgres VARIABLE\": ignored", path);
		return false;
	}
	return true;
}

bool store_dir_is_pg(const char *dir)
{
	char var[256];
	return marker_read(dir, var, sizeof(var));
}

int store_open_at(const struct store_location *loc, unsigned flags, struct store **out, struct buf *err)
{
	struct store *s = xcalloc(1, sizeof(*s));
	s->be = loc->pg_dsn && *loc->pg_dsn ? &store_pg_backend : &store_sqlite_backend;
	int rc = s->be->open(loc, flags & STORE_READONLY, &s->impl, err);
	if (rc) {
		free(s);
		return rc;
	}
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->gen_mu, NULL);
	pthread_cond_init(&s->wake, NULL);
	pthread_cond_init(&s->done, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->changed, &ca);
	pthread_condattr_destroy(&ca);
	if (s->be == &store_pg_backend && loc->dir && loc->dsn_env && !(flags & STORE_READONLY))
		marker_write(loc->dir, loc->dsn_env);
	s->threaded = !(flags & (STORE_NO_WRITER_THREAD | STORE_READONLY));
	if (s->threaded && pthread_create(&s->writer, NULL, writer_main, s)) {
		s->be->close(s->impl);
		free(s);
		buf_adds(err, "cannot start the store writer thread");
		return OODA_EINTERNAL;
	}
	*out = s;
	return 0;
}

int store_open(const char *dir, unsigned flags, struct store **out, struct buf *err)
{
	struct store_location loc = { .dir = dir };
	char var[256];
	if (marker_read(dir, var, sizeof(var))) {
		loc.pg_dsn = getenv(var);
		if (!loc.pg_dsn || !*loc.pg_dsn) {
			buf_addf(err, "%s/" PG_MARKER " says the control store is in PostgreSQL, but the environment "
				      "variable %s holding its connection string is not set", dir, var);
			return OODA_EINVAL;
		}
	}
	return store_open_at(&loc, flags, out, err);
}

const char *store_backend_name(const struct store *s)
{
	return s->be->name;
}

/* ---- generations (store.h) -------------------------------------------------- */

static const char *const gen_names[STORE_GEN_COUNT] = {
	[STORE_GEN_TOKENS] = "tokens",
	[STORE_GEN_FLAGS] = "flags",
	[STORE_GEN_SILENCES] = "silences",
	[STORE_GEN_ONCALL] = "oncall",
};

/* Document kinds whose changes a node caches, and the generation each bumps. */
static const struct {
	const char *kind;
	enum store_gen gen;
} gen_docs[] = {
	{ "flag", STORE_GEN_FLAGS },
	{ "flagset", STORE_GEN_FLAGS },
	{ "silence", STORE_GEN_SILENCES },
	{ "oncall.override", STORE_GEN_ONCALL },
};

const char *store_gen_name(enum store_gen g)
{
	return (unsigned)g < STORE_GEN_COUNT ? gen_names[g] : "";
}

enum store_gen store_gen_of_doc(const char *kind)
{
	for (size_t i = 0; kind && i < sizeof(gen_docs) / sizeof(gen_docs[0]); i++)
		if (!strcmp(gen_docs[i].kind, kind))
			return gen_docs[i].gen;
	return STORE_GEN_COUNT;
}

int store_gen_bump(struct store *s, enum store_gen g)
{
	if ((unsigned)g >= STORE_GEN_COUNT)
		return OODA_EINVAL;
	s->gen_pending |= 1u << g;
	return s->be->gen_bump ? s->be->gen_bump(s->impl, gen_names[g]) : 0;
}

int store_gen_read(struct store *s, enum store_gen g, int64_t *gen)
{
	if ((unsigned)g >= STORE_GEN_COUNT)
		return OODA_EINVAL;
	int rc = 0;
	if (!s->be->gen_read) {
		pthread_mutex_lock(&s->gen_mu);
		*gen = s->gens[g];
		pthread_mutex_unlock(&s->gen_mu);
		return 0;
	}
	/* a request's thread counts from the request's arrival: one read serves all its checks */
	int64_t arrived = ooda_thread_since();
	if (arrived <= 0)
		arrived = ooda_mono_ns();
	pthread_mutex_lock(&s->gen_mu);
	/* a read that began after this call (or its request) did counts every commit before it: share it */
	if (s->gen_read_ns < arrived || !s->gen_reads) {
		int64_t began = ooda_mono_ns();
		int64_t v[STORE_GEN_COUNT];
		memcpy(v, s->gens, sizeof(v));
		rc = s->be->gen_read(s->impl, v);
		if (!rc) {
			memcpy(s->gens, v, sizeof(v));
			s->gen_read_ns = began;
			s->gen_reads++;
		}
	}
	*gen = s->gens[g];
	pthread_mutex_unlock(&s->gen_mu);
	return rc;
}

uint64_t store_gen_reads(struct store *s)
{
	pthread_mutex_lock(&s->gen_mu);
	uint64_t n = s->gen_reads;
	pthread_mutex_unlock(&s->gen_mu);
	return n;
}

int store_wait_change(struct store *s, uint64_t *seen, int64_t timeout_ms)
{
	if (s->be->wait_change)
		return s->be->wait_change(s->impl, seen, timeout_ms);
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (timeout_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&s->mu);
	int rc = 0;
	while (s->commits == *seen && rc == 0)
		rc = pthread_cond_timedwait(&s->changed, &s->mu, &until);
	bool changed = s->commits != *seen;
	*seen = s->commits;
	pthread_mutex_unlock(&s->mu);
	return changed ? 0 : OODA_ETIMEOUT;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	if (s->threaded) {
		pthread_mutex_lock(&s->mu);
		s->stopping = true;
		pthread_cond_signal(&s->wake);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->writer, NULL);
	}
	s->be->close(s->impl);
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->gen_mu);
	pthread_cond_destroy(&s->wake);
	pthread_cond_destroy(&s->done);
	pthread_cond_destroy(&s->changed);
	free(s);
}

int store_write(struct store *s, store_tx_fn fn, void *ctx, struct buf *err)
{
	struct buf local = BUF_INIT;
	struct job j = { .fn = fn, .ctx = ctx, .err = err ? err : &local, .fence = lead_thread_fence() };
	if (!s->threaded) {
		j.next = NULL;
		run_batch(s, &j);
		buf_release(&local);
		return j.rc;
	}
	pthread_mutex_lock(&s->mu);
	if (s->stopping) {
		pthread_mutex_unlock(&s->mu);
		buf_adds(j.err, "the store is shutting down");
		buf_release(&local);
		return OODA_EUNAVAIL;
	}
	if (s->depth >= QUEUE_MAX) {
		pthread_mutex_unlock(&s->mu);
		buf_adds(j.err, "control store write queue is full");
		buf_release(&local);
		return OODA_EBUSY;
	}
	if (s->tail)
		s->tail->next = &j;
	else
		s->head = &j;
	s->tail = &j;
	s->depth++;
	pthread_cond_signal(&s->wake);
	while (!j.done)
		pthread_cond_wait(&s->done, &s->mu);
	pthread_mutex_unlock(&s->mu);
	buf_release(&local);
	return j.rc;
}

size_t store_queue_depth(struct store *s)
{
	pthread_mutex_lock(&s->mu);
	size_t d = s->depth;
	pthread_mutex_unlock(&s->mu);
	return d;
}

void store_space(struct store *s, bool *full, uint64_t *failures)
{
	*full = atomic_load(&s->full);
	*failures = atomic_load(&s->full_failures);
}

int store_backup(struct store *s, const char *path, struct buf *err)
{
	return s->be->backup(s->impl, path, err);
}

/* ---- the telemetry marker ------------------------------------------------ */

/* One doc row, kind "store", key "telemetry": written once, when this data dir first holds telemetry. */
static int marker_row(void *ctx, const void *row)
{
	(void)row;
	*(bool *)ctx = true;
	return 0;
}

bool store_telemetry_recorded(struct store *s)
{
	/* a shared control store is no witness of one node's data dir */
	if (s->be != &store_sqlite_backend)
		return false;
	bool found = false;
	s->be->doc_get(s->impl, "store", "telemetry", 0, marker_row, &found);
	return found;
}

static int marker_put(struct store *s, void *ctx, struct buf *err)
{
	(void)ctx;
	struct doc_row d = { .kind = "store", .key = "telemetry", .time_ns = ooda_now_ns(), .author = "ooda",
			     .rationale = "telemetry.db created in this data dir", .body = "{}", .body_len = 2 };
	int rc = s->be->doc_put(s->impl, &d, 0);
	if (rc == OODA_EPRECOND)
		return 0; /* recorded meanwhile */
	if (rc)
		buf_adds(err, "cannot record in control.db that telemetry is stored here");
	return rc;
}

int store_telemetry_record(struct store *s, struct buf *err)
{
	if (s->be != &store_sqlite_backend)
		return 0;
	if (store_telemetry_recorded(s))
		return 0;
	return store_write(s, marker_put, NULL, err);
}
