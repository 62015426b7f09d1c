/*
 * The insides of the log template miner, shared by patterns.c (mining) and
 * patterns_snapshot.c (saving and loading): the pool of clusters, the hash
 * tables, the merge cache, and the few helpers both use. Only patterns*.c
 * include this; everyone else goes through patterns.h.
 */
#ifndef OODA_DETECT_PATTERNS_IMPL_H
#define OODA_DETECT_PATTERNS_IMPL_H

#include "detect/patterns.h"

#define NIL UINT32_MAX
#define WILD_TEXT "<*>"

struct cluster {
	uint64_t id;
	uint64_t leaf_key;
	uint32_t lru_prev, lru_next;   /* most recently seen at p->lru_head */
	uint32_t leaf_prev, leaf_next; /* candidates sharing leaf_key */
	uint32_t n_tok;
	uint32_t n_wild;
	int64_t first_seen, last_seen;
	uint64_t count;
	int64_t hist_last;   /* bucket number of hist[n_hist - 1] */
	uint64_t *tok;       /* token hashes; p->wild for variables */
	uint32_t *off;       /* n_tok + 1 offsets of token texts in text */
	char *text;          /* masked tokens of the creating line, back to back */
	char *tmpl;          /* current template, NUL-terminated */
	char *example;       /* first line, NUL-terminated */
	uint32_t *hist;      /* counts over time, oldest first */
	uint64_t *alias;     /* ids of patterns merged into this one */
	uint32_t n_alias, cap_alias;
};

#define MAX_ALIAS 64
#define MAX_DISTINCT 8

/*
 * One entry of the skeleton cache: patterns that are equal but for one
 * position share the skeleton key (their token hashes summed with that
 * position set to "<*>"). Direct-mapped and lossy: a clash overwrites.
 */
struct skeleton {
	uint64_t key;
	uint32_t n;
	uint32_t slot[MAX_DISTINCT];
	uint64_t id[MAX_DISTINCT];
};

/* Open addressing with linear probing, key 0 = empty, backward-shift delete. */
struct table {
	uint64_t *keys;
	uint32_t *vals;
	size_t mask;
	size_t n; /* keys held */
};

struct patterns {
	struct patterns_config cfg;
	struct cluster **pool; /* cfg.max_patterns slots, NULL when free */
	uint32_t *free_slots;
	uint32_t n_free;
	uint32_t n_used;
	uint32_t lru_head, lru_tail;
	struct table ids;      /* id -> pool slot */
	struct table leaves;   /* leaf key -> first pool slot of the leaf */
	struct skeleton *skel; /* skel_mask + 1 entries */
	size_t skel_mask;
	uint64_t wild;         /* hash of "<*>" */
	size_t bytes;          /* memory held by clusters */
	/* scratch for one line */
	char *masked;
	uint64_t *tok;
	uint32_t *off;
	uint8_t *is_var;
};

/* ---- helpers both files use ------------------------------------------------ */

static inline uint64_t table_key(uint64_t k)
{
	return k ? k : 1;
}

static inline uint32_t table_get(const struct table *t, uint64_t key)
{
	key = table_key(key);
	for (size_t i = (size_t)(key ^ (key >> 29)) & t->mask;; i = (i + 1) & t->mask) {
		if (t->keys[i] == key)
			return t->vals[i];
		if (!t->keys[i])
			return NIL;
	}
}

static inline int64_t bucket_of(const struct patterns *p, int64_t t_ns)
{
	int64_t w = p->cfg.bucket_ns;
	return t_ns >= 0 ? t_ns / w : -((-(t_ns + 1)) / w) - 1;
}

static inline uint64_t mix(uint64_t tok, uint32_t pos)
{
	uint64_t x = tok ^ ((uint64_t)(pos + 1) * UINT64_C(0x9E3779B97F4A7C15));
	x ^= x >> 31;
	x *= UINT64_C(0xbf58476d1ce4e5b9);
	x ^= x >> 29;
	return x;
}

static inline uint64_t cluster_sum(const struct cluster *c)
{
	uint64_t h = (uint64_t)c->n_tok * UINT64_C(0xff51afd7ed558ccd);
	for (uint32_t i = 0; i < c->n_tok; i++)
		h += mix(c->tok[i], i);
	return h;
}

/* The skeleton key of c with position i taken as "<*>". */
static inline uint64_t skeleton_key(const struct patterns *p, const struct cluster *c, uint64_t sum, uint32_t i)
{
	uint64_t k = sum - mix(c->tok[i], i) + mix(p->wild, i);
	return k ? k : 1;
}

/* Bytes pat_rebuild_template may write for tokens whose texts span off[0..n]. */
static inline size_t template_cap(const uint32_t *off, uint32_t n)
{
	size_t cap = n + 1;
	for (uint32_t i = 0; i < n; i++) {
		size_t l = off[i + 1] - off[i];
		cap += l > 3 ? l : 3;
	}
	return cap;
}

/* Inserts or replaces. The table never fills: it holds at most half its capacity. */
void pat_table_put(struct table *t, uint64_t key, uint32_t val);

/* Writes c's template from its token texts, "<*>" where a token is a variable. */
void pat_rebuild_template(const struct patterns *p, struct cluster *c);

/* Makes slot the most recently seen pattern. */
void pat_lru_push_front(struct patterns *p, uint32_t slot);

/* Puts slot first in the candidates of leaf key. */
void pat_leaf_link(struct patterns *p, uint32_t slot, uint64_t key);

/*
 * One allocation holding a cluster and its arrays for n tokens, text_len
 * bytes of token text, a template of tmpl_cap bytes and an example of
 * ex_len bytes plus its NUL. Zeroed header, no alias array yet. Aborts when
 * memory runs out, like buf.
 */
struct cluster *pat_cluster_alloc(const struct patterns *p, uint32_t n, size_t text_len, size_t tmpl_cap,
				  size_t ex_len);

/* Adds k lines to bucket b of c's history, sliding the window forward if b is new. */
void pat_hist_add(const struct patterns *p, struct cluster *c, int64_t b, uint32_t k);

#endif
