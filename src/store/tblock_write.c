/*
 * Block writing for the telemetry store: tblock_encode turns a batch of
 * log records, spans or metric points into one OTB1 or OTB2 block (the
 * layouts are drawn in tblock.c, which reads them). Strings go through a
 * per-block dictionary, record fields into their columns, token hashes
 * into the block's bloom filter; the writer's buffers and the zstd
 * contexts are kept per thread and reused from block to block.
 */
#include "store/tblock_impl.h"
#include "core/error.h"
#include "core/hex.h"
#include "model/promname.h"

#include <math.h>
#include <pthread.h>
#include <xxhash.h>
#include <zstd.h>

#define DICT_INLINE_MAX 256 /* longer attribute strings are stored inline */

/* ---- writing ------------------------------------------------------------ */

struct dict_ent {
	uint64_t hash;
	uint32_t idx; /* 1-based; 0 = empty slot */
	uint32_t len;
	uint32_t off; /* into the dictionary column's string bytes (w->dstr) */
};

struct writer {
	struct buf col[C_COUNT];
	struct buf dstr;       /* dictionary strings back to back, for comparisons */
	struct dict_ent *ents;
	size_t cap, n;
	uint64_t *toks;        /* set of token hashes for the bloom */
	size_t tcap, tn;
	struct buf scratch;
	bool index_resources; /* logs: resource attribute values go to the bloom */
	/* metrics: the name tokens of the last point (a metric's points share their strings) */
	const char *last_name, *last_unit;
	uint8_t last_kind;
	uint64_t last_toks[3];
};

static void put_uv(struct buf *b, uint64_t v)
{
	if (b->cap - b->len < 11)
		buf_grow(b, 11);
	uint8_t *p = (uint8_t *)b->data + b->len;
	size_t n = 0;
	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	b->len += n;
	b->data[b->len] = 0;
}

