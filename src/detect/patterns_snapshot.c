/*
 * Snapshots of the log template miner (patterns_save, patterns_load in
 * patterns.h): a miner written whole to bytes and read back, so that the
 * daemon's log error classes survive a restart (detect/logclass keeps one
 * per service in the control store). The reader is a decoder of untrusted
 * bytes: everything is bounds-checked and refused with a reason.
 */
#include "detect/patterns.h"
#include "detect/patterns_impl.h"

#include <malloc.h>
#include <xxhash.h>
#include <zlib.h>

#include "core/error.h"

/*
 * Snapshot format, version 1. Fixed-width integers are little-endian; "v"
 * is an unsigned LEB128 varint (at most 10 bytes), "z" a zigzag varint.
 *
 *   header   "OPAT"  u16 version  u16 0  u32 body_len
 *   body     v bucket_ns  v history_buckets  v n_patterns  v n_skeletons
 *            n_patterns patterns, most recently seen first:
 *              u64 id  u64 leaf_key  v leaf_rank
 *              z first_seen  z last_seen  v count
 *              v n_tokens; per token: v (length << 1 | is_variable), the text
 *              v example length, the example
 *              z hist_last  v n_nonzero; per non-zero bucket, oldest first:
 *                v index gap (from the previous one, or from 0)  v count
 *              v n_aliases; u64 per alias
 *            n_skeletons skeletons:
 *              u64 key  v n; v pattern index per member
 *   trailer  u32 CRC-32 (zlib) of header and body
 *
 * Templates and token hashes are not stored: they follow from the token
 * texts and their variable flags. leaf_key and leaf_rank (the place in its
 * leaf's list of candidates) keep routing and its tie-breaks as they were;
 * the skeletons are the merge cache, so that siblings seen before a save
 * still count towards a merge after it. Loading a snapshot into a miner
 * that then sees the same lines gives the same ids as never saving.
 */
#define SNAP_MAGIC "OPAT"
#define SNAP_HEADER 12
#define SNAP_MIN_PATTERN 25 /* bytes of the smallest pattern: two u64 and nine one-byte varints */
#define SNAP_MIN_SKELETON 10
#define HIST_MIN (INT64_MIN / 2)
#define HIST_MAX (INT64_MAX / 2)

static void put_le(struct buf *b, uint64_t v, size_t n)
{
	uint8_t x[8];
	for (size_t i = 0; i < n; i++)
		x[i] = (uint8_t)(v >> (8 * i));
	buf_add(b, x, n);
}

