/*
 * Log search, facets and trace retrieval over the block store (see
 * search.h). Matches are rendered to JSON while their block is decoded
 * (the block's arena is reused for the next one), kept in a bounded heap
 * ordered newest first, and the scan stops as soon as no older block can
 * beat the page already collected.
 */
#include "query/search.h"
#include "core/error.h"
#include "core/hex.h"
#include "core/time.h"
#include "store/tblock.h"

#include <xxhash.h>

/* ---- rendering ---------------------------------------------------------- */

static void str_member(struct buf *b, const char *name, const char *v)
{
	buf_addf(b, ",\"%s\":", name);
	if (v)
		buf_add_json_str(b, v, strlen(v));
	else
		buf_adds(b, "null");
}

static void resource_json(struct buf *b, const struct resource *r)
{
	str_member(b, "service", r ? r->service : "unknown");
	str_member(b, "service_version", r ? r->service_version : NULL);
	str_member(b, "environment", r ? r->environment : NULL);
	str_member(b, "host", r ? r->host : NULL);
	buf_adds(b, ",\"resource\":");
	if (r)
		record_attrs_json(b, &r->attrs);
	else
		buf_adds(b, "{}");
}

void search_log_json(struct buf *b, const struct log_record *r)
{
	char when[40], hex[33];
	ooda_time_format(r->time_ns, when, sizeof(when));
	buf_addf(b, "{\"time\":\"%s\",\"time_unix_nano\":\"%lld\"", when, (long long)r->time_ns);
	const char *sev = logquery_severity_name(r->severity);
	str_member(b, "severity", r->severity_text && *r->severity_text ? r->severity_text : sev);
	buf_addf(b, ",\"severity_number\":%u", r->severity);
	buf_adds(b, ",\"body\":");
	if (r->body)
		buf_add_json_str(b, r->body, r->body_len);
	else
		buf_adds(b, "null");
	if (r->has_trace_id) {
		hex_encode(r->trace_id, 16, hex);
		buf_addf(b, ",\"trace_id\":\"%s\"", hex);
	}
	if (r->has_span_id) {
		hex_encode(r->span_id, 8, hex);
		buf_addf(b, ",\"span_id\":\"%s\"", hex);
	}
	resource_json(b, r->resource);
	str_member(b, "scope", r->scope_name);
	buf_adds(b, ",\"attributes\":");
	record_attrs_json(b, &r->attrs);
	buf_addch(b, '}');
}

static const char *const kind_names[] = { "unspecified", "internal", "server", "client", "producer", "consumer" };
static const char *const status_names[] = { "unset", "ok", "error" };

void search_span_json(struct buf *b, const struct span *s, int depth)
{
	char when[40], hex[33];
	hex_encode(s->trace_id, 16, hex);
	buf_addf(b, "{\"trace_id\":\"%s\"", hex);
	hex_encode(s->span_id, 8, hex);
	buf_addf(b, ",\"span_id\":\"%s\"", hex);
	if (s->has_parent) {
		hex_encode(s->parent_span_id, 8, hex);
		buf_addf(b, ",\"parent_span_id\":\"%s\"", hex);
	} else {
		buf_adds(b, ",\"parent_span_id\":null");
	}
	str_member(b, "name", s->name ? s->name : "");
	buf_addf(b, ",\"kind\":\"%s\"", kind_names[s->kind < 6 ? s->kind : 0]);
	ooda_time_format(s->start_ns, when, sizeof(when));
	buf_addf(b, ",\"start\":\"%s\",\"start_unix_nano\":\"%lld\",\"duration_ms\":%.3f", when,
		 (long long)s->start_ns, (double)ooda_ns_sub_sat(s->end_ns, s->start_ns) / 1e6);
	buf_addf(b, ",\"status\":\"%s\"", status_names[s->status < 3 ? s->status : 0]);
	str_member(b, "status_message", s->status_message);
	if (depth != -1) /* -1: no tree context; -2: placeholder for emit_tree */
		buf_addf(b, ",\"depth\":%d", depth);
	resource_json(b, s->resource);
	str_member(b, "scope", s->scope_name);
	buf_adds(b, ",\"attributes\":");
	record_attrs_json(b, &s->attrs);
	buf_adds(b, ",\"events\":[");
	for (uint32_t i = 0; i < s->n_events; i++) {
		ooda_time_format(s->events[i].time_ns, when, sizeof(when));
		buf_addf(b, "%s{\"time\":\"%s\"", i ? "," : "", when);
		str_member(b, "name", s->events[i].name ? s->events[i].name : "");
		buf_adds(b, ",\"attributes\":");
		record_attrs_json(b, &s->events[i].attrs);
		buf_addch(b, '}');
	}
	buf_adds(b, "]}");
}

/* ---- the page heap ------------------------------------------------------ */

struct hit {
	int64_t t;
	uint64_t h;   /* tie-break among equal times: hash of the JSON */
	char *json;
};

/* a is newer than b (comes first in the page) */
static bool newer(const struct hit *a, const struct hit *b)
{
	return a->t > b->t || (a->t == b->t && a->h > b->h);
}

struct page {
	struct hit *v;   /* min-heap by newness: v[0] is the oldest kept */
	size_t n, cap;
};

