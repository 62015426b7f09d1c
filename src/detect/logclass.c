/*
 * Log error classes per service (see logclass.h): one template miner per
 * service fed from the telemetry writer, new-class and rate signals from the
 * engine tick, and the miners' snapshots kept in the control store.
 */
#include "detect/logclass.h"
#include "core/error.h"
#include "core/log.h"
#include "core/time.h"
#include "detect/anomaly.h"
#include "detect/patterns.h"
#include "query/logquery.h"

#include <math.h>
#include <pthread.h>

#define SEV_SLOTS 4096 /* per service: pattern id -> highest severity (open addressing) */

struct sev_ent {
	uint64_t id;
	uint8_t sev;
};

struct svc_miner {
	char name[128 + 1];
	struct patterns *p;
	uint64_t lines;
	bool dirty; /* changed since it was last saved */
	struct sev_ent sev[SEV_SLOTS];
};

struct new_class {
	char service[128 + 1];
	uint64_t id;
	char template_[256];
	char example[256];
	uint8_t sev;
	int64_t seen_ns;
	uint8_t reported; /* 0 not yet, 1 active reported, 2 cleared */
};

#define MAX_NEW 64
#define MAX_SPIKES 256 /* warn-or-worse patterns whose per-minute rate is watched */

struct spike {
	char service[129];
	uint64_t id;
	struct anomaly_state *st;
	struct anomaly_result last;
	double value;
};

struct logclass {
	struct logclass_config cfg;
	pthread_mutex_t mu;
	struct svc_miner **v;
	size_t n;
	struct new_class news[MAX_NEW]; /* a ring of recent new error classes */
	size_t n_news, next_new;
	struct spike *spikes;           /* rate watch of warn-or-worse patterns */
	size_t n_spikes;
	int64_t last_minute;
	struct store *store;     /* where miners are saved; NULL = nowhere */
	pthread_mutex_t save_mu; /* one save at a time: an older snapshot never overwrites a newer one */
	int64_t last_save_ns;    /* engine thread only */
	/*
	 * Shared (logclass_share): the lines come through the store's
	 * pattern_lines rows, applied in id order on every node alike.
	 */
	bool shared;
	pthread_mutex_t catch_mu; /* one reader of the rows at a time; taken before mu */
	int64_t applied_id;       /* the last row applied (catch_mu) */
	int64_t last_prune_ns;    /* engine thread only */
	uint64_t rows_refused;    /* rows that did not decode (catch_mu) */
};

int logclass_create(const struct logclass_config *cfg, struct logclass **out, struct buf *err)
{
	(void)err;
	struct logclass *lc = xcalloc(1, sizeof(*lc));
	if (cfg)
		lc->cfg = *cfg;
	if (!lc->cfg.max_services)
		lc->cfg.max_services = 64;
	if (!lc->cfg.max_patterns)
		lc->cfg.max_patterns = 2000;
	if (!lc->cfg.warmup_lines)
		lc->cfg.warmup_lines = 1000;
	if (!lc->cfg.new_active_ns)
		lc->cfg.new_active_ns = 600 * OODA_NS_PER_SEC;
	if (!lc->cfg.save_every_ns)
		lc->cfg.save_every_ns = 60 * OODA_NS_PER_SEC;
	lc->v = xcalloc(lc->cfg.max_services, sizeof(*lc->v));
	pthread_mutex_init(&lc->mu, NULL);
	pthread_mutex_init(&lc->save_mu, NULL);
	pthread_mutex_init(&lc->catch_mu, NULL);
	*out = lc;
	return 0;
}

void logclass_destroy(struct logclass *lc)
{
	if (!lc)
		return;
	for (size_t i = 0; i < lc->n; i++) {
		patterns_destroy(lc->v[i]->p);
		free(lc->v[i]);
	}
	for (size_t i = 0; i < lc->n_spikes; i++)
		free(lc->spikes[i].st);
	free(lc->spikes);
	free(lc->v);
	pthread_mutex_destroy(&lc->mu);
	pthread_mutex_destroy(&lc->save_mu);
	pthread_mutex_destroy(&lc->catch_mu);
	free(lc);
}

static struct svc_miner *miner(struct logclass *lc, const char *service)
{
	for (size_t i = 0; i < lc->n; i++)
		if (!strcmp(lc->v[i]->name, service))
			return lc->v[i];
	if (lc->n == lc->cfg.max_services)
		return NULL;
	struct svc_miner *m = xcalloc(1, sizeof(*m));
	snprintf(m->name, sizeof(m->name), "%s", service);
	struct patterns_config pc = { .max_patterns = lc->cfg.max_patterns };
	struct buf err = BUF_INIT;
	if (patterns_create(&pc, &m->p, &err)) {
		buf_release(&err);
		free(m);
		return NULL;
	}
	buf_release(&err);
	lc->v[lc->n++] = m;
	return m;
}

