/*
 * Shared plumbing of the ingest decoders: batch growth inside the arena,
 * limits, reject counting and resource lifting (see decode_util.h).
 */
#include "ingest/decode_util.h"

#include <ctype.h>
#include <stdarg.h>

#include "core/error.h"
#include "ingest/jdom.h"

void dec_init(struct dec *d, struct telemetry_batch *b, struct buf *err)
{
	d->b = b;
	d->err = err;
	d->rc = 0;
	d->cap_logs = b->n_logs;
	d->cap_spans = b->n_spans;
	d->cap_points = b->n_points;
	d->cap_events = b->n_events;
	buf_init(&d->scratch);
	buf_init(&d->key);
}

void dec_release(struct dec *d)
{
	buf_release(&d->scratch);
	buf_release(&d->key);
}

static void dec_fail(struct dec *d, int rc, const char *what)
{
	if (!d->rc) {
		d->rc = rc;
		if (d->err)
			buf_adds(d->err, what);
	}
}

void *dec_alloc(struct dec *d, size_t size)
{
	void *p = arena_alloc(d->b->arena, size);
	if (!p)
		dec_fail(d, OODA_ETOOBIG, "batch exceeds the memory limit of a request");
	return p;
}

void *dec_zalloc(struct dec *d, size_t size)
{
	void *p = dec_alloc(d, size);
	if (p)
		memset(p, 0, size);
	return p;
}

char *dec_strndup(struct dec *d, const char *s, size_t len)
{
	char *p = dec_alloc(d, len + 1);
	if (p) {
		if (len)
			memcpy(p, s, len);
		p[len] = '\0';
	}
	return p;
}

void *dec_grow(struct dec *d, void *arr, size_t n, size_t *cap, size_t elem, size_t limit,
	       const char *what)
{
	if (n >= limit) {
		if (!d->rc) {
			d->rc = OODA_ETOOBIG;
			if (d->err)
				buf_addf(d->err, "more than %zu %s in one request", limit, what);
		}
		return NULL;
	}
	if (n < *cap)
		return arr;
	size_t ncap = *cap ? *cap * 2 : 16;
	if (ncap > limit)
		ncap = limit;
	void *na = dec_alloc(d, ncap * elem);
	if (!na)
		return NULL;
	if (n)
		memcpy(na, arr, n * elem);
	*cap = ncap;
	return na;
}

#define PUSH(d, arr, n, cap, what)                                                          \
	do {                                                                                \
		void *na_ = dec_grow(d, (d)->b->arr, (d)->b->n, &(d)->cap, sizeof(*(d)->b->arr),  \
				 DECODE_MAX_RECORDS, what);                                 \
		if (!na_)                                                                   \
			return NULL;                                                        \
		(d)->b->arr = na_;                                                          \
		memset(&(d)->b->arr[(d)->b->n], 0, sizeof(*(d)->b->arr));                   \
		return &(d)->b->arr[(d)->b->n++];                                           \
	} while (0)

struct log_record *dec_push_log(struct dec *d) { PUSH(d, logs, n_logs, cap_logs, "log records"); }
struct span *dec_push_span(struct dec *d) { PUSH(d, spans, n_spans, cap_spans, "spans"); }
struct metric_point *dec_push_point(struct dec *d) { PUSH(d, points, n_points, cap_points, "data points"); }
struct change_event *dec_push_event(struct dec *d) { PUSH(d, events, n_events, cap_events, "events"); }

struct attr *dec_push_attr(struct dec *d, struct attrs *a, uint32_t *cap)
{
	size_t c = *cap;
	void *na = dec_grow(d, a->v, a->n, &c, sizeof(struct attr), DECODE_MAX_ATTRS, "attributes on a record");
	if (!na)
		return NULL;
	a->v = na;
	*cap = (uint32_t)c;
	struct attr *at = &a->v[a->n++];
	memset(at, 0, sizeof(*at));
	return at;
}

void dec_reject(struct dec *d, const char *fmt, ...)
{
	d->b->rejected++;
	if (d->b->reject_msg)
		return;
	va_list ap;
	va_start(ap, fmt);
	char tmp[512];
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	d->b->reject_msg = arena_strdup(d->b->arena, tmp);
}

void dec_lift_resource(struct resource *r)
{
	for (uint32_t i = 0; i < r->attrs.n; i++) {
		const struct attr *a = &r->attrs.v[i];
		if (a->type != ATTR_STR)
			continue;
		const char *k = a->key;
		if (!strcmp(k, "service.name"))
			r->service = a->s;
		else if (!strcmp(k, "service.version"))
			r->service_version = a->s;
		else if (!strcmp(k, "deployment.environment.name") ||
			 (!strcmp(k, "deployment.environment") && !r->environment))
			r->environment = a->s;
		else if (!strcmp(k, "host.name"))
			r->host = a->s;
		else if (!strcmp(k, "cloud.region"))
			r->region = a->s;
	}
	if (!r->service || !*r->service)
		r->service = "unknown";
}

