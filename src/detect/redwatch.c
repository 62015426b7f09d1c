/*
 * RED anomaly watch (see redwatch.h).
 */
#include "detect/redwatch.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/time.h"

#include <math.h>
#include <pthread.h>

enum { M_RATE, M_ERRORS, M_P99, N_METRICS };

static const char *const metric_names[N_METRICS] = { "request_rate", "error_ratio", "p99_ms" };
/* the harmful direction of each metric */
static const int bad_direction[N_METRICS] = { -1, +1, +1 };

#define NB (LIVE_N_BOUNDS + 1)
/* The fine slots kept per service: 64 s, past a slot read two 10 s slots late. */
#define RING 256
/* Fine slots read again at every read: spans up to LIVE_FINE_LATE_NS late still land in them. */
#define SETTLE (LIVE_FINE_LATE_NS / LIVE_FINE_NS + 1)

struct fine_ring {
	int64_t k[RING]; /* the fine slot held at k % RING (INT64_MIN: none) */
	float req[RING], err[RING];
	float b[RING][NB];
	int64_t head; /* the service's newest fine slot at the last read (INT64_MIN: none yet) */
};

struct watched {
	char service[LIVE_NAME_MAX + 1];
	struct anomaly_state *st[N_METRICS];
	struct anomaly_result last[N_METRICS];
	double value[N_METRICS];
	double guarded[N_METRICS]; /* the value without the slot's worst blip-length stretch */
	bool seen[N_METRICS];
	struct fine_ring *ring;
};

struct redwatch {
	struct live_signals *live;
	struct redfast *shared; /* whose shared slowdowns hold back p99 (borrowed; NULL: none) */
	struct redwatch_config cfg;
	size_t state_size;
	pthread_mutex_t mu; /* guards the services for redwatch_json */
	struct watched *v;
	size_t n;
	int64_t last_slot; /* start of the last slot processed */
	int64_t last_fine; /* when the fine slots were last read */
	struct live_fine read[LIVE_FINE_SLOTS];
};

int redwatch_create(struct live_signals *live, const struct redwatch_config *cfg, struct redwatch **out)
{
	struct redwatch *w = xcalloc(1, sizeof(*w));
	w->live = live;
	if (cfg)
		w->cfg = *cfg;
	if (w->cfg.threshold <= 0)
		w->cfg.threshold = 0.99;
	if (!w->cfg.max_services)
		w->cfg.max_services = 256;
	if (w->cfg.blip_ns <= 0)
		w->cfg.blip_ns = 2 * OODA_NS_PER_SEC;
	w->state_size = anomaly_state_size(&w->cfg.anomaly);
	w->v = xcalloc(w->cfg.max_services, sizeof(*w->v));
	pthread_mutex_init(&w->mu, NULL);
	*out = w;
	return 0;
}

void redwatch_follow_shared(struct redwatch *w, struct redfast *f)
{
	w->shared = f;
}

void redwatch_destroy(struct redwatch *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->n; i++) {
		for (int m = 0; m < N_METRICS; m++)
			free(w->v[i].st[m]);
		free(w->v[i].ring);
	}
	free(w->v);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

static struct watched *find(struct redwatch *w, const char *service, bool create)
{
	for (size_t i = 0; i < w->n; i++)
		if (!strcmp(w->v[i].service, service))
			return &w->v[i];
	if (!create || w->n == w->cfg.max_services)
		return NULL;
	struct watched *x = &w->v[w->n++];
	snprintf(x->service, sizeof(x->service), "%s", service);
	for (int m = 0; m < N_METRICS; m++) {
		x->st[m] = xmalloc(w->state_size);
		anomaly_init(x->st[m], &w->cfg.anomaly);
	}
	x->ring = xmalloc(sizeof(*x->ring));
	for (size_t i = 0; i < RING; i++)
		x->ring->k[i] = INT64_MIN;
	x->ring->head = INT64_MIN;
	return x;
}

