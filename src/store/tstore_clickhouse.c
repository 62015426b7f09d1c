/*
 * The ClickHouse telemetry backend: the second struct tstore_backend, for
 * deployments that outgrow one disk. It speaks ClickHouse's HTTP interface
 * with libcurl. Each record is one row: the columns ooda filters on (day,
 * service, time, severity, trace id, the record's token hashes) beside the
 * record itself, encoded as a one-record block (tblock.h) so that a scan
 * hands callers exactly the records the embedded store would. Appends are
 * group-committed: the rows of every append that arrives while an insert is
 * under way join one group, and a group is one INSERT … FORMAT RowBinary per
 * table (ClickHouse makes one part per INSERT, and many small parts are
 * what it handles worst). An append is acknowledged only after its group's
 * inserts were answered 200, and any failure to store answers every member
 * of the group OODA_EUNAVAIL (503: the clients retry; nothing is spooled).
 * Scans push their filters (time, services, severity, tokens, trace id)
 * down as WHERE clauses and stream the rows back in RowBinary, decoding as
 * they arrive so a caller that stops early stops the transfer. The schema
 * (tstore_clickhouse_schema.c) is migrated at open; retention drops whole
 * day partitions (18.16 has no TTL), from a background thread.
 */
#include "store/tstore_clickhouse.h"
#include "store/rowbin.h"
#include "store/tblock.h"
#include "store/tstore.h"
#include "core/error.h"
#include "core/hex.h"
#include "core/log.h"
#include "core/time.h"
#include "core/xalloc.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POOL_MAX 16
#define SCAN_CHUNK 512                         /* records handed to a scan callback at once */
#define REC_MAX ((size_t)64 << 20)             /* largest stored record a scan accepts */
#define MAINTAIN_EVERY_NS (60 * OODA_NS_PER_SEC)
#define DAY_NS (INT64_C(86400) * OODA_NS_PER_SEC)

static const char *const sig_table[3] = { "logs", "spans", "metrics" };

/* The struct tstore of this backend: tstore.c's dispatch reads only be. */
struct ch_store {
	const struct tstore_backend *be; /* first, as in every struct tstore */
	struct tstore_options opt;
	char *url, *db, *user, *password;
	int version[2];                  /* major, minor */
	bool async_insert;               /* 21.11+: the server batches small inserts itself */
	pthread_mutex_t pool_mu;
	CURL *pool[POOL_MAX];
	int n_pool;
	pthread_mutex_t pub_mu;          /* publish hooks run one at a time, as from one writer */
	pthread_mutex_t mu;              /* st */
	struct tstore_stats st;
	atomic_size_t inflight;          /* encoded bytes of appends under way */
	atomic_uint_fast64_t seq;        /* events: insertion order */
	pthread_t maint;
	pthread_mutex_t maint_mu;
	pthread_cond_t maint_cv;
	bool stop, maint_started;
	/* group commit (ch_append): the group rows join, and whether one is being inserted */
	pthread_mutex_t gc_mu;
	pthread_cond_t gc_cv;
	struct ch_group *gc_open;
	bool gc_busy;
};

/* The appends that share one set of INSERTs; freed by the last member to read its result. */
struct ch_group {
	struct buf body[4];              /* logs, spans, metrics, events: RowBinary rows */
	size_t records[3], events, members;
	bool done;
	int rc;
	struct buf err;
};

#define CH(t) ((struct ch_store *)(void *)(t))

/* ---- HTTP --------------------------------------------------------------- */

static CURL *handle_get(struct ch_store *c)
{
	CURL *h = NULL;
	pthread_mutex_lock(&c->pool_mu);
	if (c->n_pool)
		h = c->pool[--c->n_pool];
	pthread_mutex_unlock(&c->pool_mu);
	if (!h)
		h = curl_easy_init();
	else
		curl_easy_reset(h);
	return h;
}

static void handle_put(struct ch_store *c, CURL *h)
{
	pthread_mutex_lock(&c->pool_mu);
	if (c->n_pool < POOL_MAX) {
		c->pool[c->n_pool++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&c->pool_mu);
	if (h)
		curl_easy_cleanup(h);
}

struct sink {
	struct buf *out;     /* whole answer, when fn is NULL */
	size_t (*fn)(void *ctx, const char *p, size_t n);
	void *ctx;
	struct buf errbody;  /* an error answer, kept short */
	long status;
	CURL *h;
};

static size_t sink_write(char *p, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;
	size_t len = size * n;
	if (!s->status)
		curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &s->status);
	if (s->status != 200) {
		if (s->errbody.len < 2048)
			buf_add(&s->errbody, p, len < 2048 ? len : 2048);
		return len;
	}
	if (s->fn)
		return s->fn(s->ctx, p, len);
	buf_add(s->out, p, len);
	return len;
}

/*
 * POSTs to the server: sql travels in the query string when body is given
 * (INSERT … FORMAT with its data), else as the body. The answer goes to out
 * or, with fn, to fn as it arrives (fn returning less than it got stops the
 * transfer, which is then no error). Returns 0, OODA_EUNAVAIL when the
 * server cannot be reached, OODA_EIO when it answered with an error (its
 * first line in err).
 */