static void put_sv(struct buf *b, int64_t v)
{
	put_uv(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static void put_f64(struct buf *b, double d)
{
	buf_add(b, &d, 8);
}

static void put_u8(struct buf *b, uint8_t v)
{
	buf_add(b, &v, 1);
}

static void dict_grow(struct writer *w)
{
	size_t ncap = w->cap ? w->cap * 2 : 256;
	struct dict_ent *n = xcalloc(ncap, sizeof(*n));
	for (size_t i = 0; i < w->cap; i++) {
		if (!w->ents[i].idx)
			continue;
		size_t j = w->ents[i].hash & (ncap - 1);
		while (n[j].idx)
			j = (j + 1) & (ncap - 1);
		n[j] = w->ents[i];
	}
	free(w->ents);
	w->ents = n;
	w->cap = ncap;
}

/* Dictionary index (1-based) of s[0..len). */
static uint32_t dict_id(struct writer *w, const char *s, size_t len)
{
	if (w->n * 2 >= w->cap)
		dict_grow(w);
	uint64_t h = XXH3_64bits(s, len);
	size_t j = h & (w->cap - 1);
	while (w->ents[j].idx) {
		struct dict_ent *e = &w->ents[j];
		if (e->hash == h && e->len == len && !memcmp(w->dstr.data + e->off, s, len))
			return e->idx;
		j = (j + 1) & (w->cap - 1);
	}
	struct dict_ent *e = &w->ents[j];
	e->hash = h;
	e->idx = (uint32_t)++w->n;
	e->len = (uint32_t)len;
	e->off = (uint32_t)w->dstr.len;
	buf_add(&w->dstr, s, len);
	put_uv(&w->col[C_DICT], len);
	buf_add(&w->col[C_DICT], s, len);
	return e->idx;
}

static void put_str(struct writer *w, const char *s)
{
	put_uv(&w->col[C_STR], s ? dict_id(w, s, strlen(s)) : 0);
}

static void tok_add(struct writer *w, uint64_t h)
{
	if (w->tn * 2 >= w->tcap) {
		size_t ncap = w->tcap ? w->tcap * 2 : 1024;
		uint64_t *n = xcalloc(ncap, sizeof(*n));
		for (size_t i = 0; i < w->tcap; i++) {
			if (!w->toks[i])
				continue;
			size_t j = w->toks[i] & (ncap - 1);
			while (n[j])
				j = (j + 1) & (ncap - 1);
			n[j] = w->toks[i];
		}
		free(w->toks);
		w->toks = n;
		w->tcap = ncap;
	}
	if (!h)
		h = 1;
	size_t j = h & (w->tcap - 1);
	while (w->toks[j]) {
		if (w->toks[j] == h)
			return;
		j = (j + 1) & (w->tcap - 1);
	}
	w->toks[j] = h;
	w->tn++;
}

/* The tokens of text straight into the set: the same hash as
 * tblock_token_hash over each lowercased token, without copying it. */
static void tok_text(struct writer *w, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	while (p < end) {
		while (p < end && !tok_char(*p))
			p++;
		if (p == end)
			break;
		uint64_t h = 0xcbf29ce484222325ULL;
		size_t n = 0;
		while (p < end && tok_char(*p)) {
			if (n < 64) {
				unsigned char c = *p;
				h = (h ^ (c >= 'A' && c <= 'Z' ? c + 32u : c)) * 0x100000001b3ULL;
				n++;
			}
			p++;
		}
		tok_add(w, tok_mix(h ^ n));
	}
}

static void tok_id(struct writer *w, const uint8_t *id, size_t n)
{
	char hex[33];
	hex_encode(id, n, hex);
	tok_add(w, tblock_token_hash(hex, 2 * n));
}

/* Tokens of a value as the log search renders it (see logquery_field_value). */
static void tok_value(struct writer *w, const struct attr *t)
{
	char tmp[80];
	int n = 0;
	switch (t->type) {
	case ATTR_STR:
	case ATTR_JSON:
		tok_text(w, t->s, t->len);
		return;
	case ATTR_INT:
		n = snprintf(tmp, sizeof(tmp), "%lld", (long long)t->i);
		break;
	case ATTR_DOUBLE:
		n = snprintf(tmp, sizeof(tmp), "%.17g", t->d);
		break;
	case ATTR_BOOL:
		n = snprintf(tmp, sizeof(tmp), "%s", t->b ? "true" : "false");
		break;
	case ATTR_BYTES: {
		size_t m = t->len < 32 ? t->len : 32;
		hex_encode((const uint8_t *)t->s, m, tmp);
		n = (int)(2 * m);
		break;
	}
	}
	tok_text(w, tmp, (size_t)n);
}

static void put_attrs(struct writer *w, const struct attrs *a, bool index_values)
{
	struct buf *c = &w->col[C_ATTR];
	put_uv(c, a->n);
	for (uint32_t i = 0; i < a->n; i++) {
		const struct attr *t = &a->v[i];
		put_uv(c, dict_id(w, t->key ? t->key : "", t->key ? strlen(t->key) : 0));
		switch (t->type) {
		case ATTR_STR:
			if (t->len <= DICT_INLINE_MAX) {
				put_u8(c, 0);
				put_uv(c, dict_id(w, t->s, t->len));
			} else {
				put_u8(c, 1);
				put_uv(c, t->len);
				buf_add(c, t->s, t->len);
			}
			if (index_values)
				tok_text(w, t->s, t->len);
			break;
		case ATTR_INT: {
			put_u8(c, 2);
			put_sv(c, t->i);
			if (index_values) {
				char num[24];
				int n = snprintf(num, sizeof(num), "%lld", (long long)t->i);
				tok_text(w, num, (size_t)n);
			}
			break;
		}
		case ATTR_DOUBLE:
			put_u8(c, 3);
			put_f64(c, t->d);
			break;
		case ATTR_BOOL:
			put_u8(c, 4);
			put_u8(c, t->b ? 1 : 0);
			break;
		case ATTR_BYTES:
		case ATTR_JSON:
			put_u8(c, t->type == ATTR_BYTES ? 5 : 6);
			put_uv(c, t->len);
			buf_add(c, t->s, t->len);
			break;
		}
		if (index_values && t->type != ATTR_STR && t->type != ATTR_INT)
			tok_value(w, t);
	}
}

static void put_resource(struct writer *w, const struct resource *r)
{
	/* The resource is serialised into scratch and deduplicated through the
	 * dictionary, so records sharing a resource cost one varint each. */
	struct buf *s = &w->scratch;
	buf_reset(s);
	const char *dims[5] = { r ? r->service : NULL, r ? r->service_version : NULL,
				r ? r->environment : NULL, r ? r->host : NULL, r ? r->region : NULL };
	for (int i = 0; i < 5; i++)
		put_uv(s, dims[i] ? dict_id(w, dims[i], strlen(dims[i])) : 0);
	uint32_t n = r ? r->attrs.n : 0;
	put_uv(s, n);
	for (uint32_t i = 0; i < n; i++) {
		const struct attr *t = &r->attrs.v[i];
		put_uv(s, dict_id(w, t->key ? t->key : "", t->key ? strlen(t->key) : 0));
		put_u8(s, (uint8_t)t->type);
		switch (t->type) {
		case ATTR_INT:
			put_sv(s, t->i);
			break;
		case ATTR_DOUBLE:
			put_f64(s, t->d);
			break;
		case ATTR_BOOL:
			put_u8(s, t->b);
			break;
		default:
			put_uv(s, t->len);
			buf_add(s, t->s, t->len);
			break;
		}
	}
	/* dict_id may grow the dictionary; copy the blob out of scratch first */
	size_t len = s->len;
	char *blob = xmalloc(len ? len : 1);
	memcpy(blob, s->data, len);
	size_t before = w->n;
	put_uv(&w->col[C_RES], dict_id(w, blob, len));
	free(blob);
	if (w->index_resources && w->n > before && r) /* a resource new to this block */
		for (uint32_t i = 0; i < r->attrs.n; i++)
			tok_value(w, &r->attrs.v[i]);
}

/* Empties w for the next block, keeping its memory (one writer per thread is reused). */
static void writer_reset(struct writer *w)
{
	for (int i = 0; i < C_COUNT; i++)
		buf_reset(&w->col[i]);
	buf_reset(&w->dstr);
	buf_reset(&w->scratch);
	if (w->cap > 4096) { /* do not keep a huge table for ever */
		free(w->ents);
		w->ents = NULL;
		w->cap = 0;
	} else if (w->ents) {
		memset(w->ents, 0, w->cap * sizeof(*w->ents));
	}
	w->n = 0;
	if (w->tcap > 65536) {
		free(w->toks);
		w->toks = NULL;
		w->tcap = 0;
	} else if (w->toks) {
		memset(w->toks, 0, w->tcap * sizeof(*w->toks));
	}
	w->tn = 0;
	w->last_name = w->last_unit = NULL; /* the records they point into may be gone */
}

static void writer_release(struct writer *w);

/* Per-thread scratch: the block writer's buffers and the zstd contexts are
 * reused from block to block (small blocks made context set-up the main
 * cost), and freed when the thread exits. */
struct tl_state {
	struct writer w;
	ZSTD_CCtx *cctx;
	ZSTD_DCtx *dctx;
};

static pthread_key_t tl_key;
static pthread_once_t tl_once = PTHREAD_ONCE_INIT;

static void tl_free(void *p)
{
	struct tl_state *t = p;
	writer_release(&t->w);
	ZSTD_freeCCtx(t->cctx);
	ZSTD_freeDCtx(t->dctx);
	free(t);
}

static void tl_init(void)
{
	pthread_key_create(&tl_key, tl_free);
}

static struct tl_state *tl_get(void)
{
	pthread_once(&tl_once, tl_init);
	struct tl_state *t = pthread_getspecific(tl_key);
	if (!t) {
		t = xcalloc(1, sizeof(*t));
		t->cctx = ZSTD_createCCtx();
		t->dctx = ZSTD_createDCtx();
		pthread_setspecific(tl_key, t);
	}
	return t;
}

ZSTD_DCtx *tblock_dctx(void)
{
	return tl_get()->dctx;
}

static void writer_release(struct writer *w)
{
	for (int i = 0; i < C_COUNT; i++)
		buf_release(&w->col[i]);
	buf_release(&w->dstr);
	buf_release(&w->scratch);
	free(w->ents);
	free(w->toks);
}

static void encode_log(struct writer *w, const struct log_record *r, int64_t *prev)
{
	put_sv(&w->col[C_TIME], r->time_ns - *prev);
	*prev = r->time_ns;
	put_sv(&w->col[C_TIME2], r->observed_ns - r->time_ns);
	put_u8(&w->col[C_U8], r->severity);
	put_u8(&w->col[C_U8], (uint8_t)((r->has_trace_id ? 1 : 0) | (r->has_span_id ? 2 : 0)));
	put_str(w, r->severity_text);
	put_str(w, r->scope_name);
	uint32_t blen = r->body ? r->body_len : 0;
	put_uv(&w->col[C_BODY], r->body ? (uint64_t)blen + 1 : 0);
	if (r->body) {
		buf_add(&w->col[C_BODY], r->body, blen);
		tok_text(w, r->body, blen);
	}
	if (r->has_trace_id) {
		buf_add(&w->col[C_IDS], r->trace_id, 16);
		tok_id(w, r->trace_id, 16);
	}
	if (r->has_span_id)
		buf_add(&w->col[C_IDS], r->span_id, 8);
	put_uv(&w->col[C_NUM], r->flags);
	put_resource(w, r->resource);
	put_attrs(w, &r->attrs, true);
}

static void encode_span(struct writer *w, const struct span *s, int64_t *prev)
{
	put_sv(&w->col[C_TIME], s->start_ns - *prev);
	*prev = s->start_ns;
	put_sv(&w->col[C_TIME2], s->end_ns - s->start_ns);
	put_u8(&w->col[C_U8], s->kind);
	put_u8(&w->col[C_U8], s->status);
	put_u8(&w->col[C_U8], s->has_parent);
	buf_add(&w->col[C_IDS], s->trace_id, 16);
	buf_add(&w->col[C_IDS], s->span_id, 8);
	if (s->has_parent)
		buf_add(&w->col[C_IDS], s->parent_span_id, 8);
	tok_id(w, s->trace_id, 16);
	put_str(w, s->name);
	if (s->name)
		tok_text(w, s->name, strlen(s->name));
	put_str(w, s->scope_name);
	put_str(w, s->status_message);
	put_resource(w, s->resource);
	put_attrs(w, &s->attrs, false);
	put_uv(&w->col[C_NUM], s->n_events);
	for (uint32_t i = 0; i < s->n_events; i++) {
		put_sv(&w->col[C_TIME2], s->events[i].time_ns - s->start_ns);
		put_str(w, s->events[i].name);
		put_attrs(w, &s->events[i].attrs, false);
	}
	put_uv(&w->col[C_NUM], s->n_links);
	for (uint32_t i = 0; i < s->n_links; i++) {
		buf_add(&w->col[C_IDS], s->links[i].trace_id, 16);
		buf_add(&w->col[C_IDS], s->links[i].span_id, 8);
		put_attrs(w, &s->links[i].attrs, false);
	}
}

/*
 * The metric's name as PromQL selects it: the stored name with dots and
 * dashes as underscores (what blocks before the Prometheus naming held),
 * and the Prometheus family name under both translation strategies
 * (model/promname.h; a histogram's _bucket/_sum/_count are left to the
 * reader to strip).
 */
static void tok_metric_name(struct writer *w, const struct metric_point *p)
{
	const char *name = p->name;
	enum promname_kind kind = p->type == METRIC_GAUGE ? PROMNAME_GAUGE
				  : p->type == METRIC_SUM && p->monotonic ? PROMNAME_COUNTER : PROMNAME_OTHER;
	uint8_t key = (uint8_t)(kind | (p->prom_native ? 8 : 0));
	if (name != w->last_name || p->unit != w->last_unit || key != w->last_kind) {
		char tmp[PROMNAME_MAX];
		size_t n = 0;
		for (; name[n] && n < sizeof(tmp); n++)
			tmp[n] = (name[n] == '.' || name[n] == '-') ? '_' : name[n];
		w->last_toks[0] = XXH3_64bits_withSeed(tmp, n, 0x6d6574726963ULL);
		for (int s = PROMNAME_UNDERSCORE_ESCAPING; s <= PROMNAME_NO_UTF8_ESCAPING; s++) {
			n = p->prom_native ? 0 : promname_metric(name, p->unit, kind, s, tmp, sizeof(tmp));
			w->last_toks[1 + s] = n ? XXH3_64bits_withSeed(tmp, n, 0x6d6574726963ULL) : 0;
		}
		w->last_name = name;
		w->last_unit = p->unit;
		w->last_kind = key;
	}
	for (int i = 0; i < 3; i++)
		if (w->last_toks[i])
			tok_add(w, w->last_toks[i]);
}

static void encode_point(struct writer *w, const struct metric_point *p, int64_t *prev)
{
	struct buf *num = &w->col[C_NUM];
	put_sv(&w->col[C_TIME], p->time_ns - *prev);
	*prev = p->time_ns;
	put_sv(&w->col[C_TIME2], p->time_ns - p->start_ns);
	put_u8(&w->col[C_U8], p->type);
	put_u8(&w->col[C_U8], p->temporality);
	put_u8(&w->col[C_U8], (uint8_t)((p->monotonic ? 1 : 0) | (p->has_sum ? 2 : 0) |
					(p->has_min ? 4 : 0) | (p->has_max ? 8 : 0) |
					(p->prom_native ? 16 : 0)));
	put_str(w, p->name);
	if (p->name)
		tok_metric_name(w, p);
	put_str(w, p->unit);
	put_str(w, p->description);
	put_str(w, p->scope_name);
	put_resource(w, p->resource);
	put_attrs(w, &p->attrs, false);
	put_uv(num, p->flags);
	switch (p->type) {
	case METRIC_GAUGE:
	case METRIC_SUM:
		put_f64(num, p->value);
		break;
	case METRIC_HISTOGRAM:
		put_uv(num, p->count);
		put_f64(num, p->sum);
		put_f64(num, p->min);
		put_f64(num, p->max);
		put_uv(num, p->n_bounds);
		for (uint32_t i = 0; i < p->n_bounds; i++)
			put_f64(num, p->bounds[i]);
		for (uint32_t i = 0; i <= p->n_bounds; i++)
			put_uv(num, p->bucket_counts ? p->bucket_counts[i] : 0);
		break;
	case METRIC_EXP_HISTOGRAM:
		put_uv(num, p->count);
		put_f64(num, p->sum);
		put_f64(num, p->min);
		put_f64(num, p->max);
		put_sv(num, p->scale);
		put_uv(num, p->zero_count);
		put_sv(num, p->pos_offset);
		put_uv(num, p->n_pos);
		for (uint32_t i = 0; i < p->n_pos; i++)
			put_uv(num, p->pos_counts[i]);
		put_sv(num, p->neg_offset);
		put_uv(num, p->n_neg);
		for (uint32_t i = 0; i < p->n_neg; i++)
			put_uv(num, p->neg_counts[i]);
		break;
	case METRIC_SUMMARY:
		put_uv(num, p->count);
		put_f64(num, p->sum);
		put_uv(num, p->n_quantiles);
		for (uint32_t i = 0; i < p->n_quantiles; i++) {
			put_f64(num, p->quantiles[i]);
			put_f64(num, p->quantile_values[i]);
		}
		break;
	}
}

static void bloom_build(struct writer *w, struct tblock *out)
{
	size_t bits = 512;
	while (bits < w->tn * 10 && bits < (size_t)8 << 20)
		bits <<= 1;
	unsigned lg = 0;
	while (((size_t)1 << lg) < bits)
		lg++;
	size_t len = 2 + bits / 8;
	uint8_t *b = xcalloc(1, len);
	b[0] = 7;
	b[1] = (uint8_t)lg;
	for (size_t i = 0; i < w->tcap; i++) {
		uint64_t h = w->toks[i];
		if (!h)
			continue;
		uint32_t h1 = (uint32_t)h, h2 = (uint32_t)(h >> 32) | 1;
		for (unsigned k = 0; k < 7; k++) {
			size_t bit = (h1 + k * h2) & (bits - 1);
			b[2 + bit / 8] |= (uint8_t)(1u << (bit % 8));
		}
	}
	out->bloom = b;
	out->bloom_len = len;
}

bool tblock_bloom_has_all(const void *bloom, size_t len, const uint64_t *hashes, size_t n)
{
	const uint8_t *b = bloom;
	if (!b || len < 3 || b[1] > 40)
		return true;
	size_t bits = (size_t)1 << b[1];
	if (2 + bits / 8 > len)
		return true;
	for (size_t i = 0; i < n; i++) {
		uint64_t h = hashes[i] ? hashes[i] : 1;
		uint32_t h1 = (uint32_t)h, h2 = (uint32_t)(h >> 32) | 1;
		for (unsigned k = 0; k < b[0]; k++) {
			size_t bit = (h1 + k * h2) & (bits - 1);
			if (!(b[2 + bit / 8] & (1u << (bit % 8))))
				return false;
		}
	}
	return true;
}

/*
 * One zstd frame of src, with a content checksum: a flipped bit in a stored
 * block then fails to decode (and is skipped by readers) instead of
 * decoding into wrong records. Readers of older frames without one still work.
 */
static size_t zframe(ZSTD_CCtx *c, void *dst, size_t cap, const void *src, size_t n, int level)
{
	ZSTD_CCtx_reset(c, ZSTD_reset_session_and_parameters);
	size_t r = ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level);
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
	return ZSTD_isError(r) ? r : ZSTD_compress2(c, dst, cap, src, n);
}

/* OTB1: the header and all columns in one zstd frame. */
static int write_otb1(struct writer *w, struct tl_state *tl, int signal, size_t n, int level, struct tblock *out,
		      struct buf *err)
{
	struct buf raw = BUF_INIT;
	buf_add(&raw, "OTB1", 4);
	put_u8(&raw, (uint8_t)signal);
	put_uv(&raw, n);
	put_uv(&raw, C_COUNT);
	for (int c = 0; c < C_COUNT; c++)
		put_uv(&raw, w->col[c].len);
	for (int c = 0; c < C_COUNT; c++)
		buf_add(&raw, w->col[c].data, w->col[c].len);
	out->raw_len = raw.len;
	size_t bound = ZSTD_compressBound(raw.len);
	out->data = malloc(bound); /* sized by input: checked */
	int rc = 0;
	size_t z = out->data && tl->cctx ? zframe(tl->cctx, out->data, bound, raw.data, raw.len, level) : 0;
	if (!out->data || ZSTD_isError(z)) {
		buf_addf(err, "block compression failed: %s", out->data ? ZSTD_getErrorName(z) : "out of memory");
		rc = OODA_EINTERNAL;
	} else {
		out->data_len = z;
	}
	buf_release(&raw);
	return rc;
}

/* OTB2: an uncompressed header of column lengths, then one zstd frame per column. */
static int write_otb2(struct writer *w, struct tl_state *tl, int signal, size_t n, int level, struct tblock *out,
		      struct buf *err)
{
	struct buf raw = BUF_INIT; /* the header */
	buf_add(&raw, "OTB2", 4);
	put_u8(&raw, (uint8_t)signal);
	put_uv(&raw, n);
	put_uv(&raw, C_COUNT);
	size_t zlen[C_COUNT] = { 0 }, bound = 0;
	for (int c = 0; c < C_COUNT; c++)
		bound += w->col[c].len ? ZSTD_compressBound(w->col[c].len) : 0;
	/* compress into a scratch area first: the header needs the stored lengths */
	uint8_t *z = malloc(bound ? bound : 1); /* sized by input: checked */
	size_t zoff = 0, raw_total = 0;
	int rc = z && tl->cctx ? 0 : OODA_EINTERNAL;
	for (int k = 0; k < C_COUNT && !rc; k++) {
		int c = v2_order[k];
		if (!w->col[c].len)
			continue;
		size_t got = zframe(tl->cctx, z + zoff, bound - zoff, w->col[c].data, w->col[c].len, level);
		if (ZSTD_isError(got)) {
			buf_addf(err, "block compression failed: %s", ZSTD_getErrorName(got));
			rc = OODA_EINTERNAL;
			break;
		}
		zlen[c] = got;
		zoff += got;
		raw_total += w->col[c].len;
	}
	if (!rc) {
		for (int c = 0; c < C_COUNT; c++) {
			put_uv(&raw, w->col[c].len);
			put_uv(&raw, zlen[c]);
		}
		out->raw_len = raw.len + raw_total;
		out->data_len = raw.len + zoff;
		out->data = malloc(out->data_len); /* sized by input: checked */
		if (out->data) {
			memcpy(out->data, raw.data, raw.len);
			memcpy((uint8_t *)out->data + raw.len, z, zoff);
		} else {
			rc = OODA_ENOMEM;
		}
	} else if (!err->len) {
		buf_adds(err, "block compression failed: out of memory");
	}
	free(z);
	buf_release(&raw);
	return rc;
}

static int encode(int signal, const char *service, const void *recs, size_t n, int level, struct tblock *out,
		  uint64_t **tokens, size_t *n_tokens, struct buf *err);

int tblock_encode(int signal, const char *service, const void *recs, size_t n, int level,
		  struct tblock *out, struct buf *err)
{
	return encode(signal, service, recs, n, level, out, NULL, NULL, err);
}

int tblock_encode_tokens(int signal, const char *service, const void *recs, size_t n, int level,
			 struct tblock *out, uint64_t **tokens, size_t *n_tokens, struct buf *err)
{
	return encode(signal, service, recs, n, level, out, tokens, n_tokens, err);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int encode(int signal, const char *service, const void *recs, size_t n, int level, struct tblock *out,
		  uint64_t **tokens, size_t *n_tokens, struct buf *err)
{
	memset(out, 0, sizeof(*out));
	out->signal = signal;
	snprintf(out->service, sizeof(out->service), "%s", service ? service : "unknown");
	out->n = (uint32_t)n;
	out->tmin = INT64_MAX;
	out->tmax = INT64_MIN;
	out->min_sev = 255;
	struct tl_state *tl = tl_get();
	struct writer *wp = &tl->w;
	writer_reset(wp);
	wp->index_resources = signal == SIGNAL_LOGS;
#define w (*wp)
	int64_t prev = 0;
	for (size_t i = 0; i < n; i++) {
		int64_t lo, hi;
		if (signal == SIGNAL_LOGS) {
			const struct log_record *r = (const struct log_record *)recs + i;
			encode_log(&w, r, &prev);
			lo = hi = r->time_ns;
			if (r->severity < out->min_sev)
				out->min_sev = r->severity;
			if (r->severity > out->max_sev)
				out->max_sev = r->severity;
		} else if (signal == SIGNAL_SPANS) {
			const struct span *s = (const struct span *)recs + i;
			encode_span(&w, s, &prev);
			lo = s->start_ns;
			hi = s->end_ns > s->start_ns ? s->end_ns : s->start_ns;
		} else {
			const struct metric_point *p = (const struct metric_point *)recs + i;
			encode_point(&w, p, &prev);
			lo = hi = p->time_ns;
		}
		if (lo < out->tmin)
			out->tmin = lo;
		if (hi > out->tmax)
			out->tmax = hi;
	}
	if (!n)
		out->tmin = out->tmax = 0;
	if (out->min_sev == 255)
		out->min_sev = 0;
	/* small blocks (most are merged by compaction soon) keep one frame: ten
	 * frames cost more to write than they save a reader of few records */
	int rc = n >= TBLOCK_FRAMES_MIN ? write_otb2(&w, tl, signal, n, level, out, err) :
					  write_otb1(&w, tl, signal, n, level, out, err);
	if (!rc && !tokens) /* who takes the tokens indexes them itself: no bloom */
		bloom_build(&w, out);
	if (!rc && tokens) {
		uint64_t *v = xmalloc((w.tn ? w.tn : 1) * sizeof(*v));
		size_t k = 0;
		for (size_t i = 0; i < w.tcap; i++)
			if (w.toks[i])
				v[k++] = w.toks[i];
		qsort(v, k, sizeof(*v), cmp_u64);
		*tokens = v;
		*n_tokens = k;
	}
#undef w
	if (rc)
		tblock_release(out);
	return rc;
}

void tblock_release(struct tblock *b)
{
	free(b->data);
	free(b->bloom);
	b->data = b->bloom = NULL;
}
