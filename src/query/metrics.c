/*
 * The PromQL storage side (see metrics.h for how OTel points map to
 * Prometheus series). A select scans the metric blocks that may hold the
 * wanted name (bloom on the normalised metric name) and the wanted job
 * (service), turns each point into its series samples, keeps those whose
 * labels satisfy every matcher, and groups them by label set.
 */
#include "query/metrics.h"
#include "query/promql_impl.h"
#include "core/error.h"
#include "core/time.h"
#include "model/promname.h"
#include "store/tblock.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <xxhash.h>

#define METRICS_MAX_LABELS 64

struct builder {
	uint64_t hash;
	char *key;               /* labels as name\1value\2… (malloc'd) */
	size_t key_len;
	struct promql_label *labels; /* in the output arena */
	uint32_t n_labels;
	struct promql_sample *s; /* malloc'd */
	uint32_t n, cap;
	bool delta;
	bool info; /* target_info: one sample per timestamp */
};

struct select_ctx {
	const struct promql_matcher *m;
	size_t n_m;
	int64_t from_ns, to_ns;
	struct arena *out;
	struct builder *b;       /* open-addressing table */
	size_t cap, n;
	size_t max_series;
	bool over;
	bool labels_only; /* lookups: the label sets, no samples */
	int strategy;     /* enum promname_strategy, read once per select */
	bool want_info;   /* the matchers may select target_info */
	bool info;        /* emitting target_info */
	const struct resource *info_res; /* the last target_info made: its resource and time */
	int64_t info_t;
	/*
	 * Per block (its records share their strings): the last family name
	 * made, and translated attribute keys by the key's address.
	 */
	const char *fam_of, *fam_unit;
	int fam_kind;
	char fam[PROMNAME_MAX];
	struct { const char *key, *label; } keys[32];
	struct buf key;
	char num[METRICS_MAX_LABELS][40];
	char info_num[METRICS_MAX_LABELS][40];
};

static _Atomic int translation = PROMNAME_UNDERSCORE_ESCAPING;

void metrics_set_translation(int strategy)
{
	translation = strategy == PROMNAME_NO_UTF8_ESCAPING ? strategy : PROMNAME_UNDERSCORE_ESCAPING;
}

int metrics_translation(void)
{
	return translation;
}

static enum promname_kind point_kind(const struct metric_point *p)
{
	if (p->type == METRIC_GAUGE)
		return PROMNAME_GAUGE;
	return p->type == METRIC_SUM && p->monotonic ? PROMNAME_COUNTER : PROMNAME_OTHER;
}

/*
 * Named for Prometheus already: remote write, the live series, and ooda's
 * own probe and SLO points (by their scope in blocks written before
 * prom_native was stored).
 */
static bool is_native(const struct metric_point *p)
{
	return p->prom_native || (p->scope_name && !strncmp(p->scope_name, "ooda.", 5));
}

/* The point's metric family name as PromQL sees it, into out. */
static void family_name(const struct metric_point *p, int strategy, char *out, size_t size)
{
	if (is_native(p))
		snprintf(out, size, "%s", p->name ? p->name : "");
	else
		promname_metric(p->name, p->unit, point_kind(p), strategy, out, size);
}

static uint64_t name_hash(const char *s, size_t n)
{
	return XXH3_64bits_withSeed(s, n, 0x6d6574726963ULL);
}

static void token_add(uint64_t *tok, size_t *n, size_t max, uint64_t h)
{
	for (size_t i = 0; i < *n; i++)
		if (tok[i] == h)
			return;
	if (*n < max)
		tok[(*n)++] = h;
}

/*
 * The bloom tokens of the stored metrics that can yield series `name`
 * (any one will do): the family names blocks index (store/tblock_write.c)
 * are name and name without _bucket/_sum/_count; blocks written before
 * the Prometheus naming indexed the OTLP name with dots and dashes as
 * underscores, which is the family name less its unit and type words (at
 * most three: `_meters_per_second`, `_seconds_total`).
 */
#define NAME_TOKENS_MAX 24
static size_t name_tokens(const char *name, uint64_t *tok)
{
	char stems[2][PROMNAME_MAX];
	size_t n_stems = 0, n = 0;
	snprintf(stems[n_stems++], PROMNAME_MAX, "%s", name);
	static const char *const suffix[] = { "_bucket", "_sum", "_count" };
	size_t len = strlen(stems[0]);
	for (int k = 0; k < 3 && n_stems < 2; k++) {
		size_t sl = strlen(suffix[k]);
		if (len > sl && !strcmp(stems[0] + len - sl, suffix[k]))
			snprintf(stems[n_stems++], PROMNAME_MAX, "%.*s", (int)(len - sl), stems[0]);
	}
	for (size_t k = 0; k < n_stems; k++) {
		char t[PROMNAME_MAX];
		size_t tl = strlen(stems[k]);
		memcpy(t, stems[k], tl + 1);
		token_add(tok, &n, NAME_TOKENS_MAX, name_hash(t, tl));
		for (size_t i = 0; i < tl; i++)
			if (t[i] == '.' || t[i] == '-')
				t[i] = '_';
		token_add(tok, &n, NAME_TOKENS_MAX, name_hash(t, tl));
		for (int words = 1; words <= 3; words++) {
			char *us = memrchr(t, '_', tl);
			if (!us || us == t)
				break;
			tl = (size_t)(us - t);
			token_add(tok, &n, NAME_TOKENS_MAX, name_hash(t, tl));
		}
	}
	return n;
}