static int ch_post(struct ch_store *c, const char *sql, const void *body, size_t blen, struct buf *out,
		   size_t (*fn)(void *ctx, const char *p, size_t n), void *ctx, bool *stopped, struct buf *err)
{
	CURL *h = handle_get(c);
	if (!h) {
		buf_adds(err, "ClickHouse: cannot create an HTTP handle");
		return OODA_ENOMEM;
	}
	struct buf url = BUF_INIT;
	buf_addf(&url, "%s/", c->url); /* every statement names its database */
	if (body) {
		char *q = curl_easy_escape(h, sql, 0);
		buf_adds(&url, "?query=");
		buf_adds(&url, q ? q : "");
		curl_free(q);
		/* waiting keeps the promise: answered once the rows are stored */
		if (c->async_insert)
			buf_adds(&url, "&async_insert=1&wait_for_async_insert=1");
	}
	struct sink s = { .out = out, .fn = fn, .ctx = ctx, .h = h };
	buf_init(&s.errbody);
	curl_easy_setopt(h, CURLOPT_URL, url.data);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : sql);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? blen : strlen(sql)));
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 60000L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (c->user || c->password) /* a password alone is the default user's */
		curl_easy_setopt(h, CURLOPT_USERNAME, c->user ? c->user : "default");
	if (c->password)
		curl_easy_setopt(h, CURLOPT_PASSWORD, c->password);
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/octet-stream");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	CURLcode cc = curl_easy_perform(h);
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hdr);
	int rc = 0;
	if (cc == CURLE_WRITE_ERROR && stopped && *stopped) {
		rc = 0;
	} else if (cc != CURLE_OK && status != 200 && !s.errbody.len) {
		buf_addf(err, "ClickHouse at %s cannot be reached: %s", c->url, curl_easy_strerror(cc));
		rc = OODA_EUNAVAIL;
	} else if (status != 200) {
		size_t n = 0;
		while (n < s.errbody.len && s.errbody.data[n] != '\n' && n < 400)
			n++;
		buf_addf(err, "ClickHouse answered %ld: %.*s", status, (int)n, s.errbody.len ? s.errbody.data : "");
		rc = OODA_EIO;
	} else if (cc != CURLE_OK) {
		buf_addf(err, "ClickHouse at %s: %s", c->url, curl_easy_strerror(cc));
		rc = OODA_EIO;
	}
	buf_release(&s.errbody);
	buf_release(&url);
	handle_put(c, h);
	return rc;
}

static int ch_exec(struct ch_store *c, const char *sql, struct buf *err)
{
	struct buf out = BUF_INIT;
	int rc = ch_post(c, sql, NULL, 0, &out, NULL, NULL, NULL, err);
	buf_release(&out);
	return rc;
}

/* One integer answer (TabSeparated), or def when the query fails. */
static int ch_query_i64(struct ch_store *c, const char *sql, int64_t *v, struct buf *err)
{
	struct buf out = BUF_INIT;
	int rc = ch_post(c, sql, NULL, 0, &out, NULL, NULL, NULL, err);
	if (!rc)
		*v = out.len ? strtoll(out.data, NULL, 10) : 0;
	buf_release(&out);
	return rc;
}

/* ---- schema -------------------------------------------------------------- */

static int ch_migrate(struct ch_store *c, struct buf *err)
{
	struct buf sql = BUF_INIT;
	int rc;
	buf_addf(&sql, "CREATE DATABASE IF NOT EXISTS `%s`", c->db);
	if ((rc = ch_exec(c, sql.data, err)))
		goto out;
	buf_reset(&sql);
	buf_addf(&sql, "CREATE TABLE IF NOT EXISTS `%s`.schema_version (version UInt32, applied_ns Int64) "
		       "ENGINE = TinyLog", c->db);
	if ((rc = ch_exec(c, sql.data, err)))
		goto out;
	buf_reset(&sql);
	buf_addf(&sql, "SELECT max(version) FROM `%s`.schema_version", c->db);
	int64_t have = 0;
	if ((rc = ch_query_i64(c, sql.data, &have, err)))
		goto out;
	if (have > CH_SCHEMA_VERSION) {
		buf_addf(err, "ClickHouse database %s has ooda schema version %lld, newer than this ooda supports (%d): "
			      "run the ooda version that wrote it",
			 c->db, (long long)have, CH_SCHEMA_VERSION);
		rc = OODA_ESCHEMA;
		goto out;
	}
	for (int v = (int)have; v < CH_SCHEMA_VERSION; v++) {
		for (size_t i = 0; ch_migrations[v][i]; i++) {
			buf_reset(&sql);
			/* every statement names the database as {db} */
			for (const char *p = ch_migrations[v][i]; *p; p++) {
				if (!strncmp(p, "{db}", 4)) {
					buf_addf(&sql, "`%s`", c->db);
					p += 3;
				} else {
					buf_addch(&sql, *p);
				}
			}
			if ((rc = ch_exec(c, sql.data, err))) {
				buf_addf(err, " (migration %d of the ClickHouse schema)", v + 1);
				goto out;
			}
		}
		buf_reset(&sql);
		buf_addf(&sql, "INSERT INTO `%s`.schema_version VALUES (%d, %lld)", c->db, v + 1,
			 (long long)ooda_now_ns());
		if ((rc = ch_exec(c, sql.data, err)))
			goto out;
		log_info("ClickHouse schema of %s migrated to version %d", c->db, v + 1);
	}
out:
	buf_release(&sql);
	return rc;
}

/* Features of newer servers, used when SELECT version() says they are there. */
static bool ch_has(const struct ch_store *c, int major, int minor)
{
	return c->version[0] > major || (c->version[0] == major && c->version[1] >= minor);
}

static void ch_features(struct ch_store *c)
{
	struct buf sql = BUF_INIT, err = BUF_INIT;
	for (const struct ch_feature *f = ch_features_table; f->what; f++) {
		if (!ch_has(c, f->major, f->minor))
			continue;
		if (f->needs_retention && !c->opt.retention_age_ns)
			continue;
		buf_reset(&sql);
		long long days = (c->opt.retention_age_ns + DAY_NS - 1) / DAY_NS;
		for (const char *p = f->sql; *p; p++) {
			if (!strncmp(p, "{db}", 4)) {
				buf_addf(&sql, "`%s`", c->db);
				p += 3;
			} else if (!strncmp(p, "{days}", 6)) {
				buf_addf(&sql, "%lld", days);
				p += 5;
			} else {
				buf_addch(&sql, *p);
			}
		}
		buf_reset(&err);
		if (ch_exec(c, sql.data, &err))
			log_warn("ClickHouse %d.%d: %s not applied: %s", c->version[0], c->version[1], f->what, err.data);
	}
	buf_release(&sql);
	buf_release(&err);
}