/* Raises the recorded severity of id; returns the previous value (0 = never seen). */
static uint8_t sev_raise(struct svc_miner *m, uint64_t id, uint8_t sev)
{
	size_t j = id & (SEV_SLOTS - 1);
	for (size_t k = 0; k < SEV_SLOTS; k++, j = (j + 1) & (SEV_SLOTS - 1)) {
		if (m->sev[j].id == id) {
			uint8_t prev = m->sev[j].sev;
			if (sev > prev)
				m->sev[j].sev = sev;
			return prev;
		}
		if (!m->sev[j].id) {
			m->sev[j] = (struct sev_ent){ id, sev };
			return 0;
		}
	}
	return 255; /* table full: new ids are not tracked */
}

static uint8_t sev_of(const struct svc_miner *m, uint64_t id)
{
	size_t j = id & (SEV_SLOTS - 1);
	for (size_t k = 0; k < SEV_SLOTS; k++, j = (j + 1) & (SEV_SLOTS - 1)) {
		if (m->sev[j].id == id)
			return m->sev[j].sev;
		if (!m->sev[j].id)
			return 0;
	}
	return 0;
}

/* One line into its service's miner; seen_ns is when it counts as seen for the new-class signal. Under mu. */
static void observe_line(struct logclass *lc, const char *svc, const char *body, size_t len, int64_t t_ns,
			 uint8_t severity, int64_t seen_ns)
{
	struct svc_miner *m = miner(lc, svc);
	if (!m)
		return;
	bool is_new = false;
	uint64_t id = patterns_add(m->p, body, len, t_ns, &is_new);
	m->lines++;
	m->dirty = true;
	uint8_t prev = sev_raise(m, id, severity);
	/* new at error level, or an existing class reaching error level for the first time */
	bool news = severity >= 17 && prev < 17 && prev != 255 && m->lines > lc->cfg.warmup_lines;
	if (!news)
		return;
	struct new_class *n = &lc->news[lc->next_new];
	lc->next_new = (lc->next_new + 1) % MAX_NEW;
	if (lc->n_news < MAX_NEW)
		lc->n_news++;
	snprintf(n->service, sizeof(n->service), "%s", svc);
	n->id = id;
	const char *t = patterns_template(m->p, id);
	snprintf(n->template_, sizeof(n->template_), "%s", t ? t : "");
	snprintf(n->example, sizeof(n->example), "%.*s", (int)(len < 255 ? len : 255), body);
	n->sev = severity;
	n->seen_ns = seen_ns;
	n->reported = 0;
}

static const char *service_of(const struct log_record *r)
{
	return r->resource && r->resource->service ? r->resource->service : "unknown";
}

static void observe_batch(struct logclass *lc, const struct telemetry_batch *b)
{
	pthread_mutex_lock(&lc->mu);
	int64_t now = ooda_now_ns();
	for (size_t i = 0; i < b->n_logs; i++) {
		const struct log_record *r = &b->logs[i];
		if (r->body && r->body_len)
			observe_line(lc, service_of(r), r->body, r->body_len, r->time_ns, r->severity, now);
	}
	pthread_mutex_unlock(&lc->mu);
}

void logclass_observe(struct logclass *lc, const struct telemetry_batch *b)
{
	if (!b->n_logs || lc->shared)
		return; /* shared: logclass_publish sent them through the store */
	observe_batch(lc, b);
}

/* ---- lines shared through the store (several nodes) ----------------------
 *
 * A row of pattern_lines is one encoded group of log lines, version 1:
 *
 *   u8 version (1)
 *   varint n_services, then each: varint length (0..128), the name
 *   varint n_lines, then each: varint service index, u8 severity,
 *                             zigzag varint time_ns, varint length (0..4096), the body
 *
 * Bodies are cut to the 4,096 bytes a miner considers (patterns.h,
 * max_line), so every node's miner does with the row what the ingesting
 * node's would have done with the lines.
 */
#define LINES_VERSION 1
#define LINES_MAX_BYTES (8u << 20)  /* a row, encoded */
#define LINES_MAX_LINES 65536u      /* a row */
#define LINES_MAX_SERVICES 1024u    /* names in a row */
#define LINES_MAX_BODY 4096u        /* bytes of a body kept: what a miner considers */
#define LINES_MAX_NAME 128u
#define LINES_PAGE 200              /* rows read per query */
#define LINES_PAGES 50              /* queries per catch-up; the rest the next time */
#define LINES_KEEP_NS (3600 * OODA_NS_PER_SEC) /* rows the snapshots include are kept this long */

static void put_varint(struct buf *b, uint64_t v)
{
	uint8_t t[10];
	size_t n = 0;
	do {
		t[n] = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v)
			t[n] |= 0x80;
		n++;
	} while (v);
	buf_add(b, t, n);
}

struct lines_reader {
	const uint8_t *p, *end;
};

static int get_varint(struct lines_reader *r, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (r->p == r->end)
			return -1;
		uint8_t c = *r->p++;
		*v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return shift == 63 && c > 1 ? -1 : 0;
	}
	return -1;
}

