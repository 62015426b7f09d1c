/*
 * Live signals at ingest: RED series per (service, operation), the service
 * dependency graph and per-service ingest rates, kept in bounded rings of
 * time slots and fed by live_publish() from the writer thread after each
 * durable commit. Readers (HTTP API, detection engine) take the same mutex;
 * the publish path does one hash lookup per span for its series and two for
 * parent/child matching. See live.h for how the counters merge; the read
 * side is in live_view.c.
 */
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <xxhash.h>

#include "core/error.h"
#include "core/time.h"
#include "model/live_impl.h"

#define MAX_MATCHES 16 /* children of one parent resolved per lookup */

/* Finite bucket bounds in milliseconds: roughly x1.6 steps, 0.1 ms to 60 s. */
#define BOUNDS_MS(X)                                                    \
	X(0.1) X(0.25) X(0.5) X(1) X(1.5) X(2.5) X(4) X(6) X(10) X(15)  \
	X(25) X(40) X(60) X(100) X(150) X(250) X(400) X(600) X(1000)    \
	X(1500) X(2500) X(4000) X(6000) X(10000) X(15000) X(30000)      \
	X(60000)
#define AS_NS(ms) (int64_t)((ms) * 1e6),
#define AS_S(ms) ((ms) / 1e3),
static const int64_t bounds_ns[] = { BOUNDS_MS(AS_NS) };
static const double bounds_s[] = { BOUNDS_MS(AS_S) };
_Static_assert(sizeof(bounds_ns) / sizeof(bounds_ns[0]) == LIVE_N_BOUNDS,
	       "LIVE_N_BOUNDS matches the bound list");

/* ---- small helpers ---- */

static int64_t default_clock(void *ctx)
{
	(void)ctx;
	return ooda_now_ns();
}

static uint32_t pow2_at_least(uint64_t n)
{
	uint32_t p = 16;
	while (p < n)
		p <<= 1;
	return p;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && a < 0) ? q - 1 : q;
}

/* Length of s capped at LIVE_NAME_MAX - 1, not cutting a UTF-8 sequence. */
static size_t name_len(const char *s, size_t len)
{
	if (len < LIVE_NAME_MAX)
		return len;
	len = LIVE_NAME_MAX - 1;
	while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
		len--;
	return len;
}