/* ---- append ------------------------------------------------------------- */

static int64_t day_of(int64_t ns)
{
	return ns / DAY_NS;
}

static const uint8_t zero16[16];

/* Appends one row of rec (of signal) to body. */
static int encode_row(struct ch_store *c, int signal, const void *rec, struct buf *body, struct buf *err)
{
	const char *svc;
	if (signal == SIGNAL_LOGS)
		svc = ((const struct log_record *)rec)->resource->service;
	else if (signal == SIGNAL_SPANS)
		svc = ((const struct span *)rec)->resource->service;
	else
		svc = ((const struct metric_point *)rec)->resource->service;
	if (!svc)
		svc = "unknown";
	struct tblock blk;
	uint64_t *toks = NULL;
	size_t nt = 0;
	int rc = tblock_encode_tokens(signal, svc, rec, 1, c->opt.zstd_level ? c->opt.zstd_level : 1, &blk, &toks,
				      &nt, err);
	if (rc)
		return rc;
	if (signal == SIGNAL_LOGS) {
		const struct log_record *r = rec;
		rowbin_date_ns(body, r->time_ns);
		rowbin_str(body, blk.service, strlen(blk.service));
		rowbin_i64(body, r->time_ns);
		rowbin_u8(body, r->severity);
		rowbin_fixed(body, r->has_trace_id ? r->trace_id : zero16, 16);
	} else if (signal == SIGNAL_SPANS) {
		const struct span *s = rec;
		rowbin_date_ns(body, s->start_ns);
		rowbin_str(body, blk.service, strlen(blk.service));
		rowbin_i64(body, blk.tmin);
		rowbin_i64(body, blk.tmax);
		rowbin_fixed(body, s->trace_id, 16);
		rowbin_str(body, s->name ? s->name : "", s->name ? strlen(s->name) : 0);
	} else {
		const struct metric_point *p = rec;
		rowbin_date_ns(body, p->time_ns);
		rowbin_str(body, blk.service, strlen(blk.service));
		rowbin_str(body, p->name ? p->name : "", p->name ? strlen(p->name) : 0);
		rowbin_i64(body, p->time_ns);
	}
	rowbin_u64s(body, toks, nt);
	rowbin_str(body, blk.data, blk.data_len);
	free(toks);
	tblock_release(&blk);
	return 0;
}

static const char *const insert_cols[3] = {
	"(day, service, time, severity, trace_id, tokens, rec)",
	"(day, service, tmin, tmax, trace_id, name, tokens, rec)",
	"(day, service, name, time, tokens, rec)",
};

static int insert_rows(struct ch_store *c, const char *table, const char *cols, const struct buf *body,
		       struct buf *err)
{
	struct buf sql = BUF_INIT;
	buf_addf(&sql, "INSERT INTO `%s`.%s %s FORMAT RowBinary", c->db, table, cols);
	struct buf out = BUF_INIT;
	int rc = ch_post(c, sql.data, body->data, body->len, &out, NULL, NULL, NULL, err);
	buf_release(&out);
	buf_release(&sql);
	return rc;
}

static void encode_event(struct ch_store *c, const struct change_event *e, struct buf *body)
{
	uint64_t seq = atomic_fetch_add(&c->seq, 1) + 1;
	char idbuf[48];
	const char *id = e->id;
	if (!id || !*id) {
		snprintf(idbuf, sizeof(idbuf), "ev-%llx-%llx", (unsigned long long)e->time_ns, (unsigned long long)seq);
		id = idbuf;
	}
	struct buf attrs = BUF_INIT;
	record_attrs_json(&attrs, &e->attrs);
	rowbin_date_ns(body, e->time_ns);
	rowbin_u64(body, seq);
	rowbin_u64(body, UINT64_MAX - seq); /* ReplacingMergeTree keeps the highest: the first stored */
	rowbin_str(body, id, strlen(id));
	rowbin_i64(body, e->time_ns);
	const char *kind = e->kind ? e->kind : "custom";
	rowbin_str(body, kind, strlen(kind));
	rowbin_nstr(body, e->service);
	rowbin_nstr(body, e->environment);
	rowbin_nstr(body, e->version);
	rowbin_nstr(body, e->actor);
	rowbin_nstr(body, e->description);
	rowbin_nstr(body, e->source);
	rowbin_nstr(body, e->links);
	rowbin_str(body, attrs.data ? attrs.data : "", attrs.len);
	buf_release(&attrs);
}

/* The group's INSERTs, one per table that has rows; the first failure ends it. */
static int group_insert(struct ch_store *c, struct ch_group *g)
{
	int rc = 0;
	for (int s = 0; s < 3 && !rc; s++)
		if (g->records[s])
			rc = insert_rows(c, sig_table[s], insert_cols[s], &g->body[s], &g->err);
	if (!rc && g->events)
		rc = insert_rows(c, "events",
				 "(day, seq, ver, id, time, kind, service, environment, version, actor, "
				 "description, source, links, attrs)",
				 &g->body[3], &g->err);
	if (rc) {
		/* not stored (or not all of it): every member's client is to send it again */
		log_error("telemetry insert failed: %s", g->err.data);
		rc = OODA_EUNAVAIL;
	}
	return rc;
}

/*
 * Adds one append's rows (body, by table) to the open group and returns once
 * that group's inserts ended: the member that finds no insert under way
 * closes the group and inserts it, while later appends gather in the next
 * group; a lone writer's group is its own append, so it waits for nothing.
 * Every member gets the group's outcome, with its message in err.
 */
