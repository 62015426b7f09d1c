/*
 * The log template miner behind patterns.h, in the "orient" stage: each log
 * body is tokenised on whitespace, variable parts of each token are masked
 * by hand-written classifiers (no regex on the hot path), the line is routed
 * by token count and leading tokens to one leaf of candidate patterns
 * (a flattened Drain-style parse tree held in one hash table), and the most
 * similar candidate absorbs it or a new pattern is created. Patterns live
 * in a fixed pool with an LRU list, so memory stays bounded; ids are hashes
 * of the template at creation and never change afterwards.
 */
#include "detect/patterns.h"

#include <malloc.h>
#include <xxhash.h>
#include <zlib.h>

#include "core/error.h"

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

/* ---- hash tables --------------------------------------------------------- */

static int table_init(struct table *t, size_t min_entries)
{
	size_t cap = 16;
	while (cap < min_entries * 2)
		cap <<= 1;
	t->keys = calloc(cap, sizeof(*t->keys));
	t->vals = calloc(cap, sizeof(*t->vals));
	t->mask = cap - 1;
	return t->keys && t->vals ? 0 : OODA_ENOMEM;
}

static void table_release(struct table *t)
{
	free(t->keys);
	free(t->vals);
}

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

/* Inserts or replaces. The table never fills: it holds at most half its capacity. */
static void table_put(struct table *t, uint64_t key, uint32_t val)
{
	key = table_key(key);
	size_t i = (size_t)(key ^ (key >> 29)) & t->mask;
	while (t->keys[i] && t->keys[i] != key)
		i = (i + 1) & t->mask;
	t->n += !t->keys[i];
	t->keys[i] = key;
	t->vals[i] = val;
}

static void table_del(struct table *t, uint64_t key)
{
	key = table_key(key);
	size_t i = (size_t)(key ^ (key >> 29)) & t->mask;
	while (t->keys[i] != key) {
		if (!t->keys[i])
			return;
		i = (i + 1) & t->mask;
	}
	t->n--;
	/* shift later members of the run back so lookups never stop early */
	for (size_t j = (i + 1) & t->mask; t->keys[j]; j = (j + 1) & t->mask) {
		uint64_t k = t->keys[j];
		size_t home = (size_t)(k ^ (k >> 29)) & t->mask;
		if (((j - home) & t->mask) >= ((j - i) & t->mask)) {
			t->keys[i] = k;
			t->vals[i] = t->vals[j];
			i = j;
		}
	}
	t->keys[i] = 0;
}

/* ---- masking ------------------------------------------------------------- */

/*
 * Character classes. SEP splits a token into runs and survives masking
 * verbatim; a run holding a digit is a variable. Word characters include
 * '.', '-', '_', '+', '@', '#', '%' and '~' so that ips, versions, dates,
 * host names, uuids and signed numbers are one run each.
 */
enum { C_WORD = 1, C_DIGIT = 2, C_SEP = 4, C_SPACE = 8, C_CLOSE = 16 };

static uint8_t cls[256];

static void cls_init(void)
{
	if (cls['a'])
		return;
	for (int c = 0; c < 256; c++) {
		uint8_t k = C_WORD;
		if (c >= '0' && c <= '9')
			k = C_WORD | C_DIGIT;
		else if (c <= ' ' || c == 0x7f)
			k = C_SPACE;
		else if (strchr(":;,()[]{}<>=/\\|!?*&$^`\"'", c))
			k = C_SEP;
		if (c && strchr(",;)]}>\"'", c))
			k |= C_CLOSE;
		cls[c] = k;
	}
}

static inline char *put_wild(char *o)
{
	memcpy(o, WILD_TEXT, 3);
	return o + 3;
}

/* s[0..n) is digits, after at most two of '-' and '_' ("blk_-42"). */
static bool lead_then_number(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n && i < 2 && (s[i] == '-' || s[i] == '_'))
		i++;
	if (i == n)
		return false;
	for (; i < n; i++)
		if (!(cls[s[i]] & C_DIGIT))
			return false;
	return true;
}

/*
 * Writes the masked form of token s[0..n) at o and returns the end.
 * Whole-token rules first (paths, URLs), then run by run: a run with a
 * digit, or the value after "key=", becomes "<*>", and a token left with no
 * letters becomes "<*>" as a whole. Quoted words stay words: Loghub-style
 * logs quote states and names that tell messages apart ('Active'); they
 * become variables like any word, by taking distinct values. The output is
 * at most 3n bytes.
 */
