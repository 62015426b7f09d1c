/*
 * The log template miner behind patterns.h, in the "orient" stage: each log
 * body is tokenised on whitespace, variable parts of each token are masked
 * by hand-written classifiers (no regex on the hot path), the line is routed
 * by token count and leading tokens to one leaf of candidate patterns
 * (a flattened Drain-style parse tree held in one hash table), and the most
 * similar candidate absorbs it or a new pattern is created. Patterns live
 * in a fixed pool with an LRU list, so memory stays bounded; ids are hashes
 * of the template at creation and never change afterwards. Snapshots of a
 * miner are in patterns_snapshot.c.
 */
#include "detect/patterns.h"
#include "detect/patterns_impl.h"

#include <malloc.h>
#include <xxhash.h>

#include "core/error.h"

/* ---- hash tables --------------------------------------------------------- */

static int table_init(struct table *t, size_t min_entries)
{
	size_t cap = 16;
	while (cap < min_entries * 2)
		cap <<= 1;
	t->keys = xcalloc(cap, sizeof(*t->keys));
	t->vals = xcalloc(cap, sizeof(*t->vals));
	t->mask = cap - 1;
	return 0;
}

static void table_release(struct table *t)
{
	free(t->keys);
	free(t->vals);
}

/* Inserts or replaces. The table never fills: it holds at most half its capacity. */
void pat_table_put(struct table *t, uint64_t key, uint32_t val)
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
enum { C_WORD = 1, C_DIGIT = 2, C_SEP = 4, C_SPACE = 8, C_CLOSE = 16, C_OPEN = 32, C_TRAIL = 64, C_SHAPE = 128 };

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
		if (c && strchr("([<{\"'", c))
			k |= C_OPEN;
		if (c && strchr(".:@\\", c))
			k |= C_SHAPE;
		if (c && strchr(")]>}\"',;:.", c))
			k |= C_TRAIL;
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
 * Token shapes that name a thing rather than say something, whatever their
 * characters: they are variables even without a digit. The shape is judged
 * on the token without the brackets, quotes and punctuation around it.
 */
static bool is_lower(unsigned char c)
{
	return c >= 'a' && c <= 'z';
}

static bool is_alnum(unsigned char c)
{
	return (cls[c] & C_DIGIT) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

/* Names of days and months: parts of a date, like its numbers. */
static bool is_date_word(const unsigned char *s, size_t n)
{
	static const char *const words[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", "Jan", "Feb", "Mar",
					     "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	if (n != 3 || s[0] < 'A' || s[0] > 'Z')
		return false;
	for (size_t k = 0; k < sizeof(words) / sizeof(words[0]); k++)
		if (!memcmp(words[k], s, 3))
			return true;
	return false;
}

/*
 * A dotted name ending in a short lowercase label: a host name
 * ("proxy.example.com"), a file or executable name ("chrome.exe",
 * "Foo.java", "sweep.c"). Labels are letters, digits, '-' and '_'; the last
 * is 1 to 4 lowercase letters (class names end in a capitalised word,
 * "n.leader"-style fields in a longer one).
 */
static bool is_dotted_name(const unsigned char *s, size_t n)
{
	size_t last = n, dots = 0;
	if (!n || !is_lower(s[n - 1]))
		return false; /* most dotted tokens are numbers: "10.0.0.1", "1.5" */
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (!i || i + 1 == n || s[i - 1] == '.')
				return false;
			dots++;
			last = i + 1;
		} else if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_') {
			return false;
		}
	}
	if (!dots || n - last > 4)
		return false;
	for (size_t i = last; i < n; i++)
		if (!is_lower(s[i]))
			return false;
	return true;
}

/*
 * A syslog-style source tag, "sshd[812]:", "pam_unix(cron:session):",
 * "su(pam_unix)[77]:": a name, then brackets, then a colon. Among a line's
 * first tokens it says who wrote the message, not what it says.
 */
static bool is_source_tag(const unsigned char *s, size_t n)
{
	if (n < 4 || s[n - 1] != ':' || (s[n - 2] != ']' && s[n - 2] != ')') || !is_alnum(s[0]))
		return false;
	for (size_t i = 1; i < n - 2; i++) {
		if (s[i] == '[' || s[i] == '(')
			return true;
		if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.' && s[i] != '/')
			return false;
	}
	return false;
}