static int group_commit(struct ch_store *c, struct buf body[4], const size_t n[3], size_t n_events,
			struct buf *err)
{
	pthread_mutex_lock(&c->gc_mu);
	struct ch_group *g = c->gc_open;
	if (!g) {
		g = xcalloc(1, sizeof(*g));
		for (int i = 0; i < 4; i++)
			buf_init(&g->body[i]);
		buf_init(&g->err);
		c->gc_open = g;
	}
	for (int i = 0; i < 4; i++)
		buf_add(&g->body[i], body[i].data, body[i].len);
	for (int s = 0; s < 3; s++)
		g->records[s] += n[s];
	g->events += n_events;
	g->members++;
	while (!g->done) {
		if (!c->gc_busy && c->gc_open == g) {
			c->gc_busy = true;
			c->gc_open = NULL;
			pthread_mutex_unlock(&c->gc_mu);
			int rc = group_insert(c, g);
			pthread_mutex_lock(&c->mu);
			c->st.commits++;
			pthread_mutex_unlock(&c->mu);
			pthread_mutex_lock(&c->gc_mu);
			g->rc = rc;
			g->done = true;
			c->gc_busy = false;
			pthread_cond_broadcast(&c->gc_cv);
		} else {
			pthread_cond_wait(&c->gc_cv, &c->gc_mu);
		}
	}
	int rc = g->rc;
	if (rc && g->err.len)
		buf_add(err, g->err.data, g->err.len);
	if (--g->members == 0) {
		for (int i = 0; i < 4; i++)
			buf_release(&g->body[i]);
		buf_release(&g->err);
		free(g);
	}
	pthread_mutex_unlock(&c->gc_mu);
	return rc;
}

static int ch_append(struct tstore *t, const struct telemetry_batch *b, struct buf *err)
{
	struct ch_store *c = CH(t);
	const void *recs[3] = { b->logs, b->spans, b->points };
	size_t n[3] = { b->n_logs, b->n_spans, b->n_points };
	size_t sz[3] = { sizeof(struct log_record), sizeof(struct span), sizeof(struct metric_point) };
	struct buf body[4];
	for (int i = 0; i < 4; i++)
		buf_init(&body[i]);
	int rc = 0;
	size_t total = 0;
	for (int s = 0; s < 3 && !rc; s++) {
		for (size_t i = 0; i < n[s] && !rc; i++)
			rc = encode_row(c, s, (const char *)recs[s] + i * sz[s], &body[s], err);
		total += body[s].len;
	}
	for (size_t i = 0; i < b->n_events; i++)
		encode_event(c, &b->events[i], &body[3]);
	total += body[3].len;
	if (!rc) {
		size_t was = atomic_fetch_add(&c->inflight, total);
		if (c->opt.queue_bytes && was + total > c->opt.queue_bytes && was) {
			buf_addf(err, "telemetry store busy: %zu bytes of inserts under way", was);
			pthread_mutex_lock(&c->mu);
			c->st.rejected_busy++;
			pthread_mutex_unlock(&c->mu);
			rc = OODA_EBUSY;
		} else {
			rc = group_commit(c, body, n, b->n_events, err);
		}
		atomic_fetch_sub(&c->inflight, total);
	}
	size_t bytes[3] = { body[0].len, body[1].len, body[2].len };
	for (int i = 0; i < 4; i++)
		buf_release(&body[i]);
	if (rc)
		return rc;
	pthread_mutex_lock(&c->mu);
	for (int s = 0; s < 3; s++) {
		c->st.records[s] += n[s];
		c->st.blocks[s] += n[s];
		c->st.bytes[s] += bytes[s];
	}
	c->st.events += b->n_events;
	pthread_mutex_unlock(&c->mu);
	if (c->opt.publish) {
		pthread_mutex_lock(&c->pub_mu);
		c->opt.publish(c->opt.publish_ctx, b);
		pthread_mutex_unlock(&c->pub_mu);
	}
	if (c->opt.published) /* outside pub_mu: appends that publish meanwhile share what it writes */
		c->opt.published(c->opt.publish_ctx, b->n_spans > 0);
	return 0;
}

/* ---- scan --------------------------------------------------------------- */

/*
 * " AND day OP 'YYYY-MM-DD'" for the day of ns, as a literal: toDate(N)
 * reads small numbers as days but larger ones as seconds, and Date ends in
 * 2106, so days past DATE_LAST_DAY add no bound.
 */
#define DATE_LAST_DAY 40000 /* 2079-07-07 */
static void add_day_bound(struct buf *sql, const char *op, int64_t ns)
{
	int64_t d = day_of(ns);
	if (d < 0 || d > DATE_LAST_DAY)
		return;
	char when[40];
	ooda_time_format(d * DAY_NS, when, sizeof(when));
	buf_addf(sql, " AND day %s '%.10s'", op, when);
}

