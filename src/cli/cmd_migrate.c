/*
 * `ooda migrate`: moves an embedded data directory (control.db,
 * telemetry.db) into PostgreSQL and ClickHouse, or a PostgreSQL control
 * store and ClickHouse telemetry back into a new data directory. The
 * targets are read from the same configuration keys the daemon uses
 * (storage.control.dsn_env, storage.telemetry.url/database/user/
 * password_env). The order is fixed: refuse early (a daemon on the data
 * dir, a target that holds data), copy (store_copy, tstore_copy: bounded
 * batches, the source only read), then check (rows per table and records
 * per signal equal on both sides, the audit chain verified on the target)
 * and record the move in the audit chain of the control store in use.
 */
#include "cli/cli.h"
#include "audit/audit.h"
#include "core/config.h"
#include "core/dirlock.h"
#include "core/error.h"
#include "core/arena.h"
#include "core/time.h"
#include "ingest/events.h"
#include "store/store.h"
#include "store/tstore.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct migrate {
	struct config cfg;
	const char *dir;
	bool to_sqlite;             /* else into PostgreSQL and/or ClickHouse */
	bool control, telemetry;    /* what moves */
	const char *dsn;            /* PostgreSQL connection string (secret) */
	struct store *src, *dst;
	struct tstore *tsrc, *tdst;
	int lock_fd;
	bool quiet;
	int64_t rows_src[STORE_COPY_MAX_TABLES], rows_dst[STORE_COPY_MAX_TABLES];
	struct tstore_counts tel_src, tel_dst;
	uint64_t events_src, events_dst; /* change events in the telemetry stores */
	struct audit_verify_result verify;
	bool wrote;                 /* something reached a target */
};

static const char *const signal_label[3] = { "logs", "spans", "metric points" };

static void progress_rows(void *ctx, const char *table, int64_t rows)
{
	struct migrate *m = ctx;
	if (!m->quiet)
		fprintf(stderr, "  %s: %lld rows\n", table, (long long)rows);
}

static void progress_records(void *ctx, int signal, uint64_t records)
{
	struct migrate *m = ctx;
	if (!m->quiet && signal >= 0 && signal < 3)
		fprintf(stderr, "  %s: %llu records\n", signal_label[signal], (unsigned long long)records);
}

static bool file_exists(const char *dir, const char *name)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return access(p, F_OK) == 0;
}