static void grow(struct select_ctx *c)
{
	size_t ncap = c->cap ? c->cap * 2 : 256;
	struct builder *nb = xcalloc(ncap, sizeof(*nb));
	for (size_t i = 0; i < c->cap; i++) {
		if (!c->b[i].key)
			continue;
		size_t j = c->b[i].hash & (ncap - 1);
		while (nb[j].key)
			j = (j + 1) & (ncap - 1);
		nb[j] = c->b[i];
	}
	free(c->b);
	c->b = nb;
	c->cap = ncap;
}

/* Adds one sample to the series of labels (unsorted; n <= METRICS_MAX_LABELS). */
static void emit(struct select_ctx *c, struct promql_label *labels, size_t n, int64_t t_ns, double v, bool delta)
{
	if (t_ns < c->from_ns || t_ns > c->to_ns || c->over)
		return;
	/* few labels: insertion sort beats qsort's set-up */
	for (size_t i = 1; i < n; i++) {
		struct promql_label x = labels[i];
		size_t j = i;
		while (j > 0 && strcmp(labels[j - 1].name, x.name) > 0) {
			labels[j] = labels[j - 1];
			j--;
		}
		labels[j] = x;
	}
	/* drop empty values and duplicate names (first wins), as Prometheus does */
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (!labels[i].value || !*labels[i].value)
			continue;
		if (k && !strcmp(labels[k - 1].name, labels[i].name))
			continue;
		labels[k++] = labels[i];
	}
	n = k;
	if (!promql_matchers_match(c->m, c->n_m, labels, n))
		return;
	buf_reset(&c->key);
	for (size_t i = 0; i < n; i++) {
		buf_adds(&c->key, labels[i].name);
		buf_addch(&c->key, '\1');
		buf_adds(&c->key, labels[i].value);
		buf_addch(&c->key, '\2');
	}
	if (c->n * 2 >= c->cap)
		grow(c);
	uint64_t h = XXH3_64bits(c->key.data, c->key.len);
	size_t j = h & (c->cap - 1);
	while (c->b[j].key && (c->b[j].hash != h || c->b[j].key_len != c->key.len ||
			       memcmp(c->b[j].key, c->key.data, c->key.len)))
		j = (j + 1) & (c->cap - 1);
	struct builder *b = &c->b[j];
	if (!b->key) {
		if (c->n >= c->max_series) {
			c->over = true;
			return;
		}
		b->hash = h;
		b->key = xstrdup(c->key.data);
		b->key_len = c->key.len;
		b->labels = arena_alloc(c->out, (n ? n : 1) * sizeof(struct promql_label));
		for (size_t i = 0; i < n; i++) {
			b->labels[i].name = arena_strdup(c->out, labels[i].name);
			b->labels[i].value = arena_strdup(c->out, labels[i].value);
		}
		b->n_labels = (uint32_t)n;
		b->delta = delta;
		b->info = c->info;
		c->n++;
	}
	if (c->labels_only)
		return;
	if (b->info && b->n && b->s[b->n - 1].t_ms == t_ns / 1000000)
		return; /* the resource's other points of this instant */
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 16;
		b->s = xrealloc(b->s, b->cap * sizeof(*b->s));
	}
	b->s[b->n++] = (struct promql_sample){ t_ns / 1000000, v };
}

static const char *attr_text(const struct attr *t, char *tmp, size_t size)
{
	switch (t->type) {
	case ATTR_INT:
		snprintf(tmp, size, "%lld", (long long)t->i);
		return tmp;
	case ATTR_DOUBLE:
		snprintf(tmp, size, "%.17g", t->d);
		return tmp;
	case ATTR_BOOL:
		return t->b ? "true" : "false";
	default:
		return t->s;
	}
}

/* A bucket bound as Prometheus writes le: shortest decimal ("0.1", not
 * "0.10000000000000001"), "+Inf". */
static void fmt_bound(double b, char *out, size_t size)
{
	if (isinf(b)) {
		snprintf(out, size, b > 0 ? "+Inf" : "-Inf");
		return;
	}
	struct buf t = BUF_INIT;
	pq_format_float(&t, b);
	if (t.len < size) {
		snprintf(out, size, "%s", t.data);
	} else { /* too long written out (1e300): the shortest exponent form */
		for (int prec = 1; prec <= 17; prec++) {
			snprintf(out, size, "%.*g", prec, b);
			if (strtod(out, NULL) == b)
				break;
		}
	}
	buf_release(&t);
}

