/*
 * Live signals across nodes (live.h, "Merging across nodes"): the outbox
 * that notes this node's own samples per (series, slot) and the children
 * whose parent it has not seen, its encoding as a delta for the other
 * nodes, and the decoder that adds another node's delta into this view. The cluster loop (api/cluster.c) carries deltas
 * through the control store; nothing here does I/O.
 */
#include <math.h>
#include <string.h>
#include <xxhash.h>

#include "core/error.h"
#include "core/xalloc.h"
#include "model/live_impl.h"

static const uint8_t MAGIC[4] = { 'O', 'L', 'D', '1' };
#define MAX_SLOT_K (INT64_C(1) << 40)

/* ---- the outbox ---- */

void live_merge_enable(struct live_signals *live)
{
	if (!live)
		return;
	pthread_mutex_lock(&live->lock);
	struct outbox *o = &live->out;
	if (!o->on) {
		o->mask = 2 * LIVE_OUTBOX_MAX - 1;
		o->index = xmalloc(sizeof(uint32_t) * ((size_t)o->mask + 1));
		memset(o->index, 0xff, sizeof(uint32_t) * ((size_t)o->mask + 1));
		o->on = true;
	}
	pthread_mutex_unlock(&live->lock);
}

void live_outbox_wait(struct live_signals *live, const struct ment *e)
{
	struct outbox *o = &live->out;
	if (!o->on)
		return;
	if (o->n_w >= LIVE_OUTBOX_WAITS_MAX) {
		o->dropped++;
		return;
	}
	if (o->n_w == o->cap_w) {
		o->cap_w = o->cap_w ? o->cap_w * 2 : 16;
		o->w = xrealloc(o->w, sizeof(*o->w) * o->cap_w);
	}
	struct outwait *w = &o->w[o->n_w++];
	memcpy(w->trace, e->trace, 16);
	memcpy(w->parent, e->id, 8);
	w->svc = e->svc;
	w->end_ns = e->end_ns;
	w->dur_ns = e->dur_ns;
	w->err = e->flags & F_ERR;
	live->st.waits_sent++;
}

void live_outbox_release(struct live_signals *live)
{
	free(live->out.w);
	free(live->out.v);
	free(live->out.index);
	memset(&live->out, 0, sizeof(live->out));
}

static uint32_t out_hash(const struct series *s, int64_t k)
{
	uintptr_t key[2] = { (uintptr_t)s, (uintptr_t)k };
	return (uint32_t)XXH3_64bits(key, sizeof(key));
}

void live_outbox_note(struct live_signals *live, uint8_t type, uint32_t owner, struct series *s,
		      int64_t k, int64_t dur_ns, bool err)
{
	struct outbox *o = &live->out;
	if (!o->on)
		return;
	uint32_t i = out_hash(s, k) & o->mask;
	for (; o->index[i] != EMPTY; i = (i + 1) & o->mask) {
		struct outent *e = &o->v[o->index[i]];
		if (e->s == s && e->k == k)
			goto found;
	}
	if (o->n >= LIVE_OUTBOX_MAX) {
		o->dropped++;
		return;
	}
	if (o->n == o->cap) {
		o->cap = o->cap ? o->cap * 2 : 64;
		o->v = xrealloc(o->v, sizeof(*o->v) * o->cap);
	}
	o->index[i] = o->n;
	o->v[o->n++] = (struct outent){ .s = s, .k = k, .owner = owner, .type = type };
found:;
	struct slot *c = &o->v[o->index[i]].c;
	c->req++;
	c->err += err;
	c->sum_s += (double)dur_ns / 1e9;
	c->b[live_bucket_of(dur_ns)]++;
}

/* ---- encoding ---- */

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

static void put_str(struct buf *b, const char *s)
{
	size_t n = strnlen(s, LIVE_NAME_MAX);
	put_varint(b, n);
	buf_add(b, s, n);
}