/* The --to list: "sqlite", or any of "postgres" and "clickhouse". */
static int parse_to(struct migrate *m, const char *to, struct buf *err)
{
	if (!to || !*to) {
		buf_adds(err, "--to is required: postgres, clickhouse, postgres,clickhouse or sqlite");
		return OODA_EINVAL;
	}
	char list[128];
	if (strlen(to) >= sizeof(list)) {
		buf_adds(err, "--to: too long");
		return OODA_EINVAL;
	}
	snprintf(list, sizeof(list), "%s", to);
	char *save = NULL;
	for (char *w = strtok_r(list, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		if (!strcmp(w, "postgres"))
			m->control = true;
		else if (!strcmp(w, "clickhouse"))
			m->telemetry = true;
		else if (!strcmp(w, "sqlite"))
			m->to_sqlite = true;
		else {
			buf_addf(err, "--to: unknown target '%.32s' (postgres, clickhouse or sqlite)", w);
			return OODA_EINVAL;
		}
	}
	if (m->to_sqlite && (m->control || m->telemetry)) {
		buf_adds(err, "--to: sqlite moves back into a data dir; it does not mix with postgres or clickhouse");
		return OODA_EINVAL;
	}
	if (m->to_sqlite) {
		m->control = m->cfg.control_backend && !strcmp(m->cfg.control_backend, "postgres");
		m->telemetry = m->cfg.telemetry_backend && !strcmp(m->cfg.telemetry_backend, "clickhouse");
		if (!m->control && !m->telemetry) {
			buf_adds(err, "--to sqlite reads from what --config names: set storage.control.backend: postgres "
				      "and/or storage.telemetry.backend: clickhouse there");
			return OODA_EINVAL;
		}
	}
	return 0;
}

/* PostgreSQL's connection string from the variable storage.control.dsn_env names. */
static int pg_dsn(struct migrate *m, struct buf *err)
{
	const char *var = m->cfg.control_dsn_env ? m->cfg.control_dsn_env : "OODA_CONTROL_DSN";
	m->dsn = getenv(var);
	if (!m->dsn || !*m->dsn) {
		buf_addf(err, "the environment variable %.64s (storage.control.dsn_env) is not set: export the libpq "
			      "connection string of the PostgreSQL database in it",
			 var);
		return OODA_EINVAL;
	}
	return 0;
}

static int ch_open(struct migrate *m, struct tstore **out, struct buf *err)
{
	if (!m->cfg.telemetry_url) {
		buf_adds(err, "storage.telemetry.url: required to reach ClickHouse (give the config with --config)");
		return OODA_EINVAL;
	}
	struct tstore_options o = { .backend = "clickhouse", .queue_bytes = 256u << 20, .no_maintain = true };
	o.clickhouse = (struct tstore_clickhouse_options){ .url = m->cfg.telemetry_url,
							   .database = m->cfg.telemetry_database,
							   .user = m->cfg.telemetry_user };
	if (m->cfg.telemetry_password_env) {
		o.clickhouse.password = getenv(m->cfg.telemetry_password_env);
		if (!o.clickhouse.password) {
			buf_addf(err, "storage.telemetry.password_env: the environment variable %.64s is not set",
				 m->cfg.telemetry_password_env);
			return OODA_EINVAL;
		}
	}
	return tstore_open(NULL, &o, out, err);
}

static int embedded_open(struct migrate *m, bool existing, struct tstore **out, struct buf *err)
{
	struct tstore_options o = { .queue_bytes = 256u << 20, .expect_existing = existing, .no_maintain = existing };
	return tstore_open(m->dir, &o, out, err);
}

/* Opens the sources, refusing what cannot be moved; nothing is written to them. */
static int open_sources(struct migrate *m, struct buf *err)
{
	int rc;
	if (!m->to_sqlite) {
		struct stat st;
		if (stat(m->dir, &st) || !S_ISDIR(st.st_mode)) {
			buf_addf(err, "no data dir at %s: name the embedded install to move with --data DIR", m->dir);
			return OODA_ENOTFOUND;
		}
		if (m->control && store_dir_is_pg(m->dir)) {
			buf_addf(err, "%s keeps its control store in PostgreSQL already (control.pg): nothing to move", m->dir);
			return OODA_EINVAL;
		}
		if (m->control && !file_exists(m->dir, "control.db")) {
			buf_addf(err, "no control.db in %s: nothing to move to PostgreSQL", m->dir);
			return OODA_ENOTFOUND;
		}
		if (m->telemetry && !file_exists(m->dir, "telemetry.db")) {
			buf_addf(err, "no telemetry.db in %s: nothing to move to ClickHouse", m->dir);
			return OODA_ENOTFOUND;
		}
		if ((m->lock_fd = dirlock_take(m->dir, "a running ooda; stop it before migrating", err)) < 0)
			return m->lock_fd;
		if (m->control && (rc = store_open(m->dir, STORE_READONLY, &m->src, err)))
			return rc;
		if (m->telemetry && (rc = embedded_open(m, true, &m->tsrc, err)))
			return rc;
		return 0;
	}
	if (m->control) {
		struct store_location loc = { .pg_dsn = m->dsn };
		if ((rc = store_open_at(&loc, STORE_READONLY, &m->src, err)))
			return rc;
	}
	if (m->telemetry && (rc = ch_open(m, &m->tsrc, err)))
		return rc;
	return 0;
}

/*
 * A cluster running on the PostgreSQL source always has a leader renewing
 * its lease (every second, for 5 s); a node that stopped cleanly gave it
 * up. So an unexpired lease means a node is running (or was killed less
 * than 5 s ago).
 */
static int refuse_running_nodes(struct migrate *m, struct buf *err)
{
	struct lease_row l;
	int rc = store_lease_get(m->src, &l);
	if (rc == OODA_ENOTFOUND || rc == OODA_EUNSUPPORTED)
		return 0;
	if (rc) {
		buf_adds(err, "cannot read the leader's lease from the PostgreSQL control store");
		return rc;
	}
	int64_t left = l.expires_ns - ooda_now_ns();
	if (left > 0) {
		buf_addf(err, "ooda node %s leads on the PostgreSQL control store (its lease runs %.1f s more): stop "
			      "every node before migrating",
			 l.node_id, (double)left / 1e9);
		return OODA_EBUSY;
	}
	return 0;
}

static int events_pages(struct tstore *t, int (*fn)(void *ctx, const struct buf *page, json_t *arr, struct buf *err),
			void *ctx, uint64_t *count, struct buf *err);

/* Opens the targets and refuses one that holds anything; nothing is written but their empty schema. */
static int open_targets(struct migrate *m, struct buf *err)
{
	int rc;
	if (m->to_sqlite) {
		if (mkdir(m->dir, 0700) && errno != EEXIST) {
			buf_addf(err, "cannot create %s: %s", m->dir, strerror(errno));
			return OODA_EIO;
		}
		if (file_exists(m->dir, "control.db") || file_exists(m->dir, "telemetry.db") ||
		    file_exists(m->dir, "control.pg")) {
			buf_addf(err, "%s already holds an ooda store: migrate into a new, empty data dir", m->dir);
			return OODA_ECONFLICT;
		}
		if ((m->lock_fd = dirlock_take(m->dir, "another ooda process", err)) < 0)
			return m->lock_fd;
		if (m->control && (rc = refuse_running_nodes(m, err)))
			return rc;
		if (m->control && (rc = store_open(m->dir, STORE_NO_WRITER_THREAD, &m->dst, err)))
			return rc;
		if (m->telemetry && (rc = embedded_open(m, false, &m->tdst, err)))
			return rc;
		return 0;
	}
	if (m->control) {
		struct store_location loc = { .pg_dsn = m->dsn }; /* no dir: the source gets no control.pg */
		if ((rc = store_open_at(&loc, STORE_NO_WRITER_THREAD, &m->dst, err)))
			return rc;
		if ((rc = store_copy_count(m->dst, m->rows_dst, err)))
			return rc;
		for (size_t i = 0; i < store_copy_tables(); i++)
			if (m->rows_dst[i]) {
				buf_addf(err, "the PostgreSQL database already holds %lld rows in %s: migrate only into an "
					      "empty database (createdb a new one and point storage.control.dsn_env at it)",
					 (long long)m->rows_dst[i], store_copy_table_name(i));
				return OODA_ECONFLICT;
			}
	}
	if (m->telemetry) {
		if ((rc = ch_open(m, &m->tdst, err)))
			return rc;
		if ((rc = tstore_count(m->tdst, &m->tel_dst, err)))
			return rc;
		for (int s = 0; s < 3; s++)
			if (m->tel_dst.records[s]) {
				buf_addf(err, "the ClickHouse database %s already holds %llu %s: migrate only into an empty "
					      "database (set storage.telemetry.database to a new name)",
					 m->cfg.telemetry_database ? m->cfg.telemetry_database : "ooda",
					 (unsigned long long)m->tel_dst.records[s], signal_label[s]);
				return OODA_ECONFLICT;
			}
		uint64_t ev = 0;
		if ((rc = events_pages(m->tdst, NULL, NULL, &ev, err)))
			return rc;
		if (ev) {
			buf_addf(err, "the target telemetry store already holds %llu change events: migrate only into an "
				      "empty one",
				 (unsigned long long)ev);
			return OODA_ECONFLICT;
		}
	}
	return 0;
}

/*
 * Change events are read the way the API lists them (tstore_events_json,
 * newest first, EVENTS_PAGE at a time, each page ending at the oldest time
 * of the one before) and written back through the event decoder; the
 * stores keep one event per id, so an event read twice at a page's edge is
 * stored once. The count skips those twice-read ones by id.
 */
#define EVENTS_PAGE 1000

struct edge_ids {
	int64_t time;
	char **ids;
	size_t n;
};

static bool edge_has(const struct edge_ids *e, int64_t t, const char *id)
{
	for (size_t i = 0; t == e->time && i < e->n; i++)
		if (!strcmp(e->ids[i], id))
			return true;
	return false;
}

static void edge_reset(struct edge_ids *e, int64_t t)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->ids[i]);
	free(e->ids);
	*e = (struct edge_ids){ .time = t };
}

