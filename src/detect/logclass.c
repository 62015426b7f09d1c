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

void logclass_observe(struct logclass *lc, const struct telemetry_batch *b)
{
	if (!b->n_logs)
		return;
	pthread_mutex_lock(&lc->mu);
	struct svc_miner *m = NULL;
	const char *last = NULL;
	for (size_t i = 0; i < b->n_logs; i++) {
		const struct log_record *r = &b->logs[i];
		if (!r->body || !r->body_len)
			continue;
		const char *svc = r->resource && r->resource->service ? r->resource->service : "unknown";
		if (svc != last) {
			m = miner(lc, svc);
			last = svc;
		}
		if (!m)
			continue;
		bool is_new = false;
		uint64_t id = patterns_add(m->p, r->body, r->body_len, r->time_ns, &is_new);
		m->lines++;
		m->dirty = true;
		uint8_t prev = sev_raise(m, id, r->severity);
		/* new at error level, or an existing class reaching error level for the first time */
		bool news = r->severity >= 17 && prev < 17 && prev != 255 && m->lines > lc->cfg.warmup_lines;
		if (news) {
			struct new_class *n = &lc->news[lc->next_new];
			lc->next_new = (lc->next_new + 1) % MAX_NEW;
			if (lc->n_news < MAX_NEW)
				lc->n_news++;
			snprintf(n->service, sizeof(n->service), "%s", svc);
			n->id = id;
			const char *t = patterns_template(m->p, id);
			snprintf(n->template_, sizeof(n->template_), "%s", t ? t : "");
			snprintf(n->example, sizeof(n->example), "%.*s", (int)(r->body_len < 255 ? r->body_len : 255), r->body);
			n->sev = r->severity;
			n->seen_ns = ooda_now_ns();
			n->reported = 0;
		}
	}
	pthread_mutex_unlock(&lc->mu);
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

void logclass_tick(void *ctx, int64_t now_ns, const struct alert_sink *sink)
{
	struct logclass *lc = ctx;
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

struct restore_ctx {
	struct logclass *lc;
	int n;
};

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

int logclass_restore(struct logclass *lc, struct store *s, struct buf *err)
{
	struct restore_ctx x = { lc, 0 };
	pthread_mutex_lock(&lc->mu);
	lc->store = s;
	lc->last_save_ns = ooda_now_ns();
	int rc = store_pattern_snapshot_iter(s, restore_row, &x);
	pthread_mutex_unlock(&lc->mu);
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

int logclass_save(struct logclass *lc, int64_t now_ns, struct buf *err)
{
	if (!lc->store)
		return 0;
	pthread_mutex_lock(&lc->save_mu);
	/* the snapshots are copied under the lock; the disk is written outside it */
	pthread_mutex_lock(&lc->mu);
	struct save_ctx c = { .v = xcalloc(lc->n + 1, sizeof(*c.v)), .now_ns = now_ns };
	for (size_t i = 0; i < lc->n && c.v; i++) {
		struct svc_miner *m = lc->v[i];
		if (!m->dirty)
			continue;
		struct save_item *it = &c.v[c.n++];
		snprintf(it->name, sizeof(it->name), "%s", m->name);
		it->lines = m->lines;
		buf_init(&it->snap);
		buf_init(&it->sev);
		patterns_save(m->p, &it->snap);
		sev_pack(m, &it->sev);
		m->dirty = false;
	}
	pthread_mutex_unlock(&lc->mu);
	int rc = c.v ? 0 : OODA_ENOMEM;
	if (c.n)
		rc = store_write(lc->store, save_tx, &c, err);
	if (rc) {
		pthread_mutex_lock(&lc->mu);
		for (size_t i = 0; i < c.n; i++)
			for (size_t j = 0; j < lc->n; j++)
				if (!strcmp(lc->v[j]->name, c.v[i].name))
					lc->v[j]->dirty = true;
		pthread_mutex_unlock(&lc->mu);
	}
	for (size_t i = 0; i < c.n; i++) {
		buf_release(&c.v[i].snap);
		buf_release(&c.v[i].sev);
	}
	free(c.v);
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

static int cmp_range(const void *a, const void *b)
{
	json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "count_in_range"));
	json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "count_in_range"));
	return x < y ? 1 : x > y ? -1 : 0;
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