static void heap_down(struct page *p, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < p->n && newer(&p->v[m], &p->v[l]))
			m = l;
		if (r < p->n && newer(&p->v[m], &p->v[r]))
			m = r;
		if (m == i)
			return;
		struct hit t = p->v[i];
		p->v[i] = p->v[m];
		p->v[m] = t;
		i = m;
	}
}

static void heap_up(struct page *p, size_t i)
{
	while (i) {
		size_t parent = (i - 1) / 2;
		if (!newer(&p->v[parent], &p->v[i]))
			return;
		struct hit t = p->v[i];
		p->v[i] = p->v[parent];
		p->v[parent] = t;
		i = parent;
	}
}

/* Offers a hit; takes ownership of json (freed if not kept). */
static void page_offer(struct page *p, struct hit h)
{
	if (p->n < p->cap) {
		p->v[p->n++] = h;
		heap_up(p, p->n - 1);
	} else if (newer(&h, &p->v[0])) {
		free(p->v[0].json);
		p->v[0] = h;
		heap_down(p, 0);
	} else {
		free(h.json);
	}
}

static int cmp_newest(const void *a, const void *b)
{
	const struct hit *x = a, *y = b;
	return newer(x, y) ? -1 : newer(y, x) ? 1 : 0;
}

/* ---- partial answers ---------------------------------------------------- */

void search_partial_json(struct buf *out, const struct tstore_skipped *sk)
{
	if (!sk || !sk->n) {
		buf_adds(out, ",\"partial\":false");
		return;
	}
	buf_addf(out, ",\"partial\":true,\"partial_reason\":\"%llu damaged telemetry block%s skipped; "
		      "`ooda telemetry check` lists them, `ooda telemetry repair` drops them\",\"skipped_block_count\":%llu,"
		      "\"skipped_blocks\":[",
		 (unsigned long long)sk->n, sk->n == 1 ? " was" : "s were", (unsigned long long)sk->n);
	for (size_t i = 0; i < sk->n_ids; i++)
		buf_addf(out, "%s{\"signal\":\"%s\",\"id\":%lld}", i ? "," : "", tstore_signal_name(sk->ids[i].signal),
			 (long long)sk->ids[i].id);
	buf_addch(out, ']');
}

/* ---- log search --------------------------------------------------------- */

struct hint_tokens {
	uint64_t v[40];
	size_t n;
};

static void hints_to_scan(const struct logquery *q, struct tstore_scan *s, struct hint_tokens *ht)
{
	const struct logquery_hints *h = logquery_hints(q);
	s->services = (const char *const *)h->services;
	s->n_services = h->n_services;
	s->min_severity = h->min_severity;
	ht->n = 0;
	if (h->trace_id_hex)
		ht->v[ht->n++] = tblock_token_hash(h->trace_id_hex, strlen(h->trace_id_hex));
	for (size_t i = 0; i < h->n_tokens && ht->n < 40; i++)
		ht->v[ht->n++] = tblock_token_hash(h->tokens[i], strlen(h->tokens[i]));
	s->tokens = ht->v;
	s->n_tokens = ht->n;
}

struct search_ctx {
	const struct logquery *q;
	const struct search_opts *o;
	struct page page;
	bool have_cursor;
	int64_t cur_t;
	uint64_t cur_h;
	size_t scanned, max_scan;
	bool truncated;
	struct buf tmp;
};

static int search_cb(void *ctx, const struct telemetry_batch *b, int64_t tmin, int64_t tmax)
{
	(void)tmin;
	struct search_ctx *c = ctx;
	/* blocks come newest end first: once the page is full and this block
	 * ends before its oldest hit, no later block can contribute */
	if (c->page.n == c->page.cap && tmax < c->page.v[0].t)
		return 1;
	for (size_t i = 0; i < b->n_logs; i++) {
		const struct log_record *r = &b->logs[i];
		if (r->time_ns < c->o->from_ns || r->time_ns > c->o->to_ns)
			continue;
		if (c->have_cursor && r->time_ns > c->cur_t)
			continue;
		if (c->page.n == c->page.cap && r->time_ns < c->page.v[0].t)
			continue;
		if (!logquery_match(c->q, r))
			continue;
		buf_reset(&c->tmp);
		search_log_json(&c->tmp, r);
		struct hit h = { r->time_ns, XXH3_64bits(c->tmp.data, c->tmp.len), NULL };
		if (c->have_cursor && r->time_ns == c->cur_t && h.h >= c->cur_h)
			continue;
		h.json = xstrdup(c->tmp.data);
		page_offer(&c->page, h);
	}
	c->scanned += b->n_logs;
	if (c->scanned >= c->max_scan) {
		c->truncated = true;
		return 1;
	}
	return 0;
}