struct lines_enc {
	struct buf *rows;  /* the rows made, each a buf */
	size_t n_rows, cap_rows;
	const char *names[LINES_MAX_SERVICES];
	size_t n_names;
	struct buf lines;  /* the current row's lines, after its names */
	size_t n_lines;
};

static void enc_flush(struct lines_enc *e)
{
	if (!e->n_lines)
		return;
	if (e->n_rows == e->cap_rows) {
		e->cap_rows = e->cap_rows ? 2 * e->cap_rows : 4;
		e->rows = xrealloc(e->rows, e->cap_rows * sizeof(*e->rows));
	}
	struct buf *row = &e->rows[e->n_rows++];
	buf_init(row);
	uint8_t v = LINES_VERSION;
	buf_add(row, &v, 1);
	put_varint(row, e->n_names);
	for (size_t i = 0; i < e->n_names; i++) {
		size_t n = strlen(e->names[i]);
		n = n > LINES_MAX_NAME ? LINES_MAX_NAME : n;
		put_varint(row, n);
		buf_add(row, e->names[i], n);
	}
	put_varint(row, e->n_lines);
	buf_add(row, e->lines.data, e->lines.len);
	buf_reset(&e->lines);
	e->n_names = 0;
	e->n_lines = 0;
}

static void enc_line(struct lines_enc *e, const struct log_record *r)
{
	const char *svc = service_of(r);
	size_t len = r->body_len > LINES_MAX_BODY ? LINES_MAX_BODY : r->body_len;
	/* names and lines written so far, this line and a row's header stay under the row's bound */
	if (e->n_lines == LINES_MAX_LINES || e->lines.len + len + LINES_MAX_SERVICES * (LINES_MAX_NAME + 2) + 64 >
								 LINES_MAX_BYTES)
		enc_flush(e);
	size_t k = 0;
	while (k < e->n_names && strncmp(e->names[k], svc, LINES_MAX_NAME))
		k++;
	if (k == e->n_names) {
		if (e->n_names == LINES_MAX_SERVICES) {
			enc_flush(e);
			k = 0;
		}
		e->names[e->n_names++] = svc;
	}
	put_varint(&e->lines, k);
	uint8_t sev = r->severity;
	buf_add(&e->lines, &sev, 1);
	put_varint(&e->lines, ((uint64_t)r->time_ns << 1) ^ (uint64_t)(r->time_ns >> 63));
	put_varint(&e->lines, len);
	buf_add(&e->lines, r->body, len);
	e->n_lines++;
}

/* One line of a row being read, or the row's check when apply is false. */
struct lines_visit {
	struct logclass *lc;
	bool apply;
	int64_t seen_ns;
};

/* Reads a row whole; with v->apply, feeds each line to the miners (under mu). */
static int lines_walk(const struct lines_visit *v, const uint8_t *data, size_t len, struct buf *err)
{
	if (len > LINES_MAX_BYTES) {
		buf_addf(err, "pattern lines: %zu bytes, more than %u", len, LINES_MAX_BYTES);
		return OODA_ECORRUPT;
	}
	struct lines_reader r = { data, data + len };
	if (r.p == r.end || *r.p != LINES_VERSION) {
		buf_addf(err, "pattern lines: version %d, not %d", r.p == r.end ? -1 : *r.p, LINES_VERSION);
		return r.p == r.end ? OODA_ECORRUPT : OODA_ESCHEMA;
	}
	r.p++;
	uint64_t n_names, n_lines;
	if (get_varint(&r, &n_names) || n_names > LINES_MAX_SERVICES) {
		buf_adds(err, "pattern lines: the count of services is missing or beyond 1024");
		return OODA_ECORRUPT;
	}
	const uint8_t *name_at[LINES_MAX_SERVICES];
	size_t name_len[LINES_MAX_SERVICES];
	for (uint64_t i = 0; i < n_names; i++) {
		uint64_t n;
		if (get_varint(&r, &n) || n > LINES_MAX_NAME || n > (uint64_t)(r.end - r.p) || memchr(r.p, 0, n)) {
			buf_addf(err, "pattern lines: service name %llu is cut short, longer than %u bytes or holds a NUL",
				 (unsigned long long)i, LINES_MAX_NAME);
			return OODA_ECORRUPT;
		}
		name_at[i] = r.p;
		name_len[i] = n;
		r.p += n;
	}
	if (get_varint(&r, &n_lines) || n_lines > LINES_MAX_LINES) {
		buf_addf(err, "pattern lines: the count of lines is missing or beyond %u", LINES_MAX_LINES);
		return OODA_ECORRUPT;
	}
	for (uint64_t i = 0; i < n_lines; i++) {
		uint64_t k, zt, n;
		if (get_varint(&r, &k) || k >= n_names || r.p == r.end) {
			buf_addf(err, "pattern lines: line %llu names no service of the row", (unsigned long long)i);
			return OODA_ECORRUPT;
		}
		uint8_t sev = *r.p++;
		if (get_varint(&r, &zt) || get_varint(&r, &n) || n > LINES_MAX_BODY || n > (uint64_t)(r.end - r.p)) {
			buf_addf(err, "pattern lines: line %llu is cut short or longer than %u bytes", (unsigned long long)i,
				 LINES_MAX_BODY);
			return OODA_ECORRUPT;
		}
		const char *body = (const char *)r.p;
		r.p += n;
		if (!v->apply || !n)
			continue;
		char svc[LINES_MAX_NAME + 1];
		memcpy(svc, name_at[k], name_len[k]);
		svc[name_len[k]] = 0;
		int64_t t = (int64_t)((zt >> 1) ^ (~(zt & 1) + 1));
		observe_line(v->lc, svc, body, n, t, sev, v->seen_ns);
	}
	if (r.p != r.end) {
		buf_addf(err, "pattern lines: %zu bytes after the last line", (size_t)(r.end - r.p));
		return OODA_ECORRUPT;
	}
	return 0;
}

