/*
 * The fast RED change detector (see redfast.h): the count test, then the
 * driver that turns the live counters' growth into one-second slots per
 * service and the test's state into alert signals.
 */
#include "detect/redfast.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/time.h"
#include "core/xalloc.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>

void redfast_config_defaults(struct redfast_config *c)
{
	if (c->slot_ns <= 0)
		c->slot_ns = OODA_NS_PER_SEC;
	if (!c->hold_slots)
		c->hold_slots = 4;
	if (c->hold_slots < 2)
		c->hold_slots = 2;
	if (c->hold_slots > REDFAST_MAX_HOLD)
		c->hold_slots = REDFAST_MAX_HOLD;
	if (!c->warmup_slots)
		c->warmup_slots = 30;
	if (!(c->half_life_slots > 0))
		c->half_life_slots = 300;
	if (!(c->tolerance > 0))
		c->tolerance = 0.01;
	if (!(c->shift > 0))
		c->shift = 0.05;
	if (!(c->threshold > 0))
		c->threshold = 8;
	if (!(c->outside > 0))
		c->outside = 3;
	if (!(c->clear > 0))
		c->clear = 3;
	if (!(c->cap > 0))
		c->cap = 2 * c->threshold;
	if (!c->max_services)
		c->max_services = 256;
	if (!(c->slow_margin > 0))
		c->slow_margin = 0.5;
	if (!(c->slow_min_s > 0))
		c->slow_min_s = 0.001;
}

double redfast_test_baseline(const struct redfast_test *t)
{
	return t->base_n > 0 ? t->base_k / t->base_n : 0;
}

bool redfast_test_update(struct redfast_test *t, const struct redfast_config *cfg, double n, double k)
{
	struct redfast_config c = *cfg;
	redfast_config_defaults(&c);
	if (!(n > 0))
		return t->active;
	t->learnt = -1;
	if (!(k > 0))
		k = 0;
	if (k > n)
		k = n;
	double b = redfast_test_baseline(t);
	double p0 = b + fmax(b, c.tolerance);
	if (p0 > 0.9)
		p0 = 0.9;
	double p1 = fmin(p0 + c.shift, 0.99);
	double l = k * log(p1 / p0) + (n - k) * log((1 - p1) / (1 - p0));
	t->llr = l;
	t->p0 = p0;
	t->p1 = p1;
	t->n = n;
	t->k = k;
	t->ratio = k / n;
	t->slots++;
	if (t->slots <= c.warmup_slots) {
		/* warming up: every slot teaches the baseline, and no evidence is kept against a baseline not yet known */
		double keep = exp2(-1.0 / c.half_life_slots);
		t->base_k = keep * t->base_k + k;
		t->base_n = keep * t->base_n + n;
		t->learnt = REDFAST_LEARNT_NOW;
		return false;
	}
	t->s = fmin(c.cap, fmax(0, t->s + l));
	if (t->s > 0) {
		/* the run's evidence, and the most any blip-length stretch of it (hold_slots − 1 slots) holds */
		uint32_t w = c.hold_slots - 1;
		t->recent[t->run % REDFAST_MAX_HOLD] = l;
		t->run++;
		t->run_sum += l;
		double suffix = 0;
		for (uint32_t j = 0; j < w && j < t->run; j++) {
			suffix += t->recent[(t->run - 1 - j) % REDFAST_MAX_HOLD];
			if (suffix > t->blip_max)
				t->blip_max = suffix;
		}
	} else {
		t->run = 0;
		t->run_sum = t->blip_max = 0;
	}
	if (t->active) {
		t->c = fmax(0, t->c - l);
		if (t->c >= c.clear) {
			t->active = false;
			t->s = t->c = 0;
			t->run = 0;
			t->run_sum = t->blip_max = 0;
			t->pending = 0; /* the slots waiting to be learnt are the fault's */
			return false;
		}
	} else if (t->s >= c.threshold && t->run >= c.hold_slots &&
		   t->run_sum - t->blip_max >= c.outside) {
		t->active = true;
		t->c = 0;
		t->pending = 0;
		return true;
	}
	/*
	 * The baseline learns a slot hold_slots − 1 slots after it came, unless
	 * the test is active or its evidence decisive by then: a fault never
	 * teaches it, nor a strong blip, while the slots of ordinary jitter do
	 * (leaving out every slot with an error would bias it to 0).
	 */
	uint32_t delay = c.hold_slots - 1, at = t->pending % REDFAST_MAX_HOLD;
	if (t->pending >= delay) {
		uint32_t old = (t->pending - delay) % REDFAST_MAX_HOLD;
		if (!t->active && t->s < c.threshold) {
			double keep = exp2(-1.0 / c.half_life_slots);
			t->base_k = keep * t->base_k + t->pend_k[old];
			t->base_n = keep * t->base_n + t->pend_n[old];
			t->learnt = (int)old;
		}
	}
	t->pend_n[at] = n;
	t->pend_k[at] = k;
	t->pending++;
	return t->active;
}

