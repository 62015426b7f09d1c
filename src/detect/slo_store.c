/*
 * The SLO worker (see slo.h): one core/worker thread that evaluates PromQL
 * SLIs once per closed minute and writes closed minutes as delta metric
 * points (ooda_slo_good_total, ooda_slo_events_total), so that the stored
 * points of a minute always add up to its counts; and slo_rebuild(), which
 * reads those points back into the rings at start and for SLOs a reload adds.
 */
#include "detect/slo_impl.h"

#include <math.h>

#include "core/error.h"
#include "core/log.h"
#include "core/worker.h"
#include "query/metrics.h"
#include "query/promql.h"

static const char good_metric[] = "ooda_slo_good_total";
static const char events_metric[] = "ooda_slo_events_total";

/* A PromQL result as one number: a scalar, or the sum of a vector. */
static double promql_number(const struct promql_value *v)
{
	double sum = 0;
	if (v->type == PROMQL_SCALAR)
		return isfinite(v->scalar) ? v->scalar : 0;
	if (v->type != PROMQL_VECTOR)
		return 0;
	for (size_t i = 0; i < v->n_series; i++)
		if (v->series[i].n_samples && isfinite(v->series[i].samples[0].v))
			sum += v->series[i].samples[0].v;
	return sum;
}

static int eval_number(struct slo_set *set, const struct promql_expr *e, int64_t t_ms, double *out, struct buf *err)
{
	struct metrics_ctx mctx = { .tstore = set->opt.tstore, .live = set->opt.live };
	struct promql_source src;
	metrics_source_init(&src, &mctx);
	struct arena a;
	arena_init(&a, 0);
	a.limit = 64u << 20;
	struct promql_value v;
	int rc = promql_eval_instant(e, &src, t_ms, &a, &v, err);
	if (!rc)
		*out = promql_number(&v);
	arena_release(&a);
	return rc;
}

/* Evaluates the PromQL SLIs for closed minutes; at most budget minutes per call. */
static void promql_step(struct slo_set *set, int64_t now_ns, int budget)
{
	for (int i = 0; i < set->n && budget > 0; i++) {
		struct slo *s = &set->slos[i];
		if (s->kind != SLI_PROMQL)
			continue;
		int64_t last_closed = (now_ns - SLO_PROMQL_DELAY_NS) / MIN_NS - 1;
		if (s->promql_next < 0 || s->promql_next < last_closed - SLO_PROMQL_BACKFILL)
			s->promql_next = last_closed - (s->promql_next < 0 ? 0 : SLO_PROMQL_BACKFILL);
		for (; s->promql_next <= last_closed && budget > 0 && !set->stop && !atomic_load(&set->applying);
		     s->promql_next++, budget--) {
			int64_t t_ms = (s->promql_next + 1) * 60000;
			double a = 0, total = 0;
			struct buf err = BUF_INIT;
			int rc = eval_number(set, s->e_good ? s->e_good : s->e_bad, t_ms, &a, &err);
			if (!rc)
				rc = eval_number(set, s->e_total, t_ms, &total, &err);
			if (rc) {
				log_warn("slo %s: PromQL SLI at minute %lld failed: %s", s->name,
					 (long long)s->promql_next, err.data);
				buf_release(&err);
				continue;
			}
			buf_release(&err);
			if (total < 0)
				total = 0;
			double good = s->e_good ? a : total - a;
			if (good < 0)
				good = 0;
			if (good > total)
				good = total;
			pthread_mutex_lock(&set->lock);
			ring_put(s, s->promql_next, good, total, false);
			pthread_mutex_unlock(&set->lock);
		}
	}
}

struct pending {
	int slo;
	int64_t minute;
	double good, total; /* deltas */
};

static void fill_point(struct metric_point *p, const char *name, const struct resource *res, struct attr *a,
		       int64_t minute, double v)
{
	memset(p, 0, sizeof(*p));
	p->name = name;
	p->unit = "1";
	p->type = METRIC_SUM;
	p->temporality = TEMPORALITY_DELTA;
	p->monotonic = true;
	p->prom_native = true;
	p->start_ns = minute * MIN_NS;
	p->time_ns = (minute + 1) * MIN_NS;
	p->resource = res;
	p->scope_name = "ooda.slo";
	p->attrs.v = a;
	p->attrs.n = 1;
	p->value = v;
}