static void cache_reset(struct select_ctx *c)
{
	c->info_res = NULL;
	c->fam_of = NULL;
	memset(c->keys, 0, sizeof(c->keys));
}

/* The attribute key as a label name (translated once per block and key). */
static const char *label_of(struct select_ctx *c, const char *key)
{
	size_t slot = ((uintptr_t)key >> 3) % (sizeof(c->keys) / sizeof(c->keys[0]));
	if (c->keys[slot].key == key)
		return c->keys[slot].label;
	char tmp[PROMNAME_MAX];
	promname_label(key, c->strategy, tmp, sizeof(tmp));
	const char *label = strcmp(tmp, key) ? arena_strdup(c->out, tmp) : key;
	c->keys[slot].key = key;
	c->keys[slot].label = label;
	return label;
}

/* The resource attribute key's value as a string, or NULL. */
static const char *resource_str(const struct resource *r, const char *key)
{
	for (uint32_t i = 0; r && i < r->attrs.n; i++)
		if (!strcmp(r->attrs.v[i].key, key))
			return r->attrs.v[i].type == ATTR_STR ? r->attrs.v[i].s : NULL;
	return NULL;
}

/*
 * job and instance into l (returns how many): service.namespace/service.name
 * and service.instance.id as Prometheus' OTLP receiver sets them. A
 * resource with no attributes at all is remote write's (its job and
 * instance labels, kept in service and host, also by blocks written
 * before prom_native existed).
 */
static size_t job_instance(struct select_ctx *c, const struct metric_point *p, struct promql_label *l)
{
	const struct resource *r = p->resource;
	if (!r)
		return 0;
	size_t n = 0;
	if (is_native(p) || !r->attrs.n) {
		if (r->service && strcmp(r->service, "unknown"))
			l[n++] = (struct promql_label){ "job", r->service };
		if (r->host)
			l[n++] = (struct promql_label){ "instance", r->host };
		return n;
	}
	const char *svc = resource_str(r, "service.name"), *ns = resource_str(r, "service.namespace");
	if (svc && ns && *ns) {
		size_t len = strlen(ns) + strlen(svc) + 2;
		char *job = arena_alloc(c->out, len);
		snprintf(job, len, "%s/%s", ns, svc);
		l[n++] = (struct promql_label){ "job", job };
	} else if (svc) {
		l[n++] = (struct promql_label){ "job", svc };
	}
	const char *inst = resource_str(r, "service.instance.id");
	if (inst)
		l[n++] = (struct promql_label){ "instance", inst };
	return n;
}

/*
 * OTLP attributes as labels into l (at most max; returns how many): keys
 * translated (promname_label); attributes whose keys translate to the same
 * label are joined with ';' in the order of their keys, as Prometheus'
 * receiver joins them.
 */
static size_t attr_labels(struct select_ctx *c, const struct attrs *as, bool native, const char *const *skip,
			  struct promql_label *l, size_t max, char (*num)[40])
{
	const char *orig[METRICS_MAX_LABELS];
	size_t n = 0;
	for (uint32_t i = 0; i < as->n && n < max && n < METRICS_MAX_LABELS; i++) {
		const struct attr *t = &as->v[i];
		bool skipped = false;
		for (size_t k = 0; skip && skip[k]; k++)
			skipped |= !strcmp(skip[k], t->key);
		if (skipped)
			continue;
		const char *key = native ? t->key : label_of(c, t->key);
		const char *value = attr_text(t, num[n], 40);
		size_t j = 0;
		while (j < n && strcmp(l[j].name, key))
			j++;
		if (j < n && !native) { /* two keys, one label: join the values */
			bool first = strcmp(orig[j], t->key) < 0;
			const char *a = first ? l[j].value : value, *b = first ? value : l[j].value;
			size_t len = strlen(a) + strlen(b) + 2;
			char *v = arena_alloc(c->out, len);
			snprintf(v, len, "%s;%s", a, b);
			l[j].value = v;
			if (!first)
				orig[j] = t->key;
			continue;
		}
		orig[n] = t->key;
		l[n++] = (struct promql_label){ key, value };
	}
	return n;
}

/* One sample of series name{extra, l...}; extra_name NULL for none. */
static void put(struct select_ctx *c, const struct promql_label *l, size_t n, const char *name,
		const char *extra_name, const char *extra_value, int64_t t_ns, double v, bool delta)
{
	struct promql_label tmp[METRICS_MAX_LABELS + 8];
	size_t k = 0;
	tmp[k++] = (struct promql_label){ "__name__", name };
	if (extra_name)
		tmp[k++] = (struct promql_label){ extra_name, extra_value };
	memcpy(tmp + k, l, n * sizeof(*l));
	emit(c, tmp, k + n, t_ns, v, delta);
}