/* Calls fn with each page's JSON text and array; *count receives the distinct events. */
static int events_pages(struct tstore *t, int (*fn)(void *ctx, const struct buf *page, json_t *arr, struct buf *err),
			void *ctx, uint64_t *count, struct buf *err)
{
	int64_t to = 0;
	struct edge_ids edge = { .time = INT64_MIN };
	int rc = 0;
	*count = 0;
	for (;;) {
		struct tstore_event_filter f = { .to_ns = to, .limit = EVENTS_PAGE };
		struct buf page = BUF_INIT;
		if ((rc = tstore_events_json(t, &f, &page, err))) {
			buf_release(&page);
			break;
		}
		json_t *arr = json_loadb(page.data, page.len, 0, NULL);
		size_t n = json_array_size(arr);
		if (!json_is_array(arr)) {
			buf_adds(err, "the telemetry store's event list is not a JSON array");
			rc = OODA_EIO;
		}
		int64_t oldest = 0;
		struct edge_ids next = { .time = INT64_MIN };
		for (size_t i = 0; !rc && i < n; i++) {
			json_t *e = json_array_get(arr, i);
			const char *id = json_string_value(json_object_get(e, "id"));
			int64_t tm = (int64_t)json_integer_value(json_object_get(e, "time_unix_nano"));
			if (!json_is_integer(json_object_get(e, "time_unix_nano")))
				tm = strtoll(json_string_value(json_object_get(e, "time_unix_nano")) ?: "0", NULL, 10);
			oldest = tm;
			if (!edge_has(&edge, tm, id ? id : ""))
				(*count)++;
			if (next.time != tm)
				edge_reset(&next, tm);
			next.ids = xrealloc(next.ids, (next.n + 1) * sizeof(*next.ids));
			next.ids[next.n++] = xstrdup(id ? id : "");
		}
		if (!rc && n && fn)
			rc = fn(ctx, &page, arr, err);
		json_decref(arr);
		buf_release(&page);
		bool more = !rc && n == EVENTS_PAGE;
		if (more && oldest == to) { /* a whole page at one time: go past it (cannot happen below 1,000 per ns) */
			oldest--;
			edge_reset(&next, INT64_MIN);
		}
		edge_reset(&edge, INT64_MIN);
		edge = next;
		if (!more)
			break;
		to = oldest;
	}
	edge_reset(&edge, INT64_MIN);
	return rc;
}