/* Writes the closed minutes whose counts grew since they were last stored. */
static void persist_step(struct slo_set *set, int64_t now_ns)
{
	if (!set->opt.tstore || !set->n)
		return;
	int64_t cur = now_ns / MIN_NS;
	size_t cap = (size_t)set->n * (SLO_LIVE_HORIZON + 1), np = 0;
	struct pending *pend = xcalloc(cap, sizeof(*pend));
	pthread_mutex_lock(&set->lock);
	for (int i = 0; i < set->n; i++) {
		struct slo *s = &set->slos[i];
		for (int64_t m = cur - SLO_LIVE_HORIZON; m <= cur - SLO_PERSIST_AGE && np < cap; m++) {
			if (m < 0)
				continue;
			struct hz_entry *h = &s->hz[m % SLO_HZ];
			if (h->tag != (uint32_t)(m + 1))
				*h = (struct hz_entry){ .tag = (uint32_t)(m + 1) };
			double g, t;
			ring_get(s, m, &g, &t);
			double dg = g - h->good, dt = t - h->total;
			if (dg <= 0 && dt <= 0)
				continue;
			pend[np++] = (struct pending){ i, m, dg > 0 ? dg : 0, dt > 0 ? dt : 0 };
		}
	}
	pthread_mutex_unlock(&set->lock);
	if (!np) {
		free(pend);
		return;
	}
	struct arena a;
	arena_init(&a, 0);
	struct resource *res = arena_zalloc(&a, sizeof(*res));
	struct metric_point *pts = arena_zalloc(&a, sizeof(*pts) * np * 2);
	struct attr *attrs = arena_zalloc(&a, sizeof(*attrs) * np);
	res->service = "ooda";
	for (size_t i = 0; i < np; i++) {
		const struct slo *s = &set->slos[pend[i].slo];
		attrs[i] = (struct attr){ .key = "slo", .type = ATTR_STR, .len = (uint32_t)strlen(s->name),
					  .s = s->name };
		fill_point(&pts[2 * i], good_metric, res, &attrs[i], pend[i].minute, pend[i].good);
		fill_point(&pts[2 * i + 1], events_metric, res, &attrs[i], pend[i].minute, pend[i].total);
	}
	struct telemetry_batch b = { .arena = &a, .points = pts, .n_points = np * 2 };
	struct buf err = BUF_INIT;
	int rc = tstore_append(set->opt.tstore, &b, &err);
	if (rc)
		log_warn("slo: storing %zu minute counts failed (retrying): %s", np, err.data);
	buf_release(&err);
	arena_release(&a);
	if (!rc) {
		pthread_mutex_lock(&set->lock);
		for (size_t i = 0; i < np; i++) {
			struct hz_entry *h = &set->slos[pend[i].slo].hz[pend[i].minute % SLO_HZ];
			if (h->tag == (uint32_t)(pend[i].minute + 1)) {
				h->good += pend[i].good;
				h->total += pend[i].total;
			}
		}
		pthread_mutex_unlock(&set->lock);
	}
	free(pend);
}

/* One step of the SLO worker (core/worker): every second, and when woken. */
static void worker_step(void *arg, void *item)
{
	(void)item;
	struct slo_set *set = arg;
	int64_t now = set_now(set);
	pthread_rwlock_rdlock(&set->defs);
	promql_step(set, now, 120);
	persist_step(set, now);
	pthread_rwlock_unlock(&set->defs);
}

struct rebuild {
	struct slo *slos;
	int n;
	const bool *skip; /* SLOs not to fill (their rings are already live); NULL = none */
	int64_t now_min;
	int last; /* index of the last SLO found, a cache */
	int64_t *newest_stored;
	size_t points;
};

