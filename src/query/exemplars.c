/*
 * The exemplar ring behind /api/v1/query_exemplars (see exemplars.h):
 * ingest copies each OTLP exemplar in under its series' label key, the
 * oldest entry giving way; a query parses PromQL, gathers its selectors'
 * matchers and answers the entries of matching series in its time range,
 * grouped by series in first-seen order.
 */
#include "query/exemplars.h"

#include <pthread.h>

#include "core/error.h"
#include "core/hex.h"
#include "core/xalloc.h"
#include "query/metrics.h"
#include "query/promql_impl.h"

struct entry {
	char *series;    /* "name\1value\2…", sorted by name */
	char *labels;    /* the exemplar's own labels, same encoding */
	int64_t t_ms;
	double v;
};

struct exemplar_ring {
	pthread_mutex_t mu;
	struct entry *v;
	size_t cap, next, n;
};

struct exemplar_ring *exemplars_create(size_t capacity)
{
	struct exemplar_ring *r = xcalloc(1, sizeof(*r));
	pthread_mutex_init(&r->mu, NULL);
	r->cap = capacity ? capacity : EXEMPLARS_CAPACITY;
	r->v = xcalloc(r->cap, sizeof(*r->v));
	return r;
}

void exemplars_destroy(struct exemplar_ring *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->cap; i++) {
		free(r->v[i].series);
		free(r->v[i].labels);
	}
	free(r->v);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

static void key_add(struct buf *b, const char *name, const char *value, size_t vlen)
{
	buf_adds(b, name);
	buf_addch(b, '\1');
	buf_add(b, value, vlen);
	buf_addch(b, '\2');
}

/* The exemplar's labels: trace_id and span_id (hex) first, then its filtered attributes. */
static void exemplar_labels(const struct exemplar *ex, struct buf *b)
{
	char hx[33];
	buf_reset(b);
	if (ex->has_span_id) {
		hex_encode(ex->span_id, 8, hx);
		key_add(b, "span_id", hx, 16);
	}
	if (ex->has_trace_id) {
		hex_encode(ex->trace_id, 16, hx);
		key_add(b, "trace_id", hx, 32);
	}
	for (uint32_t i = 0; i < ex->attrs.n && i < 16; i++) {
		const struct attr *a = &ex->attrs.v[i];
		if (a->type == ATTR_STR && a->key && strcmp(a->key, "trace_id") && strcmp(a->key, "span_id"))
			key_add(b, a->key, a->s, a->len);
	}
}

/* One entry into the ring (copied), the oldest giving way. */
static void ring_put(struct exemplar_ring *r, const char *series, size_t slen, const char *labels, size_t llen,
		     int64_t t_ms, double v)
{
	char *s = xstrndup(series, slen), *l = xstrndup(labels ? labels : "", llen);
	pthread_mutex_lock(&r->mu);
	struct entry *e = &r->v[r->next];
	free(e->series);
	free(e->labels);
	*e = (struct entry){ s, l, t_ms, v };
	r->next = (r->next + 1) % r->cap;
	if (r->n < r->cap)
		r->n++;
	pthread_mutex_unlock(&r->mu);
}

typedef void (*exemplar_fn)(void *ctx, const struct buf *series, const struct buf *labels, int64_t t_ms, double v);

/* Each exemplar of b's metric points with its series key and labels. */
static void each_exemplar(const struct telemetry_batch *b, exemplar_fn fn, void *ctx)
{
	struct buf series = BUF_INIT, labels = BUF_INIT;
	for (size_t i = 0; i < b->n_points; i++) {
		const struct metric_point *p = &b->points[i];
		for (uint32_t k = 0; k < p->n_exemplars; k++) {
			const struct exemplar *ex = &p->exemplars[k];
			if (metrics_exemplar_series(p, ex->value, &series))
				continue;
			exemplar_labels(ex, &labels);
			fn(ctx, &series, &labels, (ex->time_ns ? ex->time_ns : p->time_ns) / 1000000, ex->value);
		}
	}
	buf_release(&series);
	buf_release(&labels);
}

static void add_one(void *ctx, const struct buf *series, const struct buf *labels, int64_t t_ms, double v)
{
	ring_put(ctx, series->data, series->len, labels->data, labels->len, t_ms, v);
}

void exemplars_add(struct exemplar_ring *r, const struct telemetry_batch *b)
{
	each_exemplar(b, add_one, r);
}

/* ---- the encoded form other nodes read (exemplars_encode) ----------------- */