int ch_scan_sql(const char *db, const struct tstore_scan *q, struct buf *sql)
{
	if (q->signal < 0 || q->signal > SIGNAL_METRICS)
		return OODA_EINVAL;
	bool spans = q->signal == SIGNAL_SPANS;
	const char *tmin = spans ? "tmin" : "time", *tmax = spans ? "tmax" : "time";
	buf_addf(sql, "SELECT %s, %s, rec FROM `%s`.%s WHERE 1", tmin, tmax, db, sig_table[q->signal]);
	if (q->from_ns || q->to_ns) {
		int64_t from = q->from_ns, to = q->to_ns ? q->to_ns : INT64_MAX;
		buf_addf(sql, " AND %s >= %lld AND %s <= %lld", tmax, (long long)from, tmin, (long long)to);
		/* partitions: a span is filed under the day it started */
		if (!spans && from > 0)
			add_day_bound(sql, ">=", from);
		if (q->to_ns > 0)
			add_day_bound(sql, "<=", to);
	}
	if (q->services && q->n_services) {
		buf_adds(sql, " AND service IN (");
		for (size_t i = 0; i < q->n_services; i++) {
			if (i)
				buf_addch(sql, ',');
			const char *s = q->services[i] ? q->services[i] : "";
			chsql_quote(sql, s, strlen(s));
		}
		buf_addch(sql, ')');
	}
	if (q->signal == SIGNAL_LOGS && q->min_severity)
		buf_addf(sql, " AND severity >= %u", (unsigned)q->min_severity);
	if (q->trace_id && q->signal != SIGNAL_METRICS) {
		char hex[33];
		hex_encode(q->trace_id, 16, hex);
		buf_addf(sql, " AND trace_id = unhex('%s')", hex);
		if (spans) /* the trace index (ordered by trace id) narrows the services and days read */
			buf_addf(sql, " AND (service, day) IN (SELECT service, day FROM `%s`.traces WHERE trace_id = "
				      "unhex('%s'))",
				 db, hex);
	}
	/* the trace id's own token is implied by the trace id filter: matching it
	 * again would read the tokens column for nothing */
	uint64_t implied = 0;
	if (q->trace_id && q->signal != SIGNAL_METRICS) {
		char hex[33];
		hex_encode(q->trace_id, 16, hex);
		implied = tblock_token_hash(hex, 32);
	}
	size_t n_tok = 0;
	for (size_t i = 0; q->tokens && i < q->n_tokens; i++) {
		if (implied && q->tokens[i] == implied)
			continue;
		/* any_token: the record needs one of them (a metric asked for by any of its names) */
		buf_adds(sql, n_tok++ ? "," : q->any_token ? " AND hasAny(tokens, [" : " AND hasAll(tokens, [");
		buf_addf(sql, "toUInt64(%llu)", (unsigned long long)(q->tokens[i] ? q->tokens[i] : 1));
	}
	if (n_tok)
		buf_adds(sql, "])");
	buf_addf(sql, q->oldest_first ? " ORDER BY %s ASC" : " ORDER BY %s DESC", q->oldest_first ? tmin : tmax);
	buf_adds(sql, " FORMAT RowBinary");
	return 0;
}

struct scan_state {
	struct ch_store *c;
	const struct tstore_scan *q;
	tstore_scan_fn fn;
	void *ctx;
	struct buf pending;
	struct arena arena;
	char *recs;
	size_t n, esz;
	int64_t tmin, tmax;
	bool stopped;
	int rc;
	struct buf err;
};

static int scan_flush(struct scan_state *s)
{
	if (!s->n)
		return 0;
	struct telemetry_batch b = { .arena = &s->arena };
	if (s->q->signal == SIGNAL_LOGS) {
		b.logs = (struct log_record *)(void *)s->recs;
		b.n_logs = s->n;
	} else if (s->q->signal == SIGNAL_SPANS) {
		b.spans = (struct span *)(void *)s->recs;
		b.n_spans = s->n;
	} else {
		b.points = (struct metric_point *)(void *)s->recs;
		b.n_points = s->n;
	}
	int stop = s->fn(s->ctx, &b, s->tmin, s->tmax);
	s->n = 0;
	arena_reset(&s->arena);
	if (stop)
		s->stopped = true;
	return stop;
}

static void scan_skip(struct scan_state *s, const char *why)
{
	pthread_mutex_lock(&s->c->mu);
	s->c->st.corrupt_blocks++;
	pthread_mutex_unlock(&s->c->mu);
	if (s->q->skipped)
		s->q->skipped->n++;
	log_warn("ClickHouse %s: a stored record does not decode, skipped: %s", sig_table[s->q->signal], why);
}

/*
 * A query that fails after ClickHouse sent its 200 ends the body with the
 * exception's text ("Code: 241, e.displayText() = DB::Exception: …") where a
 * row would be. Is that what starts at p? Then err gets its first line.
 */
static bool mid_stream_error(const char *p, size_t len, struct buf *err)
{
	const char *at = memmem(p, len, "DB::Exception", 13);
	if (!at)
		return false;
	const char *code = memmem(p, len, "Code: ", 6);
	const char *from = code && code < at ? code : at;
	size_t n = 0;
	while (from + n < p + len && from[n] != '\n' && n < 400)
		n++;
	buf_addf(err, "ClickHouse failed during the query: %.*s", (int)n, from);
	return true;
}

static size_t scan_write(void *ctx, const char *p, size_t len)
{
	struct scan_state *s = ctx;
	if (s->stopped || s->rc)
		return 0;
	buf_add(&s->pending, p, len);
	struct rowbin_reader r = { (const uint8_t *)s->pending.data, (const uint8_t *)s->pending.data + s->pending.len };
	for (;;) {
		struct rowbin_reader row = r;
		int64_t lo, hi;
		const char *rec;
		size_t rlen;
		if (rowbin_read_i64(&row, &lo) || rowbin_read_i64(&row, &hi))
			break;
		int rc = rowbin_read_str(&row, REC_MAX, &rec, &rlen);
		if (rc > 0)
			break;
		if (rc < 0) {
			if (!mid_stream_error((const char *)r.p, (size_t)(r.end - r.p), &s->err))
				buf_adds(&s->err, "ClickHouse answered a malformed row");
			s->rc = OODA_EIO;
			return 0;
		}
		struct telemetry_batch one = { 0 };
		struct buf derr = BUF_INIT;
		if (tblock_decode_some(s->q->signal, rec, rlen, s->q->skip, &s->arena, &one, &derr)) {
			if (mid_stream_error((const char *)r.p, (size_t)(r.end - r.p), &s->err)) {
				buf_release(&derr);
				s->rc = OODA_EIO;
				return 0;
			}
			r = row;
			scan_skip(s, derr.data ? derr.data : "");
			buf_release(&derr);
			continue;
		}
		r = row;
		buf_release(&derr);
		const void *src = s->q->signal == SIGNAL_LOGS ? (const void *)one.logs :
				  s->q->signal == SIGNAL_SPANS ? (const void *)one.spans : (const void *)one.points;
		size_t cnt = s->q->signal == SIGNAL_LOGS ? one.n_logs : s->q->signal == SIGNAL_SPANS ? one.n_spans :
											one.n_points;
		for (size_t i = 0; i < cnt; i++) {
			if (!s->n) {
				s->tmin = lo;
				s->tmax = hi;
			}
			if (lo < s->tmin)
				s->tmin = lo;
			if (hi > s->tmax)
				s->tmax = hi;
			memcpy(s->recs + s->n * s->esz, (const char *)src + i * s->esz, s->esz);
			if (++s->n == SCAN_CHUNK && scan_flush(s))
				return 0;
		}
	}
	size_t used = (size_t)((const char *)r.p - s->pending.data);
	memmove(s->pending.data, s->pending.data + used, s->pending.len - used);
	buf_setlen(&s->pending, s->pending.len - used);
	return len;
}