struct slot_sum {
	uint64_t req, err;
	double p99;
	bool any;
};

bool redwatch_harmful(const struct anomaly_result *r, double value, int bad, double threshold)
{
	if (r->warming_up || !(r->score >= threshold) || r->direction != bad)
		return false;
	if (bad < 0 && isfinite(r->expected_lo) && !(value < r->expected_lo))
		return false;
	if (bad > 0 && isfinite(r->expected_hi) && !(value > r->expected_hi))
		return false;
	return true;
}

/* ---- the blip guard (redwatch.h) ---- */

/* Keeps x's fine slots that came since the last read, and the last SETTLE again (late spans). */
static void read_fine(struct redwatch *w, struct watched *x)
{
	struct fine_ring *g = x->ring;
	size_t n = 0;
	int64_t head = INT64_MIN;
	int64_t from = g->head == INT64_MIN ? INT64_MIN / 2 : g->head - SETTLE;
	if (live_red_fine(w->live, x->service, from, LIVE_FINE_SLOTS, w->read, &n, &head) || !n)
		return;
	for (size_t i = 0; i < n; i++) {
		const struct live_fine *f = &w->read[i];
		size_t at = (size_t)(f->k % RING);
		g->k[at] = f->k;
		g->req[at] = (float)f->req;
		g->err[at] = (float)f->err;
		for (int b = 0; b < NB; b++)
			g->b[at][b] = (float)f->b[b];
	}
	g->head = head;
}

double redwatch_blip_factor(int m, const double *req, const double *err, const double (*buckets)[NB], size_t n,
			    size_t w)
{
	double r = 0, e = 0, h[NB] = { 0 };
	for (size_t i = 0; i < n; i++) {
		r += req[i];
		e += err[i];
		for (int b = 0; b < NB; b++)
			h[b] += buckets[i][b];
	}
	if (n <= w || !(r > 0) || (m == M_ERRORS && !(e > 0)))
		return 1;
	double all = m == M_RATE ? r / (double)n : m == M_ERRORS ? e / r : live_hist_quantile_s(h, 0.99);
	if (!(all > 0))
		return 1;
	double best = all;
	for (size_t s = 0; s + w <= n; s++) { /* remove slots [s, s + w) */
		double rw = 0, ew = 0, hw[NB];
		memcpy(hw, h, sizeof(hw));
		for (size_t i = s; i < s + w; i++) {
			rw += req[i];
			ew += err[i];
			for (int b = 0; b < NB; b++)
				hw[b] -= buckets[i][b];
		}
		double rest = r - rw;
		if (m == M_RATE) {
			best = fmax(best, rest / (double)(n - w));
		} else if (!(rest > 0)) {
			continue; /* every request in this stretch: a burst of traffic, nothing to compare the rest with */
		} else if (m == M_ERRORS) {
			best = fmin(best, (e - ew) / rest);
		} else {
			for (int b = 0; b < NB; b++)
				hw[b] = fmax(0, hw[b]);
			double q = live_hist_quantile_s(hw, 0.99);
			if (!isnan(q))
				best = fmin(best, q);
		}
	}
	return best / all;
}

/*
 * Sets x->guarded for the 10 s slot [t, t + 10 s) of slot_req requests: each
 * value scaled by its blip factor over x's fine slots, or the value itself
 * where they do not cover the slot.
 */