/* One page of events decoded again and appended to the target, with their stored time, id and source. */
static int events_put(void *ctx, const struct buf *page, json_t *arr, struct buf *err)
{
	struct migrate *m = ctx;
	struct arena a;
	arena_init(&a, 0);
	struct telemetry_batch b = { .arena = &a };
	int rc = events_decode_json(page->data, page->len, ooda_now_ns(), &b, err);
	if (!rc && b.n_events != json_array_size(arr)) {
		buf_adds(err, "the event list decoded into another number of events");
		rc = OODA_EINTERNAL;
	}
	for (size_t i = 0; !rc && i < b.n_events; i++) {
		json_t *e = json_array_get(arr, i);
		json_t *tn = json_object_get(e, "time_unix_nano");
		b.events[i].time_ns = json_is_integer(tn) ? (int64_t)json_integer_value(tn) :
							   strtoll(json_string_value(tn) ?: "0", NULL, 10);
		const char *src = json_string_value(json_object_get(e, "source"));
		if (src)
			b.events[i].source = arena_strdup(&a, src);
	}
	if (!rc)
		rc = tstore_append(m->tdst, &b, err);
	arena_release(&a);
	return rc;
}

static int copy_all(struct migrate *m, struct buf *err)
{
	int rc;
	if (m->control) {
		if (!m->quiet)
			fprintf(stderr, "copying the control store (%s to %s)\n", store_backend_name(m->src),
				store_backend_name(m->dst));
		struct store_copy_options o = { .progress = progress_rows, .ctx = m };
		m->wrote = true;
		if ((rc = store_copy(m->src, m->dst, &o, err)))
			return rc;
	}
	if (m->telemetry) {
		if (!m->quiet)
			fprintf(stderr, "copying telemetry (%s)\n", m->to_sqlite ? "ClickHouse to telemetry.db" :
										  "telemetry.db to ClickHouse");
		m->wrote = true;
		if ((rc = tstore_copy(m->tsrc, m->tdst, progress_records, m, err)))
			return rc;
		uint64_t n;
		if ((rc = events_pages(m->tsrc, events_put, m, &n, err)))
			return rc;
		if (!m->quiet)
			fprintf(stderr, "  change events: %llu\n", (unsigned long long)n);
	}
	return 0;
}