/*
 * target_info{job, instance, the other resource attributes} = 1 at the
 * point's time, as Prometheus' OTLP receiver writes it per resource: only
 * for a resource with attributes besides service.name, service.namespace
 * and service.instance.id, and with a job or an instance.
 */
static void target_info(struct select_ctx *c, const struct metric_point *p)
{
	static const char *const ids[] = { "service.name", "service.namespace", "service.instance.id", NULL };
	if (is_native(p) || !p->resource || !p->resource->attrs.n ||
	    (p->resource == c->info_res && p->time_ns == c->info_t))
		return; /* the resource's points share their resource: once per instant is enough */
	c->info_res = p->resource;
	c->info_t = p->time_ns;
	struct promql_label l[METRICS_MAX_LABELS + 4];
	size_t n = job_instance(c, p, l);
	if (!n)
		return;
	size_t na = attr_labels(c, &p->resource->attrs, false, ids, l + n, METRICS_MAX_LABELS, c->info_num);
	if (!na)
		return;
	c->info = true;
	put(c, l, n + na, "target_info", NULL, NULL, p->time_ns, 1, false);
	c->info = false;
}

static void point_series(struct select_ctx *c, const struct metric_point *p)
{
	struct promql_label l[METRICS_MAX_LABELS + 4];
	char name[PROMNAME_MAX + 16];
	int kind = (int)point_kind(p) | (is_native(p) ? 8 : 0);
	if (!c->fam_of || c->fam_of != p->name || c->fam_unit != p->unit || c->fam_kind != kind) {
		family_name(p, c->strategy, c->fam, sizeof(c->fam));
		c->fam_of = p->name;
		c->fam_unit = p->unit;
		c->fam_kind = kind;
	}
	const char *base = c->fam;
	/* job and instance first: they win over attributes of the same name */
	size_t n = job_instance(c, p, l);
	n += attr_labels(c, &p->attrs, is_native(p), NULL, l + n, METRICS_MAX_LABELS, c->num);
	if (c->want_info)
		target_info(c, p);
	bool delta = p->temporality == TEMPORALITY_DELTA;
	switch (p->type) {
	case METRIC_GAUGE:
	case METRIC_SUM:
		put(c, l, n, base, NULL, NULL, p->time_ns, p->value, delta && p->type == METRIC_SUM);
		return;
	case METRIC_SUMMARY:
		for (uint32_t q = 0; q < p->n_quantiles; q++) {
			char qs[40];
			fmt_bound(p->quantiles[q], qs, sizeof(qs));
			put(c, l, n, base, "quantile", qs, p->time_ns, p->quantile_values[q], false);
		}
		break;
	case METRIC_HISTOGRAM: {
		uint64_t cum = 0;
		snprintf(name, sizeof(name), "%s_bucket", base);
		for (uint32_t i = 0; i <= p->n_bounds; i++) {
			char le[40];
			cum += p->bucket_counts ? p->bucket_counts[i] : 0;
			fmt_bound(i < p->n_bounds ? p->bounds[i] : INFINITY, le, sizeof(le));
			put(c, l, n, name, "le", le, p->time_ns, (double)cum, delta);
		}
		break;
	}
	case METRIC_EXP_HISTOGRAM: {
		double base_v = pow(2.0, pow(2.0, -(double)p->scale));
		uint64_t cum = p->zero_count;
		for (uint32_t i = 0; i < p->n_neg; i++)
			cum += p->neg_counts[i];
		snprintf(name, sizeof(name), "%s_bucket", base);
		put(c, l, n, name, "le", "0", p->time_ns, (double)cum, delta);
		for (uint32_t i = 0; i < p->n_pos && i < 512; i++) {
			char le[40];
			cum += p->pos_counts[i];
			fmt_bound(pow(base_v, (double)p->pos_offset + i + 1), le, sizeof(le));
			put(c, l, n, name, "le", le, p->time_ns, (double)cum, delta);
		}
		put(c, l, n, name, "le", "+Inf", p->time_ns, (double)p->count, delta);
		break;
	}
	}
	snprintf(name, sizeof(name), "%s_count", base);
	put(c, l, n, name, NULL, NULL, p->time_ns, (double)p->count, delta);
	snprintf(name, sizeof(name), "%s_sum", base);
	put(c, l, n, name, NULL, NULL, p->time_ns, p->sum, delta);
}

static int scan_cb(void *ctx, const struct telemetry_batch *b, int64_t tmin, int64_t tmax)
{
	(void)tmin;
	(void)tmax;
	struct select_ctx *c = ctx;
	cache_reset(c); /* the last block's memory is reused for this one */
	for (size_t i = 0; i < b->n_points && !c->over; i++)
		point_series(c, &b->points[i]);
	return c->over;
}