/* ---- the latency test ---------------------------------------------------- */

bool redfast_latency_update(struct redfast_latency *l, const struct redfast_config *cfg, const double *buckets)
{
	struct redfast_config c = *cfg;
	redfast_config_defaults(&c);
	double n = 0;
	for (int b = 0; b < REDFAST_NB; b++)
		n += buckets[b] > 0 ? buckets[b] : 0;
	if (!(n > 0)) {
		l->t.learnt = -1;
		return l->t.active;
	}
	double learnt = 0;
	for (int b = 0; b < REDFAST_NB; b++)
		learnt += l->hist[b];
	double slow = 0;
	if (learnt > 0) {
		/* the bound from what was learnt, and the count test's baseline: the learnt share past it */
		l->p99_s = live_hist_quantile_s(l->hist, 0.99);
		l->slow_s = l->p99_s + fmax(c.slow_margin * l->p99_s, c.slow_min_s);
		l->t.base_n = learnt;
		l->t.base_k = fmax(0, learnt - live_hist_below(l->hist, l->slow_s));
		slow = fmax(0, n - live_hist_below(buckets, l->slow_s));
	}
	memcpy(l->pend[l->t.pending % REDFAST_MAX_HOLD], buckets, sizeof(l->pend[0]));
	bool active = redfast_test_update(&l->t, &c, n, slow);
	const double *learn = l->t.learnt == REDFAST_LEARNT_NOW ? buckets
			      : l->t.learnt >= 0			   ? l->pend[l->t.learnt]
									   : NULL;
	if (learn) {
		double keep = exp2(-1.0 / c.half_life_slots);
		for (int b = 0; b < REDFAST_NB; b++)
			l->hist[b] = keep * l->hist[b] + (learn[b] > 0 ? learn[b] : 0);
	}
	return active;
}

/* ---- the driver on live signals ---------------------------------------- */

/* Live slots read per service: the one filling, the one before and a few late ones. */
#define WINDOW_SLOTS 6

struct watched {
	char service[LIVE_NAME_MAX + 1];
	int64_t first_k;            /* live slot number of req[0]; -1 before the first read */
	double req[WINDOW_SLOTS], err[WINDOW_SLOTS], bkt[WINDOW_SLOTS][REDFAST_NB];
	double slot_req, slot_err;  /* grown since the last slot closed */
	double slot_bkt[REDFAST_NB];
	int64_t last_close;         /* when its last slot closed (0: none yet) */
	int64_t last_growth;        /* when its counters last grew */
	struct redfast_test errors;
	struct redfast_latency latency;
	bool emitted, lat_emitted;  /* an active signal was sent at least once (errors, latency) */
};

struct redfast {
	struct live_signals *live;
	struct redfast_config cfg;
	struct watched *v;
	size_t n;
	int64_t last_names;
	atomic_bool enabled;
	atomic_uint known, learning; /* services watched, and those still in warm-up (end of the last tick) */
};

int redfast_create(struct live_signals *live, const struct redfast_config *cfg, struct redfast **out)
{
	struct redfast *w = xcalloc(1, sizeof(*w));
	w->live = live;
	if (cfg)
		w->cfg = *cfg;
	redfast_config_defaults(&w->cfg);
	atomic_init(&w->enabled, true);
	atomic_init(&w->known, 0);
	atomic_init(&w->learning, 0);
	w->v = xcalloc(w->cfg.max_services, sizeof(*w->v));
	*out = w;
	return 0;
}

void redfast_destroy(struct redfast *w)
{
	if (!w)
		return;
	free(w->v);
	free(w);
}

static struct watched *find(struct redfast *w, const char *service)
{
	for (size_t i = 0; i < w->n; i++)
		if (!strcmp(w->v[i].service, service))
			return &w->v[i];
	if (w->n == w->cfg.max_services)
		return NULL;
	struct watched *x = &w->v[w->n++];
	memset(x, 0, sizeof(*x));
	snprintf(x->service, sizeof(x->service), "%s", service);
	x->first_k = -1;
	x->emitted = x->lat_emitted = true; /* one inactive signal first: clears what a restart left firing */
	return x;
}

/* Learns the names of the services with requests in the last two live slots. */
static void refresh_names(struct redfast *w, int64_t now_ns)
{
	struct arena a;
	arena_init(&a, 0);
	struct live_red *reds = NULL;
	size_t n = 0;
	struct buf err = BUF_INIT;
	if (!live_red_snapshot(w->live, now_ns > 20 * OODA_NS_PER_SEC ? now_ns - 20 * OODA_NS_PER_SEC : 0,
			       now_ns + OODA_NS_PER_SEC, &a, &reds, &n, &err))
		for (size_t i = 0; i < n; i++)
			find(w, reds[i].service);
	buf_release(&err);
	arena_release(&a);
}