/* Counts both sides and verifies the target's audit chain; OODA_ECONFLICT names the first difference. */
static int check_all(struct migrate *m, struct buf *err)
{
	int rc;
	if (m->control) {
		if ((rc = store_copy_count(m->src, m->rows_src, err)) || (rc = store_copy_count(m->dst, m->rows_dst, err)))
			return rc;
		for (size_t i = 0; i < store_copy_tables(); i++)
			if (m->rows_src[i] != m->rows_dst[i]) {
				buf_addf(err, "check failed: %s has %lld rows in the source and %lld in the target",
					 store_copy_table_name(i), (long long)m->rows_src[i], (long long)m->rows_dst[i]);
				return OODA_ECONFLICT;
			}
		if ((rc = audit_verify(m->dst, NULL, &m->verify, err)))
			return rc;
		if (!m->verify.ok) {
			buf_addf(err, "check failed: the audit chain on the target does not verify at seq %lld: %s",
				 (long long)m->verify.first_bad_seq, m->verify.reason);
			return OODA_ECORRUPT;
		}
	}
	if (m->telemetry) {
		if ((rc = tstore_count(m->tsrc, &m->tel_src, err)) || (rc = tstore_count(m->tdst, &m->tel_dst, err)))
			return rc;
		for (int s = 0; s < 3; s++)
			if (m->tel_src.records[s] != m->tel_dst.records[s]) {
				buf_addf(err, "check failed: %llu %s in the source, %llu in the target",
					 (unsigned long long)m->tel_src.records[s], signal_label[s],
					 (unsigned long long)m->tel_dst.records[s]);
				return OODA_ECONFLICT;
			}
		if ((rc = events_pages(m->tsrc, NULL, NULL, &m->events_src, err)) ||
		    (rc = events_pages(m->tdst, NULL, NULL, &m->events_dst, err)))
			return rc;
		if (m->events_src != m->events_dst) {
			buf_addf(err, "check failed: %llu change events in the source, %llu in the target",
				 (unsigned long long)m->events_src, (unsigned long long)m->events_dst);
			return OODA_ECONFLICT;
		}
	}
	return 0;
}

struct record_ctx {
	struct migrate *m;
	const char *rationale;
	char detail[512];
};

static int record_tx(struct store *s, void *ctx, struct buf *err)
{
	struct record_ctx *r = ctx;
	struct audit_entry e = { .actor = cli_actor(),
				 .action = "store.migrate",
				 .target = r->m->to_sqlite ? "store/sqlite" : "store/scale-out",
				 .rationale = r->rationale ? r->rationale : "",
				 .detail = r->detail };
	return audit_append(s, NULL, &e, err);
}

/*
 * Records the move in the audit chain of the control store that is in use
 * after it: the target's when the control store moved, else the source's
 * (telemetry alone moved; the data dir's control.db stays in use).
 */
static int record_move(struct migrate *m, const char *rationale, struct buf *err)
{
	struct record_ctx r = { .m = m, .rationale = rationale };
	uint64_t rec = m->tel_src.records[0] + m->tel_src.records[1] + m->tel_src.records[2];
	int64_t rows = 0;
	for (size_t i = 0; i < store_copy_tables(); i++)
		rows += m->rows_src[i];
	snprintf(r.detail, sizeof(r.detail), "{\"to\":\"%s\",\"control_rows\":%lld,\"telemetry_records\":%llu}",
		 m->to_sqlite ? "sqlite" : m->control && m->telemetry ? "postgres,clickhouse" :
					   m->control                  ? "postgres" :
									 "clickhouse",
		 (long long)rows, (unsigned long long)rec);
	struct store *s = m->control ? m->dst : NULL;
	struct store *own = NULL;
	if (!s) {
		if (m->to_sqlite)
			return 0; /* the control store stays in PostgreSQL: it is not ours to open for writing here */
		int rc = store_open(m->dir, STORE_NO_WRITER_THREAD, &own, err);
		if (rc)
			return rc;
		s = own;
	}
	int rc = store_write(s, record_tx, &r, err);
	store_close(own);
	return rc;
}