/* Groups of at most 4 hex digits joined by two or more colons: an IPv6 or MAC address. */
static bool is_hex_groups(const unsigned char *s, size_t n)
{
	size_t colons = 0, run = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		if (c == ':') {
			colons++;
			run = 0;
		} else if ((cls[c] & C_DIGIT) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')) {
			if (++run > 4)
				return false;
		} else {
			return false;
		}
	}
	return colons >= 2;
}

static bool shape_is_variable(const unsigned char *s, size_t n)
{
	/* strip what encloses or follows the value: ( [ < { " ' before, the same closed and , ; : . after */
	while (n && (cls[s[0]] & C_OPEN)) {
		s++;
		n--;
	}
	while (n && (cls[s[n - 1]] & C_TRAIL))
		n--;
	if (n < 2)
		return false;
	/* paths: unix, home, relative, windows drive and share */
	if (s[0] == '/' || (s[0] == '~' && s[1] == '/') || (s[0] == '.' && s[1] == '/') ||
	    (s[0] == '\\' && s[1] == '\\') || (n >= 3 && is_alnum(s[0]) && s[1] == ':' && s[2] == '\\'))
		return true;
	size_t at = 0, colon = 0;
	bool dot = false;
	for (size_t i = 0; i < n; i++) {
		if (!(cls[s[i]] & C_SHAPE))
			continue;
		if (i + 2 < n && s[i] == ':' && s[i + 1] == '/' && s[i + 2] == '/')
			return true; /* URL */
		if (s[i] == '@' && !at)
			at = i;
		if (s[i] == ':')
			colon = i;
		dot |= s[i] == '.';
		if (s[i] == '\\' && i && is_alnum(s[i - 1]))
			return true; /* a windows path, or a piece of one after a space */
	}
	if (!dot && !colon)
		return false; /* every shape below has a dot or a colon */
	if (at && memchr(s + at, '.', n - at) && is_dotted_name(s + at + 1, n - at - 1))
		return true; /* e-mail address */
	if (colon && colon + 1 < n) {
		/* host:port, the port being digits */
		bool port = true;
		for (size_t i = colon + 1; i < n && port; i++)
			port = (cls[s[i]] & C_DIGIT) != 0;
		if (port && memchr(s, '.', colon) && !memchr(s, ':', colon))
			return true;
	}
	return is_hex_groups(s, n) || is_dotted_name(s, n);
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
	if (shape_is_variable(s, n)) {
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
			/* "key":value, as JSON writes it */
			bool after_key = s[i] == ':' && i > 1 && s[i - 1] == '"' && (cls[s[i - 2]] & C_WORD);
			*o++ = (char)s[i++];
			if (after_key && i + 1 < n && s[i] == '"') {
				/* a quoted value runs to its closing quote */
				*o++ = (char)s[i++];
				while (i < n && s[i] != '"')
					i++;
				o = put_wild(o);
				*var = true;
				continue;
			}
			if ((after_eq || after_key) && i < n && !(cls[s[i]] & C_SEP)) {
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
		if (digit || (any_digit && hex && (rl == 2 || rl == 4)) || is_date_word(s + start, rl)) {
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
		if (n < 2 && is_source_tag(s + start, i - start)) {
			o = put_wild(o);
			var = true;
		} else {
			o = mask_token(s + start, i - start, o, &var);
		}
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

void pat_rebuild_template(const struct patterns *p, struct cluster *c)
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

void pat_lru_push_front(struct patterns *p, uint32_t slot)
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

void pat_leaf_link(struct patterns *p, uint32_t slot, uint64_t key)
{
	struct cluster *c = p->pool[slot];
	uint32_t head = table_get(&p->leaves, key);
	c->leaf_key = key;
	c->leaf_prev = NIL;
	c->leaf_next = head;
	if (head != NIL)
		p->pool[head]->leaf_prev = slot;
	pat_table_put(&p->leaves, key, slot);
}

static void leaf_unlink(struct patterns *p, uint32_t slot)
{
	struct cluster *c = p->pool[slot];
	if (c->leaf_prev != NIL)
		p->pool[c->leaf_prev]->leaf_next = c->leaf_next;
	else if (c->leaf_next != NIL)
		pat_table_put(&p->leaves, c->leaf_key, c->leaf_next);
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

/* Adds k lines to bucket b of c's history, sliding the window forward if b is new. */
void pat_hist_add(const struct patterns *p, struct cluster *c, int64_t b, uint32_t k)
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
	pat_hist_add(p, c, bucket_of(p, t_ns), 1);
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
struct cluster *pat_cluster_alloc(const struct patterns *p, uint32_t n, size_t text_len, size_t tmpl_cap,
				     size_t ex_len)
{
	size_t nh = p->cfg.history_buckets;
	size_t sz = align8(sizeof(struct cluster)) + align8(n * sizeof(uint64_t)) +
		    align8((n + 1) * sizeof(uint32_t)) + align8(nh * sizeof(uint32_t)) + text_len + tmpl_cap +
		    ex_len + 1;
	char *mem = xmalloc(sz);
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

static uint32_t create_cluster(struct patterns *p, uint32_t n, uint64_t lkey, const char *line, size_t len,
			       int64_t t_ns)
{
	if (!p->n_free)
		evict(p, p->lru_tail);
	size_t text_len = p->off[n];
	size_t ex_len = len < p->cfg.max_example ? len : p->cfg.max_example;
	size_t nh = p->cfg.history_buckets;
	struct cluster *c = pat_cluster_alloc(p, n, text_len, template_cap(p->off, n), ex_len);

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
	pat_rebuild_template(p, c);

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
	pat_table_put(&p->ids, c->id, slot);
	pat_leaf_link(p, slot, lkey);
	pat_lru_push_front(p, slot);
	count_line(p, c, t_ns);
	return slot;
}

/* ---- merging patterns that differ in one position ------------------------- */

static void add_alias(struct patterns *p, struct cluster *c, uint32_t slot, uint64_t id)
{
	if (c->n_alias == MAX_ALIAS || p->ids.n >= (p->ids.mask + 1) / 2)
		return; /* the id is forgotten rather than memory growing or the id table filling */
	if (c->n_alias == c->cap_alias) {
		size_t before = malloc_usable_size(c->alias);
		c->cap_alias = c->cap_alias ? c->cap_alias * 2 : 4;
		uint64_t *grown = xrealloc(c->alias, c->cap_alias * sizeof(*grown));
		c->alias = grown;
		p->bytes += malloc_usable_size(c->alias) - before;
	}
	c->alias[c->n_alias++] = id;
	pat_table_put(&p->ids, id, slot);
}

/*
 * Folds the patterns in slots[0..k) into the oldest of them, with position
 * pos made a variable; the others' ids become aliases of the survivor.
 * Returns the survivor's slot.
 */
/* Folds the pattern in slot other into the one in keep: counts, times, history, ids as aliases. */
static void fold_into(struct patterns *p, uint32_t keep, uint32_t other)
{
	struct cluster *s = p->pool[keep], *o = p->pool[other];
	s->count += o->count;
	if (o->first_seen < s->first_seen)
		s->first_seen = o->first_seen;
	if (o->last_seen > s->last_seen)
		s->last_seen = o->last_seen;
	uint32_t nh = p->cfg.history_buckets;
	for (uint32_t b = 0; b < nh; b++)
		if (o->hist[b])
			pat_hist_add(p, s, o->hist_last - (nh - 1 - b), o->hist[b]);
	uint64_t ids[MAX_ALIAS + 1];
	uint32_t n_ids = 0;
	ids[n_ids++] = o->id;
	for (uint32_t a = 0; a < o->n_alias; a++)
		ids[n_ids++] = o->alias[a];
	bool was_head = p->lru_head == other;
	evict(p, other);
	for (uint32_t a = 0; a < n_ids; a++)
		add_alias(p, s, keep, ids[a]);
	if (was_head && keep != p->lru_head) {
		lru_unlink(p, keep);
		pat_lru_push_front(p, keep);
	}
}

/* Whether every line of o would match s: the same length, and s equal or "<*>" at every position. */
static bool subsumes(const struct patterns *p, const struct cluster *s, const struct cluster *o)
{
	if (s->n_tok != o->n_tok)
		return false;
	for (uint32_t i = 0; i < s->n_tok; i++)
		if (s->tok[i] != p->wild && s->tok[i] != o->tok[i])
			return false;
	return true;
}

static uint32_t merge(struct patterns *p, const uint32_t *slots, uint32_t k, uint32_t pos)
{
	uint32_t keep = slots[0];
	for (uint32_t j = 1; j < k; j++)
		if (p->pool[slots[j]]->first_seen < p->pool[keep]->first_seen)
			keep = slots[j];
	struct cluster *s = p->pool[keep];
	for (uint32_t j = 0; j < k; j++)
		if (slots[j] != keep)
			fold_into(p, keep, slots[j]);
	if (s->tok[pos] != p->wild) {
		s->tok[pos] = p->wild;
		s->n_wild++;
	}
	pat_rebuild_template(p, s);
	uint64_t key = cluster_leaf_key(p, s);
	if (key != s->leaf_key) {
		leaf_unlink(p, keep);
		pat_leaf_link(p, keep, key);
	}
	/*
	 * Patterns the merged one now covers would keep the lines that match
	 * them exactly (the fewest variables win a tie): they fold in too.
	 * Merges are rare (at most one per pattern created), so a scan is cheap.
	 */
	uint32_t *sub = xmalloc(((size_t)p->n_used + 1) * sizeof(*sub)), n_sub = 0;
	for (uint32_t x = p->lru_head; x != NIL; x = p->pool[x]->lru_next)
		if (x != keep && subsumes(p, s, p->pool[x]))
			sub[n_sub++] = x;
	for (uint32_t j = 0; j < n_sub; j++)
		fold_into(p, keep, sub[j]);
	free(sub);
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

static uint32_t merge_siblings(struct patterns *p, uint32_t slot, bool *merged)
{
	*merged = false;
	struct cluster *c = p->pool[slot];
	uint64_t sum = cluster_sum(c);
	uint32_t n_const = 0;
	for (uint32_t i = 0; i < c->n_tok; i++)
		n_const += c->tok[i] != p->wild && !token_has_wild(c->text + c->off[i], c->off[i + 1] - c->off[i]);
	for (uint32_t i = 0; i < c->n_tok; i++) {
		if (c->tok[i] == p->wild)
			continue;
		bool is_const = !token_has_wild(c->text + c->off[i], c->off[i + 1] - c->off[i]);
		uint32_t others = n_const - is_const;
		/*
		 * The less constant text is left to tell the message by, the more
		 * distinct values it takes to call the position a variable: "at
		 * <frame>" merges once MAX_DISTINCT frames are seen.
		 */
		uint32_t need = others >= MERGE_MIN_CONSTANTS ? p->cfg.distinct_values : MAX_DISTINCT;
		if (!others)
			continue; /* nothing left to tell what the message is */
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
		if (e->n >= need) {
			uint32_t members[MAX_DISTINCT];
			uint32_t k = e->n;
			memcpy(members, e->slot, k * sizeof(*members));
			e->key = 0;
			e->n = 0;
			*merged = true;
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
	struct patterns *p = xcalloc(1, sizeof(*p));
	p->cfg = cfg;
	size_t n_skel = 64;
	while (n_skel < 2 * (size_t)cfg.max_patterns)
		n_skel <<= 1;
	p->skel_mask = n_skel - 1;
	p->skel = xcalloc(n_skel, sizeof(*p->skel));
	p->pool = xcalloc(cfg.max_patterns, sizeof(*p->pool));
	p->free_slots = xmalloc(cfg.max_patterns * sizeof(*p->free_slots));
	p->masked = xmalloc(3 * (size_t)cfg.max_line + 16);
	p->tok = xmalloc(cfg.max_tokens * sizeof(*p->tok));
	p->off = xmalloc((cfg.max_tokens + 1) * sizeof(*p->off));
	p->is_var = xmalloc(cfg.max_tokens);
	if (table_init(&p->ids, (size_t)cfg.max_patterns * 2) || table_init(&p->leaves, cfg.max_patterns)) {
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
		/*
		 * A merged pattern is a new pattern too: it joins the skeletons of
		 * its new shape, so that a line varying in two positions merges in
		 * both. Each merge adds a variable, so this ends.
		 */
		bool merged;
		uint32_t now = merge_siblings(p, slot, &merged);
		while (merged)
			now = merge_siblings(p, now, &merged);
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
		pat_rebuild_template(p, c);
		uint64_t key = cluster_leaf_key(p, c);
		if (key != c->leaf_key) {
			leaf_unlink(p, best);
			pat_leaf_link(p, best, key);
		}
	}
	if (best != p->lru_head) {
		lru_unlink(p, best);
		pat_lru_push_front(p, best);
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
			uint64_t *grown = xrealloc(ids, cap * sizeof(*ids));
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