int logclass_lines_apply(struct logclass *lc, const void *data, size_t len, int64_t written_ns, struct buf *err)
{
	struct lines_visit v = { lc, false, written_ns };
	int rc = lines_walk(&v, data, len, err);
	if (rc)
		return rc;
	v.apply = true;
	pthread_mutex_lock(&lc->mu);
	rc = lines_walk(&v, data, len, err);
	pthread_mutex_unlock(&lc->mu);
	return rc;
}

void logclass_share(struct logclass *lc)
{
	lc->shared = true;
}

size_t logclass_lines_encode(const struct telemetry_batch *b, struct buf **rows)
{
	struct lines_enc *e = xcalloc(1, sizeof(*e));
	buf_init(&e->lines);
	for (size_t i = 0; i < b->n_logs; i++)
		if (b->logs[i].body && b->logs[i].body_len)
			enc_line(e, &b->logs[i]);
	enc_flush(e);
	buf_release(&e->lines);
	size_t n = e->n_rows;
	*rows = e->rows;
	free(e);
	return n;
}

struct publish_ctx {
	struct buf *rows;
	size_t n_rows;
};

static int publish_tx(struct store *s, void *ctx, struct buf *err)
{
	struct publish_ctx *c = ctx;
	int64_t now = ooda_now_ns();
	for (size_t i = 0; i < c->n_rows; i++) {
		int rc = store_pattern_lines_put(s, now, c->rows[i].data, c->rows[i].len);
		if (rc) {
			buf_addf(err, "log lines cannot be stored for the other nodes' pattern miners: %s", ooda_strerror(rc));
			return rc;
		}
	}
	return 0;
}

void logclass_publish(struct logclass *lc, const struct telemetry_batch *b)
{
	if (!lc->shared || !b->n_logs || !lc->store)
		return;
	struct publish_ctx c = { 0 };
	c.n_rows = logclass_lines_encode(b, &c.rows);
	struct buf err = BUF_INIT;
	if (c.n_rows && store_write(lc->store, publish_tx, &c, &err)) {
		log_warn("%s; this node mines them itself", err.data);
		observe_batch(lc, b);
	}
	buf_release(&err);
	for (size_t i = 0; i < c.n_rows; i++)
		buf_release(&c.rows[i]);
	free(c.rows);
}

struct catch_ctx {
	struct logclass *lc;
	size_t rows;
	int64_t gap;       /* the first row read, when rows after the last applied are missing */
	int64_t gap_known; /* a missing stretch before this row was looked at already */
};

static int catch_row(void *ctx, const void *row)
{
	struct catch_ctx *c = ctx;
	const struct pattern_lines_row *r = row;
	if (!c->rows && r->id > c->lc->applied_id + 1 && r->id != c->gap_known) {
		c->gap = r->id; /* stop: were they deleted (catch_up_locked)? */
		return 1;
	}
	struct buf err = BUF_INIT;
	c->rows++;
	c->lc->applied_id = r->id;
	if (logclass_lines_apply(c->lc, r->body, r->body_len, r->written_ns, &err)) {
		c->lc->rows_refused++;
		log_warn("log lines stored by another node skipped (row %lld): %s", (long long)r->id, err.data);
	}
	buf_release(&err);
	return 0;
}

struct restore_ctx {
	struct logclass *lc;
	int n;
};

static int restore_tx(struct store *s, void *ctx, struct buf *err);

/*
 * The rows after the last applied were deleted (the leader deletes rows
 * the saved snapshots include once they are an hour old): this node's
 * miners start again from the snapshots and the row they include. in_tx:
 * called inside a write transaction already (a save), else one is taken.
 */
