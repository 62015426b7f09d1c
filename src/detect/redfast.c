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
		c->slot_ns = LIVE_FINE_NS;
	if (c->blip_ns <= 0)
		c->blip_ns = 2 * OODA_NS_PER_SEC;
	if (!c->hold_slots) /* the blip's slots, one for its phase and one for the requests in flight, then one more */
		c->hold_slots = (uint32_t)((c->blip_ns + c->slot_ns - 1) / c->slot_ns) + 3;
	if (c->hold_slots < 2)
		c->hold_slots = 2;
	if (c->hold_slots > REDFAST_MAX_HOLD)
		c->hold_slots = REDFAST_MAX_HOLD;
	if (!c->warmup_slots)
		c->warmup_slots = (uint32_t)((30 * OODA_NS_PER_SEC + c->slot_ns - 1) / c->slot_ns);
	if (!(c->half_life_slots > 0))
		c->half_life_slots = (double)(300 * OODA_NS_PER_SEC) / (double)c->slot_ns;
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

/* Whether the run's evidence fires: strong, held past the blip length, and strong without its strongest blip. */
static bool held(const struct redfast_test *t, const struct redfast_config *c)
{
	return t->s >= c->threshold && t->run >= c->hold_slots && t->run_sum - t->blip_max >= c->outside;
}

static void fire(struct redfast_test *t)
{
	t->active = true;
	t->c = 0;
	t->pending = 0;
}