int search_logs(struct tstore *t, const struct logquery *q, const struct search_opts *o, struct buf *out,
		struct buf *err)
{
	struct search_ctx c = { .q = q, .o = o, .max_scan = o->max_scan ? o->max_scan : 5000000 };
	buf_init(&c.tmp);
	if (o->cursor && *o->cursor) {
		long long ct;
		unsigned long long ch;
		if (sscanf(o->cursor, "%lld-%llx", &ct, &ch) != 2) {
			buf_addf(err, "cursor %.40s is not one this server handed out", o->cursor);
			return OODA_EINVAL;
		}
		c.have_cursor = true;
		c.cur_t = ct;
		c.cur_h = ch;
	}
	c.page.cap = o->limit ? o->limit : 100;
	c.page.v = xcalloc(c.page.cap, sizeof(struct hit));
	struct tstore_scan s = { .signal = SIGNAL_LOGS, .from_ns = o->from_ns,
				 .to_ns = c.have_cursor && c.cur_t < o->to_ns ? c.cur_t : o->to_ns };
	struct hint_tokens ht;
	hints_to_scan(q, &s, &ht);
	struct tstore_skipped sk = { 0 };
	s.skipped = &sk;
	int rc = tstore_scan(t, &s, search_cb, &c, err);
	if (!rc) {
		if (c.page.n > 1) /* no hits: v is NULL, which qsort must not be given */
			qsort(c.page.v, c.page.n, sizeof(struct hit), cmp_newest);
		buf_adds(out, "{\"logs\":[");
		for (size_t i = 0; i < c.page.n; i++) {
			if (i)
				buf_addch(out, ',');
			buf_adds(out, c.page.v[i].json);
		}
		buf_adds(out, "],\"next_cursor\":");
		if (c.page.n == c.page.cap) {
			const struct hit *last = &c.page.v[c.page.n - 1];
			buf_addf(out, "\"%lld-%llx\"", (long long)last->t, (unsigned long long)last->h);
		} else {
			buf_adds(out, "null");
		}
		buf_addf(out, ",\"scanned\":%zu,\"truncated\":%s", c.scanned, c.truncated ? "true" : "false");
		search_partial_json(out, &sk);
		buf_addch(out, '}');
	}
	for (size_t i = 0; i < c.page.n; i++)
		free(c.page.v[i].json);
	free(c.page.v);
	buf_release(&c.tmp);
	return rc;
}

/* ---- facets ------------------------------------------------------------- */

#define FACET_MAX_FIELDS 8
#define FACET_MAX_VALUES 1024 /* distinct values tracked per field */

struct facet_val {
	char *value;
	uint64_t count;
};

#define FACET_CACHE 64

enum facet_kind { FK_OTHER, FK_SERVICE, FK_SEVERITY, FK_HOST, FK_ENV, FK_VERSION, FK_REGION, FK_SCOPE, FK_ATTR };

struct facet {
	char name[64];
	enum facet_kind kind; /* resolved once, so records are not compared with every field name */
	const char *key;      /* FK_ATTR: the attribute key (name without "attr.") */
	struct facet_val *v;
	size_t n;
	uint64_t other; /* values beyond FACET_MAX_VALUES */
	/* within one block, equal values are one dictionary string: pointer → index */
	const char *cache_ptr[FACET_CACHE];
	uint32_t cache_idx[FACET_CACHE];
};

struct facets_ctx {
	const struct logquery *q;
	const struct search_opts *o;
	unsigned q_needs;     /* logquery_needs(q) */
	struct facet f[FACET_MAX_FIELDS];
	size_t nf;
	const char *keys[FACET_MAX_FIELDS]; /* the attribute keys of the FK_ATTR fields, by field */
	uint64_t *hist;
	size_t buckets;
	int64_t step;
	uint64_t total;
	size_t scanned, max_scan;
	bool truncated;
};

/* Counts k records with value v; cacheable: v is a block string whose pointer names the value. */
static void facet_count(struct facet *f, const char *v, uint64_t k, bool cacheable)
{
	size_t slot = ((uintptr_t)v >> 3) & (FACET_CACHE - 1);
	if (cacheable && f->cache_ptr[slot] == v) {
		f->v[f->cache_idx[slot]].count += k;
		return;
	}
	for (size_t i = 0; i < f->n; i++)
		if (!strcmp(f->v[i].value, v)) {
			f->v[i].count += k;
			if (cacheable) {
				f->cache_ptr[slot] = v;
				f->cache_idx[slot] = (uint32_t)i;
			}
			return;
		}
	if (f->n == FACET_MAX_VALUES) {
		f->other += k;
		return;
	}
	if (!(f->n & (f->n - 1)) || !f->n)
		f->v = xrealloc(f->v, (f->n ? f->n * 2 : 8) * sizeof(*f->v));
	f->v[f->n++] = (struct facet_val){ xstrdup(v), k };
	if (cacheable) {
		f->cache_ptr[slot] = v;
		f->cache_idx[slot] = (uint32_t)(f->n - 1);
	}
}

static const struct attr *find_attr(const struct attrs *as, const char *key)
{
	for (uint32_t i = 0; i < as->n; i++)
		if (as->v[i].key[0] == key[0] && !strcmp(as->v[i].key, key))
			return &as->v[i];
	return NULL;
}

/* The value of a facet's field in r (as logquery_field_value, without its name lookups). */
static const char *facet_value(const struct facet *f, const struct log_record *r, char *tmp, size_t size)
{
	const struct resource *res = r->resource;
	switch (f->kind) {
	case FK_SERVICE: return res ? res->service : NULL;
	case FK_SEVERITY: return logquery_severity_name(r->severity);
	case FK_HOST: return res ? res->host : NULL;
	case FK_ENV: return res ? res->environment : NULL;
	case FK_VERSION: return res ? res->service_version : NULL;
	case FK_REGION: return res ? res->region : NULL;
	case FK_SCOPE: return r->scope_name;
	case FK_ATTR: {
		const struct attr *a = find_attr(&r->attrs, f->key);
		if (!a && res)
			a = find_attr(&res->attrs, f->key);
		if (a && a->type == ATTR_STR)
			return a->s;
		return a ? logquery_field_value(r, f->name, tmp, size) : NULL;
	}
	default:
		return logquery_field_value(r, f->name, tmp, size);
	}
}