static int resync_locked(struct logclass *lc, struct store *s, bool in_tx)
{
	log_warn("log patterns: the shared lines after row %lld are gone; reloading the saved patterns",
		 (long long)lc->applied_id);
	struct restore_ctx x = { lc, 0 };
	struct buf err = BUF_INIT;
	pthread_mutex_lock(&lc->mu);
	for (size_t i = 0; i < lc->n; i++) {
		patterns_destroy(lc->v[i]->p);
		free(lc->v[i]);
	}
	lc->n = 0;
	int rc = in_tx ? restore_tx(s, &x, &err) : store_write(s, restore_tx, &x, &err);
	pthread_mutex_unlock(&lc->mu);
	buf_release(&err);
	return rc;
}

/* Rows newer than the last applied, in id order, bounded. Under catch_mu. */
static int catch_up_locked(struct logclass *lc, struct store *s, bool in_tx)
{
	int64_t gap_known = 0;
	for (int page = 0; page < LINES_PAGES; page++) {
		struct catch_ctx c = { lc, 0, 0, gap_known };
		int rc = store_pattern_lines_list(s, lc->applied_id, LINES_PAGE, catch_row, &c);
		if (rc)
			return rc;
		if (c.gap) {
			/*
			 * Ids a rolled-back write took are never used: a gap is
			 * deleted rows only if the saved snapshots include them.
			 */
			int64_t mark;
			if ((rc = store_pattern_mark_get(s, &mark)))
				return rc;
			if (mark >= c.gap - 1 && (rc = resync_locked(lc, s, in_tx)))
				return rc;
			gap_known = c.gap;
			continue;
		}
		if (c.rows < LINES_PAGE)
			break;
	}
	return 0;
}

void logclass_catch_up(struct logclass *lc)
{
	if (!lc->shared || !lc->store)
		return;
	pthread_mutex_lock(&lc->catch_mu);
	int rc = catch_up_locked(lc, lc->store, false);
	pthread_mutex_unlock(&lc->catch_mu);
	if (rc)
		log_warn("log lines of the other nodes not read: %s", ooda_strerror(rc));
}

struct rate_ctx {
	struct logclass *lc;
	const struct svc_miner *m;
	int64_t minute;
	const struct alert_sink *sink;
	int64_t now_ns;
};

static struct spike *spike_of(struct logclass *lc, const char *service, uint64_t id)
{
	for (size_t i = 0; i < lc->n_spikes; i++)
		if (lc->spikes[i].id == id && !strcmp(lc->spikes[i].service, service))
			return &lc->spikes[i];
	if (lc->n_spikes == MAX_SPIKES)
		return NULL;
	if (!lc->spikes)
		lc->spikes = xcalloc(MAX_SPIKES, sizeof(*lc->spikes));
	struct spike *x = &lc->spikes[lc->n_spikes++];
	snprintf(x->service, sizeof(x->service), "%s", service);
	x->id = id;
	x->st = xmalloc(anomaly_state_size(NULL));
	anomaly_init(x->st, NULL);
	return x;
}

/* One warn-or-worse pattern: its count in the last whole minute into its anomaly state. */
static int rate_one(const struct pattern_info *pi, void *arg)
{
	struct rate_ctx *c = arg;
	if (sev_of(c->m, pi->id) < 13)
		return 0;
	struct spike *x = spike_of(c->lc, c->m->name, pi->id);
	if (!x)
		return 0;
	int64_t k = c->minute - pi->bucket0;
	x->value = k >= 0 && k < (int64_t)pi->n_history ? pi->history[k] : 0;
	anomaly_update(x->st, c->minute * 60 * OODA_NS_PER_SEC, x->value, &x->last);
	bool active = !x->last.warming_up && x->last.score >= 0.99 && x->last.direction > 0;
	char name[200], idhex[24];
	snprintf(idhex, sizeof(idhex), "%016llx", (unsigned long long)pi->id);
	snprintf(name, sizeof(name), "pattern-spike:%s/%s", c->m->name, idhex);
	json_t *ev = json_pack("{s:s, s:s, s:f, s:f, s:f, s:s, s:s?}", "pattern", idhex, "template", pi->template_,
			       "per_minute", x->value, "baseline", isfinite(x->last.baseline) ? x->last.baseline : 0.0,
			       "score", x->last.score, "window", "1m", "detector", x->last.detector);
	json_t *labels = json_pack("{s:s}", "pattern", idhex);
	char summary[400];
	snprintf(summary, sizeof(summary), "%s: \"%s\" at %.0f/min (usually %.1f)", c->m->name, pi->template_, x->value,
		 x->last.baseline);
	json_t *ann = json_pack("{s:s}", "summary", summary);
	struct alert_signal s = { .source = "pattern", .name = name, .service = c->m->name, .severity = SEVERITY_TICKET,
				  .labels = labels, .annotations = ann, .evidence = ev, .active = active,
				  .at_ns = c->now_ns };
	alert_emit(c->sink, &s);
	json_decref(ev);
	json_decref(labels);
	json_decref(ann);
	return 0;
}

