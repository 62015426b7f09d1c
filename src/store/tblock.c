/*
 * Block encoding for the telemetry store (see tblock.h for the format's
 * purpose). Every record writes its fields to the column they belong to;
 * repeated strings are dictionary indices (1-based, 0 = absent). Integers
 * are LEB128 varints (signed ones zigzag), doubles raw little-endian 8
 * bytes. Two layouts exist, both written (by block size, see
 * TBLOCK_FRAMES_MIN) and read:
 *
 *   OTB2: each column is its own zstd frame, so a reader
 *   decompresses only the columns it needs (facets skip bodies, ids and
 *   attributes they do not count):
 *     "OTB2" | signal u8 | n varint | ncol varint
 *     | ncol x (raw length varint, stored length varint)   (enum col order)
 *     | the stored columns in v2_order (an empty column stores nothing)
 *
 *   OTB1 (small blocks, and every block of earlier versions): one zstd frame of
 *     "OTB1" | signal u8 | n varint | ncol varint | ncol x column length varint
 *     | the columns in enum col order
 *
 * A reader decodes the dictionary first, then walks the columns in step,
 * checking each length before it reads: a damaged block is an error, never
 * a crash.
 */
#include "store/tblock.h"
#include "core/error.h"
#include "core/hex.h"

#include <math.h>
#include <pthread.h>
#include <xxhash.h>
#include <zstd.h>

enum col { C_DICT, C_TIME, C_TIME2, C_U8, C_STR, C_BODY, C_IDS, C_NUM, C_RES, C_ATTR, C_COUNT };

/* OTB2 storage order: what counting reads first, bodies and ids last. */
static const uint8_t v2_order[C_COUNT] = { C_TIME, C_U8, C_RES, C_DICT, C_ATTR, C_STR, C_TIME2, C_NUM, C_IDS, C_BODY };

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


static inline bool tok_char(unsigned char c);
static inline uint64_t tok_mix(uint64_t h);

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

/* The metric name as PromQL sees it: dots and dashes become underscores. */
static void tok_metric_name(struct writer *w, const char *name)
{
	char tmp[256];
	size_t n = 0;
	for (; name[n] && n < sizeof(tmp); n++)
		tmp[n] = (name[n] == '.' || name[n] == '-') ? '_' : name[n];
	tok_add(w, XXH3_64bits_withSeed(tmp, n, 0x6d6574726963ULL));
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
					(p->has_min ? 4 : 0) | (p->has_max ? 8 : 0)));
	put_str(w, p->name);
	if (p->name)
		tok_metric_name(w, p->name);
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

int tblock_encode(int signal, const char *service, const void *recs, size_t n, int level,
		  struct tblock *out, struct buf *err)
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
	if (!rc)
		bloom_build(&w, out);
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

/* ---- reading ------------------------------------------------------------ */

struct cur {
	const uint8_t *p, *end;
};

struct reader {
	struct cur col[C_COUNT];
	const char **dict;     /* 1-based; filled at open or on first use (dict_at) */
	const uint8_t **dsrc;  /* filled on first use: where each string starts in its column */
	uint32_t *dlen;
	uint32_t ndict;
	struct resource **res; /* decoded resources by dictionary index */
	struct arena *a;
	unsigned skip;  /* TBLOCK_SKIP_* */
	bool bad;
	const char *why;
};

static uint64_t get_uv(struct reader *r, struct cur *c)
{
	uint64_t v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (c->p >= c->end) {
			r->bad = true;
			r->why = "truncated varint";
			return 0;
		}
		uint8_t b = *c->p++;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
	}
	r->bad = true;
	r->why = "overlong varint";
	return 0;
}