static void facet_resolve(struct facet *f)
{
	static const struct {
		const char *name;
		enum facet_kind kind;
	} dims[] = { { "service", FK_SERVICE }, { "severity", FK_SEVERITY }, { "level", FK_SEVERITY },
		     { "host", FK_HOST },       { "env", FK_ENV },           { "version", FK_VERSION },
		     { "region", FK_REGION },   { "scope", FK_SCOPE },       { "trace_id", FK_OTHER },
		     { "span_id", FK_OTHER },   { "body", FK_OTHER } };
	for (size_t i = 0; i < sizeof(dims) / sizeof(dims[0]); i++)
		if (!strcmp(f->name, dims[i].name)) {
			f->kind = dims[i].kind;
			return;
		}
	f->kind = FK_ATTR;
	f->key = strncmp(f->name, "attr.", 5) || !f->name[5] ? f->name : f->name + 5;
}

/* Counts n more records examined; 1 (stop) once past the bound. */
static int facets_scanned(struct facets_ctx *c, size_t n)
{
	c->scanned += n;
	if (c->scanned >= c->max_scan) {
		c->truncated = true;
		return 1;
	}
	return 0;
}

static int facets_cb(void *ctx, const struct telemetry_batch *b, int64_t tmin, int64_t tmax)
{
	(void)tmin;
	(void)tmax;
	struct facets_ctx *c = ctx;
	for (size_t j = 0; j < c->nf; j++) /* the block's strings are new: forget the pointers */
		memset(c->f[j].cache_ptr, 0, sizeof(c->f[j].cache_ptr));
	for (size_t i = 0; i < b->n_logs; i++) {
		const struct log_record *r = &b->logs[i];
		if (r->time_ns < c->o->from_ns || r->time_ns > c->o->to_ns || !logquery_match(c->q, r))
			continue;
		c->total++;
		size_t k = (size_t)((r->time_ns - c->o->from_ns) / c->step);
		c->hist[k < c->buckets ? k : c->buckets - 1]++;
		for (size_t j = 0; j < c->nf; j++) {
			char tmp[96];
			const char *v = facet_value(&c->f[j], r, tmp, sizeof(tmp));
			if (v) /* values rendered into tmp are not block strings: never cached */
				facet_count(&c->f[j], v, 1, v != tmp);
		}
	}
	return facets_scanned(c, b->n_logs);
}

/* ---- facets counted from the columns ------------------------------------- */

/*
 * When the query reads nothing of a record but its resource and severity,
 * and every field is a resource dimension, the severity or an attribute, a
 * block is counted from its columns (tblock_logcols_decode) instead of
 * being decoded into records: the query is evaluated once per resource (and
 * severity) the block holds, values are counted per dictionary id, resource
 * or severity number, and each of those becomes a string once per block.
 * Values reach facet_count in the order the records first show them, so
 * which values are tracked (FACET_MAX_VALUES) is the same as record by
 * record. A block holding an attribute value that is not a dictionary
 * string is decoded and counted by facets_cb.
 */
static bool facets_columnar(const struct facets_ctx *c)
{
	if (c->o->decode_all || c->q_needs & (LOGQUERY_NEEDS_BODY | LOGQUERY_NEEDS_ATTRS | LOGQUERY_NEEDS_OTHER))
		return false;
	for (size_t j = 0; j < c->nf; j++)
		if (c->f[j].kind == FK_OTHER || c->f[j].kind == FK_SCOPE)
			return false;
	return true;
}

/* The code field j counts record i under: a dictionary id, resource index or severity (see facets_block). */
static inline uint32_t facet_code(const struct facets_ctx *c, size_t j, const struct tblock_logcols *lc, uint32_t i)
{
	switch (c->f[j].kind) {
	case FK_SEVERITY: return lc->severity[i];
	case FK_ATTR: {
		uint32_t v = lc->values[j][i];
		return v ? v : lc->n_ids + 1 + lc->res[i]; /* none of its own: the resource's */
	}
	default: return lc->res[i];
	}
}

