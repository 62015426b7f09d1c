/*
 * The exporter thread and its bounded queue (see export.h). The queue is one
 * buffer of comma-separated JSON objects per (signal, service); a flush swaps
 * the buffers out under the lock and posts them without it, so adding never
 * waits for the network.
 */
#include "export.h"

#include <errno.h>
#include <pthread.h>

#include "core/time.h"
#include "httpc.h"

static const char *const sig_path[SIG_COUNT] = { "/v1/traces", "/v1/logs", "/v1/metrics" };
/* OTLP JSON names: resourceSpans/scopeSpans/spans, ... */
static const char *const sig_res[SIG_COUNT] = { "resourceSpans", "resourceLogs", "resourceMetrics" };
static const char *const sig_scope[SIG_COUNT] = { "scopeSpans", "scopeLogs", "scopeMetrics" };
static const char *const sig_items[SIG_COUNT] = { "spans", "logRecords", "metrics" };

struct exporter {
	char *base_url;
	char *auth; /* "Authorization: Bearer ..." or NULL */
	size_t max_bytes;
	int nsvc;
	long interval_ms;
	exporter_resource_fn resource;
	void *ctx;
	exporter_collect_fn collect; /* set once, before the first flush that needs it */
	void *collect_ctx;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	struct buf *q;     /* [SIG_COUNT * nsvc] */
	uint64_t *counts;  /* items in each q */
	size_t queued_bytes;
	struct exporter_stats st;
	pthread_t thread;
};

void exporter_add(struct exporter *e, int signal, int svc, const char *json, size_t len)
{
	if (!e || signal < 0 || signal >= SIG_COUNT || svc < 0 || svc >= e->nsvc)
		return;
	pthread_mutex_lock(&e->mu);
	if (e->queued_bytes + len + 1 > e->max_bytes) {
		e->st.dropped++;
	} else {
		struct buf *b = &e->q[signal * e->nsvc + svc];
		if (b->len)
			buf_addch(b, ',');
		buf_add(b, json, len);
		e->counts[signal * e->nsvc + svc]++;
		e->queued_bytes += len + 1;
	}
	pthread_mutex_unlock(&e->mu);
}

static void post_one(struct exporter *e, int signal, int svc, struct buf *items, uint64_t n)
{
	struct buf body = BUF_INIT, err = BUF_INIT;
	buf_addf(&body, "{\"%s\":[{\"resource\":", sig_res[signal]);
	e->resource(e->ctx, svc, &body);
	buf_addf(&body, ",\"%s\":[{\"scope\":{\"name\":\"ooda-sim\",\"version\":\"%s\"},\"%s\":[", sig_scope[signal],
		 OODA_VERSION, sig_items[signal]);
	buf_add(&body, items->data, items->len);
	buf_adds(&body, "]}]}]}");
	char url[512];
	snprintf(url, sizeof url, "%s%s", e->base_url, sig_path[signal]);
	const char *hdr[3] = { "Content-Type: application/json", e->auth, NULL };
	long status = 0;
	int rc = httpc_call("POST", url, hdr, body.data, body.len, 5000, &status, NULL, &err);
	pthread_mutex_lock(&e->mu);
	if (rc == 0 && status >= 200 && status < 300) {
		e->st.exported[signal] += n;
	} else {
		e->st.dropped += n;
		e->st.failed_posts++;
	}
	pthread_mutex_unlock(&e->mu);
	buf_release(&body);
	buf_release(&err);
}

/* One service's share of a flush: its metrics, then its spans, then its logs. */
struct svc_post {
	struct exporter *e;
	int svc;
	struct buf *taken;  /* [SIG_COUNT * nsvc], shared; this service's entries only */
	uint64_t *counts;
	pthread_t thread;
	bool threaded;
};

static void *post_service(void *arg)
{
	struct svc_post *p = arg;
	struct exporter *e = p->e;
	/* metrics first: an OTel SDK exports them on a reader of their own, never queued behind spans
	 * and logs (each post waits for ooda's durable commit) */
	static const int order[SIG_COUNT] = { SIG_METRICS, SIG_TRACES, SIG_LOGS };
	for (int k = 0; k < SIG_COUNT; k++) {
		size_t i = (size_t)order[k] * (size_t)e->nsvc + (size_t)p->svc;
		if (p->counts[i])
			post_one(e, order[k], p->svc, &p->taken[i], p->counts[i]);
		buf_release(&p->taken[i]);
	}
	return NULL;
}