static int cmp_sample(const void *a, const void *b)
{
	int64_t x = ((const struct promql_sample *)a)->t_ms, y = ((const struct promql_sample *)b)->t_ms;
	return x < y ? -1 : x > y;
}

static const char *eq_value(const struct promql_matcher *m, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (m[i].op == PROMQL_EQ && !strcmp(m[i].name, name))
			return m[i].value;
	return NULL;
}

static int select_series(struct metrics_ctx *mc, const struct promql_matcher *m, size_t n, int64_t from_ms,
			 int64_t to_ms, bool labels_only, struct arena *a, struct promql_series **out,
			 size_t *n_out, struct buf *err)
{
	/* ms to ns saturates: an offset or range reaching past either end of time selects up to that end */
	struct select_ctx c = { .m = m, .n_m = n, .from_ns = ooda_ns_mul_sat(from_ms, OODA_NS_PER_MS),
				.to_ns = ooda_ns_add_sat(ooda_ns_mul_sat(to_ms, OODA_NS_PER_MS), OODA_NS_PER_MS - 1),
				.out = a, .max_series = PROMQL_DEFAULT_MAX_SERIES, .labels_only = labels_only,
				.strategy = translation };
	buf_init(&c.key);
	const char *name = eq_value(m, n, "__name__");
	/*
	 * The block index holds the service, which is the job only where no
	 * service.namespace is prefixed: a job with a '/' is not narrowed.
	 */
	const char *job = eq_value(m, n, "job");
	if (job && strchr(job, '/'))
		job = NULL;
	const char *svc[1] = { job };
	int rc = 0;
	bool info = name && !strcmp(name, "target_info");
	c.want_info = !name || info;
	uint64_t tok[NAME_TOKENS_MAX];
	/* target_info comes from every point of a resource: no name to look for */
	size_t n_tok = name && !info ? name_tokens(name, tok) : 0;
	bool live_only = name && !strncmp(name, "ooda_span_", 10);
	if (!live_only) {
		struct tstore_scan q = { .signal = SIGNAL_METRICS, .from_ns = c.from_ns, .to_ns = c.to_ns,
					 .services = job ? svc : NULL, .n_services = job ? 1 : 0,
					 .tokens = n_tok ? tok : NULL, .n_tokens = n_tok, .any_token = true,
					 .oldest_first = true, .skipped = &mc->skipped };
		rc = tstore_scan(mc->tstore, &q, scan_cb, &c, err);
	}
	if (!rc && mc->live && (!name || live_only)) {
		struct metric_point *pts = NULL;
		size_t np = 0;
		struct arena la;
		arena_init(&la, 0);
		int lrc = live_export_points(mc->live, c.from_ns, c.to_ns, 2000000, &la, &pts, &np, err);
		cache_reset(&c);
		if (!lrc)
			for (size_t i = 0; i < np && !c.over; i++)
				point_series(&c, &pts[i]);
		else
			buf_reset(err); /* no live data for this range is not an error */
		arena_release(&la);
	}
	if (!rc && c.over) {
		buf_addf(err, "the selector matches more than %zu series; narrow it with more label matchers",
			 c.max_series);
		rc = OODA_ELIMIT;
	}
	*out = NULL;
	*n_out = 0;
	if (!rc) {
		struct promql_series *s = arena_zalloc(a, (c.n ? c.n : 1) * sizeof(*s));
		size_t k = 0;
		for (size_t i = 0; i < c.cap; i++) {
			struct builder *b = &c.b[i];
			if (!b->key)
				continue;
			if (b->n > 1)
				qsort(b->s, b->n, sizeof(*b->s), cmp_sample);
			if (b->info && b->n > 1) { /* one sample per instant, whichever resource batch it came from */
				uint32_t k2 = 1;
				for (uint32_t j = 1; j < b->n; j++)
					if (b->s[j].t_ms != b->s[k2 - 1].t_ms)
						b->s[k2++] = b->s[j];
				b->n = k2;
			}
			if (b->delta)
				for (uint32_t j = 1; j < b->n; j++)
					b->s[j].v += b->s[j - 1].v;
			s[k].labels = b->labels;
			s[k].n_labels = b->n_labels;
			s[k].samples = arena_alloc(a, (b->n ? b->n : 1) * sizeof(struct promql_sample));
			if (b->n)
				memcpy(s[k].samples, b->s, b->n * sizeof(struct promql_sample));
			s[k].n_samples = b->n;
			k++;
		}
		*out = s;
		*n_out = k;
	}
	for (size_t i = 0; i < c.cap; i++) {
		free(c.b[i].key);
		free(c.b[i].s);
	}
	free(c.b);
	buf_release(&c.key);
	return rc;
}