static char *mask_token(const unsigned char *s, size_t n, char *o, bool *var)
{
	*var = false;
	if (n >= 2 && (s[0] == '/' || (s[0] == '~' && s[1] == '/') || (s[0] == '.' && s[1] == '/'))) {
		*var = true;
		return put_wild(o);
	}
	for (size_t i = 0; i + 2 < n; i++)
		if (s[i] == ':' && s[i + 1] == '/' && s[i + 2] == '/') {
			*var = true;
			return put_wild(o);
		}
	bool any_digit = false;
	for (size_t i = 0; i < n && !any_digit; i++)
		any_digit = (cls[s[i]] & C_DIGIT) != 0;
	char *o0 = o;
	bool letters = false; /* a letter survived masking */
	size_t i = 0;
	while (i < n) {
		if (cls[s[i]] & C_SEP) {
			bool after_eq = s[i] == '=' && i > 0 && (cls[s[i - 1]] & C_WORD);
			*o++ = (char)s[i++];
			if (after_eq && i < n && !(cls[s[i]] & C_SEP)) {
				/* key=value: the value runs to the next closing delimiter */
				while (i < n && !(cls[s[i]] & C_CLOSE))
					i++;
				o = put_wild(o);
				*var = true;
			}
			continue;
		}
		size_t start = i;
		bool digit = false, hex = true, alpha = false;
		size_t n_lead = 0; /* leading letters */
		while (i < n && !(cls[s[i]] & C_SEP)) {
			unsigned char ch = s[i];
			bool is_alpha = (ch | 0x20) >= 'a' && (ch | 0x20) <= 'z';
			digit |= (cls[ch] & C_DIGIT) != 0;
			hex &= (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
			alpha |= is_alpha;
			if (is_alpha && n_lead == i - start)
				n_lead++;
			i++;
		}
		size_t rl = i - start;
		if (digit && n_lead >= 2 && n_lead < rl && lead_then_number(s + start + n_lead, rl - n_lead)) {
			/* a name with an index, "eth0", "node-12": the name stays */
			memcpy(o, s + start, n_lead);
			o += n_lead;
			if (s[start + n_lead] == '-' || s[start + n_lead] == '_')
				*o++ = (char)s[start + n_lead];
			o = put_wild(o);
			*var = true;
			letters = true;
			continue;
		}
		/* in a token with numbers, "FF" or "fecd" is a hex group, not a word */
		if (digit || (any_digit && hex && (rl == 2 || rl == 4))) {
			o = put_wild(o);
			*var = true;
		} else {
			memcpy(o, s + start, rl);
			o += rl;
			letters |= alpha;
		}
	}
	/* what is left of a masked token without letters is punctuation around variables */
	if (*var && !letters)
		return put_wild(o0);
	return o;
}

/*
 * A unit of size or duration, possibly followed by closing punctuation
 * ("KB)", "ms,"): after a number it is part of the value.
 */
static bool is_unit(const unsigned char *s, size_t n)
{
	static const char *const units[] = { "B", "KB", "kB", "MB", "GB", "TB", "KiB", "MiB", "GiB", "TiB",
					     "ms", "us", "ns" };
	while (n && (cls[s[n - 1]] & C_CLOSE))
		n--;
	if (!n || n > 3)
		return false;
	for (size_t k = 0; k < sizeof(units) / sizeof(units[0]); k++)
		if (strlen(units[k]) == n && !memcmp(units[k], s, n))
			return true;
	return false;
}

/* Whitespace, control bytes and runs of two or more dots separate tokens. */
static inline bool is_space(const unsigned char *s, size_t i, size_t len)
{
	return (cls[s[i]] & C_SPACE) ||
	       (s[i] == '.' && ((i + 1 < len && s[i + 1] == '.') || (i > 0 && s[i - 1] == '.')));
}

/*
 * Tokenises and masks line into p's scratch: p->masked holds the masked
 * tokens back to back, token i spans off[i]..off[i+1], tok[i] is its hash
 * (p->wild when the whole token is "<*>"). Returns the token count.
 */
static uint32_t tokenise(struct patterns *p, const char *line, size_t len)
{
	const unsigned char *s = (const unsigned char *)line;
	if (len > p->cfg.max_line)
		len = p->cfg.max_line;
	char *o = p->masked;
	uint32_t n = 0;
	size_t i = 0;
	while (n < p->cfg.max_tokens) {
		while (i < len && is_space(s, i, len))
			i++;
		if (i == len)
			break;
		size_t start = i;
		while (i < len && !is_space(s, i, len))
			i++;
		char *t0 = o;
		bool var;
		if (n && p->tok[n - 1] == p->wild && is_unit(s + start, i - start)) {
			/* "5.8 KB": the unit belongs to the quantity before it */
			continue;
		}
		o = mask_token(s + start, i - start, o, &var);
		size_t tl = (size_t)(o - t0);
		uint64_t h = (tl == 3 && !memcmp(t0, WILD_TEXT, 3)) ? p->wild : XXH3_64bits(t0, tl);
		if (var && n && p->tok[n - 1] == h) {
			/* a run of like variables is one: lists vary in length */
			o = t0;
			continue;
		}
		p->off[n] = (uint32_t)(t0 - p->masked);
		p->is_var[n] = var;
		p->tok[n] = h;
		n++;
		/* a repeated group of 2 or 3 tokens with a variable is one group */
		for (uint32_t l = 2; l <= 3 && n >= 2 * l; l++) {
			bool same = true, has_var = false;
			for (uint32_t k = 0; k < l && same; k++) {
				same = p->tok[n - l + k] == p->tok[n - 2 * l + k];
				has_var |= p->tok[n - l + k] == p->wild;
			}
			if (same && has_var) {
				n -= l;
				o = p->masked + p->off[n];
				break;
			}
		}
	}
	p->off[n] = (uint32_t)(o - p->masked);
	return n;
}

/* ---- routing and similarity ------------------------------------------- */

#define ROUTE_DEPTH 2

/*
 * The leaf of a line: its token count and first ROUTE_DEPTH tokens, with
 * variable tokens and the positions in wild_mask taken as "<*>".
 */
static uint64_t leaf_key(const struct patterns *p, uint32_t n, unsigned wild_mask)
{
	uint64_t h[1 + ROUTE_DEPTH];
	h[0] = n;
	for (uint32_t i = 0; i < ROUTE_DEPTH; i++)
		h[1 + i] = i < n && !p->is_var[i] && !(wild_mask >> i & 1) ? p->tok[i] : p->wild;
	return XXH3_64bits(h, sizeof(h));
}

static bool token_has_wild(const char *s, size_t n)
{
	for (size_t i = 0; i + 3 <= n; i++)
		if (s[i] == '<' && s[i + 1] == '*' && s[i + 2] == '>')
			return true;
	return false;
}

/* The leaf a pattern belongs in, by the same rule as leaf_key. */
static uint64_t cluster_leaf_key(const struct patterns *p, const struct cluster *c)
{
	uint64_t h[1 + ROUTE_DEPTH];
	h[0] = c->n_tok;
	for (uint32_t i = 0; i < ROUTE_DEPTH; i++) {
		bool wild = i >= c->n_tok || c->tok[i] == p->wild ||
			    token_has_wild(c->text + c->off[i], c->off[i + 1] - c->off[i]);
		h[1 + i] = wild ? p->wild : c->tok[i];
	}
	return XXH3_64bits(h, sizeof(h));
}

/*
 * Share of positions where the pattern has the line's token; positions the
 * pattern already holds as a variable count as agreeing. Gives up with -1
 * past max_miss disagreements (the pattern cannot qualify then).
 */
static double similarity(const struct patterns *p, const struct cluster *c, uint32_t n, uint32_t max_miss)
{
	if (!n)
		return 1.0;
	uint32_t miss = 0;
	for (uint32_t i = 0; i < n; i++) {
		miss += c->tok[i] != p->tok[i] && c->tok[i] != p->wild;
		if (miss > max_miss)
			return -1;
	}
	return (double)(n - miss) / n;
}

/* ---- clusters ------------------------------------------------------------- */

static void rebuild_template(const struct patterns *p, struct cluster *c)
{
	char *o = c->tmpl;
	for (uint32_t i = 0; i < c->n_tok; i++) {
		if (i)
			*o++ = ' ';
		if (c->tok[i] == p->wild) {
			o = put_wild(o);
		} else {
			size_t l = c->off[i + 1] - c->off[i];
			memcpy(o, c->text + c->off[i], l);
			o += l;
		}
	}
	*o = '\0';
}

static void lru_unlink(struct patterns *p, uint32_t slot)
{
	struct cluster *c = p->pool[slot];
	if (c->lru_prev != NIL)
		p->pool[c->lru_prev]->lru_next = c->lru_next;
	else
		p->lru_head = c->lru_next;
	if (c->lru_next != NIL)
		p->pool[c->lru_next]->lru_prev = c->lru_prev;
	else
		p->lru_tail = c->lru_prev;
}

static void lru_push_front(struct patterns *p, uint32_t slot)
{
	struct cluster *c = p->pool[slot];
	c->lru_prev = NIL;
	c->lru_next = p->lru_head;
	if (p->lru_head != NIL)
		p->pool[p->lru_head]->lru_prev = slot;
	p->lru_head = slot;
	if (p->lru_tail == NIL)
		p->lru_tail = slot;
}

static void leaf_link(struct patterns *p, uint32_t slot, uint64_t key)
{
	struct cluster *c = p->pool[slot];
	uint32_t head = table_get(&p->leaves, key);
	c->leaf_key = key;
	c->leaf_prev = NIL;
	c->leaf_next = head;
	if (head != NIL)
		p->pool[head]->leaf_prev = slot;
	table_put(&p->leaves, key, slot);
}

static void leaf_unlink(struct patterns *p, uint32_t slot)
{
	struct cluster *c = p->pool[slot];
	if (c->leaf_prev != NIL)
		p->pool[c->leaf_prev]->leaf_next = c->leaf_next;
	else if (c->leaf_next != NIL)
		table_put(&p->leaves, c->leaf_key, c->leaf_next);
	else
		table_del(&p->leaves, c->leaf_key);
	if (c->leaf_next != NIL)
		p->pool[c->leaf_next]->leaf_prev = c->leaf_prev;
}

static void evict(struct patterns *p, uint32_t slot)
{
	struct cluster *c = p->pool[slot];
	lru_unlink(p, slot);
	leaf_unlink(p, slot);
	table_del(&p->ids, c->id);
	for (uint32_t i = 0; i < c->n_alias; i++)
		table_del(&p->ids, c->alias[i]);
	p->bytes -= malloc_usable_size(c) + malloc_usable_size(c->alias);
	free(c->alias);
	free(c);
	p->pool[slot] = NULL;
	p->free_slots[p->n_free++] = slot;
	p->n_used--;
}

static int64_t bucket_of(const struct patterns *p, int64_t t_ns)
{
	int64_t w = p->cfg.bucket_ns;
	return t_ns >= 0 ? t_ns / w : -((-(t_ns + 1)) / w) - 1;
}

/* Adds k lines to bucket b of c's history, sliding the window forward if b is new. */
static void hist_add(const struct patterns *p, struct cluster *c, int64_t b, uint32_t k)
{
	uint32_t nh = p->cfg.history_buckets;
	if (b > c->hist_last) {
		if (b - c->hist_last >= (int64_t)nh) {
			memset(c->hist, 0, nh * sizeof(*c->hist));
		} else {
			size_t shift = (size_t)(b - c->hist_last);
			memmove(c->hist, c->hist + shift, (nh - shift) * sizeof(*c->hist));
			memset(c->hist + nh - shift, 0, shift * sizeof(*c->hist));
		}
		c->hist_last = b;
	}
	int64_t back = c->hist_last - b;
	if (back < (int64_t)nh) {
		uint32_t *h = &c->hist[nh - 1 - back];
		*h = *h > UINT32_MAX - k ? UINT32_MAX : *h + k;
	}
}

static void count_line(const struct patterns *p, struct cluster *c, int64_t t_ns)
{
	c->count++;
	if (t_ns > c->last_seen)
		c->last_seen = t_ns;
	hist_add(p, c, bucket_of(p, t_ns), 1);
}

static size_t align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

/*
 * One allocation holding a cluster and its arrays: n tokens (hashes and
 * n + 1 offsets), the history, text_len bytes of token text, a template of
 * tmpl_cap bytes and an example of ex_len bytes plus its NUL. Zeroed header,
 * no alias array yet.
 */
static struct cluster *cluster_alloc(const struct patterns *p, uint32_t n, size_t text_len, size_t tmpl_cap,
				     size_t ex_len)
{
	size_t nh = p->cfg.history_buckets;
	size_t sz = align8(sizeof(struct cluster)) + align8(n * sizeof(uint64_t)) +
		    align8((n + 1) * sizeof(uint32_t)) + align8(nh * sizeof(uint32_t)) + text_len + tmpl_cap +
		    ex_len + 1;
	char *mem = malloc(sz);
	if (!mem)
		abort();
	struct cluster *c = (struct cluster *)mem;
	memset(c, 0, sizeof(*c));
	mem += align8(sizeof(*c));
	c->tok = (uint64_t *)mem;
	mem += align8(n * sizeof(uint64_t));
	c->off = (uint32_t *)mem;
	mem += align8((n + 1) * sizeof(uint32_t));
	c->hist = (uint32_t *)mem;
	mem += align8(nh * sizeof(uint32_t));
	c->text = mem;
	mem += text_len;
	c->tmpl = mem;
	mem += tmpl_cap;
	c->example = mem;
	c->n_tok = n;
	return c;
}

/* Bytes rebuild_template may write for tokens whose texts span off[0..n]. */
static size_t template_cap(const uint32_t *off, uint32_t n)
{
	size_t cap = n + 1;
	for (uint32_t i = 0; i < n; i++) {
		size_t l = off[i + 1] - off[i];
		cap += l > 3 ? l : 3;
	}
	return cap;
}

static uint32_t create_cluster(struct patterns *p, uint32_t n, uint64_t lkey, const char *line, size_t len,
			       int64_t t_ns)
{
	if (!p->n_free)
		evict(p, p->lru_tail);
	size_t text_len = p->off[n];
	size_t ex_len = len < p->cfg.max_example ? len : p->cfg.max_example;
	size_t nh = p->cfg.history_buckets;
	struct cluster *c = cluster_alloc(p, n, text_len, template_cap(p->off, n), ex_len);

	memcpy(c->off, p->off, (n + 1) * sizeof(uint32_t));
	memcpy(c->text, p->masked, text_len);
	for (uint32_t i = 0; i < n; i++) {
		c->tok[i] = p->tok[i];
		c->n_wild += p->tok[i] == p->wild;
	}
	for (size_t i = 0; i < ex_len; i++) {
		unsigned char ch = (unsigned char)line[i];
		c->example[i] = (ch < ' ' || ch == 0x7f) ? ' ' : (char)ch;
	}
	c->example[ex_len] = '\0';
	rebuild_template(p, c);

	/* id: hash of the template at creation; probe on the rare clash */
	size_t tl = strlen(c->tmpl);
	uint64_t seed = 0;
	do
		c->id = XXH3_64bits_withSeed(c->tmpl, tl, seed++);
	while (!c->id || table_get(&p->ids, c->id) != NIL);

	c->first_seen = c->last_seen = t_ns;
	c->hist_last = INT64_MIN / 2;
	memset(c->hist, 0, nh * sizeof(*c->hist));

	uint32_t slot = p->free_slots[--p->n_free];
	p->pool[slot] = c;
	p->n_used++;
	p->bytes += malloc_usable_size(c);
	table_put(&p->ids, c->id, slot);
	leaf_link(p, slot, lkey);
	lru_push_front(p, slot);
	count_line(p, c, t_ns);
	return slot;
}

/* ---- merging patterns that differ in one position ------------------------- */

static inline uint64_t mix(uint64_t tok, uint32_t pos)
{
	uint64_t x = tok ^ ((uint64_t)(pos + 1) * UINT64_C(0x9E3779B97F4A7C15));
	x ^= x >> 31;
	x *= UINT64_C(0xbf58476d1ce4e5b9);
	x ^= x >> 29;
	return x;
}

static uint64_t cluster_sum(const struct cluster *c)
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

static void add_alias(struct patterns *p, struct cluster *c, uint32_t slot, uint64_t id)
{
	if (c->n_alias == MAX_ALIAS || p->ids.n >= (p->ids.mask + 1) / 2)
		return; /* the id is forgotten rather than memory growing or the id table filling */
	if (c->n_alias == c->cap_alias) {
		size_t before = malloc_usable_size(c->alias);
		c->cap_alias = c->cap_alias ? c->cap_alias * 2 : 4;
		uint64_t *grown = realloc(c->alias, c->cap_alias * sizeof(*grown));
		if (!grown)
			abort();
		c->alias = grown;
		p->bytes += malloc_usable_size(c->alias) - before;
	}
	c->alias[c->n_alias++] = id;
	table_put(&p->ids, id, slot);
}

/*
 * Folds the patterns in slots[0..k) into the oldest of them, with position
 * pos made a variable; the others' ids become aliases of the survivor.
 * Returns the survivor's slot.
 */
static uint32_t merge(struct patterns *p, const uint32_t *slots, uint32_t k, uint32_t pos)
{
	uint32_t keep = slots[0];
	for (uint32_t j = 1; j < k; j++)
		if (p->pool[slots[j]]->first_seen < p->pool[keep]->first_seen)
			keep = slots[j];
	struct cluster *s = p->pool[keep];
	for (uint32_t j = 0; j < k; j++) {
		if (slots[j] == keep)
			continue;
		struct cluster *o = p->pool[slots[j]];
		s->count += o->count;
		if (o->first_seen < s->first_seen)
			s->first_seen = o->first_seen;
		if (o->last_seen > s->last_seen)
			s->last_seen = o->last_seen;
		uint32_t nh = p->cfg.history_buckets;
		for (uint32_t b = 0; b < nh; b++)
			if (o->hist[b])
				hist_add(p, s, o->hist_last - (nh - 1 - b), o->hist[b]);
		uint64_t ids[MAX_ALIAS + 1];
		uint32_t n_ids = 0;
		ids[n_ids++] = o->id;
		for (uint32_t a = 0; a < o->n_alias; a++)
			ids[n_ids++] = o->alias[a];
		bool was_head = p->lru_head == slots[j];
		evict(p, slots[j]);
		for (uint32_t a = 0; a < n_ids; a++)
			add_alias(p, s, keep, ids[a]);
		if (was_head && keep != p->lru_head) {
			lru_unlink(p, keep);
			lru_push_front(p, keep);
		}
	}
	if (s->tok[pos] != p->wild) {
		s->tok[pos] = p->wild;
		s->n_wild++;
	}
	rebuild_template(p, s);
	uint64_t key = cluster_leaf_key(p, s);
	if (key != s->leaf_key) {
		leaf_unlink(p, keep);
		leaf_link(p, keep, key);
	}
	return keep;
}

/*
 * Called for a freshly created pattern: records it under each of its
 * skeletons, and when one skeleton has gathered distinct_values patterns
 * (the same text but for one position, each with its own value there),
 * merges them with that position made a variable. Returns the slot the new
 * pattern lives on as.
 */
/* Constant tokens a pattern must keep besides the position that merges. */
#define MERGE_MIN_CONSTANTS 3

static uint32_t merge_siblings(struct patterns *p, uint32_t slot)
{
	struct cluster *c = p->pool[slot];
	uint64_t sum = cluster_sum(c);
	uint32_t n_const = 0;
	for (uint32_t i = 0; i < c->n_tok; i++)
		n_const += c->tok[i] != p->wild && !token_has_wild(c->text + c->off[i], c->off[i + 1] - c->off[i]);
	for (uint32_t i = 0; i < c->n_tok; i++) {
		if (c->tok[i] == p->wild)
			continue;
		bool is_const = !token_has_wild(c->text + c->off[i], c->off[i + 1] - c->off[i]);
		if (n_const - is_const < MERGE_MIN_CONSTANTS)
			continue; /* too little left to tell what the message is */
		uint64_t key = skeleton_key(p, c, sum, i);
		struct skeleton *e = &p->skel[(key ^ (key >> 32)) & p->skel_mask];
		if (e->key != key) {
			e->key = key;
			e->n = 0;
		}
		/* drop members evicted, merged or changed since they were recorded */
		uint32_t live = 0;
		for (uint32_t j = 0; j < e->n; j++) {
			struct cluster *m = p->pool[e->slot[j]];
			if (m && m->id == e->id[j] && m != c && m->n_tok == c->n_tok && m->tok[i] != p->wild &&
			    skeleton_key(p, m, cluster_sum(m), i) == key) {
				e->slot[live] = e->slot[j];
				e->id[live++] = e->id[j];
			}
		}
		e->n = live;
		e->slot[e->n] = slot;
		e->id[e->n++] = c->id;
		if (e->n >= p->cfg.distinct_values) {
			uint32_t members[MAX_DISTINCT];
			uint32_t k = e->n;
			memcpy(members, e->slot, k * sizeof(*members));
			e->key = 0;
			e->n = 0;
			return merge(p, members, k, i);
		}
	}
	return slot;
}

/* ---- public ----------------------------------------------------------- */

int patterns_create(const struct patterns_config *c, struct patterns **out, struct buf *err)
{
	cls_init();
	struct patterns_config cfg = c ? *c : (struct patterns_config){ 0 };
	if (!cfg.max_patterns)
		cfg.max_patterns = 10000;
	if (!cfg.max_tokens)
		cfg.max_tokens = 256;
	if (!cfg.max_line)
		cfg.max_line = 4096;
	if (!cfg.max_example)
		cfg.max_example = 512;
	if (!cfg.history_buckets)
		cfg.history_buckets = 60;
	if (!cfg.bucket_ns)
		cfg.bucket_ns = INT64_C(60000000000);
	if (cfg.similarity == 0)
		cfg.similarity = 1.0;
	if (!cfg.distinct_values)
		cfg.distinct_values = 5;
	if (cfg.max_patterns > (1u << 24) || cfg.max_tokens > 4096 || cfg.max_line > (1u << 20) ||
	    cfg.max_example > (1u << 20) || cfg.history_buckets > 10080 || cfg.bucket_ns < 0 ||
	    !(cfg.similarity > 0 && cfg.similarity <= 1) || cfg.distinct_values < 2 ||
	    cfg.distinct_values > MAX_DISTINCT) {
		buf_addf(err, "patterns: a limit is out of range (max_patterns <= 16M, max_tokens <= 4096, "
			      "max_line <= 1 MiB, history_buckets <= 10080, 0 < similarity <= 1, "
			      "2 <= distinct_values <= %d)", MAX_DISTINCT);
		return OODA_EINVAL;
	}
	struct patterns *p = calloc(1, sizeof(*p));
	if (!p)
		return OODA_ENOMEM;
	p->cfg = cfg;
	size_t n_skel = 64;
	while (n_skel < 2 * (size_t)cfg.max_patterns)
		n_skel <<= 1;
	p->skel_mask = n_skel - 1;
	p->skel = calloc(n_skel, sizeof(*p->skel));
	p->pool = calloc(cfg.max_patterns, sizeof(*p->pool));
	p->free_slots = malloc(cfg.max_patterns * sizeof(*p->free_slots));
	p->masked = malloc(3 * (size_t)cfg.max_line + 16);
	p->tok = malloc(cfg.max_tokens * sizeof(*p->tok));
	p->off = malloc((cfg.max_tokens + 1) * sizeof(*p->off));
	p->is_var = malloc(cfg.max_tokens);
	if (!p->skel || !p->pool || !p->free_slots || !p->masked || !p->tok || !p->off || !p->is_var ||
	    table_init(&p->ids, (size_t)cfg.max_patterns * 2) || table_init(&p->leaves, cfg.max_patterns)) {
		patterns_destroy(p);
		return OODA_ENOMEM;
	}
	for (uint32_t i = 0; i < cfg.max_patterns; i++)
		p->free_slots[i] = cfg.max_patterns - 1 - i;
	p->n_free = cfg.max_patterns;
	p->lru_head = p->lru_tail = NIL;
	p->wild = XXH3_64bits(WILD_TEXT, 3);
	*out = p;
	return 0;
}

void patterns_destroy(struct patterns *p)
{
	if (!p)
		return;
	if (p->pool)
		for (uint32_t i = 0; i < p->cfg.max_patterns; i++)
			if (p->pool[i]) {
				free(p->pool[i]->alias);
				free(p->pool[i]);
			}
	free(p->pool);
	free(p->skel);
	free(p->free_slots);
	free(p->masked);
	free(p->tok);
	free(p->off);
	free(p->is_var);
	table_release(&p->ids);
	table_release(&p->leaves);
	free(p);
}

/* The most similar pattern in leaf key for the line in scratch, or NIL. */
static uint32_t best_in_leaf(const struct patterns *p, uint64_t key, uint32_t n, double *best_sim)
{
	uint32_t best = NIL;
	uint32_t best_wild = 0;
	uint32_t max_miss = (uint32_t)((double)n * (1 - p->cfg.similarity) + 1e-9);
	for (uint32_t s = table_get(&p->leaves, key); s != NIL; s = p->pool[s]->leaf_next) {
		const struct cluster *c = p->pool[s];
		double sim = similarity(p, c, n, max_miss);
		if (sim < 0)
			continue;
		if (sim > *best_sim || (sim == *best_sim && c->n_wild < best_wild)) {
			best = s;
			*best_sim = sim;
			best_wild = c->n_wild;
		}
	}
	return best;
}

uint64_t patterns_add(struct patterns *p, const char *line, size_t len, int64_t t_ns, bool *is_new)
{
	uint32_t n = tokenise(p, line, len);
	uint64_t lkey = leaf_key(p, n, 0);
	double best_sim = -1;
	uint32_t best = best_in_leaf(p, lkey, n, &best_sim);
	/* patterns whose leading tokens became variables live in wider leaves */
	for (unsigned m = 1; m < (1u << ROUTE_DEPTH) && best_sim < p->cfg.similarity; m++) {
		bool redundant = false;
		for (uint32_t i = 0; i < ROUTE_DEPTH; i++)
			redundant |= (m >> i & 1) && (i >= n || p->is_var[i]);
		if (redundant)
			continue;
		double sim = -1;
		uint32_t b = best_in_leaf(p, leaf_key(p, n, m), n, &sim);
		if (b != NIL && sim > best_sim) {
			best = b;
			best_sim = sim;
		}
	}
	if (best == NIL || best_sim < p->cfg.similarity) {
		uint32_t slot = create_cluster(p, n, lkey, line, len, t_ns);
		uint32_t now = merge_siblings(p, slot);
		if (is_new)
			*is_new = now == slot;
		return p->pool[now]->id;
	}
	if (is_new)
		*is_new = false;
	struct cluster *c = p->pool[best];
	bool changed = false;
	for (uint32_t i = 0; i < n; i++)
		if (c->tok[i] != p->tok[i] && c->tok[i] != p->wild) {
			c->tok[i] = p->wild;
			c->n_wild++;
			changed = true;
		}
	if (changed) {
		rebuild_template(p, c);
		uint64_t key = cluster_leaf_key(p, c);
		if (key != c->leaf_key) {
			leaf_unlink(p, best);
			leaf_link(p, best, key);
		}
	}
	if (best != p->lru_head) {
		lru_unlink(p, best);
		lru_push_front(p, best);
	}
	count_line(p, c, t_ns);
	return c->id;
}

static void fill_info(const struct patterns *p, const struct cluster *c, struct pattern_info *info)
{
	*info = (struct pattern_info){
		.id = c->id,
		.template_ = c->tmpl,
		.example = c->example,
		.first_seen_ns = c->first_seen,
		.last_seen_ns = c->last_seen,
		.count = c->count,
		.history = c->hist,
		.n_history = p->cfg.history_buckets,
		.bucket0 = c->hist_last - p->cfg.history_buckets + 1,
		.bucket_ns = p->cfg.bucket_ns,
	};
}

const char *patterns_template(const struct patterns *p, uint64_t id)
{
	uint32_t s = table_get(&p->ids, id);
	return s == NIL ? NULL : p->pool[s]->tmpl;
}

int patterns_get(const struct patterns *p, uint64_t id, struct pattern_info *info)
{
	uint32_t s = table_get(&p->ids, id);
	if (s == NIL)
		return OODA_ENOTFOUND;
	fill_info(p, p->pool[s], info);
	return 0;
}

uint64_t patterns_resolve(const struct patterns *p, uint64_t id)
{
	uint32_t s = table_get(&p->ids, id);
	return s == NIL ? 0 : p->pool[s]->id;
}

size_t patterns_count(const struct patterns *p)
{
	return p->n_used;
}

size_t patterns_memory(const struct patterns *p)
{
	size_t tables = 2 * (p->ids.mask + 1) * (sizeof(uint64_t) + sizeof(uint32_t));
	size_t fixed = sizeof(*p) + p->cfg.max_patterns * (sizeof(*p->pool) + sizeof(*p->free_slots)) +
		       3 * (size_t)p->cfg.max_line + 16 + p->cfg.max_tokens * (8 + 4 + 1) + 4;
	return fixed + tables + p->bytes;
}

int patterns_foreach(const struct patterns *p, patterns_fn fn, void *arg)
{
	for (uint32_t s = p->lru_head; s != NIL;) {
		const struct cluster *c = p->pool[s];
		uint32_t next = c->lru_next;
		struct pattern_info info;
		fill_info(p, c, &info);
		int rc = fn(&info, arg);
		if (rc)
			return rc;
		s = next;
	}
	return 0;
}

/* ---- snapshots ------------------------------------------------------------ */

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
	uint32_t *index_of = malloc((size_t)p->cfg.max_patterns * sizeof(*index_of));
	if (!index_of)
		abort();
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
	struct cluster *c = cluster_alloc(p, (uint32_t)n_tok, text_len, template_cap(p->off, (uint32_t)n_tok), keep_ex);
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
	rebuild_template(p, c);

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
			hist_add(p, c, b, (uint32_t)k);
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
		c->alias = malloc(n_alias * sizeof(*c->alias));
		if (!c->alias)
			abort();
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
	table_put(&p->ids, id, slot);
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
		if (!rd_u64(&r, &key, "key") || !rd_v(&r, p->cfg.distinct_values - 1, &n, "member count"))
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
		lru_push_front(p, i);
	struct link_order *order = malloc((keep + 1) * sizeof(*order));
	if (!order)
		abort();
	for (uint32_t i = 0; i < keep; i++)
		order[i] = (struct link_order){ p->pool[i]->leaf_key, p->pool[i]->leaf_prev, i };
	qsort(order, keep, sizeof(*order), cmp_link);
	for (uint32_t i = keep; i-- > 0;)
		leaf_link(p, order[i].slot, order[i].key); /* pushes to the front: rank 0 ends first */
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

int patterns_analyze_file(FILE *in, FILE *out, const struct patterns_config *c, struct buf *err)
{
	struct patterns *p;
	int rc = patterns_create(c, &p, err);
	if (rc)
		return rc;
	uint64_t *ids = NULL;
	size_t n = 0, cap = 0;
	char *line = NULL;
	size_t line_cap = 0;
	ssize_t got;
	while ((got = getline(&line, &line_cap, in)) >= 0) {
		size_t len = (size_t)got;
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			len--;
		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			uint64_t *grown = realloc(ids, cap * sizeof(*ids));
			if (!grown)
				abort();
			ids = grown;
		}
		ids[n] = patterns_add(p, line, len, (int64_t)n, NULL);
		n++;
	}
	free(line);
	if (ferror(in)) {
		buf_adds(err, "patterns: reading the input failed");
		rc = OODA_EIO;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const char *t = patterns_template(p, ids[i]);
		uint64_t id = patterns_resolve(p, ids[i]);
		fprintf(out, "%016llx\t%s\n", (unsigned long long)(id ? id : ids[i]), t ? t : "(evicted)");
	}
	if (fflush(out) || ferror(out)) {
		buf_adds(err, "patterns: writing the output failed");
		rc = OODA_EIO;
	}
out:
	free(ids);
	patterns_destroy(p);
	return rc;
}