static int64_t get_sv(struct reader *r, struct cur *c)
{
	uint64_t u = get_uv(r, c);
	return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

static const uint8_t *get_bytes(struct reader *r, struct cur *c, size_t n)
{
	if ((size_t)(c->end - c->p) < n) {
		r->bad = true;
		r->why = "truncated column";
		return NULL;
	}
	const uint8_t *p = c->p;
	c->p += n;
	return p;
}

static double get_f64(struct reader *r, struct cur *c)
{
	const uint8_t *p = get_bytes(r, c, 8);
	double d = 0;
	if (p)
		memcpy(&d, p, 8);
	return d;
}

static uint8_t get_u8(struct reader *r, struct cur *c)
{
	const uint8_t *p = get_bytes(r, c, 1);
	return p ? *p : 0;
}

/* Copies dictionary string idx out of its column, NUL-terminated, on its first use. */
static __attribute__((noinline)) const char *dict_copy(struct reader *r, uint64_t idx)
{
	r->dict[idx] = arena_strndup(r->a, (const char *)r->dsrc[idx], r->dlen[idx]);
	return r->dict[idx];
}

/* Dictionary string by 1-based index; NULL for 0 or out of range. */
static const char *dict_at(struct reader *r, uint64_t idx, uint32_t *len)
{
	if (!idx)
		return NULL;
	if (idx > r->ndict) {
		r->bad = true;
		r->why = "dictionary index out of range";
		return NULL;
	}
	if (len)
		*len = r->dlen[idx];
	return r->dict[idx] ? r->dict[idx] : dict_copy(r, idx);
}

static const char *get_str(struct reader *r)
{
	return dict_at(r, get_uv(r, &r->col[C_STR]), NULL);
}

static void get_attrs(struct reader *r, struct attrs *out)
{
	struct cur *c = &r->col[C_ATTR];
	uint64_t n = get_uv(r, c);
	out->n = 0;
	out->v = NULL;
	if (r->bad || !n)
		return;
	if (n > (uint64_t)(c->end - c->p)) {
		r->bad = true;
		r->why = "attribute count beyond the column";
		return;
	}
	out->v = arena_alloc(r->a, n * sizeof(struct attr));
	for (uint64_t i = 0; i < n && !r->bad; i++) {
		struct attr *t = &out->v[i];
		memset(t, 0, sizeof(*t));
		t->key = dict_at(r, get_uv(r, c), NULL);
		if (!t->key)
			t->key = "";
		uint8_t ty = get_u8(r, c);
		switch (ty) {
		case 0: {
			uint32_t len = 0;
			t->type = ATTR_STR;
			t->s = dict_at(r, get_uv(r, c), &len);
			t->len = len;
			if (!t->s)
				t->s = "";
			break;
		}
		case 1:
		case 5:
		case 6: {
			uint64_t len = get_uv(r, c);
			const uint8_t *p = get_bytes(r, c, len);
			t->type = ty == 1 ? ATTR_STR : ty == 5 ? ATTR_BYTES : ATTR_JSON;
			t->s = p ? arena_strndup(r->a, (const char *)p, len) : "";
			t->len = p ? (uint32_t)len : 0;
			break;
		}
		case 2:
			t->type = ATTR_INT;
			t->i = get_sv(r, c);
			break;
		case 3:
			t->type = ATTR_DOUBLE;
			t->d = get_f64(r, c);
			break;
		case 4:
			t->type = ATTR_BOOL;
			t->b = get_u8(r, c) != 0;
			break;
		default:
			r->bad = true;
			r->why = "unknown attribute type";
		}
		out->n = (uint32_t)(i + 1);
	}
}

/* The resource whose serialised form is dictionary string idx, decoded once per block. */
static const struct resource *resource_at(struct reader *r, uint64_t idx)
{
	uint32_t len = 0;
	const char *blob = dict_at(r, idx, &len);
	if (!blob) {
		r->bad = true;
		r->why = "missing resource";
		return NULL;
	}
	if (r->res[idx])
		return r->res[idx];
	struct resource *res = arena_zalloc(r->a, sizeof(*res));
	struct cur c = { (const uint8_t *)blob, (const uint8_t *)blob + len };
	const char **dims[5] = { &res->service, &res->service_version, &res->environment, &res->host,
				 &res->region };
	for (int i = 0; i < 5; i++)
		*dims[i] = dict_at(r, get_uv(r, &c), NULL);
	if (!res->service)
		res->service = "unknown";
	uint64_t n = get_uv(r, &c);
	if (n > len) {
		r->bad = true;
		r->why = "resource attribute count beyond its data";
		return NULL;
	}
	res->attrs.v = arena_zalloc(r->a, (n ? n : 1) * sizeof(struct attr));
	for (uint64_t i = 0; i < n && !r->bad; i++) {
		struct attr *t = &res->attrs.v[i];
		t->key = dict_at(r, get_uv(r, &c), NULL);
		if (!t->key)
			t->key = "";
		uint8_t ty = get_u8(r, &c);
		if (ty > ATTR_JSON) {
			r->bad = true;
			r->why = "unknown resource attribute type";
			break;
		}
		t->type = (enum attr_type)ty;
		if (ty == ATTR_INT) {
			t->i = get_sv(r, &c);
		} else if (ty == ATTR_DOUBLE) {
			t->d = get_f64(r, &c);
		} else if (ty == ATTR_BOOL) {
			t->b = get_u8(r, &c);
		} else {
			uint64_t l = get_uv(r, &c);
			const uint8_t *p = get_bytes(r, &c, l);
			t->s = p ? arena_strndup(r->a, (const char *)p, l) : "";
			t->len = p ? (uint32_t)l : 0;
		}
		res->attrs.n = (uint32_t)(i + 1);
	}
	r->res[idx] = res;
	return res;
}

static const struct resource *get_resource(struct reader *r)
{
	return resource_at(r, get_uv(r, &r->col[C_RES]));
}

static void get_id(struct reader *r, uint8_t *dst, size_t n)
{
	const uint8_t *p = get_bytes(r, &r->col[C_IDS], n);
	if (p)
		memcpy(dst, p, n);
	else
		memset(dst, 0, n);
}

static void decode_log(struct reader *r, struct log_record *l, int64_t *prev)
{
	memset(l, 0, sizeof(*l));
	l->time_ns = *prev + get_sv(r, &r->col[C_TIME]);
	*prev = l->time_ns;
	l->observed_ns = l->time_ns + get_sv(r, &r->col[C_TIME2]);
	l->severity = get_u8(r, &r->col[C_U8]);
	uint8_t fl = get_u8(r, &r->col[C_U8]);
	l->severity_text = get_str(r);
	l->scope_name = get_str(r);
	uint64_t bl = r->skip & TBLOCK_SKIP_BODY ? 0 : get_uv(r, &r->col[C_BODY]);
	if (bl) {
		const uint8_t *p = get_bytes(r, &r->col[C_BODY], bl - 1);
		if (p) {
			l->body = arena_strndup(r->a, (const char *)p, bl - 1);
			l->body_len = (uint32_t)(bl - 1);
		}
	}
	l->has_trace_id = fl & 1;
	l->has_span_id = (fl & 2) != 0;
	if (l->has_trace_id)
		get_id(r, l->trace_id, 16);
	if (l->has_span_id)
		get_id(r, l->span_id, 8);
	l->flags = (uint32_t)get_uv(r, &r->col[C_NUM]);
	l->resource = get_resource(r);
	if (!(r->skip & TBLOCK_SKIP_ATTRS)) /* the column is only read by attributes: leaving it is safe */
		get_attrs(r, &l->attrs);
}

static void decode_span(struct reader *r, struct span *s, int64_t *prev)
{
	memset(s, 0, sizeof(*s));
	s->start_ns = *prev + get_sv(r, &r->col[C_TIME]);
	*prev = s->start_ns;
	s->end_ns = s->start_ns + get_sv(r, &r->col[C_TIME2]);
	s->kind = get_u8(r, &r->col[C_U8]);
	s->status = get_u8(r, &r->col[C_U8]);
	s->has_parent = get_u8(r, &r->col[C_U8]) != 0;
	get_id(r, s->trace_id, 16);
	get_id(r, s->span_id, 8);
	if (s->has_parent)
		get_id(r, s->parent_span_id, 8);
	s->name = get_str(r);
	s->scope_name = get_str(r);
	s->status_message = get_str(r);
	s->resource = get_resource(r);
	get_attrs(r, &s->attrs);
	uint64_t ne = get_uv(r, &r->col[C_NUM]);
	if (ne > (uint64_t)(r->col[C_TIME2].end - r->col[C_TIME2].p)) {
		r->bad = true;
		r->why = "span event count beyond the column";
		return;
	}
	if (ne) {
		s->events = arena_zalloc(r->a, ne * sizeof(*s->events));
		s->n_events = (uint32_t)ne;
		for (uint64_t i = 0; i < ne && !r->bad; i++) {
			s->events[i].time_ns = s->start_ns + get_sv(r, &r->col[C_TIME2]);
			s->events[i].name = get_str(r);
			get_attrs(r, &s->events[i].attrs);
		}
	}
	uint64_t nl = get_uv(r, &r->col[C_NUM]);
	if (nl > (uint64_t)(r->col[C_IDS].end - r->col[C_IDS].p) / 24) {
		r->bad = true;
		r->why = "span link count beyond the column";
		return;
	}
	if (nl) {
		s->links = arena_zalloc(r->a, nl * sizeof(*s->links));
		s->n_links = (uint32_t)nl;
		for (uint64_t i = 0; i < nl && !r->bad; i++) {
			get_id(r, s->links[i].trace_id, 16);
			get_id(r, s->links[i].span_id, 8);
			get_attrs(r, &s->links[i].attrs);
		}
	}
}

static bool count_ok(struct reader *r, uint64_t n, size_t each)
{
	struct cur *c = &r->col[C_NUM];
	if (n > (uint64_t)(c->end - c->p) / each) {
		r->bad = true;
		r->why = "array length beyond the column";
		return false;
	}
	return true;
}

static void decode_point(struct reader *r, struct metric_point *p, int64_t *prev)
{
	struct cur *num = &r->col[C_NUM];
	memset(p, 0, sizeof(*p));
	p->time_ns = *prev + get_sv(r, &r->col[C_TIME]);
	*prev = p->time_ns;
	p->start_ns = p->time_ns - get_sv(r, &r->col[C_TIME2]);
	p->type = get_u8(r, &r->col[C_U8]);
	p->temporality = get_u8(r, &r->col[C_U8]);
	uint8_t fl = get_u8(r, &r->col[C_U8]);
	p->monotonic = fl & 1;
	p->has_sum = (fl & 2) != 0;
	p->has_min = (fl & 4) != 0;
	p->has_max = (fl & 8) != 0;
	p->name = get_str(r);
	if (!p->name)
		p->name = "";
	p->unit = get_str(r);
	p->description = get_str(r);
	p->scope_name = get_str(r);
	p->resource = get_resource(r);
	get_attrs(r, &p->attrs);
	p->flags = (uint32_t)get_uv(r, num);
	switch (p->type) {
	case METRIC_GAUGE:
	case METRIC_SUM:
		p->value = get_f64(r, num);
		break;
	case METRIC_HISTOGRAM: {
		p->count = get_uv(r, num);
		p->sum = get_f64(r, num);
		p->min = get_f64(r, num);
		p->max = get_f64(r, num);
		uint64_t nb = get_uv(r, num);
		if (!count_ok(r, nb, 9))
			return;
		p->n_bounds = (uint32_t)nb;
		double *b = arena_alloc(r->a, (nb + 1) * sizeof(double));
		uint64_t *cnt = arena_alloc(r->a, (nb + 1) * sizeof(uint64_t));
		for (uint64_t i = 0; i < nb; i++)
			b[i] = get_f64(r, num);
		for (uint64_t i = 0; i <= nb; i++)
			cnt[i] = get_uv(r, num);
		p->bounds = b;
		p->bucket_counts = cnt;
		break;
	}
	case METRIC_EXP_HISTOGRAM: {
		p->count = get_uv(r, num);
		p->sum = get_f64(r, num);
		p->min = get_f64(r, num);
		p->max = get_f64(r, num);
		p->scale = (int32_t)get_sv(r, num);
		p->zero_count = get_uv(r, num);
		p->pos_offset = (int32_t)get_sv(r, num);
		uint64_t np = get_uv(r, num);
		if (!count_ok(r, np, 1))
			return;
		uint64_t *pc = arena_alloc(r->a, (np + 1) * sizeof(uint64_t));
		for (uint64_t i = 0; i < np; i++)
			pc[i] = get_uv(r, num);
		p->n_pos = (uint32_t)np;
		p->pos_counts = pc;
		p->neg_offset = (int32_t)get_sv(r, num);
		uint64_t nn = get_uv(r, num);
		if (!count_ok(r, nn, 1))
			return;
		uint64_t *nc = arena_alloc(r->a, (nn + 1) * sizeof(uint64_t));
		for (uint64_t i = 0; i < nn; i++)
			nc[i] = get_uv(r, num);
		p->n_neg = (uint32_t)nn;
		p->neg_counts = nc;
		break;
	}
	case METRIC_SUMMARY: {
		p->count = get_uv(r, num);
		p->sum = get_f64(r, num);
		uint64_t nq = get_uv(r, num);
		if (!count_ok(r, nq, 16))
			return;
		double *q = arena_alloc(r->a, (nq + 1) * sizeof(double));
		double *v = arena_alloc(r->a, (nq + 1) * sizeof(double));
		for (uint64_t i = 0; i < nq; i++) {
			q[i] = get_f64(r, num);
			v[i] = get_f64(r, num);
		}
		p->n_quantiles = (uint32_t)nq;
		p->quantiles = q;
		p->quantile_values = v;
		break;
	}
	default:
		r->bad = true;
		r->why = "unknown metric type";
	}
}

int tblock_decode(int signal, const void *data, size_t len, struct arena *arena,
		  struct telemetry_batch *batch, struct buf *err)
{
	return tblock_decode_some(signal, data, len, 0, arena, batch, err);
}

/*
 * Opens a block for reading: checks its header and makes the columns in want
 * (a mask of 1u << enum col; OTB1 blocks always give all) readable in r->col,
 * decompressed into r->a. Sets *n to the record count.
 */
/* Reads signal, record count and column count after a block's magic; checks them against the caller's. */
static int block_header(struct reader *r, struct cur *hdr, int signal, uint64_t *n, struct buf *err)
{
	uint8_t sig = get_u8(r, hdr);
	*n = get_uv(r, hdr);
	uint64_t ncol = get_uv(r, hdr);
	if (r->bad || sig != signal || ncol != C_COUNT || *n > TBLOCK_MAX_RECORDS * 4) {
		buf_addf(err, "block header mismatch (signal %u, %llu records, %llu columns)", sig,
			 (unsigned long long)*n, (unsigned long long)ncol);
		return OODA_ECORRUPT;
	}
	return 0;
}

/* Decompresses a zstd frame of raw bytes into the reader's arena; what names it in errors. */
static const uint8_t *unzstd(struct reader *r, const void *z, size_t zlen, size_t raw, const char *what,
			     struct buf *err)
{
	uint8_t *out = arena_alloc(r->a, raw + 1);
	struct tl_state *tl = tl_get();
	size_t got = tl->dctx ? ZSTD_decompressDCtx(tl->dctx, out, raw, z, zlen) : 0;
	if (ZSTD_isError(got) || got != raw) {
		buf_addf(err, "%s decompression failed: %s", what, ZSTD_isError(got) ? ZSTD_getErrorName(got) : "short frame");
		return NULL;
	}
	return out;
}

static int block_open(struct reader *r, int signal, const void *data, size_t len, unsigned want, uint64_t *n,
		      struct buf *err)
{
	if (len >= 4 && !memcmp(data, "OTB2", 4)) {
		struct cur hdr = { (const uint8_t *)data + 4, (const uint8_t *)data + len };
		if (block_header(r, &hdr, signal, n, err))
			return OODA_ECORRUPT;
		uint64_t raw[C_COUNT], stored[C_COUNT];
		for (int c = 0; c < C_COUNT; c++) {
			raw[c] = get_uv(r, &hdr);
			stored[c] = get_uv(r, &hdr);
		}
		const uint8_t *p = hdr.p;
		uint64_t total = 0;
		for (int k = 0; k < C_COUNT; k++) {
			int c = v2_order[k];
			total += raw[c];
			if (r->bad || stored[c] > (uint64_t)(hdr.end - p) || total > (256u << 20) ||
			    (!stored[c] && raw[c])) {
				buf_adds(err, "block column lengths exceed the block");
				return OODA_ECORRUPT;
			}
			const uint8_t *z = p;
			p += stored[c];
			if (!(want & (1u << c)) || !raw[c])
				continue;
			if (ZSTD_getFrameContentSize(z, stored[c]) != raw[c]) {
				buf_adds(err, "block column is not a zstd frame of its stated size");
				return OODA_ECORRUPT;
			}
			const uint8_t *col = unzstd(r, z, stored[c], raw[c], "block column", err);
			if (!col)
				return OODA_ECORRUPT;
			r->col[c].p = col;
			r->col[c].end = col + raw[c];
		}
		return 0;
	}
	unsigned long long raw_len = ZSTD_getFrameContentSize(data, len);
	if (raw_len == ZSTD_CONTENTSIZE_ERROR || raw_len == ZSTD_CONTENTSIZE_UNKNOWN ||
	    raw_len > (256u << 20)) {
		buf_adds(err, "block is neither OTB2 nor a zstd frame of known size");
		return OODA_ECORRUPT;
	}
	const uint8_t *raw = unzstd(r, data, len, raw_len, "block", err);
	if (!raw)
		return OODA_ECORRUPT;
	struct cur hdr = { raw, raw + raw_len };
	const uint8_t *magic = get_bytes(r, &hdr, 4);
	if (!magic || memcmp(magic, "OTB1", 4)) {
		buf_adds(err, "block has no OTB1 header");
		return OODA_ECORRUPT;
	}
	if (block_header(r, &hdr, signal, n, err))
		return OODA_ECORRUPT;
	uint64_t lens[C_COUNT];
	for (int c = 0; c < C_COUNT; c++)
		lens[c] = get_uv(r, &hdr);
	const uint8_t *p = hdr.p;
	for (int c = 0; c < C_COUNT; c++) {
		if (r->bad || lens[c] > (uint64_t)(hdr.end - p)) {
			buf_adds(err, "block column lengths exceed the block");
			return OODA_ECORRUPT;
		}
		r->col[c].p = p;
		r->col[c].end = p + lens[c];
		p += lens[c];
	}
	return 0;
}

/*
 * Indexes the dictionary column. eager: copy every string out now (a reader
 * of attributes reads nearly all of them, and in order is cheaper);
 * otherwise each is copied on first use.
 */
static int dict_open(struct reader *r, bool eager, struct buf *err)
{
	struct cur d = r->col[C_DICT];
	uint32_t nd = 0;
	while (d.p < d.end && !r->bad) {
		uint64_t l = get_uv(r, &d);
		if (!get_bytes(r, &d, l))
			break;
		nd++;
	}
	if (r->bad) {
		buf_addf(err, "block dictionary: %s", r->why);
		return OODA_ECORRUPT;
	}
	r->ndict = nd;
	r->dict = eager ? arena_alloc(r->a, (nd + 1) * sizeof(char *)) : arena_zalloc(r->a, (nd + 1) * sizeof(char *));
	r->dsrc = eager ? NULL : arena_alloc(r->a, (nd + 1) * sizeof(uint8_t *));
	r->dlen = arena_alloc(r->a, (nd + 1) * sizeof(uint32_t));
	r->res = arena_zalloc(r->a, (nd + 1) * sizeof(struct resource *));
	d = r->col[C_DICT];
	for (uint32_t i = 1; i <= nd; i++) {
		uint64_t l = get_uv(r, &d);
		const uint8_t *str = get_bytes(r, &d, l);
		r->dlen[i] = (uint32_t)l;
		if (eager)
			r->dict[i] = arena_strndup(r->a, (const char *)str, l);
		else
			r->dsrc[i] = str;
	}
	return 0;
}

int tblock_decode_some(int signal, const void *data, size_t len, unsigned skip, struct arena *arena,
		       struct telemetry_batch *batch, struct buf *err)
{
	struct reader r = { .a = arena, .skip = signal == SIGNAL_LOGS ? skip : 0 };
	unsigned want = (1u << C_COUNT) - 1;
	if (r.skip & TBLOCK_SKIP_BODY)
		want &= ~(1u << C_BODY);
	if (r.skip & TBLOCK_SKIP_ATTRS)
		want &= ~(1u << C_ATTR);
	uint64_t n;
	int rc = block_open(&r, signal, data, len, want, &n, err);
	if (!rc)
		rc = dict_open(&r, !(r.skip & TBLOCK_SKIP_ATTRS), err);
	if (rc)
		return rc;
	int64_t prev = 0;
	if (signal == SIGNAL_LOGS) {
		batch->logs = arena_alloc(arena, (n + 1) * sizeof(struct log_record));
		for (uint64_t i = 0; i < n && !r.bad; i++)
			decode_log(&r, &batch->logs[i], &prev);
		batch->n_logs = r.bad ? 0 : n;
	} else if (signal == SIGNAL_SPANS) {
		batch->spans = arena_alloc(arena, (n + 1) * sizeof(struct span));
		for (uint64_t i = 0; i < n && !r.bad; i++)
			decode_span(&r, &batch->spans[i], &prev);
		batch->n_spans = r.bad ? 0 : n;
	} else if (signal == SIGNAL_METRICS) {
		batch->points = arena_alloc(arena, (n + 1) * sizeof(struct metric_point));
		for (uint64_t i = 0; i < n && !r.bad; i++)
			decode_point(&r, &batch->points[i], &prev);
		batch->n_points = r.bad ? 0 : n;
	} else {
		buf_addf(err, "blocks of signal %d do not exist", signal);
		return OODA_ECORRUPT;
	}
	if (r.bad) {
		buf_addf(err, "block data: %s", r.why);
		return OODA_ECORRUPT;
	}
	return 0;
}

/* ---- counting columns (facets) ------------------------------------------ */

/* Skips one attribute value of type ty in c. */
static void skip_attr_value(struct reader *r, struct cur *c, uint8_t ty)
{
	switch (ty) {
	case 0:
	case 2:
		get_uv(r, c);
		break;
	case 1:
	case 5:
	case 6:
		get_bytes(r, c, get_uv(r, c));
		break;
	case 3:
		get_bytes(r, c, 8);
		break;
	case 4:
		get_bytes(r, c, 1);
		break;
	default:
		r->bad = true;
		r->why = "unknown attribute type";
	}
}

/*
 * The dictionary id of s as a reader of C strings sees it (a stored string
 * ends at its first NUL), 0 if the block does not hold it; false when two
 * stored strings read as s.
 */
static bool dict_find(const struct reader *r, const char *s, uint32_t *id)
{
	size_t len = strlen(s);
	*id = 0;
	for (uint32_t i = 1; i <= r->ndict; i++)
		if (r->dlen[i] >= len && !memcmp(r->dsrc[i], s, len) && (r->dlen[i] == len || !r->dsrc[i][len])) {
			if (*id)
				return false;
			*id = i;
		}
	return true;
}

int tblock_logcols_decode(const void *data, size_t len, const char *const *keys, size_t n_keys,
			  struct arena *arena, struct tblock_logcols *out, struct buf *err)
{
	memset(out, 0, sizeof(*out));
	if (n_keys > TBLOCK_COLS_MAX_KEYS)
		n_keys = TBLOCK_COLS_MAX_KEYS;
	struct reader *r = arena_zalloc(arena, sizeof(*r));
	r->a = arena;
	bool any_key = false;
	for (size_t k = 0; k < n_keys; k++)
		any_key |= keys[k] != NULL;
	unsigned want = 1u << C_DICT | 1u << C_TIME | 1u << C_U8 | 1u << C_RES | (any_key ? 1u << C_ATTR : 0);
	uint64_t n;
	int rc = block_open(r, SIGNAL_LOGS, data, len, want, &n, err);
	if (!rc)
		rc = dict_open(r, false, err);
	if (rc)
		return rc;
	out->reader = r;
	out->n = (uint32_t)n;
	out->n_ids = r->ndict;
	int64_t *time = arena_alloc(arena, (n + 1) * sizeof(int64_t));
	uint8_t *sev = arena_alloc(arena, n + 1);
	uint32_t *res = arena_alloc(arena, (n + 1) * sizeof(uint32_t));
	uint32_t *slot = arena_zalloc(arena, (r->ndict + 1) * sizeof(uint32_t)); /* resource id -> index + 1 */
	const struct resource **resources = arena_alloc(arena, (n + 1) * sizeof(*resources));
	uint32_t key_id[TBLOCK_COLS_MAX_KEYS], *vals[TBLOCK_COLS_MAX_KEYS];
	for (size_t k = 0; k < n_keys; k++) {
		key_id[k] = 0;
		vals[k] = NULL;
		if (!keys[k])
			continue;
		if (!dict_find(r, keys[k], &key_id[k]))
			return 1;
		vals[k] = arena_zalloc(arena, (n + 1) * sizeof(uint32_t));
		out->values[k] = vals[k];
	}
	int64_t prev = 0;
	struct cur *ct = &r->col[C_TIME], *cu = &r->col[C_U8], *cr = &r->col[C_RES], *ca = &r->col[C_ATTR];
	for (uint64_t i = 0; i < n && !r->bad; i++) {
		prev += get_sv(r, ct);
		time[i] = prev;
		sev[i] = get_u8(r, cu);
		get_u8(r, cu); /* id flags */
		uint64_t rid = get_uv(r, cr);
		if (rid > r->ndict || !rid) {
			r->bad = true;
			r->why = rid ? "dictionary index out of range" : "missing resource";
			break;
		}
		if (!slot[rid]) {
			resources[out->n_resources] = resource_at(r, rid);
			slot[rid] = ++out->n_resources;
		}
		res[i] = slot[rid] - 1;
		if (!any_key)
			continue;
		uint64_t na = get_uv(r, ca);
		if (na > (uint64_t)(ca->end - ca->p)) {
			r->bad = true;
			r->why = "attribute count beyond the column";
			break;
		}
		for (uint64_t j = 0; j < na && !r->bad; j++) {
			uint64_t kid = get_uv(r, ca);
			uint8_t ty = get_u8(r, ca);
			bool wanted = false; /* by a key this record has not had yet (the first one counts) */
			for (size_t k = 0; k < n_keys; k++)
				wanted |= kid && key_id[k] == kid && !vals[k][i];
			if (!wanted) {
				skip_attr_value(r, ca, ty);
				continue;
			}
			uint64_t v = ty == 0 ? get_uv(r, ca) : 0;
			if (!v) /* not a dictionary string (or an empty one): rendered by the caller's full decode */
				return 1;
			if (v > r->ndict) {
				r->bad = true;
				r->why = "dictionary index out of range";
				break;
			}
			for (size_t k = 0; k < n_keys; k++)
				if (key_id[k] == kid && !vals[k][i])
					vals[k][i] = (uint32_t)v;
		}
	}
	out->time = time;
	out->severity = sev;
	out->res = res;
	out->resources = resources;
	if (r->bad) {
		buf_addf(err, "block data: %s", r->why);
		return OODA_ECORRUPT;
	}
	return 0;
}

const char *tblock_logcols_str(const struct tblock_logcols *c, uint32_t id)
{
	struct reader *r = c->reader;
	return r && id && id <= r->ndict ? dict_at(r, id, NULL) : NULL;
}

/* ---- tokens ------------------------------------------------------------- */

static inline bool tok_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
	       c >= 0x80;
}

static inline uint64_t tok_mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

/* FNV-1a over the (lowercased) first 64 bytes, then a strong mix for the bloom's bit positions. */
uint64_t tblock_token_hash(const char *tok, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t n = len > 64 ? 64 : len;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)tok[i];
		h = (h ^ (c >= 'A' && c <= 'Z' ? c + 32u : c)) * 0x100000001b3ULL;
	}
	return tok_mix(h ^ n);
}

void tblock_tokens(const char *text, size_t len, void (*fn)(void *ctx, const char *tok, size_t n),
		   void *ctx)
{
	char low[64];
	size_t i = 0;
	while (i < len) {
		while (i < len && !tok_char((unsigned char)text[i]))
			i++;
		size_t start = i, n = 0;
		while (i < len && tok_char((unsigned char)text[i])) {
			if (n < sizeof(low)) {
				unsigned char c = (unsigned char)text[i];
				low[n++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
			}
			i++;
		}
		if (i > start)
			fn(ctx, low, n);
	}
}