static int metrics_select(void *vctx, const struct promql_matcher *m, size_t n, int64_t from_ms, int64_t to_ms,
			  struct arena *a, struct promql_series **out, size_t *n_out, struct buf *err)
{
	return select_series(vctx, m, n, from_ms, to_ms, false, a, out, n_out, err);
}

void metrics_source_init(struct promql_source *src, struct metrics_ctx *ctx)
{
	memset(src, 0, sizeof(*src));
	src->version = 1;
	src->ctx = ctx;
	src->select = metrics_select;
}

/* Appends s; duplicates are dropped after sorting (metrics_lookup). */
static void seen_add(const char ***v, size_t *n, size_t *cap, const char *s)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		*v = xrealloc(*v, *cap * sizeof(char *));
	}
	(*v)[(*n)++] = s;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void metrics_partial_warning(const struct metrics_ctx *ctx, struct buf *body)
{
	const struct tstore_skipped *sk = &ctx->skipped;
	if (!sk->n)
		return;
	buf_addf(body, ",\"warnings\":[\"partial answer: %llu damaged telemetry block%s skipped (", (unsigned long long)sk->n,
		 sk->n == 1 ? " was" : "s were");
	for (size_t i = 0; i < sk->n_ids; i++)
		buf_addf(body, "%s%s/%lld", i ? ", " : "", tstore_signal_name(sk->ids[i].signal), (long long)sk->ids[i].id);
	buf_adds(body, "); `ooda telemetry check` lists them, `ooda telemetry repair` drops them\"]");
}

int metrics_lookup(struct metrics_ctx *ctx, const char *const *selectors, size_t n_sel, int64_t from_ms,
		   int64_t to_ms, int mode, const char *name, size_t limit, struct buf *out, struct buf *err)
{
	size_t emitted = 0;
	bool truncated = false;
	struct arena a;
	arena_init(&a, 0);
	const char **names = NULL;
	size_t nn = 0, ncap = 0;
	int rc = 0;
	bool first = true;
	buf_adds(out, "{\"status\":\"success\",\"data\":[");
	for (size_t k = 0; k < (n_sel ? n_sel : 1) && !rc; k++) {
		struct promql_matcher *m = NULL;
		size_t nm = 0;
		if (n_sel && (rc = promql_parse_selector(selectors[k], strlen(selectors[k]), &a, &m, &nm, err)))
			break;
		struct promql_series *s;
		size_t ns;
		if ((rc = select_series(ctx, m, nm, from_ms, to_ms, true, &a, &s, &ns, err)))
			break;
		for (size_t i = 0; i < ns; i++) {
			if (mode == 0) {
				if (limit && emitted == limit) {
					truncated = true;
					break;
				}
				emitted++;
				buf_adds(out, first ? "{" : ",{");
				first = false;
				for (uint32_t j = 0; j < s[i].n_labels; j++) {
					if (j)
						buf_addch(out, ',');
					buf_add_json_str(out, s[i].labels[j].name, strlen(s[i].labels[j].name));
					buf_addch(out, ':');
					buf_add_json_str(out, s[i].labels[j].value, strlen(s[i].labels[j].value));
				}
				buf_addch(out, '}');
			}
			for (uint32_t j = 0; j < s[i].n_labels && mode; j++) {
				if (mode == 1)
					seen_add(&names, &nn, &ncap, s[i].labels[j].name);
				else if (!strcmp(s[i].labels[j].name, name))
					seen_add(&names, &nn, &ncap, s[i].labels[j].value);
			}
		}
	}
	if (mode && !rc) {
		if (nn > 1) { /* nothing matched: names is NULL, which qsort must not be given */
			qsort(names, nn, sizeof(char *), cmp_str);
			size_t k = 1;
			for (size_t i = 1; i < nn; i++)
				if (strcmp(names[i], names[k - 1]))
					names[k++] = names[i];
			nn = k;
		}
		if (limit && nn > limit) {
			nn = limit;
			truncated = true;
		}
		for (size_t i = 0; i < nn; i++) {
			if (i)
				buf_addch(out, ',');
			buf_add_json_str(out, names[i], strlen(names[i]));
		}
	}
	buf_addch(out, ']');
	if (truncated && !ctx->skipped.n)
		buf_adds(out, ",\"warnings\":[\"results truncated due to limit\"]");
	metrics_partial_warning(ctx, out);
	buf_addch(out, '}');
	free(names);
	arena_release(&a);
	return rc;
}

/* ---- /api/v1/metadata ---- */

struct meta_ctx {
	json_t *data;  /* name → [{type, help, unit}] */
	const char *only;
	size_t limit, per_metric;
	bool full;
};

static const char *prom_type(const struct metric_point *p)
{
	switch (p->type) {
	case METRIC_GAUGE: return "gauge";
	case METRIC_SUM: return p->monotonic ? "counter" : "gauge";
	case METRIC_HISTOGRAM:
	case METRIC_EXP_HISTOGRAM: return "histogram";
	case METRIC_SUMMARY: return "summary";
	}
	return "unknown";
}