static void put_le(struct buf *out, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		buf_addch(out, (char)(v >> (8 * i)));
}

static uint64_t get_le(const uint8_t *p, int bytes)
{
	uint64_t v = 0;
	for (int i = 0; i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

struct encode_ctx {
	struct buf *out;
	size_t n;
};

static void encode_one(void *ctx, const struct buf *series, const struct buf *labels, int64_t t_ms, double v)
{
	struct encode_ctx *e = ctx;
	if (e->n >= EXEMPLARS_CAPACITY || series->len > EXEMPLARS_KEY_MAX || labels->len > EXEMPLARS_KEY_MAX)
		return;
	uint64_t bits;
	memcpy(&bits, &v, 8);
	if (!e->n)
		buf_add(e->out, EXEMPLARS_MAGIC, 4);
	put_le(e->out, series->len, 4);
	buf_add(e->out, series->data, series->len);
	put_le(e->out, labels->len, 4);
	if (labels->len)
		buf_add(e->out, labels->data, labels->len);
	put_le(e->out, (uint64_t)t_ms, 8);
	put_le(e->out, bits, 8);
	e->n++;
}

size_t exemplars_encode(const struct telemetry_batch *b, struct buf *out)
{
	struct encode_ctx e = { out, 0 };
	each_exemplar(b, encode_one, &e);
	return e.n;
}

/* One string of the body at *off: its length, then bytes without a NUL; false when it does not fit. */
static bool take_str(const uint8_t *p, size_t len, size_t *off, const char **s, size_t *slen)
{
	if (len - *off < 4)
		return false;
	uint64_t n = get_le(p + *off, 4);
	*off += 4;
	if (n > EXEMPLARS_KEY_MAX || len - *off < n || memchr(p + *off, 0, n))
		return false;
	*s = (const char *)p + *off;
	*slen = n;
	*off += n;
	return true;
}

/* Walks body: checks it (add NULL) or adds its entries to add. Returns the entries, or -1 with detail. */
static long walk_encoded(struct exemplar_ring *add, const uint8_t *p, size_t len, struct buf *err)
{
	if (len < 4 || memcmp(p, EXEMPLARS_MAGIC, 4)) {
		buf_adds(err, "not an encoded exemplar batch");
		return -1;
	}
	size_t off = 4;
	long n = 0;
	while (off < len) {
		const char *series, *labels;
		size_t slen, llen;
		if (n >= EXEMPLARS_CAPACITY || !take_str(p, len, &off, &series, &slen) ||
		    !take_str(p, len, &off, &labels, &llen) || len - off < 16) {
			buf_addf(err, "exemplar %ld is cut short or too large (at byte %zu of %zu)", n, off, len);
			return -1;
		}
		int64_t t_ms = (int64_t)get_le(p + off, 8);
		uint64_t bits = get_le(p + off + 8, 8);
		off += 16;
		double v;
		memcpy(&v, &bits, 8);
		if (add)
			ring_put(add, series, slen, labels, llen, t_ms, v);
		n++;
	}
	return n;
}

int exemplars_add_encoded(struct exemplar_ring *r, const void *body, size_t len, struct buf *err)
{
	if (len > EXEMPLARS_BODY_MAX) {
		buf_addf(err, "an encoded exemplar batch of %zu bytes is over the %d bytes allowed", len,
			 EXEMPLARS_BODY_MAX);
		return OODA_ECORRUPT;
	}
	/* checked whole first: a malformed body adds nothing */
	if (walk_encoded(NULL, body, len, err) < 0)
		return OODA_ECORRUPT;
	walk_encoded(r, body, len, err);
	return 0;
}

/* Splits a key into labels (pointing into key, which is modified). */
static uint32_t key_labels(char *key, struct promql_label *out, uint32_t max)
{
	uint32_t n = 0;
	for (char *p = key; *p && n < max;) {
		char *sep = strchr(p, '\1');
		char *end = sep ? strchr(sep + 1, '\2') : NULL;
		if (!end)
			break;
		*sep = *end = 0;
		out[n++] = (struct promql_label){ p, sep + 1 };
		p = end + 1;
	}
	return n;
}

static void labels_json(struct buf *out, const struct promql_label *l, uint32_t n)
{
	buf_addch(out, '{');
	for (uint32_t i = 0; i < n; i++) {
		if (i)
			buf_addch(out, ',');
		buf_add_json_str(out, l[i].name, strlen(l[i].name));
		buf_addch(out, ':');
		buf_add_json_str(out, l[i].value, strlen(l[i].value));
	}
	buf_addch(out, '}');
}

/* The selectors of e, collected into sel[0..*n) (at most max). */
static void collect_selectors(const struct promql_expr *e, const struct promql_expr **sel, size_t *n, size_t max)
{
	if (!e || *n >= max)
		return;
	switch (e->kind) {
	case PQ_SEL:
		sel[(*n)++] = e;
		return;
	case PQ_CALL:
		for (uint32_t i = 0; i < e->n_args; i++)
			collect_selectors(e->args[i], sel, n, max);
		return;
	case PQ_AGG:
		collect_selectors(e->param, sel, n, max);
		collect_selectors(e->arg, sel, n, max);
		return;
	case PQ_NEG:
	case PQ_SUBQ:
		collect_selectors(e->arg, sel, n, max);
		return;
	case PQ_BIN:
		collect_selectors(e->lhs, sel, n, max);
		collect_selectors(e->rhs, sel, n, max);
		return;
	default:
		return;
	}
}

#define MAX_SELECTORS 64
#define MAX_LABELS 80

int exemplars_query_json(struct exemplar_ring *r, const char *q, int64_t from_ms, int64_t to_ms, struct buf *out,
			 struct buf *err)
{
	struct arena a;
	arena_init(&a, 0);
	struct promql_expr *e;
	int rc = promql_parse(q, strlen(q), &a, &e, err);
	if (rc) {
		arena_release(&a);
		return rc;
	}
	const struct promql_expr *sel[MAX_SELECTORS];
	size_t n_sel = 0;
	collect_selectors(e, sel, &n_sel, MAX_SELECTORS);
	/* copy the matching entries out under the lock, answer after it */
	struct hit {
		char *series, *labels;
		int64_t t_ms;
		double v;
		bool done;
	} *hits = NULL;
	size_t n_hits = 0;
	bool truncated = false;
	struct promql_label l[MAX_LABELS];
	pthread_mutex_lock(&r->mu);
	hits = xcalloc(r->n + 1, sizeof(*hits));
	for (size_t i = 0; i < r->n; i++) {
		const struct entry *x = &r->v[(r->next + r->cap - r->n + i) % r->cap];
		if (x->t_ms < from_ms || x->t_ms > to_ms)
			continue;
		char *tmp = xstrdup(x->series);
		uint32_t nl = key_labels(tmp, l, MAX_LABELS);
		bool match = false;
		for (size_t s = 0; s < n_sel && !match; s++)
			match = promql_matchers_match(sel[s]->m, sel[s]->n_m, l, nl);
		free(tmp);
		if (!match)
			continue;
		if (n_hits == EXEMPLARS_MAX_ANSWER) {
			truncated = true;
			break;
		}
		hits[n_hits++] = (struct hit){ xstrdup(x->series), xstrdup(x->labels), x->t_ms, x->v, false };
	}
	pthread_mutex_unlock(&r->mu);
	buf_adds(out, "{\"status\":\"success\",\"data\":[");
	bool first_series = true;
	for (size_t i = 0; i < n_hits; i++) {
		if (hits[i].done)
			continue;
		buf_adds(out, first_series ? "{\"seriesLabels\":" : ",{\"seriesLabels\":");
		first_series = false;
		char *tmp = xstrdup(hits[i].series);
		labels_json(out, l, key_labels(tmp, l, MAX_LABELS));
		free(tmp);
		buf_adds(out, ",\"exemplars\":[");
		for (size_t k = i; k < n_hits; k++) {
			if (hits[k].done || strcmp(hits[k].series, hits[i].series))
				continue;
			hits[k].done = true;
			buf_adds(out, k == i ? "{\"labels\":" : ",{\"labels\":");
			labels_json(out, l, key_labels(hits[k].labels, l, MAX_LABELS));
			buf_adds(out, ",\"value\":\"");
			pq_format_float(out, hits[k].v);
			buf_addf(out, "\",\"timestamp\":%lld.%03lld}", (long long)(hits[k].t_ms / 1000),
				 (long long)llabs(hits[k].t_ms % 1000));
		}
		buf_adds(out, "]}");
	}
	buf_addch(out, ']');
	if (truncated)
		buf_addf(out, ",\"warnings\":[\"more than %d exemplars: the first are listed\"]", EXEMPLARS_MAX_ANSWER);
	buf_addch(out, '}');
	for (size_t i = 0; i < n_hits; i++) {
		free(hits[i].series);
		free(hits[i].labels);
	}
	free(hits);
	arena_release(&a);
	return 0;
}