/*
 * Adds to x->slot_* what the live counters of x grew by since the last
 * read: per live slot, the new value less the one read before (a slot not
 * read before counts whole, except at the very first read).
 * Returns whether anything grew.
 */
static bool read_growth(struct redfast *w, struct watched *x, int64_t now_ns)
{
	double req[WINDOW_SLOTS], err[WINDOW_SLOTS], bkt[WINDOW_SLOTS][REDFAST_NB];
	int64_t first = 0, slot = 0;
	size_t n = 0;
	struct buf e = BUF_INIT;
	int64_t to = now_ns + OODA_NS_PER_SEC;
	int rc = live_red_buckets(w->live, x->service, 0, to, WINDOW_SLOTS, &first, &slot, req, err, &bkt[0][0], &n,
				  &e);
	buf_release(&e);
	if (rc || !n || slot <= 0)
		return false;
	int64_t k0 = first / slot;
	bool grew = false;
	for (size_t i = 0; i < n; i++) {
		int64_t k = k0 + (int64_t)i;
		double pr = 0, pe = 0;
		const double *pb = NULL;
		if (x->first_k >= 0 && k >= x->first_k && k < x->first_k + WINDOW_SLOTS) {
			pr = x->req[k - x->first_k];
			pe = x->err[k - x->first_k];
			pb = x->bkt[k - x->first_k];
		} else if (x->first_k < 0) {
			pr = req[i];
			pe = err[i];
			pb = bkt[i];
		}
		if (req[i] > pr) {
			x->slot_req += req[i] - pr;
			grew = true;
		}
		if (err[i] > pe)
			x->slot_err += err[i] - pe;
		for (int b = 0; b < REDFAST_NB; b++)
			if (bkt[i][b] > (pb ? pb[b] : 0))
				x->slot_bkt[b] += bkt[i][b] - (pb ? pb[b] : 0);
	}
	memcpy(x->req, req, n * sizeof(*req));
	memcpy(x->err, err, n * sizeof(*err));
	memcpy(x->bkt, bkt, n * sizeof(bkt[0]));
	for (size_t i = n; i < WINDOW_SLOTS; i++) {
		x->req[i] = x->err[i] = 0;
		memset(x->bkt[i], 0, sizeof(x->bkt[i]));
	}
	x->first_k = k0;
	return grew;
}

static void emit_signal(struct watched *x, const char *metric, json_t *ev, const char *summary, bool active,
			int64_t at_ns, uint32_t run, const struct redfast_config *c, const struct alert_sink *sink)
{
	char name[LIVE_NAME_MAX + 32];
	snprintf(name, sizeof(name), "red:%s/%s", x->service, metric);
	json_t *labels = json_pack("{s:s}", "metric", metric);
	json_t *ann = json_pack("{s:s}", "summary", summary);
	struct alert_signal s = { .source = "anomaly", .name = name, .service = x->service,
				  .severity = SEVERITY_TICKET, .labels = labels, .annotations = ann, .evidence = ev,
				  .active = active, .at_ns = at_ns,
				  /* the excess began with the run of slots the evidence grew over */
				  .since_ns = active ? at_ns - (int64_t)run * c->slot_ns : 0 };
	alert_emit(sink, &s);
	json_decref(ev);
	json_decref(labels);
	json_decref(ann);
}

static void emit(struct watched *x, bool active, int64_t at_ns, const struct redfast_config *c,
		 const struct alert_sink *sink)
{
	const struct redfast_test *t = &x->errors;
	json_t *ev = json_pack("{s:s, s:f, s:f, s:f, s:f, s:f, s:f, s:i, s:f, s:f, s:s, s:s}", "metric", "error_ratio",
			       "value", t->ratio, "baseline", redfast_test_baseline(t), "tolerance", t->p0, "score",
			       1 - exp(-t->s), "evidence_nats", t->s, "threshold_nats", c->threshold, "slots_held",
			       (json_int_t)t->run, "requests", t->n, "errors", t->k, "window", "1s slots", "detector",
			       "red-cusum");
	char summary[400];
	snprintf(summary, sizeof(summary),
		 "%s error ratio %.3g is above its tolerance %.3g (baseline %.3g) for %u slots, evidence %.1f nats",
		 x->service, t->ratio, t->p0, redfast_test_baseline(t), t->run, t->s);
	emit_signal(x, "error_ratio", ev, summary, active, at_ns, t->run, c, sink);
}