static int meta_cb(void *ctx, const struct telemetry_batch *b, int64_t tmin, int64_t tmax)
{
	(void)tmin;
	(void)tmax;
	struct meta_ctx *c = ctx;
	for (size_t i = 0; i < b->n_points; i++) {
		const struct metric_point *p = &b->points[i];
		char name[PROMNAME_MAX];
		family_name(p, translation, name, sizeof(name));
		if (c->only && strcmp(c->only, name))
			continue;
		json_t *list = json_object_get(c->data, name);
		if (!list) {
			if (c->limit && json_object_size(c->data) >= c->limit) {
				c->full = true;
				continue;
			}
			list = json_array();
			json_object_set_new(c->data, name, list);
		}
		const char *type = prom_type(p), *help = p->description ? p->description : "",
			   *unit = p->unit ? p->unit : "";
		size_t k;
		json_t *m;
		bool seen = false;
		json_array_foreach(list, k, m)
			if (!strcmp(json_string_value(json_object_get(m, "type")), type) &&
			    !strcmp(json_string_value(json_object_get(m, "help")), help) &&
			    !strcmp(json_string_value(json_object_get(m, "unit")), unit))
				seen = true;
		if (!seen && (!c->per_metric || json_array_size(list) < c->per_metric))
			json_array_append_new(list, json_pack("{s:s,s:s,s:s}", "type", type, "help", help, "unit", unit));
	}
	return 0;
}

static void meta_from_book(struct meta_ctx *c, struct metrics_meta_book *b);

int metrics_metadata(struct metrics_ctx *ctx, struct metrics_meta_book *book, int64_t from_ms, int64_t to_ms,
		     const char *metric, size_t limit, size_t limit_per_metric, struct buf *out, struct buf *err)
{
	struct meta_ctx c = { .data = json_object(), .only = metric && *metric ? metric : NULL,
			      .limit = limit ? limit : METRICS_MAX_METADATA, .per_metric = limit_per_metric };
	struct tstore_scan q = { .signal = SIGNAL_METRICS, .from_ns = ooda_ns_mul_sat(from_ms, OODA_NS_PER_MS),
				 .to_ns = ooda_ns_mul_sat(to_ms, OODA_NS_PER_MS), .oldest_first = false,
				 .skipped = &ctx->skipped };
	int rc = tstore_scan(ctx->tstore, &q, meta_cb, &c, err);
	if (!rc && book)
		meta_from_book(&c, book);
	if (!rc) {
		char *s = json_dumps(c.data, JSON_COMPACT | JSON_SORT_KEYS);
		buf_adds(out, "{\"status\":\"success\",\"data\":");
		buf_adds(out, s ? s : "{}");
		free(s);
		if (c.full && !limit && !ctx->skipped.n)
			buf_addf(out, ",\"warnings\":[\"more than %d metrics: the first are listed\"]", METRICS_MAX_METADATA);
		metrics_partial_warning(ctx, out);
		buf_addch(out, '}');
	}
	json_decref(c.data);
	return rc;
}

/* ---- the series of an exemplar ---- */

int metrics_exemplar_series(const struct metric_point *p, double value, struct buf *key)
{
	struct arena a;
	arena_init(&a, 0);
	struct select_ctx c = { .m = NULL, .n_m = 0, .from_ns = INT64_MIN, .to_ns = INT64_MAX, .out = &a,
				.max_series = 4096, .labels_only = true, .strategy = translation };
	buf_init(&c.key);
	point_series(&c, p);
	char base[PROMNAME_MAX], want[PROMNAME_MAX + 16];
	family_name(p, c.strategy, base, sizeof(base));
	bool hist = p->type == METRIC_HISTOGRAM || p->type == METRIC_EXP_HISTOGRAM;
	snprintf(want, sizeof(want), hist ? "%s_bucket" : "%s", base);
	const struct builder *best = NULL;
	double best_le = INFINITY;
	for (size_t i = 0; i < c.cap; i++) {
		const struct builder *b = &c.b[i];
		if (!b->key)
			continue;
		const char *name = NULL, *le = NULL;
		for (uint32_t k = 0; k < b->n_labels; k++) {
			if (!strcmp(b->labels[k].name, "__name__"))
				name = b->labels[k].value;
			else if (!strcmp(b->labels[k].name, "le"))
				le = b->labels[k].value;
		}
		if (!name || strcmp(name, want))
			continue;
		if (!hist) {
			best = b;
			break;
		}
		/* the bucket that holds the value: the smallest bound at or above it */
		double bound = le ? strtod(le, NULL) : NAN;
		if (!isnan(bound) && bound >= value && (!best || bound < best_le)) {
			best = b;
			best_le = bound;
		}
	}
	int rc = best ? 0 : OODA_ENOTFOUND;
	if (best) {
		buf_reset(key);
		buf_add(key, best->key, best->key_len);
	}
	for (size_t i = 0; i < c.cap; i++) {
		free(c.b[i].key);
		free(c.b[i].s);
	}
	free(c.b);
	buf_release(&c.key);
	arena_release(&a);
	return rc;
}

