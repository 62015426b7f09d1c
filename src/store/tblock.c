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
 * tblock_write.c writes blocks; this file reads them. A reader decodes the
 * dictionary first, then walks the columns in step,
 * checking each length before it reads: a damaged block is an error, never
 * a crash.
 */
#include "store/tblock_impl.h"
#include "core/error.h"
#include "core/hex.h"

#include <math.h>
#include <pthread.h>
#include <xxhash.h>
#include <zstd.h>

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
	p->prom_native = (fl & 16) != 0;
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
	ZSTD_DCtx *dctx = tblock_dctx();
	size_t got = dctx ? ZSTD_decompressDCtx(dctx, out, raw, z, zlen) : 0;
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