static int facets_block(void *ctx, const struct tstore_block *blk, struct buf *err)
{
	struct facets_ctx *c = ctx;
	struct tblock_logcols lc;
	int rc = tblock_logcols_decode(blk->data, blk->len, c->keys, c->nf, blk->arena, &lc, err);
	if (rc)
		return rc == 1 ? TSTORE_SCAN_DECODE : rc;
	struct arena *a = blk->arena;
	uint32_t nr = lc.n_resources;
	/* the query's answer per resource, or per resource and severity: 0 not yet known, 1 no, 2 yes */
	bool by_sev = c->q_needs & LOGQUERY_NEEDS_SEVERITY;
	uint8_t *answer = arena_zalloc(a, (size_t)nr * (by_sev ? 256 : 1));
	uint32_t *count[FACET_MAX_FIELDS], *first[FACET_MAX_FIELDS], n_first[FACET_MAX_FIELDS] = { 0 };
	for (size_t j = 0; j < c->nf; j++) {
		size_t codes = c->f[j].kind == FK_SEVERITY ? 256 : c->f[j].kind == FK_ATTR ? lc.n_ids + 1 + nr : nr;
		count[j] = arena_zalloc(a, codes * sizeof(uint32_t));
		first[j] = arena_alloc(a, codes * sizeof(uint32_t));
	}
	int64_t from = c->o->from_ns, to = c->o->to_ns;
	for (uint32_t i = 0; i < lc.n; i++) {
		int64_t t = lc.time[i];
		if (t < from || t > to)
			continue;
		size_t q = by_sev ? (size_t)lc.res[i] * 256 + lc.severity[i] : lc.res[i];
		if (!answer[q]) {
			struct log_record one = { .resource = lc.resources[lc.res[i]], .severity = lc.severity[i] };
			answer[q] = logquery_match(c->q, &one) ? 2 : 1;
		}
		if (answer[q] != 2)
			continue;
		c->total++;
		size_t k = (size_t)((t - from) / c->step);
		c->hist[k < c->buckets ? k : c->buckets - 1]++;
		for (size_t j = 0; j < c->nf; j++) {
			uint32_t code = facet_code(c, j, &lc, i);
			if (!count[j][code]++)
				first[j][n_first[j]++] = code;
		}
	}
	/* each code counted becomes its string once, in the order the records first showed it */
	for (size_t j = 0; j < c->nf; j++) {
		struct facet *f = &c->f[j];
		for (uint32_t x = 0; x < n_first[j]; x++) {
			uint32_t code = first[j][x];
			char tmp[96];
			const char *v;
			if (f->kind == FK_SEVERITY) {
				v = logquery_severity_name((uint8_t)code);
			} else if (f->kind == FK_ATTR && code <= lc.n_ids) {
				v = tblock_logcols_str(&lc, code);
			} else {
				uint32_t ri = f->kind == FK_ATTR ? code - lc.n_ids - 1 : code;
				struct log_record one = { .resource = lc.resources[ri] };
				v = facet_value(f, &one, tmp, sizeof(tmp));
			}
			if (v)
				facet_count(f, v, count[j][code], false);
		}
	}
	return facets_scanned(c, lc.n);
}

static int cmp_facet(const void *a, const void *b)
{
	const struct facet_val *x = a, *y = b;
	return x->count < y->count ? 1 : x->count > y->count ? -1 : strcmp(x->value, y->value);
}

int search_facets(struct tstore *t, const struct logquery *q, const struct search_opts *o, const char *fields,
		  size_t buckets, struct buf *out, struct buf *err)
{
	struct facets_ctx c = { .q = q, .o = o, .max_scan = o->max_scan ? o->max_scan : 5000000 };
	const char *list = fields && *fields ? fields : "service,severity,host,version";
	while (*list && c.nf < FACET_MAX_FIELDS) {
		size_t n = strcspn(list, ",");
		if (n && n < sizeof(c.f[0].name)) {
			snprintf(c.f[c.nf].name, sizeof(c.f[0].name), "%.*s", (int)n, list);
			facet_resolve(&c.f[c.nf++]);
		}
		list += n + (list[n] == ',');
	}
	c.buckets = buckets ? buckets : 60;
	int64_t span = ooda_ns_sub_sat(o->to_ns, o->from_ns);
	c.step = span / (int64_t)c.buckets + 1;
	c.hist = xcalloc(c.buckets, sizeof(uint64_t));
	struct tstore_scan s = { .signal = SIGNAL_LOGS, .from_ns = o->from_ns, .to_ns = o->to_ns };
	struct hint_tokens ht;
	hints_to_scan(q, &s, &ht);
	/* decode only what the query and the fields read */
	unsigned needs = c.q_needs = logquery_needs(q);
	static const char *const plain[] = { "service", "severity", "level", "host", "env", "version", "region",
					     "scope", "trace_id", "span_id" };
	for (size_t j = 0; j < c.nf; j++) {
		bool known = false;
		for (size_t k = 0; k < sizeof(plain) / sizeof(plain[0]); k++)
			known |= !strcmp(c.f[j].name, plain[k]);
		if (!strcmp(c.f[j].name, "body"))
			needs |= LOGQUERY_NEEDS_BODY;
		else if (!known)
			needs |= LOGQUERY_NEEDS_ATTRS;
	}
	s.skip = (needs & LOGQUERY_NEEDS_BODY ? 0 : TBLOCK_SKIP_BODY) | (needs & LOGQUERY_NEEDS_ATTRS ? 0 : TBLOCK_SKIP_ATTRS);
	if (facets_columnar(&c)) {
		for (size_t j = 0; j < c.nf; j++)
			c.keys[j] = c.f[j].kind == FK_ATTR ? c.f[j].key : NULL;
		s.block_fn = facets_block;
	}
	struct tstore_skipped sk = { 0 };
	s.skipped = &sk;
	int rc = tstore_scan(t, &s, facets_cb, &c, err);
	if (!rc) {
		buf_addf(out, "{\"total\":%llu,\"scanned\":%zu,\"truncated\":%s,\"fields\":{", (unsigned long long)c.total,
			 c.scanned, c.truncated ? "true" : "false");
		for (size_t j = 0; j < c.nf; j++) {
			struct facet *f = &c.f[j];
			if (f->n) /* no values: v is NULL, which qsort must not be given */
				qsort(f->v, f->n, sizeof(*f->v), cmp_facet);
			buf_addf(out, "%s", j ? "," : "");
			buf_add_json_str(out, f->name, strlen(f->name));
			buf_adds(out, ":[");
			for (size_t i = 0; i < f->n && i < 10; i++) {
				buf_adds(out, i ? ",{\"value\":" : "{\"value\":");
				buf_add_json_str(out, f->v[i].value, strlen(f->v[i].value));
				buf_addf(out, ",\"count\":%llu}", (unsigned long long)f->v[i].count);
			}
			buf_addch(out, ']');
		}
		char when[40];
		ooda_time_format(o->from_ns, when, sizeof(when));
		buf_addf(out, "},\"histogram\":{\"start\":\"%s\",\"start_unix_nano\":\"%lld\",\"step_ns\":%lld,\"counts\":[",
			 when, (long long)o->from_ns, (long long)c.step);
		for (size_t k = 0; k < c.buckets; k++)
			buf_addf(out, "%s%llu", k ? "," : "", (unsigned long long)c.hist[k]);
		buf_adds(out, "]}");
		search_partial_json(out, &sk);
		buf_addch(out, '}');
	}
	for (size_t j = 0; j < c.nf; j++) {
		for (size_t i = 0; i < c.f[j].n; i++)
			free(c.f[j].v[i].value);
		free(c.f[j].v);
	}
	free(c.hist);
	return rc;
}