int dec_severity_text(const char *s, size_t len)
{
	static const struct {
		const char *word;
		int num;
	} words[] = {
		{ "trace", 1 }, { "debug", 5 }, { "info", 9 }, { "information", 9 }, { "notice", 10 },
		{ "warn", 13 }, { "warning", 13 }, { "error", 17 }, { "err", 17 }, { "fatal", 21 },
		{ "critical", 21 }, { "crit", 21 }, { "alert", 22 }, { "emerg", 23 }, { "panic", 21 },
	};
	char w[24];
	if (len > 16 && !strncmp(s, "SEVERITY_NUMBER_", 16)) {
		s += 16;
		len -= 16;
		if (dec_eq(s, len, "UNSPECIFIED"))
			return 0;
	}
	int extra = 0;
	if (len >= 2 && s[len - 1] >= '2' && s[len - 1] <= '4' && isalpha((unsigned char)s[len - 2])) {
		extra = s[len - 1] - '1';
		len--;
	}
	if (len == 0 || len >= sizeof(w))
		return -1;
	for (size_t i = 0; i < len; i++)
		w[i] = (char)tolower((unsigned char)s[i]);
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (dec_eq(w, len, words[i].word))
			return words[i].num + extra;
	return -1;
}

static bool skipped(const struct jval *m, const char *const *skip)
{
	for (; skip && *skip; skip++)
		if (dec_eq(m->key, m->klen, *skip))
			return true;
	return false;
}

static int json_attrs_rec(struct dec *d, const struct jval *obj, const char *const *skip,
			  struct attrs *as, uint32_t *cap, const char **why, struct buf *key, int depth);

static int json_attr_one(struct dec *d, const struct jval *m, struct attrs *as, uint32_t *cap,
			 const char **why, struct buf *key, int depth)
{
	size_t base = key->len;
	if (base)
		buf_addch(key, '.');
	buf_add(key, m->key, m->klen);
	int rc = 0;
	if (key->len > DECODE_MAX_ATTR_LEN) {
		*why = "attribute key longer than 65536 bytes";
		rc = 1;
		goto out;
	}
	if (m->type == J_NULL)
		goto out;
	if (m->type == J_OBJ && depth < DECODE_MAX_DEPTH) {
		rc = json_attrs_rec(d, m, NULL, as, cap, why, key, depth + 1);
		goto out;
	}
	struct attr *a = dec_push_attr(d, as, cap);
	if (!a || !(a->key = dec_strndup(d, key->data, key->len))) {
		rc = d->rc;
		goto out;
	}
	switch (m->type) {
	case J_TRUE:
	case J_FALSE:
		a->type = ATTR_BOOL;
		a->b = m->type == J_TRUE;
		break;
	case J_NUM: {
		int64_t i;
		if (!memchr(m->s, '.', m->len) && !memchr(m->s, 'e', m->len) && !memchr(m->s, 'E', m->len) &&
		    jdom_i64(m, &i)) {
			a->type = ATTR_INT;
			a->i = i;
		} else {
			a->type = ATTR_DOUBLE;
			jdom_f64(m, &a->d);
		}
		break;
	}
	case J_STR:
		if (m->len > DECODE_MAX_ATTR_LEN) {
			*why = "attribute value longer than 65536 bytes";
			rc = 1;
			goto out;
		}
		a->type = ATTR_STR;
		a->len = m->len;
		if (!(a->s = dec_strndup(d, m->s, m->len)))
			rc = d->rc;
		break;
	default:
		buf_reset(&d->scratch);
		jdom_write(&d->scratch, m);
		if (d->scratch.len > DECODE_MAX_ATTR_LEN) {
			*why = "attribute value longer than 65536 bytes";
			rc = 1;
			goto out;
		}
		a->type = ATTR_JSON;
		a->len = (uint32_t)d->scratch.len;
		if (!(a->s = dec_strndup(d, d->scratch.data, d->scratch.len)))
			rc = d->rc;
	}
out:
	buf_setlen(key, base);
	return rc;
}

static int json_attrs_rec(struct dec *d, const struct jval *obj, const char *const *skip,
			  struct attrs *as, uint32_t *cap, const char **why, struct buf *key, int depth)
{
	for (const struct jval *m = obj->child; m; m = m->next) {
		if (skip && skipped(m, skip))
			continue;
		int rc = json_attr_one(d, m, as, cap, why, key, depth);
		if (rc)
			return rc;
	}
	return 0;
}

int dec_json_attr(struct dec *d, const struct jval *m, struct attrs *as, uint32_t *cap, const char **why)
{
	buf_reset(&d->key);
	return json_attr_one(d, m, as, cap, why, &d->key, 0);
}

int dec_json_attrs(struct dec *d, const struct jval *obj, const char *const *skip, struct attrs *as,
		   uint32_t *cap, const char **why)
{
	if (!obj || obj->type != J_OBJ)
		return 0;
	buf_reset(&d->key);
	return json_attrs_rec(d, obj, skip, as, cap, why, &d->key, 0);
}