/* Rows every saved snapshot includes and older than LINES_KEEP_NS: no node needs them again. */
static int prune_tx(struct store *s, void *ctx, struct buf *err)
{
	int64_t mark, now_ns = *(const int64_t *)ctx;
	int rc = store_pattern_mark_get(s, &mark);
	if (!rc)
		rc = store_pattern_lines_prune(s, mark, now_ns - LINES_KEEP_NS);
	if (rc)
		buf_addf(err, "pruning the shared log lines failed: %s", ooda_strerror(rc));
	return rc;
}

void logclass_tick(void *ctx, int64_t now_ns, const struct alert_sink *sink)
{
	struct logclass *lc = ctx;
	logclass_catch_up(lc); /* shared: what every node ingested, before anything is judged */
	pthread_mutex_lock(&lc->mu);
	/* once per minute: the rate of each warn-or-worse pattern over the minute that just closed */
	int64_t minute = now_ns / (60 * OODA_NS_PER_SEC) - 1;
	if (minute > lc->last_minute) {
		lc->last_minute = minute;
		for (size_t i = 0; i < lc->n; i++) {
			struct rate_ctx rc = { lc, lc->v[i], minute, sink, now_ns };
			patterns_foreach(lc->v[i]->p, rate_one, &rc);
		}
	}
	for (size_t i = 0; i < lc->n_news; i++) {
		struct new_class *n = &lc->news[i];
		bool active = now_ns - n->seen_ns < lc->cfg.new_active_ns;
		if (!active && n->reported == 2)
			continue;
		char name[128 + 48], idhex[24];
		snprintf(idhex, sizeof(idhex), "%016llx", (unsigned long long)n->id);
		snprintf(name, sizeof(name), "pattern:%s/%s", n->service, idhex);
		json_t *ev = json_pack("{s:s, s:s, s:s, s:s}", "pattern", idhex, "template", n->template_, "example",
				       n->example, "severity", logquery_severity_name(n->sev) ? logquery_severity_name(n->sev) : "");
		char summary[400];
		snprintf(summary, sizeof(summary), "new error class in %s: %s", n->service, n->template_);
		json_t *ann = json_pack("{s:s}", "summary", summary);
		json_t *labels = json_pack("{s:s}", "pattern", idhex);
		struct alert_signal s = { .source = "pattern", .name = name, .service = n->service,
					  .severity = SEVERITY_TICKET, .labels = labels, .annotations = ann,
					  .evidence = ev, .active = active, .at_ns = now_ns };
		alert_emit(sink, &s);
		n->reported = active ? 1 : 2;
		json_decref(ev);
		json_decref(ann);
		json_decref(labels);
	}
	pthread_mutex_unlock(&lc->mu);
	if (lc->store && now_ns - lc->last_save_ns >= lc->cfg.save_every_ns) {
		lc->last_save_ns = now_ns;
		struct buf err = BUF_INIT;
		if (logclass_save(lc, now_ns, &err))
			log_error("log patterns not saved, trying again in a minute: %s", err.data);
		buf_release(&err);
	}
	if (lc->shared && lc->store && now_ns - lc->last_prune_ns >= lc->cfg.save_every_ns) {
		lc->last_prune_ns = now_ns;
		struct buf err = BUF_INIT;
		if (store_write(lc->store, prune_tx, &now_ns, &err))
			log_warn("old shared log lines not deleted, trying again in a minute: %s", err.data);
		buf_release(&err);
	}
}

/* ---- persistence --------------------------------------------------------- */

#define SEV_RECORD 9 /* u64 LE pattern id, u8 highest severity */

static void sev_pack(const struct svc_miner *m, struct buf *out)
{
	for (size_t j = 0; j < SEV_SLOTS; j++) {
		if (!m->sev[j].id)
			continue;
		uint8_t r[SEV_RECORD];
		for (int i = 0; i < 8; i++)
			r[i] = (uint8_t)(m->sev[j].id >> (8 * i));
		r[8] = m->sev[j].sev;
		buf_add(out, r, sizeof(r));
	}
}

/* Untrusted bytes: whole records, non-zero ids, no more than the table holds. */
static int sev_unpack(struct svc_miner *m, const uint8_t *d, size_t len, struct buf *err)
{
	if (len % SEV_RECORD) {
		buf_addf(err, "severities: %zu bytes are not whole %d-byte records", len, SEV_RECORD);
		return OODA_ECORRUPT;
	}
	if (len / SEV_RECORD > SEV_SLOTS) {
		buf_addf(err, "severities: %zu records, more than %d", len / SEV_RECORD, SEV_SLOTS);
		return OODA_ECORRUPT;
	}
	for (size_t k = 0; k < len; k += SEV_RECORD) {
		uint64_t id = 0;
		for (int i = 0; i < 8; i++)
			id |= (uint64_t)d[k + i] << (8 * i);
		if (!id) {
			buf_addf(err, "severities: id 0 in record %zu", k / SEV_RECORD);
			return OODA_ECORRUPT;
		}
		sev_raise(m, id, d[k + 8]);
	}
	return 0;
}