static int ch_scan(struct tstore *t, const struct tstore_scan *q, tstore_scan_fn fn, void *ctx, struct buf *err)
{
	struct ch_store *c = CH(t);
	struct buf sql = BUF_INIT;
	if (ch_scan_sql(c->db, q, &sql)) {
		buf_release(&sql);
		buf_addf(err, "scan of signal %d", q->signal);
		return OODA_EINVAL;
	}
	struct scan_state s = { .c = c, .q = q, .fn = fn, .ctx = ctx };
	buf_init(&s.pending);
	buf_init(&s.err);
	arena_init(&s.arena, 0);
	s.esz = q->signal == SIGNAL_LOGS ? sizeof(struct log_record) :
		q->signal == SIGNAL_SPANS ? sizeof(struct span) : sizeof(struct metric_point);
	s.recs = xmalloc(SCAN_CHUNK * s.esz);
	struct buf perr = BUF_INIT;
	int rc = ch_post(c, sql.data, NULL, 0, NULL, scan_write, &s, &s.stopped, &perr);
	if (s.rc) { /* the reader's reason beats curl's "failed writing received data" */
		buf_add(err, s.err.data, s.err.len);
		rc = s.rc;
	} else if (rc) {
		buf_add(err, perr.data, perr.len);
	}
	buf_release(&perr);
	if (!rc && !s.stopped) {
		if (s.pending.len) {
			if (!mid_stream_error(s.pending.data, s.pending.len, err))
				buf_adds(err, "ClickHouse's answer ended inside a row");
			rc = OODA_EIO;
		} else {
			scan_flush(&s);
		}
	}
	if (rc == OODA_EUNAVAIL)
		rc = OODA_EIO;
	free(s.recs);
	arena_release(&s.arena);
	buf_release(&s.pending);
	buf_release(&s.err);
	buf_release(&sql);
	return rc;
}

/* ---- events ------------------------------------------------------------- */

static void str_json(struct buf *out, const char *name, const char *s, size_t len, bool raw)
{
	buf_addf(out, ",\"%s\":", name);
	if (!s)
		buf_adds(out, "null");
	else if (raw)
		buf_add(out, s, len);
	else
		buf_add_json_str(out, s, len);
}

static int ch_events_json(struct tstore *t, const struct tstore_event_filter *f, struct buf *out, struct buf *err)
{
	struct ch_store *c = CH(t);
	struct buf sql = BUF_INIT, ans = BUF_INIT;
	buf_addf(&sql, "SELECT id, time, kind, service, environment, version, actor, description, source, links, attrs "
		       "FROM `%s`.events FINAL WHERE time >= %lld AND time <= %lld", c->db, (long long)f->from_ns,
		 (long long)(f->to_ns ? f->to_ns : INT64_MAX));
	const char *const col[3] = { "service", "kind", "environment" };
	const char *const val[3] = { f->service, f->kind, f->environment };
	for (int i = 0; i < 3; i++)
		if (val[i]) {
			buf_addf(&sql, " AND %s = ", col[i]);
			chsql_quote(&sql, val[i], strlen(val[i]));
		}
	buf_addf(&sql, " ORDER BY time DESC, seq DESC LIMIT %zu FORMAT RowBinary", f->limit ? f->limit : 100);
	int rc = ch_post(c, sql.data, NULL, 0, &ans, NULL, NULL, NULL, err);
	if (rc == OODA_EUNAVAIL)
		rc = OODA_EIO;
	if (!rc) {
		struct rowbin_reader r = { (const uint8_t *)ans.data, (const uint8_t *)ans.data + ans.len };
		buf_addch(out, '[');
		int n = 0;
		while (r.p < r.end) {
			const char *s[11];
			size_t l[11];
			int64_t ns;
			int bad = rowbin_read_str(&r, REC_MAX, &s[0], &l[0]) || rowbin_read_i64(&r, &ns) ||
				  rowbin_read_str(&r, REC_MAX, &s[2], &l[2]);
			for (int i = 3; i < 10 && !bad; i++)
				bad = rowbin_read_nstr(&r, REC_MAX, &s[i], &l[i]);
			if (!bad)
				bad = rowbin_read_str(&r, REC_MAX, &s[10], &l[10]);
			if (bad) {
				buf_adds(err, "ClickHouse answered a malformed event row");
				rc = OODA_EIO;
				break;
			}
			char when[40];
			ooda_time_format(ns, when, sizeof(when));
			buf_adds(out, n++ ? ",{" : "{");
			buf_adds(out, "\"id\":");
			buf_add_json_str(out, s[0], l[0]);
			buf_addf(out, ",\"time\":\"%s\",\"time_unix_nano\":%lld", when, (long long)ns);
			static const char *const names[] = { NULL, NULL, "kind", "service", "environment", "version",
							     "actor", "description", "source", "links", "attributes" };
			for (int i = 2; i < 11; i++)
				str_json(out, names[i], s[i], l[i], i >= 9);
			buf_addch(out, '}');
		}
		buf_addch(out, ']');
	}
	buf_release(&ans);
	buf_release(&sql);
	return rc;
}