static char *name_dup(const char *s, size_t len)
{
	char *p = xmalloc(len + 1);
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

int live_bucket_of(int64_t dur_ns)
{
	int lo = 0, hi = LIVE_N_BOUNDS; /* answer in [lo, hi] */
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (dur_ns <= bounds_ns[mid])
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

const double *live_bounds_seconds(size_t *n)
{
	if (n)
		*n = LIVE_N_BOUNDS;
	return bounds_s;
}

/* ---- series ---- */

static int series_init(struct live_signals *live, struct series *s, const char *name,
		       size_t len, uint64_t hash)
{
	memset(s, 0, sizeof(*s));
	s->name = name_dup(name, len);
	s->ring = xmalloc(sizeof(struct slot) * live->cfg.n_slots);
	for (uint32_t i = 0; i < live->cfg.n_slots; i++)
		s->ring[i].k = -1;
	s->hash = hash;
	s->first_k = INT64_MAX;
	return 0;
}

static void series_release(struct series *s)
{
	free(s->name);
	free(s->ring);
}

struct slot *live_series_slot(struct live_signals *live, struct series *s, int64_t k)
{
	if (k < 0 || (live->head != INT64_MIN && k <= live->head - (int64_t)live->cfg.n_slots))
		return NULL;
	struct slot *sl = &s->ring[live_ring_pos(live, k)];
	if (sl->k != k) {
		if (sl->k > k)
			return NULL;
		if (sl->k >= 0)
			live_totals_add_slot(&s->gone, sl);
		memset(sl, 0, sizeof(*sl));
		sl->k = k;
	}
	if (k < s->first_k)
		s->first_k = k;
	return sl;
}

/* Adds one sample to slot k of s; false if k is older than the ring. */
static bool series_record(struct live_signals *live, struct series *s, int64_t k,
			  int64_t dur_ns, bool err)
{
	struct slot *sl = live_series_slot(live, s, k);
	if (!sl)
		return false;
	sl->req++;
	if (err)
		sl->err++;
	sl->sum_s += (double)dur_ns / 1e9;
	sl->b[live_bucket_of(dur_ns)]++;
	return true;
}

void live_fine_add(struct service *svc, int64_t end_ns, bool by_arrival, int64_t now_ns, uint32_t req, uint32_t err,
		   const uint32_t *b, int one_b, int own_b)
{
	int64_t now_k = floor_div(now_ns, LIVE_FINE_NS);
	int64_t k = by_arrival ? now_k : floor_div(end_ns, LIVE_FINE_NS);
	if (k > floor_div(ooda_ns_add_sat(now_ns, LIVE_FINE_FUTURE_NS), LIVE_FINE_NS))
		k = now_k; /* a clock ahead of ours: counted now */
	if (svc->fine_head != INT64_MIN) {
		if (by_arrival && k < svc->fine_head)
			k = svc->fine_head; /* merged: counted in the newest slot */
		else if (k < svc->fine_head - LIVE_FINE_LATE_NS / LIVE_FINE_NS)
			return; /* old news for the fine slots; the 10 s slots have it */
	}
	if (k < 0)
		return;
	if (!svc->fine) {
		svc->fine = xmalloc(sizeof(struct fine_slot) * LIVE_FINE_SLOTS);
		for (int i = 0; i < LIVE_FINE_SLOTS; i++)
			svc->fine[i].k = -1;
	}
	if (svc->fine_head == INT64_MIN || k > svc->fine_head)
		svc->fine_head = k;
	if (by_arrival && k == now_k && svc->fine_head == now_k)
		svc->fine_head = now_k + 1; /* nothing more comes for it by arrival: testable at once */
	struct fine_slot *f = &svc->fine[k % LIVE_FINE_SLOTS];
	if (f->k != k) {
		memset(f, 0, sizeof(*f));
		f->k = k;
	}
	f->req = live_add_sat(f->req, req);
	f->err = live_add_sat(f->err, err);
	if (b)
		for (int i = 0; i < NB; i++)
			f->b[i] = live_add_sat(f->b[i], b[i]);
	else
		f->b[one_b] = live_add_sat(f->b[one_b], req);
	if (own_b >= 0) {
		f->own_n = live_add_sat(f->own_n, req);
		f->own[own_b] = live_add_sat(f->own[own_b], req);
	}
}

/* Sums slots k_lo..k_hi of s into t (which the caller zeroed). */
void live_series_sum(const struct live_signals *live, const struct series *s,
		       int64_t k_lo, int64_t k_hi, struct totals *t)
{
	for (int64_t k = k_lo < 0 ? 0 : k_lo; k <= k_hi; k++) {
		const struct slot *sl = &s->ring[live_ring_pos(live, k)];
		if (sl->k == k)
			live_totals_add_slot(t, sl);
	}
}

double live_hist_quantile_s(const double *h, double q)
{
	double n = 0;
	for (int i = 0; i < NB; i++)
		n += h[i];
	if (!(n > 0))
		return NAN;
	double rank = q * n, cum = 0;
	for (int i = 0; i < NB; i++) {
		if (!(h[i] > 0))
			continue;
		if (cum + h[i] >= rank) {
			double lo = i == 0 ? 0 : bounds_s[i - 1];
			if (i == NB - 1)
				return lo; /* +Inf bucket: its lower bound */
			return lo + (rank - cum) / h[i] * (bounds_s[i] - lo);
		}
		cum += h[i];
	}
	return bounds_s[LIVE_N_BOUNDS - 1];
}

double live_hist_below(const double *h, double le)
{
	double below = 0, lo = 0;
	for (int i = 0; i < LIVE_N_BOUNDS; i++) {
		double hi = bounds_s[i];
		if (hi > le)
			return le > lo ? below + h[i] * (le - lo) / (hi - lo) : below;
		below += h[i];
		lo = hi;
	}
	return below; /* le past the last bound: nothing in +Inf is certain to be below */
}

/* q-quantile in ms by interpolation inside the bucket holding the rank. */
double live_quantile_ms(const struct totals *t, double q)
{
	double h[NB];
	for (int i = 0; i < NB; i++)
		h[i] = (double)t->b[i];
	return live_hist_quantile_s(h, q) * 1e3;
}

/* ---- services and operations ---- */

static void service_free(struct service *svc)
{
	if (!svc)
		return;
	for (uint32_t i = 0; i < svc->n_ops; i++)
		series_release(&svc->ops[i]);
	free(svc->ops);
	free(svc->op_index);
	free(svc->ingest);
	free(svc->fine);
	free(svc->name);
	free(svc);
}

static struct service *service_new(struct live_signals *live, const char *name,
				   size_t len, uint64_t hash)
{
	struct service *svc = xcalloc(1, sizeof(*svc));
	svc->name = name_dup(name, len);
	svc->ops = xcalloc(live->cfg.max_ops + 1, sizeof(struct series));
	svc->op_mask = pow2_at_least(2 * ((uint64_t)live->cfg.max_ops + 1)) - 1;
	svc->op_index = xcalloc(svc->op_mask + 1, sizeof(uint16_t));
	svc->ingest = xmalloc(sizeof(struct ingest_slot) * live->cfg.n_slots);
	for (uint32_t i = 0; i < live->cfg.n_slots; i++)
		svc->ingest[i].k = -1;
	svc->hash = hash;
	svc->other_op = NONE;
	svc->last_seen_ns = INT64_MIN;
	svc->fine_head = INT64_MIN;
	return svc;
}

/* The index of service name, or NONE if unknown. */
uint32_t live_service_find(const struct live_signals *live, const char *name, size_t len,
			     uint64_t hash)
{
	for (uint32_t i = (uint32_t)hash & live->svc_mask;; i = (i + 1) & live->svc_mask) {
		uint32_t v = live->svc_index[i];
		if (v == EMPTY)
			return NONE;
		const struct service *svc = live->services[v];
		if (svc->hash == hash && strlen(svc->name) == len && !memcmp(svc->name, name, len))
			return v;
	}
}

static uint32_t service_add(struct live_signals *live, const char *name, size_t len,
			    uint64_t hash)
{
	struct service *svc = service_new(live, name, len, hash);
	if (!svc)
		return NONE;
	uint32_t id = live->n_services++;
	live->services[id] = svc;
	uint32_t i = (uint32_t)hash & live->svc_mask;
	while (live->svc_index[i] != EMPTY)
		i = (i + 1) & live->svc_mask;
	live->svc_index[i] = id;
	return id;
}

/*
 * The service records of resource res go to: found, created, or "other" once
 * max_services is reached. NONE only when memory runs out.
 */
static uint32_t service_resolve(struct live_signals *live, const struct resource *res)
{
	const char *name = res && res->service ? res->service : "unknown";
	return live_service_by_name(live, name, strlen(name));
}

uint32_t live_service_by_name(struct live_signals *live, const char *name, size_t len)
{
	len = name_len(name, len);
	uint64_t hash = XXH3_64bits(name, len);
	uint32_t id = live_service_find(live, name, len, hash);
	if (id != NONE)
		return id;
	if (live->n_services < live->cfg.max_services)
		return service_add(live, name, len, hash);
	live->st.overflow_services++;
	if (live->other_service == NONE) {
		size_t olen = strlen(LIVE_OTHER);
		uint64_t ohash = XXH3_64bits(LIVE_OTHER, olen);
		uint32_t o = live_service_find(live, LIVE_OTHER, olen, ohash);
		live->other_service = o != NONE ? o : service_add(live, LIVE_OTHER, olen, ohash);
	}
	return live->other_service;
}

struct series *live_op_resolve(struct live_signals *live, struct service *svc, const char *name)
{
	if (!name)
		name = "unknown";
	size_t len = name_len(name, strlen(name));
	uint64_t hash = XXH3_64bits(name, len);
	uint32_t i = (uint32_t)hash & svc->op_mask;
	for (;; i = (i + 1) & svc->op_mask) {
		uint16_t v = svc->op_index[i];
		if (v == 0)
			break;
		struct series *s = &svc->ops[v - 1];
		if (s->hash == hash && strlen(s->name) == len && !memcmp(s->name, name, len))
			return s;
	}
	bool full = svc->n_ops - (svc->other_op != NONE) >= live->cfg.max_ops ||
		    live->n_series >= live->cfg.max_series;
	if (!full) {
		struct series *s = &svc->ops[svc->n_ops];
		if (series_init(live, s, name, len, hash) != 0)
			return NULL;
		svc->op_index[i] = (uint16_t)(++svc->n_ops);
		live->n_series++;
		return s;
	}
	live->st.overflow_ops++;
	if (svc->other_op == NONE) {
		size_t olen = strlen(LIVE_OTHER);
		uint64_t ohash = XXH3_64bits(LIVE_OTHER, olen);
		struct series *s = &svc->ops[svc->n_ops];
		if (series_init(live, s, LIVE_OTHER, olen, ohash) != 0)
			return NULL;
		/* Not indexed: lookups of "other" by name fall through to here. */
		svc->other_op = svc->n_ops++;
	}
	return &svc->ops[svc->other_op];
}

static void service_count_ingest(struct live_signals *live, uint32_t id, int sig, int64_t now)
{
	struct service *svc = live->services[id];
	int64_t k = floor_div(now, live->cfg.slot_ns);
	if (k < 0)
		return;
	struct ingest_slot *sl = &svc->ingest[live_ring_pos(live, k)];
	if (sl->k != k) {
		if (sl->k > k)
			return;
		memset(sl, 0, sizeof(*sl));
		sl->k = k;
	}
	sl->n[sig]++;
	svc->last_seen_ns = now;
}

/* ---- edges ---- */

static uint64_t edge_hash(uint32_t src, const char *name, size_t len)
{
	return XXH3_64bits_withSeed(name, len, (uint64_t)src + 1);
}

uint32_t live_edge_resolve(struct live_signals *live, uint32_t src, const char *name, size_t len,
			   uint8_t kind)
{
	len = name_len(name, len);
	uint64_t hash = edge_hash(src, name, len);
	uint32_t i = (uint32_t)hash & live->edge_mask;
	for (;; i = (i + 1) & live->edge_mask) {
		uint32_t v = live->edge_index[i];
		if (v == EMPTY)
			break;
		const struct edge *e = live->edges[v];
		if (e->s.hash == hash && e->src == src && strlen(e->s.name) == len &&
		    !memcmp(e->s.name, name, len))
			return v;
	}
	if (live->n_edges >= live->cfg.max_edges)
		return NONE;
	struct edge *e = xcalloc(1, sizeof(*e));
	if (series_init(live, &e->s, name, len, hash) != 0) {
		free(e);
		return NONE;
	}
	e->src = src;
	e->kind = kind;
	uint32_t id = live->n_edges++;
	live->edges[id] = e;
	live->edge_index[i] = id;
	return id;
}

static void edge_record(struct live_signals *live, uint32_t id, int64_t end_ns,
			int64_t dur_ns, bool err)
{
	if (id == NONE) {
		live->st.dropped_edges++;
		return;
	}
	int64_t k = floor_div(end_ns, live->cfg.slot_ns);
	if (!series_record(live, &live->edges[id]->s, k, dur_ns, err))
		live->st.dropped_old++;
	else
		live_outbox_note(live, OUT_EDGE, id, &live->edges[id]->s, k, dur_ns, err);
}

/* ---- span maps ---- */

static int spanmap_init(struct spanmap *m, uint32_t cap)
{
	m->cap = cap;
	m->head = m->count = 0;
	m->mask = pow2_at_least(2 * (uint64_t)cap) - 1;
	m->ring = xcalloc(cap, sizeof(struct ment));
	m->index = xmalloc(sizeof(struct mref) * ((size_t)m->mask + 1));
	for (uint32_t i = 0; i <= m->mask; i++)
		m->index[i] = (struct mref){ EMPTY, 0 };
	return 0;
}

static void spanmap_release(struct spanmap *m)
{
	free(m->ring);
	free(m->index);
}

static uint32_t key_hash(const uint8_t trace[16], const uint8_t id[8])
{
	uint8_t k[24];
	memcpy(k, trace, 16);
	memcpy(k + 16, id, 8);
	return (uint32_t)XXH3_64bits(k, sizeof(k));
}

static void spanmap_unindex(struct spanmap *m, uint32_t pos)
{
	uint32_t i = m->ring[pos].hash & m->mask;
	for (uint32_t n = 0; m->index[i].pos != pos; i = (i + 1) & m->mask) {
		if (m->index[i].pos == EMPTY || ++n > m->mask)
			return; /* not indexed: nothing to do */
	}
	/* Backward-shift deletion keeps every probe chain unbroken. */
	uint32_t j = i;
	for (;;) {
		j = (j + 1) & m->mask;
		struct mref v = m->index[j];
		if (v.pos == EMPTY)
			break;
		uint32_t home = v.hash & m->mask;
		bool movable = (i <= j) ? (home <= i || home > j) : (home <= i && home > j);
		if (movable) {
			m->index[i] = v;
			i = j;
		}
	}
	m->index[i].pos = EMPTY;
}

/* Drops a live entry from the index; its ring place stays until popped. */
static void spanmap_remove(struct spanmap *m, uint32_t pos)
{
	spanmap_unindex(m, pos);
	m->ring[pos].flags &= (uint8_t)~F_LIVE;
}

/* Up to max ring positions of live entries with this key. */
static int spanmap_find(const struct spanmap *m, const uint8_t trace[16], const uint8_t id[8],
			uint32_t *pos, int max)
{
	uint32_t h = key_hash(trace, id);
	int n = 0;
	for (uint32_t i = h & m->mask; n < max; i = (i + 1) & m->mask) {
		struct mref v = m->index[i];
		if (v.pos == EMPTY)
			break;
		if (v.hash != h)
			continue;
		const struct ment *e = &m->ring[v.pos];
		if ((e->flags & F_LIVE) && !memcmp(e->id, id, 8) && !memcmp(e->trace, trace, 16))
			pos[n++] = v.pos;
	}
	return n;
}

/* Appends e (the caller made room); returns its ring position. */
static uint32_t spanmap_push(struct spanmap *m, const struct ment *e)
{
	uint32_t pos = m->head;
	uint32_t h = key_hash(e->trace, e->id);
	m->ring[pos] = *e;
	m->ring[pos].hash = h;
	m->head = (m->head + 1) % m->cap;
	m->count++;
	uint32_t i = h & m->mask;
	while (m->index[i].pos != EMPTY)
		i = (i + 1) & m->mask;
	m->index[i] = (struct mref){ pos, h };
	return pos;
}

static struct ment *spanmap_oldest(struct spanmap *m)
{
	return m->count ? &m->ring[(m->head + m->cap - m->count) % m->cap] : NULL;
}

/* A recent span leaves the map: an unclaimed CLIENT span becomes an external edge. */
static void recent_pop(struct live_signals *live)
{
	struct spanmap *m = &live->recent;
	struct ment *e = spanmap_oldest(m);
	if (e->flags & F_LIVE) {
		spanmap_unindex(m, (uint32_t)(e - m->ring));
		if (!(e->flags & F_CLAIMED)) {
			if (e->flags & F_EXT)
				edge_record(live, e->edge, e->end_ns, e->dur_ns, e->flags & F_ERR);
			else if (e->flags & F_EXT_LOST)
				live->st.dropped_edges++;
		}
	}
	e->flags = 0;
	m->count--;
}

static void pending_pop(struct live_signals *live)
{
	struct spanmap *m = &live->pending;
	struct ment *e = spanmap_oldest(m);
	if (e->flags & F_LIVE) {
		spanmap_unindex(m, (uint32_t)(e - m->ring));
		if (!(e->flags & F_REMOTE)) /* another node's child: its parent was most likely elsewhere */
			live->st.unmatched_children++;
	}
	e->flags = 0;
	m->count--;
}

/* A call whose server span never came leaves the map (its parent was an INTERNAL span, or elsewhere). */
static void kids_pop(struct spanmap *m)
{
	struct ment *e = spanmap_oldest(m);
	if (e->flags & F_LIVE)
		spanmap_unindex(m, (uint32_t)(e - m->ring));
	e->flags = 0;
	m->count--;
}

static void expire_locked(struct live_signals *live, int64_t now)
{
	int64_t cutoff = now - live->cfg.match_window_ns;
	struct ment *e;
	while ((e = spanmap_oldest(&live->recent)) && e->seen_ns < cutoff)
		recent_pop(live);
	while ((e = spanmap_oldest(&live->pending)) && e->seen_ns < cutoff)
		pending_pop(live);
	while ((e = spanmap_oldest(&live->kids)) && e->seen_ns < cutoff)
		kids_pop(&live->kids);
}

/* ---- create / destroy ---- */

int live_create(const struct live_config *cfg, struct live_signals **out, struct buf *err)
{
	struct live_config c = cfg ? *cfg : (struct live_config){ 0 };
	if (!c.slot_ns)
		c.slot_ns = 10 * OODA_NS_PER_SEC;
	if (!c.n_slots)
		c.n_slots = 360;
	if (!c.max_services)
		c.max_services = 256;
	if (!c.max_ops)
		c.max_ops = 64;
	if (!c.max_series)
		c.max_series = 2048;
	if (!c.max_edges)
		c.max_edges = 1024;
	if (!c.span_map_size)
		c.span_map_size = 65536;
	if (!c.match_window_ns)
		c.match_window_ns = 30 * OODA_NS_PER_SEC;
	if (!c.max_future_ns)
		c.max_future_ns = 300 * OODA_NS_PER_SEC;
	if (!c.clock)
		c.clock = default_clock;

	const char *bad = NULL;
	if (c.slot_ns < OODA_NS_PER_MS)
		bad = "slot_ns below 1 ms";
	else if (c.n_slots > 100000)
		bad = "n_slots above 100000";
	else if (c.max_services > 65536)
		bad = "max_services above 65536";
	else if (c.max_ops > 4096)
		bad = "max_ops above 4096";
	else if (c.max_edges > (1u << 20))
		bad = "max_edges above 1048576";
	else if (c.span_map_size > (1u << 24))
		bad = "span_map_size above 16777216";
	else if (c.match_window_ns < 0 || c.max_future_ns < 0)
		bad = "negative window";
	if (bad) {
		if (err)
			buf_addf(err, "live: %s", bad);
		return OODA_EINVAL;
	}

	struct live_signals *live = xcalloc(1, sizeof(*live));
	live->cfg = c;
	live->head = INT64_MIN;
	live->other_service = NONE;
	live->svc_mask = pow2_at_least(2 * ((uint64_t)c.max_services + 1)) - 1;
	live->edge_mask = pow2_at_least(2 * (uint64_t)c.max_edges) - 1;
	live->services = xcalloc(c.max_services + 1, sizeof(*live->services));
	live->svc_index = xmalloc(sizeof(uint32_t) * ((size_t)live->svc_mask + 1));
	live->edges = xcalloc(c.max_edges, sizeof(*live->edges));
	live->edge_index = xmalloc(sizeof(uint32_t) * ((size_t)live->edge_mask + 1));
	if (pthread_mutex_init(&live->lock, NULL) != 0) {
		free(live->services);
		free(live->svc_index);
		free(live->edges);
		free(live->edge_index);
		free(live);
		return OODA_ENOMEM;
	}
	if (!live->services || !live->svc_index || !live->edges || !live->edge_index ||
	    spanmap_init(&live->recent, c.span_map_size) != 0 ||
	    spanmap_init(&live->pending, c.span_map_size) != 0 ||
	    spanmap_init(&live->kids, c.span_map_size / 4 ? c.span_map_size / 4 : 1) != 0) {
		live_destroy(live);
		if (err)
			buf_adds(err, "live: out of memory");
		return OODA_ENOMEM;
	}
	memset(live->svc_index, 0xff, sizeof(uint32_t) * ((size_t)live->svc_mask + 1));
	memset(live->edge_index, 0xff, sizeof(uint32_t) * ((size_t)live->edge_mask + 1));
	*out = live;
	return 0;
}

void live_destroy(struct live_signals *live)
{
	if (!live)
		return;
	for (uint32_t i = 0; i < live->n_services; i++)
		service_free(live->services[i]);
	for (uint32_t i = 0; i < live->n_edges; i++) {
		series_release(&live->edges[i]->s);
		free(live->edges[i]);
	}
	free(live->services);
	free(live->svc_index);
	free(live->edges);
	free(live->edge_index);
	spanmap_release(&live->recent);
	spanmap_release(&live->pending);
	spanmap_release(&live->kids);
	live_outbox_release(live);
	pthread_mutex_destroy(&live->lock);
	free(live);
}

/* ---- publish ---- */

static bool is_server_span(const struct span *sp)
{
	return sp->kind == SPAN_SERVER || sp->kind == SPAN_CONSUMER ||
	       (sp->kind == SPAN_UNSPECIFIED && !sp->has_parent);
}

static bool span_accepted(const struct live_signals *live, const struct span *sp, int64_t now)
{
	return sp->end_ns <= ooda_ns_add_sat(now, live->cfg.max_future_ns);
}

/* A CLIENT span with a parent: kept for its parent's own time (live.h, "Own time"). */
static void note_call(struct live_signals *live, const struct span *sp)
{
	int64_t dur = ooda_ns_sub_sat(sp->end_ns, sp->start_ns);
	struct ment e = { .seen_ns = 0, .end_ns = sp->end_ns, .dur_ns = dur < 0 ? 0 : dur, .edge = NONE,
			  .flags = F_LIVE };
	memcpy(e.trace, sp->trace_id, 16);
	memcpy(e.id, sp->parent_span_id, 8);
	if (live->kids.count == live->kids.cap)
		kids_pop(&live->kids);
	e.seen_ns = live->cfg.clock(live->cfg.clock_ctx);
	spanmap_push(&live->kids, &e);
}

static int cmp_start(const void *a, const void *b)
{
	const int64_t *x = a, *y = b;
	return (x[0] > y[0]) - (x[0] < y[0]);
}

/*
 * The own time of server span sp (duration dur): dur less the union of its
 * calls' intervals inside it; -1 when none of its calls is known. The calls
 * found leave the map.
 */
static int64_t own_time(struct live_signals *live, const struct span *sp, int64_t dur)
{
	uint32_t pos[MAX_MATCHES];
	int n = live->kids.count ? spanmap_find(&live->kids, sp->trace_id, sp->span_id, pos, MAX_MATCHES) : 0;
	if (n <= 0)
		return -1;
	live->st.own_timed++;
	int64_t iv[MAX_MATCHES][2];
	int64_t lo = sp->end_ns - dur, hi = sp->end_ns;
	for (int i = 0; i < n; i++) {
		const struct ment *c = &live->kids.ring[pos[i]];
		int64_t a = c->end_ns - c->dur_ns, b = c->end_ns;
		iv[i][0] = a < lo ? lo : a > hi ? hi : a;
		iv[i][1] = b < lo ? lo : b > hi ? hi : b;
		spanmap_remove(&live->kids, pos[i]);
	}
	qsort(iv, (size_t)n, sizeof(iv[0]), cmp_start);
	int64_t covered = 0, from = iv[0][0], to = iv[0][1];
	for (int i = 1; i < n; i++) {
		if (iv[i][0] > to) {
			covered += to - from;
			from = iv[i][0];
		}
		if (iv[i][1] > to)
			to = iv[i][1];
	}
	covered += to - from;
	return dur - covered < 0 ? 0 : dur - covered;
}

/* Pass 1 for one span: RED, the recent map, and children waiting for it. */
static void publish_span(struct live_signals *live, const struct span *sp, uint32_t svc_id,
			 int64_t now)
{
	int64_t dur = ooda_ns_sub_sat(sp->end_ns, sp->start_ns); /* decoders check; stored data may predate that */
	if (dur < 0)
		dur = 0;
	bool err = sp->status == STATUS_ERROR;
	int64_t k = floor_div(sp->end_ns, live->cfg.slot_ns);
	if (k > live->head)
		live->head = k;

	if (is_server_span(sp)) {
		live->st.server_spans++;
		struct series *s = live_op_resolve(live, live->services[svc_id], sp->name);
		if (s && !series_record(live, s, k, dur, err))
			live->st.dropped_old++;
		else if (s)
			live_outbox_note(live, OUT_RED, svc_id, s, k, dur, err);
		int64_t own = own_time(live, sp, dur);
		live_fine_add(live->services[svc_id], sp->end_ns, false, now, 1, err, NULL, live_bucket_of(dur),
			      own < 0 ? -1 : live_bucket_of(own));
	}

	struct ment e = { .seen_ns = now, .end_ns = sp->end_ns, .dur_ns = dur, .svc = svc_id,
			  .edge = NONE, .flags = F_LIVE | (err ? F_ERR : 0) };
	memcpy(e.trace, sp->trace_id, 16);
	memcpy(e.id, sp->span_id, 8);

	uint32_t pos[MAX_MATCHES];
	int n = spanmap_find(&live->pending, sp->trace_id, sp->span_id, pos, MAX_MATCHES);
	for (int i = 0; i < n; i++) {
		const struct ment *c = &live->pending.ring[pos[i]];
		if (c->svc != svc_id) {
			const char *callee = live->services[c->svc]->name;
			uint32_t id = live_edge_resolve(live, svc_id, callee, strlen(callee), EDGE_SPAN);
			edge_record(live, id, c->end_ns, c->dur_ns, c->flags & F_ERR);
			if (c->flags & F_REMOTE)
				live->st.remote_edges++;
			e.flags |= F_CLAIMED;
		}
		spanmap_remove(&live->pending, pos[i]);
	}

	if (sp->kind == SPAN_CLIENT && !(e.flags & F_CLAIMED)) {
		size_t len;
		bool db = false;
		const char *peer = span_client_peer(sp, &len, &db);
		if (peer) {
			e.edge = live_edge_resolve(live, svc_id, peer, len, db ? EDGE_DB : EDGE_PEER);
			e.flags |= e.edge != NONE ? F_EXT : F_EXT_LOST;
		}
	}

	if (live->recent.count == live->recent.cap) {
		if (spanmap_oldest(&live->recent)->flags & F_LIVE)
			live->st.evicted_spans++;
		recent_pop(live);
	}
	spanmap_push(&live->recent, &e);
}

/* Pass 2 for one server span with a parent: an edge, or wait for the parent. */
static void match_parent(struct live_signals *live, const struct span *sp, uint32_t svc_id,
			 int64_t now)
{
	uint32_t pos;
	if (spanmap_find(&live->recent, sp->trace_id, sp->parent_span_id, &pos, 1) == 1) {
		struct ment *p = &live->recent.ring[pos];
		if (p->svc != svc_id) {
			const char *callee = live->services[svc_id]->name;
			int64_t dur = ooda_ns_sub_sat(sp->end_ns, sp->start_ns);
			uint32_t id = live_edge_resolve(live, p->svc, callee, strlen(callee), EDGE_SPAN);
			edge_record(live, id, sp->end_ns, dur < 0 ? 0 : dur,
				    sp->status == STATUS_ERROR);
			p->flags |= F_CLAIMED;
		}
		return;
	}
	int64_t dur = ooda_ns_sub_sat(sp->end_ns, sp->start_ns);
	struct ment e = { .seen_ns = now, .end_ns = sp->end_ns, .dur_ns = dur < 0 ? 0 : dur,
			  .svc = svc_id, .edge = NONE,
			  .flags = F_LIVE | (sp->status == STATUS_ERROR ? F_ERR : 0) };
	memcpy(e.trace, sp->trace_id, 16);
	memcpy(e.id, sp->parent_span_id, 8);
	if (live->pending.count == live->pending.cap)
		pending_pop(live);
	spanmap_push(&live->pending, &e);
	live_outbox_wait(live, &e); /* the parent may reach another node: it makes the edge */
}

void live_remote_child(struct live_signals *live, const uint8_t trace[16], const uint8_t parent[8], uint32_t svc,
		       int64_t end_ns, int64_t dur_ns, bool err)
{
	live->st.waits_received++;
	uint32_t pos;
	if (spanmap_find(&live->recent, trace, parent, &pos, 1) == 1) {
		struct ment *p = &live->recent.ring[pos];
		if (p->svc != svc) {
			const char *callee = live->services[svc]->name;
			uint32_t id = live_edge_resolve(live, p->svc, callee, strlen(callee), EDGE_SPAN);
			edge_record(live, id, end_ns, dur_ns, err);
			live->st.remote_edges++;
			p->flags |= F_CLAIMED;
		}
		return;
	}
	struct ment e = { .seen_ns = live->cfg.clock(live->cfg.clock_ctx), .end_ns = end_ns, .dur_ns = dur_ns,
			  .svc = svc, .edge = NONE, .flags = F_LIVE | F_REMOTE | (err ? F_ERR : 0) };
	memcpy(e.trace, trace, 16);
	memcpy(e.id, parent, 8);
	if (live->pending.count == live->pending.cap)
		pending_pop(live);
	spanmap_push(&live->pending, &e);
}

int live_publish(struct live_signals *live, const struct telemetry_batch *batch)
{
	if (!live || !batch)
		return OODA_EINVAL;
	pthread_mutex_lock(&live->lock);
	int64_t now = live->cfg.clock(live->cfg.clock_ctx);
	expire_locked(live, now);

	const struct resource *last_res = NULL;
	uint32_t last_id = NONE;
#define RESOLVE(res)                                                     \
	(((res) == last_res && last_id != NONE) ? last_id                  \
	 : (last_res = (res), last_id = service_resolve(live, (res))))

	for (size_t i = 0; i < batch->n_logs; i++) {
		uint32_t id = RESOLVE(batch->logs[i].resource);
		if (id != NONE)
			service_count_ingest(live, id, 0, now);
	}
	for (size_t i = 0; i < batch->n_points; i++) {
		uint32_t id = RESOLVE(batch->points[i].resource);
		if (id != NONE)
			service_count_ingest(live, id, 2, now);
	}
	for (size_t i = 0; i < batch->n_spans; i++) { /* calls first: their server span may come before them */
		const struct span *sp = &batch->spans[i];
		if (sp->kind == SPAN_CLIENT && sp->has_parent && span_accepted(live, sp, now))
			note_call(live, sp);
	}
	for (size_t i = 0; i < batch->n_spans; i++) {
		const struct span *sp = &batch->spans[i];
		live->st.spans++;
		uint32_t id = RESOLVE(sp->resource);
		if (id == NONE)
			continue;
		service_count_ingest(live, id, 1, now);
		if (!span_accepted(live, sp, now)) {
			live->st.dropped_future++;
			continue;
		}
		publish_span(live, sp, id, now);
	}
	for (size_t i = 0; i < batch->n_spans; i++) {
		const struct span *sp = &batch->spans[i];
		if (!sp->has_parent || !is_server_span(sp) || !span_accepted(live, sp, now))
			continue;
		uint32_t id = RESOLVE(sp->resource);
		if (id != NONE)
			match_parent(live, sp, id, now);
	}
#undef RESOLVE
	pthread_mutex_unlock(&live->lock);
	return 0;
}

int live_expire(struct live_signals *live)
{
	if (!live)
		return OODA_EINVAL;
	pthread_mutex_lock(&live->lock);
	expire_locked(live, live->cfg.clock(live->cfg.clock_ctx));
	pthread_mutex_unlock(&live->lock);
	return 0;
}

void live_stats_get(struct live_signals *live, struct live_stats *out)
{
	if (!live || !out)
		return;
	pthread_mutex_lock(&live->lock);
	*out = live->st;
	out->merge_dropped = live->out.dropped;
	out->services = live->n_services;
	out->series = live->n_series;
	out->edges = live->n_edges;
	pthread_mutex_unlock(&live->lock);
}