static int restore_row(void *ctx, const void *row)
{
	const struct pattern_snapshot_row *r = row;
	struct restore_ctx *x = ctx;
	struct logclass *lc = x->lc;
	if (lc->n == lc->cfg.max_services) {
		log_warn("log patterns of %s not restored: more than %u services", r->service, lc->cfg.max_services);
		return 0;
	}
	struct svc_miner *m = xcalloc(1, sizeof(*m));
	struct patterns_config pc = { .max_patterns = lc->cfg.max_patterns };
	struct buf err = BUF_INIT;
	int rc = patterns_load(&pc, r->snapshot, r->snapshot ? r->snapshot_len : 0, &m->p, &err);
	if (!rc)
		rc = sev_unpack(m, r->severities, r->severities ? r->severities_len : 0, &err);
	if (rc) {
		log_error("log patterns of %s start fresh: the saved state does not load: %s", r->service, err.data);
		patterns_destroy(m->p);
		free(m);
	} else {
		snprintf(m->name, sizeof(m->name), "%s", r->service);
		m->lines = r->lines;
		lc->v[lc->n++] = m;
		x->n++;
	}
	buf_release(&err);
	return 0;
}

/* Under mu: the saved miners and the row they include, read while this node holds the write lock. */
static int restore_tx(struct store *s, void *ctx, struct buf *err)
{
	(void)err;
	struct restore_ctx *x = ctx;
	int rc = store_pattern_mark_get(s, &x->lc->applied_id);
	return rc ? rc : store_pattern_snapshot_iter(s, restore_row, x);
}

int logclass_restore(struct logclass *lc, struct store *s, struct buf *err)
{
	struct restore_ctx x = { lc, 0 };
	int64_t mark;
	/*
	 * With lines shared through the store, another node may save while
	 * this one reads: the snapshots and the row they include are read
	 * under the write lock, so the two agree.
	 */
	bool shared = store_pattern_mark_get(s, &mark) != OODA_EUNSUPPORTED;
	pthread_mutex_lock(&lc->mu);
	lc->store = s;
	lc->last_save_ns = ooda_now_ns();
	pthread_mutex_unlock(&lc->mu);
	int rc;
	if (shared) {
		struct buf werr = BUF_INIT;
		pthread_mutex_lock(&lc->mu);
		rc = store_write(s, restore_tx, &x, &werr);
		pthread_mutex_unlock(&lc->mu);
		buf_release(&werr);
	} else {
		pthread_mutex_lock(&lc->mu);
		rc = store_pattern_snapshot_iter(s, restore_row, &x);
		pthread_mutex_unlock(&lc->mu);
	}
	if (rc) {
		buf_addf(err, "reading the saved log patterns failed: %s", ooda_strerror(rc));
		return rc;
	}
	return x.n;
}

struct save_item {
	char name[128 + 1];
	uint64_t lines;
	struct buf snap, sev;
};

struct save_ctx {
	struct save_item *v;
	size_t n;
	int64_t now_ns;
};

static int save_tx(struct store *s, void *ctx, struct buf *err)
{
	struct save_ctx *c = ctx;
	for (size_t i = 0; i < c->n; i++) {
		const struct save_item *it = &c->v[i];
		struct pattern_snapshot_row row = { .service = it->name, .saved_ns = c->now_ns, .lines = it->lines,
						    .snapshot = it->snap.data, .snapshot_len = it->snap.len,
						    .severities = it->sev.data, .severities_len = it->sev.len };
		int rc = store_pattern_snapshot_put(s, &row);
		if (rc) {
			buf_addf(err, "storing the log patterns of %s failed", it->name);
			return rc;
		}
	}
	return 0;
}

/* The miners changed since their last save, snapshotted under mu (dirty cleared). */
static void collect_dirty(struct logclass *lc, struct save_ctx *c)
{
	pthread_mutex_lock(&lc->mu);
	c->v = xcalloc(lc->n + 1, sizeof(*c->v));
	c->n = 0;
	for (size_t i = 0; i < lc->n; i++) {
		struct svc_miner *m = lc->v[i];
		if (!m->dirty)
			continue;
		struct save_item *it = &c->v[c->n++];
		snprintf(it->name, sizeof(it->name), "%s", m->name);
		it->lines = m->lines;
		buf_init(&it->snap);
		buf_init(&it->sev);
		patterns_save(m->p, &it->snap);
		sev_pack(m, &it->sev);
		m->dirty = false;
	}
	pthread_mutex_unlock(&lc->mu);
}

static void release_items(struct save_ctx *c)
{
	for (size_t i = 0; i < c->n; i++) {
		buf_release(&c->v[i].snap);
		buf_release(&c->v[i].sev);
	}
	free(c->v);
	c->v = NULL;
	c->n = 0;
}

struct shared_save {
	struct logclass *lc;
	struct save_ctx c;
};

/*
 * Shared: under the write lock no other node adds rows, so the rows read
 * here are every row there is; the snapshots then hold exactly the rows up
 * to the mark written beside them, whichever node saves.
 */