static void print_summary(struct migrate *m, int64_t took_ns, bool json)
{
	if (json) {
		json_t *tables = json_array(), *tel = json_array();
		for (size_t i = 0; m->control && i < store_copy_tables(); i++)
			json_array_append_new(tables, json_pack("{s:s, s:I, s:I}", "table", store_copy_table_name(i),
								"source", (json_int_t)m->rows_src[i], "target",
								(json_int_t)m->rows_dst[i]));
		for (int s = 0; m->telemetry && s < 3; s++)
			json_array_append_new(tel, json_pack("{s:s, s:I, s:I}", "kind", signal_label[s], "source",
							     (json_int_t)m->tel_src.records[s], "target",
							     (json_int_t)m->tel_dst.records[s]));
		if (m->telemetry)
			json_array_append_new(tel, json_pack("{s:s, s:I, s:I}", "kind", "change events", "source",
							     (json_int_t)m->events_src, "target",
							     (json_int_t)m->events_dst));
		json_t *j = json_pack("{s:s, s:s, s:o, s:o, s:b, s:I, s:f}", "data", m->dir, "to",
				      m->to_sqlite ? "sqlite" : m->control && m->telemetry ? "postgres,clickhouse" :
						m->control ? "postgres" : "clickhouse",
				      "tables", tables, "telemetry", tel,
				      "audit_verified", m->control ? m->verify.ok : 0, "audit_records",
				      (json_int_t)m->verify.records, "seconds", (double)took_ns / 1e9);
		char *t = json_dumps(j, JSON_COMPACT);
		printf("%s\n", t);
		free(t);
		json_decref(j);
		return;
	}
	printf("migrated %s in %.1f s\n", m->to_sqlite ? "into the embedded store" : "out of the embedded store",
	       (double)took_ns / 1e9);
	printf("%-20s %12s %12s\n", "table", "source", "target");
	for (size_t i = 0; m->control && i < store_copy_tables(); i++)
		printf("%-20s %12lld %12lld  ok\n", store_copy_table_name(i), (long long)m->rows_src[i],
		       (long long)m->rows_dst[i]);
	for (int s = 0; m->telemetry && s < 3; s++)
		printf("%-20s %12llu %12llu  ok\n", signal_label[s], (unsigned long long)m->tel_src.records[s],
		       (unsigned long long)m->tel_dst.records[s]);
	if (m->telemetry)
		printf("%-20s %12llu %12llu  ok\n", "change events", (unsigned long long)m->events_src,
		       (unsigned long long)m->events_dst);
	if (m->control)
		printf("audit verify on the target: ok (%lld records, %lld signed checkpoints)\n",
		       (long long)m->verify.records, (long long)m->verify.checkpoints);
	if (m->to_sqlite)
		printf("start it with `ooda serve --data %s` and a config without the storage.control and "
		       "storage.telemetry backends\n",
		       m->dir);
	else
		printf("start the nodes with %s; %s is left as it was\n",
		       m->control && m->telemetry ? "storage.control.backend: postgres and storage.telemetry.backend: "
						    "clickhouse" :
		       m->control ? "storage.control.backend: postgres" : "storage.telemetry.backend: clickhouse",
		       m->dir);
}

static void close_all(struct migrate *m)
{
	tstore_close(m->tsrc);
	tstore_close(m->tdst);
	store_close(m->src);
	store_close(m->dst);
	m->tsrc = m->tdst = NULL;
	m->src = m->dst = NULL;
}

int cmd_migrate(struct cli_args *a, struct buf *err)
{
	struct migrate m = { .dir = cli_opt(a, "--data"), .lock_fd = -1, .quiet = a->json };
	if (a->n_pos || !m.dir || !*m.dir) {
		buf_adds(err, "usage: ooda migrate --data DIR --to postgres,clickhouse|sqlite [--config FILE] "
			      "[--rationale TEXT]");
		return OODA_EINVAL;
	}
	config_init(&m.cfg);
	int rc = 0;
	const char *cfg = cli_opt(a, "--config");
	if (cfg && (rc = config_load(&m.cfg, cfg, err)))
		goto out;
	if ((rc = parse_to(&m, cli_opt(a, "--to"), err)))
		goto out;
	if (m.control && (rc = pg_dsn(&m, err)))
		goto out;
	int64_t t0 = ooda_mono_ns();
	if ((rc = open_sources(&m, err)) || (rc = open_targets(&m, err)))
		goto out;
	if ((rc = copy_all(&m, err)) || (rc = check_all(&m, err)))
		goto fail;
	/* the new data dir's telemetry.db is then expected at every start (tstore_options.expect_existing) */
	if (m.to_sqlite && m.control && m.telemetry && (rc = store_telemetry_record(m.dst, err)))
		goto fail;
	if ((rc = record_move(&m, cli_opt(a, "--rationale"), err)))
		goto fail;
	print_summary(&m, ooda_mono_ns() - t0, a->json);
	goto out;
fail:
	buf_addf(err, "; the source is untouched. The target holds a partial copy: empty it (%s) and run the "
		      "migration again",
		 m.to_sqlite ? "delete the new data dir" :
		 m.control && m.telemetry ?
			       "drop and create the PostgreSQL database; DROP DATABASE in ClickHouse" :
		 m.control ? "drop and create the PostgreSQL database" :
			     "DROP DATABASE in ClickHouse");
out:
	close_all(&m);
	dirlock_release(m.lock_fd);
	config_release(&m.cfg);
	return rc;
}