/* ---- traces ------------------------------------------------------------- */

struct span_copy {
	struct span s;
	char *json_self; /* rendered without depth, for the tree pass */
	uint8_t span_id[8], parent[8];
	bool has_parent;
	int64_t start, end;
};

struct trace_ctx {
	uint8_t id[16];
	struct span_copy *v;
	size_t n, cap;
	/* the tree: children of span i are kid[first_kid[i] .. first_kid[i + 1]), by start time */
	size_t *first_kid, *kid;
	struct page logs;
	int64_t log_from, log_to; /* the trace's logs: within a minute of its spans */
	struct buf tmp;
	int depth_pass;
};

static int trace_span_cb(void *ctx, const struct telemetry_batch *b, int64_t tmin, int64_t tmax)
{
	(void)tmin;
	(void)tmax;
	struct trace_ctx *c = ctx;
	for (size_t i = 0; i < b->n_spans; i++) {
		const struct span *s = &b->spans[i];
		if (memcmp(s->trace_id, c->id, 16) || c->n >= 100000)
			continue;
		if (c->n == c->cap) {
			c->cap = c->cap ? c->cap * 2 : 64;
			c->v = xrealloc(c->v, c->cap * sizeof(*c->v));
		}
		struct span_copy *sc = &c->v[c->n++];
		memset(sc, 0, sizeof(*sc));
		buf_reset(&c->tmp);
		search_span_json(&c->tmp, s, -2); /* depth filled in later */
		sc->json_self = xstrdup(c->tmp.data);
		memcpy(sc->span_id, s->span_id, 8);
		memcpy(sc->parent, s->parent_span_id, 8);
		sc->has_parent = s->has_parent;
		sc->start = s->start_ns;
		sc->end = s->end_ns;
	}
	return 0;
}

static int trace_log_cb(void *ctx, const struct telemetry_batch *b, int64_t tmin, int64_t tmax)
{
	(void)tmin;
	(void)tmax;
	struct trace_ctx *c = ctx;
	for (size_t i = 0; i < b->n_logs; i++) {
		const struct log_record *r = &b->logs[i];
		if (!r->has_trace_id || memcmp(r->trace_id, c->id, 16))
			continue;
		/* a block overlapping the window may hold older lines of the same
		 * trace: the answer is the window, whatever the block layout */
		if (r->time_ns < c->log_from || r->time_ns > c->log_to)
			continue;
		buf_reset(&c->tmp);
		search_log_json(&c->tmp, r);
		struct hit h = { -r->time_ns, XXH3_64bits(c->tmp.data, c->tmp.len), xstrdup(c->tmp.data) };
		page_offer(&c->logs, h); /* negated time: keeps the oldest 1000, in time order */
	}
	return 0;
}

static int cmp_start(const void *a, const void *b)
{
	const struct span_copy *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

/* Emits span i and its subtree, depth first, children by start time. */
static void emit_tree(struct trace_ctx *c, size_t i, int depth, bool *done, struct buf *out, bool *first)
{
	if (done[i] || depth > 256)
		return;
	done[i] = true;
	const char *js = c->v[i].json_self;
	size_t n = strlen(js);
	/* replace the depth placeholder ("depth":-2) with the real depth */
	const char *ph = strstr(js, "\"depth\":-2");
	buf_adds(out, *first ? "" : ",");
	*first = false;
	if (ph) {
		buf_add(out, js, (size_t)(ph - js));
		buf_addf(out, "\"depth\":%d", depth);
		buf_adds(out, ph + 10);
	} else {
		buf_add(out, js, n);
	}
	for (size_t k = c->first_kid[i]; k < c->first_kid[i + 1]; k++)
		emit_tree(c, c->kid[k], depth + 1, done, out, first);
}

struct id_ix {
	uint8_t id[8];
	size_t i;
};

static int cmp_id_ix(const void *a, const void *b)
{
	return memcmp(((const struct id_ix *)a)->id, ((const struct id_ix *)b)->id, 8);
}

/* The index of the span with id in by_id (n entries sorted by id), or SIZE_MAX. */
static size_t find_span(const struct id_ix *by_id, size_t n, const uint8_t *id)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int d = memcmp(by_id[mid].id, id, 8);
		if (!d)
			return by_id[mid].i;
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return SIZE_MAX;
}