static void emit_latency(struct watched *x, bool active, int64_t at_ns, const struct redfast_config *c,
			 const struct alert_sink *sink)
{
	const struct redfast_latency *l = &x->latency;
	const struct redfast_test *t = &l->t;
	json_t *ev = json_pack("{s:s, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:i, s:f, s:f, s:s, s:s}", "metric",
			       "latency", "value", t->ratio, "baseline", redfast_test_baseline(t), "tolerance", t->p0,
			       "slow_ms", l->slow_s * 1e3, "p99_ms", l->p99_s * 1e3, "score", 1 - exp(-t->s),
			       "evidence_nats", t->s, "threshold_nats", c->threshold, "slots_held", (json_int_t)t->run,
			       "requests", t->n, "slow", t->k, "window", "1s slots", "detector", "red-cusum");
	char summary[400];
	snprintf(summary, sizeof(summary),
		 "%s: %.3g of requests slower than %.3g ms (its usual p99 %.3g ms), above the tolerated %.3g for %u "
		 "slots, evidence %.1f nats",
		 x->service, t->ratio, l->slow_s * 1e3, l->p99_s * 1e3, t->p0, t->run, t->s);
	emit_signal(x, "latency", ev, summary, active, at_ns, t->run, c, sink);
}

void redfast_set_enabled(struct redfast *w, bool on)
{
	if (w)
		atomic_store(&w->enabled, on);
}

void redfast_tick(void *ctx, int64_t now_ns, const struct alert_sink *sink)
{
	struct redfast *w = ctx;
	const int64_t slot = w->cfg.slot_ns;
	if (!atomic_load(&w->enabled)) {
		for (size_t i = 0; i < w->n; i++) {
			if (w->v[i].emitted)
				emit(&w->v[i], false, now_ns, &w->cfg, sink);
			if (w->v[i].lat_emitted)
				emit_latency(&w->v[i], false, now_ns, &w->cfg, sink);
		}
		w->n = 0;
		w->last_names = 0;
		atomic_store(&w->known, 0);
		atomic_store(&w->learning, 0);
		return;
	}
	if (!w->last_names || now_ns - w->last_names >= 5 * slot || now_ns < w->last_names) {
		refresh_names(w, now_ns);
		w->last_names = now_ns;
	}
	for (size_t i = 0; i < w->n; i++) {
		struct watched *x = &w->v[i];
		bool grew = read_growth(w, x, now_ns);
		if (grew)
			x->last_growth = now_ns;
		if (!x->last_close) { /* the first read: what was there before is not news */
			x->last_close = now_ns;
			x->slot_req = x->slot_err = 0;
			memset(x->slot_bkt, 0, sizeof(x->slot_bkt));
			continue;
		}
		/*
		 * Each service's slots follow its own exports: a slot closes on the
		 * tick that sees fresh spans half a slot or more after the last
		 * close, so a batch is tested on arrival and one service's late post
		 * does not hold another's evidence back a slot.
		 */
		int64_t since = now_ns - x->last_close;
		bool gone = (x->errors.active || x->latency.t.active) && now_ns - x->last_growth >= 10 * slot;
		if (!gone && !(grew && (since >= slot / 2 || since < 0)))
			continue;
		x->last_close = now_ns;
		bool active, lat_active;
		if (gone) { /* no request for 10 slots: there is no error ratio or latency to speak of */
			struct redfast_test keep = x->errors;
			memset(&x->errors, 0, sizeof(x->errors));
			x->errors.base_k = keep.base_k;
			x->errors.base_n = keep.base_n;
			x->errors.slots = keep.slots;
			uint32_t lat_slots = x->latency.t.slots;
			memset(&x->latency.t, 0, sizeof(x->latency.t));
			x->latency.t.slots = lat_slots; /* the learnt histogram stays */
			active = lat_active = false;
		} else {
			active = redfast_test_update(&x->errors, &w->cfg, x->slot_req, x->slot_err);
			lat_active = redfast_latency_update(&x->latency, &w->cfg, x->slot_bkt);
		}
		x->slot_req = x->slot_err = 0;
		memset(x->slot_bkt, 0, sizeof(x->slot_bkt));
		if (active || x->emitted) {
			emit(x, active, now_ns, &w->cfg, sink);
			x->emitted = active;
		}
		if (lat_active || x->lat_emitted) {
			emit_latency(x, lat_active, now_ns, &w->cfg, sink);
			x->lat_emitted = lat_active;
		}
	}
	unsigned learning = 0;
	for (size_t i = 0; i < w->n; i++)
		learning += w->v[i].errors.slots <= w->cfg.warmup_slots;
	atomic_store(&w->known, (unsigned)w->n);
	atomic_store(&w->learning, learning);
}

void redfast_status(struct redfast *w, bool *enabled, unsigned *services, unsigned *learning)
{
	*enabled = w && atomic_load(&w->enabled);
	*services = w ? atomic_load(&w->known) : 0;
	*learning = w ? atomic_load(&w->learning) : 0;
}