/* ---- stats and maintenance ---------------------------------------------- */

static void ch_stats(struct tstore *t, struct tstore_stats *out)
{
	struct ch_store *c = CH(t);
	pthread_mutex_lock(&c->mu);
	*out = c->st;
	pthread_mutex_unlock(&c->mu);
	out->queue_bytes = atomic_load(&c->inflight);
	out->queue_limit = c->opt.queue_bytes;
}

/* Reads sizes and counts from system.parts into st. */
static int refresh_sizes(struct ch_store *c, struct buf *err)
{
	struct buf sql = BUF_INIT, ans = BUF_INIT;
	buf_adds(&sql, "SELECT table, toUInt64(sum(rows)), toUInt64(sum(bytes_on_disk)) FROM system.parts WHERE active "
		       "AND database = ");
	chsql_quote(&sql, c->db, strlen(c->db));
	buf_adds(&sql, " GROUP BY table FORMAT RowBinary");
	int rc = ch_post(c, sql.data, NULL, 0, &ans, NULL, NULL, NULL, err);
	if (!rc) {
		struct rowbin_reader r = { (const uint8_t *)ans.data, (const uint8_t *)ans.data + ans.len };
		struct tstore_stats st = { 0 };
		while (r.p < r.end) {
			const char *name;
			size_t nl;
			uint64_t rows, bytes;
			if (rowbin_read_str(&r, 256, &name, &nl) || rowbin_read_u64(&r, &rows) ||
			    rowbin_read_u64(&r, &bytes))
				break;
			st.file_bytes += bytes;
			for (int s = 0; s < 3; s++)
				if (nl == strlen(sig_table[s]) && !memcmp(name, sig_table[s], nl)) {
					st.records[s] = st.blocks[s] = rows;
					st.bytes[s] = bytes;
				}
			if (nl == 6 && !memcmp(name, "events", 6))
				st.events = rows;
		}
		pthread_mutex_lock(&c->mu);
		for (int s = 0; s < 3; s++) {
			c->st.records[s] = c->st.blocks[s] = st.records[s];
			c->st.bytes[s] = st.bytes[s];
		}
		c->st.events = st.events;
		c->st.file_bytes = st.file_bytes;
		pthread_mutex_unlock(&c->mu);
	}
	buf_release(&ans);
	buf_release(&sql);
	return rc;
}

/*
 * Retention: drops the day partitions that lie wholly before now minus the
 * retention age, then, while the tables are over the size bound, the
 * oldest day (never today's). Returns partitions dropped.
 */
static int ch_maintain(struct tstore *t, int64_t now_ns, struct buf *err)
{
	struct ch_store *c = CH(t);
	struct buf sql = BUF_INIT, ans = BUF_INIT;
	buf_adds(&sql, "SELECT table, toUInt64(toRelativeDayNum(toDate(partition))), toUInt64(sum(bytes_on_disk)) "
		       "FROM system.parts WHERE active AND database = ");
	chsql_quote(&sql, c->db, strlen(c->db));
	buf_adds(&sql, " AND table IN ('logs','spans','metrics','events','traces') GROUP BY table, partition "
		       "ORDER BY 2 FORMAT RowBinary");
	int rc = ch_post(c, sql.data, NULL, 0, &ans, NULL, NULL, NULL, err);
	int dropped = 0;
	if (rc)
		goto out;
	struct part {
		char table[16];
		uint64_t day, bytes;
	} *parts = NULL;
	size_t np = 0, cap = 0;
	uint64_t total = 0;
	struct rowbin_reader r = { (const uint8_t *)ans.data, (const uint8_t *)ans.data + ans.len };
	while (r.p < r.end) {
		const char *name;
		size_t nl;
		uint64_t day, bytes;
		if (rowbin_read_str(&r, 15, &name, &nl) || rowbin_read_u64(&r, &day) || rowbin_read_u64(&r, &bytes))
			break;
		if (np == cap) {
			cap = cap ? 2 * cap : 64;
			parts = xreallocarray(parts, cap, sizeof(*parts));
		}
		memcpy(parts[np].table, name, nl);
		parts[np].table[nl] = 0;
		parts[np].day = day;
		parts[np].bytes = bytes;
		total += bytes;
		np++;
	}
	/* toRelativeDayNum counts from 1970-01-01 as day 0 (as Date does) */
	int64_t today = day_of(now_ns);
	int64_t cutoff = c->opt.retention_age_ns ? day_of(now_ns - c->opt.retention_age_ns) : -1;
	for (size_t i = 0; i < np && !rc; i++) {
		bool old = (int64_t)parts[i].day < cutoff;
		bool big = c->opt.retention_bytes && total > (uint64_t)c->opt.retention_bytes &&
			   (int64_t)parts[i].day < today;
		if (!old && !big)
			continue;
		buf_reset(&sql);
		char day[16];
		ooda_time_format((int64_t)parts[i].day * DAY_NS, day, sizeof(day)); /* YYYY-MM-DD… */
		day[10] = 0;
		buf_addf(&sql, "ALTER TABLE `%s`.%s DROP PARTITION '%s'", c->db, parts[i].table, day);
		if (!(rc = ch_exec(c, sql.data, err))) {
			total -= parts[i].bytes;
			dropped++;
		}
	}
	free(parts);
	if (dropped) {
		pthread_mutex_lock(&c->mu);
		c->st.retention_dropped += (uint64_t)dropped;
		pthread_mutex_unlock(&c->mu);
	}
	if (!rc) {
		struct buf e2 = BUF_INIT;
		refresh_sizes(c, &e2);
		buf_release(&e2);
	}
out:
	buf_release(&ans);
	buf_release(&sql);
	if (rc == OODA_EUNAVAIL)
		rc = OODA_EIO;
	return rc ? rc : dropped;
}