static int save_shared_tx(struct store *s, void *ctx, struct buf *err)
{
	struct shared_save *x = ctx;
	int rc = catch_up_locked(x->lc, s, true);
	if (rc) {
		buf_addf(err, "reading the other nodes' log lines failed: %s", ooda_strerror(rc));
		return rc;
	}
	release_items(&x->c);
	collect_dirty(x->lc, &x->c);
	if ((rc = save_tx(s, &x->c, err)))
		return rc;
	if ((rc = store_pattern_mark_put(s, x->lc->applied_id)))
		buf_addf(err, "storing the log patterns' mark failed: %s", ooda_strerror(rc));
	return rc;
}

int logclass_save(struct logclass *lc, int64_t now_ns, struct buf *err)
{
	if (!lc->store)
		return 0;
	pthread_mutex_lock(&lc->save_mu);
	struct shared_save x = { .lc = lc, .c = { .now_ns = now_ns } };
	int rc;
	if (lc->shared) {
		pthread_mutex_lock(&lc->catch_mu);
		rc = store_write(lc->store, save_shared_tx, &x, err);
		pthread_mutex_unlock(&lc->catch_mu);
	} else {
		/* the snapshots are copied under the lock; the disk is written outside it */
		collect_dirty(lc, &x.c);
		rc = x.c.n ? store_write(lc->store, save_tx, &x.c, err) : 0;
	}
	if (rc) {
		pthread_mutex_lock(&lc->mu);
		for (size_t i = 0; i < x.c.n; i++)
			for (size_t j = 0; j < lc->n; j++)
				if (!strcmp(lc->v[j]->name, x.c.v[i].name))
					lc->v[j]->dirty = true;
		pthread_mutex_unlock(&lc->mu);
	}
	release_items(&x.c);
	pthread_mutex_unlock(&lc->save_mu);
	return rc;
}

struct json_ctx {
	const struct svc_miner *m;
	int64_t from_ns;
	uint8_t min_sev;
	json_t *out;
};

static int collect(const struct pattern_info *pi, void *arg)
{
	struct json_ctx *c = arg;
	if (pi->last_seen_ns < c->from_ns)
		return 0;
	uint8_t sev = sev_of(c->m, pi->id);
	if (sev < c->min_sev)
		return 0;
	uint64_t in_range = 0;
	for (uint32_t i = 0; i < pi->n_history; i++)
		if ((pi->bucket0 + (int64_t)i + 1) * pi->bucket_ns > c->from_ns)
			in_range += pi->history[i];
	char idhex[24], first[40], lastt[40];
	snprintf(idhex, sizeof(idhex), "%016llx", (unsigned long long)pi->id);
	ooda_time_format(pi->first_seen_ns, first, sizeof(first));
	ooda_time_format(pi->last_seen_ns, lastt, sizeof(lastt));
	const char *sevname = logquery_severity_name(sev);
	json_array_append_new(c->out, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s?}", "service", c->m->name,
						"id", idhex, "template", pi->template_, "example", pi->example ? pi->example : "",
						"first_seen", first, "last_seen", lastt, "count", (json_int_t)pi->count,
						"count_in_range", (json_int_t)in_range, "max_severity", sevname));
	return 0;
}

/* Most lines in range first; ties by service and id, so every node lists them alike. */
static int cmp_range(const void *a, const void *b)
{
	const json_t *p = *(json_t *const *)a, *q = *(json_t *const *)b;
	json_int_t x = json_integer_value(json_object_get(p, "count_in_range"));
	json_int_t y = json_integer_value(json_object_get(q, "count_in_range"));
	if (x != y)
		return x < y ? 1 : -1;
	int c = strcmp(json_string_value(json_object_get(p, "service")), json_string_value(json_object_get(q, "service")));
	return c ? c : strcmp(json_string_value(json_object_get(p, "id")), json_string_value(json_object_get(q, "id")));
}

void logclass_json(struct logclass *lc, const char *service, int64_t from_ns, uint8_t min_severity, size_t limit,
		   struct buf *out)
{
	json_t *all = json_array();
	pthread_mutex_lock(&lc->mu);
	for (size_t i = 0; i < lc->n; i++) {
		if (service && strcasecmp(service, lc->v[i]->name))
			continue;
		struct json_ctx c = { lc->v[i], from_ns, min_severity, all };
		patterns_foreach(lc->v[i]->p, collect, &c);
	}
	pthread_mutex_unlock(&lc->mu);
	size_t n = json_array_size(all);
	json_t **v = xmalloc((n + 1) * sizeof(json_t *));
	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(all, i);
	qsort(v, n, sizeof(json_t *), cmp_range);
	buf_adds(out, "{\"patterns\":[");
	for (size_t i = 0; i < n && i < (limit ? limit : 100); i++) {
		char *t = json_dumps(v[i], JSON_COMPACT);
		buf_addf(out, "%s%s", i ? "," : "", t);
		free(t);
	}
	buf_adds(out, "]}");
	free(v);
	json_decref(all);
}