static void guard(const struct redwatch *w, struct watched *x, int64_t t, double slot_req)
{
	for (int m = 0; m < N_METRICS; m++)
		x->guarded[m] = x->value[m];
	const struct fine_ring *g = x->ring;
	enum { NK = (int)(10 * OODA_NS_PER_SEC / LIVE_FINE_NS) };
	int64_t k0 = t / LIVE_FINE_NS;
	if (g->head == INT64_MIN || g->head < k0 + NK) /* its newest span ended before the slot did */
		return;
	double req[NK], err[NK], b[NK][NB], fine_req = 0;
	for (int i = 0; i < NK; i++) {
		size_t at = (size_t)((k0 + i) % RING);
		bool have = g->k[at] == k0 + i;
		req[i] = have ? g->req[at] : 0;
		err[i] = have ? g->err[at] : 0;
		for (int j = 0; j < NB; j++)
			b[i][j] = have ? g->b[at][j] : 0;
		fine_req += req[i];
	}
	if (!(fine_req > 0) || fine_req < 0.5 * slot_req)
		return;
	size_t span = (size_t)((w->cfg.blip_ns + LIVE_FINE_NS - 1) / LIVE_FINE_NS) + 2;
	for (int m = 0; m < N_METRICS; m++)
		if (!isnan(x->value[m]))
			x->guarded[m] = x->value[m] * redwatch_blip_factor(m, req, err, (const double (*)[NB])b, NK, span);
}

/* The slot [t - 10 s, t) of x's metric m, sent as a signal of time t. */
static void emit(struct redwatch *w, struct watched *x, int m, int64_t t, const struct alert_sink *sink)
{
	const struct anomaly_result *r = &x->last[m];
	bool active = redwatch_harmful(r, x->value[m], bad_direction[m], w->cfg.threshold) &&
		      redwatch_harmful(r, x->guarded[m], bad_direction[m], w->cfg.threshold);
	/* its latency in a slowdown the whole system shared: the shared signal speaks for it (redwatch.h) */
	bool held = active && m == M_P99 &&
		    redfast_shared_overlaps(w->shared, x->service, t - 10 * OODA_NS_PER_SEC, t);
	active &= !held;
	char name[LIVE_NAME_MAX + 64];
	snprintf(name, sizeof(name), "anomaly:%s/%s", x->service, metric_names[m]);
	json_t *ev = json_pack("{s:s, s:f, s:f, s:f, s:f, s:f, s:f, s:i, s:b, s:s, s:s?}", "metric", metric_names[m],
			       "value", x->value[m], "without_blip", isfinite(x->guarded[m]) ? x->guarded[m] : 0.0, "baseline", isfinite(r->baseline) ? r->baseline : 0.0, "expected_lo",
			       isfinite(r->expected_lo) ? r->expected_lo : 0.0, "expected_hi",
			       isfinite(r->expected_hi) ? r->expected_hi : 0.0, "score", r->score, "direction",
			       r->direction, "warming_up", r->warming_up, "window", "10s slots", "detector", r->detector);
	if (held)
		json_object_set_new(ev, "held_by", json_string(REDFAST_SHARED_NAME));
	json_t *labels = json_pack("{s:s}", "metric", metric_names[m]);
	char summary[300];
	snprintf(summary, sizeof(summary), "%s %s is %s its baseline (%.3g vs %.3g, confidence %.3f)", x->service,
		 metric_names[m], r->direction > 0 ? "above" : "below", x->value[m], r->baseline, r->score);
	json_t *ann = json_pack("{s:s}", "summary", summary);
	struct alert_signal s = { .source = "anomaly", .name = name, .service = x->service,
				  .severity = SEVERITY_TICKET, .labels = labels, .annotations = ann, .evidence = ev,
				  .active = active, .at_ns = t };
	alert_emit(sink, &s);
	json_decref(ev);
	json_decref(labels);
	json_decref(ann);
}