static void put_u64le(struct buf *b, uint64_t v)
{
	uint8_t t[8];
	for (int i = 0; i < 8; i++)
		t[i] = (uint8_t)(v >> (8 * i));
	buf_add(b, t, 8);
}

int live_delta_take(struct live_signals *live, struct buf *out, size_t *entries)
{
	if (!live || !out || !entries)
		return OODA_EINVAL;
	pthread_mutex_lock(&live->lock);
	struct outbox *o = &live->out;
	*entries = (size_t)o->n + o->n_w;
	if (*entries) {
		buf_add(out, MAGIC, sizeof(MAGIC));
		put_varint(out, (uint64_t)live->cfg.slot_ns);
		put_varint(out, *entries);
		for (uint32_t j = 0; j < o->n; j++) {
			const struct outent *e = &o->v[j];
			bool edge = e->type == OUT_EDGE;
			const struct edge *ed = edge ? live->edges[e->owner] : NULL;
			buf_add(out, &e->type, 1);
			put_str(out, live->services[edge ? ed->src : e->owner]->name);
			put_str(out, e->s->name);
			if (edge)
				buf_add(out, &ed->kind, 1);
			put_varint(out, (uint64_t)e->k);
			put_varint(out, e->c.req);
			put_varint(out, e->c.err);
			uint64_t bits;
			memcpy(&bits, &e->c.sum_s, sizeof(bits));
			put_u64le(out, bits);
			uint32_t mask = 0;
			for (int b = 0; b < NB; b++)
				if (e->c.b[b])
					mask |= UINT32_C(1) << b;
			put_varint(out, mask);
			for (int b = 0; b < NB; b++)
				if (e->c.b[b])
					put_varint(out, e->c.b[b]);
		}
		for (uint32_t j = 0; j < o->n_w; j++) {
			const struct outwait *w = &o->w[j];
			uint8_t type = OUT_WAIT, err = w->err;
			buf_add(out, &type, 1);
			put_str(out, live->services[w->svc]->name);
			buf_add(out, w->trace, 16);
			buf_add(out, w->parent, 8);
			put_varint(out, (uint64_t)w->end_ns);
			put_varint(out, (uint64_t)w->dur_ns);
			buf_add(out, &err, 1);
		}
		o->n = 0;
		o->n_w = 0;
		memset(o->index, 0xff, sizeof(uint32_t) * ((size_t)o->mask + 1));
	}
	pthread_mutex_unlock(&live->lock);
	return 0;
}

/* ---- decoding ---- */

struct rd {
	const uint8_t *p, *end;
	const char *bad; /* the first problem, NULL while fine */
};

static uint64_t get_varint(struct rd *r, const char *what)
{
	uint64_t v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (r->p >= r->end) {
			r->bad = r->bad ? r->bad : what;
			return 0;
		}
		uint8_t c = *r->p++;
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return v;
	}
	r->bad = r->bad ? r->bad : what;
	return 0;
}

static const char *get_str(struct rd *r, size_t *len, const char *what)
{
	uint64_t n = get_varint(r, what);
	if (r->bad || n == 0 || n > LIVE_NAME_MAX || n > (uint64_t)(r->end - r->p)) {
		r->bad = r->bad ? r->bad : what;
		*len = 0;
		return "";
	}
	const char *s = (const char *)r->p;
	r->p += n;
	*len = (size_t)n;
	if (memchr(s, '\0', n))
		r->bad = r->bad ? r->bad : what;
	return s;
}

static uint8_t get_u8(struct rd *r, const char *what)
{
	if (r->p >= r->end) {
		r->bad = r->bad ? r->bad : what;
		return 0;
	}
	return *r->p++;
}

/* One decoded entry, names pointing into the delta. */
struct dent {
	uint8_t type, kind;
	const char *svc, *name;
	size_t svc_len, name_len;
	int64_t k;
	struct slot c;
	/* a waiting child (OUT_WAIT) */
	const uint8_t *trace, *parent;
	int64_t end_ns, dur_ns;
	bool err;
};