static void *maint_main(void *arg)
{
	struct ch_store *c = arg;
	pthread_mutex_lock(&c->maint_mu);
	while (!c->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += MAINTAIN_EVERY_NS / OODA_NS_PER_SEC;
		pthread_cond_timedwait(&c->maint_cv, &c->maint_mu, &ts);
		if (c->stop)
			break;
		pthread_mutex_unlock(&c->maint_mu);
		struct buf err = BUF_INIT;
		if (ch_maintain((struct tstore *)(void *)c, ooda_now_ns(), &err) < 0)
			log_error("telemetry maintenance failed: %s", err.data);
		buf_release(&err);
		pthread_mutex_lock(&c->maint_mu);
	}
	pthread_mutex_unlock(&c->maint_mu);
	return NULL;
}

/* ---- open and close ----------------------------------------------------- */

static void ch_close(struct tstore *t)
{
	struct ch_store *c = CH(t);
	if (!c)
		return;
	if (c->maint_started) {
		pthread_mutex_lock(&c->maint_mu);
		c->stop = true;
		pthread_cond_signal(&c->maint_cv);
		pthread_mutex_unlock(&c->maint_mu);
		pthread_join(c->maint, NULL);
	}
	for (int i = 0; i < c->n_pool; i++)
		curl_easy_cleanup(c->pool[i]);
	pthread_mutex_destroy(&c->pool_mu);
	pthread_mutex_destroy(&c->pub_mu);
	pthread_mutex_destroy(&c->mu);
	pthread_mutex_destroy(&c->maint_mu);
	pthread_cond_destroy(&c->maint_cv);
	pthread_mutex_destroy(&c->gc_mu);
	pthread_cond_destroy(&c->gc_cv);
	free(c->url);
	free(c->db);
	free(c->user);
	if (c->password) {
		memset(c->password, 0, strlen(c->password));
		free(c->password);
	}
	free(c);
}

int ch_url_check(const char *url, struct buf *err)
{
	if (!url || (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))) {
		buf_adds(err, "storage.telemetry.url: must start with http:// or https://");
		return OODA_EINVAL;
	}
	const char *host = strstr(url, "://") + 3;
	size_t hl = strcspn(host, "/?#");
	if (memchr(host, '@', hl)) {
		buf_adds(err, "storage.telemetry.url: must not carry a user or password (use user and password_env)");
		return OODA_EINVAL;
	}
	if (!hl || host[hl]) {
		buf_adds(err, "storage.telemetry.url: must be scheme://host:port, without a path or query");
		return OODA_EINVAL;
	}
	return 0;
}

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int ch_open(const char *dir, const struct tstore_options *opt, struct tstore **out, struct buf *err)
{
	(void)dir;
	const struct tstore_clickhouse_options *o = &opt->clickhouse;
	*out = NULL;
	int rc = ch_url_check(o->url, err);
	if (rc)
		return rc;
	const char *db = o->database ? o->database : "ooda";
	if (!chsql_ident_ok(db)) {
		buf_addf(err, "storage.telemetry.database: %.64s is not a plain name (letters, digits, _)", db);
		return OODA_EINVAL;
	}
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, curl_init_once);
	struct ch_store *c = xcalloc(1, sizeof(*c));
	c->be = &tstore_clickhouse;
	c->opt = *opt;
	c->opt.clickhouse = (struct tstore_clickhouse_options){ 0 };
	c->url = xstrdup(o->url);
	c->db = xstrdup(db);
	c->user = o->user && *o->user ? xstrdup(o->user) : NULL;
	c->password = o->password && *o->password ? xstrdup(o->password) : NULL;
	pthread_mutex_init(&c->pool_mu, NULL);
	pthread_mutex_init(&c->pub_mu, NULL);
	pthread_mutex_init(&c->mu, NULL);
	pthread_mutex_init(&c->maint_mu, NULL);
	pthread_cond_init(&c->maint_cv, NULL);
	pthread_mutex_init(&c->gc_mu, NULL);
	pthread_cond_init(&c->gc_cv, NULL);
	atomic_init(&c->inflight, 0);
	atomic_init(&c->seq, (uint64_t)ooda_now_ns());
	struct buf ans = BUF_INIT;
	rc = ch_post(c, "SELECT version()", NULL, 0, &ans, NULL, NULL, NULL, err);
	if (!rc) {
		buf_addch(&ans, 0);
		if (sscanf(ans.data, "%d.%d", &c->version[0], &c->version[1]) != 2) {
			buf_addf(err, "ClickHouse at %s: cannot read its version", c->url);
			rc = OODA_EIO;
		}
	}
	buf_release(&ans);
	c->async_insert = !rc && ch_has(c, 21, 11);
	if (!rc)
		rc = ch_migrate(c, err);
	if (rc) {
		ch_close((struct tstore *)(void *)c);
		return rc;
	}
	ch_features(c);
	struct buf e2 = BUF_INIT;
	if (refresh_sizes(c, &e2))
		log_warn("ClickHouse sizes: %s", e2.data);
	buf_release(&e2);
	log_info("telemetry on ClickHouse %d.%d at %s, database %s", c->version[0], c->version[1], c->url, c->db);
	if (pthread_create(&c->maint, NULL, maint_main, c) == 0)
		c->maint_started = true;
	*out = (struct tstore *)(void *)c;
	return 0;
}

const struct tstore_backend tstore_clickhouse = {
	.version = 1,
	.name = "clickhouse",
	.open = ch_open,
	.close = ch_close,
	.append = ch_append,
	.scan = ch_scan,
	.events_json = ch_events_json,
	.stats = ch_stats,
	.maintain = ch_maintain,
};