void redwatch_tick(void *ctx, int64_t now_ns, const struct alert_sink *sink)
{
	struct redwatch *w = ctx;
	/* every 2 s: the live view holds 16 s of fine slots, and a slot settles 6 s after the newest */
	if (!w->last_fine || now_ns - w->last_fine >= 2 * OODA_NS_PER_SEC || now_ns < w->last_fine) {
		w->last_fine = now_ns;
		for (size_t i = 0; i < w->n; i++)
			read_fine(w, &w->v[i]);
	}
	const int64_t slot = 10 * OODA_NS_PER_SEC;
	int64_t target = (now_ns / slot - 2) * slot; /* the slot that closed two slots ago */
	if (w->last_slot && target <= w->last_slot)
		return;
	int64_t from = w->last_slot ? w->last_slot + slot : target;
	if (target - from > 60 * slot) /* after a long pause, skip ahead */
		from = target - 60 * slot;
	struct arena a;
	arena_init(&a, 0);
	for (int64_t t = from; t <= target; t += slot) {
		arena_reset(&a);
		struct live_red *reds = NULL;
		size_t n = 0;
		struct buf err = BUF_INIT;
		live_red_snapshot(w->live, t, t + slot, &a, &reds, &n, &err);
		buf_release(&err);
		pthread_mutex_lock(&w->mu);
		/* per service: sum over operations; p99 = the worst operation's */
		for (size_t i = 0; i < w->n; i++)
			for (int m = 0; m < N_METRICS; m++)
				w->v[i].seen[m] = false;
		for (size_t i = 0; i < n; i++) {
			struct live_red *r = &reds[i];
			struct watched *x = find(w, r->service, true);
			if (!x || !r->n_slots)
				continue;
			uint32_t k = r->n_slots - 1;
			double p99 = r->p99_ms[k];
			if (!x->seen[M_RATE]) {
				x->value[M_RATE] = x->value[M_ERRORS] = 0;
				x->value[M_P99] = NAN;
				x->seen[M_RATE] = true;
			}
			x->value[M_RATE] += (double)r->requests[k];
			x->value[M_ERRORS] += (double)r->errors[k]; /* a count until the ratio below */
			if (!isnan(p99) && (isnan(x->value[M_P99]) || p99 > x->value[M_P99]))
				x->value[M_P99] = p99;
		}
		for (size_t i = 0; i < w->n; i++) {
			struct watched *x = &w->v[i];
			if (!x->seen[M_RATE]) /* a known service with no request in the slot */
				x->value[M_RATE] = 0;
			double req = x->value[M_RATE];
			anomaly_update(x->st[M_RATE], t, req / 10.0, &x->last[M_RATE]);
			x->value[M_RATE] = req / 10.0;
			if (req > 0) {
				x->value[M_ERRORS] /= req;
				anomaly_update(x->st[M_ERRORS], t, x->value[M_ERRORS], &x->last[M_ERRORS]);
				if (!isnan(x->value[M_P99]))
					anomaly_update(x->st[M_P99], t, x->value[M_P99], &x->last[M_P99]);
			}
			guard(w, x, t, req);
			for (int m = 0; m < N_METRICS; m++)
				emit(w, x, m, t + slot, sink);
		}
		pthread_mutex_unlock(&w->mu);
	}
	w->last_slot = target;
	arena_release(&a);
}

void redwatch_json(struct redwatch *w, struct buf *out)
{
	pthread_mutex_lock(&w->mu);
	buf_adds(out, "{\"services\":[");
	for (size_t i = 0; i < w->n; i++) {
		struct watched *x = &w->v[i];
		buf_addf(out, "%s{\"service\":", i ? "," : "");
		buf_add_json_str(out, x->service, strlen(x->service));
		for (int m = 0; m < N_METRICS; m++) {
			const struct anomaly_result *r = &x->last[m];
			buf_addf(out, ",\"%s\":{\"value\":%.6g,\"baseline\":%.6g,\"expected_lo\":%.6g,\"expected_hi\":%.6g,"
				      "\"score\":%.4f,\"direction\":%d,\"warming_up\":%s}",
				 metric_names[m], isfinite(x->value[m]) ? x->value[m] : 0, isfinite(r->baseline) ? r->baseline : 0,
				 isfinite(r->expected_lo) ? r->expected_lo : 0, isfinite(r->expected_hi) ? r->expected_hi : 0,
				 r->score, r->direction, r->warming_up ? "true" : "false");
		}
		buf_addch(out, '}');
	}
	buf_adds(out, "]}");
	pthread_mutex_unlock(&w->mu);
}