bool redfast_test_idle(struct redfast_test *t, const struct redfast_config *cfg)
{
	struct redfast_config c = *cfg;
	redfast_config_defaults(&c);
	t->learnt = -1;
	if (t->active || !(t->s > 0))
		return t->active;
	/* a zero in the run: no stretch ending here holds more than one ending a slot before */
	t->recent[t->run % REDFAST_MAX_HOLD] = 0;
	t->run++;
	if (held(t, &c))
		fire(t);
	return t->active;
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
		t->run_n += n;
		t->run_k += k;
		double suffix = 0;
		for (uint32_t j = 0; j < w && j < t->run; j++) {
			suffix += t->recent[(t->run - 1 - j) % REDFAST_MAX_HOLD];
			if (suffix > t->blip_max)
				t->blip_max = suffix;
		}
	} else {
		t->run = 0;
		t->run_sum = t->blip_max = 0;
		t->run_n = t->run_k = 0;
	}
	if (t->active) {
		t->c = fmax(0, t->c - l);
		if (t->c >= c.clear) {
			t->active = false;
			t->s = t->c = 0;
			t->run = 0;
			t->run_sum = t->blip_max = 0;
			t->run_n = t->run_k = 0;
			t->pending = 0; /* the slots waiting to be learnt are the fault's */
			return false;
		}
	} else if (held(t, &c)) {
		fire(t);
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

/* Tested fine slots remembered per service, to see spans that came after their slot was tested. */
#define SEEN_SLOTS 32
/* A service with an active signal and no request for this long has no error ratio or latency to speak of. */
#define GONE_NS (10 * OODA_NS_PER_SEC)
#define NO_SLOT INT64_MIN
/* Callees of a service remembered for the shared-slowdown test; the window they are read over. */
#define MAX_CALLEES 16
#define GRAPH_WINDOW_NS (60 * OODA_NS_PER_SEC)
/* The shared slowdowns remembered per service for redfast_shared_overlaps: the last four. */
#define SHARED_KEPT 4

/* A shared slowdown that named a service: its episode (0: none), from (span time) to (the clock; INT64_MAX: on). */
struct shared_mark {
	uint32_t episode;
	int64_t from, to;
};

struct seen {
	int64_t k; /* NO_SLOT when none */
	double req, err, b[REDFAST_NB];
	double own_n, own[REDFAST_NB];
};

struct watched {
	char service[LIVE_NAME_MAX + 1];
	int64_t next_k;             /* the first fine slot not yet tested; NO_SLOT before the first read */
	struct seen seen[SEEN_SLOTS]; /* by k % SEEN_SLOTS: each tested slot as it was tested */
	double late_req, late_err, late_b[REDFAST_NB]; /* came for slots already tested: counted with the next */
	double late_own_n, late_own[REDFAST_NB];
	int64_t head_k;             /* the newest slot at the last read, and its requests then */
	double head_req;
	int64_t last_growth;        /* when its counters last grew (the clock) */
	struct redfast_test errors;
	struct redfast_latency latency;
	struct redfast_latency own; /* the same test on its own time (outside its calls): never sent */
	int64_t own_k;              /* the last slot tested with own time in it; NO_SLOT before */
	bool emitted, lat_emitted;  /* the state last sent (errors, latency) */
	bool lat_tested;            /* a slot of its latency was tested this tick */
	bool lat_held;              /* its latency fired during a shared slowdown: held back */
	int64_t lat_wait;           /* since when (the clock) its firing waits for a callee rising with it; 0: not */
	uint16_t callee[MAX_CALLEES]; /* indices in redfast.v of the services it called (the last minute) */
	uint8_t n_callees;
	struct shared_mark marks[SHARED_KEPT]; /* the shared slowdowns that named it, by n_marks % SHARED_KEPT */
	uint32_t n_marks;
};

struct redfast {
	struct live_signals *live;
	struct redfast_config cfg;
	struct watched *v;
	size_t n;
	struct live_fine read[LIVE_FINE_SLOTS];
	int64_t last_names;
	bool graph_known;     /* a traced call between two watched services in the last minute */
	bool shared;          /* a shared slowdown is on */
	int64_t shared_quiet; /* since when (the clock) no longer together, while shared; 0 while together */
	uint32_t episode;     /* shared slowdowns so far (the current one's number while shared) */
	atomic_bool enabled;
	atomic_uint known, learning; /* services watched, and those still in warm-up (end of the last tick) */
};

int redfast_create(struct live_signals *live, const struct redfast_config *cfg, struct redfast **out)
{
	struct redfast *w = xcalloc(1, sizeof(*w));
	w->live = live;
	if (cfg)
		w->cfg = *cfg;
	w->cfg.slot_ns = LIVE_FINE_NS; /* the slots it reads */
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

/* The watched service named so, or NULL. */
static struct watched *known(struct redfast *w, const char *service)
{
	for (size_t i = 0; i < w->n; i++)
		if (!strcmp(w->v[i].service, service))
			return &w->v[i];
	return NULL;
}

/* The watched service named so, added when new (NULL when max_services are watched). */
static struct watched *find(struct redfast *w, const char *service)
{
	struct watched *x = known(w, service);
	if (x || w->n == w->cfg.max_services)
		return x;
	x = &w->v[w->n++];
	memset(x, 0, sizeof(*x));
	snprintf(x->service, sizeof(x->service), "%s", service);
	x->next_k = NO_SLOT;
	x->head_k = NO_SLOT;
	x->own_k = NO_SLOT;
	for (int i = 0; i < SEEN_SLOTS; i++)
		x->seen[i].k = NO_SLOT;
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

/* Learns who calls whom among the watched services over the last minute (live_graph_json's service edges). */
static void refresh_graph(struct redfast *w, int64_t now_ns)
{
	struct buf out = BUF_INIT, err = BUF_INIT;
	for (size_t i = 0; i < w->n; i++)
		w->v[i].n_callees = 0;
	w->graph_known = false;
	json_t *g = NULL;
	if (!live_graph_json(w->live, now_ns, GRAPH_WINDOW_NS, &out, &err))
		g = json_loadb(out.data, out.len, 0, NULL);
	json_t *edges = json_object_get(g, "edges"), *e;
	size_t i;
	json_array_foreach(edges, i, e) {
		const char *type = json_string_value(json_object_get(e, "type"));
		const char *src = json_string_value(json_object_get(e, "source"));
		const char *dst = json_string_value(json_object_get(e, "target"));
		struct watched *from = src ? known(w, src) : NULL, *to = dst ? known(w, dst) : NULL;
		if (!type || strcmp(type, "service") || !from || !to || from == to || from->n_callees == MAX_CALLEES)
			continue;
		from->callee[from->n_callees++] = (uint16_t)(to - w->v);
		w->graph_known = true;
	}
	json_decref(g);
	buf_release(&out);
	buf_release(&err);
}

static void emit_signal(struct watched *x, const char *metric, json_t *ev, const char *summary, bool active,
			int64_t at_ns, uint32_t run, const struct redfast_config *c, const struct alert_sink *sink)
{
	char name[LIVE_NAME_MAX + 32];
	snprintf(name, sizeof(name), "red:%s/%s", x->service, metric);
	json_t *labels = json_pack("{s:s}", "metric", metric);
	json_t *ann = json_pack("{s:s}", "summary", summary);
	/* the excess began with the run of slots the evidence grew over (span time; never after the firing) */
	int64_t since = active ? (x->next_k - (int64_t)run) * c->slot_ns : 0;
	if (since > at_ns)
		since = at_ns;
	struct alert_signal s = { .source = "anomaly", .name = name, .service = x->service,
				  .severity = SEVERITY_TICKET, .labels = labels, .annotations = ann, .evidence = ev,
				  .active = active, .at_ns = at_ns, .since_ns = since };
	alert_emit(sink, &s);
	json_decref(ev);
	json_decref(labels);
	json_decref(ann);
}

static void window_name(const struct redfast_config *c, char *out, size_t n)
{
	snprintf(out, n, "%lldms slots", (long long)(c->slot_ns / OODA_NS_PER_MS));
}

static void emit(struct watched *x, bool active, int64_t at_ns, const struct redfast_config *c,
		 const struct alert_sink *sink)
{
	const struct redfast_test *t = &x->errors;
	char window[32];
	window_name(c, window, sizeof(window));
	json_t *ev = json_pack("{s:s, s:f, s:f, s:f, s:f, s:f, s:f, s:i, s:f, s:f, s:f, s:s, s:s}", "metric",
			       "error_ratio", "value", t->ratio, "baseline", redfast_test_baseline(t), "tolerance", t->p0,
			       "score", 1 - exp(-t->s), "evidence_nats", t->s, "threshold_nats", c->threshold,
			       "slots_held", (json_int_t)t->run, "held_s", (double)t->run * (double)c->slot_ns / 1e9,
			       "requests", t->n, "errors", t->k, "window", window, "detector", "red-cusum");
	char summary[400];
	snprintf(summary, sizeof(summary),
		 "%s error ratio %.3g is above its tolerance %.3g (baseline %.3g) for %.2f s, evidence %.1f nats",
		 x->service, t->ratio, t->p0, redfast_test_baseline(t), (double)t->run * (double)c->slot_ns / 1e9,
		 t->s);
	emit_signal(x, "error_ratio", ev, summary, active, at_ns, t->run, c, sink);
}

static void emit_latency(struct watched *x, bool active, int64_t at_ns, const struct redfast_config *c,
			 json_t *others, const struct alert_sink *sink)
{
	const struct redfast_latency *l = &x->latency;
	const struct redfast_test *t = &l->t;
	char window[32];
	window_name(c, window, sizeof(window));
	json_t *ev = json_pack("{s:s, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:i, s:f, s:f, s:f, s:s, s:s}",
			       "metric", "latency", "value", t->ratio, "baseline", redfast_test_baseline(t),
			       "tolerance", t->p0, "slow_ms", l->slow_s * 1e3, "p99_ms", l->p99_s * 1e3, "score",
			       1 - exp(-t->s), "evidence_nats", t->s, "threshold_nats", c->threshold, "slots_held",
			       (json_int_t)t->run, "held_s", (double)t->run * (double)c->slot_ns / 1e9, "requests",
			       t->n, "slow", t->k, "window", window, "detector", "red-cusum");
	if (others)
		json_object_set_new(ev, "others", others);
	char summary[400];
	snprintf(summary, sizeof(summary),
		 "%s: %.3g of requests slower than %.3g ms (its usual p99 %.3g ms), above the tolerated %.3g for "
		 "%.2f s, evidence %.1f nats",
		 x->service, t->ratio, l->slow_s * 1e3, l->p99_s * 1e3, t->p0,
		 (double)t->run * (double)c->slot_ns / 1e9, t->s);
	emit_signal(x, "latency", ev, summary, active, at_ns, t->run, c, sink);
}

void redfast_set_enabled(struct redfast *w, bool on)
{
	if (w)
		atomic_store(&w->enabled, on);
}

/* Forgets a test's evidence and state; what it learnt (baseline, slots seen) stays. */
static void forget_test(struct redfast_test *t)
{
	struct redfast_test keep = *t;
	memset(t, 0, sizeof(*t));
	t->base_k = keep.base_k;
	t->base_n = keep.base_n;
	t->slots = keep.slots;
}

/* Forgets a silent service's evidence (no request for GONE_NS while active); its baselines stay. */
static void forget_evidence(struct watched *x)
{
	forget_test(&x->errors);
	forget_test(&x->latency.t); /* the learnt histogram stays */
	forget_test(&x->own.t);
}

/* Keeps slot s as it was read, to see what comes for it later. */
static void remember(struct watched *x, const struct live_fine *s)
{
	struct seen *e = &x->seen[s->k % SEEN_SLOTS];
	e->k = s->k;
	e->req = s->req;
	e->err = s->err;
	memcpy(e->b, s->b, sizeof(e->b));
	e->own_n = s->own_n;
	memcpy(e->own, s->own, sizeof(e->own));
}

/*
 * Reads x's fine slots and tests those that closed since the last read
 * (from x->next_k to the one before the newest): spans that came for a slot
 * already tested are added to the next slot tested. Emits on every
 * change of state, and once more at the end while active. Returns whether
 * the counters grew.
 */
static bool test_service(struct redfast *w, struct watched *x, int64_t now_ns, const struct alert_sink *sink)
{
	size_t n = 0;
	int64_t head = NO_SLOT;
	int64_t from = x->next_k == NO_SLOT ? INT64_MIN / 2 : x->next_k - SEEN_SLOTS;
	if (live_red_fine(w->live, x->service, from, LIVE_FINE_SLOTS, w->read, &n, &head) || !n)
		return false;
	const struct live_fine *f = w->read;
	bool grew = head != x->head_k || f[n - 1].req > x->head_req;
	x->head_k = head;
	x->head_req = f[n - 1].req;
	if (x->next_k == NO_SLOT) { /* the first read: what was there before is not news */
		for (size_t i = 0; i + 1 < n; i++)
			remember(x, &f[i]);
		x->next_k = head;
		return true;
	}
	bool tested = false, sent = false;
	for (size_t i = 0; i + 1 < n; i++) {
		const struct live_fine *s = &f[i];
		struct seen *e = &x->seen[s->k % SEEN_SLOTS];
		if (s->k < x->next_k) { /* tested before: what came since counts with the next slot tested */
			if (e->k != s->k)
				continue;
			if (s->req > e->req) {
				x->late_req += s->req - e->req;
				grew = true;
			}
			x->late_err += fmax(0, s->err - e->err);
			for (int b = 0; b < REDFAST_NB; b++) {
				x->late_b[b] += fmax(0, s->b[b] - e->b[b]);
				x->late_own[b] += fmax(0, s->own[b] - e->own[b]);
			}
			x->late_own_n += fmax(0, s->own_n - e->own_n);
		} else {
			double req = s->req + x->late_req, err = s->err + x->late_err, bkt[REDFAST_NB];
			double own_n = s->own_n + x->late_own_n, own[REDFAST_NB];
			for (int b = 0; b < REDFAST_NB; b++) {
				bkt[b] = s->b[b] + x->late_b[b];
				own[b] = s->own[b] + x->late_own[b];
			}
			x->late_req = x->late_err = x->late_own_n = 0;
			memset(x->late_b, 0, sizeof(x->late_b));
			memset(x->late_own, 0, sizeof(x->late_own));
			x->next_k = s->k + 1;
			bool active;
			if (req > 0) {
				active = redfast_test_update(&x->errors, &w->cfg, req, err);
				if (own_n > 0) {
					redfast_latency_update(&x->own, &w->cfg, own);
					x->own_k = s->k;
				} else {
					redfast_test_idle(&x->own.t, &w->cfg);
				}
				redfast_latency_update(&x->latency, &w->cfg, bkt);
			} else {
				redfast_test_idle(&x->own.t, &w->cfg);
				active = redfast_test_idle(&x->errors, &w->cfg);
				redfast_test_idle(&x->latency.t, &w->cfg);
			}
			tested = x->lat_tested = true;
			if (active != x->emitted) {
				emit(x, active, now_ns, &w->cfg, sink);
				x->emitted = active;
				sent = true;
			}
		}
		remember(x, s);
	}
	if (tested && x->emitted && !sent)
		emit(x, true, now_ns, &w->cfg, sink);
	return grew;
}

/* ---- a slowdown shared by the whole system (redfast.h) ---- */

/* The share of slow requests over the latency test's run (its last slot's without one). */
static double slow_share(const struct watched *x)
{
	const struct redfast_test *t = &x->latency.t;
	return t->run_n > 0 ? t->run_k / t->run_n : t->ratio;
}

/*
 * Whether x's latency is rising: active, or half the evidence that fires
 * (a lone slow request gives under 2 nats) over a run whose slow share is
 * above its tolerance.
 */
static bool rising(const struct redfast *w, const struct redfast_test *t)
{
	return t->active || (t->s >= w->cfg.threshold / 2 && t->run_n > 0 && t->run_k / t->run_n > t->p0);
}

static bool slowing(const struct redfast *w, const struct watched *x)
{
	return rising(w, &x->latency.t);
}

/*
 * Whether x's own time (outside its calls) is known: learnt past the
 * warm-up, and in a slot of the last hold.
 */
static bool own_known(const struct redfast *w, const struct watched *x)
{
	return x->own.t.slots > w->cfg.warmup_slots && x->own_k != NO_SLOT &&
	       x->next_k - x->own_k <= (int64_t)w->cfg.hold_slots;
}

/*
 * Whether x slows on its own: slowing, and where its own time is known, that
 * rising too (a service waiting on a slow callee has its own time as ever);
 * where not (a leaf, calls not traced from its server span), no callee
 * slowing with at least half its share.
 */
static bool slowing_alone(const struct redfast *w, const struct watched *x)
{
	if (!slowing(w, x))
		return false;
	if (own_known(w, x))
		return rising(w, &x->own.t);
	double share = slow_share(x);
	for (unsigned i = 0; i < x->n_callees; i++) {
		const struct watched *d = &w->v[x->callee[i]];
		if (slowing(w, d) && slow_share(d) >= share / 2)
			return false;
	}
	return true;
}

/*
 * Whether a callee of x is rising with it and has not decided yet: its
 * latency evidence gathering (S > 0) over a run whose slow share is above its
 * tolerance and at least half x's, its test not active.
 */
static bool callee_deciding(const struct redfast *w, const struct watched *x)
{
	double share = slow_share(x);
	for (unsigned i = 0; i < x->n_callees; i++) {
		const struct watched *d = &w->v[x->callee[i]];
		const struct redfast_test *t = &d->latency.t;
		if (!t->active && t->s > 0 && t->run_n > 0 && t->run_k / t->run_n > t->p0 && slow_share(d) >= share / 2)
			return true;
	}
	return false;
}

/*
 * For a latency signal's evidence: every other service whose latency
 * evidence is gathering (S > 0) or active, with its slow share, evidence,
 * and whether it is slowing and slowing on its own (the shared test's view
 * at that tick), so a responder sees what else moved with it.
 */
static json_t *others_rising(const struct redfast *w, const struct watched *x)
{
	json_t *out = json_array();
	for (size_t i = 0; i < w->n; i++) {
		const struct watched *d = &w->v[i];
		const struct redfast_test *t = &d->latency.t;
		if (d == x || (t->s <= 0 && !t->active))
			continue;
		json_array_append_new(out, json_pack("{s:s, s:f, s:f, s:i, s:b, s:b, s:b, s:o}", "service", d->service,
						     "share", slow_share(d), "evidence_nats", t->s, "slots_held",
						     (json_int_t)t->run, "active", t->active, "slowing", slowing(w, d),
						     "own", slowing_alone(w, d), "own_time_rising",
						     own_known(w, d) ? json_boolean(rising(w, &d->own.t)) : json_null()));
	}
	return out;
}

/*
 * Keeps x's part in the current shared slowdown: named (from since, while it
 * lasts), or, when the episode is over (!named and its mark still open),
 * ended at the clock's at_ns.
 */
static void mark_shared(struct redfast *w, struct watched *x, bool named, int64_t since, int64_t at_ns)
{
	struct shared_mark *m = x->n_marks ? &x->marks[(x->n_marks - 1) % SHARED_KEPT] : NULL;
	bool current = m && m->episode == w->episode;
	if (named && !current) {
		m = &x->marks[x->n_marks++ % SHARED_KEPT];
		*m = (struct shared_mark){ .episode = w->episode, .from = since, .to = INT64_MAX };
	} else if (named) {
		m->from = since < m->from ? since : m->from;
	} else if (current && !w->shared && m->to == INT64_MAX) {
		m->to = at_ns;
	}
}

bool redfast_shared_overlaps(const struct redfast *w, const char *service, int64_t from_ns, int64_t to_ns)
{
	for (size_t i = 0; w && i < w->n; i++) {
		const struct watched *x = &w->v[i];
		if (strcmp(x->service, service))
			continue;
		for (uint32_t j = 0; j < SHARED_KEPT && j < x->n_marks; j++) {
			const struct shared_mark *m = &x->marks[j];
			if (m->episode && m->from < to_ns && m->to >= from_ns)
				return true;
		}
		return false;
	}
	return false;
}

static void emit_shared(struct redfast *w, bool active, int64_t at_ns, const struct alert_sink *sink)
{
	json_t *services = json_array(), *own = json_array(), *shares = json_object();
	int64_t since = at_ns;
	for (size_t i = 0; i < w->n && active; i++) {
		const struct watched *x = &w->v[i];
		if (!slowing(w, x) && !x->lat_held)
			continue;
		json_array_append_new(services, json_string(x->service));
		if (slowing_alone(w, x))
			json_array_append_new(own, json_string(x->service));
		json_object_set_new(shares, x->service, json_real(slow_share(x)));
		int64_t began = (x->next_k - (int64_t)x->latency.t.run) * w->cfg.slot_ns;
		if (x->latency.t.run && began < since)
			since = began;
	}
	for (size_t i = 0; i < w->n; i++) /* what it names, from when (redfast_shared_overlaps) */
		mark_shared(w, &w->v[i], active && json_array_size(services) && (slowing(w, &w->v[i]) || w->v[i].lat_held),
			    since, at_ns);
	char summary[400];
	snprintf(summary, sizeof(summary),
		 "%zu services slowed together, %zu of them on their own (no slow callee explains it): a slowdown "
		 "shared by the system (the machine, the network or something under every service), not one "
		 "service's; their latency alerts are held back while it lasts",
		 json_array_size(services), json_array_size(own));
	json_t *ev = json_pack("{s:s, s:O, s:O, s:O, s:i, s:s}", "metric", "slowdown", "services", services, "own",
			       own, "shares", shares, "value", (json_int_t)json_array_size(own), "detector",
			       "red-cusum");
	json_t *labels = json_pack("{s:s}", "metric", "slowdown");
	json_t *ann = json_pack("{s:s}", "summary", summary);
	struct alert_signal s = { .source = "anomaly", .name = REDFAST_SHARED_NAME, .severity = SEVERITY_TICKET,
				  .labels = labels, .annotations = ann, .evidence = ev, .active = active,
				  .at_ns = at_ns, .since_ns = active ? since : 0 };
	alert_emit(sink, &s);
	json_decref(ev);
	json_decref(labels);
	json_decref(ann);
	json_decref(services);
	json_decref(own);
	json_decref(shares);
}

/*
 * After every service was tested: whether, as a latency test fires, two or
 * more slow on their own at once (with the call graph known; an episode
 * starts only with a firing, never in the tail of alerts already sent, as
 * a slow database's callers clearing after it), latency signals held back
 * while that lasts, and each service's latency signal sent as its state
 * (held or not) says.
 */
static void shared_tick(struct redfast *w, int64_t now_ns, const struct alert_sink *sink)
{
	unsigned alone = 0, slow = 0;
	bool firing = false, tested = false;
	for (size_t i = 0; i < w->n; i++) {
		tested |= w->v[i].lat_tested;
		alone += slowing_alone(w, &w->v[i]);
		slow += slowing(w, &w->v[i]);
		firing |= w->v[i].latency.t.active && !w->v[i].lat_emitted && !w->v[i].lat_held; /* firing now */
	}
	/* two or more on their own, and no fewer than those slowing with a callee: most of what slows, slows alone */
	bool together = w->graph_known && alone >= 2 && 2 * alone >= slow;
	if (!w->shared && together && firing) {
		w->shared = true;
		w->shared_quiet = 0;
		w->episode++;
		emit_shared(w, true, now_ns, sink);
	} else if (w->shared && together) {
		w->shared_quiet = 0;
		if (tested) /* while it lasts, as a service's signal is sent on every tick that tested a slot */
			emit_shared(w, true, now_ns, sink);
	} else if (w->shared) {
		if (!w->shared_quiet)
			w->shared_quiet = now_ns;
		if (now_ns - w->shared_quiet >= (int64_t)w->cfg.hold_slots * w->cfg.slot_ns) {
			/* over: what the held services gathered was the system's; their own evidence starts now */
			w->shared = false;
			for (size_t i = 0; i < w->n; i++) {
				struct watched *x = &w->v[i];
				if (!x->lat_held && (x->lat_emitted || !slowing(w, x)))
					continue;
				forget_test(&x->latency.t);
				x->lat_held = false;
			}
			emit_shared(w, false, now_ns, sink);
		}
	}
	for (size_t i = 0; i < w->n; i++) {
		struct watched *x = &w->v[i];
		bool active = x->latency.t.active;
		if (!active)
			x->lat_held = false;
		else if (w->shared && !x->lat_emitted)
			x->lat_held = true;
		bool want = active && !x->lat_held;
		if (want && !x->lat_emitted && callee_deciding(w, x)) {
			/* a callee slowing with it decides first (its own fault, or one shared), for at most a hold */
			if (!x->lat_wait)
				x->lat_wait = now_ns;
			want = now_ns - x->lat_wait >= (int64_t)w->cfg.hold_slots * w->cfg.slot_ns;
		}
		if (!active || want || x->lat_held)
			x->lat_wait = 0;
		if (want != x->lat_emitted || (want && x->lat_tested))
			emit_latency(x, want, now_ns, &w->cfg, want ? others_rising(w, x) : NULL, sink);
		x->lat_emitted = want;
		x->lat_tested = false;
	}
}

void redfast_tick(void *ctx, int64_t now_ns, const struct alert_sink *sink)
{
	struct redfast *w = ctx;
	if (!atomic_load(&w->enabled)) {
		for (size_t i = 0; i < w->n; i++) {
			if (w->v[i].emitted)
				emit(&w->v[i], false, now_ns, &w->cfg, sink);
			if (w->v[i].lat_emitted)
				emit_latency(&w->v[i], false, now_ns, &w->cfg, NULL, sink);
		}
		w->n = 0;
		w->last_names = 0;
		if (w->shared)
			emit_shared(w, false, now_ns, sink);
		w->shared = w->graph_known = false;
		atomic_store(&w->known, 0);
		atomic_store(&w->learning, 0);
		return;
	}
	if (!w->last_names || now_ns - w->last_names >= 5 * OODA_NS_PER_SEC || now_ns < w->last_names) {
		refresh_names(w, now_ns);
		refresh_graph(w, now_ns);
		w->last_names = now_ns;
	}
	for (size_t i = 0; i < w->n; i++) {
		struct watched *x = &w->v[i];
		if (test_service(w, x, now_ns, sink) || !x->last_growth)
			x->last_growth = now_ns;
		if ((x->errors.active || x->latency.t.active) && now_ns - x->last_growth >= GONE_NS) {
			forget_evidence(x); /* no request for 10 s: no error ratio or latency to speak of */
			if (x->emitted)
				emit(x, false, now_ns, &w->cfg, sink);
			if (x->lat_emitted)
				emit_latency(x, false, now_ns, &w->cfg, NULL, sink);
			x->emitted = x->lat_emitted = x->lat_held = false;
		}
	}
	shared_tick(w, now_ns, sink);
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