/* ---- metadata sent by remote-write ---- */

struct metrics_meta_book {
	pthread_mutex_t mu;
	json_t *map; /* name → {type, help, unit}, the latest sent */
};

struct metrics_meta_book *metrics_meta_book_create(void)
{
	struct metrics_meta_book *b = xcalloc(1, sizeof(*b));
	pthread_mutex_init(&b->mu, NULL);
	b->map = json_object();
	return b;
}

void metrics_meta_book_destroy(struct metrics_meta_book *b)
{
	if (!b)
		return;
	json_decref(b->map);
	pthread_mutex_destroy(&b->mu);
	free(b);
}

void metrics_meta_book_set(struct metrics_meta_book *b, const char *name, const char *type, const char *help,
			   const char *unit)
{
	if (!name || !*name)
		return;
	pthread_mutex_lock(&b->mu);
	if (json_object_get(b->map, name) || json_object_size(b->map) < METRICS_MAX_METADATA)
		json_object_set_new(b->map, name, json_pack("{s:s,s:s,s:s}", "type", type ? type : "unknown", "help",
							     help ? help : "", "unit", unit ? unit : ""));
	pthread_mutex_unlock(&b->mu);
}

/* The sample names a family of each type writes beside its own name (the text
 * format and OpenMetrics): Prometheus lists the family only. */
static const struct {
	const char *type;
	const char *suffixes[5];
} meta_sample_suffixes[] = {
	{ "counter", { "_total", "_created" } },
	{ "histogram", { "_bucket", "_sum", "_count", "_created" } },
	{ "gaugehistogram", { "_bucket", "_gsum", "_gcount" } },
	{ "summary", { "_sum", "_count", "_created" } },
	{ "info", { "_info" } },
};

/* Removes from c->data the entries of family's samples (foo_bucket beside the
 * histogram foo) when all they hold is the bare-gauge placeholder of stored points. */
static void meta_drop_samples(struct meta_ctx *c, const char *family, const char *type)
{
	for (size_t t = 0; type && t < sizeof(meta_sample_suffixes) / sizeof(meta_sample_suffixes[0]); t++) {
		if (strcmp(meta_sample_suffixes[t].type, type))
			continue;
		for (size_t i = 0; i < 5 && meta_sample_suffixes[t].suffixes[i]; i++) {
			char name[PROMNAME_MAX + 16];
			snprintf(name, sizeof(name), "%s%s", family, meta_sample_suffixes[t].suffixes[i]);
			json_t *list = json_object_get(c->data, name), *x;
			size_t k;
			bool bare = list != NULL;
			json_array_foreach(list, k, x)
				if (strcmp(json_string_value(json_object_get(x, "type")), "gauge") ||
				    *json_string_value(json_object_get(x, "help")) || *json_string_value(json_object_get(x, "unit")))
					bare = false;
			if (bare)
				json_object_del(c->data, name);
		}
	}
}

/* Adds the book's entries to c->data (as meta_cb does for points). */
static void meta_from_book(struct meta_ctx *c, struct metrics_meta_book *b)
{
	pthread_mutex_lock(&b->mu);
	const char *name;
	json_t *m;
	json_object_foreach(b->map, name, m) {
		meta_drop_samples(c, name, json_string_value(json_object_get(m, "type")));
		if (c->only && strcmp(c->only, name))
			continue;
		json_t *list = json_object_get(c->data, name);
		if (!list) {
			if (c->limit && json_object_size(c->data) >= c->limit) {
				c->full = true;
				continue;
			}
			list = json_array();
			json_object_set_new(c->data, name, list);
		}
		size_t k;
		json_t *x;
		bool seen = false;
		/* a remote-written or scraped point is stored as a bare gauge (no help, no unit): where the
		 * sender's own metadata names the family, that placeholder only hides the real type */
		for (k = json_array_size(list); k-- > 0;) {
			x = json_array_get(list, k);
			if (!strcmp(json_string_value(json_object_get(x, "type")), "gauge") &&
			    !*json_string_value(json_object_get(x, "help")) && !*json_string_value(json_object_get(x, "unit")) &&
			    !json_equal(x, m))
				json_array_remove(list, k);
		}
		json_array_foreach(list, k, x)
			if (json_equal(x, m))
				seen = true;
		if (!seen && (!c->per_metric || json_array_size(list) < c->per_metric))
			json_array_append(list, m);
	}
	pthread_mutex_unlock(&b->mu);
}