/*
 * Links every span to its parent in O(n log n): parent[i] is the parent's
 * index or SIZE_MAX (a root: no parent, or one the trace does not hold),
 * and the child lists keep start order. c->n is at most 100000 (trace_span_cb).
 */
static void build_tree(struct trace_ctx *c, size_t *parent)
{
	struct id_ix *by_id = xmalloc(c->n * sizeof(*by_id));
	size_t *fill = xmalloc(c->n * sizeof(*fill));
	c->first_kid = xcalloc(c->n + 1, sizeof(*c->first_kid));
	c->kid = xmalloc(c->n * sizeof(*c->kid));
	for (size_t i = 0; i < c->n; i++) {
		memcpy(by_id[i].id, c->v[i].span_id, 8);
		by_id[i].i = i;
	}
	if (c->n > 1)
		qsort(by_id, c->n, sizeof(*by_id), cmp_id_ix);
	for (size_t i = 0; i < c->n; i++) {
		parent[i] = c->v[i].has_parent ? find_span(by_id, c->n, c->v[i].parent) : SIZE_MAX;
		if (parent[i] == i)
			parent[i] = SIZE_MAX; /* its own parent: a root */
		if (parent[i] != SIZE_MAX)
			c->first_kid[parent[i] + 1]++;
	}
	for (size_t i = 0; i < c->n; i++)
		c->first_kid[i + 1] += c->first_kid[i];
	for (size_t i = 0; i < c->n; i++) /* next free place in each child list */
		fill[i] = c->first_kid[i];
	for (size_t i = 0; i < c->n; i++)
		if (parent[i] != SIZE_MAX)
			c->kid[fill[parent[i]]++] = i;
	free(by_id);
	free(fill);
}

int search_trace(struct tstore *t, const char *hex, struct buf *out, struct buf *err)
{
	struct trace_ctx c = { 0 };
	size_t hl = strlen(hex);
	for (size_t i = 0; i < 16; i++) {
		unsigned v;
		if (hl != 32 || sscanf(hex + 2 * i, "%2x", &v) != 1) {
			buf_addf(err, "trace id %.64s is not 32 hex digits", hex);
			return OODA_EINVAL;
		}
		c.id[i] = (uint8_t)v;
	}
	char low[33];
	hex_encode(c.id, 16, low);
	uint64_t tok = tblock_token_hash(low, 32);
	buf_init(&c.tmp);
	struct tstore_skipped sk = { 0 };
	struct tstore_scan s = { .signal = SIGNAL_SPANS, .tokens = &tok, .n_tokens = 1, .trace_id = c.id,
				 .skipped = &sk };
	int rc = tstore_scan(t, &s, trace_span_cb, &c, err);
	if (!rc && !c.n) {
		buf_addf(err, "no span of trace %s is stored", low);
		if (sk.n)
			buf_addf(err, " in the blocks that could be read (%llu damaged blocks were skipped; see "
				      "`ooda telemetry check`)", (unsigned long long)sk.n);
		rc = OODA_ENOTFOUND;
	}
	c.logs.cap = 1000;
	c.logs.v = xcalloc(c.logs.cap, sizeof(struct hit));
	if (!rc) {
		/* the trace's logs are near its spans in time: only blocks overlapping the
		 * trace, with a minute of slack for clock skew and late log lines, are read */
		int64_t t0 = INT64_MAX, t1 = INT64_MIN;
		for (size_t i = 0; i < c.n; i++) {
			if (c.v[i].start < t0)
				t0 = c.v[i].start;
			if (c.v[i].end > t1)
				t1 = c.v[i].end;
		}
		c.log_from = t0 - 60 * OODA_NS_PER_SEC;
		c.log_to = t1 + 60 * OODA_NS_PER_SEC;
		struct tstore_scan ls = { .signal = SIGNAL_LOGS, .tokens = &tok, .n_tokens = 1, .trace_id = c.id,
					  .from_ns = c.log_from, .to_ns = c.log_to, .skipped = &sk };
		rc = tstore_scan(t, &ls, trace_log_cb, &c, err);
	}
	if (!rc) {
		if (c.n > 1)
			qsort(c.v, c.n, sizeof(*c.v), cmp_start);
		bool *done = xcalloc(c.n, 1);
		size_t *parent = xmalloc(c.n * sizeof(*parent));
		build_tree(&c, parent);
		int64_t t0 = c.v[0].start;
		buf_addf(out, "{\"trace_id\":\"%s\",\"span_count\":%zu,\"start_unix_nano\":\"%lld\",\"spans\":[", low, c.n,
			 (long long)t0);
		bool first = true;
		/* roots: no parent, or a parent that is not in the trace */
		for (size_t i = 0; i < c.n; i++)
			if (parent[i] == SIZE_MAX)
				emit_tree(&c, i, 0, done, out, &first);
		for (size_t i = 0; i < c.n; i++) /* cycles: whatever is left, flat */
			if (!done[i])
				emit_tree(&c, i, 0, done, out, &first);
		free(done);
		free(parent);
		if (c.logs.n > 1)
			qsort(c.logs.v, c.logs.n, sizeof(struct hit), cmp_newest);
		buf_adds(out, "],\"logs\":[");
		for (size_t i = 0; i < c.logs.n; i++)
			buf_addf(out, "%s%s", i ? "," : "", c.logs.v[i].json);
		buf_addch(out, ']');
		search_partial_json(out, &sk);
		buf_addch(out, '}');
	}
	for (size_t i = 0; i < c.n; i++)
		free(c.v[i].json_self);
	free(c.v);
	free(c.first_kid);
	free(c.kid);
	for (size_t i = 0; i < c.logs.n; i++)
		free(c.logs.v[i].json);
	free(c.logs.v);
	buf_release(&c.tmp);
	return rc;
}