static int rebuild_cb(void *ctx, const struct telemetry_batch *b, int64_t tmin, int64_t tmax)
{
	struct rebuild *r = ctx;
	for (size_t i = 0; i < b->n_points; i++) {
		const struct metric_point *p = &b->points[i];
		if (!p->name)
			continue;
		bool good = !strcmp(p->name, good_metric);
		if (!good && strcmp(p->name, events_metric))
			continue;
		const char *slo = NULL;
		for (uint32_t j = 0; j < p->attrs.n; j++)
			if (!strcmp(p->attrs.v[j].key, "slo") && p->attrs.v[j].type == ATTR_STR)
				slo = p->attrs.v[j].s;
		if (!slo || !isfinite(p->value) || p->value < 0)
			continue;
		int idx = -1;
		if (r->last >= 0 && !strcmp(r->slos[r->last].name, slo))
			idx = r->last;
		for (int j = 0; idx < 0 && j < r->n; j++)
			if (!strcmp(r->slos[j].name, slo))
				idx = j;
		if (idx < 0 || (r->skip && r->skip[idx]))
			continue;
		r->last = idx;
		struct slo *s = &r->slos[idx];
		int64_t m = p->start_ns / MIN_NS;
		if (m > r->now_min || m <= r->now_min - SLO_RING_MINUTES)
			continue;
		ring_put(s, m, good ? p->value : 0, good ? 0 : p->value, true);
		if (m >= r->now_min - SLO_HZ + 1) {
			struct hz_entry *h = &s->hz[m % SLO_HZ];
			if (h->tag != (uint32_t)(m + 1))
				*h = (struct hz_entry){ .tag = (uint32_t)(m + 1) };
			if (good)
				h->good += p->value;
			else
				h->total += p->value;
		}
		if (m > r->newest_stored[idx])
			r->newest_stored[idx] = m;
		r->points++;
	}
	return 0;
}

/* See slo_impl.h. */
void slo_rebuild(const struct slo_options *opt, struct slo *slos, int n, const bool *skip, int64_t now)
{
	if (!opt->tstore || !n)
		return;
	int64_t *newest = xmalloc(sizeof(int64_t) * (size_t)n);
	for (int i = 0; i < n; i++)
		newest[i] = -1;
	struct rebuild r = { slos, n, skip, now / MIN_NS, -1, newest, 0 };
	static const char *const svc[] = { "ooda" };
	struct tstore_scan q = { .signal = SIGNAL_METRICS, .from_ns = now - (int64_t)(SLO_RING_MINUTES + 60) * MIN_NS,
				 .to_ns = now + MIN_NS, .services = svc, .n_services = 1, .oldest_first = true };
	struct buf serr = BUF_INIT;
	int rc = tstore_scan(opt->tstore, &q, rebuild_cb, &r, &serr);
	for (int i = 0; i < n; i++)
		if (slos[i].kind == SLI_PROMQL && newest[i] >= 0 && !(skip && skip[i]))
			slos[i].promql_next = newest[i] + 1;
	if (rc)
		log_error("slo: budgets start without history: %s", serr.data);
	else {
		int filled = 0;
		for (int i = 0; i < n; i++)
			filled += !(skip && skip[i]);
		log_info("slo: %d SLOs, %zu stored minute counts read back", filled, r.points);
	}
	buf_release(&serr);
	free(newest);
}

int slo_set_start(struct slo_set *set, struct buf *err)
{
	if (!set)
		return OODA_EINVAL;
	pthread_rwlock_rdlock(&set->defs);
	pthread_mutex_lock(&set->lock);
	slo_rebuild(&set->opt, set->slos, set->n, NULL, set_now(set));
	pthread_mutex_unlock(&set->lock);
	pthread_rwlock_unlock(&set->defs);
	/* the worker runs even without SLOs: a reload may add some */
	set->stop = false;
	struct worker_opts o = { .interval_ns = OODA_NS_PER_SEC, .leader_only = true };
	int prc = worker_create("slo", worker_step, set, &o, &set->worker, err);
	if (prc)
		return prc;
	worker_wake(set->worker); /* the first step now, then every second */
	set->worker_running = true;
	return 0;
}