static const uint8_t *get_bytes(struct rd *r, size_t n, const char *what)
{
	if (r->bad || (size_t)(r->end - r->p) < n) {
		r->bad = r->bad ? r->bad : what;
		return NULL;
	}
	const uint8_t *at = r->p;
	r->p += n;
	return at;
}

/* The rest of a waiting child, after its service name. */
static bool get_wait(struct rd *r, struct dent *e)
{
	e->trace = get_bytes(r, 16, "trace id");
	e->parent = get_bytes(r, 8, "parent span id");
	uint64_t end = get_varint(r, "end time");
	uint64_t dur = get_varint(r, "duration");
	uint8_t err = get_u8(r, "error flag");
	if (r->bad)
		return false;
	if (end > (uint64_t)INT64_MAX || dur > (uint64_t)INT64_MAX)
		r->bad = "end time or duration out of range";
	else if (err > 1)
		r->bad = "error flag neither 0 nor 1";
	e->end_ns = (int64_t)end;
	e->dur_ns = (int64_t)dur;
	e->err = err;
	return !r->bad;
}

static bool get_entry(struct rd *r, struct dent *e)
{
	memset(e, 0, sizeof(*e));
	e->type = get_u8(r, "entry type");
	if (!r->bad && e->type != OUT_RED && e->type != OUT_EDGE && e->type != OUT_WAIT)
		r->bad = "unknown entry type";
	e->svc = get_str(r, &e->svc_len, "service name");
	if (e->type == OUT_WAIT)
		return get_wait(r, e);
	e->name = get_str(r, &e->name_len, e->type == OUT_EDGE ? "callee name" : "operation name");
	if (e->type == OUT_EDGE) {
		e->kind = get_u8(r, "edge type");
		if (!r->bad && e->kind > EDGE_DB)
			r->bad = "unknown edge type";
	}
	uint64_t k = get_varint(r, "slot");
	uint64_t req = get_varint(r, "requests");
	uint64_t err = get_varint(r, "errors");
	if (!r->bad && (r->end - r->p) < 8)
		r->bad = "sum of durations";
	uint64_t bits = 0;
	if (!r->bad) {
		for (int i = 0; i < 8; i++)
			bits |= (uint64_t)r->p[i] << (8 * i);
		r->p += 8;
	}
	memcpy(&e->c.sum_s, &bits, sizeof(bits));
	uint64_t mask = get_varint(r, "bucket mask");
	if (r->bad)
		return false;
	if (k >= (uint64_t)MAX_SLOT_K)
		r->bad = "slot number out of range";
	else if (req == 0 || req > UINT32_MAX || err > req)
		r->bad = "requests and errors out of range";
	else if (!isfinite(e->c.sum_s) || e->c.sum_s < 0)
		r->bad = "sum of durations not a finite non-negative number";
	else if (mask >> NB)
		r->bad = "bucket mask names a bucket past +Inf";
	if (r->bad)
		return false;
	uint64_t total = 0;
	for (int b = 0; b < NB && !r->bad; b++) {
		if (!(mask & (UINT64_C(1) << b)))
			continue;
		uint64_t v = get_varint(r, "bucket count");
		if (v == 0 || v > req)
			r->bad = r->bad ? r->bad : "bucket count out of range";
		e->c.b[b] = (uint32_t)v;
		total += v;
	}
	if (!r->bad && total != req)
		r->bad = "bucket counts do not add up to the requests";
	e->k = (int64_t)k;
	e->c.req = (uint32_t)req;
	e->c.err = (uint32_t)err;
	return !r->bad;
}