struct traces_ctx {
	const struct trace_filter *f;
	const struct search_opts *o;
	struct page page;
	struct buf tmp;
	size_t scanned, max_scan;
};

static int traces_cb(void *ctx, const struct telemetry_batch *b, int64_t tmin, int64_t tmax)
{
	(void)tmin;
	struct traces_ctx *c = ctx;
	if (c->page.n == c->page.cap && tmax < c->page.v[0].t)
		return 1;
	for (size_t i = 0; i < b->n_spans; i++) {
		const struct span *s = &b->spans[i];
		if (s->start_ns < c->o->from_ns || s->start_ns > c->o->to_ns)
			continue;
		if (c->f->operation && (!s->name || strcmp(s->name, c->f->operation)))
			continue;
		if (c->f->errors_only && s->status != STATUS_ERROR)
			continue;
		if (ooda_ns_sub_sat(s->end_ns, s->start_ns) < c->f->min_duration_ns)
			continue;
		/* exemplars are entry spans (root, server, consumer), unless looking
		 * for errors or an operation: then the span that matches */
		if (s->has_parent && s->kind != SPAN_SERVER && s->kind != SPAN_CONSUMER && !c->f->operation &&
		    !c->f->errors_only)
			continue;
		char hex[33];
		hex_encode(s->trace_id, 16, hex);
		buf_reset(&c->tmp);
		char when[40];
		ooda_time_format(s->start_ns, when, sizeof(when));
		buf_addf(&c->tmp, "{\"trace_id\":\"%s\"", hex);
		str_member(&c->tmp, "service", s->resource ? s->resource->service : "unknown");
		str_member(&c->tmp, "operation", s->name ? s->name : "");
		buf_addf(&c->tmp, ",\"start\":\"%s\",\"duration_ms\":%.3f,\"status\":\"%s\",\"root\":%s}", when,
			 (double)ooda_ns_sub_sat(s->end_ns, s->start_ns) / 1e6, status_names[s->status < 3 ? s->status : 0],
			 s->has_parent ? "false" : "true");
		struct hit h = { s->start_ns, XXH3_64bits(s->trace_id, 16), xstrdup(c->tmp.data) };
		page_offer(&c->page, h);
	}
	c->scanned += b->n_spans;
	return c->scanned >= c->max_scan;
}

struct op_tokens {
	uint64_t v[8];
	size_t n;
};

static void op_token(void *ctx, const char *tok, size_t n)
{
	struct op_tokens *o = ctx;
	if (o->n < 8)
		o->v[o->n++] = tblock_token_hash(tok, n);
}

int search_traces(struct tstore *t, const struct trace_filter *f, const struct search_opts *o, struct buf *out,
		  struct buf *err)
{
	struct traces_ctx c = { .f = f, .o = o, .max_scan = o->max_scan ? o->max_scan : 5000000 };
	buf_init(&c.tmp);
	c.page.cap = o->limit ? o->limit : 20;
	c.page.v = xcalloc(c.page.cap, sizeof(struct hit));
	const char *svc[1] = { f->service };
	struct tstore_scan s = { .signal = SIGNAL_SPANS, .from_ns = o->from_ns, .to_ns = o->to_ns,
				 .services = f->service ? svc : NULL, .n_services = f->service ? 1 : 0 };
	/* every word of the operation name is in the bloom of its blocks */
	struct op_tokens ot = { .n = 0 };
	if (f->operation)
		tblock_tokens(f->operation, strlen(f->operation), op_token, &ot);
	uint64_t *tok = ot.v;
	size_t nt = ot.n;
	s.tokens = tok;
	s.n_tokens = nt;
	struct tstore_skipped sk = { 0 };
	s.skipped = &sk;
	int rc = tstore_scan(t, &s, traces_cb, &c, err);
	if (!rc) {
		if (c.page.n > 1) /* no hits: v is NULL, which qsort must not be given */
			qsort(c.page.v, c.page.n, sizeof(struct hit), cmp_newest);
		buf_adds(out, "{\"traces\":[");
		int n = 0;
		for (size_t i = 0; i < c.page.n; i++) {
			bool dup = false; /* one line per trace: its newest matching span */
			for (size_t j = 0; j < i && !dup; j++)
				dup = c.page.v[j].h == c.page.v[i].h && !strncmp(c.page.v[j].json, c.page.v[i].json, 47);
			if (!dup)
				buf_addf(out, "%s%s", n++ ? "," : "", c.page.v[i].json);
		}
		buf_addf(out, "],\"scanned\":%zu", c.scanned);
		search_partial_json(out, &sk);
		buf_addch(out, '}');
	}
	for (size_t i = 0; i < c.page.n; i++)
		free(c.page.v[i].json);
	free(c.page.v);
	buf_release(&c.tmp);
	return rc;
}