static void flush(struct exporter *e)
{
	pthread_mutex_lock(&e->mu);
	exporter_collect_fn collect = e->collect;
	void *cctx = e->collect_ctx;
	pthread_mutex_unlock(&e->mu);
	if (collect)
		collect(cctx);
	size_t nq = (size_t)SIG_COUNT * (size_t)e->nsvc;
	struct buf *taken = xcalloc(nq, sizeof *taken);
	uint64_t *counts = xcalloc(nq, sizeof *counts);
	pthread_mutex_lock(&e->mu);
	for (size_t i = 0; i < nq; i++) {
		taken[i] = e->q[i];
		counts[i] = e->counts[i];
		buf_init(&e->q[i]);
		e->counts[i] = 0;
	}
	e->queued_bytes = 0;
	pthread_mutex_unlock(&e->mu);
	/* the services post at once, as five processes with an SDK each would: one service's
	 * commit wait no longer delays the next one's metrics (a thread per service; inline
	 * when a thread cannot start) */
	struct svc_post *p = xcalloc((size_t)e->nsvc, sizeof *p);
	for (int s = 0; s < e->nsvc; s++) {
		p[s] = (struct svc_post){ .e = e, .svc = s, .taken = taken, .counts = counts };
		p[s].threaded = pthread_create(&p[s].thread, NULL, post_service, &p[s]) == 0;
		if (!p[s].threaded)
			post_service(&p[s]);
	}
	for (int s = 0; s < e->nsvc; s++)
		if (p[s].threaded)
			pthread_join(p[s].thread, NULL);
	free(p);
	free(taken);
	free(counts);
}

static void *run(void *arg)
{
	struct exporter *e = arg;
	/* a fixed rate, as an SDK's periodic reader has: the next flush is due an interval after
	 * the last one was due, not after it ended (a slow flush no longer stretches the period);
	 * a flush more than an interval late starts a new schedule rather than bursting */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	pthread_mutex_lock(&e->mu);
	while (!e->stop) {
		ts.tv_sec += e->interval_ms / 1000;
		ts.tv_nsec += (e->interval_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		int64_t late_ms = ((int64_t)now.tv_sec - (int64_t)ts.tv_sec) * 1000 + (now.tv_nsec - ts.tv_nsec) / 1000000L;
		if (late_ms > e->interval_ms)
			ts = now;
		while (!e->stop && pthread_cond_timedwait(&e->cv, &e->mu, &ts) != ETIMEDOUT)
			;
		pthread_mutex_unlock(&e->mu);
		flush(e);
		pthread_mutex_lock(&e->mu);
	}
	pthread_mutex_unlock(&e->mu);
	return NULL;
}

struct exporter *exporter_create(const char *base_url, const char *token, size_t max_bytes, int nsvc,
				 long interval_ms, exporter_resource_fn resource, void *ctx, struct buf *err)
{
	struct exporter *e = xcalloc(1, sizeof *e);
	e->base_url = xstrdup(base_url);
	if (token && *token) {
		struct buf a = BUF_INIT;
		buf_addf(&a, "Authorization: Bearer %s", token);
		e->auth = buf_detach(&a, NULL);
	}
	e->max_bytes = max_bytes;
	e->nsvc = nsvc;
	e->interval_ms = interval_ms > 0 ? interval_ms : 1000;
	e->resource = resource;
	e->ctx = ctx;
	e->q = xcalloc((size_t)SIG_COUNT * (size_t)nsvc, sizeof *e->q);
	for (int i = 0; i < SIG_COUNT * nsvc; i++)
		buf_init(&e->q[i]);
	e->counts = xcalloc((size_t)SIG_COUNT * (size_t)nsvc, sizeof *e->counts);
	pthread_mutex_init(&e->mu, NULL);
	pthread_cond_init(&e->cv, NULL);
	if (pthread_create(&e->thread, NULL, run, e) != 0) {
		buf_adds(err, "exporter: cannot start its thread");
		e->stop = true;
		e->thread = 0;
		exporter_destroy(e);
		return NULL;
	}
	return e;
}

void exporter_on_collect(struct exporter *e, exporter_collect_fn fn, void *ctx)
{
	pthread_mutex_lock(&e->mu);
	e->collect = fn;
	e->collect_ctx = ctx;
	pthread_mutex_unlock(&e->mu);
}

void exporter_flush(struct exporter *e)
{
	if (e)
		flush(e);
}

void exporter_get_stats(struct exporter *e, struct exporter_stats *out)
{
	pthread_mutex_lock(&e->mu);
	*out = e->st;
	pthread_mutex_unlock(&e->mu);
}

void exporter_destroy(struct exporter *e)
{
	if (!e)
		return;
	if (e->thread) {
		pthread_mutex_lock(&e->mu);
		e->stop = true;
		pthread_cond_signal(&e->cv);
		pthread_mutex_unlock(&e->mu);
		pthread_join(e->thread, NULL);
	}
	for (int i = 0; i < SIG_COUNT * e->nsvc; i++)
		buf_release(&e->q[i]);
	free(e->q);
	free(e->counts);
	free(e->base_url);
	free(e->auth);
	pthread_mutex_destroy(&e->mu);
	pthread_cond_destroy(&e->cv);
	free(e);
}