/* Adds entry e into live (lock held); now_ns: the clock, read once per delta. */
static void apply_entry(struct live_signals *live, const struct dent *e, int64_t now_ns)
{
	uint32_t svc = live_service_by_name(live, e->svc, e->svc_len);
	if (svc == NONE)
		return;
	if (e->type == OUT_WAIT) {
		live_remote_child(live, e->trace, e->parent, svc, e->end_ns, e->dur_ns, e->err);
		return;
	}
	struct series *s = NULL;
	if (e->type == OUT_RED) {
		char name[LIVE_NAME_MAX + 1];
		memcpy(name, e->name, e->name_len);
		name[e->name_len] = '\0';
		s = live_op_resolve(live, live->services[svc], name);
	} else {
		uint32_t id = live_edge_resolve(live, svc, e->name, e->name_len, e->kind);
		if (id == NONE) {
			live->st.dropped_edges += e->c.req;
			return;
		}
		s = &live->edges[id]->s;
	}
	if (!s)
		return;
	if (e->k > live->head)
		live->head = e->k;
	struct slot *sl = live_series_slot(live, s, e->k);
	if (!sl) {
		live->st.dropped_old += e->c.req;
		return;
	}
	sl->req = live_add_sat(sl->req, e->c.req);
	sl->err = live_add_sat(sl->err, e->c.err);
	sl->sum_s += e->c.sum_s;
	for (int b = 0; b < NB; b++)
		sl->b[b] = live_add_sat(sl->b[b], e->c.b[b]);
	live->st.merged_entries++;
	/* another node's recent requests reach the fine slots by arrival */
	if (e->type == OUT_RED && (e->k + 1) * live->cfg.slot_ns > now_ns - LIVE_FINE_LATE_NS)
		live_fine_add(live->services[svc], 0, true, now_ns, e->c.req, e->c.err, e->c.b, 0, -1);
}

static void rd_header(struct rd *r, const struct live_signals *live, uint64_t *count)
{
	if (r->end - r->p < (ptrdiff_t)sizeof(MAGIC) || memcmp(r->p, MAGIC, sizeof(MAGIC))) {
		r->bad = "not a live delta (no OLD1 header)";
		return;
	}
	r->p += sizeof(MAGIC);
	uint64_t slot_ns = get_varint(r, "slot width");
	*count = get_varint(r, "entry count");
	if (!r->bad && slot_ns != (uint64_t)live->cfg.slot_ns)
		r->bad = "the sending node cuts time into slots of another width";
	else if (!r->bad && (*count == 0 || *count > (uint64_t)LIVE_OUTBOX_MAX + LIVE_OUTBOX_WAITS_MAX))
		r->bad = "entry count out of range";
}

int live_delta_apply(struct live_signals *live, const uint8_t *p, size_t n, struct buf *err)
{
	if (!live || (!p && n))
		return OODA_EINVAL;
	if (n > LIVE_DELTA_MAX_BYTES) {
		if (err)
			buf_addf(err, "live delta: %zu bytes, more than %u", n, LIVE_DELTA_MAX_BYTES);
		return OODA_EINVAL;
	}
	/* pass 1 checks everything, pass 2 applies: a bad delta changes nothing */
	uint64_t count = 0;
	struct rd r = { p, p + n, NULL };
	rd_header(&r, live, &count);
	struct dent e;
	for (uint64_t i = 0; !r.bad && i < count; i++)
		get_entry(&r, &e);
	if (!r.bad && r.p != r.end)
		r.bad = "bytes after the last entry";
	if (r.bad) {
		if (err)
			buf_addf(err, "live delta: %s (at byte %zu)", r.bad, (size_t)(r.p - p));
		return OODA_EINVAL;
	}
	int64_t now = live->cfg.clock(live->cfg.clock_ctx);
	pthread_mutex_lock(&live->lock);
	r = (struct rd){ p, p + n, NULL };
	rd_header(&r, live, &count);
	for (uint64_t i = 0; i < count && get_entry(&r, &e); i++)
		apply_entry(live, &e, now);
	pthread_mutex_unlock(&live->lock);
	return 0;
}