static void put_v(struct buf *b, uint64_t v)
{
	uint8_t x[10];
	size_t n = 0;
	while (v >= 0x80) {
		x[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	x[n++] = (uint8_t)v;
	buf_add(b, x, n);
}

static void put_z(struct buf *b, int64_t v)
{
	put_v(b, v < 0 ? ~((uint64_t)v << 1) : (uint64_t)v << 1);
}

static uint64_t get_le(const uint8_t *s, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)s[i] << (8 * i);
	return v;
}

/* Whether c is still a member of skeleton key: alive, and key is one of its skeletons. */
static bool skeleton_member(const struct patterns *p, const struct cluster *c, uint64_t key)
{
	uint64_t sum = cluster_sum(c);
	for (uint32_t i = 0; i < c->n_tok; i++)
		if (c->tok[i] != p->wild && skeleton_key(p, c, sum, i) == key)
			return true;
	return false;
}

void patterns_save(const struct patterns *p, struct buf *out)
{
	size_t start = out->len;
	buf_add(out, SNAP_MAGIC, 4);
	put_le(out, PATTERNS_SNAPSHOT_VERSION, 2);
	put_le(out, 0, 2);
	put_le(out, 0, 4); /* body length, filled in below */
	uint32_t nh = p->cfg.history_buckets;
	put_v(out, (uint64_t)p->cfg.bucket_ns);
	put_v(out, nh);
	put_v(out, p->n_used);

	/* skeleton members are written as indexes into the list of patterns */
	uint32_t *index_of = xmalloc((size_t)p->cfg.max_patterns * sizeof(*index_of));
	uint32_t k = 0;
	for (uint32_t s = p->lru_head; s != NIL; s = p->pool[s]->lru_next)
		index_of[s] = k++;
	struct buf skel = BUF_INIT;
	uint32_t n_skel = 0;
	for (size_t e = 0; e <= p->skel_mask; e++) {
		const struct skeleton *sk = &p->skel[e];
		if (!sk->key)
			continue;
		uint32_t live[MAX_DISTINCT], n = 0;
		for (uint32_t j = 0; j < sk->n; j++) {
			const struct cluster *m = p->pool[sk->slot[j]];
			if (m && m->id == sk->id[j] && skeleton_member(p, m, sk->key))
				live[n++] = index_of[sk->slot[j]];
		}
		if (!n)
			continue; /* members gone: the same as an empty entry */
		put_le(&skel, sk->key, 8);
		put_v(&skel, n);
		for (uint32_t j = 0; j < n; j++)
			put_v(&skel, live[j]);
		n_skel++;
	}
	put_v(out, n_skel);

	for (uint32_t s = p->lru_head; s != NIL; s = p->pool[s]->lru_next) {
		const struct cluster *c = p->pool[s];
		uint32_t rank = 0;
		for (uint32_t x = c->leaf_prev; x != NIL; x = p->pool[x]->leaf_prev)
			rank++;
		put_le(out, c->id, 8);
		put_le(out, c->leaf_key, 8);
		put_v(out, rank);
		put_z(out, c->first_seen);
		put_z(out, c->last_seen);
		put_v(out, c->count);
		put_v(out, c->n_tok);
		for (uint32_t i = 0; i < c->n_tok; i++) {
			uint32_t l = c->off[i + 1] - c->off[i];
			put_v(out, (uint64_t)l << 1 | (c->tok[i] == p->wild));
			buf_add(out, c->text + c->off[i], l);
		}
		size_t el = strlen(c->example);
		put_v(out, el);
		buf_add(out, c->example, el);
		put_z(out, c->hist_last);
		uint32_t nz = 0;
		for (uint32_t b = 0; b < nh; b++)
			nz += c->hist[b] != 0;
		put_v(out, nz);
		int64_t prev = -1;
		for (uint32_t b = 0; b < nh; b++)
			if (c->hist[b]) {
				put_v(out, (uint64_t)((int64_t)b - prev - 1));
				put_v(out, c->hist[b]);
				prev = b;
			}
		put_v(out, c->n_alias);
		for (uint32_t a = 0; a < c->n_alias; a++)
			put_le(out, c->alias[a], 8);
	}
	buf_add(out, skel.data, skel.len);
	buf_release(&skel);
	free(index_of);

	size_t body = out->len - start - SNAP_HEADER;
	uint8_t *h = (uint8_t *)out->data + start;
	for (size_t i = 0; i < 4; i++)
		h[8 + i] = (uint8_t)(body >> (8 * i));
	put_le(out, crc32(0, (const Bytef *)out->data + start, (uInt)(out->len - start)), 4);
}

/* A bounds-checked reader over the body; the first failure is kept in err. */
struct rd {
	const uint8_t *p, *end, *base;
	struct buf *err;
	const char *where; /* "pattern", "skeleton" or NULL */
	uint64_t item;
	bool failed;
};

__attribute__((format(printf, 2, 3))) static bool rd_fail(struct rd *r, const char *fmt, ...)
{
	if (r->failed)
		return false;
	r->failed = true;
	buf_adds(r->err, "patterns snapshot: ");
	va_list ap;
	va_start(ap, fmt);
	buf_vaddf(r->err, fmt, ap);
	va_end(ap);
	if (r->where)
		buf_addf(r->err, " (%s %llu, byte %zu)", r->where, (unsigned long long)r->item,
			 (size_t)(r->p - r->base));
	else
		buf_addf(r->err, " (byte %zu)", (size_t)(r->p - r->base));
	return false;
}

static bool rd_bytes(struct rd *r, size_t n, const uint8_t **s, const char *what)
{
	if (r->failed)
		return false;
	if ((size_t)(r->end - r->p) < n)
		return rd_fail(r, "truncated: %zu bytes of %s, %zu left", n, what, (size_t)(r->end - r->p));
	*s = r->p;
	r->p += n;
	return true;
}

static bool rd_u64(struct rd *r, uint64_t *v, const char *what)
{
	const uint8_t *s = NULL;
	if (!rd_bytes(r, 8, &s, what))
		return false;
	*v = get_le(s, 8);
	return true;
}

/* A varint no larger than max. */
static bool rd_v(struct rd *r, uint64_t max, uint64_t *v, const char *what)
{
	if (r->failed)
		return false;
	uint64_t x = 0;
	for (unsigned shift = 0;; shift += 7) {
		if (r->p == r->end)
			return rd_fail(r, "truncated in %s", what);
		uint8_t b = *r->p++;
		if (shift == 63 && b > 1)
			return rd_fail(r, "%s: varint overflows 64 bits", what);
		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			break;
		if (shift == 63)
			return rd_fail(r, "%s: varint longer than 10 bytes", what);
	}
	if (x > max)
		return rd_fail(r, "%s %llu is beyond the limit %llu", what, (unsigned long long)x,
			       (unsigned long long)max);
	*v = x;
	return true;
}

static bool rd_z(struct rd *r, int64_t *v, const char *what)
{
	uint64_t u;
	if (!rd_v(r, UINT64_MAX, &u, what))
		return false;
	*v = (u & 1) ? (int64_t)~(u >> 1) : (int64_t)(u >> 1);
	return true;
}

/* Text of a token or example: printable, as the miner keeps it. */
static bool rd_text(struct rd *r, size_t n, const uint8_t **s, const char *what)
{
	if (!rd_bytes(r, n, s, what))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((*s)[i] < ' ' || (*s)[i] == 0x7f) {
			r->p = *s + i;
			return rd_fail(r, "%s holds control byte 0x%02x", what, (*s)[i]);
		}
	return true;
}

/*
 * Bucket b of width w (a snapshot's) as a bucket of p's width, in the range
 * the history arithmetic allows; false if it falls outside.
 */
static bool rebucket(const struct patterns *p, int64_t b, int64_t w, int64_t *out)
{
	int64_t t;
	if (w == p->cfg.bucket_ns) {
		*out = b;
	} else {
		if (__builtin_mul_overflow(b, w, &t))
			return false;
		*out = bucket_of(p, t);
	}
	return *out >= HIST_MIN && *out <= HIST_MAX;
}

struct snap_head {
	int64_t bucket_ns;
	uint32_t n_hist;
};

/*
 * Reads one pattern into a new cluster (not yet in the pool). Uses p's
 * scratch for the token texts. NULL on failure (detail in r).
 */
static struct cluster *rd_pattern(struct patterns *p, struct rd *r, const struct snap_head *h)
{
	uint64_t id, lkey, rank, count, n_tok;
	int64_t first, last;
	if (!rd_u64(r, &id, "id") || !rd_u64(r, &lkey, "leaf key") || !rd_v(r, UINT32_MAX, &rank, "leaf rank") ||
	    !rd_z(r, &first, "first seen") || !rd_z(r, &last, "last seen") || !rd_v(r, UINT64_MAX, &count, "count") ||
	    !rd_v(r, p->cfg.max_tokens, &n_tok, "token count"))
		return NULL;
	if (!id) {
		rd_fail(r, "id 0");
		return NULL;
	}
	if (!count) {
		rd_fail(r, "a count of 0");
		return NULL;
	}
	size_t text_max = 3 * (size_t)p->cfg.max_line + 16, text_len = 0;
	for (uint32_t i = 0; i < n_tok; i++) {
		uint64_t lv;
		const uint8_t *s = NULL;
		if (!rd_v(r, (uint64_t)(text_max - text_len) << 1 | 1, &lv, "token length") ||
		    !rd_text(r, (size_t)(lv >> 1), &s, "token text"))
			return NULL;
		size_t l = (size_t)(lv >> 1);
		p->off[i] = (uint32_t)text_len;
		memcpy(p->masked + text_len, s, l);
		text_len += l;
		uint64_t hsh = (l == 3 && !memcmp(s, WILD_TEXT, 3)) ? p->wild : XXH3_64bits(s, l);
		p->tok[i] = (lv & 1) ? p->wild : hsh;
	}
	p->off[n_tok] = (uint32_t)text_len;
	uint64_t ex_len;
	const uint8_t *ex = NULL;
	if (!rd_v(r, (uint64_t)(r->end - r->p), &ex_len, "example length") || !rd_text(r, (size_t)ex_len, &ex, "example"))
		return NULL;
	size_t keep_ex = ex_len < p->cfg.max_example ? (size_t)ex_len : p->cfg.max_example;

	int64_t hist_last;
	uint64_t nz;
	if (!rd_z(r, &hist_last, "history end") || !rd_v(r, h->n_hist, &nz, "non-zero buckets"))
		return NULL;
	if (hist_last < HIST_MIN || hist_last > HIST_MAX) {
		rd_fail(r, "history end %lld is out of range", (long long)hist_last);
		return NULL;
	}
	struct cluster *c = pat_cluster_alloc(p, (uint32_t)n_tok, text_len, template_cap(p->off, (uint32_t)n_tok), keep_ex);
	c->id = id;
	c->leaf_key = lkey;
	c->leaf_prev = (uint32_t)rank; /* parked here until the leaves are linked */
	c->first_seen = first;
	c->last_seen = last;
	c->count = count;
	memcpy(c->off, p->off, (n_tok + 1) * sizeof(uint32_t));
	memcpy(c->text, p->masked, text_len);
	for (uint32_t i = 0; i < n_tok; i++) {
		c->tok[i] = p->tok[i];
		c->n_wild += p->tok[i] == p->wild;
	}
	memcpy(c->example, ex, keep_ex);
	c->example[keep_ex] = '\0';
	pat_rebuild_template(p, c);

	uint32_t nh = p->cfg.history_buckets;
	memset(c->hist, 0, nh * sizeof(*c->hist));
	bool same = h->bucket_ns == p->cfg.bucket_ns;
	if (!rebucket(p, hist_last, h->bucket_ns, &c->hist_last)) {
		rd_fail(r, "history end %lld does not fit buckets of %lld ns", (long long)hist_last,
			(long long)p->cfg.bucket_ns);
		goto fail;
	}
	for (uint64_t j = 0, idx = 0; j < nz; j++, idx++) {
		uint64_t gap, k;
		if (!rd_v(r, h->n_hist - 1 - idx, &gap, "bucket gap") || !rd_v(r, UINT32_MAX, &k, "bucket count"))
			goto fail;
		idx += gap;
		if (!k) {
			rd_fail(r, "an empty bucket listed as non-zero");
			goto fail;
		}
		int64_t back = (int64_t)(h->n_hist - 1 - idx), b;
		if (same) {
			if (back < (int64_t)nh)
				c->hist[nh - 1 - back] = (uint32_t)k;
		} else if (rebucket(p, hist_last - back, h->bucket_ns, &b)) {
			pat_hist_add(p, c, b, (uint32_t)k);
		}
		if (j + 1 < nz && idx + 1 >= h->n_hist) {
			rd_fail(r, "more non-zero buckets than history buckets");
			goto fail;
		}
	}

	uint64_t n_alias;
	if (!rd_v(r, MAX_ALIAS, &n_alias, "alias count"))
		goto fail;
	if (n_alias) {
		c->alias = xmalloc(n_alias * sizeof(*c->alias));
		c->cap_alias = (uint32_t)n_alias;
	}
	for (uint32_t a = 0; a < n_alias; a++) {
		if (!rd_u64(r, &c->alias[a], "alias"))
			goto fail;
		c->n_alias++;
		if (!c->alias[a]) {
			rd_fail(r, "alias 0");
			goto fail;
		}
	}
	return c;
fail:
	free(c->alias);
	free(c);
	return NULL;
}

struct link_order {
	uint64_t key;
	uint32_t rank, slot;
};

static int cmp_link(const void *a, const void *b)
{
	const struct link_order *x = a, *y = b;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	return x->slot < y->slot ? -1 : x->slot > y->slot;
}

/* Puts id into the id table for slot; false (detail in r) if it is held already. */
static bool index_id(struct patterns *p, struct rd *r, uint64_t id, uint32_t slot)
{
	if (table_get(&p->ids, id) != NIL)
		return rd_fail(r, "id %016llx appears twice", (unsigned long long)id);
	if (p->ids.n >= (p->ids.mask + 1) / 2)
		return rd_fail(r, "more ids and aliases than a miner of %u patterns indexes", p->cfg.max_patterns);
	pat_table_put(&p->ids, id, slot);
	return true;
}

/* Fills the empty miner p from a snapshot; on failure p is left for the caller to destroy. */
static int load_into(struct patterns *p, const uint8_t *d, size_t len, struct buf *err)
{
	if (len < SNAP_HEADER + 4) {
		buf_addf(err, "patterns snapshot: %zu bytes, shorter than header and checksum", len);
		return OODA_ECORRUPT;
	}
	if (memcmp(d, SNAP_MAGIC, 4)) {
		buf_adds(err, "patterns snapshot: not a patterns snapshot (bad magic)");
		return OODA_ECORRUPT;
	}
	unsigned version = (unsigned)get_le(d + 4, 2);
	if (version != PATTERNS_SNAPSHOT_VERSION) {
		buf_addf(err, "patterns snapshot: version %u, this ooda reads version %d", version,
			 PATTERNS_SNAPSHOT_VERSION);
		return OODA_ESCHEMA;
	}
	if (get_le(d + 6, 2)) {
		buf_adds(err, "patterns snapshot: reserved header bytes are not zero");
		return OODA_ECORRUPT;
	}
	uint64_t body = get_le(d + 8, 4);
	if (len - SNAP_HEADER - 4 != body) {
		buf_addf(err, "patterns snapshot: the header says %llu body bytes, there are %zu (%s)",
			 (unsigned long long)body, len - SNAP_HEADER - 4,
			 len - SNAP_HEADER - 4 < body ? "truncated" : "trailing bytes");
		return OODA_ECORRUPT;
	}
	uint32_t want = (uint32_t)get_le(d + SNAP_HEADER + body, 4);
	if ((uint32_t)crc32(0, d, (uInt)(SNAP_HEADER + body)) != want) {
		buf_adds(err, "patterns snapshot: checksum mismatch, the bytes are corrupt");
		return OODA_ECORRUPT;
	}
	struct rd r = { .p = d + SNAP_HEADER, .end = d + SNAP_HEADER + body, .base = d, .err = err };
	uint64_t bucket_ns, n_hist, n_pat, n_skel;
	if (!rd_v(&r, INT64_MAX, &bucket_ns, "bucket width") || !rd_v(&r, 10080, &n_hist, "history buckets") ||
	    !rd_v(&r, (uint64_t)(r.end - r.p) / SNAP_MIN_PATTERN, &n_pat, "pattern count") ||
	    !rd_v(&r, (uint64_t)(r.end - r.p) / SNAP_MIN_SKELETON, &n_skel, "skeleton count"))
		return OODA_ECORRUPT;
	if (!bucket_ns || !n_hist) {
		rd_fail(&r, "bucket width and history buckets must not be 0");
		return OODA_ECORRUPT;
	}
	struct snap_head h = { (int64_t)bucket_ns, (uint32_t)n_hist };
	uint32_t keep = n_pat < p->cfg.max_patterns ? (uint32_t)n_pat : p->cfg.max_patterns;
	r.where = "pattern";
	for (r.item = 0; r.item < n_pat; r.item++) {
		struct cluster *c = rd_pattern(p, &r, &h);
		if (!c)
			return OODA_ECORRUPT;
		if (r.item >= keep) { /* beyond max_patterns: the least recently seen are left out */
			free(c->alias);
			free(c);
			continue;
		}
		uint32_t slot = (uint32_t)r.item;
		p->pool[slot] = c;
		p->n_used++;
		p->bytes += malloc_usable_size(c) + malloc_usable_size(c->alias);
		if (!index_id(p, &r, c->id, slot))
			return OODA_ECORRUPT;
		for (uint32_t a = 0; a < c->n_alias; a++)
			if (!index_id(p, &r, c->alias[a], slot))
				return OODA_ECORRUPT;
	}
	r.where = "skeleton";
	for (r.item = 0; r.item < n_skel; r.item++) {
		uint64_t key, n, idx[MAX_DISTINCT];
		if (!rd_u64(&r, &key, "key") || !rd_v(&r, MAX_DISTINCT - 1, &n, "member count"))
			return OODA_ECORRUPT;
		if (!key || !n) {
			rd_fail(&r, "%s", key ? "no members" : "key 0");
			return OODA_ECORRUPT;
		}
		uint32_t live = 0;
		struct skeleton e = { .key = key };
		for (uint32_t j = 0; j < n; j++) {
			if (!rd_v(&r, n_pat - 1, &idx[j], "member"))
				return OODA_ECORRUPT;
			for (uint32_t q = 0; q < j; q++)
				if (idx[q] == idx[j]) {
					rd_fail(&r, "pattern %llu is a member twice", (unsigned long long)idx[j]);
					return OODA_ECORRUPT;
				}
			if (idx[j] < keep) {
				e.slot[live] = (uint32_t)idx[j];
				e.id[live++] = p->pool[idx[j]]->id;
			}
		}
		e.n = live;
		if (live)
			p->skel[(key ^ (key >> 32)) & p->skel_mask] = e;
	}
	if (r.p != r.end) {
		r.where = NULL;
		rd_fail(&r, "%zu bytes after the last skeleton", (size_t)(r.end - r.p));
		return OODA_ECORRUPT;
	}

	/* the pool holds slots 0..keep-1; the free list hands out the rest in order */
	p->n_free = p->cfg.max_patterns - keep;
	for (uint32_t i = 0; i < p->n_free; i++)
		p->free_slots[i] = p->cfg.max_patterns - 1 - i;
	for (uint32_t i = keep; i-- > 0;)
		pat_lru_push_front(p, i);
	struct link_order *order = xmalloc((keep + 1) * sizeof(*order));
	for (uint32_t i = 0; i < keep; i++)
		order[i] = (struct link_order){ p->pool[i]->leaf_key, p->pool[i]->leaf_prev, i };
	qsort(order, keep, sizeof(*order), cmp_link);
	for (uint32_t i = keep; i-- > 0;)
		pat_leaf_link(p, order[i].slot, order[i].key); /* pushes to the front: rank 0 ends first */
	free(order);
	return 0;
}

int patterns_load(const struct patterns_config *c, const void *data, size_t len, struct patterns **out,
		  struct buf *err)
{
	struct buf local = BUF_INIT;
	struct patterns *p;
	int rc = patterns_create(c, &p, err ? err : &local);
	if (!rc) {
		rc = load_into(p, data, len, err ? err : &local);
		if (rc)
			patterns_destroy(p);
		else
			*out = p;
	}
	buf_release(&local);
	return rc;
}
